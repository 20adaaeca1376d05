"""Analysis speed: one trial, a session from disk, 1,000 trials, and tilt-fusion throughput.

`balancelab analyze` of a 1,008-trial dataset on disk runs as a person runs it (a fresh process),
with --jobs 2 beside --jobs 1 (one process, no pool); its peak memory beside that of a dataset a
quarter the size, which must be the same: sessions are analysed as they are read.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
from scipy import signal

from balancelab.dsp.analysis import analyze_recording
from balancelab.dsp.orientation import Tilt, calibrate_level, estimate_tilt
from balancelab.dsp.preprocess import butterworth_lowpass_sos, finite_segments, lowpass
from balancelab.engine.analyze import analyze_path
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant
from balancelab.model import FloatArray, Recording, Session, Side, TrialType
from balancelab.sim import Scenario, TrialSpec, board_imu, force_plate, simulate_session
from benchmarks.common import Figure, best_of, report


def twelve_trial_scenario() -> Scenario:
    """Twelve 30-s single-leg holds (six per side) with 5-s rests, COP at 100 Hz."""
    trials = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, duration_s=30.0, rest_after_s=5.0)
        for _ in range(6)
        for side in (Side.LEFT, Side.RIGHT)
    )
    return Scenario("bench12", "benchmark", trials, sensors=(force_plate(100.0),), lead_in_s=3.0)


def run() -> list[Figure]:
    """Time the analysis at its three scales, and the tilt filter."""
    session, _ = simulate_session(twelve_trial_scenario(), seed=3)
    cop = session.recordings[0]
    first = cop.trials[0]
    rows = (cop.time_s >= first.onset_s - 1.0) & (cop.time_s <= first.end_s + 1.0)
    one_trial = replace(cop, time_s=cop.time_s[rows], values=cop.values[rows], trials=(first,))
    one_s, _ = best_of(20, lambda: analyze_recording(one_trial))
    figures = [Figure("one 30-s 100 Hz trial", one_s * 1e3, "ms", target=10.0)]
    with tempfile.TemporaryDirectory() as tmp:
        session_dir = write_session(Path(tmp), session, participant=Participant("bench"))
        disk_s, _ = best_of(3, lambda: analyze_path(session_dir))
    figures.append(Figure("12-trial session from disk", disk_s, "s", target=0.3))
    repeats = 84  # 84 sessions of 12 trials: 1,008 trials
    thousand_s, _ = best_of(1, lambda: [analyze_recording(cop) for _ in range(repeats)])
    figures.append(Figure("1,008 trials (84 sessions)", thousand_s, "s", target=10.0))
    figures.append(lowpass_figure(one_trial))
    figures += dataset_figures(session)
    figures += fusion_figures()
    return figures


def lowpass_figure(recording: Recording) -> Figure:
    """The zero-lag low-pass of a 30-s window's AP and ML (one call per segment for both)
    beside the same filter one column at a time, as it ran before; the values are the same."""
    x = recording.values[: round(30.0 * recording.nominal_fs_hz), :2]
    fs = recording.nominal_fs_hz
    sos = butterworth_lowpass_sos(4, 10.0, fs)

    def column_by_column() -> FloatArray:
        out = np.full_like(x, np.nan)
        for c in range(x.shape[1]):
            for segment in finite_segments(x[:, c]):
                out[segment, c] = signal.sosfiltfilt(sos, x[segment, c])
        return out

    together_s, together = best_of(200, lambda: lowpass(x, fs, 10.0))
    apart_s, apart = best_of(200, column_by_column)
    assert np.array_equal(together, apart, equal_nan=True)
    return Figure(
        "low-pass of a 30-s window (AP, ML)",
        together_s * 1e3,
        "ms",
        f"{x.shape[0]} rows at {fs:g} Hz, identical values",
        anchor=apart_s * 1e3,
        anchor_name="column by column",
    )


DATASET_SESSIONS = 84
"""Sessions of the dataset on disk: 84 of 12 trials, 1,008 trials."""

MEASURED_COMMAND = """\
import json, resource, sys
from pathlib import Path
from balancelab.cli import main
code = main(sys.argv[1:])
status = Path("/proc/self/status").read_text().splitlines()
own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps([code, own, workers]), file=sys.stderr)
"""
"""`balancelab ARGS` that says at its end its exit code, its own peak RSS and its largest worker's
(KiB; Linux). Its own is VmHWM, the peak of this program's memory: ru_maxrss would also count the
benchmark's memory, copied by the fork before exec. The workers have been joined by then."""


def write_dataset(root: Path, session: Session, count: int) -> Path:
    """A dataset of `count` copies of `session`, a day apart, each a session on disk."""
    for day in range(count):
        start = session.start_utc + timedelta(days=day)
        copy = Session(tuple(replace(r, start_utc=start) for r in session.recordings))
        write_session(root, copy, participant=Participant("bench"))
    return root


