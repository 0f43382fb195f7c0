"""What every ``geninv`` command shares: exit codes, printing, exact numbers and
vectors from the command line, output checks, limits, and running a command under
the one signal policy with its one-line errors (:func:`run_command`)."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

from geninv import guard
from geninv.errors import GeninvError, ParseError, ValidationError
from geninv.io import atomic
from geninv.io.limits import check_count, check_json_depth
from geninv.io.text import read_npy
from geninv.network import to_fraction
from geninv.problem import InversionProblem

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Exit 2 with the one line ``PROG: error: MESSAGE (see PROG --help)`` (no usage block)."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_options(items: Sequence[str] | None) -> dict[str, Any]:
    """Backend constructor options from ``--option KEY=VALUE`` (repeated): each value
    parsed as JSON when it can be, else kept as text (``solve`` and ``sense``)."""
    opts: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--option {item!r}: expected KEY=VALUE")
        check_json_depth(raw, f"--option {key.strip()}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        except ValueError as exc:  # e.g. an integer beyond Python's int-string limit
            reason = str(exc).split(";")[0]  # not Python's advice on sys.set_int_max_str_digits
            raise ValidationError(f"--option {key.strip()}: value not usable ({reason})") from None
        opts[key.strip()] = value
    return opts


# geninv.io.instance imports onnx (about a second): imported when first used, so the
# program starts (and its signal policy is in place) quickly.
def load_instance(directory: str | Path) -> InversionProblem:
    """The instance in ``directory`` (:func:`geninv.workflows.load`: read and checked; errors
    name the file)."""
    from geninv.workflows import load

    return load(directory)


def read_json(path: str | Path) -> Any:
    """The JSON document at ``path`` (:func:`geninv.io.instance.read_json`: a bad file raises a
    one-line :class:`~geninv.errors.ParseError`)."""
    from geninv.io.instance import read_json as read

    return read(path)


def save_instance(problem: InversionProblem, out_dir: str | Path, **kwargs: Any) -> Path:
    """Write ``problem`` as an instance folder ``out_dir``
    (:func:`geninv.io.instance.save_instance`, same keywords); returns the folder."""
    from geninv.io.instance import save_instance as save

    return save(problem, out_dir, **kwargs)


def out(msg: str = "") -> None:
    """Print one line on stdout."""
    sys.stdout.write(msg + "\n")


def number_arg(text: str, what: str) -> Fraction:
    """An exact number from the command line; errors name the option (``--what: ...``)."""
    return to_fraction(text, f"--{what}")


def vector_arg(text: str, n: int, what: str) -> list[Fraction]:
    """A scalar (broadcast to n), a comma list, or a .json / .npy file."""
    if text.endswith(".json") or text.endswith(".npy"):
        values = read_vector_file(text)
    elif "," in text:
        check_count(text.count(",") + 1, "vector", f"--{what}: the list's number of entries")
        values = [number_arg(t, what) for t in text.split(",")]
    else:
        return [number_arg(text, what)] * n
    if len(values) != n:
        raise ValidationError(f"--{what}: has {len(values)} entries, expected {n} (one per input)")
    return values


def read_vector_file(path: str) -> list[Fraction]:
    """An exact vector from a .npy file, or a JSON list (or an object's ``"target"``)."""
    from geninv.answers import exact_numbers

    p = Path(path)
    if p.suffix == ".npy":
        arr = read_npy(p, "vector")
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
        if arr.ndim != 1:
            raise ParseError(f"expected a vector, got an array of shape {arr.shape}", path)
        return exact_numbers(arr.tolist(), "entry", path)
    doc = read_json(p)
    if isinstance(doc, dict) and "target" in doc:
        doc = doc["target"]
    if not isinstance(doc, list) or not doc:
        raise ParseError("expected a non-empty JSON list of numbers", path)
    return exact_numbers(doc, "entry", path)


def check_outputs(args: argparse.Namespace, reads: Sequence[str]) -> None:
    """Refuse unwritable outputs before any work is done (they are checked again on write)."""
    if getattr(args, "output", None):
        atomic.check_target(args.output, args.force, protect=reads)
    proof = getattr(args, "proof", None)
    if proof:
        for path in (proof, proof + ".cnf"):
            atomic.check_target(path, args.force, protect=reads)


def memory_limit(args: argparse.Namespace) -> int | None:
    """``--memory-limit`` in bytes (4G, 500M, a number of MiB; none/off/0: no limit),
    by default :func:`geninv.guard.default_memory_limit`."""
    text = getattr(args, "memory_limit", None)
    if text is None:
        return guard.default_memory_limit()
    if text.strip().lower() in ("none", "off", "0"):
        return None
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    mult = units.get(t[-1:], 0)
    try:
        value = float(t[:-1] if mult else t)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(
            f"--memory-limit {text!r}: expected a size such as 4G, 500M, or a number of MiB"
        )
    return int(value * (mult or 2**20))


def exit_now(emit: Callable[[], int]) -> None:
    """From the watchdog thread, while the main thread is inside one long native call:
    report what there is (``emit``), remove temporary files and end the (supervised)
    process with ``emit``'s exit status."""
    code = EXIT_USAGE
    try:
        code = emit()
    except GeninvError as err:
        sys.stderr.write(f"geninv: error: {err}\n")
    finally:
        atomic.remove_live_temps()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command ``args.func(args)`` under :func:`geninv.guard.signal_policy`:
    a :class:`~geninv.errors.GeninvError` or an :class:`OSError` is one line on stderr
    and exit 2; SIGINT / SIGTERM end it with 130 / 143; temporary paths never remain."""
    try:
        with guard.signal_policy():
            try:
                code: int = args.func(args)
                return code
            finally:
                atomic.remove_live_temps()
    except guard.Interrupted as exc:
        guard.kill_children()
        atomic.remove_live_temps()
        guard.report_interrupt(exc.signum)
        guard.restore_signals()
        return exc.exit_code
    except GeninvError as exc:
        msg = " ".join(str(exc).split("\n"))
        sys.stderr.write(f"geninv: error: {msg}\n")
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"geninv: error: {where}{exc.strerror or exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        guard.kill_children()
        atomic.remove_live_temps()
        guard.report_interrupt(signal.SIGINT)
        return 130
