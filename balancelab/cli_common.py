"""What the command modules share: where the dataset lives, its folder option, recovery notes.

`cli.py` and the command modules it registers (`cli_stream`, …) import these from here, so no
command module needs to import `cli` itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

import platformdirs

from balancelab.engine.jobs import FileImport, open_or_create
from balancelab.formats.dataset import RecoveryReport

DATA_OPTION_HELP = "the dataset folder (default: $BALANCELAB_DATA or your user data folder)"
LINE_WIDTH = 80
BAR_WIDTH = 20
EXIT_SOME_REFUSED = 1
EXIT_ALL_REFUSED = 2


def default_dataset_root() -> Path:
    """Where recordings go unless --data says otherwise: $BALANCELAB_DATA or the user data dir."""
    env = os.environ.get("BALANCELAB_DATA")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("balancelab", appauthor=False) / "recordings"


def add_data_option(parser: argparse.ArgumentParser, flag: str = "--data") -> None:
    """The dataset-folder option (`--data`, or `--out` where the command writes)."""
    parser.add_argument(flag, type=Path, default=None, metavar="DIR", help=DATA_OPTION_HELP)


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
        return 0
    return EXIT_ALL_REFUSED if len(refused) == len(results) else EXIT_SOME_REFUSED
