"""Near-corner presolve: the corner presolve for approximate inversion.

The corner presolve (:mod:`geninv.solvers.corners`) handles exact inversion:
an output ``a_o(z) = C + sum_i f_i(z_i)`` (univariate piecewise-linear f_i)
whose target equals its maximum pins each z_i to the points where f_i is
largest.  With a threshold the pin becomes a neighbourhood.  Every witness of
``||G(z) - x||_p <= delta`` has ``|G_o(z) - x_o| <= delta`` for each output o
(any p >= 1), so ``a_o`` lies in ``[L_o, U_o] = [x_o - t_o, x_o + t_o]``
(identity output; a ReLU output with ``x_o - t_o <= 0`` only gives
``a_o <= U_o``), with ``t_o`` the tolerance (delta, plus what a snap added).
Writing ``M_i, m_i`` for the extremes of f_i:

* if ``C + sum M_i < L_o`` or ``C + sum m_i > U_o``: no witness (the exact range
  is the proof);
* otherwise, with slack ``s = C + sum M_i - L_o``, every witness has
  ``sum_i (M_i - f_i(z_i)) <= s``, each term >= 0, so
  ``f_i(z_i) >= M_i - s`` for every i: z_i lies in the superlevel set of f_i,
  a union of intervals computed exactly; likewise ``f_i(z_i) <= m_i + s'``
  with ``s' = U_o - C - sum m_i``.

Intersecting these sets over the outputs, when every coordinate is left in at
most two intervals ``I_0 = [a_0, b_0]``, ``I_1 = [a_1, b_1]``, pick a corner
``c_k in I_k`` (where the forcing functions come closest to their extremes).
A witness z then has each z_i in the interval ``I_{b_i}`` for some binary b, and

    |G(z) - G(c(b))| <= eps   (componentwise),

with eps from :func:`deviation_up`: layer by layer, a unit that depends on one
latent deviates by at most the exact range of its piecewise-linear function
over the intervals (0 where it is constant there, as the lifting's snap units
``ReLU(1 - 4 u_i)`` are), any unit by at most ``|W| v`` of the previous layer's
deviations v (ReLU and the identity are 1-Lipschitz); the smaller is kept.

Hence: if the binary problem ``b -> G(c(b))`` over the non-forcing outputs has
no point within ``delta + ||eps||`` (``max eps`` for p = inf, ``sum eps``
otherwise), the original has no witness; its proof (a DRUP refutation, an
enumeration) is this one's.  A binary *yes* only proposes ``z = c(b)``, which
is re-checked exactly on the original problem.  When the binary network and
target are integers, its outputs on {0,1}^n are integers and a threshold
``tau < 1`` is the same as 0 (``floor(tau)`` for p = inf): exact inversion,
which the SAT backend decides fastest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.exact import float_up
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.proof import KIND_NEAR_BINARY, Proof
from geninv.reductions._build import root_upper
from geninv.reductions.snap import Snapped
from geninv.solvers.corners.binary import _binary_problem
from geninv.solvers.corners.outcome import CornerPresolve
from geninv.solvers.corners.pl import CONST, MULTI, _eval_pl, _PLCache, _Units
from geninv.solvers.corners.univariate import univariate_units

_ZERO = Fraction(0)
_U = 2.0**-53

_PL = tuple[list[Fraction], list[Fraction]]
_Intervals = list[tuple[Fraction, Fraction]]
#: A separable unit: ``C + sum_i g_i(z_i)`` as (C, {i: g_i}).
_Sep = tuple[Fraction, dict[int, _PL]]


def level_set(pl: _PL, theta: Fraction, above: bool) -> _Intervals:
    """``{t : f(t) >= theta}`` (``above``) or ``{t : f(t) <= theta}`` of the continuous
    piecewise-linear ``f`` (breakpoints ``xs``, values ``ys``), as sorted disjoint
    closed intervals (exact)."""
    xs, ys = pl

    def ok(y: Fraction) -> bool:
        return y >= theta if above else y <= theta

    out: _Intervals = []
    start: Fraction | None = xs[0] if ok(ys[0]) else None
    for k in range(1, len(xs)):
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        a, b = ok(y0), ok(y1)
        if a != b:  # the crossing f = theta inside (x0, x1)
            cross = x0 + (theta - y0) * (x1 - x0) / (y1 - y0)
            if a:
                assert start is not None
                out.append((start, cross))
                start = None
            else:
                start = cross
    if start is not None:
        out.append((start, xs[-1]))
    if len(xs) == 1 and not out and ok(ys[0]):
        out.append((xs[0], xs[0]))
    return out


def intersect(a: _Intervals, b: _Intervals) -> _Intervals:
    """The intersection of two sorted unions of closed intervals."""
    out: _Intervals = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


@dataclass
class NearCorners:
    """The outcome of :func:`near_corner_presolve`."""

    infeasible: dict[str, Any] | None = None
    low: list[Fraction] = field(default_factory=list)  # c(0)
    high: list[Fraction] = field(default_factory=list)  # c(1)
    radius: list[Fraction] = field(default_factory=list)  # r_i
    forcing: list[int] = field(default_factory=list)
    eps: list[Fraction] = field(default_factory=list)  # per output, |G(z) - G(c(b))| bound
    units: list[_Units] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: forcing outputs, the largest radius and the largest error bound
        on the other outputs (rounded up)."""
        return {
            "forcing_outputs": self.forcing,
            "max_radius": float_up(max(self.radius, default=_ZERO)),
            "eps_max": float_up(
                max((e for o, e in enumerate(self.eps) if o not in self.forcing), default=_ZERO)
            ),
        }


