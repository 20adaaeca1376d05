"""Board and segment tilt (deg) from accelerometer (m/s^2) and gyroscope (rad/s): sensor fusion.

Frames: the segment (or board) frame is x anterior, y left, z up; `sensor_to_segment` M maps a
sensor-frame vector to it (v_segment = M v_sensor, as `Recording.sensor_to_segment`). Tilt is
the direction of "up" (the specific force at rest) in the segment frame, u = (ux, uy, uz):

    pitch (AP) = atan2(-ux, hypot(uy, uz))   + when the top (+z) leans toward +x (forward)
    roll  (ML) = atan2(-uy, uz)              + when the top leans toward +y (left)

i.e. the segment's attitude is Ry(pitch)·Rx(-roll) (the simulator's convention), exact at any
tilt; heading (yaw) is neither needed nor estimated.

Default method "mahony": the complementary filter of Mahony, Hamel & Pflimlin (2008, IEEE TAC
53:1203) — gyroscope for the fast part, accelerometer for the slow part through a PI loop —
written so numpy runs it whole (no per-sample Python loop). In each gap-free run the gyroscope
gives every row's attitude relative to the run's first row (quaternion running products); seen
from that fixed frame the accelerometer direction is gravity plus linear acceleration (fast)
plus gyro drift (slow). The PI loop's low-pass, the linearisation of Mahony's correction with
the same kp and ki, is run forward and backward over it (zero phase, no start-up transient),
and one least-squares step estimates the gyro bias from the drift left over, after which the
attitudes are integrated again. Accelerometer rows are skipped (gated, then interpolated) while
|a| deviates from g by more than `acc_tolerance_g` (impacts, board-edge hits, saturation) or an
axis is at its range. Gaps up to `bridge_gap_s` are bridged with the interpolated gyroscope
(their rows stay NaN); a longer gap starts a new run (the bias estimate is handed on: it belongs
to the sensor, not the run). NaN never leaks past a gap.

The accelerometer's own bias (±30 mg ≈ ±1.7°) cannot be told from tilt by any filter:
`calibrate_level` removes it from a window where the board (or segment) is known to be level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from balancelab.dsp._tilt_smoother import smooth_run
from balancelab.dsp.quality import as_float_array
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    STANDARD_GRAVITY_MS2,
    FloatArray,
    QualityCode,
    QualityFlag,
    SettingValue,
    check_choice,
    check_positive,
    make_flag,
)

METHODS = ("mahony", "imufusion", "accelerometer")
DEFAULT_METHOD = "mahony"
MAX_INPUT_MAGNITUDE = 1e6
"""Samples with |value| beyond this (m/s^2 or rad/s) are treated as missing, not as data."""

# Tuned on the simulator (wobble board and lower back, 10 seeds; see tests/dsp/test_orientation):
# kp = 0.5 /s weights the accelerometer with a ~2-s time constant, long against the board's and
# the body's sway periods (linear acceleration averages out) and short against gyro drift;
# ki = kp²/4 makes the PI loop critically damped (double pole at kp/2). Measured with the
# forward-backward form and one bias step: 0.116° board, 0.154° lower back (mean RMS; the
# per-sample Mahony loop it replaced gave 0.127° and 0.172°); a second bias step gains 0.003°.
MAHONY_DEFAULTS: Mapping[str, float] = MappingProxyType(
    {
        "kp_per_s": 0.5,
        "ki_per_s2": 0.5**2 / 4,
        "acc_tolerance_g": 0.1,
        "bridge_gap_s": 0.1,
        "max_bias_rads": 0.1,
    }
)
IMUFUSION_DEFAULTS: Mapping[str, float] = MappingProxyType(
    {"gain": 0.5, "acceleration_rejection_deg": 10.0, "rejection_timeout_s": 5.0}
)

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Tilt:
    """Tilt about level in deg: `pitch_deg` (AP, + forward), `roll_deg` (ML, + left), (n,) each.

    NaN where an input sample was missing or no attitude could be determined; `quality` says why.
    """

    pitch_deg: FloatArray
    roll_deg: FloatArray
    method: str
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    quality: tuple[QualityFlag, ...] = ()


class _Inputs(NamedTuple):
    """Segment-frame acceleration (m/s^2) and rate (rad/s), (n, 3), NaN rows where missing."""

    acc: FloatArray
    gyr: FloatArray
    missing: BoolArray


# ---------------------------------------------------------------- public functions


def tilt_from_up(up: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(pitch_deg, roll_deg) from up-vectors (n, 3) in the segment frame (any length > 0)."""
    u = as_float_array("up", up, ndim=2)
    if u.shape[1] != 3:
        raise InvalidArgumentError(f"up must be (n, 3), got shape {u.shape}")
    with np.errstate(invalid="ignore"):
        pitch = np.degrees(np.arctan2(-u[:, 0], np.hypot(u[:, 1], u[:, 2])))
        roll = np.degrees(np.arctan2(-u[:, 1], u[:, 2]))
    zero = np.linalg.norm(u, axis=1) == 0
    pitch[zero] = np.nan
    roll[zero] = np.nan
    return pitch, roll


