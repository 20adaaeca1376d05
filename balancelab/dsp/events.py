"""Trial segmentation and events: analysed windows, touch-downs, landing impacts, never still.

Times returned by the detectors are in s from the first sample of the array passed in
(t = index / fs); add the window's start time for the session clock. Arrays are uniformly
sampled at `fs` (Hz), NaN where a sample was lost: NaN samples are never used as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from balancelab.dsp.quality import as_float_array
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    STANDARD_GRAVITY_MS2,
    FloatArray,
    QualityCode,
    QualityFlag,
    Recording,
    Trial,
    TrialType,
    check_nonnegative,
    check_positive,
    make_flag,
)

HOLD_SKIP_S = 2.0
HOLD_MAX_S = 30.0
LANDING_MAX_S = 10.0
MIN_WINDOW_S = 5.0
LANDING_TYPES = (TrialType.STEP_DOWN, TrialType.HOP_STABILIZE)

# Touch-down thresholds. A free foot landing jolts the pelvis: the simulator uses a 0.5 g
# half-sine of 60 ms, and real heel contacts give 0.3-1 g at L5. Quiet single-leg stance moves
# |a| by < 0.05 g (sway accelerations of ~0.1 m/s^2 plus sensor noise of ~0.01 m/s^2), so a
# floor of 0.2 g sits well clear of both, and 8 robust SDs guards noisier sensors (phones).
TOUCHDOWN_FLOOR_G = 0.2
TOUCHDOWN_K_SD = 8.0
# COP only: a touch-down adds the free foot's support torque at once, so the body's angular
# acceleration steps and the stance ankle torque (COP = torque / m g) breaks its slope one feedback
# delay (~0.15 s) later: a kink, its second difference concentrated in one or two samples, where
# the sway's own COP acceleration (f95 of the COP ~1-2 Hz) changes over >= 0.1 s. A kink must
# exceed 4x the window's 95th percentile of |second difference| and 8x its median within +-0.1 s
# (leaving out +-2 samples). Measured (tests/dsp/test_events.py): simulated touch-downs peak at a
# median of ~8x the 95th percentile and ~14x the local median; the 50 real two-leg BDS/PDS trials
# stay clear at 0.8x these thresholds (their sharpest bursts rise over ~10 samples).
TOUCHDOWN_COP_K_P95 = 4.0
TOUCHDOWN_COP_K_LOCAL = 8.0
COP_KINK_PERCENTILE = 95.0
COP_LOCAL_S = 0.1
COP_LOCAL_GAP_SAMPLES = 3
# A COP pinned at the edge of its range (the ankle torque saturated at the foot's edge) also stops
# or starts with a kink: kinks within 1 % of the range of either axis's extreme are ignored.
COP_EDGE_FRACTION = 0.01
# Vertical force under the stance foot: a free-foot touch-down takes roughly 20-60 % of body
# weight off it; quiet single-leg stance moves the vertical force by a few % (the COM's vertical
# acceleration is < 0.3 m/s^2), two-leg stance by < 1 % (real BDS/PDS plates: SD ~0.2 %). A drop
# below 90 % of body weight held >= 0.1 s sits between both. Body weight: the 80th percentile of
# the window's force, so a hold whose free foot is down for up to ~3/4 of the time still has it.
TOUCHDOWN_UNLOAD_FRACTION = 0.1
TOUCHDOWN_WEIGHT_PERCENTILE = 80.0
TOUCHDOWN_MIN_UNLOAD_S = 0.1
# One touch-down lasts >= 0.3 s and the next cannot start within ~0.5 s: merge closer peaks.
TOUCHDOWN_MIN_SEPARATION_S = 0.5
# Landing: the impact peaks at 2-4 g (SIMULATOR.md; published IMU thresholds 2-3 g).
IMPACT_MIN_PEAK_G = 1.8
IMPACT_ONSET_FRACTION = 0.1

BoolArray = NDArray[np.bool_]


# ---------------------------------------------------------------- analysed windows


@dataclass(frozen=True)
class TrialWindow:
    """The analysed rows of one trial: `start_index`..`stop_index` (exclusive) of the recording.

    kind: "hold" (onset + 2 s to the end, at most 30 s), "landing" (the whole trial, until the
    impact is detected: see `landing_window`) or "calibration". `start_s`/`stop_s` are the
    session-clock times of the window's edges; `quality` flags a window that is too short.
    """

    trial: Trial
    trial_index: int
    kind: str
    start_index: int
    stop_index: int
    start_s: float
    stop_s: float
    quality: tuple[QualityFlag, ...] = ()

    @property
    def rows(self) -> slice:
        """The window as a slice of the recording's rows."""
        return slice(self.start_index, self.stop_index)

    @property
    def duration_s(self) -> float:
        return self.stop_s - self.start_s


