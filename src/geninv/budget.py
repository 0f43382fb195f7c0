"""What a run may spend: a deadline, the one seed, a progress callback, an interrupt.

Every backend is given a time limit (seconds, or None for none) and a seed; a
:class:`Budget` is those two turned into one object that is passed down instead of
``time.perf_counter() + time_limit`` arithmetic repeated in each backend:

* the deadline is on the :func:`time.perf_counter` clock (monotonic, never set back),
  fixed when the budget is made; :meth:`Budget.left` is the seconds remaining
  (``math.inf`` without a limit) and :meth:`Budget.expired` says whether none is;
* :meth:`Budget.sub` gives a child budget for a phase (bound tightening, a probe, a
  fallback method) whose deadline is never later than its parent's, so no phase can
  make the whole run overrun its limit;
* :meth:`Budget.rng` is the only source of randomness: a fresh generator seeded with
  :attr:`Budget.seed` (0 when no seed was given), so a run is reproducible from it;
* :meth:`Budget.progress` reports ``(done, total, what)`` to an optional callback;
* :meth:`Budget.interrupt` stops the budget from another thread: it and all its
  children then count as expired, and :meth:`Budget.check` raises
  :class:`geninv.errors.BudgetExpired`.

This module is at the bottom of the tree: it imports nothing of the solvers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from geninv.errors import BudgetExpired, ValidationError

#: ``progress(done, total, what)``: ``total`` is None when unknown.
ProgressFn = Callable[[int, int | None, str], None]


def _no_progress(done: int, total: int | None, what: str) -> None:
    """The default progress callback: reports nothing."""


class Budget:
    """A deadline on the :func:`time.perf_counter` clock, a seed, a progress callback
    and an interrupt flag, shared by a run and the phases it starts.

    ``Budget(time_limit, seed)`` starts counting when it is made (or at ``start``, an
    earlier ``time.perf_counter()`` value, such as a backend's entry).  ``time_limit`` is
    in seconds (``None``: no limit; 0 or less is expired at once, as a caller's
    "what is left" may be; NaN is an error).  ``seed`` is the one seed of the run
    (``None`` is taken as 0 by :meth:`rng`, so a run without a seed is still
    reproducible).
    """

    __slots__ = ("_deadline", "_progress", "_stops", "seed", "start")

    def __init__(
        self,
        time_limit: float | None = None,
        seed: int | None = None,
        *,
        progress: ProgressFn | None = None,
        start: float | None = None,
    ) -> None:
        if time_limit is not None and math.isnan(time_limit):
            raise ValidationError("time limit must be a number of seconds or None, not NaN")
        #: ``time.perf_counter()`` when the budget was made (elapsed time counts from it).
        self.start: float = time.perf_counter() if start is None else start
        self._deadline: float | None = None if time_limit is None else self.start + time_limit
        #: The run's one seed, as given (None: :meth:`rng` uses 0).
        self.seed: int | None = seed
        self._progress: ProgressFn = progress or _no_progress
        #: Its own interrupt flag last, after those of its ancestors.
        self._stops: tuple[threading.Event, ...] = (threading.Event(),)

    @classmethod
    def until(
        cls,
        deadline: float | None,
        seed: int | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> Budget:
        """A budget ending at ``deadline``, a ``time.perf_counter()`` value (None: never)."""
        out = cls(None, seed, progress=progress)
        out._deadline = deadline
        return out

    # ------------------------------------------------------------------ time
    @property
    def deadline(self) -> float | None:
        """The ``time.perf_counter()`` value at which the budget ends (None: never)."""
        return self._deadline

    @property
    def limit(self) -> float | None:
        """The seconds from :attr:`start` to the deadline (None: no limit)."""
        return None if self._deadline is None else self._deadline - self.start

    def elapsed(self) -> float:
        """Seconds since the budget was made."""
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds until the deadline: ``math.inf`` without one, negative once past it.

        An interrupted budget has 0 seconds left."""
        if self.interrupted:
            return 0.0
        if self._deadline is None:
            return math.inf
        return self._deadline - time.perf_counter()

    def time_limit(self) -> float | None:
        """What is left as a time limit for a callee that takes seconds: None without a
        deadline (and not interrupted), else :meth:`left` (possibly <= 0)."""
        if self._deadline is None and not self.interrupted:
            return None
        return self.left()

    def wall_deadline(self) -> float | None:
        """The deadline as a :func:`time.time` value, for work done in other processes or
        on other machines (``perf_counter`` is one machine's clock, ``time.time`` the one
        they share): now plus :meth:`left`, None without a deadline (and not interrupted).
        Such workers compare ``time.time()`` with it; the run itself keeps the budget."""
        limit = self.time_limit()
        return None if limit is None else time.time() + limit

    def expired(self) -> bool:
        """Whether the deadline has passed (``left() <= 0``) or the budget was interrupted."""
        return self.left() <= 0

    def check(self) -> None:
        """Raise :class:`geninv.errors.BudgetExpired` if :meth:`expired`, else nothing.

        For loops that would rather unwind than poll :meth:`expired`; the caller
        that started the run catches the error and answers ``unknown``."""
        if self.interrupted:
            raise BudgetExpired("interrupted")
        if self.expired():
            raise BudgetExpired(f"time limit of {self.limit:g} s reached")

    def sub(self, share: float | None = None, *, seconds: float | None = None) -> Budget:
        """A child budget for one phase, starting now.

        Its time is ``share`` of what this budget has left (``0 < share <= 1``) and
        at most ``seconds`` (0 or less: expired at once); with neither it is all of
        what is left.  Its deadline is
        never later than this budget's, so it never outlives its parent (a share of an
        unlimited budget is unlimited unless ``seconds`` bounds it).  The child shares
        the seed and the progress callback; interrupting the parent stops the child,
        interrupting the child stops it alone.
        """
        if share is not None and not 0 < share <= 1:
            raise ValidationError(f"a budget share must be in (0, 1], not {share!r}")
        if seconds is not None and math.isnan(seconds):
            raise ValidationError("a budget's seconds must be a number, not NaN")
        now = time.perf_counter()
        ends: list[float] = []
        if self._deadline is not None:
            ends.append(self._deadline)
            if share is not None:
                ends.append(now + share * max(0.0, self._deadline - now))
        if seconds is not None:
            ends.append(now + seconds)
        child = Budget(None, self.seed, progress=self._progress)
        child.start = now
        child._deadline = min(ends) if ends else None
        child._stops = (*self._stops, threading.Event())
        return child

    # ------------------------------------------------------------------ the rest
    def rng(self) -> np.random.Generator:
        """A fresh NumPy generator seeded with :attr:`seed` (0 if None): every call
        returns the same stream, so a phase's randomness depends on the seed alone."""
        return np.random.default_rng(0 if self.seed is None else self.seed)

    def progress(self, done: int, total: int | None, what: str) -> None:
        """Report that ``done`` of ``total`` (None: unknown) units of ``what`` are done.

        Calls the callback given at construction; a no-op without one."""
        self._progress(done, total, what)

    def interrupt(self) -> None:
        """Stop this budget and its children (not its parent): from now on they have
        no time :meth:`left`.  Safe to call from any thread."""
        self._stops[-1].set()

    @property
    def interrupted(self) -> bool:
        """Whether :meth:`interrupt` was called on this budget or an ancestor."""
        return any(e.is_set() for e in self._stops)

    def __repr__(self) -> str:
        left = self.left()
        shown = "unlimited" if math.isinf(left) else f"{left:.3f}s left"
        return f"Budget({shown}, seed={self.seed!r})"
