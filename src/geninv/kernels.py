"""Compiled loops (numba) for reading small integer networks, opt-in.

Reading a Theorem 1 network of a 100-clause formula into its CNF takes about 50
numpy calls (integrality and row sums of every layer, the corner-indicator test
of every unit, the literals of every clause).  Each call costs a microsecond or
more whatever the array size, so together they cost more than CaDiCaL's whole
search on such a formula.  These kernels do the same work in one compiled pass
each (:mod:`geninv._numba_kernels`).  They are *opt-in*: importing numba and
loading the kernels from numba's disk cache takes about 1.5 s (about 8 s the
first time, when they are compiled), which pays off only for a process that
reads thousands of small networks (sweeps, benchmarks), never for one
``geninv solve``.

Enable them with the environment variable ``GENINV_KERNELS=numba`` or
:func:`enable`; ``GENINV_KERNELS=numpy`` (the default) keeps the numpy code.
Every kernel has a numpy twin in its caller (:meth:`ReLUNetwork.integer_layers`,
:func:`geninv.solvers.sat.clause_form`), which is the reference: the tests check
that both give the same arrays.  Without numba installed, :func:`enable` raises
:class:`~geninv.errors.BackendUnavailableError`.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from geninv.errors import BackendUnavailableError, ValidationError

#: Environment variable choosing the implementation: "numpy" (default) or "numba".
ENV = "GENINV_KERNELS"

_state: dict[str, Any] = {"wanted": None, "kernels": None}


def _wanted() -> bool:
    if _state["wanted"] is None:
        mode = os.environ.get(ENV, "numpy").strip().lower() or "numpy"
        if mode not in ("numpy", "numba"):
            raise ValidationError(f"{ENV}={mode!r}: expected 'numpy' or 'numba'")
        _state["wanted"] = mode == "numba"
    return bool(_state["wanted"])


def available() -> bool:
    """Whether numba is installed (found without importing it)."""
    return importlib.util.find_spec("numba") is not None


def enable(on: bool = True) -> bool:
    """Use the compiled kernels from now on (``on=False``: the numpy code again).

    Imports numba and compiles (or loads from its disk cache) every kernel now,
    so that no later call pays for it; returns whether kernels are in use.
    """
    _state["wanted"] = on
    if on:
        _load()
    return on


def get() -> Any | None:
    """The kernel namespace when kernels are enabled, else None (use numpy)."""
    wanted = _state["wanted"]
    if wanted is False:
        return None
    if wanted is None and not _wanted():
        return None
    kern = _state["kernels"]
    return kern if kern is not None else _load()


def _load() -> Any:
    if _state["kernels"] is None:
        if not available():
            raise BackendUnavailableError(
                f"{ENV}=numba needs numba: pip install numba (or unset {ENV})"
            )
        _state["kernels"] = _compile()
    return _state["kernels"]


def _compile() -> Any:
    from geninv import _numba_kernels

    _numba_kernels.warm()
    return _numba_kernels
