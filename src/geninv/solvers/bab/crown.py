"""A certified l_2 lower bound for few latents: input splitting with linear bounds, no LP.

For a piecewise-linear generator on a latent box of small dimension (``n <=
MAX_LATENTS``) and p = 2, the LP-based search (:mod:`.search`) spends most of its
time per node (an LP, exact checks, bound tightening); the l_2 ball is relaxed
there by l_inf / l_1 rows and cuts found one LP at a time.  Here every node is
bounded in float by back-substitution alone (:func:`geninv.bounds.node_bounds`:
interval bounds tightened by linear bounds, each tightening a *lemma* with its
multipliers), and refuted by one supporting hyperplane of the ball:

    ||d||_2 <= delta   implies   w . d <= delta ||w||_2    for every w,

with ``w = G(c) - x`` at the box centre ``c`` (the direction of the nearest
output, to first order).  The lower bound of ``w . a^L`` over the node's linear
relaxation is one more back-substitution (the objective as an extra layer with
weight ``w``), whose coefficients *are* nonnegative multipliers over the
relaxation rows.  When it exceeds ``w . x + r`` (``r >= delta ||w||_2``,
rational) the node is a leaf whose multipliers are those plus 1 on the cut row
``C{k}`` (``w``, ``r``); otherwise the widest latent coordinate is bisected.

The tree is a standard ``geninv-bab-proof`` (input splits, lemmas on the leaves,
one cut per leaf) and is accepted only after
:func:`geninv.proofcheck.check_certificate` verified it in exact rationals.
:func:`crown_lower_bound` bisects on ``delta`` with the float search (fast) and
checks the proof of the largest refuted radius exactly (lowering it if the exact
check fails).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.bounds import (
    back_substitute,
    interval_bounds,
    layer_info,
    line_names,
    relaxation_lines,
)
from geninv.budget import Budget
from geninv.exact import float_up
from geninv.problem import InversionProblem
from geninv.proofcheck import ProofRejected, check_certificate
from geninv.solvers.bab.certificate import Certificate, ProofNode, rat
from geninv.solvers.bab.common import _l1_bound

#: latents up to this many: input splitting converges (the search's cost is 2^n-ish)
MAX_LATENTS = 8
#: a float refutation must clear its threshold by this relative margin
MARGIN = 1e-7
#: the float search gives up beyond this many nodes
MAX_NODES = 40_000
#: the seconds the exact check takes per leaf, with room (4-32-64 digits generator: 6.4 ms
#: unloaded, about 10 ms with the machine shared)
CHECK_SECONDS = 0.02


def applies(problem: InversionProblem) -> str | None:
    """Why the search does not apply, or None: a piecewise-linear network, p = 2, a box
    domain of at most ``MAX_LATENTS`` latents, a threshold given as delta."""
    if not problem.network.is_piecewise_linear:
        return "the network is not piecewise linear"
    if problem.p != 2 or problem.threshold_pow is not None:
        return "the linear-bound search handles p = 2 with a threshold delta"
    if problem.domain.kind != "box":
        return "the linear-bound search needs a box domain"
    if problem.n > MAX_LATENTS:
        return f"{problem.n} latents: input splitting is for at most {MAX_LATENTS}"
    return None


@dataclass
class _Leaf:
    y: dict[str, float]
    w: Any  # the cut's direction (float array)


def _bound_node(
    problem: InversionProblem, lo: Any, hi: Any, delta: float, named: bool
) -> tuple[_Leaf | None, float]:
    """(the leaf refuting the box at ``delta``, or None; the lower bound on
    ``||G(z) - x||_2`` over the box this relaxation and direction give).  The relaxation
    lines use the interval bounds (:func:`geninv.bounds.interval_bounds`, those the
    checker recomputes exactly), so a leaf needs no lemma; ``named``: with the
    multipliers by row name (only for a leaf)."""
    net = problem.network
    x = problem.target_array()
    bounds = interval_bounds(net, lo, hi, {})
    info = layer_info(net)
    lines = []
    names = []
    for (l_, u_), (_, _, kind, alpha) in zip(bounds, info, strict=True):
        uu = np.maximum(u_, l_)
        lines.append(relaxation_lines(l_, uu, kind, alpha))
        if named:
            names.append(line_names(l_, uu, kind, alpha))
    centre = net.forward((0.5 * lo + 0.5 * hi)[None, :])[0]
    w = centre - x
    norm = float(np.linalg.norm(w))
    if norm == 0.0:
        return None, 0.0
    w = w / norm
    ext = [*info, (w[None, :], np.zeros(1), "identity", 0.0)]
    val, ys = back_substitute(ext, lines, len(info), -1.0, lo, hi, names if named else None)
    lower = float(val[0]) - float(w @ x)  # min of w . (a^L - x) over the relaxation
    ok = lower > delta * (1 + MARGIN) + MARGIN * (abs(float(val[0])) + 1e-300)
    leaf = _Leaf(ys[0], w) if ok else None
    return leaf, lower


def _cut_radius(w: list[Fraction], delta: Fraction) -> Fraction:
    """A rational ``r >= delta ||w||_2`` (checked exactly)."""
    sq = sum((v * v for v in w), Fraction(0))
    r = Fraction(float_up(Fraction(float(delta)) * Fraction(math.sqrt(float(sq)))))
    while r * r < delta * delta * sq:
        r = Fraction(float_up(r * (1 + Fraction(1, 2**40))))
    return r


def float_search(
    problem: InversionProblem, delta: Fraction, clock: Budget, max_nodes: int = MAX_NODES
) -> Certificate | None:
    """The tree refuting ``||G(z) - x||_2 <= delta`` in float (module docstring), as a
    certificate not yet checked; None when a box could not be refuted (the node limit,
    the clock, or a box whose centre is within delta)."""
    assert problem.domain.lower is not None and problem.domain.upper is not None
    at = _at(problem, delta)
    cert = Certificate(
        n=problem.n,
        q=problem.network.n_outputs,
        problem={"p": "2", "threshold": rat(delta), "relation": "<=", "domain": "box"},
        root="domain box",
        l1_bound=_l1_bound(at),
    )
    root = list(zip(problem.domain.lower, problem.domain.upper, strict=True))
    stack: list[tuple[int, list[tuple[Fraction, Fraction]]]] = [(0, root)]
    next_id = 1
    d = float(delta)
    x = problem.target_array()
    while stack:
        if next_id > max_nodes or clock.left() <= 0:
            return None
        nid, box = stack.pop()
        lo = np.array([float(a) for a, _ in box])
        hi = np.array([float(b) for _, b in box])
        leaf, _ = _bound_node(problem, lo, hi, d, named=False)
        if leaf is not None:
            leaf, _ = _bound_node(problem, lo, hi, d, named=True)
        if leaf is None:
            centre = problem.network.forward((0.5 * lo + 0.5 * hi)[None, :])[0]
            if float(np.linalg.norm(centre - x)) <= d:
                return None  # a point within delta (in float): no refutation
            widths = [b - a for a, b in box]
            i = max(range(len(box)), key=lambda k: widths[k])
            mid = (box[i][0] + box[i][1]) / 2
            if not box[i][0] < mid < box[i][1] or widths[i] < Fraction(1, 2**40):
                return None
            low = [*box[:i], (box[i][0], mid), *box[i + 1 :]]
            high = [*box[:i], (mid, box[i][1]), *box[i + 1 :]]
            kids = [next_id, next_id + 1]
            next_id += 2
            cert.nodes[nid] = ProofNode(
                nid, box, {}, split={"kind": "input", "coord": i, "at": mid}, children=kids
            )
            stack.append((kids[1], high))
            stack.append((kids[0], low))
            continue
        wq = [Fraction(float(v)) for v in leaf.w]
        k = len(cert.cuts)
        cert.cuts.append((wq, _cut_radius(wq, delta)))
        y = {name: Fraction(v) for name, v in leaf.y.items() if v > 0}
        y[f"C{k}"] = Fraction(1)
        cert.nodes[nid] = ProofNode(nid, box, {}, y=y)
    return cert


def _at(problem: InversionProblem, delta: Fraction) -> InversionProblem:
    return InversionProblem(
        problem.network, problem.target, problem.domain, p=2, threshold=delta, relation="<="
    )


@dataclass
class CrownBound:
    """The certified lower bound ``lower`` (0 when none), its checked proof ``doc``, and
    the bisection's ``steps``."""

    lower: Fraction
    doc: dict[str, Any] | None
    steps: list[dict[str, Any]]


