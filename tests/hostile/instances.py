"""Hostile instance directories (problem.json), witnesses and command-line values."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tests.hostile.base import BAD_JSON, Case, _Builder, _npy_bytes

_INSTANCE_CMDS: dict[str, list[str]] = {
    "info": ["info", "inst"],
    "solve": ["solve", "inst", "--time-limit", "1"],
    "check": ["check", "inst", "w.json"],
    "extract": ["extract", "inst", "w.json"],
    "lift": ["lift", "inst", "-o", "out"],
    "export": ["export-vnncomp", "inst", "-o", "out"],
}


def _edit(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with ``path`` (``a.b.0``) set to ``value`` (``_DELETE`` removes it)."""
    out = json.loads(json.dumps(doc))
    keys = path.split(".")
    node: Any = out
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last: Any = int(keys[-1]) if isinstance(node, list) else keys[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()


class _Raw:
    """JSON text to splice in verbatim (numbers json.dumps cannot write, e.g. 1e400)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _dumps(doc: Any) -> str:
    raws: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, _Raw):
            raws.append(obj.text)
            return f"@@RAW{len(raws) - 1}@@"
        raise TypeError(type(obj).__name__)

    text = json.dumps(doc, default=default, indent=1)
    for k, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{k}@@"', raw)
    return text


def _instances(b: _Builder) -> None:
    witness = {"w.json": '{"z": [0, 0]}'}

    def add(
        name: str,
        cls: str,
        which: str,
        problem: str | bytes | None,
        cmds: tuple[str, ...] = tuple(_INSTANCE_CMDS),
        drop: str | None = None,
    ) -> None:
        files = b.instance(which)
        if problem is not None:
            files["inst/problem.json"] = problem
        if drop is not None:
            del files[f"inst/{drop}"]
        for c in cmds:
            b.add(
                f"inst-{which}-{c}-{name}",
                "problem.json",
                cls,
                _INSTANCE_CMDS[c],
                {**files, **witness},
            )

    docs = {w: json.loads(b.base[f"{w}/problem.json"]) for w in ("box", "real", "red")}
    slots = [
        ("box", "target.0"),
        ("box", "threshold"),
        ("box", "norm"),
        ("box", "domain.lower.0"),
        ("box", "domain.upper.1"),
        ("real", "input_box.lower.0"),
        ("real", "input_box.upper.1"),
        ("box", "threshold_pow"),
    ]
    for which, path in slots:
        for k, v in enumerate(BAD_JSON):
            text = _dumps(_edit(docs[which], path, _Raw(v)))
            add(f"{path}-{k}", "numbers", which, text, ("info", "solve"))
    wrong: list[tuple[str, str, str, Any]] = [
        ("types", "red", "source", []),
        ("types", "red", "source", "x"),
        ("types", "red", "source", 5),
        ("types", "red", "inverse_data", []),
        ("types", "red", "inverse_data", "x"),
        ("types", "red", "inverse_data", _DELETE),
        ("types", "red", "source.copy", "../x"),
        ("types", "red", "source.copy", 5),
        ("types", "red", "source.expected", "maybe"),
        ("types", "red", "source.parameters", []),
        ("types", "red", "source.reduction", 7),
        ("types", "red", "inverse_data.n", "x"),
        ("types", "red", "inverse_data", {"n": []}),
        ("types", "box", "network", []),
        ("types", "box", "network.file", 5),
        ("types", "box", "network.file", "../../g.onnx"),
        ("types", "box", "network.sha256", 5),
        ("types", "box", "network.exact_parameters", "nope.json"),
        ("types", "box", "network.inputs", 7),
        ("types", "box", "domain", "box"),
        ("types", "box", "domain.kind", "cube"),
        ("types", "box", "domain.kind", []),
        ("types", "box", "domain.lower", 0),
        ("types", "box", "target", {}),
        ("types", "box", "target", "x"),
        ("types", "box", "relation", "="),
        ("types", "box", "relation", []),
        ("types", "box", "format", "other"),
        ("types", "box", "version", 2),
        ("types", "real", "input_box", []),
        ("types", "real", "input_box", 5),
        ("types", "real", "input_box.lower", 5),
        ("types", "real", "input_box.upper", _DELETE),
        ("inconsistent", "real", "input_box.lower", [2, 2]),
        ("inconsistent", "real", "input_box.lower", [0]),
        ("inconsistent", "box", "domain.lower", [2, 2]),
        ("inconsistent", "box", "domain.upper", [1, 1, 1]),
        ("inconsistent", "box", "threshold", -1),
        ("inconsistent", "box", "target", [0, 0]),
        ("inconsistent", "real", "threshold", 0),
    ]
    for key in ("network", "target", "domain", "norm", "threshold", "relation", "format"):
        wrong.append(("types", "box", key, _DELETE))
    for k, (cls, which, path, value) in enumerate(wrong):
        doc = _edit(docs[which], path, value)
        if path == "threshold" and value == 0 and which == "real":
            doc["relation"] = "<"
        cmds = tuple(_INSTANCE_CMDS)
        if path.startswith("inverse_data."):
            cmds = ("extract",)  # only extract reads the reduction's inverse data
        elif path == "inverse_data" and value == {"n": []}:
            cmds = ("extract",)
        add(f"edit{k}", cls, which, _dumps(doc), cmds)
    box_text = b.base["box/problem.json"].decode()
    for name, text in {
        "deep": '{"format": "geninv-problem", "x": ' + "[" * 100000 + "]" * 100000 + "}",
        "deep-300": '{"format": "geninv-problem", "x": ' + "[" * 300 + "]" * 300 + "}",
        "top-list": "[]",
        "truncated": box_text[: len(box_text) // 2],
        "empty": "",
        "big-int": box_text.replace('"version": 1', '"version": ' + "9" * 5000),
    }.items():
        add(name, "nesting" if name.startswith("deep") else "malformed", "box", text)
    add("latin1", "malformed", "box", box_text.encode().replace(b'"<="', b'"\xff"'))
    add("no-problem-json", "malformed", "box", None, drop="problem.json")
    add("no-network", "malformed", "box", None, drop="network.onnx")
    add("sha-mismatch", "inconsistent", "box", box_text.replace('"sha256": "', '"sha256": "00'))
    add("file-size", "sizes", "box", None, ("info",))
    b.cases[-1] = Case(
        b.cases[-1].name,
        "problem.json",
        "sizes",
        b.cases[-1].argv,
        b.cases[-1].files,
        (("GENINV_MAX_TEXT_BYTES", "100"),),
    )
    add("json-depth-env", "nesting", "box", None, ("info",))
    b.cases[-1] = Case(
        b.cases[-1].name,
        "problem.json",
        "nesting",
        b.cases[-1].argv,
        b.cases[-1].files,
        (("GENINV_MAX_JSON_DEPTH", "1"),),
    )
    for k, cmd in enumerate(_INSTANCE_CMDS.values()):
        b.add(f"inst-missing-dir{k}", "problem.json", "malformed", cmd, witness)


def _witnesses(b: _Builder) -> None:
    for cmd in ("check", "extract"):
        which = "red" if cmd == "extract" else "box"
        files = b.instance(which)
        n = len(json.loads(b.base[f"{which}/problem.json"])["domain"].get("lower", [0, 0, 0]))
        n = 3 if which == "red" else n
        zeros = ", ".join(["0"] * (n - 1))

        def add(
            name: str,
            cls: str,
            text: str | bytes,
            env: dict[str, str] | None = None,
            cmd: str = cmd,
            files: dict[str, bytes | str] = files,
        ) -> None:
            b.add(
                f"witness-{cmd}-{name}",
                "witness",
                cls,
                [cmd, "inst", "w.json"],
                {**files, "w.json": text},
                env,
            )

        for k, v in enumerate(BAD_JSON):
            add(f"z{k}", "numbers", f'{{"z": [{v}, {zeros}]}}')
        for name, text in {
            "z-number": '{"z": 5}',
            "z-null": '{"z": null, "status": "yes"}',  # a 'no' is valid (issue 16)
            "list": "[0, 0]",
            "no-z": '{"x": [0]}',
            "deep": '{"z": ' + "[" * 100000 + "]" * 100000 + "}",
            "truncated": '{"z": [0, ',
            "empty": "",
            "short": '{"z": [0]}',
            "long": '{"z": [' + ", ".join(["0"] * (n + 1)) + "]}",
        }.items():
            cls = {"deep": "nesting", "short": "inconsistent", "long": "inconsistent"}.get(
                name, "types"
            )
            add(name, cls, text)
        add("latin1", "malformed", b'{"z": [0, "\xff"]}')
        add("vector-env", "sizes", '{"z": [0, 0, 0]}', {"GENINV_MAX_VECTOR": "2"})
        b.add(f"witness-{cmd}-missing", "witness", "malformed", [cmd, "inst", "w.json"], files)


def _misc(b: _Builder) -> None:
    files = b.instance("box")
    for k, v in enumerate(["nan", "-1", "0", "inf"]):
        b.add(f"args-time-limit{k}", "args", "args", ["solve", "inst", "--time-limit", v], files)
    b.add("args-option-auto", "args", "args", ["solve", "inst", "--option", "x=1"], files)
    b.add(
        "args-option-form",
        "args",
        "args",
        ["solve", "inst", "--method", "enumerate", "--option", "nokey"],
        files,
    )
    b.add(
        "args-both",
        "args",
        "args",
        ["solve", "inst", "--onnx", "g.onnx", "--vnnlib", "p.vnnlib"],
        files,
    )
    for k, raw in enumerate(["[" * 100000, "9" * 5000]):
        b.add(
            f"args-option-value{k}",
            "args",
            "args",
            ["solve", "inst", "--method", "enumerate", "--option", f"x={raw}"],
            files,
        )
    numeric = [
        ["solve", "inst", "--seed", "-1"],
        ["solve", "inst", "--method", "enumerate", "--workers", "0"],
        ["sense", "--digits", "0"],
        ["sense", "--network", "g.onnx", "--y", "y.npy", "--measurements", "2", "--noise", "nan"],
        ["sense", "--network", "g.onnx", "--y", "y.npy", "--measurements", "2", "--seed", "-5"],
        ["sense", "--network", "g.onnx", "--y", "y.npy", "--lasso-alpha", "-1"],
        ["export-vnncomp", "inst", "-o", "out", "--timeout", "nan"],
        ["export-vnncomp", "inst", "-o", "out", "--timeout", "-3"],
        ["reduce", "sat", "f.cnf", "-o", "out", "--oracle-time-limit", "inf"],
    ]
    extra = {
        "g.onnx": b.base["g.onnx"],
        "y.npy": _npy_bytes(np.zeros((1, 2))),
        "f.cnf": "p cnf 1 1\n1 0\n",
    }
    for k, argv in enumerate(numeric):
        b.add(f"args-numeric{k}", "args", "args", argv, {**files, **extra})
    proofs = {
        "deep": "[" * 100000 + "]" * 100000,
        "big-int": '{"nodes": ' + "9" * 5000 + "}",
        "huge-float": '{"nodes": 1e400}',
        "truncated": '{"nodes": [',
        "latin1": b'{"\xff": 1}',
        "empty": "",
    }
    for name, text in proofs.items():
        cls = {"deep": "nesting", "big-int": "numbers", "huge-float": "numbers"}.get(
            name, "malformed"
        )
        b.add(
            f"proof-{name}",
            "proof",
            cls,
            ["check-proof", "inst", "p.json"],
            {**files, "p.json": text},
        )
    b.add("args-unknown-command", "args", "args", ["frobnicate"], {})
    b.add(
        "args-sense-measurements",
        "args",
        "args",
        ["sense", "--network", "g.onnx", "--y", "y.npy", "--measurements", "100000000000"],
        {"g.onnx": b.base["g.onnx"], "y.npy": _npy_bytes(np.zeros((1, 2)))},
    )
    b.add(
        "args-sense-y-shape",
        "npy-target",
        "inconsistent",
        ["sense", "--network", "g.onnx", "--y", "y.npy", "--measurements", "2"],
        {"g.onnx": b.base["g.onnx"], "y.npy": _npy_bytes(np.zeros((1, 5)))},
    )
