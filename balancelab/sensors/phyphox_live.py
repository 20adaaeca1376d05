"""A phone running phyphox with "remote access" on: live accelerometer and gyroscope over HTTP.

The documented interface (phyphox's remote-access docs: phyphox.org, "Remote-interface
communication", and the phyphox-docs `remote-interface` pages): `/config` names the experiment's
buffers, `/control?cmd=clear|start|stop` runs it, and `/get?acc_time=<t>&accX=<t>%7Cacc_time…`
returns only the values after the last time we have. Requests are serialised (the phone's
server is single-threaded). Experiment time is mapped to the session clock by the lower
envelope of arrival times (`devices.timing.ClockMapper`). Every failure (timeout, refused
connection, HTTP error, an answer that is not phyphox data: HTML, garbage, JSON of another
shape, absurd numbers) is counted as a rejection and becomes `reconnecting`, then `lost` with
the last failure as the reason after `lost_after_s` without a usable answer; silence while
answering becomes `stalled`. Timestamps implying a rate no phone sensor delivers
(`devices.phyphox.MIN_RATE_HZ`..`MAX_RATE_HZ`) end the source `lost` at once: waiting would
not change them, and nothing is sized from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import numpy as np

from balancelab.devices.phyphox import (
    ACC_BUFFERS,
    ACC_TIME,
    GYR_BUFFERS,
    GYR_TIME,
    GetResponse,
    PhyphoxConfig,
    check_batch_rate,
    control_query,
    incremental_query,
    nominal_rate_hz,
    parse_config,
    parse_control,
    parse_get,
)
from balancelab.devices.timing import ClockMapper
from balancelab.errors import DecodeError, Trouble
from balancelab.model import Channel, ChannelType, DeviceInfo, FloatArray, StreamSpec
from balancelab.sensors.base import Clock, SampleBatch, SourceState, monotonic_clock
from balancelab.sensors.http_client import HttpError, http_get
from balancelab.sensors.watchdog import LiveSource

T = TypeVar("T")
DEFAULT_PORT = 8080
NO_ANSWER_ADVICE = "Check that the phone is awake, on the same network, with remote access on."
NOT_PHYPHOX_ADVICE = (
    "Check that this is the address and port phyphox shows under remote access (and not"
    " another web server on the network)."
)
WARMUP_S = 1.0
"""How long to collect samples before fixing the streams and their nominal rates."""


@dataclass(frozen=True)
class PhoneStream:
    """One phone sensor in the experiment: its time buffer and x/y/z value buffers."""

    key: str
    time_buffer: str
    axes: tuple[str, ...]
    channel_type: ChannelType


DEFAULT_STREAMS = (
    PhoneStream("acc", ACC_TIME, ACC_BUFFERS, ChannelType.ACCEL),
    PhoneStream("gyr", GYR_TIME, GYR_BUFFERS, ChannelType.GYRO),
)


def streams_of_config(config: PhyphoxConfig) -> tuple[PhoneStream, ...]:
    """The built-in accelerometer/gyroscope buffers the loaded experiment has.

    Acceleration without g (`linear_acceleration`) uses the same buffer names; it is refused.
    """
    with_g = "accelerometer" in config.input_sources
    without_g_only = "linear_acceleration" in config.input_sources and not with_g
    return tuple(
        s
        for s in DEFAULT_STREAMS
        if config.has_buffers((s.time_buffer, *s.axes)) and not (s.key == "acc" and without_g_only)
    )


def build_get_target(streams: Sequence[PhoneStream], thresholds: Mapping[str, float | None]) -> str:
    """One `/get` for every stream: values newer than its last time (`full` before any)."""
    queries = [incremental_query(s.time_buffer, s.axes, thresholds.get(s.key)) for s in streams]
    return "/get?" + "&".join(q.removeprefix("/get?") for q in queries)


def _words(error: DecodeError) -> str:
    """The error's message without its leading reason word."""
    return error.message.removeprefix(f"{error.reason}: ")


def _measuring(reply: GetResponse) -> bool:
    return reply.status is None or reply.status.measuring


@dataclass
class _StreamState:
    """What has arrived of one stream: its last experiment and session times, its batches."""

    stream: PhoneStream
    tracksys: str
    last_exp_s: float | None = None
    last_mapped_s: float = -math.inf
    warmup_times: list[float] | None = None
    spec: StreamSpec | None = None


