"""The ReLU network of the paper's eq. (3), and the generators used in practice.

    G_1(z) = act_1(W_1 z + b_1),   G_l(z) = act_l(W_l G_{l-1}(z) + b_l),  l = 2..L

In the paper every act_l is ReLU.  geninv also admits, per layer, the identity,
LeakyReLU with a rational slope (``"leaky_relu:0.2"``), sigmoid or tanh
(trained GAN/VAE generators end with one of these), and ELU with a rational
``alpha >= 0`` (``"elu"``: alpha 1; ``"elu:1/2"``), ``ELU(t) = t`` for ``t > 0`` and
``alpha (e^t - 1)`` otherwise (the hidden activation of Latorre et al.'s MNIST
generators): monotone, ``max(1, alpha)``-Lipschitz, transcendental below 0.  A network is *piecewise
linear* when it uses only ReLU, LeakyReLU and the identity; exact solvers
accept only what they can encode and say which layer they cannot.

Each layer is stored twice: as float64 arrays for fast batched evaluation, and
as exact rationals (:class:`fractions.Fraction`) for certificates.  Built from
floats, the exact copy is the exact value of each float (every float64 is a
dyadic rational), so the two agree bit for bit on integer-weight networks.
Built from Fractions (e.g. weights 1/3), the float copy is the nearest float,
and exact evaluation uses the true rationals.

The exact values come from :mod:`geninv.rationals`; integer networks on integer
latents take the overflow-checked machine-integer path of :mod:`geninv.network_int`.

A layer's linear map may instead be *structured* (``Layer.op``, a
:class:`~geninv.conv.LinearOp`: convolutions, upsampling, padding of a
convolutional generator): evaluated with torch convolutions in float64 and by
integer sums over its sparse rows exactly, its dense ``Layer.weight`` built only on
request and refused above ``GENINV_MAX_DENSE`` entries (see :mod:`geninv.conv`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.activations import ACTIVATIONS as ACTIVATIONS
from geninv.activations import PIECEWISE_LINEAR as PIECEWISE_LINEAR
from geninv.activations import SMOOTH_DIGITS as SMOOTH_DIGITS
from geninv.activations import Activation as Activation
from geninv.activations import apply_activation as apply_activation
from geninv.activations import elu_float as elu_float
from geninv.activations import exact_activation as _exact_activation
from geninv.activations import parse_activation as parse_activation
from geninv.conv import DENSE_ENV, LinearOp, dense_limit, exact_affine
from geninv.errors import ValidationError
from geninv.network_int import IntegerEvaluation
from geninv.rationals import FloatArray as FloatArray
from geninv.rationals import SparseRow, float_fractions, sparse_rows
from geninv.rationals import fraction_key as fraction_key
from geninv.rationals import fractions_of as fractions_of
from geninv.rationals import integer_values as integer_values
from geninv.rationals import shared_ints as shared_ints
from geninv.rationals import small_fraction as small_fraction
from geninv.rationals import to_fraction as to_fraction

Number = int | float | Fraction


def _as_float(v: Fraction, what: str) -> float:
    """``float(v)``, or a ValidationError when ``v`` is beyond the float64 range."""
    try:
        return float(v)
    except OverflowError:
        raise ValidationError(
            f"{what}: an entry is beyond the float64 range (|x| <= 1.8e308); "
            "network parameters must fit a float"
        ) from None


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
            arr = np.array([[_as_float(v, what) for v in r] for r in rows], dtype=np.float64)
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
            arr = np.array([_as_float(v, what) for v in vec], dtype=np.float64)
            same = all(Fraction(float(f)) == e for f, e in zip(arr, vec, strict=True))
        if same:
            exact = None
    if arr.ndim != ndim:
        kind = "matrix" if ndim == 2 else "vector"
        raise ValidationError(f"{what}: expected a {kind}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValidationError(f"{what}: contains NaN or infinite entries")
    return arr, exact


@dataclass(frozen=True)
class Layer:
    """One affine map followed by an activation: ``act(W h + b)``.

    ``exact_weight``/``exact_bias`` are set only when the float64 arrays do not
    hold the parameters exactly (e.g. a weight of 1/3); otherwise the exact
    value of each float is used.
    """

    dense: FloatArray | None  # shape (out, in); None for a structured layer (``op``)
    bias: FloatArray  # shape (out,)
    activation: Activation
    exact_weight: list[list[Fraction]] | None = field(default=None, repr=False)
    exact_bias: list[Fraction] | None = field(default=None, repr=False)
    negative_slope: Fraction = Fraction(0)  # LeakyReLU slope (0 for ReLU); ELU's alpha
    #: the linear map as a structured (convolutional, sparse) operator, instead of ``dense``
    op: LinearOp | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.dense is None) == (self.op is None):
            raise ValidationError("a layer has either a dense weight matrix or a structured map")

    @property
    def weight(self) -> FloatArray:
        """``W`` as a dense float64 array, shape ``(out, in)``.  For a structured layer it
        is built on first use from the sparse map, and refused with the size
        (:class:`~geninv.conv.DenseTooLargeError`) above ``GENINV_MAX_DENSE`` entries."""
        if self.dense is not None:
            return self.dense
        cached: FloatArray | None = self.__dict__.get("_dense_cache")
        if cached is None:
            assert self.op is not None
            cached = self.op.dense()
            object.__setattr__(self, "_dense_cache", cached)
        return cached

    @property
    def is_structured(self) -> bool:
        """True when the linear map is a structured operator (a convolution, ...)."""
        return self.op is not None

    def nnz(self) -> int:
        """Nonzero weights (for a structured layer: of its kernels, as ``n_params`` counts)."""
        if self.op is not None:
            return sum(
                int(np.count_nonzero(p.weight)) for p in self.op.prims if p.weight is not None
            )
        assert self.dense is not None
        return int(np.count_nonzero(self.dense))

    def affine(self, h: FloatArray) -> FloatArray:
        """``h W^T + b`` for a float64 batch ``h`` of shape ``(N, in)`` (a new array)."""
        if self.op is not None:
            return self.op.apply(h) + self.bias
        assert self.dense is not None
        out: FloatArray = h @ self.dense.T + self.bias
        return out

    @property
    def activation_label(self) -> str:
        """The activation's name, with its slope for leaky ReLU (``leaky_relu:ALPHA``)
        and its alpha for an ELU other than alpha 1 (``elu:ALPHA``)."""
        if self.activation == "leaky_relu":
            return f"leaky_relu:{self.negative_slope}"
        if self.activation == "elu" and self.negative_slope != 1:
            return f"elu:{self.negative_slope}"
        return self.activation

    @property
    def n_in(self) -> int:
        """Number of inputs (columns of ``weight``)."""
        if self.op is not None:
            return self.op.n_in
        assert self.dense is not None
        return int(self.dense.shape[1])

    @property
    def n_out(self) -> int:
        """Number of outputs (rows of ``weight``)."""
        return int(self.bias.shape[0])

    def exact_bias_values(self) -> list[Fraction]:
        """The biases as exact rationals (computed once; do not modify the list)."""
        if self.exact_bias is not None:
            return self.exact_bias
        cached: list[Fraction] | None = self.__dict__.get("_bias_cache")
        if cached is None:
            cached = float_fractions(self.bias)
            object.__setattr__(self, "_bias_cache", cached)
        return cached

    def exact_rows_at(self, indices: Sequence[int]) -> list[SparseRow]:
        """:meth:`exact_rows` of the rows ``indices`` only (from the cache when it is
        there; otherwise those rows alone are converted, and nothing is cached)."""
        cached: list[SparseRow] | None = self.__dict__.get("_rows_cache")
        if cached is not None or self.exact_weight is not None:
            rows = self.exact_rows()
            return [rows[j] for j in indices]
        if self.op is not None:
            sub = self.op.csr()[np.asarray(indices, dtype=np.intp)]
            return [
                (tuple(sub.indices[a:b].tolist()), tuple(float_fractions(sub.data[a:b])))
                for a, b in zip(sub.indptr[:-1], sub.indptr[1:], strict=True)
            ]
        return sparse_rows(self.weight[np.asarray(indices, dtype=np.intp)])

    def exact_rows(self) -> list[SparseRow]:
        """Nonzero entries of each row of W as exact rationals (computed once)."""
        cached: list[SparseRow] | None = self.__dict__.get("_rows_cache")
        if cached is not None:
            return cached
        rows: list[SparseRow] = []
        if self.exact_weight is not None:
            for erow in self.exact_weight:
                idx = tuple(j for j, v in enumerate(erow) if v != 0)
                rows.append((idx, tuple(erow[j] for j in idx)))
        elif self.op is not None:
            rows = self.op.exact_rows()
        else:
            rows = sparse_rows(self.weight)
        object.__setattr__(self, "_rows_cache", rows)
        return rows


class ReLUNetwork(IntegerEvaluation):
    """A stack of affine layers, each followed by ReLU (the last may be identity).

    Parameters
    ----------
    weights, biases:
        One matrix ``W_l`` of shape ``(m_l, m_{l-1})`` and one vector ``b_l`` of
        length ``m_l`` per layer.  Numeric numpy arrays are taken as their exact
        (dyadic) values; nested lists may also hold ints, Fractions or 'p/q'
        strings, kept exactly when floats cannot represent them.
    final_activation:
        ``"relu"`` (the paper's eq. (3)), ``"identity"``, ``"leaky_relu:SLOPE"``,
        ``"sigmoid"`` or ``"tanh"``: the last layer's activation.
    activations:
        Optional per-layer activations (same spellings), overriding the default
        "ReLU everywhere, ``final_activation`` last".
    """

    def __init__(
        self,
        weights: Sequence[Any],
        biases: Sequence[Any],
        final_activation: str = "relu",
        activations: Sequence[str] | None = None,
    ) -> None:
        if len(weights) == 0:
            raise ValidationError("a network needs at least one layer")
        if len(weights) != len(biases):
            raise ValidationError(
                f"got {len(weights)} weight matrices but {len(biases)} bias vectors"
            )
        if activations is None:
            activations = ["relu"] * (len(weights) - 1) + [final_activation]
        if len(activations) != len(weights):
            raise ValidationError(f"got {len(activations)} activations for {len(weights)} layers")
        parsed = [
            parse_activation(a, f"activation of layer {i + 1}") for i, a in enumerate(activations)
        ]
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
            act, slope = parsed[idx - 1]
            layers.append(Layer(fw, fb, act, ew, eb, slope))
        self._set_layers(layers)

    def _set_layers(self, layers: Sequence[Layer]) -> None:
        self.layers: tuple[Layer, ...] = tuple(layers)
        self._n_inputs = self.layers[0].n_in
        self.final_activation: str = self.layers[-1].activation_label
        self._sparse: list[list[SparseRow]] | None = None
        self._reset_integer_caches()
        self._piecewise_linear = all(la.activation in PIECEWISE_LINEAR for la in self.layers)

    @classmethod
    def from_layers(cls, layers: Sequence[Layer]) -> ReLUNetwork:
        """A network of already validated layers (read-only finite float64 arrays,
        exact values where floats cannot hold them), without copying them; the
        shapes are checked."""
        if not layers:
            raise ValidationError("a network needs at least one layer")
        for idx in range(1, len(layers)):
            if layers[idx].n_in != layers[idx - 1].n_out:
                raise ValidationError(
                    f"W_{idx + 1}: has {layers[idx].n_in} columns but layer {idx} has "
                    f"{layers[idx - 1].n_out} units"
                )
        net = cls.__new__(cls)
        net._set_layers(layers)
        return net

    # ------------------------------------------------------------------ shape
    @property
    def n_inputs(self) -> int:
        """Latent dimension n."""
        return self._n_inputs

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
        """Number of weights and biases, zeros included (for a structured layer, the
        entries of its kernels: not the size of its dense matrix)."""
        total = 0
        for layer in self.layers:
            if layer.op is None:
                total += layer.n_out * layer.n_in
            else:
                total += sum(p.weight.size for p in layer.op.prims if p.weight is not None)
            total += layer.n_out
        return total

    @property
    def n_nonzero(self) -> int:
        """Number of nonzero weights and biases."""
        return sum(layer.nnz() + int(np.count_nonzero(layer.bias)) for layer in self.layers)

    @property
    def weights(self) -> list[FloatArray]:
        """The layers' weight matrices, first layer first (the arrays themselves, not copies)."""
        return [layer.weight for layer in self.layers]

    @property
    def biases(self) -> list[FloatArray]:
        """The layers' bias vectors, first layer first (the arrays themselves, not copies)."""
        return [layer.bias for layer in self.layers]

    def is_float_exact(self) -> bool:
        """True when the float64 copy of every parameter equals its exact value (the
        weights and biases, and every LeakyReLU slope and ELU alpha)."""
        return all(layer.exact_weight is None for layer in self.layers) and all(
            Fraction(float(layer.negative_slope)) == layer.negative_slope
            for layer in self.layers
            if layer.activation in ("leaky_relu", "elu")
        )

    def onnx_exact(self) -> bool:
        """True when the ONNX file :func:`geninv.io.onnx_io.export_onnx` writes (``"auto"``
        dtype) holds every parameter exactly: float32 tensors whenever the network has a
        LeakyReLU (and LeakyRelu's ``alpha`` is a float32 attribute in any case)."""
        leaky = any(layer.activation in ("leaky_relu", "elu") for layer in self.layers)
        if self.is_structured:  # written in float64 unless float32 holds it (see export_onnx)
            return self.is_float_exact() and all(
                Fraction(float(np.float32(float(la.negative_slope)))) == la.negative_slope
                for la in self.layers
            )
        return self.is_float32_exact() if leaky else self.is_float_exact()

    def is_float32_exact(self) -> bool:
        """True when every parameter is exactly representable in float32."""
        for layer in self.layers:
            arrays = [layer.bias]
            if layer.op is None:
                arrays.append(layer.weight)
            else:
                arrays.extend(p.weight for p in layer.op.prims if p.weight is not None)
            for arr in arrays:
                with np.errstate(over="ignore"):  # beyond float32: inf, hence not equal
                    narrowed = arr.astype(np.float32).astype(np.float64)
                if not np.array_equal(narrowed, arr):
                    return False
        for layer in self.layers:
            if layer.activation in ("leaky_relu", "elu"):
                slope = layer.negative_slope
                if Fraction(float(np.float32(float(slope)))) != slope:
                    return False
        return self.is_float_exact()

    def describe(self) -> str:
        """One line: the widths ``n -> w1 -> ... -> q``, depth, parameter count and final
        activation."""
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
            h = apply_activation(layer.affine(h), layer)
        return h[0] if single else h

    @property
    def activations(self) -> list[str]:
        """Each layer's :attr:`Layer.activation_label`, first layer first."""
        return [layer.activation_label for layer in self.layers]

    @property
    def is_piecewise_linear(self) -> bool:
        """Only ReLU, LeakyReLU and identity (outputs are exact rationals)."""
        return self._piecewise_linear

    def first_layer_outside(self, allowed: frozenset[str] | set[str]) -> str | None:
        """'layer k (sigmoid)' for the first layer whose activation is not allowed."""
        for i, layer in enumerate(self.layers, start=1):
            if layer.activation not in allowed:
                return f"layer {i} ({layer.activation_label})"
        return None

    def _sparse_layers(self) -> list[list[SparseRow]]:
        if self._sparse is None:
            self._sparse = [layer.exact_rows() for layer in self.layers]
        return self._sparse

    def forward_exact(self, z: Sequence[Any]) -> list[Fraction]:
        """Exact rational evaluation of one latent vector.

        Exact for piecewise-linear networks.  Sigmoid, tanh and ELU are evaluated in
        decimal arithmetic with ``SMOOTH_DIGITS`` significant digits and the
        result taken as a rational (see :attr:`is_piecewise_linear`; the re-check of
        a network with an ELU layer does not rest on this, but on the rigorous
        enclosure of :mod:`geninv.exact_elu`).  Integer
        networks (ReLU/identity layers) on integer latents are evaluated in
        overflow-checked int64 arithmetic (:meth:`_forward_int`), which is exact.
        """
        h = fractions_of(z)
        if len(h) != self.n_inputs:
            raise ValidationError(f"latent has length {len(h)}, expected {self.n_inputs}")
        fast = self._forward_int(h)
        if fast is not None:
            return fast
        if self.is_structured:
            return self._forward_exact_structured(h)
        for layer, rows in zip(self.layers, self._sparse_layers(), strict=True):
            out: list[Fraction] = []
            for (idx, coef), b in zip(rows, layer.exact_bias_values(), strict=True):
                s = b
                for j, c in zip(idx, coef, strict=True):
                    s += c * h[j]
                out.append(_exact_activation(s, layer))
            h = out
        return h

    @property
    def is_structured(self) -> bool:
        """True when some layer is a structured (convolutional) map (see :mod:`geninv.conv`)."""
        return any(layer.op is not None for layer in self.layers)

    def dense_refusal(self) -> str | None:
        """Why the dense form of some structured layer is out of reach (its size against
        ``GENINV_MAX_DENSE``), or None: what exact backends say when they refuse."""
        lim = dense_limit()
        for i, layer in enumerate(self.layers, start=1):
            if layer.op is not None and layer.n_in * layer.n_out > lim:
                return (
                    f"layer {i} is a structured map ({layer.op.label()}): "
                    f"{layer.op.describe_size()}, above the limit of {lim:,} entries "
                    f"({DENSE_ENV}) on what exact encodings expand; use an approximate backend "
                    f"(adam, pgd, admm, langevin) or raise {DENSE_ENV}"
                )
        return None

    def _forward_exact_structured(self, h: list[Fraction]) -> list[Fraction]:
        """:meth:`forward_exact` layer by layer: structured layers by integer sums over
        their sparse rows (:func:`geninv.conv.exact_affine`), never as Fraction rows."""
        for layer in self.layers:
            if layer.op is not None:
                pre = exact_affine(layer.op, layer.exact_bias_values(), h)
            else:
                pre = []
                for (idx, coef), b in zip(
                    layer.exact_rows(), layer.exact_bias_values(), strict=True
                ):
                    s = b
                    for j, c in zip(idx, coef, strict=True):
                        s += c * h[j]
                    pre.append(s)
            h = [_exact_activation(s, layer) for s in pre]
        return h

    def __repr__(self) -> str:
        return f"ReLUNetwork({self.describe()})"
