"""The lab's scaling fits (geninv.lab.fit): censored maximum likelihood and its CLI."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from geninv.cli import main
from geninv.errors import GeninvError
from geninv.lab.fit import Point, fit_points, fit_rows, fit_slope


def synthetic(b: float, limit: float, seed: int) -> list[Point]:
    """log2 t = -12 + b n + N(0, 0.4^2) on n = 10..40, censored at ``limit`` seconds."""
    rng = np.random.default_rng(seed)
    pts = []
    for n in range(10, 41, 2):
        for _ in range(4):
            t = 2.0 ** (-12 + b * n + rng.normal(0, 0.4))
            pts.append(Point(n, min(t, limit), t >= limit))
    return pts


def test_censored_fit_recovers_the_base_where_time_outs_at_the_limit_do_not() -> None:
    """With a third of the cells timed out, the censored fit finds b = 0.5 (base 1.414)
    inside its interval; counting each time-out as if it finished at the limit is
    biased low."""
    pts = synthetic(0.5, limit=2.0**3, seed=1)
    censored = sum(p.timed_out for p in pts)
    assert len(pts) // 5 <= censored <= len(pts) // 2, censored
    base, low, high, reason = fit_points(pts, rounds=100, seed=3)
    assert reason == "" and base is not None and low is not None and high is not None
    assert abs(math.log2(base) - 0.5) < 0.03
    assert low <= 2**0.5 <= high
    at_limit = fit_slope([Point(p.n, p.seconds, False) for p in pts])
    assert at_limit is not None and at_limit < 0.4  # the bias the censoring removes
    # the same points give the same interval (one seed)
    assert fit_points(pts, rounds=100, seed=3) == (base, low, high, reason)


def test_fit_needs_two_decided_sizes() -> None:
    one = [Point(10, 0.5, False), Point(12, 9.0, True), Point(14, 9.0, True)]
    assert fit_points(one)[0] is None and "two sizes" in fit_points(one)[3]
    # times under the floor are timer noise: they cannot make a slope either
    tiny = [Point(n, 1e-5 * (1 + n % 3), False) for n in range(6, 12)]
    assert fit_points(tiny)[0] is None


def test_fit_rows_groups_excludes_and_compares_with_the_source_solver() -> None:
    rows = []
    for solver, b in (("sat", 0.3), ("cadical", 0.2)):
        for p in synthetic(b, limit=1e9, seed=2):
            rows.append(
                {
                    "family": "sat-thm1",
                    "solver": solver,
                    "n": p.n,
                    "answer": "no",
                    "seconds": p.seconds,
                    "time_limit": 60.0,
                }
            )
    rows.append(  # a refusal: not a time, left out
        {
            "family": "sat-thm1",
            "solver": "sat",
            "n": 12,
            "answer": "unknown",
            "seconds": 0.01,
            "time_limit": 60.0,
        }
    )
    fits = {f.solver: f for f in fit_rows(rows, rounds=50)}
    assert fits["sat"].excluded == 1 and fits["cadical"].excluded == 0
    assert fits["sat"].ratio_to_source is not None and fits["cadical"].ratio_to_source is None
    assert abs(fits["sat"].ratio_to_source - 2**0.1) < 0.03


def test_lab_fit_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tiny sweep through the CLI, then ``geninv lab fit`` on its store."""
    spec = Path(__file__).resolve().parents[1] / "examples" / "lab.toml"
    shutil.copy(spec, tmp_path / "lab.toml")
    db = tmp_path / "lab.db"
    argv = ["lab", "run", str(tmp_path / "lab.toml"), "--store", str(db), "--inline"]
    assert main([*argv, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["lab", "fit", str(db), "--rounds", "20"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["family", "solver"] and len(lines) >= 3
    assert main(["lab", "fit", str(tmp_path / "none.db")]) == 2
    assert main(["lab", "fit", str(db), "--floor", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "none.db" in err[0] and "floor" in err[1]


def test_answer_filter_fits_refutations_apart_from_witness_searches() -> None:
    """A search that stops at its first witness looks sub-exponential on the yes
    instances; on the instances another cell refuted, its full-search time gives the
    true base.  ``answer="no"`` keeps exactly the instances some cell decided *no*
    (their time-outs included, censored), and nothing of an instance decided *yes*."""
    rng = np.random.default_rng(5)
    rows: list[dict[str, object]] = []
    for n in range(12, 27, 2):
        for seed in range(6):
            is_no = seed % 2 == 0
            full = 2.0 ** (n - 20) * (1 + 0.1 * rng.random())
            t = full if is_no else full * 2.0 ** (-n / 2)  # a witness found early
            common = {"family": "sat-thm1", "params": "{}", "n": n, "seed": seed}
            rows.append(
                {
                    **common,
                    "solver": "cadical",
                    "answer": "no" if is_no else "yes",
                    "seconds": 1e-3 * (1 + n),
                    "time_limit": 60.0,
                }
            )
            timed_out = t >= 8.0
            rows.append(
                {
                    **common,
                    "solver": "enumerate",
                    "answer": "unknown" if timed_out else ("no" if is_no else "yes"),
                    "seconds": 8.0 if timed_out else t,
                    "time_limit": 8.0,
                }
            )
    fits = {f.solver: f for f in fit_rows(rows, rounds=50, answer="no")}
    enum = fits["enumerate"]
    assert enum.cells == 8 * 3 and enum.censored > 0  # the refuted instances, time-outs too
    assert enum.base is not None and enum.low is not None and enum.high is not None
    assert enum.low <= 2.0 <= enum.high and abs(enum.base - 2.0) < 0.05
    mixed = {f.solver: f for f in fit_rows(rows, rounds=0)}["enumerate"]
    assert mixed.base is not None and mixed.base < 1.95  # the witness searches pull it down
    yes = {f.solver: f for f in fit_rows(rows, rounds=0, answer="yes")}["enumerate"]
    assert yes.cells == 8 * 3 and yes.censored == 0
    with pytest.raises(GeninvError, match="yes or no"):
        fit_rows(rows, answer="maybe")
