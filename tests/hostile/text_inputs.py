"""Hostile text inputs: DIMACS CNF, graphs, CVP JSON, fplll, VNN-LIB."""

from __future__ import annotations

import json

from tests.hostile.base import (
    _VNN_GOOD,
    BAD_JSON,
    BAD_NUMBERS,
    BAD_P,
    HUGE_COUNTS,
    _Builder,
)


def _cnf(b: _Builder) -> None:
    good = "p cnf 3 2\n1 -2 0\n2 3 0\n"
    for domain in ("sign", "real"):
        cmd = ["reduce", "sat", "f.cnf", "--domain", domain, "-o", "out", "--expected", "unknown"]

        def add(
            name: str,
            cls: str,
            text: str | bytes,
            env: dict[str, str] | None = None,
            domain: str = domain,
            cmd: list[str] = cmd,
        ) -> None:
            b.add(f"cnf-{domain}-{name}", "cnf", cls, cmd, {"f.cnf": text}, env)

        for k, tok in enumerate(HUGE_COUNTS):
            add(f"vars{k}", "sizes", f"p cnf {tok} 1\n1 0\n")
            add(f"clauses{k}", "sizes", f"p cnf 1 {tok}\n1 0\n")
        add("vars-over-limit", "sizes", "p cnf 1000001 1\n1 0\n")
        add("clauses-over-limit", "sizes", "p cnf 3 10000001\n1 0\n")
        add("declared-more", "inconsistent", "p cnf 3 9\n1 0\n")
        add("declared-fewer", "inconsistent", "p cnf 3 1\n1 0\n2 0\n")
        for k, tok in enumerate(
            ["9" * 5000, "1" + "0" * 30, "-" + "9" * 25, "4", "1e3", "0.5", "x", "--1", "1_0", "١"]
        ):
            add(f"literal{k}", "numbers", f"p cnf 3 1\n1 {tok} 0\n")
        for name, text in {
            "no-header": "1 2 0\n",
            "two-headers": "p cnf 3 1\np cnf 3 1\n1 0\n",
            "unterminated": "p cnf 3 1\n1 2\n",
            "dnf": "p dnf 3 1\n1 0\n",
            "header-fields": "p cnf 3\n1 0\n",
            "empty": "",
        }.items():
            add(name, "malformed", text)
        add("latin1", "malformed", b"c caf\xe9\np cnf 1 1\n1 0\n")
        add("nul", "malformed", b"p cnf 1 1\n1\x00 0\n")
        add("file-size", "sizes", good, {"GENINV_MAX_TEXT_BYTES": "10"})
        add("bad-env-limit", "args", good, {"GENINV_MAX_VARIABLES": "lots"})
        b.add(f"cnf-{domain}-missing", "cnf", "malformed", cmd, {})
        b.add(f"cnf-{domain}-directory", "cnf", "malformed", cmd, {"f.cnf/x": ""})
    b.add(
        "cnf-real-network-too-big",
        "cnf",
        "sizes",
        ["reduce", "sat", "f.cnf", "--domain", "real", "-o", "out", "--expected", "unknown"],
        {"f.cnf": "p cnf 20000 1\n1 0\n"},
    )


