"""Hypothesis strategies for fuzz instances (needs the ``dev`` extra: hypothesis).

:func:`cases` draws a :class:`~geninv.testing.cases.Case`:

* numbers of one *kind* per instance: small integers, dyadic rationals, other small
  rationals (denominators 3, 5, 7, 9), float32 values, magnitudes 10^-6 .. 10^6, or
  all of them mixed;
* networks of depth 1-5, hidden widths 1-6, 1-30 outputs, with zero rows,
  duplicated units and dead units (zero weights, negative bias) mixed in; ReLU
  layers (two instances in three), else hidden layers drawn from ReLU, LeakyReLU,
  identity and ELU (alpha 1 or 1/2; sigmoid and tanh too on real/box latents) and a
  final ReLU, identity, LeakyReLU, ELU (alpha 1 or 3), sigmoid or tanh (sigmoid/tanh
  only on real/box latents): every activation geninv reads, in every position;
* binary/sign latents (n = 1-12; at most 6 with a sigmoid, tanh or ELU layer), box/real
  latents (n = 1-3, mostly 1 so the breakpoint oracle is exact);
* p in {1, 3/2, 2, 3, inf}, relations <= and <;
* a target built around a planted latent: exactly G(z*), G(z*) moved in one
  coordinate, in k = 1, 4 or 8 coordinates by the same amount (so ||.||_p of the move is
  rational for p = 2, 3, 3/2: 4^{1/2} = 2, 8^{1/3} = 2, 8^{2/3} = 4), or random;
* a threshold exactly at the oracle's minimum distance (via ``threshold_pow`` when
  its p-th root is irrational), exactly at the planted point's distance, a hair
  above or below either, zero (exact inversion) or random.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from geninv.testing.cases import Case
from geninv.testing.exactref import P_LABELS, RefLayer, forward_bounds, lp_float, rational_root
from geninv.testing.oracles import oracle

NUMBER_KINDS: tuple[str, ...] = ("int", "dyadic", "rational", "float32", "magnitude", "mixed")
HIDDEN_ACTS: tuple[str, ...] = (
    "relu",
    "relu",
    "relu",
    "leaky_relu:1/4",
    "identity",
    "leaky_relu:1/10",
    "elu",
    "elu:1/2",
)
#: Hidden activations drawn only on real/box latents, like the smooth final ones.
SMOOTH_HIDDEN: tuple[str, ...] = ("sigmoid", "tanh")
FINAL_ACTS: tuple[str, ...] = (
    "relu",
    "identity",
    "relu",
    "leaky_relu:1/2",
    "elu",
    "elu:3",
    "sigmoid",
    "tanh",
)
#: The final activations of FINAL_ACTS drawn on every domain (the rest: real/box only).
DISCRETE_FINALS = 6
#: Largest discrete latent drawn for a network with a transcendental layer (its brute
#: force evaluates every corner in interval arithmetic, not in integers).
MAX_DISCRETE_N_SMOOTH = 6
THRESHOLD_MODES: tuple[str, ...] = ("zero", "at_min", "above", "below", "planted", "random")
#: Relative move of a threshold "a hair" above or below the minimum.
HAIR = Fraction(1, 2**30)


def _number(kind: str) -> st.SearchStrategy[Fraction]:
    if kind == "int":
        return st.integers(-3, 3).map(Fraction)
    if kind == "dyadic":
        return st.builds(lambda a, e: Fraction(a, 2**e), st.integers(-16, 16), st.integers(0, 4))
    if kind == "rational":
        return st.builds(Fraction, st.integers(-9, 9), st.sampled_from([1, 3, 5, 7, 9]))
    if kind == "float32":
        return st.floats(-4, 4, width=32, allow_nan=False, allow_infinity=False).map(
            lambda f: Fraction(float(f))
        )
    if kind == "magnitude":
        return st.builds(
            lambda s, m, e: Fraction(float(s * m * 10.0**e)),
            st.sampled_from([-1, 1]),
            st.integers(1, 9),
            st.integers(-6, 6),
        )
    return st.one_of([_number(k) for k in NUMBER_KINDS[:-1]])


@st.composite
def _layer(draw: Any, n_in: int, n_out: int, kind: str, act: str) -> tuple[RefLayer, list[str]]:
    num = _number(kind)
    w = [[draw(num) for _ in range(n_in)] for _ in range(n_out)]
    b = [draw(num) for _ in range(n_out)]
    quirks: list[str] = []
    if n_out > 1 and draw(st.integers(0, 3)) == 0:
        i, j = draw(st.integers(0, n_out - 1)), draw(st.integers(0, n_out - 1))
        w[j], b[j] = list(w[i]), b[i]
        quirks.append("duplicate")
    if draw(st.integers(0, 3)) == 0:
        i = draw(st.integers(0, n_out - 1))
        w[i] = [Fraction(0)] * n_in
        quirks.append("zero-row")
        if draw(st.booleans()):
            b[i] = -abs(draw(num)) - 1
            quirks.append("dead")
    return (w, b, act), quirks


@st.composite
def cases(
    draw: Any,
    max_discrete_n: int = 12,
    max_outputs: int = 30,
    max_depth: int = 5,
    smooth: bool = True,
    domains: tuple[str, ...] = ("binary", "sign", "box", "real"),
    require: tuple[str, ...] = (),
) -> Case:
    """A fuzz instance (see the module docstring).  ``require``: activation specs of which
    every network drawn has at least one (in a layer drawn uniformly), e.g.
    ``("elu", "elu:1/2", "elu:3")`` for a slice of ELU networks."""
    domain = draw(st.sampled_from(domains))
    discrete = domain in ("binary", "sign")
    n = draw(st.integers(1, max_discrete_n)) if discrete else draw(st.sampled_from([1, 1, 1, 2, 3]))
    kind = draw(st.sampled_from(NUMBER_KINDS))
    depth = draw(st.integers(1, max_depth))
    q = draw(st.integers(1, max_outputs))
    widths = [draw(st.integers(1, 6)) for _ in range(depth - 1)] + [q]
    if not require and draw(st.integers(0, 2)) < 2:  # ReLU networks (every complete backend)
        acts = ["relu"] * (depth - 1) + [draw(st.sampled_from(["relu", "identity"]))]
    else:
        wide = smooth and not discrete
        finals = FINAL_ACTS if wide else FINAL_ACTS[:DISCRETE_FINALS]
        hidden = HIDDEN_ACTS + SMOOTH_HIDDEN if wide else HIDDEN_ACTS
        acts = [draw(st.sampled_from(hidden)) for _ in range(depth - 1)]
        acts.append(draw(st.sampled_from(finals)))
        if require and not set(acts) & set(require):
            acts[draw(st.integers(0, depth - 1))] = draw(st.sampled_from(require))
        if discrete and any(a.split(":")[0] in ("elu", "sigmoid", "tanh") for a in acts):
            n = min(n, MAX_DISCRETE_N_SMOOTH)
    layers: list[RefLayer] = []
    quirks: list[str] = []
    prev = n
    for width, act in zip(widths, acts, strict=True):
        layer, qk = draw(_layer(prev, width, kind, act))
        layers.append(layer)
        quirks += qk
        prev = width
    lower = upper = None
    num = _number(kind)
    if domain == "binary":
        planted = [Fraction(draw(st.integers(0, 1))) for _ in range(n)]
    elif domain == "sign":
        planted = [Fraction(draw(st.sampled_from([-1, 1]))) for _ in range(n)]
    else:
        if domain == "box":
            a = [draw(num) for _ in range(n)]
            width_ = [abs(draw(num)) + Fraction(1, 4) for _ in range(n)]
            lower, upper = a, [x + y for x, y in zip(a, width_, strict=True)]
            t = [Fraction(draw(st.integers(0, 8)), 8) for _ in range(n)]
            planted = [lo + ti * (hi - lo) for lo, hi, ti in zip(lower, upper, t, strict=True)]
        else:
            planted = [draw(num) for _ in range(n)]
    out = forward_bounds(layers, planted)
    center = [(lo + hi) / 2 for lo, hi in out]
    move = draw(st.sampled_from(["none", "single", "equal", "random"]))
    target = list(center)
    if move == "single":
        target[draw(st.integers(0, q - 1))] += draw(num)
    elif move == "equal":
        amount = abs(draw(num)) or Fraction(1)
        k = min(q, draw(st.sampled_from([1, 4, 8])))
        for i in range(k):
            target[i] += amount if draw(st.booleans()) else -amount
    elif move == "random":
        target = [draw(num) for _ in range(q)]
    p = draw(st.sampled_from(P_LABELS))
    relation = draw(st.sampled_from(["<=", "<"]))
    mode = draw(st.sampled_from(THRESHOLD_MODES))
    case = Case(layers, target, domain, p, Fraction(0), "<=", lower, upper, None, planted)
    case.tags = {
        "kind": kind,
        "move": move,
        "mode": mode,
        "quirks": "+".join(sorted(set(quirks))) or "-",
    }
    _set_threshold(case, mode, relation, draw(num))
    return case


def _set_threshold(case: Case, mode: str, relation: str, random_value: Fraction) -> None:
    """Fill in threshold / threshold_pow / relation for the drawn mode."""
    base_pow: Fraction | None = None  # exact ||d||_p^p (max for inf) at the reference point
    base: Fraction | None = None  # its p-th root when rational
    approx: float | None = None
    if mode in ("at_min", "above", "below"):
        ans = oracle(case.question(), search=False)  # the threshold leaves the minimum
        base_pow = ans.min_pow
    if base_pow is None and mode != "random" and mode != "zero":
        base_pow, base, approx = _planted_distance(case)
        if mode == "at_min":
            case.tags["mode"] = mode = "planted"
    if base_pow is not None and base is None:
        k = 1 if case.p == "inf" else int(case.p)
        base = rational_root(base_pow, k)
        approx = float(base) if base is not None else float(base_pow) ** (1 / k)
    if mode == "zero" or (mode in ("at_min", "planted") and base_pow == 0):
        case.threshold, case.relation = Fraction(0), "<="
        return
    if mode in ("at_min", "planted") and base_pow is None and approx == 0:
        # the target is the midpoint of an enclosure: its distance (not 0, far below a
        # float) is no threshold; a hair above it is (a yes at the planted latent)
        case.tags["mode"] = mode = "above"
    case.relation = relation
    if mode == "random" or approx is None:
        case.threshold = abs(random_value) or Fraction(1)
        if mode != "random":
            case.tags["mode"] = "random"
        return
    if mode in ("at_min", "planted"):
        if base is not None:
            case.threshold = base
        elif base_pow is not None:  # irrational root: state delta^p exactly
            case.threshold = Fraction(approx)
            case.threshold_pow = base_pow
        else:  # p = 3/2, irrational: the float nearest the distance (a near tie)
            case.threshold = Fraction(approx)
            case.tags["mode"] = "near"
        return
    ref = base if base is not None else Fraction(approx)
    hair = HAIR * (ref + 1)
    case.threshold = ref + hair if mode == "above" else max(ref - hair, Fraction(0))
    if case.threshold == 0:
        case.relation = "<="


def _planted_distance(case: Case) -> tuple[Fraction | None, Fraction | None, float | None]:
    """(||d||_p^p exact, ||d||_p when rational, float) at the planted latent, where
    the outputs are exact; for p = 3/2 only when the root is visibly rational
    (k equal entries with k in {1, 8, 27}).  Where a transcendental layer makes them
    enclosures (far narrower than a float's precision), only the float, from the
    enclosures' midpoints: a threshold there is a near tie that only a rigorous
    enclosure decides."""
    assert case.planted is not None
    out = forward_bounds(case.layers, case.planted)
    if any(lo != hi for lo, hi in out):
        mid = [abs((lo + hi) / 2 - x) for (lo, hi), x in zip(out, case.target, strict=True)]
        return None, None, lp_float(mid, case.p)
    absd = [abs(lo - x) for (lo, _), x in zip(out, case.target, strict=True)]
    if case.p == "1.5":
        nz = [a for a in absd if a]
        if not nz:
            return Fraction(0), Fraction(0), 0.0
        if len(set(nz)) == 1 and len(nz) in (1, 8, 27):
            root = nz[0] * {1: 1, 8: 4, 27: 9}[len(nz)]
            return None, root, float(root)
        return None, None, lp_float(absd, "1.5")
    if case.p == "inf":
        top = max(absd, default=Fraction(0))
        return top, top, float(top)
    k = int(case.p)
    s = sum((a**k for a in absd), Fraction(0))
    return s, None, None
