"""Certified l_p bounds (p < inf) through a last sigmoid / tanh layer by piecewise-linear
lower bounds of each output's error (issue 17, item 5; version-2 ``geninv-smooth-box``).

Oracles: the line check against a dense evaluation of f in 60-digit mpmath on many
random intervals (a line the dense evaluation finds above |f - x| must be rejected;
the producer's lines pass and are below it); certified bounds against distances
actually attained (a fine grid over the latent box plus Nelder-Mead refinement:
upper bounds on the minimum); a separable identity-then-f network whose minimum is
in closed form; tampered certificates, each kind.
"""

from __future__ import annotations

import copy
import math
import random
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest
from scipy.optimize import minimize

from geninv.exact_smooth import SMOOTH_RANGE
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.proofcheck_lines import check_terms
from geninv.proofcheck_smooth import ProofRejected, check_smooth_certificate
from geninv.proofrows import MalformedProof
from geninv.smooth_bounds import decide_smooth, smooth_lower_bound
from geninv.smooth_envelope import output_terms

mpmath.mp.dps = 60
BOX = 2.0


def _mf(kind: str, u: Any) -> Any:
    return 1 / (1 + mpmath.exp(-u)) if kind == "sigmoid" else mpmath.tanh(u)


def _dense_excess(
    kind: str, x: Fraction, lo: Fraction, hi: Fraction, terms: list[tuple[Fraction, Fraction]]
) -> Any:
    """max over 250 points of [lo, hi] (and the terms' breakpoints inside) of
    g(u) - |f(u) - x|, in 60-digit arithmetic."""
    mx = mpmath.mpf(x.numerator) / x.denominator
    pts = [lo + (hi - lo) * Fraction(k, 249) for k in range(250)]
    pts += [-g / w for w, g in terms if w != 0 and lo <= -g / w <= hi]
    worst = mpmath.mpf("-inf")
    for p in pts:
        u = mpmath.mpf(p.numerator) / p.denominator
        g = sum(
            (
                max(
                    mpmath.mpf(0),
                    (mpmath.mpf(w.numerator) / w.denominator) * u
                    + mpmath.mpf(c.numerator) / c.denominator,
                )
                for w, c in terms
            ),
            mpmath.mpf(0),
        )
        worst = max(worst, g - abs(_mf(kind, u) - mx))
    return worst


