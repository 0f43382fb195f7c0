"""The hostile-input corpus (tests/hostile/make_corpus.py) against every subcommand.

Every case must end with exit status 2, exactly one line on stderr, no
traceback, and its folder exactly as it was (no output, no temporary files).
The cases run in-process through :func:`geninv.cli.main`; a sample also runs
as real processes to show that the in-process harness sees what a user sees.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from geninv.cli import main
from geninv.errors import ValidationError
from geninv.io.limits import check_json_depth, limit, parse_number
from geninv.reductions._build import int_root_floor
from tests.hostile.make_corpus import Case, build_corpus

#: Per-case wall-clock budget: the hostile part is the header or the size, never real work.
CASE_SECONDS = 5.0

KINDS = {
    "cnf",
    "graph",
    "cvp-json",
    "fplll",
    "onnx",
    "pytorch",
    "json-target",
    "npy-target",
    "problem.json",
    "witness",
    "vnnlib",
    "box",
    "args",
    "proof",
}
CLASSES = {"numbers", "sizes", "nesting", "types", "inconsistent", "malformed", "args"}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _run_in_process(case: Case, folder: Path) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    saved_env = {k: os.environ.get(k) for k, _ in case.env}
    cwd = os.getcwd()
    start = time.perf_counter()
    try:
        os.environ.update(dict(case.env))
        os.chdir(folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(case.argv))
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def _failure(case: Case, code: int, err: str, seconds: float, changed: bool) -> str | None:
    lines = err.splitlines()
    problems = []
    if code != 2:
        problems.append(f"exit {code}")
    if len(lines) != 1 or not err.endswith("\n"):
        problems.append(f"{len(lines)} stderr lines")
    if "Traceback" in err:
        problems.append("traceback")
    if changed:
        problems.append("folder changed")
    if seconds > CASE_SECONDS:
        problems.append(f"{seconds:.1f} s")
    if not problems:
        return None
    return (
        f"{case.name}: {', '.join(problems)}: geninv {' '.join(case.argv)[:120]} -> {err[:300]!r}"
    )


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    return build_corpus()


def test_corpus_covers_every_kind_and_class(corpus: list[Case]) -> None:
    assert len(corpus) >= 1000
    kinds = collections.Counter(c.kind for c in corpus)
    classes = collections.Counter(c.cls for c in corpus)
    assert set(kinds) == KINDS, kinds
    assert set(classes) == CLASSES, classes
    commands = {c.argv[0] if c.argv[0] != "reduce" else f"reduce {c.argv[1]}" for c in corpus}
    assert commands >= {
        "reduce sat",
        "reduce cvp",
        "reduce clique",
        "reduce vertex-cover",
        "new",
        "solve",
        "check",
        "extract",
        "info",
        "lift",
        "sense",
        "export-vnncomp",
        "check-proof",
    }


def test_every_case_fails_cleanly(corpus: list[Case], tmp_path: Path) -> None:
    failures = []
    for case in corpus:
        folder = tmp_path / case.name
        folder.mkdir()
        case.write(folder)
        before = _snapshot(folder)
        code, _, err, seconds = _run_in_process(case, folder)
        failure = _failure(case, code, err, seconds, _snapshot(folder) != before)
        if failure:
            failures.append(failure)
    assert not failures, f"{len(failures)} of {len(corpus)} cases failed:\n" + "\n".join(
        failures[:40]
    )


def test_in_process_matches_a_real_process(corpus: list[Case], tmp_path: Path) -> None:
    """A sample, one per input kind, run as `python -c main()`: same status and stderr."""
    sample: dict[str, Case] = {}
    for case in corpus:  # one per kind, for six kinds: each process costs ~2 s of imports
        if case.kind in ("cnf", "graph", "cvp-json", "problem.json", "witness", "vnnlib"):
            sample.setdefault(case.kind, case)
    src = str(Path(__file__).resolve().parents[1] / "src")
    for case in sample.values():
        a, b = tmp_path / "a" / case.name, tmp_path / "b" / case.name
        for folder in (a, b):
            folder.mkdir(parents=True)
            case.write(folder)
        before = _snapshot(b)
        code, _, err, _ = _run_in_process(case, a)
        env = {**os.environ, **dict(case.env)}
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from geninv.cli import main; sys.exit(main())",
                *case.argv,
            ],
            cwd=b,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == code == 2, case.name
        assert proc.stderr == err, case.name
        assert _snapshot(b) == before, case.name


# ---------------------------------------------------------------- the limits themselves


def test_huge_exponent_is_refused_at_once() -> None:
    start = time.perf_counter()
    for text in ("1e999999999", "-1e-999999999", "1E+99999999999999999999"):
        with pytest.raises(ValueError, match="exponent beyond"):
            parse_number(text)
    # a hang guard, not a speed target (bench/ holds those): expanding 10^999999999 would
    # take hours, the refusal takes microseconds; the bound only has to sit in between
    assert time.perf_counter() - start < 10


def test_limits_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    big = "9" * 5000
    with pytest.raises(ValueError, match="GENINV_MAX_DIGITS"):
        parse_number(big)
    monkeypatch.setenv("GENINV_MAX_DIGITS", "6000")
    assert parse_number(big) == int(big[:4000]) * 10**1000 + int(big[4000:])
    monkeypatch.setenv("GENINV_MAX_EXPONENT", "5000")
    assert parse_number("1e-4321") == Fraction(1, 10**4321)
    monkeypatch.setenv("GENINV_MAX_DIGITS", "many")
    with pytest.raises(ValidationError, match="GENINV_MAX_DIGITS"):
        parse_number("1")


def test_every_float_fits_the_number_limits() -> None:
    for value in (5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1 / 3):
        assert float(parse_number(repr(value))) == value
        assert parse_number(f"{value:.17e}") == Fraction(f"{value:.17e}")
        exact = str(Decimal(value))  # the float's exact decimal expansion (up to ~770 digits)
        assert parse_number(exact) == Fraction(value)
    assert parse_number("-7/2") == Fraction(-7, 2)
    assert parse_number("+.5e1") == 5
    assert parse_number("-12.50e-1") == Fraction(-5, 4)


def test_json_depth_bound_is_exact_and_ignores_strings() -> None:
    depth = limit("json_depth")
    check_json_depth("[" * depth + "]" * depth, "x.json")
    check_json_depth('["' + "[" * (depth + 5) + '"]', "x.json")  # brackets inside a string
    with pytest.raises(ValidationError, match=r"x.json:2: JSON nested more than"):
        check_json_depth("\n" + "[" * (depth + 1) + "]" * (depth + 1), "x.json")
    start = time.perf_counter()
    check_json_depth(json.dumps([[i, i + 1] for i in range(200_000)]), "x.json")
    # a hang guard (a quadratic scan of these 3.4 MB would take hours), not a speed target
    assert time.perf_counter() - start < 30


def test_int_root_floor_is_exact_and_fast() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        x = rng.getrandbits(rng.randint(1, 2500))
        p = rng.randint(1, 12)
        r = int_root_floor(x, p)
        assert r**p <= x < (r + 1) ** p
    for r in (2**64 - 1, 10**40):
        for p in (2, 3, 7):
            assert int_root_floor(r**p, p) == r
            assert int_root_floor(r**p - 1, p) == r - 1
    start = time.perf_counter()
    int_root_floor(2**511 * 3 - 1, 2)
    int_root_floor(7**4000 + 1, 5)
    # a hang guard (bisection over 11,000-bit values one unit at a time never ends)
    assert time.perf_counter() - start < 10


def test_an_edge_weight_of_2_to_the_511_does_not_hang(tmp_path: Path) -> None:
    graph = tmp_path / "g.col"
    graph.write_text(f"p edge 3 2\ne 1 2 {2**511}\ne 2 3 1\n")
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(
            [
                "reduce",
                "clique",
                str(graph),
                "--k",
                "2",
                "--p",
                "3",
                "-o",
                str(tmp_path / "out"),
                "--expected",
                "unknown",
            ]
        )
    assert code == 0
    assert time.perf_counter() - start < 60  # a hang guard, not a speed target
