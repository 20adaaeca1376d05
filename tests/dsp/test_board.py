"""Wobble-board indices on constant tilts and a scripted trace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from balancelab.dsp import board
from balancelab.errors import InvalidArgumentError
from balancelab.model import QualityCode

FS = 100.0


def test_stability_indices_on_a_constant_lean_are_measured_from_level() -> None:
    pitch, roll = np.full(300, 3.0), np.full(300, -4.0)
    assert board.stability_index(pitch, roll).value == pytest.approx(5.0, rel=1e-12)
    assert board.ap_stability_index(pitch).value == pytest.approx(3.0, rel=1e-12)
    assert board.ml_stability_index(roll).value == pytest.approx(4.0, rel=1e-12)
    assert board.stability_index(pitch, roll).unit == "deg"


def test_stability_index_of_a_square_wave() -> None:
    pitch = np.tile([2.0, -2.0], 100)
    roll = np.zeros(200)
    assert board.stability_index(pitch, roll).value == pytest.approx(2.0)  # SD about level


def test_time_in_zone() -> None:
    assert board.time_in_zone(np.full(10, 3.0), np.full(10, 4.0)).value == 100.0  # |tilt| = 5
    assert board.time_in_zone(np.full(10, 3.0), np.full(10, 4.1)).value == 0.0
    pitch = np.concatenate([np.zeros(30), np.full(70, 6.0)])
    result = board.time_in_zone(pitch, np.zeros(100))
    assert result.value == pytest.approx(30.0) and result.unit == "%"
    assert board.time_in_zone(pitch, np.zeros(100), zone_deg=10.0).value == 100.0


def _scripted_tilt() -> np.ndarray:
    """Tilt magnitude (deg), 8 s: three rim contacts, the second with a 50-ms chatter."""
    tilt = np.full(800, 2.0)
    tilt[100:150] = 14.5  # contact 1: 1.00-1.50 s
    tilt[150:300] = 5.0
    tilt[300:330] = 14.8  # contact 2: 3.00-3.30 s ...
    tilt[310:315] = 13.5  # ... with a 50-ms dip below the threshold (chatter)
    tilt[500:520] = 16.0  # contact 3: 5.00-5.20 s (overshoot beyond the nominal max)
    tilt[600:610] = 13.9  # close, but not within 1° of the 15° max: no contact
    return tilt


def test_edge_contacts_on_a_scripted_trace() -> None:
    tilt = _scripted_tilt()
    heading = math.radians(35.0)  # the tilt direction does not matter, only its magnitude
    pitch, roll = tilt * math.cos(heading), tilt * math.sin(heading)
    contacts = board.detect_edge_contacts(pitch, roll, FS, max_tilt_deg=15.0)
    assert contacts.count == 3
    assert np.allclose(contacts.intervals_s or (), [(1.0, 1.5), (3.0, 3.3), (5.0, 5.2)])
    assert contacts.total_time_s == pytest.approx(0.50 + 0.25 + 0.20)
    metric = contacts.metric()
    assert metric.value == 3 and metric.unit == "count"


def test_min_separation_merges_close_contacts() -> None:
    tilt = _scripted_tilt()
    zero = np.zeros_like(tilt)
    apart = board.detect_edge_contacts(tilt, zero, FS, max_tilt_deg=15.0, min_separation_s=0.0)
    assert apart.count == 4  # the chatter splits contact 2
    merged = board.detect_edge_contacts(tilt, zero, FS, max_tilt_deg=15.0, min_separation_s=1.6)
    assert merged.count == 2  # 1.5 s → 3.0 s is merged, 3.3 s → 5.0 s is not
    assert np.allclose(merged.intervals_s or (), [(1.0, 3.3), (5.0, 5.2)])


def test_contact_at_the_window_start_counts() -> None:
    tilt = np.concatenate([np.full(20, 15.0), np.zeros(100)])
    contacts = board.detect_edge_contacts(tilt, np.zeros(120), FS, max_tilt_deg=15.0)
    assert np.allclose(contacts.intervals_s or (), [(0.0, 0.2)])


def test_board_inputs_with_nan_give_flagged_none() -> None:
    pitch = np.array([1.0, np.nan, 2.0])
    assert board.stability_index(pitch, np.zeros(3)).quality[0].code == QualityCode.NAN_INPUT
    contacts = board.detect_edge_contacts(pitch, np.zeros(3), FS, max_tilt_deg=15.0)
    assert contacts.count is None and contacts.metric().value is None
    assert board.time_in_zone([], []).value is None


def test_board_argument_errors() -> None:
    x = np.zeros(5)
    with pytest.raises(InvalidArgumentError, match="tolerance_deg"):
        board.detect_edge_contacts(x, x, FS, max_tilt_deg=1.0, tolerance_deg=2.0)
    with pytest.raises(InvalidArgumentError, match="max_tilt_deg"):
        board.detect_edge_contacts(x, x, FS, max_tilt_deg=-15.0)
    with pytest.raises(InvalidArgumentError, match="zone_deg"):
        board.time_in_zone(x, x, zone_deg=0.0)
