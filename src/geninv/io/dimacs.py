"""Strict reader and writer for DIMACS CNF files.

Accepted input (anything else is a :class:`~geninv.errors.ParseError` whose
message is one line, ``FILE:LINE: what is wrong (expected ...)``):

* a line whose first non-blank character is ``c`` is a comment, anywhere;
* blank lines are ignored;
* exactly one header ``p cnf V C`` (V, C non-negative decimal integers) comes
  before the first clause;
* a line whose first non-blank character is ``%`` ends the input (the SATLIB
  trailer ``%`` / ``0``): it and everything after it are ignored;
* clauses are whitespace-separated non-zero integer literals ``l`` with
  ``1 <= |l| <= V``, each clause terminated by ``0``; a clause may span lines
  and a line may hold several clauses; a ``0`` with no literal before it is an
  empty clause (kept: it makes the formula unsatisfiable);
* the number of clauses must equal C;
* V and C are at most the ``variables`` and ``clauses`` limits
  (:mod:`geninv.io.limits`, checked on the header line, before any clause is
  read) and the file at most the ``text_bytes`` limit.

Repeated literals and tautologies are kept exactly as written.  Parsing is a
single pass over the lines, linear in the size of the input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from geninv.errors import ParseError, ValidationError
from geninv.io.text import check_header, comment_text, header_counts, read_text
from geninv.io.text import count as _count
from geninv.io.text import is_integer as _is_integer
from geninv.io.text import show as _show

__all__ = [
    "CNF",
    "Assignment",
    "format_assignment",
    "parse_cnf",
    "read_cnf",
    "write_cnf",
]

#: A truth assignment: a sequence whose item ``i`` is the value of variable
#: ``i + 1``, or a mapping from variable number (1-based) to value.
Assignment = Sequence[bool] | Mapping[int, bool]

_HEADER_FORM = "expected 'p cnf <variables> <clauses>'"


@dataclass(frozen=True)
class CNF:
    """A CNF formula over variables ``1..n_vars``.

    ``clauses`` holds the clauses exactly as written (repeated literals,
    tautologies and empty clauses are kept); ``comments`` holds the text of
    the comment lines, without the leading ``c`` and one following space.
    Construction checks that every literal is a non-zero ``int`` with
    ``|literal| <= n_vars`` (else :class:`ValidationError`).
    """

    n_vars: int
    clauses: tuple[tuple[int, ...], ...]
    comments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.n_vars
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError(f"n_vars must be a non-negative int, got {n!r}")
        # Normalise to tuples of ints, so lists (or numpy ints) passed in behave.
        clauses = tuple(tuple(clause) for clause in self.clauses)
        for j, clause in enumerate(clauses):
            for lit in clause:
                if isinstance(lit, bool) or not isinstance(lit, int):
                    raise ValidationError(f"clause {j}: literal {lit!r} is not an int")
                if lit == 0 or abs(lit) > n:
                    raise ValidationError(
                        f"clause {j}: literal {lit} out of range "
                        f"(expected a non-zero int with |literal| <= n_vars = {n})"
                    )
        comments = tuple(self.comments)
        for comment in comments:
            if not isinstance(comment, str) or "\n" in comment or "\r" in comment:
                raise ValidationError(
                    f"comment {comment!r} must be a str without line breaks "
                    "(each comment becomes one 'c' line)"
                )
        object.__setattr__(self, "clauses", clauses)
        object.__setattr__(self, "comments", comments)

    @property
    def n_clauses(self) -> int:
        """Number of clauses (as written, including empty and tautological ones)."""
        return len(self.clauses)

    def _values(self, assignment: Assignment) -> list[bool]:
        """Index ``v`` (1..n_vars) -> value; index 0 unused."""
        return [False, *_assignment_values(assignment, self.n_vars)]

    def falsified_clauses(self, assignment: Assignment) -> list[int]:
        """Indices (0-based, in order) of the clauses that ``assignment`` falsifies.

        ``assignment`` must give a value to every variable ``1..n_vars``: a
        sequence of exactly ``n_vars`` values (item ``i`` is variable ``i + 1``)
        or a mapping with keys exactly ``1..n_vars``.  An empty clause is
        always falsified.
        """
        values = self._values(assignment)
        return [
            j
            for j, clause in enumerate(self.clauses)
            if not any(values[lit] if lit > 0 else not values[-lit] for lit in clause)
        ]

    def evaluate(self, assignment: Assignment) -> bool:
        """True iff ``assignment`` satisfies every clause (see :meth:`falsified_clauses`)."""
        values = self._values(assignment)
        return all(
            any(values[lit] if lit > 0 else not values[-lit] for lit in clause)
            for clause in self.clauses
        )

    def to_dimacs(self) -> str:
        """DIMACS text: comments, header, one clause per line; ``parse_cnf`` reads it back."""
        parts = [f"c {comment}\n" if comment else "c\n" for comment in self.comments]
        parts.append(f"p cnf {self.n_vars} {self.n_clauses}\n")
        parts.extend(" ".join([*map(str, clause), "0"]) + "\n" for clause in self.clauses)
        return "".join(parts)


def _assignment_values(assignment: Assignment, n_vars: int) -> list[bool]:
    """Values of variables ``1..n_vars`` in order, checking the assignment's shape."""
    if isinstance(assignment, Mapping):
        keys = set(assignment)
        expected = set(range(1, n_vars + 1))
        if keys != expected:
            missing = sorted(expected - keys)
            extra = sorted(keys - expected, key=repr)
            detail = []
            if missing:
                detail.append(f"missing variables {missing[:5]}{'...' if len(missing) > 5 else ''}")
            if extra:
                detail.append(f"unknown keys {extra[:5]}{'...' if len(extra) > 5 else ''}")
            raise ValidationError(
                f"assignment mapping: {', '.join(detail)} "
                f"(expected keys exactly 1..{n_vars}, one per variable)"
            )
        return [bool(assignment[v]) for v in range(1, n_vars + 1)]
    if isinstance(assignment, (str, bytes)):
        raise ValidationError("assignment must be a sequence of bools, not a string")
    if len(assignment) != n_vars:
        raise ValidationError(
            f"assignment has {len(assignment)} values, expected {n_vars} (one per variable)"
        )
    return [bool(value) for value in assignment]


