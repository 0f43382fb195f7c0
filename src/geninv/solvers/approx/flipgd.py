"""``flipgd``: gradient descent with the negation check (Hand & Voroninski; Huang et al.
2018)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geninv.problem import InversionProblem

if TYPE_CHECKING:
    pass

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option, rho_d
from geninv.solvers.approx.runner import _Run


def _flipgd_refusal(problem: InversionProblem) -> str | None:
    layers = problem.network.layers
    for i, layer in enumerate(layers, start=1):
        if np.any(layer.bias != 0) or (
            layer.exact_bias is not None and any(v != 0 for v in layer.exact_bias)
        ):
            return (
                f"backend 'flipgd' needs a bias-free network (Hand & Voroninski's model); "
                f"layer {i} has a nonzero bias"
            )
        last = i == len(layers)
        ok = layer.activation == "relu" or (
            layer.activation == "leaky_relu" and layer.negative_slope == 0
        )
        if not ok and not (last and layer.activation == "identity"):
            return (
                f"backend 'flipgd' needs ReLU layers (identity allowed last); "
                f"layer {i} is {layer.activation_label}"
            )
    return None


@dataclass(eq=False, kw_only=True)
class FlipGdBackend(TorchBackend):
    """Gradient descent with the negation check (Hand & Voroninski; Huang et al. 2018)."""

    name = "flipgd"
    summary = (
        "gradient descent with the sign-flip check (Hand & Voroninski 2018) for bias-free "
        "ReLU generators; incomplete"
    )

    restarts: int = option(1, "count")
    steps: int = option(2000, "count0")
    lr: float = option(0.5, "number")

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why ``flipgd`` cannot take ``problem``, or None: besides the capabilities, the network
        must be bias-free with ReLU layers (the last may be identity), Hand & Voroninski's
        model."""
        return super().unsupported_reason(problem) or _flipgd_refusal(problem)

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial()
        with torch.no_grad():
            gain = (run.G(z) ** 2).sum(dim=1) / (z * z).sum(dim=1).clamp_min(1e-300)
            ok = (gain > 0) & torch.isfinite(gain)
            alpha = torch.where(ok, self.lr / torch.where(ok, gain, 1.0), self.lr)
        z = z.requires_grad_(True)
        flips = torch.zeros(run.restarts, dtype=torch.long, device=run.device)
        for _ in range(self.steps):
            with torch.no_grad():
                both = run.G(torch.cat([z, -z]))
                f_both = 0.5 * run.objective(both, mean=False)
                flip = f_both[run.restarts :] < f_both[: run.restarts]
                z.copy_(run.project(torch.where(flip[:, None], -z, z)))
                flips += flip.long()
            out = run.G(z)
            run.observe(z, out)
            loss = 0.5 * run.objective(out, mean=False)
            (grad,) = torch.autograd.grad(loss.sum(), z)
            with torch.no_grad():
                z.sub_(alpha[:, None] * grad)
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        depth = run.problem.network.depth
        return {
            "lr": self.lr,
            "alpha": [float(v) for v in alpha.cpu().tolist()],
            "flips": [int(v) for v in flips.cpu().tolist()],
            "rho_d": rho_d(depth),
        }
