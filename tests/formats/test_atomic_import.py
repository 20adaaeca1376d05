"""All or nothing: an import, a simulation or the examples interrupted by Ctrl-C or a kill leave
no session behind (issue 10, item 1, and "Done when"). Real processes and real signals: each
command runs as `python -m balancelab` and is signalled while it writes its rows, which the test
sees as the rows appearing in its staged (hidden) folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from balancelab.formats.bids_reader import read_recording, read_session, read_stream_info
from balancelab.formats.dataset import list_sessions, open_dataset
from tests.support import REPO_ROOT

ROWS = 200_000
CSV_ARGS = (
    "--columns", "time=t,acc_x=ax,acc_y=ay,acc_z=az,time_units=ms,acc_units=g",
    "--tracked-point", "lowback", "--trial-type", "single_leg_hold", "--athlete", "a1",
    "--start", "2026-01-01T00:00:00",
)  # fmt: skip
WAIT_S = 600.0
ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200,000-row accelerometer table (100 Hz, 33 minutes)."""
    path = tmp_path_factory.mktemp("csv") / "big.csv"
    acc = np.random.default_rng(1).normal(size=(ROWS, 3))
    table = np.column_stack([np.arange(ROWS) * 10.0, acc])
    with open(path, "w") as fh:
        fh.write("t,ax,ay,az\n")
        np.savetxt(fh, table, delimiter=",", fmt="%.6f")
    return path


def balancelab(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "balancelab", *args]
    pipe = subprocess.PIPE
    return subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True, env=ENV)


def rows_being_written(root: Path) -> bool:
    """True once rows reach a motion.tsv, staged (hidden) or in the dataset itself."""
    for pattern in (".staged-*/sub-*/ses-*/motion/*_motion.tsv", "sub-*/ses-*/motion/*_motion.tsv"):
        if any(path.stat().st_size > 0 for path in root.glob(pattern)):
            return True
    return False


def wait_for_rows(child: subprocess.Popen[str], root: Path) -> None:
    """Return as soon as the child writes rows."""
    deadline = time.monotonic() + WAIT_S
    while not rows_being_written(root):
        assert child.poll() is None, f"ended before writing was seen: {child.communicate()}"
        assert time.monotonic() < deadline, "no rows were written in time"
        time.sleep(0.002)


def signal_while_writing(child: subprocess.Popen[str], root: Path, signum: int) -> str:
    """Send `signum` to the child as soon as it writes rows; returns its stderr."""
    wait_for_rows(child, root)
    child.send_signal(signum)
    _, err = child.communicate(timeout=WAIT_S)
    return err


def assert_nothing_entered(root: Path) -> None:
    """No session folder and no athlete row: the dataset is as before the command."""
    assert list(root.glob("sub-*")) == []
    assert list(root.glob("derivatives/**/*.json")) == []
    assert (root / "participants.tsv").read_text().splitlines()[1:] == []
    assert list_sessions(root) == []


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "balancelab", *args]
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=ENV, timeout=WAIT_S
    )


def assert_import_whole(root: Path) -> None:
    (motion_tsv,) = root.glob("sub-a1/ses-20260101T000000/motion/*_motion.tsv")
    assert read_stream_info(motion_tsv).status == "complete"
    assert read_recording(motion_tsv).time_s.size == ROWS
    assert (root / "participants.tsv").read_text().splitlines()[1:] == ["sub-a1\tn/a\tn/a"]
    assert list(root.glob(".staged-*")) == []


def test_ctrl_c_during_an_import_leaves_nothing_and_the_import_runs_again(
    tmp_path: Path, big_csv: Path
) -> None:
    root = tmp_path / "data"
    child = balancelab("import", str(big_csv), "--data", str(root), *CSV_ARGS)
    err = signal_while_writing(child, root, signal.SIGINT)

    assert child.returncode == 130 and "interrupted" in err
    assert_nothing_entered(root)
    assert list(root.glob(".staged-*")) == []  # cleaned up by the interrupted process itself

    again = run("import", str(big_csv), "--data", str(root), *CSV_ARGS)
    assert again.returncode == 0, again.stderr
    assert_import_whole(root)


