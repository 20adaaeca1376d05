"""`balancelab scan`: list the Bluetooth sensors in range that balancelab recognises.

Sensors of a recognised kind that balancelab cannot stream yet (Movesense) are listed, marked
as such, so that a person holding one learns why `stream` refuses it instead of not seeing it.

Kept apart from the dispatcher (`balancelab.cli`); its `build_parser` adds it with
`add_scan_command(commands)`. bleak is imported only when the command runs, so the rest of the
CLI works without Bluetooth.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from balancelab.cli.common import ExitCode, report_error
from balancelab.errors import InvalidArgumentError

if TYPE_CHECKING:
    from balancelab.sensors.ble import FoundSensor

NOT_STREAMABLE = "[cannot stream yet]"
NOT_STREAMABLE_NOTE = (
    f"{NOT_STREAMABLE}: balancelab recognises this sensor but has no live driver for its kind"
    " yet, so `balancelab stream` refuses it."
)


def add_scan_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `scan` on the top-level sub-command set."""
    parser = commands.add_parser(
        "scan",
        help="list the Bluetooth sensors in range (DIY, Polar, WitMotion …)",
        description=(
            "Listen for Bluetooth LE advertisements and list the sensors balancelab recognises, "
            f"strongest signal first (those it cannot stream yet are marked {NOT_STREAMABLE}). "
            "Stream one with `balancelab stream ADDRESS` or `balancelab stream ble:NAME`."
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
    """The `scan` handler: prints the table (or JSON); 0 even when nothing was found, 3 when
    Bluetooth itself cannot be used (adapter off, absent or not permitted)."""
    if not 0 < args.seconds <= 120:
        raise InvalidArgumentError(f"--seconds must be in (0, 120], got {args.seconds}")
    import asyncio  # noqa: PLC0415 (the parser is built without it, for a quick --help)

    from balancelab.sensors.ble import BluetoothError, scan  # noqa: PLC0415 (bleak only to scan)

    try:
        found = asyncio.run(scan(args.seconds, include_unknown=args.all, read_battery=args.battery))
    except BluetoothError as error:
        report_error(error, debug=getattr(args, "debug", False))
        return ExitCode.SOURCE_UNREACHABLE
    print(format_json(found) if args.json else format_table(found))
    return ExitCode.OK


def format_table(found: Sequence[FoundSensor]) -> str:
    """One line per sensor: address, kind, signal, battery, name; a recognised sensor that
    cannot be streamed yet is marked after its name, with a note below the table."""
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
        mark = f"  {NOT_STREAMABLE}" if f.kind is not None and not f.streamable else ""
        lines.append(f"{f.address:<38} {kind:<10} {rssi:>7} {battery:>7}  {f.name or ''}{mark}")
    if any(f.kind is not None and not f.streamable for f in found):
        lines += ["", NOT_STREAMABLE_NOTE]
    return "\n".join(lines)


def format_json(found: Sequence[FoundSensor]) -> str:
    """The sensors as a JSON list of objects (`streamable`: `balancelab stream` can record it)."""
    return json.dumps(
        [
            {**asdict(f), "kind": f.kind.value if f.kind else None, "streamable": f.streamable}
            for f in found
        ]
    )
