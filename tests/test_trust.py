"""A floating-point solver's 'infeasible' is not a *no*; numerics of the float solvers.

* the trust gate (:func:`geninv.solvers.base.gate_no`): a ``no`` resting on
  HiGHS/SCIP is ``unknown`` with the reason unless ``trust_solver``, then marked;
  exact and checked ``no`` pass untouched; ``auto`` goes on past a gated ``no``;
* ``geninv solve --trust-solver`` says in words that it trusted the solver;
  ``--certify`` labels its float lower bound uncertified;
* scaling (:mod:`geninv.solvers.numerics`): the issue's huge-magnitude examples
  are decided right, and random integer networks with weights near 1e6 (planted
  witnesses) never get a wrong *no* nor a lower bound above a known distance;
* out-of-range models are refused with the reason; every native status is mapped.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import pytest

from geninv.cli import main
from geninv.gap import UNCERTIFIED, certified_gap
from geninv.io.instance import save_instance
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.solvers.base import (
    BASIS_CHECKED,
    BASIS_EXACT,
    BASIS_FLOAT,
    REGISTRY,
    TRUSTED,
    Backend,
    Capabilities,
    _load_builtin_backends,
    solve,
)
from geninv.solvers.milp import _Model
from geninv.solvers.numerics import (
    HIGHS_STATUS,
    MAX_MAGNITUDE,
    SCIP_STATUS,
    model_range,
    status_meaning,
)

_load_builtin_backends()
HAVE_HIGHS = REGISTRY["milp"].available()
HAVE_SCIP = REGISTRY["miqp"].available()
needs_highs = pytest.mark.skipif(not HAVE_HIGHS, reason="highspy is not installed")
needs_scip = pytest.mark.skipif(not (HAVE_HIGHS and HAVE_SCIP), reason="pyscipopt not installed")


def identity_huge() -> InversionProblem:
    """The issue's first example: y = z on [0, 1], x = 2e20, delta = 1e21, p = inf (yes)."""
    net = ReLUNetwork([[[1]]], [[0]], final_activation="identity")
    return InversionProblem(net, [2 * 10**20], Domain.box([0], [1]), p=math.inf, threshold=10**21)


def zero_net_p2() -> InversionProblem:
    """The issue's second example: G = 0, x = 2e10, delta = 1e11, p = 2 (every z is a yes)."""
    net = ReLUNetwork([[[0, 0]]], [[0]], final_activation="identity")
    return InversionProblem(net, [2 * 10**10], Domain.box([0, 0], [1, 1]), p=2, threshold=10**11)


def far_target() -> InversionProblem:
    """y = z on [0, 1], x = 5, delta = 1: clearly no witness."""
    net = ReLUNetwork([[[1]]], [[0]], final_activation="identity")
    return InversionProblem(net, [5], Domain.box([0], [1]), p=math.inf, threshold=1)


def mixed_far_target() -> InversionProblem:
    """y = z_1 + z_2 on [0, 1]^2, x = 5, delta = 1: clearly no witness; the unit mixes
    both latents, so the corner presolve declines and auto asks the float backends."""
    net = ReLUNetwork([[[1, 1]]], [[0]], final_activation="identity")
    return InversionProblem(net, [5], Domain.box([0, 0], [1, 1]), p=math.inf, threshold=1)


def assert_yes(problem: InversionProblem, sol: Solution) -> None:
    assert sol.status is Status.YES, sol.reason
    assert sol.z is not None and problem.exact_check(sol.z).meets
    assert sol.check is not None and sol.check.meets


# ------------------------------------------------------------------ the examples
@needs_highs
@pytest.mark.parametrize("method", ["auto", "milp", "milp-scip"])
def test_huge_target_is_a_yes(method: str) -> None:
    if method == "milp-scip" and not HAVE_SCIP:
        pytest.skip("pyscipopt not installed")
    problem = identity_huge()
    sol = solve(problem, method)
    assert_yes(problem, sol)
    if method != "auto":
        assert sol.stats["scaling"]["output_scale"] == "2^-70"  # 1e21 < 2^70
        assert sol.stats["model_range"]["max_abs_rhs"] <= 1.0


