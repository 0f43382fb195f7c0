"""Running a sweep: plan its cells, skip the finished ones, run the rest on Dask (or
in this process), and append each row to the store the moment its cell finishes.

Guarantees (docs/lab.md):

* **No lost row.**  The main process writes a row as its future completes
  (``distributed.as_completed``) and commits it at once, so killing the main process
  (even SIGKILL) loses only cells still running.
* **No duplicate, no redo.**  ``resume=True`` skips every cell whose key is in the store;
  the store's UNIQUE key refuses a second row for a cell anyway.  Without ``resume``, a
  store that already holds cells of the same spec is refused (nothing is overwritten).
* **A lost worker costs its cell only.**  A cell whose future fails (its worker died,
  or it raised) is not recorded; it is counted as lost and ``--resume`` reruns it.
* **Signals.**  SIGINT / SIGTERM raise :class:`geninv.guard.Interrupted` in the main
  thread (the CLI's signal policy); the local cluster's worker processes are tracked
  children (:func:`geninv.guard.track_child`) and are SIGKILLed, so the sweep stops
  within about a second, children included.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geninv import guard
from geninv.errors import ValidationError
from geninv.lab.cells import Cell, instance_seed, run_cell
from geninv.lab.spec import Spec
from geninv.lab.store import Store


def plan_cells(spec: Spec) -> list[Cell]:
    """Every cell of ``spec``, in order family, size, rep, solver (the solvers of one
    coordinate are adjacent, so a worker reuses the instance it built).  Two family
    entries that name the same cell (same family, params, size, rep and solver) plan it
    once."""
    cells: list[Cell] = []
    keys: set[str] = set()
    for fam in spec.families:
        params_json = json.dumps(fam.params, sort_keys=True)
        for n in fam.sizes:
            for rep in range(fam.seeds):
                seed = instance_seed(spec.seed, fam.family, params_json, n, rep)
                for solver in fam.solvers:
                    cell = Cell(
                        spec.hash, fam.family, params_json, n, rep, seed, solver, spec.time_limit
                    )
                    if cell.key not in keys:
                        keys.add(cell.key)
                        cells.append(cell)
    return cells


@dataclass
class SweepResult:
    """What a sweep did: cells planned, already in the store, recorded now, lost (not
    recorded: a worker died or the cell raised; ``errors`` says why), seconds, and the
    coordinates whose definite answers disagree (``disagreements``: a bug somewhere)."""

    planned: int = 0
    skipped: int = 0
    recorded: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    disagreements: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


Submit = Callable[[list[Cell]], Iterator[tuple[Cell, dict[str, Any] | None, str]]]


def _inline(cells: list[Cell]) -> Iterator[tuple[Cell, dict[str, Any] | None, str]]:
    """Run the cells one after the other in this process."""
    for c in cells:
        try:
            yield c, run_cell(c.to_dict()), ""
        except Exception as exc:  # the cell is lost, the sweep goes on
            yield c, None, f"{type(exc).__name__}: {exc}"


#: How long an interrupted sweep waits for Dask's client and cluster to close.
CLOSE_SECONDS = 0.1


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client: of the scheduler at ``scheduler`` (``tcp://host:port``), or of a
    fresh :class:`distributed.LocalCluster` with ``workers`` single-threaded worker
    processes, whose pids are tracked so a signal kills them, and which gives up on a
    task at the first worker that dies running it (``allowed-failures = 0``: the cell
    is lost, ``--resume`` reruns it; a separately started scheduler keeps its own
    setting, ``dask scheduler`` reads ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``)."""
    try:
        dist: Any = importlib.import_module("distributed")
    except ImportError:
        raise ValidationError(
            "running cells on Dask needs the 'distributed' package (pip install distributed); "
            "or run in this process with --inline"
        ) from None
    if scheduler is not None:
        try:
            client = dist.Client(scheduler, timeout=15)
        except (OSError, ValueError) as exc:
            raise ValidationError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    dask: Any = importlib.import_module("dask")
    # a cell whose worker dies (a native crash, the OOM killer) is lost at once, not
    # retried on the next worker: Dask's default (3 retries) made a crashing cell cost
    # four workers and four time limits
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = dist.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
    pids = [w.pid for w in cluster.workers.values() if getattr(w, "pid", None)]
    for pid in pids:
        guard.track_child(pid)
    client = dist.Client(cluster)
    clean = False
    try:
        yield client
        clean = True
    finally:
        if clean:
            client.close()
            cluster.close()
        for pid in pids:
            guard.untrack_child(pid)
        if not clean:  # interrupted or failed: no graceful shutdown, kill the workers
            kill_trees(pids)
            # then drop the client and cluster at once: left open, their exit-time close
            # waited for the dead workers (SIGTERM took 5 s instead of < 1 in 1 run of 3)
            for obj in (client, cluster):
                with contextlib.suppress(Exception):
                    obj.close(timeout=CLOSE_SECONDS)


