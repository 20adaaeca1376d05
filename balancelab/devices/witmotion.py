"""WitMotion WT901BLECL / BWT901BLE5.0 / WT9011DCL: `55 61` frames → SI, and FF AA commands.

Frame (20 bytes, no checksum on BLE): `55 61` then int16 LE ax ay az · wx wy wz · roll pitch yaw
with acc = raw/32768 × 16 g, gyro = raw/32768 × 2000 °/s, angle = raw/32768 × 180°. A
notification may carry several frames (captures show 1, 2 and 4). A register read
`FF AA 27 <reg> 00` is answered by `55 71 <regL> <regH>` + 8 int16 registers.
The device sends no timestamp or counter: time samples with `HostTimestamper`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from balancelab.devices.common import (
    DEG_TO_RAD,
    G_TO_MS2,
    WITMOTION_SERVICE_UUID,
    Decoded,
    IntArray,
    require_length,
)
from balancelab.devices.timing import HostTimestamper
from balancelab.errors import DecodeError, InvalidArgumentError
from balancelab.model import FloatArray, check_int

__all__ = [
    "DEFAULT_200HZ_CODE",
    "RATE_CODES",
    "HostTimestamper",
    "WitNotification",
    "decode_notification",
    "read_register_command",
    "save_command",
    "set_rate_command",
    "to_si",
    "unlock_command",
    "write_register_command",
]

SERVICE_UUID = WITMOTION_SERVICE_UUID  # note the non-SIG base ...-00805f9a34fb
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"

FRAME_SIZE = 20
MAGIC = 0x55
FLAG_IMU = 0x61
FLAG_REGISTER = 0x71

ACC_RANGE_G = 16.0
GYRO_RANGE_DPS = 2000.0
ANGLE_RANGE_DEG = 180.0
FULL_SCALE = 32768.0

REG_SAVE = 0x00
REG_RATE = 0x03
REG_BANDWIDTH = 0x1F
REG_READ = 0x27
REG_UNLOCK = 0x69
REG_MAGNETOMETER = 0x3A
REG_BATTERY = 0x64

RATE_CODES: Mapping[float, int] = {
    0.2: 0x01,
    0.5: 0x02,
    1.0: 0x03,
    2.0: 0x04,
    5.0: 0x05,
    10.0: 0x06,
    20.0: 0x07,
    50.0: 0x08,
    100.0: 0x09,
}
"""Output-rate codes for register 0x03 (RRATE) where all sources agree. 10 Hz is the default."""

DEFAULT_200HZ_CODE = 0x0B
"""200 Hz is disputed: WitMotion's Android SDK and Unity sample write 0x0B; a third-party
component citing datasheet v23-0420 uses 0x0A. Send 0x0B, then check the measured packet rate
(and try 0x0A if it stays at 100 Hz)."""
ALTERNATE_200HZ_CODE = 0x0A


@dataclass(frozen=True)
class RegisterRead:
    """A `55 71` answer: eight consecutive 16-bit registers from `start_register`."""

    start_register: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class WitNotification:
    """The frames of one notification: raw int16 (n, 3) per quantity, plus register answers."""

    acc_raw: IntArray
    gyro_raw: IntArray
    angle_raw: IntArray
    registers: tuple[RegisterRead, ...] = ()

    @property
    def n_samples(self) -> int:
        """IMU (`55 61`) frames in the notification."""
        return int(self.acc_raw.shape[0])

    @property
    def acc_g(self) -> FloatArray:
        """Acceleration (g), with gravity."""
        return (self.acc_raw * (ACC_RANGE_G / FULL_SCALE)).astype(np.float64)

    @property
    def gyro_dps(self) -> FloatArray:
        """Angular velocity (°/s)."""
        return (self.gyro_raw * (GYRO_RANGE_DPS / FULL_SCALE)).astype(np.float64)

    @property
    def angle_deg(self) -> FloatArray:
        """The device's own roll, pitch, yaw (°)."""
        return (self.angle_raw * (ANGLE_RANGE_DEG / FULL_SCALE)).astype(np.float64)


