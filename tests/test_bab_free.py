"""bab on real latents without a box: checked *no* (free-column Farkas leaves), exact
witnesses, against an independent exact oracle.

Oracle (written here, sharing nothing with geninv's solvers): every activation
pattern of the non-identity units is enumerated; on a pattern the network is an
affine map of ``z`` and the pattern's sign conditions, with the threshold
(``|d_j| <= delta`` for p = inf; ``s . d <= delta`` for every sign vector ``s``
for p = 1; strict rows for ``<``), are a system ``C z <= d`` decided by exact
Fourier-Motzkin elimination in Fractions (strictness carried through every
combination).  A witness exists iff some pattern's system is feasible.  One-latent
ties use :func:`geninv.testing.oracles.one_latent` (exact breakpoint analysis).
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from geninv.cli import main
from geninv.io.instance import save_instance
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Status
from geninv.proofcheck import ProofRejected, check_certificate
from geninv.solvers.base import solve
from geninv.testing.oracles import Question, one_latent

pytest.importorskip("highspy")

F = Fraction
Layers = list[tuple[list[list[Fraction]], list[Fraction], str]]
Ineq = tuple[list[Fraction], Fraction, bool]  # c . z <= d (strict: <)


# ------------------------------------------------------------------ the oracle
def _fm_feasible(rows: list[Ineq], n: int) -> bool:
    """Exact Fourier-Motzkin: is ``{z : c . z <= d (< d if strict)}`` nonempty?"""
    for k in range(n):
        pos = [r for r in rows if r[0][k] > 0]
        neg = [r for r in rows if r[0][k] < 0]
        new = [r for r in rows if r[0][k] == 0]
        for cp, dp, sp in pos:
            for cn, dn, sn in neg:
                a, b = -cn[k], cp[k]  # a * row_p + b * row_n kills z_k
                c = [a * u + b * v for u, v in zip(cp, cn, strict=True)]
                new.append((c, a * dp + b * dn, sp or sn))
        rows = new
    return all((d > 0) if s else (d >= 0) for _, d, s in rows)


def _act(spec: str) -> tuple[str, Fraction]:
    if spec.startswith("leaky_relu:"):
        return "leaky", F(spec.split(":")[1])
    return spec, F(0)


def oracle_feasible(
    layers: Layers, x: list[Fraction], p: str, delta: Fraction, relation: str
) -> bool:
    """Whether some real z has ||G(z) - x||_p <= delta (< for relation '<')."""
    n = len(layers[0][0][0])
    units = [
        (li, j) for li, (w, _, a) in enumerate(layers) if a != "identity" for j in range(len(w))
    ]
    strict = relation == "<"
    for bits in itertools.product((0, 1), repeat=len(units)):
        phase = dict(zip(units, bits, strict=True))
        rows: list[Ineq] = []
        forms = [([F(int(i == k)) for i in range(n)], F(0)) for k in range(n)]
        for li, (w, b, a) in enumerate(layers):
            kind, alpha = _act(a)
            new = []
            for j, (wr, bj) in enumerate(zip(w, b, strict=True)):
                c = [
                    sum((wk * f[0][i] for wk, f in zip(wr, forms, strict=True)), F(0))
                    for i in range(n)
                ]
                c0 = bj + sum((wk * f[1] for wk, f in zip(wr, forms, strict=True)), F(0))
                if kind == "identity":
                    new.append((c, c0))
                elif phase[(li, j)] == 1:  # h >= 0, a = h
                    rows.append(([-v for v in c], c0, False))
                    new.append((c, c0))
                else:  # h <= 0, a = alpha h
                    rows.append((c, -c0, False))
                    new.append(([alpha * v for v in c], alpha * c0))
            forms = new
        d = [(c, c0 - xj) for (c, c0), xj in zip(forms, x, strict=True)]
        if p == "inf":
            for c, c0 in d:
                rows.append((c, delta - c0, strict))
                rows.append(([-v for v in c], delta + c0, strict))
        else:
            for signs in itertools.product((1, -1), repeat=len(d)):
                c = [
                    sum((s * ci[i] for s, (ci, _) in zip(signs, d, strict=True)), F(0))
                    for i in range(n)
                ]
                c0 = sum((s * cc for s, (_, cc) in zip(signs, d, strict=True)), F(0))
                rows.append((c, delta - c0, strict))
        if _fm_feasible(rows, n):
            return True
    return False


def test_oracle_on_hand_cases() -> None:
    # G(z) = z1 + z2 (identity), x = 1: every distance 0 is reachable; relu(-z^2)... keep linear
    lin: Layers = [([[F(1), F(1)]], [F(0)], "identity")]
    assert oracle_feasible(lin, [F(1)], "inf", F(0), "<=")
    assert not oracle_feasible(lin, [F(1)], "inf", F(0), "<")
    relu: Layers = [([[F(1)]], [F(0)], "relu")]  # relu(z) >= 0: x = -1 is 1 away
    assert oracle_feasible(relu, [F(-1)], "1", F(1), "<=")
    assert not oracle_feasible(relu, [F(-1)], "1", F(1), "<")
    assert not oracle_feasible(relu, [F(-1)], "inf", F(1, 2), "<=")


# ------------------------------------------------------------------ instances
ACTS = ["relu", "relu", "leaky_relu:1/4", "leaky_relu:2", "identity"]


def _random_case(rng: random.Random) -> tuple[Layers, list[Fraction]]:
    n = rng.randint(1, 3)
    depth = rng.randint(1, 3)
    widths = [rng.randint(1, 3) for _ in range(depth - 1)] + [rng.randint(1, 3)]
    layers: Layers = []
    prev = n
    for k, m in enumerate(widths):
        w = [[F(rng.randint(-3, 3), rng.choice([1, 2])) for _ in range(prev)] for _ in range(m)]
        b = [F(rng.randint(-3, 3), rng.choice([1, 2])) for _ in range(m)]
        last = k == depth - 1
        layers.append(
            (w, b, rng.choice(ACTS if not last else ["relu", "identity", "leaky_relu:1/4"]))
        )
        prev = m
    q = widths[-1]
    x = [F(rng.randint(-4, 4), rng.choice([1, 2])) for _ in range(q)]
    return layers, x


def _problem(
    layers: Layers, x: list[Fraction], p: str, delta: Fraction, relation: str
) -> InversionProblem:
    net = ReLUNetwork(
        [w for w, _, _ in layers], [b for _, b, _ in layers], activations=[a for *_, a in layers]
    )
    pv = float("inf") if p == "inf" else float(p)
    return InversionProblem(net, x, Domain("real"), p=pv, threshold=delta, relation=relation)


def _bab(prob: InversionProblem, proof: Path | None = None, primal: bool = False) -> Any:
    opts: dict[str, Any] = {"primal": primal}
    if proof is not None:
        opts["proof"] = str(proof)
    return solve(prob, "bab", time_limit=30, options=opts)


# ------------------------------------------------------------------ against the oracle
@pytest.mark.parametrize("seed", [0, 1])
def test_random_real_latents_match_the_exact_oracle(seed: int) -> None:
    rng = random.Random(seed)
    seen = {"yes": 0, "no": 0}
    for _ in range(25):
        layers, x = _random_case(rng)
        p = rng.choice(["inf", "1"])
        delta = F(rng.randint(0, 6), 2)
        rel = rng.choice(["<=", "<"]) if delta else "<="
        truth = oracle_feasible(layers, x, p, delta, rel)
        sol = _bab(_problem(layers, x, p, delta, rel))
        assert sol.status is (Status.YES if truth else Status.NO), (
            layers,
            x,
            p,
            delta,
            rel,
            sol.reason,
        )
        seen[sol.status.value] += 1
        if sol.status is Status.NO:
            assert sol.proof["checked"] and sol.proof["root"] == "free (real latents, no box)"
    assert seen["yes"] >= 5 and seen["no"] >= 5, seen


def test_tiny_and_huge_magnitudes_match_the_exact_oracle() -> None:
    """Each layer scaled by 10^k, k in [-6, 6] (target and threshold with the output)."""
    rng = random.Random(8)
    for _ in range(30):
        layers, x = _random_case(rng)
        tot, scaled = F(1), []
        for w, b, a in layers:
            s = F(10) ** rng.randint(-6, 6)
            tot *= s
            scaled.append(([[v * s for v in r] for r in w], [v * tot for v in b], a))
        x = [v * tot for v in x]
        p = rng.choice(["inf", "1"])
        delta = F(rng.randint(0, 6), 2) * tot
        rel = rng.choice(["<=", "<"]) if delta else "<="
        truth = oracle_feasible(scaled, x, p, delta, rel)
        sol = _bab(_problem(scaled, x, p, delta, rel))
        assert sol.status is (Status.YES if truth else Status.NO), (scaled, x, p, delta, rel)


def _one_latent_min(layers: Layers, x: list[Fraction], p: str) -> Fraction:
    q = Question(layers, x, "real", None, None, p, F(0), "<=")
    ans = one_latent(q)
    assert ans.min_pow is not None
    return ans.min_pow


@pytest.mark.parametrize("seed", [3, 4])
def test_one_latent_ties_both_relations(seed: int) -> None:
    """Threshold exactly at the minimum distance (exact breakpoint analysis): '<=' has a
    witness (found exactly), '<' has none (refuted with a strict Farkas row)."""
    rng = random.Random(seed)
    decided = 0
    for _ in range(8):
        layers, x = _random_case(rng)
        layers[0] = ([[w[0]] for w in layers[0][0]], layers[0][1], layers[0][2])  # n = 1
        p = rng.choice(["inf", "1"])
        dmin = _one_latent_min(layers, x, p)
        if dmin == 0:
            continue
        yes = _bab(_problem(layers, x, p, dmin, "<="))
        assert yes.status is Status.YES, yes.reason
        no = _bab(_problem(layers, x, p, dmin, "<"))
        assert no.status is not Status.YES
        decided += no.status is Status.NO
        for d, want in ((dmin * F(99, 100), Status.NO), (dmin * F(101, 100), Status.YES)):
            assert _bab(_problem(layers, x, p, d, "<=")).status is want
    assert decided >= 3


def test_unbounded_witness_set_tie() -> None:
    """G(z) = (z1 + z2, z1 + z2) (identity), x = (0, 2): distance >= 1 (l_inf) on all of
    R^2, attained on a whole line.  delta = 1: '<=' yes, '<' no (checked)."""
    layers: Layers = [([[F(1), F(1)], [F(1), F(1)]], [F(0), F(0)], "identity")]
    x = [F(0), F(2)]
    for rel, want in (("<=", Status.YES), ("<", Status.NO)):
        assert oracle_feasible(layers, x, "inf", F(1), rel) is (want is Status.YES)
        sol = _bab(_problem(layers, x, "inf", F(1), rel))
        assert sol.status is want, sol.reason
    hidden: Layers = [
        ([[F(1), F(-1)], [F(-1), F(1)]], [F(0), F(0)], "relu"),
        ([[F(1), F(1)]], [F(-1)], "leaky_relu:1/4"),
    ]  # |z1 - z2| - 1 through a leaky unit: every value >= -1/4 is reached
    assert _bab(_problem(hidden, [F(-1)], "1", F(3, 4), "<=")).status is Status.YES
    assert _bab(_problem(hidden, [F(-1)], "1", F(3, 4), "<")).status is Status.NO
    assert _bab(_problem(hidden, [F(-1)], "inf", F(1, 2), "<=")).status is Status.NO


def test_integer_p_matches_one_latent_oracle() -> None:
    """p = 2 with delta^2 given exactly (threshold_pow) at 81% and 121% of the exact
    minimum of ||d||_2^2 (one latent): the no needs the l_p cuts."""
    rng = random.Random(7)
    done = 0
    while done < 4:
        layers, x = _random_case(rng)
        layers[0] = ([[w[0]] for w in layers[0][0]], layers[0][1], layers[0][2])
        m2 = _one_latent_min(layers, x, "2")
        if len(x) < 2 or m2 == 0:
            continue
        net = _problem(layers, x, "inf", F(1), "<=").network
        for d2, want in ((m2 * F(81, 100), Status.NO), (m2 * F(121, 100), Status.YES)):
            prob = InversionProblem(net, x, Domain("real"), p=2.0, threshold_pow=d2)
            sol = _bab(prob)
            assert sol.status is want, (layers, x, d2, sol.reason)
        done += 1


# ------------------------------------------------------------------ the proof and its checker
SEED = 11


def _proved(tmp_path: Path, seed: int = SEED) -> tuple[InversionProblem, dict[str, Any], Path]:
    """A checked free proof with several nodes (a 2-4-4-3 relu/leaky/identity net)."""
    rng = random.Random(seed)
    dims = [2, 4, 4, 3]
    ws = [
        [[F(rng.randint(-8, 8), 4) for _ in range(dims[i])] for _ in range(dims[i + 1])]
        for i in range(3)
    ]
    bs = [[F(rng.randint(-8, 8), 4) for _ in range(dims[i + 1])] for i in range(3)]
    layers: Layers = [
        (w, b, a) for w, b, a in zip(ws, bs, ["relu", "leaky_relu:1/4", "identity"], strict=True)
    ]
    prob0 = _problem(layers, [F(0)] * 3, "inf", F(1, 2), "<=")
    base = prob0.network.forward_exact([F(1, 2), F(-1, 2)])
    x = [v + s for v, s in zip(base, [F(3, 2), F(-3, 2), F(3, 2)], strict=True)]
    prob = _problem(layers, x, "inf", F(1, 2), "<=")
    path = tmp_path / "free.json"
    sol = _bab(prob, proof=path)
    assert sol.status is Status.NO, sol.reason
    assert oracle_feasible(layers, x, "inf", F(1, 2), "<=") is False
    doc = json.loads(path.read_text())
    assert doc["root"] == "free" and len(doc["nodes"]) >= 3
    return prob, doc, path


def _leaf_on_z(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A leaf and one of its layer-1 rows (the rows that carry the latent columns)."""
    for nd in doc["nodes"]:
        for k in nd.get("farkas", {}):
            if k.startswith("L1.") and not k.endswith((".sle", ".sge")):
                return nd, k
    raise AssertionError("no leaf uses a layer-1 row")


