"""Independent oracles (CVP over {0,1}^n, k-clique, vertex cover) cross-checked on random inputs.

Each oracle is compared with a second, naive implementation written here (plain
itertools enumeration in Fractions) and, for the graph problems, with networkx.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations, product
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import UnsupportedError, ValidationError
from geninv.io.graphs import Graph
from geninv.oracles import (
    _cvp01_extreme,
    _scaled_cvp01,
    clique_decide,
    cvp01_decide,
    cvp01_min_distance_pow,
    min_vertex_cover_size,
    min_weight_k_clique,
    vertex_cover_decide,
)


def networkx() -> Any:
    """networkx (a dev dependency): graph tests skip without it, CVP tests do not."""
    return pytest.importorskip("networkx")


Vec = tuple[Fraction, ...]


# --------------------------------------------------------------- CVP over {0,1}^n


def lattice_point(basis: list[Vec], y: tuple[int, ...] | list[int]) -> list[Fraction]:
    d = len(basis[0])
    return [sum((basis[i][j] * y[i] for i in range(len(basis))), Fraction(0)) for j in range(d)]


def naive_pow(diff: list[Fraction], p: float) -> Fraction | float:
    if math.isinf(p):
        return max(abs(v) for v in diff)
    if float(p).is_integer():
        return sum((abs(v) ** int(p) for v in diff), Fraction(0))
    return math.fsum(float(abs(v)) ** p for v in diff)


def naive_cvp01(basis: list[Vec], target: Vec, p: float) -> Fraction | float:
    values = []
    for y in product((0, 1), repeat=len(basis)):
        point = lattice_point(basis, y)
        values.append(naive_pow([a - b for a, b in zip(point, target, strict=True)], p))
    return min(values)


def random_lattice(rng: np.random.Generator) -> tuple[list[Vec], Vec]:
    n = int(rng.integers(1, 8))
    d = int(rng.integers(1, 6))

    def entry() -> Fraction:
        return Fraction(int(rng.integers(-4, 5)), int(rng.choice([1, 1, 2, 3])))

    basis = [tuple(entry() for _ in range(d)) for _ in range(n)]
    return basis, tuple(entry() for _ in range(d))


P_VALUES = (1, 2, 3, math.inf, 1.5, 2.5)


def test_cvp01_random_against_naive_enumeration() -> None:
    rng = np.random.default_rng(20240611)
    yes = 0
    for i in range(200):
        basis, target = random_lattice(rng)
        p = P_VALUES[i % len(P_VALUES)]
        got = cvp01_min_distance_pow(basis, target, p)
        want = naive_cvp01(basis, target, p)
        exact = math.isinf(p) or float(p).is_integer()
        if exact:
            assert isinstance(got, Fraction) and got == want, (basis, target, p)
        else:
            assert isinstance(got, float) and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)
        # numpy chunks and the pure-Python Gray-code walk agree
        ints, t, scale = _scaled_cvp01(basis, target)
        k = None if math.isinf(p) else (int(p) if exact else 0)
        fast = _cvp01_extreme(ints, t, k, scale, float(p), use_numpy=True)
        slow = _cvp01_extreme(ints, t, k, scale, float(p), use_numpy=False)
        assert math.isclose(fast[0], slow[0], rel_tol=1e-12) if k == 0 else fast[0] == slow[0]
        # the decision at the optimum: attained with <=, not with <
        if exact:
            bound = {"radius": got} if math.isinf(p) else {"radius_pow": got}
            ok, y = cvp01_decide(basis, target, p, **bound)  # type: ignore[arg-type]
            assert ok and y is not None and len(y) == len(basis)
            diff = [a - b for a, b in zip(lattice_point(basis, y), target, strict=True)]
            assert naive_pow(diff, p) == got
            assert cvp01_decide(basis, target, p, relation="<", **bound) == (False, None)  # type: ignore[arg-type]
        # a random radius, compared with the naive optimum
        r = Fraction(int(rng.integers(0, 25)), 4)
        ok, y = cvp01_decide(basis, target, p, radius=r, relation="<=" if i % 2 else "<")
        threshold: Fraction | float = (
            r if math.isinf(p) else (r ** int(p) if exact else float(r) ** p)
        )
        if exact:
            expected = want <= threshold if i % 2 else want < threshold
        else:
            if math.isclose(float(want), float(threshold), rel_tol=1e-9):
                continue  # too close for the float reference; exact boundary tested below
            expected = want < threshold
        assert ok == expected, (basis, target, p, r)
        assert (y is not None) == ok
        yes += ok
    assert 30 <= yes <= 170


def test_cvp01_noninteger_p_boundary_is_decided_in_decimal() -> None:
    basis = [(Fraction(1),)]
    target = (Fraction(3),)  # |0 - 3| = 3, |1 - 3| = 2: min 2^p
    assert cvp01_decide(basis, target, 1.5, radius=2) == (True, [1])
    assert cvp01_decide(basis, target, 1.5, radius=2, relation="<") == (False, None)
    assert cvp01_decide(basis, target, 1.5, radius=Fraction(2000001, 1000000), relation="<")[0]
    assert cvp01_min_distance_pow(basis, target, 1.5) == pytest.approx(2**1.5)


def test_cvp01_huge_entries_use_exact_python_path() -> None:
    big = 10**40
    basis = [(Fraction(big), Fraction(1)), (Fraction(-big), Fraction(big))]
    target = (Fraction(big, 3), Fraction(big + 1))
    for p in (1, 2, math.inf):
        assert cvp01_min_distance_pow(basis, target, p) == naive_cvp01(basis, target, p)
    assert math.isclose(
        cvp01_min_distance_pow(basis, target, 1.5), naive_cvp01(basis, target, 1.5), rel_tol=1e-9
    )
    tiny = Fraction(1, 10**30)  # common denominator beyond int64: exact Python path as well
    basis = [(tiny, Fraction(1)), (Fraction(2), -tiny)]
    target = (Fraction(1), 3 * tiny)
    for p in (1, 2, math.inf):
        assert cvp01_min_distance_pow(basis, target, p) == naive_cvp01(basis, target, p)
    assert math.isclose(
        cvp01_min_distance_pow(basis, target, 2.5), naive_cvp01(basis, target, 2.5), rel_tol=1e-9
    )


def test_cvp01_known_values() -> None:
    basis = [(Fraction(1), Fraction(0)), (Fraction(0), Fraction(1))]
    target = (Fraction(1, 2), Fraction(1))
    assert cvp01_min_distance_pow(basis, target, 2) == Fraction(1, 4)
    assert cvp01_min_distance_pow(basis, target, math.inf) == Fraction(1, 2)
    assert cvp01_min_distance_pow(basis, target, 1) == Fraction(1, 2)
    ok, y = cvp01_decide(basis, target, 2, radius=Fraction(1, 2))
    assert ok and y in ([0, 1], [1, 1])
    assert cvp01_decide(basis, target, 2, radius=Fraction(1, 2), relation="<") == (False, None)
    assert cvp01_decide(basis, target, 3, radius_pow=Fraction(1, 8))[0]


def test_cvp01_validation() -> None:
    basis = [(Fraction(1),)]
    target = (Fraction(0),)
    with pytest.raises(ValidationError, match="relation"):
        cvp01_decide(basis, target, 2, radius=1, relation="==")
    with pytest.raises(ValidationError, match="exactly one"):
        cvp01_decide(basis, target, 2)
    with pytest.raises(ValidationError, match="exactly one"):
        cvp01_decide(basis, target, 2, radius=1, radius_pow=1)
    with pytest.raises(ValidationError, match="integer p"):
        cvp01_decide(basis, target, math.inf, radius_pow=1)
    with pytest.raises(ValidationError, match="integer p"):
        cvp01_decide(basis, target, 1.5, radius_pow=1)
    with pytest.raises(ValidationError, match=">= 0"):
        cvp01_decide(basis, target, 2, radius=-1)
    with pytest.raises(ValidationError, match=">= 1"):
        cvp01_min_distance_pow(basis, target, 0.5)
    with pytest.raises(ValidationError, match=">= 1"):
        cvp01_min_distance_pow(basis, target, float("nan"))
    with pytest.raises(ValidationError, match="dimension"):
        cvp01_min_distance_pow([(1, 2)], target, 2)
    with pytest.raises(UnsupportedError, match="n <= 30"):
        cvp01_min_distance_pow([(1,)] * 31, (0,), 2)


# --------------------------------------------------------------- graphs


def random_graph(rng: np.random.Generator, n: int, density: float, weighted: str) -> Graph:
    edges = [(u, v) for u in range(n) for v in range(u + 1, n) if rng.random() < density]
    weights: list[Fraction] | None = None
    if weighted == "int":
        weights = [Fraction(int(rng.integers(1, 6))) for _ in edges]
    elif weighted == "rational":
        weights = [Fraction(int(rng.integers(1, 7)), int(rng.integers(1, 4))) for _ in edges]
    return Graph.from_edges(n, edges, weights)


def nx_min_weight_k_clique(g: Graph, k: int) -> Fraction | None:
    """Minimum clique weight by networkx's clique enumeration; weights from the nx graph."""
    if k == 0:
        return Fraction(0)
    nx = networkx()
    nxg = g.to_networkx()
    best: Fraction | None = None
    for clique in nx.enumerate_all_cliques(nxg):
        if len(clique) != k:
            continue
        w = sum(
            (Fraction(nxg[u][v].get("weight", 1)) for u, v in combinations(clique, 2)), Fraction(0)
        )
        best = w if best is None or w < best else best
    return best


