"""Read and write ReLU networks as ONNX models.

Export
------
:func:`export_onnx` (in :mod:`geninv.io.onnx_export`) writes the network of eq. (3),

    h_0 = z,   h_l = act_l(W_l h_{l-1} + b_l),   x = h_L,

as a chain of ONNX nodes ``Gemm(h, W_l, b_l, transB=1)`` followed by ``Relu``
(``LeakyRelu``, ``Elu``, ``Sigmoid``, ``Tanh``; omitted after an identity layer).  A row
vector ``h`` of shape ``[1, m]`` times ``W_l^T`` is exactly ``(W_l h)^T``, so
``transB=1`` lets the initializers keep geninv's ``(out, in)`` layout.  The
graph input is ``"z"`` of shape ``[1, n]`` and the output ``"x"`` of shape ``[1, q]``.

Import
------
:func:`import_onnx` reads a *chain* of nodes, each reading the previous node's
output (plus constants).  Every affine node is an affine map ``h -> A h + c``
of the running activation:

* ``Gemm(h, B, C; alpha, beta, transB)`` (``transA = 0``):
  ``A = alpha * B^T`` (``transB = 0``) or ``alpha * B`` (``transB = 1``), ``c = beta * C``
  broadcast to the output width (``C`` absent means ``c = 0``);
* ``MatMul(h, B)``: ``A = B^T``, ``c = 0``;
* ``Add(h, C)`` / ``Add(C, h)``: ``A = I``, ``c = C``; ``Sub(h, C)``: ``c = -C``;
  ``Sub(C, h)``: ``A = -I``, ``c = C``;
* ``Mul(h, C)`` / ``Mul(C, h)``: ``A = diag(C)``; ``Div(h, C)``: ``A = diag(1/C)``
  (``C`` a scalar or a vector of the layer's width, nonzero for ``Div``).

``Identity``, ``Flatten(axis=1)`` of a ``[1, n]`` row and ``Reshape`` to
``[1, n]``, ``[-1, n]``, ``[n]``, ``[-1]`` or ``[1, -1]`` move no value, so they
are the identity on the running vector and are skipped.  ``Relu``,
``LeakyRelu`` and ``Elu`` (their ``alpha``: the exact value of the float32 the
attribute stores; >= 0), ``Sigmoid`` and ``Tanh`` each close a layer.

(One node's map is read by :mod:`geninv.io.onnx_nodes`; this module walks the chain.)

Convolutional models (a ``Conv``, ``ConvTranspose``, ``BatchNormalization``,
``Upsample``, ``Resize``, ``Pad``, ``Unsqueeze`` or ``Squeeze`` node, or an input of
rank above 2) are read by :mod:`geninv.io.onnx_conv` into structured layers
(:mod:`geninv.conv`).  Before either walk, nodes that compute only from constants
(an exporter's shape arithmetic) are evaluated ahead
(:meth:`~geninv.io.onnx_nodes.Reader.fold_constants`).
Consecutive affine maps with no activation between them are composed,
``(A_2, c_2) o (A_1, c_1) = (A_2 A_1, A_2 c_1 + c_2)``, so ``MatMul`` + ``Add``
becomes one layer and two stacked ``Gemm`` nodes become one.  A graph that ends
on an affine map gets ``final_activation="identity"``.  No activation is ever
inserted: a layer's activation is the node that closes it.

All scaling by ``alpha``/``beta`` and all composition is done in exact rational
arithmetic on the exact values of the stored floats; when the result is not a
float64 the :class:`~geninv.network.ReLUNetwork` keeps it as exact Fractions
(and its float copy is the nearest float64).  The plain cases (``alpha = beta =
1``, no composition) never leave float64 and are exact as well.

Anything outside this subset (another op type, an activation before any affine
node, a branching or residual graph, several inputs or outputs, non-float or
non-finite weights) raises :class:`~geninv.errors.UnsupportedError` or
:class:`~geninv.errors.ParseError` with a one-line message naming the file, the
node (index in ``graph.node``, name and op type) and what was expected.

Fidelity check
--------------
After reading, the network is compared with onnxruntime on a few seeded random
points (inside the input box when the caller knows one); where onnxruntime is
not installed or has no kernel for the model (e.g. float64 ``LeakyRelu``),
ONNX's reference evaluator ``onnx.reference`` is used instead; a model neither
runs is refused.  A mismatch beyond the rounding bound of
:mod:`geninv.io.fidelity` raises :class:`~geninv.errors.UnsupportedError`
naming the worst point's relative error.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from geninv.errors import GeninvError, ParseError, UnsupportedError
from geninv.io.fidelity import UNIT_ROUNDOFF, Step, affine_step, check_onnx_model
from geninv.io.limits import check_file_size
from geninv.io.onnx_conv import CONV_OPS, import_conv_onnx
from geninv.io.onnx_export import IR_VERSION, OPSET, export_onnx
from geninv.io.onnx_nodes import (
    FLOAT_TYPES,
    Affine,
    Reader,
    affine_of,
    chain_slot,
    compose,
    element_type_name,
    one_line,
    shape_op,
)
from geninv.io.onnx_nodes import activation_of as _activation_of
from geninv.network import ReLUNetwork

__all__ = ["IR_VERSION", "OPSET", "export_onnx", "import_onnx"]

_SUPPORTED = (
    "geninv reads only Gemm, MatMul, Add, Sub, Mul, Div (by constants), Identity, "
    "Flatten, Reshape, Constant, Relu, LeakyRelu, Elu, Sigmoid and Tanh, and for convolutional "
    "models Conv, ConvTranspose, BatchNormalization, Upsample/Resize (nearest), Pad (zeros), "
    "Unsqueeze and Squeeze (see docs/formats.md)"
)
#: affine ops read (each with one constant operand, except Gemm/MatMul's weight)
_AFFINE_OPS = ("Gemm", "MatMul", "Add", "Sub", "Mul", "Div")
#: ops that only reshape the running vector (checked to be no-ops on it)
_SHAPE_OPS = ("Identity", "Flatten", "Reshape")


#: further ops of convolutional models (read by :mod:`geninv.io.onnx_conv`)
_CONV = (*CONV_OPS, "Unsqueeze", "Squeeze")

#: ONNX activation ops read, each closing one layer
_IMPORT_OPS = ("Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh")


def _read_model(path: Path) -> onnx.ModelProto:
    shown = str(path)
    if not path.exists():
        raise ParseError("not a readable ONNX model: file not found", shown)
    if path.is_dir():
        raise ParseError("not a readable ONNX model: is a directory", shown)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"not a readable ONNX model: {one_line(str(exc))}", shown) from None
    if size == 0:
        raise ParseError("not a readable ONNX model: the file is empty", shown)
    check_file_size(size, "model_bytes", shown)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, OSError, external-data errors, ...
        reason = one_line(f"{type(exc).__name__}: {exc}")
        raise ParseError(f"not a readable ONNX model: {reason}", shown) from None
    if not model.HasField("graph"):
        raise ParseError(
            "not a readable ONNX model: it has no graph (truncated or not ONNX?)", shown
        )
    if not any(op.domain in ("", "ai.onnx") for op in model.opset_import):
        raise ParseError(
            "not a readable ONNX model: no opset import for the default domain (truncated?)", shown
        )
    return model


def _input_width(reader: Reader, vi: onnx.ValueInfoProto) -> int | None:
    """Latent dimension from the input's declared shape ``[n]``, ``[1, n]`` or ``[N, n]``."""
    path = reader.path
    ttype = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if ttype is None:
        raise UnsupportedError(f"{path}: graph input '{vi.name}' is not a tensor")
    if ttype.elem_type not in FLOAT_TYPES and ttype.elem_type != TensorProto.UNDEFINED:
        type_name = element_type_name(ttype.elem_type)
        raise UnsupportedError(
            f"{path}: graph input '{vi.name}' has element type {type_name}; expected a float tensor"
        )
    if not ttype.HasField("shape"):
        return None
    dims = list(ttype.shape.dim)
    if len(dims) not in (1, 2):
        raise UnsupportedError(
            f"{path}: graph input '{vi.name}' has rank {len(dims)}; "
            "expected shape [n], [1, n] or [N, n]"
        )
    last = dims[-1]
    if last.HasField("dim_value"):
        if last.dim_value <= 0:
            raise UnsupportedError(f"{path}: graph input '{vi.name}' has an empty last dimension")
        return int(last.dim_value)
    return None


