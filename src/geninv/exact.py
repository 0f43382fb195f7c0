"""Exact comparison of an l_p distance with a threshold, for every p >= 1.

Every yes/no that rests on ``||d||_p (<= or <) delta`` goes through
:func:`compare_lp`: the exact re-check of a witness
(:meth:`geninv.problem.InversionProblem.exact_check`), ``geninv check``, and the
backends that decide the threshold themselves.  It answers *decided* (with
``meets``) or *undecided* with the reason -- never a guess.

p = inf and integer p
---------------------
``max |d_i|`` against ``delta``, and ``sum |d_i|^k`` against ``delta^k`` (or the
given ``threshold_pow``), in exact rational (Python int when possible)
arithmetic.

Other p: interval arithmetic
----------------------------
``p`` is taken at its exact rational value ``a/b`` in lowest terms (a float p
is the binary fraction it holds: ``Fraction(1.5) = 3/2``, ``Fraction(2.2) =
2476979795053773/1125899906842624``), ``b >= 2``.  Each ``r^p`` (``r = n/m > 0``
one ``|d_i|`` or ``delta``) is enclosed at ``P`` significant decimal digits
(:func:`power_bounds`) in one of two ways.

*Integer path* (``b <= INT_ROOT_MAX`` and ``a * bits(n), a * bits(m) <=
INT_POWER_BITS``: p = 1.5, 2.5, 4/3, ... with moderate r).  For an integer
``k`` (chosen so that ``r^p 2^k ~ 2^(3.33 P)``) let ``N = floor(r^a 2^(kb))``
(one exact integer division of ``n^a`` and ``m^a`` shifted) and
``rho = floor(N^(1/b))`` (exact integer root, :func:`iroot`).  Then
``rho <= N^(1/b) <= r^(a/b) 2^k < (N + 1)^(1/b) <= rho + 1`` (the last because
``N < (rho + 1)^b``), so ``r^p`` lies in ``[rho 2^-k, (rho + 1) 2^-k]``.  No
rounding anywhere.

*Decimal path* (any other p, e.g. 2.2 as a float, or huge r).  In a
:class:`decimal.Context` of precision ``P`` (unbounded exponent range, overflow
and underflow trapped) compute::

    R = n / m,  L = ln(R),  Pd = a / b,  Y = Pd * L,  V = exp(Y)

Decimal ``ln`` and ``exp`` are documented as correctly rounded, and ``/`` and
``*`` are correctly rounded; we assume only that each result ``x^`` is within
1.5 units in its last place of the exact result ``x`` of its (exact) operands.
An inexact result has a ``P``-digit coefficient, so its ulp is at most
``10^(1-P) |x^|``, hence ``|x^ - x| <= u min(|x|, |x^|)`` with
``u = 4 * 10^(1-P)`` (exact results have no error).  Then, for ``u <= 1/4``:

* ``R / r`` is in ``[1 - u, 1 + u]``, so ``|ln R - ln r| <= -ln(1 - u) <= 2u``
  and ``|L - ln r| <= E_L = u |L| + 2u``;
* ``|Y - p ln r| <= u |Pd L| + |Pd - p| |L| + p E_L <= E_Y = |Pd| (3u |L| + 2 E_L)``
  (using ``p <= |Pd| / (1 - u) <= 1.5 |Pd|``);
* ``r^p = e^Y e^(p ln r - Y)`` with ``e^Y`` in ``[V/(1+u), V/(1-u)]`` and, for
  ``E_Y <= 1/4``, ``1 - E_Y <= e^(+-E_Y) <= 1 + 2 E_Y``; so
  ``V (1 - w) <= r^p <= V (1 + w)`` with ``w = 3 (E_Y + u)``
  (``(1 + 2E)(1 + 2u) <= 1 + 3(E + u)`` as ``4u <= 1``, and
  ``(1 - E)(1 - u) >= 1 - (E + u)``).

The bounds are exact rationals (``Fraction(V)`` is exact) and are summed
exactly, so ``S = sum |d_i|^p`` and ``delta^p`` lie in rational intervals.  If
they are disjoint the answer is decided (both relations).  Otherwise ``P`` is
doubled, from ``INITIAL_DIGITS`` up to ``DIGITS_CAP``.

Ties: linear independence of radicals
-------------------------------------
Intervals never separate ``S`` from ``delta^p`` when the two are equal, e.g.
``9^1.5 + 16^1.5 + 25^1.5 = 36^1.5``.  After the first failed separation the
terms ``t_i = r_i^(a/b)`` (with ``delta^p`` at coefficient -1) are grouped
exactly (:func:`radical_tie`): ``t_i / t_j = (r_i / r_j)^(a/b)`` is rational iff
``r_i / r_j`` is the b-th power of a rational (if ``rho^a = s^b`` and
``ua + vb = 1`` then ``rho = (s^u rho^v)^b``), i.e. iff the numerator and
denominator of ``r_i / r_j`` in lowest terms are perfect b-th powers (exact
integer roots, no factoring).  Within a group ``t_i = t_g s_i^a`` with
``s_i = (r_i / r_g)^(1/b)`` rational, so ``S - delta^p = sum_g C_g t_g`` with
rational ``C_g``.  Positive reals whose b-th powers are rational and whose
pairwise ratios are irrational are linearly independent over Q
(A. S. Besicovitch, "On the linear independence of fractional powers of
integers", J. London Math. Soc. 15 (1940) 3-6; L. J. Mordell, "On the linear
independence of algebraic numbers", Pacific J. Math. 3 (1953) 625-630; an
elementary proof: I. Boreico, Harvard College Math. Review 2 (2008)).  Hence
``S = delta^p`` iff every ``C_g`` is 0: a tie is decided exactly (``<=`` holds,
``<`` does not).  If some ``C_g != 0`` the difference is not zero and the
precision keeps doubling up to ``DIGITS_CAP`` to find its sign.  The grouping
spends at most ``EXACT_BITS_CAP`` bits (sizes of the numbers root-tested plus
``a`` times the size of each ``s_i`` raised to the power ``a``; ``s_i = 1``
is free).  Beyond either cap the answer is *undecided*, with the reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    Underflow,
)
from fractions import Fraction
from typing import Any, Literal

from geninv.errors import ValidationError
from geninv.network import small_fraction

Relation = Literal["<=", "<"]

#: First precision (decimal digits) of the interval comparison for non-integer p.
INITIAL_DIGITS = 40
#: Largest precision tried; each step doubles (40, 80, ..., 1280: ln and exp of one
#: term take about 25 ms at 1280 digits).
DIGITS_CAP = 1280
#: Integer path of the enclosures: p = a/b with b <= INT_ROOT_MAX and
#: a * bits(r) <= INT_POWER_BITS (numerator and denominator of r).
INT_ROOT_MAX = 64
INT_POWER_BITS = 1 << 15
#: Bit budget of the exact tie analysis (:func:`radical_tie`).
EXACT_BITS_CAP = 1 << 26

#: (decided, meets, distance, distance_pow, method, reason): the fields of LpComparison
Outcome = tuple[bool, bool | None, float, Fraction | None, str, str]

_ONE = Fraction(1)
_MAX_FLOAT = 1.7976931348623157e308
_ZERO = Fraction(0)


@dataclass(frozen=True)
class LpComparison:
    """The outcome of comparing ``||d||_p`` with ``delta``.

    ``decided`` False means the comparison is out of reach (``meets`` is None
    and ``reason`` says why); it is never a guess.
    """

    decided: bool
    meets: bool | None
    distance: float  # ||d||_p, rounded to a float (inf when it overflows)
    distance_pow: Fraction | None  # exact sum |d_i|^p (integer p) or max |d_i| (p = inf)
    method: str
    reason: str = ""


# ------------------------------------------------------------------ rationals
def exact_rational(value: float | int | Fraction) -> Fraction:
    """The exact rational value of a finite float, int or Fraction."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"expected a finite number, got {value!r}")
    return Fraction(value)


