"""The shared backend class of the torch methods: options, refusals, the run."""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from geninv.errors import UnsupportedError, ValidationError
from geninv.problem import InversionProblem, Solution
from geninv.solvers.interface import Backend, Capabilities

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.common import (
    ALL_ACTIVATIONS,
    CHECK_EVERY,
    CHECK_TOP,
    INF_P,
    _choice,
    _positive,
)
from geninv.solvers.approx.runner import _Run


# ------------------------------------------------------------------ backends
class TorchBackend(Backend):
    """Common options and the run skeleton of the gradient backends."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=False,
        activations=ALL_ACTIVATIONS,
    )
    modules: ClassVar[tuple[str, ...]] = ("torch",)

    def __init__(
        self,
        restarts: int,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        self.restarts = int(_positive(restarts, "restarts", integer=True))
        if not isinstance(device, str):
            raise ValidationError(f"device: expected a string, got {device!r}")
        self.device = device
        self.dtype = _choice(dtype, "dtype", ("float64", "float32"))
        self.check_top = int(_positive(check_top, "check_top", integer=True))
        self.check_every = int(_positive(check_every, "check_every", integer=True))
        self.inf_p = float(_positive(inf_p, "inf_p"))
        if self.inf_p < 2:
            raise ValidationError(f"inf_p: expected a value >= 2, got {inf_p!r}")

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        entered = time.perf_counter()
        reason = self.unsupported_reason(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        if time_limit is not None and (math.isnan(time_limit) or time_limit < 0):
            raise ValidationError(f"time_limit must be >= 0, got {time_limit!r}")
        import torch

        run = _Run.create(
            problem,
            self.name,
            self.restarts,
            seed,
            self.device,
            self.dtype,
            time_limit,
            self.check_top,
            self.check_every,
            self.inf_p,
            progress,
            start=entered,
        )
        with torch.enable_grad():
            extra = self._run(run)
        return run.finish(extra)

    @abstractmethod
    def _run(self, run: _Run) -> dict[str, Any]:
        """Iterate on ``run`` (calling ``run.observe`` and ``run.tick``); return method stats."""
