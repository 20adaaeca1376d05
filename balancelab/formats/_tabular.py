"""Shared reading for the importers: size limit, decoding, delimited tables, units, time checks.

Every problem with a file is raised as `FormatError` naming the file and, where known, the line.
"""

from __future__ import annotations

import _csv
import csv
import io
import itertools
import math
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats._reading import is_number, os_error, shifted_decimal
from balancelab.formats._sources import (
    BLOCK_BYTES,
    ZIP_ERRORS,
    CheckedStream,
    Source,
    check_size,
)
from balancelab.model import (
    STANDARD_GRAVITY_MS2,
    ChannelType,
    FloatArray,
    check_choice,
    check_int,
)

DELIMITERS = ("\t", ";", ",")
DELIMITER_NAMES: Mapping[str, str] = {"\t": "tab", ";": "semicolon", ",": "comma"}
_SEP_DIRECTIVE = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)
_NAN_TOKENS = frozenset({"", "nan", "n/a", "na"})
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
        check_int("skip_rows", self.skip_rows, minimum=0)
        check_int("header_rows", self.header_rows, minimum=1)
        if self.delimiter is not None:
            check_choice("delimiter", self.delimiter, DELIMITERS)
        if self.decimal is not None:
            check_choice("decimal", self.decimal, (".", ","))

    def options(self) -> str:
        """The command-line options that give this layout (empty for the default)."""
        parts = [f"--skip-rows {self.skip_rows}"] if self.skip_rows else []
        parts += [f"--header-rows {self.header_rows}"] if self.header_rows > 1 else []
        if self.delimiter is not None:
            parts.append(f"--delimiter {DELIMITER_NAMES[self.delimiter]}")
        parts += [f"--decimal {self.decimal}"] if self.decimal else []
        return " ".join(parts)


DEFAULT_LAYOUT = TableLayout()


HEAD_BYTES = 64 * 1024  # the first lines, parsed and checked before the rest is read
MAX_LINE_CHARS = 1024 * 1024
MAX_TEXT_ROWS = 100_000  # a table kept as strings: metadata, a few rows
CHUNK_ROWS = 65_536  # rows converted at a time by the line reader
_ARROW_BLOCK_BYTES = 1024 * 1024
_ARROW_NULLS = ["", "nan", "NaN", "NAN", "Nan", "n/a", "N/A", "na", "NA"]


def _column_index(header: tuple[str, ...], name: str, where: str, line: int) -> int:
    """Position of a column, matched exactly or else ignoring case."""
    if name in header:
        return header.index(name)
    folded = [h.casefold() for h in header]
    if name.casefold() in folded:
        return folded.index(name.casefold())
    raise FormatError(
        f"missing column {name!r}; the header has {', '.join(map(repr, header))}",
        path=where,
        line=line,
    )


@dataclass(frozen=True)
class RawTable:
    """Cells of a (small) delimited text table as strings, with the file line of each row."""

    where: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]
    delimiter: str
    decimal_comma: bool = False
    header_line: int = 1

    def index(self, name: str) -> int:
        """Position of a column, matched exactly or else ignoring case."""
        return _column_index(self.header, name, self.where, self.header_line)


class Table:
    """Numeric columns of a table (float64, NaN for empty or NaN cells), by header name.

    `line(row)` is the file line of a data row; rows read by Arrow are located on demand by
    reading the file again (only an error message needs it).
    """

    def __init__(
        self,
        where: str,
        header: tuple[str, ...],
        header_line: int,
        *,
        columns: dict[int, FloatArray],
        head_lines: list[int],
        locate: Callable[[int], int],
    ) -> None:
        self.where = where
        self.header = header
        self.header_line = header_line
        self._columns = columns
        self._head_lines = head_lines
        self._locate = locate

    def column(self, name: str) -> FloatArray:
        return self._columns[_column_index(self.header, name, self.where, self.header_line)]

    def line(self, row: int) -> int:
        if row < len(self._head_lines):
            return self._head_lines[row]
        return self._locate(row)


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


class _Lines:
    """Lines of a text, ends kept: the head's, then (unless `stop_at_head`) the rest's."""

    def __init__(self, head: list[str], rest: Callable[[], Iterator[str]] | None) -> None:
        self._head = head
        self._at = 0
        self._make_rest = rest
        self._rest: Iterator[str] | None = None
        self.stop_at_head = False
        self.last = ""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._at < len(self._head):
            self.last = self._head[self._at]
            self._at += 1
            return self.last
        if self.stop_at_head or self._make_rest is None:
            raise StopIteration
        if self._rest is None:
            self._rest = self._make_rest()
        self.last = next(self._rest)
        return self.last

    def peek_head(self) -> list[str]:
        return self._head[self._at :]


