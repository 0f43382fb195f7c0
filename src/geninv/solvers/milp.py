"""Mixed-integer linear programming backend (HiGHS) for l1 / l-infinity inversion.

Decides ``||G(z) - x||_p <= delta`` (or ``< delta``) for p = 1 and p = inf, and
exact inversion ``G(z) = x`` for any p, over binary, sign, box and bounded real
latents, with the MILP solver HiGHS (``highspy``).  ``mode="optimize"`` also
minimises the distance and reports ``best_distance`` (exact distance of the best
point found) and ``lower_bound`` (HiGHS's dual bound) in ``stats``.

Encoding
--------
Latents: a binary ``z_i`` is an integer column in [0, 1]; a sign ``z_i`` is a
continuous column in [-1, 1] tied to a binary ``b_i`` by the row
``z_i - 2 b_i = -1``; a box (or a real domain with ``problem.input_box``, where
the network clamps its input so that solving over the box is equivalent) gives
continuous columns between the box bounds, rounded outward to floats.  A real
domain without an input box is refused: unbounded latents admit no big-M values.

Each unit computes ``a = w . h + b`` from the previous layer's columns ``h``.
With valid bounds ``l <= a <= u`` (see below) a ReLU unit ``y = max(a, 0)`` is

* stably inactive (``u <= 0``): ``y = 0``, no column at all;
* stably active (``l >= 0``): a free column ``y`` with the row ``y = a``;
* otherwise: a column ``y >= 0`` and a binary ``d`` with the big-M rows
  ``y >= a``, ``y <= a - l (1 - d)`` and ``y <= u d``.

For ``d = 1`` the rows force ``y = a >= 0``; for ``d = 0`` they force
``y = 0 >= a``; so every (z, y, d) with integral d satisfies ``y = ReLU(a)``.
An identity unit (``final_activation="identity"``) is a free column with
``y = a``.  (Stable units get no column bounds: tight redundant bounds have
tripped HiGHS's presolve.)

Distance: for p = inf (and for exact inversion with p other than 1, where all
norms agree) one column ``t >= 0`` with ``t >= y_j - x_j`` and
``t >= x_j - y_j``; for p = 1 one ``t_j`` per output likewise, and the distance
is ``sum_j t_j``.  A stably inactive output is the constant 0 and only bounds
its ``t`` from below.

Big-M values (bounds)
---------------------
Interval arithmetic over the latent box ({0,1}^n -> [0,1]^n, {-1,1}^n ->
[-1,1]^n, box -> its bounds, real -> ``input_box``), layer by layer, every
bound widened by ``BOUND_SLACK_REL * (|W| |h| + |b|)`` to cover float
rounding.  Then, optionally (default on up to ``TIGHTEN_MAX_UNITS`` units,
within ``bound_time`` seconds and at most ``BOUND_TIME_SHARE`` of a time
limit), every unit still unstable is tightened as in MIPVerify: maximise and
minimise its pre-activation over the LP relaxation of the layers before it
(binaries relaxed to [0, 1]), solved without presolve.  HiGHS solves them
in floats with tolerances, so an LP optimum ``v`` becomes the bound
``v +- LP_BOUND_MARGIN * (1 + |W| |h| + |b|)`` (outward), used only where it
is tighter than the interval bound.  Both kinds of bound hold on the whole
latent box, so the MILP keeps every genuine solution.

In ``decide`` mode with ``target_bounds`` (off by default: on the
near-boundary random 20-100-200 nets it tightened 45 of 100 bounds, fixed no
unit, and made ``milp-scip`` 3-5x slower, 14-20 s instead of 3-6 s) the bounds
are tightened once more by :func:`target_tighten`: the same max/min LPs, now
over the LP relaxation of the whole *margin model*, i.e. including the rows
``distance <= delta + tol`` that tie the outputs to the target.  Such bounds
hold at every witness though not on the whole box, which is all a ``no``
needs; a unit whose new bounds exclude 0 becomes stable (no snapping, so the
error ``E`` below is unchanged), and an empty relaxation is itself a ``no``
(proof ``"LP relaxation infeasible"``, confirmed by a second, interior-point
solve; if the two disagree every bound of that pass is discarded).

Two deliberate changes keep the model away from coefficients that HiGHS cannot
handle (a bound of -3e-9 on a big-M row made HiGHS 1.16's presolve return a
wrong optimum): a unit whose bounds come within
``eta = SNAP_REL * (1 + |W| |h| + |b|)`` of stability is made stable
(``u <= eta``: inactive; ``l >= -eta``: active), which moves its output by at
most ``eta``; and weights with ``|w| <= TINY_WEIGHT`` are left out.  The bounds
of later layers are those of this *model*, and the change of its outputs is
propagated (``E_l = |W_l| E_{l-1} + ...``) into the tolerance below.

Tolerance and why a ``no`` is sound
-----------------------------------
HiGHS works in float64 with feasibility tolerances (``mip_feasibility_tolerance``
1e-6, ``primal/dual_feasibility_tolerance`` 1e-7), so its answers are not exact
rational proofs.  Every ``no`` needs a margin ``tol``:

    tol = TOL_REL * scale + 2 * ||E||,
    scale = max(1, delta, |x_j|, |bounds of the outputs|)   (times q for p = 1)

with ``TOL_REL = 1e-6`` and ``E`` the per-output bound of |model output -
exact output| over the box: the snapped units and dropped weights above,
rational weights that floats cannot hold (e.g. 1/3: exact minus float weights,
propagated), and ``|x_j - float(x_j)|``.  ``||.||`` is the sum for p = 1 and
the max for p = inf; ``tol`` is in ``stats`` and in every proof.

* ``decide`` mode minimises the distance subject to ``distance <= delta +
  tol``.  If a witness ``z*`` existed, ``z*`` with the model's activations and
  pattern would satisfy every row (the bounds are valid for the model, the
  big-M rows are exact for the right ``d``) with slack ``tol - ||E||`` in the
  distance row; HiGHS declaring this model infeasible thus means "infeasible
  with margin" -> ``no``, proof ``{"kind": "MILP infeasible", ...}``.
* ``optimize`` mode minimises with ``mip_rel_gap = 0``; a dual bound above
  ``delta + tol`` -> ``no``, proof ``{"kind": "MILP lower bound",
  "lower_bound": ..., "solver": "HiGHS x.y.z", "tolerance": ...}``.

Feasibility tolerances only *enlarge* the set HiGHS searches, which weakens its
bounds rather than falsifying them; ``tol`` covers the remaining float effects.
Anything closer to ``delta`` than ``tol`` ends as ``unknown``.  HiGHS's
presolve has, however, been seen to call feasible models infeasible
(highspy 1.14-1.16 on a 6-column LP; 1.16 on small MILPs), so with
``confirm_no`` (default) every ``no`` is re-derived by a second run of the
margin model *without presolve* (and another random seed), which must also
find it infeasible; any disagreement ends as ``unknown``, and a model known to
be feasible that HiGHS calls infeasible is re-solved without presolve.  A
``no`` is thus as sound as HiGHS's floating-point arithmetic with this margin,
twice over, not an exact certificate: its proof says ``"basis": "floating-point
solver"``, and :func:`geninv.solvers.base.solve` turns it into ``unknown``
unless the caller passes ``trust_solver`` (``--trust-solver``).  HiGHS runs with
feasibility tolerances ``SOLVER_FEASIBILITY_TOL`` = 1e-9, well below the margin
(at its default 1e-6 it called a model infeasible whose witness had slack 1e-6).
In ``optimize`` mode a dual bound above the exact distance of a checked point
(plus ``tol``) shows that the arithmetic failed: the bound is dropped
(``stats["lower_bound_discarded"]``) and the answer is not ``no``.

Numerics
--------
The model is built for the problem scaled by powers of two
(:func:`geninv.solvers.numerics.scale_problem`: latents of wide boxes, hidden
units with large bounds, and the outputs, target and threshold together,
exactly equivalent), so that HiGHS's absolute tolerances and its 1e20
"infinity" see numbers of order 1; the answer is mapped back to the original
units (witnesses re-checked on the original problem).  A model whose
coefficients, bounds or right-hand sides still exceed what a float solver
represents safely (:func:`geninv.solvers.numerics.model_range`) is not solved:
``unknown`` with the numbers, ``stats["numerics_refused"]``.  Every native
status maps to yes/no/unknown with a reason (``HIGHS_STATUS``, ``SCIP_STATUS``).

Engines
-------
``engine="highs"`` (default) solves the model with HiGHS; ``engine="scip"``
(registered as the backend ``milp-scip``) hands the same columns and rows to
SCIP through pyscipopt (one thread; decide mode stops at the first feasible
point, reported like HiGHS's objective target).  SCIP's statuses are mapped to
HiGHS's names (:data:`geninv.solvers.numerics.SCIP_STATUS` says what each
means); its ``no`` is re-confirmed without presolve like HiGHS's (SCIP 10's
presolve called a scaled model infeasible whose witness had slack 1e-6: a
two-unit integer network with weights near 1e6, ``tests/test_trust.py``); the
bound tightening LPs stay on HiGHS.  SCIP keeps its default ``numerics/feastol``
(1e-6): at 1e-9 its presolve called feasible models infeasible.

Witnesses
---------
A ``yes`` is only returned for a point that passes
:meth:`InversionProblem.exact_check` (and :func:`geninv.solvers.base.solve`
re-checks it).  HiGHS's latent values (its incumbent and up to
``MAX_SAVED_SOLUTIONS`` improving solutions) are polished first: rounded to the
nearest corner for binary and sign latents; for box and real latents tried as
rounded decimals, as they are, with near-bound coordinates snapped to the
bound, and finally projected exactly (rational Gaussian elimination) onto the
constraints that are tight at HiGHS's point under its activation pattern
(outputs equal to the target, pre-activations at 0, box bounds, distances at
delta).  If a ``decide`` run stops at a point within the margin that no polish
turns into a witness, the distance is minimised to optimality and polished
again.  If nothing passes, the answer is ``unknown``, never a guessed ``yes``
or ``no``.  ``time_limit`` covers everything (HiGHS gets what is left; when it
runs out: ``unknown``), ``seed`` is HiGHS's ``random_seed``, and ``progress``
sends HiGHS's log to stderr when :data:`SOLVER_LOGS` allows it.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import math
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from geninv.errors import UnsupportedError, ValidationError
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray, Layer, ReLUNetwork
from geninv.problem import ExactCheck, InversionProblem, Solution, Status
from geninv.solvers import native
from geninv.solvers.base import BASIS_FLOAT, Backend, Capabilities, register
from geninv.solvers.numerics import Scaled, model_range, scale_problem, status_meaning

#: Whether ``progress`` shows HiGHS's and SCIP's own logs (milp, milp-scip, miqp).  The
#: command line sets it from ``solve --verbose``, so that a terminal shows geninv's own
#: lines and no solver log unless asked; the Python API keeps ``progress=True`` verbose.
SOLVER_LOGS = True


#: A HiGHS instance (highspy is imported lazily, and older releases ship no type stubs).
_Highs = Any

Mode = Literal["decide", "optimize"]
Engine = Literal["highs", "scip"]
ENGINES: tuple[str, ...] = ("highs", "scip")
MODES: tuple[str, ...] = ("decide", "optimize")
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


@dataclass
class _Clock:
    start: float
    deadline: float | None

    def left(self) -> float:
        if self.deadline is None:
            return math.inf
        return self.deadline - time.perf_counter()

    def expired(self) -> bool:
        return self.left() <= 0


# ------------------------------------------------------------------ model
class _Model:
    """A sparse (MI)LP under construction; rows are added in CSR form."""

    def __init__(self) -> None:
        self.col_lo: list[float] = []
        self.col_hi: list[float] = []
        self.col_cost: list[float] = []
        self.col_int: list[bool] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self.row_idx: list[IntArray] = []
        self.row_val: list[FloatArray] = []
        self._cols_pushed = 0
        self._rows_pushed = 0

    @property
    def n_cols(self) -> int:
        return len(self.col_lo)

    def add_cols(
        self,
        lo: Sequence[float] | FloatArray,
        hi: Sequence[float] | FloatArray,
        integer: bool = False,
        cost: float = 0.0,
    ) -> IntArray:
        first = self.n_cols
        self.col_lo.extend(float(v) for v in lo)
        self.col_hi.extend(float(v) for v in hi)
        self.col_cost.extend([cost] * len(lo))
        self.col_int.extend([integer] * len(lo))
        return np.arange(first, self.n_cols, dtype=np.int64)

    def add_col(self, lo: float, hi: float, integer: bool = False, cost: float = 0.0) -> int:
        return int(self.add_cols([lo], [hi], integer, cost)[0])

    def add_row(self, lo: float, hi: float, idx: Sequence[int] | IntArray, val: Any) -> None:
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        self.row_idx.append(np.asarray(idx, dtype=np.int64))
        self.row_val.append(np.asarray(val, dtype=np.float64))

    def push(self, h: _Highs, incremental: bool = False) -> None:
        """Add the model to ``h``; only what is new since the last push when ``incremental``."""
        c0, r0 = (self._cols_pushed, self._rows_pushed) if incremental else (0, 0)
        nc = self.n_cols - c0
        if nc:
            h.addVars(
                nc,
                np.array(self.col_lo[c0:], dtype=np.float64),
                np.array(self.col_hi[c0:], dtype=np.float64),
            )
            cols = np.arange(c0, self.n_cols, dtype=np.int32)
            h.changeColsCost(nc, cols, np.array(self.col_cost[c0:], dtype=np.float64))
            integer = np.array(self.col_int[c0:], dtype=bool)
            if integer.any():
                types = np.where(integer, 1, 0).astype(np.uint8)  # kInteger = 1
                h.changeColsIntegrality(nc, cols, types)
        nr = len(self.row_lo) - r0
        if nr:
            idx = self.row_idx[r0:]
            starts = np.zeros(nr, dtype=np.int32)
            if nr > 1:
                starts[1:] = np.cumsum([len(i) for i in idx[:-1]])
            flat_idx = np.concatenate(idx).astype(np.int32) if idx else np.zeros(0, np.int32)
            flat_val = np.concatenate(self.row_val[r0:]) if idx else np.zeros(0)
            h.addRows(
                nr,
                np.array(self.row_lo[r0:], dtype=np.float64),
                np.array(self.row_hi[r0:], dtype=np.float64),
                len(flat_idx),
                starts,
                flat_idx,
                flat_val.astype(np.float64),
            )
        self._cols_pushed, self._rows_pushed = self.n_cols, len(self.row_lo)


@dataclass
class _Encoded:
    """Columns of the encoded latent and of each layer (-1: the constant 0)."""

    z: IntArray
    layers: list[IntArray] = field(default_factory=list)
    binaries: int = 0
    stable_active: int = 0
    stable_inactive: int = 0


def _encode_input(
    model: _Model, kind: str, lo: FloatArray, hi: FloatArray, relax: bool
) -> IntArray:
    if kind == "binary":
        return model.add_cols(lo, hi, integer=not relax)
    z = model.add_cols(lo, hi)
    if kind == "sign" and not relax:
        b = model.add_cols([0.0] * len(z), [1.0] * len(z), integer=True)
        for zi, bi in zip(z, b, strict=True):
            model.add_row(-1.0, -1.0, [int(zi), int(bi)], [1.0, -2.0])
    return z


#: HiGHS statuses that mean "infeasible" here (every objective is bounded below by 0).
INFEASIBLE = ("kInfeasible", "kUnboundedOrInfeasible")
# Unit states in the model.
INACTIVE, UNSTABLE, ACTIVE, LINEAR = -1, 0, 1, 2


def _encode_layer(
    model: _Model,
    weight: FloatArray,
    bias: FloatArray,
    state: npt.NDArray[np.int8],
    hcols: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    relax: bool,
    enc: _Encoded,
) -> IntArray:
    """Encode one layer on the columns ``hcols``; returns its output columns."""
    live = np.flatnonzero(hcols >= 0)
    out = np.full(weight.shape[0], -1, dtype=np.int64)
    for j in range(weight.shape[0]):
        if state[j] == INACTIVE:
            enc.stable_inactive += 1
            continue
        wj = weight[j, live]
        nz = np.flatnonzero(wj)
        idx = hcols[live[nz]]
        neg = -wj[nz]
        b = float(bias[j])
        lj, uj = float(lo[j]), float(hi[j])
        if state[j] != UNSTABLE:
            # free column: its bounds are implied by the row (tight redundant bounds have
            # tripped HiGHS's presolve into false infeasibility)
            y = model.add_col(-math.inf, math.inf)
            model.add_row(b, b, np.append(idx, y), np.append(neg, 1.0))
            if state[j] == ACTIVE:
                enc.stable_active += 1
            out[j] = y
            continue
        y = model.add_col(0.0, math.inf)  # y <= u is implied by y <= u d
        d = model.add_col(0.0, 1.0, integer=not relax)
        enc.binaries += 1
        # y >= a
        model.add_row(b, math.inf, np.append(idx, y), np.append(neg, 1.0))
        # y <= a - l (1 - d)   <=>   y - w.h - l d <= b - l
        model.add_row(-math.inf, b - lj, np.append(idx, [y, d]), np.append(neg, [1.0, -lj]))
        # y <= u d
        model.add_row(-math.inf, 0.0, [y, d], [1.0, -uj])
        out[j] = y
    return out


# ------------------------------------------------------------------ bounds
@dataclass
class _Bounds:
    """The model's layers: weights as encoded, pre-activation bounds, unit states.

    ``error`` bounds, per output, |model output - exact network output| over
    the latent box (snapped units, dropped tiny weights, rational weights that
    floats cannot hold).
    """

    weights: list[FloatArray]
    lo: list[FloatArray]
    hi: list[FloatArray]
    state: list[npt.NDArray[np.int8]]
    error: FloatArray
    lps: int = 0
    tightened: int = 0
    snapped: int = 0
    dropped_weights: int = 0
    seconds: float = 0.0
    complete: bool = True  # every unstable unit that was due for an LP got one

    def post(self, index: int) -> tuple[FloatArray, FloatArray]:
        """Bounds of the model's outputs of layer ``index``."""
        st = self.state[index]
        lo = np.where(st == INACTIVE, 0.0, np.where(st == UNSTABLE, 0.0, self.lo[index]))
        hi = np.where(st == INACTIVE, 0.0, self.hi[index])
        return lo, hi


