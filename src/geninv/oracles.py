"""Independent oracles for source problems (used to record expected answers and in tests)."""

from __future__ import annotations

import threading
from typing import Any

from pysat.solvers import Solver


def sat_oracle(cnf: Any, time_limit: float | None = None, solver: str | None = None) -> bool | None:
    """Satisfiability of a CNF by PySAT; None when the time limit interrupts it.

    Without a time limit the default solver is CaDiCaL 1.5.3; with one it is
    Glucose 4 (PySAT's CaDiCaL bindings cannot be interrupted).

    ``cnf`` needs ``clauses`` (tuples of DIMACS literals).  An empty clause
    makes the formula unsatisfiable without asking the solver (PySAT rejects
    empty clauses in some back ends).
    """
    if any(len(c) == 0 for c in cnf.clauses):
        return False
    name = solver or ("cadical153" if time_limit is None else "glucose4")
    with Solver(name=name, bootstrap_with=[list(c) for c in cnf.clauses]) as s:
        if time_limit is None:
            return bool(s.solve())
        timer = threading.Timer(time_limit, s.interrupt)
        timer.start()
        try:
            res = s.solve_limited(expect_interrupt=True)
        finally:
            timer.cancel()
        return None if res is None else bool(res)


def sat_model(cnf: Any, solver: str = "cadical153") -> list[bool] | None:
    """A satisfying assignment (variable i+1 -> entry i), or None if unsatisfiable."""
    if any(len(c) == 0 for c in cnf.clauses):
        return None
    with Solver(name=solver, bootstrap_with=[list(c) for c in cnf.clauses]) as s:
        if not s.solve():
            return None
        model = set(s.get_model() or [])
        return [(i + 1) in model for i in range(cnf.n_vars)]


# ---------------------------------------------------------------------------
# Oracles for the lattice and graph source problems (CVP over {0,1}^n, k-clique,
# vertex cover).  They are deliberately independent of the reductions: plain
# exhaustive search or branch and bound on the source problem, exact in
# rationals wherever the question is rational.

import math  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from decimal import Decimal, localcontext  # noqa: E402
from fractions import Fraction  # noqa: E402

import numpy as np  # noqa: E402

from geninv.errors import UnsupportedError, ValidationError  # noqa: E402
from geninv.io.graphs import Graph  # noqa: E402

#: Largest ``n`` for which the {0,1}^n brute force is attempted (2^30 points).
CVP01_MAX_N = 30
_RELATIONS = ("<=", "<")
_DECIMAL_DIGITS = 60
_CHUNK = 1 << 14


def _check_relation(relation: str) -> None:
    if relation not in _RELATIONS:
        raise ValidationError(f"relation must be '<=' or '<', got {relation!r}")


def _holds(a: Fraction | int, relation: str, b: Fraction | int) -> bool:
    return a <= b if relation == "<=" else a < b


def _norm_kind(p: float) -> int | None:
    """The exponent for an integer p, None for p = inf, 0 for any other p >= 1."""
    if isinstance(p, bool) or not isinstance(p, (int, float, Fraction)):
        raise ValidationError(f"p must be a number >= 1 or math.inf, got {p!r}")
    pf = float(p)
    if math.isnan(pf) or pf < 1:
        raise ValidationError(f"p must be >= 1 (or math.inf), got {p!r}")
    if math.isinf(pf):
        return None
    return int(pf) if pf.is_integer() else 0  # 0: a non-integer p


def _scaled_cvp01(
    basis: Sequence[Sequence[Fraction | int]], target: Sequence[Fraction | int]
) -> tuple[list[list[int]], list[int], int]:
    """Integer basis and target after multiplying by the lcm L of all denominators."""
    vectors = [[Fraction(x) for x in vec] for vec in basis]
    t = [Fraction(x) for x in target]
    d = len(t)
    for i, vec in enumerate(vectors):
        if len(vec) != d:
            raise ValidationError(
                f"basis vector {i} has {len(vec)} entries but the target has {d} "
                "(expected every basis vector to have the target's dimension)"
            )
    if len(vectors) > CVP01_MAX_N:
        raise UnsupportedError(
            f"{len(vectors)} basis vectors: the {{0,1}}^n brute force is limited to "
            f"n <= {CVP01_MAX_N}"
        )
    scale = 1
    for x in (*t, *(x for vec in vectors for x in vec)):
        scale = math.lcm(scale, x.denominator)
    ints = [[int(x * scale) for x in vec] for vec in vectors]
    return ints, [int(x * scale) for x in t], scale


