"""Independent exact oracles for the differential tester.

Every oracle answers ``yes`` (with a witness it checked itself), ``no`` (with the
argument that proves it) or ``undecided``; none of them calls geninv's solvers,
evaluator or exact check (they use :mod:`geninv.testing.exactref`).

* **Brute force** (binary/sign latents, n <= 12): every corner, in rationals.
* **Breakpoint analysis** (one real/box latent, piecewise-linear network): the network
  is propagated as exact piecewise-affine functions of z (a breakpoint wherever a
  pre-activation changes sign), so on each piece the residual r(z) = a z + c is affine
  and ||r(z)||_p is convex.  Its minimum over the piece is attained at
  - p = 1: a finite endpoint or a zero of some r_i (convex piecewise linear);
  - p = inf: a finite endpoint or a vertex of the upper envelope of the lines
    +-r_i (computed exactly);
  - p = 2: the clamped stationary point -sum a_i c_i / sum a_i^2 of the quadratic.
  For p = 3 and p = 3/2 a candidate point (endpoints, zeros, a float line search)
  decides *yes* exactly; *no* needs a rigorous lower bound: ||r||_p >= ||r||_inf,
  ||r||_{3/2} >= ||r||_2, ||r||_3 >= q^{-1/6} ||r||_2 (q outputs), and for p = 3 on a
  bounded piece the tangent bound g(z) >= g(z0) + g'(z0)(z - z0) of the convex
  g = sum |r_i|^3.  Otherwise the piece is undecided.
* **Certified bounds** (anything else): a planted witness decides *yes*; interval
  bounds of every output over the domain decide *no* when the per-output gaps to the
  target already exceed the threshold (the norm is monotone in each |d_i|).
* **Interval bisection** (a box still undecided): split the box, widest side first,
  breadth first; a sub-box whose bounds put every residual beyond the threshold holds
  no witness and is dropped, the midpoint of every sub-box examined is checked exactly
  (the first that meets is a *yes* witness); *no* when every sub-box is dropped (they
  cover the box, every bound rigorous: exact rationals for piecewise-linear layers,
  outward enclosures for ELU, sigmoid, tanh), else *undecided* after ``MAX_BOXES``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from geninv.testing.exactref import (
    RefLayer,
    ScaledNet,
    _smooth,
    decide_bounds,
    forward_bounds,
    lp_power,
    lp_sign,
    meets,
    parse_act,
)
from geninv.testing.exactref_elu import elu_enclosure

_ZERO = Fraction(0)
#: Largest discrete latent the brute force takes (2^12 corners).
BRUTE_MAX_N = 12


@dataclass
class OracleAnswer:
    """An oracle's answer: ``status`` (yes, no, undecided) and the ``method`` that gave it, a
    ``witness`` for *yes*, a ``nonwitness`` (a latent in the domain that fails) when known,
    and ``min_pow`` the exact minimum of ``||d||_p^p`` (max ``|d_i|`` for inf) when known."""

    status: str  # "yes" | "no" | "undecided"
    method: str
    witness: list[Fraction] | None = None
    nonwitness: list[Fraction] | None = None  # a latent in the domain that fails
    min_pow: Fraction | None = None  # exact min of ||d||_p^p (max |d_i| for inf)


@dataclass(frozen=True)
class Question:
    """What the oracles read (a :class:`geninv.testing.cases.Case` provides these)."""

    layers: list[RefLayer]
    target: list[Fraction]
    domain: str
    lower: list[Fraction] | None
    upper: list[Fraction] | None
    p: str
    threshold: Fraction
    relation: str
    threshold_pow: Fraction | None = None
    planted: list[Fraction] | None = None

    @property
    def n(self) -> int:
        """Number of latents (columns of the first layer)."""
        return len(self.layers[0][0][0])

    def in_domain(self, z: Sequence[Fraction]) -> bool:
        """Whether ``z`` has ``n`` entries in the domain (exact comparisons)."""
        if len(z) != self.n:
            return False
        if self.domain == "binary":
            return all(v in (0, 1) for v in z)
        if self.domain == "sign":
            return all(v in (-1, 1) for v in z)
        if self.domain == "box":
            assert self.lower is not None and self.upper is not None
            return all(lo <= v <= hi for v, lo, hi in zip(z, self.lower, self.upper, strict=True))
        return True

    def decide(self, z: Sequence[Fraction]) -> bool | None:
        """Whether z is in the domain and meets the threshold (None: undecided)."""
        if not self.in_domain(z):
            return False
        out = forward_bounds(self.layers, z)
        d = [(lo - x, hi - x) for (lo, hi), x in zip(out, self.target, strict=True)]
        return decide_bounds(d, self.p, self.threshold, self.relation, self.threshold_pow)

    def residual_power(self, z: Sequence[Fraction]) -> Fraction | None:
        """``||G(z) - x||_p^p`` exactly (max ``|d_i|`` for p = inf), or None when the outputs at
        ``z`` are not exact points (sigmoid/tanh) or p = 3/2."""
        out = forward_bounds(self.layers, z)
        if any(lo != hi for lo, hi in out):
            return None
        return lp_power([abs(lo - x) for (lo, _), x in zip(out, self.target, strict=True)], self.p)

    @property
    def piecewise_linear(self) -> bool:
        """True when every layer is ReLU, LeakyReLU or the identity (no sigmoid, tanh, ELU)."""
        return all(parse_act(a)[0] in ("relu", "identity", "leaky_relu") for _, _, a in self.layers)


def oracle(q: Question, search: bool = True) -> OracleAnswer:
    """The strongest oracle that applies to ``q``; on a box where the certified answer is
    undecided, the interval bisection of :func:`bisection` (unless not
    ``search``: it finds no exact minimum, so the strategies' threshold draws skip it)."""
    if q.domain in ("binary", "sign") and q.n <= BRUTE_MAX_N:
        return brute_force(q)
    if q.domain in ("real", "box") and q.n == 1 and q.piecewise_linear:
        return one_latent(q)
    ans = certified(q)
    if ans.status == "undecided" and q.domain == "box" and search:
        return bisection(q, ans.nonwitness)
    return ans


# ------------------------------------------------------------------ brute force
def brute_force(q: Question) -> OracleAnswer:
    """Every corner.  Piecewise-linear networks run in integers (:class:`ScaledNet`):
    with outputs ``H / D`` and the target ``X / T``, the residual is ``N / E`` with
    ``N = H T - X D`` and ``E = D T``, and ``||N / E||_p`` vs ``delta`` is
    ``||N||_p`` vs ``delta E`` (``delta^p E^p`` for ``threshold_pow``)."""
    if not q.piecewise_linear:
        return _brute_force_bounds(q)
    vals = (0, 1) if q.domain == "binary" else (-1, 1)
    net = ScaledNet(q.layers)
    tden = 1
    for x in q.target:
        tden = tden * x.denominator // math.gcd(tden, x.denominator)
    xn = [int(x * tden) for x in q.target]
    d, e = net.den, net.den * tden
    k = 1 if q.p in ("inf", "1.5") else int(q.p)
    delta = q.threshold * e
    dpow = None if q.threshold_pow is None else q.threshold_pow * e**k
    scale = e if q.p in ("inf", "1.5") else e**k
    witness = nonwitness = None
    best: Fraction | None = None
    closest = math.inf  # the non-witness kept is the failing corner nearest the threshold
    undecided = False
    for corner in itertools.product(vals, repeat=q.n):
        h = net.forward(corner)
        absn = [abs(v * tden - x * d) for v, x in zip(h, xn, strict=True)]
        ok = meets(lp_sign(absn, q.p, delta, dpow), q.relation)
        pw = lp_power(absn, q.p)
        if ok and witness is None:
            witness = [Fraction(v) for v in corner]
        elif ok is False:
            try:
                gap = _size(pw) if pw is not None else sum(_size(Fraction(a)) ** 1.5 for a in absn)
            except OverflowError:
                gap = math.inf
            if gap < closest or nonwitness is None:
                closest, nonwitness = gap, [Fraction(v) for v in corner]
        elif ok is None:
            undecided = True
        if pw is not None and (best is None or pw < best * scale):
            best = pw / scale
    status = "yes" if witness is not None else ("undecided" if undecided else "no")
    return OracleAnswer(status, f"brute force over 2^{q.n} corners", witness, nonwitness, best)


def _size(v: Fraction) -> float:
    """float(v), or inf past the float range (for ranking only)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _brute_force_bounds(q: Question) -> OracleAnswer:
    """Every corner, with enclosures (sigmoid, tanh, ELU)."""
    vals = (Fraction(0), Fraction(1)) if q.domain == "binary" else (Fraction(-1), Fraction(1))
    witness = nonwitness = None
    undecided = False
    for corner in itertools.product(vals, repeat=q.n):
        z = list(corner)
        ok = q.decide(z)
        if ok and witness is None:
            witness = z
        elif ok is False and nonwitness is None:
            nonwitness = z
        elif ok is None:
            undecided = True
    status = "yes" if witness is not None else ("undecided" if undecided else "no")
    return OracleAnswer(
        status, f"brute force over 2^{q.n} corners (enclosures)", witness, nonwitness
    )


# ------------------------------------------------------------------ one latent
Affine = tuple[Fraction, Fraction]  # (slope, intercept)


def _sample(lo: Fraction | None, hi: Fraction | None) -> Fraction:
    """A point strictly inside (lo, hi) (or the point itself when lo == hi)."""
    if lo is not None and hi is not None:
        return (lo + hi) / 2
    if lo is not None:
        return lo + 1
    if hi is not None:
        return hi - 1
    return _ZERO


def pwl_network(
    layers: Sequence[RefLayer], lo: Fraction | None, hi: Fraction | None
) -> tuple[list[Fraction], list[list[Affine]]]:
    """Breakpoints inside (lo, hi) and, per output, its affine piece on each interval."""
    xs: list[Fraction] = []
    units: list[list[Affine]] = [[(Fraction(1), _ZERO)]]
    for w, b, act in layers:
        name, slope = parse_act(act)
        npieces = len(xs) + 1
        pre: list[list[Affine]] = []
        for row, bias in zip(w, b, strict=True):
            pieces = []
            for k in range(npieces):
                a = sum((c * units[j][k][0] for j, c in enumerate(row) if c), _ZERO)
                c0 = sum((c * units[j][k][1] for j, c in enumerate(row) if c), bias)
                pieces.append((a, c0))
            pre.append(pieces)
        if name == "identity":
            units = pre
            continue
        bounds = [None, *xs, None]
        new = set(xs)
        for pieces in pre:
            for k, (a, c0) in enumerate(pieces):
                if a != 0:
                    z0 = -c0 / a
                    left, right = bounds[k], bounds[k + 1]
                    if (
                        (left is None or z0 > left)
                        and (right is None or z0 < right)
                        and (lo is None or z0 > lo)
                        and (hi is None or z0 < hi)
                    ):
                        new.add(z0)
        nxs = sorted(new)
        nb = [lo, *nxs, hi]
        units = []
        for pieces in pre:
            out: list[Affine] = []
            for m in range(len(nxs) + 1):
                s = _sample(nb[m], nb[m + 1])
                a, c0 = pieces[bisect_left(xs, s)]
                v = a * s + c0
                if v > 0:
                    out.append((a, c0))
                elif name == "relu":
                    out.append((_ZERO, _ZERO))
                else:
                    out.append((slope * a, slope * c0))
            units.append(out)
        xs = nxs
    return xs, units


def _envelope_vertices(lines: list[Affine]) -> list[Fraction]:
    """x-coordinates of the vertices of the upper envelope max_l (s_l x + t_l)."""
    best: dict[Fraction, Fraction] = {}
    for s, t in lines:
        if s not in best or t > best[s]:
            best[s] = t
    hull: list[Affine] = []
    for s in sorted(best):
        t = best[s]
        while len(hull) >= 2:
            (s1, t1), (s2, t2) = hull[-2], hull[-1]
            # line 2 is useless if line 3 overtakes line 1 no later than line 2 does
            if (t1 - t) * (s2 - s1) <= (t1 - t2) * (s - s1):
                hull.pop()
            else:
                break
        hull.append((s, t))
    return [(t1 - t2) / (s2 - s1) for (s1, t1), (s2, t2) in itertools.pairwise(hull)]


def _clamp(z: Fraction, lo: Fraction | None, hi: Fraction | None) -> Fraction:
    if lo is not None and z < lo:
        return lo
    if hi is not None and z > hi:
        return hi
    return z


def _inside(z: Fraction, lo: Fraction | None, hi: Fraction | None) -> bool:
    return (lo is None or z >= lo) and (hi is None or z <= hi)


def _piece_candidates(
    res: list[Affine], p: str, lo: Fraction | None, hi: Fraction | None
) -> list[Fraction]:
    """Points of [lo, hi] among which the piece's minimum lies (p in 1, 2, inf);
    for other p good candidates (endpoints, zeros, a float line search)."""
    ends = [e for e in (lo, hi) if e is not None]
    zeros = [-c / a for a, c in res if a != 0]
    if p == "2":
        big_a = sum((a * a for a, _ in res), _ZERO)
        if big_a == 0:
            return [_sample(lo, hi)]
        return [_clamp(-sum((a * c for a, c in res), _ZERO) / big_a, lo, hi)]
    if p == "inf":
        lines = [ln for a, c in res for ln in ((a, c), (-a, -c))]
        cands = [v for v in _envelope_vertices(lines) if _inside(v, lo, hi)]
    else:
        cands = [v for v in zeros if _inside(v, lo, hi)]
    cands += ends
    if p in ("3", "1.5"):
        cands.append(_line_search(res, float(Fraction(p)), lo, hi, cands))
    return cands or [_sample(lo, hi)]


def _line_search(
    res: list[Affine], p: float, lo: Fraction | None, hi: Fraction | None, known: list[Fraction]
) -> Fraction:
    """A float golden-section minimiser of the convex sum |a z + c|^p (a candidate only)."""
    fl = [(float(a), float(c)) for a, c in res]

    def g(z: float) -> float:
        total: float = sum(abs(a * z + c) ** p for a, c in fl)
        return total

    pts = [float(v) for v in known] or [0.0]
    span = max(pts) - min(pts) + 1.0
    left = float(lo) if lo is not None else min(pts) - 10 * span
    right = float(hi) if hi is not None else max(pts) + 10 * span
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        m1 = right - ratio * (right - left)
        m2 = left + ratio * (right - left)
        if g(m1) <= g(m2):
            right = m2
        else:
            left = m1
    return _clamp(Fraction((left + right) / 2), lo, hi)


def _piece_fails(q: Question, res: list[Affine], lo: Fraction | None, hi: Fraction | None) -> bool:
    """Rigorous: no z of the piece meets the threshold (p = 3 or 3/2)."""
    nq = len(res)
    # ||r||_inf <= ||r||_p: the exact min of the max
    m_inf = min(
        max((abs(a * z + c) for a, c in res), default=_ZERO)
        for z in _piece_candidates(res, "inf", lo, hi)
    )
    m2 = min(
        sum(((a * z + c) ** 2 for a, c in res), _ZERO) for z in _piece_candidates(res, "2", lo, hi)
    )
    strict = q.relation == "<"  # fails when ||r|| >= delta

    def beyond(lhs: Fraction, rhs: Fraction) -> bool:
        return lhs >= rhs if strict else lhs > rhs

    if q.p == "1.5":
        return beyond(m_inf, q.threshold) or beyond(m2, q.threshold**2)
    t3 = q.threshold_pow if q.threshold_pow is not None else q.threshold**3
    if beyond(m_inf**3, t3) or beyond(m2**3, nq * t3**2):
        return True
    if lo is None or hi is None:
        return False
    best = min(
        _piece_candidates(res, "3", lo, hi),
        key=lambda z: sum((abs(a * z + c) ** 3 for a, c in res), _ZERO),
    )
    g0 = sum((abs(a * best + c) ** 3 for a, c in res), _ZERO)
    d0 = 3 * sum(((a * best + c) * abs(a * best + c) * a for a, c in res), _ZERO)
    return beyond(g0 + min(d0 * (lo - best), d0 * (hi - best)), t3)


def one_latent(q: Question) -> OracleAnswer:
    """The breakpoint oracle (module docstring) for one real or box latent and a piecewise-linear
    network: *yes* with a witness checked exactly, *no* from the exact (or rigorously bounded)
    minimum on every piece, else *undecided*."""
    lo = q.lower[0] if q.domain == "box" and q.lower is not None else None
    hi = q.upper[0] if q.domain == "box" and q.upper is not None else None
    xs, outs = pwl_network(q.layers, lo, hi)
    bounds = [lo, *xs, hi]
    witness = nonwitness = None
    undecided = False
    exact = q.p in ("1", "2", "inf")
    best: Fraction | None = None
    for k in range(len(xs) + 1):
        res = [(u[k][0], u[k][1] - x) for u, x in zip(outs, q.target, strict=True)]
        plo, phi = bounds[k], bounds[k + 1]
        piece_ok = False
        for z in _piece_candidates(res, q.p, plo, phi):
            absd = [abs(a * z + c) for a, c in res]
            verdict = meets(lp_sign(absd, q.p, q.threshold, q.threshold_pow), q.relation)
            if exact:
                pw = lp_power(absd, q.p)
                assert pw is not None
                best = pw if best is None else min(best, pw)
            if verdict:
                piece_ok = True
                witness = witness or [z]
            elif verdict is False and nonwitness is None:
                nonwitness = [z]
        if not piece_ok and not exact and not _piece_fails(q, res, plo, phi):
            undecided = True
    status = "yes" if witness else ("undecided" if undecided else "no")
    return OracleAnswer(
        status,
        f"breakpoint analysis, {len(xs) + 1} linear pieces",
        witness,
        nonwitness,
        best,
    )


# ------------------------------------------------------------------ certified bounds
Bound = tuple[Fraction | None, Fraction | None]  # None: unbounded


def output_bounds(q: Question) -> list[Bound]:
    """Interval bounds of every output over the domain (exact rationals)."""
    if q.domain == "box":
        assert q.lower is not None and q.upper is not None
        h: list[Bound] = list(zip(q.lower, q.upper, strict=True))
    elif q.domain == "binary":
        h = [(Fraction(0), Fraction(1))] * q.n
    elif q.domain == "sign":
        h = [(Fraction(-1), Fraction(1))] * q.n
    else:
        h = [(None, None)] * q.n
    for w, b, act in q.layers:
        name, slope = parse_act(act)
        nh: list[Bound] = []
        for row, bias in zip(w, b, strict=True):
            lo: Fraction | None = bias
            hi: Fraction | None = bias
            for c, (l_, u_) in zip(row, h, strict=True):
                if c == 0:
                    continue
                a, e = (l_, u_) if c > 0 else (u_, l_)
                lo = None if lo is None or a is None else lo + c * a
                hi = None if hi is None or e is None else hi + c * e
            nh.append(_act_bound(name, slope, lo, hi))
        h = nh
    return h


def _act_bound(name: str, slope: Fraction, lo: Fraction | None, hi: Fraction | None) -> Bound:
    if name == "identity":
        return lo, hi
    if name == "relu":
        return (_ZERO if lo is None else max(lo, _ZERO)), (None if hi is None else max(hi, _ZERO))
    if name == "leaky_relu":

        def f(v: Fraction | None) -> Fraction | None:
            return None if v is None else (v if v > 0 else slope * v)

        return f(lo), f(hi)
    if name == "elu":  # nondecreasing, bounded below by -alpha
        return (
            -slope if lo is None else elu_enclosure(lo, slope)[0],
            None if hi is None else elu_enclosure(hi, slope)[1],
        )
    lim = (Fraction(0) if name == "sigmoid" else Fraction(-1)), Fraction(1)
    return (
        lim[0] if lo is None else _smooth(name, lo)[0],
        lim[1] if hi is None else _smooth(name, hi)[1],
    )


def certified(q: Question) -> OracleAnswer:
    """The fallback oracle: *yes* when the planted latent is a witness, *no* when the interval
    bounds of the outputs are already too far from the target, else *undecided*."""
    nonwitness = None
    if q.planted is not None:
        verdict = q.decide(q.planted)
        if verdict:
            return OracleAnswer("yes", "planted witness", list(q.planted))
        if verdict is False:
            nonwitness = list(q.planted)
    if bounds_fail(q):
        return OracleAnswer("no", "interval bounds of the outputs", None, nonwitness)
    return OracleAnswer("undecided", "no exact oracle for this instance", None, nonwitness)


def bounds_fail(q: Question) -> bool:
    """Whether the interval bounds of the outputs over the domain (:func:`output_bounds`)
    already put every latent's residual beyond the threshold: each ``|d_i|`` is at least
    the gap between the target and the output's interval, and the norm is monotone."""
    gaps = []
    for (lo, hi), x in zip(output_bounds(q), q.target, strict=True):
        g = _ZERO
        if lo is not None and lo > x:
            g = lo - x
        if hi is not None and hi < x:
            g = x - hi
        gaps.append(g)
    return meets(lp_sign(gaps, q.p, q.threshold, q.threshold_pow), q.relation) is False


# ------------------------------------------------------------------ interval bisection
#: Sub-boxes examined at most.
MAX_BOXES = 160


def bisection(
    q: Question, nonwitness: list[Fraction] | None = None, max_boxes: int = MAX_BOXES
) -> OracleAnswer:
    """*yes* with a checked midpoint, *no* when every sub-box is ruled out, else
    *undecided* (the module docstring); ``nonwitness`` is kept when given."""
    if q.domain != "box" or q.lower is None or q.upper is None:
        raise ValueError("bisection takes a box domain")
    queue = deque([(list(q.lower), list(q.upper))])
    examined = 0
    while queue and examined < max_boxes:
        lo, hi = queue.popleft()
        examined += 1
        if bounds_fail(dataclasses.replace(q, lower=lo, upper=hi)):
            continue
        mid = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
        verdict = q.decide(mid)
        if verdict:
            return OracleAnswer("yes", f"interval bisection ({examined} boxes)", mid, nonwitness)
        if verdict is False and nonwitness is None:
            nonwitness = mid
        k = max(range(len(lo)), key=lambda i: hi[i] - lo[i])
        left_hi, right_lo = list(hi), list(lo)
        left_hi[k] = right_lo[k] = mid[k]
        queue.append((lo, left_hi))
        queue.append((right_lo, hi))
    if not queue:
        return OracleAnswer("no", f"interval bisection ({examined} boxes)", None, nonwitness)
    return OracleAnswer(
        "undecided", f"interval bisection undecided after {examined} boxes", None, nonwitness
    )
