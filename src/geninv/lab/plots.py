"""The report's figures (matplotlib, Agg backend, no pyplot state): time against n per
family with one line per solver, and success rates of the approximate backends.

Plots aggregate: each solver's line is the median time per n with the interquartile
band, so a figure's size depends on the number of distinct n (binned to at most
:data:`MAX_POINTS`), never on the number of cells.  A timed-out cell counts at its time
limit in the median (a lower bound on its time) and is also marked by an ``x`` at the
limit, so a median at the limit reads as "at least".  The fitted exponential
``2^(a + b n)`` of :mod:`geninv.lab.fit` is drawn dashed, its base and 95 % interval in
the legend.

Every string from the store reaches matplotlib through :func:`label`: shortened,
control characters replaced and ``$`` escaped (matplotlib would parse ``$...$`` as
mathtext, and a malformed one raises).  Text is drawn as paths (``svg.fonttype =
"path"``), so no string from the store is written into an SVG as text.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geninv.lab.fit import TIMEOUT_SHARE, Fit
from geninv.lab.rates import Rate

#: Most points per line (distinct n beyond this are binned).
MAX_POINTS = 60
#: Most solvers drawn in one figure (the rest are in the tables).
MAX_LINES = 12
#: Character budget of a label from the store.
LABEL_CHARS = 48
#: Line colours (matplotlib's tab10).
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def label(text: object) -> str:
    """``text`` made safe for a matplotlib label (module docstring)."""
    s = "".join(c if c.isprintable() else "?" for c in str(text))
    if len(s) > LABEL_CHARS:
        s = s[: LABEL_CHARS - 3] + "..."
    if s.startswith("_") or not s:  # matplotlib's legend hides "" and "_..." labels
        s = " " + s if s else "(empty)"
    # with every "$" escaped the text never enters mathtext (matplotlib counts "$"
    # minus "\$"); a backslash elsewhere is drawn as it is
    return s.replace("$", r"\$")


@dataclass
class Series:
    """One solver's times on one family, aggregated per n: the medians, quartiles,
    the number of cells and of time-outs per n, and the time limit of each n."""

    solver: str
    n: list[float] = field(default_factory=list)
    median: list[float] = field(default_factory=list)
    q1: list[float] = field(default_factory=list)
    q3: list[float] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    timeouts: list[int] = field(default_factory=list)
    limit: list[float] = field(default_factory=list)


def _bins(ns: Sequence[int]) -> dict[int, float]:
    """Each distinct n -> the x at which it is drawn (itself, or its bin's centre)."""
    distinct = sorted(set(ns))
    if len(distinct) <= MAX_POINTS:
        return {n: float(n) for n in distinct}
    edges = np.linspace(distinct[0], distinct[-1], MAX_POINTS + 1)
    idx = np.clip(np.searchsorted(edges, distinct, side="right") - 1, 0, MAX_POINTS - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    return {n: float(centres[i]) for n, i in zip(distinct, idx, strict=True)}


def series_of(solver: str, rows: Sequence[dict[str, Any]]) -> Series:
    """The :class:`Series` of one solver's rows on one family (refusals and skipped
    instances, *unknown* well before the limit, are left out: they are not times)."""
    per: dict[float, list[tuple[float, bool, float]]] = {}
    where = _bins([int(r["n"]) for r in rows])
    for r in rows:
        secs, limit = float(r["seconds"]), float(r["time_limit"])
        timed_out = r["answer"] == "unknown" and secs >= TIMEOUT_SHARE * limit
        if r["answer"] == "unknown" and not timed_out:
            continue
        x = where[int(r["n"])]
        per.setdefault(x, []).append((max(secs, limit) if timed_out else secs, timed_out, limit))
    s = Series(solver)
    for x in sorted(per):
        t = np.array([max(v[0], 1e-6) for v in per[x]])
        q1, med, q3 = np.percentile(t, [25, 50, 75])
        s.n.append(x)
        s.median.append(float(med))
        s.q1.append(float(q1))
        s.q3.append(float(q3))
        s.cells.append(len(t))
        s.timeouts.append(sum(v[1] for v in per[x]))
        s.limit.append(max(v[2] for v in per[x]))
    return s


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _fit_label(solver: str, fit: Fit | None) -> str:
    name = label(solver)
    if fit is None or fit.base is None:
        return f"{name} (no fit)"
    if fit.low is None or fit.high is None:
        return f"{name}: {fit.base:.3f}^n (no interval)"
    return f"{name}: {fit.base:.3f}^n [{fit.low:.3f}, {fit.high:.3f}]"


def draw_times(
    ax: Any, title: str, series: Sequence[Series], fits: dict[str, Fit], small: bool = False
) -> None:
    """One family's time-against-n panel on ``ax`` (module docstring)."""
    colors = COLORS
    marked_timeout = False
    for i, s in enumerate(series[:MAX_LINES]):
        if not s.n:
            continue
        c = colors[i % len(colors)]
        ax.plot(
            s.n,
            s.median,
            "o-",
            color=c,
            lw=1.5,
            ms=4,
            label=_fit_label(s.solver, fits.get(s.solver)),
        )
        if len(s.n) > 1:
            ax.fill_between(s.n, s.q1, s.q3, color=c, alpha=0.18, lw=0)
        tn = [x for x, k in zip(s.n, s.timeouts, strict=True) if k]
        if tn:
            tl = [lim for lim, k in zip(s.limit, s.timeouts, strict=True) if k]
            ax.plot(
                tn,
                tl,
                "x",
                color="black",
                ms=9,
                mew=2.2,
                zorder=5,
                label=None if marked_timeout else "time-out (at the limit)",
            )
            ax.plot(tn, tl, "x", color=c, ms=7, mew=1.2, zorder=6)
            marked_timeout = True
        f = fits.get(s.solver)
        if f is not None and f.base is not None and f.intercept is not None and len(s.n) > 1:
            xs = np.linspace(min(s.n), max(s.n), 50)
            ys = 2.0 ** (f.intercept + math.log2(f.base) * xs)
            ax.plot(xs, ys, "--", color=c, lw=1.0, alpha=0.9)
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("seconds (median, IQR band)")
    ax.set_title(label(title), fontsize=10 if small else 12)
    ax.grid(True, which="both", alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6 if small else 7, loc="upper left")


def time_figure(family: str, series: Sequence[Series], fits: dict[str, Fit]) -> Any:
    """The figure of one family's times."""
    fig = _figure(6.4, 4.2)
    draw_times(fig.add_subplot(), family, series, fits)
    return fig


def grid_figure(panels: Sequence[tuple[str, Sequence[Series], dict[str, Fit]]]) -> Any:
    """Every family's panel in one grid (the README's main plot)."""
    cols = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig = _figure(4.2 * cols, 3.2 * rows)
    for i, (family, series, fits) in enumerate(panels):
        draw_times(fig.add_subplot(rows, cols, i + 1), family, series, fits, small=True)
    return fig


def draw_rates(ax: Any, title: str, rates: Sequence[Rate], xlabel: str) -> None:
    """Success rates of each approximate solver against ``xlabel``, Wilson intervals as
    error bars (a value without trials is not drawn)."""
    colors = COLORS
    solvers = sorted({r.solver for r in rates})[:MAX_LINES]
    for i, solver in enumerate(solvers):
        pts = [r for r in rates if r.solver == solver and r.trials > 0]
        if not pts:
            continue
        xs = np.array([r.value for r in pts])
        ys = np.array([r.successes / r.trials for r in pts])
        err = np.array([ys - [r.low for r in pts], [r.high for r in pts] - ys])
        ax.errorbar(
            xs,
            ys,
            yerr=np.clip(err, 0, None),
            fmt="o-",
            color=colors[i % len(colors)],
            capsize=3,
            ms=4,
            lw=1.3,
            label=label(solver),
        )
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("success rate (Wilson 95 %)")
    ax.set_title(label(title), fontsize=11)
    ax.grid(True, alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def rates_figure(family: str, by_n: Sequence[Rate], by_margin: Sequence[Rate]) -> Any:
    """One family's success rates: against n, and against the margin when it has one."""
    both = bool(by_margin)
    fig = _figure(9.6 if both else 5.2, 3.6)
    draw_rates(fig.add_subplot(1, 2 if both else 1, 1), f"{family}: vs n", by_n, "n")
    if both:
        ax = fig.add_subplot(1, 2, 2)
        draw_rates(ax, f"{family}: vs margin", by_margin, "margin (radius / least distance)")
    return fig


def render(fig: Any, fmt: str, dpi: float = 100) -> bytes:
    """The figure's bytes as ``svg`` or ``png`` (no date or random ids: reproducible;
    a PNG is reduced to a 128-colour palette)."""
    import matplotlib as mpl

    buf = io.BytesIO()
    meta: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    with mpl.rc_context({"svg.fonttype": "path", "svg.hashsalt": "geninv-lab"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    if fmt != "png":
        return buf.getvalue()
    # a README image: 128 colours (a quarter of the bytes; plots have few colours)
    from PIL import Image

    buf.seek(0)
    small = io.BytesIO()
    with Image.open(buf) as im:
        im.convert("RGB").quantize(128, method=Image.Quantize.MEDIANCUT).save(
            small, format="png", optimize=True
        )
    return small.getvalue()
