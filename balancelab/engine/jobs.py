"""Whole-session jobs: simulate into a dataset, import foreign files."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from balancelab.errors import BalancelabError, DatasetError, FormatError, InvalidArgumentError
from balancelab.formats.bids import StreamPaths, write_json_atomic
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import (
    DESCRIPTION,
    Participant,
    RecoveryReport,
    StagedWrite,
    open_dataset,
    refuse_outside_links,
)
from balancelab.formats.importers import (
    ColumnMap,
    ImportKind,
    TableLayout,
    import_file,
    importable_files,
)
from balancelab.model import UNKNOWN_START_UTC, Recording, Session, Trial, session_label
from balancelab.sim import Truth, simulate_session

TRUTH_FOLDER = Path("derivatives") / "simulation"


@dataclass(frozen=True)
class SimulationResult:
    """Where a simulated session and its ground truth were written."""

    session_dir: Path
    truth_json: Path
    session: Session
    truth: Truth


def simulate_to_dataset(
    dataset_root: Path,
    scenario: str,
    *,
    athlete: str = "sim01",
    seed: int = 0,
    start_utc: datetime | None = None,
) -> SimulationResult:
    """Simulate a built-in scenario and write the session plus its ground-truth JSON.

    The truth goes under `derivatives/simulation/`, outside the raw data, as BIDS asks. Both
    enter the dataset together, or neither does; a link out of the dataset on their way is
    refused before simulating.
    """
    start = start_utc or datetime.now(UTC).replace(microsecond=0)
    participant = Participant(athlete)
    with StagedWrite.begin(dataset_root) as staged:
        for folder in (Path(f"sub-{athlete}"), TRUTH_FOLDER / f"sub-{athlete}"):
            refuse_outside_links(staged.root, staged.root / folder)
        session, truth = simulate_session(
            scenario, seed=seed, athlete_label=athlete, start_utc=start
        )
        session_dir = write_session(staged.root, session, participant=participant, staged=staged)
        truth_json = staged.final_path(write_truth(staged.folder, session, truth))
    return SimulationResult(session_dir, truth_json, session, truth)


def write_truth(
    dataset_root: Path, session: Session, truth: Truth, *, series_fs_hz: float = 10.0
) -> Path:
    """Write a simulated session's ground truth under `derivatives/simulation/`; returns the file.

    The truth is derived data, so BIDS keeps it out of the raw folders. Series are decimated to
    about `series_fs_hz` (Hz). A link out of the dataset on the way is refused (DatasetError).
    """
    label = f"sub-{session.athlete}_ses-{session.session}"
    root = Path(dataset_root).resolve()
    truth_dir = root / TRUTH_FOLDER / f"sub-{session.athlete}" / f"ses-{session.session}"
    refuse_outside_links(root, truth_dir)
    try:
        truth_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {truth_dir}: {exc.strerror or exc}") from exc
    truth_json = truth_dir / f"{label}_truth.json"
    write_json_atomic(truth_json, truth.to_json_dict(series_fs_hz=series_fs_hz))
    return truth_json


class StartFrom(StrEnum):
    """Where an imported session's start time came from."""

    GIVEN = "the time given"
    FILE_CLOCK = "the file's own clock"
    MODIFIED = "the file's modification time, as the file has no clock"


@dataclass(frozen=True)
class ImportOptions:
    """How foreign files become sessions: whose, which task, when, and how to read them.

    `missing_trials_advice`, when set, refuses a file that yields no trials (nothing for
    `analyze` to measure) with that advice.
    """

    athlete: str
    task: str = "imported"
    start_utc: datetime | None = None
    whole_file_trial: Trial | None = None
    kind: ImportKind | None = None
    column_map: ColumnMap | None = None
    layout: TableLayout = field(default_factory=TableLayout)
    tracked_point: str | None = None
    per_foot: bool = False
    missing_trials_advice: str | None = None


@dataclass(frozen=True)
class FileImport:
    """What became of one file of a folder import: its session, or why it was refused."""

    source: Path
    session_dir: Path | None = None
    start_from: StartFrom | None = None
    error: BalancelabError | None = None


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
    staged: StagedWrite | None = None,
) -> Path:
    """Import a foreign file as one session of `athlete`; returns the session folder.

    The start time is, in order: `start_utc`, the file's own clock, the file's modification time.
    `whole_file_trial`, if given, becomes the session's one trial, spanning the whole recording
    (its own onset and duration are replaced).
    """
    options = ImportOptions(
        athlete,
        task,
        start_utc,
        whole_file_trial,
        kind,
        column_map,
        tracked_point=tracked_point,
        per_foot=per_foot,
    )
    session_dir, _ = import_one(source, dataset_root, options, staged=staged)
    return session_dir


