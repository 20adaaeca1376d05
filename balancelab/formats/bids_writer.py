"""Streaming, crash-safe writing of one Motion-BIDS session (FORMAT.md, "Writing safely").

Open writes every sidecar first (`_balancelab.json` says `recording`), then rows are appended.
Each `append` hands its rows to the OS at once (a killed process loses nothing appended); the
files are fsynced at least every `flush_interval_s` while appends arrive and on `flush()`, so a
power cut loses at most that much. `close` finishes the sidecars atomically, status `complete`.
A stream that received no sample is removed on close (an empty motion.tsv is not valid BIDS).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike

from balancelab.errors import DatasetError, InvalidArgumentError
from balancelab.formats.bids import (
    CHANNELS_COLUMNS,
    FORMAT_VERSION,
    NA,
    READABLE_UNITS,
    SOFTWARE_VERSION,
    STATUS_COMPLETE,
    STATUS_RECORDING,
    Calibration,
    SessionLock,
    StreamPaths,
    StreamStats,
    UnitConversion,
    events_json,
    events_tsv_text,
    finalize_stream,
    format_cell,
    fsync_dir,
    write_json_atomic,
    write_text_atomic,
    written_conversion,
)
from balancelab.formats.dataset import (
    Participant,
    StagedWrite,
    add_participant,
    ensure_dataset,
    refuse_outside_links,
    tidy_session,
)
from balancelab.model import (
    TIME_CHANNEL,
    FloatArray,
    Matrix3,
    Session,
    StreamSpec,
    Trial,
    check_label,
    session_label,
)

DEFAULT_FLUSH_INTERVAL_S = 0.5
WRITE_BATCH_SAMPLES = 2000
_KEPT_ADVICE = (
    "Check free disk space and that the drive is still connected; the samples already on disk"
    " are kept and balancelab recovers the session at the next start."
)
SECONDS = READABLE_UNITS["LATENCY"]["s"]


@dataclass
class _Stream:
    """The mutable state of one open stream."""

    spec: StreamSpec
    paths: StreamPaths
    conversions: tuple[UnitConversion, ...]
    file: IO[bytes]
    start_utc: datetime
    sensor_to_segment: dict[str, Matrix3]
    calibration: Calibration | None = None
    samples: int = 0
    first_s: float = float("nan")
    last_s: float = float("-inf")
    lost_samples: int = 0

    @property
    def stats(self) -> StreamStats:
        return StreamStats(self.samples, self.first_s, self.last_s, self.lost_samples)


def open_session(
    dataset_root: Path | str,
    *,
    athlete: str | Participant,
    start_utc: datetime,
    task: str,
    streams: Sequence[StreamSpec],
    flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
    staged: StagedWrite | None = None,
) -> RecordingWriter:
    """Create (or extend) the dataset, add the athlete, and open a new session for writing.

    With `staged` (a write begun in this dataset), the session is written under its hidden
    folder and enters the dataset, with the athlete, only when `staged` commits.

    Raises:
        InvalidArgumentError: a bad athlete or task label, no streams or repeated tracksys
            labels, `flush_interval_s` not > 0, or `staged` begun in another dataset.
        DatasetError: `dataset_root` is a file or a foreign non-empty folder, cannot be
            created, or is locked; a stream's files already exist; the session is being
            written by another process; a link leads out of the dataset.
        FormatError: the dataset's description cannot be read or is not BIDS.
    """
    participant = athlete if isinstance(athlete, Participant) else Participant(athlete)
    check_label("task", task)
    systems = [s.tracksys for s in streams]
    if not systems or len(set(systems)) != len(systems):
        raise InvalidArgumentError(f"streams need distinct tracksys labels, got {systems}")
    if not flush_interval_s > 0:
        raise InvalidArgumentError(f"flush_interval_s must be > 0, got {flush_interval_s}")
    session = session_label(start_utc)
    if staged is None:
        root = ensure_dataset(dataset_root)
        add_participant(root, participant)
    else:
        if Path(dataset_root).resolve() != staged.root:
            raise InvalidArgumentError(f"{dataset_root} is not the dataset of {staged.folder}")
        motion_dir = staged.root / f"sub-{participant.label}" / f"ses-{session}" / "motion"
        _refuse_existing(
            StreamPaths.of(motion_dir, participant.label, session, task, system)
            for system in systems
        )
        staged.add_participant(participant)
        root = staged.folder
    session_dir = _make_session_dir(root, participant.label, session)
    lock = SessionLock.try_acquire(session_dir)
    if lock is None:
        raise DatasetError(f"{session_dir} is being written by another balancelab process")
    try:
        return RecordingWriter(
            session_dir,
            task=task,
            start_utc=start_utc,
            specs=streams,
            lock=lock,
            flush_interval_s=flush_interval_s,
        )
    except BaseException:
        lock.release()
        raise


def write_session(
    dataset_root: Path,
    session: Session,
    *,
    participant: Participant,
    staged: StagedWrite | None = None,
) -> Path:
    """Write an in-memory session through the streaming writer; returns the session folder.

    The session enters the dataset whole or not at all: it is written as part of `staged`, or,
    without it, of a staged write of its own committed here.

    Raises:
        The errors of `open_session` and of `StagedWrite.begin`; a sample batch the stream
        refuses (InvalidArgumentError), and a disk failure while writing (DatasetError).
    """
    if staged is None:
        with StagedWrite.begin(dataset_root) as own:
            return write_session(own.root, session, participant=participant, staged=own)
    streams = [
        StreamSpec(
            tracksys=r.tracksys,
            channels=r.channels,
            nominal_fs_hz=r.nominal_fs_hz,
            device=r.device,
            sensor_to_segment=r.sensor_to_segment,
        )
        for r in session.recordings
    ]
    with open_session(
        staged.root,
        athlete=participant,
        start_utc=session.start_utc,
        task=session.task,
        streams=streams,
        staged=staged,
    ) as writer:
        for recording in session.recordings:
            for start in range(0, recording.time_s.size, WRITE_BATCH_SAMPLES):
                stop = start + WRITE_BATCH_SAMPLES
                writer.append(
                    recording.tracksys, recording.time_s[start:stop], recording.values[start:stop]
                )
        for trial in session.trials:
            writer.add_trial(trial)
    return staged.final_path(writer.session_dir)


def _make_session_dir(root: Path, athlete: str, session: str) -> Path:
    session_dir = root / f"sub-{athlete}" / f"ses-{session}"
    refuse_outside_links(root, session_dir / "motion")
    try:
        (session_dir / "motion").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {session_dir}: {exc.strerror or exc}") from exc
    return session_dir


class RecordingWriter:
    """Appends the samples and trials of one session; use as a context manager or call close()."""

    def __init__(
        self,
        session_dir: Path,
        *,
        task: str,
        start_utc: datetime,
        specs: Sequence[StreamSpec],
        lock: SessionLock,
        flush_interval_s: float,
    ) -> None:
        self.session_dir = session_dir
        self._lock = lock
        self._flush_interval_s = flush_interval_s
        self._trials: list[Trial] = []
        self._closed = False
        athlete = session_dir.parent.name.removeprefix("sub-")
        session = session_dir.name.removeprefix("ses-")
        paths = {
            s.tracksys: StreamPaths.of(session_dir / "motion", athlete, session, task, s.tracksys)
            for s in specs
        }
        _refuse_existing(paths.values())
        self._streams: dict[str, _Stream] = {}
        try:
            for spec in specs:
                stream = _open_stream(spec, paths[spec.tracksys], task, start_utc)
                self._streams[spec.tracksys] = stream
        except BaseException:
            for opened in self._streams.values():
                opened.file.close()
            raise
        self._events_tsv = paths[specs[0].tracksys].events_tsv
        write_text_atomic(self._events_tsv, events_tsv_text(()))
        write_json_atomic(paths[specs[0].tracksys].events_json, events_json())
        self._last_sync = time.monotonic()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def paths(self, tracksys: str) -> StreamPaths:
        """The files of one stream."""
        return self._lookup(tracksys).paths

    def samples_written(self, tracksys: str) -> int:
        """Rows appended so far to one stream."""
        return self._lookup(tracksys).samples

    def append(self, tracksys: str, time_s: ArrayLike, values: ArrayLike) -> None:
        """Append rows: `time_s` (n,) s since onset, increasing; `values` (n, c) SI, NaN if lost."""
        stream = self._stream(tracksys)
        times, data = _checked_batch(stream, time_s, values)
        if times.size == 0:
            return
        rows = zip(times.tolist(), data.tolist(), strict=True)
        lines = (_format_row(t, row, stream.conversions) for t, row in rows)
        self._write(stream, "".join(lines).encode("ascii"))
        if stream.samples == 0:
            stream.first_s = float(times[0])
        stream.samples += times.size
        stream.last_s = float(times[-1])
        stream.lost_samples += int(np.isnan(data).all(axis=1).sum())
        if time.monotonic() - self._last_sync >= self._flush_interval_s:
            self.flush()

    def _write(self, stream: _Stream, data: bytes) -> None:
        try:
            stream.file.write(data)
            stream.file.flush()
        except OSError as exc:
            raise DatasetError(
                f"cannot write {stream.paths.motion_tsv}: {exc.strerror or exc}",
                advice="Check free disk space; the samples written so far are kept.",
            ) from exc

    def add_trial(self, trial: Trial) -> int:
        """Record a trial; events.tsv is rewritten atomically at once so a crash keeps it.
        Returns its row number for `replace_trial`."""
        self._check_open()
        self._trials.append(trial)
        write_text_atomic(self._events_tsv, events_tsv_text(self._trials))
        return len(self._trials) - 1

    def replace_trial(self, row: int, trial: Trial) -> None:
        """Put `trial` in place of the one `add_trial` numbered `row` (a trial under way,
        written `aborted`, that has now ended); events.tsv is rewritten atomically."""
        self._check_open()
        if not 0 <= row < len(self._trials):
            raise InvalidArgumentError(f"no trial row {row}; {len(self._trials)} were added")
        self._trials[row] = trial
        write_text_atomic(self._events_tsv, events_tsv_text(self._trials))

    def set_calibration(
        self,
        tracksys: str,
        calibration: Calibration,
        sensor_to_segment: Mapping[str, Matrix3] | None = None,
    ) -> None:
        """Store a stream's static calibration (and the rotation derived from it) in its sidecar."""
        stream = self._stream(tracksys)
        stream.calibration = calibration
        stream.sensor_to_segment.update(sensor_to_segment or {})
        own = _own_json(stream.spec, stream.start_utc, stream.sensor_to_segment, calibration)
        write_json_atomic(stream.paths.balancelab_json, own)

    def flush(self) -> None:
        """Push every stream's rows to the disk (flush + fsync)."""
        self._check_open()
        for stream in self._streams.values():
            try:
                stream.file.flush()
                os.fsync(stream.file.fileno())
            except (OSError, ValueError) as exc:  # ValueError: the file is already closed
                raise DatasetError(
                    f"cannot write {stream.paths.motion_tsv}: {_reason(exc)}",
                    advice=_KEPT_ADVICE,
                ) from exc
        self._last_sync = time.monotonic()

    def close(self) -> None:
        """Finish the session: sidecars get duration, effective rate and status `complete`.

        The motion.tsv files are closed even if the last flush fails; then the session stays
        marked `recording` and is recovered at the next start.
        """
        if self._closed:
            return
        try:
            try:
                self.flush()
            except BaseException:
                self._close_files()  # its own failure, if any, would only repeat the flush's
                raise
            failure = self._close_files()
            if failure is not None:
                raise failure
            for stream in self._streams.values():
                if stream.samples:
                    finalize_stream(stream.paths, stream.stats, STATUS_COMPLETE)
                else:
                    for path in stream.paths.stream_files:
                        path.unlink(missing_ok=True)
            tidy_session(self.session_dir)
        finally:
            self._closed = True
            self._lock.release()

    def _close_files(self) -> DatasetError | None:
        """Close every motion.tsv, all of them even if one fails; returns the first failure."""
        failure = None
        for stream in self._streams.values():
            try:
                stream.file.close()
            except OSError as exc:
                error = DatasetError(
                    f"cannot write {stream.paths.motion_tsv}: {_reason(exc)}", advice=_KEPT_ADVICE
                )
                error.__cause__ = exc
                failure = failure or error
        return failure

    def _stream(self, tracksys: str) -> _Stream:
        self._check_open()
        return self._lookup(tracksys)

    def _lookup(self, tracksys: str) -> _Stream:
        try:
            return self._streams[tracksys]
        except KeyError:
            raise InvalidArgumentError(
                f"tracksys {tracksys!r} is not in this session; have {', '.join(self._streams)}"
            ) from None

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgumentError(f"the writer of {self.session_dir} is already closed")


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _refuse_existing(all_paths: Iterable[StreamPaths]) -> None:
    for paths in all_paths:
        for path in (*paths.stream_files, paths.events_tsv):
            if path.exists():
                raise DatasetError(
                    f"{path} already exists; a session is never overwritten",
                    advice="Start the new session at a different second, or choose another task.",
                )


