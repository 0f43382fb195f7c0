"""The whole enumeration: plan, estimate, run, finish (``enumerate_corners``)."""

from __future__ import annotations

import math
import sys
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from geninv.budget import Budget
from geninv.errors import ValidationError
from geninv.exact import exact_rational, power_bounds
from geninv.problem import (
    NONINTEGER_P_DIGITS,
    ExactCheck,
    InversionProblem,
    Solution,
    Status,
)

if TYPE_CHECKING:
    from distributed import Client

from geninv.proof import KIND_ENUMERATION, Proof
from geninv.solvers.enumerate.combine import ShardCombiner
from geninv.solvers.enumerate.common import (
    ANNOUNCE_SECONDS,
    CHUNK_FLOATS,
    ESTIMATE_MIN_POINTS,
    EXECUTORS,
    MAX_TABLE_BITS,
    MODES,
    PARALLEL_MIN_POINTS,
    PRECISIONS,
    PROBE_SECONDS,
    SHARDS_PER_WORKER,
    ExecutorKind,
    Mode,
    Precision,
)
from geninv.solvers.enumerate.executors import _run_processes, _run_sequential, _run_threads
from geninv.solvers.enumerate.plan import EnumPlan, Shard, make_plan
from geninv.solvers.enumerate.runtime import (
    ShardError,
    _Bar,
    _check_supported,
    default_workers,
)
from geninv.solvers.enumerate.shard import run_shard


# --------------------------------------------------------------- the answer
def _finish(
    plan: EnumPlan,
    comb: ShardCombiner,
    mode: Mode,
    seconds: float,
    extra: dict[str, Any],
) -> Solution:
    problem = plan.problem
    stats: dict[str, Any] = {
        "points_screened": comb.points,
        "exact_rechecks": comb.rechecks,
        "cache_hits": comb.cache_hits,
        "chunk_rows": plan.rows,
        "table_bits": plan.table_bits,
        "shards": len(comb.shards),
        "float_exact": plan.bound.float_exact,
        "precision": plan.dtype,
        "first_relu_folded": plan.fold,
        "float_error_margin": plan.margin,
        "min_float_distance": comb.min_float,
        "candidates_per_second": comb.points / seconds if seconds > 0 else math.inf,
    }
    if comb.duplicates:
        stats["duplicate_shard_results"] = comb.duplicates
    stats.update(extra)

    def proof(**more: Any) -> dict[str, Any]:
        return Proof(
            KIND_ENUMERATION,
            points=plan.total,
            float_error_margin=plan.margin,
            exact_rechecks=comb.rechecks,
            table_bits=plan.table_bits,
            shards=comb.proof_shards(),
            **more,
        ).to_dict()

    def unknown(z: list[Fraction] | None = None) -> Solution:
        return Solution(
            Status.UNKNOWN,
            "enumerate",
            z=z,
            reason=f"time limit after {comb.points} of 2^{problem.n} points",
            stats=stats,
        )

    if mode == "decide":
        wit = comb.decisive_witness() or comb.first_witness()
        if wit is not None:
            assert wit.witness is not None
            z = plan.corner(wit.witness)
            chk = wit.check if wit.check is not None else problem.exact_check(z)
            if not chk.meets:
                raise ShardError(f"shard {wit.shard_id} reported a witness that fails")
            return Solution(
                Status.YES, "enumerate", z=z, distance=chk.distance, check=chk, stats=stats
            )
        if comb.complete():
            count, why = comb.undecided
            if count:
                stats["undecided_checks"] = count
                return Solution(
                    Status.UNKNOWN,
                    "enumerate",
                    reason=f"{count} corner(s) could not be compared with the threshold: {why}",
                    stats=stats,
                )
            return Solution(Status.NO, "enumerate", proof=proof(), stats=stats)
        return unknown()

    best = comb.best()
    if not comb.complete():
        if best is None or best.argmin is None:
            return unknown()
        z = plan.corner(best.argmin)
        stats["best_distance"] = problem.exact_check(z).distance
        return unknown(z)
    if best is None or best.argmin is None:
        raise ShardError("optimize mode finished without a minimiser")
    z = plan.corner(best.argmin)
    chk = problem.exact_check(z)
    stats["min_distance"] = chk.distance
    stats["argmin"] = [int(v) for v in z]
    if chk.meets:
        return Solution(Status.YES, "enumerate", z=z, distance=chk.distance, check=chk, stats=stats)
    why = _optimize_no_gap(problem, chk, best.min_key)
    if why is not None:
        stats[_DECIDE_AGAIN] = True  # enumerate_corners reruns in decide mode
        return Solution(Status.UNKNOWN, "enumerate", z=z, reason=why, stats=stats)
    return Solution(
        Status.NO,
        "enumerate",
        distance=chk.distance,
        proof=proof(min_distance=chk.distance),
        stats=stats,
    )


