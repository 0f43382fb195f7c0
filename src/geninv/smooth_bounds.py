"""Certified lower bounds through a last sigmoid or tanh layer (issue 17, item 5).

For ``G(z) = f(u(z))`` with ``f`` sigmoid or tanh and piecewise-linear hidden
layers, the l_inf threshold question ``||f(u) - x||_inf <= tau`` is exactly a
box on the pre-activation ``u``:

    |f(u_j) - x_j| <= tau   <=>   f^-1(max(x_j - tau, a)) <= u_j <= f^-1(min(x_j + tau, b))

(``(a, b)`` the range of ``f``; a side is open where the interval reaches the
saturation value, and the question has no answer where it misses the range).
The inverse is rounded outward with directed rounding proved by a rigorous
enclosure of ``f`` (:func:`geninv.exact_smooth.smooth_inverse`), open sides are closed
by outward float interval bounds of ``u`` (:func:`geninv.bounds.propagate`), and
the box question, now piecewise linear, goes to the certified branch and bound
(``bab``) as the inner problem of :func:`geninv.proofcheck_smooth.box_problem`.
Its *no* is wrapped in a ``geninv-smooth-box`` certificate, which
:func:`geninv.proofcheck_smooth.check_smooth_certificate` verifies exactly
(logit bounds in rationals, ``f(lo_j) <= x_j - tau`` by enclosure, the inner
proof) before anything is reported.

The same box is implied by ``||f(u) - x||_p <= tau`` for every ``p >= 1``
(``|d_j| <= ||d||_p``), so a refuted ``tau`` bounds every l_p distance from below
(for p < inf this is the l_inf bound, ``||d||_p >= ||d||_inf``: sound, but it
does not use the sum over outputs).

For p < inf (:func:`decide_smooth` with ``lines``) each output's error is bounded
below on its box side ``[lo_j, hi_j]`` by a convex piecewise-linear function of
``u_j`` (:mod:`geninv.smooth_envelope`: tangents of the convex part of ``f`` and
the tangent from ``(hi, f(hi) - x)``, i.e. a near convex envelope), and ``bab``
refutes ``||g(u(z))||_p <= tau`` -- the sum over the outputs, relaxed by its l_1
row and l_p cuts -- in a version-2 certificate
(:mod:`geninv.proofcheck_smooth`).  Where that is not decided in time, the box
(version 1) is tried at the same ``tau``.

:func:`smooth_lower_bound` bisects on ``tau`` between the largest refuted value
and the smallest value that was not refuted (an inner witness or a time-out),
starting from a known distance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.bounds import propagate
from geninv.budget import Budget
from geninv.errors import GeninvError
from geninv.exact import float_down
from geninv.exact_smooth import SMOOTH_RANGE, smooth_inverse
from geninv.problem import InversionProblem, Status, norm_label
from geninv.proofcheck_lines import Term, lines_problem
from geninv.proofcheck_smooth import (
    FORMAT,
    VERSION,
    VERSION_LINES,
    Coord,
    ProofRejected,
    box_problem,
    check_smooth_certificate,
    smooth_output,
)
from geninv.smooth_envelope import output_terms
from geninv.solvers.bab.certificate import rat

#: bisection stops when the bracket is this small relative to its upper end
REL_GAP = 0.01
MAX_STEPS = 30
#: the first radius tried is the known distance / 2^GROW_FROM ...
GROW_FROM = 6
#: ... and radii down to / 2^MAX_SHRINK are tried while none is refuted
MAX_SHRINK = 24
#: for p < inf, the share of a step's time the lines try gets; the l_inf box the rest
#: when the lines do not decide (on the GAN at box [-0.1, 0.1]^64 only the box refuted
#: a radius, 2.9e-5, in 120 s)
LINES_SHARE = 0.6
#: ... and after this many undecided radii with nothing refuted yet, the bisection goes on
#: with the box alone
LINES_MISSES = 2
#: inner networks with more hidden units than this skip bab's LP bound tightening
#: (one LP per unit: 22 of 41 s on the VAE decoder's root)
OBBT_UNITS = 1000


def root_box(problem: InversionProblem) -> list[tuple[Fraction, Fraction]] | None:
    """The box the inner problem is solved over: the box domain, or the clamp box."""
    if problem.domain.kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        return list(zip(problem.domain.lower, problem.domain.upper, strict=True))
    if problem.domain.kind == "real" and problem.input_box is not None:
        return list(zip(*problem.input_box, strict=True))
    return None


def why_not(problem: InversionProblem) -> str | None:
    """Why the smooth-output bound does not apply to ``problem``, or None."""
    if smooth_output(problem) is None:
        return "the network is not piecewise linear with one last sigmoid or tanh layer"
    if root_box(problem) is None:
        return "a real domain without a box cannot be bounded; use --domain box"
    return None


def _pad(v: float) -> Fraction:
    return Fraction(abs(v)) * Fraction(1, 10**9) + Fraction(1, 10**9)


def box_coords(
    problem: InversionProblem, tau: Fraction, keep_open: bool = False
) -> list[Coord] | int:
    """The pre-activation box of the l_inf ball of radius ``tau`` (module docstring), as
    the certificate's ``coords`` (outputs with no constraint left out, unless
    ``keep_open``: then both their sides are the interval bounds), or the output ``j``
    whose interval misses ``f``'s range."""
    kind = smooth_output(problem)
    box = root_box(problem)
    assert kind is not None and box is not None and tau > 0
    a, b = SMOOTH_RANGE[kind]
    lo = np.array([float_down(v[0]) for v in box])
    hi = np.array([-float_down(-v[1]) for v in box])
    ulo, uhi = propagate(problem.network.layers, lo, hi)[-1]
    coords: list[Coord] = []
    for j, x in enumerate(problem.target):
        vlo, vhi = x - tau, x + tau
        if vlo >= b or vhi <= a:
            return j
        if vlo <= a and vhi >= b and not keep_open:
            continue
        if vlo > a:
            left, left_by = smooth_inverse(kind, vlo, up=False), "inverse"
        else:
            left, left_by = Fraction(float(ulo[j])) - _pad(float(ulo[j])), "range"
        if vhi < b:
            right, right_by = smooth_inverse(kind, vhi, up=True), "inverse"
        else:
            right, right_by = Fraction(float(uhi[j])) + _pad(float(uhi[j])), "range"
        if right <= left:  # the range side is beyond the other: the box is empty
            if right_by == "range":
                right = left + 1
            else:
                left = right - 1
        s = Fraction(float_down(2 / (right - left)))
        coords.append((j, left, left_by, right, right_by, s))
    return coords


