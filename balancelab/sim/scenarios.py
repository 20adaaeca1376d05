"""Protocols to simulate: a list of trials with rests, and the named built-in scenarios."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from balancelab.errors import SimulationError
from balancelab.model import Side, Surface, TrialType, Vision
from balancelab.sim.sensors import SensorSpec, board_imu, force_plate, lowback_imu


@dataclass(frozen=True)
class TrialSpec:
    """One trial. Times in s; `touchdowns_s` and `lapses_s` are relative to the trial onset.

    touchdowns_s: scripted free-foot touch-downs (start times). lapses_s: attention lapses (a
    torque pulse) that usually end in an emergent touch-down or a board-edge contact.
    landing_height_m: box height (step-down) or hop height (hop_stabilize).
    pre_s: quiet single-leg stance on the test leg before the movement of a landing trial: a
        guided protocol cues "balance 5 s on the test leg, then step down (or hop)": the
        built-in landing scenarios use LANDING_PRE_S (the default 3 s keeps short test trials
        valid). The analysis pools this stance (onset + 1 s to impact - 1 s, ~3.6 s of a
        step-down after 5 s) as the TTS reference of a session without holds; with 3 s (1.6 s
        each) five landings gave 8 s and a threshold within about ±30 %.
    """

    trial_type: TrialType
    side: Side
    surface: Surface = Surface.FIRM
    vision: Vision = Vision.OPEN
    duration_s: float = 30.0
    rest_after_s: float = 15.0
    touchdowns_s: tuple[float, ...] = ()
    lapses_s: tuple[float, ...] = ()
    landing_height_m: float = 0.2
    pre_s: float = 3.0

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.rest_after_s < 0:
            raise SimulationError("trial duration_s must be > 0 and rest_after_s >= 0")
        if self.trial_type is TrialType.CALIBRATION:
            raise SimulationError("calibration trials are not simulated; use a double_leg_hold")
        single = self.trial_type is not TrialType.DOUBLE_LEG_HOLD
        if single == (self.side is Side.BOTH):
            raise SimulationError(
                f"side {self.side.value!r} does not fit {self.trial_type.value}: single-leg "
                "trials need left or right, double-leg holds need both"
            )
        if self.is_landing and self.pre_s + 2.0 >= self.duration_s:
            raise SimulationError("a landing trial needs duration_s > pre_s + 2 s")
        for t in (*self.touchdowns_s, *self.lapses_s):
            if not 0 <= t < self.duration_s:
                raise SimulationError(f"event time {t} s lies outside the trial (0..duration_s)")

    @property
    def is_landing(self) -> bool:
        """True for step-downs and hops."""
        return self.trial_type in (TrialType.STEP_DOWN, TrialType.HOP_STABILIZE)


@dataclass(frozen=True)
class Scenario:
    """A session protocol: trials in order after `lead_in_s` of quiet bipedal stance (s)."""

    name: str
    description: str
    trials: tuple[TrialSpec, ...]
    sensors: tuple[SensorSpec, ...] = field(default_factory=lambda: (lowback_imu(), force_plate()))
    lead_in_s: float = 5.0
    tail_s: float = 2.0
    task: str = "balance"

    def __post_init__(self) -> None:
        if not self.trials:
            raise SimulationError(f"scenario {self.name!r} has no trials")
        if self.lead_in_s < 0 or self.tail_s < 0:
            raise SimulationError("lead_in_s and tail_s must be >= 0")

    @property
    def duration_s(self) -> float:
        """Total session length (s)."""
        body = (
            sum(t.duration_s + t.rest_after_s for t in self.trials) - self.trials[-1].rest_after_s
        )
        return self.lead_in_s + body + self.tail_s


SIDES = (Side.LEFT, Side.RIGHT)
# A built-in landing trial: LANDING_PRE_S of single-leg stance (TrialSpec.pre_s), the movement
# (a 0.6-s step-down, a hop's push and flight ~0.65 s) and the 10-s TTS window (METRICS.md), s.
LANDING_PRE_S = 5.0
LANDING_TRIAL_S = 16.0


def single_leg_battery() -> Scenario:
    """Left/right single-leg holds, eyes open/closed, firm/foam: 8 x 30 s, lower back + plate."""
    trials = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, surface, vision)
        for surface in (Surface.FIRM, Surface.FOAM)
        for vision in (Vision.OPEN, Vision.CLOSED)
        for side in SIDES
    )
    return Scenario("single_leg_battery", _describe(single_leg_battery), trials, task="slbattery")


def wobble_board() -> Scenario:
    """Wobble board, 3 x 30 s single-leg holds per side, one scripted lapse each; board + back."""
    trials = tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, side, Surface.WOBBLE_BOARD, lapses_s=(8.0 + 5 * k,))
        for k in range(3)
        for side in SIDES
    )
    return Scenario(
        "wobble_board",
        _describe(wobble_board),
        trials,
        sensors=(board_imu(), lowback_imu()),
        task="wobbleboard",
    )


def _reference_holds() -> tuple[TrialSpec, ...]:
    """Three 20-s quiet single-leg holds per side: the pooled TTS reference of each side."""
    return tuple(
        TrialSpec(TrialType.SINGLE_LEG_HOLD, s, duration_s=20.0) for _ in range(3) for s in SIDES
    )


def _landings(kind: TrialType, per_side: int, height_m: float = 0.2) -> tuple[TrialSpec, ...]:
    """`per_side` landings of `kind` per side, alternating sides, each after LANDING_PRE_S of
    single-leg stance on the test leg."""
    return tuple(
        TrialSpec(
            kind,
            side,
            duration_s=LANDING_TRIAL_S,
            rest_after_s=8.0,
            landing_height_m=height_m,
            pre_s=LANDING_PRE_S,
        )
        for _ in range(per_side)
        for side in SIDES
    )


def step_down() -> Scenario:
    """Three 20-s quiet holds per side (TTS reference), then 5 step-downs (0.2 m) per side."""
    trials = _reference_holds() + _landings(TrialType.STEP_DOWN, 5)
    return Scenario("step_down", _describe(step_down), trials, task="stepdown")


def hop_landing() -> Scenario:
    """Three 20-s quiet holds per side (TTS reference), then 5 single-leg hops (0.15 m) per side."""
    trials = _reference_holds() + _landings(TrialType.HOP_STABILIZE, 5, height_m=0.15)
    return Scenario("hop_landing", _describe(hop_landing), trials, task="hoplanding")


def step_down_only() -> Scenario:
    """5 step-downs (0.2 m) per side and no holds: the TTS reference is the pre-landing stance."""
    landings = _landings(TrialType.STEP_DOWN, 5)
    return Scenario("step_down_only", _describe(step_down_only), landings, task="stepdown")


def quiet_stance() -> Scenario:
    """Two-leg quiet stance, 60 s, eyes open/closed x firm/foam, 3 each: plate + lower back."""
    # The protocol of the public BDS data set (Santos & Duarte 2016, PeerJ 4:e2648): 60-s
    # trials, 3 per condition, so the simulated athlete compares trial for trial with it.
    trials = tuple(
        TrialSpec(TrialType.DOUBLE_LEG_HOLD, Side.BOTH, surface, vision, duration_s=60.0)
        for surface in (Surface.FIRM, Surface.FOAM)
        for vision in (Vision.OPEN, Vision.CLOSED)
        for _ in range(3)
    )
    return Scenario("quiet_stance", _describe(quiet_stance), trials, task="quietstance")


def demo_session() -> Scenario:
    """A 4-minute mix on both sides: holds (one scripted touch-down), eyes closed, step-downs."""
    trials = (
        TrialSpec(TrialType.DOUBLE_LEG_HOLD, Side.BOTH, duration_s=20.0, rest_after_s=5.0),
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, duration_s=20.0, rest_after_s=8.0),
        TrialSpec(
            TrialType.SINGLE_LEG_HOLD,
            Side.RIGHT,
            duration_s=20.0,
            rest_after_s=8.0,
            touchdowns_s=(12.0,),
        ),
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.LEFT, vision=Vision.CLOSED, duration_s=20.0),
        TrialSpec(TrialType.SINGLE_LEG_HOLD, Side.RIGHT, vision=Vision.CLOSED, duration_s=20.0),
        *_landings(TrialType.STEP_DOWN, 2),
    )
    return Scenario("demo_session", _describe(demo_session), trials, task="demo")


def _describe(factory: Callable[[], Scenario]) -> str:
    return (factory.__doc__ or "").strip().splitlines()[0]


BUILTIN: dict[str, Callable[[], Scenario]] = {
    "single_leg_battery": single_leg_battery,
    "wobble_board": wobble_board,
    "step_down": step_down,
    "hop_landing": hop_landing,
    "step_down_only": step_down_only,
    "demo_session": demo_session,
    "quiet_stance": quiet_stance,
}


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in scenario, for `simulate --list`."""
    return [(name, _describe(factory)) for name, factory in BUILTIN.items()]


def get_scenario(name: str) -> Scenario:
    """A built-in scenario by name."""
    try:
        return BUILTIN[name]()
    except KeyError:
        raise SimulationError(
            f"no scenario {name!r}; the scenarios are {', '.join(BUILTIN)}"
        ) from None
