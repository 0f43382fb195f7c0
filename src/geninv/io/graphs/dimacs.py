"""Strict reader for undirected graphs: DIMACS edge/clique/colouring and PACE 2019 files.

Accepted input (anything else is a :class:`~geninv.errors.ParseError` whose
message is one line, ``FILE:LINE: what is wrong (expected ...)``):

* a line whose first non-blank character is ``c`` is a comment, anywhere;
  blank lines are ignored;
* exactly one header, before the first edge, which fixes the dialect:

  - DIMACS ``p edge N M``, ``p col N M`` or ``p clq N M``: every edge line is
    ``e u v`` or ``e u v w`` with an edge weight ``w``; either every edge line
    has a weight or none has.  A weight is exact (an integer, a decimal like
    ``2.5`` or a rational like ``1/3``, see
    :func:`geninv.io.lattice.parse_exact_number`) and must be ``> 0``.
    Vertex-weight lines ``n v w`` (the weighted-clique dialect) raise
    :class:`~geninv.errors.UnsupportedError`: vertex weights are not supported.
  - PACE 2019 ``p td N M`` or ``p vc N M``: every edge line is a bare ``u v``.

  ``N`` and ``M`` are non-negative decimal integers, at most the ``vertices``
  and ``edges`` limits (:mod:`geninv.io.limits`, checked on the header line);
* vertices are 1-based in the file and must lie in ``1..N``; a self-loop
  ``u u`` is an error;
* an edge may be repeated, in either orientation (``u v`` and ``v u`` are the
  same undirected edge): repeats are merged and counted in
  :attr:`Graph.duplicates_merged`; in a weighted file a repeat must carry the
  same weight;
* ``M`` counts edge **lines**, repeats included: the number of edge lines must
  equal ``M``.  (The PACE 2019 files ``vc-exact_005`` & co. declare their
  line count -- 819 lines, 798 distinct edges -- and the DIMACS ``queen5_5.col``
  lists every edge in both orientations under ``p edge 25 320``.)

Parsing is a single pass over the lines, linear in the size of the input.
In memory, vertices are 0-based: file vertex ``v`` is vertex ``v - 1``.
"""

from __future__ import annotations

import os
from fractions import Fraction

from geninv.errors import ParseError, UnsupportedError
from geninv.io.graphs.graph import Graph, n_vertices
from geninv.io.lattice import parse_exact_number
from geninv.io.limits import FLOAT_MAX, NUMBER_FORM
from geninv.io.text import check_header, comment_text, header_counts
from geninv.io.text import count as _count
from geninv.io.text import is_decimal as _is_decimal
from geninv.io.text import read_text as _read_text
from geninv.io.text import show as _show

_DIMACS_FORMATS = ("edge", "col", "clq")
_PACE_FORMATS = ("td", "vc")
_HEADER_FORM = "expected 'p edge|col|clq <vertices> <edges>' or 'p td|vc <vertices> <edges>'"
_DIMACS_EDGE_FORM = "expected 'e <u> <v>' or 'e <u> <v> <weight>'"
_PACE_EDGE_FORM = "expected '<u> <v>', without 'e', in a PACE file"


def _parse_header(tokens: list[str], path: str, lineno: int) -> tuple[str, int, int]:
    if len(tokens) < 2 or tokens[0] != "p":
        raise ParseError(
            f"malformed header line {_show(' '.join(tokens))} ({_HEADER_FORM})", path, lineno
        )
    kind = tokens[1]
    if kind not in _DIMACS_FORMATS + _PACE_FORMATS:
        raise ParseError(
            f"unsupported problem format {_show(kind)} in header ({_HEADER_FORM})", path, lineno
        )
    n, m = header_counts(tokens, ("vertices", "edges"), _HEADER_FORM, path, lineno)
    check_header(n, "vertices", "vertices", path, lineno)
    check_header(m, "edges", "edges", path, lineno)
    return kind, n, m


def _vertex_token(token: str, n: int, form: str, path: str, lineno: int) -> int:
    if not _is_decimal(token):
        raise ParseError(
            f"vertex {_show(token)} is not a positive integer ({form}, vertices 1..{n})",
            path,
            lineno,
        )
    v = int(token) if len(token) <= 20 else n + 1  # a huge vertex is out of range unread
    if not 1 <= v <= n:
        raise ParseError(
            f"vertex {token if len(token) <= 20 else _show(token)} is out of range: "
            f"the header declares {n_vertices(n)} "
            f"(expected 1 <= vertex <= {n})",
            path,
            lineno,
        )
    return v - 1


