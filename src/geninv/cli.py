"""The ``geninv`` command line.

Every command reports bad input as one line on stderr naming the file and the
problem, and exits with status 2; no traceback, no half-written output.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

from geninv import guard  # standard library only, so it comes first

if __name__ == "__main__" or os.path.basename(sys.argv[0]) == "geninv":
    guard.exit_on_signals()  # the program: a signal while it loads ends it cleanly

import numpy as np

from geninv.errors import GeninvError, ParseError, UnsupportedError, ValidationError
from geninv.io import atomic
from geninv.io.limits import check_count, check_float, check_json_depth
from geninv.io.text import read_npy
from geninv.network import to_fraction
from geninv.problem import (
    DOMAINS,
    Domain,
    InversionProblem,
    Solution,
    SourceInfo,
    Status,
    json_number,
    parse_norm,
)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------- helpers
# geninv.io.instance imports onnx (about a second): imported when first used, so the
# program starts (and its signal policy is in place) quickly.
def load_instance(directory: str | Path) -> InversionProblem:
    from geninv.io.instance import load_instance as load

    return load(directory)


def read_json(path: str | Path) -> Any:
    from geninv.io.instance import read_json as read

    return read(path)


def save_instance(problem: InversionProblem, out_dir: str | Path, **kwargs: Any) -> Path:
    from geninv.io.instance import save_instance as save

    return save(problem, out_dir, **kwargs)


def sha256_file(path: str | Path) -> str:
    from geninv.io.instance import sha256_file as sha

    return sha(path)


def summary(problem: InversionProblem) -> dict[str, Any]:
    from geninv.io.instance import summary as summ

    return summ(problem)


def _print(msg: str = "") -> None:
    sys.stdout.write(msg + "\n")


def _number_arg(text: str, what: str) -> Fraction:
    """An exact number from the command line; errors name the option (``--what: ...``)."""
    return to_fraction(text, f"--{what}")


def _vector_arg(text: str, n: int, what: str) -> list[Fraction]:
    """A scalar (broadcast to n), a comma list, or a .json / .npy file."""
    if text.endswith(".json") or text.endswith(".npy"):
        values = _read_vector_file(text)
    elif "," in text:
        check_count(text.count(",") + 1, "vector", f"--{what}: the list's number of entries")
        values = [_number_arg(t, what) for t in text.split(",")]
    else:
        return [_number_arg(text, what)] * n
    if len(values) != n:
        raise ValidationError(f"--{what}: has {len(values)} entries, expected {n} (one per input)")
    return values


def _read_vector_file(path: str) -> list[Fraction]:
    p = Path(path)
    if p.suffix == ".npy":
        arr = read_npy(p, "vector")
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
        if arr.ndim != 1:
            raise ParseError(f"expected a vector, got an array of shape {arr.shape}", path)
        return _numbers(arr.tolist(), "entry", path)
    doc = read_json(p)
    if isinstance(doc, dict) and "target" in doc:
        doc = doc["target"]
    if not isinstance(doc, list) or not doc:
        raise ParseError("expected a non-empty JSON list of numbers", path)
    return _numbers(doc, "entry", path)


def _numbers(values: list[Any], what: str, path: str) -> list[Fraction]:
    from geninv.answers import exact_numbers

    return exact_numbers(values, what, path)


# ---------------------------------------------------------------- commands
def _finish_reduction(
    args: argparse.Namespace,
    problem: InversionProblem,
    files: Sequence[str],
    copy_from: str | None,
    copy_name: str,
    expected: Any,
    described: str,
    theorem_real: str | None = None,
) -> int:
    """Record provenance, lift to real latents if asked, and write the instance atomically."""
    import hashlib

    params = dict(problem.source.parameters)
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    src = problem.source
    problem.source = SourceInfo(
        reduction=src.reduction,
        theorem=src.theorem,
        file=", ".join(Path(f).name for f in files),
        sha256=h.hexdigest(),
        parameters=params,
        expected=expected,
        copy=copy_name,
    )
    if getattr(args, "domain", None) == "real" and theorem_real is not None:
        from geninv.reductions.lifting import lift

        problem = lift(problem)
        problem.source = SourceInfo(**{**problem.source.__dict__, "theorem": theorem_real})
    out = save_instance(
        problem,
        args.output,
        force=args.force,
        source_file=copy_from,
        source_copy_name=copy_name,
        protect=files,
    )
    net = problem.network
    _print(
        f"{problem.source.theorem}: {described} -> {problem.domain.kind} latent, "
        f"n={net.n_inputs}, depth {net.depth}, widths {net.widths}"
    )
    _print(f"expected answer: {expected or 'not known'}; wrote {out}")
    return EXIT_OK


def cmd_reduce_sat(args: argparse.Namespace) -> int:
    from geninv.io.dimacs import read_cnf
    from geninv.reductions.sat import SatReduction

    cnf = read_cnf(args.file)
    reduction = SatReduction(args.domain)
    problem = _apply_named(reduction, cnf, args.file)
    expected = _expected_sat(cnf, args.expected, args.oracle_time_limit)
    described = f"{Path(args.file).name} ({cnf.n_vars} variables, {cnf.n_clauses} clauses)"
    return _finish_reduction(
        args, problem, [args.file], args.file, "source.cnf", expected, described
    )


def _apply_named(reduction: Any, source: Any, path: str) -> InversionProblem:
    """Apply a reduction; errors that come from the input name the input file."""
    try:
        problem, _ = reduction.apply(source)
    except (ValidationError, UnsupportedError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
    assert isinstance(problem, InversionProblem)
    return problem


def _expected_flag(mode: str, small: bool, compute: Any) -> Any:
    if mode in ("yes", "no"):
        return mode
    if mode == "unknown" or not small:
        return None
    return "yes" if compute() else "no"


def cmd_reduce_cvp(args: argparse.Namespace) -> int:
    import tempfile

    from geninv.io.lattice import (
        CVPInstance,
        read_cvp_json,
        read_fplll_matrix,
        read_fplll_vector,
        write_cvp_json,
    )
    from geninv.oracles import cvp01_decide
    from geninv.reductions.cvp import CVPReduction

    p = parse_norm(args.p, "--p")
    files = [args.file]
    if args.target is not None:
        basis = read_fplll_matrix(args.file)
        target = read_fplll_vector(args.target)
        files.append(args.target)
        if basis and len(basis[0]) != len(target):
            raise ParseError(
                f"target has {len(target)} entries but the basis vectors have {len(basis[0])}",
                args.target,
            )
        inst = CVPInstance(
            basis=tuple(tuple(r) for r in basis),
            target=tuple(target),
            radius=None,
            radius_pow=None,
            p=p,
        )
    else:
        try:
            inst = read_cvp_json(args.file)
        except ParseError:
            head = Path(args.file).read_text(encoding="utf-8", errors="replace").lstrip()[:2]
            if head == "[[":
                raise ParseError(
                    "looks like an fplll lattice, not CVP JSON; give its target with "
                    "--target FILE and the radius with --radius",
                    args.file,
                ) from None
            raise
        if inst.p is not None and inst.p != p:
            raise ValidationError(
                f"{args.file}: the instance says p = {inst.p:g} but --p is {args.p}; "
                "make them agree"
            )
    if args.radius is not None or args.radius_pow is not None:
        if args.radius is not None and args.radius_pow is not None:
            raise ValidationError("give --radius or --radius-pow, not both")
        radius = None if args.radius is None else _number_arg(args.radius, "radius")
        rpow = None if args.radius_pow is None else _number_arg(args.radius_pow, "radius-pow")
        for name, val in (("radius", radius), ("radius-pow", rpow)):
            if val is not None and val < 0:
                raise ValidationError(f"--{name} must be >= 0")
            if val is not None:
                check_float(val, f"--{name}")
        inst = CVPInstance(
            basis=inst.basis, target=inst.target, radius=radius, radius_pow=rpow, p=p
        )
    reduction = CVPReduction(p, relation=args.relation, paper_pairs=args.paper_pairs)
    problem = _apply_named(reduction, inst, args.file)
    n = len(inst.basis)
    expected = _expected_flag(
        args.expected,
        n <= 20,
        lambda: cvp01_decide(
            inst.basis,
            inst.target,
            p,
            radius=inst.radius,
            radius_pow=inst.radius_pow,
            relation=args.relation,
        )[0],
    )
    described = f"{', '.join(Path(f).name for f in files)} (n={n}, d={len(inst.target)})"
    tmp = tempfile.mkdtemp(prefix="geninv-cvp-")
    atomic.register_temp(tmp)
    try:
        copy = Path(tmp) / "source.json"
        write_cvp_json(inst, copy)
        return _finish_reduction(
            args, problem, files, str(copy), "source.json", expected, described, "Theorem 4"
        )
    finally:
        atomic.remove_path(tmp)
        atomic.unregister_temp(tmp)


def cmd_reduce_clique(args: argparse.Namespace) -> int:
    from geninv.io.graphs import read_graph
    from geninv.oracles import clique_decide
    from geninv.reductions.clique import CliqueReduction

    parse_norm(args.p, "--p")  # a number >= 1 within the norm_p limit, before any work
    graph = read_graph(args.file)
    max_weight = None if args.max_weight is None else _number_arg(args.max_weight, "max-weight")
    reduction = CliqueReduction(
        None if args.half else args.k, args.p, max_weight, relation=args.relation, half=args.half
    )
    problem = _apply_named(reduction, graph, args.file)
    params = problem.source.parameters
    expected = _expected_flag(
        args.expected,
        graph.n <= 40,
        lambda: clique_decide(
            graph, int(params["k"]), Fraction(params["max_weight"]), relation=args.relation
        )[0],
    )
    described = (
        f"{Path(args.file).name} ({graph.n} vertices, {len(graph.edges)} edges, k={params['k']})"
    )
    return _finish_reduction(
        args, problem, [args.file], args.file, "source.graph", expected, described, "Theorem 6"
    )


def cmd_reduce_vc(args: argparse.Namespace) -> int:
    from geninv.io.graphs import read_graph
    from geninv.oracles import vertex_cover_decide
    from geninv.reductions.vertex_cover import VertexCoverReduction

    parse_norm(args.p, "--p")  # a number >= 1 within the norm_p limit, before any work
    graph = read_graph(args.file)
    reduction = VertexCoverReduction(args.size, args.p, relation=args.relation)
    problem = _apply_named(reduction, graph, args.file)
    expected = _expected_flag(
        args.expected, graph.n <= 20, lambda: vertex_cover_decide(graph, args.size)[0]
    )
    described = (
        f"{Path(args.file).name} ({graph.n} vertices, {len(graph.edges)} edges, q={args.size})"
    )
    return _finish_reduction(
        args,
        problem,
        [args.file],
        args.file,
        "source.graph",
        expected,
        described,
        "Section 5.3, lifted to real latents",
    )


def _lift_scale(problem: InversionProblem) -> Any:
    inv = problem.inverse_data
    return inv["steps"][-1]["scale"] if "steps" in inv else inv.get("scale")


def cmd_lift(args: argparse.Namespace) -> int:
    from geninv.io.instance import save_instance as _save
    from geninv.reductions.lifting import lift

    src_dir = Path(args.dir)
    problem = load_instance(src_dir)
    lifted = lift(problem)
    copy_from: str | None = None
    copy_name: str | None = problem.source.copy
    if problem.source.reduction and problem.source.copy:
        copy_from = str(src_dir / problem.source.copy)
        theorem = {
            "cvp-thm3": "Theorem 4",
            "clique-thm5": "Theorem 6",
            "vc-sec53": "Section 5.3, lifted to real latents",
        }.get(problem.source.reduction, f"{problem.source.theorem}, lifted to real latents")
        lifted.source = SourceInfo(**{**lifted.source.__dict__, "theorem": theorem})
        out = _save(
            lifted,
            args.output,
            force=args.force,
            source_file=copy_from,
            source_copy_name=copy_name,
            protect=[src_dir],
        )
    else:
        # The source of a plain lifted instance is the binary instance itself.
        lifted.source = SourceInfo(
            **{
                **lifted.source.__dict__,
                "copy": "source-instance",
                "theorem": "binary-to-real lifting",
            }
        )
        out = _save(
            lifted,
            args.output,
            force=args.force,
            protect=[src_dir],
            extra=lambda tmp: _save(problem, tmp / "source-instance"),
        )
    net = lifted.network
    _print(
        f"lifted {src_dir.name} ({problem.domain.kind}^{problem.n}) -> real latent, "
        f"depth {net.depth}, widths {net.widths}; scale s = {_lift_scale(lifted)}; wrote {out}"
    )
    return EXIT_OK


def _expected_sat(cnf: Any, mode: str, limit: float) -> Any:
    if mode in ("yes", "no"):
        return mode
    if mode == "unknown":
        return None
    from geninv.oracles import sat_oracle

    verdict = sat_oracle(cnf, time_limit=limit)
    return None if verdict is None else ("yes" if verdict else "no")


def cmd_new(args: argparse.Namespace) -> int:
    network = _load_generator(args.network, args.arch)
    target = _read_vector_file(args.target)
    if len(target) != network.n_outputs:
        raise ParseError(
            f"target has {len(target)} entries but {Path(args.network).name} has "
            f"{network.n_outputs} outputs",
            args.target,
        )
    p = parse_norm(args.norm, "--norm")
    threshold = _number_arg(args.threshold, "threshold")
    if threshold < 0:
        raise ValidationError(f"--threshold must be >= 0, got {args.threshold}")
    if args.domain == "box":
        if args.lower is None or args.upper is None:
            raise ValidationError("--domain box needs --lower and --upper")
        domain = Domain.box(
            _vector_arg(args.lower, network.n_inputs, "lower"),
            _vector_arg(args.upper, network.n_inputs, "upper"),
        )
    else:
        if args.lower is not None or args.upper is not None:
            raise ValidationError(f"--lower/--upper only apply to --domain box, not {args.domain}")
        domain = Domain(args.domain)
    input_box = None
    if args.domain == "real":
        from geninv.analysis import input_clamp_box

        clamp = input_clamp_box(network)
        if clamp is not None:
            input_box = clamp
    problem = InversionProblem(
        network,
        target,
        domain,
        p=p,
        threshold=threshold,
        relation=args.relation,
        source=SourceInfo(file=Path(args.network).name, sha256=sha256_file(args.network)),
        input_box=input_box,
    )
    protect = [args.network, args.target]
    out = save_instance(problem, args.output, force=args.force, protect=protect)
    _print(f"{problem.describe()}; network {network.describe()}; wrote {out}")
    return EXIT_OK


def cmd_solve(args: argparse.Namespace) -> int:
    from geninv.solvers.milp import common as milp

    before = milp.SOLVER_LOGS
    milp.SOLVER_LOGS = args.verbose  # HiGHS's / SCIP's own logs only when asked
    try:
        return _cmd_solve(args)
    finally:
        milp.SOLVER_LOGS = before  # main() may be called again in this process


def _cmd_solve(args: argparse.Namespace) -> int:
    from geninv.solvers.base import choose_backend

    if args.dir is not None and (args.onnx or args.vnnlib):
        raise ValidationError("give an instance directory or --onnx/--vnnlib, not both")
    if args.dir is None and not (args.onnx and args.vnnlib):
        raise ValidationError("give an instance directory, or both --onnx FILE and --vnnlib FILE")
    reads = [args.dir] if args.dir is not None else [args.onnx, args.vnnlib]
    _check_outputs(args, reads)
    if args.dir is None:
        from geninv.io.vnncomp import problem_from_vnncomp

        problem = problem_from_vnncomp(args.onnx, args.vnnlib)
    else:
        problem = load_instance(args.dir)
    if args.certify:
        return _certify(problem, args, reads)
    progress = (not args.json) and sys.stderr.isatty()
    options = _backend_options(args)
    method = args.method
    names = [method]
    if method == "auto" and options:
        names = _auto_with_options(problem, options, args.verbose)
    elif args.verbose and method == "auto":
        try:
            _, why = choose_backend(problem)
        except UnsupportedError:
            why = "no complete backend applies: the approximate portfolio runs"
        sys.stderr.write(f"auto: {why}\n")
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
        _exit_now(lambda: _emit_solution(problem, stopped(exc), args, reads))

    try:
        sol = guard.run_limited(
            lambda: _solve_in_turn(problem, names, options or {}, args, progress),
            args.time_limit,
            _memory_limit(args),
            on_stuck=stuck if guard.SUPERVISED else None,
        )
    except guard.LimitReached as exc:
        sol = stopped(exc)
    return _emit_solution(problem, sol, args, reads)


def _exit_now(emit: Callable[[], int]) -> None:
    """From the watchdog thread, while the main thread is inside one long native call:
    report what there is (``emit``), remove temporary files and end the (supervised)
    process with ``emit``'s exit status."""
    code = EXIT_USAGE
    try:
        code = emit()
    except GeninvError as err:
        sys.stderr.write(f"geninv: error: {err}\n")
    finally:
        atomic.remove_live_temps()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _emit_solution(
    problem: InversionProblem, sol: Solution, args: argparse.Namespace, reads: Sequence[str]
) -> int:
    doc = sol.to_json()
    if args.output:
        atomic.write_text(
            args.output, json.dumps(doc, indent=1) + "\n", force=args.force, protect=reads
        )
    if args.json:
        _print(json.dumps(doc))
        return EXIT_OK
    _print_solution(problem, sol)
    _print_trust(sol, args.trust_solver)
    if getattr(args, "proof", None):
        _print(_proof_file_line(sol, args.dir))
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
    from geninv.solvers.base import BASIS_FLOAT

    if sol.proof is not None and "trusted" in sol.proof:
        _print(
            f"trusted: {sol.method}'s 'no' rests on a floating-point solver and was not "
            "checked; it was accepted because of --trust-solver"
        )
    lb = sol.stats.get("lower_bound")
    optimized = sol.stats.get("mode") == "optimize"
    if (
        isinstance(lb, (int, float))
        and optimized
        and (sol.stats.get("lower_bound_basis", BASIS_FLOAT) == BASIS_FLOAT)
    ):
        label = (
            "a floating-point solver's dual bound; not checked: accepted because of --trust-solver"
            if trust_solver
            else "uncertified: a floating-point solver's dual bound"
        )
        _print(f"lower bound: {lb:.9g} ({label})")


