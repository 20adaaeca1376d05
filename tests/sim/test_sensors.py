"""Sensor errors behave as drawn: noise, quantization, saturation, loss, drift, mounting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from balancelab.model import Session, Side, TrialType
from balancelab.sim import (
    Scenario,
    TrialSpec,
    Truth,
    force_plate,
    lowback_imu,
    simulate_session,
    sternum_phone,
)

G = 9.80665
HOP = TrialSpec(
    TrialType.HOP_STABILIZE, Side.RIGHT, duration_s=8.0, rest_after_s=2.0, landing_height_m=0.2
)


def _run(*specs: object, seed: int = 4) -> tuple[Session, Truth]:
    scenario = Scenario("s", "sensors", (HOP, replace(HOP, side=Side.LEFT)), lead_in_s=3.0)
    return simulate_session(scenario, sensors=specs, seed=seed)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def imu() -> tuple[Session, Truth]:
    return _run(replace(lowback_imu(), loss_bursts_per_min=30.0), force_plate(), sternum_phone())


def test_values_sit_on_the_int16_grid(imu: tuple[Session, Truth]) -> None:
    session, truth = imu
    rec, st = session.recording("simlowback"), truth.sensor("simlowback")
    assert st.imu_errors is not None
    ok = ~np.isnan(rec.values[:, 0])
    for cols, lsb in ((slice(0, 3), st.imu_errors.acc_lsb), (slice(3, 6), st.imu_errors.gyro_lsb)):
        counts = rec.values[ok, cols] / lsb
        assert np.max(np.abs(counts - np.round(counts))) < 1e-6
        assert np.max(np.abs(counts)) <= 32768


def test_residual_is_the_drawn_noise(imu: tuple[Session, Truth]) -> None:
    session, truth = imu
    rec, st = session.recording("simlowback"), truth.sensor("simlowback")
    e = st.imu_errors
    assert e is not None
    ok = ~np.isnan(rec.values[:, 0])
    model_acc = (1 + e.acc_scale) * st.clean[:, :3] + st.acc_bias_trace
    model_gyr = (1 + e.gyro_scale) * st.clean[:, 3:] + st.gyro_bias_trace
    for resid, sd, lsb in (
        (rec.values[ok, :3] - model_acc[ok], e.acc_noise_sd, e.acc_lsb),
        (rec.values[ok, 3:] - model_gyr[ok], e.gyro_noise_sd, e.gyro_lsb),
    ):
        expected = np.sqrt(sd**2 + lsb**2 / 12)  # white noise plus uniform rounding
        # ~3700 samples x 3 axes: the SD estimate has ~1.2 % sampling SD; 6 % is 5 SD.
        assert resid.std() == pytest.approx(expected, rel=0.06)
        assert abs(resid.mean()) < 4 * expected / np.sqrt(resid.size) + lsb / 2


def test_lost_packets_are_nan_runs_counted(imu: tuple[Session, Truth]) -> None:
    session, truth = imu
    rec, st = session.recording("simlowback"), truth.sensor("simlowback")
    nan_rows = np.isnan(rec.values).all(axis=1)
    assert np.array_equal(nan_rows, np.isnan(rec.values).any(axis=1))  # whole rows
    assert rec.lost_samples == st.lost_samples == int(nan_rows.sum()) > 0
    mask = np.zeros(rec.time_s.size, dtype=bool)
    spec = lowback_imu()
    for first, count in st.lost_runs:
        mask[first : first + count] = True
        # Runs are whole packets (the last may be cut by the session end).
        assert count % spec.packet_samples == 0 or first + count == rec.time_s.size
    assert np.array_equal(mask, nan_rows)
    runs = np.array([c for _, c in st.lost_runs]) / spec.packet_samples
    # Bursts of 1..10 packets; merged neighbours are rare at 30 bursts/min.
    assert runs.min() >= 1 and np.median(runs) <= spec.loss_max_packets


def test_clock_drift_and_jitter(imu: tuple[Session, Truth]) -> None:
    session, truth = imu
    rec, st = session.recording("simlowback"), truth.sensor("simlowback")
    assert st.imu_errors is not None
    ppm = st.imu_errors.clock_drift_ppm
    span_true = st.true_time_s[-1] - st.true_time_s[0]
    span_stored = rec.time_s[-1] - rec.time_s[0]
    # Stored times run on the sensor clock (k / fs); true times are slower/faster by the drift.
    # The slope of a line fit averages the 0.2-ms jitter out: its SD over ~30 s and ~6000
    # samples is ~0.1 ppm, so 1 ppm is 10 SD. The end-to-end span carries two jitters (2 ms).
    slope = np.polyfit(rec.time_s, st.true_time_s, 1)[0]
    assert (1 / slope - 1) * 1e6 == pytest.approx(ppm, abs=1.0)
    assert span_true == pytest.approx(span_stored / (1 + ppm * 1e-6), abs=2e-3)
    jitter = st.true_time_s - rec.time_s * slope
    assert np.std(jitter - jitter.mean()) == pytest.approx(st.jitter_sd_s, rel=0.1)


def test_saturation_at_the_range() -> None:
    session, truth = _run(replace(lowback_imu(), acc_range_g=2.0, loss_bursts_per_min=0.0))
    rec, st = session.recordings[0], truth.sensors[0]
    assert st.imu_errors is not None
    top = 32767 * st.imu_errors.acc_lsb
    # Hop landings peak at 2-4 g vertically, above a 2-g range: clipped at the int16 top.
    assert st.saturated_samples > 0
    assert rec.values[:, :3].max() == pytest.approx(top)
    assert rec.values[:, :3].min() >= -32768 * st.imu_errors.acc_lsb


def test_mounting_is_a_rotation_stored_in_the_recording(imu: tuple[Session, Truth]) -> None:
    session, truth = imu
    for name in ("simlowback", "simphone"):
        rec, st = session.recording(name), truth.sensor(name)
        assert st.imu_errors is not None
        m = np.asarray(rec.sensor_to_segment[st.tracked_point])
        assert np.allclose(m, st.imu_errors.mounting)
        assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)
        # At rest in the lead-in the clean accelerometer, rotated to the segment, is ~1 g up.
        f = (st.clean[: round(2 * st.fs_hz), :3] @ m.T).mean(axis=0)
        assert f[2] == pytest.approx(G, abs=0.05)


def test_phone_samples_irregularly_and_plate_noise_is_as_drawn(
    imu: tuple[Session, Truth],
) -> None:
    session, truth = imu
    phone = session.recording("simphone")
    dt = np.diff(phone.time_s)
    assert np.all(dt > 0)
    assert np.std(dt) == pytest.approx(sternum_phone().jitter_sd_s, rel=0.15)
    plate, st = session.recording("simplate"), truth.sensor("simplate")
    resid = plate.values[:, :2] - st.clean - np.asarray(st.cop_offset_m)
    assert resid.std() == pytest.approx(st.cop_noise_sd_m, rel=0.05)
