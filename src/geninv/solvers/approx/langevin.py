"""``langevin``: stochastic gradient Langevin dynamics in latent space (Nguyen, Jagatap
& Hegde)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import CHECK_EVERY, CHECK_TOP, INF_P, _positive
from geninv.solvers.approx.runner import _Run


class LangevinBackend(TorchBackend):
    """Stochastic gradient Langevin dynamics in latent space (Nguyen, Jagatap & Hegde)."""

    name = "langevin"
    summary = "SGLD in latent space (Nguyen, Jagatap & Hegde 2021), best iterate; incomplete"

    def __init__(
        self,
        restarts: int = 1,
        steps: int = 2000,
        lr: float = 1e-3,
        beta: float = 1e6,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.steps = int(_positive(steps, "steps", integer=True, allow_zero=True))
        self.lr = float(_positive(lr, "lr"))
        self.beta = float(_positive(beta, "beta"))

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
