"""The activations geninv reads: their names, parameters, float and "exact" evaluation.

``relu``, ``identity``, ``leaky_relu[:SLOPE]`` (rational slope >= 0, default 1/100),
``sigmoid``, ``tanh`` and ``elu[:ALPHA]`` (``ELU(t) = t`` for ``t > 0``, ``alpha (e^t - 1)``
otherwise; rational alpha >= 0, default 1).  All are nondecreasing; the first three
are piecewise linear (:data:`PIECEWISE_LINEAR`), the others transcendental, evaluated
"exactly" to :data:`SMOOTH_DIGITS` digits (rigorous enclosures live in
:mod:`geninv.exact_smooth` and :mod:`geninv.exact_elu`).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from geninv.errors import ValidationError
from geninv.rationals import FloatArray, to_fraction

if TYPE_CHECKING:
    from geninv.network import Layer

Activation = Literal["relu", "identity", "leaky_relu", "sigmoid", "tanh", "elu"]
ACTIVATIONS: tuple[str, ...] = ("relu", "identity", "leaky_relu", "sigmoid", "tanh", "elu")
PIECEWISE_LINEAR: frozenset[str] = frozenset({"relu", "identity", "leaky_relu"})
#: Decimal digits used to evaluate sigmoid, tanh and ELU in "exact" evaluation.
SMOOTH_DIGITS = 60

_ZERO = Fraction(0)


def parse_activation(spec: Any, what: str = "activation") -> tuple[Activation, Fraction]:
    """'relu', 'identity', 'sigmoid', 'tanh', 'leaky_relu' (slope 1/100),
    'leaky_relu:SLOPE', 'elu' (alpha 1) or 'elu:ALPHA' (rational, >= 0)."""
    if not isinstance(spec, str):
        raise ValidationError(f"{what}: expected a string such as 'relu', got {spec!r}")
    name, colon, arg = spec.strip().lower().partition(":")
    if colon and not arg:
        raise ValidationError(f"{what}: {spec!r} ends in ':'; give the parameter or drop the ':'")
    if name not in ACTIVATIONS:
        raise ValidationError(
            f"{what}: unknown activation {spec!r}; expected one of relu, identity, "
            "leaky_relu[:slope], sigmoid, tanh, elu[:alpha]"
        )
    if name == "leaky_relu":
        return "leaky_relu", _parameter(arg, Fraction(1, 100), f"{what}: LeakyReLU slope")
    if name == "elu":
        return "elu", _parameter(arg, Fraction(1), f"{what}: ELU alpha")
    if arg:
        raise ValidationError(f"{what}: {name} takes no parameter, got {spec!r}")
    return name, _ZERO  # type: ignore[return-value]


def _parameter(arg: str, default: Fraction, what: str) -> Fraction:
    """An activation's parameter: a rational >= 0 that a float64 holds (the float forward
    multiplies by it), ``default`` when not given."""
    if not arg:
        return default
    value = to_fraction(arg, what)
    if value < 0:
        raise ValidationError(f"{what} must be >= 0, got {value}")
    if value > _MAX_PARAMETER:
        raise ValidationError(f"{what} must be at most 1e300 (a float64 holds it), got {arg!r}")
    return value


#: The largest activation parameter accepted (slope, alpha).
_MAX_PARAMETER = Fraction(10**300)


def apply_activation(h: FloatArray, layer: Layer) -> FloatArray:
    """The layer's activation on a float array (in place where possible)."""
    act = layer.activation
    if act == "relu":
        np.maximum(h, 0.0, out=h)
    elif act == "leaky_relu":
        h = np.where(h > 0, h, float(layer.negative_slope) * h)
    elif act == "sigmoid":
        h = 0.5 * (1.0 + np.tanh(0.5 * h))  # stable for large |h|
    elif act == "tanh":
        h = np.tanh(h)
    elif act == "elu":
        h = elu_float(h, float(layer.negative_slope))
    return h


def elu_float(h: FloatArray, alpha: float) -> FloatArray:
    """``ELU(h) = h`` for ``h > 0``, ``alpha expm1(h)`` otherwise (float64, a new array)."""
    with np.errstate(under="ignore"):
        neg = np.expm1(np.minimum(h, 0.0))
    if alpha != 1.0:
        neg = alpha * neg
    out: FloatArray = np.where(h > 0, h, neg)
    return out


def exact_activation(s: Fraction, layer: Layer) -> Fraction:
    """The layer's activation at a rational: exact for the piecewise-linear ones, to
    :data:`SMOOTH_DIGITS` decimal digits for sigmoid, tanh and ELU below 0."""
    act = layer.activation
    if act == "relu":
        return s if s > 0 else Fraction(0)
    if act == "leaky_relu":
        return s if s > 0 else layer.negative_slope * s
    if act == "identity":
        return s
    if act == "elu" and s > 0:
        return s
    with localcontext() as ctx:
        ctx.prec = SMOOTH_DIGITS
        x = Decimal(s.numerator) / Decimal(s.denominator)
        if act == "sigmoid":
            val = 1 / (1 + (-x).exp()) if x > -1000 else Decimal(0)
        elif act == "elu":  # x <= 0
            alpha = layer.negative_slope
            e = x.exp() - 1 if x > -1000 else Decimal(-1)
            return alpha * Fraction(e)
        else:  # tanh
            val = Decimal(1) if x > 200 else (Decimal(-1) if x < -200 else _dtanh(x))
        return Fraction(val)


def _dtanh(x: Decimal) -> Decimal:
    e = (2 * x).exp()
    return (e - 1) / (e + 1)
