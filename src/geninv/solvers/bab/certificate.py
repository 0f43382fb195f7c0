"""The bab proof: a tree of nodes (box, fixed phases, split or leaf multipliers).

JSON layout (``"format": "geninv-bab-proof"``, version 1), every rational as an
integer or a ``"p/q"`` string::

    {"format": "geninv-bab-proof", "version": 1, "n": n, "q": q,
     "problem": {"p": "inf", "threshold": "1/2", "relation": "<=", "domain": "box"},
     "root": "domain box" | "input box",
     "l1_bound": "p/q",                     # integer p >= 2 only
     "cuts": [{"w": ["p/q", ...], "r": "p/q"}, ...],   # integer p >= 2 only
     "nodes": [{"id": 0, "box": [["lo", "hi"], ...], "fixed": [[layer, unit, 0|1], ...],
                "split": {"kind": "input", "coord": i, "at": "p/q"}
                       | {"kind": "relu", "layer": l, "unit": j},
                "children": [id_low, id_high],            # inner node
                "lemmas": [{"layer": l, "unit": j, "side": "lo" | "hi",
                            "y": {row name: "p/q"}}, ...]}  # optional, any node
               | {..., "y": {"L1.3.chord": "p/q", "T0.lo": "p/q", ...}}]}  # leaf

Children of an input split: ``[box with upper_i = at, box with lower_i = at]``;
of a relu split: ``[unit inactive, unit active]``.  A lemma bounds one
pre-activation by multipliers over the rows of earlier layers; it holds on the
node and all its descendants.  A leaf with ``"y": {}`` is
empty by its exact interval bounds alone.  The rows that ``y`` names and what
the checker verifies are in :mod:`geninv.proofcheck`.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

FORMAT = "geninv-bab-proof"
VERSION = 1

Box = list[tuple[Fraction, Fraction]]


def rat(v: Fraction) -> int | str:
    """An exact rational for JSON: an int, or 'p/q'."""
    return v.numerator if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


@dataclass
class ProofNode:
    """One node of the proof tree: its latent ``box`` and ``fixed`` ReLU phases; an inner node
    has its ``split`` and ``children``, a leaf its multipliers ``y`` (exact, by row name);
    ``lemmas`` are bound lemmas its descendants inherit."""

    id: int
    box: Box
    fixed: dict[tuple[int, int], int]
    split: dict[str, Any] | None = None
    children: list[int] | None = None
    y: dict[str, Fraction] | None = None
    #: bound lemmas: (layer, unit, "lo" | "hi", multipliers over earlier layers' rows)
    lemmas: list[tuple[int, int, str, dict[str, Fraction]]] | None = None

    def to_json(self) -> dict[str, Any]:
        """The node as the proof format writes it (rationals as ``'p/q'`` strings)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "box": [[rat(lo), rat(hi)] for lo, hi in self.box],
            "fixed": [[lay, j, ph] for (lay, j), ph in sorted(self.fixed.items())],
        }
        if self.lemmas:
            doc["lemmas"] = [
                {
                    "layer": lay,
                    "unit": j,
                    "side": side.split(".")[-1],
                    **(
                        {"scope": "witness", "round": int(side[1:].split(".")[0])}
                        if side.startswith("w")
                        else {}
                    ),
                    "y": {k: rat(v) for k, v in y.items()},
                }
                for lay, j, side, y in self.lemmas
            ]
        if self.children is not None:
            assert self.split is not None
            sp = dict(self.split)
            if "at" in sp:
                sp["at"] = rat(sp["at"])
            doc["split"] = sp
            doc["children"] = list(self.children)
        else:
            doc["y"] = {k: rat(v) for k, v in sorted((self.y or {}).items())}
        return doc


@dataclass
class Certificate:
    """A bab proof being built: dimensions ``n`` and ``q``, the ``problem`` it is about, the
    ``root`` kind, the l1 bound and cuts (:meth:`globals_doc`) and the nodes by id."""

    n: int
    q: int
    problem: dict[str, Any]
    root: str
    l1_bound: Fraction | None = None
    cuts: list[tuple[list[Fraction], Fraction]] = field(default_factory=list)
    nodes: dict[int, ProofNode] = field(default_factory=dict)

    def globals_doc(self) -> dict[str, Any]:
        """The part of the document the leaf checks need (l1 bound and cuts)."""
        doc: dict[str, Any] = {}
        if self.l1_bound is not None:
            doc["l1_bound"] = rat(self.l1_bound)
        doc["cuts"] = [{"w": [rat(v) for v in w], "r": rat(r)} for w, r in self.cuts]
        return doc

    def to_json(self) -> dict[str, Any]:
        """The whole proof document (format, version, globals and nodes in id order) that
        :func:`geninv.proofcheck.check_certificate` reads."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "n": self.n,
            "q": self.q,
            "problem": self.problem,
            "root": self.root,
            **self.globals_doc(),
            "nodes": [self.nodes[k].to_json() for k in sorted(self.nodes)],
        }

    @property
    def leaves(self) -> int:
        """Number of leaves (nodes without children)."""
        return sum(1 for nd in self.nodes.values() if nd.children is None)

    @property
    def multipliers(self) -> int:
        """Number of multipliers over all leaves."""
        return sum(len(nd.y or {}) for nd in self.nodes.values())


def write_atomic(path: str | Path, doc: dict[str, Any]) -> int:
    """Write ``doc`` as compact JSON to ``path`` via a temporary file (gzip-compressed
    when the name ends in ``.gz``); returns the bytes written."""
    p = Path(path)
    data = (json.dumps(doc, separators=(",", ":")) + "\n").encode("utf-8")
    if p.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(p)
    return len(data)
