"""Athlete parameters and the per-condition controller settings derived from them.

The body is the inverted pendulum of Peterka (2002) and Maurer & Peterka (2005): mass `m`,
centre-of-mass height `h = com_height_ratio * height_m` above the ankle, inertia `J = m h^2`,
a delayed PID on sway angle and a low-pass filtered motor-noise torque. Gains are given as
multiples of the gravitational stiffness `m g h` (N m/rad), as in `science/SIMULATOR.md`.
Every condition change (single leg, eyes closed, foam, weaker side) is an explicit multiplier
here, so the truth can record it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from balancelab.errors import SimulationError
from balancelab.model import STANDARD_GRAVITY_MS2, Side, Surface, TrialType, Vision

G = STANDARD_GRAVITY_MS2


@dataclass(frozen=True)
class AthleteParams:
    """One simulated athlete. Lengths in m, mass in kg, times in s, gains in multiples of m g h.

    Calibrated (SIMULATOR.md "Calibration targets"; tests/sim/test_calibration.py pins each
    row with its source) so that the sway has the size, speed and spectrum of real people:
    - the controller: Kp 1.6 m g h per rad, Kd 0.4 m g h s per rad, delay 0.15 s (Peterka
      2002 ranges); Ki 0.10 m g h per rad s for slow drift only;
    - two components of sway (Zatsiorsky & Duarte 1999, Motor Control 3:28, "rambling and
      trembling"): a motor-noise torque low-passed at 1 Hz ("trembling") and a reference tilt
      that wanders slowly, low-passed at 0.1 Hz ("rambling"). The trembling sets the velocity
      and the upper spectrum, the rambling most of the area and the low mean frequency;
    - the lower-back sensor also sees the trunk's own motion on the pelvis (hip strategy,
      breathing, heartbeat), which a single pendulum lacks: band-pass noise at 1.5-4 Hz of
      `trunk_acc_rms_ms2` (real trunk acceleration has most of its power there).
    Each condition multiplies the trembling and the rambling by its own factors (see
    condition_for); two-leg values against the BDS data set (young adults), single-leg values
    against published single-leg force-plate sway (see the calibration test).
    """

    mass_kg: float = 70.0
    height_m: float = 1.75
    com_height_ratio: float = 0.55
    kp_ratio: float = 1.6
    kd_ratio_s: float = 0.4
    ki_ratio_per_s: float = 0.10
    delay_s: float = 0.15
    noise_cutoff_hz: float = 1.0
    noise_filter_order: int = 2
    # RMS of the filtered motor-noise torque, in units of m g h x 1 mrad (bipedal stance).
    noise_bipedal_ap: float = 0.4
    noise_bipedal_ml: float = 0.3
    # The wandering reference ("rambling"): RMS in mrad (bipedal) and its low-pass cut-off.
    drift_cutoff_hz: float = 0.1
    drift_bipedal_ap_mrad: float = 1.35
    drift_bipedal_ml_mrad: float = 1.25
    # Single-leg stance: trembling and rambling multipliers, ML relative to the bipedal AP
    # values, and stiffer control (co-contraction around the one ankle).
    single_leg_noise_factor: float = 4.0
    single_leg_drift_factor: float = 0.6
    single_leg_ml_ratio: float = 0.8
    single_leg_gain_factor: float = 1.15
    # Bipedal ML is stiffer (load/unload mechanism): gain multiplier on Kp, Kd in ML.
    bipedal_ml_gain_factor: float = 1.3
    # Eyes closed: the trembling grows little on firm ground with both feet down, more on foam
    # (vision replaces the degraded foot sensation) and most on one leg (BDS young adults:
    # area x1.05 firm, velocity x1.3 on foam; single leg: velocity about 2-2.5x eyes open).
    eyes_closed_noise_factor: float = 1.05
    eyes_closed_foam_noise_factor: float = 1.45
    eyes_closed_single_leg_noise_factor: float = 2.5
    eyes_closed_gain_factor: float = 1.0
    # Foam: trembling and rambling multipliers (two legs), plus a series spring-damper under
    # the foot (see FoamParams); on one leg the trembling grows by its own factor.
    foam_noise_factor: float = 4.0
    foam_drift_factor: float = 1.7
    single_leg_foam_noise_factor: float = 1.8
    # Wobble board: noise x1.2 (an unstable surface perturbs more; our choice).
    board_noise_factor: float = 1.2
    # Trunk motion on the pelvis seen by a body-worn sensor: RMS of the horizontal
    # acceleration (m/s^2, AP; ML x trunk_ml_ratio) in bipedal quiet stance, band 1.5-4 Hz,
    # scaled by the condition's trembling factor to the power 0.75.
    trunk_acc_rms_ms2: float = 0.04
    trunk_ml_ratio: float = 0.7
    trunk_band_hz: tuple[float, float] = (1.5, 4.0)
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
    # Landing control (1 = the default athlete; > 1 less controlled): a less controlled lander
    # both reaches the ground with more sway (the initial tilt and rate maxima x control) and
    # absorbs it more slowly (landing_decay_s x control), so a slower landing shows at the
    # lower back (segmental response) and in the COP (the pendulum's return from its initial
    # sway dominates the COP transient). Varying landing_decay_s alone changes the COP's true
    # settling time little.
    landing_control: float = 1.0
    # Foot support in single-leg stance (m from the ankle): COP limits and the COM excursion
    # beyond which the free foot touches down (emergent touch-down).
    foot_toe_m: float = 0.16
    foot_heel_m: float = 0.05
    foot_half_width_m: float = 0.045
    recoverable_fraction: float = 0.75
    touchdown_min_s: float = 0.3
    touchdown_max_s: float = 1.0

    def __post_init__(self) -> None:
        positive = ("mass_kg", "height_m", "com_height_ratio", "delay_s", "noise_cutoff_hz")
        for name in (*positive, "drift_cutoff_hz"):
            if not getattr(self, name) > 0:
                raise SimulationError(f"athlete {name} must be > 0, got {getattr(self, name)}")
        if min(self.landing_freq_hz, self.landing_decay_s, self.landing_control) <= 0:
            raise SimulationError(
                "landing_freq_hz, landing_decay_s and landing_control must be > 0"
            )
        if (
            self.weak_side_sway_factor < 1
            or self.weak_side_landing_factor < 1
            or self.weak_side_landing_decay_factor < 1
        ):
            raise SimulationError("weak-side factors must be >= 1 (1 = symmetric athlete)")
        low, high = self.trunk_band_hz
        if not 0 < low < high or self.trunk_acc_rms_ms2 < 0:
            raise SimulationError("trunk_band_hz needs 0 < low < high; trunk_acc_rms_ms2 >= 0")
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


# Between-athlete spread of sample_athlete (our choice, checked against the spread of the BDS
# young adults in the calibration test): log-normal SD of the trembling and rambling sizes,
# and uniform ranges of body height (m), body-mass index (kg/m^2) and feedback delay (s).
POPULATION_NOISE_LOG_SD = 0.3
POPULATION_DRIFT_LOG_SD = 0.35
POPULATION_HEIGHT_M = (1.60, 1.90)
POPULATION_BMI = (19.0, 25.0)
POPULATION_DELAY_S = (0.13, 0.17)


def sample_athlete(seed: int, base: AthleteParams | None = None) -> AthleteParams:
    """One athlete of a healthy young population around `base` (default AthleteParams), seeded.

    Body size, delay and the sizes of trembling and rambling vary between athletes (the
    median athlete is `base`); every other parameter is `base`'s.
    """
    if seed < 0:
        raise SimulationError(f"seed must be >= 0, got {seed}")
    b = base or AthleteParams()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA7]))
    height = float(rng.uniform(*POPULATION_HEIGHT_M))
    noise, drift = np.exp(rng.normal(0.0, [POPULATION_NOISE_LOG_SD, POPULATION_DRIFT_LOG_SD]))
    return replace(
        b,
        height_m=height,
        mass_kg=float(rng.uniform(*POPULATION_BMI)) * height**2,
        delay_s=float(rng.uniform(*POPULATION_DELAY_S)),
        noise_bipedal_ap=b.noise_bipedal_ap * float(noise),
        noise_bipedal_ml=b.noise_bipedal_ml * float(noise),
        drift_bipedal_ap_mrad=b.drift_bipedal_ap_mrad * float(drift),
        drift_bipedal_ml_mrad=b.drift_bipedal_ml_mrad * float(drift),
    )


@dataclass(frozen=True)
class AxisControl:
    """Controller, noise and reference drift of one axis in one condition.

    SI: N m/rad, N m s/rad, N m/(rad s); motor-noise RMS in N m; reference-drift RMS in rad.
    """

    kp: float
    kd: float
    ki: float
    noise_rms_nm: float
    drift_rms_rad: float


@dataclass(frozen=True)
class Condition:
    """The settings of one stance condition: both axes and the multipliers that made them."""

    ap: AxisControl
    ml: AxisControl
    delay_s: float
    single_leg: bool
    foam: bool
    noise_factor: float
    drift_factor: float
    gain_factor: float
    side_factor: float

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready settings."""
        return asdict(self)


