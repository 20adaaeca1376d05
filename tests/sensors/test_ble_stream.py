"""Each virtual twin streams through the real bleak API; the source delivers what it sent."""

from __future__ import annotations

import numpy as np
import pytest

from balancelab.devices.common import DeviceKind
from balancelab.sensors.base import SourceState
from balancelab.sensors.ble import scan
from tests.support.ble import VirtualAir
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.polar_twin import PolarTwin
from tests.support.ble.scenarios import assert_same_samples, make_source, stream_for
from tests.support.ble.witmotion_twin import WitMotionTwin

pytestmark = [pytest.mark.asyncio, pytest.mark.virtual_time]


async def test_diy_streams_exact_samples_with_its_scale_factors() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    source = make_source(air, "balancelab-board", rate_hz=200)
    sink = await stream_for(source, 5.0)
    assert twin.config.odr_dhz == 2000 and twin.config_writes == 1
    assert twin.sent.samples > 900
    assert_same_samples(sink, twin)
    assert sink.states() == [SourceState.CONNECTING, SourceState.STREAMING, SourceState.STOPPED]
    (spec,) = source.streams()
    assert spec.tracksys == "diyboard" and spec.nominal_fs_hz == 200.0
    assert [c.name for c in spec.channels][:3] == ["board_acc_x", "board_acc_y", "board_acc_z"]
    assert spec.device.model == "DIY IMU v1" and spec.device.battery_pct == 87
    assert source.stats.samples_lost == 0 and not source.stats.packets_rejected
    times, _ = sink.rows()
    assert np.all(np.diff(times) > 0)
    assert np.median(np.diff(times)) == pytest.approx(1 / 200, rel=1e-3)


async def test_polar_h10_starts_acc_at_200hz_and_stops_before_leaving() -> None:
    air = VirtualAir()
    twin = PolarTwin(air, "H10")
    await twin.start()
    source = make_source(air, twin.name, tracked_point="sternum", rate_hz=200)
    sink = await stream_for(source, 5.0)
    assert source.kind is DeviceKind.POLAR
    assert twin.commands[-1] == bytes([3, 2])  # stop ACC was the last command
    assert_same_samples(sink, twin)
    (spec,) = source.streams()
    assert spec.nominal_fs_hz == 200 and len(spec.channels) == 3


async def test_polar_verity_merges_compressed_acc_and_gyro_frames() -> None:
    air = VirtualAir()
    twin = PolarTwin(air, "Sense", serial="B5C6D7E8")
    await twin.start()
    source = make_source(air, twin.name, tracked_point="lowback")
    sink = await stream_for(source, 6.0)
    (spec,) = source.streams()
    assert spec.nominal_fs_hz == 52 and len(spec.channels) == 6
    assert_same_samples(sink, twin)


async def test_witmotion_rate_command_and_host_timed_frames() -> None:
    air = VirtualAir()
    twin = WitMotionTwin(air)
    await twin.start()
    source = make_source(air, twin.name, rate_hz=200)
    sink = await stream_for(source, 5.0)
    assert twin.commands[:3] == [
        bytes.fromhex("ffaa6988b5"),
        bytes.fromhex("ffaa030b00"),
        bytes.fromhex("ffaa000000"),
    ]
    assert twin.output_rate_hz == 200 and twin.saved == 1
    assert_same_samples(sink, twin)
    (spec,) = source.streams()
    assert len(spec.channels) == 9 and spec.channels[-1].name == "board_ori_z"
    times, _ = sink.rows()
    assert np.all(np.diff(times) > 0) and source.stats.samples_lost == 0


async def test_a_name_shaped_like_a_uuid_is_found_by_name() -> None:
    name = "balancelab-leftfoot-board-2024-00001"  # 36 characters, four dashes
    air = VirtualAir()
    twin = DiyTwin(air, name)
    await twin.start()
    sink = await stream_for(make_source(air, name, rate_hz=100), 2.0)
    assert sink.states() == [SourceState.CONNECTING, SourceState.STREAMING, SourceState.STOPPED]
    assert_same_samples(sink, twin)


async def test_an_address_from_scan_is_matched_as_an_address_in_any_case() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    (found,) = await scan(0.5, backend=air.ble_backend())
    sink = await stream_for(make_source(air, found.address.lower(), rate_hz=100), 2.0)
    assert sink.states() == [SourceState.CONNECTING, SourceState.STREAMING, SourceState.STOPPED]
    assert_same_samples(sink, twin)
