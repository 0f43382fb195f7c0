"""Names the branch and bound's modules share: the proof kind, the l1 bound."""

from __future__ import annotations

from fractions import Fraction

from geninv.problem import InversionProblem
from geninv.proof import KIND_BAB

KIND = KIND_BAB  # the name geninv.proof checks


def _l1_bound(problem: InversionProblem) -> Fraction:
    """A rational R >= q^(1-1/p) delta (checked exactly: R^p >= q^(p-1) delta^p)."""
    k, q, delta = int(problem.p), problem.network.n_outputs, problem.threshold
    r = Fraction(float(delta) * q ** (1 - 1 / k) * (1 + 1e-12)).limit_denominator(10**12)
    while r**k < q ** (k - 1) * delta**k:
        r = r * (1 + Fraction(1, 10**9)) + Fraction(1, 10**15)
    return r