def float_down(x: Fraction | int) -> float:
    """The largest float <= x (-inf below -max float; subnormals handled exactly)."""
    try:
        f = float(x)  # correctly rounded (int / int true division), subnormals included
    except OverflowError:
        return -math.inf if x < 0 else _MAX_FLOAT
    if math.isfinite(f) and Fraction(f) > x:
        f = math.nextafter(f, -math.inf)
    return f


def float_up(x: Fraction | int) -> float:
    """The smallest float >= x (inf above max float; subnormals handled exactly)."""
    try:
        f = float(x)
    except OverflowError:
        return math.inf if x > 0 else -_MAX_FLOAT
    if math.isfinite(f) and Fraction(f) < x:
        f = math.nextafter(f, math.inf)
    return f


def iroot(n: int, k: int) -> int:
    """floor(n^(1/k)) for integers n >= 0, k >= 1 (exact integer Newton iteration)."""
    if n < 0 or k < 1:
        raise ValidationError(f"iroot needs n >= 0 and k >= 1, got n = {n}, k = {k}")
    if k == 1 or n < 2:
        return n
    if k == 2:
        return math.isqrt(n)
    if n.bit_length() <= k:  # n < 2^k: the root is 1
        return 1
    x = 1 << -(-n.bit_length() // k)  # >= the root
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def exact_root(x: Fraction, k: int) -> Fraction | None:
    """The rational s >= 0 with s^k = x (x >= 0), or None when there is none."""
    num, den = x.numerator, x.denominator
    rn = iroot(num, k)
    if rn**k != num:
        return None
    rd = iroot(den, k)
    if rd**k != den:
        return None
    return Fraction(rn, rd)


# ------------------------------------------------------------------ enclosures
def threshold_upper(threshold_pow: Fraction, k: int, bits: int = 40) -> Fraction:
    """A rational ``u >= 0`` with ``u^k >= threshold_pow``: the exact root when there is
    one (so ties stay decidable), else the root rounded up at ``bits`` binary digits,
    by :func:`geninv.exact.iroot` on integers (no floats, no overflow)."""
    if threshold_pow <= 0:
        return Fraction(0)
    root = exact_root(threshold_pow, k)
    if root is not None:
        return root
    # (n/d)^(1/k) = (n d^(k-1))^(1/k) / d, scaled by 2^bits before the integer root
    n, d = threshold_pow.numerator, threshold_pow.denominator
    up = Fraction(iroot(n * d ** (k - 1) << (k * bits), k) + 1, d << bits)
    assert up**k >= threshold_pow
    return up


def _context(digits: int) -> Context:
    return Context(
        prec=digits,
        Emax=MAX_EMAX,
        Emin=MIN_EMIN,
        traps=[InvalidOperation, DivisionByZero, Overflow, Underflow],
    )


def _power_bounds_decimal(
    r: Fraction, pd: Decimal, ctx: Context, u: Fraction
) -> tuple[Fraction, Fraction] | None:
    """``[lo, hi]`` containing ``r^p`` (module docstring, decimal path), None when
    ``E_Y > 1/4``."""
    n, m = r.numerator, r.denominator
    if n == m:
        return _ONE, _ONE
    lr = ctx.ln(ctx.divide(Decimal(n), Decimal(m)))
    v = Fraction(ctx.exp(ctx.multiply(pd, lr)))
    lf = abs(Fraction(lr))
    e_y = abs(Fraction(pd)) * (3 * u * lf + 2 * (u * lf + 2 * u))
    if e_y > Fraction(1, 4):
        return None
    w = 3 * (e_y + u)
    return v * (1 - w), v * (1 + w)


def _power_bounds_int(r: Fraction, a: int, b: int, bits: int) -> tuple[Fraction, Fraction]:
    """``[rho 2^-k, (rho + 1) 2^-k]`` containing ``r^(a/b)`` (module docstring, integer
    path), about ``bits`` bits wide relative."""
    n, m = r.numerator, r.denominator
    if n == m:
        return _ONE, _ONE
    k = bits - ((n.bit_length() - m.bit_length()) * a) // b  # r^p 2^k ~ 2^bits
    na, ma = n**a, m**a
    s = k * b
    big_n = (na << s) // ma if s >= 0 else na // (ma << -s)  # floor(r^a 2^(kb))
    rho = iroot(big_n, b)
    if k >= 0:
        return Fraction(rho, 1 << k), Fraction(rho + 1, 1 << k)
    return Fraction(rho << -k), Fraction((rho + 1) << -k)


def power_bounds(
    values: Sequence[Fraction], p: Fraction, digits: int
) -> tuple[Fraction, Fraction] | None:
    """Rational ``[lo, hi]`` containing ``sum_i values_i^p`` (values >= 0), computed at
    ``digits`` decimal digits; None when the precision is too low or a value is out of
    the decimal range (see the module docstring)."""
    a, b = p.numerator, p.denominator
    ctx = _context(digits)
    u = Fraction(4, 10 ** (digits - 1))
    bits = math.ceil(digits * math.log2(10)) + a // b + 4
    try:
        pd = ctx.divide(Decimal(a), Decimal(b))
        lo = hi = _ZERO
        cache: dict[Fraction, tuple[Fraction, Fraction]] = {}
        for r in values:
            if not r:
                continue
            got = cache.get(r)
            if got is None:
                size = max(r.numerator.bit_length(), r.denominator.bit_length())
                if b <= INT_ROOT_MAX and a * size <= INT_POWER_BITS:
                    got = _power_bounds_int(r, a, b, bits)
                else:
                    one = _power_bounds_decimal(r, pd, ctx, u)
                    if one is None:
                        return None
                    got = one
                cache[r] = got
            lo += got[0]
            hi += got[1]
    except DecimalException:
        return None
    return lo, hi


# ------------------------------------------------------------------ ties
def radical_tie(
    values: Sequence[Fraction], threshold: Fraction, p: Fraction, bits_cap: int = EXACT_BITS_CAP
) -> tuple[bool | None, str]:
    """Is ``sum values_i^p == threshold^p`` exactly (p = a/b, b >= 2, values >= 0)?

    (True, ""), (False, "") or (None, reason) when the bit budget is exceeded.
    The grouping argument is in the module docstring.
    """
    a, b = p.numerator, p.denominator
    counts: Counter[Fraction] = Counter(v for v in values if v)
    if threshold:
        counts[threshold] -= 1
    reps: list[Fraction] = []
    coeffs: list[Fraction] = []
    spent = 0
    for r, c in counts.items():
        if c == 0:
            continue
        for g, rep in enumerate(reps):
            ratio = r / rep
            spent += ratio.numerator.bit_length() + ratio.denominator.bit_length()
            if spent > bits_cap:
                return None, _budget_reason(bits_cap)
            s = exact_root(ratio, b)
            if s is None:
                continue
            if s != 1:
                spent += a * (_bits(s.numerator) + _bits(s.denominator))
                if spent > bits_cap:
                    return None, _budget_reason(bits_cap)
                coeffs[g] += c * s**a
            else:
                coeffs[g] += c
            break
        else:
            reps.append(r)
            coeffs.append(Fraction(c))
    return all(cg == 0 for cg in coeffs), ""


def _bits(v: int) -> int:
    return 0 if v == 1 else v.bit_length()


def _budget_reason(cap: int) -> str:
    return (
        f"the exact tie test (grouping the terms into rational multiples of radicals) "
        f"needs more than {cap} bits"
    )


# ------------------------------------------------------------------ the comparison
def root_float(s: Fraction, k: float | Fraction) -> float:
    """s^(1/k) as a float (inf when it overflows), for s >= 0."""
    if s == 0:
        return 0.0
    if k == 1:
        return _to_float(s)
    num, den = s.numerator, s.denominator
    try:
        return float(math.exp((math.log(num) - math.log(den)) / float(k)))
    except OverflowError:
        return math.inf


def _to_float(x: Fraction | int) -> float:
    """The nearest float (inf when x overflows)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _holds(a: Fraction | int, relation: Relation, b: Fraction | int) -> bool:
    return bool(a <= b) if relation == "<=" else bool(a < b)


def compare_lp(
    diff: Sequence[Fraction | int],
    p: float | Fraction | int,
    threshold: Fraction,
    relation: Relation,
    threshold_pow: Fraction | None = None,
    *,
    digits_cap: int = DIGITS_CAP,
    exact_bits_cap: int = EXACT_BITS_CAP,
) -> LpComparison:
    """Decide ``||diff||_p (relation) threshold`` (module docstring).

    ``threshold_pow`` gives ``delta^p`` exactly (integer p only).  ``p`` may be
    ``math.inf``, a float (its exact value counts) or a Fraction.
    """
    return LpComparison(
        *compare_lp_tuple(
            diff,
            p,
            threshold,
            relation,
            threshold_pow,
            digits_cap=digits_cap,
            exact_bits_cap=exact_bits_cap,
        )
    )


def compare_lp_tuple(
    diff: Sequence[Fraction | int],
    p: float | Fraction | int,
    threshold: Fraction,
    relation: Relation,
    threshold_pow: Fraction | None = None,
    *,
    digits_cap: int = DIGITS_CAP,
    exact_bits_cap: int = EXACT_BITS_CAP,
) -> Outcome:
    """:func:`compare_lp` as a plain tuple ``(decided, meets, distance, distance_pow,
    method, reason)`` (the exact checks' fast path: no dataclass).

    ``threshold_pow`` gives ``delta^p`` exactly (integer p only).  ``p`` may be
    ``math.inf``, a float (its exact value counts) or a Fraction.
    """
    if isinstance(p, float):
        if threshold.numerator == 0 and not any(diff) and (math.isinf(p) or p.is_integer()):
            # exact inversion, met: the distance is exactly 0, no arithmetic needed
            return (True, relation == "<=", 0.0, small_fraction(0), "exact rational", "")
        if math.isinf(p):
            return _compare_inf(diff, threshold, relation)
        if p.is_integer():
            return _compare_int(diff, int(p), threshold, relation, threshold_pow)
    pf = exact_rational(p)
    if pf < 1:
        raise ValidationError(f"p must be >= 1 (or inf), got {p!r}")
    if pf.denominator == 1:
        return _compare_int(diff, int(pf), threshold, relation, threshold_pow)
    if threshold_pow is not None:
        raise ValidationError("threshold_pow (delta^p) is only meaningful for integer p")
    return _compare_radical(diff, pf, threshold, relation, digits_cap, exact_bits_cap)


def _compare_inf(
    diff: Sequence[Fraction | int], threshold: Fraction, relation: Relation
) -> Outcome:
    absd: list[Any] = [abs(v) for v in diff]  # Fractions, or ints (integer checks)
    top = max(absd, default=0)
    if type(top) is int and threshold.denominator == 1:  # ints: no Fraction arithmetic
        bound = threshold.numerator
        meets = top <= bound if relation == "<=" else top < bound
        return (True, meets, _to_float(top), small_fraction(top), "exact rational", "")
    m = Fraction(top)
    return (True, _holds(m, relation, threshold), _to_float(m), m, "exact rational", "")


def _compare_int(
    diff: Sequence[Fraction | int],
    k: int,
    threshold: Fraction,
    relation: Relation,
    threshold_pow: Fraction | None,
) -> Outcome:
    absd: list[Any] = [abs(v) for v in diff]
    s = Fraction(sum(v**k for v in absd))  # in ints when the differences are ints
    rhs = threshold_pow if threshold_pow is not None else threshold**k
    return (True, _holds(s, relation, rhs), root_float(s, k), s, "exact rational", "")


def _compare_radical(
    diff: Sequence[Fraction | int],
    p: Fraction,
    threshold: Fraction,
    relation: Relation,
    digits_cap: int,
    exact_bits_cap: int,
) -> Outcome:
    absd = [Fraction(v) if v > 0 else -Fraction(v) for v in diff if v]
    if not absd or not threshold:
        # distance 0, or threshold 0: exact without any power
        meets = True if threshold else (not absd and relation == "<=")
        dist = 0.0 if not absd else _approx_distance(absd, p)
        return (True, meets, dist, None, "exact rational", "")
    digits = INITIAL_DIGITS
    tie_checked = False
    known_nonzero = False
    why_not_tie = ""
    last = None
    while True:
        s = power_bounds(absd, p, digits)
        t = power_bounds([threshold], p, digits)
        if s is not None and t is not None:
            last = s
            method = f"interval arithmetic, {digits} digits"
            dist = _decimal_root((s[0] + s[1]) / 2, p)
            if s[1] < t[0]:
                return (True, True, dist, None, method, "")
            if s[0] > t[1]:
                return (True, False, dist, None, method, "")
            if not tie_checked:
                tie_checked = True
                tie, why_not_tie = radical_tie(absd, threshold, p, exact_bits_cap)
                if tie:
                    return (
                        True,
                        relation == "<=",
                        float(threshold),
                        None,
                        "exact tie (grouped radicals; linear independence over Q)",
                        "",
                    )
                known_nonzero = tie is False
        if digits >= digits_cap:
            break
        digits = min(2 * digits, digits_cap)
    dist = _decimal_root((last[0] + last[1]) / 2, p) if last else _approx_distance(absd, p)
    if last is None:
        reason = f"a term is out of the decimal range at {digits} digits"
    elif known_nonzero:
        reason = (
            f"||d||_p differs from the threshold (not an exact tie) by less than the "
            f"{digits}-digit interval width; its sign is out of reach"
        )
    else:
        reason = (
            f"||d||_p and the threshold agree to {digits} digits and {why_not_tie or 'no tie test'}"
        )
    return (False, None, dist, None, f"undecided at {digits} digits", reason)


def _decimal_root(s: Fraction, p: Fraction) -> float:
    """s^(1/p) to about 30 digits, as a float (reporting only)."""
    ctx = _context(30)
    try:
        ln_s = ctx.subtract(ctx.ln(Decimal(s.numerator)), ctx.ln(Decimal(s.denominator)))
        return float(ctx.exp(ctx.divide(ctx.multiply(ln_s, p.denominator), p.numerator)))
    except DecimalException:
        return root_float(s, p)


def _approx_distance(absd: Sequence[Fraction], p: Fraction) -> float:
    """||d||_p as a float, from the max and float ratios (reporting only)."""
    top = max(absd)
    pf = float(p)
    total = math.fsum(float(v / top) ** pf for v in absd)
    scale = float_up(top)
    return scale * total ** (1.0 / pf) if math.isfinite(scale) else math.inf
