"""BLE: decode throughput per device kind, notification-to-sink latency, CPU per 1,000 samples.

Decode runs the drivers of `balancelab.sensors.ble_drivers` on pre-built notifications (no
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
from balancelab.sensors.base import SampleBatch, SourceEvent, SourceStats
from balancelab.sensors.ble import BleSource
from balancelab.sensors.ble_drivers import DiyDriver, Driver, PolarDriver, WitMotionDriver
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
        self.arrivals: list[float] = []
        self.samples = 0

    def on_samples(self, batch: SampleBatch) -> None:
        self.arrivals.append(time.perf_counter())
        self.samples += batch.time_s.size

    def on_event(self, event: SourceEvent) -> None:
        pass


class _TimedTwin(DiyTwin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sends: list[float] = []

    async def send_packet(self, device_first_s: float) -> None:
        self.sends.append(time.perf_counter())
        await super().send_packet(device_first_s)


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


def notification_latency_s(seconds: float = 5.0) -> tuple[float, float]:
    """Median and p99 wall time from a twin's notify to the sink (real-time loop, 200 Hz)."""
    twin, sink = asyncio.run(_stream(seconds))
    sends = np.array(twin.sends[-len(sink.arrivals) :])
    delays = np.array(sink.arrivals) - sends[: len(sink.arrivals)]
    return float(np.median(delays)), float(np.percentile(delays, 99))


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
    median_s, p99_s = notification_latency_s()
    figures += [
        Figure("notify -> sink latency, median", median_s * 1e3, "ms", "DIY 200 Hz, 5/packet"),
        Figure("notify -> sink latency, p99", p99_s * 1e3, "ms", "no air-time model"),
        Figure(
            "CPU per 1,000 samples",
            cpu_per_1000_samples() * 1e3,
            "ms",
            "twin + bumble + bleak + source",
        ),
    ]
    report("BLE decode and virtual link", figures)


if __name__ == "__main__":
    main()
