"""Device clocks and sequence numbers → the host clock: unwrapping, loss counting, drift fitting.

All times are seconds. "Host" time is whatever monotonic clock the caller passes as the arrival
time (the session clock of `balancelab.sensors`); nothing here reads a clock itself.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from balancelab.devices.common import IntArray
from balancelab.model import FloatArray, check_int, check_positive


def _check_bits(bits: int) -> int:
    return 1 << check_int("bits", bits, 1, 62)


def _signed_step(step: int, modulus: int) -> int:
    """`step` mod `modulus` as the nearest signed difference in [-modulus/2, modulus/2)."""
    step %= modulus
    return step - modulus if step >= modulus // 2 else step


def unwrap(counter: ArrayLike, bits: int) -> IntArray:
    """Unwrap a series of `bits`-bit wrapping counter values into an int64 count.

    The first value is kept; each step is taken as the nearest signed difference modulo
    2**bits, so the series must not jump by half the range or more between two values
    (u16 at 200 Hz: 164 s; u32 µs: 35.8 min).
    """
    modulus = _check_bits(bits)
    values = np.asarray(counter, dtype=np.int64).ravel()
    if values.size == 0:
        return values
    steps = np.diff(values) % modulus
    steps = np.where(steps >= modulus // 2, steps - modulus, steps)
    return np.concatenate([values[:1], values[0] + np.cumsum(steps)]).astype(np.int64)


class Unwrapper:
    """Stateful `unwrap`: feed wrapped counter values one by one, get an unbounded count."""

    def __init__(self, bits: int) -> None:
        self.modulus = _check_bits(bits)
        self._last: int | None = None

    def __call__(self, value: int) -> int:
        """The unwrapped count nearest to the previous one that is ≡ `value` (mod 2**bits)."""
        if self._last is None:
            self._last = int(value) % self.modulus
        else:
            self._last += _signed_step(int(value) - self._last, self.modulus)
        return self._last

    def reset(self) -> None:
        """Forget the history (the device restarted its counter)."""
        self._last = None


@dataclass(frozen=True)
class SequenceVerdict:
    """What to do with one packet: keep it (after `nan_rows` NaN rows) or drop it (`reason`)."""

    accepted: bool
    first_index: int
    """Unwrapped index of the packet's first sample (counted from the first packet seen)."""
    lost: int = 0
    """Samples missing just before this packet (0 when dropped)."""
    nan_rows: int = 0
    """NaN rows to insert before it: `lost`, or 0 when the gap is too long to fill (resync)."""
    reason: str = ""
    """"duplicate" or "out_of_order" when dropped; "resync" for a gap too long to fill."""


class SequenceTracker:
    """Sample-index bookkeeping for streams that number their samples (u16 DIY index …).

    A packet starting at the next expected index is accepted; one starting later is accepted
    after `lost` missing samples; one starting earlier was already delivered (duplicate) or
    has been given up for lost (out of order) and is dropped. Gaps longer than
    `max_fill_samples` are counted as lost but not filled (`reason="resync"`).
    """

    def __init__(self, bits: int = 16, *, max_fill_samples: int = 2000, memory: int = 64) -> None:
        self.modulus = _check_bits(bits)
        self.max_fill_samples = max_fill_samples
        self._expected: int | None = None
        self._recent: deque[int] = deque(maxlen=memory)
        self.accepted = 0
        self.lost = 0
        self.duplicates = 0
        self.out_of_order = 0

    def check(self, first_index: int, n_samples: int) -> SequenceVerdict:
        """Classify a packet whose first sample has the wrapped index `first_index`."""
        if self._expected is None:
            return self._accept(int(first_index) % self.modulus, n_samples)
        index = self._expected + _signed_step(int(first_index) - self._expected, self.modulus)
        if index >= self._expected:
            return self._accept(index, n_samples)
        if index in self._recent:
            self.duplicates += 1
            return SequenceVerdict(False, index, reason="duplicate")
        self.out_of_order += 1
        return SequenceVerdict(False, index, reason="out_of_order")

    def _accept(self, index: int, n_samples: int) -> SequenceVerdict:
        lost = 0 if self._expected is None else index - self._expected
        self._expected = index + n_samples
        self._recent.append(index)
        self.accepted += n_samples
        self.lost += lost
        if lost > self.max_fill_samples:
            return SequenceVerdict(True, index, lost, 0, "resync")
        return SequenceVerdict(True, index, lost, lost)

    def reset(self) -> None:
        """Start over (the device signalled a new stream, e.g. the DIY RESTART flag)."""
        self._expected = None
        self._recent.clear()


