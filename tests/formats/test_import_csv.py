"""Generic CSV import through a ColumnMap: units, delimiters, and every kind of bad file."""

from __future__ import annotations

import math
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats._tabular import UNITS
from balancelab.formats.import_csv import ColumnMap, import_csv
from balancelab.formats.import_phyphox import import_phyphox

# unit -> (channel name using it, factor to SI), written out by hand
UNIT_CASES = {
    "m/s^2": ("board_acc_x", 1.0),
    "g": ("board_acc_x", 9.80665),
    "mg": ("board_acc_x", 0.00980665),
    "rad/s": ("board_gyr_x", 1.0),
    "deg/s": ("board_gyr_x", math.pi / 180),
    "dps": ("board_gyr_x", math.pi / 180),
    "m": ("cop_pos_x", 1.0),
    "cm": ("cop_pos_x", 0.01),
    "mm": ("cop_pos_x", 0.001),
    "T": ("board_mag_x", 1.0),
    "uT": ("board_mag_x", 1e-6),
    "nT": ("board_mag_x", 1e-9),
    "rad": ("board_ori_x", 1.0),
    "deg": ("board_ori_x", math.pi / 180),
}
TIME_CASES = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "100us": 1e-4}
IMU_MAP = ColumnMap(
    time="t",
    time_units="ms",
    columns={
        "board_acc_x": ("ax", "g"),
        "board_acc_y": ("ay", "g"),
        "board_acc_z": ("az", "g"),
        "board_gyr_z": ("gz", "dps"),
    },
)
GOOD = "t,ax,ay,az,gz\n0,0,0,1,90\n10,0.5,0,1,-90\n20,,0,1,0\n30,0,0,1,180\n"


def write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_every_unit_in_the_table_is_tested() -> None:
    assert set(UNITS) == set(UNIT_CASES) | set(TIME_CASES)


@pytest.mark.parametrize(("unit", "case"), UNIT_CASES.items())
def test_channel_units_convert_to_si(tmp_path: Path, unit: str, case: tuple[str, float]) -> None:
    channel, factor = case
    cmap = ColumnMap(time="t", columns={channel: ("v", unit)})
    rec = import_csv(write(tmp_path, "t,v\n0,2.5\n1,-4\n"), cmap)
    np.testing.assert_allclose(rec.channel(channel), [2.5 * factor, -4 * factor], rtol=1e-12)


@pytest.mark.parametrize(("unit", "factor"), TIME_CASES.items())
def test_time_units_convert_to_seconds(tmp_path: Path, unit: str, factor: float) -> None:
    cmap = ColumnMap(time="t", time_units=unit, columns={"board_acc_x": ("v", "g")})
    rec = import_csv(write(tmp_path, "t,v\n0,1\n5,1\n10,1\n"), cmap)
    np.testing.assert_allclose(rec.time_s, [0, 5 * factor, 10 * factor])


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        GOOD.replace(",", ";"),
        GOOD.replace(",", "\t"),
        GOOD.replace(",", ";").replace("0.5", "0,5"),
        GOOD.replace("\n", "\r\n"),
    ],
    ids=["comma", "semicolon", "tab", "decimal-comma", "crlf"],
)
def test_delimiters_are_sniffed(tmp_path: Path, text: str) -> None:
    rec = import_csv(write(tmp_path, text), IMU_MAP, tracksys="wit")
    np.testing.assert_allclose(rec.time_s, [0, 0.01, 0.02, 0.03])
    np.testing.assert_allclose(rec.channel("board_acc_x")[:2], [0, 0.5 * 9.80665])
    np.testing.assert_allclose(rec.channel("board_gyr_z"), np.radians([90, -90, 0, 180]))
    assert np.isnan(rec.channel("board_acc_x")[2])
    assert rec.lost_samples == 1
    assert rec.nominal_fs_hz == 100.0
    assert rec.tracksys == "wit"


def test_unix_times_set_the_start(tmp_path: Path) -> None:
    cmap = ColumnMap(time="ts", time_units="ms", columns={"lowback_acc_z": ("a", "m/s^2")})
    rec = import_csv(write(tmp_path, "ts,a\n1700000000000,9.8\n1700000000020,9.7\n"), cmap)
    assert rec.start_utc == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    np.testing.assert_allclose(rec.time_s, [0.0, 0.02])


