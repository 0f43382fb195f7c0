"""input_clamp_box: exact clamp boxes of coordinate-separable prefixes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.analysis import PiecewiseLinear, input_clamp_box
from geninv.network import ReLUNetwork

F = Fraction


def clamp(z: list[Fraction], lo: list[Fraction], hi: list[Fraction]) -> list[Fraction]:
    return [min(max(v, a), b) for v, a, b in zip(z, lo, hi, strict=True)]


def assert_clamps(
    net: ReLUNetwork, box: tuple[list[Fraction], list[Fraction]], seed: int, trials: int = 40
) -> None:
    """G(z) == G(clamp(z)) exactly, for z far outside, inside and near the box."""
    rng = np.random.default_rng(seed)
    lo, hi = box
    for k in range(trials):
        scale = [1, 10, 1000][k % 3]
        z = [F(float(v)) for v in rng.normal(size=net.n_inputs) * scale]
        assert net.forward_exact(z) == net.forward_exact(clamp(z, lo, hi))


def mixing(rng: np.random.Generator, n: int, m: int = 4) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(m, n)), rng.normal(size=m)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_plus_one_then_two_pattern(n: int) -> None:
    rng = np.random.default_rng(n)
    W3, b3 = mixing(rng, n)
    net = ReLUNetwork(
        [np.eye(n), -np.eye(n), W3, rng.normal(size=(2, 4))],
        [np.ones(n), 2 * np.ones(n), b3, np.zeros(2)],
        final_activation="identity",
    )
    box = input_clamp_box(net)
    assert box == ([F(-1)] * n, [F(1)] * n)
    assert_clamps(net, box, seed=n)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_lifting_pattern(n: int) -> None:
    rng = np.random.default_rng(10 + n)
    W3, b3 = mixing(rng, n)
    net = ReLUNetwork([np.eye(n), -np.eye(n), W3], [np.zeros(n), np.ones(n), b3])
    box = input_clamp_box(net)
    assert box == ([F(0)] * n, [F(1)] * n)
    assert_clamps(net, box, seed=n)


def test_whole_network_separable() -> None:
    # no mixing layer at all: the last layer itself is analysed
    net = ReLUNetwork([np.eye(2), -np.eye(2)], [np.zeros(2), np.ones(2)])
    box = input_clamp_box(net)
    assert box == ([F(0), F(0)], [F(1), F(1)])
    assert_clamps(net, box, seed=0)
    # an identity last layer is analysed without the ReLU: 1 - ReLU(z) is not clamped ...
    ident = ReLUNetwork([np.eye(2), -np.eye(2)], [np.zeros(2), np.ones(2)], "identity")
    assert input_clamp_box(ident) is None
    # ... but an affine read-out of clamped units is
    read = ReLUNetwork(
        [np.eye(2), -np.eye(2), np.diag([2.0, -3.0])],
        [np.zeros(2), np.ones(2), [5.0, 0.0]],
        "identity",
    )
    box = input_clamp_box(read)
    assert box == ([F(0), F(0)], [F(1), F(1)])
    assert_clamps(read, box, seed=1)


def test_scaled_and_shifted_coordinates_exact() -> None:
    # unit i: ReLU(-(ReLU(3 z_i - 1)) + 1/2)  -> kinks at 1/3 and 1/2
    n = 2
    W1 = np.diag([3.0, -2.0])
    b1 = np.array([-1.0, 1.0])
    net = ReLUNetwork([W1, -np.eye(n), np.ones((1, n))], [b1, [0.5, 0.25], [0.0]])
    box = input_clamp_box(net)
    assert box is not None
    lo, hi = box
    assert lo == [F(1, 3), F(3, 8)]
    assert hi == [F(1, 2), F(1, 2)]
    assert_clamps(net, box, seed=1)


def test_several_units_per_coordinate() -> None:
    # two hidden units per coordinate, combined by a coordinate-local layer
    W1 = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, -1.0]])
    b1 = np.array([1.0, -1.0, 0.0, 4.0])
    # ReLU(z+1) - ReLU(z-1) is a clamp of z to [-1, 1] shifted by 1: constant outside [-1, 1]
    W2 = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    net = ReLUNetwork([W1, W2, np.array([[1.0, 1.0]])], [b1, [0.0, -3.0], [0.0]])
    box = input_clamp_box(net)
    # coordinate 1: ReLU(ReLU(2t) + ReLU(4 - t) - 3): not constant as t -> +inf
    assert box is None
    W2b = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    net2 = ReLUNetwork([W1, W2b, np.array([[1.0, 1.0]])], [b1, [0.0, -3.0], [0.0]])
    box2 = input_clamp_box(net2)
    # coordinate 1: ReLU(ReLU(4 - t) - 3) = ReLU(1 - t) for t <= 4: slope -1 as t -> -inf
    assert box2 is None
    W2c = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0]])
    net3 = ReLUNetwork([W1, W2c, np.array([[1.0, 1.0]])], [b1, [0.0, 3.0], [0.0]])
    box3 = input_clamp_box(net3)
    # coordinate 0: kinks at -1 and 1; coordinate 1: ReLU(3 - ReLU(2t)) kinks at 0 and 3/2
    assert box3 == ([F(-1), F(0)], [F(1), F(3, 2)])
    assert_clamps(net3, box3, seed=2)


def test_one_sided_clamp_is_none() -> None:
    rng = np.random.default_rng(4)
    W2, b2 = mixing(rng, 3)
    net = ReLUNetwork([np.eye(3), W2], [np.zeros(3), b2])  # ReLU(z): constant only on the left
    assert input_clamp_box(net) is None


def test_unused_coordinate_gets_zero_interval() -> None:
    rng = np.random.default_rng(5)
    W1 = np.array([[1.0, 0.0], [0.0, 0.0]])  # z_1 feeds nothing
    W2 = np.array([[-1.0, 0.0], [0.0, 1.0]])
    W3, b3 = mixing(rng, 2)
    net = ReLUNetwork([W1, W2, W3], [[0.0, 2.0], [1.0, 0.0], b3])
    box = input_clamp_box(net)
    assert box == ([F(0), F(0)], [F(1), F(0)])
    assert_clamps(net, box, seed=5)


@pytest.mark.parametrize("seed", range(5))
def test_random_dense_is_none(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    net = ReLUNetwork(
        [rng.normal(size=(5, n)), rng.normal(size=(3, 5))], [rng.normal(size=5), rng.normal(size=3)]
    )
    assert input_clamp_box(net) is None


def random_separable_network(rng: np.random.Generator, n: int) -> ReLUNetwork:
    """Block-diagonal small-integer layers (one block per coordinate), then a dense layer."""
    depth = int(rng.integers(1, 4))
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    prev = [1] * n
    for _ in range(depth):
        cur = [int(rng.integers(1, 3)) for _ in range(n)]
        W = np.zeros((sum(cur), sum(prev)))
        r = c = 0
        for i in range(n):
            W[r : r + cur[i], c : c + prev[i]] = rng.integers(-2, 3, size=(cur[i], prev[i]))
            r += cur[i]
            c += prev[i]
        weights.append(W)
        biases.append(rng.integers(-3, 4, size=sum(cur)).astype(np.float64))
        prev = cur
    weights.append(rng.normal(size=(2, sum(prev))))
    biases.append(rng.normal(size=2))
    return ReLUNetwork(weights, biases, final_activation="identity")


def test_random_separable_networks_are_sound() -> None:
    rng = np.random.default_rng(2024)
    found = 0
    for k in range(150):
        n = int(rng.integers(1, 4))
        net = random_separable_network(rng, n)
        box = input_clamp_box(net)
        if box is not None:
            found += 1
            assert all(a <= b for a, b in zip(*box, strict=True))
            assert_clamps(net, box, seed=k, trials=12)
    assert found >= 5  # the generator does produce clamping networks


# ---------------------------------------------------------------- the PL machinery
@settings(derandomize=True, max_examples=150)
@given(
    st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5)), min_size=1, max_size=4),
    st.integers(-5, 5),
)
def test_pl_relu_matches_pointwise(units: list[tuple[int, int]], bias: int) -> None:
    # f(t) = bias + sum_k w_k ReLU(t - c_k); compare ReLU(f) with pointwise evaluation
    base = PiecewiseLinear.identity()
    f = PiecewiseLinear((F(0),), (F(bias),), F(0), F(0))
    pieces = []
    for w, c in units:
        shifted = PiecewiseLinear(base.knots, (F(-c),), F(1), F(1)).relu()
        pieces.append((F(w), shifted))
    knots = sorted({t for _, g in pieces for t in g.knots} | set(f.knots))
    comb = PiecewiseLinear(
        tuple(knots),
        tuple(F(bias) + sum((w * g(t) for w, g in pieces), F(0)) for t in knots),
        sum((w * g.left_slope for w, g in pieces), F(0)),
        sum((w * g.right_slope for w, g in pieces), F(0)),
    )
    r = comb.relu()
    s = r.simplified()
    assert list(r.knots) == sorted(set(r.knots))
    for t in [F(k, 4) for k in range(-60, 61)]:
        expected = max(F(0), F(bias) + sum((w * max(F(0), t - c) for w, c in units), F(0)))
        assert r(t) == expected
        assert s(t) == expected
    # simplified knots are exactly the kinks
    assert list(s.knots) == s.breakpoints() or (not s.breakpoints() and len(s.knots) == 1)


# ------------------------------------------------------- fold_discrete_prefix
def univariate_layer(rng: np.random.Generator, n_in: int, rational: bool) -> tuple[list, list]:
    """Rows reading at most one input each (some none), integer or rational entries."""
    rows, bias = [], []
    for _ in range(int(rng.integers(1, 6))):
        row: list[object] = [0] * n_in
        if rng.random() < 0.85:
            c = int(rng.choice([-3, -2, -1, 1, 2, 3]))
            row[int(rng.integers(n_in))] = F(c, int(rng.choice([1, 3]))) if rational else c
        rows.append(row)
        b = int(rng.integers(-3, 4))
        bias.append(F(b, int(rng.choice([1, 2]))) if rational else b)
    return rows, bias


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    prefix=st.integers(1, 3),
    values=st.sampled_from([(0, 1), (-1, 1)]),
    rational=st.booleans(),
)
def test_fold_discrete_prefix_is_exact_on_the_domain(
    seed: int, n: int, prefix: int, values: tuple[int, int], rational: bool
) -> None:
    import itertools

    from geninv.reductions.fold import fold_discrete_prefix

    rng = np.random.default_rng(seed)
    weights: list[list] = []
    biases: list[list] = []
    width = n
    for _ in range(prefix):  # univariate only in the first layer; later ones may mix
        rows, bias = univariate_layer(rng, width, rational)
        if weights:  # a layer after the first reading several units is still foldable
            rows = [[int(v) for v in rng.integers(-2, 3, width)] for _ in range(len(rows))]
        weights.append(rows)
        biases.append(bias)
        width = len(rows)
    m = int(rng.integers(1, 4))
    weights.append([[int(v) for v in rng.integers(-2, 3, width)] for _ in range(m)])
    biases.append([int(v) for v in rng.integers(-2, 3, m)])
    acts = [str(rng.choice(["relu", "relu", "identity", "leaky_relu:1/4"])) for _ in weights]
    net = ReLUNetwork(weights, biases, activations=acts)
    folded, count = fold_discrete_prefix(net, values)
    assert count >= 1 and folded.depth == net.depth - count
    assert folded.activations == net.activations[count:]
    for z in itertools.product(values, repeat=n):
        assert folded.forward_exact(list(z)) == net.forward_exact(list(z))


def test_fold_discrete_prefix_stops_at_mixing_units() -> None:
    from geninv.reductions.fold import fold_discrete_prefix

    mixing = ReLUNetwork([[[1, 1]], [[2]]], [[0], [0]])
    assert fold_discrete_prefix(mixing, (0, 1)) == (mixing, 0)
    smooth = ReLUNetwork([[[1, 0]], [[2]]], [[0], [0]], activations=["sigmoid", "relu"])
    assert fold_discrete_prefix(smooth, (0, 1))[1] == 0
    # two univariate layers then a mixing one: both fold, and not on the reals
    net = ReLUNetwork([[[2, 0], [0, 2]], [[1, 0], [0, -1]], [[1, 1]]], [[-1, 0], [0, 3], [0]])
    folded, count = fold_discrete_prefix(net, (0, 1))
    assert count == 2 and folded.depth == 1
    for z in ([0, 0], [0, 1], [1, 0], [1, 1]):
        assert folded.forward_exact(z) == net.forward_exact(z)
    # ReLU(2 z_0 - 1) is 0 at z_0 = 1/4, its affine stand-in z_0 is not
    assert folded.forward_exact([F(1, 4), 0]) != net.forward_exact([F(1, 4), 0])
    with pytest.raises(ValueError):
        fold_discrete_prefix(net, (1, 1))


def test_fold_integer_fast_path_equals_the_fraction_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The float64 fold of integer layers gives the very network the Fraction path gives."""
    import geninv.reductions.fold as analysis

    rng = np.random.default_rng(77)
    used = 0
    for _ in range(150):
        n = int(rng.integers(1, 6))
        values = ((0, 1), (-1, 1), (1, 3))[int(rng.integers(3))]
        weights: list[list] = []
        biases: list[list] = []
        width = n
        for _ in range(int(rng.integers(1, 3))):
            rows, bias = univariate_layer(rng, width, rational=False)
            weights.append(rows)
            biases.append(bias)
            width = len(rows)
        weights.append([[int(v) for v in rng.integers(-2, 3, width)] for _ in range(2)])
        biases.append([int(v) for v in rng.integers(-2, 3, 2)])
        acts = [str(rng.choice(["relu", "identity"])) for _ in weights]
        net = ReLUNetwork(weights, biases, activations=acts)
        used += analysis._fold_integer(net.layers[0], values) is not None
        fast, count = analysis.fold_discrete_prefix(net, values)
        with monkeypatch.context() as m:
            m.setattr(analysis, "_fold_integer", lambda *_: None)
            slow, slow_count = analysis.fold_discrete_prefix(net, values)
        assert count == slow_count and fast.activations == slow.activations
        for a, b in zip(fast.layers, slow.layers, strict=True):
            assert a.exact_weight is None and b.exact_weight is None
            assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
            assert not np.signbit(a.weight[a.weight == 0]).any()
    assert used >= 100, used


