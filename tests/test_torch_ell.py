"""The approximate backends' torch generator runs sparse dense-stored layers (inpainting
selections, block means, blurs) as gathers: the same outputs as the matrix product."""

from __future__ import annotations

import numpy as np
import pytest

from geninv.network import ReLUNetwork
from geninv.operators import BlurOperator, InpaintOperator, SuperResOperator, gaussian_kernel
from geninv.solvers.approx import torch_ops

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["inpaint", "superres", "blur", "dense"])
def test_sparse_layers_run_as_gathers_with_the_same_outputs(kind: str) -> None:
    rng = np.random.default_rng(3)
    q = 28 * 28
    if kind == "inpaint":
        a = InpaintOperator.random((28, 28), 0.6, 1).dense()
    elif kind == "superres":
        a = SuperResOperator((28, 28), 2).dense()
    elif kind == "blur":
        a = BlurOperator((28, 28), gaussian_kernel(1.0)).dense()
    else:
        a = rng.normal(size=(50, q))
    w1 = rng.normal(size=(q, 6))
    net = ReLUNetwork(
        [w1, a], [rng.normal(size=q), np.zeros(a.shape[0])], activations=["sigmoid", "identity"]
    )
    gen = torch_ops.TorchGenerator.from_network(net, torch.device("cpu"), torch.float64)
    gathered = gen.structured[1] is not None
    assert gathered == (kind != "dense")
    z = torch.tensor(rng.normal(size=(5, 6)))
    want = net.forward(z.numpy())
    got = gen(z).detach().numpy()
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    # gradients flow through the gather as through the product
    zz = z.clone().requires_grad_(True)
    gen(zz).sum().backward()
    assert zz.grad is not None and torch.isfinite(zz.grad).all()
