"""The hard side: approximate backends on reduction instances whose exact answer is known.

Two families of real-latent instances, built by geninv's reductions from
random source instances whose answer is computed independently:

* ``3-SAT (Thm 2)``: random 3-SAT formulas with n variables and round(c n)
  clauses (three distinct variables per clause, random signs) for clause
  densities c (default 2, 3, 4.26, 5); Theorem 2 network (depth 4, real
  latent, exact inversion: G(z) = (0, n)).  Exact answer: PySAT
  ``Solver("cadical153")`` on the source CNF.
* ``CVP (Thm 4)``: (0,1)-CVP_p with n basis vectors in Z^n (entries uniform in
  [-3, 3]) and a target uniform in [-n, n]^n, through Theorem 3 (binary
  latents) and the binary-to-real lifting of Theorem 4 (depth 5, real latent,
  ||G(z) - x||_p <= r).  The radius is set from the exact minimum distance
  d_min over {0,1}^n (``geninv.oracles``, exhaustive): ``at`` r = d_min (YES,
  tight), ``loose`` r = sqrt(2) d_min (YES, with slack; for p = 2 exactly
  r^2 = 2 d_min^2) and ``below`` r^p = d_min^p - 1 (NO).  Exact answer:
  ``cvp01_decide`` (brute force over {0,1}^n).

Backends: ``adam``, ``pgd``, ``admm``, ``langevin`` (PyTorch, CPU, their
published defaults) and ``layerwise`` (HiGHS LPs, defaults), each with a time
limit per run (``--limit``).  ``flipgd`` is not run: it refuses networks with
biases (Hand & Voroninski's model is bias-free), and both reductions need
biases; the refusal message is printed.

Success = ``yes`` on a YES instance; every ``yes`` is re-checked exactly by
``geninv.solvers.base.solve`` and, here, also mapped back to the source (the
decoded assignment must satisfy the CNF, the decoded y must meet the CVP
radius).  On NO instances an incomplete backend must answer ``unknown``: a
``no``, a ``yes`` on a NO instance or a ``yes`` whose source check fails is
counted in the ``wrong`` column (there should be none).  torch runs with
``--threads`` threads (default 1).

Usage::

    python bench/bench_approx_hard.py --quick     # about a minute
    python bench/bench_approx_hard.py             # about 15-20 minutes

Writes ``bench/out/approx_hard.png``, ``.csv`` and ``.txt`` (``-quick`` with --quick).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import (
    add_row,
    fmt_s,
    machine_line,
    make_table,
    median,
    print_table,
    pyplot,
    save_csv,
    save_figure,
    save_text,
    say,
)

NAME = "approx_hard"
BACKENDS = ("adam", "pgd", "admm", "langevin", "layerwise")
SAT = "3-SAT (Thm 2)"
CVP = "CVP (Thm 4)"
RADII = ("at", "loose", "below")
DEFAULTS: dict[str, Any] = {
    "sat_n": "8,12,16,24,32,40",
    "densities": "2,3,4.26,5",
    "sat_instances": 5,
    "cvp_n": "4,6,8,10,12,14",
    "cvp_instances": 5,
}
QUICK: dict[str, Any] = {
    "sat_n": "8,16",
    "densities": "2,4.26",
    "sat_instances": 1,
    "cvp_n": "4,8",
    "cvp_instances": 1,
}


# ------------------------------------------------------------------ instances
def sat_instance(n: int, density: float, rng: np.random.Generator) -> dict[str, Any]:
    from pysat.solvers import Solver

    from geninv.io.dimacs import CNF
    from geninv.reductions.sat import SatReduction

    m = round(density * n)
    clauses = []
    for _ in range(m):
        vs = rng.choice(n, size=3, replace=False) + 1
        clauses.append(tuple(int(v) * int(rng.choice([-1, 1])) for v in vs))
    with Solver(name="cadical153", bootstrap_with=[list(c) for c in clauses]) as s:
        truth = bool(s.solve())
    cnf = CNF(n, tuple(clauses))
    problem, inverse = SatReduction("real").apply(cnf)
    return {"problem": problem, "truth": truth, "cnf": cnf, "inverse": inverse, "meta": f"m={m}"}


def sat_source_ok(inst: dict[str, Any], z: list[Fraction]) -> bool:
    from geninv.reductions.sat import SatReduction

    assignment = SatReduction.decode(z, inst["inverse"])
    return all(any(assignment[abs(lit) - 1] == (lit > 0) for lit in c) for c in inst["cnf"].clauses)


def cvp_instance(n: int, radius: str, p: float, rng: np.random.Generator) -> dict[str, Any]:
    from geninv.io.lattice import CVPInstance
    from geninv.oracles import cvp01_decide, cvp01_min_distance_pow
    from geninv.reductions.cvp import CVPReduction
    from geninv.reductions.lifting import lift

    while True:
        basis = rng.integers(-3, 4, (n, n)).tolist()
        target = rng.integers(-n, n + 1, n).tolist()
        best = Fraction(cvp01_min_distance_pow(basis, target, p))  # d_min^p (p = inf: d_min)
        if best >= 1:
            break
    if p == 2:
        rp = {"at": best, "loose": 2 * best, "below": best - 1}[radius]
        inst = CVPInstance(basis, target, radius_pow=rp, p=p)
        truth, _ = cvp01_decide(basis, target, p, radius_pow=rp)
        meta = f"d_min^2={best}, r^2={rp}"
    else:  # p = 1 or inf: best is d_min itself
        r = {"at": best, "loose": best * Fraction(14142, 10000), "below": best - 1}[radius]
        inst = CVPInstance(basis, target, radius=r, p=p)
        truth, _ = cvp01_decide(basis, target, p, radius=r)
        meta = f"d_min={best}, r={r}"
    binary, _ = CVPReduction(p).apply(inst)
    return {"problem": lift(binary), "truth": bool(truth), "cvp": inst, "p": p, "meta": meta}


def cvp_source_ok(inst: dict[str, Any], z: list[Fraction]) -> bool:
    from geninv.reductions.cvp import cvp_distance_check
    from geninv.reductions.lifting import BinaryToReal

    y = BinaryToReal.decode(z, {"domain": "binary"})
    return bool(cvp_distance_check(inst["cvp"], y, inst["p"])[0])


# ------------------------------------------------------------------ runs
def run_backend(inst: dict[str, Any], family: str, backend: str, limit: float, seed: int) -> dict:
    from geninv.errors import GeninvError
    from geninv.solvers.base import solve

    options = None if backend == "layerwise" else {"device": "cpu"}
    t0 = time.perf_counter()
    try:
        sol = solve(inst["problem"], backend, time_limit=limit, seed=seed, options=options)
    except GeninvError as exc:
        note = str(exc).splitlines()[0][:200]
        return {"status": "refused", "seconds": time.perf_counter() - t0, "note": note}
    except Exception as exc:  # a benchmark reports, it does not stop
        note = f"{type(exc).__name__}: {exc}"[:200]
        return {"status": "error", "seconds": time.perf_counter() - t0, "note": note}
    secs = time.perf_counter() - t0
    source_ok = None
    if sol.status.value == "yes" and sol.z is not None:
        zf = [Fraction(v) for v in sol.z]
        source_ok = sat_source_ok(inst, zf) if family == SAT else cvp_source_ok(inst, zf)
    return {
        "status": sol.status.value,
        "seconds": secs,
        "note": sol.reason or "",
        "distance": sol.distance,
        "source_ok": source_ok,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--sat-n", help=f"3-SAT variable counts (default {DEFAULTS['sat_n']})")
    ap.add_argument("--densities", help=f"clause densities m/n (default {DEFAULTS['densities']})")
    ap.add_argument("--sat-instances", type=int, help="formulas per (n, density) (default 5)")
    ap.add_argument("--cvp-n", help=f"CVP dimensions n (default {DEFAULTS['cvp_n']})")
    ap.add_argument("--cvp-instances", type=int, help="CVP instances per (n, radius) (default 5)")
    ap.add_argument("--cvp-p", default="2", choices=("1", "2", "inf"), help="CVP norm (default 2)")
    ap.add_argument("--families", default="sat,cvp", help="comma list of sat, cvp")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--limit", type=float, default=30.0, help="time limit per run (default 30 s)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    common.output_args(ap, f"about a minute: {QUICK}")
    args = ap.parse_args(argv)
    common.apply_preset(args, QUICK if args.quick else DEFAULTS)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns ``{"rows": per-run rows, "cells": per-row summaries, ...}``."""
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    args = parse_args(argv)
    name = common.output_name(args, NAME)
    torch.set_num_threads(args.threads)
    backends = [b for b in args.backends.split(",") if b]
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    p = math.inf if args.cvp_p == "inf" else float(args.cvp_p)
    cells: list[tuple[str, int, str, int]] = []  # family, n, setting, instances
    if "sat" in families:
        for n in (int(v) for v in str(args.sat_n).split(",")):
            for c in str(args.densities).split(","):
                cells.append((SAT, n, c, int(args.sat_instances)))
    if "cvp" in families:
        for n in (int(v) for v in str(args.cvp_n).split(",")):
            for r in RADII:
                cells.append((CVP, n, r, int(args.cvp_instances)))

    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    say(
        f"backends: {', '.join(backends)} (published defaults, CPU, torch threads "
        f"{args.threads}); time limit {args.limit:g} s per run; seed {args.seed}; "
        f"CVP norm p = {args.cvp_p}"
    )
    rows: list[dict[str, Any]] = []
    refusals: dict[str, str] = {}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("runs", total=sum(c[3] for c in cells) * len(backends))
        for ci, (family, n, setting, count) in enumerate(cells):
            for i in range(count):
                fam_idx = 0 if family == SAT else 1
                key = round(float(setting) * 100) if family == SAT else RADII.index(setting)
                rng = np.random.default_rng([args.seed, fam_idx, n, key, i])
                if family == SAT:
                    inst = sat_instance(n, float(setting), rng)
                else:
                    inst = cvp_instance(n, setting, p, rng)
                if family not in refusals:
                    probe = run_backend(inst, family, "flipgd", args.limit, args.seed)
                    refusals[family] = f"{probe['status']}: {probe['note']}"
                for backend in backends:
                    progress.update(
                        task, description=f"{family} n={n} {setting} #{i + 1} {backend}"
                    )
                    res = run_backend(inst, family, backend, args.limit, args.seed + i)
                    truth = inst["truth"]
                    status = res["status"]
                    wrong = (
                        status == "no"
                        or (status == "yes" and not truth)
                        or (status == "yes" and res.get("source_ok") is False)
                    )
                    rows.append(
                        {
                            "family": family,
                            "n": n,
                            "setting": setting,
                            "instance": i + 1,
                            "cell": ci,
                            "truth": "YES" if truth else "NO",
                            "backend": backend,
                            "status": status,
                            "seconds": res["seconds"],
                            "success": bool(truth and status == "yes" and res.get("source_ok")),
                            "wrong": bool(wrong),
                            "distance": res.get("distance"),
                            "threshold": float(inst["problem"].threshold),
                            "source_ok": res.get("source_ok"),
                            "meta": inst["meta"],
                            "widths": ",".join(map(str, inst["problem"].network.widths)),
                            "note": res["note"],
                        }
                    )
                    if wrong or status in ("error", "refused"):
                        what = "YES" if truth else "NO"
                        say(
                            f"!! {family} n={n} {setting} #{i + 1} {backend}: {status} "
                            f"on a {what} instance: {res['note'][:120]}"
                        )
                    progress.advance(task)
    for family, why in refusals.items():
        say(f"flipgd on {family} networks: {why}")
    summary = report(rows, cells, backends)
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    save_csv(name, rows)
    if not args.no_plot:
        plot(rows, backends, name)
    save_text(name)
    return {"rows": rows, "summary": summary, "refusals": refusals, "name": name}


