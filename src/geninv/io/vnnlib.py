"""Inversion problems as VNN-LIB properties.

A VNN-LIB file declares the network's inputs ``X_i`` and outputs ``Y_j`` and
asserts constraints on them; a verifier answers ``sat`` when some input meets
all of them (a counterexample to the property the file negates) and ``unsat``
when none does.  geninv writes the *inversion region* directly:

    z in [lower, upper]              (X_i bounds)
    x_j - delta <=  Y_j  <= x_j + delta   for every output j,

which is ``||G(z) - x||_inf <= delta`` (``<`` when the problem's relation is
strict) and, for ``delta = 0``, exact inversion ``G(z) = x`` (any p).  So a
verifier's ``sat`` means an inverting ``z`` exists in the box (geninv ``yes``)
and ``unsat`` means none does (``no``).  Other norms with ``delta > 0`` need
non-box output constraints and are refused (:func:`vnnlib_expressible`).

Numbers are written as exact decimals whenever the rational has a finite
decimal expansion (every float does); other rationals (e.g. 1/3) are written as
``repr`` of the nearest float64, and the header says so.

:func:`read_vnnlib` parses the conjunctive subset back: declarations of
``X_i``/``Y_j`` as ``Real`` and assertions of single bounds ``(op V c)`` or
``(op c V)`` with ``op`` one of ``<= >= < >``, alone or inside ``(and ...)``
(and a one-way ``(or A)``, which is ``A``).  Every assertion is kept exactly:
several bounds on one variable intersect, numbers are read as exact rationals,
and anything else (a disjunction of two or more cases, negation, equality,
linear combinations, other commands, names such as ``X_01``) is refused with
its line.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from geninv.errors import ParseError, UnsupportedError, ValidationError
from geninv.io.limits import check_file_size, check_float, limit, parse_number
from geninv.network import to_fraction
from geninv.problem import InversionProblem, norm_label

__all__ = [
    "VnnlibProperty",
    "format_number",
    "read_vnnlib",
    "vnnlib_expressible",
    "write_vnnlib",
]


# ====================================================================== numbers
def _is_finite_decimal(f: Fraction) -> bool:
    d = f.denominator
    for prime in (2, 5):
        while d % prime == 0:
            d //= prime
    return d == 1


def format_number(value: Fraction) -> str:
    """A VNN-LIB real literal for ``value``.

    Exact plain decimal digits (``0.5``, ``-3.0``, ``0.0000001``) when
    ``value = N / 10^k`` for integers ``N``, ``k`` (a denominator ``2^a 5^b``);
    otherwise ``repr`` of the nearest float64 (which is *not* exact).  No
    exponent notation, so strict SMT-LIB readers accept it too.
    """
    f = Fraction(value)
    if not _is_finite_decimal(f):
        return repr(float(f))
    sign = "-" if f < 0 else ""
    f = abs(f)
    d = f.denominator
    a = b = 0
    while d % 2 == 0:
        d //= 2
        a += 1
    while d % 5 == 0:
        d //= 5
        b += 1
    k = max(a, b)
    digits = str(f.numerator * 10**k // f.denominator)
    if k == 0:
        return f"{sign}{digits}.0"
    digits = digits.rjust(k + 1, "0")
    return f"{sign}{digits[:-k]}.{digits[-k:]}"


# ====================================================================== writer
def vnnlib_expressible(problem: InversionProblem) -> str | None:
    """``None`` when :func:`write_vnnlib` can express ``problem``, else the reason.

    Expressible: a ``real`` or ``box`` domain, and either ``delta = 0`` (exact
    inversion) or ``p = inf`` (a box around the target).
    """
    if problem.domain.kind not in ("real", "box"):
        return (
            f"VNN-LIB inputs are real; the {problem.domain.kind} domain needs integrality "
            "constraints VNN-LIB cannot state"
        )
    if problem.threshold != 0 and not math.isinf(problem.p):
        return (
            f"||G(z) - x||_{norm_label(problem.p)} with delta > 0 is not a box around x; "
            "VNN-LIB output constraints here must be per-output bounds (use p = inf or delta = 0)"
        )
    return None


def write_vnnlib(
    problem: InversionProblem,
    box: tuple[Sequence[Fraction], Sequence[Fraction]],
    path: str | Path,
) -> None:
    """Write ``problem`` restricted to the input ``box`` as a VNN-LIB property.

    ``box = (lower, upper)`` bounds each ``X_i``.  VNN-LIB inputs must be
    bounded: for a ``real`` domain pass a box outside which ``G`` does not
    change (e.g. from :func:`geninv.analysis.input_clamp_box`) to keep the
    answer the same; for a ``box`` domain the box must lie inside the domain
    (usually it *is* the domain), else :class:`ValidationError`.

    Output constraints are ``x_j - delta <= Y_j <= x_j + delta`` (strict when
    the relation is ``<``), i.e. ``Y_j = x_j`` for ``delta = 0``.  Raises
    :class:`UnsupportedError` when :func:`vnnlib_expressible` gives a reason.
    Written atomically.
    """
    reason = vnnlib_expressible(problem)
    if reason is not None:
        raise UnsupportedError(f"cannot write VNN-LIB: {reason}")
    n, q = problem.n, problem.network.n_outputs
    lower = [to_fraction(v, f"box lower[{i}]") for i, v in enumerate(box[0])]
    upper = [to_fraction(v, f"box upper[{i}]") for i, v in enumerate(box[1])]
    if len(lower) != n or len(upper) != n:
        raise ValidationError(
            f"input box has {len(lower)} lower and {len(upper)} upper bounds; "
            f"the network has {n} inputs"
        )
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
        if lo > hi:
            raise ValidationError(f"input box {i}: lower {lo} > upper {hi}")
    dom = problem.domain
    if dom.kind == "box":
        assert dom.lower is not None and dom.upper is not None
        for i in range(n):
            if lower[i] < dom.lower[i] or upper[i] > dom.upper[i]:
                raise ValidationError(
                    f"input box {i}: [{lower[i]}, {upper[i]}] is not inside the problem's "
                    f"domain [{dom.lower[i]}, {dom.upper[i]}]"
                )

    delta = problem.threshold
    strict = problem.relation == "<"
    le, ge = ("<", ">") if strict else ("<=", ">=")
    values = [*lower, *upper] + [t + s for t in problem.target for s in (-delta, delta)]
    rounded = any(not _is_finite_decimal(v) for v in values)

    lines = [
        "; VNN-LIB property written by geninv",
        f"; problem: {problem.describe()}",
        f"; network: {problem.network.describe()}",
        "; Semantics: VNN-LIB describes the region searched for a counterexample.",
        "; Here that region is the set of inverting latents: z in the input box below",
        f"; with |G(z)_j - x_j| {'<' if strict else '<='} delta for every output j"
        f" (delta = {format_number(delta)}).",
        "; So a verifier's 'sat' means an inverting z exists (geninv: YES),",
        "; and 'unsat' means no z in the box inverts x (geninv: NO).",
    ]
    if problem.domain.kind == "real":
        lines.append("; The domain is R^n; the input box was supplied by the caller.")
    if rounded:
        lines.append(
            "; Note: some bounds are rationals without a finite decimal expansion;"
            " they are written as the nearest float64."
        )
    lines.append("")
    lines += [f"(declare-const X_{i} Real)" for i in range(n)]
    lines.append("")
    lines += [f"(declare-const Y_{j} Real)" for j in range(q)]
    lines.append("")
    lines.append("; input box")
    for i in range(n):
        lines.append(f"(assert (<= X_{i} {format_number(upper[i])}))")
        lines.append(f"(assert (>= X_{i} {format_number(lower[i])}))")
    lines.append("")
    if delta == 0:
        lines.append("; outputs: G(z) = x")
        for j, t in enumerate(problem.target):
            lines.append(f"(assert (<= Y_{j} {format_number(t)}))")
            lines.append(f"(assert (>= Y_{j} {format_number(t)}))")
    else:
        lines.append(f"; outputs: x_j - delta {le} Y_j {le} x_j + delta")
        for j, t in enumerate(problem.target):
            lines.append(f"(assert ({le} Y_{j} {format_number(t + delta)}))")
            lines.append(f"(assert ({ge} Y_{j} {format_number(t - delta)}))")
    _atomic_write_text(Path(path), "\n".join(lines) + "\n")


def _atomic_write_text(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ====================================================================== reader
@dataclass
class VnnlibProperty:
    """The conjunctive box property of a VNN-LIB file.

    ``input_lower[i] <= X_i <= input_upper[i]`` (strict where the matching
    ``*_strict`` flag is set); ``output_lower[j]``/``output_upper[j]`` bound
    ``Y_j`` or are ``None`` when unbounded.  Several bounds on one variable are
    intersected (the tightest wins; at equal values a strict bound wins).
    """

    n_inputs: int
    n_outputs: int
    input_lower: list[Fraction]
    input_upper: list[Fraction]
    output_lower: list[Fraction | None]
    output_upper: list[Fraction | None]
    input_lower_strict: list[bool] = field(default_factory=list)
    input_upper_strict: list[bool] = field(default_factory=list)
    output_lower_strict: list[bool] = field(default_factory=list)
    output_upper_strict: list[bool] = field(default_factory=list)


@dataclass
class _Sexp:
    """An s-expression: an atom (``items is None``) or a list, with its line number."""

    line: int
    atom: str | None = None
    items: list[_Sexp] | None = None

    def show(self, limit: int = 60) -> str:
        text = self.atom if self.atom is not None else _render(self)
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(s: _Sexp) -> str:
    if s.atom is not None:
        return s.atom
    assert s.items is not None
    return "(" + " ".join(_render(c) for c in s.items) + ")"


_TOKEN = re.compile(r"\s+|;[^\n]*|\(|\)|\|[^|]*\||[^\s();|]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_VAR = re.compile(r"([XY])_(0|[1-9][0-9]*)")  # X_01 is another name than X_1: not read


def _parse_sexps(text: str, path: str) -> list[_Sexp]:
    """Top-level s-expressions; nesting and token count bounded (limits ``vnnlib_*``)."""
    stack: list[_Sexp] = []
    top: list[_Sexp] = []
    line = 1
    pos = 0
    max_depth = limit("vnnlib_depth")
    tokens_left = limit("vnnlib_tokens")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}", path, line)
        tok = m.group(0)
        pos = m.end()
        if tok[0].isspace() or tok[0] == ";":
            line += tok.count("\n")
            continue
        tokens_left -= 1
        if tokens_left < 0:
            raise ParseError(
                f"more than {limit('vnnlib_tokens'):,} tokens (the limit on a VNN-LIB file; "
                "set GENINV_MAX_VNNLIB_TOKENS to raise it)",
                path,
                line,
            )
        if tok == "(":
            if len(stack) == max_depth:
                raise ParseError(
                    f"s-expressions nested more than {max_depth:,} levels deep (set "
                    "GENINV_MAX_VNNLIB_DEPTH to raise the limit)",
                    path,
                    line,
                )
            stack.append(_Sexp(line, items=[]))
        elif tok == ")":
            if not stack:
                raise ParseError("unbalanced ')' (no matching '(')", path, line)
            done = stack.pop()
            if stack:
                assert stack[-1].items is not None
                stack[-1].items.append(done)
            else:
                top.append(done)
        else:
            atom = _Sexp(line, atom=tok)
            line += tok.count("\n")
            if stack:
                assert stack[-1].items is not None
                stack[-1].items.append(atom)
            else:
                raise ParseError(f"expected '(' at top level, got {tok!r}", path, line)
    if stack:
        raise ParseError("unbalanced '(' (missing ')' before end of file)", path, stack[-1].line)
    return top


class _Bounds:
    """Running intersection of bounds on one variable."""

    def __init__(self) -> None:
        self.lower: Fraction | None = None
        self.upper: Fraction | None = None
        self.lower_strict = False
        self.upper_strict = False

    def add_lower(self, v: Fraction, strict: bool) -> None:
        if self.lower is None or v > self.lower:
            self.lower, self.lower_strict = v, strict
        elif v == self.lower:
            self.lower_strict = self.lower_strict or strict

    def add_upper(self, v: Fraction, strict: bool) -> None:
        if self.upper is None or v < self.upper:
            self.upper, self.upper_strict = v, strict
        elif v == self.upper:
            self.upper_strict = self.upper_strict or strict


class _VnnReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.declared: dict[tuple[str, int], int] = {}  # (kind, index) -> line
        self.bounds: dict[tuple[str, int], _Bounds] = {}

    def unsupported(self, line: int, what: str) -> UnsupportedError:
        return UnsupportedError(f"{self.path}:{line}: {what}")

    def parse_error(self, line: int, what: str) -> ParseError:
        return ParseError(what, self.path, line)

    def number(self, s: _Sexp) -> Fraction | None:
        """The value of a numeric literal, ``(- c)`` or ``(/ a b)``; None if not a number."""
        if s.atom is not None:
            if _NUMBER.fullmatch(s.atom):
                try:
                    return check_float(parse_number(s.atom), f"the constant {s.show(40)}")
                except (ValueError, ValidationError) as exc:
                    raise self.parse_error(s.line, str(exc)) from None
            return None
        assert s.items is not None
        items = s.items
        if len(items) == 2 and items[0].atom == "-":
            v = self.number(items[1])
            return None if v is None else -v
        if len(items) == 3 and items[0].atom == "/":
            a, b = self.number(items[1]), self.number(items[2])
            if a is None or b is None:
                return None
            if b == 0:
                raise self.parse_error(s.line, f"division by zero in {s.show()}")
            return a / b
        return None

    def variable(self, s: _Sexp) -> tuple[str, int] | None:
        if s.atom is None:
            return None
        m = _VAR.fullmatch(s.atom)
        if m is None:
            return None
        if len(m.group(2)) > 18:
            raise self.parse_error(
                s.line, f"variable {s.show(40)} has an index beyond any network size"
            )
        return (m.group(1), int(m.group(2)))

    def declare(self, form: _Sexp) -> None:
        assert form.items is not None
        items = form.items
        if len(items) != 3 or items[1].atom is None or items[2].atom is None:
            raise self.parse_error(form.line, f"malformed declaration {form.show()}")
        name, sort = items[1].atom, items[2].atom
        var = self.variable(items[1])
        if var is None:
            raise self.unsupported(
                form.line, f"variable '{name}'; geninv reads only X_i (inputs) and Y_j (outputs)"
            )
        if sort != "Real":
            raise self.unsupported(form.line, f"variable '{name}' of sort {sort}; expected Real")
        if var in self.declared:
            raise self.parse_error(
                form.line, f"'{name}' declared twice (first on line {self.declared[var]})"
            )
        self.declared[var] = form.line

    def constraint(self, s: _Sexp) -> None:
        if s.items is None or not s.items:
            raise self.unsupported(
                s.line, f"assertion of {s.show()!r}; expected a comparison (<= V c) or (and ...)"
            )
        head = s.items[0].atom
        if head == "and":
            for child in s.items[1:]:
                self.constraint(child)
            return
        if head == "or" and len(s.items) == 2:
            # a one-way disjunction (or A) is A itself (the VNN-COMP files' usual wrapper)
            self.constraint(s.items[1])
            return
        if head not in ("<=", ">=", "<", ">"):
            kind = {
                "or": "disjunction (or ...)",
                "not": "negation (not ...)",
                "=>": "implication (=> ...)",
                "=": "equality (= ...)",
            }.get(head or "", f"construct {s.show()}")
            raise self.unsupported(
                s.line,
                f"{kind}; geninv reads only conjunctions of bounds (<=, >=, <, > between "
                "one variable and one number)",
            )
        if len(s.items) != 3:
            raise self.parse_error(s.line, f"{head} needs two arguments, got {len(s.items) - 1}")
        left, right = s.items[1], s.items[2]
        lv, rv = self.variable(left), self.variable(right)
        ln, rn = self.number(left), self.number(right)
        if lv is not None and rn is not None:
            var, value, var_on_left = lv, rn, True
        elif rv is not None and ln is not None:
            var, value, var_on_left = rv, ln, False
        else:
            other = left if lv is None and ln is None else right
            if other.items is not None and other.items and other.items[0].atom in ("+", "-", "*"):
                what = f"linear combination {other.show()}"
            elif lv is not None and rv is not None:
                what = f"comparison of two variables {s.show()}"
            else:
                what = f"term {other.show()}"
            raise self.unsupported(
                s.line,
                f"{what}; geninv reads only bounds between one declared variable and one number",
            )
        if var not in self.declared:
            raise self.parse_error(s.line, f"'{var[0]}_{var[1]}' is used before its declaration")
        strict = head in ("<", ">")
        # (<= V c) or (>= c V): upper bound on V; (>= V c) or (<= c V): lower bound.
        is_upper = (head in ("<=", "<")) == var_on_left
        b = self.bounds.setdefault(var, _Bounds())
        if is_upper:
            b.add_upper(value, strict)
        else:
            b.add_lower(value, strict)

    def form(self, form: _Sexp) -> None:
        if form.items is None or not form.items or form.items[0].atom is None:
            raise self.parse_error(form.line, f"expected a command, got {form.show()}")
        head = form.items[0].atom
        if head == "declare-const":
            self.declare(form)
        elif head == "assert":
            if len(form.items) != 2:
                raise self.parse_error(form.line, "assert takes exactly one argument")
            self.constraint(form.items[1])
        else:
            raise self.unsupported(
                form.line, f"command '{head}'; geninv reads only declare-const and assert"
            )

    def result(self) -> VnnlibProperty:
        counts: dict[str, int] = {}
        for kind in ("X", "Y"):
            idx = sorted(i for k, i in self.declared if k == kind)
            if idx != list(range(len(idx))):
                missing = min(set(range(len(idx) + 1)) - set(idx))
                raise ParseError(
                    f"{kind}_{missing} is not declared; expected {kind}_0 .. {kind}_{len(idx) - 1}",
                    self.path,
                )
            counts[kind] = len(idx)
        if counts["X"] == 0:
            raise ParseError("no input variables X_i declared", self.path)
        in_lo: list[Fraction] = []
        in_hi: list[Fraction] = []
        in_lo_s: list[bool] = []
        in_hi_s: list[bool] = []
        for i in range(counts["X"]):
            b = self.bounds.get(("X", i), _Bounds())
            if b.lower is None or b.upper is None:
                side = "lower" if b.lower is None else "upper"
                raise self.unsupported(
                    self.declared[("X", i)],
                    f"input X_{i} has no {side} bound; geninv needs a bounded input box",
                )
            if b.lower > b.upper or (b.lower == b.upper and (b.lower_strict or b.upper_strict)):
                raise ValidationError(
                    f"{self.path}:{self.declared[('X', i)]}: input X_{i} has an empty range "
                    f"(lower {b.lower} {'>=' if b.lower == b.upper else '>'} upper {b.upper}); "
                    "expected a non-empty input box"
                )
            in_lo.append(b.lower)
            in_hi.append(b.upper)
            in_lo_s.append(b.lower_strict)
            in_hi_s.append(b.upper_strict)
        out_b = [self.bounds.get(("Y", j), _Bounds()) for j in range(counts["Y"])]
        return VnnlibProperty(
            n_inputs=counts["X"],
            n_outputs=counts["Y"],
            input_lower=in_lo,
            input_upper=in_hi,
            output_lower=[b.lower for b in out_b],
            output_upper=[b.upper for b in out_b],
            input_lower_strict=in_lo_s,
            input_upper_strict=in_hi_s,
            output_lower_strict=[b.lower_strict for b in out_b],
            output_upper_strict=[b.upper_strict for b in out_b],
        )


def read_vnnlib(path: str | Path) -> VnnlibProperty:
    """Parse the conjunctive box subset of VNN-LIB (see the module docstring).

    Raises :class:`ParseError` (``FILE:LINE: ...``) for unreadable files and
    malformed s-expressions, and :class:`UnsupportedError` (``FILE:LINE: ...``)
    for constructs outside the subset (``or``, linear combinations, other
    commands, unbounded inputs).
    """
    shown = str(path)
    with contextlib.suppress(OSError):  # reading it below says why it cannot be read
        check_file_size(os.stat(shown).st_size, "text_bytes", shown)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParseError("not a readable VNN-LIB file: file not found", shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise ParseError(f"not a readable VNN-LIB file: {reason}", shown) from None
    reader = _VnnReader(shown)
    for form in _parse_sexps(text, shown):
        reader.form(form)
    return reader.result()
