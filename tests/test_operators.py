"""Measurement operators (issue 17, item 2): each operator against an independent
computation, its sparse matrix and its torch form; records and instance round trips;
the noise's own stream; ``geninv sense --operator``; an exact backend on inpainting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.signal

import geninv
from geninv import sensing
from geninv.cli import main
from geninv.errors import GeninvError, ParseError, ValidationError
from geninv.io.instance import load_instance, save_instance
from geninv.network import ReLUNetwork
from geninv.operators import (
    BlurOperator,
    DenseOperator,
    IdentityOperator,
    InpaintOperator,
    Operator,
    SuperResOperator,
    gaussian_kernel,
    operator_from_dict,
)
from geninv.problem import Domain, Status
from geninv.workflows import recovery

torch = pytest.importorskip("torch")

SHAPES = [(6, 8), (2, 6, 4)]


def operators(shape: tuple[int, ...], rng: np.random.Generator) -> list[Operator]:
    q = int(np.prod(shape))
    return [
        DenseOperator.gaussian(5, shape, seed=3, stream=0),
        DenseOperator(rng.normal(size=(7, q)), shape),
        InpaintOperator.random(shape, 0.4, seed=1),
        InpaintOperator(shape, rng.integers(0, 2, size=shape) | (np.arange(q) == 0).reshape(shape)),
        SuperResOperator(shape, 2),
        BlurOperator(shape, gaussian_kernel(0.8)),
        BlurOperator(shape, rng.normal(size=(2, 3))),  # even side, not symmetric
        BlurOperator(shape, rng.normal(size=(5, 1))),
        IdentityOperator(shape),
    ]


def _cases() -> list[tuple[tuple[int, ...], int]]:
    return [(s, i) for s in SHAPES for i in range(9)]


@pytest.mark.parametrize(("shape", "index"), _cases())
def test_apply_matrix_torch_and_record_agree(shape: tuple[int, ...], index: int) -> None:
    rng = np.random.default_rng(index)
    op = operators(shape, rng)[index]
    x = rng.normal(size=(4, op.q)) * rng.choice([1e-9, 1.0, 1e6], size=(4, 1))
    y = op.apply(x)
    assert y.shape == (4, op.m) and op.apply(x[0]).shape == (op.m,)
    M = op.matrix()
    assert M.shape == (op.m, op.q) and M.format == "csr"
    assert np.allclose(y, (M @ x.T).T, rtol=1e-12, atol=1e-12 * np.abs(x).max())
    assert np.array_equal(op.dense(), M.toarray())
    t = op.torch_apply(torch.tensor(x, dtype=torch.float64)).numpy()
    assert np.allclose(t, y, rtol=1e-12, atol=1e-12 * np.abs(x).max())
    again = operator_from_dict(json.loads(json.dumps(op.to_dict())), matrix=op.dense())
    assert type(again) is type(op) and again.shape == op.shape
    assert np.array_equal(again.dense(), op.dense())
    assert op.trivial_estimate(y).shape == x.shape


@pytest.mark.parametrize("shape", SHAPES)
def test_against_independent_computations(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(7)
    q = int(np.prod(shape))
    x = rng.normal(size=q)
    img = x.reshape(shape if len(shape) == 3 else (1, *shape))
    # inpainting: the kept pixels, in order
    keep = rng.random(shape) < 0.6
    keep.flat[0] = True
    assert np.array_equal(InpaintOperator(shape, keep).apply(x), x[keep.reshape(-1)])
    # super-resolution: the mean of each 2x2 block, pixel by pixel
    sr = SuperResOperator(shape, 2).apply(x).reshape(img.shape[0], img.shape[1] // 2, -1)
    for c in range(img.shape[0]):
        for i in range(sr.shape[1]):
            for j in range(sr.shape[2]):
                block = img[c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                assert sr[c, i, j] == pytest.approx(block.sum() / 4, rel=1e-13, abs=1e-15)
    # blur: scipy's 'same' convolution, channel by channel, for odd, even and long kernels
    for k in (gaussian_kernel(1.0), rng.normal(size=(2, 4)), rng.normal(size=(9, 3))):
        got = BlurOperator(shape, k).apply(x).reshape(img.shape)
        want = np.stack([scipy.signal.convolve2d(ch, k, mode="same") for ch in img])
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    # the trivial estimates: masked input, block upsampling
    ip = InpaintOperator(shape, keep)
    masked = ip.trivial_estimate(ip.apply(x))
    assert np.array_equal(masked, np.where(keep.reshape(-1), x, 0.0))
    up = SuperResOperator(shape, 2).trivial_estimate(sr.reshape(-1)).reshape(img.shape)
    assert np.allclose(up[:, ::2, ::2], sr) and np.allclose(up[:, 1::2, 1::2], sr)


def test_random_inpainting_is_seeded_and_exact_in_count() -> None:
    a = InpaintOperator.random((8, 8), 0.8, seed=5, stream=0)
    b = InpaintOperator.random((8, 8), 0.8, seed=5, stream=0)
    c = InpaintOperator.random((8, 8), 0.8, seed=6, stream=0)
    assert a.m == 64 - round(0.8 * 64) == 13
    assert np.array_equal(a.keep, b.keep) and not np.array_equal(a.keep, c.keep)


# ---------------------------------------------------------------- records and instances
def _generator(rng: np.random.Generator, q: int) -> ReLUNetwork:
    return ReLUNetwork(
        [rng.normal(size=(10, 3)), rng.normal(size=(q, 10))],
        [rng.normal(size=10), rng.normal(size=q)],
        activations=["relu", "relu"],
    )


@pytest.mark.parametrize("index", range(9))
def test_round_trip_through_an_instance_directory(tmp_path: Path, index: int) -> None:
    rng = np.random.default_rng(11 + index)
    shape = (2, 6, 4)
    op = operators(shape, rng)[index]
    gen = _generator(rng, op.q)
    y = op.apply(gen.forward(rng.normal(size=3)))
    problem = sensing.sensing_problem(gen, op, y)
    save_instance(problem, tmp_path / "inst")
    back = sensing.operator_of(load_instance(tmp_path / "inst"))
    assert type(back) is type(op) and back.m == op.m and back.shape == op.shape
    x = rng.normal(size=(3, op.q))
    assert np.array_equal(back.apply(x), op.apply(x))
    assert np.array_equal(sensing.generator_of(problem).forward(x[:, :3]), gen.forward(x[:, :3]))


def test_edited_records_are_refused() -> None:
    rng = np.random.default_rng(0)
    op = InpaintOperator.random((4, 4), 0.5, seed=0)
    problem = sensing.sensing_problem(_generator(rng, 16), op, np.zeros(op.m))
    other = InpaintOperator.random((4, 4), 0.5, seed=1).to_dict()
    problem.source.parameters["operator"] = other
    with pytest.raises(ValidationError, match="not the network's measurement layer"):
        sensing.operator_of(problem)
    bad: list[Any] = [
        [],
        {"kind": "warp", "shape": [4, 4]},
        {"kind": "superres", "shape": [4, 4], "factor": 3, "m": 4},
        {"kind": "superres", "shape": [4, 4], "factor": 2, "m": 5},
        {"kind": "inpaint", "shape": [4, 4], "keep": "zz", "m": 1},
        {"kind": "inpaint", "shape": [4, 4], "keep": "0000", "m": 0},
        {"kind": "blur", "shape": [4, 4], "kernel": [[1, 2], [3]], "m": 16},
        {"kind": "blur", "shape": [4, -4], "kernel": [[1]], "m": 16},
        {"kind": "dense", "shape": [4, 4], "source": "file x.npy", "m": 2},
    ]
    for d in bad:
        with pytest.raises(ValidationError):
            operator_from_dict(d)


# ---------------------------------------------------------------- the noise's own stream
def test_noise_is_not_a_row_of_the_matrix() -> None:
    """Before, ``measure`` drew the noise from ``default_rng(seed)``, the generator of
    ``gaussian_measurements(m, q, seed)``: the first image's noise was ``sqrt(m)`` times
    the first ``m`` entries of A.  Now it comes from its own child stream."""
    m, q, seed, n = 20, 64, 0, 3
    A = sensing.gaussian_measurements(m, q, seed)
    e = recovery.measure(np.zeros((n, q)), A, 1.0, seed)
    flat = A.reshape(-1) * np.sqrt(m)
    windows = np.lib.stride_tricks.sliding_window_view(flat, m)
    for row in e:
        corr = windows @ row / (np.linalg.norm(windows, axis=1) * np.linalg.norm(row))
        assert np.max(np.abs(corr)) < 0.95
    # the streams used by geninv sense: operator, noise, backend all differ
    op = recovery.make_operator("gaussian", q, measurements=m, seed=seed)
    assert not np.allclose(op.dense(), A)
    noise = recovery.measure(np.zeros((1, q)), op, 1.0, seed)[0]
    assert np.array_equal(noise, recovery.noise_rng(seed).normal(size=(1, m))[0])
    assert recovery.backend_seed(seed) != seed


# ---------------------------------------------------------------- the command line
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


FAST = ["--option", "steps=100", "--option", "restarts=2", "--option", "lr=0.05"]


def test_sense_inpaint_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, png = tmp_path / "inst", tmp_path / "grid.png"
    argv = ["sense", "--digits", "2", "--operator", "inpaint", "--missing", "0.5", *FAST]
    code, out, err = run(capsys, *argv, "-o", str(inst), "--png", str(png))
    assert code == 0, err
    assert "operator: inpaint: 32 of 64 pixels missing (50%)" in out
    assert "image 1: adam" in out and "trivial estimate (the masked input" in out
    geninv_err = float(out.split("mean per-pixel error over 2 image(s)")[1].split("geninv ")[1][:6])
    trivial_err = float(out.split("trivial estimate")[1].split("error ")[1].split()[0])
    assert geninv_err < trivial_err  # the prior fills the missing pixels
    assert png.stat().st_size > 1000
    problem = load_instance(inst)
    params = problem.source.parameters
    assert params["operator"]["kind"] == "inpaint" and params["measurements"] == 32
    assert params["backend"]["options"] == {"steps": 100, "restarts": 2, "lr": 0.05}
    assert params["noise"] == {"sigma": 0.0, "stream": recovery.NOISE_STREAM}
    op = sensing.operator_of(problem)
    assert isinstance(op, InpaintOperator) and op.m == 32


def test_option_reaches_the_backend() -> None:
    """The options reach the backend: adam reports the lr it ran with; an unknown one is refused."""
    gen = sensing.load_digits_generator()
    images = sensing.load_test_digits()[0][:1]
    op = recovery.make_operator("superres", 64, factor=2, seed=0)
    opts = {"lr": 0.05, "steps": 20, "restarts": 2}
    ((problem, rec),) = recovery.sense(gen, op, images=images, options=opts)
    assert rec.solution.stats["lr"] == 0.05 and rec.solution.stats["steps"] == 20
    assert problem.source.parameters["backend"]["options"] == opts
    with pytest.raises(GeninvError, match="nosuch"):
        list(recovery.sense(gen, op, images=images, options={"nosuch": 1}))


def test_sense_option_unknown_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "sense", "--digits", "1", "--measurements", "10", "--option", "nosuch=1"
    )
    one_line_error(code, err, "nosuch")
    code, _, err = run(capsys, "sense", "--digits", "1", "--measurements", "10", "--option", "lr")
    one_line_error(code, err, "KEY=VALUE")


def test_y_with_image_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "x.npy", np.zeros(64))
    np.save(tmp_path / "y.npy", np.zeros(10))
    argv = ["sense", "--network", str(sensing.DIGITS_VAE_DIR / "decoder.onnx")]
    argv += ["--image", str(tmp_path / "x.npy"), "--y", str(tmp_path / "y.npy")]
    code, _, err = run(capsys, *argv, "--measurements", "10")
    one_line_error(code, err, "--image", "--y", "not both")
    code, _, err = run(capsys, "sense", "--digits", "1", "--y", str(tmp_path / "y.npy"))
    one_line_error(code, err, "--digits")


def test_sense_measurements_only_and_blur(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--y: measurements of the operator's size, no truth; blur through the command line."""
    gen = sensing.load_digits_generator()
    x = sensing.load_test_digits()[0][:2]
    op = recovery.make_operator("superres", 64, factor=2)
    np.save(tmp_path / "y.npy", op.apply(x))
    quick = ["--option", "steps=20", "--option", "restarts=1"]
    net = ["--network", str(sensing.DIGITS_VAE_DIR / "decoder.onnx")]
    code, out, err = run(
        capsys, "sense", *net, "--y", str(tmp_path / "y.npy"), "--operator", "superres", *quick
    )
    assert code == 0, err
    assert "operator: superres: 2x2 block means (16 of 64)" in out and "image 1: adam" in out
    assert "per-pixel error" not in out  # no truth, no errors
    np.save(tmp_path / "y5.npy", np.zeros((1, 5)))
    code, _, err = run(
        capsys, "sense", *net, "--y", str(tmp_path / "y5.npy"), "--operator", "superres"
    )
    one_line_error(code, err, "y5.npy", "length 16")
    code, out, err = run(
        capsys, "sense", "--digits", "1", "--operator", "blur", "--kernel", "gaussian:0.8", *quick
    )
    assert code == 0, err
    assert (
        "operator: blur: gaussian sigma 0.8" in out
        and "trivial estimate (the blurred input)" in out
    )
    assert gen.n_outputs == 64