def _interval(
    weight: FloatArray, bias: FloatArray, hlo: FloatArray, hhi: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Outward pre-activation bounds and the magnitude ``|W| |h| + |b|``."""
    with np.errstate(over="ignore", invalid="ignore"):
        mid = 0.5 * hlo + 0.5 * hhi
        rad = 0.5 * hhi - 0.5 * hlo
        wa = np.abs(weight)
        centre = weight @ mid + bias
        radius = wa @ rad
        mag = wa @ np.maximum(np.abs(hlo), np.abs(hhi)) + np.abs(bias)
        slack = BOUND_SLACK_REL * mag + np.where(mag > 0, 1e-300, 0.0)
        lo: FloatArray = centre - radius - slack
        hi: FloatArray = centre + radius + slack
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise UnsupportedError(
            "interval bounds of the pre-activations overflow float64; "
            "the network cannot be encoded as a MILP"
        )
    return lo, hi, mag


def _exact_gap(layer: Layer) -> tuple[FloatArray, FloatArray]:
    """|W* - W| and |b* - b| (exact minus float parameters), rounded up."""
    if layer.exact_weight is None:
        return np.zeros(layer.weight.shape), np.zeros(layer.n_out)
    dw = np.array(
        [
            [float_up(abs(e - Fraction(float(f)))) for e, f in zip(row, frow, strict=True)]
            for row, frow in zip(layer.exact_weight, layer.weight, strict=True)
        ],
        dtype=np.float64,
    ).reshape(layer.weight.shape)
    db = np.array(
        [
            float_up(abs(e - Fraction(float(f))))
            for e, f in zip(layer.exact_bias_values(), layer.bias, strict=True)
        ],
        dtype=np.float64,
    )
    return dw, db


#: Activations the big-M encoding and :func:`compute_bounds` handle exactly; every
#: other layer is refused (the backend's capabilities and compute_bounds both say so).
HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})


def compute_bounds(
    network: ReLUNetwork,
    kind: str,
    lo: FloatArray,
    hi: FloatArray,
    tighten: bool,
    clock: _Clock,
    budget: float,
) -> _Bounds:
    """Interval bounds, then (``tighten``) LP bounds for unstable units within ``budget`` s.

    Weights with ``|w| <= TINY_WEIGHT`` are dropped, and units within
    ``SNAP_REL * (1 + |W| |h| + |b|)`` of being stable are made stable; both
    changes are accounted for in ``error`` (see the module docstring).
    Only :data:`HANDLED_ACTIVATIONS` layers: any other raises UnsupportedError.
    """
    outside = network.first_layer_outside(HANDLED_ACTIVATIONS)
    if outside is not None:
        raise UnsupportedError(
            f"milp bound propagation handles relu and identity layers only, not {outside}"
        )
    hs = _highs_module() if tighten else None
    t0 = time.perf_counter()
    stop = t0 + budget
    n = len(lo)
    bounds = _Bounds([], [], [], [], np.zeros(n))
    model = _Model()
    enc = _Encoded(_encode_input(model, kind, lo, hi, relax=True))
    hcols = enc.z
    hlo, hhi = lo, hi
    err = np.zeros(n)  # |model h - exact h| per unit of the current layer
    h: _Highs | None = None
    for index, layer in enumerate(network.layers):
        relu = layer.activation == "relu"
        tiny = (np.abs(layer.weight) <= TINY_WEIGHT) & (layer.weight != 0)
        weight = np.where(tiny, 0.0, layer.weight)
        bounds.dropped_weights += int(tiny.sum())
        llo, lhi, mag = _interval(weight, layer.bias, hlo, hhi)
        unstable = np.flatnonzero((llo < 0) & (lhi > 0))
        if tighten and relu and index > 0 and unstable.size:
            if time.perf_counter() >= stop or clock.expired():
                bounds.complete = False
            else:
                assert hs is not None
                if h is None:
                    h = _new_highs(False)
                    # a wrong LP bound would cut off genuine solutions, and no later
                    # check could tell: keep presolve (seen to misjudge LPs) out of it
                    h.setOptionValue("presolve", "off")
                model.push(h, incremental=True)
                live = np.flatnonzero(hcols >= 0)
                cols = hcols[live].astype(np.int32)
                for j in unstable:
                    left = min(stop - time.perf_counter(), clock.left())
                    if left <= 0:
                        bounds.complete = False
                        break
                    # HiGHS measures time_limit on a clock that runs across run() calls
                    h.setOptionValue("time_limit", float(h.getRunTime()) + left)
                    h.changeColsCost(len(cols), cols, np.ascontiguousarray(weight[j, live]))
                    margin = LP_BOUND_MARGIN * (1.0 + float(mag[j]))
                    b = float(layer.bias[j])
                    for sense in ("max", "min"):
                        h.changeObjectiveSense(
                            hs.ObjSense.kMaximize if sense == "max" else hs.ObjSense.kMinimize
                        )
                        h.run()
                        bounds.lps += 1
                        if h.getModelStatus() != hs.HighsModelStatus.kOptimal:
                            continue
                        v = float(h.getInfo().objective_function_value) + b
                        if sense == "max" and v + margin < lhi[j]:
                            lhi[j] = v + margin
                            bounds.tightened += 1
                            if lhi[j] <= 0:
                                break  # stably inactive: the lower bound does not matter
                        elif sense == "min" and v - margin > llo[j]:
                            llo[j] = v - margin
                            bounds.tightened += 1
                h.changeColsCost(len(cols), cols, np.zeros(len(cols)))
        # unit states, snapping near-stable units
        state = np.full(layer.n_out, LINEAR if not relu else UNSTABLE, dtype=np.int8)
        snap_err = np.zeros(layer.n_out)
        if relu:
            eta = SNAP_REL * (1.0 + mag)
            inactive = lhi <= eta
            active = ~inactive & (llo >= -eta)
            state[inactive] = INACTIVE
            state[active] = ACTIVE
            snap_err = np.where(inactive, np.maximum(lhi, 0.0), 0.0)
            snap_err = np.where(active, np.maximum(-llo, 0.0), snap_err)
            bounds.snapped += int(np.sum(inactive & (lhi > 0)) + np.sum(active & (llo < 0)))
        # error of the model against the exact network (ReLU is 1-Lipschitz)
        dw, db = _exact_gap(layer)
        hmag = np.maximum(np.abs(hlo), np.abs(hhi))
        with np.errstate(over="ignore", invalid="ignore"):
            err = (
                np.abs(weight) @ err
                + np.abs(np.where(tiny, layer.weight, 0.0)) @ hmag
                + dw @ (hmag + err)
                + db
                + snap_err
            ) * (1.0 + 1e-9)
        bounds.weights.append(weight)
        bounds.lo.append(llo)
        bounds.hi.append(lhi)
        bounds.state.append(state)
        hlo, hhi = bounds.post(index)
        if index + 1 < len(network.layers):
            hcols = _encode_layer(model, weight, layer.bias, state, hcols, llo, lhi, True, enc)
    bounds.error = err
    bounds.seconds = time.perf_counter() - t0
    return bounds


# ------------------------------------------------------------------ setup
@dataclass
class _Setup:
    problem: InversionProblem
    lo: list[Fraction]  # exact latent box
    hi: list[Fraction]
    lo_f: FloatArray  # outward float box
    hi_f: FloatArray
    delta: Fraction
    norm: Norm
    project_work: int  # Fraction multiply-adds of one exact projection

    @property
    def delta_f(self) -> float:
        return float(self.delta)


def _setup(problem: InversionProblem) -> _Setup:
    reason = MilpBackend.unsupported_reason(problem)
    if reason is not None:
        raise UnsupportedError(reason)
    kind = problem.domain.kind
    n = problem.n
    if kind in ("binary", "sign"):
        a, b = problem.domain.corner_values()
        lo = [Fraction(a)] * n
        hi = [Fraction(b)] * n
    elif kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        lo, hi = list(problem.domain.lower), list(problem.domain.upper)
    else:
        assert problem.input_box is not None
        lo, hi = list(problem.input_box[0]), list(problem.input_box[1])
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            raise ValidationError("input_box has a lower bound above its upper bound")
    lo_f = np.array([float_down(v) for v in lo], dtype=np.float64)
    hi_f = np.array([float_up(v) for v in hi], dtype=np.float64)
    if not (np.all(np.isfinite(lo_f)) and np.all(np.isfinite(hi_f))):
        raise UnsupportedError("latent bounds overflow float64; cannot encode as a MILP")
    # exact inversion is the same question for every p: other p use l-inf
    norm = "1" if problem.p == 1 else "inf"
    if problem.is_exact_inversion:
        delta = Fraction(0)
    else:
        # for p = 1, threshold_pow is delta itself
        tp = problem.threshold_pow
        delta = tp if tp is not None else problem.threshold
    work = n * sum(int(np.count_nonzero(layer.weight)) for layer in problem.network.layers)
    return _Setup(problem, lo, hi, lo_f, hi_f, delta, norm, work)  # type: ignore[arg-type]


def _tolerance(setup: _Setup, bounds: _Bounds) -> float:
    """The margin of every ``no``: ``TOL_REL * scale`` plus twice the modelling error."""
    problem = setup.problem
    olo, ohi = bounds.post(len(bounds.state) - 1)
    x = problem.target_array()
    q = len(x)
    scale = max(
        1.0,
        setup.delta_f,
        float(np.max(np.abs(x))) if q else 0.0,
        float(np.max(np.abs(olo))),
        float(np.max(np.abs(ohi))),
    )
    if setup.norm == "1":
        scale *= q
    dt = np.array([float_up(abs(t - Fraction(float(t)))) for t in problem.target], dtype=np.float64)
    err = dt + bounds.error
    extra = float(err.sum() if setup.norm == "1" else err.max(initial=0.0))
    tol = TOL_REL * scale + 2.0 * extra
    return tol if math.isfinite(tol) else math.inf


@dataclass
class _Milp:
    model: _Model
    enc: _Encoded
    t_cols: IntArray


def _build_milp(
    setup: _Setup, bounds: _Bounds, cap: float | None, relax: bool = False
) -> _Milp | None:
    """The MILP: minimise the distance; ``cap`` bounds it from above (decide mode).

    None when the cap is already violated by outputs that are stably 0.  With
    ``relax`` the binaries are relaxed to [0, 1] (the LP relaxation).
    """
    problem = setup.problem
    net = problem.network
    model = _Model()
    enc = _Encoded(_encode_input(model, problem.domain.kind, setup.lo_f, setup.hi_f, relax=relax))
    hcols = enc.z
    for index, layer in enumerate(net.layers):
        hcols = _encode_layer(
            model,
            bounds.weights[index],
            layer.bias,
            bounds.state[index],
            hcols,
            bounds.lo[index],
            bounds.hi[index],
            relax,
            enc,
        )
        enc.layers.append(hcols)
    x = problem.target_array()
    if setup.norm == "inf":
        const = max((abs(float(x[j])) for j in range(len(x)) if hcols[j] < 0), default=0.0)
        if cap is not None and const > cap:
            return None  # a constant output is farther than the cap from its target
        t = model.add_col(const, math.inf if cap is None else cap, cost=1.0)
        t_cols = np.array([t], dtype=np.int64)
        tcol_of = [t] * len(x)
    else:
        tcol_of = []
        for j in range(len(x)):
            if hcols[j] < 0:
                c = abs(float(x[j]))
                tcol_of.append(model.add_col(c, c, cost=1.0))
            else:
                tcol_of.append(model.add_col(0.0, math.inf, cost=1.0))
        t_cols = np.array(tcol_of, dtype=np.int64)
        if cap is not None and sum(model.col_lo[t] for t in tcol_of) > cap:
            return None
        if cap is not None:
            model.add_row(-math.inf, cap, t_cols, np.ones(len(t_cols)))
    for j, y in enumerate(hcols):
        if y < 0:
            continue
        xj = float(x[j])
        model.add_row(-xj, math.inf, [tcol_of[j], int(y)], [1.0, -1.0])  # t >= y - x
        model.add_row(xj, math.inf, [tcol_of[j], int(y)], [1.0, 1.0])  # t >= x - y
    return _Milp(model, enc, t_cols)


# ------------------------------------------------------------------ target-aware bounds
@dataclass
class _TargetPass:
    """What :func:`target_tighten` did (``stats["target_tightening"]``)."""

    lps: int = 0
    tightened: int = 0
    fixed_active: int = 0
    fixed_inactive: int = 0
    sweeps: int = 0
    seconds: float = 0.0
    complete: bool = True
    infeasible: str | None = None  # why the margin model's LP relaxation is empty

    def as_dict(self) -> dict[str, Any]:
        return {
            "lps": self.lps,
            "tightened": self.tightened,
            "fixed_active": self.fixed_active,
            "fixed_inactive": self.fixed_inactive,
            "sweeps": self.sweeps,
            "seconds": round(self.seconds, 6),
            "complete": self.complete,
            "lp_infeasible": self.infeasible is not None,
        }


def _restate(bounds: _Bounds, index: int, lo: FloatArray, hi: FloatArray, mag: FloatArray) -> int:
    """Intersect layer ``index``'s bounds with ``lo``/``hi`` and fix units that became stable.

    Only genuinely stable units are fixed (``hi <= 0``: inactive, ``lo >= 0``:
    active), so the model's outputs do not move and ``bounds.error`` stays
    valid; an unstable unit keeps bounds at least ``eta`` away from 0 (tiny
    big-M coefficients have tripped HiGHS).  Returns the number of units fixed.
    """
    st = bounds.state[index]
    unstable = st == UNSTABLE
    new_lo = np.where(unstable, np.maximum(bounds.lo[index], lo), bounds.lo[index])
    new_hi = np.where(unstable, np.minimum(bounds.hi[index], hi), bounds.hi[index])
    inactive = unstable & (new_hi <= 0)
    active = unstable & ~inactive & (new_lo >= 0)
    eta = SNAP_REL * (1.0 + mag)
    still = unstable & ~inactive & ~active
    new_hi = np.where(still, np.maximum(new_hi, eta), new_hi)
    new_lo = np.where(still, np.minimum(new_lo, -eta), new_lo)
    st = st.copy()
    st[inactive] = INACTIVE
    st[active] = ACTIVE
    bounds.lo[index], bounds.hi[index], bounds.state[index] = new_lo, new_hi, st
    return int(inactive.sum() + active.sum())


def target_tighten(
    setup: _Setup,
    bounds: _Bounds,
    cap: float,
    clock: _Clock,
    budget: float,
    sweeps: int = 2,
) -> _TargetPass:
    """Tighten ``bounds`` in place with the output target (decide mode only).

    The LP relaxation of the *margin model* (the MILP with ``distance <= cap``,
    binaries relaxed to [0, 1]) contains every point of the box whose model
    output is within ``cap`` of the target, in particular every genuine witness
    (its model distance is at most ``delta + ||E|| < cap``).  Maximising and
    minimising each unstable unit's pre-activation over it therefore gives
    bounds that hold at every witness, though not on the whole box: the
    big-M rows built from them keep every witness, which is all that a ``no``
    needs.  Layer by layer from the input (the relaxation is rebuilt after each
    layer, with the tighter triangles), ``sweeps`` times; each LP optimum ``v``
    is widened by ``LP_BOUND_MARGIN * (1 + |W| |h| + |b|)`` as in
    :func:`compute_bounds`.  A unit whose bounds exclude 0 becomes stable.  If
    the relaxation itself is empty, no witness exists: ``infeasible`` says so
    and the caller confirms it by a second LP solve (interior point).
    """
    hs = _highs_module()
    net = setup.problem.network
    out = _TargetPass()
    t0 = time.perf_counter()
    stop = t0 + budget

    def left() -> float:
        return min(stop - time.perf_counter(), clock.left())

    for sweep in range(sweeps):
        changed = 0
        for index, layer in enumerate(net.layers):
            if layer.activation != "relu":
                continue
            unstable = np.flatnonzero(bounds.state[index] == UNSTABLE)
            if unstable.size == 0:
                continue
            if left() <= 0:
                out.complete = False
                break
            milp = _build_milp(setup, bounds, cap, relax=True)
            if milp is None:
                out.infeasible = "outputs that are stably 0 already exceed the threshold"
                break
            h = _new_highs(False)
            h.setOptionValue("presolve", "off")
            milp.model.push(h)
            for col in milp.t_cols:  # the objective is set per unit below
                h.changeColCost(int(col), 0.0)
            h.setOptionValue("time_limit", max(left(), 1e-3))
            h.run()
            out.lps += 1
            status = h.getModelStatus()
            if _name(status) in INFEASIBLE:
                out.infeasible = f"the LP relaxation of the margin model is {_name(status)}"
                break
            prev = milp.enc.z if index == 0 else milp.enc.layers[index - 1]
            live = np.flatnonzero(prev >= 0)
            cols = prev[live].astype(np.int32)
            weight = bounds.weights[index]
            hlo, hhi = (setup.lo_f, setup.hi_f) if index == 0 else bounds.post(index - 1)
            _, _, mag = _interval(weight, layer.bias, hlo, hhi)
            lo = np.full(layer.n_out, -math.inf)
            hi = np.full(layer.n_out, math.inf)
            for j in unstable:
                if left() <= 0:
                    out.complete = False
                    break
                h.setOptionValue("time_limit", float(h.getRunTime()) + max(left(), 1e-3))
                h.changeColsCost(len(cols), cols, np.ascontiguousarray(weight[j, live]))
                margin = LP_BOUND_MARGIN * (1.0 + float(mag[j]))
                b = float(layer.bias[j])
                for sense in (hs.ObjSense.kMaximize, hs.ObjSense.kMinimize):
                    h.changeObjectiveSense(sense)
                    h.run()
                    out.lps += 1
                    st = h.getModelStatus()
                    if st != hs.HighsModelStatus.kOptimal:
                        if _name(st) in INFEASIBLE:
                            out.infeasible = f"the LP relaxation of the margin model is {_name(st)}"
                        continue
                    v = float(h.getInfo().objective_function_value) + b
                    if sense == hs.ObjSense.kMaximize:
                        if v + margin < bounds.hi[index][j]:
                            hi[j] = v + margin
                            out.tightened += 1
                        if v + margin <= 0:
                            break  # inactive: the lower bound does not matter
                    elif v - margin > bounds.lo[index][j]:
                        lo[j] = v - margin
                        out.tightened += 1
                if out.infeasible:
                    break
            if out.infeasible:
                break
            before = bounds.state[index].copy()
            changed += _restate(bounds, index, lo, hi, mag)
            out.fixed_inactive += int(
                np.sum((bounds.state[index] == INACTIVE) & (before != INACTIVE))
            )
            out.fixed_active += int(np.sum((bounds.state[index] == ACTIVE) & (before != ACTIVE)))
            # interval bounds of the later layers, from the tighter ones
            for k in range(index + 1, len(net.layers)):
                klo, khi, kmag = _interval(
                    bounds.weights[k], net.layers[k].bias, *bounds.post(k - 1)
                )
                if net.layers[k].activation == "relu":
                    changed += _restate(bounds, k, klo, khi, kmag)
        out.sweeps = sweep + 1
        if out.infeasible or not out.complete or changed == 0:
            break
    out.seconds = time.perf_counter() - t0
    return out


def _lp_infeasible_again(setup: _Setup, bounds: _Bounds, cap: float, clock: _Clock) -> bool:
    """Re-solve the margin model's LP relaxation by interior point: empty again?"""
    milp = _build_milp(setup, bounds, cap, relax=True)
    if milp is None:
        return True
    h = _new_highs(False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "ipm")
    milp.model.push(h)
    h.setOptionValue(
        "time_limit", max(clock.left(), 1e-3) if math.isfinite(clock.left()) else math.inf
    )
    h.run()
    return _name(h.getModelStatus()) in INFEASIBLE


def _name(status: Any) -> str:
    """'kInfeasible' for HighsModelStatus.kInfeasible."""
    return str(status).split(".")[-1]


# ------------------------------------------------------------------ HiGHS runs
@dataclass
class _Run:
    status: str  # HiGHS model status name, e.g. "kOptimal"
    has_solution: bool
    objective: float
    dual_bound: float
    nodes: int
    solutions: list[FloatArray]  # column values, best first
    seconds: float
    config: str = ""  # the SCIP setting that produced it (milp-scip)


def _run_highs(h: _Highs, time_left: float, is_mip: bool) -> _Run:
    """Run HiGHS; the dual bound of a pure LP is its optimum (-inf when not optimal)."""
    hs = _highs_module()
    t0 = time.perf_counter()
    h.setOptionValue("time_limit", max(time_left, 1e-3) if math.isfinite(time_left) else math.inf)
    # in a worker thread (HiGHS releases the GIL), so that signals and the limits
    # watchdog reach the main thread while it runs
    native.run_in_thread(h.run)
    status = h.getModelStatus()
    info = h.getInfo()
    has = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
    sols: list[FloatArray] = []
    if has:
        sols.append(np.array(h.getSolution().col_value, dtype=np.float64))
    try:
        saved = sorted(h.getSavedMipSolutions(), key=lambda s: s.objective)
    except Exception:  # pragma: no cover - older highspy
        saved = []
    for s in saved[:MAX_SAVED_SOLUTIONS]:
        sols.append(np.array(s.col_value, dtype=np.float64))
    name = str(status).split(".")[-1]
    optimal = status == hs.HighsModelStatus.kOptimal
    if is_mip:
        dual = float(info.mip_dual_bound)
        if optimal and not math.isfinite(dual):
            dual = float(info.objective_function_value)
    else:
        dual = float(info.objective_function_value) if optimal else -math.inf
    return _Run(
        status=name,
        has_solution=has,
        objective=float(info.objective_function_value) if has else math.inf,
        dual_bound=dual,
        nodes=int(info.mip_node_count),
        solutions=sols,
        seconds=time.perf_counter() - t0,
    )


#: SCIP statuses as the HiGHS model-status names used throughout this module.
_SCIP_STATUS = {
    "optimal": "kOptimal",
    "infeasible": "kInfeasible",
    "inforunbd": "kUnboundedOrInfeasible",
    "unbounded": "kUnbounded",
    "timelimit": "kTimeLimit",
    "sollimit": "kObjectiveTarget",
    "bestsollimit": "kObjectiveTarget",
    "userinterrupt": "kInterrupt",
    "memlimit": "kMemoryLimit",
    "nodelimit": "kSolutionLimit",
}


def scip_version() -> str:
    """'SCIP x.y' of the installed pyscipopt."""
    import pyscipopt

    return f"SCIP {pyscipopt.Model().version()}"


#: SCIP separation settings of ``milp-scip`` (``separating`` option); "portfolio" runs
#: "fast" and "off" side by side in two threads and takes the first conclusive answer.
SEPARATING: tuple[str, ...] = ("portfolio", "default", "fast", "off", "aggressive")
PORTFOLIO: tuple[str, ...] = ("fast", "off")
#: SCIP statuses that end a portfolio race (anything else lets the other run finish).
_CONCLUSIVE = ("optimal", "infeasible", "inforunbd", "unbounded", "sollimit", "bestsollimit")


def _scip_model(
    model: _Model,
    time_left: float,
    seed: int | None,
    presolve: bool,
    first_solution: bool,
    progress: bool,
    separating: str,
) -> tuple[Any, list[Any]]:
    """A pyscipopt model of ``model`` with the given settings; returns (model, columns)."""
    import pyscipopt

    setting = pyscipopt.scip.PY_SCIP_PARAMSETTING
    m = pyscipopt.Model()
    if not progress:
        m.hideOutput()
    m.setParam("parallel/maxnthreads", 1)
    if seed is not None:
        m.setParam("randomization/randomseedshift", int(seed) % 2147483647)
    if not presolve:
        m.setPresolve(setting.OFF)
    if separating != "default":
        m.setSeparating(
            {"fast": setting.FAST, "off": setting.OFF, "aggressive": setting.AGGRESSIVE}[separating]
        )
    if first_solution:
        m.setParam("limits/solutions", 1)
    if math.isfinite(time_left):
        m.setParam("limits/time", max(time_left, 1e-3))
    cols = [
        m.addVar(
            name=f"c{k}",
            vtype="I" if model.col_int[k] else "C",
            lb=None if math.isinf(model.col_lo[k]) else model.col_lo[k],
            ub=None if math.isinf(model.col_hi[k]) else model.col_hi[k],
            obj=model.col_cost[k],
        )
        for k in range(model.n_cols)
    ]
    for lo, hi, idx, val in zip(
        model.row_lo, model.row_hi, model.row_idx, model.row_val, strict=True
    ):
        expr = pyscipopt.quicksum(float(v) * cols[int(i)] for i, v in zip(idx, val, strict=True))
        if lo == hi:
            m.addCons(expr == lo)
            continue
        if not math.isinf(lo):
            m.addCons(expr >= lo)
        if not math.isinf(hi):
            m.addCons(expr <= hi)
    m.setMinimize()
    return m, cols


def _run_scip(
    model: _Model,
    time_left: float,
    seed: int | None,
    presolve: bool,
    first_solution: bool,
    progress: bool,
    separating: str = "portfolio",
) -> _Run:
    """Solve the (MI)LP with SCIP; statuses are mapped to HiGHS's names (``_SCIP_STATUS``).

    ``first_solution`` stops at the first feasible point (decide mode: every
    point of the capped model is within the margin), reported as
    ``kObjectiveTarget`` like HiGHS's objective target.  ``separating`` picks
    SCIP's cutting-plane setting; ``"portfolio"`` runs the settings in
    ``PORTFOLIO`` concurrently (``optimizeNogil`` in threads), returns the first
    conclusive result and interrupts the other (on the near-boundary random nets
    "off" was 2-6x faster than "fast"; on Theorem 2 MILPs "off" ran past 200 s
    where "fast" took 5-41 s, so neither setting alone is safe).
    """
    import threading

    configs = PORTFOLIO if separating == "portfolio" else (separating,)
    built = [
        _scip_model(model, time_left, seed, presolve, first_solution, progress, c) for c in configs
    ]
    t0 = time.perf_counter()
    winner: list[int] = []
    lock = threading.Lock()
    decided = threading.Event()

    errors: dict[int, BaseException] = {}

    def go(k: int) -> None:
        m = built[k][0]
        try:
            if len(built) > 1:
                m.optimizeNogil()
            else:  # a worker thread: signals and the limits watchdog reach the main thread
                native.run_in_thread(m.optimizeNogil, cancel=m.interruptSolve)
        except Exception as exc:  # e.g. "SCIP: error in LP solver!": this run has no answer
            errors[k] = exc
            return
        with lock:
            if str(m.getStatus()) in _CONCLUSIVE and not winner:
                winner.append(k)
                decided.set()

    if len(built) == 1:
        go(0)
    else:
        threads = [threading.Thread(target=go, args=(k,), daemon=True) for k in range(len(built))]
        for th in threads:
            th.start()
        while any(th.is_alive() for th in threads):
            if decided.wait(0.05):
                # stop the others; SCIP refuses an interrupt outside its solving stages,
                # so retry until each has stopped or finished
                for j, th in enumerate(threads):
                    if th.is_alive() and j != winner[0]:
                        with contextlib.suppress(Exception):
                            built[j][0].interruptSolve()
                time.sleep(0.01)
        for th in threads:
            th.join()
    if len(errors) == len(built):
        first = errors[min(errors)]
        raise native.NativeCrash(f"SCIP failed: {first}")
    k = winner[0] if winner else min(j for j in range(len(built)) if j not in errors)
    m, cols = built[k]
    raw = str(m.getStatus())
    status = _SCIP_STATUS.get(raw, f"scip:{raw}")
    sols: list[FloatArray] = []
    for sol in m.getSols()[:MAX_SAVED_SOLUTIONS]:
        sols.append(np.array([m.getSolVal(sol, c) for c in cols], dtype=np.float64))
    dual = float(m.getDualbound())
    if raw == "infeasible":
        dual = math.inf
    # the best proven bound of any configuration is valid
    for j, (other, _) in enumerate(built):
        with contextlib.suppress(Exception):
            if j not in errors and str(other.getStatus()) != "infeasible":
                dual = max(dual, float(other.getDualbound()))
    return _Run(
        status=status,
        has_solution=bool(sols),
        objective=float(m.getSolObjVal(m.getBestSol())) if sols else math.inf,
        dual_bound=dual,
        nodes=int(m.getNNodes()),
        solutions=sols,
        seconds=time.perf_counter() - t0,
        config=configs[k],
    )


# ------------------------------------------------------------------ polishing
def _key(chk: ExactCheck) -> Fraction:
    return chk.distance_pow if chk.distance_pow is not None else Fraction(chk.distance)


@dataclass
class _Best:
    z: list[Fraction] | None = None
    check: ExactCheck | None = None
    tried: int = 0
    seen: set[tuple[Fraction, ...]] = field(default_factory=set)

    def offer(self, problem: InversionProblem, z: list[Fraction]) -> bool:
        """Exact-check ``z``; keep it when better.  True when it meets the threshold."""
        key = tuple(z)
        if key in self.seen:
            return False
        self.seen.add(key)
        chk = problem.exact_check(z)
        self.tried += 1
        if not chk.in_domain:
            return False
        better = self.check is None or (
            (chk.meets and not self.check.meets)
            or (chk.meets == self.check.meets and _key(chk) < _key(self.check))
        )
        if better:
            self.z, self.check = z, chk
        return chk.meets


def _clip(v: Fraction, lo: Fraction, hi: Fraction) -> Fraction:
    return min(max(v, lo), hi)


def _round_to(v: float, digits: int) -> Fraction:
    scale = 10**digits
    return Fraction(round(Fraction(v) * scale), scale)


def _continuous_candidates(
    setup: _Setup, zf: FloatArray, project: bool
) -> Iterator[list[Fraction]]:
    lo, hi = setup.lo, setup.hi
    n = len(lo)
    for digits in (0, 1, 2, 3, 4, 6, 8):
        yield [_clip(_round_to(float(zf[i]), digits), lo[i], hi[i]) for i in range(n)]
    raw = [_clip(Fraction(float(zf[i])), lo[i], hi[i]) for i in range(n)]
    yield raw
    snapped = []
    for i in range(n):
        tol_i = 1e-6 * (1.0 + abs(float(zf[i])))
        if abs(float(zf[i]) - float(lo[i])) <= tol_i:
            snapped.append(lo[i])
        elif abs(float(zf[i]) - float(hi[i])) <= tol_i:
            snapped.append(hi[i])
        else:
            snapped.append(raw[i])
    yield snapped
    if not project or setup.project_work > PROJECT_MAX_WORK:
        return
    for eps in (1e-9, 1e-7, 1e-5):
        proj = _project(setup, zf, eps)
        if proj is not None:
            yield [_clip(v, lo[i], hi[i]) for i, v in enumerate(proj)]


_Form = tuple[list[Fraction], Fraction] | None  # affine form coeffs . z + const; None = 0


def _project(setup: _Setup, zf: FloatArray, eps: float) -> list[Fraction] | None:
    """Exact projection of ``zf`` onto the constraints tight there (module docstring)."""
    problem = setup.problem
    net = problem.network
    n = problem.n
    lo, hi = setup.lo, setup.hi
    z0 = [_clip(Fraction(float(v)), lo[i], hi[i]) for i, v in enumerate(zf)]
    zc = np.array([float(v) for v in z0], dtype=np.float64)
    eqs: list[tuple[list[Fraction], Fraction]] = []
    zero = Fraction(0)

    def unit(i: int) -> list[Fraction]:
        return [Fraction(1) if k == i else zero for k in range(n)]

    for i in range(n):
        tol_i = eps * (1.0 + abs(float(zc[i])))
        if abs(float(zc[i]) - float(lo[i])) <= tol_i:
            eqs.append((unit(i), lo[i]))
        elif abs(float(zc[i]) - float(hi[i])) <= tol_i:
            eqs.append((unit(i), hi[i]))
    forms: list[_Form] = [(unit(i), zero) for i in range(n)]
    hf = zc
    mag = np.abs(zc)
    for layer in net.layers:
        af = layer.weight @ hf + layer.bias
        amag = np.abs(layer.weight) @ mag + np.abs(layer.bias)
        new_forms: list[_Form] = []
        for j, ((idx, coef), bj) in enumerate(
            zip(layer.exact_rows(), layer.exact_bias_values(), strict=True)
        ):
            vec = [zero] * n
            const = bj
            for k, c in zip(idx, coef, strict=True):
                fk = forms[k]
                if fk is None:
                    continue
                fv, fc = fk
                const += c * fc
                for i in range(n):
                    if fv[i]:
                        vec[i] += c * fv[i]
            if layer.activation == "relu":
                if abs(float(af[j])) <= eps * (1.0 + float(amag[j])):
                    eqs.append((vec, -const))
                    new_forms.append(None)
                elif af[j] > 0:
                    new_forms.append((vec, const))
                else:
                    new_forms.append(None)
            else:
                new_forms.append((vec, const))
        forms = new_forms
        hf = np.maximum(af, 0.0) if layer.activation == "relu" else af
        mag = amag
    x = problem.target
    delta = setup.delta
    out_scale = eps * (1.0 + float(np.max(mag, initial=0.0)) + float(delta))
    if problem.is_exact_inversion:
        for j, form in enumerate(forms):
            if form is None:
                if x[j] != 0:
                    return None
            else:
                eqs.append((form[0], x[j] - form[1]))
    elif setup.norm == "inf":
        for j, form in enumerate(forms):
            res = float(hf[j]) - float(x[j])
            if form is not None and abs(res) >= float(delta) - out_scale:
                s = 1 if res >= 0 else -1
                eqs.append((form[0], x[j] + s * delta - form[1]))
    else:
        total_vec = [zero] * n
        total_const = zero
        total = 0.0
        for j, form in enumerate(forms):
            res = float(hf[j]) - float(x[j])
            total += abs(res)
            if form is None:
                total_const += abs(x[j])
            elif abs(res) <= out_scale:
                eqs.append((form[0], x[j] - form[1]))
            else:
                s = 1 if res > 0 else -1
                total_const += s * (form[1] - x[j])
                for i in range(n):
                    total_vec[i] += s * form[0][i]
        if total >= float(delta) - out_scale and any(total_vec):
            eqs.append((total_vec, delta - total_const))
    if not eqs:
        return None
    return _solve_fixing(eqs, z0)


def _solve_fixing(
    eqs: list[tuple[list[Fraction], Fraction]], z0: list[Fraction]
) -> list[Fraction] | None:
    """A solution of the equations; coordinates that are not pivots keep their ``z0`` value."""
    n = len(z0)
    pivots: list[tuple[list[Fraction], int]] = []  # (row with rhs at index n, pivot column)
    for vec, rhs in eqs:
        row = [*vec, rhs]
        for prow, pc in pivots:
            f = row[pc]
            if f:
                row = [a - f * b for a, b in zip(row, prow, strict=True)]
        col = max(range(n), key=lambda i: abs(row[i]))
        if row[col] == 0:
            if row[n] != 0:
                return None  # inconsistent
            continue
        p = row[col]
        row = [a / p for a in row]
        new_pivots = []
        for prow, pc in pivots:
            f = prow[col]
            if f:
                prow = [a - f * b for a, b in zip(prow, row, strict=True)]
            new_pivots.append((prow, pc))
        pivots = [*new_pivots, (row, col)]
    z = list(z0)
    pivot_cols = {pc for _, pc in pivots}
    for prow, pc in pivots:
        z[pc] = prow[n] - sum(
            (prow[i] * z0[i] for i in range(n) if i not in pivot_cols and prow[i]), Fraction(0)
        )
    return z


def _polish(
    setup: _Setup, milp: _Milp, run: _Run, best: _Best, stop_on_meet: bool, clock: _Clock
) -> None:
    """Exact-check polished versions of HiGHS's points (module docstring).

    Only the incumbent gets the (costlier) exact projection; after the time
    limit, only each point's first candidate is checked.
    """
    problem = setup.problem
    kind = problem.domain.kind
    zcols = milp.enc.z
    for index, sol in enumerate(run.solutions):
        zf = sol[zcols]
        if kind in ("binary", "sign"):
            a, b = problem.domain.corner_values()
            mid = (a + b) / 2
            cands: Iterable[list[Fraction]] = [
                [Fraction(b) if float(v) >= mid else Fraction(a) for v in zf]
            ]
        else:
            cands = _continuous_candidates(setup, zf, project=index == 0)
        for k, z in enumerate(cands):
            if k > 0 and clock.expired():
                break
            if best.offer(problem, z) and stop_on_meet:
                return


# ------------------------------------------------------------------ solve
def _unknown_reason(run: _Run, tol: float, solver: str) -> str:
    if run.status in ("kOptimal", "kObjectiveTarget"):
        return (
            f"the minimum distance is within the tolerance {tol:.3g} of the threshold "
            f"(lower bound {run.dual_bound!r}) and no exact witness was found"
        )
    if run.status in INFEASIBLE:
        return f"{solver} reported the unconstrained model infeasible (numerical trouble)"
    if run.status.startswith("scip:"):
        return status_meaning("scip", run.status[5:])[1]
    if run.status.startswith("k"):
        return status_meaning("highs", run.status)[1]
    return f"{solver} ended with status {run.status}"


#: HiGHS's feasibility tolerances for the MILP runs: well below the margin ``tol``
#: (``TOL_REL`` = 1e-6 of the scaled problem's unit magnitudes), so that the solver's
#: own slack cannot eat the margin (at the defaults, 1e-6 for MIP feasibility, HiGHS
#: called a model infeasible whose witness had slack 1e-6, tests/test_trust.py).
SOLVER_FEASIBILITY_TOL = 1e-9


def _configure(h: _Highs, seed: int | None, presolve: bool = True) -> None:
    h.setOptionValue("mip_feasibility_tolerance", SOLVER_FEASIBILITY_TOL)
    h.setOptionValue("primal_feasibility_tolerance", SOLVER_FEASIBILITY_TOL)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_improving_solution_save", True)
    if not presolve:
        h.setOptionValue("presolve", "off")
    if seed is not None:
        h.setOptionValue("random_seed", int(seed) % 2147483647)


class _Solver:
    """One run of :func:`milp_solve`: bounds, model, HiGHS runs, polishing, verdict."""

    def __init__(
        self,
        problem: InversionProblem,
        mode: Mode,
        time_limit: float | None,
        seed: int | None,
        progress: bool,
        tighten: bool | None,
        bound_time: float,
        confirm_no: bool | None,
        target_bounds: bool = False,
        engine: Engine = "highs",
        separating: str = "portfolio",
    ) -> None:
        self.start = time.perf_counter()
        self.separating = separating
        self.clock = _Clock(self.start, None if time_limit is None else self.start + time_limit)
        self.setup = _setup(problem)
        self.mode = mode
        self.seed = seed
        self.progress = progress
        self.engine = engine
        # HiGHS's presolve has been seen wrong (module docstring), and so has SCIP's
        self.confirm = True if confirm_no is None else confirm_no
        net = problem.network
        if tighten is None:
            tighten = sum(net.widths) <= TIGHTEN_MAX_UNITS
        budget = (
            bound_time if time_limit is None else min(bound_time, BOUND_TIME_SHARE * time_limit)
        )
        self.bound_budget = max(budget, 0.0)
        self.target_bounds = bool(tighten) and target_bounds and mode == "decide"
        self.bounds = compute_bounds(
            net,
            problem.domain.kind,
            self.setup.lo_f,
            self.setup.hi_f,
            tighten,
            self.clock,
            max(budget, 0.0),
        )
        self.tol = _tolerance(self.setup, self.bounds)
        self.cap = self.setup.delta_f + self.tol
        self.solver = highs_version() if engine == "highs" else scip_version()
        self.best = _Best()
        b = self.bounds
        self.stats: dict[str, Any] = {
            "mode": mode,
            "solver": self.solver,
            "tolerance": self.tol,
            "bound_tightening": {
                "enabled": tighten,
                "lps": b.lps,
                "tightened": b.tightened,
                "seconds": round(b.seconds, 6),
                "complete": b.complete,
                "snapped_units": b.snapped,
                "dropped_weights": b.dropped_weights,
            },
            "engine": engine,
            engine: [],
        }

    # -------------------------------------------------------------- outcomes
    def finish(
        self, status: Status, proof: dict[str, Any] | None = None, reason: str | None = None
    ) -> Solution:
        chk = self.best.check
        if chk is not None:
            self.stats["best_distance"] = chk.distance
        self.stats["exact_checks"] = self.best.tried
        if self.stats.get("lower_bound") is not None:
            self.stats["lower_bound_basis"] = BASIS_FLOAT  # a dual bound, unchecked
        return Solution(
            status,
            "milp" if self.engine == "highs" else "milp-scip",
            z=self.best.z,
            distance=None if chk is None else chk.distance,
            proof=proof,
            reason=reason,
            check=chk if status is Status.YES else None,
            stats=self.stats,
            seconds=time.perf_counter() - self.start,
        )

    def found(self) -> bool:
        return self.best.check is not None and self.best.check.meets

    def proof(self, kind: str, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": kind,
            "basis": BASIS_FLOAT,
            "threshold": self.setup.delta_f,
            "tolerance": self.tol,
            "solver": self.solver,
        }
        out.update(extra)
        out["binaries"] = self.stats.get("binaries", 0)
        return out

    def refuse(self, milp: _Milp) -> Solution | None:
        """``unknown`` when the model's numbers are beyond what the solver represents
        safely (:func:`geninv.solvers.numerics.model_range`), else None."""
        rng = model_range(milp.model)
        self.stats["model_range"] = rng.as_dict()
        why = rng.refusal()
        if why is None:
            return None
        self.stats["numerics_refused"] = True
        return self.finish(Status.UNKNOWN, reason=f"{self.solver} not run: {why}")

    def contradicted(self, run: _Run) -> Solution | None:
        """``unknown`` when the solver's lower bound exceeds the exact distance of a
        checked point (plus the tolerance): its arithmetic went wrong."""
        chk = self.best.check
        if chk is None or not run.dual_bound > chk.distance + self.tol:
            return None
        why = (
            f"{self.solver}'s lower bound {run.dual_bound!r} exceeds the exact distance "
            f"{chk.distance!r} of a checked point by more than the tolerance {self.tol:.3g}: "
            "its floating-point arithmetic failed on this model"
        )
        self.stats["lower_bound"] = None
        self.stats["lower_bound_discarded"] = why
        return self.finish(Status.UNKNOWN, reason=why)

    def unknown_time(self, run: _Run | None) -> Solution:
        status = "not started" if run is None else f"status {run.status}"
        return self.finish(Status.UNKNOWN, reason=f"time limit ({self.solver} {status})")

    # -------------------------------------------------------------- HiGHS
    def run(
        self,
        milp: _Milp,
        presolve: bool = True,
        target: float | None = None,
        seed_shift: int = 0,
        record: bool = True,
    ) -> _Run:
        seed = self.seed if seed_shift == 0 else (self.seed or 0) + seed_shift
        if self.engine == "scip":
            run = _run_scip(
                milp.model,
                self.clock.left(),
                seed,
                presolve,
                target is not None,
                self.progress,
                self.separating,
            )
            return self.record(milp, run, presolve, record)
        log_path = None
        if self.progress and not _stderr_is_stream():
            fd, log_path = tempfile.mkstemp(prefix="geninv-highs-", suffix=".log")
            os.close(fd)
        h = _new_highs(self.progress, log_path)
        _configure(h, seed, presolve)
        milp.model.push(h)
        if target is not None:
            h.setOptionValue("objective_target", target)
            h.setOptionValue("mip_abs_gap", 1e-3 * self.tol)
        else:
            h.setOptionValue("mip_abs_gap", 0.0)
        run = _run_highs(h, self.clock.left(), any(milp.model.col_int))
        if log_path is not None:
            _copy_log(h, log_path)
        return self.record(milp, run, presolve, record)

    def record(self, milp: _Milp, run: _Run, presolve: bool, record: bool) -> _Run:
        """Note the run in ``stats`` and polish its points."""
        self.stats["highs" if self.engine == "highs" else "scip"].append(
            {
                **({"config": run.config} if run.config else {}),
                "status": run.status,
                "presolve": presolve,
                "nodes": run.nodes,
                "seconds": round(run.seconds, 6),
            }
        )
        if record:
            self.stats["lower_bound"] = run.dual_bound
            self.stats[f"{self.engine}_status"] = run.status
        _polish(self.setup, milp, run, self.best, self.mode == "decide", self.clock)
        return run

    def run_feasible(self, milp: _Milp) -> _Run:
        """Minimise a model known to be feasible; rerun without presolve if HiGHS says not."""
        run = self.run(milp)
        if run.status in INFEASIBLE and not self.clock.expired():
            run = self.run(milp, presolve=False)
        return run

    def capped(self) -> _Milp | None:
        milp = _build_milp(self.setup, self.bounds, self.cap)
        if milp is not None:
            self.stats.update(
                binaries=milp.enc.binaries,
                stable_active=milp.enc.stable_active,
                stable_inactive=milp.enc.stable_inactive,
                columns=milp.model.n_cols,
                rows=len(milp.model.row_lo),
            )
        return milp

    def no(self, proof: dict[str, Any], capped: _Milp | None) -> Solution:
        """Return ``no`` once a second HiGHS run without presolve agrees (``confirm_no``)."""
        if capped is None or not self.confirm:
            return self.finish(Status.NO, proof=proof)
        if self.clock.expired():
            return self.unknown_time(None)
        run = self.run(
            capped, presolve=False, target=self.setup.delta_f, seed_shift=1, record=False
        )
        if self.found():
            return self.finish(Status.YES)
        if run.status in INFEASIBLE:
            proof["confirmed"] = f"{self.solver} without presolve: infeasible with the same margin"
            return self.finish(Status.NO, proof=proof)
        if run.status == "kTimeLimit":
            return self.unknown_time(run)
        return self.finish(
            Status.UNKNOWN,
            reason=(
                f"{self.solver} runs disagree: with presolve no point is within the margin, "
                f"without presolve the status is {run.status}"
            ),
        )

    # -------------------------------------------------------------- modes
    def target_pass(self) -> Solution | None:
        """Target-aware bound tightening (:func:`target_tighten`); ``no`` if the LP is empty."""
        saved = copy.deepcopy(self.bounds)
        tp = target_tighten(self.setup, self.bounds, self.cap, self.clock, self.bound_budget)
        self.stats["target_tightening"] = tp.as_dict()
        if tp.infeasible is None:
            return None
        if _lp_infeasible_again(self.setup, self.bounds, self.cap, self.clock):
            proof = self.proof(
                "LP relaxation infeasible",
                constraint=f"distance <= threshold + tolerance ({self.cap!r})",
                detail=tp.infeasible,
                confirmed=f"{self.solver} interior point: the same relaxation is infeasible",
            )
            return self.finish(Status.NO, proof=proof)
        # simplex and interior point disagree: distrust every bound of this pass
        self.bounds = saved
        self.stats["target_tightening"]["discarded"] = "simplex and interior point disagree"
        return None

    def decide(self) -> Solution:
        if self.target_bounds and not self.clock.expired():
            verdict = self.target_pass()
            if verdict is not None:
                return verdict
        milp = self.capped()
        if milp is None:
            proof = self.proof(
                "MILP infeasible",
                constraint=f"distance <= threshold + tolerance ({self.cap!r})",
                detail="outputs that are 0 on the whole latent box already exceed the threshold",
            )
            return self.finish(Status.NO, proof=proof)
        refused = self.refuse(milp)
        if refused is not None:
            return refused
        if self.clock.expired():
            return self.unknown_time(None)
        run = self.run(milp, target=self.setup.delta_f + 1e-3 * self.tol)
        if self.found():
            return self.finish(Status.YES)
        if run.status in INFEASIBLE:
            # the objective is bounded below by 0: 'unbounded or infeasible' is infeasible
            proof = self.proof(
                "MILP infeasible",
                constraint=f"distance <= threshold + tolerance ({self.cap!r})",
            )
            return self.no(proof, milp)
        if run.status == "kObjectiveTarget" and not self.clock.expired():
            # a point within the margin failed the exact check: minimise and polish again
            run = self.run_feasible(milp)
            if self.found():
                return self.finish(Status.YES)
        return self.conclude(run, milp)

    def optimize(self) -> Solution:
        milp = _build_milp(self.setup, self.bounds, None)
        assert milp is not None
        self.stats.update(
            binaries=milp.enc.binaries,
            stable_active=milp.enc.stable_active,
            stable_inactive=milp.enc.stable_inactive,
            columns=milp.model.n_cols,
            rows=len(milp.model.row_lo),
        )
        refused = self.refuse(milp)
        if refused is not None:
            self.stats["lower_bound"] = None
            return refused
        if self.clock.expired():
            return self.unknown_time(None)
        run = self.run_feasible(milp)
        wrong = self.contradicted(run)  # also drops a wrong lower bound from a 'yes'
        if self.found():
            return self.finish(Status.YES)
        if wrong is not None:
            return wrong
        if run.status in INFEASIBLE:  # the model without a cap is feasible: numerical trouble
            self.stats["lower_bound"] = None
            self.stats["lower_bound_discarded"] = _unknown_reason(run, self.tol, self.solver)
        if run.dual_bound > self.cap and run.status in ("kOptimal", "kTimeLimit"):
            return self.no(
                self.lower_bound_proof(run), _build_milp(self.setup, self.bounds, self.cap)
            )
        return self.conclude(run, None)

    def lower_bound_proof(self, run: _Run) -> dict[str, Any]:
        return self.proof("MILP lower bound", lower_bound=run.dual_bound)

    def conclude(self, run: _Run, capped: _Milp | None) -> Solution:
        wrong = self.contradicted(run)
        if wrong is not None:
            return wrong
        if run.status in ("kOptimal", "kTimeLimit") and run.dual_bound > self.cap:
            return self.no(self.lower_bound_proof(run), capped)
        if run.status == "kTimeLimit" or self.clock.expired():
            return self.unknown_time(run)
        return self.finish(Status.UNKNOWN, reason=_unknown_reason(run, self.tol, self.solver))


def _check_engine(engine: str, separating: str) -> None:
    if engine not in ENGINES:
        raise ValidationError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if separating not in SEPARATING:
        raise ValidationError(
            f"separating must be one of {', '.join(SEPARATING)}, got {separating!r}"
        )


def milp_solve(
    problem: InversionProblem,
    *,
    mode: Mode = "decide",
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    tighten: bool | None = None,
    bound_time: float = BOUND_TIME,
    confirm_no: bool | None = None,
    target_bounds: bool = False,
    engine: Engine = "highs",
    separating: str = "portfolio",
    scale: bool = True,
) -> Solution:
    """Decide (or, with ``mode="optimize"``, minimise) with HiGHS; see the module docstring.

    ``tighten`` switches LP bound tightening on or off (default: on for networks
    of at most ``TIGHTEN_MAX_UNITS`` units); ``bound_time`` caps its seconds.
    ``target_bounds`` (decide mode, with ``tighten``; off by default) tightens
    them once more with the output target (:func:`target_tighten`).
    ``confirm_no`` re-solves the margin model without presolve before a ``no``
    (default: on, with either engine).  ``engine`` is the MILP solver:
    ``"highs"`` (HiGHS) or ``"scip"`` (SCIP through pyscipopt); ``separating``
    is SCIP's cutting-plane setting (:data:`SEPARATING`; see :func:`_run_scip`).
    ``scale`` (default on) solves the problem scaled by powers of two
    (:func:`geninv.solvers.numerics.scale_problem`); off, only for tests of the
    range check.
    """
    if mode not in MODES:
        raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
    _check_engine(engine, separating)
    setup = _setup(problem)
    scaled = scale_problem(problem, setup.lo_f, setup.hi_f) if scale else Scaled(problem)
    solver = _Solver(
        scaled.problem,
        mode,
        time_limit,
        seed,
        progress,
        tighten,
        bound_time,
        confirm_no,
        target_bounds,
        engine,
        separating,
    )
    sol = solver.decide() if mode == "decide" else solver.optimize()
    return scaled.unscale(problem, sol, 1.0)


@register
class MilpBackend(Backend):
    """Big-M MILP encoding solved by HiGHS (l1, l-inf and exact inversion)."""

    name = "milp"
    summary = (
        "big-M MILP encoding solved by HiGHS (p = 1, inf and exact inversion; bounded latents)"
    )
    capabilities = Capabilities(
        domains=frozenset({"real", "box", "binary", "sign"}),
        exact=True,
        approximate=True,
        norms="1,inf",
        complete=True,
        activations=HANDLED_ACTIVATIONS,
    )
    modules: ClassVar[tuple[str, ...]] = ("highspy",)
    no_basis = BASIS_FLOAT

    def __init__(
        self,
        mode: Mode = "decide",
        tighten: bool | None = None,
        bound_time: float = BOUND_TIME,
        confirm_no: bool | None = None,
        target_bounds: bool = False,
        engine: Engine = "highs",
        separating: str = "portfolio",
        scale: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'decide' or 'optimize', got {mode!r}")
        _check_engine(engine, separating)
        self.scale = scale
        self.engine: Engine = engine
        self.separating = separating
        self.mode: Mode = mode
        self.tighten = tighten
        self.bound_time = bound_time
        self.confirm_no = confirm_no
        self.target_bounds = target_bounds

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        if problem.domain.kind == "real" and problem.input_box is None:
            return NO_BOUNDS_MESSAGE
        if not problem.is_exact_inversion and not (math.isinf(problem.p) or problem.p == 1):
            return NORM_MESSAGE
        return super().unsupported_reason(problem)

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        return milp_solve(
            problem,
            mode=self.mode,
            time_limit=time_limit,
            seed=seed,
            progress=progress and SOLVER_LOGS,
            tighten=self.tighten,
            bound_time=self.bound_time,
            confirm_no=self.confirm_no,
            target_bounds=self.target_bounds,
            engine=self.engine,
            separating=self.separating,
            scale=self.scale,
        )


@register
class MilpScipBackend(MilpBackend):
    """The MILP backend's model solved by SCIP instead of HiGHS (bounds still by HiGHS LPs)."""

    name = "milp-scip"
    summary = (
        "the milp backend's big-M model solved by SCIP (one thread); "
        "faster than HiGHS on the near-boundary random-net regime"
    )
    modules = ("highspy", "pyscipopt")

    def __init__(
        self,
        mode: Mode = "decide",
        tighten: bool | None = None,
        bound_time: float = BOUND_TIME,
        confirm_no: bool | None = None,
        target_bounds: bool = False,
        engine: Engine = "scip",
        separating: str = "portfolio",
        scale: bool = True,
    ) -> None:
        super().__init__(
            mode, tighten, bound_time, confirm_no, target_bounds, engine, separating, scale
        )
