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

The discrete counterpart, folding a network's leading layers on a two-valued
latent domain, is the reduction :mod:`geninv.reductions.fold`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction

from geninv.errors import UnsupportedError
from geninv.network import Layer, ReLUNetwork

__all__ = [
    "CLAMP_BOX_ACTIVATIONS",
    "PiecewiseLinear",
    "input_clamp_box",
]

_ZERO = Fraction(0)

#: Activations :func:`input_clamp_box` analyses exactly; the analysed prefix ends
#: before any other layer (sigmoid, tanh), which is always correct (see the docstring).
CLAMP_BOX_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity", "leaky_relu"})


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
        """The identity ``f(t) = t`` (one knot at 0, slope 1 on both sides)."""
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
        """True when every slope (between knots and on both tails) is 0, so ``f`` is constant on
        R."""
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
