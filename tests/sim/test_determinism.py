"""The simulator is deterministic with a seed, and streaming does not change the data."""

from __future__ import annotations

import json

import numpy as np

from balancelab.model import Side, TrialType
from balancelab.sim import (
    Scenario,
    TrialSpec,
    force_plate,
    iter_batches,
    list_scenarios,
    lowback_imu,
    simulate_session,
)

SHORT = Scenario(
    "short",
    "two short holds",
    (
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=8.0, rest_after_s=2.0),
        TrialSpec(TrialType.STEP_DOWN, Side.RIGHT, duration_s=8.0, rest_after_s=2.0),
    ),
    lead_in_s=2.0,
)


def test_same_seed_same_session_bit_for_bit() -> None:
    a, ta = simulate_session(SHORT, seed=7)
    b, tb = simulate_session(SHORT, seed=7)
    for ra, rb in zip(a.recordings, b.recordings, strict=True):
        assert np.array_equal(ra.time_s, rb.time_s)
        assert np.array_equal(ra.values, rb.values, equal_nan=True)
    assert json.dumps(ta.to_json_dict()) == json.dumps(tb.to_json_dict())


def test_other_seed_other_session() -> None:
    a, _ = simulate_session(SHORT, seed=7)
    b, _ = simulate_session(SHORT, seed=8)
    assert not np.array_equal(a.recordings[0].values, b.recordings[0].values, equal_nan=True)


def test_adding_a_sensor_does_not_change_the_body() -> None:
    _, one = simulate_session(SHORT, sensors=[force_plate()], seed=3)
    _, two = simulate_session(SHORT, sensors=[force_plate(), lowback_imu()], seed=3)
    assert np.array_equal(one.series.theta, two.series.theta)
    assert np.array_equal(one.sensors[0].clean, two.sensors[0].clean)


def test_batches_rebuild_the_recording_whatever_their_size() -> None:
    session, _ = simulate_session(SHORT, seed=1)
    rec = session.recording("simlowback")
    for batch_s in (0.013, 0.5, 3.7, 100.0):
        parts = list(iter_batches(rec, batch_s))
        assert np.array_equal(np.concatenate([t for t, _ in parts]), rec.time_s)
        assert np.array_equal(np.vstack([v for _, v in parts]), rec.values, equal_nan=True)


def test_every_builtin_scenario_is_listed_with_a_description() -> None:
    names = dict(list_scenarios())
    assert {
        "single_leg_battery",
        "wobble_board",
        "step_down",
        "hop_landing",
        "demo_session",
    } <= set(names)
    assert all(desc and "\n" not in desc for desc in names.values())
