"""The differential runner: every backend, ``check`` and the VNN-LIB route against the
independent oracles of :mod:`geninv.testing.oracles`, and a delta-debugging shrinker.

An answer is **WRONG** when

* a backend says *yes* and the independent evaluator finds its witness outside the
  domain or failing the threshold (geninv re-checks every *yes*, so this means the
  re-check itself is wrong);
* a backend says *no* where the oracle has a witness;
* ``problem.exact_check`` (what ``geninv check`` runs) disagrees with the oracle on
  the oracle's witness or on a latent the oracle found failing; the same through
  the CLI on a saved instance directory;
* the VNN-LIB round trip (``save_instance`` -> ``export_vnncomp`` ->
  ``problem_from_vnncomp``) states a different question (the oracle's witness or
  non-witness judged differently), or a backend solving the imported problem
  answers against the oracle.

On the VNN-LIB route a case whose numbers are not all float64 values is exported as
the nearest floats (documented in the ``.vnnlib`` file); a disagreement there is
``lossy``, not WRONG.  *yes* where the oracle says *no* with a witness the oracle
itself accepts would be an oracle bug; it is reported as ``ORACLE``.  Crashes
(exceptions outside geninv's error hierarchy, also in a solver's threads) are ``CRASH``.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from geninv.errors import GeninvError, UnsupportedError
from geninv.testing.cases import Case
from geninv.testing.oracles import OracleAnswer, Question, oracle

ROUTES: tuple[str, ...] = ("backends", "check", "cli", "vnnlib")
FAILING = ("WRONG", "CRASH", "ORACLE")


@dataclass
class Outcome:
    """One route's result on a case: the ``route`` (backend, check, CLI or vnnlib), what it
    answered (``status``), the ``verdict`` against the oracle (``ok``, ``WRONG``, ``CRASH``,
    ``ORACLE``, ...), a ``detail`` line and the ``seconds`` it took."""

    route: str  # backend name, "check", "cli-check", "vnnlib", "vnnlib:<backend>"
    status: str  # yes / no / unknown / refused / error / crash / meets / fails
    verdict: str  # ok / WRONG / CRASH / ORACLE / unchecked / lossy / -
    detail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """True when the verdict is a failure (:data:`FAILING`: WRONG, CRASH or ORACLE)."""
        return self.verdict in FAILING

    @property
    def signature(self) -> tuple[str, str, str]:
        """``(route, status, verdict)``: what a table groups outcomes by."""
        return self.route, self.status, self.verdict


@dataclass
class CaseReport:
    """One case, the oracle's answer to it, and every route's :class:`Outcome`."""

    case: Case
    answer: OracleAnswer
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        """The outcomes that failed (:attr:`Outcome.failed`)."""
        return [o for o in self.outcomes if o.failed]


def _zs(z: Sequence[Fraction] | None) -> str:
    return "None" if z is None else "[" + ", ".join(str(v) for v in z) + "]"


def judge(
    q: Question, ans: OracleAnswer, status: str, z: Sequence[Any] | None, complete: bool
) -> tuple[str, str]:
    """(verdict, detail) of one answer against the oracle."""
    if status == "yes":
        assert z is not None
        zf = [Fraction(v) for v in z]
        if not q.in_domain(zf):
            return "WRONG", f"witness {_zs(zf)} is outside the {q.domain} domain"
        ok = q.decide(zf)
        if ok is False:
            return "WRONG", f"witness {_zs(zf)} fails the threshold (independent exact check)"
        if ok is None:
            return "unchecked", "witness undecided by the reference evaluator"
        if ans.status == "no":
            return "ORACLE", f"oracle said no ({ans.method}) but {_zs(zf)} meets the threshold"
        return "ok", ""
    if status == "no":
        if ans.status == "yes":
            return "WRONG", f"oracle witness {_zs(ans.witness)} ({ans.method})"
        if not complete:
            return "WRONG", "an incomplete backend answered no"
        return ("ok", "") if ans.status == "no" else ("unchecked", "oracle undecided")
    return "-", ""


def _solve(problem: Any, name: str, time_limit: float) -> tuple[str, Any, str, list[str]]:
    """(status, z, reason, exceptions raised in the backend's threads)."""
    from geninv.solvers.base import solve

    thread_errors: list[str] = []
    saved = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        thread_errors.append(f"{args.exc_type.__name__}: {args.exc_value}")

    threading.excepthook = hook
    try:
        sol = solve(problem, name, time_limit=time_limit, seed=0)
    except UnsupportedError as exc:
        return "refused", None, str(exc), thread_errors
    except GeninvError as exc:
        return "error", None, f"{type(exc).__name__}: {exc}", thread_errors
    except Exception as exc:  # a crash is a finding, not a stop
        return "crash", None, f"{type(exc).__name__}: {exc}", thread_errors
    finally:
        threading.excepthook = saved
    return str(sol.status), sol.z, sol.reason or "", thread_errors


def _backend_outcomes(
    route: str, q: Question, ans: OracleAnswer, problem: Any, complete: bool, time_limit: float
) -> list[Outcome]:
    t0 = time.perf_counter()
    status, z, why, thread_errors = _solve(problem, route.split(":", 1)[-1], time_limit)
    verdict, detail = judge(q, ans, status, z, complete)
    if status == "crash":
        verdict, detail = "CRASH", why
    out = [Outcome(route, status, verdict, detail or why, time.perf_counter() - t0)]
    if thread_errors:
        msg = "unhandled in a solver thread: " + "; ".join(thread_errors)[:300]
        out.append(Outcome(route, "thread-exception", "CRASH", msg))
    return out


def applicable_backends(problem: Any, names: Sequence[str] | None = None) -> list[tuple[str, bool]]:
    """(name, complete) of every installed backend that accepts the problem."""
    from geninv.solvers.base import REGISTRY, _load_builtin_backends

    _load_builtin_backends()
    out = []
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        if names is not None and name not in names:
            continue
        if cls.available() and cls.unsupported_reason(problem) is None:
            out.append((name, cls.capabilities.complete))
    return out


def run_case(
    case: Case,
    backends: Sequence[str] | None = None,
    time_limit: float = 2.0,
    routes: Sequence[str] = ROUTES,
    answer: OracleAnswer | None = None,
) -> CaseReport:
    """Every applicable backend and route on ``case``, judged against the oracle."""
    q = case.question()
    ans = answer or oracle(q)
    report = CaseReport(case, ans)
    try:
        problem = case.problem()
    except GeninvError as exc:
        report.outcomes.append(
            Outcome("construct", "error", "CRASH", f"the case is invalid: {exc}")
        )
        return report
    if "backends" in routes:
        for name, complete in applicable_backends(problem, backends):
            report.outcomes += _backend_outcomes(name, q, ans, problem, complete, time_limit)
    if "check" in routes:
        report.outcomes += _check_route(problem, ans)
    if "cli" in routes or "vnnlib" in routes:
        with tempfile.TemporaryDirectory(prefix="geninv-fuzz-") as tmp:
            if "cli" in routes:
                report.outcomes += _cli_route(problem, ans, Path(tmp))
            if "vnnlib" in routes and _vnnlib_applies(case):
                report.outcomes += _vnnlib_route(problem, q, ans, Path(tmp), backends, time_limit)
    return report


def _probe_points(ans: OracleAnswer) -> list[tuple[str, list[Fraction], bool]]:
    pts = []
    if ans.witness is not None:
        pts.append(("witness", ans.witness, True))
    if ans.nonwitness is not None:
        pts.append(("non-witness", ans.nonwitness, False))
    return pts


def _check_route(problem: Any, ans: OracleAnswer) -> list[Outcome]:
    out = []
    for what, z, expect in _probe_points(ans):
        try:
            got = bool(problem.exact_check(z).meets)
        except Exception as exc:
            out.append(Outcome("check", "crash", "CRASH", f"{type(exc).__name__}: {exc}"))
            continue
        verdict = "ok" if got == expect else "WRONG"
        out.append(
            Outcome("check", "meets" if got else "fails", verdict, f"oracle {what} {_zs(z)}")
        )
    return out


def _cli_route(problem: Any, ans: OracleAnswer, tmp: Path) -> list[Outcome]:
    from geninv.cli import main
    from geninv.io.instance import save_instance

    pts = _probe_points(ans)
    if not pts:
        return []
    inst = tmp / "instance"
    try:
        save_instance(problem, inst, force=True)
    except Exception as exc:
        return [
            Outcome("cli-check", "crash", "CRASH", f"save_instance: {type(exc).__name__}: {exc}")
        ]
    out = []
    for what, z, expect in pts:
        wfile = tmp / "witness.json"
        wfile.write_text(json.dumps({"z": [str(v) for v in z]}))
        buf, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            try:
                rc = main(["check", str(inst), str(wfile)])
            except BaseException as exc:
                out.append(Outcome("cli-check", "crash", "CRASH", f"{type(exc).__name__}: {exc}"))
                continue
        if rc not in (0, 1):
            out.append(Outcome("cli-check", f"exit {rc}", "CRASH", err.getvalue().strip()[:300]))
            continue
        got = rc == 0
        verdict = "ok" if got == expect else "WRONG"
        out.append(
            Outcome("cli-check", "meets" if got else "fails", verdict, f"oracle {what} {_zs(z)}")
        )
    return out


def _float_exact(problem: Any) -> bool:
    """Every number of the question survives the VNN-COMP export unchanged.

    The target, box and threshold go to VNN-LIB as decimals of float64 values; the
    network goes to ONNX as float32 tensors when it has a LeakyReLU (onnxruntime
    runs LeakyRelu in float32 only) and float64 otherwise, and a LeakyReLU slope is
    a float32 attribute in any case.  Judged here from the exact rationals, not by
    geninv's own predicate.
    """
    vals: list[Fraction] = [*problem.target, problem.threshold]
    dom = problem.domain
    vals += list(dom.lower or ()) + list(dom.upper or ())
    if not all(Fraction(float(v)) == v for v in vals):
        return False
    layers = problem.network.layers
    leaky = any(la.activation == "leaky_relu" for la in layers)

    def held(v: Fraction) -> bool:
        if leaky:
            return Fraction(float(np.float32(float(v)))) == v
        return Fraction(float(v)) == v

    for la in layers:
        if la.activation == "leaky_relu" and Fraction(
            float(np.float32(float(la.negative_slope)))
        ) != Fraction(la.negative_slope):
            return False
        for _, values in la.exact_rows():  # sparse rows: (indices, nonzero values)
            if not all(held(v) for v in values):
                return False
        if not all(held(v) for v in la.exact_bias_values()):
            return False
    return True


def _vnnlib_applies(case: Case) -> bool:
    return (
        case.domain == "box"
        and (case.p == "inf" or case.threshold == 0)
        and case.threshold_pow is None
    )


def _vnnlib_route(
    problem: Any,
    q: Question,
    ans: OracleAnswer,
    tmp: Path,
    backends: Sequence[str] | None,
    time_limit: float,
) -> list[Outcome]:
    from geninv.io.instance import save_instance
    from geninv.io.vnncomp import export_vnncomp, problem_from_vnncomp

    try:
        inst = save_instance(problem, tmp / "vnn-instance", force=True)
        names, _, _ = export_vnncomp([inst], tmp / "vnncomp", force=True)
        name = names[0]
        imported = problem_from_vnncomp(
            tmp / "vnncomp" / "onnx" / f"{name}.onnx", tmp / "vnncomp" / "vnnlib" / f"{name}.vnnlib"
        )
    except UnsupportedError as exc:
        return [Outcome("vnnlib", "refused", "-", str(exc))]
    except Exception as exc:
        return [Outcome("vnnlib", "crash", "CRASH", f"{type(exc).__name__}: {exc}")]
    # VNN-LIB and ONNX hold floats: a case with other rationals (1/3, a LeakyReLU's
    # 1/10) is exported as the nearest floats (the .vnnlib file says so), a nearby question
    lossy = not _float_exact(problem)
    out = []
    for what, z, expect in _probe_points(ans):
        got = bool(imported.exact_check(z).meets)
        verdict = "ok" if got == expect else ("lossy" if lossy else "WRONG")
        out.append(
            Outcome(
                "vnnlib",
                "meets" if got else "fails",
                verdict,
                f"round trip, oracle {what} {_zs(z)}",
            )
        )
    for name_, complete in applicable_backends(imported, backends):
        if complete:
            got_ = _backend_outcomes(f"vnnlib:{name_}", q, ans, imported, complete, time_limit)
            for o in got_:
                if lossy and o.verdict == "WRONG":
                    o.verdict, o.detail = "lossy", "nearest-float export: " + o.detail
            out += got_
    return out


# ------------------------------------------------------------------ shrinking
def _variants(case: Case) -> list[Case]:
    """Smaller or simpler cases, biggest cuts first."""
    out: list[Case] = []

    def clone(**kw: Any) -> Case:
        doc = case.to_json()
        c = Case.from_json(doc)
        for k, v in kw.items():
            setattr(c, k, v)
        return c

    layers = case.layers
    last = len(layers) - 1
    # drop an output
    for j in range(case.q):
        if case.q == 1:
            break
        c = clone()
        w, b, a = c.layers[last]
        c.layers[last] = (
            [r for i, r in enumerate(w) if i != j],
            [v for i, v in enumerate(b) if i != j],
            a,
        )
        c.target = [v for i, v in enumerate(c.target) if i != j]
        out.append(c)
    # drop a hidden unit
    for k in range(last):
        width = len(layers[k][0])
        for u in range(width if width > 1 else 0):
            c = clone()
            w, b, a = c.layers[k]
            c.layers[k] = (
                [r for i, r in enumerate(w) if i != u],
                [v for i, v in enumerate(b) if i != u],
                a,
            )
            w2, b2, a2 = c.layers[k + 1]
            c.layers[k + 1] = ([[v for i, v in enumerate(r) if i != u] for r in w2], b2, a2)
            out.append(c)
    # drop a latent
    for i in range(case.n if case.n > 1 else 0):
        c = clone()
        w, b, a = c.layers[0]
        c.layers[0] = ([[v for t, v in enumerate(r) if t != i] for r in w], b, a)
        for attr in ("lower", "upper", "planted"):
            vals = getattr(c, attr)
            if vals is not None:
                setattr(c, attr, [v for t, v in enumerate(vals) if t != i])
        out.append(c)
    # drop a hidden layer of the same width as its input (shapes stay valid)
    for k in range(last):
        if len(layers[k][0]) == len(layers[k][0][0]):
            c = clone()
            del c.layers[k]
            out.append(c)
    # simpler activations, then simpler numbers
    for k, (_, _, a) in enumerate(layers):
        if a not in ("relu", "identity"):
            c = clone()
            w, b, _ = c.layers[k]
            c.layers[k] = (w, b, "relu")
            out.append(c)
    for k in range(len(layers)):
        w, b, _ = layers[k]
        for r in range(len(w)):
            for col in range(len(w[r])):
                for simpler in _simpler(w[r][col]):
                    c = clone()
                    c.layers[k][0][r][col] = simpler
                    out.append(c)
            for simpler in _simpler(b[r]):
                c = clone()
                c.layers[k][1][r] = simpler
                out.append(c)
    for j in range(case.q):
        for simpler in _simpler(case.target[j]):
            c = clone()
            c.target[j] = simpler
            out.append(c)
    return out


def _simpler(v: Fraction) -> list[Fraction]:
    if v == 0:
        return []
    cands = [Fraction(0)]
    if v.denominator != 1:
        cands += [Fraction(round(v))]
    if abs(v) > 1:
        cands += [Fraction(1 if v > 0 else -1)]
    return [c for c in dict.fromkeys(cands) if c != v]


def shrink(
    case: Case,
    still_fails: Callable[[Case], bool],
    budget_s: float = 60.0,
) -> Case:
    """Greedy delta debugging: keep taking the first variant that still fails, until
    none does or the time budget is spent."""
    deadline = time.monotonic() + budget_s
    current = case
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for cand in _variants(current):
            if time.monotonic() >= deadline:
                break
            try:
                cand.problem()
            except GeninvError:
                continue
            if still_fails(cand):
                current = cand
                improved = True
                break
    return current


def failure_predicate(outcome: Outcome, time_limit: float = 2.0) -> Callable[[Case], bool]:
    """Whether a case still shows a failure of the same route, status and verdict."""
    route = outcome.route
    if route in ("check",):
        routes: tuple[str, ...] = ("check",)
        backends: list[str] | None = []
    elif route == "cli-check":
        routes, backends = ("cli",), []
    elif route.startswith("vnnlib"):
        routes = ("vnnlib",)
        backends = None if route == "vnnlib" else [route.split(":", 1)[1]]
    else:
        routes, backends = ("backends",), [route]

    def fails(c: Case) -> bool:
        rep = run_case(c, backends=backends, time_limit=time_limit, routes=routes)
        return any(o.signature == outcome.signature for o in rep.failures)

    return fails


def reproducer_script(case: Case, outcome: Outcome, answer: OracleAnswer) -> str:
    """A short Python script that builds the problem with geninv and reruns the route."""

    def lst(v: Sequence[Fraction]) -> str:
        return "[" + ", ".join(f"'{x}'" if x.denominator != 1 else str(x) for x in v) + "]"

    ws = "[" + ", ".join("[" + ", ".join(lst(r) for r in w) + "]" for w, _, _ in case.layers) + "]"
    bs = "[" + ", ".join(lst(b) for _, b, _ in case.layers) + "]"
    acts = [a for _, _, a in case.layers]
    dom = (
        f"Domain.box({lst(case.lower or [])}, {lst(case.upper or [])})"
        if case.domain == "box"
        else f"Domain({case.domain!r})"
    )
    p = "math.inf" if case.p == "inf" else case.p
    tp = "None" if case.threshold_pow is None else f"'{case.threshold_pow}'"
    backend = (
        outcome.route.split(":", 1)[-1] if outcome.route not in ("check", "cli-check") else None
    )
    lines = [
        f"# fuzz reproducer: route {outcome.route}, got {outcome.status} ({outcome.verdict})",
        f"# oracle: {answer.status} ({answer.method}); {outcome.detail}",
        "import math",
        "from fractions import Fraction",
        "from geninv.network import ReLUNetwork",
        "from geninv.problem import Domain, InversionProblem",
        "from geninv.solvers.base import solve",
        "",
        f"net = ReLUNetwork({ws}, {bs}, activations={acts!r})",
        f"problem = InversionProblem(net, {lst(case.target)}, {dom}, p={p},",
        f"                           threshold=Fraction('{case.threshold}'),",
        f"                           relation={case.relation!r},",
        f"                           threshold_pow={tp})",
    ]
    if outcome.route.startswith("vnnlib"):
        lines += [
            "import tempfile, pathlib",
            "from geninv.io.instance import save_instance",
            "from geninv.io.vnncomp import export_vnncomp, problem_from_vnncomp",
            "tmp = pathlib.Path(tempfile.mkdtemp())",
            "save_instance(problem, tmp / 'inst')",
            "(name,), _, _ = export_vnncomp([tmp / 'inst'], tmp / 'vnn')",
            "problem = problem_from_vnncomp(tmp / 'vnn' / 'onnx' / f'{name}.onnx',",
            "                               tmp / 'vnn' / 'vnnlib' / f'{name}.vnnlib')",
        ]
    if outcome.route == "cli-check":
        lines += [
            "import json, tempfile, pathlib",
            "from geninv.cli import main",
            "from geninv.io.instance import save_instance",
            "tmp = pathlib.Path(tempfile.mkdtemp())",
            "save_instance(problem, tmp / 'inst')",
        ]
        for what, z, expect in _probe_points(answer):
            lines += [
                f"(tmp / 'w.json').write_text(json.dumps({{'z': {[str(v) for v in z]!r}}}))",
                f"print({what!r}, 'exit', main(['check', str(tmp / 'inst'), str(tmp / 'w.json')]),"
                f" 'expected', {0 if expect else 1})",
            ]
        return "\n".join(lines) + "\n"
    if backend and backend != "vnnlib":
        lines.append(f"print(solve(problem, {backend!r}, time_limit=10, seed=0).to_json())")
    for what, z, expect in _probe_points(answer):
        lines.append(f"print({what!r}, problem.exact_check({lst(z)}).meets, 'expected', {expect})")
    return "\n".join(lines) + "\n"
