"""Run-time helpers: support checks, the progress bar, BLAS thread limits, shard errors."""

from __future__ import annotations

import ctypes
import importlib
import math
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.errors import UnsupportedError
from geninv.network import FloatArray
from geninv.problem import (
    InversionProblem,
)

if TYPE_CHECKING:
    pass

from geninv.solvers.enumerate.common import HANDLED_ACTIVATIONS, MAX_N


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
