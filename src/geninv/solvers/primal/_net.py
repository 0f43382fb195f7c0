"""Float64 machinery of the primal search: the problem in numpy form, batched forward
and backward passes by hand, distances and the gradient of the search objective.

Objective of the descent, for the residual ``d = G(z) - x`` of one start:

* ``p = inf``: the smooth maximum ``L = tau log sum_j exp(|d_j| / tau)``, with
  ``max_j |d_j| <= L <= max_j |d_j| + tau log q``; its gradient is
  ``softmax(|d| / tau)_j sign(d_j)``.  ``tau`` is a fraction of the current
  distance of each start, shrinking over the run (so the surrogate tends to the
  max itself);
* finite ``p``: ``sum_j |d_j|^p``, gradient ``p |d_j|^(p-1) sign(d_j)``, computed
  after dividing by ``max_j |d_j|`` (Adam's steps do not depend on the scale).

Everything is evaluated under ``np.errstate`` with overflowing rows given the
distance ``inf``: a huge network must not stop the search, only make it useless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from geninv.network import FloatArray, elu_float
from geninv.problem import InversionProblem, lp_norm_rows

BoolArray = np.ndarray


@dataclass
class FloatNet:
    """The layers as float64 arrays; ``kinds``: relu, leaky, identity, sigmoid, tanh, elu
    (``slopes``: the leaky slope, ELU's alpha, else 1)."""

    weights: list[FloatArray]
    biases: list[FloatArray]
    kinds: list[str]
    slopes: list[float]  # negative slope of relu (0) and leaky_relu layers, else 1
    piecewise_linear: bool


@dataclass
class Setup:
    """The problem in float64 form, and its exact box (None: unbounded)."""

    problem: InversionProblem
    net: FloatNet
    x: FloatArray
    p: float
    delta: float  # the threshold, rounded to float
    lo: FloatArray | None  # float box of the search (nearest floats of the exact box)
    hi: FloatArray | None
    lo_q: list[Fraction] | None  # exact box (box domain, input_box, or the corners' hull)
    hi_q: list[Fraction] | None
    corners: tuple[int, int] | None  # binary / sign latents

    @property
    def n(self) -> int:
        """Number of latents."""
        return self.problem.n

    @property
    def scale(self) -> float:
        """Typical magnitude of the outputs (for relative tolerances)."""
        top = float(np.max(np.abs(self.x))) if self.x.size else 0.0
        return 1.0 + top + self.delta


def make_setup(problem: InversionProblem) -> Setup:
    """The problem in float64 form (:class:`FloatNet`, target, delta) with its exact and float
    search boxes (None: unbounded)."""
    net = problem.network
    kinds: list[str] = []
    slopes: list[float] = []
    for layer in net.layers:
        act = layer.activation
        kinds.append("leaky" if act == "leaky_relu" else act)
        slopes.append(
            float(layer.negative_slope) if act in ("relu", "leaky_relu", "elu") else 1.0,
        )
    fnet = FloatNet(
        [la.weight for la in net.layers],
        [la.bias for la in net.layers],
        kinds,
        slopes,
        net.is_piecewise_linear,
    )
    dom = problem.domain
    lo_q: list[Fraction] | None = None
    hi_q: list[Fraction] | None = None
    corners: tuple[int, int] | None = None
    if dom.kind == "box":
        assert dom.lower is not None and dom.upper is not None
        lo_q, hi_q = list(dom.lower), list(dom.upper)
    elif dom.kind == "real" and problem.input_box is not None:
        lo_q, hi_q = list(problem.input_box[0]), list(problem.input_box[1])
    elif dom.is_discrete:
        corners = dom.corner_values()
        lo_q = [Fraction(corners[0])] * problem.n
        hi_q = [Fraction(corners[1])] * problem.n
    lo = hi = None
    if lo_q is not None and hi_q is not None:
        with np.errstate(over="ignore"):
            lo = np.array([_finite(float(v)) for v in lo_q], dtype=np.float64)
            hi = np.array([_finite(float(v)) for v in hi_q], dtype=np.float64)
        hi = np.maximum(hi, lo)
    return Setup(
        problem,
        fnet,
        problem.target_array(),
        problem.p,
        problem.threshold_float(),
        lo,
        hi,
        lo_q,
        hi_q,
        corners,
    )


def _finite(v: float) -> float:
    return v if math.isfinite(v) else math.copysign(np.finfo(np.float64).max, v)


def _act(h: FloatArray, kind: str, slope: float) -> FloatArray:
    if kind == "relu":
        return np.maximum(h, 0.0)
    if kind == "leaky":
        return np.where(h > 0, h, slope * h)
    if kind == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * h))
    if kind == "tanh":
        return np.tanh(h)
    if kind == "elu":
        return elu_float(h, slope)
    return h


