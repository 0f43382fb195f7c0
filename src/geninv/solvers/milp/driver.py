"""One run of the MILP method: bounds, model, solver runs, polishing, verdict."""

from __future__ import annotations

import copy
import os
import tempfile
from typing import Any

from geninv.budget import Budget
from geninv.errors import ValidationError
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.problem import InversionProblem, Solution, Status
from geninv.proof import Proof
from geninv.solvers.interface import BASIS_FLOAT
from geninv.solvers.milp.build import _build_milp, _Milp, _setup, _tolerance
from geninv.solvers.milp.common import (
    BOUND_TIME,
    BOUND_TIME_SHARE,
    ENGINES,
    MODES,
    Engine,
    Mode,
    _copy_log,
    _new_highs,
    _stderr_is_stream,
    highs_version,
)
from geninv.solvers.milp.highs import _configure, _Run, _run_highs
from geninv.solvers.milp.model import INFEASIBLE
from geninv.solvers.milp.recover import _Best, _polish
from geninv.solvers.milp.scip import SEPARATING, _run_scip, scip_version
from geninv.solvers.milp.session import _Session
from geninv.solvers.milp.tighten import _lp_infeasible_again, solver_bounds, target_tighten
from geninv.solvers.numerics import Scaled, model_range, scale_problem, status_meaning


# ------------------------------------------------------------------ solve
def _unknown_reason(run: _Run, tol: float, solver: str) -> str:
    if run.status in ("kOptimal", "kObjectiveTarget"):
        return (
            f"the minimum distance is within the tolerance {tol:.3g} of the threshold "
            f"(lower bound {run.dual_bound!r}) and no exact witness was found"
        )
    if run.status in INFEASIBLE:
        return f"{solver} reported the unconstrained model infeasible (numerical trouble)"
    if run.status.startswith("scip:"):
        return status_meaning("scip", run.status[5:])[1]
    if run.status.startswith("k"):
        return status_meaning("highs", run.status)[1]
    return f"{solver} ended with status {run.status}"


