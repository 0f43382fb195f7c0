"""Exact check of piecewise-linear lower bounds of ``|f(u) - x|`` for a last sigmoid / tanh.

Used by the version-2 ``geninv-smooth-box`` certificate (l_p, p < inf; see
:mod:`geninv.proofcheck_smooth`).  For one output, with ``f`` sigmoid or tanh,
target ``x`` and a pre-activation interval ``[lo, hi]``, the certificate gives
*terms* ``(w_i, g_i)`` (rationals, ``w_i != 0``) and claims

    g(u) = sum_i relu(w_i u + g_i)  <=  |f(u) - x|      for every u in [lo, hi].

``g`` is convex and piecewise linear (a sum of ReLUs of lines): increasing terms
(``w > 0``) bound ``f(u) - x`` right of ``f^-1(x)``, decreasing ones ``x - f(u)``
left of it, and ``max(0, l_1, ..., l_K)`` of lines with increasing slopes is such a
sum (the slope increments times ReLUs at the lines' crossings).

The check (:func:`check_terms`), in exact rationals only.  The breakpoints
``-g_i / w_i`` inside ``(lo, hi)``, and 0 (the inflection point of ``f``), cut
``[lo, hi]`` into pieces ``[A, B]`` on each of which ``g`` is one line
``l(u) = k u + c`` (``k``, ``c``: the sums over the terms positive at the piece's
midpoint) and ``f`` is convex (``B <= 0``) or concave (``A >= 0``).  A piece passes
when one of these holds:

* ``l(A) <= 0`` and ``l(B) <= 0`` (so ``g = 0 <= |f - x|`` there);
* ``psi = s (f - x) - l >= 0`` on ``[A, B]`` for ``s = +1`` or ``s = -1`` (then
  ``l <= s (f - x) <= |f - x|``), proved as follows.  Where ``s f`` is concave on
  the piece, so is ``psi``, whose minimum over ``[A, B]`` is at ``A`` or ``B``:
  ``psi(A) >= 0`` and ``psi(B) >= 0`` by the rigorous enclosure of ``f``
  (:func:`geninv.exact_smooth.smooth_enclosure`).  Where ``s f`` is convex, so is
  ``psi``, which lies above its tangent at any anchor ``v`` in ``[A, B]``:
  ``psi(u) >= psi(v) + psi'(v) (u - v)``, hence

      min psi >= psi_lo(v) + min((D_hi - k)(A - v), (D_lo - k)(B - v))

  with ``psi_lo(v)`` from the enclosure of ``f(v)`` and ``[D_lo, D_hi]`` an
  enclosure of ``s f'(v)`` (sigmoid ``f' = f (1 - f)``, tanh ``f' = 1 - f^2``,
  both evaluated over the enclosure of ``f(v)``: the quadratic's range over an
  interval).  Any anchor is sound; the checker picks, in floats, the point where
  ``s f'(v) = k`` (the minimum of ``psi``), so the bound is nearly exact.

Nothing the producer computed is trusted: the terms are data, every inequality is
decided here.  :func:`lines_problem` builds the piecewise-linear inner problem whose
refutation the certificate carries.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.exact_smooth import smooth_enclosure
from geninv.network import Layer, ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.proofrows import MalformedProof, parse_rational

#: one term relu(w u + g) of an output's lower bound: (output j, w, g)
Term = tuple[int, Fraction, Fraction]


def deriv_enclosure(kind: str, flo: Fraction, fhi: Fraction) -> tuple[Fraction, Fraction]:
    """An enclosure of ``f'(v)`` from an enclosure ``[flo, fhi]`` of ``f(v)``: the range of
    ``y (1 - y)`` (sigmoid) or ``1 - y^2`` (tanh) over ``y`` in ``[flo, fhi]`` -- a concave
    quadratic, largest at its vertex (1/2, resp. 0) when the interval holds it."""
    if kind == "sigmoid":
        top = Fraction(1, 2)

        def h(y: Fraction) -> Fraction:
            return y * (1 - y)

    else:
        top = Fraction(0)

        def h(y: Fraction) -> Fraction:
            return 1 - y * y

    a, b = h(flo), h(fhi)
    hi = h(top) if flo <= top <= fhi else max(a, b)
    return min(a, b), hi


def _anchor(kind: str, s: int, k: Fraction, lo: Fraction, hi: Fraction) -> Fraction:
    """A point of ``[lo, hi]`` near the one where ``s f'(v) = k`` on the side of 0 the
    piece lies on (float arithmetic: only the tightness of the check depends on it)."""
    target = float(s * k)
    side = -1.0 if hi <= 0 else 1.0  # the piece is in u <= 0 or in u >= 0
    peak = 0.25 if kind == "sigmoid" else 1.0
    v: float
    if not target > 0:
        v = float(lo) if side < 0 else float(hi)  # f' > target everywhere
    elif target >= peak:
        v = 0.0
    else:
        # f'(v) = E / (1 + E)^2 with E = e^-|v| (sigmoid), 4 E / (1 + E)^2 with
        # E = e^-2|v| (tanh): the root E <= 1 of c E^2 + (2c - 1) E + c = 0, written
        # without cancellation (the two roots multiply to 1)
        c = target if kind == "sigmoid" else target / 4
        e = 2 * c / ((1 - 2 * c) + math.sqrt(max(1 - 4 * c, 0.0)))
        v = -math.log(e) if e > 0 else math.inf
        if kind == "tanh":
            v /= 2
        v = side * abs(v)
    if not math.isfinite(v):
        v = float(lo) if side < 0 else float(hi)
    return min(max(Fraction(v), lo), hi)


def _piece_ok(
    kind: str, x: Fraction, a: Fraction, b: Fraction, k: Fraction, c: Fraction, s: int
) -> bool:
    """``s (f(u) - x) >= k u + c`` on ``[a, b]`` (``f`` convex or concave there; module
    docstring)."""
    convex = (s == 1 and b <= 0) or (s == -1 and a >= 0)
    if not convex or a == b:
        for u in (a, b):
            flo, fhi = smooth_enclosure(kind, u)
            low = flo - x if s == 1 else x - fhi
            if low < k * u + c:
                return False
        return True
    v = _anchor(kind, s, k, a, b)
    flo, fhi = smooth_enclosure(kind, v)
    psi = (flo - x if s == 1 else x - fhi) - (k * v + c)
    dlo, dhi = deriv_enclosure(kind, flo, fhi)
    if s == -1:
        dlo, dhi = -dhi, -dlo
    return psi + min((dhi - k) * (a - v), (dlo - k) * (b - v), Fraction(0)) >= 0


def check_terms(
    kind: str, x: Fraction, lo: Fraction, hi: Fraction, terms: Sequence[tuple[Fraction, Fraction]]
) -> str | None:
    """None when ``sum_i relu(w_i u + g_i) <= |f(u) - x|`` is proved on ``[lo, hi]``
    (module docstring), else the first piece that fails, in words."""
    if not terms or hi < lo:
        return None  # g = 0, or no u at all
    cuts = {lo, hi}
    for w, g in terms:
        if w == 0:
            return "a term with slope 0"
        r = -g / w
        if lo < r < hi:
            cuts.add(r)
    if lo < 0 < hi:
        cuts.add(Fraction(0))
    pts = sorted(cuts)
    pieces = list(itertools.pairwise(pts)) if len(pts) > 1 else [(lo, hi)]
    for a, b in pieces:
        mid = (a + b) / 2
        k = c = Fraction(0)
        for w, g in terms:
            if w * mid + g > 0:
                k += w
                c += g
        if k * a + c <= 0 and k * b + c <= 0:
            continue
        first = 1 if k > 0 else -1
        if _piece_ok(kind, x, a, b, k, c, first) or _piece_ok(kind, x, a, b, k, c, -first):
            continue
        return (
            f"on [{float(a):.17g}, {float(b):.17g}] the line {float(k):.6g} u + {float(c):.6g} "
            f"is not proved below |{kind}(u) - x|"
        )
    return None


def parse_terms(raw: Any, kept: set[int]) -> list[Term]:
    """The certificate's ``"terms"``: ``[[j, w, g], ...]`` with ``j`` a kept output."""
    if not isinstance(raw, list):
        raise MalformedProof("'terms': expected a list of [j, w, g]")
    out: list[Term] = []
    for i, t in enumerate(raw):
        if not isinstance(t, list) or len(t) != 3:
            raise MalformedProof(f"terms[{i}]: expected [j, w, g]")
        j = t[0]
        if not isinstance(j, int) or isinstance(j, bool) or j not in kept:
            raise MalformedProof(f"terms[{i}]: output {j!r} is not one of the kept outputs")
        out.append(
            (j, parse_rational(t[1], f"terms[{i}] w"), parse_rational(t[2], f"terms[{i}] g"))
        )
    return out


