"""End-to-end analysis on simulated sessions: truth comparison, JSON shape, flags not exceptions."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from balancelab import dsp
from balancelab.dsp.analysis import AnalysisSettings, analyze_recording, analyze_session
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    STANDARD_GRAVITY_MS2,
    Outcome,
    QualityCode,
    Side,
    Surface,
    TrialType,
    Vision,
)
from balancelab.sim import (
    AthleteParams,
    Scenario,
    TrialSpec,
    board_imu,
    force_plate,
    lowback_imu,
    simulate_session,
)

TRIAL_KEYS = {
    "onset_s", "duration_s", "trial_type", "side", "surface", "vision", "outcome", "valid",
    "quality", "touchdowns_s", "settings", "metrics",
}  # fmt: skip


@pytest.fixture(scope="module")
def step_down():
    return simulate_session("step_down", seed=5, internal_fs_hz=400.0)


def test_step_down_landings_against_truth(step_down) -> None:
    session, truth = step_down
    analysis = analyze_session(session)
    back = analysis.recordings[0]
    assert back.tracked_point == "lowback"
    pooled: list[int] = []
    for result, true in zip(back.trials, truth.trials, strict=True):
        assert result.trial_type == str(true.trial.trial_type)
        codes = {f.code for f in result.quality}
        assert result.valid or codes == {QualityCode.GAP}  # the simulator drops packet bursts
        if true.landing is None:
            assert result.metrics["sway_area_95"].value is not None
            continue
        # First contact on the 100-Hz grid, found back from the peak ~40 ms later: over 80
        # landings the error lies in -10..+30 ms (3 samples), so 35 ms.
        assert float(result.settings["impact_s"]) == pytest.approx(true.landing.impact_s, abs=0.035)
        peak = result.metrics["peak_acc"]
        if peak.value is not None:  # None only with a flag (a lost packet at the peak)
            assert peak.value == pytest.approx(true.landing.peak_g * STANDARD_GRAVITY_MS2, rel=0.05)
        tts = result.metrics["tts"]
        assert tts.method == "moving_rms"
        if not result.valid:
            assert tts.value is None and tts.quality
            continue
        assert tts.settings["reference"] == "single_leg_hold"
        # the side's three eyes-open firm holds, pooled (fewer if a hold lost packets)
        assert 1 <= int(tts.settings["reference_traces"]) <= 3  # type: ignore[arg-type]
        pooled.append(int(tts.settings["reference_traces"]))  # type: ignore[arg-type]
        assert tts.value is not None or tts.quality[0].code is QualityCode.NEVER_STABILIZED
        assert 0.1 < result.metrics["dpsi"].value < 0.5  # type: ignore[operator]
    assert 3 in pooled
    summary = back.summary["step_down/firm/open"]
    assert summary.sides["left"]["tts"].n + summary.sides["right"]["tts"].n >= 6
    plate = analysis.recordings[1]
    assert plate.tracked_point == "cop"
    for result, true in zip(plate.trials, truth.trials, strict=True):
        if true.landing is not None:  # the plate uses the IMU's impact
            assert float(result.settings["impact_s"]) == pytest.approx(
                true.landing.impact_s, abs=0.035
            )


def test_json_shape_matches_metrics_md(step_down) -> None:
    session, _ = step_down
    d = analyze_recording(session.recordings[1]).to_json_dict()
    assert set(d) == {"trials", "summary"}
    json.dumps(d)  # serialisable
    trials = d["trials"]
    assert isinstance(trials, list)
    for trial in trials:
        assert set(trial) == TRIAL_KEYS
        for metric in trial["metrics"].values():
            assert {"value", "unit", "method"} <= set(metric)
    summary = d["summary"]
    assert isinstance(summary, dict)
    cond = summary["step_down/firm/open"]
    assert set(cond) == {"left", "right", "asymmetry", "asymmetry_log_ratio"}
    assert set(cond["left"]["tts"]) >= {"value", "unit", "n"}
    assert cond["asymmetry"]["tts"]["unit"] == "%"
    session_json = analyze_session(session).to_json_dict()
    assert set(session_json) == {"trials", "summary", "streams"}
    for stream in session_json["streams"].values():  # type: ignore[attr-defined]
        assert set(stream) == {
            "tracked_point",
            "sampling_frequency_hz",
            "time_column_fs_hz",
            "quality",
        }
        assert stream["quality"] == []  # the simulator's rates agree with its time stamps


def _holds(sensors: tuple, seed: int, weak: float = 1.4):
    specs = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, Surface.FIRM, Vision.OPEN, 30.0, 3.0)
        for _ in range(3)
        for side in (Side.LEFT, Side.RIGHT)
    )
    scenario = Scenario("holds", "3 holds per side", specs, sensors=sensors)
    athlete = AthleteParams(weaker_side=Side.LEFT, weak_side_sway_factor=weak)
    return simulate_session(scenario, athlete, seed=seed, internal_fs_hz=400.0)


def test_holds_both_sides_cop_and_lowback_show_the_weaker_left() -> None:
    session, truth = _holds((force_plate(), lowback_imu()), seed=2)
    analysis = analyze_session(session)
    for rec in analysis.recordings:
        cond = rec.summary["single_leg_hold/firm/open"]
        assert (
            cond.sides["left"]["mean_velocity"].n == 3
            and not cond.sides["left"]["mean_velocity"].quality
        )
        area = cond.asymmetry["sway_area_95"]
        # truth: area factor 1.4² → −49 %; one session of 3 holds per side, so ±0.45 in ln
        assert area.log_ratio == pytest.approx(-2 * math.log(1.4), abs=0.45)
        assert area.percent is not None and area.percent < 0
    cop_trial = analysis.recordings[0].trials[0]
    assert cop_trial.metrics["sway_area_95"].unit == "mm^2"
    assert analysis.recordings[1].trials[0].metrics["jerk"].unit == "m^2/s^6"
    true_rms = np.std(truth.series.cop[:, 0]) * 1000
    assert true_rms > 0


def test_gaps_nan_and_saturation_give_flags_not_exceptions(step_down) -> None:
    session, truth = step_down
    back = session.recordings[0]
    values = back.values.copy()
    hold = truth.trials[0].trial
    # 9 s lost of a 28-s window: 68 % covered, below the 80 % a gap-split hold needs
    gap = (back.time_s > hold.onset_s + 10) & (back.time_s < hold.onset_s + 19)
    values[gap] = np.nan
    first_landing = next(i for i, t in enumerate(truth.trials) if t.landing is not None)
    landing = truth.trials[first_landing].landing
    assert landing is not None
    near = np.abs(back.time_s - landing.impact_s) < 0.2
    limit = 2.5 * STANDARD_GRAVITY_MS2
    values[near, :3] = np.clip(values[near, :3], -limit, limit)
    broken = replace(back, values=values)
    result = analyze_recording(broken, settings=AnalysisSettings(acc_range_ms2=limit))
    first = result.trials[0]
    assert not first.valid and QualityCode.GAP in {f.code for f in first.quality}
    assert first.metrics["sway_area_95"].value is None
    assert first.metrics["sway_area_95"].quality
    clipped = result.trials[first_landing]
    assert QualityCode.SATURATION in {f.code for f in clipped.quality} and not clipped.valid
    # a trial with nothing but NaN: still no exception
    empty = values.copy()
    empty[(back.time_s > hold.onset_s) & (back.time_s < hold.end_s)] = np.nan
    blank = analyze_recording(replace(back, values=empty)).trials[0]
    assert not blank.valid
    json.dumps(analyze_recording(replace(back, values=empty)).to_json_dict())


def test_too_short_hold_is_flagged() -> None:
    specs = (
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=6.0, rest_after_s=2.0),
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.RIGHT, duration_s=20.0, rest_after_s=2.0),
    )
    scenario = Scenario("short", "short hold", specs, sensors=(force_plate(),))
    session, _ = simulate_session(scenario, seed=1, internal_fs_hz=400.0)
    result = analyze_recording(session.recordings[0])
    short = result.trials[0]
    assert QualityCode.TOO_SHORT in {f.code for f in short.quality} and not short.valid
    too_few = result.summary["single_leg_hold/firm/open"].sides["right"]["mean_velocity"]
    assert too_few.quality[0].code is QualityCode.TOO_FEW_TRIALS


def test_wobble_board_gives_board_indices() -> None:
    specs = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, Surface.WOBBLE_BOARD, duration_s=15.0)
        for side in (Side.LEFT, Side.RIGHT)
    )
    scenario = Scenario("board", "board holds", specs, sensors=(board_imu(),))
    session, truth = simulate_session(scenario, seed=3, internal_fs_hz=400.0)
    result = analyze_recording(session.recordings[0])
    for trial, true in zip(result.trials, truth.trials, strict=True):
        assert trial.metrics["stability_index"].unit == "deg"
        index = trial.metrics["stability_index"].value
        t = np.arange(truth.series.board.shape[0]) / truth.series.fs_hz
        rows = (t >= true.trial.onset_s + 2) & (t < true.trial.end_s)
        true_si = math.degrees(math.sqrt(np.mean(np.sum(truth.series.board[rows] ** 2, axis=1))))
        assert index == pytest.approx(true_si, abs=1.0)
        assert trial.metrics["edge_contacts"].value is not None
        # A board IMU sees no free foot: no touch-down count is reported, not a false 0.
        assert "touchdowns" not in trial.metrics


def test_eyes_closed_holds_are_not_a_landing_reference() -> None:
    """Landings are eyes open: an eyes-closed hold (sway ~1.5-2x) would raise the threshold."""
    trials = (
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, vision=Vision.CLOSED, duration_s=20.0),
        TrialSpec(TrialType.STEP_DOWN, Side.LEFT, duration_s=14.0, rest_after_s=8.0),
    )
    scenario = Scenario("closed", "eyes-closed hold, then a step-down", trials, task="stepdown")
    session, _ = simulate_session(scenario, seed=2, internal_fs_hz=400.0)
    landing = analyze_session(session).recordings[0].trials[1]
    assert landing.metrics["tts"].settings["reference"] == "pre_trial_stance"


def test_the_seconds_around_a_touchdown_are_cut_from_the_reference() -> None:
    """demo_session: the right eyes-open hold has a scripted touch-down at 12 s; the right
    landings' reference is that hold without [touch-down - 1 s, + 2 s], in two pieces."""
    session, truth = simulate_session("demo_session", seed=4, internal_fs_hz=400.0)
    back = analyze_session(session).recordings[0]
    pieces: dict[str, set[int]] = {}
    for result, true in zip(back.trials, truth.trials, strict=True):
        if true.landing is not None and result.valid:
            tts = result.metrics["tts"]
            assert tts.settings["reference"] == "single_leg_hold"
            assert tts.settings["reference_touchdown_cut_s"] == (1.0, 2.0)
            pieces.setdefault(result.side, set()).add(int(tts.settings["reference_traces"]))  # type: ignore[arg-type]
        hold = true.trial.trial_type is TrialType.SINGLE_LEG_HOLD
        if hold and true.trial.side is Side.RIGHT and true.trial.vision is Vision.OPEN:
            assert len(result.touchdowns_s) == 1  # the scripted one is found
    assert pieces == {"left": {1}, "right": {2}}


