"""The corner presolve (geninv.solvers.corners) against independent oracles.

* exact univariate functions: every single-support unit agrees with the
  network's exact forward pass at its breakpoints and at random points;
* Theorem 2 networks: corners (and auto, which picks it) agree with PySAT on
  random CNFs, YES witnesses lift to exact witnesses that map back to
  satisfying assignments, NO answers carry the binary proof;
* random box problems with separable forcing outputs: corners agrees with the
  milp backend on the original (unreduced) problem, YES and NO;
* it declines what it cannot handle, and auto then falls through to milp.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import geninv.solvers.corners.binary as corners_binary
import geninv.solvers.corners.pl as corners_pl
import geninv.solvers.corners.univariate as corners_univariate
from geninv.errors import UnsupportedError
from geninv.network import ReLUNetwork
from geninv.oracles import sat_oracle
from geninv.problem import Domain, InversionProblem, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.base import solve
from geninv.solvers.corners import (
    CONST,
    MULTI,
    _combine,
    _combine_int,
    _eval_pl,
    _float_layer_scan,
    _loop_supports,
    _PLCache,
    _relu_pl,
    _relu_pl_frac,
    corner_presolve,
    univariate_units,
)
from geninv.solvers.sat import clause_form

from .conftest import random_cnf


def frac(rng: np.random.Generator, lo: int, hi: int, den: int = 4) -> Fraction:
    return Fraction(int(rng.integers(lo * den, hi * den + 1)), den)


def pl_value(pl: tuple[list[Fraction], list[Fraction]], t: Fraction) -> Fraction:
    xs, ys = pl
    for k in range(len(xs)):
        if xs[k] == t:
            return ys[k]
        if k + 1 < len(xs) and xs[k] < t < xs[k + 1]:
            return ys[k] + (ys[k + 1] - ys[k]) * (t - xs[k]) / (xs[k + 1] - xs[k])
    raise AssertionError(f"{t} outside {xs[0]}..{xs[-1]}")


@pytest.mark.parametrize("seed", range(8))
def test_univariate_units_match_forward(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    widths = [n, *[int(w) for w in rng.integers(2, 6, size=int(rng.integers(1, 4)))]]
    weights, biases = [], []
    for a, b in itertools.pairwise(widths):
        w = rng.integers(-3, 4, size=(b, a)).astype(float)
        w[rng.random((b, a)) < 0.6] = 0.0  # sparse: many single-support units
        weights.append(w / 2)
        biases.append(rng.integers(-4, 5, size=b).astype(float) / 4)
    net = ReLUNetwork(weights, biases, final_activation="relu")
    lo = [frac(rng, -3, 0) for _ in range(n)]
    hi = [v + frac(rng, 0, 3) for v in lo]
    for upto in range(1, len(weights) + 1):
        sub = ReLUNetwork(weights[:upto], biases[:upto], final_activation="relu")
        support, funcs, consts = univariate_units(net, lo, hi, upto)
        for j, s in enumerate(support):
            if s == MULTI:
                continue
            z = [lo[i] + (hi[i] - lo[i]) * Fraction(int(rng.integers(0, 9)), 8) for i in range(n)]
            if s == CONST:
                assert sub.forward_exact(z)[j] == consts[j]
                continue
            f = funcs[j]
            assert f is not None
            pts = list(f[0]) + [
                lo[s] + (hi[s] - lo[s]) * Fraction(int(rng.integers(0, 17)), 16) for _ in range(5)
            ]
            for t in pts:
                z[s] = t
                assert sub.forward_exact(z)[j] == pl_value(f, t), (j, s, t)


@pytest.mark.parametrize("seed", range(4))
def test_theorem2_agrees_with_pysat(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    answers = {True: 0, False: 0}
    for _ in range(30):
        n = int(rng.integers(3, 11))
        cnf = random_cnf(rng, n, int(rng.integers(2 * n, 9 * n)))
        truth = bool(sat_oracle(cnf))
        red = SatReduction("real")
        problem, inv = red.apply(cnf)
        pre = corner_presolve(problem)
        assert pre is not None and pre.infeasible is None and pre.binary is not None
        assert pre.binary.domain.kind == "binary" and pre.binary.n == problem.n
        # the two clamp layers fold away on {0,1}^n: the clause rows read b directly,
        # and the sat backend's clause form gives the formula back
        assert pre.folded_layers == 2 and pre.binary.network.depth == 2
        assert clause_form(pre.binary) is not None
        sol = solve(problem, "corners")
        assert sol.status is (Status.YES if truth else Status.NO), cnf
        if truth:
            assert sol.z is not None and problem.exact_check(sol.z).meets
            assignment = red.invert(sol, inv)
            assert assignment is not None
            assert all(
                any(assignment[abs(lit) - 1] == (lit > 0) for lit in clause)
                for clause in cnf.clauses
            )
        else:
            assert sol.proof is not None and sol.proof["binary_proof"]
        auto = solve(problem, "auto")
        assert auto.status is sol.status and auto.method == "corners"
        answers[truth] += 1
    assert answers[True] >= 5 and answers[False] >= 5, answers


def separable_problem(
    rng: np.random.Generator, equal: bool, mode: str, den: int = 4
) -> tuple[InversionProblem, list[Fraction]]:
    """A box problem: output 0 = sum_i (a_i ReLU(z_i - m_i) + b_i ReLU(m_i - z_i)), others random.

    With ``equal`` the gadget is maximal at both ends of [lo_i, hi_i], otherwise
    at one; output 0's target is the sum of the maxima (``mode`` "max"), one
    more than that ("over": infeasible), or the value at a random point ("mid").
    Returns the problem and a point of the gadget's argmax set.
    """
    n = int(rng.integers(2, 6))
    lo = [frac(rng, -2, 0, den) for _ in range(n)]
    hi = [v + frac(rng, 1, 3, den) for v in lo]
    mid = [a + (b - a) * Fraction(int(rng.integers(1, 4)), 4) for a, b in zip(lo, hi, strict=True)]
    if den == 1:  # integers throughout (the float64 fast paths)
        mid = [Fraction(round(v)) for v in mid]
    h = int(rng.integers(2, 6))
    w1 = [[Fraction(0)] * n for _ in range(2 * n)]
    b1: list[Fraction] = []
    for i in range(n):
        w1[2 * i][i] = Fraction(1)
        w1[2 * i + 1][i] = Fraction(-1)
        b1 += [-mid[i], mid[i]]
    other = rng.integers(-2, 3, size=(h, n))
    w1 += [[Fraction(int(v)) for v in row] for row in other]
    b1 += [frac(rng, -1, 1, den) for _ in range(h)]
    gadget: list[Fraction] = []
    best: list[Fraction] = []
    witness: list[Fraction] = []
    for i in range(n):
        if equal:
            a, b = mid[i] - lo[i], hi[i] - mid[i]
        else:
            a, b = frac(rng, 1, 2, den), frac(rng, 1, 2, den)
        gadget += [a, b]
        at_lo, at_hi = b * (mid[i] - lo[i]), a * (hi[i] - mid[i])
        best.append(max(at_lo, at_hi))
        choices = [v for v, val in ((lo[i], at_lo), (hi[i], at_hi)) if val == best[-1]]
        witness.append(choices[int(rng.integers(0, len(choices)))])
    q = int(rng.integers(1, 4))
    w2 = [gadget + [Fraction(0)] * h]
    w2 += [[Fraction(0)] * (2 * n) + [Fraction(int(v)) for v in rng.integers(-2, 3, size=h)]]
    w2 += [[Fraction(int(v)) for v in rng.integers(-1, 2, size=2 * n + h)] for _ in range(q - 1)]
    b2 = [Fraction(0)] + [frac(rng, -1, 1, den) for _ in range(q)]
    net = ReLUNetwork([w1, w2], [b1, b2])
    point = witness if mode != "mid" else [frac(rng, -2, 2, den) for _ in range(n)]
    point = [min(max(v, a), b) for v, a, b in zip(point, lo, hi, strict=True)]
    target = net.forward_exact(point)
    if mode == "max":
        target[0] = sum(best, Fraction(0))
    elif mode == "over":
        target[0] = sum(best, Fraction(0)) + 1
    if rng.random() < 0.3:
        target[-1] += Fraction(1, 2)  # usually breaks the other outputs: a NO instance
    return InversionProblem(net, target, Domain.box(lo, hi)), witness


@pytest.mark.parametrize("seed", range(6))
def test_separable_box_problems_agree_with_milp(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    seen = {"yes": 0, "no": 0, "declined": 0}
    for k in range(12):
        mode = ["max", "max", "over", "mid"][k % 4]
        problem, _ = separable_problem(rng, bool(k % 3), mode)
        ref = solve(problem, "milp", time_limit=60, trust_solver=True)  # HiGHS's own word
        assert ref.status is not Status.UNKNOWN, ref.reason
        try:
            got = solve(problem, "corners", time_limit=60)
        except UnsupportedError:
            seen["declined"] += 1
            assert mode == "mid" or corner_presolve(problem) is None
            continue
        assert got.status is ref.status, (mode, got.proof, ref.proof)
        if got.status is Status.YES:
            assert got.z is not None and problem.exact_check(got.z).meets
            seen["yes"] += 1
        else:
            assert got.proof is not None
            seen["no"] += 1
        if mode == "over":
            assert got.status is Status.NO
            assert got.proof is not None and "out of range" in got.proof["kind"]
    assert seen["yes"] and seen["no"], seen


def test_declines_what_it_cannot_handle() -> None:
    rng = np.random.default_rng(7)
    net = ReLUNetwork(
        [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))], [np.zeros(4), np.zeros(2)]
    )
    x = net.forward(np.array([0.5, -0.5, 0.25]))
    box = Domain.box([-1] * 3, [1] * 3)
    dense = InversionProblem(net, [Fraction(float(v)) for v in x], box)
    assert corner_presolve(dense) is None  # no separable output
    with pytest.raises(UnsupportedError):
        solve(dense, "corners")
    assert solve(dense, "auto", time_limit=60).method == "milp"
    approx = InversionProblem(net, [Fraction(float(v)) for v in x], box, p="inf", threshold=0.1)
    assert corner_presolve(approx) is None
    binary = InversionProblem(net, [Fraction(float(v)) for v in x], Domain("binary"))
    assert corner_presolve(binary) is None


def test_float_binary_problem_equals_the_fraction_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """For integer networks and corners the binary problem is built in float64; it must be
    the very problem the Fraction path builds (weights, zeros, targets, pruning, folds)."""
    rng = np.random.default_rng(909)
    problems: list[InversionProblem] = []
    for _ in range(40):
        n = int(rng.integers(3, 9))
        cnf = random_cnf(rng, n, int(rng.integers(2 * n, 8 * n)))
        problems.append(SatReduction("real").apply(cnf)[0])
    for k in range(80):
        mode = ["max", "max", "mid"][k % 3]
        problems.append(separable_problem(rng, bool(k % 2), mode, den=1)[0])
    # the kept output (a ReLU with a negative target: not forcing) reads no unit at
    # all: pruning keeps one unit of the layer below
    net = ReLUNetwork([[[1], [-1]], [[1, 0], [0, 0]]], [[1, 1], [0, 3]])
    problems.append(InversionProblem(net, [2, -1], Domain.box([-1], [1])))
    fast_used = 0
    folds: set[int] = set()
    for problem in problems:
        fast = corner_presolve(problem)
        with monkeypatch.context() as m:
            m.setattr(corners_binary, "_binary_problem_float", lambda *_: None)
            slow = corner_presolve(problem)
        if fast is None or fast.binary is None:
            assert slow is None or slow.binary is None
            continue
        assert slow is not None and slow.binary is not None
        used = corners_binary._binary_problem_float(problem, fast) is not None
        fast_used += used
        if used:  # 0: substituted in layer 0; 2: the Theorem 2 clamps folded from pre.units
            folds.add(fast.folded_layers)
        for attr in ("low", "high", "dropped_outputs", "pruned_units", "folded_layers"):
            assert getattr(fast, attr) == getattr(slow, attr), attr
        a, b = fast.binary, slow.binary
        assert a.target == b.target and a.domain == b.domain and a.p == b.p
        assert a.network.activations == b.network.activations
        for la, lb in zip(a.network.layers, b.network.layers, strict=True):
            assert la.exact_weight is None and lb.exact_weight is None
            assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
            assert not np.signbit(la.weight[la.weight == 0]).any()
    assert fast_used >= 60, fast_used
    assert folds >= {0, 1, 2}, folds


@pytest.mark.parametrize("products", ["float64", "int64"])
def test_float_supports_match_the_loop(products: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole-array support rule gives what the loop over exact rows gives (both the
    matrix-vector products and the int64 fallback for huge layers)."""
    if products == "int64":
        monkeypatch.setattr(corners_univariate, "_SCAN_PRODUCTS_BELOW", 0)
    rng = np.random.default_rng(77)
    kinds = {CONST: 0, MULTI: 0, "latent": 0}
    single = 0
    for _ in range(300):
        n_in, m = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        w = rng.integers(-2, 3, size=(m, n_in)).astype(float)
        w[rng.random((m, n_in)) < 0.5] = 0.0
        layer = ReLUNetwork([w], [np.zeros(m)]).layers[0]
        support = [int(v) for v in rng.choice([CONST, MULTI, 0, 1, 2, 3], size=n_in)]
        got, one_rows, one_cols = _float_layer_scan(layer.weight, support)
        assert got == _loop_supports(layer.exact_rows(), support)
        # the rows reading exactly one input, whose support is a latent, with that input
        want = [
            (j, idx[0])
            for j, (idx, _) in enumerate(layer.exact_rows())
            if len(idx) == 1 and support[idx[0]] >= 0
        ]
        assert list(zip(one_rows.tolist(), one_cols.tolist(), strict=True)) == want
        single += bool((np.count_nonzero(w, axis=1) <= 1).all())  # the no-mixing shortcut
        for s in got:
            kinds[s if s < 0 else "latent"] += 1
        rows = [int(j) for j in rng.choice(m, size=int(rng.integers(0, m + 1)), replace=False)]
        fresh = ReLUNetwork([w], [np.zeros(m)]).layers[0]
        assert fresh.exact_rows_at(rows) == [layer.exact_rows()[j] for j in rows]
    assert min(kinds.values()) >= 100, kinds
    assert single >= 30, single


