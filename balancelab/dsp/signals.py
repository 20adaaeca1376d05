"""Signal preparation: a recording on the analysis grid, and the trace of one window.

Per tracked point the 2-D trace (AP, ML) is built as science/METRICS.md says: resampled to a
uniform `fs_hz` grid without bridging gaps > `max_gap_s`; COP in mm, board tilt in deg
(orientation.estimate_tilt), body horizontal acceleration in m/s^2 (static tilt correction from a
quiet window); zero-lag low-pass at `cop_cutoff_hz`, `board_cutoff_hz` or `body_cutoff_hz`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from balancelab.dsp import orientation
from balancelab.dsp.preprocess import (
    gravity_alignment,
    horizontal_acceleration,
    lowpass,
    resample_uniform,
)
from balancelab.dsp.quality import median_rate_hz
from balancelab.dsp.settings import AnalysisSettings
from balancelab.errors import InvalidArgumentError
from balancelab.model import COP_FORCE_CHANNEL, FloatArray, Recording


@dataclass(frozen=True)
class Signals:
    """A recording on the uniform grid: trace (n, 2) AP/ML, raw acc (n, 3) or None, a plate's
    vertical force (n,) in N or None.

    COP and board traces are not yet low-passed (`cutoff_hz`): each analysed window is filtered
    on its own (`window_trace`), so what happens outside a trial (stepping off the plate or the
    board) cannot ring into it through the filter.
    """

    point: str
    unit: str
    time_s: FloatArray
    trace: FloatArray
    acc: FloatArray | None
    raw_fs_hz: float
    """The rate of the recording's own samples (Hz), from its time column: `peak_acc` reads them."""
    cutoff_hz: float | None = None
    force_n: FloatArray | None = None


def tracked_point(recording: Recording) -> str:
    """The one tracked point of `recording` (InvalidArgumentError if it holds several)."""
    points = {c.tracked_point for c in recording.channels}
    if len(points) != 1:
        raise InvalidArgumentError(
            f"a recording must hold one tracked point to analyse, got {sorted(points)}"
        )
    return points.pop()


def _columns(recording: Recording, names: tuple[str, ...]) -> FloatArray:
    return np.column_stack([recording.channel(n) for n in names])


def prepare_signals(recording: Recording, s: AnalysisSettings) -> Signals:
    """`recording` on the uniform grid of `s` (one tracked point; else InvalidArgumentError)."""
    point = tracked_point(recording)
    if point == "cop":
        raw = 1000.0 * _columns(recording, ("cop_pos_y", "cop_pos_x"))  # AP = y, ML = x (mm)
        has_force = recording.has_channel(COP_FORCE_CHANNEL)
        if has_force:
            raw = np.column_stack([raw, recording.channel(COP_FORCE_CHANNEL)])
        grid = resample_uniform(recording.time_s, raw, s.fs_hz, s.max_gap_s)
        return Signals(
            point,
            "mm",
            grid.time_s,
            grid.values[:, :2],
            None,
            _raw_fs(recording),
            s.cop_cutoff_hz,
            grid.values[:, 2] if has_force else None,
        )
    acc_names = tuple(f"{point}_acc_{a}" for a in "xyz")
    gyr_names = tuple(f"{point}_gyr_{a}" for a in "xyz")
    has_gyr = all(recording.has_channel(n) for n in gyr_names)
    raw = _columns(recording, acc_names + (gyr_names if has_gyr else ()))
    grid = resample_uniform(recording.time_s, raw, s.fs_hz, s.max_gap_s)
    matrix = np.asarray(recording.sensor_to_segment.get(point, np.eye(3)), dtype=np.float64)
    acc = grid.values[:, :3] @ matrix.T
    if point == "board":
        method = s.tilt_method if has_gyr else "accelerometer"
        gyr = grid.values[:, 3:6] if has_gyr else np.zeros_like(acc)
        tilt = orientation.estimate_tilt(
            grid.values[:, :3], gyr, s.fs_hz, sensor_to_segment=matrix, method=method
        )
        trace = np.column_stack([tilt.pitch_deg, tilt.roll_deg])
        return Signals(point, "deg", grid.time_s, trace, acc, _raw_fs(recording), s.board_cutoff_hz)
    return Signals(point, "m/s^2", grid.time_s, acc, acc, _raw_fs(recording))


def _raw_fs(recording: Recording) -> float:
    """The rate of the recording's samples (Hz): its time column's, the sidecar's if < 2 rows."""
    return median_rate_hz(recording.time_s) or recording.nominal_fs_hz


def window_trace(sig: Signals, rows: slice, s: AnalysisSettings) -> FloatArray:
    """A COP or board trace over `rows`, low-passed on its own (its unit)."""
    piece = sig.trace[rows]
    if sig.cutoff_hz is None or piece.shape[0] == 0:
        return piece
    return lowpass(piece, s.fs_hz, sig.cutoff_hz, s.filter_order)


def body_trace(acc: FloatArray, quiet: FloatArray, s: AnalysisSettings) -> FloatArray:
    """Horizontal (AP, ML) acceleration, gravity aligned from `quiet`, low-passed (m/s^2)."""
    finite = quiet[np.all(np.isfinite(quiet), axis=1)]
    if finite.shape[0] < 2:
        return np.full((acc.shape[0], 2), np.nan)
    ap, ml = horizontal_acceleration(acc, gravity_alignment(finite))
    return lowpass(np.column_stack([ap, ml]), s.fs_hz, s.body_cutoff_hz, s.filter_order)


def rows_in(time_s: FloatArray, start_s: float, stop_s: float) -> slice:
    """The rows of `time_s` (s) from `start_s` up to, not including, `stop_s`."""
    lo, hi = np.searchsorted(time_s, [start_s - 1e-9, stop_s - 1e-9])
    return slice(int(lo), int(max(lo, hi)))


def grid_fs(sig: Signals) -> float:
    """The grid rate (Hz) of resampled signals."""
    return float(1.0 / np.median(np.diff(sig.time_s))) if sig.time_s.size > 1 else 1.0