def _cases(seed: int, count: int) -> list[tuple[str, Fraction, Fraction, Fraction]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = ("sigmoid", "tanh")[i % 2]
        a, b = SMOOTH_RANGE[kind]
        x = rng.choice([a, b, rng.uniform(a, b), rng.uniform(a, b), b + 0.3, 1e-12, b - 1e-12])
        lo = rng.uniform(-14, 6)
        hi = lo + rng.choice([rng.expovariate(0.3), rng.uniform(0, 0.01), 40.0])
        out.append((kind, Fraction(x), Fraction(lo), Fraction(hi)))
    return out


def test_producer_lines_are_below_the_error_by_dense_evaluation() -> None:
    """The lines the producer picks pass the exact check and lie below |f - x| at every
    dense point; where the error is not tiny they get close to it somewhere."""
    for kind, x, lo, hi in _cases(0, 60):
        terms = output_terms(kind, x, lo, hi)
        assert check_terms(kind, x, lo, hi, terms) is None
        assert _dense_excess(kind, x, lo, hi, terms) <= 0, (kind, x, lo, hi)


def test_lines_nudged_above_the_error_are_rejected() -> None:
    """Soundness of the check against the dense evaluation: every term set it accepts
    is below |f - x| at every dense point; raising the producer's lines (their biases
    by a little, their slopes by a factor) so the dense evaluation finds them above
    the error, the check rejects them."""
    rejected = 0
    for kind, x, lo, hi in _cases(1, 28):
        terms = output_terms(kind, x, lo, hi)
        if not terms:
            continue
        for bump in (Fraction(1, 10**6), Fraction(1, 100)):
            for how in ("bias", "slope"):
                bad = [
                    (w, g + bump) if how == "bias" else (w * (1 + bump), g * (1 + bump))
                    for w, g in terms
                ]
                verdict = check_terms(kind, x, lo, hi, bad)
                excess = _dense_excess(kind, x, lo, hi, bad)
                if excess > 0:
                    assert verdict is not None, (kind, x, lo, hi, how, bump)
                    rejected += 1
                if verdict is None:
                    assert excess <= 0
    assert rejected >= 28


def test_random_lines_are_decided_soundly() -> None:
    """Random ReLU terms (not the producer's): whenever the dense evaluation finds one
    above the error, the check says no; tangents of the convex part taken from mpmath
    and lowered by 1e-9 are accepted (the check is not only sound but tight)."""
    rng = random.Random(7)
    accepted = 0
    for i in range(80):
        kind = ("sigmoid", "tanh")[i % 2]
        a, b = SMOOTH_RANGE[kind]
        x = Fraction(rng.choice([a, rng.uniform(a, b)]))
        lo = Fraction(rng.uniform(-8, 0))
        hi = lo + Fraction(rng.uniform(0.1, 8))
        # a tangent of f - x at t in the convex part (t <= 0), right of f^-1(x)
        t = Fraction(rng.uniform(float(lo), min(float(hi), 0.0)))
        mt = mpmath.mpf(t.numerator) / t.denominator
        ft = _mf(kind, mt)
        if ft <= mpmath.mpf(x.numerator) / x.denominator or float(hi) > 0:
            w = Fraction(rng.uniform(0.01, 1.0)) * (1 if rng.random() < 0.5 else -1)
            g = Fraction(rng.uniform(-1, 1))
            terms = [(w, g)]
        else:
            slope = mpmath.diff(lambda u, k=kind: _mf(k, u), mt)
            val = ft - mpmath.mpf(x.numerator) / x.denominator
            w = Fraction(float(slope))
            g = Fraction(float(val - slope * mt)) - Fraction(1, 10**9)
            terms = [(w, g)]
            if _dense_excess(kind, x, lo, hi, terms) < -(mpmath.mpf(10) ** -12):
                assert check_terms(kind, x, lo, hi, terms) is None
                accepted += 1
        if _dense_excess(kind, x, lo, hi, terms) > 0:
            assert check_terms(kind, x, lo, hi, terms) is not None
    assert accepted >= 5


def test_a_chord_at_a_tie_is_decided_exactly() -> None:
    """On [0, 1] with x = 1/2, sigmoid - 1/2 is concave and 0 at 0: the chord
    relu(c u) is valid for c just below f(1) - 1/2 and not just above (both 1e-12
    away), and the tangent at 0 (c = f'(0) = 1/4 exactly) lies above the function."""
    c = Fraction(1 / (1 + math.exp(-1)) - 0.5)
    half, zero, one = Fraction(1, 2), Fraction(0), Fraction(1)
    assert check_terms("sigmoid", half, zero, one, [(c * (1 - Fraction(1, 10**12)), zero)]) is None
    assert check_terms("sigmoid", half, zero, one, [(c * (1 + Fraction(1, 10**12)), zero)])
    assert check_terms("sigmoid", half, zero, one, [(Fraction(1, 4), zero)])
    # the mirror for tanh around 0, on the decreasing side: relu(-c u) on [-1, 0]
    t = Fraction(math.tanh(1.0))
    assert check_terms("tanh", zero, -one, zero, [(-t * (1 - Fraction(1, 10**12)), zero)]) is None
    assert check_terms("tanh", zero, -one, zero, [(-t * (1 + Fraction(1, 10**12)), zero)])


# ---------------------------------------------------------------- certified bounds


def _net(seed: int, last: str, n: int, q: int, depth: int, scale: float = 1.0) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    widths = [n] + [6] * depth + [q]
    ws = [
        rng.normal(size=(widths[k + 1], widths[k])) * (1.5 if k == depth else 1.0)
        for k in range(depth + 1)
    ]
    ws[-1] = ws[-1] * scale
    bs = [rng.normal(size=widths[k + 1]) * 0.5 for k in range(depth + 1)]
    return ReLUNetwork(ws, bs, activations=["relu"] * depth + [last])


def _oracle(net: ReLUNetwork, x: np.ndarray, p: float) -> float:
    """Least distance found by a grid over [-BOX, BOX]^n and Nelder-Mead from its best
    points: attained, so >= the true minimum."""
    n = net.n_inputs
    axis = np.linspace(-BOX, BOX, 41 if n == 2 else 15)
    grid = np.stack(np.meshgrid(*[axis] * n), -1).reshape(-1, n)

    def dist(z: np.ndarray) -> np.ndarray:
        return np.asarray(np.linalg.norm(net.forward(z) - x, ord=p, axis=-1))

    d = dist(grid)
    best = float(d.min())
    for i in np.argsort(d)[:4]:
        res = minimize(
            lambda z: float(dist(np.clip(z, -BOX, BOX)[None, :])[0]),
            grid[i],
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 300},
        )
        best = min(best, float(dist(np.clip(res.x, -BOX, BOX)[None, :])[0]))
    return best


