"""``geninv lab``: run a sweep (``run SPEC``, ``quick``) into a results store, export
the store as a table (``export-table``), fit its scaling (``fit``) and write an HTML
report of it (``report``).  The work is in
:mod:`geninv.lab`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from geninv.cli.common import EXIT_FAIL, EXIT_OK, out


def _run(args: argparse.Namespace, spec: object) -> int:
    from geninv.lab.runner import run_sweep
    from geninv.lab.spec import Spec

    assert isinstance(spec, Spec)
    res = run_sweep(
        spec,
        args.store,
        resume=args.resume,
        scheduler=args.scheduler,
        workers=args.workers,
        inline=args.inline,
        progress=not args.no_progress,
    )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(res.counts.items())) or "none"
    out(
        f"{spec.name}: {res.planned} cells, {res.skipped} already in {args.store}, "
        f"{res.recorded} recorded now, {res.lost} lost, {res.seconds:.1f} s "
        f"(answers in the store: {counts})"
    )
    for line in res.errors[:10]:
        sys.stderr.write(f"geninv: lost cell (not recorded; --resume reruns it): {line}\n")
    for line in res.disagreements[:20]:
        sys.stderr.write(f"geninv: DISAGREEMENT: {line}\n")
    if res.lost:
        out(f"{res.lost} cell(s) lost; rerun with --resume to finish them")
    return EXIT_FAIL if res.lost or res.disagreements else EXIT_OK


def cmd_lab_run(args: argparse.Namespace) -> int:
    """``geninv lab run SPEC``: every cell of the spec not yet in the store; each row is
    written as its cell finishes."""
    from geninv.lab.spec import read_spec

    return _run(args, read_spec(args.spec))


def cmd_lab_quick(args: argparse.Namespace) -> int:
    """``geninv lab quick``: the built-in small spec (a few minutes on 2 cores), with
    the options of ``lab run``."""
    from geninv.lab.spec import quick_spec

    return _run(args, quick_spec())


def cmd_lab_export_table(args: argparse.Namespace) -> int:
    """``geninv lab export-table DB -o FILE``: the store's rows as CSV (or Parquet with pyarrow)."""
    from geninv.lab.store import export_table

    n = export_table(args.db, args.output, force=args.force)
    out(f"wrote {n} row(s) to {args.output}")
    return EXIT_OK


def cmd_lab_fit(args: argparse.Namespace) -> int:
    """``geninv lab fit DB``: the fitted base of the exponential in n per solver and
    family, time-outs censored, with a bootstrap 95 % interval (:mod:`geninv.lab.fit`)."""
    from geninv.lab.fit import fit_store

    fits = fit_store(
        args.db, floor_seconds=args.floor, rounds=args.rounds, seed=args.seed, answer=args.answer
    )
    out(
        f"{'family':<20} {'solver':<11} {'cells':>5} {'decided':>7} {'t/o':>4} {'excl':>4} "
        f"{'n':>9}  base 2^b [95% interval]   ratio to source"
    )
    for f in fits:
        if f.base is None:
            fitted = f"- ({f.reason})"
        elif f.low is None or f.high is None:
            fitted = f"{f.base:.4f} (no interval: {f.reason})"
        else:
            fitted = f"{f.base:.4f} [{f.low:.4f}, {f.high:.4f}]"
        ratio = "" if f.ratio_to_source is None else f"   {f.ratio_to_source:.3f}"
        sizes = f"{f.n_min}-{f.n_max}"
        out(
            f"{f.family:<20} {f.solver:<11} {f.cells:>5} {f.decided:>7} {f.censored:>4} "
            f"{f.excluded:>4} {sizes:>9}  {fitted}{ratio}"
        )
    return EXIT_OK


