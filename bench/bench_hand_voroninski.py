"""Random expansive Gaussian ReLU networks (Hand & Voroninski): success rate vs latent size k.

The setting of Hand & Voroninski (COLT 2018) and of Cocola's experiments
(Cocola 2022 reports that flip-GD recovers z* with success rate 1.0 up to
k = 100 and 0.17 at k = 150 on k-700-600 networks with m = 300 measurements;
quoted, not measured here):

* generator ``G(z) = ReLU(W2 ReLU(W1 z))``, bias-free, widths k-700-600, with
  ``W_i`` entries i.i.d. N(0, 1/n_i) where n_i is the layer's *output* width
  (Hand & Voroninski's normalisation; each layer then halves ||h||^2 in
  expectation);
* a Gaussian measurement matrix A (m = 300 rows, entries N(0, 1/m), geninv's
  ``sensing.gaussian_measurements``) and noiseless measurements
  ``y = A G(z*)`` with ``z* ~ N(0, I_k)``;
* one :class:`~geninv.problem.InversionProblem` per trial from
  ``sensing.sensing_problem(G, A, y, p=2, threshold=rel * ||y||_2)``
  (default rel = 1e-5), solved with ``geninv.solvers.base.solve(problem,
  method, options=...)``, which re-checks every ``yes`` in exact rational
  arithmetic.  ``yes`` therefore means "a z with ||A G(z) - y|| <= 1e-5 ||y||
  was found and checked".

Success is *not* read off the status: it is computed from the returned z
against z*:  ``||z - z*|| / ||z*|| <= tol`` (default tol = 1e-3, the headline
criterion) and, reported beside it, the signal-space version
``||G(z) - G(z*)|| / ||G(z*)|| <= tol``.  A backend that returns no z fails.

Backends (their published defaults, on the CPU):

* ``flipgd`` -- gradient descent with the sign-flip check (1 start, 2000 steps,
  step lr / gain^2 with lr = 0.5); ``--flipgd-lr`` and ``--flipgd-steps`` change
  the step and the budget (with the default lr, runs at k >= 75 ended at
  relative errors 4e-3 to 0.3, and one of them given 10000 steps did not
  improve; with lr = 0.1 and 10000 steps the same instances converged up to
  k = 125);
* ``adam`` -- CSGM (10 restarts x 1000 steps, lr 0.1), with ``check_top=1``
  (only the best restart is re-checked exactly when it ends unknown);
* ``layerwise`` -- Lei et al.'s layer-wise l_inf LP on HiGHS.  One trial costs
  about a minute here (dozens of 600 x 700 dense LPs while the l_inf tolerance
  grows on layer 2), so by default it runs on the first trial of
  ``--layerwise-ks`` only, with ``--layerwise-limit`` seconds per trial; a run
  stopped by the limit is ``unknown`` without z and counts as a failure.

Cost: every exact check evaluates A o G (about 600k multiply-adds) in Python
``Fraction`` arithmetic, 6-9 s on this machine, and a ``yes`` is checked twice
(the backend's check and ``solve``'s re-check); that, not the gradient steps,
dominates the run time.  torch runs with ``--threads`` threads (default 1).

Usage::

    python bench/bench_hand_voroninski.py --quick      # about a minute and a half
    python bench/bench_hand_voroninski.py              # about 20-25 minutes
    python bench/bench_hand_voroninski.py --trials 10 --ks 10,25,50,75,100,125,150,200 \\
        --layerwise-ks 25,100,200                       # the issue's grid: about an hour
    python bench/bench_hand_voroninski.py --backends flipgd --flipgd-lr 0.1 \\
        --flipgd-steps 10000 --ks 75,100,125,150,200 --tag flipgd-lr0.1   # about 10 minutes

Writes ``bench/out/hand_voroninski.png``, ``.csv`` and ``.txt`` (``-quick`` with --quick,
``-TAG`` with --tag).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import (
    add_row,
    fmt_s,
    machine_line,
    make_table,
    median,
    print_table,
    pyplot,
    save_csv,
    save_figure,
    save_text,
    say,
)

NAME = "hand_voroninski"
BACKENDS = ("flipgd", "adam", "layerwise")
#: Options passed to each backend (published defaults otherwise).
OPTIONS: dict[str, dict[str, Any] | None] = {
    "flipgd": {"device": "cpu"},
    "adam": {"device": "cpu", "check_top": 1},
    "layerwise": None,
}
#: Cocola 2022, flip-GD on k-700-600, m = 300 (quoted from the issue, not measured).
COCOLA = {100: 1.0, 150: 0.17}
DEFAULTS: dict[str, Any] = {
    "ks": "25,50,75,100,125,150,200",
    "trials": 4,
    "layerwise_ks": "25,100,200",
    "layerwise_trials": 1,
    "layerwise_limit": 150.0,
}
QUICK: dict[str, Any] = {
    "ks": "25,150",
    "trials": 1,
    "layerwise_ks": "25",
    "layerwise_trials": 1,
    "layerwise_limit": 10.0,
}


def display(backend: str, args: argparse.Namespace) -> str:
    """The backend's name, with flipgd's non-default lr / steps."""
    extra = []
    if backend == "flipgd" and args.flipgd_lr is not None:
        extra.append(f"lr {args.flipgd_lr:g}")
    if backend == "flipgd" and args.flipgd_steps is not None:
        extra.append(f"{args.flipgd_steps} steps")
    return f"{backend} ({', '.join(extra)})" if extra else backend


def cocola_setting(args: argparse.Namespace) -> bool:
    """Whether the run uses the architecture of Cocola's quoted figures (k-700-600, m = 300)."""
    return (args.n1, args.n2, args.m) == (700, 600, 300)


