"""The exact l_p comparison (geninv.exact) and its users: exact_check, certify,
``geninv check`` and the enumerate backend (issue 14, requirement 2).

The oracle for non-integer p is independent of geninv.exact: for entries
``r = m^e s^b`` (``e`` in {0, 1}, ``m`` squarefree) and ``p = a/b`` every term is
a rational multiple of 1 or of ``mu = m^(rem/b)`` (``rem = a mod b``), so
``S - delta^p = alpha + beta mu`` with rational alpha, beta, whose sign Python
integers decide (``|alpha|^b`` against ``|beta|^b m^rem``).
"""

from __future__ import annotations

import json
import math
import random
from decimal import Context, Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geninv.exact
from geninv.cli import main
from geninv.exact import (
    compare_lp,
    exact_root,
    float_down,
    float_up,
    iroot,
    power_bounds,
    radical_tie,
)
from geninv.io.instance import save_instance
from geninv.network import ReLUNetwork
from geninv.problem import (
    Domain,
    InversionProblem,
    Relation,
    Solution,
    Status,
    certify,
    compare_exact,
)
from geninv.solvers.base import solve
from geninv.solvers.enumerate import enumerate_corners

F = Fraction
X = [F(9, 7), F(16, 7), F(25, 7)]  # 9^1.5 + 16^1.5 + 25^1.5 = 36^1.5
RELS: tuple[Relation, ...] = ("<=", "<")


def zero_net(q: int) -> ReLUNetwork:
    """G = 0: one latent, q outputs."""
    return ReLUNetwork([np.zeros((q, 1))], [np.zeros(q)], final_activation="identity")


def problem(x: list[Fraction], p: float, delta: Fraction, rel: Relation) -> InversionProblem:
    return InversionProblem(
        zero_net(len(x)), x, Domain("binary"), p=p, threshold=delta, relation=rel
    )


# ------------------------------------------------------------------ the failing examples
@pytest.mark.parametrize("method", ["auto", "enumerate"])
def test_issue_example_tie_with_strict_relation_is_no(method: str) -> None:
    sol = solve(problem(X, 1.5, F(36, 7), "<"), method)
    assert sol.status is Status.NO
    assert sol.proof is not None and sol.proof["kind"] == "exhaustive enumeration"


@pytest.mark.parametrize("method", ["auto", "enumerate"])
def test_issue_example_doubled_tie_with_le_is_yes(method: str) -> None:
    sol = solve(problem([2 * v for v in X], 1.5, F(72, 7), "<="), method)
    assert sol.status is Status.YES and sol.check is not None
    assert sol.check.meets and sol.check.decided and "exact tie" in sol.check.method
    assert sol.check.distance == pytest.approx(72 / 7, rel=1e-15)


def test_issue_example_optimize_mode() -> None:
    lt = enumerate_corners(problem(X, 1.5, F(36, 7), "<"), mode="optimize")
    assert lt.status is Status.NO  # the minimiser ties: optimize reruns in decide mode
    assert lt.stats["optimize"]["min_distance"] == pytest.approx(36 / 7)
    le = enumerate_corners(problem(X, 1.5, F(36, 7), "<="), mode="optimize")
    assert le.status is Status.YES
    below = enumerate_corners(problem(X, 1.5, F(36, 7) - F(1, 10**30), "<="), mode="optimize")
    assert below.status is Status.NO and below.stats["mode"] == "optimize"


def _cli_check(tmp_path: Path, prob: InversionProblem, name: str) -> int:
    """``geninv check`` of the witness z = (0) on a saved copy of ``prob``."""
    inst = save_instance(prob, tmp_path / name)
    w = tmp_path / f"{name}.json"
    w.write_text(json.dumps({"z": [0]}))
    return main(["check", str(inst), str(w)])


