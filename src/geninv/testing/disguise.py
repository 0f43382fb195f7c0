"""A network in another form: the same function, other weights.

A user's exported network is rarely the construction itself: training and
export tools rescale units, reorder them and leave dead units behind.
:func:`disguise_network` does the same to a ReLU network, in float64:

* per hidden unit a positive scale ``c`` drawn from [0.5, 2] multiplies its
  incoming weights and bias and divides its outgoing weights (ReLU is positively
  homogeneous, so the function is unchanged up to rounding);
* the units of every hidden layer are permuted;
* optionally a dead unit is added to the widest hidden layer: random incoming
  weights and a bias below the least value they reach on that layer's inputs
  (given as a bound ``reach`` on them), random outgoing weights.

Used by the tests of :mod:`geninv.reductions.snap` and by
``bench/bench_certified.py`` (issue 14's Part B).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geninv.network import ReLUNetwork


def disguise_network(
    net: ReLUNetwork,
    rng: np.random.Generator,
    input_bound: float | None = None,
) -> ReLUNetwork:
    """``net`` rescaled and permuted per hidden unit (module docstring); with
    ``input_bound`` (every input of the widest hidden layer lies in
    ``[-input_bound, input_bound]``) a dead unit is added there first."""
    ws: list[Any] = [np.array(la.weight, dtype=np.float64) for la in net.layers]
    bs: list[Any] = [np.array(la.bias, dtype=np.float64) for la in net.layers]
    if input_bound is not None and len(ws) > 1:
        wide = max(range(len(ws) - 1), key=lambda l: ws[l].shape[0])
        w_in = rng.normal(0.0, 1.0, ws[wide].shape[1])
        reach = input_bound * float(np.abs(w_in).sum())  # the most w_in . a reaches
        at = int(rng.integers(0, ws[wide].shape[0] + 1))
        ws[wide] = np.insert(ws[wide], at, w_in, axis=0)
        bs[wide] = np.insert(bs[wide], at, -reach - 1.0)
        w_out = rng.normal(0.0, 1.0, ws[wide + 1].shape[0])
        ws[wide + 1] = np.insert(ws[wide + 1], at, w_out, axis=1)
    for layer in range(len(ws) - 1):  # hidden layer ``layer`` feeds layer + 1
        c = rng.uniform(0.5, 2.0, ws[layer].shape[0])
        ws[layer] *= c[:, None]
        bs[layer] *= c
        ws[layer + 1] /= c[None, :]
        perm = rng.permutation(ws[layer].shape[0])
        ws[layer], bs[layer] = ws[layer][perm], bs[layer][perm]
        ws[layer + 1] = ws[layer + 1][:, perm]
    return ReLUNetwork(ws, bs, activations=[la.activation_label for la in net.layers])
