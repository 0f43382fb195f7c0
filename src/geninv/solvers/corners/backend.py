"""The ``corners`` backend: presolve (exact or near), then the binary problem."""

from __future__ import annotations

from typing import Any

from geninv.errors import UnsupportedError
from geninv.problem import InversionProblem, Solution, Status
from geninv.proof import KIND_CORNER_BINARY, Proof
from geninv.solvers.corners.near import apply_near, invert_near
from geninv.solvers.corners.outcome import CornerPresolve, _box
from geninv.solvers.corners.presolve import corner_presolve, decline_reason
from geninv.solvers.interface import Capabilities, Presolve


class CornersBackend(Presolve):
    """Corner presolve (a reduction): the driver decides the binary problem it leaves
    with :attr:`method` and maps the answer back (:meth:`invert`)."""

    name = "corners"
    summary = (
        "inversion over a box whose output target forces every latent onto two values "
        "(exactly, or within the threshold onto two narrow intervals): solved as a binary "
        "problem (package geninv.solvers.corners)"
    )
    capabilities = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=True,
    )
    modules = ()
    no_basis = "exact"  # the presolve's exact ranges; a sub-proof's own basis is copied

    def __init__(self, method: str = "auto") -> None:
        self.method = method  # decides the binary problem

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        """Why the presolve cannot take ``problem``, or None: :func:`decline_reason` (the
        problem's shape), then the capabilities."""
        return decline_reason(problem) or super().unsupported_reason(problem)

    def apply(
        self, problem: InversionProblem, *, time_limit: float | None = None
    ) -> Solution | tuple[InversionProblem, Any]:
        """The exact corner presolve, else the near-corner one: a *no* from the exact
        ranges, or the binary problem (and what :meth:`invert` needs)."""
        pre = corner_presolve(problem)
        if pre is None:
            box = _box(problem)
            assert box is not None
            near = apply_near(problem, box)
            if near is None:
                raise UnsupportedError(
                    "the corner presolve does not apply: no output forces every latent "
                    "coordinate onto at most two values"
                )
            return near if isinstance(near, Solution) else (near[0], ("near", near[1]))
        stats: dict[str, Any] = {"corner_presolve": pre.summary()}
        if pre.infeasible is not None:
            return Solution(
                Status.NO, "corners", proof=pre.infeasible, stats=stats, seconds=pre.seconds
            )
        assert pre.binary is not None
        return pre.binary, ("exact", {"pre": pre, "stats": stats})

    def invert(self, problem: InversionProblem, sub: Solution, data: Any) -> Solution:
        """The answer to ``problem`` from the binary problem's ``sub``: a *yes* lifted to the
        original latents (``low + (high - low) b``), a *no* wrapped in a corner proof that
        keeps the binary proof's basis, else *unknown* with the binary problem's reason."""
        kind, info = data
        if kind == "near":
            return invert_near(problem, sub, info)
        pre: CornerPresolve = info["pre"]
        assert pre.binary is not None
        stats: dict[str, Any] = dict(info["stats"])
        stats["binary_solution"] = {
            "method": sub.method,
            "status": sub.status.value,
            "seconds": round(sub.seconds, 6),
            "network": pre.binary.network.describe(),
        }
        stats.update({f"binary_{k}": v for k, v in sub.stats.items() if k in ("auto",)})
        if sub.stats.get("uncertified_no"):  # auto then goes on to the next candidate
            stats["uncertified_no"] = True
        if sub.status is Status.YES:
            assert sub.z is not None
            return Solution(Status.YES, "corners", z=pre.lift(sub.z), stats=stats)
        if sub.status is Status.NO:
            proof = Proof(
                KIND_CORNER_BINARY,
                forcing=pre.forcing,
                lemma=(
                    "each forcing output is a sum of univariate piecewise-linear terms whose "
                    "target is their sum of maxima (or minima), so every witness has each z_i "
                    "in {low_i, high_i}; the binary problem on those values has no witness"
                ),
                low=[str(v) for v in pre.low],
                high=[str(v) for v in pre.high],
                binary_proof=sub.proof,
            ).to_dict()
            assert sub.proof is not None
            for key in ("basis", "trusted"):  # the binary proof's standing is this proof's
                if key in sub.proof:
                    proof[key] = sub.proof[key]
            return Solution(Status.NO, "corners", proof=proof, stats=stats)
        return Solution(
            Status.UNKNOWN, "corners", reason=f"binary problem: {sub.reason}", stats=stats
        )
