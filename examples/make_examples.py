"""Write the small input files that the README's commands name (deterministically).

    python examples/make_examples.py [FOLDER]      # default: this script's folder

Every file is generated from fixed seeds by Python's ``random.Random(seed).random()``
(whose sequence Python guarantees across versions) and exact small dyadic numbers,
so two runs write the same bytes; ``tests/test_readme_examples.py`` checks that, and
runs every command of the README against a copy of this folder.

=================  ===========================================================
file               what
=================  ===========================================================
formula.cnf        a satisfiable random 3-SAT formula, 12 variables, 40 clauses
unsat.cnf          an unsatisfiable random 3-SAT formula, 8 variables, 60 clauses
cvp.json           the (0,1)-CVP example of docs/formats.md (p = 2)
lattice.txt, t.txt an fplll lattice (4 vectors in Z^4) and a target vector
graph.col          DIMACS graph, 8 vertices (even, for --half) with a 4-clique
graph.edge         PACE 2019 graph, 10 vertices, with a vertex cover of 6
G.onnx             a small ReLU generator z in R^4 -> 8x8 image (4 -> 16 -> 64),
                   with x.npy exactly in its range
x.npy              an 8x8 image (64 values in (0, 1)), G(z*) for z* = (1/2, -1/4, 1/8, 3/4)
vae.pth            a PyTorch state_dict of a small VAE decoder, fc3 (4 -> 16) ReLU,
                   fc4 (16 -> 64) sigmoid (torch.save's zip format)
far.npy            a target no 8x8 image of G comes near (every pixel 50)
net.onnx           a VNN-COMP style network, 2 -> 8 -> 2 (ReLU)
prop.vnnlib        a property of net.onnx: an input box and output bounds
lab.toml           a tiny ``geninv lab run`` sweep spec (docs/lab.md): 3-SAT and clique
=================  ===========================================================

The generators are random, not trained: they are there to make the commands run in a
second or two, not to produce good images.
"""

from __future__ import annotations

import itertools
import random
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: A sweep of a few seconds: Theorem 1 on random 3-SAT and Theorem 5 on G(n, 1/2),
#: each beside the source problem's own solver, and two approximate backends on random
#: networks near the feasibility boundary.
LAB_TOML = """\
name = "readme"
seed = 0
time_limit = 10

[[families]]
family = "sat-thm1"
sizes = [6, 8, 10]
seeds = 2
solvers = ["sat", "enumerate", "cadical"]
params = { density = 4.26, planted = false }

[[families]]
family = "clique-thm5"
sizes = [6, 8]
seeds = 2
solvers = ["sat", "networkx"]

# An approximate backend near the feasibility boundary: radius 1.1 x the least distance
# found (success rates against n in `geninv lab report`).
[[families]]
family = "random-net"
sizes = [4, 6]
seeds = 2
solvers = ["adam", "pgd"]
params = { fraction = 1.1, optimize_limit = 4.0 }
"""


