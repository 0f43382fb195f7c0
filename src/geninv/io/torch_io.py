"""Read PyTorch generators as :class:`~geninv.network.ReLUNetwork` and write them back.

Reading a module
----------------
:func:`from_sequential` converts an ``nn.Sequential`` (nested ``nn.Sequential``
blocks are flattened, their modules named ``"3.1"`` and so on) built from

* ``nn.Linear``, with or without bias;
* ``nn.ReLU``, ``nn.LeakyReLU`` (its ``negative_slope``, >= 0), ``nn.ELU`` (its ``alpha``,
  >= 0), ``nn.Sigmoid``, ``nn.Tanh``;
* ``nn.Identity``, ``nn.Flatten`` (``start_dim=1``, a no-op on a batch of
  vectors) and ``nn.Dropout``/``nn.AlphaDropout`` (no-ops in evaluation mode,
  which is the semantics geninv takes).

Each activation closes one layer.  Consecutive ``Linear`` modules with no
activation between them are composed into one affine layer,
``(W_2, b_2) o (W_1, b_1) = (W_2 W_1, W_2 b_1 + b_2)``, in exact rational
arithmetic on the exact values of the stored floats; a network that ends on a
``Linear`` gets an identity last activation.  An activation that directly
follows another one is given an exact identity layer ``(I, 0)`` in between.
Any other module raises :class:`~geninv.errors.UnsupportedError` naming its
index and type.

Weights are converted exactly: float16, bfloat16, float32 and float64 values
are all float64 values, and :class:`ReLUNetwork` takes each float as the
dyadic rational it is.

Reading a state dict
--------------------
:func:`from_state_dict`, :func:`load_torch_file` and :func:`load_npz` (in
:mod:`geninv.io.torch_state`, where the architecture grammar is; re-exported
here) need the architecture, given as a string such as ``"0,relu,2,relu,4,tanh"``.
The steps are assembled as for :func:`from_sequential`.

Writing
-------
:func:`to_torch` builds an ``nn.Sequential`` of ``Linear`` and activation
modules (float64 by default) computing the same function, for gradient-based
backends (a convolutional layer becomes the ``Linear`` of its dense matrix, which is
refused above ``GENINV_MAX_DENSE`` entries; the approximate backends run
convolutions through :class:`~geninv.solvers.approx.torch_ops.TorchGenerator` instead).

Convolutional modules (``Conv2d``, ``ConvTranspose2d``, ``BatchNorm2d``, ``Upsample``,
padding, ``Unflatten``) are read by :mod:`geninv.io.torch_conv` (see
:func:`from_sequential`'s ``input_shape``).

Networks whose exact rational weights no float holds get their nearest float64
weights from :func:`to_torch`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from geninv.errors import UnsupportedError, ValidationError
from geninv.io.affine import Assembler
from geninv.io.fidelity import check_module
from geninv.io.torch_conv import CONV_MODULES, elu_spec, from_sequential_conv
from geninv.io.torch_state import (
    DCGAN_ARCH,
    ArchStep,
    float_array,
    from_state_dict,
    load_npz,
    load_torch_file,
    parse_arch,
)
from geninv.network import ReLUNetwork

__all__ = [
    "DCGAN_ARCH",
    "ArchStep",
    "from_sequential",
    "from_state_dict",
    "load_npz",
    "load_torch_file",
    "parse_arch",
    "to_torch",
]

_Arr = npt.NDArray[Any]  # float64, or an object array of Fractions after composition

_SUPPORTED_MODULES = (
    "Linear, ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Identity, Flatten, Dropout, AlphaDropout"
)


def _flatten_modules(module: nn.Sequential, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    # ``_modules``, as ``nn.Sequential.forward`` runs it: ``named_children`` would skip a
    # module that appears twice (the same ReLU object reused), dropping a layer
    for name, child in module._modules.items():
        label = f"{prefix}{name}"
        if child is None:
            raise UnsupportedError(f"module {label} is None; nn.Sequential cannot run it")
        if isinstance(child, nn.Sequential):
            yield from _flatten_modules(child, label + ".")
        else:
            yield label, child


def from_sequential(module: nn.Sequential, input_shape: Sequence[int] | None = None) -> ReLUNetwork:
    """Convert an ``nn.Sequential`` generator exactly (see the module docstring).

    A module with convolution-type modules (``Conv2d``, ``ConvTranspose2d``,
    ``BatchNorm2d``, ``Upsample``, padding, ``Unflatten``), or any module given an
    ``input_shape`` such as ``(64, 1, 1)``, is read by
    :func:`geninv.io.torch_conv.from_sequential_conv` into structured layers.

    Raises :class:`~geninv.errors.UnsupportedError` naming the module's index
    and type for anything outside the supported set (and for a ``LeakyReLU``
    with a negative slope or a ``Flatten`` that is not a no-op), and
    :class:`~geninv.errors.ValidationError` for inconsistent shapes or
    non-finite weights.
    """
    if not isinstance(module, nn.Sequential):
        raise UnsupportedError(
            f"expected a torch.nn.Sequential, got {type(module).__name__}; "
            "wrap the generator's layers in nn.Sequential"
        )
    flat = list(_flatten_modules(module))
    if input_shape is not None or any(isinstance(m, CONV_MODULES) for _, m in flat):
        return from_sequential_conv(module, input_shape, flat)
    asm = Assembler()
    param_dtype: Any = None  # of the last Linear: the dtype the activations run in
    for label, child in flat:
        kind = type(child).__name__
        where = f"module {label} ({kind})"
        if isinstance(child, nn.Linear):
            weight, why = float_array(child.weight)
            if weight is None:
                raise ValidationError(f"{where}: weight {why}")
            if child.bias is None:
                bias: _Arr = np.zeros(weight.shape[0], dtype=np.float64)
            else:
                b, why = float_array(child.bias)
                if b is None:
                    raise ValidationError(f"{where}: bias {why}")
                bias = b
            if asm.width is not None and weight.shape[1] != asm.width:
                raise ValidationError(
                    f"{where}: takes {weight.shape[1]} inputs but the previous layer "
                    f"has {asm.width} outputs"
                )
            asm.linear(weight, bias)
            param_dtype = child.weight.dtype
            continue
        spec: str | None
        if isinstance(child, nn.ReLU):
            spec = "relu"
        elif isinstance(child, nn.LeakyReLU):
            slope = float(child.negative_slope)
            if not (np.isfinite(slope) and slope >= 0):
                raise UnsupportedError(
                    f"{where}: negative_slope {slope}; geninv handles slopes >= 0"
                )
            if param_dtype == torch.float32:
                # torch casts negative_slope to the tensor's dtype: a float32 model
                # computes with float32(slope) (0.2 -> 13421773/67108864), so that is the
                # slope of the network it runs
                slope = float(np.float32(slope))
            spec = f"leaky_relu:{Fraction(slope)}"
        elif isinstance(child, nn.ELU):
            spec = elu_spec(child, param_dtype, where)
        elif isinstance(child, nn.Sigmoid):
            spec = "sigmoid"
        elif isinstance(child, nn.Tanh):
            spec = "tanh"
        elif isinstance(child, (nn.Identity, nn.Dropout, nn.AlphaDropout)):
            spec = None
        elif isinstance(child, nn.Flatten):
            if child.start_dim != 1 or child.end_dim != -1:
                raise UnsupportedError(
                    f"{where}: start_dim={child.start_dim}, end_dim={child.end_dim}; only "
                    "Flatten(start_dim=1, end_dim=-1), a no-op on a batch of vectors, is read"
                )
            spec = None
        else:
            raise UnsupportedError(
                f"{where}: unsupported module; geninv reads only {_SUPPORTED_MODULES}"
            )
        if spec is not None and not asm.activation(spec):
            raise UnsupportedError(
                f"{where}: activation before the first Linear; "
                "a generator must start with a Linear module"
            )
    net = asm.network()
    if net is None:
        raise UnsupportedError("the nn.Sequential has no Linear module; nothing to convert")
    check_module(module, net, asm.steps)
    return net


def to_torch(network: ReLUNetwork, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """An ``nn.Sequential`` computing ``network`` (in ``dtype``), in evaluation mode.

    Each layer is a ``Linear`` (always with a bias) followed by ``ReLU``,
    ``LeakyReLU``, ``ELU``, ``Sigmoid`` or ``Tanh`` (nothing for the identity).  The
    parameters are frozen (``requires_grad=False``): gradient backends
    differentiate with respect to the latent only.
    """
    modules: list[nn.Module] = []
    for layer in network.layers:
        lin = nn.Linear(layer.n_in, layer.n_out, bias=True, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(layer.weight, dtype=np.float64)))
            lin.bias.copy_(torch.from_numpy(np.array(layer.bias, dtype=np.float64)))
        modules.append(lin)
        if layer.activation == "relu":
            modules.append(nn.ReLU())
        elif layer.activation == "leaky_relu":
            modules.append(nn.LeakyReLU(float(layer.negative_slope)))
        elif layer.activation == "elu":
            modules.append(nn.ELU(float(layer.negative_slope)))
        elif layer.activation == "sigmoid":
            modules.append(nn.Sigmoid())
        elif layer.activation == "tanh":
            modules.append(nn.Tanh())
    seq = nn.Sequential(*modules)
    seq.requires_grad_(False)
    return seq.eval()
