"""The driver: :func:`solve` runs a backend (or ``auto``'s portfolio) and certifies
its answer.

The parts it drives live beside it: :mod:`geninv.solvers.interface` (what a backend
is), :mod:`geninv.solvers.registry` (the backends by name, loaded lazily) and
:mod:`geninv.solvers.portfolio` (``auto``'s ranking as a table).  Their names are
re-exported here.

A backend declares what it accepts (latent domains, norms, exact and/or
approximate inversion) and which Python modules it needs.  Availability is
checked with :func:`importlib.util.find_spec`, so listing backends never
imports a heavy dependency.  Every backend returns a :class:`Solution` whose
status is one of ``yes``/``no``/``unknown``; :func:`solve` re-checks every
``yes`` in exact arithmetic before handing it out.

Trust policy for ``no``
-----------------------
Every ``no`` says in ``proof["basis"]`` what it rests on (set by the backend, or
from its class attribute :attr:`Backend.no_basis`):

* ``"exact"``: an argument carried out in exact (or rigorously error-bounded)
  arithmetic: exhaustive enumeration with its rounding bound, the exact integer
  CNF refuted by a CDCL solver, the corner presolve's exact ranges;
* ``"checked certificate"``: a certificate geninv checked itself (a DRUP
  refutation checked by :mod:`geninv.solvers.rup`, a branch-and-bound tree with
  multipliers checked exactly);
* ``"floating-point solver"``: the word of an LP/MILP/MIQP solver working in
  float64 with tolerances (HiGHS, SCIP), with geninv's margin, but unchecked.

:func:`solve` lets the first two through.  A ``no`` on the third (or on none)
becomes ``unknown`` whose reason says what to do, unless ``trust_solver``
(``geninv solve --trust-solver``): then it stays ``no`` and the proof carries
``"trusted": "not checked: accepted because of --trust-solver"``.
"""

from __future__ import annotations

import contextvars
import itertools
from typing import Any

from geninv.budget import Budget
from geninv.errors import UnsupportedError, ValidationError
from geninv.problem import InversionProblem, Solution, Status, certify
from geninv.solvers.interface import (
    BASES,
    BASIS_CHECKED,
    BASIS_EXACT,
    BASIS_FLOAT,
    TRUSTED,
    Backend,
    Capabilities,
    Presolve,
    _module_found,
)
from geninv.solvers.portfolio import (
    ENUMERATE_UP_TO,
    PORTFOLIO,
    candidate_backends,
    choose_backend,
)
from geninv.solvers.portfolio import candidates as _candidates
from geninv.solvers.registry import (
    REGISTRY,
    get_backend,
    register,
)
from geninv.solvers.registry import load_builtin_backends as _load_builtin_backends

#: Share of the time left that ``auto`` gives a floating-point backend when its ``no``
#: would be gated (no ``trust_solver``): the rest is kept for a certifying backend.
FLOAT_SHARE = 0.5

#: ``trust_solver`` of the outermost :func:`solve` call, seen by the nested ones
#: (``auto``'s candidates, the corner presolve's binary sub-problem).
_TRUST: contextvars.ContextVar[bool] = contextvars.ContextVar("geninv_trust_solver", default=False)


def uncertified_no(sol: Solution) -> bool:
    """Whether ``sol`` is a ``no`` that rests on nothing geninv checked exactly."""
    if sol.status is not Status.NO:
        return False
    basis = (sol.proof or {}).get("basis")
    return basis not in (BASIS_EXACT, BASIS_CHECKED)


def gate_no(sol: Solution, trust_solver: bool) -> Solution:
    """The trust policy for a ``no`` (module docstring of :mod:`geninv.solvers.base`).

    A ``no`` whose proof rests on an exact argument or a checked certificate
    passes.  One that rests on a floating-point solver's word (or does not say)
    becomes ``unknown`` with the reason, unless ``trust_solver``: then it stays
    ``no`` and its proof carries ``"trusted": TRUSTED``.  The solver's proof is
    kept in ``stats["uncertified_proof"]`` either way.
    """
    if not uncertified_no(sol):
        return sol
    assert sol.proof is not None
    if trust_solver:
        sol.proof["trusted"] = TRUSTED
        return sol
    basis = sol.proof.get("basis")
    said = (
        f"{sol.method} says infeasible in floating point"
        if basis == BASIS_FLOAT
        else f"{sol.method}'s 'no' does not say what it rests on"
    )
    kind = sol.proof.get("kind")
    sol.stats["uncertified_proof"] = sol.proof
    sol.status = Status.UNKNOWN
    sol.proof = None
    sol.reason = (
        f"{said}{f' ({kind})' if kind else ''}; no checked certificate. "
        "Pass --trust-solver to accept it, or use --method bab (certified branch and bound)"
    )
    sol.stats["uncertified_no"] = True
    return sol


