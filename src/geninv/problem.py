"""Inversion problems and their solutions.

An :class:`InversionProblem` asks: is there a latent ``z`` in the domain with

    ||G(z) - x||_p  <=  delta      (relation "<=")   or
    ||G(z) - x||_p  <   delta      (relation "<")

where ``delta = 0`` with ``"<="`` is exact inversion ``G(z) = x``.  The domain
is ``real`` (R^n), ``box`` (per-coordinate ``[lower_i, upper_i]``), ``binary``
({0,1}^n) or ``sign`` ({-1,1}^n).

A :class:`Solution` has one of three statuses: ``yes`` (a witness ``z``,
re-checked in exact arithmetic), ``no`` (with ``proof``: what proves that no
``z`` exists) or ``unknown`` (gave up; never a disguised ``no``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from geninv.errors import ValidationError
from geninv.exact import compare_lp_tuple
from geninv.io.limits import FLOAT_MAX, check_float, limit
from geninv.network import (
    FloatArray,
    ReLUNetwork,
    fractions_of,
    integer_values,
    shared_ints,
    to_fraction,
)

DomainKind = Literal["real", "box", "binary", "sign"]
T = TypeVar("T")
Relation = Literal["<=", "<"]
DOMAINS: tuple[str, ...] = ("real", "box", "binary", "sign")
RELATIONS: tuple[str, ...] = ("<=", "<")

#: Decimal digits of the rigorous lower bounds of sum |d_i|^p that order candidates for
#: non-integer p (``enumerate``'s optimize mode); the comparison with the threshold
#: itself is :func:`geninv.exact.compare_lp` (interval arithmetic, exact ties).
NONINTEGER_P_DIGITS = 60


def parse_norm(value: Any, what: str = "norm") -> float:
    """A norm exponent p: a real number >= 1, or infinity ('inf')."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("inf", "infinity", "∞"):
            return math.inf
        try:
            p = float(v)
        except ValueError:
            raise ValidationError(
                f"{what}: expected a number >= 1 or 'inf', got {value!r}"
            ) from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            p = float(value)
        except OverflowError:  # an int beyond the float range: far above the limit below
            p = math.inf
            value = str(value)[:20] + "..."
    else:
        raise ValidationError(f"{what}: expected a number >= 1 or 'inf', got {value!r}")
    if math.isnan(p) or p < 1:
        raise ValidationError(f"{what}: p must be >= 1 (or 'inf'), got {value!r}")
    if p > limit("norm_p") and not (math.isinf(p) and not isinstance(value, str)):
        # (a float inf passed in is infinity; a numeral too large for a float is not 'inf')
        raise ValidationError(
            f"{what}: p = {value!r} is above the limit {limit('norm_p'):,} on a finite norm "
            "exponent (exact arithmetic raises numbers to the p-th power); use 'inf', or set "
            "GENINV_MAX_NORM_P to raise the limit"
        )
    return p


def norm_label(p: float) -> str:
    """The norm's ``p`` as text: ``inf``, an integer without ``.0``, else ``repr(p)``."""
    if math.isinf(p):
        return "inf"
    return str(int(p)) if p.is_integer() else repr(p)


