"""Reductions by the name stored in problem.json, with what ``geninv extract`` needs.

For each reduction name: how to map an inversion witness back (from the
``inverse_data`` stored with the instance), how to load the source copy kept in
the instance directory, and how to check and print the source solution in the
source's own convention.  Names ending in ``+lift`` are the base reduction
followed by the binary-to-real lifting (Theorems 4 and 6, real vertex cover).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from geninv.errors import UnsupportedError
from geninv.io.dimacs import CNF, format_assignment, read_cnf
from geninv.problem import InversionProblem, Solution, Status, norm_label
from geninv.reductions.base import InverseData
from geninv.reductions.lifting import BinaryToReal
from geninv.reductions.sat import SatReduction


@dataclass(frozen=True)
class SourceCheck:
    """A source solution checked in the source: ``ok``, ``message`` (one line: what was checked
    and how it went) and ``solution_text`` (the solution in the source's convention)."""

    ok: bool
    message: str  # one human line: what was checked and how it went
    solution_text: str  # the solution in the source's convention


@dataclass(frozen=True)
class ReductionEntry:
    """What ``geninv extract`` needs for one reduction name: ``invert`` (witness and inverse data
    to a source solution, None when there is none), ``load_source`` (the source copy kept in
    the instance folder) and ``check`` (the source solution checked in the source)."""

    #: inversion solution + inverse data -> source solution (None when there is none)
    invert: Callable[[Solution, InverseData], Any]
    load_source: Callable[[Path], Any]
    #: (source, source solution, the instance's problem) -> check
    check: Callable[[Any, Any, InversionProblem], SourceCheck]


def _check_sat(cnf: CNF, assignment: list[bool] | None, _: InversionProblem) -> SourceCheck:
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


def _sat_invert(solution: Solution, inv: InverseData) -> list[bool] | None:
    if solution.status is not Status.YES or solution.z is None:
        return None
    return SatReduction.decode(solution.z, inv)


def _load_cvp(path: Path) -> Any:
    from geninv.io.lattice import read_cvp_json

    return read_cvp_json(path)


def _cvp_invert(solution: Solution, inv: InverseData) -> list[int] | None:
    from geninv.reductions.cvp import CVPReduction

    if solution.status is not Status.YES or solution.z is None:
        return None
    return CVPReduction.decode(solution.z, inv)


def _check_cvp(inst: Any, y: list[int] | None, problem: InversionProblem) -> SourceCheck:
    from geninv.reductions.cvp import cvp_distance_check

    if y is None:
        return SourceCheck(False, "no coefficient vector: the witness is not a yes-solution", "")
    params = problem.source.parameters
    p = math.inf if params.get("p") == "inf" else float(params["p"])
    relation = params.get("relation", "<=")
    meets, dist = cvp_distance_check(inst, y, p, relation)
    r = params.get("radius") or f"({params.get('radius_pow')})^(1/{norm_label(p)})"
    verdict = "within" if meets else "NOT within"
    text = "y = " + " ".join(str(v) for v in y)
    return SourceCheck(
        meets, f"||B y - t||_{norm_label(p)} = {dist:.12g}, {verdict} radius {r} ({relation})", text
    )


def _load_graph(path: Path) -> Any:
    from geninv.io.graphs import read_graph

    return read_graph(path)


def _set_invert(solution: Solution, inv: InverseData) -> list[int] | None:
    if solution.status is not Status.YES or solution.z is None:
        return None
    return [i for i, v in enumerate(solution.z) if Fraction(v) >= Fraction(1, 2)]


def _check_clique(graph: Any, clique: list[int] | None, problem: InversionProblem) -> SourceCheck:
    if clique is None:
        return SourceCheck(False, "no vertex set: the witness is not a yes-solution", "")
    params = problem.source.parameters
    k = int(params["k"])
    bound = Fraction(params["max_weight"])
    relation = params.get("relation", "<=")
    text = "clique: " + " ".join(str(v + 1) for v in clique)
    if not graph.is_clique(clique):
        return SourceCheck(False, f"the {len(clique)} vertices are not a clique", text)
    if len(clique) != k:
        return SourceCheck(False, f"clique has {len(clique)} vertices, expected k = {k}", text)
    weight = graph.clique_weight(clique)
    ok = weight <= bound if relation == "<=" else weight < bound
    verdict = "meets" if ok else "violates"
    return SourceCheck(
        ok, f"a {k}-clique of weight {weight}, which {verdict} weight {relation} {bound}", text
    )


def _vc_invert(solution: Solution, inv: InverseData) -> list[int] | None:
    if solution.status is not Status.YES or solution.z is None:
        return None
    return [i for i, v in enumerate(solution.z) if Fraction(v) < Fraction(1, 2)]


def _check_vc(graph: Any, cover: list[int] | None, problem: InversionProblem) -> SourceCheck:
    if cover is None:
        return SourceCheck(False, "no vertex set: the witness is not a yes-solution", "")
    q = int(problem.source.parameters["q"])
    text = "cover: " + " ".join(str(v + 1) for v in cover)
    if not graph.is_vertex_cover(cover):
        return SourceCheck(False, "the vertex set leaves an edge uncovered", text)
    ok = len(cover) <= q
    return SourceCheck(
        ok, f"a vertex cover of size {len(cover)} ({'<=' if ok else '>'} q = {q})", text
    )


def _lift_invert(solution: Solution, inv: InverseData) -> Solution:
    return BinaryToReal().invert(solution, inv)


def _load_instance(path: Path) -> Any:
    from geninv.io.instance import load_instance

    return load_instance(path)


def _check_binary(binary: InversionProblem, sol: Solution, _: InversionProblem) -> SourceCheck:
    if sol.status is not Status.YES or sol.z is None:
        return SourceCheck(False, "no binary point: the witness is not a yes-solution", "")
    chk = binary.exact_check(sol.z)
    text = "binary z = " + " ".join(str(int(v)) for v in sol.z)
    verdict = "meets" if chk.meets else "does not meet"
    return SourceCheck(
        chk.meets, f"the binary instance's witness {verdict} its threshold ({chk.method})", text
    )


BASE: dict[str, ReductionEntry] = {
    "sat-thm1": ReductionEntry(_sat_invert, read_cnf, _check_sat),
    "sat-thm2": ReductionEntry(_sat_invert, read_cnf, _check_sat),
    "cvp-thm3": ReductionEntry(_cvp_invert, _load_cvp, _check_cvp),
    "clique-thm5": ReductionEntry(_set_invert, _load_graph, _check_clique),
    "vc-sec53": ReductionEntry(_vc_invert, _load_graph, _check_vc),
    "lift": ReductionEntry(_lift_invert, _load_instance, _check_binary),
}


def _chained(base: ReductionEntry) -> ReductionEntry:
    def invert(solution: Solution, inv: InverseData) -> Any:
        steps = inv["steps"]
        binary = BinaryToReal().invert(solution, steps[1])
        return base.invert(binary, steps[0])

    return ReductionEntry(invert, base.load_source, base.check)


def get_reduction(name: str | None) -> ReductionEntry:
    """The entry for a reduction name from ``problem.json`` (``NAME+lift`` chains the lifting);
    raises :class:`~geninv.errors.UnsupportedError` for None (no source) or an unknown name."""
    if name is None:
        raise UnsupportedError(
            "this instance was not made by a geninv reduction, so there is no source to map back to"
        )
    if name.endswith("+lift") and name.removesuffix("+lift") in BASE:
        return _chained(BASE[name.removesuffix("+lift")])
    if name not in BASE:
        known = sorted([*BASE, *(f"{k}+lift" for k in BASE if k != "lift")])
        raise UnsupportedError(
            f"unknown reduction {name!r} in problem.json; known: {', '.join(known)}"
        )
    return BASE[name]
