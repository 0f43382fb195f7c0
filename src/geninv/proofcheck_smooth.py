"""Exact checker of a *no* through a monotone output layer (sigmoid or tanh).

A generator ``G(z) = f(W h(z) + b)`` whose last activation ``f`` is sigmoid or
tanh (strictly increasing, range ``(a, b)``: ``(0, 1)`` or ``(-1, 1)``) and whose
hidden layers are piecewise linear.  Write ``u = W h(z) + b`` for the last
pre-activation.  For every ``p >= 1``, ``|d_j| <= ||d||_p``, so a point with
``||f(u) - x||_p <= delta`` has, for every output ``j``,

    x_j - delta <= f(u_j) <= x_j + delta .

Because ``f`` is increasing, ``f(lo_j) <= x_j - delta`` gives ``u_j >= lo_j``
and ``f(hi_j) >= x_j + delta`` gives ``u_j <= hi_j``: the l_inf ball becomes a
box on ``u`` (exactly, up to the rounding of ``lo_j``, ``hi_j`` outward).  Where
``x_j - delta <= a`` (``x_j + delta >= b``) the side is open (saturation); any
``lo_j`` below every attainable ``u_j`` (the exact interval bound over the root
box) closes it.  Where ``x_j - delta >= b`` or ``x_j + delta <= a`` no ``u_j``
qualifies and the instance is refuted outright.

So refuting "some ``z`` has ``lo <= u(z) <= hi``" refutes the instance, for
every p.  That is a piecewise-linear question, stated as an inversion problem
(:func:`box_problem`): the network without ``f`` (last layer identity,
restricted to the outputs kept), one more identity layer ``diag(s)``, target
``s_j c_j`` (``c_j = (lo_j + hi_j) / 2``), threshold 1 in l_inf.  Its ball
``|s_j u_j - s_j c_j| <= 1`` contains the box when ``s_j (hi_j - lo_j) <= 2``.
The inner problem's branch-and-bound proof is checked by
:func:`geninv.proofcheck.check_certificate`.

Certificate (``"format": "geninv-smooth-box"``, version 1, rationals as ``"p/q"``)::

    {"format": "geninv-smooth-box", "version": 1, "activation": "sigmoid",
     "threshold": delta,
     "coords": [[j, lo, "inverse" | "range", hi, "inverse" | "range", s], ...],
     "inner": {bab proof of box_problem}}          # or  "empty": j

What is checked, in exact rationals (nothing is taken from the producer):
``"inverse"`` sides by a rigorous enclosure of ``f`` at the rational point
(:func:`geninv.exact_smooth.smooth_enclosure`: ``f(lo_j) <= x_j - delta`` from the
enclosure's upper end, ``f(hi_j) >= x_j + delta`` from its lower end);
``"range"`` sides against exact interval bounds of ``u`` over the inner proof's
root box (:func:`geninv.proofrows.exact_bounds`); ``s_j > 0`` and
``s_j (hi_j - lo_j) <= 2``; then the inner proof.  Dropping outputs only enlarges
the set refuted, so any subset of outputs may be kept.  A logit bound moved
inward past the true inverse fails the enclosure test.

Version 2: l_p for p < inf (the sum over the outputs)
-----------------------------------------------------
Version 1 refutes the l_inf ball only, so for p < inf it bounds ``||d||_p`` by
``||d||_inf``.  Version 2 uses the sum.  Per kept output ``j`` the certificate gives,
besides the interval ``[lo_j, hi_j]`` (proved as above), ReLU *terms* ``(w, g)``
whose sum ``g_j(u) = sum relu(w u + g)`` is a convex piecewise-linear function with
``g_j(u) <= |f(u) - x_j|`` on ``[lo_j, hi_j]`` -- a maximum of lines ``t_j >= a u_j +
b``, ``t_j >= 0`` below the error, each checked exactly
(:func:`geninv.proofcheck_lines.check_terms`: per linear piece, endpoint
enclosures where ``f`` is concave, a tangent bound with an enclosure of ``f'``
where it is convex).  Then every ``z`` with ``||f(u(z)) - x||_p <= delta`` has
``u_j(z)`` in ``[lo_j, hi_j]`` (as above: ``|d_j| <= ||d||_p``), so
``0 <= g_j(u_j(z)) <= |d_j|`` and ``||g(u(z))||_p <= ||d||_p <= delta`` (the l_p norm
is monotone in each ``|d_j|``; dropping outputs only lowers it).  Refuting
``||g(u(z))||_p <= delta`` -- a piecewise-linear question
(:func:`geninv.proofcheck_lines.lines_problem`: the network without ``f``, one
ReLU layer of the terms, one summing layer, target 0, the instance's ``p``) that
``bab`` refutes with its l_1 row and l_p cuts -- refutes the instance for this
``p``::

    {"format": "geninv-smooth-box", "version": 2, "activation": "sigmoid",
     "threshold": delta, "p": 2,
     "coords": [[j, lo, "inverse" | "range", hi, "inverse" | "range"], ...],
     "terms": [[j, w, g], ...],
     "inner": {bab proof of lines_problem}}

Checked: the instance's ``p`` is the certificate's (finite), the sides as in
version 1, every output's terms by :func:`check_terms`, then the inner proof of
the problem rebuilt from ``coords`` and ``terms``.  A changed slope or bias of a
term either fails :func:`check_terms` or changes the inner problem, whose proof
then fails; a missing term changes the inner problem too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.exact_smooth import SMOOTH_RANGE, smooth_enclosure
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, norm_label
from geninv.proofcheck import check_certificate
from geninv.proofcheck_lines import check_terms, lines_problem, parse_terms
from geninv.proofrows import MalformedProof, Net, ProofRejected, exact_bounds, parse_rational

FORMAT = "geninv-smooth-box"
VERSION = 1
#: the version of a certificate with piecewise-linear error bounds (l_p, p < inf)
VERSION_LINES = 2

#: one kept output: (j, lo, lo_by, hi, hi_by, s)
Coord = tuple[int, Fraction, str, Fraction, str, Fraction]


@dataclass(frozen=True)
class SmoothReport:
    """An accepted certificate: the ``threshold`` it refutes (for every p >= 1), the
    outputs ``kept``, and the inner proof's counts (``nodes``, ``leaves``), or the
    output ``empty`` that no pre-activation can meet."""

    threshold: Fraction
    kept: int
    nodes: int
    leaves: int
    empty: int | None = None
    #: version 2: the p whose ball is refuted (None: every p >= 1) and the terms checked
    p: str | None = None
    terms: int = 0


def smooth_output(problem: InversionProblem) -> str | None:
    """The last activation when it is sigmoid or tanh and every other layer is
    piecewise linear (the case this module covers), else None."""
    layers = problem.network.layers
    last = layers[-1].activation
    if last not in SMOOTH_RANGE:
        return None
    if any(la.activation not in ("relu", "leaky_relu", "identity") for la in layers[:-1]):
        return None
    return last


def box_problem(problem: InversionProblem, coords: Sequence[Coord]) -> InversionProblem:
    """The piecewise-linear inner problem of ``coords`` (module docstring): is there a
    ``z`` in the domain with ``|s_j u_j(z) - s_j c_j| <= 1`` for every kept ``j``?"""
    layers = problem.network.layers
    weights: list[object] = []
    biases: list[object] = []
    acts: list[str] = []
    for la in layers[:-1]:
        weights.append(la.exact_weight if la.exact_weight is not None else la.weight)
        biases.append(la.exact_bias if la.exact_bias is not None else la.bias)
        acts.append(la.activation_label)
    last = layers[-1]
    keep = [c[0] for c in coords]
    if last.exact_weight is not None:
        weights.append([last.exact_weight[j] for j in keep])
    else:
        weights.append(last.weight[keep, :])
    bias = last.exact_bias_values()
    biases.append([bias[j] for j in keep])
    acts.append("identity")
    m = len(keep)
    zero = Fraction(0)
    scales = [c[5] for c in coords]
    if all(Fraction(float(v)) == v for v in scales):  # floats: a float diagonal is exact
        weights.append(np.diag(np.array([float(v) for v in scales], dtype=np.float64)))
        biases.append(np.zeros(m))
    else:
        weights.append([[v if a == k else zero for a in range(m)] for k, v in enumerate(scales)])
        biases.append([zero] * m)
    acts.append("identity")
    net = ReLUNetwork(weights, biases, activations=acts)
    target = [c[5] * (c[1] + c[3]) / 2 for c in coords]
    return InversionProblem(
        net,
        target,
        problem.domain if problem.domain.kind == "box" else Domain("real"),
        p="inf",
        threshold=1,
        relation="<=",
        input_box=problem.input_box,
    )


def _coords(raw: Any, q: int, width: int = 6) -> list[Coord]:
    """The certificate's ``coords``: ``[j, lo, lo_by, hi, hi_by, s]`` (version 1) or
    ``[j, lo, lo_by, hi, hi_by]`` (``width`` 5, version 2: ``s`` is returned as 1)."""
    shape = "[j, lo, lo_by, hi, hi_by, s]" if width == 6 else "[j, lo, lo_by, hi, hi_by]"
    if not isinstance(raw, list) or not raw:
        raise MalformedProof("'coords': expected a non-empty list")
    out: list[Coord] = []
    seen: set[int] = set()
    for k, c in enumerate(raw):
        if not isinstance(c, list) or len(c) != width:
            raise MalformedProof(f"coords[{k}]: expected {shape}")
        j = c[0]
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < q or j in seen:
            raise MalformedProof(f"coords[{k}]: output index {j!r} (0..{q - 1}, each once)")
        seen.add(j)
        if c[2] not in ("inverse", "range") or c[4] not in ("inverse", "range"):
            raise MalformedProof(f"coords[{k}]: each side is 'inverse' or 'range'")
        lo = parse_rational(c[1], f"coords[{k}] lo")
        hi = parse_rational(c[3], f"coords[{k}] hi")
        s = parse_rational(c[5], f"coords[{k}] s") if width == 6 else Fraction(1)
        out.append((j, lo, str(c[2]), hi, str(c[4]), s))
    return out


def _check_sides(
    problem: InversionProblem, kind: str, delta: Fraction, coords: Sequence[Coord], inner_doc: Any
) -> None:
    """Every kept ``u_j`` of a witness lies in ``[lo_j, hi_j]``: ``"inverse"`` sides by the
    enclosure of ``f``, ``"range"`` sides against exact interval bounds of ``u`` over the
    inner proof's root box (module docstring)."""
    a, b = SMOOTH_RANGE[kind]
    x = problem.target
    for j, lo, lo_by, hi, hi_by, _ in coords:
        if lo_by == "inverse":
            v = x[j] - delta
            if not (v > a and smooth_enclosure(kind, lo)[1] <= v):
                raise ProofRejected(None, f"output {j}: {kind}(lo) <= x - delta is not proved")
        if hi_by == "inverse":
            v = x[j] + delta
            if not (v < b and smooth_enclosure(kind, hi)[0] >= v):
                raise ProofRejected(None, f"output {j}: {kind}(hi) >= x + delta is not proved")
    if not any(c[2] == "range" or c[4] == "range" for c in coords):
        return
    if not isinstance(inner_doc, dict) or not isinstance(inner_doc.get("nodes"), list):
        raise MalformedProof("'inner': expected a branch-and-bound proof")
    root = next((nd for nd in inner_doc["nodes"] if nd.get("id") == 0), None)
    raw_box = None if root is None else root.get("box")
    if not isinstance(raw_box, list) or len(raw_box) != problem.n:
        raise MalformedProof("'inner' node 0: expected its box")
    box = [
        (parse_rational(p[0], "root box"), parse_rational(p[1], "root box"))
        for p in raw_box
        if isinstance(p, list) and len(p) == 2
    ]
    if len(box) != problem.n:
        raise MalformedProof("'inner' node 0: expected [lower, upper] pairs")
    # u alone: the network without f, the kept outputs (what both inner problems start with)
    upart = lines_problem(problem, [c[0] for c in coords], [], delta)
    pre, _ = exact_bounds(Net(upart), box, {})
    if isinstance(pre, tuple):
        raise ProofRejected(None, "the root box is empty")
    last = pre[len(problem.network.layers) - 1]
    for k, (j, lo, lo_by, hi, hi_by, _) in enumerate(coords):
        if lo_by == "range" and lo > last[k][0]:
            raise ProofRejected(None, f"output {j}: lo is above an attainable u_j")
        if hi_by == "range" and hi < last[k][1]:
            raise ProofRejected(None, f"output {j}: hi is below an attainable u_j")


