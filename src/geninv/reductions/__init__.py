"""Executable versions of the paper's hardness reductions."""

from geninv.reductions.base import Chain, InverseData, Reduction

__all__ = ["Chain", "InverseData", "Reduction"]
