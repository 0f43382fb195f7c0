"""The free-latent phase search and its proof (see :mod:`.free` for the node LP).

Best-first over nodes (fixed phases), keyed by the parent's LP value.  Each node:
the LP; ``s* > delta`` or infeasible: repair its dual into exact Farkas
multipliers (a leaf when the checker accepts them); otherwise try the LP point as
a witness (exactly), for integer p >= 2 add a cut if the point is outside the
l_p ball, and split the unfixed unit whose LP values are furthest from
``a = f(h)`` (the nearest to ``h = 0`` when all agree).

Proof document: the bab format (:mod:`.certificate`) with ``"root": "free"``,
nodes without boxes, and leaves ``{"farkas": {row: "p/q"}}``; checked by
:mod:`geninv.proofcheck_free`.
"""

from __future__ import annotations

import heapq
import importlib
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.budget import Budget
from geninv.problem import InversionProblem, Solution, Status, norm_label
from geninv.proofcheck import ProofRejected, check_certificate
from geninv.proofcheck_free import ROOT, FreeChecker
from geninv.solvers.bab.certificate import FORMAT, VERSION
from geninv.solvers.bab.free import (
    MAX_CUT_ROUNDS,
    MAX_CUT_ROUNDS_LEAF,
    MAX_CUTS,
    Finder,
    Fixed,
    FreeModel,
    LPResult,
    Repair,
    _frac,
    exact_points,
    solve_lp,
)

#: an LP optimum within this (relative) of delta counts as a tie for the strict relation
TIE_EPS = 1e-7


def _rat(v: Fraction) -> int | str:
    return v.numerator if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


@dataclass
class FreeResult:
    """The free search's answer: ``status`` (yes, no, unknown), the witness ``z`` (exact), the
    ``reason`` for *unknown*, the proof ``doc`` for *no*, and ``stats``."""

    status: str  # "yes", "no", "unknown"
    z: list[Fraction] | None = None
    reason: str = ""
    doc: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(order=True)
class _Item:
    key: float
    seq: int
    nid: int = field(compare=False)


