"""Sweep specifications: a TOML file read with :mod:`tomllib`, bounded and validated.

A spec is ``families x sizes x seeds x solvers`` with one time limit per cell::

    name = "my sweep"
    seed = 0              # the spec's seed; every cell's instance seed derives from it
    time_limit = 10.0     # seconds per cell

    [[families]]
    family = "sat-thm1"   # see FAMILIES
    sizes = [8, 10, 12]   # n: variables, basis vectors, vertices or latent dimension
    seeds = 2             # instances per size (0 .. seeds-1)
    solvers = ["sat", "enumerate", "cadical"]
    params = { density = 4.26, planted = false }

Every mistake is a :class:`~geninv.errors.ValidationError` whose one line names the
file, the key and what was expected (the CLI prints it and exits 2).  Sizes are
bounded per family (:data:`MAX_SIZE`), the whole sweep to :data:`MAX_CELLS` cells and
the file to :data:`MAX_BYTES` bytes, so a hostile spec cannot ask for an instance the
machine cannot hold.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geninv.errors import ValidationError

MAX_BYTES = 1 << 20
MAX_CELLS = 100_000
MAX_SEEDS = 1000
MAX_TIME_LIMIT = 86_400.0

#: family -> largest n it accepts (the instance must fit in memory and its generator's
#: exact oracle, where it uses one, must finish).
MAX_SIZE: dict[str, int] = {
    "sat-thm1": 1000,
    "sat-thm2": 1000,
    "cvp-thm3": 24,
    "cvp-thm4": 24,
    "clique-thm5": 200,
    "clique-thm6": 200,
    "half-clique": 200,
    "vertex-cover": 200,
    "vertex-cover-lifted": 200,
    "random-net": 64,
    "trained": 64,
}
FAMILIES = tuple(MAX_SIZE)

#: The source problem's own solvers, by family (recorded as rows of their own).
SOURCE_SOLVERS: dict[str, tuple[str, ...]] = {
    "sat-thm1": ("cadical",),
    "sat-thm2": ("cadical",),
    "cvp-thm3": ("bruteforce",),
    "cvp-thm4": ("bruteforce",),
    "clique-thm5": ("networkx",),
    "clique-thm6": ("networkx",),
    "half-clique": ("networkx",),
    "vertex-cover": ("networkx",),
    "vertex-cover-lifted": ("networkx",),
    "random-net": (),
    "trained": (),
}

#: Each family's parameters: name -> (default, check, what the check expects).
_Check = tuple[Any, Any, str]


def _num(lo: float, hi: float) -> Any:
    return lambda v: (
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and lo <= v <= hi
    )


def _int(lo: int, hi: int) -> Any:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _norm(v: Any) -> bool:
    return v in (1, 2, "inf")


_SAT: dict[str, _Check] = {
    "k": (3, _int(2, 8), "an integer 2..8 (literals per clause)"),
    "density": (4.26, _num(0.1, 20.0), "a number 0.1..20 (clauses per variable)"),
    "planted": (False, lambda v: isinstance(v, bool), "true or false"),
}
_CVP: dict[str, _Check] = {
    "p": (2, _norm, '1, 2 or "inf"'),
    "entries": (5, _int(1, 1000), "an integer 1..1000 (basis entries in [-a, a])"),
    "offset": (-1, _int(-1000, 1000), "an integer (r^p = exact minimum + offset)"),
}
_CLIQUE: dict[str, _Check] = {
    "edge_p": (0.5, _num(0.0, 1.0), "a number 0..1 (G(n, p) edge probability)"),
    "k_offset": (1, _int(-50, 50), "an integer (k = clique number + k_offset)"),
    "p": (2, _int(1, 4), "an integer 1..4 (the clique reduction's norm)"),
}
_HALF: dict[str, _Check] = {
    "edge_p": (0.5, _num(0.0, 1.0), "a number 0..1 (G(n, p) edge probability)"),
    "p": (2, _int(1, 4), "an integer 1..4 (the clique reduction's norm)"),
}
_VC: dict[str, _Check] = {
    "edge_p": (0.3, _num(0.0, 1.0), "a number 0..1 (G(n, p) edge probability)"),
    "q_offset": (-1, _int(-50, 50), "an integer (q = minimum cover size + q_offset)"),
    "p": (2, _norm, '1, 2 or "inf"'),
}
_NET: dict[str, _Check] = {
    "hidden": (0, _int(0, 512), "an integer 0..512 (hidden width; 0: 2n)"),
    "outputs": (0, _int(0, 512), "an integer 0..512 (output dimension; 0: 2n)"),
    "fraction": (0.99, _num(0.0, 10.0), "a number 0..10 (radius / true minimum distance)"),
    "optimize_limit": (30.0, _num(0.1, 3600.0), "seconds 0.1..3600 for the minimum distance"),
}
#: trained model -> its latent dimension (the largest n).
TRAINED_LATENT = {"digits": 4, "mnist-vae": 20, "mnist-gan": 64}
_TRAINED: dict[str, _Check] = {
    "model": ("digits", lambda v: v in TRAINED_LATENT, "one of digits, mnist-vae, mnist-gan"),
    "target": ("image", lambda v: v in ("image", "noisy"), '"image" (x = G(z*)) or "noisy"'),
    "noise": (0.05, _num(0.0, 10.0), "a number 0..10 (target noise, target = noisy)"),
    "fraction": (0.99, _num(0.0, 10.0), "a number 0..10 (radius / least distance, noisy)"),
    "optimize_limit": (30.0, _num(0.1, 3600.0), "seconds 0.1..3600 for the least distance"),
}
PARAMS: dict[str, dict[str, _Check]] = {
    "sat-thm1": _SAT,
    "sat-thm2": _SAT,
    "cvp-thm3": _CVP,
    "cvp-thm4": _CVP,
    "clique-thm5": _CLIQUE,
    "clique-thm6": _CLIQUE,
    "half-clique": _HALF,
    "vertex-cover": _VC,
    "vertex-cover-lifted": _VC,
    "random-net": _NET,
    "trained": _TRAINED,
}


@dataclass(frozen=True)
class FamilySpec:
    """One ``[[families]]`` table: the family, its sizes, seeds per size, solvers and
    parameters (defaults filled in, so the recorded parameters are complete)."""

    family: str
    sizes: tuple[int, ...]
    seeds: int
    solvers: tuple[str, ...]
    params: dict[str, Any]


@dataclass(frozen=True)
class Spec:
    """A validated sweep: its name, seed, per-cell time limit, families, the TOML text
    it was read from and :attr:`hash` (SHA-256 of its canonical JSON form)."""

    name: str
    seed: int
    time_limit: float
    families: tuple[FamilySpec, ...]
    text: str

    @property
    def hash(self) -> str:
        """SHA-256 of the spec's name, seed, time limit and families (canonical JSON):
        part of every cell's key, so a changed spec never resumes another's rows."""
        doc = {
            "name": self.name,
            "seed": self.seed,
            "time_limit": self.time_limit,
            "families": [f.__dict__ for f in self.families],
        }
        canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(canon.encode()).hexdigest()

    @property
    def n_cells(self) -> int:
        """How many cells the sweep has: sizes x seeds x solvers, summed over the families."""
        return sum(len(f.sizes) * f.seeds * len(f.solvers) for f in self.families)


def geninv_backends() -> tuple[str, ...]:
    """The names of geninv's registered backends (``auto`` included)."""
    from geninv.solvers.registry import REGISTRY

    return ("auto", *sorted(REGISTRY))