class ClockMapper:
    """Maps a device clock (s) to the host clock (s): host = device + offset + drift·elapsed.

    Observations are (device time of a sample, host arrival time of the packet carrying it).
    Arrival = true time + latency ≥ true time + minimum latency, so the fit uses the lower
    envelope: the observation with the smallest (arrival − device) in each `bin_s` of device
    time. A least-squares line through the last `window_bins` minima, refitted once more
    without minima far above the line (congested bins), gives offset and drift. Latency
    spikes only raise single observations and so never move the fit. Until two bins are
    closed, drift is 0 and the offset is the smallest (arrival − device) seen.

    The mapped time includes the link's minimum latency (a constant, ~ one connection
    interval); pass `latency_floor_s` if it is known. A device-clock jump (arrival earlier
    than the fit allows by more than `resync_s`, or device time going back by more than a
    bin) restarts the fit.
    """

    def __init__(
        self,
        *,
        bin_s: float = 1.0,
        window_bins: int = 300,
        resync_s: float = 2.0,
        latency_floor_s: float = 0.0,
    ) -> None:
        check_positive("bin_s", bin_s, "s")
        check_int("window_bins", window_bins, minimum=2)
        check_positive("resync_s", resync_s, "s", allow_inf=True)
        self.bin_s = bin_s
        self.window_bins = window_bins
        self.resync_s = resync_s
        self.latency_floor_s = latency_floor_s
        self.resyncs = 0
        self.reset()

    def reset(self) -> None:
        """Forget every observation."""
        self._origin: tuple[float, float] | None = None  # (device_s, host_s) of the first one
        self._bins: deque[tuple[float, float]] = deque(maxlen=self.window_bins)
        self._bin_id: int | None = None
        self._bin_min: tuple[float, float] = (0.0, math.inf)  # (x, r) of the current bin
        self._floor_r = math.inf
        self._a = 0.0  # offset of r at x = 0 (s)
        self._d = 0.0  # drift (s per s)
        self.n_observations = 0

    def observe(self, device_s: float, host_arrival_s: float) -> bool:
        """Add one observation; returns True if it forced a restart of the fit (clock jump)."""
        restarted = False
        if self._origin is not None and self._is_jump(device_s, host_arrival_s):
            self.reset()
            self.resyncs += 1
            restarted = True
        if self._origin is None:
            self._origin = (device_s, host_arrival_s)
        x, r = self._xr(device_s, host_arrival_s)
        self.n_observations += 1
        self._floor_r = min(self._floor_r, r)
        bin_id = math.floor(x / self.bin_s)
        if self._bin_id is None or bin_id > self._bin_id:
            self._close_bin()
            self._bin_id = bin_id
            self._bin_min = (x, r)
        elif bin_id == self._bin_id and r < self._bin_min[1]:
            self._bin_min = (x, r)
        return restarted

    def _xr(self, device_s: float, host_s: float) -> tuple[float, float]:
        assert self._origin is not None
        x = device_s - self._origin[0]
        return x, (host_s - self._origin[1]) - x

    def _is_jump(self, device_s: float, host_s: float) -> bool:
        x, r = self._xr(device_s, host_s)
        back = self._bin_id is not None and x < (self._bin_id - 1) * self.bin_s
        return back or r < float(self._line(x)) - self.resync_s

    def _close_bin(self) -> None:
        if self._bin_id is None or not math.isfinite(self._bin_min[1]):
            return
        self._bins.append(self._bin_min)
        if len(self._bins) >= 2:
            self._fit()

    def _fit(self) -> None:
        x = np.array([b[0] for b in self._bins])
        r = np.array([b[1] for b in self._bins])
        a, d = _line_fit(x, r)
        residual = r - (a + d * x)
        mad = float(np.median(np.abs(residual - np.median(residual))))
        keep = residual <= np.median(residual) + 3.0 * 1.4826 * mad + 1e-6
        if np.count_nonzero(keep) >= 2:
            a, d = _line_fit(x[keep], r[keep])
        self._a, self._d = a, d

    def _line(self, x: float | FloatArray) -> float | FloatArray:
        if len(self._bins) < 2:
            return self._floor_r if math.isfinite(self._floor_r) else 0.0
        return self._a + self._d * x

    @property
    def ready(self) -> bool:
        """True once a drift has been fitted (two or more bins of device time)."""
        return len(self._bins) >= 2

    @property
    def drift_ppm(self) -> float:
        """Host seconds per device second − 1, in parts per million."""
        return self._d * 1e6 if self.ready else 0.0

    def to_host(self, device_s: float | Sequence[float] | FloatArray) -> FloatArray:
        """Host times (s) of device times (s); before any observation, the device time itself."""
        device = np.asarray(device_s, dtype=np.float64)
        if self._origin is None:
            return device - self.latency_floor_s
        x = device - self._origin[0]
        return self._origin[1] + x + self._line(x) - self.latency_floor_s


