"""Certified gaps: approximate best distance and a MILP lower bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geninv.cli import main
from geninv.gap import MAX_HIDDEN_UNITS, certified_gap
from geninv.io.instance import save_instance
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem


def small_problem(p: float) -> tuple[InversionProblem, ReLUNetwork]:
    rng = np.random.default_rng(0)
    net = ReLUNetwork(
        [rng.normal(size=(12, 3)) / 2, rng.normal(size=(10, 12)) / np.sqrt(12)],
        [rng.normal(size=12) * 0.1, np.zeros(10)],
    )
    x = net.forward(rng.uniform(-1, 1, 3)) + rng.uniform(-0.1, 0.1, 10)
    return InversionProblem(net, x, Domain.box([-1] * 3, [1] * 3), p=p, threshold=0.01), net


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_lower_bound_is_below_every_attained_distance(p: float) -> None:
    problem, net = small_problem(p)
    report = certified_gap(problem, time_limit=60)
    assert report.best_distance is not None and report.lower_bound is not None
    assert 0 <= report.lower_bound <= report.best_distance
    # independent check: no sampled point beats the lower bound
    rng = np.random.default_rng(1)
    z = rng.uniform(-1, 1, size=(20000, 3))
    d = problem.distances(net.forward(z))
    assert d.min() >= report.lower_bound - 1e-9
    if math.isinf(p) or p == 2:
        # l_inf by the MILP; l_2 by the linear-bound input splitting (certified)
        assert report.gap is not None and report.gap < 1e-3


def test_no_bound_reasons() -> None:
    _, net = small_problem(2.0)
    smooth = ReLUNetwork(
        [layer.weight for layer in net.layers],
        [layer.bias for layer in net.layers],
        final_activation="sigmoid",
    )
    p2 = InversionProblem(smooth, [0.5] * 10, Domain.box([-1] * 3, [1] * 3), p=2, threshold=0.1)
    report = certified_gap(p2, methods=("adam",), time_limit=10)
    # a last sigmoid: bounded through its pre-activation box (tests/test_certify_smooth.py)
    assert report.no_bound_reason is None and report.lower_bound_certified
    assert report.best_distance is not None
    # a hidden sigmoid: no bound, and the reason names it
    acts = ["sigmoid"] + [la.activation for la in net.layers[1:]]
    inner = ReLUNetwork(
        [layer.weight for layer in net.layers],
        [layer.bias for layer in net.layers],
        activations=acts,
    )
    p4 = InversionProblem(inner, [0.5] * 10, Domain.box([-1] * 3, [1] * 3), p=2, threshold=0.1)
    report = certified_gap(p4, methods=("adam",), time_limit=5)
    assert report.lower_bound is None and "sigmoid" in (report.no_bound_reason or "")
    wide = ReLUNetwork(
        [np.ones((MAX_HIDDEN_UNITS + 1, 2)), np.ones((1, MAX_HIDDEN_UNITS + 1))],
        [np.zeros(MAX_HIDDEN_UNITS + 1), np.zeros(1)],
    )
    p3 = InversionProblem(wide, [1], Domain.box([0, 0], [1, 1]), p=1, threshold=0.1)
    report = certified_gap(p3, methods=(), time_limit=5)
    assert report.lower_bound is None and "hidden ReLU units" in (report.no_bound_reason or "")


def test_cli_certify(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    problem, _ = small_problem(math.inf)
    inst = save_instance(problem, tmp_path / "g")
    assert main(["solve", str(inst), "--certify", "--time-limit", "40"]) == 0
    out = capsys.readouterr().out
    assert "lower bound:" in out and "gap:" in out


@pytest.mark.parametrize("p", [1.0, math.inf])
def test_bab_certifies_the_lower_bound(p: float) -> None:
    """Where bab applies, the bound comes from its checked proofs and says so."""
    problem, net = small_problem(p)
    report = certified_gap(problem, methods=("adam",), time_limit=60)
    assert report.lower_bound is not None and report.best_distance is not None
    assert report.lower_bound_certified and report.lower_bound_basis == "checked certificate"
    assert "bab" in report.lower_bound_how
    assert 0 <= report.lower_bound <= report.best_distance
    z = np.random.default_rng(2).uniform(-1, 1, size=(20000, 3))
    assert problem.distances(net.forward(z)).min() >= report.lower_bound


def test_float_bound_stays_uncertified_without_bab(monkeypatch: pytest.MonkeyPatch) -> None:
    from geninv.solvers.bab.backend import BabBackend

    monkeypatch.setattr(BabBackend, "unsupported_reason", classmethod(lambda cls, p: "off"))
    problem, _ = small_problem(math.inf)
    report = certified_gap(problem, methods=(), time_limit=30)
    assert report.lower_bound is not None and not report.lower_bound_certified
    assert report.lower_bound_basis.startswith("uncertified")
