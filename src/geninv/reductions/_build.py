"""Small exact building blocks shared by the reductions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.errors import UnsupportedError, ValidationError
from geninv.io.limits import check_parameters

SparseRow = tuple[Mapping[int, Fraction], Fraction]  # (column -> coefficient, bias)


def _float_exact(v: Fraction) -> bool:
    try:
        return Fraction(float(v)) == v
    except OverflowError:
        raise ValidationError(
            f"a network entry of about 10^{len(str(abs(v.numerator // v.denominator))) - 1} is "
            "beyond the float64 range (|x| <= 1.8e308); use smaller numbers"
        ) from None


def dense_layer(rows: Sequence[SparseRow], n: int) -> tuple[Any, Any]:
    """(W, b) of a layer from sparse exact rows.

    Float64 arrays when every entry is exactly a float (integers, dyadics),
    otherwise nested lists of Fractions so that :class:`ReLUNetwork` keeps the
    exact values.
    """
    check_parameters(len(rows) * (n + 1), f"a layer of {len(rows)} rows over {n} inputs")
    exact = all(_float_exact(b) and all(_float_exact(v) for v in r.values()) for r, b in rows)
    if exact:
        w = np.zeros((len(rows), n))
        bias = np.zeros(len(rows))
        for j, (r, b) in enumerate(rows):
            for i, v in r.items():
                w[j, i] = float(v)
            bias[j] = float(b)
        return w, bias
    wl = [[Fraction(0)] * n for _ in rows]
    bl = [Fraction(0)] * len(rows)
    for j, (r, b) in enumerate(rows):
        for i, v in r.items():
            wl[j][i] = v
        bl[j] = b
    return wl, bl


def doubled_rows(rows: Sequence[SparseRow]) -> list[SparseRow]:
    """The rows of [W; -W], [b; -b]: ReLU(a) and ReLU(-a) give |a| in any l_p norm.

    For a = Wz + b, the output (ReLU(a), ReLU(-a)) has exactly the entries
    max(a_j, 0) and max(-a_j, 0), one of which is |a_j| and the other 0, so
    ||(ReLU(a), ReLU(-a))||_p = ||a||_p for every p in [1, inf].
    """
    neg = [({i: -v for i, v in r.items()}, -b) for r, b in rows]
    return [*rows, *neg]


def int_root_floor(x: int, p: int) -> int:
    """floor(x^(1/p)) for integers x >= 0, p >= 1, exactly.

    Integer Newton iteration from an upper bound: r_{k+1} = ((p-1) r_k + x // r_k^(p-1)) // p
    decreases strictly while r_k > floor(x^(1/p)) and stops there (the map is
    >= floor(x^(1/p)) by the AM-GM inequality), so it takes O(log log x + log x / p)
    steps -- never a count by one.
    """
    if x < 0:
        raise ValueError("negative")
    if x < 2 or p == 1:
        return x
    if p == 2:
        return math.isqrt(x)
    if p >= x.bit_length():
        return 1  # 2^p > x
    r = 1 << -(-x.bit_length() // p)  # (2^ceil(bits/p))^p >= 2^bits > x
    while True:
        s = ((p - 1) * r + x // r ** (p - 1)) // p
        if s >= r:
            return r
        r = s


def smallest_int_pow_above(x: Fraction, p: int) -> int:
    """The smallest positive integer a with a^p > x."""
    if x < 0:
        return 1
    a = int_root_floor(math.floor(x), p)
    while Fraction(a) ** p <= x:
        a += 1
    return max(a, 1)


def rational_root(x: Fraction, p: int) -> Fraction | None:
    """x^(1/p) when it is rational, else None."""
    if x < 0:
        return None
    a, b = x.numerator, x.denominator
    ra, rb = int_root_floor(a, p), int_root_floor(b, p)
    if ra**p == a and rb**p == b:
        return Fraction(ra, rb)
    return None


def root_upper(x: Fraction, p: int) -> Fraction:
    """A rational u >= x^(1/p): the exact root when rational, else the nearest float above."""
    exact = rational_root(x, p)
    if exact is not None:
        return exact
    if x >= 10**300:
        u = Fraction(2) ** (x.numerator.bit_length() // p + 1)
        while u**p < x:
            u *= 2
        return u
    f = float(x) ** (1.0 / p)
    while Fraction(f) ** p < x:
        f = math.nextafter(f, math.inf)
    return Fraction(f)


MAX_TERMS = 64
_DP_LIMIT = 20000


def _min_power_terms(n: int, p: int) -> list[int]:
    """Fewest p-th powers summing to n (dynamic programming, n <= _DP_LIMIT)."""
    powers = []
    c = 1
    while c**p <= n:
        powers.append(c)
        c += 1
    best = [0] + [n + 1] * n
    choice = [0] * (n + 1)
    for v in range(1, n + 1):
        for c in powers:
            cp = c**p
            if cp > v:
                break
            if best[v - cp] + 1 < best[v]:
                best[v] = best[v - cp] + 1
                choice[v] = c
    out = []
    v = n
    while v:
        out.append(choice[v])
        v -= choice[v] ** p
    return out


def pth_power_terms(n: int, p: int, max_terms: int | None = None) -> list[int]:
    """Positive integers c_k with sum_k c_k^p = n (few terms; Waring-style greedy + DP).

    Greedy takes the largest p-th power until the remainder is small enough
    for an exact fewest-terms dynamic programme.  With ``max_terms``, stops
    early (returning more than ``max_terms`` terms, not a full split) once the
    greedy part alone exceeds it: with a large p the remainder shrinks slowly.
    """
    if n < 0:
        raise ValueError("negative")
    if p == 1:
        return [n] if n else []
    out: list[int] = []
    while n > _DP_LIMIT:
        if max_terms is not None and len(out) > max_terms:
            return out  # already too many: the caller refuses, no need to finish
        c = int_root_floor(n, p)
        out.append(c)
        n -= c**p
    out.extend(_min_power_terms(n, p))
    return out


def weight_as_pth_powers(w: Fraction, p: int, what: str) -> list[Fraction]:
    """Rationals c_k >= 0 with sum_k c_k^p = w exactly (w >= 0 rational, p integer).

    w = a/b = (a b^(p-1)) / b^p, and the integer a b^(p-1) is split into
    p-th powers.  A single term when w^(1/p) is rational.
    """
    if w < 0:
        raise ValidationError(f"{what}: weights must be >= 0, got {w}")
    if w == 0:
        return []
    root = rational_root(w, p)
    if root is not None:
        return [root]
    a, b = w.numerator, w.denominator
    terms = pth_power_terms(a * b ** (p - 1), p, MAX_TERMS)
    if len(terms) > MAX_TERMS:
        raise UnsupportedError(
            f"{what}: weight {w} needs more than {MAX_TERMS} rows to be written exactly as a "
            f"sum of {p}-th powers (the limit); use smaller weights or p = 1 or 2"
        )
    return [Fraction(c, b) for c in terms]
