"""The vectorised tilt filter behind `orientation.estimate_tilt(method="mahony")`.

Mahony's complementary filter (gyroscope fast, accelerometer slow, PI loop) in a form numpy runs
whole: attitudes from quaternion running products, gravity low-passed forward and backward in
the first row's frame, the gyro bias from a least-squares step on the drift left over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from balancelab.model import FloatArray

BoolArray = NDArray[np.bool_]

BIAS_STEPS = 1
"""Least-squares bias refinements per run (a second one gained 0.003° on the simulator)."""
MIN_BIAS_ROWS = 50
"""Runs shorter than this keep the gyro bias they were handed (too short to estimate it)."""


def smooth_run(
    acc: FloatArray,
    gyr: FloatArray,
    valid: BoolArray,
    *,
    dt: float,
    bias: FloatArray,
    settings: Mapping[str, float],
) -> tuple[FloatArray, FloatArray]:
    """Up-vectors (n, 3) of one gap-free run and the gyro bias (rad/s) estimated on it.

    The gyroscope (less `bias`) gives each row's attitude R_k relative to the first row; the
    accelerometer's direction seen from that first frame, g_k = R_k m_k, is then constant up
    to linear acceleration (fast) and gyro drift (slow), so the PI loop's low-pass, run
    forward and backward, finds gravity there; R_kᵀ turns it back into the segment frame. The
    drift left over is the rotation (R_k b) × g: one least-squares step on it refines b.
    """
    gains = (settings["kp_per_s"], settings["ki_per_s2"])
    limit = settings["max_bias_rads"]
    unit = _unit_rows(acc, valid)
    bias = np.clip(bias, -limit, limit)
    rot = _attitudes(gyr - bias, dt)
    gravity = _smoothed_gravity(rot, unit, valid, dt, gains)
    for _ in range(BIAS_STEPS if acc.shape[0] >= MIN_BIAS_ROWS else 0):
        bias = np.clip(bias + _bias_correction(rot, gravity, dt), -limit, limit)
        rot = _attitudes(gyr - bias, dt)
        gravity = _smoothed_gravity(rot, unit, valid, dt, gains)
    up = np.einsum("jin,jn->ni", rot, gravity)  # R_kᵀ g_k
    return up / np.linalg.norm(up, axis=1)[:, None], bias


def _unit_rows(acc: FloatArray, valid: BoolArray) -> FloatArray:
    """Unit accelerometer directions (3, n) of the valid rows; zeros elsewhere."""
    unit = np.zeros((3, acc.shape[0]))
    rows = acc[valid]
    unit[:, valid] = (rows / np.linalg.norm(rows, axis=1)[:, None]).T
    return unit


def _attitudes(gyr: FloatArray, dt: float) -> FloatArray:
    """Rotations R_k (3, 3, n), frame of row k to frame of row 0, from rates (n, 3) in rad/s."""
    rate = gyr.T
    n = rate.shape[1]
    angle = np.sqrt(np.sum(rate * rate, axis=0)) * dt
    half = 0.5 * angle
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(angle > 0, np.sin(half) / angle, 0.5) * dt
    steps = np.vstack([np.cos(half), rate * scale])  # one quaternion per sample interval
    q = np.empty((4, n))
    q[:, 0] = (1.0, 0.0, 0.0, 0.0)
    q[:, 1:] = _cumulative_product(steps[:, :-1])
    return _rotation_matrices(q / np.sqrt(np.sum(q * q, axis=0)))


def _cumulative_product(steps: FloatArray) -> FloatArray:
    """Running products q_k = s_0 s_1 ... s_k of quaternions (4, n), in blocks: a loop over
    the block length vectorised across blocks, then one loop over the block ends."""
    n = steps.shape[1]
    size = max(8, math.isqrt(n // 10))
    count = -(-n // size)
    blocks = np.zeros((4, count * size))
    blocks[0] = 1.0
    blocks[:, :n] = steps
    blocks = blocks.reshape(4, count, size)
    for j in range(1, size):
        blocks[:, :, j] = _quaternion_product(blocks[:, :, j - 1], blocks[:, :, j])
    carry = np.empty((count, 4))
    total: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0)
    for i, end in enumerate(blocks[:, :, -1].T.tolist()):
        carry[i] = total
        total = _quaternion_product_1(total, end)
    return _quaternion_product(carry.T[:, :, None], blocks).reshape(4, -1)[:, :n]


def _quaternion_product_1(a: Sequence[float], b: Sequence[float]) -> tuple[float, ...]:
    """One Hamilton product in plain floats, normalised (the loop over block ends)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    w = aw * bw - ax * bx - ay * by - az * bz
    x = aw * bx + ax * bw + ay * bz - az * by
    y = aw * by - ax * bz + ay * bw + az * bx
    z = aw * bz + ax * by - ay * bx + az * bw
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    return w / norm, x / norm, y / norm, z / norm


def _quaternion_product(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton product a b of quaternions stored (w, x, y, z) along the first axis."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


def _rotation_matrices(q: FloatArray) -> FloatArray:
    """Rotation matrices (3, 3, n) of unit quaternions (4, n)."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _smoothed_gravity(
    rot: FloatArray, unit: FloatArray, valid: BoolArray, dt: float, gains: tuple[float, float]
) -> FloatArray:
    """Gravity (3, n) in the first row's frame: g_k = R_k m_k, gated rows interpolated, then
    low-passed forward and backward by the PI loop (kp s + ki) / (s² + kp s + ki)."""
    seen: FloatArray = np.einsum("ijn,jn->in", rot, unit)
    rows = np.flatnonzero(valid)
    if rows.size < valid.size:
        every = np.arange(valid.size)
        seen = np.array([np.interp(every, rows, axis[rows]) for axis in seen])
    if valid.size < 3:
        return seen
    b, a = _pi_loop(dt, *gains)
    padlen = min(valid.size - 1, round(10.0 / (gains[0] * dt)))
    return np.asarray(signal.filtfilt(b, a, seen, axis=1, padtype="odd", padlen=padlen))


def _pi_loop(dt: float, kp: float, ki: float) -> tuple[FloatArray, FloatArray]:
    """(b, a) of the Euler-discretised PI loop v' = kp (g - v) + c, c' = ki (g - v)."""
    alpha, beta = dt * kp + ki * dt * dt, dt * kp
    return np.array([0.0, alpha, -beta]), np.array([1.0, alpha - 2.0, 1.0 - beta])


def _bias_correction(rot: FloatArray, gravity: FloatArray, dt: float) -> FloatArray:
    """The body-frame gyro bias (rad/s) that best explains gravity's drift in the first frame.

    A bias b turns gravity there at d/dt g = (R_k b) × g = -[g]× R_k b: least squares for b
    over all rows.
    """
    drift = np.gradient(gravity, dt, axis=1)
    gx, gy, gz = gravity
    zero = np.zeros_like(gx)
    skew = np.array([[zero, -gz, gy], [gz, zero, -gx], [-gy, gx, zero]])
    design = -np.einsum("ijn,jkn->ikn", skew, rot)
    normal = np.einsum("ikn,iln->kl", design, design)
    moment = np.einsum("ikn,in->k", design, drift)
    # minimum-norm solution: a direction the rows barely observe (about gravity) is left alone
    correction = np.linalg.pinv(normal, rcond=1e-3, hermitian=True) @ moment
    return correction if np.all(np.isfinite(correction)) else np.zeros(3)