def _choose(interval: tuple[Fraction, Fraction], terms: Sequence[tuple[_PL, Fraction]]) -> Fraction:
    """A corner in ``interval``: among its ends, midpoint and the breakpoints inside,
    the one where the forcing functions deviate least from their extremes in total
    (then the one nearest the middle)."""
    a, b = interval
    cands = {a, b, (a + b) / 2}
    for pl, _ in terms:
        cands.update(x for x in pl[0] if a <= x <= b)
    mid = (a + b) / 2

    def cost(c: Fraction) -> tuple[Fraction, Fraction]:
        dev = sum((abs(_eval_pl(pl, [c])[0] - ext) for pl, ext in terms), _ZERO)
        return dev, abs(c - mid)

    return min(sorted(cands), key=cost)


def _pad_up(v: Any, m: int) -> Any:
    """An upper bound on float sums of ``m`` nonnegative terms (``2 (m + 2) u``
    relative, ``m 2^-1060`` absolute: rounding and underflow)."""
    return v * (1.0 + 2.0 * (m + 2) * _U) + m * 2.0**-1060


def _deviation(pl: _PL, parts: Sequence[tuple[Fraction, Fraction, Fraction]]) -> Fraction:
    """``max_k max_{t in [a_k, b_k]} |f(t) - f(c_k)|`` for ``parts`` = (a_k, b_k, c_k),
    exactly (the maximum of a piecewise-linear function is at an end or a breakpoint)."""
    out = _ZERO
    for a, b, c in parts:
        pts = sorted({a, b, c, *(x for x in pl[0] if a < x < b)})
        vals = _eval_pl(pl, pts)
        fc = vals[pts.index(c)]
        out = max(out, max(abs(v - fc) for v in vals))
    return out


