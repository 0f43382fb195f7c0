"""Approximate inversion by first-order methods in latent space (PyTorch).

The package: :mod:`.common` (constants, option checks, the device), :mod:`.torch_ops`
(the generator as a torch module, losses, projections, proximal maps), :mod:`.runner`
(the one shared runner: batched starts, steps, exact re-checks), :mod:`.backend` (the
shared backend class) and one small module per method: :mod:`.adam`, :mod:`.pgd`,
:mod:`.admm`, :mod:`.langevin`, :mod:`.flipgd`.

Five published algorithms for ``min_z ||G(z) - x||``, each an *incomplete*
backend (``complete=False``): it answers ``yes`` with a witness ``z`` that
passed :meth:`InversionProblem.exact_check` -- ``G(z)`` evaluated in exact
rational arithmetic (60-digit decimals for sigmoid/tanh) is within the
threshold, and ``z`` lies in the domain -- or ``unknown`` with the best point
it found.  It never answers ``no``: a gradient method that misses the
threshold proves nothing.  Exact inversion (delta = 0) is accepted, but float
iterates rarely hit a target exactly, so it usually ends ``unknown`` with a
tiny ``best_distance``.

Shared machinery
----------------
* **Batched restarts.**  All restarts run as one tensor of shape
  ``[restarts, n]``.  Every objective is a sum of per-restart terms and every
  update (Adam's moments, ADMM's per-restart penalties, flipgd's per-restart
  step) acts row by row, so the rows never interact: restart ``i`` is the run
  that a single-restart call with seed ``seed + i`` makes, up to the rounding
  of batched matrix products.  (Langevin draws its noise for the whole batch
  from one stream, so there only the starts coincide.)
* **Initialisation.**  Restart ``i`` draws its start from its own
  ``torch.Generator`` seeded ``seed + i`` (``seed=None`` means 0, so runs are
  reproducible by default), on the CPU in float64, then moves it to the
  device: ``z ~ N(0, I)`` for a real latent (CSGM's and the others'
  initialisation), uniform in the box for a box latent.
* **Domains.**  ``real``: unconstrained.  ``box``: every iterate is clamped
  (projected) to the box rounded inward to floats, so float points are exact
  members.  ``binary``/``sign`` latents are refused through the capabilities.
* **Objective** ``phi(d)`` of the residual ``d = G(z) - x`` (``q`` outputs):
  ``||d||_p^p = sum_j |d_j|^p`` for ``1 <= p <= 2``.  For ``p > 2`` the
  objective is ``||d||_p^2`` -- a monotone transform of ``||d||_p^p`` with
  the same minimisers and ordering, chosen because ``|d|^p`` is so flat at 0
  that first-order methods stall there (Adam's ``eps`` swamps gradients of
  order ``|d|^(p-1)``).  For ``p = inf`` the smooth surrogate is
  ``||d||_P^2`` with ``P = inf_p`` (default 16): ``||d||_inf^2 <=
  ||d||_P^2 <= q^(2/P) ||d||_inf^2``.  Both are evaluated after scaling by
  ``max_j |d_j|`` so that nothing underflows.  CSGM (``adam``) sums the
  objective over the outputs (its paper's scaling, so that ``lam`` is the paper's
  lambda); PGD's projection averages over the pixels, as the authors' code
  does.  Exact inversion uses ``p = 2`` whatever ``p`` says: every norm is 0 at
  the same points.
* **Tracking.**  Each restart keeps its best iterate by the problem's own
  distance ``||G(z) - x||_p`` (float, from the same forward pass as the
  gradient), or its final iterate with ``keep="last"`` (``adam``, ``pgd``: the
  papers' rule); the restarts are ranked by it at the end.
* **Certification.**  The best restart is re-checked (its float64 coordinates
  are exact dyadic rationals, :class:`fractions.Fraction`): in float64 with a
  rigorous error bound (:mod:`geninv.recheck`), in exact arithmetic only when
  the bound cannot decide.  Up to ``check_top`` (default 3) restarts are
  checked, best first, a further one only while its float distance is within
  the threshold.  ``yes`` only if one of them meets the threshold.  With
  ``delta > 0`` the best point is also checked every ``check_every``
  iterations (default 25) once its float distance is within the threshold,
  and the run stops at the first success.  Otherwise the answer is
  ``unknown`` with a reason, ``z`` the checked point of least distance,
  ``distance``/``check`` its re-check and ``stats = {"best_distance": <that
  distance>, "restarts": R, "iterations": <iterations per restart>,
  "restart_distances": [<float best of each restart>], "best_float_distance",
  "stopped", "seed", "device", "dtype", "objective", "recheck_seconds",
  ...method specifics}``.
* **Time limit.**  Checked every iteration; when it runs out the run stops
  and the best point so far is certified as above (``unknown`` with the reason
  "time limit after k of K iterations ...", unless it meets the threshold).
  The final exact check of the best point is always made, so a run can
  overshoot a tiny limit by the cost of one exact evaluation of ``G``.
* **Device.**  ``device="auto"`` (default) is CUDA when
  ``torch.cuda.is_available()`` and the CPU otherwise (``"cpu"``, ``"cuda"``,
  ``"cuda:1"`` force one); ``dtype`` is float64 unless ``dtype="float32"``.

Methods (constructor options in brackets; defaults cited)
---------------------------------------------------------
``adam`` -- CSGM, Bora, Jalal, Price & Dimakis, "Compressed sensing using
generative models", ICML 2017::

    z <- Adam step on  mean_j phi(d_j) + lam ||z||^2      (z_0 ~ N(0, I))

(CSGM's ``m_loss2`` is a mean over measurements, its ``zprior`` a sum over
``z``; Adam with Kingma & Ba's beta = (0.9, 0.999), eps = 1e-8.)  Defaults
[restarts=10, steps=1000, lr=0.1, lam=0.0]: 10 restarts x 1000 steps is
CSGM's MNIST-VAE setting (``quant_scripts/mnist_reconstruction.sh`` in
github.com/AshishBora/csgm, which uses lr 0.01); lr 0.1 is its celebA-DCGAN
setting (``quant_scripts/celebA_reconstruction.sh``: lr 0.1, 500 steps, 2
restarts).  CSGM uses ``lam`` = 0.1 (MNIST) and 0.001 (celebA) for
compressed *sensing*; for inversion the default is 0, which keeps the
minimisers exactly the preimages.  Restarts are ranked by distance (CSGM ranks
by total loss; the two agree for ``lam = 0``).

``pgd`` -- Shah & Hegde, "Solving linear inverse problems using GAN priors:
an algorithm with provable guarantees", ICASSP 2018.  With the identity as
measurement operator and the target ``x`` as the signal::

    w_t = x_t - eta grad f(x_t) = x_t + eta (x - x_t),   f(u) = 1/2 ||u - x||_2^2
    z_{t+1} = argmin_z mean_j (G(z) - w_t)_j^2   (inner solve, warm start z_t)
    x_{t+1} = G(z_{t+1}),      x_0 = 0

Defaults [restarts=1, outer_steps=10, inner_steps=100, eta=0.5, lr=0.1] are
the authors' script (``exp_scripts/pgdgan.sh`` in github.com/shahviraj/pgdgan:
outer rate 0.5, 10 outer and 100 inner iterations, inner rate 0.1, one
restart).  The inner optimiser's state is reset at every outer step, as in
their code.  Their inner optimiser is momentum SGD (momentum 0.9); the default
here is Adam (``inner_optimizer="adam"``), and ``inner_optimizer="momentum"``
reproduces theirs.  The step and the projection are Euclidean for every
``p`` (the problem's norm only ranks iterates).  With the identity operator,
``x_t - x`` shrinks by at best ``1 - eta`` per outer step, so 10 outer steps
leave a relative error near ``2^-10``: raise ``outer_steps`` for tighter
inversion.

``admm`` -- Latorre, Eftekhari & Cevher, "Fast and provable ADMM for learning
with generative priors", NeurIPS 2019.  Splitting ``min f(u) s.t. u = G(z)``
with the augmented Lagrangian ``L_b(u, z, l) = f(u) + <l, u - G(z)> + b/2
||u - G(z)||^2``, each iteration (in the order of the authors' code, ``al`` in
``src/algorithms.py`` of github.com/latorrefabian/admm_generative_priors)::

    z <- z - (gamma / b) grad_z L_b(u, z, l)          (linearised z step)
    u <- argmin_u L_b(u, z, l)                        (u step, below)
    l <- l + s (u - G(z))                             (dual step)
    b, s <- schedule(t, ||u - G(z)||_2)

from ``u_0 = G(z_0)``, ``l_0 = 0``.  ``f(u) = (1/p) ||u - x||_p^p`` for ``1 <=
p <= 2`` and ``||u - x||_inf`` for p = inf, with the exact u step
``prox_{f/b}(G(z) - l/b)``: closed form for p = 2 (where it equals the
authors' linearised step, ``L_f = 1``), p = 1 (soft threshold, the authors'
``l1eadmm``) and p = inf (Moreau: ``v - proj_{l1 ball, radius 1/b}(v)``, the
authors' ``linf_eadmm``), a 60-step bisection per coordinate otherwise.  For
``2 < p < inf``, ``f(u) = 1/2 ||u - x||_p^2`` (smooth, gradient
``(p-1)``-Lipschitz) with the authors' linearised step ``u = (L u - grad f(u)
+ b G(z) - l) / (L + b)``, ``L = p - 1``.  ``schedule="adaptive"`` (default)
is the authors' ``adaptive_bs``: ``b`` is multiplied by ``sqrt(t/(t-1))``
whenever the infeasibility exceeds ``b_0/sqrt(t)`` -- so it grows like ``b_0
sqrt(t)``, polynomially, not geometrically -- and ``s`` is kept while the
infeasibility is at most ``s_0/t``, shrunk by ``sqrt((t-1)/t)`` while at most
``s_0/sqrt(t)``, and otherwise tied to the growth of ``b`` (``s = eta (b_t -
b_{t-1})``, ``eta`` fixed when such a phase starts).  ``schedule="geometric"``
multiplies ``b`` by ``rho_factor`` (default 1.001) every iteration instead
(``s`` fixed); ``"fixed"`` keeps both.  All of it per restart.  Defaults
[restarts=3, steps=3000, gamma=0.004, beta=50, sigma=50] are the authors'
MNIST-ReLU parameters (``src/params.py``: ``'admm': gamma 0.004, beta 50,
sigma 50``) and their MNIST reproduction command (3000 iterations,
``--restarts 3``, ``reproduce_commands.txt``).  They are tuned to a 784-output
GAN: the effective step on the data term is ``gamma / b``, so small
generators need a larger ``gamma / beta`` (``gamma=0.1, beta=1, sigma=1``
suits networks of gain ~1).  Iterates are tracked by ``G(z)``, not ``u``.

``langevin`` -- stochastic gradient Langevin dynamics in latent space, Nguyen,
Jagatap & Hegde, "Provable compressed sensing with generative priors via
Langevin dynamics" (arXiv:2102.12643, 2021)::

    z <- z - eta grad L(z) + sqrt(2 eta / beta) xi,   xi ~ N(0, I),
    L(z) = phi(G(z) - x)   (= ||G(z) - x||_2^2 for p = 2)

with ``eta = lr`` and the inverse temperature ``beta`` as options; the best
iterate of each restart is kept, so the noise never worsens the answer.
Defaults [restarts=1, steps=2000, lr=1e-3, beta=1e6] are *ours*: the paper's
experimental values could not be consulted when this was written.  ``lr =
1e-3`` keeps the step below ``1 / lambda_max(J^T J)`` for generators of gain
up to ~30; ``beta = 1e6`` makes the noise (std ``sqrt(2 lr / beta)`` ~
4.5e-5 per step) small against the residuals of interest.

``flipgd`` -- gradient descent with the negation check, for bias-free
expansive ReLU generators: Hand & Voroninski, "Global guarantees for
enforcing deep generative priors by empirical risk", COLT 2018 (IEEE Trans.
Inf. Theory 66(1), 2020), as the algorithm of Huang, Hand, Heckel &
Voroninski, "A provably convergent scheme for compressive sensing under
random generative priors" (2018, Algorithm 1)::

    if f(-z) < f(z):  z <- -z
    z <- z - alpha grad f(z),      f(z) = 1/2 phi(G(z) - x)  (= 1/2 ||.||_2^2)

Hand & Voroninski show that for Gaussian expansive networks ``f`` has no
stationary points outside neighbourhoods of ``z*`` and of ``-rho_d z*``, with
``rho_d = sum_{i<d} (sin th_i / pi) prod_{i<j<d} (pi - th_j) / pi``, ``th_0 =
pi``, ``th_i = arccos(((pi - th_{i-1}) cos th_{i-1} + sin th_{i-1}) / pi)``
(rho_1 = 0, rho_2 = 1/pi ~ 0.318, rho_3 ~ 0.49; :func:`rho_d`, reported in
``stats``).  The published check compares ``f(z)`` with ``f(-z)`` -- the
reflection itself, not ``-rho_d z`` -- which takes the iterate out of the
spurious basin around ``-rho_d z*``.  The analysis fixes ``alpha`` only up to
constants (of order ``2^d`` under its weight normalisation, where ``G``
shrinks norms by about ``2^(-d/2)``); here each restart uses ``alpha = lr /
g^2`` with ``g^2 = ||G(z_0)||^2 / ||z_0||^2`` its gain at its start (a
bias-free ReLU network is positively homogeneous), and [restarts=1,
steps=2000, lr=0.5].  On Hand & Voroninski's k-700-600 compressed-sensing
setting (bench/bench_hand_voroninski.py) these defaults stall from k = 75 on
(success 0.75 at k = 75, 0.25 at 100-150); ``lr=0.1, steps=10000`` reproduces
Cocola's published rates (1.0 up to k = 125, 0.25 at 150).  Networks with a
nonzero bias, or with a layer other than ReLU (identity allowed last), are
refused (``UnsupportedError`` naming the layer).
"""

from geninv.solvers.approx.adam import AdamBackend
from geninv.solvers.approx.admm import AdmmBackend
from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import (
    ALL_ACTIVATIONS,
    CHECK_EVERY,
    CHECK_TOP,
    INF_P,
    RECHECK_FACTOR,
    resolve_device,
    rho_d,
)
from geninv.solvers.approx.flipgd import FlipGdBackend
from geninv.solvers.approx.langevin import LangevinBackend
from geninv.solvers.approx.pgd import PgdBackend
from geninv.solvers.approx.runner import _Run
from geninv.solvers.approx.torch_ops import (
    TorchGenerator,
    data_loss,
    distances,
    project_l1_ball,
    prox_lp,
)

__all__ = [
    "ALL_ACTIVATIONS",
    "CHECK_EVERY",
    "CHECK_TOP",
    "INF_P",
    "RECHECK_FACTOR",
    "AdamBackend",
    "AdmmBackend",
    "FlipGdBackend",
    "LangevinBackend",
    "PgdBackend",
    "TorchBackend",
    "TorchGenerator",
    "_Run",
    "data_loss",
    "distances",
    "project_l1_ball",
    "prox_lp",
    "resolve_device",
    "rho_d",
]
