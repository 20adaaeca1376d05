"""The headless stream controller that the CLI and the GUI both hold.

One asyncio loop runs on its own thread (`EngineLoop`; every bleak object lives there). A
`StreamController` records one `Source` into the dataset on it:

- commands go in from any thread: `start`, `stop`, `begin_trial`, `end_trial`, `add_trial`;
- typed events come out, in order, to one callback called on the loop thread (it must not block:
  the GUI re-emits them as queued signals, the CLI prints): the source's state (`SourceEvent`,
  with its `trouble` as code, message and advice), `StreamProgress` once a second, `TrialStarted`
  and `TrialEnded`, and `ErrorEvent` for a failure that is not the source's (the disk: the
  stream then stops and what was written stays);
- samples do not travel as events: `snapshot` copies the newest ~30 s of a stream out of its
  ring buffer, for a view refreshed on a timer; `session_time_s` reads the session clock.

A trial's row is written to events.tsv as `aborted` (duration 0) the moment it begins, and
rewritten when it ends, so a process killed during a trial leaves the trial on disk (recovery
extends it to the last sample kept). A scripted trial (simulation, replay) begins when a sample
reaches its onset and ends once one passes its end; one under way when the stream ends early
(stopped, a signal, the source lost) is written `aborted`, cut at the last sample received, so
its samples stay described; trials not yet begun are not written.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from balancelab.errors import BalancelabError, InvalidArgumentError, Trouble
from balancelab.model import FloatArray, Outcome, Side, Surface, Trial, TrialType, Vision
from balancelab.sensors.base import SampleBatch, Source, SourceEvent, SourceState, SourceStats
from balancelab.sensors.recorder import Recorder
from balancelab.sensors.ring import RingBuffer

T = TypeVar("T")
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
PROGRESS_EVERY_S = 1.0
RING_SECONDS = 30.0
STOP_GRACE_S = 10.0
"""How long a stopped source may take to end before it is cancelled."""
ENDED_STATES = frozenset({SourceState.STOPPED, SourceState.LOST})


@dataclass(frozen=True)
class StreamFigures:
    """One stream so far: samples received and known lost, its effective rate (Hz)."""

    tracksys: str
    samples: int
    lost: int
    rate_hz: float

    @property
    def loss_fraction(self) -> float:
        total = self.samples + self.lost
        return self.lost / total if total else 0.0


@dataclass(frozen=True)
class StreamProgress:
    """Sent once a second: the source's state and figures, `elapsed_s` host seconds in."""

    source: str
    state: SourceState
    elapsed_s: float
    streams: tuple[StreamFigures, ...]
    median_latency_s: float | None
    rejected: int


@dataclass(frozen=True)
class TrialStarted:
    """A trial began at `trial.onset_s` (session clock); its row is on disk, `aborted`, until
    it ends. `trial` holds what is known: for a scripted trial its planned duration and
    outcome, for one begun by command a duration of 0."""

    source: str
    trial: Trial


@dataclass(frozen=True)
class TrialEnded:
    """A trial's final row was written: `trial.outcome` says how it ended (`aborted` when the
    stream ended during it, cut at the last sample)."""

    source: str
    trial: Trial


@dataclass(frozen=True)
class ErrorEvent:
    """Something failed at `time_s` (session clock) that is not a state of the source: the
    recording (the disk), or a command that could not be carried out. `trouble` holds the
    code a program acts on, the message and the advice for the person."""

    source: str
    time_s: float
    trouble: Trouble


StreamEvent = SourceEvent | StreamProgress | TrialStarted | TrialEnded | ErrorEvent
EventCallback = Callable[[StreamEvent], None]


@dataclass(frozen=True)
class StreamResult:
    """What a finished stream left: the session folder (None if no sample came) and figures."""

    session_dir: Path | None
    source: str
    final_state: SourceState
    reason: str
    elapsed_s: float
    streams: tuple[StreamFigures, ...]
    stats: SourceStats
    samples_written: dict[str, int]
    rows_dropped: dict[str, int]
    trouble: Trouble | None = None
    """The trouble the source's last state reported (code, message, advice), if any."""
    error: BalancelabError | None = None
    """The recording's failure (the disk), if it failed."""
    stopped_by: signal.Signals | None = None
    """The signal that stopped the stream (SIGINT: Ctrl-C), if one did."""
    events: tuple[SourceEvent, ...] = ()
    trials_dropped: int = 0
    """Trials not written: added after the session closed, or no session opened."""
    trials_aborted: tuple[Trial, ...] = ()
    """Trials under way when the stream ended, written `aborted` up to the last sample."""


