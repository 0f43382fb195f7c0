"""``auto``'s last resort: the approximate portfolio, for instances no complete backend
takes (the complete backends' ranking is :mod:`geninv.solvers.portfolio`).

A trained generator with a sigmoid or tanh output layer, a real latent without a
clamp box, ... : none of the complete backends (``enumerate``, ``sat``, ``milp``,
``miqp``, ``corners``, ``bab``) can encode it.  Instead of refusing, ``auto`` then
runs the incomplete first-order methods of :mod:`geninv.solvers.approx`
(:data:`PORTFOLIO`, in that order, each that accepts the instance) one after the
other, and answers honestly:

* ``yes`` from the first run whose point meets the threshold -- every ``yes``
  passes :func:`geninv.problem.certify` (the witness is re-checked in exact
  rational arithmetic, sigmoid/tanh to 60 digits);
* otherwise ``unknown`` with the point of least *exact* distance any run reached,
  its distance in ``distance``, and a reason that says which runs were made and
  that an incomplete search proves nothing.  Never ``no``.

Time: the portfolio gets the time ``auto`` has left, or :data:`DEFAULT_SECONDS`
without a time limit; each run gets an equal share of what is left when it starts
(a run that finishes early leaves its time to the next ones), less the time its
final exact check is expected to take (measured on the runs before it), and
:data:`SAFETY_SECONDS` (or :data:`SAFETY_SHARE` of the limit) is kept back, so that
the portfolio ends within the limit.  Each run checks its single best point exactly
(``check_top=1``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geninv.budget import Budget
from geninv.errors import GeninvError
from geninv.problem import InversionProblem, Solution, Status

#: The approximate backends ``auto`` falls back on, in the order they are tried.
PORTFOLIO: tuple[str, ...] = ("pgd", "adam", "langevin", "admm", "flipgd")
#: Tried when no backend of :data:`PORTFOLIO` accepts the instance: the primal local
#: search reads every domain and activation (e.g. binary latents into ELU layers, which
#: ``flipgd`` does not take).
LAST_RESORT: tuple[str, ...] = ("primal",)
#: The portfolio's time when ``solve`` has no time limit (seconds).
DEFAULT_SECONDS = 60.0
#: A run is not started with less time than this left.
MIN_RUN_SECONDS = 0.2
#: Time kept back from a time limit (seconds, and share of it, whichever is larger): the
#: answer is assembled and printed, and the command's watchdog stops what runs past it.
SAFETY_SECONDS = 0.25
SAFETY_SHARE = 0.05


def complete_refusals(problem: InversionProblem) -> dict[str, str]:
    """Why each registered complete backend cannot decide ``problem`` (name -> reason)."""
    from geninv.solvers.registry import REGISTRY

    out: dict[str, str] = {}
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        if not cls.capabilities.complete:
            continue
        if not cls.available():
            out[name] = f"needs {', '.join(cls.missing_modules())}"
            continue
        why = cls.unsupported_reason(problem)
        if why is not None:
            out[name] = why
    return out


def warm_up_torch() -> None:
    """Import torch and take one optimizer step: torch's optimizers import its compiler
    stack (``torch._dynamo``) on their first step, seconds on a loaded machine, which
    would otherwise be charged to the first run's share of the time limit."""
    import torch

    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([param], lr=0.1)
    param.grad = torch.ones(1)
    opt.step()


def applicable(problem: InversionProblem) -> list[str]:
    """The backends of :data:`PORTFOLIO` that are installed and accept ``problem``, or
    failing those, of :data:`LAST_RESORT`."""
    from geninv.solvers.registry import REGISTRY

    for table in (PORTFOLIO, LAST_RESORT):
        names = []
        for name in table:
            cls = REGISTRY.get(name)
            if cls is not None and cls.available() and cls.unsupported_reason(problem) is None:
                names.append(name)
        if names:
            return names
    return []