def decode_notification(payload: bytes) -> WitNotification:
    """Split a notification into 20-byte frames; every frame must be `55 61` or `55 71`.

    Other lengths (e.g. the 28-byte frames of WitMotion vibration sensors) are refused.
    """
    payload = bytes(payload)
    require_length(payload, FRAME_SIZE, "WitMotion notification")
    if len(payload) % FRAME_SIZE:
        raise DecodeError("bad_length", f"WitMotion notification of {len(payload)} bytes")
    imu: list[IntArray] = []
    registers: list[RegisterRead] = []
    for start in range(0, len(payload), FRAME_SIZE):
        frame = payload[start : start + FRAME_SIZE]
        values = np.frombuffer(frame, "<i2", offset=2).astype(np.int64)
        if frame[0] == MAGIC and frame[1] == FLAG_IMU:
            imu.append(values)
        elif frame[0] == MAGIC and frame[1] == FLAG_REGISTER:
            register = int(np.frombuffer(frame, "<u2", 1, 2)[0])
            registers.append(RegisterRead(register, tuple(int(v) for v in values[1:])))
        else:
            raise DecodeError("unknown_frame", f"WitMotion frame {frame[:2].hex()} at {start}")
    rows = np.array(imu, dtype=np.int64).reshape(-1, 9)
    return WitNotification(rows[:, 0:3], rows[:, 3:6], rows[:, 6:9], tuple(registers))


def to_si(notification: WitNotification) -> Decoded:
    """m/s^2, rad/s and the device's angles in rad; no device time (use `HostTimestamper`)."""
    return Decoded(
        acc_ms2=notification.acc_g * G_TO_MS2,
        gyr_rads=notification.gyro_dps * DEG_TO_RAD,
        ori_rad=notification.angle_deg * DEG_TO_RAD,
    )


def magnetometer_mg(read: RegisterRead) -> tuple[int, int, int]:
    """Hx, Hy, Hz from a read starting at register 0x3A, as the datasheet states them (mG).

    The vendor's Python SDK divides these registers by 120 instead; verify on hardware.
    """
    if read.start_register != REG_MAGNETOMETER:
        raise InvalidArgumentError(f"register read starts at {read.start_register:#x}, not 0x3a")
    x, y, z = read.values[:3]
    return x, y, z


# --- commands (write to WRITE_UUID, without response) ---------------------------------------


def write_register_command(register: int, value: int) -> bytes:
    """`FF AA <reg> <lo> <hi>`: write a 16-bit register (unlock first, save after)."""
    check_int("register", register, 0, 0xFF)
    check_int("value", value, -0x8000, 0xFFFF)
    return bytes([0xFF, 0xAA, register]) + (value & 0xFFFF).to_bytes(2, "little")


def unlock_command() -> bytes:
    """`FF AA 69 88 B5`: unlock configuration for about 10 s."""
    return write_register_command(REG_UNLOCK, 0xB588)


def save_command() -> bytes:
    """`FF AA 00 00 00`: save the configuration."""
    return write_register_command(REG_SAVE, 0)


def read_register_command(register: int) -> bytes:
    """`FF AA 27 <reg> 00`: ask for 8 registers from `register` (answered by a `55 71` frame)."""
    return write_register_command(REG_READ, register)


def set_rate_command(rate_hz: float, *, code_200hz: int = DEFAULT_200HZ_CODE) -> bytes:
    """`FF AA 03 <code> 00` for one of 0.2 … 100 Hz or 200 Hz (`code_200hz`, disputed)."""
    if rate_hz == 200.0:
        return write_register_command(REG_RATE, code_200hz)
    code = RATE_CODES.get(float(rate_hz))
    if code is None:
        allowed = sorted([*RATE_CODES, 200.0])
        raise InvalidArgumentError(f"rate_hz must be one of {allowed}, got {rate_hz}")
    return write_register_command(REG_RATE, code)


def configure_rate_commands(rate_hz: float, *, code_200hz: int = DEFAULT_200HZ_CODE) -> list[bytes]:
    """The three writes that set and keep an output rate: unlock, rate, save."""
    return [unlock_command(), set_rate_command(rate_hz, code_200hz=code_200hz), save_command()]
