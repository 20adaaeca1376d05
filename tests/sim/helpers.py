"""Shared helpers for the simulator tests: small scenarios and reference sway measures."""

from __future__ import annotations

import numpy as np
from scipy import signal, stats

from balancelab.model import FloatArray, Recording, Trial


def trial_window(rec: Recording, trial: Trial, skip_s: float = 2.0) -> slice:
    """Rows of `rec` from skip_s after the trial onset to its end."""
    lo, hi = np.searchsorted(rec.time_s, [trial.onset_s + skip_s, trial.end_s])
    return slice(int(lo), int(hi))


def sway_measures(cop_cm: FloatArray, fs: float) -> tuple[float, float, float]:
    """(95 % prediction-ellipse area cm^2, mean velocity cm/s, mean frequency Hz).

    The reference method of science/reference_values.md (Duarte), written out independently.
    """
    c = cop_cm - cop_cm.mean(axis=0)
    n = c.shape[0]
    k = 2 * (n - 1) * (n + 1) / (n * (n - 2)) * stats.f.ppf(0.95, 2, n - 2)
    area = float(np.pi * k * np.sqrt(np.linalg.det(np.cov(c, rowvar=False))))
    velocity = float(np.sum(np.hypot(*np.diff(c, axis=0).T)) / (n / fs))
    mpf, power = [], []
    for j in range(2):
        f, p = signal.welch(c[:, j], fs, window="hann", nperseg=n // 2, noverlap=n // 4)
        mpf.append(np.trapezoid(f * p, f) / np.trapezoid(p, f))
        power.append(p.sum())
    mfreq = float((mpf[0] * power[0] + mpf[1] * power[1]) / (power[0] + power[1]))
    return area, velocity, mfreq
