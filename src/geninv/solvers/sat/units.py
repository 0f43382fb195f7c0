"""Quantities the encoder tracks: latents and units with their integer values and scale."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

from geninv.errors import UnsupportedError
from geninv.solvers.sat.cnf import _Cnf
from geninv.solvers.sat.mdd import _SumMDD, _Term


# ------------------------------------------------------------------ quantities
class _Quantity:
    """An integer quantity ``H`` (a latent or a unit's value) with its order encoding."""

    unit: Fraction = Fraction(1)

    def domain(self) -> tuple[list[int], list[int]]:
        """Values ``d_0 < ... < d_r`` and literals ``[H >= d_t]`` for t = 1..r."""
        raise NotImplementedError


class _Latent(_Quantity):
    def __init__(self, var: int, values: tuple[int, int]) -> None:
        self.var = var
        self.values = values

    def domain(self) -> tuple[list[int], list[int]]:
        return [self.values[0], self.values[1]], [self.var]


class _Unit(_Quantity):
    """``H = ReLU(A)`` or ``A``, ``A = S + d``, ``S = sum_j c_j H_j``; its value is ``unit * H``."""

    def __init__(
        self,
        cnf: _Cnf,
        where: str,
        terms: list[_Term],
        bias: int,
        unit: Fraction,
        relu: bool,
        max_values: int,
    ) -> None:
        self.cnf = cnf
        self.where = where
        self.bias = bias
        self.unit = unit
        self.relu = relu
        self.max_values = max_values
        terms.sort(key=lambda t: -(max(t.f) - min(t.f)))
        # at most prod_j |values_j| sums, and at most max - min + 1 of them
        bound = sum(max(t.f) - min(t.f) for t in terms) + 1
        prod = 1
        for t in terms:
            prod *= len(t.values)
            if prod > bound:
                break
        if min(prod, bound) > max_values:
            raise UnsupportedError(
                f"{where} may take up to {min(prod, bound)} distinct values (more than "
                f"max_values = {max_values}); the sat backend needs units with a small "
                "integer range after exact scaling, or few inputs"
            )
        self.mdd = _SumMDD(cnf, terms)
        self.amin = self.mdd.min + bias
        self.amax = self.mdd.max + bias
        self._domain: tuple[list[int], list[int]] | None = None
        self._pre_domain: tuple[list[int], list[int]] | None = None

    @property
    def status(self) -> str:
        if not self.relu:
            return "affine"
        if self.amax <= 0:
            return "inactive"
        if self.amin >= 0:
            return "active"
        return "unstable"

    @property
    def hmin(self) -> int:
        return max(self.amin, 0) if self.relu else self.amin

    @property
    def hmax(self) -> int:
        return max(self.amax, 0) if self.relu else self.amax

    def ge(self, v: int) -> int:
        """The literal ``[H >= v]``."""
        if v <= self.hmin:
            return self.cnf.true
        if v > self.hmax:
            return -self.cnf.true
        return self.mdd.ge(v - self.bias)[0]

    def domain(self) -> tuple[list[int], list[int]]:
        if self._domain is None:
            self._domain = self._walk(self.hmin)
        return self._domain

    def pre_domain(self) -> tuple[list[int], list[int]]:
        """Values and order literals of the pre-activation ``A = S + d`` (not clamped)."""
        if self._pre_domain is None:
            self._pre_domain = self._walk(self.amin)
        return self._pre_domain

    def _walk(self, lowest: int) -> tuple[list[int], list[int]]:
        """The values ``>= lowest`` of ``max(A, lowest)`` and their order literals."""
        true, false = self.cnf.true, -self.cnf.true
        d = self.bias
        # (value, [H >= value]); the smallest value has the literal TRUE
        pairs: list[tuple[int, int]] = [(lowest, true)]
        k = lowest - d + 1  # [H >= lowest + 1] = [S >= k]
        smax = self.mdd.max
        while k <= smax:
            self.cnf.tick()
            lit, _, hi = self.mdd.ge(k)
            end = smax if hi is None else min(hi, smax)
            # [S >= K] = lit for every K in [k, end], and S = end is possible: so
            # [H >= end + d] = lit and no value of H lies in [k + d, end + d).
            if lit == false:
                break
            if lit == true:
                pairs = [(end + d, true)]
            elif lit == pairs[-1][1]:
                pairs[-1] = (end + d, lit)
            else:
                pairs.append((end + d, lit))
                if len(pairs) > self.max_values:
                    raise UnsupportedError(
                        f"{self.where} takes more than max_values = {self.max_values} distinct "
                        "values; the sat backend needs units with a small integer range "
                        "(after exact scaling)"
                    )
            k = end + 1
        values = [v for v, _ in pairs]
        lits = [lit for _, lit in pairs[1:]]
        for a, b in itertools.pairwise(lits):
            self.cnf.add([-b, a])
        return values, lits


def _rational_terms(
    inputs: Sequence[_Quantity], idx: Sequence[int], coef: Sequence[Fraction], bias: Fraction
) -> tuple[list[tuple[Fraction, _Quantity, list[int], list[int]]], Fraction]:
    """(real coefficient on the integer H_j, H_j, values, literals) and the folded bias."""
    parts: list[tuple[Fraction, _Quantity, list[int], list[int]]] = []
    const = bias
    for j, w in zip(idx, coef, strict=True):
        q = inputs[j]
        real = w * q.unit
        values, lits = q.domain()
        if len(values) == 1:
            const += real * values[0]
        else:
            parts.append((real, q, values, lits))
    return parts, const
