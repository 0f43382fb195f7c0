"""bab for real latents without a bounding box: phase splitting with Farkas leaves.

With ``z`` free there is no box to split and no interval bound on any
pre-activation, so the search splits ReLU phases only.  A node fixes some units
active (``a = h``, ``h >= 0``) or inactive (``a = alpha h``, ``h <= 0``); an
unfixed unit is relaxed by the convex hull of the graph of ``f`` over the whole
line (``a >= h``, ``a >= alpha h``; for ``alpha > 1`` the mirror), so a node whose
units are all fixed is exact.  Columns: ``z`` (free), ``a^l`` (bounded only by
the sign its state gives), the l_1 auxiliaries ``t`` and the distance ``s``; the
row names and the variable box are those of :mod:`geninv.proofcheck_free`.

The node LP (HiGHS, floats) minimises ``s``.  When ``s* > delta`` (or the LP is
infeasible) its dual (or dual ray) ``y`` *proposes* a Farkas certificate, but a
float ``y`` never cancels the free columns exactly, so it is **repaired in
exact rationals**: on the support of ``y`` (rows with ``y_i > 0``), the
correction ``d`` of :func:`_solve_sparse` makes the combination exactly zero on
every free column (and on every half-line column whose sign is wrong); its
pivots are the largest multipliers, so ``y + d`` stays nonnegative unless the
float dual was poor.  For a tie (``s* = delta``, relation ``<``) the repair
also zeroes the combination on every basic column and normalises the ``s``
column, which is the exact dual of the LP's basis.  A repaired ``y`` is a leaf
only when the independent checker (:class:`geninv.proofcheck_free.FreeChecker`)
accepts it; otherwise the node is split further, and a node with every unit
fixed that is neither refuted nor solved ends the search as ``unknown``.

Witnesses: the LP point's latent (and rational roundings), then the exact
vertex of the LP's basis (nonbasic rows and columns at their bounds, solved in
Fractions); every candidate is re-checked by
:meth:`InversionProblem.exact_check`.  For integer p >= 2 an LP point outside
the l_p ball adds a supporting cut (global; checked by the checker).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.problem import InversionProblem
from geninv.proofcheck_free import FreeChecker

Fixed = dict[tuple[int, int], int]
#: significant bits kept of a float multiplier before the exact repair
BITS = 40
#: multipliers below this share of the largest are dropped from the support
SUPPORT_TOL = 1e-11
#: a half-line column whose combined coefficient is below this share of its gross sum
#: is taken for float cancellation and forced to exactly zero
CANCEL = 1e-9
MAX_CUT_ROUNDS = 8
#: cut rounds at a node with every unit fixed (it cannot be split: only cuts help)
MAX_CUT_ROUNDS_LEAF = 60
MAX_CUTS = 500


def _frac(v: float) -> Fraction:
    if v == 0:
        return Fraction(0)
    m, e = math.frexp(v)
    return Fraction(round(m * 2**BITS)) * Fraction(2) ** (e - BITS)


@dataclass
class Row:
    """``sum coef[c] v_c + s_coef s >= beta`` (exact), with float copies for the LP."""

    name: str
    coef: dict[int, Fraction]
    s_coef: Fraction
    beta: Fraction

    @property
    def fcoef(self) -> dict[int, float]:
        """``|coef|`` in floats (cached)."""
        cached: dict[int, float] | None = self.__dict__.get("_fcoef")
        if cached is None:
            cached = {c: abs(float(v)) for c, v in self.coef.items()}
            self.__dict__["_fcoef"] = cached
        return cached

    def floats(self) -> tuple[list[int], list[float], float, float]:
        """The row for the LP: columns (sorted), their coefficients, the coefficient of ``s`` and
        ``beta``, all as floats."""
        cols = sorted(self.coef)
        return cols, [float(self.coef[c]) for c in cols], float(self.s_coef), float(self.beta)


def _solve_sparse(
    eqs: list[tuple[dict[int, Fraction], Fraction]],
    priority: dict[int, int],
    guess: list[Fraction] | None = None,
) -> dict[int, Fraction] | None:
    """A solution of the sparse system ``sum_k row[k] d_k = rhs`` (exact; unknowns not
    chosen as pivots are 0, or ``guess[k]``; pivots by ``priority``, lower first), None
    if inconsistent."""
    pivots: list[tuple[int, dict[int, Fraction], Fraction]] = []
    for row0, r0 in eqs:
        row, r = dict(row0), r0
        for pv, prow, prhs in pivots:
            c = row.get(pv)
            if c:
                for k, v in prow.items():
                    nv = row.get(k, 0) - c * v
                    if nv:
                        row[k] = nv
                    else:
                        row.pop(k, None)
                r -= c * prhs
        if not row:
            if r:
                return None
            continue
        pv = min(row, key=lambda k: priority.get(k, 1 << 60))
        c = row[pv]
        pivots.append((pv, {k: v / c for k, v in row.items()}, r / c))
    d: dict[int, Fraction] = {}
    if guess is not None:
        pv_set = {pv for pv, _, _ in pivots}
        d = {k: g for k, g in enumerate(guess) if k not in pv_set}
    for pv, prow, prhs in reversed(pivots):
        d[pv] = prhs - sum((v * d.get(k, 0) for k, v in prow.items() if k != pv), Fraction(0))
    return d


class FreeModel:
    """Columns, exact rows and variable boxes of the free problem."""

    def __init__(
        self, problem: InversionProblem, delta: Fraction, mode: str, l1: Fraction | None
    ) -> None:
        net = problem.network
        self.problem, self.delta, self.mode, self.l1 = problem, delta, mode, l1
        self.n, self.q, self.depth = problem.n, net.n_outputs, len(net.layers)
        self.acts: list[tuple[str, Fraction]] = []
        self.off: list[int] = [0]  # off[l]: first column of a^l (off[0]: z)
        ncol = self.n
        self.units: list[tuple[int, int]] = []
        self.unit_rows: dict[tuple[int, int, str], Row] = {}
        for li, layer in enumerate(net.layers, start=1):
            alpha = Fraction(0) if layer.activation == "relu" else Fraction(layer.negative_slope)
            self.acts.append((layer.activation, alpha))
            self.off.append(ncol)
            rows, bias = layer.exact_rows(), layer.exact_bias_values()
            for j, (idx, val) in enumerate(rows):
                self.units.append((li, j))
                one, zero = Fraction(1), Fraction(0)
                specs = {
                    "ge": (-one, one),
                    "le": (one, -one),
                    "sge": (-alpha, one),
                    "sle": (alpha, -one),
                    "on": (one, zero),
                    "off": (-one, zero),
                }
                for kind, (sg, kp) in specs.items():
                    coef = {self.off[li - 1] + k: sg * w for k, w in zip(idx, val, strict=True)}
                    if kp:
                        coef[ncol + j] = kp
                    coef = {c: v for c, v in coef.items() if v}
                    name = f"L{li}.{j}.{kind}"
                    self.unit_rows[(li, j, kind)] = Row(name, coef, Fraction(0), -sg * bias[j])
            ncol += len(rows)
        out = self.off[self.depth]
        x = problem.target
        self.tcol = ncol
        if mode != "inf":
            ncol += self.q
        self.ncol = ncol  # s is substituted; the LP adds it as column ncol
        one = Fraction(1)
        tr: list[Row] = []
        for j in range(self.q):
            tr.append(Row(f"T{j}.lo", {out + j: one}, one, x[j]))
            tr.append(Row(f"T{j}.hi", {out + j: -one}, one, -x[j]))
        if mode != "inf":
            assert l1 is not None and delta > 0
            for j in range(self.q):
                tr.append(Row(f"T{j}.tp", {self.tcol + j: one, out + j: -one}, Fraction(0), -x[j]))
                tr.append(Row(f"T{j}.tn", {self.tcol + j: one, out + j: one}, Fraction(0), x[j]))
            tsum = {self.tcol + j: -one for j in range(self.q)}
            tr.append(Row("T.sum", tsum, l1 / delta, Fraction(0)))
        self.target_rows = tr
        self.cut_rows: list[Row] = []
        self.scales = column_scales(self)

    def add_cut(self, k: int, c: list[Fraction], r: Fraction) -> None:
        """Cut ``k``: ``-c . a^L + (r / delta) s >= -c . x``."""
        out = self.off[self.depth]
        coef = {out + j: -cj for j, cj in enumerate(c) if cj}
        beta = -sum((cj * xj for cj, xj in zip(c, self.problem.target, strict=True)), Fraction(0))
        self.cut_rows.append(Row(f"C{k}", coef, r / self.delta, beta))

    def rows(self, fixed: Fixed) -> list[Row]:
        """The unit rows of a node with phases ``fixed`` (by each unit's state, named as the
        checker names them), then the target rows and the cuts."""
        out: list[Row] = []
        for li, j in self.units:
            act, alpha = self.acts[li - 1]
            ph = fixed.get((li, j))
            if act == "identity":
                kinds: tuple[str, ...] = ("ge", "le")
            elif ph == 1:
                kinds = ("ge", "le", "on")
            elif ph == 0:
                kinds = ("sge", "sle", "off")
            elif alpha == 0:
                kinds = ("ge",)  # a >= 0 is the column's bound
            else:
                kinds = ("ge", "sge") if alpha <= 1 else ("le", "sle")
            out.extend(self.unit_rows[(li, j, k)] for k in kinds)
        return out + self.target_rows + self.cut_rows

    def col_box(self, fixed: Fixed) -> tuple[list[float], list[float]]:
        """The variable box (floats, +-inf where unbounded; t in [0, inf))."""
        lo, hi = [-math.inf] * self.n, [math.inf] * self.n
        for li, j in self.units:
            act, alpha = self.acts[li - 1]
            ph = fixed.get((li, j))
            if act == "identity":
                b = (-math.inf, math.inf)
            elif alpha == 0:
                b = (0.0, 0.0 if ph == 0 else math.inf)
            elif ph == 1:
                b = (0.0, math.inf)
            elif ph == 0:
                b = (-math.inf, 0.0)
            else:
                b = (-math.inf, math.inf)
            lo.append(b[0])
            hi.append(b[1])
        if self.mode != "inf":
            lo += [0.0] * self.q
            hi += [math.inf] * self.q
        return lo, hi


@dataclass
class LPResult:
    """One node LP's outcome: ``status`` (optimal, infeasible, other), the optimum ``value``, the
    column values ``v`` (``s`` last), candidate multipliers ``y`` per row (dual, or both signs
    of the ray), the ``rows`` and the optimal ``basis``."""

    status: str  # "optimal", "infeasible", "other"
    value: float
    v: np.ndarray[Any, Any] | None  # column values (s last)
    y: list[np.ndarray[Any, Any]]  # candidate multipliers per row (dual, or both ray signs)
    rows: list[Row]
    basis: tuple[list[Any], list[Any]] | None


def _pow2(v: float) -> float:
    return 2.0 ** round(math.log2(v)) if v > 0 and math.isfinite(v) else 1.0


def column_scales(model: FreeModel) -> np.ndarray[Any, Any]:
    """Powers of two per column (s last) near the magnitude of each column's values:
    ``z`` 1; ``a^l`` the largest ``|h^l_j|`` at ``z = 0`` (the biases carried
    forward; the previous scale when all are 0); the output layer also
    the target's; ``t`` and ``s`` delta's (the output's for exact inversion).  The LP
    is solved in these columns and in rows divided by their largest scaled
    coefficient, so HiGHS's absolute tolerances fit weights and thresholds from 1e-6
    to 1e6 alike.  Only the float LP sees the scaling; every multiplier is
    re-derived exactly."""
    net = model.problem.network
    a = np.zeros((1, model.n))
    scales = [1.0] * model.n
    c = 1.0
    x = model.problem.target_array()
    for k, layer in enumerate(net.layers):
        h = a @ np.asarray(layer.weight).T + np.asarray(layer.bias)
        top = float(np.max(np.abs(h), initial=0.0))
        if k == len(net.layers) - 1:
            top = max(top, float(np.max(np.abs(x), initial=0.0)))
        c = _pow2(top) if top > 0 else c
        scales += [c] * layer.weight.shape[0]
        if layer.activation == "identity":
            a = h
        else:
            a = np.where(h >= 0, h, float(layer.negative_slope) * h)
    cs = _pow2(float(model.delta)) if model.delta > 0 else c
    if model.mode != "inf":
        scales += [cs] * model.q
    return np.array([*scales, cs])


def _feasible(
    rows: list[Row], lo: list[float], hi: list[float], v: np.ndarray[Any, Any], s_col: int
) -> bool:
    """Whether the (unscaled) LP point satisfies every row and bound to 1e-7 of its
    magnitude: a scaled solve can hide a violation below HiGHS's absolute tolerance."""
    for c, (lc, hc) in enumerate(zip(lo, hi, strict=True)):
        if not lc - 1e-7 * (1 + abs(lc)) <= v[c] <= hc + 1e-7 * (1 + abs(hc)):
            return False
    for r in rows:
        cols, vals, sc, beta = r.floats()
        terms = np.array(vals) * v[cols] if cols else np.zeros(0)
        act = float(terms.sum()) + sc * float(v[s_col])
        size = float(np.abs(terms).sum()) + abs(sc * float(v[s_col])) + abs(beta)
        if act < beta - 1e-7 * size:
            return False
    return True


def solve_lp(
    model: FreeModel, fixed: Fixed, scaled: bool = True, elastic: bool = False
) -> LPResult:
    """The node LP (min s).  ``elastic``: s fixed at delta and one more column
    ``e >= 0`` added to every (scaled) row, min e -- always feasible; when its optimum
    is positive the node is empty and its duals are Farkas multipliers (for an
    infeasible LP whose dual ray HiGHS does not give)."""
    hs = importlib.import_module("highspy")
    rows = model.rows(fixed)
    lo, hi = model.col_box(fixed)
    ncol = model.ncol + 1
    cs = model.scales if scaled else np.ones(ncol)
    h = hs.Highs()
    h.setOptionValue("output_flag", False)
    s_lo = float(model.delta) if elastic else 0.0
    s_hi = float(model.delta) if elastic else math.inf
    h.addVars(ncol, np.array([*lo, s_lo]) / cs, np.array([*hi, s_hi]) / cs)
    e_col = ncol
    if elastic:
        h.addVars(1, np.array([0.0]), np.array([math.inf]))
    starts: list[int] = []
    idx: list[int] = []
    val: list[float] = []
    rlo: list[float] = []
    rscale: list[float] = []
    for r in rows:
        cols, vals, sc, beta = r.floats()
        if sc:
            cols, vals = [*cols, model.ncol], [*vals, sc]
        sv = np.array(vals) * cs[cols]
        rs = _pow2(float(np.max(np.abs(sv), initial=0.0)))
        starts.append(len(idx))
        idx.extend(cols)
        val.extend((sv / rs).tolist())
        if elastic:
            idx.append(e_col)
            val.append(1.0)
        rlo.append(beta / rs)
        rscale.append(rs)
    nr = len(rows)
    h.addRows(
        nr,
        np.array(rlo),
        np.full(nr, math.inf),
        len(idx),
        np.array(starts, dtype=np.int32),
        np.array(idx, dtype=np.int32),
        np.array(val, dtype=np.float64),
    )
    obj = e_col if elastic else model.ncol
    h.changeColsCost(1, np.array([obj], dtype=np.int32), np.array([1.0]))
    h.run()
    status = str(h.getModelStatus()).split(".")[-1]
    back = cs[-1] / np.array(rscale)  # scaled duals -> multipliers of the original rows
    if elastic:
        if status != "kOptimal":
            return LPResult("other", -math.inf, None, [], rows, None)
        sol = h.getSolution()
        duals = np.array(sol.row_dual)
        if not float(sol.col_value[e_col]) > 0 or len(duals) != nr:
            return LPResult("other", -math.inf, None, [], rows, None)
        return LPResult("infeasible", math.inf, None, [np.maximum(duals, 0.0) * back], rows, None)
    if status == "kOptimal":
        sol = h.getSolution()
        v = np.array(sol.col_value) * cs
        if scaled and not _feasible(rows, lo, hi, v, model.ncol):
            # the scaled solve hid a violation: HiGHS's own scaling, when that does better
            alt = solve_lp(model, fixed, scaled=False)
            if alt.v is None or _feasible(rows, lo, hi, alt.v, model.ncol):
                return alt
            for sc in (True, False):  # neither point is feasible: the elastic LP
                ela = solve_lp(model, fixed, scaled=sc, elastic=True)
                if ela.status == "infeasible":
                    return ela
        duals = np.array(sol.row_dual)
        hb = h.getBasis()
        basis = (list(hb.col_status), list(hb.row_status)) if hb.valid else None
        ys = [np.maximum(duals, 0.0) * back] if len(duals) == nr else []
        return LPResult("optimal", float(v[-1]), v, ys, rows, basis)
    if status == "kInfeasible":
        _, has, ray = h.getDualRay()
        ys = []
        if has:
            ray = np.asarray(ray, dtype=np.float64) * back
            ys = [np.maximum(ray, 0.0), np.maximum(-ray, 0.0)]
        return LPResult("infeasible", math.inf, None, ys, rows, None)
    return LPResult("other", -math.inf, None, [], rows, None)


class Repair:
    """Exact Farkas multipliers from a float dual (module docstring)."""

    def __init__(self, model: FreeModel, checker: FreeChecker) -> None:
        self.model, self.checker = model, checker

    def _kinds(self, fixed: Fixed) -> dict[int, str]:
        """Per column: 'zero' (free), 'le' (must be <= 0), 'ge' (>= 0), absent: any."""
        lo, hi = self.model.col_box(fixed)
        out: dict[int, str] = {}
        for c in range(self.model.tcol):
            if math.isinf(lo[c]) and math.isinf(hi[c]):
                out[c] = "zero"
            elif math.isinf(hi[c]):
                out[c] = "le"
            elif math.isinf(lo[c]):
                out[c] = "ge"
        return out

    def run(
        self,
        fixed: Fixed,
        rows: list[Row],
        yf: np.ndarray[Any, Any],
        basic: set[int] | None = None,
    ) -> dict[str, Fraction] | None:
        """Exact multipliers, by row name, from the float dual ``yf``: Fractions adjusted until
        every column that must cancel does, then checked by the exact leaf check; None when
        that fails (never unchecked multipliers)."""
        top = float(np.max(yf, initial=0.0))
        if not top > 0:
            return None
        support = [i for i in range(len(rows)) if yf[i] > SUPPORT_TOL * top]
        y = {i: _frac(float(yf[i])) for i in support}
        kinds = self._kinds(fixed)
        must_set: set[int] = set()  # grows: a column once forced to zero stays so
        for _ in range(8):
            g: dict[int, Fraction] = {}
            gross: dict[int, float] = {}  # sum |y_i r_ic|: a g_c far below it is cancellation
            for i, yi in y.items():
                fy = abs(float(yi))
                for c, v in rows[i].coef.items():
                    g[c] = g.get(c, Fraction(0)) + yi * v
                for c, fv in rows[i].fcoef.items():
                    gross[c] = gross.get(c, 0.0) + fy * fv
            for c, gc in g.items():
                kind = kinds.get(c)
                small = abs(float(gc)) <= CANCEL * gross[c]
                if (
                    kind == "zero"
                    or (basic is not None and c in basic)
                    or (kind == "le" and (gc > 0 or small))
                    or (kind == "ge" and (gc < 0 or small))
                ):
                    must_set.add(c)
            must = sorted(must_set)
            eqs = [
                ({i: rows[i].coef[c] for i in y if c in rows[i].coef}, -g.get(c, Fraction(0)))
                for c in must
            ]
            if basic is not None:  # the s column: sum y_i s_coef_i = 1 (the LP's objective)
                sig = sum((yi * rows[i].s_coef for i, yi in y.items()), Fraction(0))
                eqs.append(({i: rows[i].s_coef for i in y if rows[i].s_coef}, 1 - sig))
            if all(r == 0 for _, r in eqs):
                break
            order = sorted(y, key=lambda i: -y[i])
            d = _solve_sparse(eqs, {i: k for k, i in enumerate(order)})
            if d is None:
                return None
            for i, di in d.items():
                y[i] += di
            neg = [i for i, yi in y.items() if yi < 0]
            for i in neg:
                del y[i]
            if not y:
                return None
        named: dict[str, Fraction] = {}
        for i, yi in y.items():
            if yi:
                named[rows[i].name] = named.get(rows[i].name, Fraction(0)) + yi
        return named if self.checker.refutes(fixed, named) else None


def exact_points(model: FreeModel, lp: LPResult, fixed: Fixed) -> list[list[Fraction]]:
    """Exact candidate latents near the LP point: its basic solution solved exactly
    (:func:`exact_vertex`), and a solution of every row tight at the float point
    (slack within 1e-9 of the row's magnitude) with the other unknowns at the LP's
    values -- at a degenerate vertex (exact inversion through tiny weights) the
    basis may pick rows that the exact point does not satisfy."""
    out = []
    z = exact_vertex(model, lp, fixed)
    if z is not None:
        out.append(z)
    if lp.v is None:
        return out
    v = lp.v
    eqs: list[tuple[dict[int, Fraction], Fraction]] = []
    for r in lp.rows:
        cols, vals, sc, beta = r.floats()
        terms = np.array(vals) * v[cols] if cols else np.zeros(0)
        act = float(terms.sum()) + sc * float(v[-1])
        size = float(np.abs(terms).sum()) + abs(sc * float(v[-1])) + abs(beta)
        if abs(act - beta) <= 1e-9 * size:
            coef = dict(r.coef)
            if r.s_coef:
                coef[model.ncol] = r.s_coef
            eqs.append((coef, r.beta))
    guess = [Fraction(float(t)) for t in v]
    sol = _solve_sparse(eqs, {c: c for c in range(len(guess))}, guess)
    if sol is not None:
        out.append([sol[i] for i in range(model.n)])
    return out


def exact_vertex(model: FreeModel, lp: LPResult, fixed: Fixed) -> list[Fraction] | None:
    """The latent of the LP's basic solution, solved exactly: every nonbasic column
    at its bound, every nonbasic row at its right side (a ``>=`` row's only bound)."""
    if lp.basis is None or lp.v is None:
        return None
    hs = importlib.import_module("highspy")
    basic = hs.HighsBasisStatus.kBasic
    cols, rstat = lp.basis
    lo, hi = model.col_box(fixed)
    lo, hi = [*lo, 0.0], [*hi, math.inf]
    s = model.ncol
    eqs: list[tuple[dict[int, Fraction], Fraction]] = []
    for c, st in enumerate(cols):
        if st != basic:
            b = lo[c] if math.isfinite(lo[c]) else hi[c] if math.isfinite(hi[c]) else 0.0
            eqs.append(({c: Fraction(1)}, Fraction(b)))
    for r, st in zip(lp.rows, rstat, strict=True):
        if st != basic:
            coef = dict(r.coef)
            if r.s_coef:
                coef[s] = r.s_coef
            eqs.append((coef, r.beta))
    sol = _solve_sparse(eqs, {})
    if sol is None:
        return None
    return [sol.get(i, Fraction(0)) for i in range(model.n)]


Finder = Callable[[InversionProblem, float], Any]
