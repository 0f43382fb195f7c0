"""``geninv lab report DB -o DIR``: a static HTML page of a results store.

``DIR`` holds::

    index.html        the page: figures, tables, the specs and the versions
    svg/*.svg         its figures (time against n per family; success rates)
    png/*.png         the same for a README: time_vs_n.png (every family in a grid),
                      success_rates.png (when the store has approximate-backend cells)
    report.json       what was written (the format tag marks DIR as geninv's)

The page loads nothing from the network and runs no script: a
``Content-Security-Policy`` meta tag forbids scripts, and every string read from the
store (family and solver names, reasons, spec text, versions) is HTML-escaped, so a
hostile store can at worst show odd text.  Figure files are named by index, never by a
string from the store.

The figures aggregate (median per n with the interquartile band,
:mod:`geninv.lab.plots`) and every table has one row per family x solver (or per n or
margin of it), capped at :data:`MAX_TABLE_ROWS` and :data:`MAX_FAMILIES` figures, so the
page stays bounded however many cells the store holds.

The directory is written atomically (:func:`geninv.io.atomic.atomic_dir`): into a
temporary directory beside it, renamed into place; an existing ``DIR`` is refused
unless ``force``, and even then only a directory geninv wrote (a report, an instance,
an export) is replaced.
"""

from __future__ import annotations

import html
import json
import math
import os
import platform
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geninv.errors import ValidationError
from geninv.lab.fit import SOURCE_SOLVERS, TIMEOUT_SHARE, Fit, fit_rows
from geninv.lab.rates import Rate, approximate_solvers, success_rates

#: The format tag of ``report.json`` (how :func:`geninv.io.atomic.is_geninv_dir` knows a report).
FORMAT = "geninv-lab-report"
#: Most families drawn (the tables list all, up to :data:`MAX_TABLE_ROWS`).
MAX_FAMILIES = 24
#: Most rows per table.
MAX_TABLE_ROWS = 500
#: Most specs shown, and characters of each spec's text.
MAX_SPECS = 20
MAX_SPEC_CHARS = 20_000
#: Most distinct values listed per version column.
MAX_VERSIONS = 30
#: Libraries whose versions the page lists (those installed).
LIBRARIES = (
    "numpy",
    "scipy",
    "matplotlib",
    "python-sat",
    "networkx",
    "highspy",
    "pyscipopt",
    "torch",
    "dask",
    "distributed",
)
#: The page's policy: no script, nothing from the network; images from its directory.
CSP = "default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class ReportSummary:
    """What :func:`write_report` wrote: the directory, the cells read, the figure files."""

    directory: Path
    cells: int
    figures: tuple[str, ...]


def e(value: object) -> str:
    """``value`` as HTML-escaped text (quotes too)."""
    return html.escape(str(value), quote=True)


