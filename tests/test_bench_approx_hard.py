"""Smoke test of bench/bench_approx_hard.py on tiny reduction instances (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import load_bench

pytest.importorskip("torch")
pytest.importorskip("highspy")
pytest.importorskip("pysat")
pytest.importorskip("rich")


def test_approx_hard_smoke(tmp_path: Path) -> None:
    bench = load_bench("bench_approx_hard")
    out = bench.main(
        [
            "--sat-n", "5", "--densities", "2,8", "--sat-instances", "1",
            "--cvp-n", "3", "--cvp-instances", "1",
            "--backends", "adam,layerwise",
            "--seed", "0", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    name = out["name"]
    assert name == "approx_hard"
    for ext in ("csv", "txt", "png"):
        assert (tmp_path / f"{name}.{ext}").is_file(), ext
    rows = out["rows"]
    # 2 formulas + 3 CVP instances (at, loose, below), 2 backends each
    assert len(rows) == 10
    assert not any(r["wrong"] for r in rows)
    for r in rows:
        assert r["status"] in ("yes", "unknown"), r
        if r["truth"] == "NO":
            assert r["status"] == "unknown"
        if r["status"] == "yes":
            assert r["source_ok"] is True
    assert {r["truth"] for r in rows if r["family"].startswith("CVP")} == {"YES", "NO"}
    for cell in out["summary"]:
        for b in ("adam", "layerwise"):
            rate = cell[f"rate_{b}"]
            assert rate != rate or 0.0 <= rate <= 1.0  # nan (no YES instance) or a rate
        assert cell["wrong"] == 0
    # flipgd refuses the reductions' networks (they have biases)
    assert all(v.startswith("refused") and "bias" in v for v in out["refusals"].values())
    # the loose CVP instance (r = sqrt(2) d_min, n = 3) is easy for CSGM
    loose = [r for r in rows if r["setting"] == "loose" and r["backend"] == "adam"]
    assert loose and loose[0]["success"]
