"""The bab backend against an independent exact oracle.

Oracle (1 latent): a piecewise-linear network is affine in z between the
breakpoints of its units; they are found exactly, layer by layer (each unit's
pre-activation is affine on a piece where the earlier layers are, so it
changes sign at most once there), and on each piece the minimum of
||G(z) - x||_p is found exactly (p = inf / 1: the minimum of a convex PL
function, at an end point, a zero of some |G_j - x_j| or a crossing of two
of them; p = 2: the vertex of a quadratic).  For p = 2 the oracle gives the
minimum of the squared distance.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from geninv.budget import Budget
from geninv.errors import UnsupportedError
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Status
from geninv.solvers.base import solve

pytest.importorskip("highspy")


# ------------------------------------------------------------------ the oracle
def _pre(net: ReLUNetwork, z: Fraction, upto: int) -> list[Fraction]:
    """Exact pre-activations of layer ``upto`` (1-based) at latent z."""
    h: list[Fraction] = [z]
    for li, layer in enumerate(net.layers, start=1):
        rows = layer.exact_rows()
        bias = layer.exact_bias_values()
        pre = [
            bias[j] + sum((w * h[k] for k, w in zip(idx, val, strict=True)), Fraction(0))
            for j, (idx, val) in enumerate(rows)
        ]
        if li == upto:
            return pre
        if layer.activation == "identity":
            h = pre
        else:
            a = Fraction(layer.negative_slope)
            h = [v if v >= 0 else a * v for v in pre]
    raise AssertionError


def exact_min(
    net: ReLUNetwork, x: list[Fraction], lo: Fraction, hi: Fraction, p: float
) -> Fraction:
    """min over [lo, hi] of ||G(z) - x||_p (p = inf, 1) or of its square (p = 2)."""
    pieces = [(lo, hi)]
    for li in range(1, net.depth + 1):
        new = []
        for a, b in pieces:
            ha, hb = _pre(net, a, li), _pre(net, b, li)
            cuts = {a + (b - a) * u / (u - v) for u, v in zip(ha, hb, strict=True) if u * v < 0}
            pts = [a, *sorted(cuts), b]
            new += list(itertools.pairwise(pts))
        pieces = new
    best: Fraction | None = None
    for a, b in pieces:
        ga = [g - t for g, t in zip(net.forward_exact([a]), x, strict=True)]
        if a == b:
            cands = [a]
        else:
            gb = [g - t for g, t in zip(net.forward_exact([b]), x, strict=True)]
            slope = [(v - u) / (b - a) for u, v in zip(ga, gb, strict=True)]
            # d_j(z) = ga_j + slope_j (z - a)
            cands = [a, b]
            lines = [(s, u) for s, u in zip(slope, ga, strict=True)]
            lines += [(-s, -u) for s, u in lines]
            for (s1, u1), (s2, u2) in itertools.combinations(lines, 2):
                if s1 != s2:
                    cands.append(a + (u2 - u1) / (s1 - s2))
            if p == 2:
                aa = sum((s * s for s in slope), Fraction(0))
                bb = sum((2 * s * u for s, u in zip(slope, ga, strict=True)), Fraction(0))
                if aa > 0:
                    cands.append(a - bb / (2 * aa))
        for z in cands:
            if not a <= z <= b:
                continue
            d = [g - t for g, t in zip(net.forward_exact([z]), x, strict=True)]
            if math.isinf(p):
                v = max(abs(t) for t in d)
            elif p == 1:
                v = sum((abs(t) for t in d), Fraction(0))
            else:
                v = sum((t * t for t in d), Fraction(0))
            best = v if best is None or v < best else best
    assert best is not None
    return best


def random_net(
    rng: np.random.Generator, n: int, widths: list[int], act: str, scale: float = 1.0
) -> ReLUNetwork:
    dims = [n, *widths]
    ws = [rng.standard_normal((dims[i + 1], dims[i])) * scale for i in range(len(widths))]
    bs = [rng.standard_normal(dims[i + 1]) * 0.5 * scale for i in range(len(widths))]
    acts = [act] * (len(widths) - 1) + [rng.choice(["identity", act])]
    return ReLUNetwork(ws, bs, activations=acts)


def _sqrt_up(v: Fraction) -> Fraction:
    """A rational >= sqrt(v), within a relative 1e-9."""
    r = Fraction(math.sqrt(float(v)) * (1 + 1e-9) + 1e-300)
    while r * r < v:
        r *= 1 + Fraction(1, 10**6)
    return r


def _sqrt_down(v: Fraction) -> Fraction:
    r = Fraction(math.sqrt(float(v)) * (1 - 1e-9))
    while r * r > v:
        r *= 1 - Fraction(1, 10**6)
    return r


CASES = [
    (seed, p, act)
    for seed in range(8)
    for p in (math.inf, 1.0, 2.0)
    for act in ("relu", "leaky_relu:1/10")
]


@pytest.mark.parametrize(("seed", "p", "act"), CASES)
def test_one_latent_against_oracle(seed: int, p: float, act: str) -> None:
    rng = np.random.default_rng(100 + seed)
    widths = [int(rng.integers(2, 9)) for _ in range(int(rng.integers(1, 4)))]
    widths[-1] = int(rng.integers(1, 4))
    net = random_net(rng, 1, widths, act)
    lo, hi = Fraction(-2), Fraction(2)
    x = [Fraction(float(v)) for v in net.forward(np.array([0.7])) + rng.standard_normal(widths[-1])]
    m = exact_min(net, x, lo, hi, p)
    dom = Domain.box([lo], [hi])
    if p == 2:
        below, above = _sqrt_down(m * Fraction(81, 100)), _sqrt_up(m * Fraction(121, 100))
    else:
        below, above = m * Fraction(9, 10), m * Fraction(11, 10)
    if m > 0:
        no = solve(InversionProblem(net, x, dom, p=p, threshold=below), "bab", time_limit=60)
        assert no.status is Status.NO, no.reason
        assert no.proof is not None and no.proof["checked"] is True
    yes = solve(InversionProblem(net, x, dom, p=p, threshold=above), "bab", time_limit=60)
    assert yes.status is Status.YES, yes.reason
    assert yes.check is not None and yes.check.meets


def test_exact_ties_integer_weights() -> None:
    # G(z) = relu(z) - 2 relu(z - 1) on [-3, 3]; target (1/2 + 1) -> distance
    # min_z |G(z) - 3/2| = 1/2, attained at z = 1 (the peak G = 1)
    net = ReLUNetwork([[[1], [1]], [[1, -2]]], [[0, -1], [0]], final_activation="identity")
    x = [Fraction(3, 2)]
    dom = Domain.box([-3], [3])
    assert exact_min(net, x, Fraction(-3), Fraction(3), math.inf) == Fraction(1, 2)
    le = solve(InversionProblem(net, x, dom, p="inf", threshold="1/2"), "bab", time_limit=30)
    assert le.status is Status.YES
    lt = solve(
        InversionProblem(net, x, dom, p="inf", threshold="1/2", relation="<"),
        "bab",
        time_limit=3,
        options={"max_nodes": 300},
    )
    assert lt.status in (Status.NO, Status.UNKNOWN)  # 'no' is the truth; refuting '<=' fails
    below = solve(InversionProblem(net, x, dom, p="inf", threshold="49/100"), "bab")
    assert below.status is Status.NO


def test_exact_inversion() -> None:
    rng = np.random.default_rng(7)
    net = random_net(rng, 2, [6, 6, 3], "relu")
    z0 = [Fraction(1, 4), Fraction(-3, 8)]
    x = net.forward_exact(z0)
    dom = Domain.box([-1, -1], [1, 1])
    yes = solve(InversionProblem(net, x, dom, p=2, threshold=0), "bab", time_limit=60)
    assert yes.status is Status.YES
    far = [v + 50 for v in x]
    no = solve(InversionProblem(net, far, dom, p=2, threshold=0), "bab", time_limit=60)
    assert no.status is Status.NO


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_huge_and_tiny_weights(scale: float) -> None:
    rng = np.random.default_rng(11)
    net = random_net(rng, 1, [6, 3], "relu", scale=scale)
    lo, hi = Fraction(-1), Fraction(1)
    x = [Fraction(float(v)) for v in net.forward(np.array([0.2])) + scale * rng.standard_normal(3)]
    m = exact_min(net, x, lo, hi, math.inf)
    dom = Domain.box([lo], [hi])
    assert (
        solve(InversionProblem(net, x, dom, threshold=m * Fraction(9, 10)), "bab").status
        is Status.NO
    )
    assert (
        solve(InversionProblem(net, x, dom, threshold=m * Fraction(11, 10)), "bab").status
        is Status.YES
    )


@pytest.mark.parametrize("seed", range(3))
def test_multi_latent_planted_and_milp_cross_check(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(2, 5))
    net = random_net(rng, n, [8, 8, 4], "relu")
    dom = Domain.box([-1] * n, [1] * n)
    z0 = rng.uniform(-1, 1, n)
    x_yes = net.forward(z0)
    planted = solve(
        InversionProblem(net, x_yes.tolist(), dom, threshold="1/1000"), "bab", time_limit=60
    )
    assert planted.status is Status.YES
    x = (x_yes + rng.standard_normal(4)).tolist()
    opt = solve(InversionProblem(net, x, dom, threshold=0.1), "milp", options={"mode": "optimize"})
    best = opt.stats.get("best_distance")
    assert best is not None and best > 0
    no = solve(InversionProblem(net, x, dom, threshold=0.9 * best), "bab", time_limit=60)
    assert no.status is Status.NO, no.reason
    yes = solve(InversionProblem(net, x, dom, threshold=1.02 * best), "bab", time_limit=60)
    assert yes.status is Status.YES, yes.reason


def _clamp_net() -> ReLUNetwork:
    # layer 2 unit: relu(z) - relu(z - 1) = clamp(z, 0, 1); then 3 * that - 1
    return ReLUNetwork(
        [[[1], [1]], [[1, -1]], [[3]]],
        [[0, -1], [0], [-1]],
        activations=["relu", "relu", "identity"],
    )


def test_real_domain_with_clamp_box() -> None:
    net = _clamp_net()
    prob = InversionProblem(net, [5], Domain("real"), threshold=1, input_box=([0], [1]))
    sol = solve(prob, "bab")
    assert sol.status is Status.NO and sol.proof is not None
    assert sol.proof["root"] == "clamp box (verified)"
    ok = solve(InversionProblem(net, [2], Domain("real"), threshold=0, input_box=([0], [1])), "bab")
    assert ok.status is Status.YES
    # a box that is not a clamp box is not trusted: the free phase search decides over R^n
    bad = InversionProblem(net, [5], Domain("real"), threshold=1, input_box=([0], [1 / 2]))
    free = solve(bad, "bab")
    assert free.status is Status.NO and free.proof is not None
    assert free.proof["root"] == "free (real latents, no box)"


def test_real_without_box_is_decided_and_sigmoid_refused() -> None:
    # real latents without a box: the free phase search (tests/test_bab_free.py)
    net = ReLUNetwork([[[1]], [[1]]], [[0], [0]], final_activation="identity")
    sol = solve(InversionProblem(net, [5], Domain("real"), threshold=1), "bab")
    assert sol.status is Status.YES
    sol = solve(InversionProblem(net, [-5], Domain("real"), threshold=1), "bab")
    assert sol.status is Status.NO and sol.proof is not None and sol.proof["checked"]
    sig = ReLUNetwork([[[1]], [[1]]], [[0], [0]], final_activation="sigmoid")
    with pytest.raises(UnsupportedError):
        solve(InversionProblem(sig, [0], Domain.box([0], [1]), threshold=1), "bab")


def test_node_budget_gives_unknown_with_stats() -> None:
    rng = np.random.default_rng(5)
    net = random_net(rng, 3, [10, 10, 5], "relu")
    x = (net.forward(np.zeros(3)) + 1.5).tolist()
    prob = InversionProblem(net, x, Domain.box([-1] * 3, [1] * 3), threshold=1)
    # root bound tightening with the target rows refutes this one at the root: the
    # node budget is tested without it
    root = solve(prob, "bab", time_limit=60)
    assert root.status is Status.NO and root.stats.get("witness_lemmas", 0) > 0
    full = solve(prob, "bab", time_limit=60, options={"obbt_depth": -1})
    assert full.status is Status.NO and full.proof is not None
    assert full.proof["nodes"] > 3
    assert full.proof["nodes"] >= root.stats["nodes"]
    cut = solve(prob, "bab", options={"max_nodes": 2, "obbt_depth": -1})
    assert cut.status is Status.UNKNOWN
    assert cut.reason is not None and "node budget" in cut.reason
    assert cut.stats["nodes"] == 2


@pytest.mark.parametrize("p", [math.inf, 1.0])
def test_optimize_brackets_the_exact_minimum(p: float) -> None:
    rng = np.random.default_rng(101)
    net = random_net(rng, 1, [6, 5, 2], "relu")
    x = [Fraction(float(v)) for v in net.forward(np.array([0.7])) + rng.standard_normal(2)]
    m = exact_min(net, x, Fraction(-2), Fraction(2), p)
    prob = InversionProblem(net, x, Domain.box([-2], [2]), p=p, threshold=m * Fraction(9, 10))
    sol = solve(prob, "bab", options={"mode": "optimize"}, time_limit=60)
    lb = Fraction(sol.stats["lower_bound_exact"])
    assert sol.stats["lower_bound_certified"] and 0 < lb <= m
    assert m <= Fraction(sol.stats["best_distance"]) * (1 + Fraction(1, 10**9))
    assert sol.stats["gap"] <= 1e-3 * sol.stats["best_distance"] + 1e-12
    assert sol.status is Status.NO and sol.proof is not None and sol.proof["checked"]


def test_leaky_slope_above_one_against_oracle() -> None:
    # slope 3/2 makes the activation concave: the mirrored relaxation is used
    rng = np.random.default_rng(31)
    for _ in range(3):
        net = random_net(rng, 1, [5, 4, 2], "leaky_relu:3/2")
        x = [Fraction(float(v)) for v in net.forward(np.array([0.3])) + rng.standard_normal(2)]
        m = exact_min(net, x, Fraction(-1), Fraction(1), math.inf)
        dom = Domain.box([-1], [1])
        if m > 0:
            no = solve(InversionProblem(net, x, dom, threshold=m * Fraction(9, 10)), "bab")
            assert no.status is Status.NO, no.reason
        yes = solve(InversionProblem(net, x, dom, threshold=m * Fraction(11, 10)), "bab")
        assert yes.status is Status.YES, yes.reason


def test_linear_bounds_are_sound_and_tighter() -> None:
    from geninv.bounds import interval_bounds, linear_bounds

    rng = np.random.default_rng(4)
    net = random_net(rng, 3, [12, 12, 4], "relu")
    lo, hi = -np.ones(3), np.ones(3)
    fixed = {(1, 0): 1, (2, 3): 0}
    ib = interval_bounds(net, lo, hi, fixed)
    lb = linear_bounds(net, lo, hi, fixed)
    for (il, iu), (ll, lu) in zip(ib, lb, strict=True):
        assert (ll >= il).all() and (lu <= iu).all()
    assert sum(float((iu - il).sum()) for il, iu in ib) > sum(
        float((lu - ll).sum()) for ll, lu in lb
    )
    # every sampled point that respects the fixings lies inside the bounds
    zs = rng.uniform(-1, 1, (4000, 3))
    h = zs
    pre = []
    for layer in net.layers:
        h = h @ layer.weight.T + layer.bias
        pre.append(h)
        h = np.maximum(h, 0) if layer.activation == "relu" else h
    ok = (pre[0][:, 0] >= 0) & (pre[1][:, 3] <= 0)
    assert ok.sum() > 100
    for (ll, lu), p_ in zip(lb, pre, strict=True):
        assert (p_[ok] >= ll - 1e-9).all() and (p_[ok] <= lu + 1e-9).all()


def test_p1_tie_integer_weights() -> None:
    # G(z) = (z, 2 - z) on [0, 3], target (0, 0): ||G(z)||_1 = |z| + |2 - z| >= 2, = 2 on [0, 2]
    net = ReLUNetwork([[[1], [-1]]], [[0, 2]], final_activation="identity")
    dom = Domain.box([0], [3])
    assert exact_min(net, [Fraction(0)] * 2, Fraction(0), Fraction(3), 1.0) == 2
    assert solve(InversionProblem(net, [0, 0], dom, p=1, threshold=2), "bab").status is Status.YES
    below = solve(InversionProblem(net, [0, 0], dom, p=1, threshold="199/100"), "bab")
    assert below.status is Status.NO


def test_incumbent_finder_hook() -> None:
    rng = np.random.default_rng(9)
    net = random_net(rng, 2, [6, 3], "relu")
    z0 = [Fraction(1, 3), Fraction(-1, 5)]
    x = net.forward_exact(z0)
    prob = InversionProblem(net, x, Domain.box([-1, -1], [1, 1]), threshold=0)
    calls: list[float] = []

    def finder(p: InversionProblem, seconds: float) -> list[Fraction]:
        calls.append(seconds)
        return z0

    sol = solve(prob, "bab", options={"incumbent_finder": finder})
    assert sol.status is Status.YES and sol.z == z0 and sol.stats["nodes"] == 0 and calls
    # a finder's non-witness is ignored: the search decides by itself
    far = InversionProblem(net, [v + 9 for v in x], Domain.box([-1, -1], [1, 1]), threshold=0)
    bad = solve(far, "bab", options={"incumbent_finder": lambda p, s: [0, 0]})
    assert bad.status is Status.NO


def test_two_sided_rows_give_multipliers_by_the_dual_sign() -> None:
    """A two-sided LP row "A|B": a positive dual is A's multiplier, a negative one
    (its absolute value) B's; "R+S" (a substituted row) names both rows."""
    from geninv.solvers.bab.relax import _ydict

    names = ["L1.0.ge|L1.0.le", "L1.1.ge|L1.1.le", "T0.lo+L2.0.le|T0.hi+L2.0.ge", "L1.2.chord"]
    y = _ydict(names, [2.0, -0.5, -1.5, -3.0])
    # a one-sided row's negative dual is no multiplier (dual infeasible: dropped)
    assert y == {"L1.0.ge": 2.0, "L1.1.le": 0.5, "T0.hi": 1.5, "L2.0.ge": 1.5}
    assert _ydict(names, [0.0, 0.0, 4.0, 1.0]) == {"T0.lo": 4.0, "L2.0.le": 4.0, "L1.2.chord": 1.0}


