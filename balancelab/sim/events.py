"""Event shapes (touch-down bump, landings, edge impacts) and the true settling time.

Vertical accelerations here are kinematic (m/s^2, up positive, gravity NOT included): an
accelerometer reads them plus 1 g, so free flight reads about 0 g.

Landing (step-down or hop), times from the start of the movement:
- step-down from a box of height H: lowering for `lower_s` with a = -A sin^2(pi t / lower_s),
  touching down at v = 0.7 sqrt(2 g H) (a controlled step, our choice);
- hop of height H: push-off for `push_s` with a = +B sin^2(pi t / push_s) up to v0 = sqrt(2 g H),
  then free flight (a = -g) for 2 v0 / g, touching down at v0;
- impact: a half-sine of peak (peak_g - 1) g (so the sensor's vertical peak is peak_g) and
  width 2 x 40 ms (peak ~40 ms after contact, SIMULATOR.md: 2-4 g within ~50 ms), then a
  half-sine absorption of 0.25 s that takes up the rest of the touch-down velocity.
  peak_g = clip(1.5 + 1.1 v, 2, 4) with v in m/s (our choice), times a drawn +-10 % spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from balancelab.model import FloatArray
from balancelab.sim.athlete import G

TOUCHDOWN_PEAK_G = 0.5
TOUCHDOWN_WIDTH_S = 0.06
IMPACT_WIDTH_S = 0.08
ABSORB_WIDTH_S = 0.25
STEP_DOWN_SPEED_FRACTION = 0.7
# Settling-time definition (see compute_settling_time).
SETTLING_WINDOW_S = 0.5


@dataclass(frozen=True)
class LandingProfile:
    """A landing's vertical kinematic acceleration from the movement start (m/s^2, up +).

    `impact_index` is the sample of first contact; `touchdown_speed_m_s` the downward speed at
    contact; `peak_g` the intended peak of the vertical accelerometer reading (g).
    """

    acc_ms2: FloatArray
    impact_index: int
    touchdown_speed_m_s: float
    peak_g: float


def half_sine(n: int) -> FloatArray:
    """sin(pi k / n) for k = 0..n-1 (a unit half-sine pulse of n samples)."""
    return np.sin(np.pi * np.arange(n) / n)


def touchdown_bump(fs: float) -> FloatArray:
    """The vertical kinematic acceleration when the free foot lands (m/s^2): a half-sine."""
    return TOUCHDOWN_PEAK_G * G * half_sine(max(2, round(TOUCHDOWN_WIDTH_S * fs)))


def landing_peak_g(speed_m_s: float, spread: float = 1.0) -> float:
    """Vertical accelerometer peak at impact (g) for a touch-down speed (m/s)."""
    return float(np.clip((1.5 + 1.1 * speed_m_s) * spread, 2.0, 4.0))


def landing_profile(kind: str, height_m: float, fs: float, spread: float = 1.0) -> LandingProfile:
    """Vertical acceleration of a step-down ('step_down') or hop ('hop') landing, at `fs` (Hz)."""
    if kind == "step_down":
        speed = STEP_DOWN_SPEED_FRACTION * math.sqrt(2 * G * height_m)
        lower_s = 0.6
        n = round(lower_s * fs)
        move = -(2 * speed / lower_s) * np.sin(np.pi * np.arange(n) / n) ** 2
    elif kind == "hop":
        speed = math.sqrt(2 * G * height_m)
        push_s = 0.3
        n = round(push_s * fs)
        push = (2 * speed / push_s) * np.sin(np.pi * np.arange(n) / n) ** 2
        flight = np.full(round(2 * speed / G * fs), -G)
        move = np.concatenate([push, flight])
    else:
        raise ValueError(f"landing kind must be 'step_down' or 'hop', got {kind!r}")
    peak_g = landing_peak_g(speed, spread)
    a1 = (peak_g - 1.0) * G
    width = min(IMPACT_WIDTH_S, math.pi * speed / (2 * a1))
    pulse = a1 * half_sine(max(2, round(width * fs)))
    rest = max(0.0, speed - float(pulse.sum()) / fs)
    absorb = (rest * math.pi / (2 * ABSORB_WIDTH_S)) * half_sine(round(ABSORB_WIDTH_S * fs))
    acc = np.concatenate([move, pulse, absorb])
    return LandingProfile(acc, move.size, speed, peak_g)


def edge_impact_spike(fs: float, peak_ms2: float, ring_hz: float, decay_s: float) -> FloatArray:
    """Board-edge impact ringing: peak * exp(-t/decay) sin(2 pi f t) (m/s^2), over 6 decays."""
    t = np.arange(round(6 * decay_s * fs) + 1) / fs
    shape = np.exp(-t / decay_s) * np.sin(2 * np.pi * ring_hz * t)
    return np.asarray(peak_ms2 * shape / np.max(np.abs(shape)), dtype=np.float64)


def moving_rms(x: FloatArray, fs: float, window_s: float = SETTLING_WINDOW_S) -> FloatArray:
    """Centred moving RMS of the rows' Euclidean norm (x is (n,) or (n, k)), window in s.

    Near the ends the window is truncated to the samples that exist.
    """
    sq = np.asarray(x, dtype=np.float64) ** 2
    if sq.ndim == 2:
        sq = sq.sum(axis=1)
    half = max(1, round(window_s * fs / 2))
    c = np.concatenate([[0.0], np.cumsum(sq)])
    idx = np.arange(sq.size)
    lo = np.clip(idx - half, 0, sq.size)
    hi = np.clip(idx + half + 1, 0, sq.size)
    return np.asarray(np.sqrt((c[hi] - c[lo]) / (hi - lo)), dtype=np.float64)


def compute_settling_time(
    noiseless: FloatArray, fs: float, band: float, window_s: float = SETTLING_WINDOW_S
) -> float | None:
    """True settling time (s from the first sample, the impact) of a noiseless transient.

    Definition: e(t) = centred `window_s` moving RMS of the transient's norm (AP and ML
    together); the settling time is the first sample time after which e stays <= `band` (the
    RMS of the quiet-stance noise of the same signal) to the end. 0 if e never exceeds the
    band; None if e still exceeds it at the last sample (not settled within the trace).
    """
    e = moving_rms(noiseless, fs, window_s)
    above = np.flatnonzero(e > band)
    if above.size == 0:
        return 0.0
    last = int(above[-1])
    if last >= e.size - 1:
        return None
    return (last + 1) / fs
