"""The reference evaluator's ELU (issue: ELU under the independent oracles).

:mod:`geninv.testing.exactref_elu` encloses ``e^t - 1`` by integer Taylor bounds,
written apart from geninv's :mod:`geninv.exact_elu` (Decimal exp).  Tested here:
the enclosure against mpmath (plain and interval arithmetic), the reference
forward pass against geninv's interval forward pass, and the two decisions --
the reference's and geninv's (``interval_check``, ``float_check``, ``exact_check``) --
on many random ELU networks, yes and no, near ties, exact ties, huge and tiny
magnitudes and alpha other than 1.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction as F

import mpmath
import pytest

from geninv.exact_elu import forward_interval, interval_check
from geninv.recheck import float_check
from geninv.testing.cases import Case
from geninv.testing.exactref import RefLayer, act_interval, forward_bounds, lp_float, parse_act
from geninv.testing.exactref_elu import TAIL, elu_enclosure, expm1_neg_bounds
from geninv.testing.oracles import certified, output_bounds


def _mp(v: F) -> mpmath.mpf:
    return mpmath.mpf(v.numerator) / v.denominator


# ---------------------------------------------------------------- the enclosure
def test_expm1_enclosure_against_mpmath() -> None:
    rng = random.Random(4)
    ts = [F(-1), F(-1, 3), F(-1, 256), F(-1, 257), F(-(10**6)), F(-TAIL), F(-TAIL + 1, 1)]
    ts += [-F(rng.randint(1, 10**9), 10 ** rng.randint(0, 12)) for _ in range(150)]
    ts += [-F(1, 10**k) for k in (20, 90, 300)]
    with mpmath.workdps(120):
        for t in ts:
            lo, hi = expm1_neg_bounds(t)
            true = mpmath.expm1(_mp(t))
            assert _mp(lo) <= true <= _mp(hi), t
            if -t < TAIL:
                assert _mp(hi - lo) <= abs(true) * mpmath.mpf(2) ** -170, t  # ~190 bits
    # mpmath's interval arithmetic: the two enclosures must meet
    mpmath.iv.dps = 60
    for t in ts[:60]:
        if -t >= TAIL:
            continue
        lo, hi = expm1_neg_bounds(t)
        ref = mpmath.iv.exp(mpmath.iv.mpf([t.numerator, t.numerator]) / t.denominator) - 1
        assert _mp(lo) <= mpmath.mpf(ref.b) and mpmath.mpf(ref.a) <= _mp(hi), t
    assert expm1_neg_bounds(F(0)) == (0, 0)
    with pytest.raises(ValueError, match="t <= 0"):
        expm1_neg_bounds(F(1))


def test_elu_enclosure_and_activation_intervals() -> None:
    for alpha in (F(0), F(1, 2), F(1), F(3)):
        assert elu_enclosure(F(5, 2), alpha) == (F(5, 2), F(5, 2))
        lo, hi = elu_enclosure(F(-2), alpha)
        assert lo <= alpha * (F(1, 7) - 1) or alpha == 0  # e^-2 < 1/7
        assert _mp(lo) <= _mp(alpha) * mpmath.expm1(-2) <= _mp(hi)
    with pytest.raises(ValueError, match="alpha"):
        elu_enclosure(F(-1), F(-1))
    with pytest.raises(ValueError, match="alpha"):
        parse_act("elu:-1/2")
    assert parse_act("elu") == ("elu", F(1)) and parse_act("elu:3") == ("elu", F(3))
    # an interval through ELU and through a negative-slope LeakyReLU (not monotone)
    lo, hi = act_interval("elu", F(1), F(-1), F(2))
    assert _mp(lo) <= mpmath.expm1(-1) and hi == 2
    assert act_interval("leaky_relu", F(-1, 2), F(-4), F(1)) == (F(0), F(2))


# ---------------------------------------------------------------- random ELU networks
HIDDEN = ("elu", "elu:1/2", "elu:3", "elu:0", "leaky_relu:1/4", "relu", "identity", "tanh")
FINAL = ("elu", "elu:1/2", "elu:3", "identity", "sigmoid", "leaky_relu:1/10")


def _num(rng: random.Random, dyadic: bool) -> F:
    return F(rng.randint(-48, 48), 16 if dyadic else rng.choice([3, 5, 7]))


def random_elu_layers(rng: random.Random, n: int, scale: int, dyadic: bool) -> list[RefLayer]:
    """2-4 layers with at least one ELU; the first layer's weights times 2^scale."""
    depth = rng.randint(2, 4)
    acts = [rng.choice(HIDDEN) for _ in range(depth - 1)] + [rng.choice(FINAL)]
    if not any(a.startswith("elu") for a in acts):
        acts[rng.randrange(depth)] = rng.choice(("elu", "elu:1/2", "elu:3"))
    layers: list[RefLayer] = []
    prev = n
    for k, act in enumerate(acts):
        m = rng.randint(1, 4)
        w = [[_num(rng, dyadic) * (F(2) ** scale if k == 0 else 1) for _ in range(prev)]
             for _ in range(m)]  # fmt: skip
        layers.append((w, [_num(rng, dyadic) for _ in range(m)], act))
        prev = m
    return layers


