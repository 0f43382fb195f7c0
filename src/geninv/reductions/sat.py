"""k-SAT -> exact inversion: the paper's Theorem 1 (sign latents) and Theorem 2 (real latents).

Both work for *any* DIMACS CNF, not only k-SAT with exactly k distinct literals
per clause (see docs/errata.md, E1-E4):

* literals repeated inside a clause are merged (a clause is a set of literals);
* a tautological clause (containing ``v`` and ``-v``) is always satisfied and
  contributes no row;
* clause ``j`` with ``k_j`` distinct literals gets bias ``-(k_j - 1)`` (the
  paper uses one ``k`` for every clause);
* an empty clause (``k_j = 0``) gets a zero row with bias ``+1``: always 1,
  so the formula is, correctly, never satisfied;
* a formula with no rows left (no clauses, or only tautologies) gets one zero
  row with bias 0, so the network is well formed and always outputs 0;
* a formula with no variables gets one dummy latent coordinate that no clause
  reads (ONNX and our solvers need n >= 1); it is dropped by :meth:`invert`.

Clause gadget (Theorem 1).  For z in {-1,1}^n, literal ``v`` is true when
``z_v = 1`` and ``-v`` is true when ``z_v = -1``.  Row j has ``-1`` in column v
for a positive literal ``v`` and ``+1`` for a negative literal ``-v``, so each
literal contributes ``-1`` when true and ``+1`` when false.  With ``t`` true
literals out of ``k_j``, the pre-activation is ``(k_j - 2t) - (k_j - 1) = 1 - 2t``:
``1`` when the clause is falsified (t = 0) and ``<= -1`` otherwise.  Hence
``ReLU`` of row j is the indicator "clause j falsified", and the second layer
``ReLU(sum_j .)`` is 0 exactly when every clause is satisfied.  Target x = 0.

Theorem 2 (real latents) clamps each coordinate to [-1, 1] and forces it to a
corner, with genuine ReLU units (the paper's ``max{z,-1}``, ``min{.,1}`` and
the sums ``u_{m+1}, u_{m+2}`` are not ReLUs of affine maps):

* layer 1, n units:  a_i = ReLU(z_i + 1)              (= max(z_i, -1) + 1)
* layer 2, n units:  s_i = ReLU(2 - a_i)              (= 1 - v_i, v_i = clamp(z_i, -1, 1))
* layer 3, m + 2n units: the clause rows of Theorem 1 applied to v = 1 - s
  (weights ``-c`` on s, bias ``sum(c) - (k_j - 1)``), and for each i
  ``p_i = ReLU(1 - s_i) = max(v_i, 0)`` and ``q_i = ReLU(s_i - 1) = max(-v_i, 0)``;
* layer 4, 2 units:  y_1 = ReLU(sum_j u_j),  y_2 = ReLU(sum_i (p_i + q_i)) = sum_i |v_i|.

Target x = (0, n).  Since |v_i| <= 1 with equality only at v_i = +-1,
``y_2 = n`` forces v in {-1,1}^n, and then ``y_1 = 0`` iff v satisfies the
formula.  The output depends on z only through clamp(z, -1, 1), so the
real domain behaves exactly like the box [-1, 1]^n (recorded as ``input_box``).
True size: depth 4, widths (n, n, m + 2n, 2), where m counts the rows after
the normalisation above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from geninv.errors import ValidationError
from geninv.io.dimacs import CNF
from geninv.io.limits import check_parameters
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, SourceInfo, Status
from geninv.reductions.base import InverseData, Reduction

SatDomain = Literal["sign", "real"]


@dataclass(frozen=True)
class ClauseRows:
    """The clause rows after normalisation."""

    rows: list[tuple[int, ...]]  # distinct literals of each kept clause (may be empty)
    clause_index: list[int]  # source clause index of each row
    tautologies: list[int]  # source indices of dropped tautological clauses
    merged_repeats: int  # number of repeated literals merged away


def normalise_clauses(cnf: CNF) -> ClauseRows:
    """Merge repeated literals, drop tautologies; keep empty clauses."""
    rows: list[tuple[int, ...]] = []
    index: list[int] = []
    taut: list[int] = []
    merged = 0
    for j, clause in enumerate(cnf.clauses):
        lits = tuple(dict.fromkeys(clause))  # distinct, first-occurrence order
        merged += len(clause) - len(lits)
        s = set(lits)
        if any(-lit in s for lit in lits):
            taut.append(j)
            continue
        rows.append(lits)
        index.append(j)
    return ClauseRows(rows, index, taut, merged)


def clause_layer(rows: Sequence[tuple[int, ...]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Theorem 1's first layer on z in {-1,1}^n: (W, b) with one row per clause.

    ``W[j, v-1] = -1`` for literal v, ``+1`` for literal -v; ``b_j = -(k_j - 1)``.
    With no rows, one zero row with bias 0 (never active).
    """
    if not rows:
        return np.zeros((1, n)), np.zeros(1)
    w = np.zeros((len(rows), n))
    b = np.zeros(len(rows))
    for j, lits in enumerate(rows):
        for lit in lits:
            w[j, abs(lit) - 1] = -1.0 if lit > 0 else 1.0
        b[j] = -(len(lits) - 1)
    return w, b