def _many_misses(
    seed: int, last: str, n: int, q: int, depth: int, eps: float
) -> tuple[ReLUNetwork, np.ndarray]:
    """A net and a target that misses G(z0) by about eps in every output."""
    net = _net(seed, last, n, q, depth)
    rng = np.random.default_rng([seed, 3])
    z0 = rng.uniform(-1, 1, size=n)
    a, b = SMOOTH_RANGE[last]
    x = net.forward(z0[None, :])[0] + eps * rng.choice([-1.0, 1.0], size=q)
    return net, np.clip(x, a, b)


def _prob(net: ReLUNetwork, x: Any, p: float) -> InversionProblem:
    n = net.n_inputs
    return InversionProblem(
        net, [float(v) for v in x], Domain.box([-BOX] * n, [BOX] * n), p=p, threshold=1
    )


CASES = [
    (seed, last, p, n, q, depth)
    for seed, (last, p, n, q, depth) in enumerate(
        [
            ("sigmoid", 1.0, 2, 6, 1),
            ("tanh", 1.0, 3, 4, 2),
            ("sigmoid", 2.0, 3, 9, 1),
            ("tanh", 2.0, 2, 12, 1),
            ("sigmoid", 3.0, 2, 5, 2),
            ("tanh", 3.0, 2, 3, 1),
        ]
    )
]


@pytest.mark.parametrize(("seed", "last", "p", "n", "q", "depth"), CASES)
def test_lines_bound_stays_below_attained_distances(
    seed: int, last: str, p: float, n: int, q: int, depth: int
) -> None:
    """Random small nets, p = 1, 2, 3: a radius just above an attained distance is never
    refuted, and a refuted radius (with its checked version-2 certificate) is below it."""
    net, x = _many_misses(seed, last, n, q, depth, 0.05)
    x[0] = SMOOTH_RANGE[last][seed % 2]  # a saturated pixel
    found = _oracle(net, x, p)
    prob = _prob(net, x, p)
    above = decide_smooth(prob, Fraction(found * (1 + 1e-6) + 1e-12), 10)
    assert above.status != "no"
    step = decide_smooth(prob, Fraction(found * 0.7), 10)
    if step.status == "no":
        assert step.doc is not None and step.doc["version"] in (1, 2)
        assert check_smooth_certificate(prob, step.doc).threshold < Fraction(found)


@pytest.mark.parametrize(("last", "p"), [("sigmoid", 2.0), ("tanh", 1.0)])
def test_many_small_misses_beat_the_linf_bound(last: str, p: float) -> None:
    """Every output misses by about 0.04: the l_inf-based bound stays near the l_inf
    distance while the sum over the 12 outputs gives a bound several times larger."""
    net, x = _many_misses(11, last, 2, 12, 1, 0.04)
    found = _oracle(net, x, p)
    prob = _prob(net, x, p)
    old = smooth_lower_bound(prob, found, 4.0, rel_gap=0.05, lines=False)
    new = smooth_lower_bound(prob, found, 4.0, rel_gap=0.05)
    assert new.doc is not None and new.doc["version"] == 2
    assert check_smooth_certificate(prob, new.doc).p == str(int(p))
    assert 0 < old.lower < new.lower <= Fraction(found)
    ratio = float(new.lower / old.lower)
    print(
        f"{last} l_{p:g}: best {found:.4f}  l_inf-based {float(old.lower):.4f}  "
        f"lines {float(new.lower):.4f}  ratio {ratio:.2f}"
    )
    assert ratio > 1.5


