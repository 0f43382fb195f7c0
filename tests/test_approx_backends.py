"""The incomplete backends: gradient methods (solvers/approx.py) and the layer-wise LP.

* realizable targets ``G(z*)`` on random expansive networks: each backend gets
  within ``1e-3 ||x||`` and says ``yes`` on at least 4 of 5 fixed seeds;
* Theorem 2 networks of unsatisfiable formulas (and other targets with no
  preimage): ``unknown`` -- never ``no`` -- with ``best_distance`` equal to
  the exact distance of the returned ``z``;
* reproducibility from ``seed``, time limits, batched restarts (restart ``i``
  is the run with seed ``seed + i``), sigmoid/tanh outputs, every norm,
  box latents, refusals, and the layer-wise LP's exact recovery on networks
  that expand by at least ~2.1x per layer (Lei et al. 2019).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import UnsupportedError, ValidationError
from geninv.network import ReLUNetwork
from geninv.oracles import sat_oracle
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.base import REGISTRY, get_backend, solve

from .conftest import random_cnf

get_backend("enumerate")  # loads the built-in backends
GRADIENT = ("adam", "pgd", "admm", "langevin", "flipgd")
ALL = (*GRADIENT, "layerwise")
BUILTIN = {name: name in REGISTRY for name in ALL}

from geninv.solvers import approx, layerwise  # noqa: E402  (registers the backends)

OURS = {name: REGISTRY[name] for name in ALL}
assert OURS["layerwise"] is layerwise.LayerwiseBackend and OURS["adam"] is approx.AdamBackend
for _name in ALL:
    if not BUILTIN[_name]:
        # Until geninv.solvers.base loads these backends itself, keep them registered
        # only while these tests run (as tests/test_milp.py does for 'milp').
        REGISTRY.pop(_name, None)

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="the gradient backends need torch")


@pytest.fixture(autouse=True, scope="module")
def registered() -> Iterator[None]:
    added = [name for name in ALL if name not in REGISTRY]
    for name in added:
        REGISTRY[name] = OURS[name]
    yield
    for name in added:
        REGISTRY.pop(name, None)


#: Options that make each backend fast on the small test networks (CPU, float64).
#: The published defaults are tuned for MNIST/celebA-sized generators; see the module
#: docstrings.  ADMM's gamma/beta/sigma are rescaled to these networks' gain.
FAST: dict[str, dict[str, Any]] = {
    "adam": {"restarts": 4, "steps": 600},
    "pgd": {"outer_steps": 30},
    "admm": {"gamma": 0.1, "beta": 1.0, "sigma": 1.0, "steps": 1000},
    "langevin": {"lr": 0.01, "beta": 1e8, "steps": 1500},
    "flipgd": {"steps": 1000},
    "layerwise": {},
}


def opts(name: str, **extra: Any) -> dict[str, Any]:
    out = dict(FAST[name])
    if name != "layerwise":
        out["device"] = "cpu"
    out.update(extra)
    return out


def gaussian_net(
    seed: int,
    dims: tuple[int, ...] = (5, 50, 100),
    bias: float = 0.1,
    final: str = "relu",
) -> tuple[ReLUNetwork, np.random.Generator]:
    """Weights N(0, 1/fan_in), biases bias * N(0, 1)."""
    rng = np.random.default_rng(1000 + seed)
    ws = [
        rng.normal(0.0, 1.0 / math.sqrt(dims[i]), size=(dims[i + 1], dims[i]))
        for i in range(len(dims) - 1)
    ]
    bs = [bias * rng.normal(size=dims[i + 1]) for i in range(len(dims) - 1)]
    return ReLUNetwork(ws, bs, final_activation=final), rng


def realizable(
    seed: int, rel: float = 1e-3, p: float = 2.0, **kw: Any
) -> tuple[InversionProblem, np.ndarray]:
    net, rng = gaussian_net(seed, **kw)
    z_star = rng.normal(size=net.n_inputs)
    x = net.forward(z_star)
    norm = float(np.linalg.norm(x, ord=p))
    return InversionProblem(net, x, Domain("real"), p=p, threshold=rel * norm), z_star


def check_unknown(problem: InversionProblem, sol: Solution) -> None:
    """An honest 'unknown': a reason, a z, and best_distance = exact distance of that z."""
    assert sol.status is Status.UNKNOWN, (sol.method, sol.status)
    assert sol.reason
    assert sol.z is not None
    chk = problem.exact_check(sol.z)
    assert sol.stats["best_distance"] == chk.distance
    assert sol.distance == chk.distance
    assert not chk.meets


# ------------------------------------------------------------------ realizable targets
@pytest.mark.parametrize("name", ALL)
def test_recovers_realizable_targets(name: str) -> None:
    if name in GRADIENT and not HAS_TORCH:
        pytest.skip("needs torch")
    successes = 0
    for seed in range(5):
        problem, _ = realizable(seed, bias=0.0 if name == "flipgd" else 0.1)
        sol = solve(problem, name, seed=seed, options=opts(name))
        assert sol.status is not Status.NO
        if sol.status is Status.YES:
            assert sol.check is not None and sol.check.meets
            assert sol.distance is not None and sol.distance <= problem.threshold_float()
            successes += 1
        else:
            check_unknown(problem, sol)
    assert successes >= 4, f"{name}: {successes}/5"


# ------------------------------------------------------------------ no preimage
def unsat_theorem2() -> InversionProblem:
    rng = np.random.default_rng(11)
    while True:
        cnf = random_cnf(rng, 5, 32)
        if not sat_oracle(cnf):
            return SatReduction("real").apply(cnf)[0]


THM2_OPTIONS: dict[str, dict[str, Any]] = {
    "adam": {"restarts": 3, "steps": 200},
    "pgd": {"outer_steps": 3, "inner_steps": 50},
    "admm": {"steps": 300},
    "langevin": {"steps": 300},
    "layerwise": {},
}


@pytest.mark.parametrize("name", ALL)
def test_unsatisfiable_theorem2_is_unknown_never_no(name: str) -> None:
    if name in GRADIENT and not HAS_TORCH:
        pytest.skip("needs torch")
    problem = unsat_theorem2()
    if name == "flipgd":
        # Theorem 2's gadgets have biases: outside Hand & Voroninski's model
        reason = OURS[name].unsupported_reason(problem)
        assert reason is not None and "bias" in reason
        with pytest.raises(UnsupportedError, match="bias"):
            solve(problem, name, options={"device": "cpu"})
        return
    extra = {} if name == "layerwise" else {"device": "cpu"}
    sol = solve(problem, name, seed=3, options={**THM2_OPTIONS[name], **extra})
    check_unknown(problem, sol)
    assert "does not show that no preimage exists" in (sol.reason or "")


@needs_torch
def test_flipgd_unreachable_target_is_unknown() -> None:
    # ReLU outputs are >= 0: a target with a negative entry has no preimage
    net, _ = gaussian_net(0, bias=0.0)
    target = np.abs(net.forward(np.ones(5)))
    target[0] = -1.0
    problem = InversionProblem(net, target, Domain("real"), p=2, threshold=0.5)
    sol = solve(problem, "flipgd", seed=0, options={"steps": 200, "device": "cpu"})
    check_unknown(problem, sol)


# ------------------------------------------------------------------ reproducibility, limits
@needs_torch
@pytest.mark.parametrize("name", GRADIENT)
def test_same_seed_same_z(name: str) -> None:
    problem, _ = realizable(1, rel=0.0, bias=0.0)  # exact inversion: no early stop
    small = {"steps": 60} if name != "pgd" else {"outer_steps": 2, "inner_steps": 30}
    o = {**small, "device": "cpu", "restarts": 2}
    a = solve(problem, name, seed=5, options=o)
    b = solve(problem, name, seed=5, options=o)
    c = solve(problem, name, seed=6, options=o)
    assert a.status is b.status is Status.UNKNOWN
    assert a.z == b.z
    assert a.stats["restart_distances"] == b.stats["restart_distances"]
    assert a.z != c.z


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("limit", [0.0, 1e-3])
def test_tiny_time_limit_is_unknown_with_reason(name: str, limit: float) -> None:
    if name in GRADIENT and not HAS_TORCH:
        pytest.skip("needs torch")
    problem, _ = realizable(2, rel=0.0, bias=0.0)
    sol = solve(problem, name, seed=0, time_limit=limit, options=opts(name))
    assert sol.status is Status.UNKNOWN
    assert sol.reason
    if limit == 0 or name in GRADIENT:  # two small LPs might finish within 1 ms
        assert "time limit" in sol.reason
    if name in GRADIENT:
        # the best point so far, with its exact distance
        assert sol.z is not None
        assert sol.stats["best_distance"] == problem.exact_check(sol.z).distance
        if limit == 0:
            assert sol.stats["iterations"] <= 1
        assert sol.stats["iterations"] < sol.stats["planned_iterations"]


@needs_torch
@pytest.mark.parametrize("name", ["adam", "pgd", "admm", "flipgd"])
def test_batched_restarts_are_independent_single_runs(name: str) -> None:
    problem, _ = realizable(3, rel=0.0, bias=0.0)
    small = {"steps": 25} if name != "pgd" else {"outer_steps": 1, "inner_steps": 25}
    base = {**FAST[name], **small, "device": "cpu"}
    batched = solve(problem, name, seed=40, options={**base, "restarts": 8})
    per_restart = batched.stats["restart_distances"]
    singles = [
        solve(problem, name, seed=40 + i, options={**base, "restarts": 1}).stats[
            "restart_distances"
        ][0]
        for i in range(8)
    ]
    np.testing.assert_allclose(per_restart, singles, rtol=1e-7)
    # the answer is the best of the 8
    assert batched.stats["best_float_distance"] == min(per_restart)
    assert batched.stats["best_distance"] == pytest.approx(min(per_restart), rel=1e-9)
    assert all(batched.stats["best_distance"] <= d * (1 + 1e-9) for d in singles)


@needs_torch
def test_langevin_batch_keeps_the_best_restart() -> None:
    problem, _ = realizable(4, rel=0.0)
    sol = solve(problem, "langevin", seed=2, options={"restarts": 8, "steps": 50, "device": "cpu"})
    dists = sol.stats["restart_distances"]
    assert len(dists) == 8
    assert sol.stats["best_distance"] == pytest.approx(min(dists), rel=1e-9)


# ------------------------------------------------------------------ activations, norms, domains
@needs_torch
@pytest.mark.parametrize("final", ["sigmoid", "tanh"])
@pytest.mark.parametrize("name", ["adam", "langevin"])
def test_smooth_output_layers(name: str, final: str) -> None:
    successes = 0
    for seed in range(5):
        problem, _ = realizable(seed, final=final)
        # sigmoid' <= 1/4 flattens the landscape: Langevin takes a larger step
        extra = {"lr": 0.05} if name == "langevin" else {}
        sol = solve(problem, name, seed=seed, options=opts(name, **extra))
        assert sol.status is not Status.NO
        successes += sol.status is Status.YES
    assert successes >= 4, f"{name}/{final}: {successes}/5"


@needs_torch
@pytest.mark.parametrize(
    ("name", "p"),
    [(name, p) for name in ("adam", "admm") for p in (1.0, 3.0, math.inf)] + [("pgd", math.inf)],
)
def test_other_norms(name: str, p: float) -> None:
    successes = 0
    for seed in range(3):
        problem, _ = realizable(seed, p=p)
        sol = solve(problem, name, seed=seed, options=opts(name))
        assert sol.status is not Status.NO
        if sol.status is Status.YES:
            assert sol.check is not None and sol.check.meets
            successes += 1
    assert successes >= 2, f"{name}, p={p}: {successes}/3"


@needs_torch
def test_box_latents_stay_in_the_box() -> None:
    net, rng = gaussian_net(7)
    z_star = rng.uniform(-0.5, 0.5, size=5)
    x = net.forward(z_star)
    box = Domain.box([Fraction(-1, 3)] * 5 + [], [Fraction(2, 3)] * 5)
    problem = InversionProblem(net, x, box, p=2, threshold=1e-3 * float(np.linalg.norm(x)))
    for name in ("adam", "admm", "langevin", "layerwise"):
        sol = solve(problem, name, seed=1, options=opts(name))
        assert sol.status is not Status.NO
        if sol.z is not None:
            assert all(Fraction(-1, 3) <= v <= Fraction(2, 3) for v in sol.z), name


def test_discrete_latents_are_refused() -> None:
    net, _ = gaussian_net(0)
    for kind in ("binary", "sign"):
        problem = InversionProblem(net, net.forward(np.ones(5)), Domain(kind))
        for name in ALL:
            assert OURS[name].unsupported_reason(problem) is not None
            if OURS[name].available():
                with pytest.raises(UnsupportedError, match=kind):
                    solve(problem, name)


def test_capabilities() -> None:
    for name in ALL:
        caps = OURS[name].capabilities
        assert not caps.complete and caps.exact and caps.approximate and caps.norms == "any"
        assert caps.domains == frozenset({"real", "box"})
        assert {"relu", "identity", "leaky_relu", "sigmoid", "tanh"} <= caps.activations


def test_bad_options_are_validation_errors() -> None:
    problem, _ = realizable(0, bias=0.0)
    for name, bad in [
        ("adam", {"restarts": 0}),
        ("adam", {"lr": -1.0}),
        ("adam", {"dtype": "float16"}),
        ("pgd", {"inner_optimizer": "lbfgs"}),
        ("admm", {"schedule": "cubic"}),
        ("langevin", {"beta": 0}),
        ("flipgd", {"nonsense": 1}),
        ("layerwise", {"variant": "l2"}),
        ("layerwise", {"eps_factor": 1.0}),
    ]:
        if not OURS[name].available():
            continue
        with pytest.raises(ValidationError):
            solve(problem, name, options=bad)


# ------------------------------------------------------------------ flipgd specifics
@needs_torch
def test_flipgd_refuses_other_activations() -> None:
    net, _ = gaussian_net(0, bias=0.0, final="tanh")
    problem = InversionProblem(net, net.forward(np.ones(5)), Domain("real"))
    reason = OURS["flipgd"].unsupported_reason(problem)
    assert reason is not None and "ReLU" in reason
    identity_last, _ = gaussian_net(0, bias=0.0, final="identity")
    ok = InversionProblem(identity_last, identity_last.forward(np.ones(5)), Domain("real"))
    assert OURS["flipgd"].unsupported_reason(ok) is None


def test_rho_d() -> None:
    assert approx.rho_d(1) == pytest.approx(0.0, abs=1e-15)
    assert approx.rho_d(2) == pytest.approx(1 / math.pi)
    values = [approx.rho_d(d) for d in range(1, 8)]
    assert all(0 <= v < 1 for v in values) and values == sorted(values)


# ------------------------------------------------------------------ numerical helpers
@needs_torch
def test_project_l1_ball_and_prox() -> None:
    import torch
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(0)
    v = torch.tensor(rng.normal(size=(6, 7)), dtype=torch.float64)
    radius = torch.tensor([0.1, 0.5, 1.0, 2.0, 50.0, 3.0], dtype=torch.float64)
    w = approx.project_l1_ball(v, radius)
    for i in range(6):
        r = float(radius[i])
        wi, vi = w[i].numpy(), v[i].numpy()
        assert np.abs(wi).sum() <= r + 1e-12
        if np.abs(vi).sum() <= r:
            np.testing.assert_array_equal(wi, vi)
        else:  # soft threshold at the theta that makes the l1 norm r
            theta = np.max(np.abs(vi) - np.abs(wi))
            np.testing.assert_allclose(
                wi, np.sign(vi) * np.maximum(np.abs(vi) - theta, 0), atol=1e-12
            )
            assert np.abs(wi).sum() == pytest.approx(r)
    beta = torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0, 16.0], dtype=torch.float64)
    for p in (1.0, 1.5, 2.0, 3.0):
        u = approx.prox_lp(v, p, beta).numpy()
        for i in range(6):
            for j in range(7):
                b, vv = float(beta[i]), float(v[i, j])
                res = minimize_scalar(
                    lambda t, b=b, vv=vv, p=p: abs(t) ** p / p + b / 2 * (t - vv) ** 2,
                    bounds=(-abs(vv) - 1, abs(vv) + 1),
                    method="bounded",
                    options={"xatol": 1e-12},
                )
                assert u[i, j] == pytest.approx(res.x, abs=1e-6), (p, b, vv)


@needs_torch
def test_inf_surrogate_is_a_smooth_upper_bound() -> None:
    import torch

    d = torch.tensor([[3.0, -4.0, 0.5], [1e-30, 0.0, -2e-30], [0.0, 0.0, 0.0]], dtype=torch.float64)
    d.requires_grad_(True)
    val = approx.data_loss(d, math.inf, mean=False)
    linf = d.detach().abs().amax(dim=1)
    assert torch.all(val >= linf**2 * (1 - 1e-12))
    assert torch.all(val <= linf**2 * 3 ** (2 / approx.INF_P) * (1 + 1e-12))
    (g,) = torch.autograd.grad(val.sum(), d)
    assert torch.all(torch.isfinite(g))


# ------------------------------------------------------------------ layer-wise LP
@pytest.mark.parametrize("variant", ["linf", "l1"])
def test_layerwise_recovers_exactly_on_expansive_nets(variant: str) -> None:
    # widths 10 -> 25 -> 60: each layer expands by >= 2.4 (the paper asks for ~2.1)
    successes = 0
    for seed in range(5):
        net, rng = gaussian_net(seed, dims=(10, 25, 60), bias=0.0)
        z_star = rng.normal(size=10)
        problem = InversionProblem(net, net.forward(z_star), Domain("real"), p=2, threshold=1e-6)
        sol = solve(problem, "layerwise", options={"variant": variant})
        assert sol.status is not Status.NO
        if sol.status is Status.YES:
            assert sol.z is not None
            assert np.max(np.abs(np.array([float(v) for v in sol.z]) - z_star)) < 1e-6
            successes += 1
    assert successes >= 4


def test_layerwise_leaky_and_smooth_output_layers() -> None:
    rng = np.random.default_rng(3)
    ws = [rng.normal(size=(20, 6)) / math.sqrt(6), rng.normal(size=(45, 20)) / math.sqrt(20)]
    bs = [0.1 * rng.normal(size=20), 0.1 * rng.normal(size=45)]
    for acts in (["leaky_relu:1/5", "identity"], ["relu", "sigmoid"], ["leaky_relu", "tanh"]):
        net = ReLUNetwork(ws, bs, activations=acts)
        z_star = rng.normal(size=6)
        problem = InversionProblem(
            net, net.forward(z_star), Domain("real"), p=math.inf, threshold=1e-6
        )
        sol = solve(problem, "layerwise")
        assert sol.status is Status.YES, (acts, sol.reason)


def test_layerwise_refusals() -> None:
    rng = np.random.default_rng(4)
    ws = [rng.normal(size=(8, 3)), rng.normal(size=(12, 8))]
    bs = [np.zeros(8), np.zeros(12)]
    middle = ReLUNetwork(ws, bs, activations=["sigmoid", "relu"])
    prob = InversionProblem(middle, middle.forward(np.ones(3)), Domain("real"))
    with pytest.raises(UnsupportedError, match="only in the last layer"):
        solve(prob, "layerwise")


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_layerwise_saturated_targets_are_one_sided(act: str) -> None:
    """A real image's exact 0 and 1 pixels under a last sigmoid (-1 and 1 under tanh)
    have no finite preimage: they become one-sided constraints (a <= logit(1e-6) at
    the low end), and the recovered point meets the threshold, checked exactly.  The
    old backend refused every such target."""
    rng = np.random.default_rng(12)
    w1, w2 = rng.normal(size=(40, 4)), rng.normal(size=(60, 40))
    w2[:10] *= 40.0  # ten outputs driven far into saturation
    net = ReLUNetwork([w1, w2], [np.zeros(40), np.zeros(60)], activations=["relu", act])
    z = rng.normal(size=4)
    target = net.forward(z)
    low, high = (0.0, 1.0) if act == "sigmoid" else (-1.0, 1.0)
    pre = w2 @ np.maximum(w1 @ z, 0.0)
    sat_lo, sat_hi = pre < -30, pre > 30
    assert sat_lo.sum() + sat_hi.sum() >= 5
    target[sat_lo], target[sat_hi] = low, high  # exact pixels, as a real image has them
    prob = InversionProblem(net, target, Domain("real"), p=math.inf, threshold=1e-3)
    sol = solve(prob, "layerwise")
    assert sol.status is Status.YES, sol.reason
    assert prob.exact_check(sol.z).meets
    assert solve(prob, "layerwise", options={"variant": "l1"}).status is Status.YES


def test_layerwise_noisy_target_grows_eps() -> None:
    net, rng = gaussian_net(5, dims=(5, 30, 80))
    x = net.forward(rng.normal(size=5)) + 0.01 * rng.normal(size=80)
    problem = InversionProblem(net, x, Domain("real"), p=math.inf, threshold=0)
    sol = solve(problem, "layerwise")
    check_unknown(problem, sol)
    eps = sol.stats["layer_eps"]
    assert eps[0] > 0 and sol.stats["iterations"] > 2
    # a threshold the recovered point meets gives yes
    loose = InversionProblem(
        net, x, Domain("real"), p=math.inf, threshold=2 * sol.stats["best_distance"]
    )
    assert solve(loose, "layerwise").status is Status.YES


# ------------------------------------------------------------------ never 'no' (random)
@needs_torch
@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    p=st.sampled_from([1.0, 2.0, math.inf]),
    threshold=st.sampled_from([0.0, 0.05, 0.5]),
    name=st.sampled_from(["adam", "langevin", "layerwise"]),
)
def test_random_problems_never_no(seed: int, p: float, threshold: float, name: str) -> None:
    rng = np.random.default_rng(seed)
    dims = [int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 5))]
    ws = [rng.integers(-2, 3, size=(dims[k + 1], dims[k])).astype(float) for k in range(2)]
    bs = [rng.integers(-1, 2, size=dims[k + 1]).astype(float) for k in range(2)]
    net = ReLUNetwork(ws, bs, final_activation=str(rng.choice(["relu", "identity"])))
    target = rng.integers(-2, 3, size=dims[2]).astype(float)
    problem = InversionProblem(net, target, Domain("real"), p=p, threshold=threshold)
    options: dict[str, Any] = {} if name == "layerwise" else {"steps": 50, "device": "cpu"}
    sol = solve(problem, name, seed=seed, options=options)
    assert sol.status in (Status.YES, Status.UNKNOWN)
    if sol.status is Status.YES:
        assert sol.check is not None and sol.check.meets
    elif sol.z is not None:
        assert sol.stats["best_distance"] == problem.exact_check(sol.z).distance


# ------------------------------------------------------------------ CUDA (when present)
@needs_torch
@pytest.mark.parametrize("name", GRADIENT)
def test_cuda_device_when_available(name: str) -> None:
    """On a CUDA machine: each torch backend runs there, succeeds, and is reproducible."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (the GPU path runs where torch sees one)")
    problem, _ = realizable(0, bias=0.0 if name == "flipgd" else 0.1)
    runs = [
        solve(problem, name, seed=0, options={**FAST[name], "device": "cuda"}) for _ in range(2)
    ]
    for sol in runs:
        assert sol.stats["device"].startswith("cuda")
        assert sol.status is Status.YES, (name, sol.reason)
        assert sol.check is not None and sol.check.meets
    assert runs[0].z == runs[1].z, f"{name}: same seed, different points on CUDA"
