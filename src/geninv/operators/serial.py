"""Operators read back from their ``to_dict()`` record, and array files (masks, kernels,
matrices) read with their sizes bounded (see :mod:`geninv.operators`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from geninv.errors import ParseError, ValidationError

if TYPE_CHECKING:
    pass

from geninv.operators.base import DenseOperator, FloatArray, Operator, parse_image_shape
from geninv.operators.imaging import (
    BlurOperator,
    IdentityOperator,
    InpaintOperator,
    SuperResOperator,
)

OPERATOR_KINDS: dict[str, type[Operator]] = {
    cls.kind: cls
    for cls in (DenseOperator, InpaintOperator, SuperResOperator, BlurOperator, IdentityOperator)
}


# ====================================================================== reading back
def _field(d: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValidationError(f"{where}: field {key!r} is {value!r}, expected {kinds}")
    return value


def operator_from_dict(
    d: Any, matrix: npt.ArrayLike | None = None, where: str = "operator"
) -> Operator:
    """The operator ``to_dict()`` described; ``matrix`` is a dense operator's matrix when it
    was not drawn from a seed.  Every field is checked (``where`` names the place in errors);
    the recorded ``m`` must match."""
    if not isinstance(d, dict):
        raise ValidationError(f"{where}: expected an object, got {type(d).__name__}")
    kind = d.get("kind")
    if kind not in OPERATOR_KINDS:
        raise ValidationError(f"{where}: kind {kind!r}, expected one of {sorted(OPERATOR_KINDS)}")
    shape = parse_image_shape(_field(d, "shape", list, where), what=f"{where}.shape")
    op: Operator
    if kind == "dense":
        if d.get("source") == "gaussian":
            stream = d.get("stream")
            if stream is not None:
                stream = _field(d, "stream", int, where)
            op = DenseOperator.gaussian(
                _field(d, "m", int, where), shape, _field(d, "seed", int, where), stream
            )
        elif matrix is None:
            raise ValidationError(f"{where}: a dense operator read from a file needs its matrix")
        else:
            op = DenseOperator(matrix, shape, source=d.get("source"))
    elif kind == "inpaint":
        text = _field(d, "keep", str, where)
        q = math.prod(shape)
        if len(text) != 2 * ((q + 7) // 8):
            raise ValidationError(
                f"{where}: field 'keep' has {len(text)} hex digits for {q} pixels"
            )
        try:
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))[:q]
        except ValueError:
            raise ValidationError(f"{where}: field 'keep' is not hexadecimal") from None
        seed = d.get("seed")
        op = InpaintOperator(
            shape, bits.reshape(shape), seed=seed if isinstance(seed, int) else None
        )
    elif kind == "superres":
        op = SuperResOperator(shape, _field(d, "factor", int, where))
    elif kind == "blur":
        kernel = _field(d, "kernel", list, where)
        try:
            k = np.array(kernel, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError(f"{where}: field 'kernel' is not a matrix of numbers") from None
        label = d.get("label")
        op = BlurOperator(shape, k, label=label if isinstance(label, str) else None)
    else:
        op = IdentityOperator(shape)
    if d.get("m") != op.m:
        raise ValidationError(f"{where}: records m = {d.get('m')!r} but the operator has {op.m}")
    return op


def read_array_file(path: str, what: str, max_entries: int | None = None) -> FloatArray:
    """A 1-D or 2-D numeric array from ``.npy`` (header checked before the data is read)
    or ``.txt`` (whitespace- or comma-separated rows; the file size is bounded first).
    Errors are one-line :class:`~geninv.errors.ParseError` naming the file."""
    from geninv.io.text import read_npy, read_text

    if path.endswith(".npy"):
        arr = np.asarray(read_npy(path, what), dtype=np.float64)
    elif path.endswith(".txt"):
        name, text = read_text(path, what)
        rows: list[list[float]] = []
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].replace(",", " ").strip()
            if not line:
                continue
            try:
                rows.append([float(t) for t in line.split()])
            except ValueError:
                raise ParseError(
                    f"expected numbers separated by spaces or commas ({what})", name, lineno
                ) from None
            if rows and len(rows[-1]) != len(rows[0]):
                raise ParseError(
                    f"row has {len(rows[-1])} numbers, the first row {len(rows[0])} ({what})",
                    name,
                    lineno,
                )
        if not rows:
            raise ParseError(f"no numbers (expected a {what})", name)
        arr = np.array(rows, dtype=np.float64)
    else:
        raise ParseError(f"expected a .npy or .txt {what}", path)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ParseError(f"expected a 1-D or 2-D {what}, got shape {arr.shape}", path)
    if not np.all(np.isfinite(arr)):
        raise ParseError(f"the {what} holds NaN or infinite values", path)
    if max_entries is not None and arr.size > max_entries:
        raise ParseError(f"the {what} has {arr.size} entries, at most {max_entries}", path)
    return arr
