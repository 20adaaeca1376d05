"""Round trips through real Motion-BIDS files; the helpers here serve all bids tests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.errors import DatasetError, InvalidArgumentError
from balancelab.formats.bids import (
    READABLE_UNITS,
    Calibration,
    StreamPaths,
    format_cell,
    is_number,
    parse_cell,
)
from balancelab.formats.bids_reader import (
    ChannelTable,
    iter_motion_rows,
    read_recording,
    read_session,
    read_stream_info,
)
from balancelab.formats.bids_writer import open_session
from balancelab.formats.dataset import Participant, iter_sessions, list_sessions
from balancelab.formats.motion_tsv import _parse_well_formed
from balancelab.model import (
    Channel,
    ChannelType,
    DeviceInfo,
    FloatArray,
    Outcome,
    Side,
    StreamSpec,
    Surface,
    Trial,
    TrialType,
    Vision,
    cop_channels,
    imu_channels,
)

START_UTC = datetime(2025, 3, 4, 9, 30, 15, tzinfo=UTC)
IMU_FS_HZ = 100.0
COP_FS_HZ = 60.0
TRIALS = (
    Trial(0.5, 1.0, TrialType.SINGLE_LEG_HOLD, Side.LEFT, Surface.FOAM, Vision.OPEN),
    Trial(
        2.0, 0.75, TrialType.STEP_DOWN, Side.RIGHT, Surface.FIRM, Vision.CLOSED, Outcome.TOUCHDOWN
    ),
)
IMU_SPEC = StreamSpec(
    "witmotion",
    imu_channels("board"),
    IMU_FS_HZ,
    DeviceInfo(manufacturer="WitMotion", model="WT901BLE", serial="A1", address="AA:BB"),
    {"board": ((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0))},
)
COP_SPEC = StreamSpec("wii", cop_channels(), COP_FS_HZ)
PLATE_SPEC = StreamSpec("plate", cop_channels(force=True), COP_FS_HZ)


def imu_data(n: int, seed: int = 1) -> tuple[FloatArray, FloatArray]:
    """Jittered times (s) and acc (m/s^2) + gyro (rad/s) with a 5-sample gap and one lost cell."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(n) / IMU_FS_HZ + rng.uniform(0, 1e-3, n)
    gravity_ms2 = np.array([0.0, 0.0, 9.81])
    values = np.column_stack([rng.normal(0, 2, (n, 3)) + gravity_ms2, rng.normal(0, 0.3, (n, 3))])
    values[40:45] = np.nan
    values[70, 4] = np.nan
    return time_s, values


def cop_data(n: int, seed: int = 2) -> tuple[FloatArray, FloatArray]:
    """Times (s) and centre-of-pressure x/y (m) of a few mm."""
    rng = np.random.default_rng(seed)
    return np.arange(n) / COP_FS_HZ, rng.normal(0, 0.004, (n, 2))


def write_example_session(root: Path, *, imu_rows: int = 300, cop_rows: int = 180) -> Path:
    """An IMU stream with gaps, a COP stream and two trials; returns the session folder."""
    athlete = Participant("ana01", dominant_leg="right", injured_side="left")
    with open_session(
        root,
        athlete=athlete,
        start_utc=START_UTC,
        task="trailbattery",
        streams=[IMU_SPEC, COP_SPEC],
    ) as writer:
        time_s, values = imu_data(imu_rows)
        for start in range(0, imu_rows, 64):
            writer.append("witmotion", time_s[start : start + 64], values[start : start + 64])
        writer.append("wii", *cop_data(cop_rows))
        for trial in TRIALS:
            writer.add_trial(trial)
    return writer.session_dir


