"""A `SourceSink` that keeps everything it is given, for assertions."""

from __future__ import annotations

from typing import Any

import numpy as np

from balancelab.sensors.base import SampleBatch, SourceEvent, SourceState


class RecordingSink:
    """Collects batches and events; `rows()` joins the batches, `received()` drops NaN rows."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[SourceEvent] = []

    def on_samples(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def on_event(self, event: SourceEvent) -> None:
        self.events.append(event)

    def states(self) -> list[SourceState]:
        return [e.state for e in self.events]

    def rows(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        if not self.batches:
            return np.empty(0), np.empty((0, 0))
        return (
            np.concatenate([b.time_s for b in self.batches]),
            np.vstack([b.values for b in self.batches]),
        )

    def received(self) -> np.ndarray[Any, Any]:
        """Rows that carry data (not all NaN)."""
        _, values = self.rows()
        return values[~np.all(np.isnan(values), axis=1)] if values.size else values

    def lost_rows(self) -> int:
        _, values = self.rows()
        return int(np.count_nonzero(np.all(np.isnan(values), axis=1))) if values.size else 0
