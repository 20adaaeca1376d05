"""The recorder: a `SourceSink` that writes what a source delivers into a Motion-BIDS session.

All file work (open, append, fsync, trials, close) runs in one worker thread, in the order it was
asked for, so the event loop never waits on the disk. Each batch is handed to the OS as soon as
the worker takes it (a killed process loses nothing already appended) and the files are fsynced
every `sync_every_s` (default 0.25 s) while rows arrive, so whatever was received is on disk
within 0.5 s. The session opens when the source first reports `streaming` (its streams are
known then) and closes cleanly on `lost`, keeping every sample. Trials added before it opens
wait and are written when it does; a trial's row can be replaced later (`update_trial`: a trial
written `aborted` when it began, rewritten when it ends). A failure of the disk is reported once
to `on_error` (on the loop thread) and never raised: what was written stays.

The session's start time is its onset on the wall clock: the time the source's session clock
read 0 (when `run` began, before scanning and connecting), not the moment streaming began, so
`start_utc + time_s` is when a sample was taken.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from balancelab.errors import BalancelabError, DatasetError
from balancelab.formats.bids_writer import RecordingWriter, open_session
from balancelab.model import StreamSpec, Trial
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceState

DEFAULT_SYNC_EVERY_S = 0.25
ErrorCallback = Callable[[BalancelabError], None]
WallClock = Callable[[], datetime]
"""Returns the time now, timezone-aware (UTC); injected so tests can pin it."""


def utc_now() -> datetime:
    """The wall clock: now, in UTC."""
    return datetime.now(UTC)


class Recorder:
    """Writes batches and trials of one source to `dataset_root`; call `start()` then `close()`.

    `task` is the task label, or a function giving it when the session opens (a played
    session's own task is known once it is loaded).

    `start_utc` pins the session start; by default it is the wall-clock time (`wall_clock`) of
    the session onset, found at the first `streaming` event as now − the event's session time.
    """

    def __init__(
        self,
        dataset_root: Path | str,
        *,
        streams: Callable[[], Sequence[StreamSpec]],
        athlete: str,
        task: str | Callable[[], str],
        start_utc: datetime | None = None,
        sync_every_s: float = DEFAULT_SYNC_EVERY_S,
        on_error: ErrorCallback | None = None,
        wall_clock: WallClock = utc_now,
    ) -> None:
        self.dataset_root = Path(dataset_root)
        self._streams = streams
        self._athlete = athlete
        self._task = task
        self.start_utc = start_utc
        """The session's start (UTC): given, or set when the session opens."""
        self._wall_clock = wall_clock
        self._sync_every_s = sync_every_s
        self._on_error = on_error
        self._pool = concurrent.futures.ThreadPoolExecutor(1, "balancelab-recorder")
        self._writer: RecordingWriter | None = None
        self._opening = False
        self._closing = False
        self._dirty = False
        self._last_time_s: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._syncer: asyncio.Task[None] | None = None
        self._writer_done = False
        self.error: BalancelabError | None = None
        self.rows_submitted: Counter[str] = Counter()
        self.rows_dropped: Counter[str] = Counter()
        """Rows refused before writing, by reason (time not increasing, unknown stream)."""
        self.trials_dropped = 0
        """Trials that could not be written: added after the session closed, or the session
        never opened (no sample arrived)."""
        self._pending_trials: dict[int, Trial] = {}
        self._next_row = 0
        self._rows: dict[int, int] = {}
        """Our trial row number -> the writer's (worker side)."""
        self.session_dir: Path | None = None

    # The sink (called on the source's loop thread; never blocks) ---------------------------

    def on_event(self, event: SourceEvent) -> None:
        if event.state is SourceState.STREAMING and not self._opening:
            self._open(event.time_s)
        elif event.state is SourceState.LOST:
            self._submit(self._close_writer)
            self._closing = True

    def on_samples(self, batch: SampleBatch) -> None:
        if self._closing or not self._opening:
            self.rows_dropped["not recording"] += batch.time_s.size
            return
        times, values = self._checked(batch)
        if times.size:
            self.rows_submitted[batch.tracksys] += times.size
            self._dirty = True
            self._submit(self._append, batch.tracksys, times, values)

    def add_trial(self, trial: Trial) -> int | None:
        """Store a trial (events.tsv is rewritten atomically at once); one added before the
        session opens is kept until it does. Its row number for `update_trial`, or None
        if it was dropped (the session has closed)."""
        if self._closing:
            self.trials_dropped += 1
            return None
        row, self._next_row = self._next_row, self._next_row + 1
        if self._opening:
            self._submit(self._add_trial, row, trial)
        else:
            self._pending_trials[row] = trial
        return row

    def update_trial(self, row: int, trial: Trial) -> None:
        """Replace the trial `add_trial` numbered `row` (events.tsv rewritten atomically)."""
        if row in self._pending_trials:
            self._pending_trials[row] = trial
        elif self._closing:
            self.trials_dropped += 1
        else:
            self._submit(self._update_trial, row, trial)

    # Life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the fsync timer on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._syncer = asyncio.create_task(self._sync_periodically())

    async def close(self) -> Path | None:
        """Write what is queued, finish the session (status `complete`); its folder or None.
        A failure to finish is reported as any other (`error`, `on_error`): the session then
        stays marked `recording`, with what was written, and is recovered at the next start."""
        if self._syncer is not None:
            self._syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._syncer
        self._closing = True
        self.trials_dropped += len(self._pending_trials)
        self._pending_trials.clear()
        done = self._pool.submit(self._close_writer)
        try:
            await asyncio.wrap_future(done)
        except Exception as error:  # reported as every other failure, not raised
            self._fail(_domain_error(error))
        self._pool.shutdown(wait=True)
        return self.session_dir

    @property
    def samples_written(self) -> dict[str, int]:
        """Rows written so far per tracksys (as the worker has done them)."""
        writer = self._writer
        if writer is None:
            return {}
        return {tracksys: writer.samples_written(tracksys) for tracksys in self._last_time_s}

    # The loop side -------------------------------------------------------------------------

    def _open(self, session_time_s: float) -> None:
        """Open the session at the first `streaming` event, reported at `session_time_s`."""
        self._opening = True
        if self.start_utc is None:
            self.start_utc = self._wall_clock() - timedelta(seconds=session_time_s)
        try:
            specs = list(self._streams())
            task = self._task if isinstance(self._task, str) else self._task()
        except BalancelabError as error:
            self._fail(error)
            self.trials_dropped += len(self._pending_trials)
            self._pending_trials.clear()
            return
        for spec in specs:
            self._last_time_s[spec.tracksys] = -np.inf
        self._submit(self._open_writer, specs, self.start_utc, task)
        pending, self._pending_trials = self._pending_trials, {}
        for row, trial in pending.items():
            self._submit(self._add_trial, row, trial)

    def _checked(self, batch: SampleBatch) -> tuple[np.ndarray, np.ndarray]:
        """Rows the writer accepts: known stream, finite and strictly increasing times."""
        last_s = self._last_time_s.get(batch.tracksys)
        if last_s is None:
            self.rows_dropped["unknown stream"] += batch.time_s.size
            return batch.time_s[:0], batch.values[:0]
        times = batch.time_s
        previous = np.fmax.accumulate(np.concatenate(([last_s], times)))[:-1]
        keep = np.isfinite(times) & (times > previous)
        if not keep.all():
            self.rows_dropped["time not increasing"] += int(np.count_nonzero(~keep))
        times, values = times[keep], batch.values[keep]
        if times.size:
            self._last_time_s[batch.tracksys] = float(times[-1])
        values = np.where(np.isinf(values), np.nan, values)
        return times, values

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self.error is not None:
            return
        future = self._pool.submit(fn, *args)
        future.add_done_callback(self._check_done)

    def _check_done(self, future: concurrent.futures.Future[Any]) -> None:
        failure = future.exception()
        if failure is None:
            return
        error = _domain_error(failure)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._fail, error)
                return
        self._fail(error)

    def _fail(self, error: BalancelabError) -> None:
        if self.error is None:
            self.error = error
            if self._on_error is not None:
                self._on_error(error)

    async def _sync_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._sync_every_s)
            if self._dirty and self.error is None:
                self._dirty = False
                self._submit(self._sync)

    # The worker side (one thread, in order) ------------------------------------------------

    def _open_writer(self, specs: Sequence[StreamSpec], start: datetime, task: str) -> None:
        self._writer = open_session(
            self.dataset_root,
            athlete=self._athlete,
            start_utc=start,
            task=task,
            streams=specs,
            flush_interval_s=2 * self._sync_every_s,
        )
        self.session_dir = self._writer.session_dir

    def _append(self, tracksys: str, times: np.ndarray, values: np.ndarray) -> None:
        if self._writer is not None and self.error is None:
            self._writer.append(tracksys, times, values)

    def _add_trial(self, row: int, trial: Trial) -> None:
        if self._writer is not None:
            self._rows[row] = self._writer.add_trial(trial)

    def _update_trial(self, row: int, trial: Trial) -> None:
        if self._writer is not None and row in self._rows:
            self._writer.replace_trial(self._rows[row], trial)

    def _sync(self) -> None:
        if self._writer is not None and not self._writer_done:
            self._writer.flush()

    def _close_writer(self) -> None:
        if self._writer is not None and not self._writer_done:
            self._writer_done = True
            self._writer.close()


def _domain_error(error: BaseException) -> BalancelabError:
    if isinstance(error, BalancelabError):
        return error
    return DatasetError(f"recording failed: {error!r}")
