"""Approximate inversion by first-order methods in latent space (PyTorch).

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
  ``max_j |d_j|`` so that nothing underflows.  Where the paper averages over
  outputs (CSGM, PGD's projection) the objective is divided by ``q`` (by
  ``q^(2/P)`` for the squared norms).  Exact inversion uses ``p = 2``
  whatever ``p`` says: every norm is 0 at the same points.
* **Tracking.**  Each restart keeps its best iterate by the problem's own
  distance ``||G(z) - x||_p`` (float, from the same forward pass as the
  gradient); the restarts are ranked by it at the end.
* **Certification.**  The ``check_top`` best restarts (default 3) are
  re-checked exactly: their float64 coordinates are exact dyadic rationals
  (:class:`fractions.Fraction`).  ``yes`` only if one of them meets the
  threshold.  With ``delta > 0`` the best point is also checked every
  ``check_every`` iterations (default 25) once its float distance is within
  the threshold, and the run stops at the first exact success.  Otherwise the
  answer is ``unknown`` with a reason, ``z`` the checked point of least exact
  distance, ``distance``/``check`` its exact re-check and ``stats =
  {"best_distance": <that exact distance>, "restarts": R, "iterations":
  <iterations per restart>, "restart_distances": [<float best of each
  restart>], "best_float_distance", "stopped", "seed", "device", "dtype",
  "objective", ...method specifics}``.
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

from __future__ import annotations

import math
import sys
import time
from abc import abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from geninv.errors import UnsupportedError, ValidationError
from geninv.network import ReLUNetwork
from geninv.problem import ExactCheck, InversionProblem, Solution, Status
from geninv.solvers.interface import Backend, Capabilities
from geninv.solvers.milp import float_down, float_up

if TYPE_CHECKING:
    import torch

#: Every activation geninv networks use (the gradient methods only evaluate G).
ALL_ACTIVATIONS: frozenset[str] = frozenset({"relu", "identity", "leaky_relu", "sigmoid", "tanh"})
#: Default exponent of the smooth surrogate of the l-infinity norm.
INF_P = 16.0
#: Restarts re-checked exactly at the end (best first).
CHECK_TOP = 3
#: Iterations between early exact checks (each costs one device synchronisation).
CHECK_EVERY = 25
#: A failed early check is retried only once the float distance fell below this fraction.
RECHECK_FACTOR = 0.5
#: Seeds are reduced modulo this (torch.Generator.manual_seed takes 64-bit values).
SEED_MOD = 2**63
#: Offset of the Langevin noise stream from the initialisation streams.
NOISE_SEED_OFFSET = 0x5DEECE66D


# ------------------------------------------------------------------ helpers
def _inward_float32(lo: list[float], hi: list[float]) -> tuple[list[float], list[float]]:
    """Box bounds rounded inward to float32 values."""
    lo32 = np.array(lo, dtype=np.float32)
    hi32 = np.array(hi, dtype=np.float32)
    lo32 = np.where(
        lo32.astype(np.float64) < np.array(lo), np.nextafter(lo32, np.float32(np.inf)), lo32
    )
    hi32 = np.where(
        hi32.astype(np.float64) > np.array(hi), np.nextafter(hi32, np.float32(-np.inf)), hi32
    )
    return [float(v) for v in lo32], [float(v) for v in hi32]


def _positive(value: Any, what: str, integer: bool = False, allow_zero: bool = False) -> Any:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = "an integer" if integer else "a number"
        raise ValidationError(f"{what}: expected {kind}, got {value!r}")
    if not math.isfinite(float(value)) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(f"{what}: expected a finite value {bound}, got {value!r}")
    return value


def _choice(value: Any, what: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationError(f"{what}: expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def resolve_device(spec: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cpu', 'cuda', 'cuda:1', ... as given."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, TypeError):
        raise ValidationError(
            f"device: expected 'auto', 'cpu' or 'cuda[:k]', got {spec!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UnsupportedError("device 'cuda' was asked for but torch sees no CUDA device")
    return dev


def rho_d(depth: int) -> float:
    """Hand & Voroninski's rho_d: the spurious critical point sits near ``-rho_d z*``."""
    thetas = [math.pi]
    for _ in range(1, depth):
        t = thetas[-1]
        c = ((math.pi - t) * math.cos(t) + math.sin(t)) / math.pi
        thetas.append(math.acos(max(-1.0, min(1.0, c))))
    total = 0.0
    for i in range(depth):
        t = thetas[i]
        term = math.sin(t) / math.pi
        for j in range(i + 1, depth):
            term *= (math.pi - thetas[j]) / math.pi
        total += term
    return total


