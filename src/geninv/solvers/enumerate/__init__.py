"""Reference solver: enumerate every corner of {0,1}^n or {-1,1}^n.

The package by stage: :mod:`.common` (names and constants), :mod:`.bound` (the a-priori
error bound), :mod:`.plan` (shards and the first-layer table), :mod:`.shard` (screening
one shard), :mod:`.combine` (one answer from the shards), :mod:`.executors` and
:mod:`.dask_executor` (threads, processes, a Dask cluster), :mod:`.runtime` (progress,
BLAS threads), :mod:`.driver` (``enumerate_corners``) and :mod:`.backend`.

This backend is the oracle the other solvers are tested against, so it favours
being right; within that, it is built to be fast.  It evaluates the network in
float64 on every corner, screens the float distances, and re-checks every
point the floats cannot rule out with certainty in exact rational arithmetic
(:meth:`InversionProblem.exact_check`).  A ``no`` therefore rests on a
rigorous a-priori bound on the float error, derived below, and on shard
bookkeeping that shows every corner was screened exactly once.

Enumeration order and the table method
--------------------------------------
Corner ``i`` (``0 <= i < 2^n``) is the ``i``-th element of
``itertools.product(values, repeat=n)``: coordinate ``j`` holds bit ``n-1-j`` of
``i``.  With ``k`` *table bits*, ``i = o 2^k + r``: the *outer* index ``o`` holds
coordinates ``0 .. n-k-1`` and the *inner* index ``r`` coordinates ``n-k .. n-1``.
The first layer's contribution of the inner block is computed once for all
``2^k`` inner patterns, ``T[r] = W_1[:, inner] z(r)`` (a ``(2^k, m_1)`` table,
stored transposed); for a batch of outer patterns the first-layer
pre-activation of all ``2^k`` corners sharing ``o`` is one broadcast add
``T + C[o]`` with ``C[o] = W_1[:, outer] z(o) + b_1``: ``O(m_1)`` per corner instead
of ``O(n m_1)``.  A chunk's activations are 2-D arrays ``(m_l, rows)`` (one column
per corner, in order), so each later layer is one matrix product ``W_l H``, and
the distances are taken column-wise on the ``(q, rows)`` outputs.  The ``C[o]``
of many chunks are computed at once.  Chunks hold at most ``chunk_rows``
corners, so memory stays bounded whatever ``n`` (per worker); the default
(512 KiB per layer array) keeps the first layer's block in the L2 cache, where
the add and the ReLU run fastest.

Shards and parallelism
----------------------
The ``2^(n-k)`` outer indices are cut into contiguous *shards*; shard ``s`` with
outer indices ``[a, b)`` is the corners ``[a 2^k, b 2^k)``.  Shards are independent
and deterministic (:func:`run_shard`), so they run in the calling thread, in a
thread pool (numpy releases the GIL in its kernels), in a process pool, or as
Dask tasks (:mod:`geninv.solvers.enumerate.dask_executor`), and a shard computed twice
gives the same result.  :class:`ShardCombiner` keeps one result per shard id,
so nothing is counted twice; a ``no`` is only returned when the completed
shards tile ``[0, 2^n)`` exactly and their point counts sum to ``2^n`` (both
checked, and recorded per shard in the proof).

Float error bound
-----------------
Notation: ``u = 2^-53`` (unit roundoff of float64), ``gamma_k = k u / (1 - k u)``,
``eta = 2^-1074`` (smallest subnormal), ``|.|`` elementwise absolute value,
``W_l, b_l`` the float64 parameters, ``W*_l, b*_l`` the exact (rational)
ones, ``dW_l = |W*_l - W_l|`` and ``db_l = |b*_l - b_l|`` (zero unless the
network was built from rationals that floats cannot hold, e.g. 1/3), and
``k_l`` the fan-in of layer ``l``.  Over the whole domain (every corner):

* ``M_0 = max |corner value|`` (1 for both domains), ``E_0 = 0`` (corners are
  exact floats);
* ``M_l = |W*_l| M_{l-1} + |b*_l|`` bounds the exact pre-activations (hence
  the exact activations);
* ``E_l = |W_l| E_{l-1} + dW_l M_{l-1} + db_l
  + gamma_{k_l+1} (|W_l| (M_{l-1} + E_{l-1}) + |b_l|) + (k_l+1) eta``
  bounds ``|float h_l - exact h_l|``.  The ``gamma`` term is the standard
  bound for a sum of the ``k_l + 1`` terms ``w_ij h_j`` and ``b_i`` evaluated
  along *any* binary tree of float additions, with or without FMA: every
  leaf of a binary tree with ``k_l + 1`` leaves lies at depth at most ``k_l``,
  so each term is rounded at most once as a product and at most ``k_l`` times
  inside partial sums, and the computed sum is ``sum_t term_t (1 + theta_t)``
  with ``|theta_t| <= gamma_{k_l+1}`` (Higham, *Accuracy and Stability of
  Numerical Algorithms*, Lemma 3.1).  This covers every BLAS summation order,
  and the table method: layer 1 is computed as ``fl(T[r] + C[o])`` where
  ``T[r]`` is a float sum (some tree) of the inner terms, ``C[o]`` a float sum
  (some tree) of the outer terms and the bias, and the final add joins the two
  trees, so the whole is again one binary tree over the same ``n + 1`` leaves
  and the same ``gamma_{n+1}`` bound applies (a sum of two partial dot
  products is still a dot product).  The ``eta`` term covers underflow in the
  products (float additions are exact in the subnormal range).  ReLU is
  1-Lipschitz, so it does not increase the error.  No partial sum can
  overflow while ``M`` is finite.

Every bound is computed in float64 with upward inflation (each vector
expression of ``k`` operations is multiplied by ``1 + 2(k+3)u`` and gets
``(k+3) eta`` added), so it is an upper bound of the real-number formula.

*Exact float evaluation.*  If every parameter is a float whose value is a
multiple of ``2^-f`` and every |partial sum| of layer ``l`` stays below
``2^(53 - F_l)``, with ``F_0 = 0`` and ``F_l = max(f_{W_l} + F_{l-1}, f_{b_l})``,
then every float operation is exact and ``E_L = 0`` (typical for the integer
networks of the hardness reductions).  The test bounds every partial sum by
the sum of the absolute values of all terms, which holds for any summation
tree, so it also covers the table method (the table entries and ``C[o]`` are
partial sums).  Identical float outputs then mean identical exact outputs,
which lets exact re-checks be cached by output.

*Float32 evaluation.*  The same argument holds in float32 (24-bit
significand, smallest subnormal ``2^-149``) when every parameter is a float32
value, ``F_l <= 149`` and every |partial sum| stays below ``2^(24 - F_l)``:
every float32 product and sum is then exact, so the float32 forward pass (and
the table method in float32) gives exactly the float64 outputs, which are the
exact outputs.  Only then (``ErrorBound.float32_exact``, the usual case for
the integer networks of the reductions) does the plan evaluate in float32
(``precision="auto"``, the default), which halves the memory traffic of the
hot loop; the outputs are widened to float64 (exactly) before the distance, so
everything after the forward pass, the bound included, is unchanged.  Any
other network is evaluated in float64.

*Folded first ReLU (float32 plans).*  ``relu(T + C) = max(T, -C) + C``, so
layer 2's pre-activation is ``W_2 max(T, -C) + (W_2 C + b_2)``: one max per
unit and corner instead of an add and a max, and ``W_2 C + b_2`` once per
outer pattern.  In exact arithmetic the two are equal.  The float32 plan
folds only when this evaluation is exact too (``ErrorBound.float32_fold``):
``-C`` and the max are exact, ``T``, ``C`` and ``max(T, -C)`` are multiples of
``2^-F_1`` bounded by ``S_1 = |W_1| M_0 + |b_1|`` (the bound on layer 1's
partial sums), and every partial sum of layer 2's ``2 m_1 + 1`` terms is
bounded by ``|W_2| (2 S_1) + |b_2|``, which the test requires to stay below
``2^(24 - F_2)``: then every float32 operation of layer 2 is exact, its
outputs equal the exact ones, and the later layers are exact as before.

*Distance.*  The float distance is ``D = problem.distances(y)``: ``d = fl(y - t)``
with ``t = float(x)``, then the row norm of :func:`geninv.problem.lp_norm_rows`
(for p = 1, 2, inf :meth:`EnumPlan.distances` evaluates the same formula on the
transposed outputs; only the summation order differs, which ``rho`` allows).
With ``dt_j = |x_j - float(x_j)|`` (the target need not be a float) and
``|fl(y - t) - (y - t)| <= u |y - t|``, the triangle inequality gives for the
exact distance ``D* = ||G*(z) - x||_p``::

    |D* - D| <= A + R D,   A = ||E_L + dt||_p + (norm underflow),
                           R = (rho + 2u) / (1 - rho)

where ``rho`` bounds the relative error of the norm routine: 0 for p = inf
(max is exact), ``gamma_{q+3}`` for p = 1 and p = 2 (any summation order), and
``gamma_{2q + ceil(p) + 8}`` for other p (scaling by the max, the power, the
sum, the root with a rounded exponent ``1/p``, and the final product; it
assumes ``pow`` is accurate to 1 ulp).  ``||E_L + dt||_p`` is bounded by its
1-norm for p < 2, its 2-norm for p >= 2 and the max for p = inf.

Both ``A`` and ``R`` are then multiplied by a safety factor 2.  A corner with

    D > cutoff(delta) = (delta + 2A) / (1 - 2R)   (rounded up)

has ``D* > delta`` and is certainly not a witness, for both relations; all
other corners, and any corner whose float distance is NaN or infinite, are
re-checked exactly.  ``margin = cutoff(delta) - delta`` is reported in the
proof of a ``no``.  When ``delta`` is given as ``delta^p`` (``threshold_pow``),
an upper float bound of its p-th root is verified in exact arithmetic.

Modes
-----
``decide`` (default) returns the first exact witness in enumeration order,
whatever the shards, workers and timing: each shard stops at its own first
witness, shards after a witness shard are told to stop, and the answer is the
witness of the lowest shard whose predecessors all finished without one.
A corner whose exact comparison with the threshold is out of reach
(:mod:`geninv.exact`: non-integer p, undecided within its caps) is neither a
witness nor excluded: a run that finds no witness then answers ``unknown``,
never ``no``.  ``optimize`` finds the minimum exact distance over all corners: each shard
screens with the running float minimum ``m`` (shared between threads or
processes; a corner with ``D (1 - 2R) - 2A > m (1 + 2R) + 2A`` cannot be a
minimiser, whichever corner ``m`` came from), exact-checks the survivors in
enumeration order and keeps its first minimiser; the shards' minima are
combined by (exact key, index), i.e. the first minimiser in enumeration order.
The decision follows from the minimiser; ``stats`` hold ``min_distance`` and
``argmin``.
"""

