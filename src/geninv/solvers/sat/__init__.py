"""SAT backend: compile a discrete inversion problem to CNF and run a SAT solver.

The package is the backend's stages: :mod:`.common` (modes, limits), :mod:`.pool` (the
one shared variable pool), :mod:`.cnf` (the clause store), :mod:`.encodings`, :mod:`.mdd`
and :mod:`.adders` (encodings of weighted sums), :mod:`.units` (the integer quantities),
:mod:`.encoder` (problem -> CNF, simplifier),
:mod:`.clause_form` (the one-clause-per-unit fast path), :mod:`.engines` (running CDCL
solvers, proofs) and :mod:`.backend` (encode -> run -> decode).

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
Every encoding is a pure function ``encode_x(inputs..., pool)`` over one shared
variable pool (:class:`~geninv.solvers.sat.pool.VarPool`, the contract of PySAT's
``IDPool``) that returns its output literals and the clauses defining them, as
PySAT's ``CardEnc`` does; the encoder composes them into the clause store.  The
MDD of a sum is the memo table of such calls (its nodes are shared).

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

from geninv.solvers.sat.backend import HANDLED_ACTIVATIONS, SatBackend, compile_to_cnf
from geninv.solvers.sat.clause_form import (
    _NO_JUMP,
    _clause_form,
    _clause_rows,
    _clause_rows_int,
    clause_form,
)
from geninv.solvers.sat.common import (
    DEFAULT_SOLVER,
    MAX_NODES,
    MAX_VALUES,
    MODES,
    NO_PROOF_KIND,
    OBJECTIVES,
    Mode,
)
from geninv.solvers.sat.encoder import CompiledCNF
from geninv.solvers.sat.engines import NO_PROOF_SOLVERS, canonical_solver

__all__ = [
    "DEFAULT_SOLVER",
    "HANDLED_ACTIVATIONS",
    "MAX_NODES",
    "MAX_VALUES",
    "MODES",
    "NO_PROOF_KIND",
    "NO_PROOF_SOLVERS",
    "OBJECTIVES",
    "_NO_JUMP",
    "CompiledCNF",
    "Mode",
    "SatBackend",
    "_clause_form",
    "_clause_rows",
    "_clause_rows_int",
    "canonical_solver",
    "clause_form",
    "compile_to_cnf",
]
