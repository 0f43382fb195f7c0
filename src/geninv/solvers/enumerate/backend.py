"""The ``enumerate`` backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geninv.problem import (
    InversionProblem,
    Solution,
)
from geninv.solvers.interface import Backend, Capabilities

if TYPE_CHECKING:
    from distributed import Client

from geninv.solvers.enumerate.common import (
    CHUNK_FLOATS,
    HANDLED_ACTIVATIONS,
    MAX_N,
    ExecutorKind,
    Mode,
    Precision,
)
from geninv.solvers.enumerate.driver import _validate, enumerate_corners


class EnumerateBackend(Backend):
    """Exhaustive enumeration of {0,1}^n or {-1,1}^n (n <= 40), float screen + exact re-check.

    Options (``solve(..., options={...})``): ``mode`` ("decide" | "optimize"),
    ``workers``, ``shards``, ``executor`` ("threads" | "processes"),
    ``table_bits``, ``chunk_floats``, ``scheduler`` (None | "local" |
    "tcp://host:port" | a ``distributed.Client``), ``dask_options``
    (keyword arguments of ``LocalCluster`` or ``Client``) and ``precision``
    ("auto" | "float64"); see :func:`enumerate_corners`.
    """

    name = "enumerate"
    summary = "exhaustive enumeration of all 2^n corners (reference oracle, n <= 40)"
    capabilities = Capabilities(
        domains=frozenset({"binary", "sign"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
        activations=HANDLED_ACTIVATIONS,
    )
    modules = ()
    no_basis = "exact"  # every corner, with a rigorous bound on the float error

    def __init__(
        self,
        mode: Mode = "decide",
        chunk_floats: int = CHUNK_FLOATS,
        *,
        workers: int | None = None,
        shards: int | None = None,
        executor: ExecutorKind = "threads",
        table_bits: int | None = None,
        scheduler: str | Client | None = None,
        dask_options: dict[str, Any] | None = None,
        precision: Precision = "auto",
    ) -> None:
        _validate(mode, chunk_floats, workers, shards, executor, table_bits, scheduler, precision)
        self.mode: Mode = mode
        self.chunk_floats = chunk_floats
        self.workers = workers
        self.shards = shards
        self.executor: ExecutorKind = executor
        self.table_bits = table_bits
        self.scheduler = scheduler
        self.dask_options = dask_options
        self.precision: Precision = precision

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why ``enumerate`` cannot take ``problem``, or None: besides the capabilities, at most
        ``MAX_N`` latents."""
        reason = super().unsupported_reason(problem)
        if reason is None and problem.n > MAX_N:
            return (
                f"backend 'enumerate' handles at most n = {MAX_N} latents, not {problem.n}; "
                "use the sat or milp backend instead"
            )
        return reason

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        """Every corner screened in floats with a rigorous error bound, candidates re-checked
        exactly (:func:`enumerate_corners`): *yes* with a witness, *no* (decide mode) when every
        corner is excluded, *unknown* at the time limit or when an exact comparison is out of
        reach."""
        return enumerate_corners(
            problem,
            mode=self.mode,
            time_limit=time_limit,
            progress=progress,
            chunk_floats=self.chunk_floats,
            workers=self.workers,
            shards=self.shards,
            executor=self.executor,
            table_bits=self.table_bits,
            scheduler=self.scheduler,
            dask_options=self.dask_options,
            precision=self.precision,
        )
