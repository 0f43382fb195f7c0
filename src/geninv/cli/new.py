"""``geninv new``: an instance from someone else's network and a target."""

from __future__ import annotations

import argparse
from pathlib import Path

from geninv import workflows
from geninv.cli.common import EXIT_OK, number_arg, out, read_vector_file, save_instance, vector_arg
from geninv.errors import ParseError, ValidationError
from geninv.problem import SourceInfo, parse_norm


def cmd_new(args: argparse.Namespace) -> int:
    """``geninv new``: build an instance folder from a network file and a target vector (domain,
    norm, threshold and relation from the flags, each checked first); exit 0."""
    from geninv.io.instance import sha256_file

    network = workflows.load_generator(args.network, args.arch)
    target = read_vector_file(args.target)
    if len(target) != network.n_outputs:
        raise ParseError(
            f"target has {len(target)} entries but {Path(args.network).name} has "
            f"{network.n_outputs} outputs",
            args.target,
        )
    p = parse_norm(args.norm, "--norm")
    threshold = number_arg(args.threshold, "threshold")
    if threshold < 0:
        raise ValidationError(f"--threshold must be >= 0, got {args.threshold}")
    lower = upper = None
    if args.domain == "box":
        if args.lower is None or args.upper is None:
            raise ValidationError("--domain box needs --lower and --upper")
        lower = vector_arg(args.lower, network.n_inputs, "lower")
        upper = vector_arg(args.upper, network.n_inputs, "upper")
    elif args.lower is not None or args.upper is not None:
        raise ValidationError(f"--lower/--upper only apply to --domain box, not {args.domain}")
    problem = workflows.new_problem(
        network,
        target,
        domain=args.domain,
        lower=lower,
        upper=upper,
        p=p,
        threshold=threshold,
        relation=args.relation,
        source=SourceInfo(file=Path(args.network).name, sha256=sha256_file(args.network)),
    )
    protect = [args.network, args.target]
    written = save_instance(problem, args.output, force=args.force, protect=protect)
    out(f"{problem.describe()}; network {network.describe()}; wrote {written}")
    return EXIT_OK
