"""The ``geninv`` argument parser: every command, option and help text, ``--version``,
and the checks of numeric options that argparse does not make (:func:`parse`)."""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Sequence

from geninv import guard
from geninv.cli.check import cmd_check, cmd_check_proof, cmd_extract, cmd_info
from geninv.cli.common import EXIT_USAGE, Parser, run_command
from geninv.cli.demo import cmd_demo
from geninv.cli.export import cmd_export_vnncomp
from geninv.cli.lab import add_lab_parser
from geninv.cli.new import cmd_new
from geninv.cli.reduce import (
    cmd_lift,
    cmd_reduce_clique,
    cmd_reduce_cvp,
    cmd_reduce_sat,
    cmd_reduce_vc,
)
from geninv.cli.sense import cmd_sense
from geninv.cli.solve import cmd_solve
from geninv.problem import DOMAINS
from geninv.workflows import preset_names

#: The built-in backends, as ``--method`` accepts them (tests/test_cli_edges.py checks
#: this against the registry).
COMPLETE_BACKENDS = ("enumerate", "sat", "milp", "milp-scip", "miqp", "corners", "bab")
APPROXIMATE_BACKENDS = ("primal", "adam", "pgd", "admm", "langevin", "flipgd", "layerwise")
PRESET_HELP = (
    "a published setting of an approximate backend (its backend and options; --option "
    "overrides them): " + ", ".join(preset_names()) + " (docs/solvers.md)"
)
METHOD_HELP = (
    "backend: auto (default: picks a complete backend and says why with --verbose; "
    "the approximate portfolio when none applies), complete: "
    + ", ".join(COMPLETE_BACKENDS)
    + "; approximate (yes or unknown): "
    + ", ".join(APPROXIMATE_BACKENDS)
    + " (docs/solvers.md)"
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geninv")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The ``geninv`` argument parser: every subcommand and flag (usage errors are one line, exit
    2)."""
    parser = Parser(prog="geninv", description="Invert ReLU generative models.")
    parser.add_argument("--version", action="version", version=f"geninv {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    red = sub.add_parser("reduce", help="turn a source problem into an inversion instance")
    rsub = red.add_subparsers(dest="source", required=True, parser_class=Parser)
    sat = rsub.add_parser("sat", help="CNF satisfiability (Theorem 1: sign, Theorem 2: real)")
    sat.add_argument("file", help="DIMACS CNF file")
    sat.add_argument(
        "--domain",
        choices=["sign", "real"],
        default="sign",
        help="latent domain: sign (Theorem 1, default) or real (Theorem 2)",
    )
    sat.add_argument("-o", "--output", required=True, help="instance directory to create")
    sat.add_argument("--force", action="store_true", help="replace an existing output directory")
    sat.add_argument(
        "--expected",
        choices=["auto", "yes", "no", "unknown"],
        default="auto",
        help="the source's answer to record; auto asks PySAT (CaDiCaL) within --oracle-time-limit",
    )
    sat.add_argument(
        "--oracle-time-limit",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time for --expected auto to ask the SAT solver (default 10)",
    )
    sat.set_defaults(func=cmd_reduce_sat)

    def common(sp: argparse.ArgumentParser, domains: Sequence[str]) -> None:
        sp.add_argument("--p", required=True, help="norm exponent p (integer >= 1, or inf)")
        sp.add_argument(
            "--domain",
            choices=list(domains),
            default=domains[0],
            help=f"latent domain (default {domains[0]}; real: lifted as in Theorems 4 and 6)",
        )
        sp.add_argument(
            "--relation",
            choices=["<=", "<"],
            default="<=",
            help="the question asks ||G(z) - x|| <= delta (default) or < delta",
        )
        sp.add_argument("-o", "--output", required=True, help="instance directory to create")
        sp.add_argument("--force", action="store_true", help="replace an existing output directory")
        sp.add_argument(
            "--expected",
            choices=["auto", "yes", "no", "unknown"],
            default="auto",
            help="the source's answer to record; auto computes it by brute force on small inputs",
        )

    cvp = rsub.add_parser("cvp", help="(0,1)-CVP_p (Theorem 3: binary, Theorem 4: real)")
    cvp.add_argument("file", help="CVP JSON file, or an fplll lattice (with --target)")
    cvp.add_argument("--target", help="fplll target vector file (when FILE is an fplll lattice)")
    cvp.add_argument("--radius", help="radius r (overrides the file's)")
    cvp.add_argument("--radius-pow", help="r^p exactly, for radii with irrational p-th roots")
    cvp.add_argument(
        "--paper-pairs",
        action="store_true",
        help="the paper's 2n-latent pair gadget (see errata E9)",
    )
    common(cvp, ["binary", "real"])
    cvp.set_defaults(func=cmd_reduce_cvp)

    clq = rsub.add_parser(
        "clique", help="weighted k-Clique / Half-Clique (Theorem 5; real: Theorem 6)"
    )
    clq.add_argument("file", help="DIMACS graph (p edge N M, e u v [w])")
    group = clq.add_mutually_exclusive_group(required=True)
    group.add_argument("--k", type=int, help="clique size")
    group.add_argument("--half", action="store_true", help="k = n/2 (Half-Clique)")
    clq.add_argument("--max-weight", help="M: ask for a clique of weight <= M (default: any)")
    common(clq, ["binary", "real"])
    clq.set_defaults(func=cmd_reduce_clique)

    vc = rsub.add_parser("vertex-cover", help="vertex cover of size <= Q (section 5.3)")
    vc.add_argument("file", help="DIMACS or PACE graph")
    vc.add_argument("--size", type=int, required=True, help="Q, the cover size")
    common(vc, ["binary", "real"])
    vc.set_defaults(func=cmd_reduce_vc)

    lift = sub.add_parser("lift", help="binary/sign instance -> real-latent instance")
    lift.add_argument("dir", help="the binary or sign instance directory")
    lift.add_argument("-o", "--output", required=True, help="instance directory to create")
    lift.add_argument("--force", action="store_true", help="replace an existing output directory")
    lift.set_defaults(func=cmd_lift)

    new = sub.add_parser("new", help="an instance from someone else's network")
    new.add_argument(
        "--network", required=True, help="ONNX file, or a PyTorch state_dict/.npz with --arch"
    )
    new.add_argument("--arch", help="architecture of a state_dict, e.g. '0,relu,2,relu,4,tanh'")
    new.add_argument("--target", required=True, help="target x: a .json list or a .npy vector")
    new.add_argument("--norm", default="inf", help="p >= 1 or 'inf' (default inf)")
    new.add_argument("--threshold", default="0", help="delta >= 0 (0 = exact inversion)")
    new.add_argument(
        "--relation", choices=["<=", "<"], default="<=", help="<= delta (default) or < delta"
    )
    new.add_argument(
        "--domain",
        required=True,
        choices=list(DOMAINS),
        help="latent domain: real, box (with --lower/--upper), binary {0,1} or sign {-1,1}",
    )
    new.add_argument("--lower", help="box lower bound: a number, a comma list, .json or .npy")
    new.add_argument("--upper", help="box upper bound: a number, a comma list, .json or .npy")
    new.add_argument("-o", "--output", required=True, help="instance directory to create")
    new.add_argument("--force", action="store_true", help="replace an existing output directory")
    new.set_defaults(func=cmd_new)

    solve = sub.add_parser("solve", help="decide an instance")
    solve.add_argument("dir", nargs="?", help="instance directory")
    solve.add_argument("--onnx", help="a VNN-COMP network (with --vnnlib) instead of a directory")
    solve.add_argument("--vnnlib", help="a VNN-COMP property: input box, output bounds")
    solve.add_argument("--method", default="auto", metavar="NAME", help=METHOD_HELP)
    solve.add_argument("--preset", metavar="NAME", help=PRESET_HELP)
    solve.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop within about 0.5 s of this many seconds, answering 'unknown' if undecided "
        "(default: none; --certify: 120)",
    )
    solve.add_argument(
        "--seed", type=int, default=0, help="random seed of the randomised backends (default 0)"
    )
    solve.add_argument("--json", action="store_true", help="print one JSON object")
    solve.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="also write the JSON solution to FILE (a witness file)",
    )
    solve.add_argument(
        "--force", action="store_true", help="replace an existing -o / --proof regular file"
    )
    solve.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="stop as 'unknown' above this resident memory, e.g. 4G or 500M "
        f"(default {int(guard.MEMORY_SHARE * 100)}%% of the memory available; 'none' for no limit)",
    )
    solve.add_argument(
        "--verbose",
        action="store_true",
        help="say why auto chose its backend, and show HiGHS's / SCIP's own logs on a terminal",
    )
    solve.add_argument(
        "--optimize",
        action="store_true",
        help="find the smallest distance, not just decide (with auto: its first candidates "
        "that have an optimize mode: enumerate, sat, milp, miqp, bab)",
    )
    solve.add_argument(
        "--certify",
        action="store_true",
        help="best distance from the approximate backends and a lower bound: certified "
        "by bab's checked proofs where bab applies, else a MILP dual bound reported as "
        "uncertified",
    )
    solve.add_argument(
        "--trust-solver",
        action="store_true",
        help="accept a floating-point solver's 'no' (milp, milp-scip, miqp) without a "
        "checked certificate; the output says so",
    )
    solve.add_argument("--scheduler", help="enumerate: 'local' or a Dask scheduler address")
    solve.add_argument("--workers", type=int, help="enumerate: worker threads")
    solve.add_argument(
        "--proof",
        metavar="FILE",
        help="write the proof of a 'no' (sat: DRUP, with FILE.cnf; bab: the tree, for "
        "check-proof); with auto: its first candidate that writes one",
    )
    solve.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="any backend constructor option (value parsed as JSON when it can be)",
    )
    solve.set_defaults(func=cmd_solve)

    check = sub.add_parser(
        "check",
        help="re-check a witness exactly (exit 0: it meets the threshold; 1: it does not, "
        "or the file is a 'no' with no witness)",
    )
    check.add_argument("dir", help="instance directory")
    check.add_argument(
        "witness",
        help='answer file: a JSON object with a "z" list, or solve --json output (for a '
        "'no', its proof is shown)",
    )
    check.set_defaults(func=cmd_check)

    cproof = sub.add_parser(
        "check-proof", help="check a branch-and-bound proof (solve --method bab --proof FILE)"
    )
    cproof.add_argument("dir", help="instance directory")
    cproof.add_argument("proof", help="the proof file")
    cproof.set_defaults(func=cmd_check_proof)

    extract = sub.add_parser(
        "extract",
        help="map a witness back to the source problem and check it there (exit 0: it "
        "checks out; 1: it does not, or the file is a 'no')",
    )
    extract.add_argument("dir", help="instance directory made by geninv reduce (or lift)")
    extract.add_argument(
        "witness",
        help='answer file: a JSON object with a "z" list, or solve --json output',
    )
    extract.set_defaults(func=cmd_extract)

    info = sub.add_parser("info", help="describe an instance")
    info.add_argument("dir", help="instance directory")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    sense = sub.add_parser("sense", help="compressed sensing with a generator prior")
    sense.add_argument("--network", help="generator: .onnx, or .pt/.pth/.ckpt/.npz with --arch")
    sense.add_argument("--arch", help="architecture of a state_dict, e.g. 'linear:fc3,relu,...'")
    sense.add_argument(
        "--digits", type=int, help="use the bundled 8x8 digits generator on K test digits"
    )
    sense.add_argument(
        "--conv-digits",
        type=int,
        metavar="K",
        help="use the bundled convolutional 28x28 MNIST generator on K held-out digits",
    )
    sense.add_argument("--image", help="true image(s), .npy (one per row): y = A x + noise")
    sense.add_argument(
        "--y", help="measurements, .npy (when the image is unknown; not with --image)"
    )
    sense.add_argument(
        "--operator",
        default="gaussian",
        choices=["gaussian", "dense", "inpaint", "superres", "blur", "identity"],
        help="measurement operator (default gaussian; docs/sensing.md): gaussian (--measurements"
        " M, or --matrix), dense (--matrix), inpaint (--missing or --mask), superres (--factor),"
        " blur (--kernel), identity (denoising)",
    )
    sense.add_argument("--matrix", help="measurement matrix A, .npy or .txt (q columns)")
    sense.add_argument("--measurements", type=int, help="M Gaussian measurements, N(0, 1/M)")
    sense.add_argument(
        "--missing",
        type=float,
        metavar="FRACTION",
        help="inpaint: fraction of pixels missing, chosen at random (default 0.5)",
    )
    sense.add_argument(
        "--mask", metavar="FILE", help="inpaint: .npy/.txt mask of the image, 1 kept, 0 missing"
    )
    sense.add_argument(
        "--factor", type=int, help="superres: block side f dividing H and W (default 2)"
    )
    sense.add_argument(
        "--kernel",
        metavar="SPEC",
        help="blur: gaussian:SIGMA (default gaussian:1) or a .npy/.txt 2-D kernel file",
    )
    sense.add_argument(
        "--image-shape",
        metavar="H,W|C,H,W",
        help="the generator's output as an image (default: square, or 1 x q)",
    )
    sense.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the operator, the noise and the backend, each its own stream (default 0)",
    )
    sense.add_argument(
        "--noise", type=float, default=0.0, help="noise standard deviation sigma (default 0)"
    )
    sense.add_argument(
        "--method", default=None, metavar="NAME", help="backend (default adam; see solve --help)"
    )
    sense.add_argument("--preset", metavar="NAME", help=PRESET_HELP)
    sense.add_argument("--norm", default="2", help="p of ||A G(z) - y||_p (default 2)")
    sense.add_argument(
        "--threshold",
        default=None,
        help="delta; default 1e-3 ||y||_p + sigma (sqrt(M) + 3) max(1, M^(1/p - 1/2)), "
        "which the true image meets with probability >= 98.8%% when it is in G's range "
        "(geninv.sensing.noise_threshold)",
    )
    sense.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time per image (default: the backend's own iteration count)",
    )
    sense.add_argument(
        "--lasso-alpha", type=float, default=0.01, help="Lasso baseline's alpha (default 0.01)"
    )
    sense.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a backend option, e.g. lr=0.05 (value parsed as JSON when it can be; repeat)",
    )
    sense.add_argument(
        "--png",
        help="write a grid: truth, input (the trivial estimate; inpainting's missing pixels "
        "grey; Lasso instead for gaussian/dense), geninv",
    )
    sense.add_argument("-o", "--output", help="save the first instance directory here")
    sense.add_argument("--force", action="store_true", help="replace an existing --png / -o")
    sense.set_defaults(func=cmd_sense)

    exp = sub.add_parser("export-vnncomp", help="write a VNN-COMP benchmark folder")
    exp.add_argument("dirs", nargs="+", help="instance directories")
    exp.add_argument("-o", "--output", required=True, help="benchmark folder to create")
    exp.add_argument(
        "--timeout", type=float, default=300.0, help="per-instance timeout for the csv"
    )
    exp.add_argument("--force", action="store_true", help="replace an existing output folder")
    exp.set_defaults(func=cmd_export_vnncomp)

    demo = sub.add_parser(
        "demo", help="the main job on bundled data: reduce, solve, check, extract"
    )
    demo.add_argument(
        "--workdir",
        default=None,
        help="folder to write the instances, answers and sensing.png into (default: ./geninv-demo)",
    )
    demo.set_defaults(func=functools.partial(cmd_demo, program=program))
    add_lab_parser(sub)
    return parser


#: Numeric options and what they must be: (attribute, flag, smallest allowed, may equal it).
_NUMERIC_OPTIONS = (
    ("seed", "--seed", 0, True),
    ("workers", "--workers", 1, True),
    ("digits", "--digits", 1, True),
    ("noise", "--noise", 0, True),
    ("lasso_alpha", "--lasso-alpha", 0, False),
    ("timeout", "--timeout", 0, False),
    ("oracle_time_limit", "--oracle-time-limit", 0, False),
)


def _bad_numeric_option(args: argparse.Namespace) -> str | None:
    """A one-line complaint about a numeric option out of range (NaN, inf, negative ...)."""
    for attr, flag, low, inclusive in _NUMERIC_OPTIONS:
        value = getattr(args, attr, None)
        if value is None:
            continue
        ok = math.isfinite(value) and (value >= low if inclusive else value > low)
        if not ok:
            relation = ">=" if inclusive else ">"
            return f"{flag} must be a finite number {relation} {low}, got {value}"
    return None


def parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed command line, or the exit status of a usage error (its one line is
    written on stderr); ``--help`` and argparse's own errors exit (SystemExit)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "time_limit", None) is not None and not (
        math.isfinite(args.time_limit) and args.time_limit > 0
    ):
        sys.stderr.write("geninv: error: --time-limit must be a positive number of seconds\n")
        return EXIT_USAGE
    bad = _bad_numeric_option(args)
    if bad is not None:
        sys.stderr.write(f"geninv: error: {bad}\n")
        return EXIT_USAGE
    return args


def program(argv: Sequence[str]) -> int:
    """``geninv ARGV`` in this process: parse, then run the command (what
    :func:`geninv.cli.main` does with an argument list)."""
    args = parse(argv)
    if not isinstance(args, argparse.Namespace):
        return args
    return run_command(args)
