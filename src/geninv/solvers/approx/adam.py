"""``adam``: CSGM, Adam on the latent with random restarts (Bora et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.runner import _Run


@dataclass(eq=False, kw_only=True)
class AdamBackend(TorchBackend):
    """CSGM: Adam on the latent with random restarts (Bora et al. 2017)."""

    name = "adam"
    summary = "CSGM (Bora et al. 2017): Adam on z, batched random restarts; incomplete"

    restarts: int = option(10, "count")
    steps: int = option(1000, "count0")
    lr: float = option(0.1, "number")
    lam: float = option(0.0, "number0")

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        for _ in range(self.steps):
            out = run.G(z)
            run.observe(z, out)
            loss = run.objective(out, mean=True)
            if self.lam:
                loss = loss + self.lam * (z * z).sum(dim=1)
            (z.grad,) = torch.autograd.grad(loss.sum(), z)
            opt.step()
            with torch.no_grad():
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        return {"lr": self.lr, "lam": self.lam, "steps": self.steps}
