"""Independent oracles for source problems (used to record expected answers and in tests)."""

from __future__ import annotations

import threading
from typing import Any

from pysat.solvers import Solver


def sat_oracle(cnf: Any, time_limit: float | None = None, solver: str | None = None) -> bool | None:
    """Satisfiability of a CNF by PySAT; None when the time limit interrupts it.

    Without a time limit the default solver is CaDiCaL 1.5.3; with one it is
    Glucose 4 (PySAT's CaDiCaL bindings cannot be interrupted).

    ``cnf`` needs ``clauses`` (tuples of DIMACS literals).  An empty clause
    makes the formula unsatisfiable without asking the solver (PySAT rejects
    empty clauses in some back ends).
    """
    if any(len(c) == 0 for c in cnf.clauses):
        return False
    name = solver or ("cadical153" if time_limit is None else "glucose4")
    with Solver(name=name, bootstrap_with=[list(c) for c in cnf.clauses]) as s:
        if time_limit is None:
            return bool(s.solve())
        timer = threading.Timer(time_limit, s.interrupt)
        timer.start()
        try:
            res = s.solve_limited(expect_interrupt=True)
        finally:
            timer.cancel()
        return None if res is None else bool(res)


def sat_model(cnf: Any, solver: str = "cadical153") -> list[bool] | None:
    """A satisfying assignment (variable i+1 -> entry i), or None if unsatisfiable."""
    if any(len(c) == 0 for c in cnf.clauses):
        return None
    with Solver(name=solver, bootstrap_with=[list(c) for c in cnf.clauses]) as s:
        if not s.solve():
            return None
        model = set(s.get_model() or [])
        return [(i + 1) in model for i in range(cnf.n_vars)]
