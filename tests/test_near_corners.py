"""The snap reduction and the near-corner presolve (approximate inversion as binary).

Oracles: exact evaluation of both networks at random points and box corners (the
snap's bound), sampling of piecewise-linear functions (level sets), CaDiCaL on
the source formula (Theorem 2 networks: a satisfiable formula has an exact
witness, so *no* there is wrong) and the certified branch and bound (``bab``)
on small instances.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from geninv.bounds import interval_bounds
from geninv.errors import UnsupportedError
from geninv.io.dimacs import CNF
from geninv.network import ReLUNetwork
from geninv.oracles import sat_oracle
from geninv.problem import Domain, InversionProblem, Status
from geninv.reductions.sat import SatReduction
from geninv.reductions.snap import raise_threshold, snap_network
from geninv.solvers.base import solve
from geninv.solvers.corners.near import intersect, level_set
from geninv.testing.disguise import disguise_network

F = Fraction


def random_cnf(rng: random.Random, n: int, m: int) -> CNF:
    clauses = []
    for _ in range(m):
        vs = rng.sample(range(1, n + 1), 3)
        clauses.append(tuple(v if rng.random() < 0.5 else -v for v in vs))
    return CNF(n, tuple(clauses))


def theorem2(cnf: CNF, p: float | str, delta: Fraction, disguise: int | None) -> InversionProblem:
    base, _ = SatReduction("real").apply(cnf)
    assert base.input_box is not None
    net = base.network
    if disguise is not None:
        net = disguise_network(net, np.random.default_rng(disguise), input_bound=2.0)
    return InversionProblem(net, base.target, Domain.box(*base.input_box), p=p, threshold=delta)


# ------------------------------------------------------------------ level sets
def _pl(rng: random.Random) -> tuple[list[Fraction], list[Fraction]]:
    k = rng.randint(1, 6)
    xs = sorted({F(rng.randint(-20, 20), rng.randint(1, 4)) for _ in range(k + 1)})
    ys = [F(rng.randint(-5, 5), rng.randint(1, 3)) for _ in xs]
    return xs, ys


def _value(pl: tuple[list[Fraction], list[Fraction]], t: Fraction) -> Fraction:
    xs, ys = pl
    for k in range(1, len(xs)):
        if xs[k - 1] <= t <= xs[k]:
            return ys[k - 1] + (ys[k] - ys[k - 1]) * (t - xs[k - 1]) / (xs[k] - xs[k - 1])
    assert t == xs[0]
    return ys[0]


def test_level_sets_match_sampling() -> None:
    rng = random.Random(5)
    for _ in range(300):
        pl = _pl(rng)
        theta = F(rng.randint(-6, 6), rng.randint(1, 3))
        above = rng.random() < 0.5
        got = level_set(pl, theta, above)
        for a, b in got:  # sorted, disjoint, inside the domain, ends on the level or the edge
            assert pl[0][0] <= a <= b <= pl[0][-1]
        assert all(got[k][1] < got[k + 1][0] for k in range(len(got) - 1))
        points = (
            list(pl[0])
            + [pl[0][0] + (pl[0][-1] - pl[0][0]) * F(j, 97) for j in range(98)]
            + [e for iv in got for e in iv]
        )
        for t in points:
            v = _value(pl, t)
            inside = any(a <= t <= b for a, b in got)
            assert inside == (v >= theta if above else v <= theta), (pl, theta, above, t)


def test_intersect_matches_membership() -> None:
    rng = random.Random(6)
    for _ in range(300):
        sets = []
        for _ in range(2):
            ends = sorted(rng.sample(range(-30, 30), 2 * rng.randint(0, 3)))
            sets.append([(F(ends[k]), F(ends[k + 1])) for k in range(0, len(ends), 2)])
        got = intersect(sets[0], sets[1])
        for t2 in range(-62, 62):
            t = F(t2, 2)
            want = all(any(a <= t <= b for a, b in s) for s in sets)
            assert any(a <= t <= b for a, b in got) == want


# ------------------------------------------------------------------ snap
def _random_small_net(rng: np.random.Generator, widths: list[int]) -> ReLUNetwork:
    ws = [
        rng.integers(-3, 4, (widths[i + 1], widths[i])).astype(float) / rng.choice([1, 2, 4])
        for i in range(len(widths) - 1)
    ]
    bs = [rng.integers(-3, 4, w).astype(float) for w in widths[1:]]
    return ReLUNetwork(ws, bs, final_activation="identity")


@pytest.mark.parametrize("seed", range(12))
def test_snap_bound_holds_exactly(seed: int) -> None:
    """|N(z) - N^(z)| <= eps at random points and corners of the box, in exact rationals."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    widths = [n] + [int(rng.integers(1, 7)) for _ in range(int(rng.integers(1, 4)))] + [3]
    base = _random_small_net(rng, widths)
    pre = interval_bounds(base, -np.ones(n), np.ones(n), {})
    reach = max(float(np.abs(np.concatenate(b)).max()) for b in pre) + 1.0 + n
    net = disguise_network(base, rng, input_bound=reach)
    lo, hi = [F(-1)] * n, [F(1)] * n
    got = snap_network(net, lo, hi)
    assert got is not None
    points = [[F(float(v)) for v in rng.uniform(-1, 1, n)] for _ in range(20)]
    points += [[F(1 if (m >> i) & 1 else -1) for i in range(n)] for m in range(2**n)]
    for z in points:
        a, b = net.forward_exact(z), got.network.forward_exact(z)
        c = base.forward_exact(z)
        for o in range(len(a)):
            assert abs(a[o] - b[o]) <= got.eps[o]
            assert b[o] == c[o]  # the snapped network is the construction itself
    assert max(got.eps) < F(1, 10**9)


