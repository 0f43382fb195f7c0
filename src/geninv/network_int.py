"""Exact evaluation of integer networks in machine integers.

A network whose every weight and bias is an integer of magnitude below 2^53 and
whose every activation is ReLU or the identity maps an integer latent to an
integer output.  With ``R_l`` at least the largest row sum of ``|W_l|`` and
``B_l`` at least ``max |b_l|``, every partial sum of layer ``l`` is at most

    R_l |h_{l-1}|_inf + B_l   in magnitude,

so bounding these in Python integers before evaluating tells which arithmetic
is exact: below 2^53 float64 (BLAS) products of integers are exact, below 2^62
int64 ones are; beyond, :meth:`IntegerEvaluation.forward_int` gives up and the
caller uses Fractions.  :class:`~geninv.network.ReLUNetwork` takes these methods
from :class:`IntegerEvaluation`; the bounds and the plan are computed once per
network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from geninv.rationals import FloatArray, integer_values

if TYPE_CHECKING:
    from geninv.network import Layer


def _reach(zmax: int, bounds: list[tuple[int, int]]) -> int:
    """The largest partial-sum bound of a forward pass from ``|z|_inf <= zmax`` through
    layers with row-sum bounds R and bias bounds B (``bounds``)."""
    bound = top = zmax
    for rmax, bmax in bounds:
        bound = rmax * bound + bmax
        top = max(top, bound)
    return top


class IntegerEvaluation:
    """The integer fast path of :class:`~geninv.network.ReLUNetwork` (a mixin: it reads
    the network's ``layers`` and keeps its plan and bounds on the network)."""

    layers: tuple[Layer, ...]
    _n_inputs: int
    _int_plan: list[tuple[Any, int, int, bool]] | bool | None
    _int_bounds: list[tuple[int, int]] | bool | None
    _plan_bounds: list[tuple[int, int]] | None  # (R, B) of the plan

    def _reset_integer_caches(self) -> None:
        """Forget the plan and the bounds (nothing computed yet: ``False``)."""
        self._int_plan = False
        self._int_bounds = False
        self._plan_bounds = None

    @property
    def integer_plan_known(self) -> bool:
        """Whether :meth:`integer_layers` has been computed (it is remembered)."""
        return self._int_plan is not False

    def integer_layers(self) -> list[tuple[Any, int, int, bool]] | None:
        """Per layer ``(S, R, B, relu)`` when every parameter is an integer of
        magnitude < 2^53 and every activation is ReLU or the identity, else None.

        ``S`` holds the row sums of ``|W|`` (a float64 array, each sum within a
        relative ``k 2^-52`` of the exact one for k terms), ``R`` an upper bound
        on the largest row sum of ``|W|`` and ``B`` on ``max |b|`` (Python ints),
        ``relu`` whether the layer has a ReLU.  The float64 parameters themselves
        are the integers.  Computed once per network.
        """
        if self._int_plan is not False:
            return self._int_plan  # type: ignore[return-value]
        plan: list[tuple[Any, int, int, bool]] | None = []
        layers = self.layers
        if any(
            layer.exact_weight is not None
            or layer.op is not None  # structured (convolutional): no dense integer path
            or layer.activation not in ("relu", "identity")
            for layer in layers
        ):
            self._int_plan = None
            return None
        if self._integer_parameters() is None:
            self._int_plan = None
            return None
        for layer in layers:
            w, b = layer.weight, layer.bias
            rows = np.abs(w) @ np.ones(w.shape[1])  # BLAS: one pass
            rmax = float(rows.max()) if rows.size else 0.0
            bmax = float(np.abs(b).max()) if b.size else 0.0
            # a float sum of k nonnegative terms is within a relative k 2^-53 of the exact one
            rmax *= 1 + w.shape[1] * 2.0**-52
            if rmax >= 2**53 or bmax >= 2**53:
                plan = None
                break
            assert plan is not None
            plan.append((rows, math.ceil(rmax) + 1, int(bmax), layer.activation == "relu"))
        self._int_plan = plan
        return plan

    def _integer_parameters(self) -> FloatArray | None:
        """Every layer's weights then biases in one flat float64 array, when every
        entry is an integer (truncation keeps it), else None."""
        flat = np.concatenate([a.ravel() for la in self.layers for a in (la.weight, la.bias)])
        return flat if bool((np.trunc(flat) == flat).all()) else None

    def integer_bounds(self) -> list[tuple[int, int]] | None:
        """Per layer ``(R, B)`` with ``R`` at least the largest row sum of ``|W|`` and
        ``B`` at least ``max |b|`` (Python ints), when every parameter is an integer of
        magnitude < 2^53 and every activation is ReLU or the identity, else None.

        Those of :meth:`integer_layers` when there is a plan; otherwise ``R`` is the
        layer's input width times its largest ``|w|`` (looser, and cheaper: no row
        sums).  Remembered.
        """
        plan = self._int_plan
        if plan is not False and plan is not None:
            if self._plan_bounds is None:
                self._plan_bounds = [(r, b) for _, r, b, _ in plan]  # type: ignore[union-attr]
            return self._plan_bounds
        if self._int_bounds is not False:
            return self._int_bounds  # type: ignore[return-value]
        bounds: list[tuple[int, int]] | None = None
        layers = self.layers
        if all(
            layer.exact_weight is None
            and layer.op is None
            and layer.activation in ("relu", "identity")
            for layer in layers
        ):
            flat = self._integer_parameters()
            if flat is not None:
                mags = np.abs(flat)
                bounds = []
                pos = 0
                for layer in layers:
                    nw, nb = layer.weight.size, layer.bias.size
                    wmax = float(mags[pos : pos + nw].max()) if nw else 0.0
                    bmax = float(mags[pos + nw : pos + nw + nb].max()) if nb else 0.0
                    pos += nw + nb
                    if wmax >= 2**53 or bmax >= 2**53:
                        bounds = None
                        break
                    bounds.append((int(wmax) * layer.n_in, int(bmax)))
        self._int_bounds = bounds
        return bounds

    def forward_int(self, ints: Sequence[int]) -> list[int] | None:
        """Exact evaluation of an integer network on an integer latent, as Python ints.

        Every partial sum of a layer is at most ``R |h|_inf + |b|_inf`` in
        magnitude (R from :meth:`integer_bounds`: the layer's width times its
        largest |w|, or its largest row sum of |W| when the first bound does not
        stay below 2^53); these bounds are computed in
        Python integers first and the evaluation gives up (returns None) if one
        could reach 2^62, so no int64 operation can overflow and the result is the
        exact integer value.  Below 2^53 every partial sum is an integer that
        float64 holds exactly, so the float64 (BLAS) product is used instead.
        None also when the network is not an integer network
        (:meth:`integer_bounds`).
        """
        bounds = self.integer_bounds()
        if bounds is None or len(ints) != self._n_inputs:
            return None
        zmax = max(map(abs, ints), default=0)
        top = _reach(zmax, bounds)
        # the loose bounds reach 2^53: the row sums (no plan when one of them does)
        if top >= 2**53 and self._int_plan is False and self.integer_layers() is not None:
            top = _reach(zmax, self.integer_bounds() or [])
        if top >= 2**62:
            return None
        if top < 2**53:
            # every partial sum is an integer below 2^53: float64 (BLAS) is exact too
            y = np.array(ints, dtype=np.float64)
            for layer in self.layers:
                y = layer.weight @ y + layer.bias
                if layer.activation == "relu":
                    y = np.maximum(y, 0.0)
            return y.astype(np.int64).tolist()  # type: ignore[no-any-return]
        x = np.array(ints, dtype=np.int64)
        for layer in self.layers:
            # int64 copies of the integer parameters (this path is rare: made on use)
            x = layer.weight.astype(np.int64) @ x + layer.bias.astype(np.int64)
            if layer.activation == "relu":
                x = np.maximum(x, 0)
        return x.tolist()  # type: ignore[no-any-return]

    def _forward_int(self, h: list[Fraction]) -> list[Fraction] | None:
        """:meth:`forward_int` for a latent of Fractions (None unless all are integers)."""
        ints = integer_values(h)
        if ints is None:
            return None
        out = self.forward_int(ints)
        return None if out is None else [Fraction(v) for v in out]