def trial_windows(
    recording: Recording,
    *,
    hold_skip_s: float = HOLD_SKIP_S,
    hold_max_s: float = HOLD_MAX_S,
    min_window_s: float = MIN_WINDOW_S,
) -> list[TrialWindow]:
    """The analysed window of each of the recording's trials (events.tsv), in trial order."""
    skip = check_nonnegative("hold_skip_s", hold_skip_s)
    longest = check_positive("hold_max_s", hold_max_s)
    shortest = check_nonnegative("min_window_s", min_window_s)
    windows = []
    for number, trial in enumerate(recording.trials):
        if trial.trial_type in LANDING_TYPES:
            kind, start, stop = "landing", trial.onset_s, trial.end_s
        else:
            kind = "calibration" if trial.trial_type is TrialType.CALIBRATION else "hold"
            start = trial.onset_s + skip
            stop = min(trial.end_s, start + longest)
        window = _window(recording.time_s, trial, number, kind, (start, stop))
        windows.append(_flag_short(window, shortest))
    return windows


def landing_window(
    time_s: ArrayLike, window: TrialWindow, impact_s: float, *, max_s: float = LANDING_MAX_S
) -> TrialWindow:
    """A landing's analysed window: from its impact (session clock, s) to the end, <= `max_s`."""
    t = as_float_array("time_s", time_s, ndim=1)
    longest = check_positive("max_s", max_s)
    if not (np.isfinite(impact_s) and window.trial.onset_s <= impact_s <= window.trial.end_s):
        raise InvalidArgumentError(
            f"impact_s must lie within the trial ({window.trial.onset_s:g}.."
            f"{window.trial.end_s:g} s), got {impact_s!r}"
        )
    stop = min(window.trial.end_s, impact_s + longest)
    span = (impact_s, stop)
    return _window(t, window.trial, window.trial_index, "landing", span)


def _window(
    time_s: FloatArray, trial: Trial, number: int, kind: str, span: tuple[float, float]
) -> TrialWindow:
    start_s, stop_s = span
    lo, hi = (int(i) for i in np.searchsorted(time_s, [start_s, stop_s], side="left"))
    hi = max(hi, lo)
    return TrialWindow(trial, number, kind, lo, hi, start_s, max(start_s, stop_s))


def _flag_short(window: TrialWindow, min_window_s: float) -> TrialWindow:
    covered = window.stop_index - window.start_index
    if covered >= 2 and window.duration_s >= min_window_s:
        return window
    detail = f"window {window.duration_s:.3g} s with {covered} samples, {min_window_s:g} s needed"
    flag = make_flag(QualityCode.TOO_SHORT, detail)
    return TrialWindow(
        window.trial,
        window.trial_index,
        window.kind,
        window.start_index,
        window.stop_index,
        window.start_s,
        window.stop_s,
        (flag,),
    )


# ---------------------------------------------------------------- touch-downs


def detect_touchdowns(
    fs: float,
    *,
    acc_ms2: ArrayLike | None = None,
    force_n: ArrayLike | None = None,
    cop: ArrayLike | None = None,
    min_separation_s: float = TOUCHDOWN_MIN_SEPARATION_S,
) -> list[float]:
    """Times (s from the first sample) of free-foot touch-downs during a single-leg hold.

    From a body IMU's accelerometer `acc_ms2` (n, 3) when given (the jolt is large and sharp),
    else from the stance plate's vertical force `force_n` (n,) (the weight leaving the foot),
    else from a COP trace `cop` (n, 2) in any length unit.
    """
    if acc_ms2 is not None:
        return detect_touchdowns_imu(acc_ms2, fs, min_separation_s=min_separation_s)
    if force_n is not None:
        return detect_touchdowns_force(force_n, fs, min_separation_s=min_separation_s)
    if cop is not None:
        return detect_touchdowns_cop(cop, fs, min_separation_s=min_separation_s)
    raise InvalidArgumentError("detect_touchdowns needs acc_ms2 (n, 3), force_n (n,) or cop (n, 2)")