def format_assignment(assignment: Assignment) -> str:
    """A DIMACS solution line ``v 1 -2 3 ... 0`` (no newline) for variables ``1..n``.

    ``n`` is the length of the sequence, or the number of keys of the mapping
    (which must then be exactly ``1..n``).
    """
    values = _assignment_values(assignment, len(assignment))
    literals = [str(v) if value else str(-v) for v, value in enumerate(values, start=1)]
    return " ".join(["v", *literals, "0"])


def _parse_header(tokens: list[str], path: str, lineno: int) -> tuple[int, int]:
    if len(tokens) < 2 or tokens[0] != "p":
        raise ParseError(
            f"malformed header line {_show(' '.join(tokens))} ({_HEADER_FORM})", path, lineno
        )
    if tokens[1] != "cnf":
        raise ParseError(
            f"unsupported problem format {_show(tokens[1])} in header ({_HEADER_FORM})",
            path,
            lineno,
        )
    n_vars, n_clauses = header_counts(tokens, ("variables", "clauses"), _HEADER_FORM, path, lineno)
    check_header(n_vars, "variables", "variables", path, lineno)
    check_header(n_clauses, "clauses", "clauses", path, lineno)
    return n_vars, n_clauses


def parse_cnf(text: str, path: str = "<string>") -> CNF:
    """Parse DIMACS CNF ``text``; ``path`` only names the input in error messages.

    Raises :class:`ParseError` (one-line message naming ``path`` and the line)
    on any deviation from the format described in the module docstring.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline ending the last line does not start another line
    comments: list[str] = []
    header: tuple[int, int] | None = None
    header_line = 0
    n_vars = 0
    clauses: list[tuple[int, ...]] = []
    current: list[int] = []
    current_start = 0  # line on which the open clause started (0: none open)
    first_extra_line = 0  # line on which the first clause beyond the declared count started
    last_line = max(len(lines), 1)

    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        first = line[0]
        if first == "c":
            comments.append(comment_text(raw))
            continue
        if first == "%":
            last_line = lineno
            break
        tokens = line.split()
        if first == "p":
            if header is not None:
                raise ParseError(
                    f"second header line (the header is on line {header_line}; "
                    "expected exactly one 'p cnf' line)",
                    path,
                    lineno,
                )
            header = _parse_header(tokens, path, lineno)
            header_line = lineno
            n_vars = header[0]
            continue
        if header is None:
            raise ParseError(
                f"clause data {_show(tokens[0])} before the header "
                f"({_HEADER_FORM} before any clause)",
                path,
                lineno,
            )
        for token in tokens:
            if not _is_integer(token):
                raise ParseError(
                    f"{_show(token)} is not an integer literal "
                    "(expected a non-zero integer literal, or 0 ending the clause)",
                    path,
                    lineno,
                )
            # a literal with more than 20 digits is out of range; it is not converted
            lit = int(token) if len(token) <= 21 else n_vars + 1
            if lit == 0:
                if not current:
                    current_start = lineno
                clauses.append(tuple(current))
                if len(clauses) == header[1] + 1:
                    first_extra_line = current_start
                current = []
                current_start = 0
                continue
            if lit > n_vars or -lit > n_vars:
                raise ParseError(
                    f"literal {token if len(token) <= 21 else _show(token)} is out of range: "
                    f"the header declares {n_vars} variables "
                    f"(expected 1 <= |literal| <= {n_vars})",
                    path,
                    lineno,
                )
            if not current:
                current_start = lineno
            current.append(lit)

    if header is None:
        raise ParseError(
            f"no header line found ({_HEADER_FORM} before any clause)", path, last_line
        )
    if current:
        raise ParseError(
            f"clause starting on line {current_start} is not terminated by 0 "
            "(expected 0 after its last literal)",
            path,
            last_line,
        )
    declared = header[1]
    if len(clauses) != declared:
        detail = (
            f"; the first extra clause starts on line {first_extra_line}"
            if first_extra_line
            else ""
        )
        raise ParseError(
            f"found {_count(len(clauses), 'clause')} but the header on line {header_line} "
            f"declares {declared}{detail} (expected exactly {_count(declared, 'clause')})",
            path,
            last_line,
        )
    return CNF(n_vars, tuple(clauses), tuple(comments))


def read_cnf(path: str | os.PathLike[str]) -> CNF:
    """Read and parse a DIMACS CNF file (UTF-8; a leading byte-order mark is allowed).

    A missing or unreadable file, or bytes that are not UTF-8, raise
    :class:`ParseError` naming the file.
    """
    name, text = read_text(path, "a readable DIMACS CNF text file")
    return parse_cnf(text, name)


def write_cnf(cnf: CNF, path: str | os.PathLike[str]) -> None:
    """Write ``cnf`` as DIMACS text (UTF-8, ``\\n`` line ends), replacing any existing file."""
    Path(os.fspath(path)).write_text(cnf.to_dimacs(), encoding="utf-8", newline="\n")
