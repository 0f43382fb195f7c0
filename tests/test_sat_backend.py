"""The SAT backend against enumeration, source-side SAT solvers, and the RUP checker."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver

import geninv.solvers.sat  # noqa: F401  (registers the backend)
from geninv.errors import ParseError, UnsupportedError, ValidationError
from geninv.io.dimacs import CNF, read_cnf
from geninv.io.graphs import Graph
from geninv.io.lattice import CVPInstance
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Relation, Solution, Status
from geninv.reductions.clique import CliqueReduction
from geninv.reductions.cvp import CVPReduction
from geninv.reductions.sat import SatReduction, normalise_clauses
from geninv.reductions.vertex_cover import VertexCoverReduction
from geninv.solvers.base import REGISTRY, solve
from geninv.solvers.rup import check_drup, check_drup_files, parse_dimacs, parse_drup
from geninv.solvers.sat import NO_PROOF_KIND, SatBackend, compile_to_cnf

from .conftest import random_cnf, varied_cnf

NORMS = (math.inf, 1.0, 2.0)


# ------------------------------------------------------------------ helpers
def sat(problem: InversionProblem, **options: Any) -> Solution:
    sol = solve(problem, "sat", options=options)
    assert sol.status is not Status.UNKNOWN, sol.reason
    if sol.status is Status.YES:
        assert sol.z is not None and problem.exact_check(sol.z).meets
    else:
        assert sol.proof is not None and sol.proof["kind"] == NO_PROOF_KIND
    return sol


def truth(problem: InversionProblem) -> Status:
    return solve(problem, "enumerate").status


def variant(problem: InversionProblem, **kw: Any) -> InversionProblem:
    args: dict[str, Any] = {
        "network": problem.network,
        "target": problem.target,
        "domain": problem.domain,
        "p": problem.p,
        "threshold": problem.threshold,
        "relation": problem.relation,
        "threshold_pow": problem.threshold_pow,
    }
    args.update(kw)
    return InversionProblem(**args)


def min_key(problem: InversionProblem) -> tuple[Fraction, float]:
    """Exact minimum (max |d| for p = inf, sum |d|^p otherwise) and the float distance."""
    sol = solve(problem, "enumerate", options={"mode": "optimize"})
    chk = problem.exact_check(sol.stats["argmin"])
    assert chk.distance_pow is not None
    return chk.distance_pow, chk.distance


def threshold_variants(problem: InversionProblem) -> list[tuple[InversionProblem, Status]]:
    """Exact inversion, and thresholds at, above and below the true minimum."""
    key, _ = min_key(problem)
    p = problem.p
    out: list[tuple[InversionProblem, Status]] = []
    exact = variant(problem, threshold=0, relation="<=", threshold_pow=None)
    out.append((exact, Status.YES if key == 0 else Status.NO))

    def at(value: Fraction, relation: str) -> InversionProblem:
        if math.isinf(p) or p == 1:
            return variant(problem, threshold=value, relation=relation, threshold_pow=None)
        root = Fraction(float(value) ** (1 / p))
        return variant(problem, threshold=root, relation=relation, threshold_pow=value)

    if key > 0:
        out.append((at(key, "<="), Status.YES))
        out.append((at(key, "<"), Status.NO))
        out.append((at(key * Fraction(2, 3), "<="), Status.NO))
    out.append((at(key + Fraction(1, 3), "<"), Status.YES))
    return out


def int_network(
    rng: np.random.Generator, n: int, hidden: int, lo: int = -2, hi: int = 2
) -> ReLUNetwork:
    weights, biases = [], []
    prev = n
    for _ in range(hidden + 1):
        m = int(rng.integers(1, 4))
        weights.append(rng.integers(lo, hi + 1, (m, prev)).astype(np.float64))
        biases.append(rng.integers(lo, hi + 1, m).astype(np.float64))
        prev = m
    final = "identity" if rng.random() < 0.3 else "relu"
    return ReLUNetwork(weights, biases, final_activation=final)


def corner(rng: np.random.Generator, n: int, domain: str) -> list[int]:
    lo, hi = Domain(domain).corner_values()  # type: ignore[arg-type]
    return [hi if b else lo for b in rng.integers(0, 2, n)]


def source_sat(cnf: CNF) -> bool:
    if any(len(c) == 0 for c in cnf.clauses):
        return False
    with Solver(name="minisat22", bootstrap_with=[list(c) for c in cnf.clauses]) as s:
        return bool(s.solve())


def naive_rup(clauses: list[tuple[int, ...]], steps: list[tuple[bool, tuple[int, ...]]]) -> bool:
    """Reference DRUP check: repeated full scans, unit deletions ignored."""
    db = [set(c) for c in clauses]

    def conflicts(assume: set[int]) -> bool:
        val = set(assume)
        if any(-x in val for x in val):
            return True
        changed = True
        while changed:
            changed = False
            for c in db:
                if any(x in val for x in c):
                    continue
                free = [x for x in c if -x not in val]
                if not free:
                    return True
                if len(free) == 1:
                    val.add(free[0])
                    changed = True
        return False

    if any(not c for c in db):
        return True
    for is_del, lits in steps:
        if is_del:
            if len(set(lits)) > 1 and set(lits) in db:
                db.remove(set(lits))
            continue
        if not conflicts({-x for x in lits}):
            return False
        if not lits:
            return True
        db.append(set(lits))
    return conflicts(set())


# ------------------------------------------------------- random networks
@settings(derandomize=True, max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    hidden=st.integers(1, 2),
    domain=st.sampled_from(["binary", "sign"]),
    p=st.sampled_from(NORMS),
)
def test_random_integer_networks_agree_with_enumeration(
    seed: int, n: int, hidden: int, domain: str, p: float
) -> None:
    rng = np.random.default_rng(seed)
    net = int_network(rng, n, hidden)
    shift = [Fraction(int(rng.integers(-2, 3)), int(rng.choice([1, 1, 2]))) for _ in range(3)]
    target = [v + shift[i % 3] for i, v in enumerate(net.forward_exact(corner(rng, n, domain)))]
    base = InversionProblem(net, target, Domain(domain), p=p, threshold=1)  # type: ignore[arg-type]
    for prob, expected in threshold_variants(base):
        assert truth(prob) is expected
        assert sat(prob).status is expected, prob.describe()
    key, dist = min_key(base)
    opt = sat(base, mode="optimize")
    assert opt.stats["min_distance_exact"] == str(key)
    assert opt.stats["min_distance"] == pytest.approx(dist)
    assert base.exact_check(opt.stats["argmin"]).distance_pow == key


def twin_network(rng: np.random.Generator, n: int, hidden: int) -> ReLUNetwork:
    """A network whose last layer is ``[W; -W]`` (shuffled, plus one lone row): twin pairs."""
    inner = int_network(rng, n, hidden - 1) if hidden > 1 else None
    weights = [w for w in inner.weights] if inner else []
    biases = [b for b in inner.biases] if inner else []
    prev = weights[-1].shape[0] if weights else n
    m = int(rng.integers(1, 4))
    w = rng.integers(-2, 3, (m, prev)).astype(np.float64)
    b = rng.integers(-2, 3, m).astype(np.float64)
    lone_w = rng.integers(-2, 3, (1, prev)).astype(np.float64)
    lone_b = rng.integers(-2, 3, 1).astype(np.float64)
    rows = np.vstack([w, -w, lone_w])
    bias = np.concatenate([b, -b, lone_b])
    order = rng.permutation(rows.shape[0])
    return ReLUNetwork([*weights, rows[order]], [*biases, bias[order]])


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    hidden=st.integers(1, 2),
    domain=st.sampled_from(["binary", "sign"]),
    p=st.sampled_from((1.0, 2.0, 3.0)),
)
def test_twin_outputs_and_threshold_pruning_agree_with_enumeration(
    seed: int, n: int, hidden: int, domain: str, p: float
) -> None:
    """Output pairs ReLU(a), ReLU(-a) become one cost term, and values whose cost alone
    passes the threshold are excluded: answers must stay those of enumeration."""
    rng = np.random.default_rng(seed)
    net = twin_network(rng, n, hidden)
    target = [
        v + int(rng.integers(0, 3)) * int(rng.random() < 0.5)
        for v in net.forward_exact(corner(rng, n, domain))
    ]
    base = InversionProblem(net, target, Domain(domain), p=p, threshold=1)  # type: ignore[arg-type]
    for prob, expected in threshold_variants(base):
        assert truth(prob) is expected
        assert sat(prob).status is expected, prob.describe()
    key, _ = min_key(base)
    assert sat(base, mode="optimize").stats["min_distance_exact"] == str(key)


def test_twins_are_found_and_values_pruned() -> None:
    # y = (ReLU(a), ReLU(-a), ReLU(z0)) with a = z0 + z1 + z2 - 1 over {0,1}^3, target 0:
    # the pair's cost is |a|, so |a| + z0 <= 1 leaves a in {-1, 0, 1}; a = 2 is pruned
    net = ReLUNetwork([[[1, 1, 1], [-1, -1, -1], [1, 0, 0]]], [[-1, 1, 0]])
    prob = InversionProblem(net, [0, 0, 0], Domain("binary"), p=1.0, threshold=1)
    sol = sat(prob)
    assert sol.status is Status.YES and sol.stats["objective_values_pruned"] == 1
    assert sol.stats["twin_output_pairs"] == 1
    tight = InversionProblem(net, [0, 0, 0], Domain("binary"), p=1.0, threshold="1/2")
    sol = sat(tight)  # |a| = 0 and z0 = 0: z = (0, 1, 0) or (0, 0, 1)
    assert sol.status is Status.YES and sol.z is not None and sol.z[0] == 0
    assert sum(sol.z) == 1
    never = InversionProblem(net, [5, 0, 0], Domain("binary"), p=2.0, threshold=1)
    assert sat(never).status is Status.NO


@pytest.mark.parametrize("objective", ["mdd", "adder"])
def test_both_distance_encodings_agree(objective: str) -> None:
    rng = np.random.default_rng(7 if objective == "mdd" else 8)
    for i in range(14):
        n = int(rng.integers(2, 7))
        domain = ["binary", "sign"][i % 2]
        net = int_network(rng, n, 1, -3, 3)
        target = [v + int(rng.integers(-2, 3)) for v in net.forward_exact(corner(rng, n, domain))]
        p = [1.0, 2.0, 3.0][i % 3]
        base = InversionProblem(net, target, Domain(domain), p=p, threshold=1)  # type: ignore[arg-type]
        for prob, expected in threshold_variants(base):
            sol = sat(prob, objective=objective)
            assert sol.status is expected
            if prob.threshold != 0:
                assert sol.stats["objective_encoding"] == objective
        opt = sat(base, mode="optimize", objective=objective)
        assert opt.stats["min_distance_exact"] == str(min_key(base)[0])


def test_stable_units_and_sizes_in_stats() -> None:
    # unit 0 always active, unit 1 never active, unit 2 unstable (binary latents)
    net = ReLUNetwork([[[1, 1], [-1, -1], [1, -1]], [[1, 1, 1]]], [[0, -1, 0], [0]])
    prob = InversionProblem(net, [1], Domain("binary"))
    sol = sat(prob)
    assert sol.status is Status.YES
    s = sol.stats
    assert (s["stable_active"], s["stable_inactive"], s["unstable"]) == (2, 1, 1)
    assert s["units_per_layer"][0] == {"active": 1, "inactive": 1, "unstable": 1, "affine": 0}
    assert s["cnf_vars"] >= 2 and s["cnf_clauses"] >= 1
    assert s["solver"] == "cadical195" and s["mode"] == "decide"
    assert REGISTRY["sat"] is SatBackend


# ------------------------------------------------------------ Theorem 1
def test_theorem1_random_cnfs_match_pysat_and_keep_their_size() -> None:
    rng = np.random.default_rng(11)
    answers = []
    for i in range(70):
        n = int(rng.integers(2, 13))
        m = int(rng.integers(1, 7 * n))
        odd = i % 5 == 0
        cnf = varied_cnf(rng, n, m, odd, p_empty=0.02)
        problem, _ = SatReduction("sign").apply(cnf)
        expected = source_sat(cnf)
        sol = sat(problem)
        assert (sol.status is Status.YES) == expected
        answers.append(expected)
        compiled = compile_to_cnf(problem, vectorised=False)  # the general encoder
        rows = normalise_clauses(cnf).rows
        distinct = {frozenset(r) for r in rows}
        if any(len(r) == 0 for r in rows):
            assert compiled.clauses == [[]]
            continue
        assert compiled.nvars == n  # no auxiliary variable survives
        assert len(compiled.clauses) <= len(distinct) + n
        if all(len(r) > 1 for r in rows):  # nothing for unit propagation to do
            assert {frozenset(c) for c in compiled.clauses} == distinct
            assert len(compiled.clauses) == len(distinct)
    assert 15 <= sum(answers) <= 55


def test_theorem1_uf20_compiles_back_to_its_formula(shared_data: Path) -> None:
    cnf = read_cnf(shared_data / "cnf" / "uf20-91" / "uf20-01.cnf")
    problem, inv = SatReduction("sign").apply(cnf)
    distinct = {frozenset(c) for c in cnf.clauses}
    assert (cnf.n_vars, cnf.n_clauses) == (20, 91)
    general = compile_to_cnf(problem, vectorised=False)
    assert general.nvars == 20
    assert {frozenset(c) for c in general.clauses} == distinct
    assert len(general.clauses) == len(distinct)
    fast = compile_to_cnf(problem)  # the clause form: the formula, clause for clause
    assert fast.nvars == 20
    assert [sorted(c) for c in fast.clauses] == [sorted(c) for c in cnf.clauses]
    for name in ("cadical195", "glucose4"):
        sol = sat(problem, solver=name)
        assert sol.status is Status.YES
        assignment = SatReduction("sign").invert(sol, inv)
        assert assignment is not None and cnf.evaluate(assignment)


def test_theorem1_no_answers_carry_checked_proofs(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    checked = 0
    for i in range(40):
        n = int(rng.integers(3, 11))
        cnf = random_cnf(rng, n, 7 * n)
        problem, _ = SatReduction("sign").apply(cnf)
        name = ["cadical195", "glucose4", "cadical153"][i % 3]
        path = tmp_path / f"p{i}.drup"
        sol = sat(problem, solver=name, proof=str(path), check_proof=True)
        assert (sol.status is Status.YES) == source_sat(cnf)
        if sol.status is Status.NO:
            assert sol.proof is not None
            assert sol.proof["proof_file"] == str(path)
            assert sol.proof["cnf_file"] == str(path) + ".cnf"
            assert sol.proof["proof_checked"] is True
            assert check_drup_files(str(path) + ".cnf", path).ok
            checked += 1
    assert checked >= 20


# --------------------------------------------------- Theorems 3, 5, 5.3
def random_graph(rng: np.random.Generator, n: int, density: float, weighted: str) -> Graph:
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < density]
    weights = None
    if weighted == "int":
        weights = tuple(Fraction(int(rng.integers(1, 6))) for _ in edges)
    elif weighted == "rational":
        weights = tuple(Fraction(int(rng.integers(1, 7)), int(rng.integers(1, 4))) for _ in edges)
    return Graph(n=n, edges=tuple(edges), weights=weights)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_theorem3_cvp_agrees(p: float) -> None:
    rng = np.random.default_rng(30 + (9 if math.isinf(p) else int(p)))
    answers = []
    for i in range(30):
        n, d = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        basis = tuple(
            tuple(Fraction(int(v)) for v in rng.integers(-3, 4, size=d)) for _ in range(n)
        )
        target = tuple(
            Fraction(int(v), int(rng.choice([1, 2]))) for v in rng.integers(-4, 5, size=d)
        )
        if math.isinf(p) or p == 1:
            inst = CVPInstance(basis, target, Fraction(int(rng.integers(0, 12)), 2), None, p)
        else:
            inst = CVPInstance(basis, target, None, Fraction(int(rng.integers(0, 40)), 2), p)
        positive = bool(inst.radius) or bool(inst.radius_pow)
        relation: Relation = "<" if i % 3 == 1 and positive else "<="
        problem, _ = CVPReduction(p, relation=relation, paper_pairs=i % 7 == 0).apply(inst)
        expected = truth(problem)
        assert sat(problem).status is expected
        answers.append(expected is Status.YES)
    assert 3 <= sum(answers) <= 27


@pytest.mark.parametrize("p", [1, 2])
def test_theorem5_clique_agrees(p: int) -> None:
    rng = np.random.default_rng(50 + p)
    answers = []
    for i in range(16):
        n = int(rng.integers(2, 8))
        g = random_graph(rng, n, float(rng.choice([0.4, 0.8])), ["none", "int", "rational"][i % 3])
        k = int(rng.integers(1, n + 1))
        m = Fraction(int(rng.integers(0, 8))) if i % 2 else None
        relation = "<" if i % 4 == 1 else "<="
        problem, _ = CliqueReduction(k, p, m, relation=relation).apply(g)  # type: ignore[arg-type]
        expected = truth(problem)
        assert sat(problem).status is expected, (g, k, m, relation)
        answers.append(expected is Status.YES)
    assert 2 <= sum(answers) <= 14


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_vertex_cover_agrees(p: float) -> None:
    rng = np.random.default_rng(70 + (0 if math.isinf(p) else int(p)))
    answers = []
    for i in range(30):
        n = int(rng.integers(1, 9))
        g = random_graph(rng, n, float(rng.choice([0.3, 0.6])), "none")
        q = int(rng.integers(0, n + 1))
        relation = "<" if i % 3 == 0 else "<="
        problem, _ = VertexCoverReduction(q, p, relation=relation).apply(g)  # type: ignore[arg-type]
        expected = truth(problem)
        assert sat(problem).status is expected
        answers.append(expected is Status.YES)
    assert 5 <= sum(answers) <= 25


def test_approximate_no_answers_carry_checked_proofs(tmp_path: Path) -> None:
    rng = np.random.default_rng(90)
    checked = 0
    for i in range(24):
        p = [1.0, 2.0, math.inf][i % 3]
        if i % 2:
            n = int(rng.integers(3, 8))
            g = random_graph(rng, n, 0.6, "none")
            problem, _ = VertexCoverReduction(max(n - 3, 0), p).apply(g)
        else:
            n, d = int(rng.integers(2, 7)), int(rng.integers(2, 4))
            basis = tuple(
                tuple(Fraction(int(v)) for v in rng.integers(-3, 4, size=d)) for _ in range(n)
            )
            target = tuple(Fraction(int(v)) for v in rng.integers(-4, 5, size=d))
            inst = CVPInstance(basis, target, Fraction(1), None, p)
            problem, _ = CVPReduction(p).apply(inst)
        path = tmp_path / f"a{i}.drup"
        sol = sat(problem, proof=str(path), check_proof=True, solver="glucose4")
        assert sol.status is truth(problem)
        if sol.status is Status.NO:
            assert sol.proof is not None and sol.proof["proof_checked"] is True
            assert check_drup_files(str(path) + ".cnf", path).ok
            checked += 1
    assert checked >= 6


# ---------------------------------------------------- rational weights
def test_rational_weights_are_scaled_exactly() -> None:
    rng = np.random.default_rng(5)
    for i in range(25):
        n = int(rng.integers(1, 7))
        dens = [1, 2, 3, 6]
        w1 = [
            [Fraction(int(rng.integers(-3, 4)), int(rng.choice(dens))) for _ in range(n)]
            for _ in range(3)
        ]
        b1 = [Fraction(int(rng.integers(-3, 4)), int(rng.choice(dens))) for _ in range(3)]
        w2 = [[Fraction(int(rng.integers(-2, 3)), int(rng.choice(dens))) for _ in range(3)]]
        b2 = [Fraction(1, 3)]
        net = ReLUNetwork([w1, w2], [b1, b2])
        domain = ["binary", "sign"][i % 2]
        target = net.forward_exact(corner(rng, n, domain))
        p = NORMS[i % 3]
        base = InversionProblem(net, target, Domain(domain), p=p)  # type: ignore[arg-type]
        assert sat(base).status is Status.YES  # exact inversion of an image
        for prob, expected in threshold_variants(
            variant(base, target=[t + Fraction(1, 7) for t in target])
        ):
            assert sat(prob).status is expected


def test_float_weights_are_scaled_or_refused() -> None:
    # 0.1 is 3602879701896397 / 2^55: huge integers, but few distinct values
    rng = np.random.default_rng(6)
    for i in range(12):
        n = int(rng.integers(2, 7))
        w1 = rng.integers(-9, 10, (3, n)) / 10.0
        net = ReLUNetwork([w1, rng.integers(-9, 10, (2, 3)) / 10.0], [np.full(3, 0.1), [0.3, -0.2]])
        domain = ["binary", "sign"][i % 2]
        target = [v + Fraction(1, 10) for v in net.forward_exact(corner(rng, n, domain))]
        base = InversionProblem(net, target, Domain(domain), p=math.inf)  # type: ignore[arg-type]
        for prob, expected in threshold_variants(base):
            assert sat(prob).status is expected
    # too many distinct values: refused with a clear message, quickly
    big = ReLUNetwork(
        [np.random.default_rng(1).normal(size=(3, 12)), np.ones((1, 3))], [np.zeros(3), [0.0]]
    )
    prob = InversionProblem(big, [0.5], Domain("binary"), p=math.inf, threshold=0.1)
    with pytest.raises(UnsupportedError, match="distinct values"):
        solve(prob, "sat", options={"max_values": 500})
    with pytest.raises(UnsupportedError, match="max_nodes"):
        solve(prob, "sat", options={"max_nodes": 50})


# ------------------------------------------------------------- options
def pigeonhole(holes: int) -> CNF:
    pigeons = holes + 1

    def var(i: int, j: int) -> int:
        return i * holes + j + 1

    clauses = [tuple(var(i, j) for j in range(holes)) for i in range(pigeons)]
    for j in range(holes):
        for a in range(pigeons):
            for b in range(a + 1, pigeons):
                clauses.append((-var(a, j), -var(b, j)))
    return CNF(pigeons * holes, tuple(clauses))


@pytest.mark.parametrize("solver", ["cadical195", "glucose4", "minisat22"])
def test_time_limit_gives_unknown_never_no(solver: str) -> None:
    problem, _ = SatReduction("sign").apply(pigeonhole(10))
    sol = solve(problem, "sat", time_limit=0.5, options={"solver": solver})
    assert sol.status is Status.UNKNOWN
    assert sol.reason is not None and "time limit" in sol.reason
    assert sol.seconds < 5
    sol = solve(problem, "sat", time_limit=0.0)
    assert sol.status is Status.UNKNOWN


def test_time_limited_cadical_in_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a time limit and no in-process attempt, CaDiCaL runs in a forked child."""
    import geninv.solvers.sat.engines as satmod

    calls: list[int] = []
    real = satmod._solve_in_child

    def spy(name: str, clauses: list[list[int]], deadline: float) -> Any:
        calls.append(len(clauses))
        return real(name, clauses, deadline)

    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(satmod, "ONESHOT_BUDGET", 0)
    monkeypatch.setattr(satmod, "_solve_in_child", spy)
    monkeypatch.setattr(os, "fork", fork)
    rng = np.random.default_rng(31)
    answers = []
    for _ in range(12):
        n = int(rng.integers(5, 30))
        cnf = random_cnf(rng, n, int(4.3 * n))
        problem, inv = SatReduction("sign").apply(cnf)
        sol = solve(problem, "sat", time_limit=60)
        expected = source_sat(cnf)
        assert (sol.status is Status.YES) == expected
        if expected:
            assignment = SatReduction("sign").invert(sol, inv)
            assert assignment is not None and cnf.evaluate(assignment)
        answers.append(expected)
    assert len(calls) == 12 and 2 <= sum(answers) <= 10
    # killed at the deadline: unknown, on time, and no child left behind
    problem, _ = SatReduction("sign").apply(pigeonhole(11))
    sol = solve(problem, "sat", time_limit=0.5)
    assert sol.status is Status.UNKNOWN and sol.seconds < 3
    assert len(pids) == 13
    for pid in pids:  # every child was reaped
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_failed_fork_falls_back_to_budget_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    import geninv.solvers.sat.engines as satmod

    def no_fork() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(satmod, "ONESHOT_BUDGET", 0)
    monkeypatch.setattr(os, "fork", no_fork)
    opened = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    rng = np.random.default_rng(32)
    for _ in range(6):
        n = int(rng.integers(5, 25))
        cnf = random_cnf(rng, n, int(4.3 * n))
        problem, _ = SatReduction("sign").apply(cnf)
        sol = solve(problem, "sat", time_limit=60)
        assert (sol.status is Status.YES) == source_sat(cnf)
    if opened is not None:  # the pipe of each failed fork was closed
        assert len(os.listdir("/proc/self/fd")) <= opened


