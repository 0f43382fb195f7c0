"""Corner presolve: an output target that forces real latents onto two values each.

For *exact* inversion over a box (or a real domain with ``input_box``), look
for output units whose pre-activation is **separable** in the latent:

    a_o(z) = C + sum_i f_i(z_i),

i.e. every unit feeding output o depends on at most one latent coordinate
(found by propagating supports through the nonzero weights).  Each f_i is a
univariate piecewise-linear function on [lo_i, hi_i], computed exactly (rational
breakpoints, one ReLU crossing inserted per sign change), so its maximum M_i,
minimum m_i and the sets where they are attained are exact.  The target fixes
a_o: ``a_o = x_o`` (identity output, or ReLU output with x_o > 0) or
``a_o <= 0`` (ReLU output with x_o = 0).  Then, exactly:

* if x_o lies outside [C + sum m_i, C + sum M_i] (or ``C + sum m_i > 0`` for
  ``a_o <= 0``), no latent reaches the target: ``no``, and the interval is the proof;
* if x_o = C + sum M_i, every witness has z_i in argmax f_i for every i
  (a sum of terms each at most M_i reaches the sum of the maxima only when each
  term does); likewise argmin when x_o = C + sum m_i, or ``a_o <= 0`` with
  C + sum m_i = 0.

When these *forcing* outputs leave every coordinate a set of at most two
points {c0_i, c1_i}, the problem is equivalent to one over binary b in {0,1}^n
with z_i = c0_i + (c1_i - c0_i) b_i: the first layer becomes
``W diag(c1 - c0) b + (W c0 + b_1)`` (exact rationals), the forcing outputs are
dropped (on that set they equal their targets exactly), and units that no
longer reach any output are pruned.  A witness b maps back to z, which
:func:`geninv.solvers.base.solve` re-checks exactly on the *original* problem;
a ``no`` of the binary problem is a ``no`` of the original one, with both
proofs.  This is how the Theorem 2 networks (``y_2 = sum_i |clamp(z_i)| = n``)
become Theorem 1-like binary instances that the ``sat`` backend decides in
about the time CaDiCaL needs for the formula (issue 4's stretch goal).

The presolve is sound for any network it accepts; it declines (``None``) when
the problem is not exact inversion over a box, a layer is not ReLU/identity,
no output is separable and forcing, or some coordinate keeps more than two
points or a whole interval.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.analysis import fold_discrete_prefix
from geninv.errors import UnsupportedError
from geninv.network import Layer, ReLUNetwork, fraction_key, integer_values, small_fraction
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.solvers.base import Backend, Capabilities, register

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


@dataclass
class CornerPresolve:
    """The outcome of :func:`corner_presolve`."""

    infeasible: dict[str, Any] | None = None  # a proof that no witness exists
    binary: InversionProblem | None = None  # the equivalent binary problem
    low: list[Fraction] = field(default_factory=list)  # z_i = low_i + (high_i - low_i) b_i
    high: list[Fraction] = field(default_factory=list)
    forcing: list[dict[str, Any]] = field(default_factory=list)
    dropped_outputs: list[int] = field(default_factory=list)
    pruned_units: int = 0
    folded_layers: int = 0  # leading layers folded away on {0,1}^n (fold_discrete_prefix)
    seconds: float = 0.0
    # univariate_units' (support, funcs, consts) of layers 0 .. L-2 (L layers)
    units: list[_Units] = field(default_factory=list, repr=False, compare=False)
    fixed: int | None = field(default=None, repr=False, compare=False)  # low_i == high_i count

    def lift(self, b: Sequence[Fraction]) -> list[Fraction]:
        """The latent z of a binary point b: ``low + (high - low) b`` (at b = 0 and 1 the
        end points themselves, without Fraction arithmetic)."""
        ints = integer_values(b)  # shared small Fractions: no Fraction comparisons
        if ints is not None and all(v in (0, 1) for v in ints):
            return [hi if v else lo for lo, hi, v in zip(self.low, self.high, ints, strict=True)]
        return [
            lo if v == 0 else hi if v == 1 else lo + (hi - lo) * Fraction(v)
            for lo, hi, v in zip(self.low, self.high, b, strict=True)
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "forcing_outputs": [f["output"] for f in self.forcing],
            "dropped_outputs": self.dropped_outputs,
            "pruned_units": self.pruned_units,
            "folded_layers": self.folded_layers,
            "fixed_coordinates": (
                self.fixed
                if self.fixed is not None
                else sum(1 for a, b in zip(self.low, self.high, strict=True) if a == b)
            ),
            "seconds": round(self.seconds, 6),
        }


def _value(consts: list[Fraction | None], k: int) -> Fraction:
    v = consts[k]
    assert v is not None, "a unit marked constant has a value"
    return v


def _box(problem: InversionProblem) -> tuple[list[Fraction], list[Fraction]] | None:
    kind = problem.domain.kind
    if kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        return list(problem.domain.lower), list(problem.domain.upper)
    if kind == "real" and problem.input_box is not None:
        return list(problem.input_box[0]), list(problem.input_box[1])
    return None


#: Activations the corner presolve analyses exactly; it declines any other network.
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})


def decline_reason(problem: InversionProblem) -> str | None:
    """Why the presolve cannot apply, from the problem's shape alone (cheap; remembered
    on the problem, which ``auto``, ``solve`` and the presolve each ask)."""
    return problem.derived("corner_decline", lambda: _decline_reason(problem))


def _decline_reason(problem: InversionProblem) -> str | None:
    if (
        not problem.is_exact_inversion
        and problem.threshold_pow is not None
        and (math.isinf(problem.p) or problem.p != int(problem.p))
    ):
        return "the near-corner presolve needs the threshold itself, not delta^p, for this p"
    if _box(problem) is None:
        return "the corner presolve needs a box (or a real domain with an input box)"
    bad = problem.network.first_layer_outside(HANDLED_ACTIVATIONS)
    if bad is not None:
        return f"the corner presolve handles ReLU and identity layers only ({bad})"
    first = problem.network.layers[0].weight
    if int(np.count_nonzero(first, axis=1).min()) > 1:
        # a float nonzero is an exact nonzero, so every first-layer unit mixes latents
        return (
            "the corner presolve needs units that depend on one latent coordinate; "
            "every first-layer unit mixes several"
        )
    if not problem.is_exact_inversion:
        from geninv.solvers.near_corners import near_analysis

        box = _box(problem)
        assert box is not None
        if near_analysis(problem, box) is None:
            return (
                "the near-corner presolve does not apply: no output within the threshold "
                "keeps every latent in two narrow intervals"
            )
    return None


#: The supports scan uses float64 matrix-vector products while (inputs) x (largest
#: latent index + 1) is below this (then every sum it forms is below 2^52).
_SCAN_PRODUCTS_BELOW = 2**26


def _float_layer_scan(weight: Any, support: list[int]) -> tuple[list[int], Any, Any]:
    """The supports of a float-exact layer's units from its inputs' (numpy): MULTI if
    some nonzero weight reads a MULTI input or two different latents, CONST if every
    nonzero weight reads a CONST input, else the one latent (the rule of
    :func:`_loop_supports`; a float weight is nonzero iff its exact value is); and the
    rows with exactly one nonzero weight on an input whose support is a latent, with
    that input (numpy arrays)."""
    prev = np.asarray(support, dtype=np.int64)
    nz = weight != 0
    count = nz.sum(axis=1)
    col = nz.argmax(axis=1)  # the one nonzero of a row with one (0 for an empty row)
    if not count.size or count.max() <= 1:
        # no row reads two inputs (e.g. clamps): a row's support is its input's
        got = prev[col]
        out = np.where(count == 0, CONST, got)
        rows = np.flatnonzero((count == 1) & (got >= 0))
        return out.tolist(), rows, col[rows]
    n_in = prev.size
    if n_in * (max(int(prev.max()), 0) + 1) < _SCAN_PRODUCTS_BELOW:
        # by matrix-vector products: per row, k latent inputs with supports s_j, their
        # sum S1 and sum of squares S2 (integers below 2^52: exact in float64, in any
        # order); the s_j are all equal iff S1^2 = k S2 (Cauchy-Schwarz), then S1 / k
        nzf = nz.astype(np.float64)
        pf = prev.astype(np.float64)
        lat = (pf >= 0).astype(np.float64)
        sup = pf * lat
        k = nzf @ lat
        s1 = nzf @ sup
        s2 = nzf @ (sup * sup)
        out_f = np.where(k == 0, CONST, np.where(s1 * s1 == k * s2, s1 / np.maximum(k, 1.0), MULTI))
        out_f[nzf @ (pf == MULTI).astype(np.float64) > 0] = MULTI
        rows = np.flatnonzero((count == 1) & (k == 1))
        return out_f.astype(np.int64).tolist(), rows, col[rows]
    latent = nz & (prev >= 0)[None, :]
    top = np.where(latent, prev, -1).max(axis=1)
    bottom = np.where(latent, prev, np.iinfo(np.int64).max).min(axis=1)
    out = np.where(top < 0, CONST, np.where(bottom == top, top, MULTI))
    multi_in = (nz & (prev == MULTI)[None, :]).any(axis=1)
    out[multi_in] = MULTI
    rows = np.flatnonzero((count == 1) & (latent.sum(axis=1) == 1))
    return out.tolist(), rows, col[rows]


def _exact_float(v: float) -> Fraction:
    """The exact value of a float (the shared Fraction of a small integer)."""
    if v.is_integer() and abs(v) <= 256:
        return small_fraction(int(v))
    return Fraction(v)


def _loop_supports(rows: list[Any], support: list[int]) -> list[int]:
    """The supports of :func:`_float_layer_scan` by a loop over exact sparse rows."""
    out: list[int] = []
    for idx, _ in rows:
        sup = CONST
        for k in idx:
            s = support[k]
            if s == CONST:
                continue
            if s == MULTI or (sup >= 0 and s != sup):
                sup = MULTI
                break
            sup = s
        out.append(sup)
    return out


def univariate_units(
    network: ReLUNetwork,
    lo: Sequence[Fraction],
    hi: Sequence[Fraction],
    upto: int,
    cache: _PLCache | None = None,
    history: list[_Units] | None = None,
) -> _Units:
    """Support, function and constant of every output unit of layer ``upto`` (0: the latents).

    ``support[j]`` is the one latent unit j depends on, ``CONST`` or ``MULTI``;
    ``funcs[j]`` its exact piecewise-linear function of that latent on
    [lo_i, hi_i] (breakpoints and values), ``consts[j]`` its value if constant.
    Supports of float-exact layers are found by whole-array passes, and only the
    rows of units that are not MULTI are read exactly.  ``history``, when given,
    receives ``(support, funcs, consts)`` of every layer up to ``upto`` in turn.
    """
    n = network.n_inputs
    pc = cache if cache is not None else _PLCache()
    # supports and univariate functions of every unit with at most one latent
    support: list[int] = list(range(n))
    # one leaf per box (integer boxes: looked up by their ints)
    lo_i, hi_i = integer_values(lo), integer_values(hi)
    funcs: list[_PL | None]
    if lo_i is not None and hi_i is not None:
        by_int: dict[tuple[int, int], _PL] = {}
        funcs = []
        for a, b, ai, bi in zip(lo, hi, lo_i, hi_i, strict=True):
            leaf = by_int.get((ai, bi))
            if leaf is None:
                leaf = by_int[ai, bi] = pc.leaf(a, b)
            funcs.append(leaf)
    else:
        funcs = [pc.leaf(a, b) for a, b in zip(lo, hi, strict=True)]
    consts: list[Fraction | None] = [None] * n
    for layer in network.layers[:upto]:
        relu = layer.activation == "relu"
        new_funcs: list[_PL | None] = [None] * layer.n_out
        new_consts: list[Fraction | None] = [None] * layer.n_out
        done: set[int] = set()
        if layer.exact_weight is None:
            # units that read one input with a latent support, a*f(z_s) + b: one exact
            # computation per distinct (a, b, f), found from the float arrays (a float
            # weight equals its exact value, so equal floats are equal rationals)
            new_support, one_rows, one_cols = _float_layer_scan(layer.weight, support)
            rows, cols = one_rows.tolist(), one_cols.tolist()
            a_vals = layer.weight[one_rows, one_cols].tolist()
            b_vals = layer.bias[one_rows].tolist()
            groups: dict[tuple[float, float, int], _PL] = {}
            for j, k, av, bv in zip(rows, cols, a_vals, b_vals, strict=True):
                f = funcs[k]
                assert f is not None
                key = (av, bv, id(f))  # f is kept alive by the cache
                pl = groups.get(key)
                if pl is None:
                    term = [(_exact_float(av), f)]
                    const = _exact_float(bv)
                    pl = groups[key] = pc.combine(term, const, lo[support[k]], relu)
                if len(pl[0]) > MAX_BREAKPOINTS:
                    new_support[j] = MULTI
                else:
                    new_funcs[j] = pl
            done.update(rows)
        else:
            new_support = _loop_supports(layer.exact_rows(), support)
        todo = (
            []
            if len(new_support) - new_support.count(MULTI) == len(done)  # done: no MULTI
            else [j for j, s in enumerate(new_support) if s != MULTI and j not in done]
        )
        bias = layer.exact_bias_values() if todo else []
        for j, (idx, coef) in zip(todo, layer.exact_rows_at(todo) if todo else (), strict=True):
            sup = new_support[j]
            const = bias[j]
            for k, c in zip(idx, coef, strict=True):
                if support[k] == CONST:
                    const += c * _value(consts, k)
            if sup == CONST:
                new_consts[j] = const if layer.activation == "identity" else max(const, Fraction(0))
                continue
            terms = [(c, f) for k, c in zip(idx, coef, strict=True) if (f := funcs[k]) is not None]
            pl = pc.combine(terms, const, lo[sup], relu)
            if len(pl[0]) > MAX_BREAKPOINTS:
                new_support[j] = MULTI
                continue
            new_funcs[j] = pl
        support, funcs, consts = new_support, new_funcs, new_consts
        if history is not None:
            history.append((support, funcs, consts))
    return support, funcs, consts


def corner_presolve(problem: InversionProblem) -> CornerPresolve | None:
    """Analyse ``problem`` (module docstring); None when the presolve does not apply."""
    if not problem.is_exact_inversion or decline_reason(problem) is not None:
        return None
    t0 = time.perf_counter()
    box = _box(problem)
    assert box is not None
    lo, hi = box
    n = problem.n
    net = problem.network
    layers = net.layers
    cache = _PLCache()
    result = CornerPresolve()
    support, funcs, consts = univariate_units(
        problem.network, lo, hi, len(layers) - 1, cache, result.units
    )
    extremes: dict[tuple[int, str], list[Fraction] | None] = {}  # (id(f), side) -> points
    sums: dict[tuple[tuple[int, int], ...], _PL] = {}  # ids of a sum's terms -> the sum
    # forcing outputs
    last = layers[-1]
    x = problem.target
    allowed: list[frozenset[Fraction] | None] = [None] * n
    # only the outputs that read no MULTI unit can force: their rows alone are read
    # exactly (a nonzero exact weight whose float is 0 is caught in the loop)
    reads_multi = ((last.weight != 0) & (np.asarray(support) == MULTI)[None, :]).any(axis=1)
    candidates = np.flatnonzero(~reads_multi).tolist()
    last_bias = last.exact_bias_values()
    extreme_values: dict[int, tuple[Fraction, Fraction]] = {}  # id(f) -> (max, min)
    # id of an extreme-point list (kept in ``extremes``) -> its frozenset, and id of an
    # allowed set (kept in ``point_sets`` or ``allowed``) -> its (min, max)
    point_sets: dict[int, frozenset[Fraction]] = {}
    sorted_ends: dict[int, tuple[Fraction, Fraction]] = {}
    rows = last.exact_rows_at(candidates) if candidates else []
    for o, (idx, coef) in zip(candidates, rows, strict=True):
        if any(support[k] == MULTI for k in idx):
            continue
        const = last_bias[o]
        per: dict[int, list[tuple[Fraction, _PL]]] = {}
        for k, c in zip(idx, coef, strict=True):
            if support[k] == CONST:
                const += c * _value(consts, k)
            else:
                f = funcs[k]
                assert f is not None
                per.setdefault(support[k], []).append((c, f))
        # a single term of weight 1 is the function itself (the cache would only drop
        # collinear breakpoints, which change neither its extremes nor where it
        # attains them); the terms of one gadget repeat for every coordinate: looked up
        # by the ids of their weights and functions (alive in rows and the cache)
        fs: dict[int, _PL] = {}
        for i, t in per.items():
            if len(t) == 1 and t[0][0] == 1:
                fs[i] = t[0][1]
                continue
            tkey = tuple([(id(c), id(f)) for c, f in t])
            got = sums.get(tkey)
            if got is None:
                got = sums[tkey] = cache.combine(t, _ZERO, lo[i])
            fs[i] = got
        # the extremes of each distinct function once, times how often it occurs
        distinct: dict[int, _PL] = {id(f): f for f in fs.values()}  # f alive in the cache
        times = Counter(map(id, fs.values()))
        tops: list[Fraction] = []
        bottoms: list[Fraction] = []
        for fid, f in distinct.items():
            ext = extreme_values.get(fid)
            if ext is None:
                ext = extreme_values[fid] = (max(f[1]), min(f[1]))
            tops += [ext[0]] * times[fid]
            bottoms += [ext[1]] * times[fid]
        smax = const + _exact_sum(tops)
        smin = const + _exact_sum(bottoms)
        xo = x[o]
        if last.activation == "relu" and xo < 0:
            continue  # a negative target of a ReLU output: left to the solvers
        need_le0 = last.activation == "relu" and xo == 0
        detail = {
            "output": o,
            "target": str(xo),
            "range": [str(smin), str(smax)],
            "separable_in": len(fs),
        }
        if (need_le0 and smin > 0) or (not need_le0 and not smin <= xo <= smax):
            result.infeasible = {
                "kind": "corner presolve: target out of range",
                "detail": (
                    f"output {o}'s pre-activation is a sum of univariate piecewise-linear "
                    f"functions of the latent whose exact range over the box is [{smin}, {smax}]; "
                    + (
                        "the target 0 of this ReLU output needs it <= 0"
                        if need_le0
                        else f"the target needs it to equal {xo}"
                    )
                ),
                **detail,
            }
            result.seconds = time.perf_counter() - t0
            return result
        if need_le0:
            side = "min" if smin == 0 else None
        else:
            side = "max" if xo == smax else ("min" if xo == smin else None)
        if side is None:
            continue
        # the points where each distinct function attains that extreme, as a frozenset
        # (one per distinct set: hashing Fractions is slow)
        here_of: dict[int, frozenset[Fraction] | None] = {}
        for fid, f in distinct.items():
            key = (fid, side)
            if key not in extremes:
                extremes[key] = _extreme_set(f, extreme_values[fid][0 if side == "max" else 1])
            pts_f = extremes[key]
            if pts_f is None:
                here_of[fid] = None
                continue
            here = point_sets.get(id(pts_f))
            if here is None:
                here = point_sets[id(pts_f)] = frozenset(pts_f)
            here_of[fid] = here
        if None in here_of.values():
            continue  # attained on an interval: not a finite set
        for i, f in fs.items():
            cur, here = allowed[i], here_of[id(f)]
            assert here is not None
            allowed[i] = here if cur is None else cur & here
        result.forcing.append({**detail, "side": side})
        result.dropped_outputs.append(o)
    if not result.forcing:
        return None
    fixed = 0
    for i in range(n):
        a = allowed[i]
        if a is None or len(a) > 2:
            return None
        if not a:
            result.infeasible = {
                "kind": "corner presolve: incompatible forcing outputs",
                "detail": f"the forcing outputs leave latent {i} no admissible value",
                "forcing": result.forcing,
            }
            result.seconds = time.perf_counter() - t0
            return result
        ends = sorted_ends.get(id(a))  # the sets are shared between coordinates
        if ends is None:
            pts = sorted(a)
            ends = sorted_ends[id(a)] = (pts[0], pts[-1])
        fixed += len(a) == 1
        result.low.append(ends[0])
        result.high.append(ends[1])
    result.fixed = fixed
    result.binary, result.pruned_units = _binary_problem(problem, result)
    result.seconds = time.perf_counter() - t0
    return result


def _float_exact(v: Fraction) -> bool:
    """Whether ``v`` is a float64 exactly (dyadic with a 53-bit numerator: quick test first)."""
    d = v.denominator
    if d & (d - 1) == 0 and abs(v.numerator) < 2**53 and d.bit_length() < 1000:
        return True
    return Fraction(float(v)) == v


def _dense(rows: list[dict[int, Fraction]], cols: list[int]) -> Any:
    """A dense weight matrix: float64 when every entry is a float exactly, else Fractions."""
    pos = {k: c for c, k in enumerate(cols)}
    entries = [(j, pos[k], v) for j, row in enumerate(rows) for k, v in row.items() if k in pos]
    if all(_float_exact(v) for _, _, v in entries):
        out = np.zeros((len(rows), len(cols)), dtype=np.float64)
        for j, c, v in entries:
            out[j, c] = float(v)
        return out
    dense = [[Fraction(0)] * len(cols) for _ in rows]
    for j, c, v in entries:
        dense[j][c] = v
    return dense


def _vector(values: list[Fraction]) -> Any:
    if all(_float_exact(v) for v in values):
        return np.array([float(v) for v in values], dtype=np.float64)
    return values


def _kept_outputs(problem: InversionProblem, pre: CornerPresolve) -> list[int]:
    """The outputs the binary problem keeps: all but the forcing ones, and at least one
    (then the first forcing output stays, and is no longer listed as dropped)."""
    dropped = set(pre.dropped_outputs)
    keep_out = [o for o in range(problem.network.layers[-1].n_out) if o not in dropped]
    if not keep_out:
        keep_out = [pre.dropped_outputs[0]]
        pre.dropped_outputs = pre.dropped_outputs[1:]
    return keep_out


def _binary_problem_float(
    problem: InversionProblem, pre: CornerPresolve
) -> tuple[InversionProblem, int] | None:
    """:func:`_binary_problem` in float64 arrays, from the univariate analysis; the same
    network as the Fraction path, zeros included.  None when it does not apply.

    Let L be the first layer with a kept unit that depends on several latents (the
    last layer if there is none).  Every kept unit k of layer L - 1 depends on at
    most one latent s (``pre.units``: its function f, or its constant value), so
    on ``z_s = low_s + (high_s - low_s) b_s`` it is ``alpha_k + beta_k b_s`` with
    ``alpha_k = f(low_s)``, ``beta_k = f(high_s) - f(low_s)`` (a constant unit:
    its value and 0).  For L = 0 the inputs are the latents themselves:
    ``alpha = low``, ``beta = high - low``.  Layer L becomes ``W B`` and
    ``b + W alpha`` (``B[k, s_k] = beta_k``), the layers after it are copied, the
    layers before it are gone: what substituting and then folding layer by layer
    (:func:`fold_discrete_prefix`, which the Fraction path does) gives, as each of
    those layers' kept rows reads one latent.  Folds beyond L are left to
    ``fold_discrete_prefix``.  Applies when no layer holds Fractions, the kept block
    of layer L, ``alpha`` and ``beta`` are integers and every sum of layer L stays
    below 2^50 in magnitude (then float64 is exact, whatever order BLAS adds in).
    """
    layers = problem.network.layers
    if any(layer.exact_weight is not None or layer.exact_bias is not None for layer in layers):
        return None
    keep_out = _kept_outputs(problem, pre)
    keep: list[Any] = [None] * len(layers)
    keep[-1] = np.array(keep_out, dtype=np.intp)
    pruned = 0
    for index in range(len(layers) - 1, 0, -1):
        rows = layers[index].weight[keep[index]]
        used = np.flatnonzero((rows != 0).any(axis=0))
        if not used.size:
            used = np.zeros(1, dtype=np.intp)
        pruned += layers[index - 1].n_out - used.size
        keep[index - 1] = used
    first = 0  # L
    for index, (support, _, _) in enumerate(pre.units):
        if MULTI in [support[j] for j in keep[index].tolist()]:
            break
        first = index + 1
    alpha: list[int] = []
    beta: list[int] = []
    col: list[int] = []
    if first == 0:
        if any(v.denominator != 1 for v in (*pre.low, *pre.high)):
            return None
        alpha = [v.numerator for v in pre.low]
        beta = [h.numerator - v for h, v in zip(pre.high, alpha, strict=True)]
    else:
        support, funcs, consts = pre.units[first - 1]
        # f(low_s), f(high_s) by the ids of f, low_s and high_s (alive in pre): the
        # coordinates of one gadget share all three
        ends: dict[tuple[int, int, int], list[int] | None] = {}  # ints, None: not ints
        low, high = pre.low, pre.high
        for k in keep[first - 1].tolist():
            s = support[k]
            if s == CONST:
                pair = integer_values([_value(consts, k)] * 2)
                s = 0
            else:
                f = funcs[k]
                assert f is not None
                key = (id(f), id(low[s]), id(high[s]))
                if key in ends:
                    pair = ends[key]
                else:
                    pair = ends[key] = integer_values(_eval_pl(f, [low[s], high[s]]))
            if pair is None:
                return None
            alpha.append(pair[0])
            beta.append(pair[1] - pair[0])
            col.append(s)
    layer = layers[first]
    w = layer.weight[keep[0]] if first == 0 else _block(layer.weight, keep[first], keep[first - 1])
    b = layer.bias[keep[first]]
    if not (bool((np.trunc(w) == w).all()) and bool((np.trunc(b) == b).all())):
        return None
    top = max(map(abs, alpha), default=0) + max(map(abs, beta), default=0)
    if top >= 2**50:
        return None
    rmax = float(np.abs(w).sum(axis=1).max(initial=0.0))
    if rmax * top + float(np.abs(b).max(initial=0.0)) >= 2.0**50:
        return None
    a = np.array(alpha, dtype=np.float64)
    bt = np.array(beta, dtype=np.float64)
    if first == 0:
        merged = w * bt + 0.0  # (+ 0.0: no -0.0)
    else:
        onehot = np.zeros((len(col), problem.n))
        onehot[np.arange(len(col)), col] = bt
        merged = w @ onehot + 0.0
    weights: list[Any] = [merged]
    biases: list[Any] = [b + w @ a + 0.0]
    for index in range(first + 1, len(layers)):
        weights.append(_block(layers[index].weight, keep[index], keep[index - 1]) + 0.0)
        biases.append(layers[index].bias[keep[index]] + 0.0)
    # fresh float64 arrays, each entry a float of the network or an exact integer sum
    new_layers = []
    for wl, bl, src in zip(weights, biases, layers[first:], strict=True):
        wl.setflags(write=False)
        bl.setflags(write=False)
        new_layers.append(Layer(wl, bl, src.activation, negative_slope=src.negative_slope))
    binary_net = ReLUNetwork.from_layers(new_layers)
    binary_net, more = fold_discrete_prefix(binary_net, (0, 1))
    pre.folded_layers = first + more
    target = [problem.target[o] for o in keep_out]
    return InversionProblem(binary_net, target, Domain("binary"), p=problem.p), pruned


def _block(a: Any, rows: Any, cols: Any) -> Any:
    """``a[np.ix_(rows, cols)]`` for sorted distinct indices; an index array that takes
    every row (or column) is a plain slice (no fancy indexing on that axis)."""
    all_rows, all_cols = rows.size == a.shape[0], cols.size == a.shape[1]
    if all_rows and all_cols:
        return a
    if all_cols:
        return a[rows]
    if all_rows:
        return a[:, cols]
    return a[np.ix_(rows, cols)]


def _binary_problem(problem: InversionProblem, pre: CornerPresolve) -> tuple[InversionProblem, int]:
    """The binary problem: substituted first layer, forcing outputs dropped, dead units pruned."""
    fast = _binary_problem_float(problem, pre)
    if fast is not None:
        return fast
    layers = problem.network.layers
    n_layers = len(layers)
    rows_all = [layer.exact_rows() for layer in layers]
    sparse = [[dict(zip(idx, coef, strict=True)) for idx, coef in rows] for rows in rows_all]
    biases = [list(layer.exact_bias_values()) for layer in layers]
    # substitute z = low + (high - low) b in the first layer
    scale = [h - lo for lo, h in zip(pre.low, pre.high, strict=True)]
    for j, row in enumerate(sparse[0]):
        biases[0][j] += sum((c * pre.low[k] for k, c in row.items()), Fraction(0))
        sparse[0][j] = {k: c * scale[k] for k, c in row.items() if scale[k] != 0}
    keep_out = _kept_outputs(problem, pre)
    keep: list[list[int]] = [[] for _ in range(n_layers)]
    keep[-1] = keep_out
    pruned = 0
    for index in range(n_layers - 1, 0, -1):
        used = sorted({k for j in keep[index] for k, c in sparse[index][j].items() if c != 0})
        if not used:
            used = [0]
        pruned += layers[index - 1].n_out - len(used)
        keep[index - 1] = used
    weights: list[Any] = []
    bs: list[Any] = []
    prev = list(range(problem.n))
    for index in range(n_layers):
        weights.append(_dense([sparse[index][j] for j in keep[index]], prev))
        bs.append(_vector([biases[index][j] for j in keep[index]]))
        prev = keep[index]
    binary_net = ReLUNetwork(weights, bs, activations=[layer.activation_label for layer in layers])
    # on {0,1}^n, leading layers of one-latent units are affine: fold them away
    binary_net, pre.folded_layers = fold_discrete_prefix(binary_net, (0, 1))
    target = [problem.target[o] for o in keep_out]
    return InversionProblem(binary_net, target, Domain("binary"), p=problem.p), pruned


@register
class CornersBackend(Backend):
    """Corner presolve, then the best backend for the binary problem it leaves."""

    name = "corners"
    summary = (
        "inversion over a box whose output target forces every latent onto two values "
        "(exactly, or within the threshold onto two narrow intervals): solved as a binary "
        "problem (modules geninv.solvers.corners, geninv.solvers.near_corners)"
    )
    capabilities = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
    )
    modules = ()
    no_basis = "exact"  # the presolve's exact ranges; a sub-proof's own basis is copied

    def __init__(self, method: str = "auto") -> None:
        self.method = method

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        return decline_reason(problem) or super().unsupported_reason(problem)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        from geninv.solvers.base import solve

        start = time.perf_counter()
        pre = corner_presolve(problem)
        if pre is None:
            from geninv.solvers.near_corners import solve_near

            box = _box(problem)
            assert box is not None
            near = solve_near(problem, box, self.method, time_limit, seed, progress)
            if near is not None:
                return near
            raise UnsupportedError(
                "the corner presolve does not apply: no output forces every latent "
                "coordinate onto at most two values"
            )
        stats: dict[str, Any] = {"corner_presolve": pre.summary()}
        if pre.infeasible is not None:
            return Solution(
                Status.NO, "corners", proof=pre.infeasible, stats=stats, seconds=pre.seconds
            )
        assert pre.binary is not None
        left = None if time_limit is None else max(time_limit - pre.seconds, 1e-3)
        sub = solve(pre.binary, self.method, time_limit=left, seed=seed, progress=progress)
        stats["binary_solution"] = {
            "method": sub.method,
            "status": sub.status.value,
            "seconds": round(sub.seconds, 6),
            "network": pre.binary.network.describe(),
        }
        stats.update({f"binary_{k}": v for k, v in sub.stats.items() if k in ("auto",)})
        if sub.stats.get("uncertified_no"):  # auto then goes on to the next candidate
            stats["uncertified_no"] = True
        seconds = time.perf_counter() - start
        if sub.status is Status.YES:
            assert sub.z is not None
            return Solution(Status.YES, "corners", z=pre.lift(sub.z), stats=stats, seconds=seconds)
        if sub.status is Status.NO:
            proof = {
                "kind": "corner presolve + binary proof",
                "forcing": pre.forcing,
                "lemma": (
                    "each forcing output is a sum of univariate piecewise-linear terms whose "
                    "target is their sum of maxima (or minima), so every witness has each z_i "
                    "in {low_i, high_i}; the binary problem on those values has no witness"
                ),
                "low": [str(v) for v in pre.low],
                "high": [str(v) for v in pre.high],
                "binary_proof": sub.proof,
            }
            assert sub.proof is not None
            for key in ("basis", "trusted"):  # the binary proof's standing is this proof's
                if key in sub.proof:
                    proof[key] = sub.proof[key]
            return Solution(Status.NO, "corners", proof=proof, stats=stats, seconds=seconds)
        return Solution(
            Status.UNKNOWN,
            "corners",
            reason=f"binary problem: {sub.reason}",
            stats=stats,
            seconds=seconds,
        )
