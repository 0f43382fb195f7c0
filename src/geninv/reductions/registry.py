"""Reductions by the name stored in problem.json, with what ``geninv extract`` needs.

For each reduction name: how to rebuild the reduction object, how to load the
source copy kept in the instance directory, and how to check and print a
source solution in the source's own convention.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geninv.errors import UnsupportedError
from geninv.io.dimacs import CNF, format_assignment, read_cnf
from geninv.reductions.base import Reduction
from geninv.reductions.sat import SatReduction


@dataclass(frozen=True)
class SourceCheck:
    ok: bool
    message: str  # one human line: what was checked and how it went
    solution_text: str  # the solution in the source's convention


@dataclass(frozen=True)
class ReductionEntry:
    make: Callable[[], Reduction[Any, Any]]
    load_source: Callable[[Path], Any]
    check: Callable[[Any, Any], SourceCheck]


def _check_sat(cnf: CNF, assignment: list[bool] | None) -> SourceCheck:
    if assignment is None:
        return SourceCheck(False, "no assignment: the witness is not a yes-solution", "")
    bad = cnf.falsified_clauses(assignment)
    line = format_assignment(assignment)
    if bad:
        shown = ", ".join(str(j + 1) for j in bad[:10])
        more = "" if len(bad) <= 10 else f" and {len(bad) - 10} more"
        return SourceCheck(
            False,
            f"assignment falsifies {len(bad)} of {cnf.n_clauses} clauses (clause {shown}{more})",
            line,
        )
    return SourceCheck(True, f"assignment satisfies all {cnf.n_clauses} clauses", line)


REDUCTIONS: dict[str, ReductionEntry] = {
    "sat-thm1": ReductionEntry(lambda: SatReduction("sign"), read_cnf, _check_sat),
    "sat-thm2": ReductionEntry(lambda: SatReduction("real"), read_cnf, _check_sat),
}


def get_reduction(name: str | None) -> ReductionEntry:
    if name is None:
        raise UnsupportedError(
            "this instance was not made by a geninv reduction, so there is no source to map back to"
        )
    if name not in REDUCTIONS:
        raise UnsupportedError(
            f"unknown reduction {name!r} in problem.json; known: {', '.join(sorted(REDUCTIONS))}"
        )
    return REDUCTIONS[name]
