"""One signal policy for every command, and the time / memory watchdog.

Signals
-------
``geninv`` run as a program (the console script or ``python -m geninv.cli``)
parses its arguments and then runs the command in a forked child process, in a
process group of its own, while the parent -- the *supervisor*, a few
kilobytes of Python that never imports a solver -- waits.  On SIGINT or
SIGTERM the supervisor forwards the signal to the child's group.  The child's
handler (:func:`signal_policy`) raises :class:`Interrupted` in its main
thread, which removes every live temporary path
(:func:`geninv.io.atomic.remove_live_temps`), kills the child processes it
started (:func:`kill_children`), prints one line and exits 130 (SIGINT) or
143 (SIGTERM).  Native code that does not return to Python (a MILP solver
holding the main thread, a CDCL call) cannot see a Python signal handler, so
the supervisor gives the child ``GRACE`` seconds, then kills the whole group
with SIGKILL, removes the temporary paths the child reported over a pipe, and
prints the one line itself.  Either way the command ends within about a
second, no process of its group survives, and no partial output remains.

Limits
------
:func:`run_limited` runs a solve under a watchdog thread: past ``time_limit +
TIME_GRACE`` seconds, or when the resident memory of the process (and of the
child processes it started) exceeds ``memory_limit`` bytes, it raises
:class:`LimitReached` in the main thread, which the CLI reports as an
``unknown`` with the reason.  Backends meet their time limit themselves; the
watchdog is the backstop that keeps ``--time-limit`` a promise.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds the supervisor waits for the child to stop on its own after a signal.
GRACE = 0.4
#: Seconds past ``--time-limit`` after which the watchdog stops a solve.
TIME_GRACE = 0.1
#: Watchdog polling period, seconds.
POLL = 0.05
#: Default memory limit: this share of the memory available when the command starts.
MEMORY_SHARE = 0.75

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException: ``except Exception`` must not eat it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The program's exit status for this signal: 130 for SIGINT, 143 for SIGTERM, else 128 +
        signum."""
        return EXIT_CODES.get(signal.Signals(self.signum), 128 + self.signum)


class LimitReached(BaseException):
    """The watchdog stopped a solve: ``kind`` is "time" or "memory"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# ------------------------------------------------------------------ child processes
_CHILDREN: set[int] = set()
_CHILD_LOCK = threading.Lock()


def track_child(pid: int) -> None:
    """Remember a child process so a signal or a limit kills it."""
    with _CHILD_LOCK:
        _CHILDREN.add(pid)


def untrack_child(pid: int) -> None:
    """Forget a child process (it has ended); no error if it was not tracked."""
    with _CHILD_LOCK:
        _CHILDREN.discard(pid)


def kill_children() -> None:
    """SIGKILL every tracked child process and reap it."""
    with _CHILD_LOCK:
        pids = list(_CHILDREN)
        _CHILDREN.clear()
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)


def child_init() -> None:
    """In a freshly forked worker: default signal dispositions (the parent kills it), and
    no faulthandler dump of the parent's threads if the worker crashes."""
    import faulthandler

    faulthandler.disable()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(s, signal.SIG_DFL)
    with _CHILD_LOCK:
        _CHILDREN.clear()


# ------------------------------------------------------------------ signal policy
@contextlib.contextmanager
def signal_policy() -> Iterator[None]:
    """SIGINT / SIGTERM raise :class:`Interrupted` in the main thread (once).

    Further signals are ignored while the command cleans up.  Outside the main
    thread this does nothing (Python delivers signals to the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.getsignal(s) for s in sigs}
    fired: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        for s in sigs:
            signal.signal(s, signal.SIG_IGN)
        fired.append(signum)
        if _SUPERVISOR_FD:  # the supervised child: its one line now, then quiet
            report_interrupt(signum)
            _mute_stderr()
        raise Interrupted(signum)

    for s in sigs:
        signal.signal(s, handler)
    try:
        yield
    finally:
        if fired:  # keep ignoring signals while the caller cleans up
            _SAVED.update(old)
        else:
            for s, h in old.items():
                signal.signal(s, h)


_SAVED: dict[signal.Signals, Any] = {}


def restore_signals() -> None:
    """After an interrupt has been handled: the handlers from before :func:`signal_policy`."""
    for s, h in _SAVED.items():
        with contextlib.suppress(OSError, ValueError, TypeError):
            signal.signal(s, h)
    _SAVED.clear()


def interrupted_line(signum: int) -> str:
    """The one line an interrupted command writes to stderr (names the signal; ends in a
    newline)."""
    name = signal.Signals(signum).name
    return f"geninv: interrupted by {name}; stopped, no output written\n"


#: The pipe to the supervisor, in its child process.
_SUPERVISOR_FD: list[int] = []


#: Set once the interrupted line is out (it is written once).
_REPORTED: list[bool] = []


def _mute_stderr() -> None:
    """Point file descriptor 2 at /dev/null (the supervised child, after its interrupted
    line).  The exception a signal handler raises can surface inside native code that
    calls back into Python (pybind11 during ``import torch``), which then aborts with a
    C++ message and a stack dump; the command is stopping anyway, and the supervisor
    gives the exit status, so nothing the child writes after its one line is kept."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)


