"""Binary adders for weighted sums and at-most comparisons (the objective's fallback).

Pure functions over the shared :class:`VarPool`: each returns its output
literals and the clauses defining them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from geninv.solvers.sat.encodings import encode_and, encode_or
from geninv.solvers.sat.mdd import _Term
from geninv.solvers.sat.pool import Clauses, VarPool


# ------------------------------------------------------------------ adders
def encode_half_adder(a: int, b: int, pool: VarPool) -> tuple[int, int, Clauses]:
    """``(s, carry, clauses)`` with ``s <-> a xor b`` and ``carry <-> a & b`` (7 clauses)."""
    s, carry = pool.fresh(), pool.fresh()
    return (
        s,
        carry,
        [
            [-a, -b, -s],  # s <-> a xor b
            [a, b, -s],
            [-a, b, s],
            [a, -b, s],
            [-carry, a],  # carry <-> a and b
            [-carry, b],
            [carry, -a, -b],
        ],
    )


def encode_full_adder(a: int, b: int, c: int, pool: VarPool) -> tuple[int, int, Clauses]:
    """``(s, carry, clauses)``: ``s <-> a xor b xor c``, ``carry <-> maj(a, b, c)`` (14)."""
    s, carry = pool.fresh(), pool.fresh()
    clauses: Clauses = []
    for x, y, z, out in ((a, b, c, s), (a, -b, -c, s), (-a, b, -c, s), (-a, -b, c, s)):
        clauses.append([-x, -y, -z, out])
        clauses.append([x, y, z, -out])
    for x, y in ((a, b), (a, c), (b, c)):
        clauses.append([-x, -y, carry])
        clauses.append([x, y, -carry])
    return s, carry, clauses


def encode_weighted_sum(
    weighted: Sequence[tuple[int, int]], pool: VarPool
) -> tuple[list[int], Clauses]:
    """Bits (least significant first) of ``sum w * lit`` for weights w > 0, and their clauses.

    Each weight is split into its binary digits; the literals of one digit
    position are summed by full and half adders whose sum stays in the
    position and whose carry moves up.  Every adder output is defined by
    equivalences, so the bits are functions of the literals.  A position with
    no literal is the constant FALSE.
    """
    buckets: dict[int, deque[int]] = {}
    for lit, w in weighted:
        k = 0
        while w:
            if w & 1:
                buckets.setdefault(k, deque()).append(lit)
            w >>= 1
            k += 1
    bits: list[int] = []
    clauses: Clauses = []
    k = 0
    while k <= max(buckets, default=-1):
        q = buckets.get(k, deque())
        while len(q) >= 2:
            a, b = q.popleft(), q.popleft()
            if q:
                s, carry, cs = encode_full_adder(a, b, q.popleft(), pool)
            else:
                s, carry, cs = encode_half_adder(a, b, pool)
            clauses.extend(cs)
            q.append(s)
            buckets.setdefault(k + 1, deque()).append(carry)
        bits.append(q[0] if q else -pool.true)
        k += 1
    return bits, clauses


def encode_at_most(bits: Sequence[int], bound: int, false: int) -> Clauses:
    """Clauses saying the binary number ``bits`` (LSB first) is <= ``bound`` >= 0.

    ``sum > bound`` iff some position i has bound_i = 0, s_i = 1 and s_j = 1 at
    every higher j with bound_j = 1; each clause forbids one such i.  ``false``
    is the constant FALSE literal (for the positions above ``bits``).
    """
    width = max(len(bits), bound.bit_length())
    bit = [bits[i] if i < len(bits) else false for i in range(width)]
    out: Clauses = []
    for i in range(width):
        if (bound >> i) & 1:
            continue
        out.append([-bit[i], *(-bit[j] for j in range(i + 1, width) if (bound >> j) & 1)])
    return out


def encode_reified_at_most(bits: Sequence[int], bound: int, pool: VarPool) -> tuple[int, Clauses]:
    """A fresh ``v`` with ``v -> (bits <= bound)``: each clause of :func:`encode_at_most`
    guarded by ``~v`` (one direction: ``v`` may be false when the sum is small)."""
    v = pool.fresh()
    return v, [[-v, *c] for c in encode_at_most(bits, bound, -pool.true)]


def encode_cost_bits(
    terms: Sequence[_Term], pool: VarPool
) -> tuple[list[tuple[int, int]], int, int, Clauses]:
    """The weighted bits of ``sum_j f_j(H_j) - sum_j min f_j`` for order-encoded ``H_j``.

    Term j with values d_0..d_r gets the indicators ``e_t = [H_j = d_t]``
    (``g_t & ~g_{t+1}``, made only when used); bit k of ``f_j(H_j) - min f_j``
    is the OR of the ``e_t`` whose cost has bit k (or the negated OR of the
    others, whichever is shorter).  Returns ``(weighted bits (lit, 2^k), offset,
    wsum, clauses)``: ``offset`` collects the bits every value has (the
    ``min f_j`` are left to the caller), ``wsum = sum_j max (f_j - min f_j)``.
    """
    true = pool.true
    clauses: Clauses = []
    weighted: list[tuple[int, int]] = []
    offset = wsum = 0
    for t in terms:
        low = min(t.f)
        f = [v - low for v in t.f]
        wsum += max(f)
        g = [true, *t.lits, -true]
        r = len(t.values) - 1
        ind: dict[int, int] = {}

        def e(i: int, g: list[int] = g, ind: dict[int, int] = ind) -> int:
            if i not in ind:
                ind[i], cs = encode_and([x for x in (g[i], -g[i + 1]) if x != true], pool)
                clauses.extend(cs)
            return ind[i]

        for k in range(max(f).bit_length()):
            on = [i for i in range(r + 1) if (f[i] >> k) & 1]
            if not on:
                continue
            if len(on) == r + 1:
                offset += 1 << k
                continue
            if 2 * len(on) <= r + 1:
                bit, cs = encode_or([e(i) for i in on], pool)
            else:
                off = set(on)
                bit, cs = encode_or([e(i) for i in range(r + 1) if i not in off], pool)
                bit = -bit
            clauses.extend(cs)
            weighted.append((bit, 1 << k))
    return weighted, offset, wsum, clauses
