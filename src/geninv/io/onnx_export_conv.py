"""ONNX nodes for a network with structured (convolutional) layers (see :mod:`geninv.conv`).

Each layer's chain of pieces becomes ``Conv`` / ``ConvTranspose`` (symmetric
``pads``, ``strides``, ``dilations``, ``group``, ``output_padding``), ``Resize``
(nearest, ``asymmetric`` coordinates, ``floor``: pixel repetition), ``Pad``
(zeros), ``Mul`` (an elementwise scale) or ``Gemm`` (a dense piece, on a
``[1, n]`` row), with a ``Reshape`` wherever the next piece reads another shape;
then ``Add`` of the bias (shaped like the layer's output) and the activation.
:func:`geninv.io.onnx_conv.import_conv_onnx` reads this back into the same
pieces and floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from geninv.conv import Prim, Shape
from geninv.network import ReLUNetwork

_ACT = {
    "relu": "Relu",
    "leaky_relu": "LeakyRelu",
    "elu": "Elu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
}


def export_structured(
    network: ReLUNetwork, np_dtype: Any
) -> tuple[list[onnx.NodeProto], list[TensorProto], list[int], list[int]]:
    """The nodes and initializers of ``network``, and the input and output dimensions."""
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    counter = [0]

    def name(stem: str) -> str:
        counter[0] += 1
        return f"{stem}_{counter[0]}"

    def const(stem: str, arr: Any, dtype: Any = None) -> str:
        nm = name(stem)
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype or np_dtype), nm))
        return nm

    def node(op: str, ins: list[str], **attrs: Any) -> str:
        out = name(op.lower())
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    first = network.layers[0]
    in_shape: Shape = first.op.in_shape if first.op is not None else (first.n_in,)
    current, shape = "z", in_shape

    def reshape(target: Shape) -> None:
        nonlocal current, shape
        if target != shape:
            current = node("Reshape", [current, const("shape", [1, *target], np.int64)])
            shape = target

    for layer in network.layers:
        prims: tuple[Prim, ...]
        if layer.op is not None:
            prims = layer.op.prims
        else:
            prims = (Prim("dense", (layer.n_in,), (layer.n_out,), np.asarray(layer.weight)),)
        for p in prims:
            reshape(p.in_shape if p.kind != "dense" else (p.n_in,))
            current = _piece(p, current, const, node)
            shape = p.out_shape if p.kind != "dense" else (p.n_out,)
        bias = np.asarray(layer.bias, dtype=np.float64).reshape(1, *shape)
        current = node("Add", [current, const("bias", bias)])
        op = _ACT.get(layer.activation)
        if op is not None:
            extra = {"alpha": float(layer.negative_slope)} if op in ("LeakyRelu", "Elu") else {}
            current = node(op, [current], **extra)
    out_shape = shape
    nodes.append(helper.make_node("Identity", [current], ["x"], name="output"))
    return nodes, inits, [1, *in_shape], [1, *out_shape]


def _piece(p: Prim, current: str, const: Any, node: Any) -> str:
    if p.kind in ("conv", "convt"):
        assert p.weight is not None
        attrs: dict[str, Any] = {
            "strides": list(p.stride),
            "pads": [p.padding[0], p.padding[1], p.padding[0], p.padding[1]],
            "dilations": list(p.dilation),
            "group": p.groups,
            "kernel_shape": list(p.weight.shape[2:]),
        }
        if p.kind == "convt":
            attrs["output_padding"] = list(p.output_padding)
        op = "Conv" if p.kind == "conv" else "ConvTranspose"
        kernel = p.weight
        if p.kind == "convt" and p.groups > 1:
            kernel = _ungroup(kernel, p.groups)
            attrs["group"] = 1
        return str(node(op, [current, const("kernel", kernel)], **attrs))
    if p.kind == "upsample":
        scales = const("scales", [1.0, 1.0, float(p.factor[0]), float(p.factor[1])], np.float32)
        return str(
            node(
                "Resize",
                [current, "", scales],
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            )
        )
    if p.kind == "pad":
        top, bottom, left, right = p.pads
        pads = const("pads", [0, 0, top, left, 0, 0, bottom, right], np.int64)
        return str(node("Pad", [current, pads], mode="constant"))
    if p.kind == "scale":
        assert p.weight is not None
        return str(node("Mul", [current, const("scale", p.weight.reshape(1, *p.in_shape))]))
    assert p.weight is not None
    return str(node("Gemm", [current, const("weight", p.weight)], transB=1))


def _ungroup(kernel: Any, groups: int) -> Any:
    """A grouped transposed-convolution kernel ``(C_in, C_out/g, kh, kw)`` as the
    ungrouped ``(C_in, C_out, kh, kw)`` with zeros between groups: the same map (the zeros
    add exact zeros), written so because neither onnxruntime (no float64 ConvTranspose)
    nor ``onnx.reference`` (grouped ConvTranspose fails) can check a float64 grouped one."""
    cin, per, kh, kw = kernel.shape
    full = np.zeros((cin, per * groups, kh, kw), dtype=kernel.dtype)
    step = cin // groups
    for g in range(groups):
        full[g * step : (g + 1) * step, g * per : (g + 1) * per] = kernel[g * step : (g + 1) * step]
    return full