def _bad(where: str, key: str, expected: str, got: Any) -> ValidationError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ValidationError(f"{where}: {key}: expected {expected}, got {shown}")


def _family(where: str, i: int, table: Any, backends: tuple[str, ...]) -> FamilySpec:
    at = f"families[{i}]"
    if not isinstance(table, dict):
        raise _bad(where, at, "a table", table)
    extra = set(table) - {"family", "sizes", "seeds", "solvers", "params"}
    if extra:
        raise _bad(where, f"{at}.{sorted(extra)[0]}", "no such key (family, sizes, ...)", "")
    fam: Any = table.get("family")
    if fam not in MAX_SIZE:
        raise _bad(where, f"{at}.family", "one of " + ", ".join(FAMILIES), fam)
    top = MAX_SIZE[fam]
    sizes: Any = table.get("sizes")
    lo = 4 if fam == "half-clique" else 1
    ok_sizes = (
        isinstance(sizes, list)
        and 1 <= len(sizes) <= 1000
        and all(_int(lo, top)(s) for s in sizes)
        and len(set(sizes)) == len(sizes)
    )
    if not ok_sizes:
        raise _bad(where, f"{at}.sizes", f"a list of distinct integers {lo}..{top}", sizes)
    if fam == "half-clique" and any(s % 2 for s in sizes):
        raise _bad(where, f"{at}.sizes", "even sizes (Half-Clique asks for n/2)", sizes)
    seeds: Any = table.get("seeds", 1)
    if not _int(1, MAX_SEEDS)(seeds):
        raise _bad(where, f"{at}.seeds", f"an integer 1..{MAX_SEEDS}", seeds)
    solvers: Any = table.get("solvers")
    from geninv.lab.peers import PEERS

    allowed = (*backends, *SOURCE_SOLVERS[fam], *PEERS)
    if not (isinstance(solvers, list) and solvers and len(set(map(str, solvers))) == len(solvers)):
        raise _bad(where, f"{at}.solvers", "a non-empty list of distinct solver names", solvers)
    for s in solvers:
        if s not in allowed:
            raise _bad(where, f"{at}.solvers", "solvers among " + ", ".join(allowed), s)
    raw: Any = table.get("params", {})
    if not isinstance(raw, dict):
        raise _bad(where, f"{at}.params", "a table", raw)
    checks = PARAMS[fam]
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in checks:
            raise _bad(where, f"{at}.params.{key}", "one of " + ", ".join(checks), value)
        if not checks[key][1](value):
            raise _bad(where, f"{at}.params.{key}", checks[key][2], value)
        params[key] = value
    for key, (default, _, _) in checks.items():
        params.setdefault(key, default)
    if fam.startswith("sat-") and min(sizes) < params["k"]:
        k = params["k"]
        raise _bad(where, f"{at}.sizes", f"sizes of at least {k} variables (k = {k})", sizes)
    if fam == "trained" and max(sizes) > TRAINED_LATENT[params["model"]]:
        top = TRAINED_LATENT[params["model"]]
        raise _bad(where, f"{at}.sizes", f"latent sizes 1..{top} ({params['model']})", sizes)
    return FamilySpec(fam, tuple(sizes), seeds, tuple(solvers), params)


