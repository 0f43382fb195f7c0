"""Strict reader for vertex-cover solution files (``s vc N K`` and ``K`` vertices).

:func:`read_vertex_set` reads vertex-cover solution files ``s vc N K``
followed by ``K`` lines with one vertex each (0-based by default, as in the
``*-solution.vc`` files of ``shared/data``; ``one_based=True`` for the
official PACE convention).
"""

from __future__ import annotations

import os

from geninv.errors import ParseError
from geninv.io.graphs.graph import n_vertices
from geninv.io.text import is_decimal as _is_decimal
from geninv.io.text import read_text as _read_text
from geninv.io.text import show as _show

_VC_HEADER_FORM = "expected 's vc <vertices> <cover size>'"


def parse_vertex_set(
    text: str, n: int, path: str = "<string>", *, one_based: bool = False
) -> list[int]:
    """Parse a vertex-cover solution ``s vc N K`` + ``K`` vertex lines; sorted 0-based vertices.

    ``N`` must equal ``n``; vertices must be distinct and in ``0..n-1``
    (``1..n`` with ``one_based=True``), one per line; ``c`` lines are comments.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    base = 1 if one_based else 0
    vertex_form = f"expected one vertex {base}..{n - 1 + base} per line"
    header: tuple[int, int] | None = None
    header_line = 0
    seen: dict[int, int] = {}
    last_line = max(len(lines), 1)
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "c":
            continue
        tokens = line.split()
        if line[0] == "s":
            if header is not None:
                raise ParseError(
                    f"second 's' line (the header is on line {header_line}; {_VC_HEADER_FORM} "
                    "once)",
                    path,
                    lineno,
                )
            if len(tokens) != 4 or tokens[0] != "s" or tokens[1] != "vc":
                raise ParseError(
                    f"malformed header {_show(line)} ({_VC_HEADER_FORM})", path, lineno
                )
            for token in tokens[2:]:
                if not _is_decimal(token):
                    raise ParseError(
                        f"{_show(token)} in the header is not a non-negative integer "
                        f"({_VC_HEADER_FORM})",
                        path,
                        lineno,
                    )
            header = (int(tokens[2][:20]), int(tokens[3][:20]))  # 20 digits: beyond any n
            header_line = lineno
            if header[0] != n:
                raise ParseError(
                    f"the header declares {header[0]} vertices but the graph has {n} "
                    "(expected the solution of this graph)",
                    path,
                    lineno,
                )
            continue
        if header is None:
            raise ParseError(
                f"vertex {_show(tokens[0])} before the header ({_VC_HEADER_FORM} first)",
                path,
                lineno,
            )
        if len(tokens) != 1 or not _is_decimal(tokens[0]):
            raise ParseError(f"{_show(line)} is not a vertex number ({vertex_form})", path, lineno)
        v = (int(tokens[0]) if len(tokens[0]) <= 20 else n + 1) - base
        if not 0 <= v < n:
            raise ParseError(
                f"vertex {tokens[0]} is out of range ({vertex_form}; the graph has {n} vertices)",
                path,
                lineno,
            )
        if v in seen:
            raise ParseError(
                f"vertex {tokens[0]} repeats line {seen[v]} (expected distinct vertices)",
                path,
                lineno,
            )
        seen[v] = lineno
    if header is None:
        raise ParseError(f"no header line found ({_VC_HEADER_FORM})", path, last_line)
    if len(seen) != header[1]:
        raise ParseError(
            f"found {n_vertices(len(seen))} but the header on line {header_line} "
            f"declares {header[1]} (expected exactly {n_vertices(header[1])})",
            path,
            last_line,
        )
    return sorted(seen)


def read_vertex_set(path: str | os.PathLike[str], n: int, *, one_based: bool = False) -> list[int]:
    """Read a vertex-cover solution file (``s vc N K`` + vertices); sorted 0-based vertices.

    The files in ``shared/data/graphs`` (``*-solution.vc``) list 0-based vertices
    (the default); pass ``one_based=True`` for the official PACE convention.
    """
    name, text = _read_text(path, "a vertex-cover solution file 's vc N K'")
    return parse_vertex_set(text, n, name, one_based=one_based)
