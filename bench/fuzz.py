"""Long-form differential fuzzing of every backend, ``check`` and the VNN-LIB route.

    python bench/fuzz.py --minutes 10 [--seed 0] [--backends enumerate milp ...]
                         [--out bench/out/fuzz] [--time-limit 2] [--shrink-budget 60]
                         [--require elu elu:1/2 elu:3]
    python bench/fuzz.py --replay bench/out/fuzz/fail-001-milp.json

Instances come from the Hypothesis strategy :func:`geninv.testing.strategies.cases`
(seeded: ``--seed`` and the chunk number), are judged by the independent oracles of
:mod:`geninv.testing.oracles` (rational brute force, one-latent breakpoint analysis,
certified bounds) through :func:`geninv.testing.differential.run_case`, and every
failure class (route, status, verdict) is shrunk by delta debugging to a minimal
reproducer written to ``--out`` as ``fail-NNN-ROUTE.json`` (the case, the oracle's
answer, what the route said) and ``fail-NNN-ROUTE.py`` (a script that rebuilds the
problem with geninv and reruns the route).  Exit status 1 when anything failed.

The instances cover every activation geninv reads (ReLU, identity, LeakyReLU, ELU
with alpha 1, 1/2 and 3, sigmoid, tanh) in hidden and final layers; a backend that
cannot encode one must refuse it with a one-line reason naming the layer (``REFUSAL``
otherwise, see :mod:`geninv.testing.differential`).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import OUT, console, machine_line, make_table, print_table, say

from geninv.testing.cases import Case
from geninv.testing.differential import (
    ROUTES,
    CaseReport,
    Outcome,
    failure_predicate,
    reproducer_script,
    run_case,
    shrink,
)
from geninv.testing.oracles import OracleAnswer, oracle


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="fuzzing time (shrinking extra)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--backends", nargs="*", default=None, help="default: every installed one and auto"
    )
    ap.add_argument("--routes", nargs="*", default=list(ROUTES), choices=ROUTES)
    ap.add_argument(
        "--require",
        nargs="*",
        default=[],
        help="activation specs every network has one of (e.g. elu elu:1/2 elu:3)",
    )
    ap.add_argument("--out", type=Path, default=OUT / "fuzz")
    ap.add_argument("--time-limit", type=float, default=2.0, help="seconds per backend run")
    ap.add_argument("--chunk", type=int, default=25, help="examples per Hypothesis run")
    ap.add_argument("--shrink-budget", type=float, default=60.0, help="seconds per failure class")
    ap.add_argument("--max-shrinks", type=int, default=12, help="failure classes shrunk at most")
    ap.add_argument("--replay", type=Path, default=None, help="rerun one reproducer JSON")
    return ap.parse_args(argv)


def _fuzz(args: argparse.Namespace) -> tuple[list[CaseReport], float]:
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from geninv.testing.strategies import cases

    reports: list[CaseReport] = []
    budget = args.minutes * 60
    start = time.monotonic()
    failures = 0
    with Progress(
        TextColumn("fuzz"),
        BarColumn(),
        TextColumn("{task.fields[n]} instances, {task.fields[f]} failing"),
        TimeRemainingColumn(),
        console=console(),
        transient=False,
    ) as bar:
        task = bar.add_task("fuzz", total=budget, n=0, f=0)
        chunk = 0
        while time.monotonic() - start < budget:

            @seed(args.seed * 100003 + chunk)
            @settings(
                max_examples=args.chunk,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(cases(require=tuple(args.require)))
            def one(case: Case) -> None:
                nonlocal failures
                if time.monotonic() - start >= budget:
                    return
                try:
                    rep = run_case(case, args.backends, args.time_limit, args.routes)
                except Exception as exc:  # the tester's own bug: record it, keep going
                    rep = CaseReport(case, OracleAnswer("undecided", "oracle crashed"))
                    rep.outcomes.append(
                        Outcome("oracle", "crash", "CRASH", f"{type(exc).__name__}: {exc}")
                    )
                reports.append(rep)
                failures += bool(rep.failures)
                bar.update(task, completed=time.monotonic() - start, n=len(reports), f=failures)

            one()
            chunk += 1
    return reports, time.monotonic() - start


def _tables(reports: list[CaseReport], seconds: float) -> None:
    grid: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in reports:
        grid[r.case.domain][r.case.p] += 1
        grid[r.case.domain]["oracle " + r.answer.status] += 1
    ps = ["1", "1.5", "2", "3", "inf"]
    t = make_table(
        f"{len(reports)} instances in {seconds / 60:.1f} min",
        ["domain", *(f"p={p}" for p in ps), "oracle yes", "oracle no", "undecided"],
    )
    for dom in sorted(grid):
        c = grid[dom]
        t.add_row(
            dom,
            *(str(c[p]) for p in ps),
            *(str(c[f"oracle {s}"]) for s in ("yes", "no", "undecided")),
        )
    print_table(t)
    acts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in reports:
        for name in {a.split(":")[0] for _, _, a in r.case.layers}:
            acts[name]["instances"] += 1
            acts[name]["oracle " + r.answer.status] += 1
            acts[name]["failing"] += bool(r.failures)
    t = make_table(
        "instances per activation (in any layer)",
        ["activation", "instances", "oracle yes", "oracle no", "undecided", "failing"],
    )
    for name in sorted(acts):
        c = acts[name]
        t.add_row(
            name,
            str(c["instances"]),
            *(str(c[f"oracle {s}"]) for s in ("yes", "no", "undecided")),
            str(c["failing"]),
        )
    print_table(t)
    routes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in reports:
        for o in r.outcomes:
            routes[o.route][o.status] += 1
            routes[o.route][o.verdict] += 1
            routes[o.route]["runs"] += 1
    cols = [
        "yes",
        "no",
        "unknown",
        "meets",
        "fails",
        "refused",
        "error",
        "ok",
        "unchecked",
        "lossy",
        "WRONG",
        "CRASH",
        "ORACLE",
        "REFUSAL",
    ]
    t = make_table("answers per backend / route", ["route", "runs", *cols])
    for name in sorted(routes):
        c = routes[name]
        t.add_row(name, str(c["runs"]), *(str(c[k]) for k in cols))
    print_table(t)


def _write(out: Path, k: int, case: Case, outcome: Outcome, answer: Any, original: Case) -> Path:
    route = outcome.route.replace(":", "-")
    stem = out / f"fail-{k:03d}-{route}"
    doc = {
        "route": outcome.route,
        "got": outcome.status,
        "verdict": outcome.verdict,
        "detail": outcome.detail,
        "expected": answer.status,
        "oracle_method": answer.method,
        "oracle_witness": None if answer.witness is None else [str(v) for v in answer.witness],
        "case": case.to_json(),
        "original_case": original.to_json(),
    }
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    stem.with_suffix(".py").write_text(reproducer_script(case, outcome, answer))
    return stem


def _shrink_all(reports: list[CaseReport], args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    classes: dict[tuple[str, str, str], tuple[CaseReport, Outcome, int]] = {}
    for r in reports:
        for o in r.failures:
            key = o.signature
            if key in classes:
                rep, first, count = classes[key]
                classes[key] = (rep, first, count + 1)
            else:
                classes[key] = (r, o, 1)
    if not classes:
        say("no wrong answers, crashes or oracle disagreements")
        return 0
    t = make_table(
        "failure classes (route, got, verdict)",
        ["route", "got", "verdict", "instances", "reproducer"],
    )
    for k, (key, (rep, o, count)) in enumerate(sorted(classes.items()), start=1):
        small = rep.case
        if o.route == "oracle":  # the tester itself crashed: keep the case as drawn
            stem = _write(args.out, k, small, o, rep.answer, rep.case)
            t.add_row(*key, str(count), stem.name)
            continue
        if k <= args.max_shrinks:
            small = shrink(rep.case, failure_predicate(o, args.time_limit), args.shrink_budget)
        final = run_case(small, **_route_args(o), time_limit=args.time_limit)
        match = next((x for x in final.failures if x.signature == o.signature), o)
        stem = _write(args.out, k, small, match, final.answer, rep.case)
        t.add_row(*key, str(count), stem.name)
        say(
            f"[{k}] {o.route}: got {o.status} ({o.verdict}) on {small.describe()}",
            f"    {match.detail}",
        )
    print_table(t)
    return len(classes)


def _route_args(o: Outcome) -> dict[str, Any]:
    if o.route == "check":
        return {"routes": ("check",), "backends": []}
    if o.route == "cli-check":
        return {"routes": ("cli",), "backends": []}
    if o.route.startswith("vnnlib"):
        return {"routes": ("vnnlib",), "backends": None}
    return {"routes": ("backends",), "backends": [o.route]}


def _replay(path: Path, args: argparse.Namespace) -> int:
    doc = json.loads(path.read_text())
    case = Case.from_json(doc.get("case", doc))
    say(case.describe())
    ans = oracle(case.question())
    say(f"oracle: {ans.status} ({ans.method}); witness {ans.witness}")
    rep = run_case(case, args.backends, args.time_limit, args.routes, answer=ans)
    for o in rep.outcomes:
        say(f"{o.route:>18}: {o.status:<8} {o.verdict:<9} {o.detail[:160]}")
    return 1 if rep.failures else 0


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.replay is not None:
        return _replay(args.replay, args)
    say(machine_line())
    reports, seconds = _fuzz(args)
    _tables(reports, seconds)
    classes = _shrink_all(reports, args)
    wrong = sum(1 for r in reports for o in r.failures if o.verdict == "WRONG")
    say(
        f"{len(reports)} instances, {wrong} wrong answers, {classes} failure classes; "
        f"reproducers in {args.out}"
    )
    return 1 if classes else 0


if __name__ == "__main__":
    sys.exit(main())
