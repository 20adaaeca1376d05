"""Import memory is bounded by the data kept, not by the file: zip bombs and lying zips are
refused while unpacking little, a file that is garbage near its start is refused after its
first lines, and a large valid CSV costs a small multiple of the arrays it yields.

Memory is measured in a fresh process (its peak resident size above what it held before the
import), with generous factors; nothing here is a timing.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError
from balancelab.formats._sources import MAX_ZIP_RATIO
from balancelab.formats.importers import ImportKind, import_file
from tests.support import REPO_ROOT

MIB = 2**20
PHYPHOX_HEADER = (
    b'"Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)"\n'
)
LOGGER_HEADER = b"time,seconds_elapsed,z,y,x\n"


def write_bomb(path: Path, member: str, header: bytes, megabytes: int, fill: bytes) -> None:
    """A zip whose one member is `header` then `megabytes` MiB of `fill` repeated, written in
    blocks through zipfile's streaming writer (the test never holds it in memory)."""
    block = fill * (MIB // len(fill))
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(member, "w") as out,
    ):
        out.write(header)
        for _ in range(megabytes):
            out.write(block)


def declare_sizes(path: Path, *, compressed: int | None = None, size: int | None = None) -> None:
    """Rewrite the sizes the zip declares for its first member (local header and central
    directory), leaving the compressed data as it is."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    for at, offset in ((local, 18), (central, 20)):
        if compressed is not None:
            struct.pack_into("<I", data, at + offset, compressed)
        if size is not None:
            struct.pack_into("<I", data, at + offset + 4, size)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def bomb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bombs")


@pytest.mark.parametrize(
    ("member", "header", "kind"),
    [
        ("Accelerometer.csv", PHYPHOX_HEADER, ImportKind.PHYPHOX),
        ("TotalAcceleration.csv", LOGGER_HEADER, ImportKind.SENSOR_LOGGER),
    ],
    ids=["phyphox", "sensorlogger"],
)
def test_compression_bomb_is_refused_before_unpacking(
    bomb_dir: Path, member: str, header: bytes, kind: ImportKind
) -> None:
    path = bomb_dir / f"{kind}.zip"
    write_bomb(path, member, header, 128, b"0")  # 128 MiB of '0' deflate to under 1 MiB
    assert path.stat().st_size < MIB
    for given in (None, kind):  # detected from the file names, and named by the user
        with pytest.raises(FormatError, match=rf"over the {MAX_ZIP_RATIO}:1 limit") as info:
            import_file(path, kind=given)
        message = str(info.value)
        assert f"the zip member {member!r} unpacks" in message
        assert "to 128 MB, a ratio of" in message
        assert "compression bomb" in info.value.advice
        assert info.value.path == f"{path} ({member})"


def test_zip_declaring_a_false_ratio_is_stopped_while_unpacking(bomb_dir: Path) -> None:
    """The declared compressed size is raised to the unpacked size (ratio 1:1, allowed); the
    bytes really read from the archive give the ratio away after a few MB."""
    path = bomb_dir / "liar.zip"
    rows = b"0,0,0,9.8\n"
    write_bomb(path, "Accelerometer.csv", PHYPHOX_HEADER, 128, rows)
    unpacked = len(PHYPHOX_HEADER) + 128 * (MIB // len(rows)) * len(rows)
    declare_sizes(path, compressed=unpacked)
    with pytest.raises(
        FormatError, match=rf"expands beyond {MAX_ZIP_RATIO}:1 while unpack"
    ) as info:
        import_file(path, kind=ImportKind.PHYPHOX)
    assert "'Accelerometer.csv'" in str(info.value)
    assert "whatever its declared sizes say" in str(info.value)
    assert "compression bomb" in info.value.advice


MEASURE = """
import json, resource, sys
import pyarrow.csv  # loaded before the baseline: library code, not the import's memory
from balancelab.errors import FormatError
from balancelab.formats.import_csv import parse_columns
from balancelab.formats.importers import import_file
column_map = parse_columns(sys.argv[2], "board")
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = {}
try:
    (rec,) = import_file(sys.argv[1], column_map=column_map)
    result["kept_bytes"] = rec.time_s.nbytes + rec.values.nbytes
except FormatError as exc:
    result["error"], result["line"] = str(exc), exc.line
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result["peak_bytes"] = (peak - before) * scale
print(json.dumps(result))
"""
COLUMNS = "time=t,acc_x=ax,acc_y=ay,acc_z=az,gyr_z=gz,time_units=ms,acc_units=g,gyr_units=deg/s"


def measure(path: Path) -> dict[str, object]:
    """Import `path` in a fresh process; its peak memory above its start, and the result."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), COLUMNS],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def write_rows(out: object, first: int, rows: int) -> None:
    t = (first + np.arange(rows)) * 2.0
    lines = "".join(f"{x:.1f},0.012345,-0.023456,0.998765,12.3456\n" for x in t.tolist())
    out.write(lines.encode())  # type: ignore[attr-defined]


def test_large_csv_costs_a_small_multiple_of_the_kept_arrays(tmp_path: Path) -> None:
    """800,000 rows (38 MB) kept as 5 float64 columns (32 MB). Bound: 4x the kept arrays
    (they are built once from the parsed columns, twice over at most while stacking) plus
    64 MiB for Arrow's blocks and allocator slack; the reader that held the file as Python
    strings needed ~19x."""
    path = tmp_path / "imu.csv"
    with path.open("wb") as out:
        out.write(b"t,ax,ay,az,gz\n")
        for first in range(0, 800_000, 100_000):
            write_rows(out, first, 100_000)
    result = measure(path)
    kept = result["kept_bytes"]
    assert isinstance(kept, int)
    assert kept == 800_000 * 5 * 8
    peak = result["peak_bytes"]
    assert isinstance(peak, int)
    assert peak < 4 * kept + 64 * MIB, f"peak {peak / MIB:.0f} MiB for {kept / MIB:.0f} MiB kept"


def test_garbage_near_the_start_is_refused_after_the_first_lines(tmp_path: Path) -> None:
    """Line 3 is garbage and 100 MiB of rows follow: refused naming line 3, with memory
    independent of the file (the old reader held the whole file, bytes and text, first)."""
    path = tmp_path / "garbage.csv"
    block = b"0,0,0,1,0\n" * (MIB // 10)
    with path.open("wb") as out:
        out.write(b"t,ax,ay,az,gz\n0,0,0,1,0\n\x7fELF garbage;;\n")
        for _ in range(100):
            out.write(block)
    result = measure(path)
    assert result["line"] == 3
    assert "this row has 1 cells, expected 5 separated by comma" in str(result["error"])
    peak = result["peak_bytes"]
    assert isinstance(peak, int)
    assert peak < 32 * MIB, f"peak {peak / MIB:.0f} MiB"
