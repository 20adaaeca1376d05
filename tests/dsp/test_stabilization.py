"""TTS methods, peak acceleration and DPSI on known-answer signals and simulated landings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from balancelab.dsp import stabilization
from balancelab.dsp.stabilization import (
    QuietReference,
    choose_reference,
    dpsi,
    moving_rms,
    peak_acc,
    rms_threshold,
    settled_from,
    time_to_stabilization,
    tts_moving_rms,
    tts_ross_polynomial,
)
from balancelab.errors import InvalidArgumentError
from balancelab.model import STANDARD_GRAVITY_MS2, QualityCode
from balancelab.sim import compute_settling_time, simulate_session

FS = 100.0
HALF = 25  # samples each side of the 0.5-s window at 100 Hz


def spiral(amplitude: float, tau_s: float, duration_s: float = 10.0, f_hz: float = 1.2):
    """A 2-D decaying oscillation whose row norm is exactly amplitude·exp(−t/tau)."""
    t = np.arange(round(duration_s * FS)) / FS
    envelope = amplitude * np.exp(-t / tau_s)
    phase = 2 * np.pi * f_hz * t
    return t, np.column_stack([envelope * np.cos(phase), envelope * np.sin(phase)])


def expected_tts(amplitude: float, tau_s: float, threshold: float, noise_ms: float) -> float:
    """Where the window-averaged envelope √(A²e^(−2t/τ)·sinh(2h/τ)/(2h/τ) + noise) = threshold."""
    h = (2 * HALF + 1) / FS / 2
    gain = math.sinh(2 * h / tau_s) / (2 * h / tau_s)
    return tau_s / 2 * math.log(amplitude**2 * gain / (threshold**2 - noise_ms))


def test_moving_rms_of_constant_and_of_sine() -> None:
    assert np.allclose(moving_rms(np.full(300, 2.0), FS), 2.0)
    t = np.arange(1000) / FS
    e = moving_rms(np.sin(2 * np.pi * 2.0 * t), FS, 0.5)  # 1 period in 0.5 s
    assert np.allclose(e[HALF:-HALF], 1 / math.sqrt(2), rtol=0.02)


def test_rms_threshold_of_white_noise_is_mean_plus_3_sd() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0.0, 1.0, 20000)
    threshold = rms_threshold(reference, FS)
    # moving RMS of 51 N(0,1) samples: mean ≈ 1, SD ≈ 1/sqrt(2·51) ≈ 0.099
    assert threshold == pytest.approx(1 + 3 * 0.099, abs=0.03)


def test_settled_from_rules() -> None:
    hi, lo = 2.0, 0.5
    assert settled_from(np.array([3.0, 2.0, 0.5, 0.4]), 1.0, 10.0) == pytest.approx(0.2)
    assert settled_from(np.array([0.5, 0.4]), 1.0, 10.0) == 0.0
    assert settled_from(np.array([0.5, 2.0]), 1.0, 10.0) is None  # above at the end
    # min_excursion_s = 0.3 s (3 samples at 10 Hz), min_dip_s = 0.2 s (2 samples):
    blip = np.array([hi, hi, lo, lo, lo, lo, hi, hi, lo, lo, lo])
    assert settled_from(blip, 1.0, 10.0, 0.3, 0.2) == pytest.approx(0.2)  # short, 0.4 s after
    assert settled_from(blip, 1.0, 10.0, 0.0, 0.2) == pytest.approx(0.8)  # the rule as written
    dip = np.array([hi, hi, lo, hi, hi, lo, lo, lo, lo])
    assert settled_from(dip, 1.0, 10.0, 0.3, 0.2) == pytest.approx(0.5)  # a 0.1-s dip: not settled
    soon = np.array([hi, hi, lo, lo, hi, lo, lo, lo, lo])
    assert settled_from(soon, 1.0, 10.0, 0.3, 0.2) == pytest.approx(0.2)  # 0.2 s below: settled
    late = np.array([hi, lo, lo, lo, lo, hi, hi, hi, lo, lo])
    assert settled_from(late, 1.0, 10.0, 0.3, 0.2) == pytest.approx(0.8)  # long enough to count
    censored = np.array([hi, lo, lo, lo, lo, lo, hi])
    assert settled_from(censored, 1.0, 10.0, 0.3, 0.2) is None  # unknown length: it counts
    quiet_start = np.array([lo] * 5 + [hi] + [lo] * 4)
    assert settled_from(quiet_start, 1.0, 10.0, 0.3, 0.2) == 0.0


@pytest.mark.parametrize("tau_s", [0.3, 0.6, 1.0])
def test_moving_rms_tts_of_noise_free_decay_is_exact(tau_s: float) -> None:
    _, trace = spiral(20.0, tau_s)
    reference = QuietReference(
        (np.random.default_rng(0).normal(0, 0.5, (3000, 2)),), "single_leg_hold"
    )
    threshold = rms_threshold(reference, FS)
    metric = tts_moving_rms(trace, FS, reference, unit="mm", level_s=0.01)
    assert metric.value == pytest.approx(expected_tts(20.0, tau_s, threshold, 0.0), abs=0.02)
    assert metric.method == "moving_rms"
    assert metric.settings["reference"] == "single_leg_hold"
    assert metric.unit == "s"


def noisy_decay_errors(k_sd: float, min_excursion_s: float, seeds: int = 40) -> np.ndarray:
    """TTS − analytic settling time of a decay (A=10, τ=0.5 s) in white noise, per seed."""
    sigma, amplitude, tau_s = 0.3, 10.0, 0.5
    errors = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        _, trace = spiral(amplitude, tau_s)
        trace = trace + rng.normal(0, sigma, trace.shape)
        reference = QuietReference((rng.normal(0, sigma, (2000, 2)),), "single_leg_hold")
        threshold = rms_threshold(reference, FS, k_sd=k_sd)
        expected = expected_tts(amplitude, tau_s, threshold, 2 * sigma**2)
        metric = tts_moving_rms(
            trace, FS, reference, unit="mm", k_sd=k_sd, min_excursion_s=min_excursion_s
        )
        assert metric.value is not None
        errors.append(metric.value - expected)
    return np.array(errors)


def test_moving_rms_tts_with_noise_over_seeds() -> None:
    """Decay plus white noise, 40 seeds, against the analytic settling time.

    The METRICS.md rule as written (min_excursion_s = 0: mean + 3 SD, must stay below for the
    rest of a 10-s window) is accurate when it fires at the decay (median error ~0.06 s) but a
    noise excursion above mean + 3 SD somewhere in the tail happens in ~25 % of 10-s windows of
    pure white noise, giving a late TTS (70 % within ±0.15 s, worst +7 s). The default (an
    excursion shorter than 1 s that begins >= 1 s after the settled state began does not count;
    white noise's never last that long) puts 80 % within ±0.15 s and 97.5 % within ±0.25 s;
    the worst, +0.56 s, is a noise blip within 1 s of the crossing, which still counts.
    """
    literal = noisy_decay_errors(3.0, 0.0)
    assert abs(float(np.median(literal))) <= 0.1
    assert np.mean(np.abs(literal) <= 0.15) >= 0.5
    assert np.min(literal) >= -0.25
    default = noisy_decay_errors(3.0, stabilization.DEFAULT_MIN_EXCURSION_S)
    assert np.mean(np.abs(default) <= 0.15) >= 0.75
    assert np.mean(np.abs(default) <= 0.25) >= 0.95
    assert np.max(np.abs(default)) <= 0.6
    assert np.mean(np.abs(default) <= 0.15) > np.mean(np.abs(literal) <= 0.15)
    strict = noisy_decay_errors(5.0, 0.0)
    assert np.mean(np.abs(strict) <= 0.15) >= 0.85
    assert abs(float(np.median(strict))) <= 0.05


def test_tts_orders_known_decays() -> None:
    """Slower decays settle later (k_sd = 5 keeps the tail's noise excursions out, see above)."""
    rng = np.random.default_rng(3)
    reference = QuietReference((rng.normal(0, 0.2, (2000, 2)),), "single_leg_hold")
    values = []
    for tau_s in (0.2, 0.4, 0.8, 1.2):
        _, trace = spiral(10.0, tau_s)
        trace = trace + rng.normal(0, 0.2, trace.shape)
        metric = tts_moving_rms(trace, FS, reference, unit="mm", k_sd=5.0)
        assert metric.value is not None
        values.append(metric.value)
    assert values == sorted(values) and values[0] < values[-1] - 1.5


def test_never_stabilizing_trace_gives_none_and_flag_not_the_window_end() -> None:
    t = np.arange(1000) / FS
    trace = np.column_stack([5 * np.sin(2 * np.pi * t), 5 * np.cos(2 * np.pi * t)])
    reference = QuietReference(
        (np.random.default_rng(0).normal(0, 0.1, (500, 2)),), "single_leg_hold"
    )
    metric = tts_moving_rms(trace, FS, reference, unit="mm")
    assert metric.value is None
    assert [f.code for f in metric.quality] == [QualityCode.NEVER_STABILIZED]


def test_tts_with_nan_or_too_short_is_flagged() -> None:
    reference = QuietReference((np.random.default_rng(0).normal(0, 0.1, 500),), "single_leg_hold")
    _, trace = spiral(1.0, 0.3)
    x = trace[:, 0].copy()
    x[100] = np.nan
    assert tts_moving_rms(x, FS, reference, unit="mm").quality[0].code is QualityCode.NAN_INPUT
    short = tts_moving_rms(x[:50], FS, reference, unit="mm")
    assert short.value is None and short.quality[0].code is QualityCode.TOO_SHORT
    with pytest.raises(InvalidArgumentError, match="same columns"):
        tts_moving_rms(trace, FS, reference, unit="mm")


def test_choose_reference_order_and_fallback_flag() -> None:
    """Holds, else every pre-landing stance pooled (as given), else the tail; < 6 s flagged."""
    rng = np.random.default_rng(0)
    window = rng.normal(0, 1, (1000, 2))
    hold, pre = rng.normal(0, 1, (800, 2)), rng.normal(0, 1, (5, 160, 2))
    ref, flags = choose_reference(window, FS, holds=[hold], pre_landing=list(pre))
    assert ref.source == "single_leg_hold" and ref.about_own_mean and not flags
    ref, flags = choose_reference(window, FS, pre_landing=list(pre))
    assert ref.source == "pre_trial_stance" and not ref.about_own_mean
    assert ref.n_samples == 800 and not flags  # 5 x 1.6 s pooled: 8 s
    ref, flags = choose_reference(window, FS, pre_landing=list(pre[:3]))
    assert ref.n_samples == 480 and [f.code for f in flags] == [QualityCode.SHORT_REFERENCE]
    ref, flags = choose_reference(window, FS, holds=[hold[:90]], pre_landing=[pre[0, :90]])
    assert ref.source == "window_tail" and ref.traces[0].shape == (200, 2)
    assert [f.code for f in flags] == [QualityCode.REFERENCE_FALLBACK]


def test_reference_pools_every_hold_without_spanning_two() -> None:
    """Several holds: moving RMS per hold, pooled; too-short holds are left out; Ross averages."""
    rng = np.random.default_rng(4)
    quiet, loud, short = rng.normal(0, 1, (1500, 2)), rng.normal(5, 2, (1500, 2)), np.ones((50, 2))
    ref, flags = choose_reference(quiet, FS, holds=[quiet, loud, short])
    assert ref.source == "single_leg_hold" and not flags
    assert len(ref.traces) == 2 and ref.n_samples == 3000
    gappy = quiet.copy()
    gappy[700] = np.nan  # a gap splits a hold: no window spans it
    split, _ = choose_reference(quiet, FS, holds=[gappy])
    assert [t.shape[0] for t in split.traces] == [700, 799]
    # each hold about its own mean: loud's offset of 5 does not count, its SD of 2 does
    pooled = np.concatenate([moving_rms(t - t.mean(0), FS)[HALF:-HALF] for t in (quiet, loud)])
    assert rms_threshold(ref, FS) == pytest.approx(pooled.mean() + 3 * pooled.std(ddof=1))
    joined = rms_threshold(np.concatenate([quiet, loud]), FS)
    assert rms_threshold(ref, FS) < joined  # one trace about one mean sees the offset
    _, trace = spiral(10.0, 0.5)
    metric = tts_moving_rms(trace, FS, ref, unit="mm")
    assert metric.settings["reference_traces"] == 2
    assert metric.settings["reference_s"] == pytest.approx(30.0)
    ramp = QuietReference((np.linspace(0, 1, 300), np.linspace(0, 3, 300)), "single_leg_hold")
    cubic = 0.02 * (10 - np.arange(1000) / FS) ** 3 / 10
    ross = tts_ross_polynomial(cubic, FS, ramp, unit="mm", level_s=0.01)
    assert ross.value == pytest.approx(10 - (2 * 10 / 0.02) ** (1 / 3), abs=0.02)  # range 2


def test_ross_polynomial_tts_of_a_cubic_envelope() -> None:
    """A rectified trace equal to a cubic crosses the reference range where the cubic does."""
    t = np.arange(1000) / FS
    cubic = 0.02 * (10 - t) ** 3 / 10  # 20 at t=0 → 0 at t=10
    reference = QuietReference((np.linspace(-1.0, 1.0, 500),), "single_leg_hold")  # range 2
    metric = tts_ross_polynomial(cubic, FS, reference, unit="mm", level_s=0.01)
    expected = 10 - (2 * 10 / 0.02) ** (1 / 3)  # 0.02·(10−t)³/10 = 2
    assert metric.value == pytest.approx(expected, abs=0.02)
    assert metric.method == "ross_polynomial"


def test_ross_polynomial_2d_is_resultant_vector() -> None:
    _, trace = spiral(10.0, 0.8)
    reference = QuietReference(
        (np.random.default_rng(0).normal(0, 0.1, (1000, 2)),), "single_leg_hold"
    )
    metric = time_to_stabilization(trace, FS, reference, unit="mm", method="ross_polynomial")
    assert metric.value is not None
    ap, ml = metric.details["ap_s"], metric.details["ml_s"]
    assert metric.value == pytest.approx(math.hypot(ap, ml))
    with pytest.raises(InvalidArgumentError, match="method"):
        time_to_stabilization(trace, FS, reference, unit="mm", method="wavelet")  # type: ignore[arg-type]


def test_peak_acc_and_dpsi_known_answers() -> None:
    g = STANDARD_GRAVITY_MS2
    acc = np.tile([0.0, 0.0, g], (400, 1))
    acc[5] = [3.0, 4.0, 2 * g]
    assert peak_acc(acc, FS).value == pytest.approx(math.sqrt(25 + 4 * g * g))
    still = np.tile([0.0, 0.0, g], (300, 1))
    assert dpsi(still, FS).value == pytest.approx(0.0)
    shaken = still.copy()
    shaken[:, 0] += 0.5 * g  # constant 0.5 g horizontal
    assert dpsi(shaken, FS).value == pytest.approx(0.5)
    short = dpsi(still[:100], FS)
    assert short.value is None and short.quality[0].code is QualityCode.TOO_SHORT
    with pytest.raises(InvalidArgumentError, match=r"\(n, 3\)"):
        peak_acc(acc[:, :2], FS)


def test_sim_noiseless_transients_tts_matches_sim_settling_definition() -> None:
    """Simulator landings: the sim's noiseless transients plus white noise of the truth band.

    With a reference whose mean + 3 SD sits at the band (k_sd chosen from the reference's CV),
    the moving-RMS TTS reproduces the simulator's true settling time of the same transient
    (compute_settling_time) to ±0.15 s, and it ranks the landings like the truth. Both count
    every excursion (min_excursion_s = 0): with a band this low the transient's slow tail can
    hover near it for about 1 s, where noise would decide whether a lobe counts.
    """
    _, truth = simulate_session("step_down", seed=11, internal_fs_hz=400.0)
    rng = np.random.default_rng(11)
    measured, true = [], []
    for trial in truth.trials:
        landing = trial.landing
        if landing is None:
            continue
        step = round(landing.fs_hz / FS)
        clean = landing.noiseless_acc_ms2[::step][: round(10 * FS)]
        band = 0.02 * float(np.max(moving_rms(clean, FS)))  # a quiet band 2 % of the peak
        settle = compute_settling_time(clean - clean[-300:].mean(0), FS, band)
        sigma = band / 10 / math.sqrt(2)
        trace = clean + rng.normal(0, sigma, clean.shape)
        reference = QuietReference((rng.normal(0, sigma, (2000, 2)),), "single_leg_hold")
        e = moving_rms(reference.traces[0], FS)
        k_sd = (math.sqrt(band**2 + 2 * sigma**2) - e.mean()) / e.std(ddof=1)
        value = tts_moving_rms(
            trace, FS, reference, unit="m/s^2", k_sd=k_sd, min_excursion_s=0.0
        ).value
        assert settle is not None and value is not None
        measured.append(value)
        true.append(settle)
    errors = np.array(measured) - np.array(true)
    assert np.max(np.abs(errors)) <= 0.15
    assert np.argsort(measured).tolist() == np.argsort(true).tolist() or (
        np.corrcoef(measured, true)[0, 1] > 0.95
    )
