"""The imaging operators: inpainting, super-resolution, blur, identity (see
:mod:`geninv.operators`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError

if TYPE_CHECKING:
    import scipy.sparse
    import torch

from geninv.operators.base import (
    MAX_KERNEL_SIDE,
    BoolArray,
    FloatArray,
    Operator,
    _batch,
    _chw,
    parse_image_shape,
)


# ====================================================================== inpainting
class InpaintOperator(Operator):
    """Keep the pixels where ``keep`` is true (``keep`` has the image's shape, or ``(H, W)``
    for a ``(C, H, W)`` image: the same pixels of every channel)."""

    kind = "inpaint"

    def __init__(
        self, shape: Sequence[int], keep: npt.ArrayLike, *, seed: int | None = None
    ) -> None:
        self.shape = parse_image_shape(list(shape))
        mask = np.asarray(keep)
        c, h, w = _chw(self.shape)
        if mask.shape == (h, w) and len(self.shape) == 3:
            mask = np.broadcast_to(mask, (c, h, w))
        if mask.size != self.q or mask.shape not in {self.shape, (self.q,), (1, self.q)}:
            raise ValidationError(
                f"the inpainting mask has shape {mask.shape}; expected {self.shape} "
                f"(or {self.q} values) for the image"
            )
        if mask.dtype.kind not in "biuf" or not np.all(np.isin(mask, (0, 1))):
            raise ValidationError("the inpainting mask must hold only 0 (missing) and 1 (kept)")
        self.keep: BoolArray = np.asarray(mask, dtype=bool).reshape(-1).copy()
        self.index = np.flatnonzero(self.keep)
        if self.index.size == 0:
            raise ValidationError("the inpainting mask keeps no pixel: nothing is measured")
        self.seed = seed

    @classmethod
    def random(
        cls, shape: Sequence[int], missing: float, seed: int, stream: int | None = None
    ) -> InpaintOperator:
        """Exactly ``round(missing q)`` pixels missing, chosen uniformly by
        ``numpy.random.default_rng(seed)`` (with ``stream = i``: child ``i`` of
        ``numpy.random.SeedSequence(seed)``)."""
        shp = parse_image_shape(list(shape))
        if isinstance(missing, bool) or not (
            isinstance(missing, (int, float)) and 0 <= missing < 1
        ):
            raise ValidationError(f"--missing must be a fraction in [0, 1), got {missing!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValidationError(f"the seed must be an integer >= 0, got {seed!r}")
        q = math.prod(shp)
        gone = round(missing * q)
        if gone >= q:
            raise ValidationError(f"--missing {missing} removes all {q} pixels")
        entropy: Any = seed if stream is None else np.random.SeedSequence(seed, spawn_key=(stream,))
        keep = np.ones(q, dtype=bool)
        keep[np.random.default_rng(entropy).permutation(q)[:gone]] = False
        return cls(shp, keep.reshape(shp), seed=int(seed))

    @property
    def m(self) -> int:
        return int(self.index.size)

    @property
    def missing(self) -> float:
        """The fraction of pixels missing."""
        return 1.0 - self.m / self.q

    def _apply(self, x: FloatArray) -> FloatArray:
        out: FloatArray = x[:, self.index]
        return out

    def matrix(self) -> scipy.sparse.csr_matrix:
        import scipy.sparse

        m = self.m
        return scipy.sparse.csr_matrix(
            (np.ones(m), (np.arange(m), self.index)), shape=(m, self.q), dtype=np.float64
        )

    def torch_apply(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        return x[:, torch.as_tensor(self.index, device=x.device)]

    def to_dict(self) -> dict[str, Any]:
        d = self._base()
        d.update(keep=np.packbits(self.keep).tobytes().hex(), seed=self.seed)
        return d

    def describe(self) -> str:
        return f"inpaint: {self.q - self.m} of {self.q} pixels missing ({self.missing:.0%})"


# ====================================================================== super-resolution
class SuperResOperator(Operator):
    """The mean of each ``factor x factor`` block of each channel."""

    kind = "superres"

    def __init__(self, shape: Sequence[int], factor: int) -> None:
        self.shape = parse_image_shape(list(shape))
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValidationError(f"--factor must be a positive integer, got {factor!r}")
        _, h, w = _chw(self.shape)
        if h % factor or w % factor:
            raise ValidationError(
                f"--factor {factor} does not divide the image size {h} x {w} "
                "(give a factor dividing both, or --image-shape)"
            )
        self.factor = int(factor)

    @property
    def m(self) -> int:
        c, h, w = _chw(self.shape)
        return c * (h // self.factor) * (w // self.factor)

    def _apply(self, x: FloatArray) -> FloatArray:
        c, h, w = _chw(self.shape)
        f = self.factor
        blocks = x.reshape(x.shape[0], c, h // f, f, w // f, f)
        out: FloatArray = blocks.mean(axis=(3, 5)).reshape(x.shape[0], -1)
        return out

    def matrix(self) -> scipy.sparse.csr_matrix:
        import scipy.sparse

        c, h, w = _chw(self.shape)
        f = self.factor
        ch, ii, jj = np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
        cols = (ch * h * w + ii * w + jj).reshape(-1)
        rows = (ch * (h // f) * (w // f) + (ii // f) * (w // f) + jj // f).reshape(-1)
        vals = np.full(cols.size, 1.0 / (f * f))
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(self.m, self.q))

    def torch_apply(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        c, h, w = _chw(self.shape)
        out = F.avg_pool2d(x.reshape(-1, c, h, w), self.factor)
        return out.reshape(x.shape[0], -1)

    def trivial_estimate(self, y: npt.ArrayLike) -> FloatArray:
        """Each block takes its mean (nearest-neighbour upsampling)."""
        ys, single = _batch(y, self.m)
        c, h, w = _chw(self.shape)
        f = self.factor
        low = ys.reshape(-1, c, h // f, w // f)
        up = np.repeat(np.repeat(low, f, axis=2), f, axis=3).reshape(ys.shape[0], -1)
        return up[0] if single else up

    def to_dict(self) -> dict[str, Any]:
        d = self._base()
        d.update(factor=self.factor)
        return d

    def describe(self) -> str:
        return f"superres: {self.factor}x{self.factor} block means ({self.m} of {self.q})"


# ====================================================================== blur
def gaussian_kernel(sigma: float) -> FloatArray:
    """The normalised Gaussian kernel of side ``2 ceil(3 sigma) + 1``."""
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValidationError(
            f"the Gaussian kernel's sigma must be a positive number, got {sigma!r}"
        )
    r = math.ceil(3 * sigma)
    if 2 * r + 1 > MAX_KERNEL_SIDE:
        raise ValidationError(f"sigma {sigma} gives a kernel wider than {MAX_KERNEL_SIDE} pixels")
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(t * t) / (2 * sigma * sigma))
    k = np.outer(g, g)
    out: FloatArray = k / k.sum()
    return out


class BlurOperator(Operator):
    """'same' zero-padded 2-D convolution of each channel with ``kernel``
    (``scipy.signal.convolve2d(channel, kernel, "same")``)."""

    kind = "blur"

    def __init__(
        self, shape: Sequence[int], kernel: npt.ArrayLike, *, label: str | None = None
    ) -> None:
        self.shape = parse_image_shape(list(shape))
        k = np.asarray(kernel, dtype=np.float64)
        if k.ndim != 2 or 0 in k.shape:
            raise ValidationError(
                f"the blur kernel must be a non-empty 2-D array, got shape {k.shape}"
            )
        if max(k.shape) > MAX_KERNEL_SIDE:
            raise ValidationError(
                f"the blur kernel {k.shape[0]} x {k.shape[1]} is wider than "
                f"{MAX_KERNEL_SIDE} pixels"
            )
        if not np.all(np.isfinite(k)) or not np.any(k):
            raise ValidationError("the blur kernel must be finite and not all zero")
        self.kernel: FloatArray = k.copy()
        self.label = label

    @property
    def m(self) -> int:
        return self.q

    def _offsets(self) -> list[tuple[int, int, float]]:
        """``(di, dj, k[a, b])``: ``y[i, j] += k[a, b] x[i + di, j + dj]``."""
        kh, kw = self.kernel.shape
        sh, sw = (kh - 1) // 2, (kw - 1) // 2
        return [
            (sh - a, sw - b, float(self.kernel[a, b]))
            for a in range(kh)
            for b in range(kw)
            if self.kernel[a, b] != 0
        ]

    def _apply(self, x: FloatArray) -> FloatArray:
        c, h, w = _chw(self.shape)
        img = x.reshape(-1, c, h, w)
        out = np.zeros_like(img)
        for di, dj, v in self._offsets():
            # rows i with 0 <= i + di < h, columns j with 0 <= j + dj < w
            i0, i1 = max(0, -di), min(h, h - di)
            j0, j1 = max(0, -dj), min(w, w - dj)
            if i0 < i1 and j0 < j1:
                out[:, :, i0:i1, j0:j1] += v * img[:, :, i0 + di : i1 + di, j0 + dj : j1 + dj]
        return out.reshape(x.shape[0], -1)

    def matrix(self) -> scipy.sparse.csr_matrix:
        import scipy.sparse

        c, h, w = _chw(self.shape)
        ch, ii, jj = (
            a.reshape(-1)
            for a in np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij")
        )
        rows, cols, vals = [], [], []
        for di, dj, v in self._offsets():
            si, sj = ii + di, jj + dj
            ok = (si >= 0) & (si < h) & (sj >= 0) & (sj < w)
            rows.append(ch[ok] * h * w + ii[ok] * w + jj[ok])
            cols.append(ch[ok] * h * w + si[ok] * w + sj[ok])
            vals.append(np.full(int(ok.sum()), v))
        return scipy.sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.m, self.q),
        )

    def torch_apply(self, x: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        c, h, w = _chw(self.shape)
        kh, kw = self.kernel.shape
        sh, sw = (kh - 1) // 2, (kw - 1) // 2
        weight = torch.as_tensor(self.kernel[::-1, ::-1].copy(), dtype=x.dtype, device=x.device)
        img = F.pad(x.reshape(-1, c, h, w), (kw - 1 - sw, sw, kh - 1 - sh, sh))
        weight = weight.expand(c, 1, kh, kw)
        return F.conv2d(img, weight, groups=c).reshape(x.shape[0], -1)

    def trivial_estimate(self, y: npt.ArrayLike) -> FloatArray:
        """The blurred image itself."""
        ys, single = _batch(y, self.m)
        return ys[0] if single else ys.copy()

    def to_dict(self) -> dict[str, Any]:
        d = self._base()
        d.update(kernel=self.kernel.tolist(), label=self.label)
        return d

    def describe(self) -> str:
        kh, kw = self.kernel.shape
        return (
            f"blur: {self.label or f'a {kh} x {kw} kernel'}, 'same' zero-padded ({self.q} pixels)"
        )


# ====================================================================== identity
class IdentityOperator(Operator):
    """``y = x`` (denoising)."""

    kind = "identity"

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape = parse_image_shape(list(shape))

    @property
    def m(self) -> int:
        return self.q

    def _apply(self, x: FloatArray) -> FloatArray:
        return x.copy()

    def matrix(self) -> scipy.sparse.csr_matrix:
        import scipy.sparse

        return scipy.sparse.identity(self.q, dtype=np.float64, format="csr")

    def torch_apply(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def to_dict(self) -> dict[str, Any]:
        return self._base()

    def describe(self) -> str:
        return f"identity ({self.q} pixels: denoising)"
