"""The approximate backends' options: one checker (:func:`check_option`) behind
keyword-only dataclass fields (issue 16: the per-backend ``__init__`` copies are gone)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from geninv.errors import ValidationError
from geninv.solvers.approx.adam import AdamBackend
from geninv.solvers.approx.admm import AdmmBackend
from geninv.solvers.approx.backend import TorchBackend
from geninv.solvers.approx.common import Check, check_option
from geninv.solvers.approx.flipgd import FlipGdBackend
from geninv.solvers.approx.langevin import LangevinBackend
from geninv.solvers.approx.pgd import PgdBackend

BACKENDS: list[type[TorchBackend]] = [
    AdamBackend,
    PgdBackend,
    AdmmBackend,
    LangevinBackend,
    FlipGdBackend,
]
COMMON = {"restarts", "device", "dtype", "check_top", "check_every", "inf_p"}


@pytest.mark.parametrize(
    ("value", "check", "want"),
    [
        (3, Check("count"), 3),
        (0, Check("count0"), 0),
        (2, Check("number"), 2.0),
        (0, Check("number0"), 0.0),
        ("adam", Check("choice", ("adam", "momentum")), "adam"),
        ("cpu", Check("text"), "cpu"),
        (2.5, Check("number", at_least=2), 2.5),
    ],
)
def test_good_values_pass_converted(value: Any, check: Check, want: Any) -> None:
    got = check_option(value, "x", check)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(
    ("value", "check", "message"),
    [
        (0, Check("count"), "x: expected a finite value > 0, got 0"),
        (1.5, Check("count"), "x: expected an integer, got 1.5"),
        (True, Check("count0"), "x: expected an integer, got True"),
        (-1, Check("count0"), "x: expected a finite value >= 0, got -1"),
        (float("nan"), Check("number"), "x: expected a finite value > 0, got nan"),
        ("1", Check("number0"), "x: expected a number, got '1'"),
        ("sgd", Check("choice", ("adam", "momentum")), "x: expected one of adam, momentum"),
        (3, Check("text"), "x: expected a string, got 3"),
        (1.5, Check("number", at_least=2), "x: expected a value >= 2, got 1.5"),
    ],
)
def test_bad_values_name_the_option_and_the_expectation(
    value: Any, check: Check, message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        check_option(value, "x", check)


@pytest.mark.parametrize("cls", BACKENDS)
def test_every_backend_takes_the_common_options_by_keyword_only(cls: type[TorchBackend]) -> None:
    params = inspect.signature(cls.__init__).parameters  # what `geninv solve auto -o` reads
    assert set(params) >= COMMON
    assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name != "self")
    backend = cls(restarts=2, check_every=5)
    assert (backend.restarts, backend.check_every, backend.inf_p) == (2, 5, 16.0)
    with pytest.raises(TypeError):
        cls(nonsense=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="inf_p: expected a value >= 2"):
        cls(inf_p=1.5)


def test_method_options_keep_their_defaults_and_checks() -> None:
    assert AdamBackend().restarts == 10 and AdmmBackend().restarts == 3
    assert PgdBackend().inner_steps == 100 and PgdBackend(outer_steps=0).outer_steps == 0
    with pytest.raises(ValidationError, match=r"rho_factor: expected a value >= 1, got 0\.5"):
        AdmmBackend(rho_factor=0.5)
    with pytest.raises(ValidationError, match="inner_steps: expected a finite value > 0"):
        PgdBackend(inner_steps=0)
    with pytest.raises(ValidationError, match="sigma: expected a finite value >= 0"):
        AdmmBackend(sigma=-1.0)
    assert isinstance(LangevinBackend(beta=10).beta, float)
