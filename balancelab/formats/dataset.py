"""A Motion-BIDS dataset folder: top-level files, participants, crash recovery, session listing."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO

from balancelab import __version__
from balancelab.errors import BalancelabError, DatasetError, FormatError, InvalidArgumentError
from balancelab.formats.bids import (
    BIDS_VERSION,
    NA,
    STATUS_RECORDING,
    STATUS_RECOVERED,
    SessionLock,
    StreamPaths,
    StreamStats,
    events_json,
    events_tsv_text,
    finalize_stream,
    fsync_dir,
    is_temporary,
    read_bytes,
    read_json,
    write_json_atomic,
    write_text_atomic,
)
from balancelab.formats.bids_reader import (
    iter_motion_rows,
    read_channels,
    read_session,
    read_trials,
    read_tsv,
    session_motion_files,
    stream_paths_of,
)
from balancelab.model import Outcome, Session, Trial, check_label

DESCRIPTION = "dataset_description.json"
BIDSIGNORE_RULE = "**/*_balancelab.json"
DOMINANT_LEG_LEVELS = ("left", "right")
INJURED_SIDE_LEVELS = ("left", "right", "both", "none")
PARTICIPANT_COLUMNS = ("participant_id", "dominant_leg", "injured_side")
# Updates of the dataset's shared files take this lock file (created exclusively, which works
# on every OS). It is held for milliseconds; one older than LOCK_STALE_S was left by a killed
# process and is broken, well before a waiting writer gives up (LOCK_WAIT_S).
LOCK_NAME = ".balancelab.lock"
LOCK_WAIT_S = 30.0
LOCK_STALE_S = 10.0
LOCK_POLL_S = 0.01
# An import, a simulation or the examples are written under a hidden folder of the dataset
# (.staged-*.partial) and moved into place when whole; WHOLE_MARKER in it says they are.
STAGING_PREFIX = ".staged-"
STAGING_SUFFIX = ".partial"
WHOLE_MARKER = "whole.json"
OWNER_FILE = ".owner"
README_TEXT = """\
Balance recordings made with balancelab.

