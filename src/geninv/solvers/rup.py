"""The DRUP checker, kept importable here: it lives in :mod:`geninv.rup`, below the
solvers, so that :mod:`geninv.proof` can check a SAT backend's *no* without importing
solver code."""

from __future__ import annotations

from geninv.rup import Clause as Clause
from geninv.rup import ProofStep as ProofStep
from geninv.rup import RupResult as RupResult
from geninv.rup import check_drup as check_drup
from geninv.rup import check_drup_files as check_drup_files
from geninv.rup import parse_dimacs as parse_dimacs
from geninv.rup import parse_drup as parse_drup
