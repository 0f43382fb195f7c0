"""Strict reader (and writer) of closest-vector instances in CVP JSON.

Every error is a :class:`~geninv.errors.ParseError` whose message is one line
naming the file (and the line, where JSON says it) and saying what was expected.

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
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from geninv.errors import ParseError, ValidationError
from geninv.io.lattice.instance import CVPInstance, n_entries, parse_exact_number
from geninv.io.limits import NUMBER_FORM, check_float, check_json_depth, json_number_line, limit
from geninv.io.text import read_text as _read_text

_JSON_KEYS = ("basis", "target", "radius", "radius_pow", "p")


def _format_exact(value: Fraction) -> int | str:
    """A JSON value for a rational: an int when integral, else the string ``'p/q'``."""
    if value.denominator == 1:
        return int(value.numerator)
    return f"{value.numerator}/{value.denominator}"


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
                f"basis[{i}] has {n_entries(len(vec))} but basis[0] has {d} (expected all basis "
                "vectors to have the same dimension)",
                path,
            )
    target = _json_vector(doc["target"], "target", path)
    if len(target) != d:
        raise ParseError(
            f"target has {n_entries(len(target))} but the basis vectors have {d} (expected a "
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