def parse_graph(text: str, path: str = "<string>") -> Graph:
    """Parse a DIMACS or PACE graph ``text``; ``path`` only names the input in error messages.

    Raises :class:`ParseError` (one-line message naming ``path`` and the line)
    on any deviation from the format in the module docstring, and
    :class:`UnsupportedError` (same form) for vertex-weight lines.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    comments: list[str] = []
    header: tuple[str, int, int] | None = None
    header_line = 0
    n = 0
    pace = False
    weighted: bool | None = None  # decided by the first edge line
    first_edge_line = 0
    # edge -> (weight or None, line it first appeared on)
    seen: dict[tuple[int, int], tuple[Fraction | None, int]] = {}
    edge_lines = 0
    first_extra_line = 0
    last_line = max(len(lines), 1)

    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        first = line[0]
        if first == "c":
            comments.append(comment_text(raw))
            continue
        tokens = line.split()
        if first == "p":
            if header is not None:
                raise ParseError(
                    f"second header line (the header is on line {header_line}; "
                    "expected exactly one 'p' line)",
                    path,
                    lineno,
                )
            header = _parse_header(tokens, path, lineno)
            header_line = lineno
            n = header[1]
            pace = header[0] in _PACE_FORMATS
            continue
        if header is None:
            raise ParseError(
                f"edge data {_show(tokens[0])} before the header ({_HEADER_FORM} before any edge)",
                path,
                lineno,
            )
        if pace:
            form = _PACE_EDGE_FORM
            if tokens[0] == "e":
                raise ParseError(
                    f"DIMACS edge line {_show(line)} after the PACE header 'p {header[0]}' "
                    f"on line {header_line} ({form})",
                    path,
                    lineno,
                )
            if len(tokens) != 2:
                raise ParseError(
                    f"edge line {_show(line)} has {_count(len(tokens), 'field')}, not 2 ({form})",
                    path,
                    lineno,
                )
            ends = tokens
            weight_token = None
        else:
            form = _DIMACS_EDGE_FORM
            if tokens[0] == "n":
                raise UnsupportedError(
                    f"{path}:{lineno}: vertex weight line {_show(line)}: vertex weights are not "
                    f"supported ({form}; only edge weights are)"
                )
            if tokens[0] != "e":
                raise ParseError(
                    f"{_show(tokens[0])} does not start an edge line ({form} after "
                    f"'p {header[0]}')",
                    path,
                    lineno,
                )
            if len(tokens) not in (3, 4):
                raise ParseError(
                    f"edge line {_show(line)} has {_count(len(tokens) - 1, 'field')} after "
                    f"'e', not 2 or 3 ({form})",
                    path,
                    lineno,
                )
            ends = tokens[1:3]
            weight_token = tokens[3] if len(tokens) == 4 else None
        u = _vertex_token(ends[0], n, form, path, lineno)
        v = _vertex_token(ends[1], n, form, path, lineno)
        if u == v:
            raise ParseError(
                f"self-loop on vertex {u + 1} (expected an edge between two different vertices)",
                path,
                lineno,
            )
        has_weight = weight_token is not None
        if weighted is None:
            weighted = has_weight
            first_edge_line = lineno
        elif weighted != has_weight:
            raise ParseError(
                f"edge line {'has' if has_weight else 'lacks'} a weight but the first edge line "
                f"(line {first_edge_line}) {'does not' if has_weight else 'has one'} "
                "(expected a weight on every edge line or on none)",
                path,
                lineno,
            )
        weight: Fraction | None = None
        if weight_token is not None:
            try:
                weight = parse_exact_number(weight_token)
            except ValueError as exc:
                raise ParseError(
                    f"edge weight: {exc} (expected a weight > 0: {NUMBER_FORM})", path, lineno
                ) from None
            if abs(weight) > FLOAT_MAX:
                raise ParseError(
                    f"edge weight {_show(weight_token)} is beyond the float64 range "
                    "(expected a weight <= 1.8e308)",
                    path,
                    lineno,
                )
            if weight <= 0:
                raise ParseError(
                    f"edge weight {_show(weight_token)} is not positive (expected a weight > 0)",
                    path,
                    lineno,
                )
        edge_lines += 1
        if edge_lines == header[2] + 1:
            first_extra_line = lineno
        key = (u, v) if u < v else (v, u)
        previous = seen.get(key)
        if previous is None:
            seen[key] = (weight, lineno)
        elif previous[0] != weight:
            raise ParseError(
                f"edge {key[0] + 1} {key[1] + 1} repeats the edge on line {previous[1]} with "
                f"weight {previous[0]} but has weight {weight} (expected a repeated edge to "
                "have the same weight)",
                path,
                lineno,
            )

    if header is None:
        raise ParseError(f"no header line found ({_HEADER_FORM} before any edge)", path, last_line)
    declared = header[2]
    if edge_lines != declared:
        detail = f"; the first extra edge is on line {first_extra_line}" if first_extra_line else ""
        raise ParseError(
            f"found {_count(edge_lines, 'edge line')} but the header on line {header_line} "
            f"declares {declared}{detail} (expected exactly {_count(declared, 'edge line')}, "
            "repeated edges included)",
            path,
            last_line,
        )
    keys = sorted(seen)
    weights: tuple[Fraction, ...] | None = None
    if weighted:
        weights = tuple(w for w, _ in (seen[k] for k in keys) if w is not None)
    return Graph(n, tuple(keys), weights, tuple(comments), edge_lines - len(keys))


def read_graph(path: str | os.PathLike[str]) -> Graph:
    """Read and parse a DIMACS or PACE graph file (UTF-8; a leading byte-order mark is allowed).

    A missing or unreadable file, or bytes that are not UTF-8, raise
    :class:`ParseError` naming the file.
    """
    name, text = _read_text(path, "a DIMACS or PACE graph text file")
    return parse_graph(text, name)
