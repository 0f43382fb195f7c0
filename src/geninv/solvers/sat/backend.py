"""The ``sat`` backend: encode (compile), run (an engine), decode (the latent)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from geninv.budget import Budget
from geninv.errors import UnsupportedError, ValidationError
from geninv.network import small_fraction
from geninv.problem import InversionProblem, Solution, Status
from geninv.proof import BASIS_CHECKED, Proof
from geninv.solvers.interface import Backend, Capabilities
from geninv.solvers.sat.clause_form import clause_form
from geninv.solvers.sat.common import (
    DEFAULT_SOLVER,
    MAX_NODES,
    MAX_VALUES,
    MODES,
    NO_PROOF_KIND,
    OBJECTIVE_NODES,
    OBJECTIVES,
    Mode,
    ObjectiveKind,
    _Timeout,
)
from geninv.solvers.sat.encoder import CompiledCNF, _Encoder, _simplify
from geninv.solvers.sat.engines import NO_PROOF_SOLVERS, _Sat, _write_proof_files, canonical_solver


def _latent(bits: Sequence[bool], values: tuple[int, int]) -> list[Fraction]:
    lo, hi = small_fraction(values[0]), small_fraction(values[1])  # shared, immutable
    return [hi if b else lo for b in bits]


#: Activations the CNF encoding handles exactly (a ReLU unit is an exact case split,
#: the identity a plain sum); others are refused.
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})


class SatBackend(Backend):
    """Exact CNF encoding (order encoding + MDDs) and a CDCL solver; binary/sign latents.

    Options (``solve(problem, "sat", options={...})``):

    * ``mode``: ``"decide"`` (default) or ``"optimize"`` (smallest distance).
    * ``solver``: a PySAT solver name (default ``"cadical195"``; e.g. ``"glucose4"``,
      ``"kissat404"``).
    * ``proof``: a path; for a ``no`` the DRUP proof is written there and the CNF
      to ``path + ".cnf"``.
    * ``check_proof``: also check that proof with :mod:`geninv.solvers.rup`.
    * ``max_nodes`` / ``max_values``: encoding limits (see the module docstring).
    """

    name = "sat"
    summary = "CNF encoding (order encoding, MDDs) + CDCL SAT solver; DRUP proofs (binary/sign)"
    capabilities = Capabilities(
        domains=frozenset({"binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
        activations=HANDLED_ACTIVATIONS,
    )
    modules = ("pysat",)
    no_basis = "exact"  # exact integer CNF; "checked certificate" once rup checked the DRUP

    def __init__(
        self,
        mode: Mode = "decide",
        solver: str = DEFAULT_SOLVER,
        proof: str | os.PathLike[str] | None = None,
        check_proof: bool = False,
        max_nodes: int = MAX_NODES,
        max_values: int = MAX_VALUES,
        objective: ObjectiveKind = "auto",
        objective_nodes: int = OBJECTIVE_NODES,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
        solver = canonical_solver(solver)
        if max_nodes < 1 or max_values < 1 or objective_nodes < 1:
            raise ValidationError("max_nodes, max_values and objective_nodes must be positive")
        if objective not in OBJECTIVES:
            raise ValidationError(
                f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
            )
        self.objective: ObjectiveKind = objective
        self.objective_nodes = objective_nodes
        if proof is not None and solver in NO_PROOF_SOLVERS:
            raise UnsupportedError(f"solver {solver!r} cannot log proofs; use e.g. glucose4")
        self.mode: Mode = mode
        self.solver = solver
        self.proof_path = None if proof is None else os.fspath(proof)
        self.check_proof = check_proof
        self.max_nodes = max_nodes
        self.max_values = max_values

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why ``sat`` cannot take ``problem``, or None: besides the capabilities, p must be an
        integer or inf when delta > 0."""
        reason = super().unsupported_reason(problem)
        if reason is not None:
            return reason
        p = problem.p
        exact = problem.threshold == 0 and problem.threshold_pow is None
        if not exact and not math.isinf(p) and not p.is_integer():
            return f"backend 'sat' handles integer p and p = inf for delta > 0, not p = {p!r}"
        return None

    def _encoder(self, problem: InversionProblem, clock: Budget) -> _Encoder:
        return _Encoder(
            problem,
            self.max_nodes,
            self.max_values,
            clock.deadline,
            self.objective,
            self.objective_nodes,
        )

    # ------------------------------------------------------------ decide
    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """The exact CNF and a CDCL solver: *yes* with a witness re-checked exactly, *no* (decide
        mode) for an unsatisfiable CNF, with a DRUP proof written when ``proof`` is set (checked
        with ``check_proof``), else *unknown*; raises :class:`~geninv.errors.UnsupportedError`
        outside the capabilities."""
        reason = self.unsupported_reason(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        clock = Budget(time_limit, seed)
        start = clock.start
        if self.mode == "optimize":
            sol = self._optimize(problem, clock)
        else:
            sol = self._decide(problem, clock, self.proof_path)
        sol.stats["mode"] = self.mode
        sol.seconds = time.perf_counter() - start
        return sol

    def _decide(self, problem: InversionProblem, clock: Budget, proof_path: str | None) -> Solution:
        t0 = time.perf_counter()
        fast = clause_form(problem)
        stats: dict[str, Any]
        if fast is not None:
            cnf = fast
            stats = dict(cnf.stats)
        else:
            try:
                enc = self._encoder(problem, clock)
                enc.add_threshold()
            except _Timeout:
                return self._unknown("time limit while encoding", {})
            cnf = _simplify(enc.cnf)
            stats = dict(enc.stats)
            stats.update(cnf.stats)
        stats.update(
            cnf_vars=cnf.nvars,
            cnf_clauses=len(cnf.clauses),
            solver=self.solver,
            encode_seconds=time.perf_counter() - t0,
        )
        t1 = time.perf_counter()
        proof_lines: list[str] | None = None
        if cnf.unsat_by_propagation:
            result: bool | None = False
            stats["decided_by"] = "unit propagation while encoding"
            proof_lines = ["0"]
        else:
            with _Sat(self.solver, proof_path is not None) as sat:
                sat.add(cnf.clauses)
                result = sat.solve_cnf(cnf.clauses, clock)
                if result is True:
                    bits = sat.model(problem.n)
                elif result is False and proof_path is not None:
                    proof_lines = sat.proof()
        stats["solve_seconds"] = time.perf_counter() - t1
        if result is None:
            return self._unknown("time limit in the SAT solver", stats)
        if result:
            z = _latent(bits, problem.domain.corner_values())
            chk = problem.exact_check(z)
            if not chk.meets:  # pragma: no cover - would be an encoder bug
                return self._unknown(
                    f"SAT model failed the exact check ({chk.reason}); encoder bug?", stats, z
                )
            return Solution(
                Status.YES, self.name, z=z, distance=chk.distance, check=chk, stats=stats
            )
        proof = self._no_proof(cnf, proof_path, proof_lines)
        return Solution(Status.NO, self.name, proof=proof, stats=stats)

    def _no_proof(
        self, cnf: CompiledCNF, proof_path: str | None, lines: list[str] | None
    ) -> dict[str, Any]:
        proof = Proof(
            NO_PROOF_KIND,
            solver=self.solver,
            cnf_vars=cnf.nvars,
            cnf_clauses=len(cnf.clauses),
            proof_file=None,
            cnf_file=None,
        )
        if cnf.unsat_by_propagation:
            proof["decided_by"] = "unit propagation while encoding"
        if proof_path is not None:
            cnf_path = proof_path + ".cnf"
            _write_proof_files(cnf_path, cnf.to_dimacs(), proof_path, lines or [])
            proof["proof_file"] = proof_path
            proof["cnf_file"] = cnf_path
            proof["proof_format"] = "DRUP (text)"
            if self.check_proof:
                from geninv.solvers.rup import check_drup_files

                res = check_drup_files(cnf_path, proof_path)
                proof["proof_checked"] = res.ok
                if res.ok:
                    proof["basis"] = BASIS_CHECKED
                proof["proof_check"] = res.reason
        return proof.to_dict()

    def _unknown(
        self, reason: str, stats: dict[str, Any], z: list[Fraction] | None = None
    ) -> Solution:
        return Solution(Status.UNKNOWN, self.name, z=z, reason=reason, stats=stats)

    # ------------------------------------------------------------ optimize
    def _optimize(self, problem: InversionProblem, clock: Budget) -> Solution:
        p = problem.p
        if not (math.isinf(p) or p.is_integer()):
            raise UnsupportedError(f"sat optimize mode needs an integer p or p = inf, not {p!r}")
        if self.solver.startswith(("kissat", "lingeling")):
            raise UnsupportedError(
                f"optimize mode needs an incremental solver with assumptions, not {self.solver!r}"
            )
        t0 = time.perf_counter()
        values = problem.domain.corner_values()
        stats: dict[str, Any] = {"solver": self.solver}
        best_z: list[Fraction] | None = None
        calls = 0
        try:
            enc = self._encoder(problem, clock)
            stats.update(enc.stats)
            cnf = enc.cnf
            with _Sat(self.solver, False) as sat:
                fed = 0

                def feed() -> None:
                    nonlocal fed
                    sat.add(cnf.clauses[fed:])
                    fed = len(cnf.clauses)

                def probe(assume: list[int]) -> bool | None:
                    nonlocal calls
                    calls += 1
                    feed()
                    if -cnf.true in assume:
                        return False
                    return sat.solve([a for a in assume if a != cnf.true], clock)

                def key_of(z: list[Fraction]) -> Fraction:
                    k = problem.exact_check(z).distance_pow
                    assert k is not None
                    return k

                r = probe([])
                if r is None:
                    return self._unknown("time limit in the SAT solver", stats)
                assert r, "the network constraints alone are always satisfiable"
                best_z = _latent(sat.model(problem.n), values)
                best = key_of(best_z)
                if math.isinf(p):
                    cands = sorted(
                        {
                            abs(y.unit * v - problem.target[j])
                            for j, y in enumerate(enc.outputs)
                            for v in enc.domain(y)[0]
                        }
                    )
                    lo, hi = 0, cands.index(best)
                    while lo < hi:
                        mid = (lo + hi) // 2
                        r = probe(enc.interval_lits(cands[mid], "<="))
                        if r is None:
                            raise _Timeout
                        if r:
                            best_z = _latent(sat.model(problem.n), values)
                            best = key_of(best_z)
                            hi = cands.index(best)
                        else:
                            lo = mid + 1
                else:
                    k = int(p)
                    enc.objective(k)
                    scale = enc._obj_scale
                    lo_i = enc._obj_min
                    hi_i = int(best * scale)
                    while lo_i < hi_i:
                        mid = (lo_i + hi_i - 1) // 2  # is a sum <= mid possible?
                        lit, last = enc.at_most_class(mid)
                        r = probe([lit])
                        if r is None:
                            raise _Timeout
                        if r:
                            best_z = _latent(sat.model(problem.n), values)
                            best = key_of(best_z)
                            hi_i = int(best * scale)
                        else:
                            lo_i = last + 1
        except _Timeout:
            stats["sat_calls"] = calls
            reason = "time limit during optimisation"
            if best_z is not None:
                stats["best_distance"] = problem.exact_check(best_z).distance
            return self._unknown(reason, stats, best_z)
        assert best_z is not None
        chk = problem.exact_check(best_z)
        stats.update(
            sat_calls=calls,
            raw_vars=cnf.nvars - 1,
            raw_clauses=len(cnf.clauses),
            mdd_nodes=cnf.nodes,
            min_distance=chk.distance,
            min_distance_exact=str(chk.distance_pow),
            argmin=[int(v) for v in best_z],
            encode_and_solve_seconds=time.perf_counter() - t0,
        )
        if chk.meets:
            return Solution(
                Status.YES, self.name, z=best_z, distance=chk.distance, check=chk, stats=stats
            )
        proof = Proof(
            NO_PROOF_KIND,
            solver=self.solver,
            cnf_vars=cnf.nvars - 1,
            cnf_clauses=len(cnf.clauses),
            proof_file=None,
            optimal=True,
            min_distance=chk.distance,
            min_distance_exact=str(chk.distance_pow),
        )
        if self.proof_path is not None:
            # A stand-alone certificate: the decision CNF of the problem itself.
            dec = self._decide(problem, Budget(), self.proof_path)
            if dec.status is not Status.NO:  # pragma: no cover - would be an encoder bug
                return self._unknown("optimisation and decision disagree; encoder bug?", stats)
            assert dec.proof is not None
            for key, value in dec.proof.items():
                if key != "kind":
                    proof[key] = value
        return Solution(
            Status.NO, self.name, distance=chk.distance, proof=proof.to_dict(), stats=stats
        )


def compile_to_cnf(
    problem: InversionProblem,
    *,
    max_nodes: int = MAX_NODES,
    max_values: int = MAX_VALUES,
    objective: ObjectiveKind = "auto",
    objective_nodes: int = OBJECTIVE_NODES,
    vectorised: bool = True,
) -> CompiledCNF:
    """The CNF whose models are exactly the witnesses (on variables 1..n) of ``problem``.

    With ``vectorised`` (the default) problems of the shape of :func:`clause_form`
    take that shortcut; otherwise, and for every other problem, the general
    encoder runs.

    Raises :class:`UnsupportedError` for non-discrete domains, non-integer p
    with delta > 0, and networks beyond the ``max_nodes`` / ``max_values`` limits.
    """
    reason = SatBackend.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    start = time.perf_counter()
    memo = clause_form(problem) if vectorised else None
    if memo is not None:
        # a copy: the caller may change it, clause_form's answer is remembered
        fast = CompiledCNF(memo.n, memo.nvars, [list(c) for c in memo.clauses], dict(memo.stats))
        fast.stats["cnf_vars"] = fast.nvars
        fast.stats["cnf_clauses"] = len(fast.clauses)
        fast.stats["encode_seconds"] = time.perf_counter() - start
        return fast
    enc = _Encoder(problem, max_nodes, max_values, None, objective, objective_nodes)
    enc.add_threshold()
    cnf = _simplify(enc.cnf)
    cnf.stats.update(enc.stats)
    cnf.stats["cnf_vars"] = cnf.nvars
    cnf.stats["cnf_clauses"] = len(cnf.clauses)
    cnf.stats["encode_seconds"] = time.perf_counter() - start
    return cnf
