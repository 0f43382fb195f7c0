"""Optimality gaps: the best distance found (checked exactly), and a lower bound.

``geninv solve DIR --certify`` runs the approximate backends (gradient and LP
methods) for the smallest distance they can find, re-checked exactly, and the
MILP backend in optimisation mode for a lower bound on

    d* = min_{z in domain} ||G(z) - x||_p .

For p = 1 and p = inf the MILP minimises that norm directly.  For integer
p >= 2 the MIQP backend (SCIP) bounds it directly when it can within the time
share; in every case the MILP also bounds it through the norms it encodes, using,
for d in R^q,

    ||d||_p >= ||d||_inf        and        ||d||_p >= q^(1/p - 1) ||d||_1     (p >= 1),

so max(LB_inf, q^(1/p-1) LB_1) is a valid lower bound.  HiGHS's dual bound is
lowered by the MILP's stated tolerance before it is reported, so the bound
errs on the safe side.

The bound is a floating-point solver's dual bound (HiGHS or SCIP, scaled and
range-checked by :mod:`geninv.solvers.numerics`), not a certificate geninv
checked: the report says so (``lower_bound_certified`` false, ``lower_bound_basis``),
and calls it neither certified nor proven.  With ``trust_solver``
(``--trust-solver``) the basis says that it was accepted unchecked.  A bound
above the exact distance of a point found is discarded as a solver failure.

Where the certified branch and bound ``bab`` applies (box latents, or real latents
with a clamp box the checker verifies; ReLU/leaky/identity layers; p = 1, inf or an
integer), its optimize mode runs too, and its lower bound — every step a *no* whose
proof is checked in exact rationals — replaces the floating-point one and is reported
as certified (``lower_bound_certified`` true, basis ``checked certificate``).
Through a last sigmoid or tanh (:mod:`geninv.smooth_bounds`) the bound is bisected
with ``bab`` on an exact pre-activation box (p = inf) or, for p < inf, on
piecewise-linear lower bounds of each output's error whose l_p sum ``bab`` refutes
(the box, ``||d||_p >= ||d||_inf``, where that is not decided).

The MILP needs a ReLU (or identity-final) network and a
box (a box domain, binary/sign latents, or a real domain the network clamps);
otherwise, or when the network has more than ``MAX_UNSTABLE_UNITS`` hidden units,
the report says why no bound is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.budget import Budget
from geninv.errors import GeninvError
from geninv.problem import InversionProblem, norm_label
from geninv.solvers.base import REGISTRY, TRUSTED, _load_builtin_backends, solve

#: ``lower_bound_basis`` of a floating-point dual bound (without / with trust_solver).
UNCERTIFIED = "uncertified: a floating-point solver's dual bound, not checked exactly"
TRUSTED_BOUND = f"a floating-point solver's dual bound, {TRUSTED}"

#: Above this many hidden units the MILP lower bound is not attempted.
MAX_HIDDEN_UNITS = 3000
DEFAULT_METHODS = ("adam", "layerwise", "pgd")
#: A run is not started with less time than this left before the deadline.
MIN_RUN_SECONDS = 0.05


@dataclass
class GapReport:
    """What ``solve --certify`` found: the best distance ``best_distance`` (re-checked exactly,
    by ``best_method``, at ``best_z``) and a lower bound ``lower_bound`` on ``d*`` (how it was
    obtained, whether it is ``lower_bound_certified`` and on what ``lower_bound_basis``), or
    ``no_bound_reason``; ``runs`` lists every backend run, ``seconds`` the wall time."""

    best_distance: float | None = None
    best_method: str | None = None
    best_z: list[Any] | None = None
    lower_bound: float | None = None
    lower_bound_how: str = ""
    lower_bound_certified: bool = False
    lower_bound_basis: str = ""
    no_bound_reason: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def gap(self) -> float | None:
        """``best_distance - lower_bound`` (at least 0), or None when either is missing."""
        if self.best_distance is None or self.lower_bound is None:
            return None
        return max(0.0, self.best_distance - self.lower_bound)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (``z`` entries as exact JSON numbers, ``gap``
        included)."""
        from geninv.problem import json_number

        return {
            "best_distance": self.best_distance,
            "best_method": self.best_method,
            "z": None if self.best_z is None else [json_number(v) for v in self.best_z],
            "lower_bound": self.lower_bound,
            "lower_bound_how": self.lower_bound_how,
            "lower_bound_certified": self.lower_bound_certified,
            "lower_bound_basis": self.lower_bound_basis,
            "no_bound_reason": self.no_bound_reason,
            "gap": self.gap,
            "runs": self.runs,
            "seconds": round(self.seconds, 3),
        }


