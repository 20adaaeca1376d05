"""Analysis speed: one trial, a session from disk, 1,000 trials, and tilt-fusion throughput."""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from balancelab.dsp.analysis import analyze_recording
from balancelab.dsp.orientation import estimate_tilt
from balancelab.engine.analyze import analyze_path
from balancelab.engine.jobs import write_session
from balancelab.formats.dataset import Participant
from balancelab.model import Side, TrialType
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
    figures = [Figure("one 30-s 100 Hz trial", one_s * 1e3, "ms", "target <= 10 ms")]
    with tempfile.TemporaryDirectory() as tmp:
        session_dir = write_session(Path(tmp), session, participant=Participant("bench"))
        disk_s, _ = best_of(3, lambda: analyze_path(session_dir))
    figures.append(Figure("12-trial session from disk", disk_s, "s", "target <= 0.3 s"))
    repeats = 84  # 84 sessions of 12 trials: 1,008 trials
    thousand_s, _ = best_of(1, lambda: [analyze_recording(cop) for _ in range(repeats)])
    figures.append(Figure("1,008 trials (84 sessions)", thousand_s, "s", "target <= 10 s"))
    figures += fusion_figures()
    return figures


def fusion_figures() -> list[Figure]:
    """Samples per second of the default tilt filter, and against imufusion when installed."""
    board, _ = simulate_session("wobble_board", sensors=(board_imu(200.0),), seed=5)
    rec = board.recordings[0]
    acc, gyr = rec.values[:, :3], rec.values[:, 3:6]
    n = rec.time_s.size
    ours_s, _ = best_of(3, lambda: estimate_tilt(acc, gyr, rec.nominal_fs_hz))
    figures = [Figure("tilt filter (mahony)", n / ours_s, "samples/s")]
    if importlib.util.find_spec("imufusion") is not None:
        other_s, _ = best_of(
            3, lambda: estimate_tilt(acc, gyr, rec.nominal_fs_hz, method="imufusion")
        )
        figures.append(Figure("tilt filter (imufusion)", n / other_s, "samples/s"))
        figures.append(Figure("mahony / imufusion speed", other_s / ours_s, "ratio"))
    else:
        figures.append(
            Figure("imufusion", float(np.nan), "", "not installed: pip install imufusion")
        )
    return figures


def main() -> None:
    report("Analysis", run())
