"""Reference solver: enumerate every corner of {0,1}^n or {-1,1}^n.

This backend is the oracle the other solvers are tested against, so it favours
being right over being fast.  It walks the 2^n corners in chunks (vectorised
numpy, memory bounded whatever n), evaluates the network in float64 and
screens the float distances; every point the floats cannot rule out with
certainty is re-checked in exact rational arithmetic
(:meth:`InversionProblem.exact_check`).  A ``no`` therefore rests on a
rigorous a-priori bound on the float error, derived below.

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
  bound for a length-``k_l`` dot product plus a bias added in any order, with
  or without FMA (so any BLAS summation order); the ``eta`` term covers
  underflow in the products.  ReLU is 1-Lipschitz, so it does not increase
  the error.  No partial sum can overflow while ``M`` is finite.

Every bound is computed in float64 with upward inflation (each vector
expression of ``k`` operations is multiplied by ``1 + 2(k+3)u`` and gets
``(k+3) eta`` added), so it is an upper bound of the real-number formula.

*Exact float evaluation.*  If every parameter is a float whose value is a
multiple of ``2^-f`` and every |partial sum| of layer ``l`` stays below
``2^(53 - F_l)``, with ``F_0 = 0`` and ``F_l = max(f_{W_l} + F_{l-1}, f_{b_l})``,
then every float operation is exact and ``E_L = 0`` (typical for the integer
networks of the hardness reductions).  Identical float outputs then mean
identical exact outputs, which lets exact re-checks be cached by output.

*Distance.*  The float distance is ``D = problem.distances(y)``: ``d = fl(y - t)``
with ``t = float(x)``, then the row norm of :func:`geninv.problem.lp_norm_rows`.
With ``dt_j = |x_j - float(x_j)|`` (the target need not be a float) and
``|fl(y - t) - (y - t)| <= u |y - t|``, the triangle inequality gives for the
exact distance ``D* = ||G*(z) - x||_p``::

    |D* - D| <= A + R D,   A = ||E_L + dt||_p + (norm underflow),
                           R = (rho + 2u) / (1 - rho)

where ``rho`` bounds the relative error of the norm routine: 0 for p = inf
(max is exact), ``gamma_{q+3}`` for p = 1 and p = 2, and
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
``decide`` (default) stops at the first exact witness in enumeration order
(the order of ``itertools.product(values, repeat=n)``).  ``optimize`` finds the
minimum exact distance over all corners: it screens with the running float
minimum ``m`` (a corner with ``D (1 - 2R) - 2A > m (1 + 2R) + 2A`` cannot be a
minimiser), exact-checks the survivors in enumeration order, and answers the
decision from the minimiser; ``stats`` hold ``min_distance`` and ``argmin``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geninv.errors import UnsupportedError, ValidationError
from geninv.network import FloatArray, ReLUNetwork
from geninv.problem import (
    NONINTEGER_P_DIGITS,
    InversionProblem,
    Solution,
    Status,
)
from geninv.solvers.base import Backend, Capabilities, register

Mode = Literal["decide", "optimize"]
MODES: tuple[str, ...] = ("decide", "optimize")

#: Largest latent dimension this backend accepts (2^40 corners is already days).
MAX_N = 40
#: Budget of float64 entries per chunk: ``chunk_rows * max(n, widths) <= CHUNK_FLOATS``.
CHUNK_FLOATS = 1 << 22
#: Safety factor applied to the a-priori error bound.
SAFETY = 2.0
#: Exact re-checks are cached by float output (only when floats are exact) up to this size.
CACHE_LIMIT = 1 << 16
#: Optimize mode exact-checks its pending candidates once this many have piled up.
PENDING_LIMIT = 4096

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


def float_up(x: Fraction) -> float:
    """The smallest float >= x (inf when x overflows)."""
    try:
        f = float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf
    if math.isfinite(f) and Fraction(f) < x:
        f = math.nextafter(f, math.inf)
    return f


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


def _network_bound(network: ReLUNetwork, m0: float) -> tuple[FloatArray, bool]:
    """E_L over inputs with |z_i| <= m0 that are integers (corners), and float exactness."""
    mag = np.full(network.n_inputs, m0, dtype=np.float64)  # M_{l-1}
    err = np.zeros(network.n_inputs, dtype=np.float64)  # E_{l-1}
    exact = True
    frac = 0  # F_{l-1}
    for layer in network.layers:
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
        else:
            exact = False
        if exact:
            new_err = np.zeros_like(new_err)
        new_err[~np.isfinite(new_err)] = math.inf
        new_mag[~np.isfinite(new_mag)] = math.inf
        mag, err = new_mag, new_err
    return err, exact


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
    out_err, exact = _network_bound(problem.network, m0)
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
    return ErrorBound(out_err, dt, a, rel, exact)


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


# --------------------------------------------------------------- enumeration
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
    other p the same 60-digit decimal sum that :func:`geninv.problem.compare_exact`
    compares, so that the decision follows from the minimiser.
    """
    absd = [abs(o - t) for o, t in zip(output, problem.target, strict=True)]
    p = problem.p
    if math.isinf(p):
        return max(absd, default=Fraction(0))
    if p.is_integer():
        k = int(p)
        return sum((v**k for v in absd), Fraction(0))
    with localcontext() as ctx:
        ctx.prec = NONINTEGER_P_DIGITS
        dp = Decimal(repr(p))
        total = sum(
            ((Decimal(v.numerator) / Decimal(v.denominator)) ** dp for v in absd if v != 0),
            Decimal(0),
        )
    return Fraction(total)


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


