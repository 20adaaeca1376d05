"""One conformance suite that every file reader passes, as MNE's `_test_raw_reader` does for its
readers: known values in the exporter's units come back in SI, a bad line is named (file and
line), a row with missing cells follows the reader's stated rule, and so does a cut last line.

Each reader is fed a small export written here in its exporter's layout (the layouts and their
sources: test_import_phyphox.py, test_import_sensorlogger.py, test_import_forceplate.py,
test_import_csv.py, test_bids_roundtrip.py). The rules each reader documents are stated in its
`Reader` below:
- a data cell spelled as the exporter writes a missing value is kept as a gap (NaN, the row and
  its time kept, counted in `lost_samples`); an empty time cell is refused, its line named;
- Motion-BIDS writes a missing value `n/a` only: an empty cell there is refused, its line named;
- a last line cut short (fewer cells) is refused, its line named; a last line that lacks only its
  newline is read like any other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError
from balancelab.formats.bids import StreamPaths
from balancelab.formats.bids_reader import read_recording
from balancelab.formats.import_csv import ColumnMap, import_csv
from balancelab.formats.import_forceplate import import_forceplate
from balancelab.formats.import_phyphox import import_phyphox
from balancelab.formats.import_sensorlogger import import_sensorlogger
from balancelab.model import STANDARD_GRAVITY_MS2, Recording

DEG = math.pi / 180.0
START_NS = 1_698_501_144_185_000_000  # a Sensor Logger recording's Unix time (ns)
SMALL_ROWS = 40
# More rows than the 64 KB the importers check line by line before handing the rest to Arrow,
# so that a bad line there is found on the fast path too.
LARGE_ROWS = 4000


@dataclass(frozen=True)
class Export:
    given: Path  # what the reader is given (a file or an export folder)
    data_file: Path  # the file that holds the rows


@dataclass(frozen=True)
class Reader:
    """One file reader, the layout its exporter writes, and its documented rules.

    `row(i)` gives the cells of data row i as the exporter writes them (its units and number
    format); `expect(cells)` their time (s) and values in SI, in the Recording's channel order,
    computed here from the text; `time_cells` / `data_cells` index the row's time and data cells.
    `missing` is how the exporter writes a missing value; `first_line` is the file line of data
    row 0. A phone export's data cells are its acceleration; its gyroscope is another file.
    """

    name: str
    row: Callable[[int], list[str]]
    expect: Callable[[list[str]], tuple[float, list[float]]]
    write: Callable[[Path, list[str]], Export]
    read: Callable[[Path], Recording]
    channels: tuple[str, ...]
    units: tuple[str, ...]
    sep: str
    time_cells: tuple[int, ...]
    data_cells: tuple[int, ...]
    missing: str
    first_line: int
    newline: str = "\n"
    empty_cell_is_gap: bool = True
    fed_by_data_cells: tuple[int, ...] = ()  # the Recording's columns the data cells feed


def noise(i: int, column: int) -> float:
    """A reproducible value in [-1, 1) for row i, column `column`."""
    return math.sin(0.37 * i + 1.3 * column) * math.cos(0.011 * i * (column + 1))


# Motion-BIDS, as another tool could write it: every unit channels.tsv allows besides SI.
BIDS_CHANNELS = (
    ("board_acc_x", "x", "ACCEL", "board", "m/s^2", 1.0),
    ("board_gyr_x", "x", "GYRO", "board", "deg/s", DEG),
    ("board_mag_x", "x", "MAGN", "board", "uT", 1e-6),
    ("board_ori_x", "x", "ORNT", "board", "deg", DEG),
    ("cop_pos_x", "x", "POS", "cop", "mm", 1e-3),
    ("cop_force_z", "z", "MISC", "cop", "N", 1.0),
)
BIDS_CENTRES = (9.80665, 12.5, -41.25, 90.0, -12.3456, 700.25)


def bids_row(i: int) -> list[str]:
    cells = [f"{i / 100:.2f}"]
    for column, centre in enumerate(BIDS_CENTRES):
        cells.append(f"{centre + noise(i, column):.6f}")
    return cells


def bids_expect(cells: list[str]) -> tuple[float, list[float]]:
    factors = [c[5] for c in BIDS_CHANNELS]
    return float(cells[0]), [float(c) * f for c, f in zip(cells[1:], factors, strict=True)]


def write_bids(folder: Path, lines: list[str]) -> Export:
    paths = StreamPaths.of(folder, "ana01", "20250304T093015", "balance", "mocap")
    header = "name\tcomponent\ttype\ttracked_point\tunits\n"
    rows = ["time\tn/a\tLATENCY\tn/a\ts"] + ["\t".join(c[:5]) for c in BIDS_CHANNELS]
    paths.channels_tsv.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    motion = {"TaskName": "balance", "SamplingFrequency": 100, "TrackingSystemName": "mocap"}
    paths.motion_json.write_text(json.dumps(motion), encoding="utf-8")
    paths.motion_tsv.write_bytes("".join(lines).encode("utf-8"))
    return Export(paths.motion_tsv, paths.motion_tsv)


def java_sci(value: float) -> str:
    """A number as phyphox writes it: Java's DecimalFormat("0.000000000E0")."""
    mantissa, exponent = f"{value:.9E}".split("E")
    return f"{mantissa}E{int(exponent)}"


