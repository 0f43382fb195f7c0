"""Run one lab sweep on a separately started Dask cluster and compare it with a local run.

    python bench/lab_cluster.py [--spec examples/lab.toml] [--workers 2]

Starts ``dask scheduler`` and ``--workers`` separate ``dask worker`` processes (one
process, one thread each), runs ``geninv lab run SPEC --scheduler tcp://...`` into one
store and ``geninv lab run SPEC`` (the default local cluster) into another, then compares
the two stores cell by cell: the same cell keys, and for each cell the same answer and
proof kind.  A cell decided in one run and *unknown* in the other (a time limit, or an
approximate backend that found no witness within its budget) is reported apart, with the
reason: a timing difference on a shared machine, not a disagreement.  A *yes* against a
*no*, or a cell in one store only, is a difference.  Exit status 1 when the
stores differ otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(db: Path) -> dict[str, tuple[str, str | None, str]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        got = con.execute("SELECT cell_key, answer, proof_kind, reason FROM cells").fetchall()
    finally:
        con.close()
    return {k: (a, pk, r or "") for k, a, pk, r in got}


def _wait_port(port: int, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the dask scheduler did not open port {port} in {seconds:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default="examples/lab.toml")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="geninv-lab-cluster-"))
    port, dash = _free_port(), _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [
                str(bindir / "dask"),
                "scheduler",
                "--port",
                str(port),
                "--dashboard-address",
                f":{dash}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        _wait_port(port, 60)
        for i in range(args.workers):
            procs.append(
                subprocess.Popen(
                    [
                        str(bindir / "dask"),
                        "worker",
                        address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--name",
                        f"w{i}",
                        "--no-dashboard",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        time.sleep(5)
        lab = [sys.executable, "-m", "geninv", "lab", "run", args.spec, "--no-progress"]
        t0 = time.perf_counter()
        rc = subprocess.run(
            [*lab, "--store", str(work / "cluster.db"), "--scheduler", address],
            capture_output=True,
            text=True,
            check=False,
        )
        t_cluster = time.perf_counter() - t0
        print(f"cluster ({args.workers} workers, {t_cluster:.1f} s): {rc.stdout.strip()}")
        if rc.returncode:
            print(rc.stderr.strip()[-800:])
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    t0 = time.perf_counter()
    rl = subprocess.run(
        [*lab, "--store", str(work / "local.db")], capture_output=True, text=True, check=False
    )
    print(f"local ({time.perf_counter() - t0:.1f} s): {rl.stdout.strip()}")
    a, b = _rows(work / "cluster.db"), _rows(work / "local.db")
    differ, timing = [], []
    for key in sorted(set(a) | set(b)):
        ra, rb = a.get(key), b.get(key)
        if ra is None or rb is None:
            differ.append(f"{key}: only in the {'local' if ra is None else 'cluster'} store")
        elif ra[:2] != rb[:2]:
            if "unknown" in (ra[0], rb[0]):
                why = ra[2] if ra[0] == "unknown" else rb[2]
                timing.append(f"{key}: cluster {ra[0]}, local {rb[0]} ({why[:120]})")
            else:
                differ.append(f"{key}: cluster {ra[:2]}, local {rb[:2]}")
    for line in differ[:20]:
        print("DIFFER:", line)
    for line in timing[:20]:
        print("decided in one run only:", line)
    print(
        f"{len(a)} cluster rows, {len(b)} local rows, {len(differ)} differing, "
        f"{len(timing)} decided in one run only; "
        f"verdict: {'FAIL' if differ or rc.returncode else 'ok'}"
    )
    return 1 if differ or rc.returncode else 0


if __name__ == "__main__":
    raise SystemExit(main())