# ------------------------------------------------------------------ the generator
@dataclass
class TorchGenerator:
    """A :class:`~geninv.network.ReLUNetwork` as torch tensors (float copy of the weights)."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]
    activations: list[tuple[str, float]]

    @staticmethod
    def from_network(
        network: ReLUNetwork, device: torch.device, dtype: torch.dtype
    ) -> TorchGenerator:
        import torch

        layers = network.layers
        ws = [torch.tensor(np.array(ly.weight), dtype=dtype, device=device) for ly in layers]
        bs = [torch.tensor(np.array(ly.bias), dtype=dtype, device=device) for ly in layers]
        acts: list[tuple[str, float]] = [(ly.activation, float(ly.negative_slope)) for ly in layers]
        return TorchGenerator(ws, bs, acts)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """``G(z)`` for a batch ``z`` of shape ``[R, n]``."""
        import torch

        h = z
        for w, b, (act, slope) in zip(self.weights, self.biases, self.activations, strict=True):
            h = torch.addmm(b, h, w.T)
            if act == "relu":
                h = torch.relu(h)
            elif act == "leaky_relu":
                h = torch.where(h > 0, h, slope * h)
            elif act == "sigmoid":
                h = torch.sigmoid(h)
            elif act == "tanh":
                h = torch.tanh(h)
        return h


def data_loss(d: torch.Tensor, p: float, mean: bool, inf_p: float = INF_P) -> torch.Tensor:
    """Per-row objective ``phi(d)`` of residuals ``d`` ([R, q] -> [R]); see the module docstring."""
    import torch

    q = d.shape[1]
    a = d.abs()
    if p > 2:  # ||d||_P^2 (P = p, or inf_p for p = inf), scaled so that nothing underflows
        big = inf_p if math.isinf(p) else p
        scale = a.amax(dim=1, keepdim=True).detach().clamp_min(torch.finfo(d.dtype).tiny)
        s = ((a / scale) ** big).sum(dim=1).clamp_min(1.0)  # >= 1 unless d = 0
        val = scale[:, 0] ** 2 * s ** (2.0 / big)
        return val * q ** (-2.0 / big) if mean else val
    if p == 2:
        s = (d * d).sum(dim=1)
    elif p == 1:
        s = a.sum(dim=1)
    else:
        s = (a**p).sum(dim=1)
    return s / q if mean else s


def distances(d: torch.Tensor, p: float) -> torch.Tensor:
    """Row-wise ``||d||_p`` ([R, q] -> [R])."""
    import torch

    out: torch.Tensor = torch.linalg.vector_norm(d, ord=p, dim=1)
    return out


def project_l1_ball(v: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of ``v`` onto ``{u : ||u||_1 <= radius_r}``.

    The sort-based algorithm of Duchi, Shalev-Shwartz, Singer & Chandra (ICML 2008).
    """
    import torch

    a = v.abs()
    inside = a.sum(dim=1) <= radius
    mu, _ = torch.sort(a, dim=1, descending=True)
    cs = mu.cumsum(dim=1) - radius[:, None]
    idx = torch.arange(1, v.shape[1] + 1, device=v.device, dtype=v.dtype)
    cond = mu - cs / idx > 0
    # the last index where cond holds (cond is true at index 0 whenever outside)
    k = (cond.to(v.dtype) * idx).amax(dim=1).clamp_min(1).long() - 1
    theta = cs.gather(1, k[:, None]) / (k[:, None] + 1).to(v.dtype)
    w = torch.sign(v) * (a - theta).clamp_min(0.0)
    return torch.where(inside[:, None], v, w)


def grad_half_sq_norm(d: torch.Tensor, p: float) -> torch.Tensor:
    """Row-wise gradient of ``1/2 ||d||_p^2`` (finite p >= 2): ``||d||_p^(2-p) |d|^(p-1) sgn d``."""
    import torch

    a = d.abs()
    scale = a.amax(dim=1, keepdim=True).clamp_min(torch.finfo(d.dtype).tiny)
    r = a / scale
    norm = (r**p).sum(dim=1, keepdim=True).clamp_min(1.0) ** (1.0 / p)
    out: torch.Tensor = scale * norm ** (2.0 - p) * r ** (p - 1.0) * torch.sign(d)
    return out


