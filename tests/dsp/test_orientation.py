"""Tilt from accelerometer + gyroscope: conventions, bias, impacts, gaps, simulator accuracy."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from balancelab.dsp.orientation import (
    MAHONY_DEFAULTS,
    Tilt,
    accelerometer_tilt,
    calibrate_level,
    estimate_tilt,
    tilt_from_up,
)
from balancelab.errors import InvalidArgumentError
from balancelab.model import STANDARD_GRAVITY_MS2 as G
from balancelab.model import FloatArray, Side, Surface, TrialType
from balancelab.sim import Scenario, TrialSpec, board_imu, lowback_imu, simulate_session

FS = 200.0


def specific_force(pitch_deg: FloatArray, roll_deg: FloatArray) -> FloatArray:
    """Static specific force (m/s^2) of a segment at attitude Ry(pitch)·Rx(-roll)."""
    a, b = np.radians(pitch_deg), np.radians(roll_deg)
    return G * np.column_stack([-np.sin(a), -np.cos(a) * np.sin(b), np.cos(a) * np.cos(b)])


def still(pitch_deg: float, roll_deg: float, n: int) -> tuple[FloatArray, FloatArray]:
    acc = specific_force(np.full(n, pitch_deg), np.full(n, roll_deg))
    return acc, np.zeros((n, 3))


def rms(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(x**2)))


# ---------------------------------------------------------------- conventions, known answers


@pytest.mark.parametrize("method", ["mahony", "accelerometer"])
@pytest.mark.parametrize(("pitch", "roll"), [(10.0, 0.0), (0.0, -7.0), (-20.0, 15.0), (0, 0)])
def test_static_tilt_is_exact(method: str, pitch: float, roll: float) -> None:
    acc, gyr = still(pitch, roll, 400)
    tilt = estimate_tilt(acc, gyr, FS, method=method)
    np.testing.assert_allclose(tilt.pitch_deg, pitch, atol=1e-6)
    np.testing.assert_allclose(tilt.roll_deg, roll, atol=1e-6)
    assert tilt.quality == ()
    assert tilt.method == method


def test_signs_forward_and_left_are_positive() -> None:
    # leaning forward: the x axis points partly down, so the up-vector has a negative x
    pitch, roll = tilt_from_up(np.array([[-math.sin(0.1), 0.0, math.cos(0.1)]]))
    assert pitch[0] == pytest.approx(math.degrees(0.1)) and roll[0] == pytest.approx(0.0)
    pitch, roll = tilt_from_up(np.array([[0.0, -math.sin(0.1), math.cos(0.1)]]))
    assert roll[0] == pytest.approx(math.degrees(0.1)) and pitch[0] == pytest.approx(0.0)


def test_follows_a_rotation_from_the_gyroscope_alone() -> None:
    """A 10 deg/s pitch ramp with the accelerometer hidden by impacts: pure gyro integration."""
    n = 400
    t = np.arange(n) / FS
    pitch = 10.0 * t
    acc = specific_force(pitch, np.zeros(n))
    acc[40:] *= 3.0  # |a| = 3 g: gated, no accelerometer correction after the start
    gyr = np.zeros((n, 3))
    gyr[:, 1] = math.radians(10.0)  # rate about +y tilts the top forward
    tilt = estimate_tilt(acc, gyr, FS)
    np.testing.assert_allclose(tilt.pitch_deg, pitch, atol=0.05)


def test_gyroscope_bias_does_not_drift_the_tilt() -> None:
    """1 dps bias on every axis over 60 s still: the integral term absorbs it."""
    acc, gyr = still(3.0, -2.0, round(60 * FS))
    gyr += math.radians(1.0)
    tilt = estimate_tilt(acc, gyr, FS)
    assert np.max(np.abs(tilt.pitch_deg - 3.0)) < 0.05
    assert np.max(np.abs(tilt.roll_deg + 2.0)) < 0.05


def test_impacts_and_saturation_are_gated() -> None:
    acc, gyr = still(5.0, 5.0, 2000)
    acc[1000:1010] = [40.0, -40.0, 78.0]  # an edge impact, clipped at the 8 g rail
    tilt = estimate_tilt(acc, gyr, FS, acc_range_ms2=8 * G)
    naive = accelerometer_tilt(acc)
    assert np.max(np.abs(tilt.pitch_deg - 5.0)) < 1e-6
    assert np.max(np.abs(naive.pitch_deg - 5.0)) > 10
    assert [f.code for f in tilt.quality] == ["saturation"]


def test_sensor_to_segment_is_applied() -> None:
    acc_segment, gyr = still(8.0, -4.0, 400)
    angle = math.radians(30.0)
    m = np.array(  # sensor -> segment: 30 deg about z
        [[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]]
    )
    acc_sensor = acc_segment @ m  # v_sensor = M^T v_segment
    tilt = estimate_tilt(acc_sensor, gyr, FS, sensor_to_segment=m)
    np.testing.assert_allclose(tilt.pitch_deg, 8.0, atol=1e-6)
    np.testing.assert_allclose(tilt.roll_deg, -4.0, atol=1e-6)


def test_calibrate_level_removes_accelerometer_bias() -> None:
    acc, gyr = still(0.0, 0.0, 400)
    acc += [0.25, -0.2, 0.1]  # ~±25 mg: 1.5° of false tilt
    assert abs(accelerometer_tilt(acc).pitch_deg[0]) > 1.0
    m = calibrate_level(acc[:200])
    assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)
    tilt = estimate_tilt(acc, gyr, FS, sensor_to_segment=m)
    assert np.max(np.abs(tilt.pitch_deg)) < 1e-6 and np.max(np.abs(tilt.roll_deg)) < 1e-6


# ---------------------------------------------------------------- gaps


def test_short_gap_is_bridged_and_long_gap_restarts() -> None:
    n = 2000
    acc, gyr = still(4.0, 2.0, n)
    acc[500:510] = gyr[500:510] = np.nan  # 50 ms: bridged with the gyroscope
    acc[1000:1100] = gyr[1000:1100] = np.nan  # 0.5 s: restart after it
    tilt = estimate_tilt(acc, gyr, FS)
    missing = np.zeros(n, dtype=bool)
    missing[500:510] = missing[1000:1100] = True
    assert np.all(np.isnan(tilt.pitch_deg[missing]))
    np.testing.assert_allclose(tilt.pitch_deg[~missing], 4.0, atol=1e-6)
    np.testing.assert_allclose(tilt.roll_deg[~missing], 2.0, atol=1e-6)
    assert [f.code for f in tilt.quality] == ["nan_input"]


def test_no_gravity_reference_gives_nan_with_a_flag() -> None:
    acc = np.zeros((300, 3))  # free fall or a dead accelerometer: no attitude reference
    tilt = estimate_tilt(acc, np.zeros((300, 3)), FS)
    assert np.all(np.isnan(tilt.pitch_deg)) and np.all(np.isnan(tilt.roll_deg))
    assert [f.code for f in tilt.quality] == ["nan_input"]


# ---------------------------------------------------------------- the simulator's truth


@lru_cache(maxsize=16)
def simulated(seed: int):  # type: ignore[no-untyped-def]
    """A short wobble-board session (two 30-s holds with a lapse): board + lower-back IMU."""
    trials = tuple(
        TrialSpec(
            TrialType.SINGLE_LEG_HOLD, side, Surface.WOBBLE_BOARD, lapses_s=(12.0,), rest_after_s=5
        )
        for side in (Side.LEFT, Side.RIGHT)
    )
    scenario = Scenario("wb", "test", trials, sensors=(board_imu(), lowback_imu()))
    return simulate_session(scenario, seed=seed)


def tilt_error_rms(seed: int, tracksys: str, method: str = "mahony") -> float:
    """RMS (deg, pitch and roll pooled) of estimate − truth over the analysed hold windows.

    The level is calibrated on the session's first 4 s (board resting level, athlete standing
    quietly): the accelerometer bias (±30 mg ≈ ±1.7°) is not observable otherwise.
    """
    session, truth = simulated(seed)
    rec = session.recording(tracksys)
    sensor = truth.sensor(tracksys)
    acc, gyr = rec.values[:, :3], rec.values[:, 3:]
    mount = rec.sensor_to_segment[sensor.tracked_point]
    level = calibrate_level(acc[rec.time_s < 4.0], sensor_to_segment=mount)
    tilt = estimate_tilt(acc, gyr, rec.nominal_fs_hz, sensor_to_segment=level, method=method)
    error = np.column_stack([tilt.pitch_deg, tilt.roll_deg]) - np.degrees(sensor.true_tilt_rad)
    window = np.zeros(rec.time_s.size, dtype=bool)
    for t in truth.trials:
        window |= (rec.time_s >= t.trial.onset_s + 2.0) & (rec.time_s < t.trial.end_s)
    rows = error[window]
    assert np.mean(np.isnan(rows)) < 0.01  # only the lost samples are NaN
    return rms(rows[np.all(np.isfinite(rows), axis=1)])


SEEDS = range(10)


def test_board_tilt_within_half_a_degree_of_the_truth() -> None:
    """METRICS.md target: board tilt within 0.5° RMS of the simulator's true tilt, every seed.

    The simulator draws realistic gyro bias (±0.75 dps + drift), noise, scale, quantization,
    packet loss and edge impacts that clip the 8 g accelerometer. Measured: 0.08-0.18° per seed
    (mean 0.116°; the per-sample loop before it: 0.127°), accelerometer-only ≈ 3.0°. 0.5° is the
    spec; the margin covers seeds.
    """
    errors = [tilt_error_rms(seed, "simboard") for seed in SEEDS]
    assert max(errors) <= 0.5, errors
    assert float(np.mean(errors)) <= 0.25, errors


def test_lower_back_tilt_within_half_a_degree_of_the_truth() -> None:
    """Same target for the body tilt seen by a lower-back IMU (measured 0.06-0.41° per seed,
    mean 0.154°; the per-sample loop before it: mean 0.172°, max 0.427°)."""
    errors = [tilt_error_rms(seed, "simlowback") for seed in SEEDS]
    assert max(errors) <= 0.5, errors


def test_fusion_beats_the_accelerometer_alone_on_the_board() -> None:
    assert tilt_error_rms(0, "simboard") < 0.2 * tilt_error_rms(0, "simboard", "accelerometer")


# ---------------------------------------------------------------- arguments and robustness


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"method": "kalman"}, "method"),
        ({"fs": 0.0}, "fs"),
        ({"sensor_to_segment": np.diag([1.0, 1.0, -1.0])}, "rotation"),
        ({"sensor_to_segment": np.ones((2, 2))}, "3×3"),
        ({"kp_per_s": 1.0, "gain_x": 2.0}, "gain_x"),
        ({"kp_per_s": -1.0}, "kp_per_s"),
        ({"acc_range_ms2": float("nan")}, "acc_range_ms2"),
    ],
)
def test_argument_errors_name_the_parameter(kwargs: dict[str, object], needle: str) -> None:
    acc, gyr = still(0.0, 0.0, 10)
    call: dict[str, object] = {"fs": FS, **kwargs}
    fs = call.pop("fs")
    with pytest.raises(InvalidArgumentError, match=needle):
        estimate_tilt(acc, gyr, fs, **call)  # type: ignore[arg-type]


def test_shape_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="same shape"):
        estimate_tilt(np.zeros((5, 3)), np.zeros((4, 3)), FS)
    with pytest.raises(InvalidArgumentError, match=r"\(n, 3\)"):
        estimate_tilt(np.zeros((5, 2)), np.zeros((5, 2)), FS)
    with pytest.raises(InvalidArgumentError, match="1 g"):
        calibrate_level(np.full((5, 3), np.nan))


def test_settings_are_recorded() -> None:
    acc, gyr = still(0.0, 0.0, 10)
    tilt = estimate_tilt(acc, gyr, FS, kp_per_s=1.0)
    assert tilt.settings["kp_per_s"] == 1.0 and tilt.settings["fs"] == FS
    assert tilt.settings["ki_per_s2"] == MAHONY_DEFAULTS["ki_per_s2"]


values = st.one_of(
    st.floats(-200, 200),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e300, 78.4]),
)


@settings(max_examples=60, deadline=None)
@given(
    acc=hnp.arrays(np.float64, st.tuples(st.integers(0, 300), st.just(3)), elements=values),
    data=st.data(),
)
def test_never_raises_and_never_passes_nan_as_a_value(acc: FloatArray, data: st.DataObject) -> None:
    gyr = data.draw(hnp.arrays(np.float64, acc.shape, elements=values))
    constant = data.draw(st.booleans())
    if constant and acc.shape[0]:
        acc[:] = acc[0]
    tilt = estimate_tilt(acc, gyr, FS, acc_range_ms2=8 * G)
    check_tilt(tilt, acc.shape[0])


def check_tilt(tilt: Tilt, n: int) -> None:
    assert tilt.pitch_deg.shape == tilt.roll_deg.shape == (n,)
    for angle in (tilt.pitch_deg, tilt.roll_deg):
        finite = angle[np.isfinite(angle)]
        assert np.all(np.abs(finite) <= 180.0)
        assert np.all(np.isnan(angle[~np.isfinite(angle)]))  # never inf
    if not (np.all(np.isfinite(tilt.pitch_deg)) and np.all(np.isfinite(tilt.roll_deg))):
        assert "nan_input" in [f.code for f in tilt.quality]


def test_long_recordings_with_gaps_stay_finite_after_each_gap() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    acc, gyr = still(2.0, 1.0, n)
    gyr += rng.normal(0, 0.01, (n, 3))
    lost = rng.random(n) < 0.02
    acc[lost] = np.nan
    gyr[lost] = np.nan
    tilt = estimate_tilt(acc, gyr, FS, bridge_gap_s=0.02)
    assert np.array_equal(np.isnan(tilt.pitch_deg), lost)
    assert np.max(np.abs(tilt.pitch_deg[~lost] - 2.0)) < 0.5


def test_running_quaternion_products_match_the_sequential_loop() -> None:
    """The blocked running product (numpy across blocks) equals multiplying one by one."""
    from balancelab.dsp._tilt_smoother import _cumulative_product, _quaternion_product  # noqa: PLC0415

    rng = np.random.default_rng(7)
    steps = rng.normal(size=(4, 1001))
    steps /= np.linalg.norm(steps, axis=0)
    expected = np.empty_like(steps)
    total = np.array([1.0, 0.0, 0.0, 0.0])
    for k in range(steps.shape[1]):
        total = _quaternion_product(total, steps[:, k])
        expected[:, k] = total
    np.testing.assert_allclose(_cumulative_product(steps), expected, atol=1e-12)