def _descendants(roots: list[int]) -> list[int]:
    """``roots`` and every process below them (Linux ``/proc``; elsewhere ``roots``)."""
    import os

    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def kill_trees(pids: list[int]) -> None:
    """SIGKILL the processes ``pids`` and all their descendants (a worker's own solver
    child processes included), found before any is killed."""
    import os
    import signal

    for pid in _descendants(pids):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _dask(client: Any) -> Submit:
    def submit(cells: list[Cell]) -> Iterator[tuple[Cell, dict[str, Any] | None, str]]:
        as_completed: Any = importlib.import_module("distributed").as_completed

        futures = {
            client.submit(run_cell, c.to_dict(), key=f"cell-{c.key}", pure=False): c for c in cells
        }
        for fut in as_completed(futures):
            cell = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # lost worker or failing cell: not recorded
                yield cell, None, f"{type(exc).__name__}: {exc}"
            else:
                yield cell, row, ""
            fut.release()

    return submit


def _progress(total: int, enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]lab[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        disable=not enabled,
        transient=False,
    )


def disagreements(rows: list[dict[str, Any]]) -> list[str]:
    """Coordinates (family, params, n, seed) where one solver said yes and another no,
    or a definite answer contradicts the generator's expected one."""
    by: dict[tuple[Any, ...], dict[str, str]] = {}
    expected: dict[tuple[Any, ...], str | None] = {}
    for r in rows:
        coord = (r["family"], r["params"], r["n"], r["seed"])
        by.setdefault(coord, {})[r["solver"]] = r["answer"]
        expected[coord] = r["expected"]
    out = []
    for coord, answers in by.items():
        definite = {a for a in answers.values() if a in ("yes", "no")}
        exp = expected[coord]
        if len(definite) > 1 or (exp in ("yes", "no") and definite and definite != {exp}):
            shown = ", ".join(f"{s}={a}" for s, a in sorted(answers.items()))
            out.append(f"{coord[0]} n={coord[2]} seed={coord[3]}: {shown} (expected {exp})")
    return out


#: What ``--scheduler`` accepts: a Dask scheduler address with a port.
_ADDRESS = re.compile(r"(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}")


def check_scheduler(address: str) -> None:
    """Refuse a ``--scheduler`` that is not ``tcp://HOST:PORT`` (or ``tls://``)."""
    if not _ADDRESS.fullmatch(address):
        raise ValidationError(
            f"--scheduler {address!r}: expected a Dask scheduler address such as "
            "tcp://127.0.0.1:8786"
        )


def run_sweep(
    spec: Spec,
    store_path: str | Path,
    *,
    resume: bool = False,
    scheduler: str | None = None,
    workers: int = 2,
    inline: bool = False,
    progress: bool = True,
) -> SweepResult:
    """Run ``spec`` into the store at ``store_path`` (see the module docstring)."""
    if scheduler is not None:
        check_scheduler(scheduler)
    t0 = time.perf_counter()
    result = SweepResult()
    with Store(store_path) as store:
        have = store.count(spec.hash)
        if have and not resume:
            raise ValidationError(
                f"{store_path}: already holds {have} finished cell(s) of this spec "
                f"({spec.name!r}); add --resume to finish it without redoing them, or "
                "choose another --store"
            )
        store.add_spec(spec.hash, spec.name, spec.text)
        cells = plan_cells(spec)
        done = store.done_keys(spec.hash)
        todo = [c for c in cells if c.key not in done]
        result.planned, result.skipped = len(cells), len(cells) - len(todo)
        with contextlib.ExitStack() as stack:
            if inline or not todo:
                submit: Submit = _inline
            else:
                submit = _dask(stack.enter_context(dask_client(scheduler, workers)))
            bar = stack.enter_context(_progress(len(todo), progress))
            task = bar.add_task(spec.name, total=len(todo))
            for cell, row, err in submit(todo):
                if row is None:
                    result.lost += 1
                    result.errors.append(f"{cell.family} n={cell.n} {cell.solver}: {err}")
                elif store.add_row(row):
                    result.recorded += 1
                bar.advance(task)
        rows = [r for r in store.rows() if r["spec_hash"] == spec.hash]
    for r in rows:
        result.counts[r["answer"]] = result.counts.get(r["answer"], 0) + 1
    result.disagreements = disagreements(rows)
    result.seconds = time.perf_counter() - t0
    return result
