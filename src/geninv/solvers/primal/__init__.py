"""The primal side: cheap searches that find witnesses before (and beside) the exact search.

A *yes* that a local search finds in two seconds must not wait for branch and
bound.  :func:`search` looks for a point ``z`` in the domain with
``||G(z) - x||_p`` within the threshold, in rounds (numpy only; HiGHS for the
pattern programs when ``highspy`` is installed):

1. **Starts** (all randomness from the one ``seed``): the box centre, two random
   corners and uniform points in round 0 (``N(0, I)`` and 0 for unbounded
   latents); in later rounds half of them around the best point so far (a
   Gaussian of shrinking width).  Binary and sign latents are relaxed to their
   hull ``[a, b]^n``; real latents with ``problem.input_box`` (the network clamps
   its input) use that box, other real latents none.
2. **Projected descent**: Adam on all starts at once (one ``(starts, n)`` array,
   forward and backward passes by hand through relu, leaky_relu, identity,
   sigmoid and tanh layers), each step clipped to the box; the objective is a
   smooth maximum for ``p = inf`` and ``sum |d_j|^p`` otherwise
   (:mod:`._net`).  Every start keeps its best iterate by the true distance.
3. **Pattern programs** (piecewise-linear networks): the best few distinct
   points seed a descent over activation patterns -- fix the pattern (which
   makes ``G`` affine on its region), solve the linear program of the distance
   over the region exactly (p = inf, 1; the l_inf / l_1 proxy for other p), flip
   the units whose sign rows bind, repeat; for ``p = 2`` a least-squares step
   per region (:mod:`._pattern`).  Discrete latents: rounding and greedy
   single-coordinate flips instead.
4. **Exact polishing** of every point whose float distance is within the
   threshold (up to ``1e-9`` relative): its float values, bounds snapped, the
   exact solution of the constraints tight under its activation pattern
   (rational Gaussian elimination), decimal roundings (:mod:`._exact`).  Only a
   point that passes :meth:`InversionProblem.exact_check` is a witness.

The search ends at the first witness, after ``rounds`` rounds (default 3 when
there is no time limit), or at ``time_limit`` (checked inside every loop; an
exact check already begun is finished: on a 100-1000-784 network the check of
a float point within the threshold took about 2 s, so that *yes* came at 3.9 s
of a 2 s budget, while the *unknown* beside it stopped at 2.05 s).

Hook for the exact search
-------------------------
``incumbent(problem, budget=seconds, seed=...)`` runs :func:`search` for at most
``budget`` seconds and returns its :class:`PrimalResult`: a witness (``witness``,
``z``, ``check``) when it found one, else its best point (``z_float``, float
distance ``distance``) to seed an exact search (incumbent / MIP start /
branching order).  :func:`auto_first` is what ``solve(method="auto")`` calls
for real and box latents with a threshold: the search for ``min(AUTO_BUDGET,
AUTO_SHARE * time_limit)`` seconds (at most ``AUTO_ROUNDS`` rounds), and its
*yes* at once.

Backend ``primal``
------------------
Incomplete (``complete=False``): ``yes`` with an exactly checked witness, else
``unknown`` with the best point found; never ``no``.  Without a time limit it
runs ``rounds`` rounds (option, default 3); with one, rounds until the time is up.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from geninv.errors import UnsupportedError, ValidationError
from geninv.network import ACTIVATIONS
from geninv.problem import InversionProblem, Solution, Status
from geninv.solvers.interface import Backend, Capabilities
from geninv.solvers.primal._search import ROUNDS, STARTS, PrimalResult, search

__all__ = [
    "AUTO_BUDGET",
    "AUTO_ROUNDS",
    "AUTO_SHARE",
    "PrimalBackend",
    "PrimalResult",
    "auto_first",
    "incumbent",
    "search",
]

#: The primal search in ``auto``: at most this many seconds ...
AUTO_BUDGET = 2.0
#: ... and this share of the time limit ...
AUTO_SHARE = 0.1
#: ... and this many rounds (small problems finish in milliseconds).
AUTO_ROUNDS = 4


def incumbent(problem: InversionProblem, *, budget: float, seed: int | None = None) -> PrimalResult:
    """The primal search within ``budget`` seconds (for a complete backend's incumbent)."""
    return search(problem, time_limit=budget, seed=seed, check_best=False)


def auto_first(
    problem: InversionProblem, time_limit: float | None, seed: int | None
) -> tuple[Solution | None, dict[str, Any] | None]:
    """``(yes solution or None, summary)``; ``(None, None)`` when auto should not try.

    Tried for real and box latents with a threshold (exact inversion has the corner
    presolve and an exact MILP first; discrete latents their complete searches).
    """
    if problem.domain.kind not in ("real", "box") or problem.is_exact_inversion:
        return None, None
    budget = AUTO_BUDGET if time_limit is None else min(AUTO_BUDGET, AUTO_SHARE * time_limit)
    res = search(problem, time_limit=budget, seed=seed, rounds=AUTO_ROUNDS, check_best=False)
    summary = {
        "budget": budget,
        "found": res.witness,
        "best_float_distance": res.distance,
        **{k: res.stats[k] for k in ("seconds", "rounds", "lp_solves", "stopped")},
    }
    if not res.witness:
        return None, summary
    return _yes(res), summary


def _yes(res: PrimalResult) -> Solution:
    assert res.z is not None and res.check is not None
    return Solution(
        Status.YES,
        "primal",
        z=res.z,
        distance=res.check.distance,
        check=res.check,
        stats=dict(res.stats),
    )


class PrimalBackend(Backend):
    """Multi-start projected descent, activation-pattern LPs and exact polishing."""

    name = "primal"
    summary = (
        "incomplete: multi-start projected descent, activation-pattern LPs and exact "
        "polishing (yes or unknown)"
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        domains=frozenset({"real", "box", "binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=False,
        activations=frozenset(ACTIVATIONS),
    )

    def __init__(self, starts: int = STARTS, rounds: int | None = None) -> None:
        if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
            raise ValidationError(f"starts: expected an integer >= 1, got {starts!r}")
        if rounds is not None and (
            isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1
        ):
            raise ValidationError(f"rounds: expected an integer >= 1, got {rounds!r}")
        self.starts = starts
        self.rounds = rounds

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Multi-start search (incomplete): *yes* with a witness re-checked exactly, else
        *unknown* with the best distance found, never *no*; raises
        :class:`~geninv.errors.UnsupportedError` for a problem outside the capabilities."""
        reason = self.unsupported_reason(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        t0 = time.perf_counter()
        rounds = self.rounds if self.rounds is not None or time_limit is not None else ROUNDS
        res = search(problem, time_limit=time_limit, seed=seed, starts=self.starts, rounds=rounds)
        if res.witness:
            sol = _yes(res)
        else:
            dist = res.check.distance if res.check is not None else math.inf
            sol = Solution(
                Status.UNKNOWN,
                "primal",
                z=res.z,
                distance=None if res.check is None else dist,
                check=res.check,
                reason=(
                    f"the primal search (incomplete) found no witness ({res.stats['stopped']} "
                    f"after {res.stats['rounds']} rounds); best distance {dist:.6g}, "
                    f"threshold {problem.threshold_float():.6g}; try a complete method"
                ),
                stats=dict(res.stats),
            )
        sol.seconds = time.perf_counter() - t0
        return sol
