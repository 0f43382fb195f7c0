"""geninv: inverting ReLU generative models, with executable hardness reductions."""

from geninv.errors import (
    BackendUnavailableError,
    GeninvError,
    ParseError,
    UnsupportedError,
    ValidationError,
)
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status

__version__ = "0.1.0"

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
]
