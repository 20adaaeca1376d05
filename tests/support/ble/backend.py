"""A bleak backend over bumble's in-process LocalLink: VirtualAir, BumbleScanner, BumbleClient.

The application keeps using the real `bleak.BleakScanner` / `bleak.BleakClient`; only the
backend class underneath changes (`backend=` plus `air=`, which `VirtualAir.ble_backend()`
packs into the `BleBackend` that balancelab's BLE source takes). Every byte crosses bumble's
HCI, L2CAP and ATT layers between a bumble central and the twins' GATT servers.

The host's adapter can be made to fail: `air.scan_faults.fail(...)` refuses scans and
`air.client_faults.fail(...)` refuses to create clients, a number of times or for ever, with
the bleak exception a real backend raises.

bleak's backend API is not a stable API (bleak's own docs say so): these classes follow bleak
3.1's `BaseBleakScanner` / `BaseBleakClient` and accept extra keyword arguments they do not use.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid as uuid_module
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from balancelab.sensors.ble import BleBackend

CENTRAL_ADDRESS = "C0:C1:C2:C3:C4:C5"
REQUESTED_MTU = 247
"""What macOS and Windows negotiate; Polar PMD responses need an ATT MTU >= 232
(polarofficial/polar-ble-sdk issue #287)."""

_PROPERTY_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)
_T = AdvertisingData.Type
_UUID_LISTS = (
    _T.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    _T.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    _T.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    _T.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


def bleak_uuid(uuid: core.UUID) -> str:
    """A bumble UUID as bleak writes it: lower-case 128-bit text."""
    return str(uuid_module.UUID(bytes=bytes(reversed(uuid.to_bytes(force_128=True)))))


def plain_address(address: Any) -> str:
    """bumble's address text without its '/P' (public) suffix."""
    return str(address).split("/")[0]


class VirtualAir:
    """One radio medium (a bumble LocalLink), the host's adapter (a central) and who is on it."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.rssi_dbm: dict[str, int] = {}
        self._next_address = 1
        self._central: Device | None = None
        self._central_lock = asyncio.Lock()
        self._scanners = 0
        self.connect_lock = asyncio.Lock()
        """bumble allows one pending LE connection per central."""
        self.scan_faults = Fault("org.bluez.Error.NotReady: Resource Not Ready")
        """Armed (`fail`): the adapter refuses to start scans, as BlueZ does while it resets."""
        self.client_faults = Fault("the Bluetooth stack did not answer")
        """Armed: creating a client fails, as bleak does when the OS stack cannot be reached."""

    def new_device(self, name: str, address: str | None = None, *, rssi_dbm: int = -60) -> Device:
        """A bumble device (controller + host) on this air, not yet powered."""
        if address is None:
            address = f"F0:00:00:00:00:{self._next_address:02X}"
            self._next_address += 1
        self.rssi_dbm[address] = rssi_dbm
        controller = Controller(f"ctrl-{name}", link=self.link, public_address=address)
        host = Host(controller, AsyncPipeSink(controller))
        return Device(name=name, address=hci.Address(address), host=host)

    async def central(self) -> Device:
        """The powered central that plays the computer's Bluetooth adapter."""
        async with self._central_lock:
            if self._central is None:
                self._central = self.new_device("host-adapter", CENTRAL_ADDRESS)
                await self._central.power_on()
            return self._central

    async def scanning(self, on: bool) -> Device:
        """Count scanners: the central scans while at least one wants it (as an OS does)."""
        central = await self.central()
        async with self._central_lock:
            self._scanners += 1 if on else -1
            if on and self._scanners == 1:
                await central.start_scanning(active=True, filter_duplicates=False)
            elif not on and self._scanners == 0:
                with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                    await central.stop_scanning()
        return central

    def ble_backend(self) -> BleBackend:
        """The bleak backend arguments that put balancelab's BLE code on this air."""
        return BleBackend(
            scanner_kwargs={"backend": BumbleScanner, "air": self},
            client_kwargs={"backend": BumbleClient, "air": self},
        )


class Fault:
    """An adapter fault: once armed with `fail`, `check()` raises the next `times` times."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.left: float = 0
        self.make: Callable[[str], BleakError] = BleakError
        self.raised = 0

    def fail(self, times: float = math.inf, make: Callable[[str], BleakError] = BleakError) -> None:
        """Fail the next `times` checks (all of them by default) with `make(message)`."""
        self.left, self.make = times, make

    def check(self) -> None:
        if self.left > 0:
            self.left -= 1
            self.raised += 1
            raise self.make(self.message)


def _advertisement_data(adv: Advertisement, rssi_dbm: int) -> AdvertisementData:
    data: Any = adv.data  # bumble types each AD field as a union
    name = data.get(_T.COMPLETE_LOCAL_NAME) or data.get(_T.SHORTENED_LOCAL_NAME)
    uuids = [bleak_uuid(u) for kind in _UUID_LISTS for lst in data.get_all(kind) for u in lst]
    manufacturer = {cid: bytes(v) for cid, v in data.get_all(_T.MANUFACTURER_SPECIFIC_DATA)}
    service_data = {
        bleak_uuid(u): bytes(v)
        for kind in (_T.SERVICE_DATA_16_BIT_UUID, _T.SERVICE_DATA_128_BIT_UUID)
        for u, v in data.get_all(kind)
    }
    tx = None if adv.tx_power == Advertisement.TX_POWER_NOT_AVAILABLE else adv.tx_power
    return AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx,
        rssi=rssi_dbm,
        platform_data=(adv,),
    )


def _merge(previous: AdvertisementData, new: AdvertisementData) -> AdvertisementData:
    """Advertising and scan-response data arrive separately; an OS merges them."""
    return new._replace(
        local_name=new.local_name or previous.local_name,
        service_uuids=sorted(set(previous.service_uuids) | set(new.service_uuids)),
        manufacturer_data={**previous.manufacturer_data, **new.manufacturer_data},
        service_data={**previous.service_data, **new.service_data},
    )


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend: a bumble central scanning on a `VirtualAir`."""

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        air: VirtualAir,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._air = air
        self._device: Device | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._air.scan_faults.check()
        self._device = await self._air.scanning(True)
        self._device.on("advertisement", self._on_advertisement)

    async def stop(self) -> None:
        if self._device is None:
            return
        self._device.remove_listener("advertisement", self._on_advertisement)
        self._device = None
        await self._air.scanning(False)

    def _on_advertisement(self, adv: Advertisement) -> None:
        address = plain_address(adv.address)
        ad = _advertisement_data(adv, self._air.rssi_dbm.get(address, adv.rssi))
        previous = self.seen_devices.get(address)
        if previous is not None:
            ad = _merge(previous[1], ad)
        if not self.is_allowed_uuid(ad.service_uuids):
            return
        details = {"air": self._air, "address": adv.address}
        device = self.create_or_update_device(address, address, ad.local_name, details, ad)
        self.call_detection_callbacks(device, ad)


class BumbleClient(BaseBleakClient):
    """bleak client backend: GATT client operations of a bumble central on a `VirtualAir`."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        air: VirtualAir,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        air.client_faults.check()
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._air = air
        self._peer_address: hci.Address = hci.Address(self.address)
        if isinstance(address_or_ble_device, BLEDevice) and isinstance(
            address_or_ble_device.details, dict
        ):
            self._peer_address = address_or_ble_device.details["address"]
        self._service_filter = services
        self._name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = await self._air.central()
        try:
            async with self._air.connect_lock, asyncio.timeout(self._timeout):
                connection = await central.connect(self._peer_address)
        except (TimeoutError, core.ConnectionError, hci.HCI_Error) as error:
            raise BleakDeviceNotFoundError(self.address, f"connect failed: {error}") from error
        self._connection = connection
        connection.on("disconnection", self._on_disconnection)
        self._peer = Peer(connection)
        try:
            await self._peer.request_mtu(REQUESTED_MTU)
            if pair:
                await connection.pair()
            self.services = await self._discover(self._peer)
        except (att.ATT_Error, core.BaseBumbleError, hci.HCI_Error) as error:
            await self.disconnect()
            raise BleakError(f"{self.address}: service discovery failed: {error}") from error

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        await peer.discover_services()
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            service_uuid = bleak_uuid(service.uuid)
            if self._service_filter and service_uuid not in self._service_filter:
                continue
            bleak_service = BleakGATTService(service, service.handle, service_uuid)
            collection.add_service(bleak_service)
            await service.discover_characteristics()
            for char in service.characteristics:
                names = [name for bit, name in _PROPERTY_NAMES if int(char.properties) & bit]
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    bleak_uuid(char.uuid),
                    names,  # type: ignore[arg-type]
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                await char.discover_descriptors()
                for desc in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, bleak_uuid(desc.type), bleak_char)
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        if self._disconnected_callback is not None:
            # Like bleak's BlueZ and (since 1.1) WinRT backends: local and remote disconnects.
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
            await connection.disconnect()
        async with asyncio.timeout(self._timeout):
            while self._connection is not None:
                await asyncio.sleep(0.005)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        if self._connection is None:
            raise BleakError("Not connected")
        await self._connection.pair()

    async def unpair(self) -> None:
        raise NotImplementedError("the bumble test backend does not unpair")

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def _gatt(self, operation: Any) -> Any:
        try:
            return await operation
        except att.ATT_Error as error:
            raise BleakGATTProtocolError(error.error_code) from error
        except (core.BaseBumbleError, hci.HCI_Error, asyncio.CancelledError) as error:
            if isinstance(error, asyncio.CancelledError) and self._connection is not None:
                raise
            raise BleakError(f"{self.address}: GATT operation failed: {error!r}") from error

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        return bytearray(await self._gatt(peer.read_value(characteristic.handle)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        return bytearray(await self._gatt(peer.read_value(descriptor.handle)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        peer = self._require_peer()
        await self._gatt(
            peer.write_value(characteristic.handle, bytes(data), with_response=response)
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._require_peer()
        await self._gatt(peer.write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_peer()

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = deliver
        await self._gatt(peer.subscribe(characteristic.obj, deliver))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        deliver = self._subscribers.pop(characteristic.handle, None)
        await self._gatt(peer.unsubscribe(characteristic.obj, deliver))