def test_snap_is_exact_on_small_rationals_and_declines_on_random_weights() -> None:
    rng = np.random.default_rng(1)
    net = _random_small_net(rng, [3, 5, 4, 2])
    got = snap_network(net, [F(-1)] * 3, [F(1)] * 3)
    assert got is not None and all(e == 0 for e in got.eps)
    gauss = ReLUNetwork(
        [rng.normal(size=(5, 3)), rng.normal(size=(2, 5))], [np.zeros(5)] * 1 + [np.zeros(2)]
    )
    assert snap_network(gauss, [F(-1)] * 3, [F(1)] * 3) is None
    sig = ReLUNetwork([np.eye(2)], [np.zeros(2)], final_activation="sigmoid")
    assert snap_network(sig, [F(0)] * 2, [F(1)] * 2) is None


def test_raise_threshold() -> None:
    assert raise_threshold(F(1), [F(1, 4), F(1, 2)], math.inf) == F(3, 2)
    assert raise_threshold(F(1), [F(1, 4), F(1, 2)], 2.0) == F(7, 4)
    assert raise_threshold(F(1), [], 1.0) == 1


# ------------------------------------------------------------------ end to end
CASES = [  # (n, m, p, delta, disguise seed)
    (8, 20, "inf", F(1, 10**6), None),
    (8, 40, "inf", F(1, 10**6), 3),
    (9, 45, 2.0, F(1, 10**4), 4),
    (7, 35, 1.0, F(1, 10**3), 5),
    (9, 40, 1.5, F(1, 10**5), 6),
    (10, 50, "inf", F(1, 10**6), 7),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[4]}" for c in CASES])
def test_theorem2_approximate_matches_sat(
    case: tuple[int, int, object, Fraction, int | None],
) -> None:
    n, m, p, delta, dis = case
    rng = random.Random(str(case))
    for k in range(6):
        cnf = random_cnf(rng, n, m)
        truth = sat_oracle(cnf)
        prob = theorem2(cnf, p, delta, None if dis is None else dis + k)  # type: ignore[arg-type]
        sol = solve(prob, "corners", time_limit=60)
        if truth:
            assert sol.status is Status.YES, (k, sol.reason)
            assert sol.z is not None and prob.exact_check(sol.z).meets
        else:
            assert sol.status is Status.NO, (k, sol.reason)
            assert sol.proof is not None and sol.proof.get("basis") != "floating-point solver"
            assert "binary_proof" in sol.proof or "range" in sol.proof.get("kind", "")


