"""Pre-processing: uniform resampling with honest gaps, zero-lag low-pass, detrend, tilt correction.

Arrays are (n,) or (n, channels) with time along axis 0. NaN marks a missing sample everywhere:
gaps are never bridged by interpolation beyond `max_gap_s`, and filters work on each gap-free
segment separately.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

from balancelab.dsp.quality import as_float_array, detect_gaps, find_gaps
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    FloatArray,
    QualityCode,
    QualityFlag,
    check_int,
    check_positive,
    make_flag,
)

DEFAULT_FS_HZ = 100.0
DEFAULT_MAX_GAP_S = 0.1


# ---------------------------------------------------------------- resampling


@dataclass(frozen=True)
class Resampled:
    """Samples on a uniform grid `time_s` (starting at the first valid input sample).

    `values` has the input's shape along axis 1 and NaN inside every gap; `gaps` lists the
    (last valid time before, first valid time after) of each gap longer than max_gap_s.
    """

    time_s: FloatArray
    values: FloatArray
    gaps: tuple[tuple[float, float], ...]
    fs_hz: float
    quality: tuple[QualityFlag, ...] = ()


def resample_uniform(
    time_s: ArrayLike,
    values: ArrayLike,
    fs_hz: float = DEFAULT_FS_HZ,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> Resampled:
    """Linear interpolation onto a uniform `fs_hz` grid, without bridging gaps > `max_gap_s`.

    A row with any NaN counts as a lost sample. Grid points strictly inside a gap between valid
    rows that are more than `max_gap_s` apart become NaN, and the gap is reported.
    """
    t = as_float_array("time_s", time_s, ndim=1)
    x = as_float_array("values", values, ndim=(1, 2))
    fs = check_positive("fs_hz", fs_hz)
    max_gap = check_positive("max_gap_s", max_gap_s)
    if x.shape[0] != t.size:
        raise InvalidArgumentError(
            f"values has {x.shape[0]} rows but time_s has {t.size} samples (one row per time)"
        )
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise InvalidArgumentError("time_s must be finite and strictly increasing")
    table = _as_table(x)
    valid = np.all(np.isfinite(table), axis=1)
    tv, xv = t[valid], table[valid]
    if tv.size == 0:
        flag = make_flag(QualityCode.NAN_INPUT, "no valid sample to resample")
        empty = np.empty((0, *x.shape[1:]), dtype=np.float64)
        return Resampled(np.empty(0), empty, (), fs, (flag,))
    n = int(np.floor((tv[-1] - tv[0]) * fs + 1e-9)) + 1
    grid = tv[0] + np.arange(n) / fs
    out = np.column_stack([np.interp(grid, tv, xv[:, c]) for c in range(xv.shape[1])])
    gaps = find_gaps(tv, max_gap)
    for start, end in gaps:
        out[(grid > start) & (grid < end)] = np.nan
    gap_flag = detect_gaps(tv, max_gap)
    quality = (gap_flag,) if gap_flag is not None else ()
    return Resampled(grid, out.reshape(n, *x.shape[1:]), gaps, fs, quality)


# ---------------------------------------------------------------- filters and detrend


def finite_segments(x: ArrayLike) -> list[slice]:
    """Slices of the runs of finite values of a 1-D array (the gap-free segments)."""
    finite = np.isfinite(as_float_array("x", x, ndim=1)).astype(np.int8)
    edges = np.diff(np.concatenate([[0], finite, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


@functools.lru_cache(maxsize=64)
def butterworth_lowpass_sos(order: int, cutoff_hz: float, fs: float) -> FloatArray:
    """Second-order sections of a Butterworth low-pass, designed once per settings (shared:
    callers must not modify it; scipy's filters only read it)."""
    return np.asarray(signal.butter(order, cutoff_hz, btype="low", fs=fs, output="sos"))


@functools.lru_cache(maxsize=16)
def lowpass_min_samples(order: int = 4) -> int:
    """Shortest segment (samples) `lowpass` filters; shorter ones become NaN.

    sosfiltfilt pads each end by 3·(2·sections + 1 − trailing zero coefficients) samples and
    needs more samples than that.
    """
    sos = butterworth_lowpass_sos(order, 0.25, 1.0)
    zeros = min(int(np.sum(sos[:, 2] == 0)), int(np.sum(sos[:, 5] == 0)))
    return 3 * (2 * len(sos) + 1 - zeros) + 1


def lowpass(x: ArrayLike, fs: float, cutoff_hz: float, order: int = 4) -> FloatArray:
    """Zero-lag Butterworth low-pass (sosfiltfilt, effective order 2·`order`) along axis 0.

    Each gap-free (finite) segment of each column is filtered on its own. A segment shorter than
    `lowpass_min_samples(order)` cannot be filtered without edge artefacts and is set to NaN.

    Raises:
        InvalidArgumentError: `fs` or `cutoff_hz` is not positive, `cutoff_hz` is at or above
            fs/2, or `order` is not an integer from 1 to 10.
    """
    values = as_float_array("x", x, ndim=(1, 2))
    fs = check_positive("fs", fs)
    cutoff = check_positive("cutoff_hz", cutoff_hz)
    if cutoff >= fs / 2:
        raise InvalidArgumentError(
            f"cutoff_hz must be below the Nyquist frequency fs/2 = {fs / 2:g}, got {cutoff_hz!r}"
        )
    order = check_int("order", order, 1, 10)
    sos = butterworth_lowpass_sos(order, cutoff, fs)
    minimum = lowpass_min_samples(int(order))
    table = _as_table(values)
    out = np.full_like(table, np.nan)
    finite = np.isfinite(table)
    for columns in _same_gaps(finite):
        # One call per segment for all columns that share its gaps (a trace's AP and ML are
        # lost together): sosfiltfilt filters each column on its own, so the values are the
        # same as column by column, in a fraction of the calls.
        for segment in finite_segments(np.where(finite[:, columns[0]], 0.0, np.nan)):
            if segment.stop - segment.start >= minimum:
                out[segment, columns] = signal.sosfiltfilt(sos, table[segment, columns], axis=0)
    return out.reshape(values.shape)


def _same_gaps(finite: NDArray[np.bool_]) -> list[list[int]]:
    """The columns of a (n, c) finiteness mask grouped by identical masks, in column order."""
    groups: dict[bytes, list[int]] = {}
    for c in range(finite.shape[1]):
        groups.setdefault(np.packbits(finite[:, c]).tobytes(), []).append(c)
    return list(groups.values())


def detrend_linear(x: ArrayLike) -> FloatArray:
    """Remove the least-squares line (against the sample index) from each column, axis 0.

    NaN samples stay NaN and are ignored by the fit, so a trace with gaps keeps one line. A
    column with a single finite sample becomes 0 there.
    """
    values = as_float_array("x", x, ndim=(1, 2))
    table = _as_table(values).copy()
    index = np.arange(table.shape[0], dtype=np.float64)
    for c in range(table.shape[1]):
        finite = np.isfinite(table[:, c])
        if not np.any(finite):
            continue
        i, y = index[finite], table[finite, c]
        i_mean, y_mean = float(np.mean(i)), float(np.mean(y))
        spread = float(np.sum((i - i_mean) ** 2))
        slope = float(np.sum((i - i_mean) * (y - y_mean))) / spread if spread > 0 else 0.0
        table[:, c] -= y_mean + slope * (index - i_mean)
    return table.reshape(values.shape)


def _as_table(x: FloatArray) -> FloatArray:
    """A (n,) or (n, c) array as (n, c) columns (a view)."""
    return x[:, np.newaxis] if x.ndim == 1 else x


# ---------------------------------------------------------------- static tilt correction


class ApMl(NamedTuple):
    """Horizontal components: AP (forward +) and ML (left +), in the input unit."""

    ap: FloatArray
    ml: FloatArray


def gravity_alignment(
    acc_quiet: ArrayLike, *, forward_axis: ArrayLike = (1.0, 0.0, 0.0)
) -> FloatArray:
    """Rotation (3×3, sensor → body-level frame) from a still window of accelerometer samples.

    The level frame is x = AP (forward), y = ML (left), z = up, right-handed. Up is the mean
    specific force of `acc_quiet` (n, 3), which points up when still, whatever the mounting.
    AP is `forward_axis` (a sensor-frame vector pointing roughly forward) projected onto the
    horizontal plane. `rotation @ a_sensor` gives the level-frame vector. Rows with NaN are
    ignored.
    """
    acc = as_float_array("acc_quiet", acc_quiet, ndim=2)
    forward = as_float_array("forward_axis", forward_axis, ndim=1)
    if acc.shape[1] != 3 or forward.size != 3:
        raise InvalidArgumentError(
            f"acc_quiet must be (n, 3) and forward_axis a 3-vector, got {acc.shape} and "
            f"{forward.shape}"
        )
    rows = acc[np.all(np.isfinite(acc), axis=1)]
    mean = np.mean(rows, axis=0) if rows.shape[0] else np.zeros(3)
    norm = float(np.linalg.norm(mean))
    if not (np.isfinite(norm) and norm > 0):
        raise InvalidArgumentError(
            "acc_quiet must hold at least one finite sample with a non-zero mean (gravity); "
            f"got {rows.shape[0]} finite rows with mean {mean}"
        )
    up = mean / norm
    horizontal = forward - float(np.dot(forward, up)) * up
    length = float(np.linalg.norm(horizontal))
    if not (np.isfinite(length) and length > 0.1 * float(np.linalg.norm(forward))):
        raise InvalidArgumentError(
            f"forward_axis {forward.tolist()} is within 6° of vertical (up is {up.round(3)}); "
            "pass the sensor axis that points forward, e.g. (0, 0, 1)"
        )
    ap = horizontal / length
    ml = np.cross(up, ap)
    return np.vstack([ap, ml, up])


def horizontal_acceleration(acc: ArrayLike, rotation: ArrayLike) -> ApMl:
    """AP and ML acceleration (input unit, e.g. m/s^2) in the level frame of `rotation`.

    Gravity lies along the level z axis, so it drops out of both horizontal components; the
    part of trunk tilt that tilts gravity (g·sin θ) stays in, as in ISway-style static correction.
    """
    samples = as_float_array("acc", acc, ndim=2)
    matrix = as_float_array("rotation", rotation, ndim=2)
    if samples.shape[1] != 3 or matrix.shape != (3, 3):
        raise InvalidArgumentError(
            f"acc must be (n, 3) and rotation 3×3, got {samples.shape} and {matrix.shape}"
        )
    level = samples @ matrix.T
    return ApMl(np.ascontiguousarray(level[:, 0]), np.ascontiguousarray(level[:, 1]))
