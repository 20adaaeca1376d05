"""Sampling the simulator's whole-session kinematics: one Recording per sensor, the truth series.

Each sensor samples the body (or, for the board IMU, the board) kinematics at its own true
instants: segment signals are interpolated there, then the sensor's errors (sim.sensors) are
applied; each sensor has its own random stream. `iter_batches` replays a Recording in batches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from balancelab.errors import SimulationError
from balancelab.model import DeviceInfo as _DeviceInfo
from balancelab.model import (
    FloatArray,
    Matrix3,
    Recording,
    Trial,
    cop_channels,
    imu_channels,
)
from balancelab.sim.athlete import G
from balancelab.sim.board import BoardParams
from balancelab.sim.body import NDArrayBool, StanceResult
from balancelab.sim.sensors import (
    CopSpec,
    ImuSpec,
    SensorSpec,
    apply_imu_errors,
    draw_imu_errors,
    imu_times,
)
from balancelab.sim.truth import BodySeries, SensorTruth

TRUTH_FS_HZ = 200.0


@dataclass
class Kinematics:
    """Whole-session arrays at the internal rate (see simulate_session)."""

    n: int
    theta: FloatArray = field(init=False)
    omega: FloatArray = field(init=False)
    alpha: FloatArray = field(init=False)
    cop: FloatArray = field(init=False)
    phi: FloatArray = field(init=False)
    phi_rate: FloatArray = field(init=False)
    phi_acc: FloatArray = field(init=False)
    vertical: FloatArray = field(init=False)
    landing_acc: FloatArray = field(init=False)
    trunk_acc: FloatArray = field(init=False)
    board_spike: FloatArray = field(init=False)
    stance_ml: FloatArray = field(init=False)
    support: NDArrayBool = field(init=False)
    edge: NDArrayBool = field(init=False)

    def __post_init__(self) -> None:
        z2 = (self.n, 2)
        self.theta, self.omega, self.alpha, self.cop = (np.zeros(z2) for _ in range(4))
        self.phi, self.phi_rate, self.phi_acc = (np.zeros(z2) for _ in range(3))
        self.vertical = np.zeros(self.n)
        self.landing_acc = np.zeros(z2)
        self.trunk_acc = np.zeros(z2)
        self.board_spike = np.zeros((self.n, 3))
        self.stance_ml = np.zeros(self.n)
        self.support = np.zeros(self.n, dtype=bool)
        self.edge = np.zeros(self.n, dtype=bool)

    def store(self, i0: int, r: StanceResult) -> None:
        sl = slice(i0, i0 + r.theta.shape[0])
        self.theta[sl], self.omega[sl], self.alpha[sl], self.cop[sl] = (
            r.theta,
            r.omega,
            r.alpha,
            r.cop,
        )
        self.phi[sl], self.phi_rate[sl], self.phi_acc[sl] = r.phi, r.phi_rate, r.phi_acc
        self.support[sl], self.edge[sl] = r.support, r.edge


@dataclass(frozen=True)
class RecordingHeader:
    """What every Recording of one simulated session shares."""

    athlete: str
    start_utc: datetime
    task: str
    trials: tuple[Trial, ...]


def true_runs(mask: np.ndarray[tuple[int, ...], np.dtype[np.bool_]]) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs of a 1-D mask (end exclusive)."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def segment_signals(
    height_m: float,
    *,
    theta: FloatArray,
    omega: FloatArray,
    alpha: FloatArray,
    vertical: FloatArray,
    translation: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Specific force (m/s^2) and angular velocity (rad/s) in the segment frame, (n, 3) each.

    The segment's orientation is R = Ry(theta_AP) Rx(-theta_ML) (AP forward and ML to the left
    positive); the point sits `height_m` along its z axis above the pivot; `vertical` (n,) is
    an added world vertical acceleration, `translation` (n, 2) an added horizontal one.
    """
    a, b = theta[:, 0], theta[:, 1]
    ad, bd = omega[:, 0], omega[:, 1]
    add, bdd = alpha[:, 0], alpha[:, 1]
    sa, ca, sb, cb = np.sin(a), np.cos(a), np.sin(b), np.cos(b)
    w2 = ad**2 + bd**2
    h = height_m
    ax = h * (cb * ca * add - sb * sa * bdd - cb * sa * w2 - 2 * sb * ca * ad * bd)
    ay = h * (cb * bdd - sb * bd**2)
    az = -h * (ca * cb * w2 - 2 * sa * sb * ad * bd + sa * cb * add + ca * sb * bdd)
    if translation is not None:
        ax = ax + translation[:, 0]
        ay = ay + translation[:, 1]
    fz = az + vertical + G
    f = np.column_stack(
        [
            ca * ax - sa * fz,
            -sa * sb * ax + cb * ay - ca * sb * fz,
            sa * cb * ax + sb * ay + ca * cb * fz,
        ]
    )
    w = np.column_stack([-bd, ad * cb, ad * sb])
    return f, w