PHYPHOX_ACC = ('"Time (s)"', '"Acceleration x (m/s^2)"', '"Acceleration y (m/s^2)"')
PHYPHOX_ACC += ('"Acceleration z (m/s^2)"',)
PHYPHOX_GYR = ('"Time (s)"', '"Gyroscope x (rad/s)"', '"Gyroscope y (rad/s)"')
PHYPHOX_GYR += ('"Gyroscope z (rad/s)"',)
ACC_CENTRES = (0.3, -0.4, 9.79)


def phyphox_row(i: int) -> list[str]:
    values = [0.0094 + 0.005 * i] + [c + 0.05 * noise(i, k) for k, c in enumerate(ACC_CENTRES)]
    return [java_sci(v) for v in values]


def imu_expect(cells: list[str]) -> tuple[float, list[float]]:
    """Acceleration (m/s^2) on the rows' times, and the gyroscope written as (t, -x, 2x, y)."""
    acc = [float(c) for c in cells[1:4]]
    return float(cells[0]), [*acc, *gyro_of(acc)]


def gyro_of(acc: list[float]) -> list[float]:
    """The gyroscope rows (rad/s) written beside the acceleration: exact in binary."""
    return [-acc[0], 2.0 * acc[0], acc[1]]


def write_phyphox(folder: Path, lines: list[str]) -> Export:
    """A multi-sensor phyphox export folder: Accelerometer.csv and Gyroscope.csv."""
    acc = folder / "Accelerometer.csv"
    acc.write_text(",".join(PHYPHOX_ACC) + "\n" + "".join(lines), encoding="utf-8")
    gyro = [",".join(PHYPHOX_GYR)]
    for i in range(len(lines)):
        cells = phyphox_row(i)
        x, y = float(cells[1]), float(cells[2])
        gyro.append(",".join([cells[0], *(java_sci(v) for v in gyro_of([x, y]))]))
    (folder / "Gyroscope.csv").write_text("\n".join(gyro) + "\n", encoding="utf-8")
    return Export(folder, acc)


def sensorlogger_row(i: int) -> list[str]:
    seconds = round(0.01 * i + 0.0017, 6)
    x, y, z = (c + 0.05 * noise(i, k) for k, c in enumerate(ACC_CENTRES))
    return [str(START_NS + round(seconds * 1e9)), repr(seconds), repr(z), repr(y), repr(x)]


def sensorlogger_expect(cells: list[str]) -> tuple[float, list[float]]:
    acc = [float(cells[4]), float(cells[3]), float(cells[2])]
    return float(cells[1]), [*acc, *gyro_of(acc)]


def write_sensorlogger(folder: Path, lines: list[str]) -> Export:
    """A Sensor Logger export folder: TotalAcceleration.csv and Gyroscope.csv (Android)."""
    acc = folder / "TotalAcceleration.csv"
    acc.write_text("time,seconds_elapsed,z,y,x\n" + "".join(lines), encoding="utf-8")
    gyro = ["time,seconds_elapsed,z,y,x"]
    for i in range(len(lines)):
        cells = sensorlogger_row(i)
        x, y = float(cells[4]), float(cells[3])
        gx, gy, gz = gyro_of([x, y])
        gyro.append(",".join([cells[0], cells[1], repr(gz), repr(gy), repr(gx)]))
    (folder / "Gyroscope.csv").write_text("\n".join(gyro) + "\n", encoding="utf-8")
    return Export(folder, acc)


BDS_HEADER = "Time[s]\tFx[N]\tFy[N]\tFz[N]\tMx[Nm]\tMy[Nm]\tMz[Nm]\tCOPx[cm]\tCOPy[cm]"
BDS_CENTRES = (-1.63, -3.74, 539.07, 5.38, 43.06, -0.57, -7.99, 1.0)


def bds_row(i: int) -> list[str]:
    cells = [f"{0.01 * (i + 1):.3f}"]
    return cells + [f"{c + noise(i, k):.6f}" for k, c in enumerate(BDS_CENTRES)]


def bds_expect(cells: list[str]) -> tuple[float, list[float]]:
    """COPy (cm) is medio-lateral x, COPx (cm) antero-posterior y; Fz (N) the force."""
    return float(cells[0]), [float(cells[8]) * 0.01, float(cells[7]) * 0.01, float(cells[3])]


