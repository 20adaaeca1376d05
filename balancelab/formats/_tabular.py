"""Shared reading for the importers: size limit, decoding, delimited tables, units, time checks.

Every problem with a file is raised as `FormatError` naming the file and, where known, the line.
"""

from __future__ import annotations

import _csv
import csv
import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.model import STANDARD_GRAVITY_MS2, ChannelType, FloatArray

MAX_FILE_BYTES = 512 * 1024 * 1024
SIZE_ADVICE = (
    "Split the recording into shorter files (for example one per trial) or export only the"
    " sensors you need; balancelab reads files of up to 512 MB."
)
DELIMITERS = ("\t", ";", ",")
DELIMITER_NAMES: Mapping[str, str] = {"\t": "tab", ";": "semicolon", ",": "comma"}
_SEP_DIRECTIVE = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)
_NAN_TOKENS = frozenset({"", "nan", "n/a", "na"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,  # zipfile's answer to a compression method it cannot read
    ValueError,
    OverflowError,
)

# unit -> (dimension, factor to SI)
UNITS: Mapping[str, tuple[str, float]] = {
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "us": ("time", 1e-6),
    "ns": ("time", 1e-9),
    "100us": ("time", 1e-4),  # 10-kHz ticks, e.g. Xsens MT Manager's SampleTimeFine
    "m/s^2": ("acceleration", 1.0),
    "g": ("acceleration", STANDARD_GRAVITY_MS2),
    "mg": ("acceleration", STANDARD_GRAVITY_MS2 / 1000.0),
    "rad/s": ("angular velocity", 1.0),
    "deg/s": ("angular velocity", math.pi / 180.0),
    "dps": ("angular velocity", math.pi / 180.0),
    "m": ("length", 1.0),
    "cm": ("length", 1e-2),
    "mm": ("length", 1e-3),
    "T": ("magnetic field", 1.0),
    "uT": ("magnetic field", 1e-6),
    "nT": ("magnetic field", 1e-9),
    "rad": ("angle", 1.0),
    "deg": ("angle", math.pi / 180.0),
}
UNIT_ALIASES: Mapping[str, str] = {
    "m/s²": "m/s^2",
    "m/s2": "m/s^2",
    "m/(s^2)": "m/s^2",
    "µs": "us",
    "μs": "us",
    "µT": "uT",
    "μT": "uT",
}
DIMENSIONS: Mapping[ChannelType, str] = {
    ChannelType.ACCEL: "acceleration",
    ChannelType.GYRO: "angular velocity",
    ChannelType.MAGN: "magnetic field",
    ChannelType.POS: "length",
    ChannelType.ORNT: "angle",
}


def si_factor(unit: str, dimension: str) -> float | None:
    """Factor turning `unit` into SI for `dimension`, or None if the unit is unknown there."""
    entry = UNITS.get(UNIT_ALIASES.get(unit.strip(), unit.strip()))
    if entry is None or entry[0] != dimension:
        return None
    return entry[1]


def allowed_units(dimension: str) -> str:
    """The units accepted for one dimension, comma-separated, for error messages."""
    return ", ".join(u for u, (dim, _) in UNITS.items() if dim == dimension)


def check_size(size_bytes: int, where: str) -> None:
    """Refuse empty files and files over MAX_FILE_BYTES, before reading them."""
    if size_bytes == 0:
        raise FormatError("the file is empty", path=where)
    if size_bytes > MAX_FILE_BYTES:
        raise FormatError(
            f"the file is {size_bytes / 2**20:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit",
            path=where,
            advice=SIZE_ADVICE,
        )


def read_file_bytes(path: Path) -> bytes:
    """The bytes of a file, after checking its size."""
    try:
        check_size(path.stat().st_size, str(path))
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _os_error(exc, path) from None


def decode_text(raw: bytes, where: str) -> str:
    """UTF-8 text of a file (a BOM is dropped); binary or non-UTF-8 content is refused."""
    if len(raw) > MAX_FILE_BYTES:
        check_size(len(raw), where)
    if not raw.strip():
        raise FormatError("the file is empty", path=where)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise FormatError(
            "the file holds binary data (NUL bytes), expected a text table",
            path=where,
            line=raw.count(b"\n", 0, nul) + 1,
            advice="Pass the exported CSV/TXT file (UTF-8 text), not a spreadsheet or binary.",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=where,
            line=raw.count(b"\n", 0, exc.start) + 1,
            advice="Export or save the file again as UTF-8 text.",
        ) from None


@dataclass(frozen=True)
class TableLayout:
    """How to read a delimited table where detection cannot tell.

    `skip_rows`: file lines before the column names (a `sep=;` first line counts as one).
    `header_rows`: rows of the header, the names first (then e.g. a units row).
    `delimiter`: one of DELIMITERS, else detected. `decimal`: "." or ",", else a comma
    when the delimiter is not a comma.
    """

    skip_rows: int = 0
    header_rows: int = 1
    delimiter: str | None = None
    decimal: str | None = None

    def __post_init__(self) -> None:
        if self.skip_rows < 0 or self.header_rows < 1:
            raise InvalidArgumentError(
                f"skip_rows must be >= 0 and header_rows >= 1, got {self.skip_rows} and"
                f" {self.header_rows}"
            )
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            raise InvalidArgumentError(
                f"delimiter {self.delimiter!r} is not one of comma, semicolon, tab"
            )
        if self.decimal not in (None, ".", ","):
            raise InvalidArgumentError(f"decimal {self.decimal!r} is not '.' or ','")

    def options(self) -> str:
        """The command-line options that give this layout (empty for the default)."""
        parts = [f"--skip-rows {self.skip_rows}"] if self.skip_rows else []
        parts += [f"--header-rows {self.header_rows}"] if self.header_rows > 1 else []
        if self.delimiter is not None:
            parts.append(f"--delimiter {DELIMITER_NAMES[self.delimiter]}")
        parts += [f"--decimal {self.decimal}"] if self.decimal else []
        return " ".join(parts)


DEFAULT_LAYOUT = TableLayout()


@dataclass(frozen=True)
class RawTable:
    """Cells of a delimited text table as strings, with the file line of each row."""

    where: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]
    delimiter: str
    decimal_comma: bool = False
    header_line: int = 1

    def index(self, name: str) -> int:
        """Position of a column, matched exactly or else ignoring case."""
        if name in self.header:
            return self.header.index(name)
        folded = [h.casefold() for h in self.header]
        if name.casefold() in folded:
            return folded.index(name.casefold())
        raise FormatError(
            f"missing column {name!r}; the header has {', '.join(map(repr, self.header))}",
            path=self.where,
            line=self.header_line,
        )

    def has(self, name: str) -> bool:
        return name.casefold() in (h.casefold() for h in self.header)


