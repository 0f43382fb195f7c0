"""Exact check of a free-latent branch-and-bound proof (``"root": "free"``).

A *no* for real latents **without** a bounding box: no ``z`` in ``R^n`` has
``||G(z) - x||_p <= delta`` (``< delta`` for the strict relation).  The proof is a
tree over ReLU phases only (there is no box to split); each leaf carries a
*Farkas certificate* with free columns.  Shares no code with the producer
(``geninv.solvers.bab``); the row system and the network in exact rationals come
from :mod:`geninv.proofrows`.

Variables of a node (the lifted point of a witness ``z``): ``z`` (free),
``a^l = f(h^l)`` with ``h^l = W_l a^{l-1} + b_l``, and for finite p the l_1
auxiliaries ``t_j = |a^L_j - x_j|``.  Every such point lies in the *variable box*

* ``z_i``: ``(-inf, inf)``;
* ``a^l_j``: identity ``(-inf, inf)``; slope ``alpha = 0`` (relu): ``[0, 0]`` when
  fixed inactive, else ``[0, inf)``; ``alpha > 0``: ``[0, inf)`` fixed active,
  ``(-inf, 0]`` fixed inactive, ``(-inf, inf)`` unfixed;
* ``t_j``: ``[0, D]`` (``D`` as in :mod:`geninv.proofcheck`);

and satisfies the named rows ``r . v >= beta`` (names as in
:mod:`geninv.proofcheck`): identity ``ge``/``le``; fixed active ``ge``, ``le``,
``on``; fixed inactive ``sge``, ``sle``, ``off``; unfixed with ``alpha <= 1`` the
convex hull of the graph of ``f`` over the whole line, ``ge`` (``a >= h``) and
``sge`` (``a >= alpha h``); unfixed with ``alpha > 1`` ``le`` and ``sle``; the
target rows ``T{j}.lo``/``T{j}.hi`` (and for finite p ``T{j}.tp``/``T{j}.tn``,
``T.sum``) and the cuts ``C{k}``.  No chord rows: the pre-activations have no
bounds.

A leaf's ``"farkas"`` multipliers ``y >= 0`` give ``g . v >= rhs`` with ``g =
sum y r`` and ``rhs = sum y beta`` at every point of the leaf.  The check computes,
in Fractions, ``sup`` of ``g . v`` over the variable box: it is ``+inf`` unless
``g`` is **exactly zero** on every free column (every ``z_i``) and has the sign
that keeps it bounded on every half-line column.  The leaf is empty when ``sup <
rhs``.  For the strict relation ``<`` the rows ``T{j}.lo``, ``T{j}.hi``,
``T.sum`` and every cut with ``w != 0`` hold strictly at a witness (``|d_j| <=
||d||_1 <= q^{1-1/p} ||d||_p < q^{1-1/p} delta <= D``, Hoelder for the cuts), so
``sup = rhs`` with a positive multiplier on one of them also refutes (Motzkin's
transposition theorem, the easy direction).

*Cover*: every inner node splits one unfixed non-identity unit into ``h <= 0``
(first child) and ``h >= 0`` (second child); every node is reached exactly once
from the root (which fixes nothing), so the leaves cover ``R^n``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from geninv.problem import InversionProblem
from geninv.proofrows import (
    Globals,
    Leaf,
    MalformedProof,
    Net,
    ProofRejected,
    Var,
    child_ids,
    parse_fixed,
    parse_nodes,
    parse_rational,
    phase_row,
    read_globals,
    relu_split,
    unit_row_name,
)

ROOT = "free"

Bound = Fraction | None


class FreeLeaf(Leaf):
    """The row system of a node of a free proof (rows built on demand, by name)."""

    def __init__(self, net: Net, glob: Globals, fixed: dict[tuple[int, int], int]) -> None:
        super().__init__(net, glob, [], fixed, [])

    def _make_unit_row(
        self, name: str
    ) -> tuple[int, int, tuple[Fraction, Fraction, Fraction]] | None:
        net = self.net
        parsed = unit_row_name(name, net)
        if parsed is None:
            return None
        layer, j, kind = parsed
        act, alpha = net.act[layer - 1]
        ph = self.fixed.get((layer, j))
        if act == "identity":
            valid = kind in ("ge", "le")
        elif ph == 1:
            valid = kind in ("ge", "le", "on")
        elif ph == 0:
            valid = kind in ("sge", "sle", "off")
        else:
            valid = kind in (("ge", "sge") if alpha <= 1 else ("le", "sle"))
        if not valid:
            raise ProofRejected(None, f"row {name!r} is not valid at this node")
        return layer, j, phase_row(kind, alpha, net.bias[layer - 1][j])

    def fbox(self, v: Var) -> tuple[Bound, Bound]:
        """The variable box of the module docstring (None: unbounded)."""
        layer, j = v
        net = self.net
        if layer == 0:
            return None, None
        if layer <= net.depth:
            act, alpha = net.act[layer - 1]
            if act == "identity":
                return None, None
            ph = self.fixed.get((layer, j))
            if alpha == 0:
                return Fraction(0), (Fraction(0) if ph == 0 else None)
            if ph == 1:
                return Fraction(0), None
            if ph == 0:
                return None, Fraction(0)
            return None, None
        assert self.glob.l1 is not None
        return Fraction(0), self.glob.l1

    def sup(self, form: dict[Var, Fraction]) -> Fraction | None:
        """``sup`` of ``form . v`` over the variable box; None when it is ``+inf``."""
        total = Fraction(0)
        for v, c in form.items():
            if not c:
                continue
            lo, hi = self.fbox(v)
            end = hi if c > 0 else lo
            if end is None:
                return None
            total += c * end
        return total

    def farkas(
        self, y: dict[str, Fraction], strict: bool
    ) -> tuple[bool, Fraction | None, Fraction]:
        """(refuted, sup of the combination (None: +inf), its right side)."""
        comb, rhs = self.combine(y)
        top = self.sup(comb)
        if top is None:
            return False, None, rhs
        if top < rhs:
            return True, top, rhs
        if strict and top == rhs:
            return any(v > 0 and _strict_row(k, self.glob) for k, v in y.items()), top, rhs
        return False, top, rhs


def _strict_row(name: str, glob: Globals) -> bool:
    """Rows that hold strictly at a witness of ``||d||_p < delta`` (module docstring)."""
    parts = name.split(".")
    if parts[0] == "T":
        return parts[1:] == ["sum"]
    if parts[0].startswith("T"):
        return len(parts) == 2 and parts[1] in ("lo", "hi")
    if parts[0].startswith("C") and len(parts) == 1:
        try:
            c, _ = glob.cuts[int(parts[0][1:])]
        except (ValueError, IndexError):
            return False
        return any(c)
    return False


class FreeChecker:
    """The exact leaf check, for a producer that wants to know before it prunes
    (the same code :func:`check_free` runs on every leaf)."""

    def __init__(self, problem: InversionProblem, globals_doc: dict[str, Any]) -> None:
        self.net = Net(problem)
        self.glob = read_globals(problem, globals_doc)
        self.strict = problem.relation == "<"

    def refutes(self, fixed: dict[tuple[int, int], int], y: dict[str, Fraction]) -> bool:
        """Whether the multipliers ``y`` refute the leaf with the ReLU phases ``fixed`` (exact
        rationals; False rather than an exception when the check rejects them)."""
        try:
            return FreeLeaf(self.net, self.glob, fixed).farkas(y, self.strict)[0]
        except ProofRejected:
            return False


def check_free(problem: InversionProblem, doc: dict[str, Any]) -> tuple[int, int, int]:
    """Check a free proof (the caller checked format, version, n and q); returns
    (nodes, leaves, multipliers) or raises :class:`ProofRejected` /
    :class:`MalformedProof`."""
    if problem.domain.kind not in ("real", "box"):
        raise ProofRejected(None, f"a free proof does not cover domain {problem.domain.kind!r}")
    net = Net(problem)
    glob = read_globals(problem, doc)
    strict = problem.relation == "<"
    nodes = parse_nodes(doc)
    seen: set[int] = set()
    leaves = mults = 0
    stack: list[tuple[int, dict[tuple[int, int], int]]] = [(0, {})]
    while stack:
        nid, fixed = stack.pop()
        if nid in seen:
            raise ProofRejected(nid, "reached twice")
        seen.add(nid)
        nd = nodes[nid]
        if parse_fixed(nd.get("fixed", []), f"node {nid} fixed") != fixed:
            raise ProofRejected(nid, "its fixings are not the ones its parent's split gives")
        if "children" in nd:
            stack.extend(_split(nid, nd, nodes, fixed, net))
            continue
        leaves += 1
        y_raw = nd.get("farkas")
        if not isinstance(y_raw, dict):
            raise ProofRejected(nid, "a leaf of a free proof needs multipliers 'farkas'")
        y = {str(k): parse_rational(v, f"node {nid} farkas[{k}]") for k, v in y_raw.items()}
        mults += len(y)
        try:
            ok, top, rhs = FreeLeaf(net, glob, fixed).farkas(y, strict)
        except ProofRejected as exc:
            raise ProofRejected(nid, str(exc)) from None
        if not ok:
            why = (
                "the combination is unbounded above (a free or half-line column does not "
                "cancel exactly)"
                if top is None
                else f"sup {float(top):.6g} is not below rhs {float(rhs):.6g}"
            )
            raise ProofRejected(nid, f"the Farkas multipliers do not refute it: {why}")
    if len(seen) != len(nodes):
        raise ProofRejected(sorted(set(nodes) - seen)[0], "not reachable from the root")
    return len(nodes), leaves, mults


def _split(
    nid: int,
    nd: dict[str, Any],
    nodes: dict[int, dict[str, Any]],
    fixed: dict[tuple[int, int], int],
    net: Net,
) -> list[tuple[int, dict[tuple[int, int], int]]]:
    a, b = child_ids(nid, nd, nodes)
    sp = nd.get("split")
    if not isinstance(sp, dict) or sp.get("kind") != "relu":
        raise MalformedProof(f"node {nid}: a free proof splits only on units (kind 'relu')")
    layer, j = relu_split(nid, sp, fixed, net)
    return [(a, {**fixed, (layer, j): 0}), (b, {**fixed, (layer, j): 1})]
