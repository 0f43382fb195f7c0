"""Interval bisection of a box: the certified oracle, refined.

Where the interval bounds of the outputs over the whole box (:func:`bounds_fail`)
cannot rule the box out, split it: a sub-box whose bounds put every residual beyond
the threshold holds no witness and is dropped; the midpoint of every sub-box examined
is checked exactly (:meth:`Question.decide`), and the first that meets is a *yes*
witness.  When every sub-box is dropped the answer is *no* (the sub-boxes cover the
box; each bound is rigorous: exact rationals for piecewise-linear layers, outward
enclosures for ELU, sigmoid and tanh).  Otherwise, after ``max_boxes`` sub-boxes,
*undecided*.  The widest side is halved, breadth first, so the sub-boxes shrink
evenly.  Independent of geninv like the rest of :mod:`geninv.testing`.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from fractions import Fraction

from geninv.testing.oracles import OracleAnswer, Question, bounds_fail

#: Sub-boxes examined at most.
MAX_BOXES = 160


def bisection(
    q: Question, nonwitness: list[Fraction] | None = None, max_boxes: int = MAX_BOXES
) -> OracleAnswer:
    """*yes* with a checked midpoint, *no* when every sub-box is ruled out, else
    *undecided* (the module docstring); ``nonwitness`` is kept when given."""
    if q.domain != "box" or q.lower is None or q.upper is None:
        raise ValueError("bisection takes a box domain")
    queue = deque([(list(q.lower), list(q.upper))])
    examined = 0
    while queue and examined < max_boxes:
        lo, hi = queue.popleft()
        examined += 1
        if bounds_fail(dataclasses.replace(q, lower=lo, upper=hi)):
            continue
        mid = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
        verdict = q.decide(mid)
        if verdict:
            return OracleAnswer("yes", f"interval bisection ({examined} boxes)", mid, nonwitness)
        if verdict is False and nonwitness is None:
            nonwitness = mid
        k = max(range(len(lo)), key=lambda i: hi[i] - lo[i])
        left_hi, right_lo = list(hi), list(lo)
        left_hi[k] = right_lo[k] = mid[k]
        queue.append((lo, left_hi))
        queue.append((right_lo, hi))
    if not queue:
        return OracleAnswer("no", f"interval bisection ({examined} boxes)", None, nonwitness)
    return OracleAnswer(
        "undecided", f"interval bisection undecided after {examined} boxes", None, nonwitness
    )