def cmd_lab_report(args: argparse.Namespace) -> int:
    """``geninv lab report DB -o DIR``: a static HTML page of the store (figures as SVG,
    the fitted bases, success rates, cell counts, specs, versions) and PNGs for a README
    (:mod:`geninv.lab.report`)."""
    from geninv.lab.report import write_report

    rep = write_report(
        args.db,
        args.output,
        force=args.force,
        floor_seconds=args.floor,
        rounds=args.rounds,
        seed=args.seed,
    )
    main_plot = "png/time_vs_n.png"
    where = f"; main plot {rep.directory}/{main_plot}" if main_plot in rep.figures else ""
    out(
        f"wrote {rep.directory}/index.html ({rep.cells} cell(s), "
        f"{len(rep.figures)} figure file(s){where})"
    )
    return EXIT_OK


def cmd_lab_export(args: argparse.Namespace) -> int:
    """``geninv lab export DB -o DIR``: a benchmark release in the VNN-COMP layout with
    ground truth (:mod:`geninv.lab.export`); what was left out is named on stderr."""
    from geninv.lab.export import Selection, export_release

    sel = Selection(
        tuple(args.family or ()), args.solver, args.n_max, args.limit, args.include_unknown
    )
    res = export_release(
        args.db,
        args.output,
        sel,
        timeout=args.timeout,
        witness_limit=args.witness_limit,
        force=args.force,
    )
    for line in res.conflicts:
        sys.stderr.write(f"geninv: left out (answers disagree): {line}\n")
    for line in res.peer_disagreements:
        sys.stderr.write(f"geninv: PEER DISAGREES with the ground truth: {line}\n")
    if res.omitted:
        sys.stderr.write(f"geninv: {len(res.omitted)} coordinate(s) left out (manifest.json)\n")
    counts = ", ".join(f"{v} {k}" for k, v in sorted(res.answers.items()))
    out(f"wrote {len(res.exported)} instance(s) ({counts}) to {args.output}")
    for peer, tally in sorted(res.peers.items()):
        out(f"  peer {peer}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    return EXIT_OK


def cmd_lab_check_release(args: argparse.Namespace) -> int:
    """``geninv lab check-release DIR``: every pair through geninv (as ``geninv solve
    --onnx --vnnlib`` reads it) and onnxruntime against the ground truth; exit 1 on a
    contradiction, a failing witness or a disagreement (:mod:`geninv.lab.release`)."""
    from geninv.lab.release import check_release

    res = check_release(
        args.dir, method=args.method, time_limit=args.time_limit, points=args.points
    )
    truth = ", ".join(f"{v} {k}" for k, v in sorted(res.truth.items()))
    out(f"{res.instances} instance(s) ({truth}) in {res.seconds:.1f} s")
    out(
        f"geninv ({args.method}): {res.agree} agree with the ground truth, {res.unknown} unknown, "
        f"{res.contradictions} contradict it"
    )
    for fam, counts in sorted(res.by_family.items()):
        out(f"  {fam}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    out(
        f"witnesses: {res.witnesses_ok}/{res.witnesses} hold (exactly, and in onnxruntime); "
        f"onnxruntime vs geninv at {res.points} random points: max relative difference "
        f"{res.max_rel_diff:.3g}"
    )
    for line in res.failures[:50]:
        sys.stderr.write(f"geninv: FAILED: {line}\n")
    return EXIT_OK if res.ok else EXIT_FAIL


def add_lab_parser(sub: Any) -> None:
    """The ``lab`` command and its subcommands, on the program's subparsers ``sub``."""
    from geninv.cli.common import Parser

    lab = sub.add_parser("lab", help="the hardness lab: sweeps into a resumable results store")
    lsub = lab.add_subparsers(dest="lab_command", required=True, parser_class=Parser)
    run = lsub.add_parser("run", help="run a sweep spec (TOML; docs/lab.md)")
    run.add_argument("spec", help="sweep spec, TOML")
    quick = lsub.add_parser("quick", help="the built-in small sweep (a few minutes on 2 cores)")
    for p, func in ((run, cmd_lab_run), (quick, cmd_lab_quick)):
        p.add_argument(
            "--store", default="geninv-lab.db", help="results store (default ./geninv-lab.db)"
        )
        p.add_argument("--resume", action="store_true", help="skip the cells already in the store")
        p.add_argument(
            "--scheduler", default=None, help="tcp://HOST:PORT of a running Dask scheduler"
        )
        p.add_argument(
            "--workers", type=int, default=2, help="local Dask worker processes (default 2)"
        )
        p.add_argument(
            "--inline", action="store_true", help="run the cells in this process, without Dask"
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(func=func)
    exp = lsub.add_parser("export-table", help="write a store's rows as CSV or Parquet")
    exp.add_argument("db", help="results store (.db)")
    exp.add_argument("-o", "--output", required=True, help="FILE.csv or FILE.parquet (pyarrow)")
    exp.add_argument("--force", action="store_true", help="replace an existing output file")
    exp.set_defaults(func=cmd_lab_export_table)
    fit = lsub.add_parser(
        "fit", help="fitted base of the exponential in n per solver and family (time-outs censored)"
    )
    fit.add_argument("db", help="results store (.db)")
    fit.add_argument(
        "--floor",
        type=float,
        default=1e-3,
        metavar="SECONDS",
        help="times below this are timer noise, censored at it (default 0.001)",
    )
    fit.add_argument(
        "--rounds", type=int, default=200, help="bootstrap refits for the interval (default 200)"
    )
    fit.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (default 0)")
    fit.add_argument(
        "--answer",
        choices=("yes", "no"),
        default=None,
        help="fit only instances whose answer is known to be this one (no: the time to "
        "refute, a complete search's time)",
    )
    fit.set_defaults(func=cmd_lab_fit)
    rep = lsub.add_parser(
        "report", help="write a static HTML report of a store (SVG plots, tables)"
    )
    rep.add_argument("db", help="results store (.db)")
    rep.add_argument("-o", "--output", required=True, help="directory to write (index.html ...)")
    rep.add_argument("--force", action="store_true", help="replace an existing report directory")
    rep.add_argument(
        "--floor",
        type=float,
        default=1e-3,
        metavar="SECONDS",
        help="fit: times below this are censored at it (default 0.001)",
    )
    rep.add_argument("--rounds", type=int, default=200, help="fit: bootstrap refits (default 200)")
    rep.add_argument("--seed", type=int, default=0, help="fit: the bootstrap's seed (default 0)")
    rep.set_defaults(func=cmd_lab_report)
    _add_release_parsers(lsub)


def _add_release_parsers(lsub: Any) -> None:
    """``lab export`` and ``lab check-release``."""
    rel = lsub.add_parser(
        "export", help="a benchmark release: VNN-COMP layout with ground truth (docs/lab.md)"
    )
    rel.add_argument("db", help="results store (.db)")
    rel.add_argument("-o", "--output", required=True, help="release folder to write")
    rel.add_argument("--family", action="append", help="only this family (repeatable)")
    rel.add_argument("--solver", default=None, help="only instances this solver ran on")
    rel.add_argument("--n-max", type=int, default=None, help="only instances with n <= N")
    rel.add_argument("--limit", type=int, default=None, help="at most K instances (mixed)")
    rel.add_argument(
        "--timeout", type=float, default=300.0, help="instances.csv timeout (default 300 s)"
    )
    rel.add_argument(
        "--witness-limit",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds to find each sat instance's witness (default 30)",
    )
    rel.add_argument(
        "--include-unknown",
        action="store_true",
        help="also release instances with no definite answer (ground truth 'unknown')",
    )
    rel.add_argument("--force", action="store_true", help="replace a release geninv wrote")
    rel.set_defaults(func=cmd_lab_export)
    chk = lsub.add_parser("check-release", help="check a release through geninv and onnxruntime")
    chk.add_argument("dir", help="release folder (geninv lab export)")
    chk.add_argument("--method", default="auto", help="geninv backend (default auto)")
    chk.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per instance (default: the instance's timeout)",
    )
    chk.add_argument("--points", type=int, default=3, help="random points per instance (default 3)")
    chk.set_defaults(func=cmd_lab_check_release)
