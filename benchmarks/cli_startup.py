"""Start-up of the `balancelab` command: the real command in fresh processes, best of N.

Every figure is a whole process, as a person or the app waits for it, beside `python -c pass`
(the interpreter's own start on this machine), or beside the same command run from another
source tree (`--against DIR`, e.g. a `git worktree` of an older commit) when one is given.
Targets (issue 9): `--help` <= 0.3 s, `analyze` of one session <= 0.5 s.

    python -m benchmarks.cli_startup [--repeats N] [--against DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import Figure, report

REPO = Path(__file__).resolve().parents[1]
ONE_SESSION = REPO / "recordings" / "sub-demo01" / "ses-20260907T073000"
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "balancelab --help": (["--help"], 0.3),
    "balancelab --version": (["--version"], None),
    "balancelab analyze --help": (["analyze", "--help"], 0.3),
    "balancelab simulate --list": (["simulate", "--list"], None),
    "balancelab analyze SESSION": (["analyze", str(ONE_SESSION)], 0.5),
    "balancelab analyze SESSION --json": (["analyze", str(ONE_SESSION), "--json"], 0.5),
}
"""What is timed: the words after `balancelab`, and the target (s)."""


def best_wall_time(argv: Sequence[str], repeats: int, tree: Path | None = None) -> float:
    """The fastest of `repeats` runs of `argv` (s), from process start to exit; `tree` puts
    another checkout's `balancelab` first on the path (this one's by default)."""
    tree = tree or REPO
    env = {**os.environ, "PYTHONPATH": str(tree)}
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, cwd=tree, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def balancelab(words: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "balancelab", *words]


def run(repeats: int = 7, against: Path | None = None) -> list[Figure]:
    """Time each command; the anchor is `python -c pass`, or the same command from `against`."""
    bare = best_wall_time([sys.executable, "-c", "pass"], repeats)
    figures = [Figure("python -c pass", bare, "s", "the interpreter alone")]
    for name, (words, target) in COMMANDS.items():
        seconds = best_wall_time(balancelab(words), repeats)
        if against is None:
            anchor, anchor_name = bare, "python -c pass"
        else:
            anchor, anchor_name = best_wall_time(balancelab(words), repeats, against), "before"
        figures.append(
            Figure(name, seconds, "s", anchor=anchor, anchor_name=anchor_name, target=target)
        )
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per command (best is kept)")
    parser.add_argument(
        "--against", type=Path, default=None, help="another source tree to time the same commands"
    )
    args = parser.parse_args(argv)
    report("CLI start-up", run(args.repeats, args.against))


if __name__ == "__main__":
    main()
