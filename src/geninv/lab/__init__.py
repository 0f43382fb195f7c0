"""The hardness lab (issue 18): sweeps of families x sizes x seeds x solvers, run on
Dask into a resumable, append-only SQLite store.

:mod:`~geninv.lab.spec` reads and validates a sweep spec (TOML),
:mod:`~geninv.lab.families` builds each cell's seeded instance with geninv's
reductions, :mod:`~geninv.lab.cells` runs one cell (a geninv backend through
:func:`geninv.workflows.solve`, or the source problem's own solver),
:mod:`~geninv.lab.store` is the results store and :mod:`~geninv.lab.runner` the sweep;
:mod:`~geninv.lab.fit` fits the scaling, :mod:`~geninv.lab.rates` counts the approximate
backends' success rates, :mod:`~geninv.lab.report` (figures: :mod:`~geninv.lab.plots`)
writes the HTML report, :mod:`~geninv.lab.peers` runs peer verifiers (Marabou, OMLT +
HiGHS, gurobi-ml) as solvers, :mod:`~geninv.lab.export` writes a benchmark release with
ground truth and :mod:`~geninv.lab.release` checks one.  ``geninv lab run`` / ``quick`` /
``export-table`` / ``fit`` / ``report`` / ``export`` / ``check-release`` are the command
line (docs/lab.md).
"""

from __future__ import annotations

from geninv.lab.spec import Spec, parse_spec, quick_spec, read_spec

__all__ = ["Spec", "parse_spec", "quick_spec", "read_spec"]
