"""ELU generators (issue 17, item 3): parsing, float forward against torch and
onnxruntime, the readers (torch, state dict, ONNX, hostile ONNX), the backends that
refuse ELU, and the re-check (float bound, then the rigorous rational enclosure)
against an mpmath oracle, ties and huge / tiny magnitudes included."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from geninv.errors import UnsupportedError, ValidationError
from geninv.exact_elu import elu_bounds, forward_interval, interval_check
from geninv.io.onnx_io import export_onnx, import_onnx
from geninv.io.torch_io import from_sequential, to_torch
from geninv.io.torch_state import from_state_dict
from geninv.network import ReLUNetwork, parse_activation
from geninv.problem import Domain, InversionProblem
from geninv.recheck import float_check
from geninv.solvers.interface import capability_reason
from geninv.solvers.registry import REGISTRY

mpmath.mp.dps = 80


def random_elu_net(
    rng: np.random.Generator, depth: int, out_act: str, scale_exp: int = 0, alpha: str = "elu"
) -> ReLUNetwork:
    widths = [int(rng.integers(1, 6)) for _ in range(depth + 1)]
    ws = [rng.normal(size=(widths[i + 1], widths[i])) for i in range(depth)]
    ws[0] = ws[0] * 2.0**scale_exp
    bs = [rng.normal(size=widths[i + 1]) for i in range(depth)]
    return ReLUNetwork(ws, bs, activations=[alpha] * (depth - 1) + [out_act])


def mp_forward(net: ReLUNetwork, z: list[Fraction]) -> list[mpmath.mpf]:
    """G(z) in 80-digit mpmath, written from the definition (the oracle)."""
    h = [mpmath.mpf(v.numerator) / v.denominator for v in z]
    for layer in net.layers:
        w, b = layer.weight, layer.bias
        s = [
            mpmath.fsum(mpmath.mpf(float(w[i, j])) * h[j] for j in range(len(h)))
            + mpmath.mpf(float(b[i]))
            for i in range(w.shape[0])
        ]
        act, a = layer.activation, layer.negative_slope
        alpha = mpmath.mpf(a.numerator) / a.denominator
        if act == "elu":
            h = [v if v > 0 else alpha * mpmath.expm1(v) for v in s]
        elif act == "sigmoid":
            h = [1 / (1 + mpmath.exp(-v)) for v in s]
        elif act == "tanh":
            h = [mpmath.tanh(v) for v in s]
        elif act == "relu":
            h = [max(v, mpmath.mpf(0)) for v in s]
        else:
            h = s
    return h


def mp_distance(h: list[mpmath.mpf], target: list[float], p: float) -> mpmath.mpf:
    d = [abs(a - mpmath.mpf(t)) for a, t in zip(h, target, strict=True)]
    if math.isinf(p):
        return max(d)
    return mpmath.fsum(v**p for v in d) ** (1 / mpmath.mpf(p))


# ---------------------------------------------------------------- activation


def test_parse_activation() -> None:
    assert parse_activation("elu") == ("elu", Fraction(1))
    assert parse_activation("ELU:1/2") == ("elu", Fraction(1, 2))
    assert parse_activation("elu:0") == ("elu", Fraction(0))
    with pytest.raises(ValidationError, match="ELU alpha must be >= 0"):
        parse_activation("elu:-1")
    with pytest.raises(ValidationError, match="elu"):
        parse_activation("selu")
    # a parameter a float64 cannot hold, or an empty one, is refused (1e999 was a traceback)
    for spec in ("elu:1e999", "leaky_relu:1e999", "elu:", "leaky_relu:", "relu:"):
        with pytest.raises(ValidationError, match=r"1e300|ends in ':'"):
            parse_activation(spec)
    assert parse_activation("leaky_relu:1e300")[1] == 10**300
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)], activations=["elu:0.5"])
    assert net.activations == ["elu:1/2"] and not net.is_piecewise_linear
    assert ReLUNetwork([np.eye(2)], [np.zeros(2)], activations=["elu"]).activations == ["elu"]


@pytest.mark.parametrize("alpha", ["elu", "elu:0.5", "elu:3"])
@pytest.mark.parametrize("out_act", ["sigmoid", "identity", "elu"])
def test_float_forward_matches_torch(alpha: str, out_act: str) -> None:
    rng = np.random.default_rng(len(alpha) * 7 + len(out_act))
    for _ in range(5):
        net = random_elu_net(rng, 3, out_act, alpha=alpha)
        z = rng.normal(size=(7, net.n_inputs)) * 3
        ref = to_torch(net)(torch.from_numpy(z)).numpy()
        assert np.allclose(net.forward(z), ref, rtol=1e-13, atol=1e-14)
        # the generator the approximate backends run
        from geninv.solvers.approx.torch_ops import TorchGenerator

        gen = TorchGenerator.from_network(net, torch.device("cpu"), torch.float64)
        assert np.allclose(gen(torch.from_numpy(z)).numpy(), ref, rtol=1e-13, atol=1e-14)


def test_elu_limits() -> None:
    net = ReLUNetwork([np.array([[1.0]])], [np.array([0.0])], activations=["elu:2"])
    out = net.forward(np.array([[-1e6], [-1e-300], [0.0], [5.0]]))[:, 0]
    assert out[0] == -2.0 and out[1] == -2e-300 and out[2] == 0.0 and out[3] == 5.0


# ---------------------------------------------------------------- readers


def test_from_sequential_and_state_dict() -> None:
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.ELU(), torch.nn.Linear(8, 5), torch.nn.ELU(0.25),
        torch.nn.Linear(5, 4), torch.nn.Sigmoid(),
    )  # fmt: skip
    net = from_sequential(seq)  # checked against torch on seeded points when read
    assert net.activations == ["elu", "elu:1/4", "sigmoid"]
    z = np.random.default_rng(1).normal(size=(5, 3))
    with torch.no_grad():
        ref = seq(torch.from_numpy(z).float()).double().numpy()
    assert np.allclose(net.forward(z), ref, atol=1e-5)
    state = {k: v.double() for k, v in seq.state_dict().items()}
    net2 = from_state_dict(state, "0,elu,2,elu:0.25,4,sigmoid")
    assert net2.activations == ["elu", "elu:1/4", "sigmoid"]
    with pytest.raises(UnsupportedError, match="ELU alpha"):
        from_sequential(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ELU(-1.0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_onnx_round_trip_and_onnxruntime(tmp_path: Path, seed: int) -> None:
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    net = random_elu_net(rng, 3, "sigmoid" if seed else "identity", alpha="elu:0.5")
    path = tmp_path / "elu.onnx"
    export_onnx(net, path)  # float32 (onnxruntime's Elu kernel), checked on import
    back = import_onnx(path)
    assert back.activations == net.activations
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for row in rng.normal(size=(4, net.n_inputs)):
        x = row[None, :].astype(np.float32)
        got = sess.run(None, {"z": x})[0][0]
        assert np.allclose(back.forward(x.astype(np.float64)), got, rtol=1e-5, atol=1e-6)


def _elu_model(tmp_path: Path, attrs: list[onnx.AttributeProto]) -> Path:
    w = numpy_helper.from_array(np.ones((2, 2), dtype=np.float32), "W")
    b = numpy_helper.from_array(np.zeros(2, dtype=np.float32), "b")
    elu = helper.make_node("Elu", ["a"], ["x"], name="elu_1")
    elu.attribute.extend(attrs)
    nodes = [helper.make_node("Gemm", ["z", "W", "b"], ["a"], name="g", transB=1), elu]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [w, b],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        (helper.make_attribute("alpha", -1.0), "Elu alpha -1.0; expected >= 0"),
        (helper.make_attribute("alpha", float("nan")), "Elu alpha nan"),
        (helper.make_attribute("alpha", 2), "is not a float"),
        (helper.make_attribute("gamma", 1.0), "unknown Elu attribute 'gamma'"),
    ],
)
def test_hostile_onnx_elu(tmp_path: Path, attr: onnx.AttributeProto, message: str) -> None:
    path = _elu_model(tmp_path, [attr])
    with pytest.raises(UnsupportedError, match="elu_1") as info:
        import_onnx(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_onnx_default_alpha(tmp_path: Path) -> None:
    assert import_onnx(_elu_model(tmp_path, [])).activations == ["elu"]
    net = import_onnx(_elu_model(tmp_path, [helper.make_attribute("alpha", 0.3)]))
    assert net.activations == [f"elu:{Fraction(float(np.float32(0.3)))}"]


# ---------------------------------------------------------------- backends


@pytest.mark.parametrize(
    "name", ["milp", "sat", "enumerate", "bab", "layerwise", "corners", "miqp", "flipgd"]
)
def test_backends_without_elu_refuse_naming_the_layer(name: str) -> None:
    if name not in REGISTRY:
        pytest.fail(f"backend {name} is not registered")
    net = ReLUNetwork(
        [np.eye(2), np.eye(2)], [np.zeros(2), np.zeros(2)], activations=["elu", "identity"]
    )
    problem = InversionProblem(net, [0.0, 0.0], Domain("box", [-1, -1], [1, 1]), p=2, threshold=0.5)
    cls = REGISTRY[name]
    why = capability_reason(name, cls.capabilities, problem) or cls.unsupported_reason(problem)
    assert why is not None and "layer 1" in why and "elu" in why and "\n" not in why


def test_incomplete_backends_accept_elu_and_certify_yes() -> None:
    """adam, pgd, admm, langevin and primal take an ELU network; a yes rests on the
    re-check (here the float bound), and auto finds it too."""
    from geninv.solvers.base import solve

    rng = np.random.default_rng(9)
    net = random_elu_net(rng, 3, "sigmoid")
    target = [float(v) for v in net.forward(rng.normal(size=net.n_inputs))]
    problem = InversionProblem(net, target, Domain("real"), p=2, threshold=0.05)
    for name in ("adam", "pgd", "admm", "langevin", "primal"):
        assert capability_reason(name, REGISTRY[name].capabilities, problem) is None
    for name in ("primal", "adam", "auto"):
        sol = solve(problem, method=name, seed=0, time_limit=30)
        assert sol.status.value == "yes", (name, sol.status)
        assert sol.check is not None and sol.check.meets and sol.check.decided
        assert sol.check.method.startswith("float64 with a rigorous forward error bound")


# ---------------------------------------------------------------- re-check


def test_elu_bounds_enclose_mpmath() -> None:
    for t in ("-3000", "-1999.5", "-40", "-1/3", "-1e-30", "0", "7/2"):
        tf = Fraction(t)
        for alpha in (Fraction(1), Fraction(1, 3), Fraction(5)):
            lo, hi = elu_bounds(tf, alpha)
            a = mpmath.mpf(alpha.numerator) / alpha.denominator
            tm = mpmath.mpf(tf.numerator) / tf.denominator
            true = tm if tf > 0 else a * mpmath.expm1(tm)
            assert mpmath.mpf(lo.numerator) / lo.denominator <= true
            assert true <= mpmath.mpf(hi.numerator) / hi.denominator
            assert hi - lo < Fraction(1, 10**30)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale_exp=st.sampled_from([-60, -2, 0, 3, 20]),
    out_act=st.sampled_from(["sigmoid", "identity", "tanh", "elu:1/2"]),
    p=st.sampled_from([1.0, 2.0, math.inf]),
    factor=st.sampled_from([0.5, 1 - 1e-9, 1 + 1e-9, 2.0]),
)
def test_recheck_agrees_with_mpmath(
    seed: int, scale_exp: int, out_act: str, p: float, factor: float
) -> None:
    rng = np.random.default_rng(seed)
    net = random_elu_net(rng, 3, out_act, scale_exp)
    z = [Fraction(float(v)) for v in rng.normal(size=net.n_inputs)]
    target = [float(v) for v in rng.normal(size=net.n_outputs)]
    true = mp_distance(mp_forward(net, z), target, p)
    delta = Fraction(float(true)) * Fraction(factor)
    problem = InversionProblem(net, target, Domain("real"), p=p, threshold=delta)
    meets = true <= mpmath.mpf(delta.numerator) / delta.denominator
    fast = float_check(problem, z)
    if fast is not None:
        assert fast.meets == meets
    if factor in (0.5, 2.0) and -2 <= scale_exp <= 3:  # far from delta: the floats decide
        assert fast is not None
    iv = interval_check(problem, z)  # the enclosure itself: 2^-160 wide, decides these
    assert iv.decided and iv.meets == meets
    chk = problem.exact_check(z)
    assert chk.decided and chk.meets == meets


def test_enclosure_contains_mpmath_at_huge_and_tiny_magnitudes() -> None:
    rng = np.random.default_rng(11)
    for scale_exp in (-300, -60, 0, 40, 300):
        net = random_elu_net(rng, 3, "identity", scale_exp)
        z = [Fraction(float(v)) for v in rng.normal(size=net.n_inputs)]
        enc = forward_interval(net, z)
        for (lo, hi), v in zip(enc, mp_forward(net, z), strict=True):
            assert mpmath.mpf(lo.numerator) / lo.denominator <= v
            assert v <= mpmath.mpf(hi.numerator) / hi.denominator


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
@pytest.mark.parametrize("strict", [False, True])
def test_tie_in_the_linear_regime_is_decided(p: float, strict: bool) -> None:
    """Pre-activations > 0: ELU is the identity there, G(z) is rational, the enclosure
    collapses to a point and an exact tie is decided exactly."""
    net = ReLUNetwork([np.array([[0.5, 0.25], [0.125, 1.5]])], [np.zeros(2)], activations=["elu"])
    z = [Fraction(1), Fraction(2)]
    out = [Fraction(1), Fraction(25, 8)]
    target = [out[0] - 3, out[1] + 4]
    delta = {1.0: 7, 2.0: 5, math.inf: 4}[p]
    problem = InversionProblem(
        net, target, Domain("real"), p=p, threshold=delta, relation="<" if strict else "<="
    )
    assert float_check(problem, z) is None  # the float bound cannot decide a tie
    chk = problem.exact_check(z)
    assert chk.decided and chk.meets == (not strict)
    assert chk.method.startswith("rigorous rational interval enclosure")


def test_near_tie_below_the_enclosure_is_unknown() -> None:
    """Delta within 1e-70 of the transcendental distance: unknown, never a guess."""
    net = ReLUNetwork([np.array([[1.0]])], [np.array([0.0])], activations=["elu"])
    z = [Fraction(-1)]
    true = mpmath.expm1(-1)  # G(z) = e^-1 - 1; target 0: distance 1 - e^-1
    delta = Fraction(mpmath.nstr(-true, 75, strip_zeros=False))
    problem = InversionProblem(net, [0.0], Domain("real"), p=2, threshold=delta)
    chk = problem.exact_check(z)
    assert not chk.decided and not chk.meets
    assert chk.reason.startswith("undecided: the rigorous enclosure")
    far = InversionProblem(net, [0.0], Domain("real"), p=2, threshold=delta - Fraction(1, 10**30))
    chk = far.exact_check(z)
    assert chk.decided and not chk.meets  # 1e-30 below the distance: proved not met


def test_interval_bounds_enclose_elu() -> None:
    from geninv.bounds import activation_bounds

    rng = np.random.default_rng(4)
    lo = rng.normal(size=200) * 10.0 ** rng.integers(-8, 3, size=200)
    hi = lo + np.abs(rng.normal(size=200))
    for alpha in (1.0, 0.5, 3.0):
        flo, fhi = activation_bounds(lo, hi, "elu", alpha)
        for t in np.linspace(0, 1, 5):
            v = lo + t * (hi - lo)
            exact = [
                float(a) if a > 0 else alpha * float(mpmath.expm1(mpmath.mpf(float(a)))) for a in v
            ]
            assert np.all(flo <= exact) and np.all(np.array(exact) <= fhi)


def test_instance_round_trip(tmp_path: Path) -> None:
    """An ELU instance saves (float32 ONNX for onnxruntime's Elu, the exact float64
    parameters beside it) and loads back as the same network."""
    from geninv.io.instance import load_instance, save_instance

    net = random_elu_net(np.random.default_rng(8), 3, "sigmoid", alpha="elu:1/2")
    problem = InversionProblem(net, [0.5] * net.n_outputs, Domain("real"), p=2, threshold=1)
    back = load_instance(save_instance(problem, tmp_path / "inst")).network
    assert back.activations == net.activations
    for a, b in zip(back.layers, net.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)


def test_primal_gradient_through_elu_matches_finite_differences() -> None:
    from geninv.solvers.primal._net import backward, forward, make_setup

    rng = np.random.default_rng(12)
    net = random_elu_net(rng, 3, "elu:1/2", alpha="elu:3")
    problem = InversionProblem(net, [0.0] * net.n_outputs, Domain("real"), p=2, threshold=1)
    fnet = make_setup(problem).net
    z = rng.normal(size=(1, net.n_inputs))
    g = rng.normal(size=(1, net.n_outputs))
    out, pres, posts = forward(fnet, z)
    assert np.allclose(out, net.forward(z), rtol=1e-14, atol=1e-15)
    grad = backward(fnet, z, pres, posts, g)[0]
    eps = 1e-6
    for j in range(net.n_inputs):
        dz = np.zeros_like(z)
        dz[0, j] = eps
        fd = (np.sum(g * net.forward(z + dz)) - np.sum(g * net.forward(z - dz))) / (2 * eps)
        assert abs(fd - grad[j]) <= 1e-6 * (1 + abs(fd))


def test_convolutional_elu_reads_and_round_trips(tmp_path: Path) -> None:
    """nn.ELU in a convolutional generator (read as structured layers, checked against
    torch when read) and its ONNX export read back."""
    torch.manual_seed(3)
    seq = torch.nn.Sequential(
        torch.nn.Linear(4, 18), torch.nn.ELU(), torch.nn.Unflatten(1, (2, 3, 3)),
        torch.nn.ConvTranspose2d(2, 1, 2, stride=2), torch.nn.ELU(0.5), torch.nn.Flatten(),
    ).double()  # fmt: skip
    net = from_sequential(seq)
    assert net.is_structured and net.activations == ["elu", "elu:1/2"]
    z = np.random.default_rng(2).normal(size=(3, 4))
    with torch.no_grad():
        ref = seq(torch.from_numpy(z)).numpy()
    assert np.allclose(net.forward(z), ref, rtol=1e-12, atol=1e-13)
    export_onnx(net, tmp_path / "c.onnx")
    back = import_onnx(tmp_path / "c.onnx")
    assert back.activations == net.activations
    assert np.allclose(back.forward(z), ref, rtol=1e-5, atol=1e-6)


def test_auto_on_binary_elu_falls_back_on_primal() -> None:
    """No backend of the approximate portfolio takes binary latents into an ELU layer
    (flipgd refuses ELU): auto's last resort is the primal search, which finds the
    planted binary latent (auto refused the instance before)."""
    from geninv.problem import Status
    from geninv.workflows import solve

    rng = np.random.default_rng(5)
    ws = [rng.normal(size=(8, 6)), rng.normal(size=(5, 8))]
    net = ReLUNetwork(ws, [rng.normal(size=8), rng.normal(size=5)], activations=["elu", "identity"])
    z = rng.integers(0, 2, size=6).astype(float)
    x = net.forward(z[None])[0]
    prob = InversionProblem(net, [float(v) for v in x], Domain("binary"), p=2, threshold=1e-3)
    sol = solve(prob, "auto", time_limit=10, seed=0)
    assert sol.status is Status.YES and sol.check is not None and sol.check.meets
    assert [r["method"] for r in sol.stats["auto_portfolio"]] == ["primal"]
    far = InversionProblem(net, [float(v) + 3 for v in x], Domain("binary"), p=2, threshold=1e-2)
    sol = solve(far, "auto", time_limit=5, seed=0)
    assert sol.status is Status.UNKNOWN and "primal" in sol.reason
