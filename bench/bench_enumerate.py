"""Benchmark the ``enumerate`` backend: the old full-forward loop against the table method.

Runs, side by side on the same problems (both ``no`` instances, so every
corner is screened):

* ``naive``: the previous implementation's loop (build each chunk of corners,
  full forward pass ``z @ W_1^T`` through every layer, float screen, exact
  re-checks), reimplemented here as :func:`_naive`; once with the default BLAS
  threads and once with one;
* the table method in the calling thread, with threads and with processes;
* Dask ``LocalCluster``s (worker processes, and threads in this process);
  cluster start-up is timed separately and not counted.

Problems: the Theorem 1 network of a random unsatisfiable 3-SAT formula
(``--n-sat`` variables, 6 clauses per variable) and a random dense 2-layer
network (``--n-dense`` inputs, 64 hidden units, 4 outputs, l2, target far away).

Usage::

    python bench/bench_enumerate.py [--n-sat 22] [--n-dense 20] [--repeat 1]

Prints a table (candidates/s and the ratio to the naive loop) and writes
``bench/out/enumerate.png`` when matplotlib is installed.
"""

# distributed's public API is only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from geninv.io.dimacs import CNF
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.enumerate import (
    _BLAS_LIMIT,
    CHUNK_FLOATS,
    _screen,
    chunk_rows,
    corners,
    default_workers,
    enumerate_corners,
    error_bound,
    threshold_upper,
)

OUT = Path(__file__).resolve().parent / "out"


# ------------------------------------------------------------------ the old loop
def _naive(problem: InversionProblem, chunk_floats: int = CHUNK_FLOATS) -> Status:
    """The old decide loop: chunked corners, full forward pass, float screen, exact re-check."""
    values = problem.domain.corner_values()
    n = problem.n
    bound = error_bound(problem)
    cutoff = bound.cutoff(threshold_upper(problem))
    rows = min(1 << n, chunk_rows(problem.network, chunk_floats))
    cache: set[bytes] | None = set() if bound.float_exact else None
    for first in range(0, 1 << n, rows):
        z = corners(first, min(1 << n, first + rows), n, values)
        with np.errstate(over="ignore", invalid="ignore"):
            out = problem.network.forward(z.astype(np.float64))
            dist = problem.distances(out)
        for i in _screen(dist, cutoff):
            key = out[i].tobytes()
            if cache is not None and key in cache:
                continue
            if problem.exact_check([Fraction(int(v)) for v in z[i]]).meets:
                return Status.YES
            if cache is not None:
                cache.add(key)
    return Status.NO


# ------------------------------------------------------------------ problems
def _random_3sat(rng: np.random.Generator, n: int, m: int) -> CNF:
    clauses = []
    for _ in range(m):
        vs = rng.choice(n, size=3, replace=False) + 1
        clauses.append(tuple(int(v) * int(rng.choice([-1, 1])) for v in vs))
    return CNF(n, tuple(clauses))


def sat_problem(n: int, seed: int) -> InversionProblem:
    """Theorem 1 network of a random 3-SAT formula that is unsatisfiable (checked by pysat)."""
    from pysat.solvers import Minisat22

    rng = np.random.default_rng(seed)
    while True:
        cnf = _random_3sat(rng, n, 6 * n)
        with Minisat22(bootstrap_with=[list(c) for c in cnf.clauses]) as solver:
            if not solver.solve():
                return SatReduction("sign").apply(cnf)[0]


def dense_problem(n: int, seed: int, width: int = 64, q: int = 4) -> InversionProblem:
    rng = np.random.default_rng(seed)
    net = ReLUNetwork(
        [rng.normal(size=(width, n)) / math.sqrt(n), rng.normal(size=(q, width))],
        [rng.normal(size=width), rng.normal(size=q)],
    )
    return InversionProblem(net, [50.0] * q, Domain("binary"), p=2, threshold=1)


