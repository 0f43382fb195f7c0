"""``pgd``: projected gradient descent onto range(G) (Shah & Hegde 2018)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.runner import _Run


@dataclass(eq=False, kw_only=True)
class PgdBackend(TorchBackend):
    """Projected gradient descent onto range(G) (Shah & Hegde 2018)."""

    name = "pgd"
    summary = "PGD-GAN (Shah & Hegde 2018): output-space step + inner projection; incomplete"

    restarts: int = option(1, "count")
    outer_steps: int = option(10, "count0")
    inner_steps: int = option(100, "count")
    eta: float = option(0.5, "number")
    lr: float = option(0.1, "number")
    inner_optimizer: str = option("adam", "choice", choices=("adam", "momentum"))
    momentum: float = option(0.9, "number0")

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.outer_steps * self.inner_steps
        z = run.initial().requires_grad_(True)
        x = torch.zeros(run.restarts, run.target.shape[0], dtype=run.dtype, device=run.device)
        outer = 0
        stop = False
        for _ in range(self.outer_steps):
            w = x - self.eta * (x - run.target)  # gradient step on 1/2 ||x - target||^2
            if self.inner_optimizer == "adam":
                opt: Any = torch.optim.Adam([z], lr=self.lr)
            else:
                opt = torch.optim.SGD([z], lr=self.lr, momentum=self.momentum)
            for _ in range(self.inner_steps):
                out = run.G(z)
                run.observe(z, out)
                loss = ((out - w) ** 2).mean(dim=1)
                (z.grad,) = torch.autograd.grad(loss.sum(), z)
                opt.step()
                with torch.no_grad():
                    z.copy_(run.project(z))
                if run.tick():
                    stop = True
                    break
            with torch.no_grad():
                x = run.G(z)
                run.observe(z, x)
            outer += 1
            if stop:
                break
        return {
            "outer_steps": outer,
            "inner_steps": self.inner_steps,
            "eta": self.eta,
            "lr": self.lr,
            "inner_optimizer": self.inner_optimizer,
        }
