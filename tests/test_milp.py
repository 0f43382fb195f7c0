"""The MILP backend (HiGHS) against enumeration, an LP-per-pattern oracle and SAT.

* binary/sign latents: exact inversion and l1/l-inf thresholds at, just above
  and just below the true minimum, against the enumeration backend;
* box latents: the minimum distance against an independent oracle that
  enumerates activation patterns and solves one LP per pattern
  (``scipy.optimize.linprog``), and against dense sampling;
* real latents with an input box: Theorem 2's networks say yes exactly for
  satisfiable formulas (PySAT);
* refusals (unbounded real latents, p = 2 thresholds) and time limits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from geninv.errors import UnsupportedError, ValidationError
from geninv.network import Activation, ReLUNetwork
from geninv.oracles import sat_oracle
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.base import BASIS_FLOAT, REGISTRY, TRUSTED, get_backend, solve
from geninv.solvers.enumerate import enumerate_corners

from .conftest import random_cnf

get_backend("enumerate")  # loads the built-in backends
BUILTIN_MILP = "milp" in REGISTRY

from geninv.solvers.milp import (  # noqa: E402  (registers the backend)
    NO_BOUNDS_MESSAGE,
    NORM_MESSAGE,
    MilpBackend,
    milp_solve,
)

if not BUILTIN_MILP:
    # Until geninv.solvers.base loads this backend itself, keep it registered only
    # while these tests run, so that "auto" elsewhere sees the built-in backends.
    REGISTRY.pop("milp", None)

THM2 = SatReduction("real")
MODES = ("decide", "optimize")


@pytest.fixture(autouse=True, scope="module")
def milp_registered() -> Iterator[None]:
    if not BUILTIN_MILP:
        REGISTRY["milp"] = MilpBackend
    yield
    if not BUILTIN_MILP:
        REGISTRY.pop("milp", None)


# ------------------------------------------------------------------ helpers
def _param(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> Any:
    if kind == "int":
        return rng.integers(-3, 4, shape).astype(np.float64)
    if kind == "float":
        return rng.normal(size=shape)
    assert kind == "frac"  # rationals that floats cannot hold
    flat = [
        Fraction(int(rng.integers(-6, 7)), int(rng.choice([1, 3, 7])))
        for _ in range(int(np.prod(shape)))
    ]
    if len(shape) == 1:
        return flat
    return [flat[i * shape[1] : (i + 1) * shape[1]] for i in range(shape[0])]


def random_network(
    rng: np.random.Generator, n: int, kind: str, max_width: int = 8, max_depth: int = 3
) -> ReLUNetwork:
    depth = int(rng.integers(1, max_depth + 1))
    weights, biases = [], []
    prev = n
    for _ in range(depth):
        m = int(rng.integers(1, max_width + 1))
        weights.append(_param(rng, kind, (m, prev)))
        biases.append(_param(rng, kind, (m,)))
        prev = m
    final: Activation = "relu" if rng.random() < 0.5 else "identity"
    return ReLUNetwork(weights, biases, final_activation=final)


def corner(rng: np.random.Generator, n: int, domain: str) -> list[int]:
    lo, hi = Domain(domain).corner_values()  # type: ignore[arg-type]
    return [hi if b else lo for b in rng.integers(0, 2, n)]


def assert_sound(problem: InversionProblem, sol: Solution) -> None:
    """A yes passes the exact check; a no carries a MILP proof."""
    if sol.status is Status.YES:
        assert sol.z is not None
        assert problem.exact_check(sol.z).meets
    elif sol.status is Status.NO:
        assert sol.proof is not None
        assert sol.proof["kind"] in (
            "MILP infeasible",
            "MILP lower bound",
            "LP relaxation infeasible",
        )
        assert sol.proof["solver"].startswith(("HiGHS ", "SCIP "))
        assert sol.proof["tolerance"] > 0


def milp(problem: InversionProblem, mode: str = "decide", **kw: Any) -> Solution:
    """The MILP's own answer (``trust_solver``); a ``no`` is also solved without trust,
    which must give ``unknown`` saying the solver's infeasibility is unchecked."""
    sol = solve(problem, "milp", options={"mode": mode, **kw}, trust_solver=True)
    assert_sound(problem, sol)
    if sol.status is Status.NO:
        assert_gated(solve(problem, "milp", options={"mode": mode, **kw}), sol)
    return sol


