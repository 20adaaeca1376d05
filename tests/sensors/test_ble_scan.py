"""Discovery through the real bleak API on the virtual air: kinds, signal, battery; and the
bumble backend's contract with bleak (errors a real backend raises)."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakGATTProtocolError
from bumble import data_types
from bumble.gatt import Characteristic, Service

from balancelab.devices import common, diy
from balancelab.devices.common import DeviceKind
from balancelab.sensors.base import SourceState
from balancelab.sensors.ble import scan
from tests.support.ble import BumbleClient, BumbleScanner, VirtualAir
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.movesense_twin import MovesenseTwin
from tests.support.ble.polar_twin import PolarTwin
from tests.support.ble.scenarios import make_source
from tests.support.ble.sink import RecordingSink
from tests.support.ble.twin import READABLE, P, Twin
from tests.support.ble.witmotion_twin import WitMotionTwin

pytestmark = [pytest.mark.asyncio, pytest.mark.virtual_time]


class StrangerTwin(Twin):
    """Something else advertising nearby (a lamp): a Battery service and nothing we read."""

    rate_hz = 1.0
    samples_per_packet = 1

    def services(self) -> list[Service]:
        level = Characteristic(common.BATTERY_LEVEL_UUID, P.READ, READABLE, bytes([50]))
        return [Service(common.BATTERY_SERVICE_UUID, [level])]

    def advertising_data(self) -> list[object]:
        return [self.flags(), data_types.CompleteLocalName(self.name)]

    async def send_packet(self, device_first_s: float) -> None:
        return None


async def start_all(*twins: Twin) -> None:
    for twin in twins:
        await twin.start()


async def test_scan_finds_each_kind_with_signal_and_battery() -> None:
    air = VirtualAir()
    await start_all(
        DiyTwin(air, "balancelab-board", rssi_dbm=-48, battery_pct=91),
        PolarTwin(air, "H10", rssi_dbm=-70, battery_pct=64),
        PolarTwin(air, "Sense", serial="B5C6D7E8", rssi_dbm=-75),
        WitMotionTwin(air, rssi_dbm=-55),
        StrangerTwin(air, "Kitchen lamp", rssi_dbm=-40),
    )
    async with asyncio.timeout(10):
        found = await scan(1.0, backend=air.ble_backend())
    assert [(f.name, f.kind, f.rssi_dbm) for f in found] == [
        ("balancelab-board", DeviceKind.DIY, -48),
        ("WT901BLE68", DeviceKind.WITMOTION, -55),
        ("Polar H10 A1B2C3D4", DeviceKind.POLAR, -70),
        ("Polar Sense B5C6D7E8", DeviceKind.POLAR, -75),
    ]
    assert [f.battery_pct for f in found] == [91, None, None, None]  # only the DIY advertises it
    async with asyncio.timeout(20):
        with_battery = await scan(1.0, backend=air.ble_backend(), read_battery=True)
        everything = await scan(1.0, backend=air.ble_backend(), include_unknown=True)
    assert [f.battery_pct for f in with_battery] == [91, None, 64, 87]  # WitMotion has no BAS
    assert "Kitchen lamp" in {f.name for f in everything}


async def test_unknown_device_is_lost_with_advice_to_name_its_kind() -> None:
    air = VirtualAir()
    await start_all(StrangerTwin(air, "Kitchen lamp"))
    source = make_source(air, "Kitchen lamp")
    sink = RecordingSink()
    async with asyncio.timeout(30):
        await source.run(sink)
    assert sink.states() == [SourceState.CONNECTING, SourceState.LOST]
    lost = sink.events[-1]
    assert "not a sensor balancelab reads" in lost.reason and "Pass kind=" not in lost.reason
    assert lost.trouble is not None and lost.trouble.advice.startswith("Pass kind=")
    assert source.trouble is not None and source.trouble.code == "sensor_unsupported"
    assert source.trouble.advice.startswith("Pass kind=")


async def test_a_recognised_kind_without_a_driver_is_listed_as_not_streamable() -> None:
    air = VirtualAir()
    await start_all(
        DiyTwin(air, "balancelab-board", rssi_dbm=-48),
        MovesenseTwin(air, rssi_dbm=-52),
    )
    async with asyncio.timeout(10):
        found = await scan(1.0, backend=air.ble_backend())
    assert [(f.kind, f.streamable) for f in found] == [
        (DeviceKind.DIY, True),
        (DeviceKind.MOVESENSE, False),
    ]


async def test_streaming_a_movesense_is_refused_with_the_reason() -> None:
    air = VirtualAir()
    twin = MovesenseTwin(air)
    await twin.start()
    source = make_source(air, twin.name)
    sink = RecordingSink()
    async with asyncio.timeout(30):
        await source.run(sink)
    assert sink.states() == [SourceState.CONNECTING, SourceState.LOST]
    lost = sink.events[-1]
    assert "movesense sensor, which balancelab recognises but cannot stream yet" in lost.reason
    assert lost.trouble is not None and lost.trouble.code == "sensor_unsupported"
    assert "diy, polar, witmotion" in lost.trouble.advice
    assert "balancelab scan" in lost.trouble.advice


async def test_backend_contract_with_bleak() -> None:
    air = VirtualAir()
    twin = DiyTwin(air, "balancelab-board")
    await twin.start()
    async with asyncio.timeout(10):
        device = await BleakScanner.find_device_by_name(
            "balancelab-board", timeout=2.0, backend=BumbleScanner, air=air
        )
        assert device is not None
        async with BleakClient(
            device, services=[diy.SERVICE_UUID], backend=BumbleClient, air=air
        ) as client:
            assert [s.uuid for s in client.services] == [diy.SERVICE_UUID]
            assert client.mtu_size == 247
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.read_gatt_char(diy.DATA_UUID)  # notify-only
            assert refused.value.code == 0x02
            config = diy.decode_config(await client.read_gatt_char(diy.CONFIG_UUID))
            assert config.acc_lsb_g == pytest.approx(0.244e-3)
        absent = BleakClient("00:11:22:33:44:55", backend=BumbleClient, air=air, timeout=0.5)
        with pytest.raises(BleakDeviceNotFoundError):
            await absent.connect()
