"""The independent proof checker: valid proofs pass, every tampering is rejected."""

from __future__ import annotations

import contextlib
import copy
import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geninv.budget import Budget
from geninv.clampcheck import verify_clamp_box
from geninv.cli import main
from geninv.io.instance import save_instance
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Status
from geninv.proofcheck import (
    MalformedProof,
    ProofRejected,
    check_certificate,
)
from geninv.solvers.base import solve

pytest.importorskip("highspy")


def _net(seed: int, widths: list[int], n: int) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    dims = [n, *widths]
    ws = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(len(widths))]
    bs = [rng.standard_normal(dims[i + 1]) * 0.5 for i in range(len(widths))]
    return ReLUNetwork(ws, bs, final_activation="identity")


def _proved(
    tmp_path: Path, p: Any = "inf", relu_split: bool = False, obbt_depth: int = -1
) -> tuple[InversionProblem, dict[str, Any]]:
    """A checked proof (by default without witness lemmas, for a tree of several nodes)."""
    net = _net(3, [8, 8, 3], 2)
    x = (net.forward(np.array([0.2, -0.4])) + 0.8).tolist()
    prob = InversionProblem(net, x, Domain.box([-1, -1], [1, 1]), p=p, threshold="3/10")
    path = tmp_path / "proof.json"
    opts = {"proof": str(path), "obbt_depth": obbt_depth}
    sol = solve(prob, "bab", time_limit=60, options=opts)
    assert sol.status is Status.NO, sol.reason
    doc = json.loads(path.read_text())
    assert len(doc["nodes"]) >= (3 if obbt_depth < 0 else 1)
    return prob, doc


def _leaf_with_y(doc: dict[str, Any]) -> dict[str, Any]:
    return next(nd for nd in doc["nodes"] if nd.get("y"))


def _inner(doc: dict[str, Any]) -> dict[str, Any]:
    return next(nd for nd in doc["nodes"] if "children" in nd)


def test_valid_proof_passes_and_reports(tmp_path: Path) -> None:
    prob, doc = _proved(tmp_path)
    rep = check_certificate(prob, doc)
    assert rep.nodes == len(doc["nodes"]) and rep.root == "domain box"


@pytest.mark.parametrize("p", ["inf", 1, 2])
def test_tampering_is_rejected(tmp_path: Path, p: Any) -> None:
    prob, doc = _proved(tmp_path, p)
    tampered: list[dict[str, Any]] = []
    # a multiplier with its sign flipped
    d = copy.deepcopy(doc)
    leaf = _leaf_with_y(d)
    k = next(iter(leaf["y"]))
    leaf["y"][k] = "-" + str(leaf["y"][k])
    tampered.append(d)
    # all multipliers of a leaf zeroed
    d = copy.deepcopy(doc)
    leaf = _leaf_with_y(d)
    leaf["y"] = {k: 0 for k in leaf["y"]}
    tampered.append(d)
    # a row that the leaf does not have
    d = copy.deepcopy(doc)
    _leaf_with_y(d)["y"]["L9.0.ge"] = 1
    tampered.append(d)
    # a node dropped
    d = copy.deepcopy(doc)
    d["nodes"] = [nd for nd in d["nodes"] if nd["id"] != _leaf_with_y(d)["id"]]
    tampered.append(d)
    # a child's box altered (the cover breaks)
    d = copy.deepcopy(doc)
    child_id = _inner(d)["children"][1]
    child = next(nd for nd in d["nodes"] if nd["id"] == child_id)
    child["box"][0][0] = str(Fraction(child["box"][0][0]) + Fraction(1, 64))
    tampered.append(d)
    # a fixing added to a node
    d = copy.deepcopy(doc)
    leaf = _leaf_with_y(d)
    leaf["fixed"] = [*leaf["fixed"], [1, 0, 1]] if [1, 0, 1] not in leaf["fixed"] else []
    tampered.append(d)
    # the split point moved (children no longer match the split)
    d = copy.deepcopy(doc)
    inner = next((nd for nd in d["nodes"] if nd.get("split", {}).get("kind") == "input"), None)
    if inner is not None:
        lo, hi = (Fraction(v) for v in inner["box"][inner["split"]["coord"]])
        inner["split"]["at"] = str((3 * lo + hi) / 4)
        tampered.append(d)
    # the root box shrunk
    d = copy.deepcopy(doc)
    d["nodes"][0]["box"][0][1] = 0
    tampered.append(d)
    for t in tampered:
        with pytest.raises(ProofRejected):
            check_certificate(prob, t)


