"""One signal policy (issue 15, requirements 3-4): real ``geninv`` processes are started,
signalled with SIGINT / SIGTERM at seeded random moments, and inspected: exit status
130 / 143 within a second (asserted <= 2 s for CI slack), one line on stderr, no process
of the command's session left, no partial or temporary file.  Also the time and memory
limits, native crashes, and the enumerate time estimate."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geninv.cli import main

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and hasattr(os, "fork")),
    reason="the signal policy's supervisor needs fork and /proc (Linux)",
)

SRC = Path(__file__).resolve().parents[1] / "src"
#: Seconds allowed between the signal and the exit (the target is 1 s; CI machines are slow).
EXIT_SLACK = 2.0
TIMINGS: list[tuple[str, float]] = []


def random_cnf(path: Path, n: int, m: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = [f"p cnf {n} {m}"]
    for _ in range(m):
        vs = rng.sample(range(1, n + 1), 3)
        lines.append(" ".join(str(v if rng.random() < 0.5 else -v) for v in vs) + " 0")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("signals")
    out: dict[str, Path] = {}
    big = random_cnf(d / "r150.cnf", 150, 640, 1)
    out["real"] = d / "t2"
    assert main(["reduce", "sat", str(big), "--domain", "real", "-o", str(out["real"])]) == 0
    hard = random_cnf(d / "r400.cnf", 400, 1704, 2)
    out["sign"] = d / "t1"
    assert main(["reduce", "sat", str(hard), "-o", str(out["sign"]), "--expected", "unknown"]) == 0
    e40 = random_cnf(d / "r40.cnf", 40, 200, 3)
    out["e40"] = d / "e40"
    assert main(["reduce", "sat", str(e40), "-o", str(out["e40"]), "--expected", "unknown"]) == 0
    out["big_cnf"] = random_cnf(d / "r900.cnf", 900, 3800, 4)
    return out


def session_processes(sid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # session id; zombies are reaped
            pids.append(int(name))
    return pids


def wait_started(p: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until the supervisor has forked the command (or the process ended)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and p.poll() is None:
        if len(session_processes(p.pid)) >= 2:
            return
        time.sleep(0.02)


def signal_run(
    cwd: Path, argv: list[str], sig: int, delay: float, label: str
) -> tuple[int, float, str, str]:
    """Start ``geninv ARGV``, signal it ``delay`` s after the command started; check the rest."""
    before = sorted(os.listdir(cwd))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    p = subprocess.Popen(
        [sys.executable, "-m", "geninv.cli", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        wait_started(p)
        time.sleep(delay)
        assert p.poll() is None, f"{label}: ended before the signal: {p.communicate()}"
        t0 = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    TIMINGS.append((label, elapsed))
    left = session_processes(p.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"{label}: processes left: {left}"
    code = {signal.SIGINT: 130, signal.SIGTERM: 143}[signal.Signals(sig)]
    text = err.decode()
    assert p.returncode == code, (label, p.returncode, text)
    assert elapsed <= EXIT_SLACK, (label, elapsed)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines and "interrupted by SIG" in lines[-1], text
    assert sum("interrupted" in ln for ln in lines) == 1 and "Traceback" not in text, text
    assert sorted(os.listdir(cwd)) == before, (label, sorted(os.listdir(cwd)))
    return p.returncode, elapsed, out.decode(), text


CASES = [
    ("milp", "real", [], signal.SIGTERM),
    ("milp-scip", "real", [], signal.SIGINT),
    ("miqp", "real", [], signal.SIGTERM),
    ("adam", "real", ["--time-limit", "60"], signal.SIGINT),
    ("sat", "sign", ["--time-limit", "60"], signal.SIGTERM),  # CaDiCaL in a forked child
    ("sat", "sign", [], signal.SIGINT),  # in process: PySAT's own Ctrl-C handling
    ("enumerate", "e40", [], signal.SIGINT),
]


@pytest.mark.parametrize(
    ("method", "inst", "extra", "sig"), CASES, ids=[f"{c[0]}-{c[3].name}" for c in CASES]
)
def test_solve_signalled(
    data: dict[str, Path],
    tmp_path: Path,
    method: str,
    inst: str,
    extra: list[str],
    sig: int,
) -> None:
    rng = random.Random(f"{method}{sig}")
    # enumerate: after its plan and probe, so that the estimate line is out
    delay = rng.uniform(2.5, 3.0) if method == "enumerate" else rng.uniform(0.3, 1.2)
    argv = ["solve", str(data[inst]), "--method", method, "-o", "sol.json", *extra]
    _, _, _, err = signal_run(tmp_path, argv, sig, delay, f"solve {method} {extra}")
    if method == "enumerate":  # no time limit on 2^40 corners: the estimate came first
        assert "estimated" in err and "--time-limit" in err, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_reduce_signalled_while_writing(data: dict[str, Path], tmp_path: Path, sig: int) -> None:
    rng = random.Random(int(sig))
    for k in range(2):
        argv = ["reduce", "sat", str(data["big_cnf"]), "--domain", "real", "-o", "out"]
        argv += ["--expected", "unknown"]
        signal_run(tmp_path, argv, sig, rng.uniform(0.05, 0.6), f"reduce #{k} {sig!r}")


def test_sense_signalled(tmp_path: Path) -> None:
    argv = ["sense", "--digits", "200", "--measurements", "20", "--png", "grid.png"]
    signal_run(tmp_path, argv, signal.SIGTERM, 0.8, "sense")


NATIVE_ABORT = """
import os, sys, time
from geninv import guard
guard.exit_on_signals()
def run():
    with guard.signal_policy():
        try:
            os.write(1, b"ready\\n")
            time.sleep(30)
        except guard.Interrupted:
            # what pybind11 does when the handler's exception surfaces in C++ code
            sys.stderr.write("terminate called after throwing an instance of 'x'\\n")
            sys.stderr.flush()
            os.abort()
    return 0
