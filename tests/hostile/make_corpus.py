"""Generate the hostile-input corpus: every input kind geninv reads, broken every way.

Each :class:`Case` is a set of small files and the ``geninv`` command line
that reads them; every case must end with exit status 2, exactly one line on
stderr, no traceback and nothing left behind (tests/test_hostile.py).  The
hostile part is the header, the size, the digits, the nesting or the type --
never real work -- so the whole corpus runs in seconds.

Classes (``Case.cls``): ``numbers`` (digits, exponents, float range, NaN),
``sizes`` (counts and dimensions beyond the limits of geninv.io.limits),
``nesting`` (deep JSON / VNN-LIB), ``types`` (wrong JSON types, missing
keys), ``inconsistent`` (empty boxes, lengths that disagree, impossible
thresholds), ``malformed`` (syntax, truncation, encoding) and ``args``
(command-line values).

Run by hand to write the corpus to a folder (one sub-folder per case with a
``cmd.txt``)::

    python tests/hostile/make_corpus.py OUT_DIR
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

if __name__ == "__main__":  # run by hand: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.hostile.base import Case, _Builder, _fixtures
from tests.hostile.binary_inputs import _networks, _targets
from tests.hostile.instances import _instances, _misc, _witnesses
from tests.hostile.text_inputs import _cnf, _cvp, _fplll, _graphs, _vnnlib

__all__ = ["Case", "build_corpus", "iter_written"]


def build_corpus() -> list[Case]:
    """Every case of the corpus (deterministic: the same list on every run)."""
    b = _Builder(_fixtures())
    for part in (
        _cnf,
        _graphs,
        _cvp,
        _fplll,
        _networks,
        _targets,
        _vnnlib,
        _instances,
        _witnesses,
        _misc,
    ):
        part(b)
    names = [c.name for c in b.cases]
    assert len(set(names)) == len(names)
    return b.cases


def iter_written(root: Path) -> Iterator[tuple[Case, Path]]:
    """Write every case into ``root/<case name>`` and yield it with its folder."""
    for case in build_corpus():
        folder = root / case.name
        folder.mkdir(parents=True)
        case.write(folder)
        yield case, folder


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: make_corpus.py OUT_DIR\n")
        return 2
    root = Path(argv[0])
    count = 0
    for case, folder in iter_written(root):
        env = " ".join(f"{k}={v}" for k, v in case.env)
        (folder / "cmd.txt").write_text(
            (env + " " if env else "") + "geninv " + " ".join(map(repr, case.argv)) + "\n"
        )
        count += 1
    sys.stdout.write(f"wrote {count} cases to {root}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
