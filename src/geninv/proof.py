"""What a *no* rests on: :class:`Proof`, the typed form of ``Solution.proof``, and its check.

A backend that answers *no* attaches a proof: a JSON object whose ``"kind"`` names
the argument and whose ``"basis"`` says what it rests on --

* :data:`BASIS_EXACT`: an argument in exact or rigorously error-bounded arithmetic
  (exhaustive enumeration with its float error margin, the corner presolve's exact
  ranges);
* :data:`BASIS_CHECKED`: a certificate geninv checked itself in exact arithmetic (a
  DRUP refutation of the CNF, :mod:`geninv.rup`; a branch-and-bound tree with
  multipliers, :mod:`geninv.proofcheck`);
* :data:`BASIS_FLOAT`: a floating-point solver's word (gated by the driver, and
  marked :data:`TRUSTED` when accepted with ``--trust-solver``).

``Solution.proof`` stays a plain dict (so answer files keep their form);
:meth:`Proof.to_dict` and :meth:`Proof.from_dict` convert exactly, key order
included.  :meth:`Proof.check` runs the independent checker of the proof's kind
again, from the files the proof names, and says how far the proof could be
re-checked (:class:`ProofCheck`); a proof that fails raises
:class:`geninv.proofrows.ProofRejected`.

Like the checkers it calls, this module imports nothing of :mod:`geninv.solvers`:
the producers import their vocabulary (the bases, the kinds) from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geninv.errors import ValidationError
from geninv.proofrows import MalformedProof, ProofRejected

if TYPE_CHECKING:
    from geninv.problem import InversionProblem

#: What a ``no`` can rest on (``proof["basis"]``).
BASIS_EXACT = "exact"
BASIS_CHECKED = "checked certificate"
BASIS_FLOAT = "floating-point solver"
BASES: tuple[str, ...] = (BASIS_EXACT, BASIS_CHECKED, BASIS_FLOAT)
#: ``proof["trusted"]`` of a floating-point ``no`` accepted with ``trust_solver``.
TRUSTED = "not checked: accepted because of --trust-solver"

#: The kinds :meth:`Proof.check` knows a checker for (the producers use these names).
KIND_SAT = "SAT solver: unsatisfiable CNF"
KIND_BAB = "branch and bound (checked)"
KIND_ENUMERATION = "exhaustive enumeration"
KIND_CORNER_RANGE = "corner presolve: target out of range"
KIND_CORNER_BINARY = "corner presolve + binary proof"
KIND_NEAR_BINARY = "near-corner presolve + binary proof"

#: How far :meth:`Proof.check` re-checked a proof: ``"checked"``, the certificate
#: passed its independent exact checker; ``"consistent"``, what the proof states was
#: checked against the problem, but the argument itself is not repeated (the
#: enumeration is not run again); ``"unchecked"``, there is nothing geninv can check
#: (a floating-point solver's word, or no certificate file was written).
Verdict = Literal["checked", "consistent", "unchecked"]


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of :meth:`Proof.check` for a proof that was not rejected."""

    verdict: Verdict
    reason: str

    @property
    def checked(self) -> bool:
        """Whether the certificate itself passed an independent exact check."""
        return self.verdict == "checked"


