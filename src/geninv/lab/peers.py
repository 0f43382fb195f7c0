"""Peer verifiers as lab solvers (issue 18, item 4): Marabou, OMLT + HiGHS, gurobi-ml.

A peer decides the same question VNN-LIB can state (:func:`geninv.io.vnnlib.vnnlib_expressible`:
real or box latents, and ``delta = 0`` or ``p = inf``): is there ``z`` in the input box
(the domain's box, or the box a real-latent network clamps its input to) with
``x_j - delta <= G(z)_j <= x_j + delta`` for every output ``j``?  Each peer reads the
network as ONNX (:func:`geninv.io.onnx_export.export_onnx`) and the bounds as floats,
so its answer is about the float question, and it is **the peer's word**:

* a *yes* carries the peer's point, which geninv re-checks exactly (clamped into the
  box); the row's basis says whether the re-check held (``peer: point re-checked
  exactly``) or not (``peer: point fails geninv's exact re-check``);
* a *no* is ``peer: its word`` (no peer gives a certificate geninv can check);
* anything else is *unknown* with the peer's reason.

Peers are never ground truth (:mod:`geninv.lab.export`); a peer's definite answer
that contradicts another row of its coordinate is reported by the sweep as a
disagreement, and by the release as a peer disagreement.

A peer whose package is not installed is **skipped**: its cell is recorded with answer
*unknown*, proof kind ``skipped`` and the reason (what to install), never dropped and
never an error.  Each peer runs in a forked child killed at the cell's limit (native
solvers may ignore their own time limits).

* ``marabou``: :mod:`maraboupy` (pip ``maraboupy``), ``Marabou.read_onnx`` and the
  bounds as variable bounds.
* ``omlt-highs``: :mod:`omlt` (pip ``omlt pyomo highspy``), the big-M ReLU formulation
  of the ONNX network in a Pyomo model with a zero objective, solved by HiGHS (appsi).
* ``gurobi-ml``: :mod:`gurobi_ml` (with :mod:`gurobipy`; its pip licence is size-limited,
  larger models are an *unknown* with Gurobi's message), the ONNX model as a
  predictor constraint.
"""

from __future__ import annotations

import importlib
import math
import os
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

#: peer -> the modules it needs (what :func:`missing` imports).
REQUIRES: dict[str, tuple[str, ...]] = {
    "marabou": ("maraboupy",),
    "omlt-highs": ("omlt", "pyomo.environ", "highspy"),
    "gurobi-ml": ("gurobi_ml", "gurobipy"),
}
PEERS = tuple(REQUIRES)
#: what to install for each peer (the skip note names it).
INSTALL = {
    "marabou": "pip install maraboupy",
    "omlt-highs": "pip install omlt pyomo highspy",
    "gurobi-ml": "pip install gurobi-machinelearning gurobipy",
}
_VERSIONED = {"marabou": "maraboupy", "omlt-highs": "omlt", "gurobi-ml": "gurobi-machinelearning"}

Result = tuple[str, str, str, str]  # answer, proof kind, basis, reason


def missing(peer: str) -> str | None:
    """None when ``peer``'s packages import, else the skip reason."""
    for mod in REQUIRES[peer]:
        try:
            importlib.import_module(mod)
        except Exception as exc:  # ImportError, or a broken native extension
            return (
                f"skipped: {peer} needs the Python module {mod}, which is not usable here "
                f"({type(exc).__name__}); {INSTALL[peer]} (geninv's 'peers' extra)"
            )
    return None


def peer_version(peer: str) -> str:
    """The peer package's name and version."""
    from importlib.metadata import PackageNotFoundError, version

    name = _VERSIONED[peer]
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} (version unknown)"


def _bounds(problem: Any) -> tuple[list[float], list[float], list[float], list[float]]:
    """Input box and output bounds of the question, as floats."""
    if problem.domain.kind == "box":
        lo, hi = problem.domain.lower, problem.domain.upper
    else:
        lo, hi = problem.input_box
    d = Fraction(problem.threshold)
    olo = [float(Fraction(t) - d) for t in problem.target]
    ohi = [float(Fraction(t) + d) for t in problem.target]
    return [float(v) for v in lo], [float(v) for v in hi], olo, ohi


# ------------------------------------------------------------------ the peers
def _mod(name: str) -> Any:
    """A peer's module, typed ``Any`` (the peers ship no type information)."""
    return importlib.import_module(name)


def _marabou(onnx_path: str, b: Any, limit: float) -> tuple[str, list[float] | None, str]:
    import warnings

    with warnings.catch_warnings():  # "Tensorflow parser is unavailable": not needed here
        warnings.simplefilter("ignore", UserWarning)
        marabou = _mod("maraboupy.Marabou")

    net = marabou.read_onnx(onnx_path)
    ins, outs = net.inputVars[0].flatten(), net.outputVars[0].flatten()
    for v, lo, hi in zip(ins, b[0], b[1], strict=True):
        net.setLowerBound(int(v), lo)
        net.setUpperBound(int(v), hi)
    for v, lo, hi in zip(outs, b[2], b[3], strict=True):
        net.setLowerBound(int(v), lo)
        net.setUpperBound(int(v), hi)
    opts = marabou.createOptions(timeoutInSeconds=max(1, math.ceil(limit)), verbosity=0)
    code, vals, _ = net.solve(options=opts, verbose=False)
    if code == "sat":
        return "yes", [float(vals[int(v)]) for v in ins], ""
    if code == "unsat":
        return "no", None, ""
    return "unknown", None, f"Marabou: {code}"


