"""Random two-layer ReLU generators (20-100-200), l_inf inversion just inside the boundary.

Instance k (``numpy.random.default_rng([seed, k])``): G(z) = W2 ReLU(W1 z + b1) + b2
with n-h-m = ``--dims`` (default 20-100-200), W_l ~ N(0, 1/fan_in) and
b_l ~ N(0, 0.01) (variances: std 1/sqrt(fan_in) and ``--bias-std`` = 0.1), latent
box [-1, 1]^n, a point z* uniform in the box and the target
x = G(z*) + uniform noise in [-0.1, 0.1]^m.  The question is
"is there z in the box with ||G(z) - x||_inf <= r?".

The radius r (``--radius``):

* ``auto`` (default): the minimum distance d* from geninv ``milp`` in optimize
  mode (``options={"mode": "optimize"}``, at most ``--optimize-limit`` seconds;
  the result is cached in ``bench/out/random_nets_dstar.json`` per instance and
  seed, as it is the expensive step).  When d* is proven (lower bound = best
  distance up to the MILP tolerance), r = lower bound * (1 - ``--gap``): just
  below the boundary, a *no* instance -- the hard case.  Otherwise (not proven,
  or ``--optimize-limit 0`` and nothing cached) r = 0.097, the issue's value, and
  the expected answer is known only when the bounds found decide it.
* a number (``--radius 0.097``): that radius, no optimisation.

Solvers, each with ``--limit`` seconds: geninv ``milp``, ``milp-scip`` and
``auto`` (decide mode, with ``trust_solver``: their *no* is HiGHS's or SCIP's
floating-point word, accepted unchecked), and Marabou on the same instance
exported with ``save_instance`` (ONNX + ``property.vnnlib``; sat -> yes,
unsat -> no; its witness is re-checked in exact arithmetic).  The issue's
measurements on its own instances (Gurobi 13 via gurobi-machinelearning,
OMLT + HiGHS, Marabou 2.0) are printed as reference rows, marked "reported,
not measured here".

Usage::

    python bench/bench_random_nets.py --quick     # 1 instance, 20 s, d* only from the cache
    python bench/bench_random_nets.py             # 5 instances, d* <= 900 s each, limit 200 s

Writes ``bench/out/random_nets.png``, ``random_nets.csv`` and ``random_nets.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from fractions import Fraction
from typing import Any

import common
import numpy as np
from common import (
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
    save_csv,
    save_figure,
    save_text,
    say,
)

ISSUE_RADIUS = 0.097
QUICK = {"instances": 1, "limit": 20.0, "optimize_limit": 0.0}
#: The issue's own measurements (its instances, its machine): quoted, never measured here.
ANCHORS = (
    ("Gurobi 13 via gurobi-machinelearning, 1 thread", "proves infeasibility in 8-27 s", 8, 27),
    ("Marabou 2.0", "times out at 200 s on most instances", 200, math.inf),
    ("OMLT + HiGHS", "times out at 200 s on most instances", 200, math.inf),
)


def make_problem(
    dims: tuple[int, int, int], seed: int, k: int, radius: float, bias_std: float
) -> tuple[Any, np.ndarray]:
    """Instance ``k``: the inversion problem at ``radius`` and the planted z*."""
    from geninv.network import ReLUNetwork
    from geninv.problem import Domain, InversionProblem

    n, h, m = dims
    rng = np.random.default_rng([seed, k])
    w1 = rng.normal(0.0, 1.0 / math.sqrt(n), (h, n))
    b1 = rng.normal(0.0, bias_std, h)
    w2 = rng.normal(0.0, 1.0 / math.sqrt(h), (m, h))
    b2 = rng.normal(0.0, bias_std, m)
    net = ReLUNetwork([w1, w2], [b1, b2], final_activation="identity")
    z_star = rng.uniform(-1.0, 1.0, n)
    x = net.forward(z_star[None, :])[0] + rng.uniform(-0.1, 0.1, m)
    problem = InversionProblem(
        net, x, Domain.box([-1] * n, [1] * n), p="inf", threshold=Fraction(radius)
    )
    return problem, z_star


def with_radius(problem: Any, radius: float) -> Any:
    from geninv.problem import InversionProblem

    return InversionProblem(
        problem.network, problem.target, problem.domain, p="inf", threshold=Fraction(radius)
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=5)
    ap.add_argument("--dims", default="20,100,200", help="n,h,m")
    ap.add_argument("--limit", type=float, default=200.0, help="seconds per instance and solver")
    ap.add_argument("--radius", default="auto", help="'auto' (d* from milp optimize) or a number")
    ap.add_argument(
        "--optimize-limit", type=float, default=900.0, help="seconds for d* (0: cache or 0.097)"
    )
    ap.add_argument("--no-cache", action="store_true", help=f"ignore {DSTAR_NAME}")
    ap.add_argument(
        "--gap",
        type=float,
        default=1e-3,
        help="r = d* (1 - gap) when d* is known (negative: a radius above d*, a yes instance)",
    )
    ap.add_argument("--bias-std", type=float, default=0.1, help="N(0, 0.01) = std 0.1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-marabou", action="store_true")
    output_args(ap, f"about a minute: {QUICK}")
    args = ap.parse_args(argv)
    name = output_name(args, "random_nets")
    if args.quick:
        args.instances = QUICK["instances"]
        args.limit = QUICK["limit"]
        args.optimize_limit = QUICK["optimize_limit"]
    dims = tuple(int(v) for v in args.dims.split(","))
    assert len(dims) == 3, "--dims takes n,h,m"

    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    mar_ok, mar_why = (False, "--no-marabou") if args.no_marabou else marabou_available()
    say(f"marabou: {mar_why if mar_ok else 'not available: ' + mar_why}")
    inst_root = common.OUT / "instances" / "random-nets"
    shutil.rmtree(inst_root, ignore_errors=True)
    from geninv.io.instance import NETWORK_FILE, VNNLIB_FILE, save_instance

    rows: list[dict[str, Any]] = []
    table = make_table(
        f"random {'-'.join(map(str, dims))} ReLU nets, z in [-1,1]^{dims[0]}, l_inf radius r "
        f"(limit {args.limit:g} s per solver)",
        [
            "instance",
            "d* (optimize)",
            "r",
            "expect",
            "milp",
            "milp-scip",
            "auto",
            "Marabou",
            "Marabou/milp-scip",
        ],
        caption="status and seconds; d* = [lower bound, best distance] from milp optimize "
        "(one number when proven); expect = the answer the radius implies",
    )
    for k in range(args.instances):
        base, z_star = make_problem(dims, args.seed, k, ISSUE_RADIUS, args.bias_std)
        planted = float(
            np.abs(base.network.forward(z_star[None, :])[0] - base.target_array()).max()
        )
        key = f"{args.dims}/seed{args.seed}/k{k}/bias{args.bias_std:g}"
        dstar_cell, radius, expect, info = choose_radius(base, key, args, planted)
        problem = with_radius(base, radius)
        inst = save_instance(problem, inst_root / f"net{k}", force=True)
        # the MILP solvers' own answers: a floating-point 'no' is accepted unchecked
        # (--trust-solver; without it such a 'no' is 'unknown')
        milp = run_geninv(problem, "milp", args.limit, seed=args.seed, trust_solver=True)
        scip = run_geninv(problem, "milp-scip", args.limit, seed=args.seed, trust_solver=True)
        auto = run_geninv(problem, "auto", args.limit, seed=args.seed, trust_solver=True)
        if mar_ok:
            mar = run_marabou(inst / NETWORK_FILE, inst / VNNLIB_FILE, args.limit)
            if mar.status == "yes" and "z" in mar.extra:
                meets, dist = check_witness(problem, mar.extra["z"])
                mar.extra["exact_check"] = meets
                mar.extra["distance"] = dist
                if not meets:
                    mar.note = (
                        f"Marabou's witness fails the exact check: distance {dist:.10g} "
                        f"exceeds r = {radius:g} by {dist - radius:.2g}"
                    )
        else:
            mar = not_available("marabou", mar_why)
        for run in (milp, scip, auto, mar):
            rows.append(
                {
                    "instance": k,
                    "radius": radius,
                    "radius_origin": info["origin"],
                    "planted_distance": planted,
                    "dstar_lower": info.get("lower"),
                    "dstar_best": info.get("best"),
                    "optimize_seconds": info.get("seconds"),
                    "expected": expect,
                    "solver": run.solver,
                    "status": run.status,
                    "seconds": run.seconds,
                    "distance": run.extra.get("distance"),
                    "exact_check": run.extra.get("exact_check"),
                    "chosen": run.extra.get("chosen"),
                    "note": run.note,
                }
            )
        ratio = censored_ratio(mar, scip, args.limit)
        say(
            f"net{k}: r = {radius:.6g} ({info['origin']}), expect {expect}: "
            + "  ".join(
                f"{r.solver} {r.status} {fmt_s(r.seconds)}" for r in (milp, scip, auto, mar)
            )
        )
        add_row(
            table,
            f"net{k}",
            dstar_cell,
            f"{radius:.6g} ({info['origin']})",
            expect,
            cell(milp, expect),
            cell(scip, expect),
            cell(auto, expect),
            cell(mar, expect) if mar.status != "n/a" else "n/a",
            ratio,
        )
    print_table(table)
    print_table(summary_table(rows, args.limit, mar_why))
    for note in sorted({str(r["note"]) for r in rows if r["note"]}):
        say(f"note: {note}")
    say(
        "Reference rows marked 'reported, not measured here' are the issue's figures for its own "
        "instances and machine; they are not reproduced by this script."
    )
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    save_csv(name, rows)
    if not args.no_plot:
        plot(rows, args.limit, name)
    save_text(name)
    return {"name": name, "rows": rows}


DSTAR_NAME = "random_nets_dstar.json"


def load_cache() -> dict[str, Any]:
    path = common.OUT / DSTAR_NAME
    if path.is_file():
        return dict(json.loads(path.read_text()))
    return {}


def store_cache(cache: dict[str, Any]) -> None:
    common.OUT.mkdir(parents=True, exist_ok=True)
    (common.OUT / DSTAR_NAME).write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")


def optimize_bounds(
    problem: Any, key: str, args: argparse.Namespace, planted: float
) -> dict[str, Any] | None:
    """{lower, best, tolerance, seconds, proven, limit} for d*, from the cache or milp optimize."""
    cache = {} if args.no_cache else load_cache()
    hit = cache.get(key)
    if hit is not None and (hit["proven"] or hit["limit"] >= args.optimize_limit):
        return {**hit, "cached": True}
    if args.optimize_limit <= 0:
        return None
    run = run_geninv(
        problem, "milp", args.optimize_limit, seed=args.seed, options={"mode": "optimize"}
    )
    lower = float(run.extra.get("lower_bound", math.nan))
    best = float(run.extra.get("best_distance", math.nan))
    best = min(best, planted) if math.isfinite(best) else planted
    tol = float(run.extra.get("tolerance", 0.0))
    found = {
        "lower": lower if math.isfinite(lower) else None,
        "best": best,
        "tolerance": tol,
        "seconds": run.seconds,
        "proven": math.isfinite(lower) and best - lower <= tol,
        "limit": args.optimize_limit,
        "status": run.status,
    }
    cache = load_cache()
    cache[key] = found
    store_cache(cache)
    return {**found, "cached": False}


def choose_radius(
    problem: Any, key: str, args: argparse.Namespace, planted: float
) -> tuple[str, float, str, dict[str, Any]]:
    """(d* cell, radius, expected answer, info) for ``--radius``."""
    if args.radius != "auto":
        r = float(args.radius)
        expect = "yes" if planted <= r else "?"
        return f"not computed (z*: {planted:.4f})", r, expect, {"origin": "given"}
    bounds = optimize_bounds(problem, key, args, planted)
    if bounds is None:
        expect = "yes" if planted <= ISSUE_RADIUS else "?"
        cell = f"not computed (no cache; z*: {planted:.4f})"
        return cell, ISSUE_RADIUS, expect, {"origin": "issue value"}
    lower, best, tol = bounds["lower"], bounds["best"], bounds["tolerance"]
    info: dict[str, Any] = {"lower": lower, "best": best, "seconds": bounds["seconds"]}
    when = "cached" if bounds["cached"] else "now"
    if bounds["proven"]:
        # gap > 0: below the proven lower bound, a "no" instance; gap < 0: above the
        # best distance found, a "yes" instance (when that distance is below r)
        r = lower * (1 - args.gap)
        info["origin"] = f"d*(1-{args.gap:g})"
        expect = "no" if args.gap > 0 else ("yes" if best <= r else "?")
        return f"{best:.6f} ({fmt_s(bounds['seconds'])}, {when})", r, expect, info
    r = ISSUE_RADIUS
    info["origin"] = "issue value, d* unproven"
    expect = "yes" if best <= r else ("no" if lower is not None and lower > r + tol else "?")
    lo = "-" if lower is None else f"{lower:.4f}"
    cell = f"[{lo}, {best:.4f}] after {fmt_s(bounds['seconds'])} ({when})"
    return cell, r, expect, info


def censored_ratio(num: Run, den: Run, limit: float) -> str:
    """num/den time ratio; '<' or '>' when only one answered, '-' when neither did."""
    if num.status == "n/a" or den.status == "n/a" or den.seconds <= 0:
        return "-"
    a, b = num.solved(limit), den.solved(limit)
    if not a and not b:
        return "- (neither answered)"
    ratio = fmt_x(num.seconds / den.seconds)
    return ratio if a and b else (f"> {ratio}" if b else f"< {ratio}")


def cell(run: Run, expect: str) -> str:
    mark = ""
    if run.status in ("yes", "no") and expect in ("yes", "no") and run.status != expect:
        mark = " WRONG"
    chosen = f" [{run.extra['chosen']}]" if "chosen" in run.extra else ""
    check = ""
    if run.solver == "marabou" and run.status == "yes":
        check = " (witness exact)" if run.extra.get("exact_check") else " (witness NOT exact)"
    return f"{run.status} {fmt_s(run.seconds)}{chosen}{check}{mark}"


def summary_table(rows: list[dict[str, Any]], limit: float, mar_version: str) -> Any:
    """Measured solvers beside the issue's reported anchors (clearly marked)."""
    table = make_table(
        "summary: measured here vs the issue's reported figures",
        ["solver", "source", "answered in limit", "answers y/n/?", "median s", "ratio"],
        caption="ratio: geninv's median time on the instances it answered, divided by "
        "the reported Gurobi range (a ratio against a figure from other instances and another "
        "machine is indicative only)",
    )
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["solver"], []).append(r)
    best = "milp-scip" if by.get("milp-scip") else "milp"
    milp_answered = [r["seconds"] for r in by.get(best, []) if r["status"] in ("yes", "no")]
    for solver, label in (
        ("milp", "geninv milp (HiGHS)"),
        ("milp-scip", "geninv milp-scip (SCIP, 2 settings raced)"),
        ("auto", "geninv auto"),
        ("marabou", f"Marabou ({mar_version})"),
    ):
        rs = by.get(solver, [])
        if not rs or rs[0]["status"] == "n/a":
            add_row(table, label, "measured here", "n/a", "-", "-", "")
            continue
        good = sum(r["status"] in ("yes", "no") and r["seconds"] <= limit for r in rs)
        answers = "/".join(str(sum(r["status"] == s for r in rs)) for s in ("yes", "no", "unknown"))
        add_row(
            table,
            label,
            "measured here",
            f"{good}/{len(rs)} ({limit:g} s)",
            answers,
            fmt_s(median(r["seconds"] for r in rs)),
            "",
        )
    for name, claim, lo, hi in ANCHORS:
        ratio = ""
        if math.isfinite(hi) and milp_answered:
            m = median(milp_answered)
            ratio = f"{best} / Gurobi = {fmt_x(m / hi)} to {fmt_x(m / lo)}"
        add_row(table, name, "reported, not measured here", claim, "", "", ratio)
    return table


