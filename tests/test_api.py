"""The Python API (geninv.workflows): its docstring examples run (doctest), and the
functions agree with the CLI's path on a few instances of every reduction."""

from __future__ import annotations

import doctest
from fractions import Fraction
from pathlib import Path

import numpy as np

import geninv
import geninv.workflows
from geninv.io.graphs import Graph
from geninv.oracles import clique_decide


def test_docstring_examples_run() -> None:
    result = doctest.testmod(geninv.workflows, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 15, result


def test_top_level_names() -> None:
    for name in ("reduce", "new_problem", "solve", "check", "extract", "save", "load"):
        assert getattr(geninv, name) is getattr(geninv.workflows, name)
        assert (getattr(geninv, name).__doc__ or "").strip(), name


def test_clique_lifted_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    edges = tuple((i, j) for i in range(7) for j in range(i + 1, 7) if rng.random() < 0.6)
    graph = Graph(n=7, edges=edges, weights=None)
    for k in (3, 5):
        truth, _ = clique_decide(graph, k, Fraction(len(edges)))
        problem, _ = geninv.reduce("clique", graph, k=k, lift=True)
        assert problem.domain.kind == "real" and problem.source.reduction.endswith("+lift")
        again = geninv.load(geninv.save(problem, tmp_path / f"k{k}"))
        sol = geninv.solve(again, time_limit=60)
        assert sol.status.value == ("yes" if truth else "no"), sol.reason
        if truth:
            assert sol.z is not None and geninv.check(again, sol.z).meets
            clique = geninv.extract(again, sol)
            assert clique is not None and len(clique) == k
            assert all(
                (min(a, b), max(a, b)) in set(edges) for a in clique for b in clique if a != b
            )


def test_no_module_shadows_an_api_name() -> None:
    """``import geninv.X`` binds ``geninv.X`` to the module: a module named like an API
    function would replace the function (this happened with a module ``extract``)."""
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(geninv.__path__)}
    api = {"reduce", "new_problem", "solve", "check", "extract", "save", "load"}
    assert modules.isdisjoint(api)