def rate(rows: list[dict[str, Any]]) -> tuple[float, int, int]:
    yes = [r for r in rows if r["truth"] == "YES"]
    ok = sum(r["success"] for r in yes)
    return (ok / len(yes) if yes else math.nan), ok, len(yes)


def report(
    rows: list[dict[str, Any]], cells: list[tuple[str, int, str, int]], backends: list[str]
) -> list[dict[str, Any]]:
    table = make_table(
        "success rate on YES instances (yes with an exactly checked witness) per backend",
        [
            "family",
            "n",
            "density" if all(c[0] == SAT for c in cells) else "density / radius",
            "inst",
            "YES",
            *backends,
            "wrong",
            *(f"t {b}" for b in backends),
        ],
        caption="rate = successes / YES instances ('-': no YES instance); t = median seconds "
        "per run over all instances of the row; wrong = 'no' answers, or 'yes' on a NO "
        "instance, or a witness failing the source check",
    )
    summary: list[dict[str, Any]] = []
    for ci, (family, n, setting, _) in enumerate(cells):
        rs = [r for r in rows if r["cell"] == ci]
        if not rs:
            continue
        first = [r for r in rs if r["backend"] == backends[0]]
        yes = sum(r["truth"] == "YES" for r in first)
        rates = {}
        cell: dict[str, Any] = {"family": family, "n": n, "setting": setting}
        for b in backends:
            rt, _, _ = rate([r for r in rs if r["backend"] == b])
            rates[b] = rt
            cell[f"rate_{b}"] = rt
            cell[f"t_{b}"] = median(r["seconds"] for r in rs if r["backend"] == b)
        cell.update(instances=len(first), yes=yes, wrong=sum(r["wrong"] for r in rs))
        summary.append(cell)
        add_row(
            table,
            family,
            n,
            setting,
            len(first),
            yes,
            *("-" if math.isnan(rates[b]) else f"{rates[b]:.2f}" for b in backends),
            cell["wrong"],
            *(fmt_s(cell[f"t_{b}"]) for b in backends),
        )
    print_table(table)

    total = make_table(
        "per family and backend, all instances",
        [
            "family",
            "backend",
            "YES inst",
            "yes (success)",
            "rate",
            "NO inst",
            "unknown on NO",
            "wrong",
            "other statuses",
            "median time",
        ],
    )
    for family in (SAT, CVP):
        for b in backends:
            rs = [r for r in rows if r["family"] == family and r["backend"] == b]
            if not rs:
                continue
            rt, ok, ny = rate(rs)
            no = [r for r in rs if r["truth"] == "NO"]
            other = sorted({r["status"] for r in rs} - {"yes", "unknown"})
            add_row(
                total,
                family,
                b,
                ny,
                ok,
                "-" if math.isnan(rt) else f"{rt:.2f}",
                len(no),
                sum(r["status"] == "unknown" for r in no),
                sum(r["wrong"] for r in rs),
                ",".join(other) or "-",
                fmt_s(median(r["seconds"] for r in rs)),
            )
    print_table(total)
    return summary


