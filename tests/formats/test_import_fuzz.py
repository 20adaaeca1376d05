"""Random corruptions of valid files: every importer returns Recordings or a BalancelabError."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.errors import BalancelabError
from balancelab.formats.importers import ImportKind, import_file
from balancelab.model import Recording
from tests.formats.test_import_csv import GOOD, IMU_MAP
from tests.formats.test_import_phyphox import phyphox_files
from tests.formats.test_import_sensorlogger import sensorlogger_files
from tests.support import SHARED_DATA

Mutation = Callable[[st.DataObject, bytes], bytes]
FUZZ = settings(max_examples=150, deadline=None)


def head(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[:lines]) + "\n"


def text_targets() -> dict[str, tuple[str, bytes, dict[str, object]]]:
    """name -> (file name, valid bytes, import_file keyword arguments)."""
    bds = (SHARED_DATA / "bds" / "BDS00001.txt").read_text(encoding="ascii")
    pds = (SHARED_DATA / "pds" / "PDS13CF1grf.txt").read_text(encoding="ascii")
    phyphox = head(phyphox_files(sep=";", decimal=",")["Accelerometer.csv"])
    logger = head(sensorlogger_files()["Gyroscope.csv"])
    return {
        "csv": ("data.csv", GOOD.encode(), {"column_map": IMU_MAP}),
        "bds": ("BDS.txt", head(bds).encode(), {"kind": ImportKind.FORCEPLATE}),
        "pds": ("PDS.txt", head(pds).encode(), {"kind": ImportKind.FORCEPLATE, "per_foot": True}),
        "phyphox": ("Raw Data.csv", phyphox.encode(), {"kind": ImportKind.PHYPHOX}),
        "logger": ("Gyroscope.csv", logger.encode(), {"kind": ImportKind.SENSOR_LOGGER}),
    }


TEXT_TARGETS = text_targets()


def truncate(data: st.DataObject, raw: bytes) -> bytes:
    return raw[: data.draw(st.integers(0, len(raw)))]


def flip(data: st.DataObject, raw: bytes) -> bytes:
    at = data.draw(st.integers(0, len(raw) - 1))
    return raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]


def insert(data: st.DataObject, raw: bytes) -> bytes:
    at = data.draw(st.integers(0, len(raw)))
    return raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]


def lines_of(raw: bytes) -> list[bytes]:
    return raw.split(b"\n")


def swap_delimiter(data: st.DataObject, raw: bytes) -> bytes:
    old, new = data.draw(st.permutations([b",", b";", b"\t"]))[:2]
    lines = lines_of(raw)
    row = data.draw(st.integers(0, len(lines) - 1))
    if data.draw(st.booleans()):
        return raw.replace(old, new)
    lines[row] = lines[row].replace(old, new)
    return b"\n".join(lines)


def split_cells(line: bytes) -> tuple[bytes, list[bytes]]:
    sep = max((b"\t", b";", b","), key=line.count)
    return sep, line.split(sep)


def drop_column(data: st.DataObject, raw: bytes) -> bytes:
    lines = lines_of(raw)
    sep, header = split_cells(lines[0])
    col = data.draw(st.integers(0, len(header) - 1))
    every = data.draw(st.booleans())
    out = []
    for index, line in enumerate(lines):
        cells = line.split(sep)
        if (every or index == 0) and col < len(cells):
            del cells[col]
        out.append(sep.join(cells))
    return b"\n".join(out)


def non_numeric_cell(data: st.DataObject, raw: bytes) -> bytes:
    lines = lines_of(raw)
    row = data.draw(st.integers(0, len(lines) - 1))
    sep, cells = split_cells(lines[row])
    col = data.draw(st.integers(0, len(cells) - 1))
    cells[col] = data.draw(st.sampled_from([b"abc", b"1.2.3", b"--", b"inf", b"0x1F", b"", b"NaN"]))
    lines[row] = sep.join(cells)
    return b"\n".join(lines)


def shuffle_lines(data: st.DataObject, raw: bytes) -> bytes:
    return b"\n".join(data.draw(st.permutations(lines_of(raw))))


MUTATIONS: list[Mutation] = [
    truncate,
    flip,
    insert,
    swap_delimiter,
    drop_column,
    non_numeric_cell,
    shuffle_lines,
]


def mutate(data: st.DataObject, raw: bytes) -> bytes:
    return data.draw(st.sampled_from(MUTATIONS))(data, raw)


def check_import(path: Path, options: dict[str, object]) -> None:
    """The one property: Recordings come out, or a BalancelabError; nothing else."""
    try:
        result = import_file(path, **options)  # type: ignore[arg-type]
    except BalancelabError:
        return
    assert result
    assert all(isinstance(rec, Recording) for rec in result)


@FUZZ
@given(data=st.data(), target=st.sampled_from(sorted(TEXT_TARGETS)))
def test_corrupted_text_files(data: st.DataObject, target: str) -> None:
    name, raw, options = TEXT_TARGETS[target]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(mutate(data, raw))
        check_import(path, options)


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def archive_members(kind: str) -> dict[str, bytes]:
    files = phyphox_files() if kind == "phyphox" else sensorlogger_files()
    return {name: head(text, 80).encode() for name, text in files.items()}


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["phyphox", "logger"]))
def test_corrupted_archives(data: st.DataObject, kind: str) -> None:
    members = archive_members(kind)
    if data.draw(st.booleans()):
        victim = data.draw(st.sampled_from(sorted(members)))
        members[victim] = mutate(data, members[victim])
        raw = zip_bytes(members)
    else:
        raw = data.draw(st.sampled_from([truncate, flip, insert]))(data, zip_bytes(members))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.zip"
        path.write_bytes(raw)
        check_import(path, {})
