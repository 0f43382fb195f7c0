"""``pgd``: projected gradient descent onto range(G) (Shah & Hegde 2018).

PGD-GAN (Shah & Hegde, "Solving linear inverse problems using GAN priors: an
algorithm with provable guarantees", ICASSP 2018, Algorithm 1): from ``x_0 = 0``,

    w_t = x_t + eta A^T (y - A x_t)                 (gradient step on 1/2 ||y - A x||^2)
    z_t = argmin_z phi(w_t - G(z))                  (projection onto range(G))
    x_{t+1} = G(z_t)

the projection an inner solve of ``inner_steps`` steps (``inner_optimizer``:
Adam, or gradient descent with ``momentum``), warm-started from the last ``z``
with a fresh optimizer state each outer step, ``phi`` the squared error averaged
over the pixels (as in the authors' code).  ``keep="best"`` (default) returns the
best iterate seen by measurement distance, ``keep="last"`` the paper's ``x_T``.
On a problem built by :func:`geninv.sensing.sensing_problem` the signal space is
the generator's output and ``A`` the last layer (the paper's algorithm); on any
other problem ``A = I`` (``w_t = x_t + eta (x - x_t)``).  The defaults are
geninv's; the authors' released setting is the preset ``pgdgan-celeba-dcgan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import option
from geninv.solvers.approx.runner import _Run
from geninv.solvers.approx.torch_ops import TorchGenerator

#: ``source.parameters["kind"]`` of a problem built by ``geninv.sensing.sensing_problem``
#: (the solvers do not import geninv.sensing; its tests check the two agree).
SENSING_KIND = "compressed-sensing"


def _split(run: _Run) -> tuple[TorchGenerator, torch.Tensor | None]:
    """(G, A) of a compressed-sensing problem (``A o G``, ``A`` its last, identity
    layer, as its source parameters record), else (the whole network, None)."""
    import torch

    from geninv.network import ReLUNetwork

    params = run.problem.source.parameters
    k = params.get("generator_layers")
    net = run.problem.network
    if (
        params.get("kind") != SENSING_KIND
        or isinstance(k, bool)
        or not isinstance(k, int)
        or k < 1
        or net.depth != k + 1
        or net.layers[-1].activation != "identity"
        or float(np.abs(net.layers[-1].bias).max(initial=0.0)) != 0.0
    ):
        return run.G, None
    gen = ReLUNetwork.from_layers(net.layers[:k])
    a = net.layers[-1].weight
    return (
        TorchGenerator.from_network(gen, run.device, run.dtype),
        torch.as_tensor(np.array(a), dtype=run.dtype, device=run.device),
    )


@dataclass(eq=False, kw_only=True)
class PgdBackend(TorchBackend):
    """Projected gradient descent onto range(G) (Shah & Hegde 2018)."""

    name = "pgd"
    summary = "PGD-GAN (Shah & Hegde 2018): signal-space step + inner projection; incomplete"

    restarts: int = option(1, "count")
    outer_steps: int = option(10, "count0")
    inner_steps: int = option(100, "count")
    eta: float = option(0.5, "number")
    lr: float = option(0.1, "number")
    inner_optimizer: str = option("adam", "choice", choices=("adam", "momentum"))
    momentum: float = option(0.9, "number0")
    keep: str = option("best", "choice", choices=("best", "last"))

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.outer_steps * self.inner_steps
        gen, a = _split(run)
        z = run.initial().requires_grad_(True)
        q = a.shape[1] if a is not None else run.target.shape[0]
        x = torch.zeros(run.restarts, q, dtype=run.dtype, device=run.device)
        outer = 0
        stop = False
        for _ in range(self.outer_steps):
            with torch.no_grad():
                if a is None:
                    w = x + self.eta * (run.target - x)
                else:
                    w = x + self.eta * ((run.target - x @ a.T) @ a)
            if self.inner_optimizer == "adam":
                opt: Any = torch.optim.Adam([z], lr=self.lr)
            else:
                opt = torch.optim.SGD([z], lr=self.lr, momentum=self.momentum)
            for _ in range(self.inner_steps):
                out = gen(z)
                run.observe(z, out if a is None else out @ a.T)
                loss = ((out - w) ** 2).mean(dim=1)
                (z.grad,) = torch.autograd.grad(loss.sum(), z)
                opt.step()
                with torch.no_grad():
                    z.copy_(run.project(z))
                if run.tick():
                    stop = True
                    break
            with torch.no_grad():
                x = gen(z)
                run.observe(z, x if a is None else x @ a.T)
            outer += 1
            if stop:
                break
        if self.keep == "last":  # the paper's estimate: x_T = G(z_T)
            with torch.no_grad():
                run.keep_last(z, x if a is None else x @ a.T)
        return {
            "outer_steps": outer,
            "inner_steps": self.inner_steps,
            "eta": self.eta,
            "lr": self.lr,
            "inner_optimizer": self.inner_optimizer,
            "keep": self.keep,
            "signal_space": "generator output (A split off)" if a is not None else "outputs",
        }