def assert_gated(untrusted: Solution, trusted: Solution) -> None:
    """Without --trust-solver, the float solver's ``no`` is ``unknown`` with the reason."""
    assert trusted.proof is not None
    assert trusted.proof["basis"] == BASIS_FLOAT
    assert trusted.proof["trusted"] == TRUSTED
    assert untrusted.status is Status.UNKNOWN, untrusted.reason
    assert untrusted.reason is not None
    assert "says infeasible in floating point" in untrusted.reason
    assert "--trust-solver" in untrusted.reason and "--method bab" in untrusted.reason
    assert untrusted.stats["uncertified_proof"]["kind"] == trusted.proof["kind"]


def exact_min(problem: InversionProblem) -> Fraction:
    """Exact minimum over the corners of max |d_i| (p = inf) or sum |d_i| (p = 1)."""
    sol = enumerate_corners(problem, mode="optimize")
    chk = problem.exact_check(sol.stats["argmin"])
    assert chk.distance_pow is not None
    return chk.distance_pow


def with_threshold(
    problem: InversionProblem, threshold: Any, relation: str = "<="
) -> InversionProblem:
    return InversionProblem(
        problem.network,
        problem.target,
        problem.domain,
        p=problem.p,
        threshold=threshold,
        relation=relation,  # type: ignore[arg-type]
        input_box=problem.input_box,
    )


