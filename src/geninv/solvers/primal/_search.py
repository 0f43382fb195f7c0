"""The primal search itself: rounds of multi-start descent, pattern LPs and polishing."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.budget import Budget
from geninv.errors import ValidationError
from geninv.network import FloatArray
from geninv.problem import ExactCheck, InversionProblem
from geninv.solvers.primal import _exact
from geninv.solvers.primal._net import (
    Setup,
    backward,
    clip,
    distances,
    forward,
    loss_gradient,
    make_setup,
    meets_float,
)
from geninv.solvers.primal._pattern import DescentStats, gauss_newton, lp_descent

#: Starts per round, descent iterations per round, rounds when there is no time limit.
STARTS = 32
ITERATIONS = 150
ROUNDS = 3
#: Points of each round handed to the pattern descent, and its solves per point.
LP_POINTS = 3
LP_STEPS = 30
#: Exact checks per search (each costs a rational forward pass).
MAX_CHECKS = 40
#: The pattern LPs are skipped beyond this many dense coefficients (units times n).
LP_MAX_COEFFS = 1_000_000
#: Adam's step, as a fraction of each coordinate's range, at the start of a round.
LR = 0.1
#: Temperature of the smooth maximum (p = inf), relative to the distance: start, end.
TAU = (0.05, 0.001)


@dataclass
class PrimalResult:
    """What :func:`search` found.

    ``witness``: ``z`` passed :meth:`InversionProblem.exact_check` (``check.meets``).
    Otherwise ``z``/``check`` are the best point found and its exact re-check
    (None when nothing was checked), and nothing is claimed.  ``distance`` is the
    best float distance seen, ``z_float`` that point (a seed for the exact
    search), ``stats`` counts the work: ``seconds``, ``rounds``, ``starts``,
    ``iterations``, ``lp_solves``, ``flips``, ``exact_checks``, ``found_by``
    (``start``, ``descent``, ``pattern-lp``, ``gauss-newton``, ``bit-flips``),
    ``stopped`` (``witness``, ``rounds``, ``time limit``).
    """

    z: list[Fraction] | None
    check: ExactCheck | None
    witness: bool
    distance: float
    z_float: FloatArray | None
    stats: dict[str, Any] = field(default_factory=dict)


class _State:
    def __init__(self, setup: Setup, clock: Budget, max_checks: int) -> None:
        self.setup = setup
        self.clock = clock
        self.max_checks = max_checks
        self.best_z: FloatArray | None = None
        self.best_d = math.inf
        self.witness: list[Fraction] | None = None
        self.check: ExactCheck | None = None
        self.found_by = ""
        self.checks = 0
        self.seen: set[tuple[Fraction, ...]] = set()
        self.lp = DescentStats()
        self.iterations = 0
        self.starts = 0

    def left(self) -> float:
        return self.clock.left()

    def dist(self, z: FloatArray) -> FloatArray:
        out, _, _ = forward(self.setup.net, z)
        return distances(self.setup, out)

    def offer(self, z: FloatArray, d: float, how: str) -> bool:
        """Record a float point; polish it when it is near enough.  True: a witness.

        A relaxed point of a discrete domain is rounded to its nearest corner first."""
        corners = self.setup.corners
        if corners is not None:
            a, b = corners
            z = np.where(z >= 0.5 * (a + b), float(b), float(a))
            d = float(self.dist(z[None, :])[0])
        if d < self.best_d:
            self.best_z, self.best_d = z.copy(), d
        if self.witness is not None or not meets_float(self.setup, d):
            return self.witness is not None
        for cand in _exact.candidates(self.setup, z, project=True):
            if self.checks >= self.max_checks or self.left() <= 0:
                break
            key = tuple(cand)
            if key in self.seen or not _exact.screen(self.setup, cand):
                continue
            self.seen.add(key)
            chk = self.setup.problem.exact_check(cand)
            self.checks += 1
            if chk.meets:
                self.witness, self.check, self.found_by = cand, chk, how
                return True
        return False


def _starts(
    setup: Setup, state: _State, rng: np.random.Generator, k: int, count: int
) -> FloatArray:
    n = setup.n
    if setup.lo is not None and setup.hi is not None:
        lo, hi = setup.lo, setup.hi
        uni = rng.uniform(size=(count, n)) * (hi - lo) + lo
        if k == 0:
            uni[0] = 0.5 * (lo + hi)
            if count > 2:  # two random corners
                uni[1] = np.where(rng.uniform(size=n) < 0.5, lo, hi)
                uni[2] = np.where(rng.uniform(size=n) < 0.5, lo, hi)
        elif state.best_z is not None:  # half of later rounds: around the best point
            half = count // 2
            sigma = 0.25 / k * (hi - lo)
            uni[:half] = state.best_z + rng.normal(size=(half, n)) * sigma
        return np.asarray(np.minimum(np.maximum(uni, lo), hi), dtype=np.float64)
    z = rng.normal(size=(count, n))
    if k == 0:
        z[0] = 0.0
    elif state.best_z is not None:
        half = count // 2
        z[:half] = state.best_z + rng.normal(size=(half, n)) * (0.25 / k)
    return np.asarray(z, dtype=np.float64)


def _descend(
    setup: Setup, state: _State, z: FloatArray, iterations: int
) -> tuple[FloatArray, FloatArray]:
    """Projected Adam from every row of ``z`` (batched); each row's best point and distance."""
    if setup.lo is not None and setup.hi is not None:
        width = np.where(setup.hi > setup.lo, setup.hi - setup.lo, 0.0)
        width = np.where(np.isfinite(width), width, np.finfo(np.float64).max / 4)
    else:
        width = np.full(setup.n, 2.0 * max(1.0, float(np.abs(z).max(initial=0.0))))
    mom = np.zeros_like(z)
    var = np.zeros_like(z)
    best_z = z.copy()
    best_d = np.full(len(z), np.inf)
    b1, b2 = 0.9, 0.999
    for t in range(iterations + 1):
        out, pres, posts = forward(setup.net, z)
        d = distances(setup, out)
        better = d < best_d
        best_d = np.where(better, d, best_d)
        best_z[better] = z[better]
        state.iterations += 1
        if t == iterations or state.left() <= 0:
            break
        if t % 10 == 0:
            j = int(np.argmin(best_d))
            if meets_float(setup, float(best_d[j])) and state.offer(
                best_z[j], float(best_d[j]), "descent"
            ):
                break
        frac = t / max(1, iterations)
        tau = TAU[0] * (TAU[1] / TAU[0]) ** frac
        g = backward(setup.net, z, pres, posts, loss_gradient(setup, out, tau))
        mom = b1 * mom + (1 - b1) * g
        var = b2 * var + (1 - b2) * g * g
        mhat = mom / (1 - b1 ** (t + 1))
        vhat = var / (1 - b2 ** (t + 1))
        lr = LR * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
        denom = np.sqrt(vhat)
        denom = denom + 1e-12 * denom.max(axis=1, keepdims=True) + 1e-300
        z = clip(setup, z - lr * width * mhat / denom)
    return best_z, best_d