def _identity_copy(last: Layer, keep: Sequence[int]) -> Layer:
    """``G``'s last affine map on the ``keep`` outputs, without ``f`` (identity).  Its exact
    rows are the last layer's own (computed once per network and shared: converting a
    784 x 400 float matrix to rationals again for every radius cost seconds)."""
    rows = last.exact_rows()
    bias = last.exact_bias_values()
    if list(keep) == list(range(last.n_out)):
        out = Layer(
            last.dense, last.bias, "identity", last.exact_weight, last.exact_bias, op=last.op
        )
    else:
        idx = np.asarray(keep, dtype=np.intp)
        w = np.array(last.weight[idx], dtype=np.float64)
        b = np.array(last.bias[idx], dtype=np.float64)
        w.setflags(write=False)
        b.setflags(write=False)
        ew = None if last.exact_weight is None else [last.exact_weight[j] for j in keep]
        eb = None if last.exact_bias is None else [last.exact_bias[j] for j in keep]
        out = Layer(w, b, "identity", ew, eb)
        rows = [rows[j] for j in keep]
        bias = [bias[j] for j in keep]
    object.__setattr__(out, "_rows_cache", rows)
    if out.exact_bias is None:
        object.__setattr__(out, "_bias_cache", bias)
    return out


def lines_problem(
    problem: InversionProblem, keep: Sequence[int], terms: Sequence[Term], tau: Fraction
) -> InversionProblem:
    """The inner problem: is there a ``z`` in the domain with ``||g(u(z))||_p <= tau``?
    Its network is ``G``'s hidden layers (the very layer objects), ``G``'s last affine
    map without ``f`` on the ``keep`` outputs (``u``), one ReLU layer (unit ``i``:
    ``relu(w_i u_j + g_i)``) and an identity layer summing each output's units; target 0,
    the instance's ``p``.  A kept output without terms is an output that is always 0."""
    layers = problem.network.layers
    pos = {j: k for k, j in enumerate(keep)}
    m, units = len(keep), len(terms)
    zero = Fraction(0)
    if units:
        if all(Fraction(float(v)) == v for t in terms for v in t[1:]):
            sel: Any = np.zeros((units, m))
            for i, (j, w, _) in enumerate(terms):
                sel[i, pos[j]] = float(w)
            gs: Any = np.array([float(g) for _, _, g in terms])
        else:  # rationals floats cannot hold: the layer in Fractions
            sel = [[zero] * m for _ in range(units)]
            for i, (j, w, _) in enumerate(terms):
                sel[i][pos[j]] = w
            gs = [g for _, _, g in terms]
        total = np.zeros((m, units))
        for i, (j, _, _) in enumerate(terms):
            total[pos[j], i] = 1.0
        tail = ReLUNetwork([sel, total], [gs, np.zeros(m)], activations=["relu", "identity"])
    else:  # no term at all: the outputs are 0
        tail = ReLUNetwork([np.zeros((m, m))], [np.zeros(m)], activations=["identity"])
    net = ReLUNetwork.from_layers([*layers[:-1], _identity_copy(layers[-1], keep), *tail.layers])
    return InversionProblem(
        net,
        [zero] * m,
        problem.domain if problem.domain.kind == "box" else Domain("real"),
        p=problem.p,
        threshold=tau,
        relation="<=",
        input_box=problem.input_box,
    )


__all__ = ["Term", "check_terms", "deriv_enclosure", "lines_problem", "parse_terms"]
