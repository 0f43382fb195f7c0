"""Exact rationals of network parameters and latents.

Every float64 is a dyadic rational, so :func:`to_fraction` and
:func:`float_fractions` give the exact value of a float (never a rounded
decimal); strings ``'p/q'`` and decimals are read exactly within the digit and
exponent limits of :mod:`geninv.io.limits`.  Fractions of small integers
(``|v| <= 256``) are shared objects, so hot loops can recognise them by identity
(:func:`fraction_key`, :func:`shared_ints`, :func:`integer_values`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError
from geninv.io.limits import NUMBER_FORM, check_int, parse_number

FloatArray = npt.NDArray[np.float64]

# One sparse exact row: (column indices, coefficients) with zero entries dropped.
SparseRow = tuple[tuple[int, ...], tuple[Fraction, ...]]


def fractions_of(values: Sequence[Any], what: str = "z") -> list[Fraction]:
    """:func:`to_fraction` of every entry (named ``what[i]`` in errors); Fractions pass as is."""
    return [
        v if type(v) is Fraction else to_fraction(v, f"{what}[{i}]") for i, v in enumerate(values)
    ]


#: Shared Fractions of small integers (immutable, so one object serves every entry).
_SMALL_FRACTIONS: dict[int, Fraction] = {v: Fraction(v) for v in range(-256, 257)}
#: id of each shared Fraction -> its value (the objects live as long as the module, so
#: their ids are never reused).
_SMALL_IDS: dict[int, int] = {id(f): v for v, f in _SMALL_FRACTIONS.items()}


def small_fraction(value: int) -> Fraction:
    """``Fraction(value)``; the shared object for |value| <= 256."""
    shared = _SMALL_FRACTIONS.get(value)
    return shared if shared is not None else Fraction(value)


def fraction_key(v: Fraction) -> int | tuple[int, int]:
    """A cheap exact dictionary key for a Fraction: the int of a shared small Fraction
    (looked up by identity), else ``(numerator, denominator)``.  Equal keys mean equal
    values (an int and a pair never compare equal)."""
    small = _SMALL_IDS.get(id(v))
    return small if small is not None else (v.numerator, v.denominator)


def shared_ints(values: Sequence[Any]) -> list[int] | None:
    """The ints of the entries when every one is a shared small Fraction
    (:func:`small_fraction`), else None: one identity lookup per entry."""
    get = _SMALL_IDS.get
    quick = [get(id(v)) for v in values]
    return None if None in quick else quick  # type: ignore[return-value]


def integer_values(values: Sequence[Fraction]) -> list[int] | None:
    """The entries as Python ints when every one is an integer, else None."""
    quick = shared_ints(values)  # shared small Fractions: no attribute lookups
    if quick is not None:
        return quick
    out: list[int] = []
    for v in values:
        if v.denominator != 1:
            return None
        out.append(v.numerator)
    return out


def to_fraction(value: Any, what: str = "value") -> Fraction:
    """Exact rational value of an int, float, Fraction, numpy scalar or 'p/q' string.

    Raises :class:`ValidationError` for NaN, infinities, booleans and anything
    that is not a number, and for strings or integers beyond the ``digits`` /
    ``exponent`` limits of :mod:`geninv.io.limits` (checked before converting).
    """
    if isinstance(value, bool):
        raise ValidationError(f"{what}: expected a number, got a boolean")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        if type(value) is int and not -(2**64) < value < 2**64:
            check_int(value, what)  # huge integers: within the digits limit
        return small_fraction(int(value))  # small integers: the shared objects
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not np.isfinite(f):
            raise ValidationError(f"{what}: expected a finite number, got {f}")
        if f.is_integer() and -256 <= f <= 256:
            return small_fraction(int(f))
        return Fraction(f)
    if isinstance(value, str):
        # Digits and exponent are bounded before converting: '1e999999999' is refused at once.
        try:
            return parse_number(value.strip())
        except ValueError as exc:
            raise ValidationError(f"{what}: {exc} (expected {NUMBER_FORM})") from None
    raise ValidationError(f"{what}: expected a number, got {type(value).__name__}")


def sparse_rows(weight: FloatArray) -> list[SparseRow]:
    """The nonzero entries of every row of a float64 matrix, as exact rationals."""
    r, c = np.nonzero(weight)
    cols = c.tolist()
    vals = float_fractions(weight[r, c])
    out: list[SparseRow] = []
    start = 0
    for end in np.cumsum(np.bincount(r, minlength=weight.shape[0])).tolist():
        out.append((tuple(cols[start:end]), tuple(vals[start:end])))
        start = end
    return out


def float_fractions(values: FloatArray) -> list[Fraction]:
    """Exact values of float64 entries (integers take the fast path)."""
    if bool((np.rint(values) == values).all()) and bool((np.abs(values) < 2.0**53).all()):
        small = _SMALL_FRACTIONS
        return [
            small[v] if -256 <= v <= 256 else Fraction(v) for v in values.astype(np.int64).tolist()
        ]
    return [Fraction(v) for v in values.tolist()]
