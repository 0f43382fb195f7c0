"""Checking a benchmark release (``geninv lab check-release DIR``).

For every row of ``instances.csv`` and its ``ground_truth.csv`` line:

1. **geninv.**  The pair is read the way ``geninv solve --onnx X --vnnlib Y`` reads it
   (:func:`geninv.workflows.load_vnncomp`: the ONNX network, the property's box and
   output bounds, compared with onnxruntime at random points of the box) and decided
   with :func:`geninv.workflows.solve`.  geninv's answer must equal the ground truth
   or be *unknown*; the opposite answer is a **contradiction**.
2. **Witness.**  Where the ground truth is *sat* and a witness is released, the
   witness must lie in the property's input box and meet the property in exact
   arithmetic (geninv's exact check of the pair read back), and **onnxruntime**'s
   output at its nearest floats must satisfy every output bound of the ``.vnnlib``
   within ``tol * (1 + |bound|)``.
3. **Agreement.**  At ``points`` seeded random points of the input box, onnxruntime's
   output and geninv's own float evaluation of the released instance (``geninv/NAME``,
   the exact network) differ by at most ``tol * (1 + |output|)``.

The check passes when there is no contradiction, every witness holds and every
comparison agrees; unknown answers are counted, not failures.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from geninv.errors import GeninvError, UnsupportedError, ValidationError


@dataclass
class ReleaseCheck:
    """Figures of a release check (``failures`` lists every problem found)."""

    instances: int = 0
    truth: dict[str, int] = field(default_factory=dict)
    agree: int = 0
    unknown: int = 0
    contradictions: int = 0
    witnesses: int = 0
    witnesses_ok: int = 0
    points: int = 0
    max_rel_diff: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    by_family: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No contradiction, every witness held, every comparison agreed."""
        return not self.failures


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot read ({exc}); expected a release's CSV") from None


def _session(onnx_path: Path) -> tuple[Any, str, Any]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UnsupportedError(
            "geninv lab check-release evaluates the networks with onnxruntime, which is not "
            "installed (pip install onnxruntime)"
        ) from None

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = np.float32 if "float)" in inp.type and "double" not in inp.type else np.float64
    return sess, inp.name, dtype


def _ort(sess: tuple[Any, str, Any], z: np.ndarray) -> np.ndarray:
    s, name, dtype = sess
    out = s.run(None, {name: np.asarray(z, dtype=dtype).reshape(1, -1)})[0]
    return np.asarray(out, dtype=np.float64).reshape(-1)


def _bounds_hold(prop: Any, y: np.ndarray, tol: float) -> str | None:
    for j, v in enumerate(y):
        lo, hi = prop.output_lower[j], prop.output_upper[j]
        if lo is not None and v < float(lo) - tol * (1 + abs(float(lo))):
            return f"Y_{j} = {v:.17g} < {float(lo):.17g}"
        if hi is not None and v > float(hi) + tol * (1 + abs(float(hi))):
            return f"Y_{j} = {v:.17g} > {float(hi):.17g}"
    return None