@dataclass(frozen=True)
class Table:
    """A numeric table: `data` (rows, columns) with NaN for empty or NaN cells."""

    raw: RawTable
    data: FloatArray

    @property
    def where(self) -> str:
        return self.raw.where

    def column(self, name: str) -> FloatArray:
        return self.data[:, self.raw.index(name)]

    def line(self, row: int) -> int:
        return self.raw.lines[row]


def sniff_delimiter(text: str, where: str, line: int = 1) -> str:
    """The delimiter (tab, semicolon, comma) that splits the header line most often.

    `line` is the file line where `text` starts, for the error message.
    """
    stripped = text.lstrip("\r\n")
    first = stripped.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best] == 0:
        raise FormatError(
            "found no column separator in the header line; expected columns separated by"
            " comma, semicolon or tab",
            path=where,
            line=line + text.count("\n", 0, len(text) - len(stripped)),
        )
    return best


def parse_rows(text: str, where: str, layout: TableLayout = DEFAULT_LAYOUT) -> RawTable:
    """Split the header and data rows; every row must have as many cells as the header.

    A first line `sep=;` (spreadsheet exports write it) sets the delimiter and is skipped.
    """
    lines = text.splitlines(keepends=True)
    directive = _SEP_DIRECTIVE.match(lines[0]) if lines else None
    skip = layout.skip_rows or (1 if directive else 0)
    if skip >= len(lines):
        raise FormatError(
            f"skipping {skip} lines leaves no table: the file has {len(lines)} lines",
            path=where,
        )
    body = "".join(lines[skip:])
    declared = directive.group(1) if directive else None
    delimiter = layout.delimiter or (declared if declared in DELIMITERS else None)
    delimiter = delimiter or sniff_delimiter(body, where, skip + 1)
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, strict=True)
    truncated_tail = not text.endswith(("\n", "\r"))
    last_line = text.count("\n") + 1
    rows: list[tuple[str, ...]] = []
    numbers: list[int] = []
    try:
        header, header_line = _read_header(reader, where, skip, layout.header_rows)
        for row in reader:
            line = reader.line_num + skip
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                cut = truncated_tail and line >= last_line
                raise _cell_count_error(
                    len(row), len(header), delimiter, cut=cut, where=where, line=line
                )
            rows.append(tuple(row))
            numbers.append(line)
    except csv.Error as exc:
        line = reader.line_num + skip
        raise FormatError(f"malformed CSV: {exc}", path=where, line=line) from None
    if not rows:
        raise FormatError(
            "the table has a header but no data rows", path=where, line=header_line + 1
        )
    decimal_comma = layout.decimal == "," if layout.decimal else delimiter != ","
    return RawTable(
        where, header, tuple(rows), tuple(numbers), delimiter, decimal_comma, header_line
    )