def _distinct(z: FloatArray, d: FloatArray, k: int) -> list[int]:
    order = [int(i) for i in np.argsort(d) if math.isfinite(float(d[i]))]
    picked: list[int] = []
    for i in order:
        if all(not np.allclose(z[i], z[j], rtol=1e-6, atol=1e-9) for j in picked):
            picked.append(i)
        if len(picked) == k:
            break
    return picked


def _bit_flips(setup: Setup, state: _State, z: FloatArray) -> tuple[FloatArray, float]:
    """Round to the nearest corner, then greedy single flips while they improve."""
    assert setup.corners is not None
    a, b = setup.corners
    cur = np.where(z >= 0.5 * (a + b), float(b), float(a))
    d = float(state.dist(cur[None, :])[0])
    while state.left() > 0:
        trial = np.repeat(cur[None, :], setup.n, axis=0)
        idx = np.arange(setup.n)
        trial[idx, idx] = a + b - trial[idx, idx]
        dd = state.dist(trial)
        j = int(np.argmin(dd))
        if not dd[j] < d:
            break
        cur, d = trial[j], float(dd[j])
        if meets_float(setup, d) and state.offer(cur, d, "bit-flips"):
            break
    return cur, d


def search(
    problem: InversionProblem,
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    starts: int = STARTS,
    rounds: int | None = None,
    iterations: int = ITERATIONS,
    lp_points: int = LP_POINTS,
    lp_steps: int = LP_STEPS,
    max_checks: int = MAX_CHECKS,
    check_best: bool = True,
) -> PrimalResult:
    """Look for a witness of ``problem`` (see the package docstring); never claims 'no'.

    BLAS is kept single-threaded meanwhile: on these small batched products
    multi-threaded OpenBLAS was 25x slower on a loaded machine (0.19 ms against
    4.8 ms for one 32 x 20-100-200 forward pass).
    """
    from geninv.solvers.enumerate import _BLAS_LIMIT

    with _BLAS_LIMIT:
        return _search(
            problem,
            time_limit,
            seed,
            starts,
            rounds,
            iterations,
            lp_points,
            lp_steps,
            max_checks,
            check_best,
        )


