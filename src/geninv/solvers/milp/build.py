"""The problem's setup (scaling, tolerance) and the MILP of the decision or the minimum."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from geninv.errors import UnsupportedError, ValidationError
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray
from geninv.problem import InversionProblem
from geninv.solvers.milp.common import NO_BOUNDS_MESSAGE, TOL_REL, IntArray, Norm, milp_reason
from geninv.solvers.milp.model import _Bounds, _encode_input, _encode_layer, _Encoded, _Model


# ------------------------------------------------------------------ setup
@dataclass
class _Setup:
    problem: InversionProblem
    lo: list[Fraction]  # exact latent box
    hi: list[Fraction]
    lo_f: FloatArray  # outward float box
    hi_f: FloatArray
    delta: Fraction
    norm: Norm
    project_work: int  # Fraction multiply-adds of one exact projection

    @property
    def delta_f(self) -> float:
        return float(self.delta)


def _latent_box(
    problem: InversionProblem, no_bounds: str, encoding: str
) -> tuple[list[Fraction], list[Fraction], FloatArray, FloatArray]:
    """The exact latent box (a discrete domain's corners, the box, or a real domain's
    ``input_box``) and the float box around it (rounded outward).

    A real domain without ``input_box`` raises UnsupportedError(``no_bounds``), an
    inverted box ValidationError, a float box that overflows UnsupportedError
    naming ``encoding`` (the MILP backend and the MIQP backend share this)."""
    kind = problem.domain.kind
    n = problem.n
    if kind in ("binary", "sign"):
        a, b = problem.domain.corner_values()
        lo = [Fraction(a)] * n
        hi = [Fraction(b)] * n
    elif kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        lo, hi = list(problem.domain.lower), list(problem.domain.upper)
    else:
        if problem.input_box is None:
            raise UnsupportedError(no_bounds)
        lo, hi = list(problem.input_box[0]), list(problem.input_box[1])
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            raise ValidationError("input_box has a lower bound above its upper bound")
    lo_f = np.array([float_down(v) for v in lo], dtype=np.float64)
    hi_f = np.array([float_up(v) for v in hi], dtype=np.float64)
    if not (np.all(np.isfinite(lo_f)) and np.all(np.isfinite(hi_f))):
        raise UnsupportedError(f"latent bounds overflow float64; cannot encode {encoding}")
    return lo, hi, lo_f, hi_f


def _setup(problem: InversionProblem) -> _Setup:
    reason = milp_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    n = problem.n
    lo, hi, lo_f, hi_f = _latent_box(problem, NO_BOUNDS_MESSAGE, "as a MILP")
    # exact inversion is the same question for every p: other p use l-inf
    norm = "1" if problem.p == 1 else "inf"
    if problem.is_exact_inversion:
        delta = Fraction(0)
    else:
        # for p = 1, threshold_pow is delta itself
        tp = problem.threshold_pow
        delta = tp if tp is not None else problem.threshold
    work = n * sum(int(np.count_nonzero(layer.weight)) for layer in problem.network.layers)
    return _Setup(problem, lo, hi, lo_f, hi_f, delta, norm, work)  # type: ignore[arg-type]


def _tolerance(setup: _Setup, bounds: _Bounds) -> float:
    """The margin of every ``no``: ``TOL_REL * scale`` plus twice the modelling error."""
    problem = setup.problem
    olo, ohi = bounds.post(len(bounds.state) - 1)
    x = problem.target_array()
    q = len(x)
    scale = max(
        1.0,
        setup.delta_f,
        float(np.max(np.abs(x))) if q else 0.0,
        float(np.max(np.abs(olo))),
        float(np.max(np.abs(ohi))),
    )
    if setup.norm == "1":
        scale *= q
    dt = np.array([float_up(abs(t - Fraction(float(t)))) for t in problem.target], dtype=np.float64)
    err = dt + bounds.error
    extra = float(err.sum() if setup.norm == "1" else err.max(initial=0.0))
    tol = TOL_REL * scale + 2.0 * extra
    return tol if math.isfinite(tol) else math.inf


@dataclass
class _Milp:
    model: _Model
    enc: _Encoded
    t_cols: IntArray


def _build_milp(
    setup: _Setup, bounds: _Bounds, cap: float | None, relax: bool = False
) -> _Milp | None:
    """The MILP: minimise the distance; ``cap`` bounds it from above (decide mode).

    None when the cap is already violated by outputs that are stably 0.  With
    ``relax`` the binaries are relaxed to [0, 1] (the LP relaxation).
    """
    problem = setup.problem
    net = problem.network
    model = _Model()
    enc = _Encoded(_encode_input(model, problem.domain.kind, setup.lo_f, setup.hi_f, relax=relax))
    hcols = enc.z
    for index, layer in enumerate(net.layers):
        hcols = _encode_layer(
            model,
            bounds.weights[index],
            layer.bias,
            bounds.state[index],
            hcols,
            bounds.lo[index],
            bounds.hi[index],
            relax,
            enc,
        )
        enc.layers.append(hcols)
    x = problem.target_array()
    if setup.norm == "inf":
        const = max((abs(float(x[j])) for j in range(len(x)) if hcols[j] < 0), default=0.0)
        if cap is not None and const > cap:
            return None  # a constant output is farther than the cap from its target
        t = model.add_col(const, math.inf if cap is None else cap, cost=1.0)
        t_cols = np.array([t], dtype=np.int64)
        tcol_of = [t] * len(x)
    else:
        tcol_of = []
        for j in range(len(x)):
            if hcols[j] < 0:
                c = abs(float(x[j]))
                tcol_of.append(model.add_col(c, c, cost=1.0))
            else:
                tcol_of.append(model.add_col(0.0, math.inf, cost=1.0))
        t_cols = np.array(tcol_of, dtype=np.int64)
        if cap is not None and sum(model.col_lo[t] for t in tcol_of) > cap:
            return None
        if cap is not None:
            model.add_row(-math.inf, cap, t_cols, np.ones(len(t_cols)))
    for j, y in enumerate(hcols):
        if y < 0:
            continue
        xj = float(x[j])
        model.add_row(-xj, math.inf, [tcol_of[j], int(y)], [1.0, -1.0])  # t >= y - x
        model.add_row(xj, math.inf, [tcol_of[j], int(y)], [1.0, 1.0])  # t >= x - y
    return _Milp(model, enc, t_cols)