Motion-BIDS: one folder per athlete (a pseudonym, never a name) and session; each session holds
one motion stream per sensor (tracksys) and an events file listing the trials. Values are in the
units stated in each *_channels.tsv; missing samples (packet loss) are n/a. balancelab's own
metadata (sensor-to-segment rotation, calibration, status) sits in *_balancelab.json files.
"""


@dataclass(frozen=True)
class Participant:
    """A participants.tsv row: a pseudonymous label and non-identifying attributes (or n/a)."""

    label: str
    dominant_leg: str = NA
    injured_side: str = NA

    def __post_init__(self) -> None:
        check_label("athlete", self.label)
        for name, value, levels in (
            ("dominant_leg", self.dominant_leg, DOMINANT_LEG_LEVELS),
            ("injured_side", self.injured_side, INJURED_SIDE_LEVELS),
        ):
            if value not in (*levels, NA):
                raise InvalidArgumentError(
                    f"{name} {value!r} is not one of {', '.join((*levels, NA))}"
                )


@dataclass(frozen=True)
class RecoveryReport:
    """What recovery did to one interrupted stream, to tell the user.

    Recovery only ever drops an unfinished (unterminated) last line. If it finds anything else
    wrong (`problem` is set), it changes nothing: the stream stays marked `recording`, is skipped
    when reading the dataset, and is retried at the next start; `advice` says what to check.
    """

    motion_tsv: Path
    samples_kept: int
    lines_dropped: int
    bytes_dropped: int
    time_span_s: tuple[float, float] | None
    removed: bool
    problem: str | None = None
    advice: str | None = None
    note: str | None = None
    """Set for a staged write (`motion_tsv` is then its folder): what became of it."""
    trials_extended: tuple[Trial, ...] = ()
    """Trials under way when the recording was interrupted (written `aborted`, 0 s long, as
    they began), now lasting up to the last sample kept; on the report of the stream that
    holds that sample."""

    @property
    def changed(self) -> bool:
        """False when recovery left every file exactly as it found it (a `problem`)."""
        return self.problem is None

    def describe(self) -> str:
        """What happened, for the user (one or two sentences)."""
        name = self.motion_tsv.name
        if self.note is not None:
            return f"{name}: {self.note}" + (f" {self.advice}" if self.advice else "")
        if self.problem is not None:
            text = (
                f"{name}: interrupted recording NOT recovered and nothing was changed (no byte"
                " truncated or deleted; it stays marked 'recording' and is skipped):"
                f" {self.problem}"
            )
            return text + (f". {self.advice}" if self.advice else ".")
        if self.removed:
            held = (
                f"held only {self.bytes_dropped} bytes of an unfinished first line"
                if self.bytes_dropped
                else "was empty or missing"
            )
            return (
                f"{name}: interrupted before any complete sample (motion.tsv {held});"
                " its files were removed."
            )
        start, stop = self.time_span_s or (math.nan, math.nan)
        dropped = (
            f"dropped the unfinished last line ({self.bytes_dropped} bytes)"
            if self.bytes_dropped
            else "nothing dropped"
        )
        text = (
            f"{name}: interrupted recording recovered; kept {self.samples_kept}"
            f" samples ({start:.3f}-{stop:.3f} s), {dropped}."
        )
        for trial in self.trials_extended:
            text += (
                f" The trial under way ({trial.trial_type} {trial.side} from"
                f" {trial.onset_s:.3f} s) is kept as aborted, up to {trial.end_s:.3f} s, the"
                " last sample kept."
            )
        return text


@contextlib.contextmanager
def dataset_lock(root: Path) -> Iterator[None]:
    """Hold the dataset's lock while its shared files (participants, sidecars) are updated.

    Several processes may record into one dataset at once; each read-modify-write of a shared
    file happens under this lock, so no update is lost.
    """
    path = root / LOCK_NAME
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > LOCK_STALE_S:
                    path.unlink()  # its holder was killed
                    continue
            if time.monotonic() > deadline:
                raise DatasetError(
                    f"{root} is locked by another balancelab process ({path} exists)",
                    advice="Wait for the other recording or import to finish; if none is"
                    f" running, delete {path}.",
                ) from None
            time.sleep(LOCK_POLL_S)
        except OSError as exc:
            raise DatasetError(f"cannot lock {root}: {exc.strerror or exc}") from exc
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def ensure_dataset(root: Path | str) -> Path:
    """Create a dataset at `root` if new or empty, else check it; returns the resolved root.

    Several processes may do this at once: the creation happens under the dataset's lock.
    """
    root = Path(root).resolve()
    if (root / DESCRIPTION).exists():
        check_dataset(root)
        if BIDSIGNORE_RULE not in _bidsignore_text(root).splitlines():
            with dataset_lock(root):
                _ensure_bidsignore(root)
        return root
    _refuse_foreign(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {root}: {exc.strerror or exc}") from exc
    with dataset_lock(root):
        if (root / DESCRIPTION).exists():  # another process created it meanwhile
            check_dataset(root)
        else:
            _refuse_foreign(root, lock_held=True)
            _create_dataset(root)
        _ensure_bidsignore(root)
    return root


def _refuse_foreign(root: Path, *, lock_held: bool = False) -> None:
    """DatasetError if `root` is a file, or a folder with other content and no dataset being
    created in it (a creation holds the lock until its description is written)."""
    if not root.exists():
        return
    others = [] if not root.is_dir() else [p for p in root.iterdir() if p.name != LOCK_NAME]
    creating = not lock_held and (root / LOCK_NAME).exists()
    if not root.is_dir() or (others and not creating):
        raise DatasetError(
            f"{root} is not empty and has no {DESCRIPTION}: not a balancelab dataset",
            advice="Choose an empty folder or an existing balancelab dataset.",
        )


def _create_dataset(root: Path) -> None:
    description = {
        "Name": "balancelab recordings",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "balancelab", "Version": __version__}],
    }
    write_json_atomic(root / DESCRIPTION, description)
    write_text_atomic(root / "README", README_TEXT)
    write_json_atomic(root / "participants.json", _participants_json())
    write_text_atomic(root / "participants.tsv", "\t".join(PARTICIPANT_COLUMNS) + "\n")


def _ensure_bidsignore(root: Path) -> None:
    text = _bidsignore_text(root)
    if BIDSIGNORE_RULE not in text.splitlines():
        separator = "\n" if text and not text.endswith("\n") else ""
        write_text_atomic(root / ".bidsignore", f"{text}{separator}{BIDSIGNORE_RULE}\n")


def _bidsignore_text(root: Path) -> str:
    """The dataset's .bidsignore ('' if it has none); unreadable text is a DatasetError."""
    path = root / ".bidsignore"
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        problem = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise DatasetError(
            f"cannot read {path}: {problem or exc}",
            advice=(
                "The .bidsignore file must be readable UTF-8 text, one pattern per line. Fix it"
                f" in a text editor (it needs the line {BIDSIGNORE_RULE}), or delete it and"
                " balancelab writes a new one."
            ),
        ) from exc
    return text


