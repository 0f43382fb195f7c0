"""The corner presolve: forcing outputs pin every latent to at most two values."""

from __future__ import annotations

import math
import time
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.problem import InversionProblem
from geninv.proof import KIND_CORNER_RANGE, Proof
from geninv.solvers.corners.binary import _binary_problem
from geninv.solvers.corners.near import near_analysis
from geninv.solvers.corners.outcome import CornerPresolve, _box, _value
from geninv.solvers.corners.pl import _PL, _ZERO, CONST, MULTI, _exact_sum, _extreme_set, _PLCache
from geninv.solvers.corners.univariate import univariate_units

#: Activations the corner presolve analyses exactly; it declines any other network.
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})


def decline_reason(problem: InversionProblem) -> str | None:
    """Why the presolve cannot apply, from the problem's shape alone (cheap; remembered
    on the problem, which ``auto``, ``solve`` and the presolve each ask)."""
    return problem.derived("corner_decline", lambda: _decline_reason(problem))


def _decline_reason(problem: InversionProblem) -> str | None:
    if (
        not problem.is_exact_inversion
        and problem.threshold_pow is not None
        and (math.isinf(problem.p) or problem.p != int(problem.p))
    ):
        return "the near-corner presolve needs the threshold itself, not delta^p, for this p"
    if _box(problem) is None:
        return "the corner presolve needs a box (or a real domain with an input box)"
    bad = problem.network.first_layer_outside(HANDLED_ACTIVATIONS)
    if bad is not None:
        return f"the corner presolve handles ReLU and identity layers only ({bad})"
    first = problem.network.layers[0].weight
    if int(np.count_nonzero(first, axis=1).min()) > 1:
        # a float nonzero is an exact nonzero, so every first-layer unit mixes latents
        return (
            "the corner presolve needs units that depend on one latent coordinate; "
            "every first-layer unit mixes several"
        )
    if not problem.is_exact_inversion:
        box = _box(problem)
        assert box is not None
        if near_analysis(problem, box) is None:
            return (
                "the near-corner presolve does not apply: no output within the threshold "
                "keeps every latent in two narrow intervals"
            )
    return None