def prox_lp(v: torch.Tensor, p: float, beta: torch.Tensor) -> torch.Tensor:
    """``argmin_u f(u) + beta/2 ||u - v||^2`` for ``f = (1/p)||u||_p^p`` (``||u||_inf`` for inf).

    ``beta`` has one entry per row.
    """
    import torch

    b = beta[:, None]
    if math.isinf(p):
        return v - project_l1_ball(v, 1.0 / beta)
    if p == 2:
        return b * v / (1.0 + b)
    a = v.abs()
    if p == 1:
        return torch.sign(v) * (a - 1.0 / b).clamp_min(0.0)
    # s^(p-1) + b (s - a) = 0 on [0, a]: increasing in s, so bisect
    lo = torch.zeros_like(a)
    hi = a.clone()
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        g = mid ** (p - 1) + b * (mid - a)
        pos = g > 0
        hi = torch.where(pos, mid, hi)
        lo = torch.where(pos, lo, mid)
    return torch.sign(v) * 0.5 * (lo + hi)


# ------------------------------------------------------------------ one run
@dataclass
class _Candidate:
    z: list[float]
    check: ExactCheck


@dataclass
class _Run:
    """Everything one backend run shares: problem, tensors, clock, best points."""

    problem: InversionProblem
    method: str
    restarts: int
    seed: int
    device: torch.device
    dtype: torch.dtype
    deadline: float | None
    check_top: int
    check_every: int
    inf_p: float
    progress: bool
    G: TorchGenerator
    target: torch.Tensor  # [q]
    lo: torch.Tensor | None  # box bounds (inward floats), [n]
    hi: torch.Tensor | None
    loss_p: float  # exponent of the objective (2 for exact inversion)
    best_z: torch.Tensor  # [R, n]
    best_d: torch.Tensor  # [R]
    start: float
    iterations: int = 0
    planned: int = 0
    stopped: str = "steps"
    found: _Candidate | None = None
    failed_below: float = math.inf
    stats: dict[str, Any] = field(default_factory=dict)

    # -------------------------------------------------------------- setup
    @staticmethod
    def create(
        problem: InversionProblem,
        method: str,
        restarts: int,
        seed: int | None,
        device: str,
        dtype: str,
        time_limit: float | None,
        check_top: int,
        check_every: int,
        inf_p: float,
        progress: bool,
        start: float | None = None,
    ) -> _Run:
        import torch

        # the clock runs from the backend's entry (``start``): importing torch can
        # take a second, and the time limit covers it
        start = time.perf_counter() if start is None else start
        dev = resolve_device(device)
        tdt = torch.float64 if dtype == "float64" else torch.float32
        net = problem.network
        lo = hi = None
        if problem.domain.kind == "box":
            assert problem.domain.lower is not None and problem.domain.upper is not None
            lo_f = [float_up(v) for v in problem.domain.lower]
            hi_f = [float_down(v) for v in problem.domain.upper]
            if tdt == torch.float32:
                lo_f, hi_f = _inward_float32(lo_f, hi_f)
            lo = torch.tensor(lo_f, dtype=tdt, device=dev)
            hi = torch.tensor(hi_f, dtype=tdt, device=dev)
        run = _Run(
            problem=problem,
            method=method,
            restarts=restarts,
            seed=0 if seed is None else int(seed),
            device=dev,
            dtype=tdt,
            deadline=None if time_limit is None else start + float(time_limit),
            check_top=check_top,
            check_every=check_every,
            inf_p=inf_p,
            progress=progress,
            G=TorchGenerator.from_network(net, dev, tdt),
            target=torch.as_tensor(problem.target_array(), dtype=tdt, device=dev),
            lo=lo,
            hi=hi,
            loss_p=2.0 if problem.is_exact_inversion else problem.p,
            best_z=torch.zeros(restarts, problem.n, dtype=tdt, device=dev),
            best_d=torch.full((restarts,), math.inf, dtype=tdt, device=dev),
            start=start,
        )
        return run

    def initial(self) -> torch.Tensor:
        """Restart i's start from a CPU generator seeded ``seed + i`` (see the module docstring)."""
        import torch

        n = self.problem.n
        rows = []
        box = self.problem.domain.kind == "box"
        for i in range(self.restarts):
            g = torch.Generator(device="cpu")
            g.manual_seed((self.seed + i) % SEED_MOD)
            if box:
                rows.append(torch.rand(n, generator=g, dtype=torch.float64))
            else:
                rows.append(torch.randn(n, generator=g, dtype=torch.float64))
        z = torch.stack(rows).to(device=self.device, dtype=self.dtype)
        if box:
            assert self.lo is not None and self.hi is not None
            z = self.project(self.lo + (self.hi - self.lo) * z)
        self.best_z = z.detach().clone()
        return z

    def noise_generator(self) -> torch.Generator:
        import torch

        g = torch.Generator(device=self.device)
        g.manual_seed((self.seed + NOISE_SEED_OFFSET) % SEED_MOD)
        return g

    # -------------------------------------------------------------- per step
    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Clamp to the box (inward-rounded); identity for a real latent."""
        if self.lo is None or self.hi is None:
            return z
        import torch

        return torch.maximum(torch.minimum(z, self.hi), self.lo)

    def objective(self, out: torch.Tensor, mean: bool) -> torch.Tensor:
        """Per-restart ``phi(G(z) - x)``."""
        return data_loss(out - self.target, self.loss_p, mean, self.inf_p)

    def observe(self, z: torch.Tensor, out: torch.Tensor) -> None:
        """Record ``z`` where it beats its restart's best (no gradients)."""
        import torch

        with torch.no_grad():
            d = distances(out.detach() - self.target, self.problem.p)
            better = d < self.best_d
            self.best_d = torch.where(better, d, self.best_d)
            self.best_z = torch.where(better[:, None], z.detach(), self.best_z)

    def expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def tick(self) -> bool:
        """Count one iteration; True when the run must stop (time limit or exact success)."""
        self.iterations += 1
        if self.expired():
            self.stopped = "time limit"
            return True
        if self.iterations % self.check_every == 0:
            if self.progress:
                self._report()
            if self._early_check():
                self.stopped = "threshold met"
                return True
        return False

    def _report(self) -> None:
        best = float(self.best_d.min().item())
        sys.stderr.write(
            f"[{self.method}] iteration {self.iterations}/{self.planned}: "
            f"best distance {best:.6g}\n"
        )
        sys.stderr.flush()

    def _early_check(self) -> bool:
        delta = self.problem.threshold_float()
        best = float(self.best_d.min().item())
        if not (best <= delta and best < self.failed_below):
            return False
        k = int(self.best_d.argmin().item())
        z = [float(v) for v in self.best_z[k].detach().double().cpu().tolist()]
        chk = self.problem.exact_check(z)
        if chk.meets:
            self.found = _Candidate(z, chk)
            return True
        self.failed_below = RECHECK_FACTOR * best
        return False

    # -------------------------------------------------------------- result
    def finish(self, extra: dict[str, Any] | None = None) -> Solution:
        """Certify the best restarts exactly; ``yes`` or ``unknown`` (never ``no``)."""
        import torch

        problem = self.problem
        best_d = self.best_d.detach().cpu().to(torch.float64).numpy()
        best_z = self.best_z.detach().cpu().to(torch.float64).numpy()
        restart_d = [float(v) for v in best_d]
        stats: dict[str, Any] = {
            "best_distance": None,
            "restarts": self.restarts,
            "iterations": self.iterations,
            "planned_iterations": self.planned,
            "stopped": self.stopped,
            "restart_distances": restart_d,
            "best_float_distance": float(np.nanmin(best_d)) if np.isfinite(best_d).any() else None,
            "seed": self.seed,
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "objective": self.objective_label(),
        }
        stats.update(self.stats)
        if extra:
            stats.update(extra)
        checked: list[_Candidate] = []
        if self.found is not None:
            checked.append(self.found)
        else:
            order = np.argsort(np.where(np.isnan(best_d), np.inf, best_d), kind="stable")
            for rank, r in enumerate(order[: self.check_top]):
                if rank > 0 and self.expired():
                    break
                row = best_z[int(r)]
                if not np.all(np.isfinite(row)):
                    continue
                z = [float(v) for v in row]
                chk = problem.exact_check(z)
                checked.append(_Candidate(z, chk))
                if chk.meets:
                    break
        seconds = time.perf_counter() - self.start
        name = self.method
        if not checked:
            return Solution(
                Status.UNKNOWN,
                name,
                reason=f"{name}: every restart diverged (non-finite latents)",
                seconds=seconds,
                stats=stats,
            )
        winner = next((c for c in checked if c.check.meets), None)
        if winner is None:
            winner = min(checked, key=lambda c: c.check.distance)
        stats["best_distance"] = winner.check.distance
        stats["checked_restarts"] = len(checked)
        zf = [Fraction(v) for v in winner.z]
        if winner.check.meets:
            return Solution(
                Status.YES,
                name,
                z=zf,
                distance=winner.check.distance,
                seconds=seconds,
                check=winner.check,
                stats=stats,
            )
        delta = problem.threshold_float()
        what = (
            "exact inversion (threshold 0)"
            if problem.is_exact_inversion
            else f"threshold {delta:.6g}"
        )
        if not winner.check.in_domain:
            detail = f"best point is outside the domain ({winner.check.reason})"
        elif not winner.check.decided:
            detail = f"best point's distance vs the {what} is undecided ({winner.check.reason})"
        else:
            detail = f"best exact distance {winner.check.distance:.6g} does not meet the {what}"
        if self.stopped == "time limit":
            reason = (
                f"time limit after {self.iterations} of {self.planned} iterations "
                f"({self.restarts} restarts); {detail}"
            )
        else:
            reason = (
                f"{name} is incomplete: after {self.restarts} restarts x {self.iterations} "
                f"iterations the {detail}; this does not show that no preimage exists"
            )
        return Solution(
            Status.UNKNOWN,
            name,
            z=zf,
            distance=winner.check.distance,
            seconds=seconds,
            reason=reason,
            check=winner.check,
            stats=stats,
        )

    def objective_label(self) -> str:
        p = self.loss_p
        if math.isinf(p):
            return f"smooth l-inf surrogate ||d||_P^2, P = {self.inf_p:g}"
        if p > 2:
            return f"||d||_p^2, p = {p:g}"
        label = "2 (exact inversion)" if self.problem.is_exact_inversion else f"{p:g}"
        return f"sum |d_j|^p, p = {label}"


