"""Read Motion-BIDS streams and sessions into `model` objects (SI units), validating as we go.

Every problem raises `FormatError` naming the file and line; a missing folder `DatasetError`.
The sidecars are read by `sidecars`, the samples by `motion_tsv`; their readers are exported
here too, as the one place to read Motion-BIDS from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from balancelab.errors import DatasetError, FormatError, InvalidArgumentError
from balancelab.formats.bids import STATUS_RECORDING, StreamPaths, parse_motion_name
from balancelab.formats.motion_tsv import MotionRow, iter_motion_rows, read_samples
from balancelab.formats.sidecars import (
    ChannelTable,
    StreamInfo,
    read_channels,
    read_motion_json,
    read_stream_info,
    read_trials,
    read_tsv,
)
from balancelab.model import Recording, Session, parse_session_label

__all__ = [
    "ChannelTable",
    "MotionRow",
    "StreamInfo",
    "iter_motion_rows",
    "read_channels",
    "read_motion_json",
    "read_recording",
    "read_session",
    "read_stream_info",
    "read_trials",
    "read_tsv",
    "session_motion_files",
    "stream_paths_of",
]


def read_recording(motion_tsv: Path | str) -> Recording:
    """One tracksys stream (motion.tsv + channels.tsv + sidecars + events) in SI units.

    `n/a` cells are kept as gaps (NaN). A row without its time, an empty cell or a last line
    cut short (fewer cells) is refused, its line named; a last line that lacks only its newline
    is read. Without a `_balancelab.json`, `lost_samples` counts the rows that are all `n/a`.

    Raises:
        FormatError: a file of the stream is missing, unreadable or malformed (naming the file
            and line), or the stream is still marked `recording`.
    """
    motion_tsv = Path(motion_tsv)
    name = parse_motion_name(motion_tsv)
    paths = name.paths(motion_tsv.parent)
    info = read_stream_info(motion_tsv)
    if info.status == STATUS_RECORDING:
        raise FormatError(
            "the recording is still marked 'recording' (being written, or interrupted)",
            path=str(paths.balancelab_json),
            advice="Wait until it ends, or open the dataset so balancelab recovers it.",
        )
    table = read_channels(paths.channels_tsv)
    fs_hz = float(read_motion_json(paths.motion_json)["SamplingFrequency"])
    time_s, values = read_samples(motion_tsv, table)
    lost_samples = info.lost_samples
    if info.status is None:  # no `_balancelab.json`: count the all-n/a rows, as the writer does
        lost_samples = int(np.count_nonzero(np.isnan(values).all(axis=1)))
    try:
        return Recording(
            time_s,
            values,
            table.channels,
            fs_hz,
            name.tracksys,
            name.athlete,
            parse_session_label(name.session),
            name.task,
            read_trials(paths.events_tsv),
            info.device,
            info.sensor_to_segment,
            lost_samples,
        )
    except InvalidArgumentError as exc:
        raise FormatError(exc.message, path=str(motion_tsv)) from exc


def session_motion_files(session_dir: Path) -> list[Path]:
    """The motion.tsv files of a session folder (`ses-*/motion/`), sorted by name."""
    return sorted((session_dir / "motion").glob("*_motion.tsv"))


def read_session(session_dir: Path | str) -> Session:
    """All tracksys streams of one session folder, sharing its events.

    Raises:
        DatasetError: the folder holds no `motion/*_motion.tsv`.
        FormatError: a stream cannot be read (as `read_recording`), or the streams disagree.
    """
    session_dir = Path(session_dir)
    files = session_motion_files(session_dir)
    if not files:
        raise DatasetError(
            f"{session_dir} holds no motion/*_motion.tsv: not a Motion-BIDS session folder",
            advice="Pass a folder like <dataset>/sub-ana01/ses-20250101T090000.",
        )
    recordings = tuple(read_recording(f) for f in files)
    try:
        return Session(recordings)
    except InvalidArgumentError as exc:
        raise FormatError(exc.message, path=str(session_dir)) from exc


def stream_paths_of(motion_tsv: Path) -> StreamPaths:
    """The sibling files of a motion.tsv."""
    return parse_motion_name(motion_tsv).paths(motion_tsv.parent)