def read_text(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_values_times_and_gaps_round_trip_bit_for_bit(tmp_path: Path) -> None:
    session = read_session(write_example_session(tmp_path))
    imu, cop = session.recording("witmotion"), session.recording("wii")
    time_s, values = imu_data(300)
    np.testing.assert_array_equal(imu.time_s, time_s)
    np.testing.assert_array_equal(imu.values, values)
    cop_time_s, cop_values = cop_data(180)
    np.testing.assert_array_equal(cop.time_s, cop_time_s)
    np.testing.assert_array_equal(cop.values, cop_values)
    assert np.isnan(imu.values[40:45]).all() and imu.lost_samples == 5


def test_on_disk_units_follow_format_md(tmp_path: Path) -> None:
    with open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="units", streams=[PLATE_SPEC, MAG_SPEC]
    ) as writer:
        writer.append("plate", [0.0, 0.01], [[0.0123, -0.1, 687.25], [np.nan, 2.5e-9, 0.5]])
        writer.append("mag", [0.0], [[4.8e-5, -1.2e-6, 1e-9, 0.0, 0.5, np.pi / 2]])
    cop_paths, mag_paths = writer.paths("plate"), writer.paths("mag")
    assert read_text(cop_paths.motion_tsv) == [
        ["0.0", "12.3", "-100", "687.25"],
        ["0.01", "n/a", "0.0000025", "0.5"],
    ]
    units = {row[0]: row[4] for row in read_text(mag_paths.channels_tsv)[1:]}
    assert units == {
        "time": "s",
        "sternum_mag_x": "uT",
        "sternum_mag_y": "uT",
        "sternum_mag_z": "uT",
        "sternum_ori_x": "deg",
        "sternum_ori_y": "deg",
        "sternum_ori_z": "deg",
    }
    assert read_text(mag_paths.motion_tsv)[0][1:] == [
        "48",
        "-1.2",
        "0.001",
        "0.0",
        "28.64788975654116",
        "90.0",
    ]
    cop_rows = read_text(cop_paths.channels_tsv)[1:]
    assert {row[4] for row in cop_rows} == {"s", "mm", "N"}
    # FORMAT.md: the optional vertical force is type MISC, units N, component z.
    assert cop_rows[-1][:5] == ["cop_force_z", "z", "MISC", "cop", "N"]
    cop = read_recording(cop_paths.motion_tsv)
    assert [c.units for c in cop.channels] == ["m", "m", "N"]
    np.testing.assert_array_equal(cop.values, [[0.0123, -0.1, 687.25], [np.nan, 2.5e-9, 0.5]])


MAG_SPEC = StreamSpec(
    "mag",
    (
        *(Channel.make("sternum", ChannelType.MAGN, axis) for axis in "xyz"),
        *(Channel.make("sternum", ChannelType.ORNT, axis) for axis in "xyz"),
    ),
    50.0,
)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_decimal_shifted_units_are_exact(value_si: float) -> None:
    for unit, kind in (("mm", ChannelType.POS), ("uT", ChannelType.MAGN)):
        conv = READABLE_UNITS[kind][unit]
        text = format_cell(value_si, conv)
        assert parse_cell(text, conv, Path("x"), 1, "c") == value_si
        assert is_number(text)


@given(st.floats(min_value=-10.0, max_value=10.0))
def test_degrees_round_trip_within_four_ulp(angle_rad: float) -> None:
    conv = READABLE_UNITS[ChannelType.ORNT]["deg"]
    back = parse_cell(format_cell(angle_rad, conv), conv, Path("x"), 1, "c")
    np.testing.assert_array_max_ulp(np.float64(back), np.float64(angle_rad), maxulp=4)


def test_trials_and_metadata_round_trip(tmp_path: Path) -> None:
    session = read_session(write_example_session(tmp_path))
    imu = session.recording("witmotion")
    assert session.trials == TRIALS
    assert all(rec.trials == TRIALS for rec in session.recordings)
    assert (session.athlete, session.task, session.start_utc) == (
        "ana01",
        "trailbattery",
        START_UTC,
    )
    assert imu.device == IMU_SPEC.device
    assert imu.sensor_to_segment == IMU_SPEC.sensor_to_segment
    assert imu.channels == IMU_SPEC.channels and imu.nominal_fs_hz == IMU_FS_HZ


def test_close_fills_sidecars(tmp_path: Path) -> None:
    paths = StreamPaths.of(
        write_example_session(tmp_path) / "motion",
        "ana01",
        "20250304T093015",
        "trailbattery",
        "witmotion",
    )
    motion = json.loads(paths.motion_json.read_text())
    time_s, _ = imu_data(300)
    assert motion["RecordingDuration"] == time_s[-1] - time_s[0]
    assert motion["SamplingFrequencyEffective"] == pytest.approx(299 / (time_s[-1] - time_s[0]))
    own = json.loads(paths.balancelab_json.read_text())
    assert (own["status"], own["samples"], own["lost_samples"]) == ("complete", 300, 5)
    assert own["format_version"] == 1
    info = read_stream_info(paths.motion_tsv)
    assert info.status == "complete" and info.calibration is None


def test_calibration_is_stored_and_read(tmp_path: Path) -> None:
    calibration = Calibration((0.0, 2.0), (0.1, -0.2, 9.8))
    rotation = ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0))
    with open_session(
        tmp_path, athlete="bo2", start_utc=START_UTC, task="t", streams=[IMU_SPEC]
    ) as w:
        w.append("witmotion", *imu_data(100))
        w.set_calibration("witmotion", calibration, {"lowback": rotation})
    info = read_stream_info(w.paths("witmotion").motion_tsv)
    assert info.calibration == calibration
    assert info.sensor_to_segment == {**IMU_SPEC.sensor_to_segment, "lowback": rotation}


