"""The undirected graph the clique and vertex-cover reductions take (Theorem 5).

:class:`Graph` is what :func:`~geninv.io.graphs.dimacs.parse_graph` returns and what
:meth:`Graph.to_dimacs` writes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

from geninv.errors import BackendUnavailableError, ValidationError


def n_vertices(k: int) -> str:
    """``k`` with ``vertex`` or ``vertices`` as the count needs."""
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
        """True when the graph carries edge weights (``weights`` is not None)."""
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