def load(db: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows and the specs of the store ``db``; a file that is not a lab store is a
    one-line :class:`~geninv.errors.ValidationError`."""
    from geninv.lab.store import Store

    with Store(db, create=False) as store:
        try:
            rows = store.rows()
            cur = store.db.execute(
                "SELECT spec_hash, name, toml, added_at FROM specs ORDER BY added_at"
            )
            specs = [dict(zip(("hash", "name", "toml", "added_at"), r, strict=True)) for r in cur]
        except sqlite3.DatabaseError as exc:
            raise ValidationError(
                f"{db}: not a geninv lab store ({exc}); expected a .db file geninv lab wrote"
            ) from None
    for i, r in enumerate(rows):
        try:
            ok = all(
                math.isfinite(float(r[k])) and float(r[k]) >= 0 for k in ("seconds", "time_limit")
            )
            ok = ok and isinstance(r["n"], int) and r["answer"] in ("yes", "no", "unknown")
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValidationError(
                f"{db}: not a geninv lab store (cell {i + 1}: seconds, time_limit, n or answer "
                "out of range); expected a .db file geninv lab wrote"
            )
    return rows, specs


# ------------------------------------------------------------------ tables
def status_counts(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, Counter[str]]]:
    """Per (family, solver): cells, *yes* (sat), *no* (unsat), *unknown* before the
    limit (refusals, skipped instances, gave up) and time-outs (*unknown* after at least
    :data:`~geninv.lab.fit.TIMEOUT_SHARE` of the limit)."""
    groups: dict[tuple[str, str], Counter[str]] = {}
    for r in rows:
        c = groups.setdefault((str(r["family"]), str(r["solver"])), Counter())
        c["cells"] += 1
        if r["answer"] in ("yes", "no"):
            c[str(r["answer"])] += 1
        elif float(r["seconds"]) >= TIMEOUT_SHARE * float(r["time_limit"]):
            c["timeout"] += 1
        else:
            c["unknown"] += 1
    return [(f, s, c) for (f, s), c in sorted(groups.items())]


def _table(caption: str, head: Sequence[str], body: Sequence[Sequence[object]], cls: str) -> str:
    shown = body[:MAX_TABLE_ROWS]
    more = len(body) - len(shown)
    out = [f'<table class="{cls}"><caption>{e(caption)}</caption><thead><tr>']
    out += [f"<th>{e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in shown:
        out.append("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>")
    if not shown:
        out.append(f'<tr><td colspan="{len(head)}">(none)</td></tr>')
    out.append("</tbody></table>")
    if more:
        out.append(f"<p class=note>{more} more row(s) not shown.</p>")
    return "".join(out)


def _num(x: float | None, fmt: str = ".4f") -> str:
    return "-" if x is None else format(x, fmt)


def fit_table(fits: Sequence[Fit], caption: str = "") -> str:
    """The fitted bases: solver x family, base, interval, cells, censored, ratio."""
    body = [
        (
            f.family,
            f.solver + (" (source)" if f.solver in SOURCE_SOLVERS else ""),
            f"{f.n_min}-{f.n_max}",
            f.cells,
            f.decided,
            f.censored,
            f.excluded,
            _num(f.base),
            "-" if f.low is None or f.high is None else f"[{f.low:.4f}, {f.high:.4f}]",
            _num(f.ratio_to_source, ".3f"),
            f.reason,
        )
        for f in fits
    ]
    head = (
        "family",
        "solver",
        "n",
        "cells",
        "decided",
        "censored (t/o)",
        "excluded",
        "base 2^b",
        "95% interval",
        "ratio to source",
        "note",
    )
    caption = caption or "Fitted base of t ~ 2^(a + b n), time-outs censored"
    return _table(caption, head, body, "fits")


def status_table(rows: Sequence[dict[str, Any]]) -> str:
    """Cells per family x solver by status."""
    body = [
        (f, s, c["cells"], c["yes"], c["no"], c["unknown"], c["timeout"])
        for f, s, c in status_counts(rows)
    ]
    head = ("family", "solver", "cells", "sat (yes)", "unsat (no)", "unknown", "time-out")
    return _table("Cells by status", head, body, "status")


def rates_table(caption: str, rates: Sequence[Rate], what: str) -> str:
    """Success rates with their Wilson intervals."""
    body = [
        (
            r.family,
            r.solver,
            f"{r.value:g}",
            f"{r.successes}/{r.trials}",
            "-" if r.rate is None else f"{r.rate:.2f}",
            f"[{r.low:.2f}, {r.high:.2f}]",
            r.timeouts,
            r.refused,
            r.skipped,
            r.no_instances,
            r.false_yes,
        )
        for r in rates
    ]
    head = (
        "family",
        "solver",
        what,
        "found/trials",
        "rate",
        "Wilson 95%",
        "time-outs",
        "refused",
        "skipped",
        "no-instances",
        "yes on a no-instance",
    )
    return _table(caption, head, body, "rates")


def versions_html(rows: Sequence[dict[str, Any]]) -> str:
    """The versions recorded in the rows, and this machine's (the report's)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for col, title in (
        ("geninv_version", "geninv"),
        ("solver_version", "solver"),
        ("machine", "machine"),
    ):
        counts = Counter(str(r.get(col) or "-") for r in rows)
        body = [(v, k) for v, k in counts.most_common(MAX_VERSIONS)]
        parts.append(_table(f"{title} (recorded in the cells)", (title, "cells"), body, "versions"))
    libs = []
    for name in LIBRARIES:
        try:
            libs.append((name, version(name)))
        except PackageNotFoundError:
            libs.append((name, "not installed"))
    try:
        libs.insert(0, ("geninv", version("geninv")))
    except PackageNotFoundError:
        libs.insert(0, ("geninv", "not installed"))
    libs.insert(1, ("python", platform.python_version()))
    host = f"{platform.node()} {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    libs.insert(2, ("machine", host))
    parts.append(_table("this report's machine and libraries", ("what", "version"), libs, "libs"))
    return "".join(parts)


