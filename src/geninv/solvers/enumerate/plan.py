"""The plan: shards of the 2^n corners, the first-layer table, the layers after it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError
from geninv.network import FloatArray
from geninv.problem import (
    InversionProblem,
)

if TYPE_CHECKING:
    pass

from geninv.solvers.enumerate.bound import (
    ErrorBound,
    chunk_rows,
    corners,
    error_bound,
    threshold_upper,
)
from geninv.solvers.enumerate.common import (
    CHUNK_FLOATS,
    PRECISIONS,
    TABLE_BITS,
    AnyFloatArray,
    Precision,
)
from geninv.solvers.enumerate.runtime import _check_supported


# --------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Shard:
    """Outer indices ``[start, stop)``, i.e. corners ``[start 2^k, stop 2^k)``."""

    shard_id: int
    start: int
    stop: int
    table_bits: int

    @property
    def first(self) -> int:
        """First corner index."""
        return self.start << self.table_bits

    @property
    def last(self) -> int:
        """One past the last corner index."""
        return self.stop << self.table_bits

    @property
    def points(self) -> int:
        """Number of corners in the shard (``last - first``)."""
        return self.last - self.first


@dataclass(frozen=True, eq=False)
class EnumPlan:
    """Everything a shard needs: the problem, its error bound, the table, the chunking.

    Built once (:func:`make_plan`) and shipped, pickled, to threads, processes
    or Dask workers.  The arrays used by :meth:`evaluate` (``table``,
    ``w_outer``, ``bias1``, ``rest``) are in ``dtype``: float32 only when the
    float32 forward pass is exact (``bound.float32_exact``), else float64.
    """

    problem: InversionProblem
    values: tuple[int, int]
    bound: ErrorBound
    rows: int  # at most this many corners per chunk
    table_bits: int  # k
    batch: int  # outer patterns per chunk (batch * 2^k <= rows)
    table: AnyFloatArray  # (m_1, 2^k): column r is W_1[:, inner] z(r)
    w_outer: AnyFloatArray  # (m_1, n - k): W_1[:, outer]
    cutoff: float  # decide mode: float distances above this are not witnesses
    margin: float  # cutoff - delta
    dtype: str = "float64"  # "float32" or "float64": the evaluation precision
    fold: bool = False  # layer 1's ReLU folded into layer 2 (exact float32 plans only)
    bias1: AnyFloatArray | None = None  # (m_1,): b_1 in dtype
    rest: tuple[tuple[AnyFloatArray, AnyFloatArray, bool], ...] = ()  # (W_l, b_l[:, None], relu)
    target: FloatArray | None = None  # (q, 1): float(x), float64

    @property
    def n(self) -> int:
        """Number of latents."""
        return self.problem.n

    @property
    def total(self) -> int:
        """Number of corners, ``2^n``."""
        return 1 << self.problem.n

    @property
    def n_outer(self) -> int:
        """Number of outer patterns, 2^(n-k)."""
        return 1 << (self.problem.n - self.table_bits)

    def split(self, count: int) -> list[Shard]:
        """``min(count, 2^(n-k))`` shards of (nearly) equal size covering every outer index."""
        count = max(1, min(count, self.n_outer))
        cuts = [self.n_outer * i // count for i in range(count + 1)]
        return [Shard(i, cuts[i], cuts[i + 1], self.table_bits) for i in range(count)]

    def buffer(self) -> list[AnyFloatArray]:
        """Scratch space for one chunk: a flat array per layer (``m_l`` x rows entries)."""
        rows = self.batch << self.table_bits
        return [
            np.empty(layer.n_out * rows, dtype=self.dtype) for layer in self.problem.network.layers
        ]

    def outer(self, start: int, stop: int) -> AnyFloatArray:
        """``C[o] = W_1[:, outer] z(o) + b_1`` for the outer indices ``[start, stop)``.

        Shape ``(stop - start, m_1)``, in ``dtype``.
        """
        zo = corners(start, stop, self.n - self.table_bits, self.values).astype(self.dtype)
        bias1 = self.problem.network.layers[0].bias if self.bias1 is None else self.bias1
        c: AnyFloatArray = zo @ self.w_outer.T
        c += bias1
        return c

    def forward(
        self,
        start: int,
        stop: int,
        buf: list[AnyFloatArray] | None = None,
        c: AnyFloatArray | None = None,
    ) -> tuple[AnyFloatArray, FloatArray]:
        """Last-layer outputs ``(q, rows)`` (in ``dtype``) and float64 distances ``(rows,)``
        of the outer indices ``[start, stop)``; column ``j`` is corner ``start 2^k + j``.

        The layers are 2-D arrays ``(m_l, rows)`` laid out in ``buf`` (from
        :meth:`buffer`), so each later layer is one matrix product; ``c`` is
        :meth:`outer` of the same range when the caller has it.  The outputs
        share memory with ``buf``: use them before the next call.  Like
        :meth:`outer` and :meth:`distances` it leaves numpy's overflow warnings
        to the caller (:func:`run_shard` and :meth:`evaluate` silence them).
        """
        b = stop - start
        size = 1 << self.table_bits
        rows = b * size
        layers = self.problem.network.layers
        m1 = layers[0].n_out
        if (
            buf is None
            or len(buf) != len(layers)
            or buf[0].size < m1 * rows
            or buf[0].dtype != self.dtype
        ):
            buf = [np.empty(layer.n_out * rows, dtype=self.dtype) for layer in layers]
        if c is None:
            c = self.outer(start, stop)
        rest = self.rest if self.bias1 is not None else _rest_layers(self.problem, np.float64)
        h: AnyFloatArray = buf[0][: m1 * rows].reshape(m1, rows)
        if self.fold:
            # relu(T + C) = max(T, -C) + C, and W_2 C + b_2 once per outer pattern
            # (exact in float32 here: see the module docstring)
            np.maximum(self.table[:, None, :], -c.T[:, :, None], out=h.reshape(m1, b, size))
            (weight, bias, relu), scratch = rest[0], buf[1]
            m2 = weight.shape[0]
            nxt = scratch[: m2 * rows].reshape(m2, rows)
            np.matmul(weight, h, out=nxt)
            shift = c @ weight.T  # (b, m_2)
            shift += bias[:, 0]
            nxt3 = nxt.reshape(m2, b, size)
            nxt3 += shift.T[:, :, None]
            if relu:
                np.maximum(nxt, 0.0, out=nxt)
            h = nxt
            later = zip(rest[1:], buf[2:], strict=True)
        else:
            # layer 1: h[:, j 2^k + r] = T[:, r] + C[start + j]
            np.add(self.table[:, None, :], c.T[:, :, None], out=h.reshape(m1, b, size))
            if layers[0].activation == "relu":
                np.maximum(h, 0.0, out=h)
            later = zip(rest, buf[1:], strict=True)
        for (weight, bias, relu), scratch in later:
            nxt = scratch[: weight.shape[0] * rows].reshape(weight.shape[0], rows)
            np.matmul(weight, h, out=nxt)
            nxt += bias
            if relu:
                np.maximum(nxt, 0.0, out=nxt)
            h = nxt
        return h, self.distances(h)

    def distances(self, y: AnyFloatArray) -> FloatArray:
        """Float distances of the outputs ``y`` (shape ``(q, rows)``), as
        :meth:`InversionProblem.distances` computes them for ``y.T``.

        For p = 1, 2 and inf the formula of :func:`geninv.problem.lp_norm_rows`
        is evaluated here on the transposed layout (``d = fl(y - t)`` in
        float64, then max |d|, sum |d| or sqrt(sum d*d) over each column); only
        the summation order can differ, and the error bound allows any order.
        Other p go through ``problem.distances`` itself.
        """
        problem = self.problem
        p = problem.p
        q = y.shape[0]
        if q == 0 or not (math.isinf(p) or p in (1.0, 2.0)):
            return problem.distances(np.ascontiguousarray(y.T, dtype=np.float64))
        target = problem.target_array()[:, None] if self.target is None else self.target
        d: FloatArray = np.subtract(y, target, dtype=np.float64)  # float32 widens exactly
        out: FloatArray
        if p == 2:
            np.multiply(d, d, out=d)
            out = d[0] if q == 1 else d.sum(axis=0)
            np.sqrt(out, out=out)
            return out
        np.abs(d, out=d)
        if q == 1:
            out = d[0]
        elif math.isinf(p):
            out = d.max(axis=0)
        else:
            out = d.sum(axis=0)
        return out

    @staticmethod
    def output_rows(y: AnyFloatArray, idx: npt.NDArray[np.intp]) -> FloatArray:
        """Columns ``idx`` of the outputs ``y`` of :meth:`forward`, as float64 rows.

        Shape ``(len(idx), q)``; widening float32 to float64 is exact.
        """
        out: FloatArray = np.ascontiguousarray(y[:, idx].T, dtype=np.float64)
        return out

    def evaluate(
        self, start: int, stop: int, buf: list[AnyFloatArray] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Float64 outputs ``(rows, q)`` and distances of the outer indices ``[start, stop)``.

        Row ``j`` is corner ``start 2^k + j``.  (The shards use :meth:`forward`,
        which leaves the outputs transposed.)
        """
        with np.errstate(over="ignore", invalid="ignore"):
            y, dist = self.forward(start, stop, buf)
        out: FloatArray = np.ascontiguousarray(y.T, dtype=np.float64)  # float32 widens exactly
        return out, dist

    def corner(self, index: int) -> list[Fraction]:
        """Corner number ``index`` as exact latents (entries from ``values``)."""
        z = corners(index, index + 1, self.n, self.values)[0]
        return [Fraction(int(v)) for v in z]


