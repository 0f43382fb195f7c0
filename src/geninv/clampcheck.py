"""Exact check that a box is a *clamp box* of a network: ``G(z) = G(clamp(z))``.

Part of the proof checker (:mod:`geninv.proofcheck`), independent of the
producer and of :mod:`geninv.analysis` (which *finds* such boxes).

Sufficient condition, checked in rationals.  Follow the *separable prefix*:
layer by layer, a unit whose nonzero weights all read units (or latents) that
depend on one and the same latent ``z_i`` (or on none) computes an exactly
known continuous piecewise-linear (PL) function of ``z_i``: a PL function is
stored by its knots, its values there and its two end slopes; a weighted sum
of PL functions of ``z_i`` is PL on the union of their knots; an activation
``f(h) = h`` (h >= 0) / ``alpha h`` (h < 0) adds a knot at every zero crossing.
Let layer ``K + 1`` be the first layer with a unit that reads two latents
(``K = L``: the whole network is separable).  Its pre-activations are
``sum_i F_ui(z_i) + b_u`` with ``F_ui`` the weighted sum of its inputs that
depend on ``z_i`` (for ``K = L``: the outputs themselves, one latent each).
If every ``F_ui`` is constant on ``(-inf, lower_i]`` and on ``[upper_i, inf)``
(end slope 0 and equal values at every knot beyond the edge), clamping ``z``
changes none of them, hence nothing downstream: ``G(z) = G(clamp(z))``, and
the real problem has a witness iff the box problem does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from geninv.problem import InversionProblem

_ZERO = Fraction(0)


@dataclass(frozen=True)
class _PL:
    """A continuous PL function of one variable: knots xs (sorted, >= 1), values ys,
    and the slopes left of xs[0] and right of xs[-1]."""

    xs: tuple[Fraction, ...]
    ys: tuple[Fraction, ...]
    left: Fraction
    right: Fraction

    def at(self, s: Fraction) -> Fraction:
        xs, ys = self.xs, self.ys
        if s <= xs[0]:
            return ys[0] + self.left * (s - xs[0])
        if s >= xs[-1]:
            return ys[-1] + self.right * (s - xs[-1])
        k = max(i for i in range(len(xs)) if xs[i] <= s)
        if xs[k] == s:
            return ys[k]
        return ys[k] + (ys[k + 1] - ys[k]) * (s - xs[k]) / (xs[k + 1] - xs[k])

    def constant_beyond(self, lo: Fraction, hi: Fraction) -> bool:
        if self.left != 0 or self.right != 0:
            return False
        vlo, vhi = self.at(lo), self.at(hi)
        return all(y == vlo for x, y in zip(self.xs, self.ys, strict=True) if x < lo) and all(
            y == vhi for x, y in zip(self.xs, self.ys, strict=True) if x > hi
        )


def _affine(w: Fraction, b: Fraction) -> _PL:
    return _PL((_ZERO,), (b,), w, w)


def _combine(terms: list[tuple[Fraction, _PL]], bias: Fraction) -> _PL:
    xs = sorted({x for _, f in terms for x in f.xs}) or [_ZERO]
    ys = [bias + sum((w * f.at(x) for w, f in terms), _ZERO) for x in xs]
    left = sum((w * f.left for w, f in terms), _ZERO)
    right = sum((w * f.right for w, f in terms), _ZERO)
    return _PL(tuple(xs), tuple(ys), left, right)


def _activate(f: _PL, kind: str, alpha: Fraction) -> _PL:
    if kind == "identity":
        return f
    xs, ys = list(f.xs), list(f.ys)
    knots = set(xs)
    for k in range(len(xs) - 1):
        if ys[k] * ys[k + 1] < 0:
            knots.add(xs[k] - ys[k] * (xs[k + 1] - xs[k]) / (ys[k + 1] - ys[k]))
    if f.left != 0:
        r = xs[0] - ys[0] / f.left
        if r < xs[0]:
            knots.add(r)
    if f.right != 0:
        r = xs[-1] - ys[-1] / f.right
        if r > xs[-1]:
            knots.add(r)
    nx = sorted(knots)

    def act(v: Fraction) -> Fraction:
        return v if v >= 0 else alpha * v

    ny = [act(f.at(x)) for x in nx]
    # far left the sign of f is that of -left (or of its value when left == 0)
    left = f.left if (f.left < 0 or (f.left == 0 and ys[0] >= 0)) else alpha * f.left
    right = f.right if (f.right > 0 or (f.right == 0 and ys[-1] >= 0)) else alpha * f.right
    if f.left == 0:
        left = _ZERO
    if f.right == 0:
        right = _ZERO
    return _PL(tuple(nx), tuple(ny), left, right)


def verify_clamp_box(
    problem: InversionProblem, box: Sequence[tuple[Fraction, Fraction]]
) -> str | None:
    """None when ``G(z) = G(clamp(z, box))`` for every real z (checked exactly), else why not."""
    layers = problem.network.layers
    # per unit of the current layer: (latent or None, its PL function or constant value)
    prev: list[tuple[int | None, _PL]] = [
        (i, _affine(Fraction(1), _ZERO)) for i in range(problem.n)
    ]
    for li, layer in enumerate(layers, start=1):
        kind: str = layer.activation
        if kind not in ("relu", "identity", "leaky_relu"):
            return f"layer {li}'s activation {kind} is not piecewise linear"
        alpha = _ZERO if kind == "relu" else Fraction(layer.negative_slope)
        rows = layer.exact_rows()
        bias = layer.exact_bias_values()
        mixing = any(
            len({prev[k][0] for k in idx if prev[k][0] is not None}) > 1 for idx, _ in rows
        )
        if mixing or li == len(layers):
            # check every per-latent part of this layer's pre-activations (mixing), or
            # every output unit (all separable)
            for u, (idx, val) in enumerate(rows):
                groups: dict[int, list[tuple[Fraction, _PL]]] = {}
                for k, w in zip(idx, val, strict=True):
                    lat = prev[k][0]
                    if lat is not None:
                        groups.setdefault(lat, []).append((w, prev[k][1]))
                for lat, terms in groups.items():
                    f = _combine(terms, _ZERO)
                    if not mixing:
                        f = _activate(_combine(terms, bias[u]), kind, alpha)
                    lo, hi = box[lat]
                    if not f.constant_beyond(lo, hi):
                        return (
                            f"layer-{li} unit {u} still changes with z_{lat} outside [{lo}, {hi}]"
                        )
            return None
        cur: list[tuple[int | None, _PL]] = []
        for u, (idx, val) in enumerate(rows):
            lats = {prev[k][0] for k in idx if prev[k][0] is not None}
            terms = [(w, prev[k][1]) for k, w in zip(idx, val, strict=True)]
            f = _activate(_combine(terms, bias[u]), kind, alpha)
            cur.append((next(iter(lats)) if lats else None, f))
        prev = cur
    return None
