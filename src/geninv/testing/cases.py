"""A fuzz instance (:class:`Case`): plain Fractions, JSON round trip, and the
:class:`~geninv.problem.InversionProblem` it states."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from geninv.testing.exactref import RefLayer
from geninv.testing.oracles import Question


@dataclass
class Case:
    """One inversion question, independent of geninv's classes.

    ``planted`` is the latent the generator built the target around (the certified
    oracle may use it as a witness); ``tags`` say how the case was drawn (number
    kind, threshold mode, ...) for the tables.
    """

    layers: list[RefLayer]
    target: list[Fraction]
    domain: str
    p: str
    threshold: Fraction
    relation: str
    lower: list[Fraction] | None = None
    upper: list[Fraction] | None = None
    threshold_pow: Fraction | None = None
    planted: list[Fraction] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of latents (columns of the first layer)."""
        return len(self.layers[0][0][0])

    @property
    def q(self) -> int:
        """Number of outputs (length of the target)."""
        return len(self.target)

    def question(self) -> Question:
        """The case as the oracles read it (a :class:`~geninv.testing.oracles.Question`; ``tags``
        left out)."""
        return Question(
            self.layers,
            self.target,
            self.domain,
            self.lower,
            self.upper,
            self.p,
            self.threshold,
            self.relation,
            self.threshold_pow,
            self.planted,
        )

    def problem(self) -> Any:
        """The geninv problem (imported lazily: the oracles never need geninv's classes)."""
        from geninv.network import ReLUNetwork
        from geninv.problem import Domain, InversionProblem

        net = ReLUNetwork(
            [w for w, _, _ in self.layers],
            [b for _, b, _ in self.layers],
            activations=[a for _, _, a in self.layers],
        )
        if self.domain == "box":
            assert self.lower is not None and self.upper is not None
            dom = Domain.box(self.lower, self.upper)
        else:
            dom = Domain(self.domain)  # type: ignore[arg-type]
        return InversionProblem(
            net,
            self.target,
            dom,
            p=math.inf if self.p == "inf" else float(Fraction(self.p)),
            threshold=self.threshold,
            relation=self.relation,  # type: ignore[arg-type]
            threshold_pow=self.threshold_pow,
        )

    def describe(self) -> str:
        """One line for tables and logs: domain, widths and activations, p, the question and the
        tags."""
        widths = [len(w) for w, _, _ in self.layers]
        acts = ",".join(a for _, _, a in self.layers)
        rel = self.relation
        thr = str(self.threshold) if self.threshold_pow is None else f"({self.threshold_pow})^(1/p)"
        return (
            f"{self.domain}^{self.n} -> {widths} [{acts}], p={self.p}, "
            f"||G(z)-x|| {rel} {thr} ({', '.join(f'{k}={v}' for k, v in self.tags.items())})"
        )

    # -------------------------------------------------------------- JSON
    def to_json(self) -> dict[str, Any]:
        """The case as a JSON-ready dict, every number an exact ``'p/q'`` string (read back by
        :meth:`from_json`)."""

        def fs(v: list[Fraction]) -> list[str]:
            return [str(x) for x in v]

        return {
            "layers": [
                {"weight": [fs(r) for r in w], "bias": fs(b), "activation": a}
                for w, b, a in self.layers
            ],
            "target": fs(self.target),
            "domain": self.domain,
            "lower": None if self.lower is None else fs(self.lower),
            "upper": None if self.upper is None else fs(self.upper),
            "p": self.p,
            "threshold": str(self.threshold),
            "threshold_pow": None if self.threshold_pow is None else str(self.threshold_pow),
            "relation": self.relation,
            "planted": None if self.planted is None else fs(self.planted),
            "tags": self.tags,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Case:
        """The case written by :meth:`to_json`, numbers back as exact Fractions."""

        def fr(v: list[str] | None) -> list[Fraction] | None:
            return None if v is None else [Fraction(x) for x in v]

        layers: list[RefLayer] = [
            (
                [[Fraction(x) for x in r] for r in la["weight"]],
                [Fraction(x) for x in la["bias"]],
                str(la["activation"]),
            )
            for la in doc["layers"]
        ]
        return cls(
            layers=layers,
            target=[Fraction(x) for x in doc["target"]],
            domain=doc["domain"],
            p=doc["p"],
            threshold=Fraction(doc["threshold"]),
            relation=doc["relation"],
            lower=fr(doc.get("lower")),
            upper=fr(doc.get("upper")),
            threshold_pow=None
            if doc.get("threshold_pow") is None
            else Fraction(doc["threshold_pow"]),
            planted=fr(doc.get("planted")),
            tags=dict(doc.get("tags") or {}),
        )

    def dumps(self) -> str:
        """The case as indented JSON text (:meth:`to_json`)."""
        return json.dumps(self.to_json(), indent=1)
