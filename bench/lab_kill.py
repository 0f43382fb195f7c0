"""Kill a lab sweep with SIGKILL at random moments, resume it, and check the store.

    python bench/lab_kill.py [--kills 5] [--seed 0] [--spec SPEC.toml] [--inline]

Runs ``geninv lab run SPEC --store DB --resume`` (``geninv lab quick`` when no spec is
given) in its own process group, kills the whole group with SIGKILL after a seeded random
delay, ``--kills`` times, then lets one last ``--resume`` finish.  After every kill it
snapshots the store's rows (id, cell key, finished_at); at the end it checks that

* every planned cell is in the store exactly once (row count = distinct keys = planned);
* every row seen after a kill is still there, unchanged (same id and finish time): a
  resumed sweep neither lost nor rewrote a finished cell;
* the last run reports ``K already in`` the store for the K rows present when it started
  and records exactly the rest (``recorded now`` = planned - K): nothing was redone;
* no process of a killed sweep survives it (no orphaned worker or solver child).

Prints one line per kill and a verdict; exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rows(db: Path) -> dict[str, tuple[int, str]]:
    """cell_key -> (id, finished_at) of every row of the store (empty when none yet)."""
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        got = con.execute("SELECT cell_key, id, finished_at FROM cells").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
    out: dict[str, tuple[int, str]] = {}
    for key, rid, fin in got:
        if key in out:
            raise SystemExit(f"FAIL: cell {key} recorded twice")
        out[key] = (rid, fin)
    return out


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spec", default=None, help="a spec TOML (default: geninv lab quick)")
    ap.add_argument("--min-delay", type=float, default=3.0)
    ap.add_argument("--max-delay", type=float, default=20.0)
    ap.add_argument("--inline", action="store_true", help="run cells in the sweep's process")
    ap.add_argument("--dir", default=None, help="where to keep the store (default: a temp dir)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.dir or tempfile.mkdtemp(prefix="geninv-lab-kill-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "lab.db"
    base = [sys.executable, "-m", "geninv", "lab"]
    base += ["run", args.spec] if args.spec else ["quick"]
    cmd = [*base, "--store", str(db), "--resume", "--no-progress"]
    if args.inline:
        cmd.append("--inline")
    snapshots: list[dict[str, tuple[int, str]]] = []
    failures: list[str] = []
    for k in range(args.kills):
        delay = rng.uniform(args.min_delay, args.max_delay)
        before = len(_rows(db))
        proc = subprocess.Popen(
            cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            proc.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        t_end = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < t_end:
            time.sleep(0.1)
        if _group_alive(proc.pid):
            failures.append(f"kill {k + 1}: processes of the killed sweep survived")
        snap = _rows(db)
        for prev in snapshots:
            for key, val in prev.items():
                if snap.get(key) != val:
                    failures.append(f"kill {k + 1}: row {key} changed or vanished")
        snapshots.append(snap)
        state = "finished before the kill" if finished else f"SIGKILL after {delay:.1f} s"
        if finished and proc.returncode != 0:
            assert proc.stdout is not None
            tail = proc.stdout.read().decode(errors="replace").strip()[-300:]
            failures.append(f"run {k + 1}: exit {proc.returncode}: {tail}")
        print(f"run {k + 1}: {state}; rows {before} -> {len(snap)}", flush=True)
    start = len(_rows(db))
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    text = done.stdout + done.stderr
    print(f"final run ({time.perf_counter() - t0:.1f} s): {done.stdout.strip()}")
    m = re.search(r"(\d+) cells, (\d+) already in .*?, (\d+) recorded now, (\d+) lost", text)
    final = _rows(db)
    if done.returncode != 0 or m is None:
        failures.append(f"final run: exit {done.returncode}: {text.strip()[-500:]}")
    else:
        planned, skipped, recorded, lost = (int(g) for g in m.groups())
        if skipped != start:
            failures.append(f"final run skipped {skipped}, but {start} rows were there")
        if recorded != planned - start or lost:
            failures.append(f"final run recorded {recorded} (lost {lost}), want {planned - start}")
        if len(final) != planned:
            failures.append(f"store holds {len(final)} cells, the spec plans {planned}")
    for i, prev in enumerate(snapshots):
        for key, val in prev.items():
            if final.get(key) != val:
                failures.append(f"row {key} (seen after run {i + 1}) changed or vanished")
    for f in failures[:20]:
        print("FAIL:", f)
    print(
        f"{args.kills} runs, {sum(1 for s in snapshots if s)} snapshots, {len(final)} cells "
        f"in the store, each once; verdict: {'FAIL' if failures else 'ok'} (store: {db})"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