_DECIDE_AGAIN = "_decide_again"
_OPT_KEYS = ("min_distance", "argmin", "points_screened", "exact_rechecks")


def _optimize_no_gap(
    problem: InversionProblem, chk: ExactCheck, min_key: Fraction | None
) -> str | None:
    """Why the minimiser's failed check does not prove ``no`` (None: it does).

    For integer p and p = inf the keys are exact, so the minimiser failing means
    every corner fails.  For other p the keys are lower bounds (:func:`exact_key`):
    ``no`` needs the smallest key above an upper bound of delta^p.
    """
    if not chk.in_domain:
        return None
    if not chk.decided:
        return f"the minimiser's distance could not be compared with the threshold: {chk.reason}"
    p = problem.p
    if math.isinf(p) or p.is_integer():
        return None
    top = power_bounds([problem.threshold], exact_rational(p), NONINTEGER_P_DIGITS)
    if min_key is not None and top is not None and min_key > top[1]:
        return None
    return (
        f"the minimal distance is within {NONINTEGER_P_DIGITS} digits of the threshold "
        f"(p = {p!r}); optimize mode cannot exclude the other near-minimal corners"
    )


def _validate(
    mode: str,
    chunk_floats: int,
    workers: int | None,
    shards: int | None,
    executor: str,
    table_bits: int | None,
    scheduler: object,
    precision: str = "auto",
) -> None:
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    if chunk_floats < 1:
        raise ValidationError(f"chunk_floats must be positive, got {chunk_floats}")
    if workers is not None and workers < 1:
        raise ValidationError(f"workers must be positive, got {workers}")
    if shards is not None and shards < 1:
        raise ValidationError(f"shards must be positive, got {shards}")
    if executor not in EXECUTORS:
        raise ValidationError(f"executor must be 'threads' or 'processes', got {executor!r}")
    if precision not in PRECISIONS:
        raise ValidationError(f"precision must be 'auto' or 'float64', got {precision!r}")
    if table_bits is not None and not 0 <= table_bits <= MAX_TABLE_BITS:
        raise ValidationError(f"table_bits must be in [0, {MAX_TABLE_BITS}], got {table_bits}")
    if isinstance(scheduler, str) and scheduler != "local" and "://" not in scheduler:
        raise ValidationError(
            f"scheduler must be 'local' or an address such as 'tcp://host:8786', got {scheduler!r}"
        )