def detect_touchdowns_imu(
    acc_ms2: ArrayLike,
    fs: float,
    *,
    floor_g: float = TOUCHDOWN_FLOOR_G,
    k_sd: float = TOUCHDOWN_K_SD,
    min_separation_s: float = TOUCHDOWN_MIN_SEPARATION_S,
) -> list[float]:
    """Touch-downs as upward jolts of |a| (m/s^2) above its median, from a trunk IMU.

    The resultant needs no orientation and ignores the accelerometer's tilt. Threshold: the
    larger of `floor_g` and `k_sd` robust SDs (1.4826 MAD) of |a|; each run above it counts
    once, at its peak; peaks closer than `min_separation_s` merge.
    """
    acc = _xyz("acc_ms2", acc_ms2)
    fs = check_positive("fs", fs)
    floor = check_positive("floor_g", floor_g) * STANDARD_GRAVITY_MS2
    k = check_positive("k_sd", k_sd)
    separation = check_nonnegative("min_separation_s", min_separation_s)
    with np.errstate(over="ignore", invalid="ignore"):
        norm = np.linalg.norm(acc, axis=1)
    excess = _about_median(norm)
    threshold = max(floor, k * _robust_sd(excess))
    return _peaks_above(excess, threshold, fs, separation)


def detect_touchdowns_force(
    force_n: ArrayLike,
    fs: float,
    *,
    unload_fraction: float = TOUCHDOWN_UNLOAD_FRACTION,
    min_unload_s: float = TOUCHDOWN_MIN_UNLOAD_S,
    min_separation_s: float = TOUCHDOWN_MIN_SEPARATION_S,
) -> list[float]:
    """Touch-downs as the stance foot's vertical force (N) dropping below (1 − `unload_fraction`)
    × body weight for at least `min_unload_s`; each at the start of its drop.

    Drops starting closer than `min_separation_s` after the previous one merge.
    """
    force = as_float_array("force_n", force_n, ndim=1)
    fs = check_positive("fs", fs)
    fraction = check_positive("unload_fraction", unload_fraction)
    shortest = check_nonnegative("min_unload_s", min_unload_s)
    separation = check_nonnegative("min_separation_s", min_separation_s)
    finite = force[np.isfinite(force)]
    weight = float(np.percentile(finite, TOUCHDOWN_WEIGHT_PERCENTILE)) if finite.size else 0.0
    if not (np.isfinite(weight) and weight > 0):
        return []
    with np.errstate(invalid="ignore"):
        unloaded = np.isfinite(force) & (force < (1.0 - fraction) * weight)
    starts: list[int] = []
    for start, stop in _runs(unloaded):
        if (stop - start) / fs < shortest:
            continue
        if not starts or (start - starts[-1]) / fs >= separation:
            starts.append(start)
    return [i / fs for i in starts]


def detect_touchdowns_cop(
    cop: ArrayLike,
    fs: float,
    *,
    k_p95: float = TOUCHDOWN_COP_K_P95,
    k_local: float = TOUCHDOWN_COP_K_LOCAL,
    min_separation_s: float = TOUCHDOWN_MIN_SEPARATION_S,
) -> list[float]:
    """Touch-downs as kinks of the stance foot's raw COP (n, 2) in any length unit; each at its
    kink, which lags the foot's contact by the postural feedback delay (~0.15 s).

    A kink: |second difference| above `k_p95` × its 95th percentile over the window and above
    `k_local` × its median within ±`COP_LOCAL_S` (the nearest `COP_LOCAL_GAP_SAMPLES` - 1 on each
    side left out), not at the edge of the COP's range (`COP_EDGE_FRACTION`). Kinks closer than
    `min_separation_s` merge. Pass the plate's unfiltered COP: a 10-Hz low-pass spreads the kink
    over the sway's own time scale and then nothing is found (nothing is invented either).
    """
    trace = as_float_array("cop", cop, ndim=2)
    if trace.shape[1] != 2:
        raise InvalidArgumentError(f"cop must be (n, 2) (AP, ML columns), got {trace.shape}")
    fs = check_positive("fs", fs)
    k_global = check_positive("k_p95", k_p95)
    k_near = check_positive("k_local", k_local)
    separation = check_nonnegative("min_separation_s", min_separation_s)
    half = max(COP_LOCAL_GAP_SAMPLES + 1, round(COP_LOCAL_S * fs))
    if trace.shape[0] < 2 * half + 3:
        return []
    kink = _cop_kink(trace)
    finite = kink[np.isfinite(kink)]
    if finite.size == 0:
        return []
    level = float(np.percentile(finite, COP_KINK_PERCENTILE))
    if not (np.isfinite(level) and level > 0):
        return []
    with np.errstate(invalid="ignore", over="ignore"):
        sharp = (kink > k_global * level) & (kink > k_near * _local_median(kink, half))
    candidates = np.where(sharp & ~_at_cop_edge(trace), kink, np.nan)
    return _peaks_above(candidates, 0.0, fs, separation)