def forward(net: FloatNet, z: FloatArray) -> tuple[FloatArray, list[FloatArray], list[FloatArray]]:
    """(outputs, pre-activations per layer, post-activations per layer) of a batch."""
    pres: list[FloatArray] = []
    posts: list[FloatArray] = []
    h = z
    with np.errstate(over="ignore", invalid="ignore"):
        for w, b, kind, slope in zip(net.weights, net.biases, net.kinds, net.slopes, strict=True):
            a = h @ w.T + b
            h = _act(a, kind, slope)
            pres.append(a)
            posts.append(h)
    return h, pres, posts


def backward(
    net: FloatNet, z: FloatArray, pres: list[FloatArray], posts: list[FloatArray], g: FloatArray
) -> FloatArray:
    """The gradient with respect to ``z`` of ``sum(g * outputs)`` (chain rule by hand)."""
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(len(net.weights) - 1, -1, -1):
            kind = net.kinds[k]
            a = pres[k]
            if kind == "relu":
                g = g * (a > 0)
            elif kind == "leaky":
                g = g * np.where(a > 0, 1.0, net.slopes[k])
            elif kind == "sigmoid":
                s = posts[k]
                g = g * s * (1.0 - s)
            elif kind == "tanh":
                t = posts[k]
                g = g * (1.0 - t * t)
            elif kind == "elu":  # alpha e^a = ELU(a) + alpha below 0
                g = g * np.where(a > 0, 1.0, posts[k] + net.slopes[k])
            g = g @ net.weights[k]
    return np.asarray(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float64)


def distances(setup: Setup, out: FloatArray) -> FloatArray:
    """Float ||G(z) - x||_p per row; ``inf`` where the evaluation overflowed."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = lp_norm_rows(out - setup.x, setup.p)
    return np.where(np.isfinite(d), d, np.inf)


def loss_gradient(setup: Setup, out: FloatArray, tau_frac: float) -> FloatArray:
    """The gradient of the objective (module docstring) with respect to the outputs."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = out - setup.x
        a = np.abs(d)
        top = a.max(axis=1, keepdims=True) if a.shape[1] else np.zeros((a.shape[0], 1))
        safe = np.where((top > 0) & np.isfinite(top), top, 1.0)
        if math.isinf(setup.p):
            w = np.exp((a - safe) / (tau_frac * safe))
            w /= w.sum(axis=1, keepdims=True)
            g = w * np.sign(d)
        elif setup.p == 1:
            g = np.sign(d)
        else:
            g = (a / safe) ** (setup.p - 1.0) * np.sign(d)
    return np.asarray(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float64)


def clip(setup: Setup, z: FloatArray) -> FloatArray:
    """``z`` clipped to the float search box (unchanged when unbounded)."""
    if setup.lo is None or setup.hi is None:
        return z
    return np.minimum(np.maximum(z, setup.lo), setup.hi)


def meets_float(setup: Setup, dist: float, slack: float = 1e-9) -> bool:
    """Whether a float distance is close enough to the threshold to deserve an exact check."""
    return dist <= setup.delta + slack * setup.scale
