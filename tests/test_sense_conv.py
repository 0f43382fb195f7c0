"""``geninv sense --conv-digits K``: the bundled convolutional MNIST generator on its
held-out digits, with the measurement operators (issue 17, item 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geninv.errors import ValidationError
from geninv.io.instance import load_instance
from geninv.models import load_conv_test_images
from geninv.workflows import recovery

from .test_cli import assert_one_line_error, run

FAST = ["--option", "steps=40", "--option", "restarts=1", "--option", "dtype=float32"]


def _mean(out: str, key: str) -> float:
    line = next(ln for ln in out.splitlines() if ln.startswith("mean per-pixel error"))
    return float(line.split(f"{key} ", 1)[1].split(",")[0].split(" ")[0])


def _trivial(out: str) -> float:
    line = next(ln for ln in out.splitlines() if ln.startswith("trivial estimate"))
    return float(line.rsplit("error ", 1)[1])


def test_sense_conv_digits_inpaint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png, inst = tmp_path / "panel.png", tmp_path / "inst"
    argv = ["sense", "--conv-digits", "1", "--operator", "inpaint", "--missing", "0.5", *FAST]
    code, out, err = run(capsys, *argv, "--png", str(png), "-o", str(inst))
    assert code == 0, err
    assert "operator: inpaint: 392 of 784 pixels missing (50%)" in out
    assert "image 0: adam" in out and "image 1" not in out
    # the generator prior fills the missing half of a digit it never saw
    assert _mean(out, "geninv") < 0.5 * _trivial(out)
    assert png.stat().st_size > 1000
    problem = load_instance(inst)
    assert problem.network.n_outputs == 392 and problem.network.n_inputs == 20
    assert problem.network.is_structured  # the convolutions stayed convolutions
    params = problem.source.parameters
    assert params["operator"]["kind"] == "inpaint" and params["signal_dim"] == 784


def test_sense_conv_digits_superres(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sense", "--conv-digits", "1", "--operator", "superres", "--factor", "2", *FAST]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "operator: superres: 2x2 block means (196 of 784)" in out
    assert _mean(out, "geninv") < 0.05


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--digits", "1", "--conv-digits", "1"], ["not both"]),
        (["--conv-digits", "0"], ["--conv-digits 0", "1 to 300"]),
        (["--conv-digits", "301"], ["--conv-digits 301", "1 to 300"]),
        (["--conv-digits", "1", "--y", "y.npy"], ["--conv-digits", "no --network"]),
        (
            ["--conv-digits", "1", "--measurements", "10", "--operator", "inpaint"],
            ["--measurements"],
        ),
    ],
)
def test_sense_conv_digits_refusals(
    argv: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "sense", *argv)
    assert_one_line_error(code, err, *needles)


def test_round_robin_by_label() -> None:
    labels = np.array([2, 0, 0, 1, 2, 2, 0])
    order = recovery.round_robin_by_label(labels)
    assert sorted(order.tolist()) == list(range(len(labels)))
    assert labels[order].tolist() == [0, 1, 2, 0, 2, 0, 2]
    assert order.tolist() == [1, 3, 0, 2, 4, 6, 5]  # stable within a label


def test_bundled_conv_digits_are_the_held_out_images_a_digit_of_each_label_first() -> None:
    images, labels = load_conv_test_images()
    gen, first = recovery.bundled_digits("conv-digits", 12)
    order = recovery.round_robin_by_label(labels)
    assert labels[order[:12]].tolist() == [*range(10), 0, 1]
    assert np.array_equal(first, images[order[:12]])
    assert gen.n_outputs == first.shape[1] == 784
    gen8, digits = recovery.bundled_digits("digits", 3)  # the 8x8 ones, as before
    assert gen8.n_outputs == digits.shape[1] == 64 and len(digits) == 3
    with pytest.raises(ValidationError, match="expected one of digits, conv-digits"):
        recovery.bundled_digits("faces", 1)