class SatReduction(Reduction[CNF, list[bool] | None]):
    """CNF satisfiability -> exact inversion (Theorem 1 for ``sign``, Theorem 2 for ``real``)."""

    def __init__(self, domain: SatDomain = "sign") -> None:
        if domain not in ("sign", "real"):
            raise ValidationError(f"SAT reduction domain must be 'sign' or 'real', got {domain!r}")
        self.domain: SatDomain = domain
        self.name = "sat-thm1" if domain == "sign" else "sat-thm2"
        self.theorem = "Theorem 1" if domain == "sign" else "Theorem 2"

    def apply(self, source: CNF) -> tuple[InversionProblem, InverseData]:
        """The Theorem 1 (sign) or Theorem 2 (real) network with target 0 and threshold 0, and
        ``inverse_data`` (clause rows, dropped tautologies); the network size is checked
        first."""
        n = max(source.n_vars, 1)
        m = source.n_clauses
        size = (m + 1) * (n + 1) if self.domain == "sign" else 2 * (m + 2 * n + 1) * (n + 2)
        check_parameters(size, f"the network for {source.n_vars} variables and {m} clauses")
        cr = normalise_clauses(source)
        w1, b1 = clause_layer(cr.rows, n)
        inverse: InverseData = {
            "n_vars": source.n_vars,
            "latent_dim": n,
            "domain": self.domain,
            "clause_rows": cr.clause_index,
            "dropped_tautologies": cr.tautologies,
            "merged_repeated_literals": cr.merged_repeats,
        }
        params: dict[str, Any] = {
            "domain": self.domain,
            "n_vars": source.n_vars,
            "n_clauses": source.n_clauses,
            "clause_rows": len(cr.rows),
            "dropped_tautologies": len(cr.tautologies),
            "merged_repeated_literals": cr.merged_repeats,
        }
        if self.domain == "sign":
            net = ReLUNetwork([w1, np.ones((1, w1.shape[0]))], [b1, np.zeros(1)])
            problem = InversionProblem(
                net,
                [0],
                Domain("sign"),
                threshold=0,
                source=SourceInfo(reduction=self.name, theorem=self.theorem, parameters=params),
                inverse_data=inverse,
            )
            return problem, inverse
        m = w1.shape[0]
        eye = np.eye(n)
        # layer 3 on s = 1 - v:  row . v + b  =  (-row) . s + (sum(row) + b)
        w3 = np.zeros((m + 2 * n, n))
        b3 = np.zeros(m + 2 * n)
        w3[:m] = -w1
        b3[:m] = w1.sum(axis=1) + b1
        w3[m : m + n] = -eye  # p_i = ReLU(1 - s_i) = max(v_i, 0)
        b3[m : m + n] = 1.0
        w3[m + n :] = eye  # q_i = ReLU(s_i - 1) = max(-v_i, 0)
        b3[m + n :] = -1.0
        w4 = np.zeros((2, m + 2 * n))
        w4[0, :m] = 1.0
        w4[1, m:] = 1.0
        net = ReLUNetwork(
            [eye, -eye, w3, w4],
            [np.ones(n), np.full(n, 2.0), b3, np.zeros(2)],
        )
        problem = InversionProblem(
            net,
            [0, n],
            Domain("real"),
            threshold=0,
            source=SourceInfo(reduction=self.name, theorem=self.theorem, parameters=params),
            inverse_data=inverse,
            input_box=([-1] * n, [1] * n),
        )
        return problem, inverse

    # ------------------------------------------------------------ witnesses
    @staticmethod
    def encode(assignment: Sequence[bool], inverse_data: InverseData) -> list[int]:
        """Source witness -> latent: true -> 1, false -> -1 (dummy coordinate -> 1)."""
        n_vars = int(inverse_data["n_vars"])
        if len(assignment) != n_vars:
            raise ValidationError(f"assignment has {len(assignment)} values, expected {n_vars}")
        z = [1 if a else -1 for a in assignment]
        return z + [1] * (int(inverse_data["latent_dim"]) - n_vars)

    @staticmethod
    def decode(z: Sequence[Any], inverse_data: InverseData) -> list[bool]:
        """Latent -> assignment: variable i is true iff clamp(z_i, -1, 1) > 0.

        For a witness of either theorem, clamp(z_i) is exactly +-1, so this is
        the unique assignment the witness encodes.
        """
        n_vars = int(inverse_data["n_vars"])
        if len(z) != int(inverse_data["latent_dim"]):
            raise ValidationError(
                f"witness has {len(z)} entries, expected {inverse_data['latent_dim']}"
            )
        return [Fraction(v) > 0 for v in z[:n_vars]]

    def invert(self, solution: Solution, inverse_data: InverseData) -> list[bool] | None:
        """A satisfying assignment for a ``yes`` solution, None otherwise."""
        if solution.status is not Status.YES or solution.z is None:
            return None
        return self.decode(solution.z, inverse_data)
