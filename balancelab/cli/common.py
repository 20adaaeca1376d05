"""What the command modules share: exit codes, the dataset-folder and trial options, errors,
recovery notes.

The dispatcher (`balancelab.cli`) and the command modules it registers (`cli.stream`, …) import
these from here, so no command module needs to import the dispatcher. Building the parser must
stay cheap (`--help`), so what only a running command needs (the engine, the dataset) is
imported where it is used.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import textwrap
import traceback
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from balancelab.errors import BalancelabError, InvalidArgumentError

if TYPE_CHECKING:
    from balancelab.engine.jobs import FileImport
    from balancelab.formats.dataset import RecoveryReport
    from balancelab.model import Trial

DATA_OPTION_HELP = "the dataset folder (default: $BALANCELAB_DATA or your user data folder)"
DEBUG_HELP = "show the full traceback of an error (before or after the command)"
LINE_WIDTH = 80
BAR_WIDTH = 20


class ExitCode(IntEnum):
    """What `balancelab` returns to the shell; each command returns one of these, and
    `EXIT_CODES` says what each means (printed under `balancelab --help`)."""

    OK = 0
    SOME_FAILED = 1
    REFUSED = 2
    SOURCE_UNREACHABLE = 3
    INTERNAL_ERROR = 70
    HANGUP = 129
    INTERRUPTED = 130
    STDOUT_CLOSED = 141
    TERMINATED = 143


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.SOME_FAILED: "done in part: some items failed (e.g. files of a folder import"
    " refused), the rest was done; each failure is named on stderr",
    ExitCode.REFUSED: "refused: a usage error or input balancelab cannot use (a bad option,"
    " file or folder); nothing was changed; stderr says what and what to do",
    ExitCode.SOURCE_UNREACHABLE: "a live source could not be reached or was lost (`stream`,"
    " `scan`); stderr gives the reason; what arrived before a loss is kept",
    ExitCode.INTERNAL_ERROR: "internal error, a bug in balancelab (sysexits EX_SOFTWARE); run"
    " again with --debug and report it",
    ExitCode.HANGUP: "`stream` ended by SIGHUP (its terminal closed; 128 + 1), after closing"
    " the recording as Ctrl-C does",
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C (128 + SIGINT); `stream` treats Ctrl-C as its"
    " normal stop and exits as its recording ended",
    ExitCode.STDOUT_CLOSED: "the reader of stdout closed it early (`balancelab ... | head`):"
    " no message, as any program ended by SIGPIPE (128 + 13)",
    ExitCode.TERMINATED: "`stream` ended by SIGTERM (128 + 15), after closing the recording as"
    " Ctrl-C does",
}


def exit_codes_epilog() -> str:
    """The exit-code table for `--help` (a RawDescriptionHelpFormatter keeps its layout)."""
    lines = ["exit codes:"]
    for code, meaning in EXIT_CODES.items():
        wrapped = textwrap.wrap(meaning, LINE_WIDTH - 8, break_on_hyphens=False)
        lines += [f"  {code.value:<4} {wrapped[0]}", *(f"       {rest}" for rest in wrapped[1:])]
    return "\n".join(lines)


def add_debug_option(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """`--debug`, accepted before the command (`top_level`) and after it: a sub-command's copy
    leaves the attribute alone when absent (SUPPRESS), so it cannot undo the top-level one."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help=DEBUG_HELP,
    )


def report_error(error: BalancelabError, *, debug: bool) -> None:
    """Print a domain error for a person on stderr: what happened, then what to do."""
    print_problem(error.message, error.advice, error if debug else None)


def print_problem(message: str, advice: str, error: BaseException | None = None) -> None:
    """`balancelab: error: MESSAGE` and `  what to do: ADVICE` on stderr (the traceback of
    `error` first, when given: --debug)."""
    if error is not None:
        traceback.print_exception(error)
    print(f"balancelab: error: {message}", file=sys.stderr)
    print(f"  what to do: {advice}", file=sys.stderr)


