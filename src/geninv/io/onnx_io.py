"""Read and write ReLU networks as ONNX models.

Export
------
:func:`export_onnx` (in :mod:`geninv.io.onnx_export`) writes the network of eq. (3),

    h_0 = z,   h_l = act_l(W_l h_{l-1} + b_l),   x = h_L,

as a chain of ONNX nodes ``Gemm(h, W_l, b_l, transB=1)`` followed by ``Relu``
(``LeakyRelu``, ``Sigmoid``, ``Tanh``; omitted after an identity layer).  A row
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
``LeakyRelu`` (its ``alpha``: the exact value of the float32 the attribute
stores), ``Sigmoid`` and ``Tanh`` each close a layer.

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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from geninv.errors import GeninvError, ParseError, UnsupportedError
from geninv.io.fidelity import UNIT_ROUNDOFF, Step, affine_step, check_onnx_model
from geninv.io.limits import check_file_size, limit
from geninv.io.onnx_export import IR_VERSION, OPSET, export_onnx
from geninv.network import ReLUNetwork

__all__ = ["IR_VERSION", "OPSET", "export_onnx", "import_onnx"]

_SUPPORTED = (
    "geninv reads only Gemm, MatMul, Add, Sub, Mul, Div (by constants), Identity, "
    "Flatten, Reshape (no-ops on a vector), Constant, Relu, LeakyRelu, Sigmoid and Tanh"
)
#: affine ops read (each with one constant operand, except Gemm/MatMul's weight)
_AFFINE_OPS = ("Gemm", "MatMul", "Add", "Sub", "Mul", "Div")
#: ops that only reshape the running vector (checked to be no-ops on it)
_SHAPE_OPS = ("Identity", "Flatten", "Reshape")
_FLOAT_TYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.DOUBLE: "float64",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16",
}

# A matrix or vector that is either float64 (exact values of the floats) or an
# object array of Fractions (after exact scaling / composition).
_Arr = npt.NDArray[Any]


def _type_name(code: int) -> str:
    """ONNX element type name (``INT64``, ...) or the raw code when unknown."""
    if code in TensorProto.DataType.values():
        return str(TensorProto.DataType.Name(code))
    return f"type code {code}"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


#: ONNX activation ops read, each closing one layer
_IMPORT_OPS = ("Relu", "LeakyRelu", "Sigmoid", "Tanh")


def _activation_of(reader: Any, index: int, node: onnx.NodeProto) -> str:
    """The geninv spec of an activation node; LeakyRelu's ``alpha`` is the exact value of
    the float32 the attribute stores (default: float32 0.01, as onnxruntime uses)."""
    op = node.op_type
    allowed = {"alpha"} if op == "LeakyRelu" else set()
    for attr in node.attribute:
        if attr.name not in allowed:
            raise reader.unsupported(index, node, f"unknown {op} attribute '{attr.name}'")
        if attr.type != onnx.AttributeProto.FLOAT:
            raise reader.unsupported(index, node, f"{op} attribute '{attr.name}' is not a float")
    if op == "LeakyRelu":
        alpha = float(np.float32(0.01))  # the ONNX default, a float32
        for attr in node.attribute:
            alpha = float(attr.f)  # a float32 value, exactly
        if not (np.isfinite(alpha) and alpha >= 0):
            raise reader.unsupported(index, node, f"LeakyRelu alpha {alpha}; expected >= 0")
        return f"leaky_relu:{Fraction(alpha)}"
    return {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}[op]


# ====================================================================== import
@dataclass
class _Affine:
    """A pending affine map ``h -> A h + c``; ``weight is None`` means ``A = I``."""

    weight: _Arr | None  # (out, in)
    bias: _Arr  # (out,)


def _exact(a: _Arr) -> _Arr:
    """Object array of Fractions with the exact values of ``a``."""
    if a.dtype == object:
        return a
    out = np.empty(a.shape, dtype=object)
    flat = out.reshape(-1)
    for k, v in enumerate(a.reshape(-1)):
        flat[k] = Fraction(float(v))
    return out


def _scale(a: _Arr, s: float) -> _Arr:
    """``s * a`` exactly (stays float64 when ``s == 1``)."""
    if s == 1.0:
        return a
    scaled: _Arr = _exact(a) * Fraction(s)
    return scaled


def _is_zero(a: _Arr) -> bool:
    return bool(np.all(a == 0))


def _add(a: _Arr, b: _Arr) -> _Arr:
    """``a + b`` exactly (stays float64 when one side is zero)."""
    if a.dtype != object and b.dtype != object:
        if _is_zero(a):
            return b.copy()
        if _is_zero(b):
            return a.copy()
    return _exact(a) + _exact(b)


def _compose(first: _Affine | None, a: _Arr | None, c: _Arr) -> _Affine:
    """``(a, c) o first``: the map ``h -> a (A h + b) + c``; ``a is None`` means identity."""
    if first is None:
        return _Affine(a, c)
    if a is None:
        return _Affine(first.weight, _add(first.bias, c))
    weight = a if first.weight is None else _exact(a) @ _exact(first.weight)
    bias = c if _is_zero(first.bias) else _add(_exact(a) @ _exact(first.bias), c)
    return _Affine(weight, bias)


class _Reader:
    """State of one :func:`import_onnx` call: the file name and the constant tensors."""

    def __init__(self, path: str, model: onnx.ModelProto) -> None:
        self.path = path
        self.graph = model.graph
        self.consts: dict[str, TensorProto] = {t.name: t for t in self.graph.initializer}
        self.const_arrays: dict[str, _Arr] = {}
        self.unit = 2.0**-53  # largest unit roundoff of the float tensors read

    # -------------------------------------------------------------- messages
    @staticmethod
    def node_label(index: int, node: onnx.NodeProto) -> str:
        name = f" '{node.name}'" if node.name else ""
        return f"node {index}{name} ({node.op_type})"

    def unsupported(self, index: int, node: onnx.NodeProto, what: str) -> UnsupportedError:
        label = self.node_label(index, node)
        return UnsupportedError(_one_line(f"{self.path}: {label}: {what}", 400))

    def parse_error(self, index: int, node: onnx.NodeProto, what: str) -> ParseError:
        return ParseError(_one_line(f"{self.node_label(index, node)}: {what}", 400), self.path)

    # -------------------------------------------------------------- tensors
    def array(self, name: str, index: int, node: onnx.NodeProto) -> _Arr:
        """A constant tensor as float64, refusing non-float and non-finite values."""
        if name in self.const_arrays:
            return self.const_arrays[name]
        tensor = self.consts[name]
        if tensor.data_type not in _FLOAT_TYPES:
            type_name = _type_name(tensor.data_type)
            raise self.unsupported(
                index, node, f"tensor '{name}' has element type {type_name}; expected float weights"
            )
        entries = 1
        for dim in tensor.dims:
            entries *= max(int(dim), 0)
        if entries > limit("parameters"):
            raise self.parse_error(
                index,
                node,
                f"tensor '{name}' declares shape {list(tensor.dims)} ({entries:,} entries), above "
                f"the limit {limit('parameters'):,} on parameters (set GENINV_MAX_PARAMETERS to "
                "raise it)",
            )
        try:
            raw = numpy_helper.to_array(tensor)
            arr = np.array(raw, dtype=np.float64)
        except Exception as exc:
            raise self.parse_error(index, node, f"cannot read tensor '{name}': {exc}") from None
        if not np.all(np.isfinite(arr)):
            raise self.unsupported(
                index,
                node,
                f"tensor '{name}' contains NaN or infinite values; expected finite weights",
            )
        self.const_arrays[name] = arr
        self.unit = max(self.unit, UNIT_ROUNDOFF[_FLOAT_TYPES[tensor.data_type]])
        return arr

    def add_constant_node(self, index: int, node: onnx.NodeProto) -> None:
        if len(node.output) != 1:
            raise self.parse_error(index, node, "a Constant node must have one output")
        attrs = {a.name: a for a in node.attribute}
        if set(attrs) != {"value"}:
            raise self.unsupported(
                index, node, "only Constant nodes with a 'value' tensor attribute are read"
            )
        tensor = TensorProto()
        tensor.CopyFrom(attrs["value"].t)
        tensor.name = node.output[0]
        self.consts[node.output[0]] = tensor


def _read_model(path: Path) -> onnx.ModelProto:
    shown = str(path)
    if not path.exists():
        raise ParseError("not a readable ONNX model: file not found", shown)
    if path.is_dir():
        raise ParseError("not a readable ONNX model: is a directory", shown)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"not a readable ONNX model: {_one_line(str(exc))}", shown) from None
    if size == 0:
        raise ParseError("not a readable ONNX model: the file is empty", shown)
    check_file_size(size, "model_bytes", shown)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, OSError, external-data errors, ...
        reason = _one_line(f"{type(exc).__name__}: {exc}")
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


def _input_width(reader: _Reader, vi: onnx.ValueInfoProto) -> int | None:
    """Latent dimension from the input's declared shape ``[n]``, ``[1, n]`` or ``[N, n]``."""
    path = reader.path
    ttype = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if ttype is None:
        raise UnsupportedError(f"{path}: graph input '{vi.name}' is not a tensor")
    if ttype.elem_type not in _FLOAT_TYPES and ttype.elem_type != TensorProto.UNDEFINED:
        type_name = _type_name(ttype.elem_type)
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
    reader = _Reader(shown, model)
    graph = model.graph

    # Unsupported operators first: that is the most useful thing to hear about.
    for index, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx"):
            raise reader.unsupported(
                index, node, f"custom operator domain '{node.domain}'; {_SUPPORTED}"
            )
        if node.op_type not in (*_AFFINE_OPS, *_SHAPE_OPS, "Constant", *_IMPORT_OPS):
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
    width = _input_width(reader, inputs[0])
    rank = _input_rank(inputs[0])
    current = inputs[0].name
    out_name = graph.output[0].name

    layers: list[_Affine] = []
    acts: list[str] = []
    steps: list[Step] = []
    pending: _Affine | None = None
    for index, node in enumerate(graph.node):
        op = node.op_type
        if op == "Constant":
            reader.add_constant_node(index, node)
            continue
        if len(node.output) != 1 or not node.output[0]:
            raise reader.parse_error(index, node, "expected exactly one output")
        ins = list(node.input)
        data_slots = [k for k, name in enumerate(ins) if name == current]
        for name in ins:
            if name and name != current and name not in reader.consts:
                raise reader.unsupported(
                    index,
                    node,
                    f"reads '{name}', which is neither the previous node's output '{current}' "
                    "nor a constant; expected a single chain (no branches or skip connections)",
                )
        if len(data_slots) != 1:
            what = "does not read" if not data_slots else "reads twice"
            raise reader.unsupported(
                index,
                node,
                f"{what} the previous node's output '{current}'; expected a single chain "
                "(no branches or skip connections)",
            )
        slot = data_slots[0]

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
                pending = _Affine(np.eye(width, dtype=np.float64), pending.bias)
            layers.append(pending)
            acts.append(_activation_of(reader, index, node))
            steps.append(Step(activation=acts[-1]))
            assert pending.weight is not None
            width = int(pending.weight.shape[0])
            pending = None
        elif op in _SHAPE_OPS:
            rank = _shape_op(reader, index, node, slot, width, rank)
        else:
            a, c, rank = _affine_of(reader, index, node, slot, width, rank)
            steps.append(affine_step(a, c))
            pending = _compose(pending, a, c)
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
            pending = _Affine(np.eye(width, dtype=np.float64), pending.bias)
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
        raise ParseError(f"inconsistent network: {_one_line(str(exc))}", shown) from None
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
        in_type = _FLOAT_TYPES.get(inputs[0].type.tensor_type.elem_type, "float64")
        unit = max(reader.unit, UNIT_ROUNDOFF[in_type])
        check_onnx_model(model, network, shown, steps, unit, rank or 2, box)
    return network


