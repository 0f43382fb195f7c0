"""Issue 14's targets: geninv ``auto`` (certified) beside Gurobi, with proof sizes and checks.

Parts (``--families``, default ``A,B,C``):

* **A** near-boundary l_inf random nets 20-100-200 (``bench_random_nets.make_problem``,
  seed 0, instance k = 0..``--nets``-1): d* (the true minimum distance) from
  Gurobi optimize (MIP gap 1e-9), cross-checked against geninv ``milp-scip``
  optimize's bracket; each net asked at radius 0.97 d* (a *no*) and 1.03 d* (a *yes*).
* **B** the Theorem 2 networks of SATLIB uf50 / uuf50 as a user's exported network
  would be: each hidden unit's incoming weights and bias scaled by a random
  ``c`` in [0.5, 2] and its outgoing weights divided by ``c``, the units of each
  hidden layer permuted, a dead unit (incoming weights random, bias below the
  least value they can reach) added to the widest hidden layer; l_inf, delta = 1e-6.
  uf -> *yes*, uuf -> *no* (SATLIB's labels).
* **C** the SATLIB Theorem 2 instances as built (exact inversion) and small
  section 5 reductions (CVP, clique, vertex cover, each also lifted to real
  latents): every ``auto`` *no* must rest on ``exact`` or ``checked certificate``.

Every geninv run is ``solve(problem, "auto")`` without ``trust_solver``.  Each
*no* from ``bab`` has its proof captured (the script wraps
``BabBackend.decide``; nothing in geninv changes), written as ``--proof`` would
write it (its size in bytes is the file's) and re-checked by
``geninv.proofcheck.check_certificate`` from the file (the "check" column:
reading + exact check).  The "time went" column lists each backend ``auto``
ran, its seconds and answer (bab: nodes).  Gurobi (``gurobi_peer``) gets the
same time limit and 1 thread; its answers are compared with geninv's and with
the expected one.

Ratio = geninv seconds / Gurobi seconds; when geninv gives no answer the limit
stands in (the ratio is then a lower bound, marked ``>=``).  The summary gives
the geometric mean per part.

Usage::

    python bench/bench_certified.py --quick          # 2 nets, 2+2 SATLIB, limit 30 s
    python bench/bench_certified.py                  # 7 nets, 5+5 SATLIB, limit 120 s

Writes ``bench/out/certified[-quick].json`` and ``.txt``; d* is cached in
``bench/out/certified_dstar.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certified_parts as parts
import common
from common import add_row, fmt_s, machine_line, make_table, print_table, save_text, say
from gurobi_peer import gurobi_available

QUICK = {"nets": 2, "limit": 30.0, "sat": 2, "dstar_limit": 120.0}
FULL = {"nets": 7, "limit": 120.0, "sat": 5, "dstar_limit": 600.0}


# ------------------------------------------------------------ one geninv run
class Trace:
    """Wraps ``base._solve_one`` (per-backend times) and ``BabBackend.decide`` (the proof)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, str, dict[str, Any]]] = []
        self.proof: dict[str, Any] | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator[Trace]:
        import geninv.solvers.base as base
        from geninv.solvers.bab.backend import BabBackend

        one, decide = base._solve_one, BabBackend.decide

        def traced_one(problem: Any, method: str, *a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            sol = one(problem, method, *a, **k)
            self.steps.append((method, time.perf_counter() - t0, str(sol.status), dict(sol.stats)))
            return sol

        def traced_decide(bab: Any, problem: Any, limit: Any, **kw: Any) -> Any:
            sol, doc = decide(bab, problem, limit, **kw)
            if doc:
                self.proof = doc
            return sol, doc

        base._solve_one = traced_one  # type: ignore[assignment]
        BabBackend.decide = traced_decide  # type: ignore[method-assign]
        try:
            yield self
        finally:
            base._solve_one = one  # type: ignore[assignment]
            BabBackend.decide = decide  # type: ignore[method-assign]

    def where(self, primal: dict[str, Any] | None) -> str:
        out = []
        if primal and "seconds" in primal:
            out.append(f"primal {float(primal['seconds']):.1f}s")
        for method, secs, status, stats in self.steps:
            extra = f" {stats['nodes']} nodes" if "nodes" in stats else ""
            gated = " gated" if stats.get("uncertified_no") else ""
            out.append(f"{method} {secs:.1f}s {status}{gated}{extra}")
        return ", ".join(out)


def run_auto(problem: Any, limit: float, seed: int, proof_path: Path) -> dict[str, Any]:
    """geninv auto, untrusted; for a bab *no*, the proof's bytes and its re-check time."""
    from geninv.errors import GeninvError
    from geninv.proofcheck import check_certificate
    from geninv.solvers.bab.certificate import write_atomic
    from geninv.solvers.base import solve

    trace = Trace()
    t0 = time.perf_counter()
    try:
        with trace.active():
            sol = solve(problem, "auto", time_limit=limit, seed=seed)
    except GeninvError as exc:
        return {"status": "refused", "seconds": time.perf_counter() - t0, "note": str(exc)[:160]}
    secs = time.perf_counter() - t0
    primal = sol.stats.get("auto_primal")
    if primal is None and sol.method == "primal":  # auto's primal search answered first
        primal = sol.stats
    chosen = str(sol.stats.get("auto", sol.method)).split(":")[0]
    inner = sol.stats.get("binary_solution")
    if isinstance(inner, dict) and inner.get("method"):
        chosen += f"+{inner['method']}"
    row: dict[str, Any] = {
        "status": str(sol.status),
        "seconds": secs,
        "method": chosen,
        "where": trace.where(primal if isinstance(primal, dict) else None),
        "note": sol.reason or "",
        "steps": [(m, round(s, 3), st) for m, s, st, _ in trace.steps],
    }
    bab = [st for m, _, _, st in trace.steps if m == "bab"]
    if bab:
        row["bab_nodes"] = bab[-1].get("nodes")
        row["bab_seconds"] = next(s for m, s, _, _ in reversed(trace.steps) if m == "bab")
    if sol.status.value == "no":
        proof = sol.proof or {}
        row["basis"] = proof.get("basis")
        row["proof_kind"] = proof.get("kind")
        row["certified"] = row["basis"] in ("exact", "checked certificate")
        if sol.method == "bab" and trace.proof is not None:
            proof_path.parent.mkdir(parents=True, exist_ok=True)
            row["proof_bytes"] = write_atomic(proof_path, trace.proof)
            t1 = time.perf_counter()
            try:
                rep = check_certificate(problem, json.loads(proof_path.read_text()))
                row["recheck"] = f"ok ({rep.nodes} nodes, {rep.leaves} leaves)"
            except Exception as exc:  # a failed re-check is a finding, not a crash
                row["recheck"] = f"FAILED: {exc}"[:160]
                row["certified"] = False
            row["check_seconds"] = time.perf_counter() - t1
            row["proof_file"] = str(proof_path)
        elif sol.method == "bab":
            row["recheck"] = "proof not captured"
            row["certified"] = False
    return row


# ------------------------------------------------------------ rows and tables
def ratio(g: dict[str, Any], gu: dict[str, Any] | None, limit: float) -> tuple[float, bool]:
    """(geninv / Gurobi, censored): geninv's limit stands in when it did not answer."""
    if gu is None or gu["status"] not in ("yes", "no") or gu["seconds"] <= 0:
        return math.nan, False
    if g["status"] in ("yes", "no"):
        return g["seconds"] / gu["seconds"], False
    return max(g["seconds"], limit) / gu["seconds"], True


def geomean(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan


def judge(row: dict[str, Any]) -> None:
    """Marks: wrong answers, disagreements with Gurobi."""
    exp, g, gu = row["expect"], row["geninv"]["status"], (row.get("gurobi") or {}).get("status")
    row["wrong"] = g in ("yes", "no") and exp in ("yes", "no") and g != exp
    row["gurobi_wrong"] = gu in ("yes", "no") and exp in ("yes", "no") and gu != exp
    row["disagree"] = g in ("yes", "no") and gu in ("yes", "no") and g != gu


def show(rows: list[dict[str, Any]], title: str, limit: float) -> None:
    table = make_table(
        title,
        [
            "instance",
            "side",
            "geninv",
            "method",
            "Gurobi",
            "ratio",
            "proof",
            "check",
            "time went",
        ],
        caption="geninv = auto without --trust-solver; ratio = geninv s / Gurobi s (>= : geninv "
        "gave no answer, its limit stands in); proof = bytes of the bab proof file, check = "
        "reading it + geninv.proofcheck.check_certificate; 'basis' for other certified nos",
    )
    for r in rows:
        judge(r)
        g, gu = r["geninv"], r.get("gurobi")
        mark = " WRONG" if r["wrong"] else ""
        gcell = f"{g['status']} {fmt_s(g['seconds'])}{mark}"
        if g["status"] == "no" and not g.get("certified"):
            gcell += " UNCERTIFIED"
        gucell = "-" if gu is None else f"{gu['status']} {fmt_s(gu['seconds'])}"
        if gu is not None and r["gurobi_wrong"]:
            gucell += " WRONG"
        if gu is not None and gu["extra"].get("exact_check") is False:
            gucell += " (point misses exactly)"  # within Gurobi's tolerances only
        rt, cens = ratio(g, gu, limit)
        rcell = "-" if math.isnan(rt) else f"{'>= ' if cens else ''}{rt:.2f}"
        proof = f"{g['proof_bytes'] / 1e3:.0f} kB" if "proof_bytes" in g else g.get("basis") or ""
        check = fmt_s(g["check_seconds"]) if "check_seconds" in g else ""
        where = g.get("where", "")[:120]
        method = g.get("method", "")
        add_row(table, r["instance"], r["side"], gcell, method, gucell, rcell, proof, check, where)
    print_table(table)


def summary(all_rows: dict[str, list[dict[str, Any]]], limit: float) -> dict[str, Any]:
    table = make_table(
        "summary per part",
        [
            "part",
            "instances",
            "geninv decided",
            "nos certified",
            "wrong",
            "Gurobi decided",
            "disagree (inexact Gurobi points)",
            "geo-mean ratio",
            "proof kB (max)",
            "check / bab solve",
            "target gm <= 1",
        ],
        caption="geo-mean over instances Gurobi decided; '>=': some geninv runs hit the limit "
        "(the limit stands in: a lower bound, so the target cannot be met). check / bab solve: "
        "total re-check seconds over the total seconds of the bab runs that proved a no",
    )
    out: dict[str, Any] = {}
    for part, rows in all_rows.items():
        if not rows:
            continue
        gs = [r["geninv"] for r in rows]
        nos = [g for g in gs if g["status"] == "no"]
        gus = [r["gurobi"] for r in rows if r.get("gurobi")]
        rts = [ratio(r["geninv"], r.get("gurobi"), limit) for r in rows]
        gm = geomean([v for v, _ in rts])
        cens = any(c for _, c in rts)
        sizes = [g["proof_bytes"] for g in gs if "proof_bytes" in g]
        chk = sum(g.get("check_seconds", 0.0) for g in gs if "proof_bytes" in g)
        bab_s = sum(g.get("bab_seconds", 0.0) for g in gs if "proof_bytes" in g)
        s = {
            "instances": len(rows),
            "decided": sum(g["status"] in ("yes", "no") for g in gs),
            "nos": len(nos),
            "certified": sum(bool(g.get("certified")) for g in nos),
            "wrong": sum(r["wrong"] for r in rows),
            "gurobi_decided": sum(g["status"] in ("yes", "no") for g in gus),
            "gurobi_runs": len(gus),
            "gurobi_wrong": sum(r["gurobi_wrong"] for r in rows),
            "disagree": sum(r["disagree"] for r in rows),
            "gurobi_points_inexact": sum(g["extra"].get("exact_check") is False for g in gus),
            "geomean": gm,
            "geomean_censored": cens,
            "proof_bytes_max": max(sizes) if sizes else None,
            "check_seconds": chk,
            "bab_seconds": bab_s,
        }
        out[part] = s
        add_row(
            table,
            part,
            s["instances"],
            f"{s['decided']}/{s['instances']}",
            f"{s['certified']}/{s['nos']}",
            s["wrong"],
            f"{s['gurobi_decided']}/{s['gurobi_runs']}" if gus else "-",
            f"{s['disagree']} ({s['gurobi_points_inexact']} inexact)" if gus else "-",
            "-" if math.isnan(gm) else f"{'>= ' if cens else ''}{gm:.2f}",
            f"{len(sizes)} proofs ({max(sizes) / 1e3:.0f})" if sizes else "-",
            f"{chk:.1f} s / {bab_s:.1f} s" if sizes else "-",
            "-" if math.isnan(gm) else ("met" if gm <= 1 and not cens else "missed"),
        )
    print_table(table)
    return out


# ------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"a few minutes: {QUICK}")
    ap.add_argument("--limit", type=float, help="seconds per instance and solver")
    ap.add_argument("--nets", type=int, help="part A: random nets (each asked on both sides)")
    ap.add_argument("--sat", type=int, help="parts B and C: instances of uf50 and of uuf50")
    ap.add_argument("--families", default="A,B,C", help="parts to run (comma list of A, B, C)")
    ap.add_argument("--dstar-limit", type=float, help="seconds for Gurobi's d* per net")
    ap.add_argument("--no-gurobi", action="store_true", help="geninv only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="output folder (default bench/out)")
    args = ap.parse_args(argv)
    common.apply_preset(args, QUICK if args.quick else FULL)
    if args.out:
        common.OUT = Path(args.out)
    name = "certified-quick" if args.quick else "certified"
    start = time.perf_counter()
    say(f"machine: {machine_line()} (shared, noisy: 2 cores shared by several jobs)")
    ok, why = (False, "--no-gurobi") if args.no_gurobi else gurobi_available()
    say(f"gurobi: {why}" if ok else f"gurobi: skipped: {why}")
    families = {f.strip().upper() for f in args.families.split(",") if f.strip()}
    results: dict[str, list[dict[str, Any]]] = {}
    runner = parts.Runner(args, ok, run_auto)
    if "A" in families:
        results["A"] = runner.part_a()
        show(results["A"], f"A: random 20-100-200 nets, l_inf, r = 0.97 d* / 1.03 d* "
             f"(limit {args.limit:g} s)", args.limit)  # fmt: skip
    if "B" in families:
        results["B"] = runner.part_b()
        show(results["B"], "B: Theorem 2 nets of uf50/uuf50, scaled + permuted + dead unit, "
             f"l_inf delta = 1e-6 (limit {args.limit:g} s)", args.limit)  # fmt: skip
    if "C" in families:
        results["C"] = runner.part_c()
        show(results["C"], "C: SATLIB Theorem 2 (exact inversion) and section 5 reductions: "
             f"every auto no certified? (limit {args.limit:g} s)", args.limit)  # fmt: skip
    stats = summary(results, args.limit)
    for r in (r for rows in results.values() for r in rows):
        if r["wrong"] or r["disagree"] or r["gurobi_wrong"]:
            gu = (r.get("gurobi") or {}).get("status")
            say(
                f"MISMATCH {r['instance']} {r['side']}: expect {r['expect']}, geninv "
                f"{r['geninv']['status']}, gurobi {gu}"
            )
    for note in sorted({r["geninv"].get("note", "") for rows in results.values() for r in rows}):
        if note:
            say(f"note: {note[:300]}")
    say(f"total wall time: {time.perf_counter() - start:.0f} s")
    common.OUT.mkdir(parents=True, exist_ok=True)
    doc = {"args": vars(args), "gurobi": why, "summary": stats, "rows": results}
    (common.OUT / f"{name}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    save_text(name)
    return doc


if __name__ == "__main__":
    main()
