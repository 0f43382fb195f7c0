"""The sat backend's vectorised clause form and the integer exact evaluation.

``clause_form`` is a shortcut of the general encoder; its CNF must have the
problem's witnesses as its models *exactly* (checked point by point on every
corner), and it must decline everything outside its shape.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Status
from geninv.reductions.sat import SatReduction, normalise_clauses
from geninv.solvers.base import solve
from geninv.solvers.sat import (
    _NO_JUMP,
    _clause_rows,
    _clause_rows_int,
    clause_form,
    compile_to_cnf,
)

from .conftest import varied_cnf
from .test_sat_backend import source_sat


def corners(n: int, values: tuple[int, int]) -> list[list[int]]:
    return [list(bits) for bits in itertools.product(values, repeat=n)]


def satisfied(clauses: list[list[int]], z: list[int], values: tuple[int, int]) -> bool:
    true = {i + 1 if v == values[1] else -(i + 1) for i, v in enumerate(z)}
    return all(any(lit in true for lit in c) for c in clauses)


def indicator_row(rng: np.random.Generator, n: int, kind: str) -> tuple[list[int], int]:
    """A row whose ReLU is M times the indicator of one corner of its support."""
    lo, hi = (0, 1) if kind == "binary" else (-1, 1)
    size = int(rng.integers(1, min(n, 4) + 1))
    support = rng.choice(n, size=size, replace=False)
    row = [0] * n
    for v in support:
        row[int(v)] = int(rng.choice([-1, 1])) * int(rng.integers(1, 4))
    amax = sum(hi * w if w > 0 else lo * w for w in row)
    gap = min(abs(w) for w in row if w) * (hi - lo)
    m = int(rng.integers(1, gap + 1))  # M in 1..gap: the next corner is <= 0
    return row, m - amax


def random_problem(
    rng: np.random.Generator, n: int, q: int | None = None, delta_halves: int = 1
) -> InversionProblem:
    """A random two-layer integer problem, mostly of the clause shape.

    ``q`` outputs (default 1 or 2); thresholds in halves, or integers when
    ``delta_halves`` is 0.
    """
    kind = str(rng.choice(["binary", "sign"]))
    rows: list[list[int]] = []
    bias: list[int] = []
    for _ in range(int(rng.integers(1, 3 * n))):
        r = rng.random()
        if r < 0.85:
            row, b = indicator_row(rng, n, kind)
        elif r < 0.93:  # constant: never active, or no inputs
            row, b = [0] * n, int(rng.integers(-1, 3))
        else:  # anything (usually not an indicator)
            row = [int(v) for v in rng.integers(-2, 3, size=n)]
            b = int(rng.integers(-2, 3))
        rows.append(row)
        bias.append(b)
    q = int(rng.integers(1, 3)) if q is None else q
    w2 = [[int(v) for v in rng.choice([0, 1, 1, 2, 3, -1], size=len(rows))] for _ in range(q)]
    if rng.random() < 0.8:  # mostly nonnegative output rows
        w2 = [[abs(v) for v in r] for r in w2]
    b2 = [int(v) for v in rng.integers(-3, 2, size=q)]
    act = str(rng.choice(["relu", "identity"]))
    net = ReLUNetwork([rows, w2], [bias, b2], final_activation=act)
    values = Domain(kind).corner_values()
    r = rng.random()
    if r < 0.4:
        target = [Fraction(0)] * q
    elif r < 0.7:
        target = [Fraction(int(v)) for v in rng.integers(-1, 3, size=q)]
    else:
        z = [int(v) for v in rng.choice(values, size=n)]
        target = net.forward_exact(z)
    if rng.random() < 0.5:
        return InversionProblem(net, target, Domain(kind))
    delta = Fraction(int(rng.integers(1, 4)), 2 if delta_halves else 1)
    rel: Any = str(rng.choice(["<=", "<"]))
    return InversionProblem(net, target, Domain(kind), p=math.inf, threshold=delta, relation=rel)


def test_clause_form_models_are_exactly_the_witnesses() -> None:
    rng = np.random.default_rng(2026)
    accepted = {"yes": 0, "no": 0}
    declined = 0
    for _ in range(400):
        n = int(rng.integers(1, 8))
        problem = random_problem(rng, n)
        compiled = clause_form(problem)
        values = problem.domain.corner_values()
        truth = [problem.exact_check(z).meets for z in corners(n, values)]
        sol = solve(problem, "sat")
        assert (sol.status is Status.YES) == any(truth)
        if compiled is None:
            declined += 1
            assert "encoding" not in sol.stats
            continue
        assert compiled.nvars == n
        assert sol.stats["encoding"].startswith("clause form")
        for z, meets in zip(corners(n, values), truth, strict=True):
            assert satisfied(compiled.clauses, z, values) == meets, (z, compiled.clauses)
        accepted["yes" if any(truth) else "no"] += 1
        general = compile_to_cnf(problem, vectorised=False)
        assert "encoding" not in general.stats
    assert accepted["yes"] >= 40 and accepted["no"] >= 40, accepted
    assert declined >= 40


def test_many_outputs_vectorised_rows_agree_with_the_loop() -> None:
    """More than 32 outputs with integer targets take the int64 row test; it must give
    the loop's answer, and the CNF must still have exactly the witnesses as models."""
    rng = np.random.default_rng(33)
    seen = {"cnf": 0, "empty": 0, "declined": 0}
    outcomes = {"empty": 0, "need": 0, "none": 0}
    for i in range(320):
        n = int(rng.integers(1, 6))
        problem = random_problem(rng, n, q=int(rng.integers(33, 41)), delta_halves=i % 2)
        w2 = problem.network.layers[1].weight
        # the rows test on inputs near every boundary, both implementations
        m1, q = w2.shape[1], w2.shape[0]
        for relu_out, strict in itertools.product((False, True), repeat=2):
            delta = int(rng.integers(1 if strict else 0, 3))
            d = rng.integers(-3, 4, size=q)
            base = np.maximum(d, 0) if relu_out else d
            # targets within the interval the lower and upper ends allow (its ends
            # included), and in a third of the cases one row just outside; one unit
            # on lands at, just below or just above the upper end
            r = delta - int(strict)
            x = base + rng.integers(-r, r + 1, size=q)
            if rng.random() < 1 / 3:
                j = int(rng.integers(q))
                x[j] = base[j] + int(rng.choice([-1, 1])) * (r + 1)
            smallest = np.maximum(x + delta - d + rng.integers(-1, 2, size=q), 1)
            feeds = rng.random((q, m1)) < 0.3
            # as clause_form makes it: _NO_JUMP exactly on the rows nothing feeds
            jumps = np.where(feeds.any(axis=1), smallest.astype(float), _NO_JUMP)
            args = (d.astype(float), jumps, feeds)
            a = _clause_rows(*args, [int(v) for v in x], delta, relu_out, strict)
            b = _clause_rows_int(*args, [int(v) for v in x], delta, relu_out, strict)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                outcomes[("empty" if a[0] else "need") if a else "none"] += 1
                assert a[0] == b[0]
                assert a[0] or (a[1] == b[1]).all()
            else:
                outcomes["none"] += 1
        compiled = clause_form(problem)
        values = problem.domain.corner_values()
        truth = [problem.exact_check(z).meets for z in corners(n, values)]
        if compiled is None:
            seen["declined"] += 1
            continue
        seen["empty" if compiled.clauses == [[]] else "cnf"] += 1
        for z, meets in zip(corners(n, values), truth, strict=True):
            assert satisfied(compiled.clauses, z, values) == meets, (z, compiled.clauses)
    assert min(seen.values()) >= 10, seen
    assert min(outcomes.values()) >= 50, outcomes


