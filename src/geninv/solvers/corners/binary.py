"""The binary problem the presolve leaves: substituted first layer, pruned, folded."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from geninv.network import Layer, ReLUNetwork, integer_values
from geninv.problem import Domain, InversionProblem
from geninv.reductions.fold import fold_discrete_prefix
from geninv.solvers.corners.outcome import CornerPresolve, _value
from geninv.solvers.corners.pl import CONST, MULTI, _eval_pl


def _float_exact(v: Fraction) -> bool:
    """Whether ``v`` is a float64 exactly (dyadic with a 53-bit numerator: quick test first)."""
    d = v.denominator
    if d & (d - 1) == 0 and abs(v.numerator) < 2**53 and d.bit_length() < 1000:
        return True
    return Fraction(float(v)) == v


def _dense(rows: list[dict[int, Fraction]], cols: list[int]) -> Any:
    """A dense weight matrix: float64 when every entry is a float exactly, else Fractions."""
    pos = {k: c for c, k in enumerate(cols)}
    entries = [(j, pos[k], v) for j, row in enumerate(rows) for k, v in row.items() if k in pos]
    if all(_float_exact(v) for _, _, v in entries):
        out = np.zeros((len(rows), len(cols)), dtype=np.float64)
        for j, c, v in entries:
            out[j, c] = float(v)
        return out
    dense = [[Fraction(0)] * len(cols) for _ in rows]
    for j, c, v in entries:
        dense[j][c] = v
    return dense


def _vector(values: list[Fraction]) -> Any:
    if all(_float_exact(v) for v in values):
        return np.array([float(v) for v in values], dtype=np.float64)
    return values


def _kept_outputs(problem: InversionProblem, pre: CornerPresolve) -> list[int]:
    """The outputs the binary problem keeps: all but the forcing ones, and at least one
    (then the first forcing output stays, and is no longer listed as dropped)."""
    dropped = set(pre.dropped_outputs)
    keep_out = [o for o in range(problem.network.layers[-1].n_out) if o not in dropped]
    if not keep_out:
        keep_out = [pre.dropped_outputs[0]]
        pre.dropped_outputs = pre.dropped_outputs[1:]
    return keep_out


def _binary_problem_float(
    problem: InversionProblem, pre: CornerPresolve
) -> tuple[InversionProblem, int] | None:
    """:func:`_binary_problem` in float64 arrays, from the univariate analysis; the same
    network as the Fraction path, zeros included.  None when it does not apply.

    Let L be the first layer with a kept unit that depends on several latents (the
    last layer if there is none).  Every kept unit k of layer L - 1 depends on at
    most one latent s (``pre.units``: its function f, or its constant value), so
    on ``z_s = low_s + (high_s - low_s) b_s`` it is ``alpha_k + beta_k b_s`` with
    ``alpha_k = f(low_s)``, ``beta_k = f(high_s) - f(low_s)`` (a constant unit:
    its value and 0).  For L = 0 the inputs are the latents themselves:
    ``alpha = low``, ``beta = high - low``.  Layer L becomes ``W B`` and
    ``b + W alpha`` (``B[k, s_k] = beta_k``), the layers after it are copied, the
    layers before it are gone: what substituting and then folding layer by layer
    (:func:`fold_discrete_prefix`, which the Fraction path does) gives, as each of
    those layers' kept rows reads one latent.  Folds beyond L are left to
    ``fold_discrete_prefix``.  Applies when no layer holds Fractions, the kept block
    of layer L, ``alpha`` and ``beta`` are integers and every sum of layer L stays
    below 2^50 in magnitude (then float64 is exact, whatever order BLAS adds in).
    """
    layers = problem.network.layers
    if any(layer.exact_weight is not None or layer.exact_bias is not None for layer in layers):
        return None
    keep_out = _kept_outputs(problem, pre)
    keep: list[Any] = [None] * len(layers)
    keep[-1] = np.array(keep_out, dtype=np.intp)
    pruned = 0
    for index in range(len(layers) - 1, 0, -1):
        rows = layers[index].weight[keep[index]]
        used = np.flatnonzero((rows != 0).any(axis=0))
        if not used.size:
            used = np.zeros(1, dtype=np.intp)
        pruned += layers[index - 1].n_out - used.size
        keep[index - 1] = used
    first = 0  # L
    for index, (support, _, _) in enumerate(pre.units):
        if MULTI in [support[j] for j in keep[index].tolist()]:
            break
        first = index + 1
    alpha: list[int] = []
    beta: list[int] = []
    col: list[int] = []
    if first == 0:
        if any(v.denominator != 1 for v in (*pre.low, *pre.high)):
            return None
        alpha = [v.numerator for v in pre.low]
        beta = [h.numerator - v for h, v in zip(pre.high, alpha, strict=True)]
    else:
        support, funcs, consts = pre.units[first - 1]
        # f(low_s), f(high_s) by the ids of f, low_s and high_s (alive in pre): the
        # coordinates of one gadget share all three
        ends: dict[tuple[int, int, int], list[int] | None] = {}  # ints, None: not ints
        low, high = pre.low, pre.high
        for k in keep[first - 1].tolist():
            s = support[k]
            if s == CONST:
                pair = integer_values([_value(consts, k)] * 2)
                s = 0
            else:
                f = funcs[k]
                assert f is not None
                key = (id(f), id(low[s]), id(high[s]))
                if key in ends:
                    pair = ends[key]
                else:
                    pair = ends[key] = integer_values(_eval_pl(f, [low[s], high[s]]))
            if pair is None:
                return None
            alpha.append(pair[0])
            beta.append(pair[1] - pair[0])
            col.append(s)
    layer = layers[first]
    w = layer.weight[keep[0]] if first == 0 else _block(layer.weight, keep[first], keep[first - 1])
    b = layer.bias[keep[first]]
    if not (bool((np.trunc(w) == w).all()) and bool((np.trunc(b) == b).all())):
        return None
    top = max(map(abs, alpha), default=0) + max(map(abs, beta), default=0)
    if top >= 2**50:
        return None
    rmax = float(np.abs(w).sum(axis=1).max(initial=0.0))
    if rmax * top + float(np.abs(b).max(initial=0.0)) >= 2.0**50:
        return None
    a = np.array(alpha, dtype=np.float64)
    bt = np.array(beta, dtype=np.float64)
    if first == 0:
        merged = w * bt + 0.0  # (+ 0.0: no -0.0)
    else:
        onehot = np.zeros((len(col), problem.n))
        onehot[np.arange(len(col)), col] = bt
        merged = w @ onehot + 0.0
    weights: list[Any] = [merged]
    biases: list[Any] = [b + w @ a + 0.0]
    for index in range(first + 1, len(layers)):
        weights.append(_block(layers[index].weight, keep[index], keep[index - 1]) + 0.0)
        biases.append(layers[index].bias[keep[index]] + 0.0)
    # fresh float64 arrays, each entry a float of the network or an exact integer sum
    new_layers = []
    for wl, bl, src in zip(weights, biases, layers[first:], strict=True):
        wl.setflags(write=False)
        bl.setflags(write=False)
        new_layers.append(Layer(wl, bl, src.activation, negative_slope=src.negative_slope))
    binary_net = ReLUNetwork.from_layers(new_layers)
    binary_net, more = fold_discrete_prefix(binary_net, (0, 1))
    pre.folded_layers = first + more
    target = [problem.target[o] for o in keep_out]
    return InversionProblem(binary_net, target, Domain("binary"), p=problem.p), pruned


def _block(a: Any, rows: Any, cols: Any) -> Any:
    """``a[np.ix_(rows, cols)]`` for sorted distinct indices; an index array that takes
    every row (or column) is a plain slice (no fancy indexing on that axis)."""
    all_rows, all_cols = rows.size == a.shape[0], cols.size == a.shape[1]
    if all_rows and all_cols:
        return a
    if all_cols:
        return a[rows]
    if all_rows:
        return a[:, cols]
    return a[np.ix_(rows, cols)]


def _binary_problem(problem: InversionProblem, pre: CornerPresolve) -> tuple[InversionProblem, int]:
    """The binary problem: substituted first layer, forcing outputs dropped, dead units pruned."""
    fast = _binary_problem_float(problem, pre)
    if fast is not None:
        return fast
    layers = problem.network.layers
    n_layers = len(layers)
    rows_all = [layer.exact_rows() for layer in layers]
    sparse = [[dict(zip(idx, coef, strict=True)) for idx, coef in rows] for rows in rows_all]
    biases = [list(layer.exact_bias_values()) for layer in layers]
    # substitute z = low + (high - low) b in the first layer
    scale = [h - lo for lo, h in zip(pre.low, pre.high, strict=True)]
    for j, row in enumerate(sparse[0]):
        biases[0][j] += sum((c * pre.low[k] for k, c in row.items()), Fraction(0))
        sparse[0][j] = {k: c * scale[k] for k, c in row.items() if scale[k] != 0}
    keep_out = _kept_outputs(problem, pre)
    keep: list[list[int]] = [[] for _ in range(n_layers)]
    keep[-1] = keep_out
    pruned = 0
    for index in range(n_layers - 1, 0, -1):
        used = sorted({k for j in keep[index] for k, c in sparse[index][j].items() if c != 0})
        if not used:
            used = [0]
        pruned += layers[index - 1].n_out - len(used)
        keep[index - 1] = used
    weights: list[Any] = []
    bs: list[Any] = []
    prev = list(range(problem.n))
    for index in range(n_layers):
        weights.append(_dense([sparse[index][j] for j in keep[index]], prev))
        bs.append(_vector([biases[index][j] for j in keep[index]]))
        prev = keep[index]
    binary_net = ReLUNetwork(weights, bs, activations=[layer.activation_label for layer in layers])
    # on {0,1}^n, leading layers of one-latent units are affine: fold them away
    binary_net, pre.folded_layers = fold_discrete_prefix(binary_net, (0, 1))
    target = [problem.target[o] for o in keep_out]
    return InversionProblem(binary_net, target, Domain("binary"), p=problem.p), pruned
