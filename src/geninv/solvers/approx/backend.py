"""The shared backend class of the torch methods: options, refusals, the run."""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from dataclasses import dataclass
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
    check_options,
    option,
)
from geninv.solvers.approx.runner import _Run


# ------------------------------------------------------------------ backends
@dataclass(eq=False, kw_only=True)
class TorchBackend(Backend):
    """Common options and the run skeleton of the gradient backends.

    Each option is a keyword-only dataclass field (:func:`option`), checked once in
    ``__post_init__``; a subclass is a dataclass too and adds or redeclares fields."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=False,
        activations=ALL_ACTIVATIONS,
    )
    modules: ClassVar[tuple[str, ...]] = ("torch",)

    restarts: int = option(1, "count")
    device: str = option("auto", "text")
    dtype: str = option("float64", "choice", choices=("float64", "float32"))
    check_top: int = option(CHECK_TOP, "count")
    check_every: int = option(CHECK_EVERY, "count")
    inf_p: float = option(INF_P, "number", at_least=2)

    def __post_init__(self) -> None:
        check_options(self)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Gradient search (incomplete): *yes* with a witness re-checked exactly, else *unknown*
        with the reason, never *no*; raises :class:`~geninv.errors.UnsupportedError` for a
        problem outside the capabilities and :class:`~geninv.errors.ValidationError` for a
        negative or NaN ``time_limit``."""
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