def test_threshold_with_a_witness_is_rejected(tmp_path: Path) -> None:
    prob, doc = _proved(tmp_path)
    big = InversionProblem(prob.network, prob.target, prob.domain, p="inf", threshold=100)
    assert solve(big, "bab").status is Status.YES
    with pytest.raises(ProofRejected):
        check_certificate(big, doc)


def test_relu_split_tree_and_tampering(tmp_path: Path) -> None:
    # nine latents: the search splits ReLUs, not inputs
    net = _net(8, [10, 4], 9)
    x = (net.forward(np.zeros(9)) + 2.0).tolist()
    prob = InversionProblem(net, x, Domain.box([-1] * 9, [1] * 9), threshold=1)
    opts = {"proof": str(tmp_path / "p.json"), "obbt_depth": -1}  # a tree, not a root proof
    sol = solve(prob, "bab", time_limit=60, options=opts)
    assert sol.status is Status.NO, sol.reason
    doc = json.loads((tmp_path / "p.json").read_text())
    check_certificate(prob, doc)
    splits = [nd for nd in doc["nodes"] if nd.get("split", {}).get("kind") == "relu"]
    assert splits
    d = copy.deepcopy(doc)
    kid = next(nd for nd in d["nodes"] if nd["id"] == splits[0]["children"][0])
    kid["fixed"] = [[lay, j, 1 - ph] for lay, j, ph in kid["fixed"]]
    with pytest.raises(ProofRejected):
        check_certificate(prob, d)


def test_handmade_certificates() -> None:
    # G(z) = z on [0, 1], target 5, delta 1: a = z, a >= 4 is impossible
    net = ReLUNetwork([[[1]]], [[0]], final_activation="identity")
    prob = InversionProblem(net, [5], Domain.box([0], [1]), threshold=1)
    base = {"format": "geninv-bab-proof", "version": 1, "n": 1, "q": 1, "root": "domain box"}
    leaf = {"id": 0, "box": [[0, 1]], "fixed": [], "y": {"T0.lo": 1}}
    check_certificate(prob, {**base, "nodes": [leaf]})
    # the same multipliers do not refute target 2 (G(1) = 1 is within 1 of 2)
    near = InversionProblem(net, [2], Domain.box([0], [1]), threshold=1)
    with pytest.raises(ProofRejected):
        check_certificate(near, {**base, "nodes": [leaf]})
    # the row 'le' alone cannot prove anything
    with pytest.raises(ProofRejected):
        check_certificate(prob, {**base, "nodes": [{**leaf, "y": {"L1.0.le": 1}}]})
    # malformed pieces
    for bad in (
        {**base, "nodes": []},
        {**base, "nodes": [{**leaf, "y": {"T0.lo": 0.5}}]},  # a float, not a rational
        {**base, "version": 7, "nodes": [leaf]},
        [1, 2],
    ):
        with pytest.raises(MalformedProof):
            check_certificate(prob, bad)


def test_clamp_box_verification() -> None:
    # relu(z) - relu(z - 1) = clamp(z, 0, 1), then identity
    net = ReLUNetwork([[[1], [1]], [[1, -1]]], [[0, -1], [0]], final_activation="identity")
    prob = InversionProblem(net, [0], Domain("real"), threshold=0)
    F = Fraction
    assert verify_clamp_box(prob, [(F(0), F(1))]) is None
    assert verify_clamp_box(prob, [(F(-1), F(2))]) is None
    assert verify_clamp_box(prob, [(F(0), F(1, 2))]) is not None
    assert verify_clamp_box(prob, [(F(1, 2), F(1))]) is not None
    mixing = ReLUNetwork([[[1, 1]], [[1]]], [[0], [0]], final_activation="identity")
    p2 = InversionProblem(mixing, [0], Domain("real"), threshold=0)
    assert verify_clamp_box(p2, [(F(0), F(1)), (F(0), F(1))]) is not None