def write_bds(folder: Path, lines: list[str]) -> Export:
    path = folder / "BDS00001.txt"
    path.write_bytes((BDS_HEADER + "\r\n" + "".join(lines)).encode("ascii"))
    return Export(path, path)


CSV_MAP = ColumnMap(
    time="t",
    time_units="ms",
    columns={
        "board_acc_x": ("ax", "g"),
        "board_acc_y": ("ay", "g"),
        "board_acc_z": ("az", "g"),
        "board_gyr_x": ("gx", "deg/s"),
        "board_mag_x": ("mx", "µT"),
    },
)
CSV_CENTRES = (0.01, -0.02, 0.99, 3.5, 25.75)
CSV_FACTORS = (STANDARD_GRAVITY_MS2,) * 3 + (DEG, 1e-6)


def csv_row(i: int) -> list[str]:
    return [str(5 * i), *(f"{c + 0.01 * noise(i, k):.5f}" for k, c in enumerate(CSV_CENTRES))]


def csv_expect(cells: list[str]) -> tuple[float, list[float]]:
    values = [float(c) * f for c, f in zip(cells[1:], CSV_FACTORS, strict=True)]
    return float(cells[0]) * 1e-3, values


def write_csv(folder: Path, lines: list[str]) -> Export:
    path = folder / "board.csv"
    path.write_text("t,ax,ay,az,gx,mx\n" + "".join(lines), encoding="utf-8")
    return Export(path, path)


PHONE_CHANNELS = tuple(f"sternum_{q}_{a}" for q in ("acc", "gyr") for a in "xyz")
PHONE_UNITS = ("m/s^2",) * 3 + ("rad/s",) * 3

READERS = [
    Reader(
        "motion-bids",
        bids_row,
        bids_expect,
        write_bids,
        read_recording,
        channels=tuple(c[0] for c in BIDS_CHANNELS),
        units=("m/s^2", "rad/s", "T", "rad", "m", "N"),
        sep="\t",
        time_cells=(0,),
        data_cells=(1, 2, 3, 4, 5, 6),
        missing="n/a",
        first_line=1,
        empty_cell_is_gap=False,
        fed_by_data_cells=(0, 1, 2, 3, 4, 5),
    ),
    Reader(
        "phyphox",
        phyphox_row,
        imu_expect,
        write_phyphox,
        import_phyphox,
        channels=PHONE_CHANNELS,
        units=PHONE_UNITS,
        sep=",",
        time_cells=(0,),
        data_cells=(1, 2, 3),
        missing="NaN",
        first_line=2,
        fed_by_data_cells=(0, 1, 2),
    ),
    Reader(
        "sensorlogger",
        sensorlogger_row,
        sensorlogger_expect,
        write_sensorlogger,
        import_sensorlogger,
        channels=PHONE_CHANNELS,
        units=PHONE_UNITS,
        sep=",",
        time_cells=(1,),
        data_cells=(2, 3, 4),
        missing="",
        first_line=2,
        fed_by_data_cells=(0, 1, 2),
    ),
    Reader(
        "forceplate",
        bds_row,
        bds_expect,
        write_bds,
        lambda path: import_forceplate(path)[0],
        channels=("cop_pos_x", "cop_pos_y", "cop_force_z"),
        units=("m", "m", "N"),
        sep="\t",
        time_cells=(0,),
        data_cells=(3, 7, 8),
        missing="",
        first_line=2,
        newline="\r\n",
        fed_by_data_cells=(0, 1, 2),
    ),
    Reader(
        "csv",
        csv_row,
        csv_expect,
        write_csv,
        lambda path: import_csv(path, CSV_MAP),
        channels=("board_acc_x", "board_acc_y", "board_acc_z", "board_gyr_x", "board_mag_x"),
        units=("m/s^2", "m/s^2", "m/s^2", "rad/s", "T"),
        sep=",",
        time_cells=(0,),
        data_cells=(1, 2, 3, 4, 5),
        missing="",
        first_line=2,
        fed_by_data_cells=(0, 1, 2, 3, 4),
    ),
]
EACH_READER = pytest.mark.parametrize("reader", READERS, ids=[r.name for r in READERS])
SIZES = pytest.mark.parametrize("rows", [SMALL_ROWS, LARGE_ROWS], ids=["small", "large"])


def all_rows(reader: Reader, count: int) -> list[list[str]]:
    return [reader.row(i) for i in range(count)]


def lines_of(reader: Reader, rows: list[list[str]]) -> list[str]:
    return [reader.sep.join(cells) + reader.newline for cells in rows]


def export(tmp_path: Path, reader: Reader, lines: list[str]) -> Export:
    folder = tmp_path / reader.name
    folder.mkdir()
    return reader.write(folder, lines)


