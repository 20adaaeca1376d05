"""`scan`: the sensors advertising nearby, what kind each is and whether it can be streamed."""

from __future__ import annotations

from dataclasses import dataclass

from balancelab.devices.common import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    DeviceKind,
    detect_kind,
)
from balancelab.sensors.ble.drivers import DRIVERS
from balancelab.sensors.ble.gatt import Advertisement, BleBackend, advertisements, read_once


@dataclass(frozen=True)
class FoundSensor:
    """A device seen by `scan`: `kind` None if balancelab does not recognise it."""

    address: str
    name: str | None
    kind: DeviceKind | None
    rssi_dbm: int | None
    battery_pct: int | None

    @property
    def streamable(self) -> bool:
        """True if `BleSource` can stream it (its kind has a driver); a recognised kind
        without one (Movesense) is listed but cannot be streamed yet."""
        return self.kind in DRIVERS


def _percent(value: bytes | None) -> int | None:
    """A battery level byte (0-100 %), None if absent or out of range."""
    return value[0] if value and len(value) == 1 and value[0] <= 100 else None


def _found(seen: Advertisement) -> FoundSensor:
    battery = seen.service_data.get(BATTERY_SERVICE_UUID)
    return FoundSensor(
        seen.address,
        seen.name,
        detect_kind(seen.name, seen.service_uuids),
        seen.rssi_dbm,
        _percent(battery[:1] if battery else None),
    )


async def scan(
    timeout_s: float = 5.0,
    *,
    backend: BleBackend | None = None,
    include_unknown: bool = False,
    read_battery: bool = False,
) -> list[FoundSensor]:
    """Sensors advertising within `timeout_s`, strongest signal first. Only kinds balancelab
    recognises unless `include_unknown` (`FoundSensor.streamable` tells those it can stream
    from those it cannot yet); `read_battery` connects briefly to those whose advertisement
    carries no battery level. Raises `BluetoothError` subclasses."""
    backend = backend or BleBackend()
    found = [(seen, _found(seen)) for seen in await advertisements(timeout_s, backend)]
    found = [(seen, f) for seen, f in found if include_unknown or f.kind is not None]
    if read_battery:
        found = [(seen, await _with_battery(seen, f, backend)) for seen, f in found]
    return sorted((f for _, f in found), key=lambda f: -(f.rssi_dbm or -999))


async def _with_battery(
    seen: Advertisement, sensor: FoundSensor, backend: BleBackend
) -> FoundSensor:
    if sensor.battery_pct is not None or sensor.kind is None:
        return sensor
    pct = _percent(await read_once(seen, BATTERY_LEVEL_UUID, backend))
    return FoundSensor(sensor.address, sensor.name, sensor.kind, sensor.rssi_dbm, pct)
