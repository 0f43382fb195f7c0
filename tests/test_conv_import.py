"""Convolutional generators (issue 17, item 1): ONNX and PyTorch import, the sparse map,
exact evaluation, exact backends on small conv nets, refusals with the size, export."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from geninv.conv import DenseTooLargeError, LinearOp, Prim, exact_affine
from geninv.errors import ParseError, UnsupportedError, ValidationError
from geninv.io.conv_build import conv_prim
from geninv.io.instance import load_instance, save_instance
from geninv.io.onnx_io import export_onnx, import_onnx
from geninv.io.torch_io import DCGAN_ARCH, from_sequential, load_npz, load_torch_file, parse_arch
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.sensing import generator_of, sensing_problem
from geninv.solvers.base import get_backend, solve
from geninv.solvers.interface import capability_reason

from .conftest import SHARED

MODELS = SHARED / "models"
DCGAN = "mnist_dcgan_G"
get_backend("enumerate")  # loads the built-in backends


def _bn(c: int, gen: torch.Generator) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)
        bn.bias.copy_(torch.randn(c, generator=gen))
        assert bn.running_mean is not None and bn.running_var is not None
        bn.running_mean.copy_(torch.randn(c, generator=gen))
        bn.running_var.copy_(torch.rand(c, generator=gen) + 0.2)
    return bn


def _nets(seed: int) -> list[tuple[nn.Sequential, tuple[int, ...]]]:
    """Small random conv nets covering every piece and activation, with input shapes."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    nets = [
        (
            nn.Sequential(
                nn.Conv2d(1, 3, 3, stride=2, padding=1),
                _bn(3, g),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(27, 5),
                nn.Tanh(),
            ),
            (1, 6, 6),
        ),
        (
            nn.Sequential(
                nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
                _bn(4, g),
                nn.LeakyReLU(0.2),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.ZeroPad2d((1, 0, 2, 1)),
                nn.Conv2d(4, 2, 3, dilation=2, groups=2),
                nn.Sigmoid(),
            ),
            (2, 3, 3),
        ),
        (
            nn.Sequential(
                nn.Linear(5, 32),
                nn.ReLU(),
                nn.Unflatten(1, (2, 4, 4)),
                nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1, bias=False),
                _bn(1, g),
            ),
            (5,),
        ),
        (
            nn.Sequential(
                nn.Conv2d(2, 3, 2, bias=False),
                nn.ReLU(),
                nn.Identity(),
                nn.ReLU(),
                nn.ConvTranspose2d(3, 2, 3, stride=3, dilation=2),
                nn.Flatten(),
            ),
            (2, 4, 5),
        ),
    ]
    for net, _ in nets:
        net.eval()
    return nets