def crown_lower_bound(
    problem: InversionProblem, upper: float, time_limit: float | None, rel_gap: float = 1e-3
) -> CrownBound:
    """Bisect on delta in ``(0, upper)`` with :func:`float_search`.  The first delta refuted
    in float is checked exactly at once (a bound in hand, and the check's seconds per leaf
    measured); later ones are kept, and the largest is checked at the end (if rejected,
    the first stands).  A float refutation whose exact check (1.3 x the measured seconds
    per leaf; ``CHECK_SECONDS`` before any) would not fit the time left counts as not
    refuted."""
    why = applies(problem)
    if why is not None:
        raise ValueError(why)
    clock = Budget(time_limit)
    steps: list[dict[str, Any]] = []
    lo, top = Fraction(0), Fraction(upper)
    rate = CHECK_SECONDS
    best: tuple[Fraction, dict[str, Any]] | None = None
    pending: tuple[Fraction, Certificate] | None = None

    def check(tau: Fraction, cert: Certificate) -> bool:
        nonlocal rate, best
        doc = cert.to_json()
        t0 = time.perf_counter()
        try:
            check_certificate(_at(problem, tau), doc)
        except ProofRejected as exc:
            steps.append({"tau": float(tau), "check": f"rejected: {exc}"})
            return False
        sec = time.perf_counter() - t0
        rate = max(sec / max(cert.leaves, 1), 1e-5)
        steps.append({"tau": float(tau), "check": "passed", "seconds": round(sec, 3)})
        best = (tau, doc)
        return True

    while top - lo > rel_gap * top and clock.left() > 0:
        tau = ((lo + top) / 2).limit_denominator(10**6)
        if not lo < tau < top:
            tau = (lo + top) / 2
        t0 = time.perf_counter()
        keep = 1.3 * rate * (pending[1].leaves if pending else 0)
        search = Budget(None if time_limit is None else max(0.0, clock.left() - keep))
        cert = float_search(problem, tau, search)
        if cert is not None and time_limit is not None and 1.3 * rate * cert.leaves > clock.left():
            cert = None  # refuted in float, but its exact check would not fit the time left
        steps.append(
            {
                "tau": float(tau),
                "refuted_in_float": cert is not None,
                "leaves": 0 if cert is None else cert.leaves,
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        if cert is None or (best is None and not check(tau, cert)):
            top = tau
        else:
            lo = tau
            if best is None or best[0] != tau:
                pending = (tau, cert)
    if pending is not None and (best is None or pending[0] > best[0]) and clock.left() > 0:
        check(*pending)
    if best is None:
        return CrownBound(Fraction(0), None, steps)
    return CrownBound(best[0], best[1], steps)
