"""The shared variable pool of the SAT encodings (the contract of PySAT's ``IDPool``).

Every encoding of the backend is a function ``encode_x(inputs..., pool)`` that
returns its output literals and the clauses defining them; the only state the
encodings share is this pool, which hands out fresh variable ids (and, like
``pysat.formula.IDPool.id``, one id per name).  The pool is a small typed class
rather than ``IDPool`` itself because the backend also needs, on the same
counter, the constant TRUE variable, a cap on the auxiliary variables
(``max_nodes``), the encoding deadline and a rollback to a mark (an abandoned MDD).

Numbering: the latents are ``1..n``, ``n + 1`` is the constant TRUE (its negation
FALSE; the clause store folds both away) and fresh ids follow from ``n + 2``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from geninv.errors import UnsupportedError
from geninv.solvers.sat.common import _Timeout

#: A clause list, as the encodings return it (may mention the TRUE variable).
Clauses = list[list[int]]


class VarPool:
    """Fresh and named variable ids above ``n`` latents and the constant TRUE.

    ``fresh()`` is ``IDPool._next()``, ``id(name)`` is ``IDPool.id(name)``
    (a new id the first time a name is seen), ``top`` the largest id handed out.
    ``count`` is the number of auxiliary (fresh or named) ids; past ``max_fresh``
    the pool raises :class:`UnsupportedError`, and every 1024 ids it checks the
    deadline (:class:`_Timeout`).
    """

    def __init__(
        self, n_latents: int, max_fresh: int | None = None, deadline: float | None = None
    ) -> None:
        self.n = n_latents
        self.true = n_latents + 1
        self.top = n_latents + 1
        self.count = 0
        self.max_fresh = max_fresh
        self.deadline = deadline
        self._names: dict[Hashable, int] = {}

    def fresh(self) -> int:
        """A new variable id."""
        self.count += 1
        if self.max_fresh is not None and self.count > self.max_fresh:
            raise UnsupportedError(
                f"the CNF encoding needs more than max_nodes = {self.max_fresh} auxiliary "
                "variables; the network's units take too many distinct values for the sat "
                "backend (use smaller integer weights, or another backend)"
            )
        if not self.count & 1023:
            self.tick()
        self.top += 1
        return self.top

    def id(self, name: Hashable) -> int:
        """The id of ``name``: a fresh one the first time, the same one afterwards."""
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = self.fresh()
        return found

    def known(self, name: Hashable) -> int | None:
        """The id of ``name`` if one was handed out, else None (no new id)."""
        return self._names.get(name)

    def tick(self) -> None:
        """Raise :class:`_Timeout` once the deadline has passed."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _Timeout

    def mark(self) -> tuple[int, int]:
        """A mark to :meth:`rollback` to."""
        return (self.top, self.count)

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget every id handed out since ``mark`` (named ones included)."""
        self.top, self.count = mark
        for name in [k for k, v in self._names.items() if v > self.top]:
            del self._names[name]
