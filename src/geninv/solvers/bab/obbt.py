"""Bound tightening of a bab node with the target rows (OBBT), and the optimistic root.

:func:`tighten_node` runs passes of LP bound tightening (:func:`.relax.tighten`) over
the node's unstable units, each pass in chunks; a chunk's improved bounds are one
round of *witness lemmas* (:mod:`geninv.proofrows`).  Normally each round is checked
exactly at once.  At the root of a search with ``optimistic`` set, the rounds carry
the bounds their shortened multipliers prove (:func:`.relax.dual_bound`) and stay
unchecked: if the node LP then exceeds delta, :func:`optimistic_leaf` makes the root a
leaf and the final independent check of the proof verifies everything in one exact
pass (the backend searches again, checked, if it fails); otherwise :func:`settle`
checks the rounds exactly before the search goes on.  Also the multipliers'
shortening (:func:`to_fracs`): any ``y >= 0`` is valid, short ones make the proof
smaller and its check faster.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import TYPE_CHECKING, cast

import numpy as np

from geninv.bounds import node_bounds, unstable_units
from geninv.network import FloatArray
from geninv.proofcheck import Inherited
from geninv.solvers.bab.certificate import Box, ProofNode
from geninv.solvers.bab.relax import Basis, solve_node, tighten

if TYPE_CHECKING:
    from geninv.solvers.bab.search import Search

#: At a node up to the search's ``obbt_depth``: at most this many passes over the
#: unstable units, stopping when a pass shrinks their total width by less than this
#: share, ...
OBBT_ROUNDS = 8
OBBT_MIN_GAIN = 0.1
#: ... each pass over the unstable units in this many chunks (rounds of lemmas), of at
#: least this many units: each chunk's LPs see the bounds the chunks before it proved
#: (on near-boundary 20-100-200 nets: 3-4 passes instead of 5-7, a third fewer LPs
#: and lemmas than one round per pass) ...
OBBT_CHUNKS = 8
OBBT_CHUNK_MIN = 8
#: ... a bound a lemma only when it gains this share of the unit's width ...
OBBT_LEMMA_GAIN = 0.0
#: ... no further pass once the node LP exceeds delta (the node's evaluation proves
#: it) ...
OBBT_STOP_AT_REFUTE = True
#: ... each chunk's first LP started from the basis the last chunk ended with ...
OBBT_WARM = True
#: ... and within this share of the search time left (and at most these seconds)
OBBT_SHARE = 0.6
OBBT_MAX_SECONDS = 300.0
#: optimistic root (``Search(optimistic=True)``): an unchecked LP bound is loosened by
#: this share of (1 + |bound| + the unit's width) before the search uses it
OPTIMISTIC_PAD = 1e-7
#: an LP optimum s* at most delta + this (relative to the scale) is not tried for pruning
PRUNE_EPS = 1e-9


def _width(bounds: list[tuple[FloatArray, FloatArray]], units: list[tuple[int, int]]) -> float:
    """Total interval width of ``units``."""
    return sum(float(bounds[lay - 1][1][j] - bounds[lay - 1][0][j]) for lay, j in units)


def floats_of(box: Box) -> tuple[FloatArray, FloatArray]:
    """A rational box as float arrays (lower, upper)."""
    lo = np.array([float(a) for a, _ in box], dtype=np.float64)
    hi = np.array([float(b) for _, b in box], dtype=np.float64)
    return lo, hi


#: significant bits kept of each float multiplier (any y >= 0 is valid; short ones make
#: the proof smaller and its exact check faster; a leaf they fail is split further)
MULTIPLIER_BITS = 20


def short(v: float) -> Fraction:
    """``v`` rounded to ``MULTIPLIER_BITS`` significant bits, as an exact dyadic."""
    m, e = math.frexp(v)
    k = MULTIPLIER_BITS - e
    num = round(m * 2**MULTIPLIER_BITS)
    return Fraction(num, 2**k) if k >= 0 else Fraction(num * 2 ** (-k))


def to_fracs(y: dict[str, float] | None) -> dict[str, Fraction] | None:
    """Multipliers as short rationals (:func:`short`), dropping those below 1e-14 of
    the largest; None for none."""
    if not y:
        return None
    top = max(y.values())
    return {k: short(v) for k, v in y.items() if v > top * 1e-14}


def tighten_node(
    search: Search,
    nd: ProofNode,
    bounds: list[tuple[FloatArray, FloatArray]],
    inh_exact: Inherited,
    inh_float: dict[tuple[int, int, str], float],
) -> tuple[list[tuple[FloatArray, FloatArray]], Inherited, dict[tuple[int, int, str], float]]:
    """Passes of LP bound tightening with the target rows (:func:`.relax.tighten`)
    over the unstable units, each in ``OBBT_CHUNKS`` chunks: a chunk's improved
    bounds become one round of *witness lemmas* of the node, checked exactly at
    once (a failing round ends the tightening); the node's bounds are then
    recomputed from the exact results, and the next chunk's LP is built on them.
    Stops when a pass gains little, or the node LP already exceeds delta."""
    zlo, zhi = floats_of(nd.box)
    phase = search.clock.sub(OBBT_SHARE, seconds=OBBT_MAX_SECONDS)
    rnd = 0
    warm: list[Basis] | None = [] if OBBT_WARM else None  # the last chunk's basis
    for _ in range(OBBT_ROUNDS):
        if any(bool((lo > hi).any()) for lo, hi in bounds):
            break
        units = unstable_units(bounds, search.problem.network, nd.fixed)
        if not units:
            break
        before = _width(bounds, units)
        search.stats.setdefault("obbt_unstable", []).append(len(units))
        # a pass over the units in chunks: each chunk's LPs see the bounds the
        # chunks before it proved (each chunk is one round of witness lemmas)
        size = max(OBBT_CHUNK_MIN, -(-len(units) // OBBT_CHUNKS))
        chunks = [units[i : i + size] for i in range(0, len(units), size)]
        gained = False
        for chunk in chunks:
            if phase.expired():
                break
            t0 = time.perf_counter()
            unchecked = search.optimistic and nd.id == 0
            props = tighten(
                search.setup,
                zlo,
                zhi,
                nd.fixed,
                bounds,
                chunk,
                phase,
                OBBT_LEMMA_GAIN,
                warm,
                # unchecked bounds: the ones the shortened multipliers prove
                (lambda y: to_fracs(y) or {}) if unchecked else None,
            )
            search.stats["obbt_lp_seconds"] = search.stats.get("obbt_lp_seconds", 0.0) + (
                time.perf_counter() - t0
            )
            fr: list[tuple[int, int, str, dict[str, Fraction]]] = [
                # unchecked: tighten shortened them already
                (lay, j, f"w{rnd}.{side}", cast(dict[str, Fraction], y))
                if unchecked
                else (lay, j, f"w{rnd}.{side}", to_fracs(y) or {})
                for lay, j, side, y, _ in props
            ]
            if not fr:
                continue
            if unchecked:
                # unchecked for now: the LP values, loosened, stand in for the
                # bounds the checker will derive (see _settle)
                search.pending.extend(fr)
                inh_float = dict(inh_float)
                for lay, j, side, _, val in props:
                    lo, hi = bounds[lay - 1][0][j], bounds[lay - 1][1][j]
                    pad = OPTIMISTIC_PAD * (1.0 + abs(val) + float(hi - lo))
                    v = val - pad if side == "lo" else val + pad
                    old = inh_float.get((lay, j, side))
                    if old is None or (v > old if side == "lo" else v < old):
                        inh_float[(lay, j, side)] = v
            else:
                t0 = time.perf_counter()
                exact = search.checker.node(nd.box, nd.fixed, inh_exact, fr)
                search.stats["check_seconds"] += time.perf_counter() - t0
                if exact is None:
                    search.stats["failed_lemmas"] = search.stats.get("failed_lemmas", 0) + 1
                    return bounds, inh_exact, inh_float
                inh_exact = exact
                inh_float = {k: float(v) for k, v in exact.items()}
            rnd += 1
            gained = True
            nd.lemmas = [*(nd.lemmas or []), *fr]
            search.stats["witness_lemmas"] = search.stats.get("witness_lemmas", 0) + len(fr)
            bounds, _ = node_bounds(search.problem.network, zlo, zhi, nd.fixed, inh_float, math.inf)
            if any(bool((lo > hi).any()) for lo, hi in bounds):
                return bounds, inh_exact, inh_float
        if not gained or phase.expired() or lp_refutes(search, nd, bounds):
            break
        after = _width(bounds, unstable_units(bounds, search.problem.network, nd.fixed))
        if after >= before * (1 - OBBT_MIN_GAIN):
            break
    return bounds, inh_exact, inh_float


def lp_refutes(search: Search, nd: ProofNode, bounds: list[tuple[FloatArray, FloatArray]]) -> bool:
    """Whether the node LP over ``bounds`` already exceeds delta (in floats: the
    node's own evaluation then proves it), so that tightening can stop."""
    if not OBBT_STOP_AT_REFUTE:
        return False
    zlo, zhi = floats_of(nd.box)
    t0 = time.perf_counter()
    res = solve_node(search.setup, zlo, zhi, nd.fixed, bounds)
    search.stats["lp_seconds"] += time.perf_counter() - t0
    return res.status == "infeasible" or (
        res.status == "optimal" and res.value > search.setup.delta + PRUNE_EPS * search.scale
    )


def optimistic_leaf(
    search: Search, nd: ProofNode, bounds: list[tuple[FloatArray, FloatArray]]
) -> bool:
    """With the root's witness lemmas unchecked: whether the root is a leaf in
    floats (empty bounds, or the node LP above delta with its duals as the leaf's
    multipliers).  Then nothing is checked here: the final independent check of
    the proof verifies lemmas and leaf in one pass (the work the per-round
    checks would do again), and the backend searches again, every round checked,
    if it fails."""
    if any(bool((lo > hi).any()) for lo, hi in bounds):
        nd.y = {}
        search.stats["empty_by_bounds"] += 1
    else:
        zlo, zhi = floats_of(nd.box)
        t0 = time.perf_counter()
        res = solve_node(search.setup, zlo, zhi, nd.fixed, bounds)
        search.stats["lp_seconds"] += time.perf_counter() - t0
        y = to_fracs(res.y) if res.status == "optimal" else None
        if y is None or not res.value > search.setup.delta + PRUNE_EPS * search.scale:
            return False
        nd.y = y
    search.unchecked = True
    search.stats["unchecked_leaf"] = True
    return True


def settle(
    search: Search, nd: ProofNode, inh_exact: Inherited
) -> tuple[list[tuple[FloatArray, FloatArray]], Inherited, dict[tuple[int, int, str], float]]:
    """Check the pending witness lemmas exactly (all rounds at once); if they fail,
    drop them.  Returns the node's bounds from the exact results."""
    pending, search.pending = search.pending, []
    t0 = time.perf_counter()
    exact = search.checker.node(nd.box, nd.fixed, inh_exact, pending)
    search.stats["check_seconds"] += time.perf_counter() - t0
    if exact is None:
        search.stats["failed_lemmas"] = search.stats.get("failed_lemmas", 0) + 1
        keep = len(nd.lemmas or []) - len(pending)
        nd.lemmas = (nd.lemmas or [])[:keep] or None
    else:
        inh_exact = exact
    inh_float = {k: float(v) for k, v in inh_exact.items()}
    zlo, zhi = floats_of(nd.box)
    bounds, _ = node_bounds(search.problem.network, zlo, zhi, nd.fixed, inh_float, math.inf)
    return bounds, inh_exact, inh_float