SCALES = (-300, -40, 0, 0, 0, 6, 40)
P_LABELS = ("1", "2", "inf", "3", "1.5")


def test_forward_enclosures_agree_with_geninv() -> None:
    """Both enclosures contain the true G(z): they must overlap, on every output, at every
    magnitude (and both contain the 100-digit value)."""
    rng = random.Random(11)
    for i in range(60):
        n = rng.randint(1, 3)
        layers = random_elu_layers(rng, n, SCALES[i % len(SCALES)], dyadic=i % 2 == 0)
        z = [F(rng.randint(-40, 40), rng.choice([8, 3, 7])) for _ in range(n)]
        mine = forward_bounds(layers, z)
        case = Case(layers, [F(0)] * len(mine), "real", "2", F(1), "<=")
        theirs = forward_interval(case.problem().network, z)
        for (a, b), (c, d) in zip(mine, theirs, strict=True):
            assert a <= b and c <= d
            assert max(a, c) <= min(b, d), (i, (a, b), (c, d))


def _threshold(approx: float, kind: str) -> F:
    base = F(approx)
    return {
        "half": base / 2,
        "below": base * (1 - F(1, 2**30)),
        "float": base,  # the float nearest the distance: a near tie
        "above": base * (1 + F(1, 2**30)),
        "double": base * 2,
    }[kind]


def test_decisions_agree_with_geninv_on_random_elu_nets() -> None:
    """The reference decision (:meth:`Question.decide`) against geninv's interval check, its
    float re-check and ``exact_check``: never opposite; both decide 2^-30 off the
    distance; near ties within the enclosures' width undecided by both; both answers
    (meets, fails) plentiful."""
    rng = random.Random(1806)
    tally = {True: 0, False: 0}
    ties = 0
    for i in range(120):
        n = rng.randint(1, 3)
        scale = SCALES[i % len(SCALES)]
        layers = random_elu_layers(rng, n, scale, dyadic=i % 3 != 0)
        z = [F(rng.randint(-40, 40), rng.choice([8, 3, 7])) for _ in range(n)]
        out = forward_bounds(layers, z)
        mid = [(lo + hi) / 2 for lo, hi in out]
        target = [m + _num(rng, True) * F(2) ** rng.choice([-20, 0, 0, 3]) for m in mid]
        p = P_LABELS[i % len(P_LABELS)]
        approx = lp_float([abs(m - x) for m, x in zip(mid, target, strict=True)], p)
        if approx == 0:
            continue
        for kind in ("half", "below", "float", "above", "double"):
            rel = rng.choice(["<=", "<"])
            case = Case(layers, target, "real", p, _threshold(approx, kind), rel)
            ref = case.question().decide(z)
            problem = case.problem()
            iv = interval_check(problem, z)
            chk = problem.exact_check(z)
            fast = float_check(problem, z)
            if kind != "float":  # 2^-30 off the distance: both enclosures decide
                assert ref is not None and iv.decided, (i, kind, case.describe())
                if -40 <= scale <= 40:
                    assert chk.decided, (i, kind)
            for got in (iv.meets if iv.decided else None, chk.meets if chk.decided else None,
                        None if fast is None else fast.meets):  # fmt: skip
                if got is not None and ref is not None:
                    assert got == ref, (i, kind, got, ref, case.describe())
            if ref is not None:
                tally[ref] += 1
            # target = midpoint + a dyadic shift: the float distance is within the
            # enclosures' width of the true one, a tie neither side may guess
            ties += kind == "float" and ref is None and not chk.decided
    assert tally[True] >= 150 and tally[False] >= 150, tally
    assert ties >= 20, ties


