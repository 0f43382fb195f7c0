"""An independent reference implementation of CSGM's update rule, in plain torch.

Written from the paper (Bora, Jalal, Price & Dimakis, "Compressed sensing using
generative models", ICML 2017, Sec. 3 and 6), not from geninv: it imports nothing of
geninv.  For each restart r the latent starts at ``z0_r ~ N(0, I)`` and takes
``steps`` Adam steps (Kingma & Ba 2015, Algorithm 1, written out below) on

    f(z) = ||A G(z) - y||_2^2 + lam ||z||_2^2          (paper eq. (2))

with ``A`` of i.i.d. N(0, 1/m) entries; the estimate is ``G(z_r)`` of the restart
whose final iterate has the least measurement error ``||A G(z_r) - y||_2``.

``G`` is given as a list of ``(W, b, activation)`` (numpy arrays, ``act(W h + b)``,
activation one of relu, identity, sigmoid, tanh, elu), read by the caller straight from
the model file.  The restarts run as one batch (each restart's loss is separate,
so the batch changes nothing but the speed).  ``init_seed(i)`` gives the seed of
restart i's ``z0`` (a CPU ``torch.Generator``, ``torch.randn`` in float64), so a
caller can give both implementations the same starting points.

Convolutional generators and imaging operators (issue 17): ``G`` may instead be a
batched torch function (``dcgan_generator`` / ``conv_digits_generator`` build the
shared DCGAN and the bundled conv decoder straight from their ``.npz`` tensors with
``torch.nn.functional``, batch norm in inference form), and the measurement ``A``
may be a batched torch function of ``x`` (``inpaint_apply``: the kept pixels by
index; ``superres_apply``: block means by reshape) -- written here, not read from
geninv.operators.  ``admm`` is Latorre, Eftekhari & Cevher's linearised ADMM in its
signal-space split with the exact x-update, from their paper (fixed or adaptive
penalty, final or best iterate).
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
    if name == "elu":
        return torch.nn.functional.elu(h)
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


Gen = Callable[[torch.Tensor], torch.Tensor]


def dcgan_generator(path: str) -> tuple[Gen, int]:
    """The shared MNIST DCGAN (``mnist_dcgan_G.npz``; SOURCES.md's architecture: blocks
    ConvTranspose2d -> BatchNorm2d -> ReLU with strides 2, 1, 2, then ConvTranspose2d
    stride 2 -> tanh, no padding) as a float64 function ``[R, 64] -> [R, 784]``."""
    import torch.nn.functional as F

    d = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in np.load(path).items()}
    strides = (2, 1, 2, 2)

    def g(z: torch.Tensor) -> torch.Tensor:
        h = z.reshape(z.shape[0], 64, 1, 1)
        for i, s in enumerate(strides):
            h = F.conv_transpose2d(h, d[f"gen.{i}.0.weight"], d[f"gen.{i}.0.bias"], stride=s)
            if i < 3:
                p = f"gen.{i}.1."
                h = (h - d[p + "running_mean"][:, None, None]) / torch.sqrt(
                    d[p + "running_var"][:, None, None] + 1e-5
                ) * d[p + "weight"][:, None, None] + d[p + "bias"][:, None, None]
                h = torch.relu(h)
        return torch.tanh(h).reshape(z.shape[0], -1)

    return g, 64


def conv_digits_generator(path: str) -> tuple[Gen, int]:
    """The bundled conv digits decoder (``geninv/data/digits_conv/decoder.npz``):
    Linear(20, 3136) -> ReLU -> (64, 7, 7) -> ConvTranspose2d(64, 32, 4, 2, 1) ->
    BatchNorm2d -> ReLU -> ConvTranspose2d(32, 1, 4, 2, 1) -> sigmoid, float64."""
    import torch.nn.functional as F

    d = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in np.load(path).items()}
    k = d["0.weight"].shape[1]

    def g(z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(z @ d["0.weight"].T + d["0.bias"]).reshape(z.shape[0], 64, 7, 7)
        h = F.conv_transpose2d(h, d["3.weight"], d["3.bias"], stride=2, padding=1)
        c = lambda n: d[n][:, None, None]  # noqa: E731
        h = (h - c("4.running_mean")) / torch.sqrt(c("4.running_var") + 1e-5) * c("4.weight") + c(
            "4.bias"
        )
        h = F.conv_transpose2d(torch.relu(h), d["6.weight"], d["6.bias"], stride=2, padding=1)
        return torch.sigmoid(h).reshape(z.shape[0], -1)

    return g, k


def inpaint_apply(keep: np.ndarray) -> Gen:
    """``x -> x[:, kept pixels]`` for a boolean mask ``keep`` over the pixels."""
    idx = torch.tensor(np.flatnonzero(np.asarray(keep, dtype=bool).reshape(-1)))
    return lambda x: x[:, idx]


def superres_apply(side: int, factor: int) -> Gen:
    """Means of the ``factor x factor`` blocks of a ``side x side`` image (row-major)."""
    b = side // factor

    def a(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], b, factor, b, factor).mean(dim=(2, 4)).reshape(x.shape[0], -1)

    return a


def csgm(
    layers: Sequence[Layer] | tuple[Gen, int],
    A: np.ndarray | Gen,
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
    """CSGM's estimate (see the module docstring).  ``layers`` may be ``(G, k)`` with
    ``G`` a batched torch function; ``A`` may be a batched torch function of ``x``."""
    if isinstance(layers, tuple) and callable(layers[0]):
        g, k = layers
    else:
        g = make_generator(layers)  # type: ignore[arg-type]
        k = layers[0][0].shape[1]  # type: ignore[index]
    if callable(A):
        apply_a = A
    else:
        at = torch.tensor(A, dtype=torch.float64).T
        apply_a = lambda x: x @ at  # noqa: E731
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
        r = apply_a(g(z)) - yt
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
        err = torch.linalg.vector_norm(apply_a(x) - yt, dim=1)
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


def _adapt_penalty(
    t: int, infs: float, beta: float, sigma: float, b0: float, s0: float, eta: float | None
) -> tuple[float, float, float | None]:
    """The ADMM paper's adaptive penalty and dual step (Latorre et al. 2019, the rule
    their released code calls ``adaptive_bs``), for iteration ``t`` with infeasibility
    ``infs = ||x - G(z)||``: nothing changes for ``t < 2`` or ``infs = 0``; ``beta``
    grows by ``sqrt(t / (t - 1))`` unless ``infs <= b0 / sqrt(t)``; ``sigma`` is kept
    when ``infs <= s0 / t``, shrinks by ``sqrt((t - 1) / t)`` when ``infs <= s0 /
    sqrt(t)``, and otherwise follows ``beta``'s growth, ``sigma = eta (beta' - beta)``
    with ``eta`` fixed when such a phase starts (0 if ``beta`` did not grow)."""
    if t < 2 or infs == 0:
        return beta, sigma, eta
    nb = beta if infs <= b0 / math.sqrt(t) else beta * math.sqrt(t / (t - 1))
    if infs <= s0 / t:
        return nb, sigma, None
    if infs <= s0 / math.sqrt(t):
        return nb, sigma * math.sqrt((t - 1) / t), None
    if eta is None:
        eta = sigma / (nb - beta) if nb > beta else 0.0
    return nb, eta * (nb - beta), eta


def admm(
    layers: Sequence[Layer] | tuple[Gen, int],
    A: np.ndarray,
    y: np.ndarray,
    *,
    gamma: float,
    beta: float,
    sigma: float,
    steps: int,
    restarts: int = 1,
    init_seed: Callable[[int], int] = lambda i: i,
    f_weight: float = 1.0,
    schedule: str = "fixed",
    keep: str = "last",
) -> Result:
    """Linearised ADMM (Latorre, Eftekhari & Cevher, NeurIPS 2019), written from the
    paper: ``min f(x) = f_weight ||A x - y||^2`` s.t. ``x = G(z)``, augmented Lagrangian
    ``L(x, z, l) = f(x) + <l, x - G(z)> + beta/2 ||x - G(z)||^2``; per step a gradient
    step on ``z`` of size ``gamma / beta``, ``x = argmin_x L`` (the exact x-update) by
    solving ``(2 f_weight A^T A + beta I) x = 2 f_weight A^T y - l + beta G(z)``, then
    ``l += sigma (x - G(z))``, then (``schedule="adaptive"``) the penalty rule of
    :func:`_adapt_penalty`; ``x0 = G(z0)``, ``l0 = 0``.  With a fixed penalty the solve
    uses a Cholesky factor computed once; with the adaptive one, the eigendecomposition
    of ``A^T A`` (``beta`` changes).  Each restart runs on its own.  ``keep="last"``: a
    restart's estimate is its final ``G(z)``; ``"best"``: the ``G(z)`` of least
    ``||A G(z) - y||`` over ``z0, ..., z_T``.  The estimate is the restart's with the
    least ``||A G(z) - y||``."""
    if isinstance(layers, tuple) and callable(layers[0]):
        g, k = layers
    else:
        g = make_generator(layers)  # type: ignore[arg-type]
        k = layers[0][0].shape[1]  # type: ignore[index]
    a = torch.tensor(A, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    q = a.shape[1]
    ata = 2.0 * f_weight * (a.T @ a)
    aty = 2.0 * f_weight * (yt @ a)
    if schedule == "fixed":
        chol = torch.linalg.cholesky(ata + beta * torch.eye(q, dtype=torch.float64))
    else:
        evals, evecs = torch.linalg.eigh(ata)

    def solve_x(rhs: torch.Tensor, b: float) -> torch.Tensor:
        if schedule == "fixed":
            return torch.cholesky_solve(rhs[:, None], chol)[:, 0]
        return evecs @ ((evecs.T @ rhs) / (evals + b))

    def error(zz: torch.Tensor) -> float:
        with torch.no_grad():
            return float(torch.linalg.vector_norm(g(zz[None])[0] @ a.T - yt))

    outs, zs, errs = [], [], []
    for i in range(restarts):
        gen = torch.Generator(device="cpu")
        gen.manual_seed(init_seed(i))
        z = torch.randn(k, generator=gen, dtype=torch.float64).requires_grad_(True)
        with torch.no_grad():
            x = g(z[None])[0].clone()
        lam = torch.zeros_like(x)
        b, s, eta = beta, sigma, None
        best_z, best_e = z.detach().clone(), error(z.detach())
        for t in range(steps):
            h = x - g(z[None])[0]
            aug = (lam * h).sum() + 0.5 * b * (h * h).sum()
            (grad,) = torch.autograd.grad(aug, z)
            with torch.no_grad():
                z -= gamma / b * grad
                gz = g(z[None])[0]
                x = solve_x(aty - lam + b * gz, b)
                h = x - gz
                lam = lam + s * h
                if schedule == "adaptive":
                    b, s, eta = _adapt_penalty(t, float(h.norm()), b, s, beta, sigma, eta)
            if keep == "best":
                e = error(z.detach())
                if e < best_e:
                    best_z, best_e = z.detach().clone(), e
        if keep == "last":
            best_z, best_e = z.detach().clone(), error(z.detach())
        with torch.no_grad():
            outs.append(g(best_z[None])[0])
        zs.append(best_z)
        errs.append(best_e)
    best = min(range(restarts), key=lambda i: (math.isnan(errs[i]), errs[i]))
    return Result(outs[best].numpy().copy(), zs[best].numpy().copy(), errs[best], errs)
