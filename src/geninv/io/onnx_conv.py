"""Read convolutional ONNX generators (a chain of nodes on a ``N x C x H x W`` tensor).

:func:`geninv.io.onnx_io.import_onnx` hands a model here when it has a node of
:data:`CONV_OPS` or an input of rank above 2.  The chain is walked with the
running tensor's shape known (the batch axis is 1 or symbolic; the latent is
the flattened rest, e.g. 64 values for a DCGAN's ``z`` of shape ``[1, 64, 1, 1]``):

* ``Conv``, ``ConvTranspose`` (2-D; ``strides``, ``pads``, ``dilations``,
  ``group``, ``output_padding``; ``auto_pad`` NOTSET or VALID; asymmetric ``Conv``
  pads become a zero padding then the convolution);
* ``BatchNormalization`` (inference, ``training_mode = 0``): ``y = s x + t`` with
  ``s = scale / sqrt(var + epsilon)``, ``t = B - s mean``, folded into the map before it;
* ``Upsample`` / ``Resize`` with ``mode = nearest`` and integer factors on H and W
  (``Resize``: ``asymmetric`` coordinates with ``floor``, or ``half_pixel`` /
  ``pytorch_half_pixel`` with round-to-nearest, which repeat each pixel);
* ``Pad`` (``constant`` mode, value 0, non-negative pads on H and W);
* ``Reshape``, ``Flatten(axis=1)``, ``Unsqueeze``/``Squeeze`` (not on the batch
  axis), ``Identity``: no value moves;
* ``Gemm``/``MatMul`` on a vector, and ``Add``/``Sub``/``Mul``/``Div`` by
  constants broadcast to the tensor;
* ``Relu``, ``LeakyRelu``, ``Elu``, ``Sigmoid``, ``Tanh``, each closing a layer.

Pieces fold into structured layers as :mod:`geninv.io.conv_build` describes
(in float64: see :mod:`geninv.conv`), and the result is compared with
onnxruntime on seeded random latents.  Anything else is refused in one line
naming the file and the node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from geninv.conv import Prim, Shape
from geninv.errors import UnsupportedError, ValidationError
from geninv.io.conv_build import ConvAssembler, conv_prim
from geninv.io.fidelity import UNIT_ROUNDOFF, check_onnx_model
from geninv.io.onnx_nodes import FLOAT_TYPES, Reader, activation_of, affine_of, chain_slot
from geninv.network import ReLUNetwork

__all__ = ["CONV_OPS", "import_conv_onnx"]

#: ops that send a model to this reader
CONV_OPS = ("Conv", "ConvTranspose", "BatchNormalization", "Upsample", "Resize", "Pad")
#: the other ops it reads
OTHER_OPS = (
    "Reshape",
    "Flatten",
    "Unsqueeze",
    "Squeeze",
    "Identity",
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "LeakyRelu",
    "Elu",
    "Sigmoid",
    "Tanh",
    "Constant",
)
_ACTS = ("Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh")


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _ints(reader: Reader, name: str) -> list[int]:
    """A constant integer (or integral float) tensor as a list of ints."""
    arr = numpy_helper.to_array(reader.consts[name]).reshape(-1)
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValidationError(f"tensor '{name}' = {arr.tolist()}; expected integers")
    return [int(v) for v in arr.tolist()]


def _input_shape(reader: Reader, vi: onnx.ValueInfoProto) -> Shape:
    ttype = vi.type.tensor_type
    dims = list(ttype.shape.dim) if ttype.HasField("shape") else []
    shape = [int(d.dim_value) if d.HasField("dim_value") else 0 for d in dims]
    if len(shape) < 2 or min(shape[1:]) < 1 or shape[0] not in (0, 1):
        raise UnsupportedError(
            f"{reader.path}: graph input '{vi.name}' has shape {shape or 'undeclared'}; a "
            "convolutional model needs a declared input shape [N or 1, C, H, W] (or [N, n])"
        )
    return tuple(shape[1:])


def _conv(reader: Reader, asm: ConvAssembler, index: int, node: onnx.NodeProto) -> None:
    at = _attrs(node)
    op = node.op_type
    known = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}
    if op == "ConvTranspose":
        known |= {"output_padding", "output_shape"}
    if set(at) - known:
        raise ValidationError(f"unknown {op} attribute(s) {sorted(set(at) - known)}")
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto not in ("NOTSET", "VALID"):
        raise ValidationError(f"auto_pad={auto}; give explicit pads (NOTSET) or VALID")
    if "output_shape" in at:
        raise ValidationError("output_shape is not read; give pads and output_padding")
    ins = list(node.input)
    w = reader.array(ins[1], index, node)
    if w.ndim != 4:
        raise ValidationError(f"kernel '{ins[1]}' has shape {list(w.shape)}; only 2-D convolutions")
    if "kernel_shape" in at and list(at["kernel_shape"]) != list(w.shape[2:]):
        raise ValidationError(f"kernel_shape {at['kernel_shape']} != kernel {list(w.shape[2:])}")
    pads = [int(v) for v in at.get("pads", [0, 0, 0, 0])] if auto == "NOTSET" else [0, 0, 0, 0]
    strides = tuple(int(v) for v in at.get("strides", [1, 1]))
    dil = tuple(int(v) for v in at.get("dilations", [1, 1]))
    if len(pads) != 4 or len(strides) != 2 or len(dil) != 2:
        raise ValidationError("pads, strides and dilations must be for 2 spatial axes")
    top, left, bottom, right = pads
    if op == "Conv" and (top != bottom or left != right):
        c, h, wd = asm.shape
        asm.linear(
            Prim(
                "pad",
                asm.shape,
                (c, h + top + bottom, wd + left + right),
                pads=(top, bottom, left, right),
            )
        )
        top = left = 0
    elif top != bottom or left != right:
        raise ValidationError(f"asymmetric ConvTranspose pads {pads} are not read")
    out_pad = tuple(int(v) for v in at.get("output_padding", [0, 0]))
    prim = conv_prim(
        "conv" if op == "Conv" else "convt",
        w,
        asm.shape,
        (strides[0], strides[1]),
        (top, left),
        (dil[0], dil[1]),
        int(at.get("group", 1)),
        (out_pad[0], out_pad[1]),
    )
    bias = None
    if len(ins) > 2 and ins[2]:
        b = reader.array(ins[2], index, node).reshape(-1)
        if b.shape[0] != prim.out_shape[0]:
            raise ValidationError(f"bias has {b.shape[0]} entries for {prim.out_shape[0]} channels")
        bias = np.repeat(b, prim.n_out // prim.out_shape[0])
    asm.linear(prim, bias)


def _batchnorm(reader: Reader, asm: ConvAssembler, index: int, node: onnx.NodeProto) -> None:
    from geninv.io.torch_conv import bn_fold

    at = _attrs(node)
    if int(at.get("training_mode", 0)) != 0 or len(node.output) != 1:
        raise ValidationError("training_mode=1 (batch statistics); only inference is read")
    ins = list(node.input)
    if len(ins) != 5:
        raise ValidationError(f"expected 5 inputs (X, scale, B, mean, var), got {len(ins)}")
    gamma, beta, mean, var = (reader.array(n, index, node).reshape(-1) for n in ins[1:])
    c = asm.shape[0]
    if any(len(v) != c for v in (gamma, beta, mean, var)):
        raise ValidationError(f"parameters do not have {c} entries (the channels)")
    scale, shift = bn_fold(gamma, beta, mean, var, float(at.get("epsilon", 1e-5)), "")
    per = asm.size // c
    asm.elementwise(np.repeat(scale, per), np.repeat(shift, per))


def _upsample(reader: Reader, asm: ConvAssembler, node: onnx.NodeProto) -> None:
    at = _attrs(node)
    mode = at.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "nearest":
        raise ValidationError(
            f"mode={mode}; geninv reads nearest upsampling only (linear, "
            "cubic and bilinear are not read)"
        )
    ins = list(node.input)
    full = (1, *asm.shape)
    factors: list[float]
    if node.op_type == "Upsample":
        factors = list(at["scales"]) if "scales" in at else _floats(reader, ins[1])
    else:
        ctm = at.get("coordinate_transformation_mode", b"half_pixel")
        ctm = ctm.decode() if isinstance(ctm, bytes) else str(ctm)
        nm = at.get("nearest_mode", b"round_prefer_floor")
        nm = nm.decode() if isinstance(nm, bytes) else str(nm)
        ok = (ctm == "asymmetric" and nm == "floor") or (
            ctm in ("half_pixel", "pytorch_half_pixel")
            and nm in ("round_prefer_floor", "round_prefer_ceil")
        )
        if not ok or "axes" in at:
            raise ValidationError(
                f"coordinate_transformation_mode={ctm}, nearest_mode={nm}: not a plain pixel "
                "repetition; read: asymmetric+floor, half_pixel/pytorch_half_pixel+round_prefer_*"
            )
        if (
            len(ins) > 2
            and ins[2]
            and reader.consts.get(ins[2]) is not None
            and _size(reader, ins[2])
        ):
            factors = _floats(reader, ins[2])
        elif len(ins) > 3 and ins[3]:
            sizes = _ints(reader, ins[3])
            if len(sizes) != len(full) or any(s % d for s, d in zip(sizes, full, strict=True)):
                raise ValidationError(f"sizes {sizes} are not integer multiples of {list(full)}")
            factors = [s / d for s, d in zip(sizes, full, strict=True)]
        else:
            raise ValidationError("Resize without constant scales or sizes")
    if len(factors) != 4 or factors[:2] != [1.0, 1.0] or len(asm.shape) != 3:
        raise ValidationError(
            f"scales {factors}; expected [1, 1, fh, fw] on an N x C x H x W tensor"
        )
    if any(f != int(f) or f < 1 for f in factors[2:]):
        raise ValidationError(f"scales {factors}; only integer factors >= 1 are read")
    fh, fw = int(factors[2]), int(factors[3])
    c, h, w = asm.shape
    asm.linear(Prim("upsample", asm.shape, (c, h * fh, w * fw), factor=(fh, fw)))


def _size(reader: Reader, name: str) -> int:
    return int(np.prod(list(reader.consts[name].dims)))


def _floats(reader: Reader, name: str) -> list[float]:
    return [float(v) for v in numpy_helper.to_array(reader.consts[name]).reshape(-1).tolist()]


def _pad(reader: Reader, asm: ConvAssembler, node: onnx.NodeProto) -> None:
    at = _attrs(node)
    mode = at.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "constant":
        raise ValidationError(f"mode={mode}; only constant (zero) padding is linear")
    ins = list(node.input)
    if "pads" in at:
        pads = [int(v) for v in at["pads"]]
        value = float(at.get("value", 0.0))
    else:
        pads = _ints(reader, ins[1])
        value = _floats(reader, ins[2])[0] if len(ins) > 2 and ins[2] else 0.0
        if len(ins) > 3 and ins[3]:
            raise ValidationError("Pad with an 'axes' input is not read")
    if value != 0.0:
        raise ValidationError(f"constant value {value}; only zero padding is linear")
    if len(asm.shape) != 3 or len(pads) != 8:
        raise ValidationError(
            f"pads {pads} on shape {list(asm.shape)}; expected 8 pads on N x C x H x W"
        )
    if pads[0] or pads[1] or pads[4] or pads[5] or min(pads) < 0:
        raise ValidationError(f"pads {pads}; only non-negative pads on H and W are read")
    top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
    c, h, w = asm.shape
    asm.linear(
        Prim(
            "pad",
            asm.shape,
            (c, h + top + bottom, w + left + right),
            pads=(top, bottom, left, right),
        )
    )


def _reshape(reader: Reader, asm: ConvAssembler, node: onnx.NodeProto, slot: int) -> None:
    op = node.op_type
    at = _attrs(node)
    full = [1, *asm.shape]
    if op == "Identity":
        return
    if op == "Flatten":
        axis = int(at.get("axis", 1))
        if axis not in (1, -len(asm.shape)):
            raise ValidationError(f"Flatten(axis={axis}); only axis=1 keeps the batch axis")
        asm.reshape((asm.size,))
        return
    ins = list(node.input)
    if op == "Reshape":
        if slot != 0 or len(ins) != 2:
            raise ValidationError("expected Reshape(previous output, constant shape)")
        target = _ints(reader, ins[1])
        if not target:
            raise ValidationError("Reshape to a scalar")
        target = [full[k] if v == 0 and k < len(full) else v for k, v in enumerate(target)]
        if target[0] not in (1, -1):
            raise ValidationError(f"Reshape to {target} changes the batch axis")
        rest = target[1:]
        if target[0] == -1 and -1 in rest:
            raise ValidationError(f"Reshape to {target} has two -1 dimensions")
        if -1 in rest:
            known = math.prod(v for v in rest if v != -1)
            if known <= 0 or asm.size % known:
                raise ValidationError(f"Reshape to {target} of {asm.size} values")
            rest = [asm.size // known if v == -1 else v for v in rest]
        asm.reshape(tuple(rest) if rest else (asm.size,))
        return
    axes = (
        [int(v) for v in at["axes"]]
        if "axes" in at
        else (_ints(reader, ins[1]) if len(ins) > 1 else [])
    )
    if op == "Unsqueeze":
        rank = len(full) + len(axes)
        norm = sorted(a % rank for a in axes)
        if 0 in norm:
            raise ValidationError("Unsqueeze on axis 0 (the batch axis) is not read")
        out = list(full)
        for a in norm:
            out.insert(a, 1)
    else:
        norm = (
            sorted(a % len(full) for a in axes)
            if axes
            else [k for k, d in enumerate(full) if d == 1 and k]
        )
        if 0 in norm or any(full[a] != 1 for a in norm):
            raise ValidationError(f"Squeeze of axes {axes} of shape {full}")
        out = [d for k, d in enumerate(full) if k not in norm]
    asm.reshape(tuple(out[1:]) if len(out) > 1 else (1,))


def _elementwise(
    reader: Reader, asm: ConvAssembler, index: int, node: onnx.NodeProto, slot: int
) -> None:
    op = node.op_type
    ins = list(node.input)
    if len(ins) != 2:
        raise ValidationError(f"{op} has {len(ins)} inputs; expected 2")
    c = reader.array(ins[1 - slot], index, node)
    full = (1, *asm.shape)
    if c.ndim > len(full):
        raise ValidationError(f"operand of shape {list(c.shape)} grows the tensor {list(full)}")
    try:
        vec = np.array(np.broadcast_to(c, full), dtype=np.float64).reshape(-1)
    except ValueError:
        raise ValidationError(
            f"operand of shape {list(c.shape)} does not broadcast to {list(full)}"
        ) from None
    if op == "Add":
        asm.elementwise(None, vec)
    elif op == "Sub":
        if slot == 0:
            asm.elementwise(None, -vec)
        else:
            asm.elementwise(-np.ones_like(vec), vec)
    elif op == "Mul":
        asm.elementwise(vec, None)
    else:
        if slot != 0:
            raise ValidationError("C / h is not affine; expected Div(h, C)")
        if np.any(vec == 0):
            raise ValidationError("division by zero in the Div operand")
        asm.elementwise(1.0 / vec, None)


def _piece(reader: Reader, asm: ConvAssembler, index: int, node: onnx.NodeProto, slot: int) -> None:
    op = node.op_type
    if op in ("Conv", "ConvTranspose"):
        _conv(reader, asm, index, node)
    elif op == "BatchNormalization":
        _batchnorm(reader, asm, index, node)
    elif op in ("Upsample", "Resize"):
        _upsample(reader, asm, node)
    elif op == "Pad":
        _pad(reader, asm, node)
    elif op in ("Reshape", "Flatten", "Unsqueeze", "Squeeze", "Identity"):
        _reshape(reader, asm, node, slot)
    elif op in ("Gemm", "MatMul"):
        if len(asm.shape) != 1:
            raise ValidationError(f"{op} on a tensor of shape {list(asm.shape)}; flatten it first")
        a, c, _ = affine_of(reader, index, node, slot, asm.size, 2)
        assert a is not None
        w = np.array(a.astype(np.float64) if a.dtype == object else a, dtype=np.float64)
        w.setflags(write=False)
        bias = np.array(c.astype(np.float64) if c.dtype == object else c, dtype=np.float64)
        asm.linear(Prim("dense", asm.shape, (int(w.shape[0]),), w), bias)
    elif op in ("Add", "Sub", "Mul", "Div"):
        _elementwise(reader, asm, index, node, slot)
    else:
        spec = activation_of(reader, index, node)
        if not asm.activation(spec):
            raise ValidationError(f"{op} before any affine node")


def import_conv_onnx(
    model: onnx.ModelProto,
    reader: Reader,
    vi: onnx.ValueInfoProto,
    check: bool,
    box: tuple[Sequence[Fraction], Sequence[Fraction]] | None,
) -> ReLUNetwork:
    """Read the convolutional chain of ``model`` from its latent input ``vi``."""
    graph = model.graph
    shown = reader.path
    in_shape = _input_shape(reader, vi)
    asm = ConvAssembler(in_shape)
    current = vi.name
    for index, node in enumerate(graph.node):
        if index in reader.folded:
            continue
        if node.op_type == "Constant":
            reader.add_constant_node(index, node)
            continue
        if len(node.output) != 1 or not node.output[0]:
            raise reader.parse_error(index, node, "expected exactly one output")
        slot = chain_slot(reader, index, node, current)
        try:
            _piece(reader, asm, index, node, slot)
        except ValidationError as exc:
            raise reader.unsupported(index, node, str(exc)) from None
        current = node.output[0]
    out_name = graph.output[0].name
    if current != out_name:
        raise UnsupportedError(
            f"{shown}: graph output '{out_name}' is not the end of the chain of supported nodes "
            f"(which ends at '{current}'); expected a single chain from the input to the output"
        )
    network = asm.network()
    if network is None:
        raise UnsupportedError(f"{shown}: the graph has no linear node; nothing to read")
    if check:
        if box is not None and len(box[0]) != network.n_inputs:
            box = None
        in_type = FLOAT_TYPES.get(vi.type.tensor_type.elem_type, "float64")
        unit = max(reader.unit, UNIT_ROUNDOFF[in_type])
        check_onnx_model(model, network, shown, asm.steps, unit, 2, box, input_shape=(1, *in_shape))
    return network
