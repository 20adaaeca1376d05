"""The decode state of a live stream across packets: increasing times with lost samples as NaN
rows (`Timeline`, `gap_rows`), and ACC/GYRO pairing of a Polar sensor (`AccGyroMerger`).

Pure: arrays in, arrays out; times in s (session clock for `Timeline`, device clock for the
merger), values in SI.
"""

from __future__ import annotations

import numpy as np

from balancelab.devices.polar_control import MeasurementType
from balancelab.model import FloatArray

MAX_FILL_S = 30.0
"""Longest gap (s) filled with NaN rows; a longer one is a discontinuity in time only."""


class Timeline:
    """Session times of delivered samples: keeps them increasing and fills gaps with NaN rows
    of `n_channels` columns."""

    def __init__(self, n_channels: int = 0) -> None:
        self.n_channels = n_channels
        self.last_time_s: float | None = None

    def rows(
        self, time_s: FloatArray, values: FloatArray, nan_rows: int
    ) -> tuple[FloatArray, FloatArray]:
        """Samples at `time_s` after `nan_rows` lost ones (spaced evenly before them): the
        times (s, strictly after the last ones delivered) and values to deliver."""
        last = self.last_time_s
        if last is not None:
            floor = last + 1e-6 * np.arange(1, time_s.size + 1)
            time_s = np.maximum.accumulate(np.maximum(time_s, floor))
        if nan_rows > 0 and last is not None:
            gap_times = last + (time_s[0] - last) * np.arange(1, nan_rows + 1) / (nan_rows + 1)
            time_s = np.concatenate([gap_times, time_s])
            values = np.vstack([np.full((nan_rows, self.n_channels), np.nan), values])
        self.last_time_s = float(time_s[-1])
        return time_s, values


def gap_rows(gap_s: float, fs_hz: float) -> int:
    """Samples missing between two samples `gap_s` apart at `fs_hz` (0 past `MAX_FILL_S`)."""
    missing = round(gap_s * fs_hz) - 1
    return missing if 0 < missing <= MAX_FILL_S * fs_hz else 0


class AccGyroMerger:
    """Pairs ACC and GYRO samples of one Polar sensor (same rate `fs_hz`) by device time into
    rows of 6 channels; a sample without a partner within half a period gets NaN for the
    other. `measurements` gives the column order (ACC first)."""

    def __init__(self, measurements: tuple[MeasurementType, ...], fs_hz: float) -> None:
        self.order = measurements
        self.half_period_s = 0.5 / fs_hz
        self.pending: dict[MeasurementType, list[tuple[float, FloatArray]]] = {
            m: [] for m in measurements
        }
        self.last_s: dict[MeasurementType, float | None] = {m: None for m in measurements}

    def add(
        self, measurement: MeasurementType, device_s: FloatArray, values: FloatArray, lost: int
    ) -> tuple[FloatArray, FloatArray]:
        """Samples of one measurement (`lost` missing before them) → the rows now paired:
        device times (s) and (n, 6) values."""
        queue = self.pending[measurement]
        last = self.last_s[measurement]
        if lost and last is not None:
            gap = last + (device_s[0] - last) * np.arange(1, lost + 1) / (lost + 1)
            queue.extend((float(t), np.full(3, np.nan)) for t in gap)
        queue.extend(zip(device_s.tolist(), values, strict=True))
        self.last_s[measurement] = float(device_s[-1])
        return self._emit()

    def _emit(self) -> tuple[FloatArray, FloatArray]:
        acc, gyr = (self.pending[m] for m in self.order)
        times: list[float] = []
        rows: list[FloatArray] = []
        nan3 = np.full(3, np.nan)
        while acc and gyr:
            (ta, va), (tg, vg) = acc[0], gyr[0]
            if abs(ta - tg) <= self.half_period_s:
                times.append(ta)
                rows.append(np.concatenate([va, vg]))
                acc.pop(0)
                gyr.pop(0)
            elif ta < tg:
                times.append(ta)
                rows.append(np.concatenate([va, nan3]))
                acc.pop(0)
            else:
                times.append(tg)
                rows.append(np.concatenate([nan3, vg]))
                gyr.pop(0)
        if not rows:
            return np.empty(0), np.empty((0, 6))
        return np.array(times), np.vstack(rows)
