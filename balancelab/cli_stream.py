"""`balancelab stream DEVICE`: record a live source into the dataset, printing rate, loss, latency.

Kept apart from `cli.py`; `cli.build_parser` adds it with `add_stream_command(commands)`.
"""

from __future__ import annotations

import argparse
import sys

from balancelab.cli_common import add_data_option, dataset_root, report_recovery
from balancelab.engine.streaming import (
    DEVICE_FORMS,
    StreamEvent,
    StreamFigures,
    StreamProgress,
    StreamResult,
    open_source,
    stream_to_dataset,
)
from balancelab.errors import InvalidArgumentError
from balancelab.sensors.base import SourceState
from balancelab.sim import list_scenarios

EXIT_LOST = 1
ENDED = frozenset({SourceState.STOPPED, SourceState.LOST})


def add_stream_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `stream` on the top-level sub-command set."""
    parser = commands.add_parser(
        "stream",
        help="record a live source (simulated athlete, replay, phone, sensor) into the dataset",
        description=(
            f"Stream DEVICE into the dataset. DEVICE is one of: {DEVICE_FORMS}. Prints rate, loss"
            " and latency once a second; Ctrl-C stops and keeps the recording."
        ),
    )
    parser.add_argument("device", metavar="DEVICE", help="what to stream from (see above)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after N s (default: until it ends)"
    )
    add_data_option(parser, "--out")
    parser.add_argument("--scenario", default="demo_session", help="scenario for DEVICE sim")
    parser.add_argument("--seed", type=int, default=0, help="random seed for DEVICE sim")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="x real time for sim and replay (default 1)"
    )
    parser.add_argument("--athlete", default="anon", help="athlete label (letters, digits)")
    parser.add_argument("--task", default=None, help="task label (default: from the source)")
    parser.set_defaults(handler=run_stream)


def run_stream(args: argparse.Namespace) -> int:
    """The `stream` handler: 0 when the source ended or was stopped, 1 when it was lost."""
    _check_args(args)
    source = open_source(args.device, scenario=args.scenario, seed=args.seed, speed=args.speed)
    root = dataset_root(args.out)
    report_recovery(root)
    print(f"streaming {source.name} into {root} (Ctrl-C stops and keeps the recording)")
    result = stream_to_dataset(
        source, root, args.seconds, _print_event, athlete=args.athlete, task=args.task
    )
    _print_summary(result)
    if result.error is not None:
        raise result.error
    return EXIT_LOST if result.final_state is SourceState.LOST else 0


def _check_args(args: argparse.Namespace) -> None:
    if args.seconds is not None and not args.seconds > 0:
        raise InvalidArgumentError(f"--seconds must be > 0, got {args.seconds}")
    if not args.speed > 0:
        raise InvalidArgumentError(f"--speed must be > 0, got {args.speed}")
    scenarios = dict(list_scenarios())
    if args.scenario not in scenarios:
        raise InvalidArgumentError(
            f"--scenario {args.scenario!r} is not one of {', '.join(scenarios)}",
            advice="Run `balancelab simulate --list` to see the scenarios.",
        )


def _print_event(event: StreamEvent) -> None:
    """Called on the engine thread: one line per state change and per second. Once the source
    has ended (stopped or lost) its state line was printed; the final figures go to the
    summary, so no progress line repeats the end."""
    if isinstance(event, StreamProgress):
        if event.state not in ENDED:
            print(f"{event.elapsed_s:6.1f} s  {_progress_line(event)}", flush=True)
        return
    reason = f"  ({event.reason})" if event.reason else ""
    print(f"{event.time_s:6.1f} s  {event.state.value}{reason}", flush=True)


def _progress_line(progress: StreamProgress) -> str:
    parts = [_figures(f) for f in progress.streams] or ["no samples yet"]
    latency = progress.median_latency_s
    parts.append("latency " + ("n/a" if latency is None else f"{latency * 1000:.0f} ms"))
    parts.append(f"rejected {progress.rejected}")
    return f"{progress.state.value}  " + " | ".join(parts)


def _figures(figures: StreamFigures) -> str:
    return (
        f"{figures.tracksys} {figures.rate_hz:.1f} Hz {figures.samples} samples"
        f" lost {figures.lost} ({figures.loss_fraction:.1%})"
    )


def _print_summary(result: StreamResult) -> None:
    ended = result.final_state.value + (f" ({result.reason})" if result.reason else "")
    if result.interrupted:
        ended = "stopped by Ctrl-C"
    print(f"\nended: {ended} after {result.elapsed_s:.1f} s")
    print(f"session: {result.session_dir or 'none (no sample arrived)'}")
    for figures in result.streams:
        written = result.samples_written.get(figures.tracksys, 0)
        print(f"  {_figures(figures)}, {written} rows written")
    latency = result.stats.median_latency_s
    print("  median latency: " + ("n/a" if latency is None else f"{latency * 1000:.1f} ms"))
    rejected = dict(result.stats.packets_rejected)
    print(f"  rejected: {rejected or 'none'}; reconnects: {result.stats.reconnects}")
    if result.rows_dropped:
        print(f"  rows not written: {result.rows_dropped}", file=sys.stderr)
