"""Float bounds on every unit's pre-activation over a box: the one float interval step.

Every float interval propagation in geninv goes through this module (issue 16):
the bab search, the MILP/MIQP bound computation
(:func:`geninv.solvers.milp.compute_bounds`), the power-of-two scaling
(:func:`geninv.solvers.numerics.scale_problem`) and the snapping reduction.
The exact (``Fraction``) bounds of the proof checkers are computed apart, on
purpose: a checker never imports its producer.

The step
--------
:func:`affine_bounds` bounds one affine layer ``a = W h + b`` over a box
``lo <= h <= hi`` in float64, in one of two forms (kept apart because callers
were built on each and their big-M constants must not move by an ulp):

* ``"split"``: ``lo' = W+ lo + W- hi + b``, ``hi' = W+ hi + W- lo + b``
  (``W+ = max(W, 0)``, ``W- = min(W, 0)``);
* ``"centre"``: ``c = W m + b``, ``r = |W| rad``, ``[c - r, c + r]`` with
  ``m = lo/2 + hi/2``, ``rad = hi/2 - lo/2``;

and returns the magnitude ``mag = |W| max(|lo|, |hi|) + |b|`` as well: it
bounds ``sum_k |w_jk h_k| + |b_j|`` over the box, so it bounds the rounding
error of either form and is what error accounting needs.  Both forms are
widened by a :class:`Margin`: ``pad = rel * mag + floor``, ``lo' - pad``,
``hi' + pad``.

Why the widening is outward-safe: with unit roundoff ``u = 2^-53``, a float dot
product of length ``n`` is off by at most ``gamma_n sum |x_k y_k|``
(``gamma_n = n u / (1 - n u)``, any summation order; Higham, *Accuracy and
Stability of Numerical Algorithms*, 3.1).  Either form adds at most four more
roundings per row (the bias, the two halves of the centre form, ``c - r``, the
pad), so its error is below ``(n + 8) u mag`` (``mag`` itself is computed with
relative error below ``gamma_{n+1}``, absorbed by the factor 1.01 of
:func:`rounding_rel`).  The ``rel`` actually used is therefore
``max(margin.rel, rounding_rel(n))``: for the margins in use
(``REL_MARGIN = 1e-12``, the MILP's ``1e-9``) that is ``margin.rel`` itself up
to ``n = 8900`` (resp. 8.9e6) inputs per unit, so the numbers are the ones
these callers always computed, and wider only where they would not have been
safe.  Underflow adds at most ``2^-1075`` per product, covered by ``floor``.

Propagation
-----------
:func:`propagate` applies the step layer by layer with an activation map
(:func:`activation_bounds`: relu, leaky_relu with slope ``alpha >= 0``,
identity, and the monotone sigmoid / tanh, rounded outward), optional phase
fixings (active: ``lo >= 0``; inactive: ``hi <= 0``) after each step.
:func:`interval_bounds` is the bab's instance (split form, :data:`BAB_MARGIN`).

Two bounds for piecewise-linear networks (relu, leaky_relu with slope
``alpha >= 0``, identity) serve the bab search, both outward-safe:

* :func:`interval_bounds`: the interval propagation above.
* :func:`linear_bounds`: back-substitution (CROWN / DeepPoly style).  Each
  unstable unit ``a = f(h)``, ``f(h) = max(h, alpha h)``, ``h in [l, u]``, is
  bounded by two lines: above by the chord ``m (h - l) + f(l)``,
  ``m = (f(u) - f(l)) / (u - l)``, below by ``lam h`` with ``lam = 1`` when
  ``u >= -l`` and ``alpha`` otherwise (both valid since f is convex).  A
  linear form in ``a^{l}`` is carried back to ``z`` by replacing each ``a``
  with the line that bounds it in the needed direction (by the sign of its
  coefficient), and finally maximised / minimised over the box.  The result is
  intersected with the interval bound.

The bab search uses these bounds to decide which units are stable, to score
branching candidates, and for the node LP's column bounds; none of them is
trusted for a *no*: the proof checker (:mod:`geninv.proofcheck`) recomputes
exact interval bounds itself.  Leaky slopes above 1 (``f`` concave) get the
mirrored lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from geninv.network import FloatArray, Layer, ReLUNetwork, elu_float

#: Relative widening of every bab float interval and an absolute floor (see the module
#: docstring for the lengths it covers; :func:`rounding_rel` takes over beyond).
REL_MARGIN = 1e-12
ABS_MARGIN = 1e-300
#: Unit roundoff of float64 (round to nearest).
ROUND_UNIT = 2.0**-53

Fixings = Mapping[tuple[int, int], int]
#: The two forms of the interval step (module docstring).
Form = Literal["split", "centre"]


@dataclass(frozen=True)
class Margin:
    """Outward widening ``pad = max(rel, rounding_rel(n)) * mag + floor``.

    ``floor_at_zero=False`` leaves a unit whose magnitude is exactly 0 unpadded
    (its interval is then exactly ``[b, b]`` with ``b = 0``: nothing was rounded)."""

    rel: float = REL_MARGIN
    floor: float = ABS_MARGIN
    floor_at_zero: bool = True


#: The bab's (and the snapping reduction's) margin.
BAB_MARGIN = Margin()


def rounding_rel(n: int) -> float:
    """A relative pad (of ``mag``) that covers the rounding of one step with ``n`` inputs."""
    k = (n + 8) * ROUND_UNIT
    return 1.01 * k / (1.0 - k)


def affine_bounds(
    weight: FloatArray,
    bias: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    *,
    form: Form = "split",
    margin: Margin | None = BAB_MARGIN,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bounds of ``W h + b`` over ``lo <= h <= hi`` and ``mag = |W| max(|lo|, |hi|) + |b|``.

    ``form`` picks the formula and ``margin`` the outward widening (module
    docstring); ``margin=None`` returns the float interval as computed (round to
    nearest: not outward-safe; for magnitudes only)."""
    wa = np.abs(weight)
    if form == "split":
        wp, wn = np.maximum(weight, 0.0), np.minimum(weight, 0.0)
        out_lo = wp @ lo + wn @ hi + bias
        out_hi = wp @ hi + wn @ lo + bias
    else:
        mid = 0.5 * lo + 0.5 * hi
        rad = 0.5 * hi - 0.5 * lo
        centre = weight @ mid + bias
        radius = wa @ rad
        out_lo, out_hi = centre - radius, centre + radius
    mag: FloatArray = wa @ np.maximum(np.abs(lo), np.abs(hi)) + np.abs(bias)
    if margin is None:
        return out_lo, out_hi, mag
    rel = max(margin.rel, rounding_rel(int(weight.shape[1])))
    floor = margin.floor if margin.floor_at_zero else np.where(mag > 0, margin.floor, 0.0)
    pad = rel * mag + floor
    return out_lo - pad, out_hi + pad, mag


