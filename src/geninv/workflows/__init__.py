"""geninv's Python API: build, solve, check and map back, as the CLI does.

Every function here is what one ``geninv`` command does, without files or printing,
so that a script, a notebook or a benchmark calls the same code path as the program.
The top-level package re-exports them: ``geninv.reduce``, ``geninv.new_problem``,
``geninv.solve``, ``geninv.check``, ``geninv.extract``, ``geninv.save``, ``geninv.load``.

A whole round trip, from a 3-SAT formula to a satisfying assignment (Theorem 1, sign
latents)::

    >>> import geninv
    >>> from geninv.io.dimacs import CNF
    >>> cnf = CNF(3, ((1, -2, 3), (-1, 2, 3), (1, 2, -3), (-1, -2, -3)))
    >>> problem, inverse = geninv.reduce("sat", cnf, domain="sign")
    >>> problem.source.reduction
    'sat-thm1'
    >>> problem.domain.kind, problem.n
    ('sign', 3)
    >>> sol = geninv.solve(problem)
    >>> sol.status.value, sol.method
    ('yes', 'sat')
    >>> geninv.check(problem, sol.z).meets
    True
    >>> assignment = geninv.extract(problem, sol)
    >>> cnf.falsified_clauses(assignment)
    []

The same formula through Theorem 2 (real latents, approximate inversion), where the
corner presolve makes the real problem binary again::

    >>> real, inverse = geninv.reduce("sat", cnf, domain="real")
    >>> sol = geninv.solve(real)
    >>> sol.status.value, sol.method
    ('yes', 'corners')

A problem built from a network and a target::

    >>> net = geninv.ReLUNetwork([[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
    >>> far = geninv.new_problem(net, [3], domain="box", lower=[-1], upper=[1],
    ...                          p="inf", threshold=1)
    >>> verdict = geninv.solve(far)
    >>> verdict.status.value, verdict.proof["basis"]
    ('no', 'exact')

The steps of the commands themselves, re-exported here, live in
:mod:`geninv.workflows.building` (a reduction's provenance and expected answer, CVP
sources, lifting, generators) and :mod:`geninv.workflows.solving` (backend options
for ``auto``, backends in turn, the certified gap); :mod:`geninv.workflows.recovery`
has the steps of compressed sensing (``geninv sense``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geninv.errors import UnsupportedError
from geninv.network import ReLUNetwork
from geninv.problem import Domain, ExactCheck, InversionProblem, Relation, Solution, SourceInfo
from geninv.solvers.approx.presets import PRESETS, Preset, apply_preset, get_preset, preset_names
from geninv.workflows.building import (
    apply_reduction,
    expected_clique,
    expected_cvp,
    expected_sat,
    expected_vertex_cover,
    lift_instance,
    lift_scale,
    lift_to_real,
    load_generator,
    read_cvp_source,
    record_source,
    save_lifted,
    with_radius,
    write_cvp_copy,
)
from geninv.workflows.solving import (
    BackendPlan,
    certify,
    load_vnncomp,
    no_point_reason,
    plan_backends,
    solve_in_turn,
    solver_logs,
    unchecked_lower_bound,
)

#: ``reduce``'s source kinds and the reduction each names (``geninv reduce KIND``).
REDUCTIONS = ("sat", "cvp", "clique", "vertex-cover")


def make_reduction(kind: str, **params: Any) -> Any:
    """The reduction ``kind`` names (see :func:`reduce`), built with ``params``; its
    ``apply(source)`` returns the problem and the inverse data."""
    if kind == "sat":
        from geninv.reductions.sat import SatReduction

        return SatReduction(params.pop("domain", "sign"), **params)
    if kind == "cvp":
        from geninv.reductions.cvp import CVPReduction

        return CVPReduction(params.pop("p", 2), **params)
    if kind == "clique":
        from geninv.reductions.clique import CliqueReduction

        return CliqueReduction(params.pop("k", None), **params)
    if kind == "vertex-cover":
        from geninv.reductions.vertex_cover import VertexCoverReduction

        return VertexCoverReduction(params.pop("q"), **params)
    raise UnsupportedError(f"unknown reduction {kind!r}; choose one of {', '.join(REDUCTIONS)}")


def reduce(kind: str, source: Any, **params: Any) -> tuple[InversionProblem, dict[str, Any]]:
    """The inversion problem of a source instance, and the data that maps its witness
    back (``inverse``, for :func:`extract`).

    ``kind``: ``"sat"`` (a :class:`~geninv.io.dimacs.CNF`; ``domain="sign"`` for
    Theorem 1, ``"binary"``, or ``"real"`` for Theorem 2), ``"cvp"`` (a
    :class:`~geninv.io.lattice.CVPInstance`; ``p``, Theorem 3), ``"clique"`` (a
    :class:`~geninv.io.graphs.Graph`; ``k``, ``p``, ``half``: Theorem 5) or
    ``"vertex-cover"`` (a graph; ``q``, ``p``).  ``lift=True`` chains the binary-to-real
    lifting (Theorems 4 and 6).  Other keyword arguments go to the reduction.
    """
    lift = bool(params.pop("lift", False))
    if kind == "cvp" and "p" not in params:
        params["p"] = getattr(source, "p", 2)
    reduction = make_reduction(kind, **params)
    problem, inverse = reduction.apply(source)
    if lift:
        from geninv.reductions.lifting import lift as lift_problem

        problem.inverse_data = inverse
        problem = lift_problem(problem)
        inverse = problem.inverse_data
    problem.inverse_data = inverse
    return problem, inverse


def new_problem(
    network: ReLUNetwork,
    target: Sequence[Any],
    *,
    domain: str = "real",
    lower: Sequence[Any] | None = None,
    upper: Sequence[Any] | None = None,
    p: float | str = "inf",
    threshold: Any = 0,
    relation: Relation = "<=",
    source: SourceInfo | None = None,
) -> InversionProblem:
    """``||G(z) - x||_p <= threshold`` (or ``<``) over the latent domain, as
    ``geninv new`` builds it: a ``"box"`` needs ``lower`` and ``upper``; for ``"real"``
    latents the box the network clamps its input to is found and recorded
    (``input_box``, which the exact backends use), when there is one.  ``source``
    records where the network came from."""
    if domain == "box":
        if lower is None or upper is None:
            raise UnsupportedError("a box domain needs lower and upper")
        dom = Domain.box(lower, upper)
    else:
        dom = Domain(domain)  # type: ignore[arg-type]
    input_box = None
    if domain == "real":
        from geninv.analysis import input_clamp_box

        input_box = input_clamp_box(network)
    return InversionProblem(
        network,
        target,
        dom,
        p=p,
        threshold=threshold,
        relation=relation,
        source=source,
        input_box=input_box,
    )


def solve(
    problem: InversionProblem,
    method: str = "auto",
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    trust_solver: bool = False,
    preset: str | None = None,
) -> Solution:
    """Decide ``problem`` (``geninv solve``): a *yes* carries a witness re-checked
    exactly, a *no* says what it rests on (``proof["basis"]``), anything less is
    *unknown* with the reason.  See :func:`geninv.solvers.base.solve`.  ``preset``
    names a published setting (:data:`geninv.solvers.approx.presets.PRESETS`): its
    backend and options, ``options`` overriding them."""
    from geninv.solvers.base import solve as run

    if preset is not None:
        method, options = apply_preset(preset, method, options)

    return run(
        problem,
        method,
        time_limit=time_limit,
        seed=seed,
        options=options,
        trust_solver=trust_solver,
    )


def check(problem: InversionProblem, z: Sequence[Any]) -> ExactCheck:
    """Re-check a witness in exact arithmetic (``geninv check``)."""
    return problem.exact_check(z)


def extract(problem: InversionProblem, solution: Solution) -> Any:
    """The source solution of an inversion witness (``geninv extract``): a satisfying
    assignment, a lattice point, a clique or a vertex cover; None without a witness.
    ``problem`` is one :func:`reduce` made (it records its reduction and inverse data)."""
    from geninv.reductions.registry import get_reduction

    return get_reduction(problem.source.reduction).invert(solution, problem.inverse_data)


def save(problem: InversionProblem, path: str | Path, *, force: bool = False) -> Path:
    """Write an instance folder (atomically; an existing one only with ``force``)."""
    from geninv.io.instance import save_instance

    return Path(save_instance(problem, path, force=force))


def load(path: str | Path) -> InversionProblem:
    """Read an instance folder, validated against its network."""
    from geninv.io.instance import load_instance

    return load_instance(path)


__all__ = [
    "PRESETS",
    "REDUCTIONS",
    "BackendPlan",
    "Preset",
    "apply_preset",
    "apply_reduction",
    "certify",
    "check",
    "expected_clique",
    "expected_cvp",
    "expected_sat",
    "expected_vertex_cover",
    "extract",
    "get_preset",
    "lift_instance",
    "lift_scale",
    "lift_to_real",
    "load",
    "load_generator",
    "load_vnncomp",
    "make_reduction",
    "new_problem",
    "no_point_reason",
    "plan_backends",
    "preset_names",
    "read_cvp_source",
    "record_source",
    "reduce",
    "save",
    "save_lifted",
    "solve",
    "solve_in_turn",
    "solver_logs",
    "unchecked_lower_bound",
    "with_radius",
    "write_cvp_copy",
]