def _separable(b: list[float], last: str) -> ReLUNetwork:
    return ReLUNetwork([np.eye(len(b))], [np.array(b)], activations=[last])


@pytest.mark.parametrize("last", ["sigmoid", "tanh"])
def test_separable_minimum_in_closed_form(last: str) -> None:
    """G(z) = f(z + b) on [-2, 2]^3 is separable: min ||G(z) - x||_p is the l_p norm of
    the per-output distances to f([b_j - 2, b_j + 2]).  One output is met exactly at the
    inflection point u = 0 (a tie at 0), one saturated target (0 / -1), one beyond
    reach: the bound is below the minimum and above half of it."""
    a, b_ = SMOOTH_RANGE[last]
    b = [0.0, 3.0, -5.0]
    mid = (a + b_) / 2
    x = [mid, float(a), 0.99 if last == "sigmoid" else 0.98]
    net = _separable(b, last)
    f = (lambda u: 1 / (1 + math.exp(-u))) if last == "sigmoid" else math.tanh
    dists = [max(f(bj - 2) - xj, xj - f(bj + 2), 0.0) for bj, xj in zip(b, x, strict=True)]
    for p in (1.0, 2.0):
        exact = float(np.linalg.norm(dists, ord=p))
        prob = InversionProblem(net, x, Domain.box([-2] * 3, [2] * 3), p=p, threshold=1)
        assert decide_smooth(prob, Fraction(exact * (1 + 1e-9)), 10).status != "no"
        res = smooth_lower_bound(prob, exact * 1.01, 6.0, rel_gap=0.02)
        assert res.doc is not None
        assert exact / 2 < float(res.lower) <= exact


@pytest.mark.parametrize("last", ["sigmoid", "tanh"])
def test_huge_and_tiny_magnitudes(last: str) -> None:
    """Pre-activations in the thousands (saturated outputs) and targets 1e-12 from the
    range's ends: every refuted radius stays below an attained distance."""
    a, b = SMOOTH_RANGE[last]
    for scale, x_end in ((300.0, 1e-12), (1e-3, 1e-12)):
        net = _net(4, last, 2, 5, 1, scale=scale)
        x = np.array([a + x_end, b - x_end, a, b, (a + b) / 2])
        for p in (1.0, 2.0):
            found = _oracle(net, x, p)
            prob = _prob(net, x, p)
            assert decide_smooth(prob, Fraction(found * (1 + 1e-6) + 1e-12), 10).status != "no"
            res = smooth_lower_bound(prob, found, 1.5, rel_gap=0.1)
            assert res.lower <= Fraction(found)
            if res.doc is not None:
                check_smooth_certificate(prob, res.doc)


# ---------------------------------------------------------------- tampering


@pytest.fixture(scope="module")
def lines_doc() -> tuple[InversionProblem, dict[str, Any]]:
    net, x = _many_misses(11, "sigmoid", 2, 8, 1, 0.04)
    found = _oracle(net, x, 2.0)
    prob = _prob(net, x, 2.0)
    step = decide_smooth(prob, Fraction(found * 0.6), 20)
    assert step.status == "no" and step.doc is not None and step.doc["version"] == 2
    return prob, step.doc


def _rejects(prob: InversionProblem, doc: dict[str, Any], words: str) -> None:
    with pytest.raises((ProofRejected, MalformedProof)) as err:
        check_smooth_certificate(prob, doc)
    assert words in str(err.value), str(err.value)


def test_checker_accepts_the_producers_certificate(
    lines_doc: tuple[InversionProblem, dict[str, Any]],
) -> None:
    prob, doc = lines_doc
    rep = check_smooth_certificate(prob, doc)
    assert rep.p == "2" and rep.terms == len(doc["terms"]) and rep.nodes >= 1


