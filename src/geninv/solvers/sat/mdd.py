"""Multi-valued decision diagrams of weighted sums of order-encoded integers.

:func:`encode_mdd_node` is the pure encoding of one node; :class:`_SumMDD` is the
memo table of one sum's nodes (shared across all K and all roots) over the shared
:class:`VarPool`: :meth:`_SumMDD.ge` returns a root literal with the clauses of
the nodes it had to make, and adds none anywhere.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from geninv.solvers.sat.common import Shape, _TooBig
from geninv.solvers.sat.encodings import encode_and, encode_or
from geninv.solvers.sat.pool import Clauses, VarPool


# ------------------------------------------------------------------ the MDD
@dataclass
class _Term:
    """``f(H)`` for an order-encoded integer ``H``: values ``d_0 < ... < d_r`` (r >= 1)."""

    values: list[int]
    lits: list[int]  # lits[t - 1] = [H >= d_t], t = 1..r
    f: list[int]  # f(d_t), t = 0..r

    @property
    def shape(self) -> Shape:
        f = self.f
        if all(a <= b for a, b in itertools.pairwise(f)):
            return "inc"
        if all(a >= b for a, b in itertools.pairwise(f)):
            return "dec"
        return "any"


def _segments(f: Sequence[int]) -> list[tuple[int, int, Shape]]:
    """A partition of the indices of ``f`` into maximal monotone runs [a, b]."""
    out: list[tuple[int, int, Shape]] = []
    a = 0
    while a < len(f):
        b, direction = a, 0
        while b + 1 < len(f):
            d = f[b + 1] - f[b]
            if (d > 0 and direction < 0) or (d < 0 and direction > 0):
                break
            if d:
                direction = 1 if d > 0 else -1
            b += 1
        out.append((a, b, "dec" if direction < 0 else "inc"))
        a = b + 1
    return out


# A literal and the exact interval [lo, hi] of K with the same function (None: unbounded).
_Node = tuple[int, int | None, int | None]
# Values t = ts..te sharing one child literal; the node's class bounds they imply.
_Run = tuple[int, int, int, int | None, int | None]


class _SumMDD:
    """Literals ``[sum_j f_j(H_j) >= K]``, shared across K (see the module docstring)."""

    def __init__(self, pool: VarPool, terms: Sequence[_Term], cap: int | None = None) -> None:
        self.pool = pool
        self.cap = cap
        self.made = 0
        self.terms = list(terms)
        self.shapes: list[Shape] = [t.shape for t in self.terms]
        self.neg = [[-v for v in t.f] for t in self.terms]
        self.segments = [_segments(t.f) for t in self.terms]
        self.segment_of = [
            [si for si, (a, b, _) in enumerate(segs) for _ in range(a, b + 1)]
            for segs in self.segments
        ]
        m = len(self.terms)
        self.smin = [0] * (m + 1)
        self.smax = [0] * (m + 1)
        for j in range(m - 1, -1, -1):
            self.smin[j] = self.smin[j + 1] + min(self.terms[j].f)
            self.smax[j] = self.smax[j + 1] + max(self.terms[j].f)
        # flat clause / cube nodes where every remaining term is two-valued
        self.allbool = [False] * (m + 1)
        self.allbool[m] = True
        self.minw: list[int] = [0] * (m + 1)
        for j in range(m - 1, -1, -1):
            t = self.terms[j]
            self.allbool[j] = self.allbool[j + 1] and len(t.values) == 2
            w = abs(t.f[1] - t.f[0]) if len(t.values) == 2 else 0
            nxt = self.minw[j + 1]
            self.minw[j] = min(w, nxt) if w and nxt else (w or nxt)
        self.or_lit: dict[int, int] = {}
        self.and_lit: dict[int, int] = {}
        self.starts: list[list[int]] = [[] for _ in range(m)]
        self.entries: list[list[tuple[int, int, int]]] = [[] for _ in range(m)]

    @property
    def min(self) -> int:
        return self.smin[0]

    @property
    def max(self) -> int:
        return self.smax[0]

    def _bool_lits(self, j: int, made: dict[int, int]) -> list[int]:
        """The literals of the flat node at level j: ``[f_i increases]`` for i >= j,
        up to the nearest deeper level whose flat node of the same kind (``made``)
        exists, which stands for all the rest (OR and AND are associative)."""
        out: list[int] = []
        for i in range(j, len(self.terms)):
            if i > j and i in made:
                out.append(made[i])
                break
            t = self.terms[i]
            w = t.f[1] - t.f[0]
            if w > 0:
                out.append(t.lits[0])
            elif w < 0:
                out.append(-t.lits[0])
        return out

    def _lookup(self, j: int, k: int, out: Clauses) -> _Node | None:
        """The node ``(j, k)`` if made (flat OR/AND nodes are made here, into ``out``)."""
        pool = self.pool
        if k <= self.smin[j]:
            return (pool.true, None, self.smin[j])
        if k > self.smax[j]:
            return (-pool.true, self.smax[j] + 1, None)
        if self.allbool[j]:
            kk = k - self.smin[j]
            total = self.smax[j] - self.smin[j]
            mw = self.minw[j]
            if kk <= mw:
                if j not in self.or_lit:
                    self.or_lit[j], cs = encode_or(self._bool_lits(j, self.or_lit), pool)
                    out.extend(cs)
                return (self.or_lit[j], self.smin[j] + 1, self.smin[j] + mw)
            if kk > total - mw:
                if j not in self.and_lit:
                    self.and_lit[j], cs = encode_and(self._bool_lits(j, self.and_lit), pool)
                    out.extend(cs)
                return (self.and_lit[j], self.smin[j] + total - mw + 1, self.smax[j])
        starts = self.starts[j]
        i = bisect.bisect_right(starts, k) - 1
        if i >= 0:
            lo, hi, lit = self.entries[j][i]
            if hi >= k:
                return (lit, lo, hi)
        return None

    def ge(self, k: int) -> tuple[_Node, Clauses]:
        """The literal ``[sum >= k]`` and its class of k, with the clauses of the new nodes.

        Raises :class:`_TooBig` past ``cap`` nodes (the clauses made by this call
        are then lost with the MDD; the caller rolls the pool back).
        """
        out: Clauses = []
        found = self._lookup(0, k, out)
        if found is not None:
            return found, out
        stack: list[tuple[int, int]] = [(0, k)]
        while stack:
            j, kk = stack[-1]
            if self._lookup(j, kk, out) is not None:
                stack.pop()
                continue
            runs, missing = self._children(j, kk, out)
            if missing is not None:
                stack.append(missing)
                continue
            self._make(j, kk, runs, out)
            stack.pop()
        found = self._lookup(0, k, out)
        assert found is not None
        return found, out

    def _children(self, j: int, k: int, out: Clauses) -> tuple[list[_Run], tuple[int, int] | None]:
        """Runs of values with one child each, or the first child still to build.

        Where f is monotone the children are monotone in the value, and a child's
        class says how far its run reaches, so a run costs one lookup and one
        bisection (f is cut into maximal monotone segments; a convex cost has two).
        """
        f = self.terms[j].f
        segs = self.segments[j]
        seg_of = self.segment_of[j]
        size = len(f)
        runs: list[_Run] = []
        t = 0
        while t < size:
            node = self._lookup(j + 1, k - f[t], out)
            if node is None:
                return runs, (j + 1, k - f[t])
            lit, lo, hi = node
            _, b, shape = segs[seg_of[t]]
            if shape == "inc":  # k - f falls with t: the run lasts while k - f >= lo
                te = b if lo is None else min(b, bisect.bisect_right(f, k - lo, t, b + 1) - 1)
                fmax, fmin = f[te], f[t]
            else:  # k - f rises with t: the run lasts while k - f <= hi
                neg = self.neg[j]
                te = b if hi is None else min(b, bisect.bisect_right(neg, hi - k, t, b + 1) - 1)
                fmax, fmin = f[t], f[te]
            runs.append(
                (t, te, lit, None if lo is None else lo + fmax, None if hi is None else hi + fmin)
            )
            t = te + 1
        return runs, None

    def _make(self, j: int, k: int, runs: list[_Run], out: Clauses) -> None:
        lo: int | None = None
        hi: int | None = None
        for _, _, _, rlo, rhi in runs:
            if rlo is not None and (lo is None or rlo > lo):
                lo = rlo
            if rhi is not None and (hi is None or rhi < hi):
                hi = rhi
        assert lo is not None and hi is not None and lo <= k <= hi
        merged: list[tuple[int, int, int]] = []  # (first t, last t, child literal)
        for ts, te, child, _, _ in runs:
            if merged and merged[-1][2] == child:
                merged[-1] = (merged[-1][0], te, child)
            else:
                merged.append((ts, te, child))
        shape = self.shapes[j]
        if self.cap is not None and len(merged) > 1 and not _is_step(shape, merged, self.pool.true):
            self.made += 1  # a node variable to come: checked before the pool hands it out
            if self.made > self.cap:
                raise _TooBig
        lit, clauses = encode_mdd_node(self.terms[j].lits, shape, merged, self.pool)
        out.extend(clauses)
        pos = bisect.bisect_right(self.starts[j], lo)
        self.starts[j].insert(pos, lo)
        self.entries[j].insert(pos, (lo, hi, lit))


def _is_step(shape: Shape, merged: Sequence[tuple[int, int, int]], true: int) -> bool:
    """A monotone node whose children are only the constants: one order literal."""
    return shape != "any" and all(c in (true, -true) for _, _, c in merged)


def encode_mdd_node(
    lits: Sequence[int], shape: Shape, merged: Sequence[tuple[int, int, int]], pool: VarPool
) -> tuple[int, Clauses]:
    """The literal ``N`` of an MDD node over an order-encoded ``H`` and its clauses.

    ``lits[t - 1] = [H >= d_t]``; ``merged`` lists runs ``(ts, te, C)``: for
    ``d_ts <= H <= d_te`` the node is its child literal ``C``; ``shape`` says how
    the term's cost moves with ``t``.  With ``g_t = [H >= d_t]`` (``g_0`` TRUE,
    ``g_{r+1}`` FALSE), per run:

    * ``inc``:  ``g_ts & C -> N``  and  ``~g_{te+1} & ~C -> ~N``;
    * ``dec``:  ``~g_{te+1} & C -> N``  and  ``g_ts & ~C -> ~N``;
    * ``any``:  ``(d_ts <= H <= d_te) & C -> N``  and  ``& ~C -> ~N``;

    (a clause with a constant child that satisfies it is left out).  Then ``N``
    is equivalent to ``OR_runs (H in run & C)``.  One run is its child (no
    variable); a monotone node whose children are FALSE then TRUE (``inc``) or
    TRUE then FALSE (``dec``) is the order literal where they change.
    """
    true, false = pool.true, -pool.true
    if len(merged) == 1:
        return merged[0][2], []
    g = [true, *lits, false]
    if _is_step(shape, merged, true):
        return (g[merged[1][0]] if shape == "inc" else -g[merged[1][0]]), []
    lit = pool.fresh()
    out: Clauses = []
    for ts, te, c in merged:
        if shape == "inc":  # H >= d_ts & C -> N;  H <= d_te & ~C -> ~N
            if c != false:
                out.append([-g[ts], -c, lit])
            if c != true:
                out.append([g[te + 1], c, -lit])
        elif shape == "dec":  # H <= d_te & C -> N;  H >= d_ts & ~C -> ~N
            if c != false:
                out.append([g[te + 1], -c, lit])
            if c != true:
                out.append([-g[ts], c, -lit])
        else:  # d_ts <= H <= d_te & C -> N, and & ~C -> ~N
            if c != false:
                out.append([-g[ts], g[te + 1], -c, lit])
            if c != true:
                out.append([-g[ts], g[te + 1], c, -lit])
    return lit, out
