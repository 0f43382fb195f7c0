"""Snap a network onto nearby small rationals, with a rigorous bound on the change.

A network exported from a construction (the paper's Theorem 2 network, say) is
often the construction *in another form*: each hidden unit's incoming weights
and bias multiplied by some ``c > 0`` and its outgoing weights divided by ``c``
(training, pruning and export tools do this), units permuted, dead units added,
all rounded to float64.  The function is the construction's up to rounding,
but every weight is now an awkward float, so presolves that recognise the
construction's structure exactly (the corner presolve, integer arithmetic in
the SAT encodings) no longer see it.  This module undoes such a disguise where
it can, and says by how much the result may differ:

1. **Dead units** (exact).  A ReLU unit whose pre-activation is ``<= 0`` on the
   whole box (outward-safe interval bounds, :func:`geninv.bounds.interval_bounds`)
   is the constant 0; a unit whose outgoing weights are all 0 is never read.
   Both are removed.  A unit with a zero incoming row is the constant
   ``act(b_j)``, folded into the next layer's bias.
2. **Normalisation** (exact).  ReLU, leaky ReLU and the identity are positively
   homogeneous, ``act(s a) = s act(a)`` for ``s > 0``, so dividing unit j's
   incoming row and bias by ``s_j = max_k |W[j, k]|`` and multiplying its
   outgoing column by ``s_j`` leaves the network's function unchanged.  Done
   layer by layer in Fractions, the network ``N`` so obtained *is* the input
   network, exactly.
3. **Snapping** (approximate).  Every weight and bias ``v`` of ``N`` is replaced
   by the nearest fraction with denominator at most ``max_denominator``,
   accepted when within ``rel_tol * max(1, |v|)``; otherwise the reduction
   declines (the network is not a disguised small-rational one).  Call the
   result ``N^``.
4. **The bound.**  For every z in the box and every output o,
   ``|N(z)_o - N^(z)_o| <= eps_o``, with ``eps`` from the recursion (``h``: the
   hidden values, ``a``: pre-activations, all activations 1-Lipschitz)

       D_0 = 0,   D_l = |W_l - W^_l| (A_{l-1} + D_{l-1}) + |W^_l| D_{l-1} + |b_l - b^_l|,

   where ``A_l >= |h^_l|`` on the box (interval bounds of ``N^``), since
   ``|W h + b - W^ h^ - b^| <= |W - W^| |h| + |W^| |h - h^| + |b - b^|`` and
   ``|h| <= |h^| + |h - h^|``.  It is evaluated in float64 on upward-rounded
   inputs, each result multiplied by ``1 + 2 (m + 2) u`` (``u = 2^-53``, ``m``
   the length of the sums) and raised by ``m 2^-1060``, which covers the rounding
   of sums of nonnegative terms (and underflow); ``eps`` is then exact rationals.

Used with the threshold raised by ``eps`` (:func:`raise_threshold`), a *no* of
the snapped problem is a *no* of the original (a witness z of the original is
within ``eps`` of ``N^(z)``); a *yes* of the snapped problem is only a
candidate, re-checked exactly on the original.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.bounds import interval_bounds
from geninv.exact import float_up
from geninv.network import ReLUNetwork

#: Activations the snap handles (positively homogeneous and 1-Lipschitz).
HANDLED = frozenset({"relu", "identity"})
#: Largest denominator a snapped weight may have.
MAX_DENOMINATOR = 64
#: Largest relative change a snap may make to one weight.
REL_TOL = 1e-9

_U = 2.0**-53
_ZERO = Fraction(0)
_Row = dict[int, Fraction]


@dataclass
class Snapped:
    """What :func:`snap_network` found."""

    network: ReLUNetwork  # N^ (exact small rationals)
    eps: list[Fraction]  # per output: sup over the box of |N(z)_o - N^(z)_o|
    removed_units: int  # dead, unread or constant units removed
    changed: int  # weights and biases that the snap moved

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: units removed, values snapped, the largest output error
        ``eps_max`` (rounded up) and the new widths."""
        return {
            "removed_units": self.removed_units,
            "snapped_values": self.changed,
            "eps_max": float_up(max(self.eps, default=_ZERO)),
            "widths": self.network.widths,
        }


def _up(v: Fraction) -> float:
    return float_up(abs(v))


def _pad(values: Any, m: int) -> Any:
    """An upper bound on the exact value of float sums of ``m`` nonnegative terms."""
    return values * (1.0 + 2.0 * (m + 2) * _U) + m * 2.0**-1060


def _dense_abs_up(rows: Sequence[_Row], n_in: int) -> Any:
    out = np.zeros((len(rows), n_in))
    for j, row in enumerate(rows):
        for k, v in row.items():
            out[j, k] = _up(v)
    return out


def _snap(v: Fraction, max_den: int, rel_tol: float) -> Fraction | None:
    if v.denominator <= max_den:
        return v
    q = v.limit_denominator(max_den)
    if abs(v - q) <= Fraction(rel_tol) * max(Fraction(1), abs(v)):
        return q
    return None


def _exact_layers(net: ReLUNetwork) -> tuple[list[list[_Row]], list[list[Fraction]], list[str]]:
    rows = [
        [dict(zip(idx, coef, strict=True)) for idx, coef in layer.exact_rows()]
        for layer in net.layers
    ]
    return (
        rows,
        [list(la.exact_bias_values()) for la in net.layers],
        [la.activation for la in net.layers],
    )


