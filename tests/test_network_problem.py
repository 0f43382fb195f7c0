"""ReLUNetwork evaluation (float and exact) and InversionProblem checks."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import ValidationError
from geninv.network import ReLUNetwork, to_fraction
from geninv.problem import (
    Domain,
    InversionProblem,
    Solution,
    Status,
    compare_exact,
    json_number,
    lp_norm_rows,
    parse_norm,
)


def random_net(rng: np.random.Generator, dims: list[int], final: str = "relu") -> ReLUNetwork:
    ws = [rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
    bs = [rng.normal(size=dims[i + 1]) for i in range(len(dims) - 1)]
    return ReLUNetwork(ws, bs, final_activation=final)  # type: ignore[arg-type]


def test_shape_properties() -> None:
    net = random_net(np.random.default_rng(0), [3, 5, 4, 2])
    assert net.n_inputs == 3 and net.n_outputs == 2
    assert net.depth == 3 and net.widths == [5, 4, 2] and net.width == 5
    assert net.n_params == 5 * 4 + 4 * 6 + 2 * 5


@pytest.mark.parametrize("final", ["relu", "identity"])
def test_float_and_exact_agree(final: str) -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        dims = [int(d) for d in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
        net = random_net(rng, dims, final)
        z = rng.normal(size=(8, dims[0]))
        batch = net.forward(z)
        for i in range(8):
            exact = net.forward_exact(list(z[i]))
            assert np.allclose([float(v) for v in exact], batch[i], rtol=1e-12, atol=1e-12)
            assert np.allclose(net.forward(z[i]), batch[i])


def test_relu_and_identity_semantics() -> None:
    net = ReLUNetwork([np.array([[1.0, -2.0]])], [np.array([0.5])], final_activation="identity")
    assert net.forward_exact([0, 1]) == [Fraction(-3, 2)]
    net2 = ReLUNetwork([np.array([[1.0, -2.0]])], [np.array([0.5])])
    assert net2.forward_exact([0, 1]) == [0]


def test_exact_rationals_beyond_floats() -> None:
    third = Fraction(1, 3)
    net = ReLUNetwork([[[third, third, third]]], [["-1"]])
    assert not net.is_float_exact()
    assert net.forward_exact([1, 1, 1]) == [0]
    # float evaluation is only approximately zero
    assert abs(net.forward(np.ones(3))[0]) < 1e-15


def test_bad_networks() -> None:
    with pytest.raises(ValidationError, match="columns"):
        ReLUNetwork([np.ones((2, 3)), np.ones((1, 3))], [np.zeros(2), np.zeros(1)])
    with pytest.raises(ValidationError, match="NaN"):
        ReLUNetwork([np.array([[np.nan]])], [np.zeros(1)])
    with pytest.raises(ValidationError, match="b_1"):
        ReLUNetwork([np.ones((2, 3))], [np.zeros(3)])
    with pytest.raises(ValidationError):
        ReLUNetwork([], [])
    with pytest.raises(ValidationError, match="latent"):
        ReLUNetwork([np.ones((2, 3))], [np.zeros(2)]).forward(np.ones(4))


def test_to_fraction() -> None:
    assert to_fraction("3/4") == Fraction(3, 4)
    assert to_fraction(0.1) == Fraction(0.1)
    for bad in (float("nan"), float("inf"), "abc", True, None):
        with pytest.raises(ValidationError):
            to_fraction(bad)


def test_parse_norm() -> None:
    assert parse_norm("inf") == math.inf and parse_norm(2) == 2.0 and parse_norm("1.5") == 1.5
    for bad in ("0.5", 0, -1, "x", "nan", None):
        with pytest.raises(ValidationError):
            parse_norm(bad)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.lists(st.fractions(min_value=-5, max_value=5, max_denominator=7), min_size=1, max_size=6),
    st.sampled_from([1.0, 2.0, 3.0, 1.5, math.inf]),
)
def test_compare_exact_matches_float(diff: list[Fraction], p: float) -> None:
    d = np.array([[float(v) for v in diff]])
    dist = float(lp_norm_rows(d, p)[0])
    meets, exact_dist, _, _ = compare_exact(
        diff, p, Fraction(dist) * (1 + Fraction(1, 10**9)), "<="
    )
    assert meets
    assert math.isclose(exact_dist, dist, rel_tol=1e-9, abs_tol=1e-12)
    if dist > 0:
        below = Fraction(dist) * (1 - Fraction(1, 10**9))
        assert not compare_exact(diff, p, below, "<=")[0]


def test_compare_exact_at_threshold() -> None:
    diff = [Fraction(3), Fraction(4)]
    assert compare_exact(diff, 2.0, Fraction(5), "<=")[0]
    assert not compare_exact(diff, 2.0, Fraction(5), "<")[0]
    # delta = sqrt(25) given only as delta^2
    assert compare_exact(diff, 2.0, Fraction(5), "<=", threshold_pow=Fraction(25))[0]
    assert not compare_exact(diff, 2.0, Fraction(5), "<=", threshold_pow=Fraction(24))[0]
    assert compare_exact(diff, math.inf, Fraction(4), "<=")[0]
    assert not compare_exact(diff, math.inf, Fraction(4), "<")[0]


def test_problem_validation_and_exact_check() -> None:
    net = ReLUNetwork([np.array([[1.0, 1.0]])], [np.zeros(1)])
    with pytest.raises(ValidationError, match="target"):
        InversionProblem(net, [0, 0], Domain("binary"))
    with pytest.raises(ValidationError, match="never hold"):
        InversionProblem(net, [1], Domain("binary"), relation="<")
    with pytest.raises(ValidationError, match="threshold"):
        InversionProblem(net, [1], Domain("binary"), threshold=-1)
    with pytest.raises(ValidationError, match="box"):
        InversionProblem(net, [1], Domain.box([0], [1]))
    with pytest.raises(ValidationError, match="lower"):
        Domain.box([2, 0], [1, 1])
    prob = InversionProblem(net, [1], Domain("binary"))
    assert prob.exact_check([1, 0]).meets
    assert not prob.exact_check([1, 1]).meets
    chk = prob.exact_check([Fraction(1, 2), Fraction(1, 2)])
    assert not chk.in_domain and not chk.meets and "not in {0, 1}" in chk.reason
    box = InversionProblem(net, [1], Domain.box([0, 0], [1, 1]))
    assert box.exact_check([Fraction(1, 2), Fraction(1, 2)]).meets
    assert not box.exact_check([2, -1]).in_domain


def test_solution_statuses() -> None:
    with pytest.raises(ValidationError):
        Solution(Status.YES, "m")
    with pytest.raises(ValidationError):
        Solution(Status.NO, "m")
    assert Solution(Status.UNKNOWN, "m", reason="time").to_json()["status"] == "unknown"
    assert {s.value for s in Status} == {"yes", "no", "unknown"}


def test_json_number() -> None:
    assert json_number(Fraction(3)) == 3
    assert json_number(Fraction(1, 4)) == 0.25
    assert json_number(Fraction(1, 3)) == "1/3"


def test_generator_activations() -> None:
    from geninv.network import parse_activation

    net = ReLUNetwork(
        [np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])],
        [np.zeros(2), np.zeros(1)],
        activations=["leaky_relu:1/4", "sigmoid"],
    )
    assert net.activations == ["leaky_relu:1/4", "sigmoid"] and not net.is_piecewise_linear
    # z = 2: hidden (2, -1/2); output sigmoid(3/2)
    out = net.forward_exact([2])[0]
    assert abs(float(out) - 1 / (1 + math.exp(-1.5))) < 1e-15
    assert abs(net.forward(np.array([2.0]))[0] - float(out)) < 1e-15
    prob = InversionProblem(net, [out], Domain("real"))
    assert "digits" in prob.exact_check([2]).method
    leaky = ReLUNetwork([np.array([[2.0]])], [np.zeros(1)], final_activation="leaky_relu:0.5")
    assert leaky.forward_exact([-3]) == [-3] and leaky.is_piecewise_linear
    assert parse_activation("leaky_relu") == ("leaky_relu", Fraction(1, 100))
    for bad in ("softmax", "relu:2", "leaky_relu:-1", 3):
        with pytest.raises(ValidationError):
            parse_activation(bad)
    tanh = ReLUNetwork([np.array([[1.0]])], [np.zeros(1)], final_activation="tanh")
    assert abs(float(tanh.forward_exact([500])[0]) - 1.0) < 1e-50
    assert abs(float(tanh.forward_exact([Fraction(1, 2)])[0]) - math.tanh(0.5)) < 1e-15


def test_backends_refuse_smooth_layers() -> None:
    from geninv.errors import UnsupportedError
    from geninv.solvers.base import solve

    net = ReLUNetwork([np.array([[1.0, 1.0]])], [np.zeros(1)], final_activation="sigmoid")
    prob = InversionProblem(net, [0.5], Domain("binary"), p=1, threshold=0.1)
    with pytest.raises(UnsupportedError, match=r"layer 1 \(sigmoid\)"):
        solve(prob, "enumerate")
