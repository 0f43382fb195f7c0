"""The model: columns and rows of the big-M encoding (input, layers)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray
from geninv.solvers.milp.common import IntArray, _Highs


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
