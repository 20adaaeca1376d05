"""Import a phyphox CSV export (zip, unzipped folder, or a single CSV) as one IMU Recording.

Layout, from phyphox's own exporter (phyphox-android `DataExport.java`, bundled experiments
`accelerometer.phyphox`, `gyroscope.phyphox`): one `<export set>.csv` per set (`Raw Data.csv`,
or `Accelerometer.csv` / `Gyroscope.csv` in multi-sensor experiments), header cells quoted, e.g.
`"Time (s)","Acceleration x (m/s^2)",…` or `"Gyroscope x (rad/s)"`; separator comma, tab or
semicolon with a decimal point, or tab/semicolon with a decimal comma; shorter columns padded
with `NaN`. Beside them `meta/device.csv` (`"property","value"`) and `meta/time.csv`
(`"event","experiment time","system time","system time text"`, system time in Unix s).

The phone IMU merge below (`merge_imu`, `build_imu_recording`) is shared with Sensor Logger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np

from balancelab.errors import FormatError
from balancelab.formats._tabular import (
    Bundle,
    Table,
    check_gravity,
    check_times,
    datetime_from_epoch_s,
    nominal_fs_hz,
    open_bundle,
    si_factor,
    to_number,
)
from balancelab.model import (
    UNKNOWN_START_UTC,
    ChannelType,
    DeviceInfo,
    FloatArray,
    Recording,
    imu_channels,
)

_HEADER = re.compile(r"^(?P<label>.*?)\s*\((?P<unit>[^()]*)\)$")
_SKIPPED_WORDS = ("absolute", "gravity", "magnitude")
LINEAR_ADVICE = (
    "Record again with phyphox's 'Acceleration with g' experiment (or a multi-sensor"
    " experiment that exports Accelerometer.csv) and import that export."
)


@dataclass(frozen=True)
class _Columns:
    """Where the time and the x/y/z columns of one sensor sit in a phyphox table."""

    time: int | None
    acc: dict[str, int]
    gyr: dict[str, int]
    linear: bool


def import_phyphox(
    path: str | Path,
    *,
    athlete: str = "anon",
    tracked_point: str = "sternum",
    tracksys: str = "phone",
) -> Recording:
    """Read a phyphox export into a Recording (acc in m/s^2 with gravity, gyro in rad/s).

    Acceleration without gravity is refused: a table is taken as such when its file name or
    column labels say "linear" or when its magnitude averages far from g. Tables are read
    in the export's order until an accelerometer (with gravity) and a gyroscope are found.
    Empty or `NaN` data cells are kept as gaps (NaN, counted in `lost_samples`); the all-`NaN`
    rows phyphox pads a shorter table with at its end are dropped.
    An empty time cell, a cell that is not a number, or a last line cut short (fewer cells)
    is refused, its line named; a last line that lacks only its newline is read.

    Raises:
        FormatError: the export cannot be read, holds no accelerometer or gyroscope table, only
            linear acceleration, or a malformed line (naming the file and line).
    """
    source = Path(path)
    with open_bundle(source) as bundle:
        acc, gyr = _read_streams(bundle, str(source))
        start_utc = _read_start(bundle)
        device = _read_device(bundle)
    return build_imu_recording(
        acc,
        gyr,
        tracked_point=tracked_point,
        tracksys=tracksys,
        athlete=athlete,
        start_utc=start_utc,
        device=device,
    )


@dataclass(frozen=True)
class ImuStream:
    """One phone sensor's samples: times (s) and x/y/z values (SI) from one table."""

    time_s: FloatArray
    xyz: FloatArray
    where: str


def merge_imu(acc: ImuStream | None, gyr: ImuStream | None) -> tuple[FloatArray, FloatArray]:
    """Times and values [acc xyz, gyr xyz] on the accelerometer's time base.

    The gyroscope is interpolated onto the accelerometer times only within its own span and
    never across its gaps longer than 2 nominal periods; those samples become NaN.
    """
    if acc is None or gyr is None:
        only = acc or gyr
        assert only is not None
        return only.time_s, only.xyz
    return acc.time_s, np.hstack([acc.xyz, resample_stream(gyr, acc.time_s)])


