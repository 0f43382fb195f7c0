"""One shard: screening its corners in float, exact re-checks, the minimiser."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError
from geninv.network import FloatArray
from geninv.problem import (
    ExactCheck,
)

if TYPE_CHECKING:
    pass

from geninv.solvers.enumerate.bound import exact_key
from geninv.solvers.enumerate.common import (
    CACHE_LIMIT,
    MODES,
    OUTER_FLOATS,
    PENDING_LIMIT,
    AnyFloatArray,
    Mode,
)
from geninv.solvers.enumerate.plan import EnumPlan, Shard
from geninv.solvers.enumerate.runtime import _BLAS_LIMIT, ShardError, _expired, _fmin, _screen


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
        """Number of corners in the shard (``stop - first``)."""
        return self.stop - self.first

    @property
    def conclusive(self) -> bool:
        """True when the shard screened every corner or found a witness."""
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
