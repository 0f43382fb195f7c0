"""``geninv export-vnncomp``: instance folders as a VNN-COMP benchmark folder."""

from __future__ import annotations

import argparse
import sys

from geninv.cli.common import EXIT_OK, out


def cmd_export_vnncomp(args: argparse.Namespace) -> int:
    """``geninv export-vnncomp``: write the instances as ONNX + VNN-LIB benchmarks; skipped
    instances and parameters rounded to ONNX floats are named on stderr; exit 0."""
    from geninv.io.vnncomp import export_vnncomp

    exported, skipped, approximate = export_vnncomp(
        args.dirs, args.output, args.timeout, force=args.force
    )
    for line in skipped:
        sys.stderr.write(f"geninv: skipped {line}\n")
    if approximate:
        sys.stderr.write(
            f"geninv: note: {len(approximate)} exported network(s) hold parameters that ONNX "
            "floats cannot, written as the nearest floats (their .vnnlib says so): "
            + ", ".join(approximate)
            + "\n"
        )
    out(f"wrote {len(exported)} instance(s) to {args.output} (onnx/, vnnlib/, instances.csv)")
    return EXIT_OK