class _Solver(_Session):
    """One run of :func:`milp_solve`: bounds, model, HiGHS runs, polishing, verdict."""

    def __init__(
        self,
        problem: InversionProblem,
        mode: Mode,
        time_limit: float | None,
        seed: int | None,
        progress: bool,
        tighten: bool | None,
        bound_time: float,
        confirm_no: bool | None,
        target_bounds: bool = False,
        engine: Engine = "highs",
        separating: str = "portfolio",
    ) -> None:
        self.clock = Budget(time_limit, seed)
        self.start = self.clock.start
        self.separating = separating
        self.setup = _setup(problem)
        self.mode = mode
        self.seed = seed
        self.progress = progress
        self.engine = engine
        self.method = "milp" if engine == "highs" else "milp-scip"
        # HiGHS's presolve has been seen wrong (module docstring), and so has SCIP's
        self.confirm = True if confirm_no is None else confirm_no
        budget = (
            bound_time if time_limit is None else min(bound_time, BOUND_TIME_SHARE * time_limit)
        )
        self.bound_budget = max(budget, 0.0)
        self.bounds, tighten = solver_bounds(self.setup, tighten, self.clock, budget)
        self.target_bounds = tighten and target_bounds and mode == "decide"
        self.tol = _tolerance(self.setup, self.bounds)
        self.cap = self.setup.delta_f + self.tol
        self.solver = highs_version() if engine == "highs" else scip_version()
        self.best = _Best()
        b = self.bounds
        self.stats: dict[str, Any] = {
            "mode": mode,
            "solver": self.solver,
            "tolerance": self.tol,
            "bound_tightening": {
                "enabled": tighten,
                "lps": b.lps,
                "tightened": b.tightened,
                "seconds": round(b.seconds, 6),
                "complete": b.complete,
                "snapped_units": b.snapped,
                "dropped_weights": b.dropped_weights,
            },
            "engine": engine,
            engine: [],
        }

    # -------------------------------------------------------------- outcomes
    def proof(self, kind: str, **extra: Any) -> dict[str, Any]:
        out = Proof(
            kind,
            basis=BASIS_FLOAT,
            threshold=self.setup.delta_f,
            tolerance=self.tol,
            solver=self.solver,
        )
        for key, value in extra.items():
            out[key] = value
        out["binaries"] = self.stats.get("binaries", 0)
        return out.to_dict()

    def refuse(self, milp: _Milp) -> Solution | None:
        """``unknown`` when the model's numbers are beyond what the solver represents
        safely (:func:`geninv.solvers.numerics.model_range`), else None."""
        rng = model_range(milp.model)
        self.stats["model_range"] = rng.as_dict()
        why = rng.refusal()
        if why is None:
            return None
        self.stats["numerics_refused"] = True
        return self.finish(Status.UNKNOWN, reason=f"{self.solver} not run: {why}")

    def contradicted(self, run: _Run) -> Solution | None:
        """``unknown`` when the solver's lower bound exceeds the exact distance of a
        checked point (plus the tolerance): its arithmetic went wrong."""
        chk = self.best.check
        if chk is None or not run.dual_bound > chk.distance + self.tol:
            return None
        why = (
            f"{self.solver}'s lower bound {run.dual_bound!r} exceeds the exact distance "
            f"{chk.distance!r} of a checked point by more than the tolerance {self.tol:.3g}: "
            "its floating-point arithmetic failed on this model"
        )
        self.stats["lower_bound"] = None
        self.stats["lower_bound_discarded"] = why
        return self.finish(Status.UNKNOWN, reason=why)

    def unknown_time(self, run: _Run | None) -> Solution:
        status = "not started" if run is None else f"status {run.status}"
        return self.finish(Status.UNKNOWN, reason=f"time limit ({self.solver} {status})")

    # -------------------------------------------------------------- HiGHS
    def run(
        self,
        milp: _Milp,
        presolve: bool = True,
        target: float | None = None,
        seed_shift: int = 0,
        record: bool = True,
    ) -> _Run:
        seed = self.seed if seed_shift == 0 else (self.seed or 0) + seed_shift
        if self.engine == "scip":
            run = _run_scip(
                milp.model,
                self.clock.left(),
                seed,
                presolve,
                target is not None,
                self.progress,
                self.separating,
            )
            return self.record(milp, run, presolve, record)
        log_path = None
        if self.progress and not _stderr_is_stream():
            fd, log_path = tempfile.mkstemp(prefix="geninv-highs-", suffix=".log")
            os.close(fd)
        h = _new_highs(self.progress, log_path)
        _configure(h, seed, presolve)
        milp.model.push(h)
        if target is not None:
            h.setOptionValue("objective_target", target)
            h.setOptionValue("mip_abs_gap", 1e-3 * self.tol)
        else:
            h.setOptionValue("mip_abs_gap", 0.0)
        run = _run_highs(h, self.clock.left(), any(milp.model.col_int))
        if log_path is not None:
            _copy_log(h, log_path)
        return self.record(milp, run, presolve, record)

    def record(self, milp: _Milp, run: _Run, presolve: bool, record: bool) -> _Run:
        """Note the run in ``stats`` and polish its points."""
        self.stats["highs" if self.engine == "highs" else "scip"].append(
            {
                **({"config": run.config} if run.config else {}),
                "status": run.status,
                "presolve": presolve,
                "nodes": run.nodes,
                "seconds": round(run.seconds, 6),
            }
        )
        if record:
            self.stats["lower_bound"] = run.dual_bound
            self.stats[f"{self.engine}_status"] = run.status
        _polish(self.setup, milp, run, self.best, self.mode == "decide", self.clock)
        return run

    def run_feasible(self, milp: _Milp) -> _Run:
        """Minimise a model known to be feasible; rerun without presolve if HiGHS says not."""
        run = self.run(milp)
        if run.status in INFEASIBLE and not self.clock.expired():
            run = self.run(milp, presolve=False)
        return run

    def capped(self) -> _Milp | None:
        milp = _build_milp(self.setup, self.bounds, self.cap)
        if milp is not None:
            self.stats.update(
                binaries=milp.enc.binaries,
                stable_active=milp.enc.stable_active,
                stable_inactive=milp.enc.stable_inactive,
                columns=milp.model.n_cols,
                rows=len(milp.model.row_lo),
            )
        return milp

    def no(self, proof: dict[str, Any], capped: _Milp | None) -> Solution:
        """Return ``no`` once a second HiGHS run without presolve agrees (``confirm_no``)."""
        if capped is None or not self.confirm:
            return self.finish(Status.NO, proof=proof)
        if self.clock.expired():
            return self.unknown_time(None)
        run = self.run(
            capped, presolve=False, target=self.setup.delta_f, seed_shift=1, record=False
        )
        if self.found():
            return self.finish(Status.YES)
        if run.status in INFEASIBLE:
            proof["confirmed"] = f"{self.solver} without presolve: infeasible with the same margin"
            return self.finish(Status.NO, proof=proof)
        if run.status == "kTimeLimit":
            return self.unknown_time(run)
        return self.finish(
            Status.UNKNOWN,
            reason=(
                f"{self.solver} runs disagree: with presolve no point is within the margin, "
                f"without presolve the status is {run.status}"
            ),
        )

    # -------------------------------------------------------------- modes
    def target_pass(self) -> Solution | None:
        """Target-aware bound tightening (:func:`target_tighten`); ``no`` if the LP is empty."""
        saved = copy.deepcopy(self.bounds)
        tp = target_tighten(self.setup, self.bounds, self.cap, self.clock, self.bound_budget)
        self.stats["target_tightening"] = tp.as_dict()
        if tp.infeasible is None:
            return None
        if _lp_infeasible_again(self.setup, self.bounds, self.cap, self.clock):
            proof = self.proof(
                "LP relaxation infeasible",
                constraint=f"distance <= threshold + tolerance ({self.cap!r})",
                detail=tp.infeasible,
                confirmed=f"{self.solver} interior point: the same relaxation is infeasible",
            )
            return self.finish(Status.NO, proof=proof)
        # simplex and interior point disagree: distrust every bound of this pass
        self.bounds = saved
        self.stats["target_tightening"]["discarded"] = "simplex and interior point disagree"
        return None

    def decide(self) -> Solution:
        if self.target_bounds and not self.clock.expired():
            verdict = self.target_pass()
            if verdict is not None:
                return verdict
        milp = self.capped()
        if milp is None:
            proof = self.proof(
                "MILP infeasible",
                constraint=f"distance <= threshold + tolerance ({self.cap!r})",
                detail="outputs that are 0 on the whole latent box already exceed the threshold",
            )
            return self.finish(Status.NO, proof=proof)
        refused = self.refuse(milp)
        if refused is not None:
            return refused
        if self.clock.expired():
            return self.unknown_time(None)
        run = self.run(milp, target=self.setup.delta_f + 1e-3 * self.tol)
        if self.found():
            return self.finish(Status.YES)
        if run.status in INFEASIBLE:
            # the objective is bounded below by 0: 'unbounded or infeasible' is infeasible
            proof = self.proof(
                "MILP infeasible",
                constraint=f"distance <= threshold + tolerance ({self.cap!r})",
            )
            return self.no(proof, milp)
        if run.status == "kObjectiveTarget" and not self.clock.expired():
            # a point within the margin failed the exact check: minimise and polish again
            run = self.run_feasible(milp)
            if self.found():
                return self.finish(Status.YES)
        return self.conclude(run, milp)

    def optimize(self) -> Solution:
        milp = _build_milp(self.setup, self.bounds, None)
        assert milp is not None
        self.stats.update(
            binaries=milp.enc.binaries,
            stable_active=milp.enc.stable_active,
            stable_inactive=milp.enc.stable_inactive,
            columns=milp.model.n_cols,
            rows=len(milp.model.row_lo),
        )
        refused = self.refuse(milp)
        if refused is not None:
            self.stats["lower_bound"] = None
            return refused
        if self.clock.expired():
            return self.unknown_time(None)
        run = self.run_feasible(milp)
        wrong = self.contradicted(run)  # also drops a wrong lower bound from a 'yes'
        if self.found():
            return self.finish(Status.YES)
        if wrong is not None:
            return wrong
        if run.status in INFEASIBLE:  # the model without a cap is feasible: numerical trouble
            self.stats["lower_bound"] = None
            self.stats["lower_bound_discarded"] = _unknown_reason(run, self.tol, self.solver)
        if run.dual_bound > self.cap and run.status in ("kOptimal", "kTimeLimit"):
            return self.no(
                self.lower_bound_proof(run), _build_milp(self.setup, self.bounds, self.cap)
            )
        return self.conclude(run, None)

    def lower_bound_proof(self, run: _Run) -> dict[str, Any]:
        return self.proof("MILP lower bound", lower_bound=run.dual_bound)

    def conclude(self, run: _Run, capped: _Milp | None) -> Solution:
        wrong = self.contradicted(run)
        if wrong is not None:
            return wrong
        if run.status in ("kOptimal", "kTimeLimit") and run.dual_bound > self.cap:
            return self.no(self.lower_bound_proof(run), capped)
        if run.status == "kTimeLimit" or self.clock.expired():
            return self.unknown_time(run)
        return self.finish(Status.UNKNOWN, reason=_unknown_reason(run, self.tol, self.solver))


