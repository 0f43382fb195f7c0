"""Compressed sensing with a generator prior: A o G problems, recovery, Lasso, figures."""

from __future__ import annotations

import contextlib
import importlib
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from geninv.errors import GeninvError, ValidationError
from geninv.io.instance import load_instance, save_instance
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.sensing import (
    DEFAULT_RELATIVE_THRESHOLD,
    DIGITS_VAE_DIR,
    SENSING_KIND,
    gaussian_measurements,
    generator_of,
    lasso_baseline,
    load_digits_generator,
    load_test_digits,
    measurement_matrix_of,
    per_pixel_error,
    recover,
    save_grid_png,
    sensing_problem,
)
from geninv.solvers.base import REGISTRY, Backend, Capabilities, get_backend

M = 20  # measurements in the digits experiment (q = 64 pixels, k = 4 latents)


def random_generator(rng: np.random.Generator, final: str, exact: bool = False) -> ReLUNetwork:
    k, h, q = 3, 6, 9
    weights: list[Any] = [rng.normal(size=(h, k)), rng.normal(size=(q, h))]
    biases: list[Any] = [rng.normal(size=h), rng.normal(size=q)]
    if exact:  # weights no float holds
        weights[0] = [[Fraction(int(v * 100), 3) for v in row] for row in weights[0]]
        biases[0] = [Fraction(int(v * 100), 7) for v in biases[0]]
    return ReLUNetwork(weights, biases, activations=["relu", final])


# ---------------------------------------------------------------- the A o G network
@pytest.mark.parametrize("final", ["relu", "identity", "sigmoid", "tanh", "leaky_relu:1/5"])
def test_appended_layer_is_a_times_g(final: str) -> None:
    rng = np.random.default_rng(0)
    gen = random_generator(rng, final)
    A = gaussian_measurements(4, gen.n_outputs, seed=1)
    y = rng.normal(size=4)
    problem = sensing_problem(gen, A, y)
    net = problem.network
    assert net.depth == gen.depth + 1
    assert net.activations == [*gen.activations, "identity"]
    assert problem.p == 2 and problem.domain == Domain("real")
    z = rng.normal(size=(32, gen.n_inputs))
    assert np.allclose(net.forward(z), gen.forward(z) @ A.T, rtol=1e-12, atol=1e-12)
    assert problem.target_array().tolist() == y.tolist()
    params = problem.source.parameters
    assert params["kind"] == SENSING_KIND
    assert params["measurements"] == 4 and params["generator_layers"] == gen.depth
    assert params["signal_dim"] == gen.n_outputs and params["latent_dim"] == gen.n_inputs


def test_appended_layer_exact_for_piecewise_linear_generators() -> None:
    rng = np.random.default_rng(2)
    gen = random_generator(rng, "relu")
    A = gaussian_measurements(3, gen.n_outputs, seed=0)
    problem = sensing_problem(gen, A, np.zeros(3))
    z = [Fraction(1, 3), Fraction(-2), Fraction(5, 7)]
    g = gen.forward_exact(z)
    want = [
        sum((Fraction(float(a)) * v for a, v in zip(row, g, strict=True)), Fraction(0)) for row in A
    ]
    assert problem.network.forward_exact(z) == want
    assert problem.network.is_piecewise_linear


