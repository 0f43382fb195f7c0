"""The lab's instance families: seeded random sources, reduced with geninv's own
reductions (:func:`geninv.workflows.reduce`).

Every instance is a pure function of ``(family, params, n, seed)``
(:func:`build_instance`): a :class:`numpy.random.Generator` seeded with ``seed`` draws
the source, so a row of the results store rebuilds its cell's instance exactly.

* ``sat-thm1`` / ``sat-thm2``: uniform random k-SAT, ``round(density * n)`` clauses of
  ``k`` distinct variables with random signs (Theorem 1: sign latents; Theorem 2: real
  latents).  ``planted``: a hidden assignment is drawn first and a clause it falsifies
  is redrawn, so the formula is satisfiable (expected *yes*); otherwise no answer is
  known in advance (density 4.26 is the 3-SAT threshold).
* ``cvp-thm3`` / ``cvp-thm4``: ``n`` basis vectors in ``Z^n`` with entries uniform in
  ``[-a, a]``, a target uniform in ``[-an/4, an/4]^n``; ``r^p`` = the exact minimum over
  ``{0,1}^n`` (:func:`geninv.oracles.cvp01_min_distance_pow`) plus ``offset`` (negative:
  a *no* instance).  Theorem 3 (binary latents), lifted to real latents (Theorem 4).
* ``clique-thm5`` / ``clique-thm6`` / ``half-clique``: ``G(n, edge_p)``; ``k`` = the
  clique number (networkx) plus ``k_offset`` (Theorem 5; lifted: Theorem 6), or
  ``k = n/2`` (Half-Clique).
* ``vertex-cover`` / ``vertex-cover-lifted``: ``G(n, edge_p)``; ``q`` = the minimum
  cover size plus ``q_offset`` (Section 5.3, lifted to real latents).
* ``random-net``: a random two-layer ReLU network ``n -> hidden -> outputs`` (weights
  ``N(0, 1/fan_in)``, biases ``N(0, 0.01)``), a target ``G(z*) + U(-0.1, 0.1)`` for
  ``z*`` uniform in the box ``[-1, 1]^n``, ``p = inf``; the radius is ``fraction`` times
  the least distance, whose lower bound is certified by :func:`geninv.workflows.certify`
  (``bab``'s checked proofs) within ``optimize_limit`` seconds.  Below 1 it is a *no*
  instance.  When the bound is not certified in time, the instance is *skipped* and its
  rows say why.
* ``trained``: a trained generator (``model``: ``digits``, the bundled 8x8-digits VAE
  decoder ``R^4 -> R^64``; ``mnist-vae``, the shared MNIST VAE decoder ``R^20 -> R^784``
  (sigmoid); ``mnist-gan``, the shared MNIST GAN generator ``R^64 -> R^784`` (tanh); the
  shared ones from ``$GENINV_MODELS_DIR`` or ``../shared/models``, skipped when absent).
  ``n`` is the number of latent coordinates kept: ``z = (z_1, ..., z_n, 0, ..., 0)``
  (:func:`restrict_latent`), so a sweep over n is over slices of one model.  The latent
  box is ``[-3, 3]^n`` and ``p = inf``; ``z*`` is uniform in ``[-1, 1]^n``.
  ``target = "image"``: ``x = G(z*)`` (exactly for a ReLU model, ``delta = 0``; the
  float image and ``delta = 10^-6`` after a sigmoid / tanh), a *yes* whose witness
  ``z*`` is re-checked exactly while generating.  ``target = "noisy"``:
  ``x = G(z*) + U(-noise, noise)`` and the radius as for ``random-net``.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from geninv.problem import InversionProblem

#: Significant decimal digits of a ``random-net`` / ``trained`` radius (:func:`round_radius`).
RADIUS_DIGITS = 3


@dataclass
class Instance:
    """A built cell instance: the inversion ``problem`` (None when ``skipped`` says
    why), its ``source`` (a CNF, CVP instance or graph), the source ``question`` the
    source solvers decide (e.g. ``{"k": 5}``), the ``expected`` answer when the
    generator knows it (planted, or decided exactly while generating), and ``info``
    (what the generator computed: clique number, minimum distance ...)."""

    problem: InversionProblem | None
    source: Any
    question: dict[str, Any]
    expected: str | None
    info: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


# ------------------------------------------------------------------ random sources
def random_ksat(
    n: int, m: int, k: int, rng: np.random.Generator, planted: bool = False
) -> tuple[tuple[int, ...], ...]:
    """``m`` clauses over variables ``1..n``, each of ``k`` distinct variables with
    uniform random signs.  ``planted``: a uniform hidden assignment is drawn first and
    every clause it falsifies is redrawn (the formula stays satisfiable)."""
    if k > n:
        from geninv.errors import ValidationError

        raise ValidationError(f"k-SAT with k = {k} needs at least {k} variables, got n = {n}")
    hidden = rng.choice([-1, 1], size=n) if planted else None
    clauses: list[tuple[int, ...]] = []
    while len(clauses) < m:
        vs = rng.choice(n, size=k, replace=False)
        signs = rng.choice([-1, 1], size=k)
        if hidden is not None and not any(hidden[v] == s for v, s in zip(vs, signs, strict=True)):
            continue
        clauses.append(tuple(int(v + 1) * int(s) for v, s in zip(vs, signs, strict=True)))
    return tuple(clauses)


def gnp(n: int, p: float, rng: np.random.Generator) -> Any:
    """An Erdős–Rényi graph ``G(n, p)``: each pair ``i < j`` (in row order) is an edge
    when a uniform draw is below ``p``."""
    from geninv.io.graphs import Graph

    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
    return Graph.from_edges(n, edges)


def clique_number(graph: Any) -> int:
    """The largest clique's size (networkx's exact ``max_weight_clique``, unit weights)."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(graph.edges)
    _, size = nx.max_weight_clique(g, weight=None)
    return int(size)


