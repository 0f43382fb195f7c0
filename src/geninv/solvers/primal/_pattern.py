"""Local search over activation patterns (piecewise-linear networks only).

Fix the phase of every ReLU / LeakyReLU unit (active: ``a > 0``, slope 1;
inactive: slope 0 or the leaky slope).  On the polyhedron ``P`` of latents with
that pattern, every pre-activation and the output are affine in ``z``:

    a_l = A_l z + alpha_l,   G(z) = M z + c   (composed layer by layer)

and ``P`` is cut out by ``A_l,j z + alpha_l,j >= 0`` (active) or ``<= 0``
(inactive) and the box.  Then

* ``p = inf``: ``min t  s.t.  -t <= M z + c - x <= t,  z in P`` is a linear program;
* ``p = 1``:   ``min sum_j t_j  s.t.  -t_j <= (M z + c - x)_j <= t_j,  z in P`` too;

solved with HiGHS.  A unit whose sign row is binding (non-zero dual) blocks the
descent; at the LP optimum its pre-activation is 0, where both phases give the
same network output, so the optimum stays feasible when the unit's phase is
flipped.  Flipping every blocking unit and solving again therefore never
increases the optimum: the loop is a descent over neighbouring regions that
stops when no sign row binds (a local minimum of the distance over the box) or
after ``steps`` solves.

Other p use the l_inf (p > 2) or l_1 (p < 2) program as a proxy; for ``p = 2``
:func:`gauss_newton` instead moves from ``z0`` towards the unconstrained least
squares point of the region's affine map as far as the region allows (the
squared distance is convex along that segment, so it never increases), flipping
the unit that stops it.  The true distance of every point is measured by the
network itself, so a proxy can only cost time.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geninv.budget import Budget
from geninv.network import FloatArray
from geninv.solvers.primal._net import BoolArray, Setup, forward

#: Row duals below this (relative) are treated as zero when choosing units to flip.
DUAL_TOL = 1e-9


@dataclass
class Maps:
    """The pattern's affine maps: sign rows per layer and the output map."""

    rows: list[tuple[int, FloatArray, FloatArray, BoolArray]]  # (layer, A, alpha, active)
    m: FloatArray  # output map M (q, n)
    c: FloatArray


def pattern_of(setup: Setup, z: FloatArray) -> list[BoolArray | None]:
    """The phase of every relu/leaky unit at ``z`` (True: active); None for other layers."""
    _, pres, _ = forward(setup.net, z[None, :])
    return [
        (pres[k][0] > 0) if kind in ("relu", "leaky") else None
        for k, kind in enumerate(setup.net.kinds)
    ]


def maps_of(setup: Setup, pattern: list[BoolArray | None]) -> Maps:
    """The affine maps of the activation ``pattern``: per layer the sign rows, and the output map
    ``G(z) = M z + c`` on that pattern's region (floats)."""
    net = setup.net
    n = setup.n
    mat = np.eye(n)
    const = np.zeros(n)
    rows: list[tuple[int, FloatArray, FloatArray, BoolArray]] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            a_mat = w @ mat
            alpha = w @ const + b
            phase = pattern[k]
            if phase is not None:
                rows.append((k, a_mat, alpha, phase))
                d = np.where(phase, 1.0, net.slopes[k])
                mat = d[:, None] * a_mat
                const = d * alpha
            else:
                mat, const = a_mat, alpha
    return Maps(rows, mat, const)


def _highs() -> Any:
    highspy = importlib.import_module("highspy")  # no type stubs
    cls = getattr(getattr(highspy, "_core", None), "_Highs", None) or highspy.Highs
    h = cls()
    h.setOptionValue("output_flag", False)
    return h


def _solve_lp(
    setup: Setup, maps: Maps, norm: str, time_left: float
) -> tuple[FloatArray, float, list[FloatArray]] | None:
    """(z, optimum, row duals of each sign-row block), or None when HiGHS gives up."""
    n = setup.n
    q = maps.m.shape[0]
    nt = 1 if norm == "inf" else q
    h = _highs()
    if math.isfinite(time_left):
        h.setOptionValue("time_limit", max(time_left, 1e-3))
    lo = setup.lo if setup.lo is not None else np.full(n, -math.inf)
    hi = setup.hi if setup.hi is not None else np.full(n, math.inf)
    h.addVars(
        n + nt, np.concatenate([lo, np.zeros(nt)]), np.concatenate([hi, np.full(nt, math.inf)])
    )
    h.changeColsCost(nt, np.arange(n, n + nt, dtype=np.int32), np.ones(nt))
    blocks: list[FloatArray] = []
    lows: list[FloatArray] = []
    highs: list[FloatArray] = []
    sizes: list[int] = []
    for _, a_mat, alpha, phase in maps.rows:
        blocks.append(np.hstack([a_mat, np.zeros((a_mat.shape[0], nt))]))
        lows.append(np.where(phase, -alpha, -math.inf))
        highs.append(np.where(phase, math.inf, -alpha))
        sizes.append(a_mat.shape[0])
    rhs = setup.x - maps.c
    tcols = np.ones((q, 1)) if nt == 1 else np.eye(q)
    blocks.append(np.hstack([maps.m, -tcols]))  # M z - t <= x - c
    lows.append(np.full(q, -math.inf))
    highs.append(rhs)
    blocks.append(np.hstack([maps.m, tcols]))  # M z + t >= x - c
    lows.append(rhs)
    highs.append(np.full(q, math.inf))
    dense = np.vstack(blocks)
    if not np.all(np.isfinite(dense)):
        return None
    nz_r, nz_c = np.nonzero(dense)
    starts = np.searchsorted(nz_r, np.arange(dense.shape[0])).astype(np.int32)
    h.addRows(
        dense.shape[0],
        np.concatenate(lows),
        np.concatenate(highs),
        len(nz_c),
        starts,
        nz_c.astype(np.int32),
        dense[nz_r, nz_c].astype(np.float64),
    )
    h.run()
    if str(h.getModelStatus()).rsplit(".", 1)[-1] != "kOptimal":
        return None
    sol = h.getSolution()
    z = np.array(sol.col_value[:n], dtype=np.float64)
    duals = np.array(sol.row_dual, dtype=np.float64)
    out: list[FloatArray] = []
    pos = 0
    for s in sizes:
        out.append(duals[pos : pos + s])
        pos += s
    return z, float(h.getInfo().objective_function_value), out


