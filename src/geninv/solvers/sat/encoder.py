"""The compiler from an inversion problem to CNF (order encoding, MDDs), and its simplifier."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from geninv.errors import UnsupportedError
from geninv.problem import InversionProblem
from geninv.solvers.sat.adders import (
    encode_cost_bits,
    encode_reified_at_most,
    encode_weighted_sum,
)
from geninv.solvers.sat.cnf import _Cnf
from geninv.solvers.sat.common import (
    OBJECTIVE_NODES,
    ObjectiveKind,
    _fraction_gcd,
    _lcm,
    _TooBig,
)
from geninv.solvers.sat.encodings import encode_excluded_values
from geninv.solvers.sat.mdd import _SumMDD, _Term
from geninv.solvers.sat.pool import VarPool
from geninv.solvers.sat.units import (
    Domain,
    _Latent,
    _Quantity,
    _rational_terms,
    _Unit,
    encode_unit_ge,
    encode_unit_values,
)


# ------------------------------------------------------------------ compiler
@dataclass
class CompiledCNF:
    """The CNF of a problem: latents are variables 1..n (True means z_i = 1)."""

    n: int
    nvars: int
    clauses: list[list[int]]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def unsat_by_propagation(self) -> bool:
        """True when the encoding already produced an empty clause (unsatisfiable without
        search)."""
        return not all(self.clauses)  # an empty clause

    def to_dimacs(self) -> str:
        """The CNF in DIMACS text (``p cnf`` header, one clause per line, ending in a newline)."""
        lines = [f"p cnf {self.nvars} {len(self.clauses)}"]
        lines.extend(" ".join(map(str, [*c, 0])) for c in self.clauses)
        return "\n".join(lines) + "\n"


class _Encoder:
    """Builds the raw clauses of a problem by composing the pure encodings.

    The encodings (:mod:`.encodings`, :mod:`.adders`, :mod:`.mdd`, :mod:`.units`)
    take the one shared :class:`VarPool` and return their literals and clauses;
    the encoder appends the clauses to its clause store ``cnf`` and remembers
    each unit's value set (so that its order literals are made once).
    """

    def __init__(
        self,
        problem: InversionProblem,
        max_nodes: int,
        max_values: int,
        deadline: float | None,
        objective: ObjectiveKind = "auto",
        objective_nodes: int = OBJECTIVE_NODES,
    ) -> None:
        kind = problem.domain.kind
        if kind not in ("binary", "sign"):
            raise UnsupportedError(f"the sat backend needs binary or sign latents, not {kind!r}")
        self.problem = problem
        self.pool = VarPool(problem.n, max_nodes, deadline)
        self.cnf = _Cnf(self.pool)
        self._domains: dict[tuple[_Unit, bool], Domain] = {}  # (unit, clamped)
        values = problem.domain.corner_values()
        layer: list[_Quantity] = [_Latent(i + 1, values) for i in range(problem.n)]
        counts = {"active": 0, "inactive": 0, "unstable": 0, "affine": 0}
        per_layer: list[dict[str, int]] = []
        net = problem.network
        out_rows: list[tuple[tuple[int, ...], tuple[Fraction, ...], Fraction]] = []
        for li, lay in enumerate(net.layers, start=1):
            nxt: list[_Quantity] = []
            lc = {"active": 0, "inactive": 0, "unstable": 0, "affine": 0}
            for k, ((idx, coef), b) in enumerate(
                zip(lay.exact_rows(), lay.exact_bias_values(), strict=True)
            ):
                self.cnf.tick()
                where = f"unit {k} of layer {li}"
                parts, const = _rational_terms(layer, idx, coef, b, self._unit_domain)
                unit = _fraction_gcd([c for c, *_ in parts] + [const])
                terms: list[_Term] = []
                for c, _, vals, lits in parts:
                    ci = c / unit
                    assert ci.denominator == 1
                    terms.append(_Term(vals, lits, [int(ci) * v for v in vals]))
                d = const / unit
                assert d.denominator == 1
                u = _Unit(
                    self.pool, where, terms, int(d), unit, lay.activation == "relu", max_values
                )
                lc[u.status] += 1
                nxt.append(u)
                if li == net.depth:
                    out_rows.append((idx, coef, b))
            for key, v in lc.items():
                counts[key] += v
            per_layer.append(lc)
            layer = nxt
        self.outputs: list[_Unit] = [q for q in layer if isinstance(q, _Unit)]
        self.twins = self._find_twins(out_rows, net.layers[-1].activation == "relu")
        self.stats: dict[str, Any] = {
            "stable_active": counts["active"],
            "stable_inactive": counts["inactive"],
            "unstable": counts["unstable"],
            "affine_units": counts["affine"],
            "units_per_layer": per_layer,
            "twin_output_pairs": len(self.twins),
        }
        self.objective_kind = objective
        self.objective_nodes = objective_nodes
        self._obj_ready = False
        self._obj_mdd: _SumMDD | None = None
        self._obj_bits: list[int] = []
        self._obj_scale = 1
        self._obj_const = 0
        self._obj_min = 0
        self._obj_offset = 0
        self._obj_wsum = 0
        self._obj_at_most: dict[int, int] = {}
        self._obj_terms: list[_Term] = []

    # ---------------------------------------------------------- composition
    def ge(self, u: _Unit, v: int) -> int:
        """The literal ``[H >= v]`` of unit ``u`` (:func:`encode_unit_ge`), clauses added."""
        lit, clauses = encode_unit_ge(u, v)
        self.cnf.extend(clauses)
        return lit

    def domain(self, q: _Quantity) -> Domain:
        """Values and order literals of a latent or unit (:func:`encode_unit_values`, once)."""
        if isinstance(q, _Latent):
            return q.domain()
        assert isinstance(q, _Unit)
        return self._values(q, True)

    def _unit_domain(self, u: _Unit) -> Domain:
        return self._values(u, True)

    def pre_domain(self, u: _Unit) -> Domain:
        """Values and order literals of the pre-activation ``A = S + d`` (not clamped)."""
        return self._values(u, False)

    def _values(self, u: _Unit, clamped: bool) -> Domain:
        found = self._domains.get((u, clamped))
        if found is None:
            found, clauses = encode_unit_values(u, u.hmin if clamped else u.amin)
            self.cnf.extend(clauses)
            self._domains[(u, clamped)] = found
        return found

    # ---------------------------------------------------------- output side
    def interval(self, j: int, delta: Fraction, relation: str) -> tuple[int, int]:
        """Integer Y_j with |U_j Y_j - x_j| (relation) delta: [lo, hi] (possibly empty)."""
        u = self.outputs[j].unit
        x = self.problem.target[j]
        a, b = (x - delta) / u, (x + delta) / u
        if relation == "<=":
            return math.ceil(a), math.floor(b)
        return math.floor(a) + 1, math.ceil(b) - 1

    def interval_lits(self, delta: Fraction, relation: str) -> list[int]:
        """Literals whose conjunction says every output is within delta (p = inf)."""
        out: list[int] = []
        for j, y in enumerate(self.outputs):
            lo, hi = self.interval(j, delta, relation)
            if lo > hi:
                return [-self.cnf.true]
            out.append(self.ge(y, lo))
            out.append(-self.ge(y, hi + 1))
        return out

    def _find_twins(
        self,
        rows: list[tuple[tuple[int, ...], tuple[Fraction, ...], Fraction]],
        relu: bool,
    ) -> dict[int, int]:
        """Output pairs ``ReLU(a)``, ``ReLU(-a)`` (the reductions' ``[W; -W]``): j -> j'.

        Only pairs whose two units have the same scale ``U`` (then their integer
        pre-activations are exact negatives) and that read at least one input.
        """
        if not relu or len(rows) != len(self.outputs):
            return {}
        where: dict[tuple[Any, ...], int] = {}
        for j, (idx, coef, b) in enumerate(rows):
            if idx:
                where.setdefault((idx, coef, b), j)
        twins: dict[int, int] = {}
        used: set[int] = set()
        for j, (idx, coef, b) in enumerate(rows):
            if not idx or j in used:
                continue
            t = where.get((idx, tuple(-c for c in coef), -b))
            if t is None or t == j or t in used:
                continue
            if self.outputs[j].unit != self.outputs[t].unit:
                continue
            twins[j] = t
            used.update((j, t))
        return twins

    def costs(self, k: int) -> list[tuple[list[int], list[int], list[Fraction]]]:
        """Per cost term: values, order literals and exact costs.

        A term is one output ``Y`` with cost ``|U Y - x|^k``, or a twin pair
        ``ReLU(A)``, ``ReLU(-A)`` read through its pre-activation ``A`` with cost
        ``|U max(A, 0) - x|^k + |U max(-A, 0) - x'|^k``: one term instead of two
        independent ones, so its minimum is the pair's true minimum (with
        independent terms both could be 0, which the pair never is unless A = 0).
        """
        out = []
        partner = set(self.twins.values())
        target = self.problem.target
        for j, y in enumerate(self.outputs):
            self.cnf.tick()
            if j in partner:
                continue
            x = target[j]
            if j in self.twins:
                vals, lits = self.pre_domain(y)
                x2 = target[self.twins[j]]
                u = y.unit
                cost = [abs(u * max(v, 0) - x) ** k + abs(u * max(-v, 0) - x2) ** k for v in vals]
                out.append((vals, lits, cost))
                continue
            vals, lits = self.domain(y)
            out.append((vals, lits, [abs(y.unit * v - x) ** k for v in vals]))
        return out

    def objective(
        self, k: int, extra: Sequence[Fraction] = (), prune: tuple[Fraction, str] | None = None
    ) -> None:
        """Prepare ``L * sum_j |U_j Y_j - x_j|^k`` (L: lcm of all denominators, incl. ``extra``).

        An MDD when it stays within ``objective_nodes`` nodes (or ``objective="mdd"``),
        otherwise (or with ``objective="adder"``) a binary adder network.

        ``prune = (t, relation)``: only the condition ``sum (relation) t`` will be
        asked (a decision).  Then a value of a term whose cost alone exceeds the
        slack ``B - sum_j min f_j`` (B the scaled bound) is impossible in any
        witness: it is excluded by a clause ``~(g_t & ~g_{t+1})``, and its cost
        replaced by the term's minimum (sound: no model takes it).  A term left
        with one cost becomes a constant; when the largest remaining sum is
        ``<= B`` the MDD root is FALSE and the bound adds nothing.
        """
        if self._obj_ready:
            return
        per = self.costs(k)
        scale = _lcm(
            [c.denominator for _, _, cs in per for c in cs] + [e.denominator for e in extra]
        )
        const = 0
        terms: list[_Term] = []
        ints_per = [[int(c * scale) for c in cs] for _, _, cs in per]
        if prune is not None:
            scaled = prune[0] * scale
            assert scaled.denominator == 1
            bound = int(scaled) if prune[1] == "<=" else int(scaled) - 1
            slack = bound - sum(min(f) for f in ints_per)
            pruned = 0
            for i, (_, lits, _) in enumerate(per):
                ints_per[i], clauses = encode_excluded_values(lits, ints_per[i], slack, self.pool)
                self.cnf.extend(clauses)
                pruned += len(clauses)
            self.stats["objective_values_pruned"] = pruned
        for (vals, lits, _), ints in zip(per, ints_per, strict=True):
            if len(set(ints)) == 1:
                const += ints[0]
            else:
                terms.append(_Term(vals, lits, ints))
        terms.sort(key=lambda t: -(max(t.f) - min(t.f)))
        self._obj_scale = scale
        self._obj_const = const
        self._obj_min = const + sum(min(t.f) for t in terms)
        self._obj_ready = True
        self._obj_terms = terms
        if self.objective_kind != "adder":
            cap = None if self.objective_kind == "mdd" else self.objective_nodes
            self._obj_mdd = _SumMDD(self.pool, terms, cap)
            self.stats["objective_encoding"] = "mdd"
        else:
            self._build_adder()

    def _build_adder(self) -> None:
        """The objective in binary: per output, the bits of its cost
        (:func:`encode_cost_bits`), summed by adders (:func:`encode_weighted_sum`)."""
        pool = self.pool
        terms = self._obj_terms
        estimate = sum(len(t.values) + 3 * (max(t.f) - min(t.f)).bit_length() for t in terms)
        if pool.max_fresh is not None and estimate > pool.max_fresh - pool.count:
            raise UnsupportedError(
                f"the distance sum needs about {estimate} auxiliary variables as adders "
                f"(max_nodes = {pool.max_fresh}); the outputs' costs are too large or too "
                "many for the sat backend"
            )
        weighted, offset, wsum, clauses = encode_cost_bits(terms, pool)
        self.cnf.extend(clauses)
        self._obj_bits, clauses = encode_weighted_sum(weighted, pool)
        self.cnf.extend(clauses)
        self._obj_offset = self._obj_const + sum(min(t.f) for t in terms) + offset
        self._obj_wsum = wsum
        self.stats["objective_encoding"] = "adder"

    def at_most(self, bound: int) -> int:
        """A literal that implies (scaled objective) <= bound, true whenever that holds."""
        return self.at_most_class(bound)[0]

    def at_most_class(self, bound: int) -> tuple[int, int]:
        """``at_most(bound)``, and the largest bound known to give the same condition."""
        assert self._obj_ready
        if bound in self._obj_at_most:
            return self._obj_at_most[bound], bound
        pool = self.pool
        lit: int
        last = bound
        if self._obj_mdd is not None:
            mark = pool.mark()  # the failed root's clauses are lost with the MDD
            try:
                (root, _, hi), clauses = self._obj_mdd.ge(bound + 1 - self._obj_const)
                self.cnf.extend(clauses)
                lit = -root
                if hi is not None:
                    last = max(bound, hi - 1 + self._obj_const)
            except _TooBig:
                pool.rollback(mark)
                self._obj_mdd = None  # earlier MDD roots stay valid
                self._build_adder()
        if self._obj_mdd is None:
            kk = bound - self._obj_offset
            if kk < 0:
                lit = -pool.true
            elif kk >= self._obj_wsum:
                lit = pool.true
            else:
                lit, clauses = encode_reified_at_most(self._obj_bits, kk, pool)
                self.cnf.extend(clauses)
        self._obj_at_most[bound] = lit
        return lit, last

    def add_threshold(self) -> None:
        """Clauses saying the problem's threshold condition holds."""
        pr = self.problem
        p = pr.p
        cnf = self.cnf
        if math.isinf(p) or (pr.threshold == 0 and pr.threshold_pow is None):
            delta = pr.threshold if math.isinf(p) else Fraction(0)
            relation = pr.relation if math.isinf(p) else "<="
            for lit in self.interval_lits(delta, relation):
                cnf.add([lit])
            return
        k = int(p)
        t = pr.threshold_pow if pr.threshold_pow is not None else pr.threshold**k
        self.objective(k, [t], prune=(t, pr.relation))
        scaled = t * self._obj_scale
        assert scaled.denominator == 1
        bound = int(scaled) if pr.relation == "<=" else int(scaled) - 1
        cnf.add([self.at_most(bound)])