def calibrate_level(
    acc_ms2: ArrayLike, *, sensor_to_segment: ArrayLike | None = None
) -> FloatArray:
    """`sensor_to_segment` corrected so that the mean of `acc_ms2` (n, 3) reads level (3×3).

    Use a window where the board rests level or the segment is upright (a calibration trial, the
    lead-in): the smallest rotation that turns the window's mean specific force onto +z is put
    in front of M. This absorbs the accelerometer bias and the mounting error in tilt (heading
    is left as M has it). Rows with NaN are ignored.
    """
    matrix = _check_rotation(sensor_to_segment)
    acc = _check_xyz("acc_ms2", acc_ms2)
    finite = np.all(np.isfinite(acc), axis=1) & np.all(np.abs(acc) < MAX_INPUT_MAGNITUDE, axis=1)
    mean = np.mean(acc[finite] @ matrix.T, axis=0) if np.any(finite) else np.zeros(3)
    norm = float(np.linalg.norm(mean))
    if not (np.isfinite(norm) and norm > 0.5 * STANDARD_GRAVITY_MS2):
        raise InvalidArgumentError(
            "acc_ms2 must hold finite still samples whose mean is about 1 g; got "
            f"{int(finite.sum())} finite rows with a mean of {norm:.3g} m/s^2",
            advice="Pass the accelerometer samples of a still, level window in m/s^2.",
        )
    return np.asarray(_rotation_between(mean / norm, np.array([0.0, 0.0, 1.0])) @ matrix)


def accelerometer_tilt(acc_ms2: ArrayLike, *, sensor_to_segment: ArrayLike | None = None) -> Tilt:
    """Tilt from the accelerometer alone (valid when quasi-static; impacts corrupt it)."""
    matrix = _check_rotation(sensor_to_segment)
    acc = _check_xyz("acc_ms2", acc_ms2)
    inputs = _to_segment(acc, np.zeros_like(acc), matrix)
    pitch, roll = tilt_from_up(inputs.acc)
    return _tilt(pitch, roll, inputs.missing, "accelerometer", {"n": acc.shape[0]})


def estimate_tilt(
    acc_ms2: ArrayLike,
    gyr_rads: ArrayLike,
    fs: float,
    *,
    sensor_to_segment: ArrayLike | None = None,
    method: str = DEFAULT_METHOD,
    acc_range_ms2: float | None = None,
    **settings: float,
) -> Tilt:
    """Pitch (AP) and roll (ML) in deg about level from acc (n, 3) m/s^2 and gyro (n, 3) rad/s.

    `fs` is the sampling rate (Hz) of the uniformly sampled rows (NaN rows: lost samples).
    `method`: "mahony" (default, see the module doc), "imufusion" (x-io Fusion, needs the optional
    `imufusion` package) or "accelerometer". `acc_range_ms2`: the accelerometer's full scale; an
    axis within 1 % of it is saturated and gives no correction. `settings` override the method's
    defaults (`MAHONY_DEFAULTS`, `IMUFUSION_DEFAULTS`).
    """
    check_choice("method", method, METHODS)
    fs = check_positive("fs", fs)
    matrix = _check_rotation(sensor_to_segment)
    acc = _check_xyz("acc_ms2", acc_ms2)
    gyr = _check_xyz("gyr_rads", gyr_rads)
    if acc.shape != gyr.shape:
        raise InvalidArgumentError(
            f"acc_ms2 and gyr_rads must have the same shape, got {acc.shape} and {gyr.shape}"
        )
    limit = None if acc_range_ms2 is None else check_positive("acc_range_ms2", acc_range_ms2)
    if method == "accelerometer":
        if settings:
            raise InvalidArgumentError(
                f"method 'accelerometer' takes no settings, got {', '.join(settings)}"
            )
        return accelerometer_tilt(acc, sensor_to_segment=matrix)
    defaults = MAHONY_DEFAULTS if method == "mahony" else IMUFUSION_DEFAULTS
    merged = _merge_settings(method, defaults, settings)
    saturated = _saturated_rows(acc, limit)
    inputs = _to_segment(acc, gyr, matrix)
    if method == "mahony":
        up = _mahony(inputs, saturated, fs, merged)
    else:
        up = _imufusion(inputs, saturated, fs, merged)
    pitch, roll = tilt_from_up(up)
    record: dict[str, SettingValue] = {"fs": fs, "n": acc.shape[0], **merged}
    record["acc_range_ms2"] = limit
    flags = _saturation_flags(saturated)
    return _tilt(pitch, roll, inputs.missing, method, record, flags=flags)


