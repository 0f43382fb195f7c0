"""Instance directories: ``network.onnx`` + ``problem.json`` (+ ``property.vnnlib``).

The schema is documented in docs/formats.md.  Writing is atomic and
conservative (:mod:`geninv.io.atomic`): everything is written into a
temporary sibling directory which is renamed into place only when complete, so
a failure or a signal never leaves a half-written instance behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from geninv.errors import GeninvError, ParseError
from geninv.io.atomic import atomic_dir
from geninv.io.limits import (
    check_file_size,
    check_json_depth,
    check_parameters,
    int_of,
    json_number_line,
    limit,
)
from geninv.io.onnx_io import export_onnx, import_onnx
from geninv.io.vnnlib import vnnlib_expressible, write_vnnlib
from geninv.network import ReLUNetwork
from geninv.problem import (
    DOMAINS,
    Domain,
    InversionProblem,
    SourceInfo,
    json_number,
    norm_label,
    parse_norm,
)

SCHEMA_NAME = "geninv-problem"
SCHEMA_VERSION = 1
PROBLEM_FILE = "problem.json"
NETWORK_FILE = "network.onnx"
EXACT_FILE = "exact_parameters.json"
VNNLIB_FILE = "property.vnnlib"


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of the file's bytes, as lowercase hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def problem_to_json(problem: InversionProblem, network_sha: str | None) -> dict[str, Any]:
    """The ``problem.json`` document of an instance (schema name and version, network summary
    with ``network_sha``, exact numbers as JSON)."""
    net = problem.network
    box = problem.input_box
    dom: dict[str, Any] = {"kind": problem.domain.kind}
    if problem.domain.kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        dom["lower"] = [json_number(v) for v in problem.domain.lower]
        dom["upper"] = [json_number(v) for v in problem.domain.upper]
    return {
        "format": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "network": {
            "file": NETWORK_FILE,
            "sha256": network_sha,
            "inputs": net.n_inputs,
            "outputs": net.n_outputs,
            "depth": net.depth,
            "widths": net.widths,
            "parameters": net.n_params,
            "final_activation": net.final_activation,
            "activations": net.activations,
            "exact_parameters": None if net.onnx_exact() else EXACT_FILE,
        },
        "target": [json_number(v) for v in problem.target],
        "norm": "inf" if math.isinf(problem.p) else json_number(Fraction(problem.p)),
        "threshold": json_number(problem.threshold),
        "threshold_pow": None
        if problem.threshold_pow is None
        else json_number(problem.threshold_pow),
        "relation": problem.relation,
        "domain": dom,
        "input_box": None
        if box is None
        else {"lower": [json_number(v) for v in box[0]], "upper": [json_number(v) for v in box[1]]},
        "property": None,
        "source": problem.source.to_json(),
        "inverse_data": problem.inverse_data,
    }


def _exact_parameters(net: ReLUNetwork) -> dict[str, Any]:
    layers = []
    for layer in net.layers:
        w = layer.exact_weight or [[Fraction(float(v)) for v in row] for row in layer.weight]
        b = layer.exact_bias_values()
        layers.append(
            {
                "weight": [[json_number(v) for v in row] for row in w],
                "bias": [json_number(v) for v in b],
            }
        )
    return {"layers": layers, "activations": net.activations}


def save_instance(
    problem: InversionProblem,
    out_dir: str | Path,
    *,
    force: bool = False,
    source_file: str | Path | None = None,
    source_copy_name: str | None = None,
    protect: Sequence[str | Path] = (),
    extra: Callable[[Path], Any] | None = None,
) -> Path:
    """Write an instance directory atomically; returns its path.

    ``source_file`` (optional) is copied into the directory as
    ``source_copy_name`` so ``geninv extract`` can check witnesses against it.
    The rules of :func:`geninv.io.atomic.atomic_dir` apply: an existing
    ``out_dir`` is replaced only with ``force`` and only if geninv wrote it, and
    never when it is inside (or above) a path in ``protect``.  ``extra(tmp)``,
    when given, writes more files into the directory before it is renamed.
    """
    out = Path(out_dir)
    with atomic_dir(out, force=force, protect=protect) as tmp:
        export_onnx(problem.network, tmp / NETWORK_FILE)
        sha = sha256_file(tmp / NETWORK_FILE)
        doc = problem_to_json(problem, sha)
        if not problem.network.onnx_exact():
            _write_json(tmp / EXACT_FILE, _exact_parameters(problem.network))
        box = _vnnlib_box(problem)
        if box is not None and vnnlib_expressible(problem) is None:
            write_vnnlib(problem, box, tmp / VNNLIB_FILE)
            doc["property"] = VNNLIB_FILE
        if source_file is not None and source_copy_name is not None:
            shutil.copyfile(source_file, tmp / source_copy_name)
        if extra is not None:
            extra(tmp)
        _write_json(tmp / PROBLEM_FILE, doc)
    return out


def _vnnlib_box(problem: InversionProblem) -> tuple[list[Fraction], list[Fraction]] | None:
    if problem.domain.kind == "box":
        assert problem.domain.lower is not None and problem.domain.upper is not None
        return list(problem.domain.lower), list(problem.domain.upper)
    if problem.domain.kind == "real" and problem.input_box is not None:
        return list(problem.input_box[0]), list(problem.input_box[1])
    return None


def _write_json(path: Path, doc: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


def read_json(path: str | Path) -> Any:
    """Load a JSON file; any failure is a one-line ParseError naming the file."""
    p = Path(path)
    with contextlib.suppress(OSError):  # reading it below says why it cannot be read
        check_file_size(p.stat().st_size, "text_bytes", str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParseError("no such file", str(p)) from None
    except IsADirectoryError:
        raise ParseError("is a directory, expected a JSON file", str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read: {exc}", str(p)) from None
    check_json_depth(text, str(p))
    try:
        return json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} (column {exc.colno})", str(p), exc.lineno
        ) from None
    except _RefusedNumber as exc:
        raise ParseError(exc.reason, str(p), json_number_line(text, exc.literal)) from None
    except ValueError as exc:
        raise ParseError(str(exc), str(p)) from None


class _RefusedNumber(ValueError):
    """A JSON number literal refused by a parse hook (the reader then names its line)."""

    def __init__(self, literal: str, reason: str) -> None:
        super().__init__(reason)
        self.literal = literal
        self.reason = reason


def _bounded_int(literal: str) -> int:
    """A JSON integer, refused (not converted) beyond the ``digits`` limit."""
    digits = len(literal.lstrip("-"))
    if digits > limit("digits"):
        raise _RefusedNumber(
            literal,
            f"an integer with {digits:,} digits (the limit is {limit('digits'):,}; set "
            "GENINV_MAX_DIGITS to raise it)",
        )
    value = int_of(literal.lstrip("-"))
    return -value if literal.startswith("-") else value


def _finite_float(literal: str) -> float:
    """A JSON decimal as a float; one beyond the float64 range (``1e400``) is an error."""
    value = float(literal)
    if math.isinf(value):
        shown = literal if len(literal) <= 20 else literal[:20] + "..."
        raise _RefusedNumber(
            literal, f"the number {shown} is beyond the float64 range (|x| <= 1.8e308)"
        )
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def load_instance(directory: str | Path) -> InversionProblem:
    """Read an instance directory, validating it against its network."""
    d = Path(directory)
    if not d.is_dir():
        raise ParseError("not an instance directory (expected a folder with problem.json)", str(d))
    pj = d / PROBLEM_FILE
    doc = read_json(pj)
    where = str(pj)

    def field(obj: Any, key: str, ctx: str = "") -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise ParseError(f"missing field {ctx}{key!r}", where)
        return obj[key]

    def convert(fn: Callable[[], Any], what: str) -> Any:
        try:
            return fn()
        except GeninvError as exc:
            raise ParseError(f"{what}: {exc}", where) from None

    if not isinstance(doc, dict) or doc.get("format") != SCHEMA_NAME:
        raise ParseError(f'not a geninv problem file (expected "format": "{SCHEMA_NAME}")', where)
    if doc.get("version") != SCHEMA_VERSION:
        raise ParseError(
            f"schema version {doc.get('version')!r} is not supported (expected {SCHEMA_VERSION})",
            where,
        )
    netinfo = field(doc, "network")
    if not isinstance(netinfo, dict):
        raise ParseError(f"network is {_json_kind(netinfo)}, expected an object", where)
    for key in ("file", "sha256", "exact_parameters"):
        _expect_name_or_none(netinfo.get(key), f"network.{key}", where, key != "sha256")
    net_path = d / str(field(netinfo, "file", "network."))
    if not net_path.is_file():
        raise ParseError(f"the network file {net_path.name} is missing", str(d))
    recorded = netinfo.get("sha256")
    if recorded is not None and sha256_file(net_path) != recorded:
        raise ParseError(
            f"{net_path.name} does not match the sha256 recorded in problem.json "
            "(the network was changed after the instance was written)",
            where,
        )
    exact_name = netinfo.get("exact_parameters")
    if exact_name:
        network = _load_exact_network(d / str(exact_name))
        onnx_net = import_onnx(net_path)
        why = _same_function(network, onnx_net)
        if why is not None:
            raise ParseError(f"{exact_name} and {net_path.name} {why}", where)
    else:
        network = import_onnx(net_path)
    for key, actual in (("inputs", network.n_inputs), ("outputs", network.n_outputs)):
        if key in netinfo and netinfo[key] != actual:
            raise ParseError(
                f"network.{key} is {netinfo[key]!r} but {net_path.name} has {actual}", where
            )
    target = field(doc, "target")
    if not isinstance(target, list):
        raise ParseError("target must be a list of numbers", where)
    if len(target) != network.n_outputs:
        raise ParseError(
            f"target has {len(target)} entries but {net_path.name} has {network.n_outputs} outputs",
            where,
        )
    domdoc = field(doc, "domain")
    if not isinstance(domdoc, dict):
        raise ParseError(f"domain is {_json_kind(domdoc)}, expected an object", where)
    kind = field(domdoc, "kind", "domain.")
    if kind not in DOMAINS:
        raise ParseError(f"domain.kind must be one of {', '.join(DOMAINS)}, got {kind!r}", where)
    if kind == "box":
        lower, upper = field(domdoc, "lower", "domain."), field(domdoc, "upper", "domain.")
        for name, vec in (("lower", lower), ("upper", upper)):
            if not isinstance(vec, list) or len(vec) != network.n_inputs:
                raise ParseError(
                    f"domain.{name} must list {network.n_inputs} numbers (one per input)", where
                )
        domain = convert(lambda: Domain.box(lower, upper), "domain")
    else:
        domain = Domain(kind)
    box = doc.get("input_box")
    input_box = None
    if box is not None:
        if not isinstance(box, dict):
            raise ParseError(f"input_box is {_json_kind(box)}, expected an object or null", where)
        input_box = (field(box, "lower", "input_box."), field(box, "upper", "input_box."))
        for name, vec in zip(("lower", "upper"), input_box, strict=True):
            if not isinstance(vec, list) or len(vec) != network.n_inputs:
                raise ParseError(
                    f"input_box.{name} must list {network.n_inputs} numbers (one per input)",
                    where,
                )
    src = doc.get("source")
    if src is None:
        src = {}
    if not isinstance(src, dict):
        raise ParseError(f"source is {_json_kind(src)}, expected an object", where)
    for key in ("reduction", "theorem", "file", "sha256", "copy"):
        _expect_name_or_none(src.get(key), f"source.{key}", where, key == "copy")
    if src.get("expected") not in (None, "yes", "no"):
        raise ParseError(
            f'source.expected is {_json_kind(src.get("expected"))}, expected "yes", "no" or null',
            where,
        )
    if src.get("parameters") is not None and not isinstance(src["parameters"], dict):
        raise ParseError(
            f"source.parameters is {_json_kind(src.get('parameters'))}, expected an object",
            where,
        )
    if "inverse_data" not in doc:
        raise ParseError("missing field 'inverse_data' (an object; {} when there is none)", where)
    inverse_data = doc["inverse_data"]
    if inverse_data is None:
        inverse_data = {}
    if not isinstance(inverse_data, dict):
        raise ParseError(f"inverse_data is {_json_kind(inverse_data)}, expected an object", where)
    source = SourceInfo(
        reduction=src.get("reduction"),
        theorem=src.get("theorem"),
        file=src.get("file"),
        sha256=src.get("sha256"),
        parameters=src.get("parameters") or {},
        expected=src.get("expected"),
        copy=src.get("copy"),
    )
    norm = convert(lambda: parse_norm(field(doc, "norm")), "norm")
    problem: InversionProblem = convert(
        lambda: InversionProblem(
            network,
            target,
            domain,
            p=norm,
            threshold=field(doc, "threshold"),
            relation=field(doc, "relation"),
            threshold_pow=doc.get("threshold_pow"),
            source=source,
            inverse_data=inverse_data,
            input_box=input_box,
        ),
        "problem",
    )
    return problem


def _json_kind(value: Any) -> str:
    """How a JSON value is named in an error message: its type and a short view of it."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    kind = kinds.get(type(value), "a number")
    text = json.dumps(value)
    return f"{kind} {text if len(text) <= 30 else text[:27] + '...'}"