def _hostile_files(tmp: Path) -> dict[str, Path]:
    files = {
        "mask.npy": np.ones((7, 7)),
        "mask2.npy": np.full((8, 8), 2.0),
        "kern3d.npy": np.ones((2, 2, 2)),
    }
    for name, arr in files.items():
        np.save(tmp / name, arr)
    (tmp / "kern.txt").write_text("1 2 3\n4 5\n")
    (tmp / "kernx.txt").write_text("1 2\n3 x\n")
    (tmp / "A.txt").write_text("1 2 3\n")
    (tmp / "trunc.npy").write_bytes((tmp / "mask.npy").read_bytes()[:100])
    return {p.name: p for p in tmp.iterdir()}


HOSTILE = [
    (["--operator", "superres", "--factor", "3"], ["--factor 3", "8 x 8"]),
    (["--operator", "superres", "--factor", "0"], ["--factor"]),
    (["--operator", "inpaint", "--missing", "1.0"], ["--missing"]),
    (["--operator", "inpaint", "--missing", "nan"], ["--missing"]),
    (["--operator", "inpaint", "--mask", "{mask.npy}"], ["mask.npy", "(8, 8)"]),
    (["--operator", "inpaint", "--mask", "{mask2.npy}"], ["mask2.npy", "0 (missing) and 1"]),
    (["--operator", "inpaint", "--mask", "{trunc.npy}"], ["trunc.npy"]),
    (["--operator", "inpaint", "--mask", "{mask.npy}", "--missing", "0.3"], ["not both"]),
    (["--operator", "blur", "--kernel", "{kern.txt}"], ["kern.txt:2", "row has 2 numbers"]),
    (["--operator", "blur", "--kernel", "{kernx.txt}"], ["kernx.txt:2", "numbers"]),
    (["--operator", "blur", "--kernel", "{kern3d.npy}"], ["kern3d.npy", "2-D"]),
    (["--operator", "blur", "--kernel", "gaussian:-1"], ["gaussian:-1"]),
    (["--operator", "blur", "--kernel", "gaussian:abc"], ["gaussian:SIGMA"]),
    (["--operator", "blur", "--kernel", "kernel.png"], [".npy/.txt"]),
    (["--operator", "blur", "--kernel", "gaussian:200"], ["wider"]),
    (["--operator", "inpaint", "--factor", "2"], ["--factor does not apply"]),
    (["--operator", "identity", "--measurements", "5"], ["--measurements does not apply"]),
    (["--operator", "identity", "--image-shape", "3,3"], ["--image-shape", "64 outputs"]),
    (["--operator", "identity", "--image-shape", "a,b"], ["--image-shape"]),
    (["--operator", "dense"], ["--matrix"]),
    (["--matrix", "{A.txt}"], ["A.txt", "64 columns"]),
    (["--matrix", "{A.txt}", "--measurements", "5"], ["--matrix", "not both"]),
]


