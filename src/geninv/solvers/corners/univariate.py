"""Supports and exact univariate functions of every unit (float scans, exact rows)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.network import ReLUNetwork, integer_values, small_fraction
from geninv.solvers.corners.outcome import _value
from geninv.solvers.corners.pl import _PL, CONST, MAX_BREAKPOINTS, MULTI, _PLCache, _Units

#: The supports scan uses float64 matrix-vector products while (inputs) x (largest
#: latent index + 1) is below this (then every sum it forms is below 2^52).
_SCAN_PRODUCTS_BELOW = 2**26


def _float_layer_scan(weight: Any, support: list[int]) -> tuple[list[int], Any, Any]:
    """The supports of a float-exact layer's units from its inputs' (numpy): MULTI if
    some nonzero weight reads a MULTI input or two different latents, CONST if every
    nonzero weight reads a CONST input, else the one latent (the rule of
    :func:`_loop_supports`; a float weight is nonzero iff its exact value is); and the
    rows with exactly one nonzero weight on an input whose support is a latent, with
    that input (numpy arrays)."""
    prev = np.asarray(support, dtype=np.int64)
    nz = weight != 0
    count = nz.sum(axis=1)
    col = nz.argmax(axis=1)  # the one nonzero of a row with one (0 for an empty row)
    if not count.size or count.max() <= 1:
        # no row reads two inputs (e.g. clamps): a row's support is its input's
        got = prev[col]
        out = np.where(count == 0, CONST, got)
        rows = np.flatnonzero((count == 1) & (got >= 0))
        return out.tolist(), rows, col[rows]
    n_in = prev.size
    if n_in * (max(int(prev.max()), 0) + 1) < _SCAN_PRODUCTS_BELOW:
        # by matrix-vector products: per row, k latent inputs with supports s_j, their
        # sum S1 and sum of squares S2 (integers below 2^52: exact in float64, in any
        # order); the s_j are all equal iff S1^2 = k S2 (Cauchy-Schwarz), then S1 / k
        nzf = nz.astype(np.float64)
        pf = prev.astype(np.float64)
        lat = (pf >= 0).astype(np.float64)
        sup = pf * lat
        k = nzf @ lat
        s1 = nzf @ sup
        s2 = nzf @ (sup * sup)
        out_f = np.where(k == 0, CONST, np.where(s1 * s1 == k * s2, s1 / np.maximum(k, 1.0), MULTI))
        out_f[nzf @ (pf == MULTI).astype(np.float64) > 0] = MULTI
        rows = np.flatnonzero((count == 1) & (k == 1))
        return out_f.astype(np.int64).tolist(), rows, col[rows]
    latent = nz & (prev >= 0)[None, :]
    top = np.where(latent, prev, -1).max(axis=1)
    bottom = np.where(latent, prev, np.iinfo(np.int64).max).min(axis=1)
    out = np.where(top < 0, CONST, np.where(bottom == top, top, MULTI))
    multi_in = (nz & (prev == MULTI)[None, :]).any(axis=1)
    out[multi_in] = MULTI
    rows = np.flatnonzero((count == 1) & (latent.sum(axis=1) == 1))
    return out.tolist(), rows, col[rows]


def _exact_float(v: float) -> Fraction:
    """The exact value of a float (the shared Fraction of a small integer)."""
    if v.is_integer() and abs(v) <= 256:
        return small_fraction(int(v))
    return Fraction(v)


def _loop_supports(rows: list[Any], support: list[int]) -> list[int]:
    """The supports of :func:`_float_layer_scan` by a loop over exact sparse rows."""
    out: list[int] = []
    for idx, _ in rows:
        sup = CONST
        for k in idx:
            s = support[k]
            if s == CONST:
                continue
            if s == MULTI or (sup >= 0 and s != sup):
                sup = MULTI
                break
            sup = s
        out.append(sup)
    return out


def univariate_units(
    network: ReLUNetwork,
    lo: Sequence[Fraction],
    hi: Sequence[Fraction],
    upto: int,
    cache: _PLCache | None = None,
    history: list[_Units] | None = None,
) -> _Units:
    """Support, function and constant of every output unit of layer ``upto`` (0: the latents).

    ``support[j]`` is the one latent unit j depends on, ``CONST`` or ``MULTI``;
    ``funcs[j]`` its exact piecewise-linear function of that latent on
    [lo_i, hi_i] (breakpoints and values), ``consts[j]`` its value if constant.
    Supports of float-exact layers are found by whole-array passes, and only the
    rows of units that are not MULTI are read exactly.  ``history``, when given,
    receives ``(support, funcs, consts)`` of every layer up to ``upto`` in turn.
    """
    n = network.n_inputs
    pc = cache if cache is not None else _PLCache()
    # supports and univariate functions of every unit with at most one latent
    support: list[int] = list(range(n))
    # one leaf per box (integer boxes: looked up by their ints)
    lo_i, hi_i = integer_values(lo), integer_values(hi)
    funcs: list[_PL | None]
    if lo_i is not None and hi_i is not None:
        by_int: dict[tuple[int, int], _PL] = {}
        funcs = []
        for a, b, ai, bi in zip(lo, hi, lo_i, hi_i, strict=True):
            leaf = by_int.get((ai, bi))
            if leaf is None:
                leaf = by_int[ai, bi] = pc.leaf(a, b)
            funcs.append(leaf)
    else:
        funcs = [pc.leaf(a, b) for a, b in zip(lo, hi, strict=True)]
    consts: list[Fraction | None] = [None] * n
    for layer in network.layers[:upto]:
        relu = layer.activation == "relu"
        new_funcs: list[_PL | None] = [None] * layer.n_out
        new_consts: list[Fraction | None] = [None] * layer.n_out
        done: set[int] = set()
        if layer.exact_weight is None:
            # units that read one input with a latent support, a*f(z_s) + b: one exact
            # computation per distinct (a, b, f), found from the float arrays (a float
            # weight equals its exact value, so equal floats are equal rationals)
            new_support, one_rows, one_cols = _float_layer_scan(layer.weight, support)
            rows, cols = one_rows.tolist(), one_cols.tolist()
            a_vals = layer.weight[one_rows, one_cols].tolist()
            b_vals = layer.bias[one_rows].tolist()
            groups: dict[tuple[float, float, int], _PL] = {}
            for j, k, av, bv in zip(rows, cols, a_vals, b_vals, strict=True):
                f = funcs[k]
                assert f is not None
                key = (av, bv, id(f))  # f is kept alive by the cache
                pl = groups.get(key)
                if pl is None:
                    term = [(_exact_float(av), f)]
                    const = _exact_float(bv)
                    pl = groups[key] = pc.combine(term, const, lo[support[k]], relu)
                if len(pl[0]) > MAX_BREAKPOINTS:
                    new_support[j] = MULTI
                else:
                    new_funcs[j] = pl
            done.update(rows)
        else:
            new_support = _loop_supports(layer.exact_rows(), support)
        todo = (
            []
            if len(new_support) - new_support.count(MULTI) == len(done)  # done: no MULTI
            else [j for j, s in enumerate(new_support) if s != MULTI and j not in done]
        )
        bias = layer.exact_bias_values() if todo else []
        for j, (idx, coef) in zip(todo, layer.exact_rows_at(todo) if todo else (), strict=True):
            sup = new_support[j]
            const = bias[j]
            for k, c in zip(idx, coef, strict=True):
                if support[k] == CONST:
                    const += c * _value(consts, k)
            if sup == CONST:
                new_consts[j] = const if layer.activation == "identity" else max(const, Fraction(0))
                continue
            terms = [(c, f) for k, c in zip(idx, coef, strict=True) if (f := funcs[k]) is not None]
            pl = pc.combine(terms, const, lo[sup], relu)
            if len(pl[0]) > MAX_BREAKPOINTS:
                new_support[j] = MULTI
                continue
            new_funcs[j] = pl
        support, funcs, consts = new_support, new_funcs, new_consts
        if history is not None:
            history.append((support, funcs, consts))
    return support, funcs, consts
