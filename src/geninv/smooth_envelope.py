"""Piecewise-linear lower bounds of ``|f(u) - x|`` (sigmoid / tanh) chosen in floats.

The producer's side of the version-2 ``geninv-smooth-box`` certificate: per output,
terms ``(w, g)`` with ``sum relu(w u + g) <= |f(u) - x|`` on ``[lo, hi]``, which
:func:`geninv.proofcheck_lines.check_terms` then proves exactly (a term set that
fails is retried with a wider margin, then dropped: an output with no term is a
weaker, still valid, bound).

The math.  Right of ``u* = f^-1(x)`` the error is ``phi(u) = f(u) - x``, increasing,
convex for ``u <= 0`` and concave for ``u >= 0``.  Its convex envelope on
``[R, hi]`` (``R = max(lo, u*)``, ``phi(R) >= 0``) is the best convex lower bound:

* ``hi <= 0``: ``phi`` itself (all convex);
* otherwise the line through ``(hi, phi(hi))`` tangent to ``phi`` at the ``w`` in
  ``[R, 0]`` where ``phi(w) + phi'(w)(hi - w) = phi(hi)`` (the left side increases
  with ``w``: its derivative is ``phi''(w)(hi - w) >= 0``), with ``phi`` on ``[R, w]``;
  when even the tangent at ``R`` passes above ``(hi, phi(hi))`` (always when
  ``R >= 0``), the chord from ``(R, phi(R))`` to ``(hi, phi(hi))``.

The convex part is bounded below by tangents (at ``R``, at ``w`` and where ``phi``
is ``phi(w) / 2^i``: a tangent of a convex function lies below it), and their
maximum with 0 is written as a sum of ReLUs (slope increments at the lines'
crossings).  Left of ``u*`` the same with ``x' = a + b - x`` and ``u -> -u``
(``f(-u) = a + b - f(u)``).  Every line is then lowered (slopes scaled by
``1 - margin``, breakpoints moved outward by ``margin (1 + |v|)``) so that the float
rounding of the construction is covered and the exact check passes.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from geninv.exact_smooth import SMOOTH_RANGE
from geninv.proofcheck_lines import check_terms

#: tangents per side of an output's error (including the one at the side's start)
LINES = 4
#: relative margin by which the lines are lowered; retried 1000x wider when the
#: exact check fails
MARGINS = (1e-9, 1e-6, 1e-3)


def _f(kind: str, u: float) -> float:
    if kind == "sigmoid":
        return 1 / (1 + math.exp(-u)) if u >= 0 else math.exp(u) / (1 + math.exp(u))
    return math.tanh(u)


def _df(kind: str, u: float) -> float:
    e = math.exp(-abs(u))
    if kind == "sigmoid":
        return e / (1 + e) ** 2
    return 4 * e * e / (1 + e * e) ** 2


def _finv(kind: str, y: float) -> float:
    if kind == "sigmoid":
        return math.log(y) - math.log1p(-y)
    return 0.5 * (math.log1p(y) - math.log1p(-y))


#: a line as (slope, intercept): l(u) = slope * u + intercept
Line = tuple[float, float]


def right_lines(kind: str, x: float, lo: float, hi: float, count: int = LINES) -> list[Line]:
    """The lines whose maximum (with 0) bounds ``f(u) - x`` below on ``[lo, hi]``, right
    of ``f^-1(x)`` (module docstring), in increasing slope."""
    a, b = SMOOTH_RANGE[kind]
    if x >= b:
        return []
    r0 = max(lo, _finv(kind, x)) if x > a else lo
    if not r0 < hi:
        return []

    def phi(u: float) -> float:
        return _f(kind, u) - x

    def tangent(t: float) -> Line:
        s = _df(kind, t)
        return s, phi(t) - s * t

    ph = phi(hi)
    if hi <= 0:
        w = hi
    else:
        slope = (ph - phi(r0)) / (hi - r0)
        chord = slope, ph - slope * hi
        if r0 >= 0 or phi(r0) + _df(kind, r0) * (hi - r0) >= ph:
            return [chord] if chord[0] > 0 else []
        left, right = r0, 0.0
        for _ in range(80):
            mid = (left + right) / 2
            if phi(mid) + _df(kind, mid) * (hi - mid) < ph:
                left = mid
            else:
                right = mid
        w = left
    points = {r0, w}
    pw = phi(w)
    for i in range(1, max(count - 1, 1)):
        y = x + pw / 2**i
        if a < y < b:
            t = _finv(kind, y)
            if r0 < t < w:
                points.add(t)
    lines = [tangent(t) for t in sorted(points)]
    return [ln for ln in lines if ln[0] > 0 and math.isfinite(ln[0]) and math.isfinite(ln[1])]


def relu_terms(lines: list[Line], margin: float) -> list[tuple[float, float]]:
    """``max(0, lines)`` (slopes > 0) as ReLU terms ``(w, g)``: ``sum relu(w u + g)``,
    each slope increment scaled by ``1 - margin`` and each breakpoint moved right by
    ``margin (1 + |v|)`` (so the sum lies below the maximum)."""
    stack: list[tuple[float, float, float]] = [(0.0, 0.0, -math.inf)]  # slope, icpt, start
    for s, c in sorted(lines):
        while True:
            s0, c0, start = stack[-1]
            if s <= s0:
                break
            x_int = (c0 - c) / (s - s0)
            if len(stack) > 1 and x_int <= start:
                stack.pop()
                continue
            stack.append((s, c, x_int))
            break
    out: list[tuple[float, float]] = []
    for (s0, _, _), (s, _, v) in itertools.pairwise(stack):
        dw = (s - s0) * (1 - margin)
        vv = v + margin * (1 + abs(v))
        if dw > 0 and math.isfinite(vv) and math.isfinite(dw * vv):
            out.append((dw, -dw * vv))
    return out


def output_terms(
    kind: str, x: Fraction, lo: Fraction, hi: Fraction, count: int = LINES
) -> list[tuple[Fraction, Fraction]]:
    """Terms for one output, proved by :func:`check_terms` on ``[lo, hi]`` (empty when
    no margin of :data:`MARGINS` passes)."""
    a, b = SMOOTH_RANGE[kind]
    flo, fhi, xf = float(lo), float(hi), float(x)
    right = right_lines(kind, xf, flo, fhi, count)
    left = right_lines(kind, a + b - xf, -fhi, -flo, count)
    for m in MARGINS:
        terms = [(Fraction(w), Fraction(g)) for w, g in relu_terms(right, m)]
        terms += [(Fraction(-w), Fraction(g)) for w, g in relu_terms(left, m)]
        if check_terms(kind, x, lo, hi, terms) is None:
            return terms
    return []


__all__ = ["LINES", "output_terms", "relu_terms", "right_lines"]
