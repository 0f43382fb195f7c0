"""Running shards: in sequence, on threads, on processes."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from geninv.errors import GeninvError

if TYPE_CHECKING:
    pass

from geninv.solvers.enumerate.combine import ShardCombiner
from geninv.solvers.enumerate.common import Mode
from geninv.solvers.enumerate.plan import EnumPlan, Shard
from geninv.solvers.enumerate.runtime import ShardError, _Bar
from geninv.solvers.enumerate.shard import (
    LocalControl,
    ShardControl,
    ShardResult,
    _SharedControl,
    run_shard,
)


# --------------------------------------------------------------- running shards
def _run_sequential(
    plan: EnumPlan,
    shards: Sequence[Shard],
    comb: ShardCombiner,
    mode: Mode,
    deadline: float | None,
    bar: _Bar,
) -> None:
    ctl = LocalControl(len(shards), bar.advance)
    for shard in shards:
        res = run_shard(plan, shard, mode=mode, deadline=deadline, control=ctl)
        comb.add(res)
        if mode == "decide" and comb.decisive_witness() is not None:
            return
        if res.stopped == "time limit":
            return  # later shards would stop at once


def _drain(
    futures: dict[Future[ShardResult], int],
    comb: ShardCombiner,
    mode: Mode,
    ctl: ShardControl,
    poll: Callable[[], None] | None,
) -> None:
    """Collect shard results as they complete; stop later shards when a witness turns up."""
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(
                pending, timeout=0.1 if poll is not None else None, return_when=FIRST_COMPLETED
            )
            if poll is not None:
                poll()
            for fut in sorted(done, key=futures.__getitem__):
                if fut.cancelled():
                    continue
                res = fut.result()
                comb.add(res)
                if res.witness is not None:
                    ctl.found(res.shard_id)
                    for other in pending:
                        if futures[other] > res.shard_id:
                            other.cancel()
            if mode == "decide" and comb.decisive_witness() is not None:
                return
    finally:
        for fut in pending:
            fut.cancel()
        if pending:
            ctl.found(-1)  # stop whatever still runs


def _run_threads(
    plan: EnumPlan,
    shards: Sequence[Shard],
    comb: ShardCombiner,
    mode: Mode,
    deadline: float | None,
    bar: _Bar,
    workers: int,
) -> None:
    ctl = LocalControl(len(shards), bar.advance)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="geninv-enumerate") as pool:
        futures = {
            pool.submit(run_shard, plan, s, mode=mode, deadline=deadline, control=ctl): s.shard_id
            for s in shards
        }
        _drain(futures, comb, mode, ctl, None)


_WORKER_STATE: tuple[EnumPlan, _SharedControl] | None = None


def _process_init(plan_path: str, witness: Any, progress: Any, minimum: Any) -> None:
    global _WORKER_STATE
    with open(plan_path, "rb") as fh:
        plan = pickle.load(fh)
    _WORKER_STATE = (plan, _SharedControl(witness, progress, minimum))


def _process_shard(shard: Shard, mode: Mode, deadline: float | None) -> ShardResult:
    if _WORKER_STATE is None:
        raise ShardError("worker process was not initialised")
    plan, ctl = _WORKER_STATE
    return run_shard(plan, shard, mode=mode, deadline=deadline, control=ctl)


def _run_processes(
    plan: EnumPlan,
    shards: Sequence[Shard],
    comb: ShardCombiner,
    mode: Mode,
    deadline: float | None,
    bar: _Bar,
    workers: int,
) -> None:
    ctx = mp.get_context("spawn")  # no fork of a process that may run threads
    witness = ctx.Value("q", len(shards))
    progress = ctx.Value("q", 0)
    minimum = ctx.Value("d", math.inf)
    ctl = _SharedControl(witness, progress, minimum)
    seen = 0

    def poll() -> None:
        nonlocal seen
        now = int(progress.value)
        bar.advance(now - seen)
        seen = now

    # The plan goes through a file: a large initializer argument can block the
    # parent's write to a worker that dies while starting (e.g. a script
    # without the ``if __name__ == "__main__":`` guard), instead of breaking the pool.
    with tempfile.TemporaryDirectory(prefix="geninv-enumerate-") as tmp:
        plan_path = os.path.join(tmp, "plan.pickle")
        with open(plan_path, "wb") as fh:
            pickle.dump(plan, fh, protocol=pickle.HIGHEST_PROTOCOL)
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_process_init,
            initargs=(plan_path, witness, progress, minimum),
        ) as pool:
            futures = {pool.submit(_process_shard, s, mode, deadline): s.shard_id for s in shards}
            try:
                _drain(futures, comb, mode, ctl, poll)
            except BrokenProcessPool as exc:
                raise GeninvError(
                    "an enumerate worker process died (out of memory, or a script that starts "
                    "solvers without an `if __name__ == '__main__':` guard); "
                    "use executor='threads' or fix the cause"
                ) from exc
    poll()
