"""Combining shard results into one answer (decide and optimize)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from geninv.solvers.enumerate.plan import Shard
from geninv.solvers.enumerate.runtime import ShardError
from geninv.solvers.enumerate.shard import ShardResult


# --------------------------------------------------------------- combining
class ShardCombiner:
    """Merges shard results, one per shard id, whatever arrives twice or out of order."""

    def __init__(self, shards: Sequence[Shard], total: int) -> None:
        self.shards: dict[int, Shard] = {s.shard_id: s for s in shards}
        if len(self.shards) != len(shards):
            raise ShardError("shard ids are not unique")
        self.total = total
        self.results: dict[int, ShardResult] = {}
        self.duplicates = 0
        spans = sorted((s.first, s.last) for s in shards)
        pos = 0
        for a, b in spans:
            if a != pos or b <= a:
                raise ShardError(f"shards do not tile [0, {total}): gap or overlap at {pos}")
            pos = b
        if pos != total:
            raise ShardError(f"shards cover [0, {pos}), not [0, {total})")

    def add(self, res: ShardResult) -> bool:
        """Record a result; False when shard ``res.shard_id`` was already recorded.

        A repeated shard (a recomputed task, a retry) is counted once: the more
        conclusive of the two results is kept.
        """
        spec = self.shards.get(res.shard_id)
        if spec is None or (res.first, res.stop) != (spec.first, spec.last):
            raise ShardError(f"result for unknown shard {res.shard_id} [{res.first}, {res.stop})")
        if not 0 <= res.points <= res.size:
            raise ShardError(f"shard {res.shard_id} reports {res.points} of {res.size} points")
        old = self.results.get(res.shard_id)
        if old is not None:
            self.duplicates += 1
            if (res.conclusive, res.points) > (old.conclusive, old.points):
                self.results[res.shard_id] = res
            return False
        self.results[res.shard_id] = res
        return True

    @property
    def points(self) -> int:
        """Corners screened, over the shards received."""
        return sum(r.points for r in self.results.values())

    @property
    def rechecks(self) -> int:
        """Exact re-checks made, over the shards received."""
        return sum(r.rechecks for r in self.results.values())

    @property
    def cache_hits(self) -> int:
        """Exact re-checks answered from the cache, over the shards received."""
        return sum(r.cache_hits for r in self.results.values())

    @property
    def undecided(self) -> tuple[int, str | None]:
        """Undecided exact checks (decide mode) and the first reason, by shard order."""
        rs = sorted(self.results.values(), key=lambda r: r.shard_id)
        reason = next((r.undecided_reason for r in rs if r.undecided_reason), None)
        return sum(r.undecided for r in rs), reason

    @property
    def min_float(self) -> float:
        """Smallest float distance screened over the shards received (inf when none)."""
        return min((r.min_float for r in self.results.values()), default=math.inf)

    def complete(self) -> bool:
        """True when every shard of the plan has reported and screened all its corners."""
        return len(self.results) == len(self.shards) and all(
            r.complete for r in self.results.values()
        )

    def decisive_witness(self) -> ShardResult | None:
        """The witness of the lowest shard whose predecessors all finished without one."""
        for sid in sorted(self.shards):
            res = self.results.get(sid)
            if res is None:
                return None
            if res.witness is not None:
                return res
            if not res.complete:
                return None
        return None

    def first_witness(self) -> ShardResult | None:
        """The lowest shard with a witness, decisive or not."""
        found = [r for r in self.results.values() if r.witness is not None]
        return min(found, key=lambda r: r.shard_id) if found else None

    def best(self) -> ShardResult | None:
        """Optimize: the shard holding the smallest (exact key, corner index)."""
        found = [r for r in self.results.values() if r.min_key is not None]
        if not found:
            return None
        return min(found, key=lambda r: (r.min_key, r.argmin))

    def proof_shards(self) -> list[dict[str, int]]:
        """Per-shard point counts for a ``no`` proof; checks that they tile ``[0, 2^n)``."""
        if not self.complete():
            raise ShardError("a proof needs every shard complete")
        rows: list[dict[str, int]] = []
        pos = 0
        for res in sorted(self.results.values(), key=lambda r: r.first):
            if res.first != pos or res.points != res.size:
                raise ShardError(f"shard {res.shard_id} does not continue the tiling at {pos}")
            pos = res.stop
            rows.append(
                {"shard": res.shard_id, "first": res.first, "stop": res.stop, "points": res.points}
            )
        counted = sum(r["points"] for r in rows)
        if pos != self.total or counted != self.total:
            raise ShardError(f"shards screened {counted} points, not {self.total}")
        return rows