def _participants_json() -> dict[str, dict[str, object]]:
    return {
        "participant_id": {"Description": "Pseudonymous athlete label (never a name)."},
        "dominant_leg": {
            "Description": "The leg the athlete prefers to kick or hop with.",
            "Levels": {"left": "left leg", "right": "right leg"},
        },
        "injured_side": {
            "Description": "Side of a current or past lower-limb injury.",
            "Levels": {"left": "left", "right": "right", "both": "both", "none": "no injury"},
        },
    }


def check_dataset(root: Path | str) -> Path:
    """`root` resolved, if it is a BIDS dataset folder; DatasetError if it is missing or foreign."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(f"{root} does not exist or is not a folder")
    if not (root / DESCRIPTION).is_file():
        raise DatasetError(
            f"{root} has no {DESCRIPTION}: not a BIDS dataset",
            advice="Pass the dataset's top folder (the one holding dataset_description.json).",
        )
    description = read_json(root / DESCRIPTION)
    if "BIDSVersion" not in description:
        raise FormatError(
            "no BIDSVersion: not a BIDS dataset description", path=str(root / DESCRIPTION)
        )
    return root


def add_participant(root: Path, participant: Participant) -> None:
    """Add the athlete's row to participants.tsv, or fill its n/a cells; never duplicate it."""
    with dataset_lock(root):
        _add_participant(root, participant)


def _add_participant(root: Path, participant: Participant) -> None:
    path = root / "participants.tsv"
    rows = [row for _, row in read_tsv(path, ("participant_id",))] if path.exists() else []
    header = list(rows[0]) if rows else list(PARTICIPANT_COLUMNS)
    header += [c for c in PARTICIPANT_COLUMNS if c not in header]
    ours = {
        "participant_id": f"sub-{participant.label}",
        "dominant_leg": participant.dominant_leg,
        "injured_side": participant.injured_side,
    }
    for row in rows:
        if row["participant_id"] == ours["participant_id"]:
            row.update({k: v for k, v in ours.items() if v != NA})
            break
    else:
        rows.append(ours)
    lines = ["\t".join(header), *("\t".join(row.get(c, NA) for c in header) for row in rows)]
    write_text_atomic(path, "\n".join(lines) + "\n")
    _merge_participants_json(root / "participants.json")


def _merge_participants_json(path: Path) -> None:
    data = read_json(path) if path.exists() else {}
    missing = {k: v for k, v in _participants_json().items() if k not in data}
    if missing:
        write_json_atomic(path, {**data, **missing})


def outside_link(root: Path, path: Path) -> Path | None:
    """The link by which `path` (existing or not) leads out of the dataset at `root` (resolved),
    or None if it stays inside. Writing, truncating or renaming there would change files
    outside the dataset."""
    if path.resolve().is_relative_to(root):
        return None
    step = root
    for part in path.relative_to(root).parts:
        step = step / part
        if step.is_symlink():
            return step
    return path


def refuse_outside_links(root: Path, path: Path) -> None:
    """DatasetError if writing `path` would follow a link out of the dataset at `root`."""
    link = outside_link(root, path)
    if link is not None:
        raise DatasetError(
            f"{link} is a link to {link.resolve()}, outside the dataset {root}: balancelab"
            " never writes through a link out of the dataset",
            advice=f"Replace the link {link} by a real folder or file inside the dataset (move"
            " what it points to there), or give another --data folder.",
        )


class _Owner:
    """Shows that the writer of a staged folder is alive: a lock on the folder (POSIX), or on
    Windows an open file in it, which no other process can delete."""

    def __init__(self, lock: SessionLock | None, handle: IO[bytes] | None) -> None:
        self._lock = lock
        self._handle = handle

    @classmethod
    def take(cls, folder: Path) -> _Owner | None:
        """Ownership of `folder`, or None while another (live) process owns it or it is gone."""
        try:
            if sys.platform == "win32":
                path = folder / OWNER_FILE
                path.unlink(missing_ok=True)  # PermissionError: held open by its live writer
                return cls(None, open(path, "xb"))  # held until release()
            lock = SessionLock.try_acquire(folder)
        except OSError:
            return None
        return None if lock is None else cls(lock, None)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
        if self._handle is not None:
            self._handle.close()