def deviation_up(
    net: ReLUNetwork,
    seps: Sequence[Sequence[_Sep | None]],
    parts: Sequence[Sequence[tuple[Fraction, Fraction, Fraction]]],
) -> list[Fraction]:
    """Per output o, an upper bound on ``|G(z)_o - G(c(b))_o|`` over the z whose
    coordinates lie in the intervals ``parts[i]`` = ((a_k, b_k, c_k), ...), c(b) the
    corners of z's intervals.  Layer by layer: a separable unit ``C + sum_i g_i(z_i)``
    (``seps``) deviates by at most ``sum_i`` of the exact deviations of its g_i over
    those intervals (:func:`_deviation`; 0 for a constant unit); any unit by at most
    ``|W| v`` of the previous layer's deviations ``v`` (activations 1-Lipschitz); the
    smaller of the two is kept.  Floats rounded up throughout, then exact rationals."""
    v = np.array(
        [float_up(max(max(c - a, b - c) for a, b, c in ps)) for ps in parts], dtype=np.float64
    )
    memo: dict[tuple[int, int], Fraction] = {}
    for index, layer in enumerate(net.layers):
        w = np.abs(np.asarray(layer.weight, dtype=np.float64))
        if layer.exact_weight is not None:  # floats of Fractions: one ulp up each
            w = np.nextafter(w, np.inf)
        # (exact zeros stay 0: a sum of nonnegative terms none of which is positive)
        v = np.where((w > 0) @ (v > 0), _pad_up(w @ v, w.shape[1]), 0.0)
        if index >= len(seps):
            continue
        for j, sep in enumerate(seps[index]):
            if sep is None:
                continue
            total = _ZERO
            for i, g in sep[1].items():
                dev = memo.get((id(g), i))
                if dev is None:
                    dev = memo[id(g), i] = _deviation(g, parts[i])
                total += dev
            v[j] = min(v[j], float_up(total))
    return [Fraction(float(x)) for x in v]


def _combine_sep(
    terms: Sequence[tuple[Fraction, _Sep]], bias: Fraction, lo: Sequence[Fraction], cache: _PLCache
) -> _Sep:
    """``bias + sum_k c_k s_k`` of separable forms: one function per latent."""
    const = bias
    per: dict[int, list[tuple[Fraction, _PL]]] = {}
    for c, (ck, gs) in terms:
        const += c * ck
        for i, g in gs.items():
            per.setdefault(i, []).append((c, g))
    fs = {i: cache.combine(t, _ZERO, lo[i]) for i, t in per.items()}
    return const, fs


def separable_units(
    net: ReLUNetwork,
    lo: Sequence[Fraction],
    hi: Sequence[Fraction],
    units: Sequence[_Units],
    cache: _PLCache,
) -> list[list[_Sep | None]]:
    """Per hidden layer (after its activation), each unit as ``C + sum_i g_i(z_i)``
    where it is one, else None.  Units of one latent (or none) come from
    ``units`` (:func:`~geninv.solvers.corners.univariate_units`); a unit reading
    several latents is separable when everything it reads is, and its activation is
    the identity, or ReLU with ``C + sum_i min g_i >= 0`` (then ReLU is the identity
    on it; with ``C + sum_i max g_i <= 0`` it is the constant 0).  Theorem 4's lifting
    carries ``E = s sum_i |v_i - 1/2|`` through its layers this way."""
    prev: list[_Sep | None] = [
        (_ZERO, {i: cache.leaf(a, b)}) for i, (a, b) in enumerate(zip(lo, hi, strict=True))
    ]
    out: list[list[_Sep | None]] = []
    for layer, (support, funcs, consts) in zip(net.layers, units, strict=False):
        cur: list[_Sep | None] = [None] * layer.n_out
        multi = [j for j, s in enumerate(support) if s == MULTI]
        rows = layer.exact_rows_at(multi) if multi else []
        bias = layer.exact_bias_values() if multi else []
        for j, s in enumerate(support):
            if s == CONST:
                v = consts[j]
                assert v is not None
                cur[j] = (v, {})
            elif s >= 0:
                f = funcs[j]
                assert f is not None
                cur[j] = (_ZERO, {s: f})
        for j, (idx, coef) in zip(multi, rows, strict=True):
            terms = []
            for k, c in zip(idx, coef, strict=True):
                sk = prev[k]
                if sk is None:
                    break
                terms.append((c, sk))
            else:
                const, fs = _combine_sep(terms, bias[j], lo, cache)
                if layer.activation == "identity":
                    cur[j] = (const, fs)
                else:
                    low = const + sum((min(g[1]) for g in fs.values()), _ZERO)
                    high = const + sum((max(g[1]) for g in fs.values()), _ZERO)
                    if low >= 0:
                        cur[j] = (const, fs)
                    elif high <= 0:
                        cur[j] = (_ZERO, {})
        out.append(cur)
        prev = cur
    return out