def check_release(
    directory: str | Path,
    *,
    method: str = "auto",
    time_limit: float | None = None,
    points: int = 3,
    tol: float = 1e-6,
    seed: int = 0,
) -> ReleaseCheck:
    """Check the release folder ``directory`` (see the module docstring).  geninv's
    time limit per instance is ``time_limit`` or, when None, the instance's timeout."""
    import json

    from geninv.io.instance import load_instance
    from geninv.io.vnnlib import read_vnnlib
    from geninv.workflows import load_vnncomp, solve

    root = Path(directory)
    if not (root / "instances.csv").is_file() or not (root / "ground_truth.csv").is_file():
        raise ValidationError(
            f"{directory}: not a geninv lab release (expected instances.csv and "
            "ground_truth.csv); write one with geninv lab export"
        )
    header, *truth_rows = _read_csv(root / "ground_truth.csv") or [[]]
    need = {"instance", "onnx", "vnnlib", "answer", "witness", "family"}
    if not need <= set(header) or any(len(r) != len(header) for r in truth_rows):
        raise ValidationError(
            f"{root / 'ground_truth.csv'}: expected a header with "
            f"{', '.join(sorted(need))} and one field per column in every row"
        )
    truths = {r[header.index("onnx")]: dict(zip(header, r, strict=True)) for r in truth_rows}
    rng = np.random.default_rng(seed)
    res = ReleaseCheck()
    t0 = time.perf_counter()
    for row in _read_csv(root / "instances.csv"):
        if len(row) != 3:
            raise ValidationError(f"{root / 'instances.csv'}: expected 3 fields a row, got {row}")
        onnx_rel, vnn_rel, timeout = row
        for part in (onnx_rel, vnn_rel):
            if Path(part).is_absolute() or ".." in Path(part).parts:
                raise ValidationError(
                    f"{root / 'instances.csv'}: {part!r}: expected a path inside the release"
                )
        try:
            limit = time_limit if time_limit is not None else float(timeout)
        except ValueError:
            raise ValidationError(
                f"{root / 'instances.csv'}: timeout {timeout!r}: expected seconds"
            ) from None
        t = truths.get(onnx_rel)
        if t is None:
            res.failures.append(f"{onnx_rel}: no ground_truth.csv line")
            continue
        name, answer = t["instance"], t["answer"]
        res.instances += 1
        res.truth[answer] = res.truth.get(answer, 0) + 1
        fam = res.by_family.setdefault(t["family"], {})
        onnx_path, vnn_path = root / onnx_rel, root / vnn_rel
        # 1. geninv, reading the pair as geninv solve --onnx --vnnlib does
        try:
            problem = load_vnncomp(str(onnx_path), str(vnn_path))
            sol = solve(problem, method, time_limit=limit, seed=seed)
            got = {"yes": "sat", "no": "unsat"}.get(sol.status.value, "unknown")
        except GeninvError as exc:
            res.failures.append(f"{name}: geninv could not read or solve the pair ({exc})")
            continue
        if got == "unknown":
            res.unknown += 1
        elif answer == "unknown" or got == answer:
            res.agree += 1
        else:
            res.contradictions += 1
            res.failures.append(f"{name}: geninv says {got}, ground truth {answer}")
        fam[got] = fam.get(got, 0) + 1
        prop = read_vnnlib(vnn_path)
        sess = _session(onnx_path)
        tl = tol if sess[2] is np.float64 else max(tol, 1e-4)  # float32 ONNX
        # 2. the released witness, exactly and through onnxruntime
        if t["witness"]:
            res.witnesses += 1
            try:
                doc = json.loads((root / t["witness"]).read_text(encoding="utf-8"))
                z = [Fraction(v) for v in doc["z"]]
                zf = np.array([float(v) for v in doc["z_float"]])
            except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
                res.failures.append(f"{name}: unreadable witness {t['witness']} ({exc})")
                continue
            inbox = all(
                lo <= v <= hi
                for v, lo, hi in zip(z, prop.input_lower, prop.input_upper, strict=True)
            )
            exact = problem.exact_check(z)
            bad = _bounds_hold(prop, _ort(sess, zf), tl)
            if inbox and exact.meets and bad is None:
                res.witnesses_ok += 1
            else:
                why = bad or ("outside the input box" if not inbox else exact.reason or "")
                res.failures.append(f"{name}: the released witness fails ({why})")
        # 3. onnxruntime vs geninv's own evaluation at random points of the box
        net = load_instance(root / "geninv" / name).network
        lo = np.array([float(v) for v in prop.input_lower])
        hi = np.array([float(v) for v in prop.input_upper])
        for _ in range(points):
            z = lo + (hi - lo) * rng.random(lo.size)
            a, b = _ort(sess, z), np.asarray(net.forward(z[None, :])[0], dtype=np.float64)
            rel = float(np.max(np.abs(a - b) / (1 + np.abs(b)))) if a.size else 0.0
            res.points += 1
            res.max_rel_diff = max(res.max_rel_diff, rel)
            if rel > tl:
                res.failures.append(f"{name}: onnxruntime and geninv differ by {rel:.3g}")
                break
    res.seconds = time.perf_counter() - t0
    return res
