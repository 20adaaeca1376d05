"""The simulated athlete: body and wobble-board physics, sensor errors, scenarios, ground truth.

Pure numpy/scipy. Entry points: `simulate_session`, `list_scenarios`, `get_scenario`,
`iter_batches`; parameters in `AthleteParams`, `BoardParams`, `FoamParams` and the sensor specs.
"""

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
