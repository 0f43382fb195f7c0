"""Quantities the encoder tracks: latents and units with their integer values and scale.

A :class:`_Unit` is a record (its integer sum as an MDD memo over the shared
:class:`VarPool`, bias, scale, activation); its literals and value sets come
from the pure encodings :func:`encode_unit_ge` and :func:`encode_unit_values`,
which return the clauses they need and add them nowhere (the encoder composes
them and remembers each unit's value set).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from geninv.errors import UnsupportedError
from geninv.solvers.sat.encodings import encode_order_chain
from geninv.solvers.sat.mdd import _SumMDD, _Term
from geninv.solvers.sat.pool import Clauses, VarPool

#: Values ``d_0 < ... < d_r`` and literals ``[H >= d_t]`` for t = 1..r.
Domain = tuple[list[int], list[int]]


# ------------------------------------------------------------------ quantities
class _Quantity:
    """An integer quantity ``H`` (a latent or a unit's value) with its order encoding."""

    unit: Fraction = Fraction(1)


class _Latent(_Quantity):
    def __init__(self, var: int, values: tuple[int, int]) -> None:
        self.var = var
        self.values = values

    def domain(self) -> Domain:
        """Its own order encoding: two values, the one literal ``x_i``."""
        return [self.values[0], self.values[1]], [self.var]


class _Unit(_Quantity):
    """``H = ReLU(A)`` or ``A``, ``A = S + d``, ``S = sum_j c_j H_j``; its value is ``unit * H``."""

    def __init__(
        self,
        pool: VarPool,
        where: str,
        terms: list[_Term],
        bias: int,
        unit: Fraction,
        relu: bool,
        max_values: int,
    ) -> None:
        self.pool = pool
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
        self.mdd = _SumMDD(pool, terms)
        self.amin = self.mdd.min + bias
        self.amax = self.mdd.max + bias

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


def encode_unit_ge(u: _Unit, v: int) -> tuple[int, Clauses]:
    """The literal ``[H >= v]`` of a unit and the clauses of the MDD nodes it needed.

    ``[H >= v] = [S >= v - d]`` for ``v > hmin`` (TRUE at or below ``hmin``,
    FALSE above ``hmax``).
    """
    if v <= u.hmin:
        return u.pool.true, []
    if v > u.hmax:
        return -u.pool.true, []
    node, clauses = u.mdd.ge(v - u.bias)
    return node[0], clauses


def encode_unit_values(u: _Unit, lowest: int) -> tuple[Domain, Clauses]:
    """The values ``>= lowest`` of ``max(A, lowest)``, their order literals, and clauses.

    ``lowest = hmin`` gives the unit's value set, ``lowest = amin`` that of its
    pre-activation ``A = S + d``.  The value set is found by walking the classes
    of K of the MDD, each class ending at a value that ``S`` takes, so it is
    exact for the box of the inputs; the clauses are the MDD nodes' and the
    order chain ``[H >= d_{t+1}] -> [H >= d_t]``.
    """
    true, false = u.pool.true, -u.pool.true
    d = u.bias
    clauses: Clauses = []
    # (value, [H >= value]); the smallest value has the literal TRUE
    pairs: list[tuple[int, int]] = [(lowest, true)]
    k = lowest - d + 1  # [H >= lowest + 1] = [S >= k]
    smax = u.mdd.max
    while k <= smax:
        u.pool.tick()
        (lit, _, hi), cs = u.mdd.ge(k)
        clauses.extend(cs)
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
            if len(pairs) > u.max_values:
                raise UnsupportedError(
                    f"{u.where} takes more than max_values = {u.max_values} distinct "
                    "values; the sat backend needs units with a small integer range "
                    "(after exact scaling)"
                )
        k = end + 1
    values = [v for v, _ in pairs]
    lits = [lit for _, lit in pairs[1:]]
    clauses.extend(encode_order_chain(lits))
    return (values, lits), clauses


def _rational_terms(
    inputs: Sequence[_Quantity],
    idx: Sequence[int],
    coef: Sequence[Fraction],
    bias: Fraction,
    domain: Callable[[_Unit], Domain],
) -> tuple[list[tuple[Fraction, _Quantity, list[int], list[int]]], Fraction]:
    """(real coefficient on the integer H_j, H_j, values, literals) and the folded bias.

    ``domain(u)`` is the value set and order literals of a unit input (the encoder's).
    """
    parts: list[tuple[Fraction, _Quantity, list[int], list[int]]] = []
    const = bias
    for j, w in zip(idx, coef, strict=True):
        q = inputs[j]
        real = w * q.unit
        if isinstance(q, _Latent):
            values, lits = q.domain()
        else:
            assert isinstance(q, _Unit)
            values, lits = domain(q)
        if len(values) == 1:
            const += real * values[0]
        else:
            parts.append((real, q, values, lits))
    return parts, const