def _check_outputs(args: argparse.Namespace, reads: Sequence[str]) -> None:
    """Refuse unwritable outputs before any work is done (they are checked again on write)."""
    if getattr(args, "output", None):
        atomic.check_target(args.output, args.force, protect=reads)
    proof = getattr(args, "proof", None)
    if proof:
        for path in (proof, proof + ".cnf"):
            atomic.check_target(path, args.force, protect=reads)


def _memory_limit(args: argparse.Namespace) -> int | None:
    text = getattr(args, "memory_limit", None)
    if text is None:
        return guard.default_memory_limit()
    if text.strip().lower() in ("none", "off", "0"):
        return None
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    mult = units.get(t[-1:], 0)
    try:
        value = float(t[:-1] if mult else t)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(
            f"--memory-limit {text!r}: expected a size such as 4G, 500M, or a number of MiB"
        )
    return int(value * (mult or 2**20))


def _certify(problem: InversionProblem, args: argparse.Namespace, reads: Sequence[str]) -> int:
    from geninv.gap import GapReport, certified_gap

    limit = args.time_limit or 120.0
    t0 = time.perf_counter()
    report = GapReport()

    def stopped(exc: guard.LimitReached) -> GapReport:  # keep the runs that finished
        if report.lower_bound is None:
            report.no_bound_reason = exc.detail
        report.seconds = time.perf_counter() - t0
        return report

    def stuck(exc: guard.LimitReached) -> None:
        _exit_now(lambda: _emit_report(problem, stopped(exc), args, reads))

    try:
        guard.run_limited(
            lambda: certified_gap(
                problem,
                time_limit=limit,
                seed=args.seed,
                trust_solver=args.trust_solver,
                report=report,
            ),
            limit,
            _memory_limit(args),
            on_stuck=stuck if guard.SUPERVISED else None,
        )
    except guard.LimitReached as exc:
        stopped(exc)
    return _emit_report(problem, report, args, reads)


