"""DIMACS clique graphs through Theorem 5, decided by the ``sat`` backend at k = ω and k = ω + 1.

For every graph of ``../shared/data/graphs/dimacs_clique`` whose clique number
ω is stated by its source (``../shared/data/SOURCES.md``; johnson8-4-4 as
measured with networkx), the unweighted k-Clique question becomes an
approximate-inversion problem over {0,1}^n (``CliqueReduction(k, p=1,
max_weight=k(k-1)/2)``: every k-clique weighs k(k-1)/2, so the weight bound
changes no answer and keeps the constants small), and ``solve(..., "sat")``
decides it:

* k = ω must be *yes*: the witness is re-checked exactly by ``solve`` and
  decoded back to a vertex set, which must be a clique of size ω;
* k = ω + 1 must be *no* (a DRUP-checkable "unsatisfiable CNF" proof), or
  ``unknown`` at the time limit — never *yes*.

What makes these decidable is the encoding, not the graph: the reduction's
``[W; -W]`` output pairs are one cost term each, and every value whose cost
alone passes the threshold (a non-edge inside the set, a set of the wrong size)
is excluded by clauses before the distance sum is encoded.

Usage::

    python bench/bench_clique_dimacs.py --quick    # five small graphs, about 20 s
    python bench/bench_clique_dimacs.py            # every graph, 60 s per question

Writes ``bench/out/clique_dimacs.png``, ``.csv`` and ``.txt`` (``clique_dimacs-quick.*``
with ``--quick``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import add_row, fmt_s, machine_line, make_table, print_table, pyplot, say

NAME = "clique_dimacs"
#: ω as stated by the sources (SOURCES.md, "Known optima stated by sources"); johnson8-4-4
#: as measured with networkx.  tests/test_shared_graphs.py reads this table too.
KNOWN_OMEGA = {
    "MANN_a9": 16,
    "brock200_1": 21,
    "brock200_2": 12,
    "brock200_3": 15,
    "brock200_4": 17,
    "keller4": 11,
    "san200_0.7_1": 30,
    "hamming6-2": 32,
    "hamming6-4": 4,
    "c-fat200-1": 12,
    "c-fat200-2": 24,
    "c-fat200-5": 58,
    "C125.9": 34,
    "p_hat300-1": 8,
    "sanr200_0.7": 18,
    "johnson8-2-4": 4,
    "johnson16-2-4": 8,
    "hamming8-4": 16,
    "johnson8-4-4": 14,
}
QUICK = ("johnson8-2-4", "hamming6-4", "MANN_a9", "johnson8-4-4", "hamming6-2")
GRAPHS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "graphs"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", help="comma list of graph names (default: all with a known ω)")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per question")
    ap.add_argument("--data", default=str(GRAPHS), help="folder holding dimacs_clique/")
    common.output_args(ap, f"{', '.join(QUICK)}, 20 s each")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    name = common.output_name(args, NAME)
    folder = Path(args.data) / "dimacs_clique"
    if not folder.is_dir():
        raise SystemExit(f"{folder}: not found (the shared benchmark data, ../shared/data)")
    names = (
        list(QUICK)
        if args.quick and not args.graphs
        else (args.graphs.split(",") if args.graphs else sorted(KNOWN_OMEGA))
    )
    limit = min(args.limit, 20.0) if args.quick else args.limit
    unknown = [g for g in names if g not in KNOWN_OMEGA]
    if unknown:
        raise SystemExit(f"no stated clique number for {', '.join(unknown)}")

    from geninv.io.graphs import read_graph

    graphs = [(name, read_graph(folder / f"{name}.clq")) for name in names]
    graphs.sort(key=lambda item: (item[1].n, len(item[1].edges)))
    say(f"machine: {machine_line()} (shared machine: timings are noisy)")
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    table = make_table(
        f"DIMACS clique graphs, Theorem 5 (p = 1), sat backend, limit {limit:g} s per question",
        [
            "graph",
            "n / edges",
            "ω",
            "rows",
            "k = ω",
            "k = ω + 1",
            "CNF vars / clauses (ω + 1)",
            "values pruned",
            "wrong",
        ],
    )
    for name, graph in graphs:
        omega = KNOWN_OMEGA[name]
        yes = question(name, graph, omega, True, limit)
        no = question(name, graph, omega + 1, False, limit)
        rows += [yes, no]
        add_row(
            table,
            name,
            f"{graph.n} / {len(graph.edges)}",
            omega,
            yes["rows"],
            cell(yes),
            cell(no),
            f"{no.get('cnf_vars', '-')} / {no.get('cnf_clauses', '-')}",
            no.get("pruned", "-"),
            int(yes["wrong"]) + int(no["wrong"]),
        )
        say(f"{name}: k={omega} {yes['status']} {fmt_s(yes['seconds'])}, "
            f"k={omega + 1} {no['status']} {fmt_s(no['seconds'])}")  # fmt: skip
    print_table(table)
    decided = sum(r["status"] in ("yes", "no") for r in rows)
    say(
        f"{decided} of {len(rows)} questions decided within {limit:g} s, "
        f"{sum(r['wrong'] for r in rows)} wrong; total wall time "
        f"{time.perf_counter() - start:.0f} s"
    )
    common.save_csv(name, rows)
    if not args.no_plot:
        plot(rows, limit, name)
    common.save_text(name)
    return {"name": name, "rows": rows}


def question(name: str, graph: Any, k: int, expect_yes: bool, limit: float) -> dict[str, Any]:
    """Decide "is there a k-clique?" through the reduction; check the answer."""
    from geninv.reductions.clique import CliqueReduction
    from geninv.solvers.base import solve

    t0 = time.perf_counter()
    problem, inv = CliqueReduction(k, 1, max_weight=k * (k - 1) // 2).apply(graph)
    reduce_s = time.perf_counter() - t0
    sol = solve(problem, "sat", time_limit=limit)
    status = sol.status.value
    wrong = False
    if status == "yes":
        assert sol.z is not None
        found = CliqueReduction.decode(sol.z, inv)
        wrong = not expect_yes or not (graph.is_clique(found) and len(found) == k)
    elif status == "no":
        wrong = expect_yes
    return {
        "graph": name,
        "n": graph.n,
        "edges": len(graph.edges),
        "k": k,
        "expected": "yes" if expect_yes else "no",
        "status": status,
        "seconds": sol.seconds,
        "reduce_seconds": reduce_s,
        "rows": problem.network.widths[0],
        "cnf_vars": sol.stats.get("cnf_vars"),
        "cnf_clauses": sol.stats.get("cnf_clauses"),
        "pruned": sol.stats.get("objective_values_pruned"),
        "encode_seconds": sol.stats.get("encode_seconds"),
        "solve_seconds": sol.stats.get("solve_seconds"),
        "wrong": wrong,
    }


def cell(row: dict[str, Any]) -> str:
    return f"{row['status']} {fmt_s(row['seconds'])}"


def plot(rows: list[dict[str, Any]], limit: float, name: str) -> None:
    plt = pyplot()
    if plt is None:
        return
    names = list(dict.fromkeys(r["graph"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4))
    for offset, expected, colour in ((-0.2, "yes", "tab:blue"), (0.2, "no", "tab:red")):
        xs, ys, hatch = [], [], []
        for i, graph in enumerate(names):
            r = next(r for r in rows if r["graph"] == graph and r["expected"] == expected)
            xs.append(i + offset)
            ys.append(r["seconds"] if r["status"] in ("yes", "no") else limit)
            hatch.append(r["status"] == "unknown")
        label = "k = ω (yes)" if expected == "yes" else "k = ω + 1 (no)"
        bars = ax.bar(xs, ys, width=0.4, color=colour, label=label)
        for bar, open_ in zip(bars, hatch, strict=True):
            if open_:
                bar.set_hatch("//")
                bar.set_alpha(0.4)
    ax.axhline(limit, color="grey", lw=0.8, ls="--", label=f"limit {limit:g} s (hatched: unknown)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_ylabel("seconds (solve, encoding included)")
    ax.set_title("DIMACS clique graphs via Theorem 5, geninv sat")
    ax.legend(fontsize=8)
    common.save_figure(fig, name)


if __name__ == "__main__":
    main()