@needs_scip
@pytest.mark.parametrize("method", ["auto", "miqp"])
def test_zero_network_p2_is_a_yes(method: str) -> None:
    problem = zero_net_p2()
    sol = solve(problem, method)
    assert_yes(problem, sol)
    assert sol.method == ("primal" if method == "auto" else "miqp")  # auto: the primal side first


@needs_highs
def test_wide_box_latents_are_scaled() -> None:
    """z in [-1e15, 1e15]^2, y = z1 - z2: x = 3e14 within 1 is a yes, x = 3e15 within
    1e14 a (trusted) no whose optimum 1e15 is found and bounded exactly."""
    net = ReLUNetwork([[[1, -1]]], [[0]], final_activation="identity")
    box = Domain.box([-(10**15)] * 2, [10**15] * 2)
    near = InversionProblem(net, [3 * 10**14], box, p=math.inf, threshold=1)
    sol = solve(near, "milp")
    assert_yes(near, sol)
    assert sol.stats["scaling"]["latents_scaled"] == 2
    far = InversionProblem(net, [3 * 10**15], box, p=math.inf, threshold=10**14)
    assert solve(far, "milp").status is Status.UNKNOWN
    assert solve(far, "milp", trust_solver=True).status is Status.NO
    opt = solve(far, "milp", options={"mode": "optimize"})
    assert opt.stats["best_distance"] == 10**15
    assert abs(opt.stats["lower_bound"] - 10**15) <= opt.stats["tolerance"]


def _random_int_net(
    rng: random.Random, norms: tuple[float, ...], exact: bool
) -> tuple[InversionProblem, list[Fraction], str]:
    """A small integer network (weights in +-1e6) with a planted witness z0 (so a yes):
    ``exact``: x = G(z0); otherwise x = G(z0) + small integers, delta = ||G(z0) - x||."""
    n = rng.randint(1, 3)
    widths = [rng.randint(1, 4) for _ in range(rng.randint(1, 2))] + [rng.randint(1, 2)]
    ws, bs, prev = [], [], n
    for w in widths:
        ws.append([[rng.randint(-(10**6), 10**6) for _ in range(prev)] for _ in range(w)])
        bs.append([rng.randint(-(10**6), 10**6) for _ in range(w)])
        prev = w
    final = rng.choice(["identity", "relu"])
    net = ReLUNetwork(ws, bs, activations=["relu"] * (len(widths) - 1) + [final])
    lo = [Fraction(rng.randint(-3, 0)) for _ in range(n)]
    hi = [Fraction(rng.randint(1, 3)) for _ in range(n)]
    z0 = [min(max(Fraction(rng.randint(-30, 30), 10), a), b) for a, b in zip(lo, hi, strict=True)]
    x = [v + (0 if exact else rng.randint(-5, 5)) for v in net.forward_exact(z0)]
    p = rng.choice(norms)
    probe = InversionProblem(net, x, Domain.box(lo, hi), p=p, threshold=1)
    chk = probe.exact_check(z0)
    assert chk.distance_pow is not None
    delta_pow = Fraction(0) if exact else (chk.distance_pow or Fraction(1))
    problem = InversionProblem(
        net,
        x,
        Domain.box(lo, hi),
        p=p,
        threshold=delta_pow if math.isinf(p) or p == 1 else float(delta_pow) ** (1 / p),
        threshold_pow=None if math.isinf(p) or p == 1 or exact else delta_pow,
    )
    assert problem.exact_check(z0).meets
    return problem, z0, f"widths {widths}, p {p}"