def _torch_out(net: nn.Module, z: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    with torch.no_grad():
        t = torch.from_numpy(z.astype(np.float32)).reshape(-1, *shape)
        return np.asarray(net(t).reshape(len(z), -1).double().numpy())


class _View(nn.Module):
    """``Unflatten`` as a reshape to a constant shape (the legacy exporter writes
    ``nn.Unflatten`` with shape arithmetic on the running tensor, which geninv does not read)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *self.shape)


def _onnx_bytes(net: nn.Sequential, shape: tuple[int, ...]) -> bytes:
    net = nn.Sequential(
        *(_View(tuple(m.unflattened_size)) if isinstance(m, nn.Unflatten) else m for m in net)
    ).eval()
    f = io.BytesIO()
    torch.onnx.export(
        net, (torch.zeros(1, *shape),), f, dynamo=False, input_names=["z"], output_names=["x"]
    )
    return f.getvalue()


@pytest.mark.parametrize("seed", [0, 1])
def test_torch_and_onnx_readers_agree_with_torch_and_onnxruntime(seed: int, tmp_path: Path) -> None:
    for k, (net, shape) in enumerate(_nets(seed)):
        n = int(np.prod(shape))
        ours = from_sequential(net, input_shape=shape)
        assert ours.n_inputs == n
        z = np.random.default_rng(seed + 10 * k).standard_normal((5, n)).astype(np.float32)
        ref = _torch_out(net, z, shape)
        np.testing.assert_allclose(ours.forward(z.astype(np.float64)), ref, atol=1e-5, rtol=1e-5)
        path = tmp_path / f"net{k}.onnx"
        path.write_bytes(_onnx_bytes(net, shape))
        read = import_onnx(path)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outs = np.stack(
            [sess.run(None, {"z": zi.reshape(1, *shape)})[0].reshape(-1) for zi in z]
        ).astype(np.float64)
        np.testing.assert_allclose(read.forward(z.astype(np.float64)), outs, atol=1e-5, rtol=1e-5)
        assert read.activations == ours.activations


def test_a_misread_conv_model_is_refused_by_the_fidelity_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geninv.io.torch_conv as tc

    seq, shape = _nets(0)[2]  # ConvTranspose then BatchNorm: a BatchNormalization node
    path = tmp_path / "m.onnx"
    path.write_bytes(_onnx_bytes(seq, shape))
    real = tc.bn_fold

    def off_by_eps(*args: object) -> tuple[np.ndarray, np.ndarray]:
        scale, shift = real(*args)  # type: ignore[arg-type]
        return scale * (1 + 1e-2), shift  # e.g. eps misread as 1e-3 where var is about 0.2

    monkeypatch.setattr(tc, "bn_fold", off_by_eps)
    with pytest.raises(UnsupportedError, match="differs from torch"):
        from_sequential(seq, input_shape=shape)
    with pytest.raises(UnsupportedError, match="differs from onnxruntime"):
        import_onnx(path)


_GEOMS = [
    ("conv", (2, 5, 6), (3, 2, 3, 2), (1, 2), (1, 0), (1, 1), 1, (0, 0)),
    ("conv", (4, 7, 7), (2, 2, 3, 3), (2, 2), (2, 1), (2, 1), 2, (0, 0)),
    ("convt", (2, 3, 4), (2, 3, 3, 2), (2, 1), (1, 0), (1, 1), 1, (1, 0)),
    ("convt", (4, 3, 3), (4, 1, 2, 3), (3, 2), (0, 1), (2, 1), 2, (1, 1)),
]


@pytest.mark.parametrize("geom", _GEOMS)
def test_sparse_map_equals_torch_on_basis_vectors(geom: tuple) -> None:  # type: ignore[type-arg]
    kind, shape, wshape, stride, pad, dil, groups, opad = geom
    w = np.random.default_rng(3).standard_normal(wshape)
    w[0, 0, 0, 0] = 0.0  # a zero tap leaves no entry
    prim = conv_prim(kind, w, shape, stride, pad, dil, groups, opad)
    basis = torch.eye(prim.n_in, dtype=torch.float64).reshape(-1, *shape)
    wt = torch.from_numpy(w)
    if kind == "conv":
        cols = torch.nn.functional.conv2d(basis, wt, None, stride, pad, dil, groups)
    else:
        cols = torch.nn.functional.conv_transpose2d(basis, wt, None, stride, pad, opad, groups, dil)
    assert tuple(cols.shape[1:]) == prim.out_shape
    dense = cols.reshape(prim.n_in, -1).T.numpy()
    op = LinearOp((prim,))
    assert np.array_equal(op.csr().toarray(), dense)  # bit for bit: entries are kernel taps
    c, h, w_ = prim.out_shape
    for other in (
        Prim("upsample", prim.out_shape, (c, 2 * h, 3 * w_), factor=(2, 3)),
        Prim("pad", prim.out_shape, (c, h + 3, w_ + 1), pads=(1, 2, 0, 1)),
    ):
        chain = LinearOp((prim, other))
        x = np.random.default_rng(4).standard_normal((3, prim.n_in))
        np.testing.assert_allclose(chain.apply(x), x @ chain.csr().toarray().T, atol=1e-12)
    # exact evaluation: integer sums over the sparse rows against Fractions
    h = [Fraction(int(v), 8) for v in np.random.default_rng(5).integers(-20, 20, prim.n_in)]
    bias = [Fraction(k, 3) for k in range(prim.n_out)]
    got = exact_affine(op, bias, h)
    want = [
        sum((Fraction(float(dense[i, j])) * h[j] for j in np.flatnonzero(dense[i])), bias[i])
        for i in range(prim.n_out)
    ]
    assert got == want


def _tiny_conv_net(seed: int) -> ReLUNetwork:
    torch.manual_seed(seed)
    seq = (
        nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)).double().eval()
    )
    with torch.no_grad():  # small dyadic weights: the oracle below is exact
        for p in seq.parameters():
            p.copy_(torch.round(p * 8) / 8)
    return from_sequential(seq, input_shape=(1, 3, 3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_milp_on_tiny_conv_net_matches_brute_force_and_dense_copy(seed: int) -> None:
    net = _tiny_conv_net(seed)
    assert net.layers[0].op is not None and net.layers[1].op is None
    dense = ReLUNetwork(
        [np.array(layer.weight) for layer in net.layers],
        [np.array(layer.bias) for layer in net.layers],
        activations=net.activations,
    )
    points = np.array(list(itertools.product([0, 1], repeat=9)), dtype=np.float64)
    assert np.array_equal(net.forward(points), dense.forward(points))
    rng = np.random.default_rng(seed)
    target = [Fraction(int(v), 4) for v in rng.integers(-6, 7, 3)]
    # exact brute force over the 512 binary latents (l_inf distance)
    dists = [
        max(abs(a - b) for a, b in zip(net.forward_exact(list(map(int, z))), target, strict=True))
        for z in points
    ]
    best = min(dists)
    for thr in (best, best - Fraction(1, 64)):
        if thr < 0:
            continue
        for n in (net, dense):
            prob = InversionProblem(n, target, Domain("binary"), p=float("inf"), threshold=thr)
            sol = solve(prob, "milp", trust_solver=True)
            assert sol.status == ("yes" if thr >= best else "no"), (seed, thr, best)
            if sol.status == "yes":
                chk = prob.exact_check(sol.z or [])
                assert chk.in_domain and chk.meets


def test_large_conv_layer_refused_with_size_by_exact_backends() -> None:
    torch.manual_seed(0)
    seq = nn.Sequential(
        nn.ConvTranspose2d(64, 256, 3, 2), nn.ReLU(), nn.ConvTranspose2d(256, 128, 4, 1), nn.ReLU()
    ).eval()
    net = from_sequential(seq, input_shape=(64, 1, 1))
    assert net.widths == [2304, 4608]
    with pytest.raises(DenseTooLargeError, match="10,616,832 entries"):
        _ = net.layers[1].weight
    prob = InversionProblem(
        net, [0] * 4608, Domain.box([-1] * 64, [1] * 64), p=float("inf"), threshold=1
    )
    reason = capability_reason("milp", get_backend("milp").capabilities, prob)
    assert reason is not None and "10,616,832 entries" in reason and "GENINV_MAX_DENSE" in reason
    with pytest.raises(UnsupportedError, match="layer 2 is a structured map"):
        solve(prob, "milp")


def test_adam_on_small_conv_net_finds_a_checked_witness() -> None:
    net = from_sequential(_nets(0)[1][0], input_shape=(2, 3, 3))
    z0 = np.random.default_rng(0).standard_normal(18)
    x = [Fraction(float(v)) for v in net.forward(z0)]
    prob = InversionProblem(net, x, Domain("real"), p=2.0, threshold=Fraction(1, 10))
    sol = solve(prob, "adam", seed=0, options={"restarts": 2, "steps": 100})
    assert sol.status == "yes"
    chk = prob.exact_check(sol.z or [])
    assert chk.in_domain and chk.meets


def test_compressed_sensing_keeps_conv_layers_structured() -> None:
    net = from_sequential(_nets(0)[1][0], input_shape=(2, 3, 3))
    rng = np.random.default_rng(2)
    a = rng.standard_normal((10, net.n_outputs)) / np.sqrt(10)
    y = a @ net.forward(rng.standard_normal(net.n_inputs))
    prob = sensing_problem(net, a, y, p=2, threshold=Fraction(1, 10))
    assert [layer.op is not None for layer in prob.network.layers] == [True, True, False]
    assert generator_of(prob).layers == net.layers
    sol = solve(prob, "adam", seed=0, options={"restarts": 2, "steps": 100})
    assert sol.status == "yes" and prob.exact_check(sol.z or []).meets


def test_export_round_trip_writes_conv_ops(tmp_path: Path) -> None:
    for k, (seq, shape) in enumerate(_nets(2)):
        net = from_sequential(seq, input_shape=shape)
        path = tmp_path / f"rt{k}.onnx"
        export_onnx(net, path)
        ops = {n.op_type for n in onnx.load(str(path)).graph.node}
        assert ops & {"Conv", "ConvTranspose"}  # no dense expansion of a convolution
        assert ("Gemm" in ops) == (k in (0, 2))  # the nets with an nn.Linear
        back = import_onnx(path)
        z = np.random.default_rng(k).standard_normal((4, net.n_inputs))
        np.testing.assert_allclose(back.forward(z), net.forward(z), rtol=1e-12, atol=1e-12)
        zf = [Fraction(float(v)) for v in z[0]]
        if net.is_piecewise_linear:
            assert back.forward_exact(zf) == net.forward_exact(zf)


def test_instance_directory_round_trip_keeps_the_conv_network(tmp_path: Path) -> None:
    seq, shape = _nets(3)[1]
    net = from_sequential(seq, input_shape=shape)
    z0 = np.random.default_rng(1).standard_normal(net.n_inputs)
    prob = InversionProblem(
        net, [Fraction(float(v)) for v in net.forward(z0)], Domain("real"), p=2.0, threshold=1
    )
    save_instance(prob, tmp_path / "inst")
    back = load_instance(tmp_path / "inst")
    assert all(layer.op is not None for layer in back.network.layers)
    zf = [Fraction(float(v)) for v in z0]
    assert back.exact_check(zf).meets and back.network.forward_exact(zf) == net.forward_exact(zf)


def test_hand_built_onnx_unsqueeze_resize_sizes_pad_mul(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    inits = [
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes"),
        numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "k"),
        numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "kb"),
        numpy_helper.from_array(np.array([1, 2, 6, 6], dtype=np.int64), "sizes"),
        numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array([1.5, 0.5], dtype=np.float32).reshape(1, 2, 1, 1), "mul"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["z", "axes"], ["u"], name="unsq"),
        helper.make_node("ConvTranspose", ["u", "k", "kb"], ["c"], name="convt"),
        helper.make_node("Resize", ["c", "", "", "sizes"], ["r"], name="up", mode="nearest"),
        helper.make_node("Pad", ["r", "pads"], ["p"], name="pad"),
        helper.make_node("Mul", ["p", "mul"], ["m"], name="mul"),
        helper.make_node("Reshape", ["m", "shape"], ["f"], name="flat"),
        helper.make_node("Sigmoid", ["f"], ["x"], name="act"),
    ]
    inits.append(numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape"))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        inits,
    )
    path = tmp_path / "hand.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    net = import_onnx(path)
    assert net.n_inputs == 4 and net.n_outputs == 2 * 7 * 8 and net.activations == ["sigmoid"]
    assert [p.kind for p in net.layers[0].op.prims] == ["convt", "upsample", "pad", "scale"]  # type: ignore[union-attr]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = rng.standard_normal((3, 4)).astype(np.float32)
    want = np.stack([sess.run(None, {"z": zi[None, :]})[0].reshape(-1) for zi in z])
    np.testing.assert_allclose(net.forward(z.astype(np.float64)), want, atol=1e-6)


# ----------------------------------------------------------------- hostile input
def _model(nodes: list[onnx.NodeProto], inits: list[TensorProto]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_unsupported_ops_refused_in_one_line(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((1, 1, 2, 2), dtype=np.float32), "w")
    pool = _model(
        [
            helper.make_node("Conv", ["z", "w"], ["c"], name="conv"),
            helper.make_node("MaxPool", ["c"], ["x"], name="pool", kernel_shape=[2, 2]),
        ],
        [w],
    )
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "s")
    linear = _model(
        [
            helper.make_node("Conv", ["z", "w"], ["c"], name="conv"),
            helper.make_node("Resize", ["c", "", "s"], ["x"], name="up", mode="linear"),
        ],
        [w, scales],
    )
    for model, needle in (
        (pool, "node 1 'pool' (MaxPool): unsupported op"),
        (linear, "mode=linear"),
    ):
        path = tmp_path / "bad.onnx"
        onnx.save(model, str(path))
        with pytest.raises(UnsupportedError, match=r"supported|read") as info:
            import_onnx(path)
        assert needle in str(info.value) and "\n" not in str(info.value)
        target = tmp_path / "t.json"
        target.write_text("[0]")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "geninv",
                "new",
                "--network",
                str(path),
                "--target",
                str(target),
                "--domain",
                "real",
                "--threshold",
                "1",
                "-o",
                str(tmp_path / "inst"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2 and needle in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    with pytest.raises(UnsupportedError, match="MaxPool2d"):
        from_sequential(nn.Sequential(nn.Conv2d(1, 1, 2), nn.MaxPool2d(2)), input_shape=(1, 4, 4))
    with pytest.raises(ValidationError, match="input shape"):
        from_sequential(nn.Sequential(nn.Conv2d(1, 1, 2)))
    with pytest.raises(UnsupportedError, match="empty"):
        from_sequential(
            nn.Sequential(nn.ConvTranspose2d(1, 1, 2, padding=3)), input_shape=(1, 2, 2)
        )
    with pytest.raises(ValidationError, match="unknown option 'strid=2'"):
        parse_arch("input:64x1x1,convt:gen.0.0:strid=2,relu")
    with pytest.raises(ValidationError, match="'input:SHAPE' must be the first"):
        parse_arch("convt:a,input:64x1x1")


# ----------------------------------------------------------------- the shared DCGAN
def _dcgan_torch() -> nn.Sequential:
    blocks: list[nn.Module] = []
    for cin, cout, k, s in ((64, 256, 3, 2), (256, 128, 4, 1), (128, 64, 3, 2)):
        blocks.append(
            nn.Sequential(nn.ConvTranspose2d(cin, cout, k, s), nn.BatchNorm2d(cout), nn.ReLU())
        )
    blocks.append(nn.Sequential(nn.ConvTranspose2d(64, 1, 4, 2), nn.Tanh()))
    holder = nn.Module()
    holder.gen = nn.Sequential(*blocks)
    state = torch.load(str(MODELS / f"{DCGAN}.pth"), map_location="cpu", weights_only=True)
    holder.load_state_dict(state)
    return holder.gen.eval()  # type: ignore[return-value]


def test_dcgan_from_onnx_pth_and_npz_agrees_with_torch_and_onnxruntime() -> None:
    if not (MODELS / f"{DCGAN}.onnx").is_file():
        pytest.skip("../shared/models is not present beside this checkout")
    z = np.random.default_rng(7).standard_normal((4, 64)).astype(np.float32)
    ref = _torch_out(_dcgan_torch(), z, (64, 1, 1))
    sess = ort.InferenceSession(str(MODELS / f"{DCGAN}.onnx"), providers=["CPUExecutionProvider"])
    ort_out = np.stack([sess.run(None, {"z": zi.reshape(1, 64, 1, 1)})[0].reshape(-1) for zi in z])
    nets = {
        "onnx": import_onnx(MODELS / f"{DCGAN}.onnx"),
        "pth": load_torch_file(MODELS / f"{DCGAN}.pth", DCGAN_ARCH),
        "npz": load_npz(MODELS / f"{DCGAN}.npz", DCGAN_ARCH),
    }
    for name, net in nets.items():
        assert net.widths == [2304, 4608, 10816, 784], name
        assert net.activations == ["relu", "relu", "relu", "tanh"]
        assert all(
            layer.op is not None and "_dense_cache" not in layer.__dict__ for layer in net.layers
        )
        out = net.forward(z.astype(np.float64))
        np.testing.assert_allclose(out, ref, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(out, ort_out, atol=1e-5, err_msg=name)
    # exact evaluation through the sparse rows (no dense matrix), against float64
    net = nets["onnx"]
    zf = [Fraction(float(v)) for v in z[0]]
    exact = net.forward_exact(zf)
    assert (
        max(
            abs(float(a) - b)
            for a, b in zip(exact, net.forward(z[0].astype(np.float64)), strict=True)
        )
        < 1e-9
    )
    assert all("_dense_cache" not in layer.__dict__ for layer in net.layers)


def test_sizes_a_hostile_file_asks_for_are_refused_before_allocating(tmp_path: Path) -> None:
    """An upsampling factor or a constant shape expression asking for billions of values
    is one line naming the node, refused before anything of that size is allocated."""
    w = numpy_helper.from_array(np.ones((1, 1, 2, 2), dtype=np.float32), "w")
    scales = numpy_helper.from_array(np.array([1, 1, 10**5, 10**5], dtype=np.float32), "s")
    huge_up = _model(
        [
            helper.make_node("Conv", ["z", "w"], ["c"], name="conv"),
            helper.make_node("Resize", ["c", "", "s"], ["x"], name="up", mode="nearest"),
        ],
        [w, scales],
    )
    shape = numpy_helper.from_array(np.array([10**6, 10**6], dtype=np.int64), "shape")
    one = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one")
    huge_const = _model(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["big"], name="fill"),
            helper.make_node("Conv", ["z", "w"], ["c"], name="conv"),
            helper.make_node("Mul", ["c", "one"], ["x"], name="mul"),
        ],
        [w, shape, one],
    )
    for model, needle in ((huge_up, "'up'"), (huge_const, "'fill'")):
        path = tmp_path / "big.onnx"
        onnx.save(model, str(path))
        with pytest.raises((ValidationError, ParseError, UnsupportedError)) as info:
            import_onnx(path)
        msg = str(info.value)
        assert needle in msg or "upsample" in msg, msg
        assert "limit" in msg and "\n" not in msg
