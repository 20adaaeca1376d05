"""A Motion-BIDS dataset folder: top-level files, participants, crash recovery, session listing."""

from __future__ import annotations

import contextlib
import math
import os
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
README_TEXT = """\
Balance recordings made with balancelab (https://github.com/balancelab).

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
    """What recovery did to one interrupted stream, to tell the user."""

    motion_tsv: Path
    samples_kept: int
    lines_dropped: int
    bytes_dropped: int
    time_span_s: tuple[float, float] | None
    removed: bool
    problem: str | None = None

    def describe(self) -> str:
        """One sentence for the user."""
        if self.removed:
            return f"{self.motion_tsv.name}: interrupted before any sample; its files were removed."
        start, stop = self.time_span_s or (math.nan, math.nan)
        text = (
            f"{self.motion_tsv.name}: interrupted recording recovered; kept {self.samples_kept}"
            f" samples ({start:.3f}-{stop:.3f} s), dropped {self.lines_dropped} incomplete"
            f" line(s) ({self.bytes_dropped} bytes)"
        )
        return text + (f": {self.problem}" if self.problem else ".")


def ensure_dataset(root: Path | str) -> Path:
    """Create a dataset at `root` if new or empty, else check it; returns the resolved root."""
    root = Path(root).resolve()
    if (root / DESCRIPTION).exists():
        check_dataset(root)
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DatasetError(
            f"{root} is not empty and has no {DESCRIPTION}: not a balancelab dataset",
            advice="Choose an empty folder or an existing balancelab dataset.",
        )
    else:
        _create_dataset(root)
    _ensure_bidsignore(root)
    return root


def _create_dataset(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {root}: {exc.strerror or exc}") from exc
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
    path = root / ".bidsignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BIDSIGNORE_RULE not in text.splitlines():
        separator = "\n" if text and not text.endswith("\n") else ""
        write_text_atomic(path, f"{text}{separator}{BIDSIGNORE_RULE}\n")


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
    found = []
    for own in sorted((session_dir / "motion").glob("*_balancelab.json")):
        motion_tsv = own.with_name(own.name.replace("_balancelab.json", "_motion.tsv"))
        if read_json(own).get("status") == STATUS_RECORDING:
            found.append(stream_paths_of(motion_tsv))
    return found


def _recover_session(session_dir: Path) -> list[RecoveryReport]:
    lock = SessionLock.try_acquire(session_dir)
    if lock is None:
        return []
    try:
        reports = [_recover_stream(paths) for paths in _interrupted_streams(session_dir)]
        tidy_session(session_dir)
    finally:
        lock.release()
    return reports


@dataclass(frozen=True)
class _Prefix:
    """The complete, valid lines at the start of an interrupted motion.tsv."""

    stats: StreamStats
    end_offset: int
    problem: str | None


def _valid_prefix(paths: StreamPaths, data: bytes) -> _Prefix:
    kept, end, first_s, last_s, lost, problem = 0, 0, math.nan, math.nan, 0, None
    try:
        table = read_channels(paths.channels_tsv)
        for row in iter_motion_rows(data, paths.motion_tsv, table):
            if not row.terminated:
                break
            kept, end, last_s = kept + 1, row.end_offset, row.values[0]
            first_s = row.values[0] if kept == 1 else first_s
            lost += all(math.isnan(v) for v in row.values[1:])
    except FormatError as exc:
        problem = exc.message
    return _Prefix(StreamStats(kept, first_s, last_s, lost), end, problem)


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _recover_stream(paths: StreamPaths) -> RecoveryReport:
    data = read_bytes(paths.motion_tsv) if paths.motion_tsv.exists() else b""
    prefix = _valid_prefix(paths, data) if data else _Prefix(StreamStats(0, 0, 0, 0), 0, None)
    stats, dropped = prefix.stats, data[prefix.end_offset :]
    report = RecoveryReport(
        paths.motion_tsv,
        samples_kept=stats.samples,
        lines_dropped=_line_count(dropped),
        bytes_dropped=len(dropped),
        time_span_s=(stats.first_s, stats.last_s) if stats.samples else None,
        removed=stats.samples == 0,
        problem=prefix.problem,
    )
    if report.removed:
        for path in paths.stream_files:
            path.unlink(missing_ok=True)
        return report
    _truncate(paths.motion_tsv, prefix.end_offset)
    recovery = {
        "samples_kept": report.samples_kept,
        "lines_dropped": report.lines_dropped,
        "bytes_dropped": report.bytes_dropped,
        "problem": report.problem,
    }
    finalize_stream(paths, stats, STATUS_RECOVERED, recovery)
    return report


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
