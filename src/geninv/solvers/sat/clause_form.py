"""The clause form: a two-layer network of corner-indicator units is one clause per unit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Literal

from geninv.network import integer_values
from geninv.problem import InversionProblem
from geninv.solvers.sat.encoder import CompiledCNF

#: ``smallest`` of an output no indicator feeds (above every a_ji M_i, which are < 2^52).
_NO_JUMP = float(2**60)


def _clause_rows(
    d: Any,
    smallest: Any,
    feeds: Any,
    target: Sequence[Any],
    delta: Any,
    relu_out: bool,
    strict: bool,
) -> tuple[bool, Any] | None:
    """Per output row of :func:`clause_form`, exactly (ints or Fractions): ``(empty, need)``.

    ``smallest`` is ``_NO_JUMP`` exactly on the outputs no indicator feeds.
    ``empty``: some output is already too high with every indicator off (no
    latent works); ``need``: the indicators that some output forbids, which is
    every indicator that feeds some output (an output with a feeding indicator
    either forbids them all or does not have the clause shape).  None
    when a row does not have the clause shape (its lower end needs a unit on,
    or one unit on may still meet its upper end).
    """
    import numpy as np

    rows = _clause_rows_lists(d.tolist(), smallest.tolist(), target, delta, relu_out, strict)
    if rows is None:
        return None
    if rows is True:
        return True, np.zeros(feeds.shape[1], dtype=bool)  # too high with every unit off
    if len(rows) == 1:
        return False, feeds[rows[0]]
    return False, feeds[rows].any(axis=0) if rows else np.zeros(feeds.shape[1], dtype=bool)


def _clause_rows_lists(
    d: list[float],
    smallest: list[float],
    target: Sequence[Any],
    delta: Any,
    relu_out: bool,
    strict: bool,
) -> Literal[True] | list[int] | None:
    """:func:`_clause_rows` on lists (d and smallest hold integers, as floats):
    True when some output is too high with every indicator off, None when a row
    does not have the clause shape, else the outputs that some indicator feeds."""
    d_int = [int(v) for v in d]
    bases = [max(v, 0) for v in d_int] if relu_out else d_int
    for base, x in zip(bases, target, strict=True):
        gap_high = x + delta - base  # must stay >= 0 (> 0)
        if (gap_high <= 0) if strict else (gap_high < 0):
            return True
    used: list[int] = []
    for j, x in enumerate(target):
        gap_low = bases[j] - x + delta
        if (gap_low <= 0) if strict else (gap_low < 0):
            return None  # the lower end needs some unit on: not this shape
        if smallest[j] >= _NO_JUMP:  # no indicator feeds this output
            continue
        jump = d_int[j] + int(smallest[j])
        if relu_out:
            jump = max(jump, 0)
        over = jump - x - delta
        if (over < 0) if strict else (over <= 0):
            return None  # one unit on may still meet the upper end
        used.append(j)
    return used


def _clause_stats(units: int, n_constant: int) -> dict[str, Any]:
    return {
        "encoding": "clause form (corner-indicator units, vectorised)",
        "indicator_units": units - n_constant,
        "constant_units": n_constant,
    }


def _clause_rows_int(
    d: Any,
    smallest: Any,
    feeds: Any,
    target: Sequence[int],
    delta: int,
    relu_out: bool,
    strict: bool,
) -> tuple[bool, Any] | None:
    """:func:`_clause_rows` for an integer target and threshold, vectorised in int64.

    Every value is below 2^53 in magnitude (the caller's guards), so the int64
    sums are exact.  Same answer as the loop: an output that is too high with
    every unit off makes the CNF empty whatever the other rows say.
    """
    import numpy as np

    x = np.asarray(target, dtype=np.int64)
    base = d.astype(np.int64)
    if relu_out:
        base = np.maximum(base, 0)
    gap_low, gap_high = base - x + delta, x + delta - base
    if ((gap_high <= 0) if strict else (gap_high < 0)).any():
        return True, np.zeros(feeds.shape[1], dtype=bool)
    if ((gap_low <= 0) if strict else (gap_low < 0)).any():
        return None
    fed = feeds.any(axis=1)
    jump = d.astype(np.int64) + np.where(fed, smallest, 0).astype(np.int64)
    if relu_out:
        jump = np.maximum(jump, 0)
    over = (jump - x - delta)[fed]
    if ((over < 0) if strict else (over <= 0)).any():
        return None
    return False, feeds[fed].any(axis=0)


# ------------------------------------------------------------------ clause form
def clause_form(problem: InversionProblem) -> CompiledCNF | None:
    """The CNF of a two-layer network whose first-layer units are *corner indicators*.

    A vectorised shortcut of the general encoder (same CNF, no auxiliary
    variables), or ``None`` when the problem does not have this shape; the
    caller then uses the general encoder.  It applies when:

    * the latents are binary or sign, the network has two layers, the first a
      ReLU layer, every weight and bias is an integer
      (:meth:`ReLUNetwork.integer_layers`), and every sum below stays under 2^52
      in magnitude, so the float64 (BLAS) arithmetic on them is exact;
    * every first-layer unit ``h_i = ReLU(w_i . z + b_i)`` is constant (its
      extremes over the corners agree after the ReLU) or a *corner indicator*:
      with ``M_i = max_z (w_i . z + b_i) > 0`` attained at the corner ``c_i``
      (``c_iv = hi`` iff ``w_iv > 0``), the best other corner differs from it in
      one coordinate, so ``M_i - g_i`` with ``g_i = min_{w_iv != 0} |w_iv| (hi - lo)``
      is its value; when ``M_i - g_i <= 0`` the unit is ``M_i [z_S = c_i|_S]``
      (S the support of ``w_i``), i.e. ``M_i`` times an AND of literals;
    * the condition on every output ``y_j = act(sum_i a_ji h_i + d_j)`` is an
      interval (exact inversion, or p = inf) whose lower end holds when every
      indicator is 0, every ``a_ji`` that meets an indicator is positive, and
      the upper end fails as soon as any one indicator is 1:
      ``act(d'_j + a_ji M_i)`` violates it for every such i, where ``d'_j`` is
      ``d_j`` plus the constant units.  Because ``act`` is nondecreasing and the
      coefficients positive, ``y_j`` meets the condition iff every indicator
      feeding it is 0: one clause ``OR_{v in S} [z_v != c_iv]`` per indicator.
      When ``act(d'_j)`` already violates the upper end no latent works and the
      CNF is the empty clause.

    Theorem 1 networks have exactly this shape (clause row j is the indicator of
    the falsifying corner, ``M = 1``, ``g = 2``); the CNF is then the source
    formula itself (tautologies dropped, empty clauses kept), literal for
    literal, in clause order.

    The answer is remembered on the problem (``auto`` asks before the backend
    compiles) while none of the attributes it reads has been replaced; callers
    must not modify the returned CNF.
    """
    return problem.derived("clause_form", lambda: _clause_form(problem))


def _split(lits: Any, sizes: Any) -> list[list[int]]:
    """The clauses of consecutive literal runs of the given sizes."""
    import numpy as np

    flat_lits = lits.tolist()
    ends = np.cumsum(sizes).tolist()
    return [flat_lits[i:j] for i, j in zip([0, *ends][:-1], ends, strict=True)]


def _corner_arrays(w: Any, b: Any, a: Any, b2: Any, sabs: Any, kind: str) -> Any:
    """The corner analysis of every first-layer unit:
    ``(d, smallest, feeds, number of constant units)``, or None when some unit is
    no corner indicator or some indicator feeds an output negatively."""
    import numpy as np

    n = w.shape[1]
    span = 2 if kind == "sign" else 1  # hi - lo
    # the best corner: b + sum |w| for corners -1, 1; b + the positive weights for 0, 1
    amax = b + sabs if kind == "sign" else b + (sabs + w @ np.ones(n)) / 2
    # constant: never positive, or no weight (amin = amax - sabs equals amax)
    constant = (amax <= 0) | (sabs == 0)
    any_constant = bool(constant.any())
    # a non-constant unit is a corner indicator iff its second-best corner, which flips
    # the coordinate with the smallest nonzero |w_iv|, is not positive:
    # amax <= |w_iv| span for every nonzero w_iv.  Every nonzero integer weight has
    # |w_iv| >= 1, so only rows with amax > span are read, and only when there are any.
    if float(amax.max()) > span:
        need_abs = np.where(constant, 0.0, amax / span)
        heavy = need_abs > 1
        if heavy.any():
            aw = np.abs(w[heavy])
            if ((aw < need_abs[heavy][:, None]) & (aw != 0)).any():
                return None
    if any_constant:
        indicator = ~constant
        d = b2 + a @ np.where(constant, np.maximum(amax, 0), 0)
        if ((a < 0) & indicator).any():
            return None
        feeds = (a != 0) & indicator
    else:  # every unit an indicator (Theorem 1 networks)
        d = b2
        if float(a.min()) < 0:
            return None
        feeds = a != 0
    smallest = np.where(feeds, a * amax, _NO_JUMP).min(axis=1)  # the smallest jump of one unit
    return d, smallest, feeds, int(constant.sum()) if any_constant else 0


def _clause_form(problem: InversionProblem) -> CompiledCNF | None:
    """:func:`clause_form`, computed (numpy calls kept few: on 100-clause formulas
    each costs about as much as CaDiCaL spends per clause)."""
    pr = problem
    kind = pr.domain.kind
    net = pr.network
    if kind not in ("binary", "sign") or len(net.layers) != 2:
        return None
    if not (pr.threshold.numerator == 0 and pr.threshold_pow is None) and not math.isinf(pr.p):
        return None
    first, second = net.layers
    if first.activation != "relu" or second.activation not in ("relu", "identity"):
        return None
    w, b, a, b2 = first.weight, first.bias, second.weight, second.bias
    layers = net.integer_layers()  # None also for parameters held as Fractions
    if layers is None:
        return None
    import numpy as np

    (sabs, r1, b1, _), (_, r2, bb2, _) = layers  # sabs: row sums of |W|, exact below
    # |z_v| <= 1, so |pre-activations| <= r1 + b1 and every sum below is at most
    # max(r1 + b1, r2 (r1 + b1) + bb2): under 2^52 each is an integer that float64
    # holds exactly, whatever order BLAS adds in, and halving it is exact too
    if max(r1 + b1, r2 * (r1 + b1) + bb2) >= 2**52:
        return None
    # the float64 parameters equal the integers (integer_layers checked it)
    m1, n = w.shape
    shape_arrays = _corner_arrays(w, b, a, b2, sabs, kind)
    if shape_arrays is None:
        return None
    d, smallest, feeds, n_constant = shape_arrays
    relu_out = second.activation == "relu"
    delta: Fraction | int = pr.threshold
    if pr.threshold.denominator == 1:
        delta = int(pr.threshold)  # Python int arithmetic is far quicker than Fraction's
    strict = pr.relation == "<"
    if len(pr.target) <= 32:  # a few outputs: the loop (in ints when possible) is quicker
        tint = integer_values(pr.target)
        shape = _clause_rows(d, smallest, feeds, tint or pr.target, delta, relu_out, strict)
    else:
        tint = pr.target_ints()
        if tint is not None and type(delta) is int and max(map(abs, tint)) < 2**52:
            shape = _clause_rows_int(d, smallest, feeds, tint, delta, relu_out, strict)
        else:
            shape = _clause_rows(d, smallest, feeds, pr.target, delta, relu_out, strict)
    if shape is None:
        return None
    empty, need = shape
    stats = _clause_stats(m1, n_constant)
    if empty:
        return CompiledCNF(pr.n, pr.n, [[]], stats)
    clauses: list[list[int]]
    ws = w if need.all() else w[need]
    # row-major: the literals of each clause in turn (numpy's nonzero is several times
    # quicker on a bool mask than on floats)
    flat = np.flatnonzero(ws != 0)
    rows, cols = np.divmod(flat, n)
    sizes = np.bincount(rows, minlength=ws.shape[0])
    # the clause literal says z_v differs from the corner: +v when c_iv = lo (w < 0)
    cols += 1
    lits = np.where(ws.ravel()[flat] > 0, -cols, cols)
    if sizes.size and sizes.min() == sizes.max() > 0:  # k-CNF: one reshape
        clauses = lits.reshape(sizes.size, int(sizes[0])).tolist()
    else:
        clauses = _split(lits, sizes)
    return CompiledCNF(pr.n, pr.n, clauses, stats)
