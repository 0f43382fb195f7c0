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

:func:`read_vertex_set` reads vertex-cover solution files ``s vc N K``
followed by ``K`` lines with one vertex each (0-based by default, as in the
``*-solution.vc`` files of ``shared/data``; ``one_based=True`` for the
official PACE convention).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

from geninv.errors import BackendUnavailableError, ParseError, UnsupportedError, ValidationError
from geninv.io.lattice import parse_exact_number
from geninv.io.limits import FLOAT_MAX, NUMBER_FORM
from geninv.io.text import check_header, header_counts
from geninv.io.text import count as _count
from geninv.io.text import is_decimal as _is_decimal
from geninv.io.text import read_text as _read_text
from geninv.io.text import show as _show

__all__ = [
    "Graph",
    "parse_graph",
    "parse_vertex_set",
    "read_graph",
    "read_vertex_set",
]

_DIMACS_FORMATS = ("edge", "col", "clq")
_PACE_FORMATS = ("td", "vc")
_HEADER_FORM = "expected 'p edge|col|clq <vertices> <edges>' or 'p td|vc <vertices> <edges>'"
_DIMACS_EDGE_FORM = "expected 'e <u> <v>' or 'e <u> <v> <weight>'"
_PACE_EDGE_FORM = "expected '<u> <v>', without 'e', in a PACE file"
_VC_HEADER_FORM = "expected 's vc <vertices> <cover size>'"


def _vertices(k: int) -> str:
    return f"{k} vertex" if k == 1 else f"{k} vertices"


def _format_weight(w: Fraction) -> str:
    return str(w.numerator) if w.denominator == 1 else f"{w.numerator}/{w.denominator}"


