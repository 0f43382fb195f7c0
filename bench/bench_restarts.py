"""Restarts per second of the gradient backends: batched (one tensor) vs one by one.

Every gradient backend in ``geninv.solvers.approx`` runs its R restarts as one
tensor of shape ``[R, n]`` (its normal mode).  This script measures what that buys:
for each backend and each R in ``--restarts`` (default 1, 4, 16, 64, 256),

* **batched**: one run with ``restarts=R`` and S iterations per restart;
* **one by one**: R runs with ``restarts=1`` and seeds ``seed, seed+1, ...`` (restart i
  of the batched run starts where run i does), S iterations each -- the same total
  iterations;

side by side in one process, on

* **(a) digits**: the bundled 8x8 digits generator ``4 -> 32 -> 64`` (ReLU) behind
  ``M = 20`` Gaussian measurements (``sensing.sensing_problem``, y = A x of a test
  digit);
* **(b) random**: a random ReLU network ``20 -> 500 -> 500 -> 784`` (Gaussian weights
  N(0, 2 / fan-in), biases N(0, 0.1^2)), target ``G(z*)`` plus N(0, 0.1^2) noise.

``flipgd`` needs a bias-free expansive network, so it runs on a bias-free random
Gaussian network of the same widths (weights N(0, 1 / fan-out), Hand & Voroninski's
model; in (a) behind the same A, with the same y).  ``layerwise`` has no restarts
(one deterministic chain of LPs per call), so it is left out, and highspy is never
imported.  Targets are not in the range, and the threshold is tiny, so no run stops
early (a run that did would be flagged).

What is timed is the backend's own iteration loop, ``backend._run`` on an
``approx._Run`` made as ``solve()`` makes it (moving the network to the device
included), up to the last iteration, with ``torch.cuda.synchronize()`` on CUDA.  Not
timed: ``solve()``'s exact rational re-check of the returned latent(s), which is
slow on big networks (about 7 s per point on (b)) and which one-by-one calls would
pay R times; the script prints that cost once per setting.  Iterations per restart S
(``--steps``, default 100): ``adam``, ``langevin``, ``admm``, ``flipgd`` ``steps=S``;
``pgd`` ``outer_steps=2, inner_steps=S/2``.  Other options are the backends'
defaults.  Each timing repeats its block (one batched run; R one-restart runs) until
``--min-time`` seconds (default 0.5) have passed, and the two are measured in
``--rounds`` (default 3) alternating rounds; restarts/s is the median round (the
machine may be shared: alternating and the median damp drifts in its load).
One-by-one runs cost the same whatever R is, so at most ``--single-cap`` (default 64)
of them are timed per R (at R = 256: 64 runs); ``--single-cap 0`` times all R.

Usage::

    python bench/bench_restarts.py --quick              # about a minute
    python bench/bench_restarts.py                      # about 12 minutes on 2 CPU cores
    python bench/bench_restarts.py --device cuda --out DIR   # on a GPU machine

It needs only numpy, torch, scipy, rich, matplotlib (for the plot), onnx (the digits
generator is read from ONNX) and geninv.  Writes ``restarts.png``, ``restarts.csv``
and ``restarts.txt`` (``restarts-quick.*`` with ``--quick``) to ``--out`` (default
``bench/out``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import (
    add_row,
    fmt_s,
    fmt_x,
    machine_line,
    make_table,
    print_table,
    pyplot,
    save_csv,
    save_figure,
    save_text,
    say,
)

BACKENDS = ("adam", "pgd", "admm", "langevin", "flipgd", "layerwise")
R_GRID = (1, 4, 16, 64, 256)
SETTINGS = ("digits", "random")
RANDOM_WIDTHS = (20, 500, 500, 784)
DIGITS_M = 20
FULL = {"restarts": ",".join(map(str, R_GRID)), "steps": 100, "min_time": 0.5, "rounds": 3}
QUICK = {"restarts": "1,4,16", "steps": 40, "min_time": 0.2, "rounds": 1}
NO_RESTARTS = {"layerwise": "no restarts: one deterministic chain of LPs per call"}


@dataclass
class Setting:
    name: str
    label: str
    problem: Any  # for every backend but flipgd
    flip_problem: Any  # bias-free counterpart for flipgd


# ------------------------------------------------------------------ problems
def gaussian_net(
    widths: Sequence[int], rng: np.random.Generator, *, bias_free: bool, last: str
) -> Any:
    from geninv.network import ReLUNetwork

    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(widths):
        if bias_free:  # Hand & Voroninski: N(0, 1 / n_out)
            weights.append(rng.normal(0.0, 1.0 / math.sqrt(n_out), size=(n_out, n_in)))
            biases.append(np.zeros(n_out))
        else:  # He: N(0, 2 / n_in)
            weights.append(rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_out, n_in)))
            biases.append(rng.normal(0.0, 0.1, size=n_out))
    acts = ["relu"] * (len(widths) - 2) + [last]
    return ReLUNetwork(weights, biases, activations=acts)


def digits_setting(seed: int) -> Setting:
    from geninv.sensing import (
        gaussian_measurements,
        load_digits_generator,
        load_test_digits,
        sensing_problem,
    )

    gen = load_digits_generator()
    x = load_test_digits()[0][0]
    a = gaussian_measurements(DIGITS_M, gen.n_outputs, np.random.default_rng([seed, 1]))
    y = a @ x
    shape = [gen.n_inputs, *gen.widths]
    flip_gen = gaussian_net(shape, np.random.default_rng([seed, 2]), bias_free=True, last="relu")
    widths = "-".join(map(str, shape))
    return Setting(
        "digits",
        f"digits generator {widths} + A ({DIGITS_M}x64)",
        sensing_problem(gen, a, y),
        sensing_problem(flip_gen, a, y),
    )


def random_setting(seed: int) -> Setting:
    from geninv.problem import Domain, InversionProblem

    rng = np.random.default_rng([seed, 3])
    widths = RANDOM_WIDTHS
    net = gaussian_net(widths, rng, bias_free=False, last="relu")
    flip = gaussian_net(widths, rng, bias_free=True, last="relu")

    def problem(g: Any) -> Any:
        target = g.forward(rng.normal(size=widths[0])) + 0.1 * rng.normal(size=widths[-1])
        threshold = 1e-6 * float(np.linalg.norm(target))
        return InversionProblem(g, [float(v) for v in target], Domain("real"), 2, threshold)

    label = "random " + "-".join(map(str, widths))
    return Setting("random", label, problem(net), problem(flip))


# ------------------------------------------------------------------ timing
def backend_options(name: str, steps: int, restarts: int, args: argparse.Namespace) -> Any:
    opts: dict[str, Any] = {
        "restarts": restarts,
        "device": args.device,
        "dtype": args.dtype,
        "check_top": 1,
    }
    if name == "pgd":
        opts.update(outer_steps=2, inner_steps=max(1, steps // 2))
    else:
        opts["steps"] = steps
    return opts


def planned(name: str, steps: int) -> int:
    return 2 * max(1, steps // 2) if name == "pgd" else steps


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        torch.cuda.synchronize()


def make_loop(name: str, problem: Any, args: argparse.Namespace) -> Callable[[int, int], int]:
    """``loop(restarts, seed)`` runs the backend's iterations and returns iterations done."""
    import torch

    from geninv.solvers import approx
    from geninv.solvers.base import get_backend

    cls = get_backend(name)

    def loop(restarts: int, seed: int) -> int:
        backend = cls(**backend_options(name, args.steps, restarts, args))
        run = approx._Run.create(
            problem,
            backend.name,
            backend.restarts,
            seed,
            backend.device,
            backend.dtype,
            None,
            backend.check_top,
            backend.check_every,
            backend.inf_p,
            False,
        )
        with torch.enable_grad():
            backend._run(run)
        synchronize(args.device)
        return int(run.iterations)

    return loop