def _cop_kink(trace: FloatArray) -> FloatArray:
    """|second difference| of a (n, 2) trace, centred (NaN at both ends and near lost samples)."""
    with np.errstate(invalid="ignore", over="ignore"):
        second = trace[2:] - 2.0 * trace[1:-1] + trace[:-2]
        size = np.hypot(second[:, 0], second[:, 1])
    return np.concatenate([[np.nan], size, [np.nan]])


def _local_median(x: FloatArray, half: int) -> FloatArray:
    """Median of x over i ± `half`, leaving out |j − i| < COP_LOCAL_GAP_SAMPLES (NaN-aware)."""
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    keep = np.abs(np.arange(-half, half + 1)) >= COP_LOCAL_GAP_SAMPLES
    near = windows[:, keep]
    out = np.full(x.shape, np.nan)
    usable = np.any(np.isfinite(near), axis=1)
    if np.any(usable):
        out[usable] = np.nanmedian(near[usable], axis=1)
    return out


def _at_cop_edge(trace: FloatArray) -> BoolArray:
    """Samples within COP_EDGE_FRACTION of the range of either axis's minimum or maximum."""
    edge = np.zeros(trace.shape[0], dtype=bool)
    for column in trace.T:
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            continue
        low, high = float(np.min(finite)), float(np.max(finite))
        tolerance = COP_EDGE_FRACTION * (high - low)
        with np.errstate(invalid="ignore", over="ignore"):
            edge |= (column - low <= tolerance) | (high - column <= tolerance)
    return edge


