"""The row system of the branch-and-bound proof checker (see :mod:`geninv.proofcheck`).

Exact interval bounds of a node (with inherited and own lemma bounds and the
fixings), the named rows valid at a node, their nonnegative combination and the
bound a lemma proves -- all in :class:`fractions.Fraction`, with sums of
products run in Python integers over one common denominator.  Shares no code
with the producer (:mod:`geninv.solvers.bab`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from geninv.errors import GeninvError, ParseError
from geninv.problem import InversionProblem

Var = tuple[int, int]  # (layer, index): layer 0 = z, 1..L = a^l, L + 1 = t
Row = tuple[dict[Var, Fraction], Fraction]


class ProofRejected(GeninvError):
    """The proof is well-formed but does not prove the instance has no witness."""

    def __init__(self, node: int | None, why: str) -> None:
        self.node = node
        where = f"node {node}: " if node is not None else ""
        super().__init__(where + why)


class MalformedProof(ParseError):
    """The proof file is not a readable geninv branch-and-bound proof."""


def parse_rational(v: Any, what: str) -> Fraction:
    """An integer or ``'p/q'`` string as an exact Fraction; else :class:`MalformedProof` naming
    ``what``."""
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise MalformedProof(f"{what}: expected an integer or a 'p/q' string, got {v!r}")
    try:
        return Fraction(v)
    except (ValueError, ZeroDivisionError):
        raise MalformedProof(f"{what}: {v!r} is not a rational 'p/q'") from None


def parse_int(v: Any, what: str) -> int:
    """An int (not a bool) as it is; else :class:`MalformedProof` naming ``what``."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise MalformedProof(f"{what}: expected an integer, got {v!r}")
    return v


