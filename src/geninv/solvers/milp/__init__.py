"""Mixed-integer linear programming backend (HiGHS) for l1 / l-infinity inversion.

Decides ``||G(z) - x||_p <= delta`` (or ``< delta``) for p = 1 and p = inf, and
exact inversion ``G(z) = x`` for any p, over binary, sign, box and bounded real
latents, with the MILP solver HiGHS (``highspy``).  ``mode="optimize"`` also
minimises the distance and reports ``best_distance`` (exact distance of the best
point found) and ``lower_bound`` (HiGHS's dual bound) in ``stats``.

Encoding
--------
Latents: a binary ``z_i`` is an integer column in [0, 1]; a sign ``z_i`` is a
continuous column in [-1, 1] tied to a binary ``b_i`` by the row
``z_i - 2 b_i = -1``; a box (or a real domain with ``problem.input_box``, where
the network clamps its input so that solving over the box is equivalent) gives
continuous columns between the box bounds, rounded outward to floats.  A real
domain without an input box is refused: unbounded latents admit no big-M values.

Each unit computes ``a = w . h + b`` from the previous layer's columns ``h``.
With valid bounds ``l <= a <= u`` (see below) a ReLU unit ``y = max(a, 0)`` is

* stably inactive (``u <= 0``): ``y = 0``, no column at all;
* stably active (``l >= 0``): a free column ``y`` with the row ``y = a``;
* otherwise: a column ``y >= 0`` and a binary ``d`` with the big-M rows
  ``y >= a``, ``y <= a - l (1 - d)`` and ``y <= u d``.

For ``d = 1`` the rows force ``y = a >= 0``; for ``d = 0`` they force
``y = 0 >= a``; so every (z, y, d) with integral d satisfies ``y = ReLU(a)``.
An identity unit (``final_activation="identity"``) is a free column with
``y = a``.  (Stable units get no column bounds: tight redundant bounds have
tripped HiGHS's presolve.)

Distance: for p = inf (and for exact inversion with p other than 1, where all
norms agree) one column ``t >= 0`` with ``t >= y_j - x_j`` and
``t >= x_j - y_j``; for p = 1 one ``t_j`` per output likewise, and the distance
is ``sum_j t_j``.  A stably inactive output is the constant 0 and only bounds
its ``t`` from below.

Big-M values (bounds)
---------------------
Interval arithmetic over the latent box ({0,1}^n -> [0,1]^n, {-1,1}^n ->
[-1,1]^n, box -> its bounds, real -> ``input_box``), layer by layer, every
bound widened by ``BOUND_SLACK_REL * (|W| |h| + |b|)`` to cover float
rounding.  Then, optionally (default on up to ``TIGHTEN_MAX_UNITS`` units,
within ``bound_time`` seconds and at most ``BOUND_TIME_SHARE`` of a time
limit), every unit still unstable is tightened as in MIPVerify: maximise and
minimise its pre-activation over the LP relaxation of the layers before it
(binaries relaxed to [0, 1]), solved without presolve.  HiGHS solves them
in floats with tolerances, so an LP optimum ``v`` becomes the bound
``v +- LP_BOUND_MARGIN * (1 + |W| |h| + |b|)`` (outward), used only where it
is tighter than the interval bound.  Both kinds of bound hold on the whole
latent box, so the MILP keeps every genuine solution.

In ``decide`` mode with ``target_bounds`` (off by default: on the
near-boundary random 20-100-200 nets it tightened 45 of 100 bounds, fixed no
unit, and made ``milp-scip`` 3-5x slower, 14-20 s instead of 3-6 s) the bounds
are tightened once more by :func:`target_tighten`: the same max/min LPs, now
over the LP relaxation of the whole *margin model*, i.e. including the rows
``distance <= delta + tol`` that tie the outputs to the target.  Such bounds
hold at every witness though not on the whole box, which is all a ``no``
needs; a unit whose new bounds exclude 0 becomes stable (no snapping, so the
error ``E`` below is unchanged), and an empty relaxation is itself a ``no``
(proof ``"LP relaxation infeasible"``, confirmed by a second, interior-point
solve; if the two disagree every bound of that pass is discarded).

Two deliberate changes keep the model away from coefficients that HiGHS cannot
handle (a bound of -3e-9 on a big-M row made HiGHS 1.16's presolve return a
wrong optimum): a unit whose bounds come within
``eta = SNAP_REL * (1 + |W| |h| + |b|)`` of stability is made stable
(``u <= eta``: inactive; ``l >= -eta``: active), which moves its output by at
most ``eta``; and weights with ``|w| <= TINY_WEIGHT`` are left out.  The bounds
of later layers are those of this *model*, and the change of its outputs is
propagated (``E_l = |W_l| E_{l-1} + ...``) into the tolerance below.

Tolerance and why a ``no`` is sound
-----------------------------------
HiGHS works in float64 with feasibility tolerances (``mip_feasibility_tolerance``
1e-6, ``primal/dual_feasibility_tolerance`` 1e-7), so its answers are not exact
rational proofs.  Every ``no`` needs a margin ``tol``:

    tol = TOL_REL * scale + 2 * ||E||,
    scale = max(1, delta, |x_j|, |bounds of the outputs|)   (times q for p = 1)

with ``TOL_REL = 1e-6`` and ``E`` the per-output bound of |model output -
exact output| over the box: the snapped units and dropped weights above,
rational weights that floats cannot hold (e.g. 1/3: exact minus float weights,
propagated), and ``|x_j - float(x_j)|``.  ``||.||`` is the sum for p = 1 and
the max for p = inf; ``tol`` is in ``stats`` and in every proof.

* ``decide`` mode minimises the distance subject to ``distance <= delta +
  tol``.  If a witness ``z*`` existed, ``z*`` with the model's activations and
  pattern would satisfy every row (the bounds are valid for the model, the
  big-M rows are exact for the right ``d``) with slack ``tol - ||E||`` in the
  distance row; HiGHS declaring this model infeasible thus means "infeasible
  with margin" -> ``no``, proof ``{"kind": "MILP infeasible", ...}``.
* ``optimize`` mode minimises with ``mip_rel_gap = 0``; a dual bound above
  ``delta + tol`` -> ``no``, proof ``{"kind": "MILP lower bound",
  "lower_bound": ..., "solver": "HiGHS x.y.z", "tolerance": ...}``.

Feasibility tolerances only *enlarge* the set HiGHS searches, which weakens its
bounds rather than falsifying them; ``tol`` covers the remaining float effects.
Anything closer to ``delta`` than ``tol`` ends as ``unknown``.  HiGHS's
presolve has, however, been seen to call feasible models infeasible
(highspy 1.14-1.16 on a 6-column LP; 1.16 on small MILPs), so with
``confirm_no`` (default) every ``no`` is re-derived by a second run of the
margin model *without presolve* (and another random seed), which must also
find it infeasible; any disagreement ends as ``unknown``, and a model known to
be feasible that HiGHS calls infeasible is re-solved without presolve.  A
``no`` is thus as sound as HiGHS's floating-point arithmetic with this margin,
twice over, not an exact certificate: its proof says ``"basis": "floating-point
solver"``, and :func:`geninv.solvers.base.solve` turns it into ``unknown``
unless the caller passes ``trust_solver`` (``--trust-solver``).  HiGHS runs with
feasibility tolerances ``SOLVER_FEASIBILITY_TOL`` = 1e-9, well below the margin
(at its default 1e-6 it called a model infeasible whose witness had slack 1e-6).
In ``optimize`` mode a dual bound above the exact distance of a checked point
(plus ``tol``) shows that the arithmetic failed: the bound is dropped
(``stats["lower_bound_discarded"]``) and the answer is not ``no``.

Numerics
--------
The model is built for the problem scaled by powers of two
(:func:`geninv.solvers.numerics.scale_problem`: latents of wide boxes, hidden
units with large bounds, and the outputs, target and threshold together,
exactly equivalent), so that HiGHS's absolute tolerances and its 1e20
"infinity" see numbers of order 1; the answer is mapped back to the original
units (witnesses re-checked on the original problem).  A model whose
coefficients, bounds or right-hand sides still exceed what a float solver
represents safely (:func:`geninv.solvers.numerics.model_range`) is not solved:
``unknown`` with the numbers, ``stats["numerics_refused"]``.  Every native
status maps to yes/no/unknown with a reason (``HIGHS_STATUS``, ``SCIP_STATUS``).

Engines
-------
``engine="highs"`` (default) solves the model with HiGHS; ``engine="scip"``
(registered as the backend ``milp-scip``) hands the same columns and rows to
SCIP through pyscipopt (one thread; decide mode stops at the first feasible
point, reported like HiGHS's objective target).  SCIP's statuses are mapped to
HiGHS's names (:data:`geninv.solvers.numerics.SCIP_STATUS` says what each
means); its ``no`` is re-confirmed without presolve like HiGHS's (SCIP 10's
presolve called a scaled model infeasible whose witness had slack 1e-6: a
two-unit integer network with weights near 1e6, ``tests/test_trust.py``); the
bound tightening LPs stay on HiGHS.  SCIP keeps its default ``numerics/feastol``
(1e-6): at 1e-9 its presolve called feasible models infeasible.

Witnesses
---------
A ``yes`` is only returned for a point that passes
:meth:`InversionProblem.exact_check` (and :func:`geninv.solvers.base.solve`
re-checks it).  HiGHS's latent values (its incumbent and up to
``MAX_SAVED_SOLUTIONS`` improving solutions) are polished first: rounded to the
nearest corner for binary and sign latents; for box and real latents tried as
rounded decimals, as they are, with near-bound coordinates snapped to the
bound, and finally projected exactly (rational Gaussian elimination) onto the
constraints that are tight at HiGHS's point under its activation pattern
(outputs equal to the target, pre-activations at 0, box bounds, distances at
delta).  If a ``decide`` run stops at a point within the margin that no polish
turns into a witness, the distance is minimised to optimality and polished
again.  If nothing passes, the answer is ``unknown``, never a guessed ``yes``
or ``no``.  ``time_limit`` covers everything (HiGHS gets what is left; when it
runs out: ``unknown``), ``seed`` is HiGHS's ``random_seed``, and ``progress``
sends HiGHS's log to stderr.
"""

