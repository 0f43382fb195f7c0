"""Benchmark the ``enumerate`` backend against this machine's measured throughput.

One run measures, side by side:

1. **Machine throughput** for the operations of the hot loop, on arrays of the
   shapes the table method uses: the broadcast add ``T + C`` into an
   ``(m_1, b, 2^k)`` block, the in-place ReLU ``max(h, 0)``, the two together
   (per candidate-unit), the folded layer 1's broadcast ``max(T, -C)``, and the
   later layers' matrix products ``W_l @ H`` (GFLOP/s), in float32 and float64,
   on one thread (CPU time of the thread) and on all cores (wall time, one
   array per thread).
2. **enumerate at n = 24** (``--n``) on two ``no`` instances, so that every
   corner is visited: the Theorem 1 network of a random unsatisfiable 3-SAT
   formula (6 clauses per variable, checked UNSAT with minisat) and a dense
   random 2-layer network (64 hidden units, 4 outputs, l2 distance to a far
   target).  Achieved candidate-neurons per second against the machine bound
   (below), and the speed-up of the table method over plain batched
   full-forward evaluation (the previous implementation's loop, :func:`_naive`).
   Each run sits between two measurements of the bound (interleaved repeats).
3. **Where the time goes**: the hot loop's steps timed one by one on one chunk.
4. **One n = 30 instance through the Dask path** (``--n30``, default on; off
   with ``--quick``): ``solve(..., "enumerate", options={"scheduler": "local"})``
   on a 2-worker ``LocalCluster``, with the shard accounting of its proof.

Machine bound.  Per candidate the table method must at least do, for layer 1,
one add and one max per unit (``m_1 / R_addmax``), and for each later layer
``l`` its ``m_l m_(l-1)`` multiply-adds (``2 m_l m_(l-1) / R_mm(l)``) plus one add
and one max per unit (``m_l / R_addmax``); ``R`` are the best rates measured in
this run, in the precision the backend used.  ``t_bound`` is their sum; the
machine throughput is ``sum_l m_l / t_bound`` candidate-neurons per second and
the fraction achieved is ``t_bound`` times the achieved candidates per second.
The screen (distance, comparison) and all Python overhead are not in the bound.
Plans that fold the first ReLU (exact float32 plans) skip the add, so they are
also compared with the bound of the operations they run ("ops run":
``m_1 / R_max(T,-C)`` for layer 1).

Usage::

    python bench/bench_enumerate.py            # n = 24, and the n = 30 Dask run
    python bench/bench_enumerate.py --quick    # n = 20, no n = 30 run, ~1.5 min
    python bench/bench_enumerate.py --no-n30 --repeat 3 --n 22

Writes ``bench/out/enumerate{,-quick}.{png,csv,txt}``.
"""

# distributed's public API is only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import argparse
import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from common import (  # first: puts this checkout's src/ first on sys.path
    add_row,
    machine_line,
    make_table,
    output_args,
    output_name,
    print_table,
    save_csv,
    save_text,
    say,
)

from geninv.io.dimacs import CNF
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.enumerate import (
    _BLAS_LIMIT,
    CHUNK_FLOATS,
    EnumPlan,
    _fmin,
    _screen,
    chunk_rows,
    corners,
    default_workers,
    enumerate_corners,
    error_bound,
    make_plan,
    run_shard,
    threshold_upper,
)

# ------------------------------------------------------------------ the old loop
#: The chunk budget (float64 entries) of the previous implementation.
OLD_CHUNK_FLOATS = 1 << 20


def _naive(
    problem: InversionProblem, chunk_floats: int = OLD_CHUNK_FLOATS, limit: int | None = None
) -> Status:
    """The old decide loop: chunked corners, full forward pass, float screen, exact re-check.

    ``limit``: screen only the first ``limit`` corners (then answers ``no`` if
    none of them is a witness; used to time the loop on part of the space).
    """
    values = problem.domain.corner_values()
    n = problem.n
    total = 1 << n if limit is None else min(1 << n, limit)
    bound = error_bound(problem)
    cutoff = bound.cutoff(threshold_upper(problem))
    rows = min(total, chunk_rows(problem.network, chunk_floats))
    cache: set[bytes] | None = set() if bound.float_exact else None
    for first in range(0, total, rows):
        z = corners(first, min(total, first + rows), n, values)
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
    """Random dense 2-layer network, l2 distance to a target far from every output."""
    rng = np.random.default_rng(seed)
    net = ReLUNetwork(
        [rng.normal(size=(width, n)) / math.sqrt(n), rng.normal(size=(q, width))],
        [rng.normal(size=width), rng.normal(size=q)],
    )
    return InversionProblem(net, [50.0] * q, Domain("binary"), p=2, threshold=1)


def widths(problem: InversionProblem) -> list[int]:
    return [layer.n_out for layer in problem.network.layers]


# ------------------------------------------------------------------ timing
def _calibrate(job: Callable[[], None], min_seconds: float) -> int:
    """Loop count so that ``job`` repeated takes about ``min_seconds`` of thread CPU time."""
    loops = 1
    while True:
        t0 = time.thread_time()
        for _ in range(loops):
            job()
        dt = time.thread_time() - t0
        if dt >= min_seconds / 4 or loops >= 1 << 20:
            return max(1, int(loops * min_seconds / max(dt, 1e-6)))
        loops *= 4


