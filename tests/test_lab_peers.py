"""Peer verifiers as lab solvers (issue 18, item 4): each installed peer answers small
YES and NO instances (never the opposite of the known answer); an absent peer is a
recorded *skipped* row with the reason, tested by faking its absence."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from geninv.lab import peers
from geninv.lab.cells import Cell, run_cell
from geninv.lab.families import build_instance
from geninv.lab.runner import run_sweep
from geninv.lab.spec import parse_spec
from geninv.lab.store import Store

CVP = {"p": "inf", "entries": 5}
VC = {"edge_p": 0.3, "p": "inf"}
#: (family, params, n, seed): small instances whose answer the generator knows exactly.
CASES = [
    ("cvp-thm4", {**CVP, "offset": 0}, 4, 1),
    ("cvp-thm4", {**CVP, "offset": -1}, 4, 1),
    ("vertex-cover-lifted", {**VC, "q_offset": 0}, 5, 2),
    ("vertex-cover-lifted", {**VC, "q_offset": -1}, 5, 2),
]


@pytest.mark.parametrize("peer", peers.PEERS)
def test_each_peer_answers_or_is_skipped_with_a_note(peer: str) -> None:
    """An installed peer decides the cases (its yes re-checked exactly); an absent one
    gives the skip row -- either way the test checks what this machine has."""
    absent = peers.missing(peer)
    expected_seen = set()
    for family, params, n, seed in CASES:
        inst = build_instance(family, params, n, seed)
        assert inst.problem is not None and inst.expected in ("yes", "no")
        (answer, kind, basis, reason), version = peers.run_peer(peer, inst.problem, 30.0)
        if absent is not None:
            assert (answer, kind) == ("unknown", "skipped") and reason == absent
            assert peers.INSTALL[peer] in reason
            continue
        assert answer in (inst.expected, "unknown"), (family, params, reason)
        assert version.startswith(peers._VERSIONED[peer])
        if answer == "yes":
            assert kind == "witness" and basis == "peer: point re-checked exactly"
        if answer == "no":
            assert basis.startswith("peer: its word")
        expected_seen.add(answer)
    if absent is None:
        assert expected_seen == {"yes", "no"}  # it really decided both kinds


def test_a_peer_refuses_what_vnnlib_cannot_state() -> None:
    inst = build_instance("cvp-thm3", {**CVP, "offset": 0}, 3, 1)  # binary latents
    (answer, kind, _, reason), _ = peers.run_peer("marabou", inst.problem, 5.0)
    assert (answer, kind) == ("unknown", "skipped")
    assert "binary domain" in reason or "not usable" in reason


def _fake_absent(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> Any:
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named {name!r} (faked)")
        return real(name, package)

    monkeypatch.setattr(peers.importlib, "import_module", fake)


@pytest.mark.parametrize("peer", peers.PEERS)
def test_absent_peer_is_a_recorded_skip(
    peer: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_absent(monkeypatch, peers.REQUIRES[peer][0])
    assert peers.missing(peer) is not None
    params = json.dumps({**CVP, "offset": 0}, sort_keys=True)
    row = run_cell(Cell("h", "cvp-thm4", params, 3, 0, 5, peer, 5.0).to_dict())
    assert row["answer"] == "unknown" and row["proof_kind"] == "skipped"
    assert row["reason"].startswith(f"skipped: {peer} needs") and "pip install" in row["reason"]
    assert "not installed" in row["solver_version"]
    # through a sweep: the row is in the store (not dropped), and the sweep succeeds
    spec = parse_spec(
        f'name = "p"\ntime_limit = 5.0\n[[families]]\nfamily = "cvp-thm4"\nsizes = [3]\n'
        f'solvers = ["bruteforce", "{peer}"]\nparams = {{ p = "inf", offset = 0 }}\n'
    )
    res = run_sweep(spec, tmp_path / "s.db", inline=True, progress=False)
    assert res.lost == 0 and not res.disagreements
    with Store(tmp_path / "s.db", create=False) as store:
        rows = {r["solver"]: r for r in store.rows()}
    assert rows[peer]["proof_kind"] == "skipped" and rows["bruteforce"]["answer"] == "yes"


def test_peer_names_are_spec_solvers() -> None:
    spec = parse_spec(
        'name = "p"\ntime_limit = 5.0\n[[families]]\nfamily = "random-net"\nsizes = [2]\n'
        'solvers = ["auto", "marabou", "omlt-highs", "gurobi-ml"]\n'
    )
    assert spec.families[0].solvers[1:] == peers.PEERS