def test_cli_check_proof_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prob, doc = _proved(tmp_path)
    inst = tmp_path / "inst"
    save_instance(prob, inst)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc))
    assert main(["check-proof", str(inst), str(good)]) == 0
    assert "valid proof" in capsys.readouterr().out
    bad = copy.deepcopy(doc)
    bad["nodes"] = bad["nodes"][:-1]
    badf = tmp_path / "bad.json"
    badf.write_text(json.dumps(bad))
    assert main(["check-proof", str(inst), str(badf)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("invalid proof: node")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert main(["check-proof", str(inst), str(junk)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "junk.json" in err[0]


def test_solve_cli_writes_a_proof_that_checks(tmp_path: Path) -> None:
    prob, _ = _proved(tmp_path)
    inst = tmp_path / "inst"
    save_instance(prob, inst)
    proof = tmp_path / "cli_proof.json"
    assert main(["solve", str(inst), "--method", "bab", "--proof", str(proof)]) == 0
    assert main(["check-proof", str(inst), str(proof)]) == 0
    gz = tmp_path / "cli_proof.json.gz"  # gzip by extension, both ways
    assert main(["solve", str(inst), "--method", "bab", "--proof", str(gz)]) == 0
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert main(["check-proof", str(inst), str(gz)]) == 0
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    assert main(["check-proof", str(inst), str(bad)]) == 2


def test_check_time_on_a_2_20_20_5_net(tmp_path: Path) -> None:
    net = _net(21, [20, 20, 5], 2)
    x = (net.forward(np.array([0.1, 0.3])) + 0.5).tolist()
    prob = InversionProblem(net, x, Domain.box([-1, -1], [1, 1]), threshold="1/5")
    sol = solve(prob, "bab", time_limit=60, options={"proof": str(tmp_path / "p.json")})
    if sol.status is not Status.NO:
        pytest.fail(f"expected a proof: {sol.status} {sol.reason}")
    doc = json.loads((tmp_path / "p.json").read_text())
    t0 = time.perf_counter()
    rep = check_certificate(prob, doc)
    assert rep.leaves >= 1
    assert time.perf_counter() - t0 < 20


def test_real_domain_proof_checks_its_clamp_box(tmp_path: Path) -> None:
    net = ReLUNetwork(
        [[[1], [1]], [[1, -1]], [[3]]],
        [[0, -1], [0], [-1]],
        activations=["relu", "relu", "identity"],
    )
    prob = InversionProblem(net, [5], Domain("real"), threshold=1, input_box=([0], [1]))
    path = tmp_path / "p.json"
    sol = solve(prob, "bab", options={"proof": str(path)})
    assert sol.status is Status.NO
    doc = json.loads(path.read_text())
    assert check_certificate(prob, doc).root == "clamp box (verified)"
    # a root box that is not a clamp box is rejected, whatever the tree below says
    bad = copy.deepcopy(doc)
    for nd in bad["nodes"]:
        nd["box"] = [["1/4", 1]] if nd["box"][0][0] == 0 else nd["box"]
    with pytest.raises(ProofRejected):
        check_certificate(prob, bad)


def test_lemma_tampering_is_rejected(tmp_path: Path) -> None:
    prob, doc = _proved(tmp_path)
    with_lemmas = [nd for nd in doc["nodes"] if nd.get("lemmas")]
    assert with_lemmas, "expected the search to record bound lemmas"
    nid = with_lemmas[0]["id"]

    def lemma_of(d: dict[str, Any]) -> dict[str, Any]:
        nd = next(nd for nd in d["nodes"] if nd["id"] == nid)
        return nd["lemmas"][0]  # type: ignore[no-any-return]

    tampered = []
    d = copy.deepcopy(doc)
    lem = lemma_of(d)
    k = next(iter(lem["y"]))
    lem["y"][k] = "-" + str(lem["y"][k]).lstrip("-")
    tampered.append(d)
    d = copy.deepcopy(doc)
    lem = lemma_of(d)
    lem["y"][f"L{lem['layer']}.0.ge"] = 1  # a row of the lemma's own layer
    tampered.append(d)
    d = copy.deepcopy(doc)
    lemma_of(d)["y"]["T0.lo"] = 1  # the target is no part of a bound lemma
    tampered.append(d)
    d = copy.deepcopy(doc)
    lemma_of(d)["side"] = "middle"
    for t in tampered:
        with pytest.raises(ProofRejected):
            check_certificate(prob, t)
    with pytest.raises(MalformedProof):
        check_certificate(prob, d)


def test_proofs_without_lemmas_check_too(tmp_path: Path) -> None:
    net = _net(3, [8, 8, 3], 2)
    x = (net.forward(np.array([0.2, -0.4])) + 0.8).tolist()
    prob = InversionProblem(net, x, Domain.box([-1, -1], [1, 1]), threshold="3/10")
    path = tmp_path / "plain.json"
    sol = solve(prob, "bab", options={"proof": str(path), "lemmas": False})
    assert sol.status is Status.NO
    doc = json.loads(path.read_text())
    assert not any(nd.get("lemmas") for nd in doc["nodes"])
    check_certificate(prob, doc)


def test_mutated_proofs_never_crash_the_checker(tmp_path: Path) -> None:
    """Random edits of a valid proof: valid, rejected or malformed -- never a traceback."""
    prob, doc = _proved(tmp_path)
    rng = np.random.default_rng(0)
    junk: list[Any] = [None, -1, 0, 7, 10**6, "x", "1/0", [], {}, [1, 2], 0.5, True]

    def paths(obj: Any, pre: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        out = [pre]
        if isinstance(obj, dict):
            for k, v in obj.items():
                out += paths(v, (*pre, k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                out += paths(v, (*pre, i))
        return out

    all_paths = [p for p in paths(doc) if p]
    for _ in range(120):
        d = copy.deepcopy(doc)
        path = all_paths[int(rng.integers(len(all_paths)))]
        parent = d
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = junk[int(rng.integers(len(junk)))]
        with contextlib.suppress(ProofRejected, MalformedProof):
            check_certificate(prob, d)


def _witness_lemma(doc: dict[str, Any]) -> tuple[int, int]:
    """(node id, index) of a witness lemma that uses a target row."""
    for nd in doc["nodes"]:
        for i, lem in enumerate(nd.get("lemmas", [])):
            if lem.get("scope") == "witness" and any(k.startswith("T") for k in lem["y"]):
                return nd["id"], i
    raise AssertionError("expected a witness lemma over target rows")


def test_witness_lemmas_check_and_tampering_is_rejected(tmp_path: Path) -> None:
    prob, doc = _proved(tmp_path, obbt_depth=0)
    check_certificate(prob, doc)
    nid, i = _witness_lemma(doc)

    def lemma_of(d: dict[str, Any]) -> dict[str, Any]:
        nd = next(nd for nd in d["nodes"] if nd["id"] == nid)
        return nd["lemmas"][i]  # type: ignore[no-any-return]

    tampered = []
    d = copy.deepcopy(doc)
    del lemma_of(d)["scope"]  # target rows in a layer lemma
    tampered.append(d)
    d = copy.deepcopy(doc)
    lem = lemma_of(d)
    k = next(iter(lem["y"]))
    lem["y"][k] = "-" + str(lem["y"][k]).lstrip("-")  # a negative multiplier
    tampered.append(d)
    d = copy.deepcopy(doc)
    lemma_of(d)["y"][f"L{lemma_of(d)['layer']}.0.on"] = 1  # a row of an unfixed unit
    tampered.append(d)
    d = copy.deepcopy(doc)
    lemma_of(d)["y"]["T999.lo"] = 1  # no such output
    tampered.append(d)
    for t in tampered:
        with pytest.raises(ProofRejected):
            check_certificate(prob, t)
    d = copy.deepcopy(doc)
    lemma_of(d)["scope"] = "everything"
    with pytest.raises(MalformedProof):
        check_certificate(prob, d)
    d = copy.deepcopy(doc)
    lemma_of(d)["round"] = "first"
    with pytest.raises(MalformedProof):
        check_certificate(prob, d)


def test_weakened_witness_lemmas_fail_where_the_proof_needs_them(tmp_path: Path) -> None:
    """Zeroing the target rows' multipliers of every witness lemma weakens its bound to
    (at best) the interval bound; the root-only proof then fails its leaves' checks."""
    prob, doc = _proved(tmp_path, obbt_depth=0)
    d = copy.deepcopy(doc)
    for nd in d["nodes"]:
        for lem in nd.get("lemmas", []):
            if lem.get("scope") == "witness":
                lem["y"] = {k: v for k, v in lem["y"].items() if not k.startswith("T")}
    plain = copy.deepcopy(doc)
    for nd in plain["nodes"]:
        nd.pop("lemmas", None)
    try:
        check_certificate(prob, plain)
    except ProofRejected:
        with pytest.raises(ProofRejected):
            check_certificate(prob, d)
    else:  # the tree stands without lemmas: weakened ones cannot break it
        check_certificate(prob, d)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_witness_lemma_bounds_hold_on_sampled_witnesses(seed: int) -> None:
    """Oracle: every witness (a sampled z with ||G(z) - x|| <= delta) lies inside the
    bounds the checker derives from LP-dual witness lemmas."""
    from geninv.bounds import node_bounds, unstable_units
    from geninv.proofcheck import LeafChecker
    from geninv.solvers.bab.backend import make_setup
    from geninv.solvers.bab.relax import tighten

    net = _net(40 + seed, [12, 6], 2)
    rng = np.random.default_rng(seed)
    zs = rng.uniform(-1, 1, (20000, 2))
    out = net.forward(zs)
    x = out[0] + 0.05
    dist = np.max(np.abs(out - x), axis=1)
    delta = float(np.quantile(dist, 0.05))
    prob = InversionProblem(net, x.tolist(), Domain.box([-1, -1], [1, 1]), threshold=delta)
    setup, _ = make_setup(prob)
    lo, hi = -np.ones(2), np.ones(2)
    bounds, _ = node_bounds(net, lo, hi, {}, {}, float("inf"))
    units = unstable_units(bounds, net, {})
    props = tighten(setup, lo, hi, {}, bounds, units, Budget())
    assert props, "expected the target rows to tighten some unit"
    lemmas = [
        (lay, j, f"w0.{side}", {k: Fraction(v) for k, v in y.items()})
        for lay, j, side, y, _ in props
    ]
    box = [(Fraction(-1), Fraction(1))] * 2
    inh = LeafChecker(prob, {}).node(box, {}, {}, lemmas)
    assert inh is not None
    wit = zs[dist <= delta]
    pre = wit @ net.layers[0].weight.T + net.layers[0].bias
    assert len(wit) > 100
    tighter = 0
    for (lay, j, side), v in inh.items():
        assert lay == 1
        col = pre[:, j]
        if side == "lo":
            assert np.all(col >= float(v) - 1e-9)
            tighter += float(v) > float(bounds[0][0][j]) + 1e-6
        else:
            assert np.all(col <= float(v) + 1e-9)
            tighter += float(v) < float(bounds[0][1][j]) - 1e-6
    assert tighter > 0


def _pow_problem(x: float) -> InversionProblem:
    """y = z on [0, 1]^2, ||y - x||_2 <= sqrt(2) given as delta^2 = 2 (threshold_pow)."""
    net = ReLUNetwork([[[1, 0], [0, 1]]], [[0, 0]], final_activation="identity")
    return InversionProblem(
        net, [x, x], Domain.box([0, 0], [1, 1]), p=2, threshold=0, threshold_pow=2
    )


def test_threshold_pow_no_is_proved_and_checked(tmp_path: Path) -> None:
    far = _pow_problem(3)  # nearest point (1, 1): distance sqrt(8) > sqrt(2)
    path = tmp_path / "p.json"
    sol = solve(far, "bab", options={"proof": str(path)})
    assert sol.status is Status.NO and sol.proof is not None and sol.proof["checked"]
    doc = json.loads(path.read_text())
    up = Fraction(doc["threshold_up"])
    assert up**2 >= 2 and up < Fraction(1415, 1000)
    assert check_certificate(far, doc).nodes >= 1
    doc["threshold_up"] = "7/5"  # (7/5)^2 = 49/25 < 2: a ball smaller than the instance's
    with pytest.raises(ProofRejected, match="threshold_up"):
        check_certificate(far, doc)
    del doc["threshold_up"]
    with pytest.raises((ProofRejected, MalformedProof)):
        check_certificate(far, doc)
    # the tie: (1, 1) is at distance exactly sqrt(2) from (2, 2): a witness
    tie = solve(_pow_problem(2), "bab")
    assert tie.status is Status.YES and tie.check is not None and tie.check.meets
