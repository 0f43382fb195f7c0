"""The float re-check with a rigorous error bound (issue 17, item 4) against the exact path."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.exact import compare_lp_tuple
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.recheck import float_check, forward_enclosure, wants_float_check

ACTIVATIONS = ("relu", "identity", "leaky_relu:0.25", "sigmoid", "tanh")


def exact_meets(problem: InversionProblem, z: list[Fraction]) -> tuple[bool, bool]:
    """(decided, meets) of the exact path (forward_exact and compare_lp), no floats."""
    out = problem.network.forward_exact(z)
    diff = [o - t for o, t in zip(out, problem.target, strict=True)]
    decided, meets, *_ = compare_lp_tuple(
        diff, problem.p, problem.threshold, problem.relation, problem.threshold_pow
    )
    return bool(decided), bool(meets)


def random_net(rng: np.random.Generator, scale_exp: int, acts: list[str]) -> ReLUNetwork:
    widths = [int(rng.integers(1, 6)) for _ in range(len(acts) + 1)]
    ws = [
        rng.normal(size=(widths[i + 1], widths[i])) * 2.0 ** int(rng.integers(-3, 3))
        for i in range(len(acts))
    ]
    ws[0] = ws[0] * 2.0**scale_exp
    bs = [rng.normal(size=widths[i + 1]) for i in range(len(acts))]
    return ReLUNetwork(ws, bs, activations=acts)


@settings(derandomize=True, max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale_exp=st.sampled_from([-60, -20, -1, 0, 1, 8, 20]),
    depth=st.integers(1, 3),
    p=st.sampled_from([1.0, 2.0, math.inf]),
    factor=st.sampled_from([0.5, 0.999999, 1.0, 1.000001, 2.0]),
    strict=st.booleans(),
)
def test_float_check_agrees_with_exact(
    seed: int, scale_exp: int, depth: int, p: float, factor: float, strict: bool
) -> None:
    rng = np.random.default_rng(seed)
    acts = [str(rng.choice(ACTIVATIONS)) for _ in range(depth)]
    net = random_net(rng, scale_exp, acts)
    z = [
        Fraction(float(v)) for v in rng.normal(size=net.n_inputs) * 2.0 ** int(rng.integers(-5, 5))
    ]
    target = [float(v) for v in rng.normal(size=net.n_outputs)]
    dist = float(np.linalg.norm(net.forward(np.array([float(v) for v in z])) - target, ord=p))
    delta = Fraction(dist) * Fraction(factor)
    if delta == 0:
        delta = Fraction(1, 2**40)
    problem = InversionProblem(
        net, target, Domain("real"), p=p, threshold=delta, relation="<" if strict else "<="
    )
    verdict = float_check(problem, z)
    decided, meets = exact_meets(problem, z)
    if verdict is not None and decided:
        assert verdict.meets == meets, (acts, scale_exp, p, factor, verdict)
        assert Fraction(verdict.lower) <= Fraction(verdict.upper)
    if factor in (0.5, 2.0) and scale_exp <= 8:  # far from the threshold: the floats decide
        assert verdict is not None
    # exact_check itself (float first where it applies) gives the exact path's answer
    chk = problem.exact_check(z)
    if chk.decided and decided:
        assert chk.meets == meets


def _tie_problem(
    p: float, act: str, strict: bool, scale: float
) -> tuple[InversionProblem, list[Fraction]]:
    """G(z) = act(W z + b) with outputs exactly (3, 4) * scale away from the target."""
    w = np.array([[0.5, 0.25], [0.125, 1.5]]) * scale
    b = np.array([0.75, -0.5]) * scale
    net = ReLUNetwork([w], [b], activations=[act])
    z = [Fraction(1), Fraction(2)]
    out = net.forward_exact(z)
    target = [out[0] - 3 * Fraction(scale), out[1] + 4 * Fraction(scale)]
    delta = {1.0: 7, 2.0: 5, math.inf: 4}[p] * Fraction(scale)
    problem = InversionProblem(
        net, target, Domain("real"), p=p, threshold=delta, relation="<" if strict else "<="
    )
    return problem, z


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("scale", [2.0**-40, 1.0, 2.0**40])
def test_exact_tie_falls_back(p: float, strict: bool, scale: float) -> None:
    """Distance exactly delta: the bound cannot decide, the exact path answers."""
    problem, z = _tie_problem(p, "identity", strict, scale)
    assert float_check(problem, z) is None
    chk = problem.exact_check(z)
    assert chk.decided and chk.meets == (not strict)
    assert chk.method.startswith("exact")


def test_sigmoid_tie_within_the_bound_falls_back() -> None:
    """A sigmoid network with delta equal to the float distance: undecidable from floats."""
    net = ReLUNetwork([np.array([[1.0, -2.0]])], [np.array([0.5])], activations=["sigmoid"])
    z = [Fraction(1, 3).limit_denominator(1) + Fraction(1, 8), Fraction(1, 4)]
    d = float(net.forward(np.array([float(v) for v in z]))[0]) - 0.25
    problem = InversionProblem(net, [0.25], Domain("real"), p=2, threshold=abs(d))
    assert float_check(problem, z) is None
    assert wants_float_check(net) and problem.exact_check(z).method.startswith("exact")


def test_enclosure_contains_the_exact_output() -> None:
    rng = np.random.default_rng(5)
    for act in ACTIVATIONS:
        for exp in (-50, 0, 30):
            net = random_net(rng, exp, [act, act])
            z = rng.normal(size=net.n_inputs)
            enc = forward_enclosure(net, z, np.zeros_like(z))
            assert enc is not None
            exact = net.forward_exact([Fraction(float(v)) for v in z])
            for o, e, x in zip(enc.out, enc.err, exact, strict=True):
                assert abs(Fraction(float(o)) - x) <= Fraction(float(e)), (act, exp)


def test_outside_scope_returns_none() -> None:
    net = ReLUNetwork([np.array([[1.0]])], [np.array([0.0])], activations=["sigmoid"])
    problem = InversionProblem(net, [0.5], Domain("real"), p=3, threshold=0.1)
    assert float_check(problem, [Fraction(0)]) is None  # p = 3: exact path
    big = InversionProblem(net, [0.5], Domain("real"), p=2, threshold=0.1)
    assert float_check(big, [Fraction(10**400)]) is None  # z beyond float64
