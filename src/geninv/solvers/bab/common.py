"""Names the branch and bound's modules share: the proof kind and summary, the l1 bound."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from geninv.problem import InversionProblem
from geninv.proof import KIND_BAB, Proof

KIND = KIND_BAB  # the name geninv.proof checks


def checked_proof(report: Any, note: str) -> dict[str, Any]:
    """The proof dict of a *no* whose tree the independent checker accepted: the
    checker's ``report`` counts (nodes, leaves, leaves empty by bounds alone,
    multipliers, the root) and what the certificates refute (``note``)."""
    return Proof(
        KIND,
        nodes=report.nodes,
        leaves=report.leaves,
        empty_by_bounds=report.empty_by_bounds,
        multipliers=report.multipliers,
        root=report.root,
        checked=True,
        relation_note=note,
    ).to_dict()


def _l1_bound(problem: InversionProblem) -> Fraction:
    """A rational R >= q^(1-1/p) delta (checked exactly: R^p >= q^(p-1) delta^p)."""
    k, q, delta = int(problem.p), problem.network.n_outputs, problem.threshold
    r = Fraction(float(delta) * q ** (1 - 1 / k) * (1 + 1e-12)).limit_denominator(10**12)
    while r**k < q ** (k - 1) * delta**k:
        r = r * (1 + Fraction(1, 10**9)) + Fraction(1, 10**15)
    return r