def test_similar_order_is_a_greedy_permutation() -> None:
    from geninv.solvers.bab.relax import similar_order

    rng = np.random.default_rng(3)
    w = rng.standard_normal((30, 5))
    units = [int(v) for v in rng.permutation(30)[:20]]
    order = similar_order(w, units)
    assert sorted(order) == sorted(units) and order[0] == units[0]
    unit = w / np.linalg.norm(w, axis=1)[:, None]
    for i in range(len(order) - 1):  # each next row: the most similar of those left
        left = order[i + 1 :]
        sims = [float(unit[order[i]] @ unit[k]) for k in left]
        assert sims[0] == pytest.approx(max(sims))
    assert similar_order(w, [4, 2]) == [4, 2]


def _abs_net() -> ReLUNetwork:
    # G(z) = (|z|, |z|) on z in [-1, 1]: min distance to x = (2, 2) is 1 (l_inf), at z = +-1
    return ReLUNetwork([[[1], [-1]], [[1, 1], [1, 1]]], [[0, 0], [0, 0]], "identity")


def test_auto_runs_bab_first_on_a_near_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local search that ends just above delta: auto certifies the no with bab
    before any floating-point backend; far above delta it keeps the usual order."""
    import geninv.solvers.base as base_mod
    from geninv.solvers.bab.backend import BabBackend

    budgets: list[int] = []
    init = BabBackend.__init__

    def record(self: BabBackend, *args: object, **kw: object) -> None:
        init(self, *args, **kw)  # type: ignore[arg-type]
        budgets.append(self.max_nodes)

    monkeypatch.setattr(BabBackend, "__init__", record)
    net = _abs_net()
    dom = Domain.box([-1], [1])
    near = InversionProblem(net, [2, 2], dom, threshold=Fraction(97, 100))
    sol = solve(near, "auto", time_limit=60, seed=0)
    assert budgets == [base_mod.NEAR_MISS_NODES]  # a probe: bab with a node budget
    assert sol.status is Status.NO and sol.method == "bab", sol.reason
    assert sol.proof is not None and sol.proof["basis"] == "checked certificate"
    assert str(sol.stats["auto"]).startswith("bab: the local search ended at 1.03 delta")
    assert "auto_uncertified" not in sol.stats  # no float backend ran before it
    assert sol.stats["auto_primal"]["found"] is False  # the local search ran first
    far = InversionProblem(net, [2, 2], dom, threshold=Fraction(1, 2))
    sol = solve(far, "auto", time_limit=60, seed=0)
    # (the near-corner presolve, ranked first, decides this one-latent net exactly)
    assert sol.status is Status.NO and sol.method in ("corners", "bab"), sol.reason
    assert sol.proof is not None and sol.proof["basis"] in ("exact", "checked certificate")
    assert not str(sol.stats["auto"]).startswith("bab: the local search")
    # with --trust-solver the float backend's no is the answer: no bab first
    trusted = solve(near, "auto", time_limit=60, seed=0, trust_solver=True)
    assert trusted.status is Status.NO and trusted.method != "bab"


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_chunked_tightening_rounds_check(monkeypatch: pytest.MonkeyPatch, act: str) -> None:
    """Tightening in chunks: each chunk is one round of witness lemmas built on the
    rounds before it; the proof (several rounds) passes the independent checker,
    and agrees with the unchunked search."""
    import geninv.solvers.bab.obbt as obbt_mod
    import geninv.solvers.bab.search as search_mod
    from geninv.proofcheck import check_certificate

    rng = np.random.default_rng(11)
    net = random_net(rng, 2, [12, 4], act)
    dom = Domain.box([-1] * 2, [1] * 2)
    x = (net.forward(np.zeros(2)) + 1.0).tolist()
    # a grid's least distance (>= the minimum, which bab optimize puts in [0.999, 1])
    g = np.stack(np.meshgrid(*[np.linspace(-1, 1, 201)] * 2), -1).reshape(-1, 2)
    best = float(np.abs(net.forward(g) - np.array(x)).max(axis=1).min())
    prob = InversionProblem(net, x, dom, threshold=0.97 * best)
    docs = []
    orig = search_mod.Search.run

    def keep(self: search_mod.Search, box: list[tuple[Fraction, Fraction]]) -> object:
        res = orig(self, box)
        docs.append(self.cert.to_json())
        return res

    monkeypatch.setattr(search_mod.Search, "run", keep)
    monkeypatch.setattr(obbt_mod, "OBBT_CHUNK_MIN", 1)
    answers = []
    for chunks in (1, 4):
        monkeypatch.setattr(obbt_mod, "OBBT_CHUNKS", chunks)
        sol = solve(prob, "bab", time_limit=60, options={"primal": False})
        answers.append(sol.status)
        rounds = {lem.get("round") for nd in docs[-1]["nodes"] for lem in nd.get("lemmas", [])}
        if chunks == 4:
            assert sol.stats.get("witness_lemmas", 0) > 0
            assert len(rounds - {None}) >= 2  # several chunks proved bounds
        if sol.status is Status.NO:
            check_certificate(prob, docs[-1])
    assert answers == [Status.NO, Status.NO]


def test_tighten_basis_holder_keeps_the_optima() -> None:
    """A tightening call started from an earlier call's basis finds the same bounds."""
    from geninv.bounds import node_bounds, unstable_units
    from geninv.solvers.bab.backend import make_setup
    from geninv.solvers.bab.relax import Basis, tighten

    rng = np.random.default_rng(4)
    net = random_net(rng, 2, [12, 5], "relu")
    x = (net.forward(np.zeros(2)) + 0.3).tolist()
    prob = InversionProblem(net, x, Domain.box([-1, -1], [1, 1]), threshold=0.5)
    setup, _ = make_setup(prob)
    lo, hi = -np.ones(2), np.ones(2)
    bounds, _ = node_bounds(net, lo, hi, {}, {}, math.inf)
    units = unstable_units(bounds, net, {})
    holder: list[Basis] = []
    cold = tighten(setup, lo, hi, {}, bounds, units, Budget(), basis=holder)
    assert len(holder) == 1
    warm = tighten(setup, lo, hi, {}, bounds, units, Budget(), basis=holder)
    assert [(a, b, c) for a, b, c, _, _ in cold] == [(a, b, c) for a, b, c, _, _ in warm]
    for (*_, v1), (*_, v2) in zip(cold, warm, strict=True):
        assert v1 == pytest.approx(v2, rel=1e-7, abs=1e-9)


