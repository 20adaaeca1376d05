"""Faults injected at the virtual twins: each shows up as the expected states and counts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDeviceNotFoundError,
    BleakError,
)

from balancelab.devices import diy
from balancelab.sensors.base import SourceState
from balancelab.sensors.ble import ReconnectPolicy
from tests.support.ble import VirtualAir
from tests.support.ble.backend import Fault
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.polar_twin import PolarTwin
from tests.support.ble.scenarios import assert_same_samples, make_source, stream_for
from tests.support.ble.sink import RecordingSink
from tests.support.ble.witmotion_twin import WitMotionTwin

pytestmark = [pytest.mark.asyncio, pytest.mark.virtual_time]
S = SourceState


async def later(delay_s: float, action: object) -> None:
    await asyncio.sleep(delay_s)
    if asyncio.iscoroutine(action):
        await action


async def test_link_drop_mid_trial_reconnects_and_marks_the_gap() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    source = make_source(air, "balancelab-board", rate_hz=200)
    dropper = asyncio.create_task(later(2.0, twin.drop_link(away_s=0.5)))
    sink = await stream_for(source, 5.0)
    await dropper
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.RECONNECTING, S.STREAMING, S.STOPPED]
    assert "dropped" in sink.events[2].reason
    assert source.trouble is not None and source.trouble.code == "link_lost"
    assert source.trouble.message == sink.events[2].reason and source.trouble.advice
    assert sink.events[2].trouble == source.trouble
    assert source.stats.reconnects == 1 and twin.connection_count == 2
    assert_same_samples(sink, twin)
    gap_s = source.reconnect_durations_s[0]
    assert 0.5 < gap_s < 2.0
    times, values = sink.rows()
    good_times = times[~np.all(np.isnan(values), axis=1)]
    expected_lost = round(np.diff(good_times).max() * 200) - 1
    assert sink.lost_rows() == source.stats.samples_lost == expected_lost > 0.5 * 200
    assert np.all(np.diff(times) > 0)


async def test_stalled_notifications_report_stalled_then_streaming_and_count_the_loss() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    source = make_source(air, "balancelab-board", rate_hz=200, stall_after_s=0.5)
    staller = asyncio.get_running_loop().call_later(2.0, twin.stall, 1.5)
    sink = await stream_for(source, 5.0)
    staller.cancel()
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.STALLED, S.STREAMING, S.STOPPED]
    assert source.stats.reconnects == 0
    assert_same_samples(sink, twin)
    # samples taken while stalled are lost on the device (OVERRUN); the index gap counts them
    assert source.stats.samples_lost == sink.lost_rows() == pytest.approx(300, abs=5)


async def test_a_long_stall_drops_the_link_and_reconnects() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    policy = ReconnectPolicy(stall_reconnect_after_s=2.0, scan_timeout_s=2.0)
    source = make_source(air, "balancelab-board", stall_after_s=0.5, reconnect=policy)
    asyncio.get_running_loop().call_later(1.0, twin.stall, 3.0)
    sink = await stream_for(source, 7.0)
    states = sink.states()
    assert states[:4] == [S.CONNECTING, S.STREAMING, S.STALLED, S.RECONNECTING]
    assert states[-2:] == [S.STREAMING, S.STOPPED]
    assert "no data" in sink.events[3].reason
    assert_same_samples(sink, twin)


async def test_malformed_and_truncated_packets_are_counted_not_fatal() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    source = make_source(air, "balancelab-board", rate_hz=100)
    good = diy.encode_data(7, 123, np.zeros((5, 6)))

    async def inject() -> None:
        await asyncio.sleep(1.0)
        await twin.inject(twin.data_char, b"\x20" + good[1:])  # profile version 2
        await twin.inject(twin.data_char, good[:-5])  # truncated: header says 5 samples
        await twin.inject(twin.data_char, good[:5])  # shorter than the header
        await twin.inject(twin.data_char, good[:1] + b"\x00" + good[2:8])  # 0 samples
        twin.duplicate_next()

    injector = asyncio.create_task(inject())
    sink = await stream_for(source, 3.0)
    await injector
    assert dict(source.stats.packets_rejected) == {
        "bad_version": 1,
        "bad_length": 1,
        "too_short": 1,
        "impossible_value": 1,
    }
    assert source.stats.duplicates_dropped == 1
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.STOPPED]
    assert_same_samples(sink, twin)
    assert source.stats.samples_lost == 0


async def test_absent_device_is_lost_with_advice_and_run_returns() -> None:
    air = VirtualAir()
    policy = ReconnectPolicy(give_up_after_s=3.0, scan_timeout_s=1.0)
    source = make_source(air, "balancelab-nowhere", reconnect=policy)
    sink = RecordingSink()
    async with asyncio.timeout(30):
        await source.run(sink)
    assert sink.states() == [S.CONNECTING, S.LOST]
    lost = sink.events[-1]
    assert "balancelab-nowhere" in lost.reason and "Switch the sensor on" not in lost.reason
    assert source.trouble is not None and source.trouble.code == "link_lost"
    assert "balancelab-nowhere not seen" in source.trouble.message
    assert source.trouble.advice.startswith("Switch the sensor on")
    assert lost.trouble == source.trouble and lost.reason == source.trouble.message
    assert source.streams() == ()


async def test_sensor_switched_off_mid_session_reconnects_until_it_gives_up() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    policy = ReconnectPolicy(give_up_after_s=4.0, scan_timeout_s=1.0)
    source = make_source(air, "balancelab-board", reconnect=policy)
    sink = RecordingSink()
    async with asyncio.timeout(60):
        task = asyncio.create_task(source.run(sink))
        await asyncio.sleep(1.0)
        await twin.go_absent()
        await task
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.RECONNECTING, S.LOST]
    assert "gave up" in sink.events[-1].reason
    assert_same_samples(sink, twin)


async def test_polar_link_drop_resumes_with_fresh_frame_timing() -> None:
    air = VirtualAir()
    twin = PolarTwin(air, "H10")
    await twin.start()
    source = make_source(air, twin.name, rate_hz=100)
    dropper = asyncio.create_task(later(3.0, twin.drop_link(away_s=0.4)))
    sink = await stream_for(source, 8.0)
    await dropper
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.RECONNECTING, S.STREAMING, S.STOPPED]
    assert_same_samples(sink, twin)
    assert source.stats.samples_lost > 0
    times, _ = sink.rows()
    assert np.all(np.diff(times) > 0)


async def test_witmotion_link_drop_infers_the_gap_from_arrival_times() -> None:
    air = VirtualAir()
    twin = WitMotionTwin(air)
    await twin.start()
    source = make_source(air, twin.name, rate_hz=100)
    dropper = asyncio.create_task(later(3.0, twin.drop_link(away_s=0.5)))
    sink = await stream_for(source, 6.0)
    await dropper
    assert S.RECONNECTING in sink.states() and sink.states()[-1] is S.STOPPED
    assert_same_samples(sink, twin)
    assert source.stats.samples_lost == pytest.approx(
        source.reconnect_durations_s[0] * 100, rel=0.2
    )


async def test_two_sensors_at_once_each_deliver_their_own_samples() -> None:
    air = VirtualAir()
    board = DiyTwin(air, "balancelab-board")
    back = PolarTwin(air, "H10")
    await board.start()
    await back.start()
    board_source = make_source(air, "balancelab-board", rate_hz=200)
    back_source = make_source(air, back.name, tracked_point="lowback", rate_hz=200)
    async with asyncio.timeout(60):
        sinks = await asyncio.gather(stream_for(board_source, 4.0), stream_for(back_source, 4.0))
    assert_same_samples(sinks[0], board)
    assert_same_samples(sinks[1], back)
    assert {b.tracksys for b in sinks[0].batches} == {"diyboard"}
    assert {b.tracksys for b in sinks[1].batches} == {"polarlowback"}


def powered_off(message: str) -> BleakError:
    return BleakBluetoothNotAvailableError(message, BleakBluetoothNotAvailableReason.POWERED_OFF)


ADAPTER_ERRORS = {
    "bleak-error": BleakError,
    "bluetooth-off": powered_off,
    "device-not-found": lambda message: BleakDeviceNotFoundError("F0:00:00:00:00:01", message),
}


def fault_of(air: VirtualAir, where: str) -> Fault:
    return air.scan_faults if where == "scan" else air.client_faults


@pytest.mark.parametrize("error", ADAPTER_ERRORS.values(), ids=ADAPTER_ERRORS.keys())
@pytest.mark.parametrize("where", ["scan", "client"])
async def test_adapter_trouble_while_reconnecting_is_retried_and_the_stream_recovers(
    where: str, error: Callable[[str], BleakError]
) -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    source = make_source(air, "balancelab-board", rate_hz=200)
    fault = fault_of(air, where)

    async def drop_while_the_adapter_resets() -> None:
        await asyncio.sleep(2.0)
        fault.fail(times=3, make=error)
        await twin.drop_link(away_s=0.5)

    dropper = asyncio.create_task(drop_while_the_adapter_resets())
    sink = await stream_for(source, 8.0)
    await dropper
    assert fault.raised == 3
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.RECONNECTING, S.STREAMING, S.STOPPED]
    assert source.stats.reconnects == 1 and twin.connection_count == 2
    assert_same_samples(sink, twin)


@pytest.mark.parametrize("error", ADAPTER_ERRORS.values(), ids=ADAPTER_ERRORS.keys())
@pytest.mark.parametrize("where", ["scan", "client"])
async def test_adapter_failing_on_the_first_connection_is_lost_with_advice(
    where: str, error: Callable[[str], BleakError]
) -> None:
    air = VirtualAir()
    await DiyTwin(air, "balancelab-board").start()
    fault = fault_of(air, where)
    fault.fail(make=error)  # for ever
    source = make_source(air, "balancelab-board")
    sink = RecordingSink()
    async with asyncio.timeout(30):
        await source.run(sink)  # returns: nothing escapes
    assert sink.states() == [S.CONNECTING, S.LOST]
    assert fault.raised == 1  # no retry: the person must act first
    lost = sink.events[-1]
    assert lost.trouble is not None and fault.message in lost.reason and " — " not in lost.reason
    advice = lost.trouble.advice
    if isinstance(error(""), BleakDeviceNotFoundError):
        assert "Switch the sensor on" in advice
    else:
        assert "Check that Bluetooth is switched on" in advice
    trouble = source.trouble
    assert trouble == lost.trouble and trouble.message == lost.reason
    expected_code = {
        BleakDeviceNotFoundError: "sensor_not_found",
        BleakBluetoothNotAvailableError: "bluetooth_unavailable",
        BleakError: "bluetooth_failed",
    }[type(error(""))]
    assert trouble.code == expected_code
    assert source.streams() == ()


async def test_adapter_failing_for_good_while_reconnecting_gives_up_with_its_advice() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    policy = ReconnectPolicy(give_up_after_s=4.0, scan_timeout_s=1.0)
    source = make_source(air, "balancelab-board", reconnect=policy)
    sink = RecordingSink()
    async with asyncio.timeout(60):
        task = asyncio.create_task(source.run(sink))
        await asyncio.sleep(1.0)
        air.scan_faults.fail()
        await twin.drop_link(away_s=0.2)
        await task
    assert sink.states() == [S.CONNECTING, S.STREAMING, S.RECONNECTING, S.LOST]
    lost = sink.events[-1]
    assert "gave up" in lost.reason and air.scan_faults.message in lost.reason
    assert lost.trouble is not None and lost.trouble.code == "bluetooth_failed"
    assert lost.trouble.advice.startswith("Check that Bluetooth is switched on")
    assert source.trouble is not None and source.trouble.code == "bluetooth_failed"
    assert source.trouble.message.startswith("gave up on balancelab-board after 4 s: ")
    assert air.scan_faults.raised > 1
