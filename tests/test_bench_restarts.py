"""Smoke test of bench/bench_restarts.py: tiny runs into a temporary folder."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from .conftest import load_bench


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def check_rows(rows: list[dict[str, str]], backends: set[str], rs: set[str]) -> None:
    assert {r["backend"] for r in rows} == backends
    assert {r["R"] for r in rows} == rs
    for r in rows:
        for key in ("batched_restarts_per_s", "single_restarts_per_s", "speedup"):
            value = float(r[key])
            assert math.isfinite(value) and value > 0, (key, r)
        assert r["note"] == ""  # no run stopped before its last iteration


def test_bench_restarts_digits(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    bench = load_bench("bench_restarts")
    bench.main(
        [
            "--settings",
            "digits",
            "--backends",
            "adam,pgd,admm,langevin,flipgd,layerwise",
            "--restarts",
            "1,4",
            "--steps",
            "6",
            "--min-time",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    for suffix in ("csv", "txt", "png"):
        assert (tmp_path / f"restarts.{suffix}").is_file()
    rows = read_rows(tmp_path / "restarts.csv")
    check_rows(rows, {"adam", "pgd", "admm", "langevin", "flipgd"}, {"1", "4"})
    assert {r["iterations_per_restart"] for r in rows} == {"6"}
    text = (tmp_path / "restarts.txt").read_text()
    assert "layerwise: left out: no restarts" in text
    assert "exact re-check of one latent" in text


def test_bench_restarts_random_quick(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    bench = load_bench("bench_restarts")
    out = bench.main(
        [
            "--quick",
            "--settings",
            "random",
            "--backends",
            "adam,flipgd",
            "--restarts",
            "2",
            "--steps",
            "3",
            "--min-time",
            "0",
            "--no-plot",
            "--out",
            str(tmp_path),
        ]
    )
    assert (tmp_path / "restarts-quick.csv").is_file()
    assert not (tmp_path / "restarts-quick.png").exists()
    check_rows(read_rows(tmp_path / "restarts-quick.csv"), {"adam", "flipgd"}, {"2"})
    assert out["png"] is None
