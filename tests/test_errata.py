"""Each erratum in docs/errata.md: the literal reading fails on its example, geninv does not."""

from __future__ import annotations

import numpy as np

from geninv.io.dimacs import CNF, parse_cnf
from geninv.network import ReLUNetwork
from geninv.oracles import sat_oracle
from geninv.problem import Domain, InversionProblem, Status
from geninv.reductions.sat import SatReduction
from geninv.solvers.base import solve


def literal_thm1(cnf: CNF, k: int) -> InversionProblem:
    """The paper's Theorem 1 read literally: entries +-1 (set, not summed), bias -(k-1)."""
    w = np.zeros((len(cnf.clauses), cnf.n_vars))
    for j, clause in enumerate(cnf.clauses):
        for lit in clause:
            w[j, abs(lit) - 1] = -1.0 if lit > 0 else 1.0
    b = np.full(len(cnf.clauses), -(k - 1.0))
    net = ReLUNetwork([w, np.ones((1, w.shape[0]))], [b, np.zeros(1)])
    return InversionProblem(net, [0], Domain("sign"))


def ours(cnf: CNF, domain: str = "sign") -> Status:
    problem, _ = SatReduction(domain).apply(cnf)  # type: ignore[arg-type]
    if domain == "real":
        problem = InversionProblem(problem.network, problem.target, Domain("sign"))
    return solve(problem, "enumerate").status


def test_e1_one_bias_for_all_clauses() -> None:
    cnf = parse_cnf("p cnf 3 3\n1 2 3 0\n1 0\n-1 0\n")
    assert sat_oracle(cnf) is False
    assert solve(literal_thm1(cnf, k=3), "enumerate").status is Status.YES  # wrong
    assert ours(cnf) is Status.NO


def test_e2_repeated_literals() -> None:
    cnf = parse_cnf("p cnf 1 2\n1 1 1 0\n-1 -1 -1 0\n")
    assert sat_oracle(cnf) is False
    assert solve(literal_thm1(cnf, k=3), "enumerate").status is Status.YES  # wrong
    assert ours(cnf) is Status.NO


def test_e3_tautology_is_dropped() -> None:
    cnf = parse_cnf("p cnf 2 1\n1 -1 2 0\n")
    problem, inv = SatReduction("sign").apply(cnf)
    assert inv["dropped_tautologies"] == [0]
    assert solve(problem, "enumerate").status is Status.YES


def test_e4_empty_formula_and_empty_clause() -> None:
    empty = parse_cnf("p cnf 0 0\n")
    problem, inv = SatReduction("sign").apply(empty)
    assert problem.n == 1 and inv["n_vars"] == 0
    assert problem.network.widths == [1, 1]
    assert ours(empty) is Status.YES
    assert ours(empty, "real") is Status.YES
    with_empty = parse_cnf("p cnf 2 2\n1 2 0\n0\n")
    assert ours(with_empty) is Status.NO
    assert ours(with_empty, "real") is Status.NO


def _literal_thm2(cnf: CNF, relu_clamp: bool, single_sum_units: bool) -> InversionProblem:
    """Theorem 2 with either defect of the literal reading (E5, E6), on sign corners of v."""
    n = cnf.n_vars
    eye = np.eye(n)
    w1 = np.zeros((len(cnf.clauses), n))
    b1 = np.zeros(len(cnf.clauses))
    for j, clause in enumerate(cnf.clauses):
        for lit in clause:
            w1[j, abs(lit) - 1] = -1.0 if lit > 0 else 1.0
        b1[j] = -(len(set(clause)) - 1)
    m = w1.shape[0]
    if relu_clamp:
        # E5: v = ReLU(min(max(z,-1),1)) in [0,1]; realised as ReLU(z+1)-1 -> ReLU(.) etc.
        # Layer 1: a = ReLU(z + 1); layer 2: v' = ReLU(1 - ReLU(2 - a)) = ReLU(v) = max(v, 0).
        l1 = (eye, np.ones(n))
        l2 = (-eye, np.full(n, 2.0))  # s = 1 - v
        # v' = ReLU(1 - s): the literal layer output, then clause rows and sums on v'
        l3w = np.vstack([-eye])
        l3b = np.ones(n)
        w4 = np.vstack([w1, eye, -eye])
        b4 = np.concatenate([b1, np.zeros(2 * n)])
        w5 = np.zeros((2, m + 2 * n))
        w5[0, :m] = 1
        w5[1, m:] = 1
        net = ReLUNetwork([l1[0], l2[0], l3w, w4, w5], [l1[1], l2[1], l3b, b4, np.zeros(2)])
    else:
        assert single_sum_units
        # E6: u_{m+1} = ReLU(sum v), u_{m+2} = ReLU(-sum v) as single units, on s = 1 - v.
        w3 = np.zeros((m + 2, n))
        b3 = np.zeros(m + 2)
        w3[:m] = -w1
        b3[:m] = w1.sum(axis=1) + b1
        w3[m] = -1  # sum v = n - sum s
        b3[m] = n
        w3[m + 1] = 1
        b3[m + 1] = -n
        w4 = np.zeros((2, m + 2))
        w4[0, :m] = 1
        w4[1, m:] = 1
        net = ReLUNetwork([eye, -eye, w3, w4], [np.ones(n), np.full(n, 2.0), b3, np.zeros(2)])
    return InversionProblem(net, [0, n], Domain("sign"))


def test_e5_clamp_layers_read_as_relu_layers() -> None:
    cnf = parse_cnf("p cnf 1 1\n-1 0\n")
    assert sat_oracle(cnf) is True
    assert solve(_literal_thm2(cnf, True, False), "enumerate").status is Status.NO  # wrong
    assert ours(cnf, "real") is Status.YES


def test_e6_sums_as_single_units() -> None:
    cnf = parse_cnf("p cnf 2 2\n1 0\n-2 0\n")
    assert sat_oracle(cnf) is True
    assert solve(_literal_thm2(cnf, False, True), "enumerate").status is Status.NO  # wrong
    assert ours(cnf, "real") is Status.YES


def test_e7_reported_widths() -> None:
    cnf = CNF(4, ((1, 2, 3), (-1, 2, 4), (1, -3, -4), (2, 3, 4), (-2, -3, 1)))
    p1, _ = SatReduction("sign").apply(cnf)
    p2, _ = SatReduction("real").apply(cnf)
    assert p1.network.widths == [5, 1]
    assert p2.network.widths == [4, 4, 5 + 8, 2]