def brute_min_vertex_cover(g: Graph) -> int:
    for size in range(g.n + 1):
        for cover in combinations(range(g.n), size):
            chosen = set(cover)
            if all(u in chosen or v in chosen for u, v in g.edges):
                return size
    raise AssertionError("unreachable: all vertices form a cover")


def nx_min_vertex_cover(g: Graph) -> int:
    """n minus the independence number (a maximum clique of the complement, exact in networkx)."""
    if g.n == 0:
        return 0
    nx = networkx()
    _, alpha = nx.max_weight_clique(nx.complement(g.to_networkx()), weight=None)
    return g.n - int(alpha)


def test_k_clique_random_against_networkx() -> None:
    rng = np.random.default_rng(7)
    found = 0
    for i in range(200):
        n = int(rng.integers(0, 10))
        weighted = ("none", "int", "rational")[i % 3]
        g = random_graph(rng, n, float(rng.choice([0.3, 0.6, 0.9])), weighted)
        for k in range(n + 2):
            got = min_weight_k_clique(g, k)
            want = nx_min_weight_k_clique(g, k) if k <= n else None
            if want is None:
                assert got is None, (g, k)
                assert clique_decide(g, k, 10**9) == (False, None)
                continue
            assert got is not None and got[0] == want, (g, k)
            weight, clique = got
            assert len(clique) == k and clique == sorted(clique) and g.is_clique(clique)
            assert g.clique_weight(clique) == weight
            if g.weights is None:
                assert weight == k * (k - 1) // 2
            assert clique_decide(g, k, weight)[0]
            assert clique_decide(g, k, weight, relation="<") == (False, None)
            ok, witness = clique_decide(g, k, weight + Fraction(1, 2), relation="<")
            assert ok and witness is not None and g.clique_weight(witness) < weight + Fraction(1, 2)
            found += 1
    assert found > 400


