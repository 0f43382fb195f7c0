"""One cell of a sweep: its coordinates, its derived seed and key, and running it.

A cell is ``(family, params, n, rep, solver)`` of a spec.  Its instance seed is
SHA-256 of ``[spec seed, family, params, n, rep]`` (the solver is not part of it: every
solver of a coordinate gets the same instance), so the row's ``seed`` rebuilds the
instance with :func:`geninv.lab.families.build_instance`.  Its key (the store's unique
column) is SHA-256 of ``spec hash, family, params, n, seed, solver``.

:func:`run_cell` runs in a worker and returns the row: the answer (``yes`` / ``no``
/ ``unknown``), what it rests on (``proof_kind`` and ``proof_basis``: a geninv
backend's proof, ``witness`` for a yes, the source solver's word for CaDiCaL and
networkx, a peer verifier's word -- :mod:`geninv.lab.peers`, proof kind ``skipped``
when the peer is not installed), the seconds, and ``peak_rss_bytes``: the *worker
process's* peak resident memory so far, from
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the cell -- an upper bound on
the cell's own peak (a worker that ran a bigger cell before reports that one's peak;
native child processes are not counted).

Warm start: the first time a worker process runs a given solver, the solver's lazy
imports (python-sat, HiGHS, the proof checkers) land inside the timed region and can
cost a second, which would swamp the small sizes of a scaling fit.  So a worker's first
cell of each solver that finishes in under :data:`WARM_RERUN_BELOW` seconds is run a
second time on the same instance and the second run is recorded (same answer expected;
a different one is recorded as it came, and shows up as a disagreement).
"""

from __future__ import annotations

import hashlib
import json
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from geninv.errors import GeninvError

#: A worker's first cell of a solver that ran faster than this is rerun warm.
WARM_RERUN_BELOW = 5.0
_WARM: set[str] = set()


@dataclass(frozen=True)
class Cell:
    """A cell's coordinates: enough to rebuild its instance and rerun its solver."""

    spec_hash: str
    family: str
    params_json: str
    n: int
    rep: int
    seed: int
    solver: str
    time_limit: float

    @property
    def key(self) -> str:
        """The cell's identity in the store."""
        parts = [self.spec_hash, self.family, self.params_json, self.n, self.seed, self.solver]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The cell's fields as a plain dict (what a worker receives and a row records)."""
        return asdict(self)


def instance_seed(spec_seed: int, family: str, params_json: str, n: int, rep: int) -> int:
    """The 63-bit instance seed of a coordinate, derived from the spec's seed."""
    doc = json.dumps([spec_seed, family, params_json, n, rep]).encode()
    return int.from_bytes(hashlib.sha256(doc).digest()[:8], "big") >> 1


def machine() -> str:
    """This machine in one line: host, OS, CPU architecture, Python."""
    return (
        f"{platform.node()} {platform.system()} {platform.machine()} "
        f"Python {platform.python_version()}"
    )


def geninv_version() -> str:
    """The installed geninv's version (recorded in every row), or ``unknown`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geninv")
    except PackageNotFoundError:
        return "unknown"


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} (version unknown)"


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


# ------------------------------------------------------------------ source solvers
def _cadical(cnf: Any, limit: float) -> tuple[str, str, str, str]:
    """CaDiCaL (python-sat) on the source formula, in a forked child killed at ``limit``
    seconds (python-sat's CaDiCaL ignores ``interrupt``, so a timer in this process
    would not stop it); a model is re-checked against every clause."""
    import time

    from geninv.solvers.native import NativeCrash, NativeTimeout, fork_available, run_forked

    clauses = [list(c) for c in cnf.clauses]

    def solve() -> list[int] | None:
        from pysat.solvers import Solver

        with Solver(name="cadical153", bootstrap_with=clauses) as s:
            return list(s.get_model() or []) if s.solve() else None

    try:
        if fork_available():
            found = run_forked(solve, time.perf_counter() + limit, "CaDiCaL")
        else:  # no fork (not POSIX): in this process, without the limit
            found = solve()
    except NativeTimeout:
        return "unknown", "", "", f"time limit {limit:g} s"
    except NativeCrash as exc:
        return "unknown", "", "", str(exc)
    if found is None:
        return "no", "solver's word", "CaDiCaL (no refutation checked)", ""
    model = set(found)
    if not all(any(lit in model for lit in c) for c in cnf.clauses):
        return "unknown", "", "", "CaDiCaL's model falsifies a clause"
    return "yes", "model", "checked: every clause satisfied", ""


def _networkx(inst: Any, question: dict[str, Any]) -> tuple[str, str, str, str]:
    """networkx's exact maximum clique on the source graph (its complement for a cover)."""
    from geninv.lab.families import clique_number, min_cover_size

    basis = "networkx max_weight_clique (exact search)"
    if "q" in question:
        ok = min_cover_size(inst) <= question["q"]
    else:
        ok = clique_number(inst) >= question["k"]
    return ("yes" if ok else "no"), "exhaustive search", basis, ""


