"""Movesense GATT SensorData Protocol (GSP): subscribe commands and `/Meas/...` payloads → SI.

Notification: `[response code u8: 2 DATA, 3 DATA_PART2][client reference u8]` + payload;
payload = u32 LE device time (ms) of the first sample, then N float32 LE 3-vectors per
quantity of the path (Acc, then Gyro, then Magn for IMU6/IMU9). Units: m/s^2, deg/s, µT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from balancelab.devices.common import (
    DEG_TO_RAD,
    MOVESENSE_SERVICE_UUID,
    UT_TO_T,
    Decoded,
    require_length,
)
from balancelab.errors import DecodeError, InvalidArgumentError
from balancelab.model import FloatArray, check_int

SERVICE_UUID = MOVESENSE_SERVICE_UUID
WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
COMMAND_SUBSCRIBE = 0x01
COMMAND_UNSUBSCRIBE = 0x02
RESPONSE_DATA = 0x02
RESPONSE_DATA_PART2 = 0x03
TIMESTAMP_BITS = 32

_QUANTITIES = {
    "Acc": ("acc",),
    "Gyro": ("gyr",),
    "Magn": ("mag",),
    "IMU6": ("acc", "gyr"),
    "IMU9": ("acc", "gyr", "mag"),
}
_PATH = re.compile(r"^/Meas/(Acc|Gyro|Magn|IMU6|IMU9)/(\d+)$")


@dataclass(frozen=True)
class MeasPath:
    """A `/Meas/<resource>/<rate>` subscription: its quantities and rate (Hz)."""

    path: str
    quantities: tuple[str, ...]
    rate_hz: int


def parse_path(path: str) -> MeasPath:
    """Check a subscription path such as `/Meas/IMU9/104`."""
    match = _PATH.match(path)
    if match is None or int(match.group(2)) <= 0:
        raise InvalidArgumentError(
            f"path must be /Meas/<Acc|Gyro|Magn|IMU6|IMU9>/<rate Hz>, got {path!r}"
        )
    return MeasPath(path, _QUANTITIES[match.group(1)], int(match.group(2)))


def subscribe_command(reference: int, path: str) -> bytes:
    """`01 <ref> <path>`: subscribe; notifications carry `reference` in byte 1."""
    parse_path(path)
    check_int("reference", reference, 0, 0xFF)
    return bytes([COMMAND_SUBSCRIBE, reference]) + path.encode("ascii")


def unsubscribe_command(reference: int) -> bytes:
    """`02 <ref>`: end the subscription `reference`."""
    check_int("reference", reference, 0, 0xFF)
    return bytes([COMMAND_UNSUBSCRIBE, reference])


@dataclass(frozen=True)
class MoveSamples:
    """One payload in Movesense units: `timestamp_ms` of the first sample, (n, 3) blocks."""

    timestamp_ms: int
    acc_ms2: FloatArray | None
    gyro_dps: FloatArray | None
    mag_ut: FloatArray | None

    @property
    def n_samples(self) -> int:
        """Samples per quantity."""
        for block in (self.acc_ms2, self.gyro_dps, self.mag_ut):
            if block is not None:
                return int(block.shape[0])
        return 0


def decode_payload(payload: bytes, path: MeasPath) -> MoveSamples:
    """Decode a payload (without the 2-byte GSP header) of a subscription to `path`."""
    payload = bytes(payload)
    require_length(payload, 4 + 12 * len(path.quantities), "Movesense payload")
    body = len(payload) - 4
    if body % (12 * len(path.quantities)):
        raise DecodeError(
            "bad_length", f"Movesense payload of {len(payload)} bytes for {path.path}"
        )
    timestamp_ms = int.from_bytes(payload[:4], "little")
    floats = np.frombuffer(payload, "<f4", offset=4).astype(np.float64)
    blocks = dict(zip(path.quantities, np.split(floats, len(path.quantities)), strict=True))
    if not all(np.isfinite(block).all() for block in blocks.values()):
        raise DecodeError("impossible_value", "Movesense payload with non-finite values")

    def block(name: str) -> FloatArray | None:
        return blocks[name].reshape(-1, 3) if name in blocks else None

    return MoveSamples(timestamp_ms, block("acc"), block("gyr"), block("mag"))


def decode_notification(notification: bytes, path: MeasPath) -> tuple[int, int, MoveSamples]:
    """Split a whole notification: (response code, reference, samples). DATA_PART2
    continuations of IMU9 at high rates must be joined by the caller before decoding."""
    notification = bytes(notification)
    require_length(notification, 2, "Movesense notification")
    code, reference = notification[0], notification[1]
    if code not in (RESPONSE_DATA, RESPONSE_DATA_PART2):
        raise DecodeError("unknown_frame", f"Movesense response code {code}")
    return code, reference, decode_payload(notification[2:], path)


def to_si(samples: MoveSamples, rate_hz: float, *, t_first_s: float | None = None) -> Decoded:
    """m/s^2, rad/s, T; device times from the first sample's ms clock at `rate_hz` (pass the
    unwrapped `t_first_s` for streams longer than the u32 ms wrap, ~49.7 days)."""
    start_s = samples.timestamp_ms / 1000.0 if t_first_s is None else t_first_s
    return Decoded(
        acc_ms2=samples.acc_ms2,
        gyr_rads=None if samples.gyro_dps is None else samples.gyro_dps * DEG_TO_RAD,
        mag_t=None if samples.mag_ut is None else samples.mag_ut * UT_TO_T,
        device_time_s=start_s + np.arange(samples.n_samples) / rate_hz,
    )
