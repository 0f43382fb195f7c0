"""Mixed-integer (non)linear backend (SCIP) for l_p inversion with integer p >= 2.

Decides ``||G(z) - x||_p <= delta`` (or ``< delta``) for integer p >= 2, and
exact inversion for any p, over binary, sign, box and bounded real latents,
with SCIP (``pyscipopt``).  p = 1 and p = inf are linear: use ``--method milp``.

Encoding
--------
The linear part is the MILP backend's (:mod:`geninv.solvers.milp`): the same
big-M ReLU encoding with the same valid pre-activation bounds
(:func:`geninv.solvers.milp.compute_bounds`: interval arithmetic, then LP
tightening), the same snapping of near-stable units, and one column
``t_j >= |y_j - x_j|`` per output.  SCIP then gets one more column ``s`` with
the constraint ``s >= sum_j t_j^p`` (a convex quadratic constraint for p = 2,
a nonlinear ``pow`` constraint for p > 2; convex since ``t_j >= 0``) and
minimises ``s``.  Exact inversion uses p = 2 (every norm is 0 at the same
points).

Tolerance and why a ``no`` is sound
-----------------------------------
``E`` bounds |model output - exact output| per output (from the bounds, plus
the rounding of the target to floats).  By Minkowski, a genuine witness has
``||t||_p <= delta + ||E||_p`` in the model, so the margin in distance units is

    tol = TOL_REL * scale + 2 * ||E||_p,
    scale = max(1, delta, |x_j|, |bounds of the outputs|)

and the model's cap on ``sum t^p`` is
``cap = max((delta + tol)^p, delta^p + TOL_REL * scale^p)``; ``tolerance`` in
every proof and in ``stats`` is ``cap - delta^p`` (in units of ``sum t^p``).
``delta^p`` comes from ``threshold_pow`` when the problem gives it.

* ``decide`` (default): minimise ``s`` subject to ``s <= cap``.  SCIP proving
  this infeasible -> ``no``, proof ``{"kind": "MIQP infeasible", ...}``.
* ``optimize``: minimise ``s`` without the cap; a dual bound above ``cap``
  -> ``no``, proof ``{"kind": "MIQP lower bound", ...}``.  ``stats`` hold
  ``best_distance`` (exact distance of the best checked point) and
  ``lower_bound = (dual bound - tolerance)^(1/p)`` clipped at 0.

SCIP works in floating point with feasibility tolerances, so a ``no`` is as
sound as SCIP's arithmetic with this margin, not an exact certificate: its
proof says ``"basis": "floating-point solver"`` and
:func:`geninv.solvers.base.solve` makes it ``unknown`` unless ``trust_solver``.
As in the MILP backend the problem is first scaled by powers of two
(:func:`geninv.solvers.numerics.scale_problem`; ``delta^p`` by ``2^(-k p)``;
G = 0 with x = 2e10, delta = 1e11, p = 2 was called infeasible before), a model
out of range is refused (``unknown``), SCIP's statuses are read through
``SCIP_STATUS``, and an ``optimize`` lower bound above the exact distance of a
checked point is dropped.

Witnesses
---------
Every point SCIP stores is polished as in the MILP backend (rounded to
corners, or rounded decimals / snapped / projected for box latents) and must
pass :meth:`InversionProblem.exact_check`.  A point within the margin that
fails the check, a time limit, or any other SCIP status -> ``unknown``.
``time_limit`` covers everything (SCIP's ``limits/time`` gets what is left),
``seed`` shifts SCIP's random seeds, and ``progress`` shows SCIP's log.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from geninv.budget import Budget
from geninv.errors import UnsupportedError, ValidationError
from geninv.network import FloatArray
from geninv.problem import InversionProblem, Solution, Status
from geninv.proof import Proof
from geninv.solvers.interface import BASIS_FLOAT, Backend, Capabilities
from geninv.solvers.interface import MODES as MODES  # the one definition
from geninv.solvers.interface import Mode as Mode
from geninv.solvers.milp import (
    BOUND_TIME,
    BOUND_TIME_SHARE,
    TOL_REL,
    _Best,
    _build_milp,
    _Milp,
    _polish,
    _Run,
    _scip_model,
    _Setup,
    float_up,
    scip_version,
)
from geninv.solvers.milp.build import _latent_box
from geninv.solvers.milp.session import _Session
from geninv.solvers.milp.tighten import solver_bounds
from geninv.solvers.numerics import Scaled, model_range, scale_problem, status_meaning

#: At most this many of SCIP's stored solutions are polished.
MAX_SOLUTIONS = 8
#: Seconds past the time limit before the SCIP child is killed (SCIP stops itself first).
CHILD_SLACK = 0.2
#: Ipopt's options for SCIP's NLP solves (``nlpi/ipopt/optfile``): ``mumps_pivot_order 6``
#: (QAMD).  With MUMPS's default (METIS once a system is large enough), the METIS inside
#: the pyscipopt wheel's SCIP 10 corrupts the heap (``free(): invalid pointer``,
#: ``munmap_chunk(): invalid pointer``: glibc aborts in ``gk_free`` under
#: ``METIS_NodeND`` <- MUMPS analysis <- Ipopt <- ``heurExecMpec``), or deadlocks on the
#: malloc lock of the heap it corrupted, on 5 of the 6 Theorem 5 clique MIQPs at n = 30
#: of ``bench/specs/graphs.toml``; with QAMD none does (docs/lab.md; PySCIPOpt issue
#: 1234 reports the same METIS crash).  PORD (4) is not built in (MUMPS falls back to
#: METIS); AMD (0) also avoids the crash but made MPEC's first NLP about 4x slower.
IPOPT_OPTIONS = Path(__file__).resolve().parent.parent / "data" / "ipopt-scip.opt"

NO_BOUNDS_MESSAGE = (
    "a real domain without bounds cannot be encoded with big-M values; "
    "give box bounds (geninv new --domain box ...)"
)
NORM_MESSAGE = (
    "backend 'miqp' handles integer p >= 2; p = 1 and p = inf are linear: use --method milp"
)


def _exponent(problem: InversionProblem) -> int | None:
    """The exponent p used in the model, or None when this backend cannot take the norm."""
    if problem.is_exact_inversion:
        return 2
    p = problem.p
    if math.isinf(p) or not p.is_integer() or p < 2:
        return None
    return int(p)


def _setup(problem: InversionProblem) -> _Setup:
    """The MILP backend's setup record (latent box, threshold), with one t_j per output."""
    n = problem.n
    lo, hi, lo_f, hi_f = _latent_box(problem, NO_BOUNDS_MESSAGE, "for SCIP")
    delta = Fraction(0) if problem.is_exact_inversion else problem.threshold
    work = n * sum(int(np.count_nonzero(layer.weight)) for layer in problem.network.layers)
    # norm "1": one t_j >= |y_j - x_j| per output (the sum row is only added with a cap)
    return _Setup(problem, lo, hi, lo_f, hi_f, delta, "1", work)


