"""Exact affine maps read from model files (ONNX, PyTorch).

The importers keep each affine map ``h -> W h + b`` as float64 arrays (the exact
values of the stored floats) until a scaling or a composition
``(W_2, b_2) o (W_1, b_1) = (W_2 W_1, W_2 b_1 + b_2)`` needs more: then as object
arrays of :class:`fractions.Fraction`, so nothing is rounded.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

_Arr = npt.NDArray[Any]


def exact_array(a: _Arr) -> _Arr:
    """Object array of Fractions with the exact values of ``a``."""
    if a.dtype == object:
        return a
    out = np.empty(a.shape, dtype=object)
    flat = out.reshape(-1)
    for k, v in enumerate(a.reshape(-1)):
        flat[k] = Fraction(float(v))
    return out
