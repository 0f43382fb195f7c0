"""An independent reference implementation of CSGM's update rule, in plain torch.

Written from the paper (Bora, Jalal, Price & Dimakis, "Compressed sensing using
generative models", ICML 2017, Sec. 3 and 6), not from geninv: it imports nothing of
geninv.  For each restart r the latent starts at ``z0_r ~ N(0, I)`` and takes
``steps`` Adam steps (Kingma & Ba 2015, Algorithm 1, written out below) on

    f(z) = ||A G(z) - y||_2^2 + lam ||z||_2^2          (paper eq. (2))

with ``A`` of i.i.d. N(0, 1/m) entries; the estimate is ``G(z_r)`` of the restart
whose final iterate has the least measurement error ``||A G(z_r) - y||_2``.

``G`` is given as a list of ``(W, b, activation)`` (numpy arrays, ``act(W h + b)``,
activation one of relu, identity, sigmoid, tanh), read by the caller straight from
the model file.  The restarts run as one batch (each restart's loss is separate,
so the batch changes nothing but the speed).  ``init_seed(i)`` gives the seed of
restart i's ``z0`` (a CPU ``torch.Generator``, ``torch.randn`` in float64), so a
caller can give both implementations the same starting points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

Layer = tuple[np.ndarray, np.ndarray, str]


@dataclass
class Result:
    x_hat: np.ndarray  # G(z) of the chosen restart
    z: np.ndarray
    measurement_error: float  # ||A G(z) - y||_2
    restart_errors: list[float]


def _act(h: torch.Tensor, name: str) -> torch.Tensor:
    if name == "relu":
        return torch.relu(h)
    if name == "sigmoid":
        return torch.sigmoid(h)
    if name == "tanh":
        return torch.tanh(h)
    if name == "identity":
        return h
    raise ValueError(f"activation {name!r} is not one the reference knows")


def make_generator(layers: Sequence[Layer]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``G`` as a batched float64 torch function of ``z`` ([R, k] -> [R, n])."""
    ws = [
        (torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), a)
        for w, b, a in layers
    ]

    def g(z: torch.Tensor) -> torch.Tensor:
        h = z
        for w, b, a in ws:
            h = _act(h @ w.T + b, a)
        return h

    return g


def csgm(
    layers: Sequence[Layer],
    A: np.ndarray,
    y: np.ndarray,
    *,
    lam: float = 0.1,
    lr: float = 0.01,
    steps: int = 1000,
    restarts: int = 10,
    init_seed: Callable[[int], int] = lambda i: i,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Result:
    """CSGM's estimate (see the module docstring)."""
    g = make_generator(layers)
    k = layers[0][0].shape[1]
    at = torch.tensor(A, dtype=torch.float64).T
    yt = torch.tensor(y, dtype=torch.float64)
    rows = []
    for i in range(restarts):
        gen = torch.Generator(device="cpu")
        gen.manual_seed(init_seed(i))
        rows.append(torch.randn(k, generator=gen, dtype=torch.float64))
    z = torch.stack(rows).requires_grad_(True)
    m1 = torch.zeros_like(z)
    m2 = torch.zeros_like(z)
    b1, b2 = betas
    for t in range(1, steps + 1):
        r = g(z) @ at - yt
        f = (r * r).sum(dim=1) + lam * (z * z).sum(dim=1)
        (grad,) = torch.autograd.grad(f.sum(), z)
        with torch.no_grad():
            m1.mul_(b1).add_((1 - b1) * grad)
            m2.mul_(b2).add_((1 - b2) * grad * grad)
            mhat = m1 / (1 - b1**t)
            vhat = m2 / (1 - b2**t)
            z.sub_(lr * mhat / (vhat.sqrt() + eps))
    with torch.no_grad():
        x = g(z)
        err = torch.linalg.vector_norm(x @ at - yt, dim=1)
    errs = [float(v) for v in err]
    best = min(range(restarts), key=lambda i: (math.isnan(errs[i]), errs[i]))
    return Result(x[best].numpy().copy(), z[best].detach().numpy().copy(), errs[best], errs)


def pgdgan(
    layers: Sequence[Layer],
    A: np.ndarray,
    y: np.ndarray,
    *,
    eta: float = 0.5,
    outer: int = 10,
    inner: int = 100,
    lr: float = 0.1,
    momentum: float = 0.9,
    seed: int = 0,
) -> Result:
    """PGD-GAN (Shah & Hegde 2018, Algorithm 1), written from the paper: ``x_0 = 0``;
    ``w = x + eta A^T (y - A x)``; ``z`` <- ``inner`` steps of gradient descent with
    heavy-ball momentum (``v <- momentum v + g``, ``z <- z - lr v``, fresh ``v`` each
    outer step) on ``mean_j (w_j - G(z)_j)^2`` warm-started from the last ``z``
    (``z0 ~ N(0, I)`` from a CPU generator seeded ``seed``); ``x = G(z)``."""
    g = make_generator(layers)
    k = layers[0][0].shape[1]
    a = torch.tensor(A, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    z = torch.randn(1, k, generator=gen, dtype=torch.float64).requires_grad_(True)
    x = torch.zeros(1, A.shape[1], dtype=torch.float64)
    for _ in range(outer):
        w = x + eta * ((yt - x @ a.T) @ a)
        v = torch.zeros_like(z)
        for _ in range(inner):
            loss = ((g(z) - w) ** 2).mean(dim=1).sum()
            (grad,) = torch.autograd.grad(loss, z)
            with torch.no_grad():
                v.mul_(momentum).add_(grad)
                z.sub_(lr * v)
        with torch.no_grad():
            x = g(z)
    err = float(torch.linalg.vector_norm(x @ a.T - yt))
    return Result(x[0].numpy().copy(), z[0].detach().numpy().copy(), err, [err])