def rate(
    make_job: Callable[[], Callable[[], None]],
    units: float,
    threads: int,
    reps: int,
    min_seconds: float,
) -> float:
    """Best-of-``reps`` rate (units per second) of the job ``make_job()`` returns.

    One thread: thread CPU time.  Several: each thread runs its own job (own
    arrays), started together; wall time until the last one ends.
    """
    jobs = [make_job() for _ in range(threads)]
    with _BLAS_LIMIT:
        loops = _calibrate(jobs[0], min_seconds)
        best = 0.0
        for _ in range(reps):
            if threads == 1:
                t0 = time.thread_time()
                for _ in range(loops):
                    jobs[0]()
                dt = time.thread_time() - t0
            else:
                barrier = threading.Barrier(threads + 1)

                def work(job: Callable[[], None], barrier: threading.Barrier = barrier) -> None:
                    barrier.wait()
                    for _ in range(loops):
                        job()

                pool = [threading.Thread(target=work, args=(j,)) for j in jobs]
                for t in pool:
                    t.start()
                barrier.wait()
                t0 = time.perf_counter()
                for t in pool:
                    t.join()
                dt = time.perf_counter() - t0
            best = max(best, units * loops * threads / max(dt, 1e-9))
    return best


@dataclass
class Bound:
    """Seconds per candidate the machine needs for the hot loop's operations."""

    addmax: float  # the stated bound: one add + one max per unit of every layer, + matmuls
    ops_run: float  # the same for the operations the plan runs (folded: one max in layer 1)


@dataclass
class Machine:
    """Measured rates for one (dtype, threads): layer-1 block ops, matmul per layer shape."""

    dtype: str
    threads: int
    addmax: dict[int, float]  # m_1 -> candidate-units per second (one add + one max each)
    block: dict[int, tuple[int, int]]  # m_1 -> (k, b) of the fastest block
    add: dict[int, float]  # m_1 -> elements per second, at that block
    relu: dict[int, float]  # m_1 -> elements per second, at that block
    bmax: dict[int, float]  # m_1 -> max(T, -C) alone (the folded layer 1), best block
    bmax_block: dict[int, tuple[int, int]]
    matmul: dict[tuple[int, int], float]  # (m_out, m_in) -> FLOP/s
    mm_cands: dict[tuple[int, int], int]  # (m_out, m_in) -> N of the fastest product

    def t_bound(
        self,
        ws: list[int],
        fold: bool = False,
        rates: tuple[float, float, dict[tuple[int, int], float]] | None = None,
    ) -> Bound:
        """Seconds per candidate for widths ``ws`` (``rates``: re-measured (add+max,
        max(T, -C), matmul) rates to use instead of the sweep's)."""
        if rates is None:
            rates = (self.addmax[ws[0]], self.bmax.get(ws[0], math.nan), self.matmul)
        addmax, bmax, matmul = rates
        later = 0.0
        for m_in, m_out in itertools.pairwise(ws):
            later += 2.0 * m_out * m_in / matmul[(m_out, m_in)] + m_out / addmax
        first = ws[0] / addmax
        return Bound(first + later, (ws[0] / bmax if fold else first) + later)

    def remeasure(self, ws: list[int], fold: bool, reps: int, min_seconds: float) -> Bound:
        """:meth:`t_bound` with the rates measured again now, at the sweep's fastest shapes."""
        k, b = self.block[ws[0]]
        job = _addmax_jobs(ws[0], k, b, self.dtype)["add+max"]
        addmax = rate(job, b * ws[0] << k, self.threads, reps, min_seconds)
        bmax = math.nan
        if fold:
            k, b = self.bmax_block[ws[0]]
            job = _addmax_jobs(ws[0], k, b, self.dtype)["max(T,-C)"]
            bmax = rate(job, b * ws[0] << k, self.threads, reps, min_seconds)
        matmul = {}
        for m_in, m_out in itertools.pairwise(ws):
            n = self.mm_cands[(m_out, m_in)]
            flops = 2.0 * m_out * m_in * n
            mk = _matmul_job(m_out, m_in, n, self.dtype)
            matmul[(m_out, m_in)] = rate(mk, flops, self.threads, reps, min_seconds)
        return self.t_bound(ws, fold, (addmax, bmax, matmul))


def _addmax_jobs(
    m1: int, k: int, b: int, dtype: str
) -> dict[str, Callable[[], Callable[[], None]]]:
    """The layer-1 block of the backend: ``h[:, j, r] = T[:, r] + C[j]``, then ReLU."""

    def arrays() -> tuple[Any, Any, Any]:
        rng = np.random.default_rng(0)
        table = rng.normal(size=(m1, 1 << k)).astype(dtype)
        c = rng.normal(size=(b, m1)).astype(dtype)
        return table, c, np.empty((m1, b, 1 << k), dtype=dtype)

    def add() -> Callable[[], None]:
        t, c, h = arrays()

        def job() -> None:
            np.add(t[:, None, :], c.T[:, :, None], out=h)

        return job

    def relu() -> Callable[[], None]:
        t, c, h = arrays()
        np.add(t[:, None, :], c.T[:, :, None], out=h)

        def job() -> None:
            np.maximum(h, 0.0, out=h)

        return job

    def both() -> Callable[[], None]:
        t, c, h = arrays()

        def job() -> None:
            np.add(t[:, None, :], c.T[:, :, None], out=h)
            np.maximum(h, 0.0, out=h)

        return job

    def bmax() -> Callable[[], None]:
        t, c, h = arrays()

        def job() -> None:
            np.maximum(t[:, None, :], -c.T[:, :, None], out=h)

        return job

    return {"add": add, "relu": relu, "add+max": both, "max(T,-C)": bmax}


