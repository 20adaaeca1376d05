"""The `balancelab` command: parse, call the engine, print. Errors reach the person with advice."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import traceback
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from balancelab.cli_common import (
    ExitCode,
    FolderReport,
    add_data_option,
    add_debug_option,
    dataset_root,
    exit_codes_epilog,
    print_folder_summary,
    print_recovery,
    process_count,
    report_error,
    report_recovery,
    stdout_closed,
    whole_number,
)
from balancelab.errors import BalancelabError, DatasetError, InvalidArgumentError

if TYPE_CHECKING:
    from balancelab.engine.jobs import ImportOptions
    from balancelab.model import Trial

Handler = Callable[[argparse.Namespace], int]


COMMANDS: dict[str, str] = {
    "simulate": "record a session of the simulated athlete, with its ground truth",
    "import": "import phyphox, Sensor Logger, force-plate or CSV files as sessions",
    "examples": "write the example dataset (a simulated athlete over six weeks)",
    "analyze": "sway, time to stabilization and asymmetry of recorded sessions",
    "demo": "record a session of the simulated athlete and analyse it",
    "stream": "record a live source (simulated athlete, replay, phone, sensor) into the dataset",
    "scan": "list the Bluetooth sensors in range (DIY, Polar, WitMotion …)",
}
"""Each sub-command and its line under `balancelab --help`, in the order listed there."""


def build_parser(full: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every sub-command. Only those named in `full` (default: all)
    get their options, and with them the modules that define them; the others are one line of
    `--help`, so that `balancelab --help` or `balancelab analyze` imports no other command's
    machinery (the simulator, scipy, the streaming engine)."""
    parser = argparse.ArgumentParser(
        prog="balancelab",
        description="Balance assessment: sway, time to stabilization, left/right asymmetry.",
        epilog=exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    add_debug_option(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name, help_text in COMMANDS.items():
        if full is None or name in full:
            _add_command(commands, name)
        else:
            commands.add_parser(name, help=help_text)
    for command in commands.choices.values():  # --debug after the command works too
        add_debug_option(command)
    return parser


class _VersionAction(argparse.Action):
    """`--version`: argparse's own, but the version is read (importlib.metadata) only when
    asked for, not each time the parser is built."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show program's version number and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from balancelab import __version__  # noqa: PLC0415

        print(f"balancelab {__version__}")
        parser.exit()


def _add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    """Add one sub-command with its options, importing the module that defines it."""
    if name == "stream":
        from balancelab.cli_stream import add_stream_command  # noqa: PLC0415 (when chosen)

        add_stream_command(commands)
    elif name == "scan":
        from balancelab.cli_ble import add_scan_command  # noqa: PLC0415 (when chosen)

        add_scan_command(commands)
    else:
        _ADDERS[name](commands)


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line: its first word that is not an option (the
    top-level options take no value). None for none or an unknown one (argparse says so)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def _add_trial_options(parser: argparse.ArgumentParser) -> None:
    from balancelab.model import Side, Surface, TrialType, Vision  # noqa: PLC0415 (numpy)

    parser.add_argument("--trial-type", choices=[t.value for t in TrialType], default=None)
    parser.add_argument("--side", choices=[s.value for s in Side], help="default: both")
    parser.add_argument("--surface", choices=[s.value for s in Surface], help="default: firm")
    parser.add_argument("--vision", choices=[v.value for v in Vision], help="default: open")


def _whole_file_trial(args: argparse.Namespace) -> Trial | None:
    from balancelab.model import Outcome, Side, Surface, Trial, TrialType, Vision  # noqa: PLC0415

    described = [f"--{n}" for n in ("side", "surface", "vision") if getattr(args, n) is not None]
    if args.trial_type is None:
        if described:
            raise InvalidArgumentError(
                f"{', '.join(described)} describe(s) a trial, but no --trial-type was given",
                advice="Add --trial-type (e.g. single_leg_hold) to store the file as one trial.",
            )
        return None
    return Trial(
        onset_s=0.0,
        duration_s=0.0,
        trial_type=TrialType(args.trial_type),
        side=Side(args.side or Side.BOTH),
        surface=Surface(args.surface or Surface.FIRM),
        vision=Vision(args.vision or Vision.OPEN),
        outcome=Outcome.COMPLETED,
    )


def _add_analyze(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "analyze",
        help=COMMANDS["analyze"],
        description=(
            "Analyse a session folder, every session of a dataset, or a file to import (give"
            " --trial-type to analyse the whole file as one trial). Without PATH, the dataset"
            " of --data."
        ),
    )
    parser.add_argument(
        "path",
        type=Path,
        nargs="?",
        default=None,
        help="session folder, dataset folder or file (default: the dataset folder)",
    )
    add_data_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--jobs",
        type=process_count,
        default=None,
        metavar="N",
        help="analyse a dataset's sessions in N processes (default: one per core; 1: no pool)",
    )
    _add_trial_options(parser)
    parser.set_defaults(handler=_run_analyze)


def _run_analyze(args: argparse.Namespace) -> int:
    from balancelab.engine import analyze  # noqa: PLC0415 (scipy only for a command that runs)
    from balancelab.engine.report import format_session  # noqa: PLC0415

    args.path = _folder_or_data(args.path, args.data, "PATH")
    plan = analyze.plan_analysis(args.path, whole_file_trial=_whole_file_trial(args))
    print_recovery(plan.recovered)
    document = analyze.JsonDocumentWriter(sys.stdout) if args.json else None
    analysed, failed = 0, []
    # closing(): a pool's workers end as soon as printing stops (Ctrl-C, a closed pipe)
    with contextlib.closing(plan.results(args.jobs)) as results:
        for result in results:
            if isinstance(result, analyze.SessionSkipped):
                print(
                    f"skipped: {result.source} is still being recorded (or could not be recovered)",
                    file=sys.stderr,
                )
                continue
            if isinstance(result, analyze.SessionFailure):
                failed.append(result)
                print(f"not analysed: {result.source}: {result.message}", file=sys.stderr)
                print(f"  what to do: {result.advice}", file=sys.stderr)
                continue
            if document is not None:
                document.add(result)
            else:
                print(("\n" if analysed else "") + format_session(result), flush=True)
            analysed += 1
    if not analysed:
        raise DatasetError(
            f"{args.path} holds no session that can be analysed",
            advice="Record or import a session first (balancelab stream / import / simulate)."
            if not failed
            else "Repair or remove the sessions named above, then analyse again.",
        )
    if document is not None:
        document.end(failed)
    return ExitCode.SOME_FAILED if failed else ExitCode.OK


def _folder_or_data(path: Path | None, data: Path | None, name: str) -> Path:
    """A command's folder given as its argument or as --data (not both); else the default."""
    if path is not None and data is not None:
        raise InvalidArgumentError(
            f"{name} {path} and --data {data} both name the folder",
            advice=f"Give the folder once, as {name} or as --data DIR.",
        )
    return dataset_root(path if path is not None else data)


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help=COMMANDS["demo"],
        description="Simulate the demo session into your dataset, then analyse it.",
    )
    add_data_option(parser)
    parser.add_argument(
        "--seed", type=whole_number, default=0, help="random seed of the simulation"
    )
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
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


def _add_examples(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "examples",
        help=COMMANDS["examples"],
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
    parser.set_defaults(handler=_run_examples)


def _run_examples(args: argparse.Namespace) -> int:
    if args.out is None and args.data is None:
        raise InvalidArgumentError(
            "examples needs the folder to write into",
            advice="Name an empty or new folder: balancelab examples DIR (or --data DIR).",
        )
    root = _folder_or_data(args.out, args.data, "DIR")
    from balancelab.engine.examples import build_example_dataset  # noqa: PLC0415 (when run)

    for session_dir in build_example_dataset(root, args.force_plate_data):
        print(f"wrote {session_dir}")
    return 0


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate",
        help=COMMANDS["simulate"],
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
        "--start", type=_parse_start, default=None, help="session start, ISO 8601 (default: now)"
    )
    parser.set_defaults(handler=_run_simulate)


def _add_import(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "import",
        help=COMMANDS["import"],
        description=(
            "Import a foreign recording into the dataset. The kind is detected from the file;"
            " any other table is read with --columns. A folder that is not one phyphox or"
            " Sensor Logger export is imported file by file, each as its own session (exit 1"
            " if some files were refused). Give --trial-type (and side, surface, vision) to"
            " store each whole file as one trial."
        ),
    )
    parser.add_argument("source", type=Path, help="file, zip, export folder or folder of files")
    parser.add_argument("--athlete", required=True, help="athlete label (letters, digits)")
    add_data_option(parser)
    parser.add_argument("--task", default="imported", help="task label (letters, digits)")
    parser.add_argument(
        "--start",
        type=_parse_start,
        default=None,
        help="session start, ISO 8601 (default: the file's clock, else its modification time)",
    )
    from balancelab.formats.import_csv import SENSOR_POINTS  # noqa: PLC0415 (import only)

    parser.add_argument("--tracked-point", choices=SENSOR_POINTS, default=None)
    parser.add_argument(
        "--per-foot", action="store_true", help="also import each plate of a two-plate file"
    )
    _add_table_options(parser)
    _add_trial_options(parser)
    parser.set_defaults(handler=_run_import)


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    from balancelab.formats.import_csv import COLUMNS_EXAMPLE  # noqa: PLC0415 (import only)
    from balancelab.formats.importers import DELIMITER_NAMES  # noqa: PLC0415

    table = parser.add_argument_group("reading any other table (with --columns)")
    table.add_argument(
        "--columns",
        metavar="SPEC",
        help=f"which column is which and in which unit, e.g. {COLUMNS_EXAMPLE.split()[1]}"
        " (quantities: time, acc, gyr, mag, ori, pos)",
    )
    table.add_argument(
        "--skip-rows",
        type=whole_number,
        default=0,
        metavar="N",
        help="lines before the column names",
    )
    table.add_argument(
        "--header-rows",
        type=whole_number,
        default=1,
        metavar="N",
        help="rows of the header, the names first (e.g. 3: names, CAL, units)",
    )
    table.add_argument("--delimiter", choices=list(DELIMITER_NAMES.values()), default=None)
    table.add_argument("--decimal", choices=(".", ","), default=None, help="decimal mark")


def _parse_start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-11-21T09:30:00"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def _run_simulate(args: argparse.Namespace) -> int:
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


def _run_import(args: argparse.Namespace) -> int:
    from balancelab.engine.jobs import import_folder, import_one  # noqa: PLC0415 (when run)
    from balancelab.formats.importers import is_one_export  # noqa: PLC0415

    root = dataset_root(args.data)
    report_recovery(root)
    source = args.source.expanduser()
    options = _import_options(args)
    if source.is_dir() and not is_one_export(source):
        results = import_folder(source, root, options, FolderReport(root).on_file)
        return print_folder_summary(results, root)
    session_dir, start_from = import_one(source, root, options)
    print(f"imported {source} as {session_dir}")
    print(f"  session time from {start_from}")
    return 0


def _import_options(args: argparse.Namespace) -> ImportOptions:
    from balancelab.engine.jobs import ImportOptions  # noqa: PLC0415 (when run)
    from balancelab.formats.import_csv import parse_columns  # noqa: PLC0415
    from balancelab.formats.importers import DELIMITER_NAMES, TableLayout  # noqa: PLC0415
    from balancelab.model import TrialType  # noqa: PLC0415

    trial = _whole_file_trial(args)
    layout = TableLayout(
        args.skip_rows,
        args.header_rows,
        {name: d for d, name in DELIMITER_NAMES.items()}.get(args.delimiter),
        args.decimal,
    )
    fix = shlex.join(["balancelab", *args.argv, "--trial-type", "single_leg_hold"])
    columns = args.columns
    return ImportOptions(
        args.athlete,
        args.task,
        args.start,
        trial,
        column_map=None if columns is None else parse_columns(columns, args.tracked_point),
        layout=layout,
        tracked_point=args.tracked_point,
        per_foot=args.per_foot,
        missing_trials_advice=None
        if trial
        else f"Store each whole file as one trial: {fix} (add --side, --surface and --vision"
        f" to describe it; trial types: {', '.join(t.value for t in TrialType)}).",
    )


_ADDERS: dict[str, Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = {
    "simulate": _add_simulate,
    "import": _add_import,
    "examples": _add_examples,
    "analyze": _add_analyze,
    "demo": _add_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (`ExitCode`, see `--help`)."""
    try:
        return _main(argv)
    except BrokenPipeError:  # stdout closed while argparse printed help or usage
        return stdout_closed()


def _main(argv: Sequence[str] | None) -> int:
    args_given = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(args_given)
    parser = build_parser(full=() if command is None else (command,))
    args = parser.parse_args(args_given)
    args.argv = args_given  # to echo a corrected command
    handler: Handler = args.handler
    try:
        return handler(args)
    except BalancelabError as error:
        report_error(error, debug=args.debug)
        return ExitCode.REFUSED
    except KeyboardInterrupt:
        print("balancelab: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `balancelab analyze --json | head`: the reader has what it wanted
        return stdout_closed()
    except Exception as error:  # the last net: a bug must not end in a bare traceback
        if args.debug:
            traceback.print_exception(error)
        print(f"balancelab: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print(
            "  what to do: this is a bug in balancelab; please report it together with the"
            " output of the same command run with --debug.",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL_ERROR
