"""Virtual twin of the balancelab DIY sensor (profile v1, firmware_notes/diy_profile.md).

GATT: IMU service (Data notify, reads refused; Config read/write; Capabilities; Clock),
Battery and Device Information. Advertising: the 128-bit service UUID; scan response: the
name and the battery level as Battery-service data. Streams exactly while the Data CCCD is
on; each new stream starts at index 0 with RESTART; a Config write restarts it. Packets are
built with `balancelab.devices.diy.encode_data`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bumble import data_types
from bumble.core import UUID
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from balancelab.devices import common, diy
from balancelab.model import STANDARD_GRAVITY_MS2
from tests.support.ble.backend import VirtualAir
from tests.support.ble.twin import READABLE, WRITEABLE, P, Twin, read_not_permitted, signal_si

DEG_TO_RAD = np.pi / 180
# LSM6DSO sensitivities: 0.244 mg/LSB at ±8 g, 70 mdps/LSB at ±2000 dps (not range/32768).
ACC_LSB_G = {2: 0.061e-3, 4: 0.122e-3, 8: 0.244e-3, 16: 0.488e-3}
GYRO_LSB_DPS = {250: 8.75e-3, 500: 17.5e-3, 1000: 35e-3, 2000: 70e-3}
SUPPORTED_ODR_DHZ = (125, 260, 520, 1040, 2080, 2000, 1000)


class DiyTwin(Twin):
    """The DIY sensor; `config` is what the device runs (rounded like firmware would)."""

    def __init__(self, air: VirtualAir, name: str = "balancelab-IMU", **kwargs: Any) -> None:
        super().__init__(air, name, **kwargs)
        self.config = self._apply(diy.DiyConfig())
        self.config_writes = 0
        self._index = 0
        self._overrun = False
        self._subscribed: set[Connection] = set()
        self.data_char: Characteristic[Any] = Characteristic(
            diy.DATA_UUID, P.NOTIFY, READABLE, CharacteristicValue(read=read_not_permitted)
        )
        self.data_char.on("subscription", self._on_subscription)

    @staticmethod
    def _apply(config: diy.DiyConfig) -> diy.DiyConfig:
        odr = min(SUPPORTED_ODR_DHZ, key=lambda o: abs(o - config.odr_dhz))
        acc = min(ACC_LSB_G, key=lambda r: abs(r - config.acc_range_g))
        gyro = min(GYRO_LSB_DPS, key=lambda r: abs(r - config.gyro_range_dps))
        per_packet = min(max(config.samples_per_packet, 1), 19) if config.samples_per_packet else 19
        return diy.DiyConfig(odr, acc, per_packet, gyro, ACC_LSB_G[acc], GYRO_LSB_DPS[gyro])

    @property
    def rate_hz(self) -> float:
        return self.config.odr_hz

    @property
    def samples_per_packet(self) -> int:
        return self.config.samples_per_packet

    def services(self) -> list[Service]:
        caps = diy.DiyCapabilities(
            1,
            "LSM6DSO (virtual)",
            SUPPORTED_ODR_DHZ,
            (2, 4, 8, 16),
            (250, 500, 1000, 2000),
            "x-right,y-forward,z-up",
            512,
        )
        config_char: Characteristic[Any] = Characteristic(
            diy.CONFIG_UUID,
            P.READ | P.WRITE,
            READABLE | WRITEABLE,
            CharacteristicValue(
                read=lambda _c: diy.encode_config(self.config), write=self._on_config_write
            ),
        )
        info = {
            "manufacturer": b"balancelab",
            "model": b"DIY IMU v1",
            "serial": b"0042",
            "hardware_revision": b"nrf52840",
            "firmware_revision": b"1.0.0",
        }
        return [
            Service(
                diy.SERVICE_UUID,
                [
                    self.data_char,
                    config_char,
                    Characteristic(
                        diy.CAPABILITIES_UUID, P.READ, READABLE, diy.encode_capabilities(caps)
                    ),
                    Characteristic(
                        diy.CLOCK_UUID,
                        P.READ,
                        READABLE,
                        CharacteristicValue(
                            read=lambda _c: diy.encode_clock(round(self.device_time_s() * 1e6))
                        ),
                    ),
                ],
            ),
            Service(
                common.BATTERY_SERVICE_UUID,
                [
                    Characteristic(
                        common.BATTERY_LEVEL_UUID,
                        P.READ | P.NOTIFY,
                        READABLE,
                        CharacteristicValue(read=lambda _c: bytes([self.battery_pct])),
                    ),
                ],
            ),
            Service(
                common.DEVICE_INFO_SERVICE_UUID,
                [
                    Characteristic(uuid, P.READ, READABLE, info[key])
                    for key, uuid in common.DEVICE_INFO_UUIDS.items()
                ],
            ),
        ]

    def advertising_data(self) -> list[Any]:
        return [self.flags(), data_types.CompleteListOf128BitServiceUUIDs([UUID(diy.SERVICE_UUID)])]

    def scan_response_data(self) -> list[Any]:
        return [
            data_types.CompleteLocalName(self.name),
            data_types.ServiceData16BitUUID(UUID.from_16_bits(0x180F), bytes([self.battery_pct])),
        ]

    # --- behaviour ----------------------------------------------------------------------------
    def _on_subscription(self, connection: Connection, notify: bool, _indicate: bool) -> None:
        if notify:
            self._subscribed.add(connection)
            self._index = 0
            self.start_stream()
        else:
            self._subscribed.discard(connection)
            if not self._subscribed:
                self.stop_stream()

    def on_disconnected(self, connection: Connection) -> None:
        self._subscribed.discard(connection)
        if not self._subscribed:
            self.stop_stream()

    def _on_config_write(self, _connection: Connection, value: bytes) -> None:
        self.config = self._apply(diy.decode_config(value, require_scales=False))
        self.config_writes += 1
        if self.streaming:  # restart so the index and scale change are explicit
            self.stop_stream()
            self._index = 0
            self.start_stream()

    def encode_samples(
        self, si: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """SI rows → int16 counts and the SI values those counts stand for."""
        scale = np.array(
            [self.config.acc_lsb_g * STANDARD_GRAVITY_MS2] * 3
            + [self.config.gyro_lsb_dps * DEG_TO_RAD] * 3
        )
        counts = np.clip(np.round(si / scale), -32768, 32767).astype(np.int64)
        return counts, counts * scale

    def packet(
        self, device_first_s: float
    ) -> tuple[bytes, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        n = self.samples_per_packet
        t = device_first_s + np.arange(n) / self.rate_hz
        si = signal_si(t)
        counts, quantized = self.encode_samples(si)
        flags = diy.DiyFlag.RESTART if self._index == 0 else diy.DiyFlag(0)
        if self._overrun:
            flags |= diy.DiyFlag.OVERRUN
        payload = diy.encode_data(self._index, round(device_first_s * 1e6), counts, flags=flags)
        return payload, si, quantized

    async def send_packet(self, device_first_s: float) -> None:
        payload, si, quantized = self.packet(device_first_s)
        sent = await self.notify(self.data_char, payload, si, quantized)
        self._overrun = not sent
        self._index += self.samples_per_packet  # samples taken while stalled are lost