def _shape_op(
    reader: _Reader,
    index: int,
    node: onnx.NodeProto,
    slot: int,
    width: int | None,
    rank: int | None,
) -> int | None:
    """Check that an Identity / Flatten / Reshape node keeps the running vector; new rank.

    None of them moves a value (they only relabel the shape of a row-major
    tensor), so on a single vector of ``width`` values they are the identity
    map as long as the result is again ``[width]`` or ``[1, width]``.
    """
    op = node.op_type
    attrs = {at.name: helper.get_attribute_value(at) for at in node.attribute}
    if op == "Identity":
        return rank
    if op == "Flatten":
        axis = int(attrs.get("axis", 1))
        if rank == 2 and axis in (1, -1):
            return 2
        raise reader.unsupported(
            index,
            node,
            f"Flatten(axis={axis}) on a tensor of rank {rank}; only Flatten(axis=1) on a "
            "[1, n] row, a no-op, is read",
        )
    # Reshape(data, shape)
    if slot != 0 or len(node.input) != 2:
        raise reader.unsupported(index, node, "expected Reshape(previous output, constant shape)")
    tensor = reader.consts[node.input[1]]
    shape = [int(v) for v in numpy_helper.to_array(tensor).reshape(-1)]
    ok = width is not None and shape in ([1, width], [-1, width], [width], [-1], [1, -1])
    if not ok:
        raise reader.unsupported(
            index,
            node,
            f"Reshape to {shape} of a vector of {width} values; only [1, n], [-1, n], [n], [-1] "
            "and [1, -1] (no-ops on a vector) are read",
        )
    return len(shape)