# ------------------------------------------------------------------ backends
class TorchBackend(Backend):
    """Common options and the run skeleton of the gradient backends."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        domains=frozenset({"real", "box"}),
        exact=True,
        approximate=True,
        norms="any",
        complete=False,
        activations=ALL_ACTIVATIONS,
    )
    modules: ClassVar[tuple[str, ...]] = ("torch",)

    def __init__(
        self,
        restarts: int,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        self.restarts = int(_positive(restarts, "restarts", integer=True))
        if not isinstance(device, str):
            raise ValidationError(f"device: expected a string, got {device!r}")
        self.device = device
        self.dtype = _choice(dtype, "dtype", ("float64", "float32"))
        self.check_top = int(_positive(check_top, "check_top", integer=True))
        self.check_every = int(_positive(check_every, "check_every", integer=True))
        self.inf_p = float(_positive(inf_p, "inf_p"))
        if self.inf_p < 2:
            raise ValidationError(f"inf_p: expected a value >= 2, got {inf_p!r}")

    def solve(
        self,
        problem: InversionProblem,
        *,
        time_limit: float | None = None,
        seed: int | None = None,
        progress: bool = False,
    ) -> Solution:
        entered = time.perf_counter()
        reason = self.unsupported_reason(problem)
        if reason is not None:
            raise UnsupportedError(reason)
        if time_limit is not None and (math.isnan(time_limit) or time_limit < 0):
            raise ValidationError(f"time_limit must be >= 0, got {time_limit!r}")
        import torch

        run = _Run.create(
            problem,
            self.name,
            self.restarts,
            seed,
            self.device,
            self.dtype,
            time_limit,
            self.check_top,
            self.check_every,
            self.inf_p,
            progress,
            start=entered,
        )
        with torch.enable_grad():
            extra = self._run(run)
        return run.finish(extra)

    @abstractmethod
    def _run(self, run: _Run) -> dict[str, Any]:
        """Iterate on ``run`` (calling ``run.observe`` and ``run.tick``); return method stats."""


class AdamBackend(TorchBackend):
    """CSGM: Adam on the latent with random restarts (Bora et al. 2017)."""

    name = "adam"
    summary = "CSGM (Bora et al. 2017): Adam on z, batched random restarts; incomplete"

    def __init__(
        self,
        restarts: int = 10,
        steps: int = 1000,
        lr: float = 0.1,
        lam: float = 0.0,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.steps = int(_positive(steps, "steps", integer=True, allow_zero=True))
        self.lr = float(_positive(lr, "lr"))
        self.lam = float(_positive(lam, "lam", allow_zero=True))

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        for _ in range(self.steps):
            out = run.G(z)
            run.observe(z, out)
            loss = run.objective(out, mean=True)
            if self.lam:
                loss = loss + self.lam * (z * z).sum(dim=1)
            (z.grad,) = torch.autograd.grad(loss.sum(), z)
            opt.step()
            with torch.no_grad():
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        return {"lr": self.lr, "lam": self.lam, "steps": self.steps}


class PgdBackend(TorchBackend):
    """Projected gradient descent onto range(G) (Shah & Hegde 2018)."""

    name = "pgd"
    summary = "PGD-GAN (Shah & Hegde 2018): output-space step + inner projection; incomplete"

    def __init__(
        self,
        restarts: int = 1,
        outer_steps: int = 10,
        inner_steps: int = 100,
        eta: float = 0.5,
        lr: float = 0.1,
        inner_optimizer: str = "adam",
        momentum: float = 0.9,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.outer_steps = int(_positive(outer_steps, "outer_steps", integer=True, allow_zero=True))
        self.inner_steps = int(_positive(inner_steps, "inner_steps", integer=True))
        self.eta = float(_positive(eta, "eta"))
        self.lr = float(_positive(lr, "lr"))
        self.inner_optimizer = _choice(inner_optimizer, "inner_optimizer", ("adam", "momentum"))
        self.momentum = float(_positive(momentum, "momentum", allow_zero=True))

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.outer_steps * self.inner_steps
        z = run.initial().requires_grad_(True)
        x = torch.zeros(run.restarts, run.target.shape[0], dtype=run.dtype, device=run.device)
        outer = 0
        stop = False
        for _ in range(self.outer_steps):
            w = x - self.eta * (x - run.target)  # gradient step on 1/2 ||x - target||^2
            if self.inner_optimizer == "adam":
                opt: Any = torch.optim.Adam([z], lr=self.lr)
            else:
                opt = torch.optim.SGD([z], lr=self.lr, momentum=self.momentum)
            for _ in range(self.inner_steps):
                out = run.G(z)
                run.observe(z, out)
                loss = ((out - w) ** 2).mean(dim=1)
                (z.grad,) = torch.autograd.grad(loss.sum(), z)
                opt.step()
                with torch.no_grad():
                    z.copy_(run.project(z))
                if run.tick():
                    stop = True
                    break
            with torch.no_grad():
                x = run.G(z)
                run.observe(z, x)
            outer += 1
            if stop:
                break
        return {
            "outer_steps": outer,
            "inner_steps": self.inner_steps,
            "eta": self.eta,
            "lr": self.lr,
            "inner_optimizer": self.inner_optimizer,
        }


class AdmmBackend(TorchBackend):
    """Linearised ADMM with the signal split from the latent (Latorre et al. 2019)."""

    name = "admm"
    summary = "linearised ADMM (Latorre, Eftekhari & Cevher 2019), adaptive penalty; incomplete"

    def __init__(
        self,
        restarts: int = 3,
        steps: int = 3000,
        gamma: float = 0.004,
        beta: float = 50.0,
        sigma: float = 50.0,
        schedule: str = "adaptive",
        rho_factor: float = 1.001,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.steps = int(_positive(steps, "steps", integer=True, allow_zero=True))
        self.gamma = float(_positive(gamma, "gamma"))
        self.beta = float(_positive(beta, "beta"))
        self.sigma = float(_positive(sigma, "sigma", allow_zero=True))
        self.schedule = _choice(schedule, "schedule", ("adaptive", "geometric", "fixed"))
        self.rho_factor = float(_positive(rho_factor, "rho_factor"))
        if self.rho_factor < 1:
            raise ValidationError(f"rho_factor: expected a value >= 1, got {rho_factor!r}")

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        p = run.loss_p
        z = run.initial().requires_grad_(True)
        with torch.no_grad():
            u = run.G(z).clone()
        lam = torch.zeros_like(u)
        r = run.restarts
        beta = torch.full((r,), self.beta, dtype=run.dtype, device=run.device)
        sigma = torch.full((r,), self.sigma, dtype=run.dtype, device=run.device)
        eta: torch.Tensor | None = None  # the schedule's tie between sigma and beta's growth
        for t in range(self.steps):
            # z step: gradient of <l, u - G(z)> + b/2 ||u - G(z)||^2, step gamma / b
            out = run.G(z)
            run.observe(z, out)
            h = u - out
            al = (lam * h).sum(dim=1) + 0.5 * beta * (h * h).sum(dim=1)
            (grad,) = torch.autograd.grad(al.sum(), z)
            with torch.no_grad():
                z.sub_((self.gamma / beta)[:, None] * grad)
                z.copy_(run.project(z))
                gz = run.G(z)
                if 2 < p < math.inf:
                    # linearised u step on f(u) = 1/2 ||u - target||_p^2 (smooth, L = p - 1)
                    lip = p - 1.0
                    grad_f = grad_half_sq_norm(u - run.target, p)
                    b = beta[:, None]
                    u = (lip * u - grad_f + b * gz - lam) / (lip + b)
                else:
                    # exact u step: prox of f / b at G(z) - l / b
                    v = gz - lam / beta[:, None] - run.target
                    u = run.target + prox_lp(v, p, beta)
                h = u - gz
                infs = torch.linalg.vector_norm(h, dim=1)
                lam = lam + sigma[:, None] * h
                beta, sigma, eta = self._schedule(t, infs, beta, sigma, eta)
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        return {
            "gamma": self.gamma,
            "beta0": self.beta,
            "sigma0": self.sigma,
            "schedule": self.schedule,
            "final_beta": [float(v) for v in beta.detach().cpu().tolist()],
        }

    def _schedule(
        self,
        t: int,
        infs: torch.Tensor,
        beta: torch.Tensor,
        sigma: torch.Tensor,
        eta: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The penalty / dual-step schedule (``adaptive_bs`` of the authors' code, per restart)."""
        import torch

        if self.schedule == "fixed":
            return beta, sigma, eta
        if self.schedule == "geometric":
            return beta * self.rho_factor, sigma, eta
        if t < 2:
            return beta, sigma, eta
        b0, s0 = self.beta, self.sigma
        zero = infs == 0
        grow = ~zero & (infs > b0 / math.sqrt(t))
        next_beta = torch.where(grow, beta * math.sqrt(t / (t - 1)), beta)
        keep = zero | (infs <= s0 / t)
        shrink = ~keep & (infs <= s0 / math.sqrt(t))
        tied = ~keep & ~shrink
        if eta is None:
            eta = torch.full_like(beta, math.nan)
        # eta is reset where sigma is kept or shrunk, and fixed when a tied phase starts
        diff = next_beta - beta
        start_tie = tied & torch.isnan(eta)
        safe = torch.where(diff > 0, diff, torch.ones_like(diff))
        eta = torch.where(
            start_tie, torch.where(diff > 0, sigma / safe, torch.zeros_like(sigma)), eta
        )
        eta = torch.where(keep | shrink, torch.full_like(eta, math.nan), eta)
        next_sigma = torch.where(keep, sigma, sigma * math.sqrt((t - 1) / t))
        next_sigma = torch.where(tied, eta * diff, next_sigma)
        next_beta = torch.where(zero, beta, next_beta)
        next_sigma = torch.where(zero, sigma, next_sigma)
        return next_beta, next_sigma, eta