def _cvp01_values_numpy(
    basis: list[list[int]], target: list[int], k: int | None, scale: int, p: float
) -> Iterator[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """(masks, values) chunks over all y in {0,1}^n; int64/float64 arithmetic."""
    n = len(basis)
    b = np.array(basis, dtype=np.int64).reshape(n, len(target))
    t = np.array(target, dtype=np.int64)
    shifts = np.arange(n, dtype=np.int64)
    for start in range(0, 1 << n, _CHUNK):
        masks = np.arange(start, min(start + _CHUNK, 1 << n), dtype=np.int64)
        ys = (masks[:, None] >> shifts) & 1
        diff = np.abs(ys @ b - t)
        if k is None:
            values = diff.max(axis=1, initial=0)
        elif k > 0:
            values = (diff**k).sum(axis=1)
        else:
            values = ((diff / float(scale)) ** p).sum(axis=1)
        yield masks, values


def _cvp01_values_python(
    basis: list[list[int]], target: list[int], k: int | None, scale: int, p: float
) -> Iterator[tuple[int, int | float]]:
    """(mask, value) over all y in {0,1}^n in Gray-code order, exact integers for integer p."""
    n = len(basis)
    cur = [-x for x in target]
    mask = 0
    for step in range(1 << n):
        if step:
            i = (step & -step).bit_length() - 1
            mask ^= 1 << i
            sign = 1 if mask >> i & 1 else -1
            cur = [c + sign * x for c, x in zip(cur, basis[i], strict=True)]
        value: int | float
        if k is None:
            value = max((abs(c) for c in cur), default=0)
        elif k > 0:
            value = sum(abs(c) ** k for c in cur)
        else:
            value = math.fsum((abs(c) / scale) ** p for c in cur)
        yield mask, value


def _numpy_safe(basis: list[list[int]], target: list[int], k: int | None, scale: int) -> bool:
    """True when int64 (and float64) arithmetic cannot overflow on this instance."""
    if scale >= 1 << 62:
        return False
    bound = sum(max((abs(x) for x in vec), default=0) for vec in basis)
    bound += max((abs(x) for x in target), default=0)
    limit = 1 << 62
    if bound >= limit:
        return False
    if k is not None and k > 0:
        return bool(max(len(target), 1) * bound**k < limit)
    return True


def _cvp01_extreme(
    basis: list[list[int]],
    target: list[int],
    k: int | None,
    scale: int,
    p: float,
    use_numpy: bool | None = None,
) -> tuple[int | float, int]:
    """(minimum scaled value, mask of a minimiser) over y in {0,1}^n."""
    if use_numpy is None:
        use_numpy = _numpy_safe(basis, target, k, scale)
    best: int | float | None = None
    best_mask = 0
    if use_numpy:
        for masks, values in _cvp01_values_numpy(basis, target, k, scale, p):
            j = int(np.argmin(values))
            value = values[j].item()
            if best is None or value < best:
                best, best_mask = value, int(masks[j])
    else:
        for mask, value in _cvp01_values_python(basis, target, k, scale, p):
            if best is None or value < best:
                best, best_mask = value, mask
    assert best is not None
    return best, best_mask


def _mask_to_y(mask: int, n: int) -> list[int]:
    return [mask >> i & 1 for i in range(n)]


def cvp01_min_distance_pow(
    basis: Sequence[Sequence[Fraction | int]], target: Sequence[Fraction | int], p: float
) -> Fraction | float:
    """min over y in {0,1}^n of ||B y - t||_p^p by exhaustive search (n <= 30).

    ``basis`` holds the ``n`` basis vectors (the columns of ``B``), each of the
    target's dimension.  Exact for integer p (the exact p-th power) and for
    p = inf (then the distance itself, max_j |(B y - t)_j|); for any other
    p >= 1 the float sum of |(B y - t)_j|^p.
    """
    k = _norm_kind(p)
    ints, t, scale = _scaled_cvp01(basis, target)
    best, _ = _cvp01_extreme(ints, t, k, scale, float(p))
    if k is None:
        return Fraction(int(best), scale)
    if k > 0:
        return Fraction(int(best), scale**k)
    return float(best)


def _decimal_pow_sum(diff: Sequence[int], scale: int, p: float) -> Decimal:
    dp = Decimal(repr(float(p)))
    return sum(((Decimal(abs(c)) / Decimal(scale)) ** dp for c in diff if c != 0), Decimal(0))


def cvp01_decide(
    basis: Sequence[Sequence[Fraction | int]],
    target: Sequence[Fraction | int],
    p: float,
    radius: Fraction | int | None = None,
    radius_pow: Fraction | int | None = None,
    relation: str = "<=",
) -> tuple[bool, list[int] | None]:
    """Is there y in {0,1}^n with ||B y - t||_p (relation) r?  Returns (answer, witness y).

    Give exactly one of ``radius`` (r >= 0) and ``radius_pow`` (r^p >= 0, only
    for an integer p).  Exact for integer p and p = inf; for other p the
    candidates found in float arithmetic are confirmed with 60-digit decimal
    arithmetic.  The witness is a minimiser of the distance when the answer is
    yes, else None.
    """
    _check_relation(relation)
    k = _norm_kind(p)
    if (radius is None) == (radius_pow is None):
        raise ValidationError("give exactly one of radius and radius_pow")
    raw = radius if radius is not None else radius_pow
    assert raw is not None
    bound = Fraction(raw)
    if bound < 0:
        raise ValidationError(f"{'radius' if radius is not None else 'radius_pow'} must be >= 0")
    if radius_pow is not None and (k is None or k == 0):
        raise ValidationError(f"radius_pow needs an integer p, got p = {p}")
    ints, t, scale = _scaled_cvp01(basis, target)
    n = len(ints)
    if k is not None and k > 0:
        best, mask = _cvp01_extreme(ints, t, k, scale, float(p))
        threshold = bound if radius_pow is not None else bound**k
        ok = _holds(Fraction(int(best), scale**k), relation, threshold)
        return (True, _mask_to_y(mask, n)) if ok else (False, None)
    if k is None:
        best, mask = _cvp01_extreme(ints, t, None, scale, math.inf)
        ok = _holds(Fraction(int(best), scale), relation, bound)
        return (True, _mask_to_y(mask, n)) if ok else (False, None)
    # non-integer p: float screening, then decimal confirmation of the near candidates
    pf = float(p)
    with localcontext() as ctx:
        ctx.prec = _DECIMAL_DIGITS
        thr_dec = (
            Decimal(bound.numerator) / Decimal(bound.denominator)
            if bound == 0
            else (Decimal(bound.numerator) / Decimal(bound.denominator)) ** Decimal(repr(pf))
        )
        thr_float = float(thr_dec)
        cutoff = thr_float * (1 + 1e-9) + 1e-300
        candidates: list[tuple[float, int]] = []
        if _numpy_safe(ints, t, 0, scale):
            for masks, values in _cvp01_values_numpy(ints, t, 0, scale, pf):
                keep = values <= cutoff
                candidates.extend(zip(values[keep].tolist(), masks[keep].tolist(), strict=True))
        else:
            for mask, value in _cvp01_values_python(ints, t, 0, scale, pf):
                if value <= cutoff:
                    candidates.append((float(value), mask))
        candidates.sort()
        for _, mask in candidates:
            y = _mask_to_y(mask, n)
            diff = [sum(ints[i][j] for i in range(n) if y[i]) - t[j] for j in range(len(t))]
            total = _decimal_pow_sum(diff, scale, pf)
            if total <= thr_dec if relation == "<=" else total < thr_dec:
                return True, y
    return False, None


def _neighbour_masks(graph: Graph) -> list[int]:
    masks = [0] * graph.n
    for u, v in graph.edges:
        masks[u] |= 1 << v
        masks[v] |= 1 << u
    return masks


def min_weight_k_clique(graph: Graph, k: int) -> tuple[Fraction, list[int]] | None:
    """Minimum total edge weight of a k-clique, with one such clique (sorted); None if none.

    Unweighted graphs weigh every edge 1 (so any k-clique weighs k(k-1)/2).
    k = 0 gives (0, []) and k = 1 gives (0, [0]) when the graph has a vertex.
    Exhaustive search with pruning (weights are positive), exact in rationals.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValidationError(f"k must be a non-negative int, got {k!r}")
    n = graph.n
    if k == 0:
        return Fraction(0), []
    if k > n:
        return None
    if k == 1:
        return Fraction(0), [0]
    nbrs = _neighbour_masks(graph)
    eligible = [v for v in range(n) if nbrs[v].bit_count() >= k - 1]
    weighted = graph.weights is not None
    scale = 1
    wint: dict[tuple[int, int], int] = {}
    if graph.weights is not None:
        for w in graph.weights:
            scale = math.lcm(scale, w.denominator)
        wint = {e: int(w * scale) for e, w in zip(graph.edges, graph.weights, strict=True)}
    best: list[int] | None = None
    best_weight = 0

    def extend(clique: list[int], cand: int, weight: int) -> bool:
        """Depth-first search; True once an unweighted k-clique is found (stop)."""
        nonlocal best, best_weight
        if len(clique) == k:
            if best is None or weight < best_weight:
                best, best_weight = list(clique), weight
            return not weighted
        if cand.bit_count() < k - len(clique):
            return False
        if weighted and best is not None and weight >= best_weight:
            return False
        while cand:
            low = cand & -cand
            v = low.bit_length() - 1
            cand ^= low
            if cand.bit_count() + 1 < k - len(clique):
                return False
            add = sum(wint[(u, v)] for u in clique) if weighted else 0
            clique.append(v)
            done = extend(clique, cand & nbrs[v], weight + add)
            clique.pop()
            if done:
                return True
        return False

    for v in eligible:
        higher = nbrs[v] & ~((1 << (v + 1)) - 1)
        if extend([v], higher, 0):
            break
    if best is None:
        return None
    if not weighted:
        return Fraction(k * (k - 1) // 2), best
    return Fraction(best_weight, scale), best


def clique_decide(
    graph: Graph, k: int, max_weight: Fraction | int, relation: str = "<="
) -> tuple[bool, list[int] | None]:
    """Is there a k-clique of total edge weight (relation) max_weight?  (answer, clique)."""
    _check_relation(relation)
    found = min_weight_k_clique(graph, k)
    if found is None or not _holds(found[0], relation, Fraction(max_weight)):
        return False, None
    return True, found[1]


def _maximum_independent_set(graph: Graph) -> int:
    """Bit mask of a maximum independent set: branch and bound with exact reductions.

    Vertices of degree 0 or 1 are always taken (some maximum independent set
    contains them); a remainder of maximum degree 2 is a union of cycles and is
    solved directly; otherwise branch on a vertex of maximum degree (take it
    and drop its neighbours, or drop it), pruning when the vertices left
    cannot beat the best set found.
    """
    nbrs = _neighbour_masks(graph)
    best_mask = 0
    best_size = -1

    def cycles(cand: int) -> int:
        """A maximum independent set of a graph whose vertices all have degree 2."""
        chosen = 0
        while cand:
            start = (cand & -cand).bit_length() - 1
            order = [start]
            prev, cur = -1, start
            while True:
                nb = nbrs[cur] & cand
                nxt = -1
                while nb:
                    low = nb & -nb
                    w = low.bit_length() - 1
                    nb ^= low
                    if w != prev:
                        nxt = w
                        break
                if nxt == start or nxt < 0:
                    break
                order.append(nxt)
                prev, cur = cur, nxt
            for v in order[0 : 2 * (len(order) // 2) : 2]:
                chosen |= 1 << v
            for v in order:
                cand &= ~(1 << v)
        return chosen

    def search(cand: int, chosen: int, size: int) -> None:
        nonlocal best_mask, best_size
        changed = True
        while changed:
            changed = False
            rest = cand
            while rest:
                low = rest & -rest
                v = low.bit_length() - 1
                rest ^= low
                if not cand & low:
                    continue
                nb = nbrs[v] & cand
                degree = nb.bit_count()
                if degree <= 1:
                    chosen |= low
                    size += 1
                    cand &= ~(low | nb)
                    changed = changed or degree == 1
        if size + cand.bit_count() <= best_size:
            return
        if not cand:
            best_mask, best_size = chosen, size
            return
        pivot, pivot_degree = -1, -1
        rest = cand
        while rest:
            low = rest & -rest
            v = low.bit_length() - 1
            rest ^= low
            degree = (nbrs[v] & cand).bit_count()
            if degree > pivot_degree:
                pivot, pivot_degree = v, degree
        if pivot_degree <= 2:
            extra = cycles(cand)
            if size + extra.bit_count() > best_size:
                best_mask, best_size = chosen | extra, size + extra.bit_count()
            return
        bit = 1 << pivot
        search(cand & ~(bit | nbrs[pivot]), chosen | bit, size + 1)
        search(cand & ~bit, chosen, size)

    search((1 << graph.n) - 1, 0, 0)
    return best_mask


def _minimum_vertex_cover(graph: Graph) -> list[int]:
    independent = _maximum_independent_set(graph)
    return [v for v in range(graph.n) if not independent >> v & 1]


def min_vertex_cover_size(graph: Graph) -> int:
    """Size of a minimum vertex cover, exactly (n minus a maximum independent set).

    Branch and bound; exponential in the worst case, instant for the small
    benchmark graphs (tens of vertices).
    """
    return len(_minimum_vertex_cover(graph))


def vertex_cover_decide(graph: Graph, q: int) -> tuple[bool, list[int] | None]:
    """Is there a vertex cover of size <= q?  Returns (answer, a minimum cover or None)."""
    if isinstance(q, bool) or not isinstance(q, int):
        raise ValidationError(f"q must be an int, got {q!r}")
    cover = _minimum_vertex_cover(graph)
    if len(cover) <= q:
        return True, cover
    return False, None
