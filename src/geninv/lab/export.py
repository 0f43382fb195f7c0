"""A benchmark release from a results store (issue 18, item 6): ``geninv lab export``.

A *coordinate* of the store is ``(family, params, n, seed)``: every solver row of it
solved the same instance, which :func:`geninv.lab.families.build_instance` rebuilds
from the row.  :func:`ground_truth` turns a coordinate's rows into one answer and what
it rests on (its *basis*):

* ``source``: the source problem's own solver (CaDiCaL on the CNF -- a model checked
  clause by clause for *sat*, the solver's word for *unsat*; networkx's exact clique
  search; geninv's exact ``{0,1}^n`` CVP search), and the generator's own exact decision
  (the planted assignment, the exact CVP minimum, the clique number / least cover by
  networkx, a random network's certified least distance);
* ``certified``: a geninv backend's certified answer (a *yes* whose witness was
  re-checked exactly, a *no* with the proof it names and geninv checked);
* peers (Marabou, OMLT, gurobi-ml: :mod:`geninv.lab.peers`) are *never* ground truth;
  a peer that contradicts it is listed in the manifest.

Definite answers that disagree make a *conflict*: the coordinate is left out and
named in the manifest (and on stderr).  Coordinates with no definite answer are left
out too, unless ``include_unknown`` (then their ground truth is ``unknown``).

:func:`export_release` writes, atomically (:func:`geninv.io.atomic.atomic_dir`; an
existing folder is replaced only with ``force``), the VNN-COMP layout through
:func:`geninv.io.vnncomp.export_vnncomp` -- ``onnx/``, ``vnnlib/``, ``instances.csv``
(``onnx path,vnnlib path,timeout``) -- and beside it ``ground_truth.csv``,
``geninv/NAME/`` (the geninv instance folder, exact parameters included),
``source/NAME.cnf`` / ``.col`` / ``.cvp.json`` (the source problem), ``witness/NAME.json``
(an exactly re-checked inverting latent of each *sat* instance, when one was found),
``manifest.json`` (geninv version, specs, each instance's seed and parameters, what was
left out and why) and ``README.md`` (how to score).

VNN-LIB convention (the same as ``geninv export-vnncomp``, :mod:`geninv.io.vnncomp`):
the property states the region searched for a counterexample, here the inverting
latents; so ``sat`` = an inverting latent exists = geninv's *yes*, ``unsat`` = *no*.
Only instances VNN-LIB can state are released (real or box latents, and ``delta = 0``
or ``p = inf``); the others (sign / binary latents: ``sat-thm1``, ``cvp-thm3``,
``clique-thm5``, ``half-clique``, ``vertex-cover``; finite ``p`` with ``delta > 0``:
``clique-thm6``) are left out with that reason.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geninv.errors import ValidationError

#: The source problem's solvers (their rows are ground truth of basis "source").
SOURCE_NAMES = ("cadical", "networkx", "bruteforce")
#: geninv answer -> VNN-COMP result word.
VNNCOMP_WORD = {"yes": "sat", "no": "unsat", "unknown": "unknown"}
GROUND_TRUTH_FILE = "ground_truth.csv"
GROUND_TRUTH_COLUMNS = (
    "instance",
    "onnx",
    "vnnlib",
    "answer",
    "geninv_answer",
    "basis",
    "witness",
    "source",
    "family",
    "n",
    "seed",
    "params",
)


@dataclass
class Truth:
    """A coordinate's ground truth: ``answer`` (yes / no / unknown), the ``basis``
    lines it rests on, a ``conflict`` (definite answers that disagree) and the peer
    rows that contradict it."""

    answer: str
    basis: list[str] = field(default_factory=list)
    conflict: str | None = None
    peer_disagreements: list[str] = field(default_factory=list)


Coord = tuple[str, str, int, int]


def coordinate(row: dict[str, Any]) -> Coord:
    """``(family, params JSON, n, seed)`` of a row: what rebuilds its instance."""
    return (str(row["family"]), str(row["params"]), int(row["n"]), int(row["seed"]))


def _source_basis(row: dict[str, Any]) -> str:
    name = {"cadical": "CaDiCaL", "networkx": "networkx", "bruteforce": "brute force"}
    what = row.get("proof_basis") or row.get("proof_kind") or "its word"
    return f"source: {name.get(row['solver'], row['solver'])} ({what})"


def _generator_basis(family: str, expected: str, params: dict[str, Any]) -> str | None:
    """What the generator's own ``expected`` answer rests on (None: not ground truth)."""
    if family in ("sat-thm1", "sat-thm2"):
        return "source: planted assignment (satisfies every clause by construction)"
    if family in ("cvp-thm3", "cvp-thm4"):
        return "source: generator's exact {0,1}^n minimum (geninv.oracles, exact)"
    if family in ("clique-thm5", "clique-thm6", "half-clique"):
        return "source: generator's clique number (networkx exact search)"
    if family in ("vertex-cover", "vertex-cover-lifted"):
        return "source: generator's least cover (networkx exact search)"
    if family == "trained" and expected == "yes" and params.get("target") == "image":
        return "certified: generator's seeded latent z* (exact re-check)"
    if family in ("random-net", "trained") and expected == "no":
        return "certified: generator's certified least-distance bound (checked bab proofs)"
    return None


