"""What every solver backend is: its declared capabilities, its ``solve``, and what
its *no* rests on.

This module is the bottom of :mod:`geninv.solvers`: backends import it, and nothing
else from the solver layer (the registry, :mod:`geninv.solvers.registry`, names them;
the driver, :func:`geninv.solvers.base.solve`, runs them).

A backend declares what it accepts (latent domains, norms, exact and/or approximate
inversion, the layer activations it encodes) and which Python modules it needs;
availability is checked with :func:`importlib.util.find_spec`, so listing backends
never imports a heavy dependency.  A backend is encode -> run -> decode inside its
``solve``; a :class:`Presolve` is a reduction instead (``apply`` / ``invert``), chained
by the driver in front of the method that decides what it leaves.

What a *no* rests on (``proof["basis"]``): :data:`BASIS_EXACT` (an argument in exact
or rigorously error-bounded arithmetic), :data:`BASIS_CHECKED` (a certificate geninv
checked itself: a DRUP refutation, a branch-and-bound tree with multipliers) or
:data:`BASIS_FLOAT` (a floating-point solver's word, gated by the driver).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from geninv.problem import InversionProblem, Solution

# What a ``no`` can rest on (``proof["basis"]``): defined with the proof, re-exported.
from geninv.proof import BASES as BASES
from geninv.proof import BASIS_CHECKED as BASIS_CHECKED
from geninv.proof import BASIS_EXACT as BASIS_EXACT
from geninv.proof import BASIS_FLOAT as BASIS_FLOAT
from geninv.proof import TRUSTED as TRUSTED

#: What a complete backend is asked: decide the threshold, or find the minimum distance.
Mode = Literal["decide", "optimize"]
MODES: tuple[str, ...] = ("decide", "optimize")


@dataclass(frozen=True)
class Capabilities:
    """What a backend accepts."""

    domains: frozenset[str]
    exact: bool = True  # delta = 0
    approximate: bool = True  # delta > 0
    norms: str = "any"  # "any", or a comma list such as "1,inf"
    complete: bool = True  # can prove 'no'
    activations: frozenset[str] = frozenset({"relu", "identity"})  # layer activations encoded


def capability_reason(name: str, caps: Capabilities, problem: InversionProblem) -> str | None:
    """Why a backend called ``name`` with capabilities ``caps`` cannot take ``problem``
    (None if it can): activations, domain, exact/approximate, norm."""
    outside = problem.network.first_layer_outside(caps.activations)
    if outside is not None:
        return (
            f"backend {name!r} cannot encode {outside}; it handles "
            f"{', '.join(sorted(caps.activations))} layers (try an approximate backend)"
        )
    if caps.complete:
        too_big = problem.network.dense_refusal()  # a large convolutional layer
        if too_big is not None:
            return f"backend {name!r} cannot encode the network: {too_big}"
    if problem.domain.kind not in caps.domains:
        return (
            f"backend {name!r} handles domains {', '.join(sorted(caps.domains))}, "
            f"not {problem.domain.kind!r}"
        )
    if problem.is_exact_inversion and not caps.exact:
        return f"backend {name!r} does not do exact inversion"
    if not problem.is_exact_inversion and not caps.approximate:
        return f"backend {name!r} does not do approximate inversion"
    if caps.norms != "any" and not problem.is_exact_inversion:
        allowed = {s.strip() for s in caps.norms.split(",")}
        label = (
            "inf"
            if math.isinf(problem.p)
            else (str(int(problem.p)) if problem.p.is_integer() else repr(problem.p))
        )
        if label not in allowed:
            return f"backend {name!r} handles norms {caps.norms}, not p={label}"
    return None


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
        """The modules in :attr:`modules` that are not installed (found without importing them)."""
        return [m for m in cls.modules if not _module_found(m)]

    @classmethod
    def available(cls) -> bool:
        """True when every module in :attr:`modules` is installed."""
        return not cls.missing_modules()

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why this backend cannot take ``problem``, or None if it can."""
        return capability_reason(cls.name, cls.capabilities, problem)

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


class Presolve(Backend):
    """A backend that is a reduction: :meth:`apply` either decides the problem itself
    (a :class:`Solution`) or returns a smaller problem and the data to map its answer
    back; the driver (:func:`geninv.solvers.base.solve`) decides that problem with
    :attr:`method` and calls :meth:`invert`.  A presolve never calls ``solve`` itself."""

    #: The method that decides the reduced problem (``auto`` by default).
    method: str = "auto"

    @abstractmethod
    def apply(
        self, problem: InversionProblem, *, time_limit: float | None = None
    ) -> Solution | tuple[InversionProblem, Any]:
        """Decide ``problem`` outright, or reduce it: ``(reduced problem, inverse data)``."""

    @abstractmethod
    def invert(self, problem: InversionProblem, sub: Solution, data: Any) -> Solution:
        """The answer to ``problem`` from the reduced problem's answer ``sub``."""

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Always raises TypeError: a presolve is run by :func:`geninv.solvers.base.solve`
        (``apply``, the reduced problem's method, ``invert``)."""
        raise TypeError(
            f"{self.name!r} is a presolve: run it through geninv.solvers.base.solve, "
            "which chains apply, the reduced problem's method and invert"
        )


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
