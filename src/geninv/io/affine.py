"""Exact affine maps read from model files (ONNX, PyTorch).

The importers keep each affine map ``h -> W h + b`` as float64 arrays (the exact
values of the stored floats) until a scaling or a composition
``(W_2, b_2) o (W_1, b_1) = (W_2 W_1, W_2 b_1 + b_2)`` needs more: then as object
arrays of :class:`fractions.Fraction`, so nothing is rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.io.fidelity import Step, affine_step
from geninv.network import ReLUNetwork

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


@dataclass
class _Pending:
    """An affine map ``h -> W h + b`` not yet closed by an activation."""

    weight: _Arr  # (out, in)
    bias: _Arr  # (out,)


def _compose(first: _Pending, weight: _Arr, bias: _Arr) -> _Pending:
    """``(weight, bias) o first`` exactly: ``h -> weight (W h + b) + bias``."""
    w2 = exact_array(weight)
    composed_w: _Arr = w2 @ exact_array(first.weight)
    composed_b: _Arr = w2 @ exact_array(first.bias) + exact_array(bias)
    return _Pending(composed_w, composed_b)


class Assembler:
    """Collects linear maps and activations into the layers of a :class:`ReLUNetwork`."""

    def __init__(self) -> None:
        self.weights: list[_Arr] = []
        self.biases: list[_Arr] = []
        self.activations: list[str] = []
        self.pending: _Pending | None = None
        self.width: int | None = None  # output width of the last map seen
        self.steps: list[Step] = []  # the model's own chain, for the fidelity bound

    def linear(self, weight: _Arr, bias: _Arr) -> None:
        """Add ``h -> weight h + bias``; the caller has checked the shapes."""
        self.steps.append(affine_step(weight, bias))
        if self.pending is None:
            self.pending = _Pending(weight, bias)
        else:
            self.pending = _compose(self.pending, weight, bias)
        self.width = int(weight.shape[0])

    def activation(self, spec: str) -> bool:
        """Close the pending layer with ``spec``; False if no map precedes it."""
        if spec == "identity":
            return True
        if self.pending is None:
            if self.width is None:
                return False
            eye = np.eye(self.width, dtype=np.float64)
            self.pending = _Pending(eye, np.zeros(self.width, dtype=np.float64))
        self.weights.append(self.pending.weight)
        self.biases.append(self.pending.bias)
        self.activations.append(spec)
        self.steps.append(Step(activation=spec))
        self.pending = None
        return True

    def network(self) -> ReLUNetwork | None:
        """The network, or None when there was no linear map at all."""
        if self.pending is not None:
            self.weights.append(self.pending.weight)
            self.biases.append(self.pending.bias)
            self.activations.append("identity")
            self.pending = None
        if not self.weights:
            return None
        return ReLUNetwork(self.weights, self.biases, activations=self.activations)
