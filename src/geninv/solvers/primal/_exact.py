"""Exact polishing: from a float point to a rational witness, or nothing.

Candidates, in order (each screened by its float distance first, then exact-checked
with :meth:`InversionProblem.exact_check`, the only judge):

1. the float coordinates themselves (every float64 is a dyadic rational), clipped
   to the exact box;
2. coordinates within ``SNAP_REL`` of a box bound snapped onto it;
3. (piecewise-linear networks) the *exact projection*: under the activation
   pattern of the point, every pre-activation and output is an affine form in
   ``z`` with rational coefficients (the exact weights composed in
   :class:`fractions.Fraction`).  The constraints tight at the point -- box
   bounds, pre-activations at 0, outputs at ``x_j +- delta`` (p = inf), the sum
   ``sum_j s_j (G_j(z) - x_j) = delta`` (p = 1), outputs equal to the target
   (exact inversion) -- are selected greedily for linear independence in floats
   (at most n of them), built exactly, and solved by rational Gaussian
   elimination, the other coordinates keeping their float values;
4. the float point rounded to 12, 8 and 4 decimals (short witnesses).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from geninv.network import FloatArray
from geninv.solvers.primal._net import Setup, distances, forward, meets_float

#: Coordinates this close (relative) to a bound are snapped onto it.
SNAP_REL = 1e-9
#: A constraint is taken as tight within this (relative) distance.
TIGHT_REL = 1e-7
#: Fraction multiply-adds one exact projection may cost (beyond: skipped).
PROJECT_MAX_WORK = 2_000_000

_Row = list[Fraction]  # n coefficients then the constant


def _clip(v: Fraction, lo: Fraction | None, hi: Fraction | None) -> Fraction:
    if lo is not None and v < lo:
        return lo
    if hi is not None and v > hi:
        return hi
    return v


def to_fractions(setup: Setup, z: FloatArray) -> list[Fraction]:
    """The float point as exact Fractions, clipped to the exact box when there is one."""
    lo, hi = setup.lo_q, setup.hi_q
    return [
        _clip(Fraction(float(v)), lo[i] if lo else None, hi[i] if hi else None)
        for i, v in enumerate(z)
    ]


def candidates(setup: Setup, z: FloatArray, project: bool) -> Iterator[list[Fraction]]:
    """The candidates of the module docstring, best bets first."""
    raw = to_fractions(setup, z)
    yield raw
    if setup.corners is not None:
        return
    lo, hi = setup.lo_q, setup.hi_q
    if lo is not None and hi is not None:
        snapped = list(raw)
        for i, v in enumerate(z):
            tol = SNAP_REL * (1.0 + abs(float(v)))
            if abs(float(v) - float(lo[i])) <= tol:
                snapped[i] = lo[i]
            elif abs(float(v) - float(hi[i])) <= tol:
                snapped[i] = hi[i]
        if snapped != raw:
            yield snapped
    if project and setup.net.piecewise_linear:
        proj = project_exact(setup, z)
        if proj is not None:
            yield [
                _clip(v, lo[i] if lo else None, hi[i] if hi else None) for i, v in enumerate(proj)
            ]
    for digits in (12, 8, 4):
        scale = 10**digits
        yield [
            _clip(
                Fraction(round(v * scale), scale),
                lo[i] if lo else None,
                hi[i] if hi else None,
            )
            for i, v in enumerate(raw)
        ]


def screen(setup: Setup, z: list[Fraction]) -> bool:
    """Float pre-check of a rational candidate (the exact check decides)."""
    zf = np.array([float(v) for v in z], dtype=np.float64)
    out, _, _ = forward(setup.net, zf[None, :])
    return meets_float(setup, float(distances(setup, out)[0]), 1e-7)


def project_exact(setup: Setup, z: FloatArray) -> list[Fraction] | None:
    """The exact projection (item 3 of the module docstring), or None."""
    problem = setup.problem
    net = setup.net
    n = setup.n
    layers = problem.network.layers
    _, pres, posts = forward(net, z[None, :])
    # float affine forms of every unit under the point's pattern, and their magnitudes
    mat = np.eye(n)
    const = np.zeros(n)
    mag = np.abs(z)
    forms: list[FloatArray] = []  # per layer: (units, n + 1) float rows [coeffs | const]
    active: list[FloatArray] = []
    tight: list[tuple[FloatArray, tuple[str, int, int], Fraction]] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            a_mat = w @ mat
            alpha = w @ const + b
            amag = np.abs(w) @ mag + np.abs(b)
            forms.append(np.hstack([a_mat, alpha[:, None]]))
            kind = net.kinds[k]
            pre = pres[k][0]
            if kind in ("relu", "leaky"):
                d = np.where(pre > 0, 1.0, net.slopes[k])
                for j in np.nonzero(np.abs(pre) <= TIGHT_REL * (1.0 + amag))[0]:
                    tight.append((a_mat[j], ("unit", k, int(j)), Fraction(0)))
            else:
                d = np.ones_like(pre)
            active.append(d)
            mat, const, mag = d[:, None] * a_mat, d * alpha, amag
    if not np.all(np.isfinite(mat)):
        return None
    eqs: list[tuple[FloatArray, tuple[str, int, int], Fraction]] = []
    lo, hi = setup.lo_q, setup.hi_q
    if lo is not None and hi is not None:
        for i in range(n):
            tol = TIGHT_REL * (1.0 + abs(float(z[i])))
            e = np.zeros(n)
            e[i] = 1.0
            if abs(float(z[i]) - float(lo[i])) <= tol:
                eqs.append((e, ("z", i, 0), lo[i]))
            elif abs(float(z[i]) - float(hi[i])) <= tol:
                eqs.append((e, ("z", i, 0), hi[i]))
    eqs += tight
    out = posts[-1][0]
    res = out - setup.x
    x = problem.target
    last = len(layers) - 1
    delta = Fraction(0) if problem.is_exact_inversion else problem.threshold
    out_tol = TIGHT_REL * setup.scale
    out_rows = [mat[j] for j in range(len(out))]
    # output forms are those of the last layer's pre-activations times its slopes
    if problem.is_exact_inversion:
        for j in np.argsort(-np.abs(res)):
            eqs.append((out_rows[j], ("out", int(j), 0), x[j]))
    elif math.isinf(setup.p):
        for j in np.nonzero(np.abs(res) >= setup.delta - out_tol)[0]:
            s = 1 if res[j] >= 0 else -1
            eqs.append((out_rows[j], ("out", int(j), 0), x[j] + s * delta))
    elif setup.p == 1 and abs(float(np.abs(res).sum()) - setup.delta) <= out_tol:
        signs = np.sign(res)
        vec = signs @ mat
        eqs.append((vec, ("sum", 0, 0), delta))
    if not eqs:
        return None
    chosen = _independent(eqs, n)
    work = len(chosen) * n * sum(w.shape[1] for w in net.weights)
    work += n * sum(w.shape[0] * w.shape[1] for w in net.weights[:-1])
    if work > PROJECT_MAX_WORK or not chosen:
        return None
    builder = _ExactForms(setup, active)
    rows: list[_Row] = []
    for _, key, rhs in chosen:
        what, i1, i2 = key
        if what == "z":
            row = [Fraction(0)] * n + [-rhs]
            row[i1] = Fraction(1)
        elif what == "unit":
            row = builder.pre(i1, i2)
            row = [*row[:n], row[n] - rhs]
        elif what == "out":
            row = builder.full(builder.post(last, i1))
            row = [*row[:n], row[n] - rhs]
        else:  # the l_1 sum
            row = [Fraction(0)] * (n + 1)
            for jo in range(len(res)):
                sg = 1 if res[jo] > 0 else (-1 if res[jo] < 0 else 0)
                if sg:
                    pj = builder.full(builder.post(last, jo))
                    row = [r + sg * v for r, v in zip(row, pj, strict=True)]
                    row[n] -= sg * x[jo]
            row[n] -= rhs
        rows.append(row)
    z0 = [Fraction(float(v)) for v in z]
    return solve_fixing(rows, z0)


def _independent(
    eqs: list[tuple[FloatArray, tuple[str, int, int], Fraction]], n: int
) -> list[tuple[FloatArray, tuple[str, int, int], Fraction]]:
    """A greedy, linearly independent (in floats) subset of at most n equations."""
    basis: list[FloatArray] = []
    out = []
    for e in eqs:
        v = np.array(e[0], dtype=np.float64)
        norm0 = float(np.linalg.norm(v))
        if norm0 == 0 or not math.isfinite(norm0):
            continue
        for u in basis:
            v = v - (u @ v) * u
        norm = float(np.linalg.norm(v))
        if norm > 1e-9 * norm0:
            basis.append(v / norm)
            out.append(e)
            if len(out) == n:
                break
    return out


class _ExactForms:
    """Affine forms ``coeffs . z + const`` of the units, in Fractions, built on demand."""

    def __init__(self, setup: Setup, active: list[FloatArray]) -> None:
        self.n = setup.n
        self.layers = setup.problem.network.layers
        self.active = active
        self.slopes = [la.negative_slope for la in self.layers]
        self.memo: dict[tuple[int, int], _Row] = {}

    def pre(self, k: int, j: int) -> _Row:
        hit = self.memo.get((k, j))
        if hit is not None:
            return hit
        n = self.n
        layer = self.layers[k]
        idx, coef = layer.exact_rows_at([j])[0]
        bias = layer.exact_bias_values()[j]
        row = [Fraction(0)] * n + [bias]
        if k == 0:
            for i, c in zip(idx, coef, strict=True):
                row[i] += c
        else:
            for i, c in zip(idx, coef, strict=True):
                prev = self.post(k - 1, i)
                if prev is _ZERO_ROW:
                    continue
                for t, v in enumerate(prev):
                    if v:
                        row[t] += c * v
        self.memo[(k, j)] = row
        return row

    def full(self, row: _Row) -> _Row:
        return row if row is not _ZERO_ROW else [Fraction(0)] * (self.n + 1)

    def post(self, k: int, j: int) -> _Row:
        d = self.active[k][j]
        if d == 1.0:
            return self.pre(k, j)
        act = self.layers[k].activation
        slope = self.slopes[k] if act == "leaky_relu" else Fraction(0)
        if slope == 0:
            return _ZERO_ROW
        return [slope * v for v in self.pre(k, j)]


_ZERO_ROW: _Row = []


def solve_fixing(rows: list[_Row], z0: list[Fraction]) -> list[Fraction] | None:
    """A solution of ``row[:n] . z + row[n] = 0`` for every row (rational Gaussian
    elimination); coordinates that are no pivot keep their ``z0`` value.  None when
    the rows are inconsistent."""
    n = len(z0)
    pivots: list[tuple[_Row, int]] = []
    for r in rows:
        row = list(r) if r is not _ZERO_ROW else [Fraction(0)] * (n + 1)
        for prow, pc in pivots:
            f = row[pc]
            if f:
                row = [a - f * b for a, b in zip(row, prow, strict=True)]
        col = max(range(n), key=lambda i: abs(row[i])) if n else 0
        if n == 0 or row[col] == 0:
            if row[n] != 0:
                return None
            continue
        piv = row[col]
        row = [a / piv for a in row]
        pivots = [
            ([a - prow[col] * b for a, b in zip(prow, row, strict=True)], pc)
            if prow[col]
            else (prow, pc)
            for prow, pc in pivots
        ]
        pivots.append((row, col))
    z = list(z0)
    cols = {pc for _, pc in pivots}
    for prow, pc in pivots:
        z[pc] = -prow[n] - sum(
            (prow[i] * z0[i] for i in range(n) if i not in cols and prow[i]), Fraction(0)
        )
    return z
