"""`balancelab scan` output, from scan results of the virtual air."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from balancelab.cli.ble import (
    NOT_STREAMABLE,
    NOT_STREAMABLE_NOTE,
    add_scan_command,
    format_json,
    format_table,
)
from balancelab.devices.common import DeviceKind
from balancelab.errors import InvalidArgumentError
from balancelab.sensors.ble import FoundSensor, scan
from tests.support.ble import VirtualAir
from tests.support.ble.diy_twin import DiyTwin
from tests.support.ble.movesense_twin import MovesenseTwin
from tests.support.ble.witmotion_twin import WitMotionTwin


@pytest.mark.asyncio
@pytest.mark.virtual_time
async def test_scan_table_and_json_show_what_the_air_holds() -> None:
    air = VirtualAir()
    await DiyTwin(air, "balancelab-board", rssi_dbm=-48).start()
    await WitMotionTwin(air, rssi_dbm=-66).start()
    async with asyncio.timeout(10):
        found = await scan(0.5, backend=air.ble_backend())
    table = format_table(found).splitlines()
    assert table[1].split() == [
        "F0:00:00:00:00:01",
        "diy",
        "-48",
        "dBm",
        "87",
        "%",
        "balancelab-board",
    ]
    assert table[2].split()[1:4] == ["witmotion", "-66", "dBm"]
    assert json.loads(format_json(found))[1] == {
        "address": "F0:00:00:00:00:02",
        "name": "WT901BLE68",
        "kind": "witmotion",
        "rssi_dbm": -66,
        "battery_pct": None,
        "streamable": True,
    }
    assert NOT_STREAMABLE not in format_table(found)


@pytest.mark.asyncio
@pytest.mark.virtual_time
async def test_scan_marks_a_sensor_balancelab_cannot_stream_yet() -> None:
    air = VirtualAir()
    await DiyTwin(air, "balancelab-board", rssi_dbm=-48).start()
    await MovesenseTwin(air, rssi_dbm=-52).start()
    async with asyncio.timeout(10):
        found = await scan(0.5, backend=air.ble_backend())
    table = format_table(found).splitlines()
    assert NOT_STREAMABLE not in table[1]
    assert table[2].split() == [
        "F0:00:00:00:00:02",
        "movesense",
        "-52",
        "dBm",
        "-",
        "Movesense",
        "233830000123",
        *NOT_STREAMABLE.split(),
    ]
    assert table[-1] == NOT_STREAMABLE_NOTE and "cannot stream" in NOT_STREAMABLE_NOTE
    assert [s["streamable"] for s in json.loads(format_json(found))] == [True, False]


def test_empty_scan_says_what_to_do_and_seconds_are_checked() -> None:
    assert "Switch the sensor on" in format_table([])
    parser = argparse.ArgumentParser()
    add_scan_command(parser.add_subparsers())
    args = parser.parse_args(["scan", "--seconds", "0"])
    with pytest.raises(InvalidArgumentError, match="--seconds"):
        args.handler(args)
    assert FoundSensor("a", None, DeviceKind.DIY, None, None).kind is DeviceKind.DIY