def test_checker_rejects_a_line_above_the_error(
    lines_doc: tuple[InversionProblem, dict[str, Any]],
) -> None:
    prob, doc = lines_doc
    bad = copy.deepcopy(doc)
    j, w, g = bad["terms"][0]
    bad["terms"][0] = [j, w, str(Fraction(g) + Fraction(1, 10))]
    _rejects(prob, bad, "is not proved below")


def test_checker_rejects_a_changed_slope(
    lines_doc: tuple[InversionProblem, dict[str, Any]],
) -> None:
    """A smaller slope is still a valid line, but the inner problem is another one: its
    proof no longer fits; a larger one fails the line check."""
    prob, doc = lines_doc
    for factor, words in ((Fraction(1, 2), ""), (Fraction(3), "is not proved below")):
        bad = copy.deepcopy(doc)
        k = max(range(len(bad["terms"])), key=lambda i: abs(Fraction(bad["terms"][i][1])))
        j, w, g = bad["terms"][k]
        bad["terms"][k] = [j, str(Fraction(w) * factor), str(Fraction(g) * factor)]
        _rejects(prob, bad, words)


def test_checker_rejects_missing_rows_and_terms(
    lines_doc: tuple[InversionProblem, dict[str, Any]],
) -> None:
    prob, doc = lines_doc
    # a leaf's largest multiplier dropped: the combination no longer refutes it
    bad = copy.deepcopy(doc)
    leaf = next(nd for nd in bad["inner"]["nodes"] if nd.get("y"))
    name = max(leaf["y"], key=lambda k: Fraction(leaf["y"][k]))
    del leaf["y"][name]
    _rejects(prob, bad, "do not refute")
    # a term dropped: another inner problem, whose proof does not fit it
    bad = copy.deepcopy(doc)
    del bad["terms"][len(bad["terms"]) // 2]
    _rejects(prob, bad, "")
    # no terms list at all
    bad = copy.deepcopy(doc)
    del bad["terms"]
    _rejects(prob, bad, "'terms'")


def test_checker_rejects_another_p_or_outputs(
    lines_doc: tuple[InversionProblem, dict[str, Any]],
) -> None:
    prob, doc = lines_doc
    bad = copy.deepcopy(doc)
    bad["p"] = 1
    _rejects(prob, bad, "p = 1")
    inf = InversionProblem(prob.network, prob.target, prob.domain, p="inf", threshold=1)
    _rejects(inf, doc, "finite p")
    bad = copy.deepcopy(doc)
    bad["terms"].append([bad["coords"][0][0] + 100, "1", "0"])
    _rejects(prob, bad, "not one of the kept outputs")
    # an inverse side moved inward: the enclosure test fails
    bad = copy.deepcopy(doc)
    k = next(i for i, c in enumerate(bad["coords"]) if c[4] == "inverse")
    bad["coords"][k][3] = str(Fraction(bad["coords"][k][3]) - Fraction(1, 10))
    _rejects(prob, bad, "is not proved")


def test_old_box_certificates_still_check_for_finite_p(
    lines_doc: tuple[InversionProblem, dict[str, Any]],
) -> None:
    """The l_inf box (version 1) still refutes an l_p ball for every p >= 1: made with
    ``lines=False`` for the p = 2 instance, checked, reported for every p (p None); its
    threshold is below the version-2 one at the same instance (the sum helps)."""
    prob, doc = lines_doc
    tau = Fraction(doc["threshold"]) / 3
    step = decide_smooth(prob, tau, 20, lines=False)
    assert step.status == "no" and step.doc is not None and step.doc["version"] == 1
    rep = check_smooth_certificate(prob, step.doc)
    assert rep.p is None and rep.threshold == tau
    # a version-1 certificate with a scale stretched past its interval is still refused
    bad = copy.deepcopy(step.doc)
    assert "coords" in bad
    bad["coords"][0][5] = str(Fraction(bad["coords"][0][5]) * 4)
    _rejects(prob, bad, "does not cover")
