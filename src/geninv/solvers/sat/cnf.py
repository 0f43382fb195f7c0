"""The clause store: variables, clauses, constants (shared by every encoding)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from geninv.errors import UnsupportedError
from geninv.solvers.sat.common import _Timeout


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