def test_generator_of_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for gen in (random_generator(rng, "sigmoid"), random_generator(rng, "relu", exact=True)):
        A = gaussian_measurements(5, gen.n_outputs, seed=2)
        problem = sensing_problem(gen, A, rng.normal(size=5), p="inf", threshold=0.5)
        back = generator_of(problem)
        assert back.activations == gen.activations
        assert back.is_float_exact() == gen.is_float_exact()
        for a, b in zip(back.layers, gen.layers, strict=True):
            assert a.exact_rows() == b.exact_rows()
            assert a.exact_bias_values() == b.exact_bias_values()
        assert np.array_equal(measurement_matrix_of(problem), A)
    # through an instance directory (ONNX + problem.json) as well
    gen = random_generator(rng, "tanh")
    A = gaussian_measurements(5, gen.n_outputs, seed=3)
    problem = sensing_problem(gen, A, rng.normal(size=5), matrix_label="gaussian seed 3")
    loaded = load_instance(save_instance(problem, tmp_path / "cs"))
    assert loaded.source.parameters["matrix"] == "gaussian seed 3"
    back = generator_of(loaded)
    for a, b in zip(back.layers, gen.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    assert np.array_equal(measurement_matrix_of(loaded), A)


def test_generator_of_refuses_other_problems() -> None:
    gen = random_generator(np.random.default_rng(4), "relu")
    plain = InversionProblem(gen, [0] * gen.n_outputs, Domain("real"), p=2, threshold=1)
    with pytest.raises(ValidationError, match="not a compressed-sensing problem"):
        generator_of(plain)
    problem = sensing_problem(gen, np.eye(gen.n_outputs), np.zeros(gen.n_outputs))
    problem.source.parameters["generator_layers"] = 1
    with pytest.raises(ValidationError, match="records 1 generator layers"):
        generator_of(problem)


def test_sensing_problem_checks_and_default_threshold() -> None:
    gen = random_generator(np.random.default_rng(5), "relu")
    A = gaussian_measurements(4, gen.n_outputs, seed=0)
    y = np.array([3.0, 0.0, -4.0, 0.0])
    problem = sensing_problem(gen, A, y)
    assert math.isclose(problem.threshold_float(), DEFAULT_RELATIVE_THRESHOLD * 5.0)
    assert sensing_problem(gen, A, y, p=1).threshold_float() == pytest.approx(7e-3)
    assert sensing_problem(gen, A, y, threshold=0).is_exact_inversion
    box = Domain.box([-1] * gen.n_inputs, [1] * gen.n_inputs)
    assert sensing_problem(gen, A, y, domain=box).domain == box
    with pytest.raises(ValidationError, match="A has 8 columns"):
        sensing_problem(gen, A[:, :8], y)
    with pytest.raises(ValidationError, match="measurements y: has 3 entries, expected 4"):
        sensing_problem(gen, A, y[:3])
    with pytest.raises(ValidationError, match="NaN"):
        sensing_problem(gen, A, np.array([np.nan, 0, 0, 0]))


def test_gaussian_measurements_reproducible_with_variance_one_over_m() -> None:
    a = gaussian_measurements(200, 500, seed=7)
    assert a.shape == (200, 500)
    assert np.array_equal(a, gaussian_measurements(200, 500, seed=7))
    assert not np.array_equal(a, gaussian_measurements(200, 500, seed=8))
    assert np.array_equal(a, np.random.default_rng(7).normal(0, 1 / math.sqrt(200), (200, 500)))
    # 10^5 entries: the sample variance is within a few per cent of 1/m
    assert abs(a.var() * 200 - 1) < 0.03
    assert abs(a.mean()) < 3 / math.sqrt(200 * a.size)
    x = np.random.default_rng(0).normal(size=500)
    assert abs(np.sum((a @ x) ** 2) / np.sum(x**2) - 1) < 0.3
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValidationError):
            gaussian_measurements(bad, 4, seed=0)  # type: ignore[arg-type]


def test_per_pixel_error_and_lasso_bases() -> None:
    assert per_pixel_error([1, 2, 3, 4], [1, 2, 3, 2]) == 1.0
    with pytest.raises(ValidationError):
        per_pixel_error([1, 2], [1, 2, 3])
    pytest.importorskip("sklearn")
    x = np.random.default_rng(0).random(64)
    for basis in ("pixel", "dct"):
        # with all 64 measurements and a tiny penalty the Lasso returns (almost) x itself
        got = lasso_baseline(np.eye(64), x, 1e-6, basis=basis)
        assert np.allclose(got, x, atol=1e-3)
    with pytest.raises(ValidationError, match="alpha"):
        lasso_baseline(np.eye(4), np.ones(4), 0.0)
    with pytest.raises(ValidationError, match="image shape"):
        lasso_baseline(np.eye(4), np.ones(4), 0.1, basis="dct")