class FreeSearch:
    """The phase search for real latents without a box (module docstring): its *no* comes with a
    proof :mod:`geninv.proofcheck_free` accepts."""

    def __init__(
        self,
        problem: InversionProblem,
        check_problem: InversionProblem,
        delta: Fraction,
        mode: str,
        l1: Fraction | None,
        header: dict[str, Any],
        *,
        time_limit: float | None,
        max_nodes: int,
        finder: Finder | None,
    ) -> None:
        self.problem, self.delta, self.header = problem, delta, header
        self.model = FreeModel(problem, delta, mode, l1)
        self.l1 = l1
        self.cuts: list[tuple[list[Fraction], Fraction]] = []
        self.check_problem = check_problem
        self.strict = check_problem.relation == "<"
        self.checker = FreeChecker(check_problem, self._globals())
        self.repair = Repair(self.model, self.checker)
        self.clock = Budget(time_limit)
        self.max_nodes, self.finder = max_nodes, finder
        self.fdelta = float(delta)
        x = problem.target_array()
        # the magnitude that tolerances are relative to (delta's, or the target's)
        self.scale = self.fdelta or float(np.max(np.abs(x), initial=0.0)) or 1.0
        self.nodes: dict[int, dict[str, Any]] = {}
        self.stats: dict[str, Any] = {
            "nodes": 0,
            "pruned": 0,
            "failed_repairs": 0,
            "cuts": 0,
            "lp_seconds": 0.0,
            "repair_seconds": 0.0,
        }
        net = problem.network
        self.w = [np.asarray(la.weight, dtype=np.float64) for la in net.layers]
        self.b = [np.asarray(la.bias, dtype=np.float64) for la in net.layers]

    def _globals(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.l1 is not None and self.problem.p != 1:
            doc["l1_bound"] = _rat(self.l1)
        doc["cuts"] = [{"w": [_rat(v) for v in w], "r": _rat(r)} for w, r in self.cuts]
        if self.header.get("threshold_up") is not None:
            doc["threshold_up"] = self.header["threshold_up"]
        return doc

    # ------------------------------------------------------------ witnesses
    def _witness(self, lp: LPResult, fixed: Fixed) -> list[Fraction] | None:
        assert lp.v is not None
        n = self.model.n
        if not self._plausible(lp.v[:n]):
            return None  # the network's own output at the LP latent is far: no candidate is near
        base = [Fraction(float(v)) for v in lp.v[:n]]
        cands = [base] + [[v.limit_denominator(d) for v in base] for d in (10**3, 10**6, 10**9)]
        for c in cands:
            if (
                self._plausible(np.array([float(v) for v in c]))
                and self.problem.exact_check(c).meets
            ):
                return c
        for z in exact_points(self.model, lp, fixed):
            if self.problem.exact_check(z).meets:
                return z
        return None

    def _plausible(self, z: np.ndarray[Any, Any]) -> bool:
        """Float screen before exact work: G(z) within delta plus a small margin."""
        d = float(self.problem.distances(self.problem.network.forward(z[None, :]))[0])
        return d <= self.fdelta * (1 + 1e-6) + 1e-9 * self.scale

    def _add_cut(self, lp: LPResult) -> bool:
        """A supporting cut of the l_p ball at the LP's output (integer p >= 2)."""
        assert lp.v is not None
        k = int(self.problem.p)
        out = self.model.off[self.model.depth]
        d = lp.v[out : out + self.model.q] - self.problem.target_array()
        nrm = float(np.sum(np.abs(d) ** k)) ** (1.0 / k)
        if not nrm > self.fdelta * (1 + 1e-13) or len(self.cuts) >= MAX_CUTS:
            return False
        from geninv.exact import threshold_upper

        # w: the direction at 40 bits; r: the least 64-bit dyadic with r^k >= delta^k s^(k-1)
        w = [_frac(float(v) / nrm) for v in d]
        s = sum((abs(v) ** k for v in w), Fraction(0))
        r = threshold_upper(self.delta**k * s ** (k - 1), k, bits=64)
        self.cuts.append((w, r))
        c = [(1 if v > 0 else -1) * abs(v) ** (k - 1) for v in w]
        self.model.add_cut(len(self.cuts) - 1, c, r)
        self.checker = FreeChecker(self.check_problem, self._globals())
        self.repair.checker = self.checker
        self.stats["cuts"] += 1
        return True

    # ------------------------------------------------------------ refutation
    def _refute(self, lp: LPResult, fixed: Fixed) -> dict[str, Fraction] | None:
        t0 = time.perf_counter()
        try:
            for yf in lp.y:
                y = self.repair.run(fixed, lp.rows, yf)
                if y is not None:
                    return y
            if lp.status == "optimal" and lp.basis is not None and lp.y:
                # exact dual of the basis: needed at a tie (strict relation)
                kbasic = importlib.import_module("highspy").HighsBasisStatus.kBasic
                basic = {c for c, st in enumerate(lp.basis[0]) if st == kbasic}
                return self.repair.run(fixed, lp.rows, lp.y[0], basic=basic)
            return None
        finally:
            self.stats["repair_seconds"] += time.perf_counter() - t0

    # ------------------------------------------------------------ branching
    def _branch(self, lp: LPResult, fixed: Fixed) -> tuple[int, int] | None:
        cands = [
            (li, j)
            for li, j in self.model.units
            if (li, j) not in fixed and self.model.acts[li - 1][0] != "identity"
        ]
        if not cands:
            return None
        if lp.v is None:
            return cands[0]
        v, off = lp.v, self.model.off
        best, best_s = cands[0], -1.0
        near, near_h = cands[0], math.inf
        for li, j in cands:
            prev = v[off[li - 1] : off[li - 1] + self.w[li - 1].shape[1]]
            h = float(self.w[li - 1][j] @ prev + self.b[li - 1][j])
            a = float(v[off[li] + j])
            alpha = float(self.model.acts[li - 1][1])
            gap = abs(a - (h if h >= 0 else alpha * h))
            if gap > best_s:
                best, best_s = (li, j), gap
            if abs(h) < near_h:
                near, near_h = (li, j), abs(h)
        return best if best_s > 1e-9 * self.scale else near

    # ------------------------------------------------------------ main loop
    def _evaluate(self, fixed: Fixed) -> tuple[str, Any]:
        """('leaf', y) | ('yes', z) | ('split', (unit, value)) | ('stuck', why)."""
        lp = LPResult("other", -math.inf, None, [], [], None)
        last = all(
            (li, j) in fixed or self.model.acts[li - 1][0] == "identity"
            for li, j in self.model.units
        )
        for _ in range((MAX_CUT_ROUNDS_LEAF if last else MAX_CUT_ROUNDS) + 1):
            t0 = time.perf_counter()
            lp = solve_lp(self.model, fixed)
            self.stats["lp_seconds"] += time.perf_counter() - t0
            if lp.status == "other":
                break
            # near a tie the float optimum cannot tell the sides apart: try both
            tie = lp.value >= self.fdelta - TIE_EPS * self.scale
            if lp.status == "infeasible" or lp.value > self.fdelta or tie:
                y = self._refute(lp, fixed)
                for sc in (True, False) if y is None and lp.status == "infeasible" else ():
                    # no ray, or one the repair failed: the elastic LP's duals
                    y = self._refute(solve_lp(self.model, fixed, scaled=sc, elastic=True), fixed)
                    if y is not None:
                        break
                if y is not None:
                    return "leaf", y
                self.stats["failed_repairs"] += 1
                if lp.status == "infeasible" or lp.value > self.fdelta + TIE_EPS * self.scale:
                    break
            z = self._witness(lp, fixed)
            if z is not None:
                return "yes", z
            if self.model.mode == "lp" and self._add_cut(lp):
                continue
            break
        unit = self._branch(lp, fixed)
        if unit is None:
            return "stuck", lp.status
        return "split", (unit, lp.value if lp.status == "optimal" else 0.0)

    def run(self) -> FreeResult:
        """Search until answered, out of time or out of nodes: *yes* with a witness re-checked
        exactly, *no* with the proof document, else *unknown* with the reason."""
        start = time.perf_counter()
        if self.finder is not None:
            z0 = self.finder(self.problem, max(0.0, self.clock.left()))
            if z0 is not None:
                zf = [v if isinstance(v, Fraction) else Fraction(v) for v in z0]
                if self.problem.exact_check(zf).meets:
                    return self._done("yes", start, z=zf)
        fixings: dict[int, Fixed] = {0: {}}
        self.nodes = {0: {"id": 0, "fixed": []}}
        heap = [_Item(0.0, 0, 0)]
        seq = 1
        while heap:
            if self.clock.expired():
                return self._done("unknown", start, reason="time limit reached", open_=len(heap))
            if self.stats["nodes"] >= self.max_nodes:
                return self._done(
                    "unknown", start, reason=f"node budget {self.max_nodes} used", open_=len(heap)
                )
            it = heapq.heappop(heap)
            fixed = fixings.pop(it.nid)
            self.stats["nodes"] += 1
            kind, data = self._evaluate(fixed)
            nd = self.nodes[it.nid]
            if kind == "leaf":
                nd["farkas"] = {k: _rat(v) for k, v in sorted(data.items())}
                self.stats["pruned"] += 1
                continue
            if kind == "yes":
                return self._done("yes", start, z=data)
            if kind == "stuck":
                return self._done(
                    "unknown",
                    start,
                    reason="a node with every unit fixed could be neither refuted exactly nor "
                    f"solved (LP {data}; a tie at the threshold?)",
                    open_=len(heap) + 1,
                )
            (li, j), value = data
            nd["split"] = {"kind": "relu", "layer": li, "unit": j}
            nd["children"] = [seq, seq + 1]
            for ph in (0, 1):
                kid = {**fixed, (li, j): ph}
                fixings[seq] = kid
                self.nodes[seq] = {
                    "id": seq,
                    "fixed": [[a, b, c] for (a, b), c in sorted(kid.items())],
                }
                heapq.heappush(heap, _Item(value, seq, seq))
                seq += 1
        doc = {**self.header, "root": ROOT, **self._globals()}
        doc["nodes"] = [self.nodes[k] for k in sorted(self.nodes)]
        return self._done("no", start, doc=doc)

    def _done(
        self,
        status: str,
        start: float,
        z: list[Fraction] | None = None,
        reason: str = "",
        open_: int = 0,
        doc: dict[str, Any] | None = None,
    ) -> FreeResult:
        st = dict(self.stats)
        st["seconds"] = round(time.perf_counter() - start, 4)
        st["lp_seconds"] = round(st["lp_seconds"], 4)
        st["repair_seconds"] = round(st["repair_seconds"], 4)
        st["open_nodes"] = open_
        if reason:
            reason = (
                f"real latents without a box, phase search: {reason} after {st['nodes']} "
                f"nodes ({st['pruned']} proved empty, {open_} still open)"
            )
        return FreeResult(status, z=z, reason=reason, doc=doc, stats=st)


def decide_free(
    backend: Any,
    problem: InversionProblem,
    time_limit: float | None,
    *,
    original: InversionProblem | None = None,
    threshold_up: Fraction | None = None,
) -> tuple[Solution, dict[str, Any]]:
    """bab's decision for real latents without a box: a *yes* re-checked exactly, or
    a *no* whose free proof passed :func:`geninv.proofcheck.check_certificate`."""
    from geninv.solvers.bab.common import _l1_bound, checked_proof

    delta = problem.threshold
    if problem.is_exact_inversion or math.isinf(problem.p):
        mode, l1 = "inf", None
    elif problem.p == 1:
        mode, l1 = "l1", delta
    else:
        mode, l1 = "lp", _l1_bound(problem)
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "n": problem.n,
        "q": problem.network.n_outputs,
        "problem": {
            "p": norm_label(problem.p),
            "threshold": _rat(delta),
            "relation": (original or problem).relation,
            "domain": problem.domain.kind,
        },
    }
    if threshold_up is not None:
        header["threshold_up"] = _rat(threshold_up)
    search = FreeSearch(
        problem,
        original or problem,
        delta,
        mode,
        l1,
        header,
        time_limit=time_limit,
        max_nodes=backend.max_nodes,
        finder=backend.incumbent_finder,
    )
    res = search.run()
    name = backend.name
    if res.status == "yes":
        return Solution(Status.YES, name, z=res.z, stats=res.stats), {}
    if res.status == "unknown" or res.doc is None:
        return Solution(Status.UNKNOWN, name, reason=res.reason, stats=res.stats), {}
    t0 = time.perf_counter()
    try:
        report = check_certificate(original or problem, res.doc)
    except ProofRejected as exc:
        return Solution(
            Status.UNKNOWN,
            name,
            reason=f"the free-latent proof failed the independent check: {exc}",
            stats=res.stats,
        ), {}
    res.stats["check_seconds_total"] = round(time.perf_counter() - t0, 4)
    proof = checked_proof(report, "Farkas certificates with exact zero on the free latent columns")
    return Solution(Status.NO, name, proof=proof, stats=res.stats), res.doc
