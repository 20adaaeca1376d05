"""The command line as a person uses it: real files, real exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from balancelab.cli import main
from balancelab.formats.bids_reader import read_session
from balancelab.model import Side, Surface, TrialType, Vision
from tests.support import SHARED_DATA


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_writes_a_readable_session_and_its_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        [
            "simulate",
            "--scenario",
            "step_down",
            "--out",
            str(tmp_path),
            "--seed",
            "4",
            "--start",
            "2026-10-01T09:00:00",
        ],
        capsys,
    )
    assert code == 0, err
    session_dir = tmp_path / "sub-sim01" / "ses-20261001T090000"
    assert f"session:      {session_dir}" in out
    session = read_session(session_dir)
    assert [t.trial_type for t in session.trials].count(TrialType.STEP_DOWN) == 10
    truth_path = tmp_path / "derivatives" / "simulation" / "sub-sim01" / "ses-20261001T090000"
    truth = json.loads(next(truth_path.glob("*_truth.json")).read_text())
    assert truth["seed"] == 4
    assert len(truth["trials"]) == len(session.trials)


def test_simulate_unknown_scenario_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["simulate", "--scenario", "moonwalk", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "moonwalk" in err and "single_leg_battery" in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_import_force_plate_file_as_one_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = SHARED_DATA / "bds" / "BDS00010.txt"
    code, out, _ = run_cli(
        [
            "import",
            str(source),
            "--athlete",
            "bds1",
            "--data",
            str(tmp_path),
            "--task",
            "quietstance",
            "--start",
            "2015-10-08T08:30:00",
            "--trial-type",
            "double_leg_hold",
            "--surface",
            "foam",
            "--vision",
            "closed",
        ],
        capsys,
    )
    assert code == 0, out
    session = read_session(tmp_path / "sub-bds1" / "ses-20151008T083000")
    (trial,) = session.trials
    assert (trial.trial_type, trial.side, trial.surface, trial.vision) == (
        TrialType.DOUBLE_LEG_HOLD,
        Side.BOTH,
        Surface.FOAM,
        Vision.CLOSED,
    )
    recording = session.recordings[0]
    assert trial.onset_s == pytest.approx(0.010) and trial.end_s == pytest.approx(60.0)
    # The file's columns are cm with COPx = antero-posterior: check against the text itself.
    raw = np.loadtxt(source, skiprows=1)
    np.testing.assert_allclose(recording.channel("cop_pos_y"), raw[:, 7] / 100.0, rtol=1e-12)
    np.testing.assert_allclose(recording.channel("cop_pos_x"), raw[:, 8] / 100.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\x01\x02garbage" * 10, "balancelab: error:"),
        (b"Time[s]\tCOPx[cm]\n0.0\t1.0\n0.1\tabc\n", "line"),
    ],
)
def test_import_bad_file_reports_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    source = tmp_path / "trial.txt"
    source.write_bytes(content)
    data = tmp_path / "data"
    code, _, err = run_cli(["import", str(source), "--athlete", "a1", "--data", str(data)], capsys)
    assert code == 2
    assert expected in err and "trial.txt" in err and "what to do:" in err
    assert "Traceback" not in err
    assert not (data / "sub-a1").exists()


def test_import_missing_file_and_bad_label(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        ["import", str(tmp_path / "nope.csv"), "--athlete", "a1", "--data", str(tmp_path / "d")],
        capsys,
    )
    assert code == 2 and "nope.csv" in err
    source = SHARED_DATA / "bds" / "BDS00001.txt"
    code, _, err = run_cli(
        ["import", str(source), "--athlete", "Ana Maria", "--data", str(tmp_path / "d")], capsys
    )
    assert code == 2 and "letters and digits" in err


def test_interrupted_session_is_recovered_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "demo_session",
                "--out",
                str(tmp_path),
                "--start",
                "2026-10-01T09:00:00",
            ]
        )
        == 0
    )
    capsys.readouterr()
    motion = next((tmp_path / "sub-sim01").rglob("*tracksys-simlowback_motion.tsv"))
    own = motion.with_name(motion.name.replace("_motion.tsv", "_balancelab.json"))
    meta = json.loads(own.read_text())
    meta["status"] = "recording"
    own.write_text(json.dumps(meta))
    lines = motion.read_bytes().splitlines(keepends=True)
    motion.write_bytes(b"".join(lines[:1000]) + lines[1000][:7])
    code, _, err = run_cli(
        [
            "simulate",
            "--scenario",
            "demo_session",
            "--out",
            str(tmp_path),
            "--start",
            "2026-10-02T09:00:00",
        ],
        capsys,
    )
    assert code == 0
    assert "recovered:" in err and "kept 1000 samples" in err
    assert len(read_session(motion.parent.parent).recording("simlowback").time_s) == 1000
