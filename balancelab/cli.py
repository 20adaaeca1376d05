"""The `balancelab` command: parse, call the engine, print. Errors reach the person with advice."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from balancelab import __version__
from balancelab.errors import BalancelabError

EXIT_USER_ERROR = 2
Handler = Callable[[argparse.Namespace], int]


def default_dataset_root() -> Path:
    """Where recordings go unless --data says otherwise: $BALANCELAB_DATA or the user data dir."""
    env = os.environ.get("BALANCELAB_DATA")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("balancelab", appauthor=False) / "recordings"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="balancelab",
        description="Balance assessment: sway, time to stabilization, left/right asymmetry.",
    )
    parser.add_argument("--version", action="version", version=f"balancelab {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    return parser


def report_error(error: BalancelabError, *, debug: bool) -> None:
    """Print a domain error for a person: what happened, then what to do."""
    if debug:
        traceback.print_exception(error)
    print(f"balancelab: error: {error.message}", file=sys.stderr)
    print(f"  what to do: {error.advice}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except BalancelabError as error:
        report_error(error, debug=args.debug)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("balancelab: interrupted", file=sys.stderr)
        return 130