# ------------------------------------------------------------------ instances
def instance(
    k: int, trial: int, args: argparse.Namespace
) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """(problem, G, z*, G(z*)) for one trial, from ``default_rng([seed, k, trial])``."""
    from geninv.network import ReLUNetwork
    from geninv.sensing import gaussian_measurements, sensing_problem

    rng = np.random.default_rng([args.seed, k, trial])
    w1 = rng.normal(0.0, 1.0 / math.sqrt(args.n1), size=(args.n1, k))
    w2 = rng.normal(0.0, 1.0 / math.sqrt(args.n2), size=(args.n2, args.n1))
    g = ReLUNetwork([w1, w2], [np.zeros(args.n1), np.zeros(args.n2)])
    a = gaussian_measurements(args.m, args.n2, rng)
    z_star = rng.normal(size=k)
    x_star = g.forward(z_star)
    y = a @ x_star
    delta = args.rel_threshold * float(np.linalg.norm(y))
    problem = sensing_problem(
        g, a, y, p=2, threshold=delta, matrix_label=f"gaussian, default_rng([{args.seed}, {k}])"
    )
    return problem, g, z_star, x_star


def solve_one(
    problem: Any, method: str, limit: float, seed: int, options: dict[str, Any] | None
) -> dict[str, Any]:
    """solve() with refusals and crashes turned into rows; the returned z kept."""
    from geninv.errors import GeninvError
    from geninv.solvers.base import solve

    t0 = time.perf_counter()
    try:
        sol = solve(problem, method, time_limit=limit, seed=seed, options=options)
    except GeninvError as exc:
        note = str(exc).splitlines()[0][:160]
        return {"status": "refused", "seconds": time.perf_counter() - t0, "z": None, "note": note}
    except Exception as exc:  # a benchmark reports, it does not stop
        note = f"{type(exc).__name__}: {exc}"[:160]
        return {"status": "error", "seconds": time.perf_counter() - t0, "z": None, "note": note}
    z = None if sol.z is None else np.array([float(v) for v in sol.z], dtype=np.float64)
    return {
        "status": sol.status.value,
        "seconds": time.perf_counter() - t0,
        "z": z,
        "note": sol.reason or "",
        "stats": sol.stats,
        "distance": sol.distance,
    }


