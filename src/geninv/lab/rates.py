"""Success rates of the approximate backends, against n and against the margin.

An approximate backend (``adam``, ``pgd``, ``admm``, ``langevin``, ``flipgd``,
``layerwise``, ``primal``: the registered backends whose capabilities say
``complete = False``) never proves a *no*: a cell of one ends *yes* (a witness geninv
re-checked exactly, :func:`geninv.lab.cells.run_cell`) or *unknown*.  Its success
rate on instances that have a solution is what the paper's hardness predicts falls
with n: under SETH no algorithm (gradient methods included) finds a witness of every
*yes* instance in time ``2^((1 - eps) n)`` (Theorems 1-2), so a method that runs a
polynomial number of steps must miss some.

Which cells count (``trials``): cells of an approximate backend whose instance was
built (not *skipped* by its generator) and was not refused by the backend (a reason
starting ``refused:``, counted in ``refused``), and whose instance is not known to be
a *no* (``expected`` is ``yes`` or unknown).  A *success* is a *yes*.  A *yes* on an
instance the generator knows is a *no* would be a bug (a re-checked witness of an
infeasible instance); such cells are counted apart (``false_yes``), never as trials.

The margin of a cell is its family's ``fraction`` parameter (``random-net``: the
radius as a fraction of the least distance; above 1 the instance has slack), when
it has one.

Each rate carries its Wilson score interval (95 % by default), which, unlike the
normal approximation ``p +- z sqrt(p(1-p)/N)``, stays inside ``[0, 1]`` and is not
degenerate at 0 or N successes (Wilson 1927):

    centre = (k + z^2/2) / (N + z^2),
    half   = z sqrt(k (N - k) / N + z^2 / 4) / (N + z^2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054


def approximate_solvers() -> frozenset[str]:
    """The registered geninv backends that cannot prove *no* (``complete = False``)."""
    from geninv.solvers.registry import REGISTRY

    names = set()
    for name, cls in REGISTRY.items():
        caps = getattr(cls, "capabilities", None)
        if caps is not None and not caps.complete:
            names.add(name)
    return frozenset(names)


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` of ``successes`` out of ``trials``
    (module docstring); ``(0, 1)`` when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be 0..{trials}, got {successes}")
    z2 = z * z
    centre = (successes + z2 / 2) / (trials + z2)
    half = z * math.sqrt(successes * (trials - successes) / trials + z2 / 4) / (trials + z2)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """The success rate of one approximate backend on one family at one value of
    ``by`` (``"n"`` or ``"margin"``): ``successes`` of ``trials``, the Wilson
    interval ``[low, high]``, and the cells left out (``refused``, ``skipped``,
    ``no_instances``) or contradicting the generator (``false_yes``)."""

    family: str
    solver: str
    by: str
    value: float
    trials: int
    successes: int
    low: float
    high: float
    timeouts: int = 0
    refused: int = 0
    skipped: int = 0
    no_instances: int = 0
    false_yes: int = 0

    @property
    def rate(self) -> float | None:
        """``successes / trials`` (None without trials)."""
        return self.successes / self.trials if self.trials else None


def margin_of(row: dict[str, Any]) -> float | None:
    """The cell's margin: its parameters' ``fraction``, when it has a finite one."""
    try:
        params = json.loads(str(row.get("params") or "{}"))
    except (ValueError, RecursionError):
        return None
    frac = params.get("fraction") if isinstance(params, dict) else None
    if isinstance(frac, int | float) and not isinstance(frac, bool) and math.isfinite(frac):
        return float(frac)
    return None


def _tally(rows: list[dict[str, Any]], timeout_share: float) -> dict[str, int]:
    t = {"trials": 0, "yes": 0, "timeouts": 0, "refused": 0, "skipped": 0, "no": 0, "false": 0}
    for r in rows:
        reason = str(r.get("reason") or "")
        if r["answer"] == "unknown" and reason.startswith("skipped"):
            t["skipped"] += 1
        elif r["answer"] == "unknown" and reason.startswith("refused:"):
            t["refused"] += 1
        elif r.get("expected") == "no":
            t["no"] += 1
            t["false"] += r["answer"] == "yes"
        else:
            t["trials"] += 1
            t["yes"] += r["answer"] == "yes"
            limit = float(r["time_limit"])
            t["timeouts"] += r["answer"] == "unknown" and float(r["seconds"]) >= (
                timeout_share * limit
            )
    return t


def success_rates(
    rows: Iterable[dict[str, Any]],
    by: str = "n",
    *,
    solvers: frozenset[str] | None = None,
    z: float = Z95,
) -> list[Rate]:
    """One :class:`Rate` per (family, approximate solver, value of ``by``) of the
    store rows, sorted; ``by`` is ``"n"`` or ``"margin"`` (rows without a margin are
    left out of the latter).  ``solvers`` defaults to :func:`approximate_solvers`."""
    from geninv.lab.fit import TIMEOUT_SHARE

    if by not in ("n", "margin"):
        raise ValueError(f"by must be 'n' or 'margin', not {by!r}")
    approx = approximate_solvers() if solvers is None else solvers
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for r in rows:
        solver = str(r["solver"])
        if solver not in approx:
            continue
        value = float(r["n"]) if by == "n" else margin_of(r)
        if value is None:
            continue
        groups.setdefault((str(r["family"]), solver, value), []).append(r)
    out: list[Rate] = []
    for (family, solver, value), grp in sorted(groups.items()):
        t = _tally(grp, TIMEOUT_SHARE)
        low, high = wilson(t["yes"], t["trials"], z)
        out.append(
            Rate(
                family=family,
                solver=solver,
                by=by,
                value=value,
                trials=t["trials"],
                successes=t["yes"],
                low=low,
                high=high,
                timeouts=t["timeouts"],
                refused=t["refused"],
                skipped=t["skipped"],
                no_instances=t["no"],
                false_yes=t["false"],
            )
        )
    return out
