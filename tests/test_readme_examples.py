"""Every shell command of the README runs as written (issue 16), on a copy of examples/.

The README's ```bash blocks are read in order; continuation lines (``\\``) are joined
and ``#`` comments dropped (``shlex``).  Each command runs in a temporary folder that
holds a copy of ``examples/``, one after the other (later commands read what earlier
ones wrote), and must exit 0.  ``geninv ARGS`` runs through :func:`geninv.cli.main` in
this process (the program's own entry point, minus the process boundary; about 1 s
saved per command), or as ``python -m geninv.cli ARGS`` when
``GENINV_README_SUBPROCESS=1``.  ``> FILE`` redirects standard output.

Not run, by the explicit list :data:`SETUP` (and nothing else is skipped): the README's
two set-up commands at the top, ``pip install ... && geninv demo`` and
``pip install ... && bash scripts/check.sh``.  CI runs both itself (``.ci/run``);
here the first would reinstall the package under test and the second would run the
whole test suite, this test included, from inside it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from geninv.cli import main

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
EXAMPLES = REPO / "examples"
#: The README's set-up commands, not run here (module docstring says why).
SETUP = (
    "python -m pip install -q torch==2.13.0 -e '.[dev]' && geninv demo",
    "python -m pip install -q torch==2.13.0 -e '.[dev]' && bash scripts/check.sh",
)
#: Seconds one command may take before the test fails (each takes a few seconds; the
#: README gives --time-limit to every search, so only a machine loaded many times over
#: comes near this).
LIMIT = 300


def readme_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks, in order, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", text, re.M | re.S):
        pending = ""
        for raw in block.splitlines():
            line = raw.strip()
            if line.endswith("\\"):
                pending += line[:-1].rstrip() + " "
                continue
            line = (pending + line).strip()
            pending = ""
            if line:
                commands.append(line)
        assert not pending, f"a continuation line ends a block: {pending!r}"
    return commands


def _tokens(command: str) -> tuple[list[str], str | None]:
    """``geninv`` arguments and the file of a ``> FILE`` redirection (if any)."""
    words = shlex.split(command, comments=True)
    out = None
    if ">" in words:
        at = words.index(">")
        assert at == len(words) - 2, f"only a final '> FILE' is understood: {command}"
        out = words[at + 1]
        words = words[:at]
    assert words and words[0] == "geninv", f"not a geninv command: {command}"
    return words[1:], out


class _Overrun(BaseException):
    pass


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: FrameType | None) -> None:
        raise _Overrun

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    if os.environ.get("GENINV_README_SUBPROCESS") == "1":
        proc = subprocess.run(
            [sys.executable, "-m", "geninv.cli", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
        return proc.returncode, proc.stdout, proc.stderr
    out, err = io.StringIO(), io.StringIO()
    here = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _deadline(LIMIT):
            code = main(args)
    except _Overrun:
        code = -1
        err.write(f"still running after {LIMIT} s")
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    for setup in SETUP:
        assert setup in commands, f"the set-up command changed; update SETUP: {setup}"
    to_run = [c for c in commands if c not in SETUP]
    assert len(to_run) == len(commands) - len(SETUP) >= 20
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    for command in to_run:
        args, out_file = _tokens(command)
        t0 = time.perf_counter()
        code, out, err = _run(args, tmp_path)
        took = time.perf_counter() - t0
        assert code == 0, f"$ {command}\nexit {code} after {took:.1f} s\n{out}{err}"
        assert "Traceback" not in err, f"$ {command}\n{err}"
        if out_file is not None:
            (tmp_path / out_file).write_text(out)


#: Extensions of the input files the README's commands read.
INPUTS = (
    ".cnf",
    ".json",
    ".txt",
    ".col",
    ".edge",
    ".onnx",
    ".npy",
    ".pth",
    ".npz",
    ".vnnlib",
    ".toml",
    ".db",
)
#: Options whose value is a file a command writes.
WRITES = ("-o", "--output", "--proof", "--png", "--store", ">")


def test_readme_names_only_files_it_ships_or_makes() -> None:
    """Every input file a README command reads is in examples/ or written before it."""
    written: set[str] = set()
    for command in readme_commands(README.read_text(encoding="utf-8")):
        if command in SETUP:
            continue
        words = shlex.split(command, comments=True)
        for prev, word in zip(["", *words], words, strict=False):
            if prev in WRITES:
                written.add(word)
            elif word.endswith(INPUTS) and word not in written:
                assert word.startswith("examples/"), (word, command)
                assert (REPO / word).is_file(), word


def test_examples_are_generated_deterministically(tmp_path: Path) -> None:
    """make_examples.py writes exactly the committed files (twice the same bytes)."""
    script = runpy.run_path(str(EXAMPLES / "make_examples.py"))
    assert script["main"]([str(tmp_path / "a")]) == 0
    assert script["main"]([str(tmp_path / "b")]) == 0
    made = sorted(p.name for p in (tmp_path / "a").iterdir())
    shipped = sorted(p.name for p in EXAMPLES.iterdir() if p.name != "make_examples.py")
    shipped = [n for n in shipped if n != "__pycache__"]
    assert made == shipped
    for name in made:
        data = (tmp_path / "a" / name).read_bytes()
        assert data == (tmp_path / "b" / name).read_bytes(), name
        assert data == (EXAMPLES / name).read_bytes(), f"examples/{name} is stale: rerun the script"
        assert len(data) < 16_000, (name, len(data))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```bash\ngeninv a \\\n  b  # c\n```\n", ["geninv a b  # c"]),
        ("  ```bash\n  geninv x > f.json\n  ```\n", ["geninv x > f.json"]),
    ],
)
def test_command_extraction(text: str, expected: list[str]) -> None:
    assert readme_commands(text) == expected
    args, out = _tokens(expected[0])
    assert args[0] in ("a", "x") and out in (None, "f.json")