class StagedWrite:
    """Sessions and derived files written under a hidden folder of the dataset, then moved into
    place together: an import, a simulation or the examples are in the dataset whole or not at
    all.

    Use as a context manager: it commits when the block ends normally and discards everything
    on an exception (Ctrl-C included). A process killed before the commit leaves only the
    hidden folder, which the next opening of the dataset removes. `commit` first marks the
    folder whole; from then on the move is finished even after a crash, by the next opening.
    """

    def __init__(self, root: Path, folder: Path, owner: _Owner) -> None:
        self.root = root
        self.folder = folder
        self._owner = owner
        self._participants: dict[str, Participant] = {}
        self._marked = False
        self._done = False

    @classmethod
    def begin(cls, dataset_root: Path | str) -> StagedWrite:
        """Create (or check) the dataset and a new hidden folder in it to write into."""
        root = ensure_dataset(dataset_root)
        with dataset_lock(root):  # recovery holds it too: it never sees a folder without owner
            try:
                folder = Path(
                    tempfile.mkdtemp(prefix=STAGING_PREFIX, suffix=STAGING_SUFFIX, dir=root)
                )
            except OSError as exc:
                raise DatasetError(f"cannot write into {root}: {exc.strerror or exc}") from exc
            owner = _Owner.take(folder)
        if owner is None:  # a new folder has no other owner; the folder was removed meanwhile
            _remove_tree(folder)
            raise DatasetError(f"cannot lock {folder}")
        return cls(root, folder, owner)

    def __enter__(self) -> StagedWrite:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        elif not self._done:
            self._abandon()

    def add_participant(self, participant: Participant) -> None:
        """Add the athlete to participants.tsv when (and only if) the write is committed."""
        known = self._participants.get(participant.label)
        if known is not None:
            participant = Participant(
                participant.label,
                participant.dominant_leg if participant.dominant_leg != NA else known.dominant_leg,
                participant.injured_side if participant.injured_side != NA else known.injured_side,
            )
        self._participants[participant.label] = participant

    def final_path(self, staged_path: Path) -> Path:
        """Where a path written under the staged folder is once committed."""
        return self.root / staged_path.relative_to(self.folder)

    def commit(self) -> None:
        """Move everything into the dataset and add the participants; DatasetError (and
        everything discarded) if a path is taken or leads out of the dataset through a link."""
        if self._done:
            return
        try:
            with dataset_lock(self.root):
                _move_in(self.folder, self.root, self.root, check_only=True)
                marker = {"participants": [asdict(p) for p in self._participants.values()]}
                write_json_atomic(self.folder / WHOLE_MARKER, marker)
                self._marked = True
                _finish_move(self.folder, self.root)
        except BaseException:
            self._abandon()
            raise
        self._close()

    def _abandon(self) -> None:
        """After an error: discard a write not yet marked whole; finish one that is."""
        if self._marked:
            try:
                with dataset_lock(self.root):
                    _finish_move(self.folder, self.root)
            except BalancelabError:
                self._done = True
                self._owner.release()  # the next opening finishes the move
                return
        self._close()

    def _close(self) -> None:
        self._done = True
        self._owner.release()
        _remove_tree(self.folder)


def _move_in(source: Path, target: Path, root: Path, *, check_only: bool = False) -> None:
    """Move the tree `source` into `target`, each folder not yet in `target` at once, whole.
    DatasetError, before anything is moved if `check_only` runs first, for a file that exists
    in `target` or a path that leads out of the dataset through a link."""
    for entry in sorted(source.iterdir()):
        if target == root and entry.name in (WHOLE_MARKER, OWNER_FILE):
            continue
        destination = target / entry.name
        refuse_outside_links(root, destination)
        if os.path.lexists(destination):
            if not (entry.is_dir() and destination.is_dir()):
                raise DatasetError(
                    f"{destination} already exists; a session is never overwritten",
                    advice="If the same file was imported before, there is nothing to do; else"
                    " give the session another start time (--start) or another --task.",
                )
            _move_in(entry, destination, root, check_only=check_only)
        elif not check_only:
            try:
                os.replace(entry, destination)
                fsync_dir(target)
            except OSError as exc:
                raise DatasetError(
                    f"cannot move {destination} into place: {exc.strerror or exc}"
                ) from exc


