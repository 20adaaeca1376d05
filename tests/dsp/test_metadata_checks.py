"""The checks behind `overlap`, `outside_recording` and `rate_mismatch` (dsp/quality.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancelab.dsp.quality import (
    detect_outside_recording,
    detect_overlaps,
    detect_rate_mismatch,
    median_rate_hz,
)
from balancelab.model import QualityCode

TOLERANCE_S = 0.1
times = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
spans = st.lists(
    st.one_of(st.none(), st.tuples(times, st.floats(min_value=0.0, max_value=100.0))),
    max_size=30,
)


@given(spans)
def test_the_sweep_flags_exactly_the_trials_a_pairwise_check_flags(
    rows: list[tuple[float, float] | None],
) -> None:
    intervals = [None if r is None else (r[0], r[0] + r[1]) for r in rows]
    expected = {
        i
        for i, a in enumerate(intervals)
        for j, b in enumerate(intervals)
        if i != j
        and a is not None
        and b is not None
        and a[0] <= b[0]
        and a[1] - b[0] > TOLERANCE_S  # b starts more than the tolerance before a ends
    } | {
        j
        for i, a in enumerate(intervals)
        for j, b in enumerate(intervals)
        if i != j and a is not None and b is not None and a[0] <= b[0] and a[1] - b[0] > TOLERANCE_S
    }
    flags = detect_overlaps(intervals, tolerance_s=TOLERANCE_S)
    assert set(flags) == expected
    assert all(f.code is QualityCode.OVERLAP for f in flags.values())


def test_an_overlap_names_the_other_trial() -> None:
    flags = detect_overlaps([(0.0, 20.0), (30.0, 50.0), (45.0, 60.0)], tolerance_s=TOLERANCE_S)
    assert sorted(flags) == [1, 2]
    assert "with trial 3 at 45..60 s" in flags[1].message
    assert "with trial 2 at 30..50 s" in flags[2].message


def test_outside_the_samples_by_more_than_the_tolerance() -> None:
    def outside(onset: float, end: float) -> bool:
        flag = detect_outside_recording((onset, end), 0.0, 100.0, tolerance_s=TOLERANCE_S)
        return flag is not None

    assert not outside(0.0, 100.0) and not outside(-0.05, 100.05)
    assert outside(-0.2, 10.0) and outside(90.0, 100.2) and outside(200.0, 210.0)
    assert outside(10.0, 1e300) and outside(10.0, float("inf"))


def test_rate_mismatch_uses_the_median_step_so_lost_samples_do_not_count() -> None:
    t = np.arange(1000) / 100.0
    with_losses = np.delete(t, np.arange(100, 500, 2))  # 200 of 1000 samples lost
    assert median_rate_hz(with_losses) == pytest.approx(100.0)
    assert detect_rate_mismatch(with_losses, 100.0) is None
    assert detect_rate_mismatch(t, 109.0) is None
    flag = detect_rate_mismatch(t, 111.0)
    assert flag is not None and flag.code is QualityCode.RATE_MISMATCH
    assert detect_rate_mismatch(t[:1], 1.0) is None  # one sample: no rate to compare