def plot(rows: list[dict[str, Any]], backends: list[str], name: str) -> None:
    plt = pyplot()
    if plt is None:
        return
    panels = []
    if any(r["family"] == SAT for r in rows):
        panels += [("sat-n", "3-SAT (Thm 2): success vs n (all densities)"),
                   ("sat-c", "3-SAT (Thm 2): success vs clause density (all n)")]  # fmt: skip
    if any(r["family"] == CVP for r in rows):
        panels.append(("cvp-n", "CVP (Thm 4): success vs n (solid r = d_min, dashed loose)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (kind, title) in zip(axes.flat, panels, strict=True):
        for j, b in enumerate(backends):
            mine = [r for r in rows if r["backend"] == b]
            if kind == "sat-n":
                series = [("", [r for r in mine if r["family"] == SAT], "n", "o-")]
            elif kind == "sat-c":
                series = [("", [r for r in mine if r["family"] == SAT], "setting", "o-")]
            else:
                cvp = [r for r in mine if r["family"] == CVP]
                series = [
                    (" (r = d_min)", [r for r in cvp if r["setting"] == "at"], "n", "o-"),
                    (" (loose)", [r for r in cvp if r["setting"] == "loose"], "n", "s--"),
                ]
            for suffix, rs, key, style in series:
                xs = sorted({float(r[key]) for r in rs})
                pts = [(x, rate([r for r in rs if float(r[key]) == x])[0]) for x in xs]
                pts = [(x, y) for x, y in pts if not math.isnan(y)]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, color=f"C{j}", label=b + suffix, ms=4)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("clause density m/n" if kind == "sat-c" else "n")
        ax.set_ylabel("success rate on YES instances")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6, ncol=2 if kind == "cvp-n" else 1)
    save_figure(fig, name)


if __name__ == "__main__":
    main()
