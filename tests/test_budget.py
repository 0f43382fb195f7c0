"""geninv.budget.Budget: deadlines, children that never outlive their parent, the one
seed, progress and interrupts (issue 16)."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from geninv.budget import Budget
from geninv.errors import BudgetExpired, GeninvError, ValidationError


def test_unlimited_budget_never_expires() -> None:
    b = Budget()
    assert b.deadline is None and b.limit is None
    assert b.left() == math.inf
    assert not b.expired()
    b.check()  # does not raise


def test_deadline_is_start_plus_limit_on_perf_counter() -> None:
    before = time.perf_counter()
    b = Budget(5.0)
    after = time.perf_counter()
    assert b.deadline is not None
    assert before + 5.0 <= b.deadline <= after + 5.0
    assert b.limit == pytest.approx(5.0)
    assert 0 < b.left() <= 5.0
    assert not b.expired()


def test_zero_limit_is_expired_and_check_raises_a_geninv_error() -> None:
    b = Budget(0.0)
    assert b.left() <= 0
    assert b.expired()
    with pytest.raises(BudgetExpired, match="time limit"):
        b.check()
    assert issubclass(BudgetExpired, GeninvError)


def test_a_short_budget_runs_out() -> None:
    b = Budget(0.02)
    assert not b.expired()
    time.sleep(0.05)
    assert b.expired()
    assert b.elapsed() >= 0.05


def test_nan_limit_is_rejected_and_a_negative_one_is_expired() -> None:
    with pytest.raises(ValidationError):
        Budget(math.nan)
    b = Budget(-1.0)  # "what is left" of an overrun parent
    assert b.expired() and b.left() < 0


def test_time_limit_is_none_without_a_deadline_else_what_is_left() -> None:
    assert Budget().time_limit() is None
    t = Budget(5.0).time_limit()
    assert t is not None and 4.0 < t <= 5.0
    stopped = Budget()
    stopped.interrupt()
    assert stopped.time_limit() == 0.0


def test_start_can_be_earlier() -> None:
    t0 = time.perf_counter() - 10.0
    b = Budget(11.0, start=t0)
    assert b.start == t0 and b.deadline == t0 + 11.0
    assert b.left() <= 1.0 and b.elapsed() >= 10.0
    assert Budget(5.0, start=t0).expired()


def test_wall_deadline_is_what_is_left_on_the_shared_clock() -> None:
    assert Budget().wall_deadline() is None
    before = time.time()
    w = Budget(5.0).wall_deadline()
    assert w is not None and before + 4.0 < w <= time.time() + 5.0
    assert (Budget(0.0).wall_deadline() or math.inf) <= time.time()


def test_until_takes_an_absolute_deadline() -> None:
    d = time.perf_counter() + 3.0
    assert Budget.until(d).deadline == d
    assert Budget.until(None).left() == math.inf


def test_child_never_outlives_parent() -> None:
    parent = Budget(1.0, seed=7)
    assert parent.deadline is not None
    for child in (parent.sub(), parent.sub(seconds=100.0), parent.sub(1.0), parent.sub(0.5)):
        assert child.deadline is not None and child.deadline <= parent.deadline
        assert child.seed == 7
    half = parent.sub(0.5)
    assert half.deadline is not None
    assert half.deadline <= parent.deadline - 0.49  # about half of one second
    short = parent.sub(seconds=0.1)
    assert short.deadline is not None and short.deadline <= parent.deadline - 0.8
    both = parent.sub(0.9, seconds=0.2)  # the smaller of the two
    assert both.deadline is not None and both.deadline <= short.deadline + 0.15
    grandchild = short.sub(seconds=50.0)
    assert grandchild.deadline is not None and grandchild.deadline <= short.deadline


def test_child_of_unlimited_parent() -> None:
    parent = Budget()
    assert parent.sub().deadline is None
    assert parent.sub(0.3).deadline is None  # a share of forever
    c = parent.sub(seconds=2.0)
    assert c.deadline is not None and c.left() <= 2.0


def test_child_of_expired_parent_is_expired() -> None:
    parent = Budget(0.0)
    assert parent.sub(seconds=10.0).expired()
    assert parent.sub(0.5).expired()


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5])
def test_bad_shares_are_rejected(share: float) -> None:
    with pytest.raises(ValidationError):
        Budget(1.0).sub(share)
    with pytest.raises(ValidationError):
        Budget(1.0).sub(seconds=math.nan)
    assert Budget(1.0).sub(seconds=-1.0).expired()  # a phase with no time left


def test_rng_is_one_stream_of_the_seed() -> None:
    a, b, c = Budget(seed=3), Budget(seed=3), Budget(seed=4)
    xa = a.rng().integers(0, 1 << 30, 8)
    assert np.array_equal(xa, a.rng().integers(0, 1 << 30, 8))  # fresh, same stream
    assert np.array_equal(xa, b.rng().integers(0, 1 << 30, 8))
    assert np.array_equal(xa, a.sub(seconds=1.0).rng().integers(0, 1 << 30, 8))
    assert not np.array_equal(xa, c.rng().integers(0, 1 << 30, 8))
    # no seed: the seed 0, as the primal heuristic has always used
    assert np.array_equal(
        Budget().rng().integers(0, 1 << 30, 8),
        np.random.default_rng(0).integers(0, 1 << 30, 8),
    )


def test_progress_reaches_the_callback_and_is_a_no_op_by_default() -> None:
    seen: list[tuple[int, int | None, str]] = []
    b = Budget(progress=lambda d, t, w: seen.append((d, t, w)))
    b.progress(1, 4, "shards")
    b.sub(0.5).progress(2, None, "nodes")
    assert seen == [(1, 4, "shards"), (2, None, "nodes")]
    Budget().progress(1, 2, "x")  # no callback: nothing happens


def test_interrupt_stops_children_but_not_the_parent() -> None:
    parent = Budget()
    child = parent.sub()
    grandchild = child.sub(seconds=100.0)
    child.interrupt()
    assert child.expired() and grandchild.expired() and child.left() == 0
    assert not parent.expired()
    with pytest.raises(BudgetExpired, match="interrupted"):
        grandchild.check()
    parent.check()
    other = parent.sub()
    parent.interrupt()
    assert other.interrupted and other.expired() and parent.expired()


def test_interrupt_from_another_thread() -> None:
    b = Budget()
    t = threading.Timer(0.02, b.interrupt)
    t.start()
    end = time.perf_counter() + 5.0
    while not b.expired() and time.perf_counter() < end:
        time.sleep(0.005)
    t.join()
    assert b.interrupted