def _graphs(b: _Builder) -> None:
    cmds = {
        "clique": [
            "reduce",
            "clique",
            "g.col",
            "--k",
            "2",
            "--p",
            "1",
            "-o",
            "out",
            "--expected",
            "unknown",
        ],
        "vc": [
            "reduce",
            "vertex-cover",
            "g.col",
            "--size",
            "1",
            "--p",
            "1",
            "-o",
            "out",
            "--expected",
            "unknown",
        ],
    }
    for cname, cmd in cmds.items():

        def add(
            name: str, cls: str, text: str | bytes, cmd: list[str] = cmd, cname: str = cname
        ) -> None:
            b.add(f"graph-{cname}-{name}", "graph", cls, cmd, {"g.col": text})

        for k, tok in enumerate(HUGE_COUNTS):
            add(f"vertices{k}", "sizes", f"p edge {tok} 1\ne 1 2\n")
            add(f"edges{k}", "sizes", f"p col 3 {tok}\ne 1 2\n")
        add("vertices-over-limit", "sizes", "p edge 1000001 0\n")
        add("edges-over-limit", "sizes", "p td 3 10000001\n1 2\n")
        for k, tok in enumerate([*BAD_NUMBERS, "0", "-1", "1e-999999999"]):
            if tok:
                add(f"weight{k}", "numbers", f"p edge 3 2\ne 1 2 1\ne 2 3 {tok}\n")
        for k, tok in enumerate(["9" * 5000, "0", "4", "-1", "1.0", "x", "1" + "0" * 25]):
            add(f"vertex-a{k}", "numbers", f"p edge 3 1\ne {tok} 2\n")
            add(f"vertex-b{k}", "numbers", f"p td 3 1\n1 {tok}\n")
        for name, text in {
            "self-loop": "p edge 3 1\ne 2 2\n",
            "edge-before-header": "e 1 2\np edge 3 1\n",
            "mixed-weights": "p edge 3 2\ne 1 2 1\ne 2 3\n",
            "repeat-other-weight": "p edge 3 2\ne 1 2 1\ne 2 1 2\n",
            "vertex-weight": "p edge 3 1\nn 1 5\ne 1 2\n",
            "pace-with-e": "p td 3 1\ne 1 2\n",
            "fields": "p edge 3 1\ne 1 2 3 4\n",
            "count": "p edge 3 5\ne 1 2\n",
            "no-header": "e 1 2\n",
            "two-headers": "p edge 3 1\np edge 3 1\ne 1 2\n",
            "bad-format": "p graph 3 1\ne 1 2\n",
        }.items():
            add(name, "malformed", text)
        add("latin1", "malformed", b"c \xff\np edge 2 1\ne 1 2\n")
    big = "p edge 100000 1\ne 1 2\n"
    for p in ("1", "2"):
        b.add(
            f"graph-clique-n-huge-p{p}",
            "graph",
            "sizes",
            ["reduce", "clique", "g.col", "--k", "2", "--p", p, "-o", "out"],
            {"g.col": big},
        )
    b.add(
        "graph-clique-n3000",
        "graph",
        "sizes",
        ["reduce", "clique", "g.col", "--k", "2", "--p", "1", "-o", "out"],
        {"g.col": "p edge 3000 0\n"},
    )
    tri = "p edge 3 3\ne 1 2\ne 2 3\ne 1 3\n"
    extra: list[list[str]] = [["--k", "-1"], ["--k", "5"], ["--half"]]
    extra += [["--k", "2", "--max-weight", v] for v in [*BAD_NUMBERS, "-1"]]
    extra += [["--k", "2", "--p", v] for v in BAD_P]
    for k, ex in enumerate(extra):
        argv = ["reduce", "clique", "g.col", *ex, "-o", "out", "--expected", "unknown"]
        if "--p" not in ex:
            argv += ["--p", "1"]
        b.add(f"graph-clique-args{k}", "graph", "args", argv, {"g.col": tri})
    for k, ex in enumerate(
        [["--size", "-1", "--p", "1"]] + [["--size", "1", "--p", v] for v in BAD_P]
    ):
        b.add(
            f"graph-vc-args{k}",
            "graph",
            "args",
            ["reduce", "vertex-cover", "g.col", *ex, "-o", "out"],
            {"g.col": tri},
        )


