"""Shared fixtures and helpers for the test suite."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from geninv.io.dimacs import CNF

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
SHARED_REASON = (
    "../shared/data is not present beside this checkout (CI and the developers' machines "
    "have it; a user's clone may not)"
)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_REASON)
    return SHARED_DATA


def random_cnf(
    rng: np.random.Generator,
    n: int,
    m: int,
    lengths: tuple[int, ...] = (3,),
    p_repeat: float = 0.0,
    p_taut: float = 0.0,
    p_empty: float = 0.0,
) -> CNF:
    """A random CNF with clause lengths drawn from ``lengths`` and optional oddities."""
    clauses: list[tuple[int, ...]] = []
    for _ in range(m):
        if rng.random() < p_empty:
            clauses.append(())
            continue
        k = int(rng.choice(lengths))
        k = min(k, n)
        vs = rng.choice(n, size=k, replace=False) + 1
        lits = [int(v) * int(rng.choice([-1, 1])) for v in vs]
        if lits and rng.random() < p_repeat:
            lits.append(lits[int(rng.integers(len(lits)))])
        if lits and rng.random() < p_taut:
            lits.append(-lits[0])
        rng.shuffle(lits)
        clauses.append(tuple(lits))
    return CNF(n, tuple(clauses))


def varied_cnf(rng: np.random.Generator, n: int, m: int, odd: bool, p_empty: float) -> CNF:
    """:func:`random_cnf`: a 3-CNF, or (``odd``) clauses of 1 to 4 literals with repeated
    literals, tautologies and empty clauses (probability ``p_empty``) mixed in."""
    return random_cnf(
        rng,
        n,
        m,
        lengths=(1, 2, 3, 4) if odd else (3,),
        p_repeat=0.1 if odd else 0.0,
        p_taut=0.1 if odd else 0.0,
        p_empty=p_empty if odd else 0.0,
    )


BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def load_bench(stem: str) -> ModuleType:
    """Import ``bench/<stem>.py`` (bench/ is not a package) for a smoke test.

    The module is registered in ``sys.modules`` under ``stem`` (dataclasses look
    their module up there), with ``bench/`` on ``sys.path`` for its ``common`` import.
    """
    import importlib.util
    import sys

    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(stem, BENCH_DIR / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    spec.loader.exec_module(module)
    return module
