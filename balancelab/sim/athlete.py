"""Athlete parameters and the per-condition controller settings derived from them.

The body is the inverted pendulum of Peterka (2002) and Maurer & Peterka (2005): mass `m`,
centre-of-mass height `h = com_height_ratio * height_m` above the ankle, inertia `J = m h^2`,
a delayed PID on sway angle and a low-pass filtered motor-noise torque. Gains are given as
multiples of the gravitational stiffness `m g h` (N m/rad), as in `science/SIMULATOR.md`.
Every condition change (single leg, eyes closed, foam, weaker side) is an explicit multiplier
here, so the truth can record it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from balancelab.errors import SimulationError
from balancelab.model import STANDARD_GRAVITY_MS2, Side, Surface, TrialType, Vision

G = STANDARD_GRAVITY_MS2


@dataclass(frozen=True)
class AthleteParams:
    """One simulated athlete. Lengths in m, mass in kg, times in s, gains in multiples of m g h.

    Defaults (SIMULATOR.md *defaults* unless noted): h = 0.55 x height; Kp 1.4 m g h per rad;
    Kd 0.32 m g h s per rad; Ki 0.10 m g h per rad s (slow drift only); delay 0.15 s; noise
    Butterworth low-pass (2nd order) at 0.5 Hz. Noise sizes were tuned (our choice) so that
    bipedal quiet stance lands inside the sanity ranges of SIMULATOR.md and single-leg stance
    sways several times more.
    """

    mass_kg: float = 70.0
    height_m: float = 1.75
    com_height_ratio: float = 0.55
    kp_ratio: float = 1.4
    kd_ratio_s: float = 0.32
    ki_ratio_per_s: float = 0.10
    delay_s: float = 0.15
    noise_cutoff_hz: float = 0.5
    noise_filter_order: int = 2
    # RMS of the filtered motor-noise torque, in units of m g h x 1 mrad (bipedal stance).
    noise_bipedal_ap: float = 1.6
    noise_bipedal_ml: float = 0.8
    # Single-leg stance: noise multiplier, and its ML noise relative to the bipedal AP noise.
    single_leg_noise_factor: float = 1.6
    single_leg_ml_ratio: float = 0.8
    # Bipedal ML is stiffer (load/unload mechanism): gain multiplier on Kp, Kd in ML.
    bipedal_ml_gain_factor: float = 1.3
    # Eyes closed: noise x1.35 and gains x0.95 (sway ~1.5-2x eyes open, SIMULATOR.md).
    eyes_closed_noise_factor: float = 1.35
    eyes_closed_gain_factor: float = 0.95
    # Foam: noise x1.5, plus a series spring-damper under the foot (see FoamParams).
    foam_noise_factor: float = 1.5
    # Wobble board: noise x1.2 (an unstable surface perturbs more; our choice).
    board_noise_factor: float = 1.2
    # A scripted attention lapse: a half-sine motor-noise torque pulse (ML, random sign) of this
    # peak, in m g h x 1 rad, and duration (s): enough to force a touch-down or an edge contact.
    lapse_torque_ratio: float = 0.08
    lapse_duration_s: float = 0.4
    # Weaker side: its holds have the RMS sway (COP/COM) larger by this factor (noise scaled,
    # exact for the linear model), so the sway-area factor is its square.
    weaker_side: Side | None = Side.LEFT
    weak_side_sway_factor: float = 1.3
    # Landings: the initial sway state at impact is drawn per axis with a random sign, angle
    # uniform in [0.5, 1] x the maximum (rad: AP, ML) and rate uniform in [0, 1] x the maximum
    # (rad/s); the weaker side's are larger by a factor (it lands less controlled).
    landing_sway_ap_rad: float = 0.03
    landing_sway_ml_rad: float = 0.012
    landing_rate_rad_s: float = 0.05
    weak_side_landing_factor: float = 1.5
    # Landings: the segmental landing response (trunk and leg absorption, not in the single
    # pendulum) seen by a body IMU as a horizontal acceleration and by the force plate as a COP
    # excursion: per axis A exp(-t / decay) sin(2 pi f t + phase) from impact, amplitude uniform
    # in [0.6, 1] x the maximum (AP; ML x ml_ratio), random phase. The weaker side decays
    # slower by weak_side_landing_decay_factor. Sizes and sources: see events.landing_response.
    landing_acc_ms2: float = 4.0
    landing_cop_m: float = 0.06
    landing_ml_ratio: float = 0.6
    landing_freq_hz: float = 2.0
    landing_decay_s: float = 0.3
    weak_side_landing_decay_factor: float = 1.3
    # Foot support in single-leg stance (m from the ankle): COP limits and the COM excursion
    # beyond which the free foot touches down (emergent touch-down).
    foot_toe_m: float = 0.16
    foot_heel_m: float = 0.05
    foot_half_width_m: float = 0.045
    recoverable_fraction: float = 0.75
    touchdown_min_s: float = 0.3
    touchdown_max_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("mass_kg", "height_m", "com_height_ratio", "delay_s", "noise_cutoff_hz"):
            if not getattr(self, name) > 0:
                raise SimulationError(f"athlete {name} must be > 0, got {getattr(self, name)}")
        if min(self.landing_freq_hz, self.landing_decay_s) <= 0:
            raise SimulationError("landing_freq_hz and landing_decay_s must be > 0")
        if (
            self.weak_side_sway_factor < 1
            or self.weak_side_landing_factor < 1
            or self.weak_side_landing_decay_factor < 1
        ):
            raise SimulationError("weak-side factors must be >= 1 (1 = symmetric athlete)")
        if self.weaker_side is Side.BOTH:
            raise SimulationError("weaker_side must be left, right or None, not 'both'")
        if not 0 < self.touchdown_min_s <= self.touchdown_max_s:
            raise SimulationError("touch-down durations need 0 < touchdown_min_s <= max")

    @property
    def com_height_m(self) -> float:
        """Centre-of-mass height above the ankle (m)."""
        return self.com_height_ratio * self.height_m

    @property
    def gravity_stiffness(self) -> float:
        """m g h, the gravitational toppling stiffness (N m/rad)."""
        return self.mass_kg * G * self.com_height_m

    @property
    def inertia_kg_m2(self) -> float:
        """Moment of inertia about the ankle, J = m h^2 (kg m^2)."""
        return self.mass_kg * self.com_height_m**2

    def side_factor(self, side: Side) -> float:
        """The RMS-sway factor applied to this stance side (1 on the stronger side)."""
        return self.weak_side_sway_factor if side is self.weaker_side else 1.0

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready parameters."""
        d = asdict(self)
        d["weaker_side"] = None if self.weaker_side is None else str(self.weaker_side)
        return d


