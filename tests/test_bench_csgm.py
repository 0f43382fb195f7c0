"""Smoke test of bench/bench_csgm.py: a tiny run into a temporary folder."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from .conftest import load_bench


def test_bench_csgm_tiny_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("highspy")
    bench = load_bench("bench_csgm")
    out = bench.main(
        [
            "--digits",
            "2",
            "--val-digits",
            "1",
            "--measurements",
            "10,64",
            "--methods",
            "adam,layerwise",
            "--method-options",
            json.dumps({"adam": {"steps": 40, "restarts": 2}}),
            "--lasso-alphas",
            "1e-5,1e-2",
            "--no-mnist",
            "--out",
            str(tmp_path),
        ]
    )
    for suffix in ("csv", "txt", "png"):
        assert (tmp_path / f"csgm.{suffix}").is_file()
    with open(tmp_path / "csgm.csv") as fh:
        rows = list(csv.DictReader(fh))
    methods = {r["method"] for r in rows}
    assert {"adam", "layerwise", "Lasso (pixel)", "Lasso (dct)"} <= methods
    # 2 digits x 2 M x (2 methods + 2 Lasso bases) + 2 representation-error runs
    assert len(rows) == 2 * 2 * 4 + 2
    for r in rows:
        assert float(r["seconds"]) >= 0
        if r["method"] != "layerwise":  # the LP may fail; the others always return a point
            err = float(r["error"])
            assert math.isfinite(err) and err >= 0
    lasso64 = [float(r["error"]) for r in rows if r["method"] == "Lasso (pixel)" and r["M"] == "64"]
    assert len(lasso64) == 2 and max(lasso64) < 1e-3  # 64 noiseless measurements of 64 pixels
    adam = [float(r["error"]) for r in rows if r["method"] == "adam"]
    assert max(adam) < 1.0  # pixels lie in [0, 1]; G's outputs are near them
    assert len(out["rows"]) == len(rows)
    text = (tmp_path / "csgm.txt").read_text()
    assert "per-pixel error" in text and "CSGM shape" in text