def _expect_name_or_none(value: Any, what: str, where: str, file_name: bool) -> None:
    """A string field (a plain file name inside the instance when ``file_name``) or null."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ParseError(f"{what} is {_json_kind(value)}, expected a string or null", where)
    if file_name and (value in ("", ".", "..") or "/" in value or "\\" in value):
        raise ParseError(
            f"{what} is {_json_kind(value)}, expected a file name inside the instance directory",
            where,
        )


def _same_function(exact: ReLUNetwork, rendered: ReLUNetwork) -> str | None:
    """Why the ONNX rendering of the exact parameters is not the same function, or None.

    The ONNX file holds the parameters as floats, and its reader may merge layers (an
    affine map after an identity layer is folded into the next Gemm), so layer widths
    need not agree: the inputs and outputs must, and the two networks must agree on a
    few fixed points up to the rounding of the float rendering (float32 where the
    export needed it)."""
    if exact.n_inputs != rendered.n_inputs or exact.n_outputs != rendered.n_outputs:
        return (
            f"describe different shapes ({exact.n_inputs} -> {exact.n_outputs} inputs/outputs "
            f"against {rendered.n_inputs} -> {rendered.n_outputs})"
        )
    import numpy as np

    pts = np.random.default_rng(0).uniform(-2.0, 2.0, size=(8, exact.n_inputs))
    with np.errstate(all="ignore"):
        a, b = exact.forward(pts), rendered.forward(pts)
        scale = 1.0 + np.abs(a).max(initial=0.0) + _abs_weight_scale(exact)
        err = float(np.abs(a - b).max(initial=0.0))
    if not err <= 1e-5 * scale:  # float32 rendering: relative error about 6e-8 per step
        return f"describe different functions (outputs differ by {err:.3g} on test points)"
    return None


def _abs_weight_scale(net: ReLUNetwork) -> float:
    """A scale for comparing outputs: the product of the layers' largest row sums."""
    import numpy as np

    total = 1.0
    for layer in net.layers:
        w = np.abs(np.asarray(layer.weight, dtype=np.float64))
        total *= (
            1.0 + float(w.sum(axis=1).max(initial=0.0)) + float(np.abs(layer.bias).max(initial=0.0))
        )
    return min(total, 1e300)


