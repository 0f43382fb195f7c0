"""Assemble a convolutional generator, piece by piece, into structured layers.

The ONNX reader (:mod:`geninv.io.onnx_conv`) and the PyTorch reader
(:mod:`geninv.io.torch_conv`) both walk a chain of pieces on a tensor of known
shape (``C x H x W`` or a vector) and hand each to a :class:`ConvAssembler`:

* a linear piece (:class:`~geninv.conv.Prim`) with an optional bias, e.g. a
  convolution ``h -> K * h + b``;
* an elementwise affine piece ``h -> s h + t`` (inference batch normalisation
  ``s = gamma / sqrt(var + eps)``, ``t = beta - s mean``; ``Add``/``Mul`` by constants);
* a reshape (moves no value of the row-major tensor: the identity on the
  flattened vector, only the shape changes);
* an activation, which closes a layer.

Between activations the pieces fold into one affine map (see :mod:`geninv.conv`):
the pending bias is pushed through each later linear piece (``P (A h + b) + c =
(P A) h + (P b + c)``), and a per-channel scale after a convolution (or a scale
after a dense map) is multiplied into its kernel (rows).  Each piece is also
recorded as a fidelity :class:`~geninv.io.fidelity.Step` of the *model's own*
chain, so the reader's check bounds rounding along the model's computation.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from geninv.conv import FloatArray, LinearOp, Prim, Shape
from geninv.errors import ValidationError
from geninv.io.fidelity import Step
from geninv.io.limits import check_count
from geninv.network import Layer, ReLUNetwork, parse_activation

__all__ = ["ConvAssembler", "conv_prim"]


def conv_prim(
    kind: str,
    weight: FloatArray,
    in_shape: Shape,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    output_padding: tuple[int, int] = (0, 0),
) -> Prim:
    """A ``conv``/``convt`` :class:`~geninv.conv.Prim` with its output shape worked out;
    :class:`~geninv.errors.ValidationError` for inconsistent channels or an empty output."""
    from geninv.conv import conv_out, convt_out

    if len(in_shape) != 3:
        raise ValidationError(
            f"a 2-D convolution needs a C x H x W input, got a tensor of shape {list(in_shape)}"
        )
    if weight.ndim != 4:
        raise ValidationError(f"kernel has shape {list(weight.shape)}; expected 4 dimensions")
    c, h, w = in_shape
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    if groups < 1 or c % groups:
        raise ValidationError(f"{c} input channels do not split into {groups} groups")
    if kind == "conv":
        if weight.shape[1] * groups != c or weight.shape[0] % groups:
            shape = list(weight.shape)
            raise ValidationError(
                f"kernel of shape {shape} does not read {c} channels in {groups} groups"
            )
        cout = int(weight.shape[0])
        ho = conv_out(h, kh, stride[0], padding[0], dilation[0])
        wo = conv_out(w, kw, stride[1], padding[1], dilation[1])
    else:
        if weight.shape[0] != c:
            raise ValidationError(
                f"kernel of shape {list(weight.shape)} does not read {c} channels"
            )
        cout = int(weight.shape[1]) * groups
        ho = convt_out(h, kh, stride[0], padding[0], dilation[0], output_padding[0])
        wo = convt_out(w, kw, stride[1], padding[1], dilation[1], output_padding[1])
    if min(stride + dilation) < 1 or min(padding + output_padding) < 0 or ho < 1 or wo < 1:
        raise ValidationError(
            f"stride {stride}, padding {padding}, dilation {dilation} give an empty or "
            f"undefined {ho} x {wo} output"
        )
    arr = np.array(weight, dtype=np.float64)
    arr.setflags(write=False)
    return Prim(
        kind, (c, h, w), (cout, ho, wo), arr, stride, padding, dilation, groups, output_padding
    )


def _apply(prim: Prim, vec: FloatArray) -> FloatArray:
    op = LinearOp((prim,))
    out: FloatArray = op.apply(vec[None, :])[0]
    return out


class ConvAssembler:
    """The running state of a convolutional reading (see the module docstring)."""

    def __init__(self, in_shape: Shape) -> None:
        if not in_shape or min(in_shape) < 1:
            raise ValidationError(f"input shape {list(in_shape)} is empty")
        self.shape: Shape = tuple(int(d) for d in in_shape)
        self.in_shape: Shape = self.shape
        self.prims: list[Prim] = []
        self.bias: FloatArray | None = None
        self.layers: list[Layer] = []
        self.steps: list[Step] = []

    @property
    def size(self) -> int:
        """Entries of the running tensor."""
        return math.prod(self.shape)

    # -------------------------------------------------------------- pieces
    def reshape(self, shape: Shape) -> None:
        """A reshape of the running tensor (no value moves)."""
        shape = tuple(int(d) for d in shape)
        if math.prod(shape) != self.size or min(shape, default=1) < 1:
            raise ValidationError(
                f"cannot reshape a tensor of shape {list(self.shape)} ({self.size} values) "
                f"to {list(shape)}"
            )
        self.shape = shape

    def linear(self, prim: Prim, bias: FloatArray | None = None) -> None:
        """``h -> P h (+ bias)`` (``bias`` of ``prim.n_out`` entries).  The output size is
        bounded (``GENINV_MAX_VECTOR``) before anything of that size is allocated: an
        upsampling or padding factor in a hostile file could otherwise ask for any size."""
        check_count(prim.n_out, "vector", f"{prim.label()}: its output values")
        if prim.n_in != self.size:
            raise ValidationError(
                f"{prim.label()} reads {prim.n_in} values but the tensor has shape "
                f"{list(self.shape)} ({self.size} values)"
            )
        prim = replace(prim, in_shape=self.shape) if prim.kind in ("dense", "scale") else prim
        absolute = LinearOp((prim,))
        abs_b = np.zeros(prim.n_out) if bias is None else np.abs(bias)
        self.steps.append(
            Step(abs_bias=abs_b, abs_apply=absolute.abs_apply(), fan_in=absolute.fan_in())
        )
        if self.bias is not None:
            self.bias = _apply(prim, self.bias)
        if not self._fold(prim):
            self.prims.append(prim)
        if bias is not None:
            b = np.asarray(bias, dtype=np.float64).reshape(-1)
            self.bias = b.copy() if self.bias is None else self.bias + b
        self.shape = prim.out_shape

    def elementwise(self, scale: FloatArray | None, shift: FloatArray | None) -> None:
        """``h -> scale * h + shift`` (each a vector of the tensor's size, or None)."""
        if scale is None:
            if shift is not None:
                b = np.asarray(shift, dtype=np.float64).reshape(-1)
                self.steps.append(Step(abs_weight=None, abs_bias=np.abs(b)))
                self.bias = b.copy() if self.bias is None else self.bias + b
            return
        vec = np.array(scale, dtype=np.float64).reshape(-1)
        vec.setflags(write=False)
        self.linear(Prim("scale", self.shape, self.shape, vec), shift)

    def _fold(self, prim: Prim) -> bool:
        """Multiply a scale into the last pending convolution or dense map (True if done)."""
        if prim.kind != "scale" or not self.prims:
            return False
        last = self.prims[-1]
        if last.kind == "dense":
            assert last.weight is not None and prim.weight is not None
            w = last.weight * prim.weight[:, None]
        elif last.kind in ("conv", "convt"):
            assert last.weight is not None and prim.weight is not None
            per = prim.weight.reshape(last.out_shape[0], -1)
            if not bool((per == per[:, :1]).all()):
                return False
            chan = per[:, 0]
            if last.kind == "conv":
                w = last.weight * chan[:, None, None, None]
            else:
                cin, cl = last.weight.shape[:2]
                groups = last.groups
                co = (np.arange(cin)[:, None] // (cin // groups)) * cl + np.arange(cl)[None, :]
                w = last.weight * chan[co][:, :, None, None]
        else:
            return False
        w.setflags(write=False)
        self.prims[-1] = replace(last, weight=w)
        return True

    # -------------------------------------------------------------- layers
    def activation(self, spec: str) -> bool:
        """Close a layer with ``spec``; False when there is nothing to close (an activation
        before any affine piece)."""
        if not self.prims and self.bias is None:
            if not self.layers:
                return False
            self.prims.append(_identity(self.shape))  # an activation right after another
        self._close(spec)
        self.steps.append(Step(activation=spec))
        return True

    def _close(self, spec: str) -> None:
        if not self.prims:
            self.prims.append(_identity(self.shape))
        act, slope = parse_activation(spec)
        n_out = self.prims[-1].n_out
        bias = np.zeros(n_out) if self.bias is None else np.array(self.bias, dtype=np.float64)
        if not np.all(np.isfinite(bias)):
            raise ValidationError("a folded bias is not finite (overflow); cannot read the model")
        bias.setflags(write=False)
        if len(self.prims) == 1 and self.prims[0].kind == "dense":
            w = np.array(self.prims[0].weight, dtype=np.float64)
            w.setflags(write=False)
            layer = Layer(w, bias, act, negative_slope=slope)
        else:
            for p in self.prims:
                if p.weight is not None and not np.all(np.isfinite(p.weight)):
                    raise ValidationError(f"{p.label()}: folded weights are not finite (overflow)")
            layer = Layer(None, bias, act, negative_slope=slope, op=LinearOp(tuple(self.prims)))
        self.layers.append(layer)
        self.prims = []
        self.bias = None

    def network(self) -> ReLUNetwork | None:
        """The network read (None when no affine piece was seen); a chain that ends on
        linear pieces gets an identity last layer."""
        if self.prims or self.bias is not None:
            self._close("identity")
        if not self.layers:
            return None
        return ReLUNetwork.from_layers(self.layers)


def _identity(shape: Shape) -> Prim:
    ones = np.ones(math.prod(shape))
    ones.setflags(write=False)
    return Prim("scale", shape, shape, ones)


def as_pair(value: Any, what: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair."""
    if isinstance(value, int):
        return (value, value)
    vals = tuple(int(v) for v in value)
    if len(vals) != 2:
        raise ValidationError(f"{what}: expected 2 values for a 2-D convolution, got {list(vals)}")
    return (vals[0], vals[1])