def _line_fit(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Least-squares intercept and slope of y on x (slope 0 if x has no spread)."""
    x_mean, y_mean = float(x.mean()), float(y.mean())
    spread = float(np.sum((x - x_mean) ** 2))
    if spread <= 0:
        return y_mean, 0.0
    slope = float(np.sum((x - x_mean) * (y - y_mean))) / spread
    return y_mean - slope * x_mean, slope


@dataclass(frozen=True)
class Stamped:
    """Host times (s) for the samples of one notification, and samples judged lost before it."""

    time_s: FloatArray
    lost: int


class HostTimestamper:
    """Times for samples from a device that sends none (WitMotion): from host arrival alone.

    Samples are numbered k = 0, 1, … as they arrive; k / `nominal_fs_hz` is a virtual device
    clock mapped to the host by a `ClockMapper` (lower envelope of arrival times, so the
    effective rate and offset are fitted robustly and jitter is removed). Loss is a lasting
    step in lateness, a latency spike a passing one: when `confirm` notifications in a row
    arrive more than `gap_threshold_s` later than the fit expects and their lateness is not
    shrinking (a queue draining after a spike catches up by a packet per notification), the
    smallest of their delays × rate is counted as lost samples, reported (as NaN rows to
    insert) before the last of them. Times never go backwards and are never later than the arrival.
    """

    def __init__(
        self,
        nominal_fs_hz: float,
        *,
        gap_threshold_s: float | None = None,
        confirm: int = 3,
        bin_s: float = 1.0,
        window_bins: int = 300,
    ) -> None:
        check_positive("nominal_fs_hz", nominal_fs_hz, "Hz")
        check_int("confirm", confirm, minimum=1)
        self.nominal_fs_hz = nominal_fs_hz
        self.gap_threshold_s = (
            gap_threshold_s if gap_threshold_s is not None else max(0.25, 10.0 / nominal_fs_hz)
        )
        self.mapper = ClockMapper(bin_s=bin_s, window_bins=window_bins, resync_s=math.inf)
        self._next_k = 0
        self._last_time_s = -math.inf
        self._late_s: deque[float] = deque(maxlen=confirm)
        self.lost = 0

    @property
    def fs_effective_hz(self) -> float:
        """The fitted sample rate (Hz): nominal corrected by the fitted drift."""
        return self.nominal_fs_hz / (1.0 + self.mapper.drift_ppm * 1e-6)

    def stamp(self, n_samples: int, arrival_s: float) -> Stamped:
        """Times for `n_samples` samples that arrived together at host time `arrival_s`."""
        if n_samples <= 0:
            return Stamped(np.empty(0), 0)
        lost = self._lost_before(n_samples, arrival_s)
        self._next_k += lost
        self.lost += lost
        k = self._next_k + np.arange(n_samples)
        self.mapper.observe(float(k[-1]) / self.nominal_fs_hz, arrival_s)
        times = np.minimum(self.mapper.to_host(k / self.nominal_fs_hz), arrival_s)
        floor = self._last_time_s + 1e-9 * np.arange(1, n_samples + 1)
        times = np.maximum.accumulate(np.maximum(times, floor))
        self._next_k += n_samples
        self._last_time_s = float(times[-1])
        return Stamped(times, lost)

    def _lost_before(self, n_samples: int, arrival_s: float) -> int:
        if self.mapper.n_observations == 0:
            return 0
        last_k = self._next_k + n_samples - 1
        expected = float(self.mapper.to_host(last_k / self.nominal_fs_hz))
        delay_s = arrival_s - expected
        if delay_s <= self.gap_threshold_s:
            self._late_s.clear()
            return 0
        self._late_s.append(delay_s)
        if len(self._late_s) < (self._late_s.maxlen or 1):
            return 0
        # a queue draining after a spike catches up by about a packet per notification
        catch_up_s = self._late_s[0] - self._late_s[-1]
        draining = catch_up_s > 0.5 * (len(self._late_s) - 1) * n_samples / self.nominal_fs_hz
        if draining:
            return 0
        lost = round(min(self._late_s) * self.fs_effective_hz)
        self._late_s.clear()
        return lost
