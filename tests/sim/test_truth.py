"""The truth agrees with the signals: tilt, gyro, board edges, settling times."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from balancelab.dsp.analysis import AnalysisSettings
from balancelab.model import Session, Side, Surface, TrialType
from balancelab.sim import (
    Scenario,
    TrialSpec,
    Truth,
    board_imu,
    force_plate,
    lowback_imu,
    simulate_session,
)
from balancelab.sim import events as sim_events

G = 9.80665


@pytest.fixture(scope="module")
def holds() -> tuple[Session, Truth]:
    scenario = Scenario(
        "holds",
        "a bipedal and a single-leg hold",
        (
            TrialSpec(TrialType.DOUBLE_LEG_HOLD, Side.BOTH, duration_s=20.0, rest_after_s=3.0),
            TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=30.0, rest_after_s=3.0),
        ),
        sensors=(replace(lowback_imu(), loss_bursts_per_min=0.0), force_plate()),
    )
    return simulate_session(scenario, seed=21)


@pytest.fixture(scope="module")
def board() -> tuple[Session, Truth]:
    scenario = Scenario(
        "board",
        "board holds with lapses",
        tuple(
            TrialSpec(
                TrialType.SINGLE_LEG_HOLD,
                side,
                Surface.WOBBLE_BOARD,
                duration_s=20.0,
                rest_after_s=3.0,
                lapses_s=(6.0, 14.0),
            )
            for side in (Side.LEFT, Side.RIGHT)
        ),
        sensors=(replace(board_imu(), loss_bursts_per_min=0.0),),
    )
    return simulate_session(scenario, seed=5)


@pytest.fixture(scope="module")
def landings() -> tuple[Session, Truth]:
    scenario = Scenario(
        "landings",
        "step-downs",
        tuple(
            TrialSpec(TrialType.STEP_DOWN, side, duration_s=12.0, rest_after_s=2.0)
            for side in (Side.LEFT, Side.RIGHT, Side.LEFT, Side.RIGHT)
        ),
        sensors=(replace(lowback_imu(), loss_bursts_per_min=0.0), force_plate()),
    )
    return simulate_session(scenario, seed=9)


def _segment_frame(session: Session, truth: Truth, tracksys: str) -> tuple[np.ndarray, ...]:
    """Recording accelerometer and gyro, drawn bias and scale removed, in the segment frame."""
    rec, st = session.recording(tracksys), truth.sensor(tracksys)
    assert st.imu_errors is not None
    e = st.imu_errors
    acc = (rec.values[:, :3] - st.acc_bias_trace) / (1 + e.acc_scale)
    gyr = (rec.values[:, 3:] - st.gyro_bias_trace) / (1 + e.gyro_scale)
    m = np.asarray(rec.sensor_to_segment[st.tracked_point])
    return acc @ m.T, gyr @ m.T, st.true_time_s, st.true_tilt_rad


def test_lowback_gravity_projection_tracks_the_true_tilt(holds: tuple[Session, Truth]) -> None:
    session, truth = holds
    acc, _, _, tilt = _segment_frame(session, truth, "simlowback")
    fs = truth.sensor("simlowback").fs_hz
    win = round(5 * fs)
    for k in range(0, acc.shape[0] - win, win):
        f = acc[k : k + win].mean(axis=0)
        est_ap = math.degrees(math.atan2(-f[0], f[2]))
        est_ml = math.degrees(math.atan2(f[1], math.hypot(f[0], f[2])))
        true_ap, true_ml = np.degrees(np.sin(tilt[k : k + win]).mean(axis=0))
        # Over 5 s the mean linear acceleration h * d(omega)/T is < 0.98 m x 0.1 rad/s / 5 s
        # = 0.02 m/s^2 (0.11 deg); noise and quantization average out (< 0.01 deg); bias drift
        # left after removing the drawn trace is none. 0.3 deg leaves room for the landing-free
        # transients at trial onsets.
        assert est_ap == pytest.approx(true_ap, abs=0.3)
        assert est_ml == pytest.approx(true_ml, abs=0.3)


def test_gyro_integrates_to_the_true_tilt_change(holds: tuple[Session, Truth]) -> None:
    session, truth = holds
    _, gyr, t, tilt = _segment_frame(session, truth, "simlowback")
    trial = session.trials[1]
    i0, i1 = np.searchsorted(t, [trial.onset_s + 1, trial.end_s])
    d_ap = np.trapezoid(gyr[i0:i1, 1], t[i0:i1])
    d_ml = -np.trapezoid(gyr[i0:i1, 0], t[i0:i1])
    # Gyro white noise integrates to ~0.02 deg over 29 s, quantization (0.015 dps) averages
    # out, the 1 % scale error is removed, cos(theta_ML) ~ 1 - 1e-4: 0.1 deg is ample.
    assert math.degrees(d_ap) == pytest.approx(math.degrees(tilt[i1 - 1, 0] - tilt[i0, 0]), abs=0.1)
    assert math.degrees(d_ml) == pytest.approx(math.degrees(tilt[i1 - 1, 1] - tilt[i0, 1]), abs=0.1)


def test_board_edge_contacts_coincide_with_the_tilt_limit(board: tuple[Session, Truth]) -> None:
    session, truth = board
    s = truth.series
    limit = truth.board.max_tilt_rad
    mag = np.hypot(s.board[:, 0], s.board[:, 1])
    contacts = [c for t in truth.trials for c in t.edge_contacts]
    assert contacts, "the lapses must drive the board to its edge"
    in_contact = np.zeros(mag.size, dtype=bool)
    for c in contacts:
        # Series sample k is internal step 5 k: the samples inside [start, end).
        i0, i1 = (math.ceil(x * s.fs_hz - 1e-9) for x in (c.start_s, c.end_s))
        in_contact[i0:i1] = True
        # Truth series: on the limit (to rounding) during the contact.
        assert np.allclose(mag[i0:i1], limit, atol=1e-9)
    # Never beyond the limit, and on it only during the contacts.
    assert mag.max() <= limit + 1e-9
    assert not np.any((mag > limit - 1e-12) & ~in_contact)
    # The board IMU: an impact spike at each contact start, and its static tilt at the limit.
    acc, _, t, _ = _segment_frame(session, truth, "simboard")
    norm = np.linalg.norm(acc, axis=1)
    for c in contacts:
        near = (t >= c.start_s) & (t < c.start_s + 0.03)
        assert np.max(np.abs(norm[near] - G)) > 0.5 * c.spike_peak_ms2
        if c.end_s - c.start_s > 0.2:
            quiet = (t >= c.start_s + 0.1) & (t < c.end_s)
            f = acc[quiet].mean(axis=0)
            tilt = math.degrees(math.acos(f[2] / np.linalg.norm(f)))
            # Board still on its edge; noise averages out; rocker-rolling term is zero.
            assert tilt == pytest.approx(truth.board.max_tilt_deg, abs=0.5)


def _settling_reference(x: np.ndarray, fs: float, band: float) -> float | None:
    """Independent re-implementation of the documented settling-time definition.

    The first 10 s about their mean over the last 3 s; centred 0.5-s moving RMS of the norm;
    the end of the last excursion above the band (SETTLING_DEFINITION).
    """
    x = x[: round(10 * fs)]
    x = x - x[-round(3 * fs) :].mean(axis=0)
    sq = np.sum(x**2, axis=1)
    half = round(0.5 * fs / 2)
    kernel = np.ones(2 * half + 1)
    mean_sq = np.convolve(sq, kernel, "same") / np.convolve(np.ones_like(sq), kernel, "same")
    above = np.flatnonzero(np.sqrt(mean_sq) > band)
    if above.size == 0:
        return 0.0
    return None if above[-1] == sq.size - 1 else (above[-1] + 1) / fs


def test_settling_times_match_the_noiseless_transients(landings: tuple[Session, Truth]) -> None:
    _, truth = landings
    lands = [t.landing for t in truth.trials if t.landing is not None]
    assert len(lands) == 4
    for ld in lands:
        # The band is what the transient may add before the expected moving RMS of transient
        # plus quiet noise, sqrt(e^2 + rms^2), reaches the quiet threshold (mean + 3 SD).
        for band, threshold, rms in (
            (ld.band_acc_ms2, ld.threshold_acc_ms2, ld.quiet_rms_acc_ms2),
            (ld.band_cop_m, ld.threshold_cop_m, ld.quiet_rms_cop_m),
        ):
            assert 0 < rms < threshold
            assert band == pytest.approx(math.sqrt(threshold**2 - rms**2))
        ref = _settling_reference(ld.noiseless_acc_ms2, ld.fs_hz, ld.band_acc_ms2)
        ref_cop = _settling_reference(ld.noiseless_cop_m, ld.fs_hz, ld.band_cop_m)
        assert ld.settling_time_s is not None and ref is not None
        assert ld.settling_time_cop_s is not None and ref_cop is not None
        # Same definition, independent code: equal to one sample (1 ms).
        assert ld.settling_time_s == pytest.approx(ref, abs=1.5 / ld.fs_hz)
        assert ld.settling_time_cop_s == pytest.approx(ref_cop, abs=1.5 / ld.fs_hz)
        # The landing response makes the lower back settle visibly later than the impact.
        assert ld.settling_time_s > 0.3
        # The noiseless transient starts from the drawn initial state and decays into the band.
        i = round(ld.impact_s * truth.series.fs_hz)
        assert truth.series.theta[i] == pytest.approx(ld.initial_tilt_rad, abs=1e-3)
        tail = ld.noiseless_cop_m[-round(ld.fs_hz) :]
        assert np.sqrt(np.mean(np.sum(tail**2, axis=1))) < ld.band_cop_m
        assert 2.0 <= ld.peak_g <= 4.0


def test_landing_impact_and_flight_show_in_the_vertical_acc(
    landings: tuple[Session, Truth],
) -> None:
    session, truth = landings
    acc, _, t, _ = _segment_frame(session, truth, "simlowback")
    for tt in truth.trials:
        ld = tt.landing
        assert ld is not None
        near = (t >= ld.impact_s) & (t < ld.impact_s + 0.1)
        # Peak within ~50 ms of contact at the intended size (the 200-Hz sampling of a 40-ms
        # rise and the sway terms allow 5 %).
        k = int(np.argmax(acc[near, 2]))
        assert t[near][k] - ld.impact_s < 0.06
        assert acc[near, 2].max() / G == pytest.approx(ld.peak_g, rel=0.05)


def test_the_true_settling_time_uses_the_methods_own_low_pass() -> None:
    """SETTLING_DEFINITION: the truth is what the default method estimates, pre-processing
    included, so the truth's filter must be the analysis's default filter (else every true
    settling time is off by the filter's effect on the band, 0.025 s on the lower back)."""
    defaults = AnalysisSettings()
    assert defaults.body_cutoff_hz == sim_events.SETTLING_ACC_CUTOFF_HZ
    assert defaults.cop_cutoff_hz == sim_events.SETTLING_COP_CUTOFF_HZ
    assert defaults.filter_order == sim_events.SETTLING_FILTER_ORDER