def ground_truth(rows: Sequence[dict[str, Any]]) -> Truth:
    """The ground truth of one coordinate's rows (see the module docstring)."""
    from geninv.lab.peers import PEERS

    votes: list[tuple[str, str]] = []
    for r in rows:
        ans = r["answer"]
        if ans not in ("yes", "no") or r["solver"] in PEERS:
            continue
        if r["solver"] in SOURCE_NAMES:
            votes.append((ans, _source_basis(r)))
        elif (
            ans == "yes"
            and r.get("proof_kind") == "witness"
            and r.get("proof_basis") == ("exact re-check")
        ):
            votes.append((ans, f"certified: {r['solver']} witness (exact re-check)"))
        elif ans == "no" and r.get("proof_kind"):
            votes.append((ans, f"certified: {r['solver']} {r['proof_kind']}"))
    exp = rows[0].get("expected") if rows else None
    if exp in ("yes", "no"):
        params = json.loads(str(rows[0]["params"]))
        why = _generator_basis(str(rows[0]["family"]), str(exp), params)
        if why is not None:
            votes.append((str(exp), why))
    answers = {a for a, _ in votes}
    basis = sorted({b for _, b in votes})
    if len(answers) > 1:
        return Truth("unknown", basis, conflict="; ".join(f"{a} ({b})" for a, b in votes))
    truth = Truth(answers.pop() if answers else "unknown", basis)
    if truth.answer != "unknown":
        for r in rows:
            if (
                r["solver"] in PEERS
                and r["answer"] in ("yes", "no")
                and r["answer"] != truth.answer
            ):
                truth.peer_disagreements.append(
                    f"{r['solver']} answered {r['answer']}, ground truth {truth.answer}"
                )
    return truth


