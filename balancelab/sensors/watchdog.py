"""What every live source shares: its state and ordered events, its stats, the stall watchdog,
its run from `connecting` to `stopped`.

A source owns one `SourceLifecycle`. The source says where it is (`set_state`, or `report` when
trouble is the cause) and hands over samples (`deliver`); the lifecycle keeps the state machine
honest (no repeated states, nothing after `lost` or `stopped`), counts, measures latency and
turns silence into `stalled` and samples after silence back into `streaming`. `StopSignal`
makes `Source.stop()` thread-safe. `LiveSource` is the run every source repeats (bind the stop,
begin the session clock, `connecting`, the watchdog, `stopped`) around the source's own
`_stream`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import threading

from balancelab.errors import Trouble
from balancelab.model import Trial
from balancelab.sensors.base import (
    Clock,
    SampleBatch,
    SourceEvent,
    SourceSink,
    SourceState,
    SourceStats,
    monotonic_clock,
)

DEFAULT_STALL_AFTER_S = 1.5
LATENCY_WINDOW = 1000
"""Latencies of this many recent batches are kept (the median is over them)."""
TERMINAL_STATES = frozenset({SourceState.LOST, SourceState.STOPPED})
WAITING_STATES = frozenset({SourceState.CONNECTING, SourceState.STALLED, SourceState.RECONNECTING})
STALL_ADVICE = (
    "Check that the sensor or phone is still on, within reach and measuring; the recording goes"
    " on and the silence is kept as missing samples."
)


class _NullSink:
    def on_samples(self, batch: SampleBatch) -> None:
        pass

    def on_event(self, event: SourceEvent) -> None:
        pass


class SourceLifecycle:
    """State, events, stats and the stall watchdog of one source (used on its loop thread)."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock = monotonic_clock,
        stall_after_s: float = DEFAULT_STALL_AFTER_S,
    ) -> None:
        self.name = name
        self.clock = clock
        self.stall_after_s = stall_after_s
        self.stats = SourceStats()
        self.state = SourceState.IDLE
        self.trouble: Trouble | None = None
        """What went wrong behind the latest `report` (code, message, advice)."""
        self.onset_s = clock()
        """Host time (s, the clock's) of session time 0."""
        self.session_clock: Clock | None = None
        """Set by a source whose session time does not run with the host's (a recording
        played at 2x): returns the session time now (s)."""
        self._sink: SourceSink = _NullSink()
        self._last_arrival_s = self.onset_s

    def begin(self, sink: SourceSink, onset_s: float | None = None) -> None:
        """Start a run: session time 0 is now (or `onset_s`), events go to `sink`."""
        self._sink = sink
        self.onset_s = self.clock() if onset_s is None else onset_s
        self._last_arrival_s = self.clock()

    def session_time_s(self) -> float:
        """Now on the session clock (s): host seconds since `begin`, or `session_clock()`."""
        if self.session_clock is not None:
            return self.session_clock()
        return self.clock() - self.onset_s

    @property
    def finished(self) -> bool:
        """True once `lost` or `stopped` was reported."""
        return self.state in TERMINAL_STATES

    def set_state(
        self, state: SourceState, reason: str = "", trouble: Trouble | None = None
    ) -> None:
        """Report a new state (a repeat or anything after `lost`/`stopped` is ignored);
        `trouble` when a problem is the cause (see `report`)."""
        if state is self.state or self.finished:
            return
        if state is SourceState.RECONNECTING:
            self.stats.reconnects += 1
        if state is SourceState.STREAMING:
            self._last_arrival_s = self.clock()
        self.state = state
        event = SourceEvent(self.name, state, self.session_time_s(), reason, trouble)
        self._sink.on_event(event)

    def report(self, state: SourceState, trouble: Trouble) -> None:
        """Enter `state` because of `trouble`: the event's reason is its message, the event
        carries it whole. Kept as `self.trouble` (the newest, also when `state` repeats)
        unless the source has already finished."""
        if self.finished:
            return
        self.trouble = trouble
        self.set_state(state, trouble.message, trouble)

    def deliver(self, batch: SampleBatch, latency_s: float | None = None) -> None:
        """Hand a batch to the sink; `latency_s` from its last sample to now (host s)."""
        if batch.time_s.size == 0 or self.finished:
            return
        self._last_arrival_s = self.clock()
        if self.state in WAITING_STATES:
            self.set_state(SourceState.STREAMING, "samples arrive")
        self.stats.add_batch(batch)
        if latency_s is not None:
            latencies = self.stats.latency_s
            latencies.append(latency_s)
            if len(latencies) > 2 * LATENCY_WINDOW:
                del latencies[:-LATENCY_WINDOW]
        self._sink.on_samples(batch)

    def silence_s(self) -> float:
        """Host seconds since the last batch (or since streaming began)."""
        return self.clock() - self._last_arrival_s

    def check_stall(self) -> None:
        """`streaming` → `stalled` once no batch came for `stall_after_s`."""
        silence_s = self.silence_s()
        if self.state is SourceState.STREAMING and silence_s > self.stall_after_s:
            trouble = Trouble("stalled", f"no samples for {silence_s:.1f} s", STALL_ADVICE)
            self.report(SourceState.STALLED, trouble)

    async def watch(self) -> None:
        """Run the stall watchdog until cancelled or the source has finished."""
        period_s = min(max(self.stall_after_s / 4, 0.01), 0.25)
        while not self.finished:
            await asyncio.sleep(period_s)
            self.check_stall()