def _why_no_milp(problem: InversionProblem) -> str | None:
    net = problem.network
    outside = net.first_layer_outside({"relu", "identity"})
    if outside is not None:
        return f"the MILP cannot encode {outside}; no lower bound for this network"
    if problem.domain.kind == "real" and problem.input_box is None:
        return "a real domain without a box cannot be bounded by MILP; use --domain box"
    hidden = sum(net.widths[:-1])
    if hidden > MAX_HIDDEN_UNITS:
        return (
            f"the network has {hidden} hidden ReLU units, more than the {MAX_HIDDEN_UNITS} "
            "a MILP lower bound is attempted for (each needs a binary variable)"
        )
    return None


def _milp_lower_bound(
    problem: InversionProblem, p: float, time_limit: float | None, method: str = "milp"
) -> float:
    """min ||G(z) - x||_p from below (milp: p = 1 or inf; miqp: integer p >= 2)."""
    upper = max(problem.threshold_float(), 1e-9)
    copy = InversionProblem(
        problem.network,
        problem.target,
        problem.domain,
        p=p,
        threshold=upper,
        input_box=problem.input_box,
    )
    sol = solve(copy, method, time_limit=time_limit, options={"mode": "optimize"})
    lb = sol.stats.get("lower_bound")
    if lb is None:
        raise GeninvError(f"the {method} backend gave no lower bound ({sol.reason or sol.status})")
    if method == "miqp":  # already (dual bound - tolerance)^(1/p), clipped at 0
        return max(0.0, float(lb))
    tol = float(sol.stats.get("tolerance", 0.0) or 0.0)
    return max(0.0, float(lb) - tol)


#: A best distance at most this times (1 + max |x_j|) is float rounding: the bound is 0.
TINY_DISTANCE = 1e-12


def certified_gap(
    problem: InversionProblem,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    time_limit: float | None = 60.0,
    seed: int = 0,
    trust_solver: bool = False,
    report: GapReport | None = None,
) -> GapReport:
    """Best distance from the approximate backends and a lower bound.

    The lower bound is ``bab``'s certified one where ``bab`` applies; otherwise a
    floating-point dual bound labelled uncertified (``lower_bound_basis``), or
    accepted unchecked with ``trust_solver``.  ``report``, when given, is filled in
    as the runs finish (so a caller that stops the computation keeps what was found).
    """
    _load_builtin_backends()
    clock = Budget(time_limit, seed)
    report = GapReport() if report is None else report
    smooth = _smooth_applies(problem)
    # up to three bound solves (l_inf, l_1, MIQP) follow the approximate runs; every run
    # gets its share, or what is left before the deadline, so the whole meets time_limit
    bounds = (1 if math.isinf(problem.p) or problem.p == 1 else 3) + 1  # + bab
    crown = not smooth and _crown_applies(problem)
    if smooth or crown:  # the certified bisection takes every second left after the runs
        bounds = len(methods) + 1
    share = None if time_limit is None else time_limit / (len(methods) + bounds)

    def budget() -> float | None:
        if clock.deadline is None or share is None:
            return None
        left = clock.left()
        if left < MIN_RUN_SECONDS:
            raise GeninvError(f"time limit ({time_limit:g} s) reached")
        return min(share, left)

    for name in methods:
        cls = REGISTRY.get(name)
        if cls is None or not cls.available() or cls.unsupported_reason(problem) is not None:
            continue
        try:
            sol = solve(problem, name, time_limit=budget(), seed=seed)
        except GeninvError as exc:
            report.runs.append({"method": name, "error": str(exc)})
            continue
        dist = sol.check.distance if sol.check is not None else sol.stats.get("best_distance")
        report.runs.append({"method": name, "status": str(sol.status), "distance": dist})
        if dist is not None and (report.best_distance is None or dist < report.best_distance):
            report.best_distance = float(dist)
            report.best_method = name
            report.best_z = sol.z
    scale = 1.0 + float(np.max(np.abs(problem.target_array()), initial=0.0))
    if report.best_distance is not None and report.best_distance <= TINY_DISTANCE * scale:
        # a point at the target up to float rounding, its distance checked exactly: the
        # bound 0 (no distance is negative) leaves a gap of that distance; no search
        report.lower_bound = 0.0
        report.lower_bound_how = (
            f"a point at distance {report.best_distance:.3g} (checked exactly) was found: the "
            "bound 0 (no distance is negative) leaves a gap of that distance"
        )
        report.lower_bound_certified = True
        report.lower_bound_basis = "trivial (a distance is never negative)"
        report.no_bound_reason = None
        report.seconds = clock.elapsed()
        return report
    if smooth:
        _smooth_bound(problem, report, clock.left() if clock.deadline is not None else None)
        report.seconds = clock.elapsed()
        return report
    if crown and report.best_distance is not None:
        left = clock.left() if clock.deadline is not None else None
        if _crown_bound(problem, report, left):
            report.seconds = clock.elapsed()
            return report
    why = _why_no_milp(problem)
    if why is not None:
        report.no_bound_reason = why
    else:
        try:
            p = problem.p
            if math.isinf(p) or p == 1:
                report.lower_bound = _milp_lower_bound(problem, p, budget())
                report.lower_bound_how = (
                    f"MILP minimum of the l_{'inf' if math.isinf(p) else 1} distance"
                )
            else:
                q = problem.network.n_outputs
                lb_inf = _milp_lower_bound(problem, math.inf, budget())
                lb_1 = _milp_lower_bound(problem, 1.0, budget()) * q ** (1.0 / p - 1.0)
                report.lower_bound = max(lb_inf, lb_1)
                report.lower_bound_how = (
                    f"max(MILP l_inf minimum {lb_inf:.6g}, q^(1/p-1) x MILP l_1 minimum {lb_1:.6g})"
                )
                miqp = REGISTRY.get("miqp")
                if p.is_integer() and miqp is not None and miqp.available():
                    try:
                        lb_p = _milp_lower_bound(problem, p, budget(), method="miqp")
                    except GeninvError:
                        lb_p = 0.0
                    if lb_p > report.lower_bound:
                        report.lower_bound = lb_p
                        report.lower_bound_how = (
                            f"MIQP (SCIP) dual bound on the l_{int(p)} distance {lb_p:.6g}, "
                            f"above {report.lower_bound_how}"
                        )
        except GeninvError as exc:
            report.no_bound_reason = str(exc)
    if report.best_distance is not None and report.lower_bound is not None:
        if report.lower_bound > report.best_distance * (1.0 + 1e-9) + 1e-12:
            # above a distance actually attained (checked exactly): the solver failed
            report.no_bound_reason = (
                f"the solver's lower bound {report.lower_bound!r} exceeds the exact distance "
                f"{report.best_distance!r} of a point found: its floating-point arithmetic "
                "failed; no bound is given"
            )
            report.lower_bound = None
            report.lower_bound_how = ""
        else:
            report.lower_bound = min(report.lower_bound, report.best_distance)
    if report.lower_bound is not None:
        report.lower_bound_certified = False
        report.lower_bound_basis = TRUSTED_BOUND if trust_solver else UNCERTIFIED
    try:
        _certified_bound(problem, report, budget(), trust_solver)
    except GeninvError as exc:  # the deadline passed before bab could start
        report.runs.append({"method": "bab", "error": str(exc)})
    report.seconds = clock.elapsed()
    return report


