"""The hardness lab (issue 18, items 1-3): spec validation, sweeps through the CLI
cross-checked against the source problems' own solvers, the append-only store,
``--resume`` after a SIGKILL, refusal to overwrite, CSV export, and one sweep through a
real Dask LocalCluster of 2 worker processes."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geninv.cli import main
from geninv.lab.cells import run_cell
from geninv.lab.families import build_instance, clique_number
from geninv.lab.runner import plan_cells, run_sweep
from geninv.lab.spec import MAX_CELLS, parse_spec, quick_spec
from geninv.lab.store import NAMES, Store

SRC = Path(__file__).resolve().parents[1] / "src"

TINY = """\
name = "tiny"
seed = 7
time_limit = 20
[[families]]
family = "sat-thm1"
sizes = [5, 7, 9]
seeds = 3
solvers = ["sat", "enumerate", "cadical"]
params = { density = 6.0 }
[[families]]
family = "sat-thm2"
sizes = [6]
seeds = 2
solvers = ["auto", "cadical"]
params = { planted = true }
[[families]]
family = "clique-thm5"
sizes = [6, 8]
seeds = 2
solvers = ["sat", "enumerate", "networkx"]
params = { k_offset = 0 }
[[families]]
family = "clique-thm5"
sizes = [7]
seeds = 2
solvers = ["sat", "networkx"]
"""


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ spec validation
BASE = 'name = "x"\ntime_limit = 5\n[[families]]\nfamily = "sat-thm1"\nsizes = [5]\n'
HOSTILE = [
    ("this is = = not toml", "not valid TOML"),
    ('name = "x"\n[[families]]\nfamily="sat-thm1"\nsizes=[5]\nsolvers=["sat"]', "time_limit"),
    ('time_limit = "fast"\n', "time_limit: expected seconds"),
    ("time_limit = -1\n", "time_limit: expected seconds"),
    ("time_limit = nan\n", "time_limit: expected seconds"),
    ("time_limit = 5\nfamilies = 3\n", "families: expected 1..100"),
    ("time_limit = 5\nbogus = 1\n", "bogus: expected no such key"),
    ("seed = -3\ntime_limit = 5\n", "seed: expected an integer"),
    (BASE + 'solvers = ["sat"]\nseeds = 1e9\n', "families[0].seeds"),
    (BASE + 'solvers = ["nope"]\n', "families[0].solvers: expected solvers among"),
    (BASE + 'solvers = ["networkx"]\n', "families[0].solvers"),
    (BASE + "solvers = []\n", "families[0].solvers"),
    (BASE.replace("sat-thm1", "sudoku") + 'solvers = ["sat"]\n', "families[0].family"),
    (BASE.replace("[5]", "[100000000]") + 'solvers = ["sat"]\n', "families[0].sizes"),
    (BASE.replace("[5]", '["5"]') + 'solvers = ["sat"]\n', "families[0].sizes"),
    (BASE.replace("[5]", "[5, 5]") + 'solvers = ["sat"]\n', "families[0].sizes"),
    (BASE + 'solvers = ["sat"]\nparams = { density = 1e300 }\n', "params.density"),
    (BASE + 'solvers = ["sat"]\nparams = { k = true }\n', "params.k"),
    (BASE + 'solvers = ["sat"]\nparams = { colour = 1 }\n', "params.colour"),
    (
        BASE.replace("sat-thm1", "clique-thm5") + 'solvers = ["sat"]\nparams = { p = "inf" }\n',
        "params.p: expected an integer 1..4",
    ),
    (BASE + 'solvers = ["sat"]\nparams = { k = 6 }\n', "sizes of at least 6 variables"),
    (
        'name = "x"\ntime_limit = 5\n[[families]]\nfamily = "half-clique"\nsizes = [7]\n'
        'solvers = ["sat"]\n',
        "even sizes",
    ),
    (
        BASE.replace("[5]", "[" + ", ".join(str(i) for i in range(3, 1000)) + "]")
        + 'seeds = 1000\nsolvers = ["sat"]\n',
        f"at most {MAX_CELLS}",
    ),
]


@pytest.mark.parametrize(("text", "needle"), HOSTILE, ids=[n for _, n in HOSTILE])
def test_hostile_specs_are_one_line_and_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    code, out, err = run_cli("lab", "run", str(spec), "--store", str(tmp_path / "s.db"))
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(spec) in err and needle in err, err
    assert not (tmp_path / "s.db").exists()


def test_missing_binary_and_huge_spec_files(tmp_path: Path) -> None:
    code, _, err = run_cli("lab", "run", str(tmp_path / "none.toml"))
    assert code == 2 and "no such spec file" in err
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00name")
    code, _, err = run_cli("lab", "run", str(tmp_path / "bin.toml"))
    assert code == 2 and "not UTF-8" in err
    (tmp_path / "big.toml").write_text("# " + "x" * (1 << 21))
    code, _, err = run_cli("lab", "run", str(tmp_path / "big.toml"))
    assert code == 2 and "over" in err and err.count("\n") == 1


def test_quick_spec_parses_and_cell_seeds_are_stable() -> None:
    spec = quick_spec()
    cells = plan_cells(spec)
    assert len(cells) == spec.n_cells == len({c.key for c in cells})
    again = plan_cells(parse_spec(spec.text, "<again>"))
    assert [c.key for c in again] == [c.key for c in cells]
    # every solver of one coordinate shares the instance seed; coordinates differ
    first = [c for c in cells if c.family == "sat-thm1" and c.n == 10 and c.rep == 0]
    assert len(first) == 3 and len({c.seed for c in first}) == 1
    assert len({(c.family, c.params_json, c.n, c.rep, c.seed) for c in cells}) == len(
        {(c.family, c.params_json, c.n, c.rep) for c in cells}
    )
    assert len({c.seed for c in cells}) == len(
        {(c.family, c.params_json, c.n, c.rep) for c in cells}
    )


def test_overlapping_entries_plan_a_shared_cell_once() -> None:
    """Two entries of one family and params that share a size, a rep and a solver name the
    same cell (same instance seed, same key): it is planned once, not run twice."""
    text = """
