"""``langevin``: stochastic gradient Langevin dynamics in latent space (Nguyen, Jagatap
& Hegde)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.runner import _Run


@dataclass(eq=False, kw_only=True)
class LangevinBackend(TorchBackend):
    """Stochastic gradient Langevin dynamics in latent space (Nguyen, Jagatap & Hegde)."""

    name = "langevin"
    summary = "SGLD in latent space (Nguyen, Jagatap & Hegde 2021), best iterate; incomplete"

    restarts: int = option(1, "count")
    steps: int = option(2000, "count0")
    lr: float = option(1e-3, "number")
    beta: float = option(1e6, "number")

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial().requires_grad_(True)
        gen = run.noise_generator()
        noise = math.sqrt(2.0 * self.lr / self.beta)
        for _ in range(self.steps):
            out = run.G(z)
            run.observe(z, out)
            loss = run.objective(out, mean=False)
            (grad,) = torch.autograd.grad(loss.sum(), z)
            with torch.no_grad():
                xi = torch.randn(z.shape, generator=gen, dtype=run.dtype, device=run.device)
                z.sub_(self.lr * grad)
                z.add_(noise * xi)
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        return {"lr": self.lr, "beta": self.beta, "noise_std": noise}
