"""Running CDCL solvers: PySAT, CaDiCaL through its C API, forked children, proof files."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from geninv.budget import Budget
from geninv.errors import UnsupportedError, ValidationError
from geninv.solvers.sat.common import FIRST_BUDGET, ONESHOT_BUDGET

# ------------------------------------------------------------------ solving
#: PySAT solvers that cannot log proofs (constructing one with a proof fails).
NO_PROOF_SOLVERS = frozenset(
    {"minicard", "minisat22", "minisatgh", "minisatep", "cryptosat", "kissat404"}
)


@functools.lru_cache(maxsize=64)
def canonical_solver(name: str) -> str:
    """PySAT's canonical name for a solver name or alias (``"g4"`` -> ``"glucose4"``)."""
    from pysat.solvers import SolverNames

    names: dict[str, tuple[str, ...]] = {
        k: v for k, v in vars(SolverNames).items() if not k.startswith("_")
    }
    for canon, aliases in names.items():
        if name == canon or name in aliases:
            return canon
    raise ValidationError(f"unknown SAT solver {name!r}; PySAT offers {', '.join(sorted(names))}")


#: PySAT's C functions for CaDiCaL 1.9.5 that :class:`_CadicalC` calls.
_CADICAL_C = ("new", "add_cl", "cbudget", "solve_lim", "solve", "model", "del")


@functools.cache
def _cadical195_c() -> dict[str, Any] | None:
    """PySAT's C functions for CaDiCaL 1.9.5 by short name, or None if one is missing."""
    from pysat import solvers as pysat_solvers

    module = getattr(pysat_solvers, "pysolvers", None)
    fns = {k: getattr(module, f"cadical195_{k}", None) for k in _CADICAL_C}
    return fns if all(fns.values()) else None


def _main_thread() -> int:
    """1 in the main thread (CaDiCaL then lets Ctrl-C interrupt it), as PySAT passes."""
    return int(threading.current_thread() is threading.main_thread())


class _CadicalC:
    """CaDiCaL 1.9.5 through PySAT's C functions, for :class:`_Sat` without proofs.

    The part of PySAT's solver interface that ``_Sat`` uses, with the same calls
    and status conversions as PySAT's ``Cadical195``, minus its two layers of
    Python wrappers: several microseconds a call, which on 100-clause formulas is
    as much as CaDiCaL's whole search.
    """

    def __init__(self, fns: dict[str, Any]) -> None:
        self._f = fns
        self.cadical: Any = fns["new"]()
        self.status: bool | None = None

    @property
    def solver(self) -> _CadicalC:
        """Itself: _Sat.add reads the handle as ``solver.solver.cadical`` (PySAT's layout)."""
        return self

    def add_clause(self, clause: list[int]) -> None:
        if not self._f["add_cl"](self.cadical, clause):
            self.status = False

    def conf_budget(self, budget: int) -> None:
        self._f["cbudget"](self.cadical, budget)

    def solve_limited(
        self, assumptions: Sequence[int] = (), expect_interrupt: bool = False
    ) -> bool | None:
        raw = self._f["solve_lim"](self.cadical, list(assumptions), _main_thread())
        self.status = None if raw == 0 else bool((raw + 1) / 2)
        return self.status

    def solve(self, assumptions: Sequence[int] = ()) -> bool | None:
        self.status = self._f["solve"](self.cadical, list(assumptions), _main_thread())
        return self.status

    def get_model(self) -> list[int] | None:
        if self.cadical is None or self.status is not True:
            return None
        model = self._f["model"](self.cadical)
        return model if model is not None else []

    def delete(self) -> None:
        if self.cadical is not None:
            self._f["del"](self.cadical, None)
            self.cadical = None

    def __del__(self) -> None:  # as PySAT's solvers: never leak the C solver
        self.delete()


