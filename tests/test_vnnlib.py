"""VNN-LIB writer/reader: exact round trips, semantics header, refusals."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import GeninvError, ParseError, UnsupportedError, ValidationError
from geninv.io.vnnlib import (
    VnnlibProperty,
    format_number,
    read_vnnlib,
    vnnlib_expressible,
    write_vnnlib,
)
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Relation

F = Fraction


def network(n: int = 3, q: int = 2, seed: int = 0) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork(
        [rng.normal(size=(4, n)), rng.normal(size=(q, 4))], [np.zeros(4), np.zeros(q)]
    )


def test_format_number_examples() -> None:
    assert format_number(F(1, 2)) == "0.5"
    assert format_number(F(-3)) == "-3.0"
    assert format_number(F(0)) == "0.0"
    assert format_number(F(1, 10**7)) == "0.0000001"
    assert format_number(F(-1, 80)) == "-0.0125"
    assert format_number(F(12345, 100)) == "123.45"
    assert format_number(F(0.1)) == "0.1000000000000000055511151231257827021181583404541015625"
    assert format_number(F(1, 3)) == repr(1 / 3)


@settings(derandomize=True, max_examples=300)
@given(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=40),
)
def test_format_number_exact_for_finite_decimals(num: int, a: int, b: int) -> None:
    value = F(num, 2**a * 5**b)
    text = format_number(value)
    assert "e" not in text.lower()
    assert F(text) == value


@settings(derandomize=True, max_examples=200)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_exact_for_floats(x: float) -> None:
    assert F(format_number(F(x))) == F(x)


def test_exact_inversion_round_trip(tmp_path: Path) -> None:
    target = [F(1, 2), F(-3), F(0.1)]
    net3 = network(q=3)
    prob = InversionProblem(net3, target, Domain("real"))
    lower, upper = [F(-1), F(-5, 4), F(0)], [F(1), F(7, 8), F(1, 10**7)]
    path = tmp_path / "prop.vnnlib"
    write_vnnlib(prob, (lower, upper), path)
    prop = read_vnnlib(path)
    assert isinstance(prop, VnnlibProperty)
    assert (prop.n_inputs, prop.n_outputs) == (3, 3)
    assert prop.input_lower == lower and prop.input_upper == upper
    assert prop.output_lower == target and prop.output_upper == target
    assert not any(prop.output_lower_strict + prop.output_upper_strict)
    assert not any(prop.input_lower_strict + prop.input_upper_strict)
    text = path.read_text()
    assert "'sat' means an inverting z exists (geninv: YES)" in text
    assert "'unsat'" in text and "NO" in text
    assert "nearest float64" not in text


@pytest.mark.parametrize("relation", ["<=", "<"])
def test_linf_round_trip(tmp_path: Path, relation: Relation) -> None:
    net = network(n=2, q=2, seed=1)
    target = [F(3, 4), F(-1, 8)]
    delta = F(1, 4)
    prob = InversionProblem(
        net, target, Domain.box([-2, -2], [2, 2]), p=math.inf, threshold=delta, relation=relation
    )
    path = tmp_path / "linf.vnnlib"
    write_vnnlib(prob, ([F(-2), F(-2)], [F(2), F(2)]), path)
    prop = read_vnnlib(path)
    assert prop.output_lower == [t - delta for t in target]
    assert prop.output_upper == [t + delta for t in target]
    strict = relation == "<"
    assert prop.output_lower_strict == [strict, strict]
    assert prop.output_upper_strict == [strict, strict]
    assert prop.input_lower == [F(-2)] * 2 and prop.input_upper == [F(2)] * 2


@pytest.mark.parametrize("seed", range(10))
def test_random_round_trips(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, q = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    net = network(n, q, seed)
    target = [F(float(v)) for v in rng.normal(size=q)]
    lower = [F(float(v)) for v in -rng.random(n) * 10]
    upper = [F(float(v)) for v in rng.random(n) * 10]
    delta = F(0) if seed % 2 else F(float(rng.random()))
    prob = InversionProblem(net, target, Domain("real"), p=math.inf, threshold=delta)
    path = tmp_path / f"r{seed}.vnnlib"
    write_vnnlib(prob, (lower, upper), path)
    prop = read_vnnlib(path)
    assert prop.input_lower == lower and prop.input_upper == upper
    assert prop.output_lower == [t - delta for t in target]
    assert prop.output_upper == [t + delta for t in target]


def test_non_decimal_rationals_are_rounded_and_flagged(tmp_path: Path) -> None:
    prob = InversionProblem(network(n=1, q=1), [F(1, 3)], Domain("real"))
    path = tmp_path / "third.vnnlib"
    write_vnnlib(prob, ([F(-1)], [F(1)]), path)
    assert "nearest float64" in path.read_text()
    prop = read_vnnlib(path)
    assert prop.output_lower == [F(repr(1 / 3))]


def test_expressibility() -> None:
    net = network(n=2, q=2)
    assert vnnlib_expressible(InversionProblem(net, [0, 0], Domain("real"))) is None
    assert vnnlib_expressible(InversionProblem(net, [0, 0], Domain("real"), p=2)) is None
    assert vnnlib_expressible(InversionProblem(net, [0, 0], Domain("real"), p=2, threshold=1))
    assert (
        vnnlib_expressible(InversionProblem(net, [0, 0], Domain("real"), p=math.inf, threshold=1))
        is None
    )
    reason = vnnlib_expressible(InversionProblem(net, [0, 0], Domain("binary")))
    assert reason is not None and "binary" in reason
    assert vnnlib_expressible(InversionProblem(net, [0, 0], Domain("sign")))


def test_writer_refusals(tmp_path: Path) -> None:
    net = network(n=2, q=2)
    path = tmp_path / "x.vnnlib"
    with pytest.raises(UnsupportedError):
        write_vnnlib(InversionProblem(net, [0, 0], Domain("binary")), ([0, 0], [1, 1]), path)
    with pytest.raises(UnsupportedError):
        prob = InversionProblem(net, [0, 0], Domain("real"), p=1, threshold=F(1, 2))
        write_vnnlib(prob, ([0, 0], [1, 1]), path)
    prob = InversionProblem(net, [0, 0], Domain("real"))
    with pytest.raises(ValidationError):
        write_vnnlib(prob, ([0], [1]), path)
    with pytest.raises(ValidationError):
        write_vnnlib(prob, ([0, 2], [1, 1]), path)
    boxed = InversionProblem(net, [0, 0], Domain.box([0, 0], [1, 1]))
    with pytest.raises(ValidationError, match="not inside"):
        write_vnnlib(boxed, ([0, 0], [2, 1]), path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- reader
def write(tmp_path: Path, text: str, name: str = "p.vnnlib") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = """; comment line
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)
"""


def test_reader_subset(tmp_path: Path) -> None:
    text = (
        HEADER
        + """
