"""SATLIB uniform random 3-SAT through geninv's reductions, against CaDiCaL and Marabou.

Per instance of each family in ``../shared/data/cnf`` (uf* satisfiable, uuf*
unsatisfiable, by SATLIB's definition; every answer is checked against that):

* **Theorem 1** (sign latents): the network is solved by geninv's ``sat`` backend
  (``solve(problem, "sat")``, which compiles it back to CNF and runs its CDCL
  solver); the source CNF is solved directly by the same CaDiCaL (PySAT
  ``cadical195``, the sat backend's default; ``--cadical`` picks another):
  solver construction + ``solve()``, in this process, without a time limit.
  The per-family figure is the median over instances of the time ratio
  sat/CaDiCaL, so it measures what inverting the network costs on top of
  solving the formula (compilation, the time-limited solver calls, the exact
  re-check of the witness).
  The baseline CSV (``../shared/data/baselines/sat_pysat_times.csv``, CaDiCaL
  1.9.5, median of 3, measured earlier on this kind of machine) is quoted beside.
* **Theorem 2** (real latents, clamped to [-1, 1]): the network is solved by
  ``milp`` and by ``auto``, and exported with ``save_instance`` (ONNX +
  ``property.vnnlib``) for Marabou (``maraboupy``: ``read_onnx`` + the VNN-LIB
  property; sat -> yes, unsat -> no; its "yes" witness is re-checked exactly).

Every solver gets ``--limit`` seconds per instance; "solved" = a correct yes/no
within it.  ``geninv`` time is the whole ``solve`` call (encoding included, the
reduction itself not: that is the "reduce" column).

Usage::

    python bench/bench_satlib.py --quick            # about a minute
    python bench/bench_satlib.py                    # uf20..uf100, uuf50..uuf100, 5 each, 60 s
    python bench/bench_satlib.py --all              # + uf125..uf250, uuf125..uuf250

Writes ``bench/out/satlib.png``, ``satlib.csv`` (one row per instance and solver)
and ``satlib.txt`` (the printed tables).
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
from common import (
    SHARED,
    Run,
    add_row,
    check_witness,
    fmt_s,
    fmt_x,
    machine_line,
    make_table,
    marabou_available,
    median,
    not_available,
    output_args,
    output_name,
    print_table,
    pyplot,
    run_geninv,
    run_marabou,
    sat_backend,
    save_csv,
    save_figure,
    save_text,
    say,
    timed,
)
from rich.markup import escape

DEFAULT_FAMILIES = ("uf20", "uf50", "uf75", "uf100", "uuf50", "uuf75", "uuf100")
LARGER_FAMILIES = ("uf125", "uf150", "uf200", "uf250", "uuf125", "uuf150", "uuf200", "uuf250")
#: Theorem 1 runs shorter than this (both sides) are timed REPEATS times, alternately.
SHORT_RUN = 0.05
REPEATS = 7
QUICK = {"instances": 2, "limit": 5.0, "t2_families": "uf20,uuf50"}
CNF_DIR = SHARED / "cnf"
BASELINE_CSV = SHARED / "baselines" / "sat_pysat_times.csv"


def family_files(family: str, count: int) -> list[Path]:
    """The first ``count`` files (sorted) of SATLIB family ``family`` (e.g. 'uf50')."""
    dirs = sorted(CNF_DIR.glob(f"{family}-*"))
    if not dirs:
        raise SystemExit(f"no folder {CNF_DIR}/{family}-* (families: {available_families()})")
    return sorted(dirs[0].glob("*.cnf"))[:count]


def available_families() -> str:
    return ", ".join(sorted(d.name.split("-")[0] for d in CNF_DIR.glob("u*f*-*")))


def baseline_times() -> dict[str, float]:
    """instance file name -> CaDiCaL 1.9.5 total wall seconds (median of 3) from the CSV."""
    out: dict[str, float] = {}
    if not BASELINE_CSV.is_file():
        return out
    with open(BASELINE_CSV, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["solver"] == "cadical195":
                out[row["instance"]] = float(row["total_wall_s_median3"])
    return out


def cadical(clauses: list[list[int]], solver: str) -> tuple[bool, float]:
    from pysat.solvers import Solver

    def go() -> bool:
        with Solver(name=solver, bootstrap_with=clauses) as s:
            ok = bool(s.solve())
            if ok:  # a SAT answer comes with its model (SAT competition rules; geninv's z)
                s.get_model()
            return ok

    return timed(go)


def settle(
    run: Run,
    t_peer: float,
    again: Callable[[], Run],
    again_peer: Callable[[], float],
    limit: float,
    wrong: list[str],
    name: str,
) -> tuple[float, int]:
    """Repeat a short geninv run and its peer; returns (peer time, repeats).

    Runs under ``SHORT_RUN`` on both sides: one timing is mostly noise (cache
    state, the shared machine), so both run ``REPEATS`` times, alternately, and
    the medians count (``run.seconds`` is replaced).  ``again`` must reduce the
    instance afresh, so that no geninv run finds warm caches.  A repeat whose
    answer differs from the first is recorded in ``wrong``.
    """
    if not run.solved(limit) or max(run.seconds, t_peer) >= SHORT_RUN:
        return t_peer, 1
    peers, ours = [t_peer], [run.seconds]
    for _ in range(REPEATS - 1):
        peers.append(again_peer())
        rerun = again()
        if rerun.status != run.status:
            wrong.append(f"{name}: {run.solver} says {run.status}, then {rerun.status}")
        ours.append(rerun.seconds)
    run.seconds = median(ours)
    return median(peers), REPEATS


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", help=f"comma list (default {','.join(DEFAULT_FAMILIES)})")
    ap.add_argument("--all", action="store_true", help="add " + ",".join(LARGER_FAMILIES))
    ap.add_argument("--t2-families", help="families for the Theorem 2 part (default: --families)")
    ap.add_argument("--instances-per-family", type=int, default=5)
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per instance and solver")
    ap.add_argument("--seed", type=int, default=0, help="solver seed (HiGHS random_seed)")
    ap.add_argument(
        "--cadical",
        default="cadical195",
        help="PySAT name of the peer solver (default: the sat backend's own, cadical195)",
    )
    ap.add_argument("--sat-solver", help="solver option of the sat backend (default: its own)")
    ap.add_argument("--no-t1", action="store_true", help="skip the Theorem 1 part")
    ap.add_argument("--no-t2", action="store_true", help="skip the Theorem 2 part")
    ap.add_argument("--no-marabou", action="store_true")
    ap.add_argument(
        "--t2-methods", default="milp,auto", help="geninv methods for Theorem 2 (comma list)"
    )
    ap.add_argument(
        "--marabou-families", help="Theorem 2 families Marabou runs on (default: all of them)"
    )
    output_args(ap, f"about a minute: {QUICK}")
    ap.add_argument("--name", help="output file stem (default satlib)")
    args = ap.parse_args(argv)
    name = args.name or output_name(args, "satlib")
    if args.quick:
        args.instances_per_family = QUICK["instances"]
        args.limit = QUICK["limit"]
        args.t2_families = args.t2_families or QUICK["t2_families"]
    families = args.families.split(",") if args.families else list(DEFAULT_FAMILIES)
    if args.all:
        families += [f for f in LARGER_FAMILIES if f not in families]
    t2_families = args.t2_families.split(",") if args.t2_families else families

    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    sat_ok, sat_why = sat_backend()
    mar_ok, mar_why = (False, "--no-marabou") if args.no_marabou else marabou_available()
    say(f"sat backend: {'available' if sat_ok else 'not available: ' + sat_why}")
    say(f"marabou: {mar_why if mar_ok else 'not available: ' + mar_why}")
    sat_options = {"solver": args.sat_solver} if args.sat_solver else None
    rows: list[dict[str, Any]] = []
    if not args.no_t1:
        rows += theorem1(families, args, sat_ok, sat_why, sat_options)
    if not args.no_t2:
        rows += theorem2(t2_families, args, mar_ok, mar_why)
    total = time.perf_counter() - start
    say(f"total wall time: {total:.0f} s")
    save_csv(name, rows)
    if not args.no_plot:
        plot(rows, args.limit, name)
    save_text(name)
    return {"name": name, "rows": rows}


# ------------------------------------------------------------------ Theorem 1
def theorem1(
    families: list[str],
    args: argparse.Namespace,
    sat_ok: bool,
    sat_why: str,
    sat_options: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    from geninv.io.dimacs import read_cnf
    from geninv.reductions.sat import SatReduction

    limit = args.limit
    base = baseline_times()
    rows: list[dict[str, Any]] = []
    # warm-up (imports, first solver construction) so that the first instance is fair
    warm = read_cnf(family_files(families[0], 1)[0])
    cadical([list(c) for c in warm.clauses], args.cadical)
    if sat_ok:
        run_geninv(SatReduction("sign").apply(warm)[0], "sat", limit, options=sat_options)
    table = make_table(
        f"Theorem 1 (sign latents): geninv sat vs {args.cadical} on the source CNF "
        f"({args.instances_per_family} per family, limit {limit:g} s)",
        [
            "family",
            "vars/clauses",
            "expect",
            "sat solved",
            "sat median",
            "(encode)",
            "(solve)",
            f"{args.cadical} solved",
            f"{args.cadical} median",
            "median ratio sat/CaDiCaL",
            "CSV cadical195 median",
            "wrong",
        ],
    )
    for fam in families:
        files = family_files(fam, args.instances_per_family)
        expect = not fam.startswith("uuf")
        sat_runs: list[Run] = []
        cad: list[tuple[bool, float]] = []
        ratios: list[float] = []
        wrong: list[str] = []
        shape = ""
        for path in files:
            cnf = read_cnf(path)
            shape = f"{cnf.n_vars}/{cnf.n_clauses}"
            (problem, _), t_reduce = timed(lambda cnf=cnf: SatReduction("sign").apply(cnf))
            answer, t_cad = cadical([list(c) for c in cnf.clauses], args.cadical)
            if answer != expect:
                wrong.append(f"{path.name}: {args.cadical} says {answer}")
            if sat_ok:
                run = run_geninv(problem, "sat", limit, seed=args.seed, options=sat_options)
            else:
                run = not_available("sat", sat_why)
            t_cad, repeats = settle(
                run,
                t_cad,
                lambda cnf=cnf: run_geninv(
                    SatReduction("sign").apply(cnf)[0],
                    "sat",
                    limit,
                    seed=args.seed,
                    options=sat_options,
                ),
                lambda cnf=cnf: cadical([list(c) for c in cnf.clauses], args.cadical)[1],
                limit,
                wrong,
                path.name,
            )
            cad.append((answer, t_cad))
            sat_runs.append(run)
            if run.status in ("yes", "no") and (run.status == "yes") != expect:
                wrong.append(f"{path.name}: sat says {run.status}")
            if run.solved(limit) and t_cad > 0:
                ratios.append(run.seconds / t_cad)
            rows.append(
                {
                    "part": "theorem1",
                    "family": fam,
                    "instance": path.name,
                    "expected": "yes" if expect else "no",
                    "solver": "sat",
                    "status": run.status,
                    "seconds": run.seconds,
                    "encode_seconds": run.extra.get("encode_seconds"),
                    "solve_seconds": run.extra.get("solve_seconds"),
                    "sat_solver": run.extra.get("solver"),
                    "reduce_seconds": t_reduce,
                    "repeats": repeats,
                    "note": run.note,
                }
            )
            rows.append(
                {
                    "part": "theorem1",
                    "family": fam,
                    "instance": path.name,
                    "expected": "yes" if expect else "no",
                    "solver": args.cadical,
                    "status": "yes" if answer else "no",
                    "seconds": t_cad,
                    "repeats": repeats,
                    "csv_cadical195_seconds": base.get(path.name),
                }
            )
        n = len(files)
        if sat_ok:
            ok = sum(r.solved(limit) and (r.status == "yes") == expect for r in sat_runs)
            sat_cells = [
                f"{ok}/{n}",
                fmt_s(median(r.seconds for r in sat_runs)),
                fmt_s(median(float(r.extra.get("encode_seconds", math.nan)) for r in sat_runs)),
                fmt_s(median(float(r.extra.get("solve_seconds", math.nan)) for r in sat_runs)),
            ]
            ratio = fmt_x(median(ratios))
            if len(ratios) < n:
                ratio += f" ({len(ratios)} of {n})"
        else:
            sat_cells = ["sat: not available", "-", "-", "-"]
            ratio = "-"
        cad_ok = sum(a == expect and t <= limit for a, t in cad)
        csv_med = median(base[p.name] for p in files if p.name in base)
        add_row(
            table,
            fam,
            shape,
            "SAT" if expect else "UNSAT",
            *sat_cells,
            f"{cad_ok}/{n}",
            fmt_s(median(t for _, t in cad)),
            ratio,
            fmt_s(csv_med),
            str(len(wrong)) if not wrong else "; ".join(wrong),
        )
    used = sorted({str(r["sat_solver"]) for r in rows if r.get("sat_solver")})
    table.caption = escape(
        f"sat backend's solver: {', '.join(used) or '-'}; "
        "'encode' / 'solve' = its CNF "
        "compilation / CDCL call (stats.encode_seconds / solve_seconds); runs under "
        f"{SHORT_RUN * 1000:.0f} ms on both sides: median of {REPEATS} alternate runs "
        "(fresh problem each, see settle()); CSV = ../shared/data/baselines (measured "
        "earlier, not in this run)"
    )
    print_table(table)
    if not sat_ok:
        say(f"sat: not available ({sat_why})")
    return rows


# ------------------------------------------------------------------ Theorem 2
def theorem2(
    families: list[str], args: argparse.Namespace, mar_ok: bool, mar_why: str
) -> list[dict[str, Any]]:
    from geninv.io.dimacs import read_cnf
    from geninv.io.instance import NETWORK_FILE, VNNLIB_FILE, save_instance
    from geninv.reductions.sat import SatReduction

    limit = args.limit
    inst_root = common.OUT / "instances" / "satlib-thm2"
    shutil.rmtree(inst_root, ignore_errors=True)
    rows: list[dict[str, Any]] = []
    methods = [m for m in args.t2_methods.split(",") if m]
    mar_fams = set(args.marabou_families.split(",")) if args.marabou_families else set(families)
    columns = ["family", "n / widths", "expect"]
    for m in methods:
        columns += [f"{m} solved", f"{m} y/n/?", f"{m} median"]
        if m == "auto":
            columns.append("auto chose")
    columns += [
        f"{args.cadical} median",
        "median ratio auto/CaDiCaL" if "auto" in methods else f"median ratio {methods[0]}/CaDiCaL",
        "Marabou solved",
        "Marabou y/n/?",
        "Marabou median",
        "wrong",
    ]
    table = make_table(
        f"Theorem 2 (real latents): geninv {', '.join(methods)} vs Marabou on ONNX + VNN-LIB "
        f"({args.instances_per_family} per family, limit {limit:g} s)",
        columns,
        caption="median over all instances, a timeout counted at the time it took; "
        "y/n/? = yes / no / unknown (time limit) answers; Marabou time = read ONNX + "
        f"property + solve, single worker; the ratio's method and CaDiCaL: runs under "
        f"{SHORT_RUN * 1000:.0f} ms on both sides are the median of {REPEATS} alternate runs",
    )
    for fam in families:
        files = family_files(fam, args.instances_per_family)
        expect = not fam.startswith("uuf")
        runs: dict[str, list[Run]] = defaultdict(list)
        wrong: list[str] = []
        shape = ""
        ratio_of = "auto" if "auto" in methods else methods[0]
        ratios: list[float] = []
        cad_times: list[float] = []
        for path in files:
            cnf = read_cnf(path)
            problem, inverse = SatReduction("real").apply(cnf)
            shape = f"{problem.n} / {','.join(map(str, problem.network.widths))}"
            inst = save_instance(problem, inst_root / path.stem, force=True)
            for method in methods:
                runs[method].append(run_geninv(problem, method, limit, seed=args.seed))
            _, t_cad = cadical([list(c) for c in cnf.clauses], args.cadical)
            t_cad, _ = settle(
                runs[ratio_of][-1],
                t_cad,
                lambda cnf=cnf, m=ratio_of: run_geninv(
                    SatReduction("real").apply(cnf)[0], m, limit, seed=args.seed
                ),
                lambda cnf=cnf: cadical([list(c) for c in cnf.clauses], args.cadical)[1],
                limit,
                wrong,
                path.name,
            )
            cad_times.append(t_cad)
            if runs[ratio_of][-1].solved(limit) and t_cad > 0:
                ratios.append(runs[ratio_of][-1].seconds / t_cad)
            if mar_ok and fam in mar_fams:
                mrun = run_marabou(inst / NETWORK_FILE, inst / VNNLIB_FILE, limit)
                if mrun.status == "yes" and "z" in mrun.extra:
                    z = mrun.extra["z"]
                    meets, dist = check_witness(problem, z)
                    assignment = SatReduction.decode(z, inverse)
                    mrun.extra["exact_check"] = meets
                    mrun.extra["distance"] = dist
                    mrun.extra["decodes_to_model"] = cnf.evaluate(assignment)
                    if not meets:
                        mrun.note = (
                            f"witness misses exactly (distance {dist:.2g}); decoded assignment "
                            f"{'satisfies' if mrun.extra['decodes_to_model'] else 'falsifies'} "
                            "the formula"
                        )
            else:
                why = mar_why if not mar_ok else "not run on this family (--marabou-families)"
                mrun = not_available("marabou", why)
            runs["marabou"].append(mrun)
            mine = [runs[m][-1] for m in methods]
            say(
                f"{path.name:14s} "
                + "  ".join(f"{r.solver} {r.status} {fmt_s(r.seconds)}" for r in (*mine, mrun))
                + f"  {args.cadical} {fmt_s(t_cad)}"
            )
            for run in (*mine, mrun):
                if run.status in ("yes", "no") and (run.status == "yes") != expect:
                    wrong.append(f"{path.name}: {run.solver} says {run.status}")
                rows.append(
                    {
                        "part": "theorem2",
                        "family": fam,
                        "instance": path.name,
                        "expected": "yes" if expect else "no",
                        "solver": run.solver,
                        "status": run.status,
                        "seconds": run.seconds,
                        "chosen": run.extra.get("chosen"),
                        "exact_check": run.extra.get("exact_check"),
                        "note": run.note,
                    }
                )
            rows.append(
                {
                    "part": "theorem2",
                    "family": fam,
                    "instance": path.name,
                    "expected": "yes" if expect else "no",
                    "solver": args.cadical,
                    "status": "source CNF",
                    "seconds": t_cad,
                    "note": f"the peer of the {ratio_of} ratio",
                }
            )
        n = len(files)

        def cells(rs: list[Run], expect: bool = expect, n: int = n) -> list[str]:
            if rs and rs[0].status == "n/a":
                return ["n/a", "-", "-"]
            good = sum(r.solved(limit) and (r.status == "yes") == expect for r in rs)
            counts = "/".join(str(sum(r.status == s for r in rs)) for s in ("yes", "no", "unknown"))
            other = sum(r.status in ("refused", "error") for r in rs)
            if other:
                counts += f" +{other} err"
            return [f"{good}/{n}", counts, fmt_s(median(r.seconds for r in rs))]

        mine_cells: list[str] = []
        for m in methods:
            mine_cells += cells(runs[m])
            if m == "auto":
                mine_cells.append(
                    ",".join(sorted({str(r.extra.get("chosen", r.status)) for r in runs["auto"]}))
                )
        mar = cells(runs["marabou"])
        if mar[0] == "n/a":
            mar = ["n/a", "-", "-"]
        ratio = fmt_x(median(ratios))
        if len(ratios) < n:
            ratio += f" ({len(ratios)} of {n})"
        add_row(
            table,
            fam,
            shape,
            "SAT" if expect else "UNSAT",
            *mine_cells,
            fmt_s(median(cad_times)),
            ratio,
            *mar,
            str(len(wrong)) if not wrong else "; ".join(wrong),
        )
    print_table(table)
    notes = sorted({r["note"] for r in rows if r.get("note") and r["solver"] == "marabou"})
    for note in notes:
        say(f"marabou note: {note}")
    say(f"instances written to {inst_root}")
    return rows


# ------------------------------------------------------------------ plot
def plot(rows: list[dict[str, Any]], limit: float, name: str) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    t1 = [r for r in rows if r["part"] == "theorem1"]
    by_inst: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in t1:
        by_inst[r["instance"]][r["solver"]] = r
    fams = sorted({r["family"] for r in t1}, key=lambda f: (f.startswith("uuf"), len(f), f))
    for fam in fams:
        pts = [
            (d[s]["seconds"], d["sat"]["seconds"])
            for d in by_inst.values()
            for s in d
            if s != "sat"
            and "sat" in d
            and d[s]["family"] == fam
            and d["sat"]["status"] in ("yes", "no")
        ]
        if pts:
            ax1.scatter(*zip(*pts, strict=True), label=fam, s=18)
    if t1:
        lo = min(r["seconds"] for r in t1 if r["seconds"] == r["seconds"])
        hi = max(limit, max(r["seconds"] for r in t1 if r["seconds"] == r["seconds"]))
        for k in (1, 10, 100, 1000):
            ax1.plot([lo, hi], [lo * k, hi * k], lw=0.6, color="grey", ls=":")
            ax1.annotate(f"{k}x", (lo * 1.1, lo * k * 1.2), fontsize=7, color="grey")
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.set_xlabel("CaDiCaL on the source CNF (s)")
        ax1.set_ylabel("geninv sat on the Theorem 1 network (s)")
        ax1.set_title("Theorem 1: per instance")
        ax1.legend(fontsize=7)
    else:
        ax1.axis("off")
    t2 = [r for r in rows if r["part"] == "theorem2" and r["status"] != "n/a"]
    if t2:
        fams2 = sorted({r["family"] for r in t2}, key=lambda f: (f.startswith("uuf"), len(f), f))
        solvers = ["milp", "auto", "marabou"]
        for j, s in enumerate(solvers):
            xs, ys, marks = [], [], []
            for i, fam in enumerate(fams2):
                for r in t2:
                    if r["family"] == fam and r["solver"] == s:
                        xs.append(i + (j - 1) * 0.22)
                        ys.append(min(r["seconds"], limit * 1.5))
                        marks.append(r["status"] in ("yes", "no"))
            ax2.scatter(
                [x for x, m in zip(xs, marks, strict=True) if m],
                [y for y, m in zip(ys, marks, strict=True) if m],
                label=f"{s} (answered)",
                s=20,
                color=f"C{j}",
            )
            ax2.scatter(
                [x for x, m in zip(xs, marks, strict=True) if not m],
                [y for y, m in zip(ys, marks, strict=True) if not m],
                label=f"{s} (no answer)",
                s=30,
                marker="x",
                color=f"C{j}",
            )
        ax2.axhline(limit, color="grey", ls="--", lw=0.8)
        ax2.set_xticks(range(len(fams2)), fams2)
        ax2.set_yscale("log")
        ax2.set_ylabel("seconds")
        ax2.set_title(f"Theorem 2 (real latents), limit {limit:g} s")
        ax2.legend(fontsize=7)
    else:
        ax2.axis("off")
    save_figure(fig, name)


if __name__ == "__main__":
    main()
