"""Weighted k-Clique -> approximate inversion with binary latents (the paper's Theorem 5).

Source question: in a graph on n vertices with edge weights w_e > 0 (1 when
the graph has none), is there a clique S with |S| = k and total edge weight
W(S) = sum_{e in S} w_e  <= M  (or < M with ``relation="<"``)?  Half-Clique is
k = n/2.  With the default M = sum_e w_e every k-clique qualifies, so plain
k-Clique is one call.

Construction, for an integer p >= 1.  Latent z in {0,1}^n (z_i = 1 iff i in S),
one layer G(z) = ReLU([W; -W] z + [b; -b]) with target 0, so
||G(z)||_p^p = ||Wz + b||_p^p.  Rows of (W, b), with s_e = z_i + z_j for the
pair e = {i, j}:

* an edge e with weight w_e = sum_k c_k^p (see below): one row per term,
  2 c_k z_i + 2 c_k z_j - c_k = c_k (2 s_e - 1); together they contribute
  w_e |2 s_e - 1|^p = w_e, or 3^p w_e when both ends are in S;
* a non-edge: alpha (2 s_e - 1), contributing alpha^p, or 3^p alpha^p when both
  ends are in S;
* the size row beta (sum_i z_i - k), contributing beta^p |sum z - k|^p.

So ||Wz + b||_p^p = sum_E w_e + Z alpha^p + (3^p - 1) [W(S) + alpha^p N(S)]
+ beta^p |  |S| - k |^p, where Z counts non-edges and N(S) the non-edges inside
S.  The threshold is delta^p = sum_E w_e + Z alpha^p + (3^p - 1) M (given
exactly as ``threshold_pow``).

Constants (the smallest integers for which the proof goes through):

* alpha = the least integer with alpha^p > M.  If S holds a non-edge the norm^p
  is at least delta^p - (3^p - 1) M + (3^p - 1) alpha^p > delta^p.
* beta = the least integer with beta^p > (3^p - 1) M.  If |S| != k the norm^p is
  at least sum_E w_e + Z alpha^p + beta^p > delta^p.
* Otherwise S is a k-clique and norm^p R delta^p  <=>  W(S) R M exactly, for
  both relations R, since 3^p - 1 > 0.

M must be >= 0: weights are positive, so no clique weighs less.

The paper writes each edge row with w_e^(1/p), irrational in general; here
w_e = a/b is split exactly as (a b^(p-1)) / b^p with the integer a b^(p-1)
written as a sum of p-th powers (a single term when w_e^(1/p) is rational, at
most four for p = 2 by Lagrange, found by greedy + dynamic programming), so
every weight is rational and checks stay exact (docs/errata.md E17).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from geninv.errors import UnsupportedError, ValidationError
from geninv.io.graphs import Graph
from geninv.io.limits import check_parameters
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Relation, Solution, SourceInfo, Status
from geninv.reductions._build import (
    SparseRow,
    dense_layer,
    doubled_rows,
    root_upper,
    smallest_int_pow_above,
    weight_as_pth_powers,
)
from geninv.reductions.base import InverseData, Reduction


def integer_p(p: Any, what: str) -> int:
    """An integer norm exponent >= 1 (these reductions compare sums of p-th powers)."""
    try:
        pf = float(p)
    except (TypeError, ValueError):
        raise ValidationError(f"{what}: p must be an integer >= 1, got {p!r}") from None
    if math.isinf(pf) or not pf.is_integer() or pf < 1:
        raise UnsupportedError(
            f"{what} needs an integer p >= 1 (it encodes weights as sums of p-th powers), got {p!r}"
        )
    return int(pf)


class CliqueReduction(Reduction[Graph, list[int] | None]):
    """Weighted k-Clique (Half-Clique for k = n/2) -> inversion over {0,1}^n (Theorem 5)."""

    def __init__(
        self,
        k: int | None,
        p: Any = 2,
        max_weight: Any = None,
        relation: Relation = "<=",
        half: bool = False,
        constants: tuple[int, int] | None = None,
    ) -> None:
        """``constants=(alpha, beta)`` overrides the derived minimal constants.

        Smaller ones make the reduction unsound (errata E16); the override exists
        to demonstrate that.
        """
        self.constants = constants
        self.p = integer_p(p, "the clique reduction")
        self.k = k
        self.half = half
        if (k is None) == (not half):
            raise ValidationError("give exactly one of k and half")
        self.max_weight = None if max_weight is None else Fraction(max_weight)
        if relation not in ("<=", "<"):
            raise ValidationError(f"relation must be '<=' or '<', got {relation!r}")
        self.relation: Relation = relation
        self.name = "clique-thm5"
        self.theorem = "Theorem 5"

    def apply(self, source: Graph) -> tuple[InversionProblem, InverseData]:
        """The Theorem 5 network on the graph's indicator vector z in {0,1}^n, and
        ``inverse_data``; raises :class:`~geninv.errors.ValidationError` for an empty graph,
        an odd n with ``half`` or k outside [0, n]."""
        n = source.n
        if n < 1:
            raise ValidationError("the graph has no vertices")
        if self.half:
            if n % 2:
                raise ValidationError(f"--half needs an even number of vertices, got {n}; use --k")
            k = n // 2
        else:
            assert self.k is not None
            k = self.k
        if not 0 <= k <= n:
            raise ValidationError(f"k must be between 0 and {n}, got {k}")
        p = self.p
        # One row per vertex pair (more for split weights), doubled, over n columns: check
        # the size before building O(n^2) rows.
        pairs = n * (n - 1) // 2 + 1
        check_parameters(2 * pairs * (n + 1), f"the clique network for {n} vertices")
        weights = {e: source.edge_weight(*e) for e in source.edges}
        total = sum(weights.values(), Fraction(0))
        m_bound = total if self.max_weight is None else self.max_weight
        if m_bound < 0:
            raise ValidationError(
                f"max weight must be >= 0 (edge weights are positive, no clique weighs {m_bound})"
            )
        alpha = smallest_int_pow_above(m_bound, p)
        beta = smallest_int_pow_above((3**p - 1) * m_bound, p)
        if self.constants is not None:
            alpha, beta = self.constants
        rows: list[SparseRow] = []
        n_edge_rows = 0
        for i in range(n):
            for j in range(i + 1, n):
                if (i, j) in weights:
                    for c in weight_as_pth_powers(weights[(i, j)], p, f"edge {i + 1}-{j + 1}"):
                        rows.append(({i: 2 * c, j: 2 * c}, -c))
                        n_edge_rows += 1
                else:
                    rows.append(
                        ({i: Fraction(2 * alpha), j: Fraction(2 * alpha)}, -Fraction(alpha))
                    )
        rows.append(({i: Fraction(beta) for i in range(n)}, -Fraction(k * beta)))
        non_edges = n * (n - 1) // 2 - len(weights)
        delta_pow = total + non_edges * Fraction(alpha) ** p + (3**p - 1) * m_bound
        w, b = dense_layer(doubled_rows(rows), n)
        net = ReLUNetwork([w], [b])
        if delta_pow == 0 and self.relation == "<":
            raise ValidationError(
                "max weight 0 with '<' on a graph with one vertex is trivially no"
            )
        threshold = root_upper(delta_pow, p) if p > 1 else delta_pow
        inverse: InverseData = {"n": n, "k": k}
        params: dict[str, Any] = {
            "n": n,
            "edges": len(weights),
            "k": k,
            "half": self.half,
            "p": p,
            "relation": self.relation,
            "max_weight": str(m_bound),
            "max_weight_default": self.max_weight is None,
            "weighted": source.weights is not None,
            "alpha": alpha,
            "beta": beta,
            "edge_rows": n_edge_rows,
            "non_edge_rows": non_edges,
            "threshold_pow": str(delta_pow),
        }
        problem = InversionProblem(
            net,
            [0] * net.n_outputs,
            Domain("binary"),
            p=p,
            threshold=threshold,
            relation=self.relation,
            threshold_pow=delta_pow if p > 1 else None,
            source=SourceInfo(reduction=self.name, theorem=self.theorem, parameters=params),
            inverse_data=inverse,
        )
        return problem, inverse

    @staticmethod
    def encode(clique: Sequence[int], inverse_data: InverseData) -> list[int]:
        """Vertex set (0-based) -> indicator vector."""
        n = int(inverse_data["n"])
        z = [0] * n
        for v in clique:
            if not 0 <= v < n:
                raise ValidationError(f"vertex {v} is out of range")
            z[v] = 1
        return z

    @staticmethod
    def decode(z: Sequence[Any], inverse_data: InverseData) -> list[int]:
        """Indicator vector -> vertex set (0-based)."""
        return [i for i, v in enumerate(z) if Fraction(v) >= Fraction(1, 2)]

    def invert(self, solution: Solution, inverse_data: InverseData) -> list[int] | None:
        """The clique (0-based vertices with z_i = 1) for a ``yes`` solution, None otherwise."""
        if solution.status is not Status.YES or solution.z is None:
            return None
        return self.decode(solution.z, inverse_data)