@needs_highs
@pytest.mark.parametrize(
    ("method", "exact"),
    [("milp", False), ("milp", True), ("milp-scip", False), ("milp-scip", True), ("miqp", False)],
)
def test_integer_nets_near_1e6_never_get_a_wrong_no(method: str, exact: bool) -> None:
    """Planted witnesses: even trusting the solver, never 'no'; the optimize lower
    bound never exceeds the planted point's distance (by more than the tolerance)."""
    if method != "milp" and not HAVE_SCIP:
        pytest.skip("pyscipopt not installed")
    rng = random.Random(20261206 + exact)
    norms = (2.0,) if method == "miqp" else (math.inf, 1.0)
    answers = {"yes": 0, "unknown": 0}
    for _ in range(40):
        problem, z0, what = _random_int_net(rng, norms, exact)
        sol = solve(problem, method, time_limit=20, trust_solver=True)
        assert sol.status is not Status.NO, (what, sol.proof)
        answers[str(sol.status)] += 1
        opt = solve(problem, method, time_limit=20, options={"mode": "optimize"})
        lb = opt.stats.get("lower_bound")
        if lb is not None:
            dist = problem.exact_check(z0).distance
            slack = opt.stats.get("distance_tolerance", opt.stats["tolerance"])
            assert lb - slack <= dist * (1 + 1e-9), (what, lb, dist)
    assert answers["yes"] >= 10, answers


def _found_by_search() -> list[tuple[str, InversionProblem]]:
    """Two planted-witness instances of that search that were wrong *no* (trusted)."""
    four = ReLUNetwork(
        [
            [[503343, -235234], [30408, -522139]],
            [[740883, -758923], [-238393, -860053]],
            [[-554194, -94163], [-305689, 545525]],
            [[-73557, 716042], [-34460, 845809]],
        ],
        [[-897993, -484878], [459062, -910634], [-146430, -57604], [378063, 248954]],
        activations=["relu", "relu", "relu", "identity"],
    )
    # z = (0, -1) is at distance exactly 3: HiGHS (default tolerances) said infeasible
    highs = InversionProblem(
        four, [378062, 248951], Domain.box([0, -1], [1, 1]), p=math.inf, threshold=3
    )
    two = ReLUNetwork(
        [[[480178, 965227]], [[-116060]]],
        [[668426], [669577]],
        activations=["relu", "identity"],
    )
    # z = (1, 1) is at distance exactly 1: SCIP's presolve said infeasible
    scip = InversionProblem(
        two, [-245330556284], Domain.box([-1, -1], [1, 1]), p=math.inf, threshold=1
    )
    return [("milp", highs), ("milp-scip", scip)]


@needs_scip
def test_search_regressions_are_yes() -> None:
    for method, problem in _found_by_search():
        assert_yes(problem, solve(problem, method, trust_solver=True))


# ------------------------------------------------------------------ the gate
@needs_highs
@pytest.mark.parametrize("method", ["milp", "milp-scip", "miqp"])
def test_float_no_is_unknown_unless_trusted(method: str) -> None:
    if method != "milp" and not HAVE_SCIP:
        pytest.skip("pyscipopt not installed")
    problem = far_target()
    if method == "miqp":
        problem = InversionProblem(problem.network, [5], problem.domain, p=2, threshold=1)
    sol = solve(problem, method)
    assert sol.status is Status.UNKNOWN and sol.proof is None
    assert sol.reason is not None
    assert f"{method} says infeasible in floating point" in sol.reason
    assert "no checked certificate" in sol.reason
    assert "--trust-solver" in sol.reason and "--method bab" in sol.reason
    assert sol.stats["uncertified_proof"]["basis"] == BASIS_FLOAT
    trusted = solve(problem, method, trust_solver=True)
    assert trusted.status is Status.NO and trusted.proof is not None
    assert trusted.proof["basis"] == BASIS_FLOAT
    assert trusted.proof["trusted"] == TRUSTED


