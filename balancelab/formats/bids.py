"""Motion-BIDS building blocks shared by the writer, the reader and the dataset (FORMAT.md).

Public entry points live beside this module:
- `bids_writer.open_session` / `RecordingWriter`: streaming, crash-safe writing of one session;
- `bids_reader.read_recording`, `read_session`, `read_stream_info`: files to `model` objects;
- `dataset.open_dataset`, `recover_dataset`, `iter_sessions`, `list_sessions`: a whole dataset.

Numbers on disk: each float64 is written as its shortest round-trip decimal (`repr`). Units that
differ from SI by a power of ten (mm, uT) are converted by moving the decimal exponent of that
text (exact in decimal) before the one rounding to float, so reading gives back the same float64
bit for bit. Only degrees (ORNT angles in deg, gyroscope in deg/s from other tools) go through a
multiplication by pi/180, which costs at most a few ulp.

`_balancelab.json` status is `recording` while written, `complete` after a clean close, and
`recovered` after a crash was repaired (then a `recovery` object says what was kept and dropped).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from balancelab import __version__
from balancelab.errors import DatasetError, FormatError
from balancelab.formats._reading import decode_text, is_number, read_bytes, shifted_decimal
from balancelab.model import ChannelType, Outcome, Side, Surface, Trial, TrialType, Vision

if sys.platform != "win32":
    import fcntl

__all__ = [
    "BIDS_VERSION",
    "CHANNELS_COLUMNS",
    "EVENTS_COLUMNS",
    "FORMAT_VERSION",
    "NA",
    "READABLE_UNITS",
    "REQUIRED_CHANNELS_COLUMNS",
    "SOFTWARE_VERSION",
    "STATUS_COMPLETE",
    "STATUS_RECORDING",
    "STATUS_RECOVERED",
    "Calibration",
    "MotionName",
    "SessionLock",
    "StreamPaths",
    "StreamStats",
    "UnitConversion",
    "decode_text",
    "events_json",
    "events_tsv_text",
    "finalize_stream",
    "format_cell",
    "fsync_dir",
    "is_number",
    "is_temporary",
    "parse_cell",
    "parse_motion_name",
    "read_bytes",
    "read_json",
    "shifted_decimal",
    "write_json_atomic",
    "write_text_atomic",
    "written_conversion",
]

FORMAT_VERSION = 1
BIDS_VERSION = "1.9.0"
SOFTWARE_VERSION = f"balancelab {__version__}"
STATUS_RECORDING = "recording"
STATUS_COMPLETE = "complete"
STATUS_RECOVERED = "recovered"
NA = "n/a"
CHANNELS_COLUMNS = (
    "name",
    "component",
    "type",
    "tracked_point",
    "units",
    "sampling_frequency",
    "status",
)
REQUIRED_CHANNELS_COLUMNS = ("name", "component", "type", "tracked_point", "units")
EVENTS_COLUMNS = ("onset", "duration", "trial_type", "side", "surface", "vision", "outcome")

_MOTION_NAME = re.compile(
    r"sub-(?P<athlete>[A-Za-z0-9]+)_ses-(?P<session>[A-Za-z0-9]+)_task-(?P<task>[A-Za-z0-9]+)"
    r"_tracksys-(?P<tracksys>[A-Za-z0-9]+)_motion\.tsv"
)


@dataclass(frozen=True)
class UnitConversion:
    """How one column goes between its on-disk unit and SI.

    `decimal_shift`: disk = SI x 10**shift, done on the decimal text; `degrees`: disk is in deg.
    """

    disk_unit: str
    si_unit: str
    decimal_shift: int = 0
    degrees: bool = False


_SAME = {
    "s": UnitConversion("s", "s"),
    "m/s^2": UnitConversion("m/s^2", "m/s^2"),
    "rad/s": UnitConversion("rad/s", "rad/s"),
    "T": UnitConversion("T", "T"),
    "m": UnitConversion("m", "m"),
    "rad": UnitConversion("rad", "rad"),
    "N": UnitConversion("N", "N"),
    "n/a": UnitConversion(NA, NA),
}
READABLE_UNITS: Mapping[str, Mapping[str, UnitConversion]] = {
    "LATENCY": {"s": _SAME["s"]},
    ChannelType.ACCEL: {"m/s^2": _SAME["m/s^2"]},
    ChannelType.GYRO: {"rad/s": _SAME["rad/s"], "deg/s": UnitConversion("deg/s", "rad/s", 0, True)},
    ChannelType.MAGN: {
        "uT": UnitConversion("uT", "T", 6),
        "nT": UnitConversion("nT", "T", 9),
        "T": _SAME["T"],
    },
    ChannelType.POS: {
        "mm": UnitConversion("mm", "m", 3),
        "cm": UnitConversion("cm", "m", 2),
        "m": _SAME["m"],
    },
    ChannelType.ORNT: {
        NA: _SAME[NA],
        "deg": UnitConversion("deg", "rad", 0, True),
        "rad": _SAME["rad"],
    },
    ChannelType.MISC: {"N": _SAME["N"]},
}
_WRITTEN_UNIT = {
    ChannelType.ACCEL: "m/s^2",
    ChannelType.GYRO: "rad/s",
    ChannelType.MAGN: "uT",
    ChannelType.POS: "mm",
    ChannelType.ORNT: "deg",
    ChannelType.MISC: "N",
}


def written_conversion(type_: ChannelType, component: str) -> UnitConversion:
    """The on-disk unit FORMAT.md prescribes for a channel (quaternions are unitless)."""
    unit = NA if component.startswith("quat") else _WRITTEN_UNIT[type_]
    return READABLE_UNITS[type_][unit]


def format_cell(value: float, conv: UnitConversion) -> str:
    """One SI value as on-disk text: NaN -> `n/a`, otherwise exact (see the module docstring)."""
    if math.isnan(value):
        return NA
    if conv.degrees:
        return repr(math.degrees(value))
    if conv.decimal_shift:
        return _decimal_text(Decimal(repr(value)).scaleb(conv.decimal_shift))
    return repr(value)


def _decimal_text(number: Decimal) -> str:
    """Plain notation for everyday magnitudes, scientific for the extremes."""
    return format(number, "f") if -7 <= number.adjusted() <= 15 else format(number, "e")


def parse_cell(text: str, conv: UnitConversion, path: Path, line: int, column: str) -> float:
    """One on-disk cell as an SI float; `n/a` -> NaN; anything else not a plain number raises."""
    if text == NA:
        return math.nan
    problem = "expected a number with a decimal point or 'n/a'"
    if is_number(text):
        with contextlib.suppress(ArithmeticError):
            value = _to_si(text, conv)
            if math.isfinite(value):
                return value
        problem = "the number is out of range"
    raise FormatError(f"column {column!r} holds {text!r}: {problem}", path=str(path), line=line)


def _to_si(text: str, conv: UnitConversion) -> float:
    if conv.degrees:
        return math.radians(float(text))
    if conv.decimal_shift:
        return shifted_decimal(text, conv.decimal_shift)
    return float(text)


@dataclass(frozen=True)
class StreamPaths:
    """The files of one tracksys stream in one session, plus the session's shared events files."""

    motion_tsv: Path
    channels_tsv: Path
    motion_json: Path
    balancelab_json: Path
    events_tsv: Path
    events_json: Path

    @classmethod
    def of(
        cls, motion_dir: Path, athlete: str, session: str, task: str, tracksys: str
    ) -> StreamPaths:
        """Paths of a stream named by its labels inside a session's `motion/` folder."""
        events = motion_dir / f"sub-{athlete}_ses-{session}_task-{task}"
        base = motion_dir / f"sub-{athlete}_ses-{session}_task-{task}_tracksys-{tracksys}"
        return cls(
            motion_tsv=Path(f"{base}_motion.tsv"),
            channels_tsv=Path(f"{base}_channels.tsv"),
            motion_json=Path(f"{base}_motion.json"),
            balancelab_json=Path(f"{base}_balancelab.json"),
            events_tsv=Path(f"{events}_events.tsv"),
            events_json=Path(f"{events}_events.json"),
        )

    @property
    def stream_files(self) -> tuple[Path, Path, Path, Path]:
        """The four files that belong to this stream alone."""
        return (self.motion_tsv, self.channels_tsv, self.motion_json, self.balancelab_json)


