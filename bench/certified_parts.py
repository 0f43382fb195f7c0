"""Instances and the three parts of ``bench_certified.py`` (see its docstring)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import common
import gurobi_peer
import numpy as np
from common import SHARED, fmt_s, say

DIMS = (20, 100, 200)
SIDES = (("no", 0.97), ("yes", 1.03))
DELTA_B = Fraction(1, 10**6)


def _data_dir() -> Path:
    """``shared/data`` beside the checkout, or above it (a worktree under /work/wt)."""
    for root in (SHARED, *(q / "shared" / "data" for q in Path(__file__).resolve().parents)):
        if (root / "cnf").is_dir():
            return root
    return SHARED


CNF_DIR = _data_dir() / "cnf"
DSTAR_NAME = "certified_dstar.json"


def sat_files(family: str, count: int) -> list[Path]:
    dirs = sorted(CNF_DIR.glob(f"{family}-*"))
    return sorted(dirs[0].glob("*.cnf"))[:count] if dirs else []


def disguise(problem: Any, seed: int) -> Any:
    """The Theorem 2 network in another form (same function): per hidden unit a
    positive scale ``c`` in [0.5, 2] on its incoming weights and bias and ``1/c`` on
    its outgoing weights (ReLU is positively homogeneous), the units of every hidden
    layer permuted, and a dead unit added to the widest hidden layer: random incoming
    weights and a bias below the least value they reach on the layer's inputs (the
    layer before it outputs values in [0, 2]: it is ``ReLU(2 - ReLU(z + 1))``),
    random outgoing weights.  l_inf, delta = 1e-6, z in the box [-1, 1]^n."""
    from geninv.problem import Domain, InversionProblem
    from geninv.testing.disguise import disguise_network

    rng = np.random.default_rng([seed, 14])
    # the widest hidden layer reads values in [0, 2] here (the clamp layer
    # ReLU(2 - ReLU(z + 1)) before it), so the dead unit's bound is 2
    net = disguise_network(problem.network, rng, input_bound=2.0)
    assert problem.input_box is not None
    lo, hi = problem.input_box
    # the box domain, not the real one: after rounding c * w / c the slopes outside the
    # box no longer cancel exactly, so G(z) = G(clamp(z)) fails by ~1e-16 per unit of z
    # (geninv's exact clamp check says so) and the real problem is a different question
    return InversionProblem(net, problem.target, Domain.box(lo, hi), p="inf", threshold=DELTA_B)


def reductions(seed: int) -> list[tuple[str, Any, str]]:
    """Small section 5 instances (name, problem, expected), each also lifted to real latents."""
    from geninv.io.graphs import Graph
    from geninv.io.lattice import CVPInstance
    from geninv.oracles import clique_decide, cvp01_decide, vertex_cover_decide
    from geninv.reductions.clique import CliqueReduction
    from geninv.reductions.cvp import CVPReduction
    from geninv.reductions.lifting import BinaryToReal
    from geninv.reductions.vertex_cover import VertexCoverReduction

    rng = np.random.default_rng([seed, 5])
    out: list[tuple[str, Any, str]] = []
    n, d = 8, 5
    basis = tuple(tuple(Fraction(int(v)) for v in rng.integers(-3, 4, d)) for _ in range(n))
    target = tuple(Fraction(int(v), 2) for v in rng.integers(-6, 7, d))
    for p, r in ((math.inf, Fraction(1, 2)), (2.0, Fraction(3, 2))):
        inst = CVPInstance(basis, target, r, None, p)
        truth, _ = cvp01_decide(basis, target, p, radius=r)
        prob, _ = CVPReduction(p).apply(inst)
        out.append((f"cvp p={p:g} r={r}", prob, "yes" if truth else "no"))
    edges = tuple((i, j) for i in range(9) for j in range(i + 1, 9) if rng.random() < 0.5)
    g = Graph(n=9, edges=edges, weights=None)
    for k in (3, 5):
        truth, _ = clique_decide(g, k, Fraction(len(edges)))
        out.append((f"clique k={k}", CliqueReduction(k, 2).apply(g)[0], "yes" if truth else "no"))
    for q in (4, 6):
        truth, _ = vertex_cover_decide(g, q)
        prob = VertexCoverReduction(q, 2).apply(g)[0]
        out.append((f"vertex cover q={q}", prob, "yes" if truth else "no"))
    lifted = [(f"{nm} +lift", BinaryToReal().apply(pr)[0], ex) for nm, pr, ex in out]
    return out + lifted


class Runner:
    def __init__(self, args: Any, gurobi: bool, run_auto: Callable[..., dict[str, Any]]) -> None:
        self.args, self.gurobi, self.run_auto = args, gurobi, run_auto

    def proof_path(self, part: str, label: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
        return common.OUT / "proofs" / part / f"{safe}.json"

    def pair(self, part: str, label: str, side: str, problem: Any, expect: str,
             radius: float | None) -> dict[str, Any]:  # fmt: skip
        a = self.args
        g = self.run_auto(problem, a.limit, a.seed, self.proof_path(part, f"{label}-{side}"))
        gu = None
        if self.gurobi and radius is not None:
            gu = vars(gurobi_peer.decide(problem, radius, a.limit, a.seed))
        row = {"instance": label, "side": side, "expect": expect, "geninv": g, "gurobi": gu}
        say(
            f"[{part}] {label} {side}: geninv {g['status']} {fmt_s(g['seconds'])} "
            f"({g.get('where', '')})"
            + ("" if gu is None else f"; gurobi {gu['status']} {fmt_s(gu['seconds'])}")
        )
        return row

    # ---------------------------------------------------------------- A
    def dstar(self, k: int, problem: Any) -> dict[str, Any] | None:
        """Gurobi's d* (cached), cross-checked with geninv milp-scip optimize."""
        path = common.OUT / DSTAR_NAME
        cache = json.loads(path.read_text()) if path.is_file() else {}
        key = f"{'-'.join(map(str, DIMS))}/seed{self.args.seed}/k{k}"
        if key in cache and cache[key].get("proven"):
            return dict(cache[key])
        if not self.gurobi:
            say(f"[A] net{k}: no d* (Gurobi unavailable, nothing cached in {path})")
            return None
        from geninv.solvers.base import solve

        found = gurobi_peer.optimize(problem, self.args.dstar_limit, self.args.seed)
        sol = solve(problem, "milp-scip", time_limit=self.args.limit,
                    options={"mode": "optimize"}, trust_solver=True)  # fmt: skip
        lo, best = sol.stats.get("lower_bound"), sol.stats.get("best_distance")
        found["geninv_bracket"] = [lo, best]
        found["geninv_seconds"] = sol.seconds
        if found["best"] is not None and lo is not None and best is not None:
            found["cross_check"] = bool(float(lo) - 1e-6 <= found["best"] <= float(best) + 1e-6)
        cache[key] = found
        common.OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        return found

    def part_a(self) -> list[dict[str, Any]]:
        from bench_random_nets import make_problem, with_radius

        rows = []
        for k in range(self.args.nets):
            base, _ = make_problem(DIMS, self.args.seed, k, 0.097, 0.1)
            ds = self.dstar(k, base)
            if ds is None or not ds.get("proven") or ds.get("best") is None:
                say(f"[A] net{k}: d* not proven ({ds}); skipped")
                continue
            d = float(ds["best"])
            say(
                f"[A] net{k}: d* = {d:.8f} (Gurobi {fmt_s(ds['seconds'])}; geninv milp-scip "
                f"bracket {ds.get('geninv_bracket')}, agrees: {ds.get('cross_check')})"
            )
            for side, factor in SIDES:
                r = d * factor
                row = self.pair("A", f"net{k}", side, with_radius(base, r), side, r)
                row["dstar"], row["radius"] = d, r
                rows.append(row)
        return rows

    # ---------------------------------------------------------------- B
    def part_b(self) -> list[dict[str, Any]]:
        from geninv.io.dimacs import read_cnf
        from geninv.reductions.sat import SatReduction

        rows = []
        for fam, expect in (("uf50", "yes"), ("uuf50", "no")):
            for i, path in enumerate(sat_files(fam, self.args.sat)):
                base, _ = SatReduction("real").apply(read_cnf(path))
                prob = disguise(base, self.args.seed * 1000 + i + (500 if expect == "no" else 0))
                rows.append(self.pair("B", path.stem, expect, prob, expect, float(DELTA_B)))
        return rows

    # ---------------------------------------------------------------- C
    def part_c(self) -> list[dict[str, Any]]:
        from geninv.io.dimacs import read_cnf
        from geninv.reductions.sat import SatReduction

        rows = []
        for fam, expect in (("uf50", "yes"), ("uuf50", "no")):
            for path in sat_files(fam, self.args.sat):
                prob, _ = SatReduction("real").apply(read_cnf(path))
                rows.append(self.pair("C", f"thm2 {path.stem}", expect, prob, expect, None))
        for label, prob, expect in reductions(self.args.seed):
            rows.append(self.pair("C", label, expect, prob, expect, None))
        return rows