def build_imu_recording(
    acc: ImuStream | None,
    gyr: ImuStream | None,
    *,
    tracked_point: str,
    tracksys: str,
    athlete: str,
    start_utc: datetime,
    device: DeviceInfo,
) -> Recording:
    """A phone Recording from its accelerometer and/or gyroscope streams."""
    time_s, values = merge_imu(acc, gyr)
    types = {ChannelType.ACCEL} if acc else set()
    types |= {ChannelType.GYRO} if gyr else set()
    return Recording(
        time_s=time_s,
        values=values,
        channels=tuple(c for c in imu_channels(tracked_point) if c.type in types),
        nominal_fs_hz=nominal_fs_hz(time_s),
        tracksys=tracksys,
        athlete=athlete,
        start_utc=start_utc,
        device=device,
        lost_samples=int(np.count_nonzero(np.isnan(values).any(axis=1))),
    )


def resample_stream(stream: ImuStream, base_s: FloatArray) -> FloatArray:
    """`stream` at the times `base_s`: NaN outside its span and across gaps > 2 periods."""
    max_gap_s = 2.0 / nominal_fs_hz(stream.time_s)
    return interpolate_onto(base_s, stream.time_s, stream.xyz, max_gap_s)


def interpolate_onto(
    base_s: FloatArray, time_s: FloatArray, values: FloatArray, max_gap_s: float
) -> FloatArray:
    """`values` (n, c) sampled at `time_s`, linearly interpolated at `base_s`.

    NaN outside the span of `time_s` and between samples further apart than `max_gap_s`.
    """
    out = np.full((base_s.size, values.shape[1]), np.nan)
    inside = np.flatnonzero((base_s >= time_s[0]) & (base_s <= time_s[-1]))
    at = base_s[inside]
    left = np.clip(np.searchsorted(time_s, at, side="right") - 1, 0, time_s.size - 2)
    span = time_s[left + 1] - time_s[left]
    frac = ((at - time_s[left]) / span)[:, None]
    merged = values[left] * (1.0 - frac) + values[left + 1] * frac
    exact = (frac[:, 0] == 0.0)[:, None]
    merged = np.where(exact, values[left], merged)
    merged[span > max_gap_s] = np.nan
    out[inside] = merged
    return out


def _data_members(bundle: Bundle) -> list[str]:
    return [
        m
        for k, m in bundle.members.items()
        if k.endswith(".csv") and not (k.startswith("meta/") or "/meta/" in k)
    ]


def _classify(header: Iterable[str]) -> _Columns:
    time: int | None = None
    acc: dict[str, int] = {}
    gyr: dict[str, int] = {}
    linear = False
    for index, cell in enumerate(header):
        match = _HEADER.match(cell)
        if match is None:
            continue
        label, unit = match["label"].strip().casefold(), match["unit"].strip()
        if label == "time" and si_factor(unit, "time") == 1.0:
            time = index
            continue
        axis = label.rsplit(" ", 1)[-1]
        if axis not in ("x", "y", "z") or any(w in label for w in _SKIPPED_WORDS):
            continue
        if si_factor(unit, "acceleration") == 1.0:
            acc[axis] = index
            linear = linear or "linear" in label
        elif si_factor(unit, "angular velocity") == 1.0:
            gyr[axis] = index
    return _Columns(time, acc, gyr, linear)


def _check_axes(axes: dict[str, int], kind: str, where: str) -> None:
    missing = sorted({"x", "y", "z"} - axes.keys())
    if missing:
        raise FormatError(
            f"the {kind} columns for axis {', '.join(missing)} are missing", path=where, line=1
        )


def _stream(table: Table, time: str, axes: dict[str, int]) -> ImuStream:
    names = (time, *(table.header[axes[a]] for a in "xyz"))
    kept = _without_padding(np.column_stack([table.column(n) for n in names]))
    time_s = np.ascontiguousarray(kept[:, 0])
    check_times(time_s, table, time)
    return ImuStream(time_s, np.ascontiguousarray(kept[:, 1:]), table.where)


