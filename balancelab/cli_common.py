"""What the command modules share: where the dataset lives, its folder option, recovery notes.

`cli.py` and the command modules it registers (`cli_stream`, …) import these from here, so no
command module needs to import `cli` itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import platformdirs

from balancelab.engine.jobs import open_or_create
from balancelab.formats.dataset import RecoveryReport

DATA_OPTION_HELP = "the dataset folder (default: $BALANCELAB_DATA or your user data folder)"


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
