"""geninv: inverting ReLU generative models, with executable hardness reductions.

The Python API (:mod:`geninv.workflows`): ``geninv.reduce``, ``geninv.new_problem``,
``geninv.solve``, ``geninv.check``, ``geninv.extract``, ``geninv.save``, ``geninv.load``.
The names below are imported when first used (PEP 562), so that ``import geninv``
is cheap: the ``geninv`` program installs its signal handling before numpy loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geninv.errors import (
        BackendUnavailableError,
        GeninvError,
        ParseError,
        UnsupportedError,
        ValidationError,
    )
    from geninv.network import ReLUNetwork
    from geninv.problem import Domain, InversionProblem, Solution, Status
    from geninv.workflows import check, extract, load, new_problem, reduce, save, solve

__version__ = "0.1.0"

_WHERE = {
    "BackendUnavailableError": "geninv.errors",
    "GeninvError": "geninv.errors",
    "ParseError": "geninv.errors",
    "UnsupportedError": "geninv.errors",
    "ValidationError": "geninv.errors",
    "ReLUNetwork": "geninv.network",
    "Domain": "geninv.problem",
    "InversionProblem": "geninv.problem",
    "Solution": "geninv.problem",
    "Status": "geninv.problem",
    "reduce": "geninv.workflows",
    "new_problem": "geninv.workflows",
    "solve": "geninv.workflows",
    "check": "geninv.workflows",
    "extract": "geninv.workflows",
    "save": "geninv.workflows",
    "load": "geninv.workflows",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'geninv' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BackendUnavailableError",
    "Domain",
    "GeninvError",
    "InversionProblem",
    "ParseError",
    "ReLUNetwork",
    "Solution",
    "Status",
    "UnsupportedError",
    "ValidationError",
    "__version__",
    "check",
    "extract",
    "load",
    "new_problem",
    "reduce",
    "save",
    "solve",
]
