"""The clause store: the clauses the encoder composes, over one shared :class:`VarPool`.

The encodings (:mod:`.encodings`, :mod:`.adders`, :mod:`.mdd`, :mod:`.units`) are
pure functions of their inputs and the pool that return their clauses; the
encoder appends those clauses here, where the constant TRUE variable of the pool
(``n + 1``) is folded away as they arrive.
"""

from __future__ import annotations

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

    def extend(self, clauses: Iterable[Iterable[int]]) -> None:
        """Append clauses in order (each as :meth:`add`)."""
        for c in clauses:
            self.add(c)
