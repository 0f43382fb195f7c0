"""Shared names of the SAT backend: modes, defaults, internal errors, rational helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Literal

from geninv.proof import KIND_SAT
from geninv.solvers.interface import MODES as MODES  # the one definition
from geninv.solvers.interface import Mode as Mode

Shape = Literal["inc", "dec", "any"]
ObjectiveKind = Literal["auto", "mdd", "adder"]
OBJECTIVES: tuple[str, ...] = ("auto", "mdd", "adder")

#: Default solver (PySAT name).
DEFAULT_SOLVER = "cadical195"
#: Default bound on the distinct values of one unit.
MAX_VALUES = 20_000
#: Default bound on the MDD nodes (auxiliary variables) of one encoding.
MAX_NODES = 500_000
#: In ``objective="auto"``, the MDD of the distance sum is abandoned for adders beyond this.
OBJECTIVE_NODES = 5_000
#: First conflict budget of a time-limited CaDiCaL slice.
FIRST_BUDGET = 1000
#: Conflicts of the in-process attempt of a one-shot time-limited CaDiCaL call.
ONESHOT_BUDGET = 5000

NO_PROOF_KIND = KIND_SAT  # the name geninv.proof checks


class _Timeout(Exception):
    """The deadline passed while encoding."""


class _TooBig(Exception):
    """An MDD went past its own node cap."""


def _fraction_gcd(values: Iterable[Fraction]) -> Fraction:
    """The largest positive rational u with every value an integer multiple of u (1 if none)."""
    vals = [v for v in values if v != 0]
    if not vals:
        return Fraction(1)
    den = 1
    for v in vals:
        den = den * v.denominator // math.gcd(den, v.denominator)
    g = 0
    for v in vals:
        g = math.gcd(g, abs(v.numerator * (den // v.denominator)))
    return Fraction(g, den)


def _lcm(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out
