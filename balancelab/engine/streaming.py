"""Live streaming into the dataset: the engine loop thread, a running stream's handle, the job.

One asyncio loop runs on its own thread (`EngineLoop`; every bleak object lives there). A
stream is started on it with `start_stream`, which returns a `StreamHandle`: commands go in from
any thread (`stop`, `add_trial`), samples can be pulled as ring-buffer snapshots, and events
come out to one callback, called on the loop thread (it must not block: the GUI re-emits them
as queued signals, the CLI prints). Events are the source's `SourceEvent`s and, once a second,
a `StreamProgress`. `stream_to_dataset` is the whole job for the CLI: stream for N seconds (or
until the source ends, Ctrl-C, SIGTERM or SIGHUP), record, return a `StreamResult`.

A scripted trial (simulation, replay) is written once its end has passed; one under way when
the stream ends early (stopped, a signal, the source lost) is written `aborted`, cut at the
last sample received, so its samples stay described.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib
import signal
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from balancelab.devices.common import is_ble_address
from balancelab.errors import BalancelabError, InvalidArgumentError
from balancelab.model import FloatArray, Outcome, Trial
from balancelab.sensors.base import SampleBatch, Source, SourceEvent, SourceState, SourceStats
from balancelab.sensors.phyphox_live import DEFAULT_PORT, PhyphoxSource
from balancelab.sensors.recorder import Recorder
from balancelab.sensors.replay import ReplaySource
from balancelab.sensors.ring import RingBuffer
from balancelab.sensors.simulated import SimulatedSource

T = TypeVar("T")
_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
PROGRESS_EVERY_S = 1.0
RING_SECONDS = 30.0
STOP_GRACE_S = 10.0
"""How long a stopped source may take to end before it is cancelled."""
SIGNAL_POLL_S = 0.2
"""The main thread waits for a stream in slices this long (s): where a stop signal's handler is
a Python one (`signal.signal`, no `add_signal_handler`), it runs only when that thread does."""
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that end `stream_to_dataset` as Ctrl-C does (Windows has no SIGHUP)."""
DEVICE_FORMS = (
    "sim (the simulated athlete; --scenario), sim:SCENARIO, replay:PATH (a recorded session"
    " folder or *_motion.tsv), phyphox://HOST[:PORT] (a phone with phyphox remote access on),"
    " a Bluetooth address (AA:BB:CC:DD:EE:FF or a macOS UUID) or ble:NAME"
)


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


StreamEvent = SourceEvent | StreamProgress
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
    error: BalancelabError | None = None
    stopped_by: signal.Signals | None = None
    """The signal that stopped the stream (SIGINT: Ctrl-C), if one did."""
    events: tuple[SourceEvent, ...] = field(default=())
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

    def remove_signal_handler(self, sig: signal.Signals, previous: _SignalHandler) -> None:
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


class _Tap:
    """The sink a source streams into: recorder, per-stream figures, rings, trials, events."""

    def __init__(
        self,
        source: Source,
        recorder: Recorder,
        on_event: EventCallback | None,
        trials: Sequence[Trial],
    ) -> None:
        self.source = source
        self.recorder = recorder
        self.on_event_cb = on_event
        self.per_stream: dict[str, SourceStats] = {}
        self.rings: dict[str, RingBuffer] = {}
        self._widths: dict[str, int] = {}
        self.events: list[SourceEvent] = []
        self.reason = ""
        self._trials = sorted(trials, key=lambda t: t.end_s)
        self.aborted: list[Trial] = []
        self._lock = threading.Lock()

    def on_event(self, event: SourceEvent) -> None:
        self.events.append(event)
        self.reason = event.reason
        if event.state is SourceState.STREAMING:
            self._make_rings()
        elif event.state is SourceState.LOST:
            self.keep_trials_in_progress()  # the recorder closes the session on `lost`
        self.recorder.on_event(event)
        self._emit(event)

    def on_samples(self, batch: SampleBatch) -> None:
        self.recorder.on_samples(batch)
        self.per_stream.setdefault(batch.tracksys, SourceStats()).add_batch(batch)
        ring = self.rings.get(batch.tracksys)
        if ring is not None and batch.values.shape[1:] == (self._widths[batch.tracksys],):
            ring.append(batch.time_s, batch.values)
        while self._trials and float(batch.time_s[-1]) >= self._trials[0].end_s:
            self.recorder.add_trial(self._trials.pop(0))

    def keep_trials_in_progress(self) -> None:
        """Write the trials begun before the last sample and not ended as `aborted`, lasting
        up to that sample (s, session clock); trials not yet begun are not written."""
        ends = [s.last_time_s for s in self.per_stream.values() if s.last_time_s is not None]
        if not ends:
            return
        last_s = max(ends)
        for trial in self._trials:
            if trial.onset_s < last_s:
                cut = replace(trial, duration_s=last_s - trial.onset_s, outcome=Outcome.ABORTED)
                self.aborted.append(cut)
                self.recorder.add_trial(cut)
        self._trials.clear()

    def _make_rings(self) -> None:
        with self._lock:
            for spec in self.source.streams():
                if spec.tracksys not in self.rings:
                    size = max(int(spec.nominal_fs_hz * RING_SECONDS), 1)
                    self.rings[spec.tracksys] = RingBuffer(size, len(spec.channels))
                    self._widths[spec.tracksys] = len(spec.channels)

    def _emit(self, event: StreamEvent) -> None:
        if self.on_event_cb is not None:
            self.on_event_cb(event)

    def figures(self) -> tuple[StreamFigures, ...]:
        return tuple(
            StreamFigures(name, s.samples_received, s.samples_lost, s.effective_rate_hz)
            for name, s in sorted(self.per_stream.items())
        )

    def progress(self, elapsed_s: float) -> StreamProgress:
        stats = self.source.stats
        return StreamProgress(
            self.source.name,
            self.source.state,
            elapsed_s,
            self.figures(),
            stats.median_latency_s,
            sum(stats.packets_rejected.values()),
        )


