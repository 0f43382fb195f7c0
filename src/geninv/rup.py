"""A small, independent checker for DRUP refutations (text format).

A DRUP proof is a sequence of lines, each a clause terminated by ``0``:

* ``l1 l2 ... 0`` adds a *lemma*; it must be a RUP clause (reverse unit
  propagation) with respect to the current clause database: assigning every
  literal of the lemma false and unit-propagating the database must reach a
  conflict.  The lemma is then added to the database.
* ``d l1 l2 ... 0`` deletes one copy of a clause from the database.
* ``c ...`` lines are comments.

The proof refutes the CNF when the empty clause is derived: either as an
explicit ``0`` lemma that passes the RUP test, or (accepted too) when unit
propagation on the final database alone already conflicts, which is exactly
the RUP test of the empty clause.  A CNF that contains the empty clause is
refuted by any proof.

Why a passing proof is sound: every lemma is implied by the database it was
checked against (a conflict under the negation of the lemma means the lemma is
a logical consequence), and every clause of the database is either original or
an earlier lemma, so by induction everything derived, the empty clause
included, follows from the CNF.  Deleting clauses only shrinks the database, so
deletions can only make a proof fail, never make a wrong proof pass.  Like
drat-trim by default, deletions of unit clauses are ignored (keeping a clause
is always sound), and so are deletions of *reason* clauses: a clause all of
whose literals but one are false under unit propagation of the database alone,
the remaining one true (a CDCL solver keeps such a clause's literal on its
top-level trail after it deletes the clause, and its later lemmas rely on it;
maplechrono and glucose do this).  Deleting a clause that is not in the database
is ignored.  Every ignored deletion is counted.

This module depends on nothing but the standard library and
:mod:`geninv.errors`, so that it checks the encoder's output independently of
the encoder.  It re-propagates from scratch for every lemma (two watched
literals per clause), which is fine for the small instances it is meant for
(thousands of clauses, thousands of lemmas).  RAT lemmas (DRAT) are not
supported: a lemma that is not RUP fails the check.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from geninv.errors import ParseError

Clause = tuple[int, ...]
ProofStep = tuple[bool, Clause]  # (is deletion, literals)


@dataclass(frozen=True)
class RupResult:
    """Outcome of :func:`check_drup`."""

    ok: bool
    reason: str
    lemmas_checked: int
    deletions: int
    ignored_deletions: int
    failed_step: int | None = None  # 0-based index into the proof steps

    def __bool__(self) -> bool:
        return self.ok


# ------------------------------------------------------------------ parsing
def _tokens(text: str, path: str) -> Iterable[tuple[int, str]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("c"):
            continue
        for tok in s.split():
            yield lineno, tok


def parse_dimacs(text: str, path: str = "<string>") -> tuple[int, list[Clause]]:
    """(number of variables, clauses) of a DIMACS CNF text."""
    n_vars: int | None = None
    n_clauses = 0
    clauses: list[Clause] = []
    current: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("c") or s.startswith("%"):
            continue
        if s.startswith("p"):
            parts = s.split()
            if len(parts) != 4 or parts[1] != "cnf":
                raise ParseError("expected 'p cnf VARS CLAUSES'", path, lineno)
            try:
                n_vars, n_clauses = int(parts[2]), int(parts[3])
            except ValueError:
                raise ParseError("expected 'p cnf VARS CLAUSES'", path, lineno) from None
            continue
        if n_vars is None:
            raise ParseError("clause before the 'p cnf' header", path, lineno)
        for tok in s.split():
            try:
                lit = int(tok)
            except ValueError:
                raise ParseError(
                    f"expected an integer literal, got {tok!r}", path, lineno
                ) from None
            if abs(lit) > n_vars:
                raise ParseError(
                    f"literal {lit} exceeds the {n_vars} declared variables", path, lineno
                )
            if lit == 0:
                clauses.append(tuple(current))
                current = []
            else:
                current.append(lit)
    if n_vars is None:
        raise ParseError("no 'p cnf' header", path)
    if current:
        raise ParseError("last clause is not terminated by 0", path)
    if len(clauses) != n_clauses:
        raise ParseError(f"header says {n_clauses} clauses, found {len(clauses)}", path)
    return n_vars, clauses


def parse_drup(text: str, path: str = "<string>") -> list[ProofStep]:
    """The steps of a text DRUP proof: (is deletion, literals) per clause."""
    steps: list[ProofStep] = []
    current: list[int] = []
    deletion = False
    last_line = 0
    for lineno, tok in _tokens(text, path):
        last_line = lineno
        if tok == "d":
            if current or deletion:
                raise ParseError("'d' inside a clause", path, lineno)
            deletion = True
            continue
        try:
            lit = int(tok)
        except ValueError:
            raise ParseError(
                f"expected a literal, 'd' or a comment, got {tok!r}", path, lineno
            ) from None
        if lit == 0:
            steps.append((deletion, tuple(current)))
            current = []
            deletion = False
        else:
            current.append(lit)
    if current or deletion:
        raise ParseError("last proof clause is not terminated by 0", path, last_line or None)
    return steps


# ------------------------------------------------------------------ checking
class _Database:
    """Clauses with two watched literals; unit clauses kept apart."""

    def __init__(self) -> None:
        self.clauses: list[list[int]] = []
        self.alive: list[bool] = []
        self.index: dict[Clause, list[int]] = {}
        self.units: Counter[int] = Counter()
        self.empty = 0
        self.watches: dict[int, list[int]] = {}
        # top-level propagation (None: a conflict), recomputed after an addition;
        # deleting a clause that is not a reason leaves it as it is
        self._top: dict[int, bool] | None = None
        self._top_known = False

    def add(self, lits: Sequence[int]) -> None:
        self._top_known = False
        clause = list(dict.fromkeys(lits))
        s = set(clause)
        if any(-lit in s for lit in clause):
            return  # tautologies never constrain anything
        if not clause:
            self.empty += 1
            return
        if len(clause) == 1:
            self.units[clause[0]] += 1
            return
        cid = len(self.clauses)
        self.clauses.append(clause)
        self.alive.append(True)
        self.index.setdefault(tuple(sorted(clause)), []).append(cid)
        self.watches.setdefault(clause[0], []).append(cid)
        self.watches.setdefault(clause[1], []).append(cid)

    def delete(self, lits: Sequence[int]) -> bool:
        """Delete one copy; False when no such clause is present, or it is a unit, or
        a reason clause of the top-level propagation (the deletion is then ignored)."""
        key = tuple(sorted(set(lits)))
        if len(key) <= 1:
            return False  # unit (and empty) deletions are ignored, as drat-trim does
        ids = self.index.get(key)
        if not ids:
            return False
        if self._is_reason(key):
            return False
        cid = ids.pop()
        self.alive[cid] = False  # removed lazily from the watch lists
        return True

    def _is_reason(self, lits: Clause) -> bool:
        """All literals but one false under top-level propagation, that one true (or
        the top level conflicts already: nothing is deleted then)."""
        if not self._top_known:
            self._top, self._top_known = self._propagate(()), True
        top = self._top
        if top is None:
            return True
        true = false = 0
        for lit in lits:
            v = top.get(abs(lit))
            if v is None:
                return False
            if v == (lit > 0):
                true += 1
            else:
                false += 1
        return true == 1 and false == len(lits) - 1

    def propagates_to_conflict(self, assumptions: Iterable[int]) -> bool:
        """Unit propagation of the units and ``assumptions``: does it conflict?"""
        return self._propagate(assumptions) is None

    def _propagate(self, assumptions: Iterable[int]) -> dict[int, bool] | None:
        """The values unit propagation of the units and ``assumptions`` gives
        (variable -> value), or None when it conflicts."""
        if self.empty:
            return None
        value: dict[int, bool] = {}  # variable -> value
        trail: list[int] = []

        def assign(lit: int) -> bool:
            v = abs(lit)
            want = lit > 0
            cur = value.get(v)
            if cur is None:
                value[v] = want
                trail.append(lit)
                return True
            return cur == want

        for lit in list(self.units) + list(assumptions):
            if not assign(lit):
                return None
        head = 0
        clauses, alive, watches = self.clauses, self.alive, self.watches
        while head < len(trail):
            false_lit = -trail[head]
            head += 1
            wl = watches.get(false_lit)
            if not wl:
                continue
            keep: list[int] = []
            conflict = False
            i = 0
            while i < len(wl):
                cid = wl[i]
                i += 1
                if not alive[cid]:
                    continue
                if conflict:
                    keep.append(cid)
                    continue
                c = clauses[cid]
                if c[0] == false_lit:
                    c[0], c[1] = c[1], c[0]
                other = c[0]
                ov = value.get(abs(other))
                if ov is not None and ov == (other > 0):
                    keep.append(cid)  # satisfied by the other watch
                    continue
                moved = False
                for k in range(2, len(c)):
                    lit = c[k]
                    lv = value.get(abs(lit))
                    if lv is None or lv == (lit > 0):
                        c[1], c[k] = lit, c[1]
                        watches.setdefault(lit, []).append(cid)
                        moved = True
                        break
                if moved:
                    continue
                keep.append(cid)
                if ov is None:
                    assign(other)
                else:
                    conflict = True
            watches[false_lit] = keep
            if conflict:
                return None
        return value


def check_drup(
    clauses: Iterable[Sequence[int]],
    proof: Iterable[ProofStep],
) -> RupResult:
    """Check that ``proof`` (DRUP steps) refutes ``clauses``.

    Returns a :class:`RupResult`; ``ok`` is True only when the empty clause
    was derived by RUP steps (see the module docstring).
    """
    db = _Database()
    for c in clauses:
        db.add(c)
    checked = deletions = ignored = 0
    if db.empty:
        return RupResult(True, "the CNF contains the empty clause", 0, 0, 0)
    for step, (is_del, lits) in enumerate(proof):
        if is_del:
            deletions += 1
            if not db.delete(lits):
                ignored += 1
            continue
        checked += 1
        if not db.propagates_to_conflict(-lit for lit in lits):
            return RupResult(
                False,
                f"lemma {step} ({' '.join(map(str, lits))} 0) is not RUP",
                checked,
                deletions,
                ignored,
                failed_step=step,
            )
        if not lits:
            return RupResult(True, "empty clause derived", checked, deletions, ignored)
        db.add(lits)
    if db.propagates_to_conflict(()):
        return RupResult(
            True,
            "empty clause implied by unit propagation after the last lemma",
            checked,
            deletions,
            ignored,
        )
    return RupResult(
        False, "the proof does not derive the empty clause", checked, deletions, ignored
    )


def check_drup_files(
    cnf_path: str | os.PathLike[str], proof_path: str | os.PathLike[str]
) -> RupResult:
    """Check a DIMACS CNF file against a text DRUP proof file."""
    cnf_name, proof_name = os.fspath(cnf_path), os.fspath(proof_path)
    with open(cnf_name, encoding="ascii") as fh:
        _, clauses = parse_dimacs(fh.read(), cnf_name)
    with open(proof_name, encoding="ascii") as fh:
        steps = parse_drup(fh.read(), proof_name)
    return check_drup(clauses, steps)
