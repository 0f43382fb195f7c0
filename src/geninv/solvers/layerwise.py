"""Layer-by-layer inversion by linear programming (Lei, Jalal, Dhillon & Dimakis 2019).

Lei, Jalal, Dhillon & Dimakis, "Inverting deep generative models, one layer at
a time", NeurIPS 2019: for an expansive ReLU network, invert the last layer
first, then use the recovered hidden vector as the target of the layer below,
down to the latent.  Each step is a linear program in the layer's input ``h``
(HiGHS via ``highspy``); nothing but the target is used (no ground-truth
activation pattern).

One layer ``y = act(W h + b)``, with ``a = W h + b``:

* ``relu``: a coordinate with ``y_j > zero_tol`` is *active* and gets
  ``y_j - eps <= a_j <= y_j + eps``; a coordinate with ``y_j <= zero_tol``
  (``zero_tol`` = 1e-9 max(1, ||y||_inf)) is *inactive* and gets ``a_j <=
  eps``.  For ``eps = 0`` this is the paper's exact-recovery LP
  (``a_j = y_j`` on the support, ``a_j <= 0`` off it); for ``eps > 0`` its
  l-infinity relaxation.
* ``leaky_relu`` with slope ``s > 0`` is inverted coordinatewise first
  (``v_j = y_j`` if ``y_j >= 0`` else ``y_j / s``), ``identity`` needs no
  inversion, and a *last* ``sigmoid``/``tanh`` layer is inverted by
  ``logit``/``atanh``; all of these then get ``|a_j - v_j| <= eps``.  A target
  entry of the last sigmoid/tanh layer that is *saturated* -- within
  ``SATURATION`` (1e-6) of the activation's bound or beyond it (a real image's
  exact 0 and 1 pixels) -- has no finite preimage, and gets a one-sided
  constraint instead: ``a_j <= v_j + eps`` at the lower end, ``a_j >= v_j - eps``
  at the upper, with ``v_j`` the preimage of the bound moved inward by
  ``SATURATION`` (``logit(1e-6)`` is about -13.8), as a ReLU's zero output gets
  ``a_j <= eps``.  Sigmoid/tanh in earlier layers are refused.
* The input ``h`` is constrained to ``h >= 0`` when it is the output of a
  ReLU layer, to the (inward-rounded) box for a box latent, and free
  otherwise.

``variant="linf"`` (default): the feasibility LP is tried at ``eps = 0``
first, then at ``eps_k = eps_start * max(1, ||y||_inf) * eps_factor^k`` for
``k = 0, 1, ..., max_eps_steps - 1`` (defaults ``eps_start = 1e-9``,
``eps_factor = 2``, ``max_eps_steps = 64``), and the first feasible ``eps``
wins, so it is within a factor ``eps_factor`` of the smallest feasible one on
the grid.  ``variant="l1"``: one LP per layer minimising the total violation
``sum_j t_j`` with ``t_j >= |a_j - y_j|`` on active (and inverted) coordinates
and ``t_j >= max(a_j, 0)`` on inactive ones -- the l1 relaxation.

Recovered ReLU outputs are clipped at 0 (HiGHS's 1e-7 feasibility tolerance
can leave tiny negatives), and the latent is clipped into the box.  The
resulting latent ``z`` is re-checked with :meth:`InversionProblem.exact_check`
in exact arithmetic: ``yes`` only if it meets the threshold, otherwise
``unknown`` with ``z``, ``distance``/``check`` and ``stats = {"best_distance":
<exact distance of z>, "restarts": 1, "iterations": <LPs solved>,
"layer_eps": [...]}`` (per layer, output first: the feasible ``eps`` for
``linf``, the total l1 violation for ``l1``).  The method is incomplete and never answers ``no``.
Exact inversion (delta = 0) is accepted; the LP solution is a float, so a
``yes`` needs the exact preimage to be representable, and the usual outcome is
``unknown`` with a tiny distance.  The paper's recovery guarantee (exact
recovery for Gaussian layers expanding by a factor of about 2.1 or more) makes
``yes`` at a small positive delta the typical success.

``time_limit`` bounds everything (each HiGHS run gets what is left); when it
runs out before the latent is reached the answer is ``unknown`` with no ``z``.
"""

from __future__ import annotations

import importlib
import math
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from geninv.budget import Budget
from geninv.errors import UnsupportedError, ValidationError
from geninv.network import FloatArray, Layer
from geninv.problem import InversionProblem, Solution, Status
from geninv.solvers.interface import Backend, Capabilities
from geninv.solvers.milp import float_down, float_up

