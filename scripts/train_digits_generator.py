"""Train the small ReLU digits generator shipped in src/geninv/data/digits_vae/ (deterministic).

A variational autoencoder on scikit-learn's 8x8 digits (``load_digits``: 1,797
images, 64 pixels, values 0..16 scaled to [0, 1]):

    encoder  64 -> 32 (ReLU) -> 2k           (mean and log-variance of q(z | x))
    decoder   k -> 32 (ReLU) -> 64 (ReLU)    (the generator G)

The decoder ends with a ReLU, not a sigmoid, and is trained with a Gaussian
likelihood (squared error) instead of a Bernoulli one: every layer is then
piecewise linear, so the exact backends (MILP) can decide questions about G and
about A o G, while the output stays non-negative like the pixels.  A sigmoid
decoder with its sigmoid dropped afterwards would not be the trained model, and
its logits live on another scale; training the ReLU output directly avoids both.

The split holds aside 20% of the digits (stratified by label, fixed seed) as the
test set; only the training 80% is seen in training.  Training runs on the CPU
in one thread with a fixed seed, so rerunning the script reproduces the files
(bit for bit on the same machine and library versions).

Writes into --out (default src/geninv/data/digits_vae/):

    decoder.npz       the decoder's tensors under state-dict names 0.weight, 0.bias,
                      2.weight, 2.bias (architecture "0,relu,2,relu"), float32
    decoder.onnx      the same network via geninv.io.onnx_io.export_onnx
    test_digits.npy   the held-out images, float32, shape (N, 64), values in [0, 1]
    test_labels.npy   their labels 0..9, uint8
    README.md         command, split, seed, architecture, final losses

Usage:  python scripts/train_digits_generator.py [--latent 4] [--epochs 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from geninv.io.onnx_io import export_onnx
from geninv.io.torch_io import from_sequential, load_npz

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "geninv" / "data" / "digits_vae"
ARCH = "0,relu,2,relu"
HIDDEN = 32
PIXELS = 64

F32 = npt.NDArray[np.float32]


def load_split(seed: int, test_fraction: float) -> tuple[F32, F32, Any, Any]:
    """(train images, test images, train labels, test labels), images in [0, 1]."""
    datasets = importlib.import_module("sklearn.datasets")
    selection = importlib.import_module("sklearn.model_selection")
    digits = datasets.load_digits()
    x = (np.asarray(digits.data, dtype=np.float64) / 16.0).astype(np.float32)
    y = np.asarray(digits.target, dtype=np.uint8)
    x_tr, x_te, y_tr, y_te = selection.train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return x_tr, x_te, y_tr, y_te


class VAE(nn.Module):
    def __init__(self, latent: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Linear(PIXELS, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, PIXELS), nn.ReLU()
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return h[:, : self.latent], h[:, self.latent :]

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
        return self.decoder(z), kl


def losses(model: VAE, x: torch.Tensor, beta: float) -> dict[str, float]:
    """Per-image loss terms with the posterior mean as the code (no sampling)."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
        recon = model.decoder(mu)
        sse = (recon - x).pow(2).sum(dim=1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
    return {
        "sse": float(sse.mean()),
        "mse_per_pixel": float(sse.mean()) / PIXELS,
        "kl": float(kl.mean()),
        "loss": float((sse + beta * kl).mean()),
    }


def project(decoder: nn.Sequential, x: torch.Tensor, latent: int, seed: int) -> torch.Tensor:
    """min_z ||G(z) - x||^2 / 64 per image: Adam from 8 starts, best kept."""
    gen = torch.Generator().manual_seed(seed)
    best = torch.full((x.shape[0],), float("inf"))
    for _ in range(8):
        z = torch.randn(x.shape[0], latent, generator=gen).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.05)
        for _ in range(300):
            opt.zero_grad()
            err = (decoder(z) - x).pow(2).sum()
            err.backward()
            opt.step()
        with torch.no_grad():
            best = torch.minimum(best, (decoder(z) - x).pow(2).mean(dim=1))
    return best


