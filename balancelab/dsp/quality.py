"""Quality checks on arrays: each returns a flag (`balancelab.model.QualityFlag`) or None.

A flag says why a value is missing or doubtful; it never replaces the value by a guess. The
argument helpers at the end turn caller mistakes into `InvalidArgumentError`s that name the
parameter, its value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from balancelab.errors import InvalidArgumentError
from balancelab.model import FloatArray, QualityCode, QualityFlag, check_positive, make_flag

RATE_TOLERANCE = 0.1
"""Largest relative difference between a stream's nominal SamplingFrequency and the median rate
of its time column that is still accepted without a `rate_mismatch` flag. Sensor crystals drift
by < 0.01 %, and BLE sensors and phones deliver within a few % of the rate they announce (the
simulator's jitter included); a wrong declaration (a period written as a rate, kHz for Hz, the
rate asked for but not granted) is off by far more than 10 %."""
MAX_ABS_VALUE = 1e100
"""Inputs beyond this magnitude are flagged `out_of_range` instead of overflowing."""
INT16_RAILS = (-32768.0, 32767.0)
"""The rails of a signed 16-bit converter, for `detect_saturation` on raw counts."""


# ---------------------------------------------------------------- checks on arrays


def find_gaps(time_s: ArrayLike, max_gap_s: float) -> tuple[tuple[float, float], ...]:
    """Intervals (last sample before, first sample after) in s where Δt exceeds `max_gap_s`."""
    t = as_float_array("time_s", time_s, ndim=1)
    check_positive("max_gap_s", max_gap_s)
    if t.size < 2:
        return ()
    steps = np.diff(t)
    index = np.flatnonzero(steps > max_gap_s)
    return tuple((float(t[i]), float(t[i + 1])) for i in index)


def detect_gaps(time_s: ArrayLike, max_gap_s: float) -> QualityFlag | None:
    """A `gap` flag when consecutive time stamps are more than `max_gap_s` apart."""
    gaps = find_gaps(time_s, max_gap_s)
    if not gaps:
        return None
    longest = max(end - start for start, end in gaps)
    return make_flag(
        QualityCode.GAP, f"{len(gaps)} gap(s) > {max_gap_s:g} s, longest {longest:.3g} s"
    )


def saturated_mask(
    x: ArrayLike, full_scale: float | tuple[float, float], *, margin: float = 0.0
) -> NDArray[np.bool_]:
    """True where a sample sits at a rail of the measuring range (within `margin`).

    `full_scale` is a symmetric limit (±full_scale) or the (low, high) rails, e.g. `INT16_RAILS`.
    """
    values = np.asarray(x, dtype=np.float64)
    low, high = _rails(full_scale)
    if not (np.isfinite(margin) and 0 <= margin < (high - low) / 2):
        raise InvalidArgumentError(
            f"margin must be >= 0 and below half the range ({(high - low) / 2:g}), got {margin!r}"
        )
    finite = np.isfinite(values)
    return finite & ((values >= high - margin) | (values <= low + margin))


def detect_saturation(
    x: ArrayLike, full_scale: float | tuple[float, float], *, margin: float = 0.0
) -> QualityFlag | None:
    """A `saturation` flag when any sample sits at a rail of the measuring range."""
    mask = saturated_mask(x, full_scale, margin=margin)
    count = int(np.count_nonzero(mask))
    if count == 0:
        return None
    return make_flag(QualityCode.SATURATION, f"{count} of {mask.size} samples at the rail")


def detect_nan(x: ArrayLike) -> QualityFlag | None:
    """A `nan_input` flag when any value is NaN or infinite."""
    values = np.asarray(x, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad == 0:
        return None
    return make_flag(QualityCode.NAN_INPUT, f"{bad} of {values.size} values")


def detect_too_short(duration_s: float, min_duration_s: float) -> QualityFlag | None:
    """A `too_short` flag when the analysed duration is below `min_duration_s`."""
    if duration_s >= min_duration_s:
        return None
    return make_flag(QualityCode.TOO_SHORT, f"{duration_s:.3g} s < {min_duration_s:.3g} s")


def detect_not_still_at_start(
    x: ArrayLike, fs: float, *, window_s: float, max_sd: float
) -> QualityFlag | None:
    """A `not_still_at_start` flag when a column's SD over the first `window_s` exceeds `max_sd`.

    `x` is (n,) or (n, channels) in any unit; `max_sd` is in the same unit.
    """
    values = as_float_array("x", x, ndim=(1, 2))
    values = values[:, np.newaxis] if values.ndim == 1 else values
    check_positive("fs", fs)
    check_positive("window_s", window_s)
    check_positive("max_sd", max_sd)
    n = round(window_s * fs)
    head = values[:n]
    if head.shape[0] < 2 or not np.all(np.isfinite(head)):
        return make_flag(QualityCode.NOT_STILL_AT_START, "the start window is short or has gaps")
    sd = float(np.max(np.std(head, axis=0, ddof=1)))
    if sd <= max_sd:
        return None
    return make_flag(QualityCode.NOT_STILL_AT_START, f"SD {sd:.3g} > {max_sd:.3g}")


def detect_too_few_trials(n_trials: int, minimum: int) -> QualityFlag | None:
    """A `too_few_trials` flag when fewer than `minimum` valid trials are averaged."""
    if n_trials >= minimum:
        return None
    return make_flag(QualityCode.TOO_FEW_TRIALS, f"{n_trials} < {minimum}")


def median_rate_hz(time_s: ArrayLike) -> float | None:
    """1 / median(Δt) of increasing time stamps (Hz); None with fewer than 2 samples.

    The median ignores the long steps of lost samples (while fewer than half are lost).
    """
    t = as_float_array("time_s", time_s, ndim=1)
    if t.size < 2:
        return None
    step = float(np.median(np.diff(t)))
    return 1.0 / step if step > 0 else None


def detect_rate_mismatch(
    time_s: ArrayLike, nominal_fs_hz: float, *, tolerance: float = RATE_TOLERANCE
) -> QualityFlag | None:
    """A `rate_mismatch` flag when the nominal rate (Hz) and the time column's median rate differ
    by more than `tolerance` (relative to the time column's)."""
    check_positive("nominal_fs_hz", nominal_fs_hz)
    check_positive("tolerance", tolerance)
    measured = median_rate_hz(time_s)
    if measured is None or abs(nominal_fs_hz - measured) <= tolerance * measured:
        return None
    return make_flag(
        QualityCode.RATE_MISMATCH,
        f"SamplingFrequency {nominal_fs_hz:.4g} Hz, time stamps {measured:.4g} Hz,"
        f" more than {100 * tolerance:.3g} % apart",
    )


def detect_outside_recording(
    span_s: tuple[float, float], first_s: float, last_s: float, *, tolerance_s: float
) -> QualityFlag | None:
    """An `outside_recording` flag when a trial's (onset, end) in s leaves the recorded samples
    (`first_s`..`last_s`) by more than `tolerance_s`."""
    onset_s, end_s = span_s
    if first_s - tolerance_s <= onset_s and end_s <= last_s + tolerance_s:
        return None
    return make_flag(
        QualityCode.OUTSIDE_RECORDING,
        f"trial {onset_s:.6g}..{end_s:.6g} s, samples {first_s:.6g}..{last_s:.6g} s",
    )


def detect_overlaps(
    spans_s: Sequence[tuple[float, float] | None], *, tolerance_s: float
) -> dict[int, QualityFlag]:
    """An `overlap` flag for every trial whose (onset, end) in s overlaps another's, keyed by its
    index in `spans_s` (None entries take no part): one starts more than `tolerance_s` before the
    other, which started no later, ends.

    One sweep by onset: a trial overlaps an earlier one exactly when it starts before the latest
    end so far, and then it overlaps the trial with that end, which is flagged too.
    """
    # Of trials with one onset the longest comes first, so that the others start before its end.
    order = sorted((s[0], -s[1], i) for i, s in enumerate(spans_s) if s is not None)
    flags: dict[int, QualityFlag] = {}
    latest: tuple[float, float, int] | None = None
    for onset_s, minus_end_s, index in order:
        end_s = -minus_end_s
        if latest is not None and latest[1] - onset_s > tolerance_s:
            flags.setdefault(index, _overlap_flag(latest))
            flags.setdefault(latest[2], _overlap_flag((onset_s, end_s, index)))
        if latest is None or end_s > latest[1]:
            latest = (onset_s, end_s, index)
    return flags


def _overlap_flag(other: tuple[float, float, int]) -> QualityFlag:
    onset_s, end_s, index = other
    return make_flag(QualityCode.OVERLAP, f"with trial {index + 1} at {onset_s:.6g}..{end_s:.6g} s")


# ---------------------------------------------------------------- argument checks


def as_float_array(name: str, x: ArrayLike, *, ndim: int | tuple[int, ...]) -> FloatArray:
    """`x` as a float64 array with the allowed number of dimensions, else InvalidArgumentError."""
    try:
        values = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be an array of numbers, got {x!r:.80}") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if values.ndim not in allowed:
        raise InvalidArgumentError(
            f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
            f"got shape {values.shape}"
        )
    return values


def paired_arrays(
    name_a: str, a: ArrayLike, name_b: str, b: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Two 1-D float arrays of equal length (e.g. AP and ML), else InvalidArgumentError."""
    first = as_float_array(name_a, a, ndim=1)
    second = as_float_array(name_b, b, ndim=1)
    if first.shape != second.shape:
        raise InvalidArgumentError(
            f"{name_a} and {name_b} must have the same length, "
            f"got {first.size} and {second.size} samples"
        )
    return first, second


def input_flags(*arrays: FloatArray, min_n: int) -> tuple[QualityFlag, ...]:
    """Flags that make a measure impossible: too few samples, NaN/inf, absurd magnitudes."""
    n = arrays[0].size
    if n < min_n:
        return (make_flag(QualityCode.TOO_SHORT, f"{n} samples, at least {min_n} needed"),)
    bad = sum(int(np.count_nonzero(~np.isfinite(x))) for x in arrays)
    if bad:
        return (make_flag(QualityCode.NAN_INPUT, f"{bad} non-finite values"),)
    if max(float(np.max(np.abs(x))) for x in arrays) > MAX_ABS_VALUE:
        return (make_flag(QualityCode.OUT_OF_RANGE, f"|value| > {MAX_ABS_VALUE:g}"),)
    return ()


def _rails(full_scale: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(full_scale, tuple):
        low, high = (float(v) for v in full_scale)
    else:
        high = check_positive("full_scale", full_scale)
        low = -high
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidArgumentError(
            f"full_scale must be a number > 0 or finite (low, high) rails with low < high, "
            f"got {full_scale!r}"
        )
    return low, high
