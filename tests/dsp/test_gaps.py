"""Gaps (science/METRICS.md): holds analysed over their gap-free segments, strict landings."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from balancelab.dsp.analysis import analyze_recording, analyze_session
from balancelab.dsp.sway import (
    jerk,
    jerk_over,
    mean_velocity,
    mean_velocity_over,
    path_length,
    path_length_over,
    power_frequencies,
    power_frequencies_over,
)
from balancelab.formats.bids_reader import read_session
from balancelab.model import QualityCode, Recording, Side, TrialAnalysis, TrialType
from balancelab.sim import Scenario, TrialSpec, force_plate, lowback_imu, simulate_session

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"
HOLD, STEP = TrialType.SINGLE_LEG_HOLD, TrialType.STEP_DOWN


@lru_cache(maxsize=1)
def session():  # type: ignore[no-untyped-def]
    """Two 32-s holds and two step-downs, lower-back IMU without packet loss and a plate."""
    trials = (
        TrialSpec(HOLD, Side.LEFT, duration_s=32.0, rest_after_s=3.0),
        TrialSpec(HOLD, Side.RIGHT, duration_s=32.0, rest_after_s=3.0),
        TrialSpec(STEP, Side.LEFT, duration_s=10.0, rest_after_s=3.0, landing_height_m=0.2),
        TrialSpec(STEP, Side.RIGHT, duration_s=10.0, rest_after_s=3.0, landing_height_m=0.2),
    )
    sensors = (replace(lowback_imu(), loss_bursts_per_min=0.0), force_plate())
    return simulate_session(Scenario("gaps", "test", trials, sensors=sensors), seed=4)


def with_holes(rec: Recording, holes: list[tuple[float, float]]) -> Recording:
    """`rec` with every row in each (start, stop) interval (session clock, s) lost (NaN)."""
    values = rec.values.copy()
    for start, stop in holes:
        values[(rec.time_s >= start) & (rec.time_s < stop)] = np.nan
    return replace(rec, values=values)


def codes(trial: TrialAnalysis) -> set[str]:
    return {f.code for f in trial.quality}


@pytest.mark.parametrize("tracksys", ["simlowback", "simplate"])
def test_a_short_hole_no_longer_voids_a_hold(tracksys: str) -> None:
    """A 0.11-s hole (just over max_gap_s) in the middle of a 30-s hold: valid, `gap_split`, and
    the metrics stay within 3 % of the intact hold's (0.4 % of the samples are gone; the filter
    edges and the missing path cost a little more). F50/F95 are quantised to the Welch bins of
    each segment (fs / (N/2): 0.13 Hz for a 15-s segment), so within two such bins."""
    sess, truth = session()
    rec = sess.recording(tracksys)
    onset = truth.trials[0].trial.onset_s
    intact = analyze_recording(rec).trials[0]
    holed = analyze_recording(with_holes(rec, [(onset + 15.0, onset + 15.11)])).trials[0]
    assert intact.valid and not intact.quality
    assert holed.valid and codes(holed) == {QualityCode.GAP_SPLIT}
    assert "99.6% of the window in 2 gap-free segment(s)" in holed.quality[0].message
    for key in ("sway_area_95", "mean_velocity", "rms_ap", "rms_ml"):
        assert holed.metrics[key].value == pytest.approx(intact.metrics[key].value, rel=0.03), key
    for key in ("f50", "f95"):
        assert holed.metrics[key].value == pytest.approx(intact.metrics[key].value, abs=0.27), key


def test_holes_covering_too_much_or_leaving_no_long_segment_void_the_hold() -> None:
    sess, truth = session()
    rec = sess.recording("simlowback")
    onset = truth.trials[0].trial.onset_s  # window: onset + 2 .. onset + 32 s
    # 7 s lost of 30: 77 % covered
    lost = analyze_recording(with_holes(rec, [(onset + 10.0, onset + 17.0)])).trials[0]
    # 3 holes of 0.5 s: 95 % covered, but the longest segment is 9.5 s
    holes = [(onset + t, onset + t + 0.5) for t in (9.5, 19.5, 24.5)]
    split = analyze_recording(with_holes(rec, holes)).trials[0]
    for trial in (lost, split):
        assert not trial.valid and QualityCode.GAP in codes(trial)
        assert trial.metrics["sway_area_95"].value is None
    assert "longest 9.5 s" in split.quality[0].message


def test_a_landing_gap_in_the_first_3_s_voids_it_a_later_one_ends_its_window() -> None:
    sess, truth = session()
    rec = sess.recording("simlowback")
    landing = truth.trials[2].landing
    assert landing is not None
    impact = landing.impact_s
    early = analyze_session(
        replace(sess, recordings=(with_holes(rec, [(impact + 2.0, impact + 2.2)]),))
    )
    late = analyze_session(
        replace(sess, recordings=(with_holes(rec, [(impact + 5.0, impact + 5.2)]),))
    )
    first, second = early.recordings[0].trials[2], late.recordings[0].trials[2]
    assert not first.valid and QualityCode.GAP in codes(first)
    assert second.valid and codes(second) == {QualityCode.GAP_TRUNCATED}
    stop = float(second.settings["window_stop_s"])  # type: ignore[arg-type]
    assert stop == pytest.approx(impact + 5.0, abs=0.02)  # the last sample before the hole


def test_segment_measures_pool_within_segments_only() -> None:
    """Analytic: two straight runs at 10 and 20 mm/s, 1 s each at 100 Hz, far apart. Path and
    velocity never bridge the jump between them; one segment equals the plain measures."""
    fs = 100.0
    t = np.arange(101) / fs
    first = np.column_stack([10.0 * t, np.zeros_like(t)])
    second = np.column_stack([np.full_like(t, 500.0), 20.0 * t])
    assert path_length_over([first, second], unit="mm").value == pytest.approx(30.0)
    assert mean_velocity_over([first, second], fs, unit="mm").value == pytest.approx(15.0)
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(0, 1, (3000, 2)), axis=0)
    ap, ml = walk[:, 0], walk[:, 1]
    assert path_length_over([walk], unit="mm").value == path_length(ap, ml, unit="mm").value
    plain = mean_velocity(ap, ml, fs, unit="mm").value
    assert mean_velocity_over([walk], fs, unit="mm").value == pytest.approx(plain, rel=1e-12)
    assert jerk_over([walk], fs).value == pytest.approx(jerk(ap, ml, fs).value, rel=1e-12)
    whole = power_frequencies(ap, ml, fs)
    over = power_frequencies_over([walk], fs, min_segment_s=10.0)
    assert over["f50"].value == whole.f50_hz and over["f95"].value == whole.f95_hz
    short = power_frequencies_over([walk[:900], walk[1000:1900]], fs, min_segment_s=10.0)
    assert short["f50"].value is None and short["f50"].quality[0].code == QualityCode.TOO_SHORT


def test_frequencies_average_the_long_segments_by_length() -> None:
    """Analytic: a 1-Hz sine for 20 s and a 2-Hz sine for 10 s (plus a 5-s piece, too short):
    F50 is the length-weighted mean (2·1 + 1·2)/3 of the segments' own F50s."""
    fs = 100.0

    def sine(freq_hz: float, seconds: float) -> np.ndarray:
        t = np.arange(round(seconds * fs)) / fs
        return np.column_stack([np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t)])

    pieces = [sine(1.0, 20.0), sine(2.0, 10.0), sine(4.0, 5.0)]
    own = [power_frequencies(p[:, 0], p[:, 1], fs).f50_hz for p in pieces[:2]]
    f50 = power_frequencies_over(pieces, fs, min_segment_s=10.0)["f50"].value
    assert own[0] is not None and own[1] is not None
    assert f50 == pytest.approx((2 * own[0] + own[1]) / 3, rel=1e-12)


def test_no_hold_of_the_example_athlete_is_voided_by_a_short_gap() -> None:
    """recordings/ (the example athlete, regenerated from time to time): every hold that lost
    less than 20 % of its window in gaps is valid, flagged `gap_split` where it has gaps; a
    landing is void for a gap only within 3 s of its impact."""
    checked = 0
    for folder in sorted(RECORDINGS.glob("sub-demo01/ses-*")):
        sess = read_session(folder)
        for result in analyze_session(sess).recordings:
            for trial in result.trials:
                flags = codes(trial)
                if QualityCode.GAP_SPLIT in flags:
                    assert trial.valid
                    checked += 1
                if QualityCode.GAP in flags and trial.trial_type == str(HOLD):
                    message = next(f.message for f in trial.quality if f.code == QualityCode.GAP)
                    covered = float(message.split("(")[1].split("%")[0]) / 100
                    longest_s = float(message.split("longest ")[1].split(" s")[0])
                    assert covered < 0.8 or longest_s < 10.0, message
    assert checked >= 1  # the example athlete has gap-split holds to check
