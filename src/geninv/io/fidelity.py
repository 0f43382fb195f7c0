"""Check an imported network against the framework that defined it.

Every importer (:mod:`geninv.io.onnx_io`, :mod:`geninv.io.torch_io`) reads a
model into a :class:`~geninv.network.ReLUNetwork` by its own rules: exact
composition of affine maps, one activation per layer.  A reading rule that is
wrong for some model (an attribute ignored, an op misread, a module whose
``forward`` is not what its type suggests) would silently change the question
geninv answers.  So after reading, the network is evaluated on a few seeded
random points and compared with an independent evaluation of the *original*
model: onnxruntime (or, when onnxruntime is not installed or has no kernel for
the model's element type, ONNX's own reference implementation
``onnx.reference.ReferenceEvaluator``), or torch itself.

The points
----------
``N_POINTS`` points from ``numpy.random.default_rng(SEED)``: uniform in the
input box when one is known (the box centre first), else standard normal.
Each point is rounded to the model's element type, so both sides see the same
input exactly.

The tolerance
-------------
Both sides compute the same function up to floating-point rounding.  Along the
model's own chain of steps (before geninv composes them), with ``u`` the unit
roundoff of the model's element type (``2^-24`` for float32) plus that of
float64, the running bounds

    m_0 = |z|,  e_0 = 0,
    affine step h -> A h + c with fan-in k:   p = |A| m + |c|,
        e <- |A| e + (k + 3) u p,   m <- p,
    activation with Lipschitz constant L (1 for ReLU and tanh, max(1, alpha)
    for LeakyReLU and ELU, 1/4 for sigmoid):   e <- L e (+ L S for sigmoid/tanh/ELU),
        m <- L m (at most 1 for sigmoid/tanh),

(for a structured, convolutional piece, ``|A| m`` is computed by running the piece
with ``|kernel|``, and ``k`` is its largest number of taps per output)
bound the error of *any* summation order (Higham's gamma_k bound) of either
side; ``S = max(256 u, 2^-40)`` allows for a library's approximate
sigmoid/tanh/expm1.  The check fails when some output differs by more than
``4 e + 1e-30``.  The bound is generous for a faithful reading and tiny next
to any change of semantics (a LeakyReLU read as ReLU differs by ``alpha |p|``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from geninv.errors import UnsupportedError
from geninv.network import ReLUNetwork

__all__ = [
    "N_POINTS",
    "SEED",
    "Step",
    "check_module",
    "check_onnx_model",
    "check_state",
    "compare_outputs",
    "error_bound",
    "sample_points",
]

#: Points compared per import.
N_POINTS = 6
#: Seed of the points (fixed: the same model is always checked on the same points).
SEED = 20240614

_Arr = npt.NDArray[Any]
#: unit roundoff of each float type
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}


@dataclass(frozen=True)
class Step:
    """One step of the model's own chain: an affine map or an activation.

    ``abs_weight`` is ``|A|`` (None for ``A = I``), ``abs_bias`` is ``|c|``;
    ``activation`` is a geninv spec (``"relu"``, ``"leaky_relu:1/2"``, ...).
    """

    abs_weight: _Arr | None = None
    abs_bias: _Arr | None = None
    activation: str | None = None
    #: for a structured (convolutional) map: ``M -> |A| M`` (instead of ``abs_weight``)
    abs_apply: Callable[[_Arr], _Arr] | None = None
    #: for a structured map: a bound on the terms summed per output
    fan_in: int = 1


def affine_step(weight: Any, bias: Any) -> Step:
    """The :class:`Step` of ``h -> weight h + bias`` (``weight`` None: identity)."""
    w = None if weight is None else np.abs(np.asarray(weight, dtype=np.float64))
    return Step(abs_weight=w, abs_bias=np.abs(np.asarray(bias, dtype=np.float64)))


def sample_points(
    n: int, dtype: Any, box: tuple[Sequence[Fraction], Sequence[Fraction]] | None = None
) -> _Arr:
    """``N_POINTS`` seeded points of dimension ``n``, exactly representable in ``dtype``."""
    rng = np.random.default_rng(SEED)
    if box is not None:
        lo = np.array([float(v) for v in box[0]], dtype=np.float64)
        hi = np.array([float(v) for v in box[1]], dtype=np.float64)
        pts = lo + (hi - lo) * rng.random((N_POINTS, n))
        pts[0] = (lo + hi) / 2
    else:
        pts = rng.standard_normal((N_POINTS, n))
    return np.asarray(np.asarray(pts, dtype=dtype), dtype=np.float64)


def _lipschitz(spec: str) -> tuple[float, bool]:
    name, _, arg = spec.partition(":")
    if name == "leaky_relu":
        return max(1.0, float(Fraction(arg)) if arg else 0.01), False
    if name == "elu":  # |ELU(t)| <= max(1, alpha) |t|; a library's expm1 is approximate
        return max(1.0, float(Fraction(arg)) if arg else 1.0), True
    if name == "sigmoid":
        return 0.25, True
    return 1.0, name == "tanh"


def error_bound(steps: Sequence[Step], points: _Arr, unit: float) -> _Arr:
    """Per point and output, the bound ``4 e + 1e-30`` of the module docstring
    (``unit``: the model's unit roundoff)."""
    u = unit + 2.0**-53
    smooth_err = max(256 * unit, 2.0**-40)
    mag = np.abs(points).T  # (n, points)
    err = np.zeros_like(mag)
    for step in steps:
        if step.activation is None:
            assert step.abs_bias is not None
            if step.abs_apply is not None:
                pre = step.abs_apply(mag) + step.abs_bias[:, None]
                err = step.abs_apply(err)
                k = step.fan_in
            elif step.abs_weight is None:
                pre = mag + step.abs_bias[:, None]
                k = 1
            else:
                pre = step.abs_weight @ mag + step.abs_bias[:, None]
                err = step.abs_weight @ err
                k = int(step.abs_weight.shape[1])
            err = err + (k + 3) * u * pre
            mag = pre
        else:
            lip, smooth = _lipschitz(step.activation)
            err = lip * err
            mag = lip * mag
            if smooth:
                err = err + lip * smooth_err
                if not step.activation.startswith("elu"):
                    mag = np.minimum(mag, 1.0)
    bound: _Arr = 4.0 * err.T + 1e-30
    return bound


def compare_outputs(
    network: ReLUNetwork,
    points: _Arr,
    reference: Callable[[_Arr], _Arr],
    steps: Sequence[Step],
    unit: float,
    where: str,
    engine: str,
) -> None:
    """Raise :class:`UnsupportedError` unless ``network`` matches ``reference`` on ``points``.

    ``reference`` maps the ``(N, n)`` points to ``(N, q)`` outputs of the
    original model; the message names the worst point's relative error.
    """
    ours = np.atleast_2d(network.forward(points))
    theirs = np.asarray(reference(points), dtype=np.float64)
    if theirs.shape != ours.shape:
        raise UnsupportedError(
            f"{where}: {engine} computes outputs of shape {list(theirs.shape[1:])} but geninv's "
            f"reading has {network.n_outputs}; geninv cannot read this model faithfully"
        )
    bound = error_bound(steps, points, unit)
    diff = np.abs(ours - theirs)
    bad = ~(diff <= bound)  # NaN counts as a mismatch
    if not bad.any():
        return
    rel = diff / np.maximum(np.maximum(np.abs(theirs), np.abs(ours)), 1e-300)
    ratio = np.where(bad, diff / bound, 0.0)
    k, j = np.unravel_index(int(np.nanargmax(np.where(np.isnan(ratio), np.inf, ratio))), diff.shape)
    raise UnsupportedError(
        f"{where}: geninv's reading of the model differs from {engine} at random point "
        f"{int(k)} of {len(points)}: output {int(j)} is {ours[k, j]:.9g}, {engine} gives "
        f"{theirs[k, j]:.9g} (relative error {rel[k, j]:.3g}, allowed {bound[k, j]:.3g}); "
        "geninv cannot read this model faithfully (please report it)"
    )


# ====================================================================== ONNX
_NP_TYPES = {1: np.float32, 11: np.float64, 10: np.float16}  # TensorProto FLOAT, DOUBLE, FLOAT16


def check_onnx_model(
    model: Any,
    network: ReLUNetwork,
    where: str,
    steps: Sequence[Step],
    unit: float,
    rank: int,
    box: tuple[Sequence[Fraction], Sequence[Fraction]] | None,
    input_shape: tuple[int, ...] | None = None,
) -> str:
    """Compare ``network`` with the ONNX ``model`` it was read from; returns the engine used.

    onnxruntime when it is installed and runs the model; else (not installed,
    or no kernel for the element type, e.g. float64 LeakyRelu) ONNX's reference
    evaluator.  If neither runs the model the reading cannot be checked, and
    :class:`UnsupportedError` says so: geninv never skips the comparison.
    """
    vi = model.graph.input[[i.name for i in model.graph.input].index(network_input(model))]
    elem = vi.type.tensor_type.elem_type
    np_type = _NP_TYPES.get(elem, np.float32 if unit >= 2.0**-24 else np.float64)
    points = sample_points(network.n_inputs, np_type, box)
    name = vi.name
    shape: tuple[int, ...] = (1, network.n_inputs) if rank == 2 else (network.n_inputs,)
    if input_shape is not None:  # a convolutional model's (1, C, H, W)
        shape = input_shape
    payload = model.SerializeToString()

    def runner(run: Callable[[dict[str, _Arr]], Any]) -> Callable[[_Arr], _Arr]:
        def evaluate(pts: _Arr) -> _Arr:
            rows = []
            for z in pts:
                out = np.asarray(run({name: z.astype(np_type).reshape(shape)})[0])
                rows.append(np.asarray(out, dtype=np.float64).reshape(-1))
            if len({r.size for r in rows}) != 1:
                return np.zeros((len(rows), 0))
            return np.stack(rows)

        return evaluate

    failures: list[str] = []
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(payload, opts, providers=["CPUExecutionProvider"])
        reference = runner(lambda feed: sess.run(None, feed))
        outputs = reference(points)
        engine = "onnxruntime"
    except ImportError:
        failures.append("onnxruntime: not installed")
    except Exception as exc:  # no kernel for the type, a model ORT refuses, ...
        failures.append(f"onnxruntime: {_short(exc)}")
    if failures:
        try:
            from onnx.reference import ReferenceEvaluator

            ref = ReferenceEvaluator(model)
            reference = runner(lambda feed: ref.run(None, feed))
            outputs = reference(points)
            engine = "onnx.reference"
        except Exception as exc:
            failures.append(f"onnx.reference: {_short(exc)}")
            raise UnsupportedError(
                f"{where}: cannot check geninv's reading of the model: no ONNX engine runs it "
                f"({'; '.join(failures)})"
            ) from None
    compare_outputs(network, points, lambda _pts: outputs, steps, unit, where, engine)
    return engine


def network_input(model: Any) -> str:
    """The one graph input that is not an initializer (the latent)."""
    consts = {t.name for t in model.graph.initializer}
    return str(next(vi.name for vi in model.graph.input if vi.name not in consts))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# ====================================================================== torch
def check_module(
    module: Any,
    net: ReLUNetwork,
    steps: Sequence[Step],
    input_shape: tuple[int, ...] | None = None,
) -> None:
    """Compare ``net`` with ``module`` itself (evaluation mode) on seeded random points.

    This catches whatever the type-based reading cannot see: a subclass that
    overrides ``forward``, forward hooks, a module that is not what its type
    says.  The module's training flags are restored afterwards.
    """
    import torch

    param = next((t for t in module.parameters() if t.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    name = str(dtype).removeprefix("torch.")
    unit = UNIT_ROUNDOFF.get(name, 2.0**-24)
    rounded = torch.from_numpy(sample_points(net.n_inputs, np.float64)).to(dtype)
    points = rounded.to(torch.float64).numpy()
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            batch = rounded if input_shape is None else rounded.reshape(-1, *input_shape)
            out = module(batch.to(device)).detach().to("cpu", torch.float64).numpy()
    except Exception as exc:
        raise UnsupportedError(
            f"cannot check the conversion: the module fails on a batch of latents ({_short(exc)})"
        ) from None
    finally:
        for m, mode in modes:
            m.train(mode)
    k = len(points)
    rows = out.reshape(k, -1) if out.size % k == 0 else np.zeros((k, 0))
    compare_outputs(net, points, lambda _p: rows, steps, unit, "nn.Sequential", "torch")


def check_state(
    arrays: Mapping[str, _Arr],
    arch: Sequence[Any],
    net: ReLUNetwork,
    steps: Sequence[Step],
    path: str | None,
) -> None:
    """Compare ``net`` with torch evaluating the architecture step by step on the state's
    tensors (``F.linear``, ``F.relu``, ``F.leaky_relu``, ...; float64) at seeded points."""
    import torch
    import torch.nn.functional as functional

    def tensor(key: str) -> Any:
        return torch.from_numpy(arrays[key])

    def reference(points: _Arr) -> _Arr:
        h = torch.from_numpy(points)
        for step in arch:
            if step.kind == "linear":
                bias = tensor(f"{step.name}.bias") if step.bias else None
                h = functional.linear(h, tensor(f"{step.name}.weight"), bias)
                continue
            act, _, slope = step.name.partition(":")
            if act == "relu":
                h = functional.relu(h)
            elif act == "leaky_relu":
                h = functional.leaky_relu(h, float(Fraction(slope)))
            elif act == "sigmoid":
                h = torch.sigmoid(h)
            elif act == "tanh":
                h = torch.tanh(h)
            elif act == "elu":
                h = functional.elu(h, float(Fraction(slope)) if slope else 1.0)
        out: _Arr = h.numpy()
        return out

    points = sample_points(net.n_inputs, np.float64)
    compare_outputs(net, points, reference, steps, 2.0**-53, path or "state dict", "torch")