def near_corner_presolve(
    net: ReLUNetwork,
    target: Sequence[Fraction],
    lo: Sequence[Fraction],
    hi: Sequence[Fraction],
    tol: Sequence[Fraction],
) -> NearCorners | None:
    """The analysis of the module docstring on ``net`` over the box, output o within
    ``tol[o]`` of ``target[o]``; None when it does not leave every coordinate in at
    most two narrow intervals."""
    n = net.n_inputs
    layers = net.layers
    if any(la.activation not in ("relu", "identity") for la in layers):
        return None
    cache = _PLCache()
    result = NearCorners()
    univariate_units(net, lo, hi, len(layers) - 1, cache, result.units)
    seps = separable_units(net, lo, hi, result.units, cache)
    last_seps: list[_Sep | None] = (
        seps[-1]
        if seps
        else [(_ZERO, {i: cache.leaf(a, b)}) for i, (a, b) in enumerate(zip(lo, hi, strict=True))]
    )
    last = layers[-1]
    bias = last.exact_bias_values()
    allowed: list[_Intervals] = [[(a, b)] for a, b in zip(lo, hi, strict=True)]
    touched = [False] * n
    terms_of: list[list[tuple[_PL, Fraction]]] = [[] for _ in range(n)]
    for o, (idx, coef) in enumerate(last.exact_rows()):
        if any(last_seps[k] is None for k in idx):
            continue
        terms = [(c, last_seps[k]) for k, c in zip(idx, coef, strict=True)]
        const, fs = _combine_sep(terms, bias[o], lo, cache)  # type: ignore[arg-type]
        if not fs:
            continue
        tops = {i: max(f[1]) for i, f in fs.items()}
        bottoms = {i: min(f[1]) for i, f in fs.items()}
        smax = const + sum(tops.values(), _ZERO)
        smin = const + sum(bottoms.values(), _ZERO)
        x, t = Fraction(target[o]), Fraction(tol[o])
        upper = x + t
        lower: Fraction | None = x - t
        if last.activation == "relu" and x - t <= 0:
            lower = None
        if (lower is not None and smax < lower) or smin > upper:
            result.infeasible = Proof(
                "near-corner presolve: target out of range",
                detail=(
                    f"output {o}'s pre-activation is a sum of univariate piecewise-linear "
                    f"functions of the latent with exact range [{smin}, {smax}] over the box; "
                    f"within the tolerance {t} of the target {x} it must lie in "
                    f"[{lower if lower is not None else '-inf'}, {upper}]"
                ),
                output=o,
            ).to_dict()
            return result
        forced = False
        for i, f in fs.items():
            sets = []
            if lower is not None:
                sets.append((level_set(f, tops[i] - (smax - lower), True), tops[i]))
            sets.append((level_set(f, bottoms[i] + (upper - smin), False), bottoms[i]))
            for s, ext in sets:
                if s != [(f[0][0], f[0][-1])]:
                    allowed[i] = intersect(allowed[i], s)
                    touched[i] = forced = True
                    terms_of[i].append((f, ext))
        if forced:
            result.forcing.append(o)
    if not result.forcing:
        return None
    parts: list[list[tuple[Fraction, Fraction, Fraction]]] = []
    for i in range(n):
        a = allowed[i]
        if not a:
            result.infeasible = Proof(
                "near-corner presolve: incompatible outputs",
                detail=f"within the tolerances the outputs leave latent {i} no value",
            ).to_dict()
            return result
        width = hi[i] - lo[i]
        if len(a) > 2 or (width > 0 and not touched[i]):
            return None
        corners = [_choose(iv, terms_of[i]) for iv in a]
        r = max(max(c - iv[0], iv[1] - c) for c, iv in zip(corners, a, strict=True))
        r = Fraction(float_up(r))  # rounded up: short rationals downstream (a summary)
        result.low.append(corners[0])
        result.high.append(corners[-1])
        result.radius.append(r)
        parts.append([(iv[0], iv[1], c) for c, iv in zip(corners, a, strict=True)])
    result.eps = deviation_up(net, seps, parts)
    return result