def specs_html(specs: Sequence[dict[str, Any]]) -> str:
    """Each spec in the store: name, hash, when added, its TOML text."""
    out = []
    for s in specs[:MAX_SPECS]:
        text = str(s["toml"])
        cut = len(text) > MAX_SPEC_CHARS
        out.append(
            f"<h3>{e(s['name'])}</h3><p class=note>spec {e(s['hash'])}, added {e(s['added_at'])}"
            + (f" (first {MAX_SPEC_CHARS} characters)" if cut else "")
            + f"</p><pre>{e(text[:MAX_SPEC_CHARS])}</pre>"
        )
    if len(specs) > MAX_SPECS:
        out.append(f"<p class=note>{len(specs) - MAX_SPECS} more spec(s) not shown.</p>")
    return "".join(out) or "<p>(the store records no spec)</p>"


# ------------------------------------------------------------------ the page
_STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}
caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:left}
td{white-space:nowrap} td:last-child{white-space:normal}
th{background:#eee} pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:12px}
img{max-width:100%;border:1px solid #ddd} .note{color:#666;font-size:13px}
figure{margin:.3em 0}
.figs{display:grid;gap:.5em;grid-template-columns:repeat(auto-fill,minmax(520px,1fr))}
"""


def _figures(
    tmp: Path,
    rows: Sequence[dict[str, Any]],
    fits: Sequence[Fit],
    by_n: Sequence[Rate],
    by_margin: Sequence[Rate],
) -> tuple[list[str], list[str]]:
    """Write the figures under ``tmp``; (HTML of the time section, of the rates section)."""
    from geninv.lab import plots

    (tmp / "svg").mkdir()
    (tmp / "png").mkdir()
    fams: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        fams.setdefault(str(r["family"]), {}).setdefault(str(r["solver"]), []).append(r)
    fit_of = {(f.family, f.solver): f for f in fits}
    panels = []
    time_html: list[str] = []
    for i, family in enumerate(sorted(fams)[:MAX_FAMILIES]):
        series = [plots.series_of(s, fams[family][s]) for s in sorted(fams[family])]
        fmap = {s: f for (fam, s), f in fit_of.items() if fam == family}
        panels.append((family, series, fmap))
        name = f"svg/time_{i:02d}.svg"
        (tmp / name).write_bytes(plots.render(plots.time_figure(family, series, fmap), "svg"))
        time_html.append(f'<figure><img src="{name}" alt="time against n: {e(family)}"></figure>')
    if len(fams) > MAX_FAMILIES:
        time_html.append(f"<p class=note>{len(fams) - MAX_FAMILIES} more famil(ies) not drawn.</p>")
    if panels:
        grid = plots.grid_figure(panels[:12])
        (tmp / "png/time_vs_n.png").write_bytes(plots.render(grid, "png", dpi=80))
    rate_html: list[str] = []
    rfams = sorted({r.family for r in by_n})
    for i, family in enumerate(rfams[:MAX_FAMILIES]):
        rn = [r for r in by_n if r.family == family]
        rm = [r for r in by_margin if r.family == family]
        name = f"svg/rates_{i:02d}.svg"
        (tmp / name).write_bytes(plots.render(plots.rates_figure(family, rn, rm), "svg"))
        rate_html.append(f'<figure><img src="{name}" alt="success rates: {e(family)}"></figure>')
        if i == 0:
            png = plots.render(plots.rates_figure(family, rn, rm), "png", dpi=80)
            (tmp / "png/success_rates.png").write_bytes(png)
    return time_html, rate_html


@dataclass(frozen=True)
class Analysis:
    """What the page shows of the rows: the fits (all cells; only instances known to be
    *no*; known to be *yes*) and the success rates against n and the margin."""

    fits: Sequence[Fit]
    fits_no: Sequence[Fit]
    fits_yes: Sequence[Fit]
    by_n: Sequence[Rate]
    by_margin: Sequence[Rate]


def analyse(
    rows: Sequence[dict[str, Any]], *, floor_seconds: float, rounds: int, seed: int
) -> Analysis:
    """The :class:`Analysis` of the rows (:func:`~geninv.lab.fit.fit_rows`,
    :func:`~geninv.lab.rates.success_rates`)."""
    kw: dict[str, Any] = {"floor_seconds": floor_seconds, "rounds": rounds, "seed": seed}
    return Analysis(
        fits=fit_rows(rows, **kw),
        fits_no=fit_rows(rows, answer="no", **kw),
        fits_yes=fit_rows(rows, answer="yes", **kw),
        by_n=success_rates(rows, "n"),
        by_margin=success_rates(rows, "margin"),
    )


def page(
    db: str,
    rows: Sequence[dict[str, Any]],
    specs: Sequence[dict[str, Any]],
    an: Analysis,
    time_html: Sequence[str],
    rate_html: Sequence[str],
) -> str:
    """The HTML of the page."""
    by_n, by_margin = an.by_n, an.by_margin
    split = "".join(
        fit_table(fits, f"Fitted base on the instances known to be {what} ({why})")
        for fits, what, why in (
            (an.fits_no, "no", "the time to refute"),
            (an.fits_yes, "yes", "the time to find a witness"),
        )
        if fits
    )
    approx = ", ".join(sorted(approximate_solvers()))
    rates = (
        '<div class="figs">'
        + "".join(rate_html)
        + "</div>"
        + rates_table("Success rate against n", by_n, "n")
        + rates_table("Success rate against the margin", by_margin, "margin")
        if by_n
        else f"<p>The store has no cell of an approximate backend ({e(approx)}).</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>geninv lab report</title><style>{_STYLE}</style></head>
<body>
<h1>geninv lab report</h1>
<p>Store <code>{e(Path(db).name)}</code>: {len(rows)} cell(s), {len(specs)} spec(s).</p>
<h2 id="time">Time against n</h2>
<p class=note>One line per solver: the median time per n, the band from the first to the
third quartile; a time-out counts at its limit and is marked &times;.  Dashed: the fitted
t = 2^(a + b n) (censored maximum likelihood, time-outs right-censored); the legend gives
the base 2^b and its bootstrap 95% interval.</p>
<div class="figs">{"".join(time_html) or "<p>(no cells)</p>"}</div>
<h2 id="fits">Fitted bases</h2>
{fit_table(an.fits)}
<p class=note>Below, the same fit on the instances whose answer some cell decided: a
refutation is a complete search, while the time to a witness depends on how many there
are, so mixing the two can hide a base (<code>geninv lab fit --answer</code>).</p>
{split}
<h2 id="status">Cells by status</h2>
{status_table(rows)}
<h2 id="rates">Success rates of the approximate backends</h2>
<p class=note>Backends that cannot prove <em>no</em> ({e(approx)}).  Trials: their cells
on instances not known to be <em>no</em>, neither skipped nor refused; a success is a
<em>yes</em> with a witness re-checked exactly.  Margin: the family's
<code>fraction</code> (random-net: radius over the least distance).  Wilson 95% intervals.</p>
{rates}
<h2 id="specs">Specs</h2>
{specs_html(specs)}
<h2 id="versions">Versions</h2>
{versions_html(rows)}
</body></html>
"""


def write_report(
    db: str | Path,
    output: str | Path,
    *,
    force: bool = False,
    floor_seconds: float = 1e-3,
    rounds: int = 200,
    seed: int = 0,
) -> ReportSummary:
    """Write the report of the store ``db`` into the directory ``output`` (module
    docstring) and say what was written."""
    from geninv.io import atomic

    atomic.check_target(output, force, directory=True, protect=[str(db)])  # refuse early
    rows, specs = load(db)
    an = analyse(rows, floor_seconds=floor_seconds, rounds=rounds, seed=seed)
    with atomic.atomic_dir(output, force=force, protect=[str(db)]) as tmp:
        time_html, rate_html = _figures(tmp, rows, an.fits, an.by_n, an.by_margin)
        text = page(str(db), rows, specs, an, time_html, rate_html)
        (tmp / "index.html").write_text(text, encoding="utf-8")
        figures = sorted(
            str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.suffix in (".svg", ".png")
        )
        meta = {"format": FORMAT, "cells": len(rows), "specs": len(specs), "figures": figures}
        (tmp / "report.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return ReportSummary(Path(output), len(rows), tuple(figures))