def _to_scip(milp: _Milp, p: int, seed: int | None, progress: bool) -> tuple[Any, list[Any], Any]:
    """The SCIP model: the MILP's rows, plus ``s >= sum t_j^p``; returns (model, columns, s).

    Its NLP solves (Ipopt) order MUMPS's factorisation with QAMD (:data:`IPOPT_OPTIONS`)."""
    import pyscipopt

    m, cols = _scip_model(milp.model, math.inf, seed, True, False, progress, "default")
    if IPOPT_OPTIONS.is_file():
        m.setParam("nlpi/ipopt/optfile", str(IPOPT_OPTIONS))
    s = m.addVar(name="s", vtype="C", lb=0.0, ub=None)
    ts = [cols[int(t)] for t in milp.t_cols]
    if p == 2:
        m.addCons(pyscipopt.quicksum(t * t for t in ts) <= s)
    else:
        m.addCons(pyscipopt.quicksum(t**p for t in ts) <= s)
    m.setObjective(s, "minimize")  # replaces the MILP's objective (the sum of the t_j)
    return m, cols, s


def _solve_isolated(
    solve_model: Callable[[], tuple[str, float, list[FloatArray], int]],
    clock: Budget,
    solver: str,
) -> tuple[str, float, list[FloatArray], int]:
    """Run SCIP in a forked child (:func:`geninv.solvers.native.run_forked`).

    SCIP aborts the whole process on some MIQPs (``munmap_chunk(): invalid
    pointer``, SIGABRT, seen on the Theorem 2 network of uuf250-01 and a
    Theorem 6 Half-Clique instance of hamming6-2; on the lab's n = 30 clique
    cells the abort came from METIS inside Ipopt's MUMPS, see
    :data:`IPOPT_OPTIONS`), or deadlocks on a malloc lock of the heap it
    corrupted; in a child the abort becomes the status ``"crashed: ..."`` and a
    hang the status ``"timelimit"`` (killed at the deadline), so the answer is
    ``unknown``.  This holds in any thread (a Dask worker runs cells in an
    executor thread).  Where ``fork`` is missing SCIP runs in this process.
    """
    from geninv.solvers import native

    if not native.fork_available():
        return solve_model()
    deadline = None if clock.deadline is None else clock.deadline + CHILD_SLACK
    try:
        return native.run_forked(solve_model, deadline, solver)
    except native.NativeTimeout:
        return "timelimit", -math.inf, [], 0
    except native.NativeCrash as exc:
        return f"crashed: {exc}", -math.inf, [], 0