def binary_problem(
    problem: InversionProblem, near: NearCorners, delta_up: Fraction, eps: Sequence[Fraction]
) -> InversionProblem:
    """The binary problem ``b -> G(c(b))`` over the non-forcing outputs (the corner
    presolve's builder), at ``delta_up`` raised by ``eps + near.eps`` over the outputs
    it keeps (:func:`geninv.reductions.snap.raise_threshold`); a threshold below 1
    becomes 0 (``floor`` for p = inf) when the binary network and target are integers."""
    from geninv.reductions.snap import raise_threshold

    pre = CornerPresolve(
        low=near.low,
        high=near.high,
        dropped_outputs=list(near.forcing),
        units=near.units,
    )
    binary, _ = _binary_problem(problem, pre)
    dropped = set(pre.dropped_outputs)
    kept = [o for o in range(problem.network.n_outputs) if o not in dropped]
    t = raise_threshold(delta_up, [eps[o] + near.eps[o] for o in kept], problem.p)
    net = binary.network
    integral = all(
        la.exact_weight is None
        and bool((np.trunc(la.weight) == la.weight).all())
        and bool((np.trunc(la.bias) == la.bias).all())
        for la in net.layers
    ) and all(Fraction(v).denominator == 1 for v in binary.target)
    t_pow: Fraction | None = None
    if integral and math.isinf(binary.p):
        t = Fraction(math.floor(t))
    elif integral and t < 1:
        t = _ZERO
    elif integral and float(binary.p) == int(binary.p):
        # integer distances: sum |d_o|^p <= t^p  iff  sum |d_o|^p <= floor(t^p)
        k = int(binary.p)
        t_pow = Fraction(math.floor(t**k))
        t = root_upper(t_pow, k)
    return InversionProblem(
        net, binary.target, Domain("binary"), p=binary.p, threshold=t, threshold_pow=t_pow
    )


def delta_upper(problem: InversionProblem) -> Fraction:
    """A rational upper bound on the problem's threshold (it, or the k-th root of
    ``threshold_pow`` rounded up)."""
    if problem.threshold_pow is None:
        return Fraction(problem.threshold)
    from geninv.exact import threshold_upper

    return threshold_upper(Fraction(problem.threshold_pow), int(problem.p))


_Analysis = tuple["Snapped | None", NearCorners, Fraction, "InversionProblem | None"]


def near_analysis(
    problem: InversionProblem, box: tuple[Sequence[Fraction], Sequence[Fraction]]
) -> _Analysis | None:
    """Snap (where it applies), the near-corner presolve and the binary problem it
    leaves (None when the analysis found no witness can exist), remembered on the
    problem; None when the presolve does not apply, or when its binary threshold
    would be more than twice the problem's (for exact inversion: not 0)."""

    def compute() -> _Analysis | None:
        from geninv.reductions.snap import snap_network

        if problem.threshold_pow is not None and (
            math.isinf(problem.p) or float(problem.p) != int(problem.p)
        ):
            return None
        lo, hi = list(box[0]), list(box[1])
        delta_up = delta_upper(problem)
        snapped = snap_network(problem.network, lo, hi)
        if problem.is_exact_inversion and (
            snapped is None or (snapped.changed == 0 and snapped.removed_units == 0)
        ):
            return None  # the exact corner presolve saw this very network
        net = snapped.network if snapped is not None else problem.network
        eps1 = snapped.eps if snapped is not None else [_ZERO] * net.n_outputs
        target = [Fraction(v) for v in problem.target]
        # tolerances rounded up to floats (larger is still valid; short rationals)
        tol = [Fraction(float_up(delta_up + e)) for e in eps1]
        near = near_corner_presolve(net, target, lo, hi, tol)
        if near is None:
            return None
        if near.infeasible is not None:
            return snapped, near, delta_up, None
        hat = InversionProblem(net, target, Domain.box(lo, hi), p=problem.p)
        binary = binary_problem(hat, near, delta_up, eps1)
        if binary.threshold > 2 * delta_up:
            # the relaxation more than doubles the threshold: its binary answers would
            # say little (a corner far from a witness), so the presolve declines
            return None
        return snapped, near, delta_up, binary

    return problem.derived("near_corners", compute)