def test_free_proof_checks_and_tampering_is_rejected(tmp_path: Path) -> None:
    prob, doc, _ = _proved(tmp_path)
    rep = check_certificate(prob, doc)
    assert rep.root == "free (real latents, no box)" and rep.leaves == (rep.nodes + 1) // 2
    # a flipped multiplier sign
    bad = copy.deepcopy(doc)
    nd, row = _leaf_on_z(bad)
    nd["farkas"][row] = str(-F(nd["farkas"][row]))
    with pytest.raises(ProofRejected, match="negative"):
        check_certificate(prob, bad)
    # a nonzero sum on the free latent columns: one layer-1 multiplier scaled by 1001/1000
    bad = copy.deepcopy(doc)
    nd, row = _leaf_on_z(bad)
    nd["farkas"][row] = str(F(nd["farkas"][row]) * F(1001, 1000))
    with pytest.raises(ProofRejected, match="unbounded above"):
        check_certificate(prob, bad)
    # a dropped node (a leaf), and a leaf dropped with its parent's split
    bad = copy.deepcopy(doc)
    leaf_ids = [nd["id"] for nd in bad["nodes"] if "farkas" in nd]
    bad["nodes"] = [nd for nd in bad["nodes"] if nd["id"] != leaf_ids[-1]]
    with pytest.raises(ProofRejected, match="missing"):
        check_certificate(prob, bad)
    bad = copy.deepcopy(doc)
    inner = next(nd for nd in bad["nodes"] if "children" in nd)
    del inner["children"], inner["split"]
    with pytest.raises(ProofRejected):
        check_certificate(prob, bad)
    # a leaf without multipliers, swapped phases, a split on an identity unit
    bad = copy.deepcopy(doc)
    nd = next(nd for nd in bad["nodes"] if "farkas" in nd)
    nd["farkas"] = {}
    with pytest.raises(ProofRejected):
        check_certificate(prob, bad)
    bad = copy.deepcopy(doc)
    inner = next(nd for nd in bad["nodes"] if "children" in nd)
    inner["children"] = inner["children"][::-1]
    with pytest.raises(ProofRejected, match="fixings"):
        check_certificate(prob, bad)
    bad = copy.deepcopy(doc)
    inner = next(nd for nd in bad["nodes"] if "children" in nd)
    inner["split"] = {"kind": "relu", "layer": 3, "unit": 0}
    with pytest.raises(ProofRejected):
        check_certificate(prob, bad)
    # the same proof does not refute a threshold that has a witness
    layers, x = _layers_of(prob), list(prob.target)
    assert oracle_feasible(layers, x, "inf", F(10), "<=")
    with pytest.raises(ProofRejected):
        check_certificate(_problem(layers, x, "inf", F(10), "<="), doc)