def test_optimize_time_limit_gives_unknown() -> None:
    problem, _ = SatReduction("sign").apply(pigeonhole(10))
    sol = solve(problem, "sat", time_limit=0.5, options={"mode": "optimize"})
    assert sol.status is Status.UNKNOWN
    assert sol.seconds < 5


def test_optimize_no_answer_writes_a_decision_proof(tmp_path: Path) -> None:
    net = ReLUNetwork([[[1, 1, 1], [1, -1, 2]]], [[0, -1]])
    prob = InversionProblem(net, [Fraction(1, 2), 5], Domain("binary"), p=2, threshold=1)
    path = tmp_path / "opt.drup"
    sol = solve(prob, "sat", options={"mode": "optimize", "proof": str(path), "check_proof": True})
    assert sol.status is Status.NO
    assert sol.proof is not None and sol.proof["optimal"] is True
    assert sol.proof["proof_checked"] is True
    key, _ = min_key(prob)
    assert sol.stats["min_distance_exact"] == str(key)
    assert check_drup_files(str(path) + ".cnf", path).ok


def test_other_solvers_and_validation() -> None:
    net = ReLUNetwork([[[1, -1], [2, 1]]], [[0, -1]])
    yes = InversionProblem(net, [1, 1], Domain("binary"))
    no = InversionProblem(net, [1, 3], Domain("binary"))
    for name in ("kissat404", "glucose4", "minisat22"):
        assert sat(yes, solver=name).status is Status.YES
        assert sat(no, solver=name).status is Status.NO
    with pytest.raises(UnsupportedError, match="incremental"):
        solve(yes, "sat", options={"mode": "optimize", "solver": "kissat404"})
    with pytest.raises(UnsupportedError, match="proof"):
        solve(no, "sat", options={"solver": "minisat22", "proof": "/nonexistent/x"})
    with pytest.raises(ValidationError):
        SatBackend(mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        SatBackend(solver="nosuchsolver")
    with pytest.raises(ValidationError):
        SatBackend(objective="bdd")  # type: ignore[arg-type]
    real = InversionProblem(net, [1, 1], Domain("real"))
    with pytest.raises(UnsupportedError):
        solve(real, "sat")
    frac_p = InversionProblem(net, [1, 1], Domain("binary"), p=1.5, threshold=1)
    with pytest.raises(UnsupportedError, match="integer p"):
        solve(frac_p, "sat")
    exact = InversionProblem(net, [1, 1], Domain("binary"), p=1.5)
    assert sat(exact).status is Status.YES  # exact inversion works for any p
    # a target that is no multiple of the output's unit: empty clause, no solver call
    off = InversionProblem(net, [Fraction(1, 2), 1], Domain("binary"))
    sol = sat(off)
    assert sol.status is Status.NO and sol.stats["decided_by"].startswith("unit propagation")


# ------------------------------------------------------------ RUP checker
SQUARE = [(1, 2), (-1, 2), (1, -2), (-1, -2)]


def test_rup_checker_basics() -> None:
    assert check_drup(SQUARE, parse_drup("2 0\n0\n")).ok
    assert check_drup(SQUARE, parse_drup("c comment\n2 0\n")).ok  # empty clause implied at the end
    res = check_drup(SQUARE, parse_drup("0\n"))
    assert not res.ok and res.failed_step == 0
    res = check_drup(SQUARE, parse_drup("3 0\n2 0\n0\n"))
    assert not res.ok and res.failed_step == 0
    # deleting a clause the refutation needs makes it fail; unknown deletions are counted
    assert check_drup(SQUARE, parse_drup("d 5 6 0\n2 0\n0\n")).ignored_deletions == 1
    assert not check_drup(SQUARE, parse_drup("d -2 1 0\n2 0\n0\n")).ok
    assert check_drup(SQUARE, parse_drup("d 2 0\n2 0\n0\n")).ok  # unit deletions ignored
    assert check_drup([(1,), ()], []).ok
    assert not check_drup([(1, 2)], parse_drup("1 0\n0\n")).ok
    n, clauses = parse_dimacs("c x\np cnf 2 4\n1 2 0\n-1 2 0 1 -2 0\n-1 -2 0\n")
    assert n == 2 and clauses == SQUARE
    for bad in ("p cnf 1 1\n2 0\n", "1 0\n", "p cnf 2 2\n1 0\n", "p cnf 2 1\n1 x 0\n"):
        with pytest.raises(ParseError):
            parse_dimacs(bad)
    for bad in ("1 2\n", "1 d 0\n", "d\n", "1 y 0\n"):
        with pytest.raises(ParseError):
            parse_drup(bad)


def test_rup_checker_keeps_reason_clauses() -> None:
    """A solver deletes the reason of a top-level literal and then relies on that
    literal (maplechrono, glucose): the deletion is ignored, as drat-trim does, and
    the proof checks; a lemma that needs a deleted clause that is no reason still fails."""
    cnf = [(1,), (-1, 2), (-2, 3, 4), (-2, 3, -4), (-2, -3, 4), (-2, -3, -4)]
    res = check_drup(cnf, parse_drup("d -1 2 0\n3 0\n0\n"))
    assert res.ok and res.ignored_deletions == 1
    # [-2, 3, 4] is no reason at the top level (only 1 and 2 are set): deleted, and
    # the lemma 3 then needs it
    res = check_drup(cnf, parse_drup("d -2 3 4 0\n3 0\n0\n"))
    assert not res.ok and res.failed_step == 1
    # after the lemma 3 is added the same clause is satisfied, not a reason: deleted
    assert check_drup(cnf, parse_drup("3 0\nd -2 3 4 0\n0\n")).ok


def test_rup_checker_matches_naive_on_real_and_corrupted_proofs(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    rejected = 0
    compared = 0
    for i in range(30):
        n = int(rng.integers(4, 9))
        cnf = random_cnf(rng, n, 8 * n)
        if source_sat(cnf):
            continue
        problem, _ = SatReduction("sign").apply(cnf)
        path = tmp_path / f"r{i}.drup"
        sol = sat(problem, proof=str(path), solver=["glucose4", "cadical195"][i % 2])
        assert sol.status is Status.NO
        _, clauses = parse_dimacs((tmp_path / f"r{i}.drup.cnf").read_text())
        steps = parse_drup(path.read_text())
        assert check_drup(clauses, steps).ok and naive_rup(clauses, steps)
        lemmas = [k for k, (d, lits) in enumerate(steps) if not d and lits]
        for k in lemmas[:6]:
            dropped = steps[:k] + steps[k + 1 :]
            lits = steps[k][1]
            flipped = [*steps[:k], (False, (-lits[0], *lits[1:])), *steps[k + 1 :]]
            for corrupted in (dropped, flipped):
                ours = check_drup(clauses, corrupted)
                assert ours.ok == naive_rup(clauses, corrupted)
                compared += 1
                if not ours.ok:
                    rejected += 1
                    assert ours.failed_step is None or ours.failed_step >= k - 1
    assert compared >= 40
    assert rejected >= 5
