"""Time against n for each reduction family and each complete backend that takes it.

Families (all instances are *no* instances, so every backend has to prove
infeasibility -- the worst case; one instance per n, the same for every backend,
from ``numpy.random.default_rng([seed, family, n])``):

* ``3-SAT (Thm 1)``: random 3-SAT with round(4.26 n) clauses (three distinct
  variables, random signs), redrawn until PySAT (MiniSat 2.2) says unsatisfiable;
  Theorem 1 network, sign latents, exact inversion.
* ``CVP p=1 (Thm 3)``: n basis vectors in Z^n with entries uniform in [-5, 5], a
  target uniform in [-5n/4, 5n/4]^n; radius = (exact minimum distance over
  {0,1}^n, by geninv's oracle) - 1; binary latents, l_1.  The oracle is exhaustive,
  so n stops at ``CVP_MAX_N``.
* ``vertex cover (5.3)``: G(n, 0.3), cover size q = tau(G) - 1 (exact tau by the
  oracle); binary latents, p = 1.
* ``clique (Thm 5)``: G(n, 0.5), k = omega(G) + 1; binary latents, p = 1.

Backends: ``enumerate``, ``sat`` (if it imports and registers; else "sat: not
available" rows) and ``milp``.  Each (family, backend) series walks its own grid
of n upwards (``GRIDS``), each point with ``--point-limit`` seconds, and stops after
the first point slower than ``--stop-at`` seconds, a point without an answer, or
when the series has used ``--series-budget`` seconds.  Then
log2(time) = a + b n is fitted by least squares on the answered points slower
than 0.05 s, and the table reports the fitted base 2^b (time multiplies by 2^b
per extra latent coordinate).

Usage::

    python bench/bench_scaling.py --quick      # about a minute
    python bench/bench_scaling.py              # a few minutes

Writes ``bench/out/scaling.png``, ``scaling.csv`` and ``scaling.txt``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from common import (
    add_row,
    fit_exponential,
    fmt_s,
    machine_line,
    make_table,
    not_available,
    output_args,
    output_name,
    print_table,
    pyplot,
    run_geninv,
    sat_backend,
    save_csv,
    save_figure,
    save_text,
    say,
)

from geninv.lab.families import gnp  # the lab's G(n, p), the same draws

FAMILIES = ("3-SAT (Thm 1)", "CVP p=1 (Thm 3)", "vertex cover (5.3)", "clique (Thm 5)")
BACKENDS = ("enumerate", "sat", "milp")
#: (first n, step, last n) per family and backend.
GRIDS: dict[str, dict[str, tuple[int, int, int]]] = {
    "3-SAT (Thm 1)": {"enumerate": (10, 2, 34), "sat": (25, 25, 500), "milp": (4, 4, 200)},
    "CVP p=1 (Thm 3)": {"enumerate": (10, 2, 24), "sat": (6, 2, 24), "milp": (10, 2, 24)},
    "vertex cover (5.3)": {"enumerate": (8, 2, 34), "sat": (6, 4, 150), "milp": (6, 2, 60)},
    "clique (Thm 5)": {"enumerate": (8, 2, 34), "sat": (4, 4, 150), "milp": (4, 2, 60)},
}
CVP_MAX_N = 24
FIT_FLOOR = 0.05
QUICK = {"point_limit": 3.0, "stop_at": 1.2, "series_budget": 4.0}


# ------------------------------------------------------------------ instances
def sat3(n: int, rng: np.random.Generator) -> tuple[Any, str]:
    from pysat.solvers import Minisat22

    from geninv.io.dimacs import CNF
    from geninv.reductions.sat import SatReduction

    m = round(4.26 * n)
    for tries in range(1, 1000):
        clauses = []
        for _ in range(m):
            vs = rng.choice(n, size=3, replace=False) + 1
            clauses.append(tuple(int(v) * int(rng.choice([-1, 1])) for v in vs))
        with Minisat22(bootstrap_with=[list(c) for c in clauses]) as s:
            if not s.solve():
                return SatReduction("sign").apply(CNF(n, tuple(clauses)))[0], f"m={m}, try {tries}"
    raise RuntimeError(f"no unsatisfiable formula with n={n} in 1000 draws")


def cvp(n: int, rng: np.random.Generator) -> tuple[Any, str]:
    from geninv.io.lattice import CVPInstance
    from geninv.oracles import cvp01_min_distance_pow
    from geninv.reductions.cvp import CVPReduction

    basis = rng.integers(-5, 6, (n, n)).tolist()
    span = 5 * n // 4
    target = rng.integers(-span, span + 1, n).tolist()
    best = cvp01_min_distance_pow(basis, target, 1)
    inst = CVPInstance(basis, target, radius=best - 1)
    return CVPReduction(1).apply(inst)[0], f"min dist {best}, r={best - 1}"


def vertex_cover(n: int, rng: np.random.Generator) -> tuple[Any, str]:
    from geninv.oracles import min_vertex_cover_size
    from geninv.reductions.vertex_cover import VertexCoverReduction

    g = gnp(n, 0.3, rng)
    tau = min_vertex_cover_size(g)
    return VertexCoverReduction(tau - 1, p=1).apply(g)[0], f"|E|={len(g.edges)}, q=tau-1={tau - 1}"


def clique(n: int, rng: np.random.Generator) -> tuple[Any, str]:
    from geninv.oracles import min_weight_k_clique
    from geninv.reductions.clique import CliqueReduction

    g = gnp(n, 0.5, rng)
    omega = 1
    while min_weight_k_clique(g, omega + 1) is not None:
        omega += 1
    return CliqueReduction(omega + 1, p=1).apply(g)[0], f"|E|={len(g.edges)}, k=omega+1={omega + 1}"


MAKERS: dict[str, Callable[[int, np.random.Generator], tuple[Any, str]]] = {
    "3-SAT (Thm 1)": sat3,
    "CVP p=1 (Thm 3)": cvp,
    "vertex cover (5.3)": vertex_cover,
    "clique (Thm 5)": clique,
}


class Instances:
    """One instance per (family, n), built on first use and shared by all backends."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.cache: dict[tuple[str, int], tuple[Any, str]] = {}

    def get(self, family: str, n: int) -> tuple[Any, str]:
        key = (family, n)
        if key not in self.cache:
            rng = np.random.default_rng([self.seed, FAMILIES.index(family), n])
            self.cache[key] = MAKERS[family](n, rng)
        return self.cache[key]


