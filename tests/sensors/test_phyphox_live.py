"""phyphox live over real HTTP against a local phone twin (tests/support/phyphox_server.py).

Clock-mapping tolerance: a mapped sample time lies within 50 ms of the host time at which the
twin measured it (the lower envelope of arrival times: polls every 30 ms, samples every ~10 ms,
loopback requests of a few ms).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from balancelab.engine.streaming import record_stream
from balancelab.formats.bids_reader import read_session
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceState
from balancelab.sensors.phyphox_live import DEFAULT_STREAMS, PhyphoxSource, build_get_target
from tests.support.phyphox_server import GYRO_LAG_S, PhyphoxServer

CLOCK_TOLERANCE_S = 0.05
TEST_TIMEOUT_S = 15.0


class Collector:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[SourceEvent] = []

    def on_samples(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def on_event(self, event: SourceEvent) -> None:
        self.events.append(event)

    def states(self) -> list[SourceState]:
        return [e.state for e in self.events]

    def stream(self, tracksys: str) -> tuple[np.ndarray, np.ndarray]:
        mine = [b for b in self.batches if b.tracksys == tracksys]
        return np.concatenate([b.time_s for b in mine]), np.vstack([b.values for b in mine])

    def samples(self, tracksys: str) -> int:
        return sum(b.time_s.size for b in self.batches if b.tracksys == tracksys)


@pytest.fixture
def phone() -> Iterator[PhyphoxServer]:
    with PhyphoxServer() as server:
        yield server


def make_source(server: PhyphoxServer, **overrides: float) -> PhyphoxSource:
    options: dict[str, float] = {
        "poll_interval_s": 0.03,
        "request_timeout_s": 0.5,
        "stall_after_s": 0.25,
        "lost_after_s": 3.0,
        "warmup_s": 0.2,
        **overrides,
    }
    return PhyphoxSource("127.0.0.1", server.port, **options)  # type: ignore[arg-type]


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


# The documented query encoding and JSON (phyphox remote-interface docs) ----------------------


def test_incremental_query_is_encoded_as_documented() -> None:
    acc = DEFAULT_STREAMS[0]
    assert build_get_target([acc], {"acc": 3.0}) == (
        "/get?acc_time=3.0&accX=3.0%7Cacc_time&accY=3.0%7Cacc_time&accZ=3.0%7Cacc_time"
    )
    assert build_get_target([acc], {}) == "/get?acc_time=full&accX=full&accY=full&accZ=full"
    both = build_get_target(DEFAULT_STREAMS, {"acc": 1.5, "gyr": None})
    assert both.count("/get?") == 1 and both.endswith(
        "&gyr_time=full&gyrX=full&gyrY=full&gyrZ=full"
    )


# Live ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_samples_arrive_in_order_exactly_and_on_the_host_clock(phone: PhyphoxServer) -> None:
    # Stalls are tested elsewhere; a generous limit keeps a busy machine from adding one here.
    source, sink = make_source(phone, stall_after_s=5.0), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        run = asyncio.create_task(source.run(sink))
        await until(lambda: sink.samples("phoneacc") >= 100)
        source.stop()
        await run
    assert sink.states() == [SourceState.CONNECTING, SourceState.STREAMING, SourceState.STOPPED]
    assert phone.commands == ["clear", "start", "stop"]
    assert {s.tracksys for s in source.streams()} == {"phoneacc", "phonegyr"}
    for tracksys, column, lag_s in (("phoneacc", 0, 0.0), ("phonegyr", 3, GYRO_LAG_S)):
        time_s, values = sink.stream(tracksys)
        n = time_s.size
        assert np.all(np.diff(time_s) > 0)
        # Every sample the phone measured, in order, bit for bit, none missing.
        np.testing.assert_array_equal(values, phone.values[:n, column : column + 3])
        measured_host_s = phone.host_time_of(phone.times_s[:n] + lag_s)
        error_s = time_s + source.onset_s - measured_host_s
        assert np.max(np.abs(error_s)) < CLOCK_TOLERANCE_S
    assert source.stats.samples_received == sum(b.time_s.size for b in sink.batches)
    assert source.stats.median_latency_s is not None
    assert not source.stats.packets_rejected


@pytest.mark.asyncio
async def test_http_errors_timeouts_and_garbage_are_counted_and_lose_nothing(
    phone: PhyphoxServer,
) -> None:
    source, sink = make_source(phone, request_timeout_s=0.2), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        run = asyncio.create_task(source.run(sink))
        await until(lambda: source.state is SourceState.STREAMING)
        phone.fail_next(2, status=500)
        phone.garbage_next(2)
        phone.disconnect_next(1)
        phone.ragged_next(2)
        phone.delay_next(1, seconds=0.35)
        await until(lambda: phone.faults_pending == 0)
        received = sink.samples("phoneacc")
        await until(lambda: sink.samples("phoneacc") > received + 20)
        source.stop()
        await run
    rejected = source.stats.packets_rejected
    assert rejected["http_500"] == 2
    assert rejected["bad_json"] == 2
    assert rejected["disconnected"] == 1
    assert rejected["timeout"] >= 1
    states = sink.states()
    assert SourceState.RECONNECTING in states
    after = states[states.index(SourceState.RECONNECTING) + 1]
    assert after is SourceState.STREAMING
    assert source.stats.reconnects >= 1
    time_s, values = sink.stream("phoneacc")
    np.testing.assert_array_equal(values, phone.values[: time_s.size, :3])


@pytest.mark.asyncio
async def test_silence_is_stalled_then_streaming_again(phone: PhyphoxServer) -> None:
    # 0.6 s: longer than any pause a busy test machine makes, short enough to keep the test quick.
    source, sink = make_source(phone, stall_after_s=0.6), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        run = asyncio.create_task(source.run(sink))
        await until(lambda: source.state is SourceState.STREAMING)
        phone.silence()
        await until(lambda: source.state is SourceState.STALLED)
        phone.resume()
        await until(lambda: source.state is SourceState.STREAMING)
        phone.pause_measuring()
        await until(lambda: source.state is SourceState.STALLED)
        source.stop()
        await run
    assert sink.states() == [
        SourceState.CONNECTING,
        SourceState.STREAMING,
        SourceState.STALLED,
        SourceState.STREAMING,
        SourceState.STALLED,
        SourceState.STOPPED,
    ]
    stalls = [e for e in sink.events if e.state is SourceState.STALLED]
    assert "no samples" in stalls[0].reason
    assert "paused on the phone" in stalls[1].reason
    assert [s.trouble.code if s.trouble else None for s in stalls] == [
        "stalled",
        "measurement_paused",
    ]
    assert all(s.trouble and s.trouble.message == s.reason and s.trouble.advice for s in stalls)
    time_s, _ = sink.stream("phoneacc")
    assert np.max(np.diff(time_s)) > source.lifecycle.stall_after_s  # the silence is a gap


@pytest.mark.asyncio
async def test_phone_gone_is_lost_with_a_reason_and_the_recording_kept(
    phone: PhyphoxServer, tmp_path: Path
) -> None:
    source = make_source(phone, lost_after_s=0.6)
    events: list[object] = []

    async def pull_the_plug() -> None:
        await until(lambda: source.stats.samples_received >= 60)
        phone.shutdown()

    async with asyncio.timeout(TEST_TIMEOUT_S):
        plug = asyncio.create_task(pull_the_plug())
        result = await record_stream(source, tmp_path, on_event=events.append)
        await plug
    assert result.final_state is SourceState.LOST
    assert "no usable answer" in result.reason
    assert result.trouble is not None and result.trouble.code == "phone_unreachable"
    assert "remote access" in result.trouble.advice
    states = [e.state for e in result.events]
    assert states[-2:] == [SourceState.RECONNECTING, SourceState.LOST]
    assert result.stats.packets_rejected["connection"] >= 2
    assert result.session_dir is not None
    session = read_session(result.session_dir)
    recording = session.recording("phoneacc")
    assert recording.time_s.size == result.samples_written["phoneacc"] > 0
    np.testing.assert_array_equal(recording.values, phone.values[: recording.time_s.size, :3])


@pytest.mark.asyncio
async def test_refused_start_is_lost_with_advice(phone: PhyphoxServer) -> None:
    phone.refuse_start()
    source, sink = make_source(phone), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    assert sink.states() == [SourceState.CONNECTING, SourceState.LOST]
    assert "refused 'start'" in sink.events[-1].reason
    assert source.trouble is not None and source.trouble.code == "command_refused"
    assert source.trouble.advice == "Start the experiment on the phone."


@pytest.mark.asyncio
async def test_an_older_app_without_config_uses_the_builtin_buffer_names() -> None:
    with PhyphoxServer(with_gyro=False) as phone:
        phone.without_config()
        source, sink = make_source(phone, warmup_s=0.5), Collector()
        async with asyncio.timeout(TEST_TIMEOUT_S):
            run = asyncio.create_task(source.run(sink))
            await until(lambda: sink.samples("phoneacc") >= 30)
            source.stop()
            await run
    assert [s.tracksys for s in source.streams()] == ["phoneacc"]  # no gyroscope data came
    # The phone samples irregularly at ~100 Hz; the rate is read from >= 0.5 s of its times.
    assert 90 <= source.streams()[0].nominal_fs_hz <= 111


@pytest.mark.asyncio
async def test_nobody_there_is_lost_after_the_deadline() -> None:
    with PhyphoxServer() as phone:
        port = phone.port
    source = PhyphoxSource("127.0.0.1", port, poll_interval_s=0.02, lost_after_s=0.3)
    sink = Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    assert sink.states() == [SourceState.CONNECTING, SourceState.LOST]
    assert source.stats.packets_rejected["connection"] >= 2
    trouble = source.trouble
    assert trouble is not None and trouble.code == "phone_unreachable"
    assert "no usable answer" in trouble.message and "remote access" in trouble.advice
    assert sink.events[-1].reason == trouble.message and sink.events[-1].trouble == trouble


# Something that is not phyphox data, and a clock that lies about the rate ---------------------

HTML_PAGE = b"<!DOCTYPE html><html><head><title>Router login</title></head><body></body></html>"
HUGE_NUMBER_ANSWER = (
    b'{"buffer": {"acc_time": {"size": 0, "updateMode": "full", "buffer": [1' + b"0" * 400
    + b']}}, "status": {"session": "s", "measuring": true, "timedRun": false, "countDown": 0}}'
)  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [HTML_PAGE, b"\x00\xff\x13 not json", b'{"buffer": [1, 2, 3]}', HUGE_NUMBER_ANSWER],
    ids=["html", "garbage", "json of another shape", "a 400-digit number"],
)
async def test_an_answer_that_is_not_phyphox_data_ends_lost_with_the_reason(
    phone: PhyphoxServer, body: bytes
) -> None:
    phone.answer_with(body)
    source, sink = make_source(phone, lost_after_s=0.5), Collector()
    async with asyncio.timeout(TEST_TIMEOUT_S):
        await source.run(sink)
    assert sink.states() == [SourceState.CONNECTING, SourceState.LOST]
    lost = sink.events[-1]
    assert "the phone answered with something that is not phyphox data" in lost.reason
    assert lost.trouble is not None and "remote access" in lost.trouble.advice
    assert sum(source.stats.packets_rejected.values()) >= 2  # retried before giving up
    assert source.trouble is not None and source.trouble.code == "not_phyphox"
    assert "remote access" not in source.trouble.message


@pytest.mark.asyncio
async def test_garbage_after_streaming_began_ends_lost_and_the_recording_is_kept(
    phone: PhyphoxServer, tmp_path: Path
) -> None:
    source = make_source(phone, lost_after_s=0.6)

    async def turn_into_a_web_page() -> None:
        await until(lambda: source.stats.samples_received >= 60)
        phone.answer_with(HTML_PAGE)

    async with asyncio.timeout(TEST_TIMEOUT_S):
        turn = asyncio.create_task(turn_into_a_web_page())
        result = await record_stream(source, tmp_path)
        await turn
    assert result.final_state is SourceState.LOST
    assert "not phyphox data" in result.reason and "<!DOCTYPE html>" in result.reason
    states = [e.state for e in result.events]
    assert SourceState.RECONNECTING in states[states.index(SourceState.STREAMING) :]
    assert result.stats.packets_rejected["bad_json"] >= 2
    assert result.session_dir is not None
    recording = read_session(result.session_dir).recording("phoneacc")
    assert recording.time_s.size == result.samples_written["phoneacc"] > 0
    np.testing.assert_array_equal(recording.values, phone.values[: recording.time_s.size, :3])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("factor", "words"),
    [(1e-7, "above"), (1e-4, "above"), (200.0, "below")],
    ids=["1 ns apart", "1 us apart", "2 s apart"],
)
async def test_timestamps_implying_an_impossible_rate_end_lost_before_any_buffer_is_sized(
    phone: PhyphoxServer, tmp_path: Path, factor: float, words: str
) -> None:
    """The phone's 100-Hz samples reported 1 ns, 1 µs or 2 s apart: no stream is declared
    at the absurd rate (the live ring buffer is sized from it), the source ends lost."""
    phone.scale_times(factor)
    source = make_source(phone)
    async with asyncio.timeout(TEST_TIMEOUT_S):
        result = await record_stream(source, tmp_path)
    assert result.final_state is SourceState.LOST
    assert f"{words} the 1–1000 Hz a phone sensor delivers" in result.reason
    assert source.trouble is not None and source.trouble.code == "implausible_timestamps"
    assert "restart the experiment" in source.trouble.advice
    assert not source.streams()
    assert result.session_dir is None
