"""The rigorous a-priori error bound of the float screening, and the exact keys of corners."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from geninv.exact import exact_rational, float_up, power_bounds
from geninv.network import FloatArray, ReLUNetwork
from geninv.problem import (
    NONINTEGER_P_DIGITS,
    InversionProblem,
)

if TYPE_CHECKING:
    pass

from geninv.solvers.enumerate.common import CHUNK_FLOATS, ETA, SAFETY, U


# --------------------------------------------------------------- float bound
def gamma(k: float) -> float:
    """``k u / (1 - k u)``; infinite once ``k u >= 1/2`` (the bound is then useless)."""
    ku = k * U
    if not ku < 0.5:
        return math.inf
    return ku / (1.0 - ku)


def _inflate(x: FloatArray, ops: int) -> FloatArray:
    """Upper bound of the real value of an expression of ``ops`` nonnegative float operations."""
    out: FloatArray = x * (1.0 + 2.0 * (ops + 3) * U) + (ops + 3) * ETA
    return out


def _inflate_scalar(x: float, ops: int = 4) -> float:
    if math.isnan(x):
        return math.inf
    return x * (1.0 + 2.0 * (ops + 3) * U) + (ops + 3) * ETA


def _frac_bits(a: FloatArray) -> int:
    """Smallest f >= 0 with every entry of ``a`` a multiple of 2^-f."""
    nz = a[a != 0]
    if nz.size == 0:
        return 0
    mant, ex = np.frexp(nz)  # nz = mant * 2**ex, 0.5 <= |mant| < 1
    m = np.abs(mant * 2.0**53).astype(np.int64)  # exact integer in [2^52, 2^53)
    low = m & -m  # lowest set bit, a power of two
    tz = np.log2(low.astype(np.float64)).astype(np.int64)
    # nz = ±(m >> tz) * 2^(ex - 53 + tz)
    return max(0, int((53 - ex.astype(np.int64) - tz).max()))


def _exact_abs_diff(exact: list[Fraction], floats: FloatArray) -> FloatArray:
    return np.array(
        [float_up(abs(e - Fraction(float(f)))) for e, f in zip(exact, floats, strict=True)],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class ErrorBound:
    """A-priori bound on |float distance - exact distance| over all corners.

    ``abs_error`` (A) and ``rel_error`` (R) are the bound *before* the safety
    factor: ``|D* - D| <= A + R D`` for every corner.
    """

    output_error: FloatArray  # E_L, per output
    target_error: FloatArray  # |x_j - float(x_j)|, rounded up
    abs_error: float
    rel_error: float
    float_exact: bool  # the float forward pass is exact on every corner
    safety: float = SAFETY
    float32_exact: bool = False  # ... and so is a float32 forward pass (see the module docstring)
    float32_fold: bool = False  # ... also with the first ReLU folded into layer 2

    def cutoff(self, bound: float) -> float:
        """A float c such that float distance D > c implies exact distance > ``bound``."""
        a = self.safety * self.abs_error
        r = self.safety * self.rel_error
        if not (math.isfinite(bound) and math.isfinite(a) and r < 0.25):
            return math.inf
        # D (1 - r) - a > bound  <=>  D > (bound + a) / (1 - r); 1 - r rounded down
        return _inflate_scalar((bound + a) / ((1.0 - r) * (1.0 - U)))

    def upper(self, distance: float) -> float:
        """An upper bound of the exact distance of a corner with float distance ``distance``."""
        a = self.safety * self.abs_error
        r = self.safety * self.rel_error
        if not (math.isfinite(distance) and math.isfinite(a) and math.isfinite(r)):
            return math.inf
        return _inflate_scalar(distance * (1.0 + r) + a)


def _float32_values(a: FloatArray) -> bool:
    """Every entry of ``a`` is a finite float32 value."""
    with np.errstate(over="ignore"):
        a32 = a.astype(np.float32)
    return bool(np.all(np.isfinite(a32)) and np.array_equal(a32.astype(np.float64), a))


def _network_bound(network: ReLUNetwork, m0: float) -> tuple[FloatArray, bool, bool, bool]:
    """E_L over inputs with |z_i| <= m0 that are integers (corners), and float exactness
    in float64, in float32, and in float32 with the first ReLU folded into layer 2."""
    mag = np.full(network.n_inputs, m0, dtype=np.float64)  # M_{l-1}
    err = np.zeros(network.n_inputs, dtype=np.float64)  # E_{l-1}
    exact = True
    exact32 = m0 <= 2.0**24
    fold32 = len(network.layers) >= 2 and network.layers[0].activation == "relu"
    frac = 0  # F_{l-1}
    first_sum = np.zeros(0)  # layer 1's float_sum: bounds |T|, |C| and max(T, -C)
    for index, layer in enumerate(network.layers):
        k = layer.n_in
        wa = np.abs(layer.weight)
        ba = np.abs(layer.bias)
        if layer.exact_weight is not None:
            dw = np.array(
                [
                    _exact_abs_diff(row, frow)
                    for row, frow in zip(layer.exact_weight, layer.weight, strict=True)
                ],
                dtype=np.float64,
            ).reshape(wa.shape)
            db = _exact_abs_diff(layer.exact_bias_values(), layer.bias)
            w_star = _inflate(wa + dw, 1)
            b_star = _inflate(ba + db, 1)
        else:
            dw = np.zeros_like(wa)
            db = np.zeros_like(ba)
            w_star, b_star = wa, ba
        with np.errstate(over="ignore", invalid="ignore"):
            new_mag = _inflate(w_star @ mag + b_star, k + 1)
            float_sum = _inflate(wa @ (mag + err) + ba, k + 2)  # bounds sum |terms| in floats
            new_err = _inflate(
                wa @ err + dw @ mag + db + gamma(k + 1) * float_sum + (k + 1) * ETA, 2 * k + 6
            )
        if exact and layer.exact_weight is None:
            frac = max(_frac_bits(layer.weight) + frac, _frac_bits(layer.bias))
            exact = frac <= 1074 and bool(np.all(float_sum < 2.0 ** (53 - frac)))
            exact32 = (
                exact32
                and exact
                and frac <= 149
                and bool(np.all(float_sum < 2.0 ** (24 - frac)))
                and _float32_values(layer.weight)
                and _float32_values(layer.bias)
            )
            if index == 0:
                first_sum = float_sum
            elif index == 1:  # the terms W_2 max(T, -C), W_2 C and b_2 (module docstring)
                with np.errstate(over="ignore", invalid="ignore"):
                    fold_sum = _inflate(wa @ (2.0 * first_sum) + ba, 2 * k + 4)
                fold32 = fold32 and bool(np.all(fold_sum < 2.0 ** (24 - frac)))
        else:
            exact = exact32 = False
        if exact:
            new_err = np.zeros_like(new_err)
        new_err[~np.isfinite(new_err)] = math.inf
        new_mag[~np.isfinite(new_mag)] = math.inf
        mag, err = new_mag, new_err
    exact32 = exact and exact32
    return err, exact, exact32, exact32 and fold32


def _norm_rho(p: float, q: int) -> float:
    """Relative error bound of :func:`geninv.problem.lp_norm_rows` on q columns."""
    if math.isinf(p):
        return 0.0
    if p in (1.0, 2.0):
        return gamma(q + 3)
    return gamma(2 * q + math.ceil(p) + 8)


def _norm_upper(v: FloatArray, p: float) -> float:
    """Upper bound of ||v||_p for a nonnegative vector v."""
    if v.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        top = float(v.max())
        if math.isinf(p) or not 0 < top < math.inf:
            val = top
        elif p < 2:
            val = float(v.sum())
        else:  # scaled, so that tiny entries do not underflow when squared
            r = v / top
            val = top * math.sqrt(float((r * r).sum()))
    if math.isnan(val):
        return math.inf
    return _inflate_scalar(val, 2 * v.size + 8)


def error_bound(problem: InversionProblem) -> ErrorBound:
    """The a-priori float error bound of the module docstring for a discrete problem."""
    values = problem.domain.corner_values()
    m0 = float(max(abs(v) for v in values))
    out_err, exact, exact32, fold32 = _network_bound(problem.network, m0)
    target = problem.target_array()
    dt = _exact_abs_diff(list(problem.target), target)
    q = problem.network.n_outputs
    p = problem.p
    with np.errstate(over="ignore", invalid="ignore"):
        total = _inflate(out_err + dt, 1)
    a = _norm_upper(total, p)
    # underflow in the norm routine (squares below the subnormal range for p = 2)
    a += 2.0**-530 * math.sqrt(q + 1) if p == 2 else 16 * ETA
    rho = _norm_rho(p, q)
    rel = (rho + 2.0 * U) / (1.0 - rho) * (1.0 + 4.0 * U) if rho < 0.5 else math.inf
    return ErrorBound(out_err, dt, a, rel, exact, float32_exact=exact32, float32_fold=fold32)


def threshold_upper(problem: InversionProblem) -> float:
    """A float >= delta (delta = threshold, or (threshold_pow)^(1/p))."""
    tp = problem.threshold_pow
    if tp is None:
        return float_up(problem.threshold)
    k = int(problem.p)
    t = float_up(tp)
    if not math.isfinite(t):
        return math.inf
    r = float(t ** (1.0 / k))
    while math.isfinite(r) and Fraction(r) ** k < tp:
        r = math.nextafter(r, math.inf)
    return r


def chunk_rows(network: ReLUNetwork, max_floats: int = CHUNK_FLOATS) -> int:
    """Rows per chunk so that ``rows * max(n, widths) <= max_floats`` (at least 1)."""
    width = max(network.n_inputs, *network.widths)
    return max(1, max_floats // width)


def corners(start: int, stop: int, n: int, values: tuple[int, int]) -> npt.NDArray[np.int64]:
    """Corners ``start .. stop-1`` in the order of ``itertools.product(values, repeat=n)``."""
    idx = np.arange(start, stop, dtype=np.int64)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    bits = (idx[:, None] >> shifts[None, :]) & 1
    lo, hi = values
    out: npt.NDArray[np.int64] = lo + bits * (hi - lo)
    return out


def exact_key(problem: InversionProblem, output: list[Fraction]) -> Fraction:
    """A value increasing with the exact distance of an exact output.

    max |d_i| for p = inf, sum |d_i|^p for integer p (both exact), and for
    other p a rigorous lower bound of sum |d_i|^p at ``NONINTEGER_P_DIGITS``
    digits (:func:`geninv.exact.power_bounds`; 0 when out of range).  Equal
    multisets of |d_i| get equal keys.  :func:`_finish` only answers ``no`` from
    such a minimiser when its lower bound exceeds an upper bound of delta^p, so
    every corner's exact sum (>= its key >= the minimal key) exceeds delta^p.
    """
    absd = [abs(o - t) for o, t in zip(output, problem.target, strict=True)]
    p = problem.p
    if math.isinf(p):
        return max(absd, default=Fraction(0))
    if p.is_integer():
        k = int(p)
        return sum((v**k for v in absd), Fraction(0))
    bounds = power_bounds(absd, exact_rational(p), NONINTEGER_P_DIGITS)
    return bounds[0] if bounds is not None else Fraction(0)