def test_integer_combination_matches_the_fraction_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sums of several integer functions in Python ints give the Fraction path's
    breakpoints and values, or None where an interpolated value is not an integer."""
    rng = np.random.default_rng(79)
    outcomes = {"ints": 0, "declined": 0}
    for _ in range(400):
        lo = int(rng.integers(-3, 1))
        terms = []
        for _ in range(int(rng.integers(2, 4))):
            xs = sorted({lo, *(lo + int(v) for v in rng.integers(0, 6, size=rng.integers(0, 4)))})
            ys = [Fraction(int(v)) for v in rng.integers(-4, 5, size=len(xs))]
            terms.append((Fraction(int(rng.integers(-2, 3))), ([Fraction(x) for x in xs], ys)))
        c = Fraction(int(rng.integers(-3, 4)))
        fast = _combine_int(terms, c, Fraction(lo))
        with monkeypatch.context() as m:
            m.setattr(corners_pl, "_combine_int", lambda *_: None)
            slow = _combine(terms, c, Fraction(lo))
        if fast is None:
            outcomes["declined"] += 1
            # some function's value at a breakpoint of another is no integer
            points = sorted({x for _, (px, _) in terms for x in px} | {Fraction(lo)})
            assert any(v.denominator != 1 for _, pl in terms for v in _eval_pl(pl, points))
        else:
            outcomes["ints"] += 1
            assert fast == slow
    assert min(outcomes.values()) >= 50, outcomes


def test_one_term_combination_matches_the_general_one() -> None:
    """The one-function shortcut of _combine gives the general path's breakpoints and
    values (a second term of weight 0 forces the general path)."""
    rng = np.random.default_rng(78)
    ints = 0
    for i in range(400):
        den = 1 if i % 2 else 4  # integers take the int-arithmetic paths
        lo = frac(rng, -3, 0, den)
        xs = sorted({lo, *(lo + frac(rng, 0, 4, den) for _ in range(int(rng.integers(0, 5))))})
        ys = [frac(rng, -2, 2, den=1 if den == 1 else 2) for _ in xs]
        relu = _relu_pl((xs, ys))
        assert relu == _relu_pl_frac(xs, ys)  # the int path against the Fraction one
        pl = relu if rng.random() < 0.5 else (xs, ys)
        w, c = frac(rng, -2, 2, den), frac(rng, -2, 2, den)
        one = _combine([(w, pl)], c, lo)
        assert one == _combine([(w, pl), (Fraction(0), pl)], c, lo)
        # the cache's own int path (one term, then its ReLU) gives the same functions
        assert _PLCache().combine([(w, pl)], c, lo) == one
        assert _PLCache().combine([(w, pl)], c, lo, relu=True) == _relu_pl(one)
        ints += all(v.denominator == 1 for v in (*pl[0], *pl[1], w, c))
    assert ints >= 100, ints