@dataclass(frozen=True)
class Domain:
    """Where the latent lives.  ``lower``/``upper`` only for ``box``."""

    kind: DomainKind
    lower: tuple[Fraction, ...] | None = None
    upper: tuple[Fraction, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in DOMAINS:
            raise ValidationError(f"domain must be one of {', '.join(DOMAINS)}, got {self.kind!r}")
        if self.kind == "box":
            if self.lower is None or self.upper is None:
                raise ValidationError("a box domain needs lower and upper bounds")
            if len(self.lower) != len(self.upper):
                raise ValidationError(
                    f"box bounds have lengths {len(self.lower)} and {len(self.upper)}"
                )
            for i, (lo, hi) in enumerate(zip(self.lower, self.upper, strict=True)):
                check_float(lo, f"box lower[{i}]")
                check_float(hi, f"box upper[{i}]")
                if lo > hi:
                    raise ValidationError(f"box bound {i}: lower {lo} > upper {hi}")
        elif self.lower is not None or self.upper is not None:
            raise ValidationError(f"bounds are only allowed for a box domain, not {self.kind!r}")

    @staticmethod
    def box(lower: Sequence[Any], upper: Sequence[Any]) -> Domain:
        """The box ``prod_i [lower[i], upper[i]]``, bounds read as exact fractions (raises
        :class:`~geninv.errors.ValidationError` naming the entry that is not a finite number)."""
        lo = tuple(to_fraction(v, f"lower[{i}]") for i, v in enumerate(lower))
        hi = tuple(to_fraction(v, f"upper[{i}]") for i, v in enumerate(upper))
        return Domain("box", lo, hi)

    def contains(self, z: Sequence[Fraction | int]) -> tuple[bool, str]:
        """Exact membership test of Fractions or ints; returns (ok, reason when not)."""
        if self.kind in ("binary", "sign"):
            allowed = (0, 1) if self.kind == "binary" else (-1, 1)
            if z and type(z[0]) is int and set(allowed).issuperset(z):
                return True, ""  # every value allowed (ints: the exact checks' fast path)
            for i, v in enumerate(z):
                if v.denominator != 1 or v.numerator not in allowed:
                    return (
                        False,
                        f"z[{i}] = {v} is not in {{{', '.join(map(str, sorted(allowed)))}}}",
                    )
            return True, ""
        for i, v in enumerate(z):
            if self.kind == "box":
                assert self.lower is not None and self.upper is not None
                if not (self.lower[i] <= v <= self.upper[i]):
                    return False, f"z[{i}] = {v} is outside [{self.lower[i]}, {self.upper[i]}]"
        return True, ""

    @property
    def is_discrete(self) -> bool:
        """True for the finite domains ``{0,1}^n`` (binary) and ``{-1,1}^n`` (sign)."""
        return self.kind in ("binary", "sign")

    def corner_values(self) -> tuple[int, int]:
        """The two values of a discrete domain."""
        if self.kind == "binary":
            return (0, 1)
        if self.kind == "sign":
            return (-1, 1)
        raise ValidationError(f"domain {self.kind!r} is not discrete")


@dataclass(frozen=True)
class ExactCheck:
    """Result of re-checking a witness in exact arithmetic."""

    in_domain: bool
    meets: bool
    distance: float  # ||G(z) - x||_p rounded to float
    distance_pow: Fraction | None  # exact ||G(z) - x||_p^p for integer p, exact max for p = inf
    method: str  # "exact rational", "interval arithmetic, N digits", "exact tie ...", ...
    reason: str = ""
    #: False when the comparison with the threshold is out of reach (``meets`` is then
    #: False and ``reason`` says why; see :mod:`geninv.exact`): never a guess either way
    decided: bool = True

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON-ready dict (``meets`` under the key ``meets_threshold``;
        ``distance_pow`` left out)."""
        return {
            "in_domain": self.in_domain,
            "meets_threshold": self.meets,
            "distance": self.distance,
            "method": self.method,
            "reason": self.reason or None,
            "decided": self.decided,
        }


@dataclass(frozen=True)
class SourceInfo:
    """Where an instance came from: which reduction, which file, what answer is expected."""

    reduction: str | None = None
    theorem: str | None = None
    file: str | None = None
    sha256: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    expected: Literal["yes", "no"] | None = None
    copy: str | None = None  # name of the copy of the source file inside the instance directory

    def to_json(self) -> dict[str, Any]:
        """The provenance as a JSON-ready dict (every field, under its own name)."""
        return {
            "reduction": self.reduction,
            "theorem": self.theorem,
            "file": self.file,
            "sha256": self.sha256,
            "parameters": self.parameters,
            "expected": self.expected,
            "copy": self.copy,
        }


class InversionProblem:
    """Decide whether some z in the domain has ||G(z) - x||_p (<= or <) delta.

    ``threshold_pow`` may give delta^p exactly when delta itself is irrational
    (integer p only); exact checks then compare ||G(z) - x||_p^p with it.
    """

    def __init__(
        self,
        network: ReLUNetwork,
        target: Sequence[Any],
        domain: Domain,
        p: float | str = math.inf,
        threshold: Any = 0,
        relation: Relation = "<=",
        threshold_pow: Any = None,
        source: SourceInfo | None = None,
        inverse_data: dict[str, Any] | None = None,
        input_box: tuple[Sequence[Any], Sequence[Any]] | None = None,
    ) -> None:
        self.network = network
        self.target: tuple[Fraction, ...] = tuple(
            v if type(v) is Fraction else to_fraction(v, f"target[{i}]")
            for i, v in enumerate(target)
        )
        for i, v in enumerate(self.target):
            if not -FLOAT_MAX <= v <= FLOAT_MAX:
                check_float(v, f"target[{i}]")
        if len(self.target) != network.n_outputs:
            raise ValidationError(
                f"target has {len(self.target)} entries "
                f"but the network has {network.n_outputs} outputs"
            )
        self.domain = domain
        if domain.kind == "box":
            assert domain.lower is not None
            if len(domain.lower) != network.n_inputs:
                raise ValidationError(
                    f"box bounds have {len(domain.lower)} entries "
                    f"but the network has {network.n_inputs} inputs"
                )
        self.p = parse_norm(p)
        self.threshold = check_float(to_fraction(threshold, "threshold"), "threshold")
        if self.threshold < 0:
            raise ValidationError(f"threshold must be >= 0, got {self.threshold}")
        if relation not in RELATIONS:
            raise ValidationError(f"relation must be '<=' or '<', got {relation!r}")
        if relation == "<" and self.threshold == 0:
            raise ValidationError(
                "threshold 0 with relation '<' can never hold; use '<=' for exact inversion"
            )
        self.relation: Relation = relation
        self.threshold_pow: Fraction | None = None
        if threshold_pow is not None:
            if math.isinf(self.p) or not self.p.is_integer():
                raise ValidationError("threshold_pow (delta^p) is only meaningful for integer p")
            self.threshold_pow = check_float(
                to_fraction(threshold_pow, "threshold_pow"), "threshold_pow"
            )
            if self.threshold_pow < 0:
                raise ValidationError("threshold_pow must be >= 0")
        self.source = source or SourceInfo()
        self.inverse_data: dict[str, Any] = dict(inverse_data or {})
        # A box outside which the network's output does not change (the network clamps z).
        self.input_box: tuple[tuple[Fraction, ...], tuple[Fraction, ...]] | None = None
        if input_box is not None:
            lo = tuple(to_fraction(v, "input_box lower") for v in input_box[0])
            hi = tuple(to_fraction(v, "input_box upper") for v in input_box[1])
            if len(lo) != network.n_inputs or len(hi) != network.n_inputs:
                raise ValidationError(
                    f"input_box has {len(lo)} lower and {len(hi)} upper bounds, expected "
                    f"{network.n_inputs} each (one per input)"
                )
            for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
                check_float(a, f"input_box lower[{i}]")
                check_float(b, f"input_box upper[{i}]")
                if a > b:
                    raise ValidationError(
                        f"input_box bound {i}: lower {a} > upper {b} (an empty box; "
                        "expected lower <= upper)"
                    )
            self.input_box = (lo, hi)

    # ------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        """Number of latent inputs (the network's input width)."""
        return self.network.n_inputs

    @property
    def is_exact_inversion(self) -> bool:
        """True when the threshold is exactly 0, i.e. the question is ``G(z) = x`` (``relation``
        is then ``<=``)."""
        t = self.threshold
        return t.numerator == 0 if type(t) is Fraction else bool(t == 0)

    def target_array(self) -> FloatArray:
        """The target ``x`` as a float64 array (rounded; the exact values stay in ``target``)."""
        return np.array([float(v) for v in self.target], dtype=np.float64)

    def threshold_float(self) -> float:
        """The threshold delta as a float (from ``threshold_pow ** (1/p)`` when delta is given as
        delta^p)."""
        if self.threshold_pow is not None:
            return float(float(self.threshold_pow) ** (1.0 / self.p))
        return float(self.threshold)

    def describe(self) -> str:
        """One line stating the question, e.g. ``||G(z) - x|| <= 0.5 (p=2), z in box^3``."""
        rel = "=" if self.is_exact_inversion else self.relation
        rhs = (
            "x"
            if self.is_exact_inversion
            else f"{self.threshold_float():g} (p={norm_label(self.p)})"
        )
        lhs = "G(z)" if self.is_exact_inversion else "||G(z) - x||"
        return f"{lhs} {rel} {rhs}, z in {self.domain.kind}^{self.n}"

    # ------------------------------------------------------------ distances
    def distances(self, outputs: npt.NDArray[np.float64]) -> FloatArray:
        """Float ||G(z) - x||_p for a batch of outputs of shape (batch, q)."""
        return lp_norm_rows(outputs - self.target_array(), self.p)

    def _inputs(self) -> tuple[Any, ...]:
        """The attributes every answer derived from the problem reads (compared by identity)."""
        return (
            self.network,
            self.target,
            self.domain,
            self.p,
            self.threshold,
            self.relation,
            self.threshold_pow,
        )

    def derived(self, name: str, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``name`` until one of the problem's
        attributes is replaced (the network and its arrays are treated as immutable,
        as everywhere in geninv)."""
        key = self._inputs()
        memo: dict[str, tuple[tuple[Any, ...], Any]] = self.__dict__.setdefault("_derived", {})
        hit = memo.get(name)
        if hit is not None and all(map(operator.is_, hit[0], key)):
            return hit[1]  # type: ignore[no-any-return]
        value = compute()
        memo[name] = (key, value)
        return value

    def target_ints(self) -> list[int] | None:
        """The target as Python ints when every entry is an integer (remembered while
        the target is the same list object)."""
        target = self.target
        memo: tuple[Any, list[int] | None] | None = self.__dict__.get("_target_ints")
        if memo is not None and memo[0] is target:
            return memo[1]
        ints = integer_values(target)
        self._target_ints = (target, ints)
        return ints

    def exact_check(self, z: Sequence[Any]) -> ExactCheck:
        """Re-check a witness: domain membership exactly; the threshold from a float64
        evaluation with a rigorous error bound (:mod:`geninv.recheck`) when that bound
        decides it, else from ``G(z)`` in exact rationals (``distance_pow`` is then set)."""
        # the same witness checked again (a backend checks, then solve() certifies): the
        # answer of the last check, if nothing the check reads has been replaced since
        key = self._inputs()
        memo: tuple[tuple[Any, ...], list[Fraction], ExactCheck] | None = getattr(
            self, "_check_memo", None
        )
        if (
            memo is not None
            and type(z) is list
            and len(memo[1]) == len(z)
            and all(map(operator.is_, memo[1], z))  # the very same Fractions (immutable)
            and all(map(operator.is_, memo[0], key))
        ):
            return memo[2]
        # shared small Fractions (what the discrete backends return): their ints by
        # identity, and no conversion (a copy: the memo must not follow the caller's list)
        quick = shared_ints(z) if type(z) is list else None
        zf = list(z) if quick is not None else fractions_of(z)
        if len(zf) != self.n:
            raise ValidationError(f"witness has {len(zf)} entries, expected {self.n}")
        chk = self._exact_check(zf, quick)
        self._check_memo = (key, zf, chk)
        return chk

    def _exact_check(self, zf: list[Fraction], quick: list[int] | None = None) -> ExactCheck:
        diff: Sequence[Fraction | int] | None = None
        tint = self.target_ints()
        ints = (quick or integer_values(zf)) if tint is not None else None
        if ints is not None and tint is not None:
            # integer latent, network and target: all in Python ints (exact, no Fractions)
            ok, why = self.domain.contains(ints)
            out_i = self.network.forward_int(ints)
            if out_i is not None:
                diff = [o - t for o, t in zip(out_i, tint, strict=True)]
        else:
            ok, why = self.domain.contains(zf)
        if diff is None:
            # float64 with a rigorous error bound first; exact only when it cannot decide
            from geninv.recheck import float_check, wants_float_check

            fast = float_check(self, zf) if wants_float_check(self.network) else None
            if fast is not None:
                why_f = why if not ok else ("" if fast.meets else "distance exceeds the threshold")
                return ExactCheck(
                    ok, ok and fast.meets, fast.distance, None, fast.method, why_f, True
                )
            from geninv.exact_elu import has_elu, interval_check

            if has_elu(self.network):  # G(z) is transcendental: a rigorous enclosure
                iv = interval_check(self, zf)
                why_i = (
                    why
                    if not ok
                    else (iv.reason or ("" if iv.meets else "distance exceeds the threshold"))
                )
                return ExactCheck(
                    ok, ok and iv.meets, iv.distance, None, iv.method, why_i, iv.decided
                )
            out = self.network.forward_exact(zf)
            diff = [o - t for o, t in zip(out, self.target, strict=True)]
        decided, meets, dist, dpow, method, undecided_why = compare_lp_tuple(
            diff, self.p, self.threshold, self.relation, self.threshold_pow
        )
        if not ok:
            reason = why
        elif not decided:
            reason = f"undecided: {undecided_why}"
        else:
            reason = "" if meets else "distance exceeds the threshold"
        if not self.network.is_piecewise_linear:
            from geninv.network import SMOOTH_DIGITS

            method += f"; sigmoid/tanh evaluated to {SMOOTH_DIGITS} digits"
        return ExactCheck(ok, ok and bool(meets), dist, dpow, method, reason, decided)


def lp_norm_rows(d: npt.NDArray[np.float64], p: float) -> FloatArray:
    """Row-wise l_p norm of a (batch, q) array.

    The rounding error of each branch is bounded in ``solvers/enumerate.py``
    (``_norm_rho``); change both together.
    """
    a = np.abs(d)
    out: FloatArray
    if math.isinf(p):
        out = a.max(axis=1) if a.shape[1] else np.zeros(a.shape[0])
    elif p == 1:
        out = a.sum(axis=1)
    elif p == 2:
        out = np.sqrt(np.einsum("ij,ij->i", a, a))
    else:
        scale = a.max(axis=1, keepdims=True) if a.shape[1] else np.zeros((a.shape[0], 1))
        safe = np.where(scale > 0, scale, 1.0)
        out = scale[:, 0] * (((a / safe) ** p).sum(axis=1)) ** (1.0 / p)
    return np.asarray(out, dtype=np.float64)


def compare_exact(
    diff: Sequence[Fraction | int],
    p: float,
    threshold: Fraction,
    relation: Relation,
    threshold_pow: Fraction | None = None,
) -> tuple[bool, float, Fraction | None, str]:
    """Compare ||diff||_p with delta exactly (:func:`geninv.exact.compare_lp`).

    Returns (meets, distance as float, exact p-th power or max, method);
    ``meets`` is False when the comparison is undecided (the method says so).
    Use :func:`geninv.exact.compare_lp` to tell "does not meet" from "undecided".
    """
    decided, meets, dist, dpow, method, why = compare_lp_tuple(
        diff, p, threshold, relation, threshold_pow
    )
    return bool(meets), dist, dpow, (method if decided else f"{method}: {why}")


class Status(StrEnum):
    """The closed set of solver outcomes."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass
class Solution:
    """What a solver found.

    * ``yes``: ``z`` is a witness; ``check`` is its exact re-check.
    * ``no``: ``proof`` says what proves that no witness exists
      (e.g. ``{"kind": "exhaustive enumeration", "points": 2**n, ...}``).
    * ``unknown``: ``reason`` says why (time limit, gave up); ``z`` may hold the
      best point found.
    """

    status: Status
    method: str
    z: list[Fraction] | None = None
    distance: float | None = None
    seconds: float = 0.0
    proof: dict[str, Any] | None = None
    reason: str | None = None
    check: ExactCheck | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        if self.status is Status.YES and self.z is None:
            raise ValidationError("a 'yes' solution needs a witness z")
        if self.status is Status.NO and not self.proof:
            raise ValidationError("a 'no' solution needs a proof")

    def to_json(self) -> dict[str, Any]:
        """The solution as a JSON-ready dict (``z`` as exact JSON numbers, non-finite floats in
        ``proof``/``stats`` made JSON-safe)."""
        return {
            "status": self.status.value,
            "z": None if self.z is None else [json_number(v) for v in self.z],
            "distance": self.distance,
            "method": self.method,
            "seconds": round(self.seconds, 6),
            "proof": _finite_json(self.proof),
            "reason": self.reason,
            "check": None if self.check is None else self.check.to_json(),
            "stats": _finite_json(self.stats),
        }


def _finite_json(obj: Any) -> Any:
    """Replace non-finite floats (which strict JSON cannot hold) by 'inf', '-inf', 'nan'."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    return obj


def json_number(v: Fraction | int | float) -> int | float | str:
    """A JSON value for an exact rational: int, float when exact, else 'p/q'."""
    f = to_fraction(v)
    if f.denominator == 1:
        return int(f.numerator)
    fl = float(f)
    if Fraction(fl) == f:
        return fl
    return f"{f.numerator}/{f.denominator}"


def certify(problem: InversionProblem, solution: Solution) -> Solution:
    """Re-check a ``yes`` exactly; a witness that fails becomes ``unknown``."""
    if solution.status is not Status.YES:
        return solution
    assert solution.z is not None
    chk = problem.exact_check(solution.z)
    solution.check = chk
    solution.distance = chk.distance
    if not chk.meets:
        solution.status = Status.UNKNOWN
        if chk.in_domain and not chk.decided:
            solution.reason = (
                "the exact comparison of the solver's witness with the threshold is "
                f"undecided: {chk.reason.removeprefix('undecided: ')}"
            )
        else:
            solution.reason = f"solver's witness failed the exact check: {chk.reason}"
    return solution