def _cvp(b: _Builder) -> None:
    cmd = ["reduce", "cvp", "c.json", "--p", "2", "-o", "out", "--expected", "unknown"]
    good = {"basis": [[1, 0], [0, 1]], "target": [1, 1], "radius": 1}

    def add(name: str, cls: str, text: str | bytes, argv: list[str] = cmd) -> None:
        b.add(f"cvp-{name}", "cvp-json", cls, argv, {"c.json": text})

    slots = {
        "basis": '{"basis": [[X, 0], [0, 1]], "target": [1, 1], "radius": 1}',
        "target": '{"basis": [[1, 0], [0, 1]], "target": [1, X], "radius": 1}',
        "radius": '{"basis": [[1, 0], [0, 1]], "target": [1, 1], "radius": X}',
        "radius_pow": '{"basis": [[1, 0], [0, 1]], "target": [1, 1], "radius_pow": X}',
        "p": '{"basis": [[1, 0], [0, 1]], "target": [1, 1], "radius": 1, "p": X}',
    }
    for slot, template in slots.items():
        for k, v in enumerate(BAD_JSON):
            add(f"{slot}{k}", "numbers", template.replace("X", v))
    add("p-1e9", "numbers", '{"basis": [[1]], "target": [1], "radius": 1, "p": 1000000000}')
    add("deep-basis", "nesting", '{"basis": ' + "[" * 100000 + "]" * 100000 + ', "target": [1]}')
    add("deep-target", "nesting", '{"basis": [[1]], "target": ' + "[" * 300 + "]" * 300 + "}")
    for k, top in enumerate(["[]", '"x"', "1", "null"]):
        add(f"top{k}", "types", top)
    for name, doc in {
        "no-basis": '{"target": [1]}',
        "no-target": '{"basis": [[1]]}',
        "unknown-key": '{"basis": [[1]], "target": [1], "radius": 1, "x": 1}',
        "duplicate": '{"basis": [[1]], "basis": [[1]], "target": [1], "radius": 1}',
        "empty-basis": '{"basis": [], "target": [], "radius": 1}',
        "basis-dict": '{"basis": {"a": 1}, "target": [1], "radius": 1}',
        "row-number": '{"basis": [1, 2], "target": [1], "radius": 1}',
    }.items():
        add(name, "types", doc)
    for name, doc in {
        "ragged": '{"basis": [[1, 0], [1]], "target": [1, 1], "radius": 1}',
        "target-length": '{"basis": [[1, 0]], "target": [1], "radius": 1}',
        "both-radii": '{"basis": [[1]], "target": [1], "radius": 1, "radius_pow": 1}',
        "negative-radius": '{"basis": [[1]], "target": [1], "radius": -1}',
        "p-disagrees": '{"basis": [[1]], "target": [1], "radius": 1, "p": 3}',
        "no-radius": '{"basis": [[1]], "target": [1]}',
    }.items():
        add(name, "inconsistent", doc)
    add(
        "too-many-vectors",
        "sizes",
        json.dumps({"basis": [[1]] * 10001, "target": [1], "radius": 1}),
    )
    add(
        "too-long-vectors",
        "sizes",
        json.dumps({"basis": [[1] * 10001], "target": [1] * 10001, "radius": 1}),
    )
    add("truncated", "malformed", json.dumps(good)[:-5])
    add("latin1", "malformed", b'{"basis": [[1]], "target": [1], "radius": "\xff"}')
    gtext = json.dumps(good)
    for k, v in enumerate([*BAD_NUMBERS, "-1"]):
        add(f"arg-radius{k}", "args", gtext, [*cmd, "--radius", v])
        add(f"arg-radius-pow{k}", "args", gtext, [*cmd, "--radius-pow", v])
    for k, v in enumerate(BAD_P):
        add(f"arg-p{k}", "args", gtext, ["reduce", "cvp", "c.json", "--p", v, "-o", "out"])


def _fplll(b: _Builder) -> None:
    cmd = [
        "reduce",
        "cvp",
        "b.txt",
        "--target",
        "t.txt",
        "--radius",
        "1",
        "--p",
        "2",
        "-o",
        "out",
        "--expected",
        "unknown",
    ]

    def add(name: str, cls: str, basis: str, target: str = "[1 1]") -> None:
        b.add(f"fplll-{name}", "fplll", cls, cmd, {"b.txt": basis, "t.txt": target})

    for k, v in enumerate([*BAD_NUMBERS, "1" + "0" * 400]):
        if v:
            add(f"entry{k}", "numbers", f"[[1 {v}]\n[0 1]]\n")
            add(f"target{k}", "numbers", "[[1 0]\n[0 1]]\n", f"[1 {v}]\n")
    for name, (basis, target) in {
        "unclosed": ("[[1 0]\n[0 1]\n", "[1 1]"),
        "nested": ("[[[1 0]]]", "[1 1]"),
        "ragged": ("[[1 0]\n[1]]", "[1 1]"),
        "empty-row": ("[[]]", "[1]"),
        "trailing": ("[[1 0]\n[0 1]] x", "[1 1]"),
        "target-length": ("[[1 0]\n[0 1]]", "[1 1 1]"),
        "target-matrix": ("[[1 0]\n[0 1]]", "[[1 1] [1 1]]"),
        "deep": ("[" * 100000, "[1]"),
    }.items():
        cls = "inconsistent" if "length" in name else "malformed"
        add(name, cls, basis, target)
    add("too-many-rows", "sizes", "[" + "[1]\n" * 10001 + "]", "[1]")
    add("too-long-row", "sizes", "[[" + " 1" * 10001 + "]]", "[" + " 1" * 10001 + "]")