def test_every_complete_backend_declares_its_basis() -> None:
    from geninv.solvers.base import BASES

    for name, cls in REGISTRY.items():
        if cls.capabilities.complete:
            assert cls.no_basis in BASES, name
    assert REGISTRY["enumerate"].no_basis == BASIS_EXACT
    for name in ("milp", "milp-scip", "miqp"):
        assert REGISTRY[name].no_basis == BASIS_FLOAT


def test_exact_no_passes_untouched(tmp_path: Path) -> None:
    net = ReLUNetwork([[[1, 1]]], [[0]], final_activation="identity")
    problem = InversionProblem(net, [5], Domain("binary"))
    for trust in (False, True):
        sol = solve(problem, "enumerate", trust_solver=trust)
        assert sol.status is Status.NO and sol.proof is not None
        assert sol.proof["basis"] == BASIS_EXACT and "trusted" not in sol.proof
    if REGISTRY["sat"].available():
        sat = solve(problem, "sat")
        assert sat.status is Status.NO and sat.proof is not None
        assert sat.proof["basis"] == BASIS_EXACT
        opts = {"proof": str(tmp_path / "p.drup"), "check_proof": True}
        checked = solve(problem, "sat", options=opts)
        assert checked.proof is not None and checked.proof["proof_checked"] is True
        assert checked.proof["basis"] == BASIS_CHECKED


@needs_highs
def test_corners_carries_the_sub_proofs_basis() -> None:
    """Theorem 2 network of an unsatisfiable CNF: the corner presolve makes it binary;
    with milp on the binary problem the no is gated (or trusted), with auto it is exact."""
    from geninv.io.dimacs import CNF
    from geninv.reductions.sat import SatReduction

    problem, _ = SatReduction("real").apply(CNF(2, ((1, 2), (-1, 2), (1, -2), (-1, -2))))
    gated = solve(problem, "corners", options={"method": "milp"})
    assert gated.status is Status.UNKNOWN and gated.stats["uncertified_no"]
    assert "milp says infeasible in floating point" in (gated.reason or "")
    trusted = solve(problem, "corners", options={"method": "milp"}, trust_solver=True)
    assert trusted.status is Status.NO and trusted.proof is not None
    assert trusted.proof["basis"] == BASIS_FLOAT and trusted.proof["trusted"] == TRUSTED
    exact = solve(problem, "corners")
    assert exact.status is Status.NO and exact.proof is not None
    assert exact.proof["basis"] == BASIS_EXACT and "trusted" not in exact.proof


@needs_highs
def test_auto_one_latent_far_target_is_decided_exactly() -> None:
    """y = z on [0, 1], x = 5, delta = 1: the near-corner presolve (ranked first)
    decides it from the output's exact range: basis exact, no float backend asked."""
    net = ReLUNetwork([[[1]]], [[0]], final_activation="identity")
    problem = InversionProblem(net, [5], Domain.box([0], [1]), p=math.inf, threshold=1)
    sol = solve(problem, "auto")
    assert sol.status is Status.NO and sol.method == "corners"
    assert sol.proof is not None and sol.proof["basis"] == "exact"
    assert "range" in sol.proof["kind"] and "auto_uncertified" not in sol.stats


@needs_highs
def test_auto_certifies_a_float_no_with_bab() -> None:
    """milp-scip's float 'no' is gated; auto goes on to bab, whose 'no' is checked."""
    sol = solve(mixed_far_target(), "auto")
    assert sol.status is Status.NO and sol.method == "bab", sol.reason
    assert sol.proof is not None and sol.proof["basis"] == BASIS_CHECKED
    assert "trusted" not in sol.proof
    tried = [r.split(":")[0] for r in sol.stats["auto_uncertified"]]
    assert tried == ["milp-scip"]


