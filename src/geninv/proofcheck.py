"""Independent exact checker of branch-and-bound proofs (``geninv check-proof DIR FILE``).

A *no* of the ``bab`` backend says: no latent ``z`` in the domain has
``||G(z) - x||_p <= delta`` (which also rules out ``< delta``).  Its proof is a
tree whose nodes narrow the latent box and fix ReLU phases; every leaf carries
nonnegative multipliers ``y`` over named linear inequalities that every point of
the leaf satisfies.  This module re-derives everything from the instance alone,
in :class:`fractions.Fraction` arithmetic, sharing no code with the producer
(``geninv.solvers.bab``) except the instance loader and the network's exact
parameters.

What is checked
---------------
1. *Root*: the root box is the box domain exactly; for a real domain, the root box
   is a *clamp box* of ``G`` (``G(z) = G(clamp(z))`` for all real ``z``), checked
   here exactly: every first-layer unit reads at most one latent, and for every
   unit of layer 2 (of layer 1 for a one-layer network) and every latent ``i`` the
   piecewise-linear function of ``z_i`` that the unit's pre-activation (output)
   receives has slope exactly 0 on every piece left of ``lower_i`` and right of
   ``upper_i``.  Then clamping ``z`` changes nothing, and the real problem has a
   witness iff the box problem has.
2. *Cover*: every inner node is split either on an input coordinate ``i`` at a
   point ``lower_i < c < upper_i`` (children: the node's box with ``upper_i = c``
   and with ``lower_i = c``, same fixings), or on an unfixed unit ``(l, j)``
   (children: the node's box, fixings plus ``(l, j)`` inactive and active).  The
   two children always cover the parent (``h <= 0`` or ``h >= 0``), every node is
   reached exactly once from the root, so the leaves cover the domain.
3. *Lemmas* (optional, any node): in layer order, the bound on one
   pre-activation that nonnegative multipliers over the rows of *earlier* layers
   prove (``h >= b + sum y beta + min_box((c - g) . v)``, or the mirror for an
   upper bound), rounded outward to 64 significant bits; it holds on the node and
   every descendant, whose intervals it tightens.  *Witness lemmas*
   (``"scope": "witness"``, ``"round": k``) come after, round by round: their
   multipliers may name rows of every layer and the target rows, so their bounds
   hold on every *witness* of the node (``||G(z) - x||_p <= delta``) -- enough, as
   a leaf is refuted when no witness lies in it (see
   :func:`geninv.proofrows._witness_bounds`).
4. *Leaves*: exact interval bounds ``[lo, hi]`` of every pre-activation over the
   leaf's box, intersected with the lemma bounds and the fixed phases
   (``h >= 0`` or ``h <= 0``); an empty interval proves the leaf empty.  Otherwise, with variables
   ``z`` (the leaf's box), ``a^l`` (post-activations, box ``[f(lo), f(hi)]``,
   ``f`` monotone) and ``t`` (l_1 auxiliaries, box ``[0, D]``), each named row
   ``r . v >= beta`` below holds at every point of the leaf (with
   ``h = W a^{l-1} + b``).  For multipliers ``y >= 0`` the combination
   ``(sum y r) . v >= sum y beta`` holds too, so if the maximum of the left side
   over the variable box is *below* ``sum y beta``, the leaf has no point.

The row system lives in :mod:`geninv.proofrows`.  Rows (unit ``j`` of layer
``l``, slope ``alpha`` of the negative part; relu ``alpha = 0``; identity: only
``ge``/``le``):

* ``L{l}.{j}.ge``: ``a >= h`` (valid when ``alpha <= 1``, or the unit is active);
* ``L{l}.{j}.le``: ``a <= h`` (identity, active: fixed or ``lo >= 0``; or ``alpha >= 1``);
* ``L{l}.{j}.sge``: ``a >= alpha h`` (``alpha <= 1``, or inactive: fixed or ``hi <= 0``);
* ``L{l}.{j}.sle``: ``a <= alpha h`` (inactive, or ``alpha >= 1``);
* ``L{l}.{j}.on`` / ``off``: ``h >= 0`` / ``h <= 0`` (the unit is fixed so);
* ``L{l}.{j}.chord`` (``lo < hi``): the chord of ``f`` between ``lo`` and ``hi``,
  above ``a`` when ``alpha <= 1`` (``f`` convex), below when ``alpha > 1``;
* ``T{j}.lo`` / ``T{j}.hi``: ``x_j - delta <= a^L_j <= x_j + delta`` (every p:
  ``|d_j| <= ||d||_p``);
* ``T{j}.tp`` / ``T{j}.tn`` (p finite, delta > 0): ``t_j >= a^L_j - x_j``,
  ``t_j >= x_j - a^L_j``; ``T.sum``: ``sum t_j <= D`` with ``D = delta`` for p = 1
  and, for integer p >= 2, the certificate's ``l1_bound`` R, checked
  ``R^p >= q^(p-1) delta^p`` (Hoelder: ``||d||_1 <= q^(1-1/p) ||d||_p``);
* ``C{k}`` (integer p >= 2): cut ``k`` of the certificate, ``w`` (rationals) and
  ``r``: ``sum_j sign(w_j)|w_j|^(p-1) (a^L_j - x_j) <= r``, checked
  ``r >= 0`` and ``r^p >= delta^p (sum |w_j|^p)^(p-1)`` (Hoelder with the dual norm).

``t_j`` in ``[0, D]`` is a box the lifted point ``t_j = |d_j|`` satisfies.
"""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from geninv.clampcheck import verify_clamp_box
from geninv.problem import InversionProblem
from geninv.proofrows import (
    Inherited,
    Leaf,
    Lemma,
    MalformedProof,
    Net,
    ProofRejected,
    child_ids,
    exact_bounds,
    parse_fixed,
    parse_int,
    parse_nodes,
    parse_rational,
    read_globals,
    relu_split,
)

