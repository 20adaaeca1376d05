"""The `balancelab` command: parse, call the engine, print. Errors reach the person with advice.

This module is the dispatcher: it lists the commands (`COMMANDS`), builds the parser and runs
the chosen command's handler. Each group of commands lives in its own module (`analyze`,
`imports`, `simulate`, `stream`, `ble`), imported only when one of its commands is chosen.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Collection, Sequence

from balancelab.cli.common import (
    ExitCode,
    add_debug_option,
    exit_codes_epilog,
    report_error,
    stdout_closed,
)
from balancelab.errors import BalancelabError

Handler = Callable[[argparse.Namespace], int]
Adder = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


COMMANDS: dict[str, str] = {
    "simulate": "record a session of the simulated athlete, with its ground truth",
    "import": "import phyphox, Sensor Logger, force-plate or CSV files as sessions",
    "examples": "write the example dataset (a simulated athlete over six weeks)",
    "analyze": "sway, time to stabilization and asymmetry of recorded sessions",
    "demo": "record a session of the simulated athlete and analyse it",
    "stream": "record a live source (simulated athlete, replay, phone, sensor) into the dataset",
    "scan": "list the Bluetooth sensors in range (DIY, Polar, WitMotion …)",
}
"""Each sub-command and its line under `balancelab --help`, in the order listed there; the
module of each command registers the same line (tests/test_cli_imports.py checks them)."""


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
    _adder(name)(commands)


def _adder(name: str) -> Adder:
    """The function that registers command `name`, from the module of its group."""
    # each module imported only when its command is chosen: --help and the others skip it
    match name:
        case "analyze":
            from balancelab.cli.analyze import add_analyze_command  # noqa: PLC0415

            return add_analyze_command
        case "import":
            from balancelab.cli.imports import add_import_command  # noqa: PLC0415

            return add_import_command
        case "simulate":
            from balancelab.cli.simulate import add_simulate_command  # noqa: PLC0415

            return add_simulate_command
        case "examples":
            from balancelab.cli.simulate import add_examples_command  # noqa: PLC0415

            return add_examples_command
        case "demo":
            from balancelab.cli.simulate import add_demo_command  # noqa: PLC0415

            return add_demo_command
        case "stream":
            from balancelab.cli.stream import add_stream_command  # noqa: PLC0415

            return add_stream_command
        case "scan":
            from balancelab.cli.ble import add_scan_command  # noqa: PLC0415

            return add_scan_command
    raise ValueError(f"no command {name!r}")


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line: its first word that is not an option (the
    top-level options take no value). None for none or an unknown one (argparse says so)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


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
