"""Wobble-board and foam parameters (the surfaces under the stance foot).

Board, per axis (pitch = AP, roll = ML), tilt phi positive when the +x (front) / +y (left) edge
goes down, rolling on a rocker of radius R with the foot a height H above the rocker's lowest
point. The load m g acts at the COP; about the rolling contact it gives

    J_b phi'' = T_ankle - k_geom phi - c_b phi',   k_geom = m g (R - H)  (R > H: restoring)

(the foot's horizontal offset from the contact is (H - R) phi). The athlete's delayed controller
adds a board term, T = ... - Kb phi(t - tau) - Bb phi'(t - tau). At |phi| = phi_max (tilt
magnitude, a round board) the edge touches the floor: the radial tilt rate is removed
(inelastic stop) and the IMU sees an impact spike. Defaults are our choice (SIMULATOR.md gives
only the 15-20 deg limit): they give a board RMS tilt of a few degrees and occasional edge
contacts in single-leg holds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from balancelab.errors import SimulationError


@dataclass(frozen=True)
class BoardParams:
    """A round rocker board. Lengths in m, angles in deg, inertia kg m^2, damping N m s/rad."""

    rocker_radius_m: float = 0.275
    platform_height_m: float = 0.075
    max_tilt_deg: float = 15.0
    inertia_kg_m2: float = 0.12
    damping_ratio: float = 0.3
    # Athlete's board feedback, in multiples of k_geom (stiffness) and k_geom s (damping).
    control_stiffness_ratio: float = 0.1
    control_damping_ratio_s: float = 0.01
    # Height of a board IMU above the rocker's lowest point and of the edge from the centre.
    sensor_height_m: float = 0.08
    edge_radius_m: float = 0.2
    # Impact spike: ringing frequency (Hz), decay time (s), and the ratio of peak acceleration
    # to the edge's impact speed (1/s): peak = impact_gain * |phi'| * edge_radius.
    impact_ring_hz: float = 35.0
    impact_decay_s: float = 0.012
    impact_gain_per_s: float = 120.0
    # After the edge hits the floor the athlete needs time to shift the weight back before
    # the board lifts: the edge stays down this long (s; our choice, so that a young adult's
    # time off balance is 0.3-1.1 s per 15 s, McCurdy & Langford 2006, J Sports Sci Med 5:282).
    edge_recovery_s: float = 0.8

    def __post_init__(self) -> None:
        if self.rocker_radius_m <= self.platform_height_m:
            raise SimulationError(
                "board rocker_radius_m must exceed platform_height_m (else the board has no "
                "restoring geometry and cannot be ridden in this model)"
            )
        if not 0 < self.max_tilt_deg < 45:
            raise SimulationError(f"board max_tilt_deg must be in (0, 45), got {self.max_tilt_deg}")

    @property
    def max_tilt_rad(self) -> float:
        """Tilt magnitude at which the edge touches the floor (rad)."""
        return math.radians(self.max_tilt_deg)

    def geometric_stiffness(self, mass_kg: float, g: float) -> float:
        """k_geom = m g (R - H), the rocker's restoring stiffness under the athlete (N m/rad)."""
        return mass_kg * g * (self.rocker_radius_m - self.platform_height_m)

    def damping(self, mass_kg: float, g: float) -> float:
        """Viscous damping c_b = 2 zeta sqrt(k_geom J_b) (N m s/rad)."""
        k = self.geometric_stiffness(mass_kg, g)
        return 2.0 * self.damping_ratio * math.sqrt(k * self.inertia_kg_m2)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready parameters."""
        return asdict(self)


@dataclass(frozen=True)
class FoamParams:
    """A foam pad: a spring-damper in series under the foot (Kelvin-Voigt, massless foot).

    The foot tilts psi on the foam with T_ankle = k_f psi + c_f psi'. The controller senses the
    body tilt partly through the ankle angle (proprioception, weight w_p), so it feeds back
    theta - w_p psi: the compliance lowers and delays the effective feedback. Stiffness in
    multiples of m g h per rad, damping in m g h s per rad (our choice: an Airex-like pad).
    """

    stiffness_ratio: float = 3.0
    damping_ratio_s: float = 0.05
    proprio_weight: float = 0.2

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready parameters."""
        return asdict(self)
