"""One ONNX node as an affine map of the running vector, for :mod:`geninv.io.onnx_io`.

:class:`Reader` holds one import's constant tensors (initializers and ``Constant``
nodes), read as exact float64 values; :func:`affine_of` turns a ``Gemm``,
``MatMul``, ``Add``, ``Sub``, ``Mul`` or ``Div`` node into ``h -> A h + c`` (the
maths is in :mod:`geninv.io.onnx_io`'s docstring), :func:`shape_op` checks that an
``Identity``, ``Flatten`` or ``Reshape`` node moves no value, and :func:`compose`
composes consecutive maps exactly.  Every refusal names the file and the node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from geninv.errors import ParseError, UnsupportedError
from geninv.io.affine import exact_array
from geninv.io.fidelity import UNIT_ROUNDOFF
from geninv.io.limits import limit

FLOAT_TYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.DOUBLE: "float64",
    TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16",
}


#: ops evaluated ahead when all their inputs are constants (see :meth:`Reader.fold_constants`)
FOLDABLE = frozenset(
    {
        "ConstantOfShape", "Concat", "Slice", "Transpose", "Reshape", "Cast", "Gather",
        "Unsqueeze", "Squeeze", "Range", "Expand", "Identity", "Add", "Sub", "Mul", "Div",
        "Neg", "Equal", "Where", "Shape",
    }
)  # fmt: skip

# A matrix or vector that is either float64 (exact values of the floats) or an
# object array of Fractions (after exact scaling / composition).
_Arr = npt.NDArray[Any]


def element_type_name(code: int) -> str:
    """ONNX element type name (``INT64``, ...) or the raw code when unknown."""
    if code in TensorProto.DataType.values():
        return str(TensorProto.DataType.Name(code))
    return f"type code {code}"


def one_line(text: str, limit: int = 200) -> str:
    """``text`` with runs of whitespace made one space, cut to ``limit`` characters (ending in
    ``...``)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass
class Affine:
    """A pending affine map ``h -> A h + c``; ``weight is None`` means ``A = I``."""

    weight: _Arr | None  # (out, in)
    bias: _Arr  # (out,)


def _scale(a: _Arr, s: float) -> _Arr:
    """``s * a`` exactly (stays float64 when ``s == 1``)."""
    if s == 1.0:
        return a
    scaled: _Arr = exact_array(a) * Fraction(s)
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
    return exact_array(a) + exact_array(b)


def compose(first: Affine | None, a: _Arr | None, c: _Arr) -> Affine:
    """``(a, c) o first``: the map ``h -> a (A h + b) + c``; ``a is None`` means identity."""
    if first is None:
        return Affine(a, c)
    if a is None:
        return Affine(first.weight, _add(first.bias, c))
    weight = a if first.weight is None else exact_array(a) @ exact_array(first.weight)
    bias = c if _is_zero(first.bias) else _add(exact_array(a) @ exact_array(first.bias), c)
    return Affine(weight, bias)


def _folded_size(op: str, ins: list[Any]) -> int | None:
    """How many values a constant node of ``op`` makes from its inputs ``ins``, for the ops
    whose output size is not bounded by their inputs' (``ConstantOfShape``, ``Expand``:
    a shape; ``Range``: start, limit, delta), before the node is evaluated; None for the
    others."""
    try:
        if op == "ConstantOfShape":
            return math.prod(max(int(d), 0) for d in np.ravel(ins[0]))
        if op == "Expand" and len(ins) == 2:
            return math.prod(max(int(d), 1) for d in np.ravel(ins[1])) * max(int(ins[0].size), 1)
        if op == "Range" and len(ins) == 3:
            start, stop, delta = (float(np.ravel(v)[0]) for v in ins)
            if delta == 0 or not all(map(math.isfinite, (start, stop, delta))):
                return None  # the evaluator refuses it
            return max(math.ceil((stop - start) / delta), 0)
    except (ValueError, OverflowError, IndexError, TypeError):
        return None
    return None