def _without_padding(columns: FloatArray) -> FloatArray:
    """Drop the trailing all-NaN rows phyphox adds when a table's buffers differ in length."""
    filled = np.flatnonzero(~np.all(np.isnan(columns), axis=1))
    return columns[: filled[-1] + 1] if filled.size else columns


def _read_streams(bundle: Bundle, where: str) -> tuple[ImuStream | None, ImuStream | None]:
    """The first accelerometer table with gravity and the first gyroscope table."""
    acc: ImuStream | None = None
    gyr: ImuStream | None = None
    linear_where: str | None = None
    for member in _data_members(bundle):
        if acc is not None and gyr is not None:
            break
        with bundle.open_table(member) as reader:
            cols = _classify(reader.header)
            if cols.time is None:
                continue
            linear = cols.linear or "linear" in PurePosixPath(member).name.casefold()
            if cols.acc and linear:
                linear_where = linear_where or reader.where
            take_acc = bool(cols.acc) and acc is None and not linear
            take_gyr = bool(cols.gyr) and gyr is None
            if take_acc:
                _check_axes(cols.acc, "acceleration", reader.where)
            if take_gyr:
                _check_axes(cols.gyr, "gyroscope", reader.where)
            if not (take_acc or take_gyr):
                continue
            time = reader.header[cols.time]
            wanted = {**(cols.acc if take_acc else {}), **(cols.gyr if take_gyr else {})}
            table = reader.numeric((time, *(reader.header[i] for i in wanted.values())))
            if take_acc:
                acc = _stream(table, time, cols.acc)
            if take_gyr:
                gyr = _stream(table, time, cols.gyr)
    if acc is None and linear_where is not None:
        raise FormatError(
            "this export holds only acceleration without gravity (linear acceleration, by its"
            " file name or column labels); balancelab stores acceleration with gravity only",
            path=linear_where,
            advice=LINEAR_ADVICE,
        )
    if acc is None and gyr is None:
        raise FormatError(
            "found no phyphox accelerometer or gyroscope table; expected a CSV with a"
            " 'Time (s)' column and 'Acceleration x (m/s^2)' or 'Gyroscope x (rad/s)' columns",
            path=where,
        )
    if acc is not None:
        check_gravity(acc.xyz, acc.where, advice=LINEAR_ADVICE)
    return acc, gyr


def _read_start(bundle: Bundle) -> datetime:
    """Wall-clock time of experiment time 0, from the first START event of meta/time.csv."""
    member = bundle.find("meta/time.csv")
    if member is None:
        return UNKNOWN_START_UTC
    raw = bundle.table(member)
    event, exp, system = (raw.index(n) for n in ("event", "experiment time", "system time"))
    decimal_comma = raw.decimal_comma
    for row, line in zip(raw.rows, raw.lines, strict=True):
        if row[event].strip().upper() != "START":
            continue
        exp_s, system_s = to_number(row[exp], decimal_comma), to_number(row[system], decimal_comma)
        if exp_s is None or system_s is None or np.isnan(exp_s) or np.isnan(system_s):
            raise FormatError("the START event has no valid times", path=raw.where, line=line)
        return datetime_from_epoch_s(system_s - exp_s, raw.where)
    raise FormatError("meta/time.csv has no START event", path=raw.where)


def _read_device(bundle: Bundle) -> DeviceInfo:
    """Manufacturer and model from meta/device.csv, if present."""
    member = bundle.find("meta/device.csv")
    if member is None:
        return DeviceInfo()
    raw = bundle.table(member)
    key, value = raw.index("property"), raw.index("value")
    props = {row[key].strip(): row[value].strip() for row in raw.rows}
    return DeviceInfo(
        manufacturer=props.get("deviceManufacturer") or props.get("deviceBrand") or None,
        model=props.get("deviceModel") or None,
    )
