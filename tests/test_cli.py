"""The command line as a person uses it: real files, real exit codes, no tracebacks."""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from balancelab.cli import build_parser, main
from balancelab.cli.common import ExitCode
from balancelab.errors import SimulationError
from balancelab.formats.bids_reader import read_session
from balancelab.model import Side, Surface, TrialType, Vision
from balancelab.sim import simulate_session
from tests.support import REPO_ROOT, SHARED_DATA


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


# Exit codes, --debug and --data ----------------------------------------------------------------


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    epilog = out[out.index("exit codes:") :]
    for code in ExitCode:
        assert re.search(rf"^  {code.value}\s+\S", epilog, re.M), code
    assert [c.value for c in ExitCode] == [0, 1, 2, 3, 70, 129, 130, 141, 143]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command_shows_the_traceback(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["analyze", str(tmp_path / "nowhere")]
    code, _, err = run_cli(command, capsys)
    assert code == ExitCode.REFUSED and "Traceback" not in err
    debug = ["--debug", *command] if where == "before" else [*command, "--debug"]
    code, _, err = run_cli(debug, capsys)
    assert code == ExitCode.REFUSED
    assert "Traceback (most recent call last)" in err and "balancelab: error:" in err


def test_debug_after_the_command_does_not_undo_debug_before_it() -> None:
    parser = build_parser()
    assert parser.parse_args(["--debug", "demo"]).debug is True
    assert parser.parse_args(["demo", "--debug"]).debug is True
    assert parser.parse_args(["demo"]).debug is False


def test_every_command_that_touches_a_dataset_takes_data() -> None:
    """--data DIR names the dataset folder in every command but scan; --out stays an alias
    where it was the name."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        name: {s for a in sub._actions for s in a.option_strings if a.dest == "data"}
        for name, sub in commands.choices.items()
    }
    assert options.pop("scan") == set()
    assert options == {
        "simulate": {"--data", "--out"},
        "import": {"--data"},
        "examples": {"--data"},
        "analyze": {"--data"},
        "demo": {"--data"},
        "stream": {"--data", "--out"},
    }


def test_simulate_and_analyze_find_the_dataset_by_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate = ["simulate", "--scenario", "step_down", "--start", "2026-10-01T09:00:00"]
    code, _, err = run_cli([*simulate, "--data", str(tmp_path / "a")], capsys)
    assert code == ExitCode.OK, err
    code, _, err = run_cli([*simulate, "--out", str(tmp_path / "b")], capsys)  # the alias
    assert code == ExitCode.OK, err
    session = "sub-sim01/ses-20261001T090000"
    assert (tmp_path / "a" / session).is_dir() and (tmp_path / "b" / session).is_dir()
    code, out, err = run_cli(["analyze", "--data", str(tmp_path / "a"), "--json"], capsys)
    assert code == ExitCode.OK, err
    assert json.loads(out)  # the dataset's one session
    code, _, err = run_cli(["analyze", str(tmp_path / "b"), "--data", str(tmp_path / "a")], capsys)
    assert code == ExitCode.REFUSED and "both name the folder" in err and "what to do:" in err


def test_examples_write_into_data_and_need_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALANCELAB_DATA", str(tmp_path / "default"))
    code, _, err = run_cli(["examples"], capsys)
    assert code == ExitCode.REFUSED and "examples DIR" in err
    assert not (tmp_path / "default").exists()
    code, out, err = run_cli(["examples", "--data", str(tmp_path / "ex")], capsys)
    assert code == ExitCode.OK, err
    assert out.count("wrote ") == len(list((tmp_path / "ex").glob("sub-*/ses-*"))) > 0


def test_analyze_json_into_a_reader_that_stops_early_exits_quietly() -> None:
    """`balancelab analyze --json | head -1`: the reader closes the pipe after one line of
    a document far larger than the pipe's buffer; balancelab ends like any program cut off
    by SIGPIPE (141), with nothing on stderr."""
    command = [sys.executable, "-m", "balancelab", "analyze", str(REPO_ROOT / "recordings")]
    with subprocess.Popen(
        [*command, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == b"{\n"
        process.stdout.close()
        err = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert code == ExitCode.STDOUT_CLOSED, err
    assert "internal error" not in err and "Traceback" not in err and "Exception" not in err
    assert err == ""


def test_stdout_closed_exit_code_is_that_of_sigpipe() -> None:
    if hasattr(signal, "SIGPIPE"):
        assert ExitCode.STDOUT_CLOSED == 128 + signal.SIGPIPE


def test_scan_without_bluetooth_exits_3_with_the_reason(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from balancelab.sensors import ble  # noqa: PLC0415 (bleak loads only for this test)

    async def no_adapter(*args: object, **kwargs: object) -> list[object]:
        raise ble.BluetoothUnavailableError("no Bluetooth adapter found (bleak: No adapter)")

    monkeypatch.setattr(ble, "scan", no_adapter)
    code, out, err = run_cli(["scan", "--seconds", "1"], capsys)
    assert code == ExitCode.SOURCE_UNREACHABLE
    assert "no Bluetooth adapter found" in err and "what to do:" in err and out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--seed", "-1"],
        ["demo", "--seed", "-1"],
        ["stream", "sim", "--seed=-1", "--seconds", "1"],
    ],
)
def test_a_negative_seed_is_refused_before_anything_is_written(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10 item 8: `simulate --seed -1` ended in an internal error (exit 70).
    data = tmp_path / "data"
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--data", str(data)])
    assert stop.value.code == 2
    assert "not a whole number >= 0" in capsys.readouterr().err
    assert not data.exists()


def test_the_simulator_refuses_a_negative_seed() -> None:
    with pytest.raises(SimulationError, match="seed"):
        simulate_session("demo_session", seed=-1)


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--athlete", "a" * 5000],
        ["stream", "sim", "--seconds", "1", "--athlete", "a" * 5000],
        [
            "import",
            str(SHARED_DATA / "bds" / "BDS00001.txt"),
            "--athlete",
            "a" * 5000,
            "--trial-type",
            "double_leg_hold",
        ],
        ["examples", "--force-plate-data", "/nonexistent-folder"],
    ],
)
def test_a_refused_command_leaves_no_trace(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10 item 4: a refused 5000-character label still added a participants.tsv row;
    # `examples` checked its force-plate folder only after writing the simulated sessions.
    data = tmp_path / "data"
    code, _, err = run_cli([*argv, "--data", str(data)], capsys)
    assert code == 2
    assert "what to do:" in err and "Traceback" not in err
    assert not data.exists()