def _interp(t: FloatArray, fs: float, x: FloatArray) -> FloatArray:
    """Linear interpolation of rows of x (sampled at k / fs) at times t (s)."""
    grid = np.arange(x.shape[0]) / fs
    return np.column_stack([np.interp(t, grid, x[:, j]) for j in range(x.shape[1])])


def _matrix3(m: FloatArray) -> Matrix3:
    r = [tuple(float(v) for v in row) for row in m]
    return ((r[0][0], r[0][1], r[0][2]), (r[1][0], r[1][1], r[1][2]), (r[2][0], r[2][1], r[2][2]))


def record_sensors(
    k: Kinematics,
    fs: float,
    specs: Sequence[SensorSpec],
    sensor_ss: np.random.SeedSequence,
    *,
    board: BoardParams,
    height_m: float,
    mass_kg: float,
    header: RecordingHeader,
) -> tuple[list[Recording], list[SensorTruth]]:
    """One Recording and its SensorTruth per spec; `k` at `fs` (Hz), one child stream each.

    `height_m` and `mass_kg` are the athlete's (body IMU heights, plate forces).
    """
    recordings, sensor_truths = [], []
    for spec, ss in zip(specs, sensor_ss.spawn(len(specs)), strict=True):
        rng = np.random.default_rng(ss)
        if isinstance(spec, ImuSpec):
            t, values, (mount, lost), truth = _sample_imu(
                k, fs, spec, rng, board=board, height_m=height_m
            )
            channels = imu_channels(spec.tracked_point, gyro=spec.gyro)
            s2s = {spec.tracked_point: mount}
        else:
            t, values, truth = _sample_cop(k, fs, spec, rng, mass_kg=mass_kg)
            channels, s2s, lost = cop_channels(force=spec.vertical_force), {}, 0
        recordings.append(
            Recording(
                time_s=t,
                values=values,
                channels=channels,
                nominal_fs_hz=spec.fs_hz,
                tracksys=spec.tracksys,
                athlete=header.athlete,
                start_utc=header.start_utc,
                task=header.task,
                trials=header.trials,
                device=_DeviceInfo(manufacturer=spec.manufacturer, model=spec.model),
                sensor_to_segment=s2s,
                lost_samples=lost,
            )
        )
        sensor_truths.append(truth)
    return recordings, sensor_truths


def sample_body_series(k: Kinematics, fs: float, *, com_height_m: float) -> BodySeries:
    """The truth's body and board series: `k` (at `fs`, Hz) taken down to TRUTH_FS_HZ."""
    step = round(fs / TRUTH_FS_HZ)
    return BodySeries(
        fs_hz=TRUTH_FS_HZ,
        theta=k.theta[::step].copy(),
        com=com_height_m * np.sin(k.theta[::step]),
        cop=k.cop[::step].copy(),
        board=k.phi[::step].copy(),
        support=k.support[::step].copy(),
        edge=k.edge[::step].copy(),
    )


