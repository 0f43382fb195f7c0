"""Documented bounds on everything geninv reads, checked before it allocates or loops.

Every reader checks its input against this one table *before* it builds
anything whose size follows from the input: a header that declares ``10^400``
variables, a 5,000-digit constant, ``1e999999999`` or a 100,000-deep JSON
array is refused in time linear in the bytes read, with one line naming the
file, the place, the limit and how to raise it.

Each limit has a default and an environment variable that overrides it
(``GENINV_MAX_DIGITS=20000 geninv ...``); the value is read at every check,
so a test or a long-running process may change it.  docs/formats.md
("Limits") lists the same table.

Numbers
=======

:func:`parse_number` is the one exact-number parser (integers, decimals with
an optional exponent, rationals ``p/q``).  It counts the digits and the
exponent's size *before* converting, so ``1e999999999`` costs nothing.  With
at most ``D`` digits and ``|exponent| <= E`` the resulting
:class:`~fractions.Fraction` has a numerator and denominator of at most about
``D + E`` decimal digits.  The default ``E = 1000`` covers every float64
(``5e-324 .. 1.8e308``, written with up to 17 significant digits) with room to
spare.  :func:`check_float` refuses values beyond the float64 range where a
float is needed (targets, network parameters, boxes, witnesses).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from geninv.errors import ValidationError

__all__ = [
    "FLOAT_MAX",
    "LIMITS",
    "Limit",
    "check_count",
    "check_file_size",
    "check_float",
    "check_json_depth",
    "check_parameters",
    "limit",
    "parse_number",
]


@dataclass(frozen=True)
class Limit:
    """One bound: its key, environment variable, default and what it bounds."""

    key: str
    default: int
    what: str

    @property
    def env(self) -> str:
        """The environment variable that overrides this bound: ``GENINV_MAX_<KEY>``."""
        return f"GENINV_MAX_{self.key.upper()}"


_TABLE = (
    Limit("text_bytes", 256 << 20, "size of a text input (CNF, graph, lattice, JSON, VNN-LIB)"),
    Limit("model_bytes", 2 << 30, "size of a network or array file (ONNX, PyTorch, .npz, .npy)"),
    Limit("variables", 1_000_000, "variables declared in a DIMACS CNF header"),
    Limit("clauses", 10_000_000, "clauses declared in a DIMACS CNF header"),
    Limit("vertices", 1_000_000, "vertices declared in a graph header"),
    Limit("edges", 10_000_000, "edge lines declared in a graph header"),
    Limit("lattice_dim", 10_000, "basis vectors n and their dimension d in a lattice"),
    Limit("digits", 4_000, "digits in one number (integer, decimal or p/q; p and q each)"),
    Limit("exponent", 1_000, "size of a decimal exponent: |e| in 1e<e>"),
    Limit("norm_p", 1_000, "a finite norm exponent p (exact arithmetic raises to the p)"),
    Limit("json_depth", 200, "nesting depth of a JSON document"),
    Limit("vnnlib_depth", 200, "nesting depth of a VNN-LIB s-expression"),
    Limit("vnnlib_tokens", 10_000_000, "tokens in a VNN-LIB file"),
    Limit("vector", 10_000_000, "entries of a target, box bound or witness vector"),
    Limit("parameters", 100_000_000, "weights + biases of a network read or built"),
)

#: The limits by key (``LIMITS["digits"].default``).
LIMITS: dict[str, Limit] = {lim.key: lim for lim in _TABLE}

#: The largest finite float64, exactly.
FLOAT_MAX = Fraction(sys.float_info.max)


def limit(key: str) -> int:
    """The current value of limit ``key`` (its environment variable, else the default)."""
    lim = LIMITS[key]
    raw = os.environ.get(lim.env)
    if raw is None or not raw.strip():
        return lim.default
    text = raw.strip().replace("_", "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) < 1:
        raise ValidationError(
            f"environment variable {lim.env}={raw!r} is not a positive integer "
            f"(it bounds the {lim.what}; unset it for the default {lim.default})"
        )
    return int(text)


def _raise_hint(key: str) -> str:
    lim = LIMITS[key]
    return f"the limit is {limit(key):,}; set {lim.env} to raise it"


def check_count(value: int, key: str, what: str) -> None:
    """Refuse ``value`` above limit ``key``; ``what`` names the place (``FILE:LINE: ...``)."""
    if value > limit(key):
        raise ValidationError(
            f"{what} is {_big(value)}, above the limit on the {LIMITS[key].what} "
            f"({_raise_hint(key)})"
        )


def _big(value: int) -> str:
    digits = len(str(value)) if value < 10**30 else None
    if digits is not None:
        return f"{value:,}"
    return f"a {value.bit_length() * 30103 // 100000 + 1}-digit number"


def check_file_size(size: int, key: str, where: str) -> None:
    """Refuse a file of ``size`` bytes above limit ``key`` (``text_bytes``/``model_bytes``)."""
    if size > limit(key):
        raise ValidationError(
            f"{where}: the file has {size:,} bytes, above the limit on the {LIMITS[key].what} "
            f"({_raise_hint(key)})"
        )


def check_parameters(count: int, what: str) -> None:
    """Refuse building or reading a network with more than the parameter limit."""
    if count > limit("parameters"):
        raise ValidationError(
            f"{what} would have {count:,} parameters, above the limit on the "
            f"{LIMITS['parameters'].what} ({_raise_hint('parameters')})"
        )


def check_float(value: Fraction, what: str) -> Fraction:
    """``value`` unchanged when its magnitude fits a float64, else a ValidationError."""
    if abs(value) > FLOAT_MAX:
        raise ValidationError(
            f"{what}: {_short(value)} is beyond the float64 range (|x| <= 1.8e308), "
            "and geninv needs it as a float"
        )
    return value


def _short(value: Fraction) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:20] + "..." + f" ({len(text)} characters)"


# ------------------------------------------------------------------ numbers

#: What an exact number may look like, for error messages.
NUMBER_FORM = "an integer, a decimal like 2.5 or 1e-3, or a rational like 1/3"

_DECIMAL_RE = re.compile(
    r"[+-]?(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[+-]?[0-9]+))?", re.ASCII
)
_RATIONAL_RE = re.compile(r"[+-]?(?P<num>[0-9]+)/(?P<den>[0-9]+)", re.ASCII)


def _show(text: str, limit_: int = 40) -> str:
    return repr(text[:limit_]) + "..." if len(text) > limit_ else repr(text)


def parse_number(token: str) -> Fraction:
    """The exact value of an integer, decimal (``2.5``, ``-.25``, ``1.5E+2``) or ``p/q`` token.

    Digits and the exponent are bounded (limits ``digits`` and ``exponent``)
    before anything is converted.  Raises :class:`ValueError` with a short
    reason; callers add where the token was.
    """
    max_digits = limit("digits")
    match = _RATIONAL_RE.fullmatch(token)
    if match is not None:
        for part in ("num", "den"):
            if len(match[part]) > max_digits:
                raise ValueError(
                    f"{_show(token)} has too many digits ({len(match[part]):,} in the "
                    f"{'numerator' if part == 'num' else 'denominator'}; {_raise_hint('digits')})"
                )
        if int_of(match["den"]) == 0:
            raise ValueError(f"{_show(token)} has a zero denominator")
        sign = -1 if token.startswith("-") else 1
        return Fraction(sign * int_of(match["num"]), int_of(match["den"]))
    match = _DECIMAL_RE.fullmatch(token)
    if match is None or not (match["int"] or match["frac"]):
        raise ValueError(f"{_show(token)} is not a number")
    n_digits = len(match["int"]) + len(match["frac"] or "")
    if n_digits > max_digits:
        raise ValueError(
            f"{_show(token)} has too many digits ({n_digits:,}; {_raise_hint('digits')})"
        )
    exp = match["exp"]
    if exp is not None:
        max_exp = limit("exponent")
        digits = exp.lstrip("+-").lstrip("0")
        if len(digits) > len(str(max_exp)) or int(digits or "0") > max_exp:
            raise ValueError(
                f"{_show(token)} has an exponent beyond ±{max_exp:,} "
                f"(set {LIMITS['exponent'].env} to raise the limit)"
            )
    mantissa = int_of(match["int"] + (match["frac"] or ""))
    if token.startswith("-"):
        mantissa = -mantissa
    scale = (int(exp) if exp is not None else 0) - len(match["frac"] or "")
    return Fraction(mantissa * 10**scale) if scale >= 0 else Fraction(mantissa, 10**-scale)


def int_of(digits: str) -> int:
    """``int`` of an ASCII digit string of any length (Python refuses more than 4300 digits
    at once; the ``digits`` limit, which a user may raise past that, bounds the length)."""
    if len(digits) <= 4000:
        return int(digits or "0")
    value = 0
    for start in range(0, len(digits), 4000):
        chunk = digits[start : start + 4000]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def check_int(value: int, what: str) -> int:
    """Refuse an integer with more digits than the ``digits`` limit (cheap: bit length)."""
    max_digits = limit("digits")
    if abs(value).bit_length() > max_digits * 3322 // 1000 + 4:
        raise ValidationError(
            f"{what}: an integer of about {abs(value).bit_length() * 30103 // 100000:,} digits "
            f"has too many digits ({_raise_hint('digits')})"
        )
    return value


# ------------------------------------------------------------------ JSON


def json_number_line(text: str, literal: str) -> int | None:
    """The line of the first occurrence of a JSON number ``literal`` refused by a parse hook.

    ``json.loads`` hooks see the literal but not its position; the error names the line.
    """
    pos = text.find(literal)
    return None if pos < 0 else text.count("\n", 0, pos) + 1


def check_json_depth(text: str, where: str) -> None:
    """Refuse JSON nested deeper than the ``json_depth`` limit, before ``json.loads``.

    A linear scan of brackets outside strings; it does not validate the JSON
    (``json.loads`` does that afterwards), it only bounds the recursion.
    """
    max_depth = limit("json_depth")
    if text.count("[") + text.count("{") <= max_depth:
        return
    brackets = _BRACKETS_ONLY.sub("", _JSON_STRING.sub("", text))
    steps = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    depth = np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1))
    if depth.size == 0 or int(depth.max()) <= max_depth:
        return
    line = 1 + _line_of_depth(text, max_depth)
    raise ValidationError(
        f"{where}:{line}: JSON nested more than {max_depth:,} levels deep "
        f"(set {LIMITS['json_depth'].env} to raise the limit)"
    )


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_BRACKETS_ONLY = re.compile(r"[^\[\]{}]+")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def _line_of_depth(text: str, max_depth: int) -> int:
    """Number of line breaks before the bracket that first goes deeper than ``max_depth``."""
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > max_depth:
                return text.count("\n", 0, m.start())
        elif tok in "]}":
            depth -= 1
    return 0
