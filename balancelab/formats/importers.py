"""One entry for every foreign file: detect its kind and import it as Recording(s)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats._tabular import open_bundle, parse_rows
from balancelab.formats.import_csv import ColumnMap, import_csv
from balancelab.formats.import_forceplate import detect_layout, import_forceplate
from balancelab.formats.import_phyphox import import_phyphox
from balancelab.formats.import_sensorlogger import import_sensorlogger
from balancelab.model import Recording

__all__ = ["ColumnMap", "ImportKind", "detect_kind", "import_file"]

_SENSORLOGGER_NAMES = ("metadata.csv", "totalacceleration.csv", "gravity.csv")
_PHYPHOX_NAMES = ("meta/time.csv", "meta/device.csv")


class ImportKind(StrEnum):
    PHYPHOX = "phyphox"
    SENSOR_LOGGER = "sensorlogger"
    FORCEPLATE = "forceplate"
    CSV = "csv"


def detect_kind(path: str | Path) -> ImportKind:
    """What produced a file or export folder/zip, from its file names and header line."""
    source = Path(path)
    with open_bundle(source) as bundle:
        if any(bundle.find(n) for n in _PHYPHOX_NAMES):
            return ImportKind.PHYPHOX
        if any(bundle.find(n) for n in _SENSORLOGGER_NAMES):
            return ImportKind.SENSOR_LOGGER
        tables = [m for k, m in bundle.members.items() if k.endswith((".csv", ".txt", ".tsv"))]
        csvs = tables if len(bundle.members) > 1 else list(bundle.members.values())
        if not csvs:
            raise FormatError("holds no CSV or TXT table", path=str(source))
        header = parse_rows(bundle.read_text(csvs[0]), bundle.where(csvs[0])).header
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
        path=str(source),
        line=1,
        advice="Pass a ColumnMap saying which column is the time and which are the channels.",
    )


def import_file(
    path: str | Path,
    *,
    athlete: str = "anon",
    kind: ImportKind | None = None,
    column_map: ColumnMap | None = None,
    tracked_point: str | None = None,
    tracksys: str | None = None,
    per_foot: bool = False,
    allow_linear_acceleration: bool = False,
) -> list[Recording]:
    """Import a foreign file as Recordings, detecting its kind unless `kind` is given.

    A `column_map` implies the generic CSV reader. `tracked_point` applies to phone imports
    (default `sternum`); `tracksys` defaults to `phone`, `forceplate` or `csv`. `per_foot` adds
    the left/right plates of a two-plate force-plate file.
    """
    if kind is None:
        kind = ImportKind.CSV if column_map is not None else detect_kind(path)
    if kind is ImportKind.CSV:
        if column_map is None:
            raise InvalidArgumentError(
                "kind 'csv' needs a column_map",
                advice="Pass column_map=ColumnMap(time=..., time_units=..., columns={...}).",
            )
        return [import_csv(path, column_map, athlete=athlete, tracksys=tracksys or "csv")]
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
        allow_linear_acceleration=allow_linear_acceleration,
    )
    return [recording]