def test_both_sides_are_exercised() -> None:
    rng = random.Random("sides")
    answers = set()
    for m in (20, 60):
        cnf = random_cnf(rng, 8, m)
        prob = theorem2(cnf, "inf", F(1, 10**6), 11)
        answers.add(solve(prob, "corners", time_limit=60).status)
    assert answers == {Status.YES, Status.NO}


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_bab_on_small_instances(seed: int) -> None:
    """bab (certified, independent) on 4-variable Theorem 2 networks, disguised."""
    rng = random.Random(seed)
    cnf = random_cnf(rng, 4, rng.choice([6, 14]))
    prob = theorem2(cnf, "inf", F(1, 10**3), seed)
    ours = solve(prob, "corners", time_limit=60)
    ref = solve(prob, "bab", time_limit=120)
    assert ref.status is not Status.UNKNOWN, ref.reason
    assert ours.status is ref.status


def test_auto_uses_it_and_certifies() -> None:
    rng = random.Random("auto")
    cnf = random_cnf(rng, 12, 80)
    truth = sat_oracle(cnf)
    assert truth is False
    prob = theorem2(cnf, "inf", F(1, 10**6), 2)
    sol = solve(prob, "auto", time_limit=60)
    assert sol.status is Status.NO and sol.method == "corners"
    assert sol.proof is not None and sol.proof["basis"] != "floating-point solver"
    assert sol.proof["snap"]["removed_units"] >= 1


@pytest.mark.parametrize("delta", [F(1, 4), F(1, 2), F(1), F(3, 2)])
def test_wide_thresholds_decline_or_agree_with_bab(delta: Fraction) -> None:
    """Thresholds far from 0: the intervals are wide and the binary threshold would
    grow past twice delta, so the presolve declines; an answer it does give is bab's."""
    rng = random.Random(str(delta))
    declined = 0
    for k in range(3):
        cnf = random_cnf(rng, 4, rng.choice([6, 14]))
        prob = theorem2(cnf, "inf", delta, k)
        try:
            ours = solve(prob, "corners", time_limit=60)
        except UnsupportedError as exc:
            assert "near-corner presolve does not apply" in str(exc)
            declined += 1
            continue
        if ours.status is Status.UNKNOWN:
            continue
        ref = solve(prob, "bab", time_limit=120)
        assert ref.status is not Status.UNKNOWN, ref.reason
        assert ours.status is ref.status, (k, ours.proof)
    assert declined >= 1


def test_lifted_section5_instances() -> None:
    """The binary-to-real lifting (Theorem 4's gadget) of clique and vertex cover
    instances: the snap units are constant on each interval, so the binary problem
    keeps the original threshold; answers match the graph oracles."""
    from geninv.io.graphs import Graph
    from geninv.oracles import clique_decide, vertex_cover_decide
    from geninv.reductions.clique import CliqueReduction
    from geninv.reductions.lifting import BinaryToReal
    from geninv.reductions.vertex_cover import VertexCoverReduction

    rng = np.random.default_rng(9)
    sides = set()
    for trial in range(4):
        edges = tuple((i, j) for i in range(8) for j in range(i + 1, 8) if rng.random() < 0.5)
        g = Graph(n=8, edges=edges, weights=None)
        for k in (3, 4):
            truth, _ = clique_decide(g, k, Fraction(len(edges)))
            prob = BinaryToReal().apply(CliqueReduction(k, 2).apply(g)[0])[0]
            sol = solve(prob, "corners", time_limit=60)
            assert sol.status is (Status.YES if truth else Status.NO), (trial, k, sol.reason)
            sides.add(sol.status)
        for q in (3, 5):
            truth, _ = vertex_cover_decide(g, q)
            prob = BinaryToReal().apply(VertexCoverReduction(q, 2).apply(g)[0])[0]
            sol = solve(prob, "corners", time_limit=60)
            assert sol.status is (Status.YES if truth else Status.NO), (trial, q, sol.reason)
            sides.add(sol.status)
    assert sides == {Status.YES, Status.NO}