def _bruteforce(inst: Any, question: dict[str, Any]) -> tuple[str, str, str, str]:
    """Exhaustive ``{0,1}^n`` search of the CVP source, exact arithmetic."""
    from geninv.oracles import cvp01_decide

    ok = cvp01_decide(
        [list(b) for b in inst.basis],
        list(inst.target),
        question["p"],
        radius=inst.radius,
        radius_pow=inst.radius_pow,
    )[0]
    return ("yes" if ok else "no"), "exhaustive search", "geninv.oracles.cvp01_decide (exact)", ""


def _geninv(problem: Any, cell: Cell) -> tuple[str, str, str, str, str]:
    """A geninv backend through :func:`geninv.workflows.solve`: (answer, proof kind,
    basis, reason, method)."""
    from geninv.workflows import solve

    try:
        sol = solve(problem, cell.solver, time_limit=cell.time_limit, seed=cell.seed % 2**31)
    except GeninvError as exc:
        return "unknown", "", "", "refused: " + " ".join(str(exc).split())[:300], cell.solver
    status = sol.status.value
    kind = basis = ""
    if status == "yes":
        meets = sol.check is not None and sol.check.meets
        kind, basis = "witness", "exact re-check" if meets else "witness (re-check missing)"
    elif status == "no" and sol.proof:
        kind = str(sol.proof.get("kind", ""))
        basis = str(sol.proof.get("basis", ""))
    reason = (sol.reason or "")[:300]
    return status, kind, basis, reason, str(sol.stats.get("auto", sol.method))


def _timed(inst: Any, cell: Cell, version: str) -> tuple[str, str, str, str, str, str, float]:
    """Run the cell's solver on its instance: (answer, proof kind, basis, reason, method,
    solver version, seconds)."""
    from geninv.lab.peers import PEERS, run_peer

    method = cell.solver
    t1 = time.perf_counter()
    if inst.problem is None:
        answer, kind, basis, reason = "unknown", "", "", inst.skipped or "skipped"
    elif cell.solver == "cadical":
        answer, kind, basis, reason = _cadical(inst.source, cell.time_limit)
        version = _package_version("python-sat") + " (CaDiCaL 1.5.3)"
    elif cell.solver == "networkx":
        answer, kind, basis, reason = _networkx(inst.source, inst.question)
        version = _package_version("networkx")
    elif cell.solver == "bruteforce":
        answer, kind, basis, reason = _bruteforce(inst.source, inst.question)
    elif cell.solver in PEERS:
        (answer, kind, basis, reason), version = run_peer(
            cell.solver, inst.problem, cell.time_limit
        )
    else:
        answer, kind, basis, reason, method = _geninv(inst.problem, cell)
    return answer, kind, basis, reason, method, version, time.perf_counter() - t1


def run_cell(cell_doc: dict[str, Any]) -> dict[str, Any]:
    """Build a cell's instance, run its solver, and return its row (see the module
    docstring).  A :class:`~geninv.errors.GeninvError` of the solver is an *unknown*
    with the reason; any other exception propagates and the cell is not recorded."""
    cell = Cell(**cell_doc)
    from geninv.lab.families import build_instance

    params = json.loads(cell.params_json)
    t0 = time.perf_counter()
    inst = build_instance(cell.family, params, cell.n, cell.seed)
    build_s = time.perf_counter() - t0
    version = f"geninv {geninv_version()}"
    answer, kind, basis, reason, method, version, seconds = _timed(inst, cell, version)
    if cell.solver not in _WARM:
        _WARM.add(cell.solver)
        if seconds < WARM_RERUN_BELOW:
            answer, kind, basis, reason, method, version, seconds = _timed(inst, cell, version)
    return {
        **cell.to_dict(),
        "cell_key": cell.key,
        "params": cell.params_json,
        "answer": answer,
        "expected": inst.expected,
        "proof_kind": kind,
        "proof_basis": basis,
        "reason": reason,
        "method": method,
        "seconds": seconds,
        "build_seconds": build_s,
        "peak_rss_bytes": _peak_rss(),
        "instance_info": json.dumps(inst.info, sort_keys=True, default=str),
        "geninv_version": geninv_version(),
        "solver_version": version,
        "machine": machine(),
    }
