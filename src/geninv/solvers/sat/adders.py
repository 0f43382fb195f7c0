"""Binary adders for weighted sums and at-most comparisons (the objective's fallback)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from geninv.solvers.sat.cnf import _Cnf


# ------------------------------------------------------------------ adders
def _adder_bits(cnf: _Cnf, weighted: Sequence[tuple[int, int]]) -> list[int]:
    """Bits (least significant first) of ``sum w * lit`` for weights w > 0.

    Each weight is split into its binary digits; the literals of one digit
    position are summed by full and half adders whose sum stays in the
    position and whose carry moves up.  Every adder output is defined by
    equivalences, so the bits are functions of the literals.
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
    k = 0
    while k <= max(buckets, default=-1):
        q = buckets.get(k, deque())
        while len(q) >= 2:
            a, b = q.popleft(), q.popleft()
            if q:
                c = q.popleft()
                s, carry = cnf.new_var(), cnf.new_var()
                for x, y, z, out in (
                    (a, b, c, s),
                    (a, -b, -c, s),
                    (-a, b, -c, s),
                    (-a, -b, c, s),
                ):  # s <-> a xor b xor c
                    cnf.add([-x, -y, -z, out])
                    cnf.add([x, y, z, -out])
                for x, y in ((a, b), (a, c), (b, c)):  # carry <-> majority
                    cnf.add([-x, -y, carry])
                    cnf.add([x, y, -carry])
            else:
                s, carry = cnf.new_var(), cnf.new_var()
                cnf.add([-a, -b, -s])  # s <-> a xor b
                cnf.add([a, b, -s])
                cnf.add([-a, b, s])
                cnf.add([a, -b, s])
                cnf.add([-carry, a])  # carry <-> a and b
                cnf.add([-carry, b])
                cnf.add([carry, -a, -b])
            q.append(s)
            buckets.setdefault(k + 1, deque()).append(carry)
        bits.append(q[0] if q else -cnf.true)
        k += 1
    return bits


def _at_most_clauses(bits: Sequence[int], bound: int, false: int) -> list[list[int]]:
    """Clauses saying the binary number ``bits`` (LSB first) is <= ``bound`` >= 0.

    ``sum > bound`` iff some position i has bound_i = 0, s_i = 1 and s_j = 1 at
    every higher j with bound_j = 1; each clause forbids one such i.
    """
    width = max(len(bits), bound.bit_length())
    bit = [bits[i] if i < len(bits) else false for i in range(width)]
    out: list[list[int]] = []
    for i in range(width):
        if (bound >> i) & 1:
            continue
        out.append([-bit[i], *(-bit[j] for j in range(i + 1, width) if (bound >> j) & 1)])
    return out
