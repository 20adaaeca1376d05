"""Datasets written by balancelab pass the official BIDS validator (3.x) with zero errors."""

from __future__ import annotations

import re
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
from tests.support import REPO_ROOT
from tests.support.validator import ValidatorReport, run_validator

ACCEPTED_WARNINGS = {
    # dataset_description.json: the authors are the user's to fill in
    "NO_AUTHORS",
    "TOO_FEW_AUTHORS",
    # RECOMMENDED (not REQUIRED) keys balancelab cannot know: institution, device serial
    # number, HED version, licence of the athlete's data, a count for each channel type the
    # recording does not have
    "SIDECAR_KEY_RECOMMENDED",
    "JSON_KEY_RECOMMENDED",
}


def assert_valid(report: ValidatorReport) -> None:
    assert report.errors == (), "\n".join(str(issue) for issue in report.errors)
    assert {w.key for w in report.warnings} <= ACCEPTED_WARNINGS, "\n".join(
        str(w) for w in report.warnings if w.key not in ACCEPTED_WARNINGS
    )


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
    """The validator really reads the session: without .bidsignore, balancelab's own sidecars
    (and only they) are errors, as files BIDS does not know."""
    write_example_session(tmp_path)
    (tmp_path / ".bidsignore").unlink()
    errors = run_validator(tmp_path).errors
    assert {issue.key for issue in errors} == {"NOT_INCLUDED", "SIDECAR_WITHOUT_DATAFILE"}
    assert all(issue.location.endswith("_balancelab.json") for issue in errors), errors


def test_the_validator_reads_every_row_of_a_motion_tsv(tmp_path: Path) -> None:
    """Rows past the validator's default first 1000 are checked too (`--max-rows -1`): a row
    with a value missing there is an error (TSV_EQUAL_ROWS)."""
    session_dir = write_example_session(tmp_path, imu_rows=2000)
    motion = sorted(session_dir.rglob("*_motion.tsv"), key=lambda p: p.stat().st_size)[-1]
    lines = motion.read_bytes().splitlines(keepends=True)
    assert len(lines) > 1500
    lines[1500] = lines[1500].split(b"\t", 1)[1]  # its first value gone
    motion.write_bytes(b"".join(lines))
    errors = run_validator(tmp_path).errors
    assert [(issue.key, Path(issue.location).name) for issue in errors] == [
        ("TSV_EQUAL_ROWS", motion.name)
    ]


def test_the_test_command_needs_no_node() -> None:
    """CI runs the README's test command (.ci/run reads it): pip installs the validator with
    the test extra, so neither that command nor CI's apt list brings Node or npm."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"<!-- test-command -->\s*```sh\n(.*?)```\s*<!-- /test-command -->", readme, re.S
    )
    assert found is not None, "README.md has no test-command block"
    command = found.group(1)
    assert "pip install -e '.[test]'" in command and "pytest" in command
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for text in (command, ci):
        assert not re.search(r"\b(npm|nodejs|node|npx)\b", text), text
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"bids-validator-deno>=' in pyproject