def _vnnlib(b: _Builder) -> None:
    onnx = b.base["g.onnx"]

    def add(name: str, cls: str, text: str | bytes, env: dict[str, str] | None = None) -> None:
        b.add(
            f"vnnlib-{name}",
            "vnnlib",
            cls,
            ["solve", "--onnx", "g.onnx", "--vnnlib", "p.vnnlib", "--time-limit", "1"],
            {"g.onnx": onnx, "p.vnnlib": text},
            env,
        )

    for k, v in enumerate(
        [
            "9" * 5000,
            "1e999999999",
            "1e400",
            "1e1001",
            "1" + "0" * 400,
            "(- 1e400)",
            "(/ 1 0)",
            "(/ 1e400 1)",
        ]
    ):
        for slot in ("(>= X_0 -1)", "(<= X_0 1)", "(>= Y_0 -1)"):
            bad = slot.replace("-1", v).replace(" 1)", f" {v})")
            add(f"const{k}-{slot[2:4].strip()}{slot[5]}", "numbers", _VNN_GOOD.replace(slot, bad))
    deep = "(assert " + "(and " * 100000 + "(<= Y_0 1)" + ")" * 100000 + ")\n"
    add("deep-and", "nesting", _VNN_GOOD + deep)
    add("deep-201", "nesting", _VNN_GOOD + "(assert " + "(and " * 201 + ")" * 202 + "\n")
    add("deep-parens", "nesting", "(" * 100000)
    add("tokens-env", "sizes", _VNN_GOOD, {"GENINV_MAX_VNNLIB_TOKENS": "20"})
    add("file-size-env", "sizes", _VNN_GOOD, {"GENINV_MAX_TEXT_BYTES": "100"})
    for name, text in {
        "unbalanced-close": _VNN_GOOD + ")",
        "unbalanced-open": _VNN_GOOD + "(assert (<= Y_0 1)",
        "command": _VNN_GOOD + "(check-sat)",
        "or": _VNN_GOOD + "(assert (or (<= Y_0 1) (>= Y_0 2)))",
        "top-atom": "X_0",
        "huge-index": _VNN_GOOD + "(declare-const X_" + "9" * 5000 + " Real)",
        "undeclared": _VNN_GOOD + "(assert (<= Y_7 1))",
        "twice": _VNN_GOOD + "(declare-const X_0 Real)",
        "int-sort": _VNN_GOOD.replace("X_1 Real", "X_1 Int"),
        "no-inputs": "(declare-const Y_0 Real)",
        "empty": "",
        "bad-char": _VNN_GOOD + "\x00",
    }.items():
        add(name, "malformed", text)
    add("latin1", "malformed", _VNN_GOOD.encode() + b"; \xff\n")
    for name, text in {
        "empty-box": _VNN_GOOD.replace("(<= X_0 1)", "(<= X_0 -2)"),
        "strict-point": _VNN_GOOD.replace("(<= X_0 1)", "(< X_0 -1)"),
        "output-empty": _VNN_GOOD.replace("(<= Y_0 1)", "(<= Y_0 -2)"),
        "unbounded-input": _VNN_GOOD.replace("(assert (<= X_0 1))\n", ""),
        "one-sided-output": _VNN_GOOD.replace("(assert (<= Y_0 1))\n", ""),
        "wrong-count": _VNN_GOOD.replace("(declare-const Y_2 Real)\n", ""),
        "extra-input": _VNN_GOOD + "(declare-const X_2 Real)(assert (<= X_2 1))(assert (>= X_2 0))",
    }.items():
        add(name, "inconsistent", text)