class _Chain(io.RawIOBase):
    """`prefix`, then the bytes of `stream`."""

    def __init__(self, prefix: bytes, stream: io.RawIOBase) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._stream.readinto(buffer) or 0


def _text_lines(stream: io.RawIOBase, where: str, first_line: int) -> Iterator[str]:
    """The lines of checked UTF-8 bytes (CR, LF or CRLF ends kept), each at most
    MAX_LINE_CHARS long."""
    text = io.TextIOWrapper(io.BufferedReader(stream, BLOCK_BYTES), encoding="utf-8", newline="")
    number = first_line
    while line := text.readline(MAX_LINE_CHARS):
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise FormatError(
                f"this line is longer than {MAX_LINE_CHARS // 2**20} MB; expected a table of"
                " numbers",
                path=where,
                line=number,
            )
        number += line.count("\n") + (line.endswith("\r") and not line.endswith("\r\n"))
        yield line


def _read_head(stream: io.RawIOBase, where: str, min_lines: int = 0) -> tuple[str, bytes, bool]:
    """The first whole lines (about HEAD_BYTES, and at least `min_lines`) as text, the bytes
    read after them, and whether the file ended within the head."""
    data = bytearray()
    end = -1
    newlines = returns = 0
    while end < 0:
        block = stream.read(max(HEAD_BYTES - len(data), BLOCK_BYTES))
        if not block:
            return data.decode("utf-8"), b"", True
        data += block
        newlines, returns = newlines + block.count(b"\n"), returns + block.count(b"\r")
        if len(data) >= HEAD_BYTES and max(newlines, returns) > min_lines:
            end = data.rfind(b"\n")
            end = end if end >= 0 else data.rfind(b"\r", 0, len(data) - 1)
        if end < 0 and len(data) > MAX_LINE_CHARS and not (newlines or returns):
            raise FormatError(
                f"the first line is longer than {MAX_LINE_CHARS // 2**20} MB; expected a table",
                path=where,
                line=1,
            )
    return data[: end + 1].decode("utf-8"), bytes(data[end + 1 :]), False