def _sample_imu(
    k: Kinematics,
    fs: float,
    spec: ImuSpec,
    rng: np.random.Generator,
    *,
    board: BoardParams,
    height_m: float,
) -> tuple[FloatArray, FloatArray, tuple[Matrix3, int], SensorTruth]:
    errors = draw_imu_errors(spec, rng)
    stored, true = imu_times(spec, errors, k.n / fs, rng)
    if spec.tracked_point == "board":
        roll = board.rocker_radius_m * k.phi_acc
        f, w = segment_signals(
            board.sensor_height_m - board.rocker_radius_m,
            theta=k.phi,
            omega=k.phi_rate,
            alpha=k.phi_acc,
            vertical=np.zeros(k.n),
            translation=roll,
        )
        f = f + k.board_spike
        tilt = k.phi
    else:
        h = spec.height_ratio * height_m
        f, w = segment_signals(
            h,
            theta=k.theta,
            omega=k.omega,
            alpha=k.alpha,
            vertical=k.vertical,
            translation=k.landing_acc + k.trunk_acc,
        )
        tilt = k.theta
    out = apply_imu_errors(spec, errors, _interp(true, fs, f), _interp(true, fs, w), rng)
    lost_runs = tuple((s, e - s) for s, e in true_runs(out.lost))
    mounting = errors.mounting if spec.mounting_known else np.asarray(spec.nominal_mounting)
    truth = SensorTruth(
        tracksys=spec.tracksys,
        tracked_point=spec.tracked_point,
        fs_hz=spec.fs_hz,
        true_time_s=true,
        clean=out.clean,
        true_tilt_rad=_interp(true, fs, tilt),
        lost_runs=lost_runs,
        lost_samples=int(out.lost.sum()),
        saturated_samples=int(np.any(out.saturated, axis=1).sum()),
        imu_errors=errors,
        acc_bias_trace=out.acc_bias_trace,
        gyro_bias_trace=out.gyro_bias_trace,
        jitter_sd_s=spec.jitter_sd_s,
    )
    return stored, out.values, (_matrix3(mounting), int(out.lost.sum())), truth


def _sample_cop(
    k: Kinematics, fs: float, spec: CopSpec, rng: np.random.Generator, *, mass_kg: float
) -> tuple[FloatArray, FloatArray, SensorTruth]:
    n = math.floor(k.n / fs * spec.fs_hz)
    t = np.arange(n) / spec.fs_hz
    ml = k.cop[:, 1] + k.stance_ml
    clean = _interp(t, fs, np.column_stack([ml, k.cop[:, 0]]))
    offset = rng.uniform(-1, 1, 2) * spec.offset_max_m
    values = clean + offset + rng.standard_normal((n, 2)) * spec.noise_sd_m
    if spec.vertical_force:
        force = _interp(t, fs, _stance_force(k, fs, spec, rng, mass_kg=mass_kg)[:, None])
        values = np.column_stack(
            [values, force[:, 0] + rng.standard_normal(n) * spec.force_noise_sd_n]
        )
    truth = SensorTruth(
        tracksys=spec.tracksys,
        tracked_point="cop",
        fs_hz=spec.fs_hz,
        true_time_s=t,
        clean=clean,
        true_tilt_rad=np.zeros((n, 2)),
        lost_runs=(),
        lost_samples=0,
        saturated_samples=0,
        cop_offset_m=(float(offset[0]), float(offset[1])),
        cop_noise_sd_m=spec.noise_sd_m,
    )
    return t, values, truth


def _stance_force(
    k: Kinematics, fs: float, spec: CopSpec, rng: np.random.Generator, *, mass_kg: float
) -> FloatArray:
    """Vertical force under the stance foot (N) at `fs`: m (g + a_z), less each touch-down's
    share (drawn from `spec.touchdown_unload`), never below 0 (flight).

    a_z is the body's vertical kinematic acceleration (`k.vertical`: landings, touch-down jolts);
    the pendulum's own vertical acceleration (h ω², < 0.01 m/s^2) is left out.
    """
    unload = np.zeros(k.n)
    for start, stop in true_runs(k.support):
        unload[start:stop] = rng.uniform(*spec.touchdown_unload)
    ramp = np.hanning(max(3, round(spec.unload_ramp_s * fs)))
    unload = np.convolve(unload, ramp / ramp.sum())[: k.n]  # causal: the load moves in ramp_s
    return np.maximum(mass_kg * (G + k.vertical) * (1.0 - unload), 0.0)


def iter_batches(recording: Recording, batch_s: float) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Yield (time_s, values) of consecutive batches of `batch_s` seconds of a recording.

    For a live source: simulate once, then stream the rows at real time; the rows do not depend
    on the batch size.
    """
    if not batch_s > 0:
        raise SimulationError(f"batch_s must be > 0, got {batch_s}")
    t = recording.time_s
    edges = np.searchsorted(t, np.arange(0.0, t[-1] + batch_s, batch_s) if t.size else [])
    bounds = [*edges.tolist(), t.size]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            yield t[lo:hi], recording.values[lo:hi]