# ------------------------------------------------------------------ series
def series(
    family: str,
    backend: str,
    instances: Instances,
    args: argparse.Namespace,
) -> tuple[list[dict[str, Any]], str]:
    """Run one (family, backend) series; (points, why it stopped)."""
    first, step, last = GRIDS[family][backend]
    if family.startswith("CVP"):
        last = min(last, CVP_MAX_N)
    points: list[dict[str, Any]] = []
    # warm-up on the first instance (imports, thread pools), not timed
    warm, _ = instances.get(family, first)
    run_geninv(warm, backend, args.point_limit, seed=args.seed)
    spent = 0.0
    why = f"grid end (n={last})"
    for n in range(first, last + 1, step):
        problem, meta = instances.get(family, n)
        run = run_geninv(problem, backend, args.point_limit, seed=args.seed)
        spent += run.seconds
        points.append(
            {
                "family": family,
                "backend": backend,
                "n": n,
                "status": run.status,
                "seconds": run.seconds,
                "instance": meta,
                "widths": ",".join(map(str, problem.network.widths)),
                "note": run.note,
            }
        )
        say(f"{family:20s} {backend:10s} n={n:4d} {run.status:8s} {fmt_s(run.seconds):>9s}")
        if run.status not in ("yes", "no"):
            why = f"n={n}: {run.status}" + (f" ({run.note[:60]})" if run.note else "")
            break
        if run.seconds > args.stop_at:
            why = f"n={n} took > {args.stop_at:g} s"
            break
        if spent > args.series_budget:
            why = f"series budget {args.series_budget:g} s spent"
            break
    return points, why


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--families",
        help="comma list of indices 0-3 (default all): "
        + "; ".join(f"{i}={f}" for i, f in enumerate(FAMILIES)),
    )
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--point-limit", type=float, default=20.0, help="time limit per solve")
    ap.add_argument("--stop-at", type=float, default=5.0, help="stop a series after a slower point")
    ap.add_argument("--series-budget", type=float, default=30.0, help="seconds per series")
    ap.add_argument("--seed", type=int, default=0)
    output_args(ap, f"about a minute: {QUICK}")
    args = ap.parse_args(argv)
    name = output_name(args, "scaling")
    if args.quick:
        args.point_limit = QUICK["point_limit"]
        args.stop_at = QUICK["stop_at"]
        args.series_budget = QUICK["series_budget"]
    families = (
        [FAMILIES[int(i)] for i in args.families.split(",")] if args.families else list(FAMILIES)
    )
    backends = args.backends.split(",")

    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    sat_ok, sat_why = sat_backend()
    say(f"sat backend: {'available' if sat_ok else 'not available: ' + sat_why}")
    instances = Instances(args.seed)
    rows: list[dict[str, Any]] = []
    summary: list[tuple[str, str, list[dict[str, Any]], str]] = []
    for family in families:
        for backend in backends:
            if backend == "sat" and not sat_ok:
                run = not_available("sat", sat_why)
                summary.append((family, backend, [], f"sat: not available ({run.note})"))
                continue
            pts, why = series(family, backend, instances, args)
            rows += pts
            summary.append((family, backend, pts, why))
    table = make_table(
        f"time vs n: fit log2(t) = a + b n on answered points > {FIT_FLOOR:g} s "
        f"(point limit {args.point_limit:g} s, stop after a point > {args.stop_at:g} s)",
        [
            "family",
            "backend",
            "n measured",
            "points fitted",
            "fitted base 2^b",
            "a",
            "slowest point",
            "wrong",
            "stopped because",
        ],
        caption="all instances are 'no'; base = factor per extra latent coordinate; "
        "'-' = fewer than two points above the floor (too fast to fit)",
    )
    fits: dict[tuple[str, str], dict[str, Any]] = {}
    for family, backend, pts, why in summary:
        if not pts:
            add_row(table, family, backend, "-", "-", "-", "-", "-", "-", why)
            continue
        answered = [(p["n"], p["seconds"]) for p in pts if p["status"] in ("yes", "no")]
        fit = fit_exponential(answered, FIT_FLOOR)
        fits[(family, backend)] = fit
        wrong = sum(p["status"] == "yes" for p in pts)
        slow = max(pts, key=lambda p: p["seconds"])
        add_row(
            table,
            family,
            backend,
            f"{pts[0]['n']}..{pts[-1]['n']} ({len(pts)})",
            str(fit["points"]),
            "-" if math.isnan(fit["base"]) else f"{fit['base']:.3f}",
            "-" if math.isnan(fit["a"]) else f"{fit['a']:.2f}",
            f"{fmt_s(slow['seconds'])} at n={slow['n']}",
            str(wrong),
            why,
        )
    print_table(table)
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    save_csv(name, rows)
    if not args.no_plot:
        plot(rows, fits, families, backends, name)
    save_text(name)
    return {"name": name, "rows": rows, "fits": fits}


