"""Import a Sensor Logger (Kelvin Choi) CSV export (zip, folder or one CSV) as one IMU Recording.

Layout, from the author's `tszheichoi/awesome-sensor-logger` (README, UNITS.md, CROSSPLATFORM.md):
one CSV per sensor with columns `time` (Unix ns), `seconds_elapsed` (s since the start tap, may
be negative for buffered samples), then `z,y,x`; read by name, not position. Units: m/s^2 for
`TotalAcceleration.csv`, `Accelerometer.csv` (without gravity) and `Gravity.csv`, rad/s for
`Gyroscope.csv`. `Metadata.csv` gives `device name`, `platform` and `standardisation`.

Acceleration with gravity is taken from `TotalAcceleration.csv`, else `Accelerometer.csv` +
`Gravity.csv`. On iOS without "Standardise Units & Frames" the acceleration axes are negated
relative to Android (CROSSPLATFORM.md); they are flipped here to the Android convention
(+9.81 m/s^2 on z when lying face up). Gyroscope signs agree on both platforms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from balancelab.errors import FormatError
from balancelab.formats._tabular import (
    Bundle,
    check_gravity,
    check_times,
    datetime_from_epoch_s,
    open_bundle,
)
from balancelab.formats.import_phyphox import ImuStream, build_imu_recording, resample_stream
from balancelab.model import DeviceInfo, Recording

_COLUMNS = ("time", "seconds_elapsed", "x", "y", "z")
LINEAR_ADVICE = (
    "Enable 'Total Acceleration' (or 'Gravity') in Sensor Logger, record again and import"
    " that export."
)


@dataclass(frozen=True)
class _Meta:
    device: DeviceInfo
    flip_acceleration: bool


def import_sensorlogger(
    path: str | Path,
    *,
    athlete: str = "anon",
    tracked_point: str = "sternum",
    tracksys: str = "phone",
) -> Recording:
    """Read a Sensor Logger export into a Recording (acc m/s^2 with gravity, gyro rad/s).

    Acceleration without gravity (Accelerometer.csv alone, or a magnitude far from g on
    average) is refused. Empty or NaN data cells are kept as gaps (NaN, counted in
    `lost_samples`); a row needs its `seconds_elapsed`, and the first its `time` (Unix ns).
    An empty time cell, a cell that is not a number, or a last line cut short (fewer cells)
    is refused, its line named; a last line that lacks only its newline is read.

    Raises:
        FormatError: the export cannot be read, holds no sensor table, only acceleration
            without gravity, or a malformed line (naming the file and line).
    """
    source = Path(path)
    with open_bundle(source) as bundle:
        meta = _read_meta(bundle)
        acc, start_ns = _read_acceleration(bundle)
        gyr, gyr_start_ns = _read_optional(bundle, "Gyroscope.csv")
    if acc is None and gyr is None:
        raise FormatError(
            "found no TotalAcceleration.csv, Accelerometer.csv or Gyroscope.csv with columns"
            f" {', '.join(_COLUMNS)}",
            path=str(source),
        )
    if acc is not None and meta.flip_acceleration:
        acc = ImuStream(acc.time_s, -acc.xyz, acc.where)
    base, base_start_ns = (acc, start_ns) if acc is not None else (gyr, gyr_start_ns)
    where = base.where if base is not None else str(source)
    return build_imu_recording(
        acc,
        gyr,
        tracked_point=tracked_point,
        tracksys=tracksys,
        athlete=athlete,
        start_utc=datetime_from_epoch_s(base_start_ns / 1e9, where),
        device=meta.device,
    )


def _read_stream(bundle: Bundle, member: str) -> tuple[ImuStream, float]:
    """Times (s since the start tap), x/y/z values, and the start tap as Unix ns."""
    with bundle.open_table(member) as reader:
        table = reader.numeric(_COLUMNS)
    time_s = table.column("seconds_elapsed")
    check_times(time_s, table, "seconds_elapsed")
    epoch_ns = table.column("time")
    if not np.isfinite(epoch_ns[0]):
        raise FormatError("the 'time' cell is empty", path=table.where, line=table.line(0))
    xyz = np.column_stack([table.column(axis) for axis in "xyz"])
    return ImuStream(time_s, xyz, table.where), float(epoch_ns[0] - time_s[0] * 1e9)


def _read_optional(bundle: Bundle, name: str) -> tuple[ImuStream | None, float]:
    member = bundle.find(name)
    if member is None:
        return None, 0.0
    return _read_stream(bundle, member)


def _read_acceleration(bundle: Bundle) -> tuple[ImuStream | None, float]:
    """Acceleration with gravity: TotalAcceleration, else Accelerometer + Gravity."""
    total, start_ns = _read_optional(bundle, "TotalAcceleration.csv")
    if total is not None:
        check_gravity(total.xyz, total.where, advice=LINEAR_ADVICE)
        return total, start_ns
    linear, start_ns = _read_optional(bundle, "Accelerometer.csv")
    if linear is None:
        return None, 0.0
    gravity, _ = _read_optional(bundle, "Gravity.csv")
    if gravity is not None:
        g_on_acc = resample_stream(gravity, linear.time_s)
        return ImuStream(linear.time_s, linear.xyz + g_on_acc, linear.where), start_ns
    raise FormatError(
        "Accelerometer.csv holds acceleration without gravity and there is no"
        " TotalAcceleration.csv or Gravity.csv; balancelab stores acceleration with gravity",
        path=linear.where,
        advice=LINEAR_ADVICE,
    )


def _read_meta(bundle: Bundle) -> _Meta:
    """Device name and the iOS sign convention from Metadata.csv, if present."""
    member = bundle.find("Metadata.csv")
    if member is None:
        return _Meta(DeviceInfo(), flip_acceleration=False)
    raw = bundle.table(member)
    row = {
        name.casefold(): cell.strip() for name, cell in zip(raw.header, raw.rows[0], strict=True)
    }
    platform = row.get("platform", "").casefold()
    standardised = row.get("standardisation", "").casefold() == "true"
    device = DeviceInfo(
        manufacturer="Apple" if platform == "ios" else None,
        model=row.get("device name") or None,
    )
    return _Meta(device, flip_acceleration=platform == "ios" and not standardised)
