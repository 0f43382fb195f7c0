"""The CLI contract: reduce -> solve -> check -> extract, info, new, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geninv.cli import main
from geninv.io.dimacs import parse_cnf, read_cnf
from geninv.io.instance import load_instance
from geninv.io.onnx_io import export_onnx
from geninv.network import ReLUNetwork

DEMO = Path(__file__).resolve().parents[1] / "src" / "geninv" / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_pipeline_satlib_uf20(tmp_path: Path, capsys, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    for cnf_file in sorted((shared_data / "cnf" / "uf20-91").glob("*.cnf")):
        inst = tmp_path / cnf_file.stem
        code, out, _ = run(
            capsys, "reduce", "sat", str(cnf_file), "--domain", "sign", "-o", str(inst)
        )
        assert code == 0 and "Theorem 1" in out
        assert (inst / "network.onnx").is_file() and (inst / "problem.json").is_file()
        doc = json.loads((inst / "problem.json").read_text())
        assert doc["source"]["expected"] == "yes"
        assert doc["source"]["file"] == cnf_file.name
        assert len(doc["source"]["sha256"]) == 64
        code, out, _ = run(capsys, "solve", str(inst), "--method", "enumerate", "--json")
        assert code == 0
        sol = json.loads(out)
        assert set(sol) >= {"status", "z", "distance", "method", "seconds"}
        assert sol["status"] == "yes" and sol["method"] == "enumerate"
        assert sol["distance"] == 0
        witness = tmp_path / f"{cnf_file.stem}.json"
        witness.write_text(out)
        code, out, _ = run(capsys, "check", str(inst), str(witness))
        assert code == 0 and "meets" in out
        code, out, _ = run(capsys, "extract", str(inst), str(witness))
        assert code == 0
        vline = [ln for ln in out.splitlines() if ln.startswith("v ")]
        assert len(vline) == 1 and vline[0].endswith(" 0")
        lits = [int(t) for t in vline[0].split()[1:-1]]
        cnf = read_cnf(cnf_file)
        assert cnf.evaluate([lit > 0 for lit in lits])
        # Theorem 2 instance: the same witness works, extract agrees.
        inst2 = tmp_path / f"{cnf_file.stem}-real"
        code, _, _ = run(
            capsys, "reduce", "sat", str(cnf_file), "--domain", "real", "-o", str(inst2)
        )
        assert code == 0
        assert (inst2 / "property.vnnlib").is_file()
        assert run(capsys, "check", str(inst2), str(witness))[0] == 0
        assert run(capsys, "extract", str(inst2), str(witness))[0] == 0


def test_uuf_instance_and_no_answer(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = tmp_path / "unsat"
    assert run(capsys, "reduce", "sat", str(DEMO / "demo-unsat.cnf"), "-o", str(inst))[0] == 0
    _, out, _ = run(capsys, "solve", str(inst), "--json")
    sol = json.loads(out)
    assert sol["status"] == "no" and sol["z"] is None and sol["distance"] is None
    # auto picks sat: a Theorem 1 network has the clause form (the formula itself)
    assert sol["proof"]["kind"] == "SAT solver: unsatisfiable CNF"
    assert sol["stats"]["encoding"].startswith("clause form")
    _, out, _ = run(capsys, "solve", str(inst), "--json", "--method", "enumerate")
    assert json.loads(out)["proof"]["kind"] == "exhaustive enumeration"
    code, out, _ = run(capsys, "info", str(inst), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["theorem"] == "Theorem 1" and info["depth"] == 2 and info["domain"] == "sign"
    assert info["widths"] == [100, 1]
    assert info["expected"] == "no"


def test_check_rejects_wrong_witness(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = tmp_path / "i"
    assert run(capsys, "reduce", "sat", str(DEMO / "demo-unsat.cnf"), "-o", str(inst))[0] == 0
    w = tmp_path / "w.json"
    w.write_text(json.dumps({"z": [1] * 14}))
    code, out, _ = run(capsys, "check", str(inst), str(w))
    assert code == 1 and "does not meet" in out
    code, out, _ = run(capsys, "extract", str(inst), str(w))
    assert code == 1 and "falsifies" in out
    w.write_text(json.dumps({"z": [0] * 14}))
    code, out, _ = run(capsys, "check", str(inst), str(w))
    assert code == 1 and "not in the sign domain" in out


def test_new_from_foreign_network(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    net = ReLUNetwork(
        [rng.normal(size=(6, 3)), rng.normal(size=(2, 6))], [rng.normal(size=6), np.zeros(2)]
    )
    onnx = tmp_path / "g.onnx"
    export_onnx(net, onnx)
    z0 = np.array([0.5, -0.25, 1.0])
    target = tmp_path / "x.npy"
    np.save(target, net.forward(z0))
    inst = tmp_path / "inst"
    code, out, err = run(
        capsys,
        "new",
        "--network",
        str(onnx),
        "--target",
        str(target),
        "--norm",
        "inf",
        "--threshold",
        "0.01",
        "--domain",
        "box",
        "--lower",
        "-1",
        "--upper",
        "1",
        "-o",
        str(inst),
    )
    assert code == 0, err
    problem = load_instance(inst)
    assert problem.domain.kind == "box" and problem.p == float("inf")
    assert (inst / "property.vnnlib").is_file()
    w = tmp_path / "w.json"
    w.write_text(json.dumps({"z": z0.tolist()}))
    assert run(capsys, "check", str(inst), str(w))[0] == 0
    code, _, err = run(capsys, "extract", str(inst), str(w))
    assert_one_line_error(code, err, "not made by a geninv reduction")
    # binary domain, l2, from a JSON target
    tj = tmp_path / "x.json"
    tj.write_text(json.dumps(net.forward(np.array([1.0, 0.0, 1.0])).tolist()))
    inst2 = tmp_path / "inst2"
    code, _, err = run(
        capsys,
        "new",
        "--network",
        str(onnx),
        "--target",
        str(tj),
        "--norm",
        "2",
        "--threshold",
        "1e-9",
        "--domain",
        "binary",
        "-o",
        str(inst2),
    )
    assert code == 0, err
    code, out, _ = run(capsys, "solve", str(inst2), "--json")
    sol = json.loads(out)
    assert sol["status"] == "yes" and sol["z"] == [1, 0, 1]


def test_output_exists_and_force(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = tmp_path / "i"
    cnf = str(DEMO / "demo-sat.cnf")
    assert run(capsys, "reduce", "sat", cnf, "-o", str(inst))[0] == 0
    code, _, err = run(capsys, "reduce", "sat", cnf, "-o", str(inst))
    assert_one_line_error(code, err, str(inst), "--force")
    assert run(capsys, "reduce", "sat", cnf, "-o", str(inst), "--force", "--domain", "real")[0] == 0
    assert load_instance(inst).domain.kind == "real"


BAD_CNF = {
    "no header": ("1 2 0\n", ":1:"),
    "short header": ("p cnf 3\n1 2 0\n", ":1:"),
    "out of range": ("p cnf 2 1\n1 5 0\n", ":2:"),
    "missing terminator": ("p cnf 2 1\n1 2\n", "not terminated"),
    "non-numeric": ("p cnf 2 1\n1 x 0\n", "'x'"),
    "count": ("p cnf 2 3\n1 2 0\n", "declares 3"),
}


@pytest.mark.parametrize("name", sorted(BAD_CNF))
def test_bad_cnf_leaves_nothing(tmp_path: Path, capsys, name: str) -> None:  # type: ignore[no-untyped-def]
    text, needle = BAD_CNF[name]
    f = tmp_path / "bad.cnf"
    f.write_text(text)
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "reduce", "sat", str(f), "-o", str(out_dir))
    assert_one_line_error(code, err, "bad.cnf", needle)
    assert not out_dir.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.cnf"]


def test_missing_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(
        capsys, "reduce", "sat", str(tmp_path / "nope.cnf"), "-o", str(tmp_path / "o")
    )
    assert_one_line_error(code, err, "nope.cnf")
    code, _, err = run(capsys, "solve", str(tmp_path / "nodir"))
    assert_one_line_error(code, err, "nodir")
    code, _, err = run(capsys, "info", str(tmp_path))
    assert_one_line_error(code, err, "problem.json")


def _instance(tmp_path: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    inst = tmp_path / "inst"
    assert run(capsys, "reduce", "sat", str(DEMO / "demo-sat.cnf"), "-o", str(inst))[0] == 0
    return inst


def test_corrupt_onnx(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = _instance(tmp_path, capsys)
    (inst / "network.onnx").write_bytes(b"\x00garbage")
    code, _, err = run(capsys, "solve", str(inst))
    assert_one_line_error(code, err, "network.onnx")
    onnx = tmp_path / "junk.onnx"
    onnx.write_bytes(b"not an onnx model at all")
    code, _, err = run(
        capsys,
        "new",
        "--network",
        str(onnx),
        "--target",
        str(onnx),
        "--domain",
        "sign",
        "-o",
        str(tmp_path / "o"),
    )
    assert_one_line_error(code, err, "junk.onnx")
    assert not (tmp_path / "o").exists()


def test_problem_json_disagrees_with_network(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = _instance(tmp_path, capsys)
    pj = inst / "problem.json"
    doc = json.loads(pj.read_text())
    doc["target"] = [0, 0]
    pj.write_text(json.dumps(doc))
    code, _, err = run(capsys, "info", str(inst))
    assert_one_line_error(code, err, "problem.json", "target has 2 entries", "1 outputs")
    doc["target"] = [0]
    doc["network"]["inputs"] = 7
    pj.write_text(json.dumps(doc))
    code, _, err = run(capsys, "info", str(inst))
    assert_one_line_error(code, err, "problem.json", "inputs")
    doc["network"]["inputs"] = 20
    doc["norm"] = 0.5
    pj.write_text(json.dumps(doc))
    code, _, err = run(capsys, "info", str(inst))
    assert_one_line_error(code, err, "problem.json", "p must be >= 1")
    doc["norm"] = "inf"
    doc["threshold"] = -1
    pj.write_text(json.dumps(doc))
    code, _, err = run(capsys, "info", str(inst))
    assert_one_line_error(code, err, "problem.json", "threshold")
    pj.write_text("{ not json")
    code, _, err = run(capsys, "info", str(inst))
    assert_one_line_error(code, err, "problem.json", "invalid JSON")


def test_bad_new_arguments(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)])
    onnx = tmp_path / "g.onnx"
    export_onnx(net, onnx)
    t = tmp_path / "t.json"
    t.write_text("[0, 0]")
    base = ["new", "--network", str(onnx), "--target", str(t), "-o", str(tmp_path / "o")]
    cases = [
        (["--domain", "real", "--norm", "0.5"], "p must be >= 1"),
        (["--domain", "real", "--threshold", "-1"], "threshold"),
        (["--domain", "real", "--threshold", "nan"], "threshold"),
        (["--domain", "box"], "--lower"),
        (["--domain", "real", "--threshold", "0", "--relation", "<"], "never hold"),
        (["--domain", "box", "--lower", "1,2,3", "--upper", "1"], "3 entries"),
    ]
    for extra, needle in cases:
        code, _, err = run(capsys, *base, *extra)
        assert_one_line_error(code, err, needle)
        assert not (tmp_path / "o").exists()
    t.write_text("[0, 0, 0]")
    code, _, err = run(capsys, *base, "--domain", "real")
    assert_one_line_error(code, err, "t.json", "3 entries", "2 outputs")
    t.write_text('[0, "abc"]')
    code, _, err = run(capsys, *base, "--domain", "real")
    assert_one_line_error(code, err, "t.json")
    t.write_text("[0, NaN]")
    code, _, err = run(capsys, *base, "--domain", "real")
    assert_one_line_error(code, err, "t.json")


def test_bad_witness_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = _instance(tmp_path, capsys)
    w = tmp_path / "w.json"
    for text, needle in [
        ("[1, 2]", '"z"'),
        ('{"z": null, "status": "yes"}', "status is 'yes'"),  # a 'no': tests/test_cli_edges.py
        ('{"z": [1, 1]}', "2 entries"),
        ('{"z": [1, "q"]}', "z[1]"),
        ("oops", "invalid JSON"),
    ]:
        w.write_text(text)
        for cmd in ("check", "extract"):
            code, _, err = run(capsys, cmd, str(inst), str(w))
            assert_one_line_error(code, err, "w.json", needle)


def test_usage_errors_are_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["reduce", "sat"])
    assert exc.value.code == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "solve", "x", "--time-limit", "-3")
    assert_one_line_error(code, err, "--time-limit")


def test_console_script_and_demo(tmp_path: Path) -> None:
    exe = shutil.which("geninv")
    cmd = [exe] if exe else [sys.executable, "-m", "geninv.cli"]
    proc = subprocess.run([*cmd, "info", str(tmp_path / "missing")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [*cmd, "demo", "--workdir", str(tmp_path / "demo")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all answers as expected" in proc.stdout
    for png in ("sensing.png", "inpainting.png"):  # the two grids beside the table
        assert (tmp_path / "demo" / png).stat().st_size > 1000


def test_cnf_reexported_unchanged() -> None:
    cnf = parse_cnf("p cnf 3 2\n1 -2 0\n2 3 0\n")
    assert parse_cnf(cnf.to_dimacs()) == cnf


def test_solve_backend_options(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = tmp_path / "i"
    assert run(capsys, "reduce", "sat", str(DEMO / "demo-unsat.cnf"), "-o", str(inst))[0] == 0
    code, out, _ = run(
        capsys,
        "solve",
        str(inst),
        "--method",
        "enumerate",
        "--workers",
        "2",
        "--option",
        "shards=5",
        "--json",
    )
    sol = json.loads(out)
    assert code == 0 and sol["status"] == "no"
    shards = sol["proof"]["shards"]
    assert sum(s["points"] for s in shards) == 2**14  # small problems run as one shard
    code, out, _ = run(capsys, "solve", str(inst), "--method", "enumerate", "--optimize", "--json")
    sol = json.loads(out)
    assert sol["status"] == "no" and sol["stats"]["min_distance"] >= 1
    code, _, err = run(capsys, "solve", str(inst), "--method", "enumerate", "--option", "bogus=1")
    assert_one_line_error(code, err, "does not take these options")
    # auto passes options to its first candidate that takes them (issue 16)
    code, out, _ = run(capsys, "solve", str(inst), "--option", "mode=optimize", "--json")
    sol = json.loads(out)
    assert code == 0 and sol["status"] == "no" and sol["stats"]["mode"] == "optimize"
    code, _, err = run(capsys, "solve", str(inst), "--option", "bogus=1")
    assert_one_line_error(code, err, "takes bogus", "name one with --method")
    code, _, err = run(capsys, "solve", str(inst), "--method", "enumerate", "--option", "novalue")
    assert_one_line_error(code, err, "KEY=VALUE")


def test_solve_with_local_dask_scheduler(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    inst = tmp_path / "i"
    assert run(capsys, "reduce", "sat", str(DEMO / "demo-sat.cnf"), "-o", str(inst))[0] == 0
    code, out, _ = run(
        capsys,
        "solve",
        str(inst),
        "--method",
        "enumerate",
        "--scheduler",
        "local",
        "--option",
        'dask_options={"processes": false, "n_workers": 1, "threads_per_worker": 2}',
        "--json",
    )
    sol = json.loads(out)
    assert code == 0 and sol["status"] == "yes" and sol["check"]["meets_threshold"]


def test_sense_bundled_digits(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "grid.png"
    inst = tmp_path / "cs"
    code, out, err = run(
        capsys,
        "sense",
        "--digits",
        "3",
        "--measurements",
        "20",
        "--png",
        str(png),
        "-o",
        str(inst),
    )
    assert code == 0, err
    assert png.stat().st_size > 1000 and (inst / "problem.json").is_file()
    mean = [ln for ln in out.splitlines() if ln.startswith("mean per-pixel error")]
    ratio = float(mean[0].rsplit("(ratio ", 1)[1].split("x")[0])
    assert ratio > 2.0  # the generator prior beats pixel-basis Lasso at m = 20
    problem = load_instance(inst)
    assert problem.network.n_outputs == 20 and problem.source.parameters["measurements"] == 20


def test_sense_bad_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "sense", "--digits", "2")
    assert_one_line_error(code, err, "--measurements")
    bad = tmp_path / "A.npy"
    np.save(bad, np.ones((5, 7)))
    code, _, err = run(capsys, "sense", "--digits", "1", "--matrix", str(bad))
    assert_one_line_error(code, err, "A.npy", "64 columns")
    code, _, err = run(capsys, "sense", "--network", str(tmp_path / "g.pth"), "--y", str(bad))
    assert_one_line_error(code, err, "--arch")
