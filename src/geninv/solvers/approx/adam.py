"""``adam``: CSGM, Adam on the latent with random restarts (Bora et al. 2017)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import CHECK_EVERY, CHECK_TOP, INF_P, _positive
from geninv.solvers.approx.runner import _Run


class AdamBackend(TorchBackend):
    """CSGM: Adam on the latent with random restarts (Bora et al. 2017)."""

    name = "adam"
    summary = "CSGM (Bora et al. 2017): Adam on z, batched random restarts; incomplete"

    def __init__(
        self,
        restarts: int = 10,
        steps: int = 1000,
        lr: float = 0.1,
        lam: float = 0.0,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.steps = int(_positive(steps, "steps", integer=True, allow_zero=True))
        self.lr = float(_positive(lr, "lr"))
        self.lam = float(_positive(lam, "lam", allow_zero=True))

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
