"""Binary (or sign) latents -> real latents: Theorem 4's first four layers, for any instance.

Input: an inversion problem over {0,1}^n (or {-1,1}^n) with network G_bin,
target x, norm p, threshold delta and relation R.  Output: a problem over
z in R^n whose network G has four extra layers in front of G_bin:

* layer 1 (n units):   a_i = ReLU(z_i)                        = max(z_i, 0)
* layer 2 (n units):   c_i = ReLU(1 - a_i)                    = 1 - v_i,  v_i = clamp(z_i, 0, 1)
* layer 3 (2n units):  u_i = ReLU(c_i - 1/2) = ReLU(1/2 - v_i)
                       e_i = ReLU(1/2 - c_i) = ReLU(v_i - 1/2)   (u_i + e_i = |v_i - 1/2|)
* layer 4 (n + 1):     t_i = ReLU(1 - 4 u_i)                  (the "snap")
                       E   = ReLU(s * sum_i (u_i + e_i))      = s * sum_i |v_i - 1/2|

then G_bin's first layer applied to t (to 2t - 1 for sign instances, folded into
its weights and bias), G_bin's other layers, and E carried along by one extra
unit per layer (E >= 0, so ReLU passes it unchanged).  The target is (x, s n/2);
p, delta and R are unchanged.  Depth L + 4 (5 for Theorems 4 and 6, as the
paper says), widths (n, n, 2n, n + 1, m_1 + 1, ..., m_L + 1).

Why it is correct, for every p in [1, inf] and both relations.

* Binary witness z: v = z, u_i + e_i = 1/2, so E = s n/2 exactly, and t = z
  (u_i = 1/2 gives t_i = ReLU(-1) = 0, u_i = 0 gives 1): the distance is the
  binary one.
* Real witness z: the extra coordinate alone gives
  s (n/2 - sum_i |v_i - 1/2|) = s sum_i min(v_i, 1 - v_i) <= delta, so every
  v_i lies within delta/s of {0, 1}.  With **s = max(1, ceil(4 delta))**, delta/s <= 1/4,
  hence v_i <= 1/4 (u_i >= 1/4, t_i = 0) or v_i >= 3/4 (u_i = 0, t_i = 1): t is a
  binary point, and dropping the extra coordinate cannot increase the norm, so
  ||G_bin(t) - x||_p R delta.  The map back is t_i = [clamp(z_i, 0, 1) >= 1/2].

The paper's gadget is s = 1, which works for delta <= 1/4 (it says < 1/4) and
fails above (docs/errata.md E11).  Appendix A instead rescales the clamp
interval; scaling only the extra coordinate (ReLU is positively homogeneous)
is simpler and keeps the latent witness the same binary vector, so geninv does
that.  s is an integer so the lifted weights stay exact floats.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.errors import UnsupportedError
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, SourceInfo, Status
from geninv.reductions._build import root_upper
from geninv.reductions.base import InverseData, Reduction


def _layer_params(layer: Any, sign_input: bool) -> tuple[Any, Any]:
    """A layer's (W, b), on input 2t - 1 instead of t when ``sign_input``.

    Float arrays when the layer is integer-valued (all arithmetic below is then
    exact in float64), exact Fractions otherwise.
    """
    w_f, b_f = layer.weight, layer.bias
    integral = (
        layer.exact_weight is None
        and bool(np.all(np.floor(w_f) == w_f))
        and bool(np.all(np.floor(b_f) == b_f))
        and float(np.abs(w_f).sum()) + float(np.abs(b_f).sum()) < 2.0**50
    )
    if integral:
        if sign_input:
            return 2 * w_f, b_f - w_f.sum(axis=1)
        return w_f, b_f
    w = [
        list(r) for r in (layer.exact_weight or [[Fraction(float(v)) for v in row] for row in w_f])
    ]
    b = list(layer.exact_bias_values())
    if sign_input:
        b = [bi - sum(r, Fraction(0)) for r, bi in zip(w, b, strict=True)]
        w = [[2 * v for v in r] for r in w]
    return w, b


def _with_carry(w: Any, b: Any) -> tuple[Any, Any]:
    """Append one input column and one unit that copies the extra input (E) unchanged."""
    if isinstance(w, np.ndarray):
        m, k = w.shape
        arr = np.zeros((m + 1, k + 1))
        arr[:m, :k] = w
        arr[m, k] = 1.0
        return arr, np.concatenate([np.asarray(b, dtype=np.float64), [0.0]])
    k = len(w[0])
    cw = [[*r, Fraction(0)] for r in w] + [[Fraction(0)] * k + [Fraction(1)]]
    return cw, [*b, Fraction(0)]


def scale_for(problem: InversionProblem) -> Fraction:
    """s = max(1, ceil(4 delta)): an integer, so the lifted weights stay exact floats."""
    if problem.threshold_pow is not None:
        delta = root_upper(problem.threshold_pow, int(problem.p))
    else:
        delta = problem.threshold
    return Fraction(max(1, math.ceil(4 * delta)))


class BinaryToReal(Reduction[InversionProblem, Solution]):
    """Lift a binary- or sign-latent problem to real latents (Theorem 4's gadget, any delta)."""

    name = "lift"
    theorem = "binary-to-real lifting (Theorem 4)"

    def __init__(self, scale: Fraction | None = None) -> None:
        """``scale`` overrides s (e.g. 1 reproduces the paper's gadget, errata E11).

        A scale below 4 delta makes the lifting unsound; it exists for experiments.
        """
        self.scale = scale

    def apply(self, source: InversionProblem) -> tuple[InversionProblem, InverseData]:
        """The lifted problem over real latents (four gadget layers, then the source network with
        a carry unit) and ``inverse_data``; raises :class:`~geninv.errors.UnsupportedError`
        unless the source's latents are binary or sign."""
        kind = source.domain.kind
        if kind not in ("binary", "sign"):
            raise UnsupportedError(
                f"lifting applies to binary or sign instances, not {kind!r} ones"
            )
        net = source.network
        n = net.n_inputs
        s = scale_for(source) if self.scale is None else Fraction(self.scale)
        eye = np.eye(n)
        w3 = np.vstack([eye, -eye])  # on c: u = ReLU(c - 1/2), e = ReLU(1/2 - c)
        b3 = np.concatenate([np.full(n, -0.5), np.full(n, 0.5)])
        w4_rows: list[list[Any]] = []
        b4: list[Any] = []
        for i in range(n):  # t_i = ReLU(1 - 4 u_i)
            row: list[Any] = [0] * (2 * n)
            row[i] = -4
            w4_rows.append(row)
            b4.append(1)
        w4_rows.append([s] * (2 * n))  # E = s * sum(u + e)
        b4.append(0)
        # G_bin's first layer on t (sign: on 2t - 1), plus the carry unit for E.
        weights: list[Any] = [eye, -eye, w3, w4_rows]
        biases: list[Any] = [np.zeros(n), np.ones(n), b3, b4]
        for idx, layer in enumerate(net.layers):
            w, b = _layer_params(layer, sign_input=(idx == 0 and kind == "sign"))
            cw, cb = _with_carry(w, b)
            weights.append(cw)
            biases.append(cb)
        lifted = ReLUNetwork(weights, biases, final_activation=net.final_activation)
        inverse: InverseData = {"n": n, "domain": kind, "scale": str(s)}
        params = dict(source.source.parameters)
        params["lifting_scale"] = str(s)
        src = source.source
        problem = InversionProblem(
            lifted,
            [*source.target, s * n / 2],
            Domain("real"),
            p=source.p,
            threshold=source.threshold,
            relation=source.relation,
            threshold_pow=source.threshold_pow,
            source=SourceInfo(
                reduction=f"{src.reduction}+lift" if src.reduction else "lift",
                theorem=src.theorem,
                file=src.file,
                sha256=src.sha256,
                parameters=params,
                expected=src.expected,
                copy=src.copy,
            ),
            inverse_data=inverse,
            input_box=([0] * n, [1] * n),
        )
        return problem, inverse

    @staticmethod
    def encode(z: list[Any], inverse_data: InverseData) -> list[Fraction]:
        """Binary (or sign) witness -> real witness: z itself (sign: (z + 1) / 2)."""
        if inverse_data["domain"] == "sign":
            return [(Fraction(v) + 1) / 2 for v in z]
        return [Fraction(v) for v in z]

    @staticmethod
    def decode(z: list[Any], inverse_data: InverseData) -> list[int]:
        """Real witness -> binary (or sign) point t_i = [clamp(z_i, 0, 1) >= 1/2]."""
        t = [1 if Fraction(v) >= Fraction(1, 2) else 0 for v in z]
        if inverse_data["domain"] == "sign":
            return [2 * v - 1 for v in t]
        return t

    def invert(self, solution: Solution, inverse_data: InverseData) -> Solution:
        """A ``yes``: the binary (or sign) point the real witness rounds to; any other answer
        keeps its status, proof and reason (the lifting preserves the answer)."""
        if solution.status is not Status.YES or solution.z is None:
            return Solution(
                solution.status,
                solution.method,
                proof=solution.proof,
                reason=solution.reason,
            )
        t = self.decode(solution.z, inverse_data)
        return Solution(Status.YES, solution.method, z=[Fraction(v) for v in t])


def lift(problem: InversionProblem) -> InversionProblem:
    """Convenience: the lifted problem, with the source's inverse data chained."""
    lifted, inv = BinaryToReal().apply(problem)
    if problem.source.reduction:
        lifted.inverse_data = {
            "chain": [problem.source.reduction, "lift"],
            "steps": [problem.inverse_data, inv],
        }
    return lifted