def estimate_seconds(plan: EnumPlan, shard: Shard, mode: Mode, workers: int) -> float | None:
    """Seconds to screen all ``plan.total`` corners, from a probe of ``PROBE_SECONDS``.

    The probe screens the start of ``shard`` (its result is discarded) and the
    rate is taken to scale with the workers; a decide run may stop earlier, at a
    witness.  None when the probe screened nothing.
    """
    probe = Shard(-1, shard.start, shard.stop, shard.table_bits)
    res = run_shard(plan, probe, mode=mode, deadline=Budget(PROBE_SECONDS).wall_deadline())
    if res.points <= 0 or res.seconds <= 0:
        return None
    return plan.total / (res.points / res.seconds) / max(1, workers)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def enumerate_corners(
    problem: InversionProblem,
    *,
    mode: Mode = "decide",
    time_limit: float | None = None,
    progress: bool = False,
    chunk_floats: int = CHUNK_FLOATS,
    workers: int | None = None,
    shards: int | None = None,
    executor: ExecutorKind = "threads",
    table_bits: int | None = None,
    scheduler: str | Client | None = None,
    dask_options: dict[str, Any] | None = None,
    precision: Precision = "auto",
) -> Solution:
    """Decide (or, with ``mode="optimize"``, minimise) by enumerating every corner.

    Returns ``yes`` with an exactly re-checked witness (the first in
    enumeration order), ``no`` with an exhaustive-enumeration proof (per-shard
    point counts summing to 2^n), or ``unknown`` when ``time_limit`` (seconds,
    checked between chunks and between exact re-checks) runs out.  Raises
    :class:`UnsupportedError` for non-discrete domains and n > 40.

    Parallelism: without ``scheduler``, ``workers`` threads (``executor="threads"``,
    default all CPUs; problems under 2^16 corners run in the calling thread) or
    spawned processes (``"processes"``; a script using them needs the
    ``if __name__ == "__main__":`` guard) screen ``shards`` shards (default 8
    per worker).  ``scheduler="local"`` starts a Dask ``LocalCluster`` (keyword
    arguments from ``dask_options``) for this call; an address
    (``"tcp://host:8786"``, ``dask_options`` then go to ``Client``) or a
    ``distributed.Client`` uses that cluster; one task per shard (default 8 per
    worker thread).  ``table_bits`` is k (default 10, capped by n, by the chunk
    size and so that there are at least ``shards`` outer patterns).  Memory:
    each running shard holds one chunk (``chunk_floats`` float64 per layer, or
    the same bytes of float32)
    and the plan holds the ``m_1 x 2^k`` table.  BLAS is kept single-threaded
    while shards run (see :class:`_BlasLimit`).  ``precision="auto"`` evaluates
    in float32 where that is provably exact (integer-like networks; see the
    module docstring), ``"float64"`` always in float64.
    """
    _validate(mode, chunk_floats, workers, shards, executor, table_bits, scheduler, precision)
    _check_supported(problem)
    clock = Budget(time_limit)
    start = clock.start
    deadline = clock.wall_deadline()  # what the shards compare time.time() with
    n = problem.n
    label = f"enumerate 2^{n}"
    extra: dict[str, Any] = {"mode": mode}
    if scheduler is None:
        nworkers = workers if workers is not None else default_workers()
        if workers is None and (1 << n) < PARALLEL_MIN_POINTS:
            nworkers = 1
        nshards = (
            shards if shards is not None else (1 if nworkers == 1 else SHARDS_PER_WORKER * nworkers)
        )
        plan = make_plan(
            problem,
            chunk_floats=chunk_floats,
            table_bits=table_bits,
            min_shards=nshards,
            precision=precision,
        )
        shard_list = plan.split(nshards)
        comb = ShardCombiner(shard_list, plan.total)
        kind = "sequential" if nworkers == 1 or len(shard_list) == 1 else executor
        extra.update(workers=nworkers if kind != "sequential" else 1, executor=kind)
        if time_limit is None and plan.total >= ESTIMATE_MIN_POINTS:
            estimate = estimate_seconds(plan, shard_list[0], mode, nworkers)
            if estimate is not None:
                extra["estimated_seconds"] = round(estimate, 1)
                if estimate > ANNOUNCE_SECONDS:
                    sys.stderr.write(
                        f"enumerate: 2^{n} corners on {nworkers} worker(s), estimated "
                        f"{_duration(estimate)} (a probe screened corners at "
                        f"{plan.total / estimate / nworkers:,.0f}/s per worker); "
                        "--time-limit bounds the run\n"
                    )
                    sys.stderr.flush()
        if not clock.expired():
            with _Bar(plan.total, progress, label) as bar:
                if kind == "sequential":
                    _run_sequential(plan, shard_list, comb, mode, deadline, bar)
                elif kind == "threads":
                    _run_threads(plan, shard_list, comb, mode, deadline, bar, nworkers)
                else:
                    _run_processes(plan, shard_list, comb, mode, deadline, bar, nworkers)
    else:
        from geninv.solvers.enumerate.dask_executor import enumerate_with_dask

        with _Bar(1 << n, progress, label) as bar:
            plan, comb, info = enumerate_with_dask(
                problem,
                scheduler=scheduler,
                dask_options=dask_options,
                shards=shards,
                mode=mode,
                clock=clock,
                chunk_floats=chunk_floats,
                table_bits=table_bits,
                advance=bar.advance,
                precision=precision,
            )
        extra.update(info)
        extra["executor"] = "dask"
    seconds = time.perf_counter() - start
    sol = _finish(plan, comb, mode, seconds, extra)
    if sol.stats.pop(_DECIDE_AGAIN, False):
        # non-integer p, minimiser at the threshold within the keys' precision: decide
        # mode checks every corner the float bound cannot exclude against the threshold
        rest = None if clock.deadline is None else max(0.0, clock.left())
        dec = enumerate_corners(
            problem,
            mode="decide",
            time_limit=rest,
            progress=progress,
            chunk_floats=chunk_floats,
            workers=workers,
            shards=shards,
            executor=executor,
            table_bits=table_bits,
            scheduler=scheduler,
            dask_options=dask_options,
            precision=precision,
        )
        dec.stats["optimize"] = {k: v for k, v in sol.stats.items() if k in _OPT_KEYS}
        dec.stats["optimize"]["borderline"] = sol.reason
        dec.stats["mode"] = "optimize, then decide"
        sol = dec
    sol.seconds = time.perf_counter() - start
    return sol


#: Activations the float pass and its rigorous error bound handle; others are refused.