def solve(
    problem: InversionProblem,
    method: str = "auto",
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    options: dict[str, Any] | None = None,
    trust_solver: bool = False,
) -> Solution:
    """Solve with the named backend (or ``auto``); re-check ``yes`` answers exactly.

    ``auto`` on real and box latents with a threshold first runs the primal search
    (:func:`geninv.solvers.primal.auto_first`: at most 2 s or a tenth of the time
    limit) and returns its witness at once; otherwise the complete backends follow
    with the time that is left, and ``stats["auto_primal"]`` summarises the search.

    ``options`` are passed to the backend's constructor (e.g. ``{"mode": "optimize"}``
    for ``enumerate``).  A ``no`` passes :func:`gate_no`: one resting on a
    floating-point solver is ``unknown`` unless ``trust_solver`` (which nested
    calls inherit).  In ``auto``, such an uncertified ``no`` (or a candidate's
    refusal) does not end the search: the next candidate runs with the time left,
    and only when none answers better is the first uncertified answer returned
    (without a time limit, the last-resort enumeration of more than
    ``ENUMERATE_UP_TO`` coordinates is then not started).
    """
    trust = trust_solver or _TRUST.get()
    token = _TRUST.set(trust)
    try:
        if method == "auto":
            clock = Budget(time_limit, seed)
            try:
                return _solve_auto(problem, clock, progress, trust)
            except UnsupportedError:  # no complete backend: the approximate portfolio
                from geninv.solvers.fallback import run_portfolio

                sol = run_portfolio(problem, clock.time_limit(), seed, progress, solve)
                if sol is None:
                    raise
                sol.seconds = clock.elapsed()
                return sol
        return _solve_one(problem, method, time_limit, seed, progress, options, trust)
    finally:
        _TRUST.reset(token)


def _solve_one(
    problem: InversionProblem,
    method: str,
    time_limit: float | None,
    seed: int | None,
    progress: bool,
    options: dict[str, Any] | None,
    trust: bool,
) -> Solution:
    cls = get_backend(method)
    reason = cls.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    clock = Budget(time_limit, seed)
    try:
        backend = cls(**(options or {}))
    except TypeError as exc:
        raise ValidationError(f"method {cls.name!r} does not take these options: {exc}") from None
    from geninv.solvers.native import NativeCrash

    try:
        if isinstance(backend, Presolve):
            sol = _run_presolve(backend, problem, clock, progress)
        else:
            sol = backend.solve(problem, time_limit=time_limit, seed=seed, progress=progress)
    except NativeCrash as exc:  # a native solver failed or died: no answer, say why
        sol = Solution(Status.UNKNOWN, cls.name, reason=f"native solver failure: {exc}")
    sol.seconds = clock.elapsed()
    if sol.status is Status.NO and sol.proof is not None and cls.no_basis is not None:
        sol.proof.setdefault("basis", cls.no_basis)
    return gate_no(certify(problem, sol), trust)


def _run_presolve(
    presolve: Presolve,
    problem: InversionProblem,
    clock: Budget,
    progress: bool,
) -> Solution:
    """A presolve in front of its method: ``apply``, decide the reduced problem with
    ``presolve.method`` in the time left, ``invert``."""
    reduced = presolve.apply(problem, time_limit=clock.limit)
    if isinstance(reduced, Solution):
        return reduced
    sub_problem, data = reduced
    left = clock.time_limit()
    left = None if left is None else max(left, 1e-3)
    sub = solve(sub_problem, presolve.method, time_limit=left, seed=clock.seed, progress=progress)
    return presolve.invert(problem, sub, data)


#: ``auto`` runs ``bab`` before the floating-point backends when the local search came
#: this close to the threshold without crossing it (best distance <= ratio * delta) ...
NEAR_MISS_RATIO = 1.25
#: ... with this share of the time left and at most this many nodes (a probe: the
#: no near the boundary is often proved at the root; a witness that only the float
#: backends find is not kept waiting), then the usual order, bab included
NEAR_MISS_SHARE = 0.7
NEAR_MISS_NODES = 50


def _near_miss_first(
    problem: InversionProblem, primal: dict[str, Any] | None, trust: bool
) -> list[tuple[type[Backend], str]]:
    """``[(bab, why)]`` when ``auto`` should run ``bab`` first, else ``[]``.

    A local search that ends just above delta (a near miss) is what a *no* near the
    boundary looks like: a *yes* there is usually found by the search itself.  On such
    an instance a floating-point backend's *no* would be gated (no ``trust_solver``)
    and only spends the time that ``bab``, which certifies the *no* and also re-checks
    its LP points as witnesses, needs (near-boundary l_inf nets 20-100-200: milp-scip
    5-7 s before bab started).  A near miss can be a *yes* that only a float backend
    finds (a lifted clique instance: the witness is a corner), so this first run of
    bab has a node budget and the usual order follows it."""
    if trust or primal is None or problem.is_exact_inversion:
        return []
    best, delta = primal.get("best_float_distance"), float(problem.threshold)
    if best is None or not delta > 0 or not float(best) <= NEAR_MISS_RATIO * delta:
        return []
    _load_builtin_backends()
    cls = REGISTRY.get("bab")
    if cls is None or not cls.available() or cls.unsupported_reason(problem) is not None:
        return []
    if problem.domain.kind != "box" and problem.input_box is None:
        return []
    return [
        (
            cls,
            f"bab: the local search ended at {float(best) / delta:.3g} delta without a "
            "witness (a near miss: likely a no), so the certifying branch and bound runs first",
        )
    ]


