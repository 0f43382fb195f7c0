"""Read convolutional PyTorch generators (``nn.Sequential``, or a state dict + architecture).

:func:`from_sequential_conv` (used by :func:`geninv.io.torch_io.from_sequential`
whenever the module holds a convolution-type module or an ``input_shape`` is
given) reads, in evaluation mode:

* ``nn.Conv2d`` and ``nn.ConvTranspose2d`` (stride, numeric padding, dilation,
  groups, output_padding; ``padding_mode="zeros"``), with or without bias;
* ``nn.BatchNorm2d`` / ``nn.BatchNorm1d`` with running statistics (inference:
  ``y = gamma (x - mean) / sqrt(var + eps) + beta``), folded into the preceding map;
* ``nn.Upsample`` / ``nn.UpsamplingNearest2d`` (``mode="nearest"``, integer factors),
  ``nn.ZeroPad2d`` and ``nn.ConstantPad2d`` with value 0;
* ``nn.Flatten`` (``start_dim=1``), ``nn.Unflatten`` (``dim=1``) and ``nn.Linear`` on a vector;
* the activations of :mod:`geninv.io.torch_io` and ``Identity``/``Dropout``.

The latent is the flattened input tensor of shape ``input_shape`` (e.g.
``(64, 1, 1)`` for a DCGAN's ``z``); geninv's network maps its ``prod(input_shape)``
values to the flattened output.  The result is compared with the module itself
on seeded random latents (:func:`geninv.io.fidelity.check_module`).

:func:`from_state_conv` builds such an ``nn.Sequential`` from a state dict and
an architecture string with convolution steps (grammar in
:mod:`geninv.io.torch_state`) and reads it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import nn

from geninv.conv import Prim
from geninv.errors import ParseError, UnsupportedError, ValidationError
from geninv.io.conv_build import ConvAssembler, as_pair, conv_prim
from geninv.io.fidelity import check_module
from geninv.network import ReLUNetwork

__all__ = ["CONV_MODULES", "from_sequential_conv", "from_state_conv"]

#: module types that make :func:`geninv.io.torch_io.from_sequential` use this reader
CONV_MODULES: tuple[type[nn.Module], ...] = (
    nn.Conv2d,
    nn.ConvTranspose2d,
    nn.BatchNorm2d,
    nn.BatchNorm1d,
    nn.Upsample,
    nn.ZeroPad2d,
    nn.ConstantPad2d,
    nn.Unflatten,
)
SUPPORTED = (
    "Conv2d, ConvTranspose2d, BatchNorm2d, BatchNorm1d, Upsample (nearest), ZeroPad2d, "
    "ConstantPad2d (0), Flatten, Unflatten, Linear, ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Identity, "
    "Dropout"
)


_NO_OPS = (nn.Identity, nn.Dropout, nn.AlphaDropout)


def _arr(t: torch.Tensor | None, where: str, what: str) -> np.ndarray[Any, Any]:
    if t is None:
        raise ValidationError(f"{where}: {what} is missing")
    arr: np.ndarray[Any, Any] = t.detach().to("cpu", torch.float64).numpy().copy()
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{where}: {what} contains NaN or infinite values")
    return arr


def _conv(asm: ConvAssembler, child: nn.Conv2d | nn.ConvTranspose2d, where: str) -> None:
    if child.padding_mode != "zeros":
        raise UnsupportedError(f"{where}: padding_mode={child.padding_mode!r}; only 'zeros'")
    if isinstance(child.padding, str):
        if child.padding != "valid":
            raise UnsupportedError(f"{where}: padding={child.padding!r}; give numeric padding")
        padding = (0, 0)
    else:
        padding = as_pair(child.padding, where)
    kind = "convt" if isinstance(child, nn.ConvTranspose2d) else "conv"
    out_pad = as_pair(child.output_padding, where) if kind == "convt" else (0, 0)
    try:
        prim = conv_prim(
            kind,
            _arr(child.weight, where, "weight"),
            asm.shape,
            as_pair(child.stride, where),
            padding,
            as_pair(child.dilation, where),
            int(child.groups),
            out_pad,
        )
    except ValidationError as exc:  # a geometry geninv cannot run (or torch cannot)
        raise UnsupportedError(f"{where}: {exc}") from None
    bias = (
        None
        if child.bias is None
        else np.repeat(_arr(child.bias, where, "bias"), prim.n_out // prim.out_shape[0])
    )
    asm.linear(prim, bias)


def _batchnorm(asm: ConvAssembler, child: nn.BatchNorm1d | nn.BatchNorm2d, where: str) -> None:
    c = asm.shape[0]
    if child.num_features != c:
        raise ValidationError(
            f"{where}: {child.num_features} features, but the tensor has {c} channels"
        )
    if child.running_mean is None or child.running_var is None:
        raise UnsupportedError(
            f"{where}: no running statistics (track_running_stats=False); geninv reads "
            "inference-mode batch normalisation only"
        )
    mean = _arr(child.running_mean, where, "running_mean")
    var = _arr(child.running_var, where, "running_var")
    gamma = _arr(child.weight, where, "weight") if child.affine else np.ones(c)
    beta = _arr(child.bias, where, "bias") if child.affine else np.zeros(c)
    scale, shift = bn_fold(gamma, beta, mean, var, float(child.eps), where)
    per = asm.size // c
    asm.elementwise(np.repeat(scale, per), np.repeat(shift, per))


def bn_fold(
    gamma: Any, beta: Any, mean: Any, var: Any, eps: float, where: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Inference batch normalisation as ``x -> s x + t``: ``s = gamma / sqrt(var + eps)``,
    ``t = beta - s mean`` (float64)."""
    den = np.asarray(var, dtype=np.float64) + eps
    if not np.all(den > 0):
        raise ValidationError(f"{where}: running_var + eps is not positive")
    scale = np.asarray(gamma, dtype=np.float64) / np.sqrt(den)
    shift = np.asarray(beta, dtype=np.float64) - scale * np.asarray(mean, dtype=np.float64)
    return scale, shift


