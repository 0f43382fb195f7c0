"""The ReLU network of the paper's eq. (3).

    G_1(z) = act(W_1 z + b_1),   G_l(z) = act(W_l G_{l-1}(z) + b_l),  l = 2..L

where every layer's activation is ReLU, except that the last layer may use the
identity instead (``final_activation="identity"``) for networks whose output is
affine in the last hidden layer.

Each layer is stored twice: as float64 arrays for fast batched evaluation, and
as exact rationals (:class:`fractions.Fraction`) for certificates.  Built from
floats, the exact copy is the exact value of each float (every float64 is a
dyadic rational), so the two agree bit for bit on integer-weight networks.
Built from Fractions (e.g. weights 1/3), the float copy is the nearest float,
and exact evaluation uses the true rationals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
Activation = Literal["relu", "identity"]
Number = int | float | Fraction

# One sparse exact row: (column indices, coefficients) with zero entries dropped.
_SparseRow = tuple[tuple[int, ...], tuple[Fraction, ...]]


def to_fraction(value: Any, what: str = "value") -> Fraction:
    """Exact rational value of an int, float, Fraction, numpy scalar or 'p/q' string.

    Raises :class:`ValidationError` for NaN, infinities, booleans and anything
    that is not a number.
    """
    if isinstance(value, bool):
        raise ValidationError(f"{what}: expected a number, got a boolean")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not np.isfinite(f):
            raise ValidationError(f"{what}: expected a finite number, got {f}")
        return Fraction(f)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValidationError(
                f"{what}: expected a number or a rational 'p/q', got {value!r}"
            ) from None
    raise ValidationError(f"{what}: expected a number, got {type(value).__name__}")


def _layer_arrays(a: Any, what: str, ndim: int) -> tuple[FloatArray, list[Any] | None]:
    """Float64 copy of a parameter and, when floats cannot hold it exactly, its Fractions."""
    if isinstance(a, np.ndarray) and a.dtype != object:
        if a.dtype.kind not in "biuf":
            raise ValidationError(f"{what}: expected numbers, got dtype {a.dtype}")
        arr = np.array(a, dtype=np.float64)
        exact: list[Any] | None = None
    else:
        if ndim == 2:
            rows = [
                [to_fraction(v, f"{what}[{i}][{j}]") for j, v in enumerate(r)]
                for i, r in enumerate(a)
            ]
            if rows and len({len(r) for r in rows}) != 1:
                raise ValidationError(f"{what}: rows have different lengths")
            exact = rows
            arr = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
            if arr.size == 0:
                arr = arr.reshape(len(rows), 0)
            same = all(
                Fraction(float(f)) == e
                for r, fr in zip(rows, arr, strict=True)
                for f, e in zip(fr, r, strict=True)
            )
        else:
            vec = [to_fraction(v, f"{what}[{i}]") for i, v in enumerate(a)]
            exact = vec
            arr = np.array([float(v) for v in vec], dtype=np.float64)
            same = all(Fraction(float(f)) == e for f, e in zip(arr, vec, strict=True))
        if same:
            exact = None
    if arr.ndim != ndim:
        kind = "matrix" if ndim == 2 else "vector"
        raise ValidationError(f"{what}: expected a {kind}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{what}: contains NaN or infinite entries")
    return arr, exact


@dataclass(frozen=True)
class Layer:
    """One affine map followed by an activation: ``act(W h + b)``.

    ``exact_weight``/``exact_bias`` are set only when the float64 arrays do not
    hold the parameters exactly (e.g. a weight of 1/3); otherwise the exact
    value of each float is used.
    """

    weight: FloatArray  # shape (out, in)
    bias: FloatArray  # shape (out,)
    activation: Activation
    exact_weight: list[list[Fraction]] | None = field(default=None, repr=False)
    exact_bias: list[Fraction] | None = field(default=None, repr=False)

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    def exact_bias_values(self) -> list[Fraction]:
        if self.exact_bias is not None:
            return self.exact_bias
        return [Fraction(float(v)) for v in self.bias]

    def exact_rows(self) -> list[_SparseRow]:
        """Nonzero entries of each row of W as exact rationals."""
        rows: list[_SparseRow] = []
        if self.exact_weight is not None:
            for erow in self.exact_weight:
                idx = tuple(j for j, v in enumerate(erow) if v != 0)
                rows.append((idx, tuple(erow[j] for j in idx)))
        else:
            for frow in self.weight:
                nz = np.flatnonzero(frow)
                rows.append(
                    (tuple(int(j) for j in nz), tuple(Fraction(float(frow[j])) for j in nz))
                )
        return rows


class ReLUNetwork:
    """A stack of affine layers, each followed by ReLU (the last may be identity).

    Parameters
    ----------
    weights, biases:
        One matrix ``W_l`` of shape ``(m_l, m_{l-1})`` and one vector ``b_l`` of
        length ``m_l`` per layer.  Numeric numpy arrays are taken as their exact
        (dyadic) values; nested lists may also hold ints, Fractions or 'p/q'
        strings, kept exactly when floats cannot represent them.
    final_activation:
        ``"relu"`` (the paper's eq. (3)) or ``"identity"``.
    """

    def __init__(
        self,
        weights: Sequence[Any],
        biases: Sequence[Any],
        final_activation: Activation = "relu",
    ) -> None:
        if len(weights) == 0:
            raise ValidationError("a network needs at least one layer")
        if len(weights) != len(biases):
            raise ValidationError(
                f"got {len(weights)} weight matrices but {len(biases)} bias vectors"
            )
        if final_activation not in ("relu", "identity"):
            raise ValidationError(
                f"final activation must be 'relu' or 'identity', got {final_activation!r}"
            )
        layers: list[Layer] = []
        prev: int | None = None
        for idx, (w, b) in enumerate(zip(weights, biases, strict=True), start=1):
            fw, ew = _layer_arrays(w, f"W_{idx}", 2)
            fb, eb = _layer_arrays(b, f"b_{idx}", 1)
            n_out, n_in = fw.shape
            if n_out == 0 or n_in == 0:
                raise ValidationError(
                    f"W_{idx}: has shape {fw.shape}; every layer needs units and inputs"
                )
            if fb.shape[0] != n_out:
                raise ValidationError(
                    f"b_{idx}: has length {fb.shape[0]}, expected {n_out} (rows of W_{idx})"
                )
            if prev is not None and n_in != prev:
                raise ValidationError(
                    f"W_{idx}: has {n_in} columns but layer {idx - 1} has {prev} units"
                )
            prev = n_out
            if (ew is None) != (eb is None):
                # keep both exact when either needs it, so a layer has one source of truth
                if ew is None:
                    ew = [[Fraction(float(v)) for v in row] for row in fw]
                if eb is None:
                    eb = [Fraction(float(v)) for v in fb]
            fw.setflags(write=False)
            fb.setflags(write=False)
            act: Activation = final_activation if idx == len(weights) else "relu"
            layers.append(Layer(fw, fb, act, ew, eb))
        self.layers: tuple[Layer, ...] = tuple(layers)
        self.final_activation: Activation = final_activation
        self._sparse: list[list[_SparseRow]] | None = None

    # ------------------------------------------------------------------ shape
    @property
    def n_inputs(self) -> int:
        """Latent dimension n."""
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        """Output dimension q."""
        return self.layers[-1].n_out

    @property
    def depth(self) -> int:
        """Number of affine layers L (the paper's depth)."""
        return len(self.layers)

    @property
    def widths(self) -> list[int]:
        """Units per layer, ``[m_1, ..., m_L]``."""
        return [layer.n_out for layer in self.layers]

    @property
    def width(self) -> int:
        """``max_l m_l``."""
        return max(self.widths)

    @property
    def n_params(self) -> int:
        """Number of weights and biases, zeros included."""
        return sum(layer.n_out * (layer.n_in + 1) for layer in self.layers)

    @property
    def n_nonzero(self) -> int:
        """Number of nonzero weights and biases."""
        return sum(
            int(np.count_nonzero(layer.weight)) + int(np.count_nonzero(layer.bias))
            for layer in self.layers
        )

    @property
    def weights(self) -> list[FloatArray]:
        return [layer.weight for layer in self.layers]

    @property
    def biases(self) -> list[FloatArray]:
        return [layer.bias for layer in self.layers]

    def is_float_exact(self) -> bool:
        """True when the float64 copy of every parameter equals its exact value."""
        return all(layer.exact_weight is None for layer in self.layers)

    def is_float32_exact(self) -> bool:
        """True when every parameter is exactly representable in float32."""
        for layer in self.layers:
            for arr in (layer.weight, layer.bias):
                if not np.array_equal(arr.astype(np.float32).astype(np.float64), arr):
                    return False
        return self.is_float_exact()

    def describe(self) -> str:
        return (
            f"{self.n_inputs} -> "
            + " -> ".join(str(w) for w in self.widths)
            + f" (depth {self.depth}, {self.n_params} parameters, final {self.final_activation})"
        )

    # ------------------------------------------------------------ evaluation
    def forward(self, z: npt.ArrayLike) -> FloatArray:
        """Float64 evaluation; ``z`` of shape ``(n,)`` or ``(batch, n)``."""
        arr = np.asarray(z, dtype=np.float64)
        single = arr.ndim == 1
        h = arr[None, :] if single else arr
        if h.ndim != 2 or h.shape[1] != self.n_inputs:
            raise ValidationError(
                f"latent has shape {arr.shape}, "
                f"expected ({self.n_inputs},) or (batch, {self.n_inputs})"
            )
        for layer in self.layers:
            h = h @ layer.weight.T + layer.bias
            if layer.activation == "relu":
                np.maximum(h, 0.0, out=h)
        return h[0] if single else h

    def _sparse_layers(self) -> list[list[_SparseRow]]:
        if self._sparse is None:
            self._sparse = [layer.exact_rows() for layer in self.layers]
        return self._sparse

    def forward_exact(self, z: Sequence[Any]) -> list[Fraction]:
        """Exact rational evaluation of one latent vector."""
        h = [to_fraction(v, f"z[{i}]") for i, v in enumerate(z)]
        if len(h) != self.n_inputs:
            raise ValidationError(f"latent has length {len(h)}, expected {self.n_inputs}")
        for layer, rows in zip(self.layers, self._sparse_layers(), strict=True):
            out: list[Fraction] = []
            for (idx, coef), b in zip(rows, layer.exact_bias_values(), strict=True):
                s = b
                for j, c in zip(idx, coef, strict=True):
                    s += c * h[j]
                if layer.activation == "relu" and s < 0:
                    s = Fraction(0)
                out.append(s)
            h = out
        return h

    def __repr__(self) -> str:
        return f"ReLUNetwork({self.describe()})"
