"""``admm`` in the paper's signal-space split (Latorre, Eftekhari & Cevher 2019) against
bench/reference_csgm.py's independent implementation, and the old split elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from geninv import sensing
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem
from geninv.solvers.base import solve
from tests.test_presets import _small_sigmoid_generator


@pytest.mark.parametrize(("m", "restarts"), [(9, 1), (20, 3), (40, 2)])
def test_admm_equals_the_reference(m: int, restarts: int) -> None:
    """Fixed penalty, final iterates: geninv's estimate is the reference's to 1e-9 (the
    x step through A's SVD there, a Cholesky solve here; m > q included)."""
    from .conftest import load_bench

    ref = load_bench("reference_csgm")
    layers, gen = _small_sigmoid_generator()
    rng = np.random.default_rng(m)
    a = sensing.gaussian_measurements(m, 30, rng)
    y = a @ rng.uniform(0, 1, size=30)
    seed = 7
    opts = {"gamma": 0.05, "beta": 2.0, "sigma": 1.0, "steps": 60}
    want = ref.admm(layers, a, y, restarts=restarts, init_seed=lambda i: seed + i, **opts)
    problem = sensing.sensing_problem(gen, a, y)
    x_hat, sol = sensing.recover(
        problem,
        "admm",
        seed=seed,
        options={**opts, "restarts": restarts, "schedule": "fixed", "keep": "last"},
    )
    assert sol.stats["split"].startswith("signal")
    assert np.max(np.abs(x_hat - want.x_hat)) < 1e-9
    # and the iterations did something: the measurement error fell below x0 = G(z0)'s
    start = ref.admm(
        layers, a, y, restarts=restarts, init_seed=lambda i: seed + i, **{**opts, "steps": 0}
    )
    assert want.measurement_error < 0.9 * start.measurement_error


def test_admm_recovers_in_range_signal() -> None:
    """A signal in the generator's range, m > k: the default (adaptive) schedule moves
    the estimate far closer to it than the start G(z0)."""
    _, gen = _small_sigmoid_generator()
    rng = np.random.default_rng(5)
    x = gen.forward(rng.normal(size=4))
    a = sensing.gaussian_measurements(20, 30, rng)
    problem = sensing.sensing_problem(gen, a, a @ x)
    opts = {"restarts": 1, "gamma": 0.5, "keep": "last"}
    x0, _ = sensing.recover(problem, "admm", seed=1, options={**opts, "steps": 0})
    x_hat, _ = sensing.recover(problem, "admm", seed=1, options={**opts, "steps": 300})
    assert sensing.per_pixel_error(x, x_hat) < min(0.005, 0.2 * sensing.per_pixel_error(x, x0))


def test_non_sensing_problem_keeps_the_output_split() -> None:
    _, gen = _small_sigmoid_generator()
    rng = np.random.default_rng(2)
    target = gen.forward(rng.normal(size=4))
    problem = InversionProblem(gen, [float(v) for v in target], Domain("real"), p=2, threshold=0.5)
    sol = solve(problem, "admm", seed=0, options={"steps": 50, "restarts": 1})
    assert sol.stats["split"].startswith("network output")


def test_admm_mnist_elu_preset_numbers() -> None:
    from geninv.solvers.approx.presets import get_preset

    p = get_preset("admm-mnist-elu")
    assert p.backend == "admm"
    assert dict(p.options) == {
        "gamma": 0.02,
        "beta": 50.0,
        "sigma": 100.0,
        "schedule": "adaptive",
        "f_weight": 0.5,
        "steps": 3000,
        "restarts": 3,
        "keep": "best",
    }
    assert p.unstated  # --normalize and the restart rule are said to be assumed


@pytest.mark.parametrize(("m", "keep"), [(8, "best"), (25, "last"), (40, "best")])
def test_admm_preset_rule_equals_the_reference_on_an_elu_generator(m: int, keep: str) -> None:
    """The preset's update rule (f = 1/2 ||Ax - y||^2, exact x step, adaptive penalty)
    against the reference written from the paper (eigendecomposition of A^T A there,
    A's SVD here): the same estimate to 1e-8, on an ELU generator."""
    from geninv.workflows import apply_preset

    from .conftest import load_bench

    ref = load_bench("reference_csgm")
    rng = np.random.default_rng(40 + m)
    layers = [
        (rng.normal(size=(12, 4)), rng.normal(size=12), "elu"),
        (rng.normal(size=(30, 12)) / 3, rng.normal(size=30), "sigmoid"),
    ]
    gen = ReLUNetwork(
        [w for w, _, _ in layers], [b for _, b, _ in layers], activations=["elu", "sigmoid"]
    )
    a = sensing.gaussian_measurements(m, 30, rng)
    y = a @ rng.uniform(0, 1, size=30)
    # small beta and sigma, so that the adaptive rule's every branch is taken in 80 steps
    over = {"steps": 80, "gamma": 0.02, "beta": 0.05, "sigma": 0.1, "keep": keep}
    method, opts = apply_preset("admm-mnist-elu", None, {**over, "device": "cpu"})
    want = ref.admm(
        layers, a, y, gamma=0.02, beta=0.05, sigma=0.1, steps=80, restarts=3,
        init_seed=lambda i: 5 + i, f_weight=0.5, schedule="adaptive", keep=keep,
    )  # fmt: skip
    problem = sensing.sensing_problem(gen, a, y, threshold=1e-12)
    x_hat, sol = sensing.recover(problem, method, seed=5, options=opts)
    assert sol.stats["f_weight"] == 0.5 and sol.stats["schedule"] == "adaptive"
    assert np.max(np.abs(x_hat - want.x_hat)) < 1e-8
    assert max(sol.stats["final_beta"]) > 0.05  # the adaptive penalty did grow