def _emit_report(
    problem: InversionProblem, report: Any, args: argparse.Namespace, reads: Sequence[str]
) -> int:
    doc = report.to_json()
    if args.output:
        atomic.write_text(
            args.output, json.dumps(doc, indent=1) + "\n", force=args.force, protect=reads
        )
    if args.json:
        _print(json.dumps(doc))
        return EXIT_OK
    for run in report.runs:
        outcome = run.get("distance", run.get("error"))
        _print(f"{run['method']:>10}: {run.get('status', 'error')}  {outcome}")
    if report.best_distance is not None:
        _print(f"best distance: {report.best_distance} ({report.best_method})")
    else:
        _print(f"best distance: none ({_why_no_point(problem, report)})")
    if report.lower_bound is not None:
        _print(f"lower bound:   {report.lower_bound:.9g} ({report.lower_bound_how})")
        _print(f"               {report.lower_bound_basis}")
    else:
        _print(f"lower bound:   none ({report.no_bound_reason})")
    gap = report.gap
    _print(
        f"gap:           {gap:.9g}"
        if gap is not None
        else "gap:           none (it needs both a point found and a lower bound)"
    )
    return EXIT_OK


def _why_no_point(problem: InversionProblem, report: Any) -> str:
    """Why --certify found no point (binary/sign latents: the approximate backends do not apply)."""
    if problem.domain.kind in ("binary", "sign"):
        return (
            f"the approximate backends search real and box latents, not {problem.domain.kind}; "
            "'geninv solve DIR --optimize' finds the least distance of a "
            f"{problem.domain.kind} instance"
        )
    return "no run returned a point" if report.runs else "no approximate backend applies"


