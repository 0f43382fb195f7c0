"""SAT backend: compile a discrete inversion problem to CNF and run a SAT solver.

Decides ``||G(z) - x||_p <= delta`` (or ``< delta``) over ``{0,1}^n`` and
``{-1,1}^n`` for p = inf and every integer p >= 1, and exact inversion
``G(z) = x`` for any p, with a CDCL solver from PySAT (CaDiCaL by default).
A ``no`` comes with "SAT solver: unsatisfiable CNF" and, on request, the CNF in
DIMACS and the solver's DRUP refutation, which :mod:`geninv.solvers.rup`
checks independently.

Exact integers
--------------
Every weight, bias and target entry is an exact rational (floats are dyadic
rationals, :meth:`Layer.exact_rows`).  Each unit's value is kept as an integer
multiple of a rational *unit* of its own: a latent is an integer (unit 1); a
unit with inputs ``h_j = U_j H_j`` (``H_j`` integer) has the pre-activation

    a = sum_j w_j U_j H_j + b = U (sum_j c_j H_j + d),

where ``U`` is the rational gcd of the numbers ``w_j U_j`` and ``b`` (so the
``c_j`` and ``d`` are coprime integers), and ``ReLU(a) = U ReLU(A)`` because
``U > 0``.  No row is ever scaled, so nothing has to be divided back in the
next layer.  Inputs that are constant (stably inactive units, one-valued
units) are folded into ``b``.  Floats that are not short rationals (0.1 is
3602879701896397/2^55) simply give large integers; what limits the backend is
the number of *distinct* values a unit takes (below), not their size.

Bounds and stable units
-----------------------
``S = sum_j c_j H_j`` ranges over ``[sum_j min c_j H_j, sum_j max c_j H_j]``,
the exact extremes over the box of the inputs' value sets.  A ReLU unit with
``max A <= 0`` is stably inactive (the constant 0), one with ``min A >= 0`` is
stably active (``H = A``); the counts are in ``stats``.

Encoding
--------
Every integer quantity ``H`` with value set ``d_0 < d_1 < ... < d_r`` has an
*order (thermometer) encoding*: literals ``g_t = [H >= d_t]`` for t = 1..r,
with ``g_{t+1} -> g_t``.  A latent is one Boolean ``x_i`` (``z_i = x_i`` for
binary, ``z_i = 2 x_i - 1`` for sign), its own order encoding.

A literal ``[sum_j f_j(H_j) >= K]`` (``f_j(v) = c_j v`` for a unit, or the cost
``|U_j v - x_j|^p`` of an output) is the root of a reduced multi-valued
decision diagram (MDD) over the terms, built with the interval memoisation of
Abío, Nieuwenhuis, Oliveras, Rodríguez-Carbonell (2012): node ``(j, K)`` means
``[sum_{i >= j} f_i(H_i) >= K]``; it is TRUE for ``K <= min``, FALSE for
``K > max``, and otherwise has one child ``(j+1, K - f_j(d_t))`` per value.
Every node also records the exact interval of ``K`` with the same function, so
equal nodes are shared across all ``K`` and all roots of one sum.  A node gets
a fresh variable ``N`` and, for each value ``d_t`` with child ``C_t``:

* ``f_j`` nondecreasing:  ``g_t & C_t -> N``  and  ``~g_{t+1} & ~C_t -> ~N``;
* ``f_j`` nonincreasing:  ``~g_{t+1} & C_t -> N``  and  ``g_t & ~C_t -> ~N``;
* otherwise:  ``(H = d_t) & C_t -> N``  and  ``(H = d_t) & ~C_t -> ~N``
  with ``H = d_t`` written ``g_t & ~g_{t+1}``

(``g_0`` is TRUE and ``g_{r+1}`` FALSE).  These clauses make ``N`` *equivalent*
to its function (both directions), so every variable of the CNF is a function
of the latents.  Nodes whose children are all equal reuse the child; where the
remaining terms are all two-valued and the node is a clause or a cube (e.g.
``sum w_i l_i >= K`` with every ``w_i >= K``) it becomes one variable
``N <-> OR(l_i)`` or ``N <-> AND(l_i)`` (flat, no chain).

* A unit ``H = ReLU(A)``: ``[H >= v] = [S >= v - d]`` for ``v >= 1`` (TRUE for
  ``v <= 0``); its value set is found by walking the classes of ``K``, each
  class ending at a value that ``S`` takes, so value sets are exact for the box.
* Output condition, p = inf (and every exact inversion): ``|U Y - x| <= delta``
  is the integer interval ``ceil((x - delta)/U) <= Y <= floor((x + delta)/U)``
  (strict: ``floor(.) + 1`` and ``ceil(.) - 1``), two unit clauses
  ``[Y >= lo]`` and ``~[Y >= hi + 1]``; an empty interval is the empty clause.
* Output condition, integer p: ``sum_j |U_j Y_j - x_j|^p`` against ``delta^p``
  (``threshold_pow`` when given).  All costs and ``delta^p`` are multiplied by
  the lcm ``L`` of their denominators; the integer sum must be
  ``<= B = floor(L delta^p)`` (``<``: ``B = ceil(L delta^p) - 1``).  This is
  the unit clause ``~[sum >= B + 1]`` over an MDD whose levels are the outputs
  (a cost is convex in ``Y``, so it is cut into two monotone pieces), or, when
  that MDD passes ``objective_nodes`` nodes (``objective="auto"``, or always
  with ``objective="adder"``), a binary encoding: the indicators
  ``[Y_j = d_t] = g_t & ~g_{t+1}``, each bit of each output's cost as an OR of
  indicators, full/half adders summing the bits, and the comparison with the
  constant B as clauses (``s > B`` iff some bit with ``B_i = 0`` has ``s_i = 1``
  and ``s_k = 1`` at every higher ``k`` with ``B_k = 1``).  Every adder output
  is again defined by equivalences.
* Twin outputs: the reductions' ``[W; -W]`` last layers give output pairs
  ``ReLU(A)``, ``ReLU(-A)``.  Such a pair is one cost term over the values of
  ``A`` (its own order encoding), ``|U max(A,0) - x|^p + |U max(-A,0) - x'|^p``,
  whose minimum is the pair's real minimum (two independent terms could both
  be 0).  For a decision, a value whose cost alone exceeds the slack
  ``B - sum_j min f_j`` is excluded by a clause (no witness takes it) and
  costs the term's minimum in the MDD.  On Theorem 5 this turns "a non-edge
  inside S" and "|S| != k" into clauses before any sum is encoded:
  johnson8-2-4 has no 5-clique, decided in 0.35 s (previously unknown at 120 s).

PySAT's ``pysat.pb`` is not used: in PySAT 1.9 it needs the optional
``pindakaas`` package, and the hidden units need *reified* constraints (a
literal equivalent to ``[A >= v]``), which the MDD gives directly.  For
monotone (or monotone-by-pieces) terms a node's children come in runs, and a
child's class says where its run ends, so building a node costs one lookup and
one bisection per distinct child.

Two-layer networks of *corner-indicator* units whose outputs force every
indicator off (every Theorem 1 network) skip all of this: :func:`clause_form`
writes one clause per unit with numpy, in well under a millisecond for
SATLIB's uf20 and about 3 ms for uf250.  Through the general encoder,
Theorem 1 networks compile back to their formula too: a clause unit's
``[A >= 1]`` is a cube of the falsified literals (one variable ``o_j``), the
output's ``[Y >= 1]`` is ``OR(o_j)`` (one variable ``r``), and the unit clause
``~r`` propagates to ``~o_j``, leaving exactly the clauses.

Finally the CNF is simplified by unit propagation at the top level (satisfied
clauses dropped, false literals removed, duplicates merged; latents fixed by
propagation stay as unit clauses), and the variables are renumbered: the
latents keep 1..n, auxiliary variables follow.

Why the answers are sound
-------------------------
*No.*  For any latent ``z``, give every auxiliary variable the truth value of
the condition it stands for (its *canonical* value).  Every clause above is a
true implication between those conditions, so the canonical extension of a
witness satisfies the constraint clauses, and the output clauses express the
threshold condition exactly (all arithmetic is exact integer arithmetic).
Node sharing is sound because a node is only reused for a ``K`` inside its
exact interval.  Unit propagation and renumbering preserve satisfiability.
Hence an unsatisfiable CNF means no latent meets the threshold.  With
``proof=PATH`` the CNF and the solver's DRUP proof are written (``PATH`` and
``PATH.cnf``) so that this last step can be checked without trusting the
solver.

*Yes.*  The clauses define every auxiliary variable as a function of the
latents, so a model's latents are a witness; the backend maps them to ``z`` and
re-checks ``z`` in exact arithmetic (:meth:`InversionProblem.exact_check`), and
:func:`geninv.solvers.base.solve` checks it again.  A model that failed would
give ``unknown``, never a wrong ``yes``.

*Unknown.*  A time limit during encoding or solving gives ``unknown``, never
``no``.  CaDiCaL cannot be interrupted from PySAT: with a time limit, a decision
tries ``ONESHOT_BUDGET`` conflicts in process and then solves in a child process
killed at the deadline (:meth:`_Sat.solve_cnf`); incremental calls (optimisation)
and proof logging run in conflict-budget slices.  Other solvers are interrupted
by a timer.

Limits: the MDD of a unit has at most one node per class of ``K`` per level,
so it is small when units take few distinct values (small integer weights, few
inputs).  Hidden units are treated as independent inputs of the next layer, so
a deep unit may have many more candidate values than the ``2^n`` it can reach.
``max_values`` (values per unit; a unit whose inputs allow more, by the product
of their value counts and by its range, is refused before anything is built)
and ``max_nodes`` (auxiliary variables in all) bound the encoding, and a
network beyond them is refused with :class:`UnsupportedError`.  Floats that
are no short rationals are thus accepted when their units stay within the
limits and refused otherwise.  Non-integer p is refused for approximate
inversion (exact inversion is the same for every p).

Optimisation (``mode="optimize"``): the smallest distance, by binary search
on the bound with incremental SAT calls under assumptions (each model's actual
distance tightens the upper end); p = inf searches the sorted finite set of
values ``|U_j v - x_j|``, integer p the integer scaled sum, where an
unsatisfiable bound skips its whole MDD class (the bounds with the same root).
``stats`` hold ``min_distance``, ``min_distance_exact`` (``max |d|`` for
p = inf, ``sum |d|^p`` otherwise) and ``argmin``.  A ``no`` comes from the
optimum; with ``proof=PATH`` the decision CNF of the problem is solved once
more to write a stand-alone refutation.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from geninv import kernels
from geninv.errors import UnsupportedError, ValidationError
from geninv.network import integer_values, small_fraction
from geninv.problem import InversionProblem, Solution, Status
from geninv.solvers.base import Backend, Capabilities, register

Mode = Literal["decide", "optimize"]
MODES: tuple[str, ...] = ("decide", "optimize")
Shape = Literal["inc", "dec", "any"]
ObjectiveKind = Literal["auto", "mdd", "adder"]
OBJECTIVES: tuple[str, ...] = ("auto", "mdd", "adder")

#: Default solver (PySAT name).
DEFAULT_SOLVER = "cadical195"
#: Default bound on the distinct values of one unit.
MAX_VALUES = 20_000
#: Default bound on the MDD nodes (auxiliary variables) of one encoding.
MAX_NODES = 500_000
#: In ``objective="auto"``, the MDD of the distance sum is abandoned for adders beyond this.
OBJECTIVE_NODES = 5_000
#: First conflict budget of a time-limited CaDiCaL slice.
FIRST_BUDGET = 1000
#: Conflicts of the in-process attempt of a one-shot time-limited CaDiCaL call.
ONESHOT_BUDGET = 5000

NO_PROOF_KIND = "SAT solver: unsatisfiable CNF"


class _Timeout(Exception):
    """The deadline passed while encoding."""


class _TooBig(Exception):
    """An MDD went past its own node cap."""


def _fraction_gcd(values: Iterable[Fraction]) -> Fraction:
    """The largest positive rational u with every value an integer multiple of u (1 if none)."""
    vals = [v for v in values if v != 0]
    if not vals:
        return Fraction(1)
    den = 1
    for v in vals:
        den = den * v.denominator // math.gcd(den, v.denominator)
    g = 0
    for v in vals:
        g = math.gcd(g, abs(v.numerator * (den // v.denominator)))
    return Fraction(g, den)


def _lcm(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


# ---------------------------------------------------------------- clause store
class _Cnf:
    """Raw clauses; variable ``n + 1`` is the constant TRUE and is folded away."""

    def __init__(self, n_latents: int, max_nodes: int, deadline: float | None = None) -> None:
        self.n = n_latents
        self.deadline = deadline
        self.true = n_latents + 1
        self.nvars = n_latents + 1
        self.clauses: list[list[int]] = []
        self.contradiction = False
        self.max_nodes = max_nodes
        self.nodes = 0

    def new_var(self) -> int:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise UnsupportedError(
                f"the CNF encoding needs more than max_nodes = {self.max_nodes} auxiliary "
                "variables; the network's units take too many distinct values for the sat "
                "backend (use smaller integer weights, or another backend)"
            )
        if not self.nodes & 1023:
            self.tick()
        self.nvars += 1
        return self.nvars

    def checkpoint(self) -> tuple[int, int, int, bool]:
        return (len(self.clauses), self.nvars, self.nodes, self.contradiction)

    def rollback(self, mark: tuple[int, int, int, bool]) -> None:
        """Forget every clause and variable added since ``mark``."""
        del self.clauses[mark[0] :]
        self.nvars, self.nodes, self.contradiction = mark[1], mark[2], mark[3]

    def tick(self) -> None:
        """Raise :class:`_Timeout` once the deadline has passed."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _Timeout

    def add(self, lits: Iterable[int]) -> None:
        out: list[int] = []
        seen: set[int] = set()
        for lit in lits:
            if lit == self.true:
                return
            if lit == -self.true or lit in seen:
                continue
            if -lit in seen:
                return
            seen.add(lit)
            out.append(lit)
        if not out:
            self.contradiction = True
        self.clauses.append(out)

    def define_or(self, lits: Sequence[int]) -> int:
        """A literal equivalent to OR(lits)."""
        if len(lits) == 1:
            return lits[0]
        v = self.new_var()
        self.add([-v, *lits])
        for lit in lits:
            self.add([v, -lit])
        return v

    def define_and(self, lits: Sequence[int]) -> int:
        """A literal equivalent to AND(lits)."""
        if len(lits) == 1:
            return lits[0]
        v = self.new_var()
        self.add([v, *(-lit for lit in lits)])
        for lit in lits:
            self.add([-v, lit])
        return v


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

    def __init__(self, cnf: _Cnf, terms: Sequence[_Term], cap: int | None = None) -> None:
        self.cnf = cnf
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

    def _bool_lits(self, j: int) -> list[int]:
        out: list[int] = []
        for t in self.terms[j:]:
            w = t.f[1] - t.f[0]
            if w > 0:
                out.append(t.lits[0])
            elif w < 0:
                out.append(-t.lits[0])
        return out

    def _lookup(self, j: int, k: int) -> _Node | None:
        cnf = self.cnf
        if k <= self.smin[j]:
            return (cnf.true, None, self.smin[j])
        if k > self.smax[j]:
            return (-cnf.true, self.smax[j] + 1, None)
        if self.allbool[j]:
            kk = k - self.smin[j]
            total = self.smax[j] - self.smin[j]
            mw = self.minw[j]
            if kk <= mw:
                if j not in self.or_lit:
                    self.or_lit[j] = cnf.define_or(self._bool_lits(j))
                return (self.or_lit[j], self.smin[j] + 1, self.smin[j] + mw)
            if kk > total - mw:
                if j not in self.and_lit:
                    self.and_lit[j] = cnf.define_and(self._bool_lits(j))
                return (self.and_lit[j], self.smin[j] + total - mw + 1, self.smax[j])
        starts = self.starts[j]
        i = bisect.bisect_right(starts, k) - 1
        if i >= 0:
            lo, hi, lit = self.entries[j][i]
            if hi >= k:
                return (lit, lo, hi)
        return None

    def ge(self, k: int) -> _Node:
        """The literal ``[sum >= k]`` and its class of k."""
        found = self._lookup(0, k)
        if found is not None:
            return found
        stack: list[tuple[int, int]] = [(0, k)]
        while stack:
            j, kk = stack[-1]
            if self._lookup(j, kk) is not None:
                stack.pop()
                continue
            runs, missing = self._children(j, kk)
            if missing is not None:
                stack.append(missing)
                continue
            self._make(j, kk, runs)
            stack.pop()
        found = self._lookup(0, k)
        assert found is not None
        return found

    def _children(self, j: int, k: int) -> tuple[list[_Run], tuple[int, int] | None]:
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
            node = self._lookup(j + 1, k - f[t])
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

    def _make(self, j: int, k: int, runs: list[_Run]) -> None:
        term = self.terms[j]
        cnf = self.cnf
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
        true, false = cnf.true, -cnf.true
        # g[t] = [H >= d_t] for t = 0..r+1
        g = [true, *term.lits, false]
        shape = self.shapes[j]
        lit: int
        if len(merged) == 1:
            lit = merged[0][2]
        elif shape != "any" and all(c in (true, false) for _, _, c in merged):
            # "inc": FALSE then TRUE, "dec": TRUE then FALSE (two runs)
            lit = g[merged[1][0]] if shape == "inc" else -g[merged[1][0]]
        else:
            self.made += 1
            if self.cap is not None and self.made > self.cap:
                raise _TooBig
            lit = cnf.new_var()
            for ts, te, c in merged:
                if shape == "inc":  # H >= d_ts & C -> N;  H <= d_te & ~C -> ~N
                    if c != false:
                        cnf.add([-g[ts], -c, lit])
                    if c != true:
                        cnf.add([g[te + 1], c, -lit])
                elif shape == "dec":  # H <= d_te & C -> N;  H >= d_ts & ~C -> ~N
                    if c != false:
                        cnf.add([g[te + 1], -c, lit])
                    if c != true:
                        cnf.add([-g[ts], c, -lit])
                else:  # d_ts <= H <= d_te & C -> N, and & ~C -> ~N
                    if c != false:
                        cnf.add([-g[ts], g[te + 1], -c, lit])
                    if c != true:
                        cnf.add([-g[ts], g[te + 1], c, -lit])
        pos = bisect.bisect_right(self.starts[j], lo)
        self.starts[j].insert(pos, lo)
        self.entries[j].insert(pos, (lo, hi, lit))


