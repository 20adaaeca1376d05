"""Links out of the dataset: balancelab never writes, truncates or renames through them, and
says so (issue 10, item 10). Links are made with os.symlink, as a person (or an attacker) would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from balancelab.errors import DatasetError
from balancelab.formats.bids_writer import open_session
from balancelab.formats.dataset import Participant, add_participant, open_dataset
from tests.formats.test_bids_recovery import break_last_line, snapshot
from tests.formats.test_bids_roundtrip import COP_SPEC, START_UTC, write_example_session
from tests.support import REPO_ROOT


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m balancelab` in its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "balancelab", *args]
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=600
    )


def test_recovery_does_not_truncate_a_motion_tsv_linked_out_of_the_dataset(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    outside.mkdir()
    motion_tsv = break_last_line(write_example_session(root), b"3.0\t1.25\t-0.")
    target = outside / "precious.tsv"
    motion_tsv.replace(target)  # the person's own file, reached through a link
    motion_tsv.symlink_to(target)
    before, inside = target.read_bytes(), snapshot(root)

    dataset = open_dataset(root)

    assert target.read_bytes() == before  # the unfinished last line is still there
    assert snapshot(root) == inside and motion_tsv.is_symlink()
    (report,) = dataset.recovered
    assert not report.changed and report.problem is not None
    assert str(motion_tsv) in report.problem and "outside the dataset" in report.problem
    assert report.advice is not None and "Replace the link" in report.advice
    assert "NOT recovered" in report.describe()
    # Every command that opens the dataset says so on stderr, and still changes nothing.
    result = cli("analyze", str(root))
    assert "not recovered" in result.stderr and "outside the dataset" in result.stderr
    assert target.read_bytes() == before


def test_recovery_does_not_write_into_a_session_folder_linked_out_of_the_dataset(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    session_dir = write_example_session(root)
    break_last_line(session_dir, b"3.0\t1.25\t-0.")
    session_dir.replace(outside)
    session_dir.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)

    reports = open_dataset(root).recovered

    assert snapshot(outside) == before
    assert reports and all(
        not r.changed and "outside the dataset" in str(r.problem) for r in reports
    )


def test_simulate_refuses_to_write_its_truth_through_a_linked_derivatives_folder(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    outside.mkdir()
    assert cli("simulate", "--scenario", "wobble_board", "--data", str(root)).returncode == 0
    before = snapshot(root / "derivatives")
    (root / "derivatives").replace(outside / "derivatives")
    (root / "derivatives").symlink_to(outside / "derivatives", target_is_directory=True)
    sessions = sorted(p.name for p in root.glob("sub-sim01/ses-*"))

    result = cli(
        "simulate", "--scenario", "wobble_board", "--start", "2026-05-01T10:00:00",
        "--data", str(root),
    )  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert str(root / "derivatives") in result.stderr and "outside the dataset" in result.stderr
    assert "what to do: Replace the link" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(outside / "derivatives") == before  # no truth written through the link
    assert sorted(p.name for p in root.glob("sub-sim01/ses-*")) == sessions  # nor a session
    assert not list(root.glob(".staged-*"))


def test_a_new_session_is_not_created_through_an_athlete_folder_linked_outside(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    outside.mkdir()
    write_example_session(root)
    (root / "sub-bo02").symlink_to(outside, target_is_directory=True)

    try:
        open_session(root, athlete="bo02", start_utc=START_UTC, task="t", streams=[COP_SPEC])
    except DatasetError as error:
        assert "outside the dataset" in error.message
    else:
        raise AssertionError("a session was opened through a link out of the dataset")
    assert list(outside.iterdir()) == []  # no folder made there either


def test_an_atomic_write_does_not_follow_a_link_planted_at_its_temporary_name(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    outside.mkdir()
    write_example_session(root)
    target = outside / "precious.txt"
    target.write_text("keep me\n")
    (root / f".participants.tsv.{os.getpid()}.tmp").symlink_to(target)

    add_participant(root, Participant("bo02"))

    assert target.read_text() == "keep me\n"
    participants = root / "participants.tsv"
    assert not participants.is_symlink() and "sub-bo02" in participants.read_text()
    assert json.loads((root / "participants.json").read_text())["participant_id"]