def repeat_until(block: Callable[[], None], min_time: float) -> tuple[int, float]:
    """Run ``block`` until ``min_time`` seconds have passed (at least once): (times, seconds)."""
    n = 0
    t0 = time.perf_counter()
    while True:
        block()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            return n, elapsed


def measure(
    name: str, setting: Setting, r: int, args: argparse.Namespace, progress: Any, task: Any
) -> dict[str, Any]:
    """Batched and one-by-one rates, in ``--rounds`` alternating rounds; medians reported."""
    problem = setting.flip_problem if name == "flipgd" else setting.problem
    loop = make_loop(name, problem, args)
    want = planned(name, args.steps)
    short: list[int] = []
    calls = r if args.single_cap <= 0 else min(r, args.single_cap)

    def batched_block() -> None:  # one run of R restarts
        its = loop(r, args.seed)
        if its != want:
            short.append(its)

    def single_block() -> None:  # R runs of 1 restart (at most --single-cap of them)
        for i in range(calls):
            its = loop(1, args.seed + i)
            if its != want:
                short.append(its)

    b_rates, s_rates = [], []
    b_runs = s_runs = 0
    b_secs = s_secs = 0.0
    for _ in range(args.rounds):
        n, secs = repeat_until(batched_block, args.min_time)
        b_rates.append(r * n / secs)
        b_runs, b_secs = b_runs + n, b_secs + secs
        progress.advance(task)
        n, secs = repeat_until(single_block, args.min_time)
        s_rates.append(calls * n / secs)
        s_runs, s_secs = s_runs + calls * n, s_secs + secs
        progress.advance(task)
    batched = float(np.median(b_rates))
    single = float(np.median(s_rates))
    return {
        "setting": setting.name,
        "backend": name,
        "R": r,
        "iterations_per_restart": want,
        "rounds": args.rounds,
        "batched_runs": b_runs,
        "batched_seconds": b_secs,
        "batched_restarts_per_s": batched,
        "batched_rates": " ".join(f"{v:.4g}" for v in b_rates),
        "single_runs": s_runs,
        "single_seconds": s_secs,
        "single_restarts_per_s": single,
        "single_rates": " ".join(f"{v:.4g}" for v in s_rates),
        "speedup": batched / single,
        "note": f"stopped early: {sorted(set(short))} iterations" if short else "",
    }


