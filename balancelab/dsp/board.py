"""Wobble-board indices from board tilt (deg): stability indices, time in zone, edge contacts.

Pitch (AP) and roll (ML) are measured from level (the calibrated zero), not from their mean,
so a constant lean counts (Arnold & Schmitz 1998; science/METRICS.md). The tilt magnitude is
sqrt(pitch² + roll²), the resultant used by the Biodex indices; it differs from the exact angle
of the board normal by < 0.1° below 20° of tilt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from balancelab.dsp.quality import as_float_array, input_flags, paired_arrays
from balancelab.dsp.results import missing
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    FloatArray,
    Metric,
    QualityFlag,
    SettingValue,
    check_nonnegative,
    check_positive,
)

DEFAULT_ZONE_DEG = 5.0
DEFAULT_EDGE_TOLERANCE_DEG = 1.0
DEFAULT_MIN_SEPARATION_S = 0.2


def stability_index(pitch_deg: ArrayLike, roll_deg: ArrayLike) -> Metric:
    """Overall stability index sqrt(mean(pitch² + roll²)) about level, in deg."""
    pitch, roll = paired_arrays("pitch_deg", pitch_deg, "roll_deg", roll_deg)
    return _rms_about_level((pitch, roll), "overall_stability_index")


def ap_stability_index(pitch_deg: ArrayLike) -> Metric:
    """AP stability index sqrt(mean(pitch²)) about level, in deg."""
    pitch = as_float_array("pitch_deg", pitch_deg, ndim=1)
    return _rms_about_level((pitch,), "ap_stability_index")


def ml_stability_index(roll_deg: ArrayLike) -> Metric:
    """ML stability index sqrt(mean(roll²)) about level, in deg."""
    roll = as_float_array("roll_deg", roll_deg, ndim=1)
    return _rms_about_level((roll,), "ml_stability_index")


def _rms_about_level(axes: tuple[FloatArray, ...], method: str) -> Metric:
    settings: dict[str, SettingValue] = {"n": axes[0].size, "reference": "level"}
    flags = input_flags(*axes, min_n=1)
    if flags:
        return missing("deg", method, settings, flags)
    mean_square = sum(float(np.mean(axis**2)) for axis in axes)
    return Metric(float(np.sqrt(mean_square)), "deg", method, settings)


def time_in_zone(
    pitch_deg: ArrayLike, roll_deg: ArrayLike, *, zone_deg: float = DEFAULT_ZONE_DEG
) -> Metric:
    """Share of samples (%) whose tilt magnitude is <= `zone_deg` (Biodex zone A: 5°)."""
    pitch, roll = paired_arrays("pitch_deg", pitch_deg, "roll_deg", roll_deg)
    zone = check_positive("zone_deg", zone_deg)
    settings: dict[str, SettingValue] = {"n": pitch.size, "zone_deg": zone}
    flags = input_flags(pitch, roll, min_n=1)
    if flags:
        return missing("%", "time_in_zone", settings, flags)
    inside = np.count_nonzero(np.hypot(pitch, roll) <= zone)
    return Metric(100.0 * inside / pitch.size, "%", "time_in_zone", settings)


@dataclass(frozen=True)
class EdgeContacts:
    """Contacts of the board's rim with the floor in a window.

    `intervals_s` are (start_s, end_s) from the first sample of the window (t = index/fs), end
    exclusive: a contact of k samples lasts k/fs. Contacts closer than the minimum separation are
    merged into one. `total_time_s` counts only the samples on the edge. None when unknown.
    """

    intervals_s: tuple[tuple[float, float], ...] | None
    total_time_s: float | None
    settings: dict[str, SettingValue]
    quality: tuple[QualityFlag, ...] = ()

    @property
    def count(self) -> int | None:
        return None if self.intervals_s is None else len(self.intervals_s)

    def metric(self) -> Metric:
        """The `edge_contacts` metric (count), with the total time on the edge as a detail."""
        if self.count is None or self.total_time_s is None:
            return missing("count", "edge_contacts", self.settings, self.quality)
        details = {"total_time_s": self.total_time_s}
        return Metric(self.count, "count", "edge_contacts", self.settings, self.quality, details)


def detect_edge_contacts(
    pitch_deg: ArrayLike,
    roll_deg: ArrayLike,
    fs: float,
    *,
    max_tilt_deg: float,
    tolerance_deg: float = DEFAULT_EDGE_TOLERANCE_DEG,
    min_separation_s: float = DEFAULT_MIN_SEPARATION_S,
) -> EdgeContacts:
    """Edge contacts: tilt magnitude >= `max_tilt_deg` − `tolerance_deg` (max tilt per board).

    Runs of contact samples separated by less than `min_separation_s` count as one contact, so
    a rim that chatters on the floor is not counted twice. A contact already under way at the
    start of the window counts.
    """
    pitch, roll = paired_arrays("pitch_deg", pitch_deg, "roll_deg", roll_deg)
    fs = check_positive("fs", fs)
    max_tilt = check_positive("max_tilt_deg", max_tilt_deg)
    tolerance = check_positive("tolerance_deg", tolerance_deg)
    if tolerance >= max_tilt:
        raise InvalidArgumentError(
            f"tolerance_deg must be below max_tilt_deg ({max_tilt:g}), got {tolerance_deg!r}"
        )
    check_nonnegative("min_separation_s", min_separation_s, "s")
    settings: dict[str, SettingValue] = {
        "fs": fs,
        "n": pitch.size,
        "max_tilt_deg": max_tilt,
        "tolerance_deg": tolerance,
        "min_separation_s": float(min_separation_s),
    }
    flags = input_flags(pitch, roll, min_n=1)
    if flags:
        return EdgeContacts(None, None, settings, flags)
    on_edge = np.hypot(pitch, roll) >= max_tilt - tolerance
    intervals = _merge(_runs(on_edge, fs), min_separation_s)
    return EdgeContacts(intervals, int(np.count_nonzero(on_edge)) / fs, settings)


def _runs(mask: NDArray[np.bool_], fs: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of each run of True, end exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(float(s / fs), float(e / fs)) for s, e in zip(starts, ends, strict=True)]


def _merge(
    intervals: list[tuple[float, float]], min_separation_s: float
) -> tuple[tuple[float, float], ...]:
    merged: list[tuple[float, float]] = []
    for start, end in intervals:
        if merged and start - merged[-1][1] < min_separation_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)
