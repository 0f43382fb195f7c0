"""VNN-COMP interoperability: ONNX + VNN-LIB pairs in, benchmark folders out.

**In.**  A VNN-COMP pair (network, property) whose property is a box on the
inputs and a conjunction of bounds on the outputs is an inversion question:
"is there z in the box with lo_j <= G(z)_j <= hi_j for all j?".  For outputs
bounded on both sides write c_j = (lo_j + hi_j)/2 and r_j = (hi_j - lo_j)/2; then
|G_j - c_j| <= r_j for all j is a *weighted* l_inf ball.  Dividing the last
layer's row j (weights and bias) by r_j > 0 turns it into the plain ball
||G'(z) - c'||_inf <= 1 with c'_j = c_j / r_j, because a positive factor
commutes with ReLU, LeakyReLU and the identity; after a sigmoid or tanh last
layer (which do not commute with scaling) an identity layer diag(1/r_j) is
appended instead.  Every other layer keeps its activation exactly.  If every bounded output has
r_j = 0 the question is exact inversion (delta = 0).  Outputs with no bound
are dropped.  Refused, with the construct named: one-sided output bounds,
equalities mixed with ranges, strict input bounds, strict and non-strict
output bounds mixed (all strict gives the relation '<').

VNN-LIB semantics: the property describes the region searched for a
counterexample, so the verifier's ``sat`` is our ``yes``.

**Out.**  :func:`export_vnncomp` writes ``onnx/``, ``vnnlib/`` and
``instances.csv`` (``onnx path,vnnlib path,timeout``), the layout of the
VNN-COMP benchmark repositories, for every instance directory whose question
VNN-LIB can state.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from geninv.errors import UnsupportedError, ValidationError
from geninv.io.atomic import atomic_dir
from geninv.io.instance import EXACT_FILE, NETWORK_FILE, VNNLIB_FILE, load_instance
from geninv.io.onnx_io import import_onnx
from geninv.io.vnnlib import read_vnnlib
from geninv.network import Layer, ReLUNetwork
from geninv.problem import Domain, InversionProblem, SourceInfo


def _scaled_network(net: ReLUNetwork, keep: list[int], scales: list[Fraction]) -> ReLUNetwork:
    """``net`` restricted to the outputs ``keep``, output ``keep[k]`` multiplied by ``scales[k]``.

    Every layer keeps its own activation.  When the last activation is
    positively homogeneous (ReLU, LeakyReLU, identity: ``act(s t) = s act(t)``
    for ``s > 0``) the scale goes into the last layer's rows; otherwise (sigmoid,
    tanh) the network gets one more identity layer ``diag(scales)``.
    """
    layers = net.layers
    last = layers[-1]
    homogeneous = last.activation in ("relu", "identity", "leaky_relu")
    last_rows = last.exact_rows()
    last_bias = last.exact_bias_values()
    new_w: list[list[Fraction]] = []
    new_b: list[Fraction] = []
    for j, scale in zip(keep, scales, strict=True):
        s = scale if homogeneous else Fraction(1)
        row = [Fraction(0)] * last.n_in
        idx, coef = last_rows[j]
        for i, v in zip(idx, coef, strict=True):
            row[i] = v * s
        new_w.append(row)
        new_b.append(last_bias[j] * s)
    weights: list[object] = [_weight(layer) for layer in layers[:-1]] + [new_w]
    biases: list[object] = [_bias(layer) for layer in layers[:-1]] + [new_b]
    acts = [layer.activation_label for layer in layers]
    if not homogeneous and any(s != 1 for s in scales):
        m = len(keep)
        weights.append([[scales[a] if a == b else Fraction(0) for b in range(m)] for a in range(m)])
        biases.append([Fraction(0)] * m)
        acts.append("identity")
    return ReLUNetwork(weights, biases, activations=acts)


def _weight(layer: Layer) -> object:
    return layer.exact_weight if layer.exact_weight is not None else layer.weight


def _bias(layer: Layer) -> object:
    return layer.exact_bias if layer.exact_bias is not None else layer.bias


def problem_from_vnncomp(onnx_path: str | Path, vnnlib_path: str | Path) -> InversionProblem:
    """The inversion problem stated by a VNN-COMP (ONNX, VNN-LIB) pair.

    The network is read once without the fidelity check (so that a bad
    property is reported first), then compared with onnxruntime on random
    points inside the property's input box.  Every hidden layer keeps its
    activation exactly.
    """
    net = import_onnx(onnx_path, check=False)
    prop = read_vnnlib(vnnlib_path)
    where = str(vnnlib_path)
    if prop.n_inputs != net.n_inputs or prop.n_outputs != net.n_outputs:
        raise ValidationError(
            f"{where}: declares {prop.n_inputs} inputs and {prop.n_outputs} outputs but "
            f"{Path(onnx_path).name} has {net.n_inputs} and {net.n_outputs}"
        )
    if any(prop.input_lower_strict) or any(prop.input_upper_strict):
        i = next(
            i
            for i in range(prop.n_inputs)
            if prop.input_lower_strict[i] or prop.input_upper_strict[i]
        )
        raise UnsupportedError(f"{where}: X_{i} has a strict bound; geninv needs a closed box")
    keep: list[int] = []
    centers: list[Fraction] = []
    radii: list[Fraction] = []
    strict: set[bool] = set()
    for j in range(prop.n_outputs):
        lo, hi = prop.output_lower[j], prop.output_upper[j]
        if lo is None and hi is None:
            continue
        if lo is None or hi is None:
            side = "upper" if hi is None else "lower"
            raise UnsupportedError(
                f"{where}: Y_{j} has no {side} bound; geninv reads only two-sided output bounds "
                "(an output box)"
            )
        if lo > hi:
            raise ValidationError(f"{where}: Y_{j} has lower bound {lo} > upper bound {hi}")
        strict.add(prop.output_lower_strict[j])
        strict.add(prop.output_upper_strict[j])
        keep.append(j)
        centers.append((lo + hi) / 2)
        radii.append((hi - lo) / 2)
    if not keep:
        raise UnsupportedError(f"{where}: no output is bounded; the question is trivial")
    if len(strict) > 1:
        raise UnsupportedError(f"{where}: strict and non-strict output bounds are mixed")
    relation = "<" if strict == {True} else "<="
    zero = [r == 0 for r in radii]
    if any(zero) and not all(zero):
        j = keep[zero.index(True)]
        raise UnsupportedError(
            f"{where}: Y_{j} is fixed (lower = upper) while other outputs have ranges; "
            "geninv states one norm ball, which cannot mix both"
        )
    exact = all(zero)
    if exact and relation == "<":
        raise UnsupportedError(f"{where}: strict bounds with lower = upper can never hold")
    network = _scaled_network(net, keep, [Fraction(1) if exact else 1 / r for r in radii])
    target = [c if exact else c / r for c, r in zip(centers, radii, strict=True)]
    # the reading compared with onnxruntime at random points of the property's box
    import_onnx(onnx_path, box=(prop.input_lower, prop.input_upper))
    return InversionProblem(
        network,
        target,
        Domain.box(prop.input_lower, prop.input_upper),
        p="inf",
        threshold=0 if exact else 1,
        relation=relation,  # type: ignore[arg-type]
        source=SourceInfo(
            reduction=None,
            theorem=None,
            file=f"{Path(onnx_path).name}, {Path(vnnlib_path).name}",
            parameters={"kept_outputs": keep, "output_radii": [str(r) for r in radii]},
        ),
    )


#: Prepended to an exported property whose network file only approximates the instance.
APPROXIMATE_NOTE = (
    "; Note: some of this network's exact parameters are not {dtype} values; onnx/{name}.onnx\n"
    "; holds the nearest floats (the exact network is the geninv instance's {exact}),\n"
    "; so this is a nearby question and geninv's answer to the instance may differ.\n"
)


def export_vnncomp(
    dirs: Sequence[str | Path], out: str | Path, timeout: float = 300.0, force: bool = False
) -> tuple[list[str], list[str], list[str]]:
    """Write a VNN-COMP benchmark folder.

    Returns (exported names, skipped with reasons, exported names whose ONNX file only
    approximates the instance's exact network).  ONNX holds floats only (float32
    whenever the network has a LeakyReLU, whose ``alpha`` is a float32 attribute), so
    an instance with other rationals (1/10, 1/3) is exported with the nearest floats;
    its ``.vnnlib`` then starts with a note that says so (:data:`APPROXIMATE_NOTE`).
    """
    out_dir = Path(out)
    exported: list[str] = []
    skipped: list[str] = []
    approximate: list[str] = []
    rows: list[tuple[str, str, str]] = []
    with atomic_dir(out_dir, force=force, protect=list(dirs)) as tmp:
        (tmp / "onnx").mkdir()
        (tmp / "vnnlib").mkdir()
        used: set[str] = set()
        for d in dirs:
            path = Path(d)
            problem = load_instance(path)
            name = path.resolve().name
            base, k = name, 1
            while name in used:
                k += 1
                name = f"{base}-{k}"
            prop = path / VNNLIB_FILE
            if not prop.is_file():
                why = (
                    f"{problem.domain.kind} domain"
                    if problem.domain.kind in ("binary", "sign")
                    else "VNN-LIB cannot state it (needs delta = 0 or p = inf, and a box)"
                )
                skipped.append(f"{path}: {why}")
                continue
            used.add(name)
            shutil.copyfile(path / NETWORK_FILE, tmp / "onnx" / f"{name}.onnx")
            if problem.network.onnx_exact():
                shutil.copyfile(prop, tmp / "vnnlib" / f"{name}.vnnlib")
            else:
                leaky = any(la.activation == "leaky_relu" for la in problem.network.layers)
                note = APPROXIMATE_NOTE.format(
                    dtype="float32" if leaky else "float64", name=name, exact=EXACT_FILE
                )
                text = prop.read_text(encoding="utf-8")
                (tmp / "vnnlib" / f"{name}.vnnlib").write_text(note + text, encoding="utf-8")
                approximate.append(name)
            rows.append((f"onnx/{name}.onnx", f"vnnlib/{name}.vnnlib", f"{timeout:g}"))
            exported.append(name)
        if not exported:
            raise UnsupportedError(
                "none of the instances can be stated in VNN-LIB (binary/sign latents, or p not inf "
                "with delta > 0); nothing written"
            )
        with open(tmp / "instances.csv", "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    return exported, skipped, approximate
