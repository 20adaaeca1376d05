"""The one module of balancelab that imports bleak: scanning, links and GATT operations.

bleak's exceptions stop here and leave as balancelab's (`balancelab.errors`): the adapter or
the OS stack failing becomes `BluetoothUnavailableError` or `BluetoothError`, a device that
does not answer `SensorNotFoundError`, and a connection or GATT operation that fails or times
out on a link `LinkLostError` (reconnecting may help).

`BleBackend` passes bleak's `backend=` hook and its arguments through, which is how the tests
run all of this against virtual sensors on a bumble GATT stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError

from balancelab.errors import (
    BalancelabError,
    BluetoothError,
    BluetoothUnavailableError,
    LinkLostError,
    SensorNotFoundError,
)

log = logging.getLogger(__name__)

GATT_TIMEOUT_S = 5.0
"""Longest wait for one read, write, subscription or disconnect before the link is taken as
broken."""


@dataclass(frozen=True)
class BleBackend:
    """Keyword arguments for `BleakScanner` and `BleakClient` (e.g. `backend=` a custom
    backend class and its own options). Empty: the operating system's Bluetooth."""

    scanner_kwargs: Mapping[str, Any] = field(default_factory=dict)
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Advertisement:
    """A device as a scan saw it: `name` the advertised one (else the OS's), service UUIDs
    and service data as advertised, `rssi_dbm`; `device` is what `Link` connects to."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...]
    service_data: Mapping[str, bytes]
    rssi_dbm: int | None
    device: BLEDevice = field(repr=False, compare=False)


def _advertisement(device: BLEDevice, adv: AdvertisementData) -> Advertisement:
    return Advertisement(
        device.address,
        adv.local_name or device.name,
        tuple(adv.service_uuids),
        {uuid: bytes(data) for uuid, data in adv.service_data.items()},
        adv.rssi,
        device,
    )


def _translate(error: BaseException, what: str) -> BalancelabError:
    """A bleak (or OS) exception from the adapter as the error a person can act on."""
    if isinstance(error, BleakBluetoothNotAvailableError):
        return BluetoothUnavailableError(f"{what}: Bluetooth is not available ({error})")
    if isinstance(error, BleakDeviceNotFoundError):
        return SensorNotFoundError(f"{what}: the sensor did not answer ({error})")
    if isinstance(error, OSError):
        return BluetoothUnavailableError(f"{what}: the Bluetooth service failed ({error!r})")
    return BluetoothError(f"{what}: {error}")


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def advertisements(timeout_s: float, backend: BleBackend) -> list[Advertisement]:
    """Every device that advertised within `timeout_s` (its latest advertisement)."""
    try:
        async with BleakScanner(**backend.scanner_kwargs) as scanner:
            await asyncio.sleep(timeout_s)
            seen = list(scanner.discovered_devices_and_advertisement_data.values())
    except (BleakError, OSError) as error:
        raise _translate(error, "scan") from error
    return [_advertisement(device, adv) for device, adv in seen]


async def find(
    matches: Callable[[Advertisement], bool], timeout_s: float, backend: BleBackend, what: str
) -> Advertisement | None:
    """The first advertisement that `matches` within `timeout_s`, None if none did; `what`
    names the search in an adapter error."""
    found: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        if found.done():
            return
        seen = _advertisement(device, adv)
        if matches(seen):
            found.set_result(seen)

    try:
        async with (
            BleakScanner(on_advertisement, **backend.scanner_kwargs),
            asyncio.timeout(timeout_s),
        ):
            return await found
    except TimeoutError:
        return None
    except (BleakError, OSError) as error:
        raise _translate(error, what) from error


class Link:
    """One connection to a device and the GATT operations on it (a driver's `GattPort`),
    each under `GATT_TIMEOUT_S`; `dropped` is set when the device goes away."""

    def __init__(
        self, device: Advertisement, backend: BleBackend, *, connect_timeout_s: float, what: str
    ) -> None:
        self.dropped = asyncio.Event()
        self._connect_timeout_s = connect_timeout_s
        self._uuids: frozenset[str] = frozenset()
        try:
            self._client = BleakClient(
                device.device,
                disconnected_callback=lambda _client: self.dropped.set(),
                timeout=connect_timeout_s,
                **backend.client_kwargs,
            )
        except (BleakError, OSError) as error:
            raise _translate(error, f"connecting to {what}") from error

    @property
    def is_connected(self) -> bool:
        return self._client.is_connected and not self.dropped.is_set()

    async def connect(self) -> None:
        """Connect and discover the services; `LinkLostError` if that fails or times out."""
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self._client.connect()
        except (BleakError, OSError, TimeoutError) as error:
            raise LinkLostError(_describe(error)) from error
        services = self._client.services
        self._uuids = frozenset(c.uuid for s in services for c in s.characteristics)

    def service_uuids(self) -> list[str]:
        """The UUIDs of the device's GATT services (once connected)."""
        return [s.uuid for s in self._client.services]

    def has_characteristic(self, uuid: str) -> bool:
        return uuid.lower() in self._uuids

    async def read(self, uuid: str) -> bytes:
        try:
            async with asyncio.timeout(GATT_TIMEOUT_S):
                return bytes(await self._client.read_gatt_char(uuid))
        except (BleakError, OSError, TimeoutError) as error:
            raise LinkLostError(_describe(error)) from error

    async def write(self, uuid: str, data: bytes, *, response: bool) -> None:
        try:
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await self._client.write_gatt_char(uuid, data, response=response)
        except (BleakError, OSError, TimeoutError) as error:
            raise LinkLostError(_describe(error)) from error

    async def subscribe(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        def on_notify(_sender: Any, data: bytearray) -> None:
            callback(bytes(data))

        try:
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await self._client.start_notify(uuid, on_notify)
        except (BleakError, OSError, TimeoutError) as error:
            raise LinkLostError(_describe(error)) from error

    async def disconnect(self) -> None:
        """Disconnect if still connected; nothing here raises."""
        if not self.is_connected:
            return
        with contextlib.suppress(BleakError, OSError, TimeoutError):
            async with asyncio.timeout(GATT_TIMEOUT_S):
                await self._client.disconnect()


async def read_once(device: Advertisement, uuid: str, backend: BleBackend) -> bytes | None:
    """One characteristic's value over a short connection; None if that failed (logged)."""
    try:
        async with asyncio.timeout(GATT_TIMEOUT_S * 2):
            async with BleakClient(device.device, **backend.client_kwargs) as client:
                return bytes(await client.read_gatt_char(uuid))
    except (BleakError, OSError, TimeoutError) as error:
        log.info("%s of %s not read: %s", uuid, device.address, error)
        return None
