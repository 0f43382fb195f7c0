"""Float bounds on every unit's pre-activation over a box with some phases fixed.

Two bounds for piecewise-linear networks (relu, leaky_relu with slope
``alpha >= 0``, identity), both in float64 and both *outward-safe*: every
computed interval is widened by a relative and absolute margin that covers the
rounding of the sums, so the true (exact) interval lies inside it:

* :func:`interval_bounds`: interval arithmetic, layer by layer,
  ``lo' = W+ lo + W- hi + b``, ``hi' = W+ hi + W- lo + b``, then the fixings
  (active: ``lo >= 0``; inactive: ``hi <= 0``), then the activation.
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

from collections.abc import Mapping, Sequence

import numpy as np

from geninv.network import FloatArray, ReLUNetwork

#: Relative widening of every float interval (covers the rounding of a dot product of
#: length <= 10^6 with a generous margin) and an absolute floor.
REL_MARGIN = 1e-12
ABS_MARGIN = 1e-300

Fixings = Mapping[tuple[int, int], int]


def _layer_info(net: ReLUNetwork) -> list[tuple[FloatArray, FloatArray, str, float]]:
    return [
        (
            np.asarray(la.weight, dtype=np.float64),
            np.asarray(la.bias, dtype=np.float64),
            la.activation,
            float(la.negative_slope),
        )
        for la in net.layers
    ]


def _act(v: FloatArray, kind: str, alpha: float) -> FloatArray:
    if kind == "identity":
        return v.copy()
    return np.where(v >= 0, v, alpha * v)


def _fix(lo: FloatArray, hi: FloatArray, layer: int, fixed: Fixings) -> None:
    for (li, j), ph in fixed.items():
        if li == layer:
            if ph == 1:
                lo[j] = max(lo[j], 0.0)
            else:
                hi[j] = min(hi[j], 0.0)


def _widen(lo: FloatArray, hi: FloatArray, mag: FloatArray) -> tuple[FloatArray, FloatArray]:
    pad = REL_MARGIN * mag + ABS_MARGIN
    return lo - pad, hi + pad


def interval_bounds(
    net: ReLUNetwork, lo: FloatArray, hi: FloatArray, fixed: Fixings
) -> list[tuple[FloatArray, FloatArray]]:
    """Outward interval bounds of every layer's pre-activations (fixings applied).

    An entry with ``lo > hi`` means the fixings make the node empty."""
    out: list[tuple[FloatArray, FloatArray]] = []
    plo, phi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    for idx, (w, b, kind, alpha) in enumerate(_layer_info(net), start=1):
        wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
        l_ = wp @ plo + wn @ phi + b
        u_ = wp @ phi + wn @ plo + b
        mag = np.abs(w) @ np.maximum(np.abs(plo), np.abs(phi)) + np.abs(b)
        l_, u_ = _widen(l_, u_, mag)
        _fix(l_, u_, idx, fixed)
        out.append((l_, u_))
        plo, phi = _act(l_, kind, alpha), _act(u_, kind, alpha)
    return out


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


def linear_bounds(
    net: ReLUNetwork, lo: FloatArray, hi: FloatArray, fixed: Fixings
) -> list[tuple[FloatArray, FloatArray]]:
    """Back-substitution bounds of every layer's pre-activations, intersected with
    the interval bounds and outward-widened (see the module docstring)."""
    info = _layer_info(net)
    ibounds = interval_bounds(net, lo, hi, fixed)
    zlo, zhi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    bounds: list[tuple[FloatArray, FloatArray]] = []
    lines: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
    for k, (w, b, kind, alpha) in enumerate(info):
        if k == 0:
            bounds.append(ibounds[0])
        else:
            res = []
            for sense in (-1.0, 1.0):  # -1: lower bound, +1: upper bound
                lam = sense * w  # maximise lam . a^{k} + sense * b
                const = sense * b
                for j in range(k - 1, -1, -1):
                    ls, li, us, ui = lines[j]
                    pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
                    const = const + pos @ ui + neg @ li
                    lam = pos * us + neg * ls  # coefficients on h^{j+1}
                    const = const + lam @ info[j][1]
                    lam = lam @ info[j][0]
                top = const + np.maximum(lam, 0.0) @ zhi + np.minimum(lam, 0.0) @ zlo
                res.append(sense * top)
            l_, u_ = res[0], res[1]
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


def _line_names(
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
) -> tuple[list[tuple[FloatArray, FloatArray]], list[FloatLemma]]:
    """Bounds of a bab node and the lemmas that justify their tighter parts.

    Layer by layer: outward interval bounds from the previous layer's final bounds,
    intersected with ``inherited`` (lemma bounds of ancestors); then, from layer 2
    on, back-substitution bounds (:func:`linear_bounds`' lines) whose back-substitution
    coefficients *are* nonnegative multipliers over the earlier layers' relaxation
    rows (positive coefficient: the unit's upper line, negative: its lower line).
    Where such a bound of an unstable relu / leaky unit beats the interval one by
    more than ``min_gain`` of the width, it is used (loosened by 1e-9 relative)
    and returned as a lemma for the checker to verify.  Then the fixings."""
    info = _layer_info(net)
    zlo, zhi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    plo, phi = zlo, zhi
    bounds: list[tuple[FloatArray, FloatArray]] = []
    lines: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
    names: list[tuple[list[str], list[str]]] = []
    lemmas: list[FloatLemma] = []
    for k, (w, b, kind, alpha) in enumerate(info):
        layer = k + 1
        wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
        l_ = wp @ plo + wn @ phi + b
        u_ = wp @ phi + wn @ plo + b
        mag = np.abs(w) @ np.maximum(np.abs(plo), np.abs(phi)) + np.abs(b)
        l_, u_ = _widen(l_, u_, mag)
        for j in range(l_.shape[0]):
            l_[j] = max(l_[j], inherited.get((layer, j, "lo"), -np.inf))
            u_[j] = min(u_[j], inherited.get((layer, j, "hi"), np.inf))
        if k > 0 and kind != "identity":  # identity units yield no lemma
            for sense in (-1.0, 1.0):
                lam = sense * w
                const = sense * b
                ys: list[dict[str, float]] = [{} for _ in range(w.shape[0])]
                for j in range(k - 1, -1, -1):
                    ls, li, us, ui = lines[j]
                    up, low = names[j]
                    pos, neg = np.maximum(lam, 0.0), np.minimum(lam, 0.0)
                    for u, i in zip(*np.nonzero(pos), strict=True):
                        ys[u][f"L{j + 1}.{i}.{up[i]}"] = float(pos[u, i])
                    for u, i in zip(*np.nonzero(neg), strict=True):
                        key = f"L{j + 1}.{i}.{low[i]}"
                        ys[u][key] = ys[u].get(key, 0.0) - float(neg[u, i])
                    const = const + pos @ ui + neg @ li
                    lam = pos * us + neg * ls
                    const = const + lam @ info[j][1]
                    lam = lam @ info[j][0]
                top = const + np.maximum(lam, 0.0) @ zhi + np.minimum(lam, 0.0) @ zlo
                val = sense * top
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
        names.append(_line_names(l_, uu, kind, alpha))
        plo, phi = _act(l_, kind, alpha), _act(uu, kind, alpha)
    return bounds, lemmas
