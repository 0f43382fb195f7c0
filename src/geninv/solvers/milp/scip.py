"""Running SCIP (the ``scip`` engine): the model, the cutting-plane portfolio race."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import numpy as np

from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray
from geninv.solvers import native
from geninv.solvers.milp.common import MAX_SAVED_SOLUTIONS
from geninv.solvers.milp.highs import _Run
from geninv.solvers.milp.model import _Model

_SCIP_STATUS = {
    "optimal": "kOptimal",
    "infeasible": "kInfeasible",
    "inforunbd": "kUnboundedOrInfeasible",
    "unbounded": "kUnbounded",
    "timelimit": "kTimeLimit",
    "sollimit": "kObjectiveTarget",
    "bestsollimit": "kObjectiveTarget",
    "userinterrupt": "kInterrupt",
    "memlimit": "kMemoryLimit",
    "nodelimit": "kSolutionLimit",
}


def scip_version() -> str:
    """'SCIP x.y' of the installed pyscipopt."""
    import pyscipopt

    return f"SCIP {pyscipopt.Model().version()}"


#: SCIP separation settings of ``milp-scip`` (``separating`` option); "portfolio" runs
#: "fast" and "off" side by side in two threads and takes the first conclusive answer.
SEPARATING: tuple[str, ...] = ("portfolio", "default", "fast", "off", "aggressive")
PORTFOLIO: tuple[str, ...] = ("fast", "off")
#: SCIP statuses that end a portfolio race (anything else lets the other run finish).
_CONCLUSIVE = ("optimal", "infeasible", "inforunbd", "unbounded", "sollimit", "bestsollimit")


def _interrupt(model: Any) -> None:
    """Ask a running SCIP model to stop, in its two long stages only (presolving and
    solving).  SCIP refuses an interrupt in several other stages (problem creation,
    transforming, INITSOLVE, EXITSOLVE, ...) and prints an error on the terminal; the
    stage is read from another thread, so a stage that is only passed through (such as
    PRESOLVED, right before INITSOLVE) could change before the call.  The caller
    retries until the model has stopped or finished."""
    from pyscipopt import SCIP_STAGE  # type: ignore[attr-defined]

    with contextlib.suppress(Exception):
        if model.getStage() in (SCIP_STAGE.PRESOLVING, SCIP_STAGE.SOLVING):
            model.interruptSolve()


def _scip_model(
    model: _Model,
    time_left: float,
    seed: int | None,
    presolve: bool,
    first_solution: bool,
    progress: bool,
    separating: str,
) -> tuple[Any, list[Any]]:
    """A pyscipopt model of ``model`` with the given settings; returns (model, columns)."""
    import pyscipopt

    setting = pyscipopt.scip.PY_SCIP_PARAMSETTING
    m = pyscipopt.Model()
    if not progress:
        m.hideOutput()
    m.setParam("parallel/maxnthreads", 1)
    if seed is not None:
        m.setParam("randomization/randomseedshift", int(seed) % 2147483647)
    if not presolve:
        m.setPresolve(setting.OFF)
    if separating != "default":
        m.setSeparating(
            {"fast": setting.FAST, "off": setting.OFF, "aggressive": setting.AGGRESSIVE}[separating]
        )
    if first_solution:
        m.setParam("limits/solutions", 1)
    if math.isfinite(time_left):
        m.setParam("limits/time", max(time_left, 1e-3))
    cols = [
        m.addVar(
            name=f"c{k}",
            vtype="I" if model.col_int[k] else "C",
            lb=None if math.isinf(model.col_lo[k]) else model.col_lo[k],
            ub=None if math.isinf(model.col_hi[k]) else model.col_hi[k],
            obj=model.col_cost[k],
        )
        for k in range(model.n_cols)
    ]
    for lo, hi, idx, val in zip(
        model.row_lo, model.row_hi, model.row_idx, model.row_val, strict=True
    ):
        expr = pyscipopt.quicksum(float(v) * cols[int(i)] for i, v in zip(idx, val, strict=True))
        if lo == hi:
            m.addCons(expr == lo)
            continue
        if not math.isinf(lo):
            m.addCons(expr >= lo)
        if not math.isinf(hi):
            m.addCons(expr <= hi)
    m.setMinimize()
    return m, cols


def _run_scip(
    model: _Model,
    time_left: float,
    seed: int | None,
    presolve: bool,
    first_solution: bool,
    progress: bool,
    separating: str = "portfolio",
) -> _Run:
    """Solve the (MI)LP with SCIP; statuses are mapped to HiGHS's names (``_SCIP_STATUS``).

    ``first_solution`` stops at the first feasible point (decide mode: every
    point of the capped model is within the margin), reported as
    ``kObjectiveTarget`` like HiGHS's objective target.  ``separating`` picks
    SCIP's cutting-plane setting; ``"portfolio"`` runs the settings in
    ``PORTFOLIO`` concurrently (``optimizeNogil`` in threads), returns the first
    conclusive result and interrupts the other (on the near-boundary random nets
    "off" was 2-6x faster than "fast"; on Theorem 2 MILPs "off" ran past 200 s
    where "fast" took 5-41 s, so neither setting alone is safe).
    """
    import threading

    configs = PORTFOLIO if separating == "portfolio" else (separating,)
    built = [
        _scip_model(model, time_left, seed, presolve, first_solution, progress, c) for c in configs
    ]
    t0 = time.perf_counter()
    winner: list[int] = []
    lock = threading.Lock()
    decided = threading.Event()

    errors: dict[int, BaseException] = {}

    def go(k: int) -> None:
        m = built[k][0]
        try:
            if len(built) > 1:
                m.optimizeNogil()
            else:  # a worker thread: signals and the limits watchdog reach the main thread
                native.run_in_thread(m.optimizeNogil, cancel=lambda: _interrupt(m))
        except Exception as exc:  # e.g. "SCIP: error in LP solver!": this run has no answer
            errors[k] = exc
            return
        with lock:
            if str(m.getStatus()) in _CONCLUSIVE and not winner:
                winner.append(k)
                decided.set()

    if len(built) == 1:
        go(0)
    else:
        threads = [threading.Thread(target=go, args=(k,), daemon=True) for k in range(len(built))]
        for th in threads:
            th.start()
        while any(th.is_alive() for th in threads):
            if decided.wait(0.05):
                # stop the others; SCIP refuses an interrupt outside its solving stages,
                # so retry until each has stopped or finished
                for j, th in enumerate(threads):
                    if th.is_alive() and j != winner[0]:
                        _interrupt(built[j][0])
                time.sleep(0.01)
        for th in threads:
            th.join()
    if len(errors) == len(built):
        first = errors[min(errors)]
        raise native.NativeCrash(f"SCIP failed: {first}")
    k = winner[0] if winner else min(j for j in range(len(built)) if j not in errors)
    m, cols = built[k]
    raw = str(m.getStatus())
    status = _SCIP_STATUS.get(raw, f"scip:{raw}")
    sols: list[FloatArray] = []
    for sol in m.getSols()[:MAX_SAVED_SOLUTIONS]:
        sols.append(np.array([m.getSolVal(sol, c) for c in cols], dtype=np.float64))
    dual = float(m.getDualbound())
    if raw == "infeasible":
        dual = math.inf
    # the best proven bound of any configuration is valid
    for j, (other, _) in enumerate(built):
        with contextlib.suppress(Exception):
            if j not in errors and str(other.getStatus()) != "infeasible":
                dual = max(dual, float(other.getDualbound()))
    return _Run(
        status=status,
        has_solution=bool(sols),
        objective=float(m.getSolObjVal(m.getBestSol())) if sols else math.inf,
        dual_bound=dual,
        nodes=int(m.getNNodes()),
        solutions=sols,
        seconds=time.perf_counter() - t0,
        config=configs[k],
    )
