"""The simulated athlete as a live source: `simulate_session` streamed at real time or faster.

Deterministic: the same scenario, seed and sensors give the same samples, bit for bit, whatever
the speed or batch size. The ground truth is at hand as `truth`.
"""

from __future__ import annotations

from collections.abc import Sequence

from balancelab.model import Session
from balancelab.sensors.base import Clock, monotonic_clock
from balancelab.sensors.replay import DEFAULT_BATCH_S, SessionPlayer
from balancelab.sensors.watchdog import DEFAULT_STALL_AFTER_S
from balancelab.sim import Scenario, SensorSpec, Truth, get_scenario, simulate_session


class SimulatedSource(SessionPlayer):
    """A simulated session (scenario name or `Scenario`) played at `speed` x real time."""

    def __init__(
        self,
        scenario: Scenario | str = "demo_session",
        *,
        seed: int = 0,
        sensors: Sequence[SensorSpec] | None = None,
        speed: float = 1.0,
        batch_s: float = DEFAULT_BATCH_S,
        clock: Clock = monotonic_clock,
        stall_after_s: float = DEFAULT_STALL_AFTER_S,
    ) -> None:
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.seed = seed
        self.sensors = tuple(sensors) if sensors is not None else None
        self._truth: Truth | None = None
        super().__init__(
            f"sim:{self.scenario.name}",
            speed=speed,
            batch_s=batch_s,
            clock=clock,
            stall_after_s=stall_after_s,
        )

    def load_session(self) -> Session:
        """Simulate (once; ~1.5 s for the 4-minute demo session)."""
        session, self._truth = simulate_session(self.scenario, sensors=self.sensors, seed=self.seed)
        return session

    @property
    def truth(self) -> Truth:
        """The simulation's ground truth (simulates now if `run` has not yet)."""
        _ = self.session
        assert self._truth is not None
        return self._truth
