"""Graph reader: every shared DIMACS/PACE graph and solution file, Graph methods, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import GeninvError, ParseError, UnsupportedError, ValidationError
from geninv.io.graphs import Graph, parse_graph, parse_vertex_set, read_graph, read_vertex_set
from geninv.oracles import min_vertex_cover_size, min_weight_k_clique

# Minimum vertex cover sizes of the small famous graphs (shared/data/baselines/vc_results.csv,
# exact_min_vc column; also the size of each committed *.e-solution.vc).
FAMOUS_MIN_VC = {
    "4x4-grid": 8,
    "Chvatal": 8,
    "Clebsch": 11,
    "Dodecahedron": 12,
    "Grotzsch": 6,
    "McGee": 14,
    "Paley17": 14,
    "Petersen": 6,
}


def graph_files(shared: Path) -> list[Path]:
    files = sorted(p for p in (shared / "graphs").glob("*/*") if p.suffix != ".vc")
    assert len(files) >= 40, files
    return files


def declared_header(path: Path) -> tuple[str, int, int]:
    """The header, read independently of the parser under test."""
    for line in path.read_text().splitlines():
        if line.startswith("p"):
            _, kind, n, m = line.split()
            return kind, int(n), int(m)
    raise AssertionError(f"{path} has no header")


def edge_line_count(path: Path) -> int:
    return sum(
        1 for line in path.read_text().splitlines() if line.strip() and line.split()[0] not in "cp"
    )


def check_message(
    err: GeninvError, name: str, line: int | None, fragments: tuple[str, ...] = ()
) -> None:
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg, msg
    prefix = f"{name}:{line}: " if line is not None else f"{name}: "
    assert msg.startswith(prefix), msg
    assert "expected" in msg, msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def parse_error(text: str, line: int, *fragments: str, name: str = "g.txt") -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_graph(text, name)
    check_message(info.value, name, line, fragments)
    assert info.value.path == name and info.value.line == line
    return info.value


# --------------------------------------------------------------- shared data


def test_every_shared_graph_parses_with_declared_counts(shared_data: Path) -> None:
    for path in graph_files(shared_data):
        g = read_graph(path)
        kind, n, m = declared_header(path)
        assert g.n == n, path
        assert edge_line_count(path) == m, path
        assert g.m + g.duplicates_merged == m, path
        assert g.weights is None
        assert all(0 <= u < v < n for u, v in g.edges)
        assert list(g.edges) == sorted(set(g.edges))
        if kind in ("td", "vc"):
            assert path.suffix == ".gr"


def test_shared_graph_details(shared_data: Path) -> None:
    graphs = shared_data / "graphs"
    g = read_graph(graphs / "pace2019_vc" / "vc-exact_005.gr")
    assert (g.n, g.m, g.duplicates_merged) == (200, 798, 21)  # 819 lines, 798 distinct edges
    q = read_graph(graphs / "dimacs_col" / "queen5_5.col")  # every edge in both orientations
    assert (q.n, q.m, q.duplicates_merged) == (25, 160, 160)
    c = read_graph(graphs / "dimacs_clique" / "C125.9.clq")  # 'p col' header
    assert (c.n, c.m) == (125, 6963)
    assert any("C125.9" in comment for comment in c.comments)
    p = read_graph(graphs / "small_famous_vc" / "Petersen.edge")
    assert (p.n, p.m) == (10, 15)
    assert p.has_edge(0, 2) and p.has_edge(2, 0) and not p.has_edge(0, 1)


def test_famous_solutions_are_minimum_covers(shared_data: Path) -> None:
    folder = shared_data / "graphs" / "small_famous_vc"
    for name, optimum in FAMOUS_MIN_VC.items():
        g = read_graph(folder / f"{name}.edge")
        cover = read_vertex_set(folder / f"{name}.e-solution.vc", g.n)
        assert g.is_vertex_cover(cover), name
        assert len(cover) == optimum, name
        # the brief asks for n <= 20; the branch and bound does McGee (24) just as fast
        assert min_vertex_cover_size(g) == optimum, name
        # read as 1-based the committed files do not cover (SOURCES.md: they are 0-based)
        if 0 not in cover:
            continue
        with pytest.raises(ParseError):
            read_vertex_set(folder / f"{name}.e-solution.vc", g.n, one_based=True)


def test_pace_solutions_are_covers(shared_data: Path) -> None:
    folder = shared_data / "graphs" / "pace2019_vc"
    for path in sorted(folder.glob("*.gr")):
        g = read_graph(path)
        solution = path.with_name(path.stem + "-solution.vc")
        cover = read_vertex_set(solution, g.n)
        declared = int(solution.read_text().split()[3])
        assert len(cover) == declared
        assert g.is_vertex_cover(cover), path


def test_johnson8_2_4_clique_number(shared_data: Path) -> None:
    nx = pytest.importorskip("networkx")
    g = read_graph(shared_data / "graphs" / "dimacs_clique" / "johnson8-2-4.clq")
    clique, size = nx.max_weight_clique(g.to_networkx(), weight=None)
    assert size == 4 and g.is_clique(clique)
    found = min_weight_k_clique(g, 4)
    assert found is not None and g.is_clique(found[1]) and found[0] == 6
    assert min_weight_k_clique(g, 5) is None


def test_hamming6_4_clique_number(shared_data: Path) -> None:
    nx = pytest.importorskip("networkx")
    g = read_graph(shared_data / "graphs" / "dimacs_clique" / "hamming6-4.clq")
    _, size = nx.max_weight_clique(g.to_networkx(), weight=None)
    assert size == 4
    assert min_weight_k_clique(g, 4) is not None and min_weight_k_clique(g, 5) is None


# --------------------------------------------------------------- accepted syntax


def test_dimacs_edge_lines_comments_blank_lines() -> None:
    g = parse_graph("c hello\n\np edge 4 3\ne 1 2\nc mid\n  e 2 3  \ne 4 1\n")
    assert g.n == 4 and g.edges == ((0, 1), (0, 3), (1, 2))
    assert g.weights is None and g.comments == ("hello", "mid") and g.duplicates_merged == 0


@pytest.mark.parametrize("kind", ["edge", "col", "clq"])
def test_dimacs_header_kinds(kind: str) -> None:
    assert parse_graph(f"p {kind} 2 1\ne 1 2\n").edges == ((0, 1),)


@pytest.mark.parametrize("kind", ["td", "vc"])
def test_pace_format(kind: str) -> None:
    g = parse_graph(f"c pace\np {kind} 3 3\n1 2\n3 2\n2 1\n")
    assert g.edges == ((0, 1), (1, 2)) and g.duplicates_merged == 1


def test_weights_exact() -> None:
    g = parse_graph("p edge 3 3\ne 1 2 3\ne 2 3 2.5\ne 1 3 1/3\n")
    assert g.weights == (Fraction(3), Fraction(1, 3), Fraction(5, 2))
    assert g.edge_weight(2, 1) == Fraction(5, 2)
    assert g.clique_weight([0, 1, 2]) == Fraction(3) + Fraction(5, 2) + Fraction(1, 3)
    g2 = parse_graph("p edge 2 2\ne 1 2 0.5\ne 2 1 1/2\n")  # same weight, written differently
    assert g2.weights == (Fraction(1, 2),) and g2.duplicates_merged == 1


def test_crlf_and_empty_graph() -> None:
    g = parse_graph("c x\r\np edge 3 1\r\ne 1 3\r\n")
    assert g.edges == ((0, 2),) and g.comments == ("x",)
    assert parse_graph("p edge 0 0\n") == Graph(0, ())


def test_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.col"
    path.write_bytes(b"\xef\xbb\xbfp edge 2 1\ne 1 2\n")
    assert read_graph(path).edges == ((0, 1),)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.data())
def test_round_trip(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 8))
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    edges = data.draw(st.lists(st.sampled_from(pairs), unique=True) if pairs else st.just([]))
    weighted = data.draw(st.booleans())
    weights = (
        [
            data.draw(st.fractions(min_value=Fraction(1, 50), max_value=100, max_denominator=50))
            for _ in edges
        ]
        if weighted
        else None
    )
    g = Graph.from_edges(n, edges, weights, comments=["round trip"])
    back = parse_graph(g.to_dimacs())
    assert back == g


# --------------------------------------------------------------- Graph methods


def test_graph_methods() -> None:
    g = Graph.from_edges(4, [(1, 0), (2, 1), (0, 2), (2, 3), (0, 1)])
    assert g.edges == ((0, 1), (0, 2), (1, 2), (2, 3)) and g.duplicates_merged == 1
    assert g.adjacency() == [{1, 2}, {0, 2}, {0, 1, 3}, {2}]
    assert g.is_clique([0, 1, 2]) and g.is_clique([]) and g.is_clique([3])
    assert not g.is_clique([0, 1, 3])
    assert g.is_vertex_cover([0, 2]) and not g.is_vertex_cover([0, 3])
    assert g.is_vertex_cover([2, 0, 2])  # a set: repeats are ignored
    assert g.clique_weight([0, 1, 2]) == 3 and g.edge_weight(3, 2) == 1
    assert not g.has_edge(1, 1)
    with pytest.raises(ValidationError, match="not a clique"):
        g.clique_weight([0, 3])
    with pytest.raises(ValidationError, match="not an edge"):
        g.edge_weight(0, 3)
    with pytest.raises(ValidationError, match="0-based"):
        g.has_edge(0, 4)
    with pytest.raises(ValidationError):
        g.is_vertex_cover([-1])


def test_to_networkx() -> None:
    pytest.importorskip("networkx")
    g = Graph.from_edges(3, [(0, 1), (1, 2)], [Fraction(1, 2), 3])
    nxg = g.to_networkx()
    assert sorted(nxg.nodes) == [0, 1, 2]
    assert nxg[0][1]["weight"] == Fraction(1, 2) and nxg[1][2]["weight"] == 3
    assert "weight" not in Graph.from_edges(2, [(0, 1)]).to_networkx()[0][1]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n": -1, "edges": ()}, "non-negative"),
        ({"n": 3, "edges": ((1, 0),)}, "u < v"),
        ({"n": 3, "edges": ((0, 3),)}, "u < v"),
        ({"n": 3, "edges": ((1, 2), (0, 1))}, "sorted"),
        ({"n": 3, "edges": ((0, 1), (0, 1))}, "sorted"),
        ({"n": 3, "edges": ((0, 1),), "weights": (1, 2)}, "weights for"),
        ({"n": 3, "edges": ((0, 1),), "weights": (0,)}, "> 0"),
        ({"n": 3, "edges": (), "comments": ("a\nb",)}, "line breaks"),
    ],
)
def test_graph_constructor_validates(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        Graph(**kwargs)  # type: ignore[arg-type]


def test_from_edges_validates() -> None:
    with pytest.raises(ValidationError, match="self-loop"):
        Graph.from_edges(3, [(1, 1)])
    with pytest.raises(ValidationError, match="repeated"):
        Graph.from_edges(3, [(0, 1), (1, 0)], [1, 2])


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param("e 1 2\n", 1, ("before the header",), id="edge-before-header"),
        pytest.param("1 2\np td 2 1\n", 1, ("before the header",), id="pace-before-header"),
        pytest.param("c only\n", 1, ("no header",), id="no-header"),
        pytest.param("", 1, ("no header",), id="empty"),
        pytest.param("p edge 3\n", 1, ("1 number",), id="short-header"),
        pytest.param("p edge 3 2 1\n", 1, ("3 numbers",), id="long-header"),
        pytest.param("p cnf 3 2\n", 1, ("'cnf'",), id="cnf-header"),
        pytest.param("p edge a 2\n", 1, ("vertices", "'a'"), id="bad-n"),
        pytest.param("p edge 3 -2\n", 1, ("edges", "'-2'"), id="negative-m"),
        pytest.param("pedge 3 2\n", 1, ("malformed header",), id="glued"),
        pytest.param("p edge 2 1\ne 1 2\np edge 2 1\n", 3, ("second header", "line 1"), id="dup"),
    ],
)
def test_bad_header(text: str, line: int, fragments: tuple[str, ...]) -> None:
    parse_error(text, line, *fragments)


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param("p edge 3 1\ne 1 4\n", 2, ("vertex 4", "1 <= vertex <= 3"), id="too-big"),
        pytest.param("p edge 3 1\ne 0 1\n", 2, ("vertex 0",), id="zero"),
        pytest.param("p td 3 1\n1 9\n", 2, ("vertex 9",), id="pace-too-big"),
        pytest.param("p edge 3 1\ne 1 x\n", 2, ("'x'",), id="not-integer"),
        pytest.param("p edge 3 1\ne 1 +2\n", 2, ("'+2'",), id="plus-sign"),
        pytest.param("p edge 3 1\ne 1 -2\n", 2, ("'-2'",), id="negative"),
        pytest.param("p edge 3 1\ne 1.0 2\n", 2, ("'1.0'",), id="decimal"),
        pytest.param("p edge 1 0\ne 1 1\n", 2, ("self-loop on vertex 1",), id="self-loop-1"),
        pytest.param("p td 3 1\n2 2\n", 2, ("self-loop on vertex 2",), id="self-loop-pace"),
    ],
)
def test_bad_vertices(text: str, line: int, fragments: tuple[str, ...]) -> None:
    parse_error(text, line, *fragments)


@pytest.mark.parametrize(
    ("weight", "fragments"),
    [
        ("0", ("not positive",)),
        ("-1", ("not positive",)),
        ("-1/2", ("not positive",)),
        ("abc", ("'abc'",)),
        ("nan", ("'nan'",)),
        ("inf", ("'inf'",)),
        ("1/0", ("zero denominator",)),
        ("1e99999", ("exponent",)),
        ("0x10", ("'0x10'",)),
    ],
)
def test_bad_weight(weight: str, fragments: tuple[str, ...]) -> None:
    parse_error(f"p edge 3 2\ne 1 2 1\ne 2 3 {weight}\n", 3, "weight", *fragments)


def test_weight_mixing_and_conflicts() -> None:
    parse_error("p edge 3 2\ne 1 2\ne 2 3 5\n", 3, "has a weight", "line 2")
    parse_error("p edge 3 2\ne 1 2 5\ne 2 3\n", 3, "lacks a weight", "line 2")
    parse_error("p edge 3 2\ne 1 2 5\ne 2 1 4\n", 3, "repeats the edge on line 2", "weight 5")


def test_wrong_line_kinds() -> None:
    parse_error("p td 3 1\ne 1 2\n", 2, "DIMACS edge line", "'p td' on line 1", "without 'e'")
    parse_error("p td 3 1\n1 2 3\n", 2, "3 fields")
    parse_error("p edge 3 1\n1 2\n", 2, "'1' does not start an edge line")
    parse_error("p edge 3 1\ne 1\n", 2, "1 field after 'e'")
    parse_error("p edge 3 1\ne 1 2 3 4\n", 2, "4 fields after 'e'")
    parse_error("p edge 3 1\ne 1 2 c note\n", 2, "4 fields")


def test_vertex_weights_unsupported() -> None:
    with pytest.raises(UnsupportedError) as info:
        parse_graph("p edge 3 1\nn 1 5\ne 1 2\n", "w.clq")
    check_message(info.value, "w.clq", 2, ("vertex weights are not supported",))


def test_edge_count_mismatch() -> None:
    parse_error("p edge 3 1\ne 1 2\ne 2 3\n", 3, "found 2 edge lines", "declares 1", "line 3")
    parse_error("p edge 3 3\ne 1 2\ne 2 3\n\n", 4, "found 2 edge lines", "declares 3")
    # duplicates count as lines: two lines, one edge, header 1 -> error; header 2 -> fine
    parse_error("p td 3 1\n1 2\n2 1\n", 3, "found 2 edge lines", "repeated edges included")
    assert parse_graph("p td 3 2\n1 2\n2 1\n").m == 1


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.gr"
    with pytest.raises(ParseError) as info:
        read_graph(path)
    check_message(info.value, str(path), None, ("cannot read file",))
    with pytest.raises(ParseError) as info:
        read_graph(tmp_path)
    check_message(info.value, str(tmp_path), None)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.col"
    path.write_bytes(b"p edge 3 1\n\xff\xfe 1 2\n")
    with pytest.raises(ParseError) as info:
        read_graph(path)
    check_message(info.value, str(path), 2, ("UTF-8",))


def test_control_characters_are_escaped() -> None:
    err = parse_error("p edge 3 1\ne 1 \x00\n", 2, "\\x00")
    assert "\x00" not in str(err)


# --------------------------------------------------------------- vertex sets


def vc_error(text: str, n: int, line: int | None, *fragments: str, one_based: bool = False) -> None:
    with pytest.raises(ParseError) as info:
        parse_vertex_set(text, n, "s.vc", one_based=one_based)
    check_message(info.value, "s.vc", line, fragments)


def test_vertex_set_parse() -> None:
    assert parse_vertex_set("s vc 5 3\n4\n0\n2\n", 5) == [0, 2, 4]
    assert parse_vertex_set("c x\ns vc 5 2\n5\n1\n", 5, one_based=True) == [0, 4]
    assert parse_vertex_set("s vc 5 0\n", 5) == []


def test_vertex_set_bad() -> None:
    vc_error("0\n", 3, 1, "before the header")
    vc_error("", 3, 1, "no header")
    vc_error("s vc 3\n", 3, 1, "malformed header")
    vc_error("s td 3 1\n0\n", 3, 1, "malformed header")
    vc_error("s vc 3 x\n", 3, 1, "'x'")
    vc_error("s vc 4 1\n0\n", 3, 1, "declares 4 vertices", "graph has 3")
    vc_error("s vc 3 1\n3\n", 3, 2, "vertex 3 is out of range", "0..2")
    vc_error("s vc 3 1\n0\n", 3, 2, "vertex 0 is out of range", "1..3", one_based=True)
    vc_error("s vc 3 2\n1\n1\n", 3, 3, "repeats line 2")
    vc_error("s vc 3 2\n1 2\n", 3, 2, "not a vertex number")
    vc_error("s vc 3 2\n1\n", 3, 2, "found 1 vertex", "declares 2")
    vc_error("s vc 3 1\ns vc 3 1\n", 3, 2, "second 's' line")


def test_vertex_set_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.vc"
    with pytest.raises(ParseError) as info:
        read_vertex_set(path, 3)
    check_message(info.value, str(path), None)