def test_dual_bound_is_the_bound_the_checker_derives() -> None:
    """tighten(short=...) reports the bound its shortened multipliers prove (a float
    replica of the checker's computation): the checker derives the same values."""
    from geninv.bounds import node_bounds, unstable_units
    from geninv.proofcheck import LeafChecker
    from geninv.solvers.bab.backend import make_setup
    from geninv.solvers.bab.obbt import to_fracs as _to_fracs
    from geninv.solvers.bab.relax import tighten

    rng = np.random.default_rng(8)
    net = random_net(rng, 3, [14, 5], "relu")
    x = (net.forward(np.zeros(3)) + 0.4).tolist()
    prob = InversionProblem(net, x, Domain.box([-1] * 3, [1] * 3), threshold=0.6)
    setup, _ = make_setup(prob)
    lo, hi = -np.ones(3), np.ones(3)
    bounds, _ = node_bounds(net, lo, hi, {}, {}, math.inf)
    units = unstable_units(bounds, net, {})
    props = tighten(setup, lo, hi, {}, bounds, units, Budget(), short=lambda y: _to_fracs(y) or {})
    assert len(props) >= 4
    box = [(Fraction(-1), Fraction(1))] * 3
    checker = LeafChecker(prob, {})
    for lay, j, side, y, val in props:
        inh = checker.node(box, {}, {}, [(lay, j, f"w0.{side}", y)])
        assert inh is not None
        assert float(inh[(lay, j, side)]) == pytest.approx(val, rel=1e-9, abs=1e-9)


def test_a_rejected_optimistic_root_is_searched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root's unchecked leaf is wrong (claims empty bounds): the final check
    rejects the proof, and the backend searches again with every round checked."""
    import geninv.solvers.bab.search as search_mod

    def bogus(search: search_mod.Search, nd: object, bounds: object) -> bool:
        nd.y = {}  # type: ignore[attr-defined]
        search.unchecked = True
        search.stats["unchecked_leaf"] = True
        return True

    rng = np.random.default_rng(5)
    net = random_net(rng, 3, [10, 10, 5], "relu")
    x = (net.forward(np.zeros(3)) + 1.5).tolist()
    prob = InversionProblem(net, x, Domain.box([-1] * 3, [1] * 3), threshold=1)
    monkeypatch.setattr(search_mod, "optimistic_leaf", bogus)
    sol = solve(prob, "bab", time_limit=60, options={"primal": False})
    assert sol.status is Status.NO and sol.proof is not None and sol.proof["checked"]
    assert "optimistic root proof rejected" in sol.stats["optimistic_retry"]
    assert "unchecked_leaf" not in sol.stats
    off = solve(prob, "bab", time_limit=60, options={"primal": False, "optimistic": False})
    assert off.status is Status.NO and "optimistic_retry" not in off.stats