def min_cover_size(graph: Any) -> int:
    """The least vertex cover's size: ``n`` minus the clique number of the complement."""
    from geninv.io.graphs import Graph

    present = set(graph.edges)
    comp = [(i, j) for i in range(graph.n) for j in range(i + 1, graph.n) if (i, j) not in present]
    return int(graph.n - clique_number(Graph.from_edges(graph.n, comp)))


def _norm(p: Any) -> float:
    return math.inf if p == "inf" else float(p)


# ------------------------------------------------------------------ families
def _sat(family: str, params: dict[str, Any], n: int, rng: np.random.Generator) -> Instance:
    from geninv.io.dimacs import CNF
    from geninv.workflows import reduce

    m = max(1, round(params["density"] * n))
    cnf = CNF(n, random_ksat(n, m, params["k"], rng, planted=params["planted"]))
    domain = "sign" if family == "sat-thm1" else "real"
    problem, _ = reduce("sat", cnf, domain=domain)
    return Instance(problem, cnf, {}, "yes" if params["planted"] else None, {"m": m})


def _cvp(family: str, params: dict[str, Any], n: int, rng: np.random.Generator) -> Instance:
    from geninv.io.lattice import CVPInstance
    from geninv.oracles import cvp01_min_distance_pow
    from geninv.workflows import reduce

    a = params["entries"]
    basis = rng.integers(-a, a + 1, (n, n)).tolist()
    span = max(1, a * n // 4)
    target = rng.integers(-span, span + 1, n).tolist()
    p = _norm(params["p"])
    best = Fraction(cvp01_min_distance_pow(basis, target, p))
    bound = max(best + params["offset"], Fraction(0))
    if math.isinf(p):
        inst = CVPInstance(basis, target, radius=bound, radius_pow=None, p=p)
    else:
        inst = CVPInstance(basis, target, radius=None, radius_pow=bound, p=p)
    problem, _ = reduce("cvp", inst, p=p, lift=family == "cvp-thm4")
    expected = "yes" if best <= bound else "no"
    return Instance(problem, inst, {"p": p}, expected, {"min_distance_pow": str(best)})


def _clique(family: str, params: dict[str, Any], n: int, rng: np.random.Generator) -> Instance:
    from geninv.workflows import reduce

    g = gnp(n, params["edge_p"], rng)
    omega = clique_number(g)
    p = _norm(params["p"])
    if family == "half-clique":
        k = n // 2
        problem, _ = reduce("clique", g, k=None, half=True, p=p)
    else:
        k = min(max(omega + params["k_offset"], 1), n)
        problem, _ = reduce("clique", g, k=k, p=p, lift=family == "clique-thm6")
    info = {"edges": len(g.edges), "clique_number": omega, "k": k}
    return Instance(problem, g, {"k": k}, "yes" if omega >= k else "no", info)


def _cover(family: str, params: dict[str, Any], n: int, rng: np.random.Generator) -> Instance:
    from geninv.workflows import reduce

    g = gnp(n, params["edge_p"], rng)
    tau = min_cover_size(g)
    q = min(max(tau + params["q_offset"], 0), n)
    p = _norm(params["p"])
    problem, _ = reduce("vertex-cover", g, q=q, p=p, lift=family == "vertex-cover-lifted")
    info = {"edges": len(g.edges), "min_cover": tau, "q": q}
    return Instance(problem, g, {"q": q}, "yes" if tau <= q else "no", info)


def _net(params: dict[str, Any], n: int, rng: np.random.Generator) -> Instance:
    from geninv.network import ReLUNetwork

    h = params["hidden"] or 2 * n
    m = params["outputs"] or 2 * n
    w1 = rng.normal(0.0, 1.0 / math.sqrt(n), (h, n))
    b1 = rng.normal(0.0, 0.1, h)
    w2 = rng.normal(0.0, 1.0 / math.sqrt(h), (m, h))
    b2 = rng.normal(0.0, 0.1, m)
    net = ReLUNetwork([w1, w2], [b1, b2], final_activation="identity")
    z_star = rng.uniform(-1.0, 1.0, n)
    x = net.forward(z_star[None, :])[0] + rng.uniform(-0.1, 0.1, m)
    return _at_radius(net, x, 1.0, params)


def round_radius(v: Fraction, up: bool, digits: int = RADIUS_DIGITS) -> Fraction:
    """``v`` (> 0) rounded to ``digits`` significant decimal digits, up or down: the
    direction keeps a *yes* radius at or above the best distance and a *no* radius at or
    below the certified bound, and the rounding makes the radius the same whatever small
    float differences two runs of the optimiser had."""
    if v <= 0:
        return Fraction(0)
    e = math.floor(math.log10(v)) - digits + 1
    scale = Fraction(10) ** e
    q = v / scale
    k = math.ceil(q) if up else math.floor(q)
    return k * scale


def _at_radius(net: Any, x: Any, bound: float, params: dict[str, Any]) -> Instance:
    """``||G(z) - x||_inf <= r`` over ``[-bound, bound]^n`` with ``r`` = ``fraction`` times
    the least distance: its certified lower bound below 1 (a *no*), the best distance
    found at 1 and above (a *yes*), rounded to :data:`RADIUS_DIGITS` significant digits
    in the direction that keeps the answer (:func:`round_radius`); skipped when that
    bound or point is not found within ``optimize_limit`` seconds.

    The bound comes from a time-limited search, so two workers may reach different
    bounds for one seed; the row records the radius (``instance_info.radius``, exact in
    ``radius_exact``) and :func:`build_instance` rebuilds the row's own instance from it
    (``radius=``), as ``geninv lab export`` does."""
    from geninv.workflows import certify, new_problem

    n = net.n_inputs
    box = {"domain": "box", "lower": [-bound] * n, "upper": [bound] * n, "p": "inf"}
    frac = params["fraction"]
    expected: str | None = "no" if frac < 1 else "yes"
    info: dict[str, Any] = {}
    if params.get("_radius") is not None:
        radius = Fraction(str(params["_radius"]))
        info["rebuilt_from_radius"] = True
    else:
        probe = new_problem(net, list(x), threshold=0, **box)  # type: ignore[arg-type]
        report = certify(probe, time_limit=params["optimize_limit"], seed=0)
        info.update(
            {
                "lower_bound": report.lower_bound,
                "best_distance": report.best_distance,
                "certified": report.lower_bound_certified,
                "certify_seconds": report.seconds,
            }
        )
        if frac < 1:
            if not report.lower_bound_certified or report.lower_bound is None:
                why = report.no_bound_reason or report.lower_bound_how or "no certified bound"
                skip = (
                    f"skipped: the least distance had no certified lower bound within "
                    f"optimize_limit = {params['optimize_limit']:g} s ({why})"
                )
                return Instance(None, None, {}, None, info, skipped=skip)
            radius = round_radius(Fraction(frac) * Fraction(report.lower_bound), up=False)
        else:
            if report.best_distance is None:
                skip = "skipped: no point found to set the radius from"
                return Instance(None, None, {}, None, info, skipped=skip)
            radius = round_radius(Fraction(frac) * Fraction(report.best_distance), up=True)
    info["radius"] = float(radius)
    info["radius_exact"] = str(radius)
    problem = new_problem(net, list(x), threshold=radius, **box)  # type: ignore[arg-type]
    return Instance(problem, None, {}, expected, info)


#: trained model -> (file under the shared models folder or None: bundled, latent
#: dimension, latent box half-width).
TRAINED: dict[str, tuple[str | None, int, float]] = {
    "digits": (None, 4, 3.0),
    "mnist-vae": ("mnist_vae_epoch_25.npz", 20, 3.0),
    "mnist-gan": ("mnist_gan_mlp_G--300.npz", 64, 3.0),
}
_TRAINED_ARCH = {
    "mnist-vae": ("linear:fc3,relu,linear:fc4,sigmoid", ("fc1", "fc21", "fc22")),
    "mnist-gan": ("0,relu,2,relu,4,tanh", ()),
}


def models_dir() -> Any:
    """The shared models folder: ``$GENINV_MODELS_DIR``, else ``../shared/models``
    beside the checkout (as the bench scripts and tests find it)."""
    import os
    from pathlib import Path

    env = os.environ.get("GENINV_MODELS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "models"


@functools.lru_cache(maxsize=3)
def trained_generator(model: str) -> Any:
    """The trained generator ``model`` (:data:`TRAINED`): the bundled 8x8-digits VAE
    decoder (:func:`geninv.sensing.load_digits_generator`, 4 -> 64, ReLU), or a shared
    MNIST model (VAE decoder 20 -> 400 -> 784 sigmoid; GAN 64 -> 256 -> 256 -> 784 tanh),
    None when its file is absent."""
    if model == "digits":
        from geninv.sensing import load_digits_generator

        return load_digits_generator()
    from geninv.io.torch_io import load_npz

    path = models_dir() / str(TRAINED[model][0])
    if not path.is_file():
        return None
    arch, ignore = _TRAINED_ARCH[model]
    return load_npz(path, arch, ignore=ignore)


def restrict_latent(net: Any, n: int) -> Any:
    """``G`` with its latent restricted to the first ``n`` coordinates, the others fixed
    at 0: the first layer keeps its first ``n`` weight columns (exactly), the rest as is."""
    from geninv.network import ReLUNetwork

    layers = net.layers
    first = layers[0]
    if first.exact_weight is not None:
        ws: list[Any] = [[row[:n] for row in first.exact_weight]]
    else:
        ws = [np.asarray(first.weight)[:, :n]]
    ws += [la.exact_weight if la.exact_weight is not None else la.weight for la in layers[1:]]
    bs = [la.exact_bias if la.exact_bias is not None else la.bias for la in layers]
    return ReLUNetwork(ws, bs, activations=[la.activation_label for la in layers])


def _trained(params: dict[str, Any], n: int, rng: np.random.Generator) -> Instance:
    """A trained generator's instance (see the module docstring)."""
    from geninv.workflows import new_problem

    model = params["model"]
    full = trained_generator(model)
    if full is None:
        where = models_dir() / str(TRAINED[model][0])
        skip = f"skipped: the {model} model is not present ({where}; set GENINV_MODELS_DIR)"
        return Instance(None, None, {}, None, {"model": model}, skipped=skip)
    net = restrict_latent(full, n)
    bound = TRAINED[model][2]
    z_star = rng.uniform(-1.0, 1.0, n)
    if params["target"] == "image":
        exact = all(la.activation in ("relu", "identity") for la in net.layers)
        zq = [Fraction(float(v)) for v in z_star]
        x: Any = net.forward_exact(zq) if exact else list(net.forward(z_star[None, :])[0])
        delta = Fraction(0) if exact else Fraction(1, 10**6)
        box = {"domain": "box", "lower": [-bound] * n, "upper": [bound] * n, "p": "inf"}
        problem = new_problem(net, list(x), threshold=delta, **box)  # type: ignore[arg-type]
        meets = problem.exact_check(zq).meets
        info = {"model": model, "z_star": [str(v) for v in zq], "delta": str(delta)}
        return Instance(problem, None, {}, "yes" if meets else None, info)
    noise = rng.uniform(-params["noise"], params["noise"], net.n_outputs)
    x = net.forward(z_star[None, :])[0] + noise
    inst = _at_radius(net, x, bound, params)
    inst.info["model"] = model
    return inst


@functools.lru_cache(maxsize=4)
def _build_cached(family: str, params_json: str, n: int, seed: int) -> Instance:
    params = json.loads(params_json)
    rng = np.random.default_rng(seed)
    if family in ("sat-thm1", "sat-thm2"):
        return _sat(family, params, n, rng)
    if family in ("cvp-thm3", "cvp-thm4"):
        return _cvp(family, params, n, rng)
    if family in ("clique-thm5", "clique-thm6", "half-clique"):
        return _clique(family, params, n, rng)
    if family in ("vertex-cover", "vertex-cover-lifted"):
        return _cover(family, params, n, rng)
    if family == "random-net":
        return _net(params, n, rng)
    if family == "trained":
        return _trained(params, n, rng)
    from geninv.errors import UnsupportedError

    raise UnsupportedError(f"unknown lab family {family!r}")


def build_instance(
    family: str, params: dict[str, Any], n: int, seed: int, *, radius: str | None = None
) -> Instance:
    """The instance of one cell (a worker keeps the last few, since every solver of a
    cell coordinate solves the same instance).  A pure function of its arguments except
    for the radius of ``random-net`` and ``trained`` noisy targets, which comes from a
    time-limited search: ``radius`` (a row's ``instance_info.radius_exact``) rebuilds
    that row's instance exactly."""
    if radius is not None:
        params = {**params, "_radius": radius}
    return _build_cached(family, json.dumps(params, sort_keys=True), n, seed)
