"""Import a generic delimited text file (comma, semicolon or tab) through an explicit ColumnMap.

On the command line the map is written `--columns time=t,acc_x=ax,...,time_units=ms,acc_units=g`
(`parse_columns`); a preamble or a multi-row header is described by a TableLayout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats._sources import Source
from balancelab.formats._tabular import (
    DEFAULT_LAYOUT,
    DIMENSIONS,
    TableLayout,
    allowed_units,
    check_gravity,
    check_times,
    datetime_from_epoch_s,
    layout_hint,
    nominal_fs_hz,
    open_table,
    read_head,
    si_factor,
)
from balancelab.model import (
    QUANTITY_NAMES,
    TRACKED_POINTS,
    UNKNOWN_START_UTC,
    Channel,
    ChannelType,
    FloatArray,
    Recording,
)

EPOCH_THRESHOLD_S = 1e8
_QUANTITIES = {name: ctype for ctype, name in QUANTITY_NAMES.items() if ctype in DIMENSIONS}
_PLATE_QUANTITIES = ("pos",)  # always the tracked point `cop`
SENSOR_POINTS = tuple(p for p in TRACKED_POINTS if p != "cop")
COLUMNS_EXAMPLE = "--columns time=t,acc_x=ax,acc_y=ay,acc_z=az,time_units=ms,acc_units=g"


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


def parse_columns(spec: str, tracked_point: str | None = None) -> ColumnMap:
    """A ColumnMap from `time=t,acc_x=ax,...,time_units=ms,acc_units=g` (the --columns text).

    Keys are `time`, `<quantity>_<component>` (quantity acc, gyr, mag, ori, pos) and
    `<quantity>_units`; every quantity used needs its unit. `pos` channels belong to the
    force plate (`cop`); the others to `tracked_point`.

    Raises:
        InvalidArgumentError: an item is not key=value, a key or unit is unknown, a unit is
            missing, or a sensor channel is mapped without `tracked_point`.
    """
    pairs = _split_pairs(spec)
    units = {k.removesuffix("_units"): v for k, v in pairs.items() if k.endswith("_units")}
    mapped = {k: v for k, v in pairs.items() if not k.endswith("_units")}
    if "time" not in mapped:
        raise _columns_error(
            f"--columns names no time column; start it with time=<column>, e.g. {COLUMNS_EXAMPLE}"
        )
    quantities = {"time"} | {key.split("_", 1)[0] for key in mapped if key != "time"}
    _check_units(units, quantities)
    columns = {
        _channel_name(key, tracked_point): (column, units[key.split("_", 1)[0]])
        for key, column in mapped.items()
        if key != "time"
    }
    return ColumnMap(time=mapped["time"], time_units=units["time"], columns=columns)


def _split_pairs(spec: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        key, sep, value = item.partition("=")
        key, value = key.strip().casefold(), value.strip()
        if not sep or not key or not value:
            raise _columns_error(
                f"--columns item {item!r} is not key=value; write e.g. {COLUMNS_EXAMPLE}"
            )
        if key in pairs:
            raise _columns_error(f"--columns gives {key!r} twice")
        pairs[key] = value
    return pairs


def _check_units(units: Mapping[str, str], quantities: set[str]) -> None:
    for quantity in sorted(quantities):
        if quantity not in _QUANTITIES and quantity != "time":
            raise _columns_error(
                f"--columns has keys starting {quantity!r}, which is not a quantity; use time"
                f" or one of {', '.join(_QUANTITIES)} followed by _x, _y or _z (e.g. acc_x=ax)"
            )
        if quantity not in units:
            dimension = "time" if quantity == "time" else DIMENSIONS[_QUANTITIES[quantity]]
            raise _columns_error(
                f"--columns does not say the unit of {quantity}; add {quantity}_units=<unit>"
                f" with <unit> one of {allowed_units(dimension)}"
            )
    extra = sorted(set(units) - quantities)
    if extra:
        raise _columns_error(f"--columns gives {extra[0]}_units but maps no {extra[0]} column")


def _channel_name(key: str, tracked_point: str | None) -> str:
    quantity = key.split("_", 1)[0]
    if quantity in _PLATE_QUANTITIES:
        return f"cop_{key}"
    if tracked_point is None:
        raise _columns_error(
            f"--columns maps {key}, but where was the sensor? Add --tracked-point with one"
            f" of {', '.join(SENSOR_POINTS)}"
        )
    return f"{tracked_point}_{key}"


def _columns_error(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        message,
        advice=f"Write --columns as key=value pairs, e.g. {COLUMNS_EXAMPLE} (keys: time,"
        " <quantity>_x/_y/_z, <quantity>_units; quantities acc, gyr, mag, ori, pos).",
    )


def import_csv(
    path: str | Path,
    column_map: ColumnMap,
    *,
    athlete: str = "anon",
    tracksys: str = "csv",
    layout: TableLayout = DEFAULT_LAYOUT,
) -> Recording:
    """Read the mapped columns of a delimited file into a Recording in SI units.

    Times above 1e8 s (after 1973) are taken as Unix times: `start_utc` is then the first
    sample's time and `time_s` counts from it. Empty or NaN data cells become NaN (gaps),
    counted in `lost_samples`.
    An empty time cell, a cell that is not a number, or a last line cut short (fewer cells)
    is refused, its line named; a last line that lacks only its newline is read.
    Acceleration mapped on all three axes must include gravity (mean magnitude near g).
    The file is read in blocks: its first lines are checked before the rest is read, and the
    memory held is about twice the arrays returned.

    Raises:
        FormatError: the file cannot be read, a mapped column is missing, a line is malformed
            (naming the file and line), times do not increase, or acceleration lacks gravity.
    """
    source = Source(Path(path))
    names = (column_map.time, *(col for col, _ in column_map.columns.values()))
    try:
        with open_table(source, layout) as reader:
            table = reader.numeric(tuple(dict.fromkeys(names)))
    except FormatError as exc:
        try:
            hint = layout_hint(read_head(source), layout)
        except FormatError:
            hint = ""  # the head itself is unreadable: the error says why
        exc.advice = hint or exc.advice
        raise
    raw_time = table.column(column_map.time)
    check_times(raw_time, table, column_map.time)
    factor = _si(column_map.time_units, "time")
    start_utc = UNKNOWN_START_UTC
    if raw_time[0] * factor > EPOCH_THRESHOLD_S:
        start_utc = datetime_from_epoch_s(float(raw_time[0] * factor), table.where)
        raw_time = raw_time - raw_time[0]
    time_s = raw_time * factor
    channels = column_map.channels()
    values = np.empty((time_s.size, len(channels)))
    for j, (ch, (col, unit)) in enumerate(zip(channels, column_map.columns.values(), strict=True)):
        np.multiply(table.column(col), _si(unit, DIMENSIONS[ch.type]), out=values[:, j])
    del table, raw_time  # the parsed columns: freed before the checks' temporaries are made
    _check_acceleration(channels, values, str(source.path))
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


def _check_acceleration(channels: tuple[Channel, ...], values: FloatArray, where: str) -> None:
    """Each tracked point's x/y/z acceleration must average near g in magnitude."""
    for point in dict.fromkeys(c.tracked_point for c in channels):
        axes = {
            c.component: i
            for i, c in enumerate(channels)
            if c.tracked_point == point and c.type is ChannelType.ACCEL
        }
        if {"x", "y", "z"} <= axes.keys():
            check_gravity(
                values[:, [axes[a] for a in "xyz"]],
                where,
                advice="If the file holds acceleration with gravity, check acc_units (g or"
                " m/s^2?); acceleration without gravity cannot be stored.",
            )


def _si(unit: str, dimension: str) -> float:
    factor = si_factor(unit, dimension)
    assert factor is not None, "checked by ColumnMap"
    return factor
