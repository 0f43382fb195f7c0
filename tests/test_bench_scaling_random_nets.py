"""Smoke tests of bench/bench_scaling.py and bench/bench_random_nets.py at toy sizes (~8 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import load_bench

pytest.importorskip("highspy")
pytest.importorskip("rich")


def test_scaling_smoke(tmp_path: Path) -> None:
    pytest.importorskip("pysat")
    bench = load_bench("bench_scaling")
    out = bench.main(
        [
            "--families", "0,2", "--backends", "sat,enumerate", "--point-limit", "1",
            "--series-budget", "1.5", "--stop-at", "0.2", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    for ext in ("csv", "txt", "png"):
        assert (tmp_path / f"{out['name']}.{ext}").is_file(), ext
    rows = out["rows"]
    assert {(r["family"].split(" ")[0], r["backend"]) for r in rows} == {
        ("3-SAT", "sat"),
        ("3-SAT", "enumerate"),
        ("vertex", "sat"),
        ("vertex", "enumerate"),
    }
    # every instance of the series is a 'no' instance: no 'yes' anywhere
    assert all(r["status"] in ("no", "unknown") for r in rows)
    assert sum(r["status"] == "no" for r in rows) >= 8


@pytest.mark.parametrize(("gap", "expect"), [("0.001", "no"), ("-0.01", "yes")])
def test_random_nets_smoke(tmp_path: Path, gap: str, expect: str) -> None:
    """Radius just inside d* (no witness) and just outside it (a witness)."""
    bench = load_bench("bench_random_nets")
    out = bench.main(
        [
            "--dims", "4,10,12", "--instances", "2", "--limit", "20", "--optimize-limit", "20",
            "--gap", gap, "--no-marabou", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    for ext in ("csv", "txt", "png"):
        assert (tmp_path / f"{out['name']}.{ext}").is_file(), ext
    assert (tmp_path / "random_nets_dstar.json").is_file()
    rows = [r for r in out["rows"] if r["solver"] in ("milp", "milp-scip", "auto")]
    assert len(rows) == 6
    for r in rows:
        assert r["expected"] == expect
        assert r["status"] == expect, r
        if expect == "yes":  # solve() certified the witness exactly; its distance is in r
            assert float(r["distance"]) <= float(r["radius"])
