"""SCIP's heap-corruption aborts under the lab's Dask workers (docs/lab.md).

* The cause: SCIP's NLP solves (Ipopt -> MUMPS) order with the METIS inside the
  pyscipopt wheel, which corrupts the heap (``free(): invalid pointer``) on the
  Theorem 5 clique MIQPs at n = 30 of ``bench/specs/graphs.toml``.  geninv's SCIP model
  makes MUMPS order with QAMD (``nlpi/ipopt/optfile``): the model of such a cell, run to
  the point where the crash came (the MPEC heuristic's first NLP), now finishes.
* Why it killed Dask workers only: SCIP was forked into a child only from the main
  thread, and a Dask worker runs cells in an executor thread, so there SCIP ran in the
  worker itself.  Any thread forks now: a native abort in a worker thread is a
  ``crashed`` status (an *unknown* row with the reason), and the worker lives on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest

from geninv.budget import Budget
from geninv.solvers import miqp, native


def _in_thread(fn: Any) -> Any:
    """``fn()`` in a fresh non-main thread (as a Dask worker runs a cell); its result or
    the exception it raised."""
    box: list[Any] = []

    def work() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed back to the test
            box.append(exc)

    th = threading.Thread(target=work)
    th.start()
    th.join(30)
    assert not th.is_alive()
    return box[0]


def test_a_native_abort_in_a_non_main_thread_is_a_crashed_status() -> None:
    assert _in_thread(native.fork_available) is True
    got = _in_thread(lambda: native.run_forked(os.abort, time.perf_counter() + 20, "SCIP"))
    assert isinstance(got, native.NativeCrash) and "SIGABRT" in str(got)
    assert _in_thread(lambda: native.run_forked(lambda: [3, 4], None, "SCIP")) == [3, 4]
    # the backend's isolation: what a cell in a Dask worker thread calls
    status = _in_thread(lambda: miqp._solve_isolated(os.abort, Budget(20.0, None), "SCIP")[0])
    assert status.startswith("crashed: SCIP died with SIGABRT")
    # a hung child is killed at the deadline (plus the slack), from a thread too
    t0 = time.perf_counter()
    hang = _in_thread(
        lambda: miqp._solve_isolated(lambda: time.sleep(30), Budget(0.3, None), "SCIP")[0]
    )
    assert hang == "timelimit" and time.perf_counter() - t0 < 10


def test_a_scip_abort_is_an_unknown_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the lab records for a crashing ``miqp`` cell (solved in a worker thread)."""
    from geninv.lab.families import build_instance
    from geninv.problem import Status

    isolated = miqp._solve_isolated
    monkeypatch.setattr(miqp, "_solve_isolated", lambda f, c, s: isolated(os.abort, c, s))
    params = {"edge_p": 0.5, "k_offset": 0, "p": 2}
    problem = build_instance("clique-thm5", params, 6, 5).problem
    assert problem is not None
    sol = _in_thread(lambda: miqp.miqp_solve(problem, time_limit=20.0))
    assert sol.status is Status.UNKNOWN
    assert sol.stats["scip"]["status"].startswith("crashed: ")
    assert "died with SIGABRT" in sol.reason and "contained in a child process" in sol.reason


def _abort_in_isolation() -> tuple[str, int]:
    return miqp._solve_isolated(os.abort, Budget(20.0, None), "SCIP")[0], os.getpid()


def test_a_scip_abort_in_a_dask_worker_leaves_the_worker_alive() -> None:
    """Before: the abort ran in the worker process (not the main thread: no fork), the
    worker died, the cell was lost (``KilledWorker``)."""
    from geninv.lab.runner import dask_client

    with dask_client(None, 1) as client:
        status, pid = client.submit(_abort_in_isolation, pure=False).result(timeout=60)
        assert status.startswith("crashed: SCIP died with SIGABRT")
        assert client.submit(os.getpid, pure=False).result(timeout=60) == pid  # same worker


def test_the_metis_crash_of_a_graphs_cell_is_gone() -> None:
    """The clique-thm5 cell (k = clique number + 1, n = 30, rep 1) of
    ``bench/specs/graphs.toml``: its SCIP model, with presolving, separation and every
    heuristic but MPEC off and one node, reaches MPEC's Ipopt solve in under a second;
    with MUMPS's default ordering (METIS) the child died with SIGABRT there, with
    geninv's options it stops at the node limit."""
    import pyscipopt

    from geninv.lab.cells import instance_seed
    from geninv.lab.families import build_instance
    from geninv.solvers.numerics import scale_problem

    assert miqp.IPOPT_OPTIONS.read_text().split() == ["mumps_pivot_order", "6"]
    params = {"edge_p": 0.5, "k_offset": 1, "p": 2}
    seed = instance_seed(2026, "clique-thm5", json.dumps(params, sort_keys=True), 30, 1)
    problem = build_instance("clique-thm5", params, 30, seed).problem
    assert problem is not None
    setup = miqp._setup(problem)
    scaled = scale_problem(problem, setup.lo_f, setup.hi_f)
    solver = miqp._Solver(scaled.problem, "decide", 20.0, seed % 2**31, False, None, 1.0)
    built = solver.model(solver.cap)
    assert built is not None
    m = built[1]
    assert m.getParam("nlpi/ipopt/optfile") == str(miqp.IPOPT_OPTIONS)
    off = pyscipopt.scip.PY_SCIP_PARAMSETTING.OFF
    m.setPresolve(off)
    m.setSeparating(off)
    m.setHeuristics(off)
    m.setParam("heuristics/mpec/freq", 1)
    m.setParam("limits/nodes", 1)
    m.setParam("limits/time", 20.0)

    def solve() -> str:
        m.optimize()
        return str(m.getStatus())

    try:
        status = native.run_forked(solve, time.perf_counter() + 25, "SCIP")
    except native.NativeCrash as exc:
        pytest.fail(f"SCIP crashed in MPEC's NLP solve: {exc}")
    assert status == "nodelimit"