_LEMMA = (
    "every output within the tolerance of its target keeps each latent in the "
    "level sets of its univariate terms (near-corner presolve, module "
    "geninv.solvers.corners.near)"
)
_SNAP_LEMMA = (
    "the snapped network differs from the given one by at most eps on the box "
    "(module geninv.reductions.snap)"
)


def apply_near(
    problem: InversionProblem, box: tuple[Sequence[Fraction], Sequence[Fraction]]
) -> Solution | tuple[InversionProblem, dict[str, Any]] | None:
    """The near-corner presolve as a reduction: None when it does not apply, a *no*
    when the analysis alone proves one, else the binary problem and the data that
    :func:`invert_near` needs."""
    start = time.perf_counter()
    analysis = near_analysis(problem, box)
    if analysis is None:
        return None
    snapped, near, _, binary = analysis
    stats: dict[str, Any] = {"near_corners": near.summary()}
    if snapped is not None:
        stats["snap"] = snapped.summary()
    if near.infeasible is not None:
        proof = {**near.infeasible, "basis": "exact", "lemma": _LEMMA}
        if snapped is not None:
            proof["snap"] = {"lemma": _SNAP_LEMMA, **snapped.summary()}
        return Solution(
            Status.NO, "corners", proof=proof, stats=stats, seconds=time.perf_counter() - start
        )
    assert binary is not None
    return binary, {"near": near, "snapped": snapped, "binary": binary, "stats": stats}


def invert_near(problem: InversionProblem, sub: Solution, data: dict[str, Any]) -> Solution:
    """The original problem's answer from the binary problem's ``sub`` (a *yes* only
    when its corner meets the original threshold exactly)."""
    near: NearCorners = data["near"]
    snapped: Snapped | None = data["snapped"]
    binary: InversionProblem = data["binary"]
    stats: dict[str, Any] = dict(data["stats"])
    stats["binary_solution"] = {
        "method": sub.method,
        "status": sub.status.value,
        "threshold": str(binary.threshold),
        "seconds": round(sub.seconds, 6),
        "network": binary.network.describe(),
    }
    if sub.stats.get("uncertified_no"):
        stats["uncertified_no"] = True
    if sub.status is Status.YES:
        assert sub.z is not None
        z = [near.high[i] if v == 1 else near.low[i] for i, v in enumerate(sub.z)]
        chk = problem.exact_check(z)
        if chk.meets:
            return Solution(Status.YES, "corners", z=z, stats=stats)
        return Solution(
            Status.UNKNOWN,
            "corners",
            reason=(
                "near-corner presolve: the binary problem's witness, lifted to its corner, "
                f"misses the original threshold ({chk.reason}); the corners are within "
                f"{max(near.radius, default=_ZERO)} of every witness, so another backend "
                "may still find one nearby"
            ),
            stats=stats,
        )
    if sub.status is Status.NO:
        assert sub.proof is not None
        proof = Proof(
            KIND_NEAR_BINARY,
            lemma=_LEMMA + "; a witness z is within r of the corner c(b) of its intervals, "
            "so |G(z) - G(c(b))| <= eps (deviation_up) and the binary problem at "
            "delta + ||eps|| would have a witness",
            low=[str(v) for v in near.low],
            high=[str(v) for v in near.high],
            radius=str(max(near.radius, default=_ZERO)),
            eps=str(max(near.eps, default=_ZERO)),
            binary_threshold=str(binary.threshold),
            binary_proof=sub.proof,
        ).to_dict()
        if snapped is not None:
            proof["snap"] = {"lemma": _SNAP_LEMMA, **snapped.summary()}
        for key in ("basis", "trusted"):
            if key in sub.proof:
                proof[key] = sub.proof[key]
        return Solution(Status.NO, "corners", proof=proof, stats=stats)
    return Solution(
        Status.UNKNOWN,
        "corners",
        reason=f"near-corner presolve, binary problem: {sub.reason}",
        stats=stats,
    )
