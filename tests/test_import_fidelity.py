"""Imports are faithful or refused; structural analyses refuse what they do not handle.

Every importer (ONNX file, VNN-COMP pair, torch state dict / nn.Sequential)
x every activation geninv reads (relu, identity, leaky_relu 0.01 and 0.5,
sigmoid, tanh) is compared with onnxruntime / torch on random points; a
reading that differs, and every op outside the subset, is refused with the
node named.  Each structural analysis (clamp box, discrete folding, corner
presolve, the exact backends' bound propagation) either refuses an activation
or gives a result an independent exact check confirms.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from fractions import Fraction
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from torch import nn

from geninv.analysis import CLAMP_BOX_ACTIVATIONS, input_clamp_box
from geninv.budget import Budget
from geninv.cli import main
from geninv.errors import UnsupportedError
from geninv.io import onnx_io
from geninv.io.onnx_io import import_onnx
from geninv.io.torch_io import from_sequential, from_state_dict
from geninv.io.vnncomp import problem_from_vnncomp
from geninv.io.vnnlib import read_vnnlib
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.reductions.fold import fold_discrete_prefix
from geninv.solvers import corners
from geninv.solvers.base import REGISTRY
from geninv.solvers.milp import HANDLED_ACTIVATIONS, compute_bounds

#: (geninv spec, ONNX op or None for the identity, LeakyRelu alpha)
ACTS: list[tuple[str, str | None, float | None]] = [
    ("relu", "Relu", None),
    ("identity", None, None),
    ("leaky_relu", "LeakyRelu", 0.01),
    ("leaky_relu", "LeakyRelu", 0.5),
    ("sigmoid", "Sigmoid", None),
    ("tanh", "Tanh", None),
]
ACT_IDS = ["relu", "identity", "leaky0.01", "leaky0.5", "sigmoid", "tanh"]
SPECS = ["relu", "identity", "leaky_relu:1/100", "leaky_relu:1/2", "sigmoid", "tanh"]


def _spec(act: str, alpha: float | None) -> str:
    """geninv's spelling of an ONNX activation (alpha: the exact float32 value)."""
    if act != "leaky_relu":
        return act
    return f"leaky_relu:{Fraction(float(np.float32(alpha)))}"


