"""``bab`` in optimize mode: the smallest distance, bracketed by a witness and a
certified lower bound.

Bisection on the threshold ``tau``: each step decides ``||G(z) - x||_p <= tau``
with the proof-producing search.  A *yes* lowers the upper end to the witness's
exact distance; a *no* raises the lower end to ``tau`` and keeps its checked
proof (which proves ``min > tau``).  It stops when ``hi - lo <= rel_gap * hi``,
at the time limit, or at the first *unknown*.  ``stats`` reports
``best_distance`` (of the best witness, exact), ``lower_bound`` (a float not
above the certified rational ``lower_bound_exact``) and the gap.

The answer to the instance itself: *yes* when the best witness meets its
threshold; *no* when the certified bound reaches it (a proof at ``tau >= delta``
is a proof at ``delta``: every target row only tightens as delta shrinks, and
it is re-checked against the instance); else *unknown*.  ``--proof FILE``
writes the proof of the final lower bound, for threshold ``lower_bound_exact``.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from geninv.budget import Budget
from geninv.problem import InversionProblem, Solution, Status
from geninv.proof import KIND_BAB, Proof
from geninv.proofcheck import ProofRejected, check_certificate
from geninv.solvers.bab.certificate import rat, write_atomic

if TYPE_CHECKING:
    from geninv.solvers.bab.backend import BabBackend

REL_GAP = 1e-3
MAX_STEPS = 40


def _at(problem: InversionProblem, tau: Fraction) -> InversionProblem:
    return InversionProblem(
        problem.network,
        problem.target,
        problem.domain,
        p=problem.p,
        threshold=tau,
        relation="<=",
        input_box=problem.input_box,
    )


def _distance(problem: InversionProblem, z: list[Fraction]) -> Fraction:
    """||G(z) - x||_p exactly for p = inf, 1; a rational just above it otherwise."""
    d = [o - t for o, t in zip(problem.network.forward_exact(z), problem.target, strict=True)]
    if math.isinf(problem.p):
        return max((abs(v) for v in d), default=Fraction(0))
    if problem.p == 1:
        return sum((abs(v) for v in d), Fraction(0))
    k = int(problem.p)
    s = sum((abs(v) ** k for v in d), Fraction(0))
    r = Fraction(float(s) ** (1 / k) * (1 + 1e-12) + 1e-300)
    while r**k < s:
        r *= 1 + Fraction(1, 10**9)
    return r


def _start_point(problem: InversionProblem) -> list[Fraction]:
    if problem.domain.kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        pairs = list(zip(problem.domain.lower, problem.domain.upper, strict=True))
    elif problem.input_box is None:  # real latents without a box: the origin
        return [Fraction(0)] * problem.n
    else:
        pairs = list(zip(*problem.input_box, strict=True))
    return [(lo + hi) / 2 for lo, hi in pairs]


def optimize(backend: BabBackend, problem: InversionProblem, time_limit: float | None) -> Solution:
    """``bab`` in optimize mode (module docstring): bisect on the threshold; ``stats`` gives the
    best exact distance and the certified lower bound; the answer to the instance is *yes*, a
    proved *no*, or *unknown*."""
    clock = Budget(time_limit)
    start = clock.start
    best = _start_point(problem)
    hi = _distance(problem, best)
    lo = Fraction(0)
    lo_doc: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    stop = "gap closed"
    while hi - lo > REL_GAP * hi and len(steps) < MAX_STEPS:
        left = clock.left()
        if left <= 0:
            stop = "time limit reached"
            break
        tau = ((lo + hi) / 2).limit_denominator(10**12)
        if not lo < tau < hi:
            tau = (lo + hi) / 2
        sol, doc = backend.decide(_at(problem, tau), None if math.isinf(left) else left)
        steps.append(
            {"tau": float(tau), "status": sol.status.value, "nodes": sol.stats.get("nodes")}
        )
        if sol.status is Status.YES:
            assert sol.z is not None
            best, hi = sol.z, min(hi, _distance(problem, sol.z))
        elif sol.status is Status.NO:
            lo, lo_doc = tau, doc
        else:
            stop = f"a step ended unknown: {sol.reason}"
            break
    chk = problem.exact_check(best)
    stats: dict[str, Any] = {
        "best_distance": float(hi),
        "lower_bound": float(np.nextafter(float(lo), -math.inf)) if lo > 0 else 0.0,
        "lower_bound_exact": rat(lo),
        "lower_bound_certified": bool(lo_doc),
        "gap": float(hi - lo),
        "steps": steps,
        "stopped": stop,
    }
    seconds = time.perf_counter() - start
    if chk.meets:
        return Solution(Status.YES, backend.name, z=best, stats=stats, seconds=seconds)
    proof: dict[str, Any] | None = None
    if lo_doc and lo >= problem.threshold:
        try:
            rep = check_certificate(problem, lo_doc)
        except ProofRejected:
            rep = None
        if rep is not None:
            proof = Proof(
                KIND_BAB,
                lower_bound=rat(lo),
                nodes=rep.nodes,
                leaves=rep.leaves,
                multipliers=rep.multipliers,
                root=rep.root,
                checked=True,
            ).to_dict()
    if lo_doc and backend.proof_path:
        write_atomic(backend.proof_path, lo_doc)
        stats["proof_file"] = str(backend.proof_path)
    if proof is not None:
        return Solution(Status.NO, backend.name, z=best, proof=proof, stats=stats, seconds=seconds)
    return Solution(
        Status.UNKNOWN,
        backend.name,
        z=best,
        reason=f"the certified lower bound {float(lo):.6g} and the best distance "
        f"{float(hi):.6g} bracket the threshold ({stop})",
        stats=stats,
        seconds=seconds,
    )
