"""The shared float interval step (:mod:`geninv.bounds`, issue 16) against exact rationals.

Every bound is compared with the exact interval of the same box computed in
``Fraction`` arithmetic (an independent reference written here: the step's
bounds must contain it), on random layers with magnitudes 1e-6 .. 1e6, in both
forms and with both margins in use (the bab's and the MILP's).  The reference
check is shown to fail on an unwidened step, and the two forms are pinned to
the formulas their callers were built on (bit for bit).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

from geninv.bounds import (
    BAB_MARGIN,
    REL_MARGIN,
    Margin,
    activation_bounds,
    affine_bounds,
    interval_bounds,
    propagate,
    rounding_rel,
)
from geninv.network import FloatArray, Layer, ReLUNetwork
from geninv.solvers.milp.tighten import MILP_MARGIN

ExactBox = list[tuple[Fraction, Fraction]]


def _exact_affine(w: FloatArray, b: FloatArray, box: ExactBox) -> ExactBox:
    """The exact interval of ``W h + b`` over ``box`` (each term at its own end)."""
    out = []
    for row, bj in zip(w.tolist(), b.tolist(), strict=True):
        lo = hi = Fraction(bj)
        for wk, (a, c) in zip(row, box, strict=True):
            x, y = Fraction(wk) * a, Fraction(wk) * c
            lo += min(x, y)
            hi += max(x, y)
        out.append((lo, hi))
    return out


def _exact_act(box: ExactBox, kind: str, alpha: Fraction) -> ExactBox:
    if kind == "identity":
        return box
    return [(a if a >= 0 else alpha * a, c if c >= 0 else alpha * c) for a, c in box]


def _contains(lo: FloatArray, hi: FloatArray, exact: ExactBox) -> list[int]:
    """Units whose float interval misses part of the exact one."""
    return [
        j
        for j, (a, c) in enumerate(exact)
        if not (Fraction(float(lo[j])) <= a and c <= Fraction(float(hi[j])))
    ]


def _random_layer(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[FloatArray, FloatArray]:
    mags = 10.0 ** rng.uniform(-6, 6, size=(n_out, n_in))
    w = rng.choice([-1.0, 1.0], size=(n_out, n_in)) * mags * rng.uniform(0.5, 1.5, (n_out, n_in))
    w[rng.random(w.shape) < 0.1] = 0.0
    b = rng.choice([-1.0, 1.0], size=n_out) * 10.0 ** rng.uniform(-6, 6, size=n_out)
    return w, b


def _random_box(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    lo = rng.choice([-1.0, 1.0], size=n) * 10.0 ** rng.uniform(-6, 6, size=n)
    hi = lo + 10.0 ** rng.uniform(-6, 6, size=n) * (rng.random(n) < 0.9)  # some points
    return lo, hi


@pytest.mark.parametrize("form", ["split", "centre"])
@pytest.mark.parametrize("margin", [BAB_MARGIN, MILP_MARGIN], ids=["bab", "milp"])
def test_affine_step_is_outward_on_random_layers(form: str, margin: Margin) -> None:
    rng = np.random.default_rng(16)
    for _ in range(150):
        n_in, n_out = (int(v) for v in rng.integers(1, 9, size=2))
        w, b = _random_layer(rng, n_in, n_out)
        lo, hi = _random_box(rng, n_in)
        flo, fhi, mag = affine_bounds(w, b, lo, hi, form=form, margin=margin)  # type: ignore[arg-type]
        exact = _exact_affine(
            w, b, [(Fraction(a), Fraction(c)) for a, c in zip(lo, hi, strict=True)]
        )
        assert _contains(flo, fhi, exact) == []
        # mag bounds |W h + b| on the box (what error accounting relies on)
        for j, (a, c) in enumerate(exact):
            assert max(abs(a), abs(c)) <= Fraction(float(mag[j])) * (1 + Fraction(1, 10**9))


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "identity"])
@pytest.mark.parametrize("form", ["split", "centre"])
def test_propagation_is_outward_through_random_networks(kind: str, form: str) -> None:
    rng = np.random.default_rng(1600 + len(kind))
    for _ in range(40):
        widths = [int(v) for v in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
        alpha = Fraction(1, int(rng.integers(2, 50))) if kind == "leaky_relu" else Fraction(0)
        layers = []
        for i in range(len(widths) - 1):
            w, b = _random_layer(rng, widths[i], widths[i + 1])
            layers.append(Layer(w, b, kind, negative_slope=alpha))
        lo, hi = _random_box(rng, widths[0])
        got = propagate(layers, lo, hi, form=form, margin=BAB_MARGIN)  # type: ignore[arg-type]
        box: ExactBox = [(Fraction(a), Fraction(c)) for a, c in zip(lo, hi, strict=True)]
        for layer, (flo, fhi) in zip(layers, got, strict=True):
            exact = _exact_affine(np.asarray(layer.weight), np.asarray(layer.bias), box)
            assert _contains(flo, fhi, exact) == []
            box = _exact_act(exact, kind, alpha)


def test_the_reference_check_catches_an_unwidened_step() -> None:
    """1e16 + 1 rounds to 1e16: the bare float interval misses the exact value."""
    w = np.array([[1.0, 1.0]])
    b = np.zeros(1)
    lo = hi = np.array([1e16, 1.0])
    exact = _exact_affine(w, b, [(Fraction(1e16), Fraction(1e16)), (Fraction(1), Fraction(1))])
    for form in ("split", "centre"):
        flo, fhi, _ = affine_bounds(w, b, lo, hi, form=form, margin=None)  # type: ignore[arg-type]
        assert _contains(flo, fhi, exact) == [0]
        flo, fhi, _ = affine_bounds(w, b, lo, hi, form=form)  # type: ignore[arg-type]
        assert _contains(flo, fhi, exact) == []


def test_the_forms_keep_their_callers_formulas_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    w, b = _random_layer(rng, 6, 5)
    lo, hi = _random_box(rng, 6)
    wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
    mag = np.abs(w) @ np.maximum(np.abs(lo), np.abs(hi)) + np.abs(b)
    pad = REL_MARGIN * mag + 1e-300
    flo, fhi, fmag = affine_bounds(w, b, lo, hi, form="split")
    assert np.array_equal(flo, wp @ lo + wn @ hi + b - pad)
    assert np.array_equal(fhi, wp @ hi + wn @ lo + b + pad)
    assert np.array_equal(fmag, mag)
    mid, rad = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo
    centre, radius = w @ mid + b, np.abs(w) @ rad
    slack = 1e-9 * mag + np.where(mag > 0, 1e-300, 0.0)
    clo, chi, _ = affine_bounds(w, b, lo, hi, form="centre", margin=MILP_MARGIN)
    assert np.array_equal(clo, centre - radius - slack)
    assert np.array_equal(chi, centre + radius + slack)
    # a unit with nothing in it stays exactly [0, 0] under the MILP's margin only
    z = np.zeros((1, 6))
    assert affine_bounds(z, np.zeros(1), lo, hi, form="centre", margin=MILP_MARGIN)[0][0] == 0.0
    assert affine_bounds(z, np.zeros(1), lo, hi)[0][0] < 0.0


def test_long_rows_get_the_rounding_bound_instead_of_the_fixed_margin() -> None:
    assert rounding_rel(8000) < REL_MARGIN < rounding_rel(10_000)
    n = 20_000
    w = np.ones((1, n))
    flo, fhi, _ = affine_bounds(w, np.zeros(1), np.ones(n), np.ones(n))
    assert fhi[0] - float(n) >= rounding_rel(n) * float(n) * 0.99
    assert float(n) - flo[0] >= rounding_rel(n) * float(n) * 0.99


def test_interval_bounds_is_propagate_with_the_bab_margin() -> None:
    rng = np.random.default_rng(3)
    w1, b1 = _random_layer(rng, 3, 4)
    w2, b2 = _random_layer(rng, 4, 2)
    net = ReLUNetwork.from_layers([Layer(w1, b1, "relu"), Layer(w2, b2, "identity")])
    lo, hi = -np.ones(3), np.ones(3)
    fixed = {(1, 0): 1, (1, 1): 0}
    got = interval_bounds(net, lo, hi, fixed)
    want = propagate(net.layers, lo, hi, fixed=fixed)
    assert all(
        np.array_equal(a, c) and np.array_equal(b, d)
        for (a, b), (c, d) in zip(got, want, strict=True)
    )
    assert got[0][0][0] >= 0.0 and got[0][1][1] <= 0.0  # the fixings are applied


def _dec(v: float) -> Decimal:
    return Decimal(v)  # exact


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_smooth_activations_are_outward(kind: str) -> None:
    """Against 50-digit decimal exponentials (an independent reference)."""
    rng = np.random.default_rng(5)
    v = np.concatenate(
        [rng.normal(size=200) * 10.0 ** rng.uniform(-6, 1.5, size=200), [0.0, 1e-300, -40.0]]
    )
    lo, hi = activation_bounds(v, v, kind, 0.0)
    with localcontext() as ctx:
        ctx.prec = 50
        for x, a, c in zip(v.tolist(), lo.tolist(), hi.tolist(), strict=True):
            d = _dec(x)
            true = (
                1 / (1 + (-d).exp())
                if kind == "sigmoid"
                else ((2 * d).exp() - 1) / ((2 * d).exp() + 1)
            )
            assert _dec(a) <= true <= _dec(c), (x, a, c)
    assert np.all(lo <= hi)


def test_unknown_activation_is_refused() -> None:
    with pytest.raises(ValueError, match="softplus"):
        activation_bounds(np.zeros(1), np.zeros(1), "softplus", 0.0)
