"""The recorder: what is received is on disk while recording; a kill leaves a recoverable session.

The child-process tests run the real `balancelab stream` command and kill or interrupt it. No
test sleeps for a time and then asserts: each waits for its condition (up to `WAIT_S`), so a
loaded machine makes it slower, not red. The 0.5-s bound itself comes from the recorder's
design (fsync every 0.25 s, `DEFAULT_SYNC_EVERY_S`).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from balancelab.formats.bids import STATUS_COMPLETE
from balancelab.formats.bids_reader import read_session, read_stream_info
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant, open_dataset
from balancelab.model import (
    Recording,
    Session,
    Side,
    StreamSpec,
    Surface,
    Trial,
    TrialType,
    Vision,
    imu_channels,
)
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceState
from balancelab.sensors.recorder import Recorder
from tests.support.ble import VirtualAir
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.scenarios import make_source

CHILD_TIMEOUT_S = 120.0
"""A child still running after this is hung and killed (a slow machine takes far less)."""
WAIT_S = 20.0
"""How long a condition may take on a loaded machine before the test fails."""
PROGRESS = re.compile(r"imu [\d.]+ Hz (\d+) samples")
SPEC = StreamSpec("imu", imu_channels("lowback"), 100.0)


def event(state: SourceState) -> SourceEvent:
    return SourceEvent("test", state, 0.0)


def batch(start: int, n: int) -> SampleBatch:
    t = np.arange(start, start + n) / 100.0
    return SampleBatch("imu", t, np.column_stack([t] * 6))


def motion_rows(session_dir: Path | None) -> int:
    """Rows of the session's motion.tsv on disk now (0 before it exists)."""
    motion = next(iter(session_dir.glob("motion/*_motion.tsv")), None) if session_dir else None
    return 0 if motion is None else motion.read_bytes().count(b"\n")


def closed(session_dir: Path | None) -> bool:
    """True once the session's stream is marked complete."""
    motion = next(iter(session_dir.glob("motion/*_motion.tsv")), None) if session_dir else None
    return motion is not None and read_stream_info(motion).status == STATUS_COMPLETE


async def until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Return once `condition()` holds; fail after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_rows_are_on_disk_while_recording(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, streams=lambda: [SPEC], athlete="a1", task="live")
    async with asyncio.timeout(2 * WAIT_S):
        await recorder.start()
        recorder.on_event(event(SourceState.STREAMING))
        recorder.on_samples(batch(0, 50))
        await until(lambda: motion_rows(recorder.session_dir) == 50)  # still open, on disk
        recorder.on_samples(batch(50, 25))
        await until(lambda: motion_rows(recorder.session_dir) == 75)
        assert not closed(recorder.session_dir)
        await recorder.close()
    assert recorder.session_dir is not None
    assert read_session(recorder.session_dir).recording("imu").time_s.size == 75


@pytest.mark.asyncio
async def test_rows_going_back_in_time_are_dropped_and_counted(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, streams=lambda: [SPEC], athlete="a1", task="live")
    trial = Trial(0.0, 0.5, TrialType.SINGLE_LEG_HOLD, Side.LEFT, Surface.FIRM, Vision.OPEN)
    async with asyncio.timeout(10):
        await recorder.start()
        recorder.on_samples(batch(0, 5))  # before streaming: not recorded
        recorder.on_event(event(SourceState.STREAMING))
        recorder.on_samples(batch(0, 10))
        recorder.on_samples(batch(5, 10))  # five repeats
        recorder.on_samples(SampleBatch("other", np.zeros(2), np.zeros((2, 6))))
        recorder.add_trial(trial)
        session_dir = await recorder.close()
    assert recorder.rows_dropped == {
        "not recording": 5,
        "time not increasing": 5,
        "unknown stream": 2,
    }
    assert session_dir is not None
    session = read_session(session_dir)
    np.testing.assert_array_equal(session.recording("imu").time_s, np.arange(15) / 100.0)
    assert session.trials == (trial,)
    assert recorder.error is None


@pytest.mark.asyncio
async def test_lost_closes_the_session_keeping_every_row(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, streams=lambda: [SPEC], athlete="a1", task="live")
    async with asyncio.timeout(2 * WAIT_S):
        await recorder.start()
        recorder.on_event(event(SourceState.STREAMING))
        recorder.on_samples(batch(0, 30))
        recorder.on_event(event(SourceState.LOST))
        recorder.on_samples(batch(30, 5))  # after the loss: ignored
        # Closed on the loss itself: complete and readable before close() is called.
        await until(lambda: closed(recorder.session_dir))
        assert recorder.session_dir is not None
        assert read_session(recorder.session_dir).recording("imu").time_s.size == 30
        assert await recorder.close() == recorder.session_dir
    assert not list((recorder.session_dir / "motion").glob(".*.tmp"))


