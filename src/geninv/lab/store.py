"""The results store: one SQLite file (standard :mod:`sqlite3`), WAL mode, append-only.

Tables:

* ``specs``: one row per spec ever run into the store (``spec_hash`` primary key, its
  name and TOML text), so every cell can be traced to the spec that made it.
* ``cells``: one row per *finished* cell (:data:`COLUMNS`); ``cell_key`` is UNIQUE, so
  a cell can never be recorded twice, and triggers refuse every UPDATE and DELETE.

Each row is committed on its own as soon as its cell finishes (WAL, ``synchronous =
NORMAL``: a committed row survives the process being killed), so a SIGKILL of the
sweep loses only cells that had not finished.  :func:`export_table` writes the rows
as CSV, or as Parquet when :mod:`pyarrow` is installed.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path
from typing import Any

from geninv.errors import UnsupportedError, ValidationError

#: The ``cells`` columns (name, SQL type), in order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cell_key", "TEXT NOT NULL UNIQUE"),
    ("spec_hash", "TEXT NOT NULL"),
    ("family", "TEXT NOT NULL"),
    ("params", "TEXT NOT NULL"),
    ("n", "INTEGER NOT NULL"),
    ("rep", "INTEGER NOT NULL"),
    ("seed", "INTEGER NOT NULL"),
    ("solver", "TEXT NOT NULL"),
    ("method", "TEXT"),
    ("answer", "TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'unknown'))"),
    ("expected", "TEXT"),
    ("proof_kind", "TEXT"),
    ("proof_basis", "TEXT"),
    ("reason", "TEXT"),
    ("seconds", "REAL NOT NULL"),
    ("build_seconds", "REAL"),
    ("time_limit", "REAL NOT NULL"),
    ("peak_rss_bytes", "INTEGER"),
    ("instance_info", "TEXT"),
    ("geninv_version", "TEXT"),
    ("solver_version", "TEXT"),
    ("machine", "TEXT"),
    ("finished_at", "TEXT NOT NULL"),
)
NAMES = tuple(name for name, _ in COLUMNS)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS specs (
    spec_hash TEXT PRIMARY KEY, name TEXT NOT NULL, toml TEXT NOT NULL, added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY, {", ".join(f"{n} {t}" for n, t in COLUMNS)}
);
CREATE INDEX IF NOT EXISTS cells_spec ON cells (spec_hash);
CREATE TRIGGER IF NOT EXISTS cells_no_update BEFORE UPDATE ON cells
BEGIN SELECT RAISE(ABORT, 'the lab store is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cells_no_delete BEFORE DELETE ON cells
BEGIN SELECT RAISE(ABORT, 'the lab store is append-only'); END;
"""


_INSERT = f"INSERT INTO cells ({', '.join(NAMES)}) VALUES ({', '.join('?' * len(NAMES))})"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Store:
    """An open results store (see the module docstring).  ``create=False`` refuses a
    missing file and opens it read-only (for reading and exporting: a file that is not a
    store, even an empty one, is never turned into a database)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ValidationError(f"{path}: no such results store; expected a geninv lab .db file")
        try:
            if create:
                self.db = sqlite3.connect(str(self.path), timeout=30.0)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(_SCHEMA)
            else:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self.db = sqlite3.connect(uri, uri=True, timeout=30.0)
            have = {r[1] for r in self.db.execute("PRAGMA table_info(cells)")}
        except sqlite3.DatabaseError as exc:
            raise ValidationError(
                f"{path}: not a geninv lab store ({exc}); expected a .db file it wrote"
            ) from None
        missing = set(NAMES) - have
        if missing:
            raise ValidationError(
                f"{path}: not a geninv lab store (the cells table lacks {sorted(missing)[0]})"
            )

    def close(self) -> None:
        """Close the database (every finished row is already committed)."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_spec(self, spec_hash: str, name: str, toml: str) -> None:
        """Record a spec (once per hash)."""
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO specs VALUES (?, ?, ?, ?)", (spec_hash, name, toml, _now())
            )

    def count(self, spec_hash: str | None = None) -> int:
        """The number of finished cells (of one spec, when ``spec_hash`` is given)."""
        if spec_hash is None:
            row = self.db.execute("SELECT COUNT(*) FROM cells").fetchone()
        else:
            q = "SELECT COUNT(*) FROM cells WHERE spec_hash = ?"
            row = self.db.execute(q, (spec_hash,)).fetchone()
        return int(row[0])

    def done_keys(self, spec_hash: str) -> set[str]:
        """The keys of the cells of a spec already finished."""
        q = "SELECT cell_key FROM cells WHERE spec_hash = ?"
        return {r[0] for r in self.db.execute(q, (spec_hash,))}

    def add_row(self, row: dict[str, Any]) -> bool:
        """Append one finished cell and commit it; False (nothing written) when its key
        is already there."""
        values = [row.get(n) for n in NAMES]
        values[NAMES.index("finished_at")] = _now()
        try:
            with self.db:
                self.db.execute(_INSERT, values)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                return False
            raise
        return True

    def rows(self) -> list[dict[str, Any]]:
        """Every row, in the order they were recorded."""
        cur = self.db.execute(f"SELECT {', '.join(NAMES)} FROM cells ORDER BY id")
        return [dict(zip(NAMES, r, strict=True)) for r in cur]


def export_table(db: str | Path, output: str | Path, *, force: bool = False) -> int:
    """Write every row of the store ``db`` to ``output``: CSV (``.csv``) or Parquet
    (``.parquet``, needs pyarrow).  Returns the number of rows."""
    out = Path(output)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValidationError(f"{output}: expected a .csv or .parquet file name")
    with Store(db, create=False) as store:
        rows = store.rows()
    from geninv.io import atomic

    protect = [str(db)]
    if suffix == ".parquet":
        try:
            import importlib

            pa: Any = importlib.import_module("pyarrow")
            pq: Any = importlib.import_module("pyarrow.parquet")
        except ImportError:
            raise UnsupportedError(
                "Parquet export needs pyarrow, which is not installed "
                "(pip install pyarrow); or write CSV (-o FILE.csv)"
            ) from None
        table = pa.Table.from_pylist(rows) if rows else pa.table({n: [] for n in NAMES})
        with atomic.atomic_file(out, force=force, protect=protect, mode="wb") as fh:
            pq.write_table(table, fh)
        return len(rows)
    with atomic.atomic_file(out, force=force, protect=protect) as fh:
        w = csv.DictWriter(fh, fieldnames=list(NAMES))
        w.writeheader()
        w.writerows(rows)
    return len(rows)
