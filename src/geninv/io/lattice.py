"""Strict readers (and a writer) for lattice / closest-vector-problem inputs.

Every error a file can cause is a :class:`~geninv.errors.ParseError` whose
message is one line naming the file (and, for the fplll text format, the
line) and saying what was expected.

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

fplll text format
=================

A matrix (:func:`read_fplll_matrix`) is ``[`` followed by one or more rows and
``]``; a row is ``[`` followed by one or more whitespace-separated numbers and
``]``, one basis vector per row (fplll's row convention)::

    [[1 0 3]
    [0 1 -7/2]
    ]

Whitespace (spaces, tabs, line breaks, also inside a row) is free; nothing but
whitespace may follow the closing ``]``.  All rows must have the same length.
A vector (:func:`read_fplll_vector`, e.g. a CVP target) is one row
``[t1 t2 ...]``; a matrix with exactly one row ``[[t1 t2 ...]]`` is accepted
too.

CVP JSON format
===============

:func:`read_cvp_json` reads (and :func:`write_cvp_json` writes) one JSON
object (UTF-8)::

    {
      "basis": [[1, 0, 0], [0, 1, 0], [1, 1, 2]],
      "target": [1, "1/2", 0.25],
      "radius": "3/2",
      "p": 2
    }

* ``"basis"`` (required): a non-empty list of ``n`` basis vectors, each a
  non-empty list of ``d`` numbers (all the same length ``d``).  The basis
  vectors are the **columns** of the matrix ``B`` (so ``B`` is ``d x n`` and
  the lattice is ``{B y : y integer}``); this is the same "one vector per row
  of the file" layout as fplll's text format.
* ``"target"`` (required): a list of ``d`` numbers.
* ``"radius"`` (optional): a number ``>= 0``, the distance bound ``r``.
* ``"radius_pow"`` (optional): a number ``>= 0``, the exact value of ``r^p``
  for an integer ``p`` -- for radii whose ``p``-th root is irrational (e.g.
  ``r = sqrt(2)`` with ``p = 2`` is ``"radius_pow": 2``).  At most one of
  ``"radius"`` and ``"radius_pow"`` may be present; neither is allowed (the
  radius may then come from elsewhere, e.g. the command line).
  ``"radius_pow"`` needs ``"p"`` to be an integer when ``"p"`` is given.
* ``"p"`` (optional): the norm, a number ``>= 1`` or the string ``"inf"``.

A *number* is a JSON integer, a JSON decimal (read exactly from its digits:
``0.1`` is ``1/10``), or a JSON string holding an exact number as described
above (``"1/3"``, ``"-2.5"``, ``"123456789012345678901234567890"``).  JSON
``true``/``false``/``null``, ``NaN``, ``Infinity`` and ``-Infinity`` are
rejected, as are duplicate keys and keys other than the five above.
:func:`write_cvp_json` writes integers as JSON integers and every other
rational as a ``"p/q"`` string, so a round trip is exact.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from geninv.errors import ParseError, ValidationError
from geninv.io.limits import (
    NUMBER_FORM,
    check_float,
    check_json_depth,
    json_number_line,
    limit,
    parse_number,
)
from geninv.io.text import read_text as _read_text
from geninv.network import to_fraction
from geninv.problem import parse_norm

__all__ = [
    "CVPInstance",
    "cvp_to_json",
    "parse_cvp_json",
    "parse_exact_number",
    "parse_fplll_matrix",
    "parse_fplll_vector",
    "read_cvp_json",
    "read_fplll_matrix",
    "read_fplll_vector",
    "write_cvp_json",
]

#: What an exact number may look like, for error messages.

_TOKEN_RE = re.compile(r"\[|\]|[^\s\[\]]+")

_MATRIX_FORM = "expected an fplll matrix like '[[1 2 3] [4 5 6]]', one basis vector per row"
_VECTOR_FORM = "expected an fplll vector like '[1 2 3]'"
_JSON_KEYS = ("basis", "target", "radius", "radius_pow", "p")


def _show(text: str, limit: int = 40) -> str:
    """``repr`` of a token for an error message, shortened so the message stays short."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def _entries(k: int) -> str:
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


