"""Issue 15's targets for signals and limits, measured on real ``geninv`` processes.

Part ``signals``: SIGINT / SIGTERM at ``--trials`` seeded random moments (0-3 s
after the start) of ``reduce``, ``solve`` (every backend) and ``sense``.  A
signal in the first ~0.1 s, while Python itself starts and before geninv's
handlers exist, gets the default disposition (the process dies of the signal,
having written nothing); such trials are counted as ``startup``.  For each trial: the exit
status (130 / 143 wanted), seconds from the signal to the exit (<= 1 wanted),
processes of the command's session left, files left in its working directory,
and the lines it printed on stderr.

Part ``limits``: ``solve --time-limit 2`` on the Theorem 2 network of SATLIB
uuf250-01 and the Theorem 6 (Half-Clique, p = 2) instance of DIMACS p_hat300-1,
with every backend and ``auto``: the seconds the solution reports (<= 2.5
wanted), the wall time of the process, and the status.

    python bench/bench_limits.py [--parts signals,limits] [--trials 20] [--seed 0]

Data: ``--data`` (default ``../shared/data`` beside this checkout, see
SOURCES.md there).  Instances are built once into ``--workdir``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def geninv(*argv: str) -> list[str]:
    return [sys.executable, "-m", "geninv.cli", *argv]


def session(sid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(name))
    return out


def build(work: Path, data: Path) -> dict[str, Path]:
    cnf = data / "cnf" / "uuf250-1065" / "uuf250-01.cnf"
    graph = data / "graphs" / "dimacs_clique" / "p_hat300-1.clq"
    inst = {
        "uuf250-01 T2": (
            work / "uuf250-01-t2",
            ["reduce", "sat", str(cnf), "--domain", "real", "--expected", "no"],
        ),
        "uuf250-01 T1": (work / "uuf250-01-t1", ["reduce", "sat", str(cnf), "--expected", "no"]),
        "p_hat300-1 T6": (
            work / "p_hat300-1-t6",
            [
                *("reduce", "clique", str(graph), "--half", "--p", "2"),
                *("--domain", "real", "--expected", "unknown"),
            ],
        ),
    }
    # enumerate takes n <= 40: a random 3-SAT formula with 40 variables (seeded)
    rng = random.Random(40)
    r40 = work / "random-40.cnf"
    clauses = [
        " ".join(str(v if rng.random() < 0.5 else -v) for v in rng.sample(range(1, 41), 3)) + " 0"
        for _ in range(200)
    ]
    r40.write_text("p cnf 40 200\n" + "\n".join(clauses) + "\n")
    inst["random-40 T1"] = (
        work / "random-40-t1",
        ["reduce", "sat", str(r40), "--expected", "unknown"],
    )
    out: dict[str, Path] = {"cnf": cnf}
    for name, (path, argv) in inst.items():
        if not (path / "problem.json").is_file():
            t0 = time.perf_counter()
            subprocess.run(geninv(*argv, "-o", str(path)), check=True, env=ENV)
            print(f"built {name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        out[name] = path
    return out


def backends() -> list[str]:
    sys.path.insert(0, str(SRC))
    from geninv.solvers.base import REGISTRY, _load_builtin_backends

    _load_builtin_backends()
    return sorted(REGISTRY)


# ------------------------------------------------------------------ signals
def signal_trials(inst: dict[str, Path], trials: int, seed: int, work: Path) -> list[list[str]]:
    t2, t1 = str(inst["uuf250-01 T2"]), str(inst["uuf250-01 T1"])
    commands: list[tuple[str, list[str]]] = [
        ("reduce sat T2", ["reduce", "sat", str(inst["cnf"]), "--domain", "real", "-o", "out"]),
        ("sense digits", ["sense", "--digits", "200", "--measurements", "20", "--png", "g.png"]),
    ]
    for m in ("milp", "milp-scip", "miqp", "adam", "pgd", "admm", "auto"):
        commands.append((f"solve {m}", ["solve", t2, "--method", m, "-o", "sol.json"]))
    commands.append(("solve sat", ["solve", t1, "--method", "sat", "--time-limit", "60"]))
    e40 = str(inst["random-40 T1"])
    commands.append(("solve enumerate", ["solve", e40, "--method", "enumerate", "-o", "s.json"]))
    rng = random.Random(seed)
    rows = []
    for k in range(trials):
        label, argv = commands[k % len(commands)]
        sig = signal.SIGINT if k % 2 == 0 else signal.SIGTERM
        moment = rng.uniform(0.0, 3.0)
        cwd = Path(tempfile.mkdtemp(prefix="trial-", dir=work))
        p = subprocess.Popen(
            geninv(*argv),
            cwd=cwd,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        time.sleep(moment)
        finished_first = p.poll() is not None
        t0 = time.monotonic()
        if not finished_first:
            p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        exit_s = time.monotonic() - t0
        time.sleep(0.05)
        left = session(p.pid)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        files = sorted(os.listdir(cwd))
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        want = 130 if sig == signal.SIGINT else 143
        ok = (
            not finished_first
            and p.returncode == want
            and exit_s <= 1.0
            and not left
            and not files
            and sum("interrupted" in ln for ln in lines) == 1
            and not any("Traceback" in ln for ln in lines)
        )
        rows.append(
            [
                str(k),
                label,
                sig.name,
                f"{moment:.2f}",
                str(p.returncode),
                "-" if finished_first else f"{exit_s:.3f}",
                str(len(left)),
                ",".join(files) or "-",
                str(len(lines)),
                "finished first"
                if finished_first
                else "ok"
                if ok
                else "startup"
                if p.returncode in (-signal.SIGINT, -signal.SIGTERM) and not left and not files
                else "FAIL",
            ]
        )
        print("  ".join(rows[-1]), file=sys.stderr)
    return rows


# ------------------------------------------------------------------ limits
def limit_runs(inst: dict[str, Path], names: list[str], limit: float) -> list[list[str]]:
    rows = []
    lim = f"{limit:g}"
    for iname in ("uuf250-01 T2", "p_hat300-1 T6"):
        for m in ["auto", *names]:
            t0 = time.perf_counter()
            p = subprocess.run(
                [*geninv("solve", str(inst[iname]), "--method", m, "--json", "--time-limit", lim)],
                env=ENV,
                capture_output=True,
                timeout=600,
            )
            wall = time.perf_counter() - t0
            status, seconds, note = "error", "-", ""
            if p.returncode == 0:
                doc = json.loads(p.stdout)
                status, seconds = doc["status"], f"{doc['seconds']:.3f}"
                note = (doc.get("reason") or "")[:70]
                verdict = "ok" if doc["seconds"] <= limit + 0.5 else "SLOW"
            else:
                note = p.stderr.decode(errors="replace").strip().splitlines()[-1][:70]
                verdict = "refused" if p.returncode == 2 else "CRASH"
            rows.append(
                [iname, m, str(p.returncode), status, seconds, f"{wall:.2f}", verdict, note]
            )
            print("  ".join(rows[-1]), file=sys.stderr)
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
        + [fmt.format(*r) for r in rows]
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="signals,limits")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=2.0)
    ap.add_argument("--methods", help="comma list (default: every backend)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "limits"))
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    inst = build(work, Path(args.data))
    parts = set(args.parts.split(","))
    text: list[str] = []
    if "signals" in parts:
        rows = signal_trials(inst, args.trials, args.seed, work)
        header = ["#", "command", "signal", "at s", "rc", "exit s", "procs", "files", "lines", ""]
        text.append(table(header, rows))
        count = {v: sum(r[-1] == v for r in rows) for v in ("ok", "startup", "FAIL")}
        text.append(
            f"signals: {count['ok']} ok of {len(rows)}; {count['startup']} during Python's "
            "startup, before geninv's handlers exist (default disposition: killed by the "
            f"signal, nothing written); {count['FAIL']} FAIL\n"
        )
    if "limits" in parts:
        names = args.methods.split(",") if args.methods else backends()
        rows = limit_runs(inst, names, args.limit)
        header = ["instance", "method", "rc", "status", "reported s", "wall s", "", "reason"]
        text.append(table(header, rows))
    print("\n".join(text))
    (work.parent / "limits.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