def stdout_closed() -> ExitCode:
    """The reader of stdout went away (`balancelab analyze --json | head`). As Python's docs
    advise (signal module, "Note on SIGPIPE"), stdout is pointed at devnull so that the flush
    at exit cannot fail again and print a traceback; the exit is that of a program ended by
    SIGPIPE, quiet, as `cat` or `grep` would be."""
    with contextlib.suppress(AttributeError, ValueError, OSError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return ExitCode.STDOUT_CLOSED


def default_dataset_root() -> Path:
    """Where recordings go unless --data says otherwise: $BALANCELAB_DATA or the user data dir."""
    env = os.environ.get("BALANCELAB_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs  # noqa: PLC0415 (only when no folder is given)

    return platformdirs.user_data_path("balancelab", appauthor=False) / "recordings"


def whole_number(text: str) -> int:
    """An argparse type: a whole number >= 0 (a seed, a count of rows)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def process_count(text: str) -> int:
    """An argparse type: a number of processes, a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of processes (a whole number >= 1, e.g. 2)"
        )
    return int(text)


def add_data_option(
    parser: argparse.ArgumentParser, *, out_alias: bool = False, help_text: str = DATA_OPTION_HELP
) -> None:
    """The dataset-folder option, `--data DIR` in every command (`args.data`); `out_alias`
    also accepts `--out DIR`, the name some commands had first."""
    flags = ("--data", "--out") if out_alias else ("--data",)
    parser.add_argument(*flags, dest="data", type=Path, default=None, metavar="DIR", help=help_text)


def dataset_root(path: Path | None) -> Path:
    """The folder given by the option, else the default one."""
    return (path or default_dataset_root()).expanduser()


def print_recovery(reports: Iterable[RecoveryReport]) -> None:
    """Say on stderr what recovery did to each interrupted stream, or why it left it alone."""
    for report in reports:
        print(
            f"{'recovered' if report.changed else 'not recovered'}: {report.describe()}",
            file=sys.stderr,
        )


def report_recovery(root: Path) -> None:
    """Recover the dataset's interrupted sessions and say on stderr what happened."""
    from balancelab.engine.jobs import open_or_create  # noqa: PLC0415 (the engine when run)

    print_recovery(open_or_create(root))


def print_wrapped(text: str, stream: TextIO | None = None) -> None:
    """Print `text` within 80 columns, continuation lines indented."""
    lines = textwrap.wrap(
        text, LINE_WIDTH, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False
    )
    print("\n".join(lines), file=stream or sys.stdout, flush=True)


class FolderReport:
    """Says per file of a folder import what became of it (stdout); on a terminal, stderr also
    shows a progress bar redrawn in place."""

    def __init__(self, root: Path, progress: TextIO | None = None) -> None:
        self.root = root
        self.progress = progress or sys.stderr

    def on_file(self, done: int, total: int, result: FileImport) -> None:
        """Report one file, then redraw the bar (`done` of `total` files)."""
        tty = self.progress.isatty()
        if tty:
            self.progress.write("\r" + " " * (LINE_WIDTH - 1) + "\r")
            self.progress.flush()
        print_wrapped(self._line(result))
        if tty:
            filled = BAR_WIDTH * done // total
            bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} files"
            self.progress.write(bar + ("\n" if done == total else ""))
            self.progress.flush()

    def _line(self, result: FileImport) -> str:
        if result.error is not None:
            message = result.error.message
            rest = message.removeprefix(str(result.source))
            return f"refused  {result.source.name}{rest if rest != message else ': ' + message}"
        assert result.session_dir is not None
        where = result.session_dir.relative_to(self.root)
        return f"imported {result.source.name} as {where} (time from {result.start_from})"


def print_folder_summary(results: Sequence[FileImport], root: Path) -> int:
    """How many files became sessions, what to do about the rest; returns the exit code:
    0 all imported, 1 some refused, 2 all refused."""
    refused = [r.error for r in results if r.error is not None]
    print_wrapped(f"{len(results) - len(refused)} of {len(results)} files imported into {root}")
    for advice in dict.fromkeys(e.advice for e in refused):
        print_wrapped(f"  what to do: {advice}", sys.stderr)
    if not refused:
        return ExitCode.OK
    return ExitCode.REFUSED if len(refused) == len(results) else ExitCode.SOME_FAILED


def add_trial_options(parser: argparse.ArgumentParser) -> None:
    """The options that describe a whole file as one trial: --trial-type, --side, --surface,
    --vision."""
    from balancelab.model import Side, Surface, TrialType, Vision  # noqa: PLC0415 (numpy)

    parser.add_argument("--trial-type", choices=[t.value for t in TrialType], default=None)
    parser.add_argument("--side", choices=[s.value for s in Side], help="default: both")
    parser.add_argument("--surface", choices=[s.value for s in Surface], help="default: firm")
    parser.add_argument("--vision", choices=[v.value for v in Vision], help="default: open")


def whole_file_trial(args: argparse.Namespace) -> Trial | None:
    """The trial those options describe (the whole file), or None without --trial-type."""
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


def folder_or_data(path: Path | None, data: Path | None, name: str) -> Path:
    """A command's folder given as its argument or as --data (not both); else the default."""
    if path is not None and data is not None:
        raise InvalidArgumentError(
            f"{name} {path} and --data {data} both name the folder",
            advice=f"Give the folder once, as {name} or as --data DIR.",
        )
    return dataset_root(path if path is not None else data)


def parse_start(text: str) -> datetime:
    """An argparse type: a session start in ISO 8601, UTC unless it names its zone."""
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-11-21T09:30:00"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=UTC)