def _activation(child: nn.Module, param_dtype: Any, where: str) -> str | None:
    if isinstance(child, nn.ReLU):
        return "relu"
    if isinstance(child, nn.LeakyReLU):
        slope = float(child.negative_slope)
        if not (np.isfinite(slope) and slope >= 0):
            raise UnsupportedError(f"{where}: negative_slope {slope}; geninv handles slopes >= 0")
        if param_dtype == torch.float32:
            slope = float(np.float32(slope))  # torch computes with the tensor's dtype
        return f"leaky_relu:{Fraction(slope)}"
    if isinstance(child, nn.ELU):
        return elu_spec(child, param_dtype, where)
    if isinstance(child, nn.Sigmoid):
        return "sigmoid"
    if isinstance(child, nn.Tanh):
        return "tanh"
    return None


def elu_spec(child: nn.ELU, param_dtype: Any, where: str) -> str:
    """``elu:ALPHA`` of an ``nn.ELU``: alpha >= 0 (monotone), the float32 value for a
    float32 model (torch computes in the tensor's dtype), as for LeakyReLU's slope."""
    alpha = float(child.alpha)
    if not (np.isfinite(alpha) and alpha >= 0):
        raise UnsupportedError(f"{where}: ELU alpha {alpha}; geninv handles alpha >= 0")
    if param_dtype == torch.float32:
        alpha = float(np.float32(alpha))
    return f"elu:{Fraction(alpha)}"


def _shape_piece(asm: ConvAssembler, child: nn.Module, where: str) -> bool:
    """Upsample, padding, flatten, unflatten: True when ``child`` was one of them."""
    if isinstance(child, nn.Upsample):
        if child.mode != "nearest" or child.scale_factor is None:
            raise UnsupportedError(
                f"{where}: mode={child.mode!r}, scale_factor={child.scale_factor}; geninv reads "
                "nearest upsampling by integer scale factors"
            )
        sf = child.scale_factor
        factors = (sf, sf) if isinstance(sf, (int, float)) else tuple(sf)
        if len(asm.shape) != 3 or any(float(f) != int(f) or f < 1 for f in factors):
            raise UnsupportedError(f"{where}: scale_factor {sf} on shape {list(asm.shape)}")
        fh, fw = int(factors[0]), int(factors[1])
        c, h, w = asm.shape
        asm.linear(Prim("upsample", asm.shape, (c, h * fh, w * fw), factor=(fh, fw)))
        return True
    if isinstance(child, (nn.ZeroPad2d, nn.ConstantPad2d)):
        if isinstance(child, nn.ConstantPad2d) and float(child.value) != 0.0:
            raise UnsupportedError(f"{where}: value {child.value}; only zero padding is linear")
        left, right, top, bottom = (int(v) for v in child.padding)
        if min(left, right, top, bottom) < 0 or len(asm.shape) != 3:
            raise UnsupportedError(f"{where}: padding {child.padding} on shape {list(asm.shape)}")
        c, h, w = asm.shape
        out = (c, h + top + bottom, w + left + right)
        asm.linear(Prim("pad", asm.shape, out, pads=(top, bottom, left, right)))
        return True
    if isinstance(child, nn.Flatten):
        if child.start_dim != 1 or child.end_dim != -1:
            raise UnsupportedError(f"{where}: only Flatten(start_dim=1, end_dim=-1) is read")
        asm.reshape((asm.size,))
        return True
    if isinstance(child, nn.Unflatten):
        if child.dim not in (1, -len(asm.shape) - 1) or len(asm.shape) != 1:
            raise UnsupportedError(f"{where}: only Unflatten(1, shape) of a vector is read")
        asm.reshape(tuple(int(v) for v in child.unflattened_size))
        return True
    return False


