"""Plausibility: a phone waved, moved around or lying in a car is never a valid balance hold."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from balancelab.dsp.analysis import analyze_recording, analyze_session
from balancelab.dsp.plausibility import rotation_range_deg, sustained_acceleration_s
from balancelab.formats.bids_reader import read_session
from balancelab.formats.import_forceplate import import_forceplate
from balancelab.model import (
    STANDARD_GRAVITY_MS2,
    FloatArray,
    QualityCode,
    Recording,
    Side,
    Surface,
    Trial,
    TrialAnalysis,
    TrialType,
    Vision,
    imu_channels,
)
from balancelab.sim import Scenario, TrialSpec, lowback_imu, simulate_session
from tests.support import SHARED_DATA

FS = 100.0
G = STANDARD_GRAVITY_MS2
T = np.arange(round(34 * FS)) / FS
RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"
HOLD = Trial(1.0, 32.0, TrialType.SINGLE_LEG_HOLD, Side.LEFT, Surface.FIRM, Vision.OPEN)


def gravity_tilted(angle_rad: FloatArray) -> FloatArray:
    """Specific force of a still sensor rolled by `angle_rad` about its x axis (n, 3)."""
    return np.column_stack([np.zeros_like(angle_rad), G * np.sin(angle_rad), G * np.cos(angle_rad)])


def waved() -> FloatArray:
    """A phone waved by hand: rolling ±60° at 1.5 Hz while the hand swings it ±5 m/s^2 at 2 Hz."""
    acc = gravity_tilted(math.radians(60) * np.sin(2 * np.pi * 1.5 * T))
    acc[:, 1] += 5.0 * np.sin(2 * np.pi * 2.0 * T)
    return acc


def moved_around() -> FloatArray:
    """A phone carried about: turned slowly through 0-90° and jostled by ~1 m/s^2."""
    rng = np.random.default_rng(7)
    acc = gravity_tilted(math.radians(45) * (1 - np.cos(2 * np.pi * T / 20)))
    acc += np.cumsum(rng.normal(0, 0.05, (T.size, 3)), axis=0) % 2.0 - 1.0
    return acc


def in_a_car() -> FloatArray:
    """A phone lying in a car: level, pulling away (2.5 m/s^2, 5 s), braking (-3 m/s^2, 4 s),
    a bend (3 m/s^2 sideways, 6 s), road vibration of 0.3 m/s^2 RMS."""
    rng = np.random.default_rng(8)
    acc = gravity_tilted(np.zeros(T.size)) + rng.normal(0, 0.3, (T.size, 3))
    time_s = T
    for start, stop, axis, level in ((4, 9, 0, 2.5), (13, 17, 0, -3.0), (21, 27, 1, 3.0)):
        acc[(time_s >= start) & (time_s < stop), axis] += level
    return acc


def phone_hold(acc: FloatArray) -> TrialAnalysis:
    rec = Recording(T, acc, imu_channels("sternum", gyro=False), FS, "phone", trials=(HOLD,))
    return analyze_recording(rec).trials[0]


@pytest.mark.parametrize("make", [waved, moved_around, in_a_car], ids=lambda f: f.__name__)
def test_a_phone_not_on_a_standing_person_is_implausible(make: Callable[[], FloatArray]) -> None:
    result = phone_hold(make())
    assert not result.valid
    assert QualityCode.IMPLAUSIBLE in {f.code for f in result.quality}


def test_a_waved_phone_breaks_the_rotation_and_a_car_the_vehicle_bound() -> None:
    """Each trace trips its own bound: the waved phone turns by ~120°, the car reads |a| above g
    for seconds, and neither sways more than 20x the single-leg RMS (6 m/s^2)."""
    wave = next(f for f in phone_hold(waved()).quality if f.code == QualityCode.IMPLAUSIBLE)
    car = next(f for f in phone_hold(in_a_car()).quality if f.code == QualityCode.IMPLAUSIBLE)
    assert "rotated" in wave.message
    assert "vehicle" in car.message and "rotated" not in car.message


def test_real_quiet_stance_and_simulated_holds_are_plausible() -> None:
    """Real two-leg COP (BDS, the subjects on foam with eyes closed too) and simulated lower-back
    single-leg holds on foam with eyes closed, touch-downs included, are never implausible."""
    for name in ("BDS00001.txt", "BDS00010.txt", "BDS00043.txt"):
        (rec,) = import_forceplate(SHARED_DATA / "bds" / name)
        trial = Trial(0.0, 60.0, TrialType.DOUBLE_LEG_HOLD, Side.BOTH, Surface.FOAM, Vision.CLOSED)
        result = analyze_recording(replace(rec, trials=(trial,))).trials[0]
        assert result.valid, result.quality
    specs = tuple(
        TrialSpec(
            TrialType.SINGLE_LEG_HOLD,
            side,
            Surface.FOAM,
            Vision.CLOSED,
            30.0,
            3.0,
            touchdowns_s=touchdowns,
        )
        for side in (Side.LEFT, Side.RIGHT)
        for touchdowns in ((), (8.0, 18.0))
    )
    sensors = (replace(lowback_imu(), loss_bursts_per_min=0.0),)
    for seed in range(3):
        sess, _ = simulate_session(Scenario("p", "t", specs, sensors=sensors), seed=seed)
        for held in analyze_session(sess).recordings[0].trials:
            assert QualityCode.IMPLAUSIBLE not in {f.code for f in held.quality}, held.quality


def test_no_trial_of_the_example_recordings_is_implausible() -> None:
    for folder in sorted(RECORDINGS.glob("sub-*/ses-*")):
        for result in analyze_session(read_session(folder)).recordings:
            for trial in result.trials:
                assert QualityCode.IMPLAUSIBLE not in {f.code for f in trial.quality}, folder


def test_rotation_and_sustained_acceleration_on_known_signals() -> None:
    """Analytic: a sensor turned by 30° halfway reads 30°; a level sensor pulled at 3 m/s^2 for
    5 s reads |a| = 10.25 m/s^2 (0.45 above g): the 2-s mean exceeds g + 0.2 for 5 + 2 - 2·0.9 s
    (it needs 0.9 s of overlap) = 5.2 s; quiet noise reads 0."""
    turned = gravity_tilted(np.where(T < 17, 0.0, math.radians(30)))
    assert rotation_range_deg(turned, FS) == pytest.approx(30.0, abs=1e-6)
    pulled = gravity_tilted(np.zeros(T.size))
    pulled[(T >= 10) & (T < 15), 0] = 3.0
    assert sustained_acceleration_s(pulled, FS) == pytest.approx(5.2, abs=0.05)
    quiet = gravity_tilted(np.zeros(T.size)) + np.random.default_rng(1).normal(0, 0.05, (T.size, 3))
    assert sustained_acceleration_s(quiet, FS) == 0.0
    assert rotation_range_deg(quiet, FS) < 2.0
