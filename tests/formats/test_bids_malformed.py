"""Malformed files raise FormatError (or DatasetError for folders) naming the file and line."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.errors import DatasetError, FormatError
from balancelab.formats.bids import StreamPaths
from balancelab.formats.bids_reader import (
    iter_motion_rows,
    read_channels,
    read_recording,
    read_session,
)
from balancelab.formats.dataset import ensure_dataset, iter_sessions, open_dataset
from balancelab.formats.motion_tsv import _parse_well_formed
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
        fast = _parse_well_formed(data, table)
        if fast is None:
            return
        accepted += 1
        rows = [row.values for row in iter_motion_rows(data, paths.motion_tsv, table)]
        np.testing.assert_array_equal(fast, np.array(rows, dtype=np.float64))

    corrupt_and_compare()
    assert accepted > 0


_EDGE_CELLS = (
    "0.6883636235428092", "-12.345678901234567", "+5", ".5", "5.", "-0", "0.0", "1E3", "1e+3",
    "-2.5e-7", "4.9e-321", "1e-400", "-1e-400", "123456789012345678901234567890.5",
    "9007199254740993000.0000000000000000001", "9007199254740993000.0000000000000000001e0",
)  # fmt: skip


@pytest.mark.parametrize("cell", _EDGE_CELLS)
def test_both_readers_convert_mm_cells_to_the_same_bits(tmp_path: Path, cell: str) -> None:
    """Edge-case cells in a mm column: the numpy path and the line reader agree bit for bit,
    with one correctly rounded conversion (more digits than a Decimal context holds too)."""
    paths = cop_paths(write_example_session(tmp_path, imu_rows=80, cop_rows=60))
    table = read_channels(paths.channels_tsv)
    lines = paths.motion_tsv.read_bytes().decode("ascii").split("\n")
    cells = lines[3].split("\t")
    cells[1] = cell
    lines[3] = "\t".join(cells)
    data = "\n".join(lines).encode("ascii")
    fast = _parse_well_formed(data, table)
    assert fast is not None
    line = [row.values for row in iter_motion_rows(data, paths.motion_tsv, table)][3][1]
    assert struct.pack("<d", fast[3, 1]) == struct.pack("<d", line)
    mantissa, _, exponent = cell.lower().partition("e")
    exact = Fraction(mantissa) * Fraction(10) ** (int(exponent or 0) - 3)
    expected = math.copysign(float(exact), -1.0 if cell.startswith("-") else 1.0)
    assert struct.pack("<d", line) == struct.pack("<d", expected)


@pytest.mark.parametrize("cell", ["-n/a", "+n/a", "n/a5", "1n/a"])
def test_na_inside_a_cell_is_an_error_with_its_line(tmp_path: Path, cell: str) -> None:
    paths = cop_paths(write_example_session(tmp_path, imu_rows=80, cop_rows=60))
    lines = paths.motion_tsv.read_text(encoding="ascii").split("\n")
    cells = lines[3].split("\t")
    cells[1] = cell
    lines[3] = "\t".join(cells)
    paths.motion_tsv.write_text("\n".join(lines), encoding="ascii")
    with pytest.raises(FormatError) as caught:
        read_recording(paths.motion_tsv)
    assert caught.value.line == 4


def test_radians_of_the_numpy_path_equal_math_radians() -> None:
    values = np.random.default_rng(0).normal(0, 1e3, 10_000)
    assert [math.radians(v) for v in values] == np.radians(values).tolist()


_PLAUSIBLE_JUNK = (
    b"1", b"9", b"0.", b".", b"-", b"e", b"E5", b"+", b"n/a", b"-n/a", b"+n/a", b"\t", b"\n", b"12",
)  # fmt: skip


def _json_values() -> st.SearchStrategy[object]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=12,
    )


def _sidecar_keys(session_dir: Path) -> list[tuple[str, str]]:
    paths = cop_paths(session_dir)
    own = json.loads(paths.balancelab_json.read_text())
    motion = json.loads(paths.motion_json.read_text())
    return [("balancelab_json", key) for key in own] + [("motion_json", key) for key in motion]


def test_any_json_value_for_any_sidecar_key_is_a_format_error_or_read(tmp_path: Path) -> None:
    session_dir = write_example_session(tmp_path, imu_rows=80, cop_rows=60)
    paths = cop_paths(session_dir)
    originals = {
        name: getattr(paths, name).read_bytes() for name in ("balancelab_json", "motion_json")
    }
    keys = _sidecar_keys(session_dir)
    assert {"sensor_to_segment", "calibration", "device", "lost_samples"} <= {k for _, k in keys}
    assert {"SamplingFrequency", "TaskName"} <= {k for _, k in keys}

    @settings(max_examples=300, deadline=None)
    @given(which=st.sampled_from(keys), value=_json_values())
    def replace_and_read(which: tuple[str, str], value: object) -> None:
        name, key = which
        data = json.loads(originals[name])
        getattr(paths, name).write_text(json.dumps({**data, key: value}))
        try:
            read_session(session_dir)
        except FormatError as error:
            assert error.path == str(getattr(paths, name))
        finally:
            getattr(paths, name).write_bytes(originals[name])

    replace_and_read()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sensor_to_segment", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "'sensor_to_segment' is a list"),
        ("sensor_to_segment", {"board": [[1, 0], [0, 1]]}, "entry 'board' is not a 3x3 matrix"),
        ("sensor_to_segment", {"board": [[1, 0, 0], [0, 1, 0], [0, 0, "1"]]}, "'board'"),
        ("calibration", [0.0, 2.0], "'calibration' is a list"),
        ("calibration", {"window_s": [0.0], "gravity_ms2": [0, 0, 9.8]}, "calibration.window_s"),
        ("calibration", {"window_s": [0, 1], "gravity_ms2": "down"}, "calibration.gravity_ms2"),
        ("device", "WitMotion", "'device' is a string"),
        ("device", {"battery_pct": "full"}, "'device.battery_pct' is a string"),
        ("device", {"colour": "red"}, "'device' has unknown key 'colour'"),
        ("lost_samples", "5", "'lost_samples' is a string; expected a whole number >= 0"),
        ("lost_samples", -1, "'lost_samples' is a number; expected a whole number >= 0"),
        ("lost_samples", 2.5, "'lost_samples' is a number"),
        ("lost_samples", True, "'lost_samples' is a boolean"),
        ("status", None, "'status' is null; expected a string"),
        ("format_version", [1], "'format_version' is a list"),
        ("software_version", 3, "'software_version' is a number"),
        ("recovery", "yes", "'recovery' is a string"),
    ],
)
def test_a_wrong_json_shape_in_balancelab_json_names_the_file_and_key(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    paths = cop_paths(write_example_session(tmp_path, imu_rows=80, cop_rows=60))
    data = json.loads(paths.balancelab_json.read_text())
    paths.balancelab_json.write_text(json.dumps({**data, key: value}))
    with pytest.raises(FormatError) as caught:
        read_recording(paths.motion_tsv)
    assert caught.value.path == str(paths.balancelab_json)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("motion_json", '{"TaskName": "t", "SamplingFrequency": NaN}'),
        ("motion_json", '{"TaskName": "t", "SamplingFrequency": Infinity}'),
        ("motion_json", '{"TaskName": "t", "SamplingFrequency": 1' + "0" * 400 + "}"),
        ("motion_json", '{"SamplingFrequency": 1' + "0" * 5000 + "}"),
        ("balancelab_json", "[" * 100_000 + "]" * 100_000),
        ("balancelab_json", '{"status": "complete", "format_version": 1, "lost_samples": 1e999}'),
    ],
    ids=["nan", "infinity", "beyond float", "beyond int digits", "deep nesting", "overflow"],
)
def test_json_python_accepts_but_json_does_not_is_a_format_error(
    tmp_path: Path, name: str, text: str
) -> None:
    paths = cop_paths(write_example_session(tmp_path, imu_rows=80, cop_rows=60))
    getattr(paths, name).write_text(text)
    with pytest.raises(FormatError) as caught:
        read_recording(paths.motion_tsv)
    assert caught.value.path == str(getattr(paths, name))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b"\xff\xfe*\x00*\x00/\x00"),
        lambda p: p.mkdir(),
    ],
    ids=["not utf-8", "a folder"],
)
def test_an_unreadable_bidsignore_is_a_dataset_error(
    tmp_path: Path, make: Callable[[Path], object]
) -> None:
    ensure_dataset(tmp_path)
    (tmp_path / ".bidsignore").unlink()
    make(tmp_path / ".bidsignore")
    with pytest.raises(DatasetError, match=r"cannot read .*\.bidsignore") as caught:
        ensure_dataset(tmp_path)
    assert ".bidsignore" in caught.value.advice and "UTF-8" in caught.value.advice


def test_a_byte_order_mark_on_any_sidecar_is_read_as_text(tmp_path: Path) -> None:
    # Issue 10 item 12: a spreadsheet program saves channels.tsv or events.tsv with a UTF-8
    # byte-order mark; the reader said "header lacks column(s) name". It is read as text now.
    session_dir = write_example_session(tmp_path)
    clean = read_session(session_dir)
    paths = cop_paths(session_dir)
    for path in (paths.channels_tsv, paths.events_tsv, paths.motion_json, paths.events_json):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    marked = read_session(session_dir)
    assert [r.channels for r in marked.recordings] == [r.channels for r in clean.recordings]
    assert marked.trials == clean.trials