# ------------------------------------------------------------------ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--ks", help=f"comma list of latent sizes (default {DEFAULTS['ks']})")
    ap.add_argument("--trials", type=int, help=f"trials per k (default {DEFAULTS['trials']})")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--n1", type=int, default=700, help="first hidden width (default 700)")
    ap.add_argument("--n2", type=int, default=600, help="output width of G (default 600)")
    ap.add_argument("--m", type=int, default=300, help="measurements (default 300)")
    ap.add_argument("--tol", type=float, default=1e-3, help="success: relative error <= tol")
    ap.add_argument(
        "--rel-threshold",
        type=float,
        default=1e-5,
        help="the problem's threshold: ||A G(z) - y|| <= this * ||y|| (default 1e-5)",
    )
    ap.add_argument("--limit", type=float, default=300.0, help="time limit per gradient run")
    ap.add_argument(
        "--layerwise-ks",
        help=f"k values where layerwise runs (default {DEFAULTS['layerwise_ks']}; 'all')",
    )
    ap.add_argument("--layerwise-trials", type=int, help="layerwise trials per k (default 1)")
    ap.add_argument(
        "--layerwise-limit",
        type=float,
        help=f"time limit per layerwise trial (default {DEFAULTS['layerwise_limit']:g} s)",
    )
    ap.add_argument(
        "--flipgd-lr",
        type=float,
        help="flipgd's lr (alpha = lr / gain^2; default: the backend's, 0.5)",
    )
    ap.add_argument("--flipgd-steps", type=int, help="flipgd's steps (default: the backend's)")
    ap.add_argument("--tag", help="appended to the output names (hand_voroninski-TAG.*)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    common.output_args(ap, f"about a minute and a half: {QUICK}")
    args = ap.parse_args(argv)
    common.apply_preset(args, QUICK if args.quick else DEFAULTS)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns ``{"rows": per-trial rows, "summary": per (k, backend)}``."""
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    args = parse_args(argv)
    name = common.output_name(args, NAME)
    if args.tag:
        name += f"-{args.tag}"
    options = {b: OPTIONS.get(b) for b in BACKENDS}
    flip = dict(options["flipgd"] or {})
    if args.flipgd_lr is not None:
        flip["lr"] = args.flipgd_lr
    if args.flipgd_steps is not None:
        flip["steps"] = args.flipgd_steps
    options["flipgd"] = flip
    torch.set_num_threads(args.threads)
    ks = [int(v) for v in str(args.ks).split(",")]
    backends = [b for b in args.backends.split(",") if b]
    lw_ks = ks if args.layerwise_ks == "all" else [int(v) for v in args.layerwise_ks.split(",")]

    def planned(backend: str, k: int) -> int:
        if backend == "layerwise":
            return min(args.layerwise_trials, args.trials) if k in lw_ks else 0
        return int(args.trials)

    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    say(
        f"setting: G = ReLU(W2 ReLU(W1 z)), widths k-{args.n1}-{args.n2}, no biases, "
        f"W_i entries N(0, 1/n_out) (Hand & Voroninski); A: {args.m} x {args.n2}, N(0, 1/m); "
        f"y = A G(z*), z* ~ N(0, I_k), noiseless; threshold ||A G(z) - y||_2 <= "
        f"{args.rel_threshold:g} ||y||_2; success: ||z - z*|| / ||z*|| <= {args.tol:g} "
        f"(and ||G(z) - G(z*)|| / ||G(z*)|| <= {args.tol:g}); torch threads {args.threads}; "
        f"seed {args.seed}"
    )
    limits = f"time limit {args.limit:g} s per gradient run"
    if "layerwise" in backends:
        limits += (
            f", {args.layerwise_limit:g} s per layerwise run (layerwise on the first "
            f"{args.layerwise_trials} trial(s) at k in {lw_ks} only)"
        )
    say(
        "backend options: "
        + "; ".join(f"{b}: {options.get(b) or 'defaults'}" for b in backends)
        + f"; {limits}"
    )
    rows: list[dict[str, Any]] = []
    total = sum(planned(b, k) for b in backends for k in ks)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("runs", total=total)
        for k in ks:
            for trial in range(args.trials):
                todo = [b for b in backends if trial < planned(b, k)]
                if not todo:
                    continue
                problem, g, z_star, x_star = instance(k, trial, args)
                for backend in todo:
                    progress.update(task, description=f"k={k} trial {trial + 1} {backend}")
                    limit = args.layerwise_limit if backend == "layerwise" else args.limit
                    res = solve_one(
                        problem, backend, limit, args.seed + trial, options.get(backend)
                    )
                    rows.append(row_of(k, trial, backend, res, g, z_star, x_star, args))
                    r = rows[-1]
                    say(
                        f"k={k:4d} trial {trial + 1:2d} {backend:10s} {r['status']:8s} "
                        f"{fmt_s(r['seconds']):>8s}  z err {r['z_err']:.3g}  "
                        f"x err {r['x_err']:.3g}  {r['note'][:90]}"
                    )
                    progress.advance(task)
    summary = summarise(rows, ks, backends)
    print_summary(summary, args)
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    save_csv(name, rows)
    if not args.no_plot:
        plot(summary, backends, args, name)
    save_text(name)
    return {"rows": rows, "summary": summary, "name": name}


def row_of(
    k: int,
    trial: int,
    backend: str,
    res: dict[str, Any],
    g: Any,
    z_star: np.ndarray,
    x_star: np.ndarray,
    args: argparse.Namespace,
) -> dict[str, Any]:
    z = res["z"]
    if z is None or not np.all(np.isfinite(z)):
        z_err = x_err = math.nan
    else:
        z_err = float(np.linalg.norm(z - z_star) / np.linalg.norm(z_star))
        x_err = float(np.linalg.norm(g.forward(z) - x_star) / max(np.linalg.norm(x_star), 1e-300))
    stats = res.get("stats") or {}
    note = res["note"]
    if res["status"] == "unknown" and "time limit" in note:
        note = "time limit (counted as failure): " + note
    return {
        "k": k,
        "trial": trial + 1,
        "backend": backend,
        "status": res["status"],
        "seconds": res["seconds"],
        "z_err": z_err,
        "x_err": x_err,
        "success_z": bool(z_err <= args.tol),
        "success_x": bool(x_err <= args.tol),
        "distance": res.get("distance"),
        "iterations": stats.get("iterations"),
        "stopped": stats.get("stopped"),
        "flips": str(stats.get("flips", "")),
        "layer_eps": str(stats.get("layer_eps", "")),
        "note": note,
    }


def summarise(
    rows: list[dict[str, Any]], ks: list[int], backends: list[str]
) -> list[dict[str, Any]]:
    out = []
    for k in ks:
        for b in backends:
            rs = [r for r in rows if r["k"] == k and r["backend"] == b]
            if not rs:
                continue
            n = len(rs)
            out.append(
                {
                    "k": k,
                    "backend": b,
                    "trials": n,
                    "yes": sum(r["status"] == "yes" for r in rs),
                    "rate_z": sum(r["success_z"] for r in rs) / n,
                    "rate_x": sum(r["success_x"] for r in rs) / n,
                    "median_z_err": median(r["z_err"] for r in rs),
                    "median_seconds": median(r["seconds"] for r in rs),
                    "time_limited": sum("time limit" in r["note"] for r in rs),
                    "other": sorted({r["status"] for r in rs} - {"yes", "unknown"}),
                }
            )
    return out


def print_summary(summary: list[dict[str, Any]], args: argparse.Namespace) -> None:
    table = make_table(
        f"success rate vs k: k-{args.n1}-{args.n2} bias-free Gaussian ReLU net, "
        f"m = {args.m} Gaussian measurements, noiseless",
        [
            "k",
            "backend",
            "trials",
            "yes",
            f"success z (err <= {args.tol:g})",
            "success G(z)",
            "median z err",
            "median time",
            "notes",
        ],
        caption=(
            f"yes = ||A G(z) - y|| <= {args.rel_threshold:g} ||y|| re-checked exactly; "
            "success computed from the returned z against z*; no z (time limit, LP failure) "
            "= failure. Cocola 2022 (quoted): flip-GD 1.0 up to k = 100, 0.17 at k = 150."
        ),
    )
    for s in summary:
        notes = []
        if s["time_limited"]:
            notes.append(f"{s['time_limited']} stopped by the time limit")
        if s["other"]:
            notes.append("statuses: " + ",".join(s["other"]))
        if s["backend"] == "flipgd" and s["k"] in COCOLA and cocola_setting(args):
            notes.append(f"Cocola: {COCOLA[s['k']]:g}")
        add_row(
            table,
            s["k"],
            display(s["backend"], args),
            s["trials"],
            s["yes"],
            f"{s['rate_z']:.2f}",
            f"{s['rate_x']:.2f}",
            "-" if math.isnan(s["median_z_err"]) else f"{s['median_z_err']:.2g}",
            fmt_s(s["median_seconds"]),
            "; ".join(notes),
        )
    print_table(table)


def plot(
    summary: list[dict[str, Any]], backends: list[str], args: argparse.Namespace, name: str
) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for j, b in enumerate(backends):
        pts = [(s["k"], s["rate_z"], s["trials"]) for s in summary if s["backend"] == b]
        if not pts:
            continue
        ks, rates, ns = zip(*pts, strict=True)
        shown = display(b, args)
        label = (
            f"{shown}, {min(ns)}-{max(ns)} trials/k"
            if min(ns) != max(ns)
            else f"{shown}, {ns[0]}/k"
        )
        ax.plot(ks, rates, "o-", color=f"C{j}", label=label)
        xs = [s["rate_x"] for s in summary if s["backend"] == b]
        ax.plot(ks, xs, ":", color=f"C{j}", lw=0.8)
    if cocola_setting(args):
        ax.plot([min(min(s["k"] for s in summary), 100), 100], [1.0, 1.0], "k--", lw=0.7)
        ax.plot(
            list(COCOLA),
            list(COCOLA.values()),
            "k*",
            ms=9,
            label="Cocola 2022 flip-GD (quoted: 1.0 up to k = 100)",
        )
    ax.set_xlabel("latent dimension k")
    ax.set_ylabel(f"success rate (||z - z*|| / ||z*|| <= {args.tol:g})")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(
        f"k-{args.n1}-{args.n2} Gaussian ReLU net, m = {args.m} (dotted: signal-space success)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    save_figure(fig, name)


if __name__ == "__main__":
    main()