sys.exit(guard.supervise(run))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_native_abort_after_signal(tmp_path: Path, sig: int) -> None:
    """A child that aborts in native code after the signal (as ``import torch`` can):
    still one line, the signal's exit status, none of the abort's noise."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    p = subprocess.Popen(
        [sys.executable, "-c", NATIVE_ABORT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    lines = [ln for ln in err.decode().splitlines() if ln.strip()]
    assert p.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signal.Signals(sig)]
    assert len(lines) == 1 and "interrupted by SIG" in lines[0], lines


def test_report_timings() -> None:
    """Prints the measured exit times (run with -s to see them)."""
    for label, seconds in TIMINGS:
        print(f"signal exit: {label:<28} {seconds:.3f} s")
    assert all(s <= EXIT_SLACK for _, s in TIMINGS)


# ------------------------------------------------------------------ limits
def solve_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    code = main(["solve", *argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


@pytest.mark.parametrize(
    ("method", "inst"),
    [("adam", "real"), ("milp", "real"), ("miqp", "real"), ("enumerate", "e40")],
)
def test_time_limit_met(data: dict[str, Path], tmp_path: Path, method: str, inst: str) -> None:
    """The program, as a user runs it: the reported seconds stay within 0.5 s of the limit."""
    argv = ["solve", str(data[inst]), "--method", method, "--time-limit", "1", "--json"]
    p = subprocess.run(
        [sys.executable, "-m", "geninv.cli", *argv],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert doc["status"] == "unknown", doc
    seconds = doc["seconds"]
    assert isinstance(seconds, float) and seconds <= 1.5, (method, seconds)
    print(f"--time-limit 1, {method}: reported {seconds:.3f} s")


def test_memory_limit_is_unknown(data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    doc = solve_json(capsys, str(data["e40"]), "--method", "enumerate", "--memory-limit", "1M")
    assert doc["status"] == "unknown"
    assert "memory limit" in str(doc["reason"]), doc


def test_memory_limit_argument(capsys: pytest.CaptureFixture[str], data: dict[str, Path]) -> None:
    code = main(["solve", str(data["e40"]), "--memory-limit", "lots"])
    _, err = capsys.readouterr()
    assert code == 2 and "--memory-limit" in err and len(err.strip().splitlines()) == 1


def test_native_crash_becomes_an_error_not_a_dead_process() -> None:
    from geninv.solvers import native

    with pytest.raises(native.NativeCrash, match="SIGABRT"):
        native.run_forked(os.abort, None, "test solver")
    with pytest.raises(native.NativeCrash, match="ValueError: bad"):
        native.run_forked(lambda: (_ for _ in ()).throw(ValueError("bad")), None, "test solver")
    with pytest.raises(native.NativeTimeout):
        native.run_forked(lambda: time.sleep(5), time.perf_counter() + 0.2, "test solver")
    assert native.run_forked(lambda: [1, 2], None, "test solver") == [1, 2]
    assert native.run_in_thread(lambda: 7) == 7


def test_enumerate_estimate(data: dict[str, Path]) -> None:
    from geninv.io.instance import load_instance
    from geninv.solvers.enumerate import estimate_seconds, make_plan

    problem = load_instance(data["e40"])
    plan = make_plan(problem)
    shard = plan.split(1)[0]
    est = estimate_seconds(plan, shard, "decide", 1)
    assert est is not None and est > 600  # 2^40 corners are hours of work, never seconds
