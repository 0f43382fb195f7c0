"""Convolutional layers as the structured (sparse) affine maps they are (issue 17, item 1).

A convolutional generator (DCGAN: ``ConvTranspose2d -> BatchNorm2d -> ReLU``, ...)
is still the network of the paper's eq. (3), ``h_l = act_l(W_l h_{l-1} + b_l)``,
on the flattened (row-major, ``C x H x W``) activations: every convolution,
transposed convolution, nearest upsampling, zero padding, reshape and
inference-mode batch normalisation is linear (affine with its bias).  What
changes is the size: the pretrained MNIST DCGAN has hidden widths 2304, 4608,
10816 and 784, and its ``W_2`` alone would be a 4608 x 2304 dense matrix.

So a layer's linear map may be a :class:`LinearOp`: a chain of primitive maps
(:class:`Prim`: ``conv``, ``convt``, ``upsample``, ``pad``, ``scale`` (an
elementwise diagonal), ``dense``), each holding only its kernel and geometry.

* float evaluation runs the chain as torch ops in float64 (``conv2d``,
  ``conv_transpose2d``, ``repeat_interleave``, ``pad``): no dense expansion;
* :meth:`LinearOp.csr` is the map as a ``scipy.sparse`` CSR matrix, built on
  first use and kept: the product of the primitives' matrices.  A convolution's
  matrix has the kernel entries themselves as its nonzeros (each (output, input)
  pair meets at most one kernel tap), so nothing is rounded there;
* exact evaluation (:func:`exact_affine`) takes every float as the dyadic
  rational it is and sums in Python integers over the CSR rows: exact;
* :meth:`LinearOp.dense` (what ``Layer.weight`` returns for such a layer) is
  built only up to :func:`dense_limit` entries (``GENINV_MAX_DENSE``, default
  4,000,000: 32 MB of float64); beyond it :class:`DenseTooLargeError` names the
  map, its size and what to do.  Code paths that need dense weights (the exact
  backends' encodings, ONNX export) therefore run on small convolutional
  networks and refuse large ones with the reason and the size.

Folding.  Readers fold consecutive linear pieces into one layer (no activation
between them): a per-channel scale that follows a convolution (BatchNorm's
``gamma / sqrt(var + eps)``) is multiplied into the kernel, a scale after a dense
map into its rows; other pieces are kept as a chain.  These products, BatchNorm's
square root and a chain's CSR product (upsampling followed by a convolution sums
kernel entries) are computed in float64: the network geninv reads, and answers
about exactly, is the folded one, with each stored float taken exactly.  The
reader's fidelity check (:mod:`geninv.io.fidelity`) bounds its distance to the
original model on random inputs.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from geninv.errors import UnsupportedError, ValidationError

if TYPE_CHECKING:
    import torch

FloatArray = npt.NDArray[np.float64]
Shape = tuple[int, ...]

#: environment variable bounding the entries of a dense matrix built from a structured map
DENSE_ENV = "GENINV_MAX_DENSE"
DENSE_DEFAULT = 4_000_000
#: most nonzeros of a structured map turned into exact Fraction rows
ROWS_DEFAULT = 2_000_000
PRIM_KINDS = ("conv", "convt", "upsample", "pad", "scale", "dense")


class DenseTooLargeError(UnsupportedError):
    """A structured (convolutional) map is too large to expand into what a code path needs."""


def dense_limit() -> int:
    """Most entries of a dense matrix built from a structured map (``GENINV_MAX_DENSE``)."""
    raw = os.environ.get(DENSE_ENV, "").strip().replace("_", "")
    if not raw:
        return DENSE_DEFAULT
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError(
            f"environment variable {DENSE_ENV}={raw!r} is not a positive integer "
            f"(unset it for the default {DENSE_DEFAULT:,})"
        )
    return int(raw)


def conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    """Output length of a convolution: ``floor((size + 2p - d(k-1) - 1) / s) + 1``."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def convt_out(size: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """Output length of a transposed convolution: ``(size-1)s - 2p + d(k-1) + op + 1``."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


