"""``geninv check`` and ``geninv extract``: an answer file, re-checked and mapped back.

An *answer file* is any JSON object with a ``"z"`` list (a witness), or the whole
output of ``geninv solve --json`` -- which may also be a *no* (``"z": null`` and a
``"proof"``) or an *unknown* without a point.  Exit statuses (docs/formats.md):

* ``check``: 0 iff the file's ``z`` meets the threshold, re-checked in exact
  rational arithmetic; 1 when it does not, or when the file holds no witness (a
  *no*, or an *unknown* without a point: what the *no* rests on is shown);
* ``extract``: 0 iff the witness maps back to a source solution that checks out in
  the source; 1 otherwise, and for a file without a witness (the *no*'s proof is
  shown, with what it means for the source: the reductions preserve the answer, so
  a *no* here is a *no* for the source);
* 2 for input that cannot be read (one line naming the file).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from geninv.errors import ParseError, ValidationError
from geninv.io.limits import check_count, check_float
from geninv.network import to_fraction
from geninv.problem import InversionProblem, Solution, Status, norm_label

EXIT_OK = 0
EXIT_FAIL = 1

#: What each ``proof["basis"]`` means, in words.
BASIS_WORDS = {
    "exact": "an exact argument (exact or rigorously error-bounded arithmetic)",
    "checked certificate": "a certificate geninv checked in exact arithmetic",
    "floating-point solver": "a floating-point solver's word, not checked exactly",
}


def exact_numbers(values: list[Any], what: str, path: str) -> list[Fraction]:
    """Exact values of a list read from ``path``; each must fit a float (named ``what[i]``)."""
    try:
        check_count(len(values), "vector", "the number of entries")
        return [
            check_float(to_fraction(v, f"{what}[{i}]"), f"{what}[{i}]")
            for i, v in enumerate(values)
        ]
    except ValidationError as exc:
        raise ParseError(str(exc), path) from None


@dataclass
class Answer:
    """What an answer file says: its witness (None for a *no*) and, if given, the rest."""

    path: str
    z: list[Fraction] | None
    status: str | None = None
    method: str | None = None
    proof: dict[str, Any] | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_answer(path: str) -> Answer:
    """Read a witness file or a ``solve --json`` output; malformed input is a ParseError."""
    from geninv.io.instance import read_json

    doc = read_json(path)
    if not isinstance(doc, dict) or ("z" not in doc and "status" not in doc):
        raise ParseError('expected a JSON object with a "z" list', path)
    status = doc.get("status")
    method = doc.get("method") if isinstance(doc.get("method"), str) else None
    proof = doc.get("proof") if isinstance(doc.get("proof"), dict) else None
    reason = doc.get("reason") if isinstance(doc.get("reason"), str) else None
    z = doc.get("z")
    if z is None and status in ("no", "unknown"):
        return Answer(path, None, status, method, proof, reason)
    if not isinstance(z, list):
        extra = f" (the solution's status is {status!r})" if status else ""
        shown = json.dumps(z)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ParseError(f'"z" is {shown}, expected a list of numbers{extra}', path)
    return Answer(path, exact_numbers(z, "z", path), status, method, proof, reason)


def check_length(problem: InversionProblem, z: Sequence[Any], path: str) -> None:
    """Raise :class:`~geninv.errors.ParseError` (naming ``path``) unless ``z`` has one entry per
    input of ``problem``."""
    if len(z) != problem.n:
        raise ParseError(f'"z" has {len(z)} entries, but the instance has {problem.n} inputs', path)


def threshold_text(problem: InversionProblem) -> str:
    """The question as text: ``G(z) = x`` for an exact inversion, else
    ``||G(z) - x||_p REL delta`` (delta as a float)."""
    if problem.is_exact_inversion:
        return "G(z) = x"
    return f"||G(z) - x||_{norm_label(problem.p)} {problem.relation} {problem.threshold_float():g}"


def no_witness_lines(
    answer: Answer, problem: InversionProblem, verb: str, directory: str = "DIR"
) -> list[str]:
    """What a file without a witness says: for a *no*, what the *no* rests on."""
    who = f" ({answer.method})" if answer.method else ""
    name = Path(answer.path).name
    if answer.status != "no":
        return [
            f"no witness to {verb}: {name} answers {answer.status!r}{who} with no point",
            f"reason: {answer.reason or 'not given'}",
        ]
    lines = [
        f"no witness to {verb}: {name} answers 'no'{who}: no z meets {threshold_text(problem)}"
    ]
    proof = answer.proof or {}
    kind = proof.get("kind", "not stated")
    basis = proof.get("basis")
    rests = BASIS_WORDS.get(str(basis), f"{basis!r}" if basis else "not stated")
    lines.append(f"proof: {kind}; it rests on {rests}")
    if "trusted" in proof:
        lines.append(f"trusted: {proof['trusted']}")
    proof_file = proof.get("proof_file") or proof.get("file")  # sat's key, bab's key
    if proof_file:
        lines.append(f"proof file: {proof_file}")
    if proof.get("cnf_file"):
        lines.append(f"its CNF: {proof['cnf_file']} (the proof is a DRUP refutation of it)")
    if proof_file and "branch and bound" in str(kind):
        lines.append(f"check it with: geninv check-proof {directory} {proof_file}")
    skip = ("kind", "basis", "trusted", "proof_file", "cnf_file", "file")
    shown = {k: v for k, v in proof.items() if k not in skip and v is not None}
    if shown:
        lines.append(f"proof details: {json.dumps(shown)}")
    return lines


def check_answer(
    problem: InversionProblem, answer: Answer, out: Callable[[str], None], directory: str = "DIR"
) -> int:
    """``geninv check``: re-check the answer's witness exactly (exit codes: module doc)."""
    if answer.z is None:
        for line in no_witness_lines(answer, problem, "check", directory):
            out(line)
        return EXIT_FAIL
    check_length(problem, answer.z, answer.path)
    chk = problem.exact_check(answer.z)
    verdict = "meets" if chk.meets else "does not meet"
    out(f"distance: {chk.distance!r} ({chk.method})")
    if not chk.in_domain:
        out(f"z is not in the {problem.domain.kind} domain: {chk.reason}")
    elif not chk.decided:  # out of reach of exact arithmetic: not accepted, never guessed
        verdict = "undecided against"
        out(f"the comparison with the threshold is {chk.reason}")
    out(f"{verdict} the threshold: {threshold_text(problem)}")
    return EXIT_OK if chk.meets else EXIT_FAIL