@pytest.mark.parametrize(("extra", "needles"), HOSTILE)
def test_hostile_operator_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needles: list[str]
) -> None:
    files = _hostile_files(tmp_path)
    argv = [str(files[a[1:-1]]) if a.startswith("{") else a for a in extra]
    code, out, err = run(capsys, "sense", "--digits", "1", *argv)
    one_line_error(code, err, *needles)
    assert out == ""


# ---------------------------------------------------------------- an exact backend
def test_milp_on_inpainting_yes_checked_exactly_and_bab_no_certified() -> None:
    gen = sensing.load_digits_generator()
    assert set(gen.activations) == {"relu"}
    rng = np.random.default_rng(1)
    x = gen.forward(rng.uniform(-1, 1, size=gen.n_inputs))
    op = recovery.make_operator("inpaint", gen.n_outputs, missing=0.5, seed=3)
    box = Domain.box([-2.0] * gen.n_inputs, [2.0] * gen.n_inputs)
    problem = sensing.sensing_problem(gen, op, op.apply(x), p="inf", threshold=1e-4, domain=box)
    sol = geninv.solve(problem, "milp")
    assert sol.status is Status.YES and sol.z is not None
    check = geninv.check(problem, sol.z)
    assert check.meets and check.method == "exact rational"
    # the kept pixels of G(z) match; exactly, through the generator alone
    g = gen.forward_exact(sol.z)
    for i, j in enumerate(op.index):  # type: ignore[attr-defined]
        assert abs(float(g[j]) - op.apply(x)[i]) <= 1e-4
    # a pixel no latent in the box reaches: a certified no (branch and bound, checked)
    y = op.apply(x)
    y[0] += 5.0
    far = sensing.sensing_problem(gen, op, y, p="inf", threshold=0.5, domain=box)
    no = geninv.solve(far, "bab")
    assert no.status is Status.NO and no.proof is not None
    assert "checked" in json.dumps(no.proof)


