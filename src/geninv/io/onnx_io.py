"""Read and write ReLU networks as ONNX models.

Export
------
:func:`export_onnx` writes the network of eq. (3),

    h_0 = z,   h_l = act_l(W_l h_{l-1} + b_l),   x = h_L,

as a chain of ONNX nodes ``Gemm(h, W_l, b_l, transB=1)`` followed by ``Relu``
(omitted after the last layer when it is affine).  A row vector ``h`` of shape
``[1, m]`` times ``W_l^T`` is exactly ``(W_l h)^T``, so ``transB=1`` lets the
initializers keep geninv's ``(out, in)`` layout.  The graph input is ``"z"`` of
shape ``[1, n]`` and the output ``"x"`` of shape ``[1, q]``.

Import
------
:func:`import_onnx` reads any *chain* of affine nodes (``Gemm``, ``MatMul``,
``Add``) and ``Relu`` nodes.  Every affine node is an affine map
``h -> A h + c`` of the running activation:

* ``Gemm(h, B, C; alpha, beta, transB)`` (``transA = 0``):
  ``A = alpha * B^T`` (``transB = 0``) or ``alpha * B`` (``transB = 1``), ``c = beta * C``
  broadcast to the output width (``C`` absent means ``c = 0``);
* ``MatMul(h, B)``: ``A = B^T``, ``c = 0``;
* ``Add(h, C)`` or ``Add(C, h)``: ``A = I``, ``c = C``.

Consecutive affine maps with no ``Relu`` between them are composed,
``(A_2, c_2) o (A_1, c_1) = (A_2 A_1, A_2 c_1 + c_2)``, so ``MatMul`` + ``Add``
becomes one layer and two stacked ``Gemm`` nodes become one.  Each ``Relu``
closes a layer; a graph that ends on an affine map gets
``final_activation="identity"``.

All scaling by ``alpha``/``beta`` and all composition is done in exact rational
arithmetic on the exact values of the stored floats; when the result is not a
float64 the :class:`~geninv.network.ReLUNetwork` keeps it as exact Fractions
(and its float copy is the nearest float64).  The plain cases (``alpha = beta =
1``, no composition) never leave float64 and are exact as well.

Anything outside this subset (another op type, a ``Relu`` before any affine
node, a branching or residual graph, several inputs or outputs, non-float or
non-finite weights) raises :class:`~geninv.errors.UnsupportedError` or
:class:`~geninv.errors.ParseError` with a one-line message naming the file, the
node (index in ``graph.node``, name and op type) and what was expected.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from geninv.errors import GeninvError, ParseError, UnsupportedError, ValidationError
from geninv.io.limits import check_file_size, limit
from geninv.network import ReLUNetwork

__all__ = ["IR_VERSION", "OPSET", "export_onnx", "import_onnx"]

#: Operator set written by :func:`export_onnx` (Gemm and Relu are unchanged since 13).
OPSET = 13
#: IR version written by :func:`export_onnx`; 8 is read by onnxruntime >= 1.10.
IR_VERSION = 8

_SUPPORTED = "geninv reads only Gemm, MatMul, Add, Relu, LeakyRelu, Sigmoid and Tanh"
_FLOAT_TYPES = {
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


#: activation -> ONNX op written after each Gemm (none for the identity)
_EXPORT_OPS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
#: ONNX activation ops read, each closing one layer
_IMPORT_OPS = ("Relu", "LeakyRelu", "Sigmoid", "Tanh")


def _activation_of(reader: Any, index: int, node: onnx.NodeProto) -> str:
    op = node.op_type
    if op == "LeakyRelu":
        alpha = 0.01  # the ONNX default
        for attr in node.attribute:
            if attr.name == "alpha":
                alpha = float(attr.f)
        if not (np.isfinite(alpha) and alpha >= 0):
            raise reader.unsupported(index, node, f"LeakyRelu alpha {alpha}; expected >= 0")
        return f"leaky_relu:{Fraction(alpha)}"
    return {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}[op]


# ====================================================================== export
def export_onnx(network: ReLUNetwork, path: str | Path, dtype: str = "auto") -> None:
    """Write ``network`` to ``path`` as an ONNX model of Gemm and Relu nodes.

    ``dtype`` selects the tensor element type: ``"float32"``, ``"float64"`` or
    ``"auto"`` (float32 when every parameter is exactly a float32, see
    :meth:`ReLUNetwork.is_float32_exact`, or when the network has a LeakyReLU,
    which onnxruntime implements only in float32; else float64).  Weights are always
    stored as floats: a network with exact rational weights that no float holds
    (e.g. 1/3, :meth:`ReLUNetwork.is_float_exact` is False) is exported with the
    nearest float64 (or, when float32 is forced, the nearest float32 of that),
    so the ONNX model then only approximates the exact network.

    The model is checked with :func:`onnx.checker.check_model` and written
    atomically: to a temporary file in the same directory, then renamed over
    ``path``.  Opset :data:`OPSET`, IR version :data:`IR_VERSION`.
    """
    if dtype == "auto":
        leaky = any(layer.activation == "leaky_relu" for layer in network.layers)
        # onnxruntime implements LeakyRelu for float32 only; trained generators are float32
        dtype = "float32" if network.is_float32_exact() or leaky else "float64"
    if dtype not in ("float32", "float64"):
        raise ValidationError(f"ONNX dtype must be 'auto', 'float32' or 'float64', got {dtype!r}")
    np_dtype = np.float32 if dtype == "float32" else np.float64
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE

    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    current = "z"
    last = network.depth
    for l_idx, layer in enumerate(network.layers, start=1):
        w_name, b_name = f"W{l_idx}", f"b{l_idx}"
        inits.append(numpy_helper.from_array(np.asarray(layer.weight, dtype=np_dtype), w_name))
        inits.append(numpy_helper.from_array(np.asarray(layer.bias, dtype=np_dtype), b_name))
        act_op = _EXPORT_OPS.get(layer.activation)
        pre = "x" if (l_idx == last and act_op is None) else f"a{l_idx}"
        nodes.append(
            helper.make_node(
                "Gemm", [current, w_name, b_name], [pre], name=f"Gemm_{l_idx}", transB=1
            )
        )
        current = pre
        if act_op is not None:
            post = "x" if l_idx == last else f"h{l_idx}"
            node = helper.make_node(act_op, [current], [post], name=f"{act_op}_{l_idx}")
            if act_op == "LeakyRelu":
                node.attribute.append(helper.make_attribute("alpha", float(layer.negative_slope)))
            nodes.append(node)
            current = post

    graph = helper.make_graph(
        nodes,
        "geninv_relu_network",
        [helper.make_tensor_value_info("z", elem, [1, network.n_inputs])],
        [helper.make_tensor_value_info("x", elem, [1, network.n_outputs])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="geninv",
        doc_string=f"geninv ReLU network {network.describe()}",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    _atomic_write_bytes(Path(path), model.SerializeToString())


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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


def import_onnx(path: str | Path) -> ReLUNetwork:
    """Read a ReLU network from a chain of Gemm / MatMul / Add / Relu ONNX nodes.

    See the module docstring for the exact subset and the maths.  The input may
    have shape ``[n]``, ``[1, n]`` or a (symbolic) batch ``[N, n]``.  Weights come
    from initializers or ``Constant`` nodes (a ``value`` tensor) and must be
    finite floats (float16, bfloat16, float32 or float64; converted exactly).

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
        if node.op_type not in ("Gemm", "MatMul", "Add", "Constant", *_IMPORT_OPS):
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
    current = inputs[0].name
    out_name = graph.output[0].name

    layers: list[_Affine] = []
    acts: list[str] = []
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
            assert pending.weight is not None
            width = int(pending.weight.shape[0])
            pending = None
        else:
            a, c = _affine_of(reader, index, node, slot, width)
            pending = _compose(pending, a, c)
            if a is not None:
                width = int(a.shape[0])
            elif width is None:
                width = int(c.shape[0])
        current = node.output[0]

    if current != out_name:
        raise UnsupportedError(
            f"{shown}: graph output '{out_name}' is not the end of the Gemm/MatMul/Add/Relu chain "
            f"(which ends at '{current}')"
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
    return network


def _affine_of(
    reader: _Reader, index: int, node: onnx.NodeProto, slot: int, width: int | None
) -> tuple[_Arr | None, _Arr]:
    """The affine map ``h -> a h + c`` of one Gemm / MatMul / Add node (``a is None``: identity)."""
    op = node.op_type
    ins = list(node.input)

    def check_in(n_in: int) -> None:
        if width is not None and n_in != width:
            raise reader.unsupported(
                index,
                node,
                f"weight expects {n_in} inputs but the previous layer has {width} values",
            )

    if op == "Add":
        if len(ins) != 2:
            raise reader.parse_error(index, node, f"Add has {len(ins)} inputs; expected 2")
        c = reader.array(ins[1 - slot], index, node)
        m = width if width is not None else (int(c.shape[-1]) if c.ndim >= 1 else 1)
        if width is None and m == 1:
            raise reader.unsupported(
                index, node, "cannot tell the layer width (no input shape and a scalar addend)"
            )
        return None, _bias_vector(reader, index, node, c, m, "Add addend")

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
        return a, np.zeros(a.shape[0], dtype=np.float64)

    # Gemm: Y = alpha * A' B' + beta * C
    if not 2 <= len(ins) <= 3:
        raise reader.parse_error(index, node, f"Gemm has {len(ins)} inputs; expected 2 or 3")
    if slot != 0:
        raise reader.unsupported(index, node, "expected the activation as the first Gemm input (A)")
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
    return a, c


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