class Proof(Mapping[str, Any]):
    """A *no*'s proof: its ``kind`` and, in order, the fields after it (``basis``,
    the summary the backend reports, the certificate file it wrote).

    ``Proof(kind, basis=..., **fields)`` puts ``basis`` (when given) right after
    ``kind``, then ``fields`` in order; fields set later are appended, as in the
    dicts backends used to build by hand.  It reads like the dict it stands for
    (``proof["nodes"]``, ``proof.get("file")``).
    """

    __slots__ = ("_fields", "kind")

    def __init__(self, kind: str, *, basis: str | None = None, **fields: Any) -> None:
        if not isinstance(kind, str) or not kind:
            raise ValidationError(f"a proof's kind must be a non-empty string, not {kind!r}")
        self.kind = kind
        self._fields: dict[str, Any] = {}
        if basis is not None:
            self.basis = basis
        for key, value in fields.items():
            self[key] = value

    # ------------------------------------------------------------------ fields
    @property
    def basis(self) -> str | None:
        """What the proof rests on (one of :data:`BASES`), None if the backend did not say."""
        b = self._fields.get("basis")
        return b if isinstance(b, str) else None

    @basis.setter
    def basis(self, value: str) -> None:
        if value not in BASES:
            raise ValidationError(f"a proof's basis is one of {', '.join(BASES)}, not {value!r}")
        self._fields["basis"] = value

    @property
    def file(self) -> str | None:
        """The certificate file the proof names (``"proof_file"`` of the SAT backend,
        ``"file"`` of branch and bound), None if none was written."""
        f = self._fields.get("proof_file") or self._fields.get("file")
        return f if isinstance(f, str) else None

    def __getitem__(self, key: str) -> Any:
        return self.kind if key == "kind" else self._fields[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "kind":
            raise ValidationError("a proof's kind is set when it is made")
        if key == "basis":
            self.basis = value
        else:
            self._fields[key] = value

    def __iter__(self) -> Iterator[str]:
        yield "kind"
        yield from self._fields

    def __len__(self) -> int:
        return 1 + len(self._fields)

    def __repr__(self) -> str:
        return f"Proof({self.to_dict()!r})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``Solution.proof`` holds: ``kind`` first, then the fields in order."""
        return {"kind": self.kind, **self._fields}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Proof:
        """The proof a ``Solution.proof`` dict (or an answer file's ``"proof"``) states.

        Exact inverse of :meth:`to_dict`; a ``basis`` outside :data:`BASES` or a
        missing ``kind`` is a :class:`~geninv.errors.ValidationError`."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("kind"), str):
            raise ValidationError('a proof is a JSON object with a "kind" string')
        out = cls(doc["kind"])
        for key, value in doc.items():
            if key != "kind":
                out[key] = value
        return out

    # ------------------------------------------------------------------ checking
    def check(
        self, problem: InversionProblem | None, directory: str | Path | None = None
    ) -> ProofCheck:
        """Check this proof of *no* for ``problem`` again, with the independent checker
        of its kind; files the proof names are read relative to ``directory``
        (default: the current directory), as they were written.

        * ``SAT solver: unsatisfiable CNF``: the DRUP proof file must refute its CNF
          file (:func:`geninv.rup.check_drup_files`);
        * ``branch and bound (checked)``: the proof file must pass
          :func:`geninv.proofcheck.check_certificate` on ``problem``, and its node,
          leaf and multiplier counts must be the ones the proof states;
        * ``exhaustive enumeration``: the shards must tile all ``2^n`` corners of a
          binary or sign domain and the float error margin must be a non-negative
          number (the screening itself is not repeated: ``"consistent"``);
        * ``corner presolve: target out of range``: the target must be the problem's
          and outside the stated exact range (``"consistent"``);
        * ``corner presolve + binary proof`` (and ``near-corner ...``): the corner
          values must have ``n`` entries, and the binary problem's proof is checked
          in turn (its problem is not stored, so only its files can be);
        * anything else (a floating-point solver's word) is ``"unchecked"``.

        Raises :class:`~geninv.proofrows.ProofRejected` when the proof fails,
        :class:`~geninv.proofrows.MalformedProof` (a ParseError) when a file it names
        cannot be read.
        """
        base = Path(directory) if directory is not None else None
        if self.kind == KIND_SAT:
            return self._check_drup(base)
        if self.kind == KIND_BAB:
            return self._check_bab(problem, base)
        if self.kind == KIND_ENUMERATION:
            return self._check_enumeration(problem)
        if self.kind == KIND_CORNER_RANGE:
            return self._check_corner_range(problem)
        if self.kind in (KIND_CORNER_BINARY, KIND_NEAR_BINARY):
            return self._check_corner_binary(problem, base)
        if self.basis == BASIS_FLOAT:
            return ProofCheck("unchecked", "it rests on a floating-point solver's word")
        return ProofCheck("unchecked", f"geninv has no independent checker for {self.kind!r}")

    def _path(self, name: str, base: Path | None) -> Path:
        p = Path(name)
        return p if base is None or p.is_absolute() else base / p

    def _check_drup(self, base: Path | None) -> ProofCheck:
        from geninv.rup import check_drup_files

        proof_file, cnf_file = self.get("proof_file"), self.get("cnf_file")
        if not isinstance(proof_file, str) or not isinstance(cnf_file, str):
            return ProofCheck("unchecked", "no DRUP proof file was written (solve with --proof)")
        res = check_drup_files(self._path(cnf_file, base), self._path(proof_file, base))
        if not res.ok:
            raise ProofRejected(None, f"the DRUP proof {proof_file} fails: {res.reason}")
        return ProofCheck("checked", f"the DRUP proof refutes its CNF ({res.reason})")

    def _check_bab(self, problem: InversionProblem | None, base: Path | None) -> ProofCheck:
        from geninv.proofcheck import check_certificate, read_proof

        name = self.get("file")
        if not isinstance(name, str):
            return ProofCheck("unchecked", "no branch-and-bound proof file was written")
        if problem is None:
            return ProofCheck("unchecked", "the problem it refutes is not given")
        path = self._path(name, base)
        try:
            report = check_certificate(problem, read_proof(path))
        except MalformedProof as exc:
            raise MalformedProof(exc.reason, str(path)) from None
        for key in ("nodes", "leaves", "multipliers", "root"):
            if key in self and self[key] != getattr(report, key):
                raise ProofRejected(
                    None,
                    f"the proof states {key} = {self[key]!r}, "
                    f"its file has {getattr(report, key)!r}",
                )
        return ProofCheck(
            "checked", f"the proof file passed the exact checker ({report.nodes} nodes)"
        )

    def _check_enumeration(self, problem: InversionProblem | None) -> ProofCheck:
        if problem is None:
            return ProofCheck("unchecked", "the problem it refutes is not given")
        if problem.domain.kind not in ("binary", "sign"):
            raise ProofRejected(
                None, f"enumeration covers binary or sign latents, not {problem.domain.kind}"
            )
        total = 2**problem.n
        if self.get("points") != total:
            raise ProofRejected(
                None, f"the enumeration states {self.get('points')!r} points, not 2^{problem.n}"
            )
        margin = self.get("float_error_margin")
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not margin >= 0:
            raise ProofRejected(None, f"the float error margin {margin!r} is not a number >= 0")
        if not math.isfinite(margin):
            raise ProofRejected(None, "the float error margin is not finite")
        pos = 0
        for row in self.get("shards") or []:
            if not isinstance(row, dict) or row.get("first") != pos:
                raise ProofRejected(None, f"the shards do not continue the tiling at {pos}")
            stop = row.get("stop")
            if not isinstance(stop, int) or stop <= pos or row.get("points") != stop - pos:
                raise ProofRejected(None, f"the shard at {pos} does not count its points")
            pos = stop
        if pos != total:
            raise ProofRejected(None, f"the shards cover {pos} of the {total} corners")
        return ProofCheck(
            "consistent",
            f"the shards tile all 2^{problem.n} corners with a float error margin of "
            f"{margin!r}; the screening itself is not repeated",
        )

    def _check_corner_range(self, problem: InversionProblem | None) -> ProofCheck:
        if problem is None:
            return ProofCheck("unchecked", "the problem it refutes is not given")
        o = self.get("output")
        if isinstance(o, bool) or not isinstance(o, int) or not 0 <= o < len(problem.target):
            raise ProofRejected(None, f"output {o!r} is not an output of the network")
        try:
            target = Fraction(str(self.get("target")))
            lo, hi = (Fraction(str(v)) for v in self.get("range", []))
        except (ValueError, ZeroDivisionError):
            raise ProofRejected(None, "the target and range are not exact numbers") from None
        if target != problem.target[o]:
            raise ProofRejected(
                None, f"the target of output {o} is {problem.target[o]}, not {target}"
            )
        relu_zero = problem.network.layers[-1].activation == "relu" and target == 0
        if (relu_zero and not lo > 0) or (not relu_zero and lo <= target <= hi):
            raise ProofRejected(
                None, f"the range [{lo}, {hi}] does not rule out the target {target}"
            )
        return ProofCheck(
            "consistent",
            f"output {o}'s target {target} is outside the stated exact range [{lo}, {hi}]; "
            "the range itself is not recomputed",
        )

    def _check_corner_binary(
        self, problem: InversionProblem | None, base: Path | None
    ) -> ProofCheck:
        if problem is not None:
            for key in ("low", "high"):
                vals = self.get(key)
                if not isinstance(vals, list) or len(vals) != problem.n:
                    raise ProofRejected(None, f"{key!r} must list {problem.n} corner values")
        sub = self.get("binary_proof")
        if not isinstance(sub, Mapping):
            raise ProofRejected(None, "the binary problem's proof is missing")
        inner = Proof.from_dict(sub).check(None, base)
        verdict: Verdict = "consistent" if inner.verdict == "checked" else "unchecked"
        return ProofCheck(verdict, f"the binary problem's proof: {inner.reason}")
