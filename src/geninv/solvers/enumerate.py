"""Reference solver: enumerate every corner of {0,1}^n or {-1,1}^n.

This backend is the oracle the other solvers are tested against, so it favours
being right; within that, it is built to be fast.  It evaluates the network in
float64 on every corner, screens the float distances, and re-checks every
point the floats cannot rule out with certainty in exact rational arithmetic
(:meth:`InversionProblem.exact_check`).  A ``no`` therefore rests on a
rigorous a-priori bound on the float error, derived below, and on shard
bookkeeping that shows every corner was screened exactly once.

Enumeration order and the table method
--------------------------------------
Corner ``i`` (``0 <= i < 2^n``) is the ``i``-th element of
``itertools.product(values, repeat=n)``: coordinate ``j`` holds bit ``n-1-j`` of
``i``.  With ``k`` *table bits*, ``i = o 2^k + r``: the *outer* index ``o`` holds
coordinates ``0 .. n-k-1`` and the *inner* index ``r`` coordinates ``n-k .. n-1``.
The first layer's contribution of the inner block is computed once for all
``2^k`` inner patterns, ``T[r] = W_1[:, inner] z(r)`` (a ``(2^k, m_1)`` table,
stored transposed); for a batch of outer patterns the first-layer
pre-activation of all ``2^k`` corners sharing ``o`` is one broadcast add
``T + C[o]`` with ``C[o] = W_1[:, outer] z(o) + b_1``: ``O(m_1)`` per corner instead
of ``O(n m_1)``.  A chunk's activations are 2-D arrays ``(m_l, rows)`` (one column
per corner, in order), so each later layer is one matrix product ``W_l H``, and
the distances are taken column-wise on the ``(q, rows)`` outputs.  The ``C[o]``
of many chunks are computed at once.  Chunks hold at most ``chunk_rows``
corners, so memory stays bounded whatever ``n`` (per worker); the default
(512 KiB per layer array) keeps the first layer's block in the L2 cache, where
the add and the ReLU run fastest.

Shards and parallelism
----------------------
The ``2^(n-k)`` outer indices are cut into contiguous *shards*; shard ``s`` with
outer indices ``[a, b)`` is the corners ``[a 2^k, b 2^k)``.  Shards are independent
and deterministic (:func:`run_shard`), so they run in the calling thread, in a
thread pool (numpy releases the GIL in its kernels), in a process pool, or as
Dask tasks (:mod:`geninv.solvers.enumerate_dask`), and a shard computed twice
gives the same result.  :class:`ShardCombiner` keeps one result per shard id,
so nothing is counted twice; a ``no`` is only returned when the completed
shards tile ``[0, 2^n)`` exactly and their point counts sum to ``2^n`` (both
checked, and recorded per shard in the proof).

Float error bound
-----------------
Notation: ``u = 2^-53`` (unit roundoff of float64), ``gamma_k = k u / (1 - k u)``,
``eta = 2^-1074`` (smallest subnormal), ``|.|`` elementwise absolute value,
``W_l, b_l`` the float64 parameters, ``W*_l, b*_l`` the exact (rational)
ones, ``dW_l = |W*_l - W_l|`` and ``db_l = |b*_l - b_l|`` (zero unless the
network was built from rationals that floats cannot hold, e.g. 1/3), and
``k_l`` the fan-in of layer ``l``.  Over the whole domain (every corner):

* ``M_0 = max |corner value|`` (1 for both domains), ``E_0 = 0`` (corners are
  exact floats);
* ``M_l = |W*_l| M_{l-1} + |b*_l|`` bounds the exact pre-activations (hence
  the exact activations);
* ``E_l = |W_l| E_{l-1} + dW_l M_{l-1} + db_l
  + gamma_{k_l+1} (|W_l| (M_{l-1} + E_{l-1}) + |b_l|) + (k_l+1) eta``
  bounds ``|float h_l - exact h_l|``.  The ``gamma`` term is the standard
  bound for a sum of the ``k_l + 1`` terms ``w_ij h_j`` and ``b_i`` evaluated
  along *any* binary tree of float additions, with or without FMA: every
  leaf of a binary tree with ``k_l + 1`` leaves lies at depth at most ``k_l``,
  so each term is rounded at most once as a product and at most ``k_l`` times
  inside partial sums, and the computed sum is ``sum_t term_t (1 + theta_t)``
  with ``|theta_t| <= gamma_{k_l+1}`` (Higham, *Accuracy and Stability of
  Numerical Algorithms*, Lemma 3.1).  This covers every BLAS summation order,
  and the table method: layer 1 is computed as ``fl(T[r] + C[o])`` where
  ``T[r]`` is a float sum (some tree) of the inner terms, ``C[o]`` a float sum
  (some tree) of the outer terms and the bias, and the final add joins the two
  trees, so the whole is again one binary tree over the same ``n + 1`` leaves
  and the same ``gamma_{n+1}`` bound applies (a sum of two partial dot
  products is still a dot product).  The ``eta`` term covers underflow in the
  products (float additions are exact in the subnormal range).  ReLU is
  1-Lipschitz, so it does not increase the error.  No partial sum can
  overflow while ``M`` is finite.

Every bound is computed in float64 with upward inflation (each vector
expression of ``k`` operations is multiplied by ``1 + 2(k+3)u`` and gets
``(k+3) eta`` added), so it is an upper bound of the real-number formula.

*Exact float evaluation.*  If every parameter is a float whose value is a
multiple of ``2^-f`` and every |partial sum| of layer ``l`` stays below
``2^(53 - F_l)``, with ``F_0 = 0`` and ``F_l = max(f_{W_l} + F_{l-1}, f_{b_l})``,
then every float operation is exact and ``E_L = 0`` (typical for the integer
networks of the hardness reductions).  The test bounds every partial sum by
the sum of the absolute values of all terms, which holds for any summation
tree, so it also covers the table method (the table entries and ``C[o]`` are
partial sums).  Identical float outputs then mean identical exact outputs,
which lets exact re-checks be cached by output.

*Float32 evaluation.*  The same argument holds in float32 (24-bit
significand, smallest subnormal ``2^-149``) when every parameter is a float32
value, ``F_l <= 149`` and every |partial sum| stays below ``2^(24 - F_l)``:
every float32 product and sum is then exact, so the float32 forward pass (and
the table method in float32) gives exactly the float64 outputs, which are the
exact outputs.  Only then (``ErrorBound.float32_exact``, the usual case for
the integer networks of the reductions) does the plan evaluate in float32
(``precision="auto"``, the default), which halves the memory traffic of the
hot loop; the outputs are widened to float64 (exactly) before the distance, so
everything after the forward pass, the bound included, is unchanged.  Any
other network is evaluated in float64.

*Folded first ReLU (float32 plans).*  ``relu(T + C) = max(T, -C) + C``, so
layer 2's pre-activation is ``W_2 max(T, -C) + (W_2 C + b_2)``: one max per
unit and corner instead of an add and a max, and ``W_2 C + b_2`` once per
outer pattern.  In exact arithmetic the two are equal.  The float32 plan
folds only when this evaluation is exact too (``ErrorBound.float32_fold``):
``-C`` and the max are exact, ``T``, ``C`` and ``max(T, -C)`` are multiples of
``2^-F_1`` bounded by ``S_1 = |W_1| M_0 + |b_1|`` (the bound on layer 1's
partial sums), and every partial sum of layer 2's ``2 m_1 + 1`` terms is
bounded by ``|W_2| (2 S_1) + |b_2|``, which the test requires to stay below
``2^(24 - F_2)``: then every float32 operation of layer 2 is exact, its
outputs equal the exact ones, and the later layers are exact as before.

*Distance.*  The float distance is ``D = problem.distances(y)``: ``d = fl(y - t)``
with ``t = float(x)``, then the row norm of :func:`geninv.problem.lp_norm_rows`
(for p = 1, 2, inf :meth:`EnumPlan.distances` evaluates the same formula on the
transposed outputs; only the summation order differs, which ``rho`` allows).
With ``dt_j = |x_j - float(x_j)|`` (the target need not be a float) and
``|fl(y - t) - (y - t)| <= u |y - t|``, the triangle inequality gives for the
exact distance ``D* = ||G*(z) - x||_p``::

    |D* - D| <= A + R D,   A = ||E_L + dt||_p + (norm underflow),
                           R = (rho + 2u) / (1 - rho)

where ``rho`` bounds the relative error of the norm routine: 0 for p = inf
(max is exact), ``gamma_{q+3}`` for p = 1 and p = 2 (any summation order), and
``gamma_{2q + ceil(p) + 8}`` for other p (scaling by the max, the power, the
sum, the root with a rounded exponent ``1/p``, and the final product; it
assumes ``pow`` is accurate to 1 ulp).  ``||E_L + dt||_p`` is bounded by its
1-norm for p < 2, its 2-norm for p >= 2 and the max for p = inf.

Both ``A`` and ``R`` are then multiplied by a safety factor 2.  A corner with

    D > cutoff(delta) = (delta + 2A) / (1 - 2R)   (rounded up)

has ``D* > delta`` and is certainly not a witness, for both relations; all
other corners, and any corner whose float distance is NaN or infinite, are
re-checked exactly.  ``margin = cutoff(delta) - delta`` is reported in the
proof of a ``no``.  When ``delta`` is given as ``delta^p`` (``threshold_pow``),
an upper float bound of its p-th root is verified in exact arithmetic.

Modes
-----
``decide`` (default) returns the first exact witness in enumeration order,
whatever the shards, workers and timing: each shard stops at its own first
witness, shards after a witness shard are told to stop, and the answer is the
witness of the lowest shard whose predecessors all finished without one.
A corner whose exact comparison with the threshold is out of reach
(:mod:`geninv.exact`: non-integer p, undecided within its caps) is neither a
witness nor excluded: a run that finds no witness then answers ``unknown``,
never ``no``.  ``optimize`` finds the minimum exact distance over all corners: each shard
screens with the running float minimum ``m`` (shared between threads or
processes; a corner with ``D (1 - 2R) - 2A > m (1 + 2R) + 2A`` cannot be a
minimiser, whichever corner ``m`` came from), exact-checks the survivors in
enumeration order and keeps its first minimiser; the shards' minima are
combined by (exact key, index), i.e. the first minimiser in enumeration order.
The decision follows from the minimiser; ``stats`` hold ``min_distance`` and
``argmin``.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import multiprocessing as mp
import os
import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from geninv.errors import GeninvError, UnsupportedError, ValidationError
from geninv.exact import exact_rational, float_up, power_bounds
from geninv.network import FloatArray, ReLUNetwork
from geninv.problem import (
    NONINTEGER_P_DIGITS,
    ExactCheck,
    InversionProblem,
    Solution,
    Status,
)
from geninv.solvers.base import Backend, Capabilities, register

if TYPE_CHECKING:
    from distributed import Client

Mode = Literal["decide", "optimize"]
MODES: tuple[str, ...] = ("decide", "optimize")
ExecutorKind = Literal["threads", "processes"]
EXECUTORS: tuple[str, ...] = ("threads", "processes")
Precision = Literal["auto", "float64"]
PRECISIONS: tuple[str, ...] = ("auto", "float64")
#: A float64 array, or a float32 one where float32 evaluation is exact.
AnyFloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]

#: Largest latent dimension this backend accepts (2^40 corners is already days).
MAX_N = 40
#: Budget per chunk, in float64 entries (8 bytes each) per layer array:
#: ``chunk_rows * max(n, widths) <= CHUNK_FLOATS`` (twice the rows for a float32 plan, the
#: same bytes).  512 KiB keeps a chunk's layer-1 block in the L2 cache of current CPUs,
#: which was measured faster than larger chunks (bench/bench_enumerate.py).
CHUNK_FLOATS = 1 << 16
#: Float entries of the outer block C computed at once for several chunks.
OUTER_FLOATS = 1 << 16
#: Default number of inner (table) bits k; capped by n and by ``log2(chunk_rows)``.
TABLE_BITS = 10
#: Largest accepted ``table_bits``.
MAX_TABLE_BITS = 24
#: Safety factor applied to the a-priori error bound.
SAFETY = 2.0
#: Exact re-checks are cached by float output (only when floats are exact) up to this size.
CACHE_LIMIT = 1 << 16
#: Optimize mode exact-checks its pending candidates once this many have piled up.
PENDING_LIMIT = 4096
#: With ``workers=None``, problems with fewer corners than this run in the calling thread.
PARALLEL_MIN_POINTS = 1 << 16
#: Default number of shards per worker thread (load balance and early exit in decide mode).
SHARDS_PER_WORKER = 8
#: Without a time limit, runs of more corners than this are timed on a probe first ...
ESTIMATE_MIN_POINTS = 1 << 30
#: ... and one estimated to take longer than this many seconds is announced on stderr.
ANNOUNCE_SECONDS = 600.0
#: Seconds spent on the probe.
PROBE_SECONDS = 0.15

U = 2.0**-53
ETA = 2.0**-1074  # smallest positive subnormal


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


def _check_supported(problem: InversionProblem) -> tuple[int, int]:
    if problem.domain.kind not in ("binary", "sign"):
        raise UnsupportedError(
            f"enumeration needs a binary or sign latent domain, not {problem.domain.kind!r}"
        )
    if problem.n > MAX_N:
        raise UnsupportedError(
            f"enumeration of 2^{problem.n} corners is out of reach (at most n = {MAX_N}); "
            "use the sat or milp backend instead"
        )
    # the float pass (EnumPlan.evaluate) and the error bound know ReLU and identity only
    outside = problem.network.first_layer_outside(HANDLED_ACTIVATIONS)
    if outside is not None:
        raise UnsupportedError(
            f"backend 'enumerate' cannot evaluate {outside}; it handles relu and identity layers"
        )
    return problem.domain.corner_values()


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, total: int, enabled: bool, label: str) -> None:
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                ProgressColumn,
                Task,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.text import Text

            class RateColumn(ProgressColumn):
                def render(self, task: Task) -> Text:
                    speed = task.finished_speed or task.speed
                    if speed is None:
                        return Text("-- candidates/s")
                    return Text(f"{speed:,.0f} candidates/s")

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._progress.add_task(label, total=total)

    def __enter__(self) -> _Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, k: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, k)


def default_workers() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _fmin(a: FloatArray) -> float:
    """Smallest entry ignoring NaN (inf when there is none)."""
    if a.size == 0:
        return math.inf
    v = float(np.fmin.reduce(a))
    return v if not math.isnan(v) else math.inf


def _screen(dist: FloatArray, cutoff: float) -> npt.NDArray[np.intp]:
    """Indices the float screen cannot exclude: dist <= cutoff, NaN or infinite."""
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(~(dist > cutoff) | ~np.isfinite(dist))


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.time() >= deadline


class _BlasLimit:
    """Keep BLAS single-threaded while shards run; the shards are the parallelism.

    Multi-threaded BLAS inside each of several worker threads oversubscribes
    the cores, and OpenBLAS's threaded kernels on the chunk shapes used here can
    be 100x slower on a loaded machine.  The limit is process-wide (BLAS has no
    per-thread setting), reference-counted over concurrently running shards,
    and restored when the last one ends.  It uses :mod:`threadpoolctl` when that
    is installed, else OpenBLAS's own setter found among the loaded libraries
    (Linux); elsewhere it does nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._restore: Callable[[], None] | None = None
        self._probed = False
        self._threadpoolctl: Any = None
        self._openblas: tuple[Callable[[], int], Callable[[int], None]] | None = None

    def _limit(self) -> Callable[[], None] | None:
        if not self._probed:
            self._probed = True
            try:
                self._threadpoolctl = importlib.import_module("threadpoolctl")
            except ImportError:
                self._openblas = _find_openblas()
        if self._threadpoolctl is not None:
            limiter = self._threadpoolctl.threadpool_limits(limits=1, user_api="blas")
            return lambda: limiter.restore_original_limits()
        if self._openblas is None:
            return None
        get, set_ = self._openblas
        before = get()
        set_(1)
        return lambda: set_(before)

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._restore = self._limit()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._restore is not None:
                self._restore()
                self._restore = None


