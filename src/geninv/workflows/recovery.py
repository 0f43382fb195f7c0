"""Compressed sensing with a generator prior, step by step: what ``geninv sense``
does besides reading arguments and printing (:mod:`geninv.sensing` holds the model).

A measurement operator ``A`` (:func:`make_operator`: Gaussian, inpainting,
super-resolution, blur, identity; :mod:`geninv.operators`) gives measurements
``y = A x + noise`` (:func:`measure`) of images ``x``; each image is recovered as
``G(z)`` for a latent ``z`` with ``||A G(z) - y||_p <= delta``
(:func:`sensing_instance`, :func:`recover_image`, or all in one: :func:`sense`) and
compared with a Lasso baseline and the operator's trivial estimate when the true
image is known.

Randomness: one ``--seed`` S feeds three independent streams, the children of
``numpy.random.SeedSequence(S)``: child 0 draws the operator (a Gaussian matrix, a
random mask), child 1 the noise, child 2 the backend's seed (:func:`backend_seed`).
(Before, the noise came from the same generator as A, so each image's noise was a
scaled row of A.)  The streams and the noise are recorded in the instance.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ParseError, ValidationError
from geninv.io.text import read_npy
from geninv.operators import (
    BlurOperator,
    DenseOperator,
    IdentityOperator,
    InpaintOperator,
    Operator,
    SuperResOperator,
    gaussian_kernel,
    parse_image_shape,
    read_array_file,
)
from geninv.problem import InversionProblem, Solution

FloatArray = npt.NDArray[np.float64]


def read_images(path: str, n_outputs: int) -> FloatArray:
    """True images from a ``.npy`` file, one per row: a vector (or a 2-D picture with
    ``n_outputs`` pixels) is one image, a 2-D or deeper array one image per row."""
    if not path.endswith(".npy"):
        raise ParseError("expected a .npy array of images (one per row)", path)
    arr = read_npy(path, "array of images")
    if arr.ndim == 0 or arr.size == 0:
        raise ParseError(f"expected images, one per row, got shape {arr.shape}", path)
    arr = np.asarray(arr, dtype=np.float64)
    one = arr.ndim == 1 or (arr.ndim == 2 and arr.size == n_outputs != arr.shape[1])
    return arr.reshape(1, -1) if one else arr.reshape(arr.shape[0], -1)


def read_matrix(path: str, n_outputs: int) -> FloatArray:
    """A measurement matrix ``A`` from a ``.npy`` or ``.txt`` file: ``n_outputs`` columns."""
    A = read_array_file(path, "matrix") if path.endswith(".txt") else read_npy(path, "matrix")
    if A.ndim != 2 or A.shape[1] != n_outputs:
        raise ParseError(f"expected a matrix with {n_outputs} columns, got shape {A.shape}", path)
    return A


def read_measurements(path: str, m: int) -> FloatArray:
    """Measurements ``y`` from a ``.npy`` file: one row of length ``m`` per image."""
    ys = np.atleast_2d(read_npy(path, "array of measurements")).astype(np.float64)
    if ys.ndim != 2 or ys.shape[1] != m:
        raise ParseError(
            f"expected measurements of length {m} (one row each), got shape {ys.shape}", path
        )
    return ys


#: The children of ``SeedSequence(seed)``: the operator's, the noise's, the backend's.
OPERATOR_STREAM, NOISE_STREAM, BACKEND_STREAM = 0, 1, 2
#: ``--operator`` names (``dense`` is a matrix read from a file, ``--matrix``).
OPERATOR_NAMES = ("gaussian", "dense", "inpaint", "superres", "blur", "identity")


def _stream(seed: int, index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(index,))


def noise_rng(seed: int) -> np.random.Generator:
    """The noise's generator: child 1 of ``SeedSequence(seed)``."""
    return np.random.default_rng(_stream(seed, NOISE_STREAM))


def backend_seed(seed: int) -> int:
    """The backend's seed: a 31-bit integer from child 2 of ``SeedSequence(seed)``."""
    return int(_stream(seed, BACKEND_STREAM).generate_state(1)[0] >> 1)


def image_shape(q: int, shape: str | Sequence[int] | None = None) -> tuple[int, ...]:
    """The image shape of ``q`` pixels: ``shape`` (``"H,W"`` / ``"C,H,W"``) when given,
    else the square ``(s, s)`` when ``q = s^2``, else ``(1, q)``."""
    if shape is not None:
        return parse_image_shape(shape, q, "--image-shape")
    return grid_shape(q)