def test_a_killed_import_leaves_nothing_in_the_dataset_and_the_import_runs_again(
    tmp_path: Path, big_csv: Path
) -> None:
    root = tmp_path / "data"
    child = balancelab("import", str(big_csv), "--data", str(root), *CSV_ARGS)
    signal_while_writing(child, root, signal.SIGKILL)

    assert child.returncode == -signal.SIGKILL
    assert_nothing_entered(root)
    assert list(root.glob(".staged-*"))  # the kill left its hidden folder: the next opening
    # removes it and says so

    again = run("import", str(big_csv), "--data", str(root), *CSV_ARGS)
    assert again.returncode == 0, again.stderr
    assert "interrupted before it was whole (sub-a1/ses-20260101T000000) was removed" in (
        " ".join(again.stderr.split())
    )
    assert_import_whole(root)


def test_a_killed_simulation_leaves_neither_session_nor_truth(tmp_path: Path) -> None:
    root = tmp_path / "data"
    args = ("--scenario", "single_leg_battery", "--seed", "3", "--data", str(root))
    start = ("--start", "2026-02-01T08:00:00")
    child = balancelab("simulate", *args, *start)
    signal_while_writing(child, root, signal.SIGKILL)

    assert child.returncode == -signal.SIGKILL
    assert_nothing_entered(root)
    again = run("simulate", *args, *start)
    assert again.returncode == 0, again.stderr
    assert "was removed; none of it had entered the dataset" in " ".join(again.stderr.split())
    (session_dir,) = root.glob("sub-sim01/ses-20260201T080000")
    assert len(read_session(session_dir).trials) == 8
    assert len(list(root.glob("derivatives/simulation/sub-sim01/ses-*/*_truth.json"))) == 1


def test_ctrl_c_during_examples_leaves_no_example_session(tmp_path: Path) -> None:
    root = tmp_path / "examples"
    child = balancelab("examples", str(root))
    wait_for_rows(child, root)
    # Opening the dataset meanwhile (another command) leaves the live write alone.
    assert open_dataset(root).recovered == () and child.poll() is None
    assert rows_being_written(root)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=WAIT_S)

    assert child.returncode == 130 and "interrupted" in err
    assert_nothing_entered(root)
    assert list(root.glob(".staged-*")) == []
    again = run("examples", str(root))
    assert again.returncode == 0, again.stderr
    assert len(open_dataset(root).session_dirs()) == 4


CHILD_KILLED_WHILE_MOVING = """
import os, signal, sys
from pathlib import Path

replace = os.replace


def replace_then_die(source, destination):
    replace(source, destination)
    if Path(destination).is_dir():  # the first folder moved into the dataset: die right there
        os.kill(os.getpid(), signal.SIGKILL)


os.replace = replace_then_die
from balancelab.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_while_moving_a_whole_simulation_in_is_finished_at_the_next_opening(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    args = ["simulate", "--scenario", "wobble_board", "--data", str(root), "--seed", "4"]
    args += ["--start", "2026-03-01T09:00:00"]
    command = [sys.executable, "-c", CHILD_KILLED_WHILE_MOVING, *args]
    child = subprocess.run(
        command, check=False, capture_output=True, text=True, env=ENV, timeout=WAIT_S
    )

    assert child.returncode == -signal.SIGKILL, child.stderr
    # Killed between its two moves: the truth is in, the session is still staged.
    assert list(root.glob("derivatives/simulation/sub-sim01/ses-*/*_truth.json"))
    assert list(root.glob("sub-*")) == []

    (report,) = open_dataset(root).recovered

    assert report.changed and "the move was finished" in report.describe()
    (session_dir,) = root.glob("sub-sim01/ses-20260301T090000")
    session = read_session(session_dir)
    assert [r.tracksys for r in session.recordings] == ["simboard", "simlowback"]
    assert (root / "participants.tsv").read_text().splitlines()[1:] == ["sub-sim01\tn/a\tn/a"]
    assert list(root.glob(".staged-*")) == []
    assert open_dataset(root).recovered == ()
