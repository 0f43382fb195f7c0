"""The ReLU network of the paper's eq. (3), and the generators used in practice.

    G_1(z) = act_1(W_1 z + b_1),   G_l(z) = act_l(W_l G_{l-1}(z) + b_l),  l = 2..L

In the paper every act_l is ReLU.  geninv also admits, per layer, the identity,
LeakyReLU with a rational slope (``"leaky_relu:0.2"``), and sigmoid or tanh
(trained GAN/VAE generators end with one of these).  A network is *piecewise
linear* when it uses only ReLU, LeakyReLU and the identity; exact solvers
accept only what they can encode and say which layer they cannot.

Each layer is stored twice: as float64 arrays for fast batched evaluation, and
as exact rationals (:class:`fractions.Fraction`) for certificates.  Built from
floats, the exact copy is the exact value of each float (every float64 is a
dyadic rational), so the two agree bit for bit on integer-weight networks.
Built from Fractions (e.g. weights 1/3), the float copy is the nearest float,
and exact evaluation uses the true rationals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError
from geninv.io.limits import NUMBER_FORM, check_int, parse_number

FloatArray = npt.NDArray[np.float64]
Activation = Literal["relu", "identity", "leaky_relu", "sigmoid", "tanh"]
ACTIVATIONS: tuple[str, ...] = ("relu", "identity", "leaky_relu", "sigmoid", "tanh")
PIECEWISE_LINEAR: frozenset[str] = frozenset({"relu", "identity", "leaky_relu"})
#: Decimal digits used to evaluate sigmoid and tanh in "exact" evaluation.
SMOOTH_DIGITS = 60
Number = int | float | Fraction

# One sparse exact row: (column indices, coefficients) with zero entries dropped.
_SparseRow = tuple[tuple[int, ...], tuple[Fraction, ...]]


def fractions_of(values: Sequence[Any], what: str = "z") -> list[Fraction]:
    """:func:`to_fraction` of every entry (named ``what[i]`` in errors); Fractions pass as is."""
    return [
        v if type(v) is Fraction else to_fraction(v, f"{what}[{i}]") for i, v in enumerate(values)
    ]


#: Shared Fractions of small integers (immutable, so one object serves every entry).
_SMALL_FRACTIONS: dict[int, Fraction] = {v: Fraction(v) for v in range(-256, 257)}
#: id of each shared Fraction -> its value (the objects live as long as the module, so
#: their ids are never reused).
_SMALL_IDS: dict[int, int] = {id(f): v for v, f in _SMALL_FRACTIONS.items()}


def small_fraction(value: int) -> Fraction:
    """``Fraction(value)``; the shared object for |value| <= 256."""
    shared = _SMALL_FRACTIONS.get(value)
    return shared if shared is not None else Fraction(value)


def fraction_key(v: Fraction) -> int | tuple[int, int]:
    """A cheap exact dictionary key for a Fraction: the int of a shared small Fraction
    (looked up by identity), else ``(numerator, denominator)``.  Equal keys mean equal
    values (an int and a pair never compare equal)."""
    small = _SMALL_IDS.get(id(v))
    return small if small is not None else (v.numerator, v.denominator)


def shared_ints(values: Sequence[Any]) -> list[int] | None:
    """The ints of the entries when every one is a shared small Fraction
    (:func:`small_fraction`), else None: one identity lookup per entry."""
    get = _SMALL_IDS.get
    quick = [get(id(v)) for v in values]
    return None if None in quick else quick  # type: ignore[return-value]


def integer_values(values: Sequence[Fraction]) -> list[int] | None:
    """The entries as Python ints when every one is an integer, else None."""
    quick = shared_ints(values)  # shared small Fractions: no attribute lookups
    if quick is not None:
        return quick
    out: list[int] = []
    for v in values:
        if v.denominator != 1:
            return None
        out.append(v.numerator)
    return out


def to_fraction(value: Any, what: str = "value") -> Fraction:
    """Exact rational value of an int, float, Fraction, numpy scalar or 'p/q' string.

    Raises :class:`ValidationError` for NaN, infinities, booleans and anything
    that is not a number, and for strings or integers beyond the ``digits`` /
    ``exponent`` limits of :mod:`geninv.io.limits` (checked before converting).
    """
    if isinstance(value, bool):
        raise ValidationError(f"{what}: expected a number, got a boolean")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, np.integer)):
        if type(value) is int and not -(2**64) < value < 2**64:
            check_int(value, what)  # huge integers: within the digits limit
        return small_fraction(int(value))  # small integers: the shared objects
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not np.isfinite(f):
            raise ValidationError(f"{what}: expected a finite number, got {f}")
        if f.is_integer() and -256 <= f <= 256:
            return small_fraction(int(f))
        return Fraction(f)
    if isinstance(value, str):
        # Digits and exponent are bounded before converting: '1e999999999' is refused at once.
        try:
            return parse_number(value.strip())
        except ValueError as exc:
            raise ValidationError(f"{what}: {exc} (expected {NUMBER_FORM})") from None
    raise ValidationError(f"{what}: expected a number, got {type(value).__name__}")


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

    weight: FloatArray  # shape (out, in)
    bias: FloatArray  # shape (out,)
    activation: Activation
    exact_weight: list[list[Fraction]] | None = field(default=None, repr=False)
    exact_bias: list[Fraction] | None = field(default=None, repr=False)
    negative_slope: Fraction = Fraction(0)  # LeakyReLU slope (0 for ReLU)

    @property
    def activation_label(self) -> str:
        if self.activation == "leaky_relu":
            return f"leaky_relu:{self.negative_slope}"
        return self.activation

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    def exact_bias_values(self) -> list[Fraction]:
        """The biases as exact rationals (computed once; do not modify the list)."""
        if self.exact_bias is not None:
            return self.exact_bias
        cached: list[Fraction] | None = self.__dict__.get("_bias_cache")
        if cached is None:
            cached = _fractions(self.bias)
            object.__setattr__(self, "_bias_cache", cached)
        return cached

    def exact_rows_at(self, indices: Sequence[int]) -> list[_SparseRow]:
        """:meth:`exact_rows` of the rows ``indices`` only (from the cache when it is
        there; otherwise those rows alone are converted, and nothing is cached)."""
        cached: list[_SparseRow] | None = self.__dict__.get("_rows_cache")
        if cached is not None or self.exact_weight is not None:
            rows = self.exact_rows()
            return [rows[j] for j in indices]
        return _sparse_rows(self.weight[np.asarray(indices, dtype=np.intp)])

    def exact_rows(self) -> list[_SparseRow]:
        """Nonzero entries of each row of W as exact rationals (computed once)."""
        cached: list[_SparseRow] | None = self.__dict__.get("_rows_cache")
        if cached is not None:
            return cached
        rows: list[_SparseRow] = []
        if self.exact_weight is not None:
            for erow in self.exact_weight:
                idx = tuple(j for j, v in enumerate(erow) if v != 0)
                rows.append((idx, tuple(erow[j] for j in idx)))
        else:
            rows = _sparse_rows(self.weight)
        object.__setattr__(self, "_rows_cache", rows)
        return rows


def _reach(zmax: int, bounds: list[tuple[int, int]]) -> int:
    """The largest partial-sum bound of a forward pass from ``|z|_inf <= zmax`` through
    layers with row-sum bounds R and bias bounds B (``bounds``)."""
    bound = top = zmax
    for rmax, bmax in bounds:
        bound = rmax * bound + bmax
        top = max(top, bound)
    return top


def _sparse_rows(weight: FloatArray) -> list[_SparseRow]:
    """The nonzero entries of every row of a float64 matrix, as exact rationals."""
    r, c = np.nonzero(weight)
    cols = c.tolist()
    vals = _fractions(weight[r, c])
    out: list[_SparseRow] = []
    start = 0
    for end in np.cumsum(np.bincount(r, minlength=weight.shape[0])).tolist():
        out.append((tuple(cols[start:end]), tuple(vals[start:end])))
        start = end
    return out


def _fractions(values: FloatArray) -> list[Fraction]:
    """Exact values of float64 entries (integers take the fast path)."""
    if bool((np.rint(values) == values).all()) and bool((np.abs(values) < 2.0**53).all()):
        small = _SMALL_FRACTIONS
        return [
            small[v] if -256 <= v <= 256 else Fraction(v) for v in values.astype(np.int64).tolist()
        ]
    return [Fraction(v) for v in values.tolist()]


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
        self._sparse: list[list[_SparseRow]] | None = None
        self._int_plan: list[tuple[Any, int, int, bool]] | bool | None = False
        self._int_bounds: list[tuple[int, int]] | bool | None = False
        self._plan_bounds: list[tuple[int, int]] | None = None  # (R, B) of the plan
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
        """True when the float64 copy of every parameter equals its exact value (the
        weights and biases, and every LeakyReLU slope)."""
        return all(layer.exact_weight is None for layer in self.layers) and all(
            Fraction(float(layer.negative_slope)) == layer.negative_slope
            for layer in self.layers
            if layer.activation == "leaky_relu"
        )

    def onnx_exact(self) -> bool:
        """True when the ONNX file :func:`geninv.io.onnx_io.export_onnx` writes (``"auto"``
        dtype) holds every parameter exactly: float32 tensors whenever the network has a
        LeakyReLU (and LeakyRelu's ``alpha`` is a float32 attribute in any case)."""
        leaky = any(layer.activation == "leaky_relu" for layer in self.layers)
        return self.is_float32_exact() if leaky else self.is_float_exact()

    def is_float32_exact(self) -> bool:
        """True when every parameter is exactly representable in float32."""
        for layer in self.layers:
            for arr in (layer.weight, layer.bias):
                with np.errstate(over="ignore"):  # beyond float32: inf, hence not equal
                    narrowed = arr.astype(np.float32).astype(np.float64)
                if not np.array_equal(narrowed, arr):
                    return False
        for layer in self.layers:
            if layer.activation == "leaky_relu":
                slope = layer.negative_slope
                if Fraction(float(np.float32(float(slope)))) != slope:
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
            h = apply_activation(h @ layer.weight.T + layer.bias, layer)
        return h[0] if single else h

    @property
    def activations(self) -> list[str]:
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

    def _sparse_layers(self) -> list[list[_SparseRow]]:
        if self._sparse is None:
            self._sparse = [layer.exact_rows() for layer in self.layers]
        return self._sparse

    @property
    def integer_plan_known(self) -> bool:
        """Whether :meth:`integer_layers` has been computed (it is remembered)."""
        return self._int_plan is not False

    def integer_layers(self) -> list[tuple[Any, int, int, bool]] | None:
        """Per layer ``(S, R, B, relu)`` when every parameter is an integer of
        magnitude < 2^53 and every activation is ReLU or the identity, else None.

        ``S`` holds the row sums of ``|W|`` (a float64 array, each sum within a
        relative ``k 2^-52`` of the exact one for k terms), ``R`` an upper bound
        on the largest row sum of ``|W|`` and ``B`` on ``max |b|`` (Python ints),
        ``relu`` whether the layer has a ReLU.  The float64 parameters themselves
        are the integers.  Computed once per network.
        """
        if self._int_plan is not False:
            return self._int_plan  # type: ignore[return-value]
        plan: list[tuple[Any, int, int, bool]] | None = []
        layers = self.layers
        if any(
            layer.exact_weight is not None or layer.activation not in ("relu", "identity")
            for layer in layers
        ):
            self._int_plan = None
            return None
        if self._integer_parameters() is None:
            self._int_plan = None
            return None
        for layer in layers:
            w, b = layer.weight, layer.bias
            rows = np.abs(w) @ np.ones(w.shape[1])  # BLAS: one pass
            rmax = float(rows.max()) if rows.size else 0.0
            bmax = float(np.abs(b).max()) if b.size else 0.0
            # a float sum of k nonnegative terms is within a relative k 2^-53 of the exact one
            rmax *= 1 + w.shape[1] * 2.0**-52
            if rmax >= 2**53 or bmax >= 2**53:
                plan = None
                break
            assert plan is not None
            plan.append((rows, math.ceil(rmax) + 1, int(bmax), layer.activation == "relu"))
        self._int_plan = plan
        return plan

    def _integer_parameters(self) -> FloatArray | None:
        """Every layer's weights then biases in one flat float64 array, when every
        entry is an integer (truncation keeps it), else None."""
        flat = np.concatenate([a.ravel() for la in self.layers for a in (la.weight, la.bias)])
        return flat if bool((np.trunc(flat) == flat).all()) else None

    def integer_bounds(self) -> list[tuple[int, int]] | None:
        """Per layer ``(R, B)`` with ``R`` at least the largest row sum of ``|W|`` and
        ``B`` at least ``max |b|`` (Python ints), when every parameter is an integer of
        magnitude < 2^53 and every activation is ReLU or the identity, else None.

        Those of :meth:`integer_layers` when there is a plan; otherwise ``R`` is the
        layer's input width times its largest ``|w|`` (looser, and cheaper: no row
        sums).  Remembered.
        """
        plan = self._int_plan
        if plan is not False and plan is not None:
            if self._plan_bounds is None:
                self._plan_bounds = [(r, b) for _, r, b, _ in plan]  # type: ignore[union-attr]
            return self._plan_bounds
        if self._int_bounds is not False:
            return self._int_bounds  # type: ignore[return-value]
        bounds: list[tuple[int, int]] | None = None
        layers = self.layers
        if all(
            layer.exact_weight is None and layer.activation in ("relu", "identity")
            for layer in layers
        ):
            flat = self._integer_parameters()
            if flat is not None:
                mags = np.abs(flat)
                bounds = []
                pos = 0
                for layer in layers:
                    nw, nb = layer.weight.size, layer.bias.size
                    wmax = float(mags[pos : pos + nw].max()) if nw else 0.0
                    bmax = float(mags[pos + nw : pos + nw + nb].max()) if nb else 0.0
                    pos += nw + nb
                    if wmax >= 2**53 or bmax >= 2**53:
                        bounds = None
                        break
                    bounds.append((int(wmax) * layer.n_in, int(bmax)))
        self._int_bounds = bounds
        return bounds

    def forward_int(self, ints: Sequence[int]) -> list[int] | None:
        """Exact evaluation of an integer network on an integer latent, as Python ints.

        Every partial sum of a layer is at most ``R |h|_inf + |b|_inf`` in
        magnitude (R from :meth:`integer_bounds`: the layer's width times its
        largest |w|, or its largest row sum of |W| when the first bound does not
        stay below 2^53); these bounds are computed in
        Python integers first and the evaluation gives up (returns None) if one
        could reach 2^62, so no int64 operation can overflow and the result is the
        exact integer value.  Below 2^53 every partial sum is an integer that
        float64 holds exactly, so the float64 (BLAS) product is used instead.
        None also when the network is not an integer network
        (:meth:`integer_bounds`).
        """
        bounds = self.integer_bounds()
        if bounds is None or len(ints) != self.n_inputs:
            return None
        zmax = max(map(abs, ints), default=0)
        top = _reach(zmax, bounds)
        # the loose bounds reach 2^53: the row sums (no plan when one of them does)
        if top >= 2**53 and self._int_plan is False and self.integer_layers() is not None:
            top = _reach(zmax, self.integer_bounds() or [])
        if top >= 2**62:
            return None
        if top < 2**53:
            # every partial sum is an integer below 2^53: float64 (BLAS) is exact too
            y = np.array(ints, dtype=np.float64)
            for layer in self.layers:
                y = layer.weight @ y + layer.bias
                if layer.activation == "relu":
                    y = np.maximum(y, 0.0)
            return y.astype(np.int64).tolist()  # type: ignore[no-any-return]
        x = np.array(ints, dtype=np.int64)
        for layer in self.layers:
            # int64 copies of the integer parameters (this path is rare: made on use)
            x = layer.weight.astype(np.int64) @ x + layer.bias.astype(np.int64)
            if layer.activation == "relu":
                x = np.maximum(x, 0)
        return x.tolist()  # type: ignore[no-any-return]

    def _forward_int(self, h: list[Fraction]) -> list[Fraction] | None:
        """:meth:`forward_int` for a latent of Fractions (None unless all are integers)."""
        ints = integer_values(h)
        if ints is None:
            return None
        out = self.forward_int(ints)
        return None if out is None else [Fraction(v) for v in out]

    def forward_exact(self, z: Sequence[Any]) -> list[Fraction]:
        """Exact rational evaluation of one latent vector.

        Exact for piecewise-linear networks.  Sigmoid and tanh are evaluated in
        decimal arithmetic with ``SMOOTH_DIGITS`` significant digits and the
        result taken as a rational (see :attr:`is_piecewise_linear`).  Integer
        networks (ReLU/identity layers) on integer latents are evaluated in
        overflow-checked int64 arithmetic (:meth:`_forward_int`), which is exact.
        """
        h = fractions_of(z)
        if len(h) != self.n_inputs:
            raise ValidationError(f"latent has length {len(h)}, expected {self.n_inputs}")
        fast = self._forward_int(h)
        if fast is not None:
            return fast
        for layer, rows in zip(self.layers, self._sparse_layers(), strict=True):
            out: list[Fraction] = []
            for (idx, coef), b in zip(rows, layer.exact_bias_values(), strict=True):
                s = b
                for j, c in zip(idx, coef, strict=True):
                    s += c * h[j]
                out.append(_exact_activation(s, layer))
            h = out
        return h

    def __repr__(self) -> str:
        return f"ReLUNetwork({self.describe()})"


_ZERO = Fraction(0)


def parse_activation(spec: Any, what: str = "activation") -> tuple[Activation, Fraction]:
    """'relu', 'identity', 'sigmoid', 'tanh', 'leaky_relu' (slope 1/100) or 'leaky_relu:SLOPE'."""
    if not isinstance(spec, str):
        raise ValidationError(f"{what}: expected a string such as 'relu', got {spec!r}")
    name, _, arg = spec.strip().lower().partition(":")
    if name not in ACTIVATIONS:
        raise ValidationError(
            f"{what}: unknown activation {spec!r}; expected one of relu, identity, "
            "leaky_relu[:slope], sigmoid, tanh"
        )
    if name == "leaky_relu":
        slope = to_fraction(arg, f"{what} slope") if arg else Fraction(1, 100)
        if slope < 0:
            raise ValidationError(f"{what}: LeakyReLU slope must be >= 0, got {slope}")
        return "leaky_relu", slope
    if arg:
        raise ValidationError(f"{what}: {name} takes no parameter, got {spec!r}")
    return name, _ZERO  # type: ignore[return-value]


def apply_activation(h: FloatArray, layer: Layer) -> FloatArray:
    """The layer's activation on a float array (in place where possible)."""
    act = layer.activation
    if act == "relu":
        np.maximum(h, 0.0, out=h)
    elif act == "leaky_relu":
        h = np.where(h > 0, h, float(layer.negative_slope) * h)
    elif act == "sigmoid":
        h = 0.5 * (1.0 + np.tanh(0.5 * h))  # stable for large |h|
    elif act == "tanh":
        h = np.tanh(h)
    return h


def _exact_activation(s: Fraction, layer: Layer) -> Fraction:
    act = layer.activation
    if act == "relu":
        return s if s > 0 else Fraction(0)
    if act == "leaky_relu":
        return s if s > 0 else layer.negative_slope * s
    if act == "identity":
        return s
    with localcontext() as ctx:
        ctx.prec = SMOOTH_DIGITS
        x = Decimal(s.numerator) / Decimal(s.denominator)
        if act == "sigmoid":
            val = 1 / (1 + (-x).exp()) if x > -1000 else Decimal(0)
        else:  # tanh
            val = Decimal(1) if x > 200 else (Decimal(-1) if x < -200 else _dtanh(x))
        return Fraction(val)


def _dtanh(x: Decimal) -> Decimal:
    e = (2 * x).exp()
    return (e - 1) / (e + 1)
