"""geninv.proof.Proof: the typed form of a *no*'s proof, its exact dict round trip for
every kind the backends produce, and its check, which accepts genuine proofs and
rejects tampered ones (issue 16)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geninv.errors import ValidationError
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.proof import (
    BASIS_CHECKED,
    BASIS_EXACT,
    BASIS_FLOAT,
    KIND_BAB,
    KIND_CORNER_BINARY,
    KIND_CORNER_RANGE,
    KIND_ENUMERATION,
    KIND_SAT,
    Proof,
)
from geninv.proofrows import ProofRejected
from geninv.solvers import interface
from geninv.solvers.base import solve

from .test_bab_free import _bab, _leaf_on_z, _proved
from .test_corners import separable_problem


def binary_no(seed: int = 12) -> InversionProblem:
    """A binary problem with no witness whose CNF is not refuted by unit propagation
    alone (the SAT solver writes a real DRUP proof)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-2, 3, size=(4, 6)).tolist()
    z = rng.integers(0, 2, 6)
    x = (np.array(w) @ z).tolist()
    x[0] += 1
    return InversionProblem(
        ReLUNetwork([w], [[0] * 4]), [Fraction(int(v)) for v in x], Domain("binary")
    )


def box_no() -> InversionProblem:
    net = ReLUNetwork([[[1, 1, 1], [1, -1, 0]]], [[0, 0]])
    quarter = [Fraction(1, 4)] * 3
    return InversionProblem(net, [Fraction(3, 2), Fraction(1, 3)], Domain.box([0, 0, 0], quarter))


def no(sol: Solution) -> dict[str, Any]:
    assert sol.status is Status.NO, sol.reason
    assert sol.proof is not None
    return sol.proof


def round_trips(doc: dict[str, Any]) -> Proof:
    proof = Proof.from_dict(doc)
    back = proof.to_dict()
    assert back == doc
    assert list(back) == list(doc)  # key order too: answer files do not change
    assert json.dumps(back) == json.dumps(doc)
    assert dict(proof) == doc  # it reads like the dict
    assert proof.kind == doc["kind"] and proof.basis == doc.get("basis")
    return proof


# ------------------------------------------------------------------ the type
def test_constructor_puts_kind_then_basis_then_fields() -> None:
    p = Proof("MILP infeasible", basis=BASIS_FLOAT, threshold=0.5, solver="highs")
    assert list(p.to_dict()) == ["kind", "basis", "threshold", "solver"]
    p["binaries"] = 3
    p.basis = BASIS_CHECKED  # an existing key keeps its place
    assert list(p.to_dict()) == ["kind", "basis", "threshold", "solver", "binaries"]
    assert p["basis"] == BASIS_CHECKED and p.get("missing") is None and len(p) == 5
    late = Proof(KIND_SAT, solver="x")
    late["basis"] = BASIS_CHECKED  # set late: appended, as the SAT backend does
    assert list(late.to_dict()) == ["kind", "solver", "basis"]


def test_vocabulary_is_shared_with_the_solver_interface() -> None:
    assert interface.BASIS_EXACT is BASIS_EXACT
    assert interface.BASIS_CHECKED is BASIS_CHECKED
    assert interface.BASIS_FLOAT is BASIS_FLOAT


