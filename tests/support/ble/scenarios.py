"""Helpers for BLE tests: run a source for a stretch of (virtual) time, compare with a twin."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from balancelab.devices.common import DeviceKind
from balancelab.sensors.ble import BleSource, ReconnectPolicy
from tests.support.ble.backend import VirtualAir
from tests.support.ble.sink import RecordingSink
from tests.support.ble.twin import Twin


def make_source(air: VirtualAir, target: str, **kwargs: Any) -> BleSource:
    """A `BleSource` on `air`, timed by the running loop's clock."""
    kwargs.setdefault("reconnect", ReconnectPolicy(give_up_after_s=20.0, scan_timeout_s=2.0))
    return BleSource(
        target, clock=asyncio.get_running_loop().time, backend=air.ble_backend(), **kwargs
    )


async def stream_for(
    source: BleSource, seconds: float, *, deadline_s: float = 30.0
) -> RecordingSink:
    """Run `source` for `seconds`, then stop it; everything under one timeout."""
    sink = RecordingSink()
    async with asyncio.timeout(seconds + deadline_s):
        task = asyncio.create_task(source.run(sink))
        await asyncio.sleep(seconds)
        source.stop()
        await task
    return sink


def assert_same_samples(sink: RecordingSink, twin: Twin, *, atol: float = 1e-5) -> None:
    """Every sample the twin put on a live link reached the sink, in order, with its value."""
    got = sink.received()
    sent = twin.sent.rows()
    assert got.shape == sent.shape, (got.shape, sent.shape)
    np.testing.assert_allclose(got, sent, rtol=0, atol=atol)


KIND_OF_TWIN = {
    "DiyTwin": DeviceKind.DIY,
    "PolarTwin": DeviceKind.POLAR,
    "WitMotionTwin": DeviceKind.WITMOTION,
}
