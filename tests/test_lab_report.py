"""``geninv lab report`` (geninv.lab.report) and the success rates (geninv.lab.rates).

The page is checked twice: its structure (every figure file exists and parses as SVG
or PNG, every table has rows, no string of a hostile store reaches the HTML unescaped)
and in a real browser: Debian's ``chromium`` headless loads a copy of the page with a
small script (allowed by a hash added to the page's own Content-Security-Policy) that
marks ``<body data-rendered="ok">`` when every image decoded and every table has rows;
the dumped DOM must say so.  Chromium is a test dependency (``apt-get install -y
chromium``): without it the browser test fails, saying so, rather than skip.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.cli import main
from geninv.lab.plots import label, render, series_of
from geninv.lab.rates import success_rates, wilson
from geninv.lab.report import CSP, write_report
from geninv.lab.store import Store

HOSTILE = '<script>alert("x")</script>$\\frac{'
HOSTILE_SOLVER = '"><img src=x onerror=alert(1)>'


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _row(
    i: int, family: str, solver: str, n: int, answer: str, secs: float, **kw: Any
) -> dict[str, Any]:
    row = {
        "cell_key": f"k{i}",
        "spec_hash": "h" * 64,
        "family": family,
        "params": kw.pop("params", "{}"),
        "n": n,
        "rep": 0,
        "seed": i,
        "solver": solver,
        "method": solver,
        "answer": answer,
        "expected": kw.pop("expected", None),
        "proof_kind": "",
        "proof_basis": "",
        "reason": kw.pop("reason", ""),
        "seconds": secs,
        "build_seconds": 0.0,
        "time_limit": 4.0,
        "peak_rss_bytes": 1,
        "instance_info": "{}",
        "geninv_version": kw.pop("version", "0.1.0"),
        "solver_version": "x",
        "machine": "test machine",
    }
    row.update(kw)
    return row


def synthetic_store(db: Path) -> int:
    """A store with exponential times (some timed out at 4 s), a source solver, an
    approximate backend at two margins, and hostile strings everywhere they can be."""
    rng = np.random.default_rng(0)
    rows = []
    for n in range(6, 21, 2):
        for rep in range(3):
            for solver, b in (("enumerate", 1.0), ("sat", 0.55), ("cadical", 0.5)):
                t = 2.0 ** (-14 + b * n + rng.normal(0, 0.3))
                ans = "unknown" if t >= 4.0 else "no"
                seed = 100 * n + rep  # every solver of a coordinate: one instance
                rows.append(
                    _row(len(rows), "sat-thm1", solver, n, ans, min(t, 4.0), rep=rep, seed=seed)
                )
    for n in (4, 8, 12):
        for frac in (1.05, 2.0):
            for _ in range(4):
                ok = rng.random() < (0.9 if frac > 1.5 else 0.9 - 0.06 * n)
                params = json.dumps({"fraction": frac})
                rows.append(
                    _row(
                        len(rows),
                        "random-net",
                        "adam",
                        n,
                        "yes" if ok else "unknown",
                        0.3,
                        params=params,
                        expected="yes",
                        reason="" if ok else "no witness",
                    )
                )
    rows.append(
        _row(
            len(rows),
            "random-net",
            "adam",
            4,
            "unknown",
            0.1,
            params='{"fraction": 0.5}',
            reason="skipped: no bound",
        )
    )
    rows.append(
        _row(
            len(rows),
            "random-net",
            "pgd",
            4,
            "unknown",
            0.1,
            params='{"fraction": 0.5}',
            expected="no",
        )
    )
    for n in (5, 6, 7):
        rows.append(
            _row(
                len(rows),
                HOSTILE,
                HOSTILE_SOLVER,
                n,
                "yes",
                0.01 * n,
                reason=HOSTILE,
                version=HOSTILE,
                machine=HOSTILE,
            )
        )
    with Store(db) as store:
        store.add_spec("h" * 64, HOSTILE, f'name = "x"\n# </pre>{HOSTILE}\n')
        for r in rows:
            assert store.add_row(r)
    return len(rows)


#: Every tag and attribute the report writes: anything else came from the store.
TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "p",
    "code",
    "em",
    "div",
    "figure",
    "img",
    "table",
    "caption",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "pre",
}
ATTRS = {"lang", "charset", "http-equiv", "content", "name", "id", "class", "src", "alt", "colspan"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.rows_in_table: list[int] = []
        self.foreign: list[str] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS or any(a not in ATTRS for a, _ in attrs):
            self.foreign.append(f"<{tag} {attrs}>")
        if tag == "img":
            self.imgs.append(str(dict(attrs)["src"]))
        elif tag == "table":
            self.rows_in_table.append(0)
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows_in_table[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and abs(hi - 0.2775) < 1e-4
    lo, hi = wilson(5, 10)
    assert abs(lo - 0.2366) < 1e-4 and abs(hi - 0.7634) < 1e-4
    lo, hi = wilson(10, 10)
    assert abs(lo - 0.7225) < 1e-4 and hi == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_success_rates_count_trials_and_leave_out_skipped_refused_and_no_instances(
    tmp_path: Path,
) -> None:
    synthetic_store(tmp_path / "s.db")
    with Store(tmp_path / "s.db", create=False) as s:
        rows = s.rows()
    by_n = {(r.solver, r.value): r for r in success_rates(rows, "n")}
    adam4 = by_n[("adam", 4.0)]
    assert adam4.trials == 8 and adam4.skipped == 1 and adam4.no_instances == 0
    assert by_n[("pgd", 4.0)].trials == 0 and by_n[("pgd", 4.0)].no_instances == 1
    assert all(r.low <= r.successes / r.trials <= r.high for r in by_n.values() if r.trials)
    by_m = {(r.solver, r.value): r for r in success_rates(rows, "margin")}
    assert by_m[("adam", 2.0)].trials == 12 and by_m[("adam", 1.05)].trials == 12
    assert sum(r.trials for r in by_m.values()) == sum(r.trials for r in by_n.values())
    # exact source solvers and complete backends are not approximate
    assert not {"sat", "enumerate", "cadical"} & {r.solver for r in by_n.values()}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, str]:
    """The synthetic store and its report, written once through the CLI."""
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "s.db"
    cells = synthetic_store(db)
    out = tmp / "rep"
    code, stdout, err = run_cli("lab", "report", str(db), "-o", str(out), "--rounds", "20")
    assert code == 0, err
    return db, out, cells, stdout


def test_report_structure_and_hostile_store(report: tuple[Path, Path, int, str]) -> None:
    _, out, cells, stdout = report
    assert f"{cells} cell(s)" in stdout
    text = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "<img src=x" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text  # shown, escaped
    page = _Page()
    page.feed(text)
    assert page.foreign == []  # only the report's own tags and attributes
    # 3 families: 3 time figures; 1 family with approximate cells: 1 rates figure
    assert len(page.imgs) == 4, page.imgs
    for src in page.imgs:
        f = out / src
        assert f.is_file() and f.resolve().parent.parent == out.resolve(), src
        data = f.read_bytes()
        assert ET.fromstring(data).tag.endswith("svg") and b"<script" not in data
    # fits (all, no-instances, yes-instances), status, rates by n and by margin, 3 recorded
    # versions, the libraries
    assert len(page.rows_in_table) == 10 and min(page.rows_in_table) >= 1, page.rows_in_table
    assert "known to be no (the time to refute)" in text
    w, h = _png_size((out / "png/time_vs_n.png").read_bytes())
    assert 200 < w < 2000 and 150 < h < 2000
    assert _png_size((out / "png/success_rates.png").read_bytes())[0] > 100
    meta = json.loads((out / "report.json").read_text())
    assert meta["format"] == "geninv-lab-report" and meta["cells"] == cells
    assert sorted(meta["figures"]) == sorted(
        [*page.imgs, "png/success_rates.png", "png/time_vs_n.png"]
    )
    # the fitted bases are in the table: enumerate's near 2 (b = 1 in the synthetic times)
    enum = text[text.index("<td>enumerate</td>") :].split("</tr>")[0]
    base = float(enum.split("<td>")[7].split("</td>")[0])
    assert 1.85 < base < 2.15, enum
    assert "ratio to source" in text and "cadical (source)" in text


TINY = """name = "tiny"
time_limit = 10
[[families]]
family = "sat-thm1"
sizes = [5, 7]
seeds = 2
solvers = ["sat", "cadical"]
"""


def test_report_of_a_real_sweep_and_rewriting(tmp_path: Path) -> None:
    """A real sweep (8 cells, inline) through the CLI; refused without --force,
    replaced with it, and a directory geninv did not write never replaced."""
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    db = tmp_path / "t.db"
    code, _, err = run_cli("lab", "run", str(spec), "--store", str(db), "--inline", "--no-progress")
    assert code == 0, err
    out = tmp_path / "rep"
    code, stdout, err = run_cli("lab", "report", str(db), "-o", str(out), "--rounds", "0")
    assert code == 0 and "8 cell(s)" in stdout, err
    text = (out / "index.html").read_text()
    assert "tiny" in text and "sat-thm1" in text and (out / "png/time_vs_n.png").is_file()
    assert not (out / "png/success_rates.png").exists()  # no approximate backend ran
    assert "no cell of an approximate backend" in text
    code, _, err = run_cli("lab", "report", str(db), "-o", str(out))
    assert code == 2 and "already exists" in err and err.count("\n") == 1
    (out / "index.html").write_text("old")
    code, _, err = run_cli("lab", "report", str(db), "-o", str(out), "--force", "--rounds", "0")
    assert code == 0, err
    assert (out / "index.html").read_text().startswith("<!DOCTYPE html>")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    code, _, err = run_cli("lab", "report", str(db), "-o", str(foreign), "--force")
    assert code == 2 and "did not write" in err and err.count("\n") == 1
    assert (foreign / "notes.txt").read_text() == "keep"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_not_a_store_is_one_line_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 50)
    code, _, err = run_cli("lab", "report", str(junk), "-o", str(tmp_path / "r"))
    assert code == 2 and "not a geninv lab store" in err and err.count("\n") == 1
    code, _, err = run_cli("lab", "report", str(tmp_path / "none.db"), "-o", str(tmp_path / "r"))
    assert code == 2 and "no such results store" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()
    # an empty file, another program's database: refused, and left exactly as they were
    empty = tmp_path / "empty.db"
    empty.touch()
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as con, con:
        con.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    for path in (empty, other):
        code, _, err = run_cli("lab", "report", str(path), "-o", str(tmp_path / "r"))
        assert code == 2 and "not a geninv lab store" in err and err.count("\n") == 1, err
    assert empty.read_bytes() == b"" and other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "junk.db", "other.db"]
    # the cells table's columns but no specs table, or values no sweep writes
    from geninv.lab.store import NAMES

    good: dict[str, object] = {n: "a" for n in NAMES} | {"n": 3, "answer": "yes"}
    good |= {"seconds": 1.0, "time_limit": 2.0}
    cases = [
        (False, {}),
        (True, {"seconds": math.nan}),
        (True, {"time_limit": -1.0}),
        (True, {"n": "x"}),
        (True, {"answer": "maybe"}),
    ]
    for i, (with_specs, change) in enumerate(cases):
        fake = tmp_path / f"fake{i}.db"
        with contextlib.closing(sqlite3.connect(fake)) as con, con:
            con.execute(f"CREATE TABLE cells ({', '.join(NAMES)})")
            if with_specs:
                con.execute("CREATE TABLE specs (spec_hash, name, toml, added_at)")
            row = good | change
            con.execute(
                f"INSERT INTO cells VALUES ({', '.join('?' * len(NAMES))})", [row[n] for n in NAMES]
            )
        code, _, err = run_cli("lab", "report", str(fake), "-o", str(tmp_path / "r"))
        assert code == 2 and "not a geninv lab store" in err and err.count("\n") == 1, (i, err)
    assert not (tmp_path / "r").exists()


CHECK = """
window.addEventListener("load", function () {
  var bad = [];
  var imgs = document.querySelectorAll("img");
  imgs.forEach(function (i) {
    if (!(i.complete && i.naturalWidth > 0)) { bad.push(i.getAttribute("src")); }
  });
  document.querySelectorAll("table").forEach(function (t, k) {
    if (t.tBodies.length === 0 || t.tBodies[0].rows.length === 0) { bad.push("table " + k); }
  });
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-rendered", bad.length ? "bad: " + bad.join(" ") : "ok");
});
"""


def chromium() -> str:
    """Debian's chromium binary; the test fails (not skips) without it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is needed to check the report renders: install Debian's "
        "package (apt-get install -y chromium)"
    )


