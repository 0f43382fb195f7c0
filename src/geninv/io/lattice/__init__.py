"""Strict readers (and a writer) for lattice / closest-vector-problem inputs.

Every error a file can cause is a :class:`~geninv.errors.ParseError` whose
message is one line naming the file (and, for the fplll text format, the
line) and saying what was expected.  By stage:

* :mod:`geninv.io.lattice.instance`: :class:`CVPInstance` and the exact numbers
  every reader reads (:func:`parse_exact_number`);
* :mod:`geninv.io.lattice.fplll`: fplll's text format (:func:`read_fplll_matrix`,
  :func:`read_fplll_vector`);
* :mod:`geninv.io.lattice.cvp_json`: CVP JSON (:func:`read_cvp_json`,
  :func:`write_cvp_json`).

Every name is re-exported here.
"""

from __future__ import annotations

from geninv.io.lattice.cvp_json import cvp_to_json, parse_cvp_json, read_cvp_json, write_cvp_json
from geninv.io.lattice.fplll import (
    parse_fplll_matrix,
    parse_fplll_vector,
    read_fplll_matrix,
    read_fplll_vector,
)
from geninv.io.lattice.instance import CVPInstance, parse_exact_number

__all__ = [
    "CVPInstance",
    "cvp_to_json",
    "parse_cvp_json",
    "parse_exact_number",
    "parse_fplll_matrix",
    "parse_fplll_vector",
    "read_cvp_json",
    "read_fplll_matrix",
    "read_fplll_vector",
    "write_cvp_json",
]
