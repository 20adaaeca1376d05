"""The ring buffer keeps exactly the newest rows, in order, whatever the batch sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.errors import InvalidArgumentError
from balancelab.sensors.ring import MAX_RING_BYTES, RingBuffer


@settings(max_examples=100, deadline=None)
@given(
    capacity=st.integers(1, 50),
    batches=st.lists(st.integers(0, 120), min_size=1, max_size=20),
)
def test_snapshot_is_the_newest_rows_in_order(capacity: int, batches: list[int]) -> None:
    ring = RingBuffer(capacity, 2)
    written = 0
    for size in batches:
        t = np.arange(written, written + size, dtype=float)
        ring.append(t, np.column_stack([t, -t]))
        written += size
    time_s, values = ring.snapshot()
    expected = np.arange(max(0, written - capacity), written, dtype=float)
    np.testing.assert_array_equal(time_s, expected)
    np.testing.assert_array_equal(values, np.column_stack([expected, -expected]))
    assert ring.total_written == written


def test_shape_mismatch_is_refused() -> None:
    ring = RingBuffer(10, 3)
    with pytest.raises(InvalidArgumentError, match="shape"):
        ring.append(np.zeros(4), np.zeros((4, 2)))


def test_the_size_is_capped_whatever_is_asked() -> None:
    # A phone claiming 1 GHz asked for 30 s of it: 3e10 rows (about 2 TB with 3 channels).
    ring = RingBuffer(30 * 10**9, 3)
    assert ring.capacity * 2 * 8 * (1 + 3) <= MAX_RING_BYTES
    assert ring.capacity >= 30 * 1000  # 30 s of the fastest sensor we stream still fit
    t = np.arange(10.0)
    ring.append(t, np.column_stack([t, t, t]))
    np.testing.assert_array_equal(ring.snapshot()[0], t)
