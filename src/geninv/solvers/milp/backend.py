"""The ``milp`` and ``milp-scip`` backends."""

from __future__ import annotations

from typing import ClassVar

from geninv.errors import ValidationError
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.problem import InversionProblem, Solution
from geninv.solvers.interface import BASIS_FLOAT, Backend
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

    def __init__(
        self,
        mode: Mode = "decide",
        tighten: bool | None = None,
        bound_time: float = BOUND_TIME,
        confirm_no: bool | None = None,
        target_bounds: bool = False,
        engine: Engine = "highs",
        separating: str = "portfolio",
        scale: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
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
        return milp_reason(problem, cls.name)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        return milp_solve(
            problem,
            mode=self.mode,
            time_limit=time_limit,
            seed=seed,
            progress=progress,
            tighten=self.tighten,
            bound_time=self.bound_time,
            confirm_no=self.confirm_no,
            target_bounds=self.target_bounds,
            engine=self.engine,
            separating=self.separating,
            scale=self.scale,
        )


class MilpScipBackend(MilpBackend):
    """The MILP backend's model solved by SCIP instead of HiGHS (bounds still by HiGHS LPs)."""

    name = "milp-scip"
    summary = (
        "the milp backend's big-M model solved by SCIP (one thread); "
        "faster than HiGHS on the near-boundary random-net regime"
    )
    modules = ("highspy", "pyscipopt")

    def __init__(
        self,
        mode: Mode = "decide",
        tighten: bool | None = None,
        bound_time: float = BOUND_TIME,
        confirm_no: bool | None = None,
        target_bounds: bool = False,
        engine: Engine = "scip",
        separating: str = "portfolio",
        scale: bool = True,
    ) -> None:
        super().__init__(
            mode, tighten, bound_time, confirm_no, target_bounds, engine, separating, scale
        )