def _find_openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """get/set thread count of an OpenBLAS already loaded in this process, if any."""
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted(
                {line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line}
            )
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is None or set_ is None:
                    continue
                get.restype = ctypes.c_int
                get.argtypes = []
                set_.restype = None
                set_.argtypes = [ctypes.c_int]
                return (lambda g=get: int(g())), (lambda k, s=set_: s(k))
    return None


_BLAS_LIMIT = _BlasLimit()


class ShardError(RuntimeError):
    """Shard bookkeeping is inconsistent (a bug, never a property of the input)."""


# --------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Shard:
    """Outer indices ``[start, stop)``, i.e. corners ``[start 2^k, stop 2^k)``."""

    shard_id: int
    start: int
    stop: int
    table_bits: int

    @property
    def first(self) -> int:
        """First corner index."""
        return self.start << self.table_bits

    @property
    def last(self) -> int:
        """One past the last corner index."""
        return self.stop << self.table_bits

    @property
    def points(self) -> int:
        return self.last - self.first


@dataclass(frozen=True, eq=False)
class EnumPlan:
    """Everything a shard needs: the problem, its error bound, the table, the chunking.

    Built once (:func:`make_plan`) and shipped, pickled, to threads, processes
    or Dask workers.  The arrays used by :meth:`evaluate` (``table``,
    ``w_outer``, ``bias1``, ``rest``) are in ``dtype``: float32 only when the
    float32 forward pass is exact (``bound.float32_exact``), else float64.
    """

    problem: InversionProblem
    values: tuple[int, int]
    bound: ErrorBound
    rows: int  # at most this many corners per chunk
    table_bits: int  # k
    batch: int  # outer patterns per chunk (batch * 2^k <= rows)
    table: AnyFloatArray  # (m_1, 2^k): column r is W_1[:, inner] z(r)
    w_outer: AnyFloatArray  # (m_1, n - k): W_1[:, outer]
    cutoff: float  # decide mode: float distances above this are not witnesses
    margin: float  # cutoff - delta
    dtype: str = "float64"  # "float32" or "float64": the evaluation precision
    fold: bool = False  # layer 1's ReLU folded into layer 2 (exact float32 plans only)
    bias1: AnyFloatArray | None = None  # (m_1,): b_1 in dtype
    rest: tuple[tuple[AnyFloatArray, AnyFloatArray, bool], ...] = ()  # (W_l, b_l[:, None], relu)
    target: FloatArray | None = None  # (q, 1): float(x), float64

    @property
    def n(self) -> int:
        return self.problem.n

    @property
    def total(self) -> int:
        return 1 << self.problem.n

    @property
    def n_outer(self) -> int:
        """Number of outer patterns, 2^(n-k)."""
        return 1 << (self.problem.n - self.table_bits)

    def split(self, count: int) -> list[Shard]:
        """``min(count, 2^(n-k))`` shards of (nearly) equal size covering every outer index."""
        count = max(1, min(count, self.n_outer))
        cuts = [self.n_outer * i // count for i in range(count + 1)]
        return [Shard(i, cuts[i], cuts[i + 1], self.table_bits) for i in range(count)]

    def buffer(self) -> list[AnyFloatArray]:
        """Scratch space for one chunk: a flat array per layer (``m_l`` x rows entries)."""
        rows = self.batch << self.table_bits
        return [
            np.empty(layer.n_out * rows, dtype=self.dtype) for layer in self.problem.network.layers
        ]

    def outer(self, start: int, stop: int) -> AnyFloatArray:
        """``C[o] = W_1[:, outer] z(o) + b_1`` for the outer indices ``[start, stop)``.

        Shape ``(stop - start, m_1)``, in ``dtype``.
        """
        zo = corners(start, stop, self.n - self.table_bits, self.values).astype(self.dtype)
        bias1 = self.problem.network.layers[0].bias if self.bias1 is None else self.bias1
        c: AnyFloatArray = zo @ self.w_outer.T
        c += bias1
        return c

    def forward(
        self,
        start: int,
        stop: int,
        buf: list[AnyFloatArray] | None = None,
        c: AnyFloatArray | None = None,
    ) -> tuple[AnyFloatArray, FloatArray]:
        """Last-layer outputs ``(q, rows)`` (in ``dtype``) and float64 distances ``(rows,)``
        of the outer indices ``[start, stop)``; column ``j`` is corner ``start 2^k + j``.

        The layers are 2-D arrays ``(m_l, rows)`` laid out in ``buf`` (from
        :meth:`buffer`), so each later layer is one matrix product; ``c`` is
        :meth:`outer` of the same range when the caller has it.  The outputs
        share memory with ``buf``: use them before the next call.  Like
        :meth:`outer` and :meth:`distances` it leaves numpy's overflow warnings
        to the caller (:func:`run_shard` and :meth:`evaluate` silence them).
        """
        b = stop - start
        size = 1 << self.table_bits
        rows = b * size
        layers = self.problem.network.layers
        m1 = layers[0].n_out
        if (
            buf is None
            or len(buf) != len(layers)
            or buf[0].size < m1 * rows
            or buf[0].dtype != self.dtype
        ):
            buf = [np.empty(layer.n_out * rows, dtype=self.dtype) for layer in layers]
        if c is None:
            c = self.outer(start, stop)
        rest = self.rest if self.bias1 is not None else _rest_layers(self.problem, np.float64)
        h: AnyFloatArray = buf[0][: m1 * rows].reshape(m1, rows)
        if self.fold:
            # relu(T + C) = max(T, -C) + C, and W_2 C + b_2 once per outer pattern
            # (exact in float32 here: see the module docstring)
            np.maximum(self.table[:, None, :], -c.T[:, :, None], out=h.reshape(m1, b, size))
            (weight, bias, relu), scratch = rest[0], buf[1]
            m2 = weight.shape[0]
            nxt = scratch[: m2 * rows].reshape(m2, rows)
            np.matmul(weight, h, out=nxt)
            shift = c @ weight.T  # (b, m_2)
            shift += bias[:, 0]
            nxt3 = nxt.reshape(m2, b, size)
            nxt3 += shift.T[:, :, None]
            if relu:
                np.maximum(nxt, 0.0, out=nxt)
            h = nxt
            later = zip(rest[1:], buf[2:], strict=True)
        else:
            # layer 1: h[:, j 2^k + r] = T[:, r] + C[start + j]
            np.add(self.table[:, None, :], c.T[:, :, None], out=h.reshape(m1, b, size))
            if layers[0].activation == "relu":
                np.maximum(h, 0.0, out=h)
            later = zip(rest, buf[1:], strict=True)
        for (weight, bias, relu), scratch in later:
            nxt = scratch[: weight.shape[0] * rows].reshape(weight.shape[0], rows)
            np.matmul(weight, h, out=nxt)
            nxt += bias
            if relu:
                np.maximum(nxt, 0.0, out=nxt)
            h = nxt
        return h, self.distances(h)

    def distances(self, y: AnyFloatArray) -> FloatArray:
        """Float distances of the outputs ``y`` (shape ``(q, rows)``), as
        :meth:`InversionProblem.distances` computes them for ``y.T``.

        For p = 1, 2 and inf the formula of :func:`geninv.problem.lp_norm_rows`
        is evaluated here on the transposed layout (``d = fl(y - t)`` in
        float64, then max |d|, sum |d| or sqrt(sum d*d) over each column); only
        the summation order can differ, and the error bound allows any order.
        Other p go through ``problem.distances`` itself.
        """
        problem = self.problem
        p = problem.p
        q = y.shape[0]
        if q == 0 or not (math.isinf(p) or p in (1.0, 2.0)):
            return problem.distances(np.ascontiguousarray(y.T, dtype=np.float64))
        target = problem.target_array()[:, None] if self.target is None else self.target
        d: FloatArray = np.subtract(y, target, dtype=np.float64)  # float32 widens exactly
        out: FloatArray
        if p == 2:
            np.multiply(d, d, out=d)
            out = d[0] if q == 1 else d.sum(axis=0)
            np.sqrt(out, out=out)
            return out
        np.abs(d, out=d)
        if q == 1:
            out = d[0]
        elif math.isinf(p):
            out = d.max(axis=0)
        else:
            out = d.sum(axis=0)
        return out

    @staticmethod
    def output_rows(y: AnyFloatArray, idx: npt.NDArray[np.intp]) -> FloatArray:
        """Columns ``idx`` of the outputs ``y`` of :meth:`forward`, as float64 rows.

        Shape ``(len(idx), q)``; widening float32 to float64 is exact.
        """
        out: FloatArray = np.ascontiguousarray(y[:, idx].T, dtype=np.float64)
        return out

    def evaluate(
        self, start: int, stop: int, buf: list[AnyFloatArray] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Float64 outputs ``(rows, q)`` and distances of the outer indices ``[start, stop)``.

        Row ``j`` is corner ``start 2^k + j``.  (The shards use :meth:`forward`,
        which leaves the outputs transposed.)
        """
        with np.errstate(over="ignore", invalid="ignore"):
            y, dist = self.forward(start, stop, buf)
        out: FloatArray = np.ascontiguousarray(y.T, dtype=np.float64)  # float32 widens exactly
        return out, dist

    def corner(self, index: int) -> list[Fraction]:
        z = corners(index, index + 1, self.n, self.values)[0]
        return [Fraction(int(v)) for v in z]


def choose_table_bits(n: int, rows: int, min_shards: int = 1, requested: int | None = None) -> int:
    """k: the requested (or default) table bits, capped so that ``2^k <= rows``, ``k <= n``
    and, where possible, ``2^(n-k) >= min_shards``."""
    k = TABLE_BITS if requested is None else requested
    k = min(k, n, max(0, rows.bit_length() - 1))
    need = max(0, (min_shards - 1).bit_length())  # ceil(log2(min_shards))
    return max(0, min(k, n - need))


def _rest_layers(
    problem: InversionProblem, dtype: type[np.floating[Any]]
) -> tuple[tuple[AnyFloatArray, AnyFloatArray, bool], ...]:
    """Layers 2..L as (weight, bias column, relu?) in ``dtype``."""
    return tuple(
        (
            np.ascontiguousarray(layer.weight, dtype=dtype),
            np.ascontiguousarray(layer.bias[:, None], dtype=dtype),
            layer.activation == "relu",
        )
        for layer in problem.network.layers[1:]
    )


def make_plan(
    problem: InversionProblem,
    *,
    chunk_floats: int = CHUNK_FLOATS,
    table_bits: int | None = None,
    min_shards: int = 1,
    precision: Precision = "auto",
) -> EnumPlan:
    """Error bound, table and chunking for ``problem`` (see the module docstring).

    ``precision="auto"`` evaluates in float32 when that is exact on every
    corner (``bound.float32_exact``), else in float64; ``"float64"`` always
    uses float64.
    """
    if precision not in PRECISIONS:
        raise ValidationError(f"precision must be 'auto' or 'float64', got {precision!r}")
    values = _check_supported(problem)
    n = problem.n
    bound = error_bound(problem)
    dtype: type[np.floating[Any]] = (
        np.float32 if precision == "auto" and bound.float32_exact else np.float64
    )
    # the budget is in bytes: float32 entries are half the size
    entries = chunk_floats * (8 // np.dtype(dtype).itemsize)
    rows = min(1 << n, chunk_rows(problem.network, entries))
    k = choose_table_bits(n, rows, min_shards, table_bits)
    layer = problem.network.layers[0]
    inner = corners(0, 1 << k, k, values).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        table = np.ascontiguousarray((inner @ layer.weight[:, n - k :].T.astype(dtype)).T)
    cutoff = bound.cutoff(threshold_upper(problem))
    return EnumPlan(
        problem=problem,
        values=values,
        bound=bound,
        rows=rows,
        table_bits=k,
        batch=max(1, rows >> k),
        table=table,
        w_outer=np.ascontiguousarray(layer.weight[:, : n - k], dtype=dtype),
        cutoff=cutoff,
        margin=cutoff - problem.threshold_float(),
        dtype=np.dtype(dtype).name,
        bias1=np.ascontiguousarray(layer.bias, dtype=dtype),
        rest=_rest_layers(problem, dtype),
        target=problem.target_array()[:, None],
        fold=(
            dtype is np.float32
            and bound.float32_fold
            and layer.activation == "relu"
            and len(problem.network.layers) >= 2
        ),
    )


# --------------------------------------------------------------- one shard
@dataclass
class ShardResult:
    """What one shard found.  ``points`` corners from ``first`` on were screened."""

    shard_id: int
    first: int  # first corner index of the shard
    stop: int  # one past its last corner index
    points: int = 0
    complete: bool = False  # every corner of the shard was screened (and, optimize, flushed)
    stopped: str | None = None  # "witness", "time limit" or "cancelled" when not complete
    rechecks: int = 0
    cache_hits: int = 0
    witness: int | None = None  # decide: index of the shard's first exact witness ...
    check: ExactCheck | None = None  # ... and its exact check
    min_float: float = math.inf  # smallest float distance screened
    min_key: Fraction | None = None  # optimize: smallest exact key found ...
    argmin: int | None = None  # ... and the first corner index attaining it
    seconds: float = 0.0
    undecided: int = 0  # decide: exact checks whose threshold comparison is out of reach ...
    undecided_reason: str | None = None  # ... and the first one's reason

    @property
    def size(self) -> int:
        return self.stop - self.first

    @property
    def conclusive(self) -> bool:
        return self.complete or self.witness is not None


class ShardControl:
    """Signals between the shards of one run.  This base class is a shard on its own."""

    def stop(self, shard_id: int) -> bool:
        """Should shard ``shard_id`` stop now (a witness in an earlier shard, or cancelled)?"""
        return False

    def found(self, shard_id: int) -> None:
        """Shard ``shard_id`` found a witness: later shards may stop."""

    def advance(self, points: int) -> None:
        """``points`` more corners were screened."""

    def offer_min(self, value: float) -> float:
        """Share a float distance seen; returns the smallest one known (optimize mode)."""
        return value


class LocalControl(ShardControl):
    """Shards running as threads of one process."""

    def __init__(self, n_shards: int, on_advance: Callable[[int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._witness = n_shards  # smallest shard id with a witness (n_shards: none yet)
        self._min = math.inf
        self._on_advance = on_advance

    def stop(self, shard_id: int) -> bool:
        return self._witness < shard_id

    def found(self, shard_id: int) -> None:
        with self._lock:
            self._witness = min(self._witness, shard_id)

    def advance(self, points: int) -> None:
        if self._on_advance is not None:
            self._on_advance(points)

    def offer_min(self, value: float) -> float:
        with self._lock:
            if value < self._min:
                self._min = value
            return self._min


class _SharedControl(ShardControl):
    """Shards running in worker processes: the same signals in shared memory."""

    def __init__(self, witness: Any, progress: Any, minimum: Any) -> None:
        self._witness = witness  # multiprocessing.Value("q")
        self._progress = progress  # multiprocessing.Value("q")
        self._minimum = minimum  # multiprocessing.Value("d")

    def stop(self, shard_id: int) -> bool:
        return bool(self._witness.value < shard_id)

    def found(self, shard_id: int) -> None:
        with self._witness.get_lock():
            if shard_id < self._witness.value:
                self._witness.value = shard_id

    def advance(self, points: int) -> None:
        with self._progress.get_lock():
            self._progress.value += points

    def offer_min(self, value: float) -> float:
        with self._minimum.get_lock():
            if value < self._minimum.value:
                self._minimum.value = value
            return float(self._minimum.value)


def run_shard(
    plan: EnumPlan,
    shard: Shard,
    *,
    mode: Mode = "decide",
    deadline: float | None = None,
    control: ShardControl | None = None,
) -> ShardResult:
    """Screen (and exact-check) one shard.  Pure and deterministic up to the deadline.

    ``deadline`` is a :func:`time.time` value, checked between chunks and
    between exact re-checks.
    """
    if shard.table_bits != plan.table_bits:
        raise ShardError(f"shard {shard.shard_id} was cut for k = {shard.table_bits}")
    ctl = control if control is not None else ShardControl()
    t0 = time.perf_counter()
    res = ShardResult(shard.shard_id, shard.first, shard.last)
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    with _BLAS_LIMIT, np.errstate(over="ignore", invalid="ignore"):
        if mode == "decide":
            _decide_shard(plan, shard, deadline, ctl, res)
        else:
            _optimize_shard(plan, shard, deadline, ctl, res)
    res.seconds = time.perf_counter() - t0
    return res


def _chunks(plan: EnumPlan, shard: Shard) -> Iterator[tuple[int, int, AnyFloatArray]]:
    """The chunks ``[o0, o1)`` of a shard's outer indices, with their rows of
    :meth:`EnumPlan.outer` (computed for many chunks at once)."""
    m1 = plan.problem.network.layers[0].n_out
    span = plan.batch * max(1, OUTER_FLOATS // max(1, plan.batch * m1))
    for s0 in range(shard.start, shard.stop, span):
        s1 = min(shard.stop, s0 + span)
        block = plan.outer(s0, s1)
        for o0 in range(s0, s1, plan.batch):
            o1 = min(s1, o0 + plan.batch)
            yield o0, o1, block[o0 - s0 : o1 - s0]


def _decide_shard(
    plan: EnumPlan, shard: Shard, deadline: float | None, ctl: ShardControl, res: ShardResult
) -> None:
    problem = plan.problem
    k = plan.table_bits
    cutoff = plan.cutoff
    # With an exact float forward pass, equal float outputs are equal exact outputs.
    cache: set[bytes] | None = set() if plan.bound.float_exact else None
    buf = plan.buffer()
    for o0, o1, c in _chunks(plan, shard):
        if ctl.stop(shard.shard_id):
            res.stopped = "cancelled"
            return
        if _expired(deadline):
            res.stopped = "time limit"
            return
        y, dist = plan.forward(o0, o1, buf, c)
        low = float(dist.min())  # NaN when a distance is NaN
        if low > cutoff and float(dist.max()) < math.inf:  # nothing to re-check (the usual case)
            res.min_float = min(res.min_float, low)
        else:
            res.min_float = min(res.min_float, _fmin(dist))
            base = o0 << k
            cand = _screen(dist, cutoff)
            for i, row in zip(cand, plan.output_rows(y, cand), strict=True):
                if _expired(deadline):
                    res.stopped = "time limit"
                    return
                key = row.tobytes()
                if cache is not None and key in cache:
                    res.cache_hits += 1
                    continue
                chk = problem.exact_check(plan.corner(base + int(i)))
                res.rechecks += 1
                if not chk.decided and chk.in_domain:  # neither witness nor excluded
                    res.undecided += 1
                    res.undecided_reason = res.undecided_reason or chk.reason
                if chk.meets:
                    res.witness = base + int(i)
                    res.check = chk
                    res.points += int(i) + 1
                    res.stopped = "witness"
                    ctl.found(shard.shard_id)
                    return
                if cache is not None and len(cache) < CACHE_LIMIT:
                    cache.add(key)
        done = (o1 - o0) << k
        res.points += done
        ctl.advance(done)
    res.complete = True


class _Minimiser:
    """Optimize mode in one shard: pending float candidates, flushed through exact evaluation."""

    def __init__(self, plan: EnumPlan, ctl: ShardControl, res: ShardResult) -> None:
        self.plan = plan
        self.ctl = ctl
        self.res = res
        self.cache: dict[bytes, Fraction] | None = {} if plan.bound.float_exact else None
        self.best_key: Fraction | None = None
        self.best_index: int | None = None
        self.running_min = math.inf  # smallest finite float distance of this shard
        self.idx: list[npt.NDArray[np.int64]] = []
        self.out: list[FloatArray] = []
        self.dist: list[FloatArray] = []
        self.pending = 0

    def threshold(self) -> float:
        """Float distances above this cannot belong to a minimiser."""
        bound = self.plan.bound
        return bound.cutoff(bound.upper(self.ctl.offer_min(self.running_min)))

    def add(self, first: int, y: AnyFloatArray, dist: FloatArray) -> None:
        """Screen one chunk: ``y`` (q, rows) and ``dist`` from :meth:`EnumPlan.forward`."""
        self.running_min = min(self.running_min, _fmin(dist))
        cand = _screen(dist, self.threshold())
        if cand.size:
            self.idx.append(cand.astype(np.int64) + first)
            self.out.append(self.plan.output_rows(y, cand))
            self.dist.append(dist[cand])
            self.pending += int(cand.size)

    def flush(self, deadline: float | None) -> bool:
        """Exact-check the pending candidates still in the running; False on time out."""
        if not self.idx:
            return True
        plan = self.plan
        idx = np.concatenate(self.idx)
        outs = np.concatenate(self.out)
        dist = np.concatenate(self.dist)
        self.idx, self.out, self.dist, self.pending = [], [], [], 0
        for j in _screen(dist, self.threshold()):
            if _expired(deadline):
                return False
            key_bytes = outs[j].tobytes()
            if self.cache is not None and key_bytes in self.cache:
                self.res.cache_hits += 1
                key = self.cache[key_bytes]
            else:
                zi = plan.corner(int(idx[j]))
                key = exact_key(plan.problem, plan.problem.network.forward_exact(zi))
                self.res.rechecks += 1
                if self.cache is not None and len(self.cache) < CACHE_LIMIT:
                    self.cache[key_bytes] = key
            if self.best_key is None or key < self.best_key:
                self.best_key = key
                self.best_index = int(idx[j])
        return True


def _optimize_shard(
    plan: EnumPlan, shard: Shard, deadline: float | None, ctl: ShardControl, res: ShardResult
) -> None:
    k = plan.table_bits
    mini = _Minimiser(plan, ctl, res)
    buf = plan.buffer()
    try:
        for o0, o1, c in _chunks(plan, shard):
            if ctl.stop(shard.shard_id):
                res.stopped = "cancelled"
                return
            if _expired(deadline):
                res.stopped = "time limit"
                return
            y, dist = plan.forward(o0, o1, buf, c)
            mini.add(o0 << k, y, dist)
            if mini.pending > PENDING_LIMIT and not mini.flush(deadline):
                res.stopped = "time limit"
                return
            done = (o1 - o0) << k
            res.points += done
            ctl.advance(done)
        if not mini.flush(deadline):
            res.stopped = "time limit"
            return
        res.complete = True
    finally:
        res.min_float = mini.running_min
        res.min_key = mini.best_key
        res.argmin = mini.best_index


# --------------------------------------------------------------- combining
class ShardCombiner:
    """Merges shard results, one per shard id, whatever arrives twice or out of order."""

    def __init__(self, shards: Sequence[Shard], total: int) -> None:
        self.shards: dict[int, Shard] = {s.shard_id: s for s in shards}
        if len(self.shards) != len(shards):
            raise ShardError("shard ids are not unique")
        self.total = total
        self.results: dict[int, ShardResult] = {}
        self.duplicates = 0
        spans = sorted((s.first, s.last) for s in shards)
        pos = 0
        for a, b in spans:
            if a != pos or b <= a:
                raise ShardError(f"shards do not tile [0, {total}): gap or overlap at {pos}")
            pos = b
        if pos != total:
            raise ShardError(f"shards cover [0, {pos}), not [0, {total})")

    def add(self, res: ShardResult) -> bool:
        """Record a result; False when shard ``res.shard_id`` was already recorded.

        A repeated shard (a recomputed task, a retry) is counted once: the more
        conclusive of the two results is kept.
        """
        spec = self.shards.get(res.shard_id)
        if spec is None or (res.first, res.stop) != (spec.first, spec.last):
            raise ShardError(f"result for unknown shard {res.shard_id} [{res.first}, {res.stop})")
        if not 0 <= res.points <= res.size:
            raise ShardError(f"shard {res.shard_id} reports {res.points} of {res.size} points")
        old = self.results.get(res.shard_id)
        if old is not None:
            self.duplicates += 1
            if (res.conclusive, res.points) > (old.conclusive, old.points):
                self.results[res.shard_id] = res
            return False
        self.results[res.shard_id] = res
        return True

    @property
    def points(self) -> int:
        return sum(r.points for r in self.results.values())

    @property
    def rechecks(self) -> int:
        return sum(r.rechecks for r in self.results.values())

    @property
    def cache_hits(self) -> int:
        return sum(r.cache_hits for r in self.results.values())

    @property
    def undecided(self) -> tuple[int, str | None]:
        """Undecided exact checks (decide mode) and the first reason, by shard order."""
        rs = sorted(self.results.values(), key=lambda r: r.shard_id)
        reason = next((r.undecided_reason for r in rs if r.undecided_reason), None)
        return sum(r.undecided for r in rs), reason

    @property
    def min_float(self) -> float:
        return min((r.min_float for r in self.results.values()), default=math.inf)

    def complete(self) -> bool:
        return len(self.results) == len(self.shards) and all(
            r.complete for r in self.results.values()
        )

    def decisive_witness(self) -> ShardResult | None:
        """The witness of the lowest shard whose predecessors all finished without one."""
        for sid in sorted(self.shards):
            res = self.results.get(sid)
            if res is None:
                return None
            if res.witness is not None:
                return res
            if not res.complete:
                return None
        return None

    def first_witness(self) -> ShardResult | None:
        """The lowest shard with a witness, decisive or not."""
        found = [r for r in self.results.values() if r.witness is not None]
        return min(found, key=lambda r: r.shard_id) if found else None

    def best(self) -> ShardResult | None:
        """Optimize: the shard holding the smallest (exact key, corner index)."""
        found = [r for r in self.results.values() if r.min_key is not None]
        if not found:
            return None
        return min(found, key=lambda r: (r.min_key, r.argmin))

    def proof_shards(self) -> list[dict[str, int]]:
        """Per-shard point counts for a ``no`` proof; checks that they tile ``[0, 2^n)``."""
        if not self.complete():
            raise ShardError("a proof needs every shard complete")
        rows: list[dict[str, int]] = []
        pos = 0
        for res in sorted(self.results.values(), key=lambda r: r.first):
            if res.first != pos or res.points != res.size:
                raise ShardError(f"shard {res.shard_id} does not continue the tiling at {pos}")
            pos = res.stop
            rows.append(
                {"shard": res.shard_id, "first": res.first, "stop": res.stop, "points": res.points}
            )
        counted = sum(r["points"] for r in rows)
        if pos != self.total or counted != self.total:
            raise ShardError(f"shards screened {counted} points, not {self.total}")
        return rows


# --------------------------------------------------------------- running shards
def _run_sequential(
    plan: EnumPlan,
    shards: Sequence[Shard],
    comb: ShardCombiner,
    mode: Mode,
    deadline: float | None,
    bar: _Bar,
) -> None:
    ctl = LocalControl(len(shards), bar.advance)
    for shard in shards:
        res = run_shard(plan, shard, mode=mode, deadline=deadline, control=ctl)
        comb.add(res)
        if mode == "decide" and comb.decisive_witness() is not None:
            return
        if res.stopped == "time limit":
            return  # later shards would stop at once


def _drain(
    futures: dict[Future[ShardResult], int],
    comb: ShardCombiner,
    mode: Mode,
    ctl: ShardControl,
    poll: Callable[[], None] | None,
) -> None:
    """Collect shard results as they complete; stop later shards when a witness turns up."""
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(
                pending, timeout=0.1 if poll is not None else None, return_when=FIRST_COMPLETED
            )
            if poll is not None:
                poll()
            for fut in sorted(done, key=futures.__getitem__):
                if fut.cancelled():
                    continue
                res = fut.result()
                comb.add(res)
                if res.witness is not None:
                    ctl.found(res.shard_id)
                    for other in pending:
                        if futures[other] > res.shard_id:
                            other.cancel()
            if mode == "decide" and comb.decisive_witness() is not None:
                return
    finally:
        for fut in pending:
            fut.cancel()
        if pending:
            ctl.found(-1)  # stop whatever still runs


def _run_threads(
    plan: EnumPlan,
    shards: Sequence[Shard],
    comb: ShardCombiner,
    mode: Mode,
    deadline: float | None,
    bar: _Bar,
    workers: int,
) -> None:
    ctl = LocalControl(len(shards), bar.advance)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="geninv-enumerate") as pool:
        futures = {
            pool.submit(run_shard, plan, s, mode=mode, deadline=deadline, control=ctl): s.shard_id
            for s in shards
        }
        _drain(futures, comb, mode, ctl, None)


_WORKER_STATE: tuple[EnumPlan, _SharedControl] | None = None


def _process_init(plan_path: str, witness: Any, progress: Any, minimum: Any) -> None:
    global _WORKER_STATE
    with open(plan_path, "rb") as fh:
        plan = pickle.load(fh)
    _WORKER_STATE = (plan, _SharedControl(witness, progress, minimum))


def _process_shard(shard: Shard, mode: Mode, deadline: float | None) -> ShardResult:
    if _WORKER_STATE is None:
        raise ShardError("worker process was not initialised")
    plan, ctl = _WORKER_STATE
    return run_shard(plan, shard, mode=mode, deadline=deadline, control=ctl)


def _run_processes(
    plan: EnumPlan,
    shards: Sequence[Shard],
    comb: ShardCombiner,
    mode: Mode,
    deadline: float | None,
    bar: _Bar,
    workers: int,
) -> None:
    ctx = mp.get_context("spawn")  # no fork of a process that may run threads
    witness = ctx.Value("q", len(shards))
    progress = ctx.Value("q", 0)
    minimum = ctx.Value("d", math.inf)
    ctl = _SharedControl(witness, progress, minimum)
    seen = 0

    def poll() -> None:
        nonlocal seen
        now = int(progress.value)
        bar.advance(now - seen)
        seen = now

    # The plan goes through a file: a large initializer argument can block the
    # parent's write to a worker that dies while starting (e.g. a script
    # without the ``if __name__ == "__main__":`` guard), instead of breaking the pool.
    with tempfile.TemporaryDirectory(prefix="geninv-enumerate-") as tmp:
        plan_path = os.path.join(tmp, "plan.pickle")
        with open(plan_path, "wb") as fh:
            pickle.dump(plan, fh, protocol=pickle.HIGHEST_PROTOCOL)
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_process_init,
            initargs=(plan_path, witness, progress, minimum),
        ) as pool:
            futures = {pool.submit(_process_shard, s, mode, deadline): s.shard_id for s in shards}
            try:
                _drain(futures, comb, mode, ctl, poll)
            except BrokenProcessPool as exc:
                raise GeninvError(
                    "an enumerate worker process died (out of memory, or a script that starts "
                    "solvers without an `if __name__ == '__main__':` guard); "
                    "use executor='threads' or fix the cause"
                ) from exc
    poll()


# --------------------------------------------------------------- the answer
def _finish(
    plan: EnumPlan,
    comb: ShardCombiner,
    mode: Mode,
    seconds: float,
    extra: dict[str, Any],
) -> Solution:
    problem = plan.problem
    stats: dict[str, Any] = {
        "points_screened": comb.points,
        "exact_rechecks": comb.rechecks,
        "cache_hits": comb.cache_hits,
        "chunk_rows": plan.rows,
        "table_bits": plan.table_bits,
        "shards": len(comb.shards),
        "float_exact": plan.bound.float_exact,
        "precision": plan.dtype,
        "first_relu_folded": plan.fold,
        "float_error_margin": plan.margin,
        "min_float_distance": comb.min_float,
        "candidates_per_second": comb.points / seconds if seconds > 0 else math.inf,
    }
    if comb.duplicates:
        stats["duplicate_shard_results"] = comb.duplicates
    stats.update(extra)

    def proof(**more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "exhaustive enumeration",
            "points": plan.total,
            "float_error_margin": plan.margin,
            "exact_rechecks": comb.rechecks,
            "table_bits": plan.table_bits,
            "shards": comb.proof_shards(),
        }
        out.update(more)
        return out

    def unknown(z: list[Fraction] | None = None) -> Solution:
        return Solution(
            Status.UNKNOWN,
            "enumerate",
            z=z,
            reason=f"time limit after {comb.points} of 2^{problem.n} points",
            stats=stats,
        )

    if mode == "decide":
        wit = comb.decisive_witness() or comb.first_witness()
        if wit is not None:
            assert wit.witness is not None
            z = plan.corner(wit.witness)
            chk = wit.check if wit.check is not None else problem.exact_check(z)
            if not chk.meets:
                raise ShardError(f"shard {wit.shard_id} reported a witness that fails")
            return Solution(
                Status.YES, "enumerate", z=z, distance=chk.distance, check=chk, stats=stats
            )
        if comb.complete():
            count, why = comb.undecided
            if count:
                stats["undecided_checks"] = count
                return Solution(
                    Status.UNKNOWN,
                    "enumerate",
                    reason=f"{count} corner(s) could not be compared with the threshold: {why}",
                    stats=stats,
                )
            return Solution(Status.NO, "enumerate", proof=proof(), stats=stats)
        return unknown()

    best = comb.best()
    if not comb.complete():
        if best is None or best.argmin is None:
            return unknown()
        z = plan.corner(best.argmin)
        stats["best_distance"] = problem.exact_check(z).distance
        return unknown(z)
    if best is None or best.argmin is None:
        raise ShardError("optimize mode finished without a minimiser")
    z = plan.corner(best.argmin)
    chk = problem.exact_check(z)
    stats["min_distance"] = chk.distance
    stats["argmin"] = [int(v) for v in z]
    if chk.meets:
        return Solution(Status.YES, "enumerate", z=z, distance=chk.distance, check=chk, stats=stats)
    why = _optimize_no_gap(problem, chk, best.min_key)
    if why is not None:
        stats[_DECIDE_AGAIN] = True  # enumerate_corners reruns in decide mode
        return Solution(Status.UNKNOWN, "enumerate", z=z, reason=why, stats=stats)
    return Solution(
        Status.NO,
        "enumerate",
        distance=chk.distance,
        proof=proof(min_distance=chk.distance),
        stats=stats,
    )


_DECIDE_AGAIN = "_decide_again"
_OPT_KEYS = ("min_distance", "argmin", "points_screened", "exact_rechecks")


def _optimize_no_gap(
    problem: InversionProblem, chk: ExactCheck, min_key: Fraction | None
) -> str | None:
    """Why the minimiser's failed check does not prove ``no`` (None: it does).

    For integer p and p = inf the keys are exact, so the minimiser failing means
    every corner fails.  For other p the keys are lower bounds (:func:`exact_key`):
    ``no`` needs the smallest key above an upper bound of delta^p.
    """
    if not chk.in_domain:
        return None
    if not chk.decided:
        return f"the minimiser's distance could not be compared with the threshold: {chk.reason}"
    p = problem.p
    if math.isinf(p) or p.is_integer():
        return None
    top = power_bounds([problem.threshold], exact_rational(p), NONINTEGER_P_DIGITS)
    if min_key is not None and top is not None and min_key > top[1]:
        return None
    return (
        f"the minimal distance is within {NONINTEGER_P_DIGITS} digits of the threshold "
        f"(p = {p!r}); optimize mode cannot exclude the other near-minimal corners"
    )


def _validate(
    mode: str,
    chunk_floats: int,
    workers: int | None,
    shards: int | None,
    executor: str,
    table_bits: int | None,
    scheduler: object,
    precision: str = "auto",
) -> None:
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    if chunk_floats < 1:
        raise ValidationError(f"chunk_floats must be positive, got {chunk_floats}")
    if workers is not None and workers < 1:
        raise ValidationError(f"workers must be positive, got {workers}")
    if shards is not None and shards < 1:
        raise ValidationError(f"shards must be positive, got {shards}")
    if executor not in EXECUTORS:
        raise ValidationError(f"executor must be 'threads' or 'processes', got {executor!r}")
    if precision not in PRECISIONS:
        raise ValidationError(f"precision must be 'auto' or 'float64', got {precision!r}")
    if table_bits is not None and not 0 <= table_bits <= MAX_TABLE_BITS:
        raise ValidationError(f"table_bits must be in [0, {MAX_TABLE_BITS}], got {table_bits}")
    if isinstance(scheduler, str) and scheduler != "local" and "://" not in scheduler:
        raise ValidationError(
            f"scheduler must be 'local' or an address such as 'tcp://host:8786', got {scheduler!r}"
        )


def estimate_seconds(plan: EnumPlan, shard: Shard, mode: Mode, workers: int) -> float | None:
    """Seconds to screen all ``plan.total`` corners, from a probe of ``PROBE_SECONDS``.

    The probe screens the start of ``shard`` (its result is discarded) and the
    rate is taken to scale with the workers; a decide run may stop earlier, at a
    witness.  None when the probe screened nothing.
    """
    probe = Shard(-1, shard.start, shard.stop, shard.table_bits)
    res = run_shard(plan, probe, mode=mode, deadline=time.time() + PROBE_SECONDS)
    if res.points <= 0 or res.seconds <= 0:
        return None
    return plan.total / (res.points / res.seconds) / max(1, workers)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def enumerate_corners(
    problem: InversionProblem,
    *,
    mode: Mode = "decide",
    time_limit: float | None = None,
    progress: bool = False,
    chunk_floats: int = CHUNK_FLOATS,
    workers: int | None = None,
    shards: int | None = None,
    executor: ExecutorKind = "threads",
    table_bits: int | None = None,
    scheduler: str | Client | None = None,
    dask_options: dict[str, Any] | None = None,
    precision: Precision = "auto",
) -> Solution:
    """Decide (or, with ``mode="optimize"``, minimise) by enumerating every corner.

    Returns ``yes`` with an exactly re-checked witness (the first in
    enumeration order), ``no`` with an exhaustive-enumeration proof (per-shard
    point counts summing to 2^n), or ``unknown`` when ``time_limit`` (seconds,
    checked between chunks and between exact re-checks) runs out.  Raises
    :class:`UnsupportedError` for non-discrete domains and n > 40.

    Parallelism: without ``scheduler``, ``workers`` threads (``executor="threads"``,
    default all CPUs; problems under 2^16 corners run in the calling thread) or
    spawned processes (``"processes"``; a script using them needs the
    ``if __name__ == "__main__":`` guard) screen ``shards`` shards (default 8
    per worker).  ``scheduler="local"`` starts a Dask ``LocalCluster`` (keyword
    arguments from ``dask_options``) for this call; an address
    (``"tcp://host:8786"``, ``dask_options`` then go to ``Client``) or a
    ``distributed.Client`` uses that cluster; one task per shard (default 8 per
    worker thread).  ``table_bits`` is k (default 10, capped by n, by the chunk
    size and so that there are at least ``shards`` outer patterns).  Memory:
    each running shard holds one chunk (``chunk_floats`` float64 per layer, or
    the same bytes of float32)
    and the plan holds the ``m_1 x 2^k`` table.  BLAS is kept single-threaded
    while shards run (see :class:`_BlasLimit`).  ``precision="auto"`` evaluates
    in float32 where that is provably exact (integer-like networks; see the
    module docstring), ``"float64"`` always in float64.
    """
    _validate(mode, chunk_floats, workers, shards, executor, table_bits, scheduler, precision)
    _check_supported(problem)
    start = time.perf_counter()
    deadline = None if time_limit is None else time.time() + time_limit
    n = problem.n
    label = f"enumerate 2^{n}"
    extra: dict[str, Any] = {"mode": mode}
    if scheduler is None:
        nworkers = workers if workers is not None else default_workers()
        if workers is None and (1 << n) < PARALLEL_MIN_POINTS:
            nworkers = 1
        nshards = (
            shards if shards is not None else (1 if nworkers == 1 else SHARDS_PER_WORKER * nworkers)
        )
        plan = make_plan(
            problem,
            chunk_floats=chunk_floats,
            table_bits=table_bits,
            min_shards=nshards,
            precision=precision,
        )
        shard_list = plan.split(nshards)
        comb = ShardCombiner(shard_list, plan.total)
        kind = "sequential" if nworkers == 1 or len(shard_list) == 1 else executor
        extra.update(workers=nworkers if kind != "sequential" else 1, executor=kind)
        if time_limit is None and plan.total >= ESTIMATE_MIN_POINTS:
            estimate = estimate_seconds(plan, shard_list[0], mode, nworkers)
            if estimate is not None:
                extra["estimated_seconds"] = round(estimate, 1)
                if estimate > ANNOUNCE_SECONDS:
                    sys.stderr.write(
                        f"enumerate: 2^{n} corners on {nworkers} worker(s), estimated "
                        f"{_duration(estimate)} (a probe screened corners at "
                        f"{plan.total / estimate / nworkers:,.0f}/s per worker); "
                        "--time-limit bounds the run\n"
                    )
                    sys.stderr.flush()
        if not _expired(deadline):
            with _Bar(plan.total, progress, label) as bar:
                if kind == "sequential":
                    _run_sequential(plan, shard_list, comb, mode, deadline, bar)
                elif kind == "threads":
                    _run_threads(plan, shard_list, comb, mode, deadline, bar, nworkers)
                else:
                    _run_processes(plan, shard_list, comb, mode, deadline, bar, nworkers)
    else:
        from geninv.solvers.enumerate_dask import enumerate_with_dask

        with _Bar(1 << n, progress, label) as bar:
            plan, comb, info = enumerate_with_dask(
                problem,
                scheduler=scheduler,
                dask_options=dask_options,
                shards=shards,
                mode=mode,
                deadline=deadline,
                chunk_floats=chunk_floats,
                table_bits=table_bits,
                advance=bar.advance,
                precision=precision,
            )
        extra.update(info)
        extra["executor"] = "dask"
    seconds = time.perf_counter() - start
    sol = _finish(plan, comb, mode, seconds, extra)
    if sol.stats.pop(_DECIDE_AGAIN, False):
        # non-integer p, minimiser at the threshold within the keys' precision: decide
        # mode checks every corner the float bound cannot exclude against the threshold
        rest = None if deadline is None else max(0.0, deadline - time.time())
        dec = enumerate_corners(
            problem,
            mode="decide",
            time_limit=rest,
            progress=progress,
            chunk_floats=chunk_floats,
            workers=workers,
            shards=shards,
            executor=executor,
            table_bits=table_bits,
            scheduler=scheduler,
            dask_options=dask_options,
            precision=precision,
        )
        dec.stats["optimize"] = {k: v for k, v in sol.stats.items() if k in _OPT_KEYS}
        dec.stats["optimize"]["borderline"] = sol.reason
        dec.stats["mode"] = "optimize, then decide"
        sol = dec
    sol.seconds = time.perf_counter() - start
    return sol


#: Activations the float pass and its rigorous error bound handle; others are refused.
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})


@register
class EnumerateBackend(Backend):
    """Exhaustive enumeration of {0,1}^n or {-1,1}^n (n <= 40), float screen + exact re-check.

    Options (``solve(..., options={...})``): ``mode`` ("decide" | "optimize"),
    ``workers``, ``shards``, ``executor`` ("threads" | "processes"),
    ``table_bits``, ``chunk_floats``, ``scheduler`` (None | "local" |
    "tcp://host:port" | a ``distributed.Client``), ``dask_options``
    (keyword arguments of ``LocalCluster`` or ``Client``) and ``precision``
    ("auto" | "float64"); see :func:`enumerate_corners`.
    """

    name = "enumerate"
    summary = "exhaustive enumeration of all 2^n corners (reference oracle, n <= 40)"
    capabilities = Capabilities(
        domains=frozenset({"binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
        activations=HANDLED_ACTIVATIONS,
    )
    modules = ()
    no_basis = "exact"  # every corner, with a rigorous bound on the float error

    def __init__(
        self,
        mode: Mode = "decide",
        chunk_floats: int = CHUNK_FLOATS,
        *,
        workers: int | None = None,
        shards: int | None = None,
        executor: ExecutorKind = "threads",
        table_bits: int | None = None,
        scheduler: str | Client | None = None,
        dask_options: dict[str, Any] | None = None,
        precision: Precision = "auto",
    ) -> None:
        _validate(mode, chunk_floats, workers, shards, executor, table_bits, scheduler, precision)
        self.mode: Mode = mode
        self.chunk_floats = chunk_floats
        self.workers = workers
        self.shards = shards
        self.executor: ExecutorKind = executor
        self.table_bits = table_bits
        self.scheduler = scheduler
        self.dask_options = dask_options
        self.precision: Precision = precision

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        reason = super().unsupported_reason(problem)
        if reason is None and problem.n > MAX_N:
            return (
                f"backend 'enumerate' handles at most n = {MAX_N} latents, not {problem.n}; "
                "use the sat or milp backend instead"
            )
        return reason

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        return enumerate_corners(
            problem,
            mode=self.mode,
            time_limit=time_limit,
            progress=progress,
            chunk_floats=self.chunk_floats,
            workers=self.workers,
            shards=self.shards,
            executor=self.executor,
            table_bits=self.table_bits,
            scheduler=self.scheduler,
            dask_options=self.dask_options,
            precision=self.precision,
        )
