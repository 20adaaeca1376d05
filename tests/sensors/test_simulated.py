"""The simulated athlete as a live source: exactly the simulator's samples, at any speed."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from balancelab.errors import InvalidArgumentError
from balancelab.model import Side, TrialType
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceState
from balancelab.sensors.simulated import SimulatedSource
from balancelab.sim import Scenario, TrialSpec, force_plate, lowback_imu, simulate_session

TEST_TIMEOUT_S = 10.0
SHORT = Scenario(
    "short",
    "a 3-s hold with 0.5 s before and after",
    (TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=3.0, rest_after_s=0.0),),
    sensors=(lowback_imu(100.0), force_plate(50.0)),
    lead_in_s=0.5,
    tail_s=0.5,
)


class Collector:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[SourceEvent] = []

    def on_samples(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def on_event(self, event: SourceEvent) -> None:
        self.events.append(event)

    def stream(self, tracksys: str) -> tuple[np.ndarray, np.ndarray]:
        mine = [b for b in self.batches if b.tracksys == tracksys]
        return np.concatenate([b.time_s for b in mine]), np.vstack([b.values for b in mine])


@pytest.mark.asyncio
@pytest.mark.parametrize(("speed", "batch_s"), [(25.0, 0.05), (200.0, 0.013)])
async def test_delivers_exactly_the_simulators_samples(speed: float, batch_s: float) -> None:
    expected, truth = simulate_session(SHORT, seed=4)
    source, sink = SimulatedSource(SHORT, seed=4, speed=speed, batch_s=batch_s), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    assert [e.state for e in sink.events] == [
        SourceState.CONNECTING,
        SourceState.STREAMING,
        SourceState.STOPPED,
    ]
    assert sink.events[-1].reason == "end of the recording"
    for recording in expected.recordings:
        time_s, values = sink.stream(recording.tracksys)
        np.testing.assert_array_equal(time_s, recording.time_s)
        np.testing.assert_array_equal(values, recording.values)
    assert source.truth.to_json_dict() == truth.to_json_dict()
    assert [s.tracksys for s in source.streams()] == ["simlowback", "simplate"]
    assert source.scripted_trials == expected.trials
    total = sum(r.time_s.size for r in expected.recordings)
    assert source.stats.samples_received + source.stats.samples_lost == total


@pytest.mark.asyncio
async def test_stop_from_another_thread_ends_cleanly_with_a_prefix() -> None:
    expected, _ = simulate_session(SHORT)
    source, sink = SimulatedSource(SHORT, speed=5.0), Collector()

    def stop_when_streaming() -> None:
        while not sink.batches:
            threading.Event().wait(0.01)
        source.stop()

    stopper = threading.Thread(target=stop_when_streaming)
    stopper.start()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    stopper.join()
    assert sink.events[-1].state is SourceState.STOPPED
    assert sink.events[-1].reason == "stopped on request"
    time_s, values = sink.stream("simlowback")
    lowback = expected.recording("simlowback")
    assert 0 < time_s.size < lowback.time_s.size
    np.testing.assert_array_equal(time_s, lowback.time_s[: time_s.size])
    np.testing.assert_array_equal(values, lowback.values[: time_s.size])


@pytest.mark.asyncio
async def test_stop_before_run_delivers_nothing() -> None:
    source, sink = SimulatedSource(SHORT, speed=10.0), Collector()
    source.stop()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    assert not sink.batches
    assert sink.events[-1].state is SourceState.STOPPED


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan")])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(InvalidArgumentError, match="speed"):
        SimulatedSource(SHORT, speed=speed)