# ------------------------------------------------------------------ adders
def _adder_bits(cnf: _Cnf, weighted: Sequence[tuple[int, int]]) -> list[int]:
    """Bits (least significant first) of ``sum w * lit`` for weights w > 0.

    Each weight is split into its binary digits; the literals of one digit
    position are summed by full and half adders whose sum stays in the
    position and whose carry moves up.  Every adder output is defined by
    equivalences, so the bits are functions of the literals.
    """
    buckets: dict[int, deque[int]] = {}
    for lit, w in weighted:
        k = 0
        while w:
            if w & 1:
                buckets.setdefault(k, deque()).append(lit)
            w >>= 1
            k += 1
    bits: list[int] = []
    k = 0
    while k <= max(buckets, default=-1):
        q = buckets.get(k, deque())
        while len(q) >= 2:
            a, b = q.popleft(), q.popleft()
            if q:
                c = q.popleft()
                s, carry = cnf.new_var(), cnf.new_var()
                for x, y, z, out in (
                    (a, b, c, s),
                    (a, -b, -c, s),
                    (-a, b, -c, s),
                    (-a, -b, c, s),
                ):  # s <-> a xor b xor c
                    cnf.add([-x, -y, -z, out])
                    cnf.add([x, y, z, -out])
                for x, y in ((a, b), (a, c), (b, c)):  # carry <-> majority
                    cnf.add([-x, -y, carry])
                    cnf.add([x, y, -carry])
            else:
                s, carry = cnf.new_var(), cnf.new_var()
                cnf.add([-a, -b, -s])  # s <-> a xor b
                cnf.add([a, b, -s])
                cnf.add([-a, b, s])
                cnf.add([a, -b, s])
                cnf.add([-carry, a])  # carry <-> a and b
                cnf.add([-carry, b])
                cnf.add([carry, -a, -b])
            q.append(s)
            buckets.setdefault(k + 1, deque()).append(carry)
        bits.append(q[0] if q else -cnf.true)
        k += 1
    return bits


