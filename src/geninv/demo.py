"""``geninv demo``: the main job on bundled data.

Runs the CLI pipeline ``reduce -> solve -> check -> extract`` on two bundled
random 3-SAT formulas (one satisfiable, one not), through Theorem 1 (sign
latents, decided by enumeration) and Theorem 2 (real latents, decided by the
backend ``auto`` picks: the corner presolve, which turns the clamped real
latents into binary ones for the SAT or enumeration backend), printing each
command and what it said; then compressed sensing of 8x8 test digits with the
bundled fully connected generator (``sensing.png``) and inpainting of 28x28
held-out MNIST digits with half their pixels missing with the bundled
convolutional generator (``inpainting.png``), each against its baselines.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _data_file(name: str) -> Path:
    return Path(str(resources.files("geninv") / "data" / name))


def _run(console: Console, main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    console.print(f"[bold cyan]$ geninv {shlex.join(argv)}[/]")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    out = buf.getvalue()
    for line in out.splitlines():
        console.print(f"  {line}", markup=False, highlight=False)
    console.print(f"  [dim](exit {code})[/]")
    return code, out


#: The inpainting panel: held-out 28x28 digits (a 0, 1, ..., 5), fraction missing, and
#: adam's budget (float32 torch ops: about a second per digit on one core).
PANEL_DIGITS = 6
PANEL_MISSING = 0.5
PANEL_OPTIONS = ("steps=100", "restarts=2", "dtype=float32")


def _mean_errors(out: str) -> tuple[float, float, float] | None:
    """``geninv sense``'s mean per-pixel errors: (geninv, Lasso, trivial estimate)."""
    mean = [ln for ln in out.splitlines() if ln.startswith("mean per-pixel error")]
    trivial = [ln for ln in out.splitlines() if ln.startswith("trivial estimate")]
    if not (mean and trivial):
        return None
    tail = mean[0].split(": ", 1)[1]  # "geninv X, Lasso Y (ratio R x)"
    g = float(tail.split("geninv ", 1)[1].split(",", 1)[0])
    lasso = float(tail.split("Lasso ", 1)[1].split(" ", 1)[0])
    t = float(trivial[0].rsplit("error ", 1)[1])
    return g, lasso, t


def _inpainting(
    console: Console,
    main: Callable[[list[str]], int],
    root: Path,
    rows: list[tuple[str, str, str, str, str]],
) -> int:
    """The inpainting panel (``inpainting.png``: truth, masked input, geninv); 1 when
    geninv's mean per-pixel error is not below half the masked input's (the trivial
    estimate, missing pixels 0) and below the pixel-basis Lasso's, else 0."""
    pct = round(100 * PANEL_MISSING)
    console.rule(
        f"inpainting: {PANEL_DIGITS} held-out 28x28 MNIST digits, {pct}% of pixels missing, "
        "convolutional generator"
    )
    png = root / "inpainting.png"
    argv = [
        "sense",
        "--conv-digits",
        str(PANEL_DIGITS),
        "--operator",
        "inpaint",
        "--missing",
        str(PANEL_MISSING),
        "--seed",
        "0",
    ]
    for opt in PANEL_OPTIONS:
        argv += ["--option", opt]
    code, out = _run(console, main, [*argv, "--png", str(png), "--force"])
    errs = _mean_errors(out) if code == 0 else None
    if errs is None:
        rows.append(("inpainting", "sense --conv-digits", "panel", "failed", f"exit {code}"))
        return 1
    g, lasso, trivial = errs
    ok = g < 0.5 * trivial and g < lasso
    rows.append(
        (
            f"{PANEL_DIGITS} held-out MNIST digits",
            f"inpainting {pct}% (adam)",
            "beats masked input",
            "yes" if ok else "no",
            f"per-pixel error geninv {g:.4f}, masked input {trivial:.4f}, Lasso {lasso:.4f}; "
            f"panel in {png}",
        )
    )
    return 0 if ok else 1


def run_demo(main: Callable[[list[str]], int], workdir: str | None = None) -> int:
    """Run the demo through ``main`` (the ``geninv`` program's entry point, passed in by
    the CLI: this module does not import it)."""
    console = Console()
    root = Path(workdir if workdir is not None else "geninv-demo")
    root.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str, str, str]] = []
    failures = 0
    for name in ("demo-sat.cnf", "demo-unsat.cnf"):
        cnf = _data_file(name)
        stem = name.removesuffix(".cnf")
        for domain, theorem, method in (
            ("sign", "Theorem 1", "enumerate"),
            ("real", "Theorem 2", "auto"),
        ):
            inst = root / f"{stem}-{domain}"
            console.rule(f"{name}: {theorem} ({domain} latents)")
            _run(
                console,
                main,
                ["reduce", "sat", str(cnf), "--domain", domain, "-o", str(inst), "--force"],
            )
            _run(console, main, ["info", str(inst)])
            expected = json.loads((inst / "problem.json").read_text())["source"]["expected"]
            witness = root / f"{stem}-{domain}-solution.json"
            _run(
                console,
                main,
                [
                    "solve",
                    str(inst),
                    "--method",
                    method,
                    "--verbose",
                    "-o",
                    str(witness),
                    "--force",
                ],
            )
            sol = json.loads(witness.read_text())
            status = sol["status"]
            ok = status == expected
            detail = f"{sol['method']}, {sol['seconds']:.2f} s"
            if status == "yes":
                c1, _ = _run(console, main, ["check", str(inst), str(witness)])
                c2, _ = _run(console, main, ["extract", str(inst), str(witness)])
                ok = ok and c1 == 0 and c2 == 0
                detail += "; witness checked exactly and mapped to a satisfying assignment"
            elif status == "no":
                detail += f"; proof: {sol['proof']['kind']}"
            rows.append((name, theorem, str(expected), status, detail))
            failures += 0 if ok else 1
    console.rule("compressed sensing: 8x8 test digits from 20 of 64 measurements")
    png = root / "sensing.png"
    code, out = _run(
        console,
        main,
        [
            "sense",
            "--digits",
            "6",
            "--measurements",
            "20",
            "--seed",
            "0",
            "--png",
            str(png),
            "--force",
        ],
    )
    mean_line = [ln for ln in out.splitlines() if ln.startswith("mean per-pixel error")]
    if code == 0 and mean_line:
        ratio = float(mean_line[0].rsplit("(ratio ", 1)[1].split("x")[0])
        ok = ratio > 1.5
        rows.append(
            (
                "6 held-out digits",
                "sensing (adam)",
                "beats Lasso",
                "yes" if ok else "no",
                mean_line[0].split(": ", 1)[1] + f"; grid in {png}",
            )
        )
        failures += 0 if ok else 1
    else:
        failures += 1
    failures += _inpainting(console, main, root, rows)
    table = Table(title="geninv demo")
    for col in ("formula", "reduction", "expected", "solver said", "details"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        f"all answers as expected (SAT answers agree with PySAT); outputs in {root}"
        if failures == 0
        else f"[red]{failures} unexpected result(s)[/]"
    )
    return 0 if failures == 0 else 1
