"""The simulated athlete: body and wobble-board physics, sensor errors, scenarios, ground truth.

Pure numpy/scipy. Entry points: `simulate_session`, `list_scenarios`, `get_scenario`,
`iter_batches`; parameters in `AthleteParams`, `BoardParams`, `FoamParams` and the sensor specs.

Each name is imported from its module on first use (PEP 562), so that `list_scenarios` (for
`balancelab simulate --list` or a stream's scenario check) costs numpy, not scipy's signal package
that the session simulator needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from balancelab.sim.athlete import AthleteParams, Condition, condition_for, sample_athlete
    from balancelab.sim.board import BoardParams, FoamParams
    from balancelab.sim.events import compute_settling_time, moving_rms
    from balancelab.sim.sampling import iter_batches, segment_signals
    from balancelab.sim.scenarios import Scenario, TrialSpec, get_scenario, list_scenarios
    from balancelab.sim.sensors import (
        CopSpec,
        ImuSpec,
        SensorSpec,
        board_imu,
        force_plate,
        lowback_imu,
        sternum_phone,
    )
    from balancelab.sim.session import simulate_session
    from balancelab.sim.truth import Truth

_MODULE_OF: dict[str, str] = {
    "AthleteParams": "athlete",
    "Condition": "athlete",
    "condition_for": "athlete",
    "sample_athlete": "athlete",
    "BoardParams": "board",
    "FoamParams": "board",
    "compute_settling_time": "events",
    "moving_rms": "events",
    "iter_batches": "sampling",
    "segment_signals": "sampling",
    "Scenario": "scenarios",
    "TrialSpec": "scenarios",
    "get_scenario": "scenarios",
    "list_scenarios": "scenarios",
    "CopSpec": "sensors",
    "ImuSpec": "sensors",
    "SensorSpec": "sensors",
    "board_imu": "sensors",
    "force_plate": "sensors",
    "lowback_imu": "sensors",
    "sternum_phone": "sensors",
    "simulate_session": "session",
    "Truth": "truth",
}

__all__ = [
    "AthleteParams",
    "BoardParams",
    "Condition",
    "CopSpec",
    "FoamParams",
    "ImuSpec",
    "Scenario",
    "SensorSpec",
    "TrialSpec",
    "Truth",
    "board_imu",
    "compute_settling_time",
    "condition_for",
    "force_plate",
    "get_scenario",
    "iter_batches",
    "list_scenarios",
    "lowback_imu",
    "moving_rms",
    "sample_athlete",
    "segment_signals",
    "simulate_session",
    "sternum_phone",
]


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
