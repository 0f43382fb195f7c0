"""The C kernels (geninv.kernels, src/geninv/_ckernels.c) give what their numpy twins give.

Each kernel replaces a few numpy passes in ``ReLUNetwork.integer_layers`` /
``forward_int`` and the sat backend's clause form; the numpy code is the
reference, so every test runs both on the same problems and compares the results.
The C kernels are built by ``pip install`` where a C compiler is present; on such
a machine a missing build is a failure (reinstall), not a skip.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geninv import kernels
from geninv.errors import BackendUnavailableError, ValidationError
from geninv.network import ReLUNetwork
from geninv.problem import InversionProblem
from geninv.reductions.sat import SatReduction
from geninv.solvers.sat import _clause_form

from .conftest import require_c_kernels, varied_cnf
from .test_clause_form import random_problem


@pytest.fixture
def restore_kernels() -> Iterator[None]:
    require_c_kernels()
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
    kernels.use("numpy")
    ref = fresh(net).integer_layers()
    kernels.use("c")
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

    kernels.use("numpy")
    ref = _clause_form(copy())
    kernels.use("c")
    return ref, _clause_form(copy())


def test_clause_form_kernels_match_numpy(restore_kernels: None) -> None:
    rng = np.random.default_rng(12)
    counts = {"cnf": 0, "declined": 0, "ragged": 0, "empty clause": 0}
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
        counts["empty clause"] += ref.clauses == [[]]
    assert counts["cnf"] >= 150 and counts["declined"] >= 40 and counts["ragged"] >= 20, counts
    assert counts["empty clause"] >= 5, counts


def test_kernel_modes_and_errors(restore_kernels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def reset() -> None:
        kernels._state.update(mode=None, active=kernels._UNSET)

    monkeypatch.delenv(kernels.ENV, raising=False)
    reset()
    assert kernels.get() is not None and kernels.name() == "c"  # the default: auto
    monkeypatch.setenv(kernels.ENV, "numpy")
    reset()
    assert kernels.get() is None and kernels.name() == "numpy"
    monkeypatch.setenv(kernels.ENV, "fast")
    reset()
    with pytest.raises(ValidationError, match="GENINV_KERNELS='fast'"):
        kernels.get()
    with pytest.raises(ValidationError, match="auto, c, numpy"):
        kernels.use("numba")
    # not built: auto falls back to numpy, an explicit c is a clear error
    monkeypatch.setattr(kernels, "c_built", lambda: False)
    assert kernels.use("auto") is None
    with pytest.raises(BackendUnavailableError, match="pip install -e"):
        kernels.use("c")


def test_c_kernels_take_any_layout_and_check_arguments(restore_kernels: None) -> None:
    ck = kernels.use("c")
    rng = np.random.default_rng(14)
    w = rng.integers(-3, 4, size=(5, 4)).astype(float)
    b = rng.integers(-3, 4, size=5).astype(float)
    a = rng.integers(0, 3, size=(2, 5)).astype(float)
    b2 = np.zeros(2)
    ref = ck.layer_plan(w, b)
    for variant in (np.asfortranarray(w), w[:, ::1].copy(), w.astype(np.float32), w.tolist()):
        got = ck.layer_plan(variant, b)
        assert got[0] == ref[0] and np.array_equal(got[1], ref[1]) and got[2:] == ref[2:]
    x = [1, -1, 1, 0]
    xf = np.array(x, dtype=float)
    out = ck.affine_int((np.asfortranarray(w), a), (b, b2.tolist()), (True, False), x)
    assert out == [int(v) for v in a @ np.maximum(w @ xf + b, 0)]
    assert all(type(v) is int for v in out)
    assert ck.affine_int((w,), (b,), (False,), x) == [int(v) for v in w @ xf + b]
    with pytest.raises(ValueError, match="2-dimensional"):
        ck.layer_plan(b, b)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        ck.affine_int((w, a), (b, b2), (True, True), [1, 2, 3])
    with pytest.raises(ValueError, match="one weight, bias and relu flag per layer"):
        ck.affine_int((w, a), (b,), (True, True), x)
    with pytest.raises(TypeError, match="takes 2 arguments"):
        ck.layer_plan(w)
    with pytest.raises(TypeError):
        ck.affine_int((w,), (b,), (True,), ["x", 1, 2, 3])
    # a non-integer entry: no plan, and clause_cnf gives no shape
    w2 = w.copy()
    w2[1, 2] = 0.5
    assert ck.layer_plan(w2, b)[0] is False
    plan, shape = ck.clause_cnf(w2, b, a, b2, True)
    assert plan[0] is False and shape is None


def test_c_kernels_stub_lists_the_module(restore_kernels: None) -> None:
    """The type stub names exactly the functions the C module has."""
    import ast

    import geninv

    ck = kernels.use("c")
    stub = Path(geninv.__file__).parent / "_ckernels.pyi"
    names = {
        node.name for node in ast.parse(stub.read_text()).body if isinstance(node, ast.FunctionDef)
    }
    public = {name for name in dir(ck) if not name.startswith("_")}
    assert names == public


def test_c_kernels_source_is_packaged() -> None:
    """The C source travels with the package (sdists build it)."""
    import geninv

    assert (Path(geninv.__file__).parent / "_ckernels.c").is_file()


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
        kernels.use("numpy")
        ref = fresh(net).forward_int(z)
        kernels.use("c")
        got = fresh(net).forward_int(z)
        assert got == ref
        if ref is not None:
            assert ref == [int(v) for v in net.forward_exact(z)]
            done += 1
    assert done >= 100, done
