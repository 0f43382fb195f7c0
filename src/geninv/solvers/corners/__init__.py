"""Corner presolve: an output target that forces real latents onto two values each.

The package by stage: :mod:`.pl` (exact piecewise-linear functions of one latent),
:mod:`.univariate` (which units depend on one latent, and how), :mod:`.presolve` and
:mod:`.outcome` (the forcing analysis and what it found), :mod:`.near` (the same within a
threshold, with :mod:`geninv.reductions.snap`), :mod:`.binary` (the binary problem it
leaves) and :mod:`.backend` (presolve, then the binary problem's solver).

For *exact* inversion over a box (or a real domain with ``input_box``), look
for output units whose pre-activation is **separable** in the latent:

    a_o(z) = C + sum_i f_i(z_i),

i.e. every unit feeding output o depends on at most one latent coordinate
(found by propagating supports through the nonzero weights).  Each f_i is a
univariate piecewise-linear function on [lo_i, hi_i], computed exactly (rational
breakpoints, one ReLU crossing inserted per sign change), so its maximum M_i,
minimum m_i and the sets where they are attained are exact.  The target fixes
a_o: ``a_o = x_o`` (identity output, or ReLU output with x_o > 0) or
``a_o <= 0`` (ReLU output with x_o = 0).  Then, exactly:

* if x_o lies outside [C + sum m_i, C + sum M_i] (or ``C + sum m_i > 0`` for
  ``a_o <= 0``), no latent reaches the target: ``no``, and the interval is the proof;
* if x_o = C + sum M_i, every witness has z_i in argmax f_i for every i
  (a sum of terms each at most M_i reaches the sum of the maxima only when each
  term does); likewise argmin when x_o = C + sum m_i, or ``a_o <= 0`` with
  C + sum m_i = 0.

When these *forcing* outputs leave every coordinate a set of at most two
points {c0_i, c1_i}, the problem is equivalent to one over binary b in {0,1}^n
with z_i = c0_i + (c1_i - c0_i) b_i: the first layer becomes
``W diag(c1 - c0) b + (W c0 + b_1)`` (exact rationals), the forcing outputs are
dropped (on that set they equal their targets exactly), and units that no
longer reach any output are pruned.  A witness b maps back to z, which
:func:`geninv.solvers.base.solve` re-checks exactly on the *original* problem;
a ``no`` of the binary problem is a ``no`` of the original one, with both
proofs.  This is how the Theorem 2 networks (``y_2 = sum_i |clamp(z_i)| = n``)
become Theorem 1-like binary instances that the ``sat`` backend decides in
about the time CaDiCaL needs for the formula (issue 4's stretch goal).

The presolve is sound for any network it accepts; it declines (``None``) when
the problem is not exact inversion over a box, a layer is not ReLU/identity,
no output is separable and forcing, or some coordinate keeps more than two
points or a whole interval.
"""

from geninv.solvers.corners.backend import CornersBackend
from geninv.solvers.corners.binary import _binary_problem
from geninv.solvers.corners.near import apply_near, invert_near, near_analysis, near_corner_presolve
from geninv.solvers.corners.outcome import CornerPresolve
from geninv.solvers.corners.pl import (
    CONST,
    MAX_BREAKPOINTS,
    MULTI,
    _combine,
    _combine_int,
    _eval_pl,
    _PLCache,
    _relu_pl,
    _relu_pl_frac,
    _Units,
)
from geninv.solvers.corners.presolve import (
    HANDLED_ACTIVATIONS,
    corner_presolve,
    decline_reason,
)
from geninv.solvers.corners.univariate import (
    _float_layer_scan,
    _loop_supports,
    univariate_units,
)

__all__ = [
    "CONST",
    "HANDLED_ACTIVATIONS",
    "MAX_BREAKPOINTS",
    "MULTI",
    "CornerPresolve",
    "CornersBackend",
    "_PLCache",
    "_Units",
    "_binary_problem",
    "_combine",
    "_combine_int",
    "_eval_pl",
    "_float_layer_scan",
    "_loop_supports",
    "_relu_pl",
    "_relu_pl_frac",
    "apply_near",
    "corner_presolve",
    "decline_reason",
    "invert_near",
    "near_analysis",
    "near_corner_presolve",
    "univariate_units",
]
