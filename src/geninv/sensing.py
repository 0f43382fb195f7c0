"""Compressed sensing with a generator prior (Bora, Jalal, Price, Dimakis, "CSGM", 2017).

A signal x in R^q is observed through m < q linear measurements ``y = A x (+ noise)``.
With a generator ``G: R^k -> R^q`` as the prior, recovery looks for a latent ``z``
with ``A G(z)`` close to ``y`` and returns ``x̂ = G(ẑ)``.  The question

    is there z in the domain with  ||A G(z) - y||_p  <=  delta ?

is an :class:`~geninv.problem.InversionProblem` for the network ``A o G``:
:func:`sensing_problem` builds it by appending one layer with weight ``A``, zero
bias and the identity activation to ``G`` (``G``'s last activation becomes a
hidden one, which :class:`~geninv.network.ReLUNetwork` allows).  When ``G`` is
piecewise linear (ReLU/identity), so is ``A o G`` and the exact backends
(``milp``) can decide the question; :func:`recover` runs any backend, typically
an approximate one such as ``adam``, and maps the latent back through ``G``.

The problem's :class:`~geninv.problem.SourceInfo` parameters record
``{"kind": "compressed-sensing", "measurements": m, "generator_layers": L, ...}``,
so :func:`generator_of` recovers ``G`` from ``A o G`` (also after a round trip
through an instance directory).

Baselines and figures: :func:`lasso_baseline` (scikit-learn's ``Lasso``, in the
pixel basis as the CSGM paper's MNIST baseline, or in the 2-D DCT basis),
:func:`per_pixel_error` (``||x - x̂||^2 / q``, CSGM's reconstruction error) and
:func:`save_grid_png` (matplotlib).  The small ReLU generator trained on
scikit-learn's 8x8 digits by ``scripts/train_digits_generator.py`` ships in
``geninv/data/digits_vae`` (:func:`load_digits_generator`, :func:`load_test_digits`).
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geninv.errors import BackendUnavailableError, GeninvError, ValidationError
from geninv.network import FloatArray, Layer, ReLUNetwork
from geninv.operators import DenseOperator, Operator, operator_from_dict
from geninv.problem import (
    Domain,
    InversionProblem,
    Relation,
    Solution,
    SourceInfo,
    lp_norm_rows,
    parse_norm,
)

__all__ = [
    "DEFAULT_RELATIVE_THRESHOLD",
    "DIGITS_VAE_DIR",
    "SENSING_KIND",
    "gaussian_measurements",
    "generator_of",
    "lasso_baseline",
    "load_digits_generator",
    "load_test_digits",
    "measurement_matrix_of",
    "noise_threshold",
    "operator_of",
    "per_pixel_error",
    "recover",
    "save_grid_png",
    "sensing_problem",
]

#: ``SourceInfo.parameters["kind"]`` of the problems built here.
SENSING_KIND = "compressed-sensing"
#: ``sensing_problem``'s threshold when none is given: this fraction of ``||y||_p``.
DEFAULT_RELATIVE_THRESHOLD = 1e-3
#: :func:`noise_threshold`'s margin t, in noise standard deviations, above sigma sqrt(m).
NOISE_MARGIN = 3.0
#: The shipped digits generator (see its README.md).
DIGITS_VAE_DIR = Path(__file__).resolve().parent / "data" / "digits_vae"


# ====================================================================== measurements
def gaussian_measurements(m: int, q: int, seed: int | np.random.Generator | None) -> FloatArray:
    """An ``m x q`` matrix with i.i.d. N(0, 1/m) entries (``numpy.random.default_rng(seed)``).

    The same ``seed`` always gives the same matrix.  With variance ``1/m``,
    ``E ||A x||^2 = ||x||^2``, the scaling of CSGM's theory and experiments.
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValidationError(f"the number of measurements m must be a positive integer, got {m!r}")
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
        raise ValidationError(f"the signal dimension q must be a positive integer, got {q!r}")
    rng = np.random.default_rng(seed)
    out: FloatArray = rng.normal(0.0, 1.0 / math.sqrt(int(m)), size=(int(m), int(q)))
    return out


def _matrix(a: npt.ArrayLike, what: str) -> FloatArray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValidationError(f"{what}: expected a non-empty matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{what}: contains NaN or infinite entries")
    return arr


