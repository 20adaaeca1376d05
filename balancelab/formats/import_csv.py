"""Import a generic delimited text file (comma, semicolon or tab) through an explicit ColumnMap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from balancelab.errors import InvalidArgumentError
from balancelab.formats._tabular import (
    DIMENSIONS,
    allowed_units,
    check_times,
    datetime_from_epoch_s,
    decode_text,
    nominal_fs_hz,
    parse_rows,
    read_file_bytes,
    si_factor,
    to_numeric,
)
from balancelab.model import QUANTITY_NAMES, UNKNOWN_START_UTC, Channel, Recording

EPOCH_THRESHOLD_S = 1e8
_QUANTITIES = {name: ctype for ctype, name in QUANTITY_NAMES.items()}


@dataclass(frozen=True)
class ColumnMap:
    """Which file column feeds which balancelab channel, and in which unit.

    `columns` maps a channel name `<tracked_point>_<quantity>_<component>` (e.g. `board_acc_x`)
    to `(file column, unit)`, e.g. `("ax", "g")`. Units: see `balancelab.formats._tabular.UNITS`.
    """

    time: str
    time_units: str = "s"
    columns: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if si_factor(self.time_units, "time") is None:
            raise InvalidArgumentError(
                f"time_units {self.time_units!r} is not allowed; use one of {allowed_units('time')}"
            )
        if not self.columns:
            raise InvalidArgumentError("columns is empty: map at least one channel to a column")
        for name, (_, unit) in self.columns.items():
            dimension = DIMENSIONS[_channel(name).type]
            if si_factor(unit, dimension) is None:
                raise InvalidArgumentError(
                    f"unit {unit!r} of channel {name!r} is not allowed for {dimension};"
                    f" use one of {allowed_units(dimension)}"
                )

    def channels(self) -> tuple[Channel, ...]:
        return tuple(_channel(name) for name in self.columns)


def _channel(name: str) -> Channel:
    parts = name.split("_", 2)
    if len(parts) != 3 or parts[1] not in _QUANTITIES:
        raise InvalidArgumentError(
            f"channel name {name!r} is not <tracked_point>_<quantity>_<component> with quantity"
            f" one of {', '.join(_QUANTITIES)} (e.g. 'board_acc_x')"
        )
    return Channel.make(parts[0], _QUANTITIES[parts[1]], parts[2])


def import_csv(
    path: str | Path,
    column_map: ColumnMap,
    *,
    athlete: str = "anon",
    tracksys: str = "csv",
) -> Recording:
    """Read the mapped columns of a delimited file into a Recording in SI units.

    Times above 1e8 s (after 1973) are taken as Unix times: `start_utc` is then the first
    sample's time and `time_s` counts from it. Empty or NaN data cells become NaN (gaps).
    """
    source = Path(path)
    raw = parse_rows(decode_text(read_file_bytes(source), str(source)), str(source))
    names = (column_map.time, *(col for col, _ in column_map.columns.values()))
    table = to_numeric(raw, tuple(dict.fromkeys(names)))
    raw_time = table.column(column_map.time)
    check_times(raw_time, table, column_map.time)
    factor = _si(column_map.time_units, "time")
    start_utc = UNKNOWN_START_UTC
    if raw_time[0] * factor > EPOCH_THRESHOLD_S:
        start_utc = datetime_from_epoch_s(float(raw_time[0] * factor), table.where)
        raw_time = raw_time - raw_time[0]
    time_s = raw_time * factor
    channels = column_map.channels()
    values = np.column_stack(
        [
            table.column(col) * _si(unit, DIMENSIONS[ch.type])
            for ch, (col, unit) in zip(channels, column_map.columns.values(), strict=True)
        ]
    )
    return Recording(
        time_s=time_s,
        values=values,
        channels=channels,
        nominal_fs_hz=nominal_fs_hz(time_s),
        tracksys=tracksys,
        athlete=athlete,
        start_utc=start_utc,
        lost_samples=int(np.count_nonzero(np.isnan(values).any(axis=1))),
    )


def _si(unit: str, dimension: str) -> float:
    factor = si_factor(unit, dimension)
    assert factor is not None, "checked by ColumnMap"
    return factor
