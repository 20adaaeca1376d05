"""`balancelab import`: phyphox, Sensor Logger, force-plate or CSV files as sessions.

Kept apart from the dispatcher (`balancelab.cli`), which adds it with
`add_import_command(commands)` only when it runs; the engine is imported by the handler.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from balancelab.cli.common import (
    FolderReport,
    add_data_option,
    add_trial_options,
    dataset_root,
    parse_start,
    print_folder_summary,
    report_recovery,
    whole_file_trial,
    whole_number,
)

if TYPE_CHECKING:
    from balancelab.engine.jobs import ImportOptions


def add_import_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `import` on the top-level sub-command set."""
    parser = commands.add_parser(
        "import",
        help="import phyphox, Sensor Logger, force-plate or CSV files as sessions",
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
        type=parse_start,
        default=None,
        help="session start, ISO 8601 (default: the file's clock, else its modification time)",
    )
    from balancelab.formats.import_csv import SENSOR_POINTS  # noqa: PLC0415 (import only)

    parser.add_argument("--tracked-point", choices=SENSOR_POINTS, default=None)
    parser.add_argument(
        "--per-foot", action="store_true", help="also import each plate of a two-plate file"
    )
    _add_table_options(parser)
    add_trial_options(parser)
    parser.set_defaults(handler=run_import)


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


def run_import(args: argparse.Namespace) -> int:
    """The `import` handler: 0 when imported; for a folder of files, 1 when some were refused,
    2 when all were."""
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

    trial = whole_file_trial(args)
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
