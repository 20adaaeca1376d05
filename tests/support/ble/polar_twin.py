"""Virtual twins of the Polar H10 (PMD: ACC only) and Verity Sense (ACC + GYRO).

GATT: Heart Rate, Battery, Device Information and the PMD service (control point: read →
`0F <features>`, write → command, answers `F0 …` by indication; data: notify). The H10 sends
uncompressed ACC frames (type 1, int16 mG); the Verity sends delta-compressed ACC (type 1, mG)
and GYRO (type 0, int16 × factor deg/s) frames. Frame timestamps are the device clock (ns since
2000-01-01) of the last sample. Advertising: name ("Polar H10 …" / "Polar Sense …") and the
Heart Rate service. Data frames are encoded here (balancelab.devices.polar only decodes).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import numpy as np
from bumble import data_types
from bumble.core import UUID
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from balancelab.devices import polar, polar_control
from balancelab.devices.common import DEG_TO_RAD, MG_TO_MS2
from balancelab.devices.polar_control import MeasurementType
from tests.support.ble.backend import VirtualAir
from tests.support.ble.twin import READABLE, WRITEABLE, P, Twin, read_not_permitted, signal_si

EPOCH_2000_OFFSET_S = 8.0e8
"""The twins' device clock starts ~25 years after 2000-01-01 (u64 ns, as a real strap)."""
GYRO_FACTOR = 0.06103515625  # 2000 / 32768 deg/s per count


def encode_delta(samples: np.ndarray[Any, Any]) -> bytes:
    """Delta-compress (n, channels) int16 samples: reference sample, then one block."""
    counts = np.asarray(samples, dtype=np.int64)
    out = bytearray(counts[0].astype("<i2").tobytes())
    if counts.shape[0] == 1:
        return bytes(out)
    deltas = np.diff(counts, axis=0)
    width = max(2, int(max(int(np.abs(deltas).max()), 1)).bit_length() + 1)
    unsigned = deltas.ravel() & ((1 << width) - 1)
    bits = (unsigned[:, None] >> np.arange(width)) & 1
    out += bytes([width, deltas.shape[0]])
    out += np.packbits(bits.ravel().astype(np.uint8), bitorder="little").tobytes()
    return bytes(out)


def frame(measurement: int, timestamp_ns: int, frame_type: int, content: bytes) -> bytes:
    return bytes([measurement]) + struct.pack("<Q", timestamp_ns) + bytes([frame_type]) + content


def _settings(rates: tuple[int, ...], ranges: tuple[int, ...]) -> bytes:
    out = bytes([0, len(rates)]) + b"".join(struct.pack("<H", r) for r in rates)
    out += bytes([1, 1]) + struct.pack("<H", 16)
    return out + bytes([2, len(ranges)]) + b"".join(struct.pack("<H", r) for r in ranges)