@dataclass(frozen=True)
class AxisControl:
    """Controller and noise of one axis in one condition (SI: N m/rad, N m s/rad, N m, s)."""

    kp: float
    kd: float
    ki: float
    noise_rms_nm: float


@dataclass(frozen=True)
class Condition:
    """The settings of one stance condition: both axes and the multipliers that made them."""

    ap: AxisControl
    ml: AxisControl
    delay_s: float
    single_leg: bool
    foam: bool
    noise_factor: float
    gain_factor: float
    side_factor: float

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready settings."""
        return asdict(self)


def condition_for(
    athlete: AthleteParams,
    trial_type: TrialType,
    side: Side,
    surface: Surface,
    vision: Vision,
) -> Condition:
    """Controller gains and noise for one stance condition (see AthleteParams for the rules)."""
    single = trial_type in (TrialType.SINGLE_LEG_HOLD, TrialType.STEP_DOWN, TrialType.HOP_STABILIZE)
    noise = athlete.single_leg_noise_factor if single else 1.0
    gain = 1.0
    if vision is Vision.CLOSED:
        noise *= athlete.eyes_closed_noise_factor
        gain *= athlete.eyes_closed_gain_factor
    foam = surface is Surface.FOAM
    if foam:
        noise *= athlete.foam_noise_factor
    if surface is Surface.WOBBLE_BOARD:
        noise *= athlete.board_noise_factor
    side_factor = athlete.side_factor(side) if single else 1.0
    noise *= side_factor
    mgh = athlete.gravity_stiffness
    unit = mgh * 1e-3  # noise sizes are in m g h x 1 mrad
    ml_gain = 1.0 if single else athlete.bipedal_ml_gain_factor
    ml_noise = (
        athlete.noise_bipedal_ap * athlete.single_leg_ml_ratio
        if single
        else athlete.noise_bipedal_ml
    )

    def axis(gain_scale: float, noise_units: float) -> AxisControl:
        return AxisControl(
            kp=athlete.kp_ratio * mgh * gain * gain_scale,
            kd=athlete.kd_ratio_s * mgh * gain * gain_scale,
            ki=athlete.ki_ratio_per_s * mgh * gain * gain_scale,
            noise_rms_nm=noise_units * unit * noise,
        )

    return Condition(
        ap=axis(1.0, athlete.noise_bipedal_ap),
        ml=axis(ml_gain, ml_noise),
        delay_s=athlete.delay_s,
        single_leg=single,
        foam=foam,
        noise_factor=noise,
        gain_factor=gain,
        side_factor=side_factor,
    )
