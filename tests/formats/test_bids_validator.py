"""Datasets written by balancelab pass the official bids-validator with zero errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from balancelab.formats.bids_writer import open_session
from balancelab.formats.dataset import recover_dataset
from tests.formats.test_bids_recovery import break_last_line
from tests.formats.test_bids_roundtrip import (
    PLATE_SPEC,
    START_UTC,
    TRIALS,
    cop_data,
    write_example_session,
)
from tests.support.validator import ValidatorReport, run_validator

ACCEPTED_WARNINGS = {
    "NO_AUTHORS",  # dataset_description.json: the authors are the user's to fill in
    "CUSTOM_COLUMN_WITHOUT_DESCRIPTION",  # 1.x reads the headerless motion.tsv's first row as one
}


def assert_valid(report: ValidatorReport) -> None:
    assert report.errors == (), "\n".join(str(issue) for issue in report.errors)
    assert {w.key for w in report.warnings} <= ACCEPTED_WARNINGS, report.warnings


def test_a_fresh_session_has_zero_validator_errors(tmp_path: Path) -> None:
    write_example_session(tmp_path)
    assert_valid(run_validator(tmp_path))


def test_a_plate_with_vertical_force_has_zero_validator_errors(tmp_path: Path) -> None:
    """FORMAT.md's optional vertical force (MISC, N, component z) is valid Motion-BIDS."""
    time_s, cop_m = cop_data(120)
    with open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="plate", streams=[PLATE_SPEC]
    ) as writer:
        writer.append("plate", time_s, np.column_stack([cop_m, np.full(time_s.size, 700.0)]))
        writer.add_trial(TRIALS[0])
    assert_valid(run_validator(tmp_path))


def test_a_recovered_session_has_zero_validator_errors(tmp_path: Path) -> None:
    break_last_line(write_example_session(tmp_path), b"3.0\t1.2")
    assert recover_dataset(tmp_path)
    assert_valid(run_validator(tmp_path))


def test_the_validator_sees_balancelab_files_without_the_bidsignore(tmp_path: Path) -> None:
    write_example_session(tmp_path)
    (tmp_path / ".bidsignore").unlink()
    keys = {issue.key for issue in run_validator(tmp_path).errors}
    assert keys == {"NOT_INCLUDED"}
