"""`balancelab analyze`: sway, time to stabilization and asymmetry of recorded sessions.

Kept apart from the dispatcher (`balancelab.cli`), which adds it with
`add_analyze_command(commands)` only when it runs; the engine is imported by the handler.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from balancelab.cli.common import (
    ExitCode,
    add_data_option,
    add_trial_options,
    folder_or_data,
    print_recovery,
    process_count,
    whole_file_trial,
)
from balancelab.errors import DatasetError


def add_analyze_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `analyze` on the top-level sub-command set."""
    parser = commands.add_parser(
        "analyze",
        help="sway, time to stabilization and asymmetry of recorded sessions",
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
    add_trial_options(parser)
    parser.set_defaults(handler=run_analyze)


def run_analyze(args: argparse.Namespace) -> int:
    """The `analyze` handler: 0 when every session was analysed, 1 when some failed."""
    from balancelab.engine import analyze  # noqa: PLC0415 (scipy only for a command that runs)
    from balancelab.engine.report import format_session  # noqa: PLC0415

    args.path = folder_or_data(args.path, args.data, "PATH")
    plan = analyze.plan_analysis(args.path, whole_file_trial=whole_file_trial(args))
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
