"""The sat backend's encodings as pure functions over one shared variable pool.

Every encoding is checked against brute force: for *every* assignment of its
(small) inputs, the clauses must be satisfiable, and every defined output
literal must be forced to the value of the relation it encodes (so the clauses
hold iff the relation holds, and the auxiliary variables are functions of the
inputs).  The forcing is asked of a SAT solver under assumptions, one input
assignment at a time; the expected values are computed directly in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver

from geninv.errors import UnsupportedError
from geninv.solvers.sat.adders import (
    encode_at_most,
    encode_cost_bits,
    encode_full_adder,
    encode_half_adder,
    encode_reified_at_most,
    encode_weighted_sum,
)
from geninv.solvers.sat.cnf import _Cnf
from geninv.solvers.sat.common import _Timeout
from geninv.solvers.sat.encodings import (
    encode_and,
    encode_excluded_values,
    encode_or,
    encode_order_chain,
)
from geninv.solvers.sat.mdd import _SumMDD, _Term
from geninv.solvers.sat.pool import Clauses, VarPool
from geninv.solvers.sat.units import _Unit, encode_unit_ge, encode_unit_values

#: The literals an input assignment must force, with their values.
Expect = Callable[[dict[int, bool]], list[tuple[int, bool]]]


def value(lit: int, assignment: dict[int, bool]) -> bool:
    return assignment[abs(lit)] == (lit > 0)


def check_defines(
    pool: VarPool,
    clauses: Clauses,
    inputs: Sequence[int],
    expect: Expect,
    base: Sequence[Sequence[int]] = (),
) -> int:
    """For every assignment of ``inputs`` allowed by ``base``: the clauses are
    satisfiable and force each literal of ``expect(assignment)`` to its value."""
    checked = 0
    with Solver(name="minisat22", bootstrap_with=[[pool.true], *clauses]) as s:
        for bits in itertools.product((False, True), repeat=len(inputs)):
            assignment = dict(zip(inputs, bits, strict=True))
            if not all(any(value(x, assignment) for x in c) for c in base):
                continue
            assume = [v if b else -v for v, b in assignment.items()]
            assert s.solve(assumptions=assume), assignment
            for lit, want in expect({**assignment, pool.true: True}):
                assert not s.solve(assumptions=[*assume, -lit if want else lit]), (lit, want)
            checked += 1
    return checked


def holds(clauses: Clauses, assignment: dict[int, bool]) -> bool:
    return all(any(value(x, assignment) for x in c) for c in clauses)


# ------------------------------------------------------------------ the pool
def test_pool_fresh_named_and_rollback() -> None:
    pool = VarPool(3)
    assert pool.true == 4 and pool.top == 4
    a, b = pool.fresh(), pool.id("b")
    assert (a, b) == (5, 6) and pool.id("b") == 6 and pool.known("b") == 6
    mark = pool.mark()
    assert pool.id("c") == 7 and pool.fresh() == 8 and pool.count == 4
    pool.rollback(mark)
    assert pool.known("c") is None and pool.known("b") == 6
    assert pool.fresh() == 7 and pool.count == 3


def test_pool_cap_and_deadline() -> None:
    pool = VarPool(0, max_fresh=2)
    pool.fresh()
    pool.fresh()
    with pytest.raises(UnsupportedError, match="max_nodes = 2"):
        pool.fresh()
    late = VarPool(0, deadline=0.0)
    with pytest.raises(_Timeout):
        late.tick()
    for _ in range(1023):
        late.fresh()  # the deadline is read every 1024 ids
    with pytest.raises(_Timeout):
        late.fresh()


# ------------------------------------------------------------------ gates
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_or_and_define_their_gate(k: int) -> None:
    for negate in itertools.product((False, True), repeat=k):
        pool = VarPool(k)
        lits = [-(i + 1) if neg else i + 1 for i, neg in enumerate(negate)]
        v_or, c_or = encode_or(lits, pool)
        v_and, c_and = encode_and(lits, pool)
        assert len(c_or) == len(c_and) == (0 if k == 1 else k + 1)

        def expect(
            a: dict[int, bool], lits: list[int] = lits, o: int = v_or, n: int = v_and
        ) -> list[tuple[int, bool]]:
            vals = [value(x, a) for x in lits]
            return [(o, any(vals)), (n, all(vals))]

        assert check_defines(pool, c_or + c_and, range(1, k + 1), expect) == 2**k


def test_adders_define_sum_and_carry() -> None:
    pool = VarPool(3)
    s2, c2, half = encode_half_adder(1, -2, pool)
    s3, c3, full = encode_full_adder(1, 2, -3, pool)
    assert (len(half), len(full)) == (7, 14)

    def expect(a: dict[int, bool]) -> list[tuple[int, bool]]:
        x, y, z = a[1], not a[2], not a[3]
        return [(s2, x != y), (c2, x and y), (s3, (x + a[2] + z) % 2 == 1), (c3, x + a[2] + z >= 2)]

    assert check_defines(pool, half + full, [1, 2, 3], expect) == 8


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 13)), min_size=1, max_size=4))
def test_weighted_sum_bits_are_the_sum(terms: list[tuple[bool, int]]) -> None:
    n = len(terms)
    pool = VarPool(n)
    weighted = [(-(i + 1) if neg else i + 1, w) for i, (neg, w) in enumerate(terms)]
    bits, clauses = encode_weighted_sum(weighted, pool)

    def expect(a: dict[int, bool]) -> list[tuple[int, bool]]:
        total = sum(w for lit, w in weighted if value(lit, a))
        assert total < 2 ** len(bits)
        return [(b, bool((total >> i) & 1)) for i, b in enumerate(bits)]

    assert check_defines(pool, clauses, range(1, n + 1), expect) == 2**n


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_at_most_holds_iff_number_at_most_bound(width: int) -> None:
    pool = VarPool(width)
    bits = list(range(1, width + 1))
    for bound in range(2 ** (width + 1)):
        clauses = encode_at_most(bits, bound, -pool.true)
        for row in itertools.product((False, True), repeat=width):
            a = {i + 1: b for i, b in enumerate(row)} | {pool.true: True}
            number = sum(1 << i for i, b in enumerate(row) if b)
            assert holds(clauses, a) == (number <= bound), (bound, row)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_reified_at_most_is_one_directional(width: int) -> None:
    for bound in range(2**width):
        pool = VarPool(width)
        v, clauses = encode_reified_at_most(list(range(1, width + 1)), bound, pool)
        with Solver(name="minisat22", bootstrap_with=[[pool.true], *clauses]) as s:
            for row in itertools.product((False, True), repeat=width):
                assume = [i + 1 if b else -(i + 1) for i, b in enumerate(row)]
                number = sum(1 << i for i, b in enumerate(row) if b)
                assert s.solve(assumptions=[*assume, v]) == (number <= bound)
                assert s.solve(assumptions=[*assume, -v])


# ------------------------------------------------------------------ order encodings
def order_base(lits: Sequence[int]) -> Clauses:
    """The order chain of ``lits``: only consistent thermometers."""
    return encode_order_chain(lits)


def level(lits: Sequence[int], a: dict[int, bool]) -> int:
    """The index t of the value of an order-encoded H (``lits[t - 1] = [H >= d_t]``)."""
    return sum(value(x, a) for x in lits)


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_order_chain_holds_iff_thermometer(r: int) -> None:
    lits = list(range(1, r + 1))
    for row in itertools.product((False, True), repeat=r):
        a = {i + 1: b for i, b in enumerate(row)}
        assert holds(encode_order_chain(lits), a) == (list(row) == sorted(row, reverse=True))


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.lists(st.integers(-5, 9), min_size=2, max_size=5), st.integers(-1, 8))
def test_excluded_values_forbid_exactly_the_costly_ones(f: list[int], slack: int) -> None:
    r = len(f) - 1
    pool = VarPool(r)
    lits = list(range(1, r + 1))
    new_f, clauses = encode_excluded_values(lits, f, slack, pool)
    low = min(f)
    for t in range(r + 1):
        a = {i + 1: i < t for i in range(r)} | {pool.true: True}
        assert holds(clauses, a) == (f[t] - low <= slack)
        assert new_f[t] == (f[t] if f[t] - low <= slack else low)


# ------------------------------------------------------------------ sums of terms
term_costs = st.lists(st.integers(-6, 6), min_size=2, max_size=4)


def make_terms(costs: list[list[int]]) -> tuple[list[_Term], list[list[int]], int]:
    """Order-encoded terms on consecutive variables: values 0..r, cost lists ``costs``."""
    terms: list[_Term] = []
    groups: list[list[int]] = []
    nxt = 1
    for f in costs:
        lits = list(range(nxt, nxt + len(f) - 1))
        nxt += len(lits)
        terms.append(_Term(list(range(len(f))), lits, list(f)))
        groups.append(lits)
    return terms, groups, nxt - 1


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.lists(term_costs, min_size=1, max_size=3), st.integers(0, 2**16))
def test_mdd_roots_are_the_sum_thresholds(costs: list[list[int]], pick: int) -> None:
    terms, groups, n = make_terms(costs)
    pool = VarPool(n)
    mdd = _SumMDD(pool, terms)
    lo, hi = mdd.min, mdd.max
    clauses: Clauses = []
    roots: dict[int, int] = {}
    for k in range(lo - 1, hi + 2):  # every threshold, all roots over one memo
        (lit, klo, khi), cs = mdd.ge(k)
        clauses += cs
        roots[k] = lit
        # the class says where the same literal holds
        assert (klo is None or klo <= k) and (khi is None or k <= khi)
    base = [c for g in groups for c in order_base(g)]

    def expect(a: dict[int, bool]) -> list[tuple[int, bool]]:
        total = sum(t.f[level(g, a)] for t, g in zip(terms, groups, strict=True))
        return [(lit, total >= k) for k, lit in roots.items()]

    assert check_defines(pool, clauses, range(1, n + 1), expect, base) > 0


@settings(derandomize=True, max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 11), min_size=2, max_size=4), min_size=1, max_size=3))
def test_cost_bits_sum_to_the_cost(costs: list[list[int]]) -> None:
    terms, groups, n = make_terms(costs)
    pool = VarPool(n)
    weighted, offset, wsum, clauses = encode_cost_bits(terms, pool)
    bits, more = encode_weighted_sum(weighted, pool)
    assert wsum == sum(max(f) - min(f) for f in costs)
    base = [c for g in groups for c in order_base(g)]

    def expect(a: dict[int, bool]) -> list[tuple[int, bool]]:
        total = sum(f[level(g, a)] - min(f) for f, g in zip(costs, groups, strict=True))
        total -= offset  # the bits every value has
        return [(b, bool((total >> i) & 1)) for i, b in enumerate(bits)]

    assert check_defines(pool, clauses + more, range(1, n + 1), expect, base) > 0


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=4),
    st.integers(-4, 4),
    st.booleans(),
    st.sampled_from([(0, 1), (-1, 1)]),
)
def test_unit_values_and_thresholds(
    coef: list[int], bias: int, relu: bool, corner: tuple[int, int]
) -> None:
    """A unit ``max(sum c_i z_i + d, 0)`` (or affine) over latents: its value set is
    exactly the values it takes, and ``[H >= v]`` is forced for every v."""
    n = len(coef)
    pool = VarPool(n)
    terms = [_Term(list(corner), [i + 1], [c * v for v in corner]) for i, c in enumerate(coef)]
    unit = _Unit(pool, "unit", [t for t in terms if t.f[0] != t.f[1]], bias, Fraction(1), relu, 100)
    (values, lits), clauses = encode_unit_values(unit, unit.hmin)
    (pre_values, pre_lits), more = encode_unit_values(unit, unit.amin)
    clauses += more
    ge: dict[int, int] = {}
    for v in range(unit.hmin - 1, unit.hmax + 2):
        ge[v], more = encode_unit_ge(unit, v)
        clauses += more

    def h_of(a: dict[int, bool]) -> tuple[int, int]:
        s = bias + sum(c * corner[a[i + 1]] for i, c in enumerate(coef))
        return (max(s, 0) if relu else s), s

    rows = itertools.product((False, True), repeat=n)
    taken = {h_of(dict(enumerate(row, start=1))) for row in rows}
    assert values == sorted({h for h, _ in taken})
    assert pre_values == sorted({s for _, s in taken})

    def expect(a: dict[int, bool]) -> list[tuple[int, bool]]:
        h, s = h_of(a)
        out = [(lit, h >= v) for v, lit in ge.items()]
        for vals, ls, x in ((values, lits, h), (pre_values, pre_lits, s)):
            out += [(lit, x >= vals[t]) for t, lit in enumerate(ls, start=1)]
        return out

    assert check_defines(pool, clauses, range(1, n + 1), expect) == 2**n


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([1, -1, 2, -2, 3, -3, 4, -4]), max_size=5), max_size=6))
def test_store_extend_folds_like_add(clauses: list[list[int]]) -> None:
    """The clause store folds TRUE (variable 4 here), repeats and tautologies the
    same way whether clauses come one by one or as an encoding's list."""
    one, many = _Cnf(VarPool(3)), _Cnf(VarPool(3))
    for c in clauses:
        one.add(list(c))
    many.extend([list(c) for c in clauses])
    assert many.clauses == one.clauses
    assert (
        many.contradiction
        == one.contradiction
        == any(not [x for x in c if x != -4] and 4 not in c for c in clauses)
    )


def test_flat_nodes_chain_to_deeper_ones() -> None:
    """``sum x_i <= 1`` over 40 Booleans: the flat OR of each level reuses the one below
    (``OR(x_j, OR_{j+1})``), so the MDD stays linear (was one flat OR per level, quadratic)."""
    n = 40
    pool = VarPool(n)
    mdd = _SumMDD(pool, [_Term([0, 1], [i + 1], [0, 1]) for i in range(n)])
    (root, _, _), clauses = mdd.ge(2)
    assert len(clauses) <= 8 * n
    assert all(len(c) <= 3 for c in clauses)

    def expect(a: dict[int, bool]) -> list[tuple[int, bool]]:
        return [(root, sum(a[i] for i in range(1, n + 1)) >= 2)]

    with Solver(name="minisat22", bootstrap_with=[[pool.true], *clauses]) as s:
        for on in ([], [5], [3, 17], [1, 2, 40]):
            a = {i: i in on for i in range(1, n + 1)}
            assume = [i if b else -i for i, b in a.items()]
            ((lit, want),) = expect(a)
            assert s.solve(assumptions=assume)
            assert not s.solve(assumptions=[*assume, -lit if want else lit])