def _omlt(onnx_path: str, b: Any, limit: float) -> tuple[str, list[float] | None, str]:
    pyo = _mod("pyomo.environ")
    omlt, omlt_io, omlt_nn = _mod("omlt"), _mod("omlt.io"), _mod("omlt.neuralnet")

    bounds = {(0, i): (lo, hi) for i, (lo, hi) in enumerate(zip(b[0], b[1], strict=True))}
    model = _onnx_model(onnx_path)
    from onnx import helper

    for node in model.graph.node:  # OMLT's reader wants Gemm's alpha and beta spelled out
        have = {a.name for a in node.attribute}
        if node.op_type == "Gemm":
            node.attribute.extend(
                helper.make_attribute(k, 1.0) for k in ("alpha", "beta") if k not in have
            )
    net = omlt_io.load_onnx_neural_network(model, input_bounds=bounds)
    m = pyo.ConcreteModel()
    m.nn = omlt.OmltBlock()
    m.nn.build_formulation(omlt_nn.ReluBigMFormulation(net))
    outs = list(m.nn.outputs.keys())
    m.cons = pyo.ConstraintList()
    for k, lo, hi in zip(outs, b[2], b[3], strict=True):
        m.cons.add(m.nn.outputs[k] >= lo)
        m.cons.add(m.nn.outputs[k] <= hi)
    m.obj = pyo.Objective(expr=0)
    solver = _mod("pyomo.contrib.appsi.solvers").Highs()
    solver.config.time_limit = limit
    solver.config.load_solution = False
    res = solver.solve(m)
    tc = res.termination_condition.name
    if tc == "infeasible":
        return "no", None, ""
    if tc == "optimal":
        res.solution_loader.load_vars()
        return "yes", [float(pyo.value(m.nn.inputs[k])) for k in m.nn.inputs], ""
    return "unknown", None, f"HiGHS (via OMLT): {tc}"


def _gurobi_ml(onnx_path: str, b: Any, limit: float) -> tuple[str, list[float] | None, str]:
    gp = _mod("gurobipy")
    add_predictor_constr = _mod("gurobi_ml").add_predictor_constr

    with gp.Env(params={"OutputFlag": 0}) as env, gp.Model(env=env) as m:
        x = m.addMVar((1, len(b[0])), lb=b[0], ub=b[1])
        y = m.addMVar((1, len(b[2])), lb=b[2], ub=b[3])
        add_predictor_constr(m, _onnx_model(onnx_path), x, y)
        m.Params.TimeLimit = limit
        m.Params.Threads = 1
        m.optimize()
        if m.Status == gp.GRB.INFEASIBLE:
            return "no", None, ""
        if m.SolCount > 0:
            return "yes", [float(v) for v in x.X.reshape(-1)], ""
        return "unknown", None, f"Gurobi status {m.Status}"


def _onnx_model(path: str) -> Any:
    import onnx

    return onnx.load(path)


_RUN: dict[str, Callable[[str, Any, float], tuple[str, list[float] | None, str]]] = {
    "marabou": _marabou,
    "omlt-highs": _omlt,
    "gurobi-ml": _gurobi_ml,
}


def run_peer(peer: str, problem: Any, limit: float) -> tuple[Result, str]:
    """Run ``peer`` on ``problem`` within ``limit`` seconds: ((answer, proof kind,
    basis, reason), the peer's version).  See the module docstring."""
    from geninv.io.onnx_export import export_onnx
    from geninv.io.vnnlib import vnnlib_expressible
    from geninv.solvers.native import NativeCrash, NativeTimeout, fork_available, run_forked

    skip = missing(peer)
    if skip is not None:
        return ("unknown", "skipped", "", skip), f"{peer} (not installed)"
    version = peer_version(peer)
    why = vnnlib_expressible(problem)
    if why is not None:
        return ("unknown", "skipped", "", f"skipped: {peer} cannot state it: {why}"), version
    b = _bounds(problem)
    with tempfile.TemporaryDirectory(prefix="geninv-peer-") as tmp:
        path = os.path.join(tmp, "net.onnx")
        export_onnx(problem.network, path, dtype="float64")
        fn = _RUN[peer]
        try:
            if fork_available():
                got = run_forked(lambda: fn(path, b, limit), time.perf_counter() + limit, peer)
            else:  # pragma: no cover - no fork: in this process, its own limit only
                got = fn(path, b, limit)
        except NativeTimeout:
            return ("unknown", "", "", f"time limit {limit:g} s"), version
        except NativeCrash as exc:
            return ("unknown", "", "", " ".join(str(exc).split())[:300]), version
    answer, point, reason = got
    if answer == "no":
        return ("no", "peer", "peer: its word (no certificate geninv checks)", ""), version
    if answer == "yes" and point is not None:
        lo, hi = b[0], b[1]
        z = [Fraction(min(max(v, a), c)) for v, a, c in zip(point, lo, hi, strict=True)]
        if problem.exact_check(z).meets:
            return ("yes", "witness", "peer: point re-checked exactly", ""), version
        note = "the peer's point fails geninv's exact re-check (float question differs)"
        return ("yes", "peer", "peer: point fails geninv's exact re-check", note), version
    return ("unknown", "", "", reason), version
