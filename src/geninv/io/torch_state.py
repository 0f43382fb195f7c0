"""Read PyTorch state dicts (and ``torch.save`` / ``.npz`` files) as networks.

:func:`from_state_dict` (and the file readers :func:`load_torch_file` and
:func:`load_npz`) needs the architecture, given as a string::

    arch   := step ("," step)*
    step   := linear | INDEX | act
    linear := "linear:" NAME [":nobias"]
    INDEX  := decimal digits            (shorthand for "linear:INDEX")
    act    := "relu" | "leaky_relu" [":" SLOPE] | "elu" [":" ALPHA] | "sigmoid" | "tanh"
            | "identity"

``linear:NAME`` takes the tensors ``NAME.weight`` (shape ``(out, in)``) and
``NAME.bias`` (shape ``(out,)``); with ``:nobias`` only ``NAME.weight`` (the
bias is zero).  NAME may contain dots (``decoder.fc3``).  Whitespace around the
steps is ignored; ``leaky_relu`` without a slope means 1/100 (PyTorch's
default), ``elu`` without an alpha means 1 (``nn.ELU()``), and SLOPE and ALPHA
are a decimal or ``p/q`` read exactly as written (``0.2`` is 1/5, whereas
``nn.LeakyReLU(0.2)`` in :func:`~geninv.io.torch_io.from_sequential`
gives the exact value of the float 0.2).  The steps are assembled exactly as for
:func:`~geninv.io.torch_io.from_sequential` (consecutive linears compose,
``identity`` is a no-op).
Examples:

* the MNIST GAN generator ``nn.Sequential(Linear, ReLU, Linear, ReLU, Linear, Tanh)``:
  ``"0,relu,2,relu,4,tanh"``;
* the PyTorch-examples VAE decoder: ``"linear:fc3,relu,linear:fc4,sigmoid"`` with
  ``ignore=("fc1", "fc21", "fc22")`` for the encoder's tensors.

Convolutional generators (issue 17) add these steps, read by
:mod:`geninv.io.torch_conv` (an ``nn.Sequential`` of the corresponding modules is
built from the tensors, in their dtype, and read; the reading is checked against it)::

    input:CxHxW                 the latent's shape (first step; required before a convolution)
    conv:NAME[:OPT=V...]        nn.Conv2d from NAME.weight (C_out, C_in/g, kh, kw), NAME.bias
    convt:NAME[:OPT=V...]       nn.ConvTranspose2d from NAME.weight (C_in, C_out/g, kh, kw)
                                OPT: stride, padding, dilation, groups (both), output_padding
                                (convt); V an int or AxB; ":nobias" as for linear
    bn:NAME[:eps=E]             nn.BatchNorm2d (inference) from NAME.weight, .bias,
                                .running_mean, .running_var (.num_batches_tracked is ignored)
    upsample:F                  nearest upsampling by the integer F
    pad:LxRxTxB                 zero padding (nn.ZeroPad2d order)
    flatten | unflatten:CxHxW   reshapes

In such an architecture ``leaky_relu:SLOPE`` is ``nn.LeakyReLU(SLOPE)`` in the
tensors' dtype.  The pretrained MNIST DCGAN (``../shared/models/mnist_dcgan_G.pth``)
is ``"input:64x1x1, convt:gen.0.0:stride=2, bn:gen.0.1, relu, convt:gen.1.0,
bn:gen.1.1, relu, convt:gen.2.0:stride=2, bn:gen.2.1, relu, convt:gen.3.0:stride=2,
tanh"`` (:data:`DCGAN_ARCH`).

Every key of the state dict must be used by the architecture unless it belongs
to a module named in ``ignore`` (``key == name`` or ``key`` starts with
``name + "."``; ``"*"`` ignores every unused key).  Missing keys, unused keys,
non-float or non-finite tensors and shape mismatches raise
:class:`~geninv.errors.ParseError` naming the key (and the file, for the file
readers).  A malformed architecture string raises
:class:`~geninv.errors.ValidationError`.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from geninv.errors import GeninvError, ParseError, ValidationError
from geninv.io.affine import Assembler
from geninv.io.fidelity import check_state
from geninv.io.limits import check_file_size
from geninv.network import ReLUNetwork, parse_activation

__all__ = [
    "DCGAN_ARCH",
    "ArchStep",
    "float_array",
    "from_state_dict",
    "load_npz",
    "load_torch_file",
    "parse_arch",
]

_Arr = npt.NDArray[Any]  # float64, or an object array of Fractions after composition

_INDEX = re.compile(r"^\d+$")
#: the architecture of the shared pretrained MNIST DCGAN generator (``mnist_dcgan_G.pth``)
DCGAN_ARCH = (
    "input:64x1x1,convt:gen.0.0:stride=2,bn:gen.0.1,relu,convt:gen.1.0,bn:gen.1.1,relu,"
    "convt:gen.2.0:stride=2,bn:gen.2.1,relu,convt:gen.3.0:stride=2,tanh"
)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def float_array(value: Any) -> tuple[_Arr | None, str]:
    """float64 copy of a tensor or array (exact), or ``(None, why not)``."""
    if isinstance(value, torch.Tensor):
        if not value.dtype.is_floating_point:
            return None, f"has dtype {value.dtype}; expected floating-point weights"
        arr: _Arr = value.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
    elif isinstance(value, np.ndarray):
        if value.dtype.kind != "f" or value.dtype.itemsize > 8:
            return None, f"has dtype {value.dtype}; expected float16, float32 or float64 weights"
        arr = np.array(value, dtype=np.float64)
    else:
        return None, f"is a {type(value).__name__}; expected a tensor or a numpy array"
    if not np.all(np.isfinite(arr)):
        return None, "contains NaN or infinite values; expected finite weights"
    return arr, ""


@dataclass(frozen=True)
class ArchStep:
    """One step of an architecture string: a linear map or an activation."""

    kind: str  # "linear", "activation", or a convolutional step (CONV_KINDS)
    name: str  # module name (linear) or normalised activation spec ("relu", "leaky_relu:1/5")
    bias: bool = True  # linear only: whether NAME.bias is read
    options: tuple[tuple[str, str], ...] = ()  # conv/convt/bn: ("stride", "2"), ...

    @property
    def label(self) -> str:
        """The step as written in an architecture string: the activation's name, or
        ``linear:NAME`` (``:nobias`` without a bias)."""
        if self.kind == "activation":
            return self.name
        if self.kind in CONV_KINDS:
            opts = "".join(f":{k}={v}" for k, v in self.options)
            nob = "" if self.bias else ":nobias"
            return f"{self.kind}:{self.name}{opts}{nob}" if self.name else self.kind
        return f"linear:{self.name}" + ("" if self.bias else ":nobias")


#: the steps of a convolutional architecture (see the module docstring)
CONV_KINDS = ("input", "conv", "convt", "bn", "upsample", "pad", "flatten", "unflatten")
_CONV_OPTIONS = {
    "conv": ("stride", "padding", "dilation", "groups"),
    "convt": ("stride", "padding", "dilation", "groups", "output_padding"),
    "bn": ("eps",),
}
_SHAPE = re.compile(r"^\d+(x\d+)*$")


def _conv_step(head: str, rest: str, what: str) -> ArchStep:
    """Parse one convolutional step (``head`` is its lower-case kind)."""
    if head in ("flatten",):
        if rest:
            raise ValidationError(f"{what}: 'flatten' takes no parameter")
        return ArchStep("flatten", "")
    if head in ("input", "upsample", "pad", "unflatten"):
        if not _SHAPE.match(rest) or min(int(v) for v in rest.split("x")) < (head != "pad"):
            example = {"input": "64x1x1", "upsample": "2", "pad": "1x1x1x1", "unflatten": "16x7x7"}
            raise ValidationError(f"{what}: expected '{head}:{example[head]}'")
        if head == "pad" and len(rest.split("x")) != 4:
            raise ValidationError(f"{what}: expected 'pad:LEFTxRIGHTxTOPxBOTTOM'")
        return ArchStep(head, rest)
    parts = [t.strip() for t in rest.split(":")]
    name, opts, bias = parts[0], [], True
    if not name or any(c.isspace() for c in name):
        raise ValidationError(f"{what}: expected '{head}:NAME[:option=value...]'")
    for part in parts[1:]:
        if part.lower() == "nobias" and head != "bn":
            bias = False
            continue
        key, eq, val = part.partition("=")
        if not eq or key not in _CONV_OPTIONS[head]:
            raise ValidationError(
                f"{what}: unknown option {part!r}; {head} takes "
                + ", ".join(f"{k}=..." for k in _CONV_OPTIONS[head])
                + ("" if head == "bn" else ", nobias")
            )
        ok = re.match(r"^\d+(x\d+)?$", val) if key != "eps" else re.match(r"^[0-9.eE+-]+$", val)
        if not ok:
            raise ValidationError(f"{what}: {key}={val!r} is not a number (or AxB)")
        opts.append((key, val))
    return ArchStep(head, name, bias, tuple(opts))


def parse_arch(arch: str) -> list[ArchStep]:
    """Parse an architecture string (grammar in the module docstring).

    Raises :class:`~geninv.errors.ValidationError` naming the bad step.
    """
    if not isinstance(arch, str) or not arch.strip():
        raise ValidationError(
            f"architecture: expected a string such as '0,relu,2,relu,4,tanh', got {arch!r}"
        )
    steps: list[ArchStep] = []
    for pos, raw in enumerate(arch.split(","), start=1):
        token = raw.strip()
        what = f"architecture step {pos} ({token!r})"
        if not token:
            raise ValidationError(f"architecture step {pos} is empty in {arch!r}")
        if _INDEX.match(token):
            steps.append(ArchStep("linear", token))
            continue
        head, sep, rest = token.partition(":")
        if head.strip().lower() in CONV_KINDS:
            steps.append(_conv_step(head.strip().lower(), rest.strip(), what))
            continue
        if head.strip().lower() == "linear":
            name = rest.strip()
            bias = True
            if name.lower().endswith(":nobias"):
                name = name[: -len(":nobias")].strip()
                bias = False
            if not sep or not name or ":" in name or any(c.isspace() for c in name):
                raise ValidationError(
                    f"{what}: expected 'linear:NAME' or 'linear:NAME:nobias' "
                    "with a module name such as fc3"
                )
            steps.append(ArchStep("linear", name, bias))
            continue
        try:
            act, slope = parse_activation(token, what)
        except ValidationError as exc:
            raise ValidationError(
                f"{exc}; or a linear step: an index such as '0' or 'linear:NAME'; or a "
                "convolutional step: input:CxHxW, conv:NAME, convt:NAME, bn:NAME, upsample:F, "
                "pad:LxRxTxB, flatten, unflatten:CxHxW"
            ) from None
        spec = f"{act}:{slope}" if act in ("leaky_relu", "elu") else act
        steps.append(ArchStep("activation", spec))
    if not any(s.kind in ("linear", "conv", "convt") for s in steps):
        raise ValidationError(f"architecture {arch!r} has no linear step (linear, conv or convt)")
    if any(s.kind == "input" for s in steps[1:]):
        raise ValidationError(f"architecture {arch!r}: 'input:SHAPE' must be the first step")
    return steps


def _ignored(key: str, ignore: Collection[str]) -> bool:
    if "*" in ignore:
        return True
    return any(key == name or key.startswith(name + ".") for name in ignore)


def _from_state(
    state: Mapping[str, Any], arch: str, ignore: Collection[str], path: str | None
) -> ReLUNetwork:
    steps = parse_arch(arch)
    if isinstance(ignore, str):
        ignore = (ignore,)
    if any(s.kind in CONV_KINDS for s in steps):
        from geninv.io.torch_conv import from_state_conv

        return from_state_conv(state, steps, ignore, path, _ignored)

    def fail(message: str) -> ParseError:
        return ParseError(_one_line(message), path)

    used: set[str] = set()
    arrays: dict[str, _Arr] = {}  # float64 copies of the tensors read

    def tensor(key: str, step: ArchStep) -> _Arr:
        if key not in state:
            raise fail(f"missing key '{key}' (needed by '{step.label}' in the architecture)")
        arr, why = float_array(state[key])
        if arr is None:
            raise fail(f"key '{key}' {why}")
        used.add(key)
        arrays[key] = arr
        return arr

    asm = Assembler()
    prev_key: str | None = None
    for step in steps:
        if step.kind == "activation":
            if not asm.activation(step.name):
                raise ValidationError(
                    f"architecture {arch!r}: activation '{step.name}' before the first linear step"
                )
            continue
        wkey = f"{step.name}.weight"
        weight = tensor(wkey, step)
        if weight.ndim != 2 or 0 in weight.shape:
            raise fail(f"key '{wkey}' has shape {weight.shape}; expected a matrix (out, in)")
        if step.bias:
            bkey = f"{step.name}.bias"
            bias = tensor(bkey, step)
            if bias.shape != (weight.shape[0],):
                raise fail(
                    f"key '{bkey}' has shape {bias.shape}; expected ({weight.shape[0]},) "
                    f"to match '{wkey}' of shape {weight.shape}"
                )
        else:
            bias = np.zeros(weight.shape[0], dtype=np.float64)
        if asm.width is not None and weight.shape[1] != asm.width:
            raise fail(
                f"key '{wkey}' has shape {weight.shape}: {weight.shape[1]} inputs, "
                f"but '{prev_key}' has {asm.width} outputs"
            )
        asm.linear(weight, bias)
        prev_key = wkey
    extra = sorted(k for k in state if k not in used and not _ignored(str(k), ignore))
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise fail(
            f"unexpected key '{extra[0]}'{more}: not used by the architecture {arch!r}; "
            "pass ignore=[module names] to skip other modules' tensors"
        )
    net = asm.network()
    assert net is not None  # parse_arch insists on a linear step
    check_state(arrays, steps, net, asm.steps, path)
    return net


def from_state_dict(
    state: Mapping[str, torch.Tensor | npt.NDArray[Any]],
    arch: str,
    *,
    ignore: Collection[str] = (),
) -> ReLUNetwork:
    """Build a network from a state dict and an architecture string.

    See the module docstring for the grammar of ``arch`` and for ``ignore``.
    Raises :class:`~geninv.errors.ParseError` naming the key for missing,
    unused, non-float or mis-shaped tensors.
    """
    if not isinstance(state, Mapping):
        raise ParseError(f"expected a mapping of tensor names to tensors, got {type(state)}")
    return _from_state(state, arch, ignore, None)


def _state_of(obj: Any) -> Mapping[str, Any] | None:
    """The state dict inside a loaded object (a state dict, a module, or a wrapper)."""
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, Mapping):
        if all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
        for key in ("state_dict", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                return inner
        return obj
    return None


def _check_file(p: Path, what: str) -> None:
    shown = str(p)
    if not p.exists():
        raise ParseError(f"not a readable {what}: file not found", shown)
    if p.is_dir():
        raise ParseError(f"not a readable {what}: is a directory", shown)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ParseError(f"not a readable {what}: {_reason(exc)}", shown) from None
    if size == 0:
        raise ParseError(f"not a readable {what}: the file is empty", shown)
    check_file_size(size, "model_bytes", shown)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _reason(exc: BaseException) -> str:
    text = _ANSI.sub("", str(exc))
    return _one_line(f"{type(exc).__name__}: {text}" if text.strip() else type(exc).__name__)


def _unpickler_reason(exc: BaseException) -> str:
    """The useful part of torch's long weights-only refusal."""
    text = _ANSI.sub("", str(exc))
    m = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\n\s*\n|Please use|$)", text, re.DOTALL)
    if m and m.group(1).strip():
        return _one_line(m.group(1), 200)
    return _one_line(text, 200)


