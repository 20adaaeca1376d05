"""motion.tsv samples in SI units, by two parsers that give the same floats bit for bit.

`read_samples` parses a well-formed file with pyarrow (`_parse_well_formed`); anything unusual
goes to the line reader (`iter_motion_rows`), which names the first malformed line in a
`FormatError`. Recovery after a crash uses the line reader alone, to find where whole lines end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from balancelab.errors import FormatError
from balancelab.formats._reading import decode_line, is_number, read_bytes
from balancelab.formats._tabular import read_plain_tsv
from balancelab.formats.bids import NA, parse_cell
from balancelab.formats.sidecars import ChannelTable


@dataclass(frozen=True)
class MotionRow:
    """One parsed motion.tsv line: its values (time first, SI) and where it ends in the file."""

    values: list[float]
    end_offset: int
    terminated: bool


def iter_motion_rows(data: bytes, path: Path, table: ChannelTable) -> Iterator[MotionRow]:
    """Parse motion.tsv bytes line by line; the first malformed line raises FormatError."""
    offset, previous_s = 0, -math.inf
    for number, raw in enumerate(data.split(b"\n"), start=1):
        offset += len(raw) + 1
        terminated = offset <= len(data)
        if not terminated and not raw:
            return
        values = _parse_line(raw, path, number, table)
        if not values[0] > previous_s:
            raise FormatError(
                f"time {values[0]!r} s does not increase (previous row: {previous_s!r} s)",
                path=str(path),
                line=number,
            )
        previous_s = values[0]
        yield MotionRow(values, min(offset, len(data)), terminated)


def _parse_line(raw: bytes, path: Path, number: int, table: ChannelTable) -> list[float]:
    cells = decode_line(raw, path, number).removesuffix("\r").split("\t")
    problem = _shape_problem(cells, len(table.conversions), number)
    if problem:
        raise FormatError(problem, path=str(path), line=number)
    columns = zip(cells, table.conversions, table.column_names, strict=True)
    values = [parse_cell(cell, conv, path, number, name) for cell, conv, name in columns]
    if math.isnan(values[0]):
        raise FormatError("time is 'n/a'; every row needs a time", path=str(path), line=number)
    return values


def _shape_problem(cells: list[str], expected: int, number: int) -> str | None:
    for sep in (",", ";", " "):
        if len(cells) == 1 and sep in cells[0]:
            return f"cells are separated by {sep!r}; motion.tsv must be tab-separated"
    if number == 1 and cells[0] != NA and not is_number(cells[0]):
        return f"starts with {cells[0]!r}: motion.tsv must have no header row, only numbers"
    if len(cells) != expected:
        return f"{len(cells)} tab-separated columns, channels.tsv lists {expected}"
    return None


def read_samples(motion_tsv: Path, table: ChannelTable) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and values (SI, one column per channel) of a motion.tsv; FormatError names the
    first malformed line. A last line without its newline is read like any other."""
    data = read_bytes(motion_tsv)
    array = _parse_well_formed(data, table)
    if array is None:
        rows = [row.values for row in iter_motion_rows(data, motion_tsv, table)]
        if not rows:
            raise FormatError("no samples; expected at least one row", path=str(motion_tsv), line=1)
        array = np.array(rows, dtype=np.float64)
    return array[:, 0], array[:, 1:]


def _parse_well_formed(data: bytes, table: ChannelTable) -> np.ndarray | None:
    """The samples of a file with nothing unusual in it, parsed by pyarrow; None otherwise.

    Anything unusual (other characters, `n/a` inside a cell, a partial last line, a wrong column
    count, times that do not increase) returns None so that the line-by-line reader names the
    problem and line. Both give the same floats bit for bit: one correctly rounded conversion
    per cell, columns stored in mm, uT or nT shifted on the decimal exponent of the text (as
    `shifted_decimal`), degrees turned into radians as x * (pi/180).
    """
    if not data.endswith(b"\n"):  # a partial last line
        return None
    shifts = {i: c.decimal_shift for i, c in enumerate(table.conversions) if c.decimal_shift}
    array = read_plain_tsv(data, len(table.conversions), shifts)
    if array is None or not np.all(np.diff(array[:, 0]) > 0):
        return None
    if not np.all(np.isfinite(array[:, 0])):
        return None
    for index, conv in enumerate(table.conversions):
        if conv.degrees:
            array[:, index] = np.radians(array[:, index])  # the same x * (pi/180) as math.radians
    return array