def _format_exact(value: Fraction) -> int | str:
    """A JSON value for a rational: an int when integral, else the string ``'p/q'``."""
    if value.denominator == 1:
        return int(value.numerator)
    return f"{value.numerator}/{value.denominator}"


# --------------------------------------------------------------------- instance


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
                    f"basis[{i}] has {_entries(len(vec))} but basis[0] has {d} "
                    "(expected all basis vectors to have the same dimension)"
                )
        if len(target) != d:
            raise ValidationError(
                f"target has {_entries(len(target))} but the basis vectors have {d} "
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


# --------------------------------------------------------------------- fplll text


def _tokenize(text: str) -> tuple[list[tuple[str, int]], int]:
    """Tokens ``[``, ``]`` and runs of other non-blank characters, with line numbers."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens = [
        (m.group(), lineno)
        for lineno, line in enumerate(lines, start=1)
        for m in _TOKEN_RE.finditer(line)
    ]
    return tokens, max(len(lines), 1)


def _number(token: str, path: str, lineno: int) -> Fraction:
    try:
        value = parse_exact_number(token)
    except ValueError as exc:
        raise ParseError(f"{exc} (expected {NUMBER_FORM}, or ']')", path, lineno) from None
    try:
        return check_float(value, f"the number {_show(token)}")
    except ValidationError as exc:
        raise ParseError(str(exc), path, lineno) from None


def _parse_row(
    tokens: list[tuple[str, int]], i: int, path: str, last_line: int
) -> tuple[list[Fraction], int]:
    """Parse the row whose ``[`` is ``tokens[i]``; return it and the index after its ``]``."""
    open_line = tokens[i][1]
    i += 1
    row: list[Fraction] = []
    while True:
        if i == len(tokens):
            raise ParseError(
                f"the row opened on line {open_line} is not closed (expected ']' after its "
                "last number)",
                path,
                last_line,
            )
        token, lineno = tokens[i]
        if token == "]":
            break
        if token == "[":
            raise ParseError(
                f"'[' inside the row opened on line {open_line} (expected a number or ']')",
                path,
                lineno,
            )
        if len(row) == limit("lattice_dim"):
            raise ParseError(
                f"the row opened on line {open_line} has more than {len(row):,} entries "
                f"(the limit on the dimension d; set GENINV_MAX_LATTICE_DIM to raise it)",
                path,
                lineno,
            )
        row.append(_number(token, path, lineno))
        i += 1
    if not row:
        raise ParseError("empty row '[]' (expected at least one number in a row)", path, lineno)
    return row, i + 1


def _parse_matrix_at(
    tokens: list[tuple[str, int]], path: str, last_line: int
) -> tuple[list[list[Fraction]], int]:
    """Parse a matrix starting at ``tokens[0]``; return it and the index after its ``]``."""
    if not tokens:
        raise ParseError(f"no data ({_MATRIX_FORM})", path, last_line)
    token, lineno = tokens[0]
    if token != "[":
        raise ParseError(
            f"{_show(token)} where '[' should open the matrix ({_MATRIX_FORM})", path, lineno
        )
    open_line = lineno
    rows: list[list[Fraction]] = []
    first_row_line = 0
    i = 1
    while True:
        if i == len(tokens):
            raise ParseError(
                f"the matrix opened on line {open_line} is not closed "
                "(expected ']' after the last row)",
                path,
                last_line,
            )
        token, lineno = tokens[i]
        if token == "]":
            i += 1
            break
        if token != "[" and not rows:
            raise ParseError(
                f"{_show(token)} where '[' should open the first row (this looks like a single "
                f"vector; {_MATRIX_FORM})",
                path,
                lineno,
            )
        if token != "[":
            raise ParseError(
                f"{_show(token)} outside a row (expected '[' opening a row, or ']' closing "
                "the matrix)",
                path,
                lineno,
            )
        if len(rows) == limit("lattice_dim"):
            raise ParseError(
                f"the matrix has more than {len(rows):,} rows (the limit on the number n of "
                "basis vectors; set GENINV_MAX_LATTICE_DIM to raise it)",
                path,
                lineno,
            )
        row, i = _parse_row(tokens, i, path, last_line)
        if rows and len(row) != len(rows[0]):
            raise ParseError(
                f"the row opened on line {lineno} has {_entries(len(row))} but the first row "
                f"(line {first_row_line}) has {len(rows[0])} (expected all rows to have the "
                "same length)",
                path,
                lineno,
            )
        if not rows:
            first_row_line = lineno
        rows.append(row)
    if not rows:
        raise ParseError(f"the matrix has no rows ({_MATRIX_FORM})", path, lineno)
    return rows, i


def _expect_end(tokens: list[tuple[str, int]], i: int, what: str, path: str) -> None:
    if i < len(tokens):
        token, lineno = tokens[i]
        raise ParseError(
            f"{_show(token)} after the closing ']' of the {what} (expected nothing but "
            "whitespace after it)",
            path,
            lineno,
        )


def parse_fplll_matrix(text: str, path: str = "<string>") -> list[list[Fraction]]:
    """Parse an fplll matrix; one list per row (basis vector), all rows of equal length."""
    tokens, last_line = _tokenize(text)
    rows, i = _parse_matrix_at(tokens, path, last_line)
    _expect_end(tokens, i, "matrix", path)
    return rows


def parse_fplll_vector(text: str, path: str = "<string>") -> list[Fraction]:
    """Parse an fplll vector ``[t1 t2 ...]`` (or a one-row matrix ``[[t1 t2 ...]]``)."""
    tokens, last_line = _tokenize(text)
    if not tokens:
        raise ParseError(f"no data ({_VECTOR_FORM})", path, last_line)
    if len(tokens) >= 2 and tokens[0][0] == "[" and tokens[1][0] == "[":
        rows, i = _parse_matrix_at(tokens, path, last_line)
        _expect_end(tokens, i, "matrix", path)
        if len(rows) != 1:
            raise ParseError(
                f"a matrix with {len(rows)} rows where one vector was expected "
                f"({_VECTOR_FORM}, or '[[1 2 3]]')",
                path,
                tokens[0][1],
            )
        return rows[0]
    token, lineno = tokens[0]
    if token != "[":
        raise ParseError(
            f"{_show(token)} where '[' should open the vector ({_VECTOR_FORM})", path, lineno
        )
    row, i = _parse_row(tokens, 0, path, last_line)
    _expect_end(tokens, i, "vector", path)
    return row


def read_fplll_matrix(path: str | os.PathLike[str]) -> list[list[Fraction]]:
    """Read an fplll matrix file (see the module docstring); entries are exact."""
    name, text = _read_text(path, "an fplll matrix text file")
    return parse_fplll_matrix(text, name)


def read_fplll_vector(path: str | os.PathLike[str]) -> list[Fraction]:
    """Read an fplll vector file ``[t1 t2 ...]`` (or ``[[t1 t2 ...]]``); entries are exact."""
    name, text = _read_text(path, "an fplll vector text file")
    return parse_fplll_vector(text, name)


# --------------------------------------------------------------------- CVP JSON


class _JSONNonFinite(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _JSONNonFinite(name)


class _RefusedNumber(ValueError):
    def __init__(self, literal: str, reason: str) -> None:
        super().__init__(reason)
        self.literal = literal


def _exact_json_number(literal: str) -> Fraction:
    """JSON numbers are read exactly from their digits (``0.1`` is ``1/10``)."""
    try:
        return parse_exact_number(literal)
    except ValueError as exc:
        raise _RefusedNumber(literal, str(exc)) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} (expected each key at most once)")
        out[key] = value
    return out


def _json_number(value: Any, where: str, path: str) -> Fraction:
    if isinstance(value, bool) or value is None:
        raise ParseError(f"{where} is {json.dumps(value)} (expected {NUMBER_FORM})", path)
    if isinstance(value, (int, Fraction, str)):
        try:
            if isinstance(value, str):
                number = parse_exact_number(value.strip())
            else:
                number = Fraction(value)
        except ValueError as exc:
            raise ParseError(
                f"{where}: {exc} (expected {NUMBER_FORM}, or a string holding one)", path
            ) from None
        try:
            return check_float(number, where)
        except ValidationError as exc:
            raise ParseError(str(exc), path) from None
    raise ParseError(f"{where} is a JSON {_json_type(value)} (expected {NUMBER_FORM})", path)


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _json_vector(value: Any, where: str, path: str) -> list[Fraction]:
    if not isinstance(value, list):
        raise ParseError(
            f"{where} is a JSON {_json_type(value)} (expected an array of numbers)", path
        )
    _check_dim(len(value), f"{where} has {len(value):,} entries", path)
    return [_json_number(x, f"{where}[{j}]", path) for j, x in enumerate(value)]


def _check_dim(size: int, what: str, path: str) -> None:
    if size > limit("lattice_dim"):
        raise ParseError(
            f"{what}, above the limit of {limit('lattice_dim'):,} on n and d "
            "(set GENINV_MAX_LATTICE_DIM to raise it)",
            path,
        )


def parse_cvp_json(text: str, path: str = "<string>") -> CVPInstance:
    """Parse CVP JSON ``text`` (schema in the module docstring); ``path`` names it in errors."""
    check_json_depth(text, path)
    try:
        doc = json.loads(
            text,
            parse_float=_exact_json_number,
            parse_int=_exact_json_number,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} at column {exc.colno} (expected a CVP JSON object)",
            path,
            exc.lineno,
        ) from None
    except _RefusedNumber as exc:
        raise ParseError(
            f"{exc} (expected {NUMBER_FORM})", path, json_number_line(text, exc.literal)
        ) from None
    except _JSONNonFinite as exc:
        raise ParseError(f"non-finite number {exc} (expected finite numbers only)", path) from None
    except ValueError as exc:
        raise ParseError(f"{exc} (expected a CVP JSON object)", path) from None
    if not isinstance(doc, dict):
        raise ParseError(
            f"top level is a JSON {_json_type(doc)} (expected an object with 'basis' and 'target')",
            path,
        )
    unknown = [key for key in doc if key not in _JSON_KEYS]
    if unknown:
        raise ParseError(
            f"unknown key {unknown[0]!r} (expected only {', '.join(map(repr, _JSON_KEYS))})",
            path,
        )
    for key in ("basis", "target"):
        if key not in doc:
            raise ParseError(f"missing key {key!r} (expected 'basis' and 'target')", path)
    raw_basis = doc["basis"]
    if not isinstance(raw_basis, list) or not raw_basis:
        what = "an empty array" if raw_basis == [] else f"a JSON {_json_type(raw_basis)}"
        raise ParseError(
            f"basis is {what} (expected a non-empty array of basis vectors, the columns of B)",
            path,
        )
    _check_dim(len(raw_basis), f"basis has {len(raw_basis):,} vectors", path)
    basis = [_json_vector(vec, f"basis[{i}]", path) for i, vec in enumerate(raw_basis)]
    d = len(basis[0])
    if d == 0:
        raise ParseError("basis[0] is empty (expected basis vectors of dimension >= 1)", path)
    for i, vec in enumerate(basis):
        if len(vec) != d:
            raise ParseError(
                f"basis[{i}] has {_entries(len(vec))} but basis[0] has {d} (expected all basis "
                "vectors to have the same dimension)",
                path,
            )
    target = _json_vector(doc["target"], "target", path)
    if len(target) != d:
        raise ParseError(
            f"target has {_entries(len(target))} but the basis vectors have {d} (expected a "
            "target of the same dimension)",
            path,
        )
    if "radius" in doc and "radius_pow" in doc:
        raise ParseError("both 'radius' and 'radius_pow' are given (expected at most one)", path)
    bounds: dict[str, Fraction | None] = {}
    for key in ("radius", "radius_pow"):
        value = None if key not in doc else _json_number(doc[key], key, path)
        if value is not None and value < 0:
            raise ParseError(f"{key} is {value} (expected a number >= 0)", path)
        bounds[key] = value
    p: float | None = None
    if "p" in doc:
        raw_p = doc["p"]
        if isinstance(raw_p, str) and raw_p == "inf":
            p = math.inf
        elif isinstance(raw_p, (int, Fraction)) and not isinstance(raw_p, bool):
            try:
                p = float(raw_p)
            except OverflowError:
                p = math.inf
            if p < 1 or math.isinf(p):
                raise ParseError(f'p is {raw_p} (expected a number >= 1, or "inf")', path)
        else:
            shown = json.dumps(raw_p) if isinstance(raw_p, str) else f"a JSON {_json_type(raw_p)}"
            raise ParseError(f'p is {shown} (expected a number >= 1, or "inf")', path)
    if bounds["radius_pow"] is not None and p is not None and (math.isinf(p) or not p.is_integer()):
        raise ParseError(
            f"'radius_pow' is given but p = {p:g} is not an integer (expected an integer "
            "p with 'radius_pow', or 'radius' instead)",
            path,
        )
    try:
        return CVPInstance(
            tuple(map(tuple, basis)), tuple(target), bounds["radius"], bounds["radius_pow"], p
        )
    except ValidationError as exc:  # pragma: no cover - everything is checked above
        raise ParseError(str(exc), path) from None


def read_cvp_json(path: str | os.PathLike[str]) -> CVPInstance:
    """Read a CVP JSON file (schema in the module docstring)."""
    name, text = _read_text(path, "a CVP JSON file")
    return parse_cvp_json(text, name)


def cvp_to_json(inst: CVPInstance) -> str:
    """CVP JSON text for ``inst`` (one basis vector per line); :func:`parse_cvp_json` reads it."""

    def vector(vec: Sequence[Fraction]) -> str:
        return json.dumps([_format_exact(x) for x in vec])

    lines = ["{", '  "basis": [']
    lines.extend(
        f"    {vector(vec)}{',' if i + 1 < len(inst.basis) else ''}"
        for i, vec in enumerate(inst.basis)
    )
    lines.append("  ],")
    fields = [f'  "target": {vector(inst.target)}']
    if inst.radius is not None:
        fields.append(f'  "radius": {json.dumps(_format_exact(inst.radius))}')
    if inst.radius_pow is not None:
        fields.append(f'  "radius_pow": {json.dumps(_format_exact(inst.radius_pow))}')
    if inst.p is not None:
        if math.isinf(inst.p):
            fields.append('  "p": "inf"')
        elif inst.p.is_integer():
            fields.append(f'  "p": {int(inst.p)}')
        else:
            fields.append(f'  "p": {inst.p!r}')
    lines.append(",\n".join(fields))
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_cvp_json(inst: CVPInstance, path: str | os.PathLike[str]) -> None:
    """Write ``inst`` as CVP JSON (UTF-8, ``\\n`` line ends), replacing any existing file.

    Integers are written as JSON integers and other rationals as ``"p/q"``
    strings, so :func:`read_cvp_json` gives back an equal instance.
    """
    Path(os.fspath(path)).write_text(cvp_to_json(inst), encoding="utf-8", newline="\n")
