"""The re-check of a witness through ELU layers: rigorous interval arithmetic in rationals.

``ELU(t) = alpha (e^t - 1)`` for ``t <= 0`` is transcendental, so ``G(z)`` of a
network with an ELU layer is not a rational and cannot be computed exactly.
:meth:`geninv.problem.InversionProblem.exact_check` tries the float64 check with
its rigorous error bound first (:mod:`geninv.recheck`); when that cannot decide, it
comes here instead of the 60-digit evaluation of
:meth:`~geninv.network.ReLUNetwork.forward_exact` (which is not an enclosure).

Enclosure
---------
Every value is kept as an interval ``[lo, hi]`` of rationals containing the true
value.  For a layer with exact weights ``w_ij`` and bias ``b_i`` (Fractions), the
pre-activation of the true input lies in

    s_lo = b_i + sum_j w_ij (lo_j if w_ij > 0 else hi_j),
    s_hi = b_i + sum_j w_ij (hi_j if w_ij > 0 else lo_j)

computed exactly (integers over a common denominator).  Every activation geninv
reads is nondecreasing, so ``f([s_lo, s_hi])`` lies in ``[F_lo(s_lo), F_hi(s_hi)]``
for any rigorous lower / upper bounds ``F_lo <= f <= F_hi``: exact for relu,
identity and leaky_relu; for ELU below 0, ``alpha (E_lo - 1)`` and ``alpha (E_hi -
1)`` with ``[E_lo, E_hi]`` the enclosure of ``e^t`` of
:func:`geninv.exact_smooth._exp_enclosure` (40 correctly rounded decimal digits and
an explicit bound on the rest; below ``t < -2000``, ``0 < e^t < 2^-2000``); for
sigmoid and tanh :func:`geninv.exact_smooth.smooth_enclosure`.  The endpoints are
then rounded outward to multiples of ``2^-GRID_BITS`` (floor / ceil), which keeps
the rationals' size bounded through the layers at a cost of ``2^-160`` per entry.

Decision
--------
With ``d_i`` in ``[lo_i - x_i, hi_i - x_i]``, ``|d_i|`` lies in ``[m_i, M_i]`` (``m_i
= 0`` when the interval holds 0).  Every norm is nondecreasing in each ``|d_i|``,
so ``||m||_p <= ||G(z) - x||_p <= ||M||_p``: the threshold is *met* when
:func:`geninv.exact.compare_lp_tuple` proves ``||M||_p`` meets it, *not met* when it
proves ``||m||_p`` does not, and otherwise undecided (``unknown``, with the
enclosure in the reason) -- an exact tie lands there, as the grid rounding widens even
a point.  Then, if ``G(z)`` is rational -- no unit at ``z`` needs ``exp`` (every ELU
pre-activation ``>= 0``, where ``ELU(t) = t``, or alpha 0), or every one that does is
masked (a later ReLU whose input interval is ``<= 0``) -- :func:`rational_forward`
computes it exactly and the tie is decided exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from geninv.exact import compare_lp_tuple
from geninv.exact_smooth import _exp_enclosure, smooth_enclosure

if TYPE_CHECKING:
    from geninv.network import Layer, ReLUNetwork
    from geninv.problem import InversionProblem

#: Interval endpoints are rounded outward to multiples of 2^-GRID_BITS after each layer.
GRID_BITS = 160
#: Decimal digits of the exp enclosure.
EXP_DIGITS = 40
#: Below -ELU_TAIL, e^t is enclosed by [0, 2^-ELU_TAIL] (no exp evaluated).
ELU_TAIL = 2000
_SCALE = 1 << GRID_BITS


def _floor_grid(v: Fraction) -> int:
    return (v.numerator * _SCALE) // v.denominator


def _ceil_grid(v: Fraction) -> int:
    return -((-v.numerator * _SCALE) // v.denominator)


def elu_bounds(t: Fraction, alpha: Fraction) -> tuple[Fraction, Fraction]:
    """Rationals ``lo <= ELU_alpha(t) <= hi`` (equal for ``t >= 0``), rigorously."""
    if t >= 0:
        return t, t
    if t < -ELU_TAIL:
        return -alpha, alpha * (Fraction(1, 2**ELU_TAIL) - 1)
    e_lo, e_hi = _exp_enclosure(t, EXP_DIGITS)
    return alpha * (max(e_lo, Fraction(0)) - 1), alpha * (min(e_hi, Fraction(1)) - 1)


def _act_side(s: Fraction, layer: Layer, upper: bool) -> Fraction:
    """A rigorous lower (``upper`` False) or upper bound of the layer's activation at ``s``:
    exact for the piecewise-linear ones and ELU at ``s >= 0``, else the enclosure's side."""
    act = layer.activation
    if act == "identity" or (s >= 0 and act in ("relu", "leaky_relu", "elu")):
        return s
    if act == "relu":
        return Fraction(0)
    if act == "leaky_relu":
        return layer.negative_slope * s
    if act == "elu":
        return elu_bounds(s, layer.negative_slope)[upper]
    return smooth_enclosure(act, s)[upper]


