"""Clock mapping, unwrapping and sequence tracking on synthetic streams with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from balancelab.devices.timing import (
    ClockMapper,
    HostTimestamper,
    SequenceTracker,
    Unwrapper,
    unwrap,
)

RNG_SEED = 20260101


def test_unwrap_u16_index_across_65535() -> None:
    counts = np.arange(65530, 65530 + 20) % 65536
    assert unwrap(counts, 16).tolist() == list(range(65530, 65550))
    assert unwrap([], 16).size == 0


def test_unwrap_u32_microseconds_across_71_6_minutes() -> None:
    true_us = np.arange(0, 75 * 60 * 10**6, 10_000_000, dtype=np.int64)  # 10 s steps, 75 min
    wrapped = true_us % 2**32
    assert wrapped.max() < true_us.max()  # it did wrap (at ~71.6 min)
    assert unwrap(wrapped, 32).tolist() == true_us.tolist()
    unwrapper = Unwrapper(32)
    assert [unwrapper(int(v)) for v in wrapped] == true_us.tolist()


def test_unwrapper_takes_small_backward_steps_as_backward() -> None:
    unwrapper = Unwrapper(16)
    assert [unwrapper(v) for v in (65534, 1, 65535, 3)] == [65534, 65537, 65535, 65539]


def _packets(n_packets: int, per_packet: int) -> list[int]:
    return [(i * per_packet) % 65536 for i in range(n_packets)]


def test_sequence_tracker_counts_lost_runs_across_the_wrap() -> None:
    tracker = SequenceTracker(16)
    starts = _packets(20000, 5)  # 100000 samples: wraps once
    del starts[13110:13113]  # 15 samples lost around index 65550 (a wrap)
    del starts[500]  # 5 lost
    verdicts = [tracker.check(s, 5) for s in starts]
    assert all(v.accepted for v in verdicts)
    assert sum(v.nan_rows for v in verdicts) == 20 == tracker.lost
    assert tracker.accepted == 5 * len(starts)
    assert verdicts[-1].first_index == 99995


def test_sequence_tracker_drops_duplicates_and_late_packets() -> None:
    tracker = SequenceTracker(16)
    order = [0, 5, 5, 15, 10, 20, 15, 25]
    verdicts = [tracker.check(s, 5) for s in order]
    assert [v.accepted for v in verdicts] == [True, True, False, True, False, True, False, True]
    assert [v.reason for v in verdicts if not v.accepted] == [
        "duplicate",
        "out_of_order",
        "duplicate",
    ]
    assert verdicts[3].nan_rows == 5  # 10..14 were missing when 15 came
    assert (tracker.duplicates, tracker.out_of_order, tracker.lost) == (2, 1, 5)


def test_sequence_tracker_does_not_fill_long_gaps_and_resets() -> None:
    tracker = SequenceTracker(16, max_fill_samples=100)
    tracker.check(0, 5)
    verdict = tracker.check(1005, 5)
    assert verdict.accepted and verdict.lost == 1000 and verdict.nan_rows == 0
    assert verdict.reason == "resync"
    tracker.reset()
    assert tracker.check(0, 5).nan_rows == 0


def _latency_s(rng: np.random.Generator, n: int) -> np.ndarray:
    """BLE-like delivery delays: ≥ 8 ms, exponential jitter, occasional 300 ms spikes."""
    latency = 0.008 + rng.exponential(0.006, n)
    spikes = rng.random(n) < 0.01
    return latency + spikes * rng.uniform(0.05, 0.3, n)


@pytest.mark.parametrize("drift_ppm", [-50.0, 0.0, 50.0])
def test_clock_mapper_recovers_drift_and_offset(drift_ppm: float) -> None:
    rng = np.random.default_rng(RNG_SEED)
    device_s = np.arange(0, 300, 0.025)  # 40 packets/s for 5 min
    true_host_s = 1234.5 + device_s * (1 + drift_ppm * 1e-6)
    arrival_s = true_host_s + _latency_s(rng, device_s.size)
    mapper = ClockMapper()
    for device, arrival in zip(device_s, arrival_s, strict=True):
        mapper.observe(float(device), float(arrival))
    assert mapper.ready
    assert mapper.drift_ppm == pytest.approx(drift_ppm, abs=2.0)  # tolerance: 2 ppm in 5 min
    error_s = mapper.to_host(device_s) - true_host_s
    assert np.all(error_s > 0.0) and np.all(error_s < 0.012)  # minimum latency + < 4 ms


def test_clock_mapper_before_a_fit_and_after_a_clock_jump() -> None:
    mapper = ClockMapper()
    assert mapper.to_host([1.0]).tolist() == [1.0]
    mapper.observe(0.0, 100.02)
    mapper.observe(0.5, 100.51)
    assert not mapper.ready and mapper.drift_ppm == 0.0
    assert float(mapper.to_host(0.25)) == pytest.approx(100.26)
    assert mapper.observe(1000.0, 101.0)  # device clock jumped: the fit restarts
    assert mapper.resyncs == 1 and float(mapper.to_host(1000.0)) == pytest.approx(101.0)


def test_host_timestamper_recovers_the_true_rate_and_never_goes_back() -> None:
    rng = np.random.default_rng(RNG_SEED)
    true_fs = 50.0 * (1 - 0.007)  # WitMotion clocks reportedly run 0.7 % off
    n = 4 * 3000
    sample_time = 10.0 + np.arange(n) / true_fs
    stamper = HostTimestamper(50.0)
    times = []
    for start in range(0, n, 4):  # 4 frames per notification
        arrival = sample_time[start + 3] + float(_latency_s(rng, 1)[0])
        stamped = stamper.stamp(4, arrival)
        assert stamped.lost == 0
        times.append(stamped.time_s)
    all_times = np.concatenate(times)
    assert np.all(np.diff(all_times) > 0)
    assert stamper.fs_effective_hz == pytest.approx(true_fs, rel=1e-4)
    late = all_times[n // 2 :] - sample_time[n // 2 :]
    assert np.ptp(late) < 0.01  # jitter removed: the offset is constant within 10 ms


def test_host_timestamper_counts_a_lost_run_but_not_a_latency_burst() -> None:
    stamper = HostTimestamper(100.0)
    for k in range(0, 1000, 2):
        stamper.stamp(2, 0.01 + (k + 1) / 100.0)
    # a 300 ms stall of the link: 15 notifications queue up and arrive together
    burst = [stamper.stamp(2, 0.01 + 1031 / 100.0).lost for _ in range(1000, 1030, 2)]
    assert burst == [0] * 15
    for k in range(1030, 1100, 2):
        assert stamper.stamp(2, 0.01 + (k + 1) / 100.0).lost == 0
    # then 50 samples never arrive: the third late notification reports them
    losses = [stamper.stamp(2, 0.01 + (k + 50 + 1) / 100.0).lost for k in range(1100, 1106, 2)]
    assert losses == [0, 0, 50] and stamper.lost == 50
    stamped = stamper.stamp(2, 0.01 + (1106 + 50 + 1) / 100.0)
    assert stamped.lost == 0 and stamped.time_s[-1] <= 0.01 + 1157 / 100.0