def _at_most_clauses(bits: Sequence[int], bound: int, false: int) -> list[list[int]]:
    """Clauses saying the binary number ``bits`` (LSB first) is <= ``bound`` >= 0.

    ``sum > bound`` iff some position i has bound_i = 0, s_i = 1 and s_j = 1 at
    every higher j with bound_j = 1; each clause forbids one such i.
    """
    width = max(len(bits), bound.bit_length())
    bit = [bits[i] if i < len(bits) else false for i in range(width)]
    out: list[list[int]] = []
    for i in range(width):
        if (bound >> i) & 1:
            continue
        out.append([-bit[i], *(-bit[j] for j in range(i + 1, width) if (bound >> j) & 1)])
    return out


# ------------------------------------------------------------------ quantities
class _Quantity:
    """An integer quantity ``H`` (a latent or a unit's value) with its order encoding."""

    unit: Fraction = Fraction(1)

    def domain(self) -> tuple[list[int], list[int]]:
        """Values ``d_0 < ... < d_r`` and literals ``[H >= d_t]`` for t = 1..r."""
        raise NotImplementedError


class _Latent(_Quantity):
    def __init__(self, var: int, values: tuple[int, int]) -> None:
        self.var = var
        self.values = values

    def domain(self) -> tuple[list[int], list[int]]:
        return [self.values[0], self.values[1]], [self.var]


class _Unit(_Quantity):
    """``H = ReLU(A)`` or ``A``, ``A = S + d``, ``S = sum_j c_j H_j``; its value is ``unit * H``."""

    def __init__(
        self,
        cnf: _Cnf,
        where: str,
        terms: list[_Term],
        bias: int,
        unit: Fraction,
        relu: bool,
        max_values: int,
    ) -> None:
        self.cnf = cnf
        self.where = where
        self.bias = bias
        self.unit = unit
        self.relu = relu
        self.max_values = max_values
        terms.sort(key=lambda t: -(max(t.f) - min(t.f)))
        # at most prod_j |values_j| sums, and at most max - min + 1 of them
        bound = sum(max(t.f) - min(t.f) for t in terms) + 1
        prod = 1
        for t in terms:
            prod *= len(t.values)
            if prod > bound:
                break
        if min(prod, bound) > max_values:
            raise UnsupportedError(
                f"{where} may take up to {min(prod, bound)} distinct values (more than "
                f"max_values = {max_values}); the sat backend needs units with a small "
                "integer range after exact scaling, or few inputs"
            )
        self.mdd = _SumMDD(cnf, terms)
        self.amin = self.mdd.min + bias
        self.amax = self.mdd.max + bias
        self._domain: tuple[list[int], list[int]] | None = None
        self._pre_domain: tuple[list[int], list[int]] | None = None

    @property
    def status(self) -> str:
        if not self.relu:
            return "affine"
        if self.amax <= 0:
            return "inactive"
        if self.amin >= 0:
            return "active"
        return "unstable"

    @property
    def hmin(self) -> int:
        return max(self.amin, 0) if self.relu else self.amin

    @property
    def hmax(self) -> int:
        return max(self.amax, 0) if self.relu else self.amax

    def ge(self, v: int) -> int:
        """The literal ``[H >= v]``."""
        if v <= self.hmin:
            return self.cnf.true
        if v > self.hmax:
            return -self.cnf.true
        return self.mdd.ge(v - self.bias)[0]

    def domain(self) -> tuple[list[int], list[int]]:
        if self._domain is None:
            self._domain = self._walk(self.hmin)
        return self._domain

    def pre_domain(self) -> tuple[list[int], list[int]]:
        """Values and order literals of the pre-activation ``A = S + d`` (not clamped)."""
        if self._pre_domain is None:
            self._pre_domain = self._walk(self.amin)
        return self._pre_domain

    def _walk(self, lowest: int) -> tuple[list[int], list[int]]:
        """The values ``>= lowest`` of ``max(A, lowest)`` and their order literals."""
        true, false = self.cnf.true, -self.cnf.true
        d = self.bias
        # (value, [H >= value]); the smallest value has the literal TRUE
        pairs: list[tuple[int, int]] = [(lowest, true)]
        k = lowest - d + 1  # [H >= lowest + 1] = [S >= k]
        smax = self.mdd.max
        while k <= smax:
            self.cnf.tick()
            lit, _, hi = self.mdd.ge(k)
            end = smax if hi is None else min(hi, smax)
            # [S >= K] = lit for every K in [k, end], and S = end is possible: so
            # [H >= end + d] = lit and no value of H lies in [k + d, end + d).
            if lit == false:
                break
            if lit == true:
                pairs = [(end + d, true)]
            elif lit == pairs[-1][1]:
                pairs[-1] = (end + d, lit)
            else:
                pairs.append((end + d, lit))
                if len(pairs) > self.max_values:
                    raise UnsupportedError(
                        f"{self.where} takes more than max_values = {self.max_values} distinct "
                        "values; the sat backend needs units with a small integer range "
                        "(after exact scaling)"
                    )
            k = end + 1
        values = [v for v, _ in pairs]
        lits = [lit for _, lit in pairs[1:]]
        for a, b in itertools.pairwise(lits):
            self.cnf.add([-b, a])
        return values, lits


def _rational_terms(
    inputs: Sequence[_Quantity], idx: Sequence[int], coef: Sequence[Fraction], bias: Fraction
) -> tuple[list[tuple[Fraction, _Quantity, list[int], list[int]]], Fraction]:
    """(real coefficient on the integer H_j, H_j, values, literals) and the folded bias."""
    parts: list[tuple[Fraction, _Quantity, list[int], list[int]]] = []
    const = bias
    for j, w in zip(idx, coef, strict=True):
        q = inputs[j]
        real = w * q.unit
        values, lits = q.domain()
        if len(values) == 1:
            const += real * values[0]
        else:
            parts.append((real, q, values, lits))
    return parts, const


# ------------------------------------------------------------------ compiler
@dataclass
class CompiledCNF:
    """The CNF of a problem: latents are variables 1..n (True means z_i = 1)."""

    n: int
    nvars: int
    clauses: list[list[int]]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def unsat_by_propagation(self) -> bool:
        return not all(self.clauses)  # an empty clause

    def to_dimacs(self) -> str:
        lines = [f"p cnf {self.nvars} {len(self.clauses)}"]
        lines.extend(" ".join(map(str, [*c, 0])) for c in self.clauses)
        return "\n".join(lines) + "\n"


