"""Strict reader of lattices in fplll's text format.

Every error is a :class:`~geninv.errors.ParseError` whose message is one line
naming the file and the line and saying what was expected.  Numbers are exact
(:func:`~geninv.io.lattice.instance.parse_exact_number`).

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
"""

from __future__ import annotations

import os
import re
from fractions import Fraction

from geninv.errors import ParseError, ValidationError
from geninv.io.lattice.instance import n_entries, parse_exact_number
from geninv.io.limits import NUMBER_FORM, check_float, limit
from geninv.io.text import read_text as _read_text
from geninv.io.text import show as _show

_TOKEN_RE = re.compile(r"\[|\]|[^\s\[\]]+")

_MATRIX_FORM = "expected an fplll matrix like '[[1 2 3] [4 5 6]]', one basis vector per row"
_VECTOR_FORM = "expected an fplll vector like '[1 2 3]'"


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
                f"the row opened on line {lineno} has {n_entries(len(row))} but the first row "
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