@dataclass
class DescentStats:
    """Counters of :func:`lp_descent`: LPs solved and unit phases flipped."""

    solves: int = 0
    flips: int = 0


def lp_descent(
    setup: Setup,
    z0: FloatArray,
    dist0: float,
    norm: str,
    steps: int,
    clock: Budget,
    stats: DescentStats,
    distance: Any,
) -> tuple[FloatArray, float]:
    """The LP flip descent of the module docstring from ``z0``; (best point, its distance).

    ``distance`` maps a batch of latents to their true float distances.
    """
    pattern = pattern_of(setup, z0)
    best_z, best_d = z0, dist0
    last = math.inf
    for _ in range(steps):
        left = clock.left()
        if left <= 0:
            break
        maps = maps_of(setup, pattern)
        res = _solve_lp(setup, maps, norm, left)
        stats.solves += 1
        if res is None:
            break
        z, obj, duals = res
        if setup.lo is not None and setup.hi is not None:
            z = np.minimum(np.maximum(z, setup.lo), setup.hi)
        d = float(distance(z[None, :])[0])
        if d < best_d:
            best_z, best_d = z, d
        if d <= setup.delta and setup.delta > 0:
            break
        flipped = 0
        tol = DUAL_TOL * max(1.0, abs(obj))
        for (k, _, _, phase), du in zip(maps.rows, duals, strict=True):
            hit = np.abs(du) > tol
            if hit.any():
                new = phase.copy()
                new[hit] = ~new[hit]
                pattern[k] = new
                flipped += int(hit.sum())
        stats.flips += flipped
        if flipped == 0 or obj >= last * (1 - 1e-12):
            break
        last = obj
    return best_z, best_d


def gauss_newton(
    setup: Setup,
    z0: FloatArray,
    dist0: float,
    steps: int,
    clock: Budget,
    stats: DescentStats,
    distance: Any,
) -> tuple[FloatArray, float]:
    """The l_2 region steps of the module docstring; (best point, its distance)."""
    pattern = pattern_of(setup, z0)
    z = z0.copy()
    best_z, best_d = z0, dist0
    n = setup.n
    for _ in range(steps):
        if clock.expired():
            break
        maps = maps_of(setup, pattern)
        free = np.ones(n, dtype=bool)
        if setup.lo is not None and setup.hi is not None:
            free = (z > setup.lo) & (z < setup.hi)
        if not free.any():
            break
        target = setup.x - maps.c - maps.m[:, ~free] @ z[~free]
        sol, *_ = np.linalg.lstsq(maps.m[:, free], target, rcond=None)
        step = np.zeros(n)
        step[free] = sol - z[free]
        stats.solves += 1
        # the largest s in [0, 1] keeping every sign row and the box
        s_max, block = 1.0, None
        for k, a_mat, alpha, phase in maps.rows:
            now = a_mat @ z + alpha
            rate = a_mat @ step
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(
                    phase & (rate < 0),
                    -now / rate,
                    np.where(~phase & (rate > 0), -now / rate, np.inf),
                )
            ratio = np.where(np.isfinite(ratio), np.maximum(ratio, 0.0), np.inf)
            j = int(np.argmin(ratio))
            if ratio[j] < s_max:
                s_max, block = float(ratio[j]), (k, j)
        if setup.lo is not None and setup.hi is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                rb = np.where(
                    step > 0,
                    (setup.hi - z) / step,
                    np.where(step < 0, (setup.lo - z) / step, np.inf),
                )
            rb = np.where(np.isfinite(rb), np.maximum(rb, 0.0), np.inf)
            if rb.size and float(rb.min()) < s_max:
                s_max, block = float(rb.min()), None
        z = z + s_max * step
        if setup.lo is not None and setup.hi is not None:
            z = np.minimum(np.maximum(z, setup.lo), setup.hi)
        d = float(distance(z[None, :])[0])
        if d < best_d:
            best_z, best_d = z.copy(), d
        if s_max >= 1.0 or s_max <= 1e-12:
            break
        if block is not None:
            k, j = block
            ph = pattern[k]
            assert ph is not None
            ph = ph.copy()
            ph[j] = ~ph[j]
            pattern[k] = ph
            stats.flips += 1
    return best_z, best_d