def test_cli_check_at_exact_ties(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli_check(tmp_path, problem(X, 1.5, F(36, 7), "<"), "lt")
    out = capsys.readouterr().out
    assert code == 1 and "does not meet" in out, out
    code = _cli_check(tmp_path, problem([2 * v for v in X], 1.5, F(72, 7), "<="), "le")
    out = capsys.readouterr().out
    assert code == 0 and "meets" in out and "exact tie" in out, out


# ------------------------------------------------------------------ undecided, never a guess
def near_tie_threshold(values: list[int], p: Fraction, digits: int) -> Fraction:
    """A rational within about 10^-digits (relative) of (sum values^p)^(1/p)."""
    ctx = Context(prec=digits)
    pd = ctx.divide(Decimal(p.numerator), Decimal(p.denominator))
    s = Decimal(0)
    for v in values:  # every operation in ctx (the default context has 28 digits)
        s = ctx.add(s, ctx.exp(ctx.multiply(pd, ctx.ln(Decimal(v)))))
    return F(ctx.exp(ctx.divide(ctx.ln(s), pd)))


def test_float_p_near_tie_is_undecided_not_a_guess() -> None:
    p = F(2.2)  # 2476979795053773 / 1125899906842624
    delta = near_tie_threshold([1, 2], p, 400)
    for rel in RELS:
        c = compare_lp([1, -2], 2.2, delta, rel, digits_cap=160)
        assert not c.decided and c.meets is None
        assert "not an exact tie" in c.reason and "160" in c.reason
        assert c.distance == pytest.approx(float(delta))
    # more digits decide it, and both relations agree away from a tie
    up = compare_lp([1, -2], 2.2, delta, "<=", digits_cap=640)
    assert up.decided and up.method == "interval arithmetic, 640 digits"
    assert compare_lp([1, -2], 2.2, delta, "<", digits_cap=640).meets == up.meets


def test_float_p_near_tie_through_solve_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    delta = near_tie_threshold([1, 2], F(2.2), 1400)  # beyond the 1280-digit cap
    prob = problem([F(1), F(2)], 2.2, delta, "<=")
    for method in ("enumerate", "auto"):
        sol = solve(prob, method)
        assert sol.status is Status.UNKNOWN, (method, sol.status)
        assert sol.reason is not None and "not an exact tie" in sol.reason
    chk = prob.exact_check([F(0)])
    assert not chk.meets and not chk.decided and chk.reason.startswith("undecided")
    doc = chk.to_json()
    assert doc["decided"] is False and doc["meets_threshold"] is False
    assert {"in_domain", "distance", "method", "reason"} <= set(doc)
    # certify: a backend's "yes" whose check is undecided becomes unknown
    sol = certify(prob, Solution(Status.YES, "test", z=[F(1)]))
    assert sol.status is Status.UNKNOWN and sol.reason is not None and "undecided" in sol.reason
    # geninv check refuses the witness, saying why
    code = _cli_check(tmp_path, prob, "near")
    out = capsys.readouterr().out
    assert code == 1 and "undecided" in out and "does not meet" not in out, out


def test_exact_bit_cap_gives_undecided() -> None:
    tie, why = radical_tie(X, F(36, 7), F(3, 2), bits_cap=8)
    assert tie is None and "8 bits" in why
    c = compare_lp(X, 1.5, F(36, 7), "<=", digits_cap=80, exact_bits_cap=8)
    assert not c.decided and "agree to 80 digits" in c.reason
    meets, _, _, method = compare_exact(X, 1.5, F(36, 7), "<=")
    assert meets and "exact tie" in method


# ------------------------------------------------------------------ ties by construction
def _tie_cases(rng: random.Random) -> list[tuple[Fraction, list[Fraction], Fraction]]:
    """(p, entries, delta) with sum entries^p == delta^p exactly, scaled by rationals."""
    cases = []
    for _ in range(6):
        c = F(rng.randint(1, 10**6), rng.randint(1, 10**6)) * F(10) ** rng.randint(-300, 300)
        base = [
            (F(3, 2), [9, 16, 25], 36),  # 3^3 + 4^3 + 5^3 = 6^3
            (F(3, 2), [1, 36, 64], 81),  # 1^3 + 6^3 + 8^3 = 9^3
            (F(3, 2), [1] * 8, 4),  # 8 = 2^3
            (F(4, 3), [1] * 16, 8),  # 16 = 2^4
            (F(5, 2), [1] * 32, 4),  # 32 = 2^5
        ][rng.randrange(5)]
        p, ents, d = base
        entries = [c * e for e in ents] + [F(0)] * rng.randint(0, 3)
        rng.shuffle(entries)
        entries = [v if rng.random() < 0.5 else -v for v in entries]
        cases.append((p, entries, c * d))
    return cases


@pytest.mark.parametrize("path", ["integer", "decimal"])
def test_constructed_ties_both_relations(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if path == "decimal":  # every enclosure through Decimal ln/exp instead of integer roots
        monkeypatch.setattr(geninv.exact, "INT_ROOT_MAX", 1)
    rng = random.Random(14)
    for p, entries, delta in _tie_cases(rng):
        pf: float | Fraction = float(p) if p.denominator == 2 else p
        le = compare_lp(entries, pf, delta, "<=")
        lt = compare_lp(entries, pf, delta, "<")
        assert le.decided and le.meets is True, (p, le)
        assert lt.decided and lt.meets is False, (p, lt)
        assert le.distance == pytest.approx(float(delta), rel=1e-14)
        eps = delta / 10**40  # near-ties, 1e-40 relative, either side
        assert compare_lp(entries, pf, delta + eps, "<").meets is True
        assert compare_lp(entries, pf, delta - eps, "<=").meets is False
        bumped = [entries[0] * (1 + F(1, 10**40)), *entries[1:]]
        if entries[0]:
            assert compare_lp(bumped, pf, delta, "<=").meets is False


def test_constructed_ties_through_enumerate() -> None:
    rng = random.Random(7)
    for p, entries, delta in _tie_cases(rng)[:3]:
        if p.denominator != 2:
            continue  # InversionProblem stores p as a float
        wants: list[tuple[Relation, Status]] = [("<=", Status.YES), ("<", Status.NO)]
        for rel, want in wants:
            sol = enumerate_corners(problem(entries, float(p), delta, rel))
            assert sol.status is want, (p, entries, rel, sol.reason)


def test_zero_distance_and_zero_threshold() -> None:
    assert compare_lp([0, 0], 1.5, F(0), "<=").meets is True
    assert compare_lp([0, F(1, 10**300)], 1.5, F(0), "<=").meets is False
    assert compare_lp([0, 0], 1.5, F(1, 10**300), "<").meets is True
    assert compare_lp([], F(7, 3), F(1), "<").meets is True


def test_integer_and_inf_paths_unchanged() -> None:
    d = [F(3), F(-4)]
    assert compare_lp(d, 2.0, F(5), "<=").meets and not compare_lp(d, 2.0, F(5), "<").meets
    assert compare_lp(d, F(2), F(5), "<=", threshold_pow=F(25)).distance_pow == 25
    assert (
        compare_lp(d, math.inf, F(4), "<=").meets and not compare_lp(d, math.inf, F(4), "<").meets
    )
    assert compare_lp([10**400], 1.0, F(1), "<=").distance == math.inf
    with pytest.raises(Exception, match="integer p"):
        compare_lp(d, 1.5, F(5), "<=", threshold_pow=F(11))


# ------------------------------------------------------------------ independent oracle
SQUAREFREE = (2, 3, 5, 6, 7, 10)


def oracle_sign(
    ents: list[tuple[int, Fraction]], thr: tuple[int, Fraction], a: int, b: int, m: int
) -> int:
    """sign(sum r^(a/b) - T^(a/b)) for r = m^e s^b, in exact rationals and ints."""
    q, rem = divmod(a, b)
    alpha = F(0)
    beta = F(0)
    for sign, (e, s) in [(1, t) for t in ents] + [(-1, thr)]:
        if e == 0:
            alpha += sign * s**a
        else:
            beta += sign * F(m) ** q * s**a
    if beta == 0 or alpha == 0:
        return (alpha > 0) - (alpha < 0) if beta == 0 else (beta > 0) - (beta < 0)
    if (alpha > 0) == (beta > 0):
        return 1 if alpha > 0 else -1
    lhs, rhs = abs(alpha) ** b, abs(beta) ** b * F(m) ** rem  # alpha^b vs (beta mu)^b
    return (1 if lhs > rhs else -1) if alpha > 0 else (1 if rhs > lhs else -1)


small = st.fractions(min_value=F(1, 6), max_value=F(40), max_denominator=6)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    b=st.sampled_from([2, 3]),
    k=st.integers(1, 9),
    m=st.sampled_from(SQUAREFREE),
    ents=st.lists(st.tuples(st.integers(0, 1), small), min_size=1, max_size=6),
    thr=st.tuples(st.integers(0, 1), small),
    zeros=st.integers(0, 2),
    scale=st.tuples(st.integers(1, 10**9), st.integers(-300, 300)),
    rel=st.sampled_from(RELS),
)
def test_matches_integer_oracle(
    b: int,
    k: int,
    m: int,
    ents: list[tuple[int, Fraction]],
    thr: tuple[int, Fraction],
    zeros: int,
    scale: tuple[int, int],
    rel: Relation,
) -> None:
    a = b + k
    if math.gcd(a, b) != 1:
        a += 1
    p = F(a, b)
    c = F(scale[0]) * F(10) ** scale[1]  # (c r)^p = c^p r^p: the sign does not move
    diff = [c * F(m) ** e * s**b for e, s in ents] + [F(0)] * zeros
    delta = c * F(m) ** thr[0] * thr[1] ** b
    want = oracle_sign(ents, thr, a, b, m)
    got = compare_lp(diff, float(p) if b == 2 else p, delta, rel)
    assert got.decided, got
    assert got.meets is (want < 0 or (want == 0 and rel == "<=")), (want, got)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    vals=st.lists(st.fractions(min_value=0, max_value=F(10**6), max_denominator=10**4), max_size=5),
    p=st.sampled_from([1.25, 1.5, 2.5, 3.75, 1.1, 2.2, math.pi]),
    t=st.fractions(min_value=F(1, 1000), max_value=F(10**6), max_denominator=1000),
)
def test_enclosure_and_large_gap_agree_with_high_precision(
    vals: list[Fraction], p: float, t: Fraction
) -> None:
    """Against 100-digit Decimal powers: whenever the gap is far above their error."""
    pf = F(p)
    bounds = power_bounds(vals, pf, 40)
    assert bounds is not None and bounds[0] <= bounds[1]
    ctx = Context(prec=100)
    pd = ctx.divide(Decimal(pf.numerator), Decimal(pf.denominator))

    def power(v: Fraction) -> Decimal:
        ln = ctx.subtract(ctx.ln(Decimal(v.numerator)), ctx.ln(Decimal(v.denominator)))
        return ctx.exp(ctx.multiply(pd, ln))

    s = Decimal(0)
    for v in vals:
        if v:
            s = ctx.add(s, power(v))
    tol = F(1, 10**35) * (1 + F(s))
    assert bounds[0] - tol <= F(s) <= bounds[1] + tol
    assert bounds[1] - bounds[0] <= F(1, 10**30) * (1 + F(s))
    gap = F(s) - F(power(t))
    if abs(gap) > F(1, 10**50) * (1 + F(s)):
        c = compare_lp(vals, p, t, "<=")
        assert c.decided and c.meets is (gap < 0)


