"""An asyncio event loop whose clock jumps ahead whenever it would otherwise sleep.

Everything on the loop (bumble's controllers and timers, bleak's timeouts, the twins' sample
pacing, the source's watchdog and back-off) then runs on one virtual clock, as fast as the CPU
allows and deterministically: ten minutes of a 200 Hz stream take seconds. Real I/O still
works (the selector is polled without blocking), but nothing here uses it.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from typing import Any

START_S = 1000.0
"""Virtual time at loop creation (not zero, so no code can mistake it for "unset")."""


class VirtualTimeDeadlockError(RuntimeError):
    """The loop had nothing to run, no timer and no I/O: every task waits for something that
    will never happen."""


class WallClockBudgetError(RuntimeError):
    """The loop spent more real time than its budget (a busy loop that never lets time pass)."""


class _JumpingSelector(selectors.BaseSelector):
    """Polls the real selector without blocking; when the loop wants to wait, moves the clock."""

    def __init__(self, loop: VirtualTimeLoop, real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._loop.check_wall_budget()
        ready = self._real.select(0)
        if ready:
            return ready
        if timeout is None:
            # Only a thread (call_soon_threadsafe) could still wake the loop: give it a moment.
            ready = self._real.select(self._loop.idle_wait_s)
            if not ready:
                raise VirtualTimeDeadlockError("no ready callback, timer or I/O: the loop is stuck")
            return ready
        if timeout > 0:
            self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time; `wall_budget_s` bounds the real time it may use."""

    def __init__(self, wall_budget_s: float = 60.0, idle_wait_s: float = 1.0) -> None:
        self._now_s = START_S
        self._wall_start_s = time.monotonic()
        self.wall_budget_s = wall_budget_s
        self.idle_wait_s = idle_wait_s
        super().__init__(_JumpingSelector(self, selectors.DefaultSelector()))

    def time(self) -> float:
        return self._now_s

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (the loop does this itself when idle)."""
        self._now_s += seconds

    def check_wall_budget(self) -> None:
        """Raise if the loop has used more than its real-time budget."""
        if time.monotonic() - self._wall_start_s > self.wall_budget_s:
            raise WallClockBudgetError(
                f"virtual-time loop ran for more than {self.wall_budget_s} s of real time"
            )

    @property
    def wall_elapsed_s(self) -> float:
        """Real seconds since the loop was created."""
        return time.monotonic() - self._wall_start_s