def _matmul_job(m_out: int, m_in: int, cands: int, dtype: str) -> Any:
    """``W_l @ H`` with ``H`` of shape ``(m_in, cands)``, into a preallocated output."""

    def make() -> Callable[[], None]:
        rng = np.random.default_rng(1)
        w = rng.normal(size=(m_out, m_in)).astype(dtype)
        h = np.maximum(rng.normal(size=(m_in, cands)), 0).astype(dtype)
        out = np.empty((m_out, cands), dtype=dtype)

        def job() -> None:
            np.matmul(w, h, out=out)

        return job

    return make


def measure_machine(
    ws_list: list[list[int]],
    dtypes: list[str],
    thread_counts: list[int],
    *,
    reps: int,
    min_seconds: float,
    rows: list[dict[str, Any]],
) -> dict[tuple[str, int], Machine]:
    """Sweep block sizes; keep the fastest of each operation.  Adds rows to ``rows``."""
    firsts = sorted({ws[0] for ws in ws_list})
    shapes = sorted({(b, a) for ws in ws_list for a, b in itertools.pairwise(ws)})
    blocks = [(8, b) for b in (1, 2, 4, 8, 16)] + [(10, b) for b in (1, 2, 4, 8)]
    out: dict[tuple[str, int], Machine] = {}
    for dtype in dtypes:
        size = np.dtype(dtype).itemsize
        for threads in thread_counts:
            mach = Machine(dtype, threads, {}, {}, {}, {}, {}, {}, {}, {})
            swept = ["add+max", "max(T,-C)"] if dtype == "float32" else ["add+max"]
            for m1 in firsts:
                for op in swept:
                    best, where = mach.addmax, mach.block
                    if op != "add+max":
                        best, where = mach.bmax, mach.bmax_block
                    for k, b in blocks:
                        job = _addmax_jobs(m1, k, b, dtype)[op]
                        r = rate(job, b * m1 << k, threads, reps, min_seconds)
                        rows.append(
                            {
                                "section": "machine",
                                "op": op,
                                "dtype": dtype,
                                "threads": threads,
                                "shape": f"({m1},{b},{1 << k})",
                                "elements_per_s": r,
                            }
                        )
                        if r > best.get(m1, 0.0):
                            best[m1], where[m1] = r, (k, b)
                k, b = mach.block[m1]
                for op in ("add", "relu"):
                    job = _addmax_jobs(m1, k, b, dtype)[op]
                    r = rate(job, b * m1 << k, threads, reps, min_seconds)
                    getattr(mach, op)[m1] = r
                    rows.append(
                        {
                            "section": "machine",
                            "op": op,
                            "dtype": dtype,
                            "threads": threads,
                            "shape": f"({m1},{b},{1 << k})",
                            "elements_per_s": r,
                            "GB_per_s": r * 2 * size / 1e9,
                        }
                    )
            for m_out, m_in in shapes:
                for cands in (256, 1024, 4096, 16384):
                    flops = 2.0 * m_out * m_in * cands
                    job = _matmul_job(m_out, m_in, cands, dtype)
                    r = rate(job, flops, threads, reps, min_seconds)
                    rows.append(
                        {
                            "section": "machine",
                            "op": "matmul",
                            "dtype": dtype,
                            "threads": threads,
                            "shape": f"({m_out},{m_in})@({m_in},{cands})",
                            "flops_per_s": r,
                        }
                    )
                    if r > mach.matmul.get((m_out, m_in), 0.0):
                        mach.matmul[(m_out, m_in)] = r
                        mach.mm_cands[(m_out, m_in)] = cands
            out[(dtype, threads)] = mach
    return out


def peak_gemm(threads: int, dtype: str, reps: int, min_seconds: float, n: int = 256) -> float:
    """FLOP/s of an n x n x n product (reference, not used in the bound)."""

    def make() -> Callable[[], None]:
        rng = np.random.default_rng(2)
        a = rng.normal(size=(n, n)).astype(dtype)
        b = rng.normal(size=(n, n)).astype(dtype)

        def job() -> None:
            np.matmul(a, b)

        return job

    return rate(make, 2.0 * n**3, threads, reps, min_seconds)


# ------------------------------------------------------------------ enumerate runs
@dataclass
class Timed:
    """One method on one instance: every repeat's time and the machine bound around it."""

    label: str
    clock: str  # "cpu" (thread CPU time, one worker) or "wall"
    points: int  # corners screened (the whole space, or the naive loop's prefix)
    precision: str
    workers: int
    seconds: list[float]
    bounds: list[Bound]  # re-measured around each repeat (mean of before and after)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def per_second(self) -> float:
        """Best-of-repeats candidates per second."""
        return self.points / self.best

    def fraction(self, which: str = "addmax") -> float:
        """Median over repeats of (achieved / machine), each run against its own bound."""
        pairs = zip(self.seconds, self.bounds, strict=True)
        return float(np.median([getattr(t, which) * self.points / s for s, t in pairs]))

    def machine(self, which: str = "addmax") -> float:
        """Median machine bound, candidates per second."""
        return 1.0 / float(np.median([getattr(t, which) for t in self.bounds]))