def reference_check(problem: InversionProblem, z: list[int]) -> tuple[bool, Fraction]:
    """In the domain and within the threshold? and the exact p-th power (inf: max) of
    the distance, by plain Fraction arithmetic on the float64 parameters."""
    h = [Fraction(v) for v in z]
    for layer in problem.network.layers:
        out = []
        for row, b in zip(layer.weight.tolist(), layer.bias.tolist(), strict=True):
            terms = (Fraction(w) * x for w, x in zip(row, h, strict=True))
            s = Fraction(b) + sum(terms, Fraction(0))
            out.append(max(s, Fraction(0)) if layer.activation == "relu" else s)
        h = out
    diff = [abs(o - t) for o, t in zip(h, problem.target, strict=True)]
    if math.isinf(problem.p):
        dist = max(diff, default=Fraction(0))
        rhs = problem.threshold
    else:
        k = int(problem.p)
        dist = sum((v**k for v in diff), Fraction(0))
        rhs = problem.threshold**k
    within = dist <= rhs if problem.relation == "<=" else dist < rhs
    inside = problem.domain.contains([Fraction(v) for v in z])[0]
    return inside and within, dist


def test_integer_exact_check_matches_a_fraction_reference() -> None:
    """exact_check's all-integer path (ints throughout) against plain Fractions, with
    integer and fractional targets, p in {1, 2, 3, inf}, and latents off the domain."""
    rng = np.random.default_rng(404)
    paths = {"int": 0, "fraction": 0}
    for _ in range(200):
        n = int(rng.integers(1, 6))
        sizes = [n] + [int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 3)))]
        ws = [rng.integers(-4, 5, size=(b, a)) for a, b in itertools.pairwise(sizes)]
        bs = [rng.integers(-4, 5, size=b) for b in sizes[1:]]
        net = ReLUNetwork(ws, bs, final_activation=str(rng.choice(["relu", "identity"])))
        kind = str(rng.choice(["binary", "sign"]))
        q = sizes[-1]
        integral = rng.random() < 0.7
        target = [
            Fraction(int(v)) if integral else Fraction(int(v), 3)
            for v in rng.integers(-6, 7, size=q)
        ]
        p = float(rng.choice([1.0, 2.0, 3.0, math.inf]))
        delta = Fraction(int(rng.integers(0, 9)), int(rng.choice([1, 2])))
        rel: Any = "<" if delta > 0 and rng.random() < 0.3 else "<="
        problem = InversionProblem(net, target, Domain(kind), p=p, threshold=delta, relation=rel)
        values = [*Domain(kind).corner_values(), 2]  # 2: outside both domains
        for _ in range(4):
            z = [int(v) for v in rng.choice(values, size=n)]
            chk = problem.exact_check(z)
            meets, dist = reference_check(problem, z)
            assert chk.meets == meets
            assert chk.in_domain == (2 not in z)
            assert chk.distance_pow == dist
            paths["int" if integral else "fraction"] += 1
    assert min(paths.values()) >= 100, paths


