"""One exception hierarchy for geninv.

Every error a user can cause derives from :class:`GeninvError`.  The CLI turns
any of them into a single line on stderr and exit status 2; library users catch
``GeninvError`` (or a subclass) instead of parsing messages.  Messages name the
file and place when there is one and say what was expected, so the next step
is obvious.
"""

from __future__ import annotations


class GeninvError(Exception):
    """Root of all errors raised deliberately by geninv."""


class ParseError(GeninvError):
    """A file could not be read as the format it claims to be.

    ``str(err)`` has the form ``FILE:LINE: what is wrong (expected ...)`` when a
    line is known, ``FILE: ...`` otherwise.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class ValidationError(GeninvError):
    """Inputs are well-formed but inconsistent (wrong shape, p < 1, delta < 0, ...)."""


class UnsupportedError(GeninvError):
    """The input is valid but uses something geninv (or the chosen backend) cannot handle."""


class BackendUnavailableError(GeninvError):
    """A solver backend needs a Python module that is not installed."""


class OutputExistsError(GeninvError):
    """An output path already exists and ``--force`` was not given."""


class BudgetExpired(GeninvError):
    """A :class:`geninv.budget.Budget` ran out (its deadline passed) or was interrupted.

    Raised only by :meth:`geninv.budget.Budget.check`; a backend that calls it turns
    the error into an ``unknown`` naming the time limit (never a ``no``)."""
