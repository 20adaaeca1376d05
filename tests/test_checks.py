"""The argument checks name the parameter, the value given and what is allowed, in one wording."""

import math

import numpy as np
import pytest

from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_range,
)


def message(call, *args, **kwargs) -> str:
    with pytest.raises(InvalidArgumentError) as info:
        call(*args, **kwargs)
    assert info.value.code == "invalid_argument"
    return str(info.value)


def test_positive_message_names_parameter_value_and_allowed() -> None:
    assert (
        message(check_positive, "fs_hz", -1, "Hz")
        == "fs_hz must be a finite positive number (Hz), got -1"
    )
    text = message(check_positive, "fs_hz", 0.0)
    assert text == "fs_hz must be a finite positive number, got 0.0"


def test_positive_returns_float() -> None:
    assert check_positive("fs_hz", 100) == 100.0
    assert isinstance(check_positive("fs_hz", np.int64(3)), float)
    assert check_positive("speed", math.inf, allow_inf=True) == math.inf


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, True, "100", None, [1.0]])
def test_positive_refuses_non_numbers(bad: object) -> None:
    text = message(check_positive, "fs_hz", bad)
    assert text.startswith("fs_hz must be a finite positive number, got ")
    assert text.endswith(repr(bad) if not isinstance(bad, float) else repr(float(bad)))


def test_numpy_scalar_shown_plainly() -> None:
    assert message(check_finite, "x", np.float64("nan")).endswith("got nan")
    assert message(check_positive, "x", np.float64(-2.5)).endswith("got -2.5")


def test_nonnegative() -> None:
    assert check_nonnegative("delay_s", 0) == 0.0
    assert message(check_nonnegative, "delay_s", -0.5, "s") == (
        "delay_s must be a finite number >= 0 (s), got -0.5"
    )


def test_range_inclusive_and_exclusive_ends() -> None:
    assert check_range("alpha", 1.0, 0.0, 1.0) == 1.0
    assert message(check_range, "alpha", 1.0, 0.0, 1.0, inclusive=(False, False)) == (
        "alpha must be a number in (0.0, 1.0), got 1.0"
    )
    assert message(check_range, "cutoff_hz", 60, 0, 50, "Hz") == (
        "cutoff_hz must be a number in [0, 50] (Hz), got 60"
    )
    assert "got nan" in message(check_range, "alpha", math.nan, 0.0, 1.0)


def test_int() -> None:
    assert check_int("n", np.int32(4), minimum=1) == 4
    assert message(check_int, "n", 0, minimum=1) == "n must be an integer >= 1, got 0"
    assert message(check_int, "n", 2.0, minimum=1) == "n must be an integer >= 1, got 2.0"
    assert message(check_int, "n", True) == "n must be an integer, got True"
    assert message(check_int, "n", 9, 0, 8) == "n must be an integer in [0, 8], got 9"


def test_choice() -> None:
    assert check_choice("method", "ekf", ("ekf", "madgwick")) == "ekf"
    assert message(check_choice, "method", "kalman", ("ekf", "madgwick")) == (
        "method must be one of 'ekf', 'madgwick', got 'kalman'"
    )