def test_exact_check_memo_sees_replacements() -> None:
    """A second check of the same witness is answered from the memo, but a replaced
    target or threshold, or a different witness, is checked afresh."""
    net = ReLUNetwork([[[1, 1]], [[1]]], [[0], [0]], final_activation="identity")
    problem = InversionProblem(net, [2], Domain("binary"))
    z = [Fraction(1), Fraction(1)]
    first = problem.exact_check(z)
    assert first.meets and problem.exact_check(list(z)) is first
    assert not problem.exact_check([Fraction(1), Fraction(0)]).meets
    problem.target = (Fraction(1),)
    assert not problem.exact_check(z).meets
    problem.threshold = Fraction(1)
    assert problem.exact_check(z).meets


def test_theorem1_clause_form_is_the_formula_itself() -> None:
    rng = np.random.default_rng(7)
    for i in range(80):
        n = int(rng.integers(1, 12))
        odd = i % 4 == 0
        cnf = varied_cnf(rng, n, int(rng.integers(1, 6 * n)), odd, p_empty=0.03)
        problem, inv = SatReduction("sign").apply(cnf)
        compiled = clause_form(problem)
        assert compiled is not None
        rows = normalise_clauses(cnf).rows
        if any(len(r) == 0 for r in rows):
            assert compiled.clauses == [[]]
        elif rows:
            assert [sorted(c) for c in compiled.clauses] == [sorted(r) for r in rows]
        sol = solve(problem, "sat")
        assert (sol.status is Status.YES) == source_sat(cnf)
        if sol.status is Status.YES:
            assignment = SatReduction("sign").invert(sol, inv)
            assert assignment is not None and cnf.evaluate(assignment)


def test_clause_form_declines_other_shapes() -> None:
    ind = [[1, -1, 0], [0, 1, 1]]
    b = [0, -1]  # unit 0: z0 = 1, z1 = 0 (binary); unit 1: z1 = z2 = 1
    net = ReLUNetwork([ind, [[1, 1]]], [b, [0]])
    ok = InversionProblem(net, [0], Domain("binary"))
    assert clause_form(ok) is not None
    # l_2 threshold, three layers, real latents, fractional weight, a negative output
    # weight, a target that needs an indicator on: all go to the general encoder
    others = [
        InversionProblem(net, [0], Domain("binary"), p=2.0, threshold=Fraction(1, 2)),
        InversionProblem(ReLUNetwork([ind, [[1, 1]], [[1]]], [b, [0], [0]]), [0], Domain("binary")),
        InversionProblem(net, [0], Domain.box([-1] * 3, [1] * 3)),
        InversionProblem(ReLUNetwork([ind, [[1, 1]]], [b, ["1/2"]]), [0], Domain("binary")),
        InversionProblem(ReLUNetwork([ind, [[1, -1]]], [b, [0]]), [0], Domain("binary")),
        InversionProblem(net, [1], Domain("binary")),
        InversionProblem(ReLUNetwork([[[1, 1, 1]], [[1]]], [[0], [0]]), [0], Domain("binary")),
    ]
    for problem in others:
        assert clause_form(problem) is None
    # a target below every value the output can take: the empty clause
    below = InversionProblem(ReLUNetwork([ind, [[1, 1]]], [b, [2]]), [1], Domain("binary"))
    compiled = clause_form(below)
    assert compiled is not None and compiled.clauses == [[]]
    assert solve(below, "sat").status is Status.NO


