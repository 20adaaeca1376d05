"""balancelab IMU profile v1: open GATT profile for a DIY sensor (firmware_notes/diy_profile.md).

IMU Data notification, little-endian:
    0  u8   ver_flags    bits 7-4 version (1); bit0 GYRO, bit1 OVERRUN, bit2 RESTART, bit3 SYNCED
    1  u8   n_samples    1..255
    2  u16  first_index  index of the first sample since stream start, mod 65536
    4  u32  t_first_us   device monotonic clock at the first sample, µs (wraps after 71.6 min)
    8  n × (i16 ax, ay, az[, gx, gy, gz])   raw counts, 12 bytes per sample (6 without GYRO)

Config characteristic (16 bytes): u16 odr_dhz · u8 acc_range_g · u8 samples_per_packet ·
u16 gyro_range_dps · u8 reserved ×2 · f32 acc_lsb_g · f32 gyro_lsb_dps.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from balancelab.devices.common import (
    DEG_TO_RAD,
    DIY_SERVICE_UUID,
    G_TO_MS2,
    Decoded,
    IntArray,
    require_length,
)
from balancelab.errors import DecodeError, InvalidArgumentError


def _uuid(alias: int) -> str:
    return f"c8db{alias:04x}-135f-46ce-8a83-c3ea02b7428d"


SERVICE_UUID = DIY_SERVICE_UUID
DATA_UUID = _uuid(0x0002)
CONFIG_UUID = _uuid(0x0003)
CAPABILITIES_UUID = _uuid(0x0004)
CLOCK_UUID = _uuid(0x0005)
ADVERTISED_NAME_PREFIX = "balancelab"

PROFILE_VERSION = 1
INDEX_BITS = 16
CLOCK_BITS = 32
HEADER = struct.Struct("<BBHI")
SAMPLE_6AXIS = 12
SAMPLE_ACC_ONLY = 6
CONFIG = struct.Struct("<HBBHBBff")
MAX_SAMPLES = 255


class DiyFlag(IntFlag):
    """Low nibble of the header's first byte. Hosts ignore bits they do not know."""

    GYRO = 0x1  # 6 int16 per sample (else 3: accelerometer only)
    OVERRUN = 0x2  # the device dropped samples before this packet; the index gap counts them
    RESTART = 0x4  # first packet of a new stream: index restarts at 0, re-read Config
    SYNCED = 0x8  # reserved: the device clock was set by the host


@dataclass(frozen=True)
class DiyPacket:
    """One IMU Data notification as sent: raw int16 counts (n, 6) or (n, 3)."""

    flags: DiyFlag
    first_index: int
    t_first_us: int
    raw: IntArray

    @property
    def n_samples(self) -> int:
        """Samples in the packet."""
        return int(self.raw.shape[0])

    @property
    def has_gyro(self) -> bool:
        """True if each sample carries gyro counts too."""
        return bool(self.flags & DiyFlag.GYRO)


def sample_size(flags: int) -> int:
    """Bytes per sample for the header flags."""
    return SAMPLE_6AXIS if flags & DiyFlag.GYRO else SAMPLE_ACC_ONLY


