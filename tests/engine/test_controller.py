"""The stream controller driven headless, as a GUI would: commands from a thread of its own,
typed events out in order on the engine thread, ring snapshots and the session clock while
streaming, trial rows on disk as they begin, and a disk failure arriving as an event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import balancelab
from balancelab.engine.controller import (
    EngineLoop,
    ErrorEvent,
    StreamController,
    StreamEvent,
    StreamProgress,
    TrialEnded,
    TrialStarted,
)
from balancelab.formats.bids_reader import read_session, read_trials
from balancelab.formats.dataset import open_dataset
from balancelab.model import Outcome, Side, Surface, Trial, TrialType, Vision
from balancelab.sensors.base import SourceEvent, SourceState
from balancelab.sensors.simulated import SimulatedSource
from balancelab.sim import Scenario, TrialSpec, lowback_imu, simulate_session

WAIT_S = 30.0
PROJECT_ROOT = Path(balancelab.__file__).resolve().parents[1]
QUIET = Scenario(
    "quiet",
    "a long quiet lead-in: the scripted hold is never reached in these tests",
    (TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=2.0, rest_after_s=0.0),),
    sensors=(lowback_imu(100.0),),
    lead_in_s=40.0,
    tail_s=0.0,
)
LONG = Scenario(
    "long",
    "a two-minute hold, streamed at 20x (in 6 s)",
    (TrialSpec(TrialType.DOUBLE_LEG_HOLD, Side.BOTH, duration_s=120.0),),
    sensors=(lowback_imu(100.0),),
    lead_in_s=1.0,
    tail_s=0.0,
)


class Collector:
    """The controller's event callback: events in order, the threads that delivered them."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.threads: set[str] = set()
        self._changed = threading.Condition()

    def __call__(self, event: StreamEvent) -> None:
        with self._changed:
            self.threads.add(threading.current_thread().name)
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, wanted: Callable[[StreamEvent], bool]) -> StreamEvent:
        """The first event `wanted` accepts, once it has come."""
        with self._changed:
            assert self._changed.wait_for(lambda: any(map(wanted, self.events)), WAIT_S)
            return next(e for e in self.events if wanted(e))

    def kinds(self) -> list[str]:
        """The events but progress, as words: a state's value, or the event's class name."""
        return [
            e.state.value if isinstance(e, SourceEvent) else type(e).__name__
            for e in self.events
            if not isinstance(e, StreamProgress)
        ]


def on_gui_thread(command: Callable[[], object]) -> None:
    """Run `command` on a thread standing for the GUI's, and wait for it."""
    gui = threading.Thread(target=command, name="gui")
    gui.start()
    gui.join(WAIT_S)
    assert not gui.is_alive()


def streaming(event: StreamEvent) -> bool:
    return isinstance(event, SourceEvent) and event.state is SourceState.STREAMING


def newest_s(controller: StreamController) -> float:
    """The time (s, session clock) of the newest sample in the lower-back ring, or -inf."""
    snap = controller.snapshot("simlowback")
    return float(snap[0][-1]) if snap is not None and snap[0].size else -np.inf


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_commands_in_from_a_gui_thread_typed_events_out_in_order(tmp_path: Path) -> None:
    collector = Collector()
    with EngineLoop() as engine:
        controller = StreamController(
            SimulatedSource(QUIET, speed=2.0), tmp_path, engine=engine, on_event=collector
        )
        on_gui_thread(controller.start)
        collector.wait_for(streaming)

        # A snapshot while streaming: the newest samples, on the session clock, up to now.
        wait_until(lambda: (s := controller.snapshot("simlowback")) is not None and s[0].size > 50)
        snap = controller.snapshot("simlowback")
        assert snap is not None
        times, values = snap
        assert values.shape == (times.size, 6) and np.all(np.diff(times) > 0)
        assert times[-1] <= controller.session_time_s()
        assert controller.snapshot("nothing") is None

        before_s = controller.session_time_s()
        on_gui_thread(
            lambda: controller.begin_trial(
                TrialType.SINGLE_LEG_HOLD, Side.RIGHT, Surface.FOAM, Vision.CLOSED
            )
        )
        started = collector.wait_for(lambda e: isinstance(e, TrialStarted))
        after_s = controller.session_time_s()
        wait_until(lambda: newest_s(controller) > after_s + 0.3)
        on_gui_thread(controller.stop)
        result = controller.result(WAIT_S)

    assert collector.threads == {"balancelab-engine"}
    assert collector.kinds() == [
        "connecting", "streaming", "TrialStarted", "TrialEnded", "stopped"
    ]  # fmt: skip
    assert isinstance(collector.events[-1], StreamProgress)  # the final figures
    assert isinstance(started, TrialStarted)
    assert before_s <= started.trial.onset_s <= after_s
    [ended] = [e for e in collector.events if isinstance(e, TrialEnded)]
    # Stopped during the trial: aborted, lasting up to the last sample received.
    assert result.session_dir is not None and result.final_state is SourceState.STOPPED
    session = read_session(result.session_dir)
    last_s = float(session.recording("simlowback").time_s[-1])
    assert ended.trial.outcome is Outcome.ABORTED
    assert ended.trial.onset_s == started.trial.onset_s
    assert ended.trial.end_s == pytest.approx(last_s, abs=1e-9)
    assert session.trials == (ended.trial,)
    assert result.trials_aborted == (ended.trial,)
    assert (ended.trial.surface, ended.trial.vision) == (Surface.FOAM, Vision.CLOSED)


