"""The one seam every live input sits behind: a `Source` streams sample batches to a `SourceSink`.

Times are seconds on the session clock (host monotonic time minus the session onset), mapped
from the device's own clock where it has one; values are SI. A source reports its state as
`SourceEvent`s (trouble as data: code, message, advice) and keeps `SourceStats`; it never raises
for a bad packet or a lost link, it counts and reports them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from balancelab.errors import Trouble
from balancelab.model import FloatArray, StreamSpec, Trial

Clock = Callable[[], float]
"""Returns the host time in s (monotonic); injected so tests can run faster than real time."""


def monotonic_clock() -> float:
    """The host's monotonic clock (s)."""
    return time.monotonic()


class SourceState(StrEnum):
    """Where a source is in its life."""

    IDLE = "idle"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    LOST = "lost"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SampleBatch:
    """Consecutive samples of one stream: `time_s` (n,) session clock, `values` (n, c) SI.

    Rows of NaN stand for samples known to be lost (counted from sequence numbers or time).
    """

    tracksys: str
    time_s: FloatArray
    values: FloatArray


@dataclass(frozen=True)
class SourceEvent:
    """A change of state at `time_s` (session clock), with a reason a person can read.

    An event that reports trouble (`stalled`, `reconnecting`, `lost`) carries it as data:
    `trouble.code` for a program to act on, `trouble.message` (the `reason`) and
    `trouble.advice` for the person."""

    source: str
    state: SourceState
    time_s: float
    reason: str = ""
    trouble: Trouble | None = None


@dataclass
class SourceStats:
    """Running counts of one source (samples, not packets, unless named)."""

    samples_received: int = 0
    samples_lost: int = 0
    packets_received: int = 0
    packets_rejected: Counter[str] = field(default_factory=Counter)
    duplicates_dropped: int = 0
    reconnects: int = 0
    latency_s: list[float] = field(default_factory=list)
    first_time_s: float | None = None
    last_time_s: float | None = None

    def add_batch(self, batch: SampleBatch) -> None:
        """Count a delivered batch (its NaN rows are lost samples)."""
        lost = int(np.count_nonzero(np.all(np.isnan(batch.values), axis=1)))
        self.samples_received += batch.time_s.size - lost
        self.samples_lost += lost
        if batch.time_s.size:
            if self.first_time_s is None:
                self.first_time_s = float(batch.time_s[0])
            self.last_time_s = float(batch.time_s[-1])

    def reject(self, reason: str) -> None:
        """Count a packet refused by a decoder, by reason."""
        self.packets_rejected[reason] += 1

    @property
    def effective_rate_hz(self) -> float:
        """Samples (received and lost) per second of session time so far."""
        if self.first_time_s is None or self.last_time_s is None:
            return 0.0
        span_s = self.last_time_s - self.first_time_s
        count = self.samples_received + self.samples_lost
        return (count - 1) / span_s if span_s > 0 and count > 1 else 0.0

    @property
    def median_latency_s(self) -> float | None:
        """Median delay from a sample's time to its arrival in the host (s)."""
        return float(np.median(self.latency_s)) if self.latency_s else None


class SourceSink(Protocol):
    """Where a source delivers: called on the source's event-loop thread, must not block."""

    def on_samples(self, batch: SampleBatch) -> None: ...

    def on_event(self, event: SourceEvent) -> None: ...


class Source(Protocol):
    """A live input. `streams` is known once `run` has reached the streaming state."""

    name: str
    stats: SourceStats

    @property
    def state(self) -> SourceState: ...

    @property
    def trouble(self) -> Trouble | None:
        """What went wrong behind the latest `stalled`, `reconnecting` or `lost`, or None."""
        ...

    @property
    def default_task(self) -> str:
        """The task label of what it streams (a played session's own; "live" otherwise)."""
        ...

    @property
    def scripted_trials(self) -> tuple[Trial, ...]:
        """Trials the source knows in advance (a played or simulated session's), on the
        session clock; a live sensor has none."""
        ...

    def session_time_s(self) -> float:
        """Now on the session clock (s): the host clock since `run` began."""
        ...

    def streams(self) -> Sequence[StreamSpec]: ...

    async def run(self, sink: SourceSink) -> None:
        """Connect and stream until `stop()` or a loss it cannot recover from; never raises
        for device or link problems (they become `lost` events with a reason)."""
        ...

    def stop(self) -> None:
        """Ask `run` to end cleanly (thread-safe through the loop's call_soon_threadsafe)."""
        ...
