"""Per-side aggregation and asymmetry: known answers, MDC flag, and a simulated weaker side."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pytest

from balancelab.dsp.sway import mean_velocity, prediction_ellipse
from balancelab.dsp.symmetry import (
    asymmetry_percent,
    compute_asymmetry,
    log_ratio,
    mdc95_log_difference,
    side_value,
    summarize,
)
from balancelab.errors import InvalidArgumentError
from balancelab.model import Metric, QualityCode, Side, Surface, TrialType, Vision, make_flag
from balancelab.sim import AthleteParams, Scenario, TrialSpec, force_plate, simulate_session


@dataclass(frozen=True)
class FakeTrial:
    trial_type: TrialType
    side: Side
    surface: Surface
    vision: Vision
    valid: bool
    metrics: Mapping[str, Metric]


def m(value: float | None, unit: str = "mm/s", method: str = "mean_velocity") -> Metric:
    flags = () if value is not None else (make_flag(QualityCode.NAN_INPUT),)
    return Metric(value, unit, method, {}, flags)


def hold(side: Side, value: float | None, valid: bool = True) -> FakeTrial:
    return FakeTrial(
        TrialType.SINGLE_LEG_HOLD,
        side,
        Surface.FIRM,
        Vision.OPEN,
        valid,
        {"mean_velocity": m(value)},
    )


def test_asymmetry_formulas() -> None:
    assert asymmetry_percent(10.0, 12.0) == pytest.approx(100 * 2 / 12)
    assert asymmetry_percent(12.0, 10.0) == pytest.approx(-100 * 2 / 12)
    assert asymmetry_percent(0.0, 0.0) is None
    assert log_ratio(10.0, 12.0) == pytest.approx(math.log(1.2))
    assert log_ratio(0.0, 1.0) is None


def test_mdc_of_difference_is_2_77_te_on_log_scale() -> None:
    te = math.log(1.10)
    assert mdc95_log_difference(10.0) == pytest.approx(1.96 * math.sqrt(2) * te)
    assert mdc95_log_difference(10.0) == pytest.approx(2.77 * te, rel=1e-3)
    assert mdc95_log_difference(10.0, 20.0) == pytest.approx(1.96 * math.hypot(te, math.log(1.2)))
    with pytest.raises(InvalidArgumentError, match="cv_pct"):
        mdc95_log_difference(0.0)


def test_flag_only_beyond_mdc() -> None:
    # velocity CV 10 %: MDC95 on |asymmetry %| = 100·(1 − 1.1^−2.772) ≈ 23.2 %
    small = compute_asymmetry(10.0, 12.0, 10.0)  # 16.7 %: above the 10/15 % lines, below MDC
    assert small.flagged is False
    assert small.mdc95_pct == pytest.approx(100 * (1 - 1.1 ** -(1.96 * math.sqrt(2))), rel=1e-9)
    assert small.mdc95 == pytest.approx(12.0 * small.mdc95_pct / 100)
    big = compute_asymmetry(10.0, 14.0, 10.0)  # 28.6 %
    assert big.flagged is True and big.percent == pytest.approx(100 * 4 / 14)
    unknown = compute_asymmetry(10.0, 14.0, None)
    assert unknown.flagged is None and unknown.log_ratio == pytest.approx(math.log(1.4))


def test_summary_means_valid_trials_and_flags_too_few() -> None:
    trials = [hold(Side.LEFT, v) for v in (10.0, 11.0, 12.0)]
    trials += [hold(Side.RIGHT, 20.0), hold(Side.RIGHT, 22.0), hold(Side.RIGHT, 99.0, valid=False)]
    trials += [hold(Side.RIGHT, None)]
    summary = summarize(trials)["single_leg_hold/firm/open"]
    left, right = summary.sides["left"]["mean_velocity"], summary.sides["right"]["mean_velocity"]
    assert left.value == pytest.approx(11.0) and left.n == 3 and not left.quality
    assert right.value == pytest.approx(21.0) and right.n == 2
    assert right.quality[0].code is QualityCode.TOO_FEW_TRIALS
    asym = summary.asymmetry["mean_velocity"]
    assert asym.percent == pytest.approx(100 * 10 / 21)
    assert asym.flagged is True
    d = summary.to_dict()
    assert d["asymmetry"]["mean_velocity"]["unit"] == "%"  # type: ignore[index]
    assert d["asymmetry_log_ratio"]["mean_velocity"]["value"] == pytest.approx(  # type: ignore[index]
        math.log(21 / 11)
    )
    assert d["left"]["mean_velocity"] == {"value": 11.0, "unit": "mm/s", "n": 3}  # type: ignore[index]


def test_landings_need_five_and_athlete_cv_overrides_default() -> None:
    trials = [
        FakeTrial(
            TrialType.STEP_DOWN,
            side,
            Surface.FIRM,
            Vision.OPEN,
            True,
            {"tts": m(v, "s", "moving_rms")},
        )
        for side, v in [(Side.LEFT, 1.0)] * 5 + [(Side.RIGHT, 1.3)] * 4
    ]
    summary = summarize(trials)["step_down/firm/open"]
    assert not summary.sides["left"]["tts"].quality
    assert summary.sides["right"]["tts"].quality[0].code is QualityCode.TOO_FEW_TRIALS
    assert summary.asymmetry["tts"].flagged is False  # 23 % < MDC of CV 15 % (32 %)
    own = summarize(trials, {"tts": 5.0})["step_down/firm/open"]
    assert own.asymmetry["tts"].flagged is True  # MDC of CV 5 %: 12.6 %


def test_mixed_methods_are_not_averaged() -> None:
    metrics = [m(1.0, "s", "moving_rms"), m(2.0, "s", "ross_polynomial")]
    value = side_value(metrics, 1)
    assert value.value is None and "mixed methods" in value.quality[-1].message


def _weak_left_sessions(seed: int) -> tuple[list[FakeTrial], float]:
    holds = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, Surface.FIRM, Vision.OPEN, 30.0, 3.0)
        for _ in range(3)
        for side in (Side.LEFT, Side.RIGHT)
    )
    scenario = Scenario("weak_left", "3 holds per side", holds, sensors=(force_plate(),))
    athlete = AthleteParams(weaker_side=Side.LEFT, weak_side_sway_factor=1.4)
    session, truth = simulate_session(scenario, athlete, seed=seed, internal_fs_hz=400.0)
    rec = session.recordings[0]
    trials = []
    for trial in rec.trials:
        window = (rec.time_s >= trial.onset_s + 2.0) & (rec.time_s < trial.end_s)
        ml, ap = (1000 * (c - c.mean()) for c in rec.values[window][:, :2].T)
        metrics = {
            "sway_area_95": prediction_ellipse(ap, ml, unit="mm").metric(),
            "mean_velocity": mean_velocity(ap, ml, rec.nominal_fs_hz, unit="mm"),
        }
        trials.append(
            FakeTrial(trial.trial_type, trial.side, Surface.FIRM, Vision.OPEN, True, metrics)
        )
    return trials, truth.side_factors["left"] / truth.side_factors["right"]


def test_simulated_weaker_left_side_gives_negative_asymmetry_of_the_right_size() -> None:
    """Weaker left (RMS sway ×1.4): area ratio R/L = 1/1.4² → asymmetry −49 %, ln −0.67.

    Tolerance: one 28-s single-leg hold's area has a trial-to-trial CV of about 30 % (slow
    sway), so a 3-trial side mean ~17 % and the log ratio of two sides ~0.25 SD per session;
    over 4 sessions the mean log ratio has SD ~0.12, we allow ±0.3 (2.5 SD).
    """
    ratios: dict[str, list[float]] = {"sway_area_95": [], "mean_velocity": []}
    percents = []
    for seed in range(4):
        trials, factor = _weak_left_sessions(seed)
        summary = summarize(trials)["single_leg_hold/firm/open"]
        for key, values in ratios.items():
            asym = summary.asymmetry[key]
            assert asym.log_ratio is not None and asym.percent is not None
            values.append(asym.log_ratio)
        percents.append(summary.asymmetry["sway_area_95"].percent)
    expected_area = -2 * math.log(factor)
    assert np.mean(ratios["sway_area_95"]) == pytest.approx(expected_area, abs=0.3)
    assert all(p is not None and p < 0 for p in percents)
    # sway velocity scales with the RMS sway in the linear model: ratio 1/1.4 → ln −0.34
    assert np.mean(ratios["mean_velocity"]) == pytest.approx(-math.log(factor), abs=0.2)
    mean_pct = 100 * (math.exp(float(np.mean(ratios["sway_area_95"]))) - 1)
    assert mean_pct == pytest.approx(100 * (1 / factor**2 - 1), abs=15)
