"""DIMACS CNF reader/writer: SATLIB files, round trips, and every kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import GeninvError, ParseError, ValidationError
from geninv.io.dimacs import CNF, format_assignment, parse_cnf, read_cnf, write_cnf

CNF_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cnf"
SKIP_REASON = "../shared/data not present (CI and the dev machines have it; a user's clone may not)"


def cnf_files(pattern: str = "*/*.cnf") -> list[Path]:
    if not CNF_DIR.is_dir():
        pytest.skip(SKIP_REASON)
    files = sorted(CNF_DIR.glob(pattern))
    assert files, f"no files match {pattern} under {CNF_DIR}"
    return files


def declared_header(path: Path) -> tuple[int, int]:
    """The header counts, read independently of the parser under test."""
    for line in path.read_text().splitlines():
        if line.startswith("p"):
            _, _, v, c = line.split()
            return int(v), int(c)
    raise AssertionError(f"{path} has no header")


def solve(cnf: CNF) -> list[int] | None:
    """A model (PySAT literal list) or None when unsatisfiable."""
    solvers = pytest.importorskip("pysat.solvers")
    try:
        solver = solvers.Solver(name="cadical153", bootstrap_with=cnf.clauses)
    except Exception:  # an older python-sat without CaDiCaL 1.5.3
        solver = solvers.Solver(name="minisat22", bootstrap_with=cnf.clauses)
    with solver:
        if not solver.solve():
            return None
        model = solver.get_model()
        assert model is not None
        return [int(lit) for lit in model]


def to_values(model: list[int], n_vars: int) -> list[bool]:
    values = [False] * n_vars  # variables the solver never saw are free; False will do
    for lit in model:
        if abs(lit) <= n_vars:
            values[abs(lit) - 1] = lit > 0
    return values


# --------------------------------------------------------------- shared data


def test_all_shared_files_parse_with_declared_counts() -> None:
    for path in cnf_files():
        cnf = read_cnf(path)
        assert (cnf.n_vars, cnf.n_clauses) == declared_header(path), path
        assert all(cnf.clauses), f"{path}: unexpected empty clause (the % trailer leaked in?)"
        family = re.fullmatch(r"u?uf(\d+)-(\d+)", path.parent.name)
        if family:  # the SATLIB folder name states the size: uf20-91 = 20 vars, 91 clauses
            assert (cnf.n_vars, cnf.n_clauses) == (int(family[1]), int(family[2])), path
            assert all(len(c) == 3 for c in cnf.clauses), path


def test_satlib_trailer_files_are_present_and_parse() -> None:
    with_trailer = [p for p in cnf_files() if re.search(r"^%", p.read_text(), re.M)]
    if not with_trailer:
        pytest.skip("no file with the SATLIB % trailer in ../shared/data/cnf")
    for path in with_trailer:
        cnf = read_cnf(path)
        assert cnf.n_clauses == declared_header(path)[1]


def test_uf20_satisfiable_and_model_checks() -> None:
    for path in cnf_files("uf20-91/*.cnf"):
        cnf = read_cnf(path)
        model = solve(cnf)
        assert model is not None, f"{path} should be satisfiable"
        values = to_values(model, cnf.n_vars)
        assert cnf.evaluate(values)
        assert cnf.falsified_clauses(values) == []
        flipped = [not v for v in values]
        assert cnf.evaluate(flipped) == (cnf.falsified_clauses(flipped) == [])
        line = format_assignment(values)
        assert line.startswith("v ") and line.endswith(" 0")
        assert [int(t) for t in line.split()[1:-1]] == [
            v if b else -v for v, b in enumerate(values, 1)
        ]


def test_uuf50_unsatisfiable() -> None:
    for path in cnf_files("uuf50-218/*.cnf"):
        assert solve(read_cnf(path)) is None, f"{path} should be unsatisfiable"


def test_large_file_parses_and_round_trips(tmp_path: Path) -> None:
    for path in cnf_files("uf250-1065/*.cnf")[:1]:
        cnf = read_cnf(path)
        out = tmp_path / "copy.cnf"
        write_cnf(cnf, out)
        assert read_cnf(out) == cnf


# --------------------------------------------------------------- round trip

literals = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.lists(
                st.integers(min_value=1, max_value=n).flatmap(lambda v: st.sampled_from([v, -v])),
                max_size=6,
            ).map(tuple),
            max_size=15,
        ).map(tuple),
    )
)
comment_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"),
    max_size=20,
)


@st.composite
def cnfs(draw: st.DrawFn) -> CNF:
    if draw(st.booleans()):
        n = 0
        clauses: tuple[tuple[int, ...], ...] = draw(st.lists(st.just(()), max_size=3).map(tuple))
    else:
        n, clauses = draw(literals)
    return CNF(n, clauses, tuple(draw(st.lists(comment_text, max_size=3))))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(cnfs())
def test_round_trip_text(cnf: CNF) -> None:
    assert parse_cnf(cnf.to_dimacs()) == cnf


@settings(derandomize=True, max_examples=50, deadline=None)
@given(cnf=cnfs())
def test_round_trip_file(tmp_path_factory: pytest.TempPathFactory, cnf: CNF) -> None:
    path = tmp_path_factory.mktemp("rt") / "f.cnf"
    write_cnf(cnf, path)
    assert read_cnf(path) == cnf


@settings(derandomize=True, max_examples=100, deadline=None)
@given(data=st.data())
def test_evaluate_agrees_with_falsified_clauses(data: st.DataObject) -> None:
    cnf = data.draw(cnfs())
    values = data.draw(st.lists(st.booleans(), min_size=cnf.n_vars, max_size=cnf.n_vars))
    falsified = cnf.falsified_clauses(values)
    expected = [
        j
        for j, clause in enumerate(cnf.clauses)
        if not any(values[abs(lit) - 1] == (lit > 0) for lit in clause)
    ]
    assert falsified == expected
    assert cnf.evaluate(values) == (not expected)
    as_map = {v: b for v, b in enumerate(values, 1)}
    assert cnf.falsified_clauses(as_map) == falsified


# --------------------------------------------------------------- accepted forms


def test_clauses_spanning_lines_and_several_per_line() -> None:
    cnf = parse_cnf("p cnf 4 3\n1 -2\n3\n0 -4 0 2\n\n  4 0\n")
    assert cnf == CNF(4, ((1, -2, 3), (-4,), (2, 4)))


def test_comments_anywhere_and_blank_lines() -> None:
    text = (
        "c first\n\np cnf 2 2\nc between\n1\nc inside a clause\n2 0\n   c indented\n-1 0\nc end\n"
    )
    cnf = parse_cnf(text)
    assert cnf.clauses == ((1, 2), (-1,))
    assert cnf.comments == ("first", "between", "inside a clause", "indented", "end")


def test_satlib_trailer_ends_input() -> None:
    cnf = parse_cnf("p cnf 3 2\n1 -2 3 0\n-1 2 0\n%\n0\n\n")
    assert cnf.clauses == ((1, -2, 3), (-1, 2))
    # anything after % is ignored, garbage included
    assert parse_cnf("p cnf 1 1\n1 0\n% trailer\nnot dimacs at all 99\n").clauses == ((1,),)


def test_crlf_line_ends() -> None:
    cnf = parse_cnf("c hi\r\np cnf 2 1\r\n1 -2 0\r\n%\r\n0\r\n")
    assert cnf == CNF(2, ((1, -2),), ("hi",))


def test_empty_clause_is_kept_and_unsatisfiable() -> None:
    cnf = parse_cnf("p cnf 2 3\n1 0 0\n-2 0\n")
    assert cnf.clauses == ((1,), (), (-2,))
    assert not cnf.evaluate([True, False])
    assert cnf.falsified_clauses([True, False]) == [1]
    only_empty = parse_cnf("p cnf 0 1\n0\n")
    assert only_empty.clauses == ((),)
    assert not only_empty.evaluate([])


def test_empty_formulas() -> None:
    empty = parse_cnf("p cnf 0 0\n")
    assert empty == CNF(0, ())
    assert empty.evaluate([]) and empty.falsified_clauses([]) == []
    assert empty.to_dimacs() == "p cnf 0 0\n"
    three = parse_cnf("c no clauses\np cnf 3 0\n")
    assert three.n_vars == 3 and three.n_clauses == 0
    assert three.evaluate([False, True, False])


def test_repeated_literals_and_tautologies_kept() -> None:
    cnf = parse_cnf("p cnf 2 2\n1 1 -2 0\n2 -2 0\n")
    assert cnf.clauses == ((1, 1, -2), (2, -2))


def test_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.cnf"
    path.write_bytes(b"\xef\xbb\xbfp cnf 1 1\n1 0\n")
    assert read_cnf(path).clauses == ((1,),)


def test_to_dimacs_layout() -> None:
    cnf = CNF(3, ((1, -2), (), (3,)), ("made by hand", ""))
    assert cnf.to_dimacs() == "c made by hand\nc\np cnf 3 3\n1 -2 0\n0\n3 0\n"


def test_format_assignment() -> None:
    assert format_assignment([True, False, True]) == "v 1 -2 3 0"
    assert format_assignment({2: True, 1: False}) == "v -1 2 0"
    assert format_assignment([]) == "v 0"


def test_parse_of_many_clauses_is_linear() -> None:
    n, m = 300, 40_000
    body = "".join(f"{(j % n) + 1} -{((j * 7) % n) + 1} {((j * 13) % n) + 1} 0\n" for j in range(m))
    cnf = parse_cnf(f"p cnf {n} {m}\n{body}")
    assert cnf.n_clauses == m


# --------------------------------------------------------------- bad input


def parse_error(text: str, line: int, *fragments: str, name: str = "bad.cnf") -> ParseError:
    """Parse ``text``; check type, file, line and one-line message; return the error."""
    with pytest.raises(ParseError) as info:
        parse_cnf(text, name)
    err = info.value
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.startswith(f"{name}:{line}: "), msg
    assert err.path == name and err.line == line
    assert "expected" in msg, msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    return err


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param("1 2 0\n", 1, ("before the header",), id="missing-before-clause"),
        pytest.param("c only comments\n\n", 2, ("no header",), id="missing-no-clause"),
        pytest.param("", 1, ("no header",), id="empty-text"),
        pytest.param("c x\np cnf 3\n1 0\n", 2, ("1 number", "p cnf <variables>"), id="p-cnf-3"),
        pytest.param("p cnf 3 2 1\n", 1, ("3 numbers",), id="extra-field"),
        pytest.param("p\n", 1, ("header",), id="bare-p"),
        pytest.param("p dnf 3 2\n", 1, ("'dnf'",), id="dnf"),
        pytest.param("p cnf -1 2\n", 1, ("variables", "'-1'"), id="negative-vars"),
        pytest.param("p cnf 3 -2\n", 1, ("clauses", "'-2'"), id="negative-clauses"),
        pytest.param("p cnf a b\n", 1, ("variables", "'a'"), id="non-integer"),
        pytest.param("p cnf 3 +2\n", 1, ("'+2'",), id="plus-sign"),
        pytest.param("p cnf 3 1\n1 0\np cnf 3 1\n", 3, ("second header", "line 1"), id="dup"),
        pytest.param("p cnf 3 1\np cnf 3 1\n1 0\n", 2, ("second header",), id="dup-adjacent"),
    ],
)
def test_bad_header(text: str, line: int, fragments: tuple[str, ...]) -> None:
    parse_error(text, line, *fragments)


def test_out_of_range_literal() -> None:
    parse_error("p cnf 3 2\n1 2 0\n-3\n  -4 0\n", 4, "-4", "3 variables")
    parse_error("p cnf 0 1\n1 0\n", 2, "literal 1", "0 variables")


def test_missing_terminator() -> None:
    parse_error("p cnf 3 2\n1 0\n2 3\n", 3, "clause starting on line 3 is not terminated by 0")
    parse_error("p cnf 3 2\n1 0\n2\n3\n\n", 5, "clause starting on line 3 is not terminated by 0")
    # the trailer does not close an open clause
    parse_error("p cnf 3 1\n1 2\n%\n0\n", 3, "clause starting on line 2")


@pytest.mark.parametrize("token", ["x1", "1.5", "--2", "+3", "1_0", "0x1", "٣", "1e3", "-"])
def test_non_numeric_token(token: str) -> None:
    parse_error(f"p cnf 3 2\n1 0\n2 {token} 0\n", 3, repr(token), "integer")


def test_trailing_comment_on_clause_line_rejected() -> None:
    parse_error("p cnf 3 1\n1 2 0 c note\n", 2, "'c'")


def test_clause_count_too_many() -> None:
    parse_error("p cnf 3 2\n1 0\n2 0\n3 0\n-1 0\n", 5, "found 4 clauses", "declares 2", "line 4")
    parse_error("p cnf 3 0\n0\n", 2, "found 1 clause ", "declares 0")


def test_clause_count_too_few() -> None:
    parse_error("p cnf 3 3\n1 0\n2 0\n\n", 4, "found 2 clauses", "declares 3")
    parse_error("p cnf 3 2\n1 0\n%\n0\n", 3, "found 1 clause ", "declares 2")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.cnf"
    with pytest.raises(ParseError) as info:
        read_cnf(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    assert info.value.path == str(path) and info.value.line is None


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=re.escape(str(tmp_path))):
        read_cnf(tmp_path)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.cnf"
    path.write_bytes(b"p cnf 3 1\n1 2 0\n\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(ParseError) as info:
        read_cnf(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:3: ") and "\n" not in msg, msg
    assert "UTF-8" in msg


def test_control_characters_named_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "nul.cnf"
    path.write_bytes(b"p cnf 3 1\n1 \x00\x07 0\n")
    with pytest.raises(ParseError) as info:
        read_cnf(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:2: ") and "\\x00" in msg and "\x00" not in msg, msg


def test_errors_are_geninv_errors() -> None:
    with pytest.raises(GeninvError):
        parse_cnf("p cnf 1 1\n2 0\n")


# --------------------------------------------------------------- CNF checks


def test_cnf_constructor_validates() -> None:
    with pytest.raises(ValidationError):
        CNF(2, ((1, 3),))
    with pytest.raises(ValidationError):
        CNF(2, ((1, 0),))
    with pytest.raises(ValidationError):
        CNF(-1, ())
    with pytest.raises(ValidationError):
        CNF(1, ((1,),), ("two\nlines",))
    with pytest.raises(ValidationError):
        CNF(1, ((True,),))
    normalised = CNF(2, [[1, -2], []], ["x"])  # type: ignore[arg-type]
    assert normalised.clauses == ((1, -2), ()) and normalised.comments == ("x",)


def test_assignment_shape_is_checked() -> None:
    cnf = CNF(2, ((1, 2),))
    with pytest.raises(ValidationError):
        cnf.evaluate([True])
    with pytest.raises(ValidationError):
        cnf.evaluate([True, False, True])
    with pytest.raises(ValidationError):
        cnf.evaluate({0: True, 1: False})  # keys are variable numbers, 1-based
    with pytest.raises(ValidationError):
        format_assignment({1: True, 3: False})
    assert cnf.evaluate({1: False, 2: True})
