"""Property tests: any trace gives numbers or flagged None, never an exception or a NaN value."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from balancelab.dsp import board, preprocess, sway
from balancelab.dsp.quality import INT16_RAILS
from balancelab.model import Metric

SETTINGS = settings(max_examples=60, deadline=None)
RATES = st.sampled_from([1.0, 20.0, 50.0, 100.0, 128.0, 1000.0])


@st.composite
def signals(draw: st.DrawFn, n: int | None = None) -> np.ndarray:
    """A 1-D signal: noise, a constant, a sine, with NaN holes and samples at int16 rails."""
    size = draw(st.integers(0, 400)) if n is None else n
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "constant", "sine", "walk"]))
    scale = 10.0 ** draw(st.integers(-6, 6))
    if kind == "noise":
        x = rng.normal(scale=scale, size=size)
    elif kind == "constant":
        x = np.full(size, draw(st.sampled_from([0.0, 0.1, -3.7, 1e6])))
    elif kind == "sine":
        x = scale * np.sin(np.arange(size) * draw(st.floats(0.001, 3.0)))
    else:
        x = np.cumsum(rng.normal(scale=scale, size=size))
    if size and draw(st.booleans()):
        x[rng.random(size) < draw(st.floats(0.0, 0.5))] = np.nan
    if size and draw(st.booleans()):
        x[rng.random(size) < 0.1] = draw(st.sampled_from(INT16_RAILS))
    return x


@st.composite
def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    first = draw(signals())
    return first, draw(signals(n=first.size))


def _check_metric(metric: Metric) -> None:
    if metric.value is None:
        assert metric.quality, metric
    else:
        assert math.isfinite(metric.value), metric
    metric.to_dict()


def _check_optional_numbers(result: object) -> None:
    for item in fields(result):  # type: ignore[arg-type]
        value = getattr(result, item.name)
        if isinstance(value, float):
            assert math.isfinite(value), (item.name, result)


@SETTINGS
@given(pairs(), RATES)
def test_sway_measures_never_fail(trace: tuple[np.ndarray, np.ndarray], fs: float) -> None:
    ap, ml = trace
    for method in ("f", "chi2"):
        ellipse = sway.prediction_ellipse(ap, ml, method=method, unit="mm")
        _check_optional_numbers(ellipse)
        _check_metric(ellipse.metric())
        assert (ellipse.area is None) == (ellipse.semi_major is None)
    _check_metric(sway.path_length(ap, ml, unit="mm"))
    _check_metric(sway.mean_velocity(ap, ml, fs, unit="mm"))
    _check_metric(sway.mean_velocity(ap, ml, fs, unit="mm", divisor="samples"))
    _check_metric(sway.rms_about_mean(ap, unit="mm"))
    _check_metric(sway.value_range(ml, unit="mm"))
    _check_metric(sway.jerk(ap, ml, fs))
    band = (0.15, min(5.0, fs / 2))
    spectrum = sway.power_frequencies(ap, ml, fs, band_hz=band)
    _check_optional_numbers(spectrum)
    for metric in spectrum.metrics().values():
        _check_metric(metric)
    _check_metric(sway.mean_power_frequency(ap, ml, fs))


@SETTINGS
@given(pairs(), RATES)
def test_board_measures_never_fail(trace: tuple[np.ndarray, np.ndarray], fs: float) -> None:
    pitch, roll = trace
    _check_metric(board.stability_index(pitch, roll))
    _check_metric(board.ap_stability_index(pitch))
    _check_metric(board.ml_stability_index(roll))
    _check_metric(board.time_in_zone(pitch, roll))
    contacts = board.detect_edge_contacts(pitch, roll, fs, max_tilt_deg=15.0)
    _check_metric(contacts.metric())


@SETTINGS
@given(signals(), RATES)
def test_lowpass_keeps_gaps_and_filters_every_long_segment(x: np.ndarray, fs: float) -> None:
    y = preprocess.lowpass(x, fs, 0.2 * fs)
    assert y.shape == x.shape
    assert np.all(np.isnan(y[np.isnan(x)]))
    for segment in preprocess.finite_segments(x):
        long_enough = segment.stop - segment.start >= preprocess.lowpass_min_samples()
        assert np.all(np.isfinite(y[segment])) == long_enough or not long_enough
        if not long_enough:
            assert np.all(np.isnan(y[segment]))
    detrended = preprocess.detrend_linear(x)
    assert np.array_equal(np.isnan(detrended), np.isnan(x))


@SETTINGS
@given(signals(), st.integers(0, 2**32 - 1), st.floats(0.05, 0.5))
def test_resampling_never_bridges_long_gaps(x: np.ndarray, seed: int, max_gap_s: float) -> None:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(0.02, size=x.size) + 1e-4)
    out = preprocess.resample_uniform(t, x, fs_hz=100.0, max_gap_s=max_gap_s)
    assert out.values.shape == out.time_s.shape
    assert out.time_s.size == 0 or np.all(np.isfinite(out.time_s))
    for start, end in out.gaps:
        assert end - start > max_gap_s
        assert np.all(np.isnan(out.values[(out.time_s > start) & (out.time_s < end)]))
    valid_t = t[np.isfinite(x)]
    if valid_t.size:
        # every finite output lies within max_gap_s of a valid input on each side
        finite_t = out.time_s[np.isfinite(out.values)]
        after = np.searchsorted(valid_t, finite_t - 1e-9)
        before = np.clip(after - 1, 0, None)
        after = np.clip(after, 0, valid_t.size - 1)
        span = valid_t[after] - valid_t[before]
        assert np.all(span <= max_gap_s + 1e-9)
