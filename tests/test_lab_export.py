"""geninv lab export / check-release (issue 18, item 6) and the trained-generators family."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geninv.cli import main
from geninv.errors import GeninvError, ValidationError
from geninv.lab import families
from geninv.lab.export import Selection, export_release, ground_truth, peer_summary, select
from geninv.lab.families import build_instance, restrict_latent, trained_generator
from geninv.lab.release import check_release
from geninv.lab.runner import run_sweep
from geninv.lab.spec import parse_spec
from geninv.lab.store import Store

SPEC = """
name = "release-test"
seed = 3
time_limit = 10.0

[[families]]
family = "sat-thm2"
sizes = [5, 6]
seeds = 2
solvers = ["auto", "cadical"]
params = { density = 5.0, planted = false }

[[families]]
family = "cvp-thm4"
sizes = [3]
seeds = 1
solvers = ["auto", "bruteforce"]
params = { p = "inf", offset = 0 }

[[families]]
family = "vertex-cover-lifted"
sizes = [4]
seeds = 2
solvers = ["auto", "networkx"]
params = { p = "inf", q_offset = -1 }

[[families]]
family = "trained"
sizes = [2]
seeds = 1
solvers = ["auto"]
params = { model = "digits", target = "image" }

[[families]]
family = "sat-thm1"
sizes = [5]
seeds = 1
solvers = ["sat", "cadical"]
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("release")
    db = root / "lab.db"
    res = run_sweep(parse_spec(SPEC), db, inline=True, progress=False)
    assert res.lost == 0 and not res.disagreements
    out = root / "rel"
    export_release(db, out, Selection(), timeout=60)
    return db, out


