"""Polar Measurement Data (PMD) control point: commands, settings, responses, features.

Source: Polar's `online_measurement.pdf` (v1.0, 2024, in Polar's public SDK,
github.com/polarofficial/polar-ble-sdk `technical_documentation/`) and the behaviour asserted by
that SDK's own Android and iOS tests (© Polar Electro Oy). Data frames: balancelab.devices.polar.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from balancelab.devices.common import require_length
from balancelab.errors import DecodeError, InvalidArgumentError

CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
MIN_ATT_MTU = 232
"""Users report PMD responses need an ATT MTU of at least 232."""


class MeasurementType(IntEnum):
    """PMD measurement types (second byte of a command, first byte of a data frame)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12


class ControlOp(IntEnum):
    """Control-point op codes."""

    GET_SETTINGS = 1
    START = 2
    STOP = 3


class SettingType(IntEnum):
    """Setting TLV types; values are u16 (0-2), i32 (3), u8 (4), float32 (5)."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


_SETTING_FORMATS: Mapping[SettingType, struct.Struct] = {
    SettingType.SAMPLE_RATE: struct.Struct("<H"),
    SettingType.RESOLUTION: struct.Struct("<H"),
    SettingType.RANGE: struct.Struct("<H"),
    SettingType.RANGE_MILLIUNIT: struct.Struct("<i"),
    SettingType.CHANNELS: struct.Struct("<B"),
    SettingType.FACTOR: struct.Struct("<f"),
}

STATUS_TEXT: Mapping[int, str] = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
}
RESPONSE_CODE = 0xF0
FEATURES_CODE = 0x0F


def get_settings_command(measurement: MeasurementType) -> bytes:
    """`01 <type>`: ask which settings the device offers for `measurement`."""
    return bytes([ControlOp.GET_SETTINGS, measurement])


def stop_command(measurement: MeasurementType) -> bytes:
    """`03 <type>`: stop a measurement (send it before disconnecting: the H10 keeps going)."""
    return bytes([ControlOp.STOP, measurement])


def encode_settings(settings: Mapping[SettingType, float]) -> bytes:
    """TLVs `<type> 01 <value>` in the mapping's order (one value per setting)."""
    out = bytearray()
    for kind, value in settings.items():
        fmt = _SETTING_FORMATS[SettingType(kind)]
        number = float(value) if kind == SettingType.FACTOR else int(value)
        try:
            out += bytes([kind, 1]) + fmt.pack(number)
        except struct.error:
            raise InvalidArgumentError(f"PMD setting {kind.name}={value} does not fit") from None
    return bytes(out)


def start_command(
    measurement: MeasurementType,
    *,
    sample_rate_hz: int | None = None,
    resolution_bits: int | None = None,
    range_: int | None = None,
    channels: int | None = None,
) -> bytes:
    """`02 <type> <settings TLVs>`; `range_` in the measurement's unit (g, deg/s).

    SDK mode (`MeasurementType.SDK_MODE`) is started with no settings.
    """
    chosen = {
        SettingType.SAMPLE_RATE: sample_rate_hz,
        SettingType.RESOLUTION: resolution_bits,
        SettingType.RANGE: range_,
        SettingType.CHANNELS: channels,
    }
    settings = {kind: value for kind, value in chosen.items() if value is not None}
    return bytes([ControlOp.START, measurement]) + encode_settings(settings)


@dataclass(frozen=True)
class PmdSettings:
    """Settings offered (get-settings response) or in force (start response); each a tuple."""

    sample_rate_hz: tuple[int, ...] = ()
    resolution_bits: tuple[int, ...] = ()
    range: tuple[int, ...] = ()
    range_milliunit: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factor: tuple[float, ...] = ()


_SETTING_FIELDS = {
    SettingType.SAMPLE_RATE: "sample_rate_hz",
    SettingType.RESOLUTION: "resolution_bits",
    SettingType.RANGE: "range",
    SettingType.RANGE_MILLIUNIT: "range_milliunit",
    SettingType.CHANNELS: "channels",
    SettingType.FACTOR: "factor",
}


def parse_settings(payload: bytes) -> PmdSettings:
    """Parse settings TLVs `<type u8> <count u8> <count values>`."""
    payload = bytes(payload)
    found: dict[str, tuple[float, ...]] = {}
    offset = 0
    while offset < len(payload):
        require_length(payload, offset + 2, "PMD setting header")
        kind, count = payload[offset], payload[offset + 1]
        if kind not in _SETTING_FIELDS:
            raise DecodeError("unknown_frame", f"unknown PMD setting type {kind}")
        fmt = _SETTING_FORMATS[SettingType(kind)]
        end = offset + 2 + count * fmt.size
        if end > len(payload):
            raise DecodeError("bad_length", f"PMD setting {kind} needs {count} values")
        values = tuple(v[0] for v in fmt.iter_unpack(payload[offset + 2 : end]))
        name = _SETTING_FIELDS[SettingType(kind)]
        found[name] = found.get(name, ()) + values
        offset = end
    return PmdSettings(**found)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ControlResponse:
    """A control-point answer `F0 <op> <type> <status> [<more> <parameters>]`."""

    op: int
    measurement: int
    status: int
    more: bool
    parameters: bytes
    settings: PmdSettings | None

    @property
    def ok(self) -> bool:
        """True if the device accepted the command."""
        return self.status == 0

    @property
    def status_text(self) -> str:
        """The status code in words."""
        return STATUS_TEXT.get(self.status, f"unknown status {self.status}")


def parse_control_response(payload: bytes) -> ControlResponse:
    """Parse a control-point response; settings TLVs are parsed for successful get-settings
    and start answers (a start answer carries e.g. the conversion factor)."""
    payload = bytes(payload)
    require_length(payload, 4, "PMD control-point response")
    if payload[0] != RESPONSE_CODE:
        raise DecodeError("unknown_frame", f"PMD response code {payload[0]:#04x}, expected 0xf0")
    op, measurement, status = payload[1], payload[2], payload[3]
    more = len(payload) > 4 and payload[4] != 0
    parameters = payload[5:]
    settings: PmdSettings | None = None
    if status == 0 and op == ControlOp.GET_SETTINGS:
        settings = parse_settings(parameters)
    elif status == 0 and op == ControlOp.START and parameters:
        try:
            settings = parse_settings(parameters)
        except DecodeError:
            settings = None
    return ControlResponse(op, measurement, status, more, parameters, settings)


def parse_features(payload: bytes) -> frozenset[MeasurementType]:
    """A control-point read `0F <bitmask>`: the measurement types the device offers."""
    payload = bytes(payload)
    require_length(payload, 2, "PMD feature read")
    if payload[0] != FEATURES_CODE:
        raise DecodeError("unknown_frame", f"PMD feature code {payload[0]:#04x}, expected 0x0f")
    mask = int.from_bytes(payload[1:], "little")
    return frozenset(kind for kind in MeasurementType if mask >> kind & 1)