def import_one(
    source: Path,
    dataset_root: Path,
    options: ImportOptions,
    taken: set[str] | None = None,
    *,
    staged: StagedWrite | None = None,
) -> tuple[Path, StartFrom]:
    """Import one file or export as a session; errors are raised, nothing half-written (an
    interruption, Ctrl-C or a kill, leaves nothing either: see `write_session`).

    A start that is not the file's own clock moves on by whole seconds past the session
    labels in `taken` (those written earlier in the same folder import); a session already
    on disk is refused, naming --start.
    """
    recordings = import_file(
        source,
        athlete=options.athlete,
        kind=options.kind,
        column_map=options.column_map,
        layout=options.layout,
        tracked_point=options.tracked_point,
        per_foot=options.per_foot,
    )
    start, start_from = _start(source, recordings, options.start_utc)
    trial = options.whole_file_trial
    trials = () if trial is None else (spanning(trial, recordings[0]),)
    if not trials and options.missing_trials_advice is not None:
        raise InvalidArgumentError(
            f"{source} holds no trials, so `analyze` would have nothing to measure",
            advice=options.missing_trials_advice,
        )
    while start_from is not StartFrom.FILE_CLOCK and session_label(start) in (taken or ()):
        start += timedelta(seconds=1)
    session = Session(
        tuple(replace(r, start_utc=start, task=options.task, trials=trials) for r in recordings)
    )
    _refuse_existing(source, dataset_root, session, start_from)
    participant = Participant(options.athlete)
    session_dir = write_session(dataset_root, session, participant=participant, staged=staged)
    if taken is not None:
        taken.add(session.session)
    return session_dir, start_from


def import_folder(
    folder: Path,
    dataset_root: Path,
    options: ImportOptions,
    on_file: Callable[[int, int, FileImport], None],
) -> list[FileImport]:
    """Import each table or zip of a folder as its own session; a refused file does not stop
    the rest. `on_file(done, total, result)` is called after each file."""
    files = importable_files(folder)
    if not files:
        raise FormatError(
            "holds no file to import (.csv, .txt, .tsv or .zip)",
            path=str(folder),
            advice="Give the folder that holds the exported files, or one file.",
        )
    taken: set[str] = set()
    results: list[FileImport] = []
    for done, source in enumerate(files, start=1):
        try:
            result = FileImport(source, *import_one(source, dataset_root, options, taken))
        except BalancelabError as error:
            result = FileImport(source, error=error)
        results.append(result)
        on_file(done, len(files), result)
    return results


def _start(
    source: Path, recordings: Sequence[Recording], given: datetime | None
) -> tuple[datetime, StartFrom]:
    if given is not None:
        return given, StartFrom.GIVEN
    own = _own_start(recordings)
    if own is not None:
        return own, StartFrom.FILE_CLOCK
    return _modification_time(source), StartFrom.MODIFIED


def _refuse_existing(source: Path, root: Path, session: Session, start_from: StartFrom) -> None:
    """A session of the same athlete, second and task is never overwritten: say how to go on."""
    clash = _clash(root, session)
    if clash is None:
        return
    start = session.start_utc
    while _clash(root, replace_start(session, start)) is not None:
        start += timedelta(seconds=1)
    free = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    raise DatasetError(
        f"{source} was not imported: {clash} already exists (session time from {start_from})",
        advice=f"If the file was imported before, there is nothing to do. Else give it its own"
        f" session time with --start (the first free second is --start {free}) or another"
        " --task.",
    )


def replace_start(session: Session, start_utc: datetime) -> Session:
    """`session` with every recording starting at `start_utc`."""
    return Session(tuple(replace(r, start_utc=start_utc) for r in session.recordings))


def _clash(root: Path, session: Session) -> Path | None:
    """The first file of `session` that already exists in the dataset at `root`."""
    label = f"sub-{session.athlete}"
    motion_dir = root / label / f"ses-{session.session}" / "motion"
    for recording in session.recordings:
        paths = StreamPaths.of(
            motion_dir, session.athlete, session.session, session.task, recording.tracksys
        )
        for path in (*paths.stream_files, paths.events_tsv):
            if path.exists():
                return path
    return None


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
