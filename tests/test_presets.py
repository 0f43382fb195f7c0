"""Presets (issue 17, item 3): the table, the API and CLI routes, and CSGM's scaling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geninv import sensing, workflows
from geninv.cli import main
from geninv.errors import ValidationError
from geninv.network import ReLUNetwork
from geninv.solvers import REGISTRY
from geninv.solvers.approx.presets import PRESETS, apply_preset, get_preset


def _tiny_sensing(lam_scale: float = 1.0) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """A linear generator G(z) = W z (k = 3, q = 6), A of N(0, 1/m) entries (m = 5)."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(6, 3))
    gen = ReLUNetwork([w], [np.zeros(6)], activations=["identity"])
    a = sensing.gaussian_measurements(5, 6, rng)
    y = a @ rng.uniform(0, 1, size=6) * lam_scale
    return gen, w, a, y


def test_table_well_formed() -> None:
    assert PRESETS, "at least one preset"
    for name, preset in PRESETS.items():
        assert preset.name == name and name == name.lower() and " " not in name
        assert preset.citation and preset.source
        cls = REGISTRY[preset.backend]
        backend = cls(**dict(preset.options))  # every option is one the backend takes
        for key, value in preset.options.items():
            assert getattr(backend, key) == value


def test_csgm_mnist_vae_numbers() -> None:
    """The published MNIST-VAE setting (the authors' released script)."""
    p = get_preset("csgm-mnist-vae")
    assert p.backend == "adam"
    assert dict(p.options) == {
        "lr": 0.01,
        "lam": 0.1,
        "steps": 1000,
        "restarts": 10,
        "keep": "last",
    }


def test_apply_preset_merging_and_refusals() -> None:
    method, opts = apply_preset("csgm-mnist-vae", "auto", {"steps": 7})
    assert method == "adam" and opts["steps"] == 7 and opts["lam"] == 0.1
    with pytest.raises(ValidationError, match="setting of backend 'adam', not 'pgd'"):
        apply_preset("csgm-mnist-vae", "pgd", None)
    with pytest.raises(ValidationError, match="unknown preset 'nope'; expected one of"):
        get_preset("nope")


def test_api_reaches_backend_with_options() -> None:
    gen, _, a, y = _tiny_sensing()
    problem = sensing.sensing_problem(gen, a, y)
    sol = workflows.solve(problem, preset="csgm-mnist-vae", options={"steps": 5}, seed=0)
    assert sol.method == "adam"
    assert sol.stats["lr"] == 0.01 and sol.stats["lam"] == 0.1 and sol.stats["keep"] == "last"
    assert sol.stats["restarts"] == 10 and sol.stats["planned_iterations"] == 5