name = "overlap"
seed = 1
time_limit = 5
[[families]]
family = "sat-thm1"
sizes = [6, 8]
seeds = 2
solvers = ["sat", "cadical"]
[[families]]
family = "sat-thm1"
sizes = [8, 10]
seeds = 3
solvers = ["enumerate", "cadical"]
"""
    cells = plan_cells(parse_spec(text, "<overlap>"))
    assert len(cells) == len({c.key for c in cells})
    # 2 sizes x 2 reps x 2 solvers + 2 sizes x 3 reps x 2 solvers - (n=8, reps 0-1, cadical)
    assert len(cells) == 8 + 12 - 2


# ------------------------------------------------------------------ sweeps
def _cross_check(rows: list[dict[str, object]]) -> int:
    """Every geninv definite answer equals the source solver's on the same instance."""
    source = {
        (r["family"], r["params"], r["n"], r["seed"]): r["answer"]
        for r in rows
        if r["solver"] in ("cadical", "networkx")
    }
    checked = 0
    for r in rows:
        if r["solver"] in ("cadical", "networkx"):
            assert r["answer"] in ("yes", "no"), r
            continue
        truth = source[(r["family"], r["params"], r["n"], r["seed"])]
        assert r["answer"] in ("yes", truth if truth == "no" else "yes", "unknown")
        if r["answer"] != "unknown":
            assert r["answer"] == truth, r
            checked += 1
        if r["expected"] is not None:
            assert truth == r["expected"], r
    return checked