@dataclass(frozen=True, eq=False)
class Prim:
    """One linear piece on a tensor of ``in_shape`` (no batch axis), giving ``out_shape``.

    ``conv``: ``weight`` of shape ``(C_out, C_in/groups, kh, kw)``, symmetric zero
    ``padding``; ``convt``: ``(C_in, C_out/groups, kh, kw)`` with ``output_padding``
    (PyTorch's ``conv_transpose2d``); ``upsample``: nearest, integer ``factor``;
    ``pad``: zeros, ``pads = (top, bottom, left, right)``; ``scale``: ``weight`` a
    vector of ``prod(in_shape)`` multipliers (a diagonal); ``dense``: ``weight`` a
    matrix ``(n_out, n_in)`` on the flattened tensor.
    """

    kind: str
    in_shape: Shape
    out_shape: Shape
    weight: FloatArray | None = field(default=None, repr=False)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    output_padding: tuple[int, int] = (0, 0)
    factor: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def n_in(self) -> int:
        """Entries of the input tensor."""
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        """Entries of the output tensor."""
        return math.prod(self.out_shape)

    def label(self) -> str:
        """A short description, e.g. ``convt 256->128 k4x4 s1 on 256x3x3``."""
        shape = "x".join(map(str, self.in_shape))
        if self.kind in ("conv", "convt"):
            assert self.weight is not None
            cin, cout = self.in_shape[0], self.out_shape[0]
            kh, kw = self.weight.shape[2:]
            extra = f" g{self.groups}" if self.groups != 1 else ""
            return f"{self.kind} {cin}->{cout} k{kh}x{kw} s{self.stride[0]}{extra} on {shape}"
        if self.kind == "upsample":
            return f"upsample x{self.factor[0]} on {shape}"
        if self.kind == "pad":
            return f"pad {self.pads} on {shape}"
        return f"{self.kind} {self.n_in}->{self.n_out}"

    # -------------------------------------------------------------- float
    def apply(self, x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        """The piece on a batch ``x`` of shape ``(N, *in_shape)``; ``w`` is ``weight`` as a
        tensor of ``x``'s dtype and device."""
        import torch.nn.functional as fn

        if self.kind == "conv":
            assert w is not None
            return fn.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)
        if self.kind == "convt":
            assert w is not None
            return fn.conv_transpose2d(
                x,
                w,
                None,
                self.stride,
                self.padding,
                self.output_padding,
                self.groups,
                self.dilation,
            )
        if self.kind == "upsample":
            fh, fw = self.factor
            return x.repeat_interleave(fh, dim=-2).repeat_interleave(fw, dim=-1)
        if self.kind == "pad":
            top, bottom, left, right = self.pads
            return fn.pad(x, (left, right, top, bottom))
        flat = x.reshape(x.shape[0], -1)
        assert w is not None
        out = flat * w if self.kind == "scale" else flat @ w.T
        return out.reshape(x.shape[0], *self.out_shape)

    # -------------------------------------------------------------- sparse
    def csr(self) -> sp.csr_matrix:
        """The piece as an ``(n_out, n_in)`` CSR matrix (a convolution's nonzeros are its
        kernel entries, exactly)."""
        if self.kind == "dense":
            assert self.weight is not None
            return sp.csr_matrix(self.weight)
        if self.kind == "scale":
            assert self.weight is not None
            return sp.diags(self.weight, format="csr")
        if self.kind in ("upsample", "pad"):
            c, h, w = self.in_shape
            _, ho, wo = self.out_shape
            if self.kind == "upsample":
                cc, oy, ox = np.indices((c, ho, wo)).reshape(3, -1)
                rows = (cc * ho + oy) * wo + ox
                cols = (cc * h + oy // self.factor[0]) * w + ox // self.factor[1]
            else:
                cc, iy, ix = np.indices((c, h, w)).reshape(3, -1)
                cols = (cc * h + iy) * w + ix
                rows = (cc * ho + iy + self.pads[0]) * wo + ix + self.pads[2]
            data = np.ones(len(rows))
            return sp.csr_matrix((data, (rows, cols)), shape=(self.n_out, self.n_in))
        return self._conv_csr()

    def _conv_csr(self) -> sp.csr_matrix:
        assert self.weight is not None
        wt = self.weight
        cin, h, w = self.in_shape
        cout, ho, wo = self.out_shape
        g = self.groups
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        if self.kind == "conv":
            # out[co, oy, ox] += w[co, cl, ky, kx] in[ci, oy*s - p + ky*d, ...]
            co, cl, ky, kx = np.indices(wt.shape).reshape(4, -1)
            vals = wt.reshape(-1)
            ci = (co // (cout // g)) * (cin // g) + cl
            oy, ox = np.indices((ho, wo)).reshape(2, -1)
            iy = oy[None, :] * sh - ph + ky[:, None] * dh
            ix = ox[None, :] * sw - pw + kx[:, None] * dw
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            rows = (co[:, None] * ho + oy[None, :]) * wo + ox[None, :]
            cols = (ci[:, None] * h + iy) * w + ix
        else:
            # out[co, iy*s - p + ky*d, ...] += w[ci, cl, ky, kx] in[ci, iy, ix]
            ci, cl, ky, kx = np.indices(wt.shape).reshape(4, -1)
            vals = wt.reshape(-1)
            co = (ci // (cin // g)) * (cout // g) + cl
            iy, ix = np.indices((h, w)).reshape(2, -1)
            oy = iy[None, :] * sh - ph + ky[:, None] * dh
            ox = ix[None, :] * sw - pw + kx[:, None] * dw
            ok = (oy >= 0) & (oy < ho) & (ox >= 0) & (ox < wo)
            rows = (co[:, None] * ho + oy) * wo + ox
            cols = (ci[:, None] * h + iy[None, :]) * w + ix[None, :]
        data = np.broadcast_to(vals[:, None], ok.shape)[ok]
        keep = data != 0
        mat = sp.csr_matrix(
            (data[keep], (rows[ok][keep], cols[ok][keep])), shape=(self.n_out, self.n_in)
        )
        mat.sort_indices()
        return mat


@dataclass(frozen=True, eq=False)
class LinearOp:
    """A chain of :class:`Prim` pieces, first applied first: one layer's linear map ``W``."""

    prims: tuple[Prim, ...]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.prims:
            raise ValidationError("a structured linear map needs at least one piece")
        for a, b in itertools.pairwise(self.prims):
            if a.n_out != b.n_in:
                raise ValidationError(
                    f"{a.label()} gives {a.n_out} values; {b.label()} reads {b.n_in}"
                )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the caches (a torch closure does not pickle; the CSR rebuilds)."""
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    @property
    def n_in(self) -> int:
        """Inputs (flattened)."""
        return self.prims[0].n_in

    @property
    def n_out(self) -> int:
        """Outputs (flattened)."""
        return self.prims[-1].n_out

    @property
    def in_shape(self) -> Shape:
        """Shape of the input tensor (no batch axis)."""
        return self.prims[0].in_shape

    @property
    def out_shape(self) -> Shape:
        """Shape of the output tensor (no batch axis)."""
        return self.prims[-1].out_shape

    def label(self) -> str:
        """The pieces, e.g. ``convt 64->256 k3x3 s2 on 64x1x1``."""
        return " then ".join(p.label() for p in self.prims)

    def describe_size(self) -> str:
        """``N -> M (N*M entries dense)``."""
        return f"{self.n_in} -> {self.n_out} ({self.n_in * self.n_out:,} entries as a dense matrix)"

    # -------------------------------------------------------------- float
    def torch_fn(self, device: Any, dtype: Any) -> Callable[[torch.Tensor], torch.Tensor]:
        """``h -> W h`` on a batch ``h`` of shape ``(R, n_in)`` in ``dtype`` on ``device``."""
        import torch

        ws = [
            None if p.weight is None else torch.tensor(p.weight, dtype=dtype, device=device)
            for p in self.prims
        ]

        def run(h: torch.Tensor) -> torch.Tensor:
            x = h.reshape(h.shape[0], *self.in_shape)
            for p, w in zip(self.prims, ws, strict=True):
                x = p.apply(x, w)
            return x.reshape(h.shape[0], -1)

        return run

    def apply(self, h: FloatArray) -> FloatArray:
        """``h W^T`` for a float64 batch ``h`` of shape ``(N, n_in)`` (torch ops, float64)."""
        import torch

        fn = self._cache.get("float64")
        if fn is None:
            fn = self.torch_fn(torch.device("cpu"), torch.float64)
            self._cache["float64"] = fn
        with torch.no_grad():
            out = fn(torch.from_numpy(np.ascontiguousarray(h, dtype=np.float64)))
        return np.asarray(out.numpy(), dtype=np.float64)

    # -------------------------------------------------------------- sparse
    def csr(self) -> sp.csr_matrix:
        """``W`` as a CSR matrix (built once: the product of the pieces' matrices)."""
        mat: sp.csr_matrix | None = self._cache.get("csr")
        if mat is None:
            mat = self.prims[0].csr()
            for p in self.prims[1:]:
                mat = sp.csr_matrix(p.csr() @ mat)
            mat.eliminate_zeros()
            mat.sort_indices()
            self._cache["csr"] = mat
        return mat

    def abs_apply(self) -> Callable[[FloatArray], FloatArray]:
        """``M -> |W| M`` for ``M`` of shape ``(n_in, k)`` (torch ops on the pieces' ``|w|``)."""
        absolute = LinearOp(
            tuple(p if p.weight is None else _with_weight(p, np.abs(p.weight)) for p in self.prims)
        )
        return lambda m: absolute.apply(np.asarray(m, dtype=np.float64).T).T

    def fan_in(self) -> int:
        """An upper bound on the nonzeros of a row of ``W`` (for rounding-error bounds)."""
        k = 1
        for p in self.prims:
            if p.kind in ("conv", "convt"):
                assert p.weight is not None
                kh, kw = p.weight.shape[2:]
                per = p.weight.shape[1] if p.kind == "conv" else p.weight.shape[0] // p.groups
                k *= int(per * kh * kw)
            elif p.kind == "dense":
                k *= p.n_in
        return max(k, 1)

    def dense(self) -> FloatArray:
        """``W`` as a dense float64 array, when it has at most :func:`dense_limit` entries."""
        entries = self.n_in * self.n_out
        if entries > dense_limit():
            raise DenseTooLargeError(
                f"this needs the dense weight matrix of a structured (convolutional) layer, "
                f"{self.label()}: {self.describe_size()}, {entries * 8 / 2**20:,.0f} MB of "
                f"float64, above geninv's limit of {dense_limit():,} entries ({DENSE_ENV}); "
                "use an approximate backend (adam, pgd, admm, langevin), which runs "
                f"convolutions as torch ops, or raise {DENSE_ENV}"
            )
        arr = np.asarray(self.csr().toarray(), dtype=np.float64)
        arr.setflags(write=False)
        return arr

    def exact_rows(self) -> list[tuple[tuple[int, ...], tuple[Fraction, ...]]]:
        """Each row's nonzeros as exact rationals (refused above 2,000,000 nonzeros)."""
        from geninv.rationals import float_fractions

        mat = self.csr()
        if mat.nnz > max(ROWS_DEFAULT, dense_limit() // 2):
            raise DenseTooLargeError(
                f"this needs the exact rows of a structured (convolutional) layer, "
                f"{self.label()}: {mat.nnz:,} nonzeros, above geninv's limit of "
                f"{max(ROWS_DEFAULT, dense_limit() // 2):,} for Fraction rows; use an "
                f"approximate backend, or raise {DENSE_ENV}"
            )
        vals = float_fractions(np.asarray(mat.data, dtype=np.float64))
        cols = mat.indices.tolist()
        ptr = mat.indptr.tolist()
        return [(tuple(cols[a:b]), tuple(vals[a:b])) for a, b in itertools.pairwise(ptr)]


def _with_weight(p: Prim, w: FloatArray) -> Prim:
    from dataclasses import replace

    return replace(p, weight=w)


def _dyadic_parts(values: FloatArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """int64 mantissas ``M``, shifts ``s >= 0`` and ``e`` with ``values == M 2^s 2^e`` exactly."""
    mant, expo = np.frexp(values)
    ints = (mant * 2.0**53).astype(np.int64)
    expo = expo.astype(np.int64) - 53
    nz = ints != 0
    low = int(expo[nz].min()) if nz.any() else 0
    return ints, np.where(nz, expo - low, 0), low


def exact_affine(op: LinearOp, bias: Sequence[Fraction], h: Sequence[Fraction]) -> list[Fraction]:
    """``W h + b`` exactly, for rationals ``h`` (Python-integer sums over the CSR rows).

    Each weight is ``M_ij 2^e`` with integer ``M_ij`` (one common ``e``); with ``D``
    the least common denominator of ``h`` (a power of two for dyadic inputs),
    ``(W h)_i = (sum_j M_ij (D h_j)) 2^e / D``.  Rows are summed in blocks so the
    integer products never all live at once.
    """
    mat = op.csr()
    den = 1
    for v in h:
        den = math.lcm(den, v.denominator)
    hint = np.array([v.numerator * (den // v.denominator) for v in h], dtype=object)
    mant, shift, low = _dyadic_parts(np.asarray(mat.data, dtype=np.float64))
    indptr = mat.indptr
    out: list[Fraction] = []
    scale_num, scale_den = (2**low, den) if low >= 0 else (1, den * 2 ** (-low))
    block = 250_000
    row = 0
    n_rows = mat.shape[0]
    while row < n_rows:
        end = int(np.searchsorted(indptr, indptr[row] + block, side="right")) - 1
        end = min(max(end, row + 1), n_rows)
        a, b = int(indptr[row]), int(indptr[end])
        ints = mant[a:b].astype(object) << shift[a:b].astype(object)  # Python ints, exact
        prod = ints * hint[mat.indices[a:b]]
        starts = indptr[row:end] - a
        sums = np.zeros(end - row, dtype=object)
        nonempty = indptr[row + 1 : end + 1] > indptr[row:end]
        if b > a:
            sums[nonempty] = np.add.reduceat(prod, starts[nonempty])
        for i, s in enumerate(sums.tolist()):
            out.append(Fraction(int(s) * scale_num, scale_den) + bias[row + i])
        row = end
    return out
