"""A live stream's decode state: increasing times, lost samples as NaN rows, ACC/GYRO pairing."""

from __future__ import annotations

import numpy as np

from balancelab.devices.polar_control import MeasurementType
from balancelab.devices.stream_state import MAX_FILL_S, AccGyroMerger, Timeline, gap_rows

ACC, GYRO = MeasurementType.ACC, MeasurementType.GYRO


def test_timeline_places_lost_samples_evenly_before_the_next_ones() -> None:
    timeline = Timeline(n_channels=2)
    timeline.rows(np.array([0.0, 0.1]), np.ones((2, 2)), nan_rows=0)
    times, values = timeline.rows(np.array([0.4, 0.5]), np.full((2, 2), 2.0), nan_rows=2)
    np.testing.assert_allclose(times, [0.2, 0.3, 0.4, 0.5])
    assert np.isnan(values[:2]).all() and (values[2:] == 2.0).all()


def test_timeline_keeps_times_strictly_increasing_across_batches() -> None:
    timeline = Timeline(n_channels=1)
    timeline.rows(np.array([1.0, 2.0]), np.zeros((2, 1)), nan_rows=0)
    times, _ = timeline.rows(np.array([1.5, 1.5, 3.0]), np.zeros((3, 1)), nan_rows=0)
    assert times[0] > 2.0 and np.all(np.diff(times) > 0) and times[-1] == 3.0


def test_a_first_batch_has_no_gap_to_fill() -> None:
    times, values = Timeline(n_channels=3).rows(np.array([5.0]), np.zeros((1, 3)), nan_rows=4)
    assert times.tolist() == [5.0] and values.shape == (1, 3)


def test_gap_rows_counts_the_missing_samples_up_to_the_fill_limit() -> None:
    assert gap_rows(0.01, 100.0) == 0  # the next sample, nothing lost
    assert gap_rows(0.05, 100.0) == 4
    assert gap_rows(MAX_FILL_S, 100.0) == MAX_FILL_S * 100 - 1
    assert gap_rows(MAX_FILL_S + 1.0, 100.0) == 0  # a discontinuity, not filled


def test_merger_pairs_by_device_time_and_fills_a_missing_partner_with_nan() -> None:
    merger = AccGyroMerger((ACC, GYRO), fs_hz=100.0)
    times, rows = merger.add(ACC, np.array([0.0, 0.01, 0.02]), np.ones((3, 3)), lost=0)
    assert times.size == 0 and rows.shape == (0, 6)  # waits for GYRO
    times, rows = merger.add(GYRO, np.array([0.001, 0.021]), np.full((2, 3), 2.0), lost=0)
    np.testing.assert_allclose(times, [0.0, 0.01, 0.02])
    assert (rows[0] == [1, 1, 1, 2, 2, 2]).all()
    assert (rows[1, :3] == 1).all() and np.isnan(rows[1, 3:]).all()  # no GYRO at 0.01 s
    assert (rows[2] == [1, 1, 1, 2, 2, 2]).all()


def test_merger_turns_lost_samples_into_nan_rows() -> None:
    merger = AccGyroMerger((ACC, GYRO), fs_hz=100.0)
    merger.add(GYRO, np.array([0.0, 0.01, 0.02, 0.03]), np.zeros((4, 3)), lost=0)
    merger.add(ACC, np.array([0.0]), np.ones((1, 3)), lost=0)
    times, rows = merger.add(ACC, np.array([0.03]), np.ones((1, 3)), lost=2)
    np.testing.assert_allclose(times, [0.01, 0.02, 0.03])
    assert np.isnan(rows[:2, :3]).all() and (rows[:2, 3:] == 0).all()
    assert (rows[2, :3] == 1).all()
