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


# ---------------------------------------------------------------- section 5 and Appendix A
def _cvp(basis: list[list[int]], target: list[object], r: object) -> object:
    from fractions import Fraction

    from geninv.io.lattice import CVPInstance

    return CVPInstance(
        tuple(tuple(Fraction(v) for v in col) for col in basis),
        tuple(Fraction(v) for v in target),  # type: ignore[arg-type]
        Fraction(r),  # type: ignore[arg-type]
        None,
        None,
    )


def test_e9_pairs_double_the_latent() -> None:
    from geninv.reductions.cvp import CVPReduction

    inst = _cvp([[1]], [1], 0)
    paper, _ = CVPReduction(1, paper_pairs=True).apply(inst)  # type: ignore[arg-type]
    ours_p, _ = CVPReduction(1).apply(inst)  # type: ignore[arg-type]
    assert paper.n == 2 and ours_p.n == 1
    assert solve(paper, "enumerate").status is solve(ours_p, "enumerate").status is Status.YES


def test_e10_strict_versus_nonstrict() -> None:
    from geninv.oracles import cvp01_decide
    from geninv.reductions.cvp import CVPReduction

    inst = _cvp([[2]], [1], 1)
    assert cvp01_decide(inst.basis, inst.target, 1.0, radius=inst.radius)[0]  # type: ignore[attr-defined]
    literal, _ = CVPReduction(1, relation="<").apply(inst)  # type: ignore[arg-type]
    assert solve(literal, "enumerate").status is Status.NO  # wrong for the <= question
    ours_p, _ = CVPReduction(1).apply(inst)  # type: ignore[arg-type]
    assert solve(ours_p, "enumerate").status is Status.YES


def test_e11_literal_snap_fails_above_one_quarter() -> None:
    from fractions import Fraction

    from geninv.reductions.cvp import CVPReduction
    from geninv.reductions.lifting import BinaryToReal

    inst = _cvp([[1]], ["1/2"], "3/10")
    binary, _ = CVPReduction("inf").apply(inst)  # type: ignore[arg-type]
    assert solve(binary, "enumerate").status is Status.NO
    literal, _ = BinaryToReal(scale=Fraction(1)).apply(binary)
    assert literal.exact_check([Fraction(3, 10)]).meets  # a real witness for a NO instance
    ours_p, _ = BinaryToReal().apply(binary)
    assert not ours_p.exact_check([Fraction(3, 10)]).meets


def test_e13_appendix_a_literal_w4() -> None:
    """Appendix A with W4 = -I: v in [0, delta] does not snap to 0 (delta = 2/5, c = 3)."""
    from fractions import Fraction as F

    delta, c = F(2, 5), 3
    cd = c * delta
    # layers on z in R^1 (n = 1): a = ReLU(z); c' = ReLU(c delta - a) = c delta - v;
    # u = ReLU(c' - delta) = ReLU((c-1) delta - v);
    # e+ = ReLU(c delta/2 - c'); e- = ReLU(c' - c delta/2)
    # t = ReLU(1 - u)  (W4 = -I, b4 = 1);  E = ReLU(e+ + e-) = |v - c delta/2|
    # CVP B = [[1]], t* = [1/2]: rows t - 1/2 doubled, E carried; target (0, 0, n c delta/2)
    net = ReLUNetwork(
        [[[1]], [[-1]], [[1], [-1], [1]], [[-1, 0, 0], [0, 1, 1]], [[1, 0], [-1, 0], [0, 1]]],
        [[0], [cd], [-delta, cd / 2, -cd / 2], [1, 0], [F(-1, 2), F(1, 2), 0]],
    )
    lifted = InversionProblem(net, [0, 0, cd / 2], Domain("real"), p="inf", threshold=delta)
    assert lifted.exact_check([F(3, 10)]).meets  # t = 1/2: a real witness
    from geninv.reductions.cvp import CVPReduction

    binary, _ = CVPReduction("inf").apply(_cvp([[1]], ["1/2"], delta))  # type: ignore[arg-type]
    assert solve(binary, "enumerate").status is Status.NO