class EngineLoop:
    """An asyncio loop on its own daemon thread; submit coroutines from any thread."""

    def __init__(self, name: str = "balancelab-engine") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._started = False

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> EngineLoop:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the loop; thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Call `fn(*args)` on the loop thread; thread-safe."""
        self._loop.call_soon_threadsafe(fn, *args)

    def add_signal_handler(self, sig: signal.Signals, fn: Callable[[], None]) -> None:
        """Call `fn()` on the loop thread when `sig` arrives; call from the main thread.

        Where the loop cannot (Windows) a Python handler hands `fn` to the loop instead: it
        only queues a call, no I/O of its own that could wait on what it interrupted.
        """
        try:
            self._loop.add_signal_handler(sig, fn)
        except (NotImplementedError, RuntimeError):
            signal.signal(sig, lambda _signum, _frame: self.call_soon(fn))

    def remove_signal_handler(self, sig: signal.Signals, previous: SignalHandler) -> None:
        """Undo `add_signal_handler`: `sig` goes back to the `previous` handler."""
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self._loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_DFL if previous is None else previous)

    def close(self, timeout_s: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and join its thread."""
        if self._loop.is_closed():
            return
        if self._started and self._thread.is_alive():
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                self.submit(_cancel_others()).result(timeout_s)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> EngineLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _cancel_others() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_default_executor()


@dataclass
class _UnderWay:
    """A trial begun and not ended: as known at its start, its recorder row, who ends it."""

    trial: Trial
    row: int | None
    scripted: bool


