"""The primal side (solvers/primal): cheap searches that find witnesses fast.

* planted witnesses on random box networks (depth 1-3, widths up to 50, every
  activation, l_inf / l_1 / l_2, threshold just above the planted distance) are
  found within 2 s, and every witness passes the exact check;
* exact inversion through the exact projection (rational Gaussian elimination);
* a float "yes" that the exact check refutes ends as ``unknown``; *no*
  instances end as ``unknown``, never ``no``;
* one seed, one run; and ``auto`` returns the primal *yes* first.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Status
from geninv.solvers.base import REGISTRY, _load_builtin_backends, solve
from geninv.solvers.primal import PrimalBackend, auto_first, incumbent, search
from geninv.solvers.primal._exact import solve_fixing

from .conftest import load_bench

_load_builtin_backends()


def random_net(rng: np.random.Generator, n: int, acts: list[str]) -> ReLUNetwork:
    dims = [n] + [int(rng.integers(5, 51)) for _ in acts]
    ws = [rng.normal(size=(dims[k + 1], dims[k])) / math.sqrt(dims[k]) for k in range(len(acts))]
    bs = [rng.normal(size=dims[k + 1]) * 0.1 for k in range(len(acts))]
    return ReLUNetwork(ws, bs, activations=acts)


def planted(seed: int) -> tuple[InversionProblem, np.ndarray]:
    rng = np.random.default_rng(seed)
    depth = 1 + seed % 3
    hidden = [str(rng.choice(["relu", "relu", "leaky_relu:0.1", "tanh"])) for _ in range(depth - 1)]
    acts = [*hidden, str(rng.choice(["identity", "relu", "sigmoid"]))]
    n = int(rng.integers(2, 9))
    net = random_net(rng, n, acts)
    z0 = rng.uniform(-1, 1, n)
    noise = rng.uniform(-0.05, 0.05, net.n_outputs)
    target = net.forward(z0) + noise
    p = [math.inf, 1.0, 2.0][seed % 3]
    dist = float(np.linalg.norm(net.forward(z0) - target, ord=p))
    prob = InversionProblem(
        net, target, Domain.box([-1] * n, [1] * n), p=p, threshold=Fraction(dist * 1.02)
    )
    return prob, z0


@pytest.mark.parametrize("seed", range(12))
def test_planted_witness_found_within_two_seconds(seed: int) -> None:
    prob, _ = planted(seed)
    res = search(prob, time_limit=2.0, seed=seed)
    assert res.witness, (prob.network.describe(), prob.p, res.stats)
    assert res.z is not None and res.check is not None and res.check.meets
    assert prob.exact_check(res.z).meets  # the exact check, again, from scratch
    sol = solve(prob, "primal", time_limit=2.0, seed=seed)
    assert sol.status is Status.YES and sol.check is not None and sol.check.meets


def test_huge_target_is_a_quick_yes() -> None:
    """y = z on [0, 1], x = 2e20, delta = 1e21, p = inf: z = 0 (any z) works."""
    net = ReLUNetwork([np.array([[1.0]])], [np.zeros(1)], final_activation="identity")
    prob = InversionProblem(net, [2 * 10**20], Domain.box([0], [1]), p="inf", threshold=10**21)
    res = search(prob, time_limit=2.0, seed=0)
    assert res.witness and res.stats["seconds"] < 2.0 and res.stats["found_by"] == "start"
    auto = solve(prob, "auto", time_limit=60)
    assert auto.status is Status.YES and auto.method == "primal"
    assert "primal" in auto.stats["auto"] and auto.check is not None and auto.check.meets


def test_exact_inversion_by_exact_projection() -> None:
    """G(z) = x with x = G(z0) in exact rationals: the float search lands near z0 and the
    rational solve of the tight outputs gives an exact preimage."""
    found = 0
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        n = 3
        net = random_net(rng, n, ["relu", "identity"])
        z0 = [Fraction(int(v), 21) for v in rng.integers(-20, 21, n)]  # no float, no decimal
        prob = InversionProblem(net, net.forward_exact(z0), Domain.box([-1] * n, [1] * n))
        res = search(prob, time_limit=5.0, seed=seed)
        if res.witness:
            assert res.check is not None and res.check.distance == 0
            found += 1
    assert found >= 3


def test_float_yes_refuted_exactly_is_unknown() -> None:
    """Floats cannot tell these from witnesses; the exact check can, so: unknown."""
    net = ReLUNetwork([np.array([[1.0]])], [np.zeros(1)], final_activation="identity")
    box = Domain.box([0], [1])
    # x = 1 + 2^-60 rounds to 1.0: at z = 1 the float distance is 0, the exact 2^-60
    tiny = InversionProblem(
        net, [Fraction(1) + Fraction(1, 2**60)], box, p="inf", threshold=Fraction(1, 2**61)
    )
    # an exact tie with a strict relation: the best z = 1 gives distance exactly 1
    tie = InversionProblem(net, [2], box, p=1, threshold=1, relation="<")
    for prob in (tiny, tie):
        res = search(prob, seed=0)
        assert not res.witness and res.stats["exact_checks"] >= 1
        assert res.check is not None and not res.check.meets
        sol = solve(prob, "primal", seed=0)
        assert sol.status is Status.UNKNOWN and sol.reason


@pytest.mark.parametrize("p", [math.inf, 1.0, 2.0])
def test_no_instances_are_unknown(p: float) -> None:
    rng = np.random.default_rng(9)
    net = random_net(rng, 3, ["relu", "identity"])
    # no z in the box: every output is bounded well below 1e3 there
    prob = InversionProblem(
        net, [1000.0] * net.n_outputs, Domain.box([-1] * 3, [1] * 3), p=p, threshold=1
    )
    sol = solve(prob, "primal", time_limit=0.5, seed=1)
    assert sol.status is Status.UNKNOWN and sol.reason and "no witness" in sol.reason
    assert sol.check is not None and not sol.check.meets
    assert auto_first(prob, 10.0, 0)[0] is None


def test_seed_reproducible() -> None:
    prob, _ = planted(4)
    hard = InversionProblem(
        prob.network, prob.target, prob.domain, p=prob.p, threshold=Fraction(1, 10**6)
    )
    runs = [search(hard, seed=s, rounds=2) for s in (3, 3, 4)]
    a, b, c = runs
    assert a.z == b.z and a.distance == b.distance
    keys = ("rounds", "starts", "iterations", "lp_solves", "flips", "exact_checks")
    assert all(a.stats[k] == b.stats[k] for k in keys)
    assert not a.witness and not c.witness
    assert a.z != c.z  # another seed, other starts


def test_discrete_latents_by_rounding_and_flips() -> None:
    found = 0
    for seed in range(4):
        rng = np.random.default_rng(200 + seed)
        n = 12
        net = random_net(rng, n, ["relu", "identity"])
        kind = "binary" if seed % 2 else "sign"
        lo, hi = Domain(kind).corner_values()
        corner = rng.choice([lo, hi], size=n).astype(float)
        target = net.forward(corner) + rng.uniform(-0.01, 0.01, net.n_outputs)
        prob = InversionProblem(net, target, Domain(kind), p="inf", threshold=Fraction(1, 50))
        sol = solve(prob, "primal", time_limit=2.0, seed=seed)
        assert sol.status in (Status.YES, Status.UNKNOWN)
        found += sol.status is Status.YES
    assert found == 4


def test_real_latents_with_and_without_input_box() -> None:
    rng = np.random.default_rng(5)
    net = random_net(rng, 4, ["relu", "identity"])
    z0 = rng.uniform(-1, 1, 4)
    target = net.forward(z0) + 0.01
    for box in (None, ([-1] * 4, [1] * 4)):
        prob = InversionProblem(
            net, target, Domain("real"), p="inf", threshold=Fraction(2, 100), input_box=box
        )
        res = search(prob, time_limit=2.0, seed=0)
        assert res.witness and res.check is not None and res.check.meets


def test_auto_runs_primal_first_and_falls_through() -> None:
    prob, _ = planted(0)  # p = inf: a yes
    yes = solve(prob, "auto", time_limit=60, seed=0)
    assert yes.status is Status.YES and yes.method == "primal"
    assert yes.stats["found_by"]
    net = ReLUNetwork([np.array([[1.0]])], [np.zeros(1)], final_activation="identity")
    no = InversionProblem(net, [3], Domain.box([0], [1]), p="inf", threshold=1)
    sol = solve(no, "auto", time_limit=60, seed=0, trust_solver=True)  # a MILP's no
    assert sol.status is Status.NO and sol.method != "primal"
    assert sol.stats["auto_primal"]["found"] is False
    assert sol.stats["auto_primal"]["budget"] == pytest.approx(2.0)
    # exact inversion and discrete latents go straight to the complete backends
    exact = InversionProblem(net, [Fraction(1, 3)], Domain.box([0], [1]))
    assert auto_first(exact, None, 0) == (None, None)


def test_incumbent_hook_and_backend_declaration() -> None:
    prob, _ = planted(1)
    hard = InversionProblem(
        prob.network, prob.target, prob.domain, p=prob.p, threshold=Fraction(1, 10**9)
    )
    res = incumbent(hard, budget=0.5, seed=0)
    assert not res.witness and res.z_float is not None and math.isfinite(res.distance)
    assert res.stats["seconds"] < 3.0  # the budget, plus one final exact check
    assert REGISTRY["primal"] is PrimalBackend
    caps = PrimalBackend.capabilities
    assert not caps.complete and caps.domains == {"real", "box", "binary", "sign"}
    with pytest.raises(Exception, match="starts"):
        PrimalBackend(starts=0)


def test_solve_fixing_is_exact() -> None:
    z0 = [Fraction(1, 3), Fraction(5), Fraction(7)]
    # z0 + 2 z1 - 1 = 0 and z1 - z2 + 1/7 = 0: z2 keeps its value, the others follow
    rows = [
        [Fraction(1), Fraction(2), Fraction(0), Fraction(-1)],
        [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 7)],
    ]
    z = solve_fixing(rows, z0)
    assert z is not None
    for r in rows:
        assert sum(c * v for c, v in zip(r[:3], z, strict=True)) + r[3] == 0
    bad = [[Fraction(1), Fraction(0), Fraction(0), Fraction(0)]] * 2 + [
        [Fraction(1), Fraction(0), Fraction(0), Fraction(1)]
    ]
    assert solve_fixing(bad, z0) is None


def test_threshold_met_only_at_an_irrational_float_point() -> None:
    """max(|z - 1/3|, |-z|) <= 1/6 holds only at z = 1/6, which no float equals: the
    exact solve of the tight outputs (both at distance delta) finds it."""
    net = ReLUNetwork([[[1], [-1]]], [[0, 0]], final_activation="identity")
    prob = InversionProblem(
        net, [Fraction(1, 3), 0], Domain.box([-1], [1]), p="inf", threshold=Fraction(1, 6)
    )
    res = search(prob, seed=0)
    assert res.witness and res.z == [Fraction(1, 6)]
    assert res.stats["found_by"] in ("descent", "pattern-lp")
    # a hidden ReLU layer in front: G(z) = (relu(z) + relu(-z) ... ) keeps the point unique
    net2 = ReLUNetwork(
        [[[1], [-1]], [[1, -1], [-1, 1]]], [[0, 0], [0, 0]], final_activation="identity"
    )
    prob2 = InversionProblem(
        net2, [Fraction(1, 3), 0], Domain.box([-1], [1]), p="inf", threshold=Fraction(1, 6)
    )
    res2 = search(prob2, seed=0)
    assert res2.witness and res2.z == [Fraction(1, 6)]


@pytest.mark.parametrize("seed", range(3))
def test_tiny_nets_against_the_pattern_lp_oracle(seed: int) -> None:
    """On tiny networks the search reaches the minimum distance (one LP per activation
    pattern: an independent oracle): a threshold just above it is a yes, one just
    below it never is."""
    from .test_milp import pattern_lp_min, random_box, random_network

    rng = np.random.default_rng(4000 + seed)
    for _ in range(6):
        n = int(rng.integers(1, 3))
        net = random_network(rng, n, str(rng.choice(["int", "float"])), max_width=3)
        lo, hi = random_box(rng, n)
        p = float(rng.choice([1.0, math.inf]))
        x = net.forward(np.array([float(v) for v in hi])) + rng.normal(size=net.n_outputs)
        oracle = pattern_lp_min(net, np.array(lo, float), np.array(hi, float), x, p)
        margin = 1e-3 * (1 + oracle)
        for delta, expect in ((oracle + margin, True), (oracle - margin, False)):
            if delta < 0:
                continue
            prob = InversionProblem(
                net, [Fraction(float(v)) for v in x], Domain.box(lo, hi), p=p, threshold=delta
            )
            res = search(prob, seed=seed)
            assert res.witness is expect, (oracle, delta, res.distance)
            if not expect:
                assert res.distance >= oracle - 1e-6 * (1 + oracle)  # LP tolerances


def test_bench_primal_smoke(tmp_path: Path) -> None:
    """bench/bench_primal.py at a toy size: d* proven, every solver finds a witness."""
    pytest.importorskip("pyscipopt")
    pytest.importorskip("rich")
    bench = load_bench("bench_primal")
    out = bench.main(
        [
            "--dims", "4,10,12", "--instances", "1", "--limit", "20",
            "--optimize-limit", "20", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert (tmp_path / f"{out['name']}.csv").is_file()
    rows = out["rows"]
    assert {r["solver"] for r in rows} == {"primal", "milp-scip", "auto"}
    for r in rows:
        assert r["dstar_origin"].startswith("proven"), r
        assert r["status"] == "yes" and float(r["distance"]) <= r["radius"], r