def _read_header(
    reader: _csv.Reader, where: str, skip: int, header_rows: int
) -> tuple[tuple[str, ...], int]:
    """The column names (first non-blank row) and their file line; then skip the rest of
    the header (`header_rows` rows in all)."""
    found: list[tuple[str, ...]] = []
    line = 0
    for row in reader:
        if row and row != [""]:
            found.append(tuple(cell.strip() for cell in row))
            line = line or reader.line_num + skip
            if len(found) == header_rows:
                break
    if not found:
        raise FormatError("the file is empty", path=where)
    if len(found) < header_rows:
        raise FormatError(
            f"the header should have {header_rows} rows but the file ends after {len(found)}",
            path=where,
        )
    header = found[0]
    named = [h for h in header if h]
    if len(set(named)) != len(named):
        raise FormatError("a column name appears twice in the header", path=where, line=line)
    return header, line


def _cell_count_error(
    found: int, expected_cells: int, delimiter: str, *, cut: bool, where: str, line: int
) -> FormatError:
    expected = f"expected {expected_cells} separated by {DELIMITER_NAMES[delimiter]}"
    if cut:
        return FormatError(
            f"the last line has {found} cells, {expected}: the file seems truncated",
            path=where,
            line=line,
            advice="Copy or export the file again; it was cut short.",
        )
    return FormatError(f"this row has {found} cells, {expected}", path=where, line=line)


def to_number(cell: str, decimal_comma: bool) -> float | None:
    """A cell as a float: NaN for empty/NaN/n/a, None if it is not a finite number."""
    text = cell.strip()
    if text.casefold() in _NAN_TOKENS:
        return math.nan
    if decimal_comma:
        text = text.replace(",", ".")
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def to_numeric(raw: RawTable, columns: tuple[str, ...] | None = None) -> Table:
    """Convert the cells (of `columns`, default all) to floats; a non-number names its line."""
    wanted = range(len(raw.header)) if columns is None else [raw.index(c) for c in columns]
    decimal_comma = raw.decimal_comma
    data = np.empty((len(raw.rows), len(raw.header)), dtype=np.float64)
    data.fill(np.nan)
    for r, row in enumerate(raw.rows):
        for c in wanted:
            value = to_number(row[c], decimal_comma)
            if value is None:
                raise FormatError(
                    f"cell {row[c][:40]!r} in column {raw.header[c]!r} is not a number",
                    path=raw.where,
                    line=raw.lines[r],
                )
            data[r, c] = value
    return Table(raw, data)


