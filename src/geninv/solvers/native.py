"""Native solver calls that a signal, a limit or a crash cannot take down with us.

:func:`run_forked` runs a function -- typically "solve this already built SCIP
model and read off the answer" -- in a forked child process and returns its
(pickled) result.  The parent waits in ``select`` (so SIGINT / SIGTERM handlers
run at once, and the child is killed on the way out), kills the child at the
deadline, and turns a child that dies -- SCIP's ``munmap_chunk(): invalid
pointer`` abort on some MIQPs, an out-of-memory kill -- into
:class:`NativeCrash`, which the backend reports as ``unknown`` with the reason
instead of dying.  The fork costs a few milliseconds (copy-on-write pages; see
``bench/bench_limits.py``).

:func:`run_in_thread` runs a native call that releases the GIL (HiGHS
``run()``, SCIP ``optimizeNogil()``) in a worker thread while the main thread
waits in short slices, so Python signal handlers and the limits watchdog of
:mod:`geninv.guard` are not held up by it; on the way out ``cancel`` is called.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from geninv import guard
from geninv.errors import GeninvError

T = TypeVar("T")


class NativeCrash(GeninvError):
    """A native solver's process died; ``str(err)`` says how."""


class NativeTimeout(GeninvError):
    """The child process passed its deadline and was killed."""


def fork_available() -> bool:
    """Whether solver children may be forked: ``os.fork`` exists (POSIX).

    Any thread may fork, not only the main one: a Dask worker runs its cells in an
    executor thread, and when this asked for the main thread SCIP ran *inside* the
    worker there, so its heap-corruption aborts (a METIS bug in the SCIP wheel, see
    :mod:`geninv.solvers.miqp`) killed the worker instead of failing one cell.  The
    child holds only the forking thread (POSIX ``fork``); Python makes it the child's
    main thread, so :func:`geninv.guard.child_init` can reset its signal handlers.  A
    lock another thread held at the fork stays held in the child; the child touches
    none of the parent's (it solves, pickles, writes to a pipe and exits with
    ``os._exit``), and a child that hung anyway is killed at the deadline like a slow
    solver.
    """
    return hasattr(os, "fork")


def run_forked(fn: Callable[[], T], deadline: float | None, what: str) -> T:
    """``fn()`` in a forked child; its result must pickle.

    Raises :class:`NativeTimeout` past ``deadline`` (``time.perf_counter()``
    seconds) and :class:`NativeCrash` when the child dies or ``fn`` raises.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(r)
            guard.child_init()
            try:
                payload = pickle.dumps(("ok", fn()))
            except BaseException as exc:  # report, the parent decides
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            data = memoryview(payload)
            while data:
                data = data[os.write(w, data) :]
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    guard.track_child(pid)
    chunks: list[bytes] = []
    finished = False
    status = 0
    try:
        while True:
            left = None if deadline is None else deadline - time.perf_counter()
            if left is not None and left <= 0:
                raise NativeTimeout(f"{what}: time limit")
            ready, _, _ = select.select([r], [], [], 0.25 if left is None else min(left, 0.25))
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    finished = True
                    break
                chunks.append(chunk)
    finally:  # also on Interrupted / LimitReached: never leave the child running
        os.close(r)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        guard.untrack_child(pid)
    if os.WIFSIGNALED(status) and not chunks:
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name
        extra = " (an abort inside the solver)" if sig == signal.SIGABRT else ""
        raise NativeCrash(f"{what} died with {name}{extra}")
    try:
        kind, value = pickle.loads(b"".join(chunks))
    except Exception:
        raise NativeCrash(f"{what} ended without an answer (exit status {status})") from None
    if kind != "ok":
        raise NativeCrash(f"{what} failed: {value}")
    result: T = value
    return result


def run_in_thread(fn: Callable[[], T], cancel: Callable[[], Any] | None = None) -> T:
    """``fn()`` in a worker thread; the main thread waits in slices of 50 ms.

    For native calls that release the GIL.  If the wait is interrupted (a signal
    handler or the watchdog raises), ``cancel()`` is called and the exception
    propagates; the worker is a daemon thread.  Outside the main thread ``fn()``
    runs directly.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn()
    box: list[Any] = []
    err: list[BaseException] = []

    def work() -> None:
        try:
            box.append(fn())
        except BaseException as exc:
            err.append(exc)

    th = threading.Thread(target=work, name="geninv-native", daemon=True)
    th.start()
    try:
        while th.is_alive():
            th.join(0.05)
    except BaseException:
        if cancel is not None:
            with contextlib.suppress(Exception):
                cancel()
        raise
    if err:
        raise err[0]
    result: T = box[0]
    return result