def test_fold_reduction_keeps_every_answer() -> None:
    """FoldDiscretePrefix as a reduction: on random binary and sign problems (relu,
    identity and leaky first layers, exact and approximate questions) the folded
    problem has a witness iff the source has (brute force over the corners, in
    exact arithmetic), it is shallower, and invert returns the solution as it is."""
    import itertools

    from geninv.errors import UnsupportedError
    from geninv.problem import Domain, InversionProblem, Solution, Status
    from geninv.reductions.base import Chain
    from geninv.reductions.fold import FoldDiscretePrefix

    rng = np.random.default_rng(2026)
    seen = {True: 0, False: 0}
    for _ in range(60):
        n = int(rng.integers(1, 5))
        kind = str(rng.choice(["binary", "sign"]))
        rows, bias = univariate_layer(rng, n, rational=bool(rng.integers(2)))
        m = int(rng.integers(1, 4))
        second = [[int(v) for v in rng.integers(-2, 3, len(rows))] for _ in range(m)]
        acts = [str(rng.choice(["relu", "identity", "leaky_relu:1/4"])), "relu"]
        net = ReLUNetwork(
            [rows, second], [bias, [int(v) for v in rng.integers(-2, 3, m)]], activations=acts
        )
        values = (0, 1) if kind == "binary" else (-1, 1)
        z0 = [int(v) for v in rng.choice(values, n)]
        target = [v + int(rng.integers(-1, 2)) for v in net.forward_exact(z0)]
        p, delta = [("inf", 0), (1, 1), (2, 1)][int(rng.integers(3))]
        src = InversionProblem(net, target, Domain(kind), p=p, threshold=delta)
        folded, inverse = FoldDiscretePrefix().apply(src)
        assert inverse["folded_layers"] == 1 and folded.network.depth == net.depth - 1
        for z in itertools.product(values, repeat=n):
            assert folded.exact_check(list(z)).meets == src.exact_check(list(z)).meets
        has = any(src.exact_check(list(z)).meets for z in itertools.product(values, repeat=n))
        seen[has] += 1
        sol = Solution(Status.UNKNOWN, "x")
        assert FoldDiscretePrefix().invert(sol, inverse) is sol
    assert seen[True] >= 10 and seen[False] >= 10, seen
    # in a chain after a reduction, and refused on real latents
    chain = Chain([FoldDiscretePrefix()])
    net = ReLUNetwork([[[2, 0], [0, 2]], [[1, 1]]], [[-1, 0], [0]])
    prob, data = chain.apply(InversionProblem(net, [1], Domain("binary"), p="inf", threshold=0))
    assert prob.network.depth == 1 and data["steps"] == [{"folded_layers": 1}]
    with pytest.raises(UnsupportedError):
        FoldDiscretePrefix().apply(InversionProblem(net, [1], Domain("real"), p="inf", threshold=0))