class Reader:
    """State of one :func:`~geninv.io.onnx_io.import_onnx` call: the file name and the
    constant tensors."""

    def __init__(self, path: str, model: onnx.ModelProto) -> None:
        self.path = path
        self.graph = model.graph
        self.opsets = list(model.opset_import)
        self.consts: dict[str, TensorProto] = {t.name: t for t in self.graph.initializer}
        self.const_arrays: dict[str, _Arr] = {}
        self.unit = 2.0**-53  # largest unit roundoff of the float tensors read
        self.folded: set[int] = set()  # nodes computed from constants alone (fold_constants)

    def fold_constants(self) -> None:
        """Evaluate the nodes of :data:`FOLDABLE` ops whose inputs are all constants (an
        exporter's shape arithmetic, e.g. PyTorch's ``Pad`` subgraph of ``ConstantOfShape``,
        ``Concat``, ``Slice``, ...) with ONNX's reference evaluator; their outputs become
        constants and the nodes leave the chain (:attr:`folded`)."""
        outputs = {o.name for o in self.graph.output}
        for index, node in enumerate(self.graph.node):
            if node.op_type == "Constant" and len(node.output) == 1 and not node.input:
                attrs = {a.name for a in node.attribute}
                if attrs == {"value"}:
                    self.add_constant_node(index, node)
                    self.folded.add(index)
                continue
            if node.op_type not in FOLDABLE or node.domain not in ("", "ai.onnx"):
                continue
            ins = [n for n in node.input if n]
            if not ins or any(n not in self.consts for n in ins) or set(node.output) & outputs:
                continue
            feeds = {n: numpy_helper.to_array(self.consts[n]) for n in ins}
            size = _folded_size(node.op_type, [feeds[n] for n in ins])
            if size is not None and size > limit("vector"):
                raise self.parse_error(
                    index,
                    node,
                    f"this constant expression would make {size:,} values, above the limit of "
                    f"{limit('vector'):,} (GENINV_MAX_VECTOR); expected a network's shape "
                    "arithmetic",
                )
            try:
                from onnx.reference import ReferenceEvaluator

                graph = helper.make_graph(
                    [node],
                    "fold",
                    [helper.make_tensor_value_info(n, self.consts[n].data_type, None) for n in ins],
                    [
                        helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None)
                        for o in node.output
                    ],
                )
                model = helper.make_model(graph, opset_imports=list(self.opsets))
                results = ReferenceEvaluator(model).run(None, feeds)
            except Exception as exc:
                raise self.unsupported(
                    index,
                    node,
                    f"cannot evaluate this constant expression ({one_line(str(exc), 120)})",
                ) from None
            for name, value in zip(node.output, results, strict=True):
                self.consts[name] = numpy_helper.from_array(np.asarray(value), name)
            self.folded.add(index)

    # -------------------------------------------------------------- messages
    @staticmethod
    def node_label(index: int, node: onnx.NodeProto) -> str:
        """How messages name a node: ``node INDEX 'NAME' (OP)`` (the name left out when empty)."""
        name = f" '{node.name}'" if node.name else ""
        return f"node {index}{name} ({node.op_type})"

    def unsupported(self, index: int, node: onnx.NodeProto, what: str) -> UnsupportedError:
        """An :class:`~geninv.errors.UnsupportedError` (one line, naming the file and node) for
        the caller to raise."""
        label = self.node_label(index, node)
        return UnsupportedError(one_line(f"{self.path}: {label}: {what}", 400))

    def parse_error(self, index: int, node: onnx.NodeProto, what: str) -> ParseError:
        """A :class:`~geninv.errors.ParseError` (one line, naming the file and node) for the
        caller to raise."""
        return ParseError(one_line(f"{self.node_label(index, node)}: {what}", 400), self.path)

    # -------------------------------------------------------------- tensors
    def array(self, name: str, index: int, node: onnx.NodeProto) -> _Arr:
        """A constant tensor as float64, refusing non-float and non-finite values."""
        if name in self.const_arrays:
            return self.const_arrays[name]
        tensor = self.consts[name]
        if tensor.data_type not in FLOAT_TYPES:
            type_name = element_type_name(tensor.data_type)
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
        self.unit = max(self.unit, UNIT_ROUNDOFF[FLOAT_TYPES[tensor.data_type]])
        return arr

    def add_constant_node(self, index: int, node: onnx.NodeProto) -> None:
        """Record a ``Constant`` node's ``value`` tensor under its output name; other forms raise
        (one output, a ``value`` attribute only)."""
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


def shape_op(
    reader: Reader,
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


def affine_of(
    reader: Reader,
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
    reader: Reader, index: int, node: onnx.NodeProto, c: _Arr, m: int, what: str
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


def activation_of(reader: Any, index: int, node: onnx.NodeProto) -> str:
    """The geninv spec of an activation node; LeakyRelu's and Elu's ``alpha`` is the exact
    value of the float32 the attribute stores (defaults: float32 0.01 and 1.0, as
    onnxruntime uses); a negative or non-finite alpha is refused (geninv's activations
    are monotone)."""
    op = node.op_type
    allowed = {"alpha"} if op in ("LeakyRelu", "Elu") else set()
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
    if op == "Elu":
        alpha = 1.0
        for attr in node.attribute:
            alpha = float(attr.f)
        if not (np.isfinite(alpha) and alpha >= 0):
            raise reader.unsupported(index, node, f"Elu alpha {alpha}; expected >= 0")
        return f"elu:{Fraction(alpha)}"
    return {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}[op]


def chain_slot(reader: Reader, index: int, node: onnx.NodeProto, current: str) -> int:
    """The input slot of ``node`` that reads the running tensor ``current``; refuses
    branches, skip connections and inputs that are neither it nor a constant."""
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
    return data_slots[0]