ALL_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity", "leaky_relu", "sigmoid", "tanh"})
VARIANTS: tuple[str, ...] = ("linf", "l1")
#: Default first nonzero eps (times max(1, ||y||_inf)), its growth factor and step count.
EPS_START = 1e-9
EPS_FACTOR = 2.0
MAX_EPS_STEPS = 64
#: Hidden values at most this (times max(1, ||y||_inf)) count as inactive ReLU outputs.
ZERO_TOL = 1e-9
#: A last-layer sigmoid/tanh target within this of the activation's bound is saturated
#: (a one-sided constraint at the bound moved inward by it; module docstring).
SATURATION = 1e-6
#: Constraint kinds on ``a = W h + b``: ``a <= v (+ eps)``, ``|a - v| <= eps``, ``a >= v (- eps)``.
KIND_AT_MOST, KIND_EQUAL, KIND_AT_LEAST = 0, 1, 2


def _highs() -> Any:
    """A silent HiGHS instance (the bare core class avoids highspy's stdout banner)."""
    hs = importlib.import_module("highspy")
    cls = getattr(getattr(hs, "_core", None), "_Highs", None) or hs.Highs
    h = cls()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # presolve has misjudged LPs (see solvers/milp.py)
    return h


def _is_relu(layer: Layer) -> bool:
    return layer.activation == "relu" or (
        layer.activation == "leaky_relu" and layer.negative_slope == 0
    )


def layerwise_refusal(problem: InversionProblem) -> str | None:
    """Why the layer-wise LP cannot take ``problem`` (beyond the capabilities), or None."""
    layers = problem.network.layers
    for i, layer in enumerate(layers[:-1], start=1):
        if layer.activation in ("sigmoid", "tanh"):
            return (
                f"backend 'layerwise' inverts sigmoid/tanh only in the last layer; "
                f"layer {i} is {layer.activation}"
            )
    return None


@dataclass
class _LayerResult:
    h: FloatArray | None  # the layer's recovered input (None: time limit / failure)
    eps: float | None
    lps: int
    status: str


