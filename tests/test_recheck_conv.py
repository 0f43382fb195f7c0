"""The float re-check on structured (convolutional) layers, without their dense matrices.

``recheck.forward_enclosure`` used to build each layer's dense weight matrix, which
the shared MNIST DCGAN's layers exceed (``GENINV_MAX_DENSE``): every approximate
``solve`` on it raised DenseTooLargeError in its final re-check.  Here the
structured path's enclosure must contain the exact value (piecewise-linear nets,
``forward_exact``), and a network above the dense limit is re-checked.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from geninv.io.torch_io import from_sequential  # noqa: E402
from geninv.network import ReLUNetwork  # noqa: E402
from geninv.problem import Domain, InversionProblem  # noqa: E402
from geninv.recheck import float_check, forward_enclosure  # noqa: E402


def tiny_dcgan(seed: int, last: nn.Module, scale: float = 1.0) -> ReLUNetwork:
    """z (4, 1, 1) -> ConvT(4, 3, 3, s2) -> BN -> ReLU -> ConvT(3, 1, 4, s2) -> last."""
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(3)
    module = nn.Sequential(
        nn.ConvTranspose2d(4, 3, 3, stride=2),
        bn,
        nn.ReLU(),
        nn.ConvTranspose2d(3, 1, 4, stride=2),
        last,
    ).double()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.1, 3)
        bn.weight.uniform_(-4, 4)
        for p in module.parameters():
            p.mul_(scale)
    module.eval()
    net = from_sequential(module, input_shape=(4, 1, 1))
    assert net.is_structured
    return net


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("zscale", [2.0**-40, 1.0, 2.0**20])
def test_structured_enclosure_contains_exact(seed: int, zscale: float) -> None:
    last = nn.Identity() if seed % 2 else nn.ReLU()
    net = tiny_dcgan(seed, last)
    rng = np.random.default_rng(seed)
    z = rng.normal(size=net.n_inputs) * zscale
    enc = forward_enclosure(net, z, np.zeros_like(z))
    assert enc is not None
    exact = net.forward_exact([Fraction(float(v)) for v in z])
    for o, e, x in zip(enc.out, enc.err, exact, strict=True):
        assert abs(Fraction(float(o)) - x) <= Fraction(float(e))
    # the bound is a rounding bound, not a vacuous one
    assert float(np.max(enc.err)) <= 1e-10 * max(1.0, float(np.max(np.abs(enc.out))))


def test_structured_enclosure_with_input_error() -> None:
    net = tiny_dcgan(3, nn.Identity())
    z = np.random.default_rng(1).normal(size=net.n_inputs)
    z_err = np.full_like(z, 1e-6)
    enc = forward_enclosure(net, z, z_err)
    assert enc is not None
    # every point of the input box maps inside the enclosure
    for k in range(5):
        zz = z + z_err * np.random.default_rng(k).uniform(-1, 1, size=z.size)
        exact = net.forward_exact([Fraction(float(v)) for v in zz])
        for o, e, x in zip(enc.out, enc.err, exact, strict=True):
            assert abs(Fraction(float(o)) - x) <= Fraction(float(e))


def test_float_check_above_the_dense_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """With GENINV_MAX_DENSE below the layers' sizes the re-check still decides (tanh
    output, as the DCGAN), and agrees with the dense computation."""
    net = tiny_dcgan(5, nn.Tanh())
    z = np.random.default_rng(2).normal(size=net.n_inputs)
    out = net.forward(z)
    target = [float(v) for v in out + 0.01]
    dist = float(np.linalg.norm(out - np.asarray(target)))
    zf = [Fraction(float(v)) for v in z]
    monkeypatch.setenv("GENINV_MAX_DENSE", "4")
    for factor, meets in ((0.9, False), (1.1, True)):
        problem = InversionProblem(
            net, target, Domain("real"), p=2, threshold=Fraction(factor * dist)
        )
        verdict = float_check(problem, zf)
        assert verdict is not None
        assert verdict.meets is meets
        assert math.isclose(verdict.distance, dist, rel_tol=1e-9)
