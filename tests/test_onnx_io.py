"""ONNX export/import: round trips through onnxruntime, hand-built graphs, refusals."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from geninv.errors import GeninvError, ParseError, UnsupportedError, ValidationError
from geninv.io.onnx_io import IR_VERSION, OPSET, export_onnx, import_onnx
from geninv.network import Activation, ReLUNetwork


# ---------------------------------------------------------------- helpers
def random_network(
    rng: np.random.Generator, final: Activation, float32: bool = False, sparse: bool = False
) -> ReLUNetwork:
    n = int(rng.integers(1, 7))
    widths = [int(w) for w in rng.integers(1, 8, size=int(rng.integers(1, 5)))]
    weights: list[Any] = []
    biases: list[Any] = []
    prev = n
    for w in widths:
        W = rng.normal(size=(w, prev))
        b = rng.normal(size=w)
        if sparse:
            W[rng.random(W.shape) < 0.4] = 0.0
        if float32:
            W, b = W.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
        weights.append(W)
        biases.append(b)
        prev = w
    return ReLUNetwork(weights, biases, final_activation=final)


def run_ort(path: Path, z: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    elem = np.float32 if inp.type == "tensor(float)" else np.float64
    (out,) = sess.run(None, {inp.name: z.astype(elem)})
    return np.asarray(out, dtype=np.float64)


def assert_same_network(a: ReLUNetwork, b: ReLUNetwork) -> None:
    assert a.depth == b.depth
    assert a.final_activation == b.final_activation
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert la.weight.shape == lb.weight.shape
        assert np.array_equal(la.weight, lb.weight)
        assert np.array_equal(la.bias, lb.bias)
        assert la.exact_rows() == lb.exact_rows()
        assert la.exact_bias_values() == lb.exact_bias_values()


def save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = IR_VERSION
    path.write_bytes(model.SerializeToString())
    return path


def make_model(
    nodes: list[onnx.NodeProto],
    inits: dict[str, np.ndarray],
    n: int,
    q: int | None,
    in_shape: list[Any] | None = None,
    elem: int = TensorProto.DOUBLE,
    out_name: str = "x",
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("z", elem, in_shape if in_shape is not None else [1, n])],
        [helper.make_tensor_value_info(out_name, elem, None if q is None else [1, q])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def assert_one_line_error(exc: BaseException, path: Path) -> None:
    assert isinstance(exc, GeninvError)
    msg = str(exc)
    assert "\n" not in msg
    assert path.name in msg


# ---------------------------------------------------------------- export round trips
@pytest.mark.parametrize("seed", range(40))
def test_round_trip_float64(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = random_network(rng, "relu" if seed % 2 else "identity", sparse=seed % 3 == 0)
    path = tmp_path / "net.onnx"
    export_onnx(net, path)
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    assert {nd.op_type for nd in model.graph.node} <= {"Gemm", "Relu"}
    assert model.graph.input[0].name == "z" and model.graph.output[0].name == "x"
    z = rng.normal(size=(1, net.n_inputs)) * 3
    np.testing.assert_allclose(run_ort(path, z), net.forward(z), rtol=1e-12, atol=1e-12)
    assert_same_network(import_onnx(path), net)


@pytest.mark.parametrize("seed", range(20))
def test_round_trip_float32_auto(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    net = random_network(rng, "identity" if seed % 2 else "relu", float32=True)
    assert net.is_float32_exact()
    path = tmp_path / "net32.onnx"
    export_onnx(net, path)
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    z = (rng.normal(size=(1, net.n_inputs)) * 3).astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(run_ort(path, z), net.forward(z), rtol=1e-4, atol=1e-4)
    assert_same_network(import_onnx(path), net)


def test_forced_dtypes(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    net = random_network(rng, "identity")
    p32, p64 = tmp_path / "a.onnx", tmp_path / "b.onnx"
    export_onnx(net, p32, dtype="float32")
    export_onnx(net.__class__(net.weights, net.biases, "identity"), p64, dtype="float64")
    z = rng.normal(size=(1, net.n_inputs))
    np.testing.assert_allclose(run_ort(p32, z), net.forward(z), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(run_ort(p64, z), net.forward(z), rtol=1e-12, atol=1e-12)
    # the float32 file holds the float32 rounding of every weight
    back = import_onnx(p32)
    for la, lb in zip(back.layers, net.layers, strict=True):
        assert np.array_equal(la.weight, lb.weight.astype(np.float32).astype(np.float64))
    # a float32-exact network can still be forced to float64
    small = ReLUNetwork([[[1, 2]]], [[0.5]])
    export_onnx(small, p64, dtype="float64")
    assert onnx.load(str(p64)).graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    with pytest.raises(ValidationError):
        export_onnx(small, tmp_path / "c.onnx", dtype="float16")


def test_export_rational_weights_nearest_float(tmp_path: Path) -> None:
    net = ReLUNetwork([[["1/3", 1]], [[2]]], [["1/10"], [0]], final_activation="identity")
    assert not net.is_float_exact()
    path = tmp_path / "third.onnx"
    export_onnx(net, path)
    back = import_onnx(path)
    assert back.layers[0].weight[0, 0] == 1 / 3
    assert back.layers[0].bias[0] == 0.1
    assert back.is_float_exact()


def test_export_is_atomic_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old content")
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)])
    export_onnx(net, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    assert_same_network(import_onnx(path), net)
    onnx.checker.check_model(onnx.load(str(path)))
    with pytest.raises(OSError):
        export_onnx(net, tmp_path / "missing-dir" / "m.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


# ---------------------------------------------------------------- hand-built graphs
def test_matmul_add_both_sides(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    W1, b1 = rng.normal(size=(3, 4)), rng.normal(size=4)  # MatMul weights are (in, out)
    W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=(1, 2))
    nodes = [
        helper.make_node("MatMul", ["z", "W1"], ["m1"], name="mm1"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], name="add1"),
        helper.make_node("Relu", ["a1"], ["h1"], name="relu1"),
        helper.make_node("MatMul", ["h1", "W2"], ["m2"], name="mm2"),
        helper.make_node("Add", ["b2", "m2"], ["x"], name="add2"),  # bias on the left
    ]
    path = save(
        make_model(nodes, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, 3, 2), tmp_path / "mm.onnx"
    )
    net = import_onnx(path)
    assert net.widths == [4, 2] and net.final_activation == "identity"
    assert np.array_equal(net.layers[0].weight, W1.T)
    assert np.array_equal(net.layers[0].bias, b1)
    assert np.array_equal(net.layers[1].weight, W2.T)
    assert np.array_equal(net.layers[1].bias, b2[0])
    z = rng.normal(size=(1, 3))
    np.testing.assert_allclose(run_ort(path, z), net.forward(z), rtol=1e-12, atol=1e-12)


def test_matmul_without_add_and_1d_input(tmp_path: Path) -> None:
    W = np.array([[1.0, -2.0], [0.5, 3.0], [0.0, 1.0]])
    nodes = [
        helper.make_node("MatMul", ["z", "W"], ["m"]),
        helper.make_node("Relu", ["m"], ["x"]),
    ]
    model = make_model(nodes, {"W": W}, 3, None, in_shape=[3])
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2]))
    path = save(model, tmp_path / "mm1d.onnx")
    net = import_onnx(path)
    assert net.final_activation == "relu"
    assert np.array_equal(net.layers[0].weight, W.T)
    assert np.array_equal(net.layers[0].bias, np.zeros(2))
    z = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(run_ort(path, z), net.forward(z), rtol=1e-12)


def test_symbolic_batch_input(tmp_path: Path) -> None:
    W = np.array([[2.0, 0.0, 1.0]])
    nodes = [helper.make_node("Gemm", ["z", "W"], ["x"], transB=1)]
    model = make_model(nodes, {"W": W}, 3, None, in_shape=["N", 3])
    path = save(model, tmp_path / "batch.onnx")
    net = import_onnx(path)
    assert net.n_inputs == 3 and net.n_outputs == 1 and net.final_activation == "identity"
    z = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(run_ort(path, z), net.forward(z))


def test_gemm_transb0_alpha_beta(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    B = rng.integers(-4, 5, size=(3, 2)).astype(np.float64)  # transB=0: B is (in, out)
    C = np.array([1.0, -3.0])
    nodes = [
        helper.make_node("Gemm", ["z", "B", "C"], ["g"], name="g", alpha=0.5, beta=2.0),
        helper.make_node("Relu", ["g"], ["x"], name="r"),
    ]
    path = save(make_model(nodes, {"B": B, "C": C}, 3, 2), tmp_path / "gemm.onnx")
    net = import_onnx(path)
    assert np.array_equal(net.layers[0].weight, 0.5 * B.T)
    assert np.array_equal(net.layers[0].bias, 2.0 * C)
    z = rng.normal(size=(1, 3))
    np.testing.assert_allclose(run_ort(path, z), net.forward(z), rtol=1e-12, atol=1e-12)


def test_gemm_alpha_applied_exactly(tmp_path: Path) -> None:
    # alpha = float32(0.1); alpha * 3 is not a float64, so the network keeps the exact rational
    B = np.array([[3.0], [1.0]])
    nodes = [helper.make_node("Gemm", ["z", "B"], ["x"], alpha=0.1)]
    path = save(make_model(nodes, {"B": B}, 2, 1), tmp_path / "alpha.onnx")
    net = import_onnx(path)
    alpha = Fraction(float(np.float32(0.1)))
    assert net.layers[0].exact_rows() == [((0, 1), (3 * alpha, alpha))]
    assert net.forward_exact([1, 1]) == [4 * alpha]


def test_two_gemms_composed(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    W1, b1 = (
        rng.integers(-3, 4, size=(4, 3)).astype(float),
        rng.integers(-3, 4, size=4).astype(float),
    )
    W2, b2 = (
        rng.integers(-3, 4, size=(2, 4)).astype(float),
        rng.integers(-3, 4, size=2).astype(float),
    )
    W3, b3 = rng.normal(size=(2, 2)), rng.normal(size=2)
    nodes = [
        helper.make_node("Gemm", ["z", "W1", "b1"], ["g1"], transB=1),
        helper.make_node("Gemm", ["g1", "W2", "b2"], ["g2"], transB=1),
        helper.make_node("Relu", ["g2"], ["h2"]),
        helper.make_node("Gemm", ["h2", "W3", "b3"], ["x"], transB=1),
    ]
    inits = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    path = save(make_model(nodes, inits, 3, 2), tmp_path / "two.onnx")
    net = import_onnx(path)
    assert net.depth == 2 and net.final_activation == "identity"
    assert np.array_equal(net.layers[0].weight, W2 @ W1)  # small integers: exact in float64
    assert np.array_equal(net.layers[0].bias, W2 @ b1 + b2)
    assert np.array_equal(net.layers[1].weight, W3)
    z = rng.normal(size=(1, 3))
    np.testing.assert_allclose(run_ort(path, z), net.forward(z), rtol=1e-10, atol=1e-10)


def test_composition_is_exact(tmp_path: Path) -> None:
    # 0.1 * 0.1 is not a float64: the composed weight must be the exact product
    W1, W2 = np.array([[0.1]]), np.array([[0.1]])
    nodes = [
        helper.make_node("MatMul", ["z", "W1"], ["m"]),
        helper.make_node("MatMul", ["m", "W2"], ["x"]),
    ]
    path = save(make_model(nodes, {"W1": W1, "W2": W2}, 1, 1), tmp_path / "exact.onnx")
    net = import_onnx(path)
    assert net.layers[0].exact_rows() == [((0,), (Fraction(0.1) ** 2,))]


def test_constant_node_and_trailing_add(tmp_path: Path) -> None:
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    nodes = [
        helper.make_node("Constant", [], ["Wc"], value=numpy_helper.from_array(W, "Wc")),
        helper.make_node("MatMul", ["z", "Wc"], ["m"]),
        helper.make_node("Relu", ["m"], ["h"]),
        helper.make_node("Add", ["h", "c"], ["x"]),
    ]
    path = save(make_model(nodes, {"c": np.array([0.5, -0.5])}, 2, 2), tmp_path / "const.onnx")
    net = import_onnx(path)
    assert net.depth == 2 and net.final_activation == "identity"
    assert np.array_equal(net.layers[1].weight, np.eye(2))
    assert np.array_equal(net.layers[1].bias, [0.5, -0.5])
    z = np.array([[1.0, -0.25]])
    np.testing.assert_allclose(run_ort(path, z), net.forward(z))


def test_float32_graph_imports_exact_values(tmp_path: Path) -> None:
    W = np.array([[0.1, -0.2]], dtype=np.float32)
    nodes = [helper.make_node("Gemm", ["z", "W"], ["x"], transB=1)]
    model = make_model(nodes, {"W": W}, 2, 1, elem=TensorProto.FLOAT)
    net = import_onnx(save(model, tmp_path / "f32.onnx"))
    assert net.layers[0].weight[0, 0] == float(np.float32(0.1))


# ---------------------------------------------------------------- refusals
def _gemm_relu_nodes() -> list[onnx.NodeProto]:
    return [
        helper.make_node("Gemm", ["z", "W", "b"], ["a"], name="Gemm_0", transB=1),
        helper.make_node("Relu", ["a"], ["h"], name="Relu_0"),
    ]


def _inits() -> dict[str, np.ndarray]:
    return {"W": np.ones((2, 2)), "b": np.zeros(2)}


def test_refuses_two_activations_in_a_row(tmp_path: Path) -> None:
    nodes = [*_gemm_relu_nodes(), helper.make_node("Sigmoid", ["h"], ["x"], name="Sigmoid_1")]
    path = save(make_model(nodes, _inits(), 2, 2), tmp_path / "model.onnx")
    with pytest.raises(UnsupportedError) as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)
    msg = str(info.value)
    assert "node 2 'Sigmoid_1' (Sigmoid)" in msg
    assert "before any affine node" in msg


def test_refuses_softmax(tmp_path: Path) -> None:
    nodes = [*_gemm_relu_nodes()[:1], helper.make_node("Softmax", ["a"], ["x"], name="sm")]
    path = save(make_model(nodes, _inits(), 2, 2), tmp_path / "model.onnx")
    with pytest.raises(UnsupportedError, match=r"node 1 'sm' \(Softmax\): unsupported op") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)
    assert "LeakyRelu, Elu, Sigmoid and Tanh" in str(info.value)


@pytest.mark.parametrize(
    "acts", [["leaky_relu:0.25", "sigmoid"], ["relu", "tanh"], ["leaky_relu:1/8", "leaky_relu:0.5"]]
)
def test_generator_activations_round_trip(tmp_path: Path, acts: list[str]) -> None:
    rng = np.random.default_rng(1)
    net = ReLUNetwork(
        [rng.normal(size=(6, 3)), rng.normal(size=(4, 6))],
        [rng.normal(size=6), np.zeros(4)],
        activations=acts,
    )
    path = tmp_path / "g.onnx"
    export_onnx(net, path)
    leaky = any(a.startswith("leaky") for a in acts)
    back = import_onnx(path)
    assert back.activations == net.activations
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = rng.normal(size=(20, 3))
    tol = 1e-5 if leaky else 1e-12
    for row in z:
        x = row[None, :].astype(np.float32 if leaky else np.float64)
        got = sess.run(None, {"z": x})[0][0]
        assert np.allclose(got, net.forward(row), rtol=tol, atol=tol)
        exact = [float(v) for v in net.forward_exact([float(v) for v in row])]
        assert np.allclose(exact, net.forward(row), rtol=1e-12, atol=1e-12)


def test_reads_conv(tmp_path: Path) -> None:
    # issue 17: convolutions are read (tests/test_conv_import.py has the full coverage)
    nodes = [helper.make_node("Conv", ["z", "K"], ["x"], name="conv")]
    inits = {"K": np.full((1, 1, 1, 1), 2.0)}
    model = make_model(nodes, inits, 1, None, in_shape=[1, 1, 4, 4])
    net = import_onnx(save(model, tmp_path / "conv.onnx"))
    assert net.n_inputs == 16 and net.n_outputs == 16 and net.layers[0].op is not None
    assert np.array_equal(net.forward(np.arange(16.0)), 2 * np.arange(16.0))


def test_refuses_conv_on_vector_input(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["z", "K"], ["x"], name="conv")]
    path = save(make_model(nodes, {"K": np.ones((1, 1, 1))}, 4, 4), tmp_path / "conv2.onnx")
    with pytest.raises(UnsupportedError, match=r"node 0 'conv' \(Conv\): .*only 2-D") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_nan_weight(tmp_path: Path) -> None:
    inits = _inits()
    inits["W"][1, 0] = np.nan
    path = save(make_model(_gemm_relu_nodes(), inits, 2, 2, out_name="h"), tmp_path / "nan.onnx")
    with pytest.raises(UnsupportedError, match="NaN") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)
    assert "'W'" in str(info.value) and "node 0 'Gemm_0' (Gemm)" in str(info.value)


def test_refuses_int_weight(tmp_path: Path) -> None:
    inits: dict[str, np.ndarray] = {"W": np.ones((2, 2), dtype=np.int64), "b": np.zeros(2)}
    path = save(make_model(_gemm_relu_nodes(), inits, 2, 2, out_name="h"), tmp_path / "int.onnx")
    with pytest.raises(UnsupportedError, match="INT64") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_relu_first(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["z"], ["x"], name="r0")]
    path = save(make_model(nodes, {}, 2, 2), tmp_path / "relu.onnx")
    with pytest.raises(UnsupportedError, match="Relu before any affine") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_branching(tmp_path: Path) -> None:
    nodes = [
        *_gemm_relu_nodes(),
        helper.make_node("Gemm", ["h", "W", "b"], ["a2"], name="g2", transB=1),
        helper.make_node("Add", ["a2", "h"], ["x"], name="skip"),  # residual connection
    ]
    path = save(make_model(nodes, _inits(), 2, 2), tmp_path / "res.onnx")
    with pytest.raises(UnsupportedError, match="chain") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)
    assert "node 3 'skip' (Add)" in str(info.value)


def test_refuses_two_inputs_and_outputs(tmp_path: Path) -> None:
    model = make_model(_gemm_relu_nodes(), _inits(), 2, 2, out_name="h")
    model.graph.input.append(helper.make_tensor_value_info("z2", TensorProto.DOUBLE, [1, 2]))
    path = save(model, tmp_path / "two_in.onnx")
    with pytest.raises(UnsupportedError, match="2 inputs") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)

    model = make_model(_gemm_relu_nodes(), _inits(), 2, 2, out_name="h")
    model.graph.output.append(helper.make_tensor_value_info("a", TensorProto.DOUBLE, [1, 2]))
    path = save(model, tmp_path / "two_out.onnx")
    with pytest.raises(UnsupportedError, match="2 outputs") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_transa(tmp_path: Path) -> None:
    nodes = [helper.make_node("Gemm", ["z", "W"], ["x"], name="g", transA=1)]
    path = save(make_model(nodes, _inits(), 2, 2), tmp_path / "ta.onnx")
    with pytest.raises(UnsupportedError, match="transA") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_output_not_at_chain_end(tmp_path: Path) -> None:
    path = save(make_model(_gemm_relu_nodes(), _inits(), 2, 2, out_name="a"), tmp_path / "o.onnx")
    with pytest.raises(UnsupportedError) as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.onnx"
    with pytest.raises(ParseError, match="not a readable ONNX model") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ParseError, match="not a readable ONNX model") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


@pytest.mark.parametrize(
    "data",
    [b"\x00\xff" * 50, b"not an onnx model at all\n", bytes(range(256)), b"\x08"],
    ids=["binary", "text", "bytes", "one-byte"],
)
def test_refuses_corrupt_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(data)
    with pytest.raises(ParseError, match="not a readable ONNX model") as info:
        import_onnx(path)
    assert_one_line_error(info.value, path)


def test_refuses_every_truncation(tmp_path: Path) -> None:
    good = tmp_path / "good.onnx"
    export_onnx(ReLUNetwork([[[1, 2], [3, 4]], [[1, -1]]], [[0, 1], [2]]), good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.onnx"
    for cut in range(len(data)):
        bad.write_bytes(data[:cut])
        with pytest.raises(GeninvError) as info:
            import_onnx(bad)
        assert_one_line_error(info.value, bad)


def test_refuses_directory(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as info:
        import_onnx(tmp_path)
    assert_one_line_error(info.value, tmp_path)
