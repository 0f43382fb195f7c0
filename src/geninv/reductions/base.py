"""Reductions as objects, composable in a chain (after cvxpy's Reduction/Chain).

A reduction maps a *source* instance (a CNF formula, a CVP instance, a graph,
or another inversion problem) to an :class:`~geninv.problem.InversionProblem`
and returns ``inverse_data``: a JSON-serialisable dict that lets
:meth:`Reduction.invert` map a solution of the inversion problem back to a
solution of the source.  Because ``inverse_data`` is plain JSON, it is stored
in the instance directory's ``problem.json`` and ``geninv extract`` can map
witnesses back long after the reduction ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from geninv.problem import InversionProblem, Solution

S = TypeVar("S")  # source instance type
R = TypeVar("R")  # source solution type

InverseData = dict[str, Any]


class Reduction(ABC, Generic[S, R]):
    """A many-one reduction from a source problem to generative-model inversion."""

    #: short machine name, stored in problem.json's source block
    name: str = ""
    #: the paper's theorem this implements
    theorem: str = ""

    @abstractmethod
    def apply(self, source: S) -> tuple[InversionProblem, InverseData]:
        """Build the inversion problem and the data needed to map solutions back."""

    @abstractmethod
    def invert(self, solution: Solution, inverse_data: InverseData) -> R:
        """Map a solution of the inversion problem to a solution of the source."""


class Chain(Reduction[Any, Any]):
    """Apply reductions in order; invert in reverse order.

    Every reduction after the first must take an :class:`InversionProblem` as
    its source and return a :class:`Solution` from ``invert`` (e.g. the
    binary-to-real lifting).
    """

    def __init__(self, reductions: list[Reduction[Any, Any]]) -> None:
        if not reductions:
            raise ValueError("a chain needs at least one reduction")
        self.reductions = list(reductions)
        self.name = "+".join(r.name for r in self.reductions)
        self.theorem = " then ".join(r.theorem for r in self.reductions if r.theorem)

    def apply(self, source: Any) -> tuple[InversionProblem, InverseData]:
        data: list[InverseData] = []
        current: Any = source
        for red in self.reductions:
            current, inv = red.apply(current)
            data.append(inv)
        assert isinstance(current, InversionProblem)
        return current, {"chain": [r.name for r in self.reductions], "steps": data}

    def invert(self, solution: Solution, inverse_data: InverseData) -> Any:
        result: Any = solution
        for red, inv in zip(
            reversed(self.reductions), reversed(inverse_data["steps"]), strict=True
        ):
            result = red.invert(result, inv)
        return result
