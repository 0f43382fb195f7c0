"""``adam``: CSGM, Adam on the latent with random restarts (Bora et al. 2017).

Each restart minimises, by Adam on ``z``,

    f(z) = phi(G(z) - x) + lam ||z||_2^2

with ``phi`` the runner's objective **summed** over the outputs (for p = 2:
``||G(z) - x||_2^2``).  For a sensing problem ``G = A o G0`` with ``A`` of
i.i.d. N(0, 1/m) entries this is CSGM's loss ``||A G0(z) - y||^2 + lam ||z||^2``
(Bora et al. 2017, eq. (2)) at the paper's scaling: ``lam`` means what the
paper's lambda means.  (Until issue 17 the data term was averaged over the m
outputs, so ``lam`` acted as ``lam * m``.)  The authors' code averages over m
with N(0, 1) entries, which is the same function.

``keep="best"`` (default) keeps each restart's best iterate by the problem's
distance; ``keep="last"`` keeps its final iterate (CSGM's rule); either way the
restarts are ranked by their measurement distance ``||G(z) - x||_p``.  The
defaults (lr 0.1, lam 0, 1000 steps, 10 restarts) are geninv's, tuned for exact
inversion; the paper's settings are the presets ``csgm-mnist-vae`` and
``csgm-celeba-dcgan`` (:mod:`geninv.solvers.approx.presets`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.runner import _Run

#: Adam's decay rates and epsilon (torch's and TensorFlow's defaults; the CSGM code's).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass(eq=False, kw_only=True)
class AdamBackend(TorchBackend):
    """CSGM: Adam on the latent with random restarts (Bora et al. 2017)."""

    name = "adam"
    summary = "CSGM (Bora et al. 2017): Adam on z, batched random restarts; incomplete"

    restarts: int = option(10, "count")
    steps: int = option(1000, "count0")
    lr: float = option(0.1, "number")
    lam: float = option(0.0, "number0")
    keep: str = option("best", "choice", choices=("best", "last"))

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial().requires_grad_(True)
        # Adam (Kingma & Ba 2015, Algorithm 1) written out: the update of torch.optim.Adam
        # (beta 0.9, 0.999, eps 1e-8, no weight decay), without its per-step overhead
        b1, b2 = ADAM_BETAS
        m1 = torch.zeros_like(z)
        m2 = torch.zeros_like(z)
        for t in range(1, self.steps + 1):
            out = run.G(z)
            run.observe(z, out)
            loss = run.objective(out, mean=False)
            if self.lam:
                loss = loss + self.lam * (z * z).sum(dim=1)
            (grad,) = torch.autograd.grad(loss.sum(), z)
            with torch.no_grad():
                m1.lerp_(grad, 1 - b1)
                m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                denom = (m2.sqrt() / math.sqrt(1 - b2**t)).add_(ADAM_EPS)
                z.addcdiv_(m1, denom, value=-self.lr / (1 - b1**t))
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            out = run.G(z)
            run.take_final(z, out, self.keep)
        return {"lr": self.lr, "lam": self.lam, "steps": self.steps, "keep": self.keep}
