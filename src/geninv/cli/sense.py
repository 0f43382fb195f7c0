"""``geninv sense``: compressed sensing with a generator prior -- recover images
from ``y = A x + noise`` as ``G(z)`` (:mod:`geninv.workflows.recovery`), against a
Lasso baseline."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from geninv import workflows
from geninv.cli.common import EXIT_OK, out, save_instance
from geninv.errors import ValidationError
from geninv.io import atomic
from geninv.io.limits import check_count
from geninv.problem import Status
from geninv.workflows import recovery


def cmd_sense(args: argparse.Namespace) -> int:
    """``geninv sense``: compressed-sensing recovery ``y = A G(z) + noise`` through a generator
    (a network and images or measurements, or the bundled digits); one row per image
    recovered."""
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
            images = recovery.read_images(args.image, generator.n_outputs)
    reads = [f for f in (args.network, args.image, args.y, args.matrix) if f]
    if args.output:
        atomic.check_target(args.output, args.force, directory=True, protect=reads)
    if args.png:
        atomic.check_target(args.png, args.force, protect=reads)
    q = generator.n_outputs
    if args.matrix:
        A = recovery.read_matrix(args.matrix, q)
    else:
        if not args.measurements or args.measurements < 1:
            raise ValidationError("give --measurements M (>= 1) or --matrix A.npy")
        check_count(args.measurements * q, "parameters", "--measurements M times the outputs")
        A = sensing.gaussian_measurements(args.measurements, q, args.seed)
    if images is not None:
        ys = recovery.measure(images, A, args.noise, args.seed, args.image)
    else:
        ys = recovery.read_measurements(args.y, A.shape[0])
    method, options = args.method, None
    if args.preset is not None:  # the sense default (adam) gives way to the preset's backend
        method, options = workflows.apply_preset(args.preset, None, None)
    rows: list[list[Any]] = [[], [], []]
    errors = []
    unknown = 0
    for i, y in enumerate(ys):
        problem = recovery.sensing_instance(generator, A, y, args.norm, args.threshold, args.noise)
        if args.output and i == 0:
            save_instance(problem, args.output, force=args.force, protect=reads)
        rec = recovery.recover_image(
            problem,
            A,
            y,
            method,
            time_limit=args.time_limit,
            options=options,
            seed=args.seed,
            lasso_alpha=args.lasso_alpha,
            truth=None if images is None else images[i],
        )
        sol = rec.solution
        line = (
            f"image {i}: {method} {sol.status}, ||A G(z) - y|| = {sol.distance:.4g} "
            f"(delta {problem.threshold_float():.4g})"
        )
        if images is not None:
            assert rec.error is not None and rec.lasso_error is not None
            errors.append((rec.error, rec.lasso_error))
            line += f"; per-pixel error geninv {rec.error:.4f}, Lasso {rec.lasso_error:.4f}"
            rows[0].append(images[i])
        rows[1].append(rec.lasso)
        rows[2].append(rec.x_hat)
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
        labels = ["truth", "Lasso", f"geninv ({method})"]
        keep = [(r, lab) for r, lab in zip(rows, labels, strict=True) if r]
        sensing.save_grid_png(
            [r for r, _ in keep],
            [lab for _, lab in keep],
            args.png,
            recovery.grid_shape(q),
            force=args.force,
        )
        out(f"wrote {args.png}")
    return EXIT_OK
