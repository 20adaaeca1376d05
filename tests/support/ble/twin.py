"""What every virtual twin shares: a bumble GATT server on a `VirtualAir`, advertising, a
device clock, a paced sample stream, a log of what reached the air, and fault injection.

Twins pace samples by the event loop's clock, so on a `VirtualTimeLoop` ten minutes of 200 Hz
take seconds. Faults: `drop_link` (the link breaks mid-stream, the sensor re-advertises after
`away_s`), `go_absent`/`come_back`, `stall` (the firmware stops notifying; samples taken
meanwhile are lost), `inject` (arbitrary bytes, e.g. malformed or truncated packets),
`duplicate_next`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bumble import att, data_types, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service

from balancelab.model import STANDARD_GRAVITY_MS2
from tests.support.ble.backend import VirtualAir

ADVERTISING_INTERVAL_MS = 100
READABLE = Characteristic.Permissions.READABLE
WRITEABLE = Characteristic.Permissions.WRITEABLE
P = Characteristic.Properties


def read_not_permitted(_connection: Any) -> bytes:
    """bumble does not enforce READABLE; a notify-only value refuses reads itself."""
    raise att.ATT_Error(att.ErrorCode.READ_NOT_PERMITTED)


def signal_si(t_s: np.ndarray[Any, Any], *, gyro: bool = True) -> np.ndarray[Any, Any]:
    """A wobble-board-like test signal at device times `t_s`: acc (m/s^2) then gyro (rad/s)."""
    w = 2 * math.pi * t_s
    acc = np.stack(
        [1.5 * np.sin(w * 0.5), 0.8 * np.cos(w * 0.7), STANDARD_GRAVITY_MS2 + 0.5 * np.sin(w)],
        axis=1,
    )
    if not gyro:
        return acc
    gyr = np.stack([0.6 * np.sin(w * 0.4), -0.4 * np.cos(w * 0.9), 0.2 * np.sin(w * 1.7)], axis=1)
    return np.hstack([acc, gyr])


@dataclass
class SentLog:
    """Samples that went out on a live link, as the twin meant them (SI) and as encoded."""

    si: list[np.ndarray[Any, Any]] = field(default_factory=list)
    quantized: list[np.ndarray[Any, Any]] = field(default_factory=list)
    packets: int = 0

    def add(self, si: np.ndarray[Any, Any], quantized: np.ndarray[Any, Any]) -> None:
        self.si.append(si)
        self.quantized.append(quantized)
        self.packets += 1

    @property
    def samples(self) -> int:
        return sum(block.shape[0] for block in self.si)

    def rows(self, *, quantized: bool = True) -> np.ndarray[Any, Any]:
        """All logged samples, (n, channels): the quantized values the decoder must return."""
        blocks = self.quantized if quantized else self.si
        return np.vstack(blocks) if blocks else np.empty((0, 0))


class Twin(abc.ABC):
    """A virtual BLE sensor. Subclasses declare GATT services, advertising and packets."""

    def __init__(
        self,
        air: VirtualAir,
        name: str,
        *,
        address: str | None = None,
        rssi_dbm: int = -60,
        battery_pct: int = 87,
        clock_offset_s: float = 12.5,
        drift_ppm: float = 40.0,
    ) -> None:
        self.air = air
        self.name = name
        self.device: Device = air.new_device(name, address, rssi_dbm=rssi_dbm)
        self.address = str(self.device.public_address).split("/")[0]
        self.battery_pct = battery_pct
        self.clock_offset_s = clock_offset_s
        self.drift_ppm = drift_ppm
        self.sent = SentLog()
        self.connections: list[Connection] = []
        self.connection_count = 0
        self.stalled = False
        self.absent = False
        self._boot_s: float | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._duplicate_next = False
        self.device.on("connection", self._on_connection)

    # --- clock --------------------------------------------------------------------------------
    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def device_time_s(self) -> float:
        """The twin's own clock: offset from boot and running `drift_ppm` fast."""
        if self._boot_s is None:
            self._boot_s = self.loop_time()
        return self.clock_offset_s + (self.loop_time() - self._boot_s) * (1 + self.drift_ppm * 1e-6)

    def loop_time_of(self, device_s: float) -> float:
        assert self._boot_s is not None
        return self._boot_s + (device_s - self.clock_offset_s) / (1 + self.drift_ppm * 1e-6)

    # --- GAP ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def services(self) -> list[Service]: ...

    @abc.abstractmethod
    def advertising_data(self) -> list[Any]: ...

    def scan_response_data(self) -> list[Any]:
        return []

    async def start(self) -> None:
        """Power on and advertise."""
        self.device_time_s()
        self.device.add_services(self.services())
        # bumble's virtual controller answers a scan request with the advertising data, never
        # the scan response: carry both in the advertisement, as a central sees them merged.
        fields = self.advertising_data() + self.scan_response_data()
        self.device.advertising_data = bytes(AdvertisingData(fields))
        await self.device.power_on()
        await self._advertise()

    async def _advertise(self) -> None:
        await self.device.start_advertising(
            auto_restart=True,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    @staticmethod
    def flags() -> Any:
        return data_types.Flags(
            AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
            | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
        )

    @staticmethod
    def uuid(text: str) -> UUID:
        return UUID(text)

    def _on_connection(self, connection: Connection) -> None:
        if self.absent:
            asyncio.get_running_loop().create_task(connection.disconnect())
            return
        self.connections.append(connection)
        self.connection_count += 1
        connection.on("disconnection", lambda _reason: self._on_disconnection(connection))

    def _on_disconnection(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)
        self.on_disconnected(connection)

    def on_disconnected(self, connection: Connection) -> None:
        """A central left: stop streaming to it (subclasses reset their state)."""
        self.stop_stream()

    # --- stream -------------------------------------------------------------------------------
    def start_stream(self) -> None:
        if self._stream_task is None:
            self._stream_task = asyncio.get_running_loop().create_task(self._stream())

    def stop_stream(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None

    async def _stream(self) -> None:
        period_s = self.samples_per_packet / self.rate_hz
        device_next = self.device_time_s()
        while True:
            device_next += period_s
            delay_s = self.loop_time_of(device_next) - self.loop_time()
            await asyncio.sleep(max(delay_s, 0.0))
            await self.send_packet(device_next - period_s)

    @property
    @abc.abstractmethod
    def rate_hz(self) -> float: ...

    @property
    @abc.abstractmethod
    def samples_per_packet(self) -> int: ...

    @abc.abstractmethod
    async def send_packet(self, device_first_s: float) -> None:
        """Build, send and log the packet whose first sample was taken at `device_first_s`."""

    async def notify(
        self,
        characteristic: Characteristic[Any],
        payload: bytes,
        si: np.ndarray[Any, Any],
        quantized: np.ndarray[Any, Any],
    ) -> bool:
        """Send one data packet to every connection; log it if it went out on a live link."""
        if self.stalled or not self.connections:
            return False
        for connection in list(self.connections):
            await self.device.notify_subscriber(connection, characteristic, payload)
            if self._duplicate_next:
                self._duplicate_next = False
                await self.device.notify_subscriber(connection, characteristic, payload)
        self.sent.add(si, quantized)
        return True

    # --- faults -------------------------------------------------------------------------------
    async def drop_link(self, *, away_s: float = 0.3) -> None:
        """The link breaks (supervision timeout); the sensor advertises again after `away_s`."""
        self.absent = True
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.disconnect(hci.HCI_CONNECTION_TIMEOUT_ERROR)
        await asyncio.sleep(away_s)
        await self.come_back()

    async def go_absent(self) -> None:
        """Switched off: no advertising, links dropped, connections refused."""
        self.absent = True
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.disconnect(
                    hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR
                )

    async def come_back(self) -> None:
        self.absent = False
        await self._advertise()

    def stall(self, seconds: float) -> None:
        """The firmware stops notifying for `seconds` (the link stays up)."""
        self.stalled = True

        def resume() -> None:
            self.stalled = False

        asyncio.get_running_loop().call_later(seconds, resume)

    async def inject(self, characteristic: Characteristic[Any], payload: bytes) -> None:
        """Send arbitrary bytes as a notification (malformed or truncated packets)."""
        for connection in list(self.connections):
            await self.device.notify_subscriber(connection, characteristic, payload)

    def duplicate_next(self) -> None:
        """Send the next data packet twice."""
        self._duplicate_next = True