class PolarTwin(Twin):
    """`model` "H10" (ACC 25–200 Hz) or "Sense" (Verity: ACC + GYRO at 52 Hz)."""

    def __init__(
        self, air: VirtualAir, model: str = "H10", serial: str = "A1B2C3D4", **kw: Any
    ) -> None:
        kw.setdefault("clock_offset_s", EPOCH_2000_OFFSET_S)
        super().__init__(air, f"Polar {model} {serial}", **kw)
        self.model = model
        self.verity = model == "Sense"
        self.offered: dict[int, tuple[int, ...]] = (
            {MeasurementType.ACC: (52,), MeasurementType.GYRO: (52,)}
            if self.verity
            else {MeasurementType.ACC: (25, 50, 100, 200)}
        )
        self.started: dict[int, int] = {}
        self.commands: list[bytes] = []
        self.cp_char: Characteristic[Any] = Characteristic(
            polar_control.CONTROL_POINT_UUID,
            P.READ | P.WRITE | P.INDICATE,
            READABLE | WRITEABLE,
            CharacteristicValue(read=self._features, write=self._on_command),
        )
        self.data_char: Characteristic[Any] = Characteristic(
            polar.DATA_UUID, P.NOTIFY, READABLE, CharacteristicValue(read=read_not_permitted)
        )

    @property
    def rate_hz(self) -> float:
        return float(self.started.get(MeasurementType.ACC, 52))

    @property
    def samples_per_packet(self) -> int:
        # as many int16 ACC samples as fit an MTU-232 notification; fewer when compressed
        return 36 if not self.verity else 24

    def services(self) -> list[Service]:
        sig = "0000{:04x}-0000-1000-8000-00805f9b34fb".format
        return [
            Service(sig(0x180D), [Characteristic(sig(0x2A37), P.NOTIFY, READABLE, b"\x00\x3c")]),
            Service(
                sig(0x180F),
                [
                    Characteristic(
                        sig(0x2A19),
                        P.READ,
                        READABLE,
                        CharacteristicValue(read=lambda _c: bytes([self.battery_pct])),
                    )
                ],
            ),
            Service(
                sig(0x180A),
                [
                    Characteristic(sig(0x2A29), P.READ, READABLE, b"Polar Electro Oy"),
                    Characteristic(sig(0x2A24), P.READ, READABLE, f"Polar {self.model}".encode()),
                ],
            ),
            Service(polar.SERVICE_UUID, [self.cp_char, self.data_char]),
        ]

    def advertising_data(self) -> list[Any]:
        return [
            self.flags(),
            data_types.CompleteLocalName(self.name),
            data_types.CompleteListOf16BitServiceUUIDs([UUID.from_16_bits(0x180D)]),
        ]

    # --- PMD ----------------------------------------------------------------------------------
    def _features(self, _connection: Any) -> bytes:
        mask = sum(1 << m for m in self.offered)
        return bytes([polar_control.FEATURES_CODE, mask & 0xFF, mask >> 8])

    def _on_command(self, connection: Connection, value: bytes) -> None:
        self.commands.append(bytes(value))
        op, measurement = value[0], value[1]
        status, params = 0, b""
        if measurement not in self.offered:
            status = 3
        elif op == polar_control.ControlOp.GET_SETTINGS:
            ranges = (2, 4, 8) if measurement == MeasurementType.ACC else (2000,)
            params = _settings(self.offered[measurement], ranges)
        elif op == polar_control.ControlOp.START:
            settings = polar_control.parse_settings(value[2:])
            rate = settings.sample_rate_hz[0] if settings.sample_rate_hz else 0
            if rate not in self.offered[measurement]:
                status = 8
            elif measurement in self.started:
                status = 6
            else:
                self.started[measurement] = rate
                factor = GYRO_FACTOR if measurement == MeasurementType.GYRO else 1.0
                params = bytes([5, 1]) + struct.pack("<f", factor)
                if set(self.started) == set(self.offered):
                    self.start_stream()
        elif op == polar_control.ControlOp.STOP:
            self.started.pop(measurement, None)
            if not self.started:
                self.stop_stream()
        response = bytes([polar_control.RESPONSE_CODE, op, measurement, status, 0]) + params
        asyncio.get_running_loop().create_task(
            self.device.indicate_subscriber(connection, self.cp_char, response)
        )

    def on_disconnected(self, connection: Connection) -> None:
        self.started.clear()
        self.stop_stream()

    # --- data ---------------------------------------------------------------------------------
    async def send_packet(self, device_first_s: float) -> None:
        n = self.samples_per_packet
        t = device_first_s + np.arange(n) / self.rate_hz
        si = signal_si(t)
        acc_mg = np.round(si[:, :3] / MG_TO_MS2).astype(np.int64)
        last_ns = round(t[-1] * 1e9)
        packets: list[bytes] = []
        if self.verity:
            gyro = np.round(si[:, 3:] / DEG_TO_RAD / GYRO_FACTOR).astype(np.int64)
            packets.append(frame(MeasurementType.ACC, last_ns, 0x81, encode_delta(acc_mg)))
            if MeasurementType.GYRO in self.started:
                packets.append(frame(MeasurementType.GYRO, last_ns, 0x80, encode_delta(gyro)))
            quantized = np.hstack([acc_mg * MG_TO_MS2, gyro * GYRO_FACTOR * DEG_TO_RAD])
        else:
            packets.append(
                frame(MeasurementType.ACC, last_ns, 0x01, acc_mg.astype("<i2").tobytes())
            )
            quantized = acc_mg * MG_TO_MS2
            si = si[:, :3]
        if self.stalled or not self.connections:
            return
        for payload in packets[:-1]:
            for connection in list(self.connections):
                await self.device.notify_subscriber(connection, self.data_char, payload)
        await self.notify(self.data_char, packets[-1], si, quantized)