def _remove_units(
    rows: list[list[_Row]],
    bias: list[list[Fraction]],
    acts: list[str],
    dead: list[set[int]],
) -> int:
    """Drop the units in ``dead[l]`` (hidden layer l) and fold constant units; in place."""
    removed = 0
    for layer in range(len(rows) - 1):
        nxt = rows[layer + 1]
        drop = set(dead[layer])
        for j, row in enumerate(rows[layer]):
            if j in drop:
                continue
            if not any(row.values()):  # a constant unit: act(b_j) folded forward
                c = bias[layer][j] if acts[layer] == "identity" else max(bias[layer][j], _ZERO)
                for i, r in enumerate(nxt):
                    w = r.get(j)
                    if w:
                        bias[layer + 1][i] += w * c
                drop.add(j)
            elif not any(r.get(j) for r in nxt):  # never read
                drop.add(j)
        if not drop:
            continue
        keep = [j for j in range(len(rows[layer])) if j not in drop]
        index = {j: t for t, j in enumerate(keep)}
        rows[layer + 1] = [{index[k]: v for k, v in r.items() if k in index} for r in nxt]
        if keep:
            rows[layer] = [rows[layer][j] for j in keep]
            bias[layer] = [bias[layer][j] for j in keep]
        else:  # a layer keeps one unit: the constant 0, read by nothing
            rows[layer], bias[layer] = [{}], [_ZERO]
        removed += len(drop) - (not keep)
    return removed


def snap_network(
    net: ReLUNetwork,
    lo: Sequence[Fraction],
    hi: Sequence[Fraction],
    max_denominator: int = MAX_DENOMINATOR,
    rel_tol: float = REL_TOL,
) -> Snapped | None:
    """Steps 1-4 of the module docstring over the box ``[lo, hi]``; None when some
    layer is not ReLU / identity or some normalised weight is not near a small
    rational."""
    if any(la.activation not in HANDLED for la in net.layers):
        return None
    rows, bias, acts = _exact_layers(net)
    # 1. dead units: pre-activation <= 0 on the box (ReLU layers)
    flo = np.array([-float_up(-Fraction(v)) for v in lo])  # rounded down
    fhi = np.array([float_up(Fraction(v)) for v in hi])
    pre = interval_bounds(net, flo, fhi, {})
    dead = [
        set(np.flatnonzero(pre[layer][1] <= 0.0).tolist()) if acts[layer] == "relu" else set()
        for layer in range(len(rows) - 1)
    ]
    removed = _remove_units(rows, bias, acts, dead)
    # 2. exact normalisation, layer by layer
    for layer in range(len(rows) - 1):
        for j, row in enumerate(rows[layer]):
            s = max((abs(v) for v in row.values()), default=Fraction(1))
            if s == 1:
                continue
            rows[layer][j] = {k: v / s for k, v in row.items()}
            bias[layer][j] /= s
            for r in rows[layer + 1]:
                if j in r:
                    r[j] *= s
    # 3. snap
    snapped_rows: list[list[_Row]] = []
    snapped_bias: list[list[Fraction]] = []
    changed = 0
    for lrows, lbias in zip(rows, bias, strict=True):
        srows: list[_Row] = []
        for row in lrows:
            new: _Row = {}
            for k, v in row.items():
                q = _snap(v, max_denominator, rel_tol)
                if q is None:
                    return None
                changed += q != v
                if q:
                    new[k] = q
            srows.append(new)
        sb: list[Fraction] = []
        for v in lbias:
            q = _snap(v, max_denominator, rel_tol)
            if q is None:
                return None
            changed += q != v
            sb.append(q)
        snapped_rows.append(srows)
        snapped_bias.append(sb)
    n_in = net.n_inputs
    widths = [n_in] + [len(r) for r in snapped_rows]
    weights = [
        [[row.get(k, _ZERO) for k in range(widths[i])] for row in lrows]
        for i, lrows in enumerate(snapped_rows)
    ]
    hat = ReLUNetwork(weights, snapped_bias, activations=[la.activation_label for la in net.layers])
    # 4. the bound
    hat_pre = interval_bounds(hat, flo, fhi, {})
    a_prev = np.maximum(np.abs(flo), np.abs(fhi))
    d_prev = np.zeros(n_in)
    for layer, (lrows, srows) in enumerate(zip(rows, snapped_rows, strict=True)):
        m = widths[layer]
        diff = [
            {k: v - s.get(k, _ZERO) for k, v in r.items() if v != s.get(k, _ZERO)}
            for r, s in zip(lrows, srows, strict=True)
        ]
        dw = _dense_abs_up(diff, m)
        aw = _dense_abs_up(srows, m)
        db = np.array([_up(v - s) for v, s in zip(bias[layer], snapped_bias[layer], strict=True)])
        d = _pad(dw @ _pad(a_prev + d_prev, 1) + aw @ d_prev, m) + db
        d = _pad(d, 2)
        lo_l, hi_l = hat_pre[layer]
        if acts[layer] == "relu":
            lo_l, hi_l = np.maximum(lo_l, 0.0), np.maximum(hi_l, 0.0)
        a_prev = np.maximum(np.abs(lo_l), np.abs(hi_l))
        d_prev = d
    if not bool(np.isfinite(d_prev).all()):
        return None
    # nothing snapped: N^ is N (step 2 is exact), and the bound is 0
    eps = [Fraction(float(v)) if changed else _ZERO for v in d_prev]
    return Snapped(hat, eps, removed, changed)


def raise_threshold(delta_up: Fraction, eps: Sequence[Fraction], p: float) -> Fraction:
    """A rational ``t`` with ``||d + e||_p <= delta_up + ... <= t`` whenever
    ``||d||_p <= delta_up`` and ``|e_o| <= eps_o``: ``delta_up + max eps`` for
    p = inf, ``delta_up + sum eps`` otherwise (``||e||_p <= ||e||_1``)."""
    if not eps:
        return delta_up
    return delta_up + (max(eps) if math.isinf(p) else sum(eps, _ZERO))
