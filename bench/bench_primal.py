"""Time to a witness: the primal search against milp-scip on near-boundary *yes* instances.

The instances are those of ``bench_random_nets.py`` (random 20-100-200 ReLU
nets, W_l ~ N(0, 1/fan_in), b_l ~ N(0, 0.01), z in [-1, 1]^20, x = G(z*) +
uniform noise in [-0.1, 0.1]^200, l_inf), at radius ``r = --factor * d*``
(default 1.03): just outside the minimum distance d*, so a witness exists but
few points are one.  d* comes from ``milp-scip`` in optimize mode (at most
``--optimize-limit`` seconds; cached in ``bench/out/primal_dstar.json``).  When
the optimisation does not prove d*, the best distance it found (or the planted
point's, if smaller) stands in for it: r is then still a *yes* radius, possibly
farther from the true d*; the table says which.

Solvers, each with ``--limit`` seconds, on the same instance in the same
process: ``primal`` (the backend of ``geninv.solvers.primal``), ``milp-scip``
and ``auto`` (which runs the primal search first, then milp-scip).  Every
*yes* is re-checked exactly by ``solve``.

Usage::

    python bench/bench_primal.py --quick        # 1 instance, d* <= 60 s, limit 10 s
    python bench/bench_primal.py                # 5 instances, d* <= 300 s, limit 30 s

Writes ``bench/out/primal.csv`` and ``primal.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import bench_random_nets as brn
import numpy as np
from common import (
    add_row,
    fmt_s,
    fmt_x,
    machine_line,
    make_table,
    median,
    output_args,
    output_name,
    print_table,
    run_geninv,
    save_csv,
    save_text,
    say,
)

QUICK = {"instances": 1, "limit": 10.0, "optimize_limit": 60.0}
SOLVERS = ("primal", "milp-scip", "auto")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=5)
    ap.add_argument("--first", type=int, default=0, help="index of the first instance")
    ap.add_argument("--dims", default="20,100,200", help="n,h,m")
    ap.add_argument("--limit", type=float, default=30.0, help="seconds per instance and solver")
    ap.add_argument("--factor", type=float, default=1.03, help="r = factor * d*")
    ap.add_argument("--optimize-limit", type=float, default=300.0, help="seconds for d*")
    ap.add_argument("--no-cache", action="store_true", help="recompute d* (ignore the cache)")
    ap.add_argument("--bias-std", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    output_args(ap, f"about two minutes: {QUICK}")
    args = ap.parse_args(argv)
    name = output_name(args, "primal")
    if args.quick:
        args.instances = QUICK["instances"]
        args.limit = QUICK["limit"]
        args.optimize_limit = QUICK["optimize_limit"]
    dims = tuple(int(v) for v in args.dims.split(","))
    assert len(dims) == 3, "--dims takes n,h,m"
    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    table = make_table(
        f"time to a witness, random {'-'.join(map(str, dims))} ReLU nets, l_inf radius "
        f"r = {args.factor:g} d* (limit {args.limit:g} s per solver)",
        ["instance", "d*", "r", *SOLVERS, "milp-scip / primal"],
        caption="status and seconds (same instance, same process, one after the other); "
        "primal: [phase that found the witness]",
    )
    rows: list[dict[str, Any]] = []
    for k in range(args.first, args.first + args.instances):
        base, z_star = brn.make_problem(dims, args.seed, k, brn.ISSUE_RADIUS, args.bias_std)
        planted = float(
            np.abs(base.network.forward(z_star[None, :])[0] - base.target_array()).max()
        )
        key = f"{args.dims}/seed{args.seed}/k{k}/bias{args.bias_std:g}"
        bounds = optimize_bounds(base, key, args)
        if bounds is None:
            dstar, origin = planted, "planted point (no d*)"
        else:
            dstar = float(min(bounds["best"], planted))
            origin = "proven" if bounds["proven"] else "best found, unproven"
            origin += f", {fmt_s(bounds['seconds'])}"
        radius = args.factor * dstar
        problem = brn.with_radius(base, radius)
        runs = {s: run_geninv(problem, s, args.limit, seed=args.seed) for s in SOLVERS}
        cells = []
        for s in SOLVERS:
            r = runs[s]
            how = ""
            if s == "primal" and r.status == "yes":
                how = f" [{r.extra.get('found_by')}]"
            cells.append(f"{r.status} {fmt_s(r.seconds)}{how}")
            rows.append(
                {
                    "instance": k,
                    "dstar": dstar,
                    "dstar_origin": origin,
                    "radius": radius,
                    "solver": s,
                    "status": r.status,
                    "seconds": r.seconds,
                    "distance": r.extra.get("distance"),
                    "chosen": r.extra.get("chosen"),
                    "note": r.note,
                }
            )
        p, m = runs["primal"], runs["milp-scip"]
        if p.status == "yes" and m.status == "yes":
            ratio = fmt_x(m.seconds / p.seconds)
        elif p.status == "yes":
            ratio = f"> {fmt_x(args.limit / p.seconds)}"
        elif m.status == "yes":
            ratio = f"< {fmt_x(m.seconds / args.limit)}"
        else:
            ratio = "- (neither)"
        say(f"net{k}: d* = {dstar:.6g} ({origin}), r = {radius:.6g}: " + "  ".join(cells))
        add_row(table, f"net{k}", f"{dstar:.6f} ({origin})", f"{radius:.6f}", *cells, ratio)
    print_table(table)
    for s in SOLVERS:
        got = [r for r in rows if r["solver"] == s]
        yes = [r["seconds"] for r in got if r["status"] == "yes"]
        say(
            f"{s}: {len(yes)}/{len(got)} witnesses within {args.limit:g} s"
            + (f", median {fmt_s(median(yes))}" if yes else "")
        )
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    save_csv(name, rows)
    save_text(name)
    return {"name": name, "rows": rows}


DSTAR_NAME = "primal_dstar.json"


def optimize_bounds(problem: Any, key: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """{lower, best, tolerance, seconds, proven} for d* from ``milp-scip`` in optimize
    mode (SCIP proved these d* in 1-2 minutes where HiGHS had not after 5), cached."""
    import common

    path = common.OUT / DSTAR_NAME
    cache = {} if args.no_cache or not path.is_file() else json.loads(path.read_text())
    hit = cache.get(key)
    if hit is not None and (hit["proven"] or hit["limit"] >= args.optimize_limit):
        return dict(hit)
    if args.optimize_limit <= 0:
        return None
    run = run_geninv(
        problem, "milp-scip", args.optimize_limit, seed=args.seed, options={"mode": "optimize"}
    )
    lower = float(run.extra.get("lower_bound", math.nan))
    best = float(run.extra.get("best_distance", math.nan))
    if not math.isfinite(best):
        return None
    tol = float(run.extra.get("tolerance", 0.0))
    found = {
        "lower": lower if math.isfinite(lower) else None,
        "best": best,
        "tolerance": tol,
        "seconds": run.seconds,
        "proven": math.isfinite(lower) and best - lower <= tol,
        "limit": args.optimize_limit,
    }
    cache = json.loads(path.read_text()) if path.is_file() else {}
    cache[key] = found
    common.OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return found


if __name__ == "__main__":
    main()
