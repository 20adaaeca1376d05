"""What the BLE source does per device family, over a small GATT port (no bleak here).

A `Driver` configures one kind of sensor on each connection (through `GattPort`, which
`balancelab.sensors.ble.gatt.Link` implements on a bleak client), starts and stops its stream,
and turns each notification into a `SampleBatch` on the session clock with the pure decoders
of `balancelab.devices`: device clock → session clock through a `ClockMapper`, duplicates and
out-of-order packets dropped, lost samples (from sequence numbers or timestamps, also across a
reconnect) delivered as NaN rows. A malformed packet raises `DecodeError`; the source counts it.

`DiyDriver.use_config` and `PolarDriver.use_streams` set a driver up as a connection would
have, without one: for decoding recorded notifications and for the benchmarks.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

from balancelab.devices import diy, polar, polar_control, witmotion
from balancelab.devices.common import Decoded, DeviceKind
from balancelab.devices.polar_control import MeasurementType
from balancelab.devices.stream_state import MAX_FILL_S, AccGyroMerger, Timeline, gap_rows
from balancelab.devices.timing import ClockMapper, HostTimestamper, SequenceTracker, Unwrapper
from balancelab.errors import DecodeError, InvalidArgumentError, SensorProtocolError
from balancelab.model import Channel, ChannelType, FloatArray, StreamSpec, imu_channels
from balancelab.sensors.base import SampleBatch, SourceStats


class GattPort(Protocol):
    """The GATT operations a driver needs, addressed by full 128-bit UUID text."""

    def has_characteristic(self, uuid: str) -> bool: ...

    async def read(self, uuid: str) -> bytes: ...

    async def write(self, uuid: str, data: bytes, *, response: bool) -> None: ...

    async def subscribe(self, uuid: str, callback: Callable[[bytes], None]) -> None: ...


class Driver(abc.ABC):
    """One device family: set-up per connection, start/stop, notification → batch."""

    kind: DeviceKind
    data_uuid: str

    def __init__(self, tracksys: str, tracked_point: str, rate_hz: float | None) -> None:
        self.tracksys = tracksys
        self.tracked_point = tracked_point
        self.rate_hz = rate_hz
        self.mapper = ClockMapper()
        self.timeline = Timeline()

    @abc.abstractmethod
    async def configure(self, gatt: GattPort) -> StreamSpec:
        """Set the sensor up on a fresh connection (before the data subscription); the stream
        it will send (channels in SI, nominal rate; no device metadata)."""

    async def start(self, gatt: GattPort) -> None:  # noqa: B027 (optional hook)
        """Start streaming once the data notifications are on (default: nothing to do)."""

    async def stop(self, gatt: GattPort) -> None:  # noqa: B027 (optional hook)
        """Stop streaming before a planned disconnect (default: nothing to do)."""

    @abc.abstractmethod
    def decode(self, payload: bytes, arrival_s: float, stats: SourceStats) -> SampleBatch | None:
        """A notification that arrived at session time `arrival_s` → samples (None if the
        packet was a duplicate or out of order; counted in `stats`). Raises `DecodeError`."""

    def _spec(self, channels: tuple[Channel, ...], fs_hz: float) -> StreamSpec:
        if self.timeline.n_channels not in (0, len(channels)):
            raise SensorProtocolError(
                f"{self.tracksys}: the sensor now streams {len(channels)} channels, "
                f"it streamed {self.timeline.n_channels} before"
            )
        self.timeline.n_channels = len(channels)
        return StreamSpec(self.tracksys, channels, fs_hz)

    def _batch(self, time_s: FloatArray, values: FloatArray, nan_rows: int) -> SampleBatch:
        """A batch of samples at session times `time_s` after `nan_rows` lost ones."""
        return SampleBatch(self.tracksys, *self.timeline.rows(time_s, values, nan_rows))

    def _mapped(self, decoded: Decoded, arrival_s: float) -> FloatArray:
        assert decoded.device_time_s is not None
        self.mapper.observe(float(decoded.device_time_s[-1]), arrival_s)
        return np.asarray(self.mapper.to_host(decoded.device_time_s), dtype=np.float64)


class DiyDriver(Driver):
    """The balancelab DIY profile: write Config, read back the exact scale factors, stream
    while subscribed. Loss from the u16 sample index; across a restart from the µs clock."""

    kind = DeviceKind.DIY
    data_uuid = diy.DATA_UUID

    def __init__(
        self,
        tracksys: str,
        tracked_point: str,
        rate_hz: float | None,
        *,
        samples_per_packet: int = 5,
        acc_range_g: int = 8,
        gyro_range_dps: int = 2000,
    ) -> None:
        super().__init__(tracksys, tracked_point, rate_hz)
        self.wanted = diy.DiyConfig(
            odr_dhz=round((rate_hz or 104.0) * 10),
            acc_range_g=acc_range_g,
            samples_per_packet=samples_per_packet,
            gyro_range_dps=gyro_range_dps,
        )
        self.config: diy.DiyConfig | None = None
        self.tracker = SequenceTracker(diy.INDEX_BITS)
        self.clock_us = Unwrapper(diy.CLOCK_BITS)
        self._new_stream = True
        self._last_device_s: float | None = None

    async def configure(self, gatt: GattPort) -> StreamSpec:
        if not gatt.has_characteristic(diy.CONFIG_UUID):
            raise SensorProtocolError(f"{self.tracksys}: no DIY Config characteristic")
        await gatt.write(diy.CONFIG_UUID, diy.encode_config(self.wanted), response=True)
        try:
            config = diy.decode_config(await gatt.read(diy.CONFIG_UUID))
        except DecodeError as error:
            raise SensorProtocolError(f"{self.tracksys}: unusable Config: {error}") from error
        return self.use_config(config)

    def use_config(self, config: diy.DiyConfig) -> StreamSpec:
        """Decode from now on as for a sensor running `config` (what `configure` reads back
        from the sensor); a new stream starts. Also how to decode without a connection."""
        self.config = config
        self.tracker.reset()
        self._new_stream = True
        gyro = config.gyro_enabled
        return self._spec(imu_channels(self.tracked_point, gyro=gyro), config.odr_hz)

    def decode(self, payload: bytes, arrival_s: float, stats: SourceStats) -> SampleBatch | None:
        config = self.config
        packet = diy.decode_data(payload)
        if config is None or packet.has_gyro != config.gyro_enabled:
            raise DecodeError("impossible_value", "DIY packet does not match the Config read")
        if packet.flags & diy.DiyFlag.RESTART:
            self.tracker.reset()
            self._new_stream = True
        verdict = self.tracker.check(packet.first_index, packet.n_samples)
        if not verdict.accepted:
            _count_dropped(stats, verdict.reason)
            return None
        t_first_s = self.clock_us(packet.t_first_us) * 1e-6
        decoded = diy.to_si(packet, config, t_first_s=t_first_s)
        nan_rows = verdict.nan_rows
        if self._new_stream and self._last_device_s is not None:
            nan_rows = gap_rows(t_first_s - self._last_device_s, config.odr_hz)
        self._new_stream = False
        assert decoded.device_time_s is not None
        self._last_device_s = float(decoded.device_time_s[-1])
        return self._batch(self._mapped(decoded, arrival_s), decoded.values, nan_rows)


def _count_dropped(stats: SourceStats, reason: str) -> None:
    if reason == "duplicate":
        stats.duplicates_dropped += 1
    else:
        stats.reject(reason or "out_of_order")


def orientation_channels(tracked_point: str) -> tuple[Channel, ...]:
    """Roll/pitch/yaw channels (rad) of a sensor that sends its own angles."""
    return tuple(Channel.make(tracked_point, ChannelType.ORNT, axis) for axis in "xyz")


PMD_RESPONSE_TIMEOUT_S = 5.0
POLAR_ACC_RANGE_G = 8
POLAR_GYRO_RANGE_DPS = 2000


class PolarDriver(Driver):
    """Polar H10 (ACC) and Verity Sense (ACC + GYRO, merged into one stream) over PMD: ask the
    offered settings, start at the offered rate nearest to `rate_hz`, stop before leaving.
    Loss from frame timestamps (ns of the last sample); a gap re-spaces the frame at 1/fs."""

    kind = DeviceKind.POLAR
    data_uuid = polar.DATA_UUID

    def __init__(self, tracksys: str, tracked_point: str, rate_hz: float | None) -> None:
        super().__init__(tracksys, tracked_point, rate_hz)
        self.measurements: tuple[MeasurementType, ...] = ()
        self.rates_hz: dict[MeasurementType, int] = {}
        self.factors: dict[MeasurementType, float] = {}
        self.streams: dict[MeasurementType, polar.PmdStream] = {}
        self.last_ns: dict[MeasurementType, int] = {}
        """Device time (ns) of the last sample delivered, per measurement, across connections."""
        self.merger: AccGyroMerger | None = None
        self._responses: asyncio.Queue[bytes] = asyncio.Queue()

    async def configure(self, gatt: GattPort) -> StreamSpec:
        if not gatt.has_characteristic(polar_control.CONTROL_POINT_UUID):
            raise SensorProtocolError(f"{self.tracksys}: no PMD control point")
        self._responses = asyncio.Queue()
        await gatt.subscribe(polar_control.CONTROL_POINT_UUID, self._responses.put_nowait)
        try:
            features = polar_control.parse_features(
                await gatt.read(polar_control.CONTROL_POINT_UUID)
            )
        except DecodeError as error:
            raise SensorProtocolError(f"{self.tracksys}: PMD features: {error}") from error
        wanted = (MeasurementType.ACC, MeasurementType.GYRO)
        self.measurements = tuple(m for m in wanted if m in features)
        if MeasurementType.ACC not in self.measurements:
            raise SensorProtocolError(f"{self.tracksys}: this Polar sensor offers no ACC")
        for measurement in self.measurements:
            offered = await self._command(gatt, polar_control.get_settings_command(measurement))
            rates = offered.settings.sample_rate_hz if offered.settings else ()
            target = self.rate_hz or 200.0
            self.rates_hz[measurement] = min(rates or (52,), key=lambda r: abs(r - target))
        return self._merged_spec()

    def _merged_spec(self) -> StreamSpec:
        """ACC alone, or ACC and GYRO merged into rows of 6 channels at the ACC rate."""
        gyro = MeasurementType.GYRO in self.measurements
        fs_hz = self.rates_hz[MeasurementType.ACC]
        self.merger = AccGyroMerger(self.measurements, fs_hz) if gyro else None
        return self._spec(imu_channels(self.tracked_point, gyro=gyro), fs_hz)

    def use_streams(
        self,
        rates_hz: Mapping[MeasurementType, int],
        factors: Mapping[MeasurementType, float] | None = None,
    ) -> StreamSpec:
        """Decode from now on the PMD streams of `rates_hz` (ACC, and GYRO if given, merged
        with it) with their conversion `factors` (default 1.0), as `configure` and `start` set
        them up on a connection. Also how to decode frames without a connection."""
        wanted = (MeasurementType.ACC, MeasurementType.GYRO)
        if MeasurementType.ACC not in rates_hz or set(rates_hz) - set(wanted):
            raise InvalidArgumentError(
                f"rates_hz must give ACC (and optionally GYRO), got {sorted(rates_hz)}"
            )
        self.measurements = tuple(m for m in wanted if m in rates_hz)
        self.rates_hz = dict(rates_hz)
        spec = self._merged_spec()
        for measurement in self.measurements:
            self._open_stream(measurement, (factors or {}).get(measurement, 1.0))
        return spec

    def _open_stream(self, measurement: MeasurementType, factor: float) -> None:
        self.factors[measurement] = factor
        self.streams[measurement] = polar.PmdStream(
            measurement, sample_rate_hz=self.rates_hz[measurement], factor=factor
        )

    async def _command(self, gatt: GattPort, command: bytes) -> polar_control.ControlResponse:
        await gatt.write(polar_control.CONTROL_POINT_UUID, command, response=True)
        async with asyncio.timeout(PMD_RESPONSE_TIMEOUT_S):
            while True:
                try:
                    response = polar_control.parse_control_response(await self._responses.get())
                except DecodeError:
                    continue
                if response.op == command[0] and response.measurement == command[1]:
                    break
        if not response.ok and response.status != 6:  # 6: already in that state
            raise SensorProtocolError(
                f"{self.tracksys}: PMD command {command.hex()} refused: {response.status_text}"
            )
        return response

    async def start(self, gatt: GattPort) -> None:
        for measurement in self.measurements:
            ranges = POLAR_ACC_RANGE_G if measurement is MeasurementType.ACC else None
            command = polar_control.start_command(
                measurement,
                sample_rate_hz=self.rates_hz[measurement],
                resolution_bits=16,
                range_=ranges or POLAR_GYRO_RANGE_DPS,
            )
            response = await self._command(gatt, command)
            factors = response.settings.factor if response.settings else ()
            factor = factors[0] if factors else self.factors.get(measurement, 1.0)
            self._open_stream(measurement, factor)

    async def stop(self, gatt: GattPort) -> None:
        for measurement in self.measurements:
            await gatt.write(
                polar_control.CONTROL_POINT_UUID,
                polar_control.stop_command(measurement),
                response=True,
            )

    def decode(self, payload: bytes, arrival_s: float, stats: SourceStats) -> SampleBatch | None:
        frame = polar.split_frame(payload)
        stream = (
            self.streams.get(MeasurementType(frame.measurement))
            if frame.measurement
            in (
                MeasurementType.ACC,
                MeasurementType.GYRO,
            )
            else None
        )
        if stream is None:
            raise DecodeError("unknown_frame", f"PMD frame of measurement {frame.measurement}")
        last_ns = self.last_ns.get(stream.measurement, 0)
        if last_ns and frame.timestamp_ns <= last_ns:
            _count_dropped(stats, "duplicate" if frame.timestamp_ns == last_ns else "")
            return None
        samples = self._decode_frame(stream, payload, frame)
        decoded = polar.to_si(samples)
        first_ns = samples.timestamps_ns[0]
        lost = (
            gap_rows((first_ns - last_ns) / polar.NS_PER_S, stream.sample_rate_hz) if last_ns else 0
        )
        self.last_ns[stream.measurement] = frame.timestamp_ns
        device_s = decoded.device_time_s
        assert device_s is not None
        values = decoded.acc_ms2 if decoded.acc_ms2 is not None else decoded.gyr_rads
        assert values is not None
        self.mapper.observe(float(device_s[-1]), arrival_s)
        if self.merger is None:
            times = np.asarray(self.mapper.to_host(device_s), dtype=np.float64)
            return self._batch(times, values, lost)
        device_s, values = self.merger.add(stream.measurement, device_s, values, lost)
        if device_s.size == 0:
            return None
        times = np.asarray(self.mapper.to_host(device_s), dtype=np.float64)
        return self._batch(times, values, 0)

    @staticmethod
    def _decode_frame(
        stream: polar.PmdStream, payload: bytes, frame: polar.PmdFrame
    ) -> polar.PmdSamples:
        """Decode by the SDK rule, but space a frame after a gap at 1/fs back from its time."""
        previous_ns = stream.previous_timestamp_ns
        span_s = (frame.timestamp_ns - previous_ns) / polar.NS_PER_S
        if previous_ns and span_s > MAX_FILL_S:
            stream.previous_timestamp_ns = 0
        samples = stream.decode(payload)
        n = samples.n_samples
        if previous_ns and round(span_s * stream.sample_rate_hz) > n:  # a gap: space at 1/fs
            stream.previous_timestamp_ns = 0
            samples = stream.decode(payload)
        return samples


class WitMotionDriver(Driver):
    """WitMotion WT901BLE family: unlock, set the output rate, save; `55 61` frames carry no
    time or counter, so samples are timed from arrival (`HostTimestamper`) and loss is
    inferred from late arrivals. Streams acc, gyro and the device's own angles."""

    kind = DeviceKind.WITMOTION
    data_uuid = witmotion.NOTIFY_UUID

    def __init__(self, tracksys: str, tracked_point: str, rate_hz: float | None) -> None:
        super().__init__(tracksys, tracked_point, rate_hz)
        self.fs_hz = rate_hz or 100.0
        self.commands = witmotion.configure_rate_commands(self.fs_hz)
        self.timestamper = HostTimestamper(self.fs_hz)

    async def configure(self, gatt: GattPort) -> StreamSpec:
        if not gatt.has_characteristic(witmotion.WRITE_UUID):
            raise SensorProtocolError(f"{self.tracksys}: no WitMotion command characteristic")
        for command in self.commands:
            await gatt.write(witmotion.WRITE_UUID, command, response=False)
        channels = imu_channels(self.tracked_point) + orientation_channels(self.tracked_point)
        return self._spec(channels, self.fs_hz)

    def decode(self, payload: bytes, arrival_s: float, stats: SourceStats) -> SampleBatch | None:
        notification = witmotion.decode_notification(payload)
        if notification.n_samples == 0:
            return None
        stamped = self.timestamper.stamp(notification.n_samples, arrival_s)
        nan_rows = stamped.lost if stamped.lost <= MAX_FILL_S * self.fs_hz else 0
        return self._batch(stamped.time_s, witmotion.to_si(notification).values, nan_rows)


DRIVERS: dict[DeviceKind, type[Driver]] = {
    DeviceKind.DIY: DiyDriver,
    DeviceKind.POLAR: PolarDriver,
    DeviceKind.WITMOTION: WitMotionDriver,
}
