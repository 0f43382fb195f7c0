"""Shared helpers for the benchmark scripts in ``bench/``.

* this checkout's ``src/`` goes first on ``sys.path``, so a benchmark measures the
  code beside it even when the editable install points at another clone;
* :func:`run_geninv` times ``geninv.solvers.base.solve`` and turns refusals and
  crashes into table rows instead of tracebacks;
* :func:`sat_backend` imports the ``sat`` backend (it registers itself on import)
  and says why when it cannot;
* :func:`run_marabou` runs Marabou (``maraboupy``) on an ONNX + VNN-LIB pair in a
  child process that is killed ``MARABOU_GRACE`` seconds after the time limit
  (Marabou's own ``timeoutInSeconds`` has been seen to overrun by minutes);
* :func:`make_table` / :func:`print_table` (rich), :func:`save_csv`,
  :func:`pyplot` (matplotlib, imported lazily; None when missing), :func:`fit_exponential`,
  :func:`machine_line`.

Run as a script (``python bench/common.py --marabou-child ...``) it is the Marabou
child process; nothing else uses that entry point.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
SHARED = ROOT.parent / "shared" / "data"

if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

#: Seconds Marabou may run past its time limit before its process is killed.
MARABOU_GRACE = 1.0
#: Seconds the Marabou child may take to start (Python + maraboupy import).
STARTUP_CAP = 120.0


# ------------------------------------------------------------------ results
@dataclass
class Run:
    """One solver run: status is yes / no / unknown, or refused / error / n/a."""

    solver: str
    status: str
    seconds: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def solved(self, limit: float) -> bool:
        """A definite answer within the time limit."""
        return self.status in ("yes", "no") and self.seconds <= limit


def run_geninv(
    problem: Any,
    method: str,
    limit: float,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    label: str | None = None,
    trust_solver: bool = False,
) -> Run:
    """Time ``solve(problem, method)``; refusals and crashes become rows, not tracebacks.

    ``trust_solver`` accepts a floating-point solver's ``no`` (marked ``trusted`` in
    the row's ``extra``), as ``geninv solve --trust-solver`` does."""
    from geninv.errors import GeninvError
    from geninv.solvers.base import solve

    name = label or method
    t0 = time.perf_counter()
    try:
        sol = solve(
            problem,
            method,
            time_limit=limit,
            seed=seed,
            options=options,
            trust_solver=trust_solver,
        )
    except GeninvError as exc:
        return Run(name, "refused", time.perf_counter() - t0, str(exc).splitlines()[0][:160])
    except Exception as exc:  # a benchmark reports, it does not stop
        tb = traceback.format_exc().strip().splitlines()[-1]
        return Run(name, "error", time.perf_counter() - t0, f"{type(exc).__name__}: {tb[:160]}")
    secs = time.perf_counter() - t0
    extra = {k: v for k, v in sol.stats.items() if isinstance(v, (int, float, str))}
    if sol.distance is not None:
        extra["distance"] = sol.distance
    if sol.proof is not None and "trusted" in sol.proof:
        extra["trusted"] = sol.proof["trusted"]
    note = sol.reason or ""
    if method == "auto":
        chosen = str(sol.stats.get("auto", sol.method)).split(":")[0]
        inner = sol.stats.get("binary_solution")
        if isinstance(inner, dict) and inner.get("method"):
            chosen += f"+{inner['method']}"  # corner presolve, then this binary backend
        extra["chosen"] = chosen
    return Run(name, str(sol.status), secs, note, extra)


_SAT_STATE: tuple[bool, str] | None = None


def sat_backend() -> tuple[bool, str]:
    """(usable, why not) for the ``sat`` backend, importing it so that it registers."""
    global _SAT_STATE
    if _SAT_STATE is None:
        try:
            import geninv.solvers.sat  # noqa: F401
            from geninv.solvers.base import REGISTRY

            if "sat" not in REGISTRY:
                _SAT_STATE = (False, "geninv.solvers.sat imported but registered no 'sat'")
            elif not REGISTRY["sat"].available():
                missing = ", ".join(REGISTRY["sat"].missing_modules())
                _SAT_STATE = (False, f"needs {missing}")
            else:
                _SAT_STATE = (True, "")
        except Exception as exc:  # any import failure: "not available"
            _SAT_STATE = (False, f"import failed: {type(exc).__name__}: {exc}"[:160])
    return _SAT_STATE