def parse_spec(text: str, where: str = "<spec>") -> Spec:
    """The :class:`Spec` of TOML ``text`` (read from ``where``, named in errors)."""
    if len(text.encode("utf-8", "surrogateescape")) > MAX_BYTES:
        raise ValidationError(f"{where}: the spec is over {MAX_BYTES} bytes; expected a small file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{where}: not valid TOML ({exc})") from None
    extra = set(doc) - {"name", "seed", "time_limit", "families"}
    if extra:
        raise _bad(where, sorted(extra)[0], "no such key (name, seed, time_limit, families)", "")
    name: Any = doc.get("name", Path(where).stem)
    if not (isinstance(name, str) and 0 < len(name) <= 200):
        raise _bad(where, "name", "a string of 1..200 characters", name)
    seed: Any = doc.get("seed", 0)
    if not _int(0, 2**63 - 1)(seed):
        raise _bad(where, "seed", "an integer 0..2^63-1", seed)
    limit: Any = doc.get("time_limit")
    if not (_num(0.0, MAX_TIME_LIMIT)(limit) and limit > 0):
        raise _bad(
            where, "time_limit", f"seconds per cell, a number in (0, {MAX_TIME_LIMIT:g}]", limit
        )
    fams: Any = doc.get("families")
    if not (isinstance(fams, list) and 1 <= len(fams) <= 100):
        raise _bad(where, "families", "1..100 [[families]] tables", fams)
    backends = geninv_backends()
    spec = Spec(
        name,
        seed,
        float(limit),
        tuple(_family(where, i, t, backends) for i, t in enumerate(fams)),
        text,
    )
    if spec.n_cells > MAX_CELLS:
        raise ValidationError(
            f"{where}: the sweep has {spec.n_cells} cells; expected at most {MAX_CELLS} "
            "(split it into several specs)"
        )
    return spec


def read_spec(path: str | Path) -> Spec:
    """The :class:`Spec` in the TOML file ``path`` (at most :data:`MAX_BYTES` bytes)."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"{path}: no such spec file; expected a TOML sweep spec")
    if p.stat().st_size > MAX_BYTES:
        raise ValidationError(f"{path}: the spec is over {MAX_BYTES} bytes; expected a small file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path}: not UTF-8 text; expected a TOML sweep spec") from None
    return parse_spec(text, str(path))


#: ``geninv lab quick``: a few minutes on 2 cores.
QUICK_SPEC = """\
name = "quick"
seed = 0
time_limit = 20.0

[[families]]
family = "sat-thm1"
sizes = [10, 14, 18, 22]
seeds = 3
solvers = ["sat", "enumerate", "cadical"]
params = { density = 4.26, planted = false }

[[families]]
family = "sat-thm2"
sizes = [10, 15, 20]
seeds = 2
solvers = ["auto", "cadical"]
params = { density = 4.26, planted = true }

[[families]]
family = "cvp-thm3"
sizes = [8, 12, 16]
seeds = 2
solvers = ["enumerate", "sat", "bruteforce"]

[[families]]
family = "clique-thm5"
sizes = [10, 20, 30]
seeds = 2
solvers = ["sat", "milp", "networkx"]
params = { p = 1 }

[[families]]
family = "half-clique"
sizes = [8, 12]
seeds = 2
solvers = ["sat", "networkx"]

[[families]]
family = "vertex-cover"
sizes = [10, 16, 22]
seeds = 2
solvers = ["sat", "milp", "networkx"]
params = { p = 1 }

[[families]]
family = "clique-thm6"
sizes = [6, 8]
seeds = 1
solvers = ["auto", "networkx"]

# Approximate backends near the feasibility boundary (success rates vs n and margin):
# radius = fraction x the least distance found (within optimize_limit s), three margins.
[[families]]
family = "random-net"
sizes = [4, 8, 12]
seeds = 3
solvers = ["adam", "pgd"]
params = { fraction = 1.02, optimize_limit = 4.0 }

[[families]]
family = "random-net"
sizes = [4, 8, 12]
seeds = 3
solvers = ["adam", "pgd"]
params = { fraction = 1.2, optimize_limit = 4.0 }

[[families]]
family = "random-net"
sizes = [4, 8, 12]
seeds = 3
solvers = ["adam", "pgd"]
params = { fraction = 2.0, optimize_limit = 4.0 }
"""


def quick_spec() -> Spec:
    """The built-in ``geninv lab quick`` spec."""
    return parse_spec(QUICK_SPEC, "<geninv lab quick>")
