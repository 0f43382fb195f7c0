"""One contract for every registered backend.

Each backend, on every problem it declares it accepts:

* agrees with exhaustive enumeration on discrete latents (random networks and
  every reduction's outputs), and with the source oracle on the real-latent
  reductions (whose clamp box makes them decidable);
* returns ``yes`` only with a witness that passes the exact check, ``no``
  only with a proof that states its basis; a floating-point backend's ``no``
  only with ``trust_solver`` (marked trusted), ``unknown`` without it;
* says ``unknown`` (never ``no``) when its time limit is hit;
* on ELU networks: refuses with a one-line reason naming the ELU layer, or says
  ``yes`` with a witness the independent reference evaluator confirms; never ``no``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from fractions import Fraction
from fractions import Fraction as F

import numpy as np
import pytest

from geninv.io.graphs import Graph
from geninv.io.lattice import CVPInstance
from geninv.network import ReLUNetwork
from geninv.oracles import sat_oracle
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.clique import CliqueReduction
from geninv.reductions.cvp import CVPReduction
from geninv.reductions.lifting import BinaryToReal
from geninv.reductions.sat import SatReduction
from geninv.reductions.vertex_cover import VertexCoverReduction
from geninv.solvers.base import (
    BASES,
    BASIS_FLOAT,
    REGISTRY,
    TRUSTED,
    Backend,
    _load_builtin_backends,
    solve,
)
from geninv.testing.cases import Case
from geninv.testing.exactref import RefLayer

from .conftest import random_cnf

_load_builtin_backends()
BACKENDS = sorted(name for name, cls in REGISTRY.items() if cls.available())
COMPLETE = [name for name in BACKENDS if REGISTRY[name].capabilities.complete]
#: Backends whose 'no' rests on a floating-point solver: run with trust_solver here.
FLOAT = {name for name in COMPLETE if REGISTRY[name].no_basis == BASIS_FLOAT}


def solve_trusting(problem: InversionProblem, backend: str, time_limit: float) -> Solution:
    """The backend's own answer: floating-point backends with ``trust_solver``."""
    return solve(problem, backend, time_limit=time_limit, trust_solver=backend in FLOAT)


def assert_no_contract(problem: InversionProblem, backend: str, got: Solution, gate: bool) -> None:
    """A 'no' states its basis; a float one is marked trusted and, without trust
    (checked when ``gate``), is ``unknown`` with the reason."""
    assert got.proof and got.proof.get("basis") in BASES, (backend, got.proof)
    if backend not in FLOAT:
        assert "trusted" not in got.proof
        return
    assert got.proof["basis"] == BASIS_FLOAT and got.proof["trusted"] == TRUSTED
    if gate:
        untrusted = solve(problem, backend, time_limit=60)
        assert untrusted.status is Status.UNKNOWN, backend
        assert "--trust-solver" in (untrusted.reason or "")


def discrete_problems() -> Iterator[tuple[str, InversionProblem]]:
    rng = np.random.default_rng(2024)
    for i in range(24):
        n = int(rng.integers(2, 7))
        dims = [n, *[int(d) for d in rng.integers(2, 6, size=int(rng.integers(1, 3)))]]
        ws = [
            rng.integers(-2, 3, size=(dims[k + 1], dims[k])).astype(float)
            for k in range(len(dims) - 1)
        ]
        bs = [rng.integers(-1, 2, size=dims[k + 1]).astype(float) for k in range(len(dims) - 1)]
        net = ReLUNetwork(ws, bs, final_activation="identity" if i % 3 == 0 else "relu")
        kind = "binary" if i % 2 else "sign"
        lo, hi = Domain(kind).corner_values()
        corner = rng.choice([lo, hi], size=n)
        target = net.forward(corner)
        if i % 4 == 1:
            target = target + 0.5  # usually no exact preimage
        p = [math.inf, 1.0, 2.0][i % 3]
        threshold = 0 if i % 4 < 2 else float(rng.choice([0.5, 1.0, 1.5]))
        yield f"random-{i}", InversionProblem(net, target, Domain(kind), p=p, threshold=threshold)
    for i in range(8):
        cnf = random_cnf(rng, 6, int(rng.integers(12, 35)))
        yield f"thm1-{i}", SatReduction("sign").apply(cnf)[0]
    for i in range(6):
        basis = tuple(
            tuple(Fraction(int(v)) for v in rng.integers(-2, 3, size=3)) for _ in range(4)
        )
        target = tuple(Fraction(int(v)) for v in rng.integers(-3, 4, size=3))
        p = [1.0, math.inf, 2.0][i % 3]
        inst = CVPInstance(basis, target, Fraction(int(rng.integers(0, 4))), None, p)
        yield f"cvp-{i}", CVPReduction(p).apply(inst)[0]
    for i in range(6):
        n = 5
        edges = tuple((a, b) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.6)
        g = Graph(n=n, edges=edges)
        if i % 2:
            yield f"clique-{i}", CliqueReduction(3, 1 + i % 2).apply(g)[0]
        else:
            yield (
                f"vc-{i}",
                VertexCoverReduction(int(rng.integers(1, 4)), [1, 2, "inf"][i % 3]).apply(g)[0],
            )


