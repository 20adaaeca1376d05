"""The engine's stream runner: its own loop thread, thread-safe commands, events out, snapshots."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from balancelab.engine.controller import EngineLoop, StreamEvent, StreamProgress, start_stream
from balancelab.engine.streaming import stream_to_dataset
from balancelab.formats.bids_reader import read_session
from balancelab.model import Outcome, Side, Surface, Trial, TrialType, Vision
from balancelab.sensors.base import SourceEvent, SourceSink, SourceState
from balancelab.sensors.simulated import SimulatedSource
from balancelab.sim import Scenario, TrialSpec, lowback_imu

RESULT_TIMEOUT_S = 15.0
SCENARIO = Scenario(
    "eight",
    "eight seconds",
    (TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=6.0, rest_after_s=0.0),),
    sensors=(lowback_imu(100.0),),
    lead_in_s=1.0,
    tail_s=1.0,
)


def test_commands_from_this_thread_events_from_the_engine_thread(tmp_path: Path) -> None:
    events: list[StreamEvent] = []
    threads: set[str] = set()

    def on_event(event: StreamEvent) -> None:
        threads.add(threading.current_thread().name)
        events.append(event)

    trial = Trial(0.1, 0.2, TrialType.SINGLE_LEG_HOLD, Side.RIGHT, Surface.FOAM, Vision.CLOSED)
    with EngineLoop() as engine:
        handle = start_stream(engine, SimulatedSource(SCENARIO, speed=2.0), tmp_path,
                              on_event=on_event)  # fmt: skip
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while (snap := handle.snapshot("simlowback")) is None or snap[0].size < 50:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        handle.add_trial(trial)
        handle.stop()
        result = handle.result(RESULT_TIMEOUT_S)
    assert threads == {"balancelab-engine"}
    states = [e.state for e in events if isinstance(e, SourceEvent)]
    assert states == [SourceState.CONNECTING, SourceState.STREAMING, SourceState.STOPPED]
    assert isinstance(events[-1], StreamProgress)  # the final figures
    assert result.final_state is SourceState.STOPPED and result.stopped_by is None
    assert result.session_dir is not None
    session = read_session(result.session_dir)
    # Ours is there; the scripted trial had not ended: only if it had begun, it is `aborted`.
    assert sorted(session.trials, key=lambda t: t.onset_s) == sorted(
        (trial, *result.trials_aborted), key=lambda t: t.onset_s
    )
    assert all(t.outcome is Outcome.ABORTED for t in result.trials_aborted)
    written = result.samples_written["simlowback"]
    assert session.recording("simlowback").time_s.size == written >= snap[0].size


class SlowToConnect(SimulatedSource):
    """The simulated athlete, streaming only once `connected` is set (a sensor still being
    found and configured)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connected = threading.Event()

    async def run(self, sink: SourceSink) -> None:
        await asyncio.to_thread(self.connected.wait, RESULT_TIMEOUT_S)
        await super().run(sink)


def test_a_trial_added_while_the_source_connects_is_recorded(tmp_path: Path) -> None:
    trial = Trial(0.1, 0.2, TrialType.SINGLE_LEG_HOLD, Side.LEFT, Surface.FIRM, Vision.OPEN)
    source = SlowToConnect(SCENARIO, speed=2.0)
    with EngineLoop() as engine:
        handle = start_stream(engine, source, tmp_path)
        handle.add_trial(trial)
        engine.submit(asyncio.sleep(0)).result(RESULT_TIMEOUT_S)  # the trial has reached the loop
        assert source.state is SourceState.IDLE  # not yet connecting, let alone streaming
        source.connected.set()
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while (snap := handle.snapshot("simlowback")) is None or snap[0].size < 50:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        handle.stop()
        result = handle.result(RESULT_TIMEOUT_S)
    assert result.session_dir is not None
    assert read_session(result.session_dir).trials == (trial,)
    assert result.trials_dropped == 0


class _TimingOutSource(SimulatedSource):
    """A source with a bug: its run raises TimeoutError (the same class as a wait running out)."""

    async def run(self, sink: SourceSink) -> None:
        await asyncio.sleep(0.1)
        raise TimeoutError("a source bug")


def test_a_source_failing_with_timeout_error_is_reported_not_waited_for(tmp_path: Path) -> None:
    outcome: list[BaseException] = []

    def record() -> None:
        try:
            stream_to_dataset(_TimingOutSource(SCENARIO), tmp_path, seconds=5.0)
        except BaseException as error:  # whatever ends the call, the test inspects it
            outcome.append(error)

    worker = threading.Thread(target=record, daemon=True)
    worker.start()
    worker.join(RESULT_TIMEOUT_S)
    assert not worker.is_alive()  # before the fix the main wait spun on the error forever
    assert len(outcome) == 1 and isinstance(outcome[0], TimeoutError)
    assert "a source bug" in str(outcome[0])
