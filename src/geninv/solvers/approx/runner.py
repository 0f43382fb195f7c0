"""The shared runner: many starts in one batch, the steps of a method, exact re-checks."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from geninv.budget import Budget
from geninv.problem import ExactCheck, InversionProblem, Solution, Status
from geninv.solvers.milp import float_down, float_up

if TYPE_CHECKING:
    import torch

from geninv.solvers.approx.common import (
    NOISE_SEED_OFFSET,
    RECHECK_FACTOR,
    SEED_MOD,
    _inward_float32,
    resolve_device,
)
from geninv.solvers.approx.torch_ops import TorchGenerator, data_loss, distances


# ------------------------------------------------------------------ one run
@dataclass
class _Candidate:
    z: list[float]
    check: ExactCheck


@dataclass
class _Run:
    """Everything one backend run shares: problem, tensors, clock, best points."""

    problem: InversionProblem
    method: str
    restarts: int
    seed: int
    device: torch.device
    dtype: torch.dtype
    clock: Budget
    check_top: int
    check_every: int
    inf_p: float
    progress: bool
    G: TorchGenerator
    target: torch.Tensor  # [q]
    lo: torch.Tensor | None  # box bounds (inward floats), [n]
    hi: torch.Tensor | None
    loss_p: float  # exponent of the objective (2 for exact inversion)
    best_z: torch.Tensor  # [R, n]
    best_d: torch.Tensor  # [R]
    start: float
    iterations: int = 0
    planned: int = 0
    stopped: str = "steps"
    found: _Candidate | None = None
    failed_below: float = math.inf
    stats: dict[str, Any] = field(default_factory=dict)

    # -------------------------------------------------------------- setup
    @staticmethod
    def create(
        problem: InversionProblem,
        method: str,
        restarts: int,
        seed: int | None,
        device: str,
        dtype: str,
        time_limit: float | None,
        check_top: int,
        check_every: int,
        inf_p: float,
        progress: bool,
        start: float | None = None,
    ) -> _Run:
        import torch

        # the clock runs from the backend's entry (``start``): importing torch can
        # take a second, and the time limit covers it
        start = time.perf_counter() if start is None else start
        dev = resolve_device(device)
        tdt = torch.float64 if dtype == "float64" else torch.float32
        net = problem.network
        lo = hi = None
        if problem.domain.kind == "box":
            assert problem.domain.lower is not None and problem.domain.upper is not None
            lo_f = [float_up(v) for v in problem.domain.lower]
            hi_f = [float_down(v) for v in problem.domain.upper]
            if tdt == torch.float32:
                lo_f, hi_f = _inward_float32(lo_f, hi_f)
            lo = torch.tensor(lo_f, dtype=tdt, device=dev)
            hi = torch.tensor(hi_f, dtype=tdt, device=dev)
        run = _Run(
            problem=problem,
            method=method,
            restarts=restarts,
            seed=0 if seed is None else int(seed),
            device=dev,
            dtype=tdt,
            clock=Budget(None if time_limit is None else float(time_limit), start=start),
            check_top=check_top,
            check_every=check_every,
            inf_p=inf_p,
            progress=progress,
            G=TorchGenerator.from_network(net, dev, tdt),
            target=torch.as_tensor(problem.target_array(), dtype=tdt, device=dev),
            lo=lo,
            hi=hi,
            loss_p=2.0 if problem.is_exact_inversion else problem.p,
            best_z=torch.zeros(restarts, problem.n, dtype=tdt, device=dev),
            best_d=torch.full((restarts,), math.inf, dtype=tdt, device=dev),
            start=start,
        )
        return run

    def initial(self) -> torch.Tensor:
        """Restart i's start from a CPU generator seeded ``seed + i`` (see the module docstring)."""
        import torch

        n = self.problem.n
        rows = []
        box = self.problem.domain.kind == "box"
        for i in range(self.restarts):
            g = torch.Generator(device="cpu")
            g.manual_seed((self.seed + i) % SEED_MOD)
            if box:
                rows.append(torch.rand(n, generator=g, dtype=torch.float64))
            else:
                rows.append(torch.randn(n, generator=g, dtype=torch.float64))
        z = torch.stack(rows).to(device=self.device, dtype=self.dtype)
        if box:
            assert self.lo is not None and self.hi is not None
            z = self.project(self.lo + (self.hi - self.lo) * z)
        self.best_z = z.detach().clone()
        return z

    def noise_generator(self) -> torch.Generator:
        import torch

        g = torch.Generator(device=self.device)
        g.manual_seed((self.seed + NOISE_SEED_OFFSET) % SEED_MOD)
        return g

    # -------------------------------------------------------------- per step
    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Clamp to the box (inward-rounded); identity for a real latent."""
        if self.lo is None or self.hi is None:
            return z
        import torch

        return torch.maximum(torch.minimum(z, self.hi), self.lo)

    def objective(self, out: torch.Tensor, mean: bool) -> torch.Tensor:
        """Per-restart ``phi(G(z) - x)``."""
        return data_loss(out - self.target, self.loss_p, mean, self.inf_p)

    def observe(self, z: torch.Tensor, out: torch.Tensor) -> None:
        """Record ``z`` where it beats its restart's best (no gradients)."""
        import torch

        with torch.no_grad():
            d = distances(out.detach() - self.target, self.problem.p)
            better = d < self.best_d
            self.best_d = torch.where(better, d, self.best_d)
            self.best_z = torch.where(better[:, None], z.detach(), self.best_z)

    def keep_last(self, z: torch.Tensor, out: torch.Tensor) -> None:
        """Make the final iterate ``z`` (with ``out = G(z)``) each restart's point."""
        import torch

        with torch.no_grad():
            self.best_d = distances(out.detach() - self.target, self.problem.p)
            self.best_z = z.detach().clone()

    def take_final(self, z: torch.Tensor, out: torch.Tensor, keep: str) -> None:
        """The last iterate ``z`` (``out = G(z)``): each restart's point when ``keep`` is
        ``"last"`` (the papers' estimate), else one more candidate for its best."""
        if keep == "last":
            self.keep_last(z, out)
        else:
            self.observe(z, out)

    def expired(self) -> bool:
        return self.clock.expired()

    def tick(self) -> bool:
        """Count one iteration; True when the run must stop (time limit or exact success)."""
        self.iterations += 1
        if self.expired():
            self.stopped = "time limit"
            return True
        if self.iterations % self.check_every == 0:
            if self.progress:
                self._report()
            if self._early_check():
                self.stopped = "threshold met"
                return True
        return False

    def _report(self) -> None:
        best = float(self.best_d.min().item())
        sys.stderr.write(
            f"[{self.method}] iteration {self.iterations}/{self.planned}: "
            f"best distance {best:.6g}\n"
        )
        sys.stderr.flush()

    def _early_check(self) -> bool:
        delta = self.problem.threshold_float()
        best = float(self.best_d.min().item())
        if not (best <= delta and best < self.failed_below):
            return False
        k = int(self.best_d.argmin().item())
        z = [float(v) for v in self.best_z[k].detach().double().cpu().tolist()]
        chk = self.problem.exact_check(z)
        if chk.meets:
            self.found = _Candidate(z, chk)
            return True
        self.failed_below = RECHECK_FACTOR * best
        return False

    # -------------------------------------------------------------- result
    def finish(self, extra: dict[str, Any] | None = None) -> Solution:
        """Certify the best restarts exactly; ``yes`` or ``unknown`` (never ``no``)."""
        import torch

        problem = self.problem
        best_d = self.best_d.detach().cpu().to(torch.float64).numpy()
        best_z = self.best_z.detach().cpu().to(torch.float64).numpy()
        restart_d = [float(v) for v in best_d]
        stats: dict[str, Any] = {
            "best_distance": None,
            "restarts": self.restarts,
            "iterations": self.iterations,
            "planned_iterations": self.planned,
            "stopped": self.stopped,
            "restart_distances": restart_d,
            "best_float_distance": float(np.nanmin(best_d)) if np.isfinite(best_d).any() else None,
            "seed": self.seed,
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "objective": self.objective_label(),
        }
        stats.update(self.stats)
        if extra:
            stats.update(extra)
        checked: list[_Candidate] = []
        check_start = time.perf_counter()
        if self.found is not None:
            checked.append(self.found)
        else:
            # the best restart by float distance is re-checked; a further one only while
            # its float distance says it may meet the threshold (a point whose check
            # failed is never re-checked, and one that cannot meet is not checked at all)
            delta = problem.threshold_float()
            order = np.argsort(np.where(np.isnan(best_d), np.inf, best_d), kind="stable")
            for rank, r in enumerate(order[: self.check_top]):
                if rank > 0 and (self.expired() or not best_d[int(r)] <= delta):
                    break
                row = best_z[int(r)]
                if not np.all(np.isfinite(row)):
                    continue
                z = [float(v) for v in row]
                chk = problem.exact_check(z)
                checked.append(_Candidate(z, chk))
                if chk.meets:
                    break
        seconds = time.perf_counter() - self.start
        stats["recheck_seconds"] = time.perf_counter() - check_start
        name = self.method
        if not checked:
            return Solution(
                Status.UNKNOWN,
                name,
                reason=f"{name}: every restart diverged (non-finite latents)",
                seconds=seconds,
                stats=stats,
            )
        winner = next((c for c in checked if c.check.meets), None)
        if winner is None:
            winner = min(checked, key=lambda c: c.check.distance)
        stats["best_distance"] = winner.check.distance
        stats["checked_restarts"] = len(checked)
        zf = [Fraction(v) for v in winner.z]
        if winner.check.meets:
            return Solution(
                Status.YES,
                name,
                z=zf,
                distance=winner.check.distance,
                seconds=seconds,
                check=winner.check,
                stats=stats,
            )
        delta = problem.threshold_float()
        what = (
            "exact inversion (threshold 0)"
            if problem.is_exact_inversion
            else f"threshold {delta:.6g}"
        )
        if not winner.check.in_domain:
            detail = f"best point is outside the domain ({winner.check.reason})"
        elif not winner.check.decided:
            detail = f"best point's distance vs the {what} is undecided ({winner.check.reason})"
        else:
            detail = f"best exact distance {winner.check.distance:.6g} does not meet the {what}"
        if self.stopped == "time limit":
            reason = (
                f"time limit after {self.iterations} of {self.planned} iterations "
                f"({self.restarts} restarts); {detail}"
            )
        else:
            reason = (
                f"{name} is incomplete: after {self.restarts} restarts x {self.iterations} "
                f"iterations the {detail}; this does not show that no preimage exists"
            )
        return Solution(
            Status.UNKNOWN,
            name,
            z=zf,
            distance=winner.check.distance,
            seconds=seconds,
            reason=reason,
            check=winner.check,
            stats=stats,
        )

    def objective_label(self) -> str:
        p = self.loss_p
        if math.isinf(p):
            return f"smooth l-inf surrogate ||d||_P^2, P = {self.inf_p:g}"
        if p > 2:
            return f"||d||_p^2, p = {p:g}"
        label = "2 (exact inversion)" if self.problem.is_exact_inversion else f"{p:g}"
        return f"sum |d_j|^p, p = {label}"