from geninv.solvers.milp.backend import MilpBackend, MilpScipBackend
from geninv.solvers.milp.build import _build_milp, _Milp, _Setup, _setup, _tolerance
from geninv.solvers.milp.common import (
    BOUND_TIME,
    BOUND_TIME_SHARE,
    CAPABILITIES,
    ENGINES,
    HANDLED_ACTIVATIONS,
    MODES,
    NO_BOUNDS_MESSAGE,
    NORM_MESSAGE,
    TIGHTEN_MAX_UNITS,
    TOL_REL,
    Engine,
    Mode,
    float_down,
    float_up,
    highs_version,
    milp_reason,
)
from geninv.solvers.milp.driver import milp_solve
from geninv.solvers.milp.highs import _Run, _run_highs
from geninv.solvers.milp.model import _Bounds, _Model
from geninv.solvers.milp.recover import _Best, _polish
from geninv.solvers.milp.scip import SEPARATING, _run_scip, _scip_model, scip_version
from geninv.solvers.milp.tighten import compute_bounds, target_tighten

__all__ = [
    "BOUND_TIME",
    "BOUND_TIME_SHARE",
    "CAPABILITIES",
    "ENGINES",
    "HANDLED_ACTIVATIONS",
    "MODES",
    "NORM_MESSAGE",
    "NO_BOUNDS_MESSAGE",
    "SEPARATING",
    "TIGHTEN_MAX_UNITS",
    "TOL_REL",
    "Engine",
    "MilpBackend",
    "MilpScipBackend",
    "Mode",
    "_Best",
    "_Bounds",
    "_Milp",
    "_Model",
    "_Run",
    "_Setup",
    "_build_milp",
    "_polish",
    "_run_highs",
    "_run_scip",
    "_scip_model",
    "_setup",
    "_tolerance",
    "compute_bounds",
    "float_down",
    "float_up",
    "highs_version",
    "milp_reason",
    "milp_solve",
    "scip_version",
    "target_tighten",
]