class LangevinBackend(TorchBackend):
    """Stochastic gradient Langevin dynamics in latent space (Nguyen, Jagatap & Hegde)."""

    name = "langevin"
    summary = "SGLD in latent space (Nguyen, Jagatap & Hegde 2021), best iterate; incomplete"

    def __init__(
        self,
        restarts: int = 1,
        steps: int = 2000,
        lr: float = 1e-3,
        beta: float = 1e6,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.steps = int(_positive(steps, "steps", integer=True, allow_zero=True))
        self.lr = float(_positive(lr, "lr"))
        self.beta = float(_positive(beta, "beta"))

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial().requires_grad_(True)
        gen = run.noise_generator()
        noise = math.sqrt(2.0 * self.lr / self.beta)
        for _ in range(self.steps):
            out = run.G(z)
            run.observe(z, out)
            loss = run.objective(out, mean=False)
            (grad,) = torch.autograd.grad(loss.sum(), z)
            with torch.no_grad():
                xi = torch.randn(z.shape, generator=gen, dtype=run.dtype, device=run.device)
                z.sub_(self.lr * grad)
                z.add_(noise * xi)
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        return {"lr": self.lr, "beta": self.beta, "noise_std": noise}


def _flipgd_refusal(problem: InversionProblem) -> str | None:
    layers = problem.network.layers
    for i, layer in enumerate(layers, start=1):
        if np.any(layer.bias != 0) or (
            layer.exact_bias is not None and any(v != 0 for v in layer.exact_bias)
        ):
            return (
                f"backend 'flipgd' needs a bias-free network (Hand & Voroninski's model); "
                f"layer {i} has a nonzero bias"
            )
        last = i == len(layers)
        ok = layer.activation == "relu" or (
            layer.activation == "leaky_relu" and layer.negative_slope == 0
        )
        if not ok and not (last and layer.activation == "identity"):
            return (
                f"backend 'flipgd' needs ReLU layers (identity allowed last); "
                f"layer {i} is {layer.activation_label}"
            )
    return None


class FlipGdBackend(TorchBackend):
    """Gradient descent with the negation check (Hand & Voroninski; Huang et al. 2018)."""

    name = "flipgd"
    summary = (
        "gradient descent with the sign-flip check (Hand & Voroninski 2018) for bias-free "
        "ReLU generators; incomplete"
    )

    def __init__(
        self,
        restarts: int = 1,
        steps: int = 2000,
        lr: float = 0.5,
        device: str = "auto",
        dtype: str = "float64",
        check_top: int = CHECK_TOP,
        check_every: int = CHECK_EVERY,
        inf_p: float = INF_P,
    ) -> None:
        super().__init__(restarts, device, dtype, check_top, check_every, inf_p)
        self.steps = int(_positive(steps, "steps", integer=True, allow_zero=True))
        self.lr = float(_positive(lr, "lr"))

    @classmethod
    def unsupported_reason(cls, problem: InversionProblem) -> str | None:
        return super().unsupported_reason(problem) or _flipgd_refusal(problem)

    def _run(self, run: _Run) -> dict[str, Any]:
        import torch

        run.planned = self.steps
        z = run.initial()
        with torch.no_grad():
            gain = (run.G(z) ** 2).sum(dim=1) / (z * z).sum(dim=1).clamp_min(1e-300)
            ok = (gain > 0) & torch.isfinite(gain)
            alpha = torch.where(ok, self.lr / torch.where(ok, gain, 1.0), self.lr)
        z = z.requires_grad_(True)
        flips = torch.zeros(run.restarts, dtype=torch.long, device=run.device)
        for _ in range(self.steps):
            with torch.no_grad():
                both = run.G(torch.cat([z, -z]))
                f_both = 0.5 * run.objective(both, mean=False)
                flip = f_both[run.restarts :] < f_both[: run.restarts]
                z.copy_(run.project(torch.where(flip[:, None], -z, z)))
                flips += flip.long()
            out = run.G(z)
            run.observe(z, out)
            loss = 0.5 * run.objective(out, mean=False)
            (grad,) = torch.autograd.grad(loss.sum(), z)
            with torch.no_grad():
                z.sub_(alpha[:, None] * grad)
                z.copy_(run.project(z))
            if run.tick():
                break
        with torch.no_grad():
            run.observe(z, run.G(z))
        depth = run.problem.network.depth
        return {
            "lr": self.lr,
            "alpha": [float(v) for v in alpha.cpu().tolist()],
            "flips": [int(v) for v in flips.cpu().tolist()],
            "rho_d": rho_d(depth),
        }


__all__ = [
    "AdamBackend",
    "AdmmBackend",
    "FlipGdBackend",
    "LangevinBackend",
    "PgdBackend",
    "TorchBackend",
    "TorchGenerator",
    "data_loss",
    "distances",
    "project_l1_ball",
    "prox_lp",
    "resolve_device",
    "rho_d",
]
