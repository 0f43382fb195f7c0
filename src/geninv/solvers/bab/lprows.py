"""The node LP's rows in sparse blocks, by the checker's row names (see :mod:`.relax`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geninv.network import FloatArray


class Rows:
    """Rows ``lo <= r . v <= up`` in dense blocks over a few columns each (or sparse
    blocks, :meth:`add_coo`), by name.

    A two-sided row is named ``"A|B"``: its lower side is the checker's row ``A``
    (``r . v >= lo``) and its upper side row ``B`` (``-r . v >= -up``); a row dual
    ``> 0`` is a multiplier of ``A``, a dual ``< 0`` (its absolute value) of ``B``."""

    def __init__(self) -> None:
        self.names: list[str] = []
        #: per block: (row counts, column indices, values, lower sides, upper sides)
        self.blocks: list[
            tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray, FloatArray, FloatArray]
        ] = []

    def add(self, name: str, idx: Any, val: Any, rhs: float) -> None:
        """One row ``val . v[idx] >= rhs``."""
        self.add_block(
            [name],
            np.asarray(idx, dtype=np.int32),
            np.asarray([val], dtype=np.float64),
            np.array([rhs]),
        )

    def add_block(
        self,
        names: list[str],
        cols: np.ndarray[Any, Any],
        mat: FloatArray,
        rhs: FloatArray,
        upper: FloatArray | None = None,
    ) -> None:
        """Rows ``rhs <= mat . v[cols] <= upper`` (a dense block over ``cols``)."""
        if names:
            nz = mat != 0
            self._push(
                names,
                nz.sum(axis=1),
                np.broadcast_to(cols, mat.shape)[nz],
                mat[nz],
                rhs,
                upper,
            )

    def add_coo(
        self,
        names: list[str],
        rows: np.ndarray[Any, Any],
        cols: np.ndarray[Any, Any],
        vals: FloatArray,
        rhs: FloatArray,
        upper: FloatArray | None = None,
    ) -> None:
        """Rows given by their nonzeros: entry ``k`` is ``vals[k]`` at (block row
        ``rows[k]``, column ``cols[k]``)."""
        if names:
            keep = vals != 0
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
            order = np.argsort(rows, kind="stable")
            counts = np.bincount(rows, minlength=len(names))
            self._push(names, counts, cols[order], vals[order], rhs, upper)

    def _push(
        self,
        names: list[str],
        counts: np.ndarray[Any, Any],
        idx: np.ndarray[Any, Any],
        vals: FloatArray,
        rhs: FloatArray,
        upper: FloatArray | None,
    ) -> None:
        self.names.extend(names)
        up = np.full(len(names), math.inf) if upper is None else upper
        self.blocks.append((counts, idx, vals, rhs, up))

    def csr(
        self,
    ) -> tuple[FloatArray, FloatArray, np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray]:
        """(row lower bounds, row upper bounds, starts, column indices, values)."""
        cnt = np.concatenate([b[0] for b in self.blocks])
        starts = np.zeros(len(cnt), dtype=np.int32)
        starts[1:] = np.cumsum(cnt[:-1])
        return (
            np.concatenate([b[3] for b in self.blocks]),
            np.concatenate([b[4] for b in self.blocks]),
            starts,
            np.concatenate([b[1] for b in self.blocks]).astype(np.int32),
            np.concatenate([b[2] for b in self.blocks]).astype(np.float64),
        )
