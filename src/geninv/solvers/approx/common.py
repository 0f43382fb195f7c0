"""Shared names of the approximate backends: constants, the option checks (one
:func:`option` field per backend option, checked by :func:`check_options`), the
device, rho_d."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from geninv.errors import UnsupportedError, ValidationError

if TYPE_CHECKING:
    import torch


#: Every activation geninv networks use (the gradient methods only evaluate G).
ALL_ACTIVATIONS: frozenset[str] = frozenset(
    {"relu", "identity", "leaky_relu", "sigmoid", "tanh", "elu"}
)
#: Default exponent of the smooth surrogate of the l-infinity norm.
INF_P = 16.0
#: Restarts re-checked exactly at the end (best first).
CHECK_TOP = 3
#: Iterations between early exact checks (each costs one device synchronisation).
CHECK_EVERY = 25
#: A failed early check is retried only once the float distance fell below this fraction.
RECHECK_FACTOR = 0.5
#: Seeds are reduced modulo this (torch.Generator.manual_seed takes 64-bit values).
SEED_MOD = 2**63
#: Offset of the Langevin noise stream from the initialisation streams.
NOISE_SEED_OFFSET = 0x5DEECE66D


# ------------------------------------------------------------------ helpers
def _inward_float32(lo: list[float], hi: list[float]) -> tuple[list[float], list[float]]:
    """Box bounds rounded inward to float32 values."""
    lo32 = np.array(lo, dtype=np.float32)
    hi32 = np.array(hi, dtype=np.float32)
    lo32 = np.where(
        lo32.astype(np.float64) < np.array(lo), np.nextafter(lo32, np.float32(np.inf)), lo32
    )
    hi32 = np.where(
        hi32.astype(np.float64) > np.array(hi), np.nextafter(hi32, np.float32(-np.inf)), hi32
    )
    return [float(v) for v in lo32], [float(v) for v in hi32]


def _positive(value: Any, what: str, integer: bool = False, allow_zero: bool = False) -> Any:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = "an integer" if integer else "a number"
        raise ValidationError(f"{what}: expected {kind}, got {value!r}")
    if not math.isfinite(float(value)) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(f"{what}: expected a finite value {bound}, got {value!r}")
    return value


def _choice(value: Any, what: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationError(f"{what}: expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Check:
    """How :func:`check_option` checks one backend option.

    ``kind``: ``count`` (an integer > 0), ``count0`` (an integer >= 0), ``number``
    (a finite number > 0, as float), ``number0`` (>= 0), ``choice`` (one of
    ``choices``) or ``text`` (a string); ``at_least``: a further lower bound."""

    kind: Literal["count", "count0", "number", "number0", "choice", "text"]
    choices: tuple[str, ...] = ()
    at_least: float | None = None


def option(
    default: Any,
    kind: Literal["count", "count0", "number", "number0", "choice", "text"],
    *,
    choices: tuple[str, ...] = (),
    at_least: float | None = None,
) -> Any:
    """A backend option: a dataclass field whose value :func:`check_option` checks."""
    return field(default=default, metadata={"check": Check(kind, choices, at_least)})


def check_option(value: Any, what: str, check: Check) -> Any:
    """``value`` checked and converted (int, float or str) as ``check`` says; a wrong
    one raises ValidationError naming ``what`` and what was expected."""
    out: Any
    if check.kind in ("count", "count0"):
        out = int(_positive(value, what, integer=True, allow_zero=check.kind == "count0"))
    elif check.kind in ("number", "number0"):
        out = float(_positive(value, what, allow_zero=check.kind == "number0"))
    elif check.kind == "choice":
        return _choice(value, what, check.choices)
    else:
        if not isinstance(value, str):
            raise ValidationError(f"{what}: expected a string, got {value!r}")
        return value
    if check.at_least is not None and out < check.at_least:
        raise ValidationError(f"{what}: expected a value >= {check.at_least:g}, got {value!r}")
    return out


def check_options(obj: Any) -> None:
    """Check and convert every :func:`option` field of the dataclass ``obj`` in place."""
    for f in fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            setattr(obj, f.name, check_option(getattr(obj, f.name), f.name, check))


def resolve_device(spec: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cpu', 'cuda', 'cuda:1', ... as given."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, TypeError):
        raise ValidationError(
            f"device: expected 'auto', 'cpu' or 'cuda[:k]', got {spec!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UnsupportedError("device 'cuda' was asked for but torch sees no CUDA device")
    return dev


def rho_d(depth: int) -> float:
    """Hand & Voroninski's rho_d: the spurious critical point sits near ``-rho_d z*``."""
    thetas = [math.pi]
    for _ in range(1, depth):
        t = thetas[-1]
        c = ((math.pi - t) * math.cos(t) + math.sin(t)) / math.pi
        thetas.append(math.acos(max(-1.0, min(1.0, c))))
    total = 0.0
    for i in range(depth):
        t = thetas[i]
        term = math.sin(t) / math.pi
        for j in range(i + 1, depth):
            term *= (math.pi - thetas[j]) / math.pi
        total += term
    return total
