"""Bluetooth LE sensors: `scan` for them, stream one with `BleSource`.

`drivers` holds what each device family needs over a small GATT port; `source` the
connection, reconnects and decoding into the sink.
"""

from balancelab.sensors.ble.source import (
    BleBackend,
    BleSource,
    BluetoothError,
    BluetoothUnavailableError,
    FoundSensor,
    ReconnectPolicy,
    SensorNotFoundError,
    scan,
)

__all__ = [
    "BleBackend",
    "BleSource",
    "BluetoothError",
    "BluetoothUnavailableError",
    "FoundSensor",
    "ReconnectPolicy",
    "SensorNotFoundError",
    "scan",
]