def test_report_renders_in_headless_chromium(
    report: tuple[Path, Path, int, str], tmp_path: Path
) -> None:
    browser = chromium()
    _, out, _, _ = report
    text = (out / "index.html").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(CHECK.encode()).digest()).decode()
    policy = CSP.replace("'", "&#x27;")
    assert policy in text  # the page's own policy, with the check's hash added
    checked = text.replace(policy, policy + f"; script-src &#x27;sha256-{digest}&#x27;")
    checked = checked.replace("</body>", f"<script>{CHECK}</script></body>")
    (out / "check.html").write_text(checked, encoding="utf-8")
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
        "--user-data-dir=" + str(tmp_path / "profile"),
    ]
    url = (out / "check.html").as_uri()
    res = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    n_img = text.count("<img ")
    assert f'data-images="{n_img}"' in dom, dom[:500]
    assert 'data-rendered="ok"' in dom, dom[dom.find("<body") : dom.find("<body") + 300]
    # the page's policy blocks a script it does not list (had one slipped through)
    rogue = text.replace(
        "</body>", '<script>document.body.setAttribute("data-x", "1")</script></body>'
    )
    (out / "rogue.html").write_text(rogue, encoding="utf-8")
    res = subprocess.run(
        [*flags, "--dump-dom", (out / "rogue.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert (
        res.returncode == 0
        and "<body" in res.stdout
        and "data-x" not in res.stdout.split("<script")[0]
    )
    # the page as written (no script) renders too: a screenshot of it
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        [*flags, "--window-size=1200,2400", f"--screenshot={shot}", (out / "index.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    assert _png_size(shot.read_bytes()) == (1200, 2400)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("$\\{}^_ax\n\t<>&'\"é∞")), max_size=40))
def test_any_store_string_renders_as_a_label(text: str) -> None:
    """matplotlib parses ``$...$`` as mathtext and raises on a malformed one; a label
    from the store never enters it, whatever its characters."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([1, 2], [1, 2], label=label(text))
    ax.set_title(label(text))
    ax.legend()
    svg = render(fig, "svg")
    assert ET.fromstring(svg).tag.endswith("svg")
    assert len(label(text)) <= 2 * 48 + 1 and "\n" not in label(text)


def test_a_large_store_gives_a_bounded_page(tmp_path: Path) -> None:
    """12,000 cells over 400 sizes: the lines are binned to 60 points, so the figure and
    the page are about the size of a small store's."""
    rng = np.random.default_rng(5)
    db = tmp_path / "big.db"
    with Store(db) as store:
        store.add_spec("h" * 64, "big", 'name = "big"\n')
        i = 0
        for n in range(1, 401):
            for solver, b in (("sat", 0.02), ("enumerate", 0.03)):
                for _ in range(15):
                    t = 2.0 ** (-10 + b * n + rng.normal(0, 0.3))
                    store.add_row(_row(i, "sat-thm1", solver, n, "no", min(t, 4.0)))
                    i += 1
    assert i == 12_000
    out = tmp_path / "rep"
    write_report(db, out, rounds=0)
    svg = (out / "svg/time_00.svg").read_bytes()
    assert len(svg) < 200_000, len(svg)
    assert svg.count(b"<path") < 600  # 2 lines of <= 60 points, bands, axes, glyphs
    assert len((out / "index.html").read_bytes()) < 30_000
    with Store(db, create=False) as store:
        series = series_of("sat", [r for r in store.rows() if r["solver"] == "sat"])
    assert len(series.n) == 60 and sum(series.cells) == 6000


def test_tables_stop_at_their_cap_and_an_empty_store_still_renders(tmp_path: Path) -> None:
    from geninv.lab.report import MAX_TABLE_ROWS, _table

    html_text = _table("t", ("a",), [(k,) for k in range(MAX_TABLE_ROWS + 7)], "x")
    assert html_text.count("<tr>") == MAX_TABLE_ROWS + 1 and "7 more row(s)" in html_text
    db = tmp_path / "empty.db"
    Store(db).close()
    code, stdout, err = run_cli("lab", "report", str(db), "-o", str(tmp_path / "r"))
    assert code == 0 and "0 cell(s)" in stdout, err
    text = (tmp_path / "r/index.html").read_text()
    assert "(no cells)" in text and "(none)" in text
