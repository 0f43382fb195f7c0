"""Small Boolean encodings as pure functions over the shared :class:`VarPool`.

Each ``encode_x(inputs..., pool)`` returns its output literal(s) and the clauses
that define them; nothing else is changed but the pool's counter.  The clauses
may mention the pool's TRUE variable (the clause store folds it away).  Every
defined literal is *equivalent* to the function it names (both directions), so
every variable of the CNF is a function of the latents (the module docstring of
:mod:`geninv.solvers.sat`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from geninv.solvers.sat.pool import Clauses, VarPool


def encode_or(lits: Sequence[int], pool: VarPool) -> tuple[int, Clauses]:
    """``v <-> OR(lits)``: ``(~v | l_1 | ... | l_k)`` and ``(v | ~l_i)`` (k + 1 clauses).

    One literal is returned as it is (no variable, no clause).
    """
    if len(lits) == 1:
        return lits[0], []
    v = pool.fresh()
    return v, [[-v, *lits], *([v, -lit] for lit in lits)]


def encode_and(lits: Sequence[int], pool: VarPool) -> tuple[int, Clauses]:
    """``v <-> AND(lits)``: ``(v | ~l_1 | ... | ~l_k)`` and ``(~v | l_i)`` (k + 1 clauses)."""
    if len(lits) == 1:
        return lits[0], []
    v = pool.fresh()
    return v, [[v, *(-lit for lit in lits)], *([-v, lit] for lit in lits)]


def encode_order_chain(lits: Sequence[int]) -> Clauses:
    """The order encoding's chain ``[H >= d_{t+1}] -> [H >= d_t]`` for ``lits[t - 1]``."""
    return [[-b, a] for a, b in itertools.pairwise(lits)]


def encode_excluded_values(
    lits: Sequence[int], f: Sequence[int], slack: int, pool: VarPool
) -> tuple[list[int], Clauses]:
    """Forbid the values of an order-encoded ``H`` whose cost exceeds the slack.

    ``lits[t - 1] = [H >= d_t]``, ``f[t]`` the cost of ``d_t``.  A value with
    ``f[t] - min f > slack`` gets the clause ``~(g_t & ~g_{t+1})`` (``g_0`` TRUE,
    ``g_{r+1}`` FALSE) and its cost is replaced by ``min f`` in the returned
    costs (sound: no model takes it).
    """
    low = min(f)
    g = [pool.true, *lits, -pool.true]
    out = list(f)
    clauses: Clauses = []
    for t, v in enumerate(f):
        if v - low > slack:
            clauses.append([-g[t], g[t + 1]])
            out[t] = low
    return out, clauses
