"""Smoke test of bench/bench_hand_voroninski.py on a tiny network (a few seconds)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from .conftest import load_bench

pytest.importorskip("torch")
pytest.importorskip("highspy")
pytest.importorskip("rich")


def test_hand_voroninski_smoke(tmp_path: Path) -> None:
    bench = load_bench("bench_hand_voroninski")
    out = bench.main(
        [
            "--n1", "60", "--n2", "50", "--m", "30",
            "--ks", "3", "--trials", "1",
            "--layerwise-ks", "all", "--layerwise-limit", "5",
            "--seed", "0", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    name = out["name"]
    assert name == "hand_voroninski"
    for ext in ("csv", "txt", "png"):
        assert (tmp_path / f"{name}.{ext}").is_file(), ext
    rows, summary = out["rows"], out["summary"]
    assert {r["backend"] for r in rows} == {"flipgd", "adam", "layerwise"}
    assert len(rows) == 3
    for s in summary:
        assert 0.0 <= s["rate_z"] <= 1.0 and 0.0 <= s["rate_x"] <= 1.0
        assert s["yes"] <= s["trials"]
    for r in rows:
        assert r["status"] in ("yes", "unknown"), r  # incomplete backends never say no
        if r["success_z"]:
            assert r["z_err"] <= 1e-3
        if not math.isnan(r["z_err"]):
            assert r["z_err"] >= 0
    easy = {(s["k"], s["backend"]): s for s in summary}
    # k = 3 on a 60-50 net with 30 measurements is easy: flip-GD recovers z*
    assert easy[(3, "flipgd")]["rate_z"] == 1.0
    assert easy[(3, "flipgd")]["yes"] == 1
    text = (tmp_path / f"{name}.txt").read_text()
    assert "success rate vs k" in text
