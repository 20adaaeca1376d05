"""Quality checks and the Metric result type."""

from __future__ import annotations

import json

import numpy as np
import pytest

from balancelab.dsp import quality
from balancelab.dsp.results import per_second_unit, squared_unit
from balancelab.errors import InvalidArgumentError
from balancelab.model import Metric, QualityCode, make_flag


def test_every_code_has_a_message() -> None:
    for code in QualityCode:
        flag = make_flag(code, "detail")
        assert flag.message.endswith("(detail)") and len(flag.message) > 20
        assert flag.to_dict()["code"] == code.value


def test_saturation_at_int16_rails_and_symmetric_range() -> None:
    raw = np.array([0, 120, 32767, -32768, 32766, np.nan])
    assert quality.saturated_mask(raw, quality.INT16_RAILS).tolist() == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    flag = quality.detect_saturation(raw, quality.INT16_RAILS)
    assert flag is not None and flag.code == QualityCode.SATURATION and "2 of 6" in flag.message
    acc = np.array([0.0, 156.9, -156.9, 100.0])  # ±16 g in m/s^2
    assert quality.detect_saturation(acc, 156.9) is not None
    assert quality.detect_saturation(acc, 157.0) is None
    assert quality.detect_saturation(acc, 157.0, margin=0.2) is not None
    with pytest.raises(InvalidArgumentError, match="full_scale"):
        quality.detect_saturation(acc, (5.0, 1.0))


def test_gaps() -> None:
    t = [0.0, 0.01, 0.02, 0.25, 0.26, 0.5]
    assert quality.find_gaps(t, 0.1) == ((0.02, 0.25), (0.26, 0.5))
    flag = quality.detect_gaps(t, 0.1)
    assert flag is not None and "2 gap(s)" in flag.message
    assert quality.detect_gaps(t, 0.3) is None


def test_other_checks() -> None:
    assert quality.detect_nan([1.0, np.inf]) is not None
    assert quality.detect_nan([1.0, 2.0]) is None
    assert quality.detect_too_short(9.5, 10.0) is not None
    assert quality.detect_too_few_trials(2, 3) is not None
    still = np.zeros((300, 3)) + np.random.default_rng(0).normal(scale=0.01, size=(300, 3))
    assert quality.detect_not_still_at_start(still, 100.0, window_s=2.0, max_sd=0.05) is None
    still[50] = 1.0
    assert quality.detect_not_still_at_start(still, 100.0, window_s=2.0, max_sd=0.05) is not None


def test_metric_rules() -> None:
    flag = make_flag(QualityCode.TOO_SHORT)
    metric = Metric(1.5, "mm", "path_length", {"n": 10})
    assert metric.ok and metric.with_flags(None, flag).quality == (flag,)
    assert metric.with_settings(cutoff_hz=10.0).settings == {"n": 10, "cutoff_hz": 10.0}
    json.dumps(Metric(None, "Hz", "welch_f50", {"band_hz": (0.15, 5.0)}, (flag,)).to_dict())
    with pytest.raises(InvalidArgumentError):
        Metric(float("nan"), "mm", "x")
    with pytest.raises(InvalidArgumentError):
        Metric(None, "mm", "x")  # a missing value needs a reason


@pytest.mark.parametrize(
    ("unit", "squared", "rate"),
    [("mm", "mm^2", "mm/s"), ("deg", "deg^2", "deg/s"), ("m/s^2", "m^2/s^4", "m/s^3")],
)
def test_units(unit: str, squared: str, rate: str) -> None:
    assert squared_unit(unit) == squared and per_second_unit(unit) == rate