from geninv.solvers.enumerate.backend import EnumerateBackend
from geninv.solvers.enumerate.bound import (
    ErrorBound,
    chunk_rows,
    corners,
    error_bound,
    exact_key,
    gamma,
    threshold_upper,
)
from geninv.solvers.enumerate.combine import ShardCombiner
from geninv.solvers.enumerate.common import (
    CHUNK_FLOATS,
    EXECUTORS,
    HANDLED_ACTIVATIONS,
    MAX_N,
    MODES,
    PRECISIONS,
    SHARDS_PER_WORKER,
    ExecutorKind,
    Mode,
    Precision,
)
from geninv.solvers.enumerate.driver import enumerate_corners, estimate_seconds
from geninv.solvers.enumerate.plan import EnumPlan, Shard, choose_table_bits, make_plan
from geninv.solvers.enumerate.runtime import (
    _BLAS_LIMIT,
    ShardError,
    _find_openblas,
    _fmin,
    _screen,
    default_workers,
)
from geninv.solvers.enumerate.shard import (
    LocalControl,
    ShardControl,
    ShardResult,
    run_shard,
)

__all__ = [
    "CHUNK_FLOATS",
    "EXECUTORS",
    "HANDLED_ACTIVATIONS",
    "MAX_N",
    "MODES",
    "PRECISIONS",
    "SHARDS_PER_WORKER",
    "_BLAS_LIMIT",
    "EnumPlan",
    "EnumerateBackend",
    "ErrorBound",
    "ExecutorKind",
    "LocalControl",
    "Mode",
    "Precision",
    "Shard",
    "ShardCombiner",
    "ShardControl",
    "ShardError",
    "ShardResult",
    "_find_openblas",
    "_fmin",
    "_screen",
    "choose_table_bits",
    "chunk_rows",
    "corners",
    "default_workers",
    "enumerate_corners",
    "error_bound",
    "estimate_seconds",
    "exact_key",
    "gamma",
    "make_plan",
    "run_shard",
    "threshold_upper",
]