def test_stepping_off_the_plate_after_a_hold_is_not_a_touchdown(step_down) -> None:
    """The COP jumps when the athlete puts the other foot down at the trial end; filtered per
    analysed window, that jump cannot ring back into the hold as a touch-down."""
    session, truth = step_down
    plate = analyze_session(session).recordings[1]
    assert plate.tracked_point == "cop"
    holds = [
        (result, true)
        for result, true in zip(plate.trials, truth.trials, strict=True)
        if true.trial.trial_type is TrialType.SINGLE_LEG_HOLD
    ]
    assert len(holds) == 6
    for result, true in holds:
        assert not true.touchdowns
        assert result.touchdowns_s == ()
        assert result.metrics["touchdowns"].value == 0


def test_the_public_api_analyses_a_session_and_refuses_a_cutoff_above_nyquist(step_down) -> None:
    session, _ = step_down
    assert set(dsp.__all__) >= {"analyze_session", "analyze_recording", "AnalysisSettings"}
    assert dsp.analyze_session(session).recordings[0].trials
    with pytest.raises(InvalidArgumentError, match="Nyquist"):
        dsp.analyze_session(session, settings=dsp.AnalysisSettings(body_cutoff_hz=60.0))


def test_trials_keep_their_enums_and_a_landing_its_impact_as_a_field(step_down) -> None:
    session, truth = step_down
    analysis = dsp.analyze_session(session)
    body = next(r for r in analysis.recordings if r.tracked_point == "lowback")
    landings = [t for t in body.trials if t.trial_type is TrialType.STEP_DOWN]
    assert landings and all(isinstance(t.side, Side) and t.side in Side for t in body.trials)
    assert all(isinstance(t.outcome, Outcome) for t in body.trials)
    for result, true in zip(body.trials, truth.trials, strict=True):
        if true.landing is None:
            assert result.impact_s is None
            continue
        assert result.impact_s == pytest.approx(true.landing.impact_s, abs=0.035)
        assert result.settings["impact_s"] == result.impact_s  # the record says the same
