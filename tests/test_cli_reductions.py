"""The CLI contract for the approximate-inversion reductions (Theorems 3-6, section 5.3).

``geninv reduce cvp|clique|vertex-cover`` -> ``info`` -> ``solve`` -> ``check`` ->
``extract``, compared with the independent oracles of :mod:`geninv.oracles`;
``geninv lift`` on reduction, plain binary and sign instances; ``--domain real``
and its VNN-LIB property; bad input (one line on stderr, exit 2, nothing
written).  Every instance directory a test writes is re-evaluated with
onnxruntime after the test (see :func:`_every_instance_runs_in_onnxruntime`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from geninv.cli import main
from geninv.io.dimacs import read_cnf
from geninv.io.graphs import read_graph
from geninv.io.instance import load_instance
from geninv.io.lattice import read_cvp_json, read_fplll_matrix, read_fplll_vector
from geninv.io.onnx_io import export_onnx
from geninv.io.vnnlib import read_vnnlib
from geninv.network import ReLUNetwork
from geninv.oracles import (
    clique_decide,
    cvp01_decide,
    cvp01_min_distance_pow,
    vertex_cover_decide,
)

FPLLL = Path("lattices") / "fplll_tests"
PETERSEN = Path("graphs") / "small_famous_vc" / "Petersen.edge"


# ---------------------------------------------------------------- helpers
def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys: pytest.CaptureFixture[str], *argv: Any) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, (argv, out, err)
    assert "Traceback" not in err
    return out


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def info(capsys: pytest.CaptureFixture[str], inst: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ok(capsys, "info", inst, "--json"))
    return doc


def solve(capsys: pytest.CaptureFixture[str], inst: Path, witness: Path) -> dict[str, Any]:
    """``solve --method enumerate --json -o witness``; the printed JSON."""
    doc: dict[str, Any] = json.loads(
        ok(capsys, "solve", inst, "--method", "enumerate", "--json", "-o", witness)
    )
    assert json.loads(witness.read_text())["status"] == doc["status"]
    return doc


def write_witness(path: Path, z: Sequence[Any]) -> Path:
    path.write_text(json.dumps({"z": [str(Fraction(v)) for v in z]}))
    return path


def solution_line(out: str, prefix: str) -> list[int]:
    """The integers on the one output line that starts with ``prefix``."""
    lines = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    assert len(lines) == 1, out
    return [int(t) for t in lines[0][len(prefix) :].split()]


def params(inst: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((inst / "problem.json").read_text())["source"]["parameters"]
    return doc


def assert_nothing_written(tmp_path: Path, out_dir: Path, inputs: Sequence[str]) -> None:
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(inputs)


# ---------------------------------------------------------------- onnxruntime agreement
def _magnitudes(net: ReLUNetwork, z: np.ndarray) -> np.ndarray:
    """Per-output bound on |W||h| + |b| through the layers: the scale of float rounding."""
    h = np.abs(z.astype(np.float64))
    for layer in net.layers:
        h = np.abs(layer.weight) @ h + np.abs(layer.bias)
    return h


def assert_onnx_agrees(inst: Path, seed: int = 0) -> None:
    """network.onnx evaluated by onnxruntime equals ``load_instance(inst).network.forward``."""
    net = load_instance(inst).network
    sess = ort.InferenceSession(str(inst / "network.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.type in ("tensor(float)", "tensor(double)"), inp.type
    dtype = np.float32 if inp.type == "tensor(float)" else np.float64
    rel = 1e-5 if dtype is np.float32 else 1e-12
    rng = np.random.default_rng(seed)
    n = net.n_inputs
    zs = np.vstack(
        [
            rng.uniform(-1.5, 1.5, size=(3, n)),
            rng.integers(0, 2, size=(2, n)),  # binary corners
            2.0 * rng.integers(0, 2, size=(1, n)) - 1.0,  # a sign corner
        ]
    ).astype(dtype)
    for z in zs:
        (got,) = sess.run(None, {inp.name: z[None, :]})
        assert got.shape == (1, net.n_outputs) and got.dtype == dtype
        want = net.forward(z.astype(np.float64))
        tol = rel * (1.0 + _magnitudes(net, z))
        assert np.all(np.abs(got[0].astype(np.float64) - want) <= tol), (inst, z)


@pytest.fixture(autouse=True)
def _every_instance_runs_in_onnxruntime(tmp_path: Path) -> Iterator[None]:
    """After each test: every instance directory written under tmp_path agrees with onnxruntime."""
    yield
    for i, onnx_file in enumerate(sorted(tmp_path.rglob("network.onnx"))):
        assert_onnx_agrees(onnx_file.parent, seed=i)


# ---------------------------------------------------------------- CVP
# Five basis vectors (the columns of B) in dimension 3, with exact rationals.
CVP_BASIS: list[list[Any]] = [[1, 0, 2], [0, 1, 1], [1, 1, 0], [2, -1, 1], ["1/2", 3, -1]]
CVP_TARGET: list[Any] = [2, "3/2", 2.25]
B_EXACT = [[Fraction(v) for v in vec] for vec in CVP_BASIS]
T_EXACT = [Fraction(v) for v in CVP_TARGET]


def write_cvp(path: Path, **extra: Any) -> Path:
    doc: dict[str, Any] = {"basis": CVP_BASIS, "target": CVP_TARGET}
    doc.update({k: (str(v) if isinstance(v, Fraction) else v) for k, v in extra.items()})
    path.write_text(json.dumps(doc))
    return path


def cvp_distance(y: Sequence[int], p: float, basis: Any = B_EXACT, target: Any = T_EXACT) -> Any:
    """||B y - t||_p^p (integer p) or ||B y - t||_inf, exactly, independently of geninv."""
    diff = [
        sum((Fraction(basis[i][j]) * y[i] for i in range(len(basis))), Fraction(0))
        - Fraction(target[j])
        for j in range(len(target))
    ]
    if math.isinf(p):
        return max(abs(v) for v in diff)
    return sum(abs(v) ** int(p) for v in diff)


def sqrt_ceil(m: Fraction, scale: int) -> Fraction:
    """The least multiple r of 1/scale with r^2 >= m."""
    k = math.isqrt(math.ceil(m * scale * scale))
    while Fraction(k, scale) ** 2 < m:
        k += 1
    while k > 0 and Fraction(k - 1, scale) ** 2 >= m:
        k -= 1
    return Fraction(k, scale)


def cvp_radii(p: str) -> tuple[Fraction, Fraction]:
    """(a radius with answer yes, a radius just below the minimum distance: no)."""
    pf = math.inf if p == "inf" else float(p)
    m = Fraction(cvp01_min_distance_pow(B_EXACT, T_EXACT, pf))
    assert m > 0
    if p == "2":  # r^2 = m is irrational here: bracket sqrt(m) by multiples of 1/100
        r_yes = sqrt_ceil(m, 100)
        return r_yes, r_yes - Fraction(1, 100)
    return m, m - Fraction(1, 100)  # exactly at the minimum, and just below


@pytest.mark.parametrize("p", ["1", "2", "inf"])
def test_cvp_json_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str], p: str) -> None:
    pf = math.inf if p == "inf" else float(p)
    r_yes, r_no = cvp_radii(p)
    truth_yes, y_star = cvp01_decide(B_EXACT, T_EXACT, pf, radius=r_yes)
    truth_no, _ = cvp01_decide(B_EXACT, T_EXACT, pf, radius=r_no)
    assert truth_yes and not truth_no and y_star is not None
    bound = {"1": r_yes, "2": r_yes**2, "inf": r_yes}[p]
    assert cvp_distance(y_star, pf) <= bound

    src = write_cvp(tmp_path / "cvp.json", radius=r_yes)
    inst = tmp_path / "yes"
    out = ok(capsys, "reduce", "cvp", src, "--p", p, "-o", inst)
    assert "Theorem 3" in out and "expected answer: yes" in out
    doc = info(capsys, inst)
    assert doc["theorem"] == "Theorem 3" and doc["reduction"] == "cvp-thm3"
    assert doc["domain"] == "binary" and doc["latent_dim"] == len(CVP_BASIS)
    assert doc["output_dim"] == 2 * len(CVP_TARGET) and doc["depth"] == 1
    assert doc["norm"] == p and doc["expected"] == "yes" and doc["source"] == "cvp.json"
    assert not (inst / "property.vnnlib").exists()  # binary latents: no VNN-LIB
    copy = read_cvp_json(inst / "source.json")
    assert [list(v) for v in copy.basis] == B_EXACT and list(copy.target) == T_EXACT
    assert copy.radius == r_yes

    w = tmp_path / "w.json"
    sol = solve(capsys, inst, w)
    assert sol["status"] == "yes" and len(sol["z"]) == len(CVP_BASIS)
    code, out, _ = run(capsys, "check", inst, w)
    assert code == 0 and "meets the threshold" in out
    out = ok(capsys, "extract", inst, w)
    y = solution_line(out, "y = ")
    assert y == [int(v) for v in sol["z"]]
    assert cvp_distance(y, pf) <= bound  # the mapped-back y is a CVP witness
    assert "within radius" in out and "NOT" not in out
    # the oracle's minimiser is a witness of the inversion instance too
    ws = write_witness(tmp_path / "ystar.json", y_star)
    assert run(capsys, "check", inst, ws)[0] == 0
    assert solution_line(ok(capsys, "extract", inst, ws), "y = ") == list(y_star)

    # just below the minimum: no, by the oracle and by exhaustive enumeration
    src_no = write_cvp(tmp_path / "cvp-no.json", radius=r_no)
    inst_no = tmp_path / "no"
    out = ok(capsys, "reduce", "cvp", src_no, "--p", p, "-o", inst_no)
    assert "expected answer: no" in out
    sol = solve(capsys, inst_no, tmp_path / "w-no.json")
    assert sol["status"] == "no" and sol["z"] is None
    assert sol["proof"]["kind"] == "exhaustive enumeration"
    code, out, _ = run(capsys, "check", inst_no, ws)
    assert code == 1 and "does not meet" in out
    code, out, _ = run(capsys, "extract", inst_no, ws)
    assert code == 1 and "NOT within" in out
    assert solution_line(out, "y = ") == list(y_star)


def test_cvp_radius_pow_exact_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = Fraction(cvp01_min_distance_pow(B_EXACT, T_EXACT, 2))  # min ||By - t||_2^2
    src = write_cvp(tmp_path / "cvp.json")  # no radius in the file
    cases = [
        (["--radius-pow", str(m)], "yes"),
        (["--radius-pow", str(m - Fraction(1, 1000))], "no"),
        (["--radius-pow", str(m), "--relation", "<"], "no"),
        (["--radius-pow", str(m + Fraction(1, 1000)), "--relation", "<"], "yes"),
    ]
    for i, (extra, answer) in enumerate(cases):
        inst = tmp_path / f"i{i}"
        out = ok(capsys, "reduce", "cvp", src, "--p", "2", *extra, "-o", inst)
        assert f"expected answer: {answer}" in out
        doc = info(capsys, inst)
        assert f"(delta^p = {Fraction(extra[1])} exactly)" in doc["threshold"]
        relation = "<" if "<" in extra else "<="
        assert doc["relation"] == relation
        truth, _ = cvp01_decide(
            B_EXACT, T_EXACT, 2, radius_pow=Fraction(extra[1]), relation=relation
        )
        assert truth == (answer == "yes")
        w = tmp_path / f"w{i}.json"
        sol = solve(capsys, inst, w)
        assert sol["status"] == answer
        if answer == "yes":
            out = ok(capsys, "extract", inst, w)
            y = solution_line(out, "y = ")
            dist = cvp_distance(y, 2)
            assert dist < Fraction(extra[1]) if relation == "<" else dist <= Fraction(extra[1])
            # the witness found at the minimum is a minimiser: distance^2 is exactly m
            if i == 0:
                assert dist == m
    # radius_pow given in the file works the same way
    src2 = write_cvp(tmp_path / "cvp-pow.json", radius_pow=m, p=2)
    inst = tmp_path / "from-file"
    assert "expected answer: yes" in ok(capsys, "reduce", "cvp", src2, "--p", "2", "-o", inst)
    assert solve(capsys, inst, tmp_path / "wf.json")["status"] == "yes"


FPLLL_EXAMPLES = ["", "2", "3", "4", "5"]


@pytest.mark.parametrize("suffix", FPLLL_EXAMPLES)
def test_cvp_fplll_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path, suffix: str
) -> None:
    lattice = shared_data / FPLLL / f"example_cvp_in_lattice{suffix}"
    target_file = shared_data / FPLLL / f"example_cvp_in_target{suffix}"
    basis = read_fplll_matrix(lattice)
    target = read_fplll_vector(target_file)
    n, d = len(basis), len(target)
    base = ["reduce", "cvp", lattice, "--target", target_file, "--p", "2"]
    if n > 20:  # too many corners to decide here: reduce and describe only
        inst = tmp_path / "big"
        out = ok(capsys, *base, "--radius", "1000", "-o", inst)
        assert "expected answer: not known" in out
        doc = info(capsys, inst)
        assert doc["latent_dim"] == n and doc["output_dim"] == 2 * d
        assert doc["expected"] is None and doc["theorem"] == "Theorem 3"
        assert doc["source"] == f"{lattice.name}, {target_file.name}"
        return
    m = Fraction(cvp01_min_distance_pow(basis, target, 2))
    r_yes = sqrt_ceil(m, 1)  # smallest integer radius with r^2 >= m
    for radius, answer in [(r_yes, "yes"), (r_yes - 1, "no")]:
        if radius < 0:
            continue
        inst = tmp_path / f"r{radius}"
        out = ok(capsys, *base, "--radius", str(radius), "-o", inst)
        assert f"expected answer: {answer}" in out
        doc = info(capsys, inst)
        assert doc["latent_dim"] == n and doc["output_dim"] == 2 * d
        assert doc["expected"] == answer
        copy = read_cvp_json(inst / "source.json")
        assert [list(v) for v in copy.basis] == basis and list(copy.target) == target
        truth, y_star = cvp01_decide(basis, target, 2, radius=radius)
        assert truth == (answer == "yes")
        w = tmp_path / f"w{radius}.json"
        sol = solve(capsys, inst, w)
        assert sol["status"] == answer
        assert sol["seconds"] < 5.0  # 2^n <= 2^20 corners
        if answer == "yes":
            assert y_star is not None
            y = solution_line(ok(capsys, "extract", inst, w), "y = ")
            assert cvp_distance(y, 2, basis, target) <= Fraction(radius) ** 2
        else:
            assert sol["proof"]["points"] == 2**n


def test_cvp_fplll_exact_hit_at_radius_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    # example 5's target is the first basis vector: y = e_1 is at distance 0
    lattice = shared_data / FPLLL / "example_cvp_in_lattice5"
    target = shared_data / FPLLL / "example_cvp_in_target5"
    for p in ("1", "2", "inf"):
        inst = tmp_path / f"p{p}"
        ok(
            capsys,
            "reduce",
            "cvp",
            lattice,
            "--target",
            target,
            "--radius",
            "0",
            "--p",
            p,
            "-o",
            inst,
        )
        w = tmp_path / f"w{p}.json"
        assert solve(capsys, inst, w)["status"] == "yes"
        y = solution_line(ok(capsys, "extract", inst, w), "y = ")
        assert y == [1] + [0] * 9


def test_cvp_paper_pairs_doubles_latents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = len(CVP_BASIS)
    for p in ("1", "inf"):
        r_yes, r_no = cvp_radii(p)
        for radius, answer in [(r_yes, "yes"), (r_no, "no")]:
            src = write_cvp(tmp_path / f"c{p}{answer}.json", radius=radius)
            inst = tmp_path / f"pairs-{p}-{answer}"
            out = ok(capsys, "reduce", "cvp", src, "--p", p, "--paper-pairs", "-o", inst)
            assert f"expected answer: {answer}" in out
            doc = info(capsys, inst)
            assert doc["latent_dim"] == 2 * n
            assert doc["output_dim"] == 2 * (len(CVP_TARGET) + n)
            assert params(inst)["paper_pairs"] is True
            w = tmp_path / f"w-{p}-{answer}.json"
            sol = solve(capsys, inst, w)
            assert sol["status"] == answer
            if answer == "yes":
                z = [int(v) for v in sol["z"]]
                assert all(z[2 * i] + z[2 * i + 1] == 1 for i in range(n))  # valid pairs
                y = solution_line(ok(capsys, "extract", inst, w), "y = ")
                assert y == z[::2]
                # an invalid pair (both 1) is not a witness
                bad = list(z)
                bad[0] = bad[1] = 1
                code, out, _ = run(capsys, "check", inst, write_witness(tmp_path / "b.json", bad))
                assert code == 1 and "does not meet" in out


# ---------------------------------------------------------------- clique
# Six vertices; triangles 123, 234, 345, 456 and no K4 (1-4, 3-6, ... missing).
CLIQUE_EDGES = [(1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (4, 5), (4, 6), (5, 6), (3, 5)]
CLIQUE_WEIGHTS = ["3", "1", "2", "1", "1/2", "5", "1/3", "2.5", "2"]
# triangle weights: 123 -> 6, 234 -> 7/2, 345 -> 15/2, 456 -> 47/6


def write_graph(
    path: Path, weighted: bool, edges: Sequence[tuple[int, int]] = CLIQUE_EDGES
) -> Path:
    n = max(max(e) for e in edges)
    lines = ["c test graph", f"p edge {n} {len(edges)}"]
    for i, (u, v) in enumerate(edges):
        lines.append(f"e {u} {v} {CLIQUE_WEIGHTS[i]}" if weighted else f"e {u} {v}")
    path.write_text("\n".join(lines) + "\n")
    return path


def clique_case(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    graph_file: Path,
    size: list[str],
    p: str,
    extra: Sequence[str] = (),
) -> tuple[Path, dict[str, Any]]:
    """reduce clique, compare with clique_decide, solve, check/extract; returns (inst, solution)."""
    graph = read_graph(graph_file)
    name = "-".join([graph_file.stem, *size, p, *extra]).replace("<", "lt").replace("/", "_")
    inst = tmp_path / name
    out = ok(capsys, "reduce", "clique", graph_file, *size, "--p", p, *extra, "-o", inst)
    par = params(inst)
    k, bound = int(par["k"]), Fraction(par["max_weight"])
    relation = "<" if "<" in extra else "<="
    truth, clique = clique_decide(graph, k, bound, relation=relation)
    answer = "yes" if truth else "no"
    assert f"expected answer: {answer}" in out and "Theorem 5" in out
    doc = info(capsys, inst)
    assert doc["theorem"] == "Theorem 5" and doc["latent_dim"] == graph.n
    assert doc["domain"] == "binary" and doc["expected"] == answer
    w = tmp_path / f"{name}.json"
    sol = solve(capsys, inst, w)
    assert sol["status"] == answer
    if truth:
        assert run(capsys, "check", inst, w)[0] == 0
        out = ok(capsys, "extract", inst, w)
        found = [v - 1 for v in solution_line(out, "clique: ")]  # printed 1-based
        assert graph.is_clique(found) and len(found) == k
        weight = graph.clique_weight(found)
        assert weight < bound if relation == "<" else weight <= bound
        assert found == [i for i, v in enumerate(sol["z"]) if v == 1]
        assert clique is not None  # the oracle's clique is a witness too
        wc = write_witness(tmp_path / "c.json", encode(clique, graph.n))
        assert run(capsys, "check", inst, wc)[0] == 0
    else:
        assert sol["proof"]["kind"] == "exhaustive enumeration"
    return inst, sol


def encode(vertices: Sequence[int], n: int) -> list[int]:
    return [1 if i in set(vertices) else 0 for i in range(n)]


@pytest.mark.parametrize("p", ["1", "2", "3"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_clique_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], p: str, weighted: bool
) -> None:
    g = write_graph(tmp_path / ("w.col" if weighted else "u.col"), weighted)
    graph = read_graph(g)
    assert graph.is_weighted == weighted and graph.n == 6
    inst, sol = clique_case(tmp_path, capsys, g, ["--k", "3"], p)
    assert sol["status"] == "yes"
    assert clique_case(tmp_path, capsys, g, ["--k", "4"], p)[1]["status"] == "no"
    # a vertex set that is not a clique is rejected by check and extract
    bad = write_witness(tmp_path / "bad.json", encode([0, 3, 4], 6))  # 1-4 is no edge
    code, out, _ = run(capsys, "check", inst, bad)
    assert code == 1 and "does not meet" in out
    code, out, _ = run(capsys, "extract", inst, bad)
    assert code == 1 and "not a clique" in out
    # --half: k = n / 2 = 3
    inst, sol = clique_case(tmp_path, capsys, g, ["--half"], p)
    assert sol["status"] == "yes" and params(inst)["k"] == 3 and params(inst)["half"] is True


@pytest.mark.parametrize("p", ["1", "2"])
def test_clique_max_weight_exact_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], p: str
) -> None:
    g = write_graph(tmp_path / "w.col", weighted=True)
    cases = [
        (["--max-weight", "7/2"], "yes"),  # the lightest triangle weighs exactly 7/2
        (["--max-weight", "7/2", "--relation", "<"], "no"),
        (["--max-weight", "3.49"], "no"),
        (["--max-weight", "6"], "yes"),
        (["--max-weight", "6", "--relation", "<"], "yes"),
    ]
    for extra, answer in cases:
        _, sol = clique_case(tmp_path, capsys, g, ["--k", "3"], p, extra)
        assert sol["status"] == answer, extra
    # unweighted: every triangle weighs 3
    u = write_graph(tmp_path / "u.col", weighted=False)
    assert (
        clique_case(tmp_path, capsys, u, ["--k", "3"], p, ["--max-weight", "3"])[1]["status"]
        == "yes"
    )
    assert (
        clique_case(tmp_path, capsys, u, ["--k", "3"], p, ["--max-weight", "2"])[1]["status"]
        == "no"
    )


def test_clique_half_on_odd_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = write_graph(tmp_path / "odd.col", False, [(1, 2), (2, 3), (1, 3), (4, 5)])
    out_dir = tmp_path / "o"
    code, _, err = run(capsys, "reduce", "clique", g, "--half", "--p", "2", "-o", out_dir)
    assert_one_line_error(code, err, "--half", "5")
    assert_nothing_written(tmp_path, out_dir, ["odd.col"])


# ---------------------------------------------------------------- vertex cover
@pytest.mark.parametrize("p", ["1", "2", "inf"])
def test_vertex_cover_petersen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path, p: str
) -> None:
    src = shared_data / PETERSEN
    graph = read_graph(src)
    assert (graph.n, graph.m) == (10, 15)
    for q, answer in [(6, "yes"), (5, "no")]:
        truth, cover = vertex_cover_decide(graph, q)
        assert truth == (answer == "yes")
        inst = tmp_path / f"q{q}"
        out = ok(capsys, "reduce", "vertex-cover", src, "--size", q, "--p", p, "-o", inst)
        assert "Section 5.3" in out and f"expected answer: {answer}" in out
        doc = info(capsys, inst)
        assert doc["theorem"] == "Section 5.3" and doc["reduction"] == "vc-sec53"
        assert doc["latent_dim"] == 10 and doc["widths"] == [2 * (15 + 1)]
        w = tmp_path / f"w{q}.json"
        sol = solve(capsys, inst, w)
        assert sol["status"] == answer
        if answer == "yes":
            assert cover is not None
            out = ok(capsys, "extract", inst, w)
            found = [v - 1 for v in solution_line(out, "cover: ")]  # printed 1-based
            assert graph.is_vertex_cover(found) and len(found) <= q
            assert found == [i for i, v in enumerate(sol["z"]) if v == 0]  # z_i = 0: in cover
        else:
            # a 5-set leaves an edge uncovered; as a witness it misses the threshold
            z = [0] * 5 + [1] * 5
            code, out, _ = run(capsys, "extract", inst, write_witness(tmp_path / "b.json", z))
            assert code == 1 and "uncovered" in out


# ---------------------------------------------------------------- lifting
def _reduce_three(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> list[tuple[Path, str, str]]:
    """Binary instances from the three reductions: (dir, extract prefix, lifted theorem)."""
    r_yes, _ = cvp_radii("2")
    cvp = write_cvp(tmp_path / "cvp.json", radius=r_yes)
    wcol = write_graph(tmp_path / "w.col", weighted=True)
    ucol = write_graph(tmp_path / "u.col", weighted=False)
    made = [
        (["cvp", cvp, "--p", "2"], "y = ", "Theorem 4"),
        (["clique", wcol, "--k", "3", "--max-weight", "7/2", "--p", "2"], "clique: ", "Theorem 6"),
        (
            ["vertex-cover", ucol, "--size", "4", "--p", "inf"],
            "cover: ",
            "Section 5.3, lifted to real latents",
        ),
    ]
    out = []
    for argv, prefix, theorem in made:
        inst = tmp_path / f"bin-{argv[0]}"
        ok(capsys, "reduce", *argv, "-o", inst)
        real = tmp_path / f"real-{argv[0]}"
        ok(capsys, "reduce", *argv, "--domain", "real", "-o", real)
        out.append((inst, prefix, theorem))
    return out


def test_lift_reduction_instances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for inst, prefix, theorem in _reduce_three(tmp_path, capsys):
        kind = inst.name.removeprefix("bin-")
        w = tmp_path / f"w-{kind}.json"
        sol = solve(capsys, inst, w)
        assert sol["status"] == "yes"
        source_solution = solution_line(ok(capsys, "extract", inst, w), prefix)
        binary = info(capsys, inst)

        lifted = tmp_path / f"lifted-{kind}"
        out = ok(capsys, "lift", inst, "-o", lifted)
        assert "real latent" in out and "scale s = " in out
        doc = info(capsys, lifted)
        assert doc["theorem"] == theorem
        assert doc["reduction"] == f"{binary['reduction']}+lift"
        assert doc["domain"] == "real" and doc["latent_dim"] == binary["latent_dim"]
        assert doc["depth"] == binary["depth"] + 4 and doc["expected"] == "yes"
        assert doc["output_dim"] == binary["output_dim"] + 1
        # extract on the lifted instance maps the same witness back to the same source solution
        assert run(capsys, "check", lifted, w)[0] == 0
        assert solution_line(ok(capsys, "extract", lifted, w), prefix) == source_solution
        # real latents outside [0, 1] are clamped: 1 -> 1.75 and 0 -> -2.5 invert as well
        stretched = [Fraction(7, 4) if v == 1 else Fraction(-5, 2) for v in sol["z"]]
        ws = write_witness(tmp_path / f"s-{kind}.json", stretched)
        assert run(capsys, "check", lifted, ws)[0] == 0
        assert solution_line(ok(capsys, "extract", lifted, ws), prefix) == source_solution
        # a latent at 1/2 is far from a corner: the extra output rules it out
        half = [Fraction(1, 2)] + [Fraction(v) for v in sol["z"][1:]]
        code, out, _ = run(capsys, "check", lifted, write_witness(tmp_path / "h.json", half))
        assert code == 1 and "does not meet" in out
        # `reduce --domain real` writes the same lifted instance
        real = load_instance(tmp_path / f"real-{kind}")
        again = load_instance(lifted)
        assert info(capsys, tmp_path / f"real-{kind}")["theorem"] == theorem
        assert real.target == again.target and real.threshold == again.threshold
        assert real.threshold_pow == again.threshold_pow and real.p == again.p
        for a, b in zip(real.network.layers, again.network.layers, strict=True):
            assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)


def _toy_network(tmp_path: Path) -> tuple[Path, ReLUNetwork]:
    rng = np.random.default_rng(0)
    net = ReLUNetwork(
        [
            rng.integers(-3, 4, size=(5, 4)).astype(float),
            rng.integers(-2, 3, size=(3, 5)).astype(float),
        ],
        [rng.integers(-2, 3, size=5).astype(float), np.zeros(3)],
    )
    onnx = tmp_path / "g.onnx"
    export_onnx(net, onnx)
    return onnx, net


def test_lift_plain_binary_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx, net = _toy_network(tmp_path)
    z0 = [1, 0, 1, 1]
    x = tmp_path / "x.json"
    x.write_text(json.dumps((net.forward(np.array(z0, dtype=float)) + 0.25).tolist()))
    inst = tmp_path / "bin"
    ok(
        capsys,
        "new",
        "--network",
        onnx,
        "--target",
        x,
        "--norm",
        "2",
        "--threshold",
        "1/2",
        "--domain",
        "binary",
        "-o",
        inst,
    )
    w = tmp_path / "w.json"
    sol = solve(capsys, inst, w)
    assert sol["status"] == "yes"
    lifted = tmp_path / "lifted"
    ok(capsys, "lift", inst, "-o", lifted)
    doc = info(capsys, lifted)
    assert doc["theorem"] == "binary-to-real lifting" and doc["reduction"] == "lift"
    assert doc["domain"] == "real" and doc["latent_dim"] == 4 and doc["source"] == "g.onnx"
    assert (lifted / "source-instance" / "problem.json").is_file()
    assert load_instance(lifted / "source-instance").domain.kind == "binary"
    out = ok(capsys, "extract", lifted, w)
    assert "meets its threshold" in out
    assert solution_line(out, "binary z = ") == [int(v) for v in sol["z"]]
    # a corner that does not invert the binary instance fails both checks
    bad = next(
        list(c) for c in np.ndindex(*(2,) * 4) if not load_instance(inst).exact_check(list(c)).meets
    )
    code, out, _ = run(capsys, "extract", lifted, write_witness(tmp_path / "b.json", bad))
    assert code == 1 and "does not meet" in out


def test_lift_sign_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cnf_file = tmp_path / "f.cnf"
    cnf_file.write_text("p cnf 5 6\n1 2 0\n-1 3 0\n-2 -3 0\n3 4 -5 0\n-4 5 0\n-1 -5 0\n")
    cnf = read_cnf(cnf_file)
    inst = tmp_path / "sign"
    ok(capsys, "reduce", "sat", cnf_file, "--domain", "sign", "-o", inst)
    w = tmp_path / "w.json"
    sol = solve(capsys, inst, w)
    assert sol["status"] == "yes" and set(sol["z"]) <= {-1, 1}
    lifted = tmp_path / "lifted"
    ok(capsys, "lift", inst, "-o", lifted)
    doc = info(capsys, lifted)
    assert doc["domain"] == "real" and doc["reduction"] == "sat-thm1+lift"
    assert doc["latent_dim"] == 5
    # the lifted instance takes (z + 1) / 2, and extract maps it back to the assignment
    w01 = write_witness(tmp_path / "w01.json", [(Fraction(v) + 1) / 2 for v in sol["z"]])
    assert run(capsys, "check", lifted, w01)[0] == 0
    out = ok(capsys, "extract", lifted, w01)
    lits = solution_line(out, "v ")
    assert lits[-1] == 0 and [lit > 0 for lit in lits[:-1]] == [v == 1 for v in sol["z"]]
    assert cnf.evaluate([lit > 0 for lit in lits[:-1]])


def test_lift_refuses_real_and_box(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r_yes, _ = cvp_radii("inf")
    cvp = write_cvp(tmp_path / "cvp.json", radius=r_yes)
    real = tmp_path / "real"
    ok(capsys, "reduce", "cvp", cvp, "--p", "inf", "--domain", "real", "-o", real)
    onnx, _ = _toy_network(tmp_path)
    x = tmp_path / "x.json"
    x.write_text("[0, 1, 2]")
    box = tmp_path / "box"
    ok(
        capsys,
        "new",
        "--network",
        onnx,
        "--target",
        x,
        "--domain",
        "box",
        "--lower",
        "-1",
        "--upper",
        "1",
        "--threshold",
        "1",
        "-o",
        box,
    )
    for inst, kind in [(real, "real"), (box, "box")]:
        out_dir = tmp_path / f"lifted-{kind}"
        code, _, err = run(capsys, "lift", inst, "-o", out_dir)
        assert_one_line_error(code, err, kind)
        assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "box",
        "cvp.json",
        "g.onnx",
        "real",
        "x.json",
    ]


# ---------------------------------------------------------------- --domain real and VNN-LIB
REAL_CASES = [
    ("cvp", "inf"),
    ("cvp", "2"),
    ("cvp", "1"),
    ("clique", "2"),
    ("clique", "1"),
    ("vertex-cover", "inf"),
    ("vertex-cover", "2"),
]


@pytest.mark.parametrize(("command", "p"), REAL_CASES)
def test_domain_real_and_vnnlib(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, p: str
) -> None:
    if command == "cvp":
        src = write_cvp(tmp_path / "cvp.json", radius=cvp_radii(p)[0])
        args: list[Any] = [src]
        theorem = "Theorem 4"
    else:
        src = write_graph(tmp_path / "w.col", weighted=command == "clique")
        args = [src, "--k", "3"] if command == "clique" else [src, "--size", "4"]
        theorem = "Theorem 6" if command == "clique" else "Section 5.3, lifted to real latents"
    binary, real = tmp_path / "binary", tmp_path / "real"
    ok(capsys, "reduce", command, *args, "--p", p, "-o", binary)
    out = ok(capsys, "reduce", command, *args, "--p", p, "--domain", "real", "-o", real)
    assert theorem in out and "real latent" in out
    doc = info(capsys, real)
    assert doc["domain"] == "real" and doc["theorem"] == theorem and doc["depth"] == 5
    problem = load_instance(real)
    assert problem.input_box is not None
    assert list(problem.input_box[0]) == [0] * problem.n
    assert list(problem.input_box[1]) == [1] * problem.n
    w = tmp_path / "w.json"
    sol = solve(capsys, binary, w)
    assert sol["status"] == "yes"
    assert run(capsys, "check", real, w)[0] == 0
    assert ok(capsys, "extract", real, w) == ok(capsys, "extract", binary, w)
    vnn = real / "property.vnnlib"
    if p != "inf":
        assert not vnn.exists()  # an l_p ball with p < inf is not a VNN-LIB box
        assert json.loads((real / "problem.json").read_text())["property"] is None
        return
    assert json.loads((real / "problem.json").read_text())["property"] == "property.vnnlib"
    prop = read_vnnlib(vnn)
    assert prop.n_inputs == problem.n and prop.n_outputs == problem.network.n_outputs
    assert prop.input_lower == [0] * problem.n and prop.input_upper == [1] * problem.n
    delta = problem.threshold
    assert prop.output_lower == [t - delta for t in problem.target]
    assert prop.output_upper == [t + delta for t in problem.target]
    # the witness's outputs lie in the VNN-LIB output box
    y = problem.network.forward_exact([Fraction(v) for v in sol["z"]])
    assert all(
        lo is not None and hi is not None and lo <= v <= hi
        for v, lo, hi in zip(y, prop.output_lower, prop.output_upper, strict=True)
    )


# ---------------------------------------------------------------- bad input
GRAPH_CASES = {
    "malformed header": ("p edge 3\ne 1 2\n", "bad.col:1:"),
    "unknown format": ("p graph 3 1\ne 1 2\n", "bad.col:1:"),
    "self-loop": ("p edge 3 1\ne 2 2\n", "bad.col:2:"),
    "vertex out of range": ("c x\np edge 3 1\ne 1 4\n", "bad.col:3:"),
    "vertex zero": ("p edge 3 1\ne 0 1\n", "bad.col:2:"),
    "negative weight": ("p edge 3 1\ne 1 2 -3\n", "bad.col:2:"),
    "zero weight": ("p edge 3 2\ne 1 2 1\ne 2 3 0\n", "bad.col:3:"),
    "non-numeric weight": ("p edge 3 1\ne 1 2 abc\n", "bad.col:2:"),
    "mixed weights": ("p edge 3 2\ne 1 2 1\ne 2 3\n", "bad.col:3:"),
    "edge count": ("p edge 3 2\ne 1 2\n", "declares 2"),
}


@pytest.mark.parametrize("command", ["clique", "vertex-cover"])
@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_bad_graph_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, case: str
) -> None:
    text, needle = GRAPH_CASES[case]
    f = tmp_path / "bad.col"
    f.write_text(text)
    out_dir = tmp_path / "out"
    size = ["--k", "2"] if command == "clique" else ["--size", "1"]
    code, _, err = run(capsys, "reduce", command, f, *size, "--p", "2", "-o", out_dir)
    assert_one_line_error(code, err, "bad.col", needle)
    assert_nothing_written(tmp_path, out_dir, ["bad.col"])


CVP_JSON_CASES = {
    "ragged basis": ('{"basis": [[1, 2], [3]], "target": [1, 2], "radius": 1}', "basis[1]"),
    "target length": ('{"basis": [[1, 2], [3, 4]], "target": [1, 2, 3], "radius": 1}', "target"),
    "NaN": ('{"basis": [[1, 2], [3, 4]], "target": [1, NaN], "radius": 1}', "NaN"),
    "NaN string": ('{"basis": [[1, 2], [3, 4]], "target": [1, "nan"], "radius": 1}', "target[1]"),
    "Infinity": ('{"basis": [[1, Infinity], [3, 4]], "target": [1, 2]}', "Infinity"),
    "negative radius": ('{"basis": [[1, 2], [3, 4]], "target": [1, 2], "radius": -1}', "radius"),
    "empty basis": ('{"basis": [], "target": [], "radius": 1}', "basis"),
    "unknown key": ('{"basis": [[1]], "target": [1], "radius": 1, "r": 2}', "'r'"),
    "not JSON": ('{"basis": [[1, 2]', "invalid JSON"),
    "boolean entry": ('{"basis": [[1, true]], "target": [1, 2], "radius": 1}', "basis[0][1]"),
}


@pytest.mark.parametrize("case", sorted(CVP_JSON_CASES))
def test_bad_cvp_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    text, needle = CVP_JSON_CASES[case]
    f = tmp_path / "bad.json"
    f.write_text(text)
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "reduce", "cvp", f, "--p", "2", "-o", out_dir)
    assert_one_line_error(code, err, "bad.json", needle)
    assert_nothing_written(tmp_path, out_dir, ["bad.json"])


FPLLL_CASES = {
    "ragged rows": ("[[1 2]\n[3 4 5]\n]\n", "[1 2]\n", "bad.lat:2:"),
    "unclosed matrix": ("[[1 2]\n[3 4]\n", "[1 2]\n", "bad.lat:"),
    "non-numeric": ("[[1 2]\n[3 x]]\n", "[1 2]\n", "bad.lat:2:"),
    "target mismatch": ("[[1 2]\n[3 4]]\n", "[1 2 3]\n", "target.vec"),
    "bad target": ("[[1 2]\n[3 4]]\n", "[1 2\n", "target.vec"),
}


@pytest.mark.parametrize("case", sorted(FPLLL_CASES))
def test_bad_fplll_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    lattice, target, needle = FPLLL_CASES[case]
    (tmp_path / "bad.lat").write_text(lattice)
    (tmp_path / "target.vec").write_text(target)
    out_dir = tmp_path / "out"
    code, _, err = run(
        capsys,
        "reduce",
        "cvp",
        tmp_path / "bad.lat",
        "--target",
        tmp_path / "target.vec",
        "--radius",
        "1",
        "--p",
        "2",
        "-o",
        out_dir,
    )
    assert_one_line_error(code, err, needle)
    assert_nothing_written(tmp_path, out_dir, ["bad.lat", "target.vec"])


def test_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lattice = tmp_path / "l.lat"
    lattice.write_text("[[1 0]\n[0 1]]\n")
    out_dir = tmp_path / "out"
    for argv, needle in [
        (["cvp", lattice, "--target", tmp_path / "nope.vec", "--radius", "1"], "nope.vec"),
        (["cvp", tmp_path / "nope.lat", "--target", lattice, "--radius", "1"], "nope.lat"),
        (["cvp", tmp_path / "nope.json"], "nope.json"),
        (["clique", tmp_path / "nope.col", "--k", "2"], "nope.col"),
        (["vertex-cover", tmp_path / "nope.gr", "--size", "2"], "nope.gr"),
    ]:
        code, _, err = run(capsys, "reduce", *argv, "--p", "2", "-o", out_dir)
        assert_one_line_error(code, err, needle)
        assert_nothing_written(tmp_path, out_dir, ["l.lat"])


def _argument_case(tmp_path: Path, case: str) -> list[Any]:
    cvp_nor = write_cvp(tmp_path / "nor.json")  # no radius in the file
    lat = tmp_path / "l.lat"
    lat.write_text("[[1 0]\n[0 1]]\n")
    vec = tmp_path / "t.vec"
    vec.write_text("[1 1]\n")
    col = write_graph(tmp_path / "g.col", weighted=False)
    cases: dict[str, list[Any]] = {
        "missing radius (json)": ["cvp", cvp_nor, "--p", "2"],
        "missing radius (fplll)": ["cvp", lat, "--target", vec, "--p", "2"],
        "p 0.5": ["cvp", cvp_nor, "--radius", "1", "--p", "0.5"],
        "p nan": ["cvp", cvp_nor, "--radius", "1", "--p", "nan"],
        "radius and radius-pow": ["cvp", cvp_nor, "--radius", "1", "--radius-pow", "1", "--p", "2"],
        "radius-pow with p inf": ["cvp", cvp_nor, "--radius-pow", "1", "--p", "inf"],
        "negative --radius": ["cvp", cvp_nor, "--radius", "-1", "--p", "2"],
        "clique p 1.5": ["clique", col, "--k", "2", "--p", "1.5"],
        "clique p inf": ["clique", col, "--k", "2", "--p", "inf"],
        "vertex-cover p 1.5": ["vertex-cover", col, "--size", "2", "--p", "1.5"],
        "k larger than n": ["clique", col, "--k", "7", "--p", "2"],
        "negative k": ["clique", col, "--k", "-1", "--p", "2"],
        "negative size": ["vertex-cover", col, "--size", "-1", "--p", "2"],
        "negative max-weight": ["clique", col, "--k", "2", "--max-weight", "-1", "--p", "2"],
    }
    return cases[case]


ARGUMENT_CASES = {
    "missing radius (json)": ("--radius",),
    "missing radius (fplll)": ("--radius",),
    "p 0.5": ("p must be >= 1", "0.5"),
    "p nan": ("--p", "nan"),
    "radius and radius-pow": ("--radius", "--radius-pow"),
    "radius-pow with p inf": ("radius_pow", "integer p"),
    "negative --radius": ("--radius", ">= 0"),
    "clique p 1.5": ("integer p", "1.5"),
    "clique p inf": ("integer p", "inf"),
    "vertex-cover p 1.5": ("integer p", "1.5"),
    "k larger than n": ("k must be between 0 and 6", "7"),
    "negative k": ("k must be between 0 and 6", "-1"),
    "negative size": ("cover size", "-1"),
    "negative max-weight": ("max weight", ">= 0"),
}


@pytest.mark.parametrize("case", sorted(ARGUMENT_CASES))
def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    argv = _argument_case(tmp_path, case)
    before = sorted(p.name for p in tmp_path.iterdir())
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "reduce", *argv, "-o", out_dir)
    assert_one_line_error(code, err, *ARGUMENT_CASES[case])
    assert_nothing_written(tmp_path, out_dir, before)


@pytest.mark.parametrize(
    "case", ["missing radius (json)", "missing radius (fplll)", "k larger than n"]
)
def test_argument_errors_name_the_input_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    argv = _argument_case(tmp_path, case)
    code, _, err = run(capsys, "reduce", *argv, "-o", tmp_path / "out")
    assert_one_line_error(code, err, Path(argv[1]).name)


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    col = write_graph(tmp_path / "g.col", weighted=False)
    for argv in (
        ["reduce", "clique", col, "--p", "2", "-o", tmp_path / "o"],  # neither --k nor --half
        ["reduce", "clique", col, "--k", "2", "--half", "--p", "2", "-o", tmp_path / "o"],
        ["reduce", "vertex-cover", col, "--p", "2", "-o", tmp_path / "o"],  # no --size
        ["reduce", "cvp", col, "--p", "2", "--domain", "sign", "-o", tmp_path / "o"],
    ):
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in argv])
        assert exc.value.code == 2
        _, err = capsys.readouterr()
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert not (tmp_path / "o").exists()