def onnx_chain(
    nodes_spec: list[Any],
    n: int,
    q: int,
    dtype: Any = np.float32,
    inits: dict[str, np.ndarray] | None = None,
) -> onnx.ModelProto:
    """A model z -> ... -> x from (op, inputs, attrs, name) tuples; 'h' is the running value."""
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    nodes = []
    cur = "z"
    for k, (op, extra, attrs, name) in enumerate(nodes_spec):
        out = "x" if k == len(nodes_spec) - 1 else f"t{k}"
        ins = [cur if e == "h" else e for e in extra]
        nodes.append(helper.make_node(op, ins, [out], name=name, **attrs))
        cur = out
    tensors = [
        numpy_helper.from_array(np.asarray(v, dtype=v.dtype), k) for k, v in (inits or {}).items()
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("z", elem, [1, n])],
        [helper.make_tensor_value_info("x", elem, [1, q])],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def two_layer(
    act: str | None, alpha: float | None, dtype: Any, seed: int = 0
) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Gemm -> act -> Gemm (-> act), written with onnx.helper."""
    rng = np.random.default_rng(seed)
    inits = {
        "W1": rng.normal(size=(5, 3)).astype(dtype),
        "b1": rng.normal(size=5).astype(dtype),
        "W2": rng.normal(size=(3, 5)).astype(dtype),
        "b2": rng.normal(size=3).astype(dtype),
    }
    spec: list[Any] = [("Gemm", ["h", "W1", "b1"], {"transB": 1}, "g1")]
    if act is not None:
        attrs = {} if alpha is None else {"alpha": alpha}
        spec.append((act, ["h"], attrs, "act1"))
    spec.append(("Gemm", ["h", "W2", "b2"], {"transB": 1}, "g2"))
    if act is not None:
        attrs = {} if alpha is None else {"alpha": alpha}
        spec.append((act, ["h"], attrs, "act2"))
    return onnx_chain(spec, 3, 3, dtype, inits), inits


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def engine_outputs(model: onnx.ModelProto, z: np.ndarray, dtype: Any) -> np.ndarray:
    """The model's outputs by onnxruntime, or ONNX's reference evaluator where ORT has no kernel."""
    engine: Any
    try:
        engine = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # float64 LeakyRelu: no onnxruntime kernel
        engine = ReferenceEvaluator(model)
    rows = [engine.run(None, {"z": r[None, :].astype(dtype)})[0] for r in z]
    return np.stack([np.asarray(row, dtype=np.float64)[0] for row in rows])


# ====================================================================== failing example 1
def _leaky_pair(tmp_path: Path) -> tuple[Path, Path]:
    inits = {"W1": np.ones((1, 1), np.float32), "W2": np.ones((1, 1), np.float32)}
    model = onnx_chain(
        [
            ("MatMul", ["h", "W1"], {}, "mm1"),
            ("LeakyRelu", ["h"], {"alpha": 0.5}, "leaky"),
            ("MatMul", ["h", "W2"], {}, "mm2"),
        ],
        1,
        1,
        np.float32,
        inits,
    )
    onnx_path = save(model, tmp_path / "f.onnx")
    prop = tmp_path / "p.vnnlib"
    prop.write_text(
        "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"
        "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n"
        "(assert (>= Y_0 -0.5))\n(assert (<= Y_0 -0.25))\n"
    )
    return onnx_path, prop


def test_vnncomp_keeps_a_hidden_leaky_relu(tmp_path: Path) -> None:
    onnx_path, prop = _leaky_pair(tmp_path)
    problem = problem_from_vnncomp(onnx_path, prop)
    assert problem.network.activations == ["leaky_relu:1/2", "identity"]
    # z = -0.8 gives y = -0.4, inside [-0.5, -0.25]: the question's answer is yes
    check = problem.exact_check([Fraction(-4, 5)])
    assert check.in_domain and check.meets
    # and the CLI never answers "no" (it refuses: no exact backend encodes leaky_relu)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["solve", "--onnx", str(onnx_path), "--vnnlib", str(prop)])
    assert "status: no" not in out.getvalue()
    assert (rc == 0 and "status: yes" in out.getvalue()) or "leaky_relu" in err.getvalue()
    # a backend that reads leaky_relu finds the witness, re-checked exactly
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        rc = main(
            ["solve", "--onnx", str(onnx_path), "--vnnlib", str(prop), "--method", "layerwise"]
        )
    assert rc == 0 and "status: yes" in out.getvalue(), out.getvalue()


# ====================================================================== failing example 2
def _leaky_clamp_net() -> ReLUNetwork:
    """x = relu(a + 1) - relu(a), a = leaky_1/2(z): constant only for z <= -2 or z >= 0."""
    return ReLUNetwork(
        [[[1]], [[1], [1]], [[1, -1]]],
        [[0], [1, 0], [0]],
        activations=["leaky_relu:1/2", "relu", "identity"],
    )


def test_clamp_box_of_a_leaky_network_is_right() -> None:
    net = _leaky_clamp_net()
    box = input_clamp_box(net)
    assert box == ([Fraction(-2)], [Fraction(0)])
    assert net.forward_exact([Fraction(-1, 4)]) == [Fraction(7, 8)]


def test_cli_new_real_domain_writes_a_box_that_keeps_the_answer(tmp_path: Path) -> None:
    net = _leaky_clamp_net()
    from geninv.io.onnx_io import export_onnx

    export_onnx(net, tmp_path / "g.onnx")
    target = tmp_path / "t.json"
    target.write_text(json.dumps([0.0625]))  # reached at z = -15/8 only
    out = tmp_path / "inst"
    with redirect_stdout(io.StringIO()):
        rc = main(
            [
                "new",
                "--network",
                str(tmp_path / "g.onnx"),
                "--target",
                str(target),
                "--domain",
                "real",
                "-o",
                str(out),
            ]
        )
    assert rc == 0
    doc = json.loads((out / "problem.json").read_text())
    prop = read_vnnlib(out / "property.vnnlib")
    lo, hi = prop.input_lower[0], prop.input_upper[0]
    assert lo <= Fraction(-15, 8) <= hi, doc
    assert net.forward_exact([Fraction(-15, 8)]) == [Fraction(1, 16)]


# ====================================================================== importers x activations
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("spec", "act", "alpha"), [(s, a, al) for (s, a, al) in ACTS], ids=ACT_IDS)
def test_onnx_import_matches_the_engine(
    tmp_path: Path, spec: str, act: str | None, alpha: float | None, dtype: Any
) -> None:
    model, _ = two_layer(act, alpha, dtype)
    path = save(model, tmp_path / "m.onnx")
    net = import_onnx(path)
    want = _spec(spec, alpha)
    assert net.activations == ([want, want] if act else ["identity"])
    z = np.asarray(np.random.default_rng(5).normal(size=(12, 3)).astype(dtype), dtype=np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(net.forward(z), engine_outputs(model, z, dtype), rtol=tol, atol=tol)


@pytest.mark.parametrize(("spec", "act", "alpha"), [(s, a, al) for (s, a, al) in ACTS], ids=ACT_IDS)
def test_vnncomp_pair_keeps_every_activation(
    tmp_path: Path, spec: str, act: str | None, alpha: float | None
) -> None:
    model, _ = two_layer(act, alpha, np.float32, seed=3)
    path = save(model, tmp_path / "m.onnx")
    prop = tmp_path / "p.vnnlib"
    lines = [f"(declare-const X_{i} Real)" for i in range(3)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(3)]
    lines += [f"(assert (<= X_{i} 1))\n(assert (>= X_{i} -1))" for i in range(3)]
    radii = [Fraction(1, 4), Fraction(2), Fraction(1, 2)]
    lines += [
        f"(assert (or (and (<= Y_{j} {float(1 + r)}) (>= Y_{j} {float(1 - r)}))))"
        for j, r in enumerate(radii)
    ]
    prop.write_text("\n".join(lines) + "\n")
    problem = problem_from_vnncomp(path, prop)
    acts = problem.network.activations
    want = _spec(spec, alpha)
    assert acts[: 2 if act else 1] == ([want, want] if act else ["identity"])
    z = np.random.default_rng(6).uniform(-1, 1, size=(10, 3)).astype(np.float32).astype(np.float64)
    ref = engine_outputs(model, z, np.float32)
    # the problem's network is G scaled by 1/r_j, target c_j/r_j: same question
    scaled = ref / np.array([float(r) for r in radii])
    assert np.allclose(problem.network.forward(z), scaled, rtol=1e-5, atol=1e-5)
    assert list(problem.target) == [1 / r for r in radii]


@pytest.mark.parametrize("spec", SPECS)
def test_torch_imports_match_torch(spec: str) -> None:
    torch.manual_seed(0)
    name, _, slope = spec.partition(":")
    mod: dict[str, Any] = {
        "relu": nn.ReLU(),
        "identity": nn.Identity(),
        "sigmoid": nn.Sigmoid(),
        "tanh": nn.Tanh(),
    }
    act = nn.LeakyReLU(float(Fraction(slope))) if name == "leaky_relu" else mod[name]
    seq = nn.Sequential(nn.Linear(3, 5), act, nn.Linear(5, 4), act).double()
    z = np.random.default_rng(7).normal(size=(9, 3))
    with torch.no_grad():
        want = seq(torch.from_numpy(z)).numpy()
    net = from_sequential(seq)  # the same activation module is used twice
    assert np.allclose(net.forward(z), want, rtol=1e-12, atol=1e-12)
    # nn.LeakyReLU holds a Python float: its exact value is the slope read
    exact = f"leaky_relu:{Fraction(float(Fraction(slope)))}" if slope else spec
    assert net.activations == (["identity"] if name == "identity" else [exact, exact])
    arch = f"0,{spec},2,{spec}"
    net2 = from_state_dict(seq.state_dict(), arch)
    assert np.allclose(net2.forward(z), want, rtol=1e-12, atol=1e-12)
    hidden = "identity" if name == "identity" else spec
    assert net2.activations[0] == hidden


# ====================================================================== wrong readings are refused
def test_a_misread_onnx_activation_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = two_layer("LeakyRelu", 0.5, np.float32)
    path = save(model, tmp_path / "m.onnx")
    monkeypatch.setattr(onnx_io, "_activation_of", lambda *_a: "relu")  # a wrong reader
    with pytest.raises(UnsupportedError, match=r"differs from onnxruntime.*relative error") as info:
        import_onnx(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_float64_leaky_model_is_checked_by_the_reference_evaluator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = two_layer("LeakyRelu", 0.5, np.float64)
    path = save(model, tmp_path / "m.onnx")
    monkeypatch.setattr(onnx_io, "_activation_of", lambda *_a: "relu")
    with pytest.raises(UnsupportedError, match=r"differs from onnx\.reference"):
        import_onnx(path)


class _DoubledLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


def test_a_module_that_is_not_what_its_type_says_is_refused() -> None:
    seq = nn.Sequential(_DoubledLinear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(UnsupportedError, match="differs from torch"):
        from_sequential(seq)
    hooked = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    hooked[1].register_forward_hook(lambda _m, _i, out: out * 3)
    with pytest.raises(UnsupportedError, match="differs from torch"):
        from_sequential(hooked)
    assert hooked[0].training  # the module's training flags are restored


# ====================================================================== new ops, unsupported ops
def test_sub_mul_div_and_no_op_reshapes_are_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    f = np.float32
    inits: dict[str, np.ndarray] = {
        "mu": rng.normal(size=3).astype(f),
        "sd": rng.uniform(0.5, 2, size=3).astype(f),
        "k": np.array(3.0, dtype=f),
        "W": rng.normal(size=(3, 4)).astype(f),
        "c": rng.normal(size=(1, 4)).astype(f),
        "shape": np.array([1, 4], dtype=np.int64),
    }
    model = onnx_chain(
        [
            ("Sub", ["h", "mu"], {}, "sub"),
            ("Div", ["h", "sd"], {}, "div"),
            ("Identity", ["h"], {}, "id"),
            ("MatMul", ["h", "W"], {}, "mm"),
            ("Mul", ["k", "h"], {}, "mul"),
            ("Sub", ["c", "h"], {}, "rsub"),
            ("Flatten", ["h"], {"axis": 1}, "flat"),
            ("Reshape", ["h", "shape"], {}, "reshape"),
            ("Tanh", ["h"], {}, "tanh"),
        ],
        3,
        4,
        f,
        inits,
    )
    path = save(model, tmp_path / "ops.onnx")
    net = import_onnx(path)
    assert net.activations == ["tanh"]
    z = np.random.default_rng(3).normal(size=(8, 3)).astype(f).astype(np.float64)
    assert np.allclose(net.forward(z), engine_outputs(model, z, f), atol=1e-5)
    # the exact layer: W1 = -3 W^T diag(1/sd), b1 = c + 3 W^T (mu/sd)
    w = net.layers[0].exact_rows()[0]
    sd0 = Fraction(float(inits["sd"][0]))
    assert w[1][0] == -3 * Fraction(float(inits["W"][0, 0])) / sd0


@pytest.mark.parametrize(
    ("spec", "inits", "node"),
    [
        (
            ("Conv", ["h", "K"], {}, "conv1"),
            {"K": np.ones((1, 1, 1), np.float32)},
            "'conv1' (Conv)",
        ),
        (("Softmax", ["h"], {}, "soft"), {}, "'soft' (Softmax)"),
        (("Add", ["h", "h"], {}, "twice"), {}, "'twice' (Add)"),
        (("Div", ["one", "h"], {}, "recip"), {"one": np.ones(3, np.float32)}, "'recip' (Div)"),
        (("Reshape", ["h", "s"], {}, "rs"), {"s": np.array([3, 1], np.int64)}, "'rs' (Reshape)"),
        (("Flatten", ["h"], {"axis": 0}, "fl"), {}, "'fl' (Flatten)"),
    ],
    ids=["conv", "softmax", "add-two-tensors", "div-by-h", "reshape-column", "flatten-axis0"],
)
def test_unsupported_nodes_are_named(
    tmp_path: Path, spec: Any, inits: dict[str, np.ndarray], node: str
) -> None:
    base = {"W": np.eye(3, dtype=np.float32), **inits}
    model = onnx_chain([("MatMul", ["h", "W"], {}, "mm"), spec], 3, 3, np.float32, base)
    path = save(model, tmp_path / "bad.onnx")
    with pytest.raises(UnsupportedError) as info:
        import_onnx(path)
    msg = str(info.value)
    assert node in msg and "node 1" in msg and "\n" not in msg


def test_a_branch_is_refused_with_the_node_named(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.eye(2, dtype=np.float32), "W")
    nodes = [
        helper.make_node("MatMul", ["z", "W"], ["a"], name="mm"),
        helper.make_node("Relu", ["a"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "a"], ["x"], name="skip"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = save(model, tmp_path / "branch.onnx")
    with pytest.raises(UnsupportedError, match=r"node 2 'skip' \(Add\).*single chain"):
        import_onnx(path)


def test_vnnlib_one_way_or_is_read_and_leading_zero_names_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.vnnlib"
    p.write_text("(declare-const X_0 Real)\n(assert (or (and (<= X_0 1) (>= X_0 0))))\n")
    prop = read_vnnlib(p)
    assert prop.input_lower == [Fraction(0)] and prop.input_upper == [Fraction(1)]
    p.write_text("(declare-const X_0 Real)\n(assert (or (<= X_0 1) (>= X_0 2)))\n")
    with pytest.raises(UnsupportedError, match=r"p\.vnnlib:2: disjunction"):
        read_vnnlib(p)
    p.write_text("(declare-const X_01 Real)\n")
    with pytest.raises(UnsupportedError, match=r"p\.vnnlib:1: variable 'X_01'"):
        read_vnnlib(p)


# ====================================================================== structural analyses
def _separable_net(rng: np.random.Generator, a1: str, a2: str) -> ReLUNetwork:
    """Two separable layers (units read one latent) then a mixing identity layer."""
    n = 2
    w1 = np.zeros((4, n))
    for j in range(4):
        w1[j, j % n] = rng.integers(1, 4) * rng.choice([-1, 1])
    w2 = np.zeros((4, 4))
    for j in range(4):
        w2[j, j] = rng.integers(1, 3) * rng.choice([-1, 1])
        w2[j, (j + 2) % 4] = rng.integers(-2, 3)
    return ReLUNetwork(
        [w1, w2, rng.integers(-2, 3, size=(2, 4)).astype(float)],
        [
            rng.integers(-3, 4, size=4).astype(float),
            rng.integers(-3, 4, size=4).astype(float),
            np.zeros(2),
        ],
        activations=[a1, a2, "identity"],
    )


@pytest.mark.parametrize("a2", SPECS)
@pytest.mark.parametrize("a1", SPECS)
def test_clamp_box_is_confirmed_or_absent(a1: str, a2: str) -> None:
    rng = np.random.default_rng(SPECS.index(a1) * 10 + SPECS.index(a2))
    for _ in range(3):
        net = _separable_net(rng, a1, a2)
        box = input_clamp_box(net)
        if a1 not in ("relu", "identity", "leaky_relu:1/100", "leaky_relu:1/2"):
            assert box is None  # a smooth first layer is never analysed
        if box is None:
            continue
        lo, hi = box
        for _ in range(6):
            z = [Fraction(int(v), 4) for v in rng.integers(-60, 61, size=2)]
            clamped = [min(max(v, a), b) for v, a, b in zip(z, lo, hi, strict=True)]
            assert net.forward_exact(z) == net.forward_exact(clamped)
    assert {"relu", "identity", "leaky_relu"} == set(CLAMP_BOX_ACTIVATIONS)


@pytest.mark.parametrize("a2", SPECS)
@pytest.mark.parametrize("a1", SPECS)
def test_fold_discrete_prefix_keeps_every_corner(a1: str, a2: str) -> None:
    rng = np.random.default_rng(SPECS.index(a1) * 10 + SPECS.index(a2) + 100)
    net = _separable_net(rng, a1, a2)
    for values in ((0, 1), (-1, 1)):
        folded, k = fold_discrete_prefix(net, values)
        pl_first = a1 in ("relu", "identity", "leaky_relu:1/100", "leaky_relu:1/2")
        assert (k >= 1) if pl_first else (k == 0)
        for corner in product(values, repeat=net.n_inputs):
            z = [Fraction(v) for v in corner]
            assert folded.forward_exact(z) == net.forward_exact(z)


@pytest.mark.parametrize("spec", SPECS)
def test_corner_presolve_and_exact_backends_refuse_other_activations(spec: str) -> None:
    net = ReLUNetwork([[[1, 0], [0, 1]], [[1, 1]]], [[0, 0], [0]], activations=[spec, "identity"])
    box = InversionProblem(net, [1], Domain.box([-1, -1], [1, 1]))
    binary = InversionProblem(net, [1], Domain("binary"))
    handled = spec in ("relu", "identity")
    reason = corners.decline_reason(box)
    assert (reason is None) == handled or (reason is not None and "mixes" not in reason)
    if not handled:
        assert reason is not None and spec in reason
    for name in ("milp", "enumerate", "sat"):
        cls = REGISTRY[name]
        assert cls.capabilities.activations == HANDLED_ACTIVATIONS
        why = cls.unsupported_reason(binary)
        if handled:
            assert why is None
        else:
            assert why is not None and f"layer 1 ({spec})" in why
    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    if handled:
        bounds = compute_bounds(net, "box", lo, hi, False, Budget(), 1.0)
        assert bounds.complete
    else:
        with pytest.raises(UnsupportedError, match=rf"layer 1 \({spec}\)"):
            compute_bounds(net, "box", lo, hi, False, Budget(), 1.0)


def test_leaky_relu_default_alpha_is_the_float32_value(tmp_path: Path) -> None:
    inits = {"W": np.eye(2, dtype=np.float32)}
    model = onnx_chain(
        [("MatMul", ["h", "W"], {}, "mm"), ("LeakyRelu", ["h"], {}, "lk")], 2, 2, np.float32, inits
    )
    net = import_onnx(save(model, tmp_path / "d.onnx"))
    assert net.layers[0].negative_slope == Fraction(float(np.float32(0.01)))
    bad = onnx_chain(
        [("MatMul", ["h", "W"], {}, "mm"), ("Relu", ["h"], {"slope": 0.5}, "r")],
        2,
        2,
        np.float32,
        inits,
    )
    with pytest.raises(UnsupportedError, match=r"node 1 'r' \(Relu\): unknown Relu attribute"):
        import_onnx(save(bad, tmp_path / "b.onnx"))


@pytest.mark.parametrize("alpha", [Fraction(0), Fraction(1, 100), Fraction(1, 2), Fraction(3)])
def test_piecewise_linear_leaky_is_pointwise(alpha: Fraction) -> None:
    from geninv.analysis import PiecewiseLinear

    rng = np.random.default_rng(int(alpha * 100))
    for _ in range(20):
        k = int(rng.integers(1, 5))
        knots = tuple(sorted({Fraction(int(v), 2) for v in rng.integers(-10, 11, size=k)}))
        values = tuple(Fraction(int(v), 3) for v in rng.integers(-6, 7, size=len(knots)))
        sl, sr = (Fraction(int(v), 2) for v in rng.integers(-3, 4, size=2))
        f = PiecewiseLinear(knots, values, sl, sr)
        g = f.leaky(alpha)
        ts = [Fraction(int(v), 8) for v in rng.integers(-200, 201, size=30)] + list(g.knots)
        for t in ts:
            v = f(t)
            assert g(t) == (v if v > 0 else alpha * v)


@pytest.mark.parametrize(
    "acts", [["identity", "identity"], ["identity", "relu"], ["leaky_relu:1/10", "identity"]]
)
def test_exact_instance_round_trip_with_merged_layers(tmp_path: Path, acts: list[str]) -> None:
    """An identity layer followed by an affine map is one Gemm in ONNX; with exact
    (non-float) parameters the instance keeps both layers and loads them back exactly
    (found by the differential tester: "describe different shapes")."""
    from geninv.io.instance import load_instance, save_instance
    from geninv.network import ReLUNetwork
    from geninv.problem import Domain, InversionProblem

    net = ReLUNetwork(
        [[[Fraction(1, 3)], [2]], [["2/3", "1/7"]]], [[0, "1/5"], ["3/7"]], activations=acts
    )
    problem = InversionProblem(net, [0], Domain("real"), p=1, threshold=Fraction(1, 16384))
    back = load_instance(save_instance(problem, tmp_path / "i"))
    assert back.network.activations == net.activations
    for z in ([Fraction(-3, 2)], [Fraction(0)], [Fraction(5, 7)]):
        assert back.network.forward_exact(z) == net.forward_exact(z)
    # exact parameters that are not the function the ONNX file holds are refused
    exact = tmp_path / "i" / "exact_parameters.json"
    doc = json.loads(exact.read_text())
    doc["layers"][-1]["bias"] = ["1000"]
    exact.write_text(json.dumps(doc))
    from geninv.errors import ParseError

    with pytest.raises(ParseError, match=r"different functions|sha256"):
        load_instance(tmp_path / "i")


def test_leaky_slope_that_is_no_float32_survives_save_and_load(tmp_path: Path) -> None:
    """LeakyRelu is exported in float32 and its alpha is a float32 attribute: a slope
    of 1/10 (or a weight that is no float32) must go to exact_parameters.json, else the
    saved instance is another network (found by the differential tester)."""
    from geninv.io.instance import load_instance, save_instance
    from geninv.network import ReLUNetwork
    from geninv.problem import Domain, InversionProblem

    for slope, w in (("1/10", "3/4"), ("1/8", "1/3"), ("1/8", "3/4")):
        net = ReLUNetwork([[[w]], [[1]]], [[0], [0]], activations=[f"leaky_relu:{slope}", "relu"])
        problem = InversionProblem(net, [0], Domain("box", (Fraction(-1),), (Fraction(1),)))
        inst = save_instance(problem, tmp_path / f"i{slope.replace('/', '_')}{w[-1]}")
        back = load_instance(inst)
        assert (inst / "exact_parameters.json").exists() == (not net.onnx_exact())
        for z in ([Fraction(-1)], [Fraction(-1, 3)], [Fraction(1, 2)]):
            assert back.network.forward_exact(z) == net.forward_exact(z)
    assert not ReLUNetwork([[[1]]], [[0]], activations=["leaky_relu:1/10"]).onnx_exact()
    assert ReLUNetwork([[[1]]], [[0]], activations=["leaky_relu:1/8"]).onnx_exact()