def test_integer_exact_evaluation_matches_rationals() -> None:
    rng = np.random.default_rng(5)
    for _ in range(60):
        sizes = [int(v) for v in rng.integers(1, 6, size=int(rng.integers(2, 5)))]
        ws = [rng.integers(-5, 6, size=(b, a)) for a, b in itertools.pairwise(sizes)]
        bs = [rng.integers(-5, 6, size=b) for b in sizes[1:]]
        act = str(rng.choice(["relu", "identity"]))
        net = ReLUNetwork(ws, bs, final_activation=act)
        slow = ReLUNetwork(ws, bs, final_activation=act)
        slow._int_plan = None  # force the Fraction path
        z = [int(v) for v in rng.integers(-9, 10, size=sizes[0])]
        assert net._forward_int([Fraction(v) for v in z]) is not None
        assert net.forward_exact(z) == slow.forward_exact(z)
        half = [Fraction(2 * v + 1, 2) for v in z]  # non-integer latent: the Fraction path
        assert net._forward_int(half) is None
        assert net.forward_exact(half) == slow.forward_exact(half)
        # the cheap bounds (width x largest |w|) cover the row sums and the biases
        bounds = ReLUNetwork(ws, bs, final_activation=act).integer_bounds()
        plan = ReLUNetwork(ws, bs, final_activation=act).integer_layers()
        assert bounds is not None and plan is not None
        for (r, bmax), (sums, _, plan_b, _) in zip(bounds, plan, strict=True):
            assert r >= max(sums, default=0) and bmax == plan_b
    # the cheap bound passes 2^53 (2^14 inputs x 2^40), the row sums do not: float64
    wide = np.ones((1, 2**14))
    wide[0, 0] = 2.0**40
    net = ReLUNetwork([wide], [[0]], final_activation="identity")
    bounds = net.integer_bounds()
    assert bounds is not None and bounds[0][0] * 1 >= 2**53  # the cheap bound first
    z = [1] * 2**14
    assert net.forward_int(z) == [2**40 + 2**14 - 1]
    assert net.integer_plan_known  # the row sums were needed
    # partial sums between 2^53 and 2^62: the int64 path (float64 would round)
    mid = ReLUNetwork([[[2**30, -(2**30) + 1]], [[3]]], [[3], [-1]], final_activation="identity")
    z = [2**25, 0]
    first = 2**30 * z[0] + (-(2**30) + 1) * z[1] + 3
    assert 2**53 < first < 2**62
    assert mid._forward_int([Fraction(v) for v in z]) == [Fraction(3 * first - 1)]
    assert mid.forward_exact(z) == [Fraction(3 * first - 1)]
    # a product that could pass 2^62 falls back to Python integers, still exact
    big = ReLUNetwork([[[2**40, 2**40]], [[2**40]]], [[0], [0]])
    z = [2**21, 2**21]
    assert big._forward_int([Fraction(v) for v in z]) is None
    assert big.forward_exact(z) == [Fraction(2**102)]
    # sigmoid layers and non-integer weights never take the integer path
    assert ReLUNetwork([[[1]]], [[0]], final_activation="sigmoid").integer_layers() is None
    assert ReLUNetwork([[["1/3"]]], [[0]]).integer_layers() is None
    assert ReLUNetwork([[[0.5]]], [[0]]).integer_layers() is None


def test_clause_form_is_remembered_until_the_problem_changes() -> None:
    """auto asks clause_form before the sat backend compiles: one computation, and a
    replaced target (or network) is compiled afresh; compile_to_cnf hands out a copy."""
    ind = [[1, -1, 0], [0, 1, 1]]
    net = ReLUNetwork([ind, [[1, 1]]], [[0, -1], [0]])
    problem = InversionProblem(net, [0], Domain("binary"))
    first = clause_form(problem)
    assert first is not None and clause_form(problem) is first
    copy = compile_to_cnf(problem)
    assert copy is not first and copy.clauses == first.clauses
    copy.clauses.append([1])
    assert [1] not in first.clauses
    problem.target = (Fraction(1),)  # the lower end now needs a unit on: not the shape
    assert clause_form(problem) is None
    problem.target = (Fraction(0),)
    again = clause_form(problem)
    assert again is not None and again is not first and again.clauses == first.clauses