def from_sequential_conv(
    module: nn.Sequential, input_shape: Sequence[int] | None, modules: list[tuple[str, nn.Module]]
) -> ReLUNetwork:
    """Read the flattened ``modules`` of ``module`` (see the module docstring)."""
    if input_shape is None:
        first = modules[0][1] if modules else None
        if isinstance(first, nn.Linear):
            input_shape = (first.in_features,)
        else:
            raise ValidationError(
                "a convolutional generator needs its input shape: pass input_shape=(C, H, W) "
                "(e.g. (64, 1, 1) for a DCGAN latent), or 'input:64x1x1' in an architecture"
            )
    asm = ConvAssembler(tuple(int(d) for d in input_shape))
    param_dtype: Any = None
    for label, child in modules:
        where = f"module {label} ({type(child).__name__})"
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d)):
            _conv(asm, child, where)
            param_dtype = child.weight.dtype
        elif isinstance(child, nn.Linear):
            if len(asm.shape) != 1 or child.in_features != asm.size:
                raise ValidationError(
                    f"{where}: takes {child.in_features} inputs but the tensor has shape "
                    f"{list(asm.shape)}; flatten it first"
                )
            w = _arr(child.weight, where, "weight")
            w.setflags(write=False)
            bias = None if child.bias is None else _arr(child.bias, where, "bias")
            asm.linear(Prim("dense", asm.shape, (child.out_features,), w), bias)
            param_dtype = child.weight.dtype
        elif isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            _batchnorm(asm, child, where)
        elif _shape_piece(asm, child, where) or isinstance(child, _NO_OPS):
            pass
        else:
            spec = _activation(child, param_dtype, where)
            if spec is None:
                raise UnsupportedError(
                    f"{where}: unsupported module; geninv reads only {SUPPORTED}"
                )
            if not asm.activation(spec):
                raise UnsupportedError(f"{where}: activation before any linear module")
    net = asm.network()
    if net is None:
        raise UnsupportedError("the nn.Sequential has no linear module; nothing to convert")
    check_module(module, net, asm.steps, input_shape=asm.in_shape)
    return net


