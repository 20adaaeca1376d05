"""Whole-session jobs: simulate into a dataset, import foreign files, write a session to disk."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from balancelab.errors import DatasetError, FormatError
from balancelab.formats.bids import write_json_atomic
from balancelab.formats.bids_writer import StreamSpec, open_session
from balancelab.formats.dataset import DESCRIPTION, Participant, RecoveryReport, open_dataset
from balancelab.formats.importers import ColumnMap, ImportKind, import_file
from balancelab.model import UNKNOWN_START_UTC, Recording, Session, Trial
from balancelab.sim import Truth, simulate_session

WRITE_BATCH_SAMPLES = 2000
TRUTH_FOLDER = Path("derivatives") / "simulation"


@dataclass(frozen=True)
class SimulationResult:
    """Where a simulated session and its ground truth were written."""

    session_dir: Path
    truth_json: Path
    session: Session
    truth: Truth


def write_session(dataset_root: Path, session: Session, *, participant: Participant) -> Path:
    """Write an in-memory session through the streaming writer; returns the session folder."""
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
        dataset_root,
        athlete=participant,
        start_utc=session.start_utc,
        task=session.task,
        streams=streams,
    ) as writer:
        for recording in session.recordings:
            for start in range(0, recording.time_s.size, WRITE_BATCH_SAMPLES):
                stop = start + WRITE_BATCH_SAMPLES
                writer.append(
                    recording.tracksys, recording.time_s[start:stop], recording.values[start:stop]
                )
        for trial in session.trials:
            writer.add_trial(trial)
        return writer.session_dir


def simulate_to_dataset(
    dataset_root: Path,
    scenario: str,
    *,
    athlete: str = "sim01",
    seed: int = 0,
    start_utc: datetime | None = None,
) -> SimulationResult:
    """Simulate a built-in scenario and write the session plus its ground-truth JSON.

    The truth goes under `derivatives/simulation/`, outside the raw data, as BIDS asks.
    """
    start = start_utc or datetime.now(UTC).replace(microsecond=0)
    session, truth = simulate_session(scenario, seed=seed, athlete_label=athlete, start_utc=start)
    session_dir = write_session(dataset_root, session, participant=Participant(athlete))
    truth_json = write_truth(dataset_root, session, truth)
    return SimulationResult(session_dir, truth_json, session, truth)


def write_truth(
    dataset_root: Path, session: Session, truth: Truth, *, series_fs_hz: float = 10.0
) -> Path:
    """Write a simulated session's ground truth under `derivatives/simulation/`; returns the file.

    The truth is derived data, so BIDS keeps it out of the raw folders. Series are decimated to
    about `series_fs_hz` (Hz).
    """
    label = f"sub-{session.athlete}_ses-{session.session}"
    truth_dir = (
        Path(dataset_root) / TRUTH_FOLDER / f"sub-{session.athlete}" / f"ses-{session.session}"
    )
    try:
        truth_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {truth_dir}: {exc.strerror or exc}") from exc
    truth_json = truth_dir / f"{label}_truth.json"
    write_json_atomic(truth_json, truth.to_json_dict(series_fs_hz=series_fs_hz))
    return truth_json


def import_to_dataset(
    source: Path,
    dataset_root: Path,
    *,
    athlete: str,
    task: str = "imported",
    start_utc: datetime | None = None,
    whole_file_trial: Trial | None = None,
    kind: ImportKind | None = None,
    column_map: ColumnMap | None = None,
    tracked_point: str | None = None,
    per_foot: bool = False,
) -> Path:
    """Import a foreign file as one session of `athlete`; returns the session folder.

    The start time is, in order: `start_utc`, the file's own clock, the file's modification time.
    `whole_file_trial`, if given, becomes the session's one trial, spanning the whole recording
    (its own onset and duration are replaced).
    """
    recordings = import_file(
        source,
        athlete=athlete,
        kind=kind,
        column_map=column_map,
        tracked_point=tracked_point,
        per_foot=per_foot,
    )
    start = start_utc or _own_start(recordings) or _modification_time(source)
    trials = () if whole_file_trial is None else (spanning(whole_file_trial, recordings[0]),)
    session = Session(
        tuple(replace(r, start_utc=start, task=task, trials=trials) for r in recordings)
    )
    return write_session(dataset_root, session, participant=Participant(athlete))


def spanning(trial: Trial, recording: Recording) -> Trial:
    """`trial` with its onset and duration replaced by the recording's whole time span (s)."""
    time_s = recording.time_s
    span_s = float(time_s[-1] - time_s[0]) if time_s.size else 0.0
    onset_s = float(time_s[0]) if time_s.size else 0.0
    return replace(trial, onset_s=onset_s, duration_s=span_s)


def open_or_create(dataset_root: Path) -> list[RecoveryReport]:
    """Recover the interrupted sessions of an existing dataset; returns what recovery did.

    A folder that is not a dataset yet is left alone: the first recording creates it.
    """
    if not (dataset_root / DESCRIPTION).is_file():
        return []
    return list(open_dataset(dataset_root).recovered)


def _own_start(recordings: Sequence[Recording]) -> datetime | None:
    start = recordings[0].start_utc
    return None if start == UNKNOWN_START_UTC else start


def _modification_time(source: Path) -> datetime:
    try:
        mtime = os.stat(source).st_mtime
    except OSError as exc:
        raise FormatError(f"cannot read {source}: {exc.strerror or exc}", path=str(source)) from exc
    return datetime.fromtimestamp(int(mtime), UTC)
