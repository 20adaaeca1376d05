"""BLE: decode throughput per device kind, notification-to-sink latency, CPU per 1,000 samples.

Decode runs the drivers of `balancelab.sensors.ble.drivers` on pre-built notifications (no
BLE). Latency and CPU go through the whole virtual link of tests/support/ble: a twin's GATT
server, bumble's HCI/L2CAP/ATT stack, bleak's client API and the source's callback. The link
has no air-time model, so latency is the host's processing delay, not a radio's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from balancelab.devices import diy
from balancelab.devices.polar_control import MeasurementType
from balancelab.model import STANDARD_GRAVITY_MS2
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceStats
from balancelab.sensors.ble import BleSource
from balancelab.sensors.ble.drivers import DiyDriver, Driver, PolarDriver, WitMotionDriver
from benchmarks.common import Figure, best_of, report
from tests.support.ble import VirtualAir, VirtualTimeLoop
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.polar_twin import encode_delta, frame

PACKETS = 2000


def _diy() -> tuple[Driver, list[bytes], int]:
    driver = DiyDriver("diyboard", "board", 200.0)
    driver.use_config(diy.DiyConfig(2000, 8, 5, 2000, 0.244e-3, 70e-3))
    raw = np.arange(30).reshape(5, 6)
    packets = [diy.encode_data(5 * i, 5000 * i * 5, raw) for i in range(PACKETS)]
    return driver, packets, 5


def _polar(verity: bool) -> tuple[Driver, list[bytes], int]:
    driver = PolarDriver("polarchest", "sternum", 200.0)
    measurements = (MeasurementType.ACC, MeasurementType.GYRO) if verity else (MeasurementType.ACC,)
    n = 24 if verity else 36
    fs = 52 if verity else 200
    driver.use_streams(dict.fromkeys(measurements, fs))
    counts = np.cumsum(np.ones((n, 3), dtype=np.int64), axis=0)
    packets = []
    for i in range(PACKETS):
        t_ns = 10**12 + round((i + 1) * n / fs * 1e9)
        if verity:
            packets += [frame(m, t_ns, 0x80 | (m == 2), encode_delta(counts)) for m in measurements]
        else:
            packets.append(frame(2, t_ns, 0x01, counts.astype("<i2").tobytes()))
    return driver, packets, n // len(measurements)


def _witmotion() -> tuple[Driver, list[bytes], int]:
    driver = WitMotionDriver("witboard", "board", 200.0)
    one = b"\x55\x61" + bytes(range(18))
    return driver, [one * 4] * PACKETS, 4


def decode_throughput(make: Callable[[], tuple[Driver, list[bytes], int]]) -> float:
    """Samples per second through `Driver.decode` (fresh driver each repeat)."""

    def run() -> int:
        driver, packets, per_packet = make()
        stats = SourceStats()
        for i, packet in enumerate(packets):
            driver.decode(packet, i * per_packet / 200.0, stats)
        return len(packets) * per_packet

    seconds, samples = best_of(3, run)
    return samples / seconds


class _TimedSink:
    def __init__(self) -> None:
        self.arrivals: list[tuple[np.ndarray, float]] = []  # (rows, wall time)
        self.samples = 0

    def on_samples(self, batch: SampleBatch) -> None:
        self.arrivals.append((batch.values, time.perf_counter()))
        self.samples += batch.time_s.size

    def on_event(self, event: SourceEvent) -> None:
        pass


class _TimedTwin(DiyTwin):
    """A DIY twin that notes each packet's first sample and when it went out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sends: list[tuple[np.ndarray, float]] = []  # (first row, SI; wall time)

    async def notify(
        self,
        characteristic: Any,
        payload: bytes,
        si: np.ndarray[Any, Any],
        quantized: np.ndarray[Any, Any],
    ) -> bool:
        self.sends.append((quantized[0].copy(), time.perf_counter()))
        return await super().notify(characteristic, payload, si, quantized)

    def lsb(self) -> np.ndarray:
        """The SI value of one count per channel (acc x, y, z, gyro x, y, z), as it encodes."""
        acc = self.config.acc_lsb_g * STANDARD_GRAVITY_MS2
        return np.array([acc] * 3 + [np.radians(self.config.gyro_lsb_dps)] * 3)


def _pair_by_content(twin: _TimedTwin, sink: _TimedSink) -> np.ndarray:
    """Delays (s) from each packet's send to the arrival of its first sample, matched on the
    sample's counts (the decoder's float rounding differs; the counts do not)."""

    def key(row: np.ndarray) -> bytes:
        return bytes(np.round(row / twin.lsb()).astype(np.int64).tobytes())

    arrived: dict[bytes, float] = {}
    for rows, wall in sink.arrivals:
        for row in rows[np.all(np.isfinite(rows), axis=1)]:
            arrived.setdefault(key(row), wall)
    sent = [(key(row), wall) for row, wall in twin.sends]
    return np.array([arrived[k] - wall for k, wall in sent if k in arrived])


async def _stream(seconds: float) -> tuple[_TimedTwin, _TimedSink]:
    air = VirtualAir()
    twin = _TimedTwin(air, "balancelab-bench")
    await twin.start()
    loop = asyncio.get_running_loop()
    source = BleSource("balancelab-bench", rate_hz=200, clock=loop.time, backend=air.ble_backend())
    sink = _TimedSink()
    task = asyncio.create_task(source.run(sink))
    await asyncio.sleep(seconds)
    source.stop()
    await asyncio.wait_for(task, 10)
    return twin, sink


def notification_latency_s(seconds: float = 5.0) -> tuple[np.ndarray, int]:
    """Wall times (s) from a twin's notify to the sink (real-time loop, 200 Hz), each packet
    paired with its own arrival by content (a lost packet shifts nothing), and the packets sent."""
    twin, sink = asyncio.run(_stream(seconds))
    return _pair_by_content(twin, sink), len(twin.sends)


def cpu_per_1000_samples(seconds: float = 60.0) -> float:
    """CPU seconds per 1,000 samples for the whole virtual link, run on virtual time."""
    start = time.process_time()
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        _, sink = runner.run(_stream(seconds))
    return (time.process_time() - start) / sink.samples * 1000


def main() -> None:
    figures = [
        Figure("decode DIY (5 samples/packet)", decode_throughput(_diy), "samples/s"),
        Figure(
            "decode Polar H10 ACC (36/frame)", decode_throughput(lambda: _polar(False)), "samples/s"
        ),
        Figure(
            "decode Polar Verity ACC+GYRO (compressed)",
            decode_throughput(lambda: _polar(True)),
            "samples/s",
            "merged 6-channel rows",
        ),
        Figure("decode WitMotion (4 frames/packet)", decode_throughput(_witmotion), "samples/s"),
    ]
    delays, sent = notification_latency_s()
    paired = f"{delays.size} of {sent} packets paired by content"
    for label, q in (("median", 50), ("p95", 95), ("p99", 99)):
        figures.append(
            Figure(f"notify -> sink latency, {label}", float(np.percentile(delays, q)) * 1e3, "ms",
                   paired if q == 50 else "no air-time model")
        )  # fmt: skip
    figures.append(
        Figure(
            "CPU per 1,000 samples",
            cpu_per_1000_samples() * 1e3,
            "ms",
            "twin + bumble + bleak + source",
        )
    )
    report("BLE decode and virtual link", figures)


if __name__ == "__main__":
    main()
