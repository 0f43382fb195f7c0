"""Running HiGHS: one run, its status, the options."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray
from geninv.solvers import native
from geninv.solvers.milp.common import MAX_SAVED_SOLUTIONS, _Highs, _highs_module


def _name(status: Any) -> str:
    """'kInfeasible' for HighsModelStatus.kInfeasible."""
    return str(status).split(".")[-1]


# ------------------------------------------------------------------ HiGHS runs
@dataclass
class _Run:
    status: str  # HiGHS model status name, e.g. "kOptimal"
    has_solution: bool
    objective: float
    dual_bound: float
    nodes: int
    solutions: list[FloatArray]  # column values, best first
    seconds: float
    config: str = ""  # the SCIP setting that produced it (milp-scip)


def _run_highs(h: _Highs, time_left: float, is_mip: bool) -> _Run:
    """Run HiGHS; the dual bound of a pure LP is its optimum (-inf when not optimal)."""
    hs = _highs_module()
    t0 = time.perf_counter()
    h.setOptionValue("time_limit", max(time_left, 1e-3) if math.isfinite(time_left) else math.inf)
    # in a worker thread (HiGHS releases the GIL), so that signals and the limits
    # watchdog reach the main thread while it runs
    native.run_in_thread(h.run)
    status = h.getModelStatus()
    info = h.getInfo()
    has = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
    sols: list[FloatArray] = []
    if has:
        sols.append(np.array(h.getSolution().col_value, dtype=np.float64))
    try:
        saved = sorted(h.getSavedMipSolutions(), key=lambda s: s.objective)
    except Exception:  # pragma: no cover - older highspy
        saved = []
    for s in saved[:MAX_SAVED_SOLUTIONS]:
        sols.append(np.array(s.col_value, dtype=np.float64))
    name = str(status).split(".")[-1]
    optimal = status == hs.HighsModelStatus.kOptimal
    if is_mip:
        dual = float(info.mip_dual_bound)
        if optimal and not math.isfinite(dual):
            dual = float(info.objective_function_value)
    else:
        dual = float(info.objective_function_value) if optimal else -math.inf
    return _Run(
        status=name,
        has_solution=has,
        objective=float(info.objective_function_value) if has else math.inf,
        dual_bound=dual,
        nodes=int(info.mip_node_count),
        solutions=sols,
        seconds=time.perf_counter() - t0,
    )


#: SCIP statuses as the HiGHS model-status names used throughout this module.


#: HiGHS's feasibility tolerances for the MILP runs: well below the margin ``tol``
#: (``TOL_REL`` = 1e-6 of the scaled problem's unit magnitudes), so that the solver's
#: own slack cannot eat the margin (at the defaults, 1e-6 for MIP feasibility, HiGHS
#: called a model infeasible whose witness had slack 1e-6, tests/test_trust.py).
SOLVER_FEASIBILITY_TOL = 1e-9


def _configure(h: _Highs, seed: int | None, presolve: bool = True) -> None:
    h.setOptionValue("mip_feasibility_tolerance", SOLVER_FEASIBILITY_TOL)
    h.setOptionValue("primal_feasibility_tolerance", SOLVER_FEASIBILITY_TOL)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_improving_solution_save", True)
    if not presolve:
        h.setOptionValue("presolve", "off")
    if seed is not None:
        h.setOptionValue("random_seed", int(seed) % 2147483647)
