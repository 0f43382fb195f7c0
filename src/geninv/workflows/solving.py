"""Solving with options, in turn, and with a certified gap: what ``geninv solve``
does besides reading arguments, watching limits and printing.

``auto`` picks its backend among the complete ones that apply
(:func:`geninv.solvers.base.candidate_backends`, best first).  Backend options
(``--optimize``, ``--proof``, ``--option KEY=VALUE``) narrow that list to the
candidates whose constructor takes every option (:func:`plan_backends`), which
:func:`solve_in_turn` runs as ``auto`` runs its own: an *unknown* passes to the next
with the time left, the first *yes* or *no* is the answer.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geninv.errors import UnsupportedError, ValidationError
from geninv.problem import InversionProblem, Solution, Status

if TYPE_CHECKING:
    from geninv.gap import GapReport

#: ``certify``'s time limit when none is given, seconds.
CERTIFY_TIME_LIMIT = 120.0


@dataclass(frozen=True)
class BackendPlan:
    """The backends to run in turn, and what to tell the user about the choice."""

    names: list[str]
    #: Why ``auto`` chose its first backend (only when asked to explain), else None.
    why: str | None = None
    #: A warning to show whatever the verbosity (no proof file will be written), else None.
    warning: str | None = None


def plan_backends(
    problem: InversionProblem,
    method: str,
    options: dict[str, Any] | None,
    *,
    explain: bool = False,
) -> BackendPlan:
    """The backends that run ``method`` on ``problem`` with backend ``options``.

    A named backend runs alone.  ``auto`` without options runs as ``auto``
    (``explain``: with the reason of its choice).  ``auto`` with options runs auto's
    candidates whose constructor takes every option, best first; with ``proof`` as the
    only option and no such candidate it runs as ``auto`` with a warning that no proof
    file will come; with other options and no such candidate it raises
    :class:`~geninv.errors.ValidationError` (name a backend instead)."""
    if method != "auto":
        return BackendPlan([method])
    if not options:
        if not explain:
            return BackendPlan(["auto"])
        from geninv.solvers.base import choose_backend

        try:
            _, why = choose_backend(problem)
        except UnsupportedError:
            why = "no complete backend applies: the approximate portfolio runs"
        return BackendPlan(["auto"], why=why)
    from geninv.solvers.base import candidate_backends

    ranked = candidate_backends(problem)
    keys = set(options)
    flags = ", ".join(sorted(keys))
    names = [
        cls.name for cls, _ in ranked if keys <= set(inspect.signature(cls.__init__).parameters)
    ]
    if names:
        if not explain:
            return BackendPlan(names)
        first = next(w for cls, w in ranked if cls.name == names[0])
        return BackendPlan(names, why=f"{first} (the first candidate that takes {flags})")
    every = ", ".join(cls.name for cls, _ in ranked)
    if keys == {"proof"}:  # no candidate writes a proof file: solve as auto would
        return BackendPlan(
            ["auto"],
            warning=f"no proof file will be written: none of the backends auto can use here "
            f"({every}) writes one (bab and sat do)",
        )
    raise ValidationError(
        f"none of the backends auto can use here ({every}) takes {flags}; name one with --method"
    )


def solve_in_turn(
    problem: InversionProblem,
    names: Sequence[str],
    options: dict[str, Any] | None = None,
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    trust_solver: bool = False,
) -> Solution:
    """Run the backends ``names`` in turn, as ``auto`` runs its candidates, sharing
    ``time_limit``: an *unknown* (a time-out, a floating-point *no* without a checked
    certificate) passes to the next with the time left, and a backend that refuses the
    instance (:class:`~geninv.errors.UnsupportedError`) to the next; the first *yes* or
    *no* is the answer, else the first *unknown* (its ``seconds`` the whole run's).
    ``options`` go to every backend but ``auto``.  The last backend's refusal, with no
    *unknown* held, is raised."""
    from geninv.solvers.base import solve

    start = time.perf_counter()
    held: Solution | None = None
    for name in names:
        left = None if time_limit is None else time_limit - (time.perf_counter() - start)
        if left is not None and left <= 0 and held is not None:
            break
        try:
            sol = solve(
                problem,
                name,
                time_limit=left,
                seed=seed,
                progress=progress,
                options=(options or {}) if name != "auto" else None,
                trust_solver=trust_solver,
            )
        except UnsupportedError:  # a candidate refused this instance (as in auto)
            if name == names[-1] and held is None:
                raise
            continue
        if sol.status is not Status.UNKNOWN:
            return sol
        held = held or sol
    assert held is not None
    held.seconds = time.perf_counter() - start
    return held


def certify(
    problem: InversionProblem,
    *,
    time_limit: float | None = None,
    seed: int = 0,
    trust_solver: bool = False,
    report: GapReport | None = None,
) -> GapReport:
    """The best distance the approximate backends reach and a lower bound on the least
    distance (``geninv solve --certify``, :func:`geninv.gap.certified_gap`): certified
    by ``bab``'s checked proofs where ``bab`` applies (through a last sigmoid / tanh by
    the exact pre-activation box, and for p < inf by piecewise-linear lower bounds of each
    output's error summed in the l_p norm, :mod:`geninv.smooth_bounds`; for p = 2 and few latents
    by linear-bound input splitting, :mod:`geninv.solvers.bab.crown`), else a
    floating-point dual bound labelled uncertified.  ``time_limit`` defaults to 120 s;
    ``report``, when given, is filled in as the runs finish (so a caller that stops the
    work keeps them)."""
    from geninv.gap import certified_gap

    return certified_gap(
        problem,
        time_limit=time_limit or CERTIFY_TIME_LIMIT,
        seed=seed,
        trust_solver=trust_solver,
        report=report,
    )


def no_point_reason(problem: InversionProblem, report: GapReport) -> str:
    """Why a :func:`certify` report has no point: binary and sign latents are not
    searched by the approximate backends (``--optimize`` finds their least distance)."""
    if problem.domain.kind in ("binary", "sign"):
        return (
            f"the approximate backends search real and box latents, not {problem.domain.kind}; "
            "'geninv solve DIR --optimize' finds the least distance of a "
            f"{problem.domain.kind} instance"
        )
    return "no run returned a point" if report.runs else "no approximate backend applies"


@contextlib.contextmanager
def solver_logs(shown: bool) -> Iterator[None]:
    """Within the block, HiGHS's and SCIP's own logs are ``shown`` (``--verbose``) or
    not; the setting before is restored after it (a process may solve again)."""
    from geninv.solvers.milp import common as milp

    before = milp.SOLVER_LOGS
    milp.SOLVER_LOGS = shown
    try:
        yield
    finally:
        milp.SOLVER_LOGS = before


def unchecked_lower_bound(sol: Solution) -> float | None:
    """The lower bound on the least distance an ``optimize`` run reports that rests on a
    floating-point solver's dual bound alone (not checked exactly), else None."""
    from geninv.solvers.base import BASIS_FLOAT

    lb = sol.stats.get("lower_bound")
    if (
        isinstance(lb, (int, float))
        and sol.stats.get("mode") == "optimize"
        and sol.stats.get("lower_bound_basis", BASIS_FLOAT) == BASIS_FLOAT
    ):
        return float(lb)
    return None


def load_vnncomp(onnx: str, vnnlib: str) -> InversionProblem:
    """The inversion problem of a VNN-COMP network and property (an input box and
    bounds on the outputs), as ``geninv solve --onnx FILE --vnnlib FILE`` reads it."""
    from geninv.io.vnncomp import problem_from_vnncomp

    return problem_from_vnncomp(onnx, vnnlib)
