"""`balancelab scan`: list the Bluetooth sensors in range that balancelab can read.

Kept apart from `cli.py`; `cli.build_parser` adds it with `add_scan_command(commands)`. bleak is
imported only when the command runs, so the rest of the CLI works without Bluetooth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from balancelab.errors import InvalidArgumentError

if TYPE_CHECKING:
    from balancelab.sensors.ble import FoundSensor


def add_scan_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `scan` on the top-level sub-command set."""
    parser = commands.add_parser(
        "scan",
        help="list the Bluetooth sensors in range (DIY, Polar, WitMotion …)",
        description=(
            "Listen for Bluetooth LE advertisements and list the sensors balancelab can read, "
            "strongest signal first. Stream one with `balancelab stream ADDRESS` or "
            "`balancelab stream ble:NAME`."
        ),
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="how long to listen (default 5 s)"
    )
    parser.add_argument(
        "--all", action="store_true", help="also list devices balancelab cannot read"
    )
    parser.add_argument(
        "--battery", action="store_true", help="connect briefly to read battery levels"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(handler=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    """The `scan` handler: prints the table (or JSON); 0 even when nothing was found."""
    if not 0 < args.seconds <= 120:
        raise InvalidArgumentError(f"--seconds must be in (0, 120], got {args.seconds}")
    from balancelab.sensors.ble import scan  # noqa: PLC0415 (bleak loads only to scan)

    found = asyncio.run(scan(args.seconds, include_unknown=args.all, read_battery=args.battery))
    print(format_json(found) if args.json else format_table(found))
    return 0


def format_table(found: Sequence[FoundSensor]) -> str:
    """One line per sensor: address, kind, signal, battery, name."""
    if not found:
        return (
            "No sensors found. Switch the sensor on (Polar straps need skin contact), bring it "
            "close and scan again; --all lists every Bluetooth device in range."
        )
    lines = [f"{'address':<38} {'kind':<10} {'signal':>7} {'battery':>7}  name"]
    for f in found:
        rssi = f"{f.rssi_dbm} dBm" if f.rssi_dbm is not None else "?"
        battery = f"{f.battery_pct} %" if f.battery_pct is not None else "-"
        kind = f.kind.value if f.kind is not None else "unknown"
        lines.append(f"{f.address:<38} {kind:<10} {rssi:>7} {battery:>7}  {f.name or ''}")
    return "\n".join(lines)


def format_json(found: Sequence[FoundSensor]) -> str:
    """The sensors as a JSON list of objects."""
    return json.dumps([{**asdict(f), "kind": f.kind.value if f.kind else None} for f in found])
