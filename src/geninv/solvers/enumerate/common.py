"""Shared names of the enumerate backend: modes, sizes, tuning constants, float constants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from geninv.solvers.interface import MODES as MODES  # the one definition
from geninv.solvers.interface import Mode as Mode

if TYPE_CHECKING:
    pass


ExecutorKind = Literal["threads", "processes"]
EXECUTORS: tuple[str, ...] = ("threads", "processes")
Precision = Literal["auto", "float64"]
PRECISIONS: tuple[str, ...] = ("auto", "float64")
#: A float64 array, or a float32 one where float32 evaluation is exact.
AnyFloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]

#: Largest latent dimension this backend accepts (2^40 corners is already days).
MAX_N = 40
#: Budget per chunk, in float64 entries (8 bytes each) per layer array:
#: ``chunk_rows * max(n, widths) <= CHUNK_FLOATS`` (twice the rows for a float32 plan, the
#: same bytes).  512 KiB keeps a chunk's layer-1 block in the L2 cache of current CPUs,
#: which was measured faster than larger chunks (bench/bench_enumerate.py).
CHUNK_FLOATS = 1 << 16
#: Float entries of the outer block C computed at once for several chunks.
OUTER_FLOATS = 1 << 16
#: Default number of inner (table) bits k; capped by n and by ``log2(chunk_rows)``.
TABLE_BITS = 10
#: Largest accepted ``table_bits``.
MAX_TABLE_BITS = 24
#: Safety factor applied to the a-priori error bound.
SAFETY = 2.0
#: Exact re-checks are cached by float output (only when floats are exact) up to this size.
CACHE_LIMIT = 1 << 16
#: Optimize mode exact-checks its pending candidates once this many have piled up.
PENDING_LIMIT = 4096
#: With ``workers=None``, problems with fewer corners than this run in the calling thread.
PARALLEL_MIN_POINTS = 1 << 16
#: Default number of shards per worker thread (load balance and early exit in decide mode).
SHARDS_PER_WORKER = 8
#: Without a time limit, runs of more corners than this are timed on a probe first ...
ESTIMATE_MIN_POINTS = 1 << 30
#: ... and one estimated to take longer than this many seconds is announced on stderr.
ANNOUNCE_SECONDS = 600.0
#: Seconds spent on the probe.
PROBE_SECONDS = 0.15

U = 2.0**-53
ETA = 2.0**-1074  # smallest positive subnormal

HANDLED_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity"})