@dataclass
class _Run:
    """State shared by both modes."""

    problem: InversionProblem
    values: tuple[int, int]
    bound: ErrorBound
    rows: int
    time_limit: float | None
    start: float
    rechecks: int = 0
    cache_hits: int = 0
    done: int = 0  # corners fully screened

    @property
    def total(self) -> int:
        return 1 << self.problem.n

    def timed_out(self) -> bool:
        return self.time_limit is not None and time.perf_counter() - self.start > self.time_limit

    def corner(self, index: int) -> list[Fraction]:
        z = corners(index, index + 1, self.problem.n, self.values)[0]
        return [Fraction(int(v)) for v in z]

    def stats(self, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "points_screened": self.done,
            "exact_rechecks": self.rechecks,
            "cache_hits": self.cache_hits,
            "chunk_rows": self.rows,
            "float_exact": self.bound.float_exact,
        }
        out.update(extra)
        return out

    def unknown(self, z: list[Fraction] | None = None, **extra: Any) -> Solution:
        return Solution(
            Status.UNKNOWN,
            "enumerate",
            z=z,
            reason=f"time limit after {self.done} of 2^{self.problem.n} points",
            stats=self.stats(**extra),
        )

    def proof(self, margin: float, **extra: Any) -> dict[str, Any]:
        proof: dict[str, Any] = {
            "kind": "exhaustive enumeration",
            "points": self.total,
            "float_error_margin": margin,
            "exact_rechecks": self.rechecks,
        }
        proof.update(extra)
        return proof

    def chunks(self) -> Iterator[tuple[int, npt.NDArray[np.int64], FloatArray, FloatArray]]:
        """(first index, corners, float outputs, float distances) per chunk."""
        n = self.problem.n
        for first in range(0, self.total, self.rows):
            last = min(self.total, first + self.rows)
            z = corners(first, last, n, self.values)
            with np.errstate(over="ignore", invalid="ignore"):
                out = self.problem.network.forward(z.astype(np.float64))
                dist = self.problem.distances(out)
            yield first, z, out, dist


def _screen(dist: FloatArray, cutoff: float) -> npt.NDArray[np.intp]:
    """Indices the float screen cannot exclude: dist <= cutoff, NaN or infinite."""
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(~(dist > cutoff) | ~np.isfinite(dist))


def _margin(run: _Run) -> float:
    return run.bound.cutoff(threshold_upper(run.problem)) - run.problem.threshold_float()


def _decide(run: _Run, bar: _Bar) -> Solution:
    problem = run.problem
    cutoff = run.bound.cutoff(threshold_upper(problem))
    margin = _margin(run)
    # With an exact float forward pass, equal float outputs are equal exact outputs.
    cache: set[bytes] | None = set() if run.bound.float_exact else None
    for first, z, out, dist in run.chunks():
        for i in _screen(dist, cutoff):
            if run.timed_out():
                return run.unknown(float_error_margin=margin)
            key = out[i].tobytes()
            if cache is not None and key in cache:
                run.cache_hits += 1
                continue
            zi = [Fraction(int(v)) for v in z[i]]
            chk = problem.exact_check(zi)
            run.rechecks += 1
            if chk.meets:
                run.done = first + int(i) + 1
                return Solution(
                    Status.YES,
                    "enumerate",
                    z=zi,
                    distance=chk.distance,
                    check=chk,
                    stats=run.stats(float_error_margin=margin),
                )
            if cache is not None and len(cache) < CACHE_LIMIT:
                cache.add(key)
        run.done += len(z)
        bar.advance(len(z))
        if run.done < run.total and run.timed_out():
            return run.unknown(float_error_margin=margin)
    return Solution(
        Status.NO,
        "enumerate",
        proof=run.proof(margin),
        stats=run.stats(float_error_margin=margin),
    )