def test_e14_bias_length() -> None:
    from geninv.io.graphs import Graph
    from geninv.reductions.clique import CliqueReduction

    g = Graph(n=4, edges=((0, 1), (1, 2)))
    problem, _ = CliqueReduction(2, 2).apply(g)
    assert problem.network.widths == [2 * (6 + 1)]  # C(4,2) + 1 rows, doubled; not n + 1 = 5


def test_e15_relations_in_theorem5() -> None:
    from fractions import Fraction

    from geninv.io.graphs import Graph
    from geninv.oracles import clique_decide
    from geninv.reductions.clique import CliqueReduction

    g = Graph(n=2, edges=((0, 1),), weights=(Fraction(1),))
    assert clique_decide(g, 1, Fraction(0), relation="<")[0] is False
    ours_p, _ = CliqueReduction(1, 1, max_weight=0, relation="<").apply(g)
    assert solve(ours_p, "enumerate").status is Status.NO
    literal = InversionProblem(
        ours_p.network, ours_p.target, Domain("binary"), p=1, threshold=ours_p.threshold
    )
    assert solve(literal, "enumerate").status is Status.YES  # "<= delta" with "< M"


def test_e16_constants_are_minimal() -> None:
    from geninv.io.graphs import Graph
    from geninv.reductions.clique import CliqueReduction

    g = Graph(n=2, edges=())  # no 2-clique
    problem, _ = CliqueReduction(2, 1, max_weight=1).apply(g)
    params = problem.source.parameters
    assert (params["alpha"], params["beta"]) == (2, 3)
    assert solve(problem, "enumerate").status is Status.NO
    smaller_alpha, _ = CliqueReduction(2, 1, max_weight=1, constants=(1, 3)).apply(g)
    assert solve(smaller_alpha, "enumerate").status is Status.YES  # wrong: alpha^p = M
    smaller_beta, _ = CliqueReduction(2, 1, max_weight=1, constants=(2, 2)).apply(g)
    assert solve(smaller_beta, "enumerate").status is Status.YES  # wrong: beta^p = (3^p-1) M


def test_e17_weights_as_sums_of_powers() -> None:
    from fractions import Fraction

    from geninv.io.graphs import Graph
    from geninv.reductions._build import weight_as_pth_powers
    from geninv.reductions.clique import CliqueReduction

    for w in (2, 3, 7, Fraction(5, 3), 1000):
        for p in (2, 3):
            terms = weight_as_pth_powers(Fraction(w), p, "w")
            assert sum((c**p for c in terms), Fraction(0)) == w
    g = Graph(
        n=3, edges=((0, 1), (0, 2), (1, 2)), weights=(Fraction(2), Fraction(3), Fraction(5, 3))
    )
    problem, _ = CliqueReduction(3, 2, max_weight=Fraction(20, 3)).apply(g)
    assert solve(problem, "enumerate").status is Status.YES  # weight 2 + 3 + 5/3 = 20/3 exactly


def test_e18_theorem6_is_lifted_theorem5() -> None:
    from geninv.io.graphs import Graph
    from geninv.reductions.clique import CliqueReduction
    from geninv.reductions.lifting import BinaryToReal

    g = Graph(n=4, edges=((0, 1), (0, 2), (1, 2), (2, 3)))
    binary, _ = CliqueReduction(None, 2, half=True).apply(g)
    real, _ = BinaryToReal().apply(binary)
    assert real.domain.kind == "real" and real.network.depth == 5


def test_e19_vertex_cover_strict() -> None:
    from geninv.io.graphs import Graph
    from geninv.reductions.vertex_cover import VertexCoverReduction

    g = Graph(n=2, edges=((0, 1),))
    ours_p, _ = VertexCoverReduction(1, 2, relation="<").apply(g)
    assert solve(ours_p, "enumerate").status is Status.YES
    literal = InversionProblem(
        ours_p.network, ours_p.target, Domain("binary"), p=2, threshold=1, relation="<"
    )  # delta^p = Z alpha^p = 1
    assert solve(literal, "enumerate").status is Status.NO