def _finish_move(folder: Path, root: Path) -> None:
    """Move a staged folder marked whole into the dataset and add its participants (the
    dataset lock held); repeating it after a crash finishes what is left."""
    marker = read_json(folder / WHOLE_MARKER)
    _move_in(folder, root, root)
    for row in marker.get("participants", []):
        _add_participant(root, Participant(**row))
    (folder / WHOLE_MARKER).unlink()


def _remove_tree(folder: Path) -> None:
    """Remove a staged folder; what cannot be removed now goes at the next opening."""
    shutil.rmtree(folder, ignore_errors=True)


def _recover_staged(root: Path) -> list[RecoveryReport]:
    """Remove staged folders whose writer died before they were whole; finish moving those
    marked whole. Folders whose writer is alive are left alone."""
    reports = []
    for folder in sorted(root.glob(f"{STAGING_PREFIX}*{STAGING_SUFFIX}")):
        if folder.is_symlink() or not folder.is_dir():
            continue
        with dataset_lock(root):
            owner = _Owner.take(folder)
            if owner is None:
                continue
            held = (
                ", ".join(str(d.relative_to(folder)) for d in sorted(folder.glob("sub-*/ses-*")))
                or "no session yet"
            )
            if not (folder / WHOLE_MARKER).exists():
                note = (
                    f"an import or simulation interrupted before it was whole ({held}) was"
                    " removed; none of it had entered the dataset. Run it again."
                )
            else:
                try:
                    _finish_move(folder, root)
                except BalancelabError as exc:
                    owner.release()
                    reports.append(_staged_problem(folder, held, exc))
                    continue
                note = (
                    f"an import or simulation that was whole ({held}) had been interrupted"
                    " while moving into the dataset; the move was finished."
                )
        owner.release()
        _remove_tree(folder)
        reports.append(RecoveryReport(folder, 0, 0, 0, None, removed=True, note=note))
    return reports


def _staged_problem(folder: Path, held: str, exc: BalancelabError) -> RecoveryReport:
    return RecoveryReport(
        folder,
        0,
        0,
        0,
        None,
        removed=False,
        problem=exc.message,
        advice=f"Resolve it (e.g. move the file named aside); balancelab finishes the move at"
        f" the next start. To give up on it, delete the folder {folder}.",
        note=f"a whole import or simulation ({held}) could not be moved into the dataset:"
        f" {exc.message}; nothing was changed.",
    )


def list_sessions(root: Path | str) -> list[Path]:
    """Session folders (`sub-*/ses-*` holding motion streams) of a dataset, sorted.

    Raises:
        DatasetError: `root` is missing, not a folder, or has no dataset_description.json.
        FormatError: its dataset_description.json cannot be read or names no BIDSVersion.
    """
    root = check_dataset(root)
    return [d for d in sorted(root.glob("sub-*/ses-*")) if d.is_dir() and session_motion_files(d)]


def recover_dataset(root: Path | str) -> list[RecoveryReport]:
    """Repair every interrupted (not live) session of a dataset; one report per stream.

    A stream that cannot be repaired is reported (its `problem`), not raised.

    Raises:
        DatasetError: `root` is missing, not a folder, or has no dataset_description.json.
        FormatError: its dataset_description.json cannot be read or names no BIDSVersion.
        DatasetError: also when the dataset stays locked by another process while an
            interrupted staged write (import, simulation) is cleaned up.
    """
    root = check_dataset(root)
    reports = _recover_staged(root)
    for session_dir in sorted(root.glob("sub-*/ses-*")):
        if _interrupted_streams(session_dir):
            reports += _recover_session(root, session_dir)
    return reports


def _interrupted_streams(session_dir: Path) -> list[StreamPaths]:
    """Streams marked `recording`, and those whose `_balancelab.json` cannot be read."""
    found = []
    for own in sorted((session_dir / "motion").glob("*_balancelab.json")):
        motion_tsv = own.with_name(own.name.replace("_balancelab.json", "_motion.tsv"))
        try:
            interrupted = read_json(own).get("status") == STATUS_RECORDING
        except FormatError:
            interrupted = True  # status unknown: recovery reports it and changes nothing
        if interrupted:
            found.append(stream_paths_of(motion_tsv))
    return found


