"""Exact check that a box is a *clamp box* of a network: ``G(z) = G(clamp(z))``.

Part of the proof checker (:mod:`geninv.proofcheck`), independent of the
producer and of :mod:`geninv.analysis`.  Sufficient condition, checked in
rationals: every first-layer unit reads at most one latent, and for every unit
``u`` of layer 2 (of layer 1 in a one-layer network) and every latent ``i`` the
piecewise-linear function ``F_ui(s) = sum_j W2_uj f(W1_ji s + b1_j)`` over the
first-layer units ``j`` reading ``i`` (``f(W1_ui s + b1_u)`` itself for one
layer) has slope exactly 0 on every piece left of ``lower_i`` and right of
``upper_i``.  Layer 2's pre-activations are ``sum_i F_ui(z_i) + const``, so
clamping ``z`` changes none of them, nor anything after.  Slopes are evaluated
at one interior point of each piece between consecutive breakpoints.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

from geninv.problem import InversionProblem


def _slope_pieces(
    terms: list[tuple[Fraction, Fraction, Fraction, str, Fraction]], edge: Fraction, right: bool
) -> bool:
    """Whether sum_t coef * f(w s + b) has slope 0 on every piece beyond ``edge``.

    ``terms``: (coef, w, b, activation, alpha); f = identity or leaky with slope alpha."""
    bps = sorted({-b / w for (_, w, b, kind, _) in terms if kind != "identity" and w != 0} | {edge})
    pts = [v for v in bps if (v > edge if right else v < edge)]
    chain = [edge, *pts] if right else [*pts, edge]
    # sample points strictly inside each piece beyond the edge
    samples = [(u + v) / 2 for u, v in itertools.pairwise(chain)]
    samples.append(chain[-1] + 1 if right else chain[0] - 1)
    for s in samples:
        slope = Fraction(0)
        for coef, w, b, kind, alpha in terms:
            h = w * s + b
            d = Fraction(1) if kind == "identity" or h > 0 else alpha
            slope += coef * w * d
        if slope != 0:
            return False
    return True


def verify_clamp_box(
    problem: InversionProblem, box: Sequence[tuple[Fraction, Fraction]]
) -> str | None:
    """None when ``G(z) = G(clamp(z, box))`` for every real z (checked exactly), else why not."""
    layers = problem.network.layers
    first = list(layers[0].exact_rows())
    bias1 = list(layers[0].exact_bias_values())
    kind1: str = layers[0].activation
    if kind1 not in ("relu", "identity", "leaky_relu"):
        return f"the first layer's activation {kind1} is not piecewise linear"
    alpha1 = Fraction(0) if kind1 == "relu" else Fraction(layers[0].negative_slope)
    depth = len(layers)
    reads: list[tuple[int, Fraction, Fraction] | None] = []
    for j, (idx, val) in enumerate(first):
        if len(idx) > 1:
            return f"first-layer unit {j} reads {len(idx)} latents (not coordinate-separable)"
        reads.append((idx[0], val[0], bias1[j]) if idx else None)
    if depth == 1:
        consumers = [
            [(Fraction(1) if k == j else Fraction(0)) for k in range(len(first))]
            for j in range(len(first))
        ]
    else:
        consumers = []
        for idx, val in layers[1].exact_rows():
            rowv = [Fraction(0)] * len(first)
            for k, w in zip(idx, val, strict=True):
                rowv[k] = w
            consumers.append(rowv)
    for u, coefs in enumerate(consumers):
        for i in range(problem.n):
            terms = [
                (coefs[j], r[1], r[2], kind1, alpha1)
                for j, r in enumerate(reads)
                if r is not None and r[0] == i and coefs[j] != 0
            ]
            if not terms:
                continue
            lo, hi = box[i]
            if not (_slope_pieces(terms, hi, True) and _slope_pieces(terms, lo, False)):
                return (
                    f"the layer-{min(2, depth)} unit {u} still changes with z_{i} "
                    f"outside [{lo}, {hi}]"
                )
    return None