def exact_check_seconds(problem: Any) -> float:
    z = np.random.default_rng(0).normal(size=problem.n)
    t0 = time.perf_counter()
    problem.exact_check([float(v) for v in z])
    return time.perf_counter() - t0


# ------------------------------------------------------------------ output
def rate(v: float) -> str:
    if not math.isfinite(v):
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def report(
    rows: list[dict[str, Any]],
    settings: list[Setting],
    backends: list[str],
    rs: list[int],
    args: argparse.Namespace,
) -> None:
    cap = "all" if args.single_cap <= 0 else args.single_cap
    min_time = args.min_time
    for s in settings:
        table = make_table(
            f"({s.name}) {s.label}: restarts per second, batched vs one by one",
            [
                "backend",
                "R",
                "iters/restart",
                "batched restarts/s",
                "one-by-one restarts/s",
                "speed-up",
                "batched time",
                "one-by-one time",
                "note",
            ],
            caption="batched: one run with R restarts; one by one: R runs with 1 restart "
            f"(at most {cap} per block: each costs the same whatever R); each block repeated "
            f"to fill {min_time:g} s, in {args.rounds} alternating rounds: restarts/s is the "
            "median round, times are totals; iteration loops only (no exact re-check)",
        )
        for row in rows:
            if row["setting"] != s.name:
                continue
            single_time = f"{fmt_s(row['single_seconds'])} ({row['single_runs']} runs)"
            batched_time = f"{fmt_s(row['batched_seconds'])} ({row['batched_runs']} runs)"
            add_row(
                table,
                row["backend"],
                row["R"],
                row["iterations_per_restart"],
                rate(row["batched_restarts_per_s"]),
                rate(row["single_restarts_per_s"]),
                fmt_x(row["speedup"]),
                batched_time,
                single_time,
                row["note"],
            )
        print_table(table)
    summary = make_table(
        "speed-up of batched restarts over one-by-one runs (restarts/s ratio)",
        ["setting", "backend", *(f"R={r}" for r in rs)],
    )
    for s in settings:
        for b in backends:
            cells = []
            for r in rs:
                hit = [
                    x for x in rows if x["setting"] == s.name and x["backend"] == b and x["R"] == r
                ]
                cells.append(fmt_x(hit[0]["speedup"]) if hit else "-")
            add_row(summary, s.name, b, *cells)
    print_table(summary)