class TableReader:
    """A delimited table opened from its first lines: the header is known, the rows are
    read on demand (`numeric` for columns of numbers, `raw` for a small table of strings).

    Opened by `open_table`; the first HEAD_BYTES are parsed, every row of them checked,
    before anything past them is read.
    """

    def __init__(self, source: Source, stream: CheckedStream, layout: TableLayout) -> None:
        self.source = source
        self.where = source.where or str(source.path)
        self._stream = stream
        self._layout = layout
        self.head, self._rest, self._at_eof = _read_head(
            stream, self.where, layout.skip_rows + layout.header_rows
        )
        if self._at_eof and not self.head.strip():
            raise FormatError("the file is empty", path=self.where)
        head_lines = list(io.StringIO(self.head, newline=""))
        self._lines = _Lines(head_lines, self._make_rest)
        self._lines.stop_at_head = not self._at_eof
        try:
            started = _begin(self._lines, self.where, layout)
        except FormatError:
            if self._at_eof or self._lines.peek_head():
                raise
            raise FormatError(
                f"found no table header in the first {HEAD_BYTES // 1024} KB",
                path=self.where,
                advice="Check --skip-rows and --header-rows, or pass the exported table.",
            ) from None
        self._reader, self.header, self.header_line, self.delimiter, self._skip = started
        self.decimal_comma = layout.decimal == "," if layout.decimal else self.delimiter != ","

    def _make_rest(self) -> Iterator[str]:
        first = self.head.count("\n") + 1
        return _text_lines(_Chain(self._rest, self._stream), self.where, first)

    def index(self, name: str) -> int:
        return _column_index(self.header, name, self.where, self.header_line)

    def _rows(self) -> Iterator[tuple[list[str], int]]:
        return _rows(
            self._reader,
            self._lines,
            self.header,
            delimiter=self.delimiter,
            skip=self._skip,
            where=self.where,
        )

    def raw(self) -> RawTable:
        """Every row as strings; for small tables (at most MAX_TEXT_ROWS rows)."""
        self._lines.stop_at_head = False
        rows: list[tuple[str, ...]] = []
        numbers: list[int] = []
        for row, line in self._rows():
            if len(rows) == MAX_TEXT_ROWS:
                raise FormatError(
                    f"holds more than {MAX_TEXT_ROWS} rows; expected a short metadata table",
                    path=self.where,
                    line=line,
                )
            rows.append(tuple(row))
            numbers.append(line)
        if not rows:
            raise _no_rows(self.where, self.header_line)
        return RawTable(
            self.where,
            self.header,
            tuple(rows),
            tuple(numbers),
            self.delimiter,
            self.decimal_comma,
            self.header_line,
        )

    def numeric(self, columns: tuple[str, ...]) -> Table:
        """The named columns as float64 (NaN for empty or NaN cells); a bad cell or row names
        its line.

        The head's rows are checked by the line reader; the rest is parsed by Arrow in blocks
        (pyarrow's streaming CSV reader), and if Arrow meets anything it would not read as the
        line reader does, the whole file is read again by the line reader, which names the line.
        """
        wanted = list(dict.fromkeys(self.index(c) for c in columns))
        values, lines = _convert(self._rows(), wanted, self.header, self.where, self.decimal_comma)
        out = _Growing(values, self._rows_estimate(lines.size))
        if not self._at_eof:
            data = _Chain(self._rest, self._stream)
            if not _arrow_columns(data, len(self.header), self.delimiter, self.decimal_comma, out):
                del out
                return _line_reader_table(self.source, self._layout, columns)
        if not out.rows:
            raise _no_rows(self.where, self.header_line)
        source, layout = self.source, self._layout
        return Table(
            self.where,
            self.header,
            self.header_line,
            columns=out.result(),
            head_lines=lines.tolist(),
            locate=lambda row: _locate_row(source, layout, row),
        )

    def _rows_estimate(self, head_rows: int) -> int:
        """The rows of the whole table, from the size and the head's bytes per row."""
        if self._at_eof or not head_rows:
            return head_rows
        per_row = len(self.head) / (head_rows + self.header_line)
        return head_rows + int(1.02 * max(self._stream.size - len(self.head), 0) / per_row) + 64


class _Growing:
    """Float columns filled block by block into arrays sized from an estimate of the rows (so
    that the memory held is the arrays themselves, not their pieces and a copy)."""

    def __init__(self, first: dict[int, FloatArray], estimate: int) -> None:
        self.rows = 0
        self._arrays = {i: np.empty(max(estimate, 1)) for i in first}
        self.append(first)

    @property
    def columns(self) -> list[int]:
        return list(self._arrays)

    def append(self, block: dict[int, FloatArray]) -> None:
        n = len(next(iter(block.values())))
        for i, old in list(self._arrays.items()):
            if self.rows + n > old.size:
                grown = np.empty(max(int(old.size * 1.25), self.rows + n))
                grown[: self.rows] = old[: self.rows]
                self._arrays[i] = grown
            self._arrays[i][self.rows : self.rows + n] = block[i]
        self.rows += n

    def result(self) -> dict[int, FloatArray]:
        """The filled columns; copied only when the estimate was 10 % too high or more."""
        keep = self.rows >= 0.9 * next(iter(self._arrays.values())).size
        arrays, self._arrays = self._arrays, {}
        return {i: a[: self.rows] if keep else a[: self.rows].copy() for i, a in arrays.items()}


def _joined(parts: list[FloatArray]) -> FloatArray:
    """One array from its pieces, the pieces dropped as they are copied."""
    out = np.empty(sum(p.size for p in parts), dtype=np.float64)
    at = 0
    while parts:
        piece = parts.pop(0)
        out[at : at + piece.size] = piece
        at += piece.size
    return out


def _no_rows(where: str, header_line: int) -> FormatError:
    return FormatError("the table has a header but no data rows", path=where, line=header_line + 1)


def read_head(source: Source) -> str:
    """The first lines of a file or member (about HEAD_BYTES), as text."""
    with source.open() as stream:
        return _read_head(stream, stream.where)[0]


@contextmanager
def open_table(source: Source, layout: TableLayout = DEFAULT_LAYOUT) -> Iterator[TableReader]:
    """Open a table: its header and first lines parsed and checked; rows read on demand."""
    with source.open() as stream:
        yield TableReader(source, stream, layout)