class StreamHandle:
    """A stream running on an `EngineLoop`: thread-safe commands, snapshots, the result."""

    def __init__(
        self,
        engine: EngineLoop,
        source: Source,
        tap: _Tap,
        future: concurrent.futures.Future[StreamResult],
    ) -> None:
        self._engine = engine
        self.source = source
        self._tap = tap
        self._future = future

    def stop(self) -> None:
        """Ask the source to end; the recording is closed and kept."""
        self.source.stop()

    def add_trial(self, trial: Trial) -> None:
        """Record a trial in the session (events.tsv); one added while the source is still
        connecting is written as soon as the session opens."""
        self._engine.call_soon(self._tap.recorder.add_trial, trial)

    def snapshot(self, tracksys: str) -> tuple[FloatArray, FloatArray] | None:
        """The newest ~30 s of one stream (time_s, values), or None if it has not started."""
        with self._tap._lock:
            ring = self._tap.rings.get(tracksys)
        return None if ring is None else ring.snapshot()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout_s: float | None = None) -> StreamResult:
        """Wait for the end (KeyboardInterrupt passes through to the caller)."""
        return self._future.result(timeout_s)


def start_stream(
    engine: EngineLoop,
    source: Source,
    dataset_root: Path | str,
    *,
    seconds: float | None = None,
    on_event: EventCallback | None = None,
    athlete: str = "anon",
    task: str | None = None,
) -> StreamHandle:
    """Start recording `source` on `engine`; returns at once with the handle."""
    tap = _make_tap(source, dataset_root, on_event, athlete, task)
    future = engine.submit(_record(tap, seconds))
    return StreamHandle(engine, source, tap, future)


def stream_to_dataset(
    source: Source,
    dataset_root: Path | str,
    seconds: float | None = None,
    on_event: EventCallback | None = None,
    *,
    athlete: str = "anon",
    task: str | None = None,
) -> StreamResult:
    """Record `source` for `seconds` (None: until it ends). Called from the main thread,
    SIGINT (Ctrl-C), SIGTERM and SIGHUP stop it, close the session and keep the data; the
    result names the signal (`stopped_by`)."""
    with EngineLoop() as engine, _StopOnSignals(engine) as signals:
        handle = start_stream(
            engine, source, dataset_root, seconds=seconds, on_event=on_event,
            athlete=athlete, task=task,
        )  # fmt: skip
        signals.attach(handle)
        result = _wait_for(handle)
    return replace(result, stopped_by=signals.received)


class _StopOnSignals:
    """While open (in the main thread; elsewhere it does nothing), each of STOP_SIGNALS not
    ignored stops the attached stream on the engine loop and is kept in `received` (the first
    one). A signal that comes before a stream is attached stops it as soon as it is."""

    def __init__(self, engine: EngineLoop) -> None:
        self._engine = engine
        self._handle: StreamHandle | None = None
        self._previous: dict[signal.Signals, _SignalHandler] = {}
        self.received: signal.Signals | None = None

    def __enter__(self) -> _StopOnSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        try:
            for sig in STOP_SIGNALS:
                previous = signal.getsignal(sig)
                if previous == signal.SIG_IGN:
                    continue  # ignored by whoever started us (`nohup`): it stays ignored
                self._engine.add_signal_handler(sig, functools.partial(self._on_signal, sig))
                self._previous[sig] = previous
        except BaseException:
            self.__exit__()
            raise
        return self

    def attach(self, handle: StreamHandle) -> None:
        self._handle = handle
        if self.received is not None:
            handle.stop()

    def _on_signal(self, sig: signal.Signals) -> None:
        """On the loop thread: no I/O, only the stop request."""
        if self.received is None:
            self.received = sig
        if self._handle is not None:
            self._handle.stop()

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            self._engine.remove_signal_handler(sig, previous)


def _wait_for(handle: StreamHandle) -> StreamResult:
    """The stream's result, waited for in SIGNAL_POLL_S slices so that a Python signal
    handler gets to run.

    Only `done()` ends the wait: a stream that failed with a TimeoutError of its own raises
    the same class as a slice that ran out, and must not be taken for one.
    """
    while not handle.done():
        with contextlib.suppress(concurrent.futures.TimeoutError):
            handle.result(SIGNAL_POLL_S)
    return handle.result()


