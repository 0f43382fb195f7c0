"""Atomic, conservative writes (issue 15, requirement 2): every output path kind, with
and without --force, and writes that fail midway."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from geninv.cli import main
from geninv.errors import OutputExistsError
from geninv.io import atomic
from geninv.io.instance import load_instance, save_instance

DEMO = Path(__file__).resolve().parents[1] / "src" / "geninv" / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def no_temp_names(d: Path) -> None:
    names = [n for n in os.listdir(d) if n.startswith(".")]
    assert names == [], names


@pytest.fixture()
def inst(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "inst"
    code, _, err = run(
        capsys, "reduce", "sat", str(DEMO / "demo-sat.cnf"), "-o", str(out), "--expected", "yes"
    )
    assert code == 0, err
    return out


def one_error(code: int, err: str, *needles: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert ".tmp" not in lines[0] and ".old" not in lines[0], lines[0]  # the user's path only
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_solve_output_kinds(tmp_path: Path, inst: Path, capsys: pytest.CaptureFixture[str]) -> None:
    solve = ["solve", str(inst), "--method", "enumerate", "--json", "-o"]
    # a new file: written whole
    sol = tmp_path / "sol.json"
    code, _, err = run(capsys, *solve, str(sol))
    assert code == 0, err
    assert json.loads(sol.read_text())["status"] == "yes"
    # an existing regular file: refused without --force, replaced with it
    sol.write_text("keep")
    one_error(*run(capsys, *solve, str(sol))[::2], str(sol), "already exists", "--force")
    assert sol.read_text() == "keep"
    assert run(capsys, *solve, str(sol), "--force")[0] == 0
    assert json.loads(sol.read_text())["status"] == "yes"
    # a symlink: refused with and without --force; neither link nor target touched
    target = tmp_path / "target.txt"
    target.write_text("target")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for extra in ([], ["--force"]):
        one_error(*run(capsys, *solve, str(link), *extra)[::2], str(link), "symbolic link")
        assert link.is_symlink() and target.read_text() == "target"
    # the instance's own problem.json: refused even with --force
    pj = inst / "problem.json"
    before = pj.read_bytes()
    for extra in ([], ["--force"]):
        one_error(*run(capsys, *solve, str(pj), *extra)[::2], str(pj), "reads")
        assert pj.read_bytes() == before
    assert load_instance(inst).n > 0  # still a readable instance
    # an existing directory: refused with and without --force, nothing left beside it
    d = tmp_path / "adir"
    d.mkdir()
    for extra in ([], ["--force"]):
        one_error(*run(capsys, *solve, str(d), *extra)[::2], str(d))
        assert d.is_dir() and listing(d) == []
    no_temp_names(tmp_path)


def test_device_is_never_replaced(inst: Path, capsys: pytest.CaptureFixture[str]) -> None:
    st = os.stat("/dev/null")
    for extra in ([], ["--force"]):
        code, _, err = run(
            capsys, "solve", str(inst), "--method", "enumerate", "-o", "/dev/null", *extra
        )
        one_error(code, err, "/dev/null")
        after = os.stat("/dev/null")
        assert stat.S_ISCHR(after.st_mode) and after.st_ino == st.st_ino
    assert not [n for n in os.listdir("/dev") if n.startswith(".null.")]


def test_proof_onto_directory_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = tmp_path / "u"
    code, _, err = run(
        capsys, "reduce", "sat", str(DEMO / "demo-unsat.cnf"), "-o", str(inst), "--expected", "no"
    )
    assert code == 0, err
    pdir = tmp_path / "proofdir"
    pdir.mkdir()
    for extra in ([], ["--force"]):
        code, _, err = run(
            capsys, "solve", str(inst), "--method", "sat", "--proof", str(pdir), *extra
        )
        one_error(code, err, str(pdir))
    assert listing(tmp_path) == ["proofdir", "u"]
    # a proof to a new path: both files written
    proof = tmp_path / "p.drup"
    code, _, err = run(capsys, "solve", str(inst), "--method", "sat", "--proof", str(proof))
    assert code == 0, err
    assert proof.is_file() and Path(str(proof) + ".cnf").is_file()
    no_temp_names(tmp_path)


def test_reduce_force_rules(tmp_path: Path, inst: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cnf = str(DEMO / "demo-sat.cnf")
    # a directory geninv wrote: replaced with --force only
    one_error(*run(capsys, "reduce", "sat", cnf, "-o", str(inst))[::2], "already exists")
    assert run(capsys, "reduce", "sat", cnf, "-o", str(inst), "--force")[0] == 0
    assert load_instance(inst).n > 0
    # a foreign directory or a regular file: refused even with --force, untouched
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_text("meow")
    plain = tmp_path / "notes.txt"
    plain.write_text("notes")
    for path in (foreign, plain):
        one_error(*run(capsys, "reduce", "sat", cnf, "-o", str(path), "--force")[::2], str(path))
    assert (foreign / "cat.jpg").read_text() == "meow" and plain.read_text() == "notes"
    # lift onto (or into) the instance it reads: refused
    for out in (inst, inst / "sub"):
        code, _, err = run(capsys, "lift", str(inst), "-o", str(out), "--force")
        one_error(code, err, "reads")
    no_temp_names(tmp_path)


def test_failed_writes_leave_nothing(tmp_path: Path) -> None:
    # a file write that fails midway: no temp, old content intact
    f = tmp_path / "f.txt"
    f.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_file(f, force=True) as fh:
        fh.write("half")
        raise RuntimeError("disk full")
    assert f.read_text() == "old" and listing(tmp_path) == ["f.txt"]
    # a directory write that fails midway: no temp directory, no target
    with pytest.raises(RuntimeError), atomic.atomic_dir(tmp_path / "d") as d:
        (d / "big").write_bytes(b"x" * 1000)
        raise RuntimeError("killed")
    assert listing(tmp_path) == ["f.txt"]
    # save_instance whose source copy fails: nothing written
    from geninv.io.dimacs import read_cnf
    from geninv.reductions.sat import SatReduction

    problem, _ = SatReduction("sign").apply(read_cnf(DEMO / "demo-sat.cnf"))
    with pytest.raises(OSError):
        save_instance(
            problem, tmp_path / "i", source_file=tmp_path / "missing.cnf", source_copy_name="x"
        )
    assert listing(tmp_path) == ["f.txt"]
    assert atomic.live_temps() == []
    # a parent that is a file: one error naming the user's path
    with pytest.raises(atomic.OutputError, match=r"f\.txt/sub"):
        atomic.write_text(tmp_path / "f.txt" / "sub", "x")
    with pytest.raises(OutputExistsError):
        atomic.write_text(f, "new")


def test_live_temps_are_removed(tmp_path: Path) -> None:
    """What the CLI does on SIGINT / SIGTERM: every registered temp path goes."""
    seen: list[tuple[str, str]] = []
    atomic.HOOKS.append(lambda op, p: seen.append((op, p)))
    try:
        with pytest.raises(KeyboardInterrupt), atomic.atomic_dir(tmp_path / "out") as d:
            (d / "a").write_text("a")
            atomic.remove_live_temps()  # as the signal handler would
            assert not d.exists()
            raise KeyboardInterrupt
    finally:
        atomic.HOOKS.pop()
    assert listing(tmp_path) == []
    assert [op for op, _ in seen][:1] == ["+"] and seen[-1][0] == "-"


def test_geninv_dir_recognised(tmp_path: Path, inst: Path) -> None:
    assert atomic.is_geninv_dir(inst)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "problem.json").write_text('{"format": "other"}')
    assert not atomic.is_geninv_dir(tmp_path / "x")


def test_replace_that_fails_leaves_old_and_nothing_else(
    tmp_path: Path, inst: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force onto a directory that cannot be moved aside: the old one stays, no
    ``.X.old.*`` or ``.X.*.tmp`` is left, and the message names the user's path."""
    before = (inst / "problem.json").read_bytes()
    real_rename = os.rename

    def refuse(src: object, dst: object) -> None:
        if str(src) == str(inst):
            raise PermissionError(13, "Permission denied", str(src))
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "rename", refuse)
    problem = load_instance(inst)
    with pytest.raises(atomic.OutputError) as err:
        save_instance(problem, inst, force=True)
    assert str(err.value).startswith(str(inst)) and ".tmp" not in str(err.value)
    assert (inst / "problem.json").read_bytes() == before
    no_temp_names(tmp_path)
    # the second rename failing puts the old directory back
    calls: list[str] = []

    def second_fails(src: object, dst: object) -> None:
        calls.append(str(src))
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(src))
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "rename", second_fails)
    with pytest.raises(atomic.OutputError, match="No space left"):
        save_instance(problem, inst, force=True)
    assert (inst / "problem.json").read_bytes() == before
    no_temp_names(tmp_path)