class _Encoder:
    """Builds the raw clauses of a problem."""

    def __init__(
        self,
        problem: InversionProblem,
        max_nodes: int,
        max_values: int,
        deadline: float | None,
        objective: ObjectiveKind = "auto",
        objective_nodes: int = OBJECTIVE_NODES,
    ) -> None:
        kind = problem.domain.kind
        if kind not in ("binary", "sign"):
            raise UnsupportedError(f"the sat backend needs binary or sign latents, not {kind!r}")
        self.problem = problem
        self.cnf = _Cnf(problem.n, max_nodes, deadline)
        values = problem.domain.corner_values()
        layer: list[_Quantity] = [_Latent(i + 1, values) for i in range(problem.n)]
        counts = {"active": 0, "inactive": 0, "unstable": 0, "affine": 0}
        per_layer: list[dict[str, int]] = []
        net = problem.network
        out_rows: list[tuple[tuple[int, ...], tuple[Fraction, ...], Fraction]] = []
        for li, lay in enumerate(net.layers, start=1):
            nxt: list[_Quantity] = []
            lc = {"active": 0, "inactive": 0, "unstable": 0, "affine": 0}
            for k, ((idx, coef), b) in enumerate(
                zip(lay.exact_rows(), lay.exact_bias_values(), strict=True)
            ):
                self.cnf.tick()
                where = f"unit {k} of layer {li}"
                parts, const = _rational_terms(layer, idx, coef, b)
                unit = _fraction_gcd([c for c, *_ in parts] + [const])
                terms: list[_Term] = []
                for c, _, vals, lits in parts:
                    ci = c / unit
                    assert ci.denominator == 1
                    terms.append(_Term(vals, lits, [int(ci) * v for v in vals]))
                d = const / unit
                assert d.denominator == 1
                u = _Unit(
                    self.cnf, where, terms, int(d), unit, lay.activation == "relu", max_values
                )
                lc[u.status] += 1
                nxt.append(u)
                if li == net.depth:
                    out_rows.append((idx, coef, b))
            for key, v in lc.items():
                counts[key] += v
            per_layer.append(lc)
            layer = nxt
        self.outputs: list[_Unit] = [q for q in layer if isinstance(q, _Unit)]
        self.twins = self._find_twins(out_rows, net.layers[-1].activation == "relu")
        self.stats: dict[str, Any] = {
            "stable_active": counts["active"],
            "stable_inactive": counts["inactive"],
            "unstable": counts["unstable"],
            "affine_units": counts["affine"],
            "units_per_layer": per_layer,
            "twin_output_pairs": len(self.twins),
        }
        self.objective_kind = objective
        self.objective_nodes = objective_nodes
        self._obj_ready = False
        self._obj_mdd: _SumMDD | None = None
        self._obj_bits: list[int] = []
        self._obj_scale = 1
        self._obj_const = 0
        self._obj_min = 0
        self._obj_offset = 0
        self._obj_wsum = 0
        self._obj_at_most: dict[int, int] = {}
        self._obj_terms: list[_Term] = []

    # ---------------------------------------------------------- output side
    def interval(self, j: int, delta: Fraction, relation: str) -> tuple[int, int]:
        """Integer Y_j with |U_j Y_j - x_j| (relation) delta: [lo, hi] (possibly empty)."""
        u = self.outputs[j].unit
        x = self.problem.target[j]
        a, b = (x - delta) / u, (x + delta) / u
        if relation == "<=":
            return math.ceil(a), math.floor(b)
        return math.floor(a) + 1, math.ceil(b) - 1

    def interval_lits(self, delta: Fraction, relation: str) -> list[int]:
        """Literals whose conjunction says every output is within delta (p = inf)."""
        out: list[int] = []
        for j, y in enumerate(self.outputs):
            lo, hi = self.interval(j, delta, relation)
            if lo > hi:
                return [-self.cnf.true]
            out.append(y.ge(lo))
            out.append(-y.ge(hi + 1))
        return out

    def _find_twins(
        self,
        rows: list[tuple[tuple[int, ...], tuple[Fraction, ...], Fraction]],
        relu: bool,
    ) -> dict[int, int]:
        """Output pairs ``ReLU(a)``, ``ReLU(-a)`` (the reductions' ``[W; -W]``): j -> j'.

        Only pairs whose two units have the same scale ``U`` (then their integer
        pre-activations are exact negatives) and that read at least one input.
        """
        if not relu or len(rows) != len(self.outputs):
            return {}
        where: dict[tuple[Any, ...], int] = {}
        for j, (idx, coef, b) in enumerate(rows):
            if idx:
                where.setdefault((idx, coef, b), j)
        twins: dict[int, int] = {}
        used: set[int] = set()
        for j, (idx, coef, b) in enumerate(rows):
            if not idx or j in used:
                continue
            t = where.get((idx, tuple(-c for c in coef), -b))
            if t is None or t == j or t in used:
                continue
            if self.outputs[j].unit != self.outputs[t].unit:
                continue
            twins[j] = t
            used.update((j, t))
        return twins

    def costs(self, k: int) -> list[tuple[list[int], list[int], list[Fraction]]]:
        """Per cost term: values, order literals and exact costs.

        A term is one output ``Y`` with cost ``|U Y - x|^k``, or a twin pair
        ``ReLU(A)``, ``ReLU(-A)`` read through its pre-activation ``A`` with cost
        ``|U max(A, 0) - x|^k + |U max(-A, 0) - x'|^k``: one term instead of two
        independent ones, so its minimum is the pair's true minimum (with
        independent terms both could be 0, which the pair never is unless A = 0).
        """
        out = []
        partner = set(self.twins.values())
        target = self.problem.target
        for j, y in enumerate(self.outputs):
            self.cnf.tick()
            if j in partner:
                continue
            x = target[j]
            if j in self.twins:
                vals, lits = y.pre_domain()
                x2 = target[self.twins[j]]
                u = y.unit
                cost = [abs(u * max(v, 0) - x) ** k + abs(u * max(-v, 0) - x2) ** k for v in vals]
                out.append((vals, lits, cost))
                continue
            vals, lits = y.domain()
            out.append((vals, lits, [abs(y.unit * v - x) ** k for v in vals]))
        return out

    def objective(
        self, k: int, extra: Sequence[Fraction] = (), prune: tuple[Fraction, str] | None = None
    ) -> None:
        """Prepare ``L * sum_j |U_j Y_j - x_j|^k`` (L: lcm of all denominators, incl. ``extra``).

        An MDD when it stays within ``objective_nodes`` nodes (or ``objective="mdd"``),
        otherwise (or with ``objective="adder"``) a binary adder network.

        ``prune = (t, relation)``: only the condition ``sum (relation) t`` will be
        asked (a decision).  Then a value of a term whose cost alone exceeds the
        slack ``B - sum_j min f_j`` (B the scaled bound) is impossible in any
        witness: it is excluded by a clause ``~(g_t & ~g_{t+1})``, and its cost
        replaced by the term's minimum (sound: no model takes it).  A term left
        with one cost becomes a constant; when the largest remaining sum is
        ``<= B`` the MDD root is FALSE and the bound adds nothing.
        """
        if self._obj_ready:
            return
        per = self.costs(k)
        scale = _lcm(
            [c.denominator for _, _, cs in per for c in cs] + [e.denominator for e in extra]
        )
        const = 0
        terms: list[_Term] = []
        ints_per = [[int(c * scale) for c in cs] for _, _, cs in per]
        if prune is not None:
            scaled = prune[0] * scale
            assert scaled.denominator == 1
            bound = int(scaled) if prune[1] == "<=" else int(scaled) - 1
            slack = bound - sum(min(f) for f in ints_per)
            pruned = 0
            for (_, lits, _), f in zip(per, ints_per, strict=True):
                low = min(f)
                g = [self.cnf.true, *lits, -self.cnf.true]
                for t, v in enumerate(f):
                    if v - low > slack:
                        self.cnf.add([-g[t], g[t + 1]])
                        f[t] = low
                        pruned += 1
            self.stats["objective_values_pruned"] = pruned
        for (vals, lits, _), ints in zip(per, ints_per, strict=True):
            if len(set(ints)) == 1:
                const += ints[0]
            else:
                terms.append(_Term(vals, lits, ints))
        terms.sort(key=lambda t: -(max(t.f) - min(t.f)))
        self._obj_scale = scale
        self._obj_const = const
        self._obj_min = const + sum(min(t.f) for t in terms)
        self._obj_ready = True
        self._obj_terms = terms
        if self.objective_kind != "adder":
            cap = None if self.objective_kind == "mdd" else self.objective_nodes
            self._obj_mdd = _SumMDD(self.cnf, terms, cap)
            self.stats["objective_encoding"] = "mdd"
        else:
            self._build_adder()

    def _build_adder(self) -> None:
        """The objective in binary: per output, the bits of its cost, summed by adders.

        Output j with values d_0..d_r gets the indicators ``e_t = [Y_j = d_t]``
        (``g_t & ~g_{t+1}``); bit k of ``f_j(Y_j) - min f_j`` is the OR of the
        ``e_t`` whose cost has bit k (or the negated OR of the others).  The bits
        of all outputs are then added by :func:`_adder_bits`.
        """
        cnf = self.cnf
        terms = self._obj_terms
        estimate = sum(len(t.values) + 3 * (max(t.f) - min(t.f)).bit_length() for t in terms)
        if estimate > cnf.max_nodes - cnf.nodes:
            raise UnsupportedError(
                f"the distance sum needs about {estimate} auxiliary variables as adders "
                f"(max_nodes = {cnf.max_nodes}); the outputs' costs are too large or too "
                "many for the sat backend"
            )
        offset = self._obj_const
        wsum = 0
        weighted: list[tuple[int, int]] = []
        for t in terms:
            low = min(t.f)
            offset += low
            f = [v - low for v in t.f]
            wsum += max(f)
            g = [cnf.true, *t.lits, -cnf.true]
            r = len(t.values) - 1
            ind: dict[int, int] = {}

            def e(i: int, g: list[int] = g, ind: dict[int, int] = ind) -> int:
                if i not in ind:
                    ind[i] = cnf.define_and([x for x in (g[i], -g[i + 1]) if x != cnf.true])
                return ind[i]

            for k in range(max(f).bit_length()):
                on = [i for i in range(r + 1) if (f[i] >> k) & 1]
                if not on:
                    continue
                if len(on) == r + 1:
                    offset += 1 << k
                    continue
                if 2 * len(on) <= r + 1:
                    bit = cnf.define_or([e(i) for i in on])
                else:
                    off = set(on)
                    bit = -cnf.define_or([e(i) for i in range(r + 1) if i not in off])
                weighted.append((bit, 1 << k))
        self._obj_bits = _adder_bits(cnf, weighted)
        self._obj_offset = offset
        self._obj_wsum = wsum
        self.stats["objective_encoding"] = "adder"

    def at_most(self, bound: int) -> int:
        """A literal that implies (scaled objective) <= bound, true whenever that holds."""
        return self.at_most_class(bound)[0]

    def at_most_class(self, bound: int) -> tuple[int, int]:
        """``at_most(bound)``, and the largest bound known to give the same condition."""
        assert self._obj_ready
        if bound in self._obj_at_most:
            return self._obj_at_most[bound], bound
        cnf = self.cnf
        lit: int
        last = bound
        if self._obj_mdd is not None:
            mark = cnf.checkpoint()  # nothing after it has reached a solver yet
            try:
                root, _, hi = self._obj_mdd.ge(bound + 1 - self._obj_const)
                lit = -root
                if hi is not None:
                    last = max(bound, hi - 1 + self._obj_const)
            except _TooBig:
                cnf.rollback(mark)
                self._obj_mdd = None  # earlier MDD roots stay valid
                self._build_adder()
        if self._obj_mdd is None:
            kk = bound - self._obj_offset
            if kk < 0:
                lit = -cnf.true
            elif kk >= self._obj_wsum:
                lit = cnf.true
            else:
                lit = cnf.new_var()
                for clause in _at_most_clauses(self._obj_bits, kk, -cnf.true):
                    cnf.add([-lit, *clause])
        self._obj_at_most[bound] = lit
        return lit, last

    def add_threshold(self) -> None:
        """Clauses saying the problem's threshold condition holds."""
        pr = self.problem
        p = pr.p
        cnf = self.cnf
        if math.isinf(p) or (pr.threshold == 0 and pr.threshold_pow is None):
            delta = pr.threshold if math.isinf(p) else Fraction(0)
            relation = pr.relation if math.isinf(p) else "<="
            for lit in self.interval_lits(delta, relation):
                cnf.add([lit])
            return
        k = int(p)
        t = pr.threshold_pow if pr.threshold_pow is not None else pr.threshold**k
        self.objective(k, [t], prune=(t, pr.relation))
        scaled = t * self._obj_scale
        assert scaled.denominator == 1
        bound = int(scaled) if pr.relation == "<=" else int(scaled) - 1
        cnf.add([self.at_most(bound)])


