"""The compiled loops of :mod:`geninv.kernels` (imported only when they are enabled).

Module-level functions, so that numba's disk cache (``cache=True``) holds every one of
them, including those that call the others.  Their numpy twins and the tests that hold
them equal are named in :mod:`geninv.kernels`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True)


@jit
def layer_plan(w: Any, b: Any) -> Any:
    """(integer, row sums of |w|, their max, max |b|); integer is False when
    some entry is not an integer (then the rest is meaningless).  The sums
    run left to right: each within a relative (k - 1) 2^-53 of the exact one."""
    m, n = w.shape
    rows = np.empty(m)
    rmax = 0.0
    for i in range(m):
        s = 0.0
        for j in range(n):
            v = w[i, j]
            if v != np.floor(v):
                return False, rows, 0.0, 0.0
            s += abs(v)
        rows[i] = s
        if s > rmax:
            rmax = s
    bmax = 0.0
    for i in range(b.shape[0]):
        v = b[i]
        if v != np.floor(v):
            return False, rows, 0.0, 0.0
        if abs(v) > bmax:
            bmax = abs(v)
    return True, rows, rmax, bmax


@jit
def literals(w: Any, need: Any) -> Any:
    """(literals row after row, clause sizes, the common size or -1) of the
    rows in ``need``: -(v+1) for a positive weight, v+1 for a negative one."""
    m, n = w.shape
    count = 0
    rows = 0
    for i in range(m):
        if need[i]:
            rows += 1
            for j in range(n):
                if w[i, j] != 0:
                    count += 1
    lits = np.empty(count, np.int64)
    sizes = np.empty(rows, np.int64)
    k = 0
    r = 0
    common = -2
    for i in range(m):
        if not need[i]:
            continue
        c = 0
        for j in range(n):
            v = w[i, j]
            if v != 0:
                lits[k] = -(j + 1) if v > 0 else j + 1
                k += 1
                c += 1
        sizes[r] = c
        r += 1
        if common == -2:
            common = c
        elif common != c:
            common = -1
    if common <= 0:
        common = -1
    return lits, sizes, common


@jit
def layer_plan2(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    """``layer_plan`` of both layers of a two-layer network (one call)."""
    ok1, rows1, rmax1, bmax1 = layer_plan(w1, b1)
    if not ok1:
        return False, rows1, 0.0, 0.0, False, rows1, 0.0, 0.0
    ok2, rows2, rmax2, bmax2 = layer_plan(w2, b2)
    return True, rows1, rmax1, bmax1, ok2, rows2, rmax2, bmax2


@jit
def corner_shape(w: Any, b: Any, sabs: Any, sign: bool, a: Any, b2: Any) -> Any:
    """clause_form's arrays of a two-layer network: (shape ok, d, smallest,
    feeds, number of constant units, and ``literals`` of the units that feed
    some output); see its numpy twin ``_corner_arrays``."""
    m, n = w.shape
    span = 2.0 if sign else 1.0
    amax = np.empty(m)
    constant = np.empty(m, np.bool_)
    q = a.shape[0]
    d = b2.copy()
    smallest = np.full(q, 2.0**60)
    feeds = np.zeros((q, m), np.bool_)
    n_constant = 0
    lits0 = np.empty(0, np.int64)
    sizes0 = np.empty(0, np.int64)
    for i in range(m):
        if sign:
            top = b[i] + sabs[i]
        else:
            pos = 0.0
            for j in range(n):
                if w[i, j] > 0:
                    pos += w[i, j]
            top = b[i] + pos
        amax[i] = top
        const = top <= 0 or sabs[i] == 0
        constant[i] = const
        n_constant += const
        if not const and top > span:
            for j in range(n):
                v = abs(w[i, j])
                if v != 0 and v * span < top:
                    return False, d, smallest, feeds, n_constant, lits0, sizes0, -1
    for j in range(q):
        for i in range(m):
            v = a[j, i]
            if constant[i]:
                if amax[i] > 0:
                    d[j] += v * amax[i]
            elif v < 0:
                return False, d, smallest, feeds, n_constant, lits0, sizes0, -1
            elif v != 0:
                feeds[j, i] = True
                s = v * amax[i]
                if s < smallest[j]:
                    smallest[j] = s
    used = np.zeros(m, np.bool_)
    for j in range(q):
        for i in range(m):
            if feeds[j, i]:
                used[i] = True
    lits, sizes, common = literals(w, used)
    return True, d, smallest, feeds, n_constant, lits, sizes, common


@jit
def clause_kernel(w: Any, b: Any, a: Any, b2: Any, sign: bool) -> Any:
    """``layer_plan2`` and ``corner_shape`` of a two-layer network in one call
    (the shape is meaningless when either layer is not integer)."""
    plan = layer_plan2(w, b, a, b2)
    if plan[0] and plan[4]:
        return plan, corner_shape(w, b, plan[1], sign, a, b2)
    empty = np.empty(0, np.int64)
    none = (False, b2.copy(), np.empty(0), np.zeros((0, 0), np.bool_), 0, empty, empty, -1)
    return plan, none


@jit
def affine(w: Any, b: Any, x: Any, relu: bool) -> Any:
    """w @ x + b, then ReLU when ``relu``: left-to-right sums (exact for the
    integer values below 2^53 that ReLUNetwork.forward_int passes)."""
    m, n = w.shape
    y = np.empty(m)
    for i in range(m):
        s = b[i]
        for j in range(n):
            s += w[i, j] * x[j]
        y[i] = max(s, 0.0) if relu else s
    return y


@jit
def affine2(w1: Any, b1: Any, relu1: bool, w2: Any, b2: Any, relu2: bool, x: Any) -> Any:
    """``affine`` of both layers of a two-layer network (one call)."""
    return affine(w2, b2, affine(w1, b1, x, relu1), relu2)


def warm() -> None:
    """Compile (or load from the cache) every kernel on the types the callers use."""
    w = np.zeros((1, 1))
    w.setflags(write=False)
    for arr in (w, np.zeros((1, 1))):
        vec = arr[0]
        layer_plan(arr, vec)
        layer_plan2(arr, vec, arr, vec)
        corner_shape(arr, vec, np.zeros(1), True, arr, vec)
        clause_kernel(arr, vec, arr, vec, True)
        affine(arr, vec, np.zeros(1), True)
        affine2(arr, vec, True, arr, vec, False, np.zeros(1))
