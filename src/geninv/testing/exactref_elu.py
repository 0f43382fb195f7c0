"""An enclosure of ELU for the reference evaluator, written independently of geninv.

geninv's own re-check (:mod:`geninv.exact_elu`) encloses ``e^t`` with 40 correctly
rounded decimal digits (:mod:`decimal`); this module shares nothing with it: it
bounds ``expm1`` by a Taylor series in Python integers (fixed point) with an explicit
remainder, so the differential tester judges geninv's ELU answers with a second,
separately written enclosure.

Math
----
``ELU_alpha(t) = t`` for ``t >= 0`` and ``alpha (e^t - 1)`` for ``t < 0`` (``alpha >=
0``).  For ``t < 0`` put ``x = -t > 0`` and ``E = e^x - 1 > 0``; then

    e^t - 1 = e^{-x} - 1 = -E / (1 + E),

and ``E -> E / (1 + E)`` is increasing, so bounds ``E_lo <= E <= E_hi`` give
``-E_hi / (1 + E_hi) <= e^t - 1 <= -E_lo / (1 + E_lo)``.

``E`` itself: halve ``x`` ``m`` times until ``y = x / 2^m <= 2^-8``; the Taylor series
``expm1(y) = sum_{k>=1} y^k / k!`` has positive terms, so any partial sum is a lower
bound, and with ``y <= 2^-8`` the tail after the term ``k`` is at most
``(y^k / k!) sum_{i>=1} (y / (k+1))^i <= (y^k / k!) / 255``, so adding twice the last
term computed bounds it above.  Then ``m`` doublings ``expm1(2u) = expm1(u) (expm1(u)
+ 2)`` (increasing in ``expm1(u) >= 0``) give ``E``.  Everything is an integer over
``2^P``: lower bounds rounded down (floor), upper bounds up (ceil), every operation
monotone on nonnegative values, so the bounds stay rigorous.  ``P = BITS + m + 8 -
floor(log2 x)`` keeps about ``BITS`` significant bits after the doublings (each at most
doubles the relative error) also for tiny ``x``.

Beyond ``x >= TAIL``: ``0 < e^t < 2^t <= 2^-TAIL`` (as ``e > 2``), so ``e^t - 1`` lies
in ``[-1, -1 + 2^-TAIL]`` with no series at all.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

#: Significant bits kept by the enclosure (its relative width is about 2^-BITS).
BITS = 192
#: For t <= -TAIL, e^t - 1 is enclosed by [-1, -1 + 2^-TAIL].
TAIL = 1024
_ZERO = Fraction(0)


def _cdiv(a: int, b: int) -> int:
    """ceil(a / b) for b > 0."""
    return -((-a) // b)


@lru_cache(maxsize=65536)
def expm1_neg_bounds(t: Fraction) -> tuple[Fraction, Fraction]:
    """Rationals ``lo <= e^t - 1 <= hi`` for ``t <= 0`` (the module docstring)."""
    if t > 0:
        raise ValueError("expm1_neg_bounds takes t <= 0")
    if t == 0:
        return _ZERO, _ZERO
    x = -t
    if x >= TAIL:
        return Fraction(-1), Fraction(-1) + Fraction(1, 2**TAIL)
    # m halvings bring y = x / 2^m to at most 2^-8
    m = 0
    while x > Fraction(1, 256) * 2**m:
        m += 1
    lg = x.numerator.bit_length() - x.denominator.bit_length()  # floor(log2 x) or one less
    prec = BITS + m + 8 + max(0, -lg)
    one = 1 << prec
    den = x.denominator << m
    y_lo = (x.numerator << prec) // den  # y * 2^prec, rounded down / up
    y_hi = _cdiv(x.numerator << prec, den)
    # the series: lower bound by floors, upper bound by ceils plus twice the last term
    e_lo, term, k = 0, y_lo, 1
    while term > 0:
        e_lo += term
        k += 1
        term = term * y_lo // (k << prec)
    e_hi, term, k = 0, y_hi, 1
    while True:
        e_hi += term
        if term <= 1:
            e_hi += 2 * term + 1
            break
        k += 1
        term = _cdiv(term * y_hi, k << prec)
    for _ in range(m):  # expm1(2u) = expm1(u) (expm1(u) + 2)
        e_lo = (e_lo * (e_lo + 2 * one)) >> prec
        e_hi = _cdiv(e_hi * (e_hi + 2 * one), one)
    # e^t - 1 = -E / (1 + E)
    lo = -_cdiv(e_hi << prec, one + e_hi)
    hi = -((e_lo << prec) // (one + e_lo))
    return Fraction(lo, one), Fraction(hi, one)


def elu_enclosure(t: Fraction, alpha: Fraction) -> tuple[Fraction, Fraction]:
    """Rationals ``lo <= ELU_alpha(t) <= hi`` (``alpha >= 0``; equal for ``t >= 0``)."""
    if alpha < 0:
        raise ValueError("ELU alpha must be >= 0")
    if t >= 0:
        return t, t
    lo, hi = expm1_neg_bounds(t)
    return alpha * lo, alpha * hi
