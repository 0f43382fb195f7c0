"""Adversarial search for real-latent witnesses (used on NO instances)."""

from __future__ import annotations

import numpy as np

from geninv.network import ReLUNetwork


def l1_loss_and_grad(
    net: ReLUNetwork, z: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Batched ||G(z) - x||_1 and a subgradient with respect to z (manual backprop)."""
    acts = [z]
    pre = []
    h = z
    for layer in net.layers:
        a = h @ layer.weight.T + layer.bias
        pre.append(a)
        h = np.maximum(a, 0.0) if layer.activation == "relu" else a
        acts.append(h)
    diff = h - target
    loss = np.abs(diff).sum(axis=1)
    g = np.sign(diff)
    for layer, a in zip(reversed(net.layers), reversed(pre), strict=True):
        if layer.activation == "relu":
            g = g * (a > 0)
        g = g @ layer.weight
    return loss, g


def adversarial_min_distance(
    net: ReLUNetwork,
    target: np.ndarray,
    rng: np.random.Generator,
    n_random: int = 2000,
    n_starts: int = 64,
    steps: int = 300,
    box: tuple[float, float] = (-1.0, 1.0),
) -> tuple[float, np.ndarray]:
    """Smallest l1 distance found by random points, near-corner points and subgradient descent."""
    n = net.n_inputs
    lo, hi = box
    span = hi - lo
    pts = [
        rng.uniform(lo - span, hi + span, size=(n_random, n)),
        rng.choice([lo, hi], size=(n_random, n)) + rng.normal(0, 0.05 * span, size=(n_random, n)),
        rng.uniform(lo, hi, size=(n_random, n)),
    ]
    allp = np.vstack(pts)
    d = np.abs(net.forward(allp) - target).sum(axis=1)
    best = int(np.argmin(d))
    best_d, best_z = float(d[best]), allp[best]
    z = rng.uniform(lo, hi, size=(n_starts, n))
    lr = 0.05 * span
    for t in range(steps):
        loss, g = l1_loss_and_grad(net, z, target)
        i = int(np.argmin(loss))
        if loss[i] < best_d:
            best_d, best_z = float(loss[i]), z[i].copy()
        z = np.clip(z - lr / np.sqrt(t + 1) * g, lo - 0.1 * span, hi + 0.1 * span)
    return best_d, best_z