# ------------------------------------------------------------------ discrete latents
@pytest.mark.parametrize("seed", range(6))
def test_discrete_agrees_with_enumeration(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    for _ in range(8):
        n = int(rng.integers(1, 7))
        kind = str(rng.choice(["int", "float"]))
        net = random_network(rng, n, kind)
        dom = str(rng.choice(["binary", "sign"]))
        p = float(rng.choice([1.0, math.inf]))
        z0 = corner(rng, n, dom)
        exact = net.forward_exact(z0)
        # exact inversion: the image of a corner, and a perturbed target
        hit = InversionProblem(net, exact, Domain(dom), p=p)  # type: ignore[arg-type]
        shift = [
            Fraction(int(rng.integers(-2, 3)), 2) + Fraction(float(rng.normal())) for _ in exact
        ]
        off = InversionProblem(
            net,
            [v + s for v, s in zip(exact, shift, strict=True)],
            Domain(dom),  # type: ignore[arg-type]
            p=p,
        )
        for prob in (hit, off):
            want = enumerate_corners(prob).status
            for mode in MODES:
                assert milp(prob, mode).status is want, (prob.describe(), mode)
        assert milp(hit).status is Status.YES
        # thresholds at, just above and just below the minimum (p = 1 or inf)
        m = exact_min(off)
        margin = Fraction(1, 100) * (1 + m)
        cases = [
            (m, "<=", Status.YES),
            (m + margin, "<=", Status.YES),
            (m + margin, "<", Status.YES),
        ]
        if m - margin > 0:
            cases += [(m - margin, "<=", Status.NO), (m - margin, "<", Status.NO)]
        for thr, rel, want_status in cases:
            prob = with_threshold(off, thr, rel)
            assert enumerate_corners(prob).status is want_status
            for mode in MODES:
                got = milp(prob, mode)
                assert got.status is want_status, (prob.describe(), mode, got.reason)


@pytest.mark.parametrize("seed", range(2))
def test_discrete_rational_weights(seed: int) -> None:
    """Weights such as 1/3 (floats cannot hold them): the tolerance absorbs the rounding."""
    rng = np.random.default_rng(2000 + seed)
    for _ in range(6):
        n = int(rng.integers(1, 6))
        net = random_network(rng, n, "frac")
        dom = str(rng.choice(["binary", "sign"]))
        z0 = corner(rng, n, dom)
        prob = InversionProblem(net, net.forward_exact(z0), Domain(dom), p=math.inf)  # type: ignore[arg-type]
        assert milp(prob).status is Status.YES
        off = InversionProblem(
            net,
            [v + Fraction(1, 3) for v in prob.target],
            Domain(dom),  # type: ignore[arg-type]
            p=1,
        )
        m = exact_min(off)
        assert milp(with_threshold(off, m)).status is Status.YES
        if m > Fraction(1, 50):
            assert milp(with_threshold(off, m * Fraction(98, 100))).status is Status.NO


def test_decide_no_proof_is_confirmed_infeasibility() -> None:
    net = ReLUNetwork([np.array([[1.0, 1.0], [1.0, -1.0]])], [np.zeros(2)], "identity")
    prob = InversionProblem(net, [Fraction(1, 2), 0], Domain("binary"))
    sol = milp(prob)
    assert sol.status is Status.NO
    assert sol.proof is not None
    assert sol.proof["kind"] in ("MILP infeasible", "LP relaxation infeasible")
    assert "confirmed" in sol.proof
    opt = milp(prob, "optimize")
    assert opt.status is Status.NO
    assert opt.proof is not None and opt.proof["kind"] == "MILP lower bound"
    assert opt.proof["lower_bound"] > opt.proof["tolerance"]
    assert opt.stats["best_distance"] == 0.5
    assert opt.stats["lower_bound"] == pytest.approx(0.5)


# ------------------------------------------------------------------ box latents
def pattern_lp_min(
    net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, x: np.ndarray, p: float
) -> float:
    """Independent oracle: min ||G(z) - x||_p over the box, one LP per activation pattern."""
    n = net.n_inputs
    relu_units = sum(layer.n_out for layer in net.layers if layer.activation == "relu")
    best = math.inf
    for pattern in itertools.product((0.0, 1.0), repeat=relu_units):
        a_mat, c_vec = np.eye(n), np.zeros(n)
        rows: list[np.ndarray] = []
        rhs: list[float] = []
        k = 0
        for layer in net.layers:
            pa = layer.weight @ a_mat
            pc = layer.weight @ c_vec + layer.bias
            if layer.activation == "relu":
                s = np.array(pattern[k : k + layer.n_out])
                k += layer.n_out
                for j in range(layer.n_out):
                    if s[j]:  # pa z + pc >= 0
                        rows.append(-pa[j])
                        rhs.append(float(pc[j]))
                    else:  # pa z + pc <= 0
                        rows.append(pa[j])
                        rhs.append(float(-pc[j]))
                a_mat, c_vec = pa * s[:, None], pc * s
            else:
                a_mat, c_vec = pa, pc
        q = len(x)
        nt = 1 if math.isinf(p) else q
        ub_rows = [np.concatenate([r, np.zeros(nt)]) for r in rows]
        ub_rhs = list(rhs)
        for j in range(q):
            e = np.zeros(nt)
            e[0 if nt == 1 else j] = -1.0
            ub_rows.append(np.concatenate([a_mat[j], e]))  # out_j - x_j <= t
            ub_rhs.append(float(x[j] - c_vec[j]))
            ub_rows.append(np.concatenate([-a_mat[j], e]))  # x_j - out_j <= t
            ub_rhs.append(float(c_vec[j] - x[j]))
        cost = np.concatenate([np.zeros(n), np.ones(nt)])
        bounds = [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)] + [(0, None)] * nt
        res = linprog(cost, A_ub=np.array(ub_rows), b_ub=np.array(ub_rhs), bounds=bounds)
        if res.status == 0:
            best = min(best, float(res.fun))
    return best


