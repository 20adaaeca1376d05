"""Bluetooth LE sensors: `scan` for them, stream one with `BleSource`.

`drivers` holds what each device family needs over a small GATT port; `source` the
connection, reconnects and decoding into the sink. The errors are balancelab's own
(`balancelab.errors`), named here too for the callers that already import this package.
"""

from balancelab.errors import (
    BluetoothError,
    BluetoothUnavailableError,
    LinkLostError,
    SensorNotFoundError,
    SensorProtocolError,
)
from balancelab.sensors.ble.source import BleBackend, BleSource, FoundSensor, ReconnectPolicy, scan

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