def _line_reader_table(source: Source, layout: TableLayout, columns: tuple[str, ...]) -> Table:
    """`numeric` by the line reader alone, from the start of the file."""
    with source.open() as stream:
        reader = TableReader(source, stream, layout)
        reader._lines.stop_at_head = False
        wanted = list(dict.fromkeys(reader.index(c) for c in columns))
        values, lines = _convert(
            reader._rows(), wanted, reader.header, reader.where, reader.decimal_comma
        )
    if not lines.size:
        raise _no_rows(reader.where, reader.header_line)
    return Table(
        reader.where,
        reader.header,
        reader.header_line,
        columns=values,
        head_lines=[],
        locate=lambda row: int(lines[row]),
    )


def _locate_row(source: Source, layout: TableLayout, row: int) -> int:
    """The file line of data row `row` (0 = the first after the header)."""
    with open_table(source, layout) as reader:
        reader._lines.stop_at_head = False
        for index, (_, line) in enumerate(reader._rows()):
            if index == row:
                return line
    raise IndexError(row)


def _begin(
    lines: _Lines, where: str, layout: TableLayout
) -> tuple[_csv.Reader, tuple[str, ...], int, str, int]:
    """Skip the preamble, find the delimiter, read the header: (csv reader after the header,
    column names, their line, delimiter, lines skipped).

    A first line `sep=;` (spreadsheet exports write it) sets the delimiter and is skipped.
    """
    first = next(lines, None)
    if first is None:
        raise FormatError("the file is empty", path=where)
    directive = _SEP_DIRECTIVE.match(first)
    skip = layout.skip_rows or (1 if directive else 0)
    pending = [first]
    while len(pending) <= skip:
        line = next(lines, None)
        if line is None:
            raise FormatError(
                f"skipping {skip} lines leaves no table: the file has {len(pending)} lines",
                path=where,
            )
        pending.append(line)
    body = pending[skip:]
    while not body[-1].strip("\r\n"):
        line = next(lines, None)
        if line is None:
            break
        body.append(line)
    declared = directive.group(1) if directive else None
    delimiter = layout.delimiter or (declared if declared in DELIMITERS else None)
    delimiter = delimiter or sniff_delimiter("".join(body), where, skip + 1)
    reader = csv.reader(itertools.chain(body, lines), delimiter=delimiter, strict=True)
    try:
        header, header_line = _read_header(reader, where, skip, layout.header_rows)
    except csv.Error as exc:
        raise FormatError(
            f"malformed CSV: {exc}", path=where, line=reader.line_num + skip
        ) from None
    return reader, header, header_line, delimiter, skip


def _rows(
    reader: _csv.Reader,
    lines: _Lines,
    header: tuple[str, ...],
    *,
    delimiter: str,
    skip: int,
    where: str,
) -> Iterator[tuple[list[str], int]]:
    """The data rows and their file lines; every row must have as many cells as the header."""
    try:
        for row in reader:
            line = reader.line_num + skip
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                cut = not lines.last.endswith(("\n", "\r"))
                raise _cell_count_error(
                    len(row), len(header), delimiter, cut=cut, where=where, line=line
                )
            yield row, line
    except csv.Error as exc:
        line = reader.line_num + skip
        raise FormatError(f"malformed CSV: {exc}", path=where, line=line) from None


def _convert(
    rows: Iterator[tuple[list[str], int]],
    wanted: list[int],
    header: tuple[str, ...],
    where: str,
    decimal_comma: bool,
) -> tuple[dict[int, FloatArray], np.ndarray]:
    """The `wanted` cells of every row as floats, CHUNK_ROWS rows at a time, and the lines."""
    parts: dict[int, list[FloatArray]] = {i: [] for i in wanted}
    line_parts: list[np.ndarray] = []
    chunk: list[list[float]] = [[] for _ in wanted]
    numbers: list[int] = []

    def flush() -> None:
        for i, cells in zip(wanted, chunk, strict=True):
            parts[i].append(np.array(cells, dtype=np.float64))
            cells.clear()
        line_parts.append(np.array(numbers, dtype=np.int64))
        numbers.clear()

    for row, line in rows:
        for i, cells in zip(wanted, chunk, strict=True):
            value = to_number(row[i], decimal_comma)
            if value is None:
                raise FormatError(
                    f"cell {row[i][:40]!r} in column {header[i]!r} is not a number",
                    path=where,
                    line=line,
                )
            cells.append(value)
        numbers.append(line)
        if len(numbers) == CHUNK_ROWS:
            flush()
    flush()
    lines = np.concatenate(line_parts)
    return {i: _joined(parts[i]) for i in wanted}, lines