class PhyphoxSource(LiveSource):
    """Live samples from phyphox remote access at `http://host:port`."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        tracked_point: str = "sternum",
        poll_interval_s: float = 0.1,
        request_timeout_s: float = 2.0,
        stall_after_s: float = 1.5,
        lost_after_s: float = 10.0,
        start_measurement: bool = True,
        warmup_s: float = WARMUP_S,
        clock: Clock = monotonic_clock,
    ) -> None:
        super().__init__(f"phyphox://{host}:{port}", clock=clock, stall_after_s=stall_after_s)
        self.host, self.port = host, port
        self.tracked_point = tracked_point
        self.poll_interval_s = poll_interval_s
        self.request_timeout_s = request_timeout_s
        self.lost_after_s = lost_after_s
        self.start_measurement = start_measurement
        self.warmup_s = warmup_s
        self.clock_mapper = ClockMapper()
        self._states: dict[str, _StreamState] = {}
        self._started_it = False
        self._session_id: str | None = None
        self._last_answer_s = 0.0
        self._connected_s = 0.0
        self._failures = 0
        self._pending: list[tuple[SampleBatch, float]] = []

    # The Source protocol -------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [s.spec for s in self._states.values() if s.spec is not None]

    def _connecting_reason(self) -> str:
        return f"asking {self.name} for its experiment"

    async def _stream(self) -> str:
        self._last_answer_s = self.lifecycle.clock()
        if await self._connect():
            await self._poll_until_stopped()
        return "stopped on request"

    async def _release(self) -> None:
        if self._started_it:
            await self._control("stop", timeout_s=min(self.request_timeout_s, 1.0))

    # Connecting ----------------------------------------------------------------------------

    async def _ask(
        self, target: str, parse: Callable[[bytes], T], *, timeout_s: float | None = None
    ) -> T | None:
        """The parsed answer, or None after counting the failure (and maybe declaring the
        loss); an answer `parse` refuses is a failed request like one that never came."""
        try:
            body = await http_get(
                self.host, self.port, target, timeout_s=timeout_s or self.request_timeout_s
            )
            answer = parse(body)
        except HttpError as failure:
            self._count_failure(
                failure.reason, Trouble("phone_unreachable", failure.detail, NO_ANSWER_ADVICE)
            )
            return None
        except DecodeError as error:
            detail = f"the phone answered with something that is not phyphox data: {_words(error)}"
            self._count_failure(error.reason, Trouble("not_phyphox", detail, NOT_PHYPHOX_ADVICE))
            return None
        self._answered()
        return answer

    def _count_failure(self, reason: str, trouble: Trouble) -> None:
        """Count a failed request (by its `reason` word); `reconnecting` from the second in a
        row, `lost` after `lost_after_s` without a usable answer."""
        life = self.lifecycle
        life.stats.reject(reason)
        self._failures += 1
        silent_s = life.clock() - self._last_answer_s
        if silent_s > self.lost_after_s:
            message = f"{self.name}: {trouble.message} (no usable answer for {silent_s:.1f} s)"
            self.lifecycle.report(SourceState.LOST, Trouble(trouble.code, message, trouble.advice))
        elif self._failures >= 2 and life.state is not SourceState.CONNECTING:
            self.lifecycle.report(SourceState.RECONNECTING, trouble)

    def _answered(self) -> None:
        self._failures = 0
        self._last_answer_s = self.lifecycle.clock()

    async def _connect(self) -> bool:
        """Read the experiment's buffers and start it; False if lost or stopped meanwhile."""
        streams: tuple[PhoneStream, ...] | None = None
        while streams is None:
            streams = await self._read_config()
            if streams is None and await self._wait_retry():
                return False
        for stream in streams:
            tracksys = "phone" + stream.key
            self._states[stream.key] = _StreamState(stream, tracksys, warmup_times=[])
        return await self._start()

    async def _read_config(self) -> tuple[PhoneStream, ...] | None:
        try:
            body = await http_get(self.host, self.port, "/config", timeout_s=self.request_timeout_s)
        except HttpError as failure:
            if failure.reason.startswith("http_4"):  # before phyphox 1.1.6: no /config
                self._answered()
                return DEFAULT_STREAMS
            self._count_failure(
                failure.reason, Trouble("phone_unreachable", failure.detail, NO_ANSWER_ADVICE)
            )
            return None
        try:
            streams = streams_of_config(parse_config(body))
        except DecodeError as error:  # the built-in names; `/get` then tells if it is phyphox
            self.lifecycle.stats.reject(error.reason)
            return DEFAULT_STREAMS
        self._answered()
        if not streams:
            self.lifecycle.report(
                SourceState.LOST,
                Trouble(
                    "no_motion_sensor",
                    "the experiment open in phyphox has no accelerometer (with g) or gyroscope",
                    "Open 'Acceleration (with g)' or 'Gyroscope' in phyphox (or your own"
                    " experiment with both).",
                ),
            )
        return streams

    async def _start(self) -> bool:
        self._connected_s = self.lifecycle.clock()
        reply = None
        while reply is None:
            last_values = "&".join(quote(s.time_buffer, safe="") for s in self._stream_list())
            reply = await self._ask(f"/get?{last_values}", parse_get)
            if reply is None and await self._wait_retry():
                return False
        if _measuring(reply) or not self.start_measurement:
            return True
        for command in ("clear", "start"):
            done = await self._control(command)
            while done is None:
                if await self._wait_retry():
                    return False
                done = await self._control(command)
            if not done:
                if not self.lifecycle.finished:
                    self.lifecycle.report(
                        SourceState.LOST,
                        Trouble(
                            "command_refused",
                            f"phyphox refused '{command}' (e.g. a Bluetooth sensor the"
                            " experiment needs is not connected)",
                            "Start the experiment on the phone.",
                        ),
                    )
                return False
        self._started_it = True
        return True

    async def _control(self, command: str, *, timeout_s: float | None = None) -> bool | None:
        """True if phyphox carried out `command`, False if it refused, None without an answer."""
        return await self._ask(control_query(command), parse_control, timeout_s=timeout_s)

    async def _wait_retry(self) -> bool:
        """Back off after a failure; True if the source should end (lost or stop requested)."""
        delay_s = min(self.poll_interval_s * 2 ** min(self._failures, 5), 1.0)
        return self.lifecycle.finished or await self._stop.sleep(delay_s)

    def _stream_list(self) -> list[PhoneStream]:
        return [s.stream for s in self._states.values()]

    # Polling -------------------------------------------------------------------------------

    async def _poll_until_stopped(self) -> None:
        while True:
            await self._poll_once()
            if self.lifecycle.finished:
                return
            if await self._pause():
                break
        if not self.lifecycle.finished:
            await self._poll_once()  # the samples measured since the last poll
            self._finish_warmup(self.lifecycle.session_time_s(), force=True)

    async def _pause(self) -> bool:
        """Wait for the next poll; True if the stop was requested or the source is lost."""
        if self._failures:
            return await self._wait_retry()
        return await self._stop.sleep(self.poll_interval_s)

    async def _poll_once(self) -> None:
        thresholds = {key: s.last_exp_s for key, s in self._states.items()}
        reply = await self._ask(build_get_target(self._stream_list(), thresholds), parse_get)
        if reply is None:
            return
        arrival_s = self.lifecycle.session_time_s()
        life = self.lifecycle
        life.stats.packets_received += 1
        if life.state is SourceState.RECONNECTING:
            life.set_state(SourceState.STREAMING, "the phone answers again")
        if not self._same_session(reply):
            return
        self._take_samples(reply, arrival_s)
        if life.finished:
            return
        if life.state is SourceState.CONNECTING and not self._pending:
            waited_s = life.clock() - self._connected_s
            if waited_s > self.lost_after_s:
                self.lifecycle.report(
                    SourceState.LOST,
                    Trouble(
                        "no_samples",
                        f"phyphox answers but sent no samples for {waited_s:.1f} s",
                        "Check that the experiment is running on the phone.",
                    ),
                )
                return
        if not _measuring(reply) and life.state is SourceState.STREAMING:
            paused = Trouble(
                "measurement_paused",
                "the measurement is paused on the phone",
                "Press play in phyphox to go on; the recording keeps the pause as a gap.",
            )
            life.report(SourceState.STALLED, paused)

    def _same_session(self, reply: GetResponse) -> bool:
        session = None if reply.status is None else reply.status.session
        if session is None or self._session_id in (None, session):
            self._session_id = self._session_id or session
            return True
        self.lifecycle.report(
            SourceState.LOST,
            Trouble(
                "experiment_changed",
                "the phone switched to another experiment (phyphox session changed)",
                "Start the stream again.",
            ),
        )
        return False

    def _take_samples(self, reply: GetResponse, arrival_s: float) -> None:
        fresh = {}
        for key, state in self._states.items():
            rows = self._new_rows(state, reply)
            if self.lifecycle.finished:
                return
            if rows is not None:
                fresh[key] = rows
        newest = [float(t[-1]) for t, _ in fresh.values()]
        if newest:
            self.clock_mapper.observe(max(newest), arrival_s)
        for key, (exp_s, values) in fresh.items():
            self._emit(self._states[key], exp_s, values, arrival_s)
        self._finish_warmup(arrival_s)

    def _new_rows(
        self, state: _StreamState, reply: GetResponse
    ) -> tuple[FloatArray, FloatArray] | None:
        stream = state.stream
        found = [reply.buffers.get(name) for name in (stream.time_buffer, *stream.axes)]
        buffers = [None if b is None else b.values for b in found]
        if buffers[0] is None:
            return None
        if any(b is None for b in buffers[1:]):
            self.lifecycle.stats.reject("missing_buffer")
            return None
        arrays = [b for b in buffers if b is not None]
        n = min(a.size for a in arrays)  # a buffer may have grown between two reads
        exp_s, values = arrays[0][:n], np.column_stack([a[:n] for a in arrays[1:]])
        last = -math.inf if state.last_exp_s is None else state.last_exp_s
        previous = np.fmax.accumulate(np.concatenate(([last], exp_s)))[:-1]
        keep = np.isfinite(exp_s) & (exp_s > previous)
        if np.count_nonzero(~keep):
            self.lifecycle.stats.duplicates_dropped += int(np.count_nonzero(~keep))
        exp_s, values = exp_s[keep], values[keep]
        if exp_s.size == 0:
            return None
        try:
            check_batch_rate(stream.time_buffer, exp_s, state.last_exp_s)
        except DecodeError as error:
            self._implausible(error)
            return None
        state.last_exp_s = float(exp_s[-1])
        return exp_s, values

    def _emit(
        self, state: _StreamState, exp_s: FloatArray, values: FloatArray, arrival_s: float
    ) -> None:
        mapped = np.minimum(self.clock_mapper.to_host(exp_s), arrival_s)
        floor = state.last_mapped_s + 1e-6 * np.arange(1, mapped.size + 1)
        mapped = np.maximum.accumulate(np.maximum(mapped, floor))
        state.last_mapped_s = float(mapped[-1])
        batch = SampleBatch(state.tracksys, mapped, values)
        if state.warmup_times is not None:
            state.warmup_times.extend(exp_s.tolist())
            self._pending.append((batch, arrival_s))
        else:
            self.lifecycle.deliver(batch, latency_s=arrival_s - float(mapped[-1]))

    def _finish_warmup(self, now_s: float, *, force: bool = False) -> None:
        """After `warmup_s` of data (or when stopping): fix the streams, rates from their
        times, then stream what was held back."""
        if not self._pending:
            return
        first_s = min(arrival for _, arrival in self._pending)
        if now_s - first_s < self.warmup_s and not force:
            return
        for key in list(self._states):
            state = self._states[key]
            times = np.asarray(state.warmup_times or [])
            state.warmup_times = None
            if times.size < 2:
                del self._states[key]  # the experiment does not feed this sensor
                continue
            try:
                fs_hz = round(nominal_rate_hz(state.stream.time_buffer, times), 1)
            except DecodeError as error:
                self._implausible(error)
                return
            state.spec = self._spec(state, fs_hz)
        pending, self._pending = self._pending, []
        self.lifecycle.set_state(SourceState.STREAMING, f"{', '.join(self._states)} from the phone")
        for batch, arrival_s in pending:
            if batch.tracksys in {s.tracksys for s in self._states.values()}:
                self.lifecycle.deliver(batch, latency_s=arrival_s - float(batch.time_s[-1]))

    def _implausible(self, error: DecodeError) -> None:
        """Timestamps no phone sensor makes: counted, and the source is lost with the reason."""
        self.lifecycle.stats.reject(error.reason)
        self.lifecycle.report(
            SourceState.LOST,
            Trouble(
                "implausible_timestamps",
                f"{self.name}: {_words(error)}",
                "The phone's clock or the experiment is wrong: restart the experiment in"
                " phyphox (or the phone) and start again.",
            ),
        )

    def _spec(self, state: _StreamState, fs_hz: float) -> StreamSpec:
        channels = tuple(
            Channel.make(self.tracked_point, state.stream.channel_type, axis) for axis in "xyz"
        )
        device = DeviceInfo(manufacturer="phyphox", model="phone", address=self.name)
        return StreamSpec(state.tracksys, channels, fs_hz, device=device)
