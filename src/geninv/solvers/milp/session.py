"""What one MILP run and one MIQP run share: the best checked point, the statistics,
and the :class:`~geninv.problem.Solution` they end with."""

from __future__ import annotations

import time
from typing import Any

from geninv.problem import Solution, Status
from geninv.solvers.interface import BASIS_FLOAT
from geninv.solvers.milp.recover import _Best


class _Session:
    """Base of the MILP and MIQP solver runs (``milp.driver._Solver``, ``miqp._Solver``).

    A subclass sets ``method`` (the Solution's method name), ``start``
    (``time.perf_counter()`` at entry), ``best`` and ``stats``."""

    method: str
    start: float
    best: _Best
    stats: dict[str, Any]

    def finish(
        self, status: Status, proof: dict[str, Any] | None = None, reason: str | None = None
    ) -> Solution:
        """The Solution: the best exactly checked point (a witness only for ``yes``), a
        floating-point ``lower_bound`` marked as such, and the statistics."""
        chk = self.best.check
        if chk is not None:
            self.stats["best_distance"] = chk.distance
        self.stats["exact_checks"] = self.best.tried
        if self.stats.get("lower_bound") is not None:
            self.stats["lower_bound_basis"] = BASIS_FLOAT  # a dual bound, unchecked
        return Solution(
            status,
            self.method,
            z=self.best.z,
            distance=None if chk is None else chk.distance,
            proof=proof,
            reason=reason,
            check=chk if status is Status.YES else None,
            stats=self.stats,
            seconds=time.perf_counter() - self.start,
        )

    def found(self) -> bool:
        """Whether a point passed the exact check."""
        return self.best.check is not None and self.best.check.meets