def test_unknown_unit_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'furlong'.*use one of m/s\^2, g, mg"):
        ColumnMap(time="t", columns={"board_acc_x": ("a", "furlong")})
    with pytest.raises(InvalidArgumentError, match=r"time_units 'h'.*s, ms, us, ns"):
        ColumnMap(time="t", time_units="h", columns={"board_acc_x": ("a", "g")})
    with pytest.raises(InvalidArgumentError, match="not allowed for acceleration"):
        ColumnMap(time="t", columns={"board_acc_x": ("a", "rad/s")})


@pytest.mark.parametrize("name", ["acc_x", "board_speed_x", "knee_acc_x"])
def test_bad_channel_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgumentError):
        ColumnMap(time="t", columns={name: ("a", "g")})


BAD_FILES = {
    "truncated": (GOOD + "40,0.1,0", 6, "truncated"),
    "wrong delimiter": (GOOD.replace("10,0.5,0,1,-90", "10;0.5;0;1;-90"), 3, "1 cells"),
    "non-numeric": (GOOD.replace("-90", "abc"), 3, "'abc' in column 'gz' is not a number"),
    "nan time": (GOOD.replace("20,,0,1,0", "NaN,,0,1,0"), 4, "time cell"),
    "empty time": (GOOD.replace("20,,0,1,0", ",,0,1,0"), 4, "time cell"),
    "backwards": (GOOD.replace("30,0,0", "15,0,0"), 5, "goes back from 20"),
    "duplicate": (GOOD.replace("30,0,0", "20,0,0"), 5, "repeats 20"),
    "no rows": ("t,ax,ay,az,gz\n", 2, "no data rows"),
    "one row": ("t,ax,ay,az,gz\n0,0,0,1,1\n", None, "at least 2 samples"),
    "no separator": ("hello world\n1\n", 1, "no column separator"),
    "infinite": (GOOD.replace("-90", "1e999"), 3, "not a number"),
    "bad quoting": ('t,ax,ay,az,gz\n0,"1"x,0,1,1\n', 2, "malformed CSV"),
}


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_text_names_file_and_line(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FormatError, match=message) as info:
        import_csv(path, IMU_MAP)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert str(path) in str(info.value)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("gz", "gyro_z"))
    with pytest.raises(FormatError, match="missing column 'gz'; the header has") as info:
        import_csv(path, IMU_MAP)
    assert info.value.line == 1


BAD_BYTES = {
    "empty": (b"", None, "empty"),
    "blank": (b"\n\n  \n", None, "empty"),
    "binary": (b"t,a\n0,1\n\x00\x01\x02\xff", 3, "binary"),
    "latin-1": ("t,a\n0,1\n1,caf\xe9\n".encode("latin-1"), 3, "not UTF-8"),
}


@pytest.mark.parametrize(("raw", "line", "message"), BAD_BYTES.values(), ids=BAD_BYTES.keys())
def test_bad_bytes_name_file_and_line(
    tmp_path: Path, raw: bytes, line: int | None, message: str
) -> None:
    path = write(tmp_path, raw)
    with pytest.raises(FormatError, match=message) as info:
        import_csv(path, ColumnMap(time="t", columns={"board_acc_x": ("a", "g")}))
    assert info.value.line == line
    assert info.value.path == str(path)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(513 * 2**20)
    with pytest.raises(FormatError, match="513 MB, over the 512 MB limit") as info:
        import_csv(path, IMU_MAP)
    assert "Split the recording" in info.value.advice


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read the file"):
        import_csv(tmp_path / "nope.csv", IMU_MAP)


def test_not_a_zip_and_corrupt_zip(tmp_path: Path) -> None:
    fake = write(tmp_path, "just text\n", name="export.zip")
    with pytest.raises(FormatError, match="not a readable zip archive") as info:
        import_phyphox(fake)
    assert info.value.path == str(fake)
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Accelerometer.csv", '"Time (s)","X (m/s^2)"\n' + "0,1\n" * 500)
    cut = write(tmp_path, good.read_bytes()[:-40], name="cut.zip")
    with pytest.raises(FormatError, match="zip"):
        import_phyphox(cut)
