"""One interface for every solver backend, and one registry.

A backend declares what it accepts (latent domains, norms, exact and/or
approximate inversion) and which Python modules it needs.  Availability is
checked with :func:`importlib.util.find_spec`, so listing backends never
imports a heavy dependency.  Every backend returns a :class:`Solution` whose
status is one of ``yes``/``no``/``unknown``; :func:`solve` re-checks every
``yes`` in exact arithmetic before handing it out.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from geninv.errors import BackendUnavailableError, UnsupportedError, ValidationError
from geninv.problem import InversionProblem, Solution, certify


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
    l_inf thresholds (then HiGHS), MIQP for integer p >= 2.
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
        if problem.is_exact_inversion:
            ranked.append(("milp", f"{kind} latents, exact inversion: big-M MILP (HiGHS)"))
        ranked.append(
            (
                "milp-scip",
                f"{kind} latents with an l_1 / l_inf threshold: big-M MILP on SCIP, two "
                "cutting-plane settings raced (faster than HiGHS on near-boundary instances)",
            )
        )
        ranked.append(("milp", f"{kind} latents need a continuous method: big-M MILP (HiGHS)"))
        ranked.append(("miqp", f"{kind} latents with an l_p threshold, p >= 2: MIQP (SCIP)"))
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


def solve(
    problem: InversionProblem,
    method: str = "auto",
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    options: dict[str, Any] | None = None,
) -> Solution:
    """Solve with the named backend (or ``auto``); re-check ``yes`` answers exactly.

    ``options`` are passed to the backend's constructor (e.g. ``{"mode": "optimize"}``
    for ``enumerate``).
    """
    if method == "auto":
        refused: list[str] = []
        for cls, why in _candidates(problem):
            try:
                sol = solve(problem, cls.name, time_limit=time_limit, seed=seed, progress=progress)
            except UnsupportedError as exc:  # e.g. sat: values too many to encode
                refused.append(f"{cls.name}: {exc}")
                continue
            sol.stats.setdefault("auto", why)
            if refused:
                sol.stats["auto_refused"] = refused
            return sol
        raise UnsupportedError("every applicable backend refused: " + "; ".join(refused))
    cls = get_backend(method)
    reason = cls.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    start = time.perf_counter()
    try:
        backend = cls(**(options or {}))
    except TypeError as exc:
        raise ValidationError(f"method {cls.name!r} does not take these options: {exc}") from None
    sol = backend.solve(problem, time_limit=time_limit, seed=seed, progress=progress)
    sol.seconds = time.perf_counter() - start
    return certify(problem, sol)


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
    import geninv.solvers.sat  # noqa: F401

    _LOADED.append(True)
