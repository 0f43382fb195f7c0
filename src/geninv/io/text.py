"""Helpers shared by the strict text readers (DIMACS CNF, graphs, lattices)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from geninv.errors import ParseError, ValidationError
from geninv.io.limits import check_count, check_file_size


def is_decimal(token: str) -> bool:
    """True for ASCII ``[0-9]+`` (``int()`` alone would accept ``+1``, ``1_0``, ``١``)."""
    return token.isascii() and token.isdigit()


def is_integer(token: str) -> bool:
    """True for ASCII ``-?[0-9]+``."""
    if token.startswith("-"):
        return is_decimal(token[1:])
    return is_decimal(token)


def comment_text(raw: str) -> str:
    """The text of a DIMACS comment line ``c ...`` (``raw`` as read): what follows the
    ``c`` and one space; the CR of a CRLF line end is dropped, a stray CR inside
    becomes a space."""
    comment = raw.removesuffix("\r").lstrip()[1:].replace("\r", " ")
    return comment[1:] if comment.startswith(" ") else comment


def show(text: str, limit: int = 40) -> str:
    """``repr`` of a token for an error message, shortened so the message stays short."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def count(n: int, noun: str) -> str:
    """``n`` and the noun, plural with ``s`` unless ``n == 1`` (``1 clause``, ``3 clauses``)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def read_text(path: str | os.PathLike[str], expected: str) -> tuple[str, str]:
    """``(name, text)`` of a UTF-8 file (BOM allowed); failures are one-line ParseErrors."""
    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
    except OSError:
        size = 0  # reading it below says why it cannot be read
    check_file_size(size, "text_bytes", name)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ParseError(f"cannot read file: {reason} (expected {expected})", name) from None
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}; "
            f"expected {expected})",
            name,
            lineno,
        ) from None


def header_counts(
    tokens: list[str], names: tuple[str, str], form: str, path: str, lineno: int
) -> tuple[int, int]:
    """The two non-negative counts of a ``p <format> A B`` header line."""
    if len(tokens) != 4:
        raise ParseError(
            f"header {show(' '.join(tokens))} has {count(len(tokens) - 2, 'number')} "
            f"after 'p {tokens[1] if len(tokens) > 1 else ''}', not 2 ({form})",
            path,
            lineno,
        )
    counts: list[int] = []
    for what, token in zip(names, tokens[2:], strict=True):
        if not is_decimal(token):
            raise ParseError(
                f"number of {what} in header is {show(token)}, not a non-negative integer ({form})",
                path,
                lineno,
            )
        if len(token.lstrip("0")) > 18:  # refused without converting a huge decimal string
            raise ParseError(
                f"number of {what} in header has {len(token):,} digits, far above any limit "
                "(see 'Limits' in docs/formats.md)",
                path,
                lineno,
            )
        counts.append(int(token))
    return counts[0], counts[1]


def check_header(value: int, key: str, what: str, path: str, lineno: int) -> None:
    """Refuse a header count above limit ``key`` before anything is allocated for it."""
    try:
        check_count(value, key, f"the number of {what} in the header")
    except ValidationError as exc:
        raise ParseError(str(exc), path, lineno) from None


def read_npy(path: str | os.PathLike[str], what: str = "array") -> Any:
    """A numeric ``.npy`` array, its header checked before the data is read.

    The file size (limit ``model_bytes``), the declared shape (at most the
    ``vector`` limit of entries, and no more than the file holds) and the
    dtype (booleans, integers or floats) are checked from the header; the
    values must be finite.  Every failure is a one-line :class:`ParseError`.
    """
    import numpy as np

    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
        check_file_size(size, "model_bytes", name)
        with open(name, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except FileNotFoundError:
        raise ParseError(f"no such file (expected a .npy {what})", name) from None
    except ValidationError:
        raise
    except (OSError, ValueError, SyntaxError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise ParseError(f"not a readable .npy {what} ({reason})", name) from None
    if dtype.kind not in "biuf":
        raise ParseError(f"expected a numeric {what}, got dtype {dtype}", name)
    entries = 1
    for dim in shape:
        entries *= int(dim)
    check_count(entries, "vector", f"{name}: the {what} of shape {tuple(shape)} has entries")
    if entries * dtype.itemsize > size:
        raise ParseError(
            f"the header declares shape {tuple(shape)} ({entries * dtype.itemsize:,} bytes) but "
            f"the file has only {size:,} bytes (truncated?)",
            name,
        )
    try:
        arr = np.load(name, allow_pickle=False)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise ParseError(f"not a readable .npy {what} ({reason})", name) from None
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ParseError(f"the {what} holds NaN or infinite values (expected finite numbers)", name)
    return arr
