"""The MIQP backend (SCIP) for integer p >= 2 against enumeration and dense sampling.

* binary/sign latents, p = 2 and 3: thresholds at, just above and just below
  the true minimum (enumeration in optimize mode); the decision must agree with
  enumeration whenever it is not ``unknown``, and ``unknown`` is rare;
* a box domain against dense sampling;
* refusals (p = 1, p = inf, unbounded real latents) and time limits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from geninv.errors import UnsupportedError
from geninv.network import Activation, ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.solvers.base import BASIS_FLOAT, REGISTRY, TRUSTED, get_backend, solve

get_backend("enumerate")  # loads the built-in backends
BUILTIN_MIQP = "miqp" in REGISTRY

from geninv.solvers.miqp import NORM_MESSAGE, MiqpBackend  # noqa: E402  (registers it)

if not BUILTIN_MIQP:
    # keep it registered only while these tests run (see tests/test_milp.py)
    REGISTRY.pop("miqp", None)


@pytest.fixture(autouse=True, scope="module")
def miqp_registered() -> Iterator[None]:
    if not BUILTIN_MIQP:
        REGISTRY["miqp"] = MiqpBackend
    yield
    if not BUILTIN_MIQP:
        REGISTRY.pop("miqp", None)


def random_network(rng: np.random.Generator, n: int, kind: str, max_width: int = 5) -> ReLUNetwork:
    depth = int(rng.integers(1, 3))
    weights, biases = [], []
    prev = n
    for _ in range(depth):
        m = int(rng.integers(1, max_width + 1))
        if kind == "int":
            weights.append(rng.integers(-3, 4, (m, prev)).astype(np.float64))
            biases.append(rng.integers(-3, 4, m).astype(np.float64))
        else:
            weights.append(rng.normal(size=(m, prev)))
            biases.append(rng.normal(size=m))
        prev = m
    final: Activation = "relu" if rng.random() < 0.5 else "identity"
    return ReLUNetwork(weights, biases, final_activation=final)


def assert_sound(problem: InversionProblem, sol: Solution) -> None:
    if sol.status is Status.YES:
        assert sol.z is not None
        assert problem.exact_check(sol.z).meets
    elif sol.status is Status.NO:
        assert sol.proof is not None
        assert sol.proof["kind"] in ("MIQP infeasible", "MIQP lower bound")
        assert sol.proof["solver"].startswith("SCIP ")
        assert sol.proof["tolerance"] > 0


def miqp(problem: InversionProblem, mode: str = "decide", **kw: Any) -> Solution:
    """SCIP's own answer (``trust_solver``); a ``no`` is also solved without trust,
    which must give ``unknown`` saying the solver's infeasibility is unchecked."""
    sol = solve(problem, "miqp", options={"mode": mode}, trust_solver=True, **kw)
    assert_sound(problem, sol)
    if sol.status is Status.NO:
        assert sol.proof is not None
        assert sol.proof["basis"] == BASIS_FLOAT and sol.proof["trusted"] == TRUSTED
        untrusted = solve(problem, "miqp", options={"mode": mode}, **kw)
        assert untrusted.status is Status.UNKNOWN
        assert untrusted.reason is not None
        assert "says infeasible in floating point" in untrusted.reason
        assert "--trust-solver" in untrusted.reason
    return sol


def with_pow(problem: InversionProblem, threshold_pow: Fraction) -> InversionProblem:
    """The same problem with delta^p = threshold_pow (delta itself may be irrational)."""
    delta = Fraction(float(threshold_pow) ** (1.0 / problem.p))
    return InversionProblem(
        problem.network,
        problem.target,
        problem.domain,
        p=problem.p,
        threshold=delta if delta > 0 else Fraction(1, 10**30),
        threshold_pow=threshold_pow,
    )