def _input_rank(vi: onnx.ValueInfoProto) -> int | None:
    """Rank of the graph input (1 or 2, checked by :func:`_input_width`), None if undeclared."""
    ttype = vi.type.tensor_type
    return len(ttype.shape.dim) if ttype.HasField("shape") else None


def import_onnx(
    path: str | Path,
    *,
    check: bool = True,
    box: tuple[Sequence[Fraction], Sequence[Fraction]] | None = None,
) -> ReLUNetwork:
    """Read a network from a chain of Gemm / MatMul / Add / ... / Relu ONNX nodes.

    See the module docstring for the exact subset and the maths.  The input may
    have shape ``[n]``, ``[1, n]`` or a (symbolic) batch ``[N, n]``.  Weights come
    from initializers or ``Constant`` nodes (a ``value`` tensor) and must be
    finite floats (float16, bfloat16, float32 or float64; converted exactly).

    With ``check`` (the default) the network read is compared with onnxruntime
    (or ONNX's reference evaluator) on a few seeded random points, inside
    ``box`` when given (see :mod:`geninv.io.fidelity`); a mismatch raises
    :class:`~geninv.errors.UnsupportedError`.

    Raises :class:`~geninv.errors.ParseError` when the file is missing or not a
    readable ONNX model, and :class:`~geninv.errors.UnsupportedError` when it
    uses anything outside the subset.
    """
    p = Path(path)
    shown = str(path)
    model = _read_model(p)
    reader = Reader(shown, model)
    graph = model.graph

    reader.fold_constants()
    # Unsupported operators first: that is the most useful thing to hear about.
    for index, node in enumerate(graph.node):
        if index in reader.folded:
            continue
        if node.domain not in ("", "ai.onnx"):
            raise reader.unsupported(
                index, node, f"custom operator domain '{node.domain}'; {_SUPPORTED}"
            )
        if node.op_type not in (*_AFFINE_OPS, *_SHAPE_OPS, "Constant", *_IMPORT_OPS, *_CONV):
            raise reader.unsupported(index, node, f"unsupported op; {_SUPPORTED}")

    inputs = [vi for vi in graph.input if vi.name not in reader.consts]
    if len(inputs) != 1:
        names = ", ".join(f"'{vi.name}'" for vi in inputs) or "none"
        raise UnsupportedError(
            f"{shown}: graph has {len(inputs)} inputs ({names}); "
            "expected exactly one (the latent z)"
        )
    if len(graph.output) != 1:
        raise UnsupportedError(
            f"{shown}: graph has {len(graph.output)} outputs; expected exactly one (the image x)"
        )
    dims = inputs[0].type.tensor_type.shape.dim
    live = [node for k, node in enumerate(graph.node) if k not in reader.folded]
    if any(node.op_type in _CONV for node in live) or len(dims) > 2:
        return import_conv_onnx(model, reader, inputs[0], check, box)
    width = _input_width(reader, inputs[0])
    rank = _input_rank(inputs[0])
    current = inputs[0].name
    out_name = graph.output[0].name

    layers: list[Affine] = []
    acts: list[str] = []
    steps: list[Step] = []
    pending: Affine | None = None
    for index, node in enumerate(graph.node):
        op = node.op_type
        if index in reader.folded:
            continue
        if op == "Constant":
            reader.add_constant_node(index, node)
            continue
        if len(node.output) != 1 or not node.output[0]:
            raise reader.parse_error(index, node, "expected exactly one output")
        slot = chain_slot(reader, index, node, current)

        if op in _IMPORT_OPS:
            if pending is None:
                raise reader.unsupported(
                    index,
                    node,
                    f"{op} before any affine node; "
                    f"expected a Gemm, MatMul or Add node before each {op}",
                )
            if pending.weight is None:
                assert width is not None
                pending = Affine(np.eye(width, dtype=np.float64), pending.bias)
            layers.append(pending)
            acts.append(_activation_of(reader, index, node))
            steps.append(Step(activation=acts[-1]))
            assert pending.weight is not None
            width = int(pending.weight.shape[0])
            pending = None
        elif op in _SHAPE_OPS:
            rank = shape_op(reader, index, node, slot, width, rank)
        else:
            a, c, rank = affine_of(reader, index, node, slot, width, rank)
            steps.append(affine_step(a, c))
            pending = compose(pending, a, c)
            if a is not None:
                width = int(a.shape[0])
            elif width is None:
                width = int(c.shape[0])
        current = node.output[0]

    if current != out_name:
        raise UnsupportedError(
            f"{shown}: graph output '{out_name}' is not the end of the chain of supported nodes "
            f"(which ends at '{current}'); expected a single chain from the input to the output"
        )
    if pending is not None:
        if pending.weight is None:
            assert width is not None
            pending = Affine(np.eye(width, dtype=np.float64), pending.bias)
        layers.append(pending)
        acts.append("identity")
    if not layers:
        raise UnsupportedError(f"{shown}: graph has no Gemm, MatMul or Add node; nothing to read")

    weights: list[Any] = []
    biases: list[Any] = []
    for aff in layers:
        assert aff.weight is not None
        weights.append(aff.weight if aff.weight.dtype != object else aff.weight.tolist())
        biases.append(aff.bias if aff.bias.dtype != object else aff.bias.tolist())
    try:
        network = ReLUNetwork(weights, biases, activations=acts)
    except GeninvError as exc:
        raise ParseError(f"inconsistent network: {one_line(str(exc))}", shown) from None
    out_vi = graph.output[0]
    if out_vi.type.HasField("tensor_type") and out_vi.type.tensor_type.HasField("shape"):
        dims = out_vi.type.tensor_type.shape.dim
        if dims and dims[-1].HasField("dim_value") and dims[-1].dim_value != network.n_outputs:
            raise ParseError(
                f"graph output '{out_name}' declares width {dims[-1].dim_value} but the "
                f"layers compute {network.n_outputs} values",
                shown,
            )
    if check:
        if box is not None and len(box[0]) != network.n_inputs:
            box = None  # the caller reports the mismatch; check at normal points
        in_type = FLOAT_TYPES.get(inputs[0].type.tensor_type.elem_type, "float64")
        unit = max(reader.unit, UNIT_ROUNDOFF[in_type])
        check_onnx_model(model, network, shown, steps, unit, rank or 2, box)
    return network
