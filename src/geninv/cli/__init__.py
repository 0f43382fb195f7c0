"""The ``geninv`` command line (the console script, or ``python -m geninv.cli``).

Every command reports bad input as one line on stderr naming the file and the
problem, and exits with status 2; no traceback, no half-written output.

The commands parse their arguments, call :mod:`geninv.workflows` (the Python API)
and print: :mod:`~geninv.cli.reduce` (``reduce``, ``lift``), :mod:`~geninv.cli.new`,
:mod:`~geninv.cli.solve`, :mod:`~geninv.cli.check` (``check``, ``check-proof``,
``extract``, ``info``), :mod:`~geninv.cli.sense`, :mod:`~geninv.cli.export`
(``export-vnncomp``) and :mod:`~geninv.cli.demo`; :mod:`~geninv.cli.parser` assembles
them, :mod:`~geninv.cli.common` holds what they share.
"""

from __future__ import annotations

import os
import sys

from geninv import guard  # standard library only, so it comes first


def _started_as_program() -> bool:
    """Whether this import is the ``geninv`` program starting: the console script, or
    ``python -m geninv.cli`` importing its package (``sys.argv[0]`` is ``-m`` then)."""
    if os.path.basename(sys.argv[0]) == "geninv":
        return True
    if sys.argv[:1] != ["-m"]:
        return False
    orig: list[str] = list(getattr(sys, "orig_argv", []))
    for i, arg in enumerate(orig[1:], 1):
        if arg == "-m":
            return orig[i + 1 : i + 2] == ["geninv.cli"]
        if arg.startswith("-m"):
            return arg[2:] == "geninv.cli"
    return False


if _started_as_program():
    guard.exit_on_signals()  # the program: a signal while it loads ends it cleanly

import argparse  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from geninv.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, run_command  # noqa: E402
from geninv.cli.parser import (  # noqa: E402
    APPROXIMATE_BACKENDS,
    COMPLETE_BACKENDS,
    METHOD_HELP,
    build_parser,
    parse,
)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``geninv`` program.

    Run as a program (``argv`` is None) the command runs under the supervisor of
    :func:`geninv.guard.supervise` (one signal policy: SIGINT / SIGTERM stop it
    within about a second, with exit status 130 / 143, no child process and no
    partial output left); called with an argument list it runs in this process.
    """
    if argv is None and guard.supervisor_enabled():
        try:
            with guard.signal_policy():
                parsed = parse(None)
                if not isinstance(parsed, argparse.Namespace):
                    return parsed
                ns = parsed
                return guard.supervise(lambda: run_command(ns))
        except guard.Interrupted as exc:  # before the command started: nothing to undo
            sys.stderr.write(guard.interrupted_line(exc.signum))
            guard.restore_signals()
            return exc.exit_code
    args = parse(argv)
    if not isinstance(args, argparse.Namespace):
        return args
    return run_command(args)


__all__ = [
    "APPROXIMATE_BACKENDS",
    "COMPLETE_BACKENDS",
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_USAGE",
    "METHOD_HELP",
    "build_parser",
    "main",
]
