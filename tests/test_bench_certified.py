"""Smoke test of bench/bench_certified.py on a tiny net (a few seconds).

The geninv side always runs (auto's certified *no* with its captured bab proof,
written and re-checked; a *yes*; the Theorem 2 disguise keeps the function);
the Gurobi side is skipped only when gurobipy / gurobi-machinelearning are absent.
"""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geninv.io.dimacs import CNF
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.proofcheck import check_certificate
from geninv.reductions.sat import SatReduction

from .conftest import load_bench

pytest.importorskip("rich")


def tiny(radius: float, shift: float) -> tuple[InversionProblem, np.ndarray]:
    """A 3-6-4 ReLU net on [-1, 1]^3; target G(z0) + shift on output 0."""
    rng = np.random.default_rng(7)
    w1, b1 = rng.normal(0, 1, (6, 3)), rng.normal(0, 0.1, 6)
    w2, b2 = rng.normal(0, 0.5, (4, 6)), rng.normal(0, 0.1, 4)
    net = ReLUNetwork([w1, w2], [b1, b2], final_activation="identity")
    z0 = np.array([0.3, -0.2, 0.5])
    x = net.forward(z0[None, :])[0]
    x[0] += shift
    box = Domain.box([-1] * 3, [1] * 3)
    return InversionProblem(net, x, box, p="inf", threshold=Fraction(radius)), z0


def reach_upper(problem: InversionProblem) -> float:
    """Interval-arithmetic upper bound of output 0 over the box (a loose one is fine)."""
    lo, hi = np.full(3, -1.0), np.full(3, 1.0)
    for layer in problem.network.layers:
        w, b = np.asarray(layer.weight), np.asarray(layer.bias)
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        c, r = w @ mid + b, np.abs(w) @ rad
        lo, hi = c - r, c + r
        if layer.activation == "relu":
            lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
    return float(hi[0])


def test_certified_no_and_yes(tmp_path: Path) -> None:
    bench = load_bench("bench_certified")
    base, _ = tiny(0.0, 0.0)
    # a target beyond everything output 0 reaches: every radius below the excess is a no
    excess = reach_upper(base) - float(base.target[0]) + 1.0
    no_prob, _ = tiny(0.5, excess)
    row = bench.run_auto(no_prob, 20.0, 0, tmp_path / "p.json")
    assert row["status"] == "no", row
    assert row["certified"] and row["basis"] == "checked certificate", row
    assert row["method"] == "bab" and row["recheck"].startswith("ok"), row
    assert row["proof_bytes"] == (tmp_path / "p.json").stat().st_size > 0
    check_certificate(no_prob, json.loads((tmp_path / "p.json").read_text()))
    assert "bab" in row["where"]
    yes_prob, _ = tiny(1e-3, 0.0)
    yes = bench.run_auto(yes_prob, 20.0, 0, tmp_path / "q.json")
    assert yes["status"] == "yes" and "proof_bytes" not in yes
    rows = [
        {"instance": "t", "side": "no", "expect": "no", "geninv": row, "gurobi": None},
        {"instance": "t", "side": "yes", "expect": "no", "geninv": yes, "gurobi": None},
    ]
    bench.show(rows, "smoke", 20.0)
    summ = bench.summary({"T": rows}, 20.0)["T"]
    assert summ["certified"] == summ["nos"] == 1
    assert summ["wrong"] == 1  # the second row's 'yes' against an expected 'no' is flagged
    assert bench.ratio({"status": "unknown", "seconds": 3.0}, {"status": "no", "seconds": 2.0}, 10)
    assert bench.geomean([1.0, 4.0]) == pytest.approx(2.0)


def test_disguise_keeps_the_function() -> None:
    parts = load_bench("certified_parts")
    cnf = CNF(3, ((1, -2, 3), (-1, 2), (2, 3)))
    base, inverse = SatReduction("real").apply(cnf)
    prob = parts.disguise(base, 3)
    assert prob.threshold == Fraction(1, 10**6) and prob.domain.kind == "box"
    widths = base.network.widths
    assert sum(prob.network.widths) == sum(widths) + 1  # one dead unit
    z = np.random.default_rng(0).uniform(-2, 2, (200, 3))
    a, b = base.network.forward(z), prob.network.forward(z)
    assert np.max(np.abs(a - b)) < 1e-9
    model = SatReduction.encode([True, True, True], inverse)
    assert prob.exact_check(model).meets  # within delta = 1e-6 of the target
    assert not prob.exact_check([-1, -1, -1]).meets  # all false falsifies clause 3


@pytest.mark.skipif(
    importlib.util.find_spec("gurobipy") is None or importlib.util.find_spec("gurobi_ml") is None,
    reason="gurobipy / gurobi-machinelearning not installed (pip install gurobipy "
    "gurobi-machinelearning): the Gurobi peer is optional",
)
def test_gurobi_peer_agrees() -> None:
    peer: Any = load_bench("gurobi_peer")
    ok, why = peer.gurobi_available()
    assert ok, why
    base, _ = tiny(0.0, 0.0)
    excess = reach_upper(base) - float(base.target[0]) + 1.0
    no_prob, _ = tiny(0.5, excess)
    assert peer.decide(no_prob, 0.5, 20.0).status == "no"
    yes_prob, _ = tiny(1e-3, 0.0)
    run = peer.decide(yes_prob, 1e-3, 20.0)
    assert run.status == "yes" and run.extra["exact_check"], run
    opt = peer.optimize(yes_prob, 20.0)
    assert opt["proven"] and opt["best"] <= 1e-6


def test_gurobi_absent_is_a_clean_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    peer: Any = load_bench("gurobi_peer")
    real = importlib.util.find_spec
    monkeypatch.setattr(peer, "_STATE", None)
    monkeypatch.setattr(
        peer.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gurobipy" else real(name, *a),
    )
    ok, why = peer.gurobi_available()
    assert not ok and why.startswith("gurobipy") and "not installed" in why