def random_box(rng: np.random.Generator, n: int) -> tuple[list[Fraction], list[Fraction]]:
    lo = [Fraction(-int(rng.integers(1, 9)), 4) for _ in range(n)]
    hi = [Fraction(int(rng.integers(0, 9)), 4) for _ in range(n)]
    return lo, hi


@pytest.mark.parametrize("seed", range(4))
def test_box_against_pattern_lp_oracle(seed: int) -> None:
    rng = np.random.default_rng(3000 + seed)
    for _ in range(6):
        n = int(rng.integers(1, 3))
        net = random_network(rng, n, str(rng.choice(["int", "float"])), max_width=3)
        lo, hi = random_box(rng, n)
        dom = Domain.box(lo, hi)
        p = float(rng.choice([1.0, math.inf]))
        x = net.forward(np.array([float(v) for v in hi])) + rng.normal(size=net.n_outputs)
        prob = InversionProblem(net, [Fraction(float(v)) for v in x], dom, p=p)
        oracle = pattern_lp_min(net, np.array(lo, float), np.array(hi, float), x, p)
        opt = milp(prob, "optimize")
        best, lower = opt.stats["best_distance"], opt.stats["lower_bound"]
        assert best == pytest.approx(oracle, rel=1e-6, abs=1e-6), (best, oracle)
        assert lower <= oracle + opt.stats["tolerance"]
        margin = 1e-3 * (1 + oracle)
        for mode in MODES:
            above = milp(with_threshold(prob, Fraction(oracle + margin)), mode)
            assert above.status is Status.YES, above.reason
            if oracle - margin > 0:
                below = milp(with_threshold(prob, Fraction(oracle - margin)), mode)
                assert below.status is Status.NO, below.reason


@pytest.mark.parametrize("seed", range(3))
def test_target_bounds_and_scip_engine_agree_with_oracle(seed: int) -> None:
    """Target-aware bounds (on, off) and the SCIP engine decide as the pattern-LP oracle."""
    rng = np.random.default_rng(3500 + seed)
    kinds: set[str] = set()
    tightened = 0
    for _ in range(5):
        n = int(rng.integers(1, 4))
        net = random_network(rng, n, str(rng.choice(["int", "float"])), max_width=4)
        lo, hi = random_box(rng, n)
        p = float(rng.choice([1.0, math.inf]))
        x = net.forward(np.array([float(v) for v in lo])) + rng.normal(size=net.n_outputs)
        prob = InversionProblem(net, [Fraction(float(v)) for v in x], Domain.box(lo, hi), p=p)
        oracle = pattern_lp_min(net, np.array(lo, float), np.array(hi, float), x, p)
        margin = 1e-3 * (1 + oracle)
        for opts in (
            {"target_bounds": True},
            {"target_bounds": False},
            {"engine": "scip"},
            {"engine": "scip", "separating": "fast", "target_bounds": False},
        ):
            above = milp(with_threshold(prob, Fraction(oracle + margin)), **opts)
            assert above.status is Status.YES, (opts, above.reason)
            if oracle - margin > 0:
                below = milp(with_threshold(prob, Fraction(oracle - margin)), **opts)
                assert below.status is Status.NO, (opts, below.reason)
                assert below.proof is not None
                kinds.add(below.proof["kind"])
                tt = below.stats.get("target_tightening")
                assert (tt is not None) == opts.get("target_bounds", False)
                if tt is not None:
                    tightened += tt["tightened"] + int(tt["lp_infeasible"])
            if opts.get("engine") == "scip":
                assert above.method == "milp-scip"
                assert above.stats["solver"].startswith("SCIP ")
    assert tightened > 0  # the target pass did something on these instances
    assert kinds


def test_bad_engine_options_are_refused() -> None:
    net = ReLUNetwork([np.array([[1.0, -1.0]])], [np.zeros(1)], "identity")
    prob = InversionProblem(net, [Fraction(1, 2)], Domain.box([-1, -1], [1, 1]))
    for opts in ({"engine": "gurobi"}, {"engine": "scip", "separating": "sometimes"}):
        with pytest.raises(ValidationError):
            solve(prob, "milp", options=opts)
    sol = solve(prob, "milp-scip", options={"separating": "portfolio"})
    assert sol.status is Status.YES
    assert sol.stats["scip"][0]["config"] in ("fast", "off")