def check_times(time_s: FloatArray, table: Table, column: str) -> None:
    """Times (file units) must be present and strictly increase; errors name the line."""
    missing = np.flatnonzero(~np.isfinite(time_s))
    if missing.size:
        raise FormatError(
            f"the time cell (column {column!r}) is empty or not a number; every row needs a time",
            path=table.where,
            line=table.line(int(missing[0])),
        )
    if time_s.size < 2:
        raise FormatError(f"needs at least 2 samples, found {time_s.size}", path=table.where)
    bad = np.flatnonzero(np.diff(time_s) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        verb = "repeats" if time_s[i] == time_s[i - 1] else "goes back from"
        raise FormatError(
            f"time {time_s[i]:.15g} ({column!r}) {verb} {time_s[i - 1]:.15g} on line"
            f" {table.line(i - 1)};"
            " times must strictly increase",
            path=table.where,
            line=table.line(i),
        )


GUESS_LINES = 200
MIN_GRAVITY_MS2 = 0.5 * STANDARD_GRAVITY_MS2
MAX_GRAVITY_MS2 = 2.0 * STANDARD_GRAVITY_MS2


def guess_layout(text: str) -> TableLayout:
    """Where the table seems to start, judged from the first 200 lines: the lines before the
    column names, and the header rows (the names, then rows that hold no number)."""
    lines, start, header_rows = _table_start(text)
    directive_only = start == 1 and _SEP_DIRECTIVE.match(lines[0]) is not None
    return TableLayout(0 if directive_only else start, header_rows)


def layout_hint(text: str, used: TableLayout) -> str:
    """Advice naming the options that read this table, or "" when `used` already does."""
    guess = guess_layout(text)
    if (guess.skip_rows, guess.header_rows) == (used.skip_rows, used.header_rows):
        return ""
    lines, start, _ = _table_start(text)
    names = [n.strip() for n in _cells(lines[start], max(DELIMITERS, key=lines[start].count))]
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    options = guess.options() or "--skip-rows 0 --header-rows 1"
    return f"The column names seem to be on line {start + 1} ({shown}): add {options}."


def _table_start(text: str) -> tuple[list[str], int, int]:
    """The first lines, the index of the column names among them, and the header rows."""
    lines = text.splitlines()[:GUESS_LINES]
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return [""], 0, 1
    delimiter = max(DELIMITERS, key=lines[filled[-1]].count)
    width = len(_cells(lines[filled[-1]], delimiter))
    start = filled[-1]
    for i in reversed(filled[:-1]):
        if len(_cells(lines[i], delimiter)) != width:
            break
        start = i
    header_rows = 1
    for i in filled[filled.index(start) + 1 :]:
        if any(_is_number(cell, delimiter != ",") for cell in _cells(lines[i], delimiter)):
            break
        header_rows += 1
    return lines, start, header_rows


def _is_number(cell: str, decimal_comma: bool) -> bool:
    value = to_number(cell, decimal_comma)
    return value is not None and not math.isnan(value)


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return [line]


def check_gravity(xyz: FloatArray, where: str, *, advice: str) -> None:
    """Refuse x/y/z acceleration (m/s^2) whose mean magnitude is not near g: without gravity
    (linear acceleration averages near 0) or in the wrong unit."""
    norms = np.linalg.norm(xyz, axis=1)
    norms = norms[np.isfinite(norms)]
    if not norms.size:
        return
    mean_ms2 = float(np.mean(norms))
    if MIN_GRAVITY_MS2 <= mean_ms2 <= MAX_GRAVITY_MS2:
        return
    kind = "without gravity" if mean_ms2 < MIN_GRAVITY_MS2 else "far above gravity"
    raise FormatError(
        f"the acceleration averages {mean_ms2:.2f} m/s^2 in magnitude, {kind} (with gravity"
        f" it averages about {STANDARD_GRAVITY_MS2:.2f}); balancelab stores acceleration"
        " with gravity only",
        path=where,
        advice=advice,
    )


def nominal_fs_hz(time_s: FloatArray) -> float:
    """Nominal rate (Hz) from the median sample interval, rounded to 0.01 Hz."""
    return round(1.0 / float(np.median(np.diff(time_s))), 2)


def datetime_from_epoch_s(seconds: float, where: str) -> datetime:
    """A UTC datetime from Unix seconds, refusing impossible values."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise FormatError(
            f"start time {seconds!r} s is not a valid Unix time", path=where
        ) from None


class Bundle:
    """The files of an export: a zip archive, an unzipped folder, or one file."""

    def __init__(self, path: Path, archive: zipfile.ZipFile | None) -> None:
        self.path = path
        self._archive = archive
        self.members = self._list()

    def _list(self) -> dict[str, str]:
        if self._archive is not None:
            names = [i.filename for i in self._archive.infolist() if not i.is_dir()]
        elif self.path.is_dir():
            found = [*self.path.glob("*"), *self.path.glob("*/*")]
            names = [p.relative_to(self.path).as_posix() for p in found if p.is_file()]
        else:
            names = [self.path.name]
        return {n.casefold(): n for n in sorted(names) if "__macosx" not in n.casefold()}

    def find(self, name: str) -> str | None:
        """The member whose path is `name` or ends with `/name`, ignoring case (shortest wins)."""
        key = name.casefold()
        hits = [m for k, m in self.members.items() if k == key or k.endswith("/" + key)]
        return min(hits, key=len) if hits else None

    def where(self, member: str) -> str:
        if self._archive is None and not self.path.is_dir():
            return str(self.path)
        return f"{self.path} ({member})" if self._archive else str(self.path / member)

    def read_text(self, member: str) -> str:
        """The UTF-8 text of one member, size-checked before reading."""
        where = self.where(member)
        if self._archive is None:
            target = self.path / member if self.path.is_dir() else self.path
            return decode_text(read_file_bytes(target), where)
        try:
            info = self._archive.getinfo(member)
            check_size(info.file_size, where)
            with self._archive.open(info) as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except _ZIP_ERRORS as exc:
            raise FormatError(
                f"cannot unpack this member of the zip archive ({exc}); the zip is damaged",
                path=where,
                advice="Export or copy the zip again from the app.",
            ) from None
        return decode_text(raw, where)

    def table(self, member: str) -> RawTable:
        """One member as a table, its layout detected."""
        return parse_rows(self.read_text(member), self.where(member))


@contextmanager
def open_bundle(path: Path) -> Iterator[Bundle]:
    """Open a zip archive, a folder or a single file as a Bundle."""
    if path.is_dir() or (path.is_file() and not _looks_like_zip(path)):
        yield Bundle(path, None)
        return
    check_size(_size(path), str(path))
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise FormatError(
            f"not a readable zip archive ({exc}); it may be damaged or cut short",
            path=str(path),
            advice="Pass the zip exported by the app, unchanged, or the folder it unpacks to.",
        ) from None
    with archive:
        yield Bundle(path, archive)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise _os_error(exc, path) from None


def _looks_like_zip(path: Path) -> bool:
    if path.suffix.casefold() == ".zip":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError as exc:
        raise _os_error(exc, path) from None


def _os_error(exc: OSError, path: Path) -> FormatError:
    return FormatError(
        f"cannot read the file: {exc.strerror or exc}",
        path=str(path),
        advice="Check that the path exists and that you may read it.",
    )


def read_plain_tsv(
    data: bytes, n_columns: int, decimal_shifts: Mapping[int, int] | None = None
) -> FloatArray | None:
    """Tab-separated plain numbers without a header, `n/a` as NaN, parsed by pyarrow's CSV reader.

    Each cell is one correctly rounded `float(cell)` (Arrow parses with fast_float).
    `decimal_shifts` maps a column to k (1-9): its cells are divided by 10**k on the decimal
    exponent of the text (`e-k` appended to the bytes; a cell with its own exponent has it
    moved, in Python), so they too are rounded once. None when a cell is anything but a plain
    number (`[+-]digits[.digits][e[+-]digits]`) or `n/a`, out of range, or a row has another
    cell count: the caller's line reader then names the line.
    """
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415
    import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    if b" " in data or b"\r" in data or data.startswith(b"\xef\xbb\xbf"):
        return None  # Arrow would trim spaces, end lines at CR and skip a byte-order mark
    shifted = _shift_cells(data, n_columns, decimal_shifts) if decimal_shifts else (data, [])
    if shifted is None:
        return None
    names = [str(i) for i in range(n_columns)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(shifted[0]),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter="\t", quote_char=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.float64()), null_values=["n/a"]
            ),
        )
        out = np.empty((table.num_rows, n_columns), dtype=np.float64, order="F")
        for i, name in enumerate(names):
            column = table.column(name)
            out[:, i] = column.to_numpy()
            if np.count_nonzero(~np.isfinite(out[:, i])) != column.null_count:
                return None  # `nan` or `inf` spelled out, or out of range: not a plain number
        for row, i, text, shift in shifted[1]:
            out[row, i] = _shifted_value(text, shift)
    except (pa.ArrowInvalid, ValueError):
        return None
    return out


def _shift_cells(
    data: bytes, n_columns: int, shifts: Mapping[int, int]
) -> tuple[bytes, list[tuple[int, int, str, int]]] | None:
    """`data` with `e-k` after each number of a shifted column; the cells that carry their own
    exponent are left as they are and listed (row, column, text, k) for `_shifted_value`.
    None when the rows do not all have `n_columns` cells."""
    buf = np.frombuffer(data, dtype=np.uint8)
    edges = np.flatnonzero(buf <= 10)  # the byte after each cell (tab, newline; NUL...)
    if edges.size == 0 or edges.size % n_columns:
        return None
    ends = edges.reshape(-1, n_columns)
    if np.any(buf[ends[:, -1]] != 10) or np.any(buf[ends[:, :-1]] != 9):
        return None
    has_e = np.zeros(edges.size, dtype=bool)
    letters = np.flatnonzero((buf == ord("e")) | (buf == ord("E")))
    has_e[np.searchsorted(edges, letters)] = True
    has_e = has_e.reshape(ends.shape)
    columns = sorted(shifts)
    append = (buf[ends[:, columns] - 1] != ord("a")) & ~has_e[:, columns]  # not n/a, no e
    suffixes = np.array([list(f"e-{shifts[c]}".encode()) for c in columns], dtype=np.uint8)
    if suffixes.shape[1] != 3:
        raise InvalidArgumentError(f"decimal shifts must be 1-9, got {shifts}")
    at = ends[:, columns][append]  # row-major, so ascending
    first = at + 3 * np.arange(at.size)  # where each `e-k` lands in the output
    out = np.empty(buf.size + 3 * at.size, dtype=np.uint8)
    kept = np.ones(out.size, dtype=bool)
    for j in range(3):
        kept[first + j] = False
    out[kept] = buf
    if np.all(suffixes == suffixes[0]):  # one unit for every shifted column: one suffix
        out[first[:, None] + np.arange(3)] = suffixes[0]
    else:
        out[first[:, None] + np.arange(3)] = suffixes[np.nonzero(append)[1]]
    own = [
        (r, c, data[_start(edges, r, c, n_columns) : ends[r, c]].decode("latin-1"), shifts[c])
        for c in columns
        for r in np.flatnonzero(has_e[:, c]).tolist()
    ]
    return out.tobytes(), own


def _start(edges: np.ndarray, row: int, column: int, n_columns: int) -> int:
    """The first byte of cell (row, column), given every cell's end."""
    index = row * n_columns + column
    return 0 if index == 0 else int(edges[index - 1]) + 1


def _shifted_value(text: str, shift: int) -> float:
    """A plain number with an exponent, / 10**shift on that exponent (rounded once)."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(text)
    mantissa, _, exponent = text.lower().partition("e")
    return float(f"{mantissa}e{int(exponent) - shift}")
