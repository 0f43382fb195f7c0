"""Bounds on every unit: interval and LP tightening, then target-aware tightening."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.bounds import Margin, affine_bounds
from geninv.budget import Budget
from geninv.errors import UnsupportedError
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray, Layer, ReLUNetwork
from geninv.solvers.milp.build import _build_milp, _Setup
from geninv.solvers.milp.common import (
    BOUND_SLACK_REL,
    HANDLED_ACTIVATIONS,
    LP_BOUND_MARGIN,
    SNAP_REL,
    TIGHTEN_MAX_UNITS,
    TINY_WEIGHT,
    _Highs,
    _highs_module,
    _new_highs,
)
from geninv.solvers.milp.highs import _name
from geninv.solvers.milp.model import (
    ACTIVE,
    INACTIVE,
    INFEASIBLE,
    LINEAR,
    UNSTABLE,
    _Bounds,
    _encode_input,
    _encode_layer,
    _Encoded,
    _Model,
)

# ------------------------------------------------------------------ bounds
#: The outward widening of the MILP's interval step (kept from before issue 16): a
#: unit with ``|W| |h| + |b| = 0`` is exactly ``[0, 0]`` and stays unpadded.
MILP_MARGIN = Margin(BOUND_SLACK_REL, 1e-300, floor_at_zero=False)


def _interval(
    weight: FloatArray, bias: FloatArray, hlo: FloatArray, hhi: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Outward pre-activation bounds and the magnitude ``|W| |h| + |b|``
    (:func:`geninv.bounds.affine_bounds`, centre form, :data:`MILP_MARGIN`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi, mag = affine_bounds(weight, bias, hlo, hhi, form="centre", margin=MILP_MARGIN)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise UnsupportedError(
            "interval bounds of the pre-activations overflow float64; "
            "the network cannot be encoded as a MILP"
        )
    return lo, hi, mag


def _exact_gap(layer: Layer) -> tuple[FloatArray, FloatArray]:
    """|W* - W| and |b* - b| (exact minus float parameters), rounded up."""
    if layer.exact_weight is None:
        return np.zeros(layer.weight.shape), np.zeros(layer.n_out)
    dw = np.array(
        [
            [float_up(abs(e - Fraction(float(f)))) for e, f in zip(row, frow, strict=True)]
            for row, frow in zip(layer.exact_weight, layer.weight, strict=True)
        ],
        dtype=np.float64,
    ).reshape(layer.weight.shape)
    db = np.array(
        [
            float_up(abs(e - Fraction(float(f))))
            for e, f in zip(layer.exact_bias_values(), layer.bias, strict=True)
        ],
        dtype=np.float64,
    )
    return dw, db


#: Activations the big-M encoding and :func:`compute_bounds` handle exactly; every
#: other layer is refused (the backend's capabilities and compute_bounds both say so).


def compute_bounds(
    network: ReLUNetwork,
    kind: str,
    lo: FloatArray,
    hi: FloatArray,
    tighten: bool,
    clock: Budget,
    budget: float,
) -> _Bounds:
    """Interval bounds, then (``tighten``) LP bounds for unstable units within ``budget`` s.

    Weights with ``|w| <= TINY_WEIGHT`` are dropped, and units within
    ``SNAP_REL * (1 + |W| |h| + |b|)`` of being stable are made stable; both
    changes are accounted for in ``error`` (see the module docstring).
    Only :data:`HANDLED_ACTIVATIONS` layers: any other raises UnsupportedError.
    """
    outside = network.first_layer_outside(HANDLED_ACTIVATIONS)
    if outside is not None:
        raise UnsupportedError(
            f"milp bound propagation handles relu and identity layers only, not {outside}"
        )
    hs = _highs_module() if tighten else None
    t0 = time.perf_counter()
    phase = clock.sub(seconds=budget)
    n = len(lo)
    bounds = _Bounds([], [], [], [], np.zeros(n))
    model = _Model()
    enc = _Encoded(_encode_input(model, kind, lo, hi, relax=True))
    hcols = enc.z
    hlo, hhi = lo, hi
    err = np.zeros(n)  # |model h - exact h| per unit of the current layer
    h: _Highs | None = None
    for index, layer in enumerate(network.layers):
        relu = layer.activation == "relu"
        tiny = (np.abs(layer.weight) <= TINY_WEIGHT) & (layer.weight != 0)
        weight = np.where(tiny, 0.0, layer.weight)
        bounds.dropped_weights += int(tiny.sum())
        llo, lhi, mag = _interval(weight, layer.bias, hlo, hhi)
        unstable = np.flatnonzero((llo < 0) & (lhi > 0))
        if tighten and relu and index > 0 and unstable.size:
            if phase.expired():
                bounds.complete = False
            else:
                assert hs is not None
                if h is None:
                    h = _new_highs(False)
                    # a wrong LP bound would cut off genuine solutions, and no later
                    # check could tell: keep presolve (seen to misjudge LPs) out of it
                    h.setOptionValue("presolve", "off")
                model.push(h, incremental=True)
                live = np.flatnonzero(hcols >= 0)
                cols = hcols[live].astype(np.int32)
                for j in unstable:
                    left = phase.left()
                    if left <= 0:
                        bounds.complete = False
                        break
                    # HiGHS measures time_limit on a clock that runs across run() calls
                    h.setOptionValue("time_limit", float(h.getRunTime()) + left)
                    h.changeColsCost(len(cols), cols, np.ascontiguousarray(weight[j, live]))
                    margin = LP_BOUND_MARGIN * (1.0 + float(mag[j]))
                    b = float(layer.bias[j])
                    for sense in ("max", "min"):
                        h.changeObjectiveSense(
                            hs.ObjSense.kMaximize if sense == "max" else hs.ObjSense.kMinimize
                        )
                        h.run()
                        bounds.lps += 1
                        if h.getModelStatus() != hs.HighsModelStatus.kOptimal:
                            continue
                        v = float(h.getInfo().objective_function_value) + b
                        if sense == "max" and v + margin < lhi[j]:
                            lhi[j] = v + margin
                            bounds.tightened += 1
                            if lhi[j] <= 0:
                                break  # stably inactive: the lower bound does not matter
                        elif sense == "min" and v - margin > llo[j]:
                            llo[j] = v - margin
                            bounds.tightened += 1
                h.changeColsCost(len(cols), cols, np.zeros(len(cols)))
        # unit states, snapping near-stable units
        state = np.full(layer.n_out, LINEAR if not relu else UNSTABLE, dtype=np.int8)
        snap_err = np.zeros(layer.n_out)
        if relu:
            eta = SNAP_REL * (1.0 + mag)
            inactive = lhi <= eta
            active = ~inactive & (llo >= -eta)
            state[inactive] = INACTIVE
            state[active] = ACTIVE
            snap_err = np.where(inactive, np.maximum(lhi, 0.0), 0.0)
            snap_err = np.where(active, np.maximum(-llo, 0.0), snap_err)
            bounds.snapped += int(np.sum(inactive & (lhi > 0)) + np.sum(active & (llo < 0)))
        # error of the model against the exact network (ReLU is 1-Lipschitz)
        dw, db = _exact_gap(layer)
        hmag = np.maximum(np.abs(hlo), np.abs(hhi))
        with np.errstate(over="ignore", invalid="ignore"):
            err = (
                np.abs(weight) @ err
                + np.abs(np.where(tiny, layer.weight, 0.0)) @ hmag
                + dw @ (hmag + err)
                + db
                + snap_err
            ) * (1.0 + 1e-9)
        bounds.weights.append(weight)
        bounds.lo.append(llo)
        bounds.hi.append(lhi)
        bounds.state.append(state)
        hlo, hhi = bounds.post(index)
        if index + 1 < len(network.layers):
            hcols = _encode_layer(model, weight, layer.bias, state, hcols, llo, lhi, True, enc)
    bounds.error = err
    bounds.seconds = time.perf_counter() - t0
    return bounds


def solver_bounds(
    setup: _Setup, tighten: bool | None, clock: Budget, budget: float
) -> tuple[_Bounds, bool]:
    """:func:`compute_bounds` of a solver run (the MILP's and the MIQP's) over the
    setup's float box, and whether LP tightening was on: ``tighten=None`` means on
    for networks of at most ``TIGHTEN_MAX_UNITS`` units; ``budget`` in seconds."""
    problem = setup.problem
    net = problem.network
    if tighten is None:
        tighten = sum(net.widths) <= TIGHTEN_MAX_UNITS
    bounds = compute_bounds(
        net, problem.domain.kind, setup.lo_f, setup.hi_f, tighten, clock, max(budget, 0.0)
    )
    return bounds, tighten


# ------------------------------------------------------------------ target-aware bounds
@dataclass
class _TargetPass:
    """What :func:`target_tighten` did (``stats["target_tightening"]``)."""

    lps: int = 0
    tightened: int = 0
    fixed_active: int = 0
    fixed_inactive: int = 0
    sweeps: int = 0
    seconds: float = 0.0
    complete: bool = True
    infeasible: str | None = None  # why the margin model's LP relaxation is empty

    def as_dict(self) -> dict[str, Any]:
        return {
            "lps": self.lps,
            "tightened": self.tightened,
            "fixed_active": self.fixed_active,
            "fixed_inactive": self.fixed_inactive,
            "sweeps": self.sweeps,
            "seconds": round(self.seconds, 6),
            "complete": self.complete,
            "lp_infeasible": self.infeasible is not None,
        }


def _restate(bounds: _Bounds, index: int, lo: FloatArray, hi: FloatArray, mag: FloatArray) -> int:
    """Intersect layer ``index``'s bounds with ``lo``/``hi`` and fix units that became stable.

    Only genuinely stable units are fixed (``hi <= 0``: inactive, ``lo >= 0``:
    active), so the model's outputs do not move and ``bounds.error`` stays
    valid; an unstable unit keeps bounds at least ``eta`` away from 0 (tiny
    big-M coefficients have tripped HiGHS).  Returns the number of units fixed.
    """
    st = bounds.state[index]
    unstable = st == UNSTABLE
    new_lo = np.where(unstable, np.maximum(bounds.lo[index], lo), bounds.lo[index])
    new_hi = np.where(unstable, np.minimum(bounds.hi[index], hi), bounds.hi[index])
    inactive = unstable & (new_hi <= 0)
    active = unstable & ~inactive & (new_lo >= 0)
    eta = SNAP_REL * (1.0 + mag)
    still = unstable & ~inactive & ~active
    new_hi = np.where(still, np.maximum(new_hi, eta), new_hi)
    new_lo = np.where(still, np.minimum(new_lo, -eta), new_lo)
    st = st.copy()
    st[inactive] = INACTIVE
    st[active] = ACTIVE
    bounds.lo[index], bounds.hi[index], bounds.state[index] = new_lo, new_hi, st
    return int(inactive.sum() + active.sum())


def target_tighten(
    setup: _Setup,
    bounds: _Bounds,
    cap: float,
    clock: Budget,
    budget: float,
    sweeps: int = 2,
) -> _TargetPass:
    """Tighten ``bounds`` in place with the output target (decide mode only).

    The LP relaxation of the *margin model* (the MILP with ``distance <= cap``,
    binaries relaxed to [0, 1]) contains every point of the box whose model
    output is within ``cap`` of the target, in particular every genuine witness
    (its model distance is at most ``delta + ||E|| < cap``).  Maximising and
    minimising each unstable unit's pre-activation over it therefore gives
    bounds that hold at every witness, though not on the whole box: the
    big-M rows built from them keep every witness, which is all that a ``no``
    needs.  Layer by layer from the input (the relaxation is rebuilt after each
    layer, with the tighter triangles), ``sweeps`` times; each LP optimum ``v``
    is widened by ``LP_BOUND_MARGIN * (1 + |W| |h| + |b|)`` as in
    :func:`compute_bounds`.  A unit whose bounds exclude 0 becomes stable.  If
    the relaxation itself is empty, no witness exists: ``infeasible`` says so
    and the caller confirms it by a second LP solve (interior point).
    """
    hs = _highs_module()
    net = setup.problem.network
    out = _TargetPass()
    t0 = time.perf_counter()
    phase = clock.sub(seconds=budget)

    def left() -> float:
        return phase.left()

    for sweep in range(sweeps):
        changed = 0
        for index, layer in enumerate(net.layers):
            if layer.activation != "relu":
                continue
            unstable = np.flatnonzero(bounds.state[index] == UNSTABLE)
            if unstable.size == 0:
                continue
            if left() <= 0:
                out.complete = False
                break
            milp = _build_milp(setup, bounds, cap, relax=True)
            if milp is None:
                out.infeasible = "outputs that are stably 0 already exceed the threshold"
                break
            h = _new_highs(False)
            h.setOptionValue("presolve", "off")
            milp.model.push(h)
            for col in milp.t_cols:  # the objective is set per unit below
                h.changeColCost(int(col), 0.0)
            h.setOptionValue("time_limit", max(left(), 1e-3))
            h.run()
            out.lps += 1
            status = h.getModelStatus()
            if _name(status) in INFEASIBLE:
                out.infeasible = f"the LP relaxation of the margin model is {_name(status)}"
                break
            prev = milp.enc.z if index == 0 else milp.enc.layers[index - 1]
            live = np.flatnonzero(prev >= 0)
            cols = prev[live].astype(np.int32)
            weight = bounds.weights[index]
            hlo, hhi = (setup.lo_f, setup.hi_f) if index == 0 else bounds.post(index - 1)
            _, _, mag = _interval(weight, layer.bias, hlo, hhi)
            lo = np.full(layer.n_out, -math.inf)
            hi = np.full(layer.n_out, math.inf)
            for j in unstable:
                if left() <= 0:
                    out.complete = False
                    break
                h.setOptionValue("time_limit", float(h.getRunTime()) + max(left(), 1e-3))
                h.changeColsCost(len(cols), cols, np.ascontiguousarray(weight[j, live]))
                margin = LP_BOUND_MARGIN * (1.0 + float(mag[j]))
                b = float(layer.bias[j])
                for sense in (hs.ObjSense.kMaximize, hs.ObjSense.kMinimize):
                    h.changeObjectiveSense(sense)
                    h.run()
                    out.lps += 1
                    st = h.getModelStatus()
                    if st != hs.HighsModelStatus.kOptimal:
                        if _name(st) in INFEASIBLE:
                            out.infeasible = f"the LP relaxation of the margin model is {_name(st)}"
                        continue
                    v = float(h.getInfo().objective_function_value) + b
                    if sense == hs.ObjSense.kMaximize:
                        if v + margin < bounds.hi[index][j]:
                            hi[j] = v + margin
                            out.tightened += 1
                        if v + margin <= 0:
                            break  # inactive: the lower bound does not matter
                    elif v - margin > bounds.lo[index][j]:
                        lo[j] = v - margin
                        out.tightened += 1
                if out.infeasible:
                    break
            if out.infeasible:
                break
            before = bounds.state[index].copy()
            changed += _restate(bounds, index, lo, hi, mag)
            out.fixed_inactive += int(
                np.sum((bounds.state[index] == INACTIVE) & (before != INACTIVE))
            )
            out.fixed_active += int(np.sum((bounds.state[index] == ACTIVE) & (before != ACTIVE)))
            # interval bounds of the later layers, from the tighter ones
            for k in range(index + 1, len(net.layers)):
                klo, khi, kmag = _interval(
                    bounds.weights[k], net.layers[k].bias, *bounds.post(k - 1)
                )
                if net.layers[k].activation == "relu":
                    changed += _restate(bounds, k, klo, khi, kmag)
        out.sweeps = sweep + 1
        if out.infeasible or not out.complete or changed == 0:
            break
    out.seconds = time.perf_counter() - t0
    return out


def _lp_infeasible_again(setup: _Setup, bounds: _Bounds, cap: float, clock: Budget) -> bool:
    """Re-solve the margin model's LP relaxation by interior point: empty again?"""
    milp = _build_milp(setup, bounds, cap, relax=True)
    if milp is None:
        return True
    h = _new_highs(False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "ipm")
    milp.model.push(h)
    h.setOptionValue(
        "time_limit", max(clock.left(), 1e-3) if math.isfinite(clock.left()) else math.inf
    )
    h.run()
    return _name(h.getModelStatus()) in INFEASIBLE
