"""Undirected graphs (DIMACS and PACE 2019 files) and vertex-cover solutions, by stage:

* :mod:`geninv.io.graphs.graph`: :class:`Graph`, the graph in memory (0-based);
* :mod:`geninv.io.graphs.dimacs`: the strict reader of DIMACS edge/clique/colouring
  and PACE 2019 graph files (:func:`read_graph`, :func:`parse_graph`; the accepted
  input is in its docstring);
* :mod:`geninv.io.graphs.vertex_set`: vertex-cover solution files
  (:func:`read_vertex_set`, :func:`parse_vertex_set`).

Every error is a one-line :class:`~geninv.errors.ParseError`
``FILE:LINE: what is wrong (expected ...)``.  Every name is re-exported here.
"""

from __future__ import annotations

from geninv.io.graphs.dimacs import parse_graph, read_graph
from geninv.io.graphs.graph import Graph
from geninv.io.graphs.vertex_set import parse_vertex_set, read_vertex_set

__all__ = [
    "Graph",
    "parse_graph",
    "parse_vertex_set",
    "read_graph",
    "read_vertex_set",
]
