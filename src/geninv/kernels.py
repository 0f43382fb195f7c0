"""Compiled loops for reading small integer networks: C when built (the default), else numpy.

Reading a Theorem 1 network of a 100-clause formula into its CNF takes about 50
numpy calls (integrality and row sums of every layer, the corner-indicator test
of every unit, the literals of every clause), and its exact check a dozen more.
Each call costs a microsecond or more whatever the array size, so together they
cost more than CaDiCaL's whole search on such a formula.  :mod:`geninv._ckernels`
(``src/geninv/_ckernels.c``) does the work of several of those calls in one
compiled pass each (``layer_plan``, ``layer_plan2``, ``clause_cnf``,
``affine_int``).  ``pip install`` builds it when a C compiler is present; the
build is optional, so the install succeeds without one and geninv then uses numpy.

Why C and not numba: importing numba and loading compiled kernels from its disk
cache took about 1.2 s per process here (numba 0.60: ``import numba`` alone
0.5 s), so numba kernels (geninv's first implementation) had to be opt-in and
paid off only in processes that read thousands of small networks; the C module
loads in well under a millisecond, so it is on by default.

The environment variable ``GENINV_KERNELS`` chooses: ``auto`` (the default: the C
kernels when they are built, else numpy), ``c`` (an error if they are not built)
or ``numpy``; or call :func:`use`.  Every kernel has a numpy twin in its caller
(:meth:`ReLUNetwork.integer_layers`, :meth:`ReLUNetwork.forward_int`,
:func:`geninv.solvers.sat.clause_form`), which is the reference: the tests check
that both give the same results.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from geninv.errors import BackendUnavailableError, ValidationError

#: Environment variable choosing the implementation (see the module docstring).
ENV = "GENINV_KERNELS"
#: The accepted values of :data:`ENV` and :func:`use`.
MODES = ("auto", "c", "numpy")

_UNSET: Any = object()
#: mode: the chosen mode (None: read ENV on first use); active: the kernel module in
#: use, None for numpy, _UNSET before the first :func:`get`.
_state: dict[str, Any] = {"mode": None, "active": _UNSET}


def _mode() -> str:
    if _state["mode"] is None:
        mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
        if mode not in MODES:
            raise ValidationError(f"{ENV}={mode!r}: expected one of {', '.join(MODES)}")
        _state["mode"] = mode
    return str(_state["mode"])


def c_built() -> bool:
    """Whether the C kernels were built (found without importing them)."""
    return importlib.util.find_spec("geninv._ckernels") is not None


def use(mode: str) -> Any | None:
    """Use the kernels of ``mode`` (one of :data:`MODES`) from now on, loading them
    now so that no later call pays for it; returns them (None for numpy)."""
    if mode not in MODES:
        raise ValidationError(f"kernels: expected one of {', '.join(MODES)}, got {mode!r}")
    _state.update(mode=mode, active=_UNSET)
    return get()


def name() -> str:
    """The implementation in use: ``"c"`` or ``"numpy"``."""
    return "numpy" if get() is None else "c"


def get() -> Any | None:
    """The kernel module in use, or None (use the numpy code)."""
    kern = _state["active"]
    if kern is not _UNSET:
        return kern
    kern = _load(_mode())
    _state["active"] = kern
    return kern


def _load(mode: str) -> Any | None:
    if mode == "numpy":
        return None
    if not c_built():
        if mode == "auto":
            return None
        raise BackendUnavailableError(
            f"{ENV}=c needs geninv's C kernels, which were not built: reinstall geninv "
            f"with a C compiler present (pip install -e .), or unset {ENV}"
        )
    return importlib.import_module("geninv._ckernels")
