"""``geninv sense``: compressed sensing with a generator prior -- recover images
from ``y = A x + noise`` as ``G(z)`` (:mod:`geninv.sensing`), against a Lasso baseline."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from geninv import workflows
from geninv.cli.common import EXIT_OK, out, save_instance
from geninv.errors import ParseError, ValidationError
from geninv.io import atomic
from geninv.io.limits import check_count
from geninv.io.text import read_npy
from geninv.problem import Status


def cmd_sense(args: argparse.Namespace) -> int:
    from geninv import sensing

    if args.digits is not None:
        if args.network or args.image:
            raise ValidationError("--digits uses the bundled generator and test digits")
        generator = sensing.load_digits_generator()
        images = sensing.load_test_digits()[0][: args.digits]
    else:
        if not args.network or not (args.image or args.y):
            raise ValidationError("give --network and --image (or --y), or --digits K")
        generator = workflows.load_generator(args.network, args.arch)
        images = None
        if args.image:
            if not args.image.endswith(".npy"):
                raise ParseError("expected a .npy array of images (one per row)", args.image)
            arr = read_npy(args.image, "array of images")
            if arr.ndim == 0 or arr.size == 0:
                raise ParseError(f"expected images, one per row, got shape {arr.shape}", args.image)
            arr = np.asarray(arr, dtype=np.float64)
            # one image as a vector (or a 2-D picture of the generator's size), else one per row
            one = arr.ndim == 1 or (
                arr.ndim == 2 and arr.size == generator.n_outputs != arr.shape[1]
            )
            images = arr.reshape(1, -1) if one else arr.reshape(arr.shape[0], -1)
    reads = [f for f in (args.network, args.image, args.y, args.matrix) if f]
    if args.output:
        atomic.check_target(args.output, args.force, directory=True, protect=reads)
    if args.png:
        atomic.check_target(args.png, args.force, protect=reads)
    q = generator.n_outputs
    if args.matrix:
        A = read_npy(args.matrix, "matrix")
        if A.ndim != 2 or A.shape[1] != q:
            raise ParseError(
                f"expected a matrix with {q} columns, got shape {A.shape}", args.matrix
            )
    else:
        if not args.measurements or args.measurements < 1:
            raise ValidationError("give --measurements M (>= 1) or --matrix A.npy")
        check_count(args.measurements * q, "parameters", "--measurements M times the outputs")
        A = sensing.gaussian_measurements(args.measurements, q, args.seed)
    rng = np.random.default_rng(args.seed)
    if images is not None:
        if images.shape[1] != q:
            raise ParseError(f"images have {images.shape[1]} pixels, the generator {q}", args.image)
        ys = images @ A.T + args.noise * rng.normal(size=(images.shape[0], A.shape[0]))
    else:
        ys = np.atleast_2d(read_npy(args.y, "array of measurements")).astype(np.float64)
        if ys.ndim != 2 or ys.shape[1] != A.shape[0]:
            raise ParseError(
                f"expected measurements of length {A.shape[0]} (one row each), got shape "
                f"{ys.shape}",
                args.y,
            )
    rows: list[list[Any]] = [[], [], []]
    errors = []
    unknown = 0
    for i, y in enumerate(ys):
        threshold = args.threshold
        if threshold is None and args.noise > 0:
            threshold = sensing.noise_threshold(y, args.noise, args.norm)
        problem = sensing.sensing_problem(generator, A, y, p=args.norm, threshold=threshold)
        if args.output and i == 0:
            save_instance(problem, args.output, force=args.force, protect=reads)
        x_hat, sol = sensing.recover(
            problem, args.method, time_limit=args.time_limit, seed=args.seed
        )
        lasso = sensing.lasso_baseline(A, y, args.lasso_alpha)
        line = (
            f"image {i}: {args.method} {sol.status}, ||A G(z) - y|| = {sol.distance:.4g} "
            f"(delta {problem.threshold_float():.4g})"
        )
        if images is not None:
            e_g = sensing.per_pixel_error(images[i], x_hat)
            e_l = sensing.per_pixel_error(images[i], lasso)
            errors.append((e_g, e_l))
            line += f"; per-pixel error geninv {e_g:.4f}, Lasso {e_l:.4f}"
            rows[0].append(images[i])
        rows[1].append(lasso)
        rows[2].append(x_hat)
        unknown += sol.status is Status.UNKNOWN
        out(line)
    if unknown and args.threshold is None:
        out(
            "unknown: no latent found within the default delta (1e-3 ||y||, plus "
            "sigma (sqrt(M) + 3) with --noise); an image outside G's range (a held-out one) "
            "never gets within it: give --threshold for the residual you accept"
        )
    if errors:
        mg = float(np.mean([e[0] for e in errors]))
        ml = float(np.mean([e[1] for e in errors]))
        out(
            f"mean per-pixel error over {len(errors)} image(s), m = {A.shape[0]} of {q}: "
            f"geninv {mg:.4f}, Lasso {ml:.4f} (ratio {ml / mg:.1f}x)"
        )
    if args.png:
        side = round(q**0.5)
        shape = (side, side) if side * side == q else (1, q)
        labels = ["truth", "Lasso", f"geninv ({args.method})"]
        keep = [(r, lab) for r, lab in zip(rows, labels, strict=True) if r]
        sensing.save_grid_png(
            [r for r, _ in keep], [lab for _, lab in keep], args.png, shape, force=args.force
        )
        out(f"wrote {args.png}")
    return EXIT_OK