def peer_summary(groups: dict[Coord, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """Per peer: its rows on the coordinates ``groups`` against their ground truth --
    ``agree``, ``disagree`` (the opposite definite answer), ``unknown`` (time-outs and
    failures), ``skipped`` (not installed, or a question it cannot state) and ``no_truth``
    (a definite answer where the ground truth is unknown)."""
    from geninv.lab.peers import PEERS

    out: dict[str, dict[str, int]] = {}
    for rows in groups.values():
        truth = ground_truth(rows).answer
        for r in rows:
            if r["solver"] not in PEERS:
                continue
            if r.get("proof_kind") == "skipped":
                k = "skipped"
            elif r["answer"] not in ("yes", "no"):
                k = "unknown"
            elif truth == "unknown":
                k = "no_truth"
            else:
                k = "agree" if r["answer"] == truth else "disagree"
            tally = out.setdefault(r["solver"], {})
            tally[k] = tally.get(k, 0) + 1
    return out


def instance_name(c: Coord) -> str:
    """A file-name stem for a coordinate: family, n and the seed in hex."""
    return f"{c[0]}_n{c[2]}_{c[3]:016x}"


@dataclass
class Selection:
    """Which coordinates of a store to release."""

    families: tuple[str, ...] = ()
    solver: str | None = None
    n_max: int | None = None
    limit: int | None = None
    include_unknown: bool = False


def select(rows: Sequence[dict[str, Any]], sel: Selection) -> dict[Coord, list[dict[str, Any]]]:
    """The store's rows grouped by coordinate, filtered by ``sel`` (families, a solver
    that ran on the coordinate, largest ``n``), in order family, n, seed."""
    groups: dict[Coord, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(coordinate(r), []).append(r)
    out: dict[Coord, list[dict[str, Any]]] = {}
    for c in sorted(groups):
        if sel.families and c[0] not in sel.families:
            continue
        if sel.n_max is not None and c[2] > sel.n_max:
            continue
        if sel.solver is not None and not any(r["solver"] == sel.solver for r in groups[c]):
            continue
        out[c] = groups[c]
    return out


def _round_robin(coords: list[Coord], limit: int | None) -> list[Coord]:
    """At most ``limit`` coordinates, taken in turn from each family (a mixed slice)."""
    if limit is None or limit >= len(coords):
        return coords
    by_fam: dict[str, list[Coord]] = {}
    for c in coords:
        by_fam.setdefault(c[0], []).append(c)
    picked: list[Coord] = []
    queues = list(by_fam.values())
    while len(picked) < limit and any(queues):
        for q in queues:
            if q and len(picked) < limit:
                picked.append(q.pop(0))
    return sorted(picked)


def _witness(problem: Any, rows: Sequence[dict[str, Any]], limit: float) -> list[str] | None:
    """An inverting latent re-checked exactly: rerun the geninv backend whose row said
    *yes* (same seed), else ``auto``; None when none is found within ``limit``."""
    from geninv.errors import GeninvError
    from geninv.lab.peers import PEERS
    from geninv.workflows import solve

    tried = [
        r["solver"]
        for r in rows
        if r["answer"] == "yes" and r["solver"] not in (*SOURCE_NAMES, *PEERS)
    ]
    for method in [*dict.fromkeys(tried), "auto"]:
        try:
            sol = solve(problem, method, time_limit=limit, seed=int(rows[0]["seed"]) % 2**31)
        except GeninvError:
            continue
        if sol.status.value == "yes" and sol.z is not None:
            z = list(sol.z)
            if problem.input_box is not None:  # G is constant outside its clamp box
                lo, hi = problem.input_box
                z = [min(max(v, a), b) for v, a, b in zip(z, lo, hi, strict=True)]
            if problem.exact_check(z).meets:
                return [str(v) for v in z]
    return None


def _write_source(inst: Any, family: str, stem: Path) -> str:
    """The source problem beside the instance; its file name relative to the release."""
    if inst.source is None:
        return ""
    if family.startswith("sat-"):
        from geninv.io.dimacs import write_cnf

        path = stem.with_suffix(".cnf")
        write_cnf(inst.source, path)
    elif family.startswith("cvp-"):
        from geninv.io.lattice.cvp_json import write_cvp_json

        path = stem.with_suffix(".cvp.json")
        write_cvp_json(inst.source, path)
    elif hasattr(inst.source, "to_dimacs"):
        path = stem.with_suffix(".col")
        q = ", ".join(f"{k} = {v}" for k, v in sorted(inst.question.items()))
        path.write_text(f"c source question: {q}\n" + inst.source.to_dimacs(), encoding="utf-8")
    else:
        return ""
    return f"source/{path.name}"


@dataclass
class ExportResult:
    """What :func:`export_release` wrote and left out."""

    exported: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    omitted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    peer_disagreements: list[str] = field(default_factory=list)
    approximate: list[str] = field(default_factory=list)
    peers: dict[str, dict[str, int]] = field(default_factory=dict)


def _specs(store: Any) -> list[dict[str, str]]:
    cur = store.db.execute("SELECT spec_hash, name, toml FROM specs ORDER BY added_at")
    return [{"spec_hash": h, "name": n, "toml": t} for h, n, t in cur]


def export_release(
    db: str | Path,
    out: str | Path,
    sel: Selection,
    *,
    timeout: float = 300.0,
    witness_limit: float = 30.0,
    force: bool = False,
) -> ExportResult:
    """Write the release of the coordinates ``sel`` picks from the store ``db`` into
    the folder ``out`` (see the module docstring).  Raises
    :class:`~geninv.errors.ValidationError` when nothing can be released."""
    from geninv.io.atomic import atomic_dir
    from geninv.io.instance import save_instance
    from geninv.io.vnncomp import export_vnncomp
    from geninv.io.vnnlib import vnnlib_expressible
    from geninv.lab.cells import geninv_version
    from geninv.lab.families import build_instance
    from geninv.lab.store import Store

    if not (math.isfinite(timeout) and timeout > 0):
        raise ValidationError(f"--timeout {timeout:g}: expected positive seconds")
    with Store(db, create=False) as store:
        rows = store.rows()
        specs = _specs(store)
    groups = select(rows, sel)
    res = ExportResult(peers=peer_summary(groups))
    ready: list[tuple[Coord, Truth]] = []
    for c, grp in groups.items():
        name = instance_name(c)
        truth = ground_truth(grp)
        res.peer_disagreements += [f"{name}: {d}" for d in truth.peer_disagreements]
        if truth.conflict is not None:
            res.conflicts.append(f"{name}: {truth.conflict}")
            continue
        if truth.answer == "unknown" and not sel.include_unknown:
            res.omitted.append(f"{name}: no definite answer in the store")
            continue
        ready.append((c, truth))
    picked = set(_round_robin([c for c, _ in ready], sel.limit))
    entries: list[dict[str, Any]] = []
    with atomic_dir(Path(out), force=force, protect=[db]) as tmp:
        for sub in ("geninv", "source", "witness"):
            (tmp / sub).mkdir()
        dirs: list[Path] = []
        for c, truth in ready:
            if c not in picked:
                continue
            name = instance_name(c)
            params = json.loads(c[1])
            recorded = json.loads(groups[c][0].get("instance_info") or "{}")
            inst = build_instance(c[0], params, c[2], c[3], radius=recorded.get("radius_exact"))
            if inst.problem is None:
                res.omitted.append(f"{name}: {inst.skipped}")
                continue
            why = vnnlib_expressible(inst.problem)
            if why is not None:
                res.omitted.append(f"{name}: {why}")
                continue
            d = save_instance(inst.problem, tmp / "geninv" / name)
            dirs.append(d)
            src = _write_source(inst, c[0], tmp / "source" / name)
            wit = ""
            if truth.answer == "yes":
                planted = inst.info.get("z_star")  # a trained generator's seeded latent
                if planted is not None and inst.problem.exact_check(planted).meets:
                    z: list[str] | None = [str(v) for v in planted]
                else:
                    z = _witness(inst.problem, groups[c], witness_limit)
                if z is not None:
                    wit = f"witness/{name}.json"
                    doc = {"z": z, "z_float": [float(_frac(v)) for v in z]}
                    (tmp / wit).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            entries.append(
                {
                    "instance": name,
                    "onnx": f"onnx/{name}.onnx",
                    "vnnlib": f"vnnlib/{name}.vnnlib",
                    "answer": VNNCOMP_WORD[truth.answer],
                    "geninv_answer": truth.answer,
                    "basis": "; ".join(truth.basis),
                    "witness": wit,
                    "source": src,
                    "family": c[0],
                    "n": c[2],
                    "seed": c[3],
                    "params": c[1],
                    "spec_hash": sorted({str(r["spec_hash"]) for r in groups[c]}),
                    "info": recorded,
                }
            )
        if not entries:
            raise ValidationError(
                f"{db}: nothing to release from this slice ({len(groups)} coordinate(s) "
                f"selected, {len(res.omitted)} left out, {len(res.conflicts)} in conflict); "
                "widen --family / --n-max, or run the sweep first"
            )
        vnn = tmp / "_vnncomp"
        names, skipped, approx = export_vnncomp(dirs, vnn, timeout=timeout)
        res.omitted += [f"{s} (export-vnncomp)" for s in skipped]
        res.approximate = approx
        for part in ("onnx", "vnnlib", "instances.csv"):
            shutil.move(str(vnn / part), str(tmp / part))
        shutil.rmtree(vnn)
        kept = set(names)
        entries = [e for e in entries if e["instance"] in kept]
        with open(tmp / GROUND_TRUTH_FILE, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(GROUND_TRUTH_COLUMNS), extrasaction="ignore")
            w.writeheader()
            w.writerows(entries)
        for e in entries:
            res.answers[e["answer"]] = res.answers.get(e["answer"], 0) + 1
        res.exported = [e["instance"] for e in entries]
        manifest = {
            "format": "geninv-lab-release",
            "geninv_version": geninv_version(),
            "store": str(db),
            "selection": sel.__dict__,
            "timeout": timeout,
            "convention": "VNN-LIB states the inverting latents; sat = geninv yes, unsat = no",
            "answers": res.answers,
            "instances": entries,
            "omitted": res.omitted,
            "conflicts": res.conflicts,
            "peer_disagreements": res.peer_disagreements,
            "peers": res.peers,
            "onnx_approximates": res.approximate,
            "specs": [s for s in specs if any(s["spec_hash"] in e["spec_hash"] for e in entries)],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(res, timeout), encoding="utf-8")
    return res


def _frac(v: str) -> Any:
    from fractions import Fraction

    return Fraction(v)


def _readme(res: ExportResult, timeout: float) -> str:
    counts = ", ".join(f"{v} {k}" for k, v in sorted(res.answers.items()))
    return f"""# geninv lab benchmark release

{len(res.exported)} instances ({counts}) in the VNN-COMP layout, written by
`geninv lab export` from a geninv lab results store.

* `instances.csv`: `onnx path,vnnlib path,timeout` ({timeout:g} s), as in the VNN-COMP
  benchmark repositories.
* `onnx/NAME.onnx`, `vnnlib/NAME.vnnlib`: the network and the property.  The property
  states the region searched for a counterexample, here the *inverting latents*
  (z in the input box with every output within its bounds): **sat** means an inverting
  latent exists (geninv: yes), **unsat** that none does (geninv: no).
* `ground_truth.csv`: per instance the answer (`sat` / `unsat`{
        " / `unknown`" if "unknown" in res.answers else ""
    }), what it rests on
  (`source:` the source problem's own solver or the generator's exact decision;
  `certified:` geninv's certified answer -- an exactly re-checked witness, or a proof
  geninv checked in exact arithmetic), the witness file, the source problem's file, the
  family, n, the seed and the parameters that rebuild it
  (`geninv.lab.families.build_instance(family, params, n, seed)`).
* `witness/NAME.json`: for sat instances, an inverting latent (`z` exact rationals,
  `z_float` the nearest floats).
* `source/`: each instance's source problem (`.cnf` DIMACS CNF, `.col` DIMACS graph
  with the question in its first comment, `.cvp.json` lattice); random and trained
  networks have none.
* `geninv/NAME/`: the geninv instance folder (`geninv solve geninv/NAME`), with the
  exact parameters when the ONNX floats only approximate them.
* `manifest.json`: geninv version, the specs, each instance's seed and parameters, and
  what was left out and why.

## Scoring

Run your verifier on every row of `instances.csv` within its timeout and compare its
result with `ground_truth.csv`: a result equal to the ground truth is correct, `unknown`
/ timeout is unsolved, and the opposite answer is **wrong** (sat on an unsat instance,
or unsat on a sat one).  A sat result's counterexample can be checked by evaluating
the ONNX model at it and testing the property.  `geninv lab check-release DIR` does
this for geninv and onnxruntime.
{
        ""
        if not res.approximate
        else chr(10)
        + "Note: the ONNX files of "
        + ", ".join(res.approximate)
        + " hold the nearest floats of exact parameters; their .vnnlib says so."
        + chr(10)
    }"""