@pytest.mark.asyncio
async def test_a_disk_problem_is_reported_not_raised(tmp_path: Path) -> None:
    errors: list[Exception] = []
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    recorder = Recorder(blocker, streams=lambda: [SPEC], athlete="a1", task="live",
                        on_error=errors.append)  # fmt: skip
    async with asyncio.timeout(10):
        await recorder.start()
        recorder.on_event(event(SourceState.STREAMING))
        recorder.on_samples(batch(0, 10))
        await recorder.close()
    assert recorder.error is not None and errors == [recorder.error]
    assert recorder.session_dir is None


@pytest.mark.asyncio
async def test_a_trial_added_before_the_session_opens_is_written_when_it_does(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path, streams=lambda: [SPEC], athlete="a1", task="live")
    early = Trial(0.0, 0.05, TrialType.SINGLE_LEG_HOLD, Side.LEFT, Surface.FIRM, Vision.OPEN)
    late = Trial(0.05, 0.05, TrialType.SINGLE_LEG_HOLD, Side.RIGHT, Surface.FIRM, Vision.OPEN)
    async with asyncio.timeout(10):
        await recorder.start()
        recorder.on_event(event(SourceState.CONNECTING))
        recorder.add_trial(early)  # the sensor is still connecting
        recorder.on_event(event(SourceState.STREAMING))
        recorder.on_samples(batch(0, 10))
        recorder.on_event(event(SourceState.LOST))
        recorder.add_trial(late)  # the session is closed: counted, not written
        session_dir = await recorder.close()
    assert session_dir is not None
    assert read_session(session_dir).trials == (early,)
    assert recorder.trials_dropped == 1


class ArrivalLog:
    """A sink that records into `recorder` and notes each batch's wall-clock arrival."""

    def __init__(self, recorder: Recorder, wall_clock: Callable[[], datetime]) -> None:
        self.recorder = recorder
        self.wall_clock = wall_clock
        self.arrivals: list[tuple[datetime, SampleBatch]] = []
        self.events: list[SourceEvent] = []

    def on_samples(self, batch: SampleBatch) -> None:
        self.arrivals.append((self.wall_clock(), batch))
        self.recorder.on_samples(batch)

    def on_event(self, event: SourceEvent) -> None:
        self.events.append(event)
        self.recorder.on_event(event)


CONNECT_DELAY_S = 1.5
MEDIAN_TOLERANCE_S = 0.05
"""A sample's absolute time may precede its arrival by the packet's batching (5 samples at
100 Hz) and the device-clock mapping; the in-process link itself adds no air time."""
WORST_TOLERANCE_S = 0.5
"""On a real-time loop a busy machine can delay single arrivals; still far below the 1.5-s
connection delay that a start stamped at the first sample would add to every time."""


@pytest.mark.asyncio
async def test_start_utc_is_the_session_onset_so_sample_times_are_absolute(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    epoch = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)

    def wall_clock() -> datetime:  # the wall clock, on the loop's time
        return epoch + timedelta(seconds=loop.time())

    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    source = make_source(air, "balancelab-board", rate_hz=100)
    recorder = Recorder(tmp_path, streams=source.streams, athlete="a1", task="live",
                        wall_clock=wall_clock)  # fmt: skip
    sink = ArrivalLog(recorder, wall_clock)
    async with asyncio.timeout(60):
        await recorder.start()
        task = asyncio.create_task(source.run(sink))
        await asyncio.sleep(CONNECT_DELAY_S)  # the sensor is switched on late
        await twin.start()
        await until(lambda: len(sink.arrivals) > 40)  # 2 s of 5-sample packets at 100 Hz
        source.stop()
        await task
        session_dir = await recorder.close()
    streaming = next(e for e in sink.events if e.state is SourceState.STREAMING)
    assert streaming.time_s > CONNECT_DELAY_S  # session time 0 was long before streaming
    assert recorder.start_utc is not None
    errors_s = [
        (
            arrived - recorder.start_utc - timedelta(seconds=float(received.time_s[-1]))
        ).total_seconds()
        for arrived, received in sink.arrivals
    ]
    assert abs(float(np.median(errors_s))) < MEDIAN_TOLERANCE_S
    assert max(abs(e) for e in errors_s) < WORST_TOLERANCE_S
    assert session_dir is not None  # the folder name keeps whole seconds of the same start
    assert read_session(session_dir).start_utc == recorder.start_utc.replace(microsecond=0)


# The real command in a child process ---------------------------------------------------------


def long_recording(root: Path) -> Path:
    """A 2-minute 100-Hz IMU session on disk (cheap to make and to load in the child)."""
    t = np.arange(12000) / 100.0
    values = np.column_stack([np.sin(t * k) for k in range(1, 7)])
    recording = Recording(
        t, values, imu_channels("lowback"), 100.0, "imu", athlete="src01",
        start_utc=datetime(2025, 1, 1, tzinfo=UTC), task="live",
    )  # fmt: skip
    return write_session(root, Session((recording,)), participant=Participant("src01"))


