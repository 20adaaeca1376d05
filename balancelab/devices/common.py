"""What every device decoder shares: the decoded-samples type, device kinds, units, UUIDs.

Decoders are pure: bytes (or JSON text) in, `Decoded` samples out. Bad input raises only
`balancelab.errors.DecodeError`, whose `reason` is a short machine word a source counts with
`SourceStats.reject(reason)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

import numpy as np
from numpy.typing import NDArray

from balancelab.errors import DecodeError
from balancelab.model import STANDARD_GRAVITY_MS2, FloatArray

IntArray = NDArray[np.int64]

G_TO_MS2 = STANDARD_GRAVITY_MS2
"""Standard gravity: m/s^2 per g."""
MG_TO_MS2 = STANDARD_GRAVITY_MS2 / 1000.0
"""m/s^2 per milli-g."""
DEG_TO_RAD = math.pi / 180.0
"""rad per degree (also rad/s per deg/s)."""
GAUSS_TO_T = 1e-4
"""tesla per gauss."""
UT_TO_T = 1e-6
"""tesla per microtesla."""


def require_length(payload: bytes, minimum: int, what: str) -> None:
    """Raise `too_short` if `payload` has fewer than `minimum` bytes."""
    if len(payload) < minimum:
        raise DecodeError("too_short", f"{what}: {len(payload)} bytes, need at least {minimum}")


@dataclass(frozen=True)
class Decoded:
    """Samples of one notification (or poll) in SI, one row per sample.

    `acc_ms2` (n, 3) m/s^2 with gravity; `gyr_rads` (n, 3) rad/s; `mag_t` (n, 3) tesla;
    `ori_rad` (n, 3) the device's own roll/pitch/yaw in rad. Absent quantities are None.
    `device_time_s` (n,) is the device clock per sample in s, as the device counts it (not
    unwrapped, not mapped to the host; None if the device sends no clock). `first_index` is
    the device's sequence number of the first sample (wrapping at 2**`index_bits`), or None.
    """

    acc_ms2: FloatArray | None = None
    gyr_rads: FloatArray | None = None
    mag_t: FloatArray | None = None
    ori_rad: FloatArray | None = None
    device_time_s: FloatArray | None = None
    first_index: int | None = None
    index_bits: int = 0

    @property
    def n_samples(self) -> int:
        """Number of sample rows."""
        for block in self._blocks():
            return int(block.shape[0])
        return 0 if self.device_time_s is None else int(self.device_time_s.size)

    def _blocks(self) -> list[FloatArray]:
        named = (self.acc_ms2, self.gyr_rads, self.mag_t, self.ori_rad)
        return [block for block in named if block is not None]

    @property
    def values(self) -> FloatArray:
        """All present quantities side by side, (n, 3 × quantities), SI."""
        blocks = self._blocks()
        if not blocks:
            return np.empty((self.n_samples, 0))
        return np.hstack(blocks).astype(np.float64)


class DeviceKind(StrEnum):
    """The BLE device families balancelab can decode."""

    DIY = "diy"
    POLAR = "polar"
    WITMOTION = "witmotion"
    MOVESENSE = "movesense"


def sig_uuid(alias: int) -> str:
    """A Bluetooth SIG 16-bit alias as the full 128-bit UUID text (lower case)."""
    return f"0000{alias:04x}-0000-1000-8000-00805f9b34fb"


# Standard services and characteristics every sensor may offer.
BATTERY_SERVICE_UUID = sig_uuid(0x180F)
BATTERY_LEVEL_UUID = sig_uuid(0x2A19)
DEVICE_INFO_SERVICE_UUID = sig_uuid(0x180A)
DEVICE_INFO_UUIDS: Mapping[str, str] = {
    "manufacturer": sig_uuid(0x2A29),
    "model": sig_uuid(0x2A24),
    "serial": sig_uuid(0x2A25),
    "hardware_revision": sig_uuid(0x2A27),
    "firmware_revision": sig_uuid(0x2A26),
}
"""Device Information characteristics by what they hold (UTF-8 text)."""

# Service UUIDs (lower case, full 128-bit). WitMotion sits on a non-SIG base (...9a34fb).
DIY_SERVICE_UUID = "c8db0001-135f-46ce-8a83-c3ea02b7428d"
POLAR_PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
WITMOTION_SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
MOVESENSE_SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"

_SERVICE_KINDS = {
    DIY_SERVICE_UUID: DeviceKind.DIY,
    POLAR_PMD_SERVICE_UUID: DeviceKind.POLAR,
    WITMOTION_SERVICE_UUID: DeviceKind.WITMOTION,
    MOVESENSE_SERVICE_UUID: DeviceKind.MOVESENSE,
}
_NAME_PREFIXES = (
    ("balancelab", DeviceKind.DIY),
    ("polar h10", DeviceKind.POLAR),
    ("polar sense", DeviceKind.POLAR),
    ("polar oh1", DeviceKind.POLAR),
    ("wt901", DeviceKind.WITMOTION),
    ("wt9011", DeviceKind.WITMOTION),
    ("bwt901", DeviceKind.WITMOTION),
    ("movesense", DeviceKind.MOVESENSE),
)


def detect_kind(name: str | None, service_uuids: Sequence[str]) -> DeviceKind | None:
    """The device family from an advertisement: service UUIDs first, then the name prefix.

    UUIDs compare case-insensitively and must be full 128-bit strings (a short "ffe5" would
    land on the Bluetooth SIG base, which is not WitMotion's).
    """
    for uuid in service_uuids:
        kind = _SERVICE_KINDS.get(uuid.strip().lower())
        if kind is not None:
            return kind
    if name:
        lowered = name.strip().lower()
        for prefix, kind in _NAME_PREFIXES:
            if lowered.startswith(prefix):
                return kind
    return None


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def is_ble_address(text: str) -> bool:
    """True if `text` is a Bluetooth address as the OS reports it: a MAC `AA:BB:CC:DD:EE:FF`
    (Linux, Windows) or a UUID in its 36-character form (macOS: CoreBluetooth identifiers).

    Anything else (a name, a UUID in braces or without dashes) is not: it would never equal
    the address a scan reports.
    """
    parts = text.split(":")
    if len(parts) == 6:
        return all(len(p) == 2 and set(p) <= _HEX_DIGITS for p in parts)
    if len(text) != 36:
        return False
    try:
        return str(UUID(text)) == text.lower()
    except ValueError:
        return False