@dataclass
class _Layerwise:
    problem: InversionProblem
    variant: str
    eps_start: float
    eps_factor: float
    max_eps_steps: int
    zero_tol: float
    clock: Budget
    progress: bool
    lps: int = 0

    def left(self) -> float:
        return self.clock.left()

    def invert_output(self, layer: Layer, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Per coordinate of ``a = W h + b``: value v and kind (1: ``|a - v| <= eps``;
        0: ``a <= v + eps``; 2: ``a >= v - eps``)."""
        act = layer.activation
        scale = max(1.0, float(np.max(np.abs(y)))) if y.size else 1.0
        if _is_relu(layer):
            active = y > self.zero_tol * scale
            return np.where(active, y, 0.0), active.astype(np.float64)
        if act in ("sigmoid", "tanh"):
            lo, hi = (0.0, 1.0) if act == "sigmoid" else (-1.0, 1.0)
            low = y <= lo + SATURATION
            high = y >= hi - SATURATION
            yc = np.clip(y, lo + SATURATION, hi - SATURATION)
            v = np.log(yc) - np.log1p(-yc) if act == "sigmoid" else np.arctanh(yc)
            kind = np.where(low, KIND_AT_MOST, np.where(high, KIND_AT_LEAST, KIND_EQUAL))
            return v, kind.astype(np.float64)
        if act == "leaky_relu":
            slope = float(layer.negative_slope)
            v = np.where(y >= 0, y, y / slope)
        else:
            v = y.copy()
        return v, np.ones_like(y)

    def solve_layer(
        self, layer: Layer, y: FloatArray, h_lo: FloatArray, h_hi: FloatArray
    ) -> _LayerResult:
        w, b = layer.weight, layer.bias
        v, kind = self.invert_output(layer, y)
        if not np.all(np.isfinite(v)):
            return _LayerResult(None, None, 0, "non-finite target after inverting the activation")
        m, n_in = w.shape
        h = _highs()
        h.addVars(n_in, np.asarray(h_lo, dtype=np.float64), np.asarray(h_hi, dtype=np.float64))
        upper = kind != KIND_AT_LEAST  # a bound from above: a <= v (+ eps)
        lower = kind != KIND_AT_MOST  # a bound from below: a >= v (- eps)
        rhs = v - b
        scale = max(1.0, float(np.max(np.abs(y)))) if y.size else 1.0
        lps = 0
        if self.variant == "l1":
            t0 = n_in
            h.addVars(m, np.zeros(m), np.full(m, math.inf))
            h.changeColsCost(m, np.arange(t0, t0 + m, dtype=np.int32), np.ones(m))
            rows_lo: list[float] = []
            rows_hi: list[float] = []
            starts: list[int] = []
            idx: list[FloatArray] = []
            vals: list[FloatArray] = []
            cols = np.arange(n_in, dtype=np.int32)
            nnz = 0
            for j in range(m):
                signs = ((-1.0,) if upper[j] else ()) + ((1.0,) if lower[j] else ())
                for sign in signs:
                    # W_j h + sign * t_j  >= rhs (sign +1)  /  <= rhs (sign -1)
                    starts.append(nnz)
                    idx.append(np.append(cols, t0 + j).astype(np.int32))
                    vals.append(np.append(w[j], sign))
                    nnz += n_in + 1
                    if sign > 0:
                        rows_lo.append(float(rhs[j]))
                        rows_hi.append(math.inf)
                    else:
                        rows_lo.append(-math.inf)
                        rows_hi.append(float(rhs[j]))
            h.addRows(
                len(rows_lo),
                np.array(rows_lo),
                np.array(rows_hi),
                nnz,
                np.array(starts, dtype=np.int32),
                np.concatenate(idx),
                np.concatenate(vals),
            )
            status = self._run(h)
            lps = 1
            if status != "kOptimal":
                return _LayerResult(None, None, lps, status)
            sol = np.array(h.getSolution().col_value, dtype=np.float64)
            viol = float(np.sum(sol[t0:]))
            return _LayerResult(sol[:n_in], viol, lps, status)
        # l-infinity: feasibility LP at growing eps
        starts_a = np.arange(0, m * n_in, n_in, dtype=np.int32)
        idx_a = np.tile(np.arange(n_in, dtype=np.int32), m)
        lo0 = np.where(lower, rhs, -math.inf)
        hi0 = np.where(upper, rhs, math.inf)
        h.addRows(m, lo0, hi0, m * n_in, starts_a, idx_a, w.reshape(-1).astype(np.float64))
        all_rows = np.arange(m, dtype=np.int32)
        eps = 0.0
        for k in range(self.max_eps_steps + 1):
            if k > 0:
                eps = self.eps_start * scale * self.eps_factor ** (k - 1)
                lo_k = np.where(lower, rhs - eps, -math.inf)
                hi_k = np.where(upper, rhs + eps, math.inf)
                h.changeRowsBounds(m, all_rows, lo_k, hi_k)
            if self.left() <= 0:
                return _LayerResult(None, None, lps, "time limit")
            status = self._run(h)
            lps += 1
            if status == "kOptimal":
                sol = np.array(h.getSolution().col_value, dtype=np.float64)
                return _LayerResult(sol[:n_in], eps, lps, status)
            if status == "kTimeLimit":
                return _LayerResult(None, None, lps, "time limit")
        return _LayerResult(None, None, lps, f"infeasible up to eps = {eps:.3g}")

    def _run(self, h: Any) -> str:
        left = self.left()
        if math.isfinite(left):
            # HiGHS compares time_limit with its run clock, which keeps counting across
            # the successive run() calls on one instance (the eps steps re-solve it)
            h.setOptionValue("time_limit", float(h.getRunTime()) + max(left, 1e-3))
        h.run()
        return str(h.getModelStatus()).split(".")[-1]


def layerwise_solve(
    problem: InversionProblem,
    *,
    variant: str = "linf",
    eps_start: float = EPS_START,
    eps_factor: float = EPS_FACTOR,
    max_eps_steps: int = MAX_EPS_STEPS,
    zero_tol: float = ZERO_TOL,
    time_limit: float | None = None,
    progress: bool = False,
) -> Solution:
    """Invert layer by layer (see the module docstring); ``yes`` or ``unknown``."""
    start = time.perf_counter()
    reason = LayerwiseBackend.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    run = _Layerwise(
        problem,
        variant,
        eps_start,
        eps_factor,
        max_eps_steps,
        zero_tol,
        Budget(time_limit, start=start),
        progress,
    )
    layers = problem.network.layers
    n = problem.n
    kind = problem.domain.kind
    if kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        z_lo = np.array([float_up(v) for v in problem.domain.lower], dtype=np.float64)
        z_hi = np.array([float_down(v) for v in problem.domain.upper], dtype=np.float64)
    else:
        z_lo, z_hi = np.full(n, -math.inf), np.full(n, math.inf)
    stats: dict[str, Any] = {
        "best_distance": None,
        "restarts": 1,
        "iterations": 0,
        "variant": variant,
        "layer_eps": [],
    }
    y = problem.target_array()
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        if index == 0:
            h_lo, h_hi = z_lo, z_hi
        elif _is_relu(layers[index - 1]):
            h_lo, h_hi = np.zeros(layer.n_in), np.full(layer.n_in, math.inf)
        else:
            h_lo, h_hi = np.full(layer.n_in, -math.inf), np.full(layer.n_in, math.inf)
        res = run.solve_layer(layer, y, h_lo, h_hi)
        run.lps += res.lps
        stats["iterations"] = run.lps
        stats["layer_eps"].append(res.eps)
        if progress:
            sys.stderr.write(
                f"[layerwise] layer {index + 1}: {res.status}, "
                f"{'eps' if variant == 'linf' else 'l1 violation'} = {res.eps}\n"
            )
            sys.stderr.flush()
        if res.h is None:
            stats["failed_layer"] = index + 1
            why = (
                f"time limit while inverting layer {index + 1} of {len(layers)}"
                if res.status == "time limit"
                else f"layer {index + 1}: LP {res.status}"
            )
            return Solution(
                Status.UNKNOWN,
                "layerwise",
                seconds=time.perf_counter() - start,
                reason=f"{why}; no latent was recovered",
                stats=stats,
            )
        y = np.minimum(np.maximum(res.h, h_lo), h_hi)
    z = [float(v) for v in y]
    chk = problem.exact_check(z)
    stats["best_distance"] = chk.distance
    zf = [Fraction(v) for v in z]
    seconds = time.perf_counter() - start
    if chk.meets:
        return Solution(
            Status.YES,
            "layerwise",
            z=zf,
            distance=chk.distance,
            seconds=seconds,
            check=chk,
            stats=stats,
        )
    delta = problem.threshold_float()
    what = (
        "exact inversion (threshold 0)" if problem.is_exact_inversion else f"threshold {delta:.6g}"
    )
    detail = (
        f"the recovered latent is outside the domain ({chk.reason})"
        if not chk.in_domain
        else f"the recovered latent's exact distance {chk.distance:.6g} does not meet the {what}"
        if chk.decided
        else f"the recovered latent's distance vs the {what} is undecided ({chk.reason})"
    )
    return Solution(
        Status.UNKNOWN,
        "layerwise",
        z=zf,
        distance=chk.distance,
        seconds=seconds,
        reason=(
            f"layerwise is incomplete: {detail} (per-layer "
            f"{'eps' if variant == 'linf' else 'l1 violation'}, output first: "
            f"{', '.join(f'{e:.3g}' for e in stats['layer_eps'] if e is not None)}); "
            "this does not show that no preimage exists"
        ),
        check=chk,
        stats=stats,
    )


class LayerwiseBackend(Backend):
    """Layer-by-layer LP inversion (Lei et al. 2019) with HiGHS."""

    name = "layerwise"
    summary = "layer-by-layer LP inversion (Lei, Jalal, Dhillon & Dimakis 2019), HiGHS; incomplete"
    capabilities: ClassVar[Capabilities] = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=False,
        activations=ALL_ACTIVATIONS,
    )
    modules: ClassVar[tuple[str, ...]] = ("highspy",)
    no_basis = "floating-point solver"  # never answers 'no'; HiGHS LPs if it did

    def __init__(
        self,
        variant: str = "linf",
        eps_start: float = EPS_START,
        eps_factor: float = EPS_FACTOR,
        max_eps_steps: int = MAX_EPS_STEPS,
        zero_tol: float = ZERO_TOL,
    ) -> None:
        if variant not in VARIANTS:
            raise ValidationError(f"variant: expected 'linf' or 'l1', got {variant!r}")
        for what, value in (("eps_start", eps_start), ("zero_tol", zero_tol)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValidationError(f"{what}: expected a number > 0, got {value!r}")
        if (
            isinstance(eps_factor, bool)
            or not isinstance(eps_factor, (int, float))
            or not (eps_factor > 1 and math.isfinite(eps_factor))
        ):
            raise ValidationError(f"eps_factor: expected a number > 1, got {eps_factor!r}")
        if (
            isinstance(max_eps_steps, bool)
            or not isinstance(max_eps_steps, int)
            or max_eps_steps < 0
        ):
            raise ValidationError(f"max_eps_steps: expected an integer >= 0, got {max_eps_steps!r}")
        self.variant = variant
        self.eps_start = float(eps_start)
        self.eps_factor = float(eps_factor)
        self.max_eps_steps = max_eps_steps
        self.zero_tol = float(zero_tol)

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why ``layerwise`` cannot take ``problem``, or None: besides the capabilities,
        :func:`layerwise_refusal` (sigmoid/tanh only in the last layer, targets inside its
        range)."""
        return super().unsupported_reason(problem) or layerwise_refusal(problem)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Layer-by-layer LP inversion (incomplete): *yes* with a witness re-checked exactly,
        else *unknown* with the reason, never *no*."""
        return layerwise_solve(
            problem,
            variant=self.variant,
            eps_start=self.eps_start,
            eps_factor=self.eps_factor,
            max_eps_steps=self.max_eps_steps,
            zero_tol=self.zero_tol,
            time_limit=time_limit,
            progress=progress,
        )


__all__ = ["LayerwiseBackend", "layerwise_refusal", "layerwise_solve"]