@dataclass(frozen=True)
class Graph:
    """A simple undirected graph on vertices ``0..n-1``, optionally edge-weighted.

    ``edges`` are pairs ``(u, v)`` with ``u < v``, sorted and distinct;
    ``weights`` is ``None`` (unweighted: every edge weighs 1) or one positive
    :class:`Fraction` per edge, in the order of ``edges`` (a graph without
    edges is always stored unweighted).  ``comments`` are
    the comment lines of the file (without ``c`` and one following space);
    ``duplicates_merged`` is the number of repeated edge lines the parser
    merged.  Construction checks all of this (:class:`ValidationError`); use
    :meth:`from_edges` to build a graph from unsorted, repeated edges.

    Methods that take a collection of vertices treat it as a set (repeats are
    ignored) and raise :class:`ValidationError` for vertices outside ``0..n-1``.
    """

    n: int
    edges: tuple[tuple[int, int], ...]
    weights: tuple[Fraction, ...] | None = None
    comments: tuple[str, ...] = ()
    duplicates_merged: int = 0

    def __post_init__(self) -> None:
        n = self.n
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError(f"n must be a non-negative int, got {n!r}")
        edges = tuple(tuple(edge) for edge in self.edges)
        previous: tuple[int, ...] | None = None
        for edge in edges:
            if len(edge) != 2 or any(isinstance(x, bool) or not isinstance(x, int) for x in edge):
                raise ValidationError(f"edge {edge!r} is not a pair of ints")
            u, v = edge
            if not 0 <= u < v < n:
                raise ValidationError(
                    f"edge {edge!r}: expected 0 <= u < v < n = {n} (use Graph.from_edges to "
                    "normalise edges)"
                )
            if previous is not None and edge <= previous:
                raise ValidationError(
                    f"edge {edge!r} after {previous!r}: expected sorted, distinct edges "
                    "(use Graph.from_edges to normalise edges)"
                )
            previous = edge
        weights = self.weights
        if weights is not None and not edges:
            weights = None  # no edge, nothing to weigh: the same graph as unweighted
        if weights is not None:
            weights = tuple(Fraction(w) for w in weights)
            if len(weights) != len(edges):
                raise ValidationError(
                    f"{len(weights)} weights for {len(edges)} edges (expected one per edge)"
                )
            for edge, w in zip(edges, weights, strict=True):
                if w <= 0:
                    raise ValidationError(f"edge {edge!r} has weight {w}, expected > 0")
        comments = tuple(self.comments)
        for comment in comments:
            if not isinstance(comment, str) or "\n" in comment or "\r" in comment:
                raise ValidationError(f"comment {comment!r} must be a str without line breaks")
        merged = self.duplicates_merged
        if isinstance(merged, bool) or not isinstance(merged, int) or merged < 0:
            raise ValidationError(f"duplicates_merged must be a non-negative int, got {merged!r}")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "comments", comments)

    @classmethod
    def from_edges(
        cls,
        n: int,
        edges: Iterable[tuple[int, int]],
        weights: Iterable[Fraction | int] | None = None,
        comments: Sequence[str] = (),
    ) -> Graph:
        """A graph from 0-based edges in any order and orientation, repeats merged.

        Self-loops, and a repeated edge with a different weight, raise
        :class:`ValidationError`.
        """
        pairs = [tuple(edge) for edge in edges]
        ws = None if weights is None else [Fraction(w) for w in weights]
        if ws is not None and len(ws) != len(pairs):
            raise ValidationError(f"{len(ws)} weights for {len(pairs)} edges (expected one each)")
        seen: dict[tuple[int, int], Fraction] = {}
        for j, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValidationError(f"edge {pair!r} is not a pair")
            u, v = pair
            if u == v:
                raise ValidationError(f"edge {pair!r} is a self-loop (expected u != v)")
            key = (u, v) if u < v else (v, u)
            w = Fraction(1) if ws is None else ws[j]
            if key in seen and seen[key] != w:
                raise ValidationError(f"edge {key!r} repeated with weights {seen[key]} and {w}")
            seen[key] = w
        keys = sorted(seen)
        return cls(
            n,
            tuple(keys),
            None if ws is None else tuple(seen[k] for k in keys),
            tuple(comments),
            len(pairs) - len(keys),
        )

    # ---------------------------------------------------------------- queries

    @property
    def m(self) -> int:
        """Number of (distinct) edges."""
        return len(self.edges)

    @property
    def is_weighted(self) -> bool:
        return self.weights is not None

    @cached_property
    def _weight_of(self) -> dict[tuple[int, int], Fraction]:
        if self.weights is None:
            one = Fraction(1)
            return {edge: one for edge in self.edges}
        return dict(zip(self.edges, self.weights, strict=True))

    def _vertex(self, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < self.n:
            raise ValidationError(f"vertex {v!r} is not in 0..{self.n - 1} (vertices are 0-based)")
        return v

    def _vertex_set(self, vertices: Iterable[int]) -> list[int]:
        return sorted({self._vertex(v) for v in vertices})

    def has_edge(self, u: int, v: int) -> bool:
        """True iff ``{u, v}`` is an edge (either orientation; ``u == v`` is never one)."""
        u, v = self._vertex(u), self._vertex(v)
        return (min(u, v), max(u, v)) in self._weight_of

    def edge_weight(self, u: int, v: int) -> Fraction:
        """Weight of edge ``{u, v}`` (1 in an unweighted graph); ValidationError if absent."""
        u, v = self._vertex(u), self._vertex(v)
        try:
            return self._weight_of[(min(u, v), max(u, v))]
        except KeyError:
            raise ValidationError(f"{{{u}, {v}}} is not an edge") from None

    def adjacency(self) -> list[set[int]]:
        """A fresh list of neighbour sets, one per vertex."""
        adj: list[set[int]] = [set() for _ in range(self.n)]
        for u, v in self.edges:
            adj[u].add(v)
            adj[v].add(u)
        return adj

    def to_networkx(self) -> Any:
        """A ``networkx.Graph`` on nodes ``0..n-1``; edges carry ``weight`` when weighted."""
        try:
            import networkx as nx
        except ImportError:
            raise BackendUnavailableError(
                "networkx is not installed (pip install networkx, or geninv[dev])"
            ) from None
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        if self.weights is None:
            g.add_edges_from(self.edges)
        else:
            g.add_edges_from(
                (u, v, {"weight": w}) for (u, v), w in zip(self.edges, self.weights, strict=True)
            )
        return g

    def is_clique(self, vertices: Iterable[int]) -> bool:
        """True iff every two of the given vertices are adjacent (the empty set is a clique)."""
        vs = self._vertex_set(vertices)
        weight_of = self._weight_of
        return all((u, v) in weight_of for i, u in enumerate(vs) for v in vs[i + 1 :])

    def is_vertex_cover(self, vertices: Iterable[int]) -> bool:
        """True iff every edge has an endpoint among the given vertices."""
        cover = set(self._vertex_set(vertices))
        return all(u in cover or v in cover for u, v in self.edges)

    def clique_weight(self, vertices: Iterable[int]) -> Fraction:
        """Total weight of the edges inside a clique (``k(k-1)/2`` when unweighted).

        Raises :class:`ValidationError` when the vertices are not a clique.
        """
        vs = self._vertex_set(vertices)
        weight_of = self._weight_of
        total = Fraction(0)
        for i, u in enumerate(vs):
            for v in vs[i + 1 :]:
                w = weight_of.get((u, v))
                if w is None:
                    raise ValidationError(f"not a clique: {u} and {v} are not adjacent")
                total += w
        return total

    def to_dimacs(self) -> str:
        """DIMACS ``p edge`` text (1-based; a 4th field when weighted); parse_graph reads it."""
        parts = [f"c {comment}\n" if comment else "c\n" for comment in self.comments]
        parts.append(f"p edge {self.n} {self.m}\n")
        if self.weights is None:
            parts.extend(f"e {u + 1} {v + 1}\n" for u, v in self.edges)
        else:
            parts.extend(
                f"e {u + 1} {v + 1} {_format_weight(w)}\n"
                for (u, v), w in zip(self.edges, self.weights, strict=True)
            )
        return "".join(parts)


# --------------------------------------------------------------------- parsing


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
            f"the header declares {_vertices(n)} "
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
            comment = raw.removesuffix("\r").lstrip()[1:].replace("\r", " ")
            comments.append(comment[1:] if comment.startswith(" ") else comment)
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
            f"found {_vertices(len(seen))} but the header on line {header_line} "
            f"declares {header[1]} (expected exactly {_vertices(header[1])})",
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
