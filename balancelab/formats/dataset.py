"""A Motion-BIDS dataset folder: top-level files, participants, crash recovery, session listing."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from balancelab import __version__
from balancelab.errors import DatasetError, FormatError, InvalidArgumentError
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
    read_tsv,
    session_motion_files,
    stream_paths_of,
)
from balancelab.model import Session, check_label

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

    @property
    def changed(self) -> bool:
        """False when recovery left every file exactly as it found it (a `problem`)."""
        return self.problem is None

    def describe(self) -> str:
        """What happened, for the user (one or two sentences)."""
        name = self.motion_tsv.name
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
        return (
            f"{name}: interrupted recording recovered; kept {self.samples_kept}"
            f" samples ({start:.3f}-{stop:.3f} s), {dropped}."
        )


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


def list_sessions(root: Path | str) -> list[Path]:
    """Session folders (`sub-*/ses-*` holding motion streams) of a dataset, sorted."""
    root = check_dataset(root)
    return [d for d in sorted(root.glob("sub-*/ses-*")) if d.is_dir() and session_motion_files(d)]


def recover_dataset(root: Path | str) -> list[RecoveryReport]:
    """Repair every interrupted (not live) session of a dataset; one report per stream."""
    root = check_dataset(root)
    reports: list[RecoveryReport] = []
    for session_dir in sorted(root.glob("sub-*/ses-*")):
        if _interrupted_streams(session_dir):
            reports += _recover_session(session_dir)
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


def _recover_session(session_dir: Path) -> list[RecoveryReport]:
    lock = SessionLock.try_acquire(session_dir)
    if lock is None:
        return []
    try:
        reports = [_recover_stream(paths) for paths in _interrupted_streams(session_dir)]
        if all(report.changed for report in reports):  # else leave the session exactly as it is
            tidy_session(session_dir)
    finally:
        lock.release()
    return reports


# The longest unterminated first line still taken for an unfinished first row (a row of even
# a hundred channels is a few kB); anything longer is not something our writer left behind.
_MAX_PARTIAL_ROW_BYTES = 64 * 1024


def _recover_stream(paths: StreamPaths) -> RecoveryReport:
    """Drop an unfinished last line and finish the sidecars; change nothing if anything is off."""
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
    """Check a dataset folder and recover its interrupted sessions (reports say what changed)."""
    root = check_dataset(root)
    return Dataset(root, tuple(recover_dataset(root)))


def iter_sessions(root: Path | str) -> Iterator[Session]:
    """Open a dataset (recovering interrupted sessions) and read its sessions one by one."""
    return open_dataset(root).iter_sessions()