@needs_highs
def test_auto_goes_on_past_a_float_no(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a certifying backend, auto tries every float one and returns the gated answer."""
    from geninv.solvers.bab.backend import BabBackend

    monkeypatch.setattr(BabBackend, "unsupported_reason", classmethod(lambda cls, p: "off"))
    problem = mixed_far_target()
    sol = solve(problem, "auto")
    assert sol.status is Status.UNKNOWN
    tried = [r.split(":")[0] for r in sol.stats["auto_uncertified"]]
    assert "milp" in tried and len(tried) >= 1
    assert sol.reason is not None and "--trust-solver" in sol.reason
    trusted = solve(problem, "auto", trust_solver=True)
    assert trusted.status is Status.NO and trusted.proof is not None
    assert trusted.proof["trusted"] == TRUSTED


@needs_highs
def test_auto_does_not_start_a_huge_enumeration_without_a_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Binary n = 34 without sat: milp's float 'no' is gated; the last-resort
    enumeration of 2^34 corners is not started without a time limit (with one it runs
    and is stopped by it: 2^30 corners finished within 3 s on a quiet machine)."""
    monkeypatch.delitem(REGISTRY, "sat")
    net = ReLUNetwork([[[1] * 34]], [[0]], final_activation="identity")
    problem = InversionProblem(net, [100], Domain("binary"))
    sol = solve(problem, "auto")
    assert sol.status is Status.UNKNOWN and sol.method == "milp"
    assert any("enumerate: not started" in r for r in sol.stats["auto_uncertified"])
    limited = solve(problem, "auto", time_limit=3)
    assert limited.status is Status.UNKNOWN
    assert any(r.startswith("enumerate: time limit") for r in limited.stats["auto_uncertified"])


class _Certifier(Backend):
    """A stand-in for a certified backend (e.g. 'bab'): 'no' with a checked certificate."""

    name = "zz-certifier"
    summary = "test stand-in"
    capabilities = Capabilities(domains=frozenset({"box"}), norms="any")
    calls: ClassVar[list[float | None]] = []

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        self.calls.append(time_limit)
        proof: dict[str, Any] = {"kind": "test certificate", "basis": BASIS_CHECKED}
        return Solution(Status.NO, self.name, proof=proof)


@pytest.fixture
def certifier(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Certifier]]:
    from geninv.solvers.bab.backend import BabBackend

    # the real certifying backend is ranked before the stand-in: keep it out of the way
    monkeypatch.setattr(BabBackend, "unsupported_reason", classmethod(lambda cls, p: "off"))
    REGISTRY[_Certifier.name] = _Certifier
    _Certifier.calls.clear()
    yield _Certifier
    REGISTRY.pop(_Certifier.name, None)


@needs_highs
def test_auto_reaches_a_certifying_backend(certifier: type[_Certifier]) -> None:
    sol = solve(mixed_far_target(), "auto", time_limit=60)
    assert sol.status is Status.NO and sol.method == certifier.name
    assert sol.proof is not None and "trusted" not in sol.proof
    assert any(r.startswith("milp") for r in sol.stats["auto_uncertified"])
    left = certifier.calls[0]
    assert left is not None and 0 < left < 60  # the time the float backends left


def test_undeclared_basis_is_gated(certifier: type[_Certifier]) -> None:
    class Silent(_Certifier):
        def solve(self, problem: InversionProblem, **kw: Any) -> Solution:  # type: ignore[override]
            return Solution(Status.NO, "zz-certifier", proof={"kind": "trust me"})

    REGISTRY[_Certifier.name] = Silent
    sol = solve(far_target(), _Certifier.name)
    assert sol.status is Status.UNKNOWN
    assert "does not say what it rests on" in (sol.reason or "")