def test_mask_and_kernel_files(tmp_path: Path) -> None:
    keep = np.random.default_rng(2).random(64) < 0.5
    (tmp_path / "mask.txt").write_text(" ".join(str(int(v)) for v in keep) + "  # one row\n")
    np.save(tmp_path / "mask.npy", keep.reshape(8, 8))
    for name in ("mask.txt", "mask.npy"):
        op = recovery.make_operator("inpaint", 64, mask=str(tmp_path / name))
        assert isinstance(op, InpaintOperator) and np.array_equal(op.keep, keep)
    (tmp_path / "k.txt").write_text("0, 1, 0\n1, 4, 1\n0, 1, 0\n")
    op = recovery.make_operator("blur", 64, kernel=str(tmp_path / "k.txt"))
    assert isinstance(op, BlurOperator) and op.kernel.sum() == 8.0
    (tmp_path / "zero.txt").write_text("0 0\n0 0\n")
    with pytest.raises(
        ParseError, match=r"zero\.txt: the blur kernel must be finite and not all zero"
    ):
        recovery.make_operator("blur", 64, kernel=str(tmp_path / "zero.txt"))


def test_make_operator_refuses_mismatches() -> None:
    with pytest.raises(ValidationError, match="one of"):
        recovery.make_operator("warp", 64)
    with pytest.raises(ValidationError, match="64 columns"):
        recovery.make_operator("dense", 64, matrix=np.ones((3, 5)))
    with pytest.raises(ParseError, match="no such file"):
        recovery.make_operator("dense", 64, matrix=str(Path(__file__)) + ".npy")
    op = recovery.make_operator("identity", 64)
    gen = _generator(np.random.default_rng(0), 16)
    with pytest.raises(ValidationError, match="64 pixels, the generator has 16"):
        list(recovery.sense(gen, op, ys=np.zeros((1, 64))))
    with pytest.raises(ValidationError, match="not both"):
        list(recovery.sense(gen, op))
