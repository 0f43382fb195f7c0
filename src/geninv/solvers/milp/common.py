"""Shared names of the MILP backend: modes, tolerances, HiGHS handles and logs, the clock."""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import stat
import sys
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.problem import InversionProblem
from geninv.solvers.interface import MODES as MODES  # the one definition
from geninv.solvers.interface import Capabilities, capability_reason
from geninv.solvers.interface import Mode as Mode

#: Whether ``progress`` shows HiGHS's and SCIP's own logs (milp, milp-scip, miqp).  The
#: command line sets it from ``solve --verbose``, so that a terminal shows geninv's own
#: lines and no solver log unless asked; the Python API keeps ``progress=True`` verbose.
SOLVER_LOGS = True

#: A HiGHS instance (highspy is imported lazily, and older releases ship no type stubs).
_Highs = Any

Engine = Literal["highs", "scip"]
ENGINES: tuple[str, ...] = ("highs", "scip")
Norm = Literal["1", "inf"]
IntArray = npt.NDArray[np.int64]

#: Relative safety margin of every ``no`` (times the scale of the distances).
TOL_REL = 1e-6
#: Interval bounds are widened by this much times ``|W| |h| + |b|`` (float rounding).
BOUND_SLACK_REL = 1e-9
#: LP-derived bounds are widened by this much times ``1 + |W| |h| + |b|`` (LP tolerances).
LP_BOUND_MARGIN = 1e-6
#: Units within ``SNAP_REL * (1 + |W| |h| + |b|)`` of stability are made stable.
SNAP_REL = 1e-7
#: Weights of at most this magnitude are left out of the model (HiGHS drops them too).
TINY_WEIGHT = 1e-9
#: LP bound tightening is on by default for networks with at most this many units.
TIGHTEN_MAX_UNITS = 4000
#: Default seconds spent on LP bound tightening (and at most this share of a time limit).
BOUND_TIME = 10.0
BOUND_TIME_SHARE = 0.3
#: Exact projection of a witness is skipped above this many Fraction multiply-adds.
PROJECT_MAX_WORK = 1_000_000
#: At most this many of HiGHS's improving solutions are polished.
MAX_SAVED_SOLUTIONS = 8

NO_BOUNDS_MESSAGE = (
    "a real domain without bounds cannot be encoded as a MILP; "
    "give box bounds (geninv new --domain box ...)"
)
NORM_MESSAGE = "ℓp for p other than 1 and ∞: use --method miqp (SCIP)"


# ------------------------------------------------------------------ helpers
def _highs_module() -> Any:
    return importlib.import_module("highspy")


def highs_version() -> str:
    """'HiGHS x.y.z' of the installed highspy."""
    hs = _highs_module()
    return f"HiGHS {hs.HIGHS_VERSION_MAJOR}.{hs.HIGHS_VERSION_MINOR}.{hs.HIGHS_VERSION_PATCH}"


def _new_highs(progress: bool, log_path: str | None = None) -> _Highs:
    """A HiGHS instance, silent unless ``progress``; then it logs to ``log_path`` or stderr.

    The bare ``_core._Highs`` is used when present: the ``highspy.Highs`` wrapper
    prints a banner on stdout when it installs its callbacks.  HiGHS opens its
    log file for writing, which would truncate a stderr redirected to a file, so
    :class:`_Solver` logs to a temporary file in that case and copies it to
    stderr after each run.
    """
    hs = _highs_module()
    cls = getattr(getattr(hs, "_core", None), "_Highs", None) or hs.Highs
    h = cls()
    h.setOptionValue("output_flag", False)
    if progress:
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", log_path or "/dev/stderr")
    return h


def _copy_log(h: _Highs, log_path: str) -> None:
    h.setOptionValue("log_file", "")  # let HiGHS close the file
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            sys.stderr.write(f.read())
        sys.stderr.flush()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(log_path)


def _stderr_is_stream() -> bool:
    if os.name != "posix" or not os.path.exists("/dev/stderr"):
        return False
    try:
        mode = os.fstat(2).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


#: Activations the big-M encoding handles exactly.
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})
#: What the ``milp`` method accepts (``milp-scip`` too).
CAPABILITIES = Capabilities(
    domains=frozenset({"real", "box", "binary", "sign"}),
    exact=True,
    approximate=True,
    norms="1,inf",
    complete=True,
    activations=HANDLED_ACTIVATIONS,
)


def milp_reason(problem: InversionProblem, name: str = "milp") -> str | None:
    """Why the MILP method cannot take ``problem`` (None if it can)."""
    if problem.domain.kind == "real" and problem.input_box is None:
        return NO_BOUNDS_MESSAGE
    if not problem.is_exact_inversion and not (math.isinf(problem.p) or problem.p == 1):
        return NORM_MESSAGE
    return capability_reason(name, CAPABILITIES, problem)