def choose_table_bits(n: int, rows: int, min_shards: int = 1, requested: int | None = None) -> int:
    """k: the requested (or default) table bits, capped so that ``2^k <= rows``, ``k <= n``
    and, where possible, ``2^(n-k) >= min_shards``."""
    k = TABLE_BITS if requested is None else requested
    k = min(k, n, max(0, rows.bit_length() - 1))
    need = max(0, (min_shards - 1).bit_length())  # ceil(log2(min_shards))
    return max(0, min(k, n - need))


def _rest_layers(
    problem: InversionProblem, dtype: type[np.floating[Any]]
) -> tuple[tuple[AnyFloatArray, AnyFloatArray, bool], ...]:
    """Layers 2..L as (weight, bias column, relu?) in ``dtype``."""
    return tuple(
        (
            np.ascontiguousarray(layer.weight, dtype=dtype),
            np.ascontiguousarray(layer.bias[:, None], dtype=dtype),
            layer.activation == "relu",
        )
        for layer in problem.network.layers[1:]
    )


def make_plan(
    problem: InversionProblem,
    *,
    chunk_floats: int = CHUNK_FLOATS,
    table_bits: int | None = None,
    min_shards: int = 1,
    precision: Precision = "auto",
) -> EnumPlan:
    """Error bound, table and chunking for ``problem`` (see the module docstring).

    ``precision="auto"`` evaluates in float32 when that is exact on every
    corner (``bound.float32_exact``), else in float64; ``"float64"`` always
    uses float64.
    """
    if precision not in PRECISIONS:
        raise ValidationError(f"precision must be 'auto' or 'float64', got {precision!r}")
    values = _check_supported(problem)
    n = problem.n
    bound = error_bound(problem)
    dtype: type[np.floating[Any]] = (
        np.float32 if precision == "auto" and bound.float32_exact else np.float64
    )
    # the budget is in bytes: float32 entries are half the size
    entries = chunk_floats * (8 // np.dtype(dtype).itemsize)
    rows = min(1 << n, chunk_rows(problem.network, entries))
    k = choose_table_bits(n, rows, min_shards, table_bits)
    layer = problem.network.layers[0]
    inner = corners(0, 1 << k, k, values).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        table = np.ascontiguousarray((inner @ layer.weight[:, n - k :].T.astype(dtype)).T)
    cutoff = bound.cutoff(threshold_upper(problem))
    return EnumPlan(
        problem=problem,
        values=values,
        bound=bound,
        rows=rows,
        table_bits=k,
        batch=max(1, rows >> k),
        table=table,
        w_outer=np.ascontiguousarray(layer.weight[:, : n - k], dtype=dtype),
        cutoff=cutoff,
        margin=cutoff - problem.threshold_float(),
        dtype=np.dtype(dtype).name,
        bias1=np.ascontiguousarray(layer.bias, dtype=dtype),
        rest=_rest_layers(problem, dtype),
        target=problem.target_array()[:, None],
        fold=(
            dtype is np.float32
            and bound.float32_fold
            and layer.activation == "relu"
            and len(problem.network.layers) >= 2
        ),
    )