def _simplify(cnf: _Cnf) -> CompiledCNF:
    """Top-level unit propagation, then renumbering (latents keep 1..n)."""
    n = cnf.n
    clauses = cnf.clauses
    occ: dict[int, list[int]] = {}
    for ci, c in enumerate(clauses):
        for lit in c:
            occ.setdefault(lit, []).append(ci)
    true: set[int] = set()  # literals fixed true
    queue: list[int] = []
    conflict = cnf.contradiction
    # counting propagation: non-false literals per clause, and satisfied clauses
    free = [len(c) for c in clauses]
    done = [False] * len(clauses)
    for c in clauses:
        if len(c) == 1:
            if -c[0] in true:
                conflict = True
            elif c[0] not in true:
                true.add(c[0])
                queue.append(c[0])
    head = 0
    while not conflict and head < len(queue):
        lit = queue[head]
        head += 1
        for ci in occ.get(lit, ()):
            done[ci] = True
        for ci in occ.get(-lit, ()):
            free[ci] -= 1
            if done[ci] or free[ci] > 1:
                continue
            unit = next((x for x in clauses[ci] if -x not in true), None)
            if unit is None:
                conflict = True
                break
            if unit not in true:
                true.add(unit)
                queue.append(unit)
    stats = {"raw_vars": cnf.nvars - 1, "raw_clauses": len(clauses), "mdd_nodes": cnf.nodes}
    if conflict:
        return CompiledCNF(n, n, [[]], stats)
    out: list[list[int]] = []
    seen: set[tuple[int, ...]] = set()
    for v in range(1, n + 1):
        for unit in (v, -v):
            if unit in true:
                seen.add((unit,))
                out.append([unit])
    rename: dict[int, int] = {v: v for v in range(1, n + 1)}
    nxt = n
    for c in clauses:
        kept: list[int] = []
        for x in c:
            if x in true:
                break
            if -x not in true:
                kept.append(x)
        else:
            key = tuple(sorted(kept))
            if key in seen:
                continue
            seen.add(key)
            new: list[int] = []
            for x in kept:
                v = abs(x)
                if v not in rename:
                    nxt += 1
                    rename[v] = nxt
                new.append(rename[v] if x > 0 else -rename[v])
            out.append(new)
    return CompiledCNF(n, nxt, out, stats)
