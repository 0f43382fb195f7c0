"""Hostile binary inputs and vectors: ONNX, PyTorch/.npz weights, NPY/JSON targets, boxes."""

from __future__ import annotations

import io
import json
from typing import Any

from tests.hostile.base import (
    _VNN_GOOD,
    BAD_JSON,
    BAD_NUMBERS,
    BAD_P,
    Case,
    _Builder,
    _npy_bytes,
    _npy_header_with_shape,
    _npz_bytes,
    _onnx_bytes,
    _torch_bytes,
    _zip_bytes,
)


def _onnx_variants() -> dict[str, tuple[str, bytes]]:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    good = _onnx_bytes(lambda m: None)

    def huge(m: Any) -> None:
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.ClearField("double_data")
        del t.dims[:]
        t.dims.extend([100000, 100000])

    def nan(m: Any) -> None:
        t = m.graph.initializer[0]
        arr = numpy_helper.to_array(t).copy()
        arr.flat[0] = np.nan
        t.CopyFrom(numpy_helper.from_array(arr, t.name))

    def ints(m: Any) -> None:
        t = m.graph.initializer[0]
        arr = numpy_helper.to_array(t).astype(np.int64)
        t.CopyFrom(numpy_helper.from_array(arr, t.name))

    def conv(m: Any) -> None:
        m.graph.node[0].op_type = "Conv"

    def two_inputs(m: Any) -> None:
        m.graph.input.append(helper.make_tensor_value_info("z2", TensorProto.FLOAT, [2]))

    def no_graph(m: Any) -> None:
        m.ClearField("graph")

    def custom(m: Any) -> None:
        m.graph.node[0].domain = "com.example"

    def wrong_shape(m: Any) -> None:
        t = m.graph.initializer[0]
        arr = np.ones((3, 5), dtype=numpy_helper.to_array(t).dtype)
        t.CopyFrom(numpy_helper.from_array(arr, t.name))

    edits = {
        "huge-dims": huge,
        "nan": nan,
        "int-weights": ints,
        "conv": conv,
        "two-inputs": two_inputs,
        "no-graph": no_graph,
        "custom-domain": custom,
        "wrong-shape": wrong_shape,
    }
    out = {
        name: ("malformed" if name == "no-graph" else "types", _onnx_bytes(fn))
        for name, fn in edits.items()
    }
    out["huge-dims"] = ("sizes", out["huge-dims"][1])
    for cut in (1, 7, len(good) // 3, len(good) // 2, len(good) - 3):
        out[f"truncated-{cut}"] = ("malformed", good[:cut])
    out["garbage"] = ("malformed", bytes(range(256)) * 4)
    out["empty"] = ("malformed", b"")
    out["text"] = ("malformed", b"this is not an onnx model\n")
    assert onnx  # the import proves onnx is installed for the variants above
    return out


def _networks(b: _Builder) -> None:
    tgt = json.dumps([0, 0, 0])
    for name, (cls, data) in _onnx_variants().items():
        files: dict[str, bytes | str] = {"m.onnx": data, "t.json": tgt}
        b.add(
            f"onnx-new-{name}",
            "onnx",
            cls,
            ["new", "--network", "m.onnx", "--target", "t.json", "--domain", "real", "-o", "out"],
            files,
        )
        b.add(
            f"onnx-vnncomp-{name}",
            "onnx",
            cls,
            ["solve", "--onnx", "m.onnx", "--vnnlib", "p.vnnlib", "--time-limit", "1"],
            {"m.onnx": data, "p.vnnlib": _VNN_GOOD},
        )
        b.add(
            f"onnx-sense-{name}",
            "onnx",
            cls,
            ["sense", "--network", "m.onnx", "--y", "y.npy", "--measurements", "2"],
            {"m.onnx": data, "y.npy": _npy_bytes(__import__("numpy").zeros((1, 2)))},
        )
    import numpy as np
    import torch

    w, bias = torch.ones(3, 2), torch.zeros(3)
    good_pt = _torch_bytes({"0.weight": w, "0.bias": bias})

    class _Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pickled code ran",))

    pts: dict[str, tuple[str, bytes]] = {
        "garbage": ("malformed", bytes(range(256)) * 4),
        "empty": ("malformed", b""),
        "truncated": ("malformed", good_pt[: len(good_pt) // 2]),
        "zip-junk": ("malformed", _zip_bytes({"a/data.pkl": b"\x80\x02junk"})),
        "wrong-shape": ("inconsistent", _torch_bytes({"0.weight": w, "0.bias": torch.zeros(4)})),
        "nan": ("numbers", _torch_bytes({"0.weight": w * float("nan"), "0.bias": bias})),
        "inf": ("numbers", _torch_bytes({"0.weight": w * float("inf"), "0.bias": bias})),
        "string-value": ("types", _torch_bytes({"0.weight": "x", "0.bias": bias})),
        "list": ("types", _torch_bytes([w, bias])),
        "missing-key": ("types", _torch_bytes({"1.weight": w, "1.bias": bias})),
        "code": ("types", _torch_bytes({"0.weight": _Evil()})),
        "int-tensor": (
            "types",
            _torch_bytes({"0.weight": torch.ones(3, 2, dtype=torch.int64), "0.bias": bias}),
        ),
        "weight-3d": (
            "inconsistent",
            _torch_bytes({"0.weight": torch.ones(3, 2, 1), "0.bias": bias}),
        ),
    }
    npzs: dict[str, tuple[str, bytes]] = {
        "garbage": ("malformed", b"PK\x03\x04" + b"\0" * 60),
        "wrong-shape": (
            "inconsistent",
            _npz_bytes(**{"0.weight": np.ones((3, 2)), "0.bias": np.zeros(4)}),
        ),
        "nan": (
            "numbers",
            _npz_bytes(**{"0.weight": np.full((3, 2), np.nan), "0.bias": np.zeros(3)}),
        ),
        "object": (
            "types",
            _npz_bytes(**{"0.weight": np.array([None, 1], dtype=object), "0.bias": np.zeros(3)}),
        ),
        "strings": (
            "types",
            _npz_bytes(**{"0.weight": np.array(["a", "b"]), "0.bias": np.zeros(3)}),
        ),
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **{"0.weight": np.zeros((3, 20000)), "0.bias": np.zeros(3)})
    npzs["zip-bomb"] = ("sizes", buf.getvalue())
    assert len(buf.getvalue()) < 50_000 < 3 * 20000 * 8
    bomb_env = {"GENINV_MAX_MODEL_BYTES": "50000"}  # the file fits, what it unpacks to does not
    for ext, table in ((".pt", pts), (".npz", npzs)):
        for name, (cls, data) in table.items():
            net = f"w{ext}"
            b.add(
                f"torch{ext[1:]}-new-{name}",
                "pytorch",
                cls,
                [
                    "new",
                    "--network",
                    net,
                    "--arch",
                    "0,relu",
                    "--target",
                    "t.json",
                    "--domain",
                    "real",
                    "-o",
                    "out",
                ],
                {net: data, "t.json": tgt},
                bomb_env if name == "zip-bomb" else None,
            )
            b.add(
                f"torch{ext[1:]}-sense-{name}",
                "pytorch",
                cls,
                [
                    "sense",
                    "--network",
                    net,
                    "--arch",
                    "0,relu",
                    "--y",
                    "y.npy",
                    "--measurements",
                    "2",
                ],
                {net: data, "y.npy": _npy_bytes(np.zeros((1, 2)))},
                bomb_env if name == "zip-bomb" else None,
            )
    for k, arch in enumerate(["", ",", "0,relu," * 5000, "0,softmax", "9,relu", "0:x", "relu"]):
        b.add(
            f"torch-arch{k}",
            "pytorch",
            "args",
            [
                "new",
                "--network",
                "w.pt",
                "--arch",
                arch,
                "--target",
                "t.json",
                "--domain",
                "real",
                "-o",
                "out",
            ],
            {"w.pt": good_pt, "t.json": tgt},
        )


def _targets(b: _Builder) -> None:
    import numpy as np

    onnx = b.base["g.onnx"]

    def new(
        name: str,
        kind: str,
        cls: str,
        files: dict[str, bytes | str],
        *extra: str,
        target: str = "t.json",
        domain: str = "real",
    ) -> None:
        b.add(
            f"new-{name}",
            kind,
            cls,
            [
                "new",
                "--network",
                "g.onnx",
                "--target",
                target,
                "--domain",
                domain,
                *extra,
                "-o",
                "out",
            ],
            {"g.onnx": onnx, **files},
        )

    for k, v in enumerate(BAD_JSON):
        new(f"json-target{k}", "json-target", "numbers", {"t.json": f"[0, {v}, 0]"})
        new(
            f"json-target-obj{k}",
            "json-target",
            "numbers",
            {"t.json": f'{{"target": [0, 0, {v}]}}'},
        )
    for name, text in {
        "deep": "[" * 100000 + "]" * 100000,
        "object": '{"x": [0, 0, 0]}',
        "number": "0",
        "empty": "[]",
        "short": "[0, 0]",
        "long": "[0, 0, 0, 0]",
        "truncated": "[0, 0,",
        "nested": "[[0, 0, 0]]",
    }.items():
        cls = {"deep": "nesting", "short": "inconsistent", "long": "inconsistent"}.get(
            name, "types"
        )
        new(f"json-{name}", "json-target", cls, {"t.json": text})
    new("json-latin1", "json-target", "malformed", {"t.json": b"[0, 0, \xff]"})
    npys: dict[str, tuple[str, bytes]] = {
        "strings": ("types", _npy_bytes(np.array(["a", "b", "c"]))),
        "object": ("types", _npy_bytes(np.array([None, 1, 2], dtype=object))),
        "complex": ("types", _npy_bytes(np.zeros(3, dtype=complex))),
        "nan": ("numbers", _npy_bytes(np.array([0.0, np.nan, 0.0]))),
        "inf": ("numbers", _npy_bytes(np.array([0.0, np.inf, 0.0]))),
        "matrix": ("inconsistent", _npy_bytes(np.zeros((3, 3)))),
        "short": ("inconsistent", _npy_bytes(np.zeros(2))),
        "scalar": ("types", _npy_bytes(np.float64(0))),
        "garbage": ("malformed", b"\x93NUMPY\x01\x00" + b"\xff" * 40),
        "text": ("malformed", b"0 0 0\n"),
        "empty": ("malformed", b""),
    }
    header = _npy_bytes(np.zeros(3))
    npys["huge-shape"] = ("sizes", _npy_header_with_shape("(100000000000,)"))
    npys["truncated"] = ("malformed", header[:-8])
    for name, (cls, data) in npys.items():
        new(f"npy-{name}", "npy-target", cls, {"t.npy": data}, target="t.npy")
    new("npy-big-env", "npy-target", "sizes", {"t.npy": _npy_bytes(np.zeros(3))}, target="t.npy")
    b.cases[-1] = Case(
        b.cases[-1].name,
        "npy-target",
        "sizes",
        b.cases[-1].argv,
        b.cases[-1].files,
        (("GENINV_MAX_VECTOR", "2"),),
    )
    tgt = {"t.json": "[0, 0, 0]"}
    for k, v in enumerate([*BAD_NUMBERS, "-1"]):
        new(f"threshold{k}", "args", "args", tgt, "--threshold", v)
        if v and v != "-1":
            new(f"lower{k}", "box", "numbers", tgt, "--lower", v, "--upper", "1", domain="box")
            new(
                f"upper{k}",
                "box",
                "numbers",
                tgt,
                "--lower",
                "0",
                "--upper",
                f"1,{v}",
                domain="box",
            )
    for k, v in enumerate(BAD_P):
        new(f"norm{k}", "args", "args", tgt, "--norm", v)
    for name, extra, files in [
        ("box-empty", ["--lower", "1", "--upper", "0"], {}),
        ("box-lengths", ["--lower", "0,0,0", "--upper", "1"], {}),
        ("box-json-deep", ["--lower", "l.json", "--upper", "1"], {"l.json": "[" * 50000}),
        (
            "box-npy-nan",
            ["--lower", "l.npy", "--upper", "1"],
            {"l.npy": _npy_bytes(np.array([0.0, np.nan]))},
        ),
        ("box-missing", ["--lower", "0"], {}),
        ("box-on-real", ["--lower", "0", "--upper", "1"], {}),
    ]:
        new(
            name,
            "box",
            "inconsistent",
            {**tgt, **files},
            *extra,
            domain="real" if name == "box-on-real" else "box",
        )
