"""What the corner presolve found (the binary substitution), and the box it works on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from geninv.network import integer_values
from geninv.problem import InversionProblem
from geninv.solvers.corners.pl import _Units


@dataclass
class CornerPresolve:
    """The outcome of :func:`corner_presolve`."""

    infeasible: dict[str, Any] | None = None  # a proof that no witness exists
    binary: InversionProblem | None = None  # the equivalent binary problem
    low: list[Fraction] = field(default_factory=list)  # z_i = low_i + (high_i - low_i) b_i
    high: list[Fraction] = field(default_factory=list)
    forcing: list[dict[str, Any]] = field(default_factory=list)
    dropped_outputs: list[int] = field(default_factory=list)
    pruned_units: int = 0
    folded_layers: int = 0  # leading layers folded away on {0,1}^n (fold_discrete_prefix)
    seconds: float = 0.0
    # univariate_units' (support, funcs, consts) of layers 0 .. L-2 (L layers)
    units: list[_Units] = field(default_factory=list, repr=False, compare=False)
    fixed: int | None = field(default=None, repr=False, compare=False)  # low_i == high_i count

    def lift(self, b: Sequence[Fraction]) -> list[Fraction]:
        """The latent z of a binary point b: ``low + (high - low) b`` (at b = 0 and 1 the
        end points themselves, without Fraction arithmetic)."""
        ints = integer_values(b)  # shared small Fractions: no Fraction comparisons
        if ints is not None and all(v in (0, 1) for v in ints):
            return [hi if v else lo for lo, hi, v in zip(self.low, self.high, ints, strict=True)]
        return [
            lo if v == 0 else hi if v == 1 else lo + (hi - lo) * Fraction(v)
            for lo, hi, v in zip(self.low, self.high, b, strict=True)
        ]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: forcing and dropped outputs, pruned units, folded layers, fixed
        coordinates and seconds."""
        return {
            "forcing_outputs": [f["output"] for f in self.forcing],
            "dropped_outputs": self.dropped_outputs,
            "pruned_units": self.pruned_units,
            "folded_layers": self.folded_layers,
            "fixed_coordinates": (
                self.fixed
                if self.fixed is not None
                else sum(1 for a, b in zip(self.low, self.high, strict=True) if a == b)
            ),
            "seconds": round(self.seconds, 6),
        }


def _value(consts: list[Fraction | None], k: int) -> Fraction:
    v = consts[k]
    assert v is not None, "a unit marked constant has a value"
    return v


def _box(problem: InversionProblem) -> tuple[list[Fraction], list[Fraction]] | None:
    kind = problem.domain.kind
    if kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        return list(problem.domain.lower), list(problem.domain.upper)
    if kind == "real" and problem.input_box is not None:
        return list(problem.input_box[0]), list(problem.input_box[1])
    return None