def decode_data(payload: bytes) -> DiyPacket:
    """Decode an IMU Data notification; raises `DecodeError` for anything malformed."""
    payload = bytes(payload)
    require_length(payload, HEADER.size, "DIY IMU data header")
    ver_flags, n_samples, first_index, t_first_us = HEADER.unpack_from(payload)
    if ver_flags >> 4 != PROFILE_VERSION:
        raise DecodeError("bad_version", f"DIY profile version {ver_flags >> 4}, expected 1")
    if n_samples == 0:
        raise DecodeError("impossible_value", "DIY packet announces 0 samples")
    flags = DiyFlag(ver_flags & 0x0F)
    size = sample_size(flags)
    if len(payload) != HEADER.size + n_samples * size:
        raise DecodeError(
            "bad_length",
            f"DIY packet of {len(payload)} bytes, header announces {n_samples} × {size} + 8",
        )
    raw = np.frombuffer(payload, dtype="<i2", offset=HEADER.size).reshape(n_samples, size // 2)
    return DiyPacket(flags, first_index, t_first_us, raw.astype(np.int64))


def encode_data(first_index: int, t_first_us: int, raw: ArrayLike, *, flags: int = 0) -> bytes:
    """Build an IMU Data notification (for virtual twins and tests).

    `raw` is (n, 6) counts (GYRO is set) or (n, 3) (GYRO cleared); `first_index` and
    `t_first_us` are taken modulo 2**16 and 2**32; `flags` adds OVERRUN/RESTART/SYNCED.
    """
    counts = np.asarray(raw, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[1] not in (3, 6) or not 1 <= counts.shape[0] <= 255:
        raise InvalidArgumentError(f"raw must be (1..255, 3 or 6) counts, got {counts.shape}")
    if counts.min() < -32768 or counts.max() > 32767:
        raise InvalidArgumentError("raw counts must fit int16 (-32768..32767)")
    flags = (flags & 0x0E) | (DiyFlag.GYRO if counts.shape[1] == 6 else 0)
    header = HEADER.pack(
        (PROFILE_VERSION << 4) | int(flags),
        counts.shape[0],
        first_index % (1 << INDEX_BITS),
        t_first_us % (1 << CLOCK_BITS),
    )
    return header + counts.astype("<i2").tobytes()


def max_samples_per_packet(att_mtu: int, *, gyro: bool = True) -> int:
    """Samples that fit one notification at ATT MTU `att_mtu` (1 at the default MTU of 23)."""
    room = att_mtu - 3 - HEADER.size
    return max(0, min(MAX_SAMPLES, room // (SAMPLE_6AXIS if gyro else SAMPLE_ACC_ONLY)))


@dataclass(frozen=True)
class DiyConfig:
    """The Config characteristic. `odr_dhz` in 0.1 Hz; the LSB fields are read-only, exact
    sensitivities of the fitted part (g per count, dps per count); 0 in a host write."""

    odr_dhz: int = 1040
    acc_range_g: int = 8
    samples_per_packet: int = 5
    gyro_range_dps: int = 2000
    acc_lsb_g: float = 0.0
    gyro_lsb_dps: float = 0.0

    @property
    def odr_hz(self) -> float:
        """Output data rate (Hz)."""
        return self.odr_dhz / 10.0

    @property
    def gyro_enabled(self) -> bool:
        """True if the gyroscope is on (range > 0)."""
        return self.gyro_range_dps > 0


def decode_config(payload: bytes, *, require_scales: bool = True) -> DiyConfig:
    """Decode the 16-byte Config value. With `require_scales` (a value read from the device)
    the rate and the sensitivities must be positive and finite."""
    payload = bytes(payload)
    require_length(payload, CONFIG.size, "DIY config")
    if len(payload) != CONFIG.size:
        raise DecodeError("bad_length", f"DIY config of {len(payload)} bytes, expected 16")
    odr, acc_range, per_packet, gyro_range, _, _, acc_lsb, gyro_lsb = CONFIG.unpack(payload)
    config = DiyConfig(odr, acc_range, per_packet, gyro_range, acc_lsb, gyro_lsb)
    if require_scales:
        _check_scales(config)
    return config


def _check_scales(config: DiyConfig) -> None:
    acc_ok = math.isfinite(config.acc_lsb_g) and config.acc_lsb_g > 0
    gyro_ok = math.isfinite(config.gyro_lsb_dps) and (
        config.gyro_lsb_dps > 0 or not config.gyro_enabled
    )
    if config.odr_dhz == 0 or not acc_ok or not gyro_ok:
        raise DecodeError(
            "impossible_value",
            f"DIY config with odr_dhz={config.odr_dhz}, acc_lsb_g={config.acc_lsb_g}, "
            f"gyro_lsb_dps={config.gyro_lsb_dps}",
        )


def encode_config(config: DiyConfig) -> bytes:
    """The 16-byte Config value (the device fills the LSB fields; a host writes 0 there)."""
    return CONFIG.pack(
        config.odr_dhz,
        config.acc_range_g,
        config.samples_per_packet,
        config.gyro_range_dps,
        0,
        0,
        config.acc_lsb_g,
        config.gyro_lsb_dps,
    )


def to_si(packet: DiyPacket, config: DiyConfig, *, t_first_s: float | None = None) -> Decoded:
    """Counts → m/s^2 and rad/s; device times spaced at the nominal ODR from `t_first_s`
    (default: the packet's wrapped `t_first_us`; pass the unwrapped value for long streams)."""
    _check_scales(config)
    start_s = packet.t_first_us * 1e-6 if t_first_s is None else t_first_s
    acc = packet.raw[:, :3] * (config.acc_lsb_g * G_TO_MS2)
    gyr = packet.raw[:, 3:6] * (config.gyro_lsb_dps * DEG_TO_RAD) if packet.has_gyro else None
    return Decoded(
        acc_ms2=acc.astype(np.float64),
        gyr_rads=None if gyr is None else gyr.astype(np.float64),
        device_time_s=start_s + np.arange(packet.n_samples) / config.odr_hz,
        first_index=packet.first_index,
        index_bits=INDEX_BITS,
    )


def decode_clock(payload: bytes) -> int:
    """The Clock characteristic: device monotonic µs since boot (u64)."""
    payload = bytes(payload)
    require_length(payload, 8, "DIY clock")
    if len(payload) != 8:
        raise DecodeError("bad_length", f"DIY clock of {len(payload)} bytes, expected 8")
    return int(struct.unpack("<Q", payload)[0])


def encode_clock(device_us: int) -> bytes:
    """The Clock characteristic value for `device_us` (for twins)."""
    return struct.pack("<Q", device_us % (1 << 64))


def decode_battery(payload: bytes) -> int:
    """Battery Level (0x2A19): percent 0..100."""
    payload = bytes(payload)
    require_length(payload, 1, "battery level")
    if len(payload) != 1:
        raise DecodeError("bad_length", f"battery level of {len(payload)} bytes, expected 1")
    if payload[0] > 100:
        raise DecodeError("impossible_value", f"battery level {payload[0]} % > 100")
    return payload[0]


@dataclass(frozen=True)
class DiyCapabilities:
    """The Capabilities characteristic (compact UTF-8 JSON)."""

    profile: int
    imu: str
    odr_dhz: tuple[int, ...]
    acc_range_g: tuple[int, ...]
    gyro_range_dps: tuple[int, ...]
    axes: str = ""
    fifo_samples: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


_CAPS_KEYS = ("profile", "imu", "odr_dhz", "acc_range_g", "gyro_range_dps")


def decode_capabilities(payload: bytes) -> DiyCapabilities:
    """Parse the Capabilities JSON; unknown keys are kept in `extra`."""
    try:
        doc = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError("bad_json", f"DIY capabilities are not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError("bad_json", "DIY capabilities must be a JSON object")
    missing = [key for key in _CAPS_KEYS if key not in doc]
    if missing:
        raise DecodeError("missing_key", f"DIY capabilities lack {missing}")
    try:
        return DiyCapabilities(
            profile=int(doc["profile"]),
            imu=str(doc["imu"]),
            odr_dhz=_int_tuple(doc["odr_dhz"]),
            acc_range_g=_int_tuple(doc["acc_range_g"]),
            gyro_range_dps=_int_tuple(doc["gyro_range_dps"]),
            axes=str(doc.get("axes", "")),
            fifo_samples=int(doc.get("fifo_samples", 0)),
            extra={k: v for k, v in doc.items() if k not in {*_CAPS_KEYS, "axes", "fifo_samples"}},
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise DecodeError("bad_json", f"DIY capabilities of the wrong type: {exc}") from None


def _int_tuple(value: object) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(f"expected a list of integers, got {value!r}")
    return tuple(int(v) for v in value)


def encode_capabilities(caps: DiyCapabilities) -> bytes:
    """The Capabilities value for `caps` (for twins)."""
    doc = {
        "profile": caps.profile,
        "imu": caps.imu,
        "odr_dhz": list(caps.odr_dhz),
        "acc_range_g": list(caps.acc_range_g),
        "gyro_range_dps": list(caps.gyro_range_dps),
        "axes": caps.axes,
        "fifo_samples": caps.fifo_samples,
        **caps.extra,
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")
