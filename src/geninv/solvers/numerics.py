"""Numerics of the floating-point solvers (HiGHS, SCIP): scaling, range checks, statuses.

Scaling
-------
HiGHS and SCIP work in float64 with *absolute* feasibility tolerances
(1e-6 .. 1e-9) and treat every bound or right-hand side of magnitude at least
1e20 as infinite.  A model whose numbers are far from 1 is therefore decided
wrongly: with ``y = z`` on ``[0, 1]``, target ``x = 2e20`` and ``delta = 1e21``
the distance rows ``t >= x - y`` have an "infinite" right-hand side and SCIP
calls the model infeasible although ``z = 0`` is a witness.

:func:`scale_problem` rewrites the problem into an *exactly equivalent* one
whose numbers are O(1).  A ReLU (and identity) unit is positively homogeneous,
``ReLU(c a) = c ReLU(a)`` for ``c > 0``, so with powers of two

* ``Z_i`` per latent coordinate (box and bounded real latents only):
  ``z = Z_i z'_i``, the box divided by ``Z``;
* ``s_j`` per hidden unit: the unit computes ``s_j a_j``;
* one ``S`` for all outputs (the norm mixes them): outputs, target and
  threshold divided by ``S`` (``delta^p`` by ``S^p``),

the weights become ``W'_{jk} = W_{jk} s_j / s_k`` (``s`` of the latents is
``1 / Z``, of the outputs ``1 / S``) and the biases ``b'_j = s_j b_j``, and

    ||G'(z') - x / S||_p <= delta / S   <=>   ||G(Z z') - x||_p <= delta

holds exactly (in rationals).  Multiplying a float by a power of two is exact
unless it over- or underflows, which is checked; so the scaled problem is a
float64 problem of its own with nothing rounded.  A scale is applied to a
quantity whose magnitude (the latent box, the unit's interval bound, or
``max(delta, |x|, output bound)``) exceeds ``SCALE_ABOVE`` and brings it into
[1/2, 1).  The solvers then decide the scaled problem, every witness is
checked exactly against it (and, by :func:`geninv.solvers.base.solve`, against
the original), and the answer is mapped back (:meth:`Scaled.unscale`).

Range check
-----------
:func:`model_range` measures the model handed to the solver: the largest and
smallest nonzero |matrix entry|, the largest finite |bound| and |right-hand
side|.  A model with a magnitude above ``MAX_MAGNITUDE`` (1e9: a feasibility
tolerance of 1e-7 is then below the float64 rounding unit of the row,
2.2e-16 x 1e9) or a matrix range above ``MAX_RATIO`` (1e10: beyond what the
solvers' own scaling brings within their tolerances) is refused: the answer
is ``unknown`` with the numbers named, never a solver's verdict on it.

Statuses
--------
:data:`HIGHS_STATUS` and :data:`SCIP_STATUS` map every native status to what it
means for a capped (decide-mode) model: ``yes`` (a point within the margin
exists; it still has to pass the exact check), ``no`` (infeasible in floating
point: a ``no`` resting on the solver, gated by
:func:`geninv.solvers.base.gate_no`) or ``unknown``, each with a reason.  A
status missing from the table is ``unknown`` with the raw status named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.bounds import propagate
from geninv.network import FloatArray, Layer, ReLUNetwork
from geninv.problem import Domain, InversionProblem, Solution, Status

if TYPE_CHECKING:
    from geninv.solvers.milp.model import _Model

#: A latent box, unit bound or output scale above this magnitude is scaled to [1/2, 1).
SCALE_ABOVE = 2.0**10
#: Models with a |coefficient|, |bound| or |rhs| above this are refused.
MAX_MAGNITUDE = 1e9
#: Models whose largest / smallest nonzero |matrix entry| exceeds this are refused.
MAX_RATIO = 1e10
#: HiGHS and SCIP take values of at least this magnitude as infinite.
SOLVER_INFINITY = 1e20

IntArray = npt.NDArray[np.int64]

Verdict = str  # "yes", "no" or "unknown"

#: Every ``highspy.HighsModelStatus`` member: what it means for a capped model.
HIGHS_STATUS: dict[str, tuple[Verdict, str]] = {
    "kNotset": ("unknown", "HiGHS set no status (it did not run)"),
    "kLoadError": ("unknown", "HiGHS could not load the model"),
    "kModelError": ("unknown", "HiGHS found the model invalid"),
    "kPresolveError": ("unknown", "HiGHS's presolve failed"),
    "kSolveError": ("unknown", "HiGHS's solve failed (numerical trouble)"),
    "kPostsolveError": ("unknown", "HiGHS's postsolve failed (numerical trouble)"),
    "kModelEmpty": ("unknown", "HiGHS was given an empty model"),
    "kOptimal": ("yes", "HiGHS found an optimum within the margin"),
    "kInfeasible": ("no", "HiGHS found the model infeasible (in floating point)"),
    "kUnboundedOrInfeasible": (
        "no",
        "HiGHS found the model unbounded or infeasible; the objective is bounded below "
        "by 0, so infeasible (in floating point)",
    ),
    "kUnbounded": ("unknown", "HiGHS called a model bounded below by 0 unbounded"),
    "kObjectiveBound": ("unknown", "HiGHS stopped at its objective bound"),
    "kObjectiveTarget": ("yes", "HiGHS reached the objective target (a point within the margin)"),
    "kTimeLimit": ("unknown", "time limit"),
    "kIterationLimit": ("unknown", "HiGHS's iteration limit"),
    "kUnknown": ("unknown", "HiGHS ended with status unknown"),
    "kSolutionLimit": ("yes", "HiGHS stopped at its solution limit (a point within the margin)"),
    "kInterrupt": ("unknown", "interrupted"),
    "kMemoryLimit": ("unknown", "HiGHS ran out of memory"),
    "kHighsInterrupt": ("unknown", "interrupted"),
}

#: Every SCIP status string (``Model.getStatus()``, SCIP 8-10): its meaning for a capped model.
SCIP_STATUS: dict[str, tuple[Verdict, str]] = {
    "unknown": ("unknown", "SCIP ended with status unknown"),
    "userinterrupt": ("unknown", "interrupted"),
    "nodelimit": ("unknown", "SCIP's node limit"),
    "totalnodelimit": ("unknown", "SCIP's total node limit"),
    "stallnodelimit": ("unknown", "SCIP's stall node limit"),
    "timelimit": ("unknown", "time limit"),
    "memlimit": ("unknown", "SCIP ran out of memory"),
    "gaplimit": ("yes", "SCIP stopped at its gap limit with a point within the margin"),
    "primallimit": ("yes", "SCIP stopped at its primal limit with a point within the margin"),
    "duallimit": ("unknown", "SCIP stopped at its dual limit"),
    "sollimit": ("yes", "SCIP stopped at its solution limit (a point within the margin)"),
    "bestsollimit": ("yes", "SCIP stopped at its solution limit (a point within the margin)"),
    "restartlimit": ("unknown", "SCIP's restart limit"),
    "optimal": ("yes", "SCIP found an optimum within the margin"),
    "infeasible": ("no", "SCIP found the model infeasible (in floating point)"),
    "unbounded": ("unknown", "SCIP called a model bounded below by 0 unbounded"),
    "inforunbd": (
        "no",
        "SCIP found the model infeasible or unbounded; the objective is bounded below "
        "by 0, so infeasible (in floating point)",
    ),
    "terminate": ("unknown", "SCIP was terminated"),
}


def status_meaning(solver: str, status: str) -> tuple[Verdict, str]:
    """(verdict, reason) of a native status; unknown ones name the raw status."""
    table = HIGHS_STATUS if solver == "highs" else SCIP_STATUS
    hit = table.get(status)
    if hit is not None:
        return hit
    label = "HiGHS" if solver == "highs" else "SCIP"
    return "unknown", f"{label} ended with the status {status!r}, which geninv does not interpret"


# ------------------------------------------------------------------ range check
@dataclass
class Range:
    """The numbers of a model as handed to the solver."""

    coef_max: float = 0.0
    coef_min: float = math.inf
    bound_max: float = 0.0
    rhs_max: float = 0.0

    @property
    def ratio(self) -> float:
        """Largest over smallest absolute coefficient (1.0 when there is none)."""
        return self.coef_max / self.coef_min if self.coef_min < math.inf else 1.0

    def refusal(self) -> str | None:
        """Why the solver cannot represent this model safely, or None."""
        mags = {
            "matrix entry": self.coef_max,
            "bound": self.bound_max,
            "right-hand side": self.rhs_max,
        }
        for what, mag in mags.items():
            if not mag <= MAX_MAGNITUDE:
                return (
                    f"the model has a {what} of magnitude {mag:.3g} even after scaling, above "
                    f"the {MAX_MAGNITUDE:.0e} a float solver with tolerances 1e-6..1e-9 "
                    "represents safely; use an exact backend (enumerate, sat, bab)"
                )
        if self.ratio > MAX_RATIO:
            return (
                f"the model's matrix entries range over {self.ratio:.3g} "
                f"({self.coef_min:.3g} .. {self.coef_max:.3g}) even after scaling, above the "
                f"{MAX_RATIO:.0e} a float solver represents safely; use an exact backend "
                "(enumerate, sat, bab)"
            )
        return None

    def as_dict(self) -> dict[str, float]:
        """The ranges as a JSON-ready dict (smallest coefficient 0.0 when there is none)."""
        return {
            "max_abs_coefficient": self.coef_max,
            "min_abs_coefficient": self.coef_min if self.coef_min < math.inf else 0.0,
            "coefficient_ratio": self.ratio,
            "max_abs_bound": self.bound_max,
            "max_abs_rhs": self.rhs_max,
        }


def model_range(model: _Model, extra_rhs: float = 0.0) -> Range:
    """The :class:`Range` of a model (``extra_rhs``: a cap added outside it, e.g. SCIP's)."""
    out = Range(rhs_max=abs(extra_rhs) if math.isfinite(extra_rhs) else 0.0)
    if model.row_val:
        vals = np.abs(np.concatenate(model.row_val))
        nz = vals[vals > 0]
        if nz.size:
            out.coef_max = float(nz.max())
            out.coef_min = float(nz.min())
    for arr, attr in (
        (model.col_lo + model.col_hi, "bound_max"),
        (model.row_lo + model.row_hi, "rhs_max"),
    ):
        a = np.abs(np.asarray(arr, dtype=np.float64))
        a = a[np.isfinite(a)]
        if a.size:
            setattr(out, attr, max(getattr(out, attr), float(a.max())))
    return out


# ------------------------------------------------------------------ scaling
def _exponent(mag: float) -> int:
    """k with mag / 2^k in [1/2, 1) when mag > SCALE_ABOVE, else 0."""
    if not (mag > SCALE_ABOVE) or not math.isfinite(mag):
        return 0
    return math.frexp(mag)[1]


@dataclass
class Scaled:
    """A problem scaled by powers of two (module docstring) and how to map back."""

    problem: InversionProblem
    latent_exp: list[int] = field(default_factory=list)  # z_i = 2^k_i z'_i
    out_exp: int = 0  # outputs, target, threshold divided by 2^out_exp
    unit_exps: int = 0  # hidden units scaled
    why_not: str | None = None  # why the scaling was not applied

    @property
    def applied(self) -> bool:
        """True when any scaling was applied (outputs, hidden units or latents)."""
        return bool(self.out_exp or self.unit_exps or any(self.latent_exp))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: the output scale ``2^-k``, latents and hidden units scaled, and
        why not when scaling was refused."""
        out: dict[str, Any] = {
            "output_scale": f"2^{-self.out_exp}",
            "latents_scaled": sum(1 for k in self.latent_exp if k),
            "hidden_units_scaled": self.unit_exps,
        }
        if self.why_not:
            out["not_applied"] = self.why_not
        return out

    def latent(self, z: list[Fraction]) -> list[Fraction]:
        """The original latent of a scaled one (exact)."""
        if not any(self.latent_exp):
            return z
        return [v * Fraction(2) ** k for v, k in zip(z, self.latent_exp, strict=True)]

    def unscale(
        self,
        original: InversionProblem,
        sol: Solution,
        p_model: float,
        stats_pow: tuple[str, ...] = (),
        proof_pow: tuple[str, ...] = (),
    ) -> Solution:
        """Map a solution of the scaled problem back to ``original``.

        The witness is multiplied by the latent scales and checked exactly against
        ``original``; distances (``distance``, ``best_distance``, ``lower_bound``,
        ``tolerance``, ``threshold``, ``distance_tolerance``) are multiplied by
        ``2^out_exp``, except the keys in ``stats_pow``/``proof_pow`` (MIQP
        quantities in units of ``sum t^p``), which are multiplied by ``2^(p out_exp)``.
        """
        if not self.applied:
            if self.why_not:
                sol.stats["scaling"] = self.summary()
            return sol
        if sol.z is not None:
            sol.z = self.latent(sol.z)
            if sol.check is not None:
                chk = original.exact_check(sol.z)
                sol.check = chk
                sol.distance = chk.distance
                if not chk.meets:  # pragma: no cover - the scaling is exact
                    sol.status = Status.UNKNOWN
                    sol.reason = f"the scaled witness fails the original's check: {chk.reason}"
        f = math.ldexp(1.0, self.out_exp)
        fp = f**p_model

        def fix(d: dict[str, Any], pow_keys: tuple[str, ...]) -> None:
            for key in (*_DISTANCE_KEYS, *pow_keys):
                v = d.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    if abs(v) >= SOLVER_INFINITY:  # the solver's infinity stays infinite
                        d[key] = math.copysign(math.inf, v)
                    else:
                        d[key] = float(v) * (fp if key in pow_keys else f)

        if sol.distance is not None and sol.check is None:
            sol.distance *= f
        fix(sol.stats, stats_pow)
        if sol.proof is not None:
            fix(sol.proof, proof_pow)
            sol.proof["scaled"] = (
                "decided on the problem scaled by powers of two (exactly equivalent): outputs, "
                f"target and threshold divided by 2^{self.out_exp}; the numbers of this proof "
                "are in the original units, its 'constraint' in the scaled ones"
            )
        sol.stats["scaling"] = self.summary()
        return sol


#: Solution keys in distance units (scaled back by the output scale).
_DISTANCE_KEYS = (
    "best_distance",
    "lower_bound",
    "tolerance",
    "threshold",
    "distance_tolerance",
    "min_distance",
)


def _pow2(k: int) -> Fraction:
    return Fraction(2) ** k


def _scale_layer(layer: Layer, row_exp: IntArray, col_exp: IntArray) -> Layer | None:
    """``W'_{jk} = W_{jk} 2^(row_j - col_k)``, ``b'_j = b_j 2^row_j``; None if not exact."""
    e = row_exp[:, None] - col_exp[None, :]
    with np.errstate(over="ignore", under="ignore"):
        w = np.ldexp(layer.weight, e.astype(np.int32))
        b = np.ldexp(layer.bias, row_exp.astype(np.int32))
        back_w = np.ldexp(w, (-e).astype(np.int32))
        back_b = np.ldexp(b, (-row_exp).astype(np.int32))
    if not (
        np.all(np.isfinite(w))
        and np.all(np.isfinite(b))
        and np.array_equal(back_w, layer.weight)
        and np.array_equal(back_b, layer.bias)
    ):
        return None
    ew = eb = None
    if layer.exact_weight is not None:
        ew = [
            [v * _pow2(int(e[j, k])) for k, v in enumerate(row)]
            for j, row in enumerate(layer.exact_weight)
        ]
        eb = [v * _pow2(int(row_exp[j])) for j, v in enumerate(layer.exact_bias_values())]
    w.setflags(write=False)
    b.setflags(write=False)
    return Layer(w, b, layer.activation, ew, eb, layer.negative_slope)


def scale_problem(problem: InversionProblem, lo: FloatArray, hi: FloatArray) -> Scaled:
    """The problem scaled by powers of two (module docstring); ``lo``/``hi``: the
    float latent box.  Returns the problem itself when nothing needs scaling."""
    net = problem.network
    kind = problem.domain.kind
    n = problem.n
    lat = np.zeros(n, dtype=np.int64)
    if kind in ("box", "real"):
        lat = np.array(
            [_exponent(max(abs(float(a)), abs(float(b)))) for a, b in zip(lo, hi, strict=True)],
            dtype=np.int64,
        )
    # magnitudes only (the scaling is exact whatever they are): unwidened centre form
    with np.errstate(over="ignore", invalid="ignore"):
        bounds = propagate(net.layers, lo, hi, form="centre", margin=None)
    x = problem.target_array()
    a_lo, a_hi = bounds[-1]
    out_mag = max(
        float(problem.threshold),
        float(np.max(np.abs(x), initial=0.0)),
        float(np.max(np.abs(a_lo), initial=0.0)),
        float(np.max(np.abs(a_hi), initial=0.0)),
    )
    if not math.isfinite(out_mag):
        return Scaled(problem, why_not="interval bounds overflow float64")
    s_out = _exponent(out_mag)
    row_exps: list[IntArray] = []
    for index, (blo, bhi) in enumerate(bounds):
        if index == len(bounds) - 1:
            row_exps.append(np.full(len(blo), -s_out, dtype=np.int64))
            continue
        mags = np.maximum(np.abs(blo), np.abs(bhi))
        row_exps.append(np.array([-_exponent(float(m)) for m in mags], dtype=np.int64))
    units = int(sum(int(np.count_nonzero(r)) for r in row_exps[:-1]))
    if not (s_out or units or lat.any()):
        return Scaled(problem, latent_exp=[0] * n)
    layers: list[Layer] = []
    col = -lat  # s of the latents is 1 / Z
    for layer, rows in zip(net.layers, row_exps, strict=True):
        scaled = _scale_layer(layer, rows, col)
        if scaled is None:
            return Scaled(
                problem,
                latent_exp=[0] * n,
                why_not="a scaled weight would over- or underflow float64",
            )
        layers.append(scaled)
        col = rows
    network = ReLUNetwork.from_layers(layers)
    f_out = _pow2(s_out)
    target = [v / f_out for v in problem.target]
    exact_lo, exact_hi = _exact_box(problem)
    zl = [v / _pow2(int(k)) for v, k in zip(exact_lo, lat, strict=True)]
    zh = [v / _pow2(int(k)) for v, k in zip(exact_hi, lat, strict=True)]
    domain = Domain.box(zl, zh) if kind == "box" else problem.domain
    input_box = (zl, zh) if kind == "real" and problem.input_box is not None else None
    tp = problem.threshold_pow
    tp_scaled = None if tp is None else tp / f_out ** int(problem.p)
    scaled_problem = InversionProblem(
        network,
        target,
        domain,
        p=problem.p,
        threshold=problem.threshold / f_out,
        relation=problem.relation,
        threshold_pow=tp_scaled,
        input_box=input_box,
    )
    return Scaled(scaled_problem, [int(k) for k in lat], s_out, units)


def _exact_box(problem: InversionProblem) -> tuple[list[Fraction], list[Fraction]]:
    kind = problem.domain.kind
    n = problem.n
    if kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        return list(problem.domain.lower), list(problem.domain.upper)
    if kind == "real" and problem.input_box is not None:
        return list(problem.input_box[0]), list(problem.input_box[1])
    a, b = problem.domain.corner_values() if kind in ("binary", "sign") else (0, 0)
    return [Fraction(a)] * n, [Fraction(b)] * n