# `python -m balancelab` with Ctrl-C enabled: a test run started in the background of a shell
# without job control inherits SIGINT ignored, and Python then installs no KeyboardInterrupt.
_MAIN_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('balancelab', run_name='__main__', alter_sys=True)"
)


def start_child(tmp_path: Path) -> subprocess.Popen[str]:
    """`balancelab stream replay:<2-min session>` at real time, into tmp_path/out."""
    source = long_recording(tmp_path / "source")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = ["stream", f"replay:{source}", "--athlete", "kid01", "--out", str(tmp_path / "out")]
    return subprocess.Popen(
        [sys.executable, "-c", _MAIN_WITH_CTRL_C, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def watchdog_kill() -> Iterator[list[subprocess.Popen[str]]]:
    """Children listed here are killed after CHILD_TIMEOUT_S, whatever happens to the test."""
    children: list[subprocess.Popen[str]] = []
    timer = threading.Timer(CHILD_TIMEOUT_S, lambda: [c.kill() for c in children])
    timer.start()
    yield children
    timer.cancel()
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate()


def wait_for_rows_on_disk(root: Path, minimum: int) -> None:
    """Return once a session under `root` has at least `minimum` rows in its motion.tsv."""
    deadline = time.monotonic() + WAIT_S
    while max((motion_rows(s) for s in root.glob("sub-*/ses-*")), default=0) < minimum:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {minimum} rows on disk after {WAIT_S} s")
        time.sleep(0.01)


def wait_for_samples(child: subprocess.Popen[str], minimum: int) -> int:
    """Read the child's progress lines until it reports at least `minimum` samples."""
    assert child.stdout is not None
    for line in child.stdout:
        match = PROGRESS.search(line)
        if match and int(match.group(1)) >= minimum:
            return int(match.group(1))
    raise AssertionError(f"the child ended early: {child.communicate()}")


def test_a_killed_recording_is_recovered_with_everything_received(
    tmp_path: Path, watchdog_kill: list[subprocess.Popen[str]]
) -> None:
    child = start_child(tmp_path)
    watchdog_kill.append(child)
    received = wait_for_samples(child, 1)
    wait_for_rows_on_disk(tmp_path / "out", received)  # what was received reaches the disk
    child.send_signal(signal.SIGKILL)
    child.wait()
    reports = open_dataset(tmp_path / "out").recovered
    assert [r.samples_kept > 0 for r in reports] == [True]
    session_dir = next((tmp_path / "out").glob("sub-kid01/ses-*"))
    recording = read_session(session_dir).recording("imu")
    assert recording.time_s.size >= received
    assert np.all(np.diff(recording.time_s) > 0)


def test_ctrl_c_stops_cleanly_and_keeps_the_recording(
    tmp_path: Path, watchdog_kill: list[subprocess.Popen[str]]
) -> None:
    child = start_child(tmp_path)
    watchdog_kill.append(child)
    received = wait_for_samples(child, 1)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    assert child.returncode == 0, err
    assert "stopped by Ctrl-C" in out
    assert not open_dataset(tmp_path / "out").recovered  # closed properly: nothing to recover
    session_dir = next((tmp_path / "out").glob("sub-kid01/ses-*"))
    assert read_session(session_dir).recording("imu").time_s.size >= received


_INTERRUPT_FROM_ANOTHER_THREAD = """
import signal, sys, threading
from balancelab.engine.streaming import open_source, stream_to_dataset
from balancelab.sensors.base import SourceState

signal.signal(signal.SIGINT, signal.default_int_handler)  # see _MAIN_WITH_CTRL_C
streaming = threading.Event()

def on_event(event) -> None:
    if getattr(event, "state", None) is SourceState.STREAMING:
        streaming.set()

def interrupt() -> None:
    if streaming.wait(60.0) and not threading.Event().wait(1.0):
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # delivered to this thread

threading.Thread(target=interrupt, daemon=True).start()
result = stream_to_dataset(open_source("sim"), sys.argv[1], 60.0, on_event, athlete="sig01")
print(f"stopped_by={result.stopped_by and result.stopped_by.name} elapsed_s={result.elapsed_s:.1f}")
"""


def test_ctrl_c_delivered_to_another_thread_still_stops_the_stream(
    tmp_path: Path, watchdog_kill: list[subprocess.Popen[str]]
) -> None:
    """The OS may hand SIGINT to any thread; a main thread blocked on the result would not
    notice until the stream ended (here after 60 s of stream time, not ~1 s of streaming)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPT_FROM_ANOTHER_THREAD, str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog_kill.append(child)
    out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    assert child.returncode == 0, err
    match = re.search(r"stopped_by=SIGINT elapsed_s=([\d.]+)", out)
    assert match is not None, out
    assert float(match.group(1)) < 30.0  # stopped by the interrupt, not by the end of the stream
    session_dir = next((tmp_path / "out").glob("sub-sig01/ses-*"))
    assert read_session(session_dir).recordings