def _search(
    problem: InversionProblem,
    time_limit: float | None,
    seed: int | None,
    starts: int,
    rounds: int | None,
    iterations: int,
    lp_points: int,
    lp_steps: int,
    max_checks: int,
    check_best: bool,
) -> PrimalResult:
    if time_limit is not None and (math.isnan(time_limit) or time_limit < 0):
        raise ValidationError(f"time_limit must be >= 0, got {time_limit!r}")
    if starts < 1 or iterations < 0 or lp_points < 0 or lp_steps < 0 or max_checks < 0:
        raise ValidationError("starts must be >= 1; iterations, lp_points, lp_steps >= 0")
    clock = Budget(time_limit, seed)
    t0 = clock.start
    if rounds is None and time_limit is None:
        rounds = ROUNDS
    setup = make_setup(problem)
    state = _State(setup, clock, max_checks)
    rng = clock.rng()
    regions = (
        setup.net.piecewise_linear
        and setup.corners is None
        and sum(w.shape[0] for w in setup.net.weights) * setup.n <= LP_MAX_COEFFS
    )
    use_lp = regions and (setup.p == 2 or _highs_found())  # p = 2: least squares, no LP
    k = rounds_run = 0
    stopped = "rounds"
    while rounds is None or k < rounds:
        if state.left() <= 0:
            stopped = "time limit"
            break
        rounds_run = k + 1
        z = _starts(setup, state, rng, k, starts)
        state.starts += len(z)
        d0 = state.dist(z)
        j = int(np.argmin(d0))
        if state.offer(z[j], float(d0[j]), "start"):
            break
        bz, bd = _descend(setup, state, z, iterations)
        if state.witness is not None:
            break
        picked = _distinct(bz, bd, max(lp_points, 1))
        for i in picked:
            if state.offer(bz[i], float(bd[i]), "descent"):
                break
        if state.witness is not None:
            break
        for i in picked[:lp_points] if (use_lp or setup.corners is not None) else []:
            if state.left() <= 0:
                break
            if setup.corners is not None:
                zc, dc = _bit_flips(setup, state, bz[i])
                how = "bit-flips"
            elif setup.p == 2:
                zc, dc = gauss_newton(
                    setup, bz[i], float(bd[i]), lp_steps, clock, state.lp, state.dist
                )
                how = "gauss-newton"
            else:
                norm = "inf" if math.isinf(setup.p) or setup.p > 2 else "1"
                zc, dc = lp_descent(
                    setup, bz[i], float(bd[i]), norm, lp_steps, clock, state.lp, state.dist
                )
                how = "pattern-lp"
            if state.offer(zc, dc, how):
                break
        if state.witness is not None:
            break
        k += 1
    if state.witness is not None:
        stopped = "witness"
    elif state.left() <= 0:
        stopped = "time limit"
    z_out, chk = state.witness, state.check
    if z_out is None and state.best_z is not None and check_best:
        z_out = _exact.to_fractions(setup, state.best_z)
        if setup.corners is not None:
            a, b = setup.corners
            z_out = [Fraction(b) if v >= Fraction(a + b, 2) else Fraction(a) for v in z_out]
        chk = problem.exact_check(z_out)
        state.checks += 1
        if chk.meets:  # the exact check is the judge, whatever the floats said
            state.witness, state.check, state.found_by = z_out, chk, "best point"
            stopped = "witness"
    stats = {
        "seconds": time.perf_counter() - t0,
        "rounds": rounds_run,
        "starts": state.starts,
        "iterations": state.iterations,
        "lp_solves": state.lp.solves,
        "flips": state.lp.flips,
        "exact_checks": state.checks,
        "best_float_distance": state.best_d,
        "found_by": state.found_by or None,
        "stopped": stopped,
        "pattern_lp": bool(use_lp),
        "seed": seed,
    }
    return PrimalResult(z_out, chk, state.witness is not None, state.best_d, state.best_z, stats)


def _highs_found() -> bool:
    from geninv.solvers.interface import _module_found

    return _module_found("highspy")
