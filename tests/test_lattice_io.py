"""Lattice inputs: fplll matrices and vectors (all shared files), CVP JSON, bad input."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import GeninvError, ParseError, ValidationError
from geninv.io.lattice import (
    CVPInstance,
    cvp_to_json,
    parse_cvp_json,
    parse_exact_number,
    parse_fplll_matrix,
    parse_fplll_vector,
    read_cvp_json,
    read_fplll_matrix,
    read_fplll_vector,
    write_cvp_json,
)

VECTOR_FILES = ("example_cvp_in_target", "example_cvp_out", "example_svp_out")


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


def matrix_error(text: str, line: int, *fragments: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_fplll_matrix(text, "m.txt")
    check_message(info.value, "m.txt", line, fragments)
    assert info.value.line == line


def vector_error(text: str, line: int, *fragments: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_fplll_vector(text, "v.txt")
    check_message(info.value, "v.txt", line, fragments)


def json_error(doc: object | str, *fragments: str, line: int | None = None) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(ParseError) as info:
        parse_cvp_json(text, "c.json")
    check_message(info.value, "c.json", line, fragments)


def count_rows(text: str) -> tuple[int, set[int]]:
    """Rows and row lengths, read independently of the parser under test."""
    body = text.strip()
    assert body.startswith("[[") and body.endswith("]")
    rows = [chunk.split() for chunk in body[1:-1].replace("]", "").split("[") if chunk.strip()]
    return len(rows), {len(r) for r in rows}


# --------------------------------------------------------------- shared data


def test_every_shared_lattice_parses(shared_data: Path) -> None:
    files = sorted((shared_data / "lattices").glob("*/*"))
    assert len(files) >= 24
    for path in files:
        if path.name.startswith(VECTOR_FILES):
            vec = read_fplll_vector(path)
            assert len(vec) == len(path.read_text().strip()[1:-1].split())
            assert all(x.denominator == 1 for x in vec)
            continue
        rows = read_fplll_matrix(path)
        n_rows, lengths = count_rows(path.read_text())
        assert len(rows) == n_rows and {len(r) for r in rows} == lengths, path


def test_cvp_examples_dimensions_match(shared_data: Path) -> None:
    folder = shared_data / "lattices" / "fplll_tests"
    for suffix in ("", "2", "3", "4", "5"):
        basis = read_fplll_matrix(folder / f"example_cvp_in_lattice{suffix}")
        target = read_fplll_vector(folder / f"example_cvp_in_target{suffix}")
        closest = read_fplll_vector(folder / f"example_cvp_out{suffix}")
        assert len(basis) == len(basis[0]) == len(target) == len(closest), suffix
        inst = CVPInstance(tuple(map(tuple, basis)), tuple(target))
        assert (inst.n, inst.dim) == (len(basis), len(target))
    assert len(read_fplll_matrix(folder / "example_cvp_in_lattice3")) == 42
    assert len(read_fplll_matrix(folder / "example_cvp_in_lattice4")) == 10


def test_big_integers_are_exact(shared_data: Path) -> None:
    rows = read_fplll_matrix(shared_data / "lattices" / "fplll_tests" / "dim55_in")
    assert len(rows) == 55 and all(len(r) == 55 for r in rows)
    assert rows[0][0] == 28915379691307635007036
    assert rows[1][:2] == [14457673147006172469940, 25167607588659113640693]


def test_svp_challenge_dimensions(shared_data: Path) -> None:
    for path in sorted((shared_data / "lattices" / "svp_challenge_lll").glob("dim*sd0-LLL.txt")):
        dim = int(path.name[3:5])
        rows = read_fplll_matrix(path)
        assert len(rows) == dim and all(len(r) == dim for r in rows), path
    svp = read_fplll_matrix(shared_data / "lattices" / "fplll_tests" / "example_svp_in")
    assert len(svp) == 20 and len(svp[0]) == 21


# --------------------------------------------------------------- exact numbers


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("0", Fraction(0)),
        ("-12", Fraction(-12)),
        ("+7", Fraction(7)),
        ("2.5", Fraction(5, 2)),
        ("-.25", Fraction(-1, 4)),
        ("5.", Fraction(5)),
        ("0.1", Fraction(1, 10)),
        ("1e-3", Fraction(1, 1000)),
        ("1.5E+2", Fraction(150)),
        ("1/3", Fraction(1, 3)),
        ("-7/2", Fraction(-7, 2)),
        ("4/2", Fraction(2)),
        ("123456789012345678901234567890", Fraction(123456789012345678901234567890)),
    ],
)
def test_exact_numbers(token: str, value: Fraction) -> None:
    assert parse_exact_number(token) == value


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("nan", "not a number"),
        ("inf", "not a number"),
        ("-Infinity", "not a number"),
        ("1/0", "zero denominator"),
        ("1/-2", "not a number"),
        ("1 / 2", "not a number"),
        ("0x10", "not a number"),
        ("1_000", "not a number"),
        ("٣", "not a number"),
        ("", "not a number"),
        ("1e5000", "exponent"),
        ("9" * 5000, "too many digits"),
    ],
)
def test_not_exact_numbers(token: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_exact_number(token)


# --------------------------------------------------------------- fplll syntax


def test_matrix_layouts() -> None:
    expected = [[Fraction(1), Fraction(-2)], [Fraction(1, 3), Fraction(5, 2)]]
    assert parse_fplll_matrix("[[1 -2]\n[1/3 2.5]]\n") == expected
    assert parse_fplll_matrix("[[1 -2][1/3 2.5]]") == expected
    assert parse_fplll_matrix("  [ [ 1\n -2 ]\r\n\t[1/3\n2.5 ]\n]\n\n") == expected
    assert parse_fplll_matrix("[[1 -2]\n[1/3 2.5]\n]") == expected  # no final newline


def test_vector_layouts() -> None:
    assert parse_fplll_vector("[1 2 3]\n") == [1, 2, 3]
    assert parse_fplll_vector("[[1 2 3]]") == [1, 2, 3]
    assert parse_fplll_vector("[ 1\n2 3 ]  \n") == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param("[[1 2]\n[3 4]\n", 2, ("matrix opened on line 1 is not closed",), id="no-end"),
        pytest.param("[[1 2]\n[3 4\n", 2, ("row opened on line 2 is not closed",), id="open-row"),
        pytest.param("[[1 2]\n[3 4 5]]\n", 2, ("3 entries", "has 2"), id="ragged"),
        pytest.param("[[1 2]\n[3]]\n", 2, ("1 entry", "line 1"), id="ragged-short"),
        pytest.param("[[1 2]\n[]]\n", 2, ("empty row",), id="empty-row"),
        pytest.param("[]\n", 1, ("no rows",), id="no-rows"),
        pytest.param("", 1, ("no data",), id="empty"),
        pytest.param("\n\n", 2, ("no data",), id="blank"),
        pytest.param("1 2 3\n", 1, ("'1'", "open the matrix"), id="no-bracket"),
        pytest.param("[1 2 3]\n", 1, ("looks like a single vector",), id="vector"),
        pytest.param("[[1 2]]\n[3 4]\n", 2, ("after the closing", "'['"), id="trailing"),
        pytest.param("[[1 2]] x\n", 1, ("'x'",), id="trailing-text"),
        pytest.param("[[1 [2]]\n", 1, ("'[' inside the row",), id="nested"),
        pytest.param("[[1 2] 3]\n", 1, ("'3' outside a row",), id="loose-number"),
        pytest.param("[[1 nan]]\n", 1, ("'nan' is not a number",), id="nan"),
        pytest.param("[[1 2]\n[3 1/0]]\n", 2, ("zero denominator",), id="zero-den"),
        pytest.param("[[1,2]]\n", 1, ("'1,2'",), id="commas"),
    ],
)
def test_bad_matrix(text: str, line: int, fragments: tuple[str, ...]) -> None:
    matrix_error(text, line, *fragments)


def test_bad_vector() -> None:
    vector_error("[1 2 3\n", 1, "not closed")
    vector_error("[1 2 3]]\n", 1, "after the closing", "vector")
    vector_error("[[1 2]\n[3 4]]\n", 1, "2 rows")
    vector_error("1 2 3\n", 1, "open the vector")
    vector_error("[]\n", 1, "empty row")
    vector_error("", 1, "no data")
    vector_error("[1 inf]\n", 1, "'inf'")


def test_fplll_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope_lattice"
    with pytest.raises(ParseError) as info:
        read_fplll_matrix(missing)
    check_message(info.value, str(missing), None, ("cannot read file",))
    with pytest.raises(ParseError) as info:
        read_fplll_vector(missing)
    check_message(info.value, str(missing), None)
    binary = tmp_path / "bin"
    binary.write_bytes(b"[[1 2]\n[\xff 3]]\n")
    with pytest.raises(ParseError) as info:
        read_fplll_matrix(binary)
    check_message(info.value, str(binary), 2, ("UTF-8",))
    ragged = tmp_path / "ragged"
    ragged.write_text("[[1 2]\n[3]\n]\n")
    with pytest.raises(ParseError) as info:
        read_fplll_matrix(ragged)
    check_message(info.value, str(ragged), 2, ("same length",))


# --------------------------------------------------------------- CVP JSON


def test_cvp_json_example_from_docstring() -> None:
    inst = parse_cvp_json(
        '{"basis": [[1, 0, 0], [0, 1, 0], [1, 1, 2]], "target": [1, "1/2", 0.25],'
        ' "radius": "3/2", "p": 2}'
    )
    assert inst.basis[2] == (1, 1, 2) and inst.target == (1, Fraction(1, 2), Fraction(1, 4))
    assert inst.radius == Fraction(3, 2) and inst.radius_pow is None and inst.p == 2.0
    assert (inst.n, inst.dim) == (3, 3)


def test_cvp_json_variants() -> None:
    inst = parse_cvp_json('{"basis": [[1]], "target": [0.1], "radius_pow": 2}')
    assert inst.target == (Fraction(1, 10),) and inst.radius_pow == 2 and inst.p is None
    assert parse_cvp_json('{"basis": [[1]], "target": [0], "p": "inf"}').p == math.inf
    assert parse_cvp_json('{"basis": [[1]], "target": [0], "p": 1.5}').p == 1.5
    big = "1" * 60
    inst = parse_cvp_json(f'{{"basis": [[{big}, "{big}/7"]], "target": [0, 0]}}')
    assert inst.basis[0] == (int(big), Fraction(int(big), 7))
    assert inst.radius is None and inst.radius_pow is None


def test_cvp_json_round_trip_file(tmp_path: Path) -> None:
    inst = CVPInstance(
        ((Fraction(1, 3), 2), (-5, Fraction(7, 2))), (0, Fraction(-1, 9)), None, 3, 3.0
    )
    path = tmp_path / "cvp.json"
    write_cvp_json(inst, path)
    assert read_cvp_json(path) == inst
    doc = json.loads(path.read_text())
    assert doc == {
        "basis": [["1/3", 2], [-5, "7/2"]],
        "target": [0, "-1/9"],
        "radius_pow": 3,
        "p": 3,
    }


fractions = st.fractions(min_value=-(10**30), max_value=10**30, max_denominator=10**6)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.data())
def test_cvp_json_round_trip(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 4))
    d = data.draw(st.integers(1, 4))
    basis = tuple(tuple(data.draw(fractions) for _ in range(d)) for _ in range(n))
    target = tuple(data.draw(fractions) for _ in range(d))
    p = data.draw(st.sampled_from([None, 1.0, 2.0, 3.0, 1.5, math.inf]))
    mode = data.draw(st.sampled_from(["none", "radius", "pow"]))
    r = abs(data.draw(fractions))
    if mode == "pow" and p is not None and not (math.isfinite(p) and p.is_integer()):
        mode = "radius"
    inst = CVPInstance(
        basis, target, r if mode == "radius" else None, r if mode == "pow" else None, p
    )
    assert parse_cvp_json(cvp_to_json(inst)) == inst


def base_doc(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {"basis": [[1, 2], [3, 4]], "target": [0, 1], "radius": 1}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.mark.parametrize(
    ("doc", "fragments"),
    [
        pytest.param(base_doc(basis=[[1, 2], [3]]), ("basis[1] has 1 entry",), id="ragged"),
        pytest.param(base_doc(target=[1, 2, 3]), ("target has 3 entries",), id="target-length"),
        pytest.param(base_doc(basis=[]), ("empty array",), id="empty-basis"),
        pytest.param(base_doc(basis=[[]], target=[]), ("basis[0] is empty",), id="empty-vector"),
        pytest.param(base_doc(basis=[1, 2]), ("basis[0] is a JSON number",), id="flat-basis"),
        pytest.param(base_doc(basis=[[1, "x"], [3, 4]]), ("basis[0][1]", "'x'"), id="bad-str"),
        pytest.param(base_doc(basis=[[1, True], [3, 4]]), ("true",), id="bool"),
        pytest.param(base_doc(target=[0, [1]]), ("target[1] is a JSON array",), id="nested"),
        pytest.param(base_doc(target=[0, "1/0"]), ("zero denominator",), id="zero-den"),
        pytest.param(base_doc(radius=-1), ("radius is -1", ">= 0"), id="neg-radius"),
        pytest.param(base_doc(radius="-1/2"), ("radius is -1/2",), id="neg-radius-str"),
        pytest.param(base_doc(radius_pow=2), ("both",), id="both"),
        pytest.param(base_doc(p=0.5), ("p is", ">= 1"), id="p-small"),
        pytest.param(base_doc(p="two"), ('p is "two"',), id="p-str"),
        pytest.param(
            base_doc(p=None, radius=None, radius_pow=2) | {"p": 1.5},
            ("integer",),
            id="pow-noninteger-p",
        ),
        pytest.param(base_doc(radius=None, radius_pow=2, p="inf"), ("integer",), id="pow-inf"),
        pytest.param(base_doc(extra=1), ("unknown key 'extra'",), id="unknown-key"),
        pytest.param({"target": [1]}, ("missing key 'basis'",), id="no-basis"),
        pytest.param({"basis": [[1]]}, ("missing key 'target'",), id="no-target"),
        pytest.param([1, 2], ("top level is a JSON array",), id="not-object"),
    ],
)
def test_bad_cvp_json(doc: object, fragments: tuple[str, ...]) -> None:
    json_error(doc, *fragments)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_cvp_json_non_finite(constant: str) -> None:
    json_error(f'{{"basis": [[1]], "target": [{constant}]}}', "non-finite", constant)
    json_error(f'{{"basis": [[1]], "target": [0], "radius": {constant}}}', "non-finite")


def test_cvp_json_syntax_errors() -> None:
    json_error('{"basis": [[1]],\n "target": [0,]}', "invalid JSON", line=2)
    json_error("", "invalid JSON", line=1)
    json_error('{"basis": [[1]], "basis": [[2]], "target": [0]}', "duplicate key 'basis'")
    json_error('{"basis": [[1e99999]], "target": [0]}', "exponent", line=1)


def test_cvp_json_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(ParseError) as info:
        read_cvp_json(missing)
    check_message(info.value, str(missing), None, ("cannot read file",))
    bad = tmp_path / "bad.json"
    bad.write_text('{"basis": [[1, 2]], "target": [1]}')
    with pytest.raises(ParseError) as info:
        read_cvp_json(bad)
    check_message(info.value, str(bad), None, ("target has 1 entry",))
    nan = tmp_path / "nan.json"
    nan.write_text('{"basis": [[NaN]], "target": [1]}')
    with pytest.raises(ParseError) as info:
        read_cvp_json(nan)
    check_message(info.value, str(nan), None, ("NaN",))


# --------------------------------------------------------------- CVPInstance


def test_cvp_instance_normalises() -> None:
    inst = CVPInstance([[1, 0.5], ["1/3", 2]], [0, 1], radius=2, p=2)  # type: ignore[arg-type]
    assert inst.basis == ((1, Fraction(1, 2)), (Fraction(1, 3), 2))
    assert isinstance(inst.basis[0][0], Fraction) and isinstance(inst.target, tuple)
    assert inst.radius == 2 and isinstance(inst.radius, Fraction) and inst.p == 2.0
    arrays = CVPInstance(np.array([[1, 2], [3, 4]]), np.array([0, 1]))  # type: ignore[arg-type]
    assert arrays.basis == ((1, 2), (3, 4)) and arrays.target == (0, 1)
    with pytest.raises(ValidationError, match="sequence"):
        CVPInstance((1, 2), (0,))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (((), ()), "empty"),
        ((((),), ()), "empty"),
        ((((1, 2), (3,)), (0, 0)), "same dimension"),
        ((((1, 2),), (0,)), "target has 1"),
        ((((1,),), (float("nan"),)), "finite"),
        ((((1,),), (0,), -1), "radius"),
        ((((1,),), (0,), 1, 1), "both"),
        ((((1,),), (0,), None, 1, 2.5), "integer"),
        ((((1,),), (0,), None, None, 0.5), ">= 1"),
    ],
)
def test_cvp_instance_validates(args: tuple[object, ...], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        CVPInstance(*args)  # type: ignore[arg-type]
