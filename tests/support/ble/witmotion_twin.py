"""Virtual twin of a WitMotion WT901BLE (BLE 5.0): service ffe5 on the non-SIG base, notify
ffe4 with 20-byte `55 61` frames (acc, gyro, angles as int16; no time, no counter), write ffe9
for `FF AA` commands (unlock, rate register 0x03 with the SDK's codes, 0x0B = 200 Hz, save).
Advertises its name only. At 200 Hz it packs 4 frames per notification (as captured)."""

from __future__ import annotations

from typing import Any

import numpy as np
from bumble import data_types
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from balancelab.devices import witmotion
from balancelab.devices.common import DEG_TO_RAD, G_TO_MS2
from tests.support.ble.backend import VirtualAir
from tests.support.ble.twin import READABLE, WRITEABLE, P, Twin, read_not_permitted, signal_si

CODE_RATES_HZ = {**{code: rate for rate, code in witmotion.RATE_CODES.items()}, 0x0B: 200.0}
SCALES = np.array(
    [16 / 32768 * G_TO_MS2] * 3 + [2000 / 32768 * DEG_TO_RAD] * 3 + [180 / 32768 * DEG_TO_RAD] * 3
)


class WitMotionTwin(Twin):
    def __init__(self, air: VirtualAir, name: str = "WT901BLE68", **kwargs: Any) -> None:
        super().__init__(air, name, **kwargs)
        self.output_rate_hz = 10.0
        self.unlocked = False
        self.saved = 0
        self.commands: list[bytes] = []
        self.notify_char: Characteristic[Any] = Characteristic(
            witmotion.NOTIFY_UUID, P.NOTIFY, READABLE, CharacteristicValue(read=read_not_permitted)
        )
        self.notify_char.on("subscription", self._on_subscription)

    @property
    def rate_hz(self) -> float:
        return self.output_rate_hz

    @property
    def samples_per_packet(self) -> int:
        return 4 if self.output_rate_hz >= 200 else 1

    def services(self) -> list[Service]:
        write: Characteristic[Any] = Characteristic(
            witmotion.WRITE_UUID,
            P.WRITE | P.WRITE_WITHOUT_RESPONSE,
            WRITEABLE,
            CharacteristicValue(write=self._on_write),
        )
        return [Service(witmotion.SERVICE_UUID, [self.notify_char, write])]

    def advertising_data(self) -> list[Any]:
        return [self.flags(), data_types.CompleteLocalName(self.name)]

    def _on_subscription(self, _connection: Connection, notify: bool, _indicate: bool) -> None:
        if notify:
            self.start_stream()
        else:
            self.stop_stream()

    def _on_write(self, _connection: Connection, value: bytes) -> None:
        value = bytes(value)
        self.commands.append(value)
        if len(value) != 5 or value[:2] != b"\xff\xaa":
            return
        register, data = value[2], int.from_bytes(value[3:5], "little")
        if register == witmotion.REG_UNLOCK and data == 0xB588:
            self.unlocked = True
        elif register == witmotion.REG_RATE and self.unlocked and data in CODE_RATES_HZ:
            self.output_rate_hz = CODE_RATES_HZ[data]
            if self.streaming:
                self.stop_stream()
                self.start_stream()
        elif register == witmotion.REG_SAVE:
            self.saved += 1
            self.unlocked = False

    def angles_si(self, t_s: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        w = 2 * np.pi * t_s
        return np.stack([0.1 * np.sin(w * 0.3), 0.05 * np.cos(w * 0.2), 1.2 + 0.0 * w], axis=1)

    async def send_packet(self, device_first_s: float) -> None:
        n = self.samples_per_packet
        t = device_first_s + np.arange(n) / self.rate_hz
        si = np.hstack([signal_si(t), self.angles_si(t)])
        counts = np.clip(np.round(si / SCALES), -32768, 32767).astype(np.int64)
        payload = b"".join(b"\x55\x61" + row.astype("<i2").tobytes() for row in counts)
        await self.notify(self.notify_char, payload, si, counts * SCALES)