def test_participants_merge_without_duplicates(tmp_path: Path) -> None:
    write_example_session(tmp_path)
    for athlete, start in ((Participant("ana01"), 1), (Participant("bo2", "left"), 2)):
        streams = [COP_SPEC]
        with open_session(
            tmp_path,
            athlete=athlete,
            start_utc=START_UTC + timedelta(seconds=start),
            task="trailbattery",
            streams=streams,
        ) as writer:
            writer.append("wii", *cop_data(5))
    assert read_text(tmp_path / "participants.tsv") == [
        ["participant_id", "dominant_leg", "injured_side"],
        ["sub-ana01", "right", "left"],
        ["sub-bo2", "left", "n/a"],
    ]
    assert len(list_sessions(tmp_path)) == 3
    assert [s.athlete for s in iter_sessions(tmp_path)] == ["ana01", "ana01", "bo2"]


def test_dataset_top_level_files(tmp_path: Path) -> None:
    write_example_session(tmp_path)
    description = json.loads((tmp_path / "dataset_description.json").read_text())
    assert description["DatasetType"] == "raw" and description["BIDSVersion"] == "1.9.0"
    assert description["GeneratedBy"][0]["Name"] == "balancelab"
    assert "**/*_balancelab.json" in (tmp_path / ".bidsignore").read_text().splitlines()
    levels = json.loads((tmp_path / "participants.json").read_text())["injured_side"]["Levels"]
    assert set(levels) == {"left", "right", "both", "none"}
    assert (tmp_path / "README").read_text().strip()


def test_a_stream_without_samples_is_not_left_behind(tmp_path: Path) -> None:
    with open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="t", streams=[IMU_SPEC, COP_SPEC]
    ) as writer:
        writer.append("wii", *cop_data(4))
    assert not writer.paths("witmotion").motion_tsv.exists()
    assert [r.tracksys for r in read_session(writer.session_dir).recordings] == ["wii"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"athlete": "../evil"}, "athlete label '../evil' is not allowed"),
        ({"task": "a/b"}, "task label 'a/b' is not allowed"),
        ({"streams": []}, "distinct tracksys"),
        ({"streams": [COP_SPEC, COP_SPEC]}, "distinct tracksys"),
    ],
)
def test_open_session_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, Any] = {
        "athlete": "ana01",
        "start_utc": START_UTC,
        "task": "t",
        "streams": [COP_SPEC],
    }
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        open_session(tmp_path / "ds", **{**args, **kwargs})
    assert not (tmp_path / "ds" / "sub-ana01").exists()


def test_append_rejects_bad_batches(tmp_path: Path) -> None:
    with open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="t", streams=[COP_SPEC]
    ) as w:
        w.append("wii", [1.0], [[0.0, 0.0]])
        with pytest.raises(InvalidArgumentError, match="increase strictly"):
            w.append("wii", [1.0], [[0.0, 0.0]])
        with pytest.raises(InvalidArgumentError, match=r"shape \(2, 3\), expected \(2, 2\)"):
            w.append("wii", [2.0, 3.0], np.zeros((2, 3)))
        with pytest.raises(InvalidArgumentError, match="finite"):
            w.append("wii", [2.0], [[np.inf, 0.0]])
        with pytest.raises(InvalidArgumentError, match="tracksys 'imu' is not in this session"):
            w.append("imu", [2.0], [[0.0, 0.0]])
    assert read_recording(w.paths("wii").motion_tsv).time_s.tolist() == [1.0]
    with pytest.raises(InvalidArgumentError, match="already closed"):
        w.append("wii", [5.0], [[0.0, 0.0]])


def test_an_existing_session_is_never_overwritten(tmp_path: Path) -> None:
    write_example_session(tmp_path)
    with pytest.raises(DatasetError, match="already exists"):
        write_example_session(tmp_path)
    assert (
        read_session(tmp_path / "sub-ana01" / "ses-20250304T093015").recording("wii").time_s.size
        == 180
    )


def test_a_session_cannot_be_opened_twice_at_once(tmp_path: Path) -> None:
    with open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="a", streams=[COP_SPEC]
    ) as w:
        with pytest.raises(DatasetError, match="being written by another"):
            open_session(
                tmp_path, athlete="ana01", start_utc=START_UTC, task="b", streams=[COP_SPEC]
            )
        w.append("wii", *cop_data(2))


