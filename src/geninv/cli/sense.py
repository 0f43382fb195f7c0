"""``geninv sense``: compressed sensing with a generator prior -- recover images
from ``y = A x + noise`` (A: Gaussian, inpainting, super-resolution, blur, identity)
as ``G(z)`` (:mod:`geninv.workflows.recovery`), against a Lasso baseline and the
operator's trivial estimate."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from geninv import workflows
from geninv.cli.common import EXIT_OK, out, parse_options, save_instance
from geninv.errors import ValidationError
from geninv.io import atomic
from geninv.io.limits import check_count
from geninv.operators import InpaintOperator
from geninv.problem import Status
from geninv.workflows import recovery


def cmd_sense(args: argparse.Namespace) -> int:
    """``geninv sense``: recovery from ``y = A G(z) + noise`` through a generator (a network
    and images or measurements, or the bundled digits) with a measurement operator
    (Gaussian, inpainting, super-resolution, blur, identity); one row per image."""
    from geninv import sensing

    if args.image and args.y:
        raise ValidationError(
            "give --image (measured here) or --y (measurements), not both: with --image, "
            "y is computed from the image"
        )
    given = (("--digits", args.digits), ("--conv-digits", args.conv_digits))
    bundled = [(flag, k) for flag, k in given if k is not None]
    if bundled:
        flag, count = bundled[0]
        if len(bundled) > 1:
            raise ValidationError("give --digits K or --conv-digits K, not both")
        if args.network or args.image or args.y:
            raise ValidationError(
                f"{flag} uses a bundled generator and its test digits (no --network, --image, --y)"
            )
        generator, images = recovery.bundled_digits(flag.removeprefix("--"), count)
    else:
        if not args.network or not (args.image or args.y):
            raise ValidationError(
                "give --network and --image (or --y), or --digits K, or --conv-digits K"
            )
        generator = workflows.load_generator(args.network, args.arch)
        images = None
        if args.image:
            images = recovery.read_images(args.image, generator.n_outputs)
    reads = [f for f in (args.network, args.image, args.y, args.matrix, args.mask) if f]
    if args.kernel and not args.kernel.startswith("gaussian:"):
        reads.append(args.kernel)
    if args.output:
        atomic.check_target(args.output, args.force, directory=True, protect=reads)
    if args.png:
        atomic.check_target(args.png, args.force, protect=reads)
    q = generator.n_outputs
    if args.measurements is not None and args.matrix is None and args.operator == "gaussian":
        check_count(
            max(args.measurements, 1) * q, "parameters", "--measurements M times the outputs"
        )
    op = recovery.make_operator(
        args.operator,
        q,
        shape=args.image_shape,
        measurements=args.measurements,
        seed=args.seed,
        missing=args.missing,
        mask=args.mask,
        factor=args.factor,
        kernel=args.kernel,
        matrix=args.matrix,
    )
    method, options = args.method or "adam", parse_options(args.option) or None
    if args.preset is not None:  # the preset's backend, unless --method names another one
        method, options = workflows.apply_preset(args.preset, args.method, options)
    ys = None if images is not None else recovery.read_measurements(args.y, op.m)
    out(f"operator: {op.describe()}")
    rows: list[list[Any]] = [[], [], [], []]
    errors = []
    unknown = 0
    results = recovery.sense(
        generator,
        op,
        images=images,
        ys=ys,
        noise=args.noise,
        seed=args.seed,
        method=method,
        norm=args.norm,
        threshold=args.threshold,
        time_limit=args.time_limit,
        lasso_alpha=args.lasso_alpha,
        options=options,
    )
    for i, (problem, rec) in enumerate(results):
        if args.output and i == 0:
            save_instance(problem, args.output, force=args.force, protect=reads)
        sol = rec.solution
        line = (
            f"image {i}: {method} {sol.status}, ||A G(z) - y|| = {sol.distance:.4g} "
            f"(delta {problem.threshold_float():.4g})"
        )
        if images is not None:
            assert rec.error is not None and rec.lasso_error is not None
            errors.append((rec.error, rec.lasso_error, rec.trivial_error))
            line += (
                f"; per-pixel error geninv {rec.error:.4f}, Lasso {rec.lasso_error:.4f}, "
                f"trivial {rec.trivial_error:.4f}"
            )
            rows[0].append(images[i])
        rows[1].append(rec.trivial)
        rows[2].append(rec.lasso)
        rows[3].append(rec.x_hat)
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
        mt = float(np.mean([e[2] for e in errors]))
        out(
            f"mean per-pixel error over {len(errors)} image(s), m = {op.m} of {q}: "
            f"geninv {mg:.4f}, Lasso {ml:.4f} (ratio {ml / mg:.1f}x)"
        )
        out(f"trivial estimate ({_TRIVIAL[op.kind]}): mean per-pixel error {mt:.4f}")
    if args.png:
        labels = ["truth", _INPUT_LABEL.get(op.kind, "input"), "Lasso", f"geninv ({method})"]
        if isinstance(op, InpaintOperator):  # missing pixels shown grey, not black
            rows[1] = [np.where(op.keep, x, MISSING_GREY) for x in rows[1]]
        if op.kind == "dense":  # A^T y of a random matrix is not a picture worth showing
            rows[1] = []
        else:  # the pixel-basis Lasso of a mask or blocks: the input shrunk (often to 0)
            rows[2] = []
        keep = [(r, lab) for r, lab in zip(rows, labels, strict=True) if r]
        sensing.save_grid_png(
            [r for r, _ in keep],
            [lab for _, lab in keep],
            args.png,
            op.shape if len(op.shape) == 2 else (op.shape[0] * op.shape[1], op.shape[2]),
            force=args.force,
        )
        out(f"wrote {args.png}")
    return EXIT_OK


#: The grey level the ``--png`` grid shows an inpainting mask's missing pixels in.
MISSING_GREY = 0.5
#: The ``--png`` grid's label of the input row, per operator.
_INPUT_LABEL = {
    "inpaint": "masked input",
    "superres": "low-res input",
    "blur": "blurred input",
    "identity": "noisy input",
}

#: What each operator's trivial estimate is (:meth:`geninv.operators.Operator.trivial_estimate`).
_TRIVIAL = {
    "dense": "A^T y",
    "inpaint": "the masked input, missing pixels 0",
    "superres": "the input upsampled by blocks",
    "blur": "the blurred input",
    "identity": "the noisy input",
}
