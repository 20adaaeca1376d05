"""A fixed-size ring buffer of the newest samples, read as one contiguous view without copies.

Its size is capped at `MAX_RING_BYTES` whatever a source claims its rate to be.
"""

from __future__ import annotations

import threading

import numpy as np

from balancelab.errors import InvalidArgumentError
from balancelab.model import FloatArray, check_int

MAX_RING_BYTES = 64 * 1024 * 1024
"""The most one ring holds (times and values, stored twice): 30 s of a 1-kHz stream with six
channels takes 3.4 MB; this leaves room for about 20 times that, and no more."""
BYTES_PER_NUMBER = 8


class RingBuffer:
    """Holds the newest `capacity` rows of (time_s, values); written twice so that the newest
    rows are always one contiguous slice. Thread-safe: one writer, any number of readers.

    A `capacity` beyond what fits in `MAX_RING_BYTES` is cut to that (`self.capacity` says
    what was kept): a live view needs seconds of data, never gigabytes."""

    def __init__(self, capacity: int, channels: int) -> None:
        check_int("capacity", capacity, minimum=1)
        check_int("channels", channels, minimum=1)
        row_bytes = 2 * BYTES_PER_NUMBER * (1 + channels)
        self.capacity = max(min(capacity, MAX_RING_BYTES // row_bytes), 1)
        self._time = np.full(2 * self.capacity, np.nan)
        self._values = np.full((2 * self.capacity, channels), np.nan)
        self._head = 0
        self._count = 0
        self._written = 0
        self._lock = threading.Lock()

    @property
    def total_written(self) -> int:
        """Rows written since creation (including those already overwritten)."""
        return self._written

    def append(self, time_s: FloatArray, values: FloatArray) -> None:
        """Add rows (n,) and (n, channels); only the newest `capacity` rows are kept."""
        n = time_s.size
        if values.shape != (n, self._values.shape[1]):
            raise InvalidArgumentError(
                f"values must have shape ({n}, {self._values.shape[1]}), got {values.shape}"
            )
        with self._lock:
            keep = min(n, self.capacity)
            slots = (self._head + np.arange(keep)) % self.capacity
            for offset in (0, self.capacity):
                self._time[slots + offset] = time_s[n - keep :]
                self._values[slots + offset] = values[n - keep :]
            self._head = (self._head + keep) % self.capacity
            self._count = min(self._count + n, self.capacity)
            self._written += n

    def snapshot(self) -> tuple[FloatArray, FloatArray]:
        """Copies of the newest rows, oldest first: (time_s, values)."""
        with self._lock:
            start = self._head + self.capacity - self._count
            stop = self._head + self.capacity
            return self._time[start:stop].copy(), self._values[start:stop].copy()
