"""One interface for every solver backend, and one registry.

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
import importlib.util
import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from geninv.errors import BackendUnavailableError, UnsupportedError, ValidationError
from geninv.problem import InversionProblem, Solution, Status, certify


@dataclass(frozen=True)
class Capabilities:
    """What a backend accepts."""

    domains: frozenset[str]
    exact: bool = True  # delta = 0
    approximate: bool = True  # delta > 0
    norms: str = "any"  # "any", or a comma list such as "1,inf"
    complete: bool = True  # can prove 'no'
    activations: frozenset[str] = frozenset({"relu", "identity"})  # layer activations encoded


class Backend(ABC):
    """A solver.  Subclasses set the class attributes and implement :meth:`solve`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    modules: ClassVar[tuple[str, ...]] = ()
    #: What this backend's ``no`` rests on (:data:`BASES`); :func:`solve` writes it
    #: into a ``no``'s proof unless the backend set ``proof["basis"]`` itself.
    #: None: the backend does not say, and its ``no`` is gated like a float solver's.
    no_basis: ClassVar[str | None] = None

    @classmethod
    def missing_modules(cls) -> list[str]:
        return [m for m in cls.modules if not _module_found(m)]

    @classmethod
    def available(cls) -> bool:
        return not cls.missing_modules()

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why this backend cannot take ``problem``, or None if it can."""
        caps = cls.capabilities
        outside = problem.network.first_layer_outside(caps.activations)
        if outside is not None:
            return (
                f"backend {cls.name!r} cannot encode {outside}; it handles "
                f"{', '.join(sorted(caps.activations))} layers (try an approximate backend)"
            )
        if problem.domain.kind not in caps.domains:
            return (
                f"backend {cls.name!r} handles domains {', '.join(sorted(caps.domains))}, "
                f"not {problem.domain.kind!r}"
            )
        if problem.is_exact_inversion and not caps.exact:
            return f"backend {cls.name!r} does not do exact inversion"
        if not problem.is_exact_inversion and not caps.approximate:
            return f"backend {cls.name!r} does not do approximate inversion"
        if caps.norms != "any" and not problem.is_exact_inversion:
            allowed = {s.strip() for s in caps.norms.split(",")}
            label = (
                "inf"
                if math.isinf(problem.p)
                else (str(int(problem.p)) if problem.p.is_integer() else repr(problem.p))
            )
            if label not in allowed:
                return f"backend {cls.name!r} handles norms {caps.norms}, not p={label}"
        return None

    @abstractmethod
    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Decide the problem.  Must return ``unknown`` (never ``no``) when it gives up."""


REGISTRY: dict[str, type[Backend]] = {}

#: find_spec answers for modules found installed (a lookup on disk costs about a
#: millisecond, and ``auto`` asks for every backend on every solve); a module not
#: found is looked up again next time, so installing one mid-session is noticed.
_FOUND: set[str] = set()


def _module_found(name: str) -> bool:
    """Whether ``name`` is importable, without importing it."""
    if name in _FOUND or sys.modules.get(name) is not None:
        return True
    if importlib.util.find_spec(name) is None:
        return False
    _FOUND.add(name)
    return True