def run_once(
    fn: Callable[[], Status | Solution], clock: str, points: int, label: str
) -> tuple[float, str]:
    """Seconds (thread CPU or wall) of one run, and the precision it used; checks the answer."""
    t_wall, t_cpu = time.perf_counter(), time.thread_time()
    res = fn()
    dt = (time.thread_time() - t_cpu) if clock == "cpu" else (time.perf_counter() - t_wall)
    if isinstance(res, Solution):
        if res.status is not Status.NO or res.stats["points_screened"] != points:
            raise SystemExit(
                f"{label}: {res.status} after {res.stats['points_screened']} of {points}"
            )
        folded = " folded" if res.stats.get("first_relu_folded") else ""
        return dt, str(res.stats.get("precision", "")) + folded
    if res is not Status.NO:
        raise SystemExit(f"{label} answered {res}, expected no")
    return dt, "float64"


def naive_single(problem: InversionProblem, limit: int, chunk_floats: int) -> Status:
    with _BLAS_LIMIT:
        return _naive(problem, chunk_floats, limit=limit)


# ------------------------------------------------------------------ hot loop parts
def profile_parts(plan: EnumPlan, min_seconds: float) -> dict[str, float]:
    """Seconds per candidate of each step of :meth:`EnumPlan.forward` and the screen.

    Each step is timed alone, repeated on one chunk (``plan.batch`` outer
    patterns), as the shard loop runs it; then a whole shard for comparison.
    """
    prob = plan.problem
    layers = prob.network.layers
    b = plan.batch
    size = 1 << plan.table_bits
    cands = b * size
    m1 = layers[0].n_out
    buf = plan.buffer()
    span = min(plan.n_outer, b * max(1, (1 << 16) // (b * m1)))
    c = plan.outer(0, b)
    h = buf[0][: m1 * cands].reshape(m1, cands)

    def outer() -> None:  # one C block serves span / b chunks
        plan.outer(0, span)

    def add() -> None:
        np.add(plan.table[:, None, :], c.T[:, :, None], out=h.reshape(m1, b, size))

    def relu() -> None:
        np.maximum(h, 0.0, out=h)

    def fold_max() -> None:
        np.maximum(plan.table[:, None, :], -c.T[:, :, None], out=h.reshape(m1, b, size))

    steps: list[tuple[str, Callable[[], None], float]] = [
        ("outer block C[o] (amortised)", outer, cands * span / b)
    ]
    if plan.fold:
        fold_max()
        steps.append(("layer 1 max(T, -C) (folded)", fold_max, cands))
    else:
        add()
        relu()
        steps += [("layer 1 add T + C", add, cands), ("layer 1 max(h, 0)", relu, cands)]
    src = h
    for i, ((w, bias, act), scratch) in enumerate(zip(plan.rest, buf[1:], strict=True), start=2):
        nxt = scratch[: w.shape[0] * cands].reshape(w.shape[0], cands)
        np.matmul(w, src, out=nxt)
        folded = plan.fold and i == 2

        def mm(w: Any = w, src: Any = src, nxt: Any = nxt) -> None:
            np.matmul(w, src, out=nxt)

        def bias_relu(nxt: Any = nxt, bias: Any = bias, act: bool = act) -> None:
            nxt += bias
            if act:
                np.maximum(nxt, 0.0, out=nxt)

        def shift_relu(nxt: Any = nxt, w: Any = w, bias: Any = bias, act: bool = act) -> None:
            shift = c @ w.T
            shift += bias[:, 0]
            nxt3 = nxt.reshape(nxt.shape[0], b, size)
            nxt3 += shift.T[:, :, None]
            if act:
                np.maximum(nxt, 0.0, out=nxt)

        steps.append((f"layer {i} matmul", mm, cands))
        if folded:
            steps.append((f"layer {i} + W_2 C + b_2, max", shift_relu, cands))
        else:
            steps.append((f"layer {i} bias + max", bias_relu, cands))
        src = nxt
    y = src
    dist = plan.distances(y)

    def distance() -> None:
        plan.distances(y)

    def screen() -> None:
        low = float(dist.min())
        if not (low > plan.cutoff and float(dist.max()) < math.inf):
            _fmin(dist)
            _screen(dist, plan.cutoff)

    steps += [("distance", distance, cands), ("screen", screen, cands)]
    times: dict[str, float] = {}
    with _BLAS_LIMIT:
        for name, job, units in steps:
            times[name] = 1.0 / rate(lambda job=job: job, units, 1, 3, min_seconds)
        shard = plan.split(1)[0]
        part = type(shard)(
            0, 0, max(1, min(shard.stop, (1 << 22) >> plan.table_bits)), shard.table_bits
        )
        best = math.inf
        for _ in range(3):
            t0 = time.thread_time()
            res_ = run_shard(plan, part)
            best = min(best, time.thread_time() - t0)
        times["whole shard (run_shard)"] = best / res_.points
    return times


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    output_args(ap, "n = 20, one repeat, no n = 30 run")
    ap.add_argument("--n", type=int, default=None, help="n of both instances (default 24)")
    ap.add_argument("--repeat", type=int, default=None, help="best of this many runs (2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--naive-bits",
        type=int,
        default=22,
        help="time the full-forward loop on the first 2^this corners (its rate is uniform)",
    )
    ap.add_argument("--n30", dest="n30", action="store_true", default=None)
    ap.add_argument("--no-n30", dest="n30", action="store_false")
    ap.add_argument("--n30-n", type=int, default=30, help="n of the Dask instance (30)")
    ap.add_argument("--n30-limit", type=float, default=900.0, help="time limit of that run (s)")
    ap.add_argument("--no-dask", action="store_true", help="no Dask row at --n")
    args = ap.parse_args(argv)
    n = args.n if args.n is not None else (20 if args.quick else 24)
    reps = args.repeat if args.repeat is not None else (1 if args.quick else 2)
    do_n30 = args.n30 if args.n30 is not None else not args.quick
    micro_seconds = 0.05 if args.quick else 0.15
    micro_reps = 2 if args.quick else 3
    paired_reps = 1 if args.quick else 2
    name = output_name(args, "enumerate")
    logging.getLogger("distributed").setLevel(logging.ERROR)

    cores = default_workers()
    say(machine_line(), f"numpy {np.__version__}; {cores} worker threads for 'all cores'")
    t_start = time.perf_counter()
    problems = {
        f"3-SAT Thm 1, n={n}": sat_problem(n, args.seed),
        f"dense 2-layer, n={n}": dense_problem(n, args.seed),
    }
    rows: list[dict[str, Any]] = []
    big_problem = sat_problem(args.n30_n, args.seed) if do_n30 else None

    # 1. machine ------------------------------------------------------------
    threads_list = sorted({1, cores})
    all_widths = [widths(p) for p in problems.values()]
    if big_problem is not None:
        all_widths.append(widths(big_problem))
    machine = measure_machine(
        all_widths,
        ["float32", "float64"],
        threads_list,
        reps=micro_reps,
        min_seconds=micro_seconds,
        rows=rows,
    )
    gemm = {
        (dt, t): peak_gemm(t, dt, micro_reps, micro_seconds)
        for dt in ("float32", "float64")
        for t in threads_list
    }
    firsts = sorted({ws[0] for ws in all_widths})
    shapes = sorted(next(iter(machine.values())).matmul)
    table = make_table(
        "Machine throughput, measured in this run (numpy "
        + np.__version__
        + ", BLAS limited to 1 thread per worker as in the backend)",
        [
            "dtype",
            "threads",
            "m_1",
            "add G elem/s",
            "add GB/s",
            "max(h,0) G elem/s",
            "max GB/s",
            "add+max G cand.unit/s",
            "fastest block (m_1,b,2^k)",
            "max(T,-C) G elem/s",
            *[f"matmul {a}x{b} GFLOP/s" for (a, b) in shapes],
            "GEMM 256^3 GFLOP/s",
        ],
        caption=(
            "add+max is the best of a sweep over layer-1 blocks (m_1, b, 2^k), 2^k = 256 with "
            "b = 1..16 and 2^k = 1024 with b = 1..8 (256 to 8192 candidates), for each "
            "instance's m_1: the broadcast T + C[o] into the block as the backend does it, then "
            "the in-place ReLU; add and max alone are at that block; GB/s counts one read and "
            "one write per element. max(T,-C) (float32 only: the folded layer 1) is the "
            "broadcast max alone, best of the same sweep. "
            "matmul m_out x m_in is W_l @ H into a preallocated output, H of shape (m_in, N), "
            "best of N = 256..16384, for the later layer of each instance. 1 thread: thread "
            "CPU time (the machine is shared; time the thread was descheduled is not "
            "counted); all cores: wall time, each thread on its own arrays."
        ),
    )
    for (dtype, threads), mach in machine.items():
        size = np.dtype(dtype).itemsize
        for i, m1 in enumerate(firsts):
            k, b = mach.block[m1]
            add_row(
                table,
                dtype if i == 0 else "",
                threads if i == 0 else "",
                m1,
                f"{mach.add[m1] / 1e9:.2f}",
                f"{mach.add[m1] * 2 * size / 1e9:.1f}",
                f"{mach.relu[m1] / 1e9:.2f}",
                f"{mach.relu[m1] * 2 * size / 1e9:.1f}",
                f"{mach.addmax[m1] / 1e9:.2f}",
                f"({m1},{b},{1 << k})",
                f"{mach.bmax[m1] / 1e9:.2f}" if m1 in mach.bmax else "-",
                *[f"{mach.matmul[s] / 1e9:.1f}" if i == 0 else "" for s in shapes],
                f"{gemm[(dtype, threads)] / 1e9:.1f}" if i == 0 else "",
            )
    print_table(table)

    # 2. enumerate at n -----------------------------------------------------
    clusters: list[Any] = []
    dask_note = ""
    client = None
    if not args.no_dask:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=cores,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        clusters.append((client, cluster))
        dask_note = f"Dask LocalCluster start-up {time.perf_counter() - t0:.1f} s (not counted)"
    naive_points = 1 << min(n, args.naive_bits)
    results: dict[str, list[Timed]] = {}
    try:
        for pname, prob in problems.items():
            total = 1 << prob.n
            plan = make_plan(prob)
            auto = plan.dtype + (" folded" if plan.fold else "")
            Run = tuple[str, Callable[[], Status | Solution], str, int, int, str]
            runs: list[Run] = [
                (
                    "naive, 2^20 chunks, 1 thread",
                    lambda prob=prob: naive_single(prob, naive_points, OLD_CHUNK_FLOATS),
                    "cpu",
                    naive_points,
                    1,
                    "float64",
                ),
                (
                    "naive, 2^16 chunks, 1 thread",
                    lambda prob=prob: naive_single(prob, naive_points, CHUNK_FLOATS),
                    "cpu",
                    naive_points,
                    1,
                    "float64",
                ),
                (
                    f"naive, BLAS {cores} threads",
                    lambda prob=prob: _naive(prob, OLD_CHUNK_FLOATS, limit=naive_points),
                    "wall",
                    naive_points,
                    cores,
                    "float64",
                ),
                (
                    "table float64, 1 worker",
                    lambda prob=prob: enumerate_corners(prob, workers=1, precision="float64"),
                    "cpu",
                    total,
                    1,
                    "float64",
                ),
                (
                    "table, 1 worker",
                    lambda prob=prob: enumerate_corners(prob, workers=1),
                    "cpu",
                    total,
                    1,
                    auto,
                ),
                (
                    f"table, {cores} threads",
                    lambda prob=prob: enumerate_corners(prob, workers=cores),
                    "wall",
                    total,
                    cores,
                    auto,
                ),
                (
                    f"table, {cores} processes",
                    lambda prob=prob: enumerate_corners(prob, workers=cores, executor="processes"),
                    "wall",
                    total,
                    cores,
                    auto,
                ),
            ]
            if client is not None:
                runs.append(
                    (
                        f"Dask, {cores} workers",
                        lambda prob=prob: enumerate_corners(prob, scheduler=client),
                        "wall",
                        total,
                        cores,
                        auto,
                    )
                )
            ws = widths(prob)
            done = {
                label: Timed(label, clock, points, dtype, workers, [], [])
                for label, _, clock, points, workers, dtype in runs
            }
            for _ in range(reps):  # interleaved, each run between two bound measurements
                for label, fn, clock, points, _, kind in runs:
                    mach = machine[(kind.split()[0], 1 if clock == "cpu" else cores)]
                    fold = kind.endswith("folded")
                    before = mach.remeasure(ws, fold, paired_reps, micro_seconds / 2)
                    secs, used = run_once(fn, clock, points, label)
                    after = mach.remeasure(ws, fold, paired_reps, micro_seconds / 2)
                    if used != kind:
                        raise SystemExit(f"{label} ran in {used}, expected {kind}")
                    bound = Bound(
                        0.5 * (before.addmax + after.addmax), 0.5 * (before.ops_run + after.ops_run)
                    )
                    done[label].seconds.append(secs)
                    done[label].bounds.append(bound)
                    say(
                        f"  {pname:24s} {label:36s} {points / secs / 1e6:8.2f} M cand/s "
                        f"({clock}), {bound.addmax * points / secs:.2f} of machine"
                    )
            results[pname] = list(done.values())
    finally:
        for cl, cluster in clusters:
            cl.close()
            cluster.close()

    table = make_table(
        f"enumerate at n = {n}: achieved throughput against the machine bound",
        [
            "instance",
            "method",
            "precision",
            "clock",
            "seconds",
            "M cand/s",
            "G cand.neuron/s",
            "machine G cand.neuron/s",
            "fraction of machine",
            "fraction, ops run",
            "x naive",
        ],
        caption=(
            "Neurons per candidate = sum of layer widths ("
            + "; ".join(f"{p}: {'+'.join(map(str, widths(q)))}" for p, q in problems.items())
            + "). Machine bound per candidate: t = m_1/R_addmax + sum_{l>=2} "
            "(2 m_l m_(l-1)/R_mm(l) + m_l/R_addmax), R the rates of the table above at its "
            "fastest shapes, measured again just before and just after each run (the mean of "
            "the two), in the precision the run used (float32 only where the backend proves "
            "float32 evaluation exact); machine G cand.neuron/s = sum m_l / t (median over "
            "repeats); fraction = achieved / machine, median over repeats of each run against "
            "its own bound. 'float32 folded' plans do not run that add: they compute "
            "max(T, -C) per unit and add W_2 C + b_2 once per outer pattern (exact, see "
            "enumerate.py), so they can pass the add+max bound; 'fraction, ops run' replaces "
            "m_1/R_addmax by m_1/R_max(T,-C), the measured rate of that one broadcast max. "
            "cpu: thread CPU time of one worker, against 1-thread rates; wall: "
            f"wall time with all cores, against {cores}-thread rates, including process "
            "start-up for 'processes' and scheduling for Dask (cluster start-up not counted). "
            "Naive rows (the previous loop: z @ W_1^T for every corner, float64, chunks of "
            "2^20 float64 as it had, and of 2^16 as the table method now has) ran on the "
            f"first 2^{min(n, args.naive_bits)} corners (its rate does not depend on which); "
            "x naive: against the faster naive row on the same clock. Every run "
            "answered no; the table rows screened all 2^n corners (checked). Seconds and "
            f"M cand/s: best of {reps} interleaved repeats."
        ),
    )
    for pname, runs_done in results.items():
        neurons = sum(widths(problems[pname]))
        base: dict[str, float] = {}
        for r in runs_done:  # the faster naive row of each clock
            if r.label.startswith("naive"):
                base[r.clock] = max(base.get(r.clock, 0.0), r.per_second)
        for r in runs_done:
            add_row(
                table,
                pname,
                r.label,
                r.precision,
                r.clock,
                f"{r.best:.2f}",
                f"{r.per_second / 1e6:.2f}",
                f"{r.per_second * neurons / 1e9:.3f}",
                f"{r.machine() * neurons / 1e9:.3f}",
                f"{r.fraction():.2f}",
                f"{r.fraction('ops_run'):.2f}",
                f"{r.per_second / base[r.clock]:.1f}",
            )
            rows.append(
                {
                    "section": f"n={n}",
                    "instance": pname,
                    "method": r.label,
                    "precision": r.precision,
                    "clock": r.clock,
                    "seconds": r.best,
                    "all_seconds": " ".join(f"{x:.3f}" for x in r.seconds),
                    "points": r.points,
                    "cand_per_s": r.per_second,
                    "cand_neurons_per_s": r.per_second * neurons,
                    "machine_cand_neurons_per_s": r.machine() * neurons,
                    "fraction": r.fraction(),
                    "machine_ops_run_cand_neurons_per_s": r.machine("ops_run") * neurons,
                    "fraction_ops_run": r.fraction("ops_run"),
                    "x_naive": r.per_second / base[r.clock],
                }
            )
    print_table(table)
    if dask_note:
        say(dask_note)

    # 3. where the time goes --------------------------------------------------
    table = make_table(
        "Where the time goes: one chunk of the hot loop, step by step (1 thread, CPU time)",
        ["instance", "precision", "step", "ns/cand", "share", "bound ns/cand"],
        caption=(
            "Each step of EnumPlan.evaluate and the screen timed alone on one chunk "
            "(best of 3); 'whole shard' is run_shard on up to 2^22 corners, per corner; the "
            "bound column is the machine bound of the step (1-thread rates above)."
        ),
    )
    profiles: dict[str, dict[str, float]] = {}
    for pname, prob in problems.items():
        plan = make_plan(prob)
        parts = profile_parts(plan, micro_seconds)
        profiles[pname] = parts
        mach = machine[(plan.dtype, 1)]
        ws = widths(prob)
        addmax = mach.addmax[ws[0]]
        bounds = {"layer 1 add T + C": ws[0] / addmax}  # add + max together
        if plan.fold:
            bounds["layer 1 max(T, -C) (folded)"] = ws[0] / mach.bmax[ws[0]]
        for i, (m_in, m_out) in enumerate(itertools.pairwise(ws), start=2):
            bounds[f"layer {i} matmul"] = 2.0 * m_out * m_in / mach.matmul[(m_out, m_in)]
            bounds[f"layer {i} bias + max"] = m_out / addmax
            bounds[f"layer {i} + W_2 C + b_2, max"] = m_out / addmax
        steps_total = sum(v for s, v in parts.items() if not s.startswith("whole"))
        for step, secs in parts.items():
            share = "" if step.startswith("whole") else f"{secs / steps_total:.0%}"
            bnd = bounds.get(step)
            btxt = "" if bnd is None else f"{bnd * 1e9:.1f}"
            if step == "layer 1 add T + C":
                btxt += " (add+max)"
            if step.startswith("whole"):
                btxt = f"{mach.t_bound(ws, plan.fold).ops_run * 1e9:.1f}"
            add_row(table, pname, plan.dtype, step, f"{secs * 1e9:.1f}", share, btxt)
            rows.append(
                {
                    "section": "profile",
                    "instance": pname,
                    "precision": plan.dtype,
                    "step": step,
                    "ns_per_cand": secs * 1e9,
                }
            )
    print_table(table)

    # 4. n = 30 through Dask --------------------------------------------------
    big: dict[str, Any] | None = None
    if big_problem is not None:
        big = run_n30(big_problem, cores, args.n30_limit, machine, micro_seconds)
        rows.append({"section": "n30", **{k: v for k, v in big.items() if k != "proof"}})
    say(f"total benchmark time {time.perf_counter() - t_start:.0f} s")
    save_csv(name, rows)
    if not args.no_plot:
        _plot(name, results, cores, big)
    say(f"wrote {os.path.relpath(save_text(name))}")
    return {"name": name, "rows": rows, "results": results}


def run_n30(
    prob: InversionProblem,
    cores: int,
    limit: float,
    machine: dict[tuple[str, int], Machine],
    micro_seconds: float,
) -> dict[str, Any]:
    """One unsatisfiable Theorem 1 instance with 2^n corners, decided on a local Dask cluster."""
    from geninv.solvers.base import solve

    n = prob.n
    say(f"n = {n} Dask run, solving (limit {limit:.0f} s) ...")
    ws = widths(prob)
    plan = make_plan(prob)
    mach = machine[(plan.dtype, cores)]
    before = mach.remeasure(ws, plan.fold, 1, micro_seconds)
    t0 = time.perf_counter()
    sol = solve(
        prob,
        "enumerate",
        time_limit=limit,
        progress=True,
        options={
            "scheduler": "local",
            "dask_options": {"n_workers": cores, "threads_per_worker": 1},
        },
    )
    wall = time.perf_counter() - t0
    after = mach.remeasure(ws, plan.fold, 1, micro_seconds)
    st = sol.stats
    total = 1 << n
    shards = (sol.proof or {}).get("shards", [])
    summed = sum(int(s["points"]) for s in shards)
    tiles = all(a["stop"] == b["first"] for a, b in itertools.pairwise(shards)) and (
        bool(shards) and shards[0]["first"] == 0 and shards[-1]["stop"] == total
    )
    cps = int(st["points_screened"]) / wall
    t_bound = 0.5 * (before.addmax + after.addmax)
    t_run = 0.5 * (before.ops_run + after.ops_run)
    info = {
        "instance": f"3-SAT Thm 1, n={n} ({prob.network.n_inputs}-{'-'.join(map(str, ws))})",
        "status": str(sol.status),
        "wall_s": wall,
        "points_screened": int(st["points_screened"]),
        "total": total,
        "shards": len(shards),
        "shard_points_sum": summed,
        "tiles": tiles,
        "cand_per_s": cps,
        "machine_cand_per_s": 1.0 / t_bound,
        "fraction": cps * t_bound,
        "fraction_ops_run": cps * t_run,
        "precision": str(st.get("precision")) + (" folded" if st.get("first_relu_folded") else ""),
        "dask_workers": st.get("dask_workers"),
        "dask_threads": st.get("dask_threads"),
        "exact_rechecks": st.get("exact_rechecks"),
    }
    table = make_table(
        f"n = {n} through the Dask path: solve(..., 'enumerate', options={{'scheduler': 'local'}})",
        ["field", "value"],
        caption=(
            "Wall time from solve() to the answer, including the LocalCluster's start-up "
            f"({cores} worker processes, 1 thread each). cand/s = points screened / wall. "
            "The fraction is against the all-cores machine bound (as above), measured just "
            "before and just after the run. Shard sums come from the proof's per-shard counts."
        ),
    )
    for key, val in [
        ("instance", info["instance"]),
        ("answer", info["status"]),
        ("wall time", f"{wall:.1f} s"),
        ("candidates/s", f"{cps / 1e6:.2f} M"),
        ("machine bound (all cores)", f"{1.0 / t_bound / 1e6:.2f} M cand/s"),
        ("fraction of machine (all cores, wall)", f"{info['fraction']:.2f}"),
        ("fraction, ops run", f"{info['fraction_ops_run']:.2f}"),
        ("precision", info["precision"]),
        ("Dask workers / threads", f"{info['dask_workers']} / {info['dask_threads']}"),
        ("shards in the proof", len(shards)),
        ("sum of shard points", f"{summed:,}"),
        (f"2^{n}", f"{total:,}"),
        ("sum == 2^n, shards tile [0, 2^n)", f"{summed == total}, {tiles}"),
        ("exact re-checks", info["exact_rechecks"]),
    ]:
        add_row(table, key, val)
    print_table(table)
    return info


def _plot(
    name: str, results: dict[str, list[Timed]], cores: int, big: dict[str, Any] | None
) -> None:
    from common import pyplot, save_figure

    plt = pyplot()
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5))
    # left: achieved vs machine, candidate-neurons per second
    labels: list[str] = []
    frac: list[float] = []
    frac_run: list[float] = []
    for pname, runs in results.items():
        for r in runs:
            labels.append(f"{pname.split(',')[0]}: {r.label} ({r.precision}, {r.clock})")
            frac.append(r.fraction())
            frac_run.append(r.fraction("ops_run"))
    if big is not None:
        labels.append(f"3-SAT n={big['total'].bit_length() - 1}: Dask ({big['precision']}, wall)")
        frac.append(float(big["fraction"]))
        frac_run.append(float(big["fraction_ops_run"]))
    y = np.arange(len(labels))
    ax1.barh(y - 0.2, frac, 0.4, color="tab:blue", label="vs add+max bound")
    ax1.barh(y + 0.2, frac_run, 0.4, color="tab:orange", label="vs ops run (folded: max only)")
    ax1.axvline(0.5, color="tab:red", ls="--", label="target 0.5")
    ax1.axvline(1.0, color="grey", ls=":")
    ax1.set_yticks(y, labels, fontsize=7)
    ax1.invert_yaxis()
    ax1.set_xlabel("achieved / machine bound (candidate-neurons per second)")
    ax1.set_title("fraction of measured machine throughput")
    ax1.legend(fontsize=8)
    # right: candidates per second per method
    methods = [r.label for r in next(iter(results.values()))]
    x = np.arange(len(methods))
    width = 0.8 / len(results)
    for i, (pname, runs) in enumerate(results.items()):
        vals = [r.per_second / 1e6 for r in runs]
        ax2.bar(x + (i - (len(results) - 1) / 2) * width, vals, width, label=pname)
    ax2.set_xticks(x, methods, rotation=30, ha="right", fontsize=7)
    ax2.set_yscale("log")
    ax2.set_ylabel("million candidates / s (1 worker: CPU time; others: wall)")
    ax2.set_title(f"enumerate methods ({cores} CPUs, shared machine)")
    ax2.legend(fontsize=8)
    save_figure(fig, name)


if __name__ == "__main__":
    main()