def _recover_session(root: Path, session_dir: Path) -> list[RecoveryReport]:
    lock = SessionLock.try_acquire(session_dir)
    if lock is None:
        return []
    try:
        reports = [_recover_stream(root, paths) for paths in _interrupted_streams(session_dir)]
        if all(report.changed for report in reports):  # else leave the session exactly as it is
            reports = _extend_trials_under_way(reports)
            tidy_session(session_dir)
    finally:
        lock.release()
    return reports


def _extend_trials_under_way(reports: list[RecoveryReport]) -> list[RecoveryReport]:
    """Trials written `aborted` with duration 0 (as a recorder writes a trial when it begins)
    that begin before the last kept sample now end at it, events.tsv rewritten atomically;
    the report of the stream holding that sample says so. An events.tsv that cannot be read
    is left as it is (reading the session names its fault)."""
    spans = [(r.time_span_s[1], n) for n, r in enumerate(reports) if r.time_span_s is not None]
    if not spans:
        return reports
    last_s, holder = max(spans)
    extended: list[Trial] = []
    for events_tsv in sorted({stream_paths_of(r.motion_tsv).events_tsv for r in reports}):
        try:
            trials = read_trials(events_tsv)
        except FormatError:
            continue
        kept = [
            replace(t, duration_s=last_s - t.onset_s) if _under_way(t, last_s) else t
            for t in trials
        ]
        if kept != list(trials):
            write_text_atomic(events_tsv, events_tsv_text(kept))
            extended += [k for k, t in zip(kept, trials, strict=True) if k != t]
    if extended:
        reports[holder] = replace(reports[holder], trials_extended=tuple(extended))
    return reports


def _under_way(trial: Trial, last_s: float) -> bool:
    return trial.outcome == Outcome.ABORTED and trial.duration_s == 0 and trial.onset_s < last_s


# The longest unterminated first line still taken for an unfinished first row (a row of even
# a hundred channels is a few kB); anything longer is not something our writer left behind.
_MAX_PARTIAL_ROW_BYTES = 64 * 1024


def _recover_stream(root: Path, paths: StreamPaths) -> RecoveryReport:
    """Drop an unfinished last line and finish the sidecars; change nothing if anything is off
    (a file that is a link out of the dataset included)."""
    for path in (*paths.stream_files, paths.events_tsv, paths.events_json):
        link = outside_link(root, path)
        if link is not None:
            return _link_report(paths, link)
    try:
        data = read_bytes(paths.motion_tsv) if paths.motion_tsv.exists() else b""
    except FormatError as exc:
        return _problem_report(paths, exc)
    complete = data[: data.rfind(b"\n") + 1]
    tail = data[len(complete) :]
    if not complete and b"\r" not in tail and len(tail) <= _MAX_PARTIAL_ROW_BYTES:
        return _remove_empty_stream(paths, len(tail))
    try:
        for sidecar in (paths.balancelab_json, paths.motion_json):
            read_json(sidecar)
        stats = _complete_rows(paths, data, complete)
    except FormatError as exc:
        return _problem_report(paths, exc)
    report = RecoveryReport(
        paths.motion_tsv,
        samples_kept=stats.samples,
        lines_dropped=1 if tail else 0,
        bytes_dropped=len(tail),
        time_span_s=(stats.first_s, stats.last_s),
        removed=False,
    )
    if tail:
        _truncate(paths.motion_tsv, len(complete))
    recovery = {
        "samples_kept": report.samples_kept,
        "lines_dropped": report.lines_dropped,
        "bytes_dropped": report.bytes_dropped,
    }
    finalize_stream(paths, stats, STATUS_RECOVERED, recovery)
    return report


def _complete_rows(paths: StreamPaths, data: bytes, complete: bytes) -> StreamStats:
    """Statistics of the newline-terminated lines; the first bad one raises FormatError."""
    if not complete:
        raise FormatError(
            f"no line feed in its {len(data)} bytes: these are not rows balancelab wrote",
            path=str(paths.motion_tsv),
            line=1,
        )
    table = read_channels(paths.channels_tsv)
    kept, first_s, last_s, lost = 0, math.nan, math.nan, 0
    for row in iter_motion_rows(complete, paths.motion_tsv, table):
        kept, last_s = kept + 1, row.values[0]
        first_s = row.values[0] if kept == 1 else first_s
        lost += all(math.isnan(v) for v in row.values[1:])
    return StreamStats(kept, first_s, last_s, lost)


