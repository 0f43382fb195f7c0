"""Structural analyses of ReLU networks.

:func:`input_clamp_box` finds a box ``[lo, hi]`` with ``G(z) = G(clamp(z, lo, hi))``
for every real ``z``, so that inversion over ``R^n`` is the same problem as
inversion over the box (any witness ``z`` gives the witness ``clamp(z)``).

The maths
---------
Call a unit *coordinate-separable* when, following its nonzero weights back to
the input, it depends on at most one latent coordinate.  The *separable prefix*
is the longest run of layers ``1..K`` whose units all are.  A unit ``u`` of the
prefix that depends on ``z_i`` computes a continuous piecewise-linear function
``f_u(t)`` of ``t = z_i`` alone, built layer by layer:

* an affine combination ``sum_v w_v f_v(t) + b`` of functions of ``t`` is
  piecewise linear with knots in the union of their knots;
* ``ReLU(f(t))`` adds a knot at each zero crossing of ``f``: inside a segment
  ``[t_a, t_b]`` where ``f`` changes sign, at ``t_a - f(t_a) (t_b - t_a) /
  (f(t_b) - f(t_a))``; on the left ray ``f(t) = f(t_1) + s_L (t - t_1)`` at
  ``t_1 - f(t_1)/s_L`` when ``f(t_1)`` and ``s_L`` have the same sign (and
  symmetrically on the right ray).  Between knots ``ReLU(f)`` is then linear,
  with values ``max(0, f)`` at the knots; the left slope becomes ``s_L`` if
  ``s_L < 0`` (``f -> +inf`` as ``t -> -inf``) and 0 otherwise, the right
  slope ``s_R`` if ``s_R > 0`` and 0 otherwise.
* ``LeakyReLU_alpha(f(t))`` has the same knots, values ``f`` or ``alpha f``
  at them, and end slopes ``s_L`` if ``s_L < 0`` else ``alpha s_L`` (and
  ``s_R`` if ``s_R > 0`` else ``alpha s_R``): with ``alpha > 0`` it is
  constant on a ray only where ``f`` already is, so it never creates a clamp.
* the identity leaves ``f`` as it is.

The analysed prefix also ends before the first sigmoid or tanh layer (those
are not piecewise linear); that is always sound, since the layers after the
prefix read only its output.  The handled activations are
:data:`CLAMP_BOX_ACTIVATIONS`.

Everything is exact (:class:`fractions.Fraction`, from ``Layer.exact_rows``).
The *breakpoints* of ``f_u`` are its knots where the slope really changes.

Let ``lo_i`` (``hi_i``) be the smallest (largest) breakpoint over all units of
layer ``K`` that depend on ``z_i``.  Each such ``f_u`` is affine left of its
smallest breakpoint, so it is constant on ``(-inf, lo_i]`` iff its left slope
is 0, and likewise on the right.  If every such unit has both end slopes 0,
then ``h_K(z) = h_K(clamp(z, lo, hi))`` (each coordinate of ``h_K`` sees only
its own ``z_i``), and since layers ``K+1..L`` read only ``h_K``,
``G(z) = G(clamp(z, lo, hi))``.  Layer ``K`` is the best separable layer to
look at: if ``h_k`` is constant outside a box for some ``k <= K`` then so is
``h_K``, with breakpoints inside that box.

A coordinate that no unit of layer ``K`` depends on, or whose units are all
constant, does not influence ``G`` at all; it gets ``lo_i = hi_i = 0``
(clamping it to 0 changes nothing), which keeps the box valid for the other
coordinates.  A coordinate with some nonconstant unit that is not constant on
both sides makes the whole answer ``None``.

:func:`fold_discrete_prefix` is the discrete counterpart: on a two-valued
latent domain ``{v_0, v_1}^n`` a unit of the first layer that reads at most one
latent ``z_k`` takes two values, so it *is* the affine function
``alpha + beta z_k`` there, with ``beta = (f(v_1) - f(v_0)) / (v_1 - v_0)`` and
``alpha = f(v_0) - beta v_0``.  When every unit of the first layer is like
that, the first layer folds exactly into the second, ``W_2 (alpha + B z) + b_2``
with ``B_jk = beta_j [k_j = k]``, and the network loses a layer without
changing any output on the domain.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.errors import UnsupportedError
from geninv.network import PIECEWISE_LINEAR, Layer, ReLUNetwork

__all__ = [
    "CLAMP_BOX_ACTIVATIONS",
    "FOLD_ACTIVATIONS",
    "PiecewiseLinear",
    "fold_discrete_prefix",
    "input_clamp_box",
]

_ZERO = Fraction(0)

#: Activations :func:`input_clamp_box` analyses exactly; the analysed prefix ends
#: before any other layer (sigmoid, tanh), which is always correct (see the docstring).
CLAMP_BOX_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity", "leaky_relu"})
#: Activations of a first layer :func:`fold_discrete_prefix` folds (the second
#: layer's activation is kept as it is, so it may be anything).
FOLD_ACTIVATIONS: frozenset[str] = PIECEWISE_LINEAR


@dataclass(frozen=True)
class PiecewiseLinear:
    """A continuous piecewise-linear ``f: R -> R``.

    ``f(knots[k]) = values[k]``, linear between consecutive knots, with slope
    ``left_slope`` on ``(-inf, knots[0]]`` and ``right_slope`` on
    ``[knots[-1], inf)``.  ``knots`` is strictly increasing and non-empty.
    """

    knots: tuple[Fraction, ...]
    values: tuple[Fraction, ...]
    left_slope: Fraction
    right_slope: Fraction

    @staticmethod
    def identity() -> PiecewiseLinear:
        return PiecewiseLinear((_ZERO,), (_ZERO,), Fraction(1), Fraction(1))

    def __call__(self, t: Fraction) -> Fraction:
        ks, vs = self.knots, self.values
        if t <= ks[0]:
            return vs[0] + self.left_slope * (t - ks[0])
        if t >= ks[-1]:
            return vs[-1] + self.right_slope * (t - ks[-1])
        k = bisect_right(ks, t) - 1
        t0, t1 = ks[k], ks[k + 1]
        return vs[k] + (vs[k + 1] - vs[k]) * (t - t0) / (t1 - t0)

    def slopes(self) -> list[Fraction]:
        """Slopes of the ``len(knots) + 1`` pieces, left ray first."""
        inner = [
            (self.values[k + 1] - self.values[k]) / (self.knots[k + 1] - self.knots[k])
            for k in range(len(self.knots) - 1)
        ]
        return [self.left_slope, *inner, self.right_slope]

    def breakpoints(self) -> list[Fraction]:
        """Knots where the slope changes (the true kinks), increasing."""
        s = self.slopes()
        return [t for k, t in enumerate(self.knots) if s[k] != s[k + 1]]

    def simplified(self) -> PiecewiseLinear:
        """Same function, knots reduced to the breakpoints (one anchor if there are none)."""
        bps = self.breakpoints()
        if len(bps) == len(self.knots):
            return self
        if not bps:
            bps = [self.knots[0]]
        return PiecewiseLinear(
            tuple(bps), tuple(self(t) for t in bps), self.left_slope, self.right_slope
        )

    @property
    def is_constant(self) -> bool:
        return all(s == 0 for s in self.slopes())

    def relu(self) -> PiecewiseLinear:
        """``max(0, f)``: :meth:`leaky` with slope 0."""
        return self.leaky(_ZERO)

    def leaky(self, alpha: Fraction) -> PiecewiseLinear:
        """``LeakyReLU_alpha(f)`` (``f`` where ``f > 0``, ``alpha f`` elsewhere).

        The zero crossings of ``f`` become knots; between knots ``f`` has one
        sign, so the result is linear there with values ``act(f)`` at the knots.
        On the left ray ``f -> +inf`` when ``s_L < 0`` (slope kept) and
        ``f -> -inf`` when ``s_L > 0`` (slope ``alpha s_L``); symmetrically
        on the right.  ``alpha = 0`` is ReLU.
        """
        ks, vs = self.knots, self.values
        new_k: list[Fraction] = []
        new_v: list[Fraction] = []
        sl, sr = self.left_slope, self.right_slope
        if sl != 0 and vs[0] != 0 and (vs[0] > 0) == (sl > 0):
            new_k.append(ks[0] - vs[0] / sl)
            new_v.append(_ZERO)
        for k in range(len(ks)):
            new_k.append(ks[k])
            new_v.append(vs[k])
            if k + 1 < len(ks) and vs[k] * vs[k + 1] < 0:
                t = ks[k] - vs[k] * (ks[k + 1] - ks[k]) / (vs[k + 1] - vs[k])
                new_k.append(t)
                new_v.append(_ZERO)
        if sr != 0 and vs[-1] != 0 and (vs[-1] > 0) != (sr > 0):
            new_k.append(ks[-1] - vs[-1] / sr)
            new_v.append(_ZERO)
        return PiecewiseLinear(
            tuple(new_k),
            tuple(v if v > 0 else alpha * v for v in new_v),
            sl if sl < 0 else alpha * sl,
            sr if sr > 0 else alpha * sr,
        )


def _combine(terms: list[tuple[Fraction, PiecewiseLinear]], constant: Fraction) -> PiecewiseLinear:
    """``sum_k c_k f_k + constant`` on the union of the knots."""
    knots = sorted({t for _, f in terms for t in f.knots})
    values = tuple(constant + sum((c * f(t) for c, f in terms), _ZERO) for t in knots)
    left = sum((c * f.left_slope for c, f in terms), _ZERO)
    right = sum((c * f.right_slope for c, f in terms), _ZERO)
    return PiecewiseLinear(tuple(knots), values, left, right)


# A unit of the separable prefix: (coordinate, function of it) or (None, constant value).
_Unit = tuple[int, PiecewiseLinear] | tuple[None, Fraction]


def _separable_layers(network: ReLUNetwork) -> list[_Unit] | None:
    """Units of the last layer of the separable prefix, or None if layer 1 is not separable.

    The prefix also ends before the first layer whose activation is not in
    :data:`CLAMP_BOX_ACTIVATIONS` (sigmoid, tanh): later layers read only the
    prefix's output, so a box found there stays valid whatever they compute.
    """
    units: list[_Unit] = [(i, PiecewiseLinear.identity()) for i in range(network.n_inputs)]
    analysed = 0
    for layer in network.layers:
        if layer.activation not in CLAMP_BOX_ACTIVATIONS:
            return units if analysed else None
        new_units: list[_Unit] = []
        for (idx, coef), bias in zip(layer.exact_rows(), layer.exact_bias_values(), strict=True):
            coords = {units[j][0] for j in idx} - {None}
            if len(coords) > 1:
                return units if analysed else None
            constant = bias
            terms: list[tuple[Fraction, PiecewiseLinear]] = []
            for j, c in zip(idx, coef, strict=True):
                unit = units[j]
                if unit[0] is None:
                    constant += c * unit[1]
                else:
                    terms.append((c, unit[1]))
            if not coords:
                new_units.append((None, _act(constant, layer)))
                continue
            coord = next(iter(coords))
            assert coord is not None
            f = _combine(terms, constant)
            if layer.activation != "identity":  # relu, leaky_relu (relu: slope 0)
                f = f.leaky(layer.negative_slope)
            new_units.append((coord, f.simplified()))
        units = new_units
        analysed += 1
    return units


def input_clamp_box(network: ReLUNetwork) -> tuple[list[Fraction], list[Fraction]] | None:
    """A box ``[lo, hi]`` with ``G(z) = G(clamp(z, lo, hi))`` for all real ``z``, or None.

    Analyses the coordinate-separable prefix of the network exactly (see the
    module docstring).  Returns ``None`` when the first layer already mixes
    coordinates, or when some coordinate's units at the last separable layer
    are not constant beyond their outermost breakpoints on both sides.
    Coordinates that ``G`` does not depend on at all get ``[0, 0]``.
    """
    units = _separable_layers(network)
    if units is None:
        return None
    n = network.n_inputs
    lo: list[Fraction | None] = [None] * n
    hi: list[Fraction | None] = [None] * n
    for unit in units:
        if unit[0] is None:
            continue
        i, f = unit
        if f.is_constant:
            continue
        if f.left_slope != 0 or f.right_slope != 0:
            return None
        bps = f.breakpoints()
        # a nonconstant continuous PL function with zero end slopes has >= 2 breakpoints
        first, last = bps[0], bps[-1]
        cur_lo, cur_hi = lo[i], hi[i]
        lo[i] = first if cur_lo is None else min(cur_lo, first)
        hi[i] = last if cur_hi is None else max(cur_hi, last)
    lower = [_ZERO if v is None else v for v in lo]
    upper = [_ZERO if v is None else v for v in hi]
    return lower, upper


def _act(value: Fraction, layer: Layer) -> Fraction:
    """A piecewise-linear activation of ``value``, exactly (refuses sigmoid and tanh)."""
    if layer.activation == "relu":
        return max(value, _ZERO)
    if layer.activation == "leaky_relu":
        return value if value > 0 else layer.negative_slope * value
    if layer.activation == "identity":
        return value
    raise UnsupportedError(f"no exact piecewise-linear value for {layer.activation_label}")


def fold_discrete_prefix(network: ReLUNetwork, values: tuple[int, int]) -> tuple[ReLUNetwork, int]:
    """Fold leading layers whose units each read at most one latent (module docstring).

    Exact on the domain ``{values[0], values[1]}^n`` only (not on the reals).
    Returns the new network and the number of layers folded (0: ``network``
    itself).  Only piecewise-linear first layers are folded.
    """
    if values[0] == values[1]:
        raise ValueError("fold_discrete_prefix needs two distinct domain values")
    layers = list(network.layers)
    folded = 0
    while len(layers) > 1:
        first, second = layers[0], layers[1]
        if first.activation not in FOLD_ACTIVATIONS:
            break
        if first.exact_weight is None and int(np.count_nonzero(first.weight, axis=1).max()) > 1:
            break
        n = first.n_in
        fast = _fold_integer(first, values)
        merged = None if fast is None else _merge_float(second, *fast, n)
        if merged is not None:
            # float64 integers below 2^52 (so finite and exact): a layer as is
            weight, bias = merged
            weight.setflags(write=False)
            bias.setflags(write=False)
            merged_layer = Layer(
                weight, bias, second.activation, negative_slope=second.negative_slope
            )
        else:
            rows = first.exact_rows()
            if any(len(idx) > 1 for idx, _ in rows):
                break
            lo, hi = Fraction(values[0]), Fraction(values[1])
            alpha: list[Fraction] = []
            beta: list[Fraction] = []
            col: list[int] = []
            for (idx, coef), b in zip(rows, first.exact_bias_values(), strict=True):
                if not idx:
                    alpha.append(_act(b, first))
                    beta.append(_ZERO)
                    col.append(0)
                    continue
                f0, f1 = _act(b + coef[0] * lo, first), _act(b + coef[0] * hi, first)
                slope = (f1 - f0) / (hi - lo)
                alpha.append(f0 - slope * lo)
                beta.append(slope)
                col.append(idx[0])
            weight, bias = _merge(second, alpha, beta, col, n)
            one = ReLUNetwork([weight], [bias], activations=[second.activation_label])
            merged_layer = one.layers[0]
        layers = [merged_layer, *layers[2:]]
        folded += 1
    if not folded:
        return network, 0
    return ReLUNetwork.from_layers(layers), folded


def _layer_weight(layer: Layer) -> object:
    return layer.exact_weight if layer.exact_weight is not None else layer.weight


def _layer_bias(layer: Layer) -> object:
    return layer.exact_bias if layer.exact_bias is not None else layer.bias


def _fold_integer(first: Layer, values: tuple[int, int]) -> tuple[Any, Any, Any] | None:
    """``(alpha, beta, col)`` of :func:`fold_discrete_prefix` for an integer ReLU or
    identity layer whose units read at most one latent, in float64 arrays, when every
    value is an integer below 2^52 (then exact); None otherwise (the caller computes
    them in Fractions).

    Unit j reads latent ``col_j`` with coefficient ``c_j`` (0: a constant unit,
    ``col_j = 0``); on {lo, hi} it is ``alpha_j + beta_j z`` with
    ``f(v) = act(b_j + c_j v)``, ``beta_j = (f(hi) - f(lo)) / (hi - lo)`` and
    ``alpha_j = f(lo) - beta_j lo``; None as well when some ``beta_j`` is not an
    integer.
    """
    if (
        first.exact_weight is not None
        or first.exact_bias is not None
        or first.activation not in ("relu", "identity")
    ):
        return None
    w, b = first.weight, first.bias
    nz = w != 0
    if w.size and int(nz.sum(axis=1).max()) > 1:
        return None
    if not (bool((np.trunc(w) == w).all()) and bool((np.trunc(b) == b).all())):
        return None
    flo, fhi = Fraction(values[0]), Fraction(values[1])
    if flo.denominator != 1 or fhi.denominator != 1 or flo == fhi:
        return None
    lo, hi = int(flo), int(fhi)
    c = w.sum(axis=1)  # the one coefficient of each row (0 for a constant unit)
    top = float(np.abs(b).max(initial=0.0)) + float(np.abs(c).max(initial=0.0)) * max(
        abs(lo), abs(hi)
    )
    if top >= 2.0**52:
        return None
    f0, f1 = b + c * lo, b + c * hi
    if first.activation == "relu":
        f0, f1 = np.maximum(f0, 0.0), np.maximum(f1, 0.0)
    diff = f1 - f0
    if not bool((np.remainder(diff, hi - lo) == 0).all()):
        return None
    beta = diff / (hi - lo) + 0.0  # an integer, exactly (+ 0.0: no negative zeros)
    alpha = f0 - beta * lo + 0.0
    # the column of each row's nonzero (argmax of an all-False row is 0, as wanted)
    col = nz.argmax(axis=1) if w.shape[1] else np.zeros(w.shape[0], dtype=np.intp)
    return alpha, beta, col


def _merge_float(second: Layer, a: Any, bt: Any, col: Any, n: int) -> tuple[Any, Any] | None:
    """``W_2 B`` and ``b_2 + W_2 alpha`` in float64 for integer ``alpha``/``beta``
    arrays and an integer second layer when every product and partial sum is an
    integer below 2^52 in magnitude (so exact); None otherwise."""
    w2 = second.weight
    if second.exact_weight is not None or second.exact_bias is not None:
        return None
    integral = bool((np.rint(w2) == w2).all() and (np.rint(second.bias) == second.bias).all())
    amax = float(np.abs(a).max(initial=0.0)) + float(np.abs(bt).max(initial=0.0))
    if not (
        integral
        and float(np.abs(w2).sum(axis=1).max(initial=0.0)) * amax
        + float(np.abs(second.bias).max(initial=0.0))
        < 2.0**52
    ):
        return None
    onehot = np.zeros((len(col), n))
    onehot[np.arange(len(col)), col] = bt
    return w2 @ onehot, second.bias + w2 @ a


def _merge(
    second: Layer, alpha: list[Fraction], beta: list[Fraction], col: list[int], n: int
) -> tuple[object, object]:
    """``W_2 B`` and ``b_2 + W_2 alpha``: in float64 when that is provably exact."""
    if all(v.denominator == 1 for v in (*alpha, *beta)):
        a = np.array([int(v) for v in alpha], dtype=np.float64)
        bt = np.array([int(v) for v in beta], dtype=np.float64)
        merged = _merge_float(second, a, bt, col, n)
        if merged is not None:
            return merged
    weight = [[_ZERO] * n for _ in range(second.n_out)]
    bias: list[Fraction] = []
    for j, ((idx, coef), b) in enumerate(
        zip(second.exact_rows(), second.exact_bias_values(), strict=True)
    ):
        row = weight[j]
        for i, c in zip(idx, coef, strict=True):
            b += c * alpha[i]
            if beta[i]:
                row[col[i]] += c * beta[i]
        bias.append(b)
    return weight, bias