def not_available(solver: str, why: str) -> Run:
    return Run(solver, "n/a", math.nan, why)


# ------------------------------------------------------------------ Marabou
_MARABOU_STATE: tuple[bool, str] | None = None


def marabou_available() -> tuple[bool, str]:
    """(usable, why not): imports ``maraboupy`` in a child process (its import is noisy)."""
    global _MARABOU_STATE
    if _MARABOU_STATE is None:
        code = "import maraboupy.Marabou, maraboupy.MarabouCore, importlib.metadata as m; "
        code += "print(m.version('maraboupy'))"
        try:
            res = subprocess.run(
                [sys.executable, "-W", "ignore", "-c", code],
                capture_output=True,
                text=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _MARABOU_STATE = (False, f"cannot start: {exc}")
        else:
            if res.returncode == 0:
                _MARABOU_STATE = (True, f"maraboupy {res.stdout.strip()}")
            else:
                last = (res.stderr.strip().splitlines() or ["?"])[-1]
                _MARABOU_STATE = (False, f"maraboupy does not import: {last[:120]}")
    return _MARABOU_STATE


def run_marabou(onnx: Path, vnnlib: Path, limit: float) -> Run:
    """Marabou on (ONNX, VNN-LIB): sat -> yes, unsat -> no, timeout -> unknown.

    ``seconds`` is measured in the child from reading the ONNX file to the end of
    the solve (Python start-up and the maraboupy import are not counted).  Marabou
    gets ``timeoutInSeconds = ceil(limit)``, but it overruns that by minutes at
    times, so the child is also killed ``MARABOU_GRACE`` seconds after ``limit``
    (counted from the moment it starts reading the network).  With ``sat`` the
    input values come back in ``extra["z"]``.
    """
    ok, why = marabou_available()
    if not ok:
        return not_available("marabou", why)
    with tempfile.TemporaryDirectory(prefix="marabou-") as tmp:
        result = Path(tmp) / "result.json"
        started = Path(tmp) / "started"
        cmd = [
            sys.executable,
            "-W",
            "ignore",
            str(Path(__file__).resolve()),
            "--marabou-child",
            str(Path(onnx).resolve()),
            str(Path(vnnlib).resolve()),
            str(max(1, math.ceil(limit))),
            str(result),
        ]
        errors = Path(tmp) / "stderr.txt"
        t0 = time.perf_counter()
        with open(errors, "w") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=tmp)
            t_started: float | None = None
            while proc.poll() is None:
                now = time.perf_counter()
                if t_started is None and started.exists():
                    t_started = now
                cap = STARTUP_CAP if t_started is None else limit + MARABOU_GRACE
                if now > (t_started or t0) + cap:
                    proc.kill()
                    proc.wait()
                    what = "start-up" if t_started is None else "its time limit"
                    note = f"killed: overran {what} (Marabou's own timeout did not stop it)"
                    return Run("marabou", "unknown", time.perf_counter() - (t_started or t0), note)
                time.sleep(0.02)
        wall = time.perf_counter() - t0
        if not result.is_file():
            lines = errors.read_text().strip().splitlines() or [f"exit {proc.returncode}"]
            return Run("marabou", "error", wall, lines[-1][:160])
        doc = json.loads(result.read_text())
    raw = str(doc["result"])
    status = {"sat": "yes", "unsat": "no"}.get(raw, "unknown")
    note = "" if status != "unknown" else f"Marabou: {raw}"
    extra: dict[str, Any] = {"raw": raw, "wall_with_startup": wall}
    if doc.get("z") is not None:
        extra["z"] = doc["z"]
    return Run("marabou", status, float(doc["seconds"]), note, extra)


def _marabou_child(onnx: str, vnnlib: str, timeout: str, out: str) -> None:
    from maraboupy import Marabou

    Path(out).with_name("started").touch()
    t0 = time.perf_counter()
    net = Marabou.read_onnx(onnx)
    options = Marabou.createOptions(timeoutInSeconds=int(timeout), verbosity=0)
    res, vals, _ = net.solve(options=options, propertyFilename=vnnlib, verbose=False)
    secs = time.perf_counter() - t0
    z = None
    if res == "sat":
        z = [float(vals[int(v)]) for v in net.inputVars[0].flatten()]
    Path(out).write_text(json.dumps({"result": res, "seconds": secs, "z": z}))