def corner_presolve(problem: InversionProblem) -> CornerPresolve | None:
    """Analyse ``problem`` (module docstring); None when the presolve does not apply."""
    if not problem.is_exact_inversion or decline_reason(problem) is not None:
        return None
    t0 = time.perf_counter()
    box = _box(problem)
    assert box is not None
    lo, hi = box
    n = problem.n
    net = problem.network
    layers = net.layers
    cache = _PLCache()
    result = CornerPresolve()
    support, funcs, consts = univariate_units(
        problem.network, lo, hi, len(layers) - 1, cache, result.units
    )
    extremes: dict[tuple[int, str], list[Fraction] | None] = {}  # (id(f), side) -> points
    sums: dict[tuple[tuple[int, int], ...], _PL] = {}  # ids of a sum's terms -> the sum
    # forcing outputs
    last = layers[-1]
    x = problem.target
    allowed: list[frozenset[Fraction] | None] = [None] * n
    # only the outputs that read no MULTI unit can force: their rows alone are read
    # exactly (a nonzero exact weight whose float is 0 is caught in the loop)
    reads_multi = ((last.weight != 0) & (np.asarray(support) == MULTI)[None, :]).any(axis=1)
    candidates = np.flatnonzero(~reads_multi).tolist()
    last_bias = last.exact_bias_values()
    extreme_values: dict[int, tuple[Fraction, Fraction]] = {}  # id(f) -> (max, min)
    # id of an extreme-point list (kept in ``extremes``) -> its frozenset, and id of an
    # allowed set (kept in ``point_sets`` or ``allowed``) -> its (min, max)
    point_sets: dict[int, frozenset[Fraction]] = {}
    sorted_ends: dict[int, tuple[Fraction, Fraction]] = {}
    rows = last.exact_rows_at(candidates) if candidates else []
    for o, (idx, coef) in zip(candidates, rows, strict=True):
        if any(support[k] == MULTI for k in idx):
            continue
        const = last_bias[o]
        per: dict[int, list[tuple[Fraction, _PL]]] = {}
        for k, c in zip(idx, coef, strict=True):
            if support[k] == CONST:
                const += c * _value(consts, k)
            else:
                f = funcs[k]
                assert f is not None
                per.setdefault(support[k], []).append((c, f))
        # a single term of weight 1 is the function itself (the cache would only drop
        # collinear breakpoints, which change neither its extremes nor where it
        # attains them); the terms of one gadget repeat for every coordinate: looked up
        # by the ids of their weights and functions (alive in rows and the cache)
        fs: dict[int, _PL] = {}
        for i, t in per.items():
            if len(t) == 1 and t[0][0] == 1:
                fs[i] = t[0][1]
                continue
            tkey = tuple([(id(c), id(f)) for c, f in t])
            got = sums.get(tkey)
            if got is None:
                got = sums[tkey] = cache.combine(t, _ZERO, lo[i])
            fs[i] = got
        # the extremes of each distinct function once, times how often it occurs
        distinct: dict[int, _PL] = {id(f): f for f in fs.values()}  # f alive in the cache
        times = Counter(map(id, fs.values()))
        tops: list[Fraction] = []
        bottoms: list[Fraction] = []
        for fid, f in distinct.items():
            ext = extreme_values.get(fid)
            if ext is None:
                ext = extreme_values[fid] = (max(f[1]), min(f[1]))
            tops += [ext[0]] * times[fid]
            bottoms += [ext[1]] * times[fid]
        smax = const + _exact_sum(tops)
        smin = const + _exact_sum(bottoms)
        xo = x[o]
        if last.activation == "relu" and xo < 0:
            continue  # a negative target of a ReLU output: left to the solvers
        need_le0 = last.activation == "relu" and xo == 0
        detail: dict[str, Any] = {
            "output": o,
            "target": str(xo),
            "range": [str(smin), str(smax)],
            "separable_in": len(fs),
        }
        if (need_le0 and smin > 0) or (not need_le0 and not smin <= xo <= smax):
            result.infeasible = Proof(
                KIND_CORNER_RANGE,
                detail=(
                    f"output {o}'s pre-activation is a sum of univariate piecewise-linear "
                    f"functions of the latent whose exact range over the box is [{smin}, {smax}]; "
                    + (
                        "the target 0 of this ReLU output needs it <= 0"
                        if need_le0
                        else f"the target needs it to equal {xo}"
                    )
                ),
                **detail,
            ).to_dict()
            result.seconds = time.perf_counter() - t0
            return result
        if need_le0:
            side = "min" if smin == 0 else None
        else:
            side = "max" if xo == smax else ("min" if xo == smin else None)
        if side is None:
            continue
        # the points where each distinct function attains that extreme, as a frozenset
        # (one per distinct set: hashing Fractions is slow)
        here_of: dict[int, frozenset[Fraction] | None] = {}
        for fid, f in distinct.items():
            key = (fid, side)
            if key not in extremes:
                extremes[key] = _extreme_set(f, extreme_values[fid][0 if side == "max" else 1])
            pts_f = extremes[key]
            if pts_f is None:
                here_of[fid] = None
                continue
            here = point_sets.get(id(pts_f))
            if here is None:
                here = point_sets[id(pts_f)] = frozenset(pts_f)
            here_of[fid] = here
        if None in here_of.values():
            continue  # attained on an interval: not a finite set
        for i, f in fs.items():
            cur, here = allowed[i], here_of[id(f)]
            assert here is not None
            allowed[i] = here if cur is None else cur & here
        result.forcing.append({**detail, "side": side})
        result.dropped_outputs.append(o)
    if not result.forcing:
        return None
    fixed = 0
    for i in range(n):
        a = allowed[i]
        if a is None or len(a) > 2:
            return None
        if not a:
            result.infeasible = Proof(
                "corner presolve: incompatible forcing outputs",
                detail=f"the forcing outputs leave latent {i} no admissible value",
                forcing=result.forcing,
            ).to_dict()
            result.seconds = time.perf_counter() - t0
            return result
        ends = sorted_ends.get(id(a))  # the sets are shared between coordinates
        if ends is None:
            pts = sorted(a)
            ends = sorted_ends[id(a)] = (pts[0], pts[-1])
        fixed += len(a) == 1
        result.low.append(ends[0])
        result.high.append(ends[1])
    result.fixed = fixed
    result.binary, result.pruned_units = _binary_problem(problem, result)
    result.seconds = time.perf_counter() - t0
    return result