(assert (and (<= X_0 1.5) (>= X_0 -1)))
(assert (and (and (<= (- 5) X_1)) (> 2 X_1)))   ; nested and, reversed sides, strict
(assert (<= X_1 (- 3)))
(assert (<= X_1 4))                         ; looser upper bound: ignored
(assert (> Y_0 (/ 1 3)))
(assert (>= Y_0 1e-2))
"""
    )
    prop = read_vnnlib(write(tmp_path, text))
    assert prop.input_lower == [F(-1), F(-5)]
    assert prop.input_upper == [F(3, 2), F(-3)]
    assert prop.input_upper_strict == [False, False]
    assert prop.output_lower == [F(1, 3)] and prop.output_lower_strict == [True]
    assert prop.output_upper == [None]


def test_reader_refuses_an_empty_input_box(tmp_path: Path) -> None:
    text = HEADER + "(assert (<= X_0 1))(assert (>= X_0 2))(assert (>= X_1 0))(assert (<= X_1 1))"
    with pytest.raises(ValidationError, match=r"p.vnnlib:\d+: input X_0 has an empty range"):
        read_vnnlib(write(tmp_path, text))
    text = HEADER + "(assert (<= X_0 1))(assert (> X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))"
    with pytest.raises(ValidationError, match="empty range"):
        read_vnnlib(write(tmp_path, text))


def test_reader_strict_wins_on_ties(tmp_path: Path) -> None:
    text = HEADER + "(assert (<= X_0 1))(assert (< X_0 1))(assert (>= X_0 0))(assert (>= X_1 0))"
    text += "(assert (<= X_1 1))"
    prop = read_vnnlib(write(tmp_path, text))
    assert prop.input_upper_strict == [True, False]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("(assert (or (<= Y_0 1) (>= Y_0 2)))", "disjunction"),
        ("(assert (<= (+ Y_0 X_0) 1))", "linear combination"),
        ("(assert (<= (* 2 Y_0) 1))", "linear combination"),
        ("(assert (<= X_0 Y_0))", "two variables"),
        ("(assert (= Y_0 1))", "equality"),
        ("(assert (not (<= Y_0 1)))", "negation"),
        ("(check-sat)", "command 'check-sat'"),
        ("(declare-const Z_0 Real)", "variable 'Z_0'"),
        ("(declare-const X_2 Int)", "sort Int"),
    ],
)
def test_reader_unsupported(tmp_path: Path, body: str, needle: str) -> None:
    path = write(tmp_path, HEADER + "(assert (<= X_0 1))\n" + body + "\n", "unsup.vnnlib")
    with pytest.raises(UnsupportedError) as info:
        read_vnnlib(path)
    msg = str(info.value)
    assert needle in msg
    assert f"{path}:6:" in msg
    assert "\n" not in msg


def test_reader_unbounded_input(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "(assert (<= X_0 1))(assert (>= X_0 0))(assert (<= X_1 1))")
    with pytest.raises(UnsupportedError, match="X_1 has no lower bound") as info:
        read_vnnlib(path)
    assert f"{path}:3:" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("(declare-const X_0 Real)\n(assert (<= X_0 1)\n", 2),
        ("(declare-const X_0 Real)\n\n(assert (<= X_0 1)))\n", 3),
        ("(declare-const X_0 Real)\nX_0\n", 2),
        ("(declare-const X_0 Real)\n(assert (<= X_0 1 2))\n", 2),
        ("(declare-const X_0 Real)\n(declare-const X_0 Real)\n", 2),
        ("(declare-const X_0 Real)\n(assert (<= X_1 1))\n", 2),
        ("(declare-const X_0 Real)\n(assert)\n", 2),
    ],
)
def test_reader_malformed(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text, "bad.vnnlib")
    with pytest.raises(ParseError) as info:
        read_vnnlib(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert info.value.line == line


def test_reader_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="not found"):
        read_vnnlib(tmp_path / "missing.vnnlib")
    with pytest.raises(GeninvError):
        read_vnnlib(write(tmp_path, "", "empty.vnnlib"))
    with pytest.raises(ParseError, match="X_0 is not declared"):
        read_vnnlib(write(tmp_path, "(declare-const X_1 Real)", "gap.vnnlib"))
    binary = tmp_path / "bin.vnnlib"
    binary.write_bytes(b"\xff\xfe\x00(")
    with pytest.raises(ParseError):
        read_vnnlib(binary)
