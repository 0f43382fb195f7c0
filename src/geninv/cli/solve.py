"""``geninv solve``: decide, optimize or certify an instance, under the time and
memory watchdog, and say what the answer rests on (the trust lines).

The choice of backends and running them in turn is :mod:`geninv.workflows.solving`;
this module reads the options, wires the watchdog (a limit reached is an *unknown*
with the reason) and prints."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from geninv import guard, workflows
from geninv.cli.common import (
    EXIT_OK,
    check_outputs,
    exit_now,
    load_instance,
    memory_limit,
    out,
    parse_options,
)
from geninv.errors import ValidationError
from geninv.io import atomic
from geninv.problem import InversionProblem, Solution, Status, json_number
from geninv.workflows.solving import CERTIFY_TIME_LIMIT

if TYPE_CHECKING:
    from geninv.gap import GapReport


def cmd_solve(args: argparse.Namespace) -> int:
    """``geninv solve``: answer the instance (a folder, or ONNX + VNN-LIB) with the chosen
    backends (``--certify``: best distance and lower bound instead); exit 0 whatever the
    answer."""
    with workflows.solver_logs(args.verbose):  # HiGHS's / SCIP's own logs only when asked
        return _cmd_solve(args)


def _cmd_solve(args: argparse.Namespace) -> int:
    if args.dir is not None and (args.onnx or args.vnnlib):
        raise ValidationError("give an instance directory or --onnx/--vnnlib, not both")
    if args.dir is None and not (args.onnx and args.vnnlib):
        raise ValidationError("give an instance directory, or both --onnx FILE and --vnnlib FILE")
    reads = [args.dir] if args.dir is not None else [args.onnx, args.vnnlib]
    check_outputs(args, reads)
    if args.dir is None:
        problem = workflows.load_vnncomp(args.onnx, args.vnnlib)
    else:
        problem = load_instance(args.dir)
    if args.certify:
        return _certify(problem, args, reads)
    progress = (not args.json) and sys.stderr.isatty()
    options = backend_options(args)
    method = args.method
    if args.preset is not None:
        method, options = workflows.apply_preset(args.preset, method, options)
    plan = workflows.plan_backends(problem, method, options, explain=args.verbose)
    if plan.why is not None:
        sys.stderr.write(f"auto: {plan.why}\n")
    if plan.warning is not None:
        sys.stderr.write(f"geninv: {plan.warning}\n")
    start = time.perf_counter()

    def stopped(exc: guard.LimitReached) -> Solution:
        return Solution(
            Status.UNKNOWN,
            method,
            reason=exc.detail,
            seconds=time.perf_counter() - start,
            stats={"stopped_by": f"{exc.kind} limit"},
        )

    def stuck(exc: guard.LimitReached) -> None:
        exit_now(lambda: _emit_solution(problem, stopped(exc), args, reads))

    try:
        sol = guard.run_limited(
            lambda: workflows.solve_in_turn(
                problem,
                plan.names,
                options,
                time_limit=args.time_limit,
                seed=args.seed,
                progress=progress,
                trust_solver=args.trust_solver,
            ),
            args.time_limit,
            memory_limit(args),
            on_stuck=stuck if guard.SUPERVISED else None,
        )
    except guard.LimitReached as exc:
        sol = stopped(exc)
    return _emit_solution(problem, sol, args, reads)


def backend_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """Backend constructor options from --option KEY=VALUE and the shortcut flags."""
    opts = parse_options(args.option)
    if args.optimize:
        opts["mode"] = "optimize"
    if args.scheduler:
        opts["scheduler"] = args.scheduler
    if args.workers is not None:
        opts["workers"] = args.workers
    if args.proof:
        opts["proof"] = args.proof
    return opts or None


def _write_json(doc: dict[str, Any], args: argparse.Namespace, reads: Sequence[str]) -> bool:
    """Write ``doc`` to ``-o`` if given; print it and say so (True) with ``--json``."""
    if args.output:
        atomic.write_text(
            args.output, json.dumps(doc, indent=1) + "\n", force=args.force, protect=reads
        )
    if args.json:
        out(json.dumps(doc))
    return bool(args.json)


def _emit_solution(
    problem: InversionProblem, sol: Solution, args: argparse.Namespace, reads: Sequence[str]
) -> int:
    if _write_json(sol.to_json(), args, reads):
        return EXIT_OK
    _print_solution(problem, sol)
    _print_trust(sol, args.trust_solver)
    if getattr(args, "proof", None):
        out(_proof_file_line(sol, args.dir))
    return EXIT_OK


def _proof_file_line(sol: Solution, directory: str | None) -> str:
    """One line on the --proof file: where it is, or why there is none."""
    proof = sol.proof or {}
    path = proof.get("proof_file") or proof.get("file")
    if sol.status is Status.NO and path:
        if sol.method == "bab":
            return f"proof file: {path} (check it: geninv check-proof {directory or 'DIR'} {path})"
        return f"proof file: {path} (DRUP refutation of the CNF {proof.get('cnf_file') or ''})"
    if sol.status is Status.YES:
        return (
            "proof file: none written (the answer is yes: its witness, checked exactly, "
            "is the evidence)"
        )
    if sol.status is Status.UNKNOWN:
        return "proof file: none written (no answer, so nothing to prove)"
    return f"proof file: none written ({sol.method} writes no proof file; bab and sat do)"


def _print_trust(sol: Solution, trust_solver: bool) -> None:
    """Say in words when an answer or a bound rests on an unchecked float solver."""
    if sol.proof is not None and "trusted" in sol.proof:
        out(
            f"trusted: {sol.method}'s 'no' rests on a floating-point solver and was not "
            "checked; it was accepted because of --trust-solver"
        )
    lb = workflows.unchecked_lower_bound(sol)
    if lb is not None:
        label = (
            "a floating-point solver's dual bound; not checked: accepted because of --trust-solver"
            if trust_solver
            else "uncertified: a floating-point solver's dual bound"
        )
        out(f"lower bound: {lb:.9g} ({label})")


def _print_solution(problem: InversionProblem, sol: Solution) -> None:
    from geninv.answers import threshold_text

    out(f"status: {sol.status}")
    out(f"method: {sol.method}  ({sol.seconds:.3f} s)")
    if sol.status is Status.YES:
        assert sol.z is not None and sol.check is not None
        out(f"z: {_short_vector(sol.z)}")
        out(
            f"distance: {sol.distance:g} (checked: {sol.check.method}, "
            f"{'meets' if sol.check.meets else 'misses'} {threshold_text(problem)})"
        )
    elif sol.status is Status.NO:
        out(f"proof: {json.dumps(sol.proof)}")
    else:
        out(f"reason: {sol.reason}")
        if (
            sol.z is not None
            and sol.check is not None
            and sol.check.decided
            and not sol.check.meets
        ):
            out(  # the best point an incomplete search reached, checked exactly
                f"best point: distance {sol.check.distance:g} ({sol.check.method}; misses "
                f"{threshold_text(problem)}); its z is in --json / -o"
            )
    expected = problem.source.expected
    if expected is not None and sol.status is not Status.UNKNOWN:
        agree = "agrees" if sol.status.value == expected else "DISAGREES"
        out(f"expected from the source: {expected} ({agree})")


def _short_vector(z: Sequence[Fraction], limit: int = 24) -> str:
    items = [str(json_number(v)) for v in z[:limit]]
    more = f" ... ({len(z)} entries)" if len(z) > limit else ""
    return "[" + ", ".join(items) + "]" + more


# ---------------------------------------------------------------- --certify
def _certify(problem: InversionProblem, args: argparse.Namespace, reads: Sequence[str]) -> int:
    from geninv.gap import GapReport

    limit = args.time_limit or CERTIFY_TIME_LIMIT
    t0 = time.perf_counter()
    report = GapReport()

    def stopped(exc: guard.LimitReached) -> GapReport:  # keep the runs that finished
        if report.lower_bound is None:
            report.no_bound_reason = exc.detail
        report.seconds = time.perf_counter() - t0
        return report

    def stuck(exc: guard.LimitReached) -> None:
        exit_now(lambda: _emit_report(problem, stopped(exc), args, reads))

    try:
        guard.run_limited(
            lambda: workflows.certify(
                problem,
                time_limit=limit,
                seed=args.seed,
                trust_solver=args.trust_solver,
                report=report,
            ),
            limit,
            memory_limit(args),
            on_stuck=stuck if guard.SUPERVISED else None,
        )
    except guard.LimitReached as exc:
        stopped(exc)
    return _emit_report(problem, report, args, reads)


def _emit_report(
    problem: InversionProblem, report: GapReport, args: argparse.Namespace, reads: Sequence[str]
) -> int:
    if _write_json(report.to_json(), args, reads):
        return EXIT_OK
    for run in report.runs:
        outcome = run.get("distance", run.get("error"))
        out(f"{run['method']:>10}: {run.get('status', 'error')}  {outcome}")
    if report.best_distance is not None:
        out(f"best distance: {report.best_distance} ({report.best_method})")
    else:
        out(f"best distance: none ({workflows.no_point_reason(problem, report)})")
    if report.lower_bound is not None:
        out(f"lower bound:   {report.lower_bound:.9g} ({report.lower_bound_how})")
        out(f"               {report.lower_bound_basis}")
    else:
        out(f"lower bound:   none ({report.no_bound_reason})")
    gap = report.gap
    out(
        f"gap:           {gap:.9g}"
        if gap is not None
        else "gap:           none (it needs both a point found and a lower bound)"
    )
    return EXIT_OK