def _layers_of(prob: InversionProblem) -> Layers:
    out: Layers = []
    for la in prob.network.layers:
        rows = []
        for idx, val in la.exact_rows():
            r = [F(0)] * la.n_in
            for k, v in zip(idx, val, strict=True):
                r[k] = v
            rows.append(r)
        out.append((rows, list(la.exact_bias_values()), la.activation_label))
    return out


def test_strict_tie_proof_does_not_refute_the_closed_ball() -> None:
    layers: Layers = [([[F(1), F(1)], [F(1), F(1)]], [F(0), F(0)], "identity")]
    x = [F(0), F(2)]
    strict = _problem(layers, x, "inf", F(1), "<")
    sol = solve(strict, "bab", options={"primal": False})
    assert sol.status is Status.NO
    from geninv.solvers.bab.backend import BabBackend

    _, doc = BabBackend(primal=False).decide(strict, 10)
    assert check_certificate(strict, doc).leaves >= 1
    with pytest.raises(ProofRejected, match="not below"):
        check_certificate(_problem(layers, x, "inf", F(1), "<="), doc)


def test_mutated_free_proofs_never_crash_the_checker(tmp_path: Path) -> None:
    from geninv.proofcheck import MalformedProof

    prob, doc, _ = _proved(tmp_path)
    rng = random.Random(11)
    junk: list[Any] = [None, -1, "x", "1/0", [], {}, 10**6, "-3/2", True, [0, 0, 1]]
    rejected = 0
    for _ in range(60):
        bad = copy.deepcopy(doc)
        nd = rng.choice(bad["nodes"])
        key = rng.choice(sorted(nd))
        if key == "farkas" and nd["farkas"]:
            nd["farkas"][rng.choice(sorted(nd["farkas"]))] = rng.choice(junk)
        else:
            nd[key] = rng.choice(junk)
        try:
            check_certificate(prob, bad)
        except (ProofRejected, MalformedProof):
            rejected += 1
    assert rejected >= 40


