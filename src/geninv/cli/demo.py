"""``geninv demo``: the main job on bundled data (:mod:`geninv.demo`), run through the
program itself."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def cmd_demo(args: argparse.Namespace, program: Callable[[list[str]], int]) -> int:
    """Run the demo; ``program(argv)`` runs ``geninv ARGV`` in this process (the parser
    passes it in, so that this module imports neither the parser nor :func:`main`)."""
    from geninv.demo import run_demo

    return run_demo(program, args.workdir)
