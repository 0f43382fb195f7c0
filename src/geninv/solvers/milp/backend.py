"""The ``milp`` and ``milp-scip`` backends."""

from __future__ import annotations

from typing import ClassVar

from geninv.errors import ValidationError
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.problem import InversionProblem, Solution
from geninv.solvers.interface import BASIS_FLOAT, Backend
from geninv.solvers.milp import common as _common
from geninv.solvers.milp.common import (
    BOUND_TIME,
    CAPABILITIES,
    MODES,
    Engine,
    Mode,
    milp_reason,
)
from geninv.solvers.milp.driver import _check_engine, milp_solve


class MilpBackend(Backend):
    """Big-M MILP encoding solved by HiGHS (l1, l-inf and exact inversion)."""

    name = "milp"
    summary = (
        "big-M MILP encoding solved by HiGHS (p = 1, inf and exact inversion; bounded latents)"
    )
    capabilities = CAPABILITIES
    modules: ClassVar[tuple[str, ...]] = ("highspy",)
    no_basis = BASIS_FLOAT
    #: The engine of the method's name (``milp``: HiGHS; ``milp-scip``: SCIP); the
    #: ``engine`` option chooses another.
    default_engine: ClassVar[Engine] = "highs"

    def __init__(
        self,
        mode: Mode = "decide",
        tighten: bool | None = None,
        bound_time: float = BOUND_TIME,
        confirm_no: bool | None = None,
        target_bounds: bool = False,
        engine: Engine | None = None,
        separating: str = "portfolio",
        scale: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
        engine = engine or type(self).default_engine
        _check_engine(engine, separating)
        self.scale = scale
        self.engine: Engine = engine
        self.separating = separating
        self.mode: Mode = mode
        self.tighten = tighten
        self.bound_time = bound_time
        self.confirm_no = confirm_no
        self.target_bounds = target_bounds

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why the MILP cannot take ``problem``, or None (:func:`milp_reason`): real latents need
        a box (big-M values), and the norm must be p = 1, inf or exact inversion; then the
        capabilities."""
        return milp_reason(problem, cls.name)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """HiGHS (or SCIP) on the big-M model (:func:`milp_solve`): *yes* with a witness
        re-checked exactly; a *no* rests on the float solver's word
        (:func:`geninv.solvers.base.gate_no` makes it *unknown* unless ``trust_solver``); else
        *unknown* with the reason."""
        return milp_solve(
            problem,
            mode=self.mode,
            time_limit=time_limit,
            seed=seed,
            progress=progress and _common.SOLVER_LOGS,  # solver logs only when allowed
            tighten=self.tighten,
            bound_time=self.bound_time,
            confirm_no=self.confirm_no,
            target_bounds=self.target_bounds,
            engine=self.engine,
            separating=self.separating,
            scale=self.scale,
        )


class MilpScipBackend(MilpBackend):
    """``milp`` with the engine option ``scip`` (the same model, bounds still by HiGHS
    LPs), named for ``auto``'s table and ``--method``."""

    name = "milp-scip"
    summary = (
        "the milp backend's big-M model solved by SCIP (one thread); "
        "faster than HiGHS on the near-boundary random-net regime"
    )
    modules = ("highspy", "pyscipopt")
    default_engine: ClassVar[Engine] = "scip"