def test_cli_solve_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen, _, a, y = _tiny_sensing()
    inst = tmp_path / "cs"
    workflows.save(sensing.sensing_problem(gen, a, y), inst)
    argv = ["solve", str(inst), "--preset", "csgm-celeba-dcgan", "--option", "steps=4", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    stats = doc["stats"]
    assert stats["lr"] == 0.1 and stats["lam"] == 0.001 and stats["restarts"] == 10
    assert stats["planned_iterations"] == 4
    code = main(["solve", str(inst), "--preset", "csgm-mnist-vae", "--method", "pgd"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["solve", str(inst), "--preset", "bogus"]) == 2
    assert "unknown preset 'bogus'" in capsys.readouterr().err


def test_cli_sense_preset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}
    real = sensing.recover

    def spy(problem: Any, method: str, **kw: Any) -> Any:
        seen["method"], seen["options"] = method, kw.get("options")
        kw["options"] = {**(kw.get("options") or {}), "steps": 3, "restarts": 1}
        return real(problem, method, **kw)

    monkeypatch.setattr(sensing, "recover", spy)
    code = main(["sense", "--digits", "1", "--measurements", "10", "--preset", "csgm-mnist-vae"])
    out = capsys.readouterr().out
    assert code == 0 and "image 0: adam" in out
    assert seen["method"] == "adam" and seen["options"] == dict(PRESETS["csgm-mnist-vae"].options)
    # a --method that is not the preset's backend is refused, as solve refuses it
    argv = ["sense", "--digits", "1", "--measurements", "10", "--preset", "csgm-mnist-vae"]
    assert main([*argv, "--method", "pgd"]) == 2
    err = capsys.readouterr().err
    assert "not 'pgd'" in err and err.count("\n") == 1


def test_lam_has_the_papers_scaling() -> None:
    """adam with lam = L minimises ||A G(z) - y||^2 + L ||z||^2: on a linear generator
    the minimiser is ridge regression, (M^T M + L I)^-1 M^T y with M = A W.  (Before
    issue 17 the data term was averaged over m: the minimiser was the ridge solution
    with m L, 5x the penalty here, off by far more than the tolerance.)"""
    gen, w, a, y = _tiny_sensing(lam_scale=3.0)
    lam = 0.5
    mat = a @ w
    ridge = np.linalg.solve(mat.T @ mat + lam * np.eye(3), mat.T @ y)
    wrong = np.linalg.solve(mat.T @ mat + 5 * lam * np.eye(3), mat.T @ y)
    assert np.linalg.norm(ridge - wrong) > 0.05
    problem = sensing.sensing_problem(gen, a, y)
    opts = {"lam": lam, "lr": 0.01, "steps": 3000, "restarts": 1, "keep": "last"}
    sol = workflows.solve(problem, "adam", options=opts, seed=1)
    assert sol.z is not None
    z = np.array([float(v) for v in sol.z])
    assert np.linalg.norm(z - ridge) < 0.01 * max(1.0, float(np.linalg.norm(ridge)))


def test_final_recheck_checks_one_point() -> None:
    """No restart meets the threshold: only the best one is re-checked (it was three)."""
    gen, _, a, y = _tiny_sensing()
    problem = sensing.sensing_problem(gen, a, y + 10.0, threshold=1e-9)
    sol = workflows.solve(problem, "adam", options={"steps": 5, "restarts": 4}, seed=0)
    assert str(sol.status) == "unknown" and sol.stats["checked_restarts"] == 1


def _small_sigmoid_generator() -> tuple[list[Any], ReLUNetwork]:
    rng = np.random.default_rng(11)
    layers = [
        (rng.normal(size=(12, 4)), rng.normal(size=12), "relu"),
        (rng.normal(size=(30, 12)) / 3, rng.normal(size=30), "sigmoid"),
    ]
    gen = ReLUNetwork(
        [w for w, _, _ in layers], [b for _, b, _ in layers], activations=["relu", "sigmoid"]
    )
    return layers, gen


@pytest.mark.parametrize("preset", ["csgm-mnist-vae", "pgdgan-celeba-dcgan"])
def test_preset_matches_the_independent_reference(preset: str) -> None:
    """geninv with the preset (steps cut down) and bench/reference_csgm.py, written
    from the papers without geninv, on the same A, y and starting points: the same
    estimate."""
    from .conftest import load_bench

    ref = load_bench("reference_csgm")
    layers, gen = _small_sigmoid_generator()
    rng = np.random.default_rng(12)
    a = sensing.gaussian_measurements(9, 30, rng)
    y = a @ rng.uniform(0, 1, size=30)
    problem = sensing.sensing_problem(gen, a, y)
    seed = 40
    if preset == "csgm-mnist-vae":
        extra = {"steps": 60, "restarts": 3}
        o = {**PRESETS[preset].options, **extra}
        want = ref.csgm(
            layers,
            a,
            y,
            lam=o["lam"],
            lr=o["lr"],
            steps=o["steps"],
            restarts=o["restarts"],
            init_seed=lambda i: seed + i,
        )
    else:
        extra = {"outer_steps": 3, "inner_steps": 20}
        o = {**PRESETS[preset].options, **extra}
        want = ref.pgdgan(
            layers,
            a,
            y,
            eta=o["eta"],
            outer=o["outer_steps"],
            inner=o["inner_steps"],
            lr=o["lr"],
            momentum=o["momentum"],
            seed=seed,
        )
    method, opts = apply_preset(preset, None, {**extra, "device": "cpu"})
    x_hat, _ = sensing.recover(problem, method, seed=seed, options=opts)
    assert np.max(np.abs(x_hat - want.x_hat)) < 1e-9


def test_pgd_knows_the_sensing_kind() -> None:
    """pgd recognises sensing problems by the kind sensing_problem records."""
    from geninv.solvers.approx.pgd import SENSING_KIND

    assert SENSING_KIND == sensing.SENSING_KIND
