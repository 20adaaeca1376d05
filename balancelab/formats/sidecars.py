"""The sidecars of a Motion-BIDS stream, checked as they are read: channels.tsv (the columns of
motion.tsv and their units), motion.json, balancelab's own `_balancelab.json`, and events.tsv.

Every problem raises `FormatError` naming the file and, for a table, the line; for a JSON key,
the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats.bids import (
    EVENTS_COLUMNS,
    NA,
    READABLE_UNITS,
    REQUIRED_CHANNELS_COLUMNS,
    Calibration,
    UnitConversion,
    decode_text,
    parse_cell,
    parse_motion_name,
    read_bytes,
    read_json,
)
from balancelab.model import (
    TIME_CHANNEL,
    Channel,
    ChannelType,
    DeviceInfo,
    Matrix3,
    Outcome,
    Side,
    Surface,
    Trial,
    TrialType,
    Vision,
)


@dataclass(frozen=True)
class ChannelTable:
    """channels.tsv: the data channels (SI) and one unit conversion per motion.tsv column."""

    channels: tuple[Channel, ...]
    conversions: tuple[UnitConversion, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return (TIME_CHANNEL, *(c.name for c in self.channels))


@dataclass(frozen=True)
class StreamInfo:
    """balancelab's own metadata of a stream (`_balancelab.json`); defaults if there is none."""

    status: str | None = None
    format_version: int | None = None
    software_version: str | None = None
    device: DeviceInfo = field(default_factory=DeviceInfo)
    sensor_to_segment: Mapping[str, Matrix3] = field(default_factory=dict)
    calibration: Calibration | None = None
    lost_samples: int = 0
    recovery: Mapping[str, Any] | None = None


def read_channels(path: Path) -> ChannelTable:
    """Parse channels.tsv: `time` (LATENCY, s) first, then channels of known types and units."""
    rows = read_tsv(path, REQUIRED_CHANNELS_COLUMNS)
    if not rows or rows[0][1]["name"] != TIME_CHANNEL:
        raise FormatError("the first channel must be 'time'", path=str(path), line=2)
    channels: list[Channel] = []
    conversions: list[UnitConversion] = []
    for line, row in rows:
        conv = _conversion(row, path, line)
        conversions.append(conv)
        if line > 2:
            channels.append(_channel(row, conv, path, line))
    return ChannelTable(tuple(channels), tuple(conversions))


def _conversion(row: Mapping[str, str], path: Path, line: int) -> UnitConversion:
    kind = "LATENCY" if line == 2 else row["type"]
    if line == 2 and (row["type"], row["units"]) != ("LATENCY", "s"):
        raise FormatError(
            "channel 'time' must have type LATENCY and units s", path=str(path), line=2
        )
    if kind not in READABLE_UNITS:
        allowed = ", ".join(t for t in READABLE_UNITS if t != "LATENCY")
        raise FormatError(f"type {kind!r} is not one of {allowed}", path=str(path), line=line)
    units = READABLE_UNITS[kind]
    if row["units"] not in units:
        raise FormatError(
            f"units {row['units']!r} are unknown for {kind}; expected one of {', '.join(units)}",
            path=str(path),
            line=line,
        )
    return units[row["units"]]


def _channel(row: Mapping[str, str], conv: UnitConversion, path: Path, line: int) -> Channel:
    type_ = ChannelType(row["type"])
    component, point = row["component"], row["tracked_point"]
    if (conv.si_unit == NA) != component.startswith("quat"):
        raise FormatError(
            f"units {row['units']!r} do not fit component {component!r}", path=str(path), line=line
        )
    return Channel(row["name"], type_, component, point, conv.si_unit)