@pytest.mark.parametrize("seed", range(3))
def test_box_exact_inversion_and_sampling(seed: int) -> None:
    rng = np.random.default_rng(4000 + seed)
    for _ in range(5):
        n = int(rng.integers(1, 4))
        net = random_network(rng, n, str(rng.choice(["int", "float"])))
        lo, hi = random_box(rng, n)
        dom = Domain.box(lo, hi)
        # the image of a rational interior point must be inverted exactly
        z0 = [
            a + (b - a) * Fraction(int(rng.integers(0, 9)), 8) for a, b in zip(lo, hi, strict=True)
        ]
        hit = InversionProblem(net, net.forward_exact(z0), dom)
        sol = milp(hit)
        assert sol.status is Status.YES, sol.reason
        # dense sampling never beats the MILP's minimum, nor undercuts its lower bound
        p = float(rng.choice([1.0, math.inf]))
        x = net.forward(np.array([float(v) for v in z0])) + rng.normal(size=net.n_outputs)
        prob = InversionProblem(net, [Fraction(float(v)) for v in x], dom, p=p)
        pts = rng.uniform([float(v) for v in lo], [float(v) for v in hi], size=(20000, n))
        sampled = float(prob.distances(net.forward(pts)).min())
        opt = milp(prob, "optimize")
        assert opt.stats["best_distance"] <= sampled + 1e-9
        assert opt.stats["lower_bound"] <= sampled + opt.stats["tolerance"]
        if opt.stats["best_distance"] > 0.01:
            off = InversionProblem(net, prob.target, dom)  # exact inversion of x: impossible
            assert milp(off).status is Status.NO


# ------------------------------------------------------------------ real latents (Theorem 2)
@pytest.mark.parametrize("seed", range(3))
def test_theorem2_yes_iff_satisfiable(seed: int) -> None:
    rng = np.random.default_rng(5000 + seed)
    for _ in range(8):
        n = int(rng.integers(1, 8))
        m = int(rng.integers(1, 5 * n + 2))
        cnf = random_cnf(rng, n, m, lengths=(1, 2, 3), p_repeat=0.1, p_taut=0.1, p_empty=0.02)
        prob, inv = THM2.apply(cnf)
        assert prob.domain.kind == "real" and prob.input_box is not None
        sat = sat_oracle(cnf)
        sol = milp(prob)
        assert sol.status is (Status.YES if sat else Status.NO), (cnf, sol.reason)
        if sat:
            assignment = THM2.invert(sol, inv)
            assert assignment is not None
            assert all(
                any(assignment[abs(lit) - 1] == (lit > 0) for lit in clause)
                for clause in cnf.clauses
            )
        else:
            assert sol.proof is not None
            assert sol.proof["kind"] in ("MILP infeasible", "LP relaxation infeasible")


def test_real_without_bounds_is_refused() -> None:
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)])
    prob = InversionProblem(net, [0, 0], Domain("real"))
    assert MilpBackend.unsupported_reason(prob) == NO_BOUNDS_MESSAGE
    with pytest.raises(UnsupportedError, match="real domain without bounds"):
        solve(prob, "milp")
    with pytest.raises(UnsupportedError, match=r"geninv new --domain box"):
        MilpBackend().solve(prob)
    with pytest.raises(UnsupportedError, match="real domain without bounds"):
        milp_solve(prob)
    bounded = InversionProblem(net, [0, 0], Domain("real"), input_box=([-1, -1], [1, 1]))
    assert milp(bounded).status is Status.YES


