"""The node LP of the bab search: the triangle relaxation of one node, in floats.

Columns: the latents ``z`` (the node's box), the post-activations ``a^l`` of
every layer (box ``[f(lo), f(hi)]`` from the node's float bounds), for p < inf
the l_1 auxiliaries ``t_j`` (``t_j >= 0``; the checker's box ``[0, D]`` is
tighter), and the distance ``s >= 0``.  Rows
are *named* exactly as the proof checker (:mod:`geninv.proofcheck`) names its
rows, each ``r . v >= beta``:

* per unit, by its state at this node (``h = W a^{l-1} + b``): identity
  ``ge``/``le`` (``a = h``); active (fixed, or ``lo >= 0``) ``ge``/``le`` and
  ``on`` if fixed; inactive ``sge``/``sle`` (``a = alpha h``) and ``off`` if
  fixed; unstable: ``ge``, ``sge`` and the upper ``chord`` (slope ``alpha > 1``:
  ``le``, ``sle`` and the lower chord);
* target rows ``T{j}.lo``/``T{j}.hi`` (``|a^L_j - x_j| <= s``), for finite p
  the rows ``T{j}.tp``/``T{j}.tn`` (``t_j >= |a^L_j - x_j|``) and ``T.sum``
  (``sum t <= (D / delta) s``), and the global cuts ``C{k}``
  (``c . (a^L - x) <= (r / delta) s``).  At ``s = delta`` these are the
  checker's rows.

The LP minimises ``s``: its optimum ``s*`` is a lower bound of the node's
(relaxed) distance.  With row duals ``y >= 0`` and ``sigma = sum_i y_i
(coefficient of s in row i) <= 1`` (dual feasibility), LP duality gives
``y . beta(0) + min_box(-(sum y r) . v) = s*``, and the checker's right sides
are ``beta(delta) = beta(0) - delta (coefficient of s)``; so its test
``y . beta(delta) > max_box (sum y r) . v`` reads ``s* - sigma delta > 0``,
true whenever ``s* > delta`` (up to float error, which the exact check
settles).  An infeasible LP gives its dual ray instead.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geninv.budget import Budget
from geninv.network import FloatArray
from geninv.solvers.bab.lprows import Rows

#: kInfeasible and friends, by name
_INFEASIBLE = ("kInfeasible",)


@dataclass
class LayerData:
    """One layer in floats for the node LP: ``weight``, ``bias``, activation ``kind`` and its
    slope ``alpha`` below 0."""

    weight: FloatArray
    bias: FloatArray
    kind: str  # relu, leaky_relu or identity
    alpha: float


@dataclass
class Setup:
    """What every node LP shares: the network in floats, target, threshold, norm mode."""

    layers: list[LayerData]
    n: int
    x: FloatArray
    delta: float
    mode: str  # "inf" (p = inf or exact inversion), "l1" (p = 1), "lp" (integer p >= 2)
    l1: float  # D of T.sum (delta for p = 1, the rational R for p >= 2), 0 for "inf"
    cuts: list[tuple[FloatArray, float]] = field(default_factory=list)

    @property
    def q(self) -> int:
        """Number of outputs (length of the target ``x``)."""
        return int(self.x.shape[0])


@dataclass
class NodeResult:
    """One node LP's outcome: ``status``, the optimum ``value`` of ``s`` (inf when infeasible),
    the latents ``z`` and outputs ``out`` at the optimum, candidate multipliers ``y`` (duals
    or the dual ray; ``y_alt`` the ray's other sign) by row name, and the optimal ``basis``."""

    status: str  # "optimal", "infeasible", "other"
    value: float  # optimum of s (inf when infeasible)
    z: FloatArray | None
    out: FloatArray | None  # a^L at the optimum
    y: dict[str, float] | None  # candidate multipliers (duals or the dual ray), by row name
    y_alt: dict[str, float] | None = None  # the ray with the other sign
    #: the optimal basis (column statuses, row statuses by row name): a warm start
    basis: Basis | None = None


#: a simplex basis by name: (column statuses, {row name: status})
Basis = tuple[list[Any], dict[str, Any]]


def _warm(hs: Any, h: Any, names: list[str], basis: Basis) -> bool:
    """Start from a parent's basis: same columns; rows by name (a new row basic, its
    slack free to move), then the count of basic variables repaired to the number of
    rows (HiGHS itself replaces a singular basis's columns by slacks).  Only speed
    depends on it: the optimum, and so every multiplier, is the LP's."""
    cols, rows = basis
    if len(cols) != h.getNumCol():
        return False
    basic, lower = hs.HighsBasisStatus.kBasic, hs.HighsBasisStatus.kLower
    rst = [rows.get(nm, basic) for nm in names]
    excess = sum(1 for c in cols if c == basic) + sum(1 for r in rst if r == basic) - len(names)
    if excess > 0:  # too many basic: new rows' slacks leave first (at their bound)
        for i, nm in enumerate(names):
            if excess <= 0:
                break
            if rst[i] == basic and nm not in rows:
                rst[i], excess = lower, excess - 1
        for i in range(len(rst)):
            if excess <= 0:
                break
            if rst[i] == basic:
                rst[i], excess = lower, excess - 1
    elif excess < 0:
        for i in range(len(rst)):
            if excess >= 0:
                break
            if rst[i] != basic:
                rst[i], excess = basic, excess + 1
    hb = hs.HighsBasis()
    hb.col_status = list(cols)
    hb.row_status = rst
    hb.valid = True
    return str(h.setBasis(hb)).endswith("kOk")


def _unit_rows(
    rows: Rows,
    layer: int,
    ld: LayerData,
    prev_cols: np.ndarray[Any, Any],
    a_cols: np.ndarray[Any, Any],
    lo: FloatArray,
    hi: FloatArray,
    fixed: dict[tuple[int, int], int],
) -> None:
    """All rows of one layer's units, by state (see the module docstring)."""
    w, b, alpha = ld.weight, ld.bias, ld.alpha
    m = w.shape[0]
    ph = np.full(m, -1)
    for (lay, j), v in fixed.items():
        if lay == layer:
            ph[j] = v
    if ld.kind == "identity":
        active = np.ones(m, dtype=bool)
        inactive = np.zeros(m, dtype=bool)
    else:
        active = (ph == 1) | ((ph != 0) & (lo >= 0))
        inactive = ~active & ((ph == 0) | (hi <= 0))
    unstable = ~(active | inactive)
    span = np.where(unstable, hi - lo, 1.0)
    slope = np.where(unstable, (hi - alpha * lo) / span, 0.0)
    icpt = alpha * lo - slope * lo
    one = np.ones(m)
    # (name, units, sigma, kappa, c0): sigma * h + kappa * a + c0 >= 0 (two-sided
    # "A|B": equality, A's form between its two right sides)
    specs: list[tuple[str, np.ndarray[Any, Any], FloatArray, FloatArray, FloatArray]] = []
    if ld.kind == "identity" or alpha <= 1:
        # relu (alpha = 0): an unstable unit's a >= 0 is its column bound already
        ge, sge = unstable, unstable & (ld.kind != "identity") & (alpha != 0)
        le = sle = np.zeros(m, dtype=bool)
        csign = 1.0
    else:
        ge = sge = np.zeros(m, dtype=bool)
        le = sle = unstable
        csign = -1.0
    zero = np.zeros(m)
    specs.append(("ge|le", active, -one, one, zero))
    # an inactive relu unit's a = 0 is its column box [f(lo), f(hi)] = [0, 0] already
    specs.append(("sge|sle", inactive & (alpha != 0), -alpha * one, one, zero))
    specs.append(("ge", ge, -one, one, zero))
    specs.append(("le", le, one, -one, zero))
    specs.append(("sge", sge, -alpha * one, one, zero))
    specs.append(("sle", sle, alpha * one, -one, zero))
    specs.append(("on", ph == 1, one, zero, zero))
    specs.append(("off", ph == 0, -one, zero, zero))
    specs.append(("chord", unstable, csign * slope, -csign * one, csign * icpt))
    for name, mask, sigma, kappa, c0 in specs:
        units = np.nonzero(mask)[0]
        if not len(units):
            continue
        # sparse: sigma W_j over the previous layer's columns, kappa on the unit's own
        # (a dense block over both would be units x (inputs + units))
        wpart = sigma[units, None] * w[units]
        r, c = np.nonzero(wpart)
        own = np.arange(len(units))
        rr = np.concatenate([r, own])
        cc = np.concatenate([prev_cols[c], a_cols[units]])
        vv = np.concatenate([wpart[r, c], kappa[units]])
        rhs = -sigma[units] * b[units] - c0[units]
        if "|" in name:
            a_, b_ = name.split("|")
            names = [f"L{layer}.{j}.{a_}|L{layer}.{j}.{b_}" for j in units.tolist()]
            rows.add_coo(names, rr, cc, vv, rhs, rhs)
        else:
            rows.add_coo([f"L{layer}.{j}.{name}" for j in units.tolist()], rr, cc, vv, rhs)


def _post(lo: FloatArray, hi: FloatArray, ld: LayerData) -> tuple[FloatArray, FloatArray]:
    if ld.kind == "identity":
        return lo, hi
    return np.where(lo >= 0, lo, ld.alpha * lo), np.where(hi >= 0, hi, ld.alpha * hi)


@dataclass
class _Model:
    highs: Any
    names: list[str]
    in_cols: list[np.ndarray[Any, Any]]  # per layer: the columns of its input (z or a^{l-1})
    out_cols: np.ndarray[Any, Any]  # the output is emat @ v[out_cols] + evec
    ncol: int
    emat: FloatArray
    evec: FloatArray
    #: the rows as CSR (lower, upper, starts, columns, values) and the column box
    csr: tuple[FloatArray, FloatArray, np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray]
    col_box: tuple[FloatArray, FloatArray]


def dual_bound(md: _Model, y: dict[str, Any], cost: FloatArray) -> float:
    """The lower bound on ``min cost . v`` that multipliers ``y`` (by the checker's row
    names, as :func:`_ydict` gives them) prove over the model's rows and column box:
    ``sum y beta + min_box((cost - sum y r) . v)``, in floats -- the checker's
    computation on the same rows, so a float replica of the bound it will derive."""
    lo_r, up_r, starts, idx, vals = md.csr
    nr = len(md.names)
    signed = np.zeros(nr)
    rhs = 0.0
    for i, nm in enumerate(md.names):
        sides = nm.split("|")
        a = y.get(sides[0].split("+")[0])
        if a:
            signed[i] += float(a)
            rhs += float(a) * float(lo_r[i])
        if len(sides) == 2:
            b = y.get(sides[1].split("+")[0])
            if b:
                signed[i] -= float(b)
                rhs -= float(b) * float(up_r[i])
    counts = np.diff(np.append(starts, len(idx)))
    g = np.zeros(md.ncol)
    np.add.at(g, idx, vals * np.repeat(signed, counts))
    form = cost - g
    clo, chi = md.col_box
    with np.errstate(invalid="ignore"):
        low = np.where(form > 0, form * clo, np.where(form < 0, form * chi, 0.0))
    return float(rhs + low.sum())


def _ydict(names: list[str], vals: Any) -> dict[str, float]:
    """Multipliers by the checker's row names: a row dual ``> 0`` is the multiplier of
    the row's lower side (``A`` of ``"A|B"``), ``< 0`` of its upper side ``B``; a
    substituted row ``"R+S"`` names two rows."""
    y: dict[str, float] = {}
    for nm, v in zip(names, vals, strict=True):
        if v > 0:
            side, mult = nm.split("|")[0], float(v)
        elif v < 0 and "|" in nm:
            side, mult = nm.split("|")[1], -float(v)
        else:
            continue
        for part in side.split("+"):
            y[part] = y.get(part, 0.0) + mult
    return y


def solve_node(
    setup: Setup,
    zlo: FloatArray,
    zhi: FloatArray,
    fixed: dict[tuple[int, int], int],
    bounds: list[tuple[FloatArray, FloatArray]],
    warm: Basis | None = None,
    time_limit: float | None = None,
) -> NodeResult:
    """Build and solve the node LP (see the module docstring), from ``warm`` (a
    parent's basis) when given, for at most ``time_limit`` seconds (HiGHS's own limit:
    one LP of a 784-output inner problem has been seen to run for minutes; a stopped LP
    is an "other" result, a node to split, never a refutation)."""
    md = _build(setup, zlo, zhi, fixed, bounds)
    h, n, nr, out_cols = md.highs, setup.n, len(md.names), md.out_cols
    if time_limit is not None and math.isfinite(time_limit):
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    h.changeColsCost(1, np.array([md.ncol - 1], dtype=np.int32), np.array([1.0]))
    if warm is not None:
        _warm(importlib.import_module("highspy"), h, md.names, warm)
    h.run()
    status = str(h.getModelStatus()).split(".")[-1]
    if status == "kOptimal":
        sol = h.getSolution()
        colv = np.array(sol.col_value)
        duals = np.array(sol.row_dual)
        y: dict[str, float] | None = None
        if len(duals) == nr:  # HiGHS gives no duals when it solved the LP without simplex
            y = _ydict(md.names, duals)
        out = md.emat @ colv[out_cols] + md.evec
        hb = h.getBasis()
        basis: Basis | None = None
        if hb.valid and len(hb.row_status) == nr and len(hb.col_status) == md.ncol:
            basis = (list(hb.col_status), dict(zip(md.names, hb.row_status, strict=True)))
        return NodeResult("optimal", float(colv[-1]), colv[:n], out, y, basis=basis)
    if status in _INFEASIBLE:
        _, has, ray = h.getDualRay()
        if has:
            ray = np.asarray(ray, dtype=np.float64)
            yp = _ydict(md.names, ray)
            yn = _ydict(md.names, -ray)
            return NodeResult("infeasible", math.inf, None, None, yp, yn)
        return NodeResult("infeasible", math.inf, None, None, None)
    return NodeResult("other", -math.inf, None, None, None)


#: a proposed witness lemma: (layer, unit, "lo" | "hi", float multipliers, float bound)
WitnessBound = tuple[int, int, str, dict[str, float], float]


#: HiGHS options of the tightening LPs: only the objective changes between solves, so
#: the last optimal basis stays primal feasible and the primal simplex continues from
#: it (measured on 20-100-200 nets: 3x fewer seconds per LP than the default dual
#: simplex with two one-sided rows per target); any optimum's duals are checked
#: exactly, so these change speed only
TIGHTEN_OPTIONS: dict[str, Any] = {"simplex_strategy": 4, "simplex_scale_strategy": 0}


def similar_order(weight: FloatArray, units: list[int]) -> list[int]:
    """``units`` in a greedy nearest-direction order of their weight rows (each next
    row the one of largest cosine with the last): consecutive LP objectives close, so
    the warm-started simplex needs fewer iterations."""
    if len(units) <= 2:
        return list(units)
    rows = weight[units]
    norms = np.linalg.norm(rows, axis=1)
    rows = rows / np.where(norms > 0, norms, 1.0)[:, None]
    sims = rows @ rows.T
    left = np.ones(len(units), dtype=bool)
    at = 0
    order = [0]
    left[0] = False
    for _ in range(len(units) - 1):
        cand = np.where(left, sims[at], -np.inf)
        at = int(np.argmax(cand))
        left[at] = False
        order.append(at)
    return [units[i] for i in order]


def tighten(
    setup: Setup,
    zlo: FloatArray,
    zhi: FloatArray,
    fixed: dict[tuple[int, int], int],
    bounds: list[tuple[FloatArray, FloatArray]],
    units: list[tuple[int, int]],
    clock: Budget,
    min_gain: float = 0.0,
    basis: list[Basis] | None = None,
    short: Callable[[dict[str, float]], dict[str, Any]] | None = None,
) -> list[WitnessBound]:
    """LP bound tightening with the target rows (OBBT): for each unit, minimise and
    maximise its pre-activation ``h = W_j a^{l-1} + b_j`` over the node LP with the
    distance fixed at ``s = delta`` (so the target rows are the checker's).  The row
    duals ``y >= 0`` of ``min +-W_j . a^{l-1}`` are the multipliers of a *witness
    lemma* (:mod:`geninv.proofrows`): LP duality gives ``min = y . beta +
    min_box((+-W_j - y R) . v)``, exactly the bound the checker computes from ``y``.
    One HiGHS model, only the objective changes (warm-started primal simplex): per
    layer all upper sides, then the lower sides (not of a relu unit whose upper
    bound came out <= 0: it is inactive), each in :func:`similar_order`.
    Returns the bounds that improve on ``bounds`` by more than ``min_gain`` of the
    unit's width (the checker decides what they prove).  ``basis``: a holder; its
    basis (an earlier call's, rows matched by name) starts the first solve, and the
    last optimal basis is left in it.  ``short``: the multipliers as the proof will
    carry them (e.g. shortened rationals); each bound returned is then the one
    *they* prove (:func:`dual_bound`), not the LP's optimum."""
    md = _build(setup, zlo, zhi, fixed, bounds, fix_s=True)
    h = md.highs
    for key, val in TIGHTEN_OPTIONS.items():
        h.setOptionValue(key, val)
    if basis:
        _warm(importlib.import_module("highspy"), h, md.names, basis[0])
    nr = len(md.names)
    out: list[WitnessBound] = []
    prev_cols: np.ndarray[Any, Any] | None = None
    seq: list[tuple[int, int, str, float]] = []
    for layer in sorted({lay for lay, _ in units}):
        order = similar_order(
            setup.layers[layer - 1].weight, [j for lay, j in units if lay == layer]
        )
        seq += [(layer, j, "hi", -1.0) for j in order]
        seq += [(layer, j, "lo", 1.0) for j in reversed(order)]
    off: set[tuple[int, int]] = set()  # relu units whose new upper bound is <= 0
    for layer, j, side, sgn in seq:
        ld = setup.layers[layer - 1]
        cols = md.in_cols[layer - 1]
        lo, hi = float(bounds[layer - 1][0][j]), float(bounds[layer - 1][1][j])
        if clock.expired():
            return out
        if side == "lo" and (layer, j) in off:
            continue  # inactive relu: a = 0 whatever its lower bound
        if prev_cols is not None:
            h.changeColsCost(len(prev_cols), prev_cols, np.zeros(len(prev_cols)))
        h.changeColsCost(len(cols), cols, sgn * ld.weight[j])
        prev_cols = cols
        h.run()
        status = str(h.getModelStatus()).split(".")[-1]
        if status != "kOptimal":
            return out  # infeasible at s = delta: the node LP itself will refute it
        sol = h.getSolution()
        duals = np.array(sol.row_dual)
        if len(duals) != nr:
            continue
        if basis is not None:
            hb = h.getBasis()
            if hb.valid and len(hb.row_status) == nr and len(hb.col_status) == md.ncol:
                basis[:] = [(list(hb.col_status), dict(zip(md.names, hb.row_status, strict=True)))]
        val = sgn * float(h.getInfo().objective_function_value) + float(ld.bias[j])
        need = max(1e-9 * (1 + abs(val)), min_gain * (hi - lo))
        if (side == "lo" and val > lo + need) or (side == "hi" and val < hi - need):
            y = _ydict(md.names, duals)
            if short is not None:
                y = short(y)
                cost = np.zeros(md.ncol)
                cost[cols] = sgn * ld.weight[j]
                val = sgn * dual_bound(md, y, cost) + float(ld.bias[j])
                if not ((side == "lo" and val > lo + need) or (side == "hi" and val < hi - need)):
                    continue
            out.append((layer, j, side, y, val))
            if side == "hi" and val <= 0 and ld.kind != "identity" and ld.alpha == 0:
                off.add((layer, j))
    return out


def _build(
    setup: Setup,
    zlo: FloatArray,
    zhi: FloatArray,
    fixed: dict[tuple[int, int], int],
    bounds: list[tuple[FloatArray, FloatArray]],
    fix_s: bool = False,
) -> _Model:
    """The node LP as a HiGHS model with a zero objective (``fix_s``: the distance
    fixed at ``s = delta``, each target pair one two-sided row)."""
    hs = importlib.import_module("highspy")
    in_cols: list[np.ndarray[Any, Any]] = []
    col_lo: list[FloatArray] = [zlo]
    col_hi: list[FloatArray] = [zhi]
    rows = Rows()
    n = setup.n
    prev = np.arange(n, dtype=np.int32)
    ncol = n
    a_cols = prev
    last = setup.layers[-1]
    # an identity output layer is substituted into the target rows (fewer rows and
    # columns; each such row's dual is also the dual of the unit row it absorbed)
    subst = last.kind == "identity" and setup.mode != "lp"
    for k, ld in enumerate(setup.layers):
        in_cols.append(prev)
        if subst and k == len(setup.layers) - 1:
            break
        lo, hi = bounds[k]
        m = ld.weight.shape[0]
        a_cols = np.arange(ncol, ncol + m, dtype=np.int32)
        ncol += m
        plo, phi = _post(lo, np.maximum(hi, lo), ld)
        col_lo.append(plo)
        col_hi.append(phi)
        _unit_rows(rows, k + 1, ld, prev, a_cols, lo, hi, fixed)
        prev = a_cols
    q = setup.q
    nl = len(setup.layers)
    if subst:  # out = W_L a^{L-1} + b_L
        out_cols, emat, evec = prev, last.weight, last.bias
        sfx_lo, sfx_hi = [f"+L{nl}.{j}.le" for j in range(q)], [f"+L{nl}.{j}.ge" for j in range(q)]
    else:
        out_cols, emat, evec = a_cols, np.eye(q), np.zeros(q)
        sfx_lo = sfx_hi = [""] * q
    s_col = ncol + (q if setup.mode != "inf" else 0)
    eye = np.eye(q)
    tcols = np.concatenate([out_cols, [s_col]]).astype(np.int32)
    ones = np.ones((q, 1))
    if fix_s:  # s = delta: T{j}.lo and T{j}.hi are the two sides of one row
        rows.add_block(
            [f"T{j}.lo{sfx_lo[j]}|T{j}.hi{sfx_hi[j]}" for j in range(q)],
            out_cols,
            emat,
            setup.x - evec - setup.delta,
            setup.x - evec + setup.delta,
        )
    else:
        rows.add_block(
            [f"T{j}.lo{sfx_lo[j]}" for j in range(q)],
            tcols,
            np.hstack([emat, ones]),
            setup.x - evec,
        )
        rows.add_block(
            [f"T{j}.hi{sfx_hi[j]}" for j in range(q)],
            tcols,
            np.hstack([-emat, ones]),
            evec - setup.x,
        )
    if setup.mode != "inf":
        # distance scale of T.sum and the cuts: their right sides are D = ratio * delta
        ratio = setup.l1 / setup.delta if setup.delta > 0 else 1.0
        t_cols = np.arange(ncol, ncol + q, dtype=np.int32)
        col_lo.append(np.zeros(q))
        col_hi.append(np.full(q, math.inf))  # the checker's box [0, D] is tighter
        ncol += q
        pcols = np.concatenate([t_cols, out_cols]).astype(np.int32)
        rows.add_block(
            [f"T{j}.tp{sfx_hi[j]}" for j in range(q)],
            pcols,
            np.hstack([eye, -emat]),
            evec - setup.x,
        )
        rows.add_block(
            [f"T{j}.tn{sfx_lo[j]}" for j in range(q)],
            pcols,
            np.hstack([eye, emat]),
            setup.x - evec,
        )
        rows.add("T.sum", [*t_cols.tolist(), s_col], [-1.0] * q + [ratio], 0.0)
        for k, (c, r) in enumerate(setup.cuts):
            rows.add(
                f"C{k}",
                [*out_cols.tolist(), s_col],
                [*(-c).tolist(), r / setup.delta],
                -float(c @ setup.x),
            )
    col_lo.append(np.full(1, setup.delta) if fix_s else np.zeros(1))
    col_hi.append(np.full(1, setup.delta if fix_s else math.inf))
    ncol += 1
    cl, ch = np.concatenate(col_lo), np.concatenate(col_hi)
    h = hs.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    h.addVars(ncol, cl, ch)
    nr = len(rows.names)
    row_lo, row_up, starts, flat_i, flat_v = rows.csr()
    h.addRows(nr, row_lo, row_up, len(flat_i), starts, flat_i, flat_v)
    csr = (row_lo, row_up, starts, flat_i, flat_v)
    box_hi = ch.copy()
    if setup.mode != "inf":  # the checker's box of the l_1 auxiliaries: [0, D]
        box_hi[t_cols] = setup.l1
    return _Model(h, rows.names, in_cols, out_cols, ncol, emat, evec, csr, (cl, box_hi))