def test_cli_check_proof_and_solve_on_a_free_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prob, doc, path = _proved(tmp_path)
    inst = tmp_path / "inst"
    save_instance(prob, inst)
    assert main(["check-proof", str(inst), str(path)]) == 0
    assert "valid proof" in capsys.readouterr().out
    gz = tmp_path / "cli.json.gz"
    assert main(["solve", str(inst), "--method", "bab", "--proof", str(gz)]) == 0
    assert json.loads(gzip.decompress(gz.read_bytes()))["root"] == "free"
    assert main(["check-proof", str(inst), str(gz)]) == 0
    bad = copy.deepcopy(doc)
    nd, row = _leaf_on_z(bad)
    nd["farkas"][row] = str(-F(nd["farkas"][row]))
    badf = tmp_path / "bad.json"
    badf.write_text(json.dumps(bad))
    capsys.readouterr()
    assert main(["check-proof", str(inst), str(badf)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("invalid proof: node")


def test_auto_reaches_bab_for_real_latents_without_a_box(tmp_path: Path) -> None:
    prob, _, _ = _proved(tmp_path)
    sol = solve(prob, "auto", time_limit=60)
    assert sol.status is Status.NO, sol.reason
    assert sol.proof is not None and sol.proof.get("checked"), sol.proof


def test_optimize_brackets_the_minimum_with_a_checked_lower_bound(tmp_path: Path) -> None:
    prob, _, _ = _proved(tmp_path)
    sol = solve(prob, "bab", time_limit=60, options={"mode": "optimize", "primal": False})
    assert sol.status is Status.NO and sol.proof is not None and sol.proof["checked"]
    lo = F(sol.stats["lower_bound_exact"])
    assert sol.z is not None
    best = F(sol.stats["best_distance"])
    assert prob.threshold <= lo <= best
    layers, x = _layers_of(prob), list(prob.target)
    assert not oracle_feasible(layers, x, "inf", lo, "<")  # nothing below the bound
    d = max(abs(a - b) for a, b in zip(prob.network.forward_exact(sol.z), x, strict=True))
    assert oracle_feasible(layers, x, "inf", d, "<=") and d <= best * (1 + F(1, 10**9))


def test_an_input_box_that_is_no_clamp_box_falls_back_to_the_free_search() -> None:
    """G(z) = leaky_{1/4}(z) is not constant outside [0, 1]: the box is not trusted, and
    the free search finds z = -1/4 for x = -1/16 (a clamped search would say no)."""
    net = ReLUNetwork([[[1]], [[1]]], [[0], [0]], activations=["leaky_relu:1/4", "identity"])
    prob = InversionProblem(
        net, [F(-1, 16)], Domain("real"), threshold=F(1, 100), input_box=([0], [1])
    )
    sol = _bab(prob)
    assert sol.status is Status.YES and sol.z is not None and sol.z[0] < 0
    relu = ReLUNetwork([[[1]], [[1]]], [[0], [0]], activations=["leaky_relu:1/4", "relu"])
    far = InversionProblem(relu, [F(-1)], Domain("real"), threshold=F(1, 2), input_box=([0], [1]))
    no = _bab(far)
    assert no.status is Status.NO and no.proof is not None
    assert no.proof["root"] == "free (real latents, no box)"


@pytest.mark.parametrize("p", ["2", "3"])
def test_integer_p_with_a_plain_threshold_matches_one_latent_oracle(p: str) -> None:
    """delta at 90% and 110% of the exact l_2 minimum (one latent); the oracle decides
    each question itself (exactly for p = 2, by its rigorous bounds for p = 3)."""
    rng = random.Random(21)
    done = 0
    seen: set[Status] = set()
    while done < 3:
        layers, x = _random_case(rng)
        layers[0] = ([[w[0]] for w in layers[0][0]], layers[0][1], layers[0][2])
        m2 = _one_latent_min(layers, x, "2")
        if len(x) < 2 or m2 == 0:
            continue
        for f in (F(9, 10), F(11, 10)):
            delta = F(float(m2) ** 0.5) * f
            ans = one_latent(Question(layers, x, "real", None, None, p, delta, "<="))
            if ans.status == "undecided":
                continue
            sol = _bab(_problem(layers, x, p, delta, "<="))
            assert sol.status is (Status.YES if ans.status == "yes" else Status.NO), sol.reason
            seen.add(sol.status)
        done += 1
    assert seen == {Status.YES, Status.NO}