def test_k_clique_trivial_cases() -> None:
    empty = Graph(0, ())
    assert min_weight_k_clique(empty, 0) == (0, [])
    assert min_weight_k_clique(empty, 1) is None
    g = Graph.from_edges(3, [(0, 1)], [Fraction(5, 2)])
    assert min_weight_k_clique(g, 1) == (0, [0])
    assert min_weight_k_clique(g, 2) == (Fraction(5, 2), [0, 1])
    assert min_weight_k_clique(g, 3) is None
    k5 = Graph.from_edges(5, combinations(range(5), 2), [1, 9, 9, 9, 1, 9, 9, 1, 9, 9])
    # weights: (0,1)=1 (0,2)=9 (0,3)=9 (0,4)=9 (1,2)=1 (1,3)=9 (1,4)=9 (2,3)=1 (2,4)=9 (3,4)=9
    assert min_weight_k_clique(k5, 3) == (11, [0, 1, 2])
    with pytest.raises(ValidationError):
        min_weight_k_clique(g, -1)
    with pytest.raises(ValidationError):
        clique_decide(g, 2, 3, relation=">=")


def test_vertex_cover_random_against_brute_force_and_networkx() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(0, 11))
        g = random_graph(rng, n, float(rng.choice([0.15, 0.3, 0.5, 0.8])), "none")
        opt = min_vertex_cover_size(g)
        assert opt == brute_min_vertex_cover(g) == nx_min_vertex_cover(g), g
        ok, cover = vertex_cover_decide(g, opt)
        assert ok and cover is not None and len(cover) == opt and g.is_vertex_cover(cover)
        assert vertex_cover_decide(g, opt + 1)[0]
        assert vertex_cover_decide(g, opt - 1) == (False, None)


def test_vertex_cover_structured_graphs() -> None:
    for n in range(3, 15):
        cycle = Graph.from_edges(n, [(i, (i + 1) % n) for i in range(n)])
        assert min_vertex_cover_size(cycle) == (n + 1) // 2
        path = Graph.from_edges(n, [(i, i + 1) for i in range(n - 1)])
        assert min_vertex_cover_size(path) == n // 2
        assert min_vertex_cover_size(Graph.from_edges(n, combinations(range(n), 2))) == n - 1
    nx = networkx()
    two_cycles = Graph.from_edges(
        8, [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 6), (6, 7), (7, 3)]
    )
    assert min_vertex_cover_size(two_cycles) == 2 + 3
    petersen = Graph.from_edges(10, nx.petersen_graph().edges)
    assert min_vertex_cover_size(petersen) == 6
    for seed in range(6):  # cubic graphs exercise the branching and the cycle rule together
        nxg = nx.random_regular_graph(3, 16 + 2 * seed, seed=seed)
        g = Graph.from_edges(nxg.number_of_nodes(), nxg.edges)
        opt = min_vertex_cover_size(g)
        assert opt == nx_min_vertex_cover(g)
        assert g.is_vertex_cover(vertex_cover_decide(g, opt)[1] or [])
    assert min_vertex_cover_size(Graph(0, ())) == 0
    with pytest.raises(ValidationError):
        vertex_cover_decide(petersen, True)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    st.integers(0, 9).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, max(n - 1, 0)))),
        )
    )
)
def test_vertex_cover_hypothesis(case: tuple[int, set[tuple[int, int]]]) -> None:
    n, pairs = case
    g = Graph.from_edges(n, [(u, v) for u, v in pairs if u != v])
    assert min_vertex_cover_size(g) == brute_min_vertex_cover(g)