class StopSignal:
    """`stop()` from any thread; `wait()`/`sleep()` on the source's loop see it at once."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> None:
        """Attach to the running loop (call at the start of `run`)."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self._requested.is_set():
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def set(self) -> None:
        """Request the stop; safe from any thread, before or during `run`."""
        self._requested.set()
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def sleep(self, delay_s: float) -> bool:
        """Sleep up to `delay_s`; True if the stop was requested meanwhile."""
        if self._event is None:
            raise RuntimeError("StopSignal.bind() must be called on the loop first")
        if delay_s <= 0:
            await asyncio.sleep(0)
            return self.requested
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self._event.wait()
        return self.requested


class LiveSource(abc.ABC):
    """The part of `Source` every source shares, over one `SourceLifecycle` (`lifecycle`).

    `run` binds the stop signal, starts the session clock, reports `connecting` (with
    `_connecting_reason()`), runs the stall watchdog around the source's own `_stream` and
    reports `stopped` with the reason `_stream` returns (ignored once the source is `lost`);
    `_release` then undoes on the device what `_stream` started, even when cancelled.
    """

    def __init__(self, name: str, *, clock: Clock, stall_after_s: float) -> None:
        self.name = name
        self.lifecycle = SourceLifecycle(name, clock=clock, stall_after_s=stall_after_s)
        self.stats: SourceStats = self.lifecycle.stats
        self._stop = StopSignal()

    # What a source provides ----------------------------------------------------------------

    @abc.abstractmethod
    def _connecting_reason(self) -> str:
        """What the source does while `connecting`, in words."""

    @abc.abstractmethod
    async def _stream(self) -> str:
        """Connect and stream until stopped (the reason for `stopped`) or lost (`report`)."""

    async def _release(self) -> None:  # noqa: B027 - a hook; most sources have nothing to undo
        """Undo on the device what `_stream` started (after the watchdog has stopped)."""

    # The Source protocol -------------------------------------------------------------------

    @property
    def state(self) -> SourceState:
        return self.lifecycle.state

    @property
    def trouble(self) -> Trouble | None:
        """What went wrong behind the latest `stalled`, `reconnecting` or `lost`."""
        return self.lifecycle.trouble

    @property
    def onset_s(self) -> float:
        """Host time (s) at which the session clock read 0."""
        return self.lifecycle.onset_s

    @property
    def default_task(self) -> str:
        return "live"

    @property
    def scripted_trials(self) -> tuple[Trial, ...]:
        return ()

    def session_time_s(self) -> float:
        return self.lifecycle.session_time_s()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, sink: SourceSink) -> None:
        self._stop.bind()
        life = self.lifecycle
        life.begin(sink)
        life.set_state(SourceState.CONNECTING, self._connecting_reason())
        watchdog = asyncio.create_task(life.watch())
        try:
            reason = await self._stream()
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            await self._release()
        life.set_state(SourceState.STOPPED, reason)