@dataclass
class SmoothStep:
    """One threshold decided: ``status`` yes (the box is met at ``z``), no (``doc``, the
    checked certificate) or unknown (``reason``)."""

    status: str
    doc: dict[str, Any] | None = None
    z: list[Fraction] | None = None
    reason: str = ""
    nodes: int = 0


def _bab_options(
    problem: InversionProblem,
    inner: InversionProblem,
    options: dict[str, Any] | None,
    lines: bool,
) -> dict[str, Any]:
    """``options`` for ``bab``; without them, back-substitution lemmas on ``G``'s hidden
    layers only (the inner layers after ``u`` are the error bounds: their exact lemma
    checks cost seconds per thousand units and tighten nothing the minimisation uses), and
    no LP bound tightening where ``G`` (the box) or the inner network (the lines: the
    error-bound units are tightened too) has more than :data:`OBBT_UNITS` hidden units."""
    if options is not None:
        return options
    out: dict[str, Any] = {"lemma_layers": len(problem.network.layers) - 1}
    sized = inner if lines else problem
    if sum(sized.network.widths[:-1]) > OBBT_UNITS:
        out["obbt_depth"] = -1
    return out


def _refute(
    problem: InversionProblem,
    inner: InversionProblem,
    options: dict[str, Any] | None,
    lines: bool,
    time_limit: float | None,
) -> dict[str, Any] | SmoothStep:
    """``bab`` on the inner problem: its proof document when it says *no*, otherwise the
    step to return (*yes* with its point, or *unknown* with the reason)."""
    from geninv.solvers.bab.backend import BabBackend

    bab = BabBackend(**_bab_options(problem, inner, options, lines=lines))
    sol, inner_doc = bab.decide(inner, time_limit)
    nodes = int(sol.stats.get("nodes", 0) or 0)
    if sol.status is Status.YES:
        return SmoothStep("yes", z=sol.z, nodes=nodes)
    if sol.status is not Status.NO or inner_doc is None:
        return SmoothStep("unknown", reason=sol.reason or "", nodes=nodes)
    return inner_doc


