"""Crash safety: a writer killed mid-recording loses nothing it appended; recovery repairs it.

Recovery only ever drops an unfinished last line. Anything else wrong leaves every byte as it was.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import DatasetError, FormatError
from balancelab.formats import bids_writer
from balancelab.formats.bids_reader import read_recording, read_session, read_stream_info
from balancelab.formats.bids_writer import open_session
from balancelab.formats.dataset import (
    Participant,
    RecoveryReport,
    add_participant,
    ensure_dataset,
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

    assert report.samples_kept >= reported  # every append reaches the OS before it returns
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


def snapshot(root: Path) -> dict[Path, bytes]:
    """Every file of a dataset and its bytes."""
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_left_alone(root: Path, motion_tsv: Path, where: str) -> RecoveryReport:
    """Recovery reports a problem at `where`, changes no byte, and keeps doing so at each start."""
    before = snapshot(root)
    dataset = open_dataset(root)
    (report,) = dataset.recovered
    assert snapshot(root) == before
    assert report.problem is not None and where in report.problem
    assert not report.changed and not report.removed and report.bytes_dropped == 0
    assert report.advice is not None and motion_tsv.parents[1].name in report.advice
    text = report.describe()
    assert "NOT recovered" in text and "nothing was changed" in text and where in text
    with contextlib.suppress(FormatError):  # unless the sidecar itself is the problem
        assert read_stream_info(motion_tsv).status == "recording"
    assert list(dataset.iter_sessions()) == []  # skipped, not an error
    assert recover_dataset(root) == [report]
    assert snapshot(root) == before
    return report


def test_a_corrupted_line_in_the_middle_changes_nothing(tmp_path: Path) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"3.0\t1.0\t2.")
    lines = motion_tsv.read_bytes().split(b"\n")
    lines[99] = b"\x00\x00\x00\x00"
    motion_tsv.write_bytes(b"\n".join(lines))
    assert_left_alone(tmp_path, motion_tsv, "_motion.tsv, line 100")
    lines[99] = b"1.65\t0.0\t0.0"  # the person repairs the line: the next start recovers
    motion_tsv.write_bytes(b"\n".join(lines))
    (report,) = recover_dataset(tmp_path)
    assert (report.samples_kept, report.lines_dropped, report.bytes_dropped) == (180, 1, 10)
    assert read_recording(motion_tsv).time_s.size == 180


def test_a_bad_complete_last_line_changes_nothing(tmp_path: Path) -> None:
    tail = b"3.0\t1.0\t2.0\n\x00\x00\x00\x00\n3.2\t1.0\t2.0\n"
    motion_tsv = break_last_line(write_example_session(tmp_path), tail)
    assert_left_alone(tmp_path, motion_tsv, "line 182")


def test_a_bad_first_line_changes_nothing(tmp_path: Path) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"")
    motion_tsv.write_bytes(b"time\tcop_pos_x\tcop_pos_y\n" + motion_tsv.read_bytes())
    assert_left_alone(tmp_path, motion_tsv, "line 1")


def test_a_changed_unit_in_channels_tsv_changes_nothing(tmp_path: Path) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"3.0\t1.")
    channels = motion_tsv.with_name(motion_tsv.name.replace("motion.tsv", "channels.tsv"))
    channels.write_text(channels.read_text().replace("\tmm\t", "\tinch\t"))
    report = assert_left_alone(tmp_path, motion_tsv, "units 'inch' are unknown")
    assert "_channels.tsv line 3" in (report.advice or "")


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        ("channels.tsv", None),
        ("motion.json", b'{"TaskName": "trail'),
        ("balancelab.json", b'{"status": "record'),
    ],
    ids=["channels missing", "motion.json truncated", "balancelab.json truncated"],
)
def test_an_unreadable_sidecar_changes_nothing(
    tmp_path: Path, suffix: str, content: bytes | None
) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"3.0\t1.")
    sidecar = motion_tsv.with_name(motion_tsv.name.replace("motion.tsv", suffix))
    if content is None:
        sidecar.unlink()
    else:
        sidecar.write_bytes(content)
    assert_left_alone(tmp_path, motion_tsv, f"_{suffix}")


def test_only_a_partial_first_line_removes_the_stream_and_says_so(tmp_path: Path) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"")
    motion_tsv.write_bytes(b"0.0\t1.2")
    (report,) = recover_dataset(tmp_path)
    assert report.removed and report.samples_kept == 0 and report.bytes_dropped == 7
    assert "only 7 bytes of an unfinished first line" in report.describe()
    assert not motion_tsv.exists()
    assert [r.tracksys for r in read_session(motion_tsv.parents[1]).recordings] == ["witmotion"]


def test_a_long_line_without_a_line_break_is_not_taken_for_an_empty_stream(
    tmp_path: Path,
) -> None:
    motion_tsv = break_last_line(write_example_session(tmp_path), b"")
    motion_tsv.write_bytes(motion_tsv.read_bytes().replace(b"\n", b"\r"))
    assert_left_alone(tmp_path, motion_tsv, "line 1")


def test_a_crash_before_any_sample_removes_the_empty_session(tmp_path: Path) -> None:
    run_and_kill(tmp_path, kill_at=0)
    assert len(list(tmp_path.glob("sub-ana01/ses-*/motion/*_motion.tsv"))) == 1
    (report,) = recover_dataset(tmp_path)
    assert report.removed and report.samples_kept == 0 and report.bytes_dropped == 0
    assert "before any complete sample (motion.tsv was empty" in report.describe()
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


@pytest.mark.parametrize("failure", ["disk full", "descriptor closed"])
def test_close_closes_every_file_even_if_the_last_flush_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    files = []
    real_open = open
    monkeypatch.setattr(
        bids_writer, "open", lambda *a: files.append(real_open(*a)) or files[-1], raising=False
    )
    writer = open_session(
        tmp_path, athlete="ana01", start_utc=START_UTC, task="full", streams=[COP_SPEC]
    )
    writer.append("wii", *cop_data(30))
    if failure == "disk full":

        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(bids_writer.os, "fsync", no_space)
    else:
        os.close(files[0].fileno())
    with pytest.raises(DatasetError, match=r"cannot write .*_motion\.tsv") as caught:
        writer.close()
    monkeypatch.undo()
    assert [f.closed for f in files] == [True]
    assert "recovers the session at the next start" in caught.value.advice
    writer.close()  # a second close does nothing
    (report,) = recover_dataset(tmp_path)
    assert report.samples_kept == 30 and report.changed


FULL_DISK_CHILD = r"""
import resource, signal, sys
from pathlib import Path
from balancelab.errors import DatasetError
from balancelab.formats.bids import write_text_atomic
target = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_text_atomic(target, "x" * 1_000_000)
except DatasetError as error:
    print(error.message)
