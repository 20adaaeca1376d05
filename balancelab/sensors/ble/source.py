"""`BleSource`: one Bluetooth LE sensor as a `Source`, through `gatt` (the bleak module).

It finds a sensor by address or name, detects its kind from the advertisement, configures it
through the kind's driver (`drivers`), subscribes and decodes every notification in the
callback into the sink. It reports connecting → streaming, stalled when the data stops
(watchdog), reconnecting with exponential back-off after a drop (the session and its
recording go on; the gap becomes NaN rows) and lost(reason) when it gives up. Every device,
adapter or link problem arrives here as a balancelab error and leaves as a retry or a `lost`
event with advice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from balancelab.devices.common import (
    BATTERY_LEVEL_UUID,
    DEVICE_INFO_UUIDS,
    DeviceKind,
    detect_kind,
    is_ble_address,
)
from balancelab.errors import (
    BalancelabError,
    BluetoothError,
    DecodeError,
    InvalidArgumentError,
    LinkLostError,
    SensorNotFoundError,
    SensorProtocolError,
    Trouble,
)
from balancelab.model import (
    TRACKED_POINTS,
    DeviceInfo,
    StreamSpec,
    check_choice,
    check_nonnegative,
    check_positive,
    check_range,
)
from balancelab.sensors.base import Clock, SourceState, monotonic_clock
from balancelab.sensors.ble.drivers import DRIVERS, DiyDriver, Driver
from balancelab.sensors.ble.gatt import Advertisement, BleBackend, Link, find
from balancelab.sensors.watchdog import DEFAULT_STALL_AFTER_S, LiveSource

log = logging.getLogger(__name__)

DEVICE_INFO_READ = ("manufacturer", "model", "serial", "firmware_revision")
"""The Device Information texts kept in `DeviceInfo`."""


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
        check_nonnegative("initial_delay_s", self.initial_delay_s, "s")
        check_range("factor", self.factor, 1.0, math.inf)
        check_nonnegative("max_delay_s", self.max_delay_s, "s")

    def delay_s(self, attempt: int) -> float:
        """Back-off before retry number `attempt` (0 = the first retry)."""
        return float(min(self.max_delay_s, self.initial_delay_s * self.factor**attempt))


class BleSource(LiveSource):
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
        check_choice("tracked_point", tracked_point, TRACKED_POINTS)
        if rate_hz is not None:
            check_positive("rate_hz", rate_hz, "Hz")
        self.target = address_or_name.strip()
        super().__init__(f"ble:{self.target}", clock=clock, stall_after_s=stall_after_s)
        self.kind = kind
        self.tracksys = tracksys
        self.tracked_point = tracked_point
        self.rate_hz = rate_hz
        self.samples_per_packet = samples_per_packet
        self.policy = reconnect or ReconnectPolicy()
        self.backend = backend or BleBackend()
        self.device_info = DeviceInfo()
        self.reconnect_durations_s: list[float] = []
        """Session seconds from each `reconnecting` to the next `streaming`."""
        self._driver: Driver | None = None
        self._spec: StreamSpec | None = None
        self._adv_kind: DeviceKind | None = None
        self._reconnecting_since_s: float | None = None
        self._connection_start_s = 0.0
        self._connection_streamed = False

    def streams(self) -> Sequence[StreamSpec]:
        return () if self._spec is None else (self._spec,)

    def _stopping(self) -> bool:
        return self._stop.requested

    def _connecting_reason(self) -> str:
        return f"looking for {self.target}"

    async def _stream(self) -> str:
        await self._supervise()
        return "stopped"

    def _retryable(self, error: BalancelabError) -> bool:
        """A lost link is retried; the adapter failing (scan refused, Bluetooth restarting)
        or the sensor not answering too, once the sensor has streamed (before that the person
        must act); anything else (a sensor this source cannot use) is not."""
        if isinstance(error, LinkLostError):
            return True
        return isinstance(error, BluetoothError | SensorNotFoundError) and self._spec is not None

    async def _supervise(self) -> None:
        """Connect, and reconnect after each drop until stopped or given up; every device,
        adapter or link problem ends here (as a retry or as `lost` with advice)."""
        attempt = 0
        trouble_since_s = self.lifecycle.clock()
        while not self._stopping():
            try:
                await self._connection()
                return
            except BalancelabError as error:
                if not self._retryable(error):
                    self.lifecycle.report(SourceState.LOST, error.trouble)
                    return
                if self._stopping():
                    return
                if self._connection_streamed:  # a fresh drop: the back-off starts over
                    trouble_since_s, attempt = self.lifecycle.clock(), 0
                if self.lifecycle.clock() - trouble_since_s > self.policy.give_up_after_s:
                    self.lifecycle.report(SourceState.LOST, self._give_up(error))
                    return
                if self._spec is not None:
                    self._enter_reconnecting(error.trouble)
                log.info("%s: %s; retry %d", self.name, error.message, attempt + 1)
                if await self._stop.sleep(self.policy.delay_s(attempt)):
                    return
                attempt += 1

    def _enter_reconnecting(self, trouble: Trouble) -> None:
        if self.state is not SourceState.RECONNECTING:
            self._reconnecting_since_s = self.lifecycle.session_time_s()
        self.lifecycle.report(SourceState.RECONNECTING, trouble)

    def _give_up(self, error: BalancelabError) -> Trouble:
        limit_s = self.policy.give_up_after_s
        message = f"gave up on {self.target} after {limit_s:.0f} s: {error.message}"
        return Trouble(error.code, message, error.advice)

    async def _connection(self) -> None:
        """One connection: find, connect, configure, stream; returns on stop, raises
        `LinkLostError` when the link cannot be made or ends, `BluetoothError` or
        `SensorNotFoundError` when the adapter fails, `SensorProtocolError` for a sensor
        this source cannot use."""
        self._connection_streamed = False
        device = await self._find()
        self._connection_start_s = self.lifecycle.clock()
        link = Link(
            device,
            self.backend,
            connect_timeout_s=self.policy.connect_timeout_s,
            what=self.target,
        )
        try:
            try:
                await link.connect()
                await self._start_stream(link, device)
            except (LinkLostError, DecodeError, TimeoutError) as error:
                raise LinkLostError(
                    f"could not set up {self.target}: {_describe(error)}"
                ) from error
            await self._hold(link)
        finally:
            await self._close(link)

    async def _find(self) -> Advertisement:
        target = self.target.lower()
        by_address = is_ble_address(self.target)

        def matches(seen: Advertisement) -> bool:
            if by_address:
                return seen.address.lower() == target
            return (seen.name or "").lower() == target

        limit_s = self.policy.scan_timeout_s
        device = await find(matches, limit_s, self.backend, f"scanning for {self.target}")
        if device is None:
            raise LinkLostError(f"{self.target} not seen within {limit_s:g} s")
        self._adv_kind = detect_kind(device.name, device.service_uuids)
        return device

    async def _start_stream(self, link: Link, device: Advertisement) -> None:
        driver = self._driver or self._make_driver(link, device)
        spec = await driver.configure(link)
        await self._read_device_info(link, device)
        self._spec = dataclasses.replace(spec, device=self.device_info)
        await link.subscribe(driver.data_uuid, self._on_notification)
        await driver.start(link)
        self._driver = driver

    def _make_driver(self, link: Link, device: Advertisement) -> Driver:
        kind = self.kind or self._adv_kind or detect_kind(None, link.service_uuids())
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

    async def _read_device_info(self, link: Link, device: Advertisement) -> None:
        texts = {key: await _read_text(link, DEVICE_INFO_UUIDS[key]) for key in DEVICE_INFO_READ}
        battery = await _read_optional(link, BATTERY_LEVEL_UUID)
        battery_pct = float(battery[0]) if battery and len(battery) == 1 else None
        self.device_info = DeviceInfo(
            manufacturer=texts["manufacturer"],
            model=texts["model"] or device.name,
            serial=texts["serial"],
            address=device.address,
            firmware=texts["firmware_revision"],
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
        self._connection_streamed = True
        if self.state is SourceState.RECONNECTING and self._reconnecting_since_s is not None:
            self.reconnect_durations_s.append(arrival_s - self._reconnecting_since_s)
            self._reconnecting_since_s = None
        self.lifecycle.deliver(batch, arrival_s - float(batch.time_s[-1]))

    async def _hold(self, link: Link) -> None:
        """While streaming: return on stop, raise `LinkLostError` on a drop or a long stall."""
        period_s = max(min(self.lifecycle.stall_after_s / 4, 0.25), 0.01)
        while not self._stopping():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period_s):
                    await link.dropped.wait()
            if link.dropped.is_set():
                raise LinkLostError(
                    f"the link to {self.target} dropped (out of range, off or battery)"
                )
            silence_s = min(
                self.lifecycle.silence_s(), self.lifecycle.clock() - self._connection_start_s
            )
            if silence_s > self.policy.stall_reconnect_after_s:
                raise LinkLostError(f"no data from {self.target} for {silence_s:.1f} s")

    async def _close(self, link: Link) -> None:
        """Stop the stream (if asked to) and disconnect; nothing here raises."""
        driver = self._driver
        if link.is_connected and self._stopping() and driver is not None:
            with contextlib.suppress(LinkLostError, TimeoutError, DecodeError):
                await driver.stop(link)
        await link.disconnect()


async def _read_optional(link: Link, uuid: str) -> bytes | None:
    if not link.has_characteristic(uuid):
        return None
    try:
        return await link.read(uuid)
    except LinkLostError as error:
        log.info("optional characteristic %s not read: %s", uuid, error)
        return None


async def _read_text(link: Link, uuid: str) -> str | None:
    value = await _read_optional(link, uuid)
    return value.decode("utf-8", errors="replace").strip("\0 ") or None if value else None


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, LinkLostError):
        return error.message
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