def _act_lo(s: Fraction, layer: Layer) -> Fraction:
    return _act_side(s, layer, False)


def _act_hi(s: Fraction, layer: Layer) -> Fraction:
    return _act_side(s, layer, True)


def _layer_ints(layer: Layer) -> tuple[int, list[tuple[list[int], list[int]]], list[int]]:
    """``(D, rows, biases)``: the layer's weights and biases times their common
    denominator ``D``, as integers (each row as its column indices and numerators)."""
    rows = layer.exact_rows()
    bias = layer.exact_bias_values()
    den = 1
    for _, coef in rows:
        for c in coef:
            den = math.lcm(den, c.denominator)
    for b in bias:
        den = math.lcm(den, b.denominator)
    int_rows = [
        (list(idx), [c.numerator * (den // c.denominator) for c in coef]) for idx, coef in rows
    ]
    int_bias = [b.numerator * (den // b.denominator) for b in bias]
    return den, int_rows, int_bias


def forward_interval(
    network: ReLUNetwork, z: Sequence[Fraction]
) -> list[tuple[Fraction, Fraction]]:
    """``[(lo_i, hi_i)]`` with ``lo_i <= G(z)_i <= hi_i`` for the exact rational latent ``z``
    (the enclosure of the module docstring)."""
    # endpoints as integers over 2^GRID_BITS; the latent itself is exact
    lo = [_floor_grid(Fraction(v)) for v in z]
    hi = [_ceil_grid(Fraction(v)) for v in z]
    exact_in = all(Fraction(a, _SCALE) == Fraction(v) for a, v in zip(lo, z, strict=True))
    z_frac = [Fraction(v) for v in z]
    for li, layer in enumerate(network.layers):
        den, rows, bias = _layer_ints(layer)
        scale_den = den * _SCALE
        new_lo: list[int] = []
        new_hi: list[int] = []
        for (idx, coef), b in zip(rows, bias, strict=True):
            if li == 0 and not exact_in:  # a latent off the grid: exact sums in Fractions
                s = Fraction(b, den) + sum(
                    (Fraction(c, den) * z_frac[j] for j, c in zip(idx, coef, strict=True)),
                    Fraction(0),
                )
                s_lo = s_hi = s
            else:
                acc_lo = b * _SCALE
                acc_hi = acc_lo
                for j, c in zip(idx, coef, strict=True):
                    if c > 0:
                        acc_lo += c * lo[j]
                        acc_hi += c * hi[j]
                    else:
                        acc_lo += c * hi[j]
                        acc_hi += c * lo[j]
                s_lo, s_hi = Fraction(acc_lo, scale_den), Fraction(acc_hi, scale_den)
            new_lo.append(_floor_grid(_act_lo(s_lo, layer)))
            new_hi.append(_ceil_grid(_act_hi(s_hi, layer)))
        lo, hi = new_lo, new_hi
    return [(Fraction(a, _SCALE), Fraction(b, _SCALE)) for a, b in zip(lo, hi, strict=True)]


@dataclass(frozen=True)
class IntervalVerdict:
    """The enclosure check: ``decided``, ``meets``, the distance's enclosure."""

    decided: bool
    meets: bool
    lower: float
    upper: float
    #: Decided from ``G(z)`` in exact rationals (no unit at ``z`` needs exp).
    exact: bool = False

    @property
    def distance(self) -> float:
        """A representative distance: the upper bound when met, else the lower one."""
        return self.upper if self.meets else self.lower

    @property
    def method(self) -> str:
        """The check's method line."""
        if self.exact:
            return (
                "exact rational (G(z) rational: no ELU unit at z needs exp, or a ReLU "
                f"masks it; distance {self.upper:.17g})"
            )
        return (
            "rigorous rational interval enclosure (ELU's exp to "
            f"{EXP_DIGITS} digits, endpoints outward to 2^-{GRID_BITS}; distance in "
            f"[{self.lower:.17g}, {self.upper:.17g}])"
        )

    @property
    def reason(self) -> str:
        """Why undecided (empty when decided)."""
        if self.decided:
            return ""
        return (
            f"undecided: the rigorous enclosure of ||G(z) - x|| through the ELU layers, "
            f"[{self.lower:.17g}, {self.upper:.17g}], contains the threshold (an exact tie "
            "cannot be proved where exp makes G(z) transcendental)"
        )


def _exact_act(s: Fraction, layer: Layer) -> Fraction | None:
    """``act(s)`` when it is rational: None for ELU (alpha > 0) below 0 and for sigmoid or
    tanh away from 0."""
    act = layer.activation
    if act == "identity" or (s >= 0 and act in ("relu", "leaky_relu", "elu")):
        return s
    if act == "relu" or (act == "elu" and layer.negative_slope == 0):
        return Fraction(0)
    if act == "leaky_relu":
        return layer.negative_slope * s
    if s == 0:  # sigmoid(0) = 1/2, tanh(0) = 0
        return Fraction(1, 2) if act == "sigmoid" else Fraction(0)
    return None


def rational_forward(network: ReLUNetwork, z: Sequence[Fraction]) -> list[Fraction] | None:
    """``G(z)`` in exact rationals when it is rational, else None.

    Each unit is an exact rational while its inputs are and its activation is rational
    there (:func:`_exact_act`: ELU at ``t >= 0`` or alpha 0, any ReLU / LeakyReLU /
    identity); otherwise an enclosure as in :func:`forward_interval` (ends rounded
    outward to the grid), which becomes exact again where the activation maps it to a
    point (a ReLU of an interval ``<= 0`` is exactly 0).  None when some output stays an
    interval."""
    h: list[Fraction | tuple[Fraction, Fraction]] = [Fraction(v) for v in z]
    for layer in network.layers:
        out: list[Fraction | tuple[Fraction, Fraction]] = []
        for (idx, coef), b in zip(layer.exact_rows(), layer.exact_bias_values(), strict=True):
            lo = hi = b
            point = True
            for j, c in zip(idx, coef, strict=True):
                v = h[j]
                if isinstance(v, Fraction):
                    lo += c * v
                    hi += c * v
                    continue
                point = False
                lo += c * (v[0] if c > 0 else v[1])
                hi += c * (v[1] if c > 0 else v[0])
            exact = _exact_act(lo, layer) if point else None
            if exact is not None:
                out.append(exact)
                continue
            a, e = _act_lo(lo, layer), _act_hi(hi, layer)
            if a == e:
                out.append(a)
            else:
                out.append((Fraction(_floor_grid(a), _SCALE), Fraction(_ceil_grid(e), _SCALE)))
        h = out
    exact_out = [v for v in h if isinstance(v, Fraction)]
    return exact_out if len(exact_out) == len(h) else None


def interval_check(problem: InversionProblem, zf: Sequence[Fraction]) -> IntervalVerdict:
    """Decide ``||G(z) - x||_p`` against the threshold from :func:`forward_interval`; when
    that leaves it open and ``G(z)`` is rational (:func:`rational_forward`), exactly (an
    exact tie included: the enclosure's grid rounding cannot decide one)."""
    verdict = _enclosure_check(problem, zf)
    if verdict.decided:
        return verdict
    exact = rational_forward(problem.network, zf)
    if exact is None:
        return verdict
    diff = [abs(o - t) for o, t in zip(exact, problem.target, strict=True)]
    res = compare_lp_tuple(
        diff, problem.p, problem.threshold, problem.relation, problem.threshold_pow
    )
    if not res[0] or res[1] is None:
        return verdict
    return IntervalVerdict(True, res[1], float(res[2]), float(res[2]), exact=True)


def _enclosure_check(problem: InversionProblem, zf: Sequence[Fraction]) -> IntervalVerdict:
    enc = forward_interval(problem.network, zf)
    small: list[Fraction] = []
    big: list[Fraction] = []
    for (lo, hi), t in zip(enc, problem.target, strict=True):
        a, b = lo - t, hi - t
        big.append(max(abs(a), abs(b)))
        small.append(Fraction(0) if a <= 0 <= b else min(abs(a), abs(b)))
    args = (problem.p, problem.threshold, problem.relation, problem.threshold_pow)
    up = compare_lp_tuple(big, *args)
    low = compare_lp_tuple(small, *args)
    lower, upper = float(low[2]), float(up[2])
    if up[0] and up[1]:
        return IntervalVerdict(True, True, lower, upper)
    if low[0] and not low[1]:
        return IntervalVerdict(True, False, lower, upper)
    return IntervalVerdict(False, False, lower, upper)


def has_elu(network: ReLUNetwork) -> bool:
    """Whether some layer of ``network`` is an ELU (whose re-check comes here)."""
    return any(layer.activation == "elu" for layer in network.layers)
