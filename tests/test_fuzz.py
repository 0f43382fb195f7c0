"""The differential tester's CI slice (issue 14, requirement 6).

The oracles themselves are tested first (exact l_p ties, integer brute force against
the enclosure brute force, the one-latent breakpoint analysis against dense
sampling); then derandomized Hypothesis slices run every quick backend, the exact
check, ``geninv check`` and the VNN-LIB route against them.  The long form is
``python bench/fuzz.py --minutes N``.
"""

from __future__ import annotations

import json
import random
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from geninv.testing.cases import Case
from geninv.testing.differential import CaseReport, reproducer_script, run_case, shrink
from geninv.testing.exactref import ScaledNet, forward_bounds, lp_sign, rational_root
from geninv.testing.oracles import Question, _brute_force_bounds, brute_force, one_latent, oracle
from geninv.testing.strategies import cases

from .conftest import load_bench

SLICE = settings(
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the message has the case
    suppress_health_check=list(HealthCheck),
)
#: The backends of the CI slice.  adam, admm, langevin and flipgd (torch, like pgd) take
#: 0.3-2 s a run even when capped, so only the long form (bench/fuzz.py) runs them.
QUICK = ["enumerate", "sat", "milp", "milp-scip", "miqp", "corners", "layerwise", "pgd"]


def test_quick_backends_are_installed() -> None:
    """The slices would skip a backend that is missing; say so instead."""
    from geninv.solvers.base import get_backend

    for name in QUICK:
        assert get_backend(name).available(), name


def _assert_clean(rep: CaseReport) -> None:
    if rep.failures:
        lines = [f"{o.route}: got {o.status} ({o.verdict}) {o.detail}" for o in rep.failures]
        o = rep.failures[0]
        pytest.fail(
            "\n".join(
                [
                    rep.case.describe(),
                    *lines,
                    "reproducer:",
                    reproducer_script(rep.case, o, rep.answer),
                    "case JSON:",
                    json.dumps(rep.case.to_json()),
                ]
            )
        )


# ------------------------------------------------------------------ the oracles
def test_three_halves_ties_are_exact() -> None:
    # 8 equal entries a: ||.||_{3/2} = 8^{2/3} a = 4a exactly
    assert lp_sign([F(1, 3)] * 8, "1.5", F(4, 3)) == 0
    assert lp_sign([F(1, 3)] * 8, "1.5", F(4, 3) + F(1, 10**30)) == -1
    assert lp_sign([F(1, 3)] * 8, "1.5", F(4, 3) - F(1, 10**30)) == 1
    # sqrt(2)^3 + sqrt(8)^3 = 18 sqrt(2) = sqrt(648); delta^{3/2} = sqrt(648): delta = 648^{1/3}
    # is irrational, so compare a rational just below and above (sign must flip)
    assert lp_sign([F(2), F(8)], "1.5", F(865, 100)) == 1
    assert lp_sign([F(2), F(8)], "1.5", F(866, 100)) == -1
    assert lp_sign([F(2), F(2)], "1.5", F(3)) == 1
    assert lp_sign([F(2), F(2)], "1.5", F(4)) == -1
    assert lp_sign([F(9, 4)], "1.5", F(9, 4)) == 0
    assert lp_sign([F(1), F(1)], "2", F(0), F(2)) == 0  # threshold_pow: delta^2 = 2
    assert rational_root(F(27, 8), 3) == F(3, 2) and rational_root(F(2), 2) is None


def _random_layers(
    rng: random.Random, n: int, q: int, depth: int
) -> list[tuple[list[list[F]], list[F], str]]:
    layers = []
    prev = n
    for k in range(depth):
        m = q if k == depth - 1 else rng.randint(1, 3)
        act = rng.choice(["relu", "identity", "leaky_relu:1/4"])
        w = [[F(rng.randint(-8, 8), rng.choice([1, 2, 3])) for _ in range(prev)] for _ in range(m)]
        layers.append((w, [F(rng.randint(-8, 8), rng.choice([1, 2, 3])) for _ in range(m)], act))
        prev = m
    return layers


