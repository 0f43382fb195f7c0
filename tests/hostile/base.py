"""Shared pieces of the hostile corpus: the case record, the good fixtures, byte builders."""

from __future__ import annotations

import contextlib
import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HUGE_COUNTS = [
    "1" + "0" * 400,  # 10^400
    "9" * 5000,  # beyond Python's int-string limit
    "100000000000",  # 1e11
    "2000000000",
    "-1",
    "1e11",
    "0x10",
    "1.5",
    "١٢",
]
#: Number tokens no reader may accept (in text formats and on the command line).
BAD_NUMBERS = [
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "9" * 5000,
    "1/" + "7" * 4500,
    "1e1001",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "1/0",
    "0x10",
    "1_000",
    "abc",
    "",
    "1e",
    "+-1",
]
#: JSON values (as JSON text) that are not an acceptable number anywhere.
BAD_JSON = [
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "-" + "9" * 400,
    "9" * 5000,
    '"1e999999999"',
    '"' + "9" * 5000 + '"',
    '"1e400"',
    '"nan"',
    '"abc"',
    '"1/0"',
    "NaN",
    "Infinity",
    "true",
    "[]",
    "{}",
]
BAD_P = ["1e9", "1e400", "1001", "0", "0.5", "-1", "nan", "abc", "", "1e999999999"]


@dataclass(frozen=True)
class Case:
    """One hostile input: files (relative path -> bytes), the argv that reads them, env."""

    name: str
    kind: str
    cls: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    def write(self, folder: Path) -> None:
        for rel, data in self.files:
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


@dataclass
class _Builder:
    base: dict[str, bytes]  # name -> bytes of the good fixtures
    cases: list[Case] = field(default_factory=list)

    def add(
        self,
        name: str,
        kind: str,
        cls: str,
        argv: list[str],
        files: dict[str, bytes | str],
        env: dict[str, str] | None = None,
    ) -> None:
        data = tuple((k, v.encode() if isinstance(v, str) else v) for k, v in files.items())
        self.cases.append(
            Case(
                f"{len(self.cases):04d}-{name}",
                kind,
                cls,
                tuple(argv),
                data,
                tuple((env or {}).items()),
            )
        )

    def instance(self, which: str, prefix: str = "inst") -> dict[str, bytes | str]:
        """The files of a good base instance directory (``box``, ``real`` or ``red``)."""
        return {
            f"{prefix}/{k.split('/', 1)[1]}": v
            for k, v in self.base.items()
            if k.startswith(f"{which}/")
        }


# ---------------------------------------------------------------- fixtures
def _fixtures() -> dict[str, bytes]:
    """Good inputs the hostile ones are made from, built with geninv itself."""
    from geninv.cli import main
    from geninv.io.instance import save_instance
    from geninv.io.onnx_io import export_onnx
    from geninv.network import ReLUNetwork
    from geninv.problem import Domain, InversionProblem

    out: dict[str, bytes] = {}
    net = ReLUNetwork([[[1, 0], [0, 1], [1, 1]]], [[0, 0, 0]])
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        export_onnx(net, t / "g.onnx")
        out["g.onnx"] = (t / "g.onnx").read_bytes()
        box = InversionProblem(net, [0, 0, 0], Domain.box([-1, -1], [1, 1]), p=2, threshold="1/2")
        real = InversionProblem(
            net,
            [0, 0, 0],
            Domain("real"),
            p="inf",
            threshold="1/10",
            input_box=([-1, -1], [1, 1]),
        )
        save_instance(box, t / "box")
        save_instance(real, t / "real")
        (t / "tri.col").write_text("p edge 3 3\ne 1 2\ne 2 3\ne 1 3\n")
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(
                [
                    "reduce",
                    "clique",
                    str(t / "tri.col"),
                    "--k",
                    "2",
                    "--p",
                    "1",
                    "-o",
                    str(t / "red"),
                    "--expected",
                    "unknown",
                ]
            )
        assert code == 0
        for d in ("box", "real", "red"):
            for f in sorted((t / d).iterdir()):
                out[f"{d}/{f.name}"] = f.read_bytes()
    return out


def _torch_bytes(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _npy_bytes(arr: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npz_bytes(**arrays: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _onnx_bytes(edit: Callable[[Any], None]) -> bytes:
    """A copy of a small good ONNX model changed by ``edit(model)``."""
    import onnx

    from geninv.io.onnx_io import export_onnx
    from geninv.network import ReLUNetwork

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        export_onnx(ReLUNetwork([[[1, 0], [0, 1], [1, 1]]], [[0, 0, 0]]), path)
        model = onnx.load(str(path))
    edit(model)
    return bytes(model.SerializeToString())


# ---------------------------------------------------------------- kinds
def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy_header_with_shape(shape: str) -> bytes:
    """A .npy file whose header declares ``shape`` but which holds no data."""
    head = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }"
    head = head.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode()


_VNN_GOOD = (
    "(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
    "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n"
    "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (>= X_1 -1))\n(assert (<= X_1 1))\n"
    "(assert (>= Y_0 -1))\n(assert (<= Y_0 1))\n"
)
