"""Solver backends behind one interface (:mod:`geninv.solvers.base`)."""

from geninv.solvers.base import REGISTRY, Backend, Capabilities, choose_backend, get_backend, solve

__all__ = ["REGISTRY", "Backend", "Capabilities", "choose_backend", "get_backend", "solve"]
