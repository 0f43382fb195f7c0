"""Discrete-prefix folding: a presolve for binary and sign latents, as a reduction.

On a two-valued
latent domain ``{v_0, v_1}^n`` a unit of the first layer that reads at most one
latent ``z_k`` takes two values, so it *is* the affine function
``alpha + beta z_k`` there, with ``beta = (f(v_1) - f(v_0)) / (v_1 - v_0)`` and
``alpha = f(v_0) - beta v_0``.  When every unit of the first layer is like
that, the first layer folds exactly into the second, ``W_2 (alpha + B z) + b_2``
with ``B_jk = beta_j [k_j = k]``, and the network loses a layer without
changing any output on the domain.

:func:`fold_discrete_prefix` does this while it can (the network on the domain,
layer by layer); :class:`FoldDiscretePrefix` is the reduction
(``apply``/``invert``, composable in a :class:`~geninv.reductions.base.Chain`):
``apply`` returns the same question about the folded network (same latents, same
target, threshold and relation), so a witness of either is a witness of the
other and ``invert`` returns the solution as it is.  It is the discrete
counterpart of the clamp box of :mod:`geninv.analysis`; the corner presolve
(:mod:`geninv.solvers.corners`) folds the binary network it builds this way.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from geninv.analysis import _act
from geninv.errors import UnsupportedError
from geninv.network import PIECEWISE_LINEAR, Layer, ReLUNetwork
from geninv.problem import InversionProblem, Solution
from geninv.reductions.base import InverseData, Reduction

__all__ = ["FOLD_ACTIVATIONS", "FoldDiscretePrefix", "fold_discrete_prefix"]

_ZERO = Fraction(0)

#: Activations of a first layer :func:`fold_discrete_prefix` folds (the second
#: layer's activation is kept as it is, so it may be anything).
FOLD_ACTIVATIONS: frozenset[str] = PIECEWISE_LINEAR


class FoldDiscretePrefix(Reduction[InversionProblem, Solution]):
    """Binary or sign inversion problem -> the same question about its folded network.

    ``inverse_data``: ``{"folded_layers": k}`` (0 when nothing folds: the problem
    is returned as it is).  Refuses (:class:`~geninv.errors.UnsupportedError`) a
    problem whose latents are not binary or sign: the fold is exact on the two
    values only.
    """

    name = "fold"
    theorem = ""

    def apply(self, source: InversionProblem) -> tuple[InversionProblem, InverseData]:
        kind = source.domain.kind
        if kind not in ("binary", "sign"):
            raise UnsupportedError(
                f"folding the discrete prefix needs binary or sign latents, not {kind!r}"
            )
        folded, count = fold_discrete_prefix(source.network, source.domain.corner_values())
        inverse: InverseData = {"folded_layers": count}
        if count == 0:
            return source, inverse
        problem = InversionProblem(
            folded,
            source.target,
            source.domain,
            p=source.p,
            threshold=source.threshold,
            relation=source.relation,
            threshold_pow=source.threshold_pow,
            source=source.source,
            inverse_data=source.inverse_data,
        )
        return problem, inverse

    def invert(self, solution: Solution, inverse_data: InverseData) -> Solution:
        """The same latents: a witness of the folded problem is one of the source."""
        return solution


def fold_discrete_prefix(network: ReLUNetwork, values: tuple[int, int]) -> tuple[ReLUNetwork, int]:
    """Fold leading layers whose units each read at most one latent (module docstring).

    Exact on the domain ``{values[0], values[1]}^n`` only (not on the reals).
    Returns the new network and the number of layers folded (0: ``network``
    itself).  Only piecewise-linear first layers are folded.
    """
    if values[0] == values[1]:
        raise ValueError("fold_discrete_prefix needs two distinct domain values")
    layers = list(network.layers)
    folded = 0
    while len(layers) > 1:
        first, second = layers[0], layers[1]
        if first.activation not in FOLD_ACTIVATIONS:
            break
        if first.exact_weight is None and int(np.count_nonzero(first.weight, axis=1).max()) > 1:
            break
        n = first.n_in
        fast = _fold_integer(first, values)
        merged = None if fast is None else _merge_float(second, *fast, n)
        if merged is not None:
            # float64 integers below 2^52 (so finite and exact): a layer as is
            weight, bias = merged
            weight.setflags(write=False)
            bias.setflags(write=False)
            merged_layer = Layer(
                weight, bias, second.activation, negative_slope=second.negative_slope
            )
        else:
            rows = first.exact_rows()
            if any(len(idx) > 1 for idx, _ in rows):
                break
            lo, hi = Fraction(values[0]), Fraction(values[1])
            alpha: list[Fraction] = []
            beta: list[Fraction] = []
            col: list[int] = []
            for (idx, coef), b in zip(rows, first.exact_bias_values(), strict=True):
                if not idx:
                    alpha.append(_act(b, first))
                    beta.append(_ZERO)
                    col.append(0)
                    continue
                f0, f1 = _act(b + coef[0] * lo, first), _act(b + coef[0] * hi, first)
                slope = (f1 - f0) / (hi - lo)
                alpha.append(f0 - slope * lo)
                beta.append(slope)
                col.append(idx[0])
            weight, bias = _merge(second, alpha, beta, col, n)
            one = ReLUNetwork([weight], [bias], activations=[second.activation_label])
            merged_layer = one.layers[0]
        layers = [merged_layer, *layers[2:]]
        folded += 1
    if not folded:
        return network, 0
    return ReLUNetwork.from_layers(layers), folded


def _layer_weight(layer: Layer) -> object:
    return layer.exact_weight if layer.exact_weight is not None else layer.weight


def _layer_bias(layer: Layer) -> object:
    return layer.exact_bias if layer.exact_bias is not None else layer.bias


def _fold_integer(first: Layer, values: tuple[int, int]) -> tuple[Any, Any, Any] | None:
    """``(alpha, beta, col)`` of :func:`fold_discrete_prefix` for an integer ReLU or
    identity layer whose units read at most one latent, in float64 arrays, when every
    value is an integer below 2^52 (then exact); None otherwise (the caller computes
    them in Fractions).

    Unit j reads latent ``col_j`` with coefficient ``c_j`` (0: a constant unit,
    ``col_j = 0``); on {lo, hi} it is ``alpha_j + beta_j z`` with
    ``f(v) = act(b_j + c_j v)``, ``beta_j = (f(hi) - f(lo)) / (hi - lo)`` and
    ``alpha_j = f(lo) - beta_j lo``; None as well when some ``beta_j`` is not an
    integer.
    """
    if (
        first.exact_weight is not None
        or first.exact_bias is not None
        or first.activation not in ("relu", "identity")
    ):
        return None
    w, b = first.weight, first.bias
    nz = w != 0
    if w.size and int(nz.sum(axis=1).max()) > 1:
        return None
    if not (bool((np.trunc(w) == w).all()) and bool((np.trunc(b) == b).all())):
        return None
    flo, fhi = Fraction(values[0]), Fraction(values[1])
    if flo.denominator != 1 or fhi.denominator != 1 or flo == fhi:
        return None
    lo, hi = int(flo), int(fhi)
    c = w.sum(axis=1)  # the one coefficient of each row (0 for a constant unit)
    top = float(np.abs(b).max(initial=0.0)) + float(np.abs(c).max(initial=0.0)) * max(
        abs(lo), abs(hi)
    )
    if top >= 2.0**52:
        return None
    f0, f1 = b + c * lo, b + c * hi
    if first.activation == "relu":
        f0, f1 = np.maximum(f0, 0.0), np.maximum(f1, 0.0)
    diff = f1 - f0
    if not bool((np.remainder(diff, hi - lo) == 0).all()):
        return None
    beta = diff / (hi - lo) + 0.0  # an integer, exactly (+ 0.0: no negative zeros)
    alpha = f0 - beta * lo + 0.0
    # the column of each row's nonzero (argmax of an all-False row is 0, as wanted)
    col = nz.argmax(axis=1) if w.shape[1] else np.zeros(w.shape[0], dtype=np.intp)
    return alpha, beta, col


def _merge_float(second: Layer, a: Any, bt: Any, col: Any, n: int) -> tuple[Any, Any] | None:
    """``W_2 B`` and ``b_2 + W_2 alpha`` in float64 for integer ``alpha``/``beta``
    arrays and an integer second layer when every product and partial sum is an
    integer below 2^52 in magnitude (so exact); None otherwise."""
    w2 = second.weight
    if second.exact_weight is not None or second.exact_bias is not None:
        return None
    integral = bool((np.rint(w2) == w2).all() and (np.rint(second.bias) == second.bias).all())
    amax = float(np.abs(a).max(initial=0.0)) + float(np.abs(bt).max(initial=0.0))
    if not (
        integral
        and float(np.abs(w2).sum(axis=1).max(initial=0.0)) * amax
        + float(np.abs(second.bias).max(initial=0.0))
        < 2.0**52
    ):
        return None
    onehot = np.zeros((len(col), n))
    onehot[np.arange(len(col)), col] = bt
    return w2 @ onehot, second.bias + w2 @ a


def _merge(
    second: Layer, alpha: list[Fraction], beta: list[Fraction], col: list[int], n: int
) -> tuple[object, object]:
    """``W_2 B`` and ``b_2 + W_2 alpha``: in float64 when that is provably exact."""
    if all(v.denominator == 1 for v in (*alpha, *beta)):
        a = np.array([int(v) for v in alpha], dtype=np.float64)
        bt = np.array([int(v) for v in beta], dtype=np.float64)
        merged = _merge_float(second, a, bt, col, n)
        if merged is not None:
            return merged
    weight = [[_ZERO] * n for _ in range(second.n_out)]
    bias: list[Fraction] = []
    for j, ((idx, coef), b) in enumerate(
        zip(second.exact_rows(), second.exact_bias_values(), strict=True)
    ):
        row = weight[j]
        for i, c in zip(idx, coef, strict=True):
            b += c * alpha[i]
            if beta[i]:
                row[col[i]] += c * beta[i]
        bias.append(b)
    return weight, bias