def register(cls: type[Backend]) -> type[Backend]:
    """Class decorator adding a backend to :data:`REGISTRY`."""
    if cls.name in REGISTRY:
        raise ValueError(f"backend {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get_backend(name: str) -> type[Backend]:
    _load_builtin_backends()
    if name not in REGISTRY:
        raise UnsupportedError(
            f"unknown method {name!r}; available: {', '.join(['auto', *sorted(REGISTRY)])}"
        )
    cls = REGISTRY[name]
    missing = cls.missing_modules()
    if missing:
        raise BackendUnavailableError(
            f"method {name!r} needs the Python module(s) {', '.join(missing)}; "
            f"install them (pip install {' '.join(missing)}) or choose another --method"
        )
    return cls


#: At or below this latent size, exhaustive enumeration of a discrete domain is the
#: fastest complete method in practice (2^22 corners take seconds).
ENUMERATE_UP_TO = 22


def candidate_backends(problem: InversionProblem) -> list[tuple[type[Backend], str]]:
    """The complete backends that accept ``problem``, best first, each with the reason.

    Discrete latents: the SAT backend first when the problem has its vectorised
    clause form (:func:`geninv.solvers.sat.clause_form`: the CNF is one clause per
    first-layer unit, e.g. every Theorem 1 network), otherwise enumeration up to
    ``ENUMERATE_UP_TO`` coordinates, then
    the SAT compilation (integer-valued networks), then MILP, then enumeration
    as the last resort.  Real and box latents: the corner presolve for exact
    inversion, then MILP (HiGHS) for exact inversion, MILP on SCIP for l_1 /
    l_inf thresholds (then HiGHS), MIQP for integer p >= 2; the certified branch
    and bound ``bab`` right after the first floating-point backend of each case, so
    that a gated floating-point ``no`` (see :func:`gate_no`) is certified next.
    """
    return list(_candidates(problem))


def _candidates(problem: InversionProblem) -> Iterator[tuple[type[Backend], str]]:
    """:func:`candidate_backends` one at a time: a backend is checked (installed,
    accepts the problem) only when the ones ranked before it have been taken, so
    ``auto`` usually checks one.  Raises :class:`UnsupportedError` when there is none."""
    _load_builtin_backends()
    reasons: dict[str, str] = {}
    checked: dict[str, bool] = {}

    def usable(name: str) -> bool:
        ok = checked.get(name)
        if ok is None:
            cls = REGISTRY.get(name)
            why: str | None = None
            if cls is None or not cls.capabilities.complete:
                ok = False
            elif not cls.available():
                why = f"needs {', '.join(cls.missing_modules())}"
            else:
                why = cls.unsupported_reason(problem)
            if ok is None:
                ok = why is None
            if why is not None:
                reasons[name] = why
            checked[name] = ok
        return ok

    n = problem.n
    kind = problem.domain.kind
    ranked: list[tuple[str, str]] = []
    if kind in ("binary", "sign"):
        from geninv.solvers.sat import clause_form  # numpy only, no pysat import

        if usable("sat") and clause_form(problem) is not None:
            ranked.append(
                (
                    "sat",
                    f"{kind} latents, n = {n}: a two-layer network of corner-indicator units, "
                    "whose CNF is one clause per unit (the sat backend's clause form)",
                )
            )
        if n <= ENUMERATE_UP_TO:
            ranked.append(
                (
                    "enumerate",
                    f"{kind} latents, n = {n} <= {ENUMERATE_UP_TO}, "
                    f"so all 2^{n} corners are enumerated exhaustively",
                )
            )
        ranked += [
            ("sat", f"{kind} latents, n = {n}: the network compiles to CNF for a CDCL solver"),
            ("milp", f"{kind} latents, n = {n}: big-M mixed-integer program (HiGHS)"),
            ("enumerate", f"{kind} latents, n = {n}: no faster complete backend applies"),
        ]
    else:
        if problem.is_exact_inversion:
            ranked.append(
                (
                    "corners",
                    "exact inversion over a box: if the target forces every latent onto two "
                    "values, the problem is binary (corner presolve)",
                )
            )
        bab = (
            "bab",
            f"{kind} latents: branch and bound whose every 'no' carries a proof checked in "
            "exact rationals (certifies what a floating-point solver can only claim)",
        )
        if problem.is_exact_inversion:
            ranked.append(("milp", f"{kind} latents, exact inversion: big-M MILP (HiGHS)"))
            ranked.append(bab)
        ranked.append(
            (
                "milp-scip",
                f"{kind} latents with an l_1 / l_inf threshold: big-M MILP on SCIP, two "
                "cutting-plane settings raced (faster than HiGHS on near-boundary instances)",
            )
        )
        if math.isinf(problem.p) or problem.p == 1:
            ranked.append(bab)
        ranked.append(("milp", f"{kind} latents need a continuous method: big-M MILP (HiGHS)"))
        ranked.append(("miqp", f"{kind} latents with an l_p threshold, p >= 2: MIQP (SCIP)"))
        ranked.append(bab)
    ranked += [(name, "the remaining complete backends") for name in sorted(REGISTRY)]
    seen: set[str] = set()
    for name, why in ranked:
        if name not in seen and usable(name):
            seen.add(name)
            yield REGISTRY[name], f"{name}: {why}"
    if not seen:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
        raise UnsupportedError(f"no installed backend can decide {problem.describe()} ({detail})")


def choose_backend(problem: InversionProblem) -> tuple[type[Backend], str]:
    """The first of :func:`candidate_backends`."""
    return candidate_backends(problem)[0]


#: Share of the time left that ``auto`` gives a floating-point backend when its ``no``
#: would be gated (no ``trust_solver``): the rest is kept for a certifying backend.
FLOAT_SHARE = 0.5

#: What a ``no`` can rest on (``proof["basis"]``).
BASIS_EXACT = "exact"
BASIS_CHECKED = "checked certificate"
BASIS_FLOAT = "floating-point solver"
BASES: tuple[str, ...] = (BASIS_EXACT, BASIS_CHECKED, BASIS_FLOAT)
#: ``proof["trusted"]`` of a floating-point ``no`` accepted with ``trust_solver``.
TRUSTED = "not checked: accepted because of --trust-solver"

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
            start = time.perf_counter()
            try:
                return _solve_auto(problem, time_limit, seed, progress, trust)
            except UnsupportedError:  # no complete backend: the approximate portfolio
                from geninv.solvers.portfolio import run_portfolio

                left = None if time_limit is None else time_limit - (time.perf_counter() - start)
                sol = run_portfolio(problem, left, seed, progress)
                if sol is None:
                    raise
                sol.seconds = time.perf_counter() - start
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
    start = time.perf_counter()
    try:
        backend = cls(**(options or {}))
    except TypeError as exc:
        raise ValidationError(f"method {cls.name!r} does not take these options: {exc}") from None
    from geninv.solvers.native import NativeCrash

    try:
        sol = backend.solve(problem, time_limit=time_limit, seed=seed, progress=progress)
    except NativeCrash as exc:  # a native solver failed or died: no answer, say why
        sol = Solution(Status.UNKNOWN, cls.name, reason=f"native solver failure: {exc}")
    sol.seconds = time.perf_counter() - start
    if sol.status is Status.NO and sol.proof is not None and cls.no_basis is not None:
        sol.proof.setdefault("basis", cls.no_basis)
    return gate_no(certify(problem, sol), trust)


def _solve_auto(
    problem: InversionProblem,
    time_limit: float | None,
    seed: int | None,
    progress: bool,
    trust: bool,
) -> Solution:
    start = time.perf_counter()
    # the primal side first (real/box latents with a threshold): a witness that a
    # cheap local search finds must not wait for branch and bound
    from geninv.solvers.primal import auto_first

    early, primal = auto_first(problem, time_limit, seed)
    if early is not None:
        early.seconds = time.perf_counter() - start
        early.stats["auto"] = "primal: the local search found a witness first"
        return certify(problem, early)
    refused: list[str] = []
    uncertified: list[str] = []  # candidates whose 'no' was gated, or who refused the model
    held: Solution | None = None  # the first of them: the answer if nothing better comes
    for cls, why in _candidates(problem):
        left = None if time_limit is None else time_limit - (time.perf_counter() - start)
        if left is not None and not trust and cls.no_basis == BASIS_FLOAT:
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
                problem, cls.name, time_limit=left, seed=seed, progress=progress, trust_solver=trust
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
            uncertified.append(f"{cls.name}: {sol.reason}")
            if held is None:
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
        held.seconds = time.perf_counter() - start
        return held
    raise UnsupportedError("every applicable backend refused: " + "; ".join(refused))


_LOADED: list[bool] = []


def _load_builtin_backends() -> None:
    """Import the built-in backend modules; importing one registers its backends.

    None of them imports its heavy dependency (torch, highspy, pysat) at import time.
    """
    if _LOADED:
        return
    import geninv.solvers.approx  # adam, pgd, admm, langevin, flipgd
    import geninv.solvers.bab.backend
    import geninv.solvers.corners
    import geninv.solvers.enumerate
    import geninv.solvers.layerwise
    import geninv.solvers.milp
    import geninv.solvers.miqp
    import geninv.solvers.primal
    import geninv.solvers.sat  # noqa: F401

    _LOADED.append(True)
