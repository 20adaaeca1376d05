"""The command line imports a command's machinery only when that command runs.

`balancelab --help` must not pay for scipy, the simulator or the analysis (issue 9 §2: it took
1.66 s because the CLI imported them all). These tests look at the modules a real process has
loaded, not at the clock: benchmarks/cli_startup.py measures the time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from balancelab.cli import COMMANDS, build_parser

HEAVY = ("scipy", "balancelab.sim.session", "balancelab.dsp", "balancelab.engine", "asyncio")
"""What no parser and no `--help` needs: scipy, the session simulator, the analysis, the
engine's jobs, the event loop of `stream` and `scan`."""


def modules_after(argv: list[str]) -> tuple[int, str, set[str]]:
    """Run `balancelab ARGV` in a fresh interpreter; its exit code (argparse's SystemExit for
    --help, --version and usage errors), stdout and the modules it had loaded."""
    script = (
        "import json, sys\n"
        "from balancelab.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code or 0\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], done.stdout, set(report["modules"])


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_importing_the_cli_loads_no_command_machinery() -> None:
    script = "import sys, balancelab.cli; print('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(done.stdout.split())
    assert "balancelab.cli" in modules
    for package in (*HEAVY, "numpy", "balancelab.model", "balancelab.formats"):
        assert not loaded(modules, package), package


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["analyze", "--help"], ["simulate", "--help"], ["nonsense"]],
)
def test_help_usage_and_version_load_no_command_machinery(argv: list[str]) -> None:
    code, out, modules = modules_after(argv)
    assert code == (2 if argv == ["nonsense"] else 0)
    if argv == ["--help"]:
        assert all(name in out for name in COMMANDS)
    for package in HEAVY:
        assert not loaded(modules, package), (argv, package)
    if argv[0] in ("--help", "--version", "nonsense"):  # no command chosen: not even numpy
        assert not loaded(modules, "numpy"), argv


def test_listing_the_scenarios_does_not_load_scipy() -> None:
    code, out, modules = modules_after(["simulate", "--list"])
    assert code == 0 and "demo_session" in out
    assert not loaded(modules, "scipy") and not loaded(modules, "balancelab.sim.session")


def test_the_help_line_of_every_command_is_the_one_its_module_gives() -> None:
    """`balancelab --help` lists COMMANDS without importing the commands' modules; each line
    must still be the help the command itself registers (stream's lives in cli.stream)."""
    parser = build_parser()  # every command in full
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {action.dest: action.help for action in commands._choices_actions}
    assert registered == COMMANDS


def test_the_chosen_command_alone_is_built_in_full() -> None:
    parser = build_parser(full=("analyze",))
    args = parser.parse_args(["analyze", "somewhere", "--jobs", "2", "--json"])
    assert (args.jobs, args.json) == (2, True)
    with pytest.raises(SystemExit):  # the others are one help line, without options
        parser.parse_args(["simulate", "--seed", "1"])
