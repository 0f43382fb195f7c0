"""Building instances from source files: what ``geninv reduce``, ``lift`` and ``new``
do besides reading arguments and printing.

A reduction's instance records where it came from (:func:`record_source`): the
source files' names and SHA-256, the reduction's parameters, the answer the source
problem is expected to have (:func:`expected_answer`, decided by an independent
oracle in :mod:`geninv.oracles` on small inputs) and the name of the source's copy
inside the instance folder.  A real-latent instance is the binary one lifted
(:func:`lift_to_real`, Theorems 4 and 6; Section 5.3 for vertex cover).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geninv.errors import ParseError, UnsupportedError, ValidationError
from geninv.problem import InversionProblem, SourceInfo

if TYPE_CHECKING:
    from geninv.io.dimacs import CNF
    from geninv.io.graphs import Graph
    from geninv.io.lattice import CVPInstance
    from geninv.network import ReLUNetwork

#: ``--expected`` modes: ask the oracle (``auto``), take the user's word, or record none.
ExpectedMode = Literal["auto", "yes", "no", "unknown"]
Answer = Literal["yes", "no"] | None

#: The theorem a binary instance's lifting proves, by the reduction that made it.
LIFTED_THEOREM = {
    "cvp-thm3": "Theorem 4",
    "clique-thm5": "Theorem 6",
    "vc-sec53": "Section 5.3, lifted to real latents",
}

#: Brute-force oracles run only up to these sizes (basis vectors, graph vertices).
CVP_ORACLE_MAX_N = 20
CLIQUE_ORACLE_MAX_N = 40
VERTEX_COVER_ORACLE_MAX_N = 20


def apply_reduction(reduction: Any, source: Any, path: str) -> InversionProblem:
    """Apply ``reduction`` to ``source`` (read from ``path``): a
    :class:`~geninv.errors.ValidationError` or :class:`~geninv.errors.UnsupportedError`
    the input causes is raised again with ``path`` in front of its message."""
    try:
        problem, _ = reduction.apply(source)
    except (ValidationError, UnsupportedError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
    assert isinstance(problem, InversionProblem)
    return problem


def record_source(
    problem: InversionProblem,
    files: Sequence[str | Path],
    *,
    expected: Answer,
    copy_name: str,
) -> None:
    """Set ``problem.source`` to the provenance of a reduction's instance: its reduction,
    theorem and parameters as the reduction recorded them, the names of ``files`` (comma
    separated), the SHA-256 of their bytes read in order, the ``expected`` answer and
    ``copy_name``, the name of the source's copy in the instance folder."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    src = problem.source
    problem.source = SourceInfo(
        reduction=src.reduction,
        theorem=src.theorem,
        file=", ".join(Path(f).name for f in files),
        sha256=h.hexdigest(),
        parameters=dict(src.parameters),
        expected=expected,
        copy=copy_name,
    )


def lift_to_real(problem: InversionProblem, theorem: str) -> InversionProblem:
    """The binary-to-real lifting of a reduction's instance (Theorems 4 and 6), its
    provenance kept and its theorem renamed ``theorem``; the inverse data chains the
    reduction's and the lifting's."""
    from geninv.reductions.lifting import lift

    lifted = lift(problem)
    lifted.source = SourceInfo(**{**lifted.source.__dict__, "theorem": theorem})
    return lifted


def lift_instance(problem: InversionProblem) -> InversionProblem:
    """The real-latent instance of a binary or sign instance folder's ``problem``
    (``geninv lift``).  A reduction's instance keeps its provenance and names the theorem
    the lifting proves (:data:`LIFTED_THEOREM`); a plain instance becomes the source of
    its lifting (``source.copy == "source-instance"``: the folder keeps a copy of it)."""
    from geninv.reductions.lifting import lift

    lifted = lift(problem)
    src = problem.source
    if src.reduction and src.copy:
        theorem = LIFTED_THEOREM.get(src.reduction, f"{src.theorem}, lifted to real latents")
        lifted.source = SourceInfo(**{**lifted.source.__dict__, "theorem": theorem})
    else:
        lifted.source = SourceInfo(
            **{
                **lifted.source.__dict__,
                "copy": "source-instance",
                "theorem": "binary-to-real lifting",
            }
        )
    return lifted


def save_lifted(
    problem: InversionProblem,
    lifted: InversionProblem,
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    force: bool = False,
) -> Path:
    """Write ``lifted`` (:func:`lift_instance` of ``problem``, read from ``src_dir``) to
    ``out_dir`` with a copy of its source: the source file of a reduction's instance, or
    the binary instance itself in ``source-instance/`` (when it records no reduction or
    no source copy).  ``src_dir`` is never replaced."""
    from geninv.io.instance import save_instance

    src_dir = Path(src_dir)
    copy = problem.source.copy
    if not (problem.source.reduction and copy):
        return Path(
            save_instance(
                lifted,
                out_dir,
                force=force,
                protect=[src_dir],
                extra=lambda tmp: save_instance(problem, tmp / "source-instance"),
            )
        )
    return Path(
        save_instance(
            lifted,
            out_dir,
            force=force,
            source_file=str(src_dir / copy),
            source_copy_name=copy,
            protect=[src_dir],
        )
    )


def lift_scale(problem: InversionProblem) -> Any:
    """The scale ``s`` of a lifted instance (of its last lifting step), or None."""
    inv = problem.inverse_data
    return inv["steps"][-1]["scale"] if "steps" in inv else inv.get("scale")


