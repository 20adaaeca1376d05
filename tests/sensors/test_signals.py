"""Signals during `balancelab stream`: SIGTERM, SIGHUP and Ctrl-C (SIGINT) close the session
as cleanly as each other, and the trial under way is kept, `aborted`, with its samples.

Real processes and real signals: a simulated session (one 20-s double-leg hold from 2 s) is
streamed at 2x real time (`replay:`, the simulated athlete's player, without simulating in each
process); each test waits until the hold has run 9 s, sends the signal, and reads what the
process left on disk.
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np
import pytest

import balancelab
from balancelab.cli import main
from balancelab.cli.common import ExitCode
from balancelab.engine.controller import StreamEvent, StreamProgress
from balancelab.engine.streaming import stream_to_dataset
from balancelab.formats.bids_reader import read_session
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant, open_dataset
from balancelab.model import Outcome, Side, Trial, TrialType
from balancelab.sensors.simulated import SimulatedSource
from balancelab.sim import Scenario, TrialSpec, lowback_imu, simulate_session

if hasattr(signal, "SIGHUP"):  # POSIX: terminals
    import fcntl
    import pty
    import termios

SPEED = 2.0
FS_HZ = 200.0
HOLD = Scenario(
    "hold",
    "one double-leg hold",
    (TrialSpec(TrialType.DOUBLE_LEG_HOLD, Side.BOTH, duration_s=20.0, rest_after_s=0.0),),
    sensors=(lowback_imu(FS_HZ),),
    lead_in_s=2.0,
    tail_s=1.0,
)
INTO_TRIAL_S = 9.0
"""Time (s) the hold has run when the signal is sent: the analysis skips its first 2 s, and the
7 s left are enough for every hold metric."""
WAIT_S = 120.0
PROJECT_ROOT = Path(balancelab.__file__).resolve().parents[1]

SIGNAL_CASES = [
    pytest.param(getattr(signal, name), code, words, id=name)
    for name, code, words in (
        ("SIGTERM", ExitCode.TERMINATED, "stopped by SIGTERM"),
        ("SIGHUP", ExitCode.HANGUP, "stopped by SIGHUP (the terminal closed)"),
        ("SIGINT", ExitCode.OK, "stopped by Ctrl-C (SIGINT)"),
    )
    if hasattr(signal, name)
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Trial]:
    """The simulated session written once, and its one trial."""
    session, _ = simulate_session(HOLD)
    folder = write_session(
        tmp_path_factory.mktemp("recorded"), session, participant=Participant("a1")
    )
    return folder, session.trials[0]


def _run(*args: str) -> subprocess.Popen[str]:
    """`balancelab ARGS` in a new process running this checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "balancelab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """The lines of a pipe as they come (None at its end), read on a thread of their own."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_session_time(lines: queue.Queue[str | None], time_s: float) -> list[str]:
    """Read progress lines until the lower-back stream holds samples past `time_s` (s)."""
    seen: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        match = re.search(r"simlowback [\d.]+ Hz (\d+) samples", line)
        if match and int(match.group(1)) / FS_HZ > time_s:
            return seen
    pytest.fail(f"the stream did not reach {time_s} s of session time:\n{''.join(seen)}")