def test_other_norms() -> None:
    net = ReLUNetwork([np.array([[1.0, 2.0]])], [np.zeros(1)])
    thr = InversionProblem(net, [1], Domain("binary"), p=2, threshold=Fraction(1, 2))
    assert MilpBackend.unsupported_reason(thr) == NORM_MESSAGE
    with pytest.raises(UnsupportedError, match="miqp"):
        solve(thr, "milp")
    with pytest.raises(UnsupportedError, match="miqp"):
        milp_solve(thr)
    # exact inversion is the same question for every p
    for p, target, want in ((2.0, 3, Status.YES), (1.5, 4, Status.NO)):
        prob = InversionProblem(net, [target], Domain("binary"), p=p)
        assert milp(prob).status is want


# ------------------------------------------------------------------ limits, options, registry
def test_tiny_time_limit_gives_unknown() -> None:
    rng = np.random.default_rng(77)
    n = 40
    while True:
        cnf = random_cnf(rng, n, int(3.9 * n))
        if sat_oracle(cnf):
            break
    prob, _ = THM2.apply(cnf)
    for mode in MODES:
        sol = solve(prob, "milp", time_limit=0.05, options={"mode": mode})
        assert sol.status is Status.UNKNOWN
        assert sol.reason is not None and "time limit" in sol.reason
        assert sol.seconds < 5


def test_silent_unless_progress(capfd: pytest.CaptureFixture[str]) -> None:
    net = ReLUNetwork([np.array([[1.0, -1.0], [2.0, 1.0]])], [np.array([0.0, -1.0])])
    prob = InversionProblem(net, [0, 2], Domain("binary"))
    capfd.readouterr()
    assert milp(prob).status is Status.YES
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert solve(prob, "milp", progress=True, seed=5).status is Status.YES
    out, err = capfd.readouterr()
    assert out == "" and "HiGHS" in err


def test_registry_and_capabilities() -> None:
    assert REGISTRY["milp"] is MilpBackend
    assert get_backend("milp") is MilpBackend
    caps = MilpBackend.capabilities
    assert caps.complete and caps.exact and caps.approximate and caps.norms == "1,inf"
    assert caps.domains == frozenset({"real", "box", "binary", "sign"})
    assert MilpBackend.modules == ("highspy",)
    with pytest.raises(ValidationError, match="mode"):
        MilpBackend(mode="fast")  # type: ignore[arg-type]


def test_optimize_reports_best_and_bound() -> None:
    rng = np.random.default_rng(6)
    net = random_network(rng, 4, "int")
    x = [Fraction(1, 3)] * net.n_outputs
    prob = InversionProblem(net, x, Domain("sign"), p=1, threshold=Fraction(1, 10))
    opt = milp(prob, "optimize")
    m = float(exact_min(prob))
    assert opt.stats["best_distance"] == pytest.approx(m)
    assert abs(opt.stats["lower_bound"] - m) <= opt.stats["tolerance"]
    assert opt.stats["mode"] == "optimize"
    assert opt.status is (Status.YES if m <= 0.1 else Status.NO)


def test_scip_race_interrupts_only_in_stages_scip_accepts() -> None:
    """The portfolio race stops the losing SCIP model from another thread; SCIP refuses
    an interrupt outside presolving and solving (and prints an error on the terminal,
    seen in fuzz runs: 'cannot call method <SCIPinterruptSolve> in init solve stage'),
    so the interrupt is asked in those two long stages only, and retried."""
    from pyscipopt import SCIP_STAGE

    from geninv.solvers.milp.scip import _interrupt

    class Fake:
        def __init__(self, stage: int) -> None:
            self.stage, self.asked = stage, 0

        def getStage(self) -> int:
            return self.stage

        def interruptSolve(self) -> None:
            self.asked += 1

    stages = {k: getattr(SCIP_STAGE, k) for k in dir(SCIP_STAGE) if k.isupper()}
    for name, stage in stages.items():
        fake = Fake(stage)
        _interrupt(fake)
        assert fake.asked == (name in ("PRESOLVING", "SOLVING")), name