def load_torch_file(
    path: str | Path,
    arch: str,
    *,
    ignore: Collection[str] = (),
    trusted: bool = False,
) -> ReLUNetwork:
    """Read a ``torch.save`` file (state dict, module, or ``{"state_dict": ...}``).

    The file is read with ``torch.load(path, map_location="cpu",
    weights_only=True)``, which refuses pickles holding anything but tensors
    and plain containers.  ``trusted=True`` falls back to a full unpickling
    (``weights_only=False``), which runs code from the file: only for files you
    trust.  Every failure is a one-line :class:`~geninv.errors.ParseError`
    naming the file.
    """
    p = Path(path)
    shown = str(path)
    _check_file(p, "PyTorch file")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols before it refuses or reads the file
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trusted:
            raise ParseError(
                "not a readable PyTorch file with weights_only=True: "
                f"{_unpickler_reason(exc)} (pass trusted=True only for a file you trust)",
                shown,
            ) from None
        try:
            obj = torch.load(str(p), map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise ParseError(f"not a readable PyTorch file: {_reason(exc2)}", shown) from None
    except Exception as exc:  # RuntimeError (bad zip, truncated), OSError, ...
        raise ParseError(f"not a readable PyTorch file: {_reason(exc)}", shown) from None
    state = _state_of(obj)
    if state is None:
        raise ParseError(
            f"holds a {type(obj).__name__}; expected a state dict (mapping of names to tensors)",
            shown,
        )
    return _from_state(state, arch, ignore, shown)


def load_npz(path: str | Path, arch: str, *, ignore: Collection[str] = ()) -> ReLUNetwork:
    """Read a ``.npz`` archive of arrays named like a state dict (``0.weight``, ``fc3.bias``).

    Read with ``numpy.load(path, allow_pickle=False)``; every failure is a
    one-line :class:`~geninv.errors.ParseError` naming the file.
    """
    p = Path(path)
    shown = str(path)
    _check_file(p, "npz archive")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ParseError(f"not a readable npz archive: {_reason(exc)}", shown) from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ParseError("not a readable npz archive: not a zip file", shown)
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
            unpacked = sum(info.file_size for info in zf.infolist())
    except Exception as exc:  # BadZipFile, OSError
        raise ParseError(f"not a readable npz archive: {_reason(exc)}", shown) from None
    # A compressed archive may unpack to far more than its size: bound what it unpacks to.
    check_file_size(unpacked, "model_bytes", f"{shown} (unpacked)")
    odd = [n for n in names if not n.endswith(".npy")]
    if odd:
        raise ParseError(
            f"not a readable npz archive: member '{odd[0]}' is not a .npy array "
            "(a torch.save file? read it with load_torch_file)",
            shown,
        )
    try:
        with np.load(str(p), allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ParseError("not an npz archive (a single .npy array?)", shown)
            state = {k: np.asarray(data[k]) for k in data.files}
    except GeninvError:
        raise
    except Exception as exc:  # BadZipFile, ValueError (pickled arrays), OSError, ...
        raise ParseError(f"not a readable npz archive: {_reason(exc)}", shown) from None
    return _from_state(state, arch, ignore, shown)
