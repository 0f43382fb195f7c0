"""Helpers shared by the strict text readers (DIMACS CNF, graphs, lattices)."""

from __future__ import annotations

import os
from pathlib import Path

from geninv.errors import ParseError


def is_decimal(token: str) -> bool:
    """True for ASCII ``[0-9]+`` (``int()`` alone would accept ``+1``, ``1_0``, ``١``)."""
    return token.isascii() and token.isdigit()


def is_integer(token: str) -> bool:
    """True for ASCII ``-?[0-9]+``."""
    if token.startswith("-"):
        return is_decimal(token[1:])
    return is_decimal(token)


def show(text: str, limit: int = 40) -> str:
    """``repr`` of a token for an error message, shortened so the message stays short."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def read_text(path: str | os.PathLike[str], expected: str) -> tuple[str, str]:
    """``(name, text)`` of a UTF-8 file (BOM allowed); failures are one-line ParseErrors."""
    name = os.fspath(path)
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
        counts.append(int(token))
    return counts[0], counts[1]