def _certified_bound(
    problem: InversionProblem, report: GapReport, share: float | None, trust_solver: bool
) -> None:
    """Replace the floating-point bound by ``bab``'s certified one where ``bab`` applies.

    ``bab`` in optimize mode bisects on the threshold; each *no* it reaches carries a
    proof checked in exact rationals, so its ``lower_bound`` (a float not above the
    checked rational) is certified.  A larger floating-point bound is kept only with
    ``trust_solver``; otherwise it is mentioned in ``lower_bound_how``.
    """
    bab = REGISTRY.get("bab")
    if bab is None or not bab.available() or bab.unsupported_reason(problem) is not None:
        return
    if problem.domain.kind == "real" and problem.input_box is None:
        return
    try:
        sol = solve(problem, "bab", time_limit=share, options={"mode": "optimize"})
    except GeninvError as exc:
        report.runs.append({"method": "bab", "error": str(exc)})
        return
    report.runs.append(
        {"method": "bab", "status": str(sol.status), "distance": sol.stats.get("best_distance")}
    )
    best = sol.stats.get("best_distance")
    if (
        best is not None
        and sol.z is not None
        and (report.best_distance is None or float(best) < report.best_distance)
    ):
        report.best_distance = float(best)
        report.best_method = "bab"
        report.best_z = sol.z
    lb = sol.stats.get("lower_bound")
    if not sol.stats.get("lower_bound_certified") or lb is None:
        return
    lb = float(lb)
    float_lb = report.lower_bound
    if float_lb is not None and float_lb > lb and trust_solver:
        report.lower_bound_how += f"; bab's certified bound {lb:.6g} is below it"
        return
    how = (
        f"bab: the threshold {sol.stats.get('lower_bound_exact')} refuted by a branch-and-bound "
        "proof checked in exact rationals"
    )
    if float_lb is not None and float_lb > lb:
        how += f" (the floating-point solver claims {float_lb:.6g}, unchecked)"
    report.lower_bound = lb if report.best_distance is None else min(lb, report.best_distance)
    report.lower_bound_how = how
    report.lower_bound_certified = True
    report.lower_bound_basis = "checked certificate"
    report.no_bound_reason = None