class _Solver(_Session):
    def __init__(
        self,
        problem: InversionProblem,
        mode: Mode,
        time_limit: float | None,
        seed: int | None,
        progress: bool,
        tighten: bool | None,
        bound_time: float,
    ) -> None:
        reason = MiqpBackend.unsupported_reason(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        p = _exponent(problem)
        assert p is not None
        self.p = p
        self.method = "miqp"
        self.clock = Budget(time_limit, seed)
        self.start = self.clock.start
        self.problem = problem
        self.mode = mode
        self.seed = seed
        self.progress = progress
        self.setup = _setup(problem)
        budget = (
            bound_time if time_limit is None else min(bound_time, BOUND_TIME_SHARE * time_limit)
        )
        self.bounds, _ = solver_bounds(self.setup, tighten, self.clock, budget)
        self.delta_pow, self.cap, self.tol, self.dist_tol = self._margin()
        self.solver = scip_version()
        self.refused: str | None = None
        self.best = _Best()
        self.stats: dict[str, Any] = {
            "mode": mode,
            "solver": self.solver,
            "p_model": p,
            "tolerance": self.tol,
            "distance_tolerance": self.dist_tol,
        }

    def _margin(self) -> tuple[float, float, float, float]:
        """(delta^p, cap on sum t^p, cap - delta^p, tolerance in distance units)."""
        problem, p, b = self.problem, self.p, self.bounds
        olo, ohi = b.post(len(b.state) - 1)
        x = problem.target_array()
        delta = float(self.setup.delta)
        scale = max(
            1.0,
            delta,
            float(np.max(np.abs(x))) if len(x) else 0.0,
            float(np.max(np.abs(olo), initial=0.0)),
            float(np.max(np.abs(ohi), initial=0.0)),
        )
        dt = np.array([float_up(abs(t - Fraction(float(t)))) for t in problem.target])
        err: FloatArray = dt + b.error
        err_p = float(np.sum(err**p) ** (1.0 / p)) * (1.0 + 1e-9)
        dist_tol = TOL_REL * scale + 2.0 * err_p
        if problem.is_exact_inversion:
            delta_pow = 0.0
        elif problem.threshold_pow is not None:
            delta_pow = float_up(problem.threshold_pow)
        else:
            delta_pow = float_up(problem.threshold**p)
        with np.errstate(over="ignore"):
            cap = max((delta + dist_tol) ** p, delta_pow + TOL_REL * scale**p) * (1.0 + 1e-12)
        if not math.isfinite(cap):
            cap = math.inf
        return delta_pow, cap, cap - delta_pow, dist_tol

    # -------------------------------------------------------------- outcomes
    def proof(self, kind: str, **extra: Any) -> dict[str, Any]:
        out = Proof(
            kind,
            basis=BASIS_FLOAT,
            threshold=float(self.setup.delta),
            p=self.p,
            tolerance=self.tol,
            solver=self.solver,
            constraint=f"sum_j t_j^{self.p} <= threshold^{self.p} + tolerance ({self.cap!r})",
        )
        for key, value in extra.items():
            out[key] = value
        return out.to_dict()

    # -------------------------------------------------------------- SCIP
    def model(self, cap: float | None) -> tuple[_Milp, Any, list[Any]] | None:
        """The MILP and the SCIP model (``sum t_j^p <= cap`` when ``cap`` is given) with
        its columns, not yet solved; None (and ``self.refused`` says why) when the
        model's numbers are out of range (:func:`geninv.solvers.numerics.model_range`)."""
        milp = _build_milp(self.setup, self.bounds, None)
        assert milp is not None
        rng = model_range(milp.model, extra_rhs=cap if cap is not None else 0.0)
        self.stats["model_range"] = rng.as_dict()
        why = rng.refusal()
        if why is not None:
            self.stats["numerics_refused"] = True
            self.refused = f"{self.solver} not run: {why}"
            return None
        m, cols, s = _to_scip(milp, self.p, self.seed, self.progress)
        if cap is not None:
            m.addCons(s <= cap)
        return milp, m, cols

    def run(self, cap: float | None) -> tuple[str, float]:
        """Solve with SCIP, polish its points; returns (status, dual bound).

        The status is ``"refused"`` (SCIP not run) when the model's numbers are out
        of range (:func:`geninv.solvers.numerics.model_range`)."""
        built = self.model(cap)
        if built is None:
            return "refused", -math.inf
        milp, m, cols = built
        self.stats.update(
            binaries=milp.enc.binaries,
            stable_active=milp.enc.stable_active,
            stable_inactive=milp.enc.stable_inactive,
            columns=len(cols) + 1,
        )
        left = self.clock.left()
        if math.isfinite(left):
            m.setParam("limits/time", max(left, 1e-3))
        t0 = time.perf_counter()

        def solve_model() -> tuple[str, float, list[FloatArray], int]:
            m.optimize()
            sols = [
                np.array([m.getSolVal(sol, c) for c in cols], dtype=np.float64)
                for sol in m.getSols()[:MAX_SOLUTIONS]
            ]
            return str(m.getStatus()), float(m.getDualbound()), sols, int(m.getNNodes())

        status, dual, sols, nodes = _solve_isolated(solve_model, self.clock, self.solver)
        self.stats["scip"] = {
            "status": status,
            "nodes": nodes,
            "seconds": round(time.perf_counter() - t0, 6),
            "dual_bound": dual,
        }
        run = _Run(status, bool(sols), math.inf, dual, 0, sols, time.perf_counter() - t0)
        _polish(self.setup, milp, run, self.best, self.mode == "decide", self.clock)
        return status, dual

    def decide(self) -> Solution:
        if self.clock.expired():
            return self.finish(Status.UNKNOWN, reason="time limit (SCIP not started)")
        status, _ = self.run(self.cap)
        if self.found():
            return self.finish(Status.YES)
        if status == "infeasible":
            return self.finish(Status.NO, proof=self.proof("MIQP infeasible"))
        return self.unknown(status)

    def optimize(self) -> Solution:
        if self.clock.expired():
            return self.finish(Status.UNKNOWN, reason="time limit (SCIP not started)")
        status, dual = self.run(None)
        lower = max(dual - self.tol, 0.0) if math.isfinite(dual) else 0.0
        self.stats["lower_bound"] = lower ** (1.0 / self.p)
        chk = self.best.check
        if chk is not None and self.stats["lower_bound"] > chk.distance + self.dist_tol:
            why = (
                f"{self.solver}'s lower bound {self.stats['lower_bound']!r} exceeds the exact "
                f"distance {chk.distance!r} of a checked point by more than the tolerance "
                f"{self.dist_tol:.3g}: its floating-point arithmetic failed on this model"
            )
            self.stats["lower_bound"] = None
            self.stats["lower_bound_discarded"] = why
            if self.found():
                return self.finish(Status.YES)
            return self.finish(Status.UNKNOWN, reason=why)
        if status in ("infeasible", "inforunbd"):  # the uncapped model is feasible
            self.stats["lower_bound"] = None
        if self.found():
            return self.finish(Status.YES)
        if status in ("optimal", "timelimit") and math.isfinite(dual) and dual > self.cap:
            return self.finish(Status.NO, proof=self.proof("MIQP lower bound", lower_bound=dual))
        return self.unknown(status)

    def unknown(self, status: str) -> Solution:
        if self.refused is not None:
            self.stats["lower_bound"] = None
            return self.finish(Status.UNKNOWN, reason=self.refused)
        if status == "timelimit" or self.clock.expired():
            return self.finish(Status.UNKNOWN, reason=f"time limit ({self.solver} {status})")
        if status == "optimal":
            return self.finish(
                Status.UNKNOWN,
                reason=(
                    f"the minimum is within the tolerance {self.tol:.3g} of the threshold "
                    "and no point passed the exact check"
                ),
            )
        if status.startswith("crashed: "):  # the forked SCIP died (:func:`_solve_isolated`)
            return self.finish(
                Status.UNKNOWN,
                reason=(
                    f"{status.removeprefix('crashed: ')}; the crash was contained in a child "
                    "process, nothing else is affected (try --method bab)"
                ),
            )
        return self.finish(Status.UNKNOWN, reason=status_meaning("scip", status)[1])


def miqp_solve(
    problem: InversionProblem,
    *,
    mode: Mode = "decide",
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    tighten: bool | None = None,
    bound_time: float = BOUND_TIME,
    scale: bool = True,
) -> Solution:
    """Decide (or, with ``mode="optimize"``, minimise) with SCIP; see the module docstring.

    ``scale`` (default on) solves the problem scaled by powers of two
    (:func:`geninv.solvers.numerics.scale_problem`)."""
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    reason = MiqpBackend.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    setup = _setup(problem)
    scaled = scale_problem(problem, setup.lo_f, setup.hi_f) if scale else Scaled(problem)
    solver = _Solver(scaled.problem, mode, time_limit, seed, progress, tighten, bound_time)
    sol = solver.decide() if mode == "decide" else solver.optimize()
    return scaled.unscale(
        problem,
        sol,
        float(solver.p),
        stats_pow=("tolerance",),
        proof_pow=("tolerance", "lower_bound"),
    )


class MiqpBackend(Backend):
    """Big-M encoding with an l_p distance constraint, solved by SCIP (integer p >= 2)."""

    name = "miqp"
    summary = "big-M MIQP/MINLP encoding solved by SCIP (integer p >= 2 and exact inversion)"
    capabilities = Capabilities(
        domains=frozenset({"real", "box", "binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
    )
    modules = ("pyscipopt",)
    no_basis = BASIS_FLOAT

    def __init__(
        self,
        mode: Mode = "decide",
        tighten: bool | None = None,
        bound_time: float = BOUND_TIME,
        scale: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
        self.scale = scale
        self.mode: Mode = mode
        self.tighten = tighten
        self.bound_time = bound_time

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why ``miqp`` cannot take ``problem``, or None: real latents need a box (big-M values),
        and the norm must be an integer p >= 2 (or exact inversion); then the capabilities."""
        if problem.domain.kind == "real" and problem.input_box is None:
            return NO_BOUNDS_MESSAGE
        if _exponent(problem) is None:
            return NORM_MESSAGE
        return super().unsupported_reason(problem)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """SCIP on the big-M model: *yes* with a witness re-checked exactly; a *no* rests on
        SCIP's word (:func:`geninv.solvers.base.gate_no` makes it *unknown* unless
        ``trust_solver``); else *unknown* with the reason."""
        from geninv.solvers.milp import common as milp

        return miqp_solve(
            problem,
            mode=self.mode,
            time_limit=time_limit,
            seed=seed,
            progress=progress and milp.SOLVER_LOGS,  # solver logs only when allowed
            tighten=self.tighten,
            bound_time=self.bound_time,
            scale=self.scale,
        )