@pytest.mark.parametrize(("sig", "exit_code", "words"), SIGNAL_CASES)
def test_a_stop_signal_closes_the_session_and_keeps_the_trial_under_way(
    tmp_path: Path,
    recorded: tuple[Path, Trial],
    capsys: pytest.CaptureFixture[str],
    *,
    sig: signal.Signals,
    exit_code: ExitCode,
    words: str,
) -> None:
    folder, first_trial = recorded
    with _run("stream", f"replay:{folder}", "--speed", str(SPEED),
              "--data", str(tmp_path)) as process:  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        lines = _lines(process.stdout)
        try:
            _wait_for_session_time(lines, first_trial.onset_s + INTO_TRIAL_S)
            process.send_signal(sig)
            code = process.wait(timeout=WAIT_S)
        finally:
            if process.poll() is None:
                process.kill()
        out = "".join(iter(lambda: lines.get(timeout=WAIT_S) or "", ""))
        err = process.stderr.read()
    assert code == exit_code, (out, err)
    assert err == ""

    # Closed as cleanly as Ctrl-C: every stream `complete`, nothing left for recovery.
    [session_dir] = sorted(tmp_path.glob("sub-anon/ses-*"))
    [own] = session_dir.rglob("*_balancelab.json")
    assert json.loads(own.read_text())["status"] == "complete"
    assert open_dataset(tmp_path).recovered == ()

    # The trial under way: kept, aborted, lasting up to the last sample, its samples all there.
    session = read_session(session_dir)
    last_s = max(float(r.time_s[-1]) for r in session.recordings)
    assert first_trial.end_s > last_s > first_trial.onset_s + INTO_TRIAL_S
    assert [t.onset_s for t in session.trials] == [first_trial.onset_s], "trial not kept"
    [kept] = session.trials
    assert kept == replace(first_trial, duration_s=kept.duration_s, outcome=Outcome.ABORTED)
    assert kept.end_s == pytest.approx(last_s, abs=1e-9)
    lowback = session.recording("simlowback")
    during = lowback.time_s[lowback.time_s >= kept.onset_s]
    assert during[-1] > kept.end_s - 0.01
    assert during.size == round((during[-1] - kept.onset_s) * FS_HZ) + 1
    assert np.all(np.isfinite(lowback.values[lowback.time_s >= kept.onset_s]))
    assert f"ended: {words} after" in out
    assert f"trial under way kept as aborted: double_leg_hold both, 2.0-{kept.end_s:.1f} s" in out

    # `analyze` lists the aborted trial, with its metrics, but counts it in no result.
    capsys.readouterr()
    assert main(["analyze", "--json", str(tmp_path)]) == ExitCode.OK
    [analysed] = json.loads(capsys.readouterr().out)["sessions"]
    listed = [t for t in analysed["trials"] if t["tracksys"] == "simlowback"]
    assert [(t["onset_s"], t["outcome"], t["valid"]) for t in listed] == [(2.0, "aborted", False)]
    assert listed[0]["metrics"]["sway_area_95"]["value"] is not None  # it could be measured
    hold = analysed["summary"]["simlowback"]["double_leg_hold/firm/open"]["both"]
    assert hold["sway_area_95"]["n"] == 0
    assert hold["sway_area_95"]["value"] is None


