"""The one analysis entry: a recording (or session) in, per-trial metrics and a summary out.

Each recording is prepared by `signals` (its trace on the analysis grid). Holds: from onset + 2 s
to the end (≤ 30 s), COP mean removed per window, body acceleration linearly detrended. Landings:
from the detected impact, ≤ 10 s: tts, peak_acc and dpsi. A trial with a gap, saturation or too
short a window is reported with its flags and `valid` False; its metrics keep their own flags.

Metadata that contradicts itself is flagged, never trusted: a trial that overlaps another
(`overlap`, both trials) or leaves the recorded samples (`outside_recording`) is not analysed
(invalid, no metrics, no TTS reference, out of every session value and asymmetry); a stream whose
sidecar SamplingFrequency disagrees with its time column carries `rate_mismatch`, and the time
column wins: it holds the measured time of every sample (FORMAT.md: "the true times are here"),
the sidecar one declared number, and the analysis resamples by time anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from balancelab.dsp import (
    board,
    events,
    plausibility,
    stabilization,
    sway,
    symmetry,
)
from balancelab.dsp.preprocess import (
    detrend_linear,
    finite_segments,
    gravity_alignment,
)
from balancelab.dsp.quality import (
    detect_outside_recording,
    detect_overlaps,
    detect_rate_mismatch,
    detect_saturation,
    median_rate_hz,
)
from balancelab.dsp.settings import AnalysisSettings
from balancelab.dsp.signals import (
    Signals,
    body_trace,
    grid_fs,
    prepare_signals,
    rows_in,
    tracked_point,
    window_trace,
)
from balancelab.model import (
    FloatArray,
    Metric,
    Outcome,
    QualityCode,
    QualityFlag,
    Recording,
    RecordingAnalysis,
    Session,
    SessionAnalysis,
    SettingValue,
    Side,
    Surface,
    Trial,
    TrialAnalysis,
    TrialType,
    Vision,
    make_flag,
)

# Cut out of a TTS reference hold around each touch-down: (before, after) in s.
TOUCHDOWN_EXCISE_S = (1.0, 2.0)
INVALIDATING = (
    QualityCode.GAP,
    QualityCode.SATURATION,
    QualityCode.TOO_SHORT,
    QualityCode.IMPLAUSIBLE,
)
STILL_MAX_SD = {"cop": 5.0, "board": 3.0, "lowback": 0.3, "sternum": 0.3}
QUIET_S = 1.0  # quiet window at a landing trial's start used for the static tilt correction
# The quiet stance before a landing (a TTS reference) runs from the trial onset + SETTLE (getting
# onto the test leg) to the impact - MARGIN (the movement: a 0.6-s step-down or a hop's push and
# flight of ~0.65 s, and the low-pass's spread of the impact), in s.
PRE_LANDING_SETTLE_S = 1.0
PRE_IMPACT_MARGIN_S = 1.0


# ---------------------------------------------------------------- per-trial flags


def _window_flags(
    sig: Signals, rows: slice, recording: Recording, span: tuple[float, float], s: AnalysisSettings
) -> tuple[QualityFlag, ...]:
    """A `gap` flag if any sample of `rows` is missing, and saturation (a landing's window)."""
    flags: list[QualityFlag] = []
    piece = sig.trace[rows]
    if piece.size and not np.all(np.isfinite(piece)):
        lost = int(np.count_nonzero(~np.all(np.isfinite(piece), axis=1)))
        flags.append(make_flag(QualityCode.GAP, f"{lost} of {piece.shape[0]} samples missing"))
    return (*flags, *_saturation_flags(sig, recording, span, s))


def _saturation_flags(
    sig: Signals, recording: Recording, span: tuple[float, float], s: AnalysisSettings
) -> tuple[QualityFlag, ...]:
    """A saturation flag when the raw accelerometer clips within `span` (session clock, s)."""
    if sig.acc is None:
        return ()
    flag = _saturation(recording.values[rows_in(recording.time_s, *span), :3], s.acc_range_ms2)
    return () if flag is None else (flag,)


def _hold_segments(
    trace: FloatArray, window: events.TrialWindow, s: AnalysisSettings
) -> tuple[list[slice], tuple[QualityFlag, ...]]:
    """The gap-free segments of a hold's trace and its gap flag (science/METRICS.md, Gaps).

    Without gaps: the whole window. With gaps: its segments, flagged `gap_split` when together
    they cover >= `gap_min_covered` of the window and the longest lasts >= `gap_min_segment_s`;
    else `gap` (invalid) and the whole window, so every metric is missing (`nan_input`).
    """
    whole = [slice(0, trace.shape[0])]
    finite = np.all(np.isfinite(trace), axis=1)
    if np.all(finite):
        return whole, ()
    segments = finite_segments(np.where(finite, 0.0, np.nan))
    lengths = [seg.stop - seg.start for seg in segments]
    covered = sum(lengths) / max(trace.shape[0], round(window.duration_s * s.fs_hz))
    longest_s = max(lengths, default=0) / s.fs_hz
    detail = (
        f"{covered:.1%} of the window in {len(segments)} gap-free segment(s), "
        f"longest {longest_s:.1f} s"
    )
    if covered >= s.gap_min_covered and longest_s >= s.gap_min_segment_s:
        return segments, (make_flag(QualityCode.GAP_SPLIT, detail),)
    needed = f"; needs {s.gap_min_covered:.0%} and one of {s.gap_min_segment_s:g} s"
    return whole, (make_flag(QualityCode.GAP, detail + needed),)


def _saturation(raw: FloatArray, acc_range_ms2: float | None) -> QualityFlag | None:
    """Samples at the accelerometer's range, or ≥ 3 repeats of a column's extreme above 2 g."""
    if raw.size == 0:
        return None
    if acc_range_ms2 is not None:
        return detect_saturation(raw, acc_range_ms2, margin=0.005 * acc_range_ms2)
    with np.errstate(invalid="ignore"):
        extreme = np.nanmax(np.abs(raw), axis=0) if np.any(np.isfinite(raw)) else np.zeros(3)
        repeats = np.count_nonzero(np.abs(raw) == extreme, axis=0)
    if np.any((repeats >= 3) & (extreme > 2 * 9.80665)):
        return make_flag(QualityCode.SATURATION, "a column repeats its extreme value (clipped)")
    return None


def _conflicts(recording: Recording, s: AnalysisSettings) -> dict[int, QualityFlag]:
    """Trials (by index) whose events.tsv row contradicts the samples or another trial.

    A trial that leaves the recorded samples is flagged `outside_recording` and takes no part in
    the overlap check: its own times are what is wrong (a duration of 1e300 would otherwise make
    every later trial overlap it).
    """
    time_s = recording.time_s
    first_s, last_s = (float(time_s[0]), float(time_s[-1])) if time_s.size else (np.nan, np.nan)
    flags: dict[int, QualityFlag] = {}
    for index, trial in enumerate(recording.trials):
        span = (trial.onset_s, trial.end_s)
        flag = detect_outside_recording(span, first_s, last_s, tolerance_s=s.trial_tolerance_s)
        if flag is not None:
            flags[index] = flag
    spans = [None if i in flags else (t.onset_s, t.end_s) for i, t in enumerate(recording.trials)]
    flags.update(detect_overlaps(spans, tolerance_s=s.trial_tolerance_s))
    return flags


def _excluded(
    trial: Trial, flag: QualityFlag, settings: Mapping[str, SettingValue]
) -> TrialAnalysis:
    """A trial left out for contradictory metadata: invalid, its flag, no metrics."""
    return TrialAnalysis(
        trial.onset_s,
        trial.duration_s,
        trial.trial_type,
        trial.side,
        trial.surface,
        trial.vision,
        trial.outcome,
        False,
        (flag,),
        (),
        dict(settings),
        {},
    )


def _trial(
    window: events.TrialWindow,
    flags: tuple[QualityFlag, ...],
    touchdowns: tuple[float, ...],
    metrics: Mapping[str, Metric],
    settings: Mapping[str, SettingValue],
    *,
    impact_s: float | None = None,
) -> TrialAnalysis:
    tr = window.trial
    flags = tuple(dict.fromkeys(window.quality + flags))
    valid = tr.outcome is not Outcome.ABORTED and not any(f.code in INVALIDATING for f in flags)
    return TrialAnalysis(
        tr.onset_s,
        tr.duration_s,
        tr.trial_type,
        tr.side,
        tr.surface,
        tr.vision,
        tr.outcome,
        valid,
        flags,
        touchdowns,
        dict(settings),
        dict(metrics),
        impact_s,
    )


# ---------------------------------------------------------------- holds


def _hold_trace(sig: Signals, rows: slice, s: AnalysisSettings) -> FloatArray:
    if sig.point in ("lowback", "sternum"):
        acc = sig.trace[rows]
        return detrend_linear(body_trace(acc, acc, s))
    piece = window_trace(sig, rows, s)
    return piece - np.nanmean(piece, axis=0) if sig.point == "cop" and piece.size else piece


def _sway_metrics(
    trace: FloatArray, segments: Sequence[slice], fs: float, s: AnalysisSettings, unit: str
) -> dict[str, Metric]:
    """Sway metrics over the hold's gap-free `segments` of `trace` (one: the whole window).

    Split by gaps: ellipse, RMS and range of the pooled samples, path and velocity within
    segments, frequencies from segments >= `gap_min_segment_s` (science/METRICS.md, Gaps).
    """
    pieces = [trace[seg] for seg in segments]
    pooled = np.concatenate(pieces)
    ap, ml = pooled[:, 0], pooled[:, 1]
    out = {
        "sway_area_95": sway.prediction_ellipse(ap, ml, unit=unit).metric(),
        "rms_ap": sway.rms_about_mean(ap, unit=unit),
        "rms_ml": sway.rms_about_mean(ml, unit=unit),
        "range_ap": sway.value_range(ap, unit=unit),
        "range_ml": sway.value_range(ml, unit=unit),
    }
    body = unit == "m/s^2"  # lower back or sternum: horizontal acceleration
    if len(pieces) == 1:
        out["path_length"] = sway.path_length(ap, ml, unit=unit)
        out["mean_velocity"] = sway.mean_velocity(ap, ml, fs, unit=unit)
        out.update(sway.power_frequencies(ap, ml, fs).metrics())
        if body:
            out["jerk"] = sway.jerk(ap, ml, fs, unit=unit)
        return out
    out["path_length"] = sway.path_length_over(pieces, unit=unit)
    out["mean_velocity"] = sway.mean_velocity_over(pieces, fs, unit=unit)
    out.update(sway.power_frequencies_over(pieces, fs, min_segment_s=s.gap_min_segment_s))
    if body:
        out["jerk"] = sway.jerk_over(pieces, fs, unit=unit)
    return out


def _board_metrics(tilt: FloatArray, fs: float, s: AnalysisSettings) -> dict[str, Metric]:
    pitch, roll = tilt[:, 0], tilt[:, 1]
    edges = board.detect_edge_contacts(pitch, roll, fs, max_tilt_deg=s.board_max_tilt_deg)
    return {
        "stability_index": board.stability_index(pitch, roll),
        "ap_stability_index": board.ap_stability_index(pitch),
        "ml_stability_index": board.ml_stability_index(roll),
        "time_in_zone": board.time_in_zone(pitch, roll),
        "edge_contacts": edges.metric(),
    }


def _touchdowns(sig: Signals, rows: slice, trace: FloatArray) -> tuple[float, ...]:
    """Touch-down times (session clock, s) of a single-leg hold: body IMU, else plate force,
    else COP (`events.detect_touchdowns`)."""
    if sig.point == "board":
        return ()
    if sig.acc is not None:
        times = events.detect_touchdowns(grid_fs(sig), acc_ms2=sig.acc[rows])
    elif sig.force_n is not None:
        times = events.detect_touchdowns(grid_fs(sig), force_n=sig.force_n[rows])
    else:
        # The COP detector looks for the kink of the unfiltered COP: the low-pass smooths it.
        times = events.detect_touchdowns(grid_fs(sig), cop=sig.trace[rows])
    start = float(sig.time_s[rows.start]) if rows.stop > rows.start else 0.0
    return tuple(round(start + t, 4) for t in times)


def _analyze_hold(
    sig: Signals, window: events.TrialWindow, recording: Recording, s: AnalysisSettings
) -> tuple[TrialAnalysis, FloatArray]:
    rows = rows_in(sig.time_s, window.start_s, window.stop_s)
    trace = _hold_trace(sig, rows, s)
    segments, flags = _hold_segments(trace, window, s)
    flags += _saturation_flags(sig, recording, (window.start_s, window.stop_s), s)
    metrics = _sway_metrics(trace, segments, s.fs_hz, s, sig.unit)
    if sig.point == "board":
        metrics.update(_board_metrics(np.concatenate([trace[seg] for seg in segments]), s.fs_hz, s))
    # A board IMU sees no free foot: the key is absent there, as on two legs (METRICS.md).
    counted = window.trial.trial_type is TrialType.SINGLE_LEG_HOLD and sig.point != "board"
    touchdowns = _touchdowns(sig, rows, trace) if counted and trace.shape[0] > 10 else ()
    if counted:
        metrics["touchdowns"] = Metric(
            len(touchdowns), "count", "touchdowns", {"n": trace.shape[0]}
        )
    flags += _never_still(trace, segments, sig.point, s)
    flags += _implausible(sig, rows, metrics, window.trial, s)
    settings = {**s.record(), "window_start_s": window.start_s, "window_stop_s": window.stop_s}
    return _trial(window, flags, touchdowns, metrics, settings), trace


def _never_still(
    trace: FloatArray, segments: Sequence[slice], point: str, s: AnalysisSettings
) -> tuple[QualityFlag, ...]:
    """`not_still_at_start` when no gap-free segment (> 10 samples) has a still window."""
    pieces = [trace[seg] for seg in segments if seg.stop - seg.start > 10]
    if not pieces or not all(np.all(np.isfinite(p)) for p in pieces):
        return ()
    found = [events.detect_never_still(p, s.fs_hz, max_sd=STILL_MAX_SD[point]) for p in pieces]
    if any(f is None for f in found) or found[0] is None:
        return ()
    return (make_flag(QualityCode.NOT_STILL_AT_START, found[0].message),)


def _implausible(
    sig: Signals, rows: slice, metrics: Mapping[str, Metric], trial: Trial, s: AnalysisSettings
) -> tuple[QualityFlag, ...]:
    """`implausible` when the hold is beyond what a standing person can produce."""
    flag = plausibility.check_plausibility(
        sig.point,
        metrics,
        single_leg=trial.trial_type is TrialType.SINGLE_LEG_HOLD,
        fs=s.fs_hz,
        acc_ms2=sig.acc[rows] if sig.acc is not None else None,
        tilt_deg=sig.trace[rows] if sig.point == "board" else None,
    )
    return () if flag is None else (flag,)


# ---------------------------------------------------------------- landings


def _impact_s(
    sig: Signals, window: events.TrialWindow
) -> tuple[float | None, tuple[QualityFlag, ...]]:
    """Impact time (session clock, s): IMU impact detector, else the COP's fastest jump."""
    rows = rows_in(sig.time_s, window.start_s, window.stop_s)
    if rows.stop - rows.start < 3:
        return None, (make_flag(QualityCode.TOO_SHORT, "no samples in the landing trial"),)
    start = float(sig.time_s[rows.start])
    if sig.acc is not None:
        impact = events.detect_landing_impact(sig.acc[rows], grid_fs(sig))
        return (None if impact.time_s is None else start + impact.time_s), impact.quality
    with np.errstate(invalid="ignore"):
        speed = np.linalg.norm(np.diff(sig.trace[rows], axis=0), axis=1)
    if not np.any(np.isfinite(speed)):
        return None, (make_flag(QualityCode.NAN_INPUT, "no COP to find the landing in"),)
    return start + (int(np.nanargmax(speed)) + 1) / grid_fs(sig), ()


@dataclass(frozen=True)
class _Landing:
    """A landing trial: its impact (session clock, s; None if not found), the flags of finding
    it, the whole trial's trace with its times (s), and the quiet stance before the movement
    about the landing window's stable level (empty without an impact)."""

    window: events.TrialWindow
    impact_s: float | None
    impact_flags: tuple[QualityFlag, ...]
    time_s: FloatArray
    trace: FloatArray
    stance: FloatArray


def _landing(
    sig: Signals, window: events.TrialWindow, impact_s: float | None, s: AnalysisSettings
) -> _Landing:
    """The landing trial with its impact: `impact_s` if given (another sensor), else detected."""
    flags: tuple[QualityFlag, ...] = ()
    if impact_s is None:
        impact_s, flags = _impact_s(sig, window)
    rows = rows_in(sig.time_s, window.trial.onset_s, window.trial.end_s)
    time_s, trace = sig.time_s[rows], _landing_trace(sig, rows, window, s)
    after = trace[:0] if impact_s is None else trace[rows_in(time_s, impact_s, window.trial.end_s)]
    if impact_s is None or after.shape[0] == 0:
        return _Landing(window, impact_s, flags, time_s, trace, trace[:0])
    stop, _ = _landing_stop(sig, window, impact_s, s)
    level = stabilization.stable_level(trace[rows_in(time_s, impact_s, stop)], s.fs_hz)
    start = window.trial.onset_s + PRE_LANDING_SETTLE_S
    stance = trace[rows_in(time_s, start, impact_s - PRE_IMPACT_MARGIN_S)] - level
    return _Landing(window, impact_s, flags, time_s, trace, stance)


def _landing_trace(
    sig: Signals, rows: slice, window: events.TrialWindow, s: AnalysisSettings
) -> FloatArray:
    """The trace over `rows` (body: tilt corrected from the trial's first QUIET_S)."""
    if sig.point not in ("lowback", "sternum"):
        return window_trace(sig, rows, s)
    quiet = sig.trace[rows_in(sig.time_s, window.trial.onset_s, window.trial.onset_s + QUIET_S)]
    return body_trace(sig.trace[rows], quiet, s)


def _landing_stop(
    sig: Signals, window: events.TrialWindow, impact_s: float, s: AnalysisSettings
) -> tuple[float, tuple[QualityFlag, ...]]:
    """End of a landing's window (session clock, s) and a `gap_truncated` flag if a gap ends it.

    A gap within `landing_gap_free_s` after the impact stays inside the window (its `gap` flag
    makes the trial invalid); a later gap ends the window where it starts (science/METRICS.md).
    """
    stop = min(window.trial.end_s, impact_s + s.landing_max_s)
    first = rows_in(sig.time_s, impact_s, min(stop, impact_s + s.landing_gap_free_s))
    if not np.all(np.isfinite(sig.trace[first])):
        return stop, ()
    rows = rows_in(sig.time_s, impact_s + s.landing_gap_free_s, stop)
    lost = np.flatnonzero(~np.all(np.isfinite(sig.trace[rows]), axis=1))
    if lost.size == 0:
        return stop, ()
    gap_s = float(sig.time_s[rows.start + int(lost[0])])
    detail = f"at {gap_s - impact_s:.2f} s after the impact instead of {stop - impact_s:.2f} s"
    return gap_s, (make_flag(QualityCode.GAP_TRUNCATED, detail),)


def _landing_metrics(
    sig: Signals,
    recording: Recording,
    *,
    trial: _Landing,
    impact_s: float,
    holds: Sequence[FloatArray],
    pre_landing: Sequence[FloatArray],
    s: AnalysisSettings,
) -> dict[str, Metric]:
    window, onset, fs = trial.window, trial.window.trial.onset_s, s.fs_hz
    stop, _ = _landing_stop(sig, window, impact_s, s)
    landing = trial.trace[rows_in(trial.time_s, impact_s, stop)]
    reference, ref_flags = stabilization.choose_reference(
        landing, fs, holds=holds, pre_landing=pre_landing
    )
    tts = stabilization.time_to_stabilization(
        landing,
        fs,
        reference,
        unit=sig.unit,
        method=s.tts_method,
        window_s=s.tts_window_s,
        k_sd=s.tts_k_sd,
        min_excursion_s=s.tts_min_excursion_s,
    ).with_flags(*ref_flags)
    if reference.source == "single_leg_hold":
        tts = tts.with_settings(reference_touchdown_cut_s=TOUCHDOWN_EXCISE_S)
    if reference.source == "pre_trial_stance":
        tts = tts.with_settings(
            reference_after_onset_s=PRE_LANDING_SETTLE_S,
            reference_before_impact_s=PRE_IMPACT_MARGIN_S,
        )
    metrics = {"tts": tts}
    if sig.acc is not None and sig.point != "board":
        raw = recording.values[rows_in(recording.time_s, impact_s, window.trial.end_s), :3]
        metrics["peak_acc"] = stabilization.peak_acc(raw, sig.raw_fs_hz)
        quiet = sig.acc[rows_in(sig.time_s, onset, onset + QUIET_S)]
        quiet = quiet[np.all(np.isfinite(quiet), axis=1)]
        after = sig.acc[rows_in(sig.time_s, impact_s, window.trial.end_s)]
        if quiet.shape[0] >= 2:
            level = after @ gravity_alignment(quiet).T
            metrics["dpsi"] = stabilization.dpsi(level, fs)
    return metrics


def _analyze_landing(
    sig: Signals,
    trial: _Landing,
    recording: Recording,
    *,
    holds: Sequence[FloatArray],
    pre_landing: Sequence[FloatArray],
    s: AnalysisSettings,
) -> TrialAnalysis:
    window, impact_s, flags = trial.window, trial.impact_s, trial.impact_flags
    settings = dict(s.record())
    if impact_s is None:
        missing = Metric(
            None, "s", s.tts_method, settings, flags or (make_flag(QualityCode.TOO_SHORT),)
        )
        return _trial(window, flags, (), {"tts": missing}, settings)
    stop, truncated = _landing_stop(sig, window, impact_s, s)
    rows = rows_in(sig.time_s, impact_s, stop)
    flags += _window_flags(sig, rows, recording, (impact_s, stop), s) + truncated
    # The other sensors of the session are timed from the impact to 0.1 ms, as recorded.
    recorded_s = round(impact_s, 4)
    settings.update(impact_s=recorded_s, window_start_s=impact_s, window_stop_s=stop)
    metrics = _landing_metrics(
        sig,
        recording,
        trial=trial,
        impact_s=impact_s,
        holds=holds,
        pre_landing=pre_landing,
        s=s,
    )
    return _trial(window, flags, (), metrics, settings, impact_s=recorded_s)


def _is_quiet_hold(trial: Trial, result: TrialAnalysis) -> bool:
    """A valid single-leg hold without flags: a TTS reference for its condition."""
    return trial.trial_type is TrialType.SINGLE_LEG_HOLD and result.valid and not result.quality


def _without_touchdowns(
    trace: FloatArray, time_s: FloatArray, touchdowns_s: Sequence[float]
) -> FloatArray:
    """The hold's trace with the seconds around each touch-down set to NaN (times in s).

    The reference must be quiet single-leg stance: the sway that led to the touch-down, the
    touch-down and the recovery are cut out; the gap-free rest still counts.
    """
    out = trace.copy()
    before_s, after_s = TOUCHDOWN_EXCISE_S
    for t in touchdowns_s:
        out[(time_s >= t - before_s) & (time_s <= t + after_s)] = np.nan
    return out


def _condition(trial: Trial) -> tuple[Side, Surface, Vision]:
    """Side, surface and vision: a landing's TTS reference is a hold of the same condition."""
    return trial.side, trial.surface, trial.vision


# ---------------------------------------------------------------- entry points


def analyze_recording(
    recording: Recording,
    *,
    settings: AnalysisSettings | None = None,
    impacts_s: Mapping[int, float] | None = None,
) -> RecordingAnalysis:
    """Analyse every trial of one recording (one tracked point) and summarise per condition.

    `impacts_s` maps a trial's index to a landing impact (session clock, s) found by another
    sensor of the session (e.g. a body IMU for a force plate); otherwise it is detected here.

    Raises:
        InvalidArgumentError: the recording holds more than one tracked point, or lacks a
            channel its tracked point needs; a setting is out of range (e.g. a cutoff at or
            above half of `fs_hz`).
    """
    s = settings or AnalysisSettings()
    sig = prepare_signals(recording, s)
    conflicts = _conflicts(recording, s)
    windows = [
        w
        for w in events.trial_windows(
            recording,
            hold_skip_s=s.hold_skip_s,
            hold_max_s=s.hold_max_s,
            min_window_s=s.min_window_s,
        )
        if w.trial_index not in conflicts
    ]
    results = {i: _excluded(recording.trials[i], flag, s.record()) for i, flag in conflicts.items()}
    references: dict[tuple[Side, Surface, Vision], list[FloatArray]] = {}
    for w in windows:
        if w.kind == "landing":
            continue
        result, trace = _analyze_hold(sig, w, recording, s)
        results[w.trial_index] = result
        if _is_quiet_hold(w.trial, result):
            time_s = sig.time_s[rows_in(sig.time_s, w.start_s, w.stop_s)]
            quiet = _without_touchdowns(trace, time_s, result.touchdowns_s)
            references.setdefault(_condition(w.trial), []).append(quiet)
    landings = [
        _landing(sig, w, (impacts_s or {}).get(w.trial_index), s)
        for w in windows
        if w.kind == "landing"
    ]
    stances: dict[tuple[Side, Surface, Vision], list[FloatArray]] = {}
    for landing in landings:
        stances.setdefault(_condition(landing.window.trial), []).append(landing.stance)
    for landing in landings:
        condition = _condition(landing.window.trial)
        results[landing.window.trial_index] = _analyze_landing(
            sig,
            landing,
            recording,
            holds=references.get(condition, []),
            pre_landing=stances[condition],
            s=s,
        )
    trials = tuple(results[i] for i in sorted(results))
    summary = symmetry.summarize(trials, s.typical_cv_pct)
    rate = detect_rate_mismatch(
        recording.time_s, recording.nominal_fs_hz, tolerance=s.rate_tolerance
    )
    return RecordingAnalysis(
        recording.tracksys,
        sig.point,
        trials,
        summary,
        () if rate is None else (rate,),
        recording.nominal_fs_hz,
        median_rate_hz(recording.time_s),
    )


def analyze_session(
    session: Session, *, settings: AnalysisSettings | None = None
) -> SessionAnalysis:
    """Analyse each recording; landings found by a body or board IMU time the other sensors.

    Raises:
        InvalidArgumentError: as `analyze_recording`, for any recording of the session.
    """
    s = settings or AnalysisSettings()
    ordered = sorted(session.recordings, key=lambda r: tracked_point(r) == "cop")
    analyses: dict[str, RecordingAnalysis] = {}
    impacts: dict[int, float] = {}
    for rec in ordered:
        result = analyze_recording(rec, settings=s, impacts_s=impacts or None)
        analyses[rec.tracksys] = result
        if not impacts and result.tracked_point in ("lowback", "sternum"):
            impacts = {i: t.impact_s for i, t in enumerate(result.trials) if t.impact_s is not None}
    return SessionAnalysis(tuple(analyses[r.tracksys] for r in session.recordings))