@dataclass(frozen=True)
class MotionName:
    """The labels in a `..._motion.tsv` file name."""

    athlete: str
    session: str
    task: str
    tracksys: str

    def paths(self, motion_dir: Path) -> StreamPaths:
        return StreamPaths.of(motion_dir, self.athlete, self.session, self.task, self.tracksys)


def parse_motion_name(path: Path) -> MotionName:
    """The labels of a motion.tsv path, or FormatError if it is not a Motion-BIDS name."""
    match = _MOTION_NAME.fullmatch(path.name)
    if match is None:
        raise FormatError(
            "file name is not sub-<a>_ses-<s>_task-<t>_tracksys-<sensor>_motion.tsv",
            path=str(path),
        )
    return MotionName(**match.groupdict())


@dataclass(frozen=True)
class Calibration:
    """A stream's static calibration: the still window used (s) and the gravity vector (m/s^2)."""

    window_s: tuple[float, float]
    gravity_ms2: tuple[float, float, float]


def events_tsv_text(trials: Iterable[Trial]) -> str:
    """events.tsv content: the header and one row per trial, sorted by onset."""
    rows = ["\t".join(EVENTS_COLUMNS)]
    for t in sorted(trials, key=lambda trial: trial.onset_s):
        cells = (repr(float(t.onset_s)), repr(float(t.duration_s)), t.trial_type, t.side)
        rows.append("\t".join((*cells, t.surface, t.vision, t.outcome)))
    return "\n".join(rows) + "\n"