DISCRETE = list(discrete_problems())


@pytest.mark.parametrize("backend", COMPLETE)
def test_agrees_with_enumeration(backend: str) -> None:
    cls = REGISTRY[backend]
    checked = 0
    gated = False
    for name, problem in DISCRETE:
        if cls.unsupported_reason(problem) is not None:
            continue
        ref = solve(problem, "enumerate")
        try:
            got = solve_trusting(problem, backend, 60)
        except Exception as exc:  # an UnsupportedError for this instance is acceptable
            from geninv.errors import UnsupportedError

            if isinstance(exc, UnsupportedError):
                continue
            raise
        assert got.status is not Status.UNKNOWN, (backend, name, got.reason)
        assert got.status is ref.status, (backend, name)
        if got.status is Status.YES:
            assert got.check is not None and got.check.meets
        else:
            assert_no_contract(problem, backend, got, gate=not gated)
            gated = True
        checked += 1
    if backend == "enumerate":
        assert checked == len(DISCRETE)
    elif not {"binary", "sign"} & set(cls.capabilities.domains):
        assert checked == 0  # continuous-only: covered by test_real_latent_reductions
    else:
        assert checked >= 5, f"{backend} accepted only {checked} contract problems"


def real_problems() -> Iterator[tuple[str, InversionProblem, bool]]:
    rng = np.random.default_rng(77)
    for i in range(6):
        cnf = random_cnf(rng, 5, int(rng.integers(15, 35)))
        truth = bool(sat_oracle(cnf))
        yield f"thm2-{i}", SatReduction("real").apply(cnf)[0], truth
    for i in range(4):
        basis = tuple(
            tuple(Fraction(int(v)) for v in rng.integers(-2, 3, size=2)) for _ in range(3)
        )
        target = tuple(Fraction(int(v)) for v in rng.integers(-3, 4, size=2))
        binary = CVPReduction(math.inf).apply(CVPInstance(basis, target, Fraction(1), None, None))[
            0
        ]
        truth = solve(binary, "enumerate").status is Status.YES
        yield f"thm4-{i}", BinaryToReal().apply(binary)[0], truth


REAL = list(real_problems())


@pytest.mark.parametrize("backend", COMPLETE)
def test_real_latent_reductions(backend: str) -> None:
    cls = REGISTRY[backend]
    checked = 0
    gated = False
    for name, problem, truth in REAL:
        if cls.unsupported_reason(problem) is not None:
            continue
        got = solve_trusting(problem, backend, 60)
        assert got.status is not Status.UNKNOWN, (backend, name, got.reason)
        assert (got.status is Status.YES) == truth, (backend, name)
        if got.status is Status.NO:
            assert_no_contract(problem, backend, got, gate=not gated)
            gated = True
        checked += 1
    if {"real", "box"} & set(cls.capabilities.domains):
        assert checked >= 6, f"{backend} accepted only {checked} real-latent problems"


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit_never_gives_a_wrong_no(backend: str) -> None:
    """A satisfiable instance under a tiny time limit: yes or unknown, never no."""
    rng = np.random.default_rng(5)
    cnf = random_cnf(rng, 22, 80)
    while not sat_oracle(cnf):
        cnf = random_cnf(rng, 22, 80)
    for problem in (SatReduction("sign").apply(cnf)[0], SatReduction("real").apply(cnf)[0]):
        if REGISTRY[backend].unsupported_reason(problem) is not None:
            continue
        got = solve(problem, backend, time_limit=0.001)
        assert got.status in (Status.YES, Status.UNKNOWN), backend
        if got.status is Status.UNKNOWN:
            assert got.reason


def test_every_backend_declares_itself() -> None:
    expected = {
        "enumerate",
        "sat",
        "milp",
        "adam",
        "pgd",
        "admm",
        "langevin",
        "flipgd",
        "layerwise",
    }
    assert expected <= set(REGISTRY), sorted(REGISTRY)
    assert expected <= set(BACKENDS), "a built-in backend is not available (missing dependency?)"
    for name, cls in REGISTRY.items():
        assert cls.name == name and cls.summary and cls.capabilities.domains
        assert set(cls.capabilities.domains) <= {"real", "box", "binary", "sign"}


