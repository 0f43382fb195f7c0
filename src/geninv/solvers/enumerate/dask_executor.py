"""Dask back end of the ``enumerate`` solver: one task per shard of the outer index space.

:func:`geninv.solvers.enumerate.enumerate_corners` imports this module only
when a ``scheduler`` is given, so the default path never imports Dask.

The plan (problem, error bound, table) is pickled once and becomes a task of
its own, keyed by the hash of its bytes; each shard is a pure task depending
on it.  Because both are computed tasks (nothing is scattered), a worker lost
mid-run is harmless: the scheduler recomputes whatever lived there, and since
shards are deterministic a recomputed shard gives the same result.  Results
are merged by :class:`~geninv.solvers.enumerate.ShardCombiner`, one per shard
id, so nothing is counted twice and a ``no`` needs every shard complete.

In decide mode, a witness in shard ``s`` cancels the futures of shards
``> s``; shards already running see it through a ``distributed.Variable``
(polled at most every :data:`STOP_POLL` seconds) and stop at their next chunk.
Shards ``< s`` still finish, so the answer is the first witness in enumeration
order, as on the local path.  The variable (a few bytes) stays on the
scheduler after the run, set to -1, so that late shards still stop.
"""

# distributed's public API is only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client, Future, LocalCluster, Variable, as_completed

from geninv.budget import Budget
from geninv.problem import InversionProblem
from geninv.solvers.enumerate.combine import ShardCombiner
from geninv.solvers.enumerate.common import SHARDS_PER_WORKER, Mode, Precision
from geninv.solvers.enumerate.plan import EnumPlan, Shard, make_plan
from geninv.solvers.enumerate.shard import ShardControl, ShardResult, run_shard

#: A running shard asks the scheduler whether to stop at most this often (seconds).
STOP_POLL = 0.5
#: After the deadline, wait this long for shards to report their partial counts.
DEADLINE_GRACE = 5.0
#: LocalCluster defaults (overridden by ``dask_options``): HTTP server on a free port
#: (the default 8787 warns when taken), quiet logs.
LOCAL_DEFAULTS: dict[str, Any] = {"dashboard_address": ":0", "silence_logs": logging.ERROR}


class DaskControl(ShardControl):
    """Stop signal of a shard running as a Dask task: a scheduler-side variable."""

    def __init__(self, stop_name: str | None) -> None:
        self._name = stop_name
        self._witness: int | None = None
        self._next = time.monotonic() + STOP_POLL  # short shards never ask

    def stop(self, shard_id: int) -> bool:
        if self._name is None:
            return False
        now = time.monotonic()
        if now >= self._next:
            self._next = now + STOP_POLL
            # scheduler unreachable: carry on, stopping early is only a saving
            with contextlib.suppress(Exception):
                self._witness = int(Variable(self._name).get(timeout=STOP_POLL))
        return self._witness is not None and self._witness < shard_id


def load_plan(blob: bytes) -> EnumPlan:
    """Unpickle an :class:`EnumPlan` sent to a dask worker; raises TypeError for anything else."""
    plan = pickle.loads(blob)
    if not isinstance(plan, EnumPlan):
        raise TypeError(f"expected a pickled EnumPlan, got {type(plan).__name__}")
    return plan


def dask_shard(
    plan: EnumPlan, shard: Shard, mode: Mode, deadline: float | None, stop_name: str | None
) -> ShardResult:
    """The task run on a worker for one shard."""
    return run_shard(plan, shard, mode=mode, deadline=deadline, control=DaskControl(stop_name))


@contextmanager
def connect(scheduler: str | Client, options: dict[str, Any] | None = None) -> Iterator[Client]:
    """A client for ``scheduler``: ``"local"`` (a LocalCluster, closed afterwards),
    an address, or an existing client (left open)."""
    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler == "local":
        with (
            LocalCluster(**{**LOCAL_DEFAULTS, **(options or {})}) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(scheduler, **(options or {})) as client:
            yield client


def run_dask(
    client: Client,
    plan: EnumPlan,
    shards: list[Shard],
    comb: ShardCombiner,
    *,
    mode: Mode,
    clock: Budget,
    advance: Callable[[int], None],
) -> None:
    """Submit one task per shard and merge the results into ``comb``."""
    blob = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(blob).hexdigest()[:24]
    plan_future = client.submit(load_plan, blob, key=f"geninv-enumerate-plan-{digest}", pure=True)
    stop: Variable | None = None
    if mode == "decide":
        stop = Variable(f"geninv-enumerate-stop-{uuid.uuid4().hex}", client=client)
        stop.set(len(shards))
    stop_name = stop.name if stop is not None else None
    deadline = clock.wall_deadline()  # the workers' clock is time.time()
    futures: dict[Future[ShardResult], int] = {
        client.submit(dask_shard, plan_future, s, mode, deadline, stop_name, pure=True): s.shard_id
        for s in shards
    }
    timeout = None if clock.deadline is None else max(0.0, clock.left()) + DEADLINE_GRACE
    lowest = len(shards)
    try:
        for fut in as_completed(list(futures), timeout=timeout):
            if fut.cancelled():
                continue
            res = fut.result()
            comb.add(res)
            advance(res.points)
            if res.witness is not None and res.shard_id < lowest:
                lowest = res.shard_id
                if stop is not None:
                    stop.set(lowest)
                client.cancel([f for f, sid in futures.items() if sid > lowest])
            if mode == "decide" and comb.decisive_witness() is not None:
                break
    except TimeoutError:
        pass  # the shards missing from comb make the answer 'unknown'
    finally:
        if stop is not None and not comb.complete():
            stop.set(-1)  # stop every shard still running
        client.cancel([*futures, plan_future])


def enumerate_with_dask(
    problem: InversionProblem,
    *,
    scheduler: str | Client,
    dask_options: dict[str, Any] | None,
    shards: int | None,
    mode: Mode,
    clock: Budget,
    chunk_floats: int,
    table_bits: int | None,
    advance: Callable[[int], None],
    precision: Precision = "auto",
) -> tuple[EnumPlan, ShardCombiner, dict[str, Any]]:
    """Plan, shard and run ``problem`` on a Dask cluster; returns the merged results."""
    with connect(scheduler, dask_options) as client:
        threads = sum(client.nthreads().values())
        count = shards if shards is not None else SHARDS_PER_WORKER * max(1, threads)
        plan = make_plan(
            problem,
            chunk_floats=chunk_floats,
            table_bits=table_bits,
            min_shards=count,
            precision=precision,
        )
        shard_list = plan.split(count)
        comb = ShardCombiner(shard_list, plan.total)
        info: dict[str, Any] = {
            "scheduler": client.scheduler.address if client.scheduler is not None else None,
            "dask_workers": len(client.nthreads()),
            "dask_threads": threads,
        }
        if not clock.expired():
            run_dask(client, plan, shard_list, comb, mode=mode, clock=clock, advance=advance)
    return plan, comb, info