def plot(rows: list[dict[str, Any]], limit: float, name: str) -> None:
    plt = pyplot()
    if plt is None:
        return
    solvers = ["milp", "milp-scip", "auto", "marabou"]
    instances = sorted({r["instance"] for r in rows})
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(solvers)
    for j, s in enumerate(solvers):
        for i in instances:
            r = next((r for r in rows if r["instance"] == i and r["solver"] == s), None)
            if r is None or r["status"] == "n/a":
                continue
            x = i + (j - 1.5) * width
            answered = r["status"] in ("yes", "no")
            ax.bar(
                x,
                r["seconds"],
                width,
                color=f"C{j}",
                hatch="" if answered else "//",
                edgecolor="black" if not answered else None,
                label=s if i == instances[0] else None,
            )
            ax.annotate(r["status"], (x, r["seconds"]), ha="center", va="bottom", fontsize=7)
    ax.axhspan(8, 27, color="grey", alpha=0.2, label="Gurobi 13, 8-27 s (reported, not measured)")
    ax.axhline(limit, color="grey", ls="--", lw=0.8, label=f"limit {limit:g} s")
    ax.set_xticks(instances, [f"net{i}" for i in instances])
    ax.set_yscale("log")
    ax.set_ylabel("seconds (hatched: no answer)")
    ax.set_title("random 2-layer ReLU nets, l_inf inversion near the boundary")
    ax.legend(fontsize=7)
    save_figure(fig, name)


if __name__ == "__main__":
    main()