# ------------------------------------------------------------------ timing
def _time(fn: Callable[[], Status | Solution], repeat: int) -> tuple[float, str]:
    best = math.inf
    status = ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
        status = str(res.status if isinstance(res, Solution) else res)
    return best, status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-sat", type=int, default=22)
    ap.add_argument("--n-dense", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()

    cores = default_workers()
    problems = {
        f"3-SAT Thm 1, n={args.n_sat}": sat_problem(args.n_sat, args.seed),
        f"dense 2-layer, n={args.n_dense}": dense_problem(args.n_dense, args.seed),
    }
    methods: dict[str, Callable[[InversionProblem], Status | Solution]] = {
        "naive loop (BLAS threads)": _naive,
        "naive loop (1 BLAS thread)": _naive_single,
        "table, 1 thread": lambda p: enumerate_corners(p, workers=1),
        f"table, {cores} threads": lambda p: enumerate_corners(p, workers=cores),
        f"table, {cores} processes": lambda p: enumerate_corners(
            p, workers=cores, executor="processes"
        ),
    }
    clusters: list[Any] = []
    notes: list[str] = []
    if not args.no_dask:
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)

        for label, kw in (
            (f"Dask LocalCluster, {cores} worker processes", {"n_workers": cores}),
            (
                f"Dask LocalCluster, {cores} threads in-process",
                {"processes": False, "n_workers": 1, "threads_per_worker": cores},
            ),
        ):
            t0 = time.perf_counter()
            cluster = LocalCluster(
                threads_per_worker=kw.pop("threads_per_worker", 1),
                dashboard_address=":0",
                silence_logs=logging.ERROR,
                **kw,
            )
            client = Client(cluster)
            clusters.append((client, cluster))
            notes.append(f"{label}: start-up {time.perf_counter() - t0:.1f} s (not counted)")
            methods[label] = functools.partial(_on_dask, client=client)

    console = Console(width=160)
    table = Table(title=f"enumerate: candidates per second ({cores} CPUs)")
    table.add_column("method")
    for name in problems:
        table.add_column(f"{name}\nM cand/s", justify="right")
        table.add_column("x naive", justify="right")
        table.add_column("seconds", justify="right")
    results: dict[str, dict[str, float]] = {m: {} for m in methods}
    cells: dict[str, list[str]] = {m: [] for m in methods}
    try:
        for pname, prob in problems.items():
            total = 2**prob.n
            base = None
            for mname, fn in methods.items():
                secs, status = _time(functools.partial(fn, prob), args.repeat)
                if status != "no":
                    raise SystemExit(f"{mname} answered {status} on {pname}, expected no")
                rate = total / secs
                results[mname][pname] = rate
                if base is None:
                    base = rate
                cells[mname] += [f"{rate / 1e6:.2f}", f"{rate / base:.2f}", f"{secs:.2f}"]
                console.log(f"{pname:28s} {mname:45s} {rate / 1e6:8.2f} M/s")
    finally:
        for client, cluster in clusters:
            client.close()
            cluster.close()
    for mname in methods:
        table.add_row(mname, *cells[mname])
    console.print(table)
    console.print("every run answered 'no' (all 2^n corners screened); x naive is against the")
    console.print("first row, the old full-forward loop with numpy's default BLAS threads")
    for note in notes:
        console.print(note)
    if not args.no_plot:
        _plot(results, list(problems), cores)


def _on_dask(problem: InversionProblem, client: Any) -> Solution:
    return enumerate_corners(problem, scheduler=client)


def _naive_single(problem: InversionProblem) -> Status:
    with _BLAS_LIMIT:
        return _naive(problem)


def _plot(results: dict[str, dict[str, float]], problems: list[str], cores: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    methods = list(results)
    x = np.arange(len(problems))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, m in enumerate(methods):
        vals = [results[m].get(p, 0.0) / 1e6 for p in problems]
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
    ax.set_xticks(x, problems)
    ax.set_ylabel("million candidates / s")
    ax.set_title(f"geninv enumerate backend ({cores} CPUs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = OUT / "enumerate.png"
    fig.savefig(path, dpi=120)
    print(f"wrote {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
