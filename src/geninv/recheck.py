"""The cheap re-check: ``||G(z) - x||_p`` against ``delta`` in float64 with a rigorous
error bound, exact arithmetic only when the bound cannot decide.

:meth:`geninv.problem.InversionProblem.exact_check` calls :func:`float_check` first
and falls back to the exact rational evaluation (:meth:`ReLUNetwork.forward_exact`,
:func:`geninv.exact.compare_lp`) when it returns None.  On a 784-output sigmoid
generator the exact path costs seconds per point; this one costs one forward pass
and one more matrix product per layer.

Forward error analysis
----------------------
``u = 2^-53`` (unit roundoff), ``gamma_k = k u / (1 - k u)``.  The float pass keeps,
for every layer, the computed vector ``h`` and an elementwise bound ``E`` with
``|h - h*| <= E`` (``h*`` the exact value; ``E = 0`` for a float-exact latent, else
one ulp per entry).  For the affine map ``s = fl(fl(W h) + b)`` with ``n`` inputs,
in any summation order and with or without fused multiply-add (Higham, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., eq. (3.5) and Lemma 3.1)::

    |s - (W h + b)| <= gamma_{n+1} (|W| |h| + |b|)

and ``|(W h + b) - (W h* + b)| <= |W| E``, so ``|s - s*| <= E_s`` with
``E_s = gamma_{n+1} C + |W| E`` where ``C = |W| |h| + |b|``.  ``C`` and ``|W| E``
are themselves computed in float (nonnegative terms, relative error at most
``gamma_{n+1}``), so the computed ``E_s`` is multiplied by ``1 + 4 gamma_{n+3}``
(covering those errors and the few roundings of the bound's own arithmetic), and
``(n + 2) 2^-1074`` is added for gradual underflow in the products (each product
below the normal range is off by at most ``2^-1075``).

Activations (true input within ``E_s`` of the computed one; each is Lipschitz with
constant ``L`` and monotone)::

    relu, identity          L = 1,           evaluation exact
    leaky_relu(alpha)       L = max(1, |alpha|), evaluation error u |out|
    sigmoid                 L = 1/4,         evaluation error (K/2 + 2) u + 2^-1070
    tanh                    L = 1,           evaluation error K u |out| + 2^-1070
    elu(alpha)              L = max(1, alpha), evaluation error (K + 2) u |out|
                                             + max(1, alpha) 2^-1070

so ``E_out = L E_s + (evaluation error)``, rounded up.  Sigmoid is computed as
``0.5 (1 + tanh(s / 2))`` (as :func:`geninv.network.apply_activation` does), so both
rest on ``tanh``; ``K = TANH_ULPS = 64`` is the assumed bound on the relative error
of NumPy's ``tanh`` and ``expm1`` in ulps (glibc documents <= 2 ulp for both, NumPy's
SIMD kernels <= 4): the one assumption this module makes beyond IEEE 754 arithmetic.
ELU is ``s`` for ``s > 0`` (exact) and ``alpha expm1(s)`` below (``K`` ulps, one more
rounding for the product by ``alpha``, gradual underflow below ``2^-1070``); it is
monotone and ``max(1, alpha)``-Lipschitz (``alpha e^t <= alpha`` for ``t <= 0``).  When
this check cannot decide, a network with an ELU layer is re-checked by the rigorous
rational enclosure of :mod:`geninv.exact_elu` (no float anywhere).

The comparison: ``d = fl(out - x)`` with ``|d - d*| <= E_d`` (``E_out`` plus the
target's rounding plus ``u |d|``), ``l = max(|d| - E_d, 0)``, ``U = |d| + E_d``
(rounded down and up), and ``||l||_p <= ||d*||_p <= ||U||_p`` by monotonicity of the
norm in ``|d_i|``; the two norms are computed with their own ``gamma_{q+2}`` bound
(p = 1, 2) or exactly (p = inf).  The answer is decided when ``delta`` lies outside
``[lower, upper]`` (compared exactly as rationals); otherwise -- an exact tie
``||d*||_p = delta`` always lands here -- None and the caller runs the exact path.

Not handled here (None, the exact path runs): parameters that float64 does not hold
exactly, ``threshold_pow`` given, ``p`` other than 1, 2, inf, non-finite values
anywhere (overflow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from geninv.network import elu_float

if TYPE_CHECKING:
    from geninv.network import Layer, ReLUNetwork
    from geninv.problem import InversionProblem

FloatArray = npt.NDArray[np.float64]

#: Unit roundoff of float64.
U = 2.0**-53
#: Smallest positive subnormal float64.
ETA = 2.0**-1074
#: Assumed bound on the relative error of NumPy's float64 tanh, in ulps (see the module docstring).
TANH_ULPS = 64
#: Piecewise-linear networks at least this large are re-checked in floats first.
FLOAT_CHECK_MIN_PARAMS = 100_000
#: Absolute slack for the smooth activations' underflow (far below any decision).
SMOOTH_TINY = 2.0**-1070


def wants_float_check(network: ReLUNetwork) -> bool:
    """Whether :meth:`~geninv.problem.InversionProblem.exact_check` tries the float
    check first: for a network with a sigmoid or tanh (whose "exact" path evaluates
    them to 60 decimal digits, seconds per point at 784 outputs) or with at least
    ``FLOAT_CHECK_MIN_PARAMS`` parameters.  A small piecewise-linear network keeps the
    exact rational path, whose exact ``distance_pow`` the discrete backends use."""
    return (not network.is_piecewise_linear) or network.n_params >= FLOAT_CHECK_MIN_PARAMS


def gamma(k: int) -> float:
    """``gamma_k = k u / (1 - k u)``, rounded up (Higham's constant)."""
    g = k * U / (1.0 - k * U)
    return float(np.nextafter(g, math.inf))


def _up(a: FloatArray) -> FloatArray:
    """``a`` moved one ulp towards +inf (covers the rounding of the last operation)."""
    return np.nextafter(a, math.inf)


def _fraction_errors(
    values: tuple[Fraction, ...] | list[Fraction],
) -> tuple[FloatArray, FloatArray] | None:
    """Floats of exact rationals and an elementwise bound on their rounding error
    (0 where the float is exact, one ulp elsewhere); None when one is beyond float64."""
    try:
        f = np.array([float(v) for v in values], dtype=np.float64)
    except OverflowError:
        return None
    err = np.zeros_like(f)
    for i, (v, fv) in enumerate(zip(values, f, strict=True)):
        if Fraction(float(fv)) != v:
            err[i] = np.spacing(abs(fv)) if fv != 0 else ETA
    return f, err


@dataclass(frozen=True)
class Enclosure:
    """Float output of the network and an elementwise bound on its error."""

    out: FloatArray
    err: FloatArray


def _structured_affine(
    layer: Layer, h: FloatArray, e: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, int, float]:
    """``(s, c, prop, n, tiny)`` of a structured (convolutional) layer ``W = P_k ... P_1``
    without its dense matrix: ``s = W h + b`` evaluated piece by piece in float64,
    ``c = |P_k| ... |P_1| |h| + |b|`` (which bounds ``|W| |h| + |b|`` elementwise),
    ``prop = |P_k| ... |P_1| e``.  Piece i sums at most ``f_i`` products, so by
    Higham's Lemma 3.3 the composed rounding error is at most
    ``gamma_{sum (f_i + 1) + 1} c`` with ``sum (f_i + 1) <= fan_in + 2 k`` (``fan_in``
    is the product of the weighted pieces' fan-ins, each >= 1; a diagonal piece
    counts 1); ``n = fan_in + 2 k``.  Underflow: each piece adds at most
    ``(f_i + 1) eta`` per entry, amplified by the later pieces' infinity norms, at most
    the sums of their ``|weights|``: ``tiny = (n + 2) eta prod max(1, sum |w_j|)``."""
    op = layer.op
    assert op is not None
    n = int(op.fan_in()) + 2 * len(op.prims)
    absw = op.abs_apply()
    s = op.apply(h[None, :])[0] + layer.bias
    c = absw(np.abs(h)[:, None])[:, 0] + np.abs(layer.bias)
    prop = absw(e[:, None])[:, 0] if e.any() else np.zeros_like(s)
    amp = 1.0
    for p in op.prims:
        if p.weight is not None:
            norm = float(np.abs(p.weight).sum()) * (1.0 + 2.0 * gamma(int(p.weight.size)))
            amp = math.nextafter(amp * max(1.0, math.nextafter(norm, math.inf)), math.inf)
    tiny = math.nextafter((n + 2) * ETA * amp, math.inf) if math.isfinite(amp) else math.inf
    return s, c, prop, n, float(tiny)


def forward_enclosure(network: ReLUNetwork, z: FloatArray, z_err: FloatArray) -> Enclosure | None:
    """The float64 forward pass of ``network`` at ``z`` (exact value within ``z_err``)
    with a rigorous elementwise error bound; None when the network's parameters are
    not float-exact or a value overflows."""
    if not network.is_float_exact():
        return None
    h = z.astype(np.float64, copy=True)
    e = z_err.astype(np.float64, copy=True)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for layer in network.layers:
            if layer.is_structured:
                s, c, prop, n, tiny = _structured_affine(layer, h, e)
            else:
                w = layer.weight
                n = w.shape[1]
                wabs = np.abs(w)
                s = w @ h + layer.bias
                c = wabs @ np.abs(h) + np.abs(layer.bias)
                prop = wabs @ e if e.any() else np.zeros_like(s)
                tiny = (n + 2) * ETA
            es = _up((gamma(n + 1) * c + prop) * (1.0 + 4.0 * gamma(n + 3)) + tiny)
            act = layer.activation
            if act == "relu":
                h, e = np.maximum(s, 0.0), es
            elif act == "identity":
                h, e = s, es
            elif act == "leaky_relu":
                alpha = float(layer.negative_slope)
                h = np.where(s > 0, s, alpha * s)
                e = _up(max(1.0, abs(alpha)) * es + _up(U * np.abs(h)) + ETA)
            elif act == "sigmoid":
                h = 0.5 * (1.0 + np.tanh(0.5 * s))
                e = _up(0.25 * es + ((TANH_ULPS / 2 + 2) * U + SMOOTH_TINY))
            elif act == "tanh":
                h = np.tanh(s)
                e = _up(es + TANH_ULPS * U * np.abs(h) + SMOOTH_TINY)
            elif act == "elu":
                alpha = float(layer.negative_slope)
                lip = max(1.0, alpha)
                h = elu_float(s, alpha)
                e = _up(lip * es + ((TANH_ULPS + 2) * U * np.abs(h) + lip * SMOOTH_TINY))
            else:  # an activation this analysis does not cover
                return None
            if not (np.all(np.isfinite(h)) and np.all(np.isfinite(e))):
                return None
    return Enclosure(h, e)


def norm_bounds(d: FloatArray, err: FloatArray, p: float) -> tuple[float, float] | None:
    """``(lower, upper)`` with ``lower <= ||d*||_p <= upper`` for every ``d*`` with
    ``|d* - d| <= err`` elementwise; None for p other than 1, 2, inf or on overflow."""
    q = d.shape[0]
    a = np.abs(d)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        lo = np.maximum((a - err) * (1.0 - 2.0 * U), 0.0)
        hi = _up((a + err) * (1.0 + 2.0 * U))
        if math.isinf(p):
            lower = float(lo.max()) if q else 0.0
            upper = float(hi.max()) if q else 0.0
        elif p == 1:
            g = 2.0 * gamma(q + 1)
            lower = float(lo.sum()) * (1.0 - g)
            upper = math.nextafter(float(hi.sum()) * (1.0 + g), math.inf)
        elif p == 2:
            g = 2.0 * gamma(q + 2)
            s_lo = float(lo @ lo) * (1.0 - g) - q * ETA
            s_hi = float(hi @ hi) * (1.0 + g) + q * ETA
            lower = math.sqrt(max(s_lo, 0.0)) * (1.0 - 2.0 * U)
            upper = math.nextafter(math.sqrt(s_hi) * (1.0 + 2.0 * U), math.inf)
        else:
            return None
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    return max(lower, 0.0), upper


@dataclass(frozen=True)
class FloatVerdict:
    """A decided float re-check: ``meets``, the float distance and its enclosure."""

    meets: bool
    distance: float
    lower: float
    upper: float

    @property
    def method(self) -> str:
        """The check's method line, with the enclosure of the distance."""
        return (
            "float64 with a rigorous forward error bound "
            f"(distance in [{self.lower:.17g}, {self.upper:.17g}])"
        )


def float_check(problem: InversionProblem, zf: list[Fraction]) -> FloatVerdict | None:
    """Decide ``||G(z) - x||_p (<= or <) delta`` from floats with the error bound of
    the module docstring; None when the bound cannot decide (a tie included) or the
    problem is outside what the analysis covers."""
    p = problem.p
    if problem.threshold_pow is not None or not (math.isinf(p) or p in (1.0, 2.0)):
        return None
    zs = _fraction_errors(zf)
    if zs is None or not np.all(np.isfinite(zs[0])):
        return None
    z, z_err = zs
    enc = forward_enclosure(problem.network, z, z_err)
    if enc is None:
        return None
    ts = problem.derived("recheck_target", lambda: _fraction_errors(problem.target))
    if ts is None:
        return None
    t, t_err = ts
    with np.errstate(over="ignore", invalid="ignore"):
        d = enc.out - t
        d_err = _up((enc.err + t_err + U * np.abs(d)) * (1.0 + 4.0 * U))
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(d_err))):
        return None
    bounds = norm_bounds(d, d_err, p)
    if bounds is None:
        return None
    lower, upper = bounds
    delta = problem.threshold
    strict = problem.relation == "<"
    up_f, lo_f = Fraction(upper), Fraction(lower)
    dist = float(np.max(np.abs(d))) if math.isinf(p) else float(np.linalg.norm(d, ord=p))
    dist = min(max(dist, lower), upper)
    if (up_f < delta) if strict else (up_f <= delta):
        return FloatVerdict(True, dist, lower, upper)
    if (lo_f >= delta) if strict else (lo_f > delta):
        return FloatVerdict(False, dist, lower, upper)
    return None