def plot(
    rows: list[dict[str, Any]],
    fits: dict[tuple[str, str], dict[str, Any]],
    families: list[str],
    backends: list[str],
    name: str,
) -> None:
    plt = pyplot()
    if plt is None:
        return
    cols = min(2, len(families))
    nrows = math.ceil(len(families) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6 * cols, 4 * nrows), squeeze=False)
    for ax, family in zip(axes.flat, families, strict=False):
        for j, backend in enumerate(backends):
            pts = [r for r in rows if r["family"] == family and r["backend"] == backend]
            if not pts:
                continue
            ok = [(r["n"], r["seconds"]) for r in pts if r["status"] in ("yes", "no")]
            bad = [(r["n"], r["seconds"]) for r in pts if r["status"] not in ("yes", "no")]
            fit = fits.get((family, backend), {})
            label = backend
            if fit and not math.isnan(fit.get("base", math.nan)):
                label += f" (base {fit['base']:.2f})"
            if ok:
                ax.plot(*zip(*ok, strict=True), "o-", color=f"C{j}", label=label, ms=4)
            if bad:
                ax.plot(*zip(*bad, strict=True), "x", color=f"C{j}", ms=8)
            if fit and not math.isnan(fit.get("b", math.nan)):
                ns = np.array([n for n, t in ok if t > FIT_FLOOR])
                ax.plot(ns, 2.0 ** (fit["a"] + fit["b"] * ns), "--", color=f"C{j}", lw=0.8)
        ax.axhline(FIT_FLOOR, color="grey", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("n (latent dimension)")
        ax.set_ylabel("seconds")
        ax.set_title(family)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(families) :]:
        ax.axis("off")
    save_figure(fig, name)


if __name__ == "__main__":
    main()
