"""Plausibility of a hold: could a person standing on one or two legs have made this trace?

science/METRICS.md: a trace more than `PLAUSIBLE_FACTOR` × the upper published range for its
trace and stance, a body-worn sensor rotating by more than `MAX_ROTATION_DEG`, or a sustained
acceleration like a vehicle's is flagged `implausible` (a phone waved by hand, moved around or
lying in a car is never a balance hold). The bounds and their sources are below, beside the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from balancelab.dsp.quality import as_float_array
from balancelab.errors import InvalidArgumentError
from balancelab.model import FloatArray, Metric, QualityCode, QualityFlag, check_positive, make_flag

PLAUSIBLE_FACTOR = 20.0


@dataclass(frozen=True)
class PublishedRange:
    """The upper end of the published range of one measure, two-leg and single-leg stance."""

    metrics: tuple[str, ...]  # metric keys compared (the largest counts)
    two_leg: float
    single_leg: float
    unit: str
    source: str


BODY_RMS = PublishedRange(
    ("rms_ap", "rms_ml"),
    0.06,
    0.3,
    "m/s^2",
    "lower-back horizontal acceleration RMS in quiet stance: 0.03-0.06 m/s^2 two-leg (Mancini et"
    " al. 2012, J NeuroEng Rehabil 9:59; our own L5 recording 0.033); single-leg 2-5x two-leg"
    " (metrics-research.md), we take 5x. Neville et al. 2015 (Med Devices 8:447) report 0.911 for"
    " tandem stance on foam, eyes closed: inside 20x the single-leg bound.",
)
COP_VELOCITY = PublishedRange(
    ("mean_velocity",),
    102.0,
    102.0,
    "mm/s",
    "COP mean velocity: two-leg, the largest of the 1,930 BDS trials (young and old adults, foam,"
    " eyes closed), 102 mm/s (Santos & Duarte 2016, PeerJ 4:e2648, BDSinfoCOP.txt); single-leg,"
    " eyes closed, 20 s: 85-91 mm/s in professional rugby players (progression-research.md §2.7)."
    " We take the larger, 102 mm/s, for both.",
)
PUBLISHED_RANGES: Mapping[str, PublishedRange] = {
    "lowback": BODY_RMS,
    "sternum": BODY_RMS,
    "cop": COP_VELOCITY,
}

# A standing person's trunk tilts by a few degrees, ~10-15° at most while recovering on one leg
# (our estimate; a wobble board's rim meets the floor at ~15-20°). 45° is beyond any hold.
MAX_ROTATION_DEG = 45.0
# Mean direction of the specific force over 0.2-s windows: short enough to follow a hand's
# waving (1-3 Hz), long enough to average the sensor noise and a touch-down's jolt.
ROTATION_WINDOW_S = 0.2

# Vehicle: normal driving brakes, accelerates and corners at about 1.5-4 m/s^2 for seconds
# (e.g. Bokare & Maurya 2017, Transp Res Procedia 25:4733, passenger-car acceleration and
# deceleration profiles). A horizontal 2 m/s^2 raises |a| above g by 0.2 m/s^2, whatever the
# sensor's tilt; a standing body cannot: its 2-s mean vertical acceleration is Δv/2 s ≈ 0 (a
# touch-down's jolt adds < 0.1 m/s^2 to one 2-s mean). The reference is the 10th percentile of the
# 2-s means (g as this sensor reads it, scale error included).
VEHICLE_EXCESS_MS2 = 0.2
VEHICLE_MEAN_WINDOW_S = 2.0
VEHICLE_MIN_S = 3.0


def check_plausibility(
    tracked_point: str,
    metrics: Mapping[str, Metric],
    *,
    single_leg: bool,
    fs: float,
    acc_ms2: ArrayLike | None = None,
    tilt_deg: ArrayLike | None = None,
) -> QualityFlag | None:
    """An `implausible` flag naming every bound the hold breaks, else None.

    `metrics` are the hold's sway metrics (trace unit); `acc_ms2` (n, 3) the raw accelerometer
    of a body-worn or board IMU; `tilt_deg` (n, 2) a board's pitch and roll from level.
    """
    fs = check_positive("fs", fs)
    reasons = []
    published = PUBLISHED_RANGES.get(tracked_point)
    if published is not None:
        reasons += _beyond_published(published, metrics, single_leg)
    if acc_ms2 is not None and tracked_point in ("lowback", "sternum"):
        acc = _xyz(acc_ms2)
        rotation = rotation_range_deg(acc, fs)
        if rotation > MAX_ROTATION_DEG:
            reasons.append(f"the sensor rotated by {rotation:.0f}° (> {MAX_ROTATION_DEG:g}°)")
        sustained = sustained_acceleration_s(acc, fs)
        if sustained >= VEHICLE_MIN_S:
            reasons.append(
                f"|a| above g by > {VEHICLE_EXCESS_MS2:g} m/s^2 for {sustained:.1f} s (a vehicle)"
            )
    if tilt_deg is not None:
        tilt = as_float_array("tilt_deg", tilt_deg, ndim=2)
        largest = float(np.nanmax(np.hypot(tilt[:, 0], tilt[:, 1]), initial=0.0))
        if largest > MAX_ROTATION_DEG:
            reasons.append(f"the board tilted by {largest:.0f}° (> {MAX_ROTATION_DEG:g}°)")
    return make_flag(QualityCode.IMPLAUSIBLE, "; ".join(reasons)) if reasons else None


def _beyond_published(
    published: PublishedRange, metrics: Mapping[str, Metric], single_leg: bool
) -> list[str]:
    values = [metrics[k].value for k in published.metrics if k in metrics]
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    upper = published.single_leg if single_leg else published.two_leg
    if not finite or max(finite) <= PLAUSIBLE_FACTOR * upper:
        return []
    stance = "single-leg" if single_leg else "two-leg"
    return [
        f"{'/'.join(published.metrics)} {max(finite):.3g} {published.unit} > "
        f"{PLAUSIBLE_FACTOR:g} x {upper:g} (the {stance} published upper end)"
    ]


def rotation_range_deg(
    acc_ms2: ArrayLike, fs: float, *, window_s: float = ROTATION_WINDOW_S
) -> float:
    """Largest angle (deg) between the mean specific-force directions of any two `window_s`
    windows: how far the sensor turned relative to gravity (rotation about the vertical is not
    seen). Windows with a missing sample are skipped; 0 with fewer than two windows."""
    acc = _xyz(acc_ms2)
    fs = check_positive("fs", fs)
    n = max(1, round(check_positive("window_s", window_s) * fs))
    k = acc.shape[0] // n
    means = acc[: k * n].reshape(k, n, 3).mean(axis=1)
    means = means[np.all(np.isfinite(means), axis=1)]
    norms = np.linalg.norm(means, axis=1)
    units = means[norms > 0] / norms[norms > 0, None]
    if units.shape[0] < 2:
        return 0.0
    smallest = float(np.min(np.clip(units @ units.T, -1.0, 1.0)))
    return float(np.degrees(np.arccos(smallest)))


def sustained_acceleration_s(
    acc_ms2: ArrayLike, fs: float, *, window_s: float = VEHICLE_MEAN_WINDOW_S
) -> float:
    """Time (s) during which the `window_s` moving mean of |a| exceeds its 10th percentile (g as
    read by this sensor) by more than `VEHICLE_EXCESS_MS2`."""
    acc = _xyz(acc_ms2)
    fs = check_positive("fs", fs)
    n = max(1, round(check_positive("window_s", window_s) * fs))
    norm = np.linalg.norm(acc, axis=1)
    if norm.size < n:
        return 0.0
    present = np.isfinite(norm)
    total = np.concatenate([[0.0], np.cumsum(np.where(present, norm, 0.0))])
    count = np.concatenate([[0], np.cumsum(present)])
    complete = (count[n:] - count[:-n]) == n  # windows without a missing sample
    finite = ((total[n:] - total[:-n]) / n)[complete]
    if finite.size == 0:
        return 0.0
    excess = finite - float(np.percentile(finite, 10.0))
    return float(np.count_nonzero(excess > VEHICLE_EXCESS_MS2)) / fs


def _xyz(acc_ms2: ArrayLike) -> FloatArray:
    acc = as_float_array("acc_ms2", acc_ms2, ndim=2)
    if acc.shape[1] != 3:
        raise InvalidArgumentError(f"acc_ms2 must be (n, 3) (x, y, z columns), got {acc.shape}")
    return acc