def _load_exact_network(path: Path) -> ReLUNetwork:
    doc = read_json(path)
    try:
        layers = doc["layers"]
        check_parameters(
            sum(
                len(layer["weight"]) * (len(layer["weight"][0]) + 1)
                for layer in layers
                if layer["weight"]
            ),
            f"{path}: the network",
        )
        return ReLUNetwork(
            [layer["weight"] for layer in layers],
            [layer["bias"] for layer in layers],
            activations=doc.get("activations"),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ParseError(
            f"malformed exact parameters ({type(exc).__name__}: {exc})", str(path)
        ) from None
    except GeninvError as exc:
        raise ParseError(str(exc), str(path)) from None


def summary(problem: InversionProblem) -> dict[str, Any]:
    """What ``geninv info`` prints."""
    net = problem.network
    return {
        "theorem": problem.source.theorem,
        "reduction": problem.source.reduction,
        "source": problem.source.file,
        "expected": problem.source.expected,
        "domain": problem.domain.kind,
        "latent_dim": net.n_inputs,
        "output_dim": net.n_outputs,
        "norm": norm_label(problem.p),
        "threshold": json_number(problem.threshold)
        if problem.threshold_pow is None
        else f"{problem.threshold_float():.12g} (delta^p = {problem.threshold_pow} exactly)",
        "relation": problem.relation,
        "depth": net.depth,
        "widths": net.widths,
        "width": net.width,
        "parameters": net.n_params,
        "nonzero_parameters": net.n_nonzero,
        "final_activation": net.final_activation,
        "activations": net.activations,
    }
