"""Vertex Cover -> approximate inversion with binary latents (the paper's section 5.3).

Source question: does the graph (n vertices, Z edges) have a vertex cover of
size at most q?  Since any superset of a cover is a cover, this is the same as
"a cover of size exactly q' = min(q, n)", which is what the network encodes.

Construction.  Latent z in {0,1}^n with z_i = 0 iff vertex i is in the cover D.
One layer G(z) = ReLU([W; -W] z + [b; -b]), target 0, so ||G(z)||_p = ||Wz + b||_p.
Rows of (W, b):

* one row per edge e = {i, j}: alpha (2 z_i + 2 z_j - 1), of absolute value
  alpha when e is covered (z_i + z_j <= 1) and 3 alpha when it is not;
* the size row beta (sum_i z_i - (n - q')), zero iff |D| = q'.

Non-edges would give all-zero rows (the paper keeps C(n,2) rows); they are
dropped, so the width is 2 (Z + 1).

Constants and thresholds (the smallest that work; the paper says "large"):

* finite integer p, relation "<=":  alpha = beta = 1, delta^p = Z.  A valid D
  gives exactly Z; an uncovered edge adds 3^p - 1 >= 2, a wrong size adds
  beta^p |..|^p >= 1.
* finite integer p, relation "<":   alpha = beta = 1, delta^p = Z + 1: a valid D
  gives Z < Z + 1, every defect gives at least Z + 1.
* p = inf:  alpha = 1, beta = 2; delta = 1 for "<=" (valid D: max = 1 when Z > 0;
  defects give 3 or >= 2), delta = 2 for "<".  With Z = 0 and "<=", delta = 0.

The paper sets delta^p = Z alpha^p and asks for "<" in section 3.1's definition:
a valid cover then gives exactly delta^p, not less (docs/errata.md E19).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from geninv.errors import ValidationError
from geninv.io.graphs import Graph
from geninv.io.limits import check_parameters
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Relation, Solution, SourceInfo, Status
from geninv.reductions._build import SparseRow, dense_layer, doubled_rows, root_upper
from geninv.reductions.base import InverseData, Reduction
from geninv.reductions.clique import integer_p


class VertexCoverReduction(Reduction[Graph, list[int] | None]):
    """Vertex cover of size <= q -> inversion over {0,1}^n (section 5.3)."""

    def __init__(self, q: int, p: Any = 2, relation: Relation = "<=") -> None:
        if q < 0:
            raise ValidationError(f"cover size must be >= 0, got {q}")
        self.q = q
        self.p: float = (
            math.inf
            if str(p).lower() in ("inf", "infinity")
            else float(integer_p(p, "the vertex-cover reduction"))
        )
        if relation not in ("<=", "<"):
            raise ValidationError(f"relation must be '<=' or '<', got {relation!r}")
        self.relation: Relation = relation
        self.name = "vc-sec53"
        self.theorem = "Section 5.3"

    def apply(self, source: Graph) -> tuple[InversionProblem, InverseData]:
        """The section 5.3 network on z in {0,1}^n (an edge row per edge plus the size row) with
        its threshold, and ``inverse_data``; raises :class:`~geninv.errors.ValidationError`
        for an empty graph."""
        n = source.n
        if n < 1:
            raise ValidationError("the graph has no vertices")
        q = min(self.q, n)
        z_edges = len(source.edges)
        check_parameters(2 * (z_edges + 1) * (n + 1), f"the vertex-cover network for {n} vertices")
        alpha = 1
        beta = 2 if math.isinf(self.p) else 1
        rows: list[SparseRow] = [
            ({i: Fraction(2 * alpha), j: Fraction(2 * alpha)}, -Fraction(alpha))
            for i, j in source.edges
        ]
        rows.append(({i: Fraction(beta) for i in range(n)}, -Fraction((n - q) * beta)))
        w, b = dense_layer(doubled_rows(rows), n)
        net = ReLUNetwork([w], [b])
        threshold_pow: Fraction | None = None
        if math.isinf(self.p):
            threshold = Fraction(2) if self.relation == "<" else Fraction(1 if z_edges else 0)
        else:
            pw = int(self.p)
            delta_pow = Fraction(z_edges + (1 if self.relation == "<" else 0))
            threshold = root_upper(delta_pow, pw) if pw > 1 else delta_pow
            threshold_pow = delta_pow if pw > 1 else None
        inverse: InverseData = {"n": n, "q": q}
        params: dict[str, Any] = {
            "n": n,
            "edges": z_edges,
            "q": self.q,
            "q_effective": q,
            "p": "inf" if math.isinf(self.p) else int(self.p),
            "relation": self.relation,
            "alpha": alpha,
            "beta": beta,
            "dropped_zero_rows": n * (n - 1) // 2 - z_edges,
        }
        problem = InversionProblem(
            net,
            [0] * net.n_outputs,
            Domain("binary"),
            p=self.p,
            threshold=threshold,
            relation=self.relation,
            threshold_pow=threshold_pow,
            source=SourceInfo(reduction=self.name, theorem=self.theorem, parameters=params),
            inverse_data=inverse,
        )
        return problem, inverse

    @staticmethod
    def encode(cover: Sequence[int], inverse_data: InverseData) -> list[int]:
        """Cover (0-based, size <= q) -> latent; padded to exactly q' vertices."""
        n, q = int(inverse_data["n"]), int(inverse_data["q"])
        chosen = set(cover)
        if any(not 0 <= v < n for v in chosen):
            raise ValidationError("cover vertex out of range")
        if len(chosen) > q:
            raise ValidationError(f"cover has {len(chosen)} vertices, more than q = {q}")
        for v in range(n):
            if len(chosen) == q:
                break
            chosen.add(v)
        return [0 if i in chosen else 1 for i in range(n)]

    @staticmethod
    def decode(z: Sequence[Any], inverse_data: InverseData) -> list[int]:
        """Latent -> cover: the vertices with z_i = 0."""
        return [i for i, v in enumerate(z) if Fraction(v) < Fraction(1, 2)]

    def invert(self, solution: Solution, inverse_data: InverseData) -> list[int] | None:
        """The cover (0-based vertices with z_i = 0) for a ``yes`` solution, None otherwise."""
        if solution.status is not Status.YES or solution.z is None:
            return None
        return self.decode(solution.z, inverse_data)
