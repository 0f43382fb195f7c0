"""``pgd``: projected gradient descent onto range(G) (Shah & Hegde 2018)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import CHECK_EVERY, CHECK_TOP, INF_P, _choice, _positive
from geninv.solvers.approx.runner import _Run


class PgdBackend(TorchBackend):
    """Projected gradient descent onto range(G) (Shah & Hegde 2018)."""

    name = "pgd"
    summary = "PGD-GAN (Shah & Hegde 2018): output-space step + inner projection; incomplete"

    def __init__(
        self,
        restarts: int = 1,
        outer_steps: int = 10,
        inner_steps: int = 100,
        eta: float = 0.5,
        lr: float = 0.1,
        inner_optimizer: str = "adam",
        momentum: float = 0.9,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.outer_steps = int(_positive(outer_steps, "outer_steps", integer=True, allow_zero=True))
        self.inner_steps = int(_positive(inner_steps, "inner_steps", integer=True))
        self.eta = float(_positive(eta, "eta"))
        self.lr = float(_positive(lr, "lr"))
        self.inner_optimizer = _choice(inner_optimizer, "inner_optimizer", ("adam", "momentum"))
        self.momentum = float(_positive(momentum, "momentum", allow_zero=True))

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