"""


def test_a_write_that_runs_out_of_space_leaves_no_temporary_file(tmp_path: Path) -> None:
    # Issue 10 item 4: an empty .tmp file stayed after a full disk. The OS refuses the write
    # past a file-size limit (EFBIG) as it refuses one past the end of a full disk (ENOSPC).
    target = tmp_path / "participants.tsv"
    target.write_text("participant_id\nsub-ana01\n")
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert f"cannot write {target}" in done.stdout
    assert target.read_text() == "participant_id\nsub-ana01\n"  # the old file is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["participants.tsv"]


PARALLEL_WRITER = r"""
import sys, time
from pathlib import Path
from balancelab.formats.dataset import Participant, add_participant, ensure_dataset
root, worker, start_at = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
while time.time() < start_at:  # every writer starts at the same moment
    time.sleep(0.001)
ensure_dataset(root)
for k in range(12):
    add_participant(root, Participant(f"w{worker}a{k}"))
"""


def test_parallel_writers_lose_no_athlete(tmp_path: Path) -> None:
    # Issue 10 item 3: eight `stream` processes into one dataset lost an athlete from
    # participants.tsv. Eight processes create the dataset and add 12 athletes each at once:
    # without the lock their read-modify-write updates overwrite each other.
    root = tmp_path / "data"
    start_at = time.time() + 3.0  # after every interpreter has started
    writers = [
        subprocess.Popen([sys.executable, "-c", PARALLEL_WRITER, str(root), str(w), str(start_at)])
        for w in range(8)
    ]
    assert [p.wait(timeout=120) for p in writers] == [0] * 8
    rows = (root / "participants.tsv").read_text().splitlines()
    expected = {f"sub-w{w}a{k}" for w in range(8) for k in range(12)}
    assert rows[0] == "participant_id\tdominant_leg\tinjured_side"
    assert {r.split("\t")[0] for r in rows[1:]} == expected and len(rows) == 1 + 96
    assert not (root / ".balancelab.lock").exists()


def test_a_lock_left_by_a_killed_writer_is_broken(tmp_path: Path) -> None:
    root = ensure_dataset(tmp_path / "data")
    lock = root / ".balancelab.lock"
    lock.write_text("12345")  # its holder was killed an hour ago
    an_hour_ago = time.time() - 3600
    os.utime(lock, (an_hour_ago, an_hour_ago))
    add_participant(root, Participant("ana01"))
    assert "sub-ana01" in (root / "participants.tsv").read_text()
    assert not lock.exists()