# ------------------------------------------------------------------ CLI and --certify
@needs_highs
def test_cli_trust_solver_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = save_instance(far_target(), tmp_path / "far")
    assert main(["solve", str(inst), "--method", "milp"]) == 0
    out = capsys.readouterr().out
    assert "status: unknown" in out and "--trust-solver" in out
    assert main(["solve", str(inst), "--method", "milp", "--trust-solver"]) == 0
    out = capsys.readouterr().out
    assert "status: no" in out
    assert "was not checked" in out and "accepted because of --trust-solver" in out
    assert main(["solve", str(inst), "--method", "milp", "--trust-solver", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "no" and doc["proof"]["trusted"] == TRUSTED
    assert main(["solve", str(inst), "--method", "milp", "--optimize"]) == 0
    out = capsys.readouterr().out
    assert "lower bound:" in out and "uncertified" in out


@needs_highs
def test_certify_labels_the_bound_uncertified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = far_target()
    certified = certified_gap(problem, methods=(), time_limit=20)
    assert certified.lower_bound_certified and certified.lower_bound_basis == BASIS_CHECKED
    assert certified.lower_bound is not None and 3.99 <= certified.lower_bound <= 4
    # where bab does not apply, the bound is the float solver's, labelled as such
    from geninv.solvers.bab.backend import BabBackend

    monkeypatch.setattr(BabBackend, "unsupported_reason", classmethod(lambda cls, p: "off"))
    report = certified_gap(problem, methods=(), time_limit=20)
    assert report.lower_bound is not None and report.lower_bound == pytest.approx(4, rel=1e-5)
    assert report.lower_bound_certified is False and report.lower_bound_basis == UNCERTIFIED
    trusted = certified_gap(problem, methods=(), time_limit=20, trust_solver=True)
    assert TRUSTED in trusted.lower_bound_basis
    inst = save_instance(problem, tmp_path / "far")
    assert main(["solve", str(inst), "--certify", "--time-limit", "10"]) == 0
    out = capsys.readouterr().out
    assert "uncertified" in out
    assert re.search(r"\b(proven|certified)\b", out) is None  # "uncertified" only


class _Approx(_Certifier):
    """A stand-in approximate backend that found a point at distance 4 (exact)."""

    name = "zz-approx"

    def solve(self, problem: InversionProblem, **kw: Any) -> Solution:  # type: ignore[override]
        z = [Fraction(1)]
        chk = problem.exact_check(z)
        status = Status.YES if chk.meets else Status.UNKNOWN
        return Solution(status, self.name, z=z, reason="-", stats={"best_distance": chk.distance})


def test_certify_drops_a_bound_above_a_found_distance(monkeypatch: pytest.MonkeyPatch) -> None:
    import geninv.gap as gap
    from geninv.solvers.bab.backend import BabBackend

    # the float fallback (bab, which would certify a bound here, kept out of the way)
    monkeypatch.setattr(BabBackend, "unsupported_reason", classmethod(lambda cls, p: "off"))
    problem = far_target()  # the point z = 1 is at distance 4
    monkeypatch.setitem(REGISTRY, _Approx.name, _Approx)
    monkeypatch.setattr(gap, "_why_no_milp", lambda _p: None)
    monkeypatch.setattr(gap, "_milp_lower_bound", lambda *a, **k: 100.0)  # a broken solver
    report = gap.certified_gap(problem, methods=(_Approx.name,), time_limit=5)
    assert report.best_distance == 4.0
    assert report.lower_bound is None and report.lower_bound_basis == ""
    assert "exceeds the exact distance" in (report.no_bound_reason or "")
    monkeypatch.setattr(gap, "_milp_lower_bound", lambda *a, **k: 3.5)
    fine = gap.certified_gap(problem, methods=(_Approx.name,), time_limit=5)
    assert fine.lower_bound == 3.5 and fine.lower_bound_basis == UNCERTIFIED


# ------------------------------------------------------------------ range and statuses
@needs_highs
def test_unscaled_huge_model_is_refused() -> None:
    problem = identity_huge()
    sol = solve(problem, "milp", options={"scale": False})
    assert sol.status is Status.UNKNOWN
    assert sol.reason is not None and "represents safely" in sol.reason
    assert sol.stats["numerics_refused"] is True
    assert sol.stats["model_range"]["max_abs_rhs"] > MAX_MAGNITUDE


def test_model_range_limits() -> None:
    m = _Model()
    a, b = m.add_col(0.0, 1.0), m.add_col(0.0, 1.0)
    m.add_row(-1.0, 1.0, [a, b], [1.0, -2.0])
    assert model_range(m).refusal() is None
    m.add_row(-math.inf, 2e9, [a], [1.0])
    assert "right-hand side" in (model_range(m).refusal() or "")
    ratio = _Model()
    c, d = ratio.add_col(0.0, 1.0), ratio.add_col(0.0, 1.0)
    ratio.add_row(0.0, 1.0, [c, d], [1e-6, 1e5])
    assert "range over" in (model_range(ratio).refusal() or "")
    assert "right-hand side" in (model_range(m, extra_rhs=-3e9).refusal() or "")
    wide = _Model()
    wide.add_col(0.0, 5e9)
    assert "bound" in (model_range(wide).refusal() or "")


@needs_highs
def test_every_highs_status_is_mapped() -> None:
    import highspy

    members = [m for m in dir(highspy.HighsModelStatus) if m.startswith("k")]
    assert members
    for name in members:
        assert name in HIGHS_STATUS, name
        verdict, reason = status_meaning("highs", name)
        assert verdict in ("yes", "no", "unknown") and reason
    assert HIGHS_STATUS["kInfeasible"][0] == "no"
    assert HIGHS_STATUS["kTimeLimit"] == ("unknown", "time limit")
    verdict, reason = status_meaning("highs", "kSomethingNew")
    assert verdict == "unknown" and "'kSomethingNew'" in reason


def test_scip_statuses_are_mapped() -> None:
    for name in ("optimal", "infeasible", "inforunbd", "unbounded", "timelimit", "sollimit"):
        assert name in SCIP_STATUS
    assert {v for v, _ in SCIP_STATUS.values()} == {"yes", "no", "unknown"}
    assert SCIP_STATUS["infeasible"][0] == "no" and SCIP_STATUS["unbounded"][0] == "unknown"
    verdict, reason = status_meaning("scip", "weird")
    assert verdict == "unknown" and "'weird'" in reason


@needs_highs
def test_auto_goes_on_past_a_float_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A floating-point backend that runs out of its share of the time ends 'unknown';
    auto then gives the time left to the certifying backend instead of stopping."""

    def timed_out(self: Backend, problem: InversionProblem, **kw: Any) -> Solution:
        return Solution(Status.UNKNOWN, self.name, reason="time limit (stand-in)")

    for name in ("milp-scip", "milp"):
        monkeypatch.setattr(REGISTRY[name], "solve", timed_out)
    sol = solve(mixed_far_target(), "auto", time_limit=60)
    assert sol.status is Status.NO and sol.method == "bab", sol.reason
    assert sol.proof is not None and sol.proof["basis"] == BASIS_CHECKED
    assert [r.split(":")[0] for r in sol.stats["auto_uncertified"]] == ["milp-scip"]


@needs_highs
def test_a_scip_exception_is_unknown_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyscipopt raises plain Exceptions ("SCIP: error in LP solver!") from native code,
    also inside milp-scip's racing threads: the answer is unknown with the reason."""
    import geninv.solvers.milp.scip as milp

    real = milp._scip_model

    class Failing:
        def __init__(self, model: Any) -> None:
            self._model = model

        def __getattr__(self, name: str) -> Any:
            return getattr(self._model, name)

        def optimizeNogil(self) -> None:  # pyscipopt's name
            raise Exception("SCIP: error in LP solver!")

    def failing(*args: Any, **kwargs: Any) -> Any:
        m, cols = real(*args, **kwargs)
        return Failing(m), cols

    monkeypatch.setattr(milp, "_scip_model", failing)
    sol = solve(far_target(), "milp-scip", time_limit=20)
    assert sol.status is Status.UNKNOWN
    assert sol.reason is not None and "SCIP: error in LP solver!" in sol.reason
