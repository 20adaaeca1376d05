"""interval_90 of the moving-RMS TTS on known-answer signals (no simulator)."""

from __future__ import annotations

import json

import numpy as np

from balancelab.dsp.stabilization import QuietReference, tts_moving_rms
from balancelab.engine.report import metric_text

FS = 100.0


def decay(seed: int, tau_s: float = 0.4, noise: float = 0.1) -> np.ndarray:
    """A 2-D decaying 2-Hz oscillation of amplitude 3 plus white noise of SD `noise`, 10 s."""
    t = np.arange(1000) / FS
    phase = 2 * np.pi * 2.0 * t
    clean = 3.0 * np.exp(-t / tau_s)[:, None] * np.column_stack([np.cos(phase), np.sin(phase)])
    noisy = clean + np.random.default_rng(seed).normal(0, noise, clean.shape)
    return np.asarray(noisy, dtype=np.float64)


def reference(seed: int, seconds: float, noise: float = 0.1) -> QuietReference:
    """White-noise quiet stance in 2-s pieces, `seconds` in all."""
    rng = np.random.default_rng(seed)
    pieces = tuple(rng.normal(0, noise, (200, 2)) for _ in range(round(seconds / 2)))
    return QuietReference(pieces, "single_leg_hold")


def test_interval_is_deterministic_holds_the_value_and_goes_into_the_json() -> None:
    metric = tts_moving_rms(decay(1), FS, reference(2, 20.0), unit="mm")
    again = tts_moving_rms(decay(1), FS, reference(2, 20.0), unit="mm")
    assert metric.value is not None and metric.interval_90 is not None
    assert metric.interval_90 == again.interval_90  # seeded from the data, not global state
    low, high = metric.interval_90
    assert high is not None and low <= metric.value <= high
    assert metric.settings["interval_method"] == "block_bootstrap"
    assert json.loads(json.dumps(metric.to_dict()))["interval_90"] == [low, high]
    assert metric_text(metric).endswith(f" (90 %: {low:.2f}–{high:.2f})")


def test_interval_covers_the_noise_free_crossing_over_seeds() -> None:
    """Noise-free crossing: where the clean decay's moving RMS alone meets the threshold less
    the noise power (the simulator's band). Over 60 seeds the interval holds it >= 85 %."""
    t = np.arange(1000) / FS
    clean = 3.0 * np.exp(-t / 0.4)
    inside = []
    for seed in range(60):
        ref = reference(100 + seed, 20.0)
        metric = tts_moving_rms(decay(seed), FS, ref, unit="mm")
        assert metric.interval_90 is not None
        threshold = metric.details["threshold"]
        noise_power = np.mean(np.concatenate(ref.traces) ** 2) * 2
        band = float(np.sqrt(max(threshold**2 - float(noise_power), 0.0)))
        # the clean spiral's row norm is exactly `clean`; its window-averaged power ~ clean^2
        truth = float(t[np.flatnonzero(clean > band)[-1] + 1])
        low, high = metric.interval_90
        inside.append(low <= truth and (high is None or truth <= high))
    assert np.mean(inside) >= 0.85


def test_a_shorter_reference_gives_a_wider_interval() -> None:
    """Threshold uncertainty: 4 s of reference against 60 s, median width over seeds (an
    unbounded upper end counts as the window's end)."""

    def width(seconds: float) -> float:
        widths = []
        for seed in range(20):
            interval = tts_moving_rms(
                decay(seed, noise=0.3), FS, reference(50 + seed, seconds, 0.3), unit="mm"
            ).interval_90
            assert interval is not None
            widths.append((10.0 if interval[1] is None else interval[1]) - interval[0])
        return float(np.median(widths))

    assert width(4.0) > width(60.0)


def test_never_stabilized_has_no_interval_and_the_table_says_why() -> None:
    t = np.arange(1000) / FS
    trace = np.column_stack([np.cos(4 * np.pi * t), np.sin(4 * np.pi * t)])
    metric = tts_moving_rms(trace, FS, reference(3, 20.0, noise=0.03), unit="mm")
    assert metric.value is None and metric.interval_90 is None
    assert "interval_90" not in metric.to_dict()
    assert metric_text(metric) == "never settled"