def check_values(recording: Recording, reader: Reader, rows: list[list[str]]) -> None:
    expected = [reader.expect(cells) for cells in rows]
    time_s = np.array([t for t, _ in expected])
    values = np.array([v for _, v in expected])
    np.testing.assert_allclose(recording.time_s, time_s, rtol=1e-12, atol=0)
    np.testing.assert_allclose(recording.values, values, rtol=1e-12, atol=0)


@EACH_READER
@SIZES
def test_known_values_come_back_in_si_units(tmp_path: Path, reader: Reader, rows: int) -> None:
    written = all_rows(reader, rows)
    recording = reader.read(export(tmp_path, reader, lines_of(reader, written)).given)
    assert recording.channel_names == reader.channels
    assert tuple(c.units for c in recording.channels) == reader.units
    check_values(recording, reader, written)
    assert recording.lost_samples == 0


@EACH_READER
@SIZES
def test_a_bad_line_is_named_with_its_file(tmp_path: Path, reader: Reader, rows: int) -> None:
    written = all_rows(reader, rows)
    bad = rows - 7  # in the head of a small file, past the line-checked head of a large one
    written[bad][reader.data_cells[0]] = "1.2.3"
    given = export(tmp_path, reader, lines_of(reader, written))
    with pytest.raises(FormatError) as caught:
        reader.read(given.given)
    assert caught.value.path == str(given.data_file)
    assert caught.value.line == reader.first_line + bad
    assert "'1.2.3'" in str(caught.value)


@EACH_READER
def test_a_row_of_missing_data_cells_is_kept_as_a_gap(tmp_path: Path, reader: Reader) -> None:
    written = all_rows(reader, SMALL_ROWS)
    gap = 12
    for cell in reader.data_cells:
        written[gap][cell] = reader.missing
    recording = reader.read(export(tmp_path, reader, lines_of(reader, written)).given)
    assert recording.time_s.size == SMALL_ROWS
    assert recording.time_s[gap] == reader.expect(reader.row(gap))[0]
    assert np.isnan(recording.values[gap, list(reader.fed_by_data_cells)]).all()
    assert recording.lost_samples == 1
    kept = np.delete(np.arange(SMALL_ROWS), gap)
    expected = np.array([reader.expect(written[i])[1] for i in kept])
    np.testing.assert_allclose(recording.values[kept], expected, rtol=1e-12, atol=0)


@EACH_READER
def test_a_row_without_its_time_is_refused_with_its_line(tmp_path: Path, reader: Reader) -> None:
    written = all_rows(reader, SMALL_ROWS)
    for cell in reader.time_cells:
        written[9][cell] = reader.missing
    given = export(tmp_path, reader, lines_of(reader, written))
    with pytest.raises(FormatError) as caught:
        reader.read(given.given)
    assert (caught.value.path, caught.value.line) == (str(given.data_file), reader.first_line + 9)
    assert "time" in caught.value.message


@EACH_READER
def test_an_empty_cell_follows_the_readers_rule(tmp_path: Path, reader: Reader) -> None:
    """An empty cell is a gap where the exporter writes missing values so; Motion-BIDS writes
    `n/a`, and refuses an empty cell with its line."""
    written = all_rows(reader, SMALL_ROWS)
    written[5][reader.data_cells[0]] = ""
    given = export(tmp_path, reader, lines_of(reader, written))
    if reader.empty_cell_is_gap:
        recording = reader.read(given.given)
        assert np.isnan(recording.values[5]).any() and recording.lost_samples == 1
        return
    with pytest.raises(FormatError) as caught:
        reader.read(given.given)
    assert (caught.value.path, caught.value.line) == (str(given.data_file), reader.first_line + 5)


@EACH_READER
@SIZES
def test_a_last_line_cut_short_is_refused_with_its_line(
    tmp_path: Path, reader: Reader, rows: int
) -> None:
    lines = lines_of(reader, all_rows(reader, rows))
    cells = lines[-1].split(reader.sep)
    lines[-1] = reader.sep.join(cells[:2])[:-2]  # two cells, the second cut, no newline
    given = export(tmp_path, reader, lines)
    with pytest.raises(FormatError) as caught:
        reader.read(given.given)
    assert (caught.value.path, caught.value.line) == (
        str(given.data_file),
        reader.first_line + rows - 1,
    )


@EACH_READER
def test_a_last_line_without_its_newline_is_read(tmp_path: Path, reader: Reader) -> None:
    written = all_rows(reader, SMALL_ROWS)
    lines = lines_of(reader, written)
    lines[-1] = lines[-1].rstrip("\r\n")
    recording = reader.read(export(tmp_path, reader, lines).given)
    check_values(recording, reader, written)