def _vector(v: npt.ArrayLike, what: str, length: int | None = None) -> FloatArray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 1:
        raise ValidationError(f"{what}: expected a vector, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValidationError(f"{what}: has {arr.shape[0]} entries, expected {length}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{what}: contains NaN or infinite entries")
    return arr


# ====================================================================== problems
def _layer_params(network: ReLUNetwork, index: int) -> tuple[Any, Any]:
    """Weights and bias of one layer, as exact Fractions when floats cannot hold them."""
    layer = network.layers[index]
    if layer.exact_weight is not None:
        assert layer.exact_bias is not None
        return layer.exact_weight, layer.exact_bias
    return layer.weight, layer.bias


def sensing_problem(
    generator: ReLUNetwork,
    A: npt.ArrayLike | Operator,
    y: npt.ArrayLike,
    p: float | str = 2,
    threshold: Any = None,
    domain: Domain | None = None,
    *,
    relation: Relation = "<=",
    matrix_label: str | None = None,
    record: dict[str, Any] | None = None,
) -> InversionProblem:
    """The problem "is there z with ``||A G(z) - y||_p <= threshold``" for ``A o G``.

    ``A`` has shape ``(m, q)`` with ``q = generator.n_outputs`` and ``y`` has
    ``m`` entries; both are taken as the exact values of their float64 copies.
    ``threshold`` defaults to ``DEFAULT_RELATIVE_THRESHOLD * ||y||_p`` (a small
    relative residual: approximate backends then search their whole budget
    unless ``y`` is, up to rounding, in the range of ``A o G``; for ``y = 0``
    it is ``DEFAULT_RELATIVE_THRESHOLD`` itself); pass the noise
    level ``||e||_p`` for noisy measurements, or 0 for exact inversion.
    ``domain`` defaults to ``Domain("real")``; a box (``Domain.box``) bounds
    the latent, which exact backends may need.  ``matrix_label`` (e.g.
    ``"gaussian seed 0"``) is recorded in the source parameters.

    ``A`` may be a measurement operator (:mod:`geninv.operators`: inpainting,
    super-resolution, blur, ...): its matrix becomes the appended layer (dense; the
    exact backends read its float64 entries as exact values) and its description is
    recorded as ``parameters["operator"]`` (:func:`operator_of` reads it back).
    ``record`` adds entries to the source parameters (e.g. the noise and its seed).
    """
    operator = A if isinstance(A, Operator) else None
    a = _matrix(A.dense() if isinstance(A, Operator) else A, "measurement matrix A")
    m, q = a.shape
    if q != generator.n_outputs:
        raise ValidationError(
            f"measurement matrix A has {q} columns but the generator has "
            f"{generator.n_outputs} outputs"
        )
    yv = _vector(y, "measurements y", m)
    dom = domain if domain is not None else Domain("real")
    if threshold is None:
        norm = float(lp_norm_rows(yv[None, :], parse_norm(p))[0])
        threshold = DEFAULT_RELATIVE_THRESHOLD * norm if norm > 0 else DEFAULT_RELATIVE_THRESHOLD
    if generator.is_structured:  # convolutional layers stay structured (no dense expansion)
        a_ro, zero = np.array(a, dtype=np.float64), np.zeros(m, dtype=np.float64)
        a_ro.setflags(write=False)
        zero.setflags(write=False)
        network = ReLUNetwork.from_layers([*generator.layers, Layer(a_ro, zero, "identity")])
    else:
        weights: list[Any] = []
        biases: list[Any] = []
        for i in range(generator.depth):
            w, b = _layer_params(generator, i)
            weights.append(w)
            biases.append(b)
        weights.append(a)
        biases.append(np.zeros(m, dtype=np.float64))
        network = ReLUNetwork(weights, biases, activations=[*generator.activations, "identity"])
    params: dict[str, Any] = {
        "kind": SENSING_KIND,
        "measurements": int(m),
        "signal_dim": int(q),
        "latent_dim": generator.n_inputs,
        "generator_layers": generator.depth,
        "generator_widths": generator.widths,
        "generator_activations": generator.activations,
    }
    if matrix_label is not None:
        params["matrix"] = matrix_label
    if operator is not None:
        params["operator"] = operator.to_dict()
    if record:
        params.update({k: v for k, v in record.items() if k not in params})
    return InversionProblem(
        network,
        [float(v) for v in yv],
        dom,
        p=p,
        threshold=threshold,
        relation=relation,
        source=SourceInfo(parameters=params),
    )


def _sensing_layers(problem: InversionProblem) -> int:
    params = problem.source.parameters
    layers = params.get("generator_layers")
    if (
        params.get("kind") != SENSING_KIND
        or isinstance(layers, bool)
        or not isinstance(layers, int)
    ):
        raise ValidationError(
            "not a compressed-sensing problem: its source parameters lack "
            f"kind={SENSING_KIND!r} and generator_layers (build it with sensing_problem)"
        )
    net = problem.network
    if net.depth != layers + 1 or net.layers[-1].activation != "identity":
        raise ValidationError(
            f"compressed-sensing problem records {layers} generator layers, but its network "
            f"has depth {net.depth} with last activation {net.final_activation!r}; expected "
            f"depth {layers + 1} ending in the identity layer A"
        )
    if net.n_outputs != params.get("measurements"):
        raise ValidationError(
            f"compressed-sensing problem records {params.get('measurements')} measurements "
            f"but its network has {net.n_outputs} outputs"
        )
    return layers


def generator_of(problem: InversionProblem) -> ReLUNetwork:
    """``G`` from a problem built by :func:`sensing_problem`: ``A o G`` minus its last layer.

    Exact rational weights, if any, are kept.  Raises
    :class:`~geninv.errors.ValidationError` for other problems.
    """
    layers = _sensing_layers(problem)
    net = problem.network
    if net.is_structured:
        return ReLUNetwork.from_layers(net.layers[:layers])
    weights: list[Any] = []
    biases: list[Any] = []
    for i in range(layers):
        w, b = _layer_params(net, i)
        weights.append(w)
        biases.append(b)
    return ReLUNetwork(weights, biases, activations=net.activations[:layers])


def measurement_matrix_of(problem: InversionProblem) -> FloatArray:
    """``A`` (float64) from a problem built by :func:`sensing_problem`."""
    _sensing_layers(problem)
    return np.array(problem.network.layers[-1].weight, dtype=np.float64)


def operator_of(problem: InversionProblem) -> Operator:
    """The measurement operator of a problem built by :func:`sensing_problem`.

    The recorded ``parameters["operator"]`` is read back (every field checked) and
    must be, entry for entry, the network's measurement layer; a problem without one
    (built from a plain matrix) gives a :class:`~geninv.operators.DenseOperator`.
    """
    A = measurement_matrix_of(problem)
    desc = problem.source.parameters.get("operator")
    if desc is None:
        return DenseOperator(A)
    where = "source.parameters.operator"
    op = operator_from_dict(desc, matrix=A, where=where)
    if op.q != A.shape[1] or op.m != A.shape[0] or not np.array_equal(op.dense(), A):
        raise ValidationError(
            f"{where}: the recorded {op.kind} operator is not the network's measurement "
            "layer (the instance was edited?); rebuild it with geninv sense -o"
        )
    return op


def noise_threshold(y: npt.ArrayLike, sigma: float, p: float | str = 2) -> float:
    """The default delta of ``geninv sense``: what the true signal meets despite the noise.

    For ``y = A x + e`` with ``e ~ N(0, sigma^2 I_m)`` and ``x = G(z*)`` in the range of
    ``G``, the true latent has ``||A G(z*) - y||_p = ||e||_p``.  The Euclidean norm is a
    1-Lipschitz function of a standard Gaussian vector, so (Gaussian concentration)

        P( ||e||_2 >= sigma (sqrt(m) + t) ) <= exp(-t^2 / 2),

    with ``E ||e||_2 <= sigma sqrt(m)``; for ``t = NOISE_MARGIN = 3`` that is at most
    1.2%.  For other p, ``||e||_p <= max(1, m^(1/p - 1/2)) ||e||_2`` (1 for p >= 2).
    The default threshold is therefore

        delta = DEFAULT_RELATIVE_THRESHOLD ||y||_p + sigma (sqrt(m) + 3) max(1, m^(1/p - 1/2)),

    which ``z*`` meets with probability at least 98.8%; the first term is the
    noiseless default of :func:`sensing_problem` (a small relative residual, room for
    rounding).  A signal outside ``G``'s range (a held-out image) adds its distance to
    the range, which no default can know: give ``--threshold`` then.
    """
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    m = yv.size
    q = parse_norm(p)
    norm = float(lp_norm_rows(yv[None, :], q)[0])
    base = DEFAULT_RELATIVE_THRESHOLD * norm if norm > 0 else DEFAULT_RELATIVE_THRESHOLD
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValidationError(f"noise sigma must be a finite number >= 0, got {sigma!r}")
    spread = 1.0 if q >= 2 else float(m) ** (1.0 / q - 0.5)
    return base + sigma * (math.sqrt(m) + NOISE_MARGIN) * spread


# ====================================================================== recovery
def recover(
    problem: InversionProblem,
    method: str,
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = False,
) -> tuple[FloatArray, Solution]:
    """Solve with :func:`geninv.solvers.base.solve` and return ``(G(ẑ), solution)``.

    ``ẑ`` is the solution's witness (``yes``) or the best point an approximate
    backend reports with ``unknown``; ``G(ẑ)`` is evaluated in float64.
    Raises :class:`~geninv.errors.GeninvError` when the backend returns no
    point (e.g. a ``no`` answer: no latent meets the threshold).
    """
    from geninv.solvers.base import solve

    gen = generator_of(problem)
    sol = solve(
        problem, method, time_limit=time_limit, seed=seed, progress=progress, options=options
    )
    if sol.z is None:
        why = sol.reason or (
            "no latent meets the threshold" if sol.status.value == "no" else "no point returned"
        )
        raise GeninvError(f"method {method!r} answered {sol.status.value} with no latent: {why}")
    z = np.array([float(v) for v in sol.z], dtype=np.float64)
    return gen.forward(z), sol


# ====================================================================== baselines
def _dct_basis(shape: tuple[int, int]) -> FloatArray:
    """Columns: the orthonormal 2-D DCT-II basis images, flattened row-major."""
    fft = importlib.import_module("scipy.fft")
    q = shape[0] * shape[1]
    eye = np.eye(q, dtype=np.float64).reshape(q, *shape)
    cols = np.stack([np.asarray(fft.idctn(e, norm="ortho")).reshape(-1) for e in eye], axis=1)
    return np.asarray(cols, dtype=np.float64)


def lasso_baseline(
    A: npt.ArrayLike,
    y: npt.ArrayLike,
    alpha: float,
    *,
    basis: Literal["pixel", "dct"] = "pixel",
    shape: tuple[int, int] = (8, 8),
    max_iter: int = 100_000,
) -> FloatArray:
    """Lasso estimate ``x̂ = Psi ŝ`` with ``ŝ = argmin ||y - A Psi s||^2 / (2m) + alpha ||s||_1``.

    ``basis="pixel"`` (``Psi = I``, the CSGM paper's baseline for MNIST, whose
    digits are sparse in pixels) or ``"dct"`` (the orthonormal 2-D DCT of
    images of ``shape``).  scikit-learn's ``Lasso`` without intercept.
    """
    a = _matrix(A, "measurement matrix A")
    yv = _vector(y, "measurements y", a.shape[0])
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValidationError(f"alpha must be a positive number, got {alpha!r}")
    try:
        linear_model = importlib.import_module("sklearn.linear_model")
        exceptions = importlib.import_module("sklearn.exceptions")
    except ImportError:
        raise BackendUnavailableError(
            "lasso_baseline needs scikit-learn; install it (pip install scikit-learn)"
        ) from None
    if basis == "pixel":
        psi: FloatArray | None = None
        design = a
    elif basis == "dct":
        if shape[0] * shape[1] != a.shape[1]:
            raise ValidationError(
                f"image shape {shape} has {shape[0] * shape[1]} pixels but A has "
                f"{a.shape[1]} columns"
            )
        psi = _dct_basis(shape)
        design = a @ psi
    else:
        raise ValidationError(f"basis must be 'pixel' or 'dct', got {basis!r}")
    model = linear_model.Lasso(alpha=float(alpha), fit_intercept=False, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        model.fit(design, yv)
    s = np.asarray(model.coef_, dtype=np.float64)
    out: FloatArray = s if psi is None else psi @ s
    return out


def per_pixel_error(x: npt.ArrayLike, x_hat: npt.ArrayLike) -> float:
    """``||x - x̂||_2^2 / q``, CSGM's per-pixel reconstruction error."""
    xv = np.asarray(x, dtype=np.float64).reshape(-1)
    xh = np.asarray(x_hat, dtype=np.float64).reshape(-1)
    if xv.shape != xh.shape or xv.size == 0:
        raise ValidationError(f"signals have shapes {xv.shape} and {xh.shape}; expected equal")
    return float(np.sum((xv - xh) ** 2) / xv.size)


# ====================================================================== figures
def save_grid_png(
    rows: Sequence[Sequence[npt.ArrayLike]],
    labels: Sequence[str],
    path: str | Path,
    shape: tuple[int, int] = (8, 8),
    *,
    titles: Sequence[str] | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    scale: float = 0.9,
    force: bool = True,
) -> Path:
    """Write a grid of grey images (one row per method, e.g. truth / Lasso / geninv) as PNG.

    ``rows[i][j]`` is a flattened image of ``shape``; ``labels[i]`` names row
    ``i``; ``titles`` (optional) heads the columns.  Values are shown on the
    fixed scale ``[vmin, vmax]`` (clipped), so rows are comparable.  Returns
    the path written; the write is atomic (:mod:`geninv.io.atomic`), and
    ``force`` lets it replace an existing regular file.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise BackendUnavailableError(
            "save_grid_png needs matplotlib; install it (pip install matplotlib)"
        ) from None
    if len(rows) == 0 or any(len(r) == 0 for r in rows):
        raise ValidationError("save_grid_png needs at least one image in every row")
    if len(labels) != len(rows):
        raise ValidationError(f"got {len(labels)} labels for {len(rows)} rows")
    ncols = max(len(r) for r in rows)
    if titles is not None and len(titles) != ncols:
        raise ValidationError(f"got {len(titles)} column titles for {ncols} columns")
    pixels = shape[0] * shape[1]
    margin = max(0.9, 0.08 * max(len(lab) for lab in labels) + 0.25)  # inches for the labels
    head = 0.3 if titles else 0.1
    height = scale * len(rows) + head
    fig = Figure(figsize=(scale * ncols + margin, height))
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                img = np.asarray(row[j], dtype=np.float64).reshape(-1)
                if img.size != pixels:
                    raise ValidationError(
                        f"image ({i}, {j}) has {img.size} values; expected {pixels} for {shape}"
                    )
                ax.imshow(
                    np.clip(img.reshape(shape), vmin, vmax),
                    cmap="gray",
                    vmin=vmin,
                    vmax=vmax,
                    interpolation="nearest",
                )
            else:
                ax.set_axis_off()
            if j == 0:
                ax.set_ylabel(labels[i], rotation=0, ha="right", va="center", fontsize=9)
            if i == 0 and titles is not None:
                ax.set_title(titles[j], fontsize=8)
    fig.subplots_adjust(
        left=margin / (scale * ncols + margin),
        right=0.99,
        bottom=0.05 / height,
        top=1 - (head - 0.05) / height,
        wspace=0.05,
        hspace=0.05,
    )
    out = Path(path)
    from geninv.io.atomic import atomic_file

    with atomic_file(out, force=force, mode="wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    return out


# ====================================================================== shipped data
def load_digits_generator() -> ReLUNetwork:
    """The shipped 8x8-digits generator ``G: R^4 -> R^64`` (ReLU hidden and output layers).

    Read exactly from ``decoder.onnx`` (no PyTorch needed); ``decoder.npz``
    holds the same tensors (``geninv.io.torch_io.load_npz(path, "0,relu,2,relu")``).
    """
    from geninv.io.onnx_io import import_onnx

    return import_onnx(DIGITS_VAE_DIR / "decoder.onnx")


def load_test_digits() -> tuple[FloatArray, npt.NDArray[np.uint8]]:
    """The held-out test digits (float64, shape (N, 64), values in [0, 1]) and their labels."""
    images = np.load(DIGITS_VAE_DIR / "test_digits.npy", allow_pickle=False)
    labels = np.load(DIGITS_VAE_DIR / "test_labels.npy", allow_pickle=False)
    return np.asarray(images, dtype=np.float64), np.asarray(labels, dtype=np.uint8)
