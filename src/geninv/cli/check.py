"""``geninv check``, ``check-proof``, ``extract`` and ``info``: re-check a witness
exactly, check a branch-and-bound proof, map a witness back to the source problem,
describe an instance."""

from __future__ import annotations

import argparse
import json

from geninv.cli.common import EXIT_FAIL, EXIT_OK, load_instance, out


def cmd_check(args: argparse.Namespace) -> int:
    """``geninv check DIR ANSWER``: re-check the answer's witness exactly (exit 0 iff it meets
    the threshold; :func:`geninv.answers.check_answer`)."""
    from geninv.answers import check_answer, read_answer

    problem = load_instance(args.dir)
    return check_answer(problem, read_answer(args.witness), out, args.dir)


def cmd_check_proof(args: argparse.Namespace) -> int:
    """Check a branch-and-bound proof (bab --proof FILE) in exact arithmetic."""
    from geninv.proofcheck import ProofRejected, check_proof_file

    try:
        rep = check_proof_file(args.dir, args.proof)
    except ProofRejected as exc:
        out(f"invalid proof: {exc}")
        return EXIT_FAIL
    out(
        f"valid proof: {rep.nodes} nodes, {rep.leaves} leaves "
        f"({rep.empty_by_bounds} empty by bounds), {rep.multipliers} multipliers; root: {rep.root}"
    )
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    """``geninv extract DIR ANSWER``: map the answer back to the instance's source problem and
    check it there (exit 0 iff it checks out; an instance without a source is an error first)."""
    from geninv.answers import extract_answer, read_answer
    from geninv.reductions.registry import get_reduction

    problem = load_instance(args.dir)
    get_reduction(problem.source.reduction)  # an instance without a source: say so first
    return extract_answer(args.dir, problem, read_answer(args.witness), out)


def cmd_info(args: argparse.Namespace) -> int:
    """``geninv info DIR``: the instance's summary, one ``key: value`` per line (a JSON object
    with ``--json``); exit 0."""
    from geninv.io.instance import summary

    problem = load_instance(args.dir)
    info = summary(problem)
    if args.json:
        out(json.dumps(info))
        return EXIT_OK
    for key, value in info.items():
        out(f"{key:>20}: {value}")
    return EXIT_OK
