"""PyTorch import/export: nn.Sequential and state dicts to ReLUNetwork and back, refusals."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from geninv.errors import ParseError, UnsupportedError, ValidationError  # noqa: E402
from geninv.io.onnx_io import export_onnx, import_onnx  # noqa: E402
from geninv.io.torch_io import (  # noqa: E402
    ArchStep,
    from_sequential,
    from_state_dict,
    load_npz,
    load_torch_file,
    parse_arch,
    to_torch,
)
from geninv.network import ReLUNetwork  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
SHARED_MODELS_REASON = (
    "../shared/models is not present beside this checkout (CI and the developers' machines "
    "have it; a user's clone may not)"
)
GAN_ARCH = "0,relu,2,relu,4,tanh"
VAE_ARCH = "linear:fc3,relu,linear:fc4,sigmoid"
VAE_ENCODER = ("fc1", "fc21", "fc22")


@pytest.fixture
def shared_models() -> Path:
    if not SHARED_MODELS.is_dir():
        pytest.skip(SHARED_MODELS_REASON)
    return SHARED_MODELS


def save_npz(path: Path, arrays: dict[str, Any]) -> None:
    np.savez(path, **arrays)


def torch_forward(module: nn.Module, z: np.ndarray, dtype: Any = None) -> np.ndarray:
    dt = dtype or next(module.parameters()).dtype
    with torch.no_grad():
        out = module(torch.from_numpy(np.asarray(z)).to(dt))
    return np.asarray(out.to(torch.float64).numpy())


def run_ort(path: Path, z: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    elem = np.float32 if inp.type == "tensor(float)" else np.float64
    rows = [sess.run(None, {inp.name: row[None, :].astype(elem)})[0][0] for row in z]
    return np.asarray(rows, dtype=np.float64)


def random_sequential(seed: int, dtype: Any = torch.float32) -> nn.Sequential:
    """Linear layers with assorted activations and no-op modules between them."""
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    widths = [int(w) for w in rng.integers(2, 9, size=int(rng.integers(2, 5)))]
    acts: list[Callable[[], nn.Module]] = [
        lambda: nn.ReLU(),
        lambda: nn.LeakyReLU(0.2),
        lambda: nn.Sigmoid(),
        lambda: nn.Tanh(),
        lambda: nn.ReLU(inplace=True),
    ]
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        lin = nn.Linear(a, b, bias=bool(rng.random() < 0.7), dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=gen, dtype=dtype))
            if lin.bias is not None:
                lin.bias.copy_(torch.randn(b, generator=gen, dtype=dtype))
        mods.append(lin)
        if rng.random() < 0.3:
            mods.append([nn.Identity(), nn.Dropout(0.5), nn.Flatten()][int(rng.integers(3))])
        if i < len(widths) - 2 or rng.random() < 0.7:
            mods.append(acts[int(rng.integers(len(acts)))]())
    return nn.Sequential(*mods).eval()


# ---------------------------------------------------------------- from_sequential
@pytest.mark.parametrize("seed", range(12))
def test_sequential_round_trip_identical(seed: int) -> None:
    seq = random_sequential(seed)
    net = from_sequential(seq)
    z = np.random.default_rng(seed).normal(size=(16, net.n_inputs)).astype(np.float32)
    # the weights came across exactly: float32 in, exact float32 values out
    assert net.is_float32_exact()
    back = to_torch(net, dtype=torch.float32)
    assert np.array_equal(torch_forward(back, z), torch_forward(seq, z))
    # geninv's float64 evaluation agrees with torch's float32 forward up to float32 rounding
    assert np.allclose(net.forward(z.astype(np.float64)), torch_forward(seq, z), atol=1e-5)
    # float64 copies agree with geninv's float64 forward to rounding
    back64 = to_torch(net)
    assert np.allclose(torch_forward(back64, z), net.forward(z.astype(np.float64)), atol=1e-12)


def test_sequential_float64_exact_and_frozen() -> None:
    seq = random_sequential(3, dtype=torch.float64)
    net = from_sequential(seq)
    assert net.is_float_exact()
    lin = [m for m in seq if isinstance(m, nn.Linear)]
    for layer, m in zip(net.layers, lin, strict=True):
        assert np.array_equal(layer.weight, m.weight.detach().numpy())
    back = to_torch(net)
    assert all(not p.requires_grad for p in back.parameters())
    assert not back.training


def test_activations_and_slopes_converted_exactly() -> None:
    seq = nn.Sequential(
        nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)
    )
    net = from_sequential(seq)
    # a float32 model computes with float32(0.2): that is the slope of the network it runs
    slope32 = Fraction(float(np.float32(0.2)))
    assert net.activations == [f"leaky_relu:{slope32}", "tanh", "identity"]
    assert net.layers[0].negative_slope == slope32
    back = to_torch(net)
    leaky = [m for m in back if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 1 and leaky[0].negative_slope == float(np.float32(0.2))
    x = torch.randn(1000, 3)
    with torch.no_grad():
        assert torch.equal(back.float()(x), seq(x))
    # a float64 model computes with the float64 slope
    seq64 = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.LeakyReLU(0.2))
    assert from_sequential(seq64).layers[0].negative_slope == Fraction(0.2)


def test_consecutive_linears_compose_exactly() -> None:
    first = nn.Linear(3, 5, dtype=torch.float64)
    second = nn.Linear(5, 4, bias=False, dtype=torch.float64)
    seq = nn.Sequential(
        first, nn.Dropout(), second, nn.ReLU(), nn.Linear(4, 2, dtype=torch.float64)
    ).eval()
    net = from_sequential(seq)
    assert net.depth == 2
    assert net.activations == ["relu", "identity"]
    w1 = first.weight.detach().numpy()
    b1 = first.bias.detach().numpy()
    w2 = second.weight.detach().numpy()
    want = [[sum(Fraction(w2[i, k]) * Fraction(w1[k, j]) for k in range(5)) for j in range(3)]
            for i in range(4)]  # fmt: skip
    rows = net.layers[0].exact_rows()
    for i in range(4):
        idx, coef = rows[i]
        got = [Fraction(0)] * 3
        for j, c in zip(idx, coef, strict=True):
            got[j] = c
        assert got == want[i]
    want_b = [sum(Fraction(w2[i, k]) * Fraction(b1[k]) for k in range(5)) for i in range(4)]
    assert net.layers[0].exact_bias_values() == want_b
    z = np.random.default_rng(0).normal(size=(8, 3))
    assert np.allclose(net.forward(z), torch_forward(seq, z), atol=1e-12)


def test_activation_after_activation_gets_identity_layer() -> None:
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sigmoid(), nn.Linear(4, 1))
    net = from_sequential(seq)
    assert net.activations == ["relu", "sigmoid", "identity"]
    assert np.array_equal(net.layers[1].weight, np.eye(4))
    z = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    assert np.allclose(net.forward(z), torch_forward(seq, z), atol=1e-6)


def test_nested_sequential_is_flattened() -> None:
    seq = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1))
    net = from_sequential(seq)
    assert net.activations == ["relu", "identity"]


@pytest.mark.parametrize(
    ("seq", "match"),
    [
        (nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Conv2d(1, 1, 1)), r"module 2 \(Conv2d\)"),
        (nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.ReLU()), r"module 1 \(LayerNorm\)"),
        (
            nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.SELU())),
            r"module 1\.1 \(SELU\)",
        ),
        (nn.Sequential(nn.ReLU(), nn.Linear(4, 4)), r"module 0 \(ReLU\).*before the first Linear"),
        (nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(-0.5)), r"module 1 \(LeakyReLU\).*slope"),
        (nn.Sequential(nn.Linear(4, 4), nn.Flatten(0)), r"module 1 \(Flatten\)"),
        (nn.Sequential(nn.Identity()), "no Linear"),
        (nn.Sequential(), "no Linear"),
    ],
)
def test_sequential_refusals(seq: nn.Sequential, match: str) -> None:
    with pytest.raises(UnsupportedError, match=match):
        from_sequential(seq)


def test_sequential_refuses_non_sequential_and_bad_shapes() -> None:
    with pytest.raises(UnsupportedError, match=r"nn\.Sequential"):
        from_sequential(nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"module 2 \(Linear\): takes 5 inputs"):
        from_sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(5, 1)))
    bad = nn.Linear(2, 2)
    with torch.no_grad():
        bad.weight[0, 0] = float("nan")
    with pytest.raises(ValidationError, match=r"module 0 \(Linear\): weight contains NaN"):
        from_sequential(nn.Sequential(bad))


# ---------------------------------------------------------------- architecture strings
def test_parse_arch_grammar() -> None:
    steps = parse_arch(" 0, relu ,linear:dec.fc3:nobias, leaky_relu:1/5,linear:fc4,sigmoid,tanh")
    assert steps == [
        ArchStep("linear", "0"),
        ArchStep("activation", "relu"),
        ArchStep("linear", "dec.fc3", bias=False),
        ArchStep("activation", "leaky_relu:1/5"),
        ArchStep("linear", "fc4"),
        ArchStep("activation", "sigmoid"),
        ArchStep("activation", "tanh"),
    ]
    assert parse_arch("2,leaky_relu")[1].name == "leaky_relu:1/100"


@pytest.mark.parametrize(
    ("arch", "match"),
    [
        ("", "expected a string"),
        ("0,,relu", "step 2 is empty"),
        ("0,softplus", r"step 2 \('softplus'\)"),
        ("linear:", r"step 1 \('linear:'\)"),
        ("linear:a b", r"step 1"),
        ("relu,tanh", "no linear step"),
    ],
)
def test_parse_arch_errors(arch: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        parse_arch(arch)


def small_state(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "fc1.weight": torch.from_numpy(rng.normal(size=(5, 3)).astype(np.float32)),
        "fc1.bias": torch.from_numpy(rng.normal(size=5).astype(np.float32)),
        "fc2.weight": rng.normal(size=(2, 5)),  # numpy arrays work as well
        "fc2.bias": rng.normal(size=2),
        "enc.weight": torch.zeros(3, 3),
    }


def test_from_state_dict_matches_sequential() -> None:
    state = small_state(np.random.default_rng(0))
    net = from_state_dict(state, "linear:fc1,relu,linear:fc2,tanh", ignore=["enc"])
    fc1 = nn.Linear(3, 5, dtype=torch.float64)
    fc2 = nn.Linear(5, 2, dtype=torch.float64)
    seq = nn.Sequential(fc1, nn.ReLU(), fc2, nn.Tanh())
    with torch.no_grad():
        fc1.weight.copy_(state["fc1.weight"].double())
        fc1.bias.copy_(state["fc1.bias"].double())
        fc2.weight.copy_(torch.from_numpy(state["fc2.weight"]))
        fc2.bias.copy_(torch.from_numpy(state["fc2.bias"]))
    z = np.random.default_rng(1).normal(size=(6, 3))
    assert np.allclose(net.forward(z), torch_forward(seq, z), atol=1e-12)
    ref = from_sequential(seq)
    for a, b in zip(net.layers, ref.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    # ignore="*" skips every unused key
    assert from_state_dict(state, "linear:fc1,relu,linear:fc2,tanh", ignore=["*"]).depth == 2


def test_from_state_dict_nobias_and_final_identity() -> None:
    state = {"a.weight": torch.ones(2, 2), "b.weight": torch.ones(1, 2), "b.bias": torch.ones(1)}
    net = from_state_dict(state, "linear:a:nobias,relu,linear:b")
    assert net.activations == ["relu", "identity"]
    assert np.array_equal(net.layers[0].bias, np.zeros(2))
    assert net.forward(np.array([1.0, -3.0]))[0] == 1.0


@pytest.mark.parametrize(
    ("mutate", "arch", "match"),
    [
        (lambda s: s.pop("fc1.bias"), None, r"missing key 'fc1\.bias'"),
        (lambda s: s.pop("fc2.weight"), None, r"missing key 'fc2\.weight'"),
        (lambda s: None, "linear:fc1,relu,linear:fc2", r"unexpected key 'enc\.weight'"),
        (
            lambda s: s.__setitem__("fc1.bias", torch.zeros(4)),
            None,
            r"key 'fc1\.bias' has shape \(4,\); expected \(5,\)",
        ),
        (
            lambda s: s.__setitem__("fc2.weight", np.zeros((2, 4))),
            None,
            r"key 'fc2\.weight' has shape \(2, 4\): 4 inputs, but 'fc1\.weight' has 5 outputs",
        ),
        (
            lambda s: s.__setitem__("fc1.weight", torch.zeros(5)),
            None,
            r"key 'fc1\.weight' has shape \(5,\); expected a matrix",
        ),
        (
            lambda s: s.__setitem__("fc1.weight", torch.zeros(5, 3, dtype=torch.int64)),
            None,
            r"key 'fc1\.weight' has dtype torch\.int64",
        ),
        (
            lambda s: s.__setitem__("fc2.bias", np.array([1.0, np.inf])),
            None,
            r"key 'fc2\.bias' contains NaN or infinite",
        ),
        (lambda s: s.__setitem__("fc2.bias", [1.0, 2.0]), None, r"key 'fc2\.bias' is a list"),
    ],
)
def test_from_state_dict_errors_name_the_key(mutate: Any, arch: str | None, match: str) -> None:
    state = small_state(np.random.default_rng(0))
    mutate(state)
    ignore = () if arch is not None else ("enc",)
    with pytest.raises(ParseError, match=match):
        from_state_dict(state, arch or "linear:fc1,relu,linear:fc2", ignore=ignore)


def test_arch_activation_first_is_refused() -> None:
    with pytest.raises(ValidationError, match="before the first linear"):
        from_state_dict({"0.weight": torch.ones(1, 1), "0.bias": torch.ones(1)}, "relu,0")


# ---------------------------------------------------------------- files
def test_files_round_trip(tmp_path: Path) -> None:
    seq = random_sequential(5)
    ref = from_sequential(seq)
    steps = []
    for i, m in enumerate(seq):
        if isinstance(m, nn.Linear):
            steps.append(str(i) if m.bias is not None else f"linear:{i}:nobias")
        elif isinstance(m, nn.LeakyReLU):
            # the float32 model computes with float32(negative_slope)
            steps.append(f"leaky_relu:{Fraction(float(np.float32(m.negative_slope)))}")
        elif isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh)):
            steps.append(type(m).__name__.lower())
    arch = ",".join(steps)
    torch.save(seq.state_dict(), tmp_path / "g.pt")
    save_npz(tmp_path / "g.npz", {k: v.numpy() for k, v in seq.state_dict().items()})
    for net in (load_torch_file(tmp_path / "g.pt", arch), load_npz(tmp_path / "g.npz", arch)):
        for a, b in zip(net.layers, ref.layers, strict=True):
            assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
        assert net.activations == ref.activations
    # a whole module, and a {"state_dict": ...} wrapper, are read too
    torch.save({"state_dict": seq.state_dict(), "epoch": 3}, tmp_path / "w.pt")
    assert load_torch_file(tmp_path / "w.pt", arch).depth == ref.depth


class _Opaque:
    pass


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    arch = "0,relu"
    missing = tmp_path / "nope.pt"
    with pytest.raises(ParseError, match=r"nope\.pt: not a readable PyTorch file: file not found"):
        load_torch_file(missing, arch)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ParseError, match=r"empty\.pt: .*the file is empty"):
        load_torch_file(empty, arch)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    for reader in (load_torch_file, load_npz):
        with pytest.raises(ParseError, match=r"notes\.txt: not a readable") as err:
            reader(text, arch)
        assert "\n" not in str(err.value)
    with pytest.raises(ParseError, match=r"is a directory"):
        load_npz(tmp_path, arch)
    # a pickle holding arbitrary objects is refused unless trusted
    torch.save({"0.weight": torch.ones(1, 1), "junk": _Opaque()}, tmp_path / "obj.pt")
    with pytest.raises(ParseError, match=r"obj\.pt: .*weights_only=True.*_Opaque") as err:
        load_torch_file(tmp_path / "obj.pt", arch)
    assert "\n" not in str(err.value)
    with pytest.raises(ParseError, match=r"obj\.pt: .*unexpected key 'junk'"):
        load_torch_file(tmp_path / "obj.pt", "linear:0:nobias", trusted=True)
    # a torch zip is not an npz; a truncated torch file is reported
    torch.save({"0.weight": torch.ones(1, 1)}, tmp_path / "z.pt")
    with pytest.raises(ParseError, match=r"z\.pt: .*is not a \.npy array"):
        load_npz(tmp_path / "z.pt", arch)
    data = (tmp_path / "z.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match=r"cut\.pt: not a readable PyTorch file"):
        load_torch_file(tmp_path / "cut.pt", arch)
    # key errors in files name the file and the key
    save_npz(tmp_path / "k.npz", {"0.weight": np.ones((1, 1))})
    with pytest.raises(ParseError, match=r"k\.npz: missing key '0\.bias'"):
        load_npz(tmp_path / "k.npz", arch)
    # object arrays are not unpickled
    save_npz(tmp_path / "o.npz", {"0.weight": np.array([None, 1], dtype=object)})
    with pytest.raises(ParseError, match=r"o\.npz: not a readable npz archive"):
        load_npz(tmp_path / "o.npz", arch)
    with open(tmp_path / "list.pt", "wb") as fh:
        pickle.dump([1, 2], fh)
    with pytest.raises(ParseError, match=r"list\.pt"):
        load_torch_file(tmp_path / "list.pt", arch)


# ---------------------------------------------------------------- the shared MNIST models
def gan_module() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 784),
        nn.Tanh(),
    )


class _ExamplesVAEDecoder(nn.Module):
    """The decode() of the PyTorch-examples VAE, with its own parameter names."""

    def __init__(self) -> None:
        super().__init__()
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, z: Any) -> Any:
        return torch.sigmoid(self.fc4(torch.relu(self.fc3(z))))


def assert_same_weights(a: ReLUNetwork, b: ReLUNetwork) -> None:
    assert a.activations == b.activations
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)


@pytest.mark.parametrize("which", ["gan", "vae"])
def test_shared_models_load_and_agree(shared_models: Path, which: str, tmp_path: Path) -> None:
    if which == "gan":
        pickle_path = shared_models / "mnist_gan_mlp_G--300.ckpt"
        npz_path = shared_models / "mnist_gan_mlp_G--300.npz"
        ignore: tuple[str, ...] = ()
        arch, n, lo, hi = GAN_ARCH, 64, -1.0, 1.0
        module: nn.Module = gan_module()
        state = torch.load(pickle_path, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    else:
        pickle_path = shared_models / "mnist_vae_epoch_25.pth"
        npz_path = shared_models / "mnist_vae_epoch_25.npz"
        ignore = VAE_ENCODER
        arch, n, lo, hi = VAE_ARCH, 20, 0.0, 1.0
        module = _ExamplesVAEDecoder()
        state = torch.load(pickle_path, map_location="cpu", weights_only=True)
        module.load_state_dict({k: v for k, v in state.items() if k.startswith(("fc3", "fc4"))})
    module.eval()
    from_pickle = load_torch_file(pickle_path, arch, ignore=ignore)
    from_npz = load_npz(npz_path, arch, ignore=ignore)
    assert_same_weights(from_pickle, from_npz)
    assert from_pickle.n_inputs == n and from_pickle.n_outputs == 784
    assert from_pickle.is_float32_exact()
    if which == "gan":
        assert_same_weights(from_pickle, from_sequential(module))  # type: ignore[arg-type]

    z = np.random.default_rng(0).normal(size=(8, n))
    ours = from_pickle.forward(z)
    assert ours.min() >= lo and ours.max() <= hi
    assert np.allclose(ours, torch_forward(module, z.astype(np.float32)), atol=2e-5)
    assert np.allclose(ours, torch_forward(to_torch(from_npz), z), atol=1e-12)

    onnx_path = tmp_path / f"{which}.onnx"
    export_onnx(from_npz, onnx_path)
    assert np.allclose(run_ort(onnx_path, z), ours, atol=2e-5)
    assert_same_weights(import_onnx(onnx_path), from_pickle)


def test_shared_vae_needs_ignore_for_the_encoder(shared_models: Path) -> None:
    with pytest.raises(ParseError, match=r"mnist_vae_epoch_25\.pth: unexpected key 'fc1\.bias'"):
        load_torch_file(shared_models / "mnist_vae_epoch_25.pth", VAE_ARCH)
    with pytest.raises(ParseError, match=r"mnist_gan_mlp_G--300\.npz: missing key '6\.weight'"):
        load_npz(shared_models / "mnist_gan_mlp_G--300.npz", GAN_ARCH + ",6")