def _truth(out: Path) -> list[dict[str, str]]:
    with open(out / "ground_truth.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_release_layout_ground_truth_and_sources(release: tuple[Path, Path]) -> None:
    db, out = release
    with open(out / "instances.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    truth = _truth(out)
    assert [r[0] for r in rows] == [t["onnx"] for t in truth] and len(rows) == 8
    assert all(r[2] == "60" and (out / r[0]).is_file() and (out / r[1]).is_file() for r in rows)
    answers = {t["answer"] for t in truth}
    assert answers == {"sat", "unsat"}  # both answers in the slice
    for t in truth:
        assert t["answer"] == {"yes": "sat", "no": "unsat"}[t["geninv_answer"]]
        assert t["basis"]
        # the instance rebuilds from its recorded seed and parameters
        inst = build_instance(t["family"], json.loads(t["params"]), int(t["n"]), int(t["seed"]))
        assert inst.problem is not None
        if t["answer"] == "sat":
            assert t["witness"] and (out / t["witness"]).is_file()
        if t["family"] == "trained":
            assert t["source"] == ""
        else:
            assert (out / t["source"]).is_file()
    sat2 = [t for t in truth if t["family"] == "sat-thm2"]
    assert all("source: CaDiCaL" in t["basis"] and "certified:" in t["basis"] for t in sat2)
    assert (out / sat2[0]["source"]).read_text().startswith("p cnf 5")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["geninv_version"] and manifest["specs"][0]["name"] == "release-test"
    assert any("sat-thm1" in o and "sign domain" in o for o in manifest["omitted"])
    assert "sat means" in (out / "README.md").read_text().replace("**", "")
    # the slice options
    with Store(db, create=False) as store:
        rows = store.rows()
    assert {c[0] for c in select(rows, Selection(solver="networkx"))} == {"vertex-cover-lifted"}
    assert {c[2] for c in select(rows, Selection(n_max=5))} == {2, 3, 4, 5}
    fams = select(rows, Selection(families=("sat-thm2", "cvp-thm4")))
    assert {c[0] for c in fams} == {"sat-thm2", "cvp-thm4"} and len(fams) == 5
    # refuses to overwrite without --force; the store is never a target
    with pytest.raises(GeninvError, match="exists"):
        export_release(db, out, Selection(), timeout=60)


def test_check_release_passes_and_catches_a_wrong_truth_and_a_bad_witness(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = release
    res = check_release(out, time_limit=10)
    assert res.ok, res.failures
    assert res.instances == 8 and res.contradictions == 0 and res.agree + res.unknown == 8
    assert res.witnesses == res.witnesses_ok == res.truth["sat"] and res.points == 24
    # a tampered copy: one ground truth flipped, one witness moved off the solution
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    truth = _truth(bad)
    flip = next(t for t in truth if t["answer"] == "unsat")
    flip["answer"] = "sat"
    with open(bad / "ground_truth.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(truth[0]))
        w.writeheader()
        w.writerows(truth)
    wit = next(t for t in truth if t["family"] == "sat-thm2" and t["witness"])
    doc = json.loads((bad / wit["witness"]).read_text())
    doc["z"] = ["0"] * len(doc["z"])
    doc["z_float"] = [0.0] * len(doc["z"])
    (bad / wit["witness"]).write_text(json.dumps(doc))
    res = check_release(bad, time_limit=10)
    assert not res.ok
    assert any(flip["instance"] in f and "ground truth sat" in f for f in res.failures)
    assert any(wit["instance"] in f and "witness fails" in f for f in res.failures)


def test_cli_export_check_and_solve_one_pair(
    release: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = release
    rel = tmp_path / "cli"
    args = ["lab", "export", str(db), "-o", str(rel), "--family", "cvp-thm4"]
    assert main([*args, "--family", "vertex-cover-lifted", "--limit", "2"]) == 0
    assert "wrote 2 instance(s)" in capsys.readouterr().out
    assert {t["family"] for t in _truth(rel)} == {"cvp-thm4", "vertex-cover-lifted"}
    assert main(args) == 2  # exists, no --force: one line
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main([*args, "--force"]) == 0
    assert main(["lab", "check-release", str(rel), "--time-limit", "10"]) == 0
    assert "0 contradict it" in capsys.readouterr().out
    assert main(["lab", "export", str(db), "-o", str(tmp_path / "x"), "--n-max", "1"]) == 2
    assert "nothing to release" in capsys.readouterr().err
    assert main(["lab", "check-release", str(tmp_path)]) == 2
    # one pair through geninv solve --onnx --vnnlib itself
    t = _truth(out)[0]
    code = main(["solve", "--onnx", str(out / t["onnx"]), "--vnnlib", str(out / t["vnnlib"])])
    said = capsys.readouterr().out
    assert code == 0 and f"status: {t['geninv_answer']}" in said


def _row(solver: str, answer: str, kind: str = "", basis: str = "", **kw: Any) -> dict[str, Any]:
    row = {
        "family": "cvp-thm4",
        "params": "{}",
        "n": 3,
        "seed": 7,
        "solver": solver,
        "answer": answer,
        "proof_kind": kind,
        "proof_basis": basis,
        "expected": None,
        "spec_hash": "h",
    }
    return {**row, **kw}


def test_ground_truth_rules() -> None:
    witness = _row("sat", "yes", "witness", "exact re-check")
    src_no = _row("bruteforce", "no", "exhaustive search", "exact")
    t = ground_truth([witness, _row("enumerate", "unknown")])
    assert t.answer == "yes" and t.basis == ["certified: sat witness (exact re-check)"]
    # a witness not re-checked is no ground truth; a peer never is
    assert ground_truth([_row("sat", "yes", "witness", "witness (re-check missing)")]).answer == (
        "unknown"
    )
    assert ground_truth([_row("marabou", "no", "peer", "peer: its word")]).answer == "unknown"
    # definite answers that disagree are a conflict, never a pick
    c = ground_truth([witness, src_no])
    assert c.answer == "unknown" and c.conflict is not None and "brute force" in c.conflict
    # a peer contradicting the ground truth is flagged
    p = ground_truth([src_no, _row("gurobi-ml", "yes", "witness", "peer: point re-checked")])
    assert p.answer == "no" and p.peer_disagreements == ["gurobi-ml answered yes, ground truth no"]
    groups = {("cvp-thm4", "{}", 3, 7): [src_no, _row("marabou", "no"), _row("omlt-highs", "yes")]}
    groups[("cvp-thm4", "{}", 3, 8)] = [_row("gurobi-ml", "unknown", "skipped")]
    assert peer_summary(groups) == {
        "marabou": {"agree": 1},
        "omlt-highs": {"disagree": 1},
        "gurobi-ml": {"skipped": 1},
    }
    # the generator's exact decision counts as source
    g = ground_truth([_row("auto", "unknown", expected="no")])
    assert g.answer == "no" and g.basis[0].startswith("source: generator")
    # a random network's 'yes' from a float best distance is not ground truth
    r = ground_truth([_row("auto", "unknown", family="random-net", expected="yes")])
    assert r.answer == "unknown"


def test_unknown_is_left_out_or_released_as_unknown(tmp_path: Path) -> None:
    spec = parse_spec(
        'name = "u"\ntime_limit = 2.0\n[[families]]\nfamily = "sat-thm2"\nsizes = [5]\n'
        'seeds = 1\nsolvers = ["adam"]\nparams = { density = 9.0 }\n'
    )
    db = tmp_path / "u.db"
    run_sweep(spec, db, inline=True, progress=False)
    with pytest.raises(ValidationError, match="nothing to release"):
        export_release(db, tmp_path / "a", Selection())
    res = export_release(db, tmp_path / "b", Selection(include_unknown=True))
    assert res.answers == {"unknown": 1} and _truth(tmp_path / "b")[0]["answer"] == "unknown"
    assert check_release(tmp_path / "b", time_limit=2).ok


# ------------------------------------------------------------------ trained family
def test_trained_family_restricts_the_latent_and_plants_an_exact_yes() -> None:
    full = trained_generator("digits")
    net = restrict_latent(full, 2)
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (5, 2))
    padded = np.hstack([z, np.zeros((5, full.n_inputs - 2))])
    assert np.allclose(net.forward(z), full.forward(padded), atol=1e-12)
    params = {
        "model": "digits",
        "target": "image",
        "noise": 0.05,
        "fraction": 0.99,
        "optimize_limit": 5.0,
    }
    inst = build_instance("trained", params, 2, 11)
    assert inst.problem is not None and inst.expected == "yes" and inst.problem.threshold == 0
    zs = inst.info["z_star"]
    assert inst.problem.exact_check(zs).meets
    assert build_instance("trained", params, 2, 11).info == inst.info  # seeded


def test_trained_family_spec_and_missing_shared_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (
        'name = "t"\ntime_limit = 5.0\n[[families]]\nfamily = "trained"\nsizes = [{s}]\n'
        'solvers = ["auto", "marabou"]\nparams = {{ model = "{m}" }}\n'
    )
    assert parse_spec(text.format(s=4, m="digits")).families[0].params["target"] == "image"
    with pytest.raises(ValidationError, match=r"latent sizes 1\.\.4 \(digits\)"):
        parse_spec(text.format(s=5, m="digits"))
    with pytest.raises(ValidationError, match="model"):
        parse_spec(text.format(s=2, m="imagenet"))
    monkeypatch.setenv("GENINV_MODELS_DIR", str(tmp_path))
    trained_generator.cache_clear()
    families._build_cached.cache_clear()
    params = {**parse_spec(text.format(s=3, m="mnist-vae")).families[0].params}
    inst = build_instance("trained", params, 3, 1)
    trained_generator.cache_clear()
    assert inst.problem is None and inst.skipped is not None
    assert "not present" in inst.skipped and "GENINV_MODELS_DIR" in inst.skipped


@pytest.mark.parametrize(
    ("truth", "instances", "needle"),
    [
        ("instance,answer\nx,sat\n", "onnx/x.onnx,vnnlib/x.vnnlib,60\n", "expected a header"),
        (
            "instance,onnx,vnnlib,answer,witness,family\nx,../x.onnx,v,sat,,f\n",
            "../x.onnx,vnnlib/x.vnnlib,60\n",
            "a path inside the release",
        ),
        (
            "instance,onnx,vnnlib,answer,witness,family\nx,o.onnx,v,sat,,f\n",
            "o.onnx,v,soon\n",
            "expected seconds",
        ),
    ],
)
def test_check_release_hostile_files_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], truth: str, instances: str, needle: str
) -> None:
    (tmp_path / "ground_truth.csv").write_text(truth)
    (tmp_path / "instances.csv").write_text(instances)
    assert main(["lab", "check-release", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_shared_mnist_model_or_its_recorded_absence() -> None:
    """With ../shared/models (or $GENINV_MODELS_DIR) the MNIST VAE decoder gives an
    image instance whose seeded z* meets exactly; without it, a recorded skip."""
    from geninv.lab.families import TRAINED, models_dir

    params = {
        "model": "mnist-vae",
        "target": "image",
        "noise": 0.05,
        "fraction": 0.99,
        "optimize_limit": 5.0,
    }
    inst = build_instance("trained", params, 2, 4)
    if not (models_dir() / str(TRAINED["mnist-vae"][0])).is_file():
        assert inst.problem is None and inst.skipped is not None
        assert "not present" in inst.skipped
        return
    assert inst.problem is not None and inst.expected == "yes"
    assert inst.problem.n == 2 and inst.problem.network.n_outputs == 784
    assert inst.problem.threshold > 0  # a sigmoid output: the float image, delta = 1e-6
    assert inst.problem.exact_check(inst.info["z_star"]).meets
