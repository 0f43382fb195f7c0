"""Compressed sensing with a generator prior, step by step: what ``geninv sense``
does besides reading arguments and printing (:mod:`geninv.sensing` holds the model).

Measurements ``y = A x + noise`` (:func:`measure`) of images ``x``; each image is
recovered as ``G(z)`` for a latent ``z`` with ``||A G(z) - y||_p <= delta``
(:func:`sensing_instance`, :func:`recover_image`) and compared with a Lasso
baseline when the true image is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ParseError
from geninv.io.text import read_npy
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
    """A measurement matrix ``A`` from a ``.npy`` file: ``n_outputs`` columns."""
    A: FloatArray = read_npy(path, "matrix")
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


def measure(
    images: FloatArray, A: FloatArray, noise: float, seed: int | None, path: str | None = None
) -> FloatArray:
    """``y = A x + sigma e`` for each image ``x`` (a row), ``e`` standard normal from
    ``seed``; ``path`` names the images in the error when their size is not ``A``'s."""
    q = A.shape[1]
    if images.shape[1] != q:
        raise ParseError(f"images have {images.shape[1]} pixels, the generator {q}", path)
    rng = np.random.default_rng(seed)
    ys: FloatArray = images @ A.T + noise * rng.normal(size=(images.shape[0], A.shape[0]))
    return ys


def sensing_instance(
    generator: Any, A: FloatArray, y: FloatArray, norm: str, threshold: Any, noise: float
) -> InversionProblem:
    """``||A G(z) - y||_p <= delta`` (:func:`geninv.sensing.sensing_problem`); without a
    ``threshold`` and with ``noise`` ``sigma > 0``, delta is
    :func:`geninv.sensing.noise_threshold` (met by the true image with probability
    >= 98.8% when it is in G's range)."""
    from geninv import sensing

    if threshold is None and noise > 0:
        threshold = sensing.noise_threshold(y, noise, norm)
    return sensing.sensing_problem(generator, A, y, p=norm, threshold=threshold)


@dataclass
class Recovery:
    """One image recovered: ``x_hat = G(z)``, the solver's answer, the Lasso baseline,
    and (with the true image) both per-pixel errors."""

    x_hat: FloatArray
    solution: Solution
    lasso: FloatArray
    error: float | None = None
    lasso_error: float | None = None


def recover_image(
    problem: InversionProblem,
    A: FloatArray,
    y: FloatArray,
    method: str,
    *,
    time_limit: float | None = None,
    seed: int = 0,
    lasso_alpha: float = 0.01,
    truth: FloatArray | None = None,
    options: dict[str, Any] | None = None,
) -> Recovery:
    """Recover one image with ``method`` (:func:`geninv.sensing.recover`) and the Lasso
    baseline (:func:`geninv.sensing.lasso_baseline`); with the ``truth``, their
    per-pixel errors (:func:`geninv.sensing.per_pixel_error`)."""
    from geninv import sensing

    x_hat, sol = sensing.recover(problem, method, time_limit=time_limit, seed=seed, options=options)
    lasso = sensing.lasso_baseline(A, y, lasso_alpha)
    rec = Recovery(x_hat, sol, lasso)
    if truth is not None:
        rec.error = sensing.per_pixel_error(truth, x_hat)
        rec.lasso_error = sensing.per_pixel_error(truth, lasso)
    return rec


def grid_shape(n_outputs: int) -> tuple[int, int]:
    """The picture shape of an image of ``n_outputs`` pixels: square when it can be."""
    side = round(n_outputs**0.5)
    return (side, side) if side * side == n_outputs else (1, n_outputs)