def test_the_dataset_readme_makes_no_unverified_claims(tmp_path: Path) -> None:
    write_example_session(tmp_path, imu_rows=80, cop_rows=60)
    readme = (tmp_path / "README").read_text(encoding="utf-8")
    assert readme.startswith("Balance recordings made with balancelab.")
    assert "http" not in readme and "github" not in readme.lower()


# ---------------------------------------------------------------- fast path == line reader

_COLUMNS = (  # (type, on-disk unit): plain, decimal-shifted (mm, uT, nT, cm) and degree columns
    (ChannelType.ACCEL, "m/s^2"),
    (ChannelType.POS, "mm"),
    (ChannelType.MAGN, "uT"),
    (ChannelType.MAGN, "nT"),
    (ChannelType.POS, "cm"),
    (ChannelType.GYRO, "deg/s"),
    (ChannelType.ORNT, "deg"),
)
_TABLE = ChannelTable(
    tuple(Channel(f"c{i}", t, "x", "board", "SI") for i, (t, _) in enumerate(_COLUMNS)),
    (READABLE_UNITS["LATENCY"]["s"], *(READABLE_UNITS[t][u] for t, u in _COLUMNS)),
)


@st.composite
def plain_cells(draw: st.DrawFn) -> str:
    """A finite number as any writer might spell it: repr, fixed, exponent, '+', 'E', or n/a."""
    value = draw(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
    )
    digits = draw(st.integers(0, 20))
    spelled = draw(
        st.sampled_from(
            [repr(value), f"{value:.{digits}e}", f"{value:.{digits}E}", f"{value:.{digits}f}",
             f"{value:+.{digits}e}", f"{value:.{digits}g}", "n/a", "0", "-0", "5."]
        )
    )  # fmt: skip
    return spelled if spelled.lower() not in ("inf", "-inf", "nan") else "n/a"


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.floats(1e-6, 10.0), min_size=1, max_size=30),
    data=st.data(),
)
def test_fast_path_and_line_reader_agree_bit_for_bit(
    steps: list[float], data: st.DataObject
) -> None:
    """Well-formed files with any spelling of numbers: pyarrow's fast path accepts them and gives
    the line reader's floats bit for bit (decimal-shifted and degree columns included)."""
    times = np.cumsum(steps)
    assert np.all(np.diff(times) > 0)
    lines = [
        "\t".join([repr(float(t)), *(data.draw(plain_cells()) for _ in _COLUMNS)]) for t in times
    ]
    text = ("\n".join(lines) + "\n").encode("ascii")
    fast = _parse_well_formed(text, _TABLE)
    assert fast is not None
    rows = np.array([r.values for r in iter_motion_rows(text, Path("x_motion.tsv"), _TABLE)])
    assert np.array_equal(np.isnan(fast), np.isnan(rows))
    finite = ~np.isnan(rows)
    assert np.array_equal(fast[finite].view(np.int64), rows[finite].view(np.int64))


_FOREIGN_JUNK = (
    b" ", b"\r", b"\r\n", b"nan", b"inf", b"-inf", b"Infinity", b"1_0", b"\xef\xbb\xbf", b"0x1",
    b"1e400", b"N/A", b"\x00", "\uff11".encode(), b"n/a", b"-n/a", b"\t", b"\n", b"e5", b"1e",
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0),
    junk=st.sampled_from(_FOREIGN_JUNK),
    column=st.integers(0, len(_COLUMNS)),
)
def test_what_the_fast_path_accepts_the_line_reader_reads_the_same(
    position: int, junk: bytes, column: int
) -> None:
    """Spellings Arrow alone would take (spaces, CR, inf, nan ...) never pass the fast path
    with other floats than the line reader's; a refusal falls back to the line reader."""
    lines = ["\t".join([repr(0.01 * (r + 1)), *(["12.5"] * len(_COLUMNS))]) for r in range(6)]
    text = ("\n".join(lines) + "\n").encode("ascii")
    cell_start = [i + 1 for i, b in enumerate(text) if b in b"\t\n"]
    at = cell_start[position % len(cell_start)] if column else position % len(text)
    data = text[:at] + junk + text[at:]
    fast = _parse_well_formed(data, _TABLE)
    if fast is None:
        return
    rows = np.array([r.values for r in iter_motion_rows(data, Path("x_motion.tsv"), _TABLE)])
    assert np.array_equal(np.isnan(fast), np.isnan(rows))
    finite = ~np.isnan(rows)
    assert np.array_equal(fast[finite].view(np.int64), rows[finite].view(np.int64))
