"""Landings: time to stabilization (TTS) as named methods, peak acceleration and the IMU DPSI.

A landing trace starts at the impact (sample 0) and lasts the analysed window (≤ 10 s by
default, science/METRICS.md). It is a 1-D signal or a 2-D (AP, ML) trace in its own unit:
horizontal acceleration (m/s^2) or COP (mm). Every TTS method compares the trace, taken about
its stable-state level (the mean of the window's last `level_s` seconds), with a threshold from
a quiet reference trace of the same signal; the reference's origin is recorded in the settings
(`reference`), and the last-resort fallback (the window's own tail) is flagged.

Methods (`method` of the returned Metric; TTS values of different methods never compare):
- "moving_rms" (default): centred `window_s` moving RMS of the trace (row norm for 2-D) must stay
  at or below mean + `k_sd`·SD of the reference's moving RMS from some time to the window end.
  The envelope is judged from the impact (its first windows, cut short by the impact, hold the
  landing itself) to the last whole window: the truncated windows at the window's end fluctuate
  more and would fake late crossings.
  Option `min_excursion_s` (default 1 s; 0 is the METRICS.md rule as written, every excursion
  counts): a later excursion shorter than it does not end the settled state when it begins at
  least `min_dip_s` (half the RMS window: a shorter dip lies within the envelope's own
  smoothing) after the previous counted one. Every other excursion counts: the landing's own,
  one after a brief dip (a dip does not settle a landing), one that lasts `min_excursion_s` or
  longer, and one still above at the window end (never stabilized). Why: quiet single-leg sway
  has most of its power below 0.5 Hz, so its 0.5-s moving RMS crosses its own mean + 3 SD for
  up to ~0.8 s at a time, in about one 10-s window in five after a landing has settled;
  counted, each such crossing reports a TTS seconds late (tests/dsp/test_tts_accuracy.py
  measures both rules against the simulator's truth).
- "ross_polynomial": Ross & Guskiewicz (2003, 2004): the rectified trace |x − level| of each axis
  is fitted with an unbounded third-order polynomial over the window; the axis TTS is the first
  time the fit falls to the reference's range of variation (max − min; the mean over the
  reference's traces when it has several). For a 2-D trace the value
  is the resultant vector TTS √(TTS_AP² + TTS_ML²) (Ross et al. 2008), the axes as details.
A trace that never settles gives None with a `never_stabilized` flag, never the window end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from balancelab.dsp import tts_interval
from balancelab.dsp.preprocess import finite_segments
from balancelab.dsp.quality import as_float_array, input_flags
from balancelab.dsp.results import missing
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    STANDARD_GRAVITY_MS2,
    FloatArray,
    Metric,
    QualityCode,
    QualityFlag,
    SettingValue,
    check_choice,
    check_nonnegative,
    check_positive,
    make_flag,
)

TtsMethod = Literal["moving_rms", "ross_polynomial"]
ReferenceSource = Literal["single_leg_hold", "pre_trial_stance", "window_tail"]
TTS_METHODS: tuple[str, ...] = ("moving_rms", "ross_polynomial")
REFERENCE_SOURCES: tuple[str, ...] = ("single_leg_hold", "pre_trial_stance", "window_tail")
DEFAULT_RMS_WINDOW_S = 0.5
DEFAULT_K_SD = 3.0
DEFAULT_LEVEL_S = 3.0
DEFAULT_MIN_EXCURSION_S = 1.0
DEFAULT_TAIL_REFERENCE_S = 2.0
DEFAULT_DPSI_WINDOW_S = 3.0
DEFAULT_PEAK_SEARCH_S = 0.5
MIN_PIECE_S = 1.0  # shortest gap-free piece of a reference that counts
SHORT_REFERENCE_S = 6.0  # a pooled reference shorter than this is flagged


@dataclass(frozen=True)
class QuietReference:
    """Quiet-stance traces (same signal and unit as the landing) and where they came from.

    Several traces are separately recorded pieces (e.g. every quiet single-leg hold of the side in
    the session): the threshold pools them without letting a window span two pieces. Each piece
    is taken about its own mean, unless `about_own_mean` is False: then the caller has already
    subtracted a level (the stance before a landing, about that landing's stable-state level).
    """

    traces: tuple[FloatArray, ...]
    source: ReferenceSource
    about_own_mean: bool = True

    def __post_init__(self) -> None:
        check_choice("source", self.source, REFERENCE_SOURCES)
        traces = tuple(as_float_array("trace", t, ndim=(1, 2)) for t in self.traces)
        if not traces:
            raise InvalidArgumentError("a quiet reference needs at least one trace")
        if any(t.ndim != traces[0].ndim or t.shape[1:] != traces[0].shape[1:] for t in traces):
            raise InvalidArgumentError("the traces of a quiet reference must have the same columns")
        object.__setattr__(self, "traces", traces)

    @property
    def n_samples(self) -> int:
        """Samples in all traces together."""
        return sum(t.shape[0] for t in self.traces)


def _finite_pieces(name: str, trace: ArrayLike, min_n: float) -> list[FloatArray]:
    """The runs of finite rows of `trace` with at least `min_n` samples (split at every gap)."""
    values = as_float_array(name, trace, ndim=(1, 2))
    row_finite = np.all(np.isfinite(values.reshape(values.shape[0], -1)), axis=1)
    runs = finite_segments(np.where(row_finite, 0.0, np.nan))
    return [values[run] for run in runs if run.stop - run.start >= min_n]


def choose_reference(
    window: ArrayLike,
    fs: float,
    *,
    holds: Sequence[ArrayLike] = (),
    pre_landing: Sequence[ArrayLike] = (),
    tail_s: float = DEFAULT_TAIL_REFERENCE_S,
) -> tuple[QuietReference, tuple[QualityFlag, ...]]:
    """The TTS reference as METRICS.md orders it, and the flags the choice raises.

    The caller passes the quiet single-leg holds and the quiet stances before each landing (each
    about its own landing's `stable_level`: the level the landing's TTS is judged about, so the
    reference keeps the slow sway a 2-s piece about its own mean would lose) of the landing's
    side, surface and vision. Pooled: every gap-free piece of >= MIN_PIECE_S of the
    holds if there is one, else of the pre-landing stances, else the last `tail_s` of the landing
    window itself (flagged `reference_fallback`: it biases TTS towards 0). A pooled reference
    shorter than SHORT_REFERENCE_S is flagged `short_reference`.
    """
    fs = check_positive("fs", fs)
    min_n = MIN_PIECE_S * fs
    candidates: tuple[tuple[ReferenceSource, Sequence[ArrayLike]], ...] = (
        ("single_leg_hold", holds),
        ("pre_trial_stance", pre_landing),
    )
    for source, traces in candidates:
        usable = tuple(piece for t in traces for piece in _finite_pieces(source, t, min_n))
        if usable:
            reference = QuietReference(usable, source, about_own_mean=source != "pre_trial_stance")
            if reference.n_samples >= SHORT_REFERENCE_S * fs:
                return reference, ()
            detail = f"{reference.n_samples / fs:.1f} s pooled < {SHORT_REFERENCE_S:g} s"
            return reference, (make_flag(QualityCode.SHORT_REFERENCE, detail),)
    x = as_float_array("window", window, ndim=(1, 2))
    n_tail = max(2, round(check_positive("tail_s", tail_s) * fs))
    flag = make_flag(
        QualityCode.REFERENCE_FALLBACK,
        f"no quiet stance of >= {MIN_PIECE_S:g} s: threshold from the last {tail_s:g} s",
    )
    return QuietReference((x[-n_tail:],), "window_tail"), (flag,)


# ---------------------------------------------------------------- moving RMS


def moving_rms(x: ArrayLike, fs: float, window_s: float = DEFAULT_RMS_WINDOW_S) -> FloatArray:
    """Centred moving RMS (unit of x) of a 1-D signal or of the row norm of a 2-D trace.

    The window spans round(window_s·fs/2) samples on each side; near the ends it is truncated
    to the samples that exist (the simulator's settling definition uses the same window).
    """
    values = as_float_array("x", x, ndim=(1, 2))
    fs = check_positive("fs", fs)
    half = max(1, round(check_positive("window_s", window_s) * fs / 2))
    squared = values**2 if values.ndim == 1 else np.sum(values**2, axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(squared)])
    index = np.arange(squared.size)
    low = np.clip(index - half, 0, squared.size)
    high = np.clip(index + half + 1, 0, squared.size)
    mean_square = (cumulative[high] - cumulative[low]) / (high - low)
    return np.asarray(np.sqrt(np.maximum(mean_square, 0.0)), dtype=np.float64)


def reference_envelopes(
    reference: QuietReference | ArrayLike, fs: float, window_s: float = DEFAULT_RMS_WINDOW_S
) -> list[FloatArray]:
    """The moving RMS of each piece of the reference (about its mean, see QuietReference).

    Only whole windows count where a piece is long enough to have them (as for the landing).
    """
    if not isinstance(reference, QuietReference):
        reference = QuietReference(
            (as_float_array("reference", reference, ndim=(1, 2)),), "window_tail"
        )
    half = max(1, round(window_s * fs / 2))
    pieces = []
    for t in reference.traces:
        e = moving_rms(t - np.mean(t, axis=0) if reference.about_own_mean else t, fs, window_s)
        pieces.append(e[half : e.size - half] if e.size > 2 * half + 1 else e)
    return pieces


def _reference_sway(reference: QuietReference) -> list[FloatArray]:
    """The reference's pieces about their level (their mean, unless the caller took it off)."""
    if not reference.about_own_mean:
        return list(reference.traces)
    return [np.asarray(t - np.mean(t, axis=0), dtype=np.float64) for t in reference.traces]


def rms_threshold(
    reference: QuietReference | ArrayLike,
    fs: float,
    *,
    window_s: float = DEFAULT_RMS_WINDOW_S,
    k_sd: float = DEFAULT_K_SD,
) -> float:
    """mean + k_sd·SD of the reference's moving RMS, its pieces pooled (unit of the trace)."""
    e = np.concatenate(reference_envelopes(reference, fs, window_s))
    return float(np.mean(e) + k_sd * np.std(e, ddof=1))


def settled_from(
    envelope: FloatArray,
    threshold: float,
    fs: float,
    min_excursion_s: float = DEFAULT_MIN_EXCURSION_S,
    min_dip_s: float = DEFAULT_RMS_WINDOW_S / 2,
) -> float | None:
    """First time (s from sample 0) after which `envelope` stays <= threshold to the end.

    An excursion above the threshold is ignored only when it is shorter than `min_excursion_s`,
    begins at least `min_dip_s` after the previous counted one ended (or after sample 0), and
    ends before the last sample. 0 when nothing counts; None when a counted excursion is still
    above at the last sample (never settled). With `min_excursion_s` = 0 every excursion counts.
    """
    rows = np.asarray(envelope, dtype=np.float64).reshape(1, -1)
    return settled_from_rows(rows, np.array([threshold]), fs, min_excursion_s, min_dip_s)[0]


def settled_from_rows(
    envelopes: FloatArray,
    thresholds: FloatArray,
    fs: float,
    min_excursion_s: float = DEFAULT_MIN_EXCURSION_S,
    min_dip_s: float = DEFAULT_RMS_WINDOW_S / 2,
) -> list[float | None]:
    """`settled_from` of each row of `envelopes` (m, n) against its own `thresholds` (m,)."""
    above = (envelopes > thresholds[:, None]).astype(np.int8)
    pad = np.zeros((above.shape[0], 1), dtype=np.int8)
    edges = np.diff(np.concatenate([pad, above, pad], axis=1), axis=1)
    row_starts, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # row-major: the k-th end closes the k-th start
    n, min_n, dip_n = envelopes.shape[1], min_excursion_s * fs, min_dip_s * fs
    settled = [0] * envelopes.shape[0]
    for row, start, end in zip(row_starts.tolist(), starts.tolist(), ends.tolist(), strict=True):
        if start - settled[row] < dip_n or end - start >= min_n or end >= n:
            settled[row] = end
    return [None if k >= n else k / fs for k in settled]


# ---------------------------------------------------------------- TTS methods


def stable_level(x: ArrayLike, fs: float, level_s: float = DEFAULT_LEVEL_S) -> FloatArray:
    """A landing window's stable-state level: the mean of its last `level_s` s (unit of x)."""
    values = as_float_array("x", x, ndim=(1, 2))
    n = max(1, min(values.shape[0], round(level_s * fs)))
    return np.asarray(np.mean(values[-n:], axis=0), dtype=np.float64)


def _about_level(x: FloatArray, fs: float, level_s: float) -> FloatArray:
    """The trace minus its stable-state level."""
    return np.asarray(x - stable_level(x, fs, level_s), dtype=np.float64)


def _checked(
    trace: ArrayLike, reference: QuietReference, fs: float, window_s: float
) -> tuple[FloatArray, float, tuple[QualityFlag, ...]]:
    x = as_float_array("trace", trace, ndim=(1, 2))
    fs = check_positive("fs", fs)
    first = reference.traces[0]
    if x.ndim != first.ndim or x.shape[1:] != first.shape[1:]:
        raise InvalidArgumentError(
            f"trace {x.shape} and reference {first.shape} must have the same columns"
        )
    min_n = max(3, round(2 * window_s * fs))
    if x.shape[0] < min_n:
        flags: tuple[QualityFlag, ...] = (
            make_flag(QualityCode.TOO_SHORT, f"{x.shape[0]} samples < {min_n}"),
        )
    else:
        flags = input_flags(x.reshape(-1), min_n=1)
    pooled = np.concatenate([t.reshape(-1) for t in reference.traces])
    ref_flags = input_flags(pooled, min_n=3)
    return x, fs, flags + tuple(f for f in ref_flags if f not in flags)


def tts_moving_rms(
    trace: ArrayLike,
    fs: float,
    reference: QuietReference,
    *,
    unit: str,
    window_s: float = DEFAULT_RMS_WINDOW_S,
    k_sd: float = DEFAULT_K_SD,
    level_s: float = DEFAULT_LEVEL_S,
    min_excursion_s: float = DEFAULT_MIN_EXCURSION_S,
) -> Metric:
    """TTS (s from impact): the centred moving RMS stays <= mean + k_sd·SD of the reference's.

    Later excursions above the threshold shorter than `min_excursion_s` do not count.
    """
    fs = check_positive("fs", fs)
    window_s = check_positive("window_s", window_s)
    check_nonnegative("min_excursion_s", min_excursion_s, "s")
    settings: dict[str, SettingValue] = {
        "fs": float(fs),
        "window_s": window_s,
        "k_sd": float(k_sd),
        "level_s": float(level_s),
        "min_excursion_s": float(min_excursion_s),
        "min_dip_s": window_s / 2,
        "reference": reference.source,
        "reference_traces": len(reference.traces),
        "reference_s": reference.n_samples / fs,
        "rule": "remains_below_to_end",
        "unit": unit,
        "interval_method": tts_interval.METHOD,
        "interval_replicates": tts_interval.DEFAULT_REPLICATES,
        "interval_block_s": tts_interval.DEFAULT_BLOCK_S,
    }
    x, fs, flags = _checked(trace, reference, fs, window_s)
    settings["n"] = x.shape[0]
    if flags:
        return missing("s", "moving_rms", settings, flags)
    pieces = reference_envelopes(reference, fs, window_s)
    pooled = np.concatenate(pieces)
    threshold = float(np.mean(pooled) + k_sd * np.std(pooled, ddof=1))
    centred = _about_level(x, fs, check_positive("level_s", level_s))
    envelope = moving_rms(centred, fs, window_s)
    half = max(1, round(window_s * fs / 2))
    judged = envelope[: envelope.size - half]

    def crossing(e: FloatArray, thr: FloatArray) -> list[float | None]:
        return settled_from_rows(e, thr, fs, min_excursion_s, min_dip_s=window_s / 2)

    value = crossing(judged[None], np.array([threshold]))[0]
    interval = tts_interval.interval_90(
        centred,
        n_judged=judged.size,
        reference=_reference_sway(reference),
        envelopes=pieces,
        fs=fs,
        crossing=crossing,
        window_s=window_s,
        k_sd=k_sd,
    )
    details = {"threshold": threshold, "window_end_s": x.shape[0] / fs}
    if value is None:
        flag = make_flag(QualityCode.NEVER_STABILIZED, f"threshold {threshold:.4g} {unit}")
        return Metric(None, "s", "moving_rms", settings, (flag,), details, interval)
    return Metric(value, "s", "moving_rms", settings, (), details, interval)


def polynomial_crossing(
    rectified: FloatArray, fs: float, threshold: float, degree: int = 3
) -> float | None:
    """First time (s) an unbounded least-squares polynomial fit of `rectified` is <= threshold.

    Searched on the sample grid of the window; None if the fit stays above it.
    """
    t = np.arange(rectified.size) / fs
    fit = np.polynomial.Polynomial.fit(t, rectified, degree)
    below = np.flatnonzero(fit(t) <= threshold)
    return float(t[below[0]]) if below.size else None


def tts_ross_polynomial(
    trace: ArrayLike,
    fs: float,
    reference: QuietReference,
    *,
    unit: str,
    level_s: float = DEFAULT_LEVEL_S,
) -> Metric:
    """Ross & Guskiewicz TTS (s): cubic fit of |x − level| falls to the reference's range.

    2-D: resultant vector √(TTS_AP² + TTS_ML²), per-axis values as details `ap_s`, `ml_s`.
    """
    fs = check_positive("fs", fs)
    settings: dict[str, SettingValue] = {
        "fs": float(fs),
        "degree": 3,
        "level_s": float(level_s),
        "reference": reference.source,
        "reference_traces": len(reference.traces),
        "reference_s": reference.n_samples / fs,
        "threshold": "mean_reference_range_of_variation",
        "unit": unit,
    }
    x, fs, flags = _checked(trace, reference, fs, 0.5)
    settings["n"] = x.shape[0]
    if flags:
        return missing("s", "ross_polynomial", settings, flags)
    centred = _about_level(x, fs, check_positive("level_s", level_s))
    columns = centred.reshape(centred.shape[0], -1)
    ranges = np.mean([np.ptp(t.reshape(t.shape[0], -1), axis=0) for t in reference.traces], axis=0)
    names = ("ap_s", "ml_s") if columns.shape[1] == 2 else ("axis_s",)
    times: dict[str, float] = {}
    for c, name in enumerate(names[: columns.shape[1]]):
        threshold = float(ranges[c])
        crossing = polynomial_crossing(np.abs(columns[:, c]), fs, threshold)
        if crossing is None:
            flag = make_flag(QualityCode.NEVER_STABILIZED, f"{name[:-2]} fit stays above range")
            return Metric(None, "s", "ross_polynomial", settings, (flag,), times)
        times[name] = crossing
    value = math.sqrt(sum(v * v for v in times.values()))
    return Metric(value, "s", "ross_polynomial", settings, (), times if len(times) > 1 else {})


def time_to_stabilization(
    trace: ArrayLike,
    fs: float,
    reference: QuietReference,
    *,
    unit: str,
    method: TtsMethod = "moving_rms",
    window_s: float = DEFAULT_RMS_WINDOW_S,
    k_sd: float = DEFAULT_K_SD,
    level_s: float = DEFAULT_LEVEL_S,
    min_excursion_s: float = DEFAULT_MIN_EXCURSION_S,
) -> Metric:
    """The `tts` metric (s from impact) by the named method (see the module docstring)."""
    check_choice("method", method, TTS_METHODS)
    if method == "ross_polynomial":
        return tts_ross_polynomial(trace, fs, reference, unit=unit, level_s=level_s)
    return tts_moving_rms(
        trace,
        fs,
        reference,
        unit=unit,
        window_s=window_s,
        k_sd=k_sd,
        level_s=level_s,
        min_excursion_s=min_excursion_s,
    )


# ---------------------------------------------------------------- impact measures


def _acc3(acc_ms2: ArrayLike) -> FloatArray:
    acc = as_float_array("acc_ms2", acc_ms2, ndim=2)
    if acc.shape[1] != 3:
        raise InvalidArgumentError(f"acc_ms2 must be (n, 3) in m/s^2, got shape {acc.shape}")
    return acc


def peak_acc(acc_ms2: ArrayLike, fs: float, *, search_s: float = DEFAULT_PEAK_SEARCH_S) -> Metric:
    """`peak_acc` (m/s^2): peak resultant accelerometer reading ‖a‖ in the first `search_s`.

    `acc_ms2` (n, 3) starts at the impact; use unfiltered samples (a low-pass flattens the peak).
    """
    acc = _acc3(acc_ms2)
    fs = check_positive("fs", fs)
    n = max(1, round(check_positive("search_s", search_s) * fs))
    head = acc[:n]
    settings: dict[str, SettingValue] = {"fs": fs, "search_s": float(search_s), "n": head.shape[0]}
    flags = input_flags(head.reshape(-1), min_n=1)
    if flags:
        return missing("m/s^2", "peak_resultant", settings, flags)
    return Metric(float(np.max(np.linalg.norm(head, axis=1))), "m/s^2", "peak_resultant", settings)


def dpsi(
    acc_level_ms2: ArrayLike,
    fs: float,
    *,
    window_s: float = DEFAULT_DPSI_WINDOW_S,
    gravity_ms2: float = STANDARD_GRAVITY_MS2,
) -> Metric:
    """IMU dynamic postural stability index (1): √(mean‖a − g‖²)/g over `window_s` after impact.

    `acc_level_ms2` (n, 3) is the accelerometer reading (specific force) in a level frame with z
    up, starting at the impact; at rest it reads (0, 0, g), so a − g is the linear acceleration.
    """
    acc = _acc3(acc_level_ms2)
    fs = check_positive("fs", fs)
    g = check_positive("gravity_ms2", gravity_ms2)
    n = round(check_positive("window_s", window_s) * fs)
    settings: dict[str, SettingValue] = {"fs": fs, "window_s": float(window_s), "gravity_ms2": g}
    if acc.shape[0] < n:
        flag = make_flag(QualityCode.TOO_SHORT, f"{acc.shape[0]} samples < {n} ({window_s:g} s)")
        return missing("1", "imu_dpsi", settings, (flag,))
    head = acc[:n]
    flags = input_flags(head.reshape(-1), min_n=1)
    if flags:
        return missing("1", "imu_dpsi", settings, flags)
    linear = head - np.array([0.0, 0.0, g])
    value = math.sqrt(float(np.mean(np.sum(linear**2, axis=1)))) / g
    return Metric(value, "1", "imu_dpsi", settings)