def _factors(
    athlete: AthleteParams, single: bool, surface: Surface, vision: Vision
) -> tuple[float, float, float]:
    """(trembling, rambling, gain) multipliers of a stance condition (see AthleteParams)."""
    a = athlete
    foam = surface is Surface.FOAM
    closed = vision is Vision.CLOSED
    if single:
        noise, drift, gain = a.single_leg_noise_factor, a.single_leg_drift_factor, 1.0
        gain *= a.single_leg_gain_factor
        noise *= a.single_leg_foam_noise_factor if foam else 1.0
        noise *= a.eyes_closed_single_leg_noise_factor if closed else 1.0
    else:
        noise, drift, gain = 1.0, 1.0, 1.0
        if foam:
            noise *= a.foam_noise_factor
            drift *= a.foam_drift_factor
        if closed and foam:
            noise *= a.eyes_closed_foam_noise_factor
        elif closed:
            noise *= a.eyes_closed_noise_factor
    if closed:
        gain *= a.eyes_closed_gain_factor
    if surface is Surface.WOBBLE_BOARD:
        noise *= a.board_noise_factor
    return noise, drift, gain


def condition_for(
    athlete: AthleteParams,
    trial_type: TrialType,
    side: Side,
    surface: Surface,
    vision: Vision,
) -> Condition:
    """Controller gains, noise and drift for one stance condition (rules: AthleteParams)."""
    single = trial_type in (TrialType.SINGLE_LEG_HOLD, TrialType.STEP_DOWN, TrialType.HOP_STABILIZE)
    noise, drift, gain = _factors(athlete, single, surface, vision)
    side_factor = athlete.side_factor(side) if single else 1.0
    noise *= side_factor
    drift *= side_factor
    mgh = athlete.gravity_stiffness
    unit = mgh * 1e-3  # noise sizes are in m g h x 1 mrad
    ml_gain = 1.0 if single else athlete.bipedal_ml_gain_factor
    if single:
        ml_noise = athlete.noise_bipedal_ap * athlete.single_leg_ml_ratio
        ml_drift = athlete.drift_bipedal_ap_mrad * athlete.single_leg_ml_ratio
    else:
        ml_noise, ml_drift = athlete.noise_bipedal_ml, athlete.drift_bipedal_ml_mrad

    def axis(gain_scale: float, noise_units: float, drift_mrad: float) -> AxisControl:
        return AxisControl(
            kp=athlete.kp_ratio * mgh * gain * gain_scale,
            kd=athlete.kd_ratio_s * mgh * gain * gain_scale,
            ki=athlete.ki_ratio_per_s * mgh * gain * gain_scale,
            noise_rms_nm=noise_units * unit * noise,
            drift_rms_rad=drift_mrad * 1e-3 * drift,
        )

    return Condition(
        ap=axis(1.0, athlete.noise_bipedal_ap, athlete.drift_bipedal_ap_mrad),
        ml=axis(ml_gain, ml_noise, ml_drift),
        delay_s=athlete.delay_s,
        single_leg=single,
        foam=surface is Surface.FOAM,
        noise_factor=noise,
        drift_factor=drift,
        gain_factor=gain,
        side_factor=side_factor,
    )
