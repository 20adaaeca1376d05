"""Acceptance: two sensors at 200 Hz for 10 minutes of device time with 20 link drops each.

Runs on virtual time (the twins pace samples by the loop's clock, the source is timed by it),
so ten minutes take seconds. Every sample a twin put on a live link must reach the sink, each
reconnect must be back to streaming within 2 s of simulated time, and the events must tell
the story in order.
"""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from balancelab.sensors.base import SourceState
from balancelab.sensors.ble import ReconnectPolicy
from tests.support.ble import VirtualAir
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.polar_twin import PolarTwin
from tests.support.ble.scenarios import assert_same_samples, make_source, stream_for
from tests.support.ble.sink import RecordingSink
from tests.support.ble.twin import Twin

pytestmark = [pytest.mark.asyncio, pytest.mark.virtual_time]
DURATION_S = 600.0
DROPS = 20
S = SourceState


async def drop_now_and_then(twin: Twin, seed: int) -> list[float]:
    """DROPS link drops at random moments (at least ~19 s apart), each away for 0.1–1.0 s."""
    rng = random.Random(seed)
    spacing_s = (DURATION_S - 20.0) / DROPS
    moments = [10.0 + i * spacing_s + rng.uniform(0.0, spacing_s - 10.0) for i in range(DROPS)]
    loop = asyncio.get_running_loop()
    start = loop.time()
    for moment in moments:
        await asyncio.sleep(start + moment - loop.time())
        await twin.drop_link(away_s=rng.uniform(0.1, 1.0))
    return moments


def check_story(sink: RecordingSink) -> list[float]:
    """The events in order; returns the simulated seconds of each reconnect."""
    states = sink.states()
    assert states == [S.CONNECTING, S.STREAMING, *[S.RECONNECTING, S.STREAMING] * DROPS, S.STOPPED]
    times = [e.time_s for e in sink.events]
    assert times == sorted(times)
    reconnecting = [e for e in sink.events if e.state is S.RECONNECTING]
    assert all("dropped" in e.reason for e in reconnecting)
    return [
        after.time_s - before.time_s
        for before, after in zip(sink.events[2:-1:2], sink.events[3:-1:2], strict=True)
    ]


async def test_two_sensors_ten_minutes_twenty_drops_each_lose_nothing_delivered() -> None:
    air = VirtualAir()
    board = DiyTwin(air, "balancelab-board")
    chest = PolarTwin(air, "H10")
    await board.start()
    await chest.start()
    policy = ReconnectPolicy(initial_delay_s=0.05, scan_timeout_s=2.0)
    board_source = make_source(
        air, "balancelab-board", rate_hz=200, samples_per_packet=10, reconnect=policy
    )
    chest_source = make_source(
        air, chest.name, rate_hz=200, tracked_point="sternum", reconnect=policy
    )
    async with asyncio.timeout(DURATION_S + 60):
        drops = asyncio.gather(drop_now_and_then(board, 1), drop_now_and_then(chest, 2))
        sinks = await asyncio.gather(
            stream_for(board_source, DURATION_S), stream_for(chest_source, DURATION_S)
        )
        await drops
    for sink, twin, source in zip(sinks, (board, chest), (board_source, chest_source), strict=True):
        assert_same_samples(sink, twin)
        reconnect_s = check_story(sink)
        assert max(reconnect_s) < 2.0
        assert source.stats.reconnects == DROPS
        assert source.stats.samples_lost == sink.lost_rows()
        times, _ = sink.rows()
        assert np.all(np.diff(times) > 0)
        sent_s = twin.sent.samples / 200
        assert sent_s > DURATION_S - DROPS * 2.0
        print(
            f"{twin.name}: sent {twin.sent.samples} samples, received "
            f"{source.stats.samples_received}, lost (NaN rows) {source.stats.samples_lost}, "
            f"reconnects {source.stats.reconnects}: median {np.median(reconnect_s):.2f} s, "
            f"max {max(reconnect_s):.2f} s"
        )