def plot(
    rows: list[dict[str, Any]], settings: list[Setting], backends: list[str], name: str
) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(settings), figsize=(6.5 * len(settings), 4.5), squeeze=False)
    for ax, s in zip(axes[0], settings, strict=True):
        for j, b in enumerate(backends):
            pts = [r for r in rows if r["setting"] == s.name and r["backend"] == b]
            if not pts:
                continue
            rs = [p["R"] for p in pts]
            ax.plot(rs, [p["batched_restarts_per_s"] for p in pts], "o-", color=f"C{j}", label=b)
            ax.plot(
                rs,
                [p["single_restarts_per_s"] for p in pts],
                "x--",
                color=f"C{j}",
                label=f"{b} (one by one)",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("R (restarts)")
        ax.set_ylabel("restarts per second")
        ax.set_title(s.label, fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle("batched (solid) vs one by one (dashed)", fontsize=10)
    save_figure(fig, name)


# ------------------------------------------------------------------ main
def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    common.output_args(ap, f"about a minute: {QUICK}")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--settings", default=",".join(SETTINGS), help="digits, random")
    ap.add_argument("--restarts", help=f"R grid (default {','.join(map(str, R_GRID))})")
    ap.add_argument("--steps", type=int, help="iterations per restart (default 100)")
    ap.add_argument("--min-time", type=float, help="least seconds per timing (default 0.5)")
    ap.add_argument("--rounds", type=int, help="alternating rounds, median taken (default 3)")
    ap.add_argument(
        "--single-cap",
        type=int,
        default=64,
        help="time at most this many one-by-one runs per R (default 64; 0: all R): their "
        "cost does not depend on R, so the rate is the same",
    )
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:K or auto")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = ap.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    import torch

    from geninv.solvers.approx import resolve_device

    torch.set_num_threads(args.threads)
    name = common.output_name(args, "restarts")
    dev = resolve_device(args.device)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else ""
    say(
        f"machine: {machine_line()}; torch {torch.__version__}, {args.threads} thread(s); "
        f"device {dev}{' (' + gpu + ')' if gpu else ''}, {args.dtype}"
    )
    rs = [int(v) for v in args.restarts.split(",")]
    backends = []
    for b in args.backends.split(","):
        if b in NO_RESTARTS:
            say(f"{b}: left out: {NO_RESTARTS[b]}")
        elif b:
            backends.append(b)
    makers = {"digits": digits_setting, "random": random_setting}
    settings = [makers[s](args.seed) for s in args.settings.split(",") if s]
    for s in settings:
        cost = "not measured (--quick)" if args.quick else fmt_s(exact_check_seconds(s.problem))
        say(
            f"({s.name}) {s.label}: exact re-check of one latent (what solve() adds per "
            f"checked point, not timed below): {cost}"
        )
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        total = 2 * args.rounds * len(settings) * len(backends) * len(rs)
        task = progress.add_task("restarts", total=total)
        for s in settings:
            for b in backends:
                progress.update(task, description=f"({s.name}) {b}: warm-up")
                problem = s.flip_problem if b == "flipgd" else s.problem
                make_loop(b, problem, args)(2, args.seed)  # untimed: first-call costs
                for r in rs:
                    progress.update(task, description=f"({s.name}) {b}: R = {r}")
                    rows.append(measure(b, s, r, args, progress, task))
    report(rows, settings, backends, rs, args)
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    csv_path = save_csv(name, rows)
    png = None
    if not args.no_plot:
        plot(rows, settings, backends, name)
        png = common.OUT / f"{name}.png"
    txt = save_text(name)
    return {"rows": rows, "csv": csv_path, "txt": txt, "png": png}


if __name__ == "__main__":
    main()
