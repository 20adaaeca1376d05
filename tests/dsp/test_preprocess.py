"""Pre-processing on signals with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal
from scipy.spatial.transform import Rotation

from balancelab.dsp import preprocess
from balancelab.errors import InvalidArgumentError
from balancelab.formats.bids_reader import read_session
from balancelab.model import QualityCode
from tests.support import REPO_ROOT

FS = 100.0
G = 9.80665


# ---------------------------------------------------------------- resampling


def test_resampling_interpolates_short_gaps_and_keeps_long_gaps_open() -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.015, 0.025, 300))  # irregular ~50 Hz phone clock
    t = np.concatenate([t[:100], t[100:150] + 0.04, t[150:] + 0.6])  # 0.06 s and 0.62 s gaps
    values = np.column_stack([2.0 * t + 1.0, -t])  # linear, so interpolation is exact
    out = preprocess.resample_uniform(t, values, fs_hz=FS, max_gap_s=0.1)
    assert out.time_s[0] == t[0]
    assert np.allclose(np.diff(out.time_s), 1 / FS)
    assert len(out.gaps) == 1
    start, end = out.gaps[0]
    assert (start, end) == (t[149], t[150])
    inside = (out.time_s > start) & (out.time_s < end)
    assert inside.sum() >= 55
    assert np.all(np.isnan(out.values[inside]))
    good = ~inside
    assert np.allclose(out.values[good, 0], 2.0 * out.time_s[good] + 1.0, atol=1e-12)
    assert np.allclose(out.values[good, 1], -out.time_s[good], atol=1e-12)
    assert [f.code for f in out.quality] == [QualityCode.GAP]


def test_nan_rows_are_lost_samples() -> None:
    t = np.arange(100) / FS
    x = np.sin(t)
    x[40:60] = np.nan  # 0.21 s between valid samples
    out = preprocess.resample_uniform(t, x, fs_hz=FS, max_gap_s=0.1)
    assert out.values.shape == (100,)
    assert out.gaps == ((0.39, 0.6),)
    assert np.all(np.isnan(out.values[40:60])) and np.all(np.isfinite(out.values[:40]))
    x[45] = 0.0  # splits it into two 0.06-0.15 s holes: the 0.15 s one stays open
    out = preprocess.resample_uniform(t, x, fs_hz=FS, max_gap_s=0.1)
    assert len(out.gaps) == 1 and out.gaps[0] == pytest.approx((0.45, 0.6))


def test_resampling_without_valid_samples_is_flagged() -> None:
    out = preprocess.resample_uniform([0.0, 0.01], [np.nan, np.nan])
    assert out.values.size == 0 and out.quality[0].code == QualityCode.NAN_INPUT


def test_resampling_rejects_unsorted_time() -> None:
    with pytest.raises(InvalidArgumentError, match="time_s"):
        preprocess.resample_uniform([0.0, 0.02, 0.01], [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- low-pass and detrend


@pytest.mark.parametrize("f_hz", [1.0, 5.0, 10.0, 15.0, 20.0])
def test_lowpass_gain_is_the_squared_butterworth_response(f_hz: float) -> None:
    t = np.arange(2000) / FS
    x = np.sin(2 * np.pi * f_hz * t)
    y = preprocess.lowpass(x, FS, 10.0, order=4)
    sos = signal.butter(4, 10.0, fs=FS, output="sos")
    _, h = signal.sosfreqz(sos, worN=[f_hz], fs=FS)
    expected_gain = abs(h[0]) ** 2  # forward-backward squares the magnitude, zero phase
    middle = slice(500, 1500)
    gain = np.max(np.abs(y[middle])) / np.max(np.abs(x[middle]))
    assert gain == pytest.approx(expected_gain, abs=2e-3)
    if f_hz == 10.0:
        assert gain == pytest.approx(0.5, abs=2e-3)  # -6 dB at the cut-off
    if f_hz == 1.0:  # and zero lag in the pass band
        assert np.max(np.abs(y[middle] - x[middle])) < 1e-3


def test_lowpass_filters_each_gap_free_segment_and_blanks_short_ones() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    x[100] = np.nan
    x[111] = np.nan  # segment 101-110 is 10 samples: too short
    y = preprocess.lowpass(x, FS, 10.0)
    assert preprocess.lowpass_min_samples(4) == 16
    assert np.isnan(y[100]) and np.isnan(y[111]) and np.all(np.isnan(y[101:111]))
    sos = signal.butter(4, 10.0, fs=FS, output="sos")
    assert np.allclose(y[:100], signal.sosfiltfilt(sos, x[:100]))
    assert np.allclose(y[112:], signal.sosfiltfilt(sos, x[112:]))


def test_lowpass_rejects_a_cutoff_above_nyquist() -> None:
    with pytest.raises(InvalidArgumentError, match="cutoff_hz"):
        preprocess.lowpass(np.zeros(100), FS, 60.0)


def test_detrend_removes_a_line_even_across_gaps() -> None:
    i = np.arange(200, dtype=float)
    wave = np.sin(2 * np.pi * i / 50)  # whole periods: no linear component
    x = np.column_stack([3.0 + 0.25 * i + wave, -1.0 * i])
    x[80:90, 0] = np.nan
    y = preprocess.detrend_linear(x)
    finite = np.isfinite(x[:, 0])
    assert np.all(np.isnan(y[80:90, 0]))
    slope, intercept = np.polyfit(i[finite], x[finite, 0], 1)
    assert np.allclose(y[finite, 0], x[finite, 0] - (slope * i[finite] + intercept), atol=1e-9)
    assert abs(slope - 0.25) < 0.01
    assert np.allclose(y[:, 1], 0.0, atol=1e-9)


# ---------------------------------------------------------------- static tilt correction


@pytest.mark.parametrize(
    "euler_deg", [(0, 0, 0), (10, -20, 30), (170, 5, -60), (0, 90, 0), (-35, 54, 120)]
)
def test_gravity_alignment_recovers_the_mounting_rotation(euler_deg: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    mount = Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix()  # sensor → level
    quiet_level = np.array([0.0, 0.0, G]) + rng.normal(scale=0.02, size=(400, 3))
    quiet_sensor = quiet_level @ mount  # rows: mount.T @ a_level
    forward_in_sensor = mount.T @ np.array([1.0, 0.0, 0.0])
    rotation = preprocess.gravity_alignment(quiet_sensor, forward_axis=forward_in_sensor)
    assert np.allclose(rotation, mount, atol=2e-3)
    assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    # a known horizontal acceleration comes back, gravity removed
    moving_level = np.array([[0.3, -0.2, G], [0.0, 0.5, G + 1.0]])
    horizontal = preprocess.horizontal_acceleration(moving_level @ mount, rotation)
    assert np.allclose(horizontal.ap, [0.3, 0.0], atol=0.02)
    assert np.allclose(horizontal.ml, [-0.2, 0.5], atol=0.02)


def test_gravity_alignment_default_forward_is_the_sensor_x_axis() -> None:
    tilt = math.radians(20.0)  # sensor pitched nose-down by 20°: gravity leans onto +x
    quiet = np.tile([G * math.sin(tilt), 0.0, G * math.cos(tilt)], (50, 1))
    rotation = preprocess.gravity_alignment(quiet)
    assert np.allclose(rotation[2], [math.sin(tilt), 0.0, math.cos(tilt)])
    assert np.allclose(rotation[0], [math.cos(tilt), 0.0, -math.sin(tilt)])
    horizontal = preprocess.horizontal_acceleration(quiet, rotation)
    assert np.allclose(horizontal.ap, 0.0, atol=1e-12) and np.allclose(horizontal.ml, 0.0)


def test_gravity_alignment_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="forward_axis"):
        preprocess.gravity_alignment(np.tile([0.0, 0.0, G], (5, 1)), forward_axis=(0, 0, 1))
    with pytest.raises(InvalidArgumentError, match="acc_quiet"):
        preprocess.gravity_alignment(np.full((5, 3), np.nan))


def _lowpass_column_by_column(x: np.ndarray, fs: float, cutoff_hz: float) -> np.ndarray:
    """The zero-lag low-pass done one column and one gap-free segment at a time, with scipy."""
    sos = signal.butter(4, cutoff_hz, btype="low", fs=fs, output="sos")
    out = np.full_like(x, np.nan)
    for c in range(x.shape[1]):
        for segment in preprocess.finite_segments(x[:, c]):
            if segment.stop - segment.start >= preprocess.lowpass_min_samples(4):
                out[segment, c] = signal.sosfiltfilt(sos, x[segment, c])
    return out


def test_lowpass_of_all_columns_at_once_equals_column_by_column_on_the_recordings() -> None:
    """Every stream of recordings/ (real gaps where a sensor lost samples), and each with one
    column given gaps of its own: filtered together, the values are those of one at a time."""
    dirs = sorted(p for p in (REPO_ROOT / "recordings").glob("sub-*/ses-*") if p.is_dir())
    streams = [rec for d in dirs for rec in read_session(d).recordings]
    assert len(streams) >= 10 and any(np.isnan(r.values).any() for r in streams)
    for rec in streams:
        own_gaps = rec.values.copy()
        own_gaps[100:160, 0] = np.nan  # a gap in the first column only
        own_gaps[-3:, -1] = np.nan  # a segment too short to filter at the end of the last
        for x in (rec.values, own_gaps):
            found = preprocess.lowpass(x, rec.nominal_fs_hz, 10.0)
            expected = _lowpass_column_by_column(x, rec.nominal_fs_hz, 10.0)
            np.testing.assert_array_equal(np.isnan(found), np.isnan(expected))
            np.testing.assert_allclose(found, expected, rtol=0, atol=1e-12, equal_nan=True)