# ------------------------------------------------------------------ helpers
@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    n=st.integers(1, 10**30),
    d=st.integers(1, 10**30),
    e=st.integers(-1200, 1200),
    neg=st.booleans(),
)
def test_directed_rounding(n: int, d: int, e: int, neg: bool) -> None:
    x = F(n, d) * F(2) ** e * (-1 if neg else 1)
    lo, hi = float_down(x), float_up(x)
    assert lo <= hi
    if math.isfinite(lo):
        assert F(lo) <= x
    else:
        assert lo == -math.inf and x < -(F(2) ** 1023)
    if math.isfinite(hi):
        assert F(hi) >= x
    else:
        assert hi == math.inf and x > F(2) ** 1023
    if math.isfinite(lo) and math.isfinite(hi):
        assert hi == lo or math.nextafter(lo, math.inf) == hi


def test_directed_rounding_edges() -> None:
    big = F(10) ** 400
    assert float_up(big) == math.inf and float_down(big) == 1.7976931348623157e308
    assert float_down(-big) == -math.inf and float_up(-big) == -1.7976931348623157e308
    tiny = F(1, 10**400)
    assert float_down(tiny) == 0.0 and float_up(tiny) == 5e-324
    assert float_down(-tiny) == -5e-324 and float_up(-tiny) == 0.0
    half = F(3, 2**1075)  # between the two smallest subnormals
    assert float_down(half) == 5e-324 and float_up(half) == 1e-323
    assert float_up(F(1, 3)) > 1 / 3 >= float_down(F(1, 3))
    assert float_up(F(0.1)) == 0.1 == float_down(F(0.1))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(n=st.integers(0, 10**80), k=st.integers(1, 70))
def test_iroot(n: int, k: int) -> None:
    r = iroot(n, k)
    assert r**k <= n < (r + 1) ** k
    assert exact_root(F(r**k, 7**k), k) == F(r, 7)
    if n > 1 and r**k != n:
        assert exact_root(F(n), k) is None
    assert iroot(n, 2**60) == (1 if n else 0)
