"""Certified bounds through a last sigmoid / tanh layer (issue 17, item 5).

Oracles: a dense grid over a 2-D latent box plus many-restart local descent give
distances actually attained (upper bounds on the minimum), so a certified lower
bound above one of them is a bug; a one-layer identity-then-sigmoid net has its
minimum in closed form, where the l_inf box must be exact.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize

from geninv.exact_smooth import smooth_enclosure, smooth_inverse
from geninv.gap import certified_gap
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.proofcheck_smooth import ProofRejected, check_smooth_certificate
from geninv.smooth_bounds import box_coords, decide_smooth, smooth_lower_bound, why_not

BOX = 2.0
GRID = 161


def _net(seed: int, hidden: str, last: str, n: int = 2, width: int = 5, q: int = 4) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=(width, n)), rng.normal(size=(q, width)) * 1.5]
    bs = [rng.normal(size=width) * 0.5, rng.normal(size=q) * 0.5]
    return ReLUNetwork(ws, bs, activations=[hidden, last])


def _target(seed: int, last: str, q: int = 4) -> list[float]:
    rng = np.random.default_rng([seed, 1])
    lo, hi = (0.0, 1.0) if last == "sigmoid" else (-1.0, 1.0)
    x = rng.uniform(lo, hi, size=q)
    x[0] = lo if seed % 2 else hi  # a saturated pixel (exact 0/1, or -1/+1)
    return [float(v) for v in x]


def _norm(d: np.ndarray, p: float) -> np.ndarray:
    return np.asarray(np.linalg.norm(d, ord=p, axis=-1))


def _oracle(net: ReLUNetwork, x: list[float], p: float) -> float:
    """The least distance found by a dense grid and local descent from its best points:
    a distance actually attained, so >= the true minimum."""
    axis = np.linspace(-BOX, BOX, GRID)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    dist = _norm(net.forward(grid) - np.array(x), p)
    best = float(dist.min())
    for i in np.argsort(dist)[:8]:
        res = minimize(
            lambda z: float(_norm(net.forward(z[None, :])[0] - np.array(x), p)),
            grid[i],
            method="Nelder-Mead",
            bounds=[(-BOX, BOX)] * 2,
            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 400},
        )
        z = np.clip(res.x, -BOX, BOX)
        best = min(best, float(_norm(net.forward(z[None, :])[0] - np.array(x), p)))
    return best


def _problem(
    net: ReLUNetwork, x: list[float], p: float | str, tau: float = 0.1
) -> InversionProblem:
    n = net.n_inputs
    return InversionProblem(net, x, Domain.box([-BOX] * n, [BOX] * n), p=p, threshold=tau)


CASES = [
    (seed, hidden, last)
    for seed, (hidden, last) in enumerate(
        [
            ("relu", "sigmoid"),
            ("relu", "tanh"),
            ("leaky_relu:0.1", "sigmoid"),
            ("leaky_relu:0.1", "tanh"),
            ("identity", "sigmoid"),
            ("identity", "tanh"),
        ]
    )
]


@pytest.mark.parametrize(("seed", "hidden", "last"), CASES)
def test_no_refutation_above_an_attained_distance(seed: int, hidden: str, last: str) -> None:
    """The certificate refutes the l_inf ball, hence every l_p ball (|d_j| <= ||d||_p):
    its radius must stay below the distance attained in l_inf, l_1 and l_2 alike."""
    net = _net(seed, hidden, last)
    x = _target(seed, last)
    found = {p: _oracle(net, x, p) for p in (math.inf, 1.0, 2.0)}
    prob = _problem(net, x, math.inf)
    res = smooth_lower_bound(prob, found[math.inf], 8.0, rel_gap=0.05)
    assert res.doc is not None and res.lower > 0
    assert check_smooth_certificate(prob, res.doc).threshold == res.lower
    for p, dist in found.items():
        assert res.lower <= Fraction(dist)
        # just above a distance that is attained: never refuted
        above = decide_smooth(_problem(net, x, p), Fraction(dist * (1 + 1e-6) + 1e-12), 20)
        assert above.status != "no"


@pytest.mark.parametrize("last", ["sigmoid", "tanh"])
def test_hidden_smooth_layers_get_a_reason_not_a_bound(last: str) -> None:
    net = _net(0, "sigmoid", last)
    prob = _problem(net, _target(0, last), math.inf)
    assert why_not(prob) is not None
    rep = certified_gap(prob, methods=("adam",), time_limit=2)
    assert rep.lower_bound is None or not rep.lower_bound_certified


def _identity_sigmoid(b: list[float]) -> ReLUNetwork:
    return ReLUNetwork([np.eye(len(b))], [np.array(b)], activations=["sigmoid"])


def test_linf_box_is_exact_on_identity_then_sigmoid() -> None:
    """G(z) = sigmoid(z + b) on [-2, 2]^3: min ||G(z) - x||_inf is in closed form, max_j
    of the distance from x_j to sigmoid([b_j - 2, b_j + 2]); the box is refuted just
    below it and met just above it."""
    b = [0.3, -1.0, 2.5]
    x = [0.99, 0.5, 0.2]  # above, inside and below the attainable ranges
    net = _identity_sigmoid(b)
    sig = [(1 / (1 + math.exp(-(v - BOX))), 1 / (1 + math.exp(-(v + BOX)))) for v in b]
    exact = max(max(lo - t, t - hi, 0.0) for (lo, hi), t in zip(sig, x, strict=True))
    prob = _problem(net, x, math.inf)
    assert decide_smooth(prob, Fraction(exact * (1 - 1e-9)), 20).status == "no"
    assert decide_smooth(prob, Fraction(exact * (1 + 1e-9)), 20).status == "yes"
    res = smooth_lower_bound(prob, exact * 1.01, 20.0, rel_gap=1e-3)
    assert exact * (1 - 2e-3) <= float(res.lower) <= exact


@pytest.mark.parametrize("last", ["sigmoid", "tanh"])
def test_saturated_targets_and_radii_beyond_the_range(last: str) -> None:
    lo, hi = (0, 1) if last == "sigmoid" else (-1, 1)
    net = _net(3, "relu", last, q=3)
    x = [float(lo), float(hi), (lo + hi) / 2]
    prob = _problem(net, x, math.inf)
    coords = box_coords(prob, Fraction(1, 10))
    assert isinstance(coords, list)
    by = {c[0]: (c[2], c[4]) for c in coords}
    assert by[0] == ("range", "inverse")  # x = lo: only u <= f^-1(lo + tau)
    assert by[1] == ("inverse", "range")  # x = hi: only u >= f^-1(hi - tau)
    assert by[2] == ("inverse", "inverse")
    # a radius covering the whole range drops the output; every output dropped: no bound
    assert box_coords(prob, Fraction(hi - lo) * 2) == []
    assert decide_smooth(prob, Fraction(hi - lo) * 2, 5).status == "yes"
    # a target beyond the range by more than tau: refuted outright, checked
    far = _problem(net, [hi + 0.5, hi, lo], math.inf)
    step = decide_smooth(far, Fraction(1, 4), 5)
    assert step.status == "no" and step.doc is not None and step.doc["empty"] == 0
    assert check_smooth_certificate(far, step.doc).empty == 0
    # ... and not refuted once tau reaches it
    assert box_coords(far, Fraction(3, 5)) != 0


def _no_doc(last: str) -> tuple[InversionProblem, dict[str, Any]]:
    net = _net(5, "relu", last)
    x = _target(4, last)
    found = _oracle(net, x, math.inf)
    prob = _problem(net, x, math.inf)
    step = decide_smooth(prob, Fraction(found / 2), 20)
    assert step.status == "no" and step.doc is not None
    return prob, step.doc


@pytest.mark.parametrize("last", ["sigmoid", "tanh"])
def test_checker_rejects_a_logit_bound_moved_inward_by_one_ulp(last: str) -> None:
    prob, doc = _no_doc(last)
    check_smooth_certificate(prob, doc)
    coords = doc["coords"]
    assert isinstance(coords, list)
    k = next(i for i, c in enumerate(coords) if c[2] == "inverse")
    lo = Fraction(coords[k][1])
    inward = Fraction(math.nextafter(float(lo), math.inf))
    j = coords[k][0]
    v = prob.target[j] - Fraction(doc["threshold"])
    assert smooth_enclosure(last, inward)[0] > v  # one ulp inward is provably unsound
    bad = copy.deepcopy(doc)
    bad["coords"][k][1] = f"{inward.numerator}/{inward.denominator}"
    with pytest.raises(ProofRejected):
        check_smooth_certificate(prob, bad)
    # the inner proof is bound to the coords: another scale is another inner problem
    k2 = next(i for i, c in enumerate(coords) if c[4] == "inverse")
    hi = Fraction(coords[k2][3])
    worse = copy.deepcopy(doc)
    worse["coords"][k2][3] = str(Fraction(math.nextafter(float(hi), math.inf)))
    worse["coords"][k2][5] = str(Fraction(coords[k2][5]) / 2)
    # a different scale changes the inner problem: its proof no longer fits
    with pytest.raises(ProofRejected):
        check_smooth_certificate(prob, worse)


@pytest.mark.parametrize("last", ["sigmoid", "tanh"])
def test_checker_rejects_a_range_side_above_the_interval_bound(last: str) -> None:
    prob, doc = _no_doc(last)
    coords = doc["coords"]
    assert isinstance(coords, list)
    sides = [(i, 1) for i, c in enumerate(coords) if c[2] == "range"]
    sides += [(i, 3) for i, c in enumerate(coords) if c[4] == "range"]
    assert sides  # _target saturates output 0
    i, pos = sides[0]
    bad = copy.deepcopy(doc)
    moved = Fraction(coords[i][pos]) + (100 if pos == 1 else -100)
    bad["coords"][i][pos] = str(moved)
    with pytest.raises(ProofRejected):
        check_smooth_certificate(prob, bad)


def test_inverse_is_directed_and_sharp() -> None:
    for kind, vals in (
        ("sigmoid", [Fraction(1, 3), Fraction(1, 10**12), 1 - Fraction(1, 2**60)]),
        ("tanh", [Fraction(-1, 2), Fraction(1, 10**12), Fraction(999, 1000)]),
    ):
        for v in vals:
            down = smooth_inverse(kind, v, up=False)
            up = smooth_inverse(kind, v, up=True)
            assert smooth_enclosure(kind, down)[1] <= v <= smooth_enclosure(kind, up)[0]
            assert down < up
            nxt = Fraction(math.nextafter(float(down), math.inf))
            assert smooth_enclosure(kind, nxt)[0] > v  # the next float is on the other side


def test_certify_reports_a_checked_bound_for_a_sigmoid_generator() -> None:
    net = _net(7, "relu", "sigmoid")
    x = _target(7, "sigmoid")
    for p in (math.inf, 2.0):
        rep = certified_gap(_problem(net, x, p), methods=("adam",), time_limit=10)
        assert rep.lower_bound_certified and rep.lower_bound is not None
        assert rep.best_distance is not None and 0 < rep.lower_bound <= rep.best_distance
        assert rep.lower_bound <= _oracle(net, x, p)


def test_certify_when_the_target_is_in_the_range() -> None:
    """A target G(z0) of a sigmoid generator: the best point is at float-rounding distance,
    so the bound is 0 with the gap that distance (the bisection from a ~1e-15 distance
    asserted on a radius rounded to 0 and the command died with a traceback)."""
    rng = np.random.default_rng(11)
    net = ReLUNetwork(
        [rng.normal(size=(6, 3)), rng.normal(size=(8, 6))],
        [rng.normal(size=6), rng.normal(size=8)],
        activations=["relu", "sigmoid"],
    )
    x = net.forward(np.array([[0.25, -0.5, 0.125]]))[0]
    for p in (2.0, math.inf):
        prob = InversionProblem(
            net, [float(v) for v in x], Domain.box([-1] * 3, [1] * 3), p=p, threshold=1e-3
        )
        rep = certified_gap(prob, time_limit=20, seed=0)
        assert rep.best_distance is not None and rep.best_distance <= 1e-12
        assert rep.lower_bound == 0.0 and rep.lower_bound_certified
        assert rep.gap == rep.best_distance
