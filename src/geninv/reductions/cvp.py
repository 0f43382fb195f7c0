"""(0,1)-CVP_p -> approximate inversion with binary latents (the paper's Theorem 3).

Source question: given basis vectors v_1..v_n in Q^d (the columns of B), a
target t and a radius r, is there y in {0,1}^n with ||B y - t||_p <= r
(or < r, with ``relation="<"``)?

Construction (default).  One layer, latent z = y in {0,1}^n:

    G(z) = ReLU([B; -B] z + [-t; t]),   x = 0,   delta = r,   same relation.

Because ReLU(a) and ReLU(-a) are max(a, 0) and max(-a, 0), the output holds
|a_j| once and 0 once for each a = Bz - t, so ||G(z) - 0||_p = ||Bz - t||_p
for every p in [1, inf].  The equivalence is then an identity: no constant,
and it holds for both relations (docs/errata.md E10: the paper mixes them).
Radii whose p-th root is irrational are given as r^p (``radius_pow``) and
compared exactly, ||.||_p^p against r^p.

Paper's variant (``paper_pairs=True``).  The paper uses 2n latents: z_{2i-1}
stands for y_i and z_{2i} for its complement, with an extra row
alpha z_{2i-1} + alpha z_{2i} - alpha per pair, whose absolute value is 0 when
exactly one of the pair is 1 and alpha otherwise.  The pair rows force a valid
pair as soon as alpha^p > r^p (for p = inf: alpha > r): any invalid pair alone
puts the norm above delta = r.  The smallest integer such alpha is used,
alpha = floor(r) + 1 (computed from r^p when r is given that way).  This
variant doubles the latent dimension, which spoils the SETH bound the theorem
claims (docs/errata.md E9); it is kept for faithfulness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from geninv.errors import ValidationError
from geninv.io.lattice import CVPInstance
from geninv.io.limits import check_parameters
from geninv.network import ReLUNetwork
from geninv.problem import (
    Domain,
    InversionProblem,
    Relation,
    Solution,
    SourceInfo,
    Status,
    compare_exact,
    parse_norm,
)
from geninv.reductions._build import (
    SparseRow,
    dense_layer,
    doubled_rows,
    smallest_int_pow_above,
)
from geninv.reductions.base import InverseData, Reduction


def cvp_radius(inst: CVPInstance, p: float) -> tuple[Fraction | None, Fraction | None]:
    """(r, r^p) of an instance; r^p only for integer p."""
    if inst.radius is None and inst.radius_pow is None:
        raise ValidationError("the CVP instance has no radius; give --radius")
    if inst.radius_pow is not None:
        if math.isinf(p) or not p.is_integer():
            raise ValidationError("radius_pow (r^p) needs an integer p; give the radius r instead")
        return None, inst.radius_pow
    assert inst.radius is not None
    return inst.radius, None


class CVPReduction(Reduction[CVPInstance, list[int] | None]):
    """(0,1)-CVP_p -> approximate inversion over {0,1}^n (Theorem 3)."""

    def __init__(self, p: Any, relation: Relation = "<=", paper_pairs: bool = False) -> None:
        self.p = parse_norm(p, "p")
        if relation not in ("<=", "<"):
            raise ValidationError(f"relation must be '<=' or '<', got {relation!r}")
        self.relation: Relation = relation
        self.paper_pairs = paper_pairs
        self.name = "cvp-thm3"
        self.theorem = "Theorem 3"

    def apply(self, source: CVPInstance) -> tuple[InversionProblem, InverseData]:
        """The Theorem 3 network on z in {0,1}^n (or the paper's pairs), threshold the CVP
        radius, and ``inverse_data``; raises :class:`~geninv.errors.ValidationError` for an
        empty basis or radius 0 with ``<``."""
        n = len(source.basis)
        d = len(source.target)
        if n == 0:
            raise ValidationError("the CVP basis has no vectors")
        r, r_pow = cvp_radius(source, self.p)
        if self.relation == "<" and (r == 0 or r_pow == 0):
            raise ValidationError("radius 0 with relation '<' is trivially no; use '<='")
        latent = 2 * n if self.paper_pairs else n
        step = 2 if self.paper_pairs else 1
        check_parameters(2 * (d + n) * (latent + 1), f"the CVP network for n={n}, d={d}")
        rows: list[SparseRow] = []
        for j in range(d):
            coeffs = {
                i * step: Fraction(source.basis[i][j]) for i in range(n) if source.basis[i][j] != 0
            }
            rows.append((coeffs, -Fraction(source.target[j])))
        alpha: int | None = None
        if self.paper_pairs:
            if r_pow is not None:
                alpha = smallest_int_pow_above(r_pow, int(self.p))
            else:
                assert r is not None
                alpha = math.floor(r) + 1
            for i in range(n):
                rows.append(
                    ({2 * i: Fraction(alpha), 2 * i + 1: Fraction(alpha)}, -Fraction(alpha))
                )
        w, b = dense_layer(doubled_rows(rows), latent)
        net = ReLUNetwork([w], [b])
        threshold: Fraction
        if r_pow is not None:
            threshold = Fraction(float(r_pow) ** (1.0 / self.p))
        else:
            assert r is not None
            threshold = r
        inverse: InverseData = {"n": n, "pairs": self.paper_pairs}
        params: dict[str, Any] = {
            "n": n,
            "dimension": d,
            "p": "inf" if math.isinf(self.p) else self.p,
            "relation": self.relation,
            "radius": None if r is None else str(r),
            "radius_pow": None if r_pow is None else str(r_pow),
            "paper_pairs": self.paper_pairs,
            "alpha": alpha,
        }
        problem = InversionProblem(
            net,
            [0] * net.n_outputs,
            Domain("binary"),
            p=self.p,
            threshold=threshold,
            relation=self.relation,
            threshold_pow=r_pow,
            source=SourceInfo(reduction=self.name, theorem=self.theorem, parameters=params),
            inverse_data=inverse,
        )
        return problem, inverse

    @staticmethod
    def encode(y: Sequence[int], inverse_data: InverseData) -> list[int]:
        """y in {0,1}^n -> latent (y itself, or the pairs (y_i, 1 - y_i))."""
        n = int(inverse_data["n"])
        if len(y) != n or any(v not in (0, 1) for v in y):
            raise ValidationError(f"y must be a 0/1 vector of length {n}")
        if inverse_data.get("pairs"):
            return [v for yi in y for v in (int(yi), 1 - int(yi))]
        return [int(v) for v in y]

    @staticmethod
    def decode(z: Sequence[Any], inverse_data: InverseData) -> list[int]:
        """latent -> y (the first of each pair in the paper's variant)."""
        step = 2 if inverse_data.get("pairs") else 1
        return [1 if Fraction(v) >= Fraction(1, 2) else 0 for v in list(z)[::step]]

    def invert(self, solution: Solution, inverse_data: InverseData) -> list[int] | None:
        """The 0/1 coefficient vector y for a ``yes`` solution, None otherwise."""
        if solution.status is not Status.YES or solution.z is None:
            return None
        return self.decode(solution.z, inverse_data)


def cvp_distance_check(
    inst: CVPInstance, y: Sequence[int], p: float, relation: Relation = "<="
) -> tuple[bool, float]:
    """Exact check of ||B y - t||_p (relation) r on the source side."""
    d = len(inst.target)
    diff = [
        sum((Fraction(inst.basis[i][j]) * y[i] for i in range(len(inst.basis))), Fraction(0))
        - Fraction(inst.target[j])
        for j in range(d)
    ]
    r, r_pow = cvp_radius(inst, p)
    meets, dist, _, _ = compare_exact(diff, p, r if r is not None else Fraction(0), relation, r_pow)
    return meets, dist
