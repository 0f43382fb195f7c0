"""``admm``: linearised ADMM with the signal split from the latent (Latorre et al. 2019)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.runner import _Run
from geninv.solvers.approx.torch_ops import grad_half_sq_norm, prox_lp


@dataclass(eq=False, kw_only=True)
class AdmmBackend(TorchBackend):
    """Linearised ADMM with the signal split from the latent (Latorre et al. 2019)."""

    name = "admm"
    summary = "linearised ADMM (Latorre, Eftekhari & Cevher 2019), adaptive penalty; incomplete"

    restarts: int = option(3, "count")
    steps: int = option(3000, "count0")
    gamma: float = option(0.004, "number")
    beta: float = option(50.0, "number")
    sigma: float = option(50.0, "number0")
    schedule: str = option("adaptive", "choice", choices=("adaptive", "geometric", "fixed"))
    rho_factor: float = option(1.001, "number", at_least=1)

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        p = run.loss_p
        z = run.initial().requires_grad_(True)
        with torch.no_grad():
            u = run.G(z).clone()
        lam = torch.zeros_like(u)
        r = run.restarts
        beta = torch.full((r,), self.beta, dtype=run.dtype, device=run.device)
        sigma = torch.full((r,), self.sigma, dtype=run.dtype, device=run.device)
        eta: torch.Tensor | None = None  # the schedule's tie between sigma and beta's growth
        for t in range(self.steps):
            # z step: gradient of <l, u - G(z)> + b/2 ||u - G(z)||^2, step gamma / b
            out = run.G(z)
            run.observe(z, out)
            h = u - out
            al = (lam * h).sum(dim=1) + 0.5 * beta * (h * h).sum(dim=1)
            (grad,) = torch.autograd.grad(al.sum(), z)
            with torch.no_grad():
                z.sub_((self.gamma / beta)[:, None] * grad)
                z.copy_(run.project(z))
                gz = run.G(z)
                if 2 < p < math.inf:
                    # linearised u step on f(u) = 1/2 ||u - target||_p^2 (smooth, L = p - 1)
                    lip = p - 1.0
                    grad_f = grad_half_sq_norm(u - run.target, p)
                    b = beta[:, None]
                    u = (lip * u - grad_f + b * gz - lam) / (lip + b)
                else:
                    # exact u step: prox of f / b at G(z) - l / b
                    v = gz - lam / beta[:, None] - run.target
                    u = run.target + prox_lp(v, p, beta)
                h = u - gz
                infs = torch.linalg.vector_norm(h, dim=1)
                lam = lam + sigma[:, None] * h
                beta, sigma, eta = self._schedule(t, infs, beta, sigma, eta)
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        return {
            "gamma": self.gamma,
            "beta0": self.beta,
            "sigma0": self.sigma,
            "schedule": self.schedule,
            "final_beta": [float(v) for v in beta.detach().cpu().tolist()],
        }

    def _schedule(
        self,
        t: int,
        infs: torch.Tensor,
        beta: torch.Tensor,
        sigma: torch.Tensor,
        eta: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The penalty / dual-step schedule (``adaptive_bs`` of the authors' code, per restart)."""
        import torch

        if self.schedule == "fixed":
            return beta, sigma, eta
        if self.schedule == "geometric":
            return beta * self.rho_factor, sigma, eta
        if t < 2:
            return beta, sigma, eta
        b0, s0 = self.beta, self.sigma
        zero = infs == 0
        grow = ~zero & (infs > b0 / math.sqrt(t))
        next_beta = torch.where(grow, beta * math.sqrt(t / (t - 1)), beta)
        keep = zero | (infs <= s0 / t)
        shrink = ~keep & (infs <= s0 / math.sqrt(t))
        tied = ~keep & ~shrink
        if eta is None:
            eta = torch.full_like(beta, math.nan)
        # eta is reset where sigma is kept or shrunk, and fixed when a tied phase starts
        diff = next_beta - beta
        start_tie = tied & torch.isnan(eta)
        safe = torch.where(diff > 0, diff, torch.ones_like(diff))
        eta = torch.where(
            start_tie, torch.where(diff > 0, sigma / safe, torch.zeros_like(sigma)), eta
        )
        eta = torch.where(keep | shrink, torch.full_like(eta, math.nan), eta)
        next_sigma = torch.where(keep, sigma, sigma * math.sqrt((t - 1) / t))
        next_sigma = torch.where(tied, eta * diff, next_sigma)
        next_beta = torch.where(zero, beta, next_beta)
        next_sigma = torch.where(zero, sigma, next_sigma)
        return next_beta, next_sigma, eta