def test_a_trial_under_way_survives_kill_9_as_aborted_with_its_samples(
    tmp_path: Path, recorded: tuple[Path, Trial], capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL cannot be caught: nothing closes the session. The hold's row was written
    `aborted` (0 s) when it began; recovery at the next opening extends it to the last
    sample kept and says so, and `analyze` lists it."""
    folder, first_trial = recorded
    with _run("stream", f"replay:{folder}", "--speed", str(SPEED),
              "--data", str(tmp_path)) as process:  # fmt: skip
        assert process.stdout is not None
        lines = _lines(process.stdout)
        try:
            seen = _wait_for_session_time(lines, first_trial.onset_s + INTO_TRIAL_S)
            process.kill()
            code = process.wait(timeout=WAIT_S)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == -signal.SIGKILL
    assert any(re.match(r"\s+2\.0 s  trial begins: double_leg_hold both", line) for line in seen)

    [report] = open_dataset(tmp_path).recovered
    [session_dir] = sorted(tmp_path.glob("sub-anon/ses-*"))
    session = read_session(session_dir)
    lowback = session.recording("simlowback")
    last_s = float(lowback.time_s[-1])
    assert first_trial.end_s > last_s > first_trial.onset_s + INTO_TRIAL_S
    [kept] = session.trials
    assert kept == replace(
        first_trial, duration_s=last_s - first_trial.onset_s, outcome=Outcome.ABORTED
    )
    assert report.trials_extended == (kept,)
    assert f"kept as aborted, up to {last_s:.3f} s" in report.describe()
    during = lowback.time_s[lowback.time_s >= kept.onset_s]
    assert during.size == round((last_s - kept.onset_s) * FS_HZ) + 1
    assert np.all(np.isfinite(lowback.values[lowback.time_s >= kept.onset_s]))

    capsys.readouterr()
    assert main(["analyze", "--json", str(tmp_path)]) == ExitCode.OK
    [analysed] = json.loads(capsys.readouterr().out)["sessions"]
    listed = [t for t in analysed["trials"] if t["tracksys"] == "simlowback"]
    assert [(t["onset_s"], t["outcome"], t["valid"]) for t in listed] == [(2.0, "aborted", False)]


def test_sigterm_in_process_stops_the_stream_and_the_handler_is_put_back(
    tmp_path: Path,
) -> None:
    """`stream_to_dataset` on the main thread: a SIGTERM stops the stream (the test's own
    handler does not see it); afterwards the handler in place before is back and gets the
    next SIGTERM (a signal left ignored for good would be a bug)."""
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:

        def on_event(event: StreamEvent) -> None:
            arrived = isinstance(event, StreamProgress) and any(f.samples for f in event.streams)
            if arrived and not sent:
                sent.append(True)
                os.kill(os.getpid(), signal.SIGTERM)

        sent: list[bool] = []
        source = SimulatedSource(HOLD, speed=SPEED)
        result = stream_to_dataset(source, tmp_path, seconds=WAIT_S, on_event=on_event)
        assert sent
        assert seen == [], "the SIGTERM went to the handler in place, not to the stream"
        assert result.stopped_by is signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + WAIT_S
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)  # the handler runs between bytecodes of this thread
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


if hasattr(signal, "SIGHUP"):

    def test_a_sighup_ignored_by_the_caller_stays_ignored(
        tmp_path: Path, recorded: tuple[Path, Trial]
    ) -> None:
        """`nohup balancelab stream ...`: SIGHUP was ignored when the process started, so it
        streams on through one (two more progress lines come); SIGTERM still stops it."""
        folder, first_trial = recorded
        command = [sys.executable, "-m", "balancelab", "stream", f"replay:{folder}"]
        with subprocess.Popen(
            [*command, "--speed", str(SPEED), "--data", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # noqa: PLW1509
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            lines = _lines(process.stdout)
            try:
                _wait_for_session_time(lines, first_trial.onset_s)
                process.send_signal(signal.SIGHUP)
                after = [lines.get(timeout=WAIT_S) or "" for _ in range(2)]
                process.send_signal(signal.SIGTERM)
                code = process.wait(timeout=WAIT_S)
            finally:
                if process.poll() is None:
                    process.kill()
            out = "".join(iter(lambda: lines.get(timeout=WAIT_S) or "", ""))
            err = process.stderr.read()
        assert [
            re.match(r"\s+[\d.]+ s  streaming  simlowback", line) is not None for line in after
        ] == [True, True], after
        assert code == ExitCode.TERMINATED, (out, err)
        assert "ended: stopped by SIGTERM after" in out

    def test_closing_the_terminal_closes_the_session(
        tmp_path: Path, recorded: tuple[Path, Trial]
    ) -> None:
        """`stream` in a terminal (a pseudo-terminal it controls) that is closed: the kernel
        sends SIGHUP and output fails (EIO); the session is still closed, the hold under way
        kept `aborted`, and the exit is SIGHUP's."""
        folder, first_trial = recorded
        controller, terminal = pty.openpty()

        def take_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        command = [sys.executable, "-m", "balancelab", "stream", f"replay:{folder}"]
        with subprocess.Popen(
            [*command, "--speed", str(SPEED), "--data", str(tmp_path)],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            start_new_session=True,
            preexec_fn=take_terminal,  # noqa: PLW1509 (no threads in this test's process)
        ) as process:
            os.close(terminal)
            shown, deadline = b"", time.monotonic() + WAIT_S
            wanted = (first_trial.onset_s + INTO_TRIAL_S) * FS_HZ
            counts: list[int] = []
            while not any(n > wanted for n in counts) and time.monotonic() < deadline:
                if select.select([controller], [], [], 1.0)[0]:
                    shown += os.read(controller, 65536)
                    counts = [
                        int(n) for n in re.findall(rb"simlowback [\d.]+ Hz (\d+) samples", shown)
                    ]
            os.close(controller)  # the terminal window closes
            code = process.wait(timeout=WAIT_S)
        assert any(n > wanted for n in counts), shown.decode(errors="replace")
        assert code == ExitCode.HANGUP
        [own] = tmp_path.glob("sub-anon/ses-*/motion/*_balancelab.json")
        assert json.loads(own.read_text())["status"] == "complete"
        [kept] = read_session(own.parents[1]).trials
        assert (kept.onset_s, kept.outcome) == (first_trial.onset_s, Outcome.ABORTED)
