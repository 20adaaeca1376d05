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
  peak_g = clip(1.5 + 1.1 v, 2, 4) with v in m/s (our choice), times a drawn +-10 % spread;
- horizontal: the single pendulum starts from the drawn sway state at impact, and a segmental
  landing response (trunk and leg absorption, which the single pendulum does not have) is
  added from impact: per axis A exp(-t/decay) sin(2 pi f t + phase) as a horizontal
  acceleration of the body IMU's point and, separately sized, as a COP excursion
  (landing_response; sizes in AthleteParams). Defaults (our choice, order of magnitude from
  the landing literature): lower back 4 m/s^2 AP at most (ML x 0.6), i.e. 20-40x the ~0.1-0.2
  m/s^2 RMS of quiet single-leg stance; a DPSI-protocol jump landing gives APSI ~0.1-0.15,
  an RMS horizontal force of 1-1.5 m/s^2 x body mass over 3 s (Wikstrom et al. 2005, J Athl
  Train 40:305 [verify values]), and our response's 3-s RMS is 0.3-0.6 m/s^2 for this
  smaller step-down; COP 6 cm AP at most (ML x 0.6), within the 21-cm foot; f = 2 Hz (one
  period per 0.5-s RMS window, below the 3.5-Hz body low-pass); decay 0.3 s, x1.3 on the
  weaker side, so the truth's settling times are ~0.7-1.1 s at the lower back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from balancelab.model import FloatArray, check_choice
from balancelab.sim.athlete import G

TOUCHDOWN_PEAK_G = 0.5
TOUCHDOWN_WIDTH_S = 0.06
IMPACT_WIDTH_S = 0.08
ABSORB_WIDTH_S = 0.25
STEP_DOWN_SPEED_FRACTION = 0.7
# Settling-time definition (see compute_settling_time and quiet_band): the TTS rule of
# science/METRICS.md as written, 0.5-s moving RMS against mean + 3 SD of a quiet reference until
# the window ends, judged over a 10-s window from impact about the transient's level over the
# window's last 3 s. Every excursion of the noiseless transient counts: it has no noise blips.
SETTLING_WINDOW_S = 0.5
SETTLING_K_SD = 3.0
SETTLING_SPAN_S = 10.0
SETTLING_LEVEL_S = 3.0
# The method's pre-processing is part of the quantity it estimates (METRICS.md: zero-lag
# 4th-order Butterworth, 3.5 Hz for body acceleration, 10 Hz for COP), so the truth's quiet
# references and noiseless transients pass through the same low-pass. Unfiltered, the lower
# back's band was 1.12x the one the method sees and every true settling time ran early.
SETTLING_FILTER_ORDER = 4
SETTLING_ACC_CUTOFF_HZ = 3.5
SETTLING_COP_CUTOFF_HZ = 10.0


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
    check_choice("landing kind", kind, ("step_down", "hop"))
    if kind == "step_down":
        speed = STEP_DOWN_SPEED_FRACTION * math.sqrt(2 * G * height_m)
        lower_s = 0.6
        n = round(lower_s * fs)
        move = -(2 * speed / lower_s) * np.sin(np.pi * np.arange(n) / n) ** 2
    else:
        speed = math.sqrt(2 * G * height_m)
        push_s = 0.3
        n = round(push_s * fs)
        push = (2 * speed / push_s) * np.sin(np.pi * np.arange(n) / n) ** 2
        flight = np.full(round(2 * speed / G * fs), -G)
        move = np.concatenate([push, flight])
    peak_g = landing_peak_g(speed, spread)
    a1 = (peak_g - 1.0) * G
    width = min(IMPACT_WIDTH_S, math.pi * speed / (2 * a1))
    pulse = a1 * half_sine(max(2, round(width * fs)))
    rest = max(0.0, speed - float(pulse.sum()) / fs)
    absorb = (rest * math.pi / (2 * ABSORB_WIDTH_S)) * half_sine(round(ABSORB_WIDTH_S * fs))
    acc = np.concatenate([move, pulse, absorb])
    return LandingProfile(acc, move.size, speed, peak_g)


def landing_response(
    fs: float,
    n: int,
    *,
    amplitude: tuple[float, float],
    phase_rad: tuple[float, float],
    freq_hz: float,
    decay_s: float,
) -> FloatArray:
    """The segmental landing response from impact: (n, 2) damped oscillations (AP, ML).

    Column j is amplitude[j] exp(-t / decay_s) sin(2 pi freq_hz t + phase_rad[j]), t = k / fs,
    in the unit of `amplitude` (m/s^2 at the lower back, m for the COP).
    """
    t = np.arange(n) / fs
    damped = np.exp(-t / decay_s)[:, None]
    wave = np.sin(2 * np.pi * freq_hz * t[:, None] + np.asarray(phase_rad)[None, :])
    return np.asarray(damped * wave * np.asarray(amplitude)[None, :], dtype=np.float64)


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


@dataclass(frozen=True)
class QuietBand:
    """The settling band of one signal from a noise-only quiet stance (unit of the signal).

    `threshold`: mean + k SD of the centred moving RMS of the quiet trace (about its mean);
    `noise_rms`: its RMS (the root of the mean of the moving mean square). `band` is the
    largest transient moving RMS r with sqrt(r^2 + noise_rms^2) <= threshold: what a landing's
    transient may still add to the quiet sway before the moving RMS is expected above the
    threshold.
    """

    threshold: float
    noise_rms: float

    @property
    def band(self) -> float:
        """sqrt(threshold^2 - noise_rms^2), 0 when the threshold is below the noise RMS."""
        return math.sqrt(max(0.0, self.threshold**2 - self.noise_rms**2))


def quiet_band(
    quiet: FloatArray,
    fs: float,
    window_s: float = SETTLING_WINDOW_S,
    k_sd: float = SETTLING_K_SD,
) -> QuietBand:
    """QuietBand of a noise-only quiet trace (n,) or (n, k) sampled at `fs` (Hz)."""
    x = np.asarray(quiet, dtype=np.float64)
    x = x - np.mean(x, axis=0)
    e = moving_rms(x, fs, window_s)
    threshold = float(np.mean(e) + k_sd * np.std(e, ddof=1))
    return QuietBand(threshold, float(np.sqrt(np.mean(e**2))))


def about_level(
    transient: FloatArray,
    fs: float,
    span_s: float = SETTLING_SPAN_S,
    level_s: float = SETTLING_LEVEL_S,
) -> FloatArray:
    """The first `span_s` of a transient (from impact) minus its mean over the last `level_s`."""
    x = np.asarray(transient, dtype=np.float64)[: max(1, round(span_s * fs))]
    n = max(1, min(x.shape[0], round(level_s * fs)))
    return np.asarray(x - np.mean(x[-n:], axis=0), dtype=np.float64)


def compute_settling_time(
    noiseless: FloatArray,
    fs: float,
    band: float,
    window_s: float = SETTLING_WINDOW_S,
) -> float | None:
    """True settling time (s from the first sample, the impact) of a noiseless transient.

    e(t) = centred `window_s` moving RMS of the transient's norm (AP and ML together); the
    settling time is the end of the last excursion of e above `band`. 0 if e never exceeds it;
    None if it is above at the last sample (not settled). `band` is QuietBand.band of the same
    signal (see SETTLING_DEFINITION in sim.truth).
    """
    above = np.flatnonzero(moving_rms(noiseless, fs, window_s) > band)
    if above.size == 0:
        return 0.0
    last = int(above[-1]) + 1
    return None if last >= noiseless.shape[0] else last / fs