# ---------------------------------------------------------------- expected answers
def expected_answer(mode: ExpectedMode, small: bool, decide: Callable[[], bool]) -> Answer:
    """The answer to record: ``mode`` itself when it is ``yes`` or ``no``; none for
    ``unknown`` or an input too large for its oracle (not ``small``); else the oracle's
    ``decide()``."""
    if mode in ("yes", "no"):
        return "yes" if mode == "yes" else "no"
    if mode == "unknown" or not small:
        return None
    return "yes" if decide() else "no"


def expected_sat(cnf: CNF, mode: ExpectedMode, time_limit: float) -> Answer:
    """A CNF's expected answer: ``mode``, or (``auto``) PySAT's within ``time_limit``
    seconds, none when it runs out of time."""
    if mode in ("yes", "no"):
        return "yes" if mode == "yes" else "no"
    if mode == "unknown":
        return None
    from geninv.oracles import sat_oracle

    verdict = sat_oracle(cnf, time_limit=time_limit)
    return None if verdict is None else ("yes" if verdict else "no")


def expected_cvp(inst: CVPInstance, p: float, relation: str, mode: ExpectedMode) -> Answer:
    """A (0,1)-CVP instance's expected answer; ``auto`` enumerates ``{0,1}^n`` exactly
    (:func:`geninv.oracles.cvp01_decide`) for ``n <= 20`` basis vectors."""
    from geninv.oracles import cvp01_decide

    return expected_answer(
        mode,
        len(inst.basis) <= CVP_ORACLE_MAX_N,
        lambda: cvp01_decide(
            inst.basis,
            inst.target,
            p,
            radius=inst.radius,
            radius_pow=inst.radius_pow,
            relation=relation,
        )[0],
    )


def expected_clique(
    graph: Graph, k: int, max_weight: Fraction, relation: str, mode: ExpectedMode
) -> Answer:
    """A weighted k-clique instance's expected answer; ``auto`` searches exactly
    (:func:`geninv.oracles.clique_decide`) on graphs of at most 40 vertices."""
    from geninv.oracles import clique_decide

    return expected_answer(
        mode,
        graph.n <= CLIQUE_ORACLE_MAX_N,
        lambda: clique_decide(graph, k, max_weight, relation=relation)[0],
    )


def expected_vertex_cover(graph: Graph, q: int, mode: ExpectedMode) -> Answer:
    """A vertex-cover instance's expected answer; ``auto`` finds a minimum cover
    (:func:`geninv.oracles.vertex_cover_decide`) on graphs of at most 20 vertices."""
    from geninv.oracles import vertex_cover_decide

    return expected_answer(
        mode,
        graph.n <= VERTEX_COVER_ORACLE_MAX_N,
        lambda: vertex_cover_decide(graph, q)[0],
    )


# ---------------------------------------------------------------- source files
def read_cvp_source(file: str, target: str | None, p: float, p_text: str) -> CVPInstance:
    """A CVP instance from ``file``: CVP JSON (whose ``p``, if any, must be ``p``,
    given on the command line as ``p_text``), or an fplll lattice with its target
    vector in the fplll file ``target`` (no radius: give one with :func:`with_radius`)."""
    from geninv.io.lattice import CVPInstance, read_cvp_json, read_fplll_matrix, read_fplll_vector

    if target is not None:
        basis = read_fplll_matrix(file)
        vector = read_fplll_vector(target)
        if basis and len(basis[0]) != len(vector):
            raise ParseError(
                f"target has {len(vector)} entries but the basis vectors have {len(basis[0])}",
                target,
            )
        return CVPInstance(
            basis=tuple(tuple(r) for r in basis),
            target=tuple(vector),
            radius=None,
            radius_pow=None,
            p=p,
        )
    try:
        inst = read_cvp_json(file)
    except ParseError:
        head = Path(file).read_text(encoding="utf-8", errors="replace").lstrip()[:2]
        if head == "[[":
            raise ParseError(
                "looks like an fplll lattice, not CVP JSON; give its target with "
                "--target FILE and the radius with --radius",
                file,
            ) from None
        raise
    if inst.p is not None and inst.p != p:
        raise ValidationError(
            f"{file}: the instance says p = {inst.p:g} but --p is {p_text}; make them agree"
        )
    return inst


def with_radius(
    inst: CVPInstance, radius: Fraction | None, radius_pow: Fraction | None, p: float
) -> CVPInstance:
    """``inst`` with the radius ``r`` or its power ``r^p`` (exactly one of them) replaced,
    for the norm ``p``."""
    from geninv.io.lattice import CVPInstance

    return CVPInstance(
        basis=inst.basis, target=inst.target, radius=radius, radius_pow=radius_pow, p=p
    )


def write_cvp_copy(inst: CVPInstance, path: str | Path) -> None:
    """Write ``inst`` as CVP JSON: the source copy of an instance made from fplll files."""
    from geninv.io.lattice import write_cvp_json

    write_cvp_json(inst, path)


def load_generator(path: str, arch: str | None) -> ReLUNetwork:
    """A generator network from ``path``: an ONNX model, or (with the architecture
    string ``arch``, e.g. ``'linear:fc3,relu,linear:fc4,sigmoid'``) a PyTorch
    state_dict (``.pt``, ``.pth``, ``.ckpt``) or ``.npz`` arrays."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        if arch:
            raise ValidationError("--arch applies to PyTorch (.pt, .pth, .ckpt) and .npz files")
        from geninv.io.onnx_io import import_onnx

        return import_onnx(path)
    if not arch:
        raise ValidationError(
            f"{path}: a state_dict needs --arch, e.g. 'linear:fc3,relu,linear:fc4,sigmoid'"
        )
    if suffix == ".npz":
        from geninv.io.torch_io import load_npz

        return load_npz(path, arch, ignore=("*",))
    from geninv.io.torch_io import load_torch_file

    return load_torch_file(path, arch, ignore=("*",))
