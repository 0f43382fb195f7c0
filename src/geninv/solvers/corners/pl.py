"""Exact piecewise-linear functions of one latent: combination, ReLU, extremes (memoised)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from geninv.network import fraction_key, integer_values, small_fraction

#: Support marks: no latent (a constant unit), or several latents.
CONST, MULTI = -1, -2
#: Breakpoints per univariate function beyond which the analysis gives up.
MAX_BREAKPOINTS = 4096
_ZERO = Fraction(0)

_PL = tuple[list[Fraction], list[Fraction]]  # breakpoints xs (sorted) and values ys
#: Per unit of a layer: its support, its function of that latent, its constant value.
_Units = tuple[list[int], list[_PL | None], list[Fraction | None]]


def _relu_pl(pl: _PL) -> _PL:
    """ReLU of a piecewise-linear function: insert the zero crossings, clip at 0."""
    xs, ys = pl
    xi, yi = integer_values(xs), integer_values(ys)
    if xi is not None and yi is not None:
        return _relu_pl_int(xi, yi)
    return _relu_pl_frac(xs, ys)


def _relu_pl_frac(xs: list[Fraction], ys: list[Fraction]) -> _PL:
    """:func:`_relu_pl` in Fraction arithmetic."""
    out_x: list[Fraction] = [xs[0]]
    out_y: list[Fraction] = [max(ys[0], _ZERO)]
    for k in range(1, len(xs)):
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        if (y0 < 0 < y1) or (y1 < 0 < y0):
            xc = x0 + (x1 - x0) * (-y0) / (y1 - y0)
            out_x.append(xc)
            out_y.append(_ZERO)
        out_x.append(x1)
        out_y.append(max(y1, _ZERO))
    return out_x, out_y


def _relu_pl_int(xs: list[int], ys: list[int]) -> _PL:
    """:func:`_relu_pl` of integer breakpoints and values, in Python ints (a zero
    crossing is the only value that may need a Fraction)."""
    small = small_fraction
    out_x: list[Fraction] = [small(xs[0])]
    out_y: list[Fraction] = [small(max(ys[0], 0))]
    for k in range(1, len(xs)):
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        if (y0 < 0 < y1) or (y1 < 0 < y0):
            out_x.append(Fraction(x0 * (y1 - y0) - (x1 - x0) * y0, y1 - y0))
            out_y.append(_ZERO)
        out_x.append(small(x1))
        out_y.append(small(max(y1, 0)))
    return out_x, out_y


def _eval_pl(pl: _PL, xs: Sequence[Fraction]) -> list[Fraction]:
    """Values of ``pl`` at the sorted points ``xs`` (all within its range)."""
    px, py = pl
    out: list[Fraction] = []
    k = 0
    for x in xs:
        while k + 1 < len(px) and px[k + 1] < x:
            k += 1
        if x == px[k] or k + 1 >= len(px):
            out.append(py[k])
        elif x == px[k + 1]:
            out.append(py[k + 1])
        else:
            x0, x1 = px[k], px[k + 1]
            out.append(py[k] + (py[k + 1] - py[k]) * (x - x0) / (x1 - x0))
    return out


def _combine(terms: Sequence[tuple[Fraction, _PL]], const: Fraction, lo: Fraction) -> _PL:
    """``const + sum w * pl`` on the union of the breakpoints."""
    if len(terms) == 1 and terms[0][1][0][0] == lo:
        # one function (starting at lo, as every function of a latent does): its own
        # breakpoints, no evaluation between them
        w, (xs, py) = terms[0]
        xi, yi = integer_values(xs), integer_values(py)
        if xi is not None and yi is not None and w.denominator == 1 == const.denominator:
            # all integers: Python int arithmetic
            xs_k, ys_k = _affine_int(xi, yi, w.numerator, const.numerator)
            return [small_fraction(x) for x in xs_k], [small_fraction(y) for y in ys_k]
        ys = [const + w * v for v in py]
    else:
        fast = _combine_int(terms, const, lo)
        if fast is not None:
            return fast
        xs = sorted({x for _, (px, _) in terms for x in px} | {lo})
        ys = [const] * len(xs)
        for w, pl in terms:
            vals = _eval_pl(pl, xs)
            ys = [y + w * v for y, v in zip(ys, vals, strict=True)]
    keep = _kept_breakpoints(xs, ys)
    return [xs[k] for k in keep], [ys[k] for k in keep]


def _affine_int(xs: list[int], ys: list[int], w: int, c: int) -> tuple[list[int], list[int]]:
    """``c + w f`` of an integer function f (breakpoints ``xs``, values ``ys``): the
    breakpoints it keeps (:func:`_kept_breakpoints`) and its values there."""
    out = [c + w * v for v in ys]
    keep = _kept_breakpoints(xs, out)
    return [xs[k] for k in keep], [out[k] for k in keep]


def _combine_int(
    terms: Sequence[tuple[Fraction, _PL]], const: Fraction, lo: Fraction
) -> _PL | None:
    """The general path of :func:`_combine` in Python ints, when every weight,
    breakpoint and value is an integer and so is every value at the union of the
    breakpoints (an interpolated one may not be: then None, and the caller uses
    Fractions).  Same breakpoints and values."""
    if const.denominator != 1 or lo.denominator != 1:
        return None
    funcs: list[tuple[int, list[int], list[int]]] = []
    points = {lo.numerator}
    for weight, (pxf, pyf) in terms:
        xi, yi = integer_values(pxf), integer_values(pyf)
        if xi is None or yi is None or weight.denominator != 1:
            return None
        funcs.append((weight.numerator, xi, yi))
        points.update(xi)
    xs = sorted(points)
    ys = [const.numerator] * len(xs)
    for w, px, py in funcs:
        k = 0
        for j, x in enumerate(xs):  # as _eval_pl: the points are sorted and in range
            while k + 1 < len(px) and px[k + 1] < x:
                k += 1
            if x == px[k] or k + 1 >= len(px):
                v = py[k]
            elif x == px[k + 1]:
                v = py[k + 1]
            else:
                x0, x1 = px[k], px[k + 1]
                v, r = divmod((py[k + 1] - py[k]) * (x - x0), x1 - x0)
                if r:
                    return None
                v += py[k]
            ys[j] += w * v
    keep = _kept_breakpoints(xs, ys)
    small = small_fraction
    return [small(xs[k]) for k in keep], [small(ys[k]) for k in keep]


def _kept_breakpoints(xs: Sequence[Any], ys: Sequence[Any]) -> list[int]:
    """Indices of the breakpoints to keep: the ends, and every point the function is
    not linear through (against the last kept point).  Ints or Fractions."""
    keep = [0]
    for k in range(1, len(xs) - 1):
        x0, y0 = xs[keep[-1]], ys[keep[-1]]
        x1, y1, x2, y2 = xs[k], ys[k], xs[k + 1], ys[k + 1]
        if (y1 - y0) * (x2 - x1) != (y2 - y1) * (x1 - x0):
            keep.append(k)
    if len(xs) > 1:
        keep.append(len(xs) - 1)
    return keep


_pair = fraction_key  # a cheap exact dictionary key for a Fraction


class _PLCache:
    """Memoised :func:`_combine` and :func:`_relu_pl` on equal inputs.

    Reductions repeat one gadget per coordinate (Theorem 2: ``ReLU(z_i + 1)``,
    ``ReLU(2 - a_i)``, ... for every i), so most units compute a function
    already computed for another coordinate with the same box.  Equal results
    are returned as the *same* object, so an input function is identified by
    ``id``; the cache keeps every key object alive so that ids are never reused.
    """

    def __init__(self) -> None:
        self._combined: dict[tuple[Any, ...], _PL] = {}
        self._relu: dict[int, _PL] = {}
        self._leaves: dict[tuple[Any, Any], _PL] = {}
        self._ints: dict[int, tuple[list[int], list[int]] | None] = {}  # id -> int form
        self._alive: list[Any] = []

    def leaf(self, lo: Fraction, hi: Fraction) -> _PL:
        """The identity on [lo, hi] (a latent), one object per box."""
        key = (_pair(lo), _pair(hi))
        hit = self._leaves.get(key)
        if hit is None:
            hit = ([lo, hi], [lo, hi]) if lo != hi else ([lo], [lo])
            self._leaves[key] = hit
        return hit

    def combine(
        self,
        terms: Sequence[tuple[Fraction, _PL]],
        const: Fraction,
        lo: Fraction,
        relu: bool = False,
    ) -> _PL:
        """``const + sum w f`` (then its ReLU when ``relu``), one object per value."""
        # keys of ints and integer pairs: hashing and comparing Fractions costs
        # microseconds each.  Every f starts at the box's lower end, so lo only counts
        # without terms.
        one = len(terms) == 1
        key = (
            (relu, _pair(const), (_pair(terms[0][0]), id(terms[0][1])))
            if one
            else (
                relu,
                _pair(const),
                *[(_pair(w), id(f)) for w, f in terms],
                *(() if terms else (_pair(lo),)),
            )
        )
        hit = self._combined.get(key)
        if hit is None:
            hit = self._one_int(terms[0][0], terms[0][1], const, lo, relu) if one else None
            if hit is None:
                hit = _combine(terms, const, lo)
                if relu:
                    hit = self.relu(hit)
            self._combined[key] = hit
            self._alive.append(list(terms))
        return hit

    def _int_form(self, pl: _PL) -> tuple[list[int], list[int]] | None:
        """The breakpoints and values of ``pl`` as ints (None if one is not), remembered."""
        got = self._ints.get(id(pl), False)
        if got is False:
            xi, yi = integer_values(pl[0]), integer_values(pl[1])
            got = (xi, yi) if xi is not None and yi is not None else None
            self._ints[id(pl)] = got
            self._alive.append(pl)
        return got  # type: ignore[return-value]

    def _one_int(
        self, w: Fraction, f: _PL, const: Fraction, lo: Fraction, relu: bool
    ) -> _PL | None:
        """``const + w f`` (and its ReLU) in Python ints, as :func:`_combine`'s one-term
        path and :func:`_relu_pl_int` compute it, when w, const and f are integers and f
        starts at lo; None otherwise."""
        if w.denominator != 1 or const.denominator != 1 or lo.denominator != 1:
            return None
        fi = self._int_form(f)
        if fi is None or fi[0][0] != lo.numerator:
            return None
        xs_k, ys_k = _affine_int(fi[0], fi[1], w.numerator, const.numerator)
        if relu:
            return _relu_pl_int(xs_k, ys_k)
        small = small_fraction
        return [small(x) for x in xs_k], [small(y) for y in ys_k]

    def relu(self, pl: _PL) -> _PL:
        hit = self._relu.get(id(pl))
        if hit is None:
            hit = _relu_pl(pl)
            self._relu[id(pl)] = hit
            self._alive.append(pl)
        return hit


def _exact_sum(values: list[Fraction]) -> Fraction:
    """The sum, in Python ints when every value is an integer (no Fraction additions)."""
    ints = integer_values(values)
    return small_fraction(sum(ints)) if ints is not None else sum(values, Fraction(0))


def _extreme_set(pl: _PL, value: Fraction) -> list[Fraction] | None:
    """The points where ``pl`` equals ``value`` (its max or min); None if an interval."""
    xs, ys = pl
    pts = [x for x, y in zip(xs, ys, strict=True) if y == value]
    for k in range(1, len(xs)):
        if ys[k - 1] == value and ys[k] == value and xs[k - 1] != xs[k]:
            return None
    return pts