@pytest.mark.parametrize("p", ["1", "2", "inf", "3"])
def test_exact_ties_in_the_linear_regime(p: str) -> None:
    """Every ELU pre-activation >= 0 (one exactly 0, where ELU(0) = 0): G(z) is rational,
    both sides decide an exact tie exactly, for <= (meets) and < (fails)."""
    layers: list[RefLayer] = [
        ([[F(1, 2), F(1, 4)], [F(1), F(-1)]], [F(0), F(0)], "elu:3"),
        ([[F(2), F(1)], [F(1), F(0)]], [F(0), F(1)], "elu:1/2"),
    ]
    z = [F(2), F(2)]  # hidden (3/2, 0), outputs (3, 5/2)
    assert forward_bounds(layers, z) == [(F(3), F(3)), (F(5, 2), F(5, 2))]
    target = [F(3) - 2, F(5, 2) + 2]
    delta = {"1": F(4), "2": None, "inf": F(2), "3": None}[p]
    for rel in ("<=", "<"):
        case = Case(layers, target, "real", p, delta or F(0), rel)
        if delta is None:  # ||(2, 2)||_p irrational: state delta^p exactly
            case.threshold = F(float(2 * 2 ** (1 / int(p))))
            case.threshold_pow = F(2 * 2 ** int(p))
        ref = case.question().decide(z)
        chk = case.problem().exact_check(z)
        assert ref == (rel == "<=") and chk.decided and chk.meets == ref


def test_oracle_bounds_and_certified_answers_on_elu() -> None:
    """output_bounds through ELU over a box and the real line (ELU >= -alpha): a target
    far below -alpha is a certified no, a planted one a yes."""
    layers: list[RefLayer] = [
        ([[F(1)], [F(-2)]], [F(0), F(1)], "elu:1/2"),
        ([[F(1), F(1)]], [F(0)], "elu"),
    ]
    real = Case(layers, [F(-3)], "real", "inf", F(1, 2), "<=")
    ((lo, hi),) = output_bounds(real.question())
    assert lo is not None and lo >= -1 and hi is None
    ans = certified(real.question())
    assert ans.status == "no"  # ELU_1 >= -1: at least 2 from -3
    planted = [F(1, 3)]
    out = forward_bounds(layers, planted)
    mid = (out[0][0] + out[0][1]) / 2
    yes = Case(layers, [mid], "box", "2", F(1, 10**9), "<", [F(-1)], [F(1)], planted=planted)
    ans = certified(yes.question())
    assert ans.status == "yes" and ans.witness == planted
    assert yes.problem().exact_check(planted).meets
    assert not math.isnan(lp_float([F(1)], "1.5"))


def test_box_bisection_oracle_against_sampling() -> None:
    """The bisection oracle on ELU (and tanh, LeakyReLU) networks over boxes: a *no* is
    never contradicted by a sample point, a *yes* witness meets, both occur, and it
    decides where the whole-box bounds could not."""
    from geninv.testing.oracles import bisection

    rng = random.Random(21)
    seen = {"yes": 0, "no": 0, "undecided": 0}
    refined = 0
    for i in range(40):
        n = 1 + i % 2
        layers = random_elu_layers(rng, n, 0, dyadic=True)
        lo, hi = [F(-2)] * n, [F(2)] * n
        z0 = [F(rng.randint(-16, 16), 8) for _ in range(n)]
        out = forward_bounds(layers, z0)
        target = [(a + b) / 2 + F(rng.randint(-8, 8), 4) for a, b in out]
        p = P_LABELS[i % len(P_LABELS)]
        delta = F(rng.randint(1, 12), 4)
        q = Case(layers, target, "box", p, delta, "<=", lo, hi).question()
        ans = bisection(q)
        seen[ans.status] += 1
        refined += ans.status != "undecided" and certified(q).status == "undecided"
        if ans.status == "yes":
            assert ans.witness is not None and q.decide(ans.witness) is True
        if ans.status == "no":
            for _ in range(40):
                z = [F(rng.randint(-64, 64), 32) for _ in range(n)]
                assert q.decide(z) is not True, (i, z)
    assert seen["yes"] >= 5 and seen["no"] >= 5 and refined >= 5, (seen, refined)
    with pytest.raises(ValueError, match="box"):
        bisection(Case(layers, target, "real", "2", F(1), "<=").question())


