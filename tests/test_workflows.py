"""The steps of the commands in geninv.workflows (issue 16: a thin CLI over them),
called directly: backend plans for auto with options, backends in turn, expected
answers, provenance, lifting, sensing inputs, and how the program knows it started."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import geninv
import geninv.cli
from geninv import workflows
from geninv.errors import ParseError, UnsupportedError, ValidationError
from geninv.io.dimacs import CNF
from geninv.io.lattice import CVPInstance
from geninv.problem import InversionProblem, Status
from geninv.workflows import recovery


def _net() -> geninv.ReLUNetwork:
    """G(z) = relu(z) + relu(-z) = |z|, one latent."""
    return geninv.ReLUNetwork([[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])


def _far_box() -> InversionProblem:
    """|z| = 3 within 1 for z in [-1, 1]: no (|z| <= 1 < 2)."""
    return geninv.new_problem(_net(), [3], domain="box", lower=[-1], upper=[1], threshold=1)


def _binary() -> InversionProblem:
    """|z| = 1 exactly for z in {0, 1}: yes (z = 1)."""
    return geninv.new_problem(_net(), [1], domain="binary", threshold=0)


def _takes(name: str, key: str) -> bool:
    from geninv.solvers.base import REGISTRY, _load_builtin_backends

    _load_builtin_backends()
    return key in inspect.signature(REGISTRY[name].__init__).parameters


# ---------------------------------------------------------------- plan_backends
def test_a_named_backend_runs_alone_whatever_the_options() -> None:
    plan = workflows.plan_backends(_far_box(), "milp", {"anything": 1}, explain=True)
    assert plan.names == ["milp"] and plan.why is None and plan.warning is None


def test_auto_with_proof_keeps_only_backends_that_write_one() -> None:
    for problem, writer in ((_far_box(), "bab"), (_binary(), "sat")):
        plan = workflows.plan_backends(problem, "auto", {"proof": "p.txt"}, explain=True)
        assert writer in plan.names, plan
        assert all(_takes(name, "proof") for name in plan.names), plan
        assert plan.why is not None and plan.why.startswith(plan.names[0] + ":")
        assert plan.why.endswith("(the first candidate that takes proof)")


def test_auto_without_options_explains_only_when_asked() -> None:
    from geninv.solvers.base import choose_backend

    assert workflows.plan_backends(_binary(), "auto", None) == workflows.BackendPlan(["auto"])
    plan = workflows.plan_backends(_binary(), "auto", None, explain=True)
    assert plan.names == ["auto"] and plan.why == choose_backend(_binary())[1]


def test_an_option_no_candidate_takes_is_an_error() -> None:
    with pytest.raises(ValidationError, match="takes no_such_option; name one with --method"):
        workflows.plan_backends(_binary(), "auto", {"no_such_option": 1})


def test_proof_alone_with_no_writer_runs_auto_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import geninv.solvers.base as base

    base._load_builtin_backends()
    enumerate_cls = base.REGISTRY["enumerate"]
    assert not _takes("enumerate", "proof")
    monkeypatch.setattr(base, "candidate_backends", lambda p: [(enumerate_cls, "enumerate: x")])
    plan = workflows.plan_backends(_binary(), "auto", {"proof": "p.txt"})
    assert plan.names == ["auto"]
    assert plan.warning is not None and "(enumerate) writes one (bab and sat do)" in plan.warning
    with pytest.raises(ValidationError):  # with any other option it is an error
        workflows.plan_backends(_binary(), "auto", {"proof": "p.txt", "mode": "decide"})


# ---------------------------------------------------------------- solve_in_turn
def test_solve_in_turn_passes_a_refusal_to_the_next() -> None:
    # sat decides binary and sign latents only: it refuses the box, bab answers
    sol = workflows.solve_in_turn(_far_box(), ["sat", "bab"], time_limit=60)
    assert sol.status is Status.NO and sol.method == "bab"
    with pytest.raises(UnsupportedError):  # the last one's refusal, nothing held
        workflows.solve_in_turn(_far_box(), ["sat"])


def test_solve_in_turn_returns_the_first_answer_with_a_checked_witness() -> None:
    sol = workflows.solve_in_turn(_binary(), ["enumerate", "sat"], {"mode": "decide"})
    assert sol.status is Status.YES and sol.method == "enumerate"
    assert sol.z is not None and geninv.check(_binary(), sol.z).meets


# ---------------------------------------------------------------- expected answers
def test_expected_answer_modes() -> None:
    def boom() -> bool:
        raise AssertionError("the oracle must not run")

    assert workflows.building.expected_answer("yes", False, boom) == "yes"
    assert workflows.building.expected_answer("no", True, boom) == "no"
    assert workflows.building.expected_answer("unknown", True, boom) is None
    assert workflows.building.expected_answer("auto", False, boom) is None  # too large
    assert workflows.building.expected_answer("auto", True, lambda: True) == "yes"
    assert workflows.building.expected_answer("auto", True, lambda: False) == "no"


def test_expected_answers_from_the_oracles() -> None:
    sat = CNF(2, ((1, 2), (-1, 2)))
    unsat = CNF(1, ((1,), (-1,)))
    assert workflows.expected_sat(sat, "auto", 10.0) == "yes"
    assert workflows.expected_sat(unsat, "auto", 10.0) == "no"
    assert workflows.expected_sat(unsat, "unknown", 10.0) is None
    # (0,1)-CVP: basis (1,0), (0,1), target (1,1): the point (1,1) is at distance 0
    inst = CVPInstance(((1, 0), (0, 1)), (1, 1), Fraction(0), None, 2.0)
    assert workflows.expected_cvp(inst, 2.0, "<=", "auto") == "yes"
    assert workflows.expected_cvp(inst, 2.0, "<", "auto") == "no"  # distance 0 < 0: no


# ---------------------------------------------------------------- provenance, lifting
def test_record_source_hashes_the_files_in_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"first\n")
    b.write_bytes(b"second\n")
    problem, _ = geninv.reduce("sat", CNF(1, ((1,),)))
    workflows.record_source(problem, [a, b], expected="yes", copy_name="source.cnf")
    src = problem.source
    assert src.file == "a.txt, b.txt" and src.copy == "source.cnf" and src.expected == "yes"
    assert src.sha256 == hashlib.sha256(b"first\nsecond\n").hexdigest()
    assert src.reduction == "sat-thm1" and src.theorem == "Theorem 1"


def test_lift_instance_names_what_the_lifting_proves() -> None:
    inst = CVPInstance(((1, 0), (0, 1)), (1, 1), Fraction(1), None, 2.0)
    problem, _ = geninv.reduce("cvp", inst)
    problem.source = dataclasses.replace(problem.source, copy="source.json")
    lifted = workflows.lift_instance(problem)
    assert lifted.domain.kind == "real" and lifted.source.theorem == "Theorem 4"
    assert lifted.source.copy == "source.json"
    assert workflows.lift_scale(lifted) is not None
    plain = workflows.lift_instance(_binary())  # no reduction: its own source
    assert plain.source.copy == "source-instance"
    assert plain.source.theorem == "binary-to-real lifting"


# ---------------------------------------------------------------- sensing inputs
def test_sensing_inputs(tmp_path: Path) -> None:
    f = tmp_path / "img.npy"
    np.save(f, np.arange(16.0).reshape(4, 4))  # one 4x4 picture of a 16-pixel generator
    assert recovery.read_images(str(f), 16).shape == (1, 16)
    assert recovery.read_images(str(f), 4).shape == (4, 4)  # else four images of 4 pixels
    with pytest.raises(ParseError, match=r"expected a \.npy array"):
        recovery.read_images(str(tmp_path / "img.json"), 16)
    A = np.eye(3, 4)
    images = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert np.array_equal(recovery.measure(images, A, 0.0, 0), [[1.0, 2.0, 3.0]])
    with pytest.raises(ParseError, match="images have 3 pixels, the generator 4"):
        recovery.measure(np.ones((1, 3)), A, 0.0, 0)
    assert recovery.grid_shape(64) == (8, 8) and recovery.grid_shape(10) == (1, 10)


# ---------------------------------------------------------------- the program starts
@pytest.mark.parametrize(
    ("argv0", "orig", "program"),
    [
        ("/usr/local/bin/geninv", ["python", "/usr/local/bin/geninv"], True),
        ("-m", ["python", "-m", "geninv.cli", "solve"], True),
        ("-m", ["python", "-X", "utf8", "-mgeninv.cli"], True),
        ("-m", ["python", "-m", "pytest"], False),
        ("script.py", ["python", "script.py"], False),
    ],
)
def test_the_early_signal_handler_is_for_the_program_only(
    monkeypatch: pytest.MonkeyPatch, argv0: str, orig: list[str], program: bool
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    monkeypatch.setattr(sys, "orig_argv", orig)
    assert geninv.cli._started_as_program() is program