def train(
    x_train: F32, latent: int, epochs: int, beta: float, seed: int, batch: int = 64
) -> tuple[VAE, list[float]]:
    torch.manual_seed(seed)
    model = VAE(latent)
    out_layer = model.decoder[2]
    assert isinstance(out_layer, nn.Linear)
    with torch.no_grad():  # start the output units alive: bias at the mean pixel value
        out_layer.bias.fill_(float(x_train.mean()))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    x = torch.from_numpy(x_train)
    gen = torch.Generator().manual_seed(seed + 1)
    history: list[float] = []
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for start in range(0, x.shape[0], batch):
            xb = x[perm[start : start + batch]]
            eps = torch.randn(xb.shape[0], latent, generator=gen)
            recon, kl = model(xb, eps)
            loss = ((recon - xb).pow(2).sum(dim=1) + beta * kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        sched.step()
        history.append(total / x.shape[0])
    model.eval()
    return model, history


def write_npz(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    """An .npz archive with fixed member timestamps, so the bytes are reproducible; written
    to a temporary file beside ``path`` and renamed over it, so a run stopped midway leaves
    no half-written archive (the benchmarks load a file that exists without retraining)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def table_row(split: str, terms: dict[str, float]) -> str:
    return (
        f"| {split} | {terms['loss']:.4f} | {terms['sse']:.4f} "
        f"| {terms['mse_per_pixel']:.5f} | {terms['kl']:.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--latent", type=int, default=4, help="latent dimension k (default 4)")
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--beta", type=float, default=0.05, help="weight of the KL term")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    start = time.perf_counter()
    x_tr, x_te, _, y_te = load_split(args.seed, args.test_fraction)
    model, history = train(x_tr, args.latent, args.epochs, args.beta, args.seed)
    train_l = losses(model, torch.from_numpy(x_tr), args.beta)
    test_l = losses(model, torch.from_numpy(x_te), args.beta)
    proj = project(model.decoder, torch.from_numpy(x_te), args.latent, args.seed)
    seconds = time.perf_counter() - start

    net = from_sequential(model.decoder)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().numpy().astype(np.float32) for k, v in model.decoder.state_dict().items()
    }
    write_npz(out / "decoder.npz", state)
    export_onnx(net, out / "decoder.onnx")
    (out / "decoder.onnx").chmod(0o644)  # export_onnx writes through a private temporary file
    np.save(out / "test_digits.npy", np.ascontiguousarray(x_te, dtype=np.float32))
    np.save(out / "test_labels.npy", np.ascontiguousarray(y_te, dtype=np.uint8))

    # the shipped copy must be the trained decoder, exactly
    again = load_npz(out / "decoder.npz", ARCH)
    z = np.random.default_rng(0).normal(size=(16, args.latent))
    assert np.array_equal(again.forward(z), net.forward(z))

    sizes = {
        p.name: p.stat().st_size
        for p in sorted(out.iterdir())
        if p.suffix in (".npz", ".onnx", ".npy")
    }
    readme = f"""# digits_vae: a small ReLU generator for 8x8 digits

Generated by `scripts/train_digits_generator.py` (do not edit by hand); regenerate with

    python scripts/train_digits_generator.py --latent {args.latent} --epochs {args.epochs} \\
        --beta {args.beta} --seed {args.seed} --test-fraction {args.test_fraction}

Data: scikit-learn's `load_digits` (1,797 images of 8x8 = 64 pixels, values 0..16 divided
by 16). Split: `sklearn.model_selection.train_test_split(test_size={args.test_fraction},
random_state={args.seed}, stratify=labels)`: {len(x_tr)} training images,
{len(x_te)} held-out test images (`test_digits.npy`, float32, shape {tuple(x_te.shape)};
labels in `test_labels.npy`, uint8). Only the training images were used for training.

Model: a VAE with encoder 64 -> {HIDDEN} (ReLU) -> 2 x {args.latent} (mean, log-variance)
and decoder (the generator G, shipped here)

    z in R^{args.latent} -> Linear({args.latent}, {HIDDEN}) -> ReLU -> Linear({HIDDEN}, 64) -> ReLU

Every layer is piecewise linear (the output ReLU replaces the usual sigmoid, trained with a
Gaussian likelihood, i.e. squared error), so exact backends can encode G and A o G. The
prior is z ~ N(0, I_{args.latent}). Loss per image:
||x - G(z)||^2 + {args.beta} * KL(q(z|x) || N(0, I)),
Adam (lr 2e-3, cosine schedule), batch 64, {args.epochs} epochs, torch seed {args.seed}, one CPU
thread (well under a minute; reruns on the same machine reproduce these files bit for bit).

Final losses (posterior mean as the code):

| split | loss | sum of squared errors | per pixel | KL |
|---|---|---|---|---|
{table_row("train", train_l)}
{table_row("test", test_l)}

Last training epoch (sampled z): {history[-1]:.4f}. Projection error of the test images,
min_z ||G(z) - x||^2 / 64 (Adam, 8 starts): mean {float(proj.mean()):.5f},
median {float(proj.median()):.5f}.

Files (bytes): {", ".join(f"`{k}` {v:,}" for k, v in sizes.items())}.

- `decoder.npz`: tensors `0.weight` ({HIDDEN}x{args.latent}), `0.bias`, `2.weight`
  (64x{HIDDEN}), `2.bias`, float32; read with
  `geninv.io.torch_io.load_npz(path, "{ARCH}")`.
- `decoder.onnx`: the same network written by `geninv.io.onnx_io.export_onnx` (float32 Gemm
  and Relu nodes, input `z` [1, {args.latent}], output `x` [1, 64]); `geninv.io.onnx_io.import_onnx`
  reads it back exactly.
"""
    (out / "README.md").write_text(readme)
    print(f"trained in {seconds:.1f} s; train {train_l}; test {test_l}")
    print(f"projection error per pixel: mean {float(proj.mean()):.5f}")
    print(f"wrote {out}: {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