def test_tiny_sweep_through_the_cli_agrees_with_cadical_and_networkx(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    db = tmp_path / "lab.db"
    code, out, err = run_cli("lab", "run", str(spec), "--store", str(db), "--inline")
    assert code == 0, err
    n_cells = parse_spec(TINY).n_cells
    assert f"{n_cells} recorded now, 0 lost" in out
    with Store(db, create=False) as store:
        rows = store.rows()
    assert len(rows) == n_cells == len({r["cell_key"] for r in rows})
    assert _cross_check(rows) >= n_cells // 2
    answers = {r["answer"] for r in rows if r["family"] == "sat-thm1"}
    assert answers == {"yes", "no"}  # both kinds of instance occur
    for r in rows:
        assert set(r) == set(NAMES)
        assert r["answer"] != "no" or r["proof_kind"], r
        assert r["answer"] != "yes" or r["proof_kind"] in ("witness", "model", "exhaustive search")
        assert r["seconds"] >= 0 and r["peak_rss_bytes"] > 10**6
        assert r["geninv_version"] and r["solver_version"] and r["machine"]
        assert json.loads(str(r["params"]))
    planted = [r for r in rows if r["family"] == "sat-thm2"]
    assert planted and all(r["expected"] == "yes" == r["answer"] for r in planted)
    # a row rebuilds its instance: same clique number as recorded
    r = next(r for r in rows if r["family"] == "clique-thm5")
    inst = build_instance("clique-thm5", json.loads(str(r["params"])), int(r["n"]), int(r["seed"]))
    assert json.loads(str(r["instance_info"]))["clique_number"] == clique_number(inst.source)

    # a second run without --resume is refused, and writes nothing
    code, _, err = run_cli("lab", "run", str(spec), "--store", str(db), "--inline")
    assert code == 2 and "--resume" in err and err.count("\n") == 1
    # with --resume nothing is redone
    code, out, _ = run_cli("lab", "run", str(spec), "--store", str(db), "--inline", "--resume")
    assert code == 0 and f"{n_cells} already in" in out and "0 recorded now" in out
    with Store(db, create=False) as store:
        assert store.count() == n_cells

    # the store is append-only
    con = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE cells SET answer = 'yes'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM cells")
    con.close()

    # CSV export round trip
    table = tmp_path / "rows.csv"
    code, out, _ = run_cli("lab", "export-table", str(db), "-o", str(table))
    assert code == 0 and f"wrote {n_cells} row(s)" in out
    with open(table, newline="") as f:
        back = list(csv.DictReader(f))
    assert [b["cell_key"] for b in back] == [r["cell_key"] for r in rows]
    for b, r in zip(back, rows, strict=True):
        assert b == {k: "" if v is None else str(v) for k, v in r.items()}
    code, _, err = run_cli("lab", "export-table", str(db), "-o", str(table))
    assert code == 2 and "--force" in err
    code, _, err = run_cli("lab", "export-table", str(db), "-o", str(tmp_path / "x.parquet"))
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert code == 2 and "pyarrow" in err and "not installed" in err
    else:
        assert code == 0 and pq.read_table(tmp_path / "x.parquet").num_rows == n_cells


def test_export_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 100)
    code, _, err = run_cli("lab", "export-table", str(junk), "-o", str(tmp_path / "a.csv"))
    assert code == 2 and "not a geninv lab store" in err and err.count("\n") == 1
    code, _, err = run_cli("lab", "export-table", str(tmp_path / "no.db"), "-o", "a.csv")
    assert code == 2 and "no such results store" in err


KILL_SPEC = """\
name = "kill"
seed = 3
time_limit = 20
[[families]]
family = "sat-thm1"
sizes = [14, 15, 16, 17, 18]
seeds = 3
solvers = ["enumerate", "cadical"]
"""


