"""Scaling fits: the base of the exponential in n per solver and family, time-outs censored.

The paper's claims are exponential: under SETH no algorithm inverts in time
``2^((1 - eps) n)`` (Theorems 1-2 and their CVP and clique counterparts), so what a
sweep should show is the base ``B = 2^b`` of ``t ~ 2^(a + b n)``.  Each solver and
family is fitted on its cells by maximum likelihood in the model

    log2 t = a + b n + e,   e ~ N(0, s^2),

where a cell that hit its time limit ``L`` is *right-censored*: it only says
``log2 t > log2 L`` and contributes ``P(e > log2 L - a - b n)`` to the likelihood
(the Tobit model).  Dropping time-outs instead would bias ``b`` low exactly where
the growth matters; counting them at ``L`` would too.  Times below a floor
(``floor_seconds``, default 1 ms, where a run is timer noise) are left-censored at
the floor the same way.  Cells answered *unknown* for another reason (a refusal,
an unchecked floating-point *no*) are not times of a decision and are left out
(counted in ``excluded``).

The 95 % interval of ``B`` is a seeded bootstrap over the cells (``rounds``
refits on resampled cells, percentiles 2.5 and 97.5).  ``ratio_to_source`` is
``B`` over the base fitted for the source problem's own solver on the same family
(CaDiCaL, networkx or brute force rows of the same store), when there is one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from geninv.errors import ValidationError

#: Rows of these solvers are the source problem's own solver (not geninv backends).
SOURCE_SOLVERS: tuple[str, ...] = ("cadical", "networkx", "bruteforce")
#: The smallest noise scale the likelihood considers (log of s, s in log2 seconds).
MIN_LOG_SIGMA = math.log(1e-3)
#: The most bootstrap refits ``fit_rows`` accepts.
MAX_ROUNDS = 10_000
#: A run that used at least this share of its time limit and gave no answer timed out.
TIMEOUT_SHARE = 0.9


@dataclass(frozen=True)
class Point:
    """One cell for a fit: its size, its seconds, and whether it timed out (the
    seconds are then its limit, a lower bound on the time it needed)."""

    n: int
    seconds: float
    timed_out: bool


@dataclass(frozen=True)
class Fit:
    """The fitted base ``2^b`` of one solver on one family, with its 95 % interval
    (None, with ``reason``, when the cells cannot determine it)."""

    family: str
    solver: str
    cells: int
    decided: int
    censored: int
    excluded: int
    n_min: int
    n_max: int
    base: float | None
    low: float | None
    high: float | None
    reason: str = ""
    ratio_to_source: float | None = None
    #: The fitted ``a`` of ``log2 t = a + b n`` (log2 seconds at n = 0), for drawing the line.
    intercept: float | None = None


def points_of(rows: Iterable[dict[str, Any]]) -> tuple[list[Point], int]:
    """The fit points of store rows (``n``, ``answer``, ``seconds``, ``time_limit``)
    and how many rows were left out (unknown before their time limit)."""
    pts: list[Point] = []
    excluded = 0
    for r in rows:
        secs, limit = float(r["seconds"]), float(r["time_limit"])
        if r["answer"] in ("yes", "no"):
            pts.append(Point(int(r["n"]), secs, False))
        elif secs >= TIMEOUT_SHARE * limit:
            pts.append(Point(int(r["n"]), max(secs, limit), True))
        else:
            excluded += 1
    return pts, excluded


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _neg_log_lik(theta: np.ndarray, n: np.ndarray, y: np.ndarray, kind: np.ndarray) -> float:
    a, b, log_s = theta
    log_s = max(float(log_s), MIN_LOG_SIGMA)  # a degenerate fit must not divide by 0
    s = math.exp(log_s)
    z = (y - a - b * n) / s
    # kind 0: observed (normal log-density), 1: right-censored (t > y, log P(e > z)),
    # -1: left-censored (t < y, log P(e < z)); log_ndtr is the normal log-CDF
    ll = np.where(
        kind == 0,
        -0.5 * z * z - _HALF_LOG_2PI - log_s,
        special.log_ndtr(np.where(kind == 1, -z, z)),
    )
    return float(-ll.sum())


def fit_line(points: Sequence[Point], floor_seconds: float = 1e-3) -> tuple[float, float] | None:
    """The maximum-likelihood ``(a, b)`` of the censored model (module docstring), or
    None when the points cannot determine them (fewer than two sizes with a decided cell
    whose time is above the floor)."""
    observed_sizes = {p.n for p in points if not p.timed_out and p.seconds >= floor_seconds}
    if len(observed_sizes) < 2:
        return None
    n = np.array([p.n for p in points], dtype=np.float64)
    secs = np.array([max(p.seconds, floor_seconds) for p in points])
    y = np.log2(secs)
    kind = np.array(
        [1 if p.timed_out else (-1 if p.seconds < floor_seconds else 0) for p in points]
    )
    if not (kind == 0).any():
        return None
    b0, a0 = np.polyfit(n, y, 1) if len(set(n.tolist())) > 1 else (0.0, float(y.mean()))
    resid = y - (a0 + b0 * n)
    s0 = max(float(np.std(resid)), 0.05)
    res = optimize.minimize(
        _neg_log_lik,
        np.array([a0, b0, math.log(s0)]),
        args=(n, y, kind),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000},
    )
    a, b = float(res.x[0]), float(res.x[1])
    return (a, b) if math.isfinite(a) and math.isfinite(b) else None


def fit_slope(points: Sequence[Point], floor_seconds: float = 1e-3) -> float | None:
    """The maximum-likelihood ``b`` of :func:`fit_line` (None when undetermined)."""
    line = fit_line(points, floor_seconds)
    return None if line is None else line[1]


def fit_points(
    points: Sequence[Point],
    *,
    floor_seconds: float = 1e-3,
    rounds: int = 200,
    seed: int = 0,
) -> tuple[float | None, float | None, float | None, str]:
    """(base, low, high, reason): ``2^b`` of :func:`fit_slope` and its seeded
    bootstrap 95 % interval (module docstring)."""
    b = fit_slope(points, floor_seconds)
    if b is None:
        return None, None, None, "fewer than two sizes with a decided cell above the time floor"
    rng = np.random.default_rng(seed)
    boot: list[float] = []
    pts = list(points)
    for _ in range(rounds):
        sample = [pts[i] for i in rng.integers(0, len(pts), len(pts))]
        bb = fit_slope(sample, floor_seconds)
        if bb is not None:
            boot.append(bb)
    if len(boot) < max(10, rounds // 2):
        return 2.0**b, None, None, "too few resamples determine the slope for an interval"
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return 2.0**b, 2.0 ** float(lo), 2.0 ** float(hi), ""


def fit_rows(
    rows: Iterable[dict[str, Any]],
    *,
    floor_seconds: float = 1e-3,
    rounds: int = 200,
    seed: int = 0,
    answer: str | None = None,
) -> list[Fit]:
    """One :class:`Fit` per (family, solver) of the store rows, sorted; each geninv
    backend's fit carries its ratio to the family's source-solver fit.

    ``answer="no"`` (or ``"yes"``) fits only the cells of instances whose answer is
    known to be that one -- from any cell of the same instance (family, params, n,
    seed) that decided it -- time-outs of such instances included (censored).  The
    time to *refute* is the time of a complete search (exhaustive enumeration's is
    ``2^n`` corners exactly), while the time to find a witness depends on how many
    there are, so the two are fitted apart."""
    if not (math.isfinite(floor_seconds) and floor_seconds > 0):
        raise ValidationError(
            f"the time floor must be a positive number of seconds, not {floor_seconds}"
        )
    if not 0 <= rounds <= MAX_ROUNDS:
        raise ValidationError(f"bootstrap rounds must be 0..{MAX_ROUNDS}, not {rounds}")
    if answer not in (None, "yes", "no"):
        raise ValidationError(f"the answer filter must be yes or no, not {answer!r}")
    rows = list(rows)
    if answer is not None:
        known: dict[tuple[Any, ...], set[str]] = {}
        for r in rows:
            if r["answer"] in ("yes", "no"):
                coord = (r["family"], r["params"], r["n"], r["seed"])
                known.setdefault(coord, set()).add(str(r["answer"]))
        rows = [
            r for r in rows if known.get((r["family"], r["params"], r["n"], r["seed"])) == {answer}
        ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((str(r["family"]), str(r["solver"])), []).append(r)
    fits: list[Fit] = []
    for (family, solver), grp in sorted(groups.items()):
        pts, excluded = points_of(grp)
        base, lo, hi, reason = fit_points(
            pts, floor_seconds=floor_seconds, rounds=rounds, seed=seed
        )
        ns = [int(r["n"]) for r in grp]
        line = fit_line(pts, floor_seconds) if base is not None else None
        fits.append(
            Fit(
                family=family,
                solver=solver,
                cells=len(grp),
                decided=sum(not p.timed_out for p in pts),
                censored=sum(p.timed_out for p in pts),
                excluded=excluded,
                n_min=min(ns),
                n_max=max(ns),
                base=base,
                low=lo,
                high=hi,
                reason=reason,
                intercept=None if line is None else line[0],
            )
        )
    source = {f.family: f.base for f in fits if f.solver in SOURCE_SOLVERS and f.base is not None}
    out: list[Fit] = []
    for f in fits:
        ref = source.get(f.family)
        ratio = None
        if f.solver not in SOURCE_SOLVERS and f.base is not None and ref:
            ratio = f.base / ref
        out.append(Fit(**{**f.__dict__, "ratio_to_source": ratio}))
    return out


def fit_store(db: Any, **kwargs: Any) -> list[Fit]:
    """:func:`fit_rows` over every row of the results store ``db`` (a path)."""
    from geninv.lab.store import Store

    with Store(db, create=False) as store:
        rows = store.rows()
    return fit_rows(rows, **kwargs)
