"""An exact reference evaluator and l_p comparison, written independently of geninv.

Nothing here calls :mod:`geninv.network` or :mod:`geninv.problem`: the differential
tester (:mod:`geninv.testing.differential`) judges geninv's answers with these.

* :func:`forward_bounds` evaluates a network given as plain lists of Fractions.  ReLU,
  LeakyReLU and the identity are exact rationals; sigmoid and tanh give a rational
  enclosure of width ``2 * SMOOTH_EPS`` per unit (Python's ``Decimal.exp`` is correctly
  rounded, so 50 digits leave a wide margin); ELU (``elu``, ``elu:ALPHA``) an enclosure of
  relative width about ``2^-190`` from the integer Taylor bounds of
  :mod:`geninv.testing.exactref_elu` (not geninv's :mod:`geninv.exact_elu`).  Any of
  them may sit in any layer: enclosures travel through later layers by interval
  arithmetic.
* :func:`lp_sign` is the sign of ``||a||_p - delta`` for p in {1, 3/2, 2, 3, inf}, exact:
  integer p compares ``sum a_i^p`` with ``delta^p`` in rationals; p = inf compares the
  maximum.  For p = 3/2 both sides are sums of ``c * sqrt(r)`` (``a^{3/2} = a sqrt(a)``
  with ``sqrt(n/m) = sqrt(nm)/m``).  Square roots of integers whose pairwise products
  are not perfect squares have distinct squarefree parts and are linearly independent
  over Q, so after merging terms whose radicands multiply to a square
  (``sqrt(r2) = (s/r1) sqrt(r1)`` when ``r1 r2 = s^2``) the difference is zero exactly
  when every merged coefficient is zero; otherwise its sign comes from integer square
  root enclosures of growing precision (it is nonzero, so they separate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction

from geninv.testing.exactref_elu import elu_enclosure

#: A layer: (weight rows, bias, activation spec such as "relu", "leaky_relu:1/4", "elu:1/2").
RefLayer = tuple[list[list[Fraction]], list[Fraction], str]
#: A closed interval ``(lo, hi)`` of rationals.
Interval = tuple[Fraction, Fraction]
#: The norms the tester draws, by label.
P_LABELS: tuple[str, ...] = ("1", "1.5", "2", "3", "inf")
#: Half-width of the enclosure of a sigmoid/tanh value.
SMOOTH_EPS = Fraction(1, 10**40)
_ZERO = Fraction(0)


def parse_act(spec: str) -> tuple[str, Fraction]:
    """(name, parameter) of an activation spec: the LeakyReLU slope (default 1/100), the
    ELU alpha (default 1, must be >= 0), else 0."""
    name, _, arg = spec.partition(":")
    if name == "leaky_relu":
        return name, Fraction(arg) if arg else Fraction(1, 100)
    if name == "elu":
        alpha = Fraction(arg) if arg else Fraction(1)
        if alpha < 0:
            raise ValueError(f"ELU alpha must be >= 0, got {spec!r}")
        return name, alpha
    if name not in ("relu", "identity", "sigmoid", "tanh"):
        raise ValueError(f"unknown activation {spec!r}")
    return name, _ZERO


def _smooth(name: str, s: Fraction) -> tuple[Fraction, Fraction]:
    """An enclosure of sigmoid(s) or tanh(s)."""
    lo_lim, hi_lim = (
        (Fraction(0), Fraction(1)) if name == "sigmoid" else (Fraction(-1), Fraction(1))
    )
    if s > 300:
        return hi_lim - Fraction(1, 10**100), hi_lim
    if s < -300:
        return lo_lim, lo_lim + Fraction(1, 10**100)
    with localcontext() as ctx:
        ctx.prec = 50
        x = Decimal(s.numerator) / Decimal(s.denominator)
        if name == "sigmoid":
            v = 1 / (1 + (-x).exp())
        else:
            e = (2 * x).exp()
            v = (e - 1) / (e + 1)
    f = Fraction(v)
    return max(lo_lim, f - SMOOTH_EPS), min(hi_lim, f + SMOOTH_EPS)


def act_interval(name: str, param: Fraction, lo: Fraction, hi: Fraction) -> Interval:
    """An enclosure of ``act([lo, hi])``: relu, identity, ELU (alpha >= 0), sigmoid and
    tanh are nondecreasing, so the ends map to the ends (rounded outward for the
    transcendental ones); a LeakyReLU of any slope is linear on each side of 0, so its
    image is spanned by the images of ``lo``, ``hi`` and 0 when ``lo < 0 < hi``."""
    if name in ("relu", "identity", "leaky_relu"):
        pts = [_pl(name, param, lo), _pl(name, param, hi)]
        if lo < 0 < hi:
            pts.append(_ZERO)
        return min(pts), max(pts)
    if name == "elu":
        return elu_enclosure(lo, param)[0], elu_enclosure(hi, param)[1]
    return _smooth(name, lo)[0], _smooth(name, hi)[1]


def forward_bounds(layers: Sequence[RefLayer], z: Sequence[Fraction]) -> list[Interval]:
    """Enclosures of the outputs at ``z``: exact points for piecewise-linear networks (and
    wherever every ELU pre-activation is >= 0), else intervals.

    Interval arithmetic with exact weights: ``[lo, hi]`` in, the pre-activation lies in
    ``b + sum_j c_j [lo_j, hi_j]`` (the low end takes ``lo_j`` where ``c_j > 0``,
    ``hi_j`` elsewhere) and :func:`act_interval` maps it through the activation, in any
    layer (ELU via :mod:`geninv.testing.exactref_elu`, sigmoid and tanh via
    :func:`_smooth`)."""
    h: list[Interval] = [(v, v) for v in z]
    for w, b, act in layers:
        name, param = parse_act(act)
        nh: list[Interval] = []
        for row, bi in zip(w, b, strict=True):
            s_lo = s_hi = bi
            for c, (lo, hi) in zip(row, h, strict=True):
                if c > 0:
                    s_lo += c * lo
                    s_hi += c * hi
                elif c < 0:
                    s_lo += c * hi
                    s_hi += c * lo
            nh.append(act_interval(name, param, s_lo, s_hi))
        h = nh
    return h


def forward_exact(layers: Sequence[RefLayer], z: Sequence[Fraction]) -> list[Fraction] | None:
    """Exact outputs, or None when a transcendental layer makes them irrational."""
    bounds = forward_bounds(layers, z)
    if any(lo != hi for lo, hi in bounds):
        return None
    return [lo for lo, _ in bounds]


def _pl(name: str, slope: Fraction, s: Fraction) -> Fraction:
    if name == "relu":
        return s if s > 0 else _ZERO
    if name == "leaky_relu":
        return s if s > 0 else slope * s
    return s


def abs_bounds(lo: Fraction, hi: Fraction) -> tuple[Fraction, Fraction]:
    """Bounds of |v| for v in [lo, hi]."""
    if lo >= 0:
        return lo, hi
    if hi <= 0:
        return -hi, -lo
    return _ZERO, max(-lo, hi)


# ------------------------------------------------------------------ l_p comparison
def _is_square(n: int) -> int | None:
    r = math.isqrt(n)
    return r if r * r == n else None


def _three_halves(a: Fraction | int) -> tuple[Fraction, int]:
    """a^{3/2} as (c, r) meaning c * sqrt(r), r a positive integer."""
    a = Fraction(a)
    n, m = a.numerator, a.denominator
    return a / m, n * m


def _sign_radicals(terms: Sequence[tuple[Fraction, int]]) -> int | None:
    """Exact sign of sum c_i sqrt(r_i) (r_i > 0 integers); None only if 2^16-bit
    enclosures fail to separate a nonzero sum from 0 (never seen)."""
    groups: dict[int, Fraction] = {}
    for c, r in terms:
        if c == 0 or r == 0:
            continue
        sq = _is_square(r)
        if sq is not None:
            groups[1] = groups.get(1, _ZERO) + c * sq
            continue
        for r1 in groups:
            s = _is_square(r1 * r) if r1 != 1 else None
            if s is not None:  # sqrt(r) = (s / r1) sqrt(r1)
                groups[r1] += c * Fraction(s, r1)
                break
        else:
            groups[r] = groups.get(r, _ZERO) + c
    live = [(c, r) for r, c in groups.items() if c != 0]
    if not live:
        return 0
    if len(live) == 1:
        return 1 if live[0][0] > 0 else -1
    bits = 64
    while bits <= 1 << 16:
        lo = hi = _ZERO
        for c, r in live:
            root = math.isqrt(r << (2 * bits))
            a, b = Fraction(root, 1 << bits), Fraction(root + 1, 1 << bits)
            lo += c * a if c > 0 else c * b
            hi += c * b if c > 0 else c * a
        if lo > 0:
            return 1
        if hi < 0:
            return -1
        bits *= 4
    return None


def lp_sign(
    absd: Sequence[Fraction | int], p: str, delta: Fraction, delta_pow: Fraction | None = None
) -> int | None:
    """Sign of ||absd||_p - delta (absd >= 0).  ``delta_pow`` (integer p) replaces
    delta^p.  None only where :func:`_sign_radicals` gives up."""
    if p == "inf":
        top = max(absd, default=_ZERO)
        return int(top > delta) - int(top < delta)
    if p == "1.5":
        if delta_pow is not None:
            raise ValueError("delta_pow needs an integer p")
        terms = [_three_halves(a) for a in absd if a != 0]
        if delta != 0:
            c, r = _three_halves(delta)
            terms.append((-c, r))
        return _sign_radicals(terms)
    k = int(p)
    lhs = sum((a**k for a in absd), _ZERO)
    rhs = delta_pow if delta_pow is not None else delta**k
    return int(lhs > rhs) - int(lhs < rhs)


def meets(sign: int | None, relation: str) -> bool | None:
    """Whether a sign of ||d|| - delta satisfies the relation."""
    if sign is None:
        return None
    return sign <= 0 if relation == "<=" else sign < 0


def decide_bounds(
    d_bounds: Sequence[tuple[Fraction, Fraction]],
    p: str,
    delta: Fraction,
    relation: str,
    delta_pow: Fraction | None = None,
) -> bool | None:
    """Whether ||d||_p (relation) delta for every d in the enclosure (True), for none
    (False), or undecided (None).  The norm is monotone in each |d_i|."""
    ab = [abs_bounds(lo, hi) for lo, hi in d_bounds]
    upper = meets(lp_sign([h for _, h in ab], p, delta, delta_pow), relation)
    if upper:
        return True
    lower = meets(lp_sign([lo for lo, _ in ab], p, delta, delta_pow), relation)
    if lower is False:
        return False
    return None


def lp_power(absd: Sequence[Fraction | int], p: str) -> Fraction | None:
    """||absd||_p^p for integer p, max for inf, None for p = 3/2."""
    if p == "inf":
        return Fraction(max(absd, default=_ZERO))
    if p == "1.5":
        return None
    k = int(p)
    return Fraction(sum((a**k for a in absd), _ZERO))


def lp_float(absd: Sequence[Fraction], p: str) -> float:
    """||absd||_p in floating point (for reports only)."""
    vals = [float(a) for a in absd]
    if p == "inf":
        return max(vals, default=0.0)
    q = float(Fraction(p))
    top = max(vals, default=0.0)
    if top == 0:
        return 0.0
    total: float = sum((v / top) ** q for v in vals)
    return top * float(total ** (1 / q))


def rational_root(x: Fraction, k: int) -> Fraction | None:
    """x^{1/k} when it is rational, else None (x >= 0)."""

    def iroot(n: int) -> int | None:
        r = _int_root(n, k)
        for c in (r - 1, r, r + 1):
            if c >= 0 and c**k == n:
                return c
        return None

    a, b = iroot(x.numerator), iroot(x.denominator)
    return None if a is None or b is None else Fraction(a, b)


def _int_root(n: int, k: int) -> int:
    lo, hi = 0, 1 << (n.bit_length() // k + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid**k <= n:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ------------------------------------------------------------------ integer evaluation
class ScaledNet:
    """A piecewise-linear network evaluated in Python integers.

    Each layer's weights and bias share one denominator ``L``; with ``h = H / D``,
    ``W h + b = (Wn H + Bn D) / (L D)``, and a LeakyReLU slope ``sn / sd`` scales
    every entry by ``sd`` (``P sd`` or ``P sn``).  So an integer latent gives
    outputs ``H / den`` with integer ``H`` and one denominator ``den`` for every
    latent: the same rationals as :func:`forward_bounds`, without Fractions."""

    def __init__(self, layers: Sequence[RefLayer]) -> None:
        self.plan: list[tuple[list[list[int]], list[int], str, int, int, int]] = []
        den = 1
        for w, b, act in layers:
            name, slope = parse_act(act)
            if name not in ("relu", "identity", "leaky_relu"):
                raise ValueError("ScaledNet takes piecewise-linear networks only")
            lcm = 1
            for v in [*b, *(x for row in w for x in row)]:
                lcm = lcm * v.denominator // math.gcd(lcm, v.denominator)
            wn = [[int(x * lcm) for x in row] for row in w]
            bn = [int(x * lcm) for x in b]
            sn, sd = (slope.numerator, slope.denominator) if name == "leaky_relu" else (0, 1)
            self.plan.append((wn, bn, name, sn, sd, lcm))
            den = den * lcm * sd
        self.den = den

    def forward(self, z: Sequence[int]) -> list[int]:
        """Numerators of the outputs over :attr:`den` at an integer latent."""
        h = list(z)
        d = 1
        for wn, bn, name, sn, sd, lcm in self.plan:
            pre = [
                sum(c * x for c, x in zip(row, h, strict=True) if c) + bi * d
                for row, bi in zip(wn, bn, strict=True)
            ]
            d *= lcm * sd
            if name == "relu":
                h = [v if v > 0 else 0 for v in pre]
            elif name == "leaky_relu":
                h = [v * sd if v > 0 else v * sn for v in pre]
            else:
                h = pre
        return h