def _smooth_applies(problem: InversionProblem) -> bool:
    """The network is piecewise linear up to one last sigmoid or tanh layer, on a box or a
    clamped real domain (:mod:`geninv.smooth_bounds`)."""
    from geninv.smooth_bounds import why_not

    return why_not(problem) is None


def _smooth_bound(problem: InversionProblem, report: GapReport, seconds: float | None) -> None:
    """The certified bound through a last sigmoid / tanh layer (:mod:`geninv.smooth_bounds`),
    refuted by ``bab`` inside a ``geninv-smooth-box`` certificate checked exactly: for
    p = inf the l_inf ball as an exact box on the pre-activation; for p < inf the l_p
    ball through piecewise-linear lower bounds of each output's error (the sum over the
    outputs), the box (``||d||_p >= ||d||_inf``) where that is not decided."""
    from geninv.smooth_bounds import smooth_lower_bound

    upper = None
    if report.best_z is not None:  # the distance of the best point: the search's top
        out = problem.network.forward(np.array([[float(v) for v in report.best_z]]))
        upper = float(problem.distances(out)[0])
    kind = problem.network.layers[-1].activation

    def record(lower: Fraction, doc: dict[str, Any]) -> None:
        lb = float(np.nextafter(float(lower), -math.inf))
        if doc.get("version") == 2:
            how = (
                f"the l_{norm_label(problem.p)} ball of radius {lower}: each output's error "
                f"is bounded below by {len(doc['terms'])} lines in the last {kind}'s "
                "pre-activation (each proved below the error in exact rationals) and bab "
                "refuted the sum, its proof checked in exact rationals"
            )
        else:
            how = (
                f"the l_inf ball of radius {lower} is an exact box on the last {kind}'s "
                "pre-activation (directed-rounding inverse, checked by enclosure); bab refuted "
                "the box, its proof checked in exact rationals"
            )
            if not math.isinf(problem.p):
                how += " (||d||_p >= ||d||_inf)"
        best = report.best_distance
        report.lower_bound = lb if best is None else min(lb, best)
        report.lower_bound_how = how
        report.lower_bound_certified = True
        report.lower_bound_basis = "checked certificate"
        report.no_bound_reason = None

    try:
        res = smooth_lower_bound(
            problem, upper, None if seconds is None else 0.95 * seconds, on_bound=record
        )
    except GeninvError as exc:
        report.no_bound_reason = str(exc)
        return
    report.runs.append(
        {"method": "bab (smooth-output box)", "steps": res.steps, "stopped": res.stop}
    )
    if res.doc is None:
        tried = ", ".join(f"{s['tau']:.4g}: {s['status']}" for s in res.steps) or "none"
        report.no_bound_reason = (
            f"no radius was refuted in the time given (tried {tried}; {res.stop}); "
            "a longer --time-limit or a smaller latent box may give one"
        )


def _crown_applies(problem: InversionProblem) -> bool:
    """Few latents on a box, p = 2, a piecewise-linear network
    (:mod:`geninv.solvers.bab.crown`)."""
    from geninv.solvers.bab.crown import applies

    return applies(problem) is None


def _crown_bound(problem: InversionProblem, report: GapReport, seconds: float | None) -> bool:
    """The certified l_2 bound of the linear-bound input-splitting search (its tree of
    supporting hyperplanes checked by :mod:`geninv.proofcheck`); True when it gave one."""
    from geninv.solvers.bab.crown import crown_lower_bound

    assert report.best_distance is not None
    res = crown_lower_bound(
        problem, report.best_distance, None if seconds is None else 0.9 * seconds
    )
    report.runs.append({"method": "bab (linear bounds, input splits)", "steps": res.steps})
    if res.doc is None:
        return False
    lb = float(np.nextafter(float(res.lower), -math.inf))
    report.lower_bound = min(lb, report.best_distance)
    leaves = sum(1 for nd in res.doc["nodes"] if "children" not in nd)
    report.lower_bound_how = (
        f"the l_2 ball of radius {res.lower} refuted by input splitting with linear bounds "
        f"({leaves} leaves, each with a supporting hyperplane of the ball); the proof checked "
        "in exact rationals"
    )
    report.lower_bound_certified = True
    report.lower_bound_basis = "checked certificate"
    report.no_bound_reason = None
    return True