def _simplify(cnf: _Cnf) -> CompiledCNF:
    """Top-level unit propagation, then renumbering (latents keep 1..n)."""
    n = cnf.n
    clauses = cnf.clauses
    occ: dict[int, list[int]] = {}
    for ci, c in enumerate(clauses):
        for lit in c:
            occ.setdefault(lit, []).append(ci)
    true: set[int] = set()  # literals fixed true
    queue: list[int] = []
    conflict = cnf.contradiction
    # counting propagation: non-false literals per clause, and satisfied clauses
    free = [len(c) for c in clauses]
    done = [False] * len(clauses)
    for c in clauses:
        if len(c) == 1:
            if -c[0] in true:
                conflict = True
            elif c[0] not in true:
                true.add(c[0])
                queue.append(c[0])
    head = 0
    while not conflict and head < len(queue):
        lit = queue[head]
        head += 1
        for ci in occ.get(lit, ()):
            done[ci] = True
        for ci in occ.get(-lit, ()):
            free[ci] -= 1
            if done[ci] or free[ci] > 1:
                continue
            unit = next((x for x in clauses[ci] if -x not in true), None)
            if unit is None:
                conflict = True
                break
            if unit not in true:
                true.add(unit)
                queue.append(unit)
    stats = {"raw_vars": cnf.nvars - 1, "raw_clauses": len(clauses), "mdd_nodes": cnf.nodes}
    if conflict:
        return CompiledCNF(n, n, [[]], stats)
    out: list[list[int]] = []
    seen: set[tuple[int, ...]] = set()
    for v in range(1, n + 1):
        for unit in (v, -v):
            if unit in true:
                seen.add((unit,))
                out.append([unit])
    rename: dict[int, int] = {v: v for v in range(1, n + 1)}
    nxt = n
    for c in clauses:
        kept: list[int] = []
        for x in c:
            if x in true:
                break
            if -x not in true:
                kept.append(x)
        else:
            key = tuple(sorted(kept))
            if key in seen:
                continue
            seen.add(key)
            new: list[int] = []
            for x in kept:
                v = abs(x)
                if v not in rename:
                    nxt += 1
                    rename[v] = nxt
                new.append(rename[v] if x > 0 else -rename[v])
            out.append(new)
    return CompiledCNF(n, nxt, out, stats)


def compile_to_cnf(
    problem: InversionProblem,
    *,
    max_nodes: int = MAX_NODES,
    max_values: int = MAX_VALUES,
    objective: ObjectiveKind = "auto",
    objective_nodes: int = OBJECTIVE_NODES,
    vectorised: bool = True,
) -> CompiledCNF:
    """The CNF whose models are exactly the witnesses (on variables 1..n) of ``problem``.

    With ``vectorised`` (the default) problems of the shape of :func:`clause_form`
    take that shortcut; otherwise, and for every other problem, the general
    encoder runs.

    Raises :class:`UnsupportedError` for non-discrete domains, non-integer p
    with delta > 0, and networks beyond the ``max_nodes`` / ``max_values`` limits.
    """
    reason = SatBackend.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    start = time.perf_counter()
    memo = clause_form(problem) if vectorised else None
    if memo is not None:
        # a copy: the caller may change it, clause_form's answer is remembered
        fast = CompiledCNF(memo.n, memo.nvars, [list(c) for c in memo.clauses], dict(memo.stats))
        fast.stats["cnf_vars"] = fast.nvars
        fast.stats["cnf_clauses"] = len(fast.clauses)
        fast.stats["encode_seconds"] = time.perf_counter() - start
        return fast
    enc = _Encoder(problem, max_nodes, max_values, None, objective, objective_nodes)
    enc.add_threshold()
    cnf = _simplify(enc.cnf)
    cnf.stats.update(enc.stats)
    cnf.stats["cnf_vars"] = cnf.nvars
    cnf.stats["cnf_clauses"] = len(cnf.clauses)
    cnf.stats["encode_seconds"] = time.perf_counter() - start
    return cnf


#: ``smallest`` of an output no indicator feeds (above every a_ji M_i, which are < 2^52).
_NO_JUMP = float(2**60)


def _clause_rows(
    d: Any,
    smallest: Any,
    feeds: Any,
    target: Sequence[Any],
    delta: Any,
    relu_out: bool,
    strict: bool,
) -> tuple[bool, Any] | None:
    """Per output row of :func:`clause_form`, exactly (ints or Fractions): ``(empty, need)``.

    ``smallest`` is ``_NO_JUMP`` exactly on the outputs no indicator feeds.
    ``empty``: some output is already too high with every indicator off (no
    latent works); ``need``: the indicators that some output forbids, which is
    every indicator that feeds some output (an output with a feeding indicator
    either forbids them all or does not have the clause shape).  None
    when a row does not have the clause shape (its lower end needs a unit on,
    or one unit on may still meet its upper end).
    """
    import numpy as np

    rows = _clause_rows_lists(d.tolist(), smallest.tolist(), target, delta, relu_out, strict)
    if rows is None:
        return None
    if rows is True:
        return True, np.zeros(feeds.shape[1], dtype=bool)  # too high with every unit off
    if len(rows) == 1:
        return False, feeds[rows[0]]
    return False, feeds[rows].any(axis=0) if rows else np.zeros(feeds.shape[1], dtype=bool)


def _clause_rows_lists(
    d: list[float],
    smallest: list[float],
    target: Sequence[Any],
    delta: Any,
    relu_out: bool,
    strict: bool,
) -> Literal[True] | list[int] | None:
    """:func:`_clause_rows` on lists (d and smallest hold integers, as floats):
    True when some output is too high with every indicator off, None when a row
    does not have the clause shape, else the outputs that some indicator feeds."""
    d_int = [int(v) for v in d]
    bases = [max(v, 0) for v in d_int] if relu_out else d_int
    for base, x in zip(bases, target, strict=True):
        gap_high = x + delta - base  # must stay >= 0 (> 0)
        if (gap_high <= 0) if strict else (gap_high < 0):
            return True
    used: list[int] = []
    for j, x in enumerate(target):
        gap_low = bases[j] - x + delta
        if (gap_low <= 0) if strict else (gap_low < 0):
            return None  # the lower end needs some unit on: not this shape
        if smallest[j] >= _NO_JUMP:  # no indicator feeds this output
            continue
        jump = d_int[j] + int(smallest[j])
        if relu_out:
            jump = max(jump, 0)
        over = jump - x - delta
        if (over < 0) if strict else (over <= 0):
            return None  # one unit on may still meet the upper end
        used.append(j)
    return used


def _clause_stats(units: int, n_constant: int) -> dict[str, Any]:
    return {
        "encoding": "clause form (corner-indicator units, vectorised)",
        "indicator_units": units - n_constant,
        "constant_units": n_constant,
    }


def _clause_rows_int(
    d: Any,
    smallest: Any,
    feeds: Any,
    target: Sequence[int],
    delta: int,
    relu_out: bool,
    strict: bool,
) -> tuple[bool, Any] | None:
    """:func:`_clause_rows` for an integer target and threshold, vectorised in int64.

    Every value is below 2^53 in magnitude (the caller's guards), so the int64
    sums are exact.  Same answer as the loop: an output that is too high with
    every unit off makes the CNF empty whatever the other rows say.
    """
    import numpy as np

    x = np.asarray(target, dtype=np.int64)
    base = d.astype(np.int64)
    if relu_out:
        base = np.maximum(base, 0)
    gap_low, gap_high = base - x + delta, x + delta - base
    if ((gap_high <= 0) if strict else (gap_high < 0)).any():
        return True, np.zeros(feeds.shape[1], dtype=bool)
    if ((gap_low <= 0) if strict else (gap_low < 0)).any():
        return None
    fed = feeds.any(axis=1)
    jump = d.astype(np.int64) + np.where(fed, smallest, 0).astype(np.int64)
    if relu_out:
        jump = np.maximum(jump, 0)
    over = (jump - x - delta)[fed]
    if ((over < 0) if strict else (over <= 0)).any():
        return None
    return False, feeds[fed].any(axis=0)


# ------------------------------------------------------------------ clause form
def clause_form(problem: InversionProblem) -> CompiledCNF | None:
    """The CNF of a two-layer network whose first-layer units are *corner indicators*.

    A vectorised shortcut of the general encoder (same CNF, no auxiliary
    variables), or ``None`` when the problem does not have this shape; the
    caller then uses the general encoder.  It applies when:

    * the latents are binary or sign, the network has two layers, the first a
      ReLU layer, every weight and bias is an integer
      (:meth:`ReLUNetwork.integer_layers`), and every sum below stays under 2^52
      in magnitude, so the float64 (BLAS) arithmetic on them is exact;
    * every first-layer unit ``h_i = ReLU(w_i . z + b_i)`` is constant (its
      extremes over the corners agree after the ReLU) or a *corner indicator*:
      with ``M_i = max_z (w_i . z + b_i) > 0`` attained at the corner ``c_i``
      (``c_iv = hi`` iff ``w_iv > 0``), the best other corner differs from it in
      one coordinate, so ``M_i - g_i`` with ``g_i = min_{w_iv != 0} |w_iv| (hi - lo)``
      is its value; when ``M_i - g_i <= 0`` the unit is ``M_i [z_S = c_i|_S]``
      (S the support of ``w_i``), i.e. ``M_i`` times an AND of literals;
    * the condition on every output ``y_j = act(sum_i a_ji h_i + d_j)`` is an
      interval (exact inversion, or p = inf) whose lower end holds when every
      indicator is 0, every ``a_ji`` that meets an indicator is positive, and
      the upper end fails as soon as any one indicator is 1:
      ``act(d'_j + a_ji M_i)`` violates it for every such i, where ``d'_j`` is
      ``d_j`` plus the constant units.  Because ``act`` is nondecreasing and the
      coefficients positive, ``y_j`` meets the condition iff every indicator
      feeding it is 0: one clause ``OR_{v in S} [z_v != c_iv]`` per indicator.
      When ``act(d'_j)`` already violates the upper end no latent works and the
      CNF is the empty clause.

    Theorem 1 networks have exactly this shape (clause row j is the indicator of
    the falsifying corner, ``M = 1``, ``g = 2``); the CNF is then the source
    formula itself (tautologies dropped, empty clauses kept), literal for
    literal, in clause order.

    The answer is remembered on the problem (``auto`` asks before the backend
    compiles) while none of the attributes it reads has been replaced; callers
    must not modify the returned CNF.
    """
    return problem.derived("clause_form", lambda: _clause_form(problem))


