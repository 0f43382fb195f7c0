"""Smoke test of bench/bench_clique_dimacs.py on the smallest DIMACS clique graph (~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import load_bench

pytest.importorskip("pysat")
pytest.importorskip("rich")


def test_clique_dimacs_smoke(shared_data: Path, tmp_path: Path) -> None:
    bench = load_bench("bench_clique_dimacs")
    out = bench.main(
        [
            "--graphs", "johnson8-2-4", "--limit", "60",
            "--data", str(shared_data / "graphs"), "--out", str(tmp_path),
        ]
    )  # fmt: skip
    name = out["name"]
    for ext in ("csv", "txt", "png"):
        assert (tmp_path / f"{name}.{ext}").is_file(), ext
    rows = out["rows"]
    assert [(r["k"], r["status"]) for r in rows] == [(4, "yes"), (5, "no")]
    assert not any(r["wrong"] for r in rows)
    assert rows[1]["pruned"] > 0
