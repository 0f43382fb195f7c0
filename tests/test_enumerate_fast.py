"""The table method, sharding, threads/processes and Dask against brute force."""

from __future__ import annotations

import dataclasses
import itertools
import math
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geninv.errors import ValidationError
from geninv.network import ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status, compare_exact
from geninv.reductions.sat import SatReduction
from geninv.solvers.base import solve
from geninv.solvers.enumerate import (
    CHUNK_FLOATS,
    EnumerateBackend,
    ShardCombiner,
    ShardError,
    ShardResult,
    _find_openblas,
    choose_table_bits,
    enumerate_corners,
    exact_key,
    make_plan,
    run_shard,
)

from .conftest import random_cnf
from .test_enumerate import (
    KINDS,
    _big_problem,
    _exact_distance,
    random_corner,
    random_network,
    threshold_variants,
    variant,
)

NORMS = (1.0, 2.0, 1.5, math.inf)


# ------------------------------------------------------------------ brute force
class Brute:
    """Exact outputs of every corner, in enumeration order, computed once per network."""

    def __init__(self, problem: InversionProblem) -> None:
        values = problem.domain.corner_values()
        self.corners = list(itertools.product(values, repeat=problem.n))
        self.outputs = [problem.network.forward_exact(z) for z in self.corners]

    def meets(self, prob: InversionProblem) -> list[bool]:
        return [
            compare_exact(
                [o - t for o, t in zip(out, prob.target, strict=True)],
                prob.p,
                prob.threshold,
                prob.relation,
                prob.threshold_pow,
            )[0]
            for out in self.outputs
        ]

    def first_witness(self, prob: InversionProblem) -> tuple[int, ...] | None:
        return next((z for z, ok in zip(self.corners, self.meets(prob), strict=True) if ok), None)

    def first_minimiser(self, prob: InversionProblem) -> tuple[int, ...]:
        keys = [exact_key(prob, out) for out in self.outputs]
        best = min(keys)
        return self.corners[keys.index(best)]


def as_ints(z: list[Fraction] | None) -> tuple[int, ...] | None:
    return None if z is None else tuple(int(v) for v in z)


def assert_no_proof(problem: InversionProblem, sol: Solution) -> None:
    assert sol.status is Status.NO and sol.proof is not None
    assert sol.proof["kind"] == "exhaustive enumeration"
    assert sol.proof["points"] == 2**problem.n
    shards = sol.proof["shards"]
    assert sum(s["points"] for s in shards) == 2**problem.n
    assert shards[0]["first"] == 0 and shards[-1]["stop"] == 2**problem.n
    for a, b in itertools.pairwise(shards):
        assert a["stop"] == b["first"]
    assert all(s["points"] == s["stop"] - s["first"] for s in shards)
    assert sol.stats["points_screened"] == 2**problem.n