def report_interrupt(signum: int) -> None:
    """Write the one line of an interrupted command (and tell the supervisor it is out,
    so that it does not write it again if it has to kill this process after all)."""
    if _REPORTED:  # the supervised child wrote it from its signal handler
        return
    if _SUPERVISOR_FD:
        _REPORTED.append(True)
    for fd in _SUPERVISOR_FD:
        with contextlib.suppress(OSError):
            os.write(fd, b"!\n")
    sys.stderr.write(interrupted_line(signum))
    sys.stderr.flush()


def exit_on_signals() -> None:
    """Until :func:`signal_policy` takes over: SIGINT / SIGTERM end the program at once,
    with its one line and 130 / 143 (called first thing by ``geninv``, while it imports;
    nothing has been written and no process started yet)."""

    def handler(signum: int, frame: Any) -> None:
        with contextlib.suppress(Exception):
            os.write(2, interrupted_line(signum).encode())
        os._exit(EXIT_CODES.get(signal.Signals(signum), 128 + signum))

    for s in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(s, handler)


# ------------------------------------------------------------------ supervisor
def supervisor_enabled() -> bool:
    """Whether the command runs under a supervisor process: only where ``os.fork`` exists, on the
    main thread, and unless ``GENINV_NO_SUPERVISOR`` is set to something other than 0."""
    return (
        hasattr(os, "fork")
        and os.environ.get("GENINV_NO_SUPERVISOR", "") in ("", "0")
        and threading.current_thread() is threading.main_thread()
    )


def _set_parent_death_signal() -> None:
    """Linux: the child gets SIGKILL if the supervisor dies (e.g. it was SIGKILLed)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def supervise(run: Callable[[], int]) -> int:
    """Run ``run()`` in a forked child (own process group); returns its exit status.

    See the module docstring.  The child reports its temporary paths through a
    pipe (``+path`` / ``-path`` lines), so that the supervisor can remove them if
    it has to kill the child.
    """
    from geninv.io import atomic

    r, w = os.pipe()
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    sigs = {signal.SIGINT, signal.SIGTERM}
    # no signal between the fork and the forwarding handler (it waits, then is forwarded)
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (covered by the signal tests)
        code = 1
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
            os.close(r)
            with contextlib.suppress(OSError):
                os.setpgid(0, 0)
            _set_parent_death_signal()
            if os.getppid() != parent:
                os._exit(1)

            def report(op: str, path: str, fd: int = w) -> None:
                os.write(fd, (op + path + "\n").encode("utf-8", "surrogateescape"))

            atomic.HOOKS.append(report)
            SUPERVISED.append(True)
            _SUPERVISOR_FD.append(w)
            code = run()
        except Interrupted as exc:  # before the command installed its own policy
            atomic.remove_live_temps()
            report_interrupt(exc.signum)
            code = exc.exit_code
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)
    os.close(w)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    got: list[tuple[int, float]] = []

    def forward(signum: int, frame: Any) -> None:
        if not got:
            got.append((signum, time.monotonic()))
        with contextlib.suppress(OSError):
            os.killpg(pid, signum)

    def suspend(signum: int, frame: Any) -> None:
        # Ctrl-Z reaches this (the terminal's foreground) group only: stop the command's
        # group too, stop here, and continue both on SIGCONT (fg / bg)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGCONT)

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.signal(s, forward) for s in handled}
    old[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
    temps: set[str] = set()
    pending = b""
    reported = False
    status = 0
    open_pipe = True
    try:
        while True:
            if open_pipe:
                ready, _, _ = select.select([r], [], [], POLL)
                if ready:
                    data = os.read(r, 1 << 16)
                    if not data:
                        open_pipe = False
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        reported |= _take(line, temps)
            else:
                time.sleep(POLL)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if got and time.monotonic() - got[0][1] > GRACE:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                break
    finally:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # anything the child left in its group
        if open_pipe:
            with contextlib.suppress(OSError):
                os.set_blocking(r, False)
                pending += os.read(r, 1 << 20)
        os.close(r)
        for line in pending.split(b"\n"):
            reported |= _take(line, temps)
        for path in sorted(temps, key=len, reverse=True):
            atomic.remove_path(path)
        for s, h in old.items():
            signal.signal(s, h)
    if got:
        signum = got[0][0]
        if not reported:  # killed, or died before its own line (a native abort)
            sys.stderr.write(interrupted_line(signum))
        return EXIT_CODES.get(signal.Signals(signum), 128 + signum)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        sys.stderr.write(f"geninv: the command died with signal {signal.Signals(sig).name}\n")
        return 128 + sig
    return os.waitstatus_to_exitcode(status)


def _take(line: bytes, temps: set[str]) -> bool:
    """One line from the child: ``+path`` / ``-path`` (temps), ``!`` (it wrote its line)."""
    if line == b"!":
        return True
    if line[:1] in (b"+", b"-"):
        path = line[1:].decode("utf-8", "surrogateescape")
        (temps.add if line[:1] == b"+" else temps.discard)(path)
    return False


# ------------------------------------------------------------------ limits
def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process in bytes (0 when unknown)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def default_memory_limit() -> int | None:
    """``MEMORY_SHARE`` of the memory available now plus what this process holds."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    return int(MEMORY_SHARE * (avail + rss_bytes()))
    except (OSError, ValueError):
        pass
    return None


