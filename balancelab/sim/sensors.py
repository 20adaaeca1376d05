"""Sensor error models: IMU (board, lower back), phone, force-plate COP. Every draw is returned.

IMU reading, per axis i, at the true sample instants (SIMULATOR.md defaults):
    acc_i  = Q( (1 + s_i) (M^T f_seg)_i + b_i + w_i(t) + n_i ),   f = a - g (specific force)
    gyro_i = Q( (1 + s_i) (M^T omega_seg)_i + b_i + w_i(t) + n_i )
M = sensor_to_segment (a rotation: v_segment = M v_sensor), s scale error (uniform +-max),
b bias (uniform +-max), w bias drift (random walk), n white noise of SD density x sqrt(fs/2)
(the output bandwidth is taken as the Nyquist band), Q int16 quantization at the full-scale
range with saturation. Time: the sensor samples on its own clock, k / fs, which runs fast by
`clock_drift_ppm`, with a white jitter of the sample instants; the stored times are the
sensor-clock times (mapped to the host clock by the session onset only), so the stored and the
true times part by the drift. A phone samples irregularly and stores its true (irregular)
times. Packet loss: packets of `packet_samples` samples; a loss burst starts at a packet with
probability rate x packet period and lasts 1-10 packets (uniform); lost rows are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancelab.errors import SimulationError
from balancelab.model import IDENTITY3, TRACKED_POINTS, FloatArray, Matrix3
from balancelab.sim.athlete import G

INT16_MAX = 32767


@dataclass(frozen=True)
class ImuSpec:
    """An IMU (or phone) and its error figures. Units in the names; draws are uniform +-max."""

    tracksys: str
    tracked_point: str
    fs_hz: float = 200.0
    gyro: bool = True
    acc_range_g: float = 8.0
    gyro_range_dps: float = 1000.0
    quantize: bool = True
    acc_noise_ug_rthz: float = 90.0
    acc_bias_max_mg: float = 30.0
    acc_bias_drift_mg_rts: float = 0.02
    acc_scale_max: float = 0.01
    gyro_noise_mdps_rthz: float = 5.5
    gyro_bias_max_dps: float = 0.75
    gyro_bias_drift_dps_rts: float = 0.003
    mounting_max_deg: float = 10.0
    nominal_mounting: Matrix3 = IDENTITY3
    mounting_known: bool = True
    clock_drift_max_ppm: float = 50.0
    jitter_sd_s: float = 0.0002
    irregular: bool = False
    packet_samples: int = 2
    loss_bursts_per_min: float = 1.0
    loss_max_packets: int = 10
    height_ratio: float = 0.56  # sensor height above the ankle / body height (body IMUs)
    manufacturer: str = "balancelab"
    model: str = "simulated IMU"

    def __post_init__(self) -> None:
        if self.tracked_point not in TRACKED_POINTS or self.tracked_point == "cop":
            raise SimulationError(
                f"IMU tracked_point must be board, lowback or sternum, got {self.tracked_point!r}"
            )
        if not self.fs_hz > 0 or self.packet_samples < 1 or self.loss_max_packets < 1:
            raise SimulationError("IMU fs_hz must be > 0 and packet sizes >= 1")
        if self.jitter_sd_s * 4 >= 1 / self.fs_hz and not self.irregular:
            raise SimulationError("IMU jitter_sd_s must be below a quarter of the sample period")


@dataclass(frozen=True)
class CopSpec:
    """A force plate under the stance foot giving the COP (m): white noise SD and a fixed offset
    drawn +-max; with `vertical_force` also the vertical force (N) with white noise.

    The force is m (g + a_z) times the share left on the stance foot: a free-foot touch-down
    takes a share drawn per touch-down uniformly in `touchdown_unload` (our choice: a foot put
    down to catch a loss of balance carries roughly 20-60 % of body weight), loaded and unloaded
    over `unload_ramp_s`. Plate noise 0.5 N: AMTI-class plates are quoted at ~0.1-1 N.
    """

    tracksys: str = "simplate"
    fs_hz: float = 100.0
    noise_sd_m: float = 0.00002
    offset_max_m: float = 0.0
    vertical_force: bool = True
    force_noise_sd_n: float = 0.5
    touchdown_unload: tuple[float, float] = (0.2, 0.6)
    unload_ramp_s: float = 0.1
    manufacturer: str = "balancelab"
    model: str = "simulated force plate"

    def __post_init__(self) -> None:
        low, high = self.touchdown_unload
        if not 0 <= low <= high <= 1 or not self.unload_ramp_s > 0:
            raise SimulationError(
                "CopSpec touchdown_unload must be shares 0 <= low <= high <= 1 and "
                f"unload_ramp_s > 0, got {self.touchdown_unload} and {self.unload_ramp_s}"
            )


SensorSpec = ImuSpec | CopSpec


def board_imu(fs_hz: float = 200.0) -> ImuSpec:
    """An LSM6DSO-class IMU lying on the wobble board (tracksys 'simboard')."""
    return ImuSpec("simboard", "board", fs_hz=fs_hz)


def lowback_imu(fs_hz: float = 200.0) -> ImuSpec:
    """An IMU on a belt at L5/S1 (tracksys 'simlowback'), ~0.56 x body height above the ankle."""
    return ImuSpec("simlowback", "lowback", fs_hz=fs_hz, acc_range_g=8.0, gyro_range_dps=500.0)


def sternum_phone(fs_hz: float = 100.0) -> ImuSpec:
    """A phone held to the sternum: irregular sampling, higher noise, float output."""
    return ImuSpec(
        "simphone",
        "sternum",
        fs_hz=fs_hz,
        acc_range_g=16.0,
        gyro_range_dps=2000.0,
        quantize=False,
        acc_noise_ug_rthz=300.0,
        acc_bias_max_mg=50.0,
        gyro_noise_mdps_rthz=10.0,
        gyro_bias_max_dps=1.0,
        mounting_max_deg=20.0,
        clock_drift_max_ppm=0.0,
        jitter_sd_s=0.003,
        irregular=True,
        packet_samples=1,
        loss_bursts_per_min=0.0,
        height_ratio=0.74,
        model="simulated phone",
    )


def force_plate(fs_hz: float = 100.0) -> CopSpec:
    """A force plate under the stance foot (tracksys 'simplate'), 0.02 mm COP white noise.

    White noise adds ~1.8 x SD x fs to the sway velocity, so a plate of 0.2 mm at 100 Hz would
    add 3.5 cm/s: 0.02 mm keeps it near 0.35 cm/s (real plates filter before output).
    """
    return CopSpec(fs_hz=fs_hz)


@dataclass(frozen=True)
class ImuErrors:
    """The errors drawn for one IMU (SI: m/s^2, rad/s; per axis x, y, z of the sensor)."""

    acc_bias: FloatArray
    acc_scale: FloatArray
    gyro_bias: FloatArray
    gyro_scale: FloatArray
    mounting: FloatArray
    mounting_angle_deg: float
    clock_drift_ppm: float
    acc_noise_sd: float
    gyro_noise_sd: float
    acc_lsb: float
    gyro_lsb: float

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "acc_bias_ms2": self.acc_bias.tolist(),
            "acc_scale": self.acc_scale.tolist(),
            "gyro_bias_rad_s": self.gyro_bias.tolist(),
            "gyro_scale": self.gyro_scale.tolist(),
            "sensor_to_segment": self.mounting.tolist(),
            "mounting_angle_deg": self.mounting_angle_deg,
            "clock_drift_ppm": self.clock_drift_ppm,
            "acc_noise_sd_ms2": self.acc_noise_sd,
            "gyro_noise_sd_rad_s": self.gyro_noise_sd,
            "acc_lsb_ms2": self.acc_lsb,
            "gyro_lsb_rad_s": self.gyro_lsb,
        }


NDArrayBool = np.ndarray[tuple[int, ...], np.dtype[np.bool_]]


@dataclass(frozen=True)
class ImuOutput:
    """One IMU's readings (n, 3 or 6; NaN rows lost) and their truth.

    `clean` is the error-free signal in the sensor axes; `lost` (n,) the lost rows;
    `saturated` (n, c) the clipped values; bias traces (n, 3) in m/s^2 and rad/s.
    """

    values: FloatArray
    clean: FloatArray
    lost: NDArrayBool
    saturated: NDArrayBool
    acc_bias_trace: FloatArray
    gyro_bias_trace: FloatArray


def random_rotation(rng: np.random.Generator, max_deg: float) -> tuple[FloatArray, float]:
    """A rotation about a uniformly random axis by an angle uniform in [0, max_deg] (deg)."""
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = math.radians(float(rng.uniform(0.0, max_deg)))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)
    return rot, math.degrees(angle)


def draw_imu_errors(spec: ImuSpec, rng: np.random.Generator) -> ImuErrors:
    """Draw biases, scale errors, the mounting rotation and the clock drift of one IMU."""
    acc_bias = rng.uniform(-1, 1, 3) * spec.acc_bias_max_mg * 1e-3 * G
    acc_scale = rng.uniform(-1, 1, 3) * spec.acc_scale_max
    gyro_bias = np.radians(rng.uniform(-1, 1, 3) * spec.gyro_bias_max_dps)
    gyro_scale = rng.uniform(-1, 1, 3) * spec.acc_scale_max
    extra, angle = random_rotation(rng, spec.mounting_max_deg)
    mounting = np.asarray(spec.nominal_mounting, dtype=np.float64) @ extra
    drift = float(rng.uniform(-1, 1) * spec.clock_drift_max_ppm)
    half_band = math.sqrt(spec.fs_hz / 2)
    return ImuErrors(
        acc_bias=acc_bias,
        acc_scale=acc_scale,
        gyro_bias=gyro_bias,
        gyro_scale=gyro_scale,
        mounting=mounting,
        mounting_angle_deg=angle,
        clock_drift_ppm=drift,
        acc_noise_sd=spec.acc_noise_ug_rthz * 1e-6 * G * half_band,
        gyro_noise_sd=math.radians(spec.gyro_noise_mdps_rthz * 1e-3) * half_band,
        acc_lsb=spec.acc_range_g * G / (INT16_MAX + 1),
        gyro_lsb=math.radians(spec.gyro_range_dps) / (INT16_MAX + 1),
    )


def imu_times(
    spec: ImuSpec, errors: ImuErrors, duration_s: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """(stored, true) sample times (s) over [0, duration_s) for one IMU."""
    if spec.irregular:
        n_max = int(duration_s * spec.fs_hz * 1.2) + 10
        steps = 1 / spec.fs_hz + rng.standard_normal(n_max) * spec.jitter_sd_s
        steps = np.maximum(steps, 0.3 / spec.fs_hz)
        true = np.concatenate([[0.0], np.cumsum(steps)])
        true = true[true < duration_s]
        return true.copy(), true
    rate = 1.0 + errors.clock_drift_ppm * 1e-6
    n = math.floor(duration_s * spec.fs_hz * rate)
    stored = np.arange(n) / spec.fs_hz
    jitter = np.clip(rng.standard_normal(n) * spec.jitter_sd_s, -0.4 / spec.fs_hz, 0.4 / spec.fs_hz)
    true = np.maximum(stored / rate + jitter, 0.0)
    true[0] = 0.0
    return stored, np.maximum.accumulate(true)


def random_walk(rng: np.random.Generator, n: int, step_sd: float) -> FloatArray:
    """A 3-axis random walk of n samples starting at 0 with the given step SD."""
    steps = rng.standard_normal((n, 3)) * step_sd
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)


def quantize(x: FloatArray, lsb: float) -> tuple[FloatArray, NDArrayBool]:
    """int16 quantization with saturation: (values, saturated mask)."""
    counts = np.round(x / lsb)
    saturated = (counts > INT16_MAX) | (counts < -INT16_MAX - 1)
    return np.clip(counts, -INT16_MAX - 1, INT16_MAX) * lsb, saturated


def packet_loss(spec: ImuSpec, n: int, rng: np.random.Generator) -> NDArrayBool:
    """The lost-row mask from bursty packet loss (runs of 1..loss_max_packets packets)."""
    n_packets = -(-n // spec.packet_samples)
    p_start = spec.loss_bursts_per_min / 60.0 * spec.packet_samples / spec.fs_hz
    starts = np.flatnonzero(rng.random(n_packets) < p_start)
    lengths = rng.integers(1, spec.loss_max_packets + 1, size=starts.size)
    lost_packets = np.zeros(n_packets + spec.loss_max_packets, dtype=bool)
    for s, length in zip(starts, lengths, strict=True):
        lost_packets[s : s + length] = True
    return np.repeat(lost_packets[:n_packets], spec.packet_samples)[:n]


def apply_imu_errors(
    spec: ImuSpec,
    errors: ImuErrors,
    f_seg: FloatArray,
    omega_seg: FloatArray,
    rng: np.random.Generator,
) -> ImuOutput:
    """Sensor readings from segment-frame specific force (m/s^2) and rate (rad/s), (n, 3) each."""
    n = f_seg.shape[0]
    dt = 1.0 / spec.fs_hz
    rot_t = errors.mounting.T
    clean_acc = f_seg @ rot_t.T
    clean_gyr = omega_seg @ rot_t.T
    acc_bias = errors.acc_bias + random_walk(
        rng, n, spec.acc_bias_drift_mg_rts * 1e-3 * G * math.sqrt(dt)
    )
    acc = (1 + errors.acc_scale) * clean_acc + acc_bias
    acc += rng.standard_normal((n, 3)) * errors.acc_noise_sd
    gyr_bias = errors.gyro_bias + random_walk(
        rng, n, math.radians(spec.gyro_bias_drift_dps_rts) * math.sqrt(dt)
    )
    gyr = (1 + errors.gyro_scale) * clean_gyr + gyr_bias
    gyr += rng.standard_normal((n, 3)) * errors.gyro_noise_sd
    if spec.quantize:
        acc, sat_a = quantize(acc, errors.acc_lsb)
        gyr, sat_g = quantize(gyr, errors.gyro_lsb)
    else:
        acc_lim = spec.acc_range_g * G
        gyr_lim = math.radians(spec.gyro_range_dps)
        sat_a = np.abs(acc) > acc_lim
        sat_g = np.abs(gyr) > gyr_lim
        acc = np.clip(acc, -acc_lim, acc_lim)
        gyr = np.clip(gyr, -gyr_lim, gyr_lim)
    lost = packet_loss(spec, n, rng)
    if spec.gyro:
        values = np.hstack([acc, gyr])
        clean = np.hstack([clean_acc, clean_gyr])
        saturated = np.hstack([sat_a, sat_g])
    else:
        values, clean, saturated = acc, clean_acc, sat_a
    values[lost] = np.nan
    return ImuOutput(values, clean, lost, np.asarray(saturated), acc_bias, gyr_bias)
