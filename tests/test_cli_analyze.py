"""`balancelab analyze` and `balancelab demo` as a person runs them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from balancelab.cli import main
from balancelab.dsp.sway import prediction_ellipse
from balancelab.formats.bids_reader import read_session
from balancelab.formats.bids_writer import open_session, write_session
from balancelab.formats.dataset import Participant
from balancelab.model import Session, StreamSpec, cop_channels
from tests.support import REPO_ROOT, SHARED_DATA

DEMO_SESSION = REPO_ROOT / "recordings" / "sub-demo01" / "ses-20260907T073000"
TRIAL_KEYS = {
    "onset_s",
    "duration_s",
    "trial_type",
    "side",
    "surface",
    "vision",
    "outcome",
    "valid",
    "quality",
    "touchdowns_s",
    "settings",
    "metrics",
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_session_json_is_one_document_with_trials_and_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(["analyze", str(DEMO_SESSION), "--json"], capsys)
    assert code == 0
    (document,) = json.loads(out)["sessions"]
    assert document["athlete"] == "demo01"
    assert len(document["trials"]) == 8
    for trial in document["trials"]:
        assert trial.keys() >= TRIAL_KEYS
        for metric in trial["metrics"].values():
            assert {"value", "unit"} <= metric.keys()
            assert metric["value"] is None or np.isfinite(metric["value"])
            assert isinstance(metric["settings"], dict)  # the method's own settings
        if "tts" in trial["metrics"] and trial["valid"]:
            assert trial["metrics"]["tts"]["settings"]["reference"] == "single_leg_hold"
    summary = document["summary"]["simlowback"]
    assert {"single_leg_hold/firm/open", "step_down/firm/open"} <= summary.keys()
    assert {"left", "right", "asymmetry"} <= summary["single_leg_hold/firm/open"].keys()


def test_analyze_dataset_gives_every_session(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["analyze", str(REPO_ROOT / "recordings"), "--json"], capsys)
    assert code == 0
    sessions = json.loads(out)["sessions"]
    assert sorted({s["athlete"] for s in sessions}) == ["bds1", "bds4", "demo01", "pds13"]
    assert len(sessions) == 10


def test_analyze_a_force_plate_file_as_one_hold(capsys: pytest.CaptureFixture[str]) -> None:
    source = SHARED_DATA / "bds" / "BDS00001.txt"
    code, out, _ = run_cli(
        ["analyze", str(source), "--json", "--trial-type", "double_leg_hold"], capsys
    )
    assert code == 0
    ((trial,),) = [s["trials"] for s in json.loads(out)["sessions"]]
    area = trial["metrics"]["sway_area_95"]
    assert area["unit"] == "mm^2"
    # Independent check: the analysed window (onset + 2 s to + 32 s) of the raw file, mm.
    raw = np.loadtxt(source, skiprows=1)
    rows = (raw[:, 0] >= raw[0, 0] + 2.0) & (raw[:, 0] < raw[0, 0] + 32.0)
    expected = prediction_ellipse(raw[rows, 7] * 10, raw[rows, 8] * 10, unit="mm").area
    assert expected is not None
    # The analysis low-pass filters at 10 Hz; quiet-stance COP has almost no power there, so
    # the area agrees within 2 %.
    assert area["value"] == pytest.approx(expected, rel=0.02)


def test_analyze_table_and_bad_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["analyze", str(DEMO_SESSION)], capsys)
    assert code == 0
    assert "single-leg hold" in out and "per side" in out and "worse than" in out
    assert "TTS no value (missing samples)" in out  # a missing value says why (a trial with a gap)
    assert all(len(line) <= 80 for line in out.splitlines())
    code, _, err = run_cli(["analyze", str(tmp_path / "missing")], capsys)
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    foreign = tmp_path / "notes.txt"
    foreign.write_text("dear diary\n")
    code, _, err = run_cli(["analyze", str(foreign)], capsys)
    assert code == 2 and "notes.txt" in err and "Traceback" not in err


def test_demo_records_and_analyses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALANCELAB_DATA", str(tmp_path))
    code, out, _ = run_cli(["demo", "--seed", "2"], capsys)
    assert code == 0
    assert "Simulated athlete recorded into" in out and "per side" in out
    assert len(list((tmp_path / "sub-demo").glob("ses-*"))) == 1
    assert len(list((tmp_path / "derivatives").rglob("*_truth.json"))) == 1


def test_analyze_dataset_skips_a_live_session_and_reports_recovery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "recordings", dataset)
    interrupted = next((dataset / "sub-bds4").rglob("*_balancelab.json"))
    meta = json.loads(interrupted.read_text())
    meta["status"] = "recording"
    interrupted.write_text(json.dumps(meta))
    motion = interrupted.with_name(interrupted.name.replace("_balancelab.json", "_motion.tsv"))
    motion.write_bytes(motion.read_bytes() + b"0.5\t1")
    spec = StreamSpec("live", cop_channels(), 100.0)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with open_session(dataset, athlete="demo01", start_utc=start, task="x", streams=[spec]) as w:
        w.append("live", np.array([0.0, 0.01]), np.zeros((2, 2)))
        w.flush()
        code, out, err = run_cli(["analyze", str(dataset), "--json"], capsys)
    assert code == 0
    assert "recovered:" in err and motion.name in err
    assert "skipped:" in err and "ses-20261101T090000" in err
    assert len(json.loads(out)["sessions"]) == 10


def test_trial_options_must_fit_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        ["analyze", str(DEMO_SESSION), "--trial-type", "single_leg_hold"], capsys
    )
    assert code == 2 and "only to a file or export to import" in err
    source = SHARED_DATA / "bds" / "BDS00001.txt"
    code, _, err = run_cli(["analyze", str(source), "--vision", "closed"], capsys)
    assert code == 2 and "--vision" in err and "--trial-type" in err


def test_an_unexpected_failure_is_reported_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's last net: a bug anywhere below it ends in a message, not a traceback."""

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("balancelab.engine.analyze.plan_analysis", broken)
    code, _, err = run_cli(["analyze", str(DEMO_SESSION)], capsys)
    assert code == 70
    assert "internal error: RuntimeError: disk on fire" in err and "--debug" in err
    assert "Traceback" not in err