def run_portfolio(
    problem: InversionProblem,
    time_limit: float | None,
    seed: int | None,
    progress: bool,
    solve: Callable[..., Solution],
) -> Solution | None:
    """Run the approximate portfolio on ``problem`` within ``time_limit`` seconds.

    Returns None when no backend of the portfolio accepts ``problem`` (the caller
    then reports the refusals).  ``stats["auto_refused"]`` lists why each complete
    backend refused, ``stats["auto_portfolio"]`` the runs made.  ``solve`` runs one
    backend (the driver's :func:`geninv.solvers.base.solve`, passed in: this module
    does not import the driver).
    """
    names = applicable(problem)
    if not names:
        return None
    refusals = complete_refusals(problem)
    refused = _short_refusal(problem, refusals)
    warm_up_torch()  # not counted in the first run's time (its share would be spent on imports)

    if time_limit is None:
        share = DEFAULT_SECONDS
    else:
        share = max(0.0, time_limit - max(SAFETY_SECONDS, SAFETY_SHARE * time_limit))
    clock = Budget(share, seed)
    runs: list[dict[str, Any]] = []
    best: Solution | None = None
    overshoot: float | None = None  # how far a run went past its limit (its exact check)
    for i, name in enumerate(names):
        left = clock.left()
        # a run ends with an exact check of its best point (seconds for a large sigmoid
        # network): the first run keeps half its share for it, later ones what it took
        remaining = len(names) - i
        reserve = left / remaining / 2 if overshoot is None else 1.5 * overshoot
        while remaining > 1 and left / remaining - reserve < MIN_RUN_SECONDS:
            remaining -= 1  # too little time for all: the runs ranked first get it
        limit = left / remaining - reserve
        if best is not None and limit < MIN_RUN_SECONDS:
            runs.append({"method": name, "status": "not started", "reason": "no time left"})
            continue
        limit = max(limit, MIN_RUN_SECONDS)
        try:
            sol = solve(
                problem,
                name,
                time_limit=limit,
                seed=seed,
                progress=progress,
                options={"check_top": 1} if name in PORTFOLIO else None,  # primal checks one
            )
        except GeninvError as exc:
            runs.append({"method": name, "status": "error", "reason": str(exc)})
            continue
        over = max(0.0, sol.seconds - limit)
        overshoot = over if overshoot is None else max(overshoot, over)
        dist = sol.check.distance if sol.check is not None else None
        runs.append(
            {"method": name, "status": sol.status.value, "distance": dist, "seconds": sol.seconds}
        )
        if sol.status is Status.YES:
            best = sol
            break
        if dist is not None and (best is None or best.check is None or dist < best.check.distance):
            best = sol
    tried = ", ".join(r["method"] for r in runs if r["status"] not in ("not started",))
    if best is None:
        best = Solution(
            Status.UNKNOWN,
            "auto",
            reason=f"{refused}; the approximate portfolio ({tried}) found no point to check",
        )
    elif best.status is not Status.YES:
        assert best.check is not None
        what = (
            "exact inversion (threshold 0)"
            if problem.is_exact_inversion
            else f"the threshold {problem.threshold_float():.6g}"
        )
        best.reason = (
            f"{refused}; the approximate portfolio ({tried}) reached the exact distance "
            f"{best.check.distance:.6g} ({best.method}), which does not meet {what}; "
            "an incomplete search does not show that no preimage exists"
        )
    best.seconds = clock.elapsed()
    best.stats["auto"] = f"approximate portfolio: {refused}"
    best.stats["auto_portfolio"] = runs
    best.stats["auto_refused"] = [f"{k}: {v}" for k, v in refusals.items()]
    return best


def _short_refusal(problem: InversionProblem, refusals: dict[str, str]) -> str:
    """Why no complete backend applies, in a few words (the details: stats.auto_refused)."""
    outside = problem.network.first_layer_outside({"relu", "identity", "leaky_relu"})
    if outside is not None:
        return f"no complete backend encodes {outside}"
    return (
        f"no complete backend accepts this instance ({', '.join(refusals) or 'none installed'} "
        "refused; stats.auto_refused says why)"
    )
