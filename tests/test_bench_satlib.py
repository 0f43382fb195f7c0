"""Smoke test of bench/bench_satlib.py on one uf20 and one uuf50 file (~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import load_bench

pytest.importorskip("pysat")
pytest.importorskip("rich")


def test_satlib_smoke(shared_data: Path, tmp_path: Path) -> None:
    bench = load_bench("bench_satlib")
    out = bench.main(
        [
            "--families", "uf20,uuf50", "--instances-per-family", "1", "--limit", "60",
            "--t2-methods", "auto", "--no-marabou", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    name = out["name"]
    for ext in ("csv", "txt", "png"):
        assert (tmp_path / f"{name}.{ext}").is_file(), ext
    rows = out["rows"]
    t1 = {(r["family"], r["solver"]): r for r in rows if r["part"] == "theorem1"}
    assert t1[("uf20", "sat")]["status"] == "yes"
    assert t1[("uuf50", "sat")]["status"] == "no"
    assert t1[("uf20", "cadical195")]["status"] == "yes"
    # sub-50 ms runs are repeated on both sides and the medians reported
    assert t1[("uf20", "sat")]["repeats"] == t1[("uf20", "cadical195")]["repeats"] == 7
    t2 = {(r["family"], r["solver"]): r for r in rows if r["part"] == "theorem2"}
    assert t2[("uf20", "auto")]["status"] == "yes"
    assert t2[("uuf50", "auto")]["status"] == "no"
    assert t2[("uf20", "cadical195")]["seconds"] > 0  # the peer of the auto ratio
    assert (tmp_path / "instances" / "satlib-thm2" / "uf20-01").is_dir()
