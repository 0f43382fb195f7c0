"""Solver backends behind one interface.

:mod:`geninv.solvers.interface` (what a backend is), :mod:`geninv.solvers.registry`
(the backends by name), :mod:`geninv.solvers.portfolio` (``auto``'s ranking) and
:mod:`geninv.solvers.base` (the driver, :func:`solve`).  The names below are loaded on
first use, so that importing one backend's module does not import the driver.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["REGISTRY", "Backend", "Capabilities", "choose_backend", "get_backend", "solve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("geninv.solvers.base"), name)
    raise AttributeError(f"module 'geninv.solvers' has no attribute {name!r}")