def _affine_of(
    reader: _Reader,
    index: int,
    node: onnx.NodeProto,
    slot: int,
    width: int | None,
    rank: int | None,
) -> tuple[_Arr | None, _Arr, int | None]:
    """The affine map ``h -> a h + c`` of one affine node (``a is None``: identity), and the
    rank of its result."""
    op = node.op_type
    ins = list(node.input)

    def check_in(n_in: int) -> None:
        if width is not None and n_in != width:
            raise reader.unsupported(
                index,
                node,
                f"weight expects {n_in} inputs but the previous layer has {width} values",
            )

    if op in ("Add", "Sub", "Mul", "Div"):
        if len(ins) != 2:
            raise reader.parse_error(index, node, f"{op} has {len(ins)} inputs; expected 2")
        c = reader.array(ins[1 - slot], index, node)
        m = width if width is not None else (int(c.shape[-1]) if c.ndim >= 1 else 1)
        if width is None and m == 1:
            raise reader.unsupported(
                index, node, f"cannot tell the layer width (no input shape, a scalar {op} operand)"
            )
        new_rank = None if rank is None else max(rank, c.ndim)
        vec = _bias_vector(reader, index, node, c, m, f"{op} operand")
        if op == "Add":
            return None, vec, new_rank
        if op == "Sub":
            if slot == 0:  # h - C
                return None, -vec, new_rank
            return -np.eye(m, dtype=np.float64), vec, new_rank  # C - h
        if op == "Div":
            if slot != 0:
                raise reader.unsupported(index, node, "C / h is not affine; expected Div(h, C)")
            if np.any(vec == 0):
                raise reader.unsupported(index, node, "division by zero in the Div operand")
            diag = np.zeros((m, m), dtype=object)
            diag[...] = Fraction(0)
            for k, v in enumerate(vec):
                diag[k, k] = 1 / Fraction(float(v))
            return diag, np.zeros(m, dtype=np.float64), new_rank
        return np.diag(vec), np.zeros(m, dtype=np.float64), new_rank  # Mul

    if op == "MatMul":
        if len(ins) != 2:
            raise reader.parse_error(index, node, f"MatMul has {len(ins)} inputs; expected 2")
        if slot != 0:
            raise reader.unsupported(
                index, node, "expected the activation as the first MatMul input (h @ W)"
            )
        b = reader.array(ins[1], index, node)
        if b.ndim != 2:
            raise reader.unsupported(
                index, node, f"weight '{ins[1]}' has shape {list(b.shape)}; expected a matrix"
            )
        check_in(int(b.shape[0]))
        a = np.ascontiguousarray(b.T)
        return a, np.zeros(a.shape[0], dtype=np.float64), rank

    # Gemm: Y = alpha * A' B' + beta * C
    if not 2 <= len(ins) <= 3:
        raise reader.parse_error(index, node, f"Gemm has {len(ins)} inputs; expected 2 or 3")
    if slot != 0:
        raise reader.unsupported(index, node, "expected the activation as the first Gemm input (A)")
    if rank == 1:
        raise reader.unsupported(index, node, "Gemm of a rank-1 input; expected a [1, n] row")
    attrs: dict[str, Any] = {}
    for at in node.attribute:
        attrs[at.name] = helper.get_attribute_value(at)
    unknown = set(attrs) - {"alpha", "beta", "transA", "transB"}
    if unknown:
        raise reader.unsupported(index, node, f"unknown Gemm attribute(s) {sorted(unknown)}")
    if int(attrs.get("transA", 0)) != 0:
        raise reader.unsupported(index, node, "transA=1 is not supported; expected transA=0")
    trans_b = int(attrs.get("transB", 0))
    alpha = float(attrs.get("alpha", 1.0))
    beta = float(attrs.get("beta", 1.0))
    for nm, val in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(val):
            raise reader.unsupported(index, node, f"{nm} = {val}; expected a finite number")
    b = reader.array(ins[1], index, node)
    if b.ndim != 2:
        raise reader.unsupported(
            index, node, f"weight '{ins[1]}' has shape {list(b.shape)}; expected a matrix"
        )
    a = np.ascontiguousarray(b if trans_b else b.T)
    check_in(int(a.shape[1]))
    a = _scale(a, alpha)
    m = int(a.shape[0])
    if len(ins) == 3 and ins[2]:
        c = _bias_vector(reader, index, node, reader.array(ins[2], index, node), m, "Gemm C")
        c = _scale(c, beta)
    else:
        c = np.zeros(m, dtype=np.float64)
    return a, c, 2


def _bias_vector(
    reader: _Reader, index: int, node: onnx.NodeProto, c: _Arr, m: int, what: str
) -> _Arr:
    """``c`` broadcast to a length-``m`` vector; shapes that would grow the batch are refused."""
    if (
        c.ndim > 2
        or (c.ndim == 2 and c.shape[0] != 1)
        or (c.ndim >= 1 and c.shape[-1] not in (1, m))
    ):
        raise reader.unsupported(
            index, node, f"{what} has shape {list(c.shape)}; expected a scalar, [{m}] or [1, {m}]"
        )
    return np.array(np.broadcast_to(c.reshape(-1) if c.ndim else c, (m,)), dtype=np.float64)