def _split(lits: Any, sizes: Any) -> list[list[int]]:
    """The clauses of consecutive literal runs of the given sizes."""
    import numpy as np

    flat_lits = lits.tolist()
    ends = np.cumsum(sizes).tolist()
    return [flat_lits[i:j] for i, j in zip([0, *ends][:-1], ends, strict=True)]


def _corner_arrays(w: Any, b: Any, a: Any, b2: Any, sabs: Any, kind: str) -> Any:
    """The numpy twin of the corner analysis in the kernel ``clause_cnf`` (:mod:`geninv.kernels`):
    ``(d, smallest, feeds, number of constant units)``, or None when some unit is
    no corner indicator or some indicator feeds an output negatively."""
    import numpy as np

    n = w.shape[1]
    span = 2 if kind == "sign" else 1  # hi - lo
    # the best corner: b + sum |w| for corners -1, 1; b + the positive weights for 0, 1
    amax = b + sabs if kind == "sign" else b + (sabs + w @ np.ones(n)) / 2
    # constant: never positive, or no weight (amin = amax - sabs equals amax)
    constant = (amax <= 0) | (sabs == 0)
    any_constant = bool(constant.any())
    # a non-constant unit is a corner indicator iff its second-best corner, which flips
    # the coordinate with the smallest nonzero |w_iv|, is not positive:
    # amax <= |w_iv| span for every nonzero w_iv.  Every nonzero integer weight has
    # |w_iv| >= 1, so only rows with amax > span are read, and only when there are any.
    if float(amax.max()) > span:
        need_abs = np.where(constant, 0.0, amax / span)
        heavy = need_abs > 1
        if heavy.any():
            aw = np.abs(w[heavy])
            if ((aw < need_abs[heavy][:, None]) & (aw != 0)).any():
                return None
    if any_constant:
        indicator = ~constant
        d = b2 + a @ np.where(constant, np.maximum(amax, 0), 0)
        if ((a < 0) & indicator).any():
            return None
        feeds = (a != 0) & indicator
    else:  # every unit an indicator (Theorem 1 networks)
        d = b2
        if float(a.min()) < 0:
            return None
        feeds = a != 0
    smallest = np.where(feeds, a * amax, _NO_JUMP).min(axis=1)  # the smallest jump of one unit
    return d, smallest, feeds, int(constant.sum()) if any_constant else 0


def _clause_form(problem: InversionProblem) -> CompiledCNF | None:
    """:func:`clause_form`, computed (numpy calls kept few: on 100-clause formulas
    each costs about as much as CaDiCaL spends per clause)."""
    pr = problem
    kind = pr.domain.kind
    net = pr.network
    if kind not in ("binary", "sign") or len(net.layers) != 2:
        return None
    if not (pr.threshold.numerator == 0 and pr.threshold_pow is None) and not math.isinf(pr.p):
        return None
    first, second = net.layers
    if first.activation != "relu" or second.activation not in ("relu", "identity"):
        return None
    kern = kernels.get()
    w, b, a, b2 = first.weight, first.bias, second.weight, second.bias
    computed: Any = None
    if kern is not None:
        # the network's integer plan and the corner shape in one compiled call; the
        # shape is None when some parameter is not an integer (then so is the plan)
        computed, c_shape = kern.clause_cnf(w, b, a, b2, kind == "sign")
        if net.integer_plan_known:
            computed = None  # the remembered plan stands
    layers = net.integer_layers(computed)  # None also for parameters held as Fractions
    if layers is None:
        return None
    import numpy as np

    (sabs, r1, b1, _), (_, r2, bb2, _) = layers  # sabs: row sums of |W|, exact below
    # |z_v| <= 1, so |pre-activations| <= r1 + b1 and every sum below is at most
    # max(r1 + b1, r2 (r1 + b1) + bb2): under 2^52 each is an integer that float64
    # holds exactly, whatever order BLAS adds in, and halving it is exact too
    if max(r1 + b1, r2 * (r1 + b1) + bb2) >= 2**52:
        return None
    # the float64 parameters equal the integers (integer_layers checked it)
    m1, n = w.shape
    if kern is not None:  # the same answer from compiled loops (geninv.kernels)
        # the clauses of every unit that feeds an output come along: when the rows
        # test below passes, those are exactly the units it needs (see _clause_rows)
        if c_shape is None or not c_shape[0]:
            return None
        _, d, smallest, n_constant, c_clauses = c_shape
    else:
        shape_arrays = _corner_arrays(w, b, a, b2, sabs, kind)
        if shape_arrays is None:
            return None
        d, smallest, feeds, n_constant = shape_arrays
    relu_out = second.activation == "relu"
    delta: Fraction | int = pr.threshold
    if pr.threshold.denominator == 1:
        delta = int(pr.threshold)  # Python int arithmetic is far quicker than Fraction's
    strict = pr.relation == "<"
    if kern is not None:
        tint = pr.target_ints()
        fed = _clause_rows_lists(d, smallest, tint or pr.target, delta, relu_out, strict)
        if fed is None:
            return None
        # fed is True: some output is too high with every unit off (the empty clause)
        cnf = [[]] if fed is True else c_clauses
        return CompiledCNF(pr.n, pr.n, cnf, _clause_stats(m1, n_constant))
    if len(pr.target) <= 32:  # a few outputs: the loop (in ints when possible) is quicker
        tint = integer_values(pr.target)
        shape = _clause_rows(d, smallest, feeds, tint or pr.target, delta, relu_out, strict)
    else:
        tint = pr.target_ints()
        if tint is not None and type(delta) is int and max(map(abs, tint)) < 2**52:
            shape = _clause_rows_int(d, smallest, feeds, tint, delta, relu_out, strict)
        else:
            shape = _clause_rows(d, smallest, feeds, pr.target, delta, relu_out, strict)
    if shape is None:
        return None
    empty, need = shape
    stats = _clause_stats(m1, n_constant)
    if empty:
        return CompiledCNF(pr.n, pr.n, [[]], stats)
    clauses: list[list[int]]
    ws = w if need.all() else w[need]
    # row-major: the literals of each clause in turn (numpy's nonzero is several times
    # quicker on a bool mask than on floats)
    flat = np.flatnonzero(ws != 0)
    rows, cols = np.divmod(flat, n)
    sizes = np.bincount(rows, minlength=ws.shape[0])
    # the clause literal says z_v differs from the corner: +v when c_iv = lo (w < 0)
    cols += 1
    lits = np.where(ws.ravel()[flat] > 0, -cols, cols)
    if sizes.size and sizes.min() == sizes.max() > 0:  # k-CNF: one reshape
        clauses = lits.reshape(sizes.size, int(sizes[0])).tolist()
    else:
        clauses = _split(lits, sizes)
    return CompiledCNF(pr.n, pr.n, clauses, stats)


# ------------------------------------------------------------------ solving
#: PySAT solvers that cannot log proofs (constructing one with a proof fails).
NO_PROOF_SOLVERS = frozenset(
    {"minicard", "minisat22", "minisatgh", "minisatep", "cryptosat", "kissat404"}
)


@functools.lru_cache(maxsize=64)
def canonical_solver(name: str) -> str:
    """PySAT's canonical name for a solver name or alias (``"g4"`` -> ``"glucose4"``)."""
    from pysat.solvers import SolverNames

    names: dict[str, tuple[str, ...]] = {
        k: v for k, v in vars(SolverNames).items() if not k.startswith("_")
    }
    for canon, aliases in names.items():
        if name == canon or name in aliases:
            return canon
    raise ValidationError(f"unknown SAT solver {name!r}; PySAT offers {', '.join(sorted(names))}")


#: PySAT's C functions for CaDiCaL 1.9.5 that :class:`_CadicalC` calls.
_CADICAL_C = ("new", "add_cl", "cbudget", "solve_lim", "solve", "model", "del")


@functools.cache
def _cadical195_c() -> dict[str, Any] | None:
    """PySAT's C functions for CaDiCaL 1.9.5 by short name, or None if one is missing."""
    from pysat import solvers as pysat_solvers

    module = getattr(pysat_solvers, "pysolvers", None)
    fns = {k: getattr(module, f"cadical195_{k}", None) for k in _CADICAL_C}
    return fns if all(fns.values()) else None


def _main_thread() -> int:
    """1 in the main thread (CaDiCaL then lets Ctrl-C interrupt it), as PySAT passes."""
    return int(threading.current_thread() is threading.main_thread())