# ---------------------------------------------------------------- regression (fuzz seed 1808)
def test_exact_ties_off_the_grid_are_decided_where_no_unit_needs_exp() -> None:
    """Found by ``bench/fuzz.py --seed 1808 --require elu ...``: exact inversion at a
    planted latent whose ELU units are all in their linear part, with weights 1/3 (off
    geninv's 2^-160 grid): G(z) is rational, the reference decides *yes*, and geninv
    said *undecided* ("exp makes G(z) transcendental") because the grid rounding widens
    even a point.  Now decided exactly (:func:`geninv.exact_elu.rational_forward`), as
    is an ELU of alpha 0; a unit below 0 with alpha > 0 still stays undecided at a tie
    closer than the enclosure."""
    from geninv.exact_elu import rational_forward

    layers: list[RefLayer] = [
        ([[F(1, 3)], [F(-2, 7)]], [F(0), F(1, 5)], "elu"),
        ([[F(1, 3), F(5, 9)]], [F(0)], "elu:1/2"),
    ]
    z = [F(1)]  # hidden (1/3, 1/5 - 2/7 < 0 -> ELU needs exp) unless alpha 0
    zero_alpha = [(w, b, "elu:0" if k == 0 else a) for k, (w, b, a) in enumerate(layers)]
    out = forward_bounds(zero_alpha, z)
    assert out[0][0] == out[0][1] == F(1, 9)
    for rel, delta, shift, expect in (
        ("<=", F(0), F(0), True),  # exact inversion
        ("<=", F(1, 10), F(1, 10), True),  # exact ties
        ("<", F(1, 10), F(-1, 10), False),
        ("<", F(1, 2), F(0), True),  # no tie: the enclosure decides
    ):
        case = Case(zero_alpha, [F(1, 9) + shift], "real", "2", delta, rel)
        chk = case.problem().exact_check(z)
        assert case.question().decide(z) is expect and chk.decided and chk.meets is expect
        assert chk.method.startswith("exact rational") is (delta == abs(shift))
    problem = Case(layers, [F(0)], "real", "2", F(1), "<=").problem()
    assert rational_forward(problem.network, z) is None  # the second hidden unit needs exp
    assert rational_forward(problem.network, [F(-1)]) is None
    # seed 1808 again: an ELU unit below 0 (e^-1 - 1) masked by a ReLU whose input
    # interval is below 0; the other output 1/3: G(z) = (0, 1/3) is rational
    masked: list[RefLayer] = [
        ([[F(1)], [F(1, 3)]], [F(-2), F(0)], "elu"),
        ([[F(1), F(0)], [F(0), F(1)]], [F(-1, 7), F(0)], "relu"),
    ]
    assert forward_bounds(masked, [F(1)]) == [(F(0), F(0)), (F(1, 3), F(1, 3))]
    for rel in ("<=", "<"):
        case = Case(masked, [F(1, 5), F(1, 3)], "real", "1", F(1, 5), rel)
        chk = case.problem().exact_check([F(1)])
        assert case.question().decide([F(1)]) is (rel == "<=")
        assert chk.decided and chk.meets is (rel == "<=")
        # "<": the enclosure's lower end (exactly 1/5) already fails; "<=" needs G(z)
        assert chk.method.startswith("exact") is (rel == "<=")


def test_random_linear_regime_ties_off_the_grid() -> None:
    """Positive weights, biases and latents (every ELU unit in its linear part), numbers
    with denominators 3, 5, 7: exact inversion at the planted point and an exact tie,
    both relations; geninv's exact_check decides every one as the reference does."""
    rng = random.Random(7)
    for i in range(40):
        n = rng.randint(1, 3)
        layers: list[RefLayer] = []
        prev = n
        for _ in range(rng.randint(1, 3)):
            m = rng.randint(1, 4)
            act = rng.choice(("elu", "elu:1/2", "elu:3", "relu", "leaky_relu:1/4"))
            w = [[F(rng.randint(0, 9), rng.choice([3, 5, 7])) for _ in range(prev)]
                 for _ in range(m)]  # fmt: skip
            layers.append((w, [F(rng.randint(0, 9), 7) for _ in range(m)], act))
            prev = m
        z = [F(rng.randint(1, 20), 3) for _ in range(n)]
        out = forward_bounds(layers, z)
        assert all(lo == hi for lo, hi in out)
        shift = [F(rng.randint(-3, 3), 7) for _ in out]
        target = [lo + s for (lo, _), s in zip(out, shift, strict=True)]
        p = ("1", "inf")[i % 2]
        delta = sum((abs(s) for s in shift), F(0)) if p == "1" else max(abs(s) for s in shift)
        for rel in ("<=", "<"):
            if delta == 0 and rel == "<":
                continue
            case = Case(layers, target, "real", p, delta, rel)
            chk = case.problem().exact_check(z)
            ref = case.question().decide(z)
            assert ref is (rel == "<=") and chk.decided and chk.meets is ref, (i, rel)