def _problem_report(paths: StreamPaths, exc: FormatError) -> RecoveryReport:
    where = Path(exc.path).name if exc.path else paths.motion_tsv.name
    if exc.line is not None:
        where += f" line {exc.line}"
    advice = (
        f"Check {where} (open it in a text editor) and repair it, or restore the file from a"
        " backup; balancelab retries the recovery at every start. To give up on this recording,"
        f" move the folder {paths.motion_tsv.parents[1]} out of the dataset."
    )
    return RecoveryReport(
        paths.motion_tsv,
        samples_kept=0,
        lines_dropped=0,
        bytes_dropped=0,
        time_span_s=None,
        removed=False,
        problem=exc.message,
        advice=advice,
    )


def _link_report(paths: StreamPaths, link: Path) -> RecoveryReport:
    return RecoveryReport(
        paths.motion_tsv,
        samples_kept=0,
        lines_dropped=0,
        bytes_dropped=0,
        time_span_s=None,
        removed=False,
        problem=f"{link} is a link to {link.resolve()}, outside the dataset; balancelab never"
        " writes, truncates or removes anything through a link out of the dataset",
        advice=f"Replace the link {link} by a copy of the file it points to, and balancelab"
        " recovers the recording at the next start; or move the folder"
        f" {paths.motion_tsv.parents[1]} out of the dataset.",
    )


def _remove_empty_stream(paths: StreamPaths, partial_bytes: int) -> RecoveryReport:
    """A stream that holds no complete sample: remove its files (there is nothing to keep)."""
    for path in paths.stream_files:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot remove {path}: {exc.strerror or exc}") from exc
    return RecoveryReport(
        paths.motion_tsv,
        samples_kept=0,
        lines_dropped=1 if partial_bytes else 0,
        bytes_dropped=partial_bytes,
        time_span_s=None,
        removed=True,
    )


def _truncate(path: Path, size: int) -> None:
    try:
        with open(path, "r+b") as fh:
            fh.truncate(size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise DatasetError(f"cannot repair {path}: {exc.strerror or exc}") from exc


def tidy_session(session_dir: Path) -> None:
    """Remove stray temporary files; ensure events files; drop a session left empty."""
    motion_dir = session_dir / "motion"
    for path in motion_dir.glob(".*.tmp"):
        if is_temporary(path):
            path.unlink(missing_ok=True)
    files = session_motion_files(session_dir)
    if files:
        paths = stream_paths_of(files[0])
        if not paths.events_tsv.exists():
            write_text_atomic(paths.events_tsv, events_tsv_text(()))
        if not paths.events_json.exists():
            write_json_atomic(paths.events_json, events_json())
        return
    for path in motion_dir.glob("*_events.*"):
        path.unlink()
    for folder in (motion_dir, session_dir):
        with contextlib.suppress(OSError):
            folder.rmdir()


@dataclass(frozen=True)
class Dataset:
    """An opened dataset: its resolved root and what recovery repaired on opening."""

    root: Path
    recovered: tuple[RecoveryReport, ...]

    def session_dirs(self) -> list[Path]:
        return list_sessions(self.root)

    def iter_sessions(self) -> Iterator[Session]:
        """Every session, skipping ones still being recorded by another process."""
        for session_dir in self.session_dirs():
            if not _interrupted_streams(session_dir):
                yield read_session(session_dir)


def open_dataset(root: Path | str) -> Dataset:
    """Check a dataset folder and recover its interrupted sessions (reports say what changed).

    Raises:
        The errors of `recover_dataset`.
    """
    root = check_dataset(root)
    return Dataset(root, tuple(recover_dataset(root)))


def iter_sessions(root: Path | str) -> Iterator[Session]:
    """Open a dataset (recovering interrupted sessions) and read its sessions one by one.

    Raises:
        The errors of `open_dataset`, at the call; while iterating, FormatError for a session
        file that cannot be read (naming the file and line).
    """
    return open_dataset(root).iter_sessions()
