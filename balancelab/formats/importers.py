"""One entry for every foreign file: detect its kind and import it as Recording(s)."""

from __future__ import annotations

import re
import shlex
from enum import StrEnum
from pathlib import Path

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats._tabular import (
    DEFAULT_LAYOUT,
    DELIMITER_NAMES,
    DIMENSIONS,
    TableLayout,
    allowed_units,
    guess_layout,
    open_bundle,
    parse_rows,
)
from balancelab.formats.import_csv import ColumnMap, import_csv
from balancelab.formats.import_forceplate import detect_layout, import_forceplate
from balancelab.formats.import_phyphox import import_phyphox
from balancelab.formats.import_sensorlogger import import_sensorlogger
from balancelab.model import QUANTITY_NAMES, Recording

__all__ = [
    "DELIMITER_NAMES",
    "ColumnMap",
    "ImportKind",
    "TableLayout",
    "detect_kind",
    "import_file",
    "importable_files",
    "is_one_export",
]

_SENSORLOGGER_NAMES = ("metadata.csv", "totalacceleration.csv", "gravity.csv")
_PHYPHOX_NAMES = ("meta/time.csv", "meta/device.csv")
TABLE_SUFFIXES = (".csv", ".txt", ".tsv")
_QUANTITY = {name: ctype for ctype, name in QUANTITY_NAMES.items()}
_AXIS_NAME = re.compile(r"(acc|gyr|mag)\w*?[_ ]?([xyz])\b", re.IGNORECASE)


class ImportKind(StrEnum):
    PHYPHOX = "phyphox"
    SENSOR_LOGGER = "sensorlogger"
    FORCEPLATE = "forceplate"
    CSV = "csv"


def detect_kind(path: str | Path) -> ImportKind:
    """What produced a file or export folder/zip, from its file names and header line (only
    the first lines of a table are read).

    Raises:
        FormatError: the path cannot be read, holds no table, or its maker cannot be told
            (the advice then spells out `--columns` for its columns).
    """
    source = Path(path)
    with open_bundle(source) as bundle:
        if any(bundle.find(n) for n in _PHYPHOX_NAMES):
            return ImportKind.PHYPHOX
        if any(bundle.find(n) for n in _SENSORLOGGER_NAMES):
            return ImportKind.SENSOR_LOGGER
        tables = [m for k, m in bundle.members.items() if k.endswith(TABLE_SUFFIXES)]
        csvs = tables if len(bundle.members) > 1 else list(bundle.members.values())
        if not csvs:
            raise FormatError("holds no CSV or TXT table", path=str(source))
        text = bundle.head(csvs[0])
        where = bundle.where(csvs[0])
    try:
        raw = parse_rows(text, where)
        header, line = raw.header, raw.header_line
    except FormatError:
        header, line = (), None
    folded = {h.casefold() for h in header}
    if detect_layout(header) is not None:
        return ImportKind.FORCEPLATE
    if {"time", "seconds_elapsed"} <= folded:
        return ImportKind.SENSOR_LOGGER
    if "time (s)" in folded:
        return ImportKind.PHYPHOX
    raise FormatError(
        "cannot tell which app or device wrote this file (not phyphox, Sensor Logger or a"
        " known force-plate layout)",
        path=where,
        line=line,
        advice=columns_advice(text),
    )


def columns_advice(text: str) -> str:
    """What to type to read an unknown table: --columns filled in from its column names."""
    layout = guess_layout(text)
    try:
        header = parse_rows(text, "", layout).header
    except FormatError:
        header = ()
    time = next((h for h in header if "time" in h.casefold()), "COLUMN")
    axes: dict[str, str] = {}
    for name in header:
        match = _AXIS_NAME.search(name)
        if match and not name.casefold().startswith("free"):
            axes.setdefault(f"{match[1]}_{match[2]}".casefold(), name)
    axes = axes or {f"acc_{axis}": "COLUMN" for axis in "xyz"}
    quantities = dict.fromkeys(key.split("_", 1)[0] for key in axes)
    keys = [f"time={time}", *(f"{k}={v}" for k, v in axes.items())]
    keys += ["time_units=UNIT", *(f"{q}_units=UNIT" for q in quantities)]
    options = " ".join(filter(None, ("--tracked-point board", layout.options())))
    units = "; ".join(f"{q} {allowed_units(DIMENSIONS[_QUANTITY[q]])}" for q in quantities)
    return (
        f"Say which column is which: --columns {shlex.quote(','.join(keys))} {options}"
        f" (UNIT: time {allowed_units('time')}; {units})."
        + (f" The columns: {', '.join(header[:12])}" if header else "")
        + (", ..." if len(header) > 12 else "")
    )


def is_one_export(folder: Path) -> bool:
    """Whether a folder is one phyphox or Sensor Logger export (else: a folder of files)."""
    try:
        return detect_kind(folder) in (ImportKind.PHYPHOX, ImportKind.SENSOR_LOGGER)
    except FormatError:
        return False


def importable_files(folder: Path) -> list[Path]:
    """The tables and zip archives directly in a folder, sorted by name."""
    suffixes = (*TABLE_SUFFIXES, ".zip")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.casefold() in suffixes)


def import_file(
    path: str | Path,
    *,
    athlete: str = "anon",
    kind: ImportKind | None = None,
    column_map: ColumnMap | None = None,
    layout: TableLayout = DEFAULT_LAYOUT,
    tracked_point: str | None = None,
    tracksys: str | None = None,
    per_foot: bool = False,
) -> list[Recording]:
    """Import a foreign file as Recordings, detecting its kind unless `kind` is given.

    A `column_map` implies the generic CSV reader, read with `layout`. `tracked_point` applies
    to phone imports (default `sternum`); `tracksys` defaults to `phone`, `forceplate` or
    `csv`. `per_foot` adds the left/right plates of a two-plate force-plate file. Each kind's
    reader states its rules for missing cells and a cut last line.

    Raises:
        FormatError: the file cannot be read, its kind cannot be told, or a line is malformed
            (naming the file and line).
        InvalidArgumentError: `kind` csv without a `column_map`, or a `layout` with another kind.
    """
    if kind is None:
        kind = ImportKind.CSV if column_map is not None else detect_kind(path)
    if kind is ImportKind.CSV:
        if column_map is None:
            raise InvalidArgumentError(
                "kind 'csv' needs a column_map",
                advice="Pass column_map=ColumnMap(time=..., time_units=..., columns={...}).",
            )
        recording = import_csv(
            path, column_map, athlete=athlete, tracksys=tracksys or "csv", layout=layout
        )
        return [recording]
    if layout != DEFAULT_LAYOUT:
        raise InvalidArgumentError(
            f"a table layout applies only to a file read with a column map, not to {kind}",
            advice="Drop --skip-rows, --header-rows, --delimiter and --decimal, or add --columns.",
        )
    if kind is ImportKind.FORCEPLATE:
        return import_forceplate(
            path, athlete=athlete, tracksys=tracksys or "forceplate", per_foot=per_foot
        )
    reader = import_phyphox if kind is ImportKind.PHYPHOX else import_sensorlogger
    recording = reader(
        path,
        athlete=athlete,
        tracked_point=tracked_point or "sternum",
        tracksys=tracksys or "phone",
    )
    return [recording]
