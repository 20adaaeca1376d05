"""Recording I/O and simulator speed on a 10-minute session (two 200-Hz IMUs, a 100-Hz plate).

Reading motion.tsv is measured beside pandas' C parser on the same files in the same run (the
target: at least its speed, with values bit for bit those of the line reader).
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np

from balancelab.formats.bids_reader import (
    ChannelTable,
    iter_motion_rows,
    read_channels,
    read_session,
    session_motion_files,
    stream_paths_of,
)
from balancelab.formats.bids_writer import write_session
from balancelab.formats.dataset import Participant
from balancelab.formats.motion_tsv import read_samples as _read_samples
from balancelab.model import Side, TrialType
from balancelab.sim import (
    Scenario,
    TrialSpec,
    board_imu,
    force_plate,
    lowback_imu,
    simulate_session,
)
from benchmarks.common import Figure, best_of, report

SESSION_S = 600.0


def ten_minute_scenario() -> Scenario:
    """Twenty 25-s single-leg holds with 5-s rests: 10 minutes, board and back IMUs, a plate."""
    trials = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, duration_s=25.0, rest_after_s=5.0)
        for _ in range(10)
        for side in (Side.LEFT, Side.RIGHT)
    )
    return Scenario(
        "bench",
        "benchmark",
        trials,
        sensors=(board_imu(200.0), lowback_imu(200.0), force_plate(100.0)),
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
        Figure("session length", scenario.duration_s, "s", f"{samples} samples, 3 streams"),
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
        reading = motion_reading_figures(session_dir)
    figures += [
        Figure("write", write_s, "s", f"{values / write_s / 1e6:.2f} M values/s, {size_mb:.1f} MB"),
        Figure("read", read_s, "s", f"{values / read_s / 1e6:.2f} M values/s"),
        *reading,
    ]
    return figures


def motion_reading_figures(session_dir: Path) -> list[Figure]:
    """MB/s of the motion.tsv parsers beside pandas' C parser: files in SI units (the IMUs), and
    files with decimal-shifted columns (the plate's mm, which pandas cannot give exactly)."""
    files = session_motion_files(session_dir)
    tables = [read_channels(stream_paths_of(f).channels_tsv) for f in files]
    shifted = [any(c.decimal_shift for c in t.conversions) for t in tables]
    figures = []
    for label, group in (("SI columns", False), ("mm columns", True)):
        chosen = [(f, t) for f, t, s in zip(files, tables, shifted, strict=True) if s == group]
        if chosen:
            figures += _reading_figures(label, [f for f, _ in chosen], [t for _, t in chosen])
    return figures


def _reading_figures(label: str, files: list[Path], tables: list[ChannelTable]) -> list[Figure]:
    blobs = [f.read_bytes() for f in files]
    megabytes = sum(len(b) for b in blobs) / 1e6
    ours_s, ours = best_of(
        5, lambda: [_read_samples(f, t) for f, t in zip(files, tables, strict=True)]
    )
    line_s, _ = best_of(
        1,
        lambda: [
            list(iter_motion_rows(b, f, t)) for b, f, t in zip(blobs, files, tables, strict=True)
        ],
    )
    pandas_mbs, note = _pandas_read(files, tables, ours)
    return [
        Figure(
            f"read motion.tsv, {label} (pyarrow)",
            megabytes / ours_s,
            "MB/s",
            f"{megabytes:.1f} MB in {len(files)} files; {note}",
            anchor=pandas_mbs,
            anchor_name="pandas C parser",
            target=pandas_mbs,
            higher_is_better=True,
        ),
        Figure(
            f"read motion.tsv, {label} (line reader)",
            megabytes / line_s,
            "MB/s",
            "the path that names a malformed line",
            anchor=pandas_mbs,
            anchor_name="pandas C parser",
            higher_is_better=True,
        ),
    ]


def _pandas_read(
    files: list[Path], tables: list[ChannelTable], ours: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[float | None, str]:
    """pandas' MB/s on the same files (read from disk, as ours), and whether its floats equal
    ours on the unconverted columns."""
    if importlib.util.find_spec("pandas") is None:
        return None, "pandas not installed: pip install -e '.[bench]'"
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    def parse() -> list[np.ndarray]:
        return [
            pd.read_csv(
                f, sep="\t", header=None, na_values=["n/a"], keep_default_na=False,
                dtype=np.float64, engine="c",
            ).to_numpy()
            for f in files
        ]  # fmt: skip

    pandas_s, theirs = best_of(5, parse)
    same = all(
        np.array_equal(np.column_stack(mine)[:, i], other[:, i], equal_nan=True)
        for mine, other, table in zip(ours, theirs, tables, strict=True)
        for i, conv in enumerate(table.conversions)
        if not (conv.decimal_shift or conv.degrees)
    )
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    return (
        megabytes / pandas_s,
        "same floats as pandas on SI columns" if same else "floats DIFFER from pandas",
    )


def main() -> None:
    report("Foundation: recordings and simulator", run())
