"""Crash safety: a writer killed mid-recording loses at most its last 0.5 s; recovery repairs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError
from balancelab.formats.bids_reader import read_recording, read_session, read_stream_info
from balancelab.formats.bids_writer import DEFAULT_FLUSH_INTERVAL_S, open_session
from balancelab.formats.dataset import (
    RecoveryReport,
    list_sessions,
    open_dataset,
    recover_dataset,
)
from tests.formats.test_bids_roundtrip import COP_SPEC, START_UTC, cop_data, write_example_session
from tests.support import REPO_ROOT

CHILD_FS_HZ = 100.0
CHILD = f"""
import sys, time
from datetime import UTC, datetime
import numpy as np
from balancelab.formats import bids_writer
from balancelab.model import Outcome, Side, Surface, Trial, TrialType, Vision, cop_channels

samples_before_stall = int(sys.argv[2])


class StallingFile:
    \"\"\"motion.tsv that, once armed, writes half a batch to disk and hangs (to be killed).\"\"\"

    def __init__(self, raw):
        self.raw, self.armed = raw, False

    def write(self, data):
        if self.armed:
            self.raw.write(data[: len(data) // 2])
            self.raw.flush()
            print("stalled", flush=True)
            time.sleep(600)
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)


files = []
bids_writer.open = lambda *args: files.append(StallingFile(open(*args))) or files[-1]
spec = bids_writer.StreamSpec("wii", cop_channels(), {CHILD_FS_HZ})
writer = bids_writer.open_session(
    sys.argv[1], athlete="ana01", start_utc=datetime(2025, 1, 1, tzinfo=UTC), task="crash",
    streams=[spec],
)
writer.add_trial(Trial(1.0, 2.0, TrialType.SINGLE_LEG_HOLD, Side.LEFT, Surface.FIRM, Vision.OPEN))
print(0, flush=True)
appended = 0
while samples_before_stall:
    files[0].armed = 0 < samples_before_stall <= appended
    index = np.arange(appended, appended + 400)
    writer.append("wii", index / {CHILD_FS_HZ}, np.column_stack([index * 1e-5, -index * 3e-6]))
    appended += 400
    print(appended, flush=True)
time.sleep(600)
"""


def run_and_kill(root: Path, *, kill_at: int, stall: bool = False) -> int:
    """Run the writer child and SIGKILL it once it reports `kill_at` appended samples (or, with
    `stall`, once it has then written half of the next batch); returns the last count reported."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    stall_after = kill_at if stall else -1
    args = [sys.executable, "-c", CHILD, str(root), str(stall_after if kill_at else 0)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT) as child:
        assert child.stdout is not None
        reported = -1
        for line in child.stdout:
            if line.strip() == "stalled":
                break
            reported = int(line)
            if reported >= kill_at and not stall:
                break
        child.kill()
        child.wait()
    assert reported >= kill_at, "the child stopped before reaching the kill point"
    return reported


def expected_child_values(n: int) -> np.ndarray:
    index = np.arange(n)
    return np.column_stack([index * 1e-5, -index * 3e-6])


def check_recovered_child(root: Path, reported: int) -> RecoveryReport:
    """Recover the child's dataset and check it kept every sample flushed, intact."""
    motion_tsv = next(root.glob("sub-ana01/ses-*/motion/*_motion.tsv"))
    size_before = motion_tsv.stat().st_size
    with pytest.raises(FormatError, match="still marked 'recording'"):
        read_recording(motion_tsv)

    (report,) = recover_dataset(root)

    assert report.samples_kept >= reported - DEFAULT_FLUSH_INTERVAL_S * CHILD_FS_HZ
    assert report.bytes_dropped == size_before - motion_tsv.stat().st_size
    assert motion_tsv.read_bytes().endswith(b"\n")
    recording = read_recording(motion_tsv)
    n = recording.time_s.size
    assert n == report.samples_kept
    np.testing.assert_array_equal(recording.time_s, np.arange(n) / CHILD_FS_HZ)
    np.testing.assert_array_equal(recording.values, expected_child_values(n))
    assert len(recording.trials) == 1
    assert report.time_span_s == (0.0, recording.time_s[-1])
    assert read_stream_info(motion_tsv).status == "recovered"
    assert recover_dataset(root) == []
    return report


def test_sigkill_while_appending_keeps_everything_flushed(tmp_path: Path) -> None:
    reported = run_and_kill(tmp_path, kill_at=8000)
    check_recovered_child(tmp_path, reported)


def test_sigkill_in_the_middle_of_a_write_drops_the_partial_line(tmp_path: Path) -> None:
    reported = run_and_kill(tmp_path, kill_at=4000, stall=True)
    report = check_recovered_child(tmp_path, reported)
    assert report.bytes_dropped > 0 and report.lines_dropped == 1
    assert report.samples_kept > reported


def break_last_line(session_dir: Path, tail: bytes) -> Path:
    """Mark the COP stream of a finished session as interrupted and append `tail` to it."""
    motion_tsv = next(session_dir.glob("motion/*tracksys-wii_motion.tsv"))
    own_path = motion_tsv.with_name(motion_tsv.name.replace("motion.tsv", "balancelab.json"))
    own = json.loads(own_path.read_text())
    own_path.write_text(json.dumps({**own, "status": "recording"}))
    with open(motion_tsv, "ab") as fh:
        fh.write(tail)
    return motion_tsv


def test_a_partial_last_line_is_dropped_and_reported(tmp_path: Path) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"3.0\t1.25\t-0.")
    dataset = open_dataset(tmp_path)
    (report,) = dataset.recovered
    assert (report.samples_kept, report.lines_dropped, report.bytes_dropped) == (180, 1, 12)
    assert report.problem is None and not report.removed
    assert "kept 180 samples" in report.describe() and "12 bytes" in report.describe()
    np.testing.assert_array_equal(read_recording(motion_tsv).values, cop_data(180)[1])
    assert [s.session for s in dataset.iter_sessions()] == ["20250304T093015"]


def test_garbage_after_a_crash_is_dropped_from_the_first_bad_line(tmp_path: Path) -> None:
    tail = b"3.0\t1.0\t2.0\n\x00\x00\x00\x00\n3.2\t1.0\t2.0\n"
    motion_tsv = break_last_line(write_example_session(tmp_path), tail)
    (report,) = recover_dataset(tmp_path)
    assert (report.samples_kept, report.lines_dropped) == (181, 2)
    assert report.problem is not None and "line 182" in report.problem
    assert read_recording(motion_tsv).time_s[-1] == 3.0


def test_a_crash_before_any_sample_removes_the_empty_session(tmp_path: Path) -> None:
    run_and_kill(tmp_path, kill_at=0)
    assert len(list(tmp_path.glob("sub-ana01/ses-*/motion/*_motion.tsv"))) == 1
    (report,) = recover_dataset(tmp_path)
    assert report.removed and report.samples_kept == 0
    assert "removed" in report.describe()
    assert list(tmp_path.glob("sub-ana01/ses-*")) == []
    assert list_sessions(tmp_path) == []


def test_a_live_recording_is_left_alone(tmp_path: Path) -> None:
    with open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="live", streams=[COP_SPEC]
    ) as writer:
        writer.append("wii", *cop_data(30))
        before = writer.paths("wii").motion_tsv.read_bytes()
        assert recover_dataset(tmp_path) == []
        assert list(open_dataset(tmp_path).iter_sessions()) == []
        assert writer.paths("wii").motion_tsv.read_bytes() == before
        writer.append("wii", [10.0], [[0.0, 0.0]])
    assert read_session(writer.session_dir).recording("wii").time_s.size == 31