def decide_smooth(
    problem: InversionProblem,
    tau: Fraction,
    time_limit: float | None,
    options: dict[str, Any] | None = None,
    lines: bool | None = None,
) -> SmoothStep:
    """Decide the box of radius ``tau`` with ``bab``; a *no* comes with a certificate that
    :func:`check_smooth_certificate` accepted.  ``options`` go to the ``bab`` backend.
    ``lines`` (default: p < inf): refute the l_p ball through the piecewise-linear error
    bounds instead (a version-2 certificate, for the instance's p only)."""
    if lines is None:
        lines = not (problem.is_exact_inversion or math.isinf(problem.p))
    kind = smooth_output(problem)
    coords = box_coords(problem, tau, keep_open=lines)
    head: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "activation": kind,
        "threshold": rat(tau),
    }
    inner: InversionProblem | None = None
    if isinstance(coords, int):
        doc = {**head, "empty": coords}
    elif not coords:
        box = root_box(problem)
        assert box is not None
        return SmoothStep("yes", z=[(lo + hi) / 2 for lo, hi in box])
    elif lines:
        assert kind is not None
        x = problem.target
        terms: list[Term] = []
        keep: list[Coord] = []
        for c in coords:
            got = output_terms(kind, x[c[0]], c[1], c[3])
            if got:
                keep.append(c)
                terms += [(c[0], w, g) for w, g in got]
        if not terms:
            return SmoothStep("unknown", reason="no output has a piecewise-linear error bound")
        inner = lines_problem(problem, [c[0] for c in keep], terms, tau)
        inner_doc = _refute(problem, inner, options, True, time_limit)
        if isinstance(inner_doc, SmoothStep):
            return inner_doc
        doc = {
            **head,
            "version": VERSION_LINES,
            "p": norm_label(problem.p),
            "coords": [[j, rat(lo), lo_by, rat(hi), hi_by] for j, lo, lo_by, hi, hi_by, _ in keep],
            "terms": [[j, rat(w), rat(g)] for j, w, g in terms],
            "inner": inner_doc,
        }
    else:
        inner = box_problem(problem, coords)
        inner_doc = _refute(problem, inner, options, False, time_limit)
        if isinstance(inner_doc, SmoothStep):
            return inner_doc
        doc = {
            **head,
            "coords": [
                [j, rat(lo), lo_by, rat(hi), hi_by, rat(s)] for j, lo, lo_by, hi, hi_by, s in coords
            ],
            "inner": inner_doc,
        }
    try:
        check_smooth_certificate(problem, doc, inner_checked=inner)  # bab checked the inner proof
    except (ProofRejected, GeninvError) as exc:
        return SmoothStep("unknown", reason=f"the smooth-output proof failed its check: {exc}")
    return SmoothStep("no", doc=doc)


@dataclass
class SmoothBound:
    """What :func:`smooth_lower_bound` found: the certified ``lower`` bound on the l_inf
    distance (0 when nothing was refuted) and its certificate ``doc``; the best point
    ``best_z`` it met and its float distance ``best``; the bisection ``steps``."""

    lower: Fraction = Fraction(0)
    doc: dict[str, Any] | None = None
    best: float | None = None
    best_z: list[Fraction] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    stop: str = ""


def _distance(problem: InversionProblem, z: list[Fraction]) -> float:
    """The float distance of ``G(z)`` to the target in the instance's norm."""
    out = problem.network.forward(np.array([[float(v) for v in z]]))
    return float(problem.distances(out)[0])


