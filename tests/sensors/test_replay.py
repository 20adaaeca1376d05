"""Replay: a recorded session played back live reproduces its times, values and gaps exactly."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from balancelab.engine.streaming import record_stream
from balancelab.formats.bids_reader import read_session
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant
from balancelab.model import Session, Side, TrialType
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceState
from balancelab.sensors.replay import ReplaySource, plan_batches
from balancelab.sim import Scenario, TrialSpec, force_plate, lowback_imu, simulate_session

TEST_TIMEOUT_S = 10.0
GAP_S = (1.0, 1.8)


def recorded_session(root: Path) -> Path:
    """A short simulated session with a 0.8-s gap in both streams and three n/a rows, on disk."""
    scenario = Scenario(
        "short",
        "short",
        (TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.RIGHT, duration_s=2.5, rest_after_s=0.0),),
        sensors=(lowback_imu(100.0), force_plate(50.0)),
        lead_in_s=0.3,
        tail_s=0.3,
    )
    session, _ = simulate_session(scenario, seed=9)
    gapped = []
    for recording in session.recordings:
        keep = (recording.time_s < GAP_S[0]) | (recording.time_s >= GAP_S[1])
        values = recording.values[keep].copy()
        lost = 0
        if recording.tracksys == "simlowback":
            values[40:43], lost = np.nan, 3
        gapped.append(
            dataclasses.replace(
                recording, time_s=recording.time_s[keep], values=values, lost_samples=lost
            )
        )
    session = Session(tuple(gapped))
    return write_session(root, session, participant=Participant("rec01"))


class Collector:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[SourceEvent] = []

    def on_samples(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def on_event(self, event: SourceEvent) -> None:
        self.events.append(event)


@pytest.mark.asyncio
async def test_replay_into_a_new_dataset_is_bitwise_the_original(tmp_path: Path) -> None:
    original_dir = recorded_session(tmp_path / "original")
    original = read_session(original_dir)
    # At 2x the 0.8-s gap is 0.4 s of silence, twice the stall limit; ordinary batches come
    # every few tens of ms, so only a machine paused for 0.2 s could add a stall of its own.
    source = ReplaySource(original_dir, speed=2.0, stall_after_s=0.2)
    async with asyncio.timeout(TEST_TIMEOUT_S):
        result = await record_stream(source, tmp_path / "copy", athlete="rec01")
    assert result.final_state is SourceState.STOPPED
    assert result.reason == "end of the recording"
    assert result.session_dir is not None
    copy = read_session(result.session_dir)
    assert copy.task == original.task
    assert copy.trials == original.trials
    for before in original.recordings:
        after = copy.recording(before.tracksys)
        np.testing.assert_array_equal(after.time_s, before.time_s)
        np.testing.assert_array_equal(after.values, before.values)  # NaN rows included
        assert after.lost_samples == before.lost_samples
        assert after.channels == before.channels
        assert after.nominal_fs_hz == before.nominal_fs_hz
    # The gap is played as silence: stalled, then streaming again. A heavily loaded machine
    # may add a stall of its own; each stall must still be followed by streaming again.
    states = [e.state for e in result.events]
    assert states[:2] == [SourceState.CONNECTING, SourceState.STREAMING]
    assert states[-1] is SourceState.STOPPED
    middle = states[2:-1]
    assert middle and middle == [SourceState.STALLED, SourceState.STREAMING] * (len(middle) // 2)
    assert result.stats.samples_lost == 3


@pytest.mark.asyncio
async def test_replay_of_one_motion_file_as_fast_as_possible(tmp_path: Path) -> None:
    session_dir = recorded_session(tmp_path)
    motion = next((session_dir / "motion").glob("*simlowback*_motion.tsv"))
    source, sink = ReplaySource(motion, speed=math.inf), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    recording = read_session(session_dir).recording("simlowback")
    times = np.concatenate([b.time_s for b in sink.batches])
    np.testing.assert_array_equal(times, recording.time_s)
    assert np.max(np.diff(times)) >= GAP_S[1] - GAP_S[0] - 0.011


@pytest.mark.asyncio
async def test_an_unreadable_recording_is_lost_with_the_reason(tmp_path: Path) -> None:
    source, sink = ReplaySource(tmp_path / "nothing-here"), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    assert [e.state for e in sink.events] == [SourceState.CONNECTING, SourceState.LOST]
    assert "nothing-here" in sink.events[-1].reason


def test_batches_cover_every_row_once_whatever_the_window(tmp_path: Path) -> None:
    session = read_session(recorded_session(tmp_path))
    for batch_s in (0.001, 0.05, 0.37, 10.0):
        got: dict[str, list[np.ndarray]] = {}
        ends = []
        for end_s, batches in plan_batches(session.recordings, batch_s):
            ends.append(end_s)
            for batch in batches:
                assert batch.time_s[-1] < end_s
                got.setdefault(batch.tracksys, []).append(batch.time_s)
        assert ends == sorted(ends)
        for recording in session.recordings:
            np.testing.assert_array_equal(np.concatenate(got[recording.tracksys]), recording.time_s)