def parse_kernel(spec: str) -> tuple[FloatArray, str]:
    """A blur kernel: ``gaussian:SIGMA`` or a ``.npy`` / ``.txt`` 2-D array file; and its
    label."""
    if spec.startswith("gaussian:"):
        raw = spec.split(":", 1)[1]
        try:
            sigma = float(raw)
        except ValueError:
            raise ValidationError(
                f"--kernel {spec!r}: expected gaussian:SIGMA (a positive number) or a file"
            ) from None
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValidationError(f"--kernel {spec!r}: SIGMA must be a positive number")
        return gaussian_kernel(sigma), f"gaussian sigma {sigma:g}"
    if not spec.endswith((".npy", ".txt")):
        raise ValidationError(f"--kernel {spec!r}: expected gaussian:SIGMA or a .npy/.txt file")
    k = read_array_file(spec, "blur kernel")
    if k.ndim != 2:
        raise ParseError(f"expected a 2-D blur kernel, got shape {k.shape}", spec)
    return k, f"kernel {spec}"


def make_operator(
    kind: str,
    q: int,
    *,
    shape: str | Sequence[int] | None = None,
    measurements: int | None = None,
    seed: int = 0,
    missing: float | None = None,
    mask: str | npt.ArrayLike | None = None,
    factor: int | None = None,
    kernel: str | npt.ArrayLike | None = None,
    matrix: str | npt.ArrayLike | None = None,
) -> Operator:
    """The measurement operator ``kind`` (:data:`OPERATOR_NAMES`) on images of ``q``
    pixels (``shape``: :func:`image_shape`), drawn from child 0 of
    ``SeedSequence(seed)`` when random.  Options that do not apply to ``kind`` are
    refused (a mistyped command should not silently measure something else):

    * ``gaussian``: ``measurements`` M, i.i.d. N(0, 1/M) entries; ``dense``:
      ``matrix`` (an array, or a .npy/.txt file with q columns);
    * ``inpaint``: ``missing`` (fraction in [0, 1), default 0.5; uniformly random
      pixels) or ``mask`` (array or .npy/.txt file, 1 kept, 0 missing, of the image's
      shape or q values);
    * ``superres``: ``factor`` f (default 2) dividing H and W;
    * ``blur``: ``kernel`` (array, ``gaussian:SIGMA``, or a .npy/.txt file; default
      ``gaussian:1``);
    * ``identity``: nothing.
    """
    if kind not in OPERATOR_NAMES:
        raise ValidationError(f"--operator {kind!r}: expected one of {', '.join(OPERATOR_NAMES)}")
    if kind == "gaussian" and matrix is not None:
        if measurements is not None:
            raise ValidationError("give --measurements M or --matrix FILE, not both")
        kind = "dense"
    given = {
        "measurements": measurements,
        "missing": missing,
        "mask": mask,
        "factor": factor,
        "kernel": kernel,
        "matrix": matrix,
    }
    allowed = {
        "gaussian": {"measurements"},
        "dense": {"matrix"},
        "inpaint": {"missing", "mask"},
        "superres": {"factor"},
        "blur": {"kernel"},
        "identity": set(),
    }[kind]
    extra = [k for k, v in given.items() if v is not None and k not in allowed]
    if extra:
        flag = extra[0].replace("_", "-")
        raise ValidationError(f"--{flag} does not apply to --operator {kind}")
    shp = image_shape(q, shape)
    if kind == "gaussian":
        if measurements is None or measurements < 1:
            raise ValidationError("give --measurements M (>= 1) or --matrix A.npy")
        return DenseOperator.gaussian(measurements, shp, seed, OPERATOR_STREAM)
    if kind == "dense":
        if matrix is None:
            raise ValidationError("--operator dense needs --matrix A.npy (or A.txt)")
        if isinstance(matrix, str):
            return DenseOperator(read_matrix(matrix, q), shp, source=f"file {matrix}")
        arr = np.asarray(matrix, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != q:
            raise ValidationError(f"expected a matrix with {q} columns, got shape {arr.shape}")
        return DenseOperator(arr, shp)
    if kind == "inpaint":
        if mask is not None and missing is not None:
            raise ValidationError("give --missing FRACTION or --mask FILE, not both")
        if mask is None:
            return InpaintOperator.random(
                shp, 0.5 if missing is None else missing, seed, OPERATOR_STREAM
            )
        if isinstance(mask, str):
            arr = read_array_file(mask, "inpainting mask (1 kept, 0 missing)")
            try:
                return InpaintOperator(shp, arr)
            except ValidationError as exc:
                raise ParseError(str(exc), mask) from None
        return InpaintOperator(shp, mask)
    if kind == "superres":
        return SuperResOperator(shp, 2 if factor is None else factor)
    if kind == "blur":
        spec = "gaussian:1" if kernel is None else kernel
        if isinstance(spec, str):
            k, label = parse_kernel(spec)
            try:
                return BlurOperator(shp, k, label=label)
            except ValidationError as exc:
                if spec.startswith("gaussian:"):
                    raise
                raise ParseError(str(exc), spec) from None
        return BlurOperator(shp, spec)
    return IdentityOperator(shp)


def as_operator(A: FloatArray | Operator) -> Operator:
    """``A`` itself, or a plain matrix as a :class:`~geninv.operators.DenseOperator`."""
    return A if isinstance(A, Operator) else DenseOperator(A)


def measure(
    images: FloatArray,
    A: FloatArray | Operator,
    noise: float,
    seed: int | np.random.Generator | None,
    path: str | None = None,
) -> FloatArray:
    """``y = A x + sigma e`` for each image ``x`` (a row), ``e`` standard normal from
    the noise stream of ``seed`` (:func:`noise_rng`; a Generator is used as it is);
    ``path`` names the images in the error when their size is not ``A``'s."""
    op = as_operator(A)
    if images.shape[1] != op.q:
        raise ParseError(f"images have {images.shape[1]} pixels, the generator {op.q}", path)
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        rng = noise_rng(seed) if seed is not None else np.random.default_rng()
    ys: FloatArray = op.apply(images)
    if noise:
        ys = ys + noise * rng.normal(size=ys.shape)
    return ys


def sensing_instance(
    generator: Any,
    A: FloatArray | Operator,
    y: FloatArray,
    norm: str,
    threshold: Any,
    noise: float,
    record: dict[str, Any] | None = None,
) -> InversionProblem:
    """``||A G(z) - y||_p <= delta`` (:func:`geninv.sensing.sensing_problem`); without a
    ``threshold`` and with ``noise`` ``sigma > 0``, delta is
    :func:`geninv.sensing.noise_threshold` (met by the true image with probability
    >= 98.8% when it is in G's range).  ``record`` goes into the source parameters."""
    from geninv import sensing

    if threshold is None and noise > 0:
        threshold = sensing.noise_threshold(y, noise, norm)
    return sensing.sensing_problem(generator, A, y, p=norm, threshold=threshold, record=record)


@dataclass
class Recovery:
    """One image recovered: ``x_hat = G(z)``, the solver's answer, the Lasso baseline,
    and (with the true image) both per-pixel errors."""

    x_hat: FloatArray
    solution: Solution
    lasso: FloatArray
    error: float | None = None
    lasso_error: float | None = None
    trivial: FloatArray | None = None
    trivial_error: float | None = None


def recover_image(
    problem: InversionProblem,
    A: FloatArray | Operator,
    y: FloatArray,
    method: str,
    *,
    time_limit: float | None = None,
    seed: int = 0,
    lasso_alpha: float = 0.01,
    truth: FloatArray | None = None,
    options: dict[str, Any] | None = None,
) -> Recovery:
    """Recover one image with ``method`` and its backend ``options``
    (:func:`geninv.sensing.recover`), the Lasso baseline
    (:func:`geninv.sensing.lasso_baseline`) and the operator's trivial estimate; with
    the ``truth``, their per-pixel errors (:func:`geninv.sensing.per_pixel_error`)."""
    from geninv import sensing

    op = as_operator(A)
    x_hat, sol = sensing.recover(problem, method, time_limit=time_limit, seed=seed, options=options)
    lasso = sensing.lasso_baseline(op.dense(), y, lasso_alpha)
    trivial = op.trivial_estimate(y)
    rec = Recovery(x_hat, sol, lasso, trivial=trivial)
    if truth is not None:
        rec.error = sensing.per_pixel_error(truth, x_hat)
        rec.lasso_error = sensing.per_pixel_error(truth, lasso)
        rec.trivial_error = sensing.per_pixel_error(truth, trivial)
    return rec


def sense(
    generator: Any,
    operator: Operator,
    *,
    images: FloatArray | None = None,
    ys: FloatArray | None = None,
    noise: float = 0.0,
    seed: int = 0,
    method: str = "adam",
    norm: str = "2",
    threshold: Any = None,
    time_limit: float | None = None,
    lasso_alpha: float = 0.01,
    options: dict[str, Any] | None = None,
) -> Iterator[tuple[InversionProblem, Recovery]]:
    """Recover each image (a row of ``images``, measured here with noise ``sigma`` from
    the noise stream of ``seed``) or each measurement row of ``ys``, one at a time:
    yields the instance (operator, noise and backend recorded in its source
    parameters) and the :class:`Recovery`.  Exactly one of ``images`` and ``ys``."""
    if (images is None) == (ys is None):
        raise ValidationError("give the true images or the measurements y, not both")
    if operator.q != generator.n_outputs:
        raise ValidationError(
            f"the operator takes {operator.q} pixels, the generator has {generator.n_outputs}"
        )
    bseed = backend_seed(seed)
    record: dict[str, Any] = {
        "seed": seed,
        "streams": "numpy SeedSequence(seed) children: 0 operator, 1 noise, 2 backend",
        "backend": {"method": method, "seed": bseed, "options": dict(options or {})},
    }
    if images is not None:
        ys = measure(images, operator, noise, seed)
        record["noise"] = {"sigma": noise, "stream": NOISE_STREAM}
    else:
        record["noise"] = {"sigma": noise, "stream": None, "given": "measurements y"}
    assert ys is not None
    for i, y in enumerate(ys):
        if images is not None:
            record["image"] = i
        problem = sensing_instance(generator, operator, y, norm, threshold, noise, record)
        rec = recover_image(
            problem,
            operator,
            y,
            method,
            time_limit=time_limit,
            seed=bseed,
            lasso_alpha=lasso_alpha,
            truth=None if images is None else images[i],
            options=options,
        )
        yield problem, rec


#: The bundled generators ``geninv sense`` names: ``--digits K`` (8x8, fully connected,
#: :func:`geninv.sensing.load_digits_generator`) and ``--conv-digits K`` (28x28 MNIST,
#: convolutional, :func:`geninv.models.load_conv_generator`).
BUNDLED_GENERATORS = ("digits", "conv-digits")


def round_robin_by_label(labels: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Indices visiting the labels in turn: the first index of each label in increasing
    label order, then the second of each, ...; a label that runs out is skipped (a
    permutation of ``range(len(labels))``)."""
    lab = np.asarray(labels)
    rank = np.empty(lab.shape[0], dtype=np.int64)
    for c in np.unique(lab):
        idx = np.flatnonzero(lab == c)
        rank[idx] = np.arange(idx.size)
    return np.lexsort((lab, rank)).astype(np.int64)


def bundled_digits(name: str, count: int) -> tuple[Any, FloatArray]:
    """A bundled generator and its first ``count`` held-out test digits (never seen in
    training; pixels in [0, 1], one per row): ``name`` is one of
    :data:`BUNDLED_GENERATORS`.  The 28x28 ones are stored sorted by label; they are
    taken in :func:`round_robin_by_label` order (the first ten are a 0, a 1, ..., a 9)."""
    from geninv import models, sensing

    if name == "digits":
        generator: Any = sensing.load_digits_generator()
        images = sensing.load_test_digits()[0]
    elif name == "conv-digits":  # stored by label: taken in turn, 0, 1, ..., 9, 0, 1, ...
        generator = models.load_conv_generator()
        images, labels = models.load_conv_test_images()
        images = images[round_robin_by_label(labels)]
    else:
        raise ValidationError(
            f"bundled generator {name!r}: expected one of {', '.join(BUNDLED_GENERATORS)}"
        )
    if not 1 <= count <= len(images):
        raise ValidationError(
            f"--{name} {count}: expected a count of test digits from 1 to {len(images)}"
        )
    return generator, images[:count]


def grid_shape(n_outputs: int) -> tuple[int, int]:
    """The picture shape of an image of ``n_outputs`` pixels: square when it can be."""
    side = round(n_outputs**0.5)
    return (side, side) if side * side == n_outputs else (1, n_outputs)