def test_module_availability_is_remembered_only_when_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found modules are remembered; a missing one is looked up again (so installing it
    mid-session is noticed), and a module blocked in sys.modules (None) is missing."""
    import importlib.util

    from geninv.solvers import interface as base

    calls: list[str] = []
    real = importlib.util.find_spec

    def spy(name: str, *args: object) -> object:
        calls.append(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(base, "_FOUND", set())
    monkeypatch.setattr(base.importlib.util, "find_spec", spy)
    assert base._module_found("json")  # imported already: sys.modules answers
    assert base._module_found("geninv_no_such_module") is False
    assert base._module_found("geninv_no_such_module") is False
    assert calls.count("geninv_no_such_module") == 2
    monkeypatch.setitem(sys.modules, "geninv_blocked_module", None)
    assert base._module_found("geninv_blocked_module") is False
    # on disk, never imported (find_spec does not import it): looked up once, then remembered
    assert "antigravity" not in sys.modules
    assert base._module_found("antigravity")
    assert base._module_found("antigravity")
    assert calls.count("antigravity") == 1


# ---------------------------------------------------------------- ELU networks
def elu_cases() -> Iterator[tuple[str, Case, bool | None]]:
    """(name, case, truth): ELU in hidden and final layers (alpha 1, 1/2, 3), a planted
    yes on a box, on binary latents and on the real line, and a no (ELU_alpha >= -alpha:
    a target far below is out of reach)."""
    from geninv.testing.exactref import forward_bounds

    h = F(1, 2)
    layers: list[RefLayer] = [
        ([[F(1), F(-2)], [h, F(3, 4)], [F(-1), h]], [F(1, 4), F(-1), F(0)], "elu"),
        ([[F(1), F(-1), h], [F(2), F(1, 4), F(-3, 4)]], [F(0), h], "elu:1/2"),
        ([[F(3, 2), F(-1)], [F(1), F(1)]], [F(-1, 4), F(0)], "elu:3"),
    ]
    for name, dom, z in (
        ("box", "box", [F(-1, 2), F(1, 4)]),
        ("binary", "binary", [F(1), F(0)]),
        ("real", "real", [F(3, 2), F(-2)]),
    ):
        mid = [(lo + hi) / 2 for lo, hi in forward_bounds(layers, z)]
        box = ([F(-1)] * 2, [F(1)] * 2) if dom == "box" else (None, None)
        yield (
            f"elu-{name}",
            Case(layers, mid, dom, "2", F(1, 1000), "<=", *box, planted=z),
            True,
        )
    far = [F(-10), F(-10)]
    yield "elu-no", Case(layers, far, "box", "inf", F(1), "<=", [F(-1)] * 2, [F(1)] * 2), False


ELU_CASES = list(elu_cases())


def _refusal_names_layer(why: str, case: Case, cls: type[Backend] | None) -> None:
    """One line; and when the backend takes the same network with ReLU for ELU, the
    reason names an ELU layer (``layer K (elu...)``)."""
    assert why.strip() and "\n" not in why.strip(), why
    relu = Case.from_json(case.to_json())
    relu.layers = [(w, b, "relu") for w, b, _ in relu.layers]
    if cls is not None and cls.unsupported_reason(relu.problem()) is None:
        assert re.search(r"layer [123] \(elu", why), why


@pytest.mark.parametrize("backend", [*BACKENDS, "auto"])
def test_elu_networks_refused_by_layer_or_answered_yes_with_a_confirmed_witness(
    backend: str,
) -> None:
    """Every backend on ELU networks: refuses with a one-line reason naming the ELU
    layer, or answers yes with a witness the independent reference evaluator
    (:mod:`geninv.testing.exactref`, not geninv's re-check) confirms, or unknown with a
    reason; never no (no backend certifies a no through exp)."""
    from geninv.errors import UnsupportedError

    cls = REGISTRY.get(backend)
    answered = 0
    finders = ("primal", "auto")  # these take ELU and find the planted yes (in 0.2 s alone)
    limit = 3.0 if backend in finders else 0.5
    for name, case, truth in ELU_CASES:
        problem = case.problem()
        why = None if cls is None else cls.unsupported_reason(problem)
        if why is not None:
            _refusal_names_layer(why, case, cls)
            continue
        try:
            got = solve(problem, backend, time_limit=limit if truth else 0.3, seed=0)
        except UnsupportedError as exc:
            _refusal_names_layer(str(exc), case, cls)
            continue
        assert got.status is not Status.NO, (backend, name, got.reason)
        if got.status is Status.YES:
            assert truth, (backend, name)
            assert got.z is not None
            assert case.question().decide([F(v) for v in got.z]) is True, (backend, name)
            answered += 1
        else:
            assert got.reason, (backend, name)
    if backend in finders:
        assert answered >= 2, (backend, answered)