def test_resume_after_sigkill_records_every_cell_exactly_once(tmp_path: Path) -> None:
    spec = tmp_path / "kill.toml"
    spec.write_text(KILL_SPEC)
    db = tmp_path / "kill.db"
    total = parse_spec(KILL_SPEC).n_cells
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "geninv.cli", "lab", "run", str(spec), "--store", str(db)]
    proc = subprocess.Popen(
        [*cmd, "--inline", "--no-progress"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    before = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                with contextlib.suppress(sqlite3.DatabaseError), Store(db) as s:
                    before = s.count()
            if before >= 3:
                break
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Store(db) as s:
        kept = [(r["cell_key"], r["finished_at"]) for r in s.rows()]
    assert 3 <= len(kept) < total
    code, out, err = run_cli("lab", "run", str(spec), "--store", str(db), "--resume", "--inline")
    assert code == 0, err
    assert f"{len(kept)} already in" in out
    with Store(db) as s:
        rows = s.rows()
    keys = [r["cell_key"] for r in rows]
    assert (
        len(keys)
        == total
        == len(set(keys))
        == len({c.key for c in plan_cells(parse_spec(KILL_SPEC))})
    )
    assert [(r["cell_key"], r["finished_at"]) for r in rows[: len(kept)]] == kept  # none redone
    _cross_check(rows)


def test_a_real_dask_local_cluster_gives_the_inline_answers(tmp_path: Path) -> None:
    spec = parse_spec(TINY.split('[[families]]\nfamily = "clique')[0], "<dask>")
    dask = run_sweep(spec, tmp_path / "dask.db", workers=2, progress=False)
    inline = run_sweep(spec, tmp_path / "inline.db", inline=True, progress=False)
    assert dask.recorded == inline.recorded == spec.n_cells and dask.lost == 0
    with Store(tmp_path / "dask.db") as a, Store(tmp_path / "inline.db") as b:
        got = {r["cell_key"]: r["answer"] for r in a.rows()}
        want = {r["cell_key"]: r["answer"] for r in b.rows()}
    assert got == want
    assert not dask.disagreements


SLOW_SPEC = """\
name = "slow"
seed = 3
time_limit = 60
[[families]]
family = "cvp-thm3"
sizes = [6, 16]
seeds = 4
solvers = ["sat", "bruteforce"]
"""


def _live_in_group(pgid: int) -> list[int]:
    """Pids of the processes of group ``pgid`` that are not zombies (Linux /proc)."""
    live = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(d.name))
    return live


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("supervisor", ["1", "0"])
def test_sigterm_stops_a_dask_sweep_and_its_workers_within_a_second(
    tmp_path: Path, supervisor: str
) -> None:
    """With the supervisor (the program's default) and without it
    (``GENINV_NO_SUPERVISOR=1``: the sweep kills its workers' process trees itself)."""
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW_SPEC)
    db = tmp_path / "slow.db"
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "GENINV_NO_SUPERVISOR": "0" if supervisor == "1" else "1",
    }
    cmd = [sys.executable, "-m", "geninv.cli", "lab", "run", str(spec), "--store", str(db)]
    proc = subprocess.Popen(
        [*cmd, "--no-progress"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    count, deadline = 0, time.monotonic() + 60
    try:
        while count < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if db.exists():
                with contextlib.suppress(sqlite3.DatabaseError), Store(db) as s:
                    count = s.count()
        assert 8 <= count < 16 and proc.poll() is None  # n = 6 is in, n = 16 sat runs
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        stopped = time.monotonic() - t0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143 and "SIGTERM" in err
    assert stopped < 1.5, stopped
    time.sleep(0.3)
    assert _live_in_group(proc.pid) == []  # the Dask workers went with it
    with Store(db) as s:
        assert s.count() >= 8  # finished rows stay


def test_random_net_radius_below_the_certified_minimum_is_a_no() -> None:
    spec = parse_spec(
        'time_limit = 20\n[[families]]\nfamily = "random-net"\nsizes = [2]\n'
        'solvers = ["bab"]\n'
        "params = { hidden = 4, outputs = 3, fraction = 0.9, optimize_limit = 20 }\n",
        "<net>",
    )
    cell = plan_cells(spec)[0]
    row = run_cell(cell.to_dict())
    info = json.loads(row["instance_info"])
    assert info["certified"] and info["radius"] < info["lower_bound"] <= info["best_distance"]
    assert row["expected"] == "no" == row["answer"] and row["proof_basis"], row


@pytest.mark.parametrize("address", ["nonsense", "tcp://host", "http://a:1", "tcp://a:1 x"])
def test_a_bad_scheduler_address_is_one_line(tmp_path: Path, address: str) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(TINY)
    code, _, err = run_cli(
        "lab", "run", str(spec), "--store", str(tmp_path / "s.db"), "--scheduler", address
    )
    assert code == 2 and "--scheduler" in err and err.count("\n") == 1, err
    assert not (tmp_path / "s.db").exists()


def test_generators_are_seeded_and_planted_formulas_are_satisfiable() -> None:
    import numpy as np
    from pysat.solvers import Solver

    from geninv.lab.families import random_ksat

    for seed in range(20):
        f = random_ksat(12, 80, 3, np.random.default_rng(seed), planted=True)
        assert f == random_ksat(12, 80, 3, np.random.default_rng(seed), planted=True)
        assert len(f) == 80 and all(len({abs(v) for v in c}) == 3 for c in f)
        with Solver(name="cadical153", bootstrap_with=[list(c) for c in f]) as s:
            assert s.solve()  # 80 clauses on 12 variables: far above the threshold
    unplanted = [random_ksat(12, 80, 3, np.random.default_rng(s)) for s in range(20)]
    sat = 0
    for f in unplanted:
        with Solver(name="cadical153", bootstrap_with=[list(c) for c in f]) as s:
            sat += bool(s.solve())
    assert sat < 5  # without the planted assignment, density 6.7 is almost always unsat
    from geninv.lab import families

    a = build_instance("cvp-thm3", {"p": 2, "entries": 5, "offset": -1}, 6, 11)
    families._build_cached.cache_clear()  # rebuilt from scratch, not the worker's cache
    b = build_instance("cvp-thm3", {"p": 2, "entries": 5, "offset": -1}, 6, 11)
    assert a is not b and a.source == b.source and a.expected == "no"
    c = build_instance("cvp-thm3", {"p": 2, "entries": 5, "offset": -1}, 6, 12)
    assert c.source != a.source


def test_cadical_cell_keeps_its_time_limit() -> None:
    """python-sat's CaDiCaL ignores interrupt(): the source-solver cell runs it in a
    child that is killed at the cell's limit (a timer in the worker did not stop it:
    a 450-variable threshold formula ran past 40 s with a 1 s timer)."""
    import random
    import time

    from geninv.io.dimacs import CNF
    from geninv.lab.cells import _cadical

    rng = random.Random(3)
    n = 450
    clauses = tuple(
        tuple(v * rng.choice((1, -1)) for v in rng.sample(range(1, n + 1), 3))
        for _ in range(int(4.26 * n))
    )
    t0 = time.perf_counter()
    answer, _, _, reason = _cadical(CNF(n, clauses), 0.5)
    assert time.perf_counter() - t0 < 5.0
    assert answer == "unknown" and "time limit" in reason
    # a small formula is decided, and its model checked
    assert _cadical(CNF(3, ((1, 2), (-1, 3))), 5.0)[:2] == ("yes", "model")
    assert _cadical(CNF(1, ((1,), (-1,))), 5.0)[0] == "no"


def test_random_net_radius_is_rounded_safely_and_rebuilt_from_the_row() -> None:
    """A random-net radius is rounded to 3 significant digits in the direction that keeps
    the answer (up for a yes radius, down for a no radius), and ``radius=`` (the row's
    ``radius_exact``) rebuilds that row's instance without searching again."""
    from fractions import Fraction

    from geninv.lab.families import build_instance, round_radius

    for v in (Fraction(66459930983959, 10**15), Fraction(1, 3), Fraction(7, 10**9)):
        up, down = round_radius(v, up=True), round_radius(v, up=False)
        assert down <= v <= up and (up - down) <= v / 50
    assert round_radius(Fraction(1, 4), up=True) == Fraction(1, 4)
    text = """
name = "rn"
seed = 3
time_limit = 5
[[families]]
family = "random-net"
sizes = [3]
seeds = 1
solvers = ["sat"]
params = { fraction = 1.5, optimize_limit = 5 }
"""
    cell = plan_cells(parse_spec(text, "<rn>"))[0]
    import json

    params = json.loads(cell.params_json)
    first = build_instance("random-net", params, cell.n, cell.seed)
    assert first.problem is not None and first.expected == "yes"
    exact = first.info["radius_exact"]
    assert Fraction(exact) >= Fraction(first.info["best_distance"]) * Fraction(3, 2)
    again = build_instance("random-net", params, cell.n, cell.seed, radius=exact)
    assert again.problem is not None and again.info.get("rebuilt_from_radius")
    assert again.problem.threshold == first.problem.threshold
    assert again.problem.target == first.problem.target


def test_a_cell_that_kills_its_worker_is_lost_once_not_retried(tmp_path: Path) -> None:
    """The local cluster gives up on a task at the first worker that dies running it:
    the cell is lost (``--resume`` reruns it) instead of killing a worker per retry
    (Dask's default retries it three times: four attempts)."""
    import os

    from distributed import as_completed

    from geninv.lab.runner import dask_client

    attempts = tmp_path / "attempts"

    def crash(path: str) -> None:
        with open(path, "a") as f:
            f.write("x")
        os._exit(3)

    with dask_client(None, 1) as client:
        fut = client.submit(crash, str(attempts), pure=False)
        for done in as_completed([fut]):
            with pytest.raises(Exception, match=r"KilledWorker|worker"):
                done.result()
        assert attempts.read_text() == "x"  # one attempt, not four
        # the nanny restarted the worker: the cluster still runs cells
        assert client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
