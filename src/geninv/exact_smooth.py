"""Sigmoid and tanh at rational points, rigorously, and their inverse with directed rounding.

The monotone output layers of trained generators (issue 17, item 5): the
certified bounds of :mod:`geninv.smooth_bounds` and their checker
:mod:`geninv.proofcheck_smooth` rest on these two functions only.  The exp
enclosure uses the decimal context of :mod:`geninv.exact` (the one place
directed/rigorous decimal arithmetic is set up) and its ``float_down``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from geninv.errors import ValidationError
from geninv.exact import _context

#: Beyond this |t| (tanh: |2t|) the enclosures use the tail bounds below instead of exp.
_SMOOTH_TAIL = 2000
#: Decimal digits of the exp enclosure in :func:`smooth_enclosure`.
SMOOTH_ENCLOSURE_DIGITS = 40
#: The range (open interval) of each monotone output activation.
SMOOTH_RANGE: dict[str, tuple[int, int]] = {"sigmoid": (0, 1), "tanh": (-1, 1)}


def _exp_enclosure(s: Fraction, digits: int) -> tuple[Fraction, Fraction]:
    """``[E_lo, E_hi]`` containing ``e^s`` for rational ``|s| <= 2 _SMOOTH_TAIL``.

    ``s_d`` is ``s`` rounded to ``digits`` decimal digits, ``eps = |s - s_d|``
    computed exactly; ``exp(s_d)`` is correctly rounded (the ``decimal`` module's
    contract), so ``|exp(s_d)_computed / e^{s_d} - 1| <= 10^(1 - digits)``; and
    ``e^{s - s_d}`` lies in ``[1 - 2 eps, 1 + 2 eps]`` for ``eps <= 1``.  Together
    ``e^s = exp(s_d)_computed (1 +- eta)`` with ``eta = 2 eps + 3 10^(1 - digits)``."""
    if s == 0:  # e^0 = 1 exactly: sigmoid(0) = 1/2 and tanh(0) = 0 are then exact too
        return Fraction(1), Fraction(1)
    ctx = _context(digits)
    s_d = ctx.divide(Decimal(s.numerator), Decimal(s.denominator))
    eps = abs(Fraction(s_d) - s)
    e_d = Fraction(ctx.exp(s_d))
    eta = 2 * eps + Fraction(3, 10 ** (digits - 1))
    return e_d * (1 - eta), e_d * (1 + eta)


def smooth_enclosure(
    kind: str, t: Fraction, digits: int = SMOOTH_ENCLOSURE_DIGITS
) -> tuple[Fraction, Fraction]:
    """Rationals ``lo <= f(t) <= hi`` for ``f`` = sigmoid ``1 / (1 + e^-t)`` or tanh
    ``1 - 2 / (e^{2t} + 1)`` at a rational ``t``, rigorously (no float anywhere).

    Both are increasing in the exponential's argument as written, so an enclosure
    ``[E_lo, E_hi]`` of ``e^{-t}`` (sigmoid: ``lo = 1 / (1 + E_hi)``) or of ``e^{2t}``
    (tanh: ``lo = 1 - 2 / (E_lo + 1)``) gives one of ``f(t)`` in exact Fraction
    arithmetic.  Beyond ``|t| > 2000`` the tails: ``0 < 1 - sigmoid(t) < e^-t <
    2^-2000`` for ``t > 2000`` (mirrored below), ``0 < 1 - tanh(t) < 2 e^{-2t} <
    2^-1999`` for ``t > 1000`` (mirrored)."""
    if kind == "sigmoid":
        if t > _SMOOTH_TAIL:
            return 1 - Fraction(1, 2**_SMOOTH_TAIL), Fraction(1)
        if t < -_SMOOTH_TAIL:
            return Fraction(0), Fraction(1, 2**_SMOOTH_TAIL)
        e_lo, e_hi = _exp_enclosure(-t, digits)
        return 1 / (1 + e_hi), 1 / (1 + e_lo)
    if kind == "tanh":
        if t > _SMOOTH_TAIL // 2:
            return 1 - Fraction(1, 2 ** (_SMOOTH_TAIL - 1)), Fraction(1)
        if t < -(_SMOOTH_TAIL // 2):
            return Fraction(-1), -1 + Fraction(1, 2 ** (_SMOOTH_TAIL - 1))
        e_lo, e_hi = _exp_enclosure(2 * t, digits)
        return 1 - 2 / (e_lo + 1), 1 - 2 / (e_hi + 1)
    raise ValidationError(f"no rigorous enclosure for the activation {kind!r} (sigmoid, tanh)")


def smooth_inverse(kind: str, v: Fraction, up: bool) -> Fraction:
    """A float ``t`` (as its exact Fraction) with ``f(t) >= v`` (``up``) or ``f(t) <= v``
    (not ``up``), close to ``f^{-1}(v)``, for ``v`` strictly inside ``f``'s range
    (:data:`SMOOTH_RANGE`): directed rounding of the inverse of sigmoid / tanh.

    The float logit / atanh is a first guess; it is moved outward (by a growing
    step) until :func:`smooth_enclosure` *proves* the inequality, so the result is
    sound whatever the float error (``f`` is increasing: ``f(t) <= v`` gives
    ``t <= f^{-1}(v)``), then moved back inward one float at a time while the proof
    still holds (at most :data:`SHARPEN_STEPS`): the result is then the float next to
    the inverse, and the float one further inward fails the enclosure test."""
    a, b = SMOOTH_RANGE[kind]
    if not a < v < b:
        raise ValidationError(f"{kind}^-1({float(v)!r}): the value is not inside ({a}, {b})")
    w = (2 * v - a - b) / (b - a)  # in (-1, 1): f^-1(v) = c atanh(w), c = 2 (sigmoid), 1
    if abs(w) < Fraction(1, 2):  # near the centre: atanh has no cancellation
        guess = math.atanh(float(w))
    else:  # near the ends: the log form, on big ints (no underflow)
        r = (v - a) / (b - v)  # sigmoid: v / (1 - v); tanh: (1 + v) / (1 - v)
        guess = (math.log(r.numerator) - math.log(r.denominator)) / 2
    if kind == "sigmoid":
        guess *= 2
    t = Fraction(guess)
    step = Fraction(max(abs(guess), 1.0)) * Fraction(1, 2**50)
    for _ in range(400):
        lo, hi = smooth_enclosure(kind, t)
        if (lo >= v) if up else (hi <= v):
            return _sharpen(kind, v, up, t)
        t = Fraction(
            math.nextafter(float(t + step if up else t - step), math.inf if up else -math.inf)
        )
        step *= 2
    raise ValidationError(f"{kind}^-1({float(v)!r}) could not be bounded")  # pragma: no cover


#: At most this many one-float steps inward in :func:`smooth_inverse`.
SHARPEN_STEPS = 64


def _sharpen(kind: str, v: Fraction, up: bool, t: Fraction) -> Fraction:
    """The proved ``t`` moved inward float by float while ``f(t) >= v`` (``up``) or
    ``f(t) <= v`` stays proved."""
    for _ in range(SHARPEN_STEPS):
        nxt = Fraction(math.nextafter(float(t), -math.inf if up else math.inf))
        lo, hi = smooth_enclosure(kind, nxt)
        if not ((lo >= v) if up else (hi <= v)):
            break
        t = nxt
    return t