def check_smooth_certificate(
    problem: InversionProblem, doc: Any, inner_checked: InversionProblem | None = None
) -> SmoothReport:
    """Check a ``geninv-smooth-box`` certificate against ``problem`` (module docstring):
    version 1 proves that no ``z`` in the domain has ``||G(z) - x||_p <= threshold`` for
    any p >= 1, version 2 the same for the instance's p.  Raises :class:`ProofRejected`
    (invalid) or :class:`MalformedProof`.

    ``inner_checked``: the inner problem whose proof the caller has just checked with
    :func:`geninv.proofcheck.check_certificate` (the producer, right after ``bab``'s own
    check); when it has the very network and target the checker rebuilds from the
    certificate, that check is not repeated (counts of 0 are reported)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise MalformedProof(f'not a smooth-output proof (expected "format": "{FORMAT}")')
    version = doc.get("version")
    if version not in (VERSION, VERSION_LINES):
        raise MalformedProof(f"smooth-output proof version {version!r} unsupported")
    kind = smooth_output(problem)
    if kind is None or doc.get("activation") != kind:
        raise ProofRejected(
            None,
            f"the proof is for a last {doc.get('activation')!r} layer; the instance's "
            f"network is not that (piecewise-linear hidden layers, last sigmoid or tanh)",
        )
    delta = parse_rational(doc.get("threshold"), "threshold")
    if delta < 0:
        raise ProofRejected(None, "a negative threshold")
    a, b = SMOOTH_RANGE[kind]
    x = problem.target
    q = problem.network.n_outputs
    if version == VERSION_LINES:
        return _check_lines(problem, doc, kind, delta, inner_checked)
    if "empty" in doc:
        j = doc["empty"]
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < q:
            raise MalformedProof(f"'empty': output index {j!r} (0..{q - 1})")
        if not (x[j] - delta >= b or x[j] + delta <= a):
            raise ProofRejected(None, f"output {j}: [x - delta, x + delta] meets ({a}, {b})")
        return SmoothReport(delta, 0, 0, 0, empty=j)
    coords = _coords(doc.get("coords"), q)
    for j, lo, _, hi, _, s in coords:
        if s <= 0 or (hi > lo and s * (hi - lo) > 2):
            raise ProofRejected(None, f"output {j}: the scale {s} does not cover [lo, hi]")
    inner_doc = doc.get("inner")
    _check_sides(problem, kind, delta, coords, inner_doc)
    inner = box_problem(problem, coords)
    if inner_checked is not None and _same(inner, inner_checked):
        return SmoothReport(delta, len(coords), 0, 0)
    rep = check_certificate(inner, inner_doc)  # its root box: the domain's, or a clamp box
    return SmoothReport(delta, len(coords), rep.nodes, rep.leaves)


def _check_lines(
    problem: InversionProblem,
    doc: dict[str, Any],
    kind: str,
    delta: Fraction,
    inner_checked: InversionProblem | None,
) -> SmoothReport:
    """Version 2 (module docstring): the sides, every output's terms, the inner proof."""
    label = norm_label(problem.p)
    if problem.is_exact_inversion or label == "inf":
        raise ProofRejected(None, "a version-2 proof is for a finite p; the instance's is inf")
    if str(doc.get("p")) != label:
        raise ProofRejected(
            None, f"the proof is for p = {doc.get('p')!r}; the instance has p = {label}"
        )
    coords = _coords(doc.get("coords"), problem.network.n_outputs, width=5)
    inner_doc = doc.get("inner")
    _check_sides(problem, kind, delta, coords, inner_doc)
    kept = {c[0] for c in coords}
    terms = parse_terms(doc.get("terms"), kept)
    by_out: dict[int, list[tuple[Fraction, Fraction]]] = {}
    for j, w, g in terms:
        by_out.setdefault(j, []).append((w, g))
    x = problem.target
    for j, lo, _, hi, _, _ in coords:
        why = check_terms(kind, x[j], lo, hi, by_out.get(j, []))
        if why is not None:
            raise ProofRejected(None, f"output {j}: {why}")
    keep = [c[0] for c in coords]
    inner = lines_problem(problem, keep, terms, delta)
    if inner_checked is not None and _same(inner, inner_checked):
        return SmoothReport(delta, len(coords), 0, 0, p=label, terms=len(terms))
    rep = check_certificate(inner, inner_doc)
    return SmoothReport(delta, len(coords), rep.nodes, rep.leaves, p=label, terms=len(terms))


def _same(a: InversionProblem, b: InversionProblem) -> bool:
    """The two inner problems state the same question (exact parameters compared)."""
    if (a.target, a.threshold, a.p, a.domain, a.input_box) != (
        b.target,
        b.threshold,
        b.p,
        b.domain,
        b.input_box,
    ):
        return False
    la, lb = a.network.layers, b.network.layers
    return len(la) == len(lb) and all(
        x is y
        or (
            x.activation == y.activation
            and x.exact_rows() == y.exact_rows()
            and x.exact_bias_values() == y.exact_bias_values()
        )
        for x, y in zip(la, lb, strict=True)
    )


__all__ = [
    "FORMAT",
    "VERSION_LINES",
    "ProofRejected",
    "SmoothReport",
    "box_problem",
    "check_smooth_certificate",
    "smooth_output",
]