class _CadicalC:
    """CaDiCaL 1.9.5 through PySAT's C functions, for :class:`_Sat` without proofs.

    The part of PySAT's solver interface that ``_Sat`` uses, with the same calls
    and status conversions as PySAT's ``Cadical195``, minus its two layers of
    Python wrappers: several microseconds a call, which on 100-clause formulas is
    as much as CaDiCaL's whole search.
    """

    def __init__(self, fns: dict[str, Any]) -> None:
        self._f = fns
        self.cadical: Any = fns["new"]()
        self.status: bool | None = None

    @property
    def solver(self) -> _CadicalC:
        """Itself: _Sat.add reads the handle as ``solver.solver.cadical`` (PySAT's layout)."""
        return self

    def add_clause(self, clause: list[int]) -> None:
        if not self._f["add_cl"](self.cadical, clause):
            self.status = False

    def conf_budget(self, budget: int) -> None:
        self._f["cbudget"](self.cadical, budget)

    def solve_limited(
        self, assumptions: Sequence[int] = (), expect_interrupt: bool = False
    ) -> bool | None:
        raw = self._f["solve_lim"](self.cadical, list(assumptions), _main_thread())
        self.status = None if raw == 0 else bool((raw + 1) / 2)
        return self.status

    def solve(self, assumptions: Sequence[int] = ()) -> bool | None:
        self.status = self._f["solve"](self.cadical, list(assumptions), _main_thread())
        return self.status

    def get_model(self) -> list[int] | None:
        if self.cadical is None or self.status is not True:
            return None
        model = self._f["model"](self.cadical)
        return model if model is not None else []

    def delete(self) -> None:
        if self.cadical is not None:
            self._f["del"](self.cadical, None)
            self.cadical = None

    def __del__(self) -> None:  # as PySAT's solvers: never leak the C solver
        self.delete()


class _Sat:
    """A PySAT solver with deadline handling."""

    def __init__(self, name: str, with_proof: bool) -> None:
        from pysat.solvers import Solver

        self.name = name
        direct = _cadical195_c() if name == "cadical195" and not with_proof else None
        try:
            self.solver: Any = (
                Solver(name=name, with_proof=with_proof) if direct is None else _CadicalC(direct)
            )
        except NotImplementedError as err:
            raise UnsupportedError(f"solver {name!r} cannot log proofs: {err}") from None
        self.budget = FIRST_BUDGET
        self.with_proof = with_proof
        self._model: list[int] | None = None

    def __enter__(self) -> _Sat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.solver.delete()

    def add(self, clauses: Iterable[Sequence[int]]) -> None:
        add = self.solver.add_clause
        inner = getattr(self.solver, "solver", None)
        handle = getattr(inner, "cadical", None)
        if self.name == "cadical195" and handle is not None:
            direct = (_cadical195_c() or {}).get("add_cl")
            if direct is not None:
                # PySAT's own add_clause is two Python wrappers around this call; on
                # 100-clause formulas they cost as much as CaDiCaL's whole search.
                # A False return (empty clause added) is recorded as PySAT does.  The C
                # function takes any iterable of ints; map() calls it without a Python
                # loop.
                added = list(map(direct, itertools.repeat(handle), clauses))
                if not all(added) and inner is not None:
                    inner.status = False
                return
        for c in clauses:
            add(c if type(c) is list else list(c))

    def solve(self, assumptions: Sequence[int] = (), deadline: float | None = None) -> bool | None:
        """True / False, or None when the deadline passed."""
        with _ctrl_c_as_keyboard_interrupt():
            return self._solve(assumptions, deadline)

    def _solve(self, assumptions: Sequence[int], deadline: float | None) -> bool | None:
        s = self.solver
        if deadline is None:
            return bool(s.solve(assumptions=list(assumptions)))
        if self.name.startswith("lingeling"):
            raise UnsupportedError(
                "lingeling cannot be time-limited from PySAT; choose another solver"
            )
        if self.name.startswith("cadical"):
            while True:
                if time.perf_counter() >= deadline:
                    return None
                t0 = time.perf_counter()
                s.conf_budget(self.budget)
                r = s.solve_limited(assumptions=list(assumptions))
                if r is not None:
                    return bool(r)
                # every new solve_limited call restarts CaDiCaL's search schedule, so
                # slices grow geometrically while they take under a quarter of the
                # time left (the deadline is overrun by about one slice at most)
                now = time.perf_counter()
                if now - t0 < 0.25 * (deadline - now):
                    self.budget *= 2
        left = deadline - time.perf_counter()
        if left <= 0:
            return None

        def stop() -> None:
            with contextlib.suppress(NotImplementedError):
                s.interrupt()

        timer = threading.Timer(left, stop)
        timer.daemon = True
        timer.start()
        try:
            r = s.solve_limited(assumptions=list(assumptions), expect_interrupt=True)
        finally:
            timer.cancel()
        if r is None:
            s.clear_interrupt()
            return None
        return bool(r)

    def solve_cnf(self, clauses: list[list[int]], deadline: float | None) -> bool | None:
        """One-shot decision of ``clauses`` (already added) with a time limit.

        CaDiCaL cannot be interrupted from PySAT, and every call of a conflict-
        budgeted ``solve_limited`` restarts its search schedule, which on
        satisfiable SATLIB formulas costs up to 9x (uf250-02: 0.52 s in one call,
        4.2 s in slices of 1000, 2000, ... conflicts).  So, where ``os.fork``
        exists and no proof is logged: one in-process slice of ``ONESHOT_BUDGET``
        conflicts decides small formulas at once; otherwise a child process
        solves the formula from scratch in one uninterrupted call (the same
        search CaDiCaL alone would do, about 9 ms of fork overhead) and is killed
        at the deadline.  Elsewhere the budget slices of :meth:`solve` are used.
        """
        if (
            deadline is None
            or not self.name.startswith("cadical")
            or self.with_proof
            or not hasattr(os, "fork")
        ):
            return self.solve((), deadline)
        # about 50 ms on 1000-clause SATLIB formulas; fewer conflicts on larger CNFs
        budget = min(ONESHOT_BUDGET, max(100, 5_000_000 // max(1, len(clauses))))
        if budget > 0:
            self.solver.conf_budget(budget)
            with _ctrl_c_as_keyboard_interrupt():
                r = self.solver.solve_limited()
            if r is not None:
                return bool(r)
        try:
            out = _solve_in_child(self.name, clauses, deadline)
        except (RuntimeError, OSError):  # no fork, or the child died: slices in process
            return self.solve((), deadline)
        if out is None:
            return None
        ok, model = out
        self._model = model
        return ok

    def model(self, n: int) -> list[bool]:
        m = self._model if self._model is not None else (self.solver.get_model() or [])
        pos = {lit for lit in m if lit > 0}
        return [i in pos for i in range(1, n + 1)]

    def proof(self) -> list[str]:
        return list(self.solver.get_proof() or [])


@contextlib.contextmanager
def _ctrl_c_as_keyboard_interrupt() -> Iterator[None]:
    """PySAT catches Ctrl-C inside a solve (main thread) and raises its own
    ``pysolvers.error("Caught keyboard interrupt")``; callers see KeyboardInterrupt."""
    try:
        yield
    except Exception as exc:
        if "keyboard interrupt" in str(exc).lower():
            raise KeyboardInterrupt from None
        raise


def _solve_in_child(
    name: str, clauses: list[list[int]], deadline: float
) -> tuple[bool, list[int] | None] | None:
    """Solve in a forked process, killed at the deadline: (sat?, model) or None."""
    import pickle
    import select
    import signal
    import warnings

    from pysat.solvers import Solver  # imported here, not in the child (import locks)

    from geninv import guard

    r, w = os.pipe()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
    except OSError:  # e.g. no memory for the page tables: the caller falls back
        os.close(r)
        os.close(w)
        raise
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            guard.child_init()  # default SIGINT/SIGTERM: the parent kills this process
            with Solver(name=name, bootstrap_with=clauses) as child:
                ok = bool(child.solve())
                model = child.get_model() if ok else None
            data = memoryview(pickle.dumps((ok, model)))
            while data:
                data = data[os.write(w, data) :]
        finally:
            os._exit(0)
    os.close(w)
    guard.track_child(pid)  # a signal or a limit in this process kills it too
    chunks: list[bytes] = []
    finished = False
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    finished = True
                    break
                chunks.append(chunk)
    finally:  # also on KeyboardInterrupt: never leave the child running
        os.close(r)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        guard.untrack_child(pid)
    if not chunks:
        raise RuntimeError(f"the {name} child process ended without an answer")
    ok, model = pickle.loads(b"".join(chunks))
    return bool(ok), model


def _write_proof_files(cnf_path: str, dimacs: str, proof_path: str, lines: list[str]) -> None:
    """Write the CNF and the DRUP proof atomically (:mod:`geninv.io.atomic`), both or neither.

    An existing regular file is replaced (the CLI refuses one without
    ``--force`` before solving); a link, a device or a directory is refused.
    """
    from geninv.io.atomic import OutputError, atomic_file, remove_path

    try:
        with atomic_file(cnf_path, force=True, mode="w") as fh:
            fh.write(dimacs)
        try:
            with atomic_file(proof_path, force=True, mode="w") as fh:
                for line in lines:
                    fh.write(line.strip() + "\n")
        except BaseException:
            remove_path(cnf_path)
            raise
    except OutputError as err:
        raise ValidationError(f"cannot write the proof: {err}") from None


def _latent(bits: Sequence[bool], values: tuple[int, int]) -> list[Fraction]:
    lo, hi = small_fraction(values[0]), small_fraction(values[1])  # shared, immutable
    return [hi if b else lo for b in bits]


#: Activations the CNF encoding handles exactly (a ReLU unit is an exact case split,
#: the identity a plain sum); others are refused.
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})