def _check_engine(engine: str, separating: str) -> None:
    if engine not in ENGINES:
        raise ValidationError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if separating not in SEPARATING:
        raise ValidationError(
            f"separating must be one of {', '.join(SEPARATING)}, got {separating!r}"
        )


def milp_solve(
    problem: InversionProblem,
    *,
    mode: Mode = "decide",
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    tighten: bool | None = None,
    bound_time: float = BOUND_TIME,
    confirm_no: bool | None = None,
    target_bounds: bool = False,
    engine: Engine = "highs",
    separating: str = "portfolio",
    scale: bool = True,
) -> Solution:
    """Decide (or, with ``mode="optimize"``, minimise) with HiGHS; see the module docstring.

    ``tighten`` switches LP bound tightening on or off (default: on for networks
    of at most ``TIGHTEN_MAX_UNITS`` units); ``bound_time`` caps its seconds.
    ``target_bounds`` (decide mode, with ``tighten``; off by default) tightens
    them once more with the output target (:func:`target_tighten`).
    ``confirm_no`` re-solves the margin model without presolve before a ``no``
    (default: on, with either engine).  ``engine`` is the MILP solver:
    ``"highs"`` (HiGHS) or ``"scip"`` (SCIP through pyscipopt); ``separating``
    is SCIP's cutting-plane setting (:data:`SEPARATING`; see :func:`_run_scip`).
    ``scale`` (default on) solves the problem scaled by powers of two
    (:func:`geninv.solvers.numerics.scale_problem`); off, only for tests of the
    range check.
    """
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    _check_engine(engine, separating)
    setup = _setup(problem)
    scaled = scale_problem(problem, setup.lo_f, setup.hi_f) if scale else Scaled(problem)
    solver = _Solver(
        scaled.problem,
        mode,
        time_limit,
        seed,
        progress,
        tighten,
        bound_time,
        confirm_no,
        target_bounds,
        engine,
        separating,
    )
    sol = solver.decide() if mode == "decide" else solver.optimize()
    return scaled.unscale(problem, sol, 1.0)
