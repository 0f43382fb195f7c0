"""The operator base class, image shapes and the dense operator (see :mod:`geninv.operators`)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError
from geninv.io.limits import check_count

if TYPE_CHECKING:
    import scipy.sparse
    import torch

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
#: The largest kernel side accepted (a file or ``gaussian:SIGMA``).
MAX_KERNEL_SIDE = 255
#: Matrices with more entries than this are never expanded densely by ``dense()``.
MAX_DENSE_ENTRIES = 50_000_000


# ====================================================================== shapes
def parse_image_shape(
    value: Any, q: int | None = None, what: str = "image shape"
) -> tuple[int, ...]:
    """``(H, W)`` or ``(C, H, W)`` from a sequence or a text ``"H,W"`` / ``"C,H,W"``;
    with ``q``, the pixels must number ``q``."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace("x", ",").split(",")]
        try:
            dims = [int(p) for p in parts]
        except ValueError:
            raise ValidationError(f"{what} {value!r}: expected H,W or C,H,W (integers)") from None
    elif isinstance(value, (list, tuple)):
        dims = list(value)
    else:
        raise ValidationError(f"{what}: expected H,W or C,H,W, got {value!r}")
    if len(dims) not in (2, 3) or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims
    ):
        raise ValidationError(f"{what} {value!r}: expected 2 or 3 positive integers (H,W or C,H,W)")
    shape = tuple(int(d) for d in dims)
    check_count(math.prod(shape), "vector", f"{what} {shape}: pixels")
    if q is not None and math.prod(shape) != q:
        raise ValidationError(
            f"{what} {shape} has {math.prod(shape)} pixels but the generator has {q} outputs"
        )
    return shape


def _chw(shape: tuple[int, ...]) -> tuple[int, int, int]:
    return (1, shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[1], shape[2])


def _batch(x: npt.ArrayLike, q: int) -> tuple[FloatArray, bool]:
    """``x`` as an ``(n, q)`` float64 batch, and whether it was a single vector."""
    arr = np.asarray(x, dtype=np.float64)
    single = arr.ndim == 1
    arr = arr.reshape(1, -1) if single else arr.reshape(arr.shape[0], -1)
    if arr.shape[1] != q:
        raise ValidationError(f"the operator takes images of {q} pixels, got {arr.shape[1]}")
    return arr, single


# ====================================================================== the base class
class Operator(ABC):
    """A linear measurement operator on images of ``shape`` (``q`` pixels, ``m`` outputs)."""

    kind: ClassVar[str]
    shape: tuple[int, ...]

    @property
    def q(self) -> int:
        """Pixels of an input image."""
        return math.prod(self.shape)

    @property
    @abstractmethod
    def m(self) -> int:
        """Measurements (outputs)."""

    @abstractmethod
    def _apply(self, x: FloatArray) -> FloatArray:
        """``(n, q) -> (n, m)``."""

    def apply(self, x: npt.ArrayLike) -> FloatArray:
        """``A x`` for one image ``(q,)`` (returns ``(m,)``) or a batch ``(n, q)`` (``(n, m)``)."""
        arr, single = _batch(x, self.q)
        out = self._apply(arr)
        return out[0] if single else out

    @abstractmethod
    def matrix(self) -> scipy.sparse.csr_matrix:
        """The ``m x q`` matrix (CSR), built entry by entry."""

    def dense(self) -> FloatArray:
        """The matrix as a dense float64 array (refused beyond ``MAX_DENSE_ENTRIES``)."""
        if self.m * self.q > MAX_DENSE_ENTRIES:
            raise ValidationError(
                f"the {self.kind} operator is {self.m} x {self.q}: too large to expand densely "
                f"(at most {MAX_DENSE_ENTRIES:,} entries)"
            )
        return np.asarray(self.matrix().toarray(), dtype=np.float64)

    @abstractmethod
    def torch_apply(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` on a torch batch ``(n, q)`` (differentiable; structured, not dense)."""

    def trivial_estimate(self, y: npt.ArrayLike) -> FloatArray:
        """The prior-free estimate of ``x`` from ``y`` (default ``A^T y``)."""
        ys, single = _batch(y, self.m)
        out = np.asarray(self.matrix().T @ ys.T, dtype=np.float64).T
        return out[0] if single else out

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (:func:`operator_from_dict` reads it back)."""

    def describe(self) -> str:
        """One line for people: the kind, its parameters and the sizes."""
        return f"{self.kind} ({self.m} of {self.q})"

    def _base(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape), "m": self.m}


# ====================================================================== dense
class DenseOperator(Operator):
    """Any ``m x q`` matrix; ``seed`` records a :meth:`gaussian` draw (regenerated from it),
    ``source`` where a read matrix came from."""

    kind = "dense"

    def __init__(
        self,
        A: npt.ArrayLike,
        shape: Sequence[int] | None = None,
        *,
        seed: int | None = None,
        stream: int | None = None,
        source: str | None = None,
    ) -> None:
        arr = np.asarray(A, dtype=np.float64)
        if arr.ndim != 2 or 0 in arr.shape:
            raise ValidationError(
                f"measurement matrix: expected a non-empty matrix, got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValidationError("measurement matrix: contains NaN or infinite entries")
        self.A = arr
        self.shape = parse_image_shape(list(shape), arr.shape[1]) if shape else (1, arr.shape[1])
        self.seed = seed
        self.stream = stream
        self.source = source

    @classmethod
    def gaussian(
        cls, m: int, shape: Sequence[int], seed: int, stream: int | None = None
    ) -> DenseOperator:
        """i.i.d. ``N(0, 1/m)`` entries from ``numpy.random.default_rng(seed)``, or, with
        ``stream = i``, from child ``i`` of ``numpy.random.SeedSequence(seed)``."""
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise ValidationError(
                f"the number of measurements m must be a positive integer, got {m!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValidationError(f"the seed must be an integer >= 0, got {seed!r}")
        q = math.prod(shape)
        check_count(int(m) * q, "vector", "measurements M times the pixels")
        entropy: Any = seed if stream is None else np.random.SeedSequence(seed, spawn_key=(stream,))
        rng = np.random.default_rng(entropy)
        A = rng.normal(0.0, 1.0 / math.sqrt(int(m)), size=(int(m), q))
        return cls(A, shape, seed=int(seed), stream=stream)

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    def _apply(self, x: FloatArray) -> FloatArray:
        out: FloatArray = x @ self.A.T
        return out

    def matrix(self) -> scipy.sparse.csr_matrix:
        import scipy.sparse

        return scipy.sparse.csr_matrix(self.A)

    def dense(self) -> FloatArray:
        return self.A.copy()

    def torch_apply(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        return x @ torch.as_tensor(self.A, dtype=x.dtype, device=x.device).T

    def to_dict(self) -> dict[str, Any]:
        d = self._base()
        if self.seed is not None:
            d.update(source="gaussian", seed=self.seed, stream=self.stream)
        else:
            d.update(source=self.source or "matrix")
        return d

    def describe(self) -> str:
        how = f"gaussian N(0, 1/m), seed {self.seed}" if self.seed is not None else self.source
        return f"dense {self.m} x {self.q} ({how or 'a given matrix'})"