def _sigmoid(v: FloatArray) -> FloatArray:
    """``1 / (1 + e^-v)`` without cancellation: ``e^v / (1 + e^v)`` for ``v < 0``
    (``(1 + tanh(v / 2)) / 2`` loses every digit there)."""
    e = np.exp(-np.abs(v))
    out: FloatArray = np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out


def _tanh(v: FloatArray) -> FloatArray:
    out: FloatArray = np.tanh(v)
    return out


#: Each smooth activation, in float, and the range it is clipped to.
_SMOOTH: dict[str, tuple[Callable[[FloatArray], FloatArray], float, float]] = {
    "sigmoid": (_sigmoid, 0.0, 1.0),
    "tanh": (_tanh, -1.0, 1.0),
}
#: Relative and absolute widening of a float sigmoid / tanh value (libm's tanh and exp
#: are within a few ulp, 1e-12 relative is about 4500 ulp; sigmoid adds two roundings).
SMOOTH_REL = 1e-12
SMOOTH_ABS = 1e-300


def activation_bounds(
    lo: FloatArray, hi: FloatArray, kind: str, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """Bounds of ``f(h)`` over ``lo <= h <= hi`` for a monotone activation ``f``.

    relu / leaky_relu (``f(h) = max(h, alpha h)``, ``alpha >= 0``; exact in
    float: ``alpha h`` rounds toward the same side of 0 and relu's ``alpha`` is
    0) and identity (copies); sigmoid and tanh are evaluated in float and
    widened outward by ``SMOOTH_REL |f| + SMOOTH_ABS``, then clipped to their
    range.  Any other kind raises ValueError."""
    if kind == "identity":
        return lo.copy(), hi.copy()
    if kind in ("relu", "leaky_relu"):
        return np.where(lo >= 0, lo, alpha * lo), np.where(hi >= 0, hi, alpha * hi)
    if kind == "elu":  # alpha expm1 (h <= 0), widened like sigmoid / tanh; >= -alpha
        flo, fhi = elu_float(lo, alpha), elu_float(hi, alpha)
        flo = np.maximum(flo - (SMOOTH_REL * np.abs(flo) + SMOOTH_ABS), -alpha)
        fhi = np.where(hi > 0, fhi, fhi + (SMOOTH_REL * np.abs(fhi) + SMOOTH_ABS))
        return flo, fhi
    if kind in _SMOOTH:
        f, bottom, top = _SMOOTH[kind]
        flo, fhi = f(lo), f(hi)
        flo = np.maximum(flo - (SMOOTH_REL * np.abs(flo) + SMOOTH_ABS), bottom)
        fhi = np.minimum(fhi + (SMOOTH_REL * np.abs(fhi) + SMOOTH_ABS), top)
        return flo, fhi
    raise ValueError(f"no interval map for the activation {kind!r}")


def _fix(lo: FloatArray, hi: FloatArray, layer: int, fixed: Fixings) -> None:
    for (li, j), ph in fixed.items():
        if li == layer:
            if ph == 1:
                lo[j] = max(lo[j], 0.0)
            else:
                hi[j] = min(hi[j], 0.0)


def propagate(
    layers: Sequence[Layer],
    lo: FloatArray,
    hi: FloatArray,
    *,
    form: Form = "split",
    margin: Margin | None = BAB_MARGIN,
    fixed: Fixings | None = None,
) -> list[tuple[FloatArray, FloatArray]]:
    """Every layer's pre-activation bounds: :func:`affine_bounds`, the fixings of
    that layer (1-based), then :func:`activation_bounds` into the next layer.

    An entry with ``lo > hi`` means the fixings make the box empty."""
    out: list[tuple[FloatArray, FloatArray]] = []
    plo, phi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    for idx, layer in enumerate(layers, start=1):
        w = np.asarray(layer.weight, dtype=np.float64)
        b = np.asarray(layer.bias, dtype=np.float64)
        l_, u_, _ = affine_bounds(w, b, plo, phi, form=form, margin=margin)
        if fixed:
            _fix(l_, u_, idx, fixed)
        out.append((l_, u_))
        plo, phi = activation_bounds(l_, u_, layer.activation, float(layer.negative_slope))
    return out


def layer_info(net: ReLUNetwork) -> list[tuple[FloatArray, FloatArray, str, float]]:
    """Each layer as ``(W, b, activation, negative slope)`` in float64, the form
    :func:`back_substitute` reads."""
    return [
        (
            np.asarray(la.weight, dtype=np.float64),
            np.asarray(la.bias, dtype=np.float64),
            la.activation,
            float(la.negative_slope),
        )
        for la in net.layers
    ]


def _widen(lo: FloatArray, hi: FloatArray, mag: FloatArray) -> tuple[FloatArray, FloatArray]:
    pad = REL_MARGIN * mag + ABS_MARGIN
    return lo - pad, hi + pad


def interval_bounds(
    net: ReLUNetwork, lo: FloatArray, hi: FloatArray, fixed: Fixings
) -> list[tuple[FloatArray, FloatArray]]:
    """Outward interval bounds of every layer's pre-activations (fixings applied):
    :func:`propagate` in the split form with :data:`BAB_MARGIN`.

    An entry with ``lo > hi`` means the fixings make the node empty."""
    return propagate(net.layers, lo, hi, form="split", margin=BAB_MARGIN, fixed=fixed)


def relaxation_lines(
    lo: FloatArray, hi: FloatArray, kind: str, alpha: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(lower slope, lower intercept, upper slope, upper intercept) of ``a = f(h)``
    over ``h in [lo, hi]`` per unit (see the module docstring)."""
    n = lo.shape[0]
    if kind == "identity":
        one = np.ones(n)
        return one, np.zeros(n), one.copy(), np.zeros(n)
    active = lo >= 0
    inactive = hi <= 0
    unstable = ~(active | inactive)
    ls = np.where(active, 1.0, alpha)
    us = ls.copy()
    li = np.zeros(n)
    ui = np.zeros(n)
    if unstable.any():
        lu, uu = lo[unstable], hi[unstable]
        flo, fhi = alpha * lu, uu
        m = (fhi - flo) / (uu - lu)
        chord_i = flo - m * lu
        lam = np.where(uu >= -lu, 1.0, alpha) if alpha <= 1 else np.where(uu >= -lu, alpha, 1.0)
        if alpha <= 1:
            us[unstable], ui[unstable] = m, chord_i
            ls[unstable] = lam
        else:
            ls[unstable], li[unstable] = m, chord_i
            us[unstable] = lam
    return ls, li, us, ui


Lines = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


def back_substitute(
    info: Sequence[tuple[FloatArray, FloatArray, str, float]],
    lines: Sequence[Lines],
    k: int,
    sense: float,
    zlo: FloatArray,
    zhi: FloatArray,
    names: Sequence[tuple[list[str], list[str]]] | None = None,
) -> tuple[FloatArray, list[dict[str, float]]]:
    """Lower (``sense = -1``) or upper (``+1``) bounds of layer ``k``'s (0-based)
    pre-activations by back-substitution through the relaxation ``lines`` of the
    layers below (module docstring): maximise ``sense (W a + b)`` with each ``a``
    replaced by its upper line where its coefficient is positive and its lower line
    where negative, down to the box.  With ``names`` (:func:`line_names` per layer),
    also each unit's nonnegative multipliers by row name (the lemma's ``y``)."""
    w, b = info[k][0], info[k][1]
    lam = sense * w  # maximise lam . a^{k} + sense * b
    const = sense * b
    ys: list[dict[str, float]] = [{} for _ in range(w.shape[0])]
    for j in range(k - 1, -1, -1):
        ls, li, us, ui = lines[j]
        pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
        if names is not None:
            up, low = names[j]
            for u, i in zip(*np.nonzero(pos), strict=True):
                ys[u][f"L{j + 1}.{i}.{up[i]}"] = float(pos[u, i])
            for u, i in zip(*np.nonzero(neg), strict=True):
                key = f"L{j + 1}.{i}.{low[i]}"
                ys[u][key] = ys[u].get(key, 0.0) - float(neg[u, i])
        const = const + pos @ ui + neg @ li
        lam = pos * us + neg * ls  # coefficients on h^{j+1}
        const = const + lam @ info[j][1]
        lam = lam @ info[j][0]
    top = const + np.maximum(lam, 0.0) @ zhi + np.minimum(lam, 0.0) @ zlo
    out: FloatArray = sense * top
    return out, ys


def linear_bounds(
    net: ReLUNetwork, lo: FloatArray, hi: FloatArray, fixed: Fixings
) -> list[tuple[FloatArray, FloatArray]]:
    """Back-substitution bounds of every layer's pre-activations, intersected with
    the interval bounds and outward-widened (see the module docstring)."""
    info = layer_info(net)
    ibounds = interval_bounds(net, lo, hi, fixed)
    zlo, zhi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    bounds: list[tuple[FloatArray, FloatArray]] = []
    lines: list[Lines] = []
    for k, (_, _, kind, alpha) in enumerate(info):
        if k == 0:
            bounds.append(ibounds[0])
        else:
            l_ = back_substitute(info, lines, k, -1.0, zlo, zhi)[0]
            u_ = back_substitute(info, lines, k, 1.0, zlo, zhi)[0]
            mag = np.abs(l_) + np.abs(u_) + 1.0
            l_, u_ = _widen(l_, u_, mag * 1e3)
            il, iu = ibounds[k]
            l_, u_ = np.maximum(l_, il), np.minimum(u_, iu)
            _fix(l_, u_, k + 1, fixed)
            bounds.append((l_, u_))
        l_, u_ = bounds[k]
        lines.append(relaxation_lines(l_, np.maximum(u_, l_), kind, alpha))
    return bounds


def unstable_units(
    bounds: Sequence[tuple[FloatArray, FloatArray]], net: ReLUNetwork, fixed: Fixings
) -> list[tuple[int, int]]:
    """The (layer, unit) pairs, not fixed and not identity, whose interval contains 0
    in its interior."""
    out: list[tuple[int, int]] = []
    for idx, ((lo, hi), layer) in enumerate(zip(bounds, net.layers, strict=True), start=1):
        if layer.activation == "identity":
            continue
        for j in np.nonzero((lo < 0) & (hi > 0))[0].tolist():
            if (idx, j) not in fixed:
                out.append((idx, j))
    return out


#: a bound lemma as the producer proposes it: (layer, unit, "lo" | "hi", multipliers by
#: row name, float value)
FloatLemma = tuple[int, int, str, dict[str, float], float]


def line_names(
    lo: FloatArray, hi: FloatArray, kind: str, alpha: float
) -> tuple[list[str], list[str]]:
    """Row names (proof checker's) of each unit's upper and lower relaxation line."""
    up: list[str] = []
    low: list[str] = []
    for j in range(lo.shape[0]):
        if kind == "identity" or lo[j] >= 0:
            up.append("le")
            low.append("ge")
        elif hi[j] <= 0:
            up.append("sle")
            low.append("sge")
        elif alpha <= 1:
            up.append("chord")
            low.append("ge" if hi[j] >= -lo[j] else "sge")
        else:
            up.append("le" if hi[j] < -lo[j] else "sle")
            low.append("chord")
    return up, low


def node_bounds(
    net: ReLUNetwork,
    lo: FloatArray,
    hi: FloatArray,
    fixed: Fixings,
    inherited: Mapping[tuple[int, int, str], float],
    min_gain: float = 0.05,
    lemma_layers: int | None = None,
) -> tuple[list[tuple[FloatArray, FloatArray]], list[FloatLemma]]:
    """Bounds of a bab node and the lemmas that justify their tighter parts.

    Layer by layer: outward interval bounds from the previous layer's final bounds,
    intersected with ``inherited`` (lemma bounds of ancestors); then, from layer 2
    on, back-substitution bounds (:func:`linear_bounds`' lines) whose back-substitution
    coefficients *are* nonnegative multipliers over the earlier layers' relaxation
    rows (positive coefficient: the unit's upper line, negative: its lower line).
    Where such a bound of an unstable relu / leaky unit beats the interval one by
    more than ``min_gain`` of the width, it is used (loosened by 1e-9 relative)
    and returned as a lemma for the checker to verify (on layers up to ``lemma_layers``
    only, when given).  Then the fixings."""
    info = layer_info(net)
    zlo, zhi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    plo, phi = zlo, zhi
    bounds: list[tuple[FloatArray, FloatArray]] = []
    lines: list[Lines] = []
    names: list[tuple[list[str], list[str]]] = []
    lemmas: list[FloatLemma] = []
    for k, (w, b, kind, alpha) in enumerate(info):
        layer = k + 1
        l_, u_, _ = affine_bounds(w, b, plo, phi, form="split", margin=BAB_MARGIN)
        for j in range(l_.shape[0]):
            l_[j] = max(l_[j], inherited.get((layer, j, "lo"), -np.inf))
            u_[j] = min(u_[j], inherited.get((layer, j, "hi"), np.inf))
        wanted = lemma_layers is None or layer <= lemma_layers
        if k > 0 and kind != "identity" and wanted:  # identity units yield no lemma
            for sense in (-1.0, 1.0):
                val, ys = back_substitute(info, lines, k, sense, zlo, zhi, names)
                pad = 1e-9 * (np.abs(val) + (u_ - l_) + 1.0)
                for j in range(w.shape[0]):
                    width = u_[j] - l_[j]
                    if kind == "identity" or not l_[j] < 0 < u_[j]:
                        continue  # only bounds that stabilise a unit or tighten its chord
                    if sense < 0 and val[j] - pad[j] > l_[j] + min_gain * width:
                        l_[j] = val[j] - pad[j]
                        lemmas.append((layer, j, "lo", ys[j], float(l_[j])))
                    elif sense > 0 and val[j] + pad[j] < u_[j] - min_gain * width:
                        u_[j] = val[j] + pad[j]
                        lemmas.append((layer, j, "hi", ys[j], float(u_[j])))
        _fix(l_, u_, layer, fixed)
        bounds.append((l_, u_))
        uu = np.maximum(u_, l_)
        lines.append(relaxation_lines(l_, uu, kind, alpha))
        names.append(line_names(l_, uu, kind, alpha))
        plo, phi = activation_bounds(l_, uu, kind, alpha)
    return bounds, lemmas
