"""The ``bab`` backend: a *no* with a proof checked in exact rational arithmetic.

A *yes* is a latent re-checked exactly (:meth:`InversionProblem.exact_check`).
A *no* is a branch-and-bound tree (:mod:`.search`) whose every leaf carries
nonnegative multipliers proving it empty; before the backend returns *no* it
runs the independent checker :func:`geninv.proofcheck.check_certificate` on the
whole tree, and answers ``unknown`` if that fails.  Neither HiGHS's tolerances
nor any float bound is trusted: a float dual only *proposes* multipliers.

Scope: piecewise-linear networks (relu, leaky_relu, identity), box latents,
real latents with a clamp box (``problem.input_box``; the checker verifies
the clamp property itself), and real latents without any box (a search over
phases only, :mod:`.freesearch`, whose leaves are Farkas certificates that
cancel the free latent columns exactly); p = inf, p = 1, integer p >= 2 (the l_p ball is
relaxed by ``|d_j| <= delta``, ``||d||_1 <= q^(1-1/p) delta`` and supporting
cuts) and exact inversion for any p.  ``<`` is refuted by refuting ``<=``, so a
threshold exactly at the minimum with ``<`` ends as ``unknown`` (time or node
budget).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from geninv.budget import Budget
from geninv.clampcheck import verify_clamp_box
from geninv.errors import GeninvError, ValidationError
from geninv.exact import threshold_upper
from geninv.problem import InversionProblem, Solution, Status, norm_label
from geninv.proofcheck import ProofRejected, check_certificate
from geninv.solvers.bab.certificate import Certificate, rat, write_atomic
from geninv.solvers.bab.common import _l1_bound, checked_proof
from geninv.solvers.bab.relax import LayerData, Setup
from geninv.solvers.bab.search import OBBT_DEPTH, IncumbentFinder, Search, SearchResult
from geninv.solvers.interface import Backend, Capabilities

MAX_NODES = 200_000


#: the default incumbent finder's budget: at most this many seconds ...
PRIMAL_SECONDS = 2.0
#: ... and this share of the time the search has
PRIMAL_SHARE = 0.05


def primal_incumbent(problem: InversionProblem, seconds: float) -> list[Fraction] | None:
    """The default incumbent finder: the primal local search
    (:func:`geninv.solvers.primal.incumbent`, seed 0) for a short budget; its point is
    re-checked exactly by the search before a *yes*."""
    from geninv.solvers.primal import incumbent

    budget = min(PRIMAL_SECONDS, PRIMAL_SHARE * seconds if math.isfinite(seconds) else 1e9)
    if problem.is_exact_inversion:
        return None  # the local search is for thresholds; polish.py handles exact inversion
    try:
        res = incumbent(problem, budget=budget, seed=0)
    except GeninvError:  # a model the local search does not take: search without
        return None
    return res.z if res.witness else None


def make_setup(problem: InversionProblem) -> tuple[Setup, Fraction | None]:
    """The node LPs' shared data (network in floats, target, delta, norm mode) and the exact l1
    bound D the proof states: None for p = inf or exact inversion, delta for p = 1, the
    rational ``R >= q^(1-1/p) delta`` for integer p >= 2."""
    layers = [
        LayerData(
            np.asarray(la.weight, dtype=np.float64),
            np.asarray(la.bias, dtype=np.float64),
            la.activation,
            float(la.negative_slope),
        )
        for la in problem.network.layers
    ]
    delta = float(problem.threshold)
    x = problem.target_array()
    if problem.is_exact_inversion or math.isinf(problem.p):
        return Setup(layers, problem.n, x, delta, "inf", 0.0), None
    if problem.p == 1:
        return Setup(layers, problem.n, x, delta, "l1", delta), problem.threshold
    r = _l1_bound(problem)
    return Setup(layers, problem.n, x, delta, "lp", float(r)), r


class BabBackend(Backend):
    """Branch and bound over ReLU phases and latent sub-boxes, with checked proofs."""

    name = "bab"
    summary = (
        "branch and bound over ReLU phases / latent sub-boxes; every 'no' carries a "
        "proof checked in exact rationals (box or clamped real latents)"
    )
    capabilities = Capabilities(
        domains=frozenset({"box", "real"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
        activations=frozenset({"relu", "identity", "leaky_relu"}),
    )
    modules: ClassVar[tuple[str, ...]] = ("highspy",)
    no_basis = "checked certificate"  # every 'no' passed geninv.proofcheck in Fractions

    def __init__(
        self,
        mode: str = "decide",
        proof: str | None = None,
        max_nodes: int = MAX_NODES,
        incumbent_finder: IncumbentFinder | None = None,
        lemmas: bool = True,
        primal: bool = True,
        obbt_depth: int = OBBT_DEPTH,
        optimistic: bool = True,
        lemma_layers: int | None = None,
    ) -> None:
        if mode not in ("decide", "optimize"):
            raise ValidationError(f"bab: mode must be 'decide' or 'optimize', got {mode!r}")
        self.mode = mode
        if not isinstance(max_nodes, int) or max_nodes < 1:
            raise ValidationError(f"bab: max_nodes must be a positive integer, got {max_nodes!r}")
        self.proof_path = proof
        self.max_nodes = max_nodes
        self.incumbent_finder = incumbent_finder
        self.lemmas = bool(lemmas)
        if lemma_layers is not None and (
            not isinstance(lemma_layers, int) or isinstance(lemma_layers, bool) or lemma_layers < 0
        ):
            raise ValidationError(
                f"bab: lemma_layers must be an integer >= 0, got {lemma_layers!r}"
            )
        #: back-substitution lemmas on layers up to this one only (None: all)
        self.lemma_layers = lemma_layers
        if not isinstance(obbt_depth, int) or obbt_depth < -1:
            raise ValidationError(f"bab: obbt_depth must be an integer >= -1, got {obbt_depth!r}")
        self.obbt_depth = obbt_depth
        #: the root's witness lemmas and leaf verified by the final check alone (one
        #: exact pass instead of two); a rejected proof is searched again, checked
        self.optimistic = bool(optimistic)
        if self.incumbent_finder is None and primal:
            self.incumbent_finder = primal_incumbent

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why ``bab`` cannot take ``problem``, or None: besides the capabilities (box or clamped
        real latents; relu, leaky_relu, identity), p must be inf, 1 or an integer (any p for
        exact inversion), and an integer when the threshold is given as delta^p."""
        p = problem.p
        if problem.threshold_pow is not None and (math.isinf(p) or not p.is_integer()):
            return "backend 'bab' needs an integer p with a threshold given as delta^p"
        if not (problem.is_exact_inversion or math.isinf(p) or p.is_integer()):
            return (
                f"backend 'bab' handles p = inf, 1 or an integer >= 2, not p={norm_label(p)} "
                "(exact inversion works for any p)"
            )
        return super().unsupported_reason(problem)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Decide (or, in optimize mode, bracket the distance): *yes* with a witness re-checked
        exactly, *no* only with a proof that passed :mod:`geninv.proofcheck` in exact
        rationals (written to ``proof`` when given), else *unknown* with the reason."""
        if self.mode == "optimize":
            from geninv.solvers.bab.optimize import optimize

            return optimize(self, problem, time_limit)
        start = time.perf_counter()
        if problem.threshold_pow is not None:
            sol, doc = self._decide_pow(problem, time_limit)
        else:
            sol, doc = self.decide(problem, time_limit)
        if sol.status is Status.NO and self.proof_path and sol.proof is not None:
            sol.proof["file"] = str(self.proof_path)
            sol.proof["bytes"] = write_atomic(self.proof_path, doc)
        sol.stats["seconds_total"] = round(time.perf_counter() - start, 4)
        return sol

    def _decide_pow(
        self, problem: InversionProblem, time_limit: float | None
    ) -> tuple[Solution, dict[str, Any]]:
        """A threshold given as delta^p (integer p; delta irrational, e.g. the lifted
        reductions): decide the ball of a rational radius ``delta_up >= delta`` (its
        p-th power checked against delta^p exactly).  Its *no* refutes the instance;
        its witness is re-checked against the instance and otherwise ends *unknown*
        (a point between the two spheres)."""
        assert problem.threshold_pow is not None
        up = threshold_upper(problem.threshold_pow, int(problem.p))
        relaxed = InversionProblem(
            problem.network,
            problem.target,
            problem.domain,
            p=problem.p,
            threshold=up,
            relation="<=",
            input_box=problem.input_box,
        )
        sol, doc = self.decide(relaxed, time_limit, original=problem, threshold_up=up)
        if sol.status is Status.YES:
            assert sol.z is not None
            if not problem.exact_check(sol.z).meets:
                return Solution(
                    Status.UNKNOWN,
                    self.name,
                    reason=f"a witness within the rational radius {float(up)!r} just above "
                    "delta does not meet delta^p itself",
                    stats=sol.stats,
                ), {}
        return sol, doc

    def _search(
        self,
        problem: InversionProblem,
        box: list[tuple[Fraction, Fraction]],
        root: str,
        time_limit: float | None,
        optimistic: bool,
    ) -> SearchResult:
        """One search of the tree from ``box`` (a fresh setup and certificate)."""
        setup, l1 = make_setup(problem)
        cert = Certificate(
            n=problem.n,
            q=problem.network.n_outputs,
            problem={
                "p": norm_label(problem.p),
                "threshold": rat(problem.threshold),
                "relation": problem.relation,
                "domain": problem.domain.kind,
            },
            root=root,
            l1_bound=l1 if setup.mode == "lp" else None,
        )
        search = Search(
            problem,
            setup,
            cert,
            # the independent check of a finished tree redoes the exact leaf work
            # (about the search's own exact checks): keep time for it
            time_limit=time_limit,
            keep_for_check=True,
            max_nodes=self.max_nodes,
            incumbent_finder=self.incumbent_finder,
            lemmas=self.lemmas,
            obbt_depth=self.obbt_depth,
            optimistic=optimistic,
            lemma_layers=self.lemma_layers,
        )
        return search.run(box)

    def decide(
        self,
        problem: InversionProblem,
        time_limit: float | None,
        *,
        original: InversionProblem | None = None,
        threshold_up: Fraction | None = None,
    ) -> tuple[Solution, dict[str, Any]]:
        """Decide ``problem``; a *no* comes with its proof document, already checked."""
        if problem.domain.kind == "box":
            assert problem.domain.lower is not None and problem.domain.upper is not None
            box = list(zip(problem.domain.lower, problem.domain.upper, strict=True))
            root = "domain box"
        elif problem.input_box is not None and (
            verify_clamp_box(problem, list(zip(*problem.input_box, strict=True))) is None
        ):
            box = list(zip(*problem.input_box, strict=True))
            root = "input box"
        else:  # real latents without a (verified) box: phases only, free-column Farkas leaves
            from geninv.solvers.bab.freesearch import decide_free

            return decide_free(
                self, problem, time_limit, original=original, threshold_up=threshold_up
            )
        clock = Budget(time_limit)
        start = clock.start
        optimistic, retried = self.optimistic, ""
        while True:
            left = clock.time_limit()
            res = self._search(problem, box, root, left, optimistic)
            stats: dict[str, Any] = dict(res.stats)
            if res.status == "yes":
                assert res.z is not None
                return Solution(Status.YES, self.name, z=res.z, stats=stats), {}
            if res.status == "unknown":
                return Solution(Status.UNKNOWN, self.name, reason=res.reason, stats=stats), {}
            assert res.certificate is not None
            doc = res.certificate.to_json()
            if threshold_up is not None:
                doc["threshold_up"] = rat(threshold_up)
            t0 = time.perf_counter()
            try:
                report = check_certificate(original or problem, doc)
            except ProofRejected as exc:
                if optimistic and stats.get("unchecked_leaf"):
                    # the root's unchecked lemmas or leaf failed: search again, every
                    # round checked as it is proposed
                    optimistic = False
                    retried = (
                        f"optimistic root proof rejected after "
                        f"{time.perf_counter() - start:.2f} s ({exc}); searched again"
                    )
                    continue
                return Solution(
                    Status.UNKNOWN,
                    self.name,
                    reason=f"the branch-and-bound proof failed the independent check: {exc}",
                    stats=stats,
                ), {}
            break
        if retried:
            stats["optimistic_retry"] = retried
        stats["check_seconds_total"] = round(time.perf_counter() - t0, 4)
        proof = checked_proof(report, "refutes '<=' (which also refutes '<')")
        return Solution(Status.NO, self.name, proof=proof, stats=stats), doc
