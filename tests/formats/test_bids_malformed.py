"""Malformed files raise FormatError (or DatasetError for folders) naming the file and line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.errors import DatasetError, FormatError
from balancelab.formats.bids import StreamPaths
from balancelab.formats.bids_reader import (
    _parse_well_formed,
    iter_motion_rows,
    read_channels,
    read_recording,
    read_session,
)
from balancelab.formats.dataset import ensure_dataset, iter_sessions, open_dataset
from tests.formats.test_bids_roundtrip import write_example_session

Edit = Callable[[StreamPaths], Path]


def cop_paths(session_dir: Path) -> StreamPaths:
    return StreamPaths.of(session_dir / "motion", "ana01", "20250304T093015", "trailbattery", "wii")


def edit_lines(path: Path, change: Callable[[list[str]], list[str]]) -> Path:
    lines = path.read_text(encoding="utf-8").split("\n")
    path.write_text("\n".join(change(lines)), encoding="utf-8")
    return path


def set_line(number: int, text: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [*lines[: number - 1], text, *lines[number:]]


def append_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(path.read_bytes() + data)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def swap_lines(lines: list[str]) -> list[str]:
    return [*lines[:4], lines[5], lines[4], *lines[6:]]


CASES: list[tuple[str, Edit, str, int | None, str]] = [
    (
        "comma-delimited",
        lambda p: edit_lines(p.motion_tsv, lambda ls: [x.replace("\t", ",") for x in ls]),
        "_motion.tsv",
        1,
        "separated by ','; motion.tsv must be tab-separated",
    ),
    (
        "missing column",
        lambda p: edit_lines(p.motion_tsv, set_line(3, "0.0333\t1.5")),
        "_motion.tsv",
        3,
        "2 tab-separated columns, channels.tsv lists 3",
    ),
    (
        "non-numeric cell",
        lambda p: edit_lines(p.motion_tsv, set_line(4, "0.05\t1,5\t2.0")),
        "_motion.tsv",
        4,
        "column 'cop_pos_x' holds '1,5': expected a number",
    ),
    (
        "nan spelled out",
        lambda p: edit_lines(p.motion_tsv, set_line(4, "0.05\tnan\t2.0")),
        "_motion.tsv",
        4,
        "holds 'nan': expected a number with a decimal point or 'n/a'",
    ),
    (
        "overflowing number",
        lambda p: edit_lines(p.motion_tsv, set_line(4, "0.05\t1e999999999\t2.0")),
        "_motion.tsv",
        4,
        "holds '1e999999999': the number is out of range",
    ),
    (
        "time goes back",
        lambda p: edit_lines(p.motion_tsv, swap_lines),
        "_motion.tsv",
        6,
        "does not increase",
    ),
    (
        "header row",
        lambda p: edit_lines(p.motion_tsv, lambda ls: ["time\tcop_pos_x\tcop_pos_y", *ls]),
        "_motion.tsv",
        1,
        "motion.tsv must have no header row",
    ),
    (
        "blank line inside",
        lambda p: edit_lines(p.motion_tsv, set_line(7, "")),
        "_motion.tsv",
        7,
        "1 tab-separated columns, channels.tsv lists 3",
    ),
    (
        "not utf-8",
        lambda p: append_bytes(p.motion_tsv, b"9.0\t\xff\t1\n"),
        "_motion.tsv",
        181,
        "not UTF-8",
    ),
    (
        "unknown units",
        lambda p: edit_lines(
            p.channels_tsv, lambda ls: [x.replace("\tmm\t", "\tinch\t") for x in ls]
        ),
        "_channels.tsv",
        3,
        "units 'inch' are unknown for POS; expected one of mm, cm, m",
    ),
    (
        "unknown type",
        lambda p: edit_lines(
            p.channels_tsv, lambda ls: [x.replace("\tPOS\t", "\tEMG\t") for x in ls]
        ),
        "_channels.tsv",
        3,
        "type 'EMG' is not one of",
    ),
    (
        "channels missing units column",
        lambda p: edit_lines(
            p.channels_tsv,
            set_line(1, "name\tcomponent\ttype\ttracked_point\tunit\tsampling_frequency\tstatus"),
        ),
        "_channels.tsv",
        1,
        "header lacks column(s) units",
    ),
    (
        "time not first",
        lambda p: edit_lines(p.channels_tsv, lambda ls: [ls[0], ls[2], ls[1], *ls[3:]]),
        "_channels.tsv",
        2,
        "the first channel must be 'time'",
    ),
    (
        "truncated motion.json",
        lambda p: write(p.motion_json, '{\n  "TaskName": "trailbattery",\n  "Sampling'),
        "_motion.json",
        3,
        "invalid JSON",
    ),
    (
        "sampling frequency missing",
        lambda p: write(p.motion_json, json.dumps({"TaskName": "x"})),
        "_motion.json",
        None,
        "SamplingFrequency is None; expected a number of Hz > 0",
    ),
    (
        "truncated balancelab.json",
        lambda p: write(p.balancelab_json, '{"status": "comp'),
        "_balancelab.json",
        1,
        "invalid JSON",
    ),
    (
        "unknown event level",
        lambda p: edit_lines(p.events_tsv, lambda ls: [x.replace("foam", "sand") for x in ls]),
        "_events.tsv",
        2,
        "surface 'sand' is not one of firm, foam, wobble_board",
    ),
    (
        "events missing a column",
        lambda p: edit_lines(p.events_tsv, lambda ls: [x.rsplit("\t", 1)[0] for x in ls]),
        "_events.tsv",
        1,
        "header lacks column(s) outcome",
    ),
]


@pytest.mark.parametrize(
    ("edit", "suffix", "line", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_file_names_file_and_line(
    tmp_path: Path, edit: Edit, suffix: str, line: int | None, message: str
) -> None:
    broken = edit(cop_paths(write_example_session(tmp_path)))
    with pytest.raises(FormatError) as caught:
        read_session(broken.parents[1])
    error = caught.value
    assert error.path == str(broken) and error.path.endswith(suffix)
    assert error.line == line
    assert message in str(error)
    assert str(error).startswith(f"{broken}" + (f", line {line}" if line else ""))


def test_a_missing_channels_file_is_a_format_error(tmp_path: Path) -> None:
    paths = cop_paths(write_example_session(tmp_path))
    paths.channels_tsv.unlink()
    with pytest.raises(FormatError, match="cannot read the file") as caught:
        read_recording(paths.motion_tsv)
    assert caught.value.path == str(paths.channels_tsv)


def test_a_foreign_file_name_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "recording_motion.tsv"
    path.write_text("0.0\t1.0\n")
    with pytest.raises(FormatError, match="file name is not sub-<a>_ses-<s>"):
        read_recording(path)


@pytest.mark.parametrize("reader", [open_dataset, lambda root: list(iter_sessions(root))])
def test_a_foreign_folder_is_a_dataset_error(
    tmp_path: Path, reader: Callable[[Path], object]
) -> None:
    (tmp_path / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(DatasetError, match=r"no dataset_description\.json: not a BIDS dataset"):
        reader(tmp_path)
    with pytest.raises(DatasetError, match="not a folder"):
        reader(tmp_path / "missing")


def test_a_non_empty_foreign_folder_is_never_written_into(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"is not empty and has no dataset_description\.json"):
        ensure_dataset(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_session_folder_without_streams_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a Motion-BIDS session folder"):
        read_session(tmp_path)


def test_any_corruption_gives_a_format_error_with_a_line_or_a_recording(tmp_path: Path) -> None:
    paths = cop_paths(write_example_session(tmp_path, imu_rows=80, cop_rows=60))
    original = paths.motion_tsv.read_bytes()

    @settings(max_examples=200, deadline=None)
    @given(position=st.integers(min_value=0), junk=st.binary(min_size=1, max_size=8))
    def corrupt_and_read(position: int, junk: bytes) -> None:
        at = position % len(original)
        paths.motion_tsv.write_bytes(original[:at] + junk + original[at + len(junk) :])
        try:
            read_recording(paths.motion_tsv)
        except FormatError as error:
            assert error.path == str(paths.motion_tsv) and error.line is not None

    corrupt_and_read()


def test_fast_and_line_readers_agree_on_any_corruption(tmp_path: Path) -> None:
    """Whenever the numpy path accepts a file, the line reader accepts it with the same floats."""
    paths = cop_paths(write_example_session(tmp_path, imu_rows=80, cop_rows=60))
    original = paths.motion_tsv.read_bytes()
    table = read_channels(paths.channels_tsv)
    accepted = 0

    @settings(max_examples=200, deadline=None)
    @given(position=st.integers(min_value=0), junk=st.sampled_from(_PLAUSIBLE_JUNK))
    def corrupt_and_compare(position: int, junk: bytes) -> None:
        nonlocal accepted
        at = position % len(original)
        data = original[:at] + junk + original[at + len(junk) :]
        fast = _parse_well_formed(data, paths.motion_tsv, table)
        if fast is None:
            return
        accepted += 1
        rows = [row.values for row in iter_motion_rows(data, paths.motion_tsv, table)]
        np.testing.assert_array_equal(fast, np.array(rows, dtype=np.float64))

    corrupt_and_compare()
    assert accepted > 0


_PLAUSIBLE_JUNK = (b"1", b"9", b"0.", b".", b"-", b"e", b"E5", b"+", b"n/a", b"\t", b"\n", b"12")