def _backend_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """Backend constructor options from --option KEY=VALUE and the shortcut flags."""
    opts: dict[str, Any] = {}
    for item in args.option or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--option {item!r}: expected KEY=VALUE")
        check_json_depth(raw, f"--option {key.strip()}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        except ValueError as exc:  # e.g. an integer beyond Python's int-string limit
            reason = str(exc).split(";")[0]  # not Python's advice on sys.set_int_max_str_digits
            raise ValidationError(f"--option {key.strip()}: value not usable ({reason})") from None
        opts[key.strip()] = value
    if args.optimize:
        opts["mode"] = "optimize"
    if args.scheduler:
        opts["scheduler"] = args.scheduler
    if args.workers is not None:
        opts["workers"] = args.workers
    if args.proof:
        opts["proof"] = args.proof
    return opts or None


def _auto_with_options(
    problem: InversionProblem, options: dict[str, Any], verbose: bool
) -> list[str]:
    """``auto`` with backend options (--optimize, --proof, --option ...): auto's
    candidates (:func:`geninv.solvers.base.candidate_backends`, best first) whose
    constructor takes every option given.  With ``--proof`` alone and no such
    candidate, ``["auto"]`` and one line on stderr saying that no proof file will come."""
    import inspect

    from geninv.solvers.base import candidate_backends

    ranked = candidate_backends(problem)
    keys = set(options)
    flags = ", ".join(sorted(keys))
    names = [
        cls.name for cls, _ in ranked if keys <= set(inspect.signature(cls.__init__).parameters)
    ]
    if verbose and names:
        why = next(w for cls, w in ranked if cls.name == names[0])
        sys.stderr.write(f"auto: {why} (the first candidate that takes {flags})\n")
    if names:
        return names
    every = ", ".join(cls.name for cls, _ in ranked)
    if keys == {"proof"}:  # no candidate writes a proof file: solve as auto would
        sys.stderr.write(
            f"geninv: no proof file will be written: none of the backends auto can use here "
            f"({every}) writes one (bab and sat do)\n"
        )
        return ["auto"]
    raise ValidationError(
        f"none of the backends auto can use here ({every}) takes {flags}; name one with --method"
    )


def _solve_in_turn(
    problem: InversionProblem,
    names: Sequence[str],
    options: dict[str, Any],
    args: argparse.Namespace,
    progress: bool,
) -> Solution:
    """Run ``names`` in turn, as ``auto`` runs its candidates: an *unknown* (a time-out,
    a floating-point *no* without a checked certificate) passes to the next with the time
    left; the first *yes* or *no* is the answer, else the first *unknown*."""
    from geninv.solvers.base import solve

    start = time.perf_counter()
    held: Solution | None = None
    for name in names:  # a candidate that refuses the instance passes to the next
        left = None if args.time_limit is None else args.time_limit - (time.perf_counter() - start)
        if left is not None and left <= 0 and held is not None:
            break
        try:
            sol = solve(
                problem,
                name,
                time_limit=left,
                seed=args.seed,
                progress=progress,
                options=options if name != "auto" else None,
                trust_solver=args.trust_solver,
            )
        except UnsupportedError:  # a candidate refused this instance (as in auto)
            if name == names[-1] and held is None:
                raise
            continue
        if sol.status is not Status.UNKNOWN:
            return sol
        held = held or sol
    assert held is not None
    held.seconds = time.perf_counter() - start
    return held


def _print_solution(problem: InversionProblem, sol: Solution) -> None:
    _print(f"status: {sol.status}")
    _print(f"method: {sol.method}  ({sol.seconds:.3f} s)")
    if sol.status is Status.YES:
        assert sol.z is not None and sol.check is not None
        _print(f"z: {_short_vector(sol.z)}")
        _print(
            f"distance: {sol.distance:g} (checked: {sol.check.method}, "
            f"{'meets' if sol.check.meets else 'misses'} {_threshold_text(problem)})"
        )
    elif sol.status is Status.NO:
        _print(f"proof: {json.dumps(sol.proof)}")
    else:
        _print(f"reason: {sol.reason}")
        if (
            sol.z is not None
            and sol.check is not None
            and sol.check.decided
            and not sol.check.meets
        ):
            _print(  # the best point an incomplete search reached, checked exactly
                f"best point: distance {sol.check.distance:g} ({sol.check.method}; misses "
                f"{_threshold_text(problem)}); its z is in --json / -o"
            )
    expected = problem.source.expected
    if expected is not None and sol.status is not Status.UNKNOWN:
        agree = "agrees" if sol.status.value == expected else "DISAGREES"
        _print(f"expected from the source: {expected} ({agree})")


def _short_vector(z: Sequence[Fraction], limit: int = 24) -> str:
    items = [str(json_number(v)) for v in z[:limit]]
    more = f" ... ({len(z)} entries)" if len(z) > limit else ""
    return "[" + ", ".join(items) + "]" + more


def _threshold_text(problem: InversionProblem) -> str:
    from geninv.answers import threshold_text

    return threshold_text(problem)


def cmd_check(args: argparse.Namespace) -> int:
    from geninv.answers import check_answer, read_answer

    problem = load_instance(args.dir)
    return check_answer(problem, read_answer(args.witness), _print, args.dir)


def cmd_check_proof(args: argparse.Namespace) -> int:
    """Check a branch-and-bound proof (bab --proof FILE) in exact arithmetic."""
    from geninv.proofcheck import ProofRejected, check_proof_file

    try:
        rep = check_proof_file(args.dir, args.proof)
    except ProofRejected as exc:
        _print(f"invalid proof: {exc}")
        return EXIT_FAIL
    _print(
        f"valid proof: {rep.nodes} nodes, {rep.leaves} leaves "
        f"({rep.empty_by_bounds} empty by bounds), {rep.multipliers} multipliers; root: {rep.root}"
    )
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from geninv.answers import extract_answer, read_answer
    from geninv.reductions.registry import get_reduction

    problem = load_instance(args.dir)
    get_reduction(problem.source.reduction)  # an instance without a source: say so first
    return extract_answer(args.dir, problem, read_answer(args.witness), _print)


def cmd_info(args: argparse.Namespace) -> int:
    problem = load_instance(args.dir)
    info = summary(problem)
    if args.json:
        _print(json.dumps(info))
        return EXIT_OK
    for key, value in info.items():
        _print(f"{key:>20}: {value}")
    return EXIT_OK


def _load_generator(path: str, arch: str | None) -> Any:
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        if arch:
            raise ValidationError("--arch applies to PyTorch (.pt, .pth, .ckpt) and .npz files")
        from geninv.io.onnx_io import import_onnx

        return import_onnx(path)
    if not arch:
        raise ValidationError(
            f"{path}: a state_dict needs --arch, e.g. 'linear:fc3,relu,linear:fc4,sigmoid'"
        )
    if suffix == ".npz":
        from geninv.io.torch_io import load_npz

        return load_npz(path, arch, ignore=("*",))
    from geninv.io.torch_io import load_torch_file

    return load_torch_file(path, arch, ignore=("*",))


def cmd_sense(args: argparse.Namespace) -> int:
    from geninv import sensing

    if args.digits is not None:
        if args.network or args.image:
            raise ValidationError("--digits uses the bundled generator and test digits")
        generator = sensing.load_digits_generator()
        images = sensing.load_test_digits()[0][: args.digits]
    else:
        if not args.network or not (args.image or args.y):
            raise ValidationError("give --network and --image (or --y), or --digits K")
        generator = _load_generator(args.network, args.arch)
        images = None
        if args.image:
            if not args.image.endswith(".npy"):
                raise ParseError("expected a .npy array of images (one per row)", args.image)
            arr = read_npy(args.image, "array of images")
            if arr.ndim == 0 or arr.size == 0:
                raise ParseError(f"expected images, one per row, got shape {arr.shape}", args.image)
            arr = np.asarray(arr, dtype=np.float64)
            # one image as a vector (or a 2-D picture of the generator's size), else one per row
            one = arr.ndim == 1 or (
                arr.ndim == 2 and arr.size == generator.n_outputs != arr.shape[1]
            )
            images = arr.reshape(1, -1) if one else arr.reshape(arr.shape[0], -1)
    reads = [f for f in (args.network, args.image, args.y, args.matrix) if f]
    if args.output:
        atomic.check_target(args.output, args.force, directory=True, protect=reads)
    if args.png:
        atomic.check_target(args.png, args.force, protect=reads)
    q = generator.n_outputs
    if args.matrix:
        A = read_npy(args.matrix, "matrix")
        if A.ndim != 2 or A.shape[1] != q:
            raise ParseError(
                f"expected a matrix with {q} columns, got shape {A.shape}", args.matrix
            )
    else:
        if not args.measurements or args.measurements < 1:
            raise ValidationError("give --measurements M (>= 1) or --matrix A.npy")
        check_count(args.measurements * q, "parameters", "--measurements M times the outputs")
        A = sensing.gaussian_measurements(args.measurements, q, args.seed)
    rng = np.random.default_rng(args.seed)
    if images is not None:
        if images.shape[1] != q:
            raise ParseError(f"images have {images.shape[1]} pixels, the generator {q}", args.image)
        ys = images @ A.T + args.noise * rng.normal(size=(images.shape[0], A.shape[0]))
    else:
        ys = np.atleast_2d(read_npy(args.y, "array of measurements")).astype(np.float64)
        if ys.ndim != 2 or ys.shape[1] != A.shape[0]:
            raise ParseError(
                f"expected measurements of length {A.shape[0]} (one row each), got shape "
                f"{ys.shape}",
                args.y,
            )
    rows: list[list[Any]] = [[], [], []]
    errors = []
    unknown = 0
    for i, y in enumerate(ys):
        threshold = args.threshold
        if threshold is None and args.noise > 0:
            threshold = sensing.noise_threshold(y, args.noise, args.norm)
        problem = sensing.sensing_problem(generator, A, y, p=args.norm, threshold=threshold)
        if args.output and i == 0:
            save_instance(problem, args.output, force=args.force, protect=reads)
        x_hat, sol = sensing.recover(
            problem, args.method, time_limit=args.time_limit, seed=args.seed
        )
        lasso = sensing.lasso_baseline(A, y, args.lasso_alpha)
        line = (
            f"image {i}: {args.method} {sol.status}, ||A G(z) - y|| = {sol.distance:.4g} "
            f"(delta {problem.threshold_float():.4g})"
        )
        if images is not None:
            e_g = sensing.per_pixel_error(images[i], x_hat)
            e_l = sensing.per_pixel_error(images[i], lasso)
            errors.append((e_g, e_l))
            line += f"; per-pixel error geninv {e_g:.4f}, Lasso {e_l:.4f}"
            rows[0].append(images[i])
        rows[1].append(lasso)
        rows[2].append(x_hat)
        unknown += sol.status is Status.UNKNOWN
        _print(line)
    if unknown and args.threshold is None:
        _print(
            "unknown: no latent found within the default delta (1e-3 ||y||, plus "
            "sigma (sqrt(M) + 3) with --noise); an image outside G's range (a held-out one) "
            "never gets within it: give --threshold for the residual you accept"
        )
    if errors:
        mg = float(np.mean([e[0] for e in errors]))
        ml = float(np.mean([e[1] for e in errors]))
        _print(
            f"mean per-pixel error over {len(errors)} image(s), m = {A.shape[0]} of {q}: "
            f"geninv {mg:.4f}, Lasso {ml:.4f} (ratio {ml / mg:.1f}x)"
        )
    if args.png:
        side = round(q**0.5)
        shape = (side, side) if side * side == q else (1, q)
        labels = ["truth", "Lasso", f"geninv ({args.method})"]
        keep = [(r, lab) for r, lab in zip(rows, labels, strict=True) if r]
        sensing.save_grid_png(
            [r for r, _ in keep], [lab for _, lab in keep], args.png, shape, force=args.force
        )
        _print(f"wrote {args.png}")
    return EXIT_OK


def cmd_export_vnncomp(args: argparse.Namespace) -> int:
    from geninv.io.vnncomp import export_vnncomp

    exported, skipped = export_vnncomp(args.dirs, args.output, args.timeout, force=args.force)
    for line in skipped:
        sys.stderr.write(f"geninv: skipped {line}\n")
    _print(f"wrote {len(exported)} instance(s) to {args.output} (onnx/, vnnlib/, instances.csv)")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from geninv.demo import run_demo

    return run_demo(main, args.workdir)


# ---------------------------------------------------------------- parser
#: The built-in backends, as ``--method`` accepts them (tests/test_cli_help.py checks
#: this against the registry).
COMPLETE_BACKENDS = ("enumerate", "sat", "milp", "milp-scip", "miqp", "corners", "bab")
APPROXIMATE_BACKENDS = ("primal", "adam", "pgd", "admm", "langevin", "flipgd", "layerwise")
METHOD_HELP = (
    "backend: auto (default: picks a complete backend and says why with --verbose; "
    "the approximate portfolio when none applies), complete: "
    + ", ".join(COMPLETE_BACKENDS)
    + "; approximate (yes or unknown): "
    + ", ".join(APPROXIMATE_BACKENDS)
    + " (docs/solvers.md)"
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geninv")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="geninv", description="Invert ReLU generative models.")
    parser.add_argument("--version", action="version", version=f"geninv {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    red = sub.add_parser("reduce", help="turn a source problem into an inversion instance")
    rsub = red.add_subparsers(dest="source", required=True, parser_class=_Parser)
    sat = rsub.add_parser("sat", help="CNF satisfiability (Theorem 1: sign, Theorem 2: real)")
    sat.add_argument("file", help="DIMACS CNF file")
    sat.add_argument(
        "--domain",
        choices=["sign", "real"],
        default="sign",
        help="latent domain: sign (Theorem 1, default) or real (Theorem 2)",
    )
    sat.add_argument("-o", "--output", required=True, help="instance directory to create")
    sat.add_argument("--force", action="store_true", help="replace an existing output directory")
    sat.add_argument(
        "--expected",
        choices=["auto", "yes", "no", "unknown"],
        default="auto",
        help="the source's answer to record; auto asks PySAT (CaDiCaL) within --oracle-time-limit",
    )
    sat.add_argument(
        "--oracle-time-limit",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time for --expected auto to ask the SAT solver (default 10)",
    )
    sat.set_defaults(func=cmd_reduce_sat)

    def common(sp: argparse.ArgumentParser, domains: Sequence[str]) -> None:
        sp.add_argument("--p", required=True, help="norm exponent p (integer >= 1, or inf)")
        sp.add_argument(
            "--domain",
            choices=list(domains),
            default=domains[0],
            help=f"latent domain (default {domains[0]}; real: lifted as in Theorems 4 and 6)",
        )
        sp.add_argument(
            "--relation",
            choices=["<=", "<"],
            default="<=",
            help="the question asks ||G(z) - x|| <= delta (default) or < delta",
        )
        sp.add_argument("-o", "--output", required=True, help="instance directory to create")
        sp.add_argument("--force", action="store_true", help="replace an existing output directory")
        sp.add_argument(
            "--expected",
            choices=["auto", "yes", "no", "unknown"],
            default="auto",
            help="the source's answer to record; auto computes it by brute force on small inputs",
        )

    cvp = rsub.add_parser("cvp", help="(0,1)-CVP_p (Theorem 3: binary, Theorem 4: real)")
    cvp.add_argument("file", help="CVP JSON file, or an fplll lattice (with --target)")
    cvp.add_argument("--target", help="fplll target vector file (when FILE is an fplll lattice)")
    cvp.add_argument("--radius", help="radius r (overrides the file's)")
    cvp.add_argument("--radius-pow", help="r^p exactly, for radii with irrational p-th roots")
    cvp.add_argument(
        "--paper-pairs",
        action="store_true",
        help="the paper's 2n-latent pair gadget (see errata E9)",
    )
    common(cvp, ["binary", "real"])
    cvp.set_defaults(func=cmd_reduce_cvp)

    clq = rsub.add_parser(
        "clique", help="weighted k-Clique / Half-Clique (Theorem 5; real: Theorem 6)"
    )
    clq.add_argument("file", help="DIMACS graph (p edge N M, e u v [w])")
    group = clq.add_mutually_exclusive_group(required=True)
    group.add_argument("--k", type=int, help="clique size")
    group.add_argument("--half", action="store_true", help="k = n/2 (Half-Clique)")
    clq.add_argument("--max-weight", help="M: ask for a clique of weight <= M (default: any)")
    common(clq, ["binary", "real"])
    clq.set_defaults(func=cmd_reduce_clique)

    vc = rsub.add_parser("vertex-cover", help="vertex cover of size <= Q (section 5.3)")
    vc.add_argument("file", help="DIMACS or PACE graph")
    vc.add_argument("--size", type=int, required=True, help="Q, the cover size")
    common(vc, ["binary", "real"])
    vc.set_defaults(func=cmd_reduce_vc)

    lift = sub.add_parser("lift", help="binary/sign instance -> real-latent instance")
    lift.add_argument("dir", help="the binary or sign instance directory")
    lift.add_argument("-o", "--output", required=True, help="instance directory to create")
    lift.add_argument("--force", action="store_true", help="replace an existing output directory")
    lift.set_defaults(func=cmd_lift)

    new = sub.add_parser("new", help="an instance from someone else's network")
    new.add_argument(
        "--network", required=True, help="ONNX file, or a PyTorch state_dict/.npz with --arch"
    )
    new.add_argument("--arch", help="architecture of a state_dict, e.g. '0,relu,2,relu,4,tanh'")
    new.add_argument("--target", required=True, help="target x: a .json list or a .npy vector")
    new.add_argument("--norm", default="inf", help="p >= 1 or 'inf' (default inf)")
    new.add_argument("--threshold", default="0", help="delta >= 0 (0 = exact inversion)")
    new.add_argument(
        "--relation", choices=["<=", "<"], default="<=", help="<= delta (default) or < delta"
    )
    new.add_argument(
        "--domain",
        required=True,
        choices=list(DOMAINS),
        help="latent domain: real, box (with --lower/--upper), binary {0,1} or sign {-1,1}",
    )
    new.add_argument("--lower", help="box lower bound: a number, a comma list, .json or .npy")
    new.add_argument("--upper", help="box upper bound: a number, a comma list, .json or .npy")
    new.add_argument("-o", "--output", required=True, help="instance directory to create")
    new.add_argument("--force", action="store_true", help="replace an existing output directory")
    new.set_defaults(func=cmd_new)

    solve = sub.add_parser("solve", help="decide an instance")
    solve.add_argument("dir", nargs="?", help="instance directory")
    solve.add_argument("--onnx", help="a VNN-COMP network (with --vnnlib) instead of a directory")
    solve.add_argument("--vnnlib", help="a VNN-COMP property: input box, output bounds")
    solve.add_argument("--method", default="auto", metavar="NAME", help=METHOD_HELP)
    solve.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop within about 0.5 s of this many seconds, answering 'unknown' if undecided "
        "(default: none; --certify: 120)",
    )
    solve.add_argument(
        "--seed", type=int, default=0, help="random seed of the randomised backends (default 0)"
    )
    solve.add_argument("--json", action="store_true", help="print one JSON object")
    solve.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="also write the JSON solution to FILE (a witness file)",
    )
    solve.add_argument(
        "--force", action="store_true", help="replace an existing -o / --proof regular file"
    )
    solve.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="stop as 'unknown' above this resident memory, e.g. 4G or 500M "
        f"(default {int(guard.MEMORY_SHARE * 100)}%% of the memory available; 'none' for no limit)",
    )
    solve.add_argument(
        "--verbose",
        action="store_true",
        help="say why auto chose its backend, and show HiGHS's / SCIP's own logs on a terminal",
    )
    solve.add_argument(
        "--optimize",
        action="store_true",
        help="find the smallest distance, not just decide (with auto: its first candidates "
        "that have an optimize mode: enumerate, sat, milp, miqp, bab)",
    )
    solve.add_argument(
        "--certify",
        action="store_true",
        help="best distance from the approximate backends and a lower bound: certified "
        "by bab's checked proofs where bab applies, else a MILP dual bound reported as "
        "uncertified",
    )
    solve.add_argument(
        "--trust-solver",
        action="store_true",
        help="accept a floating-point solver's 'no' (milp, milp-scip, miqp) without a "
        "checked certificate; the output says so",
    )
    solve.add_argument("--scheduler", help="enumerate: 'local' or a Dask scheduler address")
    solve.add_argument("--workers", type=int, help="enumerate: worker threads")
    solve.add_argument(
        "--proof",
        metavar="FILE",
        help="write the proof of a 'no' (sat: DRUP, with FILE.cnf; bab: the tree, for "
        "check-proof); with auto: its first candidate that writes one",
    )
    solve.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="any backend constructor option (value parsed as JSON when it can be)",
    )
    solve.set_defaults(func=cmd_solve)

    check = sub.add_parser(
        "check",
        help="re-check a witness exactly (exit 0: it meets the threshold; 1: it does not, "
        "or the file is a 'no' with no witness)",
    )
    check.add_argument("dir", help="instance directory")
    check.add_argument(
        "witness",
        help='answer file: a JSON object with a "z" list, or solve --json output (for a '
        "'no', its proof is shown)",
    )
    check.set_defaults(func=cmd_check)

    cproof = sub.add_parser(
        "check-proof", help="check a branch-and-bound proof (solve --method bab --proof FILE)"
    )
    cproof.add_argument("dir", help="instance directory")
    cproof.add_argument("proof", help="the proof file")
    cproof.set_defaults(func=cmd_check_proof)

    extract = sub.add_parser(
        "extract",
        help="map a witness back to the source problem and check it there (exit 0: it "
        "checks out; 1: it does not, or the file is a 'no')",
    )
    extract.add_argument("dir", help="instance directory made by geninv reduce (or lift)")
    extract.add_argument(
        "witness",
        help='answer file: a JSON object with a "z" list, or solve --json output',
    )
    extract.set_defaults(func=cmd_extract)

    info = sub.add_parser("info", help="describe an instance")
    info.add_argument("dir", help="instance directory")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    sense = sub.add_parser("sense", help="compressed sensing with a generator prior")
    sense.add_argument("--network", help="generator: .onnx, or .pt/.pth/.ckpt/.npz with --arch")
    sense.add_argument("--arch", help="architecture of a state_dict, e.g. 'linear:fc3,relu,...'")
    sense.add_argument(
        "--digits", type=int, help="use the bundled digits generator on K test digits"
    )
    sense.add_argument("--image", help="true image(s), .npy (one per row): y = A x + noise")
    sense.add_argument("--y", help="measurements, .npy (when the image is unknown)")
    sense.add_argument("--matrix", help="measurement matrix A, .npy")
    sense.add_argument("--measurements", type=int, help="M Gaussian measurements, N(0, 1/M)")
    sense.add_argument(
        "--seed", type=int, default=0, help="seed of A, the noise and the backend (default 0)"
    )
    sense.add_argument(
        "--noise", type=float, default=0.0, help="noise standard deviation sigma (default 0)"
    )
    sense.add_argument(
        "--method", default="adam", metavar="NAME", help="backend (default adam; see solve --help)"
    )
    sense.add_argument("--norm", default="2", help="p of ||A G(z) - y||_p (default 2)")
    sense.add_argument(
        "--threshold",
        default=None,
        help="delta; default 1e-3 ||y||_p + sigma (sqrt(M) + 3) max(1, M^(1/p - 1/2)), "
        "which the true image meets with probability >= 98.8%% when it is in G's range "
        "(geninv.sensing.noise_threshold)",
    )
    sense.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time per image (default: the backend's own iteration count)",
    )
    sense.add_argument(
        "--lasso-alpha", type=float, default=0.01, help="Lasso baseline's alpha (default 0.01)"
    )
    sense.add_argument("--png", help="write a grid: truth, Lasso, geninv")
    sense.add_argument("-o", "--output", help="save the first instance directory here")
    sense.add_argument("--force", action="store_true", help="replace an existing --png / -o")
    sense.set_defaults(func=cmd_sense)

    exp = sub.add_parser("export-vnncomp", help="write a VNN-COMP benchmark folder")
    exp.add_argument("dirs", nargs="+", help="instance directories")
    exp.add_argument("-o", "--output", required=True, help="benchmark folder to create")
    exp.add_argument(
        "--timeout", type=float, default=300.0, help="per-instance timeout for the csv"
    )
    exp.add_argument("--force", action="store_true", help="replace an existing output folder")
    exp.set_defaults(func=cmd_export_vnncomp)

    demo = sub.add_parser(
        "demo", help="the main job on bundled data: reduce, solve, check, extract"
    )
    demo.add_argument(
        "--workdir",
        default=None,
        help="folder to write the instances, answers and sensing.png into (default: ./geninv-demo)",
    )
    demo.set_defaults(func=cmd_demo)
    return parser