# ---------------------------------------------------------------- shipped digits generator
def test_shipped_digits_files() -> None:
    gen = load_digits_generator()
    assert (gen.n_inputs, gen.n_outputs) == (4, 64)
    assert gen.activations == ["relu", "relu"] and gen.is_piecewise_linear
    assert gen.is_float32_exact()
    images, labels = load_test_digits()
    assert images.shape == (360, 64) and labels.shape == (360,)
    assert images.min() >= 0 and images.max() <= 1
    assert sorted(set(labels.tolist())) == list(range(10))
    total = sum(p.stat().st_size for p in DIGITS_VAE_DIR.iterdir())
    assert total < 200_000
    torch_io = pytest.importorskip("geninv.io.torch_io")
    npz = torch_io.load_npz(DIGITS_VAE_DIR / "decoder.npz", "0,relu,2,relu")
    for a, b in zip(npz.layers, gen.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)


class _FallbackAdam(Backend):
    """Adam on z with restarts (tests only: stands in when no 'adam' backend is registered)."""

    name = "_test_latent_adam"
    summary = "test-only gradient fallback"
    capabilities = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        complete=False,
        activations=frozenset({"relu", "identity", "leaky_relu", "sigmoid", "tanh"}),
    )
    modules: ClassVar[tuple[str, ...]] = ("torch",)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        import torch

        from geninv.io.torch_io import to_torch

        f = to_torch(problem.network)
        target = torch.tensor(problem.target_array())
        gen = torch.Generator().manual_seed(seed or 0)
        z = torch.randn(16, problem.n, generator=gen, dtype=torch.float64).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.05)
        lo = hi = None
        if problem.domain.kind == "box":
            assert problem.domain.lower is not None and problem.domain.upper is not None
            lo = torch.tensor([float(v) for v in problem.domain.lower], dtype=torch.float64)
            hi = torch.tensor([float(v) for v in problem.domain.upper], dtype=torch.float64)
        for _ in range(600):
            opt.zero_grad()
            ((f(z) - target) ** 2).sum().backward()
            opt.step()
            if lo is not None and hi is not None:
                with torch.no_grad():
                    z.copy_(torch.maximum(torch.minimum(z, hi), lo))  # projection onto the box
        with torch.no_grad():
            dist = problem.distances(f(z).numpy())
        best = int(np.argmin(dist))
        zf = [Fraction(float(v)) for v in z[best].detach().numpy()]
        chk = problem.exact_check(zf)
        status = Status.YES if chk.meets else Status.UNKNOWN
        return Solution(status, self.name, z=zf, distance=chk.distance, reason="fallback")


def latent_method(monkeypatch: pytest.MonkeyPatch) -> str:
    """'adam' when registered, else the test-only fallback (registered for this test)."""
    pytest.importorskip("torch")
    with contextlib.suppress(ImportError):
        importlib.import_module("geninv.solvers.approx")
    try:
        get_backend("adam")
        return "adam"
    except GeninvError:
        monkeypatch.setitem(REGISTRY, _FallbackAdam.name, _FallbackAdam)
        return _FallbackAdam.name


