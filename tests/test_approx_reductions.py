"""Theorems 3-6 and section 5.3: decision equivalence with independent oracles.

For each reduction, random instances with both answers well represented and
many exactly at the threshold; the inversion decision is made by exhaustive
enumeration and compared with brute force / networkx on the source; witnesses
are mapped both ways and re-checked exactly.  Lifted (real-latent) versions:
binary witnesses lift to exact real witnesses, and on NO instances adversarial
search finds nothing within the threshold.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import product

import numpy as np
import pytest

from geninv.io.graphs import Graph
from geninv.io.lattice import CVPInstance
from geninv.oracles import clique_decide, cvp01_decide, min_weight_k_clique, vertex_cover_decide
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.clique import CliqueReduction
from geninv.reductions.cvp import CVPReduction, cvp_distance_check
from geninv.reductions.lifting import BinaryToReal
from geninv.reductions.vertex_cover import VertexCoverReduction
from geninv.solvers.base import solve

from .search import adversarial_min_distance

LIFT = BinaryToReal()


def decide(problem: InversionProblem) -> Solution:
    sol = solve(problem, "enumerate")
    assert sol.status is not Status.UNKNOWN
    if sol.status is Status.NO:
        assert sol.proof is not None
    return sol


def min_dist_pow(inst: CVPInstance, p: float) -> Fraction:
    best: Fraction | None = None
    n, d = len(inst.basis), len(inst.target)
    for y in product((0, 1), repeat=n):
        diff = [
            sum((inst.basis[i][j] * y[i] for i in range(n)), Fraction(0)) - inst.target[j]
            for j in range(d)
        ]
        val = max(abs(v) for v in diff) if math.isinf(p) else sum(abs(v) ** int(p) for v in diff)
        best = val if best is None or val < best else best
    assert best is not None
    return best


def random_cvp(rng: np.random.Generator, p: float) -> tuple[CVPInstance, str]:
    n = int(rng.integers(1, 7))
    d = int(rng.integers(1, 5))
    basis = tuple(tuple(Fraction(int(v)) for v in rng.integers(-3, 4, size=d)) for _ in range(n))
    target = tuple(Fraction(int(v), int(rng.choice([1, 2]))) for v in rng.integers(-4, 5, size=d))
    base = CVPInstance(basis=basis, target=target, radius=None, radius_pow=None, p=p)
    mode = str(rng.choice(["at", "below", "above", "random"]))
    if p in (2.0, 3.0) and mode != "random":
        m = min_dist_pow(base, p)
        rp = m if mode == "at" else (m * Fraction(9, 10) if mode == "below" else m + Fraction(1, 3))
        return CVPInstance(basis, target, None, rp, p), mode
    if math.isinf(p) or p == 1.0:
        m = min_dist_pow(base, p)
        r = m if mode == "at" else (m * Fraction(9, 10) if mode == "below" else m + Fraction(1, 4))
        if mode == "random":
            r = Fraction(int(rng.integers(0, 12)), 2)
        return CVPInstance(basis, target, r, None, p), mode
    r = Fraction(int(rng.integers(0, 40)), 4)
    return CVPInstance(basis, target, r, None, p), "random"


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf, 1.5])
def test_cvp_theorem3_equivalence(p: float) -> None:
    rng = np.random.default_rng(int(10 * p) if math.isfinite(p) else 99)
    answers = []
    modes = []
    for i in range(130):
        inst, mode = random_cvp(rng, p)
        r0 = inst.radius == 0 or inst.radius_pow == 0
        relation = "<" if (mode == "at" and i % 2 and not r0) else "<="
        truth, y_star = cvp01_decide(
            inst.basis,
            inst.target,
            p,
            radius=inst.radius,
            radius_pow=inst.radius_pow,
            relation=relation,
        )
        red = CVPReduction(p, relation=relation, paper_pairs=(i % 7 == 0))
        problem, inv = red.apply(inst)
        sol = decide(problem)
        assert (sol.status is Status.YES) == truth, (inst, relation)
        if sol.status is Status.YES:
            y = red.invert(sol, inv)
            assert y is not None and cvp_distance_check(inst, y, p, relation)[0]
        if y_star is not None:
            z = CVPReduction.encode(y_star, inv)
            assert problem.exact_check(z).meets
            assert CVPReduction.decode(z, inv) == list(y_star)
        answers.append(truth)
        modes.append(mode)
    assert 25 <= sum(answers) <= 105
    if p in (1.0, 2.0, 3.0, math.inf):
        assert modes.count("at") >= 20


def random_graph(rng: np.random.Generator, n: int, density: float, weighted: str) -> Graph:
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < density]
    weights = None
    if weighted == "int":
        weights = tuple(Fraction(int(rng.integers(1, 6))) for _ in edges)
    elif weighted == "rational":
        weights = tuple(Fraction(int(rng.integers(1, 7)), int(rng.integers(1, 4))) for _ in edges)
    return Graph(n=n, edges=tuple(edges), weights=weights)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_clique_theorem5_equivalence(p: int) -> None:
    rng = np.random.default_rng(100 + p)
    answers = []
    at_threshold = 0
    for i in range(200):
        n = int(rng.integers(2, 9))
        g = random_graph(
            rng,
            n,
            float(rng.choice([0.3, 0.6, 0.85])),
            str(rng.choice(["none", "int", "rational"])),
        )
        k = int(rng.integers(0, n + 1))
        best = min_weight_k_clique(g, k)
        mode = str(rng.choice(["any", "at", "below"]))
        relation = "<="
        m: Fraction | None = None
        if mode != "any" and best is not None:
            m = best[0] if mode == "at" else max(best[0] - Fraction(1, 2), Fraction(0))
            if mode == "at":
                at_threshold += 1
                relation = "<" if i % 2 and n > 1 else "<="
        elif mode != "any":
            m = Fraction(int(rng.integers(0, 6)))
        bound = m if m is not None else sum((g.edge_weight(*e) for e in g.edges), Fraction(0))
        truth, clique = clique_decide(g, k, bound, relation=relation)
        red = CliqueReduction(k, p, m, relation=relation)  # type: ignore[arg-type]
        problem, inv = red.apply(g)
        sol = decide(problem)
        assert (sol.status is Status.YES) == truth, (g, k, m, relation)
        if sol.status is Status.YES:
            s = red.invert(sol, inv)
            assert s is not None and g.is_clique(s) and len(s) == k
        if clique is not None:
            z = CliqueReduction.encode(clique, inv)
            assert problem.exact_check(z).meets
        answers.append(truth)
    assert 50 <= sum(answers) <= 150
    assert at_threshold >= 30


def test_half_clique_and_unit_weights() -> None:
    # a 4-cycle plus one chord: half-clique (k = 2) exists, k = 3 exists, k = 4 not
    g = Graph(n=4, edges=((0, 1), (0, 2), (1, 2), (1, 3), (2, 3)), weights=None)
    assert decide(CliqueReduction(None, 2, half=True).apply(g)[0]).status is Status.YES
    assert decide(CliqueReduction(3, 2).apply(g)[0]).status is Status.YES
    assert decide(CliqueReduction(4, 2).apply(g)[0]).status is Status.NO
    # weighted: triangles 0-1-2 (weight 3) and 1-2-3 (weight 12)
    gw = Graph(n=4, edges=g.edges, weights=tuple(Fraction(v) for v in (1, 1, 1, 5, 5)))
    assert decide(CliqueReduction(3, 2, max_weight=3).apply(gw)[0]).status is Status.YES
    assert (
        decide(CliqueReduction(3, 2, max_weight=3, relation="<").apply(gw)[0]).status is Status.NO
    )
    assert decide(CliqueReduction(3, 2, max_weight=2).apply(gw)[0]).status is Status.NO


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_vertex_cover_equivalence(p: float) -> None:
    rng = np.random.default_rng(200 + (0 if math.isinf(p) else int(p)))
    answers = []
    for i in range(200):
        n = int(rng.integers(1, 10))
        g = random_graph(rng, n, float(rng.choice([0.2, 0.4, 0.7])), "none")
        relation = "<" if i % 3 == 0 else "<="
        truth, cover = vertex_cover_decide(g, n)  # always true: the oracle's optimum below
        assert truth
        # q at the optimum, one below, or random
        from geninv.oracles import min_vertex_cover_size

        opt = min_vertex_cover_size(g)
        q = int(rng.choice([opt, max(opt - 1, 0), int(rng.integers(0, n + 2))]))
        truth, cover = vertex_cover_decide(g, q)
        red = VertexCoverReduction(q, p, relation=relation)  # type: ignore[arg-type]
        problem, inv = red.apply(g)
        assert problem.network.widths == [2 * (len(g.edges) + 1)]
        sol = decide(problem)
        assert (sol.status is Status.YES) == truth, (g, q, relation)
        if sol.status is Status.YES:
            c = red.invert(sol, inv)
            assert c is not None and g.is_vertex_cover(c) and len(c) <= q
        if cover is not None:
            z = VertexCoverReduction.encode(cover, inv)
            assert problem.exact_check(z).meets
        answers.append(truth)
    assert 50 <= sum(answers) <= 170


def _lifted_checks(
    problem: InversionProblem,
    truth: bool,
    witness: list[int] | None,
    rng: np.random.Generator,
    search: bool,
    certify: bool,
) -> None:
    lifted, inv = LIFT.apply(problem)
    assert lifted.domain.kind == "real" and lifted.input_box is not None
    assert lifted.network.depth == problem.network.depth + 4
    # corners of the lifted network decide like the binary network
    corners = InversionProblem(
        lifted.network,
        lifted.target,
        Domain("binary"),
        p=lifted.p,
        threshold=lifted.threshold,
        relation=lifted.relation,
        threshold_pow=lifted.threshold_pow,
    )
    assert (decide(corners).status is Status.YES) == truth
    if witness is not None:
        z = BinaryToReal.encode(witness, inv)
        assert lifted.exact_check(z).meets
        back = LIFT.invert(Solution(Status.YES, "t", z=z), inv)
        assert back.z is not None and problem.exact_check(back.z).meets
    elif search:
        target = lifted.target_array()
        _, z = adversarial_min_distance(
            lifted.network, target, rng, n_random=300, n_starts=16, steps=100, box=(0.0, 1.0)
        )
        chk = lifted.exact_check([float(v) for v in z])
        assert not chk.meets
        # the best float point found maps to a binary point that is not a witness either
        t = BinaryToReal.decode([float(v) for v in z], inv)
        assert not problem.exact_check(t).meets
    if certify and (math.isinf(lifted.p) or lifted.p == 1 or lifted.is_exact_inversion):
        sol = solve(lifted, "milp", time_limit=60, trust_solver=True)  # HiGHS's own word
        assert sol.status is (Status.YES if truth else Status.NO), sol.reason


def _lifted_instance(
    family: str, rng: np.random.Generator, i: int
) -> tuple[InversionProblem, bool, list[int] | None]:
    if family == "cvp":
        p = [1.0, 2.0, math.inf][i % 3]
        inst, _ = random_cvp(rng, p)
        truth, y = cvp01_decide(
            inst.basis, inst.target, p, radius=inst.radius, radius_pow=inst.radius_pow
        )
        problem, inv = CVPReduction(p).apply(inst)
        return problem, truth, None if y is None else CVPReduction.encode(y, inv)
    n = int(rng.integers(2, 7))
    if family == "clique":
        g = random_graph(rng, n, float(rng.choice([0.4, 0.7])), "int" if i % 2 else "none")
        k = int(rng.integers(1, n + 1))
        best = min_weight_k_clique(g, k)
        m = None
        if best is not None and i % 3 == 0:
            m = best[0]  # exactly at the threshold
        bound = m if m is not None else sum((g.edge_weight(*e) for e in g.edges), Fraction(0))
        truth, c = clique_decide(g, k, bound)
        problem, inv = CliqueReduction(k, 1 + i % 2, max_weight=m).apply(g)
        return problem, truth, None if c is None else CliqueReduction.encode(c, inv)
    g = random_graph(rng, n, float(rng.choice([0.3, 0.6])), "none")
    q = int(rng.integers(0, n))
    truth, c = vertex_cover_decide(g, q)
    problem, inv = VertexCoverReduction(q, [1, 2, "inf"][i % 3]).apply(g)
    return problem, truth, None if c is None else VertexCoverReduction.encode(c, inv)


@pytest.mark.parametrize("family", ["cvp", "clique", "vc"])
def test_lifted_family(family: str) -> None:
    """500 lifted instances per family (Theorem 4, Theorem 6, real vertex cover)."""
    rng = np.random.default_rng({"cvp": 4, "clique": 6, "vc": 9}[family])
    counts = [0, 0]
    for i in range(500):
        problem, truth, witness = _lifted_instance(family, rng, i)
        _lifted_checks(problem, truth, witness, rng, search=(i % 5 == 0), certify=(i % 10 == 0))
        counts[truth] += 1
    assert min(counts) >= 100, counts


def test_lifting_large_delta_uses_scale() -> None:
    # errata E11: the literal gadget (s = 1) fails at delta = 3/10; ours does not.
    inst = CVPInstance(((Fraction(1),),), (Fraction(1, 2),), Fraction(3, 10), None, math.inf)
    problem, _ = CVPReduction(math.inf).apply(inst)
    assert decide(problem).status is Status.NO
    lifted, inv = LIFT.apply(problem)
    assert Fraction(inv["scale"]) == 2
    for z in np.linspace(-0.5, 1.5, 2001):
        assert not lifted.exact_check([Fraction(float(z))]).meets


def test_lifted_instances_decided_by_milp() -> None:
    """The real-latent (lifted) instances are decided by the MILP backend: NO with a proof
    (HiGHS's floating-point word, accepted with ``trust_solver``)."""
    rng = np.random.default_rng(8)
    counts = [0, 0]
    for i in range(45):
        kind = i % 3
        if kind == 0:
            p = [1.0, math.inf][i % 2]
            inst, _ = random_cvp(rng, p)
            truth, _ = cvp01_decide(inst.basis, inst.target, p, radius=inst.radius)
            problem, _ = CVPReduction(p).apply(inst)
        elif kind == 1:
            n = int(rng.integers(2, 7))
            g = random_graph(rng, n, 0.5, "none")
            q = int(rng.integers(0, n))
            truth, _ = vertex_cover_decide(g, q)
            problem, _ = VertexCoverReduction(q, [1, "inf"][i % 2]).apply(g)
        else:
            n = int(rng.integers(2, 7))
            g = random_graph(rng, n, 0.6, "int")
            k = int(rng.integers(1, n + 1))
            total = sum((g.edge_weight(*e) for e in g.edges), Fraction(0))
            truth, _ = clique_decide(g, k, total)
            problem, _ = CliqueReduction(k, 1).apply(g)
        lifted, _ = LIFT.apply(problem)
        sol = solve(lifted, "milp", time_limit=60, trust_solver=True)  # HiGHS's own word
        assert sol.status is (Status.YES if truth else Status.NO), (i, sol.reason)
        if truth:
            assert sol.check is not None and sol.check.meets
        else:
            assert sol.proof is not None
        counts[truth] += 1
    assert min(counts) >= 10