# ---------------------------------------------------------------- argument handling


def _check_xyz(name: str, x: ArrayLike) -> FloatArray:
    values = as_float_array(name, x, ndim=2)
    if values.shape[1] != 3:
        raise InvalidArgumentError(f"{name} must be (n, 3) (x, y, z columns), got {values.shape}")
    return values


def _check_rotation(matrix: ArrayLike | None) -> FloatArray:
    if matrix is None:
        return np.eye(3)
    m = as_float_array("sensor_to_segment", matrix, ndim=2)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise InvalidArgumentError(f"sensor_to_segment must be a finite 3×3 matrix, got {m!r:.80}")
    if not np.allclose(m @ m.T, np.eye(3), atol=1e-3) or np.linalg.det(m) < 0:
        raise InvalidArgumentError(
            "sensor_to_segment must be a rotation (orthonormal, determinant +1); got "
            f"{np.round(m, 4).tolist()}"
        )
    return m


def _merge_settings(
    method: str, defaults: Mapping[str, float], settings: Mapping[str, float]
) -> dict[str, float]:
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise InvalidArgumentError(
            f"unknown setting(s) {', '.join(unknown)} for method {method!r}; "
            f"allowed: {', '.join(defaults)}"
        )
    merged = {**defaults}
    for name, value in settings.items():
        merged[name] = check_positive(name, value)
    return merged


def _to_segment(acc: FloatArray, gyr: FloatArray, matrix: FloatArray) -> _Inputs:
    """Rotate into the segment frame; rows with a non-finite or absurd value become NaN."""
    table = np.hstack([acc, gyr])
    with np.errstate(invalid="ignore"):
        bad = ~np.all(np.isfinite(table) & (np.abs(table) < MAX_INPUT_MAGNITUDE), axis=1)
    clean_acc = np.where(bad[:, None], np.nan, acc) @ matrix.T
    clean_gyr = np.where(bad[:, None], np.nan, gyr) @ matrix.T
    return _Inputs(clean_acc, clean_gyr, bad)


def _saturated_rows(acc: FloatArray, limit: float | None) -> BoolArray:
    if limit is None:
        return np.zeros(acc.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.any(np.abs(acc) >= 0.99 * limit, axis=1))


def _saturation_flags(saturated: BoolArray) -> tuple[QualityFlag, ...]:
    count = int(np.count_nonzero(saturated))
    if count == 0:
        return ()
    detail = f"{count} accelerometer samples at the range, not used for tilt correction"
    return (make_flag(QualityCode.SATURATION, detail),)


def _tilt(
    pitch: FloatArray,
    roll: FloatArray,
    missing: BoolArray,
    method: str,
    settings: Mapping[str, SettingValue],
    *,
    flags: tuple[QualityFlag, ...] = (),
) -> Tilt:
    pitch = np.where(missing, np.nan, pitch)
    roll = np.where(missing, np.nan, roll)
    unknown = int(np.count_nonzero(~np.isfinite(pitch)))
    if unknown:
        detail = f"{unknown} of {pitch.size} samples have no tilt (missing input or no gravity)"
        flags = (*flags, make_flag(QualityCode.NAN_INPUT, detail))
    return Tilt(pitch, roll, method, MappingProxyType(dict(settings)), flags)


def _rotation_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """The smallest rotation (3×3) taking unit vector a onto unit vector b."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:
        return np.diag([1.0, -1.0, -1.0])  # a half turn about x (a ≈ -b = ±z here)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.asarray(np.eye(3) + k + k @ k / (1 + c))


# ---------------------------------------------------------------- segments and gaps


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """(start, stop) of the True runs of a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


def _bridge(inputs: _Inputs, fs: float, bridge_gap_s: float) -> tuple[FloatArray, BoolArray]:
    """Gyro with short inner gaps interpolated, and the rows the filter may run over."""
    gyr = inputs.gyr.copy()
    usable = ~inputs.missing
    n = usable.size
    for start, stop in _runs(inputs.missing):
        if start > 0 and stop < n and (stop - start) / fs <= bridge_gap_s:
            weight = (np.arange(start, stop) - (start - 1)) / (stop - start + 1)
            gyr[start:stop] = (1 - weight)[:, None] * gyr[start - 1] + weight[:, None] * gyr[stop]
            usable[start:stop] = True
    return gyr, usable


