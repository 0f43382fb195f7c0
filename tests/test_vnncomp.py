"""VNN-COMP pairs in (weighted l_inf balls), benchmark folders out."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from geninv.cli import main
from geninv.errors import UnsupportedError
from geninv.io.dimacs import parse_cnf
from geninv.io.instance import save_instance
from geninv.io.onnx_io import export_onnx
from geninv.io.vnncomp import export_vnncomp, problem_from_vnncomp
from geninv.network import ReLUNetwork
from geninv.oracles import sat_model
from geninv.reductions.sat import SatReduction


def write_property(path: Path, lo_in, hi_in, out_bounds, strict=False) -> None:  # type: ignore[no-untyped-def]
    lines = [f"(declare-const X_{i} Real)" for i in range(len(lo_in))]
    lines += [f"(declare-const Y_{j} Real)" for j in range(len(out_bounds))]
    for i, (lo, hi) in enumerate(zip(lo_in, hi_in, strict=True)):
        lines += [f"(assert (>= X_{i} {lo}))", f"(assert (<= X_{i} {hi}))"]
    op_lo, op_hi = (">", "<") if strict else (">=", "<=")
    for j, (lo, hi) in enumerate(out_bounds):
        if lo is not None:
            lines.append(f"(assert ({op_lo} Y_{j} {lo}))")
        if hi is not None:
            lines.append(f"(assert ({op_hi} Y_{j} {hi}))")
    path.write_text("\n".join(lines) + "\n")


def test_weighted_box_becomes_unit_linf_ball(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for trial in range(10):
        net = ReLUNetwork(
            [rng.normal(size=(5, 3)), rng.normal(size=(3, 5))],
            [rng.normal(size=5), rng.normal(size=3)],
            final_activation="identity" if trial % 2 else "relu",
        )
        onnx = tmp_path / f"n{trial}.onnx"
        export_onnx(net, onnx, dtype="float64")
        z0 = rng.uniform(-1, 1, size=3)
        y0 = net.forward(z0)
        widths = [0.25, 1.0, 3.0]
        bounds = [
            (round(y - w / 2, 6), round(y + w / 3, 6)) for y, w in zip(y0, widths, strict=True)
        ]
        prop = tmp_path / f"p{trial}.vnnlib"
        write_property(prop, [-1] * 3, [1] * 3, bounds)
        problem = problem_from_vnncomp(onnx, prop)
        assert problem.domain.kind == "box" and problem.p == float("inf")
        assert problem.threshold == 1
        for z in np.vstack([rng.uniform(-1, 1, size=(300, 3)), z0[None, :]]):
            y = net.forward_exact([Fraction(float(v)) for v in z])
            inside = all(
                Fraction(lo) <= v <= Fraction(hi) for v, (lo, hi) in zip(y, bounds, strict=True)
            )
            assert problem.exact_check([float(v) for v in z]).meets == inside


def test_exact_property_and_dropped_outputs(tmp_path: Path) -> None:
    cnf = parse_cnf("p cnf 3 2\n1 -2 0\n2 3 0\n")
    problem, inv = SatReduction("real").apply(cnf)
    inst = save_instance(problem, tmp_path / "inst")
    back = problem_from_vnncomp(inst / "network.onnx", inst / "property.vnnlib")
    assert back.is_exact_inversion and back.domain.kind == "box"
    assert list(back.domain.lower or []) == [-1] * 3 and list(back.target) == [0, 3]
    model = sat_model(cnf)
    assert model is not None
    assert back.exact_check(SatReduction.encode(model, inv)).meets
    # an unbounded output is dropped
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)])
    export_onnx(net, tmp_path / "id.onnx")
    write_property(tmp_path / "q.vnnlib", [0, 0], [1, 1], [(0.5, 0.5), (None, None)])
    q = problem_from_vnncomp(tmp_path / "id.onnx", tmp_path / "q.vnnlib")
    assert q.network.n_outputs == 1 and q.is_exact_inversion


@pytest.mark.parametrize(
    ("bounds", "strict", "needle"),
    [
        ([(0, None), (0, 1)], False, "Y_0 has no upper bound"),
        ([(0, 0), (0, 1)], False, "Y_0 is fixed"),
        ([(0, 1), (0, 1)], True, None),
        ([(None, None), (None, None)], False, "no output is bounded"),
    ],
)
def test_refusals(tmp_path: Path, bounds, strict, needle) -> None:  # type: ignore[no-untyped-def]
    net = ReLUNetwork([np.eye(2)], [np.zeros(2)])
    export_onnx(net, tmp_path / "id.onnx")
    write_property(tmp_path / "p.vnnlib", [0, 0], [1, 1], bounds, strict=strict)
    if needle is None:
        assert problem_from_vnncomp(tmp_path / "id.onnx", tmp_path / "p.vnnlib").relation == "<"
        return
    with pytest.raises(UnsupportedError, match=needle):
        problem_from_vnncomp(tmp_path / "id.onnx", tmp_path / "p.vnnlib")


def test_export_vnncomp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cnf = parse_cnf("p cnf 2 1\n1 2 0\n")
    real = save_instance(SatReduction("real").apply(cnf)[0], tmp_path / "real")
    sign = save_instance(SatReduction("sign").apply(cnf)[0], tmp_path / "sign")
    out = tmp_path / "bench"
    assert main(["export-vnncomp", str(real), str(sign), "-o", str(out), "--timeout", "60"]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "sign" in captured.err
    with open(out / "instances.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["onnx/real.onnx", "vnnlib/real.vnnlib", "60"]]
    assert (out / "onnx" / "real.onnx").is_file() and (out / "vnnlib" / "real.vnnlib").is_file()
    with pytest.raises(UnsupportedError):
        export_vnncomp([sign], tmp_path / "none")
    assert not (tmp_path / "none").exists()
    code = main(["export-vnncomp", str(sign), "-o", str(tmp_path / "none")])
    assert code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_export_says_when_onnx_approximates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A LeakyReLU slope of 1/10 (no float32) is exported as the nearest float32: the
    export names the instance, the property file says so, and the fuzz tester calls the
    round trip a nearby question (``lossy``) rather than a wrong answer."""
    from geninv.network import ReLUNetwork
    from geninv.problem import Domain, InversionProblem
    from geninv.testing.differential import _float_exact

    def problem(slope: str) -> InversionProblem:
        net = ReLUNetwork(
            [[[1]], [[1]]], [[0], [0]], activations=[f"leaky_relu:{slope}", "identity"]
        )
        return InversionProblem(net, ["-1/4"], Domain.box([-4], [4]), p="inf", threshold=0)

    exact = save_instance(problem("1/8"), tmp_path / "exact")
    near = save_instance(problem("1/10"), tmp_path / "near")
    assert _float_exact(problem("1/8")) and not _float_exact(problem("1/10"))
    names, skipped, approximate = export_vnncomp([exact, near], tmp_path / "b1")
    assert names == ["exact", "near"] and skipped == [] and approximate == ["near"]
    assert "nearest floats" in (tmp_path / "b1" / "vnnlib" / "near.vnnlib").read_text()
    assert "nearest floats" not in (tmp_path / "b1" / "vnnlib" / "exact.vnnlib").read_text()
    # the exported pair is the nearby question: -1/4 is reached at z = -5/2 exactly
    # in the instance, not in the float32 network
    back = problem_from_vnncomp(
        tmp_path / "b1" / "onnx" / "near.onnx", tmp_path / "b1" / "vnnlib" / "near.vnnlib"
    )
    assert problem("1/10").exact_check(["-5/2"]).meets
    assert not back.exact_check(["-5/2"]).meets
    assert main(["export-vnncomp", str(near), "-o", str(tmp_path / "b2")]) == 0
    err = capsys.readouterr().err
    assert "note: 1 exported network(s)" in err and "near" in err