@pytest.mark.parametrize(
    "doc",
    [{"kind": ""}, {"no": "kind"}, {"kind": 3}, {"kind": "x", "basis": "my word"}],
)
def test_malformed_proof_dicts_are_rejected(doc: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Proof.from_dict(doc)


def test_file_is_either_key() -> None:
    assert Proof(KIND_SAT, proof_file="a.drup").file == "a.drup"
    assert Proof(KIND_BAB, file="b.json").file == "b.json"
    assert Proof(KIND_BAB).file is None


# ------------------------------------------------------------------ SAT: DRUP
def test_sat_proof_round_trips_and_checks(tmp_path: Path) -> None:
    problem = binary_no()
    doc = no(solve(problem, "sat", options={"proof": str(tmp_path / "p.drup")}))
    assert "decided_by" not in doc  # a real refutation, not unit propagation
    proof = round_trips(doc)
    assert proof.kind == KIND_SAT and proof.file == str(tmp_path / "p.drup")
    assert proof.check(problem).checked
    # relative names are read from the directory given
    rel = Proof.from_dict({**doc, "proof_file": "p.drup", "cnf_file": "p.drup.cnf"})
    assert rel.check(problem, tmp_path).checked


def test_tampered_drup_proof_is_rejected(tmp_path: Path) -> None:
    problem = binary_no()
    doc = no(solve(problem, "sat", options={"proof": str(tmp_path / "p.drup")}))
    (tmp_path / "p.drup").write_text("0\n")  # claims the empty clause outright
    with pytest.raises(ProofRejected, match="DRUP"):
        Proof.from_dict(doc).check(problem)


def test_sat_proof_without_a_file_is_unchecked() -> None:
    problem = binary_no()
    proof = round_trips(no(solve(problem, "sat")))
    assert proof.check(problem).verdict == "unchecked"


# ------------------------------------------------------------------ branch and bound
def test_bab_proof_round_trips_and_checks(tmp_path: Path) -> None:
    problem = box_no()
    doc = no(solve(problem, "bab", options={"proof": str(tmp_path / "b.json")}))
    proof = round_trips(doc)
    assert proof.kind == KIND_BAB and proof.basis == BASIS_CHECKED
    assert proof.check(problem).checked


def test_bab_proof_of_another_problem_is_rejected(tmp_path: Path) -> None:
    problem = box_no()
    doc = no(solve(problem, "bab", options={"proof": str(tmp_path / "b.json")}))
    reachable = InversionProblem(problem.network, [Fraction(1, 2), 0], problem.domain)
    with pytest.raises(ProofRejected):
        Proof.from_dict(doc).check(reachable)
    lying = Proof.from_dict({**doc, "nodes": doc["nodes"] + 1})  # summary not the file's
    with pytest.raises(ProofRejected, match="nodes"):
        lying.check(problem)


def test_free_latent_bab_proof_checks_and_a_flipped_multiplier_is_rejected(
    tmp_path: Path,
) -> None:
    problem, _, _ = _proved(tmp_path)  # real latents without a box: proofcheck_free
    path = tmp_path / "again.json"
    doc = no(_bab(problem, proof=path))
    proof = round_trips(doc)
    assert proof.check(problem).checked
    cert = json.loads(path.read_text())
    nd, row = _leaf_on_z(cert)
    nd["farkas"][row] = str(-Fraction(nd["farkas"][row]))
    path.write_text(json.dumps(cert))
    with pytest.raises(ProofRejected, match="negative"):
        proof.check(problem)


# ------------------------------------------------------------------ enumeration
def test_enumeration_proof_round_trips_and_is_consistent() -> None:
    problem = binary_no()
    proof = round_trips(no(solve(problem, "enumerate")))
    assert proof.kind == KIND_ENUMERATION and proof.basis == BASIS_EXACT
    assert proof.check(problem).verdict == "consistent"


@pytest.mark.parametrize(
    "change",
    [
        {"points": 32},
        {"float_error_margin": -1.0},
        {"float_error_margin": "0"},
        {"shards": [{"shard": 0, "first": 0, "stop": 32, "points": 32}]},
        {"shards": []},
    ],
)
def test_tampered_enumeration_proof_is_rejected(change: dict[str, Any]) -> None:
    problem = binary_no()
    doc = no(solve(problem, "enumerate"))
    with pytest.raises(ProofRejected):
        Proof.from_dict({**doc, **change}).check(problem)


# ------------------------------------------------------------------ corners
def corner_proofs(mode: str) -> list[tuple[InversionProblem, dict[str, Any]]]:
    out = []
    for seed in range(8):
        problem, _ = separable_problem(np.random.default_rng(seed), True, mode)
        sol = solve(problem, "corners", options={"method": "sat"})
        if sol.status is Status.NO:
            assert sol.proof is not None
            out.append((problem, sol.proof))
    assert out, "no instance gave a corner proof"
    return out


def test_corner_range_proofs_round_trip_check_and_reject_tampering() -> None:
    for problem, doc in corner_proofs("over"):
        proof = round_trips(doc)
        assert proof.kind == KIND_CORNER_RANGE
        assert proof.check(problem).verdict == "consistent"
        o = doc["output"]
        inside = str(Fraction(doc["range"][1]))  # a target the range allows
        with pytest.raises(ProofRejected):
            Proof.from_dict({**doc, "target": inside}).check(problem)
        other = list(problem.target)
        other[o] = Fraction(doc["range"][1])
        moved = InversionProblem(problem.network, other, problem.domain)
        with pytest.raises(ProofRejected):
            proof.check(moved)


def test_corner_binary_proofs_round_trip_and_check_their_binary_proof() -> None:
    found = [(p, d) for p, d in corner_proofs("max") if d["kind"] == KIND_CORNER_BINARY]
    assert found
    for problem, doc in found:
        proof = round_trips(doc)
        assert Proof.from_dict(doc["binary_proof"]).kind == KIND_SAT
        assert proof.check(problem).verdict == "unchecked"  # no DRUP file was written
        with pytest.raises(ProofRejected):
            Proof.from_dict({**doc, "low": doc["low"][:-1]}).check(problem)
        with pytest.raises(ProofRejected):
            Proof.from_dict({k: v for k, v in doc.items() if k != "binary_proof"}).check(problem)


# ------------------------------------------------------------------ floating point
def test_float_solver_proof_round_trips_and_is_unchecked() -> None:
    problem = binary_no()
    sol = solve(problem, "milp", trust_solver=True)
    proof = round_trips(no(sol))
    assert proof.basis == BASIS_FLOAT
    assert proof.check(problem).verdict == "unchecked"
