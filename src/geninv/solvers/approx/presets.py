"""Named presets: the settings an approximate backend's paper published, as data.

A preset is a backend name, its options and where the numbers come from.  Select
one with ``geninv solve --preset NAME`` / ``geninv sense --preset NAME`` or
``geninv.workflows.solve(problem, preset=NAME)``; options given beside it
(``--option KEY=VALUE``, ``options=``) override the preset's.  The backends' own
defaults are geninv's (tuned for exact inversion) and are *not* the papers'.

CSGM (Bora, Jalal, Price & Dimakis, "Compressed sensing using generative
models", ICML 2017): the estimate is ``G(z^)`` with ``z^`` minimising

    ||A G(z) - y||_2^2 + lambda ||z||_2^2          (paper eq. (2))

with ``A`` of i.i.d. N(0, 1/m) entries, by Adam from ``z0 ~ N(0, I)``, several
random restarts, keeping the restart with the least measurement error.  The
numbers are those of the authors' released experiment scripts
(``quant_scripts/mnist_reconstruction.sh`` and
``quant_scripts/celebA_reconstruction.sh`` of their repository), which use
N(0, 1) entries and average the measurement loss over m -- the same function as
the paper's at N(0, 1/m).  The scripts select the restart by the total loss
(measurement + lambda ||z||^2); the paper's text says by measurement error, which
is what geninv's runner ranks by (``keep="last"``: each restart's final iterate,
as in the scripts).  CSGM publishes no MNIST GAN setting (its MNIST experiments
use the VAE only), so there is no ``csgm-mnist-gan``.

PGD-GAN (Shah & Hegde, ICASSP 2018, arXiv 1802.08406): ``pgdgan-celeba-dcgan`` from
the authors' released script (``exp_scripts/pgdgan.sh``: celebA, DCGAN, m = 1000).
No ``pgdgan-mnist``: looked for again (issue 17's last target), the stored copies of
the paper reachable in this session (arXiv abstract, ar5iv's opening sections) and the
authors' released scripts give no MNIST setting -- the released experiment is celebA
only, and no MNIST step size, iteration counts or generator could be read.  (The
``pgd`` rows of the ADMM authors' ``src/params.py`` -- ``mnist_elu``: lr 1.0,
``n_iter_p`` 5, ``lr_x`` 0.1 -- are their own PGD baseline's loop, a z step per
iteration with an x step every ``n_iter_p``, not Shah & Hegde's algorithm or numbers,
so they are not a PGD-GAN preset either.)

ADMM (Latorre, Eftekhari & Cevher, "Fast and provable ADMM for learning with
generative priors", NeurIPS 2019): ``admm-mnist-elu``.  The authors' released commands
for their MNIST results (``reproduce_commands.txt``: 3000 iterations, 3 restarts,
``--normalize``) all pass ``--elu`` -- a generator with ELU hidden layers -- and use
the ``mnist_elu`` table of their ``src/params.py``: ``eadmm``, the exact x-update,
gamma 0.02, beta 50, sigma 100.  Their code (the solver routine ``al``, with the
``AugmentedLagrangian`` class of ``src/augmented_lagrangian.py`` and the
``MeasurementError`` objective of ``src/functions.py``) defines, per iteration t: a
gradient step on ``z`` of the augmented Lagrangian of ``f(x) = 1/2 ||A x - y||^2``
with step ``gamma / beta``; ``x`` its exact minimiser
``(A^T A + beta I)^-1 (A^T y - l + beta G(z))``; ``l += sigma (x - G(z))``; then the
adaptive penalty ``adaptive_bs`` (geninv's ``schedule="adaptive"``); ``x0 = G(z0)``,
``l0 = 0``; and it returns ``G(z)`` at the iterate of least ``f(G(z))`` (geninv's
``keep="best"``, which ranks by ``||A G(z) - y||``: the same order).  geninv's
``admm`` runs exactly this with ``f_weight = 1/2`` (its default weight 1 is
``||A x - y||^2``).  (geninv's defaults, gamma 0.004, beta 50, sigma 50, are that
file's ``mnist_relu`` table, which no released command uses.)  The authors' MNIST
generators are not shipped; ``scripts/train_elu_generator.py`` trains a stand-in
(``bench/bench_admm_preset.py``).

Langevin: Jalal et al. 2021 sample the posterior in pixel space with a
score-based model; geninv's ``langevin`` is latent-space SGLD (Nguyen, Jagatap &
Hegde 2021), whose paper's step size and temperature could not be read in this
session (only its abstract was reachable).  No preset.  See docs/solvers.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from geninv.errors import ValidationError


@dataclass(frozen=True)
class Preset:
    """One published setting: ``backend`` run with ``options``."""

    name: str
    backend: str
    options: Mapping[str, Any]
    citation: str
    source: str  # where the numbers were read
    notes: str = ""
    unstated: tuple[str, ...] = field(default=())  # settings the publication does not give

    def describe(self) -> str:
        """One line: name, backend, options and citation."""
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.name}: {self.backend} ({opts}) -- {self.citation}"


def _frozen(d: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


_CSGM = "Bora, Jalal, Price & Dimakis, Compressed sensing using generative models, ICML 2017"

#: name -> preset (the table every entry point reads).
PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "csgm-mnist-vae": Preset(
            name="csgm-mnist-vae",
            backend="adam",
            options=_frozen(
                {"lr": 0.01, "lam": 0.1, "steps": 1000, "restarts": 10, "keep": "last"}
            ),
            citation=_CSGM + ", Sec. 6 (MNIST, VAE)",
            source="the authors' quant_scripts/mnist_reconstruction.sh: adam, learning rate "
            "0.01, 1000 update steps, 10 random restarts, zprior_weight 0.1",
            notes="loss ||A G(z) - y||^2 + 0.1 ||z||^2 with A ~ N(0, 1/m); final iterate of "
            "each restart; the restart with the least measurement error",
            unstated=("Adam's beta1, beta2, eps (TensorFlow defaults 0.9, 0.999, 1e-8 assumed)",),
        ),
        "csgm-celeba-dcgan": Preset(
            name="csgm-celeba-dcgan",
            backend="adam",
            options=_frozen(
                {"lr": 0.1, "lam": 0.001, "steps": 500, "restarts": 10, "keep": "last"}
            ),
            citation=_CSGM + ", Sec. 6 (celebA, DCGAN + Reg)",
            source="the authors' quant_scripts/celebA_reconstruction.sh ('DCGAN + Reg'): adam, "
            "learning rate 0.1, 500 update steps, 10 random restarts, zprior_weight 0.001",
            notes="the paper's discriminator term (dloss) is not implemented (weight 0 here, "
            "one of the two published variants)",
            unstated=("Adam's beta1, beta2, eps (TensorFlow defaults 0.9, 0.999, 1e-8 assumed)",),
        ),
        "admm-mnist-elu": Preset(
            name="admm-mnist-elu",
            backend="admm",
            options=_frozen(
                {
                    "gamma": 0.02,
                    "beta": 50.0,
                    "sigma": 100.0,
                    "schedule": "adaptive",
                    "f_weight": 0.5,
                    "steps": 3000,
                    "restarts": 3,
                    "keep": "best",
                }
            ),
            citation="Latorre, Eftekhari & Cevher, Fast and provable ADMM for learning with "
            "generative priors, NeurIPS 2019 (MNIST, ELU generator)",
            source="the authors' src/params.py table mnist_elu, entry eadmm (exact x-update): "
            "gamma 0.02, beta 50, sigma 100; reproduce_commands.txt: 3000 iterations, "
            "3 restarts, --elu --normalize; their solver al(): z step, exact x step, "
            "dual step, adaptive_bs; f = 1/2 ||A x - y||^2 (src/functions.py)",
            notes="f(x) = 1/2 ||A x - y||^2 (f_weight 0.5), the exact x-update, the adaptive "
            "penalty; each restart's iterate of least measurement error, the restart of least "
            "measurement error; the authors' ELU generators are not shipped",
            unstated=(
                "what --normalize does (the authors' main script could not be read in this "
                "session): taken as A with N(0, 1/m) entries, geninv's sensing convention",
                "how the 3 restarts are compared (taken: least measurement error, as the "
                "iterate within a restart)",
                "the distribution of z0 (taken: N(0, I), as their generators' prior)",
            ),
        ),
        "pgdgan-celeba-dcgan": Preset(
            name="pgdgan-celeba-dcgan",
            backend="pgd",
            options=_frozen(
                {
                    "outer_steps": 10,
                    "inner_steps": 100,
                    "eta": 0.5,
                    "lr": 0.1,
                    "inner_optimizer": "momentum",
                    "momentum": 0.9,
                    "restarts": 1,
                    "keep": "last",
                }
            ),
            citation="Shah & Hegde, Solving linear inverse problems using GAN priors: an "
            "algorithm with provable guarantees, ICASSP 2018 (celebA, DCGAN, m = 1000)",
            source="the authors' exp_scripts/pgdgan.sh and src/pgdgan.py defaults: outer "
            "learning rate 0.5, 10 outer iterations, 100 inner updates at learning rate 0.1 "
            "with the default optimizer (momentum 0.9), 1 restart, x0 = 0, A ~ N(0, 1/m)",
            notes="the paper reports no MNIST setting; the released script leaves the "
            "projection's loss weight (mloss2_weight) at its default 0.0, which would make "
            "the inner loss zero -- geninv uses weight 1 (the projection the paper describes)",
            unstated=("the projection's loss weight (see notes)",),
        ),
    }
)


def preset_names() -> list[str]:
    """The presets' names, sorted."""
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset ``name``; ValidationError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValidationError(
            f"unknown preset {name!r}; expected one of: {', '.join(preset_names())}"
        ) from None


def apply_preset(
    name: str, method: str | None, options: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """``(backend, options)`` for preset ``name``: the preset's options overridden by
    ``options``; ``method`` may be None, ``"auto"`` or the preset's backend (anything
    else is a ValidationError: a preset is one backend's setting)."""
    preset = get_preset(name)
    if method not in (None, "auto", preset.backend):
        raise ValidationError(
            f"preset {name!r} is a setting of backend {preset.backend!r}, not {method!r}: "
            f"drop --method or give --method {preset.backend}"
        )
    merged = dict(preset.options)
    merged.update(options or {})
    return preset.backend, merged