def test_integer_brute_force_matches_enclosures() -> None:
    rng = random.Random(3)
    for _ in range(60):
        n, q = rng.randint(1, 4), rng.randint(1, 3)
        layers = _random_layers(rng, n, q, rng.randint(1, 3))
        net = ScaledNet(layers)
        z = [rng.choice([0, 1]) for _ in range(n)]
        assert [F(h, net.den) for h in net.forward(z)] == [
            lo for lo, _ in forward_bounds(layers, [F(v) for v in z])
        ]
        for p in ("1", "1.5", "2", "3", "inf"):
            qn = Question(
                layers,
                [F(rng.randint(-6, 6), 2) for _ in range(q)],
                rng.choice(["binary", "sign"]),
                None,
                None,
                p,
                F(rng.randint(0, 12), 4),
                rng.choice(["<=", "<"]),
            )
            if qn.threshold == 0:
                qn = Question(qn.layers, qn.target, qn.domain, None, None, p, F(0), "<=")
            assert brute_force(qn).status == _brute_force_bounds(qn).status


def test_breakpoint_oracle_against_sampling() -> None:
    """The one-latent oracle never says no where a sample point meets the threshold, and
    for p in 1, 2, inf its exact minimum is at most every sampled distance."""
    rng = random.Random(5)
    for _ in range(20):
        layers = _random_layers(rng, 1, rng.randint(1, 3), rng.randint(1, 3))
        target = [F(rng.randint(-8, 8), 2) for _ in layers[-1][1]]
        lo = F(rng.randint(-8, 8), 2)
        hi = lo + F(rng.randint(1, 8), 2)
        for p in ("1", "1.5", "2", "3", "inf"):
            for dom in ("box", "real"):
                qn = Question(
                    layers,
                    target,
                    dom,
                    [lo] if dom == "box" else None,
                    [hi] if dom == "box" else None,
                    p,
                    F(rng.randint(1, 16), 4),
                    rng.choice(["<=", "<"]),
                )
                ans = one_latent(qn)
                pts = (
                    [lo + (hi - lo) * F(i, 64) for i in range(65)]
                    if dom == "box"
                    else [F(i, 4) for i in range(-80, 81)]
                )
                if ans.status == "no":
                    assert not any(qn.decide([z]) for z in pts)
                if ans.status == "yes":
                    assert ans.witness is not None and qn.decide(ans.witness)
                if ans.min_pow is not None:
                    assert all(ans.min_pow <= (qn.residual_power([z]) or 0) for z in pts)


def test_shrinker_reaches_a_minimal_case() -> None:
    """Delta debugging on a synthetic failure ("some weight of the last layer is > 2")."""
    rng = random.Random(1)
    layers = _random_layers(rng, 3, 4, 3)
    layers[-1][0][0][0] = F(7)
    case = Case(layers, [F(0)] * 4, "binary", "1", F(1), "<=")

    def fails(c: Case) -> bool:
        return any(v > 2 for row in c.layers[-1][0] for v in row)

    small = shrink(case, fails, budget_s=20)
    assert fails(small)
    assert small.q == 1 and small.n == 1
    assert sum(1 for _, _, _ in small.layers) <= len(layers)


# ------------------------------------------------------------------ the slices
@settings(SLICE, max_examples=45)
@given(cases(domains=("binary", "sign"), max_discrete_n=8, max_outputs=12))
def test_discrete_slice(case: Case) -> None:
    _assert_clean(run_case(case, QUICK, time_limit=2.0, routes=("backends", "check")))


@settings(SLICE, max_examples=30)
@given(cases(domains=("box", "real"), max_outputs=12, max_depth=4))
def test_continuous_slice(case: Case) -> None:
    _assert_clean(run_case(case, QUICK, time_limit=0.5, routes=("backends", "check")))


ELUS = ("elu", "elu:1/2", "elu:3")