def extract_answer(
    directory: str, problem: InversionProblem, answer: Answer, out: Callable[[str], None]
) -> int:
    """``geninv extract``: map the answer back to the source and check it there."""
    from geninv.reductions.registry import get_reduction

    entry = get_reduction(problem.source.reduction)
    problem_json = str(Path(directory) / "problem.json")
    if answer.z is None:
        for line in no_witness_lines(answer, problem, "map back", directory):
            out(line)
        if answer.status == "no":
            source = problem.source.file or "the source"
            how = f"{problem.source.theorem}, " if problem.source.theorem else ""
            out(
                f"source: the reduction ({how}{problem.source.reduction}) preserves the answer, "
                f"so {source} has no solution either"
                + (
                    f" (expected from the source: {problem.source.expected})"
                    if problem.source.expected
                    else ""
                )
            )
        return EXIT_FAIL
    check_length(problem, answer.z, answer.path)
    chk = problem.exact_check(answer.z)
    out(
        f"inversion witness: {'meets' if chk.meets else 'does not meet'} "
        f"{threshold_text(problem)} (distance {chk.distance:g}, {chk.method})"
    )
    sol = Solution(Status.YES, "witness file", z=answer.z, check=chk)
    copy = problem.source.copy
    if not copy:
        raise ParseError("problem.json names no copy of the source", problem_json)
    source_obj = entry.load_source(Path(directory) / copy)
    try:
        mapped = entry.invert(sol, problem.inverse_data)
        result = entry.check(source_obj, mapped, problem)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ParseError(
            f"inverse_data does not fit the reduction {problem.source.reduction!r} "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:80]}); "
            "expected the inverse_data that reduction wrote",
            problem_json,
        ) from None
    message = _unweighted_clique_message(problem, source_obj, mapped, result.ok)
    out(f"source check: {message or result.message}")
    if result.solution_text:
        out(result.solution_text)
    return EXIT_OK if (result.ok and chk.meets) else EXIT_FAIL


def _unweighted_clique_message(
    problem: InversionProblem, graph: Any, clique: Any, ok: bool
) -> str | None:
    """The clique check in words of vertices for a graph without edge weights.

    The reduction gives every edge weight 1, so "weight" is the clique's number of
    edges, k(k-1)/2, and the default bound (the total weight) is the graph's edge
    count: "a 5-clique of weight 10 <= 160" says nothing a user asked about.
    None for weighted graphs, other reductions, and sets that are not a k-clique
    (the registry's message then says what is wrong).
    """
    reduction = problem.source.reduction or ""
    if reduction.removesuffix("+lift") != "clique-thm5" or getattr(graph, "weights", 1) is not None:
        return None
    params = problem.source.parameters
    k = int(params["k"])
    if not ok or not isinstance(clique, list) or len(clique) != k:
        return None
    if params.get("max_weight_default", True):
        return f"a clique of size {k} ({k} pairwise adjacent vertices), as asked (k = {k})"
    edges = k * (k - 1) // 2
    return (
        f"a clique of size {k} ({k} pairwise adjacent vertices, so {edges} edges of weight 1), "
        f"within the bound {params['max_weight']} on its number of edges"
    )