def events_json() -> dict[str, Any]:
    """events.json: a description of every events.tsv column and its levels."""
    levels = {
        "trial_type": (TrialType, "The balance test performed in this trial."),
        "side": (Side, "The stance leg (for a step-down: the leg that lands and holds)."),
        "surface": (Surface, "What the athlete stands on."),
        "vision": (Vision, "Eyes open or closed."),
        "outcome": (Outcome, "How the trial ended."),
    }
    doc: dict[str, Any] = {
        "onset": {"Description": "Trial start on the motion time axis.", "Units": "s"},
        "duration": {"Description": "Trial length.", "Units": "s"},
    }
    for column, (enum, text) in levels.items():
        doc[column] = {"Description": text, "Levels": {m.value: m.value for m in enum}}
    return doc


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text`: write a temporary file, fsync, rename, fsync the folder.

    A link at `path` is replaced, never written through; the temporary file is created anew
    (one left by a killed process of the same id, or a link in its place, is removed first).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        with open(tmp, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a full disk leaves no half-written temporary
            tmp.unlink(missing_ok=True)
        raise DatasetError(
            f"cannot write {path}: {exc.strerror or exc}",
            advice="Check free disk space and that the data folder is writable.",
        ) from exc


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace a JSON file atomically (2-space indent, trailing newline)."""
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX only; Windows has no directory fsync)."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_temporary(path: Path) -> bool:
    """True for a temporary file left behind by `write_text_atomic`."""
    return re.fullmatch(r"\..+\.\d+\.tmp", path.name) is not None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; anything else raises FormatError with the line."""
    text = decode_text(read_bytes(path), path)
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, huge integers, deep nesting
        raise FormatError(f"invalid JSON: {exc}", path=str(path)) from exc
    if not isinstance(data, dict):
        raise FormatError("expected a JSON object ({...})", path=str(path), line=1)
    return data


class SessionLock:
    """An exclusive lock on a session folder, held by the writer for the whole recording.

    Recovery takes it too, so it never touches a session that is live in another process.
    POSIX `flock` on the folder; on Windows it always succeeds (no live-session detection).
    """

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def try_acquire(cls, folder: Path) -> SessionLock | None:
        """The lock, or None if another writer or recovery holds it."""
        if sys.platform == "win32":
            return cls(None)
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(fd)

    def release(self) -> None:
        """Release the lock (closing the folder handle); safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class StreamStats:
    """What a finished stream holds: sample count, first and last time (s), all-n/a rows."""

    samples: int
    first_s: float
    last_s: float
    lost_samples: int

    @property
    def duration_s(self) -> float:
        return self.last_s - self.first_s if self.samples > 1 else 0.0

    @property
    def effective_fs_hz(self) -> float | None:
        """Mean rate (Hz) as `model.Recording.effective_fs_hz`; None below two samples."""
        return (self.samples - 1) / self.duration_s if self.duration_s > 0 else None


def finalize_stream(
    paths: StreamPaths, stats: StreamStats, status: str, recovery: Mapping[str, Any] | None = None
) -> None:
    """Fill duration and rate into motion.json, then set the status in `_balancelab.json` (last)."""
    motion = read_json(paths.motion_json)
    motion["RecordingDuration"] = stats.duration_s
    if stats.effective_fs_hz is not None:
        motion["SamplingFrequencyEffective"] = stats.effective_fs_hz
    write_json_atomic(paths.motion_json, motion)
    own = read_json(paths.balancelab_json)
    own.update(status=status, samples=stats.samples, lost_samples=stats.lost_samples)
    if recovery is not None:
        own["recovery"] = dict(recovery)
    write_json_atomic(paths.balancelab_json, own)
