"""The differential tester's delta-debugging shrinker: smaller or simpler variants of a
failing :class:`~geninv.testing.cases.Case`, taken greedily while the failure stays."""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from geninv.errors import GeninvError
from geninv.testing.cases import Case


def _variants(case: Case) -> list[Case]:
    """Smaller or simpler cases, biggest cuts first."""
    out: list[Case] = []

    def clone(**kw: Any) -> Case:
        doc = case.to_json()
        c = Case.from_json(doc)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    layers = case.layers
    last = len(layers) - 1
    # drop an output
    for j in range(case.q):
        if case.q == 1:
            break
        c = clone()
        w, b, a = c.layers[last]
        c.layers[last] = (
            [r for i, r in enumerate(w) if i != j],
            [v for i, v in enumerate(b) if i != j],
            a,
        )
        c.target = [v for i, v in enumerate(c.target) if i != j]
        out.append(c)
    # drop a hidden unit
    for k in range(last):
        width = len(layers[k][0])
        for u in range(width if width > 1 else 0):
            c = clone()
            w, b, a = c.layers[k]
            c.layers[k] = (
                [r for i, r in enumerate(w) if i != u],
                [v for i, v in enumerate(b) if i != u],
                a,
            )
            w2, b2, a2 = c.layers[k + 1]
            c.layers[k + 1] = ([[v for i, v in enumerate(r) if i != u] for r in w2], b2, a2)
            out.append(c)
    # drop a latent
    for i in range(case.n if case.n > 1 else 0):
        c = clone()
        w, b, a = c.layers[0]
        c.layers[0] = ([[v for t, v in enumerate(r) if t != i] for r in w], b, a)
        for attr in ("lower", "upper", "planted"):
            vals = getattr(c, attr)
            if vals is not None:
                setattr(c, attr, [v for t, v in enumerate(vals) if t != i])
        out.append(c)
    # drop a hidden layer of the same width as its input (shapes stay valid)
    for k in range(last):
        if len(layers[k][0]) == len(layers[k][0][0]):
            c = clone()
            del c.layers[k]
            out.append(c)
    # simpler activations, then simpler numbers
    for k, (_, _, a) in enumerate(layers):
        if a not in ("relu", "identity"):
            c = clone()
            w, b, _ = c.layers[k]
            c.layers[k] = (w, b, "relu")
            out.append(c)
    for k in range(len(layers)):
        w, b, _ = layers[k]
        for r in range(len(w)):
            for col in range(len(w[r])):
                for simpler in _simpler(w[r][col]):
                    c = clone()
                    c.layers[k][0][r][col] = simpler
                    out.append(c)
            for simpler in _simpler(b[r]):
                c = clone()
                c.layers[k][1][r] = simpler
                out.append(c)
    for j in range(case.q):
        for simpler in _simpler(case.target[j]):
            c = clone()
            c.target[j] = simpler
            out.append(c)
    return out


def _simpler(v: Fraction) -> list[Fraction]:
    if v == 0:
        return []
    cands = [Fraction(0)]
    if v.denominator != 1:
        cands += [Fraction(round(v))]
    if abs(v) > 1:
        cands += [Fraction(1 if v > 0 else -1)]
    return [c for c in dict.fromkeys(cands) if c != v]


def shrink(
    case: Case,
    still_fails: Callable[[Case], bool],
    budget_s: float = 60.0,
) -> Case:
    """Greedy delta debugging: keep taking the first variant that still fails, until
    none does or the time budget is spent."""
    deadline = time.monotonic() + budget_s
    current = case
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for cand in _variants(current):
            if time.monotonic() >= deadline:
                break
            try:
                cand.problem()
            except GeninvError:
                continue
            if still_fails(cand):
                current = cand
                improved = True
                break
    return current
