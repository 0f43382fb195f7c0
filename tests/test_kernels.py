"""The opt-in numba kernels (geninv.kernels) give what their numpy twins give.

Each kernel replaces a few numpy passes in ``ReLUNetwork.integer_layers`` and the
sat backend's clause form; the numpy code is the reference, so every test runs
both on the same problems and compares the results array for array.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from geninv import kernels
from geninv.errors import BackendUnavailableError, ValidationError
from geninv.network import ReLUNetwork
from geninv.problem import InversionProblem
from geninv.reductions.sat import SatReduction
from geninv.solvers.sat import _clause_form

from .conftest import varied_cnf
from .test_clause_form import random_problem


@pytest.fixture
def restore_kernels() -> Iterator[None]:
    saved = dict(kernels._state)
    yield
    kernels._state.update(saved)


def fresh(net: ReLUNetwork) -> ReLUNetwork:
    """The same network without its remembered integer plan."""
    layers = net.layers
    return ReLUNetwork(
        [layer.weight for layer in layers],
        [layer.bias for layer in layers],
        activations=[layer.activation_label for layer in layers],
    )


def plan_both(net: ReLUNetwork) -> tuple[Any, Any]:
    kernels.enable(False)
    ref = fresh(net).integer_layers()
    kernels.enable(True)
    got = fresh(net).integer_layers()
    return ref, got


def assert_same_plan(ref: Any, got: Any) -> None:
    if ref is None:
        assert got is None
        return
    assert got is not None and len(got) == len(ref)
    for (s1, r1, b1, relu1), (s2, r2, b2, relu2) in zip(ref, got, strict=True):
        # row sums of integers below 2^53: exact in any summation order
        assert np.array_equal(s1, s2)
        assert (b1, relu1) == (b2, relu2)
        assert r1 == r2


def random_net(rng: np.random.Generator) -> ReLUNetwork:
    sizes = [int(v) for v in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
    kind = rng.random()
    ws: list[Any] = []
    for a, b in itertools.pairwise(sizes):
        w = rng.integers(-6, 7, size=(b, a)).astype(float)
        if kind < 0.2:  # one non-integer entry somewhere
            w[int(rng.integers(b)), int(rng.integers(a))] += 0.5
        elif kind < 0.3:  # magnitudes near and past 2^53
            w *= 2.0 ** int(rng.integers(45, 56))
        if rng.random() < 0.3:
            w = np.asfortranarray(w)
        ws.append(w)
    bs = [rng.integers(-6, 7, size=b).astype(float) for b in sizes[1:]]
    if kind >= 0.9:  # a non-integer bias
        bs[-1][0] += 0.25
    act = str(rng.choice(["relu", "identity"]))
    return ReLUNetwork(ws, bs, final_activation=act)


def test_integer_plan_kernel_matches_numpy(restore_kernels: None) -> None:
    rng = np.random.default_rng(11)
    seen = {"plan": 0, "none": 0}
    for _ in range(300):
        ref, got = plan_both(random_net(rng))
        assert_same_plan(ref, got)
        seen["plan" if ref is not None else "none"] += 1
    assert seen["plan"] >= 150 and seen["none"] >= 60, seen
    # exact (Fraction) layers and sigmoid layers have no plan either way
    for net in (ReLUNetwork([[["1/3"]]], [[0]]), ReLUNetwork([[[1]]], [[0]], "sigmoid")):
        assert plan_both(net) == (None, None)


def clause_form_both(problem: InversionProblem) -> tuple[Any, Any]:
    """_clause_form without and with the kernels, each on a fresh copy of the problem."""

    def copy() -> InversionProblem:
        return InversionProblem(
            fresh(problem.network),
            problem.target,
            problem.domain,
            p=problem.p,
            threshold=problem.threshold,
            relation=problem.relation,
        )

    kernels.enable(False)
    ref = _clause_form(copy())
    kernels.enable(True)
    return ref, _clause_form(copy())


def test_clause_form_kernels_match_numpy(restore_kernels: None) -> None:
    rng = np.random.default_rng(12)
    counts = {"cnf": 0, "declined": 0, "ragged": 0}
    problems = [random_problem(rng, int(rng.integers(1, 8))) for _ in range(400)]
    for i in range(60):
        n = int(rng.integers(1, 12))
        cnf = varied_cnf(rng, n, int(rng.integers(1, 6 * n)), i % 3 == 0, p_empty=0.03)
        problems.append(SatReduction("sign").apply(cnf)[0])
    for problem in problems:
        ref, got = clause_form_both(problem)
        if ref is None:
            assert got is None
            counts["declined"] += 1
            continue
        assert got is not None
        assert got.clauses == ref.clauses
        assert got.stats == ref.stats and got.nvars == ref.nvars
        counts["cnf"] += 1
        counts["ragged"] += len({len(c) for c in ref.clauses}) > 1
    assert counts["cnf"] >= 150 and counts["declined"] >= 40 and counts["ragged"] >= 20, counts


def test_kernels_are_opt_in_and_checked(
    restore_kernels: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernels._state.update(wanted=None)
    monkeypatch.delenv(kernels.ENV, raising=False)
    assert kernels.get() is None  # the default: numpy
    monkeypatch.setenv(kernels.ENV, "numba")
    kernels._state.update(wanted=None)
    assert kernels.get() is not None
    monkeypatch.setenv(kernels.ENV, "fast")
    kernels._state.update(wanted=None)
    with pytest.raises(ValidationError, match="GENINV_KERNELS='fast'"):
        kernels.get()
    # without numba: a clear error, not a silent fallback
    monkeypatch.setattr(kernels, "available", lambda: False)
    kernels._state.update(wanted=None, kernels=None)
    with pytest.raises(BackendUnavailableError, match="pip install numba"):
        kernels.enable()


def test_kernel_plan_keeps_exact_values(restore_kernels: None) -> None:
    """Row sums near 2^53 are bounded above, never below, in both implementations."""
    w = np.array([[2.0**52, 2.0**52 - 1, 1.0]])
    ref, got = plan_both(ReLUNetwork([w], [[0]]))
    assert ref is None and got is None  # 2^53 reached: no plan
    w = np.array([[2.0**51, 2.0**51 - 1]])
    ref, got = plan_both(ReLUNetwork([w], [[Fraction(3)]]))
    assert_same_plan(ref, got)
    assert ref is not None and ref[0][1] >= 2**52 - 1


def test_forward_int_kernel_matches_numpy(restore_kernels: None) -> None:
    rng = np.random.default_rng(13)
    done = 0
    for _ in range(200):
        net = random_net(rng)
        z = [int(v) for v in rng.integers(-3, 4, size=net.n_inputs)]
        kernels.enable(False)
        ref = fresh(net).forward_int(z)
        kernels.enable(True)
        got = fresh(net).forward_int(z)
        assert got == ref
        if ref is not None:
            assert ref == [int(v) for v in net.forward_exact(z)]
            done += 1
    assert done >= 100, done