def test_digits_recovered_from_20_measurements(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CSGM on 8 held-out digits: y = A x with x the real digit (not in the range of G).

    With m = 20 < q = 64 the recovered G(ẑ) is judged against the projection G(z_p),
    the best the generator can do with every pixel measured.  The measurements may
    prefer another latent (x is not in the range), so single digits can exceed 2x
    (about 1 in 12 digit/matrix pairs in trials); the sum over the 8 digits stays
    within 2x and most digits are within 2x individually.
    """
    pytest.importorskip("sklearn")
    method = latent_method(monkeypatch)
    gen = load_digits_generator()
    images, _ = load_test_digits()
    q = gen.n_outputs
    rows: dict[str, list[np.ndarray]] = {"truth": [], "projection": [], "Lasso": [], "geninv": []}
    proj_err, cs_err, lasso_err = [], [], []
    for i in range(8):
        x = images[i]
        # the projection: the same recovery with every pixel measured (A = I)
        x_proj, _ = recover(sensing_problem(gen, np.eye(q), x), method, seed=0)
        A = gaussian_measurements(M, q, seed=i)
        x_cs, sol = recover(sensing_problem(gen, A, A @ x), method, seed=0)
        assert sol.z is not None and sol.status is not Status.NO
        x_lasso = lasso_baseline(A, A @ x, alpha=0.01)
        proj_err.append(per_pixel_error(x, x_proj))
        cs_err.append(per_pixel_error(x, x_cs))
        lasso_err.append(per_pixel_error(x, x_lasso))
        for key, img in zip(rows, (x, x_proj, x_lasso, x_cs), strict=True):
            rows[key].append(img)
    ratios = [c / p for c, p in zip(cs_err, proj_err, strict=True)]
    assert sum(cs_err) <= 2 * sum(proj_err), ratios
    assert sum(r <= 2 for r in ratios) >= 6, ratios
    # the pixel-basis Lasso with the same 20 measurements is clearly worse
    assert sum(lasso_err) >= 3 * sum(cs_err), (lasso_err, cs_err)

    png = save_grid_png(
        list(rows.values()),
        list(rows),
        tmp_path / "grid.png",
        titles=[f"test {i}" for i in range(8)],
    )
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_projection_itself_recovered_exactly_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise-free measurements of G(z_p) (in the range) give back G(z_p)."""
    method = latent_method(monkeypatch)
    gen = load_digits_generator()
    images, _ = load_test_digits()
    x = images[1]
    x_proj, _ = recover(sensing_problem(gen, np.eye(64), x), method, seed=0)
    e_proj = per_pixel_error(x, x_proj)
    A = gaussian_measurements(M, 64, seed=11)
    x_hat, sol = recover(sensing_problem(gen, A, A @ x_proj), method, seed=1)
    assert per_pixel_error(x_proj, x_hat) <= 0.05 * e_proj
    assert per_pixel_error(x, x_hat) <= 2 * e_proj
    assert sol.status is Status.YES  # within 0.1% of ||y||, checked exactly


def test_milp_accepts_a_times_g_of_the_digits_generator() -> None:
    """The shipped generator is piecewise linear, so A o G can go to the exact MILP backend."""
    milp = get_backend("milp")
    gen = load_digits_generator()
    A = gaussian_measurements(M, 64, seed=0)
    box = Domain.box([-3] * 4, [3] * 4)
    problem = sensing_problem(gen, A, np.zeros(M), p="inf", threshold=0.1, domain=box)
    assert milp.unsupported_reason(problem) is None
    smooth = ReLUNetwork(gen.weights, gen.biases, activations=["relu", "sigmoid"])
    reason = milp.unsupported_reason(sensing_problem(smooth, A, np.zeros(M), p="inf", domain=box))
    assert reason is not None and "layer 2 (sigmoid)" in reason


def test_recover_without_a_point_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoPoint(_FallbackAdam):
        name = "_test_no_point"

        def solve(self, problem: InversionProblem, **kwargs: Any) -> Solution:
            return Solution(Status.UNKNOWN, self.name, reason="gave up at once")

    monkeypatch.setitem(REGISTRY, NoPoint.name, NoPoint)
    gen = random_generator(np.random.default_rng(0), "relu")
    problem = sensing_problem(gen, np.eye(gen.n_outputs), np.zeros(gen.n_outputs))
    with pytest.raises(GeninvError, match="gave up at once"):
        recover(problem, NoPoint.name)


def test_save_grid_png_checks(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    img = np.linspace(0, 1, 64)
    out = save_grid_png([[img, img], [img]], ["a", "b"], tmp_path / "g.png")
    assert out.stat().st_size > 0
    with pytest.raises(ValidationError, match="2 labels for 1 rows"):
        save_grid_png([[img]], ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValidationError, match="has 10 values"):
        save_grid_png([[np.zeros(10)]], ["a"], tmp_path / "x.png")