def _uniform_int(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high] from ``rng.random()`` alone (stable across Python versions)."""
    return low + int(rng.random() * (high - low + 1))


def _dyadic_matrix(rng: random.Random, rows: int, cols: int, scale: int = 8) -> np.ndarray:
    """Entries k / scale with |k| <= scale: exact in float32, so ONNX stores float32."""
    return np.array(
        [[_uniform_int(rng, -scale, scale) / scale for _ in range(cols)] for _ in range(rows)],
        dtype=np.float64,
    )


def formula_cnf(n: int = 12, m: int = 40, satisfiable: bool = True) -> str:
    """A random 3-SAT formula: the first seed whose formula is (un)satisfiable (brute force)."""
    for seed in itertools.count():
        rng = random.Random(seed)
        clauses = []
        for _ in range(m):
            variables: list[int] = []
            while len(variables) < 3:
                v = _uniform_int(rng, 1, n)
                if v not in variables:
                    variables.append(v)
            clauses.append([v if rng.random() < 0.5 else -v for v in variables])
        has_model = any(
            all(any((lit > 0) == bits[abs(lit) - 1] for lit in c) for c in clauses)
            for bits in itertools.product((False, True), repeat=n)
        )
        if has_model == satisfiable:
            what = "satisfiable" if satisfiable else "unsatisfiable"
            head = f"c random 3-SAT ({what}), seed {seed}, examples/make_examples.py\n"
            body = "".join(" ".join(map(str, c)) + " 0\n" for c in clauses)
            return head + f"p cnf {n} {m}\n" + body
    raise AssertionError("unreachable")


CVP_JSON = (
    '{"basis": [[1, 0, 0], [0, 1, 0], [1, 1, 2]], "target": [1, "1/2", 0.25], '
    '"radius": "3/2", "p": 2}\n'
)
LATTICE = "[[3 1 0 2]\n[1 4 1 0]\n[0 2 5 1]\n[2 0 1 6]]\n"
TARGET = "[6 7 6 9]\n"  # = b1 + b2 + b4 + (0, 2, 0, 0): within l_inf radius 40 of a 0/1 sum


def graph_col() -> str:
    """8 vertices: the 4-clique {1, 2, 3, 4} and a few other edges."""
    edges = [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (5, 8)]
    return (
        "c 8 vertices with the 4-clique {1, 2, 3, 4} (examples/make_examples.py)\n"
        f"p edge 8 {len(edges)}\n" + "".join(f"e {u} {v}\n" for u, v in edges)
    )


def graph_edge() -> str:
    """PACE 2019 format: a 10-cycle plus 3 chords; {1, 3, 5, 7, 9, 10}... covers it."""
    edges = [(i, i % 10 + 1) for i in range(1, 11)] + [(1, 6), (3, 8), (2, 7)]
    return (
        "c a 10-cycle and 3 chords\n"
        + f"p td 10 {len(edges)}\n"
        + "".join(f"{u} {v}\n" for u, v in edges)
    )


def generator_files(folder: Path) -> None:
    """G.onnx, vae.pth, x.npy, far.npy."""
    import torch

    from geninv.io.onnx_io import export_onnx
    from geninv.network import ReLUNetwork

    rng = random.Random(2024)
    z_star = np.array([0.5, -0.25, 0.125, 0.75])
    # the decoder: fc3 4 -> 16, ReLU, fc4 16 -> 64, sigmoid
    w3, b3 = _dyadic_matrix(rng, 16, 4), _dyadic_matrix(rng, 16, 1)[:, 0]
    w4, b4 = _dyadic_matrix(rng, 64, 16, 4), _dyadic_matrix(rng, 64, 1, 4)[:, 0]
    hidden = np.maximum(w3 @ z_star + b3, 0.0)
    x = 1.0 / (1.0 + np.exp(-(w4 @ hidden + b4)))
    np.save(folder / "x.npy", x)
    np.save(folder / "far.npy", np.full(64, 50.0))
    state = {
        "fc3.weight": torch.tensor(w3, dtype=torch.float32),
        "fc3.bias": torch.tensor(b3, dtype=torch.float32),
        "fc4.weight": torch.tensor(w4, dtype=torch.float32),
        "fc4.bias": torch.tensor(b4, dtype=torch.float32),
    }
    torch.save(state, folder / "vae.pth")
    # G.onnx: the same first layer; its linear output layer's bias puts x in its range,
    # G(z*) = w4 h(z*) + (x - w4 h(z*)) = x (exactly, up to the float32 rounding of x)
    bias = np.array([float(Fraction(float(v)).limit_denominator(2**20)) for v in x - w4 @ hidden])
    generator = ReLUNetwork([w3, w4], [b3, bias], activations=["relu", "identity"])
    export_onnx(generator, folder / "G.onnx", dtype="float64")


def vnncomp_files(folder: Path) -> None:
    """net.onnx (2 -> 8 -> 2, ReLU) and prop.vnnlib: an input box and an output box."""
    from geninv.io.onnx_io import export_onnx
    from geninv.network import ReLUNetwork

    rng = random.Random(7)
    net = ReLUNetwork(
        [_dyadic_matrix(rng, 8, 2), _dyadic_matrix(rng, 2, 8)],
        [_dyadic_matrix(rng, 8, 1)[:, 0], np.zeros(2)],
        activations=["relu", "identity"],
    )
    export_onnx(net, folder / "net.onnx")
    (folder / "prop.vnnlib").write_text(
        "; examples/make_examples.py: is there X in [-1, 1]^2 with Y in [0.5, 4] x [-4, 0.5]?\n"
        "(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
        "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
        "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n"
        "(assert (>= X_1 -1))\n(assert (<= X_1 1))\n"
        "(assert (>= Y_0 0.5))\n(assert (<= Y_0 4))\n"
        "(assert (>= Y_1 -4))\n(assert (<= Y_1 0.5))\n"
    )


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else HERE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "formula.cnf").write_text(formula_cnf())
    (folder / "unsat.cnf").write_text(formula_cnf(8, 60, satisfiable=False))
    (folder / "cvp.json").write_text(CVP_JSON)
    (folder / "lattice.txt").write_text(LATTICE)
    (folder / "t.txt").write_text(TARGET)
    (folder / "graph.col").write_text(graph_col())
    (folder / "graph.edge").write_text(graph_edge())
    generator_files(folder)
    vnncomp_files(folder)
    (folder / "lab.toml").write_text(LAB_TOML)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