def from_state_conv(
    state: Mapping[str, Any],
    steps: Sequence[Any],
    ignore: Collection[str],
    path: str | None,
    ignored: Any,
) -> ReLUNetwork:
    """Build an ``nn.Sequential`` from a state dict and the parsed convolutional architecture
    ``steps`` (:class:`~geninv.io.torch_state.ArchStep`), then read it."""
    used: set[str] = set()

    def fail(message: str) -> ParseError:
        return ParseError(" ".join(message.split()), path)

    def tensor(key: str, label: str) -> torch.Tensor:
        if key not in state:
            raise fail(f"missing key '{key}' (needed by '{label}' in the architecture)")
        raw = state[key]
        if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" and raw.dtype.itemsize <= 8:
            raw = torch.from_numpy(np.array(raw))
        if not isinstance(raw, torch.Tensor) or not raw.dtype.is_floating_point:
            what = raw.dtype if isinstance(raw, (torch.Tensor, np.ndarray)) else type(raw).__name__
            raise fail(f"key '{key}' is {what}; expected floating-point weights")
        if not bool(torch.isfinite(raw).all()):
            raise fail(f"key '{key}' contains NaN or infinite values; expected finite weights")
        used.add(key)
        return raw.detach().to("cpu")

    modules: list[nn.Module] = []
    input_shape: tuple[int, ...] | None = None
    for step in steps:
        opts = dict(step.options)
        label = step.label
        if step.kind == "input":
            input_shape = tuple(int(v) for v in step.name.split("x"))
        elif step.kind in ("conv", "convt"):
            w = tensor(f"{step.name}.weight", label)
            b = tensor(f"{step.name}.bias", label) if step.bias else None
            if w.ndim != 4:
                raise fail(f"key '{step.name}.weight' has shape {list(w.shape)}; expected 4-D")
            groups = int(opts.get("groups", "1"))
            common = dict(
                kernel_size=tuple(w.shape[2:]),
                stride=_pair(opts.get("stride", "1")),
                padding=_pair(opts.get("padding", "0")),
                dilation=_pair(opts.get("dilation", "1")),
                groups=groups,
                bias=b is not None,
                dtype=w.dtype,
            )
            mod: nn.Module
            if step.kind == "conv":
                mod = nn.Conv2d(int(w.shape[1]) * groups, int(w.shape[0]), **common)  # type: ignore[arg-type]
            else:
                mod = nn.ConvTranspose2d(
                    int(w.shape[0]),
                    int(w.shape[1]) * groups,
                    output_padding=_pair(opts.get("output_padding", "0")),
                    **common,  # type: ignore[arg-type]
                )
            _load(mod, {"weight": w, "bias": b}, label, fail)
            modules.append(mod)
        elif step.kind == "bn":
            keys = ("weight", "bias", "running_mean", "running_var")
            vals = {k: tensor(f"{step.name}.{k}", label) for k in keys}
            if f"{step.name}.num_batches_tracked" in state:
                used.add(f"{step.name}.num_batches_tracked")
            bn = nn.BatchNorm2d(
                int(vals["weight"].shape[0]),
                eps=float(opts.get("eps", "1e-5")),
                dtype=vals["weight"].dtype,
            )
            _load(bn, vals, label, fail)
            modules.append(bn)
        elif step.kind == "linear":
            w = tensor(f"{step.name}.weight", label)
            b = tensor(f"{step.name}.bias", label) if step.bias else None
            if w.ndim != 2:
                raise fail(f"key '{step.name}.weight' has shape {list(w.shape)}; expected a matrix")
            lin = nn.Linear(int(w.shape[1]), int(w.shape[0]), bias=b is not None, dtype=w.dtype)
            _load(lin, {"weight": w, "bias": b}, label, fail)
            modules.append(lin)
        elif step.kind == "upsample":
            modules.append(nn.Upsample(scale_factor=int(step.name), mode="nearest"))
        elif step.kind == "pad":
            left, right, top, bottom = (int(v) for v in step.name.split("x"))
            modules.append(nn.ZeroPad2d((left, right, top, bottom)))
        elif step.kind == "flatten":
            modules.append(nn.Flatten())
        elif step.kind == "unflatten":
            modules.append(nn.Unflatten(1, tuple(int(v) for v in step.name.split("x"))))
        else:
            modules.append(_activation_module(step.name))
    extra = sorted(k for k in state if k not in used and not ignored(str(k), ignore))
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise fail(
            f"unexpected key '{extra[0]}'{more}: not used by the architecture; "
            "pass ignore=[module names] to skip other modules' tensors"
        )
    seq = nn.Sequential(*modules).eval()
    return from_sequential_conv(seq, input_shape, [(str(i), m) for i, m in enumerate(modules)])


def _pair(text: str) -> tuple[int, int]:
    parts = [int(v) for v in text.split("x")]
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def _load(
    mod: nn.Module, tensors: Mapping[str, torch.Tensor | None], label: str, fail: Any
) -> None:
    with torch.no_grad():
        for name, t in tensors.items():
            if t is None:
                continue
            target = getattr(mod, name)
            if tuple(target.shape) != tuple(t.shape):
                raise fail(
                    f"'{label}': tensor '{name}' has shape {list(t.shape)}; the module expects "
                    f"{list(target.shape)}"
                )
            target.copy_(t)


def _activation_module(spec: str) -> nn.Module:
    name, _, slope = spec.partition(":")
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(float(Fraction(slope)))
    if name == "elu":
        return nn.ELU(float(Fraction(slope)) if slope else 1.0)
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    return nn.Identity()