def read_tsv(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a TSV with a header, as (line number, {column: cell}); checks shape and columns."""
    lines = decode_text(read_bytes(path), path).splitlines()
    if not lines:
        raise FormatError("the file is empty; expected a header row", path=str(path), line=1)
    header = lines[0].split("\t")
    missing = [c for c in required if c not in header]
    if missing:
        raise FormatError(
            f"header lacks column(s) {', '.join(missing)} (tab-separated: {', '.join(required)})",
            path=str(path),
            line=1,
        )
    rows = []
    for number, text in enumerate(lines[1:], start=2):
        cells = text.split("\t")
        if len(cells) != len(header):
            raise FormatError(
                f"{len(cells)} tab-separated cells, the header has {len(header)}",
                path=str(path),
                line=number,
            )
        rows.append((number, dict(zip(header, cells, strict=True))))
    return rows


def read_stream_info(motion_tsv: Path) -> StreamInfo:
    """The `_balancelab.json` beside a motion.tsv; defaults for a foreign Motion-BIDS stream.

    Raises:
        FormatError: the motion.tsv name is not a Motion-BIDS name, or the file is unreadable,
            not JSON, or a key has the wrong shape (naming the key).
    """
    path = parse_motion_name(motion_tsv).paths(motion_tsv.parent).balancelab_json
    if not path.exists():
        return StreamInfo()
    return _stream_info(read_json(path), path)


def _stream_info(data: Mapping[str, Any], path: Path) -> StreamInfo:
    """Every key checked for its JSON shape; a wrong one raises FormatError naming the key."""
    recovery = data.get("recovery")
    if recovery is not None and not isinstance(recovery, dict):
        raise _bad_key(path, "recovery", recovery, "an object or null")
    return StreamInfo(
        status=_text(data, "status", path),
        format_version=_count(data, "format_version", path),
        software_version=_optional_text(data.get("software_version"), "software_version", path),
        device=_device(data.get("device"), path),
        sensor_to_segment=_rotations(data.get("sensor_to_segment"), path),
        calibration=_calibration(data.get("calibration"), path),
        lost_samples=_count(data, "lost_samples", path, default=0),
        recovery=recovery,
    )


def _kind(value: object) -> str:
    """The JSON kind of a value, for messages (never the value itself, which may be huge)."""
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"))
    for types, name in (*kinds, (list, "a list"), (dict, "an object")):
        if isinstance(value, types):
            return name
    return "null"


def _bad_key(path: Path, key: str, value: object, expected: str) -> FormatError:
    return FormatError(f"{key!r} is {_kind(value)}; expected {expected}", path=str(path))


def _missing(path: Path, key: str) -> FormatError:
    return FormatError(f"{key!r} is missing", path=str(path))


def _text(data: Mapping[str, Any], key: str, path: Path) -> str:
    if key not in data:
        raise _missing(path, key)
    value = data[key]
    if not isinstance(value, str):
        raise _bad_key(path, key, value, "a string")
    return value


def _optional_text(value: object, key: str, path: Path) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _bad_key(path, key, value, "a string or null")
    return value


def _count(data: Mapping[str, Any], key: str, path: Path, default: int | None = None) -> int:
    if key not in data and default is None:
        raise _missing(path, key)
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad_key(path, key, value, "a whole number >= 0")
    return value


def _finite(value: object) -> float | None:
    """A JSON number as a finite float, or None (booleans, text, huge or non-finite numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _numbers(value: object, size: int) -> tuple[float, ...] | None:
    """A JSON list of exactly `size` finite numbers, or None."""
    if not isinstance(value, list) or len(value) != size:
        return None
    numbers = [_finite(x) for x in value]
    return None if None in numbers else tuple(x for x in numbers if x is not None)


def _device(value: object, path: Path) -> DeviceInfo:
    if value is None:
        return DeviceInfo()
    if not isinstance(value, dict):
        raise _bad_key(path, "device", value, "an object or null")
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if key not in DeviceInfo.__dataclass_fields__:
            known = ", ".join(DeviceInfo.__dataclass_fields__)
            raise FormatError(f"'device' has unknown key {key!r} (known: {known})", path=str(path))
        if key == "battery_pct":
            fields[key] = None if item is None else _finite(item)
            if fields[key] is None and item is not None:
                raise _bad_key(path, "device.battery_pct", item, "a number or null")
        else:
            fields[key] = _optional_text(item, f"device.{key}", path)
    return DeviceInfo(**fields)


def _rotations(value: object, path: Path) -> dict[str, Matrix3]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad_key(path, "sensor_to_segment", value, "an object of tracked point: 3x3 matrix")
    rotations: dict[str, Matrix3] = {}
    for point, rows in value.items():
        matrix = _matrix(rows)
        if matrix is None:
            raise FormatError(
                f"'sensor_to_segment' entry {point!r} is not a 3x3 matrix of finite numbers"
                " (a list of three lists of three numbers)",
                path=str(path),
            )
        rotations[point] = matrix
    return rotations


def _matrix(value: object) -> Matrix3 | None:
    if not isinstance(value, list) or len(value) != 3:
        return None
    a, b, c = (_numbers(row, 3) for row in value)
    if a is None or b is None or c is None:
        return None
    return ((a[0], a[1], a[2]), (b[0], b[1], b[2]), (c[0], c[1], c[2]))


def _calibration(value: object, path: Path) -> Calibration | None:
    if value is None:
        return None
    expected = 'an object {"window_s": [start, stop], "gravity_ms2": [x, y, z]} or null'
    if not isinstance(value, dict):
        raise _bad_key(path, "calibration", value, expected)
    window = _numbers(value.get("window_s"), 2)
    gravity = _numbers(value.get("gravity_ms2"), 3)
    if window is None:
        raise _bad_key(path, "calibration.window_s", value.get("window_s"), "2 finite numbers")
    if gravity is None:
        gravity_ms2 = value.get("gravity_ms2")
        raise _bad_key(path, "calibration.gravity_ms2", gravity_ms2, "3 finite numbers")
    return Calibration((window[0], window[1]), (gravity[0], gravity[1], gravity[2]))


_TIMES_ADVICE = (
    "Correct this row of events.tsv: onset and duration are seconds on the recording's clock,"
    " duration >= 0 (e.g. 20.0), or delete the row if its times are not known."
)


def read_trials(events_tsv: Path) -> tuple[Trial, ...]:
    """The trials in an events.tsv (none if the file does not exist)."""
    if not events_tsv.exists():
        return ()
    trials = []
    for line, row in read_tsv(events_tsv, EVENTS_COLUMNS):
        try:
            trials.append(_trial(row, events_tsv, line))
        except InvalidArgumentError as exc:
            raise FormatError(exc.message, path=str(events_tsv), line=line) from exc
    return tuple(trials)


def _trial(row: Mapping[str, str], path: Path, line: int) -> Trial:
    seconds = READABLE_UNITS["LATENCY"]["s"]
    levels = (TrialType, Side, Surface, Vision, Outcome)
    picked = []
    for column, enum in zip(EVENTS_COLUMNS[2:], levels, strict=True):
        if row[column] not in enum._value2member_map_:
            allowed = ", ".join(m.value for m in enum)
            raise FormatError(
                f"{column} {row[column]!r} is not one of {allowed}", path=str(path), line=line
            )
        picked.append(row[column])
    try:
        onset = parse_cell(row["onset"], seconds, path, line, "onset")
        duration = parse_cell(row["duration"], seconds, path, line, "duration")
    except FormatError as exc:
        raise FormatError(exc.message, advice=_TIMES_ADVICE) from exc
    for column, value in (("onset", onset), ("duration", duration)):
        if math.isnan(value):
            raise FormatError(
                f"{column} is 'n/a': every trial needs its {column} in s",
                path=str(path),
                line=line,
                advice=_TIMES_ADVICE,
            )
    if duration < 0:
        raise FormatError(
            f"duration {row['duration']!r} s is negative: the trial would end before it starts",
            path=str(path),
            line=line,
            advice=_TIMES_ADVICE,
        )
    return Trial(
        onset,
        duration,
        TrialType(picked[0]),
        Side(picked[1]),
        Surface(picked[2]),
        Vision(picked[3]),
        Outcome(picked[4]),
    )


def read_motion_json(path: Path) -> dict[str, Any]:
    """motion.json, checked for a positive `SamplingFrequency` (Hz)."""
    data = read_json(path)
    fs = data.get("SamplingFrequency")
    fs_hz = _finite(fs)
    if fs_hz is None or not fs_hz > 0:
        shown = repr(fs) if len(repr(fs)) <= 40 else _kind(fs)
        raise FormatError(
            f"SamplingFrequency is {shown}; expected a number of Hz > 0", path=str(path)
        )
    return data
