"""The clause store: the clauses the encoder composes, over one shared :class:`VarPool`.

The encodings (:mod:`.encodings`, :mod:`.adders`, :mod:`.mdd`, :mod:`.units`) are
pure functions of their inputs and the pool that return their clauses; the
encoder appends those clauses here, where the constant TRUE variable of the pool
(``n + 1``) is folded away as they arrive.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from geninv.solvers.sat.pool import VarPool


# ---------------------------------------------------------------- clause store
class _Cnf:
    """Raw clauses over ``pool``; the pool's TRUE variable is folded away."""

    def __init__(self, pool: VarPool) -> None:
        self.pool = pool
        self.n = pool.n
        self.true = pool.true
        self.clauses: list[list[int]] = []
        self.contradiction = False

    @property
    def nvars(self) -> int:
        """The largest variable id in use (TRUE included)."""
        return self.pool.top

    @property
    def nodes(self) -> int:
        """Auxiliary variables handed out by the pool."""
        return self.pool.count

    def tick(self) -> None:
        """Raise ``_Timeout`` once the deadline has passed."""
        self.pool.tick()

    def add(self, lits: Iterable[int]) -> None:
        """Append one clause: satisfied by TRUE -> dropped; FALSE and repeats removed."""
        true, false = self.true, -self.true
        out: list[int] = []
        seen: set[int] = set()
        for lit in lits:
            if lit == true:
                return
            if lit == false or lit in seen:
                continue
            if -lit in seen:
                return
            seen.add(lit)
            out.append(lit)
        if not out:
            self.contradiction = True
        self.clauses.append(out)

    def extend(self, clauses: Iterable[list[int]]) -> None:
        """Append clauses in order, each as :meth:`add` does.

        A clause that needs no change (no constant, no repeated literal, not a
        tautology, not empty) is kept as the very list given (the encodings hand
        over fresh lists), so that composing encodings allocates no more than
        adding their clauses one by one did.
        """
        add, keep = self.add, self.clauses.append
        true, false = self.true, -self.true
        for c in clauses:
            s = set(c)
            if (
                len(s) == len(c)
                and c
                and true not in s
                and false not in s
                and s.isdisjoint(map(operator.neg, c))
            ):
                keep(c)
            else:
                add(c)
