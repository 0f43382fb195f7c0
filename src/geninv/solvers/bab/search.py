"""The bab tree search: best-first over nodes (sub-box, fixed phases).

At each node:

1. float bounds (:func:`geninv.bounds.node_bounds`): interval bounds with the
   lemma bounds inherited from ancestors, tightened by back-substitution where
   that gains more than ``LEMMA_GAIN`` of the width -- each such bound is a
   *lemma* whose multipliers are checked exactly at once (a failing lemma set is
   dropped) and inherited by the node's descendants; then the node's fixings.
   An empty interval is tried as an exact "empty by bounds" leaf;
2. the node LP (:mod:`.relax`) minimises the relaxed distance ``s``;
3. ``s* > delta`` (or an infeasible LP): the duals (or the dual ray) become
   nonnegative Fractions and the leaf is checked *exactly*
   (:class:`geninv.proofcheck.LeafChecker`); if the check passes the node is a
   proved leaf, otherwise it is split further;
4. otherwise the LP point (and a few rational roundings of it) is re-checked
   exactly as a witness; a passing one ends the search with *yes*;
5. for integer p >= 2, an LP point inside the l_inf/l_1 relaxation but outside
   the l_p ball adds a supporting cut ``c . d <= delta ||c||_{p*}`` at that point
   (global, checked by the checker) and the node is solved again (at most
   ``MAX_CUT_ROUNDS`` times per node).

Branching rule (simple, by latent dimension): with ``n <= INPUT_SPLIT_MAX``
latents, bisect the latent coordinate with the largest ``width_i * sum_j
|W1_ji|`` (low-dimensional latents split better on inputs); otherwise split the
unstable ReLU with the largest BaBSR-like score ``(y_chord + tiny) *
(-lo hi / (hi - lo))`` (the chord row's dual times the triangle's height, the
height times the unit's outgoing weight mass when no dual is positive).  When
the preferred kind has no candidate the other is used; a node with neither is
left open (the answer is then ``unknown``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.bounds import node_bounds, unstable_units
from geninv.budget import Budget
from geninv.network import FloatArray
from geninv.problem import InversionProblem
from geninv.proofcheck import Inherited, LeafChecker
from geninv.solvers.bab.certificate import Box, Certificate, ProofNode
from geninv.solvers.bab.obbt import PRUNE_EPS, optimistic_leaf, settle, tighten_node
from geninv.solvers.bab.obbt import floats_of as _floats
from geninv.solvers.bab.obbt import to_fracs as _to_fracs
from geninv.solvers.bab.polish import candidates
from geninv.solvers.bab.relax import Basis, NodeResult, Setup, solve_node

INPUT_SPLIT_MAX = 8
#: a back-substitution bound becomes a lemma when it beats the interval bound by this
#: fraction of the interval's width
LEMMA_GAIN = 0.05
MAX_CUT_ROUNDS = 8


#: with ``keep_for_check``, the search stops early enough to leave this multiple of its
#: own exact-check seconds, plus this share of the limit, to the final check
CHECK_RESERVE = 2.0
RESERVE_SHARE = 0.05

#: LP bound tightening with the target rows (witness lemmas) at nodes this deep ...
OBBT_DEPTH = 0

IncumbentFinder = Callable[[InversionProblem, float], Any]


@dataclass(order=True)
class _Item:
    key: float
    seq: int
    node: ProofNode = field(compare=False)
    depth: int = field(compare=False)


@dataclass
class SearchResult:
    """The search's answer: ``status`` (yes, no, unknown), the exact witness ``z``, the
    ``reason`` for *unknown*, the proof ``certificate`` for *no*, and ``stats``."""

    status: str  # "yes", "no", "unknown"
    z: list[Fraction] | None = None
    reason: str = ""
    certificate: Certificate | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class Search:
    """The best-first bab search over one root box (module docstring); :meth:`run` runs it."""

    def __init__(
        self,
        problem: InversionProblem,
        setup: Setup,
        cert: Certificate,
        *,
        time_limit: float | None,
        max_nodes: int,
        incumbent_finder: IncumbentFinder | None = None,
        lemmas: bool = True,
        obbt_depth: int = OBBT_DEPTH,
        warm_start: bool = True,
        keep_for_check: bool = False,
        optimistic: bool = False,
        lemma_layers: int | None = None,
    ) -> None:
        self.problem, self.setup, self.cert = problem, setup, cert
        #: back-substitution lemmas on layers up to this one only (None: every layer)
        self.lemma_layers = lemma_layers
        #: the root's witness lemmas are not checked one round at a time: see _settle
        self.optimistic = optimistic
        self.pending: list[tuple[int, int, str, dict[str, Fraction]]] = []
        #: the proof has a leaf only the final independent check verifies
        self.unchecked = False
        self.lemmas = lemmas
        #: tighten bounds with the target rows at nodes up to this depth (-1: never)
        self.obbt_depth = obbt_depth if lemmas else -1
        #: start each node LP from its parent's optimal basis (by row name)
        self.warm_start = warm_start
        self.warm: dict[int, Basis] = {}
        #: per open node: the exact and float lemma bounds its ancestors proved
        self.inherited: dict[int, tuple[Inherited, dict[tuple[int, int, str], float]]] = {}
        self.current: tuple[Inherited, dict[tuple[int, int, str], float]] = ({}, {})
        #: the search's time: ``clock.left()`` is math.inf without a limit
        self.clock = Budget(time_limit)
        self.limit = math.inf if time_limit is None else time_limit
        self.keep_for_check = keep_for_check
        self.max_nodes = max_nodes
        self.finder = incumbent_finder
        self.checker = LeafChecker(problem, cert.globals_doc())
        self.scale = max(1.0, setup.delta, float(np.max(np.abs(setup.x), initial=0.0)))
        self.stats: dict[str, Any] = {
            "nodes": 0,
            "pruned": 0,
            "empty_by_bounds": 0,
            "max_depth": 0,
            "failed_checks": 0,
            "cuts": 0,
            "lp_seconds": 0.0,
            "check_seconds": 0.0,
        }
        w1 = np.abs(setup.layers[0].weight)
        self.col_mass = w1.sum(axis=0)

    def _reserve(self) -> float:
        """Time kept for the final independent check: it redoes the exact work the
        search did (``CHECK_RESERVE`` times the search's exact-check seconds so far)
        plus ``RESERVE_SHARE`` of the limit."""
        if not self.keep_for_check or not math.isfinite(self.limit):
            return 0.0
        return CHECK_RESERVE * float(self.stats["check_seconds"]) + RESERVE_SHARE * self.limit

    # ------------------------------------------------------------ witnesses
    def _plausible(self, z: list[Fraction]) -> bool:
        """Float screen before an exact check: distance within delta + a small margin."""
        zf = np.array([[float(v) for v in z]])
        d = float(self.problem.distances(self.problem.network.forward(zf))[0])
        return d <= self.setup.delta + 1e-7 * self.scale

    def _try_witness(self, z: FloatArray, box: Box) -> list[Fraction] | None:
        base = [min(max(Fraction(float(v)), lo), hi) for v, (lo, hi) in zip(z, box, strict=True)]
        if not self._plausible(base):
            return None
        cands = [base]
        for den in (10**3, 10**6, 10**9):
            c = [
                min(max(v.limit_denominator(den), lo), hi)
                for v, (lo, hi) in zip(base, box, strict=True)
            ]
            if c not in cands:
                cands.append(c)
        for c in cands:
            if self._plausible(c) and self.problem.exact_check(c).meets:
                return c
        return None

    def _polish(self, nd: ProofNode, z: FloatArray) -> list[Fraction] | None:
        """Exact candidates where G is affine on the node (see :mod:`.polish`)."""
        guess = [
            min(max(Fraction(float(v)), lo), hi) for v, (lo, hi) in zip(z, nd.box, strict=True)
        ]
        self.stats["polished"] = self.stats.get("polished", 0) + 1
        for cand in candidates(self.problem, nd.box, guess):
            if self.problem.exact_check(cand).meets:
                return cand
        return None

    def _incumbent(self) -> list[Fraction] | None:
        if self.finder is None:
            return None
        z = self.finder(self.problem, self.clock.left())
        if z is None:
            return None
        zf = [Fraction(v) if not isinstance(v, Fraction) else v for v in z]
        return zf if self.problem.exact_check(zf).meets else None

    # ------------------------------------------------------------ cuts
    def _add_cut(self, out: FloatArray) -> bool:
        """A supporting cut of the l_p ball at the LP's output (integer p >= 2)."""
        k = int(self.problem.p)
        d = out - self.setup.x
        nrm = float(np.sum(np.abs(d) ** k)) ** (1.0 / k)
        if not nrm > self.setup.delta * (1 + 1e-7) or len(self.cert.cuts) >= 500:
            return False
        w = [Fraction(float(v) / nrm).limit_denominator(10**6) for v in d]
        delta = self.problem.threshold
        s = sum((abs(v) ** k for v in w), Fraction(0))
        r_f = float(delta) * float(s) ** ((k - 1) / k)
        r = Fraction(r_f * (1 + 1e-12) + 1e-300).limit_denominator(10**12)
        while r < 0 or r**k < delta**k * s ** (k - 1):
            r = r * (1 + Fraction(1, 10**9)) + Fraction(1, 10**15)
        self.cert.cuts.append((w, r))
        c = np.array([float(np.sign(float(v)) * abs(float(v)) ** (k - 1)) for v in w])
        self.setup.cuts.append((c, float(r)))
        self.checker = LeafChecker(self.problem, self.cert.globals_doc())
        self.stats["cuts"] += 1
        return True

    # ------------------------------------------------------------ one node
    def _evaluate(self, nd: ProofNode, depth: int = 0) -> tuple[str, Any]:
        """('leaf', None) | ('yes', z) | ('split', (bounds, result))."""
        zlo, zhi = _floats(nd.box)
        inh_exact, inh_float = self.inherited.pop(nd.id, ({}, {}))
        gain = LEMMA_GAIN if self.lemmas else math.inf
        bounds, lemmas = node_bounds(
            self.problem.network, zlo, zhi, nd.fixed, inh_float, gain, self.lemma_layers
        )
        if lemmas:
            fr = [(lay, j, side, _to_fracs(y) or {}) for lay, j, side, y, _ in lemmas]
            t0 = time.perf_counter()
            exact = self.checker.node(nd.box, nd.fixed, inh_exact, fr)
            self.stats["check_seconds"] += time.perf_counter() - t0
            if exact is None:  # a lemma failed its exact check: go without
                self.stats["failed_lemmas"] = self.stats.get("failed_lemmas", 0) + 1
                bounds, _ = node_bounds(
                    self.problem.network, zlo, zhi, nd.fixed, inh_float, math.inf
                )
            else:
                nd.lemmas = fr
                self.stats["lemmas"] = self.stats.get("lemmas", 0) + len(fr)
                inh_exact = exact
                inh_float = {k: float(v) for k, v in exact.items()}
        if depth <= self.obbt_depth and not self.clock.expired():
            bounds, inh_exact, inh_float = tighten_node(self, nd, bounds, inh_exact, inh_float)
        if self.pending:
            if optimistic_leaf(self, nd, bounds):
                return "leaf", None
            bounds, inh_exact, inh_float = settle(self, nd, inh_exact)
        self.current = (inh_exact, inh_float)
        if any(bool((lo > hi).any()) for lo, hi in bounds):
            t0 = time.perf_counter()
            ok = self.checker.refutes(nd.box, nd.fixed, {}, inh_exact)
            self.stats["check_seconds"] += time.perf_counter() - t0
            if ok:
                nd.y = {}
                self.stats["empty_by_bounds"] += 1
                return "leaf", None
            bounds = [(lo, np.maximum(lo, hi)) for lo, hi in bounds]
        warm = self.warm.pop(nd.id, None)
        for _ in range(MAX_CUT_ROUNDS + 1):
            t0 = time.perf_counter()
            res = solve_node(self.setup, zlo, zhi, nd.fixed, bounds, warm, self.clock.left())
            self.stats["lp_seconds"] += time.perf_counter() - t0
            # a cut round re-solves from this optimum's basis (the new cut row basic)
            warm = res.basis if self.warm_start else None
            if res.status == "infeasible" or (
                res.status == "optimal" and res.value > self.setup.delta + PRUNE_EPS * self.scale
            ):
                for cand in (res.y, res.y_alt):
                    y = _to_fracs(cand)
                    if y is None:
                        continue
                    t0 = time.perf_counter()
                    ok = self.checker.refutes(nd.box, nd.fixed, y, inh_exact)
                    self.stats["check_seconds"] += time.perf_counter() - t0
                    if ok:
                        nd.y = y
                        return "leaf", None
                self.stats["failed_checks"] += 1
                return "split", (bounds, res)
            if res.status == "optimal" and res.z is not None:
                z = self._try_witness(res.z, nd.box)
                if z is None and not unstable_units(bounds, self.problem.network, nd.fixed):
                    z = self._polish(nd, res.z)
                if z is not None:
                    return "yes", z
                if self.setup.mode == "lp" and res.out is not None and self._add_cut(res.out):
                    continue
            return "split", (bounds, res)
        return "split", (bounds, res)

    # ------------------------------------------------------------ branching
    def _branch(
        self, nd: ProofNode, bounds: list[tuple[FloatArray, FloatArray]], res: NodeResult
    ) -> dict[str, Any] | None:
        widths = np.array([float(hi - lo) for lo, hi in nd.box])
        can_input = [i for i, (lo, hi) in enumerate(nd.box) if lo < hi]
        relus = unstable_units(bounds, self.problem.network, nd.fixed)
        prefer_input = self.setup.n <= INPUT_SPLIT_MAX
        if can_input and (prefer_input or not relus):
            score = widths * (self.col_mass + 1e-12)
            i = max(can_input, key=lambda c: (score[c], widths[c]))
            blo, bhi = nd.box[i]
            return {"kind": "input", "coord": i, "at": (blo + bhi) / 2}
        if relus:
            y = res.y or {}
            best, best_s = relus[0], -1.0
            for lay, j in relus:
                lo, hi = float(bounds[lay - 1][0][j]), float(bounds[lay - 1][1][j])
                height = -lo * hi / (hi - lo)
                dual = y.get(f"L{lay}.{j}.chord", 0.0)
                if lay < len(self.setup.layers):
                    mass = float(np.abs(self.setup.layers[lay].weight[:, j]).sum())
                else:
                    mass = 1.0
                s = (dual + 1e-9 * mass) * height
                if s > best_s:
                    best, best_s = (lay, j), s
            return {"kind": "relu", "layer": best[0], "unit": best[1]}
        return None

    def _children(self, nd: ProofNode, split: dict[str, Any], next_id: int) -> list[ProofNode]:
        if split["kind"] == "input":
            i, at = split["coord"], split["at"]
            left, right = list(nd.box), list(nd.box)
            left[i] = (nd.box[i][0], at)
            right[i] = (at, nd.box[i][1])
            return [
                ProofNode(next_id, left, dict(nd.fixed)),
                ProofNode(next_id + 1, right, dict(nd.fixed)),
            ]
        key = (split["layer"], split["unit"])
        return [
            ProofNode(next_id, list(nd.box), {**nd.fixed, key: 0}),
            ProofNode(next_id + 1, list(nd.box), {**nd.fixed, key: 1}),
        ]

    # ------------------------------------------------------------ main loop
    def run(self, root_box: Box) -> SearchResult:
        """Search from ``root_box``: *yes* with a witness re-checked exactly, *no* when every
        leaf passed the exact leaf check (the certificate filled in), else *unknown* (time or
        node budget, or a node that cannot be split) with the reason."""
        start = time.perf_counter()
        z = self._incumbent()
        if z is not None:
            return self._done("yes", start, z=z)
        root = ProofNode(0, root_box, {})
        self.cert.nodes = {0: root}
        heap: list[_Item] = [_Item(0.0, 0, root, 0)]
        seq = 1
        while heap:
            if self.clock.left() < self._reserve():
                return self._done("unknown", start, reason="time limit reached", open_=len(heap))
            if self.stats["nodes"] >= self.max_nodes:
                return self._done(
                    "unknown", start, reason=f"node budget {self.max_nodes} used", open_=len(heap)
                )
            item = heapq.heappop(heap)
            nd = item.node
            self.stats["nodes"] += 1
            self.stats["max_depth"] = max(self.stats["max_depth"], item.depth)
            kind, data = self._evaluate(nd, item.depth)
            if kind == "leaf":
                self.stats["pruned"] += 1
                continue
            if kind == "yes":
                return self._done("yes", start, z=data)
            bounds, res = data
            split = self._branch(nd, bounds, res)
            if split is None:
                return self._done(
                    "unknown",
                    start,
                    reason="a node has a zero-width box and no unstable unit but could be "
                    "neither refuted nor solved exactly (a tie at the threshold?)",
                    open_=len(heap) + 1,
                )
            kids = self._children(nd, split, seq)
            nd.split, nd.children = split, [k.id for k in kids]
            key = res.value if res.status == "optimal" else 0.0
            for k in kids:
                self.cert.nodes[k.id] = k
                self.inherited[k.id] = self.current
                if res.basis is not None and self.warm_start:
                    self.warm[k.id] = res.basis
                heapq.heappush(heap, _Item(key, seq, k, item.depth + 1))
                seq += 1
        return self._done("no", start)

    def _done(
        self,
        status: str,
        start: float,
        z: list[Fraction] | None = None,
        reason: str = "",
        open_: int = 0,
    ) -> SearchResult:
        st = dict(self.stats)
        st["seconds"] = time.perf_counter() - start
        st["open_nodes"] = open_
        st["lp_seconds"] = round(st["lp_seconds"], 4)
        st["check_seconds"] = round(st["check_seconds"], 4)
        if reason:
            reason = (
                f"{reason} after {st['nodes']} nodes (depth {st['max_depth']}, "
                f"{st['pruned']} proved empty, {open_} still open)"
            )
        return SearchResult(
            status, z=z, reason=reason, certificate=self.cert if status == "no" else None, stats=st
        )
