"""Recording I/O and simulator speed on a 10-minute, 200 Hz, two-sensor session."""

from __future__ import annotations

import tempfile
from pathlib import Path

from balancelab.engine.jobs import write_session
from balancelab.formats.bids_reader import read_session
from balancelab.formats.dataset import Participant
from balancelab.model import Side, TrialType
from balancelab.sim import Scenario, TrialSpec, board_imu, lowback_imu, simulate_session
from benchmarks.common import Figure, best_of, report

SESSION_S = 600.0


def ten_minute_scenario() -> Scenario:
    """Twenty 25-s single-leg holds with 5-s rests: 10 minutes, board and back IMUs."""
    trials = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, duration_s=25.0, rest_after_s=5.0)
        for _ in range(10)
        for side in (Side.LEFT, Side.RIGHT)
    )
    return Scenario(
        "bench",
        "benchmark",
        trials,
        sensors=(board_imu(200.0), lowback_imu(200.0)),
        lead_in_s=0.0,
        tail_s=5.0,
    )


def run() -> list[Figure]:
    """Simulate, write and read the session; returns the figures."""
    scenario = ten_minute_scenario()
    sim_s, (session, _) = best_of(2, lambda: simulate_session(scenario, seed=1))
    samples = sum(r.time_s.size for r in session.recordings)
    values = sum(r.values.size for r in session.recordings)
    figures = [
        Figure("session length", scenario.duration_s, "s", f"{samples} samples, 2 streams"),
        Figure("simulate", sim_s, "s", f"{scenario.duration_s / sim_s:.0f}x real time"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(100))

        def write() -> Path:
            return write_session(
                Path(tmp) / f"d{next(counter)}", session, participant=Participant("bench")
            )

        write_s, session_dir = best_of(3, write)
        read_s, _ = best_of(3, lambda: read_session(session_dir))
        size_mb = sum(p.stat().st_size for p in session_dir.rglob("*")) / 1e6
    figures += [
        Figure("write", write_s, "s", f"{values / write_s / 1e6:.2f} M values/s, {size_mb:.1f} MB"),
        Figure("read", read_s, "s", f"{values / read_s / 1e6:.2f} M values/s"),
    ]
    return figures


def main() -> None:
    report("Foundation: recordings and simulator", run())