async def record_stream(
    source: Source,
    dataset_root: Path | str,
    *,
    seconds: float | None = None,
    on_event: EventCallback | None = None,
    athlete: str = "anon",
    task: str | None = None,
) -> StreamResult:
    """`stream_to_dataset` on the running loop (for tests and callers already in asyncio)."""
    return await _record(_make_tap(source, dataset_root, on_event, athlete, task), seconds)


def _make_tap(
    source: Source,
    dataset_root: Path | str,
    on_event: EventCallback | None,
    athlete: str,
    task: str | None,
) -> _Tap:
    """The recorder of `source` (stopping the source if the disk fails) behind its event tap."""
    recorder = Recorder(
        dataset_root,
        streams=source.streams,
        athlete=athlete,
        task=task or str(getattr(source, "default_task", "live")),
        on_error=lambda error: source.stop(),
    )
    return _Tap(source, recorder, on_event, _scripted_trials(source))


def _scripted_trials(source: Source) -> tuple[Trial, ...]:
    trials = getattr(source, "scripted_trials", ())
    return tuple(t for t in trials if isinstance(t, Trial))


async def _record(tap: _Tap, seconds: float | None) -> StreamResult:
    source, recorder = tap.source, tap.recorder
    loop = asyncio.get_running_loop()
    started_s = loop.time()
    await recorder.start()
    run = asyncio.create_task(source.run(tap))
    reporter = asyncio.create_task(_report(tap, started_s))
    try:
        await asyncio.wait({run}, timeout=seconds)
    finally:
        if not run.done():
            source.stop()
            await _end(run)
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        tap.keep_trials_in_progress()
        session_dir = await recorder.close()
    if not run.cancelled():
        run.result()  # a bug in a source surfaces here
    elapsed_s = loop.time() - started_s
    tap._emit(tap.progress(elapsed_s))
    return StreamResult(
        session_dir=session_dir,
        source=source.name,
        final_state=source.state,
        reason=tap.reason,
        elapsed_s=elapsed_s,
        streams=tap.figures(),
        stats=source.stats,
        samples_written=recorder.samples_written,
        rows_dropped=dict(recorder.rows_dropped),
        error=recorder.error,
        trials_dropped=recorder.trials_dropped,
        trials_aborted=tuple(tap.aborted),
        events=tuple(tap.events),
    )


async def _end(run: asyncio.Task[None]) -> None:
    """Wait for a stopped source's run; cancel it after STOP_GRACE_S."""
    done, _ = await asyncio.wait({run}, timeout=STOP_GRACE_S)
    if not done:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run


async def _report(tap: _Tap, started_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        tap._emit(tap.progress(loop.time() - started_s))


def open_source(
    spec: str, *, scenario: str = "demo_session", seed: int = 0, speed: float = 1.0
) -> Source:
    """The source a DEVICE text names (see DEVICE_FORMS); InvalidArgumentError with advice."""
    text = spec.strip()
    if text == "sim" or text.startswith("sim:"):
        return SimulatedSource(text.removeprefix("sim").lstrip(":") or scenario, seed=seed,
                               speed=speed)  # fmt: skip
    if text.startswith("replay:"):
        return _open_replay(text.removeprefix("replay:"), speed)
    if text.startswith("phyphox://"):
        return _open_phyphox(text)
    if text.startswith("ble:") or is_ble_address(text):
        return _open_ble(text.removeprefix("ble:"))
    raise InvalidArgumentError(
        f"DEVICE {spec!r} is not a source balancelab knows",
        advice=f"Give one of: {DEVICE_FORMS}.",
    )


def _open_replay(path_text: str, speed: float) -> Source:
    path = Path(path_text).expanduser()
    if not path_text or not path.exists():
        raise InvalidArgumentError(
            f"replay: {path_text!r} does not exist",
            advice="Give a session folder (sub-X/ses-Y) or a *_motion.tsv after 'replay:'.",
        )
    source = ReplaySource(path, speed=speed)
    _ = source.session  # read now: a broken recording is reported before streaming starts
    return source


def _open_phyphox(text: str) -> Source:
    advice = "Write phyphox://HOST or phyphox://HOST:PORT, as the phone shows under remote access."
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidArgumentError(f"{text!r}: {exc}", advice=advice) from None
    if not host or parts.path not in ("", "/") or parts.query:
        raise InvalidArgumentError(f"{text!r} does not name a host", advice=advice)
    return PhyphoxSource(host, port or DEFAULT_PORT)


def _open_ble(target: str) -> Source:
    try:
        module = importlib.import_module("balancelab.sensors.ble")
    except ImportError as exc:
        raise InvalidArgumentError(
            f"Bluetooth sensors are not available in this installation ({exc})",
            advice="Install balancelab with its Bluetooth support (bleak), or use sim,"
            " replay:PATH or phyphox://HOST.",
        ) from None
    source: Source = module.BleSource(target)
    return source