def _acc_valid(acc: FloatArray, saturated: BoolArray, tolerance_g: float) -> BoolArray:
    """Rows whose accelerometer may correct the attitude: finite, unclipped, |a| ≈ g."""
    with np.errstate(invalid="ignore"):
        norm = np.linalg.norm(acc, axis=1)
        near_g = np.abs(norm - STANDARD_GRAVITY_MS2) <= tolerance_g * STANDARD_GRAVITY_MS2
    return np.asarray(near_g & ~saturated & np.isfinite(norm))


# ---------------------------------------------------------------- the filter, vectorised


def _mahony(
    inputs: _Inputs, saturated: BoolArray, fs: float, settings: Mapping[str, float]
) -> FloatArray:
    """Up-vector (n, 3) in the segment frame; NaN where it cannot be known."""
    gyr, usable = _bridge(inputs, fs, settings["bridge_gap_s"])
    valid = _acc_valid(inputs.acc, saturated, settings["acc_tolerance_g"])
    up = np.full((usable.size, 3), np.nan)
    bias = np.zeros(3)
    for start, stop in _runs(usable):
        sl = slice(start, stop)
        if not np.any(valid[sl]):
            continue  # no gravity reference in this run: the tilt stays unknown
        up[sl], bias = smooth_run(
            inputs.acc[sl], gyr[sl], valid[sl], dt=1.0 / fs, bias=bias, settings=settings
        )
    return up


def _initial_up(acc: FloatArray, valid: BoolArray) -> FloatArray:
    """Direction of the first valid accelerometer sample."""
    row = acc[int(np.flatnonzero(valid)[0])]
    return np.asarray(row / np.linalg.norm(row))


# ---------------------------------------------------------------- x-io Fusion (optional)


def _imufusion(
    inputs: _Inputs, saturated: BoolArray, fs: float, settings: Mapping[str, float]
) -> FloatArray:
    """Up-vector (n, 3) from x-io's Fusion AHRS with its gyro-bias estimator (1.3 API).

    Restarted after each gap longer than `bridge_gap_s`; its start-up gain ramp is skipped
    and the attitude initialised from the accelerometer.
    """
    module = _import_imufusion()
    gyr, usable = _bridge(inputs, fs, MAHONY_DEFAULTS["bridge_gap_s"])
    acc = np.where(saturated[:, None], np.nan, inputs.acc)
    up = np.full((usable.size, 3), np.nan)
    bias = module.Bias()
    bias_settings = module.BiasSettings()
    bias_settings.sample_rate = fs
    bias.set_settings(bias_settings)
    for start, stop in _runs(usable):
        finite = np.all(np.isfinite(acc[start:stop]), axis=1)
        if np.any(finite):
            ahrs = _fusion_ahrs(module, fs, settings, _initial_up(acc[start:stop], finite))
            up[start:stop] = _fusion_run(ahrs, bias, acc[start:stop], gyr[start:stop])
    return up


def _import_imufusion() -> Any:
    try:
        import imufusion  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:
        raise InvalidArgumentError(
            "method 'imufusion' needs the optional package imufusion",
            advice="Install it (pip install 'imufusion>=1.3,<1.4') or use method 'mahony'.",
        ) from None
    return imufusion


def _fusion_ahrs(module: Any, fs: float, settings: Mapping[str, float], up: FloatArray) -> Any:
    s = module.AhrsSettings()
    s.convention = module.CONVENTION_NWU
    s.gain = settings["gain"]
    s.gyroscope_range = 2000.0
    s.acceleration_rejection = settings["acceleration_rejection_deg"]
    s.rejection_timeout = settings["rejection_timeout_s"]
    s.sample_rate = fs
    ahrs = module.Ahrs()
    ahrs.set_settings(s)
    rotation = _rotation_between(np.array([0.0, 0.0, 1.0]), up).T  # segment -> earth
    w = math.sqrt(max(0.0, 1.0 + float(np.trace(rotation)))) / 2
    if w < 0.1:  # upside down: let Fusion's start-up ramp find the attitude
        ahrs.set_settings(s)
        return ahrs
    q = np.array(
        [
            w,
            (rotation[2, 1] - rotation[1, 2]) / (4 * w),
            (rotation[0, 2] - rotation[2, 0]) / (4 * w),
            (rotation[1, 0] - rotation[0, 1]) / (4 * w),
        ]
    )
    ahrs.set_quaternion(q)
    ahrs.skip_startup()
    return ahrs


def _fusion_run(ahrs: Any, bias: Any, acc: FloatArray, gyr: FloatArray) -> FloatArray:
    out = np.empty_like(acc)
    acc_g = np.nan_to_num(acc / STANDARD_GRAVITY_MS2, nan=0.0)
    gyr_dps = np.degrees(gyr)
    for i in range(acc.shape[0]):
        ahrs.update_no_magnetometer(bias.update(gyr_dps[i]), acc_g[i])
        out[i] = ahrs.get_gravity()
    return out