class _Sat:
    """A PySAT solver with deadline handling."""

    def __init__(self, name: str, with_proof: bool) -> None:
        from pysat.solvers import Solver

        self.name = name
        direct = _cadical195_c() if name == "cadical195" and not with_proof else None
        try:
            self.solver: Any = (
                Solver(name=name, with_proof=with_proof) if direct is None else _CadicalC(direct)
            )
        except NotImplementedError as err:
            raise UnsupportedError(f"solver {name!r} cannot log proofs: {err}") from None
        self.budget = FIRST_BUDGET
        self.with_proof = with_proof
        self._model: list[int] | None = None

    def __enter__(self) -> _Sat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.solver.delete()

    def add(self, clauses: Iterable[Sequence[int]]) -> None:
        add = self.solver.add_clause
        inner = getattr(self.solver, "solver", None)
        handle = getattr(inner, "cadical", None)
        if self.name == "cadical195" and handle is not None:
            direct = (_cadical195_c() or {}).get("add_cl")
            if direct is not None:
                # PySAT's own add_clause is two Python wrappers around this call; on
                # 100-clause formulas they cost as much as CaDiCaL's whole search.
                # A False return (empty clause added) is recorded as PySAT does.  The C
                # function takes any iterable of ints; map() calls it without a Python
                # loop.
                added = list(map(direct, itertools.repeat(handle), clauses))
                if not all(added) and inner is not None:
                    inner.status = False
                return
        for c in clauses:
            add(c if type(c) is list else list(c))

    def solve(self, assumptions: Sequence[int] = (), clock: Budget | None = None) -> bool | None:
        """True / False, or None when the budget ``clock`` ran out (None: no limit)."""
        with _ctrl_c_as_keyboard_interrupt():
            return self._solve(assumptions, clock)

    def _solve(self, assumptions: Sequence[int], clock: Budget | None) -> bool | None:
        s = self.solver
        if clock is None or clock.deadline is None:
            return bool(s.solve(assumptions=list(assumptions)))
        if self.name.startswith("lingeling"):
            raise UnsupportedError(
                "lingeling cannot be time-limited from PySAT; choose another solver"
            )
        if self.name.startswith("cadical"):
            while True:
                if clock.expired():
                    return None
                t0 = time.perf_counter()
                s.conf_budget(self.budget)
                r = s.solve_limited(assumptions=list(assumptions))
                if r is not None:
                    return bool(r)
                # every new solve_limited call restarts CaDiCaL's search schedule, so
                # slices grow geometrically while they take under a quarter of the
                # time left (the deadline is overrun by about one slice at most)
                if time.perf_counter() - t0 < 0.25 * clock.left():
                    self.budget *= 2
        left = clock.left()
        if left <= 0:
            return None

        def stop() -> None:
            with contextlib.suppress(NotImplementedError):
                s.interrupt()

        timer = threading.Timer(left, stop)
        timer.daemon = True
        timer.start()
        try:
            r = s.solve_limited(assumptions=list(assumptions), expect_interrupt=True)
        finally:
            timer.cancel()
        if r is None:
            s.clear_interrupt()
            return None
        return bool(r)

    def solve_cnf(self, clauses: list[list[int]], clock: Budget | None) -> bool | None:
        """One-shot decision of ``clauses`` (already added) with a time limit.

        CaDiCaL cannot be interrupted from PySAT, and every call of a conflict-
        budgeted ``solve_limited`` restarts its search schedule, which on
        satisfiable SATLIB formulas costs up to 9x (uf250-02: 0.52 s in one call,
        4.2 s in slices of 1000, 2000, ... conflicts).  So, where ``os.fork``
        exists and no proof is logged: one in-process slice of ``ONESHOT_BUDGET``
        conflicts decides small formulas at once; otherwise a child process
        solves the formula from scratch in one uninterrupted call (the same
        search CaDiCaL alone would do, about 9 ms of fork overhead) and is killed
        at the deadline.  Elsewhere the budget slices of :meth:`solve` are used.
        """
        if (
            clock is None
            or clock.deadline is None
            or not self.name.startswith("cadical")
            or self.with_proof
            or not hasattr(os, "fork")
        ):
            return self.solve((), clock)
        # about 50 ms on 1000-clause SATLIB formulas; fewer conflicts on larger CNFs
        budget = min(ONESHOT_BUDGET, max(100, 5_000_000 // max(1, len(clauses))))
        if budget > 0:
            self.solver.conf_budget(budget)
            with _ctrl_c_as_keyboard_interrupt():
                r = self.solver.solve_limited()
            if r is not None:
                return bool(r)
        try:
            out = _solve_in_child(self.name, clauses, clock.deadline)
        except (RuntimeError, OSError):  # no fork, or the child died: slices in process
            return self.solve((), clock)
        if out is None:
            return None
        ok, model = out
        self._model = model
        return ok

    def model(self, n: int) -> list[bool]:
        m = self._model if self._model is not None else (self.solver.get_model() or [])
        pos = {lit for lit in m if lit > 0}
        return [i in pos for i in range(1, n + 1)]

    def proof(self) -> list[str]:
        return list(self.solver.get_proof() or [])


@contextlib.contextmanager
def _ctrl_c_as_keyboard_interrupt() -> Iterator[None]:
    """PySAT catches Ctrl-C inside a solve (main thread) and raises its own
    ``pysolvers.error("Caught keyboard interrupt")``; callers see KeyboardInterrupt."""
    try:
        yield
    except Exception as exc:
        if "keyboard interrupt" in str(exc).lower():
            raise KeyboardInterrupt from None
        raise


def _solve_in_child(
    name: str, clauses: list[list[int]], deadline: float
) -> tuple[bool, list[int] | None] | None:
    """Solve in a forked process, killed at the deadline: (sat?, model) or None."""
    import pickle
    import select
    import signal
    import warnings

    from pysat.solvers import Solver  # imported here, not in the child (import locks)

    from geninv import guard

    r, w = os.pipe()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
    except OSError:  # e.g. no memory for the page tables: the caller falls back
        os.close(r)
        os.close(w)
        raise
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            guard.child_init()  # default SIGINT/SIGTERM: the parent kills this process
            with Solver(name=name, bootstrap_with=clauses) as child:
                ok = bool(child.solve())
                model = child.get_model() if ok else None
            data = memoryview(pickle.dumps((ok, model)))
            while data:
                data = data[os.write(w, data) :]
        finally:
            os._exit(0)
    os.close(w)
    guard.track_child(pid)  # a signal or a limit in this process kills it too
    chunks: list[bytes] = []
    finished = False
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    finished = True
                    break
                chunks.append(chunk)
    finally:  # also on KeyboardInterrupt: never leave the child running
        os.close(r)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        guard.untrack_child(pid)
    if not chunks:
        raise RuntimeError(f"the {name} child process ended without an answer")
    ok, model = pickle.loads(b"".join(chunks))
    return bool(ok), model


def _write_proof_files(cnf_path: str, dimacs: str, proof_path: str, lines: list[str]) -> None:
    """Write the CNF and the DRUP proof atomically (:mod:`geninv.io.atomic`), both or neither.

    An existing regular file is replaced (the CLI refuses one without
    ``--force`` before solving); a link, a device or a directory is refused.
    """
    from geninv.io.atomic import OutputError, atomic_file, remove_path

    try:
        with atomic_file(cnf_path, force=True, mode="w") as fh:
            fh.write(dimacs)
        try:
            with atomic_file(proof_path, force=True, mode="w") as fh:
                for line in lines:
                    fh.write(line.strip() + "\n")
        except BaseException:
            remove_path(cnf_path)
            raise
    except OutputError as err:
        raise ValidationError(f"cannot write the proof: {err}") from None