def test_one_broken_session_does_not_stop_the_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10 item 7: a session that cannot be read stopped the analysis of every other one.
    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "recordings", data)
    broken = next((data / "sub-bds1").glob("ses-*"))
    motion = next((broken / "motion").glob("*_motion.tsv"))
    with motion.open("a") as f:
        f.write("1.0\tnot-a-number\n")
    code, out, err = run_cli(["analyze", str(data), "--json"], capsys)
    assert code == 1  # done in part: the failure is named, the rest analysed
    document = json.loads(out)
    assert len(document["sessions"]) == 9
    assert str(broken) not in {s["source"] for s in document["sessions"]}
    (failure,) = document["failed"]
    assert failure["source"] == str(broken) and motion.name in failure["message"]
    assert f"not analysed: {broken}" in err and "what to do:" in err
    code, out, _ = run_cli(["analyze", str(data)], capsys)
    assert code == 1 and "sub-pds13" in out and "sub-bds4" in out


def many_sessions(root: Path, count: int) -> Path:
    """A dataset of `count` copies of the demo session, a day apart (real files, each read and
    analysed on its own)."""
    session = read_session(DEMO_SESSION)
    for day in range(count):
        start = session.start_utc + timedelta(days=day + 1)
        copy = Session(tuple(replace(r, start_utc=start) for r in session.recordings))
        write_session(root, copy, participant=Participant(session.athlete))
    return root


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_a_pool_prints_what_one_process_prints(
    output: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = str(REPO_ROOT / "recordings")
    code, alone, _ = run_cli(["analyze", dataset, "--jobs", "1", *output], capsys)
    assert code == 0
    code, pooled, _ = run_cli(["analyze", dataset, "--jobs", "2", *output], capsys)
    assert code == 0
    assert pooled == alone
    if output:  # printed a session at a time, laid out as one json.dumps of the document
        document = json.loads(pooled)
        assert pooled == json.dumps(document, indent=1) + "\n"
        assert [s["source"] for s in document["sessions"]] == [
            str(d) for d in sorted((REPO_ROOT / "recordings").glob("sub-*/ses-*"))
        ]


@pytest.mark.parametrize("jobs", ["0", "-1", "two", "1.5"])
def test_jobs_must_be_a_number_of_processes(jobs: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["analyze", str(DEMO_SESSION), f"--jobs={jobs}"])
    _, err = capsys.readouterr()
    assert stop.value.code == 2
    assert "--jobs" in err and "not a number of processes" in err and "Traceback" not in err


def test_a_broken_session_is_named_by_a_pool_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "recordings", data)
    broken = next((data / "sub-demo01").glob("ses-*"))
    motion = next((broken / "motion").glob("*_motion.tsv"))
    with motion.open("a") as f:
        f.write("1.0\tnot-a-number\n")
    code, out, err = run_cli(["analyze", str(data), "--json", "--jobs", "2"], capsys)
    assert code == 1
    document = json.loads(out)
    assert len(document["sessions"]) == 9
    (failure,) = document["failed"]
    assert failure["source"] == str(broken) and motion.name in failure["message"]
    assert f"not analysed: {broken}" in err and "what to do:" in err


def test_ctrl_c_stops_a_pooled_analysis_quietly_and_leaves_no_worker(tmp_path: Path) -> None:
    count = 16
    dataset = many_sessions(tmp_path / "data", count)
    command = [sys.executable, "-m", "balancelab", "analyze", str(dataset), "--jobs", "2"]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        first = child.stdout.readline() if child.stdout else ""
        assert first.startswith("sub-demo01"), first  # the pool is running: Ctrl-C now
        os.killpg(child.pid, signal.SIGINT)  # as a terminal does: the whole process group
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130
    assert "balancelab: interrupted" in err and "Traceback" not in err and "Error" not in err
    assert (first + out).count("sub-demo01  ses-") < count  # stopped before the end
    with pytest.raises(ProcessLookupError):  # no worker outlived the command
        os.killpg(child.pid, 0)


def test_analyze_an_athlete_folder_gives_their_sessions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A coach points at one athlete's folder of a dataset (here by a relative path): all their
    sessions, nobody else's."""
    monkeypatch.chdir(REPO_ROOT)
    code, out, _ = run_cli(["analyze", "recordings/sub-demo01", "--json"], capsys)
    assert code == 0
    sessions = json.loads(out)["sessions"]
    assert {s["athlete"] for s in sessions} == {"demo01"}
    assert len(sessions) == len(list((REPO_ROOT / "recordings" / "sub-demo01").glob("ses-*")))