def _importing(thread_id: int) -> bool:
    """Whether that thread is executing an ``import`` right now."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _used_memory() -> int:
    with _CHILD_LOCK:
        pids = list(_CHILDREN)
    return rss_bytes() + sum(rss_bytes(p) for p in pids)


#: Seconds the watchdog waits for the main thread to take its :class:`LimitReached`
#: before it calls ``on_stuck`` (a long numpy call or native solver call holds it).
STUCK = 0.15
#: True in the child process of :func:`supervise` (where the program may end at once).
SUPERVISED: list[bool] = []


def run_limited(
    fn: Callable[[], T],
    time_limit: float | None,
    memory_limit: int | None,
    on_stuck: Callable[[LimitReached], None] | None = None,
) -> T:
    """``fn()`` under the watchdog; raises :class:`LimitReached` when a limit is passed.

    Only in the main thread (elsewhere ``fn()`` runs unguarded).  If the main
    thread does not take the exception within ``STUCK`` seconds (it is inside
    one long native call) and ``on_stuck`` is given, the watchdog thread calls
    ``on_stuck(limit)``, which is expected to report the outcome and end the
    process (the CLI does this only under the supervisor).
    """
    if (time_limit is None and memory_limit is None) or (
        threading.current_thread() is not threading.main_thread()
    ):
        return fn()
    start = time.perf_counter()
    hit: list[LimitReached] = []
    stop = threading.Event()
    main_id = threading.main_thread().ident
    assert main_id is not None

    def watch() -> None:
        while not stop.wait(POLL):
            if hit:  # found earlier while the main thread was importing a module
                if on_stuck is None and _importing(main_id):
                    continue
                break
            elapsed = time.perf_counter() - start
            if time_limit is not None and elapsed > time_limit + TIME_GRACE:
                hit.append(
                    LimitReached(
                        "time", f"time limit ({time_limit:g} s; stopped at {elapsed:.2f} s)"
                    )
                )
            elif memory_limit is not None:
                used = _used_memory()
                if used > memory_limit:
                    hit.append(
                        LimitReached(
                            "memory",
                            f"memory limit ({memory_limit / 2**20:.0f} MiB; the solve held "
                            f"{used / 2**20:.0f} MiB; raise it with --memory-limit)",
                        )
                    )
            # an exception inside an import would leave a half-initialised module
            # behind (e.g. torch.optim) for the rest of the process: wait for it
            if hit and (on_stuck is not None or not _importing(main_id)):
                break
        if not hit or stop.is_set():
            return
        with contextlib.suppress(Exception):
            signal.pthread_kill(main_id, signal.SIGUSR1)
        if not stop.wait(STUCK) and on_stuck is not None:
            stop.set()
            kill_children()
            on_stuck(hit[0])

    def on_usr1(signum: int, frame: Any) -> None:
        if hit and not stop.is_set():
            stop.set()
            raise hit[0]

    old = signal.signal(signal.SIGUSR1, on_usr1)
    watcher = threading.Thread(target=watch, name="geninv-watchdog", daemon=True)
    watcher.start()
    try:
        return fn()
    finally:
        stop.set()
        watcher.join()
        signal.signal(signal.SIGUSR1, old)
        if hit:
            kill_children()
