"""Exact witness candidates on a node where the network is affine.

Floats rarely hit a witness that sits exactly on the threshold (a tie, or an
exact inversion whose preimage is a rational with a long denominator).  On a
node whose units are all stable (no phase changes inside its box) ``G`` is
affine there, ``G(z) = A z + c``, with ``A`` and ``c`` obtained exactly from
``n + 1`` exact evaluations.  Candidates, each re-checked exactly by the
caller (so a wrong guess costs time, never soundness):

* exact inversion: a solution of ``A z = x - c`` by exact Gaussian elimination
  (free coordinates at the LP point);
* one latent, ``delta > 0``: every ``z`` with ``G_j(z) - x_j`` in
  ``{0, delta, -delta}`` (where a minimum of ||G(z) - x||_p, p = 1 or inf,
  sits when it equals delta), inside the box.
"""

from __future__ import annotations

from fractions import Fraction

from geninv.problem import InversionProblem


def _affine(
    problem: InversionProblem, box: list[tuple[Fraction, Fraction]]
) -> tuple[list[list[Fraction]], list[Fraction]] | None:
    net = problem.network
    base = [lo for lo, _ in box]
    g0 = net.forward_exact(base)
    cols: list[list[Fraction]] = []
    for i, (lo, hi) in enumerate(box):
        if hi == lo:
            cols.append([Fraction(0)] * len(g0))
            continue
        pt = list(base)
        pt[i] = hi
        gi = net.forward_exact(pt)
        cols.append([(b - a) / (hi - lo) for a, b in zip(g0, gi, strict=True)])
    a = [[cols[i][j] for i in range(len(box))] for j in range(len(g0))]
    c = [
        g0[j] - sum((a[j][i] * base[i] for i in range(len(box))), Fraction(0))
        for j in range(len(g0))
    ]
    return a, c


def _solve(
    a: list[list[Fraction]], rhs: list[Fraction], guess: list[Fraction]
) -> list[Fraction] | None:
    """A solution of a z = rhs (free unknowns at ``guess``), or None if inconsistent."""
    m, n = len(a), len(guess)
    rows = [[*r, b] for r, b in zip(a, rhs, strict=True)]
    piv: list[int] = []
    r = 0
    for col in range(n):
        k = next((i for i in range(r, m) if rows[i][col] != 0), None)
        if k is None:
            continue
        rows[r], rows[k] = rows[k], rows[r]
        pv = rows[r][col]
        rows[r] = [v / pv for v in rows[r]]
        for i in range(m):
            if i != r and rows[i][col] != 0:
                f = rows[i][col]
                rows[i] = [u - f * v for u, v in zip(rows[i], rows[r], strict=True)]
        piv.append(col)
        r += 1
        if r == m:
            break
    if any(all(v == 0 for v in row[:n]) and row[n] != 0 for row in rows):
        return None
    z = list(guess)
    free = [c for c in range(n) if c not in piv]
    for i, col in enumerate(piv):
        z[col] = rows[i][n] - sum((rows[i][f] * z[f] for f in free), Fraction(0))
    return z


def candidates(
    problem: InversionProblem, box: list[tuple[Fraction, Fraction]], guess: list[Fraction]
) -> list[list[Fraction]]:
    """Exact witness candidates on ``box`` where ``G`` is affine (module docstring), each to be
    re-checked exactly by the caller; empty when ``G`` is not affine there."""
    aff = _affine(problem, box)
    if aff is None:
        return []
    a, c = aff
    x = problem.target
    out: list[list[Fraction]] = []
    if problem.is_exact_inversion:
        z = _solve(a, [xj - cj for xj, cj in zip(x, c, strict=True)], guess)
        if z is not None:
            out.append(z)
    elif problem.n == 1:
        lo, hi = box[0]
        for j in range(len(x)):
            if a[j][0] == 0:
                continue
            for e in (Fraction(0), problem.threshold, -problem.threshold):
                z0 = (x[j] + e - c[j]) / a[j][0]
                if lo <= z0 <= hi:
                    out.append([z0])
    return [z for z in out if all(lo <= v <= hi for v, (lo, hi) in zip(z, box, strict=True))]
