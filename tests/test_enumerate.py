"""The reference enumeration backend against a naive exact brute force."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import UnsupportedError, ValidationError
from geninv.network import Activation, ReLUNetwork
from geninv.problem import (
    NONINTEGER_P_DIGITS,
    Domain,
    ExactCheck,
    InversionProblem,
    Solution,
    Status,
)
from geninv.solvers.base import REGISTRY, get_backend, solve
from geninv.solvers.enumerate import (
    CHUNK_FLOATS,
    EnumerateBackend,
    chunk_rows,
    corners,
    enumerate_corners,
    error_bound,
)

NORMS = (1.0, 2.0, 3.0, 1.5, math.inf)
KINDS = ("int", "float", "frac", "quarter", "wild")


# ------------------------------------------------------------------ helpers
def _param(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> Any:
    if kind == "int":
        return rng.integers(-3, 4, shape).astype(np.float64)
    if kind == "float":
        return rng.normal(size=shape)
    if kind == "quarter":
        return rng.integers(-8, 9, shape) / 4.0
    if kind == "wild":  # large and small magnitudes, cancellation
        return rng.normal(size=shape) * 10.0 ** rng.integers(-6, 7, shape)
    assert kind == "frac"  # rationals floats cannot hold
    flat = [
        Fraction(int(rng.integers(-6, 7)), int(rng.choice([1, 3, 7, 10])))
        for _ in range(int(np.prod(shape)))
    ]
    if len(shape) == 1:
        return flat
    return [flat[i * shape[1] : (i + 1) * shape[1]] for i in range(shape[0])]


def random_network(rng: np.random.Generator, n: int, kind: str) -> ReLUNetwork:
    depth = int(rng.integers(1, 4))
    weights, biases = [], []
    prev = n
    for _ in range(depth):
        m = int(rng.integers(1, 6))
        weights.append(_param(rng, kind, (m, prev)))
        biases.append(_param(rng, kind, (m,)))
        prev = m
    final: Activation = "relu" if rng.random() < 0.5 else "identity"
    return ReLUNetwork(weights, biases, final_activation=final)


def random_corner(rng: np.random.Generator, n: int, domain: str) -> list[int]:
    lo, hi = Domain(domain).corner_values()  # type: ignore[arg-type]
    return [hi if b else lo for b in rng.integers(0, 2, n)]


def brute(problem: InversionProblem) -> list[tuple[tuple[int, ...], ExactCheck]]:
    values = problem.domain.corner_values()
    return [(z, problem.exact_check(z)) for z in itertools.product(values, repeat=problem.n)]


def brute_min(problem: InversionProblem) -> tuple[float, Fraction | None]:
    """Minimum exact distance (float) and, for integer p or inf, the exact minimum key."""
    checks = [c for _, c in brute(problem)]
    if problem.p.is_integer() or math.isinf(problem.p):
        pows = [c.distance_pow for c in checks]
        assert all(v is not None for v in pows)
        best = min(v for v in pows if v is not None)
        dist = next(c.distance for c in checks if c.distance_pow == best)
        return dist, best
    return min(c.distance for c in checks), None


def variant(problem: InversionProblem, **kw: Any) -> InversionProblem:
    args: dict[str, Any] = {
        "network": problem.network,
        "target": problem.target,
        "domain": problem.domain,
        "p": problem.p,
        "threshold": problem.threshold,
        "relation": problem.relation,
    }
    args.update(kw)
    return InversionProblem(**args)


def assert_valid(problem: InversionProblem, sol: Solution) -> None:
    """A solution is well-formed: a yes has a witness passing the exact check, a no a proof."""
    if sol.status is Status.YES:
        assert sol.z is not None
        assert problem.exact_check(sol.z).meets
    elif sol.status is Status.NO:
        assert sol.proof is not None
        assert sol.proof["kind"] == "exhaustive enumeration"
        assert sol.proof["points"] == 2**problem.n
        assert sol.proof["float_error_margin"] >= 0
        assert isinstance(sol.proof["exact_rechecks"], int)


def assert_agrees(problem: InversionProblem, mode: str = "decide") -> Status:
    expected = any(c.meets for _, c in brute(problem))
    sol = enumerate_corners(problem, mode=mode)  # type: ignore[arg-type]
    assert sol.status is (Status.YES if expected else Status.NO), problem.describe()
    assert_valid(problem, sol)
    return sol.status


def threshold_variants(problem: InversionProblem) -> list[tuple[InversionProblem, Status | None]]:
    """Thresholds at the attained minimum (exactly, where possible), and just above/below."""
    dist, key = brute_min(problem)
    p = problem.p
    out: list[tuple[InversionProblem, Status | None]] = []
    if key is not None:
        if math.isinf(p) or p == 1:
            at: dict[str, Any] = {"threshold": key}
        else:
            at = {"threshold": Fraction(dist), "threshold_pow": key}
        if key == 0:
            out.append((variant(problem, threshold=0, relation="<="), Status.YES))
        else:
            out.append((variant(problem, relation="<=", **at), Status.YES))
            out.append((variant(problem, relation="<", **at), Status.NO))
    d = Fraction(dist)
    for rel in ("<=", "<"):
        for eps in (Fraction(1, 10**9), Fraction(1, 10**14)):
            out.append((variant(problem, threshold=d * (1 + eps) + eps, relation=rel), Status.YES))
            if d * (1 - eps) - eps > 0:
                thr = d * (1 - eps) - eps
                out.append((variant(problem, threshold=thr, relation=rel), Status.NO))
    return out


# ------------------------------------------------------- random agreement
@settings(derandomize=True, max_examples=70, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 7),
    kind=st.sampled_from(KINDS),
    domain=st.sampled_from(["binary", "sign"]),
    p=st.sampled_from(NORMS),
)
def test_random_thresholds_agree_with_brute_force(
    seed: int, n: int, kind: str, domain: str, p: float
) -> None:
    rng = np.random.default_rng(seed)
    net = random_network(rng, n, kind)
    base = net.forward_exact(random_corner(rng, n, domain))
    target = [v + Fraction(int(rng.integers(-4, 5)), 4) for v in base]
    problem = InversionProblem(net, target, Domain(domain), p=p, threshold=1)  # type: ignore[arg-type]
    min_dist, min_key = brute_min(problem)
    for prob, expected in threshold_variants(problem):
        status = assert_agrees(prob)
        if expected is not None:
            assert status is expected
    # optimize mode: the true minimum, and the same decision
    prob = variant(problem, threshold=Fraction(min_dist) / 2 + Fraction(1, 1000))
    sol = enumerate_corners(prob, mode="optimize")
    assert_valid(prob, sol)
    assert sol.status is (Status.YES if any(c.meets for _, c in brute(prob)) else Status.NO)
    got = sol.stats["min_distance"]
    assert abs(got - min_dist) <= 1e-12 * max(1.0, min_dist)
    argmin = sol.stats["argmin"]
    chk = prob.exact_check(argmin)
    if min_key is not None:
        assert chk.distance_pow == min_key
    assert sol.z is None or [int(v) for v in sol.z] == argmin


@settings(derandomize=True, max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    kind=st.sampled_from(KINDS),
    domain=st.sampled_from(["binary", "sign"]),
    p=st.sampled_from(NORMS),
)
def test_exact_inversion_yes_and_perturbed(
    seed: int, n: int, kind: str, domain: str, p: float
) -> None:
    rng = np.random.default_rng(seed)
    net = random_network(rng, n, kind)
    z0 = random_corner(rng, n, domain)
    target = net.forward_exact(z0)  # exact rationals, maybe not floats
    problem = InversionProblem(net, target, Domain(domain), p=p)  # type: ignore[arg-type]
    for mode in ("decide", "optimize"):
        sol = enumerate_corners(problem, mode=mode)
        assert sol.status is Status.YES
        assert_valid(problem, sol)
        assert net.forward_exact(sol.z or []) == target
    perturbed = list(target)
    perturbed[int(rng.integers(len(perturbed)))] += Fraction(1, 997)
    prob2 = variant(problem, target=perturbed)
    assert_agrees(prob2)
    assert_agrees(prob2, mode="optimize")


@pytest.mark.parametrize("kind", KINDS)
def test_float_error_bound_holds_without_safety_factor(kind: str) -> None:
    rng = np.random.default_rng(1234)
    for trial in range(12):
        n = int(rng.integers(1, 7))
        domain = "binary" if trial % 2 else "sign"
        net = random_network(rng, n, kind)
        target = [
            v + Fraction(int(rng.integers(-5, 6)), 3)
            for v in net.forward_exact(random_corner(rng, n, domain))
        ]
        for p in NORMS:
            prob = InversionProblem(net, target, Domain(domain), p=p)  # type: ignore[arg-type]
            bound = error_bound(prob)
            zs = corners(0, 2**n, n, prob.domain.corner_values())
            outs = net.forward(zs.astype(np.float64))
            dists = prob.distances(outs)
            for z, out, dist in zip(zs, outs, dists, strict=True):
                exact = net.forward_exact([int(v) for v in z])
                for o, e, err in zip(out, exact, bound.output_error, strict=True):
                    assert abs(Fraction(float(o)) - e) <= Fraction(float(err))
                    if bound.float_exact:
                        assert Fraction(float(o)) == e
                true = _exact_distance(exact, prob)
                slack = Fraction(bound.abs_error) + Fraction(bound.rel_error) * Fraction(
                    float(dist)
                )
                assert abs(Fraction(float(dist)) - true) <= slack + Fraction(1, 10**40)


def _exact_distance(out: list[Fraction], prob: InversionProblem) -> Fraction:
    """The exact distance (rounded to 50 digits where irrational)."""
    d = [abs(o - t) for o, t in zip(out, prob.target, strict=True)]
    if math.isinf(prob.p):
        return max(d)
    if prob.p == 1:
        return sum(d, Fraction(0))
    with localcontext() as ctx:
        ctx.prec = NONINTEGER_P_DIGITS
        dp = Decimal(repr(prob.p))
        s = sum((Decimal(v.numerator) / Decimal(v.denominator)) ** dp for v in d)
        return Fraction(s ** (1 / dp)) if s else Fraction(0)


# ------------------------------------------------------------ hand-made cases
def test_float_rounding_near_threshold_is_rechecked_exactly() -> None:
    # 0.1 + 0.2 != 0.3 in floats; exact answers must not depend on it
    net = ReLUNetwork([np.array([[0.1, 0.2]])], [np.zeros(1)], final_activation="identity")
    exact_sum = Fraction(0.1) + Fraction(0.2)  # not a float
    yes = InversionProblem(net, [exact_sum], Domain("binary"), p=2)
    sol = enumerate_corners(yes)
    assert sol.status is Status.YES and sol.z == [Fraction(1), Fraction(1)]
    no = InversionProblem(net, [0.3], Domain("binary"), p=2)
    assert enumerate_corners(no).status is Status.NO
    gap = abs(exact_sum - Fraction(0.3))
    for p in NORMS:
        at = InversionProblem(net, [0.3], Domain("binary"), p=p, threshold=gap)
        assert enumerate_corners(at).status is Status.YES
        assert enumerate_corners(at, mode="optimize").status is Status.YES
        strict = InversionProblem(net, [0.3], Domain("binary"), p=p, threshold=gap, relation="<")
        sol = enumerate_corners(strict)
        assert sol.status is Status.NO
        assert sol.proof is not None and sol.proof["exact_rechecks"] >= 1

    # weights 1/10, 2/10 kept exactly: G(1, 1) = 3/10 exactly
    net2 = ReLUNetwork([[["1/10", "2/10"]]], [[0]], final_activation="identity")
    prob = InversionProblem(net2, ["3/10"], Domain("binary"))
    assert enumerate_corners(prob).status is Status.YES


def test_sign_domain_and_enumeration_order() -> None:
    z = corners(0, 8, 3, (-1, 1))
    assert z.tolist() == [list(t) for t in itertools.product((-1, 1), repeat=3)]
    z = corners(3, 6, 3, (0, 1))
    assert z.tolist() == [list(t) for t in itertools.product((0, 1), repeat=3)][3:6]
    # decide mode returns the first witness in that order
    net = ReLUNetwork([np.ones((1, 3))], [np.zeros(1)])
    prob = InversionProblem(net, [1], Domain("sign"), p=1)
    sol = enumerate_corners(prob)
    assert sol.z == [Fraction(-1), Fraction(1), Fraction(1)]


def test_integer_network_is_float_exact_and_caches() -> None:
    rng = np.random.default_rng(7)
    w1 = rng.integers(-2, 3, (6, 10)).astype(np.float64)
    w2 = rng.integers(-2, 3, (2, 6)).astype(np.float64)
    net = ReLUNetwork([w1, w2], [np.zeros(6), np.zeros(2)])
    prob = InversionProblem(net, [0.5, -1], Domain("binary"), p=1, threshold="3/2")
    assert error_bound(prob).float_exact
    sol = enumerate_corners(prob, mode="optimize")
    assert_agrees(prob)
    assert sol.stats["exact_rechecks"] < 2**10 // 4  # ties share one exact evaluation
    assert sol.stats["min_distance"] == pytest.approx(brute_min(prob)[0], abs=1e-12)
    # 1/3 is not a float: no exactness claim
    net3 = ReLUNetwork([[["1/3", 1]]], [[0]])
    assert not error_bound(InversionProblem(net3, [1], Domain("binary"))).float_exact


def test_threshold_pow_irrational_delta() -> None:
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)], final_activation="identity")
    # distance from (1, 1) to (0, 0) is sqrt(2): give delta^2 = 2 exactly
    for rel, expected in (("<=", Status.YES), ("<", Status.NO)):
        prob = InversionProblem(
            net,
            [0, 0],
            Domain("sign"),
            p=2,
            threshold=math.sqrt(2),
            relation=rel,  # type: ignore[arg-type]
            threshold_pow=2,
        )
        assert enumerate_corners(prob).status is expected
        assert enumerate_corners(prob, mode="optimize").status is expected


# ---------------------------------------------------------------- limits
def _big_problem(n: int, width: int = 32, seed: int = 0) -> InversionProblem:
    rng = np.random.default_rng(seed)
    net = ReLUNetwork(
        [rng.normal(size=(width, n)), rng.normal(size=(2, width))],
        [rng.normal(size=width), rng.normal(size=2)],
    )
    return InversionProblem(net, [1000.0, 1000.0], Domain("binary"), p=2, threshold=1)


@pytest.mark.parametrize("mode", ["decide", "optimize"])
@pytest.mark.parametrize("limit", [0.0, 0.02])
def test_time_limit_gives_unknown_never_no(mode: str, limit: float) -> None:
    prob = _big_problem(22)
    sol = enumerate_corners(prob, mode=mode, time_limit=limit)  # type: ignore[arg-type]
    assert sol.status is Status.UNKNOWN
    assert sol.reason is not None
    assert sol.reason.startswith("time limit after ")
    assert sol.reason.endswith(" of 2^22 points")
    assert sol.stats["points_screened"] < 2**22
    assert sol.proof is None


def test_time_limit_through_solve() -> None:
    sol = solve(_big_problem(22), "enumerate", time_limit=0.01)
    assert sol.status is Status.UNKNOWN


def test_wide_layer_chunks_stay_bounded() -> None:
    n, width = 10, 20_000
    rng = np.random.default_rng(3)
    w1 = rng.integers(-1, 2, (width, n)).astype(np.float64)
    w2 = rng.integers(-1, 2, (2, width)).astype(np.float64)
    net = ReLUNetwork([w1, w2], [np.zeros(width), np.zeros(2)], final_activation="identity")
    rows = chunk_rows(net)
    assert rows * width <= CHUNK_FLOATS and rows >= 1
    z0 = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1]
    target = net.forward_exact(z0)
    yes = InversionProblem(net, target, Domain("binary"))
    sol = enumerate_corners(yes)
    assert sol.status is Status.YES
    # an integer network is evaluated in float32: twice the rows in the same bytes
    assert sol.stats["precision"] == "float32"
    assert sol.stats["chunk_rows"] == chunk_rows(net, 2 * CHUNK_FLOATS)
    assert sol.stats["chunk_rows"] * width * 4 <= CHUNK_FLOATS * 8
    float64 = enumerate_corners(yes, precision="float64")
    assert float64.stats["chunk_rows"] == rows and float64.z == sol.z
    assert net.forward_exact(sol.z or []) == target
    # integer outputs cannot hit a half-integer target
    no = InversionProblem(net, [t + Fraction(1, 2) for t in target], Domain("binary"))
    sol = enumerate_corners(no)
    assert sol.status is Status.NO and sol.proof is not None
    assert sol.proof["exact_rechecks"] == 0


@pytest.mark.parametrize("chunk_floats", [1, 5, 37])
def test_tiny_chunks_agree(chunk_floats: int) -> None:
    rng = np.random.default_rng(chunk_floats)
    for kind in KINDS:
        net = random_network(rng, 6, kind)
        target = net.forward_exact(random_corner(rng, 6, "sign"))
        prob = InversionProblem(net, target, Domain("sign"), p=1)
        sol = enumerate_corners(prob, chunk_floats=chunk_floats)
        assert sol.status is Status.YES
        per_float64 = 2 if sol.stats["precision"] == "float32" else 1  # same bytes
        assert sol.stats["chunk_rows"] == max(1, per_float64 * chunk_floats // max(6, *net.widths))
        prob2 = variant(prob, target=[t + Fraction(1, 7) for t in target], threshold="1/100")
        expected = any(c.meets for _, c in brute(prob2))
        for mode in ("decide", "optimize"):
            got = enumerate_corners(prob2, mode=mode, chunk_floats=chunk_floats)
            assert got.status is (Status.YES if expected else Status.NO)
            assert_valid(prob2, got)


def test_refuses_large_n_and_continuous_domains() -> None:
    net = ReLUNetwork([np.ones((1, 41))], [np.zeros(1)])
    prob = InversionProblem(net, [0], Domain("binary"))
    with pytest.raises(UnsupportedError, match="sat or milp"):
        enumerate_corners(prob)
    with pytest.raises(UnsupportedError, match="sat or milp"):
        solve(prob, "enumerate")
    assert EnumerateBackend.unsupported_reason(prob) is not None
    small = ReLUNetwork([np.ones((1, 3))], [np.zeros(1)])
    for dom in (Domain("real"), Domain.box([0, 0, 0], [1, 1, 1])):
        cont = InversionProblem(small, [0], dom)
        with pytest.raises(UnsupportedError):
            enumerate_corners(cont)
        with pytest.raises(UnsupportedError):
            solve(cont, "enumerate")
    with pytest.raises(ValidationError):
        enumerate_corners(InversionProblem(small, [0], Domain("binary")), mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        EnumerateBackend(mode="fast")  # type: ignore[arg-type]


# ------------------------------------------------------------ backend path
def test_registered_and_solve_path() -> None:
    cls = get_backend("enumerate")
    assert cls is EnumerateBackend
    assert REGISTRY["enumerate"] is EnumerateBackend
    caps = cls.capabilities
    assert caps.domains == frozenset({"binary", "sign"})
    assert caps.exact and caps.approximate and caps.complete and caps.norms == "any"
    assert cls.modules == ()
    net = ReLUNetwork([np.array([[1.0, -1.0], [2.0, 1.0]])], [np.array([0.5, -1.0])])
    target = net.forward_exact([1, -1])
    prob = InversionProblem(net, target, Domain("sign"), p=math.inf)
    sol = solve(prob, "enumerate")
    assert sol.status is Status.YES and sol.check is not None and sol.check.meets
    assert sol.method == "enumerate" and sol.seconds >= 0
    no = variant(prob, target=[t + 1 for t in target], threshold="1/2")
    sol = solve(no, "enumerate")
    assert sol.status is Status.NO and sol.proof is not None
    assert sol.to_json()["proof"]["kind"] == "exhaustive enumeration"
    opt = EnumerateBackend(mode="optimize").solve(no)
    assert opt.status is Status.NO
    assert opt.stats["min_distance"] == pytest.approx(brute_min(no)[0], abs=1e-12)
    assert opt.stats["mode"] == "optimize"


def test_progress_output(capfd: pytest.CaptureFixture[str]) -> None:
    prob = _big_problem(12)
    enumerate_corners(prob, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    sol = enumerate_corners(prob, progress=True)
    assert sol.status in (Status.YES, Status.NO)
    out, err = capfd.readouterr()
    assert out == ""
    assert "2^12" in err