def _open_stream(spec: StreamSpec, paths: StreamPaths, task: str, start_utc: datetime) -> _Stream:
    """Write a stream's sidecars (status `recording` first), then create its motion.tsv."""
    rotations = dict(spec.sensor_to_segment)
    write_json_atomic(paths.balancelab_json, _own_json(spec, start_utc, rotations))
    write_text_atomic(paths.channels_tsv, _channels_tsv(spec))
    write_json_atomic(paths.motion_json, _motion_json(spec, task))
    try:
        file = open(paths.motion_tsv, "xb")  # noqa: SIM115 - kept open until close()
    except OSError as exc:
        raise DatasetError(f"cannot create {paths.motion_tsv}: {exc.strerror or exc}") from exc
    fsync_dir(paths.motion_tsv.parent)
    conversions = (SECONDS, *(written_conversion(c.type, c.component) for c in spec.channels))
    return _Stream(spec, paths, conversions, file, start_utc, rotations)


def _own_json(
    spec: StreamSpec,
    start_utc: datetime,
    sensor_to_segment: Mapping[str, Matrix3],
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """`_balancelab.json` while recording; `finalize_stream` later adds counts and status."""
    return {
        "format_version": FORMAT_VERSION,
        "status": STATUS_RECORDING,
        "software_version": SOFTWARE_VERSION,
        "start_utc": start_utc.isoformat(),
        "sensor_to_segment": {p: [list(r) for r in m] for p, m in sensor_to_segment.items()},
        "calibration": None if calibration is None else asdict(calibration),
        "lost_samples": 0,
        "device": asdict(spec.device),
    }


def _channels_tsv(spec: StreamSpec) -> str:
    """channels.tsv: `time` first, then one row per channel with its on-disk unit."""
    fs = repr(float(spec.nominal_fs_hz))
    rows = [
        "\t".join(CHANNELS_COLUMNS),
        "\t".join((TIME_CHANNEL, NA, "LATENCY", NA, "s", fs, "good")),
    ]
    for c in spec.channels:
        unit = written_conversion(c.type, c.component).disk_unit
        rows.append("\t".join((c.name, c.component, c.type, c.tracked_point, unit, fs, "good")))
    return "\n".join(rows) + "\n"


def _motion_json(spec: StreamSpec, task: str) -> dict[str, Any]:
    """motion.json: BIDS keys only (duration and effective rate are added on close)."""
    counts = Counter(c.type.value for c in spec.channels)
    device = {
        "Manufacturer": spec.device.manufacturer,
        "ManufacturersModelName": spec.device.model,
        "DeviceSerialNumber": spec.device.serial,
    }
    return {
        "TaskName": task,
        "SamplingFrequency": float(spec.nominal_fs_hz),
        "TrackingSystemName": spec.tracksys,
        **{key: value for key, value in device.items() if value},
        "SoftwareVersions": SOFTWARE_VERSION,
        "MissingValues": NA,
        "TrackedPointsCount": len({c.tracked_point for c in spec.channels}),
        "MotionChannelCount": len(spec.channels) + 1,
        "LATENCYChannelCount": 1,
        **{f"{kind}ChannelCount": n for kind, n in sorted(counts.items())},
    }


def _checked_batch(
    stream: _Stream, time_s: ArrayLike, values: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """The batch as float arrays, or InvalidArgumentError naming what is wrong."""
    times = np.asarray(time_s, dtype=np.float64).reshape(-1)
    data = np.asarray(values, dtype=np.float64)
    width = len(stream.spec.channels)
    if data.ndim == 1 and times.size == 1:
        data = data.reshape(1, -1)
    name = stream.spec.tracksys
    if data.shape != (times.size, width):
        raise InvalidArgumentError(
            f"values for {name!r} have shape {data.shape}, expected ({times.size}, {width})"
        )
    if not np.all(np.isfinite(times)) or np.any(np.isinf(data)):
        raise InvalidArgumentError(f"time_s must be finite and values finite or NaN ({name!r})")
    steps = np.diff(np.concatenate(([stream.last_s], times)))
    if not np.all(steps > 0):
        raise InvalidArgumentError(
            f"time_s of {name!r} must increase strictly (last written: {stream.last_s} s)"
        )
    return times, data


def _format_row(time_s: float, row: list[float], conversions: Sequence[UnitConversion]) -> str:
    cells = [format_cell(time_s, conversions[0])]
    cells += [format_cell(v, conv) for v, conv in zip(row, conversions[1:], strict=True)]
    return "\t".join(cells) + "\n"