__all__ = [
    "CheckReport",
    "Inherited",
    "LeafChecker",
    "MalformedProof",
    "ProofRejected",
    "check_certificate",
    "check_proof_file",
    "read_proof",
]

FORMAT = "geninv-bab-proof"
VERSION = 1


@dataclass(frozen=True)
class CheckReport:
    """What an accepted proof contained: ``nodes`` in the tree, ``leaves`` among them,
    ``empty_by_bounds`` leaves refuted by their exact interval bounds alone, ``multipliers``
    read in all, and the ``root`` kind (its box, or the free root for real latents)."""

    nodes: int
    leaves: int
    empty_by_bounds: int
    multipliers: int
    root: str


def _box(v: Any, n: int, what: str) -> list[tuple[Fraction, Fraction]]:
    if not isinstance(v, list) or len(v) != n:
        raise MalformedProof(f"{what}: expected {n} [lower, upper] pairs")
    out = []
    for i, pair in enumerate(v):
        if not isinstance(pair, list) or len(pair) != 2:
            raise MalformedProof(f"{what}[{i}]: expected [lower, upper]")
        out.append(
            (parse_rational(pair[0], f"{what}[{i}]"), parse_rational(pair[1], f"{what}[{i}]"))
        )
    return out


def check_certificate(problem: InversionProblem, doc: Any) -> CheckReport:
    """Check a proof document against the instance; raises :class:`ProofRejected`
    (invalid) or :class:`MalformedProof` (unreadable)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise MalformedProof(f'not a branch-and-bound proof (expected "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise MalformedProof(f"proof version {doc.get('version')!r} is not supported")
    n, q = problem.n, problem.network.n_outputs
    if doc.get("n") != n or doc.get("q") != q:
        raise ProofRejected(
            None, f"proof is for n={doc.get('n')}, q={doc.get('q')}; the instance has n={n}, q={q}"
        )
    if doc.get("root") == "free":  # real latents without a box: geninv.proofcheck_free
        from geninv.proofcheck_free import check_free

        nodes_n, leaves_n, mults_n = check_free(problem, doc)
        return CheckReport(nodes_n, leaves_n, 0, mults_n, "free (real latents, no box)")
    net = Net(problem)
    glob = read_globals(problem, doc)
    nodes = parse_nodes(doc)
    root = nodes[0]
    rbox = _box(root.get("box"), n, "node 0 box")
    if parse_fixed(root.get("fixed", []), "node 0 fixed"):
        raise ProofRejected(0, "the root fixes phases")
    if problem.domain.kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        want = list(zip(problem.domain.lower, problem.domain.upper, strict=True))
        if rbox != want:
            raise ProofRejected(0, "the root box is not the domain's box")
        root_kind = "domain box"
    elif problem.domain.kind == "real":
        if any(lo > hi for lo, hi in rbox):
            raise ProofRejected(0, "the root box is empty")
        why = verify_clamp_box(problem, rbox)
        if why is not None:
            raise ProofRejected(0, f"the root box is not a clamp box of G: {why}")
        root_kind = "clamp box (verified)"
    else:
        raise ProofRejected(None, f"domain {problem.domain.kind!r} is not covered")
    seen: set[int] = set()
    leaves = empty = mults = 0
    Item = tuple[int, list[tuple[Fraction, Fraction]], dict[tuple[int, int], int], Inherited]
    stack: list[Item] = [(0, rbox, {}, {})]
    while stack:
        nid, box, fixed, inherited = stack.pop()
        if nid in seen:
            raise ProofRejected(nid, "reached twice")
        seen.add(nid)
        nd = nodes[nid]
        if _box(nd.get("box"), n, f"node {nid} box") != box:
            raise ProofRejected(nid, "its box is not the one its parent's split gives")
        if parse_fixed(nd.get("fixed", []), f"node {nid} fixed") != fixed:
            raise ProofRejected(nid, "its fixings are not the ones its parent's split gives")
        lemmas = _lemmas(nd.get("lemmas", []), nid)
        mults += sum(len(lem[3]) for lem in lemmas)
        children = nd.get("children")
        pre: list[list[tuple[Fraction, Fraction]]] | tuple[int, int] = []
        if lemmas or not children:
            try:
                pre, inherited = exact_bounds(net, box, fixed, glob, inherited, lemmas)
            except ProofRejected as exc:
                raise ProofRejected(nid, str(exc)) from None
        if children:
            stack.extend((*it, inherited) for it in _split(nid, nd, nodes, box, fixed, net))
            continue
        leaves += 1
        if isinstance(pre, tuple):
            empty += 1
            continue
        y_raw = nd.get("y")
        if not isinstance(y_raw, dict):
            raise ProofRejected(nid, "a leaf needs multipliers 'y' (or empty interval bounds)")
        y = {str(k): parse_rational(v, f"node {nid} y[{k}]") for k, v in y_raw.items()}
        mults += len(y)
        try:
            ok, top, rhs = Leaf(net, glob, box, fixed, pre).refutes(y)
        except ProofRejected as exc:
            raise ProofRejected(nid, str(exc)) from None
        if not ok:
            raise ProofRejected(
                nid,
                f"the multipliers do not refute it (max {float(top):.6g} >= rhs {float(rhs):.6g})",
            )
    if len(seen) != len(nodes):
        extra = sorted(set(nodes) - seen)[:3]
        raise ProofRejected(extra[0], "not reachable from the root")
    return CheckReport(len(nodes), leaves, empty, mults, root_kind)


def _lemmas(raw: Any, nid: int) -> list[Lemma]:
    if not isinstance(raw, list):
        raise MalformedProof(f"node {nid}: lemmas must be a list")
    out: list[Lemma] = []
    for i, lem in enumerate(raw):
        what = f"node {nid} lemmas[{i}]"
        if not isinstance(lem, dict) or not isinstance(lem.get("y"), dict):
            raise MalformedProof(f"{what}: expected {{layer, unit, side, y}}")
        side = lem.get("side")
        if side not in ("lo", "hi"):
            raise MalformedProof(f"{what}: side must be 'lo' or 'hi'")
        scope = lem.get("scope", "layer")
        if scope not in ("layer", "witness"):
            raise MalformedProof(f"{what}: scope must be 'layer' or 'witness'")
        if scope == "witness":
            side = f"w{parse_int(lem.get('round', 0), what + '.round')}.{side}"
        y = {str(k): parse_rational(v, f"{what}.y[{k}]") for k, v in lem["y"].items()}
        out.append((parse_int(lem.get("layer"), what), parse_int(lem.get("unit"), what), side, y))
    return out


def _split(
    nid: int,
    nd: dict[str, Any],
    nodes: dict[int, dict[str, Any]],
    box: list[tuple[Fraction, Fraction]],
    fixed: dict[tuple[int, int], int],
    net: Net,
) -> list[tuple[int, list[tuple[Fraction, Fraction]], dict[tuple[int, int], int]]]:
    a, b = child_ids(nid, nd, nodes)
    sp = nd.get("split")
    if not isinstance(sp, dict):
        raise MalformedProof(f"node {nid}: an inner node needs a 'split'")
    if sp.get("kind") == "input":
        i = parse_int(sp.get("coord"), f"node {nid} split.coord")
        at = parse_rational(sp.get("at"), f"node {nid} split.at")
        if not 0 <= i < len(box) or not box[i][0] < at < box[i][1]:
            raise ProofRejected(nid, "input split point is not inside the box")
        left, right = list(box), list(box)
        left[i] = (box[i][0], at)
        right[i] = (at, box[i][1])
        return [(a, left, dict(fixed)), (b, right, dict(fixed))]
    if sp.get("kind") == "relu":
        layer, j = relu_split(nid, sp, fixed, net)
        return [(a, list(box), {**fixed, (layer, j): 0}), (b, list(box), {**fixed, (layer, j): 1})]
    raise MalformedProof(f"node {nid}: split kind must be 'input' or 'relu'")


def check_proof_file(directory: str | Path, proof: str | Path) -> CheckReport:
    """Load the instance and the proof file and check; see :func:`check_certificate`."""
    from geninv.io.instance import load_instance

    problem = load_instance(directory)
    doc = read_proof(proof)
    try:
        return check_certificate(problem, doc)
    except MalformedProof as exc:
        raise MalformedProof(exc.reason, str(proof)) from None


def read_proof(proof: str | Path) -> Any:
    """The JSON document of a proof file (``.gz``: gzip-compressed), read like every
    JSON geninv reads: size, nesting, digits and float range bounded; a file that is
    not such JSON is a one-line ParseError naming it."""
    from geninv.io.instance import read_json

    # gzip by extension: the decompressed text, bounded like any JSON, then read so
    return _read_gz(Path(proof)) if str(proof).endswith(".gz") else read_json(proof)


def _read_gz(path: Path) -> Any:
    """A gzip-compressed proof: decompressed (at most the JSON text limit, read in
    chunks so a small bomb cannot fill memory) and read with the bounded JSON reader."""
    from geninv.errors import ParseError
    from geninv.io.instance import read_json
    from geninv.io.limits import check_file_size, limit

    cap = limit("text_bytes")
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(cap + 1)
    except FileNotFoundError:
        raise ParseError("no such file", str(path)) from None
    except (OSError, EOFError) as exc:
        raise ParseError(f"not a gzip file: {exc}", str(path)) from None
    check_file_size(len(data), "text_bytes", str(path))
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / path.name.removesuffix(".gz")
        plain.write_bytes(data)
        try:
            return read_json(plain)
        except ParseError as exc:
            raise ParseError(exc.reason, str(path), exc.line) from None


class LeafChecker:
    """Exact checks for a producer that wants to know before it prunes (the same
    code :func:`check_certificate` runs on every node)."""

    def __init__(self, problem: InversionProblem, globals_doc: dict[str, Any]) -> None:
        self.net = Net(problem)
        self.glob = read_globals(problem, globals_doc)

    def node(
        self,
        box: Sequence[tuple[Fraction, Fraction]],
        fixed: dict[tuple[int, int], int],
        inherited: Inherited,
        lemmas: Sequence[Lemma],
    ) -> Inherited | None:
        """The bounds a node's children inherit after its lemmas (None: a lemma is invalid)."""
        try:
            return exact_bounds(self.net, box, fixed, self.glob, inherited, lemmas)[1]
        except ProofRejected:
            return None

    def refutes(
        self,
        box: Sequence[tuple[Fraction, Fraction]],
        fixed: dict[tuple[int, int], int],
        y: dict[str, Fraction],
        inherited: Inherited | None = None,
    ) -> bool:
        """Whether the leaf is empty by its exact bounds or by ``y``."""
        pre, _ = exact_bounds(self.net, box, fixed, self.glob, inherited)
        if isinstance(pre, tuple):
            return True
        try:
            return Leaf(self.net, self.glob, box, fixed, pre).refutes(y)[0]
        except ProofRejected:
            return False