def test_a_trial_row_is_on_disk_as_aborted_from_its_start_and_rewritten_at_its_end(
    tmp_path: Path,
) -> None:
    collector = Collector()
    with EngineLoop() as engine:
        controller = StreamController(
            SimulatedSource(QUIET, speed=2.0), tmp_path, engine=engine, on_event=collector
        )
        controller.start()
        collector.wait_for(streaming)
        wait_until(lambda: any(tmp_path.glob("sub-anon/ses-*/motion/*_events.tsv")))
        [events_tsv] = tmp_path.glob("sub-anon/ses-*/motion/*_events.tsv")
        controller.end_trial()  # none under way: refused, as an event with a code
        refused = collector.wait_for(lambda e: isinstance(e, ErrorEvent))
        controller.begin_trial(TrialType.DOUBLE_LEG_HOLD, Side.BOTH)
        controller.begin_trial(TrialType.DOUBLE_LEG_HOLD, Side.BOTH)  # one at a time
        started = collector.wait_for(lambda e: isinstance(e, TrialStarted))
        collector.wait_for(lambda e: isinstance(e, ErrorEvent) and e is not refused)
        assert isinstance(started, TrialStarted)
        under_way = Trial(
            started.trial.onset_s, 0.0, TrialType.DOUBLE_LEG_HOLD, Side.BOTH,
            Surface.FIRM, Vision.OPEN, Outcome.ABORTED,
        )  # fmt: skip
        wait_until(lambda: read_trials(events_tsv) == (under_way,))  # on disk while under way
        wait_until(lambda: controller.session_time_s() > started.trial.onset_s + 0.5)
        controller.end_trial(Outcome.TOUCHDOWN)
        ended = collector.wait_for(lambda e: isinstance(e, TrialEnded))
        wait_until(lambda: read_trials(events_tsv)[0].outcome is Outcome.TOUCHDOWN)
        controller.stop()
        result = controller.result(WAIT_S)

    errors = [e for e in collector.events if isinstance(e, ErrorEvent)]
    assert [(e.trouble.code, e.trouble.message) for e in errors] == [
        ("no_trial_under_way", "no trial is under way"),
        ("trial_under_way", "a trial is already under way"),
    ]
    assert all(e.trouble.advice for e in errors)
    assert isinstance(ended, TrialEnded)
    assert ended.trial.outcome is Outcome.TOUCHDOWN and ended.trial.duration_s > 0.5
    assert result.session_dir is not None and result.trials_aborted == ()
    assert read_session(result.session_dir).trials == (ended.trial,)


FILL_THE_LIMIT = """
import json, resource, signal, sys
sys.modules["PySide6"] = None  # headless: the engine must not need Qt
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
from balancelab.engine.controller import EngineLoop, ErrorEvent, StreamController
from balancelab.sensors.base import SourceEvent
from balancelab.sensors.simulated import SimulatedSource
from tests.engine.test_controller import LONG

source = SimulatedSource(LONG, speed=20.0)
_ = source.session  # simulated before the limit is set
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
lines = []
def on_event(event):
    if isinstance(event, ErrorEvent):
        lines.append({"kind": "error", **vars(event.trouble)})
    elif isinstance(event, SourceEvent):
        lines.append({"kind": "state", "state": event.state.value})
with EngineLoop() as engine:
    controller = StreamController(source, sys.argv[1], engine=engine, on_event=on_event)
    controller.start()
    result = controller.result(60)
lines.append({"kind": "result", "code": result.error.code if result.error else None})
print(json.dumps(lines))
"""


def test_a_disk_failure_arrives_as_an_error_event_and_what_was_written_stays(
    tmp_path: Path,
) -> None:
    """A process whose files may not grow past 256 KB (RLIMIT_FSIZE: a full disk as the
    recorder meets it) streams the simulated athlete at 20x: the limit comes after about
    37 s of samples (2 s), well before the two-minute hold ends. The hold's row, written
    `aborted` as it began, cannot be rewritten after the failure; recovery extends it."""
    limit_bytes = 256 * 1024
    done = subprocess.run(
        [sys.executable, "-c", FILL_THE_LIMIT, str(tmp_path), str(limit_bytes)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = json.loads(done.stdout)
    kinds = [(line["kind"], line.get("state") or line.get("code")) for line in lines]
    assert kinds == [
        ("state", "connecting"), ("state", "streaming"), ("error", "dataset"),
        ("state", "stopped"), ("result", "dataset"),
    ]  # fmt: skip
    error = lines[2]
    assert "File too large" in error["message"] and "motion.tsv" in error["message"]
    assert error["advice"].startswith("Check free disk space")

    # What was written stays: the session is recovered with the rows up to the limit.
    [motion_tsv] = tmp_path.glob("sub-anon/ses-*/motion/*_motion.tsv")
    assert motion_tsv.stat().st_size == limit_bytes
    [report] = open_dataset(tmp_path).recovered
    assert report.changed and report.samples_kept > 1000
    session = read_session(motion_tsv.parents[1])
    recording = session.recording("simlowback")
    hold = LONG.trials[0]
    assert session.trials == report.trials_extended
    [kept] = session.trials
    assert (kept.onset_s, kept.trial_type, kept.outcome) == (
        LONG.lead_in_s, hold.trial_type, Outcome.ABORTED,
    )  # fmt: skip
    assert kept.end_s == float(recording.time_s[-1])
    simulated, _ = simulate_session(LONG)
    expected = simulated.recording("simlowback")
    n = recording.time_s.size
    assert n == report.samples_kept
    np.testing.assert_allclose(recording.time_s, expected.time_s[:n], atol=1e-6)
