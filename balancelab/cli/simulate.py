"""`balancelab simulate`, `examples` and `demo`: sessions of the simulated athlete.

Kept apart from the dispatcher (`balancelab.cli`), which adds each with its
`add_*_command(commands)` only when it runs; the simulator and the engine are imported by the
handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from balancelab.cli.common import (
    add_data_option,
    dataset_root,
    folder_or_data,
    parse_start,
    report_recovery,
    whole_number,
)
from balancelab.errors import InvalidArgumentError


def add_simulate_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `simulate` on the top-level sub-command set."""
    parser = commands.add_parser(
        "simulate",
        help="record a session of the simulated athlete, with its ground truth",
        description="Simulate a session and write it as Motion-BIDS plus a ground-truth JSON.",
    )
    parser.add_argument("--scenario", default="demo_session", help="see --list")
    parser.add_argument("--list", action="store_true", help="list the scenarios and stop")
    add_data_option(parser, out_alias=True)
    parser.add_argument("--athlete", default="sim01", help="athlete label (letters, digits)")
    parser.add_argument(
        "--seed", type=whole_number, default=0, help="random seed (same seed, same data)"
    )
    parser.add_argument(
        "--start", type=parse_start, default=None, help="session start, ISO 8601 (default: now)"
    )
    parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """The `simulate` handler: lists the scenarios, or records one into the dataset."""
    from balancelab.sim import list_scenarios  # noqa: PLC0415 (the simulator when run)

    scenarios = dict(list_scenarios())
    if args.list:
        for name, description in scenarios.items():
            print(f"{name:20s} {description}")
        return 0
    if args.scenario not in scenarios:
        raise InvalidArgumentError(
            f"scenario {args.scenario!r} is not one of {', '.join(scenarios)}",
            advice="Run `balancelab simulate --list` to see the scenarios.",
        )
    root = dataset_root(args.data)
    report_recovery(root)
    from balancelab.engine.jobs import simulate_to_dataset  # noqa: PLC0415 (scipy when run)

    result = simulate_to_dataset(
        root, args.scenario, athlete=args.athlete, seed=args.seed, start_utc=args.start
    )
    print(f"session:      {result.session_dir}")
    print(f"ground truth: {result.truth_json}")
    for recording in result.session.recordings:
        print(
            f"  {recording.tracksys}: {recording.time_s.size} samples at"
            f" {recording.nominal_fs_hz:g} Hz, {recording.duration_s:.1f} s,"
            f" {recording.lost_samples} lost"
        )
    print(f"  {len(result.session.trials)} trials")
    return 0


def add_examples_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `examples` on the top-level sub-command set."""
    parser = commands.add_parser(
        "examples",
        help="write the example dataset (a simulated athlete over six weeks)",
        description=(
            "Write the example dataset into an empty folder: a simulated athlete tested every two"
            " weeks. With --force-plate-data, also the real force-plate trials found there."
        ),
    )
    parser.add_argument(
        "out", type=Path, nargs="?", default=None, metavar="DIR", help="an empty or new folder"
    )
    add_data_option(parser, help_text="the folder, as DIR (an empty or new folder)")
    parser.add_argument(
        "--force-plate-data",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding bds/ and pds/ force-plate text files to import",
    )
    parser.set_defaults(handler=run_examples)


def run_examples(args: argparse.Namespace) -> int:
    """The `examples` handler: writes the example dataset into an empty folder."""
    if args.out is None and args.data is None:
        raise InvalidArgumentError(
            "examples needs the folder to write into",
            advice="Name an empty or new folder: balancelab examples DIR (or --data DIR).",
        )
    root = folder_or_data(args.out, args.data, "DIR")
    from balancelab.engine.examples import build_example_dataset  # noqa: PLC0415 (when run)

    for session_dir in build_example_dataset(root, args.force_plate_data):
        print(f"wrote {session_dir}")
    return 0


def add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo` on the top-level sub-command set."""
    parser = commands.add_parser(
        "demo",
        help="record a session of the simulated athlete and analyse it",
        description="Simulate the demo session into your dataset, then analyse it.",
    )
    add_data_option(parser)
    parser.add_argument(
        "--seed", type=whole_number, default=0, help="random seed of the simulation"
    )
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """The `demo` handler: simulates the demo session into the dataset and analyses it."""
    from balancelab.engine.analyze import analyze_path  # noqa: PLC0415 (the engine when run)
    from balancelab.engine.jobs import simulate_to_dataset  # noqa: PLC0415
    from balancelab.engine.report import format_session  # noqa: PLC0415

    root = dataset_root(args.data)
    report_recovery(root)
    result = simulate_to_dataset(root, "demo_session", athlete="demo", seed=args.seed)
    print(f"Simulated athlete recorded into {result.session_dir}\n")
    for analysed in analyze_path(result.session_dir).sessions:
        print(format_session(analysed))
    print(f"\nGround truth of the simulation: {result.truth_json}")
    return 0