@settings(SLICE, max_examples=16)
@given(cases(max_discrete_n=6, max_outputs=8, max_depth=3, require=ELUS))
def test_elu_slice(case: Case) -> None:
    """Networks with an ELU layer (hidden or final, alpha 1, 1/2, 3): the complete
    backends refuse naming the layer, the approximate ones (pgd, primal) answer yes
    only with a witness the reference enclosure confirms, never no; the re-check and
    ``geninv check`` agree with the reference on its witness and non-witness."""
    backends = [*QUICK, "primal"]
    _assert_clean(run_case(case, backends, time_limit=0.5, routes=("backends", "check", "cli")))


def test_elu_slice_refusals_are_judged() -> None:
    """The refusal rule of the differential runner can fail: a reason that does not name
    the layer, or spans lines, is a REFUSAL."""
    from geninv.testing.differential import refusal_verdict

    special = {2: "elu:1/2"}
    assert refusal_verdict("backend 'x' cannot encode layer 2 (elu:1/2)", special, True)[0] == "ok"
    assert refusal_verdict("backend 'x' cannot encode this network", special, True)[0] == "REFUSAL"
    assert refusal_verdict("cannot encode layer 1 (elu)", special, True)[0] == "REFUSAL"
    assert refusal_verdict("layer 2 is elu; use adam", special, True)[0] == "ok"
    assert refusal_verdict("layer 21 is elu; use adam", special, True)[0] == "REFUSAL"
    assert refusal_verdict("handles domains box, real", special, False)[0] == "ok"
    assert refusal_verdict("line one\nline two", special, False)[0] == "REFUSAL"
    layers = [([[F(1)], [F(-1)]], [F(0), F(1)], "relu"), ([[F(1), F(1)]], [F(0)], "elu:1/2")]
    rep = run_case(Case(layers, [F(1)], "binary", "inf", F(1, 2), "<="), ["enumerate", "sat"],
                   routes=("backends",))  # fmt: skip
    refused = {o.route: o for o in rep.outcomes if o.status == "refused"}
    assert set(refused) == {"enumerate", "sat"}
    assert all(o.verdict == "ok" and "layer 2 (elu" in o.detail for o in refused.values())


@settings(SLICE, max_examples=10)
@given(cases(domains=("box", "binary"), max_discrete_n=5, max_outputs=6, max_depth=3))
def test_cli_and_vnnlib_slice(case: Case) -> None:
    _assert_clean(run_case(case, ["milp", "corners"], time_limit=1.0, routes=("cli", "vnnlib")))


def test_case_json_round_trip_and_oracle_on_planted_witness() -> None:
    layers = [
        ([[F(1)], [F(-1)]], [F(0), F(1, 3)], "relu"),
        ([[F(1), F(1)]], [F(-1, 2)], "identity"),
    ]
    case = Case(layers, [F(1, 2)], "box", "inf", F(0), "<=", [F(-1)], [F(2)], planted=[F(1)])
    again = Case.from_json(json.loads(case.dumps()))
    assert again.to_json() == case.to_json()
    ans = oracle(again.question())
    assert ans.status == "yes" and ans.witness is not None
    assert again.problem().exact_check(ans.witness).meets


def test_bench_fuzz_runs_and_replays(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path))
    bench = load_bench("fuzz")
    code = bench.main(
        [
            "--minutes",
            "0.05",
            "--seed",
            "3",
            "--backends",
            "enumerate",
            "--routes",
            "backends",
            "check",
            "--out",
            str(out),
            "--chunk",
            "3",
            "--shrink-budget",
            "5",
        ]
    )
    assert code in (0, 1)
    assert code == 0 or any(out.glob("fail-*.json"))
    case = Case([([[F(2)]], [F(-1)], "relu")], [F(1)], "binary", "2", F(0), "<=")
    path = out / "one.json"
    path.write_text(case.dumps())
    assert (
        bench.main(
            ["--replay", str(path), "--backends", "enumerate", "--routes", "backends", "check"]
        )
        == 0
    )
