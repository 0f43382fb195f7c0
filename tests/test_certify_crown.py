"""The certified l_2 bound of input splitting with linear bounds (few latents).

Oracle: a dense grid plus local descent gives distances actually attained; the
certified bound (checked exactly) must stay below them, and a proof whose cut
radius is shrunk below delta ||w|| must be rejected.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import minimize

from geninv.gap import certified_gap
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.proofcheck import ProofRejected, check_certificate
from geninv.solvers.bab.crown import _at, applies, crown_lower_bound

BOX = 2.0


def _problem(seed: int, hidden: str, last: str) -> InversionProblem:
    rng = np.random.default_rng([seed, 17])
    net = ReLUNetwork(
        [rng.normal(size=(6, 2)), rng.normal(size=(5, 6))],
        [rng.normal(size=6) * 0.5, rng.normal(size=5) * 0.5],
        activations=[hidden, last],
    )
    x = rng.normal(size=5)
    return InversionProblem(net, list(x), Domain.box([-BOX] * 2, [BOX] * 2), p=2, threshold=1)


def _attained(problem: InversionProblem) -> float:
    net, x = problem.network, problem.target_array()
    axis = np.linspace(-BOX, BOX, 201)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    dist = np.linalg.norm(net.forward(grid) - x, axis=1)
    best = float(dist.min())
    for i in np.argsort(dist)[:5]:
        res = minimize(
            lambda z: float(np.linalg.norm(net.forward(z[None, :])[0] - x)),
            grid[i],
            method="Nelder-Mead",
            bounds=[(-BOX, BOX)] * 2,
        )
        z = np.clip(res.x, -BOX, BOX)
        best = min(best, float(np.linalg.norm(net.forward(z[None, :])[0] - x)))
    return best


@pytest.mark.parametrize(
    ("seed", "hidden", "last"),
    [
        (0, "relu", "relu"),
        (1, "relu", "identity"),
        (2, "leaky_relu:0.2", "relu"),
        (3, "identity", "relu"),
    ],
)
def test_bound_is_checked_and_below_every_attained_distance(
    seed: int, hidden: str, last: str
) -> None:
    prob = _problem(seed, hidden, last)
    found = _attained(prob)
    res = crown_lower_bound(prob, found, 20.0, rel_gap=0.05)
    assert res.doc is not None and 0 < res.lower <= Fraction(found)
    assert res.lower >= Fraction(found) * Fraction(3, 4)  # and not far below it
    check_certificate(_at(prob, res.lower), res.doc)
    # a cut radius below delta ||w||_2: rejected
    bad = copy.deepcopy(res.doc)
    w = [Fraction(v) for v in bad["cuts"][0]["w"]]
    short = res.lower * Fraction(math.sqrt(float(sum(v * v for v in w)))) * Fraction(999, 1000)
    bad["cuts"][0]["r"] = str(short)
    with pytest.raises(ProofRejected):
        check_certificate(_at(prob, res.lower), bad)
    # the same proof does not refute a larger radius
    with pytest.raises(ProofRejected):
        check_certificate(_at(prob, res.lower * 2), res.doc)


def test_scope() -> None:
    prob = _problem(0, "relu", "sigmoid")
    assert applies(prob) is not None
    p_inf = InversionProblem(
        _problem(0, "relu", "relu").network, [0] * 5, Domain.box([-1] * 2, [1] * 2), p="inf"
    )
    assert applies(p_inf) is not None


def test_certify_uses_it_for_p2() -> None:
    prob = _problem(4, "relu", "relu")
    rep = certified_gap(prob, methods=("adam",), time_limit=20)
    assert rep.lower_bound_certified and rep.lower_bound is not None
    assert rep.best_distance is not None and rep.lower_bound <= rep.best_distance
    assert "input splitting" in rep.lower_bound_how
