"""Theorems 1 and 2: decision equivalence with PySAT and witness maps both ways."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.io.dimacs import CNF
from geninv.oracles import sat_model, sat_oracle
from geninv.problem import Domain, InversionProblem, Solution, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.base import solve

from .conftest import random_cnf
from .search import adversarial_min_distance

THM1 = SatReduction("sign")
THM2 = SatReduction("real")


def corner_problem(problem: InversionProblem) -> InversionProblem:
    """The Theorem 2 question restricted to sign corners (enumerable)."""
    return InversionProblem(problem.network, problem.target, Domain("sign"), threshold=0)


def check_formula(cnf: CNF) -> tuple[bool, bool]:
    """Check both theorems on one formula; returns (satisfiable, thm1 said yes)."""
    truth = sat_oracle(cnf)
    assert truth is not None
    model = sat_model(cnf)
    assert (model is not None) == truth

    # Theorem 1: enumeration decides the inversion problem.
    p1, inv1 = THM1.apply(cnf)
    assert p1.network.depth == 2
    sol = solve(p1, "enumerate")
    assert sol.status is (Status.YES if truth else Status.NO), cnf
    if sol.status is Status.YES:
        assert sol.check is not None and sol.check.meets
        assignment = THM1.invert(sol, inv1)
        assert assignment is not None and cnf.evaluate(assignment)
    else:
        assert sol.proof is not None and sol.proof["points"] == 2**p1.n
    # Source witness -> inversion witness, checked exactly, and back.
    if model is not None:
        z = THM1.encode(model, inv1)
        assert p1.exact_check(z).meets
        back = THM1.decode([Fraction(v) for v in z], inv1)
        assert back == model

    # Theorem 2: real latents.
    p2, inv2 = THM2.apply(cnf)
    assert p2.network.depth == 4
    m_rows = p1.network.widths[0]
    assert p2.network.widths == [p2.n, p2.n, m_rows + 2 * p2.n, 2]
    assert p2.input_box is not None
    if model is not None:
        z = THM2.encode(model, inv2)
        chk = p2.exact_check(z)
        assert chk.meets
        # Any real z clamping to the same corner is a witness too.
        far = [v * 7 for v in z]
        assert p2.exact_check(far).meets
        assert (
            THM2.invert(Solution(Status.YES, "test", z=[Fraction(v) for v in far]), inv2) == model
        )
    corner = solve(corner_problem(p2), "enumerate")
    assert corner.status is (Status.YES if truth else Status.NO)
    return truth, sol.status is Status.YES


@pytest.mark.parametrize("density", [3.0, 4.26, 5.5])
def test_random_3sat_equivalence(density: float) -> None:
    """Uniform random 3-SAT around and either side of the threshold 4.26."""
    rng = np.random.default_rng(int(density * 100))
    answers = []
    for _ in range(200):
        n = int(rng.integers(3, 13))
        m = max(1, round(density * n))
        answers.append(check_formula(random_cnf(rng, n, m))[0])
    if density == 4.26:
        assert 40 <= sum(answers) <= 160, "both answers should be well represented"


def test_random_mixed_cnf_equivalence() -> None:
    """Mixed clause lengths, repeated literals, tautologies, empty clauses."""
    rng = np.random.default_rng(7)
    answers = []
    for i in range(400):
        n = int(rng.integers(1, 13))
        m = int(rng.integers(0, 6 * n + 1))
        cnf = random_cnf(
            rng,
            n,
            m,
            lengths=(1, 2, 3, 4, 5),
            p_repeat=0.2,
            p_taut=0.1,
            p_empty=0.01 if i % 10 == 0 else 0.0,
        )
        answers.append(check_formula(cnf)[0])
    assert 100 <= sum(answers) <= 300


def test_edge_cases() -> None:
    cases = {
        "empty formula": (CNF(0, ()), True),
        "no clauses": (CNF(3, ()), True),
        "empty clause": (CNF(2, ((1, 2), ())), False),
        "only tautologies": (CNF(2, ((1, -1), (2, -2, 1))), True),
        "repeated literals": (CNF(1, ((1, 1, 1), (-1, -1, -1))), False),
        "mixed lengths": (CNF(3, ((1, 2, 3), (1,), (-1,))), False),
        "unit chain": (CNF(3, ((1,), (-1, 2), (-2, 3))), True),
    }
    for name, (cnf, expected) in cases.items():
        truth, said = check_formula(cnf)
        assert truth == expected, name
        assert said == expected, name


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    st.integers(min_value=0, max_value=7).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.lists(
                    st.integers(min_value=1, max_value=max(n, 1)).flatmap(
                        lambda v: st.sampled_from([v, -v])
                    ),
                    max_size=6,
                ),
                max_size=20,
            )
            if n > 0
            else st.just([]),
        )
    )
)
def test_property_any_cnf(data: tuple[int, list[list[int]]]) -> None:
    n, clauses = data
    check_formula(CNF(n, tuple(tuple(c) for c in clauses)))


def test_thm2_no_instances_resist_adversarial_search() -> None:
    """On unsatisfiable formulas no real z found by search reaches (0, n)."""
    rng = np.random.default_rng(11)
    found = 0
    while found < 25:
        n = int(rng.integers(3, 9))
        cnf = random_cnf(rng, n, 7 * n)
        if sat_oracle(cnf):
            continue
        found += 1
        p2, _ = THM2.apply(cnf)
        target = p2.target_array()
        best, z = adversarial_min_distance(p2.network, target, rng, n_random=1000, steps=200)
        assert best > 1e-6
        assert not p2.exact_check([float(v) for v in z]).meets


def test_satlib_uf20_theorem1_by_enumeration(shared_data) -> None:  # type: ignore[no-untyped-def]
    from geninv.io.dimacs import read_cnf

    files = sorted((shared_data / "cnf" / "uf20-91").glob("*.cnf"))
    assert files
    for f in files:
        cnf = read_cnf(f)
        p1, inv = THM1.apply(cnf)
        sol = solve(p1, "enumerate")
        assert sol.status is Status.YES, f.name
        assignment = THM1.invert(sol, inv)
        assert assignment is not None and cnf.evaluate(assignment)


def test_satlib_uuf50_witness_maps(shared_data) -> None:  # type: ignore[no-untyped-def]
    """uuf50 is too large to enumerate here; check sizes and that PySAT says UNSAT."""
    from geninv.io.dimacs import read_cnf

    files = sorted((shared_data / "cnf" / "uuf50-218").glob("*.cnf"))
    assert files
    for f in files:
        cnf = read_cnf(f)
        assert sat_oracle(cnf) is False
        p1, _ = THM1.apply(cnf)
        p2, _ = THM2.apply(cnf)
        assert p1.network.widths == [218, 1]
        assert p2.network.widths == [50, 50, 218 + 100, 2]


def test_reduction_outputs_in_onnxruntime_and_vnnlib(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every reduction output exports to ONNX that onnxruntime evaluates like we do."""
    import onnxruntime as ort

    from geninv.analysis import input_clamp_box
    from geninv.io.instance import load_instance, save_instance
    from geninv.io.vnnlib import read_vnnlib

    rng = np.random.default_rng(5)
    for i in range(30):
        n = int(rng.integers(1, 10))
        cnf = random_cnf(rng, n, int(rng.integers(0, 5 * n)), lengths=(1, 2, 3, 4), p_taut=0.1)
        for red in (THM1, THM2):
            problem, _ = red.apply(cnf)
            inst = save_instance(problem, tmp_path / f"{i}-{red.name}")
            sess = ort.InferenceSession(
                str(inst / "network.onnx"), providers=["CPUExecutionProvider"]
            )
            inp = sess.get_inputs()[0]
            for z in rng.uniform(-2, 2, size=(5, problem.n)):
                dtype = np.float32 if "float)" in inp.type else np.float64
                got = sess.run(None, {inp.name: z[None, :].astype(dtype)})[0][0]
                want = problem.network.forward(z.astype(dtype).astype(np.float64))
                assert np.allclose(got, want, rtol=1e-6, atol=1e-5)
            again = load_instance(inst)
            for a, b in zip(again.network.layers, problem.network.layers, strict=True):
                assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
            if red is THM2:
                # the clamp box found by analysis is the one the reduction declares
                box = input_clamp_box(problem.network)
                assert box is not None and problem.input_box is not None
                assert (list(problem.input_box[0]), list(problem.input_box[1])) == box
                prop = read_vnnlib(inst / "property.vnnlib")
                assert prop.n_inputs == problem.n and prop.n_outputs == 2
                assert prop.input_lower == [-1] * problem.n and prop.input_upper == [1] * problem.n
                assert prop.output_lower == [0, problem.n] and prop.output_upper == [0, problem.n]
            else:
                assert not (inst / "property.vnnlib").exists()