def _about_median(x: FloatArray) -> FloatArray:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.full_like(x, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(x - float(np.median(finite)))


def _robust_sd(x: FloatArray) -> float:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        sd = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    return sd if np.isfinite(sd) else 0.0


def _peaks_above(x: FloatArray, threshold: float, fs: float, separation_s: float) -> list[float]:
    """Times (s) of the peak of each run of x > threshold; peaks within separation_s merge."""
    with np.errstate(invalid="ignore"):
        above = np.isfinite(x) & (x > threshold)
    peaks: list[int] = []
    for start, stop in _runs(above):
        peak = start + int(np.argmax(x[start:stop]))
        if peaks and (peak - peaks[-1]) / fs < separation_s:
            if x[peak] > x[peaks[-1]]:
                peaks[-1] = peak
            continue
        peaks.append(peak)
    return [p / fs for p in peaks]


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


# ---------------------------------------------------------------- landing impact


@dataclass(frozen=True)
class LandingImpact:
    """A landing's impact: first contact (`index`, `time_s` from the first sample), the peak of
    the resultant specific force (`peak_index`, `peak_acc_ms2`). None fields with a flag when
    no impact was found."""

    index: int | None
    time_s: float | None
    peak_index: int | None
    peak_acc_ms2: float | None
    quality: tuple[QualityFlag, ...] = ()


def detect_landing_impact(
    acc_ms2: ArrayLike, fs: float, *, min_peak_g: float = IMPACT_MIN_PEAK_G
) -> LandingImpact:
    """Impact of a step-down or hop from the resultant acceleration |a| (m/s^2) of a body IMU.

    The peak is the largest |a|; it must reach `min_peak_g` (else no landing, flagged). The
    contact is the last sample before the peak where |a| was still below 1 g + 10 % of the rise
    (a fixed fraction, so it does not depend on the peak's height; ~3 ms after first contact
    for a half-sine impact). A clipped peak (the range was reached) is flagged: `peak_acc_ms2`
    is then a lower bound.
    """
    acc = _xyz("acc_ms2", acc_ms2)
    fs = check_positive("fs", fs)
    minimum = check_positive("min_peak_g", min_peak_g) * STANDARD_GRAVITY_MS2
    with np.errstate(over="ignore", invalid="ignore"):
        norm = np.linalg.norm(acc, axis=1)
    finite = np.isfinite(norm)
    if not np.any(finite & (norm >= minimum)):
        detail = f"no resultant acceleration above {min_peak_g:g} g: no landing impact found"
        return LandingImpact(None, None, None, None, (make_flag(QualityCode.TOO_SHORT, detail),))
    peak = int(np.argmax(np.where(finite, norm, -np.inf)))
    level = STANDARD_GRAVITY_MS2 + IMPACT_ONSET_FRACTION * (norm[peak] - STANDARD_GRAVITY_MS2)
    below = np.flatnonzero(finite[:peak] & (norm[:peak] <= level))
    onset = int(below[-1]) + 1 if below.size else peak
    flags = _clip_flags(acc, peak)
    return LandingImpact(onset, onset / fs, peak, float(norm[peak]), flags)


def _clip_flags(acc: FloatArray, peak: int) -> tuple[QualityFlag, ...]:
    """A saturation flag when the peak's largest axis sits at a flat top (a rail) there."""
    axis = int(np.argmax(np.abs(acc[peak])))
    top = abs(float(acc[peak, axis]))
    neighbours = acc[max(0, peak - 1) : peak + 2, axis]
    flat = int(np.count_nonzero(np.abs(neighbours) == top)) > 1
    if not (flat and top > 0 and top == float(np.nanmax(np.abs(acc[:, axis])))):
        return ()
    return (make_flag(QualityCode.SATURATION, "the impact peak is clipped: a lower bound"),)


# ---------------------------------------------------------------- never still


def detect_never_still(
    x: ArrayLike, fs: float, *, max_sd: float, window_s: float = 1.0
) -> QualityFlag | None:
    """A flag when no `window_s` stretch of `x` (n,) or (n, c) has every column's SD <= `max_sd`.

    `max_sd` is in the unit of `x`, e.g. 0.3 m/s^2 for trunk acceleration, 5 mm for single-leg
    COP, 3 deg for board tilt. Windows with missing samples do not count as still.
    """
    values = as_float_array("x", x, ndim=(1, 2))
    table = values[:, np.newaxis] if values.ndim == 1 else values
    fs = check_positive("fs", fs)
    limit = check_positive("max_sd", max_sd)
    n = max(2, round(check_positive("window_s", window_s) * fs))
    if table.shape[0] < n:
        detail = f"{table.shape[0]} samples, a {window_s:g}-s window needs {n}"
        return make_flag(QualityCode.TOO_SHORT, detail)
    sd = _moving_sd(table, n)
    if np.any(np.all(sd <= limit, axis=1)):
        return None
    finite = sd[np.all(np.isfinite(sd), axis=1)]
    least = f"{float(np.min(np.max(finite, axis=1))):.3g}" if finite.size else "n/a"
    detail = f"never still: no {window_s:g}-s window with SD <= {limit:g} (least {least})"
    return make_flag(QualityCode.NEVER_STABILIZED, detail)


def _moving_sd(table: FloatArray, n: int) -> FloatArray:
    """SD (ddof 0) of each column over each run of n consecutive rows (NaN if any is missing)."""
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(table)
        counts = np.maximum(np.count_nonzero(finite, axis=0), 1)
        centred = table - np.sum(np.where(finite, table, 0.0), axis=0) / counts
        s1 = np.concatenate([np.zeros((1, table.shape[1])), np.cumsum(centred, axis=0)])
        s2 = np.concatenate([np.zeros((1, table.shape[1])), np.cumsum(centred**2, axis=0)])
        mean = (s1[n:] - s1[:-n]) / n
        var = (s2[n:] - s2[:-n]) / n - mean**2
    return np.asarray(np.sqrt(np.maximum(var, 0.0)))


# ---------------------------------------------------------------- arguments


def _xyz(name: str, x: ArrayLike) -> FloatArray:
    values = as_float_array(name, x, ndim=2)
    if values.shape[1] != 3:
        raise InvalidArgumentError(f"{name} must be (n, 3) (x, y, z columns), got {values.shape}")
    return values