def _scaled(values: Sequence[Fraction]) -> tuple[list[int], int]:
    """Integers ``k_i`` and one denominator ``d`` with ``values[i] = k_i / d`` (exact)."""
    d = math.lcm(*(v.denominator for v in values)) if values else 1
    return [v.numerator * (d // v.denominator) for v in values], d


class Net:
    """The instance's network and target in exact rationals; each layer's weights
    also as integers over one common denominator (sums of products then run in
    Python ints, with one Fraction per result)."""

    def __init__(self, problem: InversionProblem) -> None:
        net = problem.network
        self.rows: list[list[tuple[tuple[int, ...], tuple[Fraction, ...]]]] = []
        self.bias: list[list[Fraction]] = []
        self.act: list[tuple[str, Fraction]] = []
        self.irows: list[list[tuple[tuple[int, ...], list[int]]]] = []
        self.ibias: list[list[int]] = []
        self.den: list[int] = []
        for i, layer in enumerate(net.layers, start=1):
            if layer.activation not in ("relu", "identity", "leaky_relu"):
                raise ProofRejected(
                    None,
                    f"layer {i} has activation {layer.activation}; proofs cover relu, "
                    "leaky_relu and identity layers only",
                )
            rows = list(layer.exact_rows())
            bias = list(layer.exact_bias_values())
            self.rows.append(rows)
            self.bias.append(bias)
            alpha = Fraction(0) if layer.activation == "relu" else Fraction(layer.negative_slope)
            self.act.append((layer.activation, alpha))
            flat = [w for _, val in rows for w in val] + bias
            ints, d = _scaled(flat)
            pos = 0
            irows = []
            for idx, val in rows:
                irows.append((idx, ints[pos : pos + len(val)]))
                pos += len(val)
            self.irows.append(irows)
            self.ibias.append(ints[pos:])
            self.den.append(d)
        self.n = net.n_inputs
        self.depth = len(self.rows)
        self.q = net.n_outputs
        self.x = list(problem.target)

    def f(self, layer: int, v: Fraction) -> Fraction:
        """The activation of ``layer`` (1-based) at ``v``, exactly: ``v`` for identity or
        ``v >= 0``, else ``alpha * v``."""
        kind, alpha = self.act[layer - 1]
        if kind == "identity" or v >= 0:
            return v
        return alpha * v


Inherited = dict[tuple[int, int, str], Fraction]
#: significant bits a lemma's bound keeps (rounded outward: a weaker, still proved bound)
LEMMA_BITS = 64


def unit_row_name(name: str, net: Net) -> tuple[int, int, str] | None:
    """``(layer, unit, kind)`` of a unit row named ``L<layer>.<unit>.<kind>``; None for a
    name of another form; rejects a malformed index or a unit the network lacks."""
    parts = name.split(".")
    if not (parts[0].startswith("L") and len(parts) == 3):
        return None
    try:
        layer, j = int(parts[0][1:]), int(parts[1])
    except ValueError:
        raise ProofRejected(None, f"unknown row {name!r}") from None
    if not (1 <= layer <= net.depth and 0 <= j < len(net.rows[layer - 1])):
        raise ProofRejected(None, f"row {name!r} names no unit of the network")
    return layer, j, parts[2]


_ONE, _ZERO, _MINUS = Fraction(1), Fraction(0), Fraction(-1)


def phase_row(kind: str, alpha: Fraction, b: Fraction) -> tuple[Fraction, Fraction, Fraction]:
    """The row ``(c_a, c_h, const)`` of ``c_a a + c_h h + const >= 0`` for the unit
    ``a = max(h, alpha h)``, ``h = W x + b`` with the bias apart (which rows hold at a
    node is the caller's check)."""
    if kind in ("ge", "le"):  # a - h >= 0, h - a >= 0
        return (_MINUS, _ONE, b) if kind == "ge" else (_ONE, _MINUS, -b)
    if kind in ("sge", "sle"):  # a - alpha h >= 0, alpha h - a >= 0
        return (-alpha, _ONE, alpha * b) if kind == "sge" else (alpha, _MINUS, -alpha * b)
    if kind in ("on", "off"):  # h >= 0, -h >= 0
        return (_ONE, _ZERO, -b) if kind == "on" else (_MINUS, _ZERO, b)
    raise ProofRejected(None, f"unknown unit row kind {kind!r}")


def child_ids(nid: int, nd: dict[str, Any], nodes: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """The two children of inner node ``nid``, each present in the tree."""
    kids = nd["children"]
    if not isinstance(kids, list) or len(kids) != 2:
        raise MalformedProof(f"node {nid}: children must be a list of two ids")
    a, b = (parse_int(k, f"node {nid} children") for k in kids)
    for k in (a, b):
        if k not in nodes:
            raise ProofRejected(nid, f"child {k} is missing")
    return a, b


def relu_split(
    nid: int, sp: dict[str, Any], fixed: dict[tuple[int, int], int], net: Net
) -> tuple[int, int]:
    """The unit ``(layer, j)`` a phase split of node ``nid`` names: in the network, not
    fixed yet, and with two phases (not an identity unit)."""
    layer = parse_int(sp.get("layer"), f"node {nid} split.layer")
    j = parse_int(sp.get("unit"), f"node {nid} split.unit")
    if not (1 <= layer <= net.depth and 0 <= j < len(net.rows[layer - 1])):
        raise ProofRejected(nid, "split unit is not in the network")
    if (layer, j) in fixed or net.act[layer - 1][0] == "identity":
        raise ProofRejected(nid, "split unit is already fixed or has no phases")
    return layer, j


def _coarsen(v: Fraction, up: bool) -> Fraction:
    """``v`` rounded outward (down, or up) to a dyadic with LEMMA_BITS significant bits,
    so that bounds derived from bounds do not grow their denominators node after node."""
    if v.denominator.bit_length() <= LEMMA_BITS:
        return v
    e = LEMMA_BITS - (abs(v.numerator).bit_length() - v.denominator.bit_length())
    scale = Fraction(2) ** e
    k = math.ceil(v * scale) if up else math.floor(v * scale)
    return Fraction(k) / scale


Lemma = tuple[int, int, str, dict[str, Fraction]]


def exact_bounds(
    net: Net,
    box: Sequence[tuple[Fraction, Fraction]],
    fixed: dict[tuple[int, int], int],
    glob: Globals | None = None,
    inherited: Inherited | None = None,
    lemmas: Sequence[Lemma] = (),
) -> tuple[list[list[tuple[Fraction, Fraction]]] | tuple[int, int], Inherited]:
    """Exact pre-activation intervals per layer: interval arithmetic, then the
    bounds inherited from ancestors' lemmas, then this node's lemmas (each checked
    on the rows of earlier layers), then the fixings.  Returns the intervals (or the
    unit whose interval is empty) and the lemma bounds the children inherit."""
    inh: Inherited = dict(inherited or {})
    by_layer: dict[int, list[Lemma]] = {}
    witness: list[Lemma] = []
    for lem in lemmas:
        if not (1 <= lem[0] <= net.depth and 0 <= lem[1] < len(net.rows[lem[0] - 1])):
            raise ProofRejected(None, f"a lemma names unit {lem[1]} of layer {lem[0]}, not in G")
        if lem[2].startswith("w"):
            witness.append(lem)
        else:
            by_layer.setdefault(lem[0], []).append(lem)
    if witness:
        layered = [lem for lem in lemmas if not lem[2].startswith("w")]
        return _witness_bounds(net, box, fixed, glob, inh, layered, witness)
    prev = list(box)
    out: list[list[tuple[Fraction, Fraction]]] = []
    zero = Fraction(0)
    leaf: Leaf | None = None
    for li in range(net.depth):
        layer = li + 1
        ints, scale = _scaled([v for pair in prev for v in pair])
        plo, phi = ints[0::2], ints[1::2]
        den = scale * net.den[li]
        cur: list[tuple[Fraction, Fraction]] = []
        for j, (idx, val) in enumerate(net.irows[li]):
            lo_i = hi_i = net.ibias[li][j] * scale
            for k, w in zip(idx, val, strict=True):
                if w > 0:
                    lo_i += w * plo[k]
                    hi_i += w * phi[k]
                else:
                    lo_i += w * phi[k]
                    hi_i += w * plo[k]
            lo, hi = Fraction(lo_i, den), Fraction(hi_i, den)
            if inh:
                lo = max(lo, inh.get((layer, j, "lo"), lo))
                hi = min(hi, inh.get((layer, j, "hi"), hi))
            cur.append((lo, hi))
        if layer in by_layer:
            assert glob is not None
            if leaf is None:  # one row system for all layers: ``out`` grows below
                leaf = Leaf(net, glob, box, fixed, out)
            for _, j, side, y in by_layer[layer]:
                v = _coarsen(leaf.lemma(layer, j, side, y), up=side == "hi")
                lo, hi = cur[j]
                if side == "lo" and v > lo:
                    cur[j] = (v, hi)
                    inh[(layer, j, "lo")] = v
                elif side == "hi" and v < hi:
                    cur[j] = (lo, v)
                    inh[(layer, j, "hi")] = v
        post: list[tuple[Fraction, Fraction]] = []
        for j, (lo, hi) in enumerate(cur):
            ph = fixed.get((layer, j))
            if ph == 1 and lo < 0:
                lo = zero
            elif ph == 0 and hi > 0:
                hi = zero
            if lo > hi:
                return (layer, j), inh
            cur[j] = (lo, hi)
            post.append((net.f(layer, lo), net.f(layer, hi)))
        out.append(cur)
        prev = post
    return out, inh


#: A witness lemma's side reads ``"w{round}.lo"`` / ``"w{round}.hi"`` (in the proof
#: file: ``"scope": "witness", "round": k``).
def _witness_bounds(
    net: Net,
    box: Sequence[tuple[Fraction, Fraction]],
    fixed: dict[tuple[int, int], int],
    glob: Globals | None,
    inh: Inherited,
    layered: Sequence[Lemma],
    witness: Sequence[Lemma],
) -> tuple[list[list[tuple[Fraction, Fraction]]] | tuple[int, int], Inherited]:
    """Bounds after *witness lemmas*: first the node's bounds with its layer lemmas;
    then, round by round (ascending), each witness lemma's bound from the rows of
    *every* layer and the target rows over the bounds before its round; finally the
    bounds once more with all witness bounds inherited.

    Soundness: every row the multipliers may name (unit rows of any layer, target
    rows ``T...``, cuts) holds at every *witness* of the node (a point of the node
    with ``||G(z) - x||_p <= delta``), so the bound holds on every witness of the
    node and of its descendants.  That is all a proof needs: a leaf is refuted when
    no witness lies in it, and the rows and boxes built from witness-valid bounds are
    valid at every witness (a node whose witness bounds are empty has no witness)."""
    rounds: dict[int, list[Lemma]] = {}
    for lem in witness:
        tag, wside = lem[2][1:].split(".")
        rounds.setdefault(int(tag), []).append((lem[0], lem[1], wside, lem[3]))
    assert glob is not None
    for k, rnd in enumerate(sorted(rounds)):  # rnd: int
        pre, inh = exact_bounds(net, box, fixed, glob, inh, layered if k == 0 else ())
        if isinstance(pre, tuple):
            return pre, inh
        leaf = Leaf(net, glob, box, fixed, pre)
        for layer, j, side, y in rounds[rnd]:
            up = side == "hi"
            v = _coarsen(leaf.lemma(layer, j, side, y, witness=True), up=up)
            key = (layer, j, side)
            old = inh.get(key)
            if old is None or (v < old if up else v > old):
                inh[key] = v
    return exact_bounds(net, box, fixed, glob, inh)


#: a unit row as (sigma, kappa, rho): sigma * (W a^{l-1})_j + kappa * a_j >= rho
_UnitRow = tuple[Fraction, Fraction, Fraction]


class Leaf:
    """The row system of one leaf (rows built on demand, by name)."""

    def __init__(
        self,
        net: Net,
        glob: Globals,
        box: Sequence[tuple[Fraction, Fraction]],
        fixed: dict[tuple[int, int], int],
        pre: list[list[tuple[Fraction, Fraction]]],
    ) -> None:
        self.net, self.glob, self.fixed, self.pre = net, glob, fixed, pre
        self.box = box
        self._rows: dict[str, tuple[int, int, _UnitRow] | None] = {}

    def vbox(self, v: Var) -> tuple[Fraction, Fraction]:
        """Exact bounds ``(lo, hi)`` of variable ``v`` at this leaf: the input box for layer 0,
        the activation of the pre-activation bounds for a hidden layer, ``[0, l1]`` for the
        output slack."""
        layer, j = v
        if layer == 0:
            return self.box[j]
        if layer <= self.net.depth:
            lo, hi = self.pre[layer - 1][j]
            return self.net.f(layer, lo), self.net.f(layer, hi)
        assert self.glob.l1 is not None
        return Fraction(0), self.glob.l1

    def _unit_row(self, name: str) -> tuple[int, int, _UnitRow] | None:
        if name in self._rows:
            return self._rows[name]
        row = self._make_unit_row(name)
        self._rows[name] = row
        return row

    def _make_unit_row(self, name: str) -> tuple[int, int, _UnitRow] | None:
        net = self.net
        parsed = unit_row_name(name, net)
        if parsed is None:
            return None
        layer, j, kind = parsed
        if layer > len(self.pre):
            raise ProofRejected(None, f"row {name!r} is used before its layer is bounded")
        act, alpha = net.act[layer - 1]
        lo, hi = self.pre[layer - 1][j]
        ph = self.fixed.get((layer, j))
        if act == "identity":
            valid = kind in ("ge", "le")
        elif kind == "ge":
            valid = alpha <= 1 or ph == 1 or lo >= 0
        elif kind == "le":
            valid = alpha >= 1 or ph == 1 or lo >= 0
        elif kind == "sge":
            valid = alpha <= 1 or ph == 0 or hi <= 0
        elif kind == "sle":
            valid = alpha >= 1 or ph == 0 or hi <= 0
        elif kind in ("on", "off"):
            valid = ph == (1 if kind == "on" else 0)
        else:
            valid = kind == "chord" and lo < hi
        if not valid:
            raise ProofRejected(None, f"row {name!r} is not valid at this node")
        b = net.bias[layer - 1][j]
        if kind != "chord":
            return layer, j, phase_row(kind, alpha, b)
        # chord: sign * (m h + c - a) >= 0, sign = +1 for convex f (alpha <= 1)
        flo, fhi = net.f(layer, lo), net.f(layer, hi)
        m = (fhi - flo) / (hi - lo)
        c = flo - m * lo
        sign = Fraction(1) if alpha <= 1 else Fraction(-1)
        return layer, j, (sign * m, -sign, -sign * (m * b + c))

    def _target_row(self, name: str) -> Row:
        parts = name.split(".")
        net, glob = self.net, self.glob
        out = net.depth
        if parts[0] == "T" and parts[1:] == ["sum"] and glob.l1 is not None:
            return {(out + 1, j): Fraction(-1) for j in range(net.q)}, -glob.l1
        if parts[0].startswith("T") and len(parts) == 2:
            try:
                j = int(parts[0][1:])
            except ValueError:
                raise ProofRejected(None, f"unknown row {name!r}") from None
            if not 0 <= j < net.q:
                raise ProofRejected(None, f"row {name!r} names no output")
            x, d = net.x[j], glob.delta
            if parts[1] == "lo":
                return {(out, j): Fraction(1)}, x - d
            if parts[1] == "hi":
                return {(out, j): Fraction(-1)}, -x - d
            if glob.l1 is not None and parts[1] in ("tp", "tn"):
                s = Fraction(-1) if parts[1] == "tp" else Fraction(1)
                return {(out + 1, j): Fraction(1), (out, j): s}, s * x
        if parts[0].startswith("C") and len(parts) == 1:
            try:
                k = int(parts[0][1:])
                c, r = glob.cuts[k]
            except (ValueError, IndexError):
                raise ProofRejected(None, f"unknown cut row {name!r}") from None
            form = {(out, j): -cj for j, cj in enumerate(c) if cj}
            return form, -r - sum((cj * xj for cj, xj in zip(c, net.x, strict=True)), Fraction(0))
        raise ProofRejected(None, f"unknown or invalid row {name!r}")

    def combine(
        self, y: dict[str, Fraction], below: int | None = None
    ) -> tuple[dict[Var, Fraction], Fraction]:
        """The combination ``sum_i y_i (row_i)`` as (form, rhs).

        Unit rows enter through their ``sigma`` (coefficient of ``h = W a^{l-1} + b``,
        summed per unit first, then multiplied by W in integers), ``kappa``
        (coefficient of ``a_j``) and ``rho``.  ``below``: only unit rows of layers
        before it (a lemma about that layer)."""
        net = self.net
        comb: dict[Var, Fraction] = {}
        sig: dict[tuple[int, int], Fraction] = {}
        rhs = Fraction(0)
        for name, mult in y.items():
            if mult < 0:
                raise ProofRejected(None, f"multiplier of {name!r} is negative ({mult})")
            if mult == 0:
                continue
            unit = self._unit_row(name)
            if unit is not None:
                layer, j, (sigma, kappa, rho) = unit
                if below is not None and layer >= below:
                    raise ProofRejected(None, f"a lemma on layer {below} uses row {name!r}")
                key = (layer, j)
                if sigma:
                    t = mult if sigma == 1 else -mult if sigma == -1 else mult * sigma
                    sig[key] = sig[key] + t if key in sig else t
                if kappa:
                    t = mult if kappa == 1 else -mult if kappa == -1 else mult * kappa
                    comb[key] = comb[key] + t if key in comb else t
                if rho:
                    rhs += mult * rho
                continue
            if below is not None:
                raise ProofRejected(None, f"a lemma uses the target row {name!r}")
            form, beta = self._target_row(name)
            rhs += mult * beta
            for v, c in form.items():
                comb[v] = comb.get(v, Fraction(0)) + mult * c
        for layer in range(1, net.depth + 1):
            units = [(j, u) for (lay, j), u in sig.items() if lay == layer and u]
            if not units:
                continue
            ints, d = _scaled([u for _, u in units])
            acc: dict[int, int] = {}
            irows = net.irows[layer - 1]
            for (j, _), ui in zip(units, ints, strict=True):
                idx, val = irows[j]
                for k, w in zip(idx, val, strict=True):
                    acc[k] = acc.get(k, 0) + ui * w
            den = d * net.den[layer - 1]
            for k, tot in acc.items():
                if tot:
                    v = (layer - 1, k)
                    comb[v] = comb.get(v, Fraction(0)) + Fraction(tot, den)
        return comb, rhs

    def _extreme(self, form: dict[Var, Fraction], top: bool) -> Fraction:
        total = Fraction(0)
        for v, c in form.items():
            if c:
                lo, hi = self.vbox(v)
                total += c * (hi if (c > 0) == top else lo)
        return total

    def refutes(self, y: dict[str, Fraction]) -> tuple[bool, Fraction, Fraction]:
        """(max over the box of the combined form < combined rhs, that max, that rhs)."""
        comb, rhs = self.combine(y)
        top = self._extreme(comb, True)
        return top < rhs, top, rhs

    def lemma(
        self, layer: int, j: int, side: str, y: dict[str, Fraction], witness: bool = False
    ) -> Fraction:
        """The bound on ``h = c . a^{l-1} + b_j`` that ``y`` proves over the rows of
        earlier layers (``witness``: over all rows, target rows included): every
        feasible v has ``g . v >= rhs`` (g, rhs: the combination), so
        ``h >= b_j + rhs + min_box((c - g) . v)`` ("lo") and
        ``h <= b_j - rhs - min_box((-c - g) . v)`` ("hi")."""
        g, rhs = self.combine(y, below=None if witness else layer)
        sgn = Fraction(1) if side == "lo" else Fraction(-1)
        idx, val = self.net.rows[layer - 1][j]
        form = {v: -c for v, c in g.items()}
        for k, w in zip(idx, val, strict=True):
            form[(layer - 1, k)] = form.get((layer - 1, k), Fraction(0)) + sgn * w
        m = self._extreme(form, False) + rhs
        b = self.net.bias[layer - 1][j]
        return b + m if side == "lo" else b - m


@dataclass
class Globals:
    """The proof's global data, checked against the instance by :func:`read_globals`: the radius
    ``delta`` refuted, the l1 bound ``l1`` on ``G(z) - x`` (None for p = inf or exact
    inversion) and, for p >= 2, the cuts ``(c, r)`` meaning ``c . (G(z) - x) <= r``."""

    delta: Fraction
    l1: Fraction | None
    cuts: list[tuple[list[Fraction], Fraction]]


def read_globals(problem: InversionProblem, doc: dict[str, Any]) -> Globals:
    """Read and check the proof's globals in exact rationals: ``threshold_up >= delta`` (when
    delta is given as delta^p), ``l1_bound >= q^(1-1/p) delta`` (Hoelder) and each cut's
    ``r >= delta ||c||_(p*)``; raise :class:`ProofRejected` or :class:`MalformedProof`
    otherwise."""
    p = problem.p
    if problem.threshold_pow is not None:
        # delta is given as delta^p (integer p): the proof refutes the ball of a rational
        # radius delta_up >= delta, which contains the instance's ball (checked exactly)
        if math.isinf(p) or not p.is_integer():
            raise ProofRejected(None, "threshold_pow needs an integer p")
        delta = parse_rational(doc.get("threshold_up"), "threshold_up")
        if delta < 0 or delta ** int(p) < problem.threshold_pow:
            raise ProofRejected(
                None, f"threshold_up {delta} is below the instance's delta (delta^p check)"
            )
    else:
        delta = problem.threshold
    q = problem.network.n_outputs
    exact_or_inf = delta == 0 or math.isinf(p)
    if not exact_or_inf and not p.is_integer():
        raise ProofRejected(None, f"p = {p} is not covered (p must be 1, an integer or inf)")
    l1: Fraction | None = None
    cuts: list[tuple[list[Fraction], Fraction]] = []
    if not exact_or_inf:
        k = int(p)
        if k == 1:
            l1 = delta
        else:
            l1 = parse_rational(doc.get("l1_bound"), "l1_bound")
            if l1 < 0 or l1**k < q ** (k - 1) * delta**k:
                raise ProofRejected(None, f"l1_bound {l1} is below q^(1-1/p) delta")
        raw = doc.get("cuts") or []
        if not isinstance(raw, list):
            raise MalformedProof("cuts: expected a list")
        for i, cut in enumerate(raw):
            if not isinstance(cut, dict) or not isinstance(cut.get("w"), list):
                raise MalformedProof(f"cuts[{i}]: expected an object with 'w' and 'r'")
            w = [parse_rational(v, f"cuts[{i}].w") for v in cut["w"]]
            r = parse_rational(cut.get("r"), f"cuts[{i}].r")
            if len(w) != q:
                raise MalformedProof(f"cuts[{i}].w: expected {q} entries")
            if k == 1:
                raise ProofRejected(None, "cuts are only used for p >= 2")
            norm = sum((abs(v) ** k for v in w), Fraction(0))
            if r < 0 or r**k < delta**k * norm ** (k - 1):
                raise ProofRejected(None, f"cut {i}: r = {r} is below delta ||c||_(p*)")
            c = [(1 if v > 0 else -1) * abs(v) ** (k - 1) for v in w]
            cuts.append(([Fraction(v) for v in c], r))
    return Globals(delta, l1, cuts)


def parse_fixed(v: Any, what: str) -> dict[tuple[int, int], int]:
    """A node's fixed ReLU phases: a list of ``[layer, unit, phase]``, each unit once."""
    if not isinstance(v, list):
        raise MalformedProof(f"{what}: expected a list of [layer, unit, phase]")
    out: dict[tuple[int, int], int] = {}
    for i, item in enumerate(v):
        if not isinstance(item, list) or len(item) != 3:
            raise MalformedProof(f"{what}[{i}]: expected [layer, unit, phase]")
        layer, j, ph = (parse_int(t, f"{what}[{i}]") for t in item)
        if ph not in (0, 1) or (layer, j) in out:
            raise MalformedProof(f"{what}[{i}]: phase must be 0 or 1, each unit once")
        out[(layer, j)] = ph
    return out


def parse_nodes(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """A proof's nodes by id: a non-empty list of objects, ids distinct, a root 0."""
    nodes_raw = doc.get("nodes")
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise MalformedProof("nodes: expected a non-empty list")
    nodes: dict[int, dict[str, Any]] = {}
    for i, nd in enumerate(nodes_raw):
        if not isinstance(nd, dict):
            raise MalformedProof(f"nodes[{i}]: expected an object")
        nid = parse_int(nd.get("id"), f"nodes[{i}].id")
        if nid in nodes:
            raise MalformedProof(f"nodes[{i}]: id {nid} appears twice")
        nodes[nid] = nd
    if 0 not in nodes:
        raise MalformedProof("nodes: no root (id 0)")
    return nodes
