"""Gurobi as a peer for ``bench_certified.py``: the same inversion problem as a MIP.

The network is encoded by gurobi-machinelearning (``add_predictor_constr`` on a
``torch.nn.Sequential`` of float64 ``Linear`` / ``ReLU`` layers holding the
network's weights; gurobi-ml models each ReLU with Gurobi's ``max`` general
constraint), the latent ``z`` has the box domain's bounds (for a real domain with
a verified clamp box, ``problem.input_box``: ``G(z) = G(clamp(z))``, so the box
problem has a witness iff the real one has), and the l_inf ball
``|G(z)_j - x_j| <= r`` is the output variables' bounds ``[x_j - r, x_j + r]``.

* decide: feasible -> ``yes`` (the point is re-checked by geninv in exact
  arithmetic and reported), infeasible -> ``no`` (Gurobi's floating-point word),
  time limit -> ``unknown``;
* optimize: minimise ``t`` subject to ``-t <= G(z) - x <= t``; ``d*`` is the
  objective, with Gurobi's best bound.

Threads = 1, Seed fixed, the time limit as geninv's.  Times are wall seconds of
model building plus ``optimize()`` (geninv's times include its encoding too).
Install: ``pip install gurobipy gurobi-machinelearning`` (gurobipy's pip licence
is size-limited: 2000 variables and 2000 linear constraints, enough for the
20-100-200 nets and the Theorem 2 networks of uf50).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import math
import time
from fractions import Fraction
from typing import Any

import numpy as np
from common import Run

_STATE: tuple[bool, str] | None = None


def gurobi_available() -> tuple[bool, str]:
    """(usable, versions or why not); never imports gurobipy when it is absent."""
    global _STATE
    if _STATE is None:
        missing = [
            pip
            for mod, pip in (
                ("gurobipy", "gurobipy"),
                ("gurobi_ml", "gurobi-machinelearning"),
                ("torch", "torch"),
            )
            if importlib.util.find_spec(mod) is None
        ]
        if missing:
            _STATE = (False, f"{', '.join(missing)} not installed")
        else:
            try:
                import gurobipy as gp

                ver = ".".join(map(str, gp.gurobi.version()))
                _STATE = (True, f"Gurobi {ver}, gurobi-ml {md.version('gurobi-machinelearning')}")
            except Exception as exc:  # a licence or import failure: skip, say why
                _STATE = (False, f"gurobipy does not start: {exc}"[:160])
    return _STATE


def _env() -> Any:
    import gurobipy as gp

    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 0)
    env.start()
    return env


def _sequential(problem: Any) -> Any:
    import torch

    mods: list[Any] = []
    for layer in problem.network.layers:
        w = np.asarray(layer.weight, dtype=np.float64)
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.copy()))
            lin.bias.copy_(torch.from_numpy(np.asarray(layer.bias, dtype=np.float64).copy()))
        mods.append(lin)
        if layer.activation == "relu":
            mods.append(torch.nn.ReLU())
        elif layer.activation != "identity":
            raise ValueError(f"gurobi peer: activation {layer.activation} is not encoded")
    return torch.nn.Sequential(*mods)


def input_bounds(problem: Any) -> tuple[list[float], list[float]]:
    if problem.domain.kind == "box":
        return [float(v) for v in problem.domain.lower], [float(v) for v in problem.domain.upper]
    if problem.input_box is not None:
        return [float(v) for v in problem.input_box[0]], [float(v) for v in problem.input_box[1]]
    raise ValueError("gurobi peer: needs a box domain or a clamp box")


def _model(problem: Any, radius: float | None, limit: float, seed: int) -> tuple[Any, ...]:
    import gurobipy as gp
    from gurobi_ml import add_predictor_constr

    env = _env()
    m = gp.Model(env=env)
    m.Params.Threads = 1
    m.Params.TimeLimit = max(limit, 0.01)
    m.Params.Seed = seed
    lo, hi = input_bounds(problem)
    z = m.addMVar(problem.n, lb=lo, ub=hi, name="z")
    x = problem.target_array()
    if radius is None:
        y = m.addMVar(len(x), lb=-gp.GRB.INFINITY, name="y")
        t = m.addVar(lb=0.0, name="t")
        m.addConstr(y - x <= t)
        m.addConstr(x - y <= t)
        m.setObjective(t, gp.GRB.MINIMIZE)
    else:
        y = m.addMVar(len(x), lb=x - radius, ub=x + radius, name="y")
    add_predictor_constr(m, _sequential(problem), z, y)
    return env, m, z


def decide(problem: Any, radius: float, limit: float, seed: int = 0) -> Run:
    """Gurobi's answer to "some z with ||G(z) - x||_inf <= radius?" (see the module doc)."""
    import gurobipy as gp

    t0 = time.perf_counter()
    try:
        env, m, z = _model(problem, radius, limit, seed)
        m.optimize()
        secs = time.perf_counter() - t0
        extra: dict[str, Any] = {"runtime": m.Runtime, "nodes": m.NodeCount}
        if m.SolCount > 0:
            zval = [float(v) for v in z.X]
            chk = problem.exact_check([Fraction(v) for v in zval])
            extra["exact_check"] = bool(chk.meets)
            extra["distance"] = float(chk.distance) if chk.distance is not None else math.nan
            note = "" if chk.meets else "Gurobi's point misses the radius in exact arithmetic"
            out = Run("gurobi", "yes", secs, note, extra)
        elif m.Status in (gp.GRB.INFEASIBLE, gp.GRB.INF_OR_UNBD):
            out = Run("gurobi", "no", secs, "", extra)
        else:
            out = Run("gurobi", "unknown", secs, f"Gurobi status {m.Status} (time limit)", extra)
        m.dispose()
        env.dispose()
        return out
    except Exception as exc:  # a benchmark reports, it does not stop
        return Run("gurobi", "error", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")


def optimize(problem: Any, limit: float, seed: int = 0) -> dict[str, Any]:
    """{"best", "bound", "proven", "seconds", "status"}: Gurobi's min l_inf distance."""
    import gurobipy as gp

    t0 = time.perf_counter()
    env, m, z = _model(problem, None, limit, seed)
    m.Params.MIPGap = 1e-9
    m.Params.MIPGapAbs = 1e-9
    m.optimize()
    out: dict[str, Any] = {
        "seconds": time.perf_counter() - t0,
        "status": int(m.Status),
        "best": float(m.ObjVal) if m.SolCount > 0 else None,
        "bound": float(m.ObjBound),
        "proven": m.Status == gp.GRB.OPTIMAL,
    }
    if m.SolCount > 0:
        chk = problem.exact_check([Fraction(float(v)) for v in z.X])
        out["exact_distance"] = float(chk.distance) if chk.distance is not None else None
    m.dispose()
    env.dispose()
    return out
