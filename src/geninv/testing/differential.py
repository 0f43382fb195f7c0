"""The differential runner: every backend, ``check`` and the VNN-LIB route against the
independent oracles of :mod:`geninv.testing.oracles`, and a delta-debugging shrinker
(:mod:`geninv.testing.shrinking`).  "Every backend" is every installed one and
``auto`` (whose *no* is judged like a complete backend's).

An answer is **WRONG** when

* a backend says *yes* and the independent evaluator finds its witness outside the
  domain or failing the threshold (geninv re-checks every *yes*, so this means the
  re-check itself is wrong);
* a backend says *no* where the oracle has a witness;
* ``problem.exact_check`` (what ``geninv check`` runs) disagrees with the oracle on
  the oracle's witness or on a latent the oracle found failing; the same through
  the CLI on a saved instance directory (a check that stays *undecided* -- an ELU,
  sigmoid or tanh output within its enclosure of the threshold -- is ``unchecked``:
  geninv may not guess, and did not);
* the VNN-LIB round trip (``save_instance`` -> ``export_vnncomp`` ->
  ``problem_from_vnncomp``) states a different question (the oracle's witness or
  non-witness judged differently), or a backend solving the imported problem
  answers against the oracle.

On the VNN-LIB route a case whose numbers are not all float64 values is exported as
the nearest floats (documented in the ``.vnnlib`` file); a disagreement there is
``lossy``, not WRONG.  *yes* where the oracle says *no* with a witness the oracle
itself accepts would be an oracle bug; it is reported as ``ORACLE``.  Crashes
(exceptions outside geninv's error hierarchy, also in a solver's threads) are ``CRASH``.

A backend may refuse a network it cannot encode (an ELU, sigmoid, tanh or LeakyReLU
layer), but cleanly: a refusal (``unsupported_reason`` or an ``UnsupportedError``
from ``solve``) is ``REFUSAL`` when its reason is not one line, or when the backend
takes the same problem with those layers made ReLU and the reason does not name one
of them (``layer K`` and its activation).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
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
from geninv.testing.shrinking import shrink

__all__ = ["ROUTES", "CaseReport", "Outcome", "failure_predicate", "run_case", "shrink"]

ROUTES: tuple[str, ...] = ("backends", "check", "cli", "vnnlib")
FAILING = ("WRONG", "CRASH", "ORACLE", "REFUSAL")


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
    if status == "refused":  # an UnsupportedError from solve: one line at least
        verdict, detail = refusal_verdict(why, {}, False)
    if status == "crash":
        verdict, detail = "CRASH", why
    out = [Outcome(route, status, verdict, detail or why, time.perf_counter() - t0)]
    if thread_errors:
        msg = "unhandled in a solver thread: " + "; ".join(thread_errors)[:300]
        out.append(Outcome(route, "thread-exception", "CRASH", msg))
    return out


def _nonlinear_layers(case: Case) -> dict[int, str]:
    """1-based index -> activation of the layers other than ReLU and the identity."""
    return {
        k: a for k, (_, _, a) in enumerate(case.layers, start=1) if a not in ("relu", "identity")
    }


def refusal_verdict(reason: str, special: dict[int, str], for_activation: bool) -> tuple[str, str]:
    """(verdict, detail) of a refusal: one line, and when the backend refuses for an
    activation (``for_activation``: it takes the ReLU variant), naming one of the
    ``special`` layers and its activation (``layer K (elu:3)``, ``layer K is tanh``)."""
    if "\n" in reason.strip() or not reason.strip():
        return "REFUSAL", f"refusal reason is not one line: {reason!r}"
    if for_activation and not any(
        re.search(rf"\blayer {k}\b", reason) and act.split(":")[0] in reason
        for k, act in special.items()
    ):
        return "REFUSAL", f"refusal does not name the layer it cannot encode: {reason}"
    return "ok", reason


def _refusal_outcomes(case: Case, problem: Any, names: Sequence[str] | None) -> list[Outcome]:
    """A refusal outcome for every available backend that refuses a network with a layer
    other than ReLU / identity (see :func:`refusal_verdict`)."""
    from geninv.solvers.base import REGISTRY

    special = _nonlinear_layers(case)
    if not special:
        return []
    variant = Case.from_json(case.to_json())
    variant.layers = [
        (w, b, "relu" if k in special else a) for k, (w, b, a) in enumerate(variant.layers, start=1)
    ]
    try:
        relu_problem = variant.problem()
    except GeninvError:
        return []
    out = []
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        if (names is not None and name not in names) or not cls.available():
            continue
        why = cls.unsupported_reason(problem)
        if why is None:
            continue
        for_act = cls.unsupported_reason(relu_problem) is None
        verdict, detail = refusal_verdict(why, special, for_act)
        out.append(Outcome(name, "refused", verdict, detail))
    return out


def applicable_backends(problem: Any, names: Sequence[str] | None = None) -> list[tuple[str, bool]]:
    """(name, complete) of every installed backend that accepts the problem, and
    ``auto`` (the portfolio; its *no* must be certified like a complete backend's) when
    ``names`` is None or names it."""
    from geninv.solvers.base import REGISTRY, _load_builtin_backends

    _load_builtin_backends()
    out = []
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        if names is not None and name not in names:
            continue
        if cls.available() and cls.unsupported_reason(problem) is None:
            out.append((name, cls.capabilities.complete))
    if names is None or "auto" in names:
        out.append(("auto", True))
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
        report.outcomes += _refusal_outcomes(case, problem, backends)
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
            chk = problem.exact_check(z)
        except Exception as exc:
            out.append(Outcome("check", "crash", "CRASH", f"{type(exc).__name__}: {exc}"))
            continue
        if not chk.decided:  # out of reach of the re-check: unknown, never a guess
            out.append(
                Outcome("check", "unknown", "unchecked", f"oracle {what} {_zs(z)}: {chk.reason}")
            )
            continue
        got = bool(chk.meets)
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
        if rc == 1 and "undecided" in buf.getvalue():  # not accepted, never guessed
            out.append(Outcome("cli-check", "unknown", "unchecked", f"oracle {what} {_zs(z)}"))
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
    network goes to ONNX as float32 tensors when it has a LeakyReLU or an ELU
    (onnxruntime runs LeakyRelu and Elu in float32 only) and float64 otherwise, and a
    LeakyReLU slope or ELU alpha is a float32 attribute in any case.  Judged here from
    the exact rationals, not by geninv's own predicate.
    """
    vals: list[Fraction] = [*problem.target, problem.threshold]
    dom = problem.domain
    vals += list(dom.lower or ()) + list(dom.upper or ())
    if not all(Fraction(float(v)) == v for v in vals):
        return False
    layers = problem.network.layers
    leaky = any(la.activation in ("leaky_relu", "elu") for la in layers)

    def held(v: Fraction) -> bool:
        if leaky:
            return Fraction(float(np.float32(float(v)))) == v
        return Fraction(float(v)) == v

    for la in layers:
        if la.activation in ("leaky_relu", "elu") and Fraction(
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
