"""Write a ReLU network as an ONNX model (see :mod:`geninv.io.onnx_io` for the layout)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from geninv.errors import ValidationError
from geninv.network import ReLUNetwork

__all__ = ["IR_VERSION", "OPSET", "export_onnx"]

#: Operator set written by :func:`export_onnx` (Gemm and Relu are unchanged since 13).
OPSET = 13
#: IR version written by :func:`export_onnx`; 8 is read by onnxruntime >= 1.10.
IR_VERSION = 8

#: activation -> ONNX op written after each Gemm (none for the identity)
_EXPORT_OPS = {
    "relu": "Relu",
    "leaky_relu": "LeakyRelu",
    "elu": "Elu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
}


# ====================================================================== export
def export_onnx(network: ReLUNetwork, path: str | Path, dtype: str = "auto") -> None:
    """Write ``network`` to ``path`` as an ONNX model of Gemm and Relu nodes.

    A network with structured (convolutional) layers is written with ``Conv``,
    ``ConvTranspose``, ``Resize``, ``Pad``, ``Mul``, ``Gemm``, ``Reshape`` and ``Add``
    nodes (:mod:`geninv.io.onnx_export_conv`), its input ``z`` of shape
    ``[1, C, H, W]``; no dense matrix is built.

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
        leaky = any(layer.activation in ("leaky_relu", "elu") for layer in network.layers)
        # onnxruntime implements LeakyRelu and Elu for float32 only; trained generators are
        # float32
        dtype = "float32" if network.is_float32_exact() or leaky else "float64"
        if network.is_structured:  # never round a convolutional network's weights
            dtype = "float32" if network.is_float32_exact() else "float64"
    if dtype not in ("float32", "float64"):
        raise ValidationError(f"ONNX dtype must be 'auto', 'float32' or 'float64', got {dtype!r}")
    np_dtype = np.float32 if dtype == "float32" else np.float64
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE

    if network.is_structured:
        from geninv.io.onnx_export_conv import export_structured

        parts = export_structured(network, np_dtype)
        _write_model(network, path, parts[0], parts[1], elem, parts[2], parts[3])
        return
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
            if act_op in ("LeakyRelu", "Elu"):
                node.attribute.append(helper.make_attribute("alpha", float(layer.negative_slope)))
            nodes.append(node)
            current = post

    _write_model(network, path, nodes, inits, elem, [1, network.n_inputs], [1, network.n_outputs])


def _write_model(
    network: ReLUNetwork,
    path: str | Path,
    nodes: list[onnx.NodeProto],
    inits: list[TensorProto],
    elem: int,
    in_dims: list[int],
    out_dims: list[int],
) -> None:
    """Check the graph from ``z`` (``in_dims``) to ``x`` (``out_dims``) and write it atomically."""
    graph = helper.make_graph(
        nodes,
        "geninv_relu_network",
        [helper.make_tensor_value_info("z", elem, in_dims)],
        [helper.make_tensor_value_info("x", elem, out_dims)],
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