def smooth_lower_bound(
    problem: InversionProblem,
    upper: float | None,
    time_limit: float | None,
    rel_gap: float = REL_GAP,
    on_bound: Callable[[Fraction, dict[str, Any]], None] | None = None,
    lines: bool | None = None,
) -> SmoothBound:
    """Bisect on ``tau`` for the largest certified lower bound on the distance in the
    instance's norm (module docstring), from ``upper`` (a known distance in that norm; the
    box centre's when None): radii grow by 2 from ``upper / 2^GROW_FROM`` until one is
    not refuted, then the bracket is bisected.  Each step gets a third of the time left;
    a witness or a time-out lowers the upper end, a checked *no* raises the bound (and is
    passed with its certificate to ``on_bound`` at once, so a caller stopped midway keeps
    it).  ``lines`` (default: p < inf): each radius is first tried through the
    piecewise-linear error bounds (version 2) for :data:`LINES_SHARE` of its time, and
    where that is not decided, as the l_inf box (version 1) with the rest; after
    :data:`LINES_MISSES` undecided radii and no refutation, with the box alone."""
    why = why_not(problem)
    if why is not None:
        raise GeninvError(why)
    if lines is None:
        lines = not (problem.is_exact_inversion or math.isinf(problem.p))
    clock = Budget(time_limit)
    res = SmoothBound()
    if upper is None:
        box = root_box(problem)
        assert box is not None
        centre = [(lo + hi) / 2 for lo, hi in box]
        upper = _distance(problem, centre)
        res.best, res.best_z = upper, centre
    top = Fraction(upper)
    if top <= 0:  # a point meets the target: 0 is the bound, nothing to bisect
        res.stop = "a point at distance 0"
        return res
    floor = top / 2**MAX_SHRINK
    res.stop = "gap closed"
    # from below first: a weak relaxation refutes small radii quickly and large ones never,
    # so radii grow by 2 from top / 2^GROW_FROM until one is not refuted (shrinking by 8
    # while the smallest fails), then the bracket is bisected
    tau: Fraction | None = (top / 2**GROW_FROM).limit_denominator(10**9)
    if not tau:  # top below ~1e-7: short fractions round it to 0
        tau = top / 2**GROW_FROM
    misses = 0
    while len(res.steps) < MAX_STEPS:
        left = clock.left()
        if left <= 0.05:
            res.stop = "time limit reached"
            break
        if tau is None:
            if top - res.lower <= rel_gap * top:
                break
            tau = ((res.lower + top) / 2).limit_denominator(10**6)
            if not res.lower < tau < top:
                tau = (res.lower + top) / 2
        t0 = time.perf_counter()
        share = None if math.isinf(left) else left / 3
        first = None if share is None else share * (LINES_SHARE if lines else 1.0)
        step = decide_smooth(problem, tau, first, lines=lines)
        how = "lines" if lines else "box"
        rest = None if share is None else share - (time.perf_counter() - t0)
        enough = rest is None or (share is not None and rest > max(1.0, share / 10))
        if lines and step.status == "unknown" and enough:
            # not decided through the lines: the l_inf box (a smaller inner problem,
            # which can win at small radii) with the rest of the step's share
            box_step = decide_smooth(problem, tau, rest, lines=False)
            if box_step.status != "unknown":
                step, how = box_step, "box"
        res.steps.append(
            {
                "tau": float(tau),
                "status": step.status,
                "by": how,
                "nodes": step.nodes,
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
        if lines and res.doc is None and step.status == "unknown":
            misses += 1
            if misses >= LINES_MISSES:  # the lines inner problem is out of reach here:
                lines = False  # the rest of the bisection on the (smaller) box
        growing = res.doc is None or tau == 2 * res.lower
        if step.status == "no":
            assert step.doc is not None
            res.lower, res.doc = tau, step.doc
            if on_bound is not None:
                on_bound(tau, step.doc)
            tau = 2 * tau if growing and 2 * tau < top else None
            continue
        if step.z is not None:
            d = _distance(problem, step.z)
            if res.best is None or d < res.best:
                res.best, res.best_z = d, step.z
        top = min(top, tau)
        # not even the smallest radius yet: try a smaller one
        tau = tau / 8 if res.doc is None and tau > floor else None
    return res