# ------------------------------------------------------------------ the table itself
@pytest.mark.parametrize("kind", KINDS)
def test_table_outputs_within_the_error_bound(kind: str) -> None:
    rng = np.random.default_rng(99)
    for trial in range(5):
        n = int(rng.integers(1, 8))
        domain = "binary" if trial % 2 else "sign"
        net = random_network(rng, n, kind)
        target = [
            v + Fraction(int(rng.integers(-5, 6)), 3)
            for v in net.forward_exact(random_corner(rng, n, domain))
        ]
        values = Domain(domain).corner_values()  # type: ignore[arg-type]
        zs = np.array(list(itertools.product(values, repeat=n)), dtype=float)
        exact = [net.forward_exact([int(v) for v in z]) for z in zs]
        ref = net.forward(zs)
        for k, chunk in ((0, 1), (n // 2, 9), (n, CHUNK_FLOATS)):
            p = NORMS[(trial + k) % len(NORMS)]
            prob = InversionProblem(net, target, Domain(domain), p=p)  # type: ignore[arg-type]
            plan = make_plan(prob, table_bits=k, chunk_floats=chunk)
            assert plan.table_bits <= k
            outs, dists = plan.evaluate(0, plan.n_outer)
            assert outs.shape == (2**n, net.n_outputs)
            bound = plan.bound
            for out, ex, dist in zip(outs, exact, dists, strict=True):
                for o, e, err in zip(out, ex, bound.output_error, strict=True):
                    assert abs(Fraction(float(o)) - e) <= Fraction(float(err))
                    if bound.float_exact:  # integer-exact networks stay exact
                        assert Fraction(float(o)) == e
                true = _exact_distance(ex, prob)
                slack = Fraction(bound.abs_error) + Fraction(bound.rel_error) * Fraction(
                    float(dist)
                )
                assert abs(Fraction(float(dist)) - true) <= slack + Fraction(1, 10**40)
            # the plain forward pass agrees up to twice the bound (both are within it)
            assert np.all(np.abs(outs - ref) <= 2 * bound.output_error + 1e-300)


def test_table_is_exact_on_integer_networks_at_every_k() -> None:
    rng = np.random.default_rng(5)
    n = 9
    w1 = rng.integers(-3, 4, (7, n)).astype(float)
    w2 = rng.integers(-3, 4, (3, 7)).astype(float)
    net = ReLUNetwork([w1, w2], [rng.integers(-2, 3, 7).astype(float), np.zeros(3)])
    prob = InversionProblem(net, [0, 0, 0], Domain("sign"))
    ref = net.forward(np.array(list(itertools.product((-1, 1), repeat=n)), dtype=float))
    for k in range(n + 1):
        plan = make_plan(prob, table_bits=k)
        assert plan.bound.float_exact and plan.table_bits == k
        outs, _ = plan.evaluate(0, plan.n_outer)
        assert np.array_equal(outs, ref)


def test_choose_table_bits() -> None:
    assert choose_table_bits(20, 1 << 14) == 10
    assert choose_table_bits(20, 1 << 14, requested=16) == 14  # 2^k <= rows
    assert choose_table_bits(5, 1 << 14) == 5  # k <= n
    assert choose_table_bits(12, 1 << 14, min_shards=7) == 9  # 2^(n-k) >= shards
    assert choose_table_bits(2, 1 << 14, min_shards=64) == 0
    assert choose_table_bits(20, 1) == 0


# ------------------------------------------------------------------ agreement
@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    kind=st.sampled_from(KINDS),
    domain=st.sampled_from(["binary", "sign"]),
    p=st.sampled_from(NORMS),
    table_bits=st.sampled_from([None, 0, 1, 3]),
    shards=st.sampled_from([1, 2, 3, 7]),
    chunk_floats=st.sampled_from([CHUNK_FLOATS, 7, 64]),
)
def test_table_method_agrees_with_brute_force(
    seed: int,
    n: int,
    kind: str,
    domain: str,
    p: float,
    table_bits: int | None,
    shards: int,
    chunk_floats: int,
) -> None:
    rng = np.random.default_rng(seed)
    net = random_network(rng, n, kind)  # rational, float, wild; relu or identity final
    base = net.forward_exact(random_corner(rng, n, domain))
    target = [v + Fraction(int(rng.integers(-4, 5)), 4) for v in base]
    problem = InversionProblem(net, target, Domain(domain), p=p, threshold=1)  # type: ignore[arg-type]
    brute = Brute(problem)
    opts: dict[str, Any] = {
        "table_bits": table_bits,
        "shards": shards,
        "chunk_floats": chunk_floats,
        "workers": 1,
    }
    for prob, expected in threshold_variants(problem):  # includes thresholds at the minimum
        first = brute.first_witness(prob)
        sol = enumerate_corners(prob, **opts)
        assert sol.status is (Status.YES if first is not None else Status.NO), prob.describe()
        if expected is not None:
            assert sol.status is expected
        if first is not None:
            assert as_ints(sol.z) == first  # the first witness in enumeration order
        else:
            assert_no_proof(prob, sol)
    prob = variant(problem, threshold=Fraction(1, 2))
    sol = enumerate_corners(prob, mode="optimize", **opts)
    assert tuple(sol.stats["argmin"]) == brute.first_minimiser(prob)
    assert sol.status is (Status.YES if brute.first_witness(prob) is not None else Status.NO)
    if sol.status is Status.NO:
        assert_no_proof(prob, sol)


def _sharding_problems() -> Iterator[tuple[str, InversionProblem]]:
    rng = np.random.default_rng(11)
    for i, ratio in enumerate((7.0, 3.0)):  # (almost surely) unsatisfiable, satisfiable
        cnf = random_cnf(rng, 12, int(ratio * 12))
        yield f"thm1-{i}", SatReduction("sign").apply(cnf)[0]
    net = ReLUNetwork(
        [rng.normal(size=(16, 12)), rng.normal(size=(3, 16))],
        [rng.normal(size=16), rng.normal(size=3)],
        final_activation="identity",
    )
    z = random_corner(rng, 12, "binary")
    target = net.forward_exact(z)
    yield "float-yes", InversionProblem(net, target, Domain("binary"), p=2)
    yield "float-near", InversionProblem(net, target, Domain("binary"), p=1.5, threshold="1/2")
    yield "float-no", InversionProblem(net, [t + 1 for t in target], Domain("binary"), p=2)


@pytest.mark.parametrize(("name", "problem"), list(_sharding_problems()))
def test_shards_and_threads_give_identical_answers(name: str, problem: InversionProblem) -> None:
    for mode in ("decide", "optimize"):
        ref = enumerate_corners(problem, mode=mode, workers=1, shards=1)  # type: ignore[arg-type]
        runs = [
            enumerate_corners(problem, mode=mode, workers=w, shards=s)  # type: ignore[arg-type]
            for s in (1, 3, 7)
            for w in (1, 2)
        ]
        for sol in runs:
            assert sol.status is ref.status, name
            assert sol.z == ref.z
            assert sol.stats.get("argmin") == ref.stats.get("argmin")
            assert sol.stats.get("min_distance") == ref.stats.get("min_distance")
            if ref.status is Status.NO:
                assert_no_proof(problem, sol)
                assert sol.proof is not None and ref.proof is not None
                for key in ("kind", "points", "float_error_margin"):
                    assert sol.proof[key] == ref.proof[key]
        assert {len(sol.proof["shards"]) for sol in runs if sol.proof} <= {1, 3, 7}


def test_processes_executor_agrees() -> None:
    problem = next(p for name, p in _sharding_problems() if name == "float-no")
    ref = enumerate_corners(problem, workers=1)
    sol = enumerate_corners(problem, workers=2, executor="processes", shards=5)
    assert sol.stats["executor"] == "processes"
    assert sol.status is ref.status is Status.NO
    assert_no_proof(problem, sol)
    assert len(sol.proof["shards"]) == 5  # type: ignore[index]


def test_later_witness_shard_waits_for_earlier_shards() -> None:
    # witnesses at two places; the first one in enumeration order must win
    n = 16
    net = ReLUNetwork([np.eye(n)], [np.zeros(n)], final_activation="identity")
    late = [1] * n
    early = [0] * 4 + [1] * (n - 4)
    target = [Fraction(1, 2) if a != b else a for a, b in zip(late, early, strict=True)]
    prob = InversionProblem(net, target, Domain("binary"), p=math.inf, threshold="1/2")
    for workers in (1, 2):
        sol = enumerate_corners(prob, workers=workers, shards=16, table_bits=8)
        assert as_ints(sol.z) == tuple(early)
    # a witness at index 3 stops the run early: with one worker within the first shard
    # (with two, how many shards the other thread finishes first depends on scheduling)
    target0 = net.forward_exact([0] * (n - 2) + [1, 1])
    early_prob = InversionProblem(net, target0, Domain("binary"))
    sol = enumerate_corners(early_prob, workers=1, shards=8)
    assert sol.status is Status.YES and as_ints(sol.z) == (0,) * (n - 2) + (1, 1)
    assert sol.stats["points_screened"] <= 2**n // 8
    sol = enumerate_corners(early_prob, workers=2, shards=8)
    assert sol.status is Status.YES and as_ints(sol.z) == (0,) * (n - 2) + (1, 1)


# ------------------------------------------------------------------ shard bookkeeping
def test_duplicate_shard_results_are_counted_once() -> None:
    problem = next(p for name, p in _sharding_problems() if name == "float-no")
    plan = make_plan(problem, min_shards=4)
    shards = plan.split(4)
    results = [run_shard(plan, s) for s in shards]
    again = run_shard(plan, shards[2])  # a shard recomputed after a lost worker
    assert dataclasses.replace(again, seconds=0.0) == dataclasses.replace(results[2], seconds=0.0)
    comb = ShardCombiner(shards, plan.total)
    for res in (results[3], results[2], again, results[0], results[1], results[2]):
        comb.add(res)
    assert comb.duplicates == 2
    assert comb.points == plan.total == 2**problem.n
    assert comb.complete()
    rows = comb.proof_shards()
    assert [r["shard"] for r in rows] == [0, 1, 2, 3]
    assert sum(r["points"] for r in rows) == 2**problem.n

    # a partial result is replaced by the complete one, never added to it
    comb2 = ShardCombiner(shards, plan.total)
    partial = ShardResult(shards[1].shard_id, shards[1].first, shards[1].last, points=5)
    partial.stopped = "cancelled"
    assert comb2.add(partial)
    assert not comb2.add(results[1])
    assert comb2.points == results[1].points
    assert not comb2.add(partial)  # a late partial does not replace it either
    assert comb2.results[1].complete
    assert not comb2.complete()
    with pytest.raises(ShardError):
        comb2.proof_shards()  # shards 0, 2, 3 missing: no proof

    # results that do not match the shard table are refused
    bogus = ShardResult(0, 0, 7, points=7, complete=True)
    with pytest.raises(ShardError):
        comb2.add(bogus)
    with pytest.raises(ShardError):
        ShardCombiner([shards[0], shards[2]], plan.total)  # a gap


# ------------------------------------------------------------------ time limits
@pytest.mark.parametrize(
    ("opts", "mode"),
    [
        ({"workers": 2, "shards": 7}, "decide"),
        ({"workers": 2, "shards": 7}, "optimize"),
        ({"workers": 1, "shards": 3}, "decide"),
        ({"workers": 1, "shards": 3}, "optimize"),
        ({"workers": 2, "executor": "processes"}, "decide"),
    ],
)
def test_time_limit_gives_unknown(opts: dict[str, Any], mode: str) -> None:
    # processes start slowly: a longer limit on a bigger problem (still far from done:
    # two processes screened 2^25 points in 1.0 s on a quiet 2-core machine, so 2^28)
    n, limit = (28, 1.0) if opts.get("executor") == "processes" else (22, 0.05)
    prob = _big_problem(n)
    sol = enumerate_corners(prob, mode=mode, time_limit=limit, **opts)  # type: ignore[arg-type]
    assert sol.status is Status.UNKNOWN and sol.proof is None
    assert sol.reason is not None and sol.reason.startswith("time limit after ")
    assert sol.reason.endswith(f" of 2^{n} points")
    assert sol.stats["points_screened"] < 2**n
    zero = enumerate_corners(prob, mode=mode, time_limit=0.0, **opts)  # type: ignore[arg-type]
    assert zero.status is Status.UNKNOWN and zero.stats["points_screened"] == 0


# ------------------------------------------------------------------ dask
DASK_LIGHT: dict[str, Any] = {"processes": False, "n_workers": 1, "threads_per_worker": 2}


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(dashboard_address=":0", **DASK_LIGHT) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _n14_problems() -> list[InversionProblem]:
    rng = np.random.default_rng(14)
    cnf_no = random_cnf(rng, 14, 100)
    cnf_yes = random_cnf(rng, 14, 40)
    net = ReLUNetwork(
        [rng.normal(size=(12, 14)), rng.normal(size=(2, 12))],
        [rng.normal(size=12), rng.normal(size=2)],
    )
    target = [t + Fraction(1, 3) for t in net.forward_exact(random_corner(rng, 14, "sign"))]
    return [
        SatReduction("sign").apply(cnf_no)[0],
        SatReduction("sign").apply(cnf_yes)[0],
        InversionProblem(net, target, Domain("sign"), p=2, threshold="1/2"),
    ]


def test_dask_local_cluster_matches_local_run(dask_client: Any) -> None:
    for problem in _n14_problems():
        for mode in ("decide", "optimize"):
            ref = enumerate_corners(problem, mode=mode, workers=1)  # type: ignore[arg-type]
            sol = enumerate_corners(
                problem,
                mode=mode,  # type: ignore[arg-type]
                scheduler=dask_client,
                shards=7,
            )
            assert sol.stats["executor"] == "dask"
            assert sol.status is ref.status
            assert sol.z == ref.z
            assert sol.stats.get("argmin") == ref.stats.get("argmin")
            if sol.status is Status.NO:
                assert_no_proof(problem, sol)
                assert len(sol.proof["shards"]) == 7  # type: ignore[index]


def test_dask_scheduler_local_through_solve() -> None:
    pytest.importorskip("distributed")
    problem = _n14_problems()[0]
    ref = solve(problem, "enumerate")
    sol = solve(
        problem,
        "enumerate",
        options={"scheduler": "local", "dask_options": DASK_LIGHT, "shards": 3},
    )
    assert sol.status is ref.status
    if sol.status is Status.NO:
        assert_no_proof(problem, sol)
    assert sol.stats["dask_threads"] == 2


def test_dask_time_limit_gives_unknown(dask_client: Any) -> None:
    prob = _big_problem(25)
    for mode in ("decide", "optimize"):
        sol = enumerate_corners(
            prob,
            mode=mode,  # type: ignore[arg-type]
            time_limit=0.2,
            scheduler=dask_client,
            shards=4,
        )
        assert sol.status is Status.UNKNOWN and sol.proof is None
        assert sol.stats["points_screened"] < 2**25


def test_default_path_does_not_import_dask() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from geninv.network import ReLUNetwork\n"
        "from geninv.problem import Domain, InversionProblem\n"
        "from geninv.solvers.base import solve\n"
        "net = ReLUNetwork([np.ones((1, 18))], [np.zeros(1)])\n"
        "sol = solve(InversionProblem(net, [0.5], Domain('binary')), 'enumerate')\n"
        "assert sol.status == 'no', sol.status\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------ interface
def test_options_are_validated() -> None:
    for bad in (
        {"workers": 0},
        {"shards": 0},
        {"executor": "gpu"},
        {"table_bits": 99},
        {"table_bits": -1},
        {"scheduler": "somewhere"},
        {"chunk_floats": 0},
    ):
        with pytest.raises(ValidationError):
            EnumerateBackend(**bad)
    backend = EnumerateBackend(mode="optimize", workers=2, shards=3, table_bits=4)
    assert (backend.workers, backend.shards, backend.table_bits) == (2, 3, 4)


def test_progress_reports_rate_with_threads(capfd: pytest.CaptureFixture[str]) -> None:
    prob = _big_problem(17)
    enumerate_corners(prob, workers=2, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    sol = enumerate_corners(prob, workers=2, progress=True)
    assert sol.status in (Status.YES, Status.NO)
    out, err = capfd.readouterr()
    assert out == ""
    assert "2^17" in err and "candidates/s" in err


def test_blas_thread_count_is_restored() -> None:
    controls = _find_openblas()
    if controls is None:
        pytest.skip("no OpenBLAS loaded in this process")
    get, _ = controls
    before = get()
    enumerate_corners(_big_problem(16), workers=2)
    assert get() == before


def test_dask_running_shard_sees_the_stop_signal(dask_client: Any) -> None:
    distributed = pytest.importorskip("distributed")
    from geninv.solvers.enumerate.dask_executor import STOP_POLL, dask_shard

    prob = _big_problem(25)  # 2^24 corners in the shard: seconds, unless stopped
    plan = make_plan(prob, min_shards=2)
    shard = plan.split(2)[1]
    stop = distributed.Variable("geninv-test-stop", client=dask_client)
    stop.set(0)  # a witness in shard 0: shard 1 should stop at its first poll
    fut = dask_client.submit(dask_shard, plan, shard, "decide", None, stop.name, pure=False)
    res = fut.result(timeout=60)
    assert res.stopped == "cancelled" and not res.complete
    assert 0 < res.points < shard.points
    assert res.seconds < 10 * STOP_POLL


# ------------------------------------------------------------------ float32 evaluation
def test_float32_only_where_it_is_exact() -> None:
    from geninv.errors import UnsupportedError
    from geninv.solvers.enumerate import error_bound

    # integer network: float32 is exact, and the plan uses it
    net = ReLUNetwork([np.array([[1.0, -2.0, 3.0]]), np.array([[2.0]])], [np.zeros(1), [1.0]])
    prob = InversionProblem(net, [3], Domain("binary"))
    bound = error_bound(prob)
    assert bound.float_exact and bound.float32_exact
    assert make_plan(prob).dtype == "float32"
    assert make_plan(prob, precision="float64").dtype == "float64"
    # partial sums reach 2^24 + 1: exact in float64, not in float32
    big = ReLUNetwork([np.array([[2.0**23, 2.0**23, 1.0]])], [np.zeros(1)])
    target = [2**24 + 1]  # only z = (1, 1, 1); float32 would round it to 2^24
    prob = InversionProblem(big, target, Domain("binary"))
    bound = error_bound(prob)
    assert bound.float_exact and not bound.float32_exact
    plan = make_plan(prob)
    assert plan.dtype == "float64"
    sol = enumerate_corners(prob)
    assert sol.status is Status.YES and sol.z == [1, 1, 1]
    assert sol.stats["precision"] == "float64"
    # a weight float32 cannot hold, on a unit that is always 0: still float64
    w2 = np.array([[1.0, 2.0**40 + 1.0]])
    odd = ReLUNetwork([np.array([[1.0, 1.0], [0.0, 0.0]]), w2], [np.zeros(2), np.zeros(1)])
    bound = error_bound(InversionProblem(odd, [2], Domain("binary")))
    assert bound.float_exact and not bound.float32_exact
    # float32 is exact, but folding the first ReLU needs one more bit in layer 2
    tight = ReLUNetwork([np.array([[2.0**21, 2.0**21]]), np.array([[3.0]])], [np.zeros(1)] * 2)
    prob = InversionProblem(tight, [3 * 2**22], Domain("binary"))
    bound = error_bound(prob)
    assert bound.float32_exact and not bound.float32_fold
    plan = make_plan(prob)
    assert plan.dtype == "float32" and not plan.fold
    assert np.array_equal(
        plan.evaluate(0, plan.n_outer)[0], tight.forward([[0, 0], [0, 1], [1, 0], [1, 1]])
    )
    assert enumerate_corners(prob).z == [1, 1]
    # with a small enough layer 2 it folds; an identity first layer never does
    loose = ReLUNetwork([np.array([[2.0**21, 2.0**21]]), np.array([[1.0]])], [np.zeros(1)] * 2)
    assert make_plan(InversionProblem(loose, [0], Domain("binary"))).fold
    linear = ReLUNetwork(
        [np.array([[1.0, 2.0]]), np.array([[1.0]])],
        [np.zeros(1)] * 2,
        activations=["identity", "relu"],
    )
    plan = make_plan(InversionProblem(linear, [0], Domain("binary")))
    assert plan.dtype == "float32" and not plan.fold
    # fractional weights are never float32-evaluated
    frac = ReLUNetwork([np.array([[0.1, 0.2]])], [np.zeros(1)])
    assert make_plan(InversionProblem(frac, [0.3], Domain("binary"), p=1)).dtype == "float64"
    with pytest.raises(ValidationError):
        make_plan(InversionProblem(frac, [0.3], Domain("binary"), p=1), precision="half")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        EnumerateBackend(precision="float16")  # type: ignore[arg-type]
    leaky = ReLUNetwork([np.array([[1.0, 1.0]])], [np.zeros(1)], final_activation="leaky_relu")
    with pytest.raises(UnsupportedError, match="leaky"):
        enumerate_corners(InversionProblem(leaky, [0], Domain("sign")))


@pytest.mark.parametrize("seed", range(4))
def test_float32_and_float64_plans_agree(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n = 9
    folded = 0
    for trial in range(8):
        net = random_network(rng, n, "int" if trial % 2 else "quarter")
        domain = "sign" if trial < 2 else "binary"
        target = [
            v + Fraction(int(rng.integers(-2, 3)), 2)
            for v in net.forward_exact(random_corner(rng, n, domain))
        ]
        p = NORMS[(seed + trial) % len(NORMS)]
        prob = InversionProblem(net, target, Domain(domain), p=p, threshold=Fraction(1, 2))  # type: ignore[arg-type]
        plan = make_plan(prob)
        assert plan.dtype == "float32"
        folded += plan.fold
        a_out, a_dist = make_plan(prob, table_bits=4).evaluate(0, 1 << (n - 4))
        b_out, b_dist = make_plan(prob, table_bits=4, precision="float64").evaluate(0, 1 << (n - 4))
        assert a_out.dtype == np.float64 and np.array_equal(a_out, b_out)
        assert np.array_equal(a_dist, b_dist)
        for mode in ("decide", "optimize"):
            a = enumerate_corners(prob, mode=mode, chunk_floats=37)
            b = enumerate_corners(prob, mode=mode, chunk_floats=37, precision="float64")
            assert (a.status, a.z, a.distance) == (b.status, b.z, b.distance)
            assert a.stats["precision"] == "float32" and b.stats["precision"] == "float64"
    assert folded  # the folded first layer was exercised
