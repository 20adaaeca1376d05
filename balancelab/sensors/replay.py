"""A recorded session played back as a live source, at real time or faster.

Every sample keeps its recorded time and values bit for bit (NaN rows and time gaps too); the
player only decides *when* each batch is handed over: a sample recorded at `t` arrives
`(t - t_first) / speed` host seconds after the start. `SessionPlayer` is shared with the
simulated athlete (`balancelab.sensors.simulated`).
"""

from __future__ import annotations

import abc
import asyncio
import functools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from balancelab.errors import BalancelabError
from balancelab.formats.bids_reader import read_recording, read_session
from balancelab.model import Recording, Session, StreamSpec, Trial, check_positive
from balancelab.sensors.base import Clock, SampleBatch, SourceState, monotonic_clock
from balancelab.sensors.watchdog import DEFAULT_STALL_AFTER_S, LiveSource

DEFAULT_BATCH_S = 0.05


def stream_spec_of(recording: Recording) -> StreamSpec:
    """The writer's description of a recorded stream."""
    return StreamSpec(
        tracksys=recording.tracksys,
        channels=recording.channels,
        nominal_fs_hz=recording.nominal_fs_hz,
        device=recording.device,
        sensor_to_segment=recording.sensor_to_segment,
    )


def plan_batches(
    recordings: Sequence[Recording], batch_s: float
) -> Iterator[tuple[float, list[SampleBatch]]]:
    """(window end on the recorded clock (s), the batches of rows before it), in time order.

    Windows are `batch_s` wide from the first sample; empty windows (gaps) are skipped.
    """
    check_positive("batch_s", batch_s, "s")
    filled = [r for r in recordings if r.time_s.size]
    if not filled:
        return
    start_s = min(float(r.time_s[0]) for r in filled)
    positions = [0] * len(filled)
    while True:
        pending = [r.time_s[i] for r, i in zip(filled, positions, strict=True) if i < r.time_s.size]
        if not pending:
            return
        first_s = float(min(pending))
        k = math.floor((first_s - start_s) / batch_s) + 1
        while start_s + k * batch_s <= first_s:  # rounding: the window must hold first_s
            k += 1
        end_s = start_s + k * batch_s
        batches = []
        for n, recording in enumerate(filled):
            lo = positions[n]
            hi = lo + int(np.searchsorted(recording.time_s[lo:], end_s, side="left"))
            if hi > lo:
                times, values = recording.time_s[lo:hi], recording.values[lo:hi]
                batches.append(SampleBatch(recording.tracksys, times, values))
                positions[n] = hi
        yield end_s, batches


class SessionPlayer(LiveSource):
    """Plays an in-memory `Session` as a live `Source` (the engine of replay and simulation)."""

    def __init__(
        self,
        name: str,
        *,
        speed: float = 1.0,
        batch_s: float = DEFAULT_BATCH_S,
        clock: Clock = monotonic_clock,
        stall_after_s: float = DEFAULT_STALL_AFTER_S,
    ) -> None:
        check_positive("batch_s", batch_s, "s")
        super().__init__(name, clock=clock, stall_after_s=stall_after_s)
        self.speed = check_positive("speed", speed, "x real time", allow_inf=True)
        self.batch_s = batch_s
        self._session: Session | None = None

    # What a subclass provides -------------------------------------------------------------

    @abc.abstractmethod
    def load_session(self) -> Session:
        """Produce the session to play (runs in a worker thread; may raise BalancelabError)."""

    # The Source protocol -------------------------------------------------------------------

    @property
    def default_task(self) -> str:
        """The task label of the played session."""
        return self.session.task

    @property
    def session(self) -> Session:
        """The session being played (loaded now if `run` has not done it yet)."""
        if self._session is None:
            self._session = self.load_session()
        return self._session

    @property
    def scripted_trials(self) -> tuple[Trial, ...]:
        """The trials of the played session (the recorder stores each once its end has passed)."""
        return self.session.trials

    def streams(self) -> Sequence[StreamSpec]:
        return [stream_spec_of(r) for r in self.session.recordings]

    def _connecting_reason(self) -> str:
        return f"loading {self.name}"

    async def _stream(self) -> str:
        """Load, then play; the session clock reads the recorded time playing (0 while
        loading), so that samples, events and commands share one time axis at any speed."""
        life = self.lifecycle
        life.session_clock = lambda: 0.0
        try:
            if self._session is None:
                self._session = await asyncio.to_thread(self.load_session)
        except BalancelabError as error:
            life.report(SourceState.LOST, error.trouble)
            return ""
        recordings = [r for r in self._session.recordings if r.time_s.size]
        start_s = min((float(r.time_s[0]) for r in recordings), default=0.0)
        t0_host_s = life.clock()
        life.session_clock = functools.partial(self._playing_s, start_s, t0_host_s)
        life.set_state(SourceState.STREAMING)
        if not recordings:
            return "the session holds no samples"
        return await self._play(recordings, start_s, t0_host_s)

    def _playing_s(self, start_s: float, t0_host_s: float) -> float:
        """The recorded time playing now (s); as fast as possible: the newest sample's."""
        if math.isinf(self.speed):
            last_s = self.stats.last_time_s
            return start_s if last_s is None else last_s
        return start_s + (self.lifecycle.clock() - t0_host_s) * self.speed

    async def _play(self, recordings: Sequence[Recording], start_s: float, t0_host_s: float) -> str:
        life = self.lifecycle
        for end_s, batches in plan_batches(recordings, self.batch_s):
            due_s = t0_host_s + (end_s - start_s) / self.speed
            if await self._stop.sleep(due_s - life.clock()):
                return "stopped on request"
            now_s = life.clock()
            for batch in batches:
                sent_s = t0_host_s + (float(batch.time_s[-1]) - start_s) / self.speed
                life.deliver(batch, latency_s=max(now_s - sent_s, 0.0))
        return "end of the recording"


class ReplaySource(SessionPlayer):
    """A Motion-BIDS session folder (or one `*_motion.tsv`) played back as a live source."""

    def __init__(
        self,
        path: Path | str,
        *,
        speed: float = 1.0,
        batch_s: float = DEFAULT_BATCH_S,
        clock: Clock = monotonic_clock,
        stall_after_s: float = DEFAULT_STALL_AFTER_S,
    ) -> None:
        self.path = Path(path).expanduser()
        super().__init__(
            f"replay:{self.path.name}",
            speed=speed,
            batch_s=batch_s,
            clock=clock,
            stall_after_s=stall_after_s,
        )

    def load_session(self) -> Session:
        """Read the recording (FormatError/DatasetError with advice if it cannot be read)."""
        if self.path.is_file():
            return Session((read_recording(self.path),))
        return read_session(self.path)