class _Minimiser:
    """Optimize mode: pending float candidates, flushed through exact evaluation."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.cache: dict[bytes, Fraction] | None = {} if run.bound.float_exact else None
        self.best_key: Fraction | None = None
        self.best_z: list[Fraction] | None = None
        self.running_min = math.inf  # smallest finite float distance so far
        self.idx: list[npt.NDArray[np.int64]] = []
        self.out: list[FloatArray] = []
        self.dist: list[FloatArray] = []
        self.pending = 0

    def threshold(self) -> float:
        """Float distances above this cannot belong to a minimiser."""
        bound = self.run.bound
        return bound.cutoff(bound.upper(self.running_min))

    def add(self, first: int, out: FloatArray, dist: FloatArray) -> None:
        finite = dist[np.isfinite(dist)]
        if finite.size:
            self.running_min = min(self.running_min, float(finite.min()))
        cand = _screen(dist, self.threshold())
        if cand.size:
            self.idx.append(cand.astype(np.int64) + first)
            self.out.append(out[cand])
            self.dist.append(dist[cand])
            self.pending += int(cand.size)

    def flush(self) -> bool:
        """Exact-check the pending candidates still in the running; False on time out."""
        if not self.idx:
            return True
        run = self.run
        idx = np.concatenate(self.idx)
        outs = np.concatenate(self.out)
        dist = np.concatenate(self.dist)
        self.idx, self.out, self.dist, self.pending = [], [], [], 0
        for j in _screen(dist, self.threshold()):
            if run.timed_out():
                return False
            key_bytes = outs[j].tobytes()
            if self.cache is not None and key_bytes in self.cache:
                run.cache_hits += 1
                key = self.cache[key_bytes]
                zi: list[Fraction] | None = None
            else:
                zi = run.corner(int(idx[j]))
                key = exact_key(run.problem, run.problem.network.forward_exact(zi))
                run.rechecks += 1
                if self.cache is not None and len(self.cache) < CACHE_LIMIT:
                    self.cache[key_bytes] = key
            if self.best_key is None or key < self.best_key:
                self.best_key = key
                self.best_z = zi if zi is not None else run.corner(int(idx[j]))
        return True


def _optimize(run: _Run, bar: _Bar) -> Solution:
    problem = run.problem
    margin = _margin(run)
    mini = _Minimiser(run)

    def gave_up() -> Solution:
        if mini.best_z is None:
            return run.unknown(float_error_margin=margin)
        best = problem.exact_check(mini.best_z).distance
        return run.unknown(mini.best_z, float_error_margin=margin, best_distance=best)

    for first, z, out, dist in run.chunks():
        mini.add(first, out, dist)
        if mini.pending > PENDING_LIMIT and not mini.flush():
            return gave_up()
        run.done += len(z)
        bar.advance(len(z))
        if run.done < run.total and run.timed_out():
            return gave_up()
    if not mini.flush():
        return gave_up()
    assert mini.best_z is not None
    chk = problem.exact_check(mini.best_z)
    stats = run.stats(
        min_distance=chk.distance,
        argmin=[int(v) for v in mini.best_z],
        float_error_margin=margin,
    )
    if chk.meets:
        return Solution(
            Status.YES, "enumerate", z=mini.best_z, distance=chk.distance, check=chk, stats=stats
        )
    return Solution(
        Status.NO,
        "enumerate",
        distance=chk.distance,
        proof=run.proof(margin, min_distance=chk.distance),
        stats=stats,
    )


def enumerate_corners(
    problem: InversionProblem,
    *,
    mode: Mode = "decide",
    time_limit: float | None = None,
    progress: bool = False,
    chunk_floats: int = CHUNK_FLOATS,
) -> Solution:
    """Decide (or, with ``mode="optimize"``, minimise) by enumerating every corner.

    Returns ``yes`` with an exactly re-checked witness, ``no`` with an
    exhaustive-enumeration proof, or ``unknown`` when ``time_limit`` (seconds,
    checked between chunks and between exact re-checks) runs out.  Raises
    :class:`UnsupportedError` for non-discrete domains and n > 40.
    """
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    if chunk_floats < 1:
        raise ValidationError(f"chunk_floats must be positive, got {chunk_floats}")
    values = _check_supported(problem)
    start = time.perf_counter()
    run = _Run(
        problem=problem,
        values=values,
        bound=error_bound(problem),
        rows=min(1 << problem.n, chunk_rows(problem.network, chunk_floats)),
        time_limit=time_limit,
        start=start,
    )
    if run.timed_out():
        sol = run.unknown()
    else:
        label = f"enumerate 2^{problem.n}"
        with _Bar(run.total, progress, label) as bar:
            sol = _decide(run, bar) if mode == "decide" else _optimize(run, bar)
    sol.stats["mode"] = mode
    sol.seconds = time.perf_counter() - start
    return sol


@register
class EnumerateBackend(Backend):
    """Exhaustive enumeration of {0,1}^n or {-1,1}^n (n <= 40), float screen + exact re-check."""

    name = "enumerate"
    summary = "exhaustive enumeration of all 2^n corners (reference oracle, n <= 40)"
    capabilities = Capabilities(
        domains=frozenset({"binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
    )
    modules = ()

    def __init__(self, mode: Mode = "decide", chunk_floats: int = CHUNK_FLOATS) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
        self.mode: Mode = mode
        self.chunk_floats = chunk_floats

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
        )
