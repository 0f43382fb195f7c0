"""``geninv reduce sat|cvp|clique|vertex-cover`` and ``geninv lift``: a source problem
(or a binary instance) in, an instance folder out, written atomically with the
source's provenance (:mod:`geninv.workflows.building`)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from geninv import workflows
from geninv.cli.common import EXIT_OK, load_instance, number_arg, out, save_instance
from geninv.errors import ValidationError
from geninv.io import atomic
from geninv.io.limits import check_float
from geninv.problem import InversionProblem, parse_norm
from geninv.workflows.building import Answer


def _finish_reduction(
    args: argparse.Namespace,
    problem: InversionProblem,
    files: Sequence[str],
    copy_from: str | None,
    copy_name: str,
    expected: Answer,
    described: str,
    theorem_real: str | None = None,
) -> int:
    """Record provenance, lift to real latents if asked, and write the instance atomically."""
    workflows.record_source(problem, files, expected=expected, copy_name=copy_name)
    if getattr(args, "domain", None) == "real" and theorem_real is not None:
        problem = workflows.lift_to_real(problem, theorem_real)
    written = save_instance(
        problem,
        args.output,
        force=args.force,
        source_file=copy_from,
        source_copy_name=copy_name,
        protect=files,
    )
    net = problem.network
    out(
        f"{problem.source.theorem}: {described} -> {problem.domain.kind} latent, "
        f"n={net.n_inputs}, depth {net.depth}, widths {net.widths}"
    )
    out(f"expected answer: {expected or 'not known'}; wrote {written}")
    return EXIT_OK


def cmd_reduce_sat(args: argparse.Namespace) -> int:
    """``geninv reduce sat``: a DIMACS CNF to an exact-inversion instance (Theorem 1 for sign
    latents, Theorem 2 for real)."""
    from geninv.io.dimacs import read_cnf

    cnf = read_cnf(args.file)
    reduction = workflows.make_reduction("sat", domain=args.domain)
    problem = workflows.apply_reduction(reduction, cnf, args.file)
    expected = workflows.expected_sat(cnf, args.expected, args.oracle_time_limit)
    described = f"{Path(args.file).name} ({cnf.n_vars} variables, {cnf.n_clauses} clauses)"
    return _finish_reduction(
        args, problem, [args.file], args.file, "source.cnf", expected, described
    )


def _radius_args(args: argparse.Namespace) -> tuple[Fraction | None, Fraction | None]:
    """``--radius`` and ``--radius-pow`` (at most one), exact, >= 0 and within float range."""
    if args.radius is not None and args.radius_pow is not None:
        raise ValidationError("give --radius or --radius-pow, not both")
    radius = None if args.radius is None else number_arg(args.radius, "radius")
    rpow = None if args.radius_pow is None else number_arg(args.radius_pow, "radius-pow")
    for name, val in (("radius", radius), ("radius-pow", rpow)):
        if val is not None and val < 0:
            raise ValidationError(f"--{name} must be >= 0")
        if val is not None:
            check_float(val, f"--{name}")
    return radius, rpow


def cmd_reduce_cvp(args: argparse.Namespace) -> int:
    """``geninv reduce cvp``: a (0,1)-CVP_p lattice instance to an inversion instance (Theorem 3;
    real latents lifted, Theorem 4)."""
    p = parse_norm(args.p, "--p")
    files = [args.file] if args.target is None else [args.file, args.target]
    inst = workflows.read_cvp_source(args.file, args.target, p, args.p)
    if args.radius is not None or args.radius_pow is not None:
        inst = workflows.with_radius(inst, *_radius_args(args), p)
    reduction = workflows.make_reduction(
        "cvp", p=p, relation=args.relation, paper_pairs=args.paper_pairs
    )
    problem = workflows.apply_reduction(reduction, inst, args.file)
    expected = workflows.expected_cvp(inst, p, args.relation, args.expected)
    n = len(inst.basis)
    described = f"{', '.join(Path(f).name for f in files)} (n={n}, d={len(inst.target)})"
    tmp = tempfile.mkdtemp(prefix="geninv-cvp-")
    atomic.register_temp(tmp)
    try:
        copy = Path(tmp) / "source.json"
        workflows.write_cvp_copy(inst, copy)
        return _finish_reduction(
            args, problem, files, str(copy), "source.json", expected, described, "Theorem 4"
        )
    finally:
        atomic.remove_path(tmp)
        atomic.unregister_temp(tmp)


def cmd_reduce_clique(args: argparse.Namespace) -> int:
    """``geninv reduce clique``: a weighted k-Clique / Half-Clique graph to an inversion instance
    (Theorem 5; real latents, Theorem 6)."""
    from geninv.io.graphs import read_graph

    parse_norm(args.p, "--p")  # a number >= 1 within the norm_p limit, before any work
    graph = read_graph(args.file)
    max_weight = None if args.max_weight is None else number_arg(args.max_weight, "max-weight")
    reduction = workflows.make_reduction(
        "clique",
        k=None if args.half else args.k,
        p=args.p,
        max_weight=max_weight,
        relation=args.relation,
        half=args.half,
    )
    problem = workflows.apply_reduction(reduction, graph, args.file)
    params = problem.source.parameters
    expected = workflows.expected_clique(
        graph, int(params["k"]), Fraction(params["max_weight"]), args.relation, args.expected
    )
    described = (
        f"{Path(args.file).name} ({graph.n} vertices, {len(graph.edges)} edges, k={params['k']})"
    )
    return _finish_reduction(
        args, problem, [args.file], args.file, "source.graph", expected, described, "Theorem 6"
    )


def cmd_reduce_vc(args: argparse.Namespace) -> int:
    """``geninv reduce vertex-cover``: vertex cover of size at most Q to an inversion instance
    (the paper's section 5.3)."""
    from geninv.io.graphs import read_graph

    parse_norm(args.p, "--p")  # a number >= 1 within the norm_p limit, before any work
    graph = read_graph(args.file)
    reduction = workflows.make_reduction(
        "vertex-cover", q=args.size, p=args.p, relation=args.relation
    )
    problem = workflows.apply_reduction(reduction, graph, args.file)
    expected = workflows.expected_vertex_cover(graph, args.size, args.expected)
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


def cmd_lift(args: argparse.Namespace) -> int:
    """``geninv lift DIR``: the binary/sign instance lifted to real latents (Theorem 4's gadget),
    written as a new folder; exit 0."""
    src_dir = Path(args.dir)
    problem = load_instance(src_dir)
    lifted = workflows.lift_instance(problem)
    written = workflows.save_lifted(problem, lifted, src_dir, args.output, force=args.force)
    net = lifted.network
    out(
        f"lifted {src_dir.name} ({problem.domain.kind}^{problem.n}) -> real latent, "
        f"depth {net.depth}, widths {net.widths}; scale s = {workflows.lift_scale(lifted)}; "
        f"wrote {written}"
    )
    return EXIT_OK