def test_discrete_agrees_with_enumeration() -> None:
    rng = np.random.default_rng(2024)
    cases = 0
    unknown = 0
    for _ in range(12):
        n = int(rng.integers(1, 6))
        net = random_network(rng, n, str(rng.choice(["int", "float"])))
        dom = str(rng.choice(["binary", "sign"]))
        p = int(rng.choice([2, 3]))
        x = [Fraction(float(v)) for v in rng.normal(scale=2.0, size=net.n_outputs)]
        base = InversionProblem(net, x, Domain(dom), p=p, threshold=1)  # type: ignore[arg-type]
        opt = solve(base, "enumerate", options={"mode": "optimize"})
        dmin = opt.stats["min_distance"]
        mpow = base.exact_check(opt.stats["argmin"]).distance_pow
        assert mpow is not None
        assert float(mpow) == pytest.approx(dmin**p, rel=1e-9, abs=1e-12)
        pows = [mpow, mpow * Fraction(1001, 1000) + Fraction(1, 1000)]
        if mpow > 0:
            pows.append(mpow * Fraction(999, 1000))
        for tp in pows:
            prob = with_pow(base, tp)
            truth = solve(prob, "enumerate").status
            for mode in ("decide", "optimize"):
                got = miqp(prob, mode)
                cases += 1
                if got.status is Status.UNKNOWN:
                    unknown += 1
                else:
                    assert got.status is truth, (got.status, truth, got.reason, got.stats)
                if mode == "optimize":
                    assert got.stats["lower_bound"] <= dmin + 1e-6 * (1 + dmin)
    assert cases >= 30
    assert unknown <= 0.1 * cases, (unknown, cases)


def test_exact_inversion() -> None:
    rng = np.random.default_rng(7)
    net = random_network(rng, 4, "int")
    z0 = [0, 1, 1, 0]
    prob = InversionProblem(net, net.forward_exact(z0), Domain("binary"), p=2)
    assert miqp(prob).status is Status.YES


def test_box_against_sampling() -> None:
    rng = np.random.default_rng(11)
    for _ in range(3):
        net = random_network(rng, 2, "float", max_width=4)
        lo, hi = [Fraction(-1), Fraction(-1, 2)], [Fraction(1), Fraction(3, 2)]
        grid = np.array(list(itertools.product(np.linspace(-1, 1, 81), np.linspace(-0.5, 1.5, 81))))
        x = net.forward(np.array([0.3, 0.7])) + rng.normal(size=net.n_outputs)
        target = [Fraction(float(v)) for v in x]
        outs = np.array([net.forward(g) for g in grid])
        sampled = np.sqrt(((outs - x) ** 2).sum(axis=1))
        best = float(sampled.min())
        for delta in (best * 1.001 + 1e-6, best * 0.5, best * 0.999):
            prob = InversionProblem(net, target, Domain.box(lo, hi), p=2, threshold=Fraction(delta))
            sol = miqp(prob)
            if delta > best:
                assert sol.status is Status.YES, sol.reason
            if sol.status is Status.NO:
                assert not np.any(sampled <= delta)


def test_real_with_input_box() -> None:
    net = ReLUNetwork([[[1.0, -1.0]]], [[0.0]], final_activation="identity")
    prob = InversionProblem(
        net,
        [Fraction(3)],
        Domain("real"),
        p=2,
        threshold=Fraction(1, 2),
        input_box=([0, 0], [1, 1]),
    )
    assert miqp(prob).status is Status.NO
    unbounded = InversionProblem(net, [Fraction(3)], Domain("real"), p=2, threshold=1)
    with pytest.raises(UnsupportedError):
        solve(unbounded, "miqp")


@pytest.mark.parametrize("p", [1, math.inf])
def test_linear_norms_refused(p: float) -> None:
    net = ReLUNetwork([[[1.0]]], [[0.0]])
    prob = InversionProblem(net, [Fraction(1)], Domain("binary"), p=p, threshold=1)
    assert MiqpBackend.unsupported_reason(prob) == NORM_MESSAGE
    assert "--method milp" in NORM_MESSAGE
    with pytest.raises(UnsupportedError, match="milp"):
        solve(prob, "miqp")


def test_time_limit_gives_unknown_not_no() -> None:
    rng = np.random.default_rng(3)
    net = ReLUNetwork(
        [rng.normal(size=(30, 14)), rng.normal(size=(30, 30)), rng.normal(size=(6, 30))],
        [rng.normal(size=30), rng.normal(size=30), rng.normal(size=6)],
        final_activation="identity",
    )
    x = [Fraction(100)] * 6  # far from every output: the true answer is no
    prob = InversionProblem(net, x, Domain("sign"), p=3, threshold=Fraction(1, 10))
    for limit in (1e-9, 0.05):
        sol = miqp(prob, time_limit=limit)
        assert sol.status is not Status.YES
        if limit < 1e-3:
            assert sol.status is Status.UNKNOWN
            assert sol.reason is not None and "time limit" in sol.reason