def _solve_auto(
    problem: InversionProblem,
    clock: Budget,
    progress: bool,
    trust: bool,
) -> Solution:
    time_limit, seed = clock.time_limit(), clock.seed
    # the primal side first (real/box latents with a threshold): a witness that a
    # cheap local search finds must not wait for branch and bound
    from geninv.solvers.primal import auto_first

    early, primal = auto_first(problem, time_limit, seed)
    if early is not None:
        early.seconds = clock.elapsed()
        early.stats["auto"] = "primal: the local search found a witness first"
        return certify(problem, early)
    refused: list[str] = []
    uncertified: list[str] = []  # candidates whose 'no' was gated, or who refused the model
    held: Solution | None = None  # the first of them: the answer if nothing better comes
    probe = _near_miss_first(problem, primal, trust)
    ran: set[str] = set()
    for i, (cls, why) in enumerate(itertools.chain(probe, _candidates(problem))):
        is_probe = i < len(probe)  # bab with a node budget before the ranked backends
        if cls.name in ran:
            continue
        if not is_probe:
            ran.add(cls.name)
        left = clock.time_limit()
        if left is not None and is_probe:
            left *= NEAR_MISS_SHARE
        elif left is not None and not trust and cls.no_basis == BASIS_FLOAT:
            # a floating-point 'no' will be gated: leave half the time to a backend that
            # can certify it (bab, ranked next for real and box latents)
            left *= FLOAT_SHARE
        if left is not None and left <= 0 and held is not None:
            break
        if (
            held is not None
            and left is None
            and cls.name == "enumerate"
            and problem.n > ENUMERATE_UP_TO
        ):
            # 2^n corners without a time limit could run for ages: not started
            uncertified.append(
                f"enumerate: not started without a time limit (2^{problem.n} corners); "
                "give --time-limit to let it try"
            )
            continue
        try:
            sol = solve(
                problem,
                cls.name,
                time_limit=left,
                seed=seed,
                progress=progress,
                # the local search already ran: bab's own incumbent search would repeat it
                options=(
                    {"primal": False, **({"max_nodes": NEAR_MISS_NODES} if is_probe else {})}
                    if cls.name == "bab" and primal is not None
                    else None
                ),
                trust_solver=trust,
            )
        except UnsupportedError as exc:  # e.g. sat: values too many to encode
            refused.append(f"{cls.name}: {exc}")
            continue
        sol.stats.setdefault("auto", why)
        if primal is not None:
            sol.stats["auto_primal"] = primal
        if refused:
            sol.stats["auto_refused"] = list(refused)
        gated = bool(sol.stats.get("uncertified_no") or sol.stats.get("numerics_refused"))
        # an unknown (a time-out within a floating-point backend's share, a refusal of
        # the model) does not end the search either: the next candidate gets the time left
        if gated or sol.status is Status.UNKNOWN:
            tag = " (near-miss probe)" if is_probe else ""
            uncertified.append(f"{cls.name}{tag}: {sol.reason}")
            if held is None and not is_probe:
                held = sol
            continue
        if uncertified:
            sol.stats["auto_uncertified"] = uncertified
        return sol
    if held is not None:
        held.stats["auto_uncertified"] = uncertified
        if len(uncertified) > 1:
            others = ", ".join(r.split(":")[0] for r in uncertified[1:])
            held.reason = f"{held.reason} (auto also tried: {others}; stats.auto_uncertified)"
        held.seconds = clock.elapsed()
        return held
    raise UnsupportedError("every applicable backend refused: " + "; ".join(refused))


__all__ = [
    "BASES",
    "BASIS_CHECKED",
    "BASIS_EXACT",
    "BASIS_FLOAT",
    "ENUMERATE_UP_TO",
    "FLOAT_SHARE",
    "PORTFOLIO",
    "REGISTRY",
    "TRUSTED",
    "Backend",
    "Capabilities",
    "Presolve",
    "_candidates",
    "_load_builtin_backends",
    "_module_found",
    "candidate_backends",
    "choose_backend",
    "gate_no",
    "get_backend",
    "register",
    "solve",
    "uncertified_no",
]
