"""Bluetooth LE sensors through bleak: `scan` and `BleSource` (the only bleak importer).

`BleSource` finds a sensor by address or name, detects its kind from the advertisement,
configures it through the kind's driver (`ble_drivers`), subscribes and decodes every
notification in the callback into the sink. It reports connecting → streaming, stalled when
the data stops (watchdog), reconnecting with exponential back-off after a drop (the session
and its recording go on; the gap becomes NaN rows) and lost(reason) when it gives up. bleak's
exceptions stop here: they become balancelab errors or `lost` events with advice.

`backend=` (a `BleBackend`) passes bleak's `backend=` hook and its arguments through, which is
how the tests run all of this against virtual sensors on a bumble GATT stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError

from balancelab.devices.common import DeviceKind, detect_kind, is_ble_address
from balancelab.errors import (
    BalancelabError,
    BluetoothError,
    BluetoothUnavailableError,
    DecodeError,
    InvalidArgumentError,
    SensorNotFoundError,
    SensorProtocolError,
)
from balancelab.formats.bids_writer import StreamSpec
from balancelab.model import TRACKED_POINTS, DeviceInfo
from balancelab.sensors.base import Clock, SourceSink, SourceState, SourceStats, monotonic_clock
from balancelab.sensors.ble.drivers import DRIVERS, DiyDriver, Driver
from balancelab.sensors.watchdog import DEFAULT_STALL_AFTER_S, SourceLifecycle, StopSignal

log = logging.getLogger(__name__)

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_UUIDS = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "firmware": "00002a26-0000-1000-8000-00805f9b34fb",
}
GATT_TIMEOUT_S = 5.0
"""Longest wait for one read, write or subscription before the link is taken as broken."""


@dataclass(frozen=True)
class BleBackend:
    """Keyword arguments for `BleakScanner` and `BleakClient` (e.g. `backend=` a custom
    backend class and its own options). Empty: the operating system's Bluetooth."""

    scanner_kwargs: Mapping[str, Any] = field(default_factory=dict)
    client_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FoundSensor:
    """A device seen by `scan`: `kind` None if balancelab does not recognise it."""

    address: str
    name: str | None
    kind: DeviceKind | None
    rssi_dbm: int | None
    battery_pct: int | None

    @property
    def streamable(self) -> bool:
        """True if `BleSource` can stream it (its kind has a driver); a recognised kind
        without one (Movesense) is listed but cannot be streamed yet."""
        return self.kind in DRIVERS


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try: back-off `initial_delay_s` × `factor`^attempt up to `max_delay_s`,
    for at most `give_up_after_s` after the link was lost (or the first attempt began)."""

    initial_delay_s: float = 0.1
    factor: float = 2.0
    max_delay_s: float = 5.0
    give_up_after_s: float = 60.0
    scan_timeout_s: float = 5.0
    connect_timeout_s: float = 15.0
    stall_reconnect_after_s: float = 5.0
    """Silence (s) after which a stalled link is dropped and reconnected."""

    def __post_init__(self) -> None:
        if not (self.initial_delay_s >= 0 and self.factor >= 1 and self.max_delay_s >= 0):
            raise InvalidArgumentError(
                "ReconnectPolicy needs initial_delay_s >= 0, factor >= 1 and max_delay_s >= 0, "
                f"got {self.initial_delay_s}, {self.factor}, {self.max_delay_s}"
            )

    def delay_s(self, attempt: int) -> float:
        """Back-off before retry number `attempt` (0 = the first retry)."""
        return float(min(self.max_delay_s, self.initial_delay_s * self.factor**attempt))


def _battery_from_advertisement(adv: AdvertisementData) -> int | None:
    value = adv.service_data.get(BATTERY_SERVICE_UUID)
    return value[0] if value and value[0] <= 100 else None


def _found(device: BLEDevice, adv: AdvertisementData) -> FoundSensor:
    name = adv.local_name or device.name
    return FoundSensor(
        device.address,
        name,
        detect_kind(name, adv.service_uuids),
        adv.rssi,
        _battery_from_advertisement(adv),
    )


def _translate(error: BaseException, what: str) -> BalancelabError:
    """A bleak (or OS) exception as the balancelab error a person can act on."""
    if isinstance(error, BleakBluetoothNotAvailableError):
        return BluetoothUnavailableError(f"{what}: Bluetooth is not available ({error})")
    if isinstance(error, BleakDeviceNotFoundError):
        return SensorNotFoundError(f"{what}: the sensor did not answer ({error})")
    if isinstance(error, OSError):
        return BluetoothUnavailableError(f"{what}: the Bluetooth service failed ({error!r})")
    return BluetoothError(f"{what}: {error}")


async def scan(
    timeout_s: float = 5.0,
    *,
    backend: BleBackend | None = None,
    include_unknown: bool = False,
    read_battery: bool = False,
) -> list[FoundSensor]:
    """Sensors advertising within `timeout_s`, strongest signal first. Only kinds balancelab
    recognises unless `include_unknown` (`FoundSensor.streamable` tells those it can stream
    from those it cannot yet); `read_battery` connects briefly to those whose advertisement
    carries no battery level. Raises `BluetoothError` subclasses."""
    backend = backend or BleBackend()
    try:
        async with BleakScanner(**backend.scanner_kwargs) as scanner:
            await asyncio.sleep(timeout_s)
            seen = list(scanner.discovered_devices_and_advertisement_data.values())
    except (BleakError, OSError) as error:
        raise _translate(error, "scan") from error
    found = [(d, _found(d, adv)) for d, adv in seen]
    found = [(d, f) for d, f in found if include_unknown or f.kind is not None]
    if read_battery:
        found = [(d, await _with_battery(d, f, backend)) for d, f in found]
    return sorted((f for _, f in found), key=lambda f: -(f.rssi_dbm or -999))


async def _with_battery(device: BLEDevice, sensor: FoundSensor, backend: BleBackend) -> FoundSensor:
    if sensor.battery_pct is not None or sensor.kind is None:
        return sensor
    try:
        async with asyncio.timeout(GATT_TIMEOUT_S * 2):
            async with BleakClient(device, **backend.client_kwargs) as client:
                value = bytes(await client.read_gatt_char(BATTERY_LEVEL_UUID))
    except (BleakError, OSError, TimeoutError) as error:
        log.info("battery of %s not read: %s", sensor.address, error)
        return sensor
    pct = value[0] if len(value) == 1 and value[0] <= 100 else None
    return FoundSensor(sensor.address, sensor.name, sensor.kind, sensor.rssi_dbm, pct)


class _BleakGatt:
    """`GattPort` over a connected `BleakClient`, each operation under a timeout."""

    def __init__(self, client: BleakClient) -> None:
        self.client = client
        services = client.services
        self._uuids = {c.uuid for s in services for c in s.characteristics}

    def has_characteristic(self, uuid: str) -> bool:
        return uuid.lower() in self._uuids

    async def read(self, uuid: str) -> bytes:
        async with asyncio.timeout(GATT_TIMEOUT_S):
            return bytes(await self.client.read_gatt_char(uuid))

    async def write(self, uuid: str, data: bytes, *, response: bool) -> None:
        async with asyncio.timeout(GATT_TIMEOUT_S):
            await self.client.write_gatt_char(uuid, data, response=response)

    async def subscribe(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        def on_notify(_sender: Any, data: bytearray) -> None:
            callback(bytes(data))

        async with asyncio.timeout(GATT_TIMEOUT_S):
            await self.client.start_notify(uuid, on_notify)


class _LinkLostError(Exception):
    """This connection ended or could not be made; `reason` says why, in words; `streamed`
    if samples arrived on it (a fresh drop, so the back-off starts over); `advice` what a
    person can do if the source gives up on it (None: bring the sensor back)."""

    def __init__(self, reason: str, *, streamed: bool = False, advice: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.streamed = streamed
        self.advice = advice


class BleSource:
    """A BLE sensor as a `Source`: address or advertised name; `kind` detected if None.

    `tracksys` labels its stream (default: from the kind); `rate_hz` asks the sensor for a
    sampling rate where it can be set; `samples_per_packet` the DIY sensor's batching (more:
    fewer notifications, more latency). `clock` is the host clock (the session starts at the
    first `clock()` of `run`). A drop is followed by reconnects under `reconnect`.
    """

    def __init__(
        self,
        address_or_name: str,
        *,
        kind: DeviceKind | None = None,
        tracksys: str | None = None,
        tracked_point: str = "board",
        rate_hz: float | None = None,
        clock: Clock = monotonic_clock,
        reconnect: ReconnectPolicy | None = None,
        stall_after_s: float = DEFAULT_STALL_AFTER_S,
        backend: BleBackend | None = None,
        samples_per_packet: int | None = None,
    ) -> None:
        if not address_or_name.strip():
            raise InvalidArgumentError("address_or_name must name a sensor, got an empty text")
        if tracked_point not in TRACKED_POINTS:
            raise InvalidArgumentError(
                f"tracked_point {tracked_point!r} is not one of {', '.join(TRACKED_POINTS)}"
            )
        if rate_hz is not None and not rate_hz > 0:
            raise InvalidArgumentError(f"rate_hz must be > 0 or None, got {rate_hz}")
        self.target = address_or_name.strip()
        self.name = f"ble:{self.target}"
        self.kind = kind
        self.tracksys = tracksys
        self.tracked_point = tracked_point
        self.rate_hz = rate_hz
        self.samples_per_packet = samples_per_packet
        self.policy = reconnect or ReconnectPolicy()
        self.backend = backend or BleBackend()
        self.lifecycle = SourceLifecycle(self.name, clock=clock, stall_after_s=stall_after_s)
        self.stats: SourceStats = self.lifecycle.stats
        self.device_info = DeviceInfo()
        self.reconnect_durations_s: list[float] = []
        """Session seconds from each `reconnecting` to the next `streaming`."""
        self._stop = StopSignal()
        self._driver: Driver | None = None
        self._spec: StreamSpec | None = None
        self._ble_device: BLEDevice | None = None
        self._gatt: _BleakGatt | None = None
        self._adv_kind: DeviceKind | None = None
        self._reconnecting_since_s: float | None = None
        self._session_start_s = 0.0
        self._session_streamed = False

    @property
    def state(self) -> SourceState:
        return self.lifecycle.state

    def streams(self) -> Sequence[StreamSpec]:
        return () if self._spec is None else (self._spec,)

    def stop(self) -> None:
        self._stop.set()

    def _stopping(self) -> bool:
        return self._stop.requested

    async def run(self, sink: SourceSink) -> None:
        self._stop.bind()
        self.lifecycle.begin(sink)
        self.lifecycle.set_state(SourceState.CONNECTING, f"looking for {self.target}")
        watchdog = asyncio.create_task(self.lifecycle.watch())
        try:
            await self._supervise()
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        if self._stopping():
            self.lifecycle.set_state(SourceState.STOPPED, "stopped")

    async def _supervise(self) -> None:
        """Connect, and reconnect after each drop until stopped or given up; every device,
        adapter or link problem ends here (as a retry or as `lost` with advice)."""
        attempt = 0
        trouble_since_s = self.lifecycle.clock()
        while not self._stopping():
            try:
                await self._attempt()
                return
            except BalancelabError as error:  # the sensor or the adapter: retrying won't help
                self.lifecycle.set_state(SourceState.LOST, f"{error} — {error.advice}")
                return
            except _LinkLostError as lost:
                if self._stopping():
                    return
                if lost.streamed:
                    trouble_since_s, attempt = self.lifecycle.clock(), 0
                if self.lifecycle.clock() - trouble_since_s > self.policy.give_up_after_s:
                    self.lifecycle.set_state(SourceState.LOST, self._give_up_reason(lost))
                    return
                if self._spec is not None:
                    self._enter_reconnecting(lost.reason)
                log.info("%s: %s; retry %d", self.name, lost.reason, attempt + 1)
                if await self._stop.sleep(self.policy.delay_s(attempt)):
                    return
                attempt += 1

    def _enter_reconnecting(self, reason: str) -> None:
        if self.state is not SourceState.RECONNECTING:
            self._reconnecting_since_s = self.lifecycle.session_time_s()
        self.lifecycle.set_state(SourceState.RECONNECTING, reason)

    def _give_up_reason(self, lost: _LinkLostError) -> str:
        advice = lost.advice or SensorNotFoundError.default_advice
        limit_s = self.policy.give_up_after_s
        return f"gave up on {self.target} after {limit_s:.0f} s: {lost.reason} — {advice}"

    async def _attempt(self) -> None:
        """`_session`, where the adapter failing (scan refused, Bluetooth restarting) or the
        sensor not answering is fatal on the first connection (the person must act) but, once
        the sensor has streamed, a lost link like any other: reconnecting goes on."""
        try:
            await self._session()
        except (BluetoothError, SensorNotFoundError) as error:
            if self._spec is None:
                raise
            raise _LinkLostError(str(error), advice=error.advice) from error

    async def _session(self) -> None:
        """One connection: find, connect, configure, stream; returns on stop, raises
        `_LinkLostError` when the link cannot be made or ends, `BluetoothError` or
        `SensorNotFoundError` when the adapter fails, `SensorProtocolError` for a sensor
        this source cannot use."""
        device = await self._find()
        link_down = asyncio.Event()
        self._session_start_s = self.lifecycle.clock()
        self._session_streamed = False
        try:
            client = BleakClient(
                device,
                disconnected_callback=lambda _client: link_down.set(),
                timeout=self.policy.connect_timeout_s,
                **self.backend.client_kwargs,
            )
        except (BleakError, OSError) as error:
            raise _translate(error, f"connecting to {self.target}") from error
        try:
            try:
                async with asyncio.timeout(self.policy.connect_timeout_s):
                    await client.connect()
                await self._start_stream(client, device)
            except (BleakError, OSError, TimeoutError, DecodeError) as error:
                raise _LinkLostError(
                    f"could not set up {self.target}: {_describe(error)}"
                ) from error
            await self._hold(link_down)
        except _LinkLostError as lost:
            lost.streamed = self._session_streamed
            raise
        finally:
            await self._close(client, link_down)

    async def _find(self) -> BLEDevice:
        target = self.target.lower()
        by_address = is_ble_address(self.target)

        def matches(device: BLEDevice, adv: AdvertisementData) -> bool:
            if by_address:
                return device.address.lower() == target
            return (adv.local_name or device.name or "").lower() == target

        found: asyncio.Future[tuple[BLEDevice, AdvertisementData]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
            if not found.done() and matches(device, adv):
                found.set_result((device, adv))

        try:
            async with (
                BleakScanner(on_advertisement, **self.backend.scanner_kwargs),
                asyncio.timeout(self.policy.scan_timeout_s),
            ):
                device, adv = await found
        except TimeoutError:
            limit_s = self.policy.scan_timeout_s
            raise _LinkLostError(f"{self.target} not seen within {limit_s:g} s") from None
        except (BleakError, OSError) as error:
            raise _translate(error, f"scanning for {self.target}") from error
        self._ble_device = device
        self._adv_kind = detect_kind(adv.local_name or device.name, adv.service_uuids)
        return device

    async def _start_stream(self, client: BleakClient, device: BLEDevice) -> None:
        gatt = _BleakGatt(client)
        driver = self._driver or self._make_driver(client, device)
        layout = await driver.configure(gatt)
        await self._read_device_info(gatt, device)
        self._spec = StreamSpec(
            driver.tracksys, layout.channels, layout.nominal_fs_hz, self.device_info
        )
        await gatt.subscribe(driver.data_uuid, self._on_notification)
        await driver.start(gatt)
        self._driver = driver
        self._gatt = gatt

    def _make_driver(self, client: BleakClient, device: BLEDevice) -> Driver:
        kind = self.kind or self._adv_kind or _kind_from_services(client)
        if kind is not None and kind not in DRIVERS:
            supported = ", ".join(k.value for k in DRIVERS)
            raise SensorProtocolError(
                f"{self.target} ({device.name or 'no name'}) is a {kind.value} sensor, which "
                "balancelab recognises but cannot stream yet",
                advice=f"Stream one of the kinds balancelab drives ({supported}); "
                "`balancelab scan` marks the sensors it cannot stream yet.",
            )
        if kind is None:
            raise SensorProtocolError(
                f"{self.target} ({device.name or 'no name'}) is not a sensor balancelab reads",
                advice="Pass kind= if you know the sensor's family; `balancelab scan` lists "
                "the sensors balancelab recognises.",
            )
        self.kind = kind
        tracksys = self.tracksys or f"{kind.value}{self.tracked_point}"
        if kind is DeviceKind.DIY and self.samples_per_packet:
            return DiyDriver(
                tracksys,
                self.tracked_point,
                self.rate_hz,
                samples_per_packet=self.samples_per_packet,
            )
        return DRIVERS[kind](tracksys, self.tracked_point, self.rate_hz)

    async def _read_device_info(self, gatt: _BleakGatt, device: BLEDevice) -> None:
        texts: dict[str, str | None] = {}
        for key, uuid in DEVICE_INFO_UUIDS.items():
            texts[key] = await _read_text(gatt, uuid)
        battery = await _read_optional(gatt, BATTERY_LEVEL_UUID)
        battery_pct = float(battery[0]) if battery and len(battery) == 1 else None
        self.device_info = DeviceInfo(
            manufacturer=texts["manufacturer"],
            model=texts["model"] or device.name,
            serial=texts["serial"],
            address=device.address,
            firmware=texts["firmware"],
            battery_pct=battery_pct,
        )

    def _on_notification(self, payload: bytes) -> None:
        driver = self._driver
        if driver is None:
            return
        arrival_s = self.lifecycle.session_time_s()
        self.stats.packets_received += 1
        try:
            batch = driver.decode(payload, arrival_s, self.stats)
        except DecodeError as error:
            self.stats.reject(error.reason)
            log.debug("%s: packet rejected: %s", self.name, error)
            return
        if batch is None or batch.time_s.size == 0:
            return
        self._session_streamed = True
        if self.state is SourceState.RECONNECTING and self._reconnecting_since_s is not None:
            self.reconnect_durations_s.append(arrival_s - self._reconnecting_since_s)
            self._reconnecting_since_s = None
        self.lifecycle.deliver(batch, arrival_s - float(batch.time_s[-1]))

    async def _hold(self, link_down: asyncio.Event) -> None:
        """While streaming: return on stop, raise `_LinkLostError` on a drop or a long stall."""
        period_s = max(min(self.lifecycle.stall_after_s / 4, 0.25), 0.01)
        while not self._stopping():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period_s):
                    await link_down.wait()
            if link_down.is_set():
                raise _LinkLostError(
                    f"the link to {self.target} dropped (out of range, off or battery)"
                )
            silence_s = min(
                self.lifecycle.silence_s(), self.lifecycle.clock() - self._session_start_s
            )
            if silence_s > self.policy.stall_reconnect_after_s:
                raise _LinkLostError(f"no data from {self.target} for {silence_s:.1f} s")

    async def _close(self, client: BleakClient, link_down: asyncio.Event) -> None:
        """Stop the stream (if asked to) and disconnect; nothing here raises."""
        driver = self._driver
        if client.is_connected and not link_down.is_set():
            if self._stopping() and driver is not None and self._gatt is not None:
                with contextlib.suppress(BleakError, OSError, TimeoutError, DecodeError):
                    await driver.stop(self._gatt)
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                async with asyncio.timeout(GATT_TIMEOUT_S):
                    await client.disconnect()


def _kind_from_services(client: BleakClient) -> DeviceKind | None:
    return detect_kind(None, [s.uuid for s in client.services])


async def _read_optional(gatt: _BleakGatt, uuid: str) -> bytes | None:
    if not gatt.has_characteristic(uuid):
        return None
    try:
        return await gatt.read(uuid)
    except (BleakError, TimeoutError) as error:
        log.info("optional characteristic %s not read: %s", uuid, error)
        return None


async def _read_text(gatt: _BleakGatt, uuid: str) -> str | None:
    value = await _read_optional(gatt, uuid)
    return value.decode("utf-8", errors="replace").strip("\0 ") or None if value else None


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
