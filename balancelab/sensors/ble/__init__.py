"""Bluetooth LE sensors: `scan` for them, stream one with `BleSource`.

- `gatt`: the one module of balancelab that imports bleak (scanning, links, GATT operations;
  bleak's exceptions become balancelab's there).
- `scan`: the sensors nearby, their kind and battery.
- `source`: `BleSource`, connection, reconnects and decoding into the sink.
- `drivers`: what each device family needs over a small GATT port (no bleak).

The errors are balancelab's own (`balancelab.errors`), named here too for the callers that
already import this package.
"""

from balancelab.errors import (
    BluetoothError,
    BluetoothUnavailableError,
    LinkLostError,
    SensorNotFoundError,
    SensorProtocolError,
)
from balancelab.sensors.ble.gatt import BleBackend
from balancelab.sensors.ble.scan import FoundSensor, scan
from balancelab.sensors.ble.source import BleSource, ReconnectPolicy

__all__ = [
    "BleBackend",
    "BleSource",
    "BluetoothError",
    "BluetoothUnavailableError",
    "FoundSensor",
    "LinkLostError",
    "ReconnectPolicy",
    "SensorNotFoundError",
    "SensorProtocolError",
    "scan",
]