class StreamController:
    """Records `source` into `dataset_root`: commands from any thread, events to `on_event`
    on the loop thread, ring-buffer snapshots, the session clock, the result.

    Give `engine` to `start` it there; or await `run()` on a loop of your own. Commands given
    before the stream runs wait and are carried out, in order, when it does.
    """

    def __init__(
        self,
        source: Source,
        dataset_root: Path | str,
        *,
        engine: EngineLoop | None = None,
        on_event: EventCallback | None = None,
        athlete: str = "anon",
        task: str | None = None,
    ) -> None:
        self.source = source
        self._engine = engine
        self._on_event = on_event
        self.recorder = Recorder(
            dataset_root,
            streams=source.streams,
            athlete=athlete,
            task=task or (lambda: source.default_task),
            on_error=self._recording_failed,
        )
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queued: list[tuple[Callable[..., object], tuple[object, ...]]] = []
        self._future: concurrent.futures.Future[StreamResult] | None = None
        self._rings: dict[str, RingBuffer] = {}
        self._widths: dict[str, int] = {}
        self._per_stream: dict[str, SourceStats] = {}
        self._events: list[SourceEvent] = []
        self._scripted: list[Trial] | None = None
        self._under_way: list[_UnderWay] = []
        self._aborted: list[Trial] = []

    # Commands (any thread) -------------------------------------------------------------------

    def start(self, seconds: float | None = None) -> None:
        """Start recording on the engine loop, for `seconds` (None: until stopped or the
        source ends); a second call does nothing."""
        if self._engine is None:
            raise InvalidArgumentError(
                "this StreamController was made without an engine loop",
                advice="Pass engine=EngineLoop().start(), or await run() on your own loop.",
            )
        with self._lock:
            if self._future is None:
                self._future = self._engine.submit(self.run(seconds))

    def stop(self) -> None:
        """Ask the source to end; the recording is closed and kept, the trial under way
        written `aborted` up to the last sample."""
        self.source.stop()

    def begin_trial(
        self,
        trial_type: TrialType,
        side: Side,
        surface: Surface = Surface.FIRM,
        vision: Vision = Vision.OPEN,
    ) -> None:
        """Begin a trial now (the session clock when the loop takes the command); its row is
        written `aborted` at once and `TrialStarted` sent. One trial begun by command at a
        time: another while it runs is refused with an `ErrorEvent` (`trial_under_way`)."""
        self._call(self._begin_commanded, trial_type, side, surface, vision)

    def end_trial(self, outcome: Outcome = Outcome.COMPLETED) -> None:
        """End the trial begun by `begin_trial` now, with `outcome`; `TrialEnded` follows, or
        an `ErrorEvent` (`no_trial_under_way`) if none is."""
        self._call(self._end_commanded, outcome)

    def add_trial(self, trial: Trial) -> None:
        """Record a whole trial in the session (events.tsv); one added while the source is
        still connecting is written as soon as the session opens."""
        self._call(self._add_whole, trial)

    # Reads (any thread) ----------------------------------------------------------------------

    @property
    def state(self) -> SourceState:
        return self.source.state

    def session_time_s(self) -> float:
        """Now on the session clock (s): the time axis of samples, snapshots and trials."""
        return self.source.session_time_s()

    def snapshot(self, tracksys: str) -> tuple[FloatArray, FloatArray] | None:
        """The newest ~30 s of one stream (time_s, values), or None if it has not started."""
        with self._lock:
            ring = self._rings.get(tracksys)
        return None if ring is None else ring.snapshot()

    def done(self) -> bool:
        return self._future is not None and self._future.done()

    def result(self, timeout_s: float | None = None) -> StreamResult:
        """Wait for the end (KeyboardInterrupt passes through to the caller)."""
        if self._future is None:
            raise InvalidArgumentError("the stream was not started", advice="Call start() first.")
        return self._future.result(timeout_s)

    # The run (on the loop) -------------------------------------------------------------------

    async def run(self, seconds: float | None = None) -> StreamResult:
        """Record until the source ends, `stop()` or `seconds` pass; the result."""
        loop = asyncio.get_running_loop()
        started_s = loop.time()
        await self.recorder.start()
        with self._lock:
            self._loop, queued = loop, self._queued
            self._queued = []
        for fn, args in queued:
            fn(*args)
        run = asyncio.create_task(self.source.run(_Sink(self)))
        reporter = asyncio.create_task(self._report_progress(started_s))
        try:
            await asyncio.wait({run}, timeout=seconds)
        finally:
            if not run.done():
                self.source.stop()
                await _end(run)
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            self._end_trials_under_way()
            session_dir = await self.recorder.close()
        if not run.cancelled():
            run.result()  # a bug in a source surfaces here
        elapsed_s = loop.time() - started_s
        self._emit(self._progress(elapsed_s))
        last = self._events[-1] if self._events else None
        return StreamResult(
            session_dir=session_dir,
            source=self.source.name,
            final_state=self.source.state,
            reason=last.reason if last else "",
            trouble=last.trouble if last else None,
            elapsed_s=elapsed_s,
            streams=self._figures(),
            stats=self.source.stats,
            samples_written=self.recorder.samples_written,
            rows_dropped=dict(self.recorder.rows_dropped),
            error=self.recorder.error,
            trials_dropped=self.recorder.trials_dropped,
            trials_aborted=tuple(self._aborted),
            events=tuple(self._events),
        )

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        with self._lock:
            loop = self._loop
            if loop is None:
                self._queued.append((fn, args))
                return
        loop.call_soon_threadsafe(fn, *args)

    def _emit(self, event: StreamEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def _report_progress(self, started_s: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            self._emit(self._progress(loop.time() - started_s))

    def _progress(self, elapsed_s: float) -> StreamProgress:
        stats = self.source.stats
        return StreamProgress(
            self.source.name,
            self.source.state,
            elapsed_s,
            self._figures(),
            stats.median_latency_s,
            sum(stats.packets_rejected.values()),
        )

    def _figures(self) -> tuple[StreamFigures, ...]:
        return tuple(
            StreamFigures(name, s.samples_received, s.samples_lost, s.effective_rate_hz)
            for name, s in sorted(self._per_stream.items())
        )

    # What the source delivers (on the loop) ----------------------------------------------------

    def _on_source_event(self, event: SourceEvent) -> None:
        self._events.append(event)
        if event.state is SourceState.STREAMING:
            self._make_rings()
            if self._scripted is None:  # a played session is loaded by now
                self._scripted = sorted(self.source.scripted_trials, key=lambda t: t.onset_s)
        elif event.state in ENDED_STATES:
            self._end_trials_under_way()  # before the recorder closes the session on `lost`
        self.recorder.on_event(event)
        self._emit(event)

    def _on_samples(self, batch: SampleBatch) -> None:
        self.recorder.on_samples(batch)
        self._per_stream.setdefault(batch.tracksys, SourceStats()).add_batch(batch)
        ring = self._rings.get(batch.tracksys)
        if ring is not None and batch.values.shape[1:] == (self._widths[batch.tracksys],):
            ring.append(batch.time_s, batch.values)
        if batch.time_s.size:
            self._follow_script(float(batch.time_s[-1]))

    def _follow_script(self, last_s: float) -> None:
        """Begin the scripted trials a sample has reached, end those it has passed."""
        scripted = self._scripted or []
        while scripted and last_s >= scripted[0].onset_s:
            self._begin(scripted.pop(0), scripted=True)
        for run in [u for u in self._under_way if u.scripted and last_s >= u.trial.end_s]:
            self._finish(run, run.trial)

    def _make_rings(self) -> None:
        with self._lock:
            for spec in self.source.streams():
                if spec.tracksys not in self._rings:
                    size = max(int(spec.nominal_fs_hz * RING_SECONDS), 1)
                    self._rings[spec.tracksys] = RingBuffer(size, len(spec.channels))
                    self._widths[spec.tracksys] = len(spec.channels)

    def _recording_failed(self, error: BalancelabError) -> None:
        """The recorder's one failure (on the loop): sent as an event; the stream stops, as a
        recording that cannot be written is not worth going on with."""
        self._emit(ErrorEvent(self.source.name, self.session_time_s(), error.trouble))
        self.source.stop()

    # Trials (on the loop) ----------------------------------------------------------------------

    def _begin(self, trial: Trial, *, scripted: bool) -> None:
        row = self.recorder.add_trial(replace(trial, duration_s=0.0, outcome=Outcome.ABORTED))
        self._under_way.append(_UnderWay(trial, row, scripted))
        self._emit(TrialStarted(self.source.name, trial))

    def _finish(self, run: _UnderWay, trial: Trial) -> None:
        self._under_way.remove(run)
        if run.row is not None:
            self.recorder.update_trial(run.row, trial)
        self._emit(TrialEnded(self.source.name, trial))

    def _begin_commanded(
        self, trial_type: TrialType, side: Side, surface: Surface, vision: Vision
    ) -> None:
        if any(not u.scripted for u in self._under_way):
            self._refuse("trial_under_way", "a trial is already under way", "End it first.")
            return
        onset_s = max(self.session_time_s(), 0.0)
        self._begin(Trial(onset_s, 0.0, trial_type, side, surface, vision), scripted=False)

    def _end_commanded(self, outcome: Outcome) -> None:
        runs = [u for u in self._under_way if not u.scripted]
        if not runs:
            self._refuse("no_trial_under_way", "no trial is under way", "Begin a trial first.")
            return
        trial = runs[0].trial
        duration_s = max(self.session_time_s() - trial.onset_s, 0.0)
        self._finish(runs[0], replace(trial, duration_s=duration_s, outcome=outcome))

    def _add_whole(self, trial: Trial) -> None:
        if self.recorder.add_trial(trial) is not None:
            self._emit(TrialEnded(self.source.name, trial))

    def _refuse(self, code: str, message: str, advice: str) -> None:
        time_s = self.session_time_s()
        self._emit(ErrorEvent(self.source.name, time_s, Trouble(code, message, advice)))

    def _end_trials_under_way(self) -> None:
        """Write the trials under way as `aborted`, lasting up to the last sample received
        (s, session clock); scripted trials not yet begun are not written."""
        ends = [s.last_time_s for s in self._per_stream.values() if s.last_time_s is not None]
        last_s = max(ends, default=None)
        for run in list(self._under_way):
            end_s = run.trial.onset_s if last_s is None else max(last_s, run.trial.onset_s)
            cut = replace(run.trial, duration_s=end_s - run.trial.onset_s, outcome=Outcome.ABORTED)
            self._aborted.append(cut)
            self._finish(run, cut)
        if self._scripted:
            self._scripted.clear()


class _Sink:
    """The `SourceSink` a controller gives its source (kept off the controller's own API)."""

    def __init__(self, controller: StreamController) -> None:
        self._controller = controller

    def on_event(self, event: SourceEvent) -> None:
        self._controller._on_source_event(event)

    def on_samples(self, batch: SampleBatch) -> None:
        self._controller._on_samples(batch)


async def _end(run: asyncio.Task[None]) -> None:
    """Wait for a stopped source's run; cancel it after STOP_GRACE_S."""
    done, _ = await asyncio.wait({run}, timeout=STOP_GRACE_S)
    if not done:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


def start_stream(
    engine: EngineLoop,
    source: Source,
    dataset_root: Path | str,
    *,
    seconds: float | None = None,
    on_event: EventCallback | None = None,
    athlete: str = "anon",
    task: str | None = None,
) -> StreamController:
    """Start recording `source` on `engine`; returns the running controller at once."""
    controller = StreamController(
        source, dataset_root, engine=engine, on_event=on_event, athlete=athlete, task=task
    )
    controller.start(seconds)
    return controller