def analyze_command(dataset: Path, jobs: int) -> tuple[float, float, float]:
    """`balancelab analyze DATASET --jobs N` in a fresh process: wall time (s), its peak RSS
    and its largest worker's (MB; 0 without a pool)."""
    argv = ["analyze", str(dataset), "--jobs", str(jobs)]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_COMMAND, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    code, own_kib, worker_kib = json.loads(done.stderr.strip().splitlines()[-1])
    if code != 0:
        raise RuntimeError(f"balancelab {' '.join(argv)} exited {code}: {done.stderr}")
    return seconds, own_kib / 1024, worker_kib / 1024


def dataset_figures(session: Session) -> list[Figure]:
    """`balancelab analyze` of 1,008 trials on disk, --jobs 2 beside --jobs 1; peak memory
    beside that of a quarter of the sessions (flat: the same)."""
    with tempfile.TemporaryDirectory() as tmp:
        full = write_dataset(Path(tmp) / "full", session, DATASET_SESSIONS)
        quarter = write_dataset(Path(tmp) / "quarter", session, DATASET_SESSIONS // 4)
        one_s, one_rss, _ = analyze_command(full, 1)
        two_s, two_rss, worker_rss = analyze_command(full, 2)
        _, quarter_one_rss, _ = analyze_command(quarter, 1)
        _, quarter_two_rss, quarter_worker_rss = analyze_command(quarter, 2)
    trials = f"{12 * DATASET_SESSIONS:,} trials"
    quarter_name = f"{DATASET_SESSIONS // 4} sessions"
    return [
        Figure(f"analyze {trials} from disk, --jobs 1", one_s, "s", target=10.0),
        Figure(
            f"analyze {trials} from disk, --jobs 2",
            two_s,
            "s",
            anchor=one_s,
            anchor_name="--jobs 1",
            target=10.0,
        ),
        Figure(
            "peak RSS --jobs 1", one_rss, "MB", anchor=quarter_one_rss, anchor_name=quarter_name
        ),
        Figure(
            "peak RSS --jobs 2, the command",
            two_rss,
            "MB",
            anchor=quarter_two_rss,
            anchor_name=quarter_name,
        ),
        Figure(
            "peak RSS --jobs 2, largest worker",
            worker_rss,
            "MB",
            anchor=quarter_worker_rss,
            anchor_name=quarter_name,
        ),
    ]


def fusion_figures() -> list[Figure]:
    """Throughput (samples/s) and accuracy (deg RMS against the simulator's truth) of the default
    tilt filter beside imufusion (x-io Fusion), the same wobble-board recording in the same run."""
    board, truth = simulate_session("wobble_board", sensors=(board_imu(200.0),), seed=5)
    rec = board.recordings[0]
    acc, gyr = rec.values[:, :3], rec.values[:, 3:6]
    sensor = truth.sensor(rec.tracksys)
    level = calibrate_level(
        acc[rec.time_s < 4.0], sensor_to_segment=rec.sensor_to_segment[sensor.tracked_point]
    )
    window = np.zeros(rec.time_s.size, dtype=bool)
    for t in truth.trials:
        window |= (rec.time_s >= t.trial.onset_s + 2.0) & (rec.time_s < t.trial.end_s)

    def measure(method: str) -> tuple[float, float]:
        def run() -> Tilt:
            return estimate_tilt(
                acc, gyr, rec.nominal_fs_hz, sensor_to_segment=level, method=method
            )

        seconds, tilt = best_of(3, run)
        error = np.column_stack([tilt.pitch_deg, tilt.roll_deg]) - np.degrees(sensor.true_tilt_rad)
        rows = error[window]
        rows = rows[np.all(np.isfinite(rows), axis=1)]
        return rec.time_s.size / seconds, float(np.sqrt(np.mean(rows**2)))

    ours_rate, ours_rms = measure("mahony")
    other_rate = other_rms = None
    note = f"{rec.time_s.size} samples at {rec.nominal_fs_hz:g} Hz"
    if importlib.util.find_spec("imufusion") is not None:
        other_rate, other_rms = measure("imufusion")
    else:
        note += "; imufusion not installed: pip install -e '.[bench]'"
    return [
        Figure(
            "tilt filter (mahony, numpy)",
            ours_rate,
            "samples/s",
            note,
            anchor=other_rate,
            anchor_name="imufusion",
            target=other_rate,
            higher_is_better=True,
        ),
        Figure(
            "tilt error vs truth (mahony)",
            ours_rms,
            "deg RMS",
            "pitch and roll pooled over the holds",
            anchor=other_rms,
            anchor_name="imufusion",
            target=0.5,
        ),
    ]


def main() -> None:
    report("Analysis", run())
