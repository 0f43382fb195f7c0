"""Measurement operators ``A: R^q -> R^m`` for sensing with a generator prior.

An image ``x`` of shape ``(H, W)`` or ``(C, H, W)`` is a vector of ``q`` pixels
(row-major, the generator's output order).  Each operator is linear and given
three ways that agree (tests/test_operators.py checks them against independent
computations):

* ``apply(x)``: numpy, on one image ``(q,)`` or a batch ``(n, q)``;
* ``matrix()``: the ``m x q`` matrix as ``scipy.sparse`` CSR, entry by entry (the
  exact backends take its float64 entries as exact values);
* ``torch_apply(x)``: torch, on a batch, with the structured operation (index
  selection, average pooling, convolution), never the dense matrix where a
  structured one exists.

The operators:

* :class:`DenseOperator`: any matrix; :meth:`DenseOperator.gaussian` draws
  i.i.d. ``N(0, 1/m)`` entries (CSGM's scaling: ``E ||A x||^2 = ||x||^2``).
* :class:`InpaintOperator`: keeps a set of pixels (``y = x[keep]``), ``m = |keep|``.
* :class:`SuperResOperator`: the mean of each ``f x f`` block (``f`` divides H and W),
  ``m = C (H/f) (W/f)``.
* :class:`BlurOperator`: the 'same' zero-padded 2-D convolution with a kernel ``k``
  (per channel), ``y[i, j] = sum_{a,b} k[a, b] x[i + s_h - a, j + s_w - b]`` with
  ``s = (kernel side - 1) // 2``, as ``scipy.signal.convolve2d(x, k, "same")``.
* :class:`IdentityOperator`: ``y = x`` (denoising).

``to_dict()`` is a small JSON-ready description, recorded in an instance's source
parameters (``{"operator": {...}}``); :func:`operator_from_dict` reads it back,
checking every field (an instance is input).  Masks are stored as the hex of their
packed bits, kernels as lists; a dense matrix is stored by its seed (Gaussian) or,
when it came from a file, not at all: the measurement layer of the network holds it.

``trivial_estimate(y)`` is the estimate without a prior, the baseline of the
benchmarks: the masked image (missing pixels 0), the block-upsampled image, the
blurred image itself, ``A^T y`` for a dense matrix.
"""

from geninv.operators.base import (
    MAX_DENSE_ENTRIES,
    MAX_KERNEL_SIDE,
    DenseOperator,
    Operator,
    parse_image_shape,
)
from geninv.operators.imaging import (
    BlurOperator,
    IdentityOperator,
    InpaintOperator,
    SuperResOperator,
    gaussian_kernel,
)
from geninv.operators.serial import OPERATOR_KINDS, operator_from_dict, read_array_file

__all__ = [
    "MAX_DENSE_ENTRIES",
    "MAX_KERNEL_SIDE",
    "OPERATOR_KINDS",
    "BlurOperator",
    "DenseOperator",
    "IdentityOperator",
    "InpaintOperator",
    "Operator",
    "SuperResOperator",
    "gaussian_kernel",
    "operator_from_dict",
    "parse_image_shape",
    "read_array_file",
]
