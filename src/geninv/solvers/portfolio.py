"""``auto`` as data: a table of (condition, backend, reason) rows, best first.

:func:`candidates` walks :data:`PORTFOLIO` in order and yields every backend whose
condition holds, that is installed and that accepts the problem, each once, with the
row's reason (what ``geninv solve --verbose`` prints); a backend is checked only when
the ones before it have been taken, so ``auto`` usually checks one.  The last row
takes every remaining complete backend.  :func:`describe` prints the table.

Why this order (figures in docs/solvers.md and bench/README.md): on discrete latents,
CDCL on the clause form is fastest where it applies, exhaustive enumeration below
about 2^22 corners, then the general CNF compilation, MILP, enumeration.  On real and
box latents the corner presolve first (it reduces the paper's constructions to binary
problems), then the floating-point MILP / MIQP solvers, each followed by the certified
branch and bound ``bab`` where it applies, so that a gated floating-point *no* is
certified next.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from geninv.errors import UnsupportedError
from geninv.problem import InversionProblem
from geninv.solvers.interface import Backend
from geninv.solvers.registry import REGISTRY

#: At or below this latent size, exhaustive enumeration of a discrete domain is the
#: fastest complete method in practice (2^22 corners take seconds).
ENUMERATE_UP_TO = 22

Condition = Callable[[InversionProblem], bool]


@dataclass(frozen=True)
class Row:
    """One line of the portfolio: when it applies (in words and as a test), the
    backend, and why (formatted with ``kind``, ``n`` and ``limit``)."""

    when: str
    test: Condition
    backend: str
    reason: str


def _discrete(p: InversionProblem) -> bool:
    return p.domain.kind in ("binary", "sign")


def _clause_form(p: InversionProblem) -> bool:
    if not _discrete(p):
        return False
    from geninv.solvers.sat.clause_form import clause_form  # numpy only, no pysat import

    return clause_form(p) is not None


def _small(p: InversionProblem) -> bool:
    return _discrete(p) and p.n <= ENUMERATE_UP_TO


def _continuous(p: InversionProblem) -> bool:
    return not _discrete(p)


def _continuous_exact(p: InversionProblem) -> bool:
    return _continuous(p) and p.is_exact_inversion


def _continuous_l1_inf(p: InversionProblem) -> bool:
    return _continuous(p) and (math.isinf(p.p) or p.p == 1)


def _always(p: InversionProblem) -> bool:
    return True


_BAB = (
    "{kind} latents: branch and bound whose every 'no' carries a proof checked in exact "
    "rationals (certifies what a floating-point solver can only claim)"
)

#: The ranking, best first.  ``*`` in the last row: every remaining complete backend.
PORTFOLIO: tuple[Row, ...] = (
    Row(
        "binary/sign latents, clause form",
        _clause_form,
        "sat",
        "{kind} latents, n = {n}: a two-layer network of corner-indicator units, whose "
        "CNF is one clause per unit (the sat backend's clause form)",
    ),
    Row(
        f"binary/sign latents, n <= {ENUMERATE_UP_TO}",
        _small,
        "enumerate",
        "{kind} latents, n = {n} <= {limit}, so all 2^{n} corners are enumerated exhaustively",
    ),
    Row(
        "binary/sign latents",
        _discrete,
        "sat",
        "{kind} latents, n = {n}: the network compiles to CNF for a CDCL solver",
    ),
    Row(
        "binary/sign latents",
        _discrete,
        "milp",
        "{kind} latents, n = {n}: big-M mixed-integer program (HiGHS)",
    ),
    Row(
        "binary/sign latents",
        _discrete,
        "enumerate",
        "{kind} latents, n = {n}: no faster complete backend applies",
    ),
    Row(
        "real/box latents",
        _continuous,
        "corners",
        "inversion over a box: if the target forces every latent onto two values (or two "
        "narrow intervals, within the threshold), the problem is binary (corner presolve)",
    ),
    Row(
        "real/box latents, exact inversion",
        _continuous_exact,
        "milp",
        "{kind} latents, exact inversion: big-M MILP (HiGHS)",
    ),
    Row("real/box latents, exact inversion", _continuous_exact, "bab", _BAB),
    Row(
        "real/box latents",
        _continuous,
        "milp-scip",
        "{kind} latents with an l_1 / l_inf threshold: big-M MILP on SCIP, two "
        "cutting-plane settings raced (faster than HiGHS on near-boundary instances)",
    ),
    Row("real/box latents, p = 1 or inf", _continuous_l1_inf, "bab", _BAB),
    Row(
        "real/box latents",
        _continuous,
        "milp",
        "{kind} latents need a continuous method: big-M MILP (HiGHS)",
    ),
    Row(
        "real/box latents",
        _continuous,
        "miqp",
        "{kind} latents with an l_p threshold, p >= 2: MIQP (SCIP)",
    ),
    Row("real/box latents", _continuous, "bab", _BAB),
    Row("any problem", _always, "*", "the remaining complete backends"),
)


def describe() -> list[str]:
    """The table in words, one line per row."""
    return [f"{k + 1:2d}. {r.when}: {r.backend}" for k, r in enumerate(PORTFOLIO)]


def candidates(problem: InversionProblem) -> Iterator[tuple[type[Backend], str]]:
    """The complete backends of :data:`PORTFOLIO` that accept ``problem``, best first,
    each once with its reason; raises :class:`UnsupportedError` when there is none."""
    reasons: dict[str, str] = {}
    checked: dict[str, bool] = {}

    def usable(name: str) -> bool:
        ok = checked.get(name)
        if ok is None:
            cls = REGISTRY.get(name)
            why: str | None = None
            if cls is None or not cls.capabilities.complete:
                ok = False
            elif not cls.available():
                why = f"needs {', '.join(cls.missing_modules())}"
            else:
                why = cls.unsupported_reason(problem)
            if ok is None:
                ok = why is None
            if why is not None:
                reasons[name] = why
            checked[name] = ok
        return ok

    fields = {"kind": problem.domain.kind, "n": problem.n, "limit": ENUMERATE_UP_TO}
    seen: set[str] = set()
    for row in PORTFOLIO:
        names = sorted(REGISTRY) if row.backend == "*" else [row.backend]
        for name in names:
            if name in seen or not row.test(problem) or not usable(name):
                continue
            seen.add(name)
            why = row.reason.format(**fields)
            yield REGISTRY[name], f"{name}: {why}"
    if not seen:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
        raise UnsupportedError(f"no installed backend can decide {problem.describe()} ({detail})")


def candidate_backends(problem: InversionProblem) -> list[tuple[type[Backend], str]]:
    """Every backend :func:`candidates` yields, as a list."""
    return list(candidates(problem))


def choose_backend(problem: InversionProblem) -> tuple[type[Backend], str]:
    """The first of :func:`candidates`."""
    return next(iter(candidates(problem)))
