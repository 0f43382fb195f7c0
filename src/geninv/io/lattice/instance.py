"""The closest-vector instance and the exact numbers every lattice reader reads.

Exact numbers
=============

Every number is read exactly, as a :class:`fractions.Fraction` (see
:func:`parse_exact_number`): an integer of any size (``-12``,
``28915379691307635007036``), a decimal (``2.5``, ``-.25``, ``1e-3``,
``1.5E+2``; read as the exact decimal value, never through a binary float) or
a rational ``p/q`` (``1/3``, ``-7/2``; ``q > 0``, no spaces).  ``nan``,
``inf``, hexadecimal, underscores, non-ASCII digits, exponents beyond ``±1000``
and numbers with more than 4,000 digits are rejected (both limits can be
raised, see docs/formats.md, "Limits").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from geninv.errors import ValidationError
from geninv.io.limits import NUMBER_FORM, parse_number
from geninv.network import to_fraction
from geninv.problem import parse_norm


def n_entries(k: int) -> str:
    """``1 entry``, ``2 entries``: a count for error messages."""
    return f"{k} entry" if k == 1 else f"{k} entries"


def parse_exact_number(token: str) -> Fraction:
    """The exact value of an integer, decimal or ``p/q`` token (no surrounding blanks).

    Raises :class:`ValueError` with a short reason (``'x' is not a number``,
    ``'1/0' has a zero denominator``, too many digits, an exponent beyond the
    limit, ...) for anything else; callers add where it was and what was
    expected.  Digits and exponent are bounded (:func:`geninv.io.limits.parse_number`)
    before anything is converted.
    """
    return parse_number(token)


def _fraction(value: Any, what: str) -> Fraction:
    if isinstance(value, str):
        try:
            return parse_exact_number(value.strip())
        except ValueError as exc:
            raise ValidationError(f"{what}: {exc} (expected {NUMBER_FORM})") from None
    return to_fraction(value, what)


@dataclass(frozen=True)
class CVPInstance:
    """A closest-vector instance: lattice basis, target and (optionally) radius and norm.

    ``basis`` holds ``n >= 1`` basis vectors, each of dimension ``d >= 1`` --
    the columns of ``B`` -- and ``target`` has length ``d``.  At most one of
    ``radius`` (``r >= 0``) and ``radius_pow`` (the exact ``r^p >= 0``, for an
    integer ``p``) is set; both may be ``None`` (radius supplied later).
    ``p`` is the norm (``>= 1`` or ``math.inf``) or ``None`` when not given.

    Construction converts entries (ints, Fractions, finite floats, numpy
    scalars, exact-number strings) to :class:`Fraction` and checks all of the
    above, raising :class:`ValidationError`.
    """

    basis: tuple[tuple[Fraction, ...], ...]
    target: tuple[Fraction, ...]
    radius: Fraction | None = None
    radius_pow: Fraction | None = None
    p: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.basis, (str, bytes)) or isinstance(self.target, (str, bytes)):
            raise ValidationError("basis and target must be sequences of numbers, not strings")
        try:
            basis = tuple(
                tuple(_fraction(x, f"basis[{i}][{j}]") for j, x in enumerate(vec))
                for i, vec in enumerate(self.basis)
            )
            target = tuple(_fraction(x, f"target[{j}]") for j, x in enumerate(self.target))
        except TypeError:
            raise ValidationError(
                "basis must be a sequence of basis vectors and target a sequence of numbers"
            ) from None
        if not basis:
            raise ValidationError("basis is empty (expected at least one basis vector)")
        d = len(basis[0])
        if d == 0:
            raise ValidationError("basis vectors are empty (expected dimension d >= 1)")
        for i, vec in enumerate(basis):
            if len(vec) != d:
                raise ValidationError(
                    f"basis[{i}] has {n_entries(len(vec))} but basis[0] has {d} "
                    "(expected all basis vectors to have the same dimension)"
                )
        if len(target) != d:
            raise ValidationError(
                f"target has {n_entries(len(target))} but the basis vectors have {d} "
                "(expected a target of the same dimension)"
            )
        radius = None if self.radius is None else _fraction(self.radius, "radius")
        radius_pow = None if self.radius_pow is None else _fraction(self.radius_pow, "radius_pow")
        if radius is not None and radius_pow is not None:
            raise ValidationError("both radius and radius_pow are given (expected at most one)")
        for what, value in (("radius", radius), ("radius_pow", radius_pow)):
            if value is not None and value < 0:
                raise ValidationError(f"{what} is {value}, expected a number >= 0")
        p = None if self.p is None else parse_norm(self.p, "p")
        if radius_pow is not None and p is not None and (math.isinf(p) or not p.is_integer()):
            raise ValidationError(
                f"radius_pow is given but p = {self.p} is not an integer "
                "(expected an integer p, or 'radius' instead of 'radius_pow')"
            )
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "radius", radius)
        object.__setattr__(self, "radius_pow", radius_pow)
        object.__setattr__(self, "p", p)

    @property
    def n(self) -> int:
        """Number of basis vectors (columns of ``B``)."""
        return len(self.basis)

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the ambient space (length of every vector)."""
        return len(self.target)
