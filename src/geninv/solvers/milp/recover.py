"""Recovering exact witnesses: snapping, projecting, fixing patterns, polishing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from geninv.budget import Budget
from geninv.exact import float_down as float_down  # re-exported (layerwise, approx, miqp)
from geninv.exact import float_up as float_up
from geninv.network import FloatArray
from geninv.problem import ExactCheck, InversionProblem
from geninv.solvers.milp.build import _Milp, _Setup
from geninv.solvers.milp.common import PROJECT_MAX_WORK
from geninv.solvers.milp.highs import _Run


# ------------------------------------------------------------------ polishing
def _key(chk: ExactCheck) -> Fraction:
    return chk.distance_pow if chk.distance_pow is not None else Fraction(chk.distance)


@dataclass
class _Best:
    z: list[Fraction] | None = None
    check: ExactCheck | None = None
    tried: int = 0
    seen: set[tuple[Fraction, ...]] = field(default_factory=set)

    def offer(self, problem: InversionProblem, z: list[Fraction]) -> bool:
        """Exact-check ``z``; keep it when better.  True when it meets the threshold."""
        key = tuple(z)
        if key in self.seen:
            return False
        self.seen.add(key)
        chk = problem.exact_check(z)
        self.tried += 1
        if not chk.in_domain:
            return False
        better = self.check is None or (
            (chk.meets and not self.check.meets)
            or (chk.meets == self.check.meets and _key(chk) < _key(self.check))
        )
        if better:
            self.z, self.check = z, chk
        return chk.meets


def _clip(v: Fraction, lo: Fraction, hi: Fraction) -> Fraction:
    return min(max(v, lo), hi)


def _round_to(v: float, digits: int) -> Fraction:
    scale = 10**digits
    return Fraction(round(Fraction(v) * scale), scale)


def _continuous_candidates(
    setup: _Setup, zf: FloatArray, project: bool
) -> Iterator[list[Fraction]]:
    lo, hi = setup.lo, setup.hi
    n = len(lo)
    for digits in (0, 1, 2, 3, 4, 6, 8):
        yield [_clip(_round_to(float(zf[i]), digits), lo[i], hi[i]) for i in range(n)]
    raw = [_clip(Fraction(float(zf[i])), lo[i], hi[i]) for i in range(n)]
    yield raw
    snapped = []
    for i in range(n):
        tol_i = 1e-6 * (1.0 + abs(float(zf[i])))
        if abs(float(zf[i]) - float(lo[i])) <= tol_i:
            snapped.append(lo[i])
        elif abs(float(zf[i]) - float(hi[i])) <= tol_i:
            snapped.append(hi[i])
        else:
            snapped.append(raw[i])
    yield snapped
    if not project or setup.project_work > PROJECT_MAX_WORK:
        return
    for eps in (1e-9, 1e-7, 1e-5):
        proj = _project(setup, zf, eps)
        if proj is not None:
            yield [_clip(v, lo[i], hi[i]) for i, v in enumerate(proj)]


_Form = tuple[list[Fraction], Fraction] | None  # affine form coeffs . z + const; None = 0


def _project(setup: _Setup, zf: FloatArray, eps: float) -> list[Fraction] | None:
    """Exact projection of ``zf`` onto the constraints tight there (module docstring)."""
    problem = setup.problem
    net = problem.network
    n = problem.n
    lo, hi = setup.lo, setup.hi
    z0 = [_clip(Fraction(float(v)), lo[i], hi[i]) for i, v in enumerate(zf)]
    zc = np.array([float(v) for v in z0], dtype=np.float64)
    eqs: list[tuple[list[Fraction], Fraction]] = []
    zero = Fraction(0)

    def unit(i: int) -> list[Fraction]:
        return [Fraction(1) if k == i else zero for k in range(n)]

    for i in range(n):
        tol_i = eps * (1.0 + abs(float(zc[i])))
        if abs(float(zc[i]) - float(lo[i])) <= tol_i:
            eqs.append((unit(i), lo[i]))
        elif abs(float(zc[i]) - float(hi[i])) <= tol_i:
            eqs.append((unit(i), hi[i]))
    forms: list[_Form] = [(unit(i), zero) for i in range(n)]
    hf = zc
    mag = np.abs(zc)
    for layer in net.layers:
        af = layer.weight @ hf + layer.bias
        amag = np.abs(layer.weight) @ mag + np.abs(layer.bias)
        new_forms: list[_Form] = []
        for j, ((idx, coef), bj) in enumerate(
            zip(layer.exact_rows(), layer.exact_bias_values(), strict=True)
        ):
            vec = [zero] * n
            const = bj
            for k, c in zip(idx, coef, strict=True):
                fk = forms[k]
                if fk is None:
                    continue
                fv, fc = fk
                const += c * fc
                for i in range(n):
                    if fv[i]:
                        vec[i] += c * fv[i]
            if layer.activation == "relu":
                if abs(float(af[j])) <= eps * (1.0 + float(amag[j])):
                    eqs.append((vec, -const))
                    new_forms.append(None)
                elif af[j] > 0:
                    new_forms.append((vec, const))
                else:
                    new_forms.append(None)
            else:
                new_forms.append((vec, const))
        forms = new_forms
        hf = np.maximum(af, 0.0) if layer.activation == "relu" else af
        mag = amag
    x = problem.target
    delta = setup.delta
    out_scale = eps * (1.0 + float(np.max(mag, initial=0.0)) + float(delta))
    if problem.is_exact_inversion:
        for j, form in enumerate(forms):
            if form is None:
                if x[j] != 0:
                    return None
            else:
                eqs.append((form[0], x[j] - form[1]))
    elif setup.norm == "inf":
        for j, form in enumerate(forms):
            res = float(hf[j]) - float(x[j])
            if form is not None and abs(res) >= float(delta) - out_scale:
                s = 1 if res >= 0 else -1
                eqs.append((form[0], x[j] + s * delta - form[1]))
    else:
        total_vec = [zero] * n
        total_const = zero
        total = 0.0
        for j, form in enumerate(forms):
            res = float(hf[j]) - float(x[j])
            total += abs(res)
            if form is None:
                total_const += abs(x[j])
            elif abs(res) <= out_scale:
                eqs.append((form[0], x[j] - form[1]))
            else:
                s = 1 if res > 0 else -1
                total_const += s * (form[1] - x[j])
                for i in range(n):
                    total_vec[i] += s * form[0][i]
        if total >= float(delta) - out_scale and any(total_vec):
            eqs.append((total_vec, delta - total_const))
    if not eqs:
        return None
    return _solve_fixing(eqs, z0)


def _solve_fixing(
    eqs: list[tuple[list[Fraction], Fraction]], z0: list[Fraction]
) -> list[Fraction] | None:
    """A solution of the equations; coordinates that are not pivots keep their ``z0`` value."""
    n = len(z0)
    pivots: list[tuple[list[Fraction], int]] = []  # (row with rhs at index n, pivot column)
    for vec, rhs in eqs:
        row = [*vec, rhs]
        for prow, pc in pivots:
            f = row[pc]
            if f:
                row = [a - f * b for a, b in zip(row, prow, strict=True)]
        col = max(range(n), key=lambda i: abs(row[i]))
        if row[col] == 0:
            if row[n] != 0:
                return None  # inconsistent
            continue
        p = row[col]
        row = [a / p for a in row]
        new_pivots = []
        for prow, pc in pivots:
            f = prow[col]
            if f:
                prow = [a - f * b for a, b in zip(prow, row, strict=True)]
            new_pivots.append((prow, pc))
        pivots = [*new_pivots, (row, col)]
    z = list(z0)
    pivot_cols = {pc for _, pc in pivots}
    for prow, pc in pivots:
        z[pc] = prow[n] - sum(
            (prow[i] * z0[i] for i in range(n) if i not in pivot_cols and prow[i]), Fraction(0)
        )
    return z


def _polish(
    setup: _Setup, milp: _Milp, run: _Run, best: _Best, stop_on_meet: bool, clock: Budget
) -> None:
    """Exact-check polished versions of HiGHS's points (module docstring).

    Only the incumbent gets the (costlier) exact projection; after the time
    limit, only each point's first candidate is checked.
    """
    problem = setup.problem
    kind = problem.domain.kind
    zcols = milp.enc.z
    for index, sol in enumerate(run.solutions):
        zf = sol[zcols]
        if kind in ("binary", "sign"):
            a, b = problem.domain.corner_values()
            mid = (a + b) / 2
            cands: Iterable[list[Fraction]] = [
                [Fraction(b) if float(v) >= mid else Fraction(a) for v in zf]
            ]
        else:
            cands = _continuous_candidates(setup, zf, project=index == 0)
        for k, z in enumerate(cands):
            if k > 0 and clock.expired():
                break
            if best.offer(problem, z) and stop_on_meet:
                return