#: Numeric options and what they must be: (attribute, flag, smallest allowed, may equal it).
_NUMERIC_OPTIONS = (
    ("seed", "--seed", 0, True),
    ("workers", "--workers", 1, True),
    ("digits", "--digits", 1, True),
    ("noise", "--noise", 0, True),
    ("lasso_alpha", "--lasso-alpha", 0, False),
    ("timeout", "--timeout", 0, False),
    ("oracle_time_limit", "--oracle-time-limit", 0, False),
)


def _bad_numeric_option(args: argparse.Namespace) -> str | None:
    """A one-line complaint about a numeric option out of range (NaN, inf, negative ...)."""
    for attr, flag, low, inclusive in _NUMERIC_OPTIONS:
        value = getattr(args, attr, None)
        if value is None:
            continue
        ok = math.isfinite(value) and (value >= low if inclusive else value > low)
        if not ok:
            relation = ">=" if inclusive else ">"
            return f"{flag} must be a finite number {relation} {low}, got {value}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """The ``geninv`` program.

    Run as a program (``argv`` is None) the command runs under the supervisor of
    :func:`geninv.guard.supervise` (one signal policy: SIGINT / SIGTERM stop it
    within about a second, with exit status 130 / 143, no child process and no
    partial output left); called with an argument list it runs in this process.
    """
    if argv is None and guard.supervisor_enabled():
        try:
            with guard.signal_policy():
                parsed = _parse(None)
                if not isinstance(parsed, argparse.Namespace):
                    return parsed
                ns = parsed
                return guard.supervise(lambda: _run(ns))
        except guard.Interrupted as exc:  # before the command started: nothing to undo
            sys.stderr.write(guard.interrupted_line(exc.signum))
            guard.restore_signals()
            return exc.exit_code
    args = _parse(argv)
    if not isinstance(args, argparse.Namespace):
        return args
    return _run(args)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "time_limit", None) is not None and not (
        math.isfinite(args.time_limit) and args.time_limit > 0
    ):
        sys.stderr.write("geninv: error: --time-limit must be a positive number of seconds\n")
        return EXIT_USAGE
    bad = _bad_numeric_option(args)
    if bad is not None:
        sys.stderr.write(f"geninv: error: {bad}\n")
        return EXIT_USAGE
    return args


def _run(args: argparse.Namespace) -> int:
    try:
        with guard.signal_policy():
            try:
                code: int = args.func(args)
                return code
            finally:
                atomic.remove_live_temps()
    except guard.Interrupted as exc:
        guard.kill_children()
        atomic.remove_live_temps()
        guard.report_interrupt(exc.signum)
        guard.restore_signals()
        return exc.exit_code
    except GeninvError as exc:
        msg = " ".join(str(exc).split("\n"))
        sys.stderr.write(f"geninv: error: {msg}\n")
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"geninv: error: {where}{exc.strerror or exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        guard.kill_children()
        atomic.remove_live_temps()
        guard.report_interrupt(signal.SIGINT)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
