"""``admm``: linearised ADMM with the signal split from the latent (Latorre et al. 2019).

Latorre, Eftekhari & Cevher, "Fast and provable ADMM for learning with generative
priors" (NeurIPS 2019): ``min_x f(x)`` subject to ``x = G(z)``, with the augmented
Lagrangian

    L_b(x, z, l) = f(x) + <l, x - G(z)> + b/2 ||x - G(z)||^2

and, per iteration t (``z`` linearised, ``x`` exact, dual ascent):

    z <- z - (gamma / b) grad_z L_b(x, z, l)
    x <- argmin_x L_b(x, z, l)
    l <- l + sigma (x - G(z))

On a compressed-sensing problem (built by ``geninv.sensing.sensing_problem``:
``A o G`` with ``A`` its last, identity layer; read from the problem's source
parameters as ``pgd`` does) with p = 2 this is the paper's signal-space split,
``f(x) = c ||A x - y||^2`` (``c`` the option ``f_weight``: 1 by default; the authors'
released code, and so the preset ``admm-mnist-elu``, uses ``c = 1/2``), whose x step
(the authors' ``eadmm``, exact x-update) is the linear solve

    (2c A^T A + b I) x = 2c A^T y - l + b G(z),

done through the SVD ``A = U S V^T`` once: ``x = (r - V diag(2c s^2 / (2c s^2 + b)) V^T r) / b``
(exact in exact arithmetic; O(m q) per step).  On any other problem (and for
p != 2) ``u`` stands for the network's output ``N(z)`` (for a sensing problem
``A G(z)``, the measurement space) and the u step is the prox of
``f(u) = 1/2 ||u - target||_p^2`` (linearised for 2 < p < inf), as before.
``x0 = G(z0)``, ``l0 = 0``.  ``keep="last"`` makes each restart's final iterate its
point (``"best"``, the default, keeps the best by measurement distance seen).
The penalty schedule ``adaptive`` is the authors' ``adaptive_bs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.pgd import _split
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
    keep: str = option("best", "choice", choices=("best", "last"))
    #: the weight ``c`` of ``f(x) = c ||A x - y||^2`` in the signal split
    f_weight: float = option(1.0, "number")

    def _run(self, run: _Run) -> dict[str, Any]:
        run.planned = self.steps
        gen, a = _split(run)
        if a is not None and run.loss_p == 2.0:
            return self._run_signal(run, gen, a)
        return self._run_output(run)

    def _run_signal(self, run: _Run, gen: Any, a: torch.Tensor) -> dict[str, Any]:
        """The paper's split ``x = G(z)`` in signal space, ``f(x) = ||A x - y||^2``."""
        import torch

        z = run.initial().requires_grad_(True)
        _, s, vt = torch.linalg.svd(a, full_matrices=False)
        c2 = 2.0 * self.f_weight
        s2 = c2 * s * s  # eigenvalues of 2c A^T A on the rows of vt
        aty2 = c2 * (run.target @ a)  # 2c A^T y
        with torch.no_grad():
            x = gen(z).clone()
        lam, beta, sigma = self._start(run, x)
        eta: torch.Tensor | None = None
        for t in range(self.steps):
            out = gen(z)
            run.observe(z, out @ a.T)
            self._z_step(run, z, x - out, lam, beta)
            with torch.no_grad():
                gz = gen(z)
                b = beta[:, None]
                rhs = aty2 - lam + b * gz
                coef = s2[None, :] / (s2[None, :] + b)
                x = (rhs - ((rhs @ vt.T) * coef) @ vt) / b
                h = x - gz
                infs = torch.linalg.vector_norm(h, dim=1)
                lam = lam + sigma[:, None] * h
                beta, sigma, eta = self._schedule(t, infs, beta, sigma, eta)
            if run.tick():
                break
        with torch.no_grad():
            out = gen(z) @ a.T
            run.take_final(z, out, self.keep)
        return self._stats(beta, "signal (x = G(z), A split off)")

    def _start(self, run: _Run, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The multipliers (zero, shaped as the split variable ``v``) and each restart's
        penalty ``beta`` and dual step ``sigma`` at their initial values."""
        import torch

        r = run.restarts
        beta = torch.full((r,), self.beta, dtype=run.dtype, device=run.device)
        sigma = torch.full((r,), self.sigma, dtype=run.dtype, device=run.device)
        return torch.zeros_like(v), beta, sigma

    def _z_step(
        self, run: _Run, z: torch.Tensor, h: torch.Tensor, lam: torch.Tensor, beta: torch.Tensor
    ) -> None:
        """The z step of both splits, in place: a gradient step of size ``gamma / beta`` on
        ``<lam, h> + beta/2 ||h||^2`` with ``h = v - G(z)`` (``v`` the split variable, ``x``
        or ``u``; ``h`` built from ``z`` with its graph), then the projection on the domain."""
        import torch

        al = (lam * h).sum(dim=1) + 0.5 * beta * (h * h).sum(dim=1)
        (grad,) = torch.autograd.grad(al.sum(), z)
        with torch.no_grad():
            z.sub_((self.gamma / beta)[:, None] * grad)
            z.copy_(run.project(z))

    def _stats(self, beta: torch.Tensor, space: str) -> dict[str, Any]:
        return {
            "gamma": self.gamma,
            "beta0": self.beta,
            "sigma0": self.sigma,
            "schedule": self.schedule,
            "split": space,
            "keep": self.keep,
            "f_weight": self.f_weight,
            "final_beta": [float(v) for v in beta.detach().cpu().tolist()],
        }

    def _run_output(self, run: _Run) -> dict[str, Any]:
        """The split ``u = N(z)`` on the network's output (non-sensing problems, p != 2)."""
        import torch

        p = run.loss_p
        z = run.initial().requires_grad_(True)
        with torch.no_grad():
            u = run.G(z).clone()
        lam, beta, sigma = self._start(run, u)
        eta: torch.Tensor | None = None  # the schedule's tie between sigma and beta's growth
        for t in range(self.steps):
            out = run.G(z)
            run.observe(z, out)
            self._z_step(run, z, u - out, lam, beta)
            with torch.no_grad():
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
            out = run.G(z)
            run.take_final(z, out, self.keep)
        return self._stats(beta, "network output (u = N(z))")

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
