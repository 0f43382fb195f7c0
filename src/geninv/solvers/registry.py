"""The backends by name: a table of built-ins loaded lazily, and plug-ins.

The registry imports one way: it names every built-in backend as ``module:Class``
(:data:`BUILTIN`) and imports a module only when the registry is first read; the
backends never import the registry.  A plug-in backend registers itself with
:func:`register`.  Importing a backend module imports no heavy dependency (torch,
highspy, pysat, pyscipopt are imported when a backend runs).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

from geninv.errors import BackendUnavailableError, UnsupportedError
from geninv.solvers.interface import Backend

#: Every built-in backend: name -> ``module:Class``.
BUILTIN: dict[str, str] = {
    "enumerate": "geninv.solvers.enumerate.backend:EnumerateBackend",
    "sat": "geninv.solvers.sat.backend:SatBackend",
    "corners": "geninv.solvers.corners.backend:CornersBackend",
    "milp": "geninv.solvers.milp.backend:MilpBackend",
    "milp-scip": "geninv.solvers.milp.backend:MilpScipBackend",
    "miqp": "geninv.solvers.miqp:MiqpBackend",
    "bab": "geninv.solvers.bab.backend:BabBackend",
    "primal": "geninv.solvers.primal:PrimalBackend",
    "layerwise": "geninv.solvers.layerwise:LayerwiseBackend",
    "adam": "geninv.solvers.approx.adam:AdamBackend",
    "pgd": "geninv.solvers.approx.pgd:PgdBackend",
    "admm": "geninv.solvers.approx.admm:AdmmBackend",
    "langevin": "geninv.solvers.approx.langevin:LangevinBackend",
    "flipgd": "geninv.solvers.approx.flipgd:FlipGdBackend",
}


def load(spec: str) -> type[Backend]:
    """The class named by ``module:Class``."""
    module, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{spec} is not a geninv backend class")
    return cls


class _Registry(MutableMapping[str, type[Backend]]):
    """Name -> backend class; the built-ins are imported on first use."""

    def __init__(self) -> None:
        self._data: dict[str, type[Backend]] = {}
        self._loaded = False

    def _ensure(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for name, spec in BUILTIN.items():
            cls = load(spec)
            if cls.name != name:
                raise TypeError(f"{spec} calls itself {cls.name!r}, the table {name!r}")
            self._data.setdefault(name, cls)

    def __getitem__(self, name: str) -> type[Backend]:
        self._ensure()
        return self._data[name]

    def __setitem__(self, name: str, cls: type[Backend]) -> None:
        self._ensure()
        self._data[name] = cls

    def __delitem__(self, name: str) -> None:
        self._ensure()
        del self._data[name]

    def __iter__(self) -> Iterator[str]:
        self._ensure()
        return iter(list(self._data))

    def __len__(self) -> int:
        self._ensure()
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        self._ensure()
        return name in self._data


#: Every backend by name (the built-ins, then plug-ins).
REGISTRY: MutableMapping[str, type[Backend]] = _Registry()


def register(cls: type[Backend]) -> type[Backend]:
    """Add a plug-in backend (a class decorator); a name may be taken once."""
    if cls.name in REGISTRY:
        raise ValueError(f"backend {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get_backend(name: str) -> type[Backend]:
    """The backend called ``name``, installed (else a message that says what to install)."""
    if name not in REGISTRY:
        raise UnsupportedError(
            f"unknown method {name!r}; available: {', '.join(['auto', *sorted(REGISTRY)])}"
        )
    cls = REGISTRY[name]
    missing = cls.missing_modules()
    if missing:
        raise BackendUnavailableError(
            f"method {name!r} needs the Python module(s) {', '.join(missing)}; "
            f"install them (pip install {' '.join(missing)}) or choose another --method"
        )
    return cls


def load_builtin_backends() -> None:
    """Import every built-in backend now (the registry does so on first use anyway)."""
    len(REGISTRY)