@register
class SatBackend(Backend):
    """Exact CNF encoding (order encoding + MDDs) and a CDCL solver; binary/sign latents.

    Options (``solve(problem, "sat", options={...})``):

    * ``mode``: ``"decide"`` (default) or ``"optimize"`` (smallest distance).
    * ``solver``: a PySAT solver name (default ``"cadical195"``; e.g. ``"glucose4"``,
      ``"kissat404"``).
    * ``proof``: a path; for a ``no`` the DRUP proof is written there and the CNF
      to ``path + ".cnf"``.
    * ``check_proof``: also check that proof with :mod:`geninv.solvers.rup`.
    * ``max_nodes`` / ``max_values``: encoding limits (see the module docstring).
    """

    name = "sat"
    summary = "CNF encoding (order encoding, MDDs) + CDCL SAT solver; DRUP proofs (binary/sign)"
    capabilities = Capabilities(
        domains=frozenset({"binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
        activations=HANDLED_ACTIVATIONS,
    )
    modules = ("pysat",)
    no_basis = "exact"  # exact integer CNF; "checked certificate" once rup checked the DRUP

    def __init__(
        self,
        mode: Mode = "decide",
        solver: str = DEFAULT_SOLVER,
        proof: str | os.PathLike[str] | None = None,
        check_proof: bool = False,
        max_nodes: int = MAX_NODES,
        max_values: int = MAX_VALUES,
        objective: ObjectiveKind = "auto",
        objective_nodes: int = OBJECTIVE_NODES,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
        solver = canonical_solver(solver)
        if max_nodes < 1 or max_values < 1 or objective_nodes < 1:
            raise ValidationError("max_nodes, max_values and objective_nodes must be positive")
        if objective not in OBJECTIVES:
            raise ValidationError(
                f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
            )
        self.objective: ObjectiveKind = objective
        self.objective_nodes = objective_nodes
        if proof is not None and solver in NO_PROOF_SOLVERS:
            raise UnsupportedError(f"solver {solver!r} cannot log proofs; use e.g. glucose4")
        self.mode: Mode = mode
        self.solver = solver
        self.proof_path = None if proof is None else os.fspath(proof)
        self.check_proof = check_proof
        self.max_nodes = max_nodes
        self.max_values = max_values

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        reason = super().unsupported_reason(problem)
        if reason is not None:
            return reason
        p = problem.p
        exact = problem.threshold == 0 and problem.threshold_pow is None
        if not exact and not math.isinf(p) and not p.is_integer():
            return f"backend 'sat' handles integer p and p = inf for delta > 0, not p = {p!r}"
        return None

    def _encoder(self, problem: InversionProblem, deadline: float | None) -> _Encoder:
        return _Encoder(
            problem,
            self.max_nodes,
            self.max_values,
            deadline,
            self.objective,
            self.objective_nodes,
        )

    # ------------------------------------------------------------ decide
    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        reason = self.unsupported_reason(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        start = time.perf_counter()
        deadline = None if time_limit is None else start + time_limit
        if self.mode == "optimize":
            sol = self._optimize(problem, deadline)
        else:
            sol = self._decide(problem, deadline, self.proof_path)
        sol.stats["mode"] = self.mode
        sol.seconds = time.perf_counter() - start
        return sol

    def _decide(
        self, problem: InversionProblem, deadline: float | None, proof_path: str | None
    ) -> Solution:
        t0 = time.perf_counter()
        fast = clause_form(problem)
        stats: dict[str, Any]
        if fast is not None:
            cnf = fast
            stats = dict(cnf.stats)
        else:
            try:
                enc = self._encoder(problem, deadline)
                enc.add_threshold()
            except _Timeout:
                return self._unknown("time limit while encoding", {})
            cnf = _simplify(enc.cnf)
            stats = dict(enc.stats)
            stats.update(cnf.stats)
        stats.update(
            cnf_vars=cnf.nvars,
            cnf_clauses=len(cnf.clauses),
            solver=self.solver,
            encode_seconds=time.perf_counter() - t0,
        )
        t1 = time.perf_counter()
        proof_lines: list[str] | None = None
        if cnf.unsat_by_propagation:
            result: bool | None = False
            stats["decided_by"] = "unit propagation while encoding"
            proof_lines = ["0"]
        else:
            with _Sat(self.solver, proof_path is not None) as sat:
                sat.add(cnf.clauses)
                result = sat.solve_cnf(cnf.clauses, deadline)
                if result is True:
                    bits = sat.model(problem.n)
                elif result is False and proof_path is not None:
                    proof_lines = sat.proof()
        stats["solve_seconds"] = time.perf_counter() - t1
        if result is None:
            return self._unknown("time limit in the SAT solver", stats)
        if result:
            z = _latent(bits, problem.domain.corner_values())
            chk = problem.exact_check(z)
            if not chk.meets:  # pragma: no cover - would be an encoder bug
                return self._unknown(
                    f"SAT model failed the exact check ({chk.reason}); encoder bug?", stats, z
                )
            return Solution(
                Status.YES, self.name, z=z, distance=chk.distance, check=chk, stats=stats
            )
        proof = self._no_proof(cnf, proof_path, proof_lines)
        return Solution(Status.NO, self.name, proof=proof, stats=stats)

    def _no_proof(
        self, cnf: CompiledCNF, proof_path: str | None, lines: list[str] | None
    ) -> dict[str, Any]:
        proof: dict[str, Any] = {
            "kind": NO_PROOF_KIND,
            "solver": self.solver,
            "cnf_vars": cnf.nvars,
            "cnf_clauses": len(cnf.clauses),
            "proof_file": None,
            "cnf_file": None,
        }
        if cnf.unsat_by_propagation:
            proof["decided_by"] = "unit propagation while encoding"
        if proof_path is not None:
            cnf_path = proof_path + ".cnf"
            _write_proof_files(cnf_path, cnf.to_dimacs(), proof_path, lines or [])
            proof["proof_file"] = proof_path
            proof["cnf_file"] = cnf_path
            proof["proof_format"] = "DRUP (text)"
            if self.check_proof:
                from geninv.solvers.rup import check_drup_files

                res = check_drup_files(cnf_path, proof_path)
                proof["proof_checked"] = res.ok
                if res.ok:
                    proof["basis"] = "checked certificate"
                proof["proof_check"] = res.reason
        return proof

    def _unknown(
        self, reason: str, stats: dict[str, Any], z: list[Fraction] | None = None
    ) -> Solution:
        return Solution(Status.UNKNOWN, self.name, z=z, reason=reason, stats=stats)

    # ------------------------------------------------------------ optimize
    def _optimize(self, problem: InversionProblem, deadline: float | None) -> Solution:
        p = problem.p
        if not (math.isinf(p) or p.is_integer()):
            raise UnsupportedError(f"sat optimize mode needs an integer p or p = inf, not {p!r}")
        if self.solver.startswith(("kissat", "lingeling")):
            raise UnsupportedError(
                f"optimize mode needs an incremental solver with assumptions, not {self.solver!r}"
            )
        t0 = time.perf_counter()
        values = problem.domain.corner_values()
        stats: dict[str, Any] = {"solver": self.solver}
        best_z: list[Fraction] | None = None
        calls = 0
        try:
            enc = self._encoder(problem, deadline)
            stats.update(enc.stats)
            cnf = enc.cnf
            with _Sat(self.solver, False) as sat:
                fed = 0

                def feed() -> None:
                    nonlocal fed
                    sat.add(cnf.clauses[fed:])
                    fed = len(cnf.clauses)

                def probe(assume: list[int]) -> bool | None:
                    nonlocal calls
                    calls += 1
                    feed()
                    if -cnf.true in assume:
                        return False
                    return sat.solve([a for a in assume if a != cnf.true], deadline)

                def key_of(z: list[Fraction]) -> Fraction:
                    k = problem.exact_check(z).distance_pow
                    assert k is not None
                    return k

                r = probe([])
                if r is None:
                    return self._unknown("time limit in the SAT solver", stats)
                assert r, "the network constraints alone are always satisfiable"
                best_z = _latent(sat.model(problem.n), values)
                best = key_of(best_z)
                if math.isinf(p):
                    cands = sorted(
                        {
                            abs(y.unit * v - problem.target[j])
                            for j, y in enumerate(enc.outputs)
                            for v in y.domain()[0]
                        }
                    )
                    lo, hi = 0, cands.index(best)
                    while lo < hi:
                        mid = (lo + hi) // 2
                        r = probe(enc.interval_lits(cands[mid], "<="))
                        if r is None:
                            raise _Timeout
                        if r:
                            best_z = _latent(sat.model(problem.n), values)
                            best = key_of(best_z)
                            hi = cands.index(best)
                        else:
                            lo = mid + 1
                else:
                    k = int(p)
                    enc.objective(k)
                    scale = enc._obj_scale
                    lo_i = enc._obj_min
                    hi_i = int(best * scale)
                    while lo_i < hi_i:
                        mid = (lo_i + hi_i - 1) // 2  # is a sum <= mid possible?
                        lit, last = enc.at_most_class(mid)
                        r = probe([lit])
                        if r is None:
                            raise _Timeout
                        if r:
                            best_z = _latent(sat.model(problem.n), values)
                            best = key_of(best_z)
                            hi_i = int(best * scale)
                        else:
                            lo_i = last + 1
        except _Timeout:
            stats["sat_calls"] = calls
            reason = "time limit during optimisation"
            if best_z is not None:
                stats["best_distance"] = problem.exact_check(best_z).distance
            return self._unknown(reason, stats, best_z)
        assert best_z is not None
        chk = problem.exact_check(best_z)
        stats.update(
            sat_calls=calls,
            raw_vars=cnf.nvars - 1,
            raw_clauses=len(cnf.clauses),
            mdd_nodes=cnf.nodes,
            min_distance=chk.distance,
            min_distance_exact=str(chk.distance_pow),
            argmin=[int(v) for v in best_z],
            encode_and_solve_seconds=time.perf_counter() - t0,
        )
        if chk.meets:
            return Solution(
                Status.YES, self.name, z=best_z, distance=chk.distance, check=chk, stats=stats
            )
        proof: dict[str, Any] = {
            "kind": NO_PROOF_KIND,
            "solver": self.solver,
            "cnf_vars": cnf.nvars - 1,
            "cnf_clauses": len(cnf.clauses),
            "proof_file": None,
            "optimal": True,
            "min_distance": chk.distance,
            "min_distance_exact": str(chk.distance_pow),
        }
        if self.proof_path is not None:
            # A stand-alone certificate: the decision CNF of the problem itself.
            dec = self._decide(problem, None, self.proof_path)
            if dec.status is not Status.NO:  # pragma: no cover - would be an encoder bug
                return self._unknown("optimisation and decision disagree; encoder bug?", stats)
            assert dec.proof is not None
            proof.update({k: v for k, v in dec.proof.items() if k != "kind"})
        return Solution(Status.NO, self.name, distance=chk.distance, proof=proof, stats=stats)