def _float_values(array: Any) -> FloatArray:
    """The values of an Arrow float64 array, a null as NaN, read from its buffers: Arrow's own
    `to_numpy` imports pandas (~0.3 s), which nothing else here needs."""
    offset, n = array.offset, len(array)
    validity, data = array.buffers()
    if n == 0:
        return np.empty(0, dtype=np.float64)
    values = np.frombuffer(data, dtype=np.float64, count=offset + n)[offset:]
    if array.null_count == 0:
        return values
    bits = np.frombuffer(validity, dtype=np.uint8)
    valid = np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(bool)
    return np.where(valid, values, np.nan)


def _arrow_columns(
    data: io.RawIOBase, n_cells: int, delimiter: str, decimal_comma: bool, out: _Growing
) -> bool:
    """Append the columns of `out` from headerless delimited bytes, parsed by Arrow block by
    block; False when Arrow cannot read a cell or row as the line reader would (a non-number,
    a row of another length, `inf`), so that the line reader reads the file and names the line.
    """
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415
    import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    names = [f"c{i}" for i in range(n_cells)]
    wanted = list(out.columns)
    kept = [names[i] for i in wanted]
    try:
        batches = pacsv.open_csv(
            data,
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=_ARROW_BLOCK_BYTES, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                newlines_in_values=True, ignore_empty_lines=True,
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=kept,
                column_types=dict.fromkeys(kept, pa.float64()),
                null_values=_ARROW_NULLS,
                quoted_strings_can_be_null=True,
                decimal_point="," if decimal_comma else ".",
            ),
        )  # fmt: skip
        for batch in batches:
            block = {}
            for i, name in zip(wanted, kept, strict=True):
                column = batch.column(name)
                values = _float_values(column)
                if np.count_nonzero(~np.isfinite(values)) != column.null_count:
                    return False  # `inf`, an overflow, or a NaN spelled otherwise
                block[i] = values
            out.append(block)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


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
    if not is_number(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_rows(text: str, where: str, layout: TableLayout = DEFAULT_LAYOUT) -> RawTable:
    """A table held in memory (the head of a file), split into rows of strings."""
    lines = _Lines(list(io.StringIO(text, newline="")), None)
    reader, header, header_line, delimiter, skip = _begin(lines, where, layout)
    rows: list[tuple[str, ...]] = []
    numbers: list[int] = []
    for row, line in _rows(reader, lines, header, delimiter=delimiter, skip=skip, where=where):
        rows.append(tuple(row))
        numbers.append(line)
    if not rows:
        raise _no_rows(where, header_line)
    decimal_comma = layout.decimal == "," if layout.decimal else delimiter != ","
    return RawTable(
        where, header, tuple(rows), tuple(numbers), delimiter, decimal_comma, header_line
    )


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

    def source(self, member: str) -> Source:
        """One member as a Source (read in blocks, under the size and zip ratio limits)."""
        where = self.where(member)
        if self._archive is not None:
            return Source(self.path, member, where)
        return Source(self.path / member if self.path.is_dir() else self.path, None, where)

    def head(self, member: str) -> str:
        """The first lines of one member (about HEAD_BYTES), as text."""
        return read_head(self.source(member))

    def open_table(self, member: str) -> AbstractContextManager[TableReader]:
        """One member as a table, its layout detected; rows read on demand."""
        return open_table(self.source(member))

    def table(self, member: str) -> RawTable:
        """One (small) member as a table of strings, its layout detected."""
        with self.open_table(member) as reader:
            return reader.raw()


@contextmanager
def open_bundle(path: Path) -> Iterator[Bundle]:
    """Open a zip archive, a folder or a single file as a Bundle."""
    if path.is_dir() or (path.is_file() and not _looks_like_zip(path)):
        yield Bundle(path, None)
        return
    check_size(_size(path), str(path))
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
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
        raise os_error(exc, path) from None


def _looks_like_zip(path: Path) -> bool:
    if path.suffix.casefold() == ".zip":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError as exc:
        raise os_error(exc, path) from None


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
            out[:, i] = np.concatenate([_float_values(chunk) for chunk in column.chunks])
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
    if not is_number(text):
        raise ValueError(text)
    return shifted_decimal(text, shift)