def check_witness(problem: Any, z: Sequence[float]) -> tuple[bool, float]:
    """Exact re-check of a foreign witness: (meets the threshold, distance in floats)."""
    chk = problem.exact_check([Fraction(v) for v in z])
    return bool(chk.meets), float(chk.distance) if chk.distance is not None else math.nan


# ------------------------------------------------------------------ timing & stats
def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    res = fn()
    return res, time.perf_counter() - t0


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


def fmt_s(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    return f"{seconds:.0f} s"


def fmt_x(ratio: float) -> str:
    if math.isnan(ratio):
        return "-"
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def fit_exponential(points: Sequence[tuple[float, float]], floor: float = 0.05) -> dict[str, Any]:
    """Least squares fit of log2(time) = a + b n on the points with time > ``floor``.

    Returns ``{"a", "b", "base" (= 2^b), "points"}``; a, b, base are nan with fewer
    than two such points at distinct n.
    """
    pts = [(n, t) for n, t in points if t > floor and math.isfinite(t)]
    out: dict[str, Any] = {"a": math.nan, "b": math.nan, "base": math.nan, "points": len(pts)}
    if len({n for n, _ in pts}) < 2:
        return out
    xs = [float(n) for n, _ in pts]
    ys = [math.log2(t) for _, t in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    out.update(a=my - b * mx, b=b, base=2.0**b)
    return out


# ------------------------------------------------------------------ output
def machine_line() -> str:
    """CPU, cores, load, date, Python and solver versions, in one line."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    versions = []
    for mod in ("highspy", "python-sat", "pyscipopt", "torch"):
        with contextlib.suppress(Exception):
            import importlib.metadata as md

            versions.append(f"{mod} {md.version(mod)}")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [f"{cpu}, {os.cpu_count()} CPUs, load avg {load}", when]
    return "; ".join([*head, f"Python {platform.python_version()}", *versions])


def apply_preset(args: Any, preset: dict[str, Any]) -> None:
    """Fill every option still ``None`` in ``args`` from ``preset`` (quick or default run)."""
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def output_args(ap: Any, quick_help: str, out: bool = True) -> None:
    """The options every script shares: ``--quick``, ``--no-plot`` and (``out``) ``--out``."""
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--no-plot", action="store_true")
    if out:
        ap.add_argument("--out", help="output folder (default bench/out)")


def output_name(args: Any, stem: str) -> str:
    """Point the output folder at ``--out`` if given; the file stem (``STEM-quick`` if --quick)."""
    global OUT
    if getattr(args, "out", None):
        OUT = Path(args.out)
    return f"{stem}-quick" if args.quick else stem


def make_table(title: str, columns: Sequence[str], caption: str | None = None) -> Any:
    """A rich table; title, caption and headers are plain text (no rich markup)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=escape(title),
        caption=None if caption is None else escape(caption),
        caption_justify="left",
    )
    for i, col in enumerate(columns):
        table.add_column(escape(col), justify="left" if i == 0 else "right")
    return table


def add_row(table: Any, *cells: Any) -> None:
    """Add a row of plain-text cells ('[milp]' stays as written, not read as markup)."""
    from rich.text import Text

    table.add_row(*(Text(str(c)) for c in cells))


_CONSOLE: Any = None


def console() -> Any:
    """One recording rich console; :func:`save_text` writes what it printed."""
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(width=200, record=True)
    return _CONSOLE


def print_table(table: Any) -> None:
    console().print(table)


def say(*lines: str) -> None:
    for line in lines:
        console().print(line, highlight=False, markup=False)


def save_text(name: str) -> Path:
    """Everything printed through :func:`console` so far, as plain text in bench/out."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.txt"
    path.write_text(console().export_text(clear=False))
    return path


def save_csv(name: str, rows: list[dict[str, Any]]) -> Path | None:
    if not rows:
        return None
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.csv"
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())
    return path


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend, or None (and a note) when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    return plt


def save_figure(fig: Any, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    say(f"wrote {os.path.relpath(path)}")
    return path


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--marabou-child":
        _marabou_child(*sys.argv[2:])
    else:
        raise SystemExit("usage: common.py --marabou-child ONNX VNNLIB TIMEOUT OUT.json")
