"""Sway measures on signals with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from balancelab.dsp import sway
from balancelab.errors import InvalidArgumentError
from balancelab.model import QualityCode

FS = 100.0


def _inside(ellipse: sway.Ellipse, centre: np.ndarray, points: np.ndarray) -> np.ndarray:
    """True for points (n, 2) inside the ellipse, using its semi-axes and orientation."""
    assert ellipse.semi_major and ellipse.semi_minor and ellipse.orientation_deg is not None
    theta = math.radians(ellipse.orientation_deg)
    d = points - centre
    u = d[:, 0] * math.cos(theta) + d[:, 1] * math.sin(theta)
    v = -d[:, 0] * math.sin(theta) + d[:, 1] * math.cos(theta)
    return np.asarray((u / ellipse.semi_major) ** 2 + (v / ellipse.semi_minor) ** 2 <= 1.0)


# ---------------------------------------------------------------- ellipse


def test_gaussian_area_matches_population_and_new_points_are_covered() -> None:
    rng = np.random.default_rng(7)
    cov = np.array([[4.0, 1.2], [1.2, 1.0]])
    n = 20_000
    sample = rng.multivariate_normal([3.0, -1.0], cov, size=n)
    ellipse = sway.prediction_ellipse(sample[:, 0], sample[:, 1], unit="mm")
    expected = math.pi * stats.chi2.ppf(0.95, 2) * math.sqrt(np.linalg.det(cov))
    # sd of ln sqrt(det S) is about 1/sqrt(n - 1) = 0.7 % for n = 20 000; allow 4 sd.
    assert ellipse.area == pytest.approx(expected, rel=4 / math.sqrt(n - 1))
    # orientation of the population major axis
    _, vectors = np.linalg.eigh(cov)
    true_deg = math.degrees(math.atan2(vectors[1, 1], vectors[0, 1]))
    true_deg = true_deg - 180 if true_deg > 90 else true_deg + 180 if true_deg <= -90 else true_deg
    assert ellipse.orientation_deg == pytest.approx(true_deg, abs=1.0)
    # a prediction ellipse holds 95 % of new points: binomial sd 0.15 % for 20 000 points.
    fresh = rng.multivariate_normal([3.0, -1.0], cov, size=n)
    coverage = float(np.mean(_inside(ellipse, sample.mean(axis=0), fresh)))
    assert coverage == pytest.approx(0.95, abs=0.01)


def test_f_method_is_exact_for_small_samples_and_chi2_undercovers() -> None:
    """For n = 10 the F-based ellipse covers a new point 95 % of the time; χ² about 85 %."""
    rng = np.random.default_rng(11)
    hits = {"f": 0, "chi2": 0}
    replicates = 4000
    for _ in range(replicates):
        data = rng.normal(size=(11, 2)) * [2.0, 0.5]
        for method in ("f", "chi2"):
            e = sway.prediction_ellipse(data[:10, 0], data[:10, 1], method=method, unit="deg")
            hits[method] += int(_inside(e, data[:10].mean(axis=0), data[10:])[0])
    # binomial sd for 4000 replicates: 0.34 %; allow about 4 sd.
    assert hits["f"] / replicates == pytest.approx(0.95, abs=0.015)
    chi2_expected = stats.f.cdf(stats.chi2.ppf(0.95, 2) / (2 * 9 * 11 / (10 * 8)), 2, 8)
    assert hits["chi2"] / replicates == pytest.approx(chi2_expected, abs=0.02)
    assert chi2_expected < 0.87


def test_ellipse_k_values() -> None:
    n = 1000
    k_f = sway.ellipse_k(n, 0.95, "f")
    assert k_f == pytest.approx(2 * 999 * 1001 / (1000 * 998) * stats.f.ppf(0.95, 2, 998))
    assert sway.ellipse_k(n, 0.95, "chi2") == pytest.approx(5.991464547)
    assert k_f / sway.ellipse_k(n, 0.95, "chi2") == pytest.approx(1.00502, abs=1e-5)


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 90.0, 120.0, -45.0])
def test_straight_line_has_zero_area_full_path_and_its_orientation(angle_deg: float) -> None:
    s = np.linspace(-5.0, 15.0, 401)
    ap = s * math.cos(math.radians(angle_deg))
    ml = s * math.sin(math.radians(angle_deg))
    ellipse = sway.prediction_ellipse(ap, ml, unit="mm")
    assert ellipse.area is not None and ellipse.semi_major is not None
    assert ellipse.area <= 1e-9 * ellipse.semi_major**2
    expected = angle_deg - 180 if angle_deg > 90 else angle_deg
    assert ellipse.orientation_deg is not None
    assert ellipse.orientation_deg == pytest.approx(expected, abs=1e-6)
    assert sway.path_length(ap, ml, unit="mm").value == pytest.approx(20.0, rel=1e-12)


def test_constant_trace_has_zero_area_flagged_and_no_orientation() -> None:
    ellipse = sway.prediction_ellipse(np.full(50, 0.1), np.full(50, -7.3), unit="mm")
    assert ellipse.area == 0.0 and ellipse.orientation_deg is None
    assert [f.code for f in ellipse.quality] == [QualityCode.NO_VARIATION]
    assert ellipse.metric().value == 0.0


def test_ellipse_needs_three_samples() -> None:
    ellipse = sway.prediction_ellipse([1.0, 2.0], [0.0, 1.0], unit="mm")
    assert ellipse.area is None
    assert ellipse.quality[0].code == QualityCode.TOO_SHORT
    assert ellipse.metric().value is None


# ---------------------------------------------------------------- path and velocity


def test_circle_path_is_the_circumference_and_speed_is_exact() -> None:
    radius, period_s = 2.0, 4.0
    t = np.arange(int(period_s * FS) + 1) / FS  # one full turn, closing sample included
    ap = radius * np.cos(2 * np.pi * t / period_s)
    ml = radius * np.sin(2 * np.pi * t / period_s)
    chords = (t.size - 1) * 2 * radius * math.sin(math.pi / (t.size - 1))
    path = sway.path_length(ap, ml, unit="deg")
    assert path.value == pytest.approx(chords, rel=1e-12)
    assert path.value == pytest.approx(2 * math.pi * radius, rel=1e-4)
    velocity = sway.mean_velocity(ap, ml, FS, unit="deg")
    assert velocity.unit == "deg/s"
    assert velocity.value == pytest.approx(chords / period_s, rel=1e-12)
    samples = sway.mean_velocity(ap, ml, FS, unit="deg", divisor="samples")
    assert samples.value == pytest.approx(chords / (t.size / FS), rel=1e-12)


def test_rms_and_range_of_a_sine() -> None:
    t = np.arange(1000) / FS
    x = 5.0 + 3.0 * np.sin(2 * np.pi * 1.0 * t)
    assert sway.rms_about_mean(x, unit="mm").value == pytest.approx(3.0 / math.sqrt(2), rel=1e-9)
    assert sway.value_range(x, unit="mm").value == pytest.approx(6.0, rel=1e-6)
    assert sway.rms_about_mean(np.full(10, 0.1), unit="mm").value == 0.0


# ---------------------------------------------------------------- spectra


@pytest.mark.parametrize("f0", [1.0, 1.23, 0.4])
def test_sinusoid_frequencies(f0: float) -> None:
    n = 6000
    t = np.arange(n) / FS
    ap = 2.0 * np.sin(2 * np.pi * f0 * t)
    ml = np.zeros(n)
    df = FS / (n // 2)
    spectrum = sway.power_frequencies(ap, ml, FS)
    assert spectrum.quality == ()
    assert spectrum.f50_hz is not None and spectrum.f95_hz is not None
    assert abs(spectrum.f50_hz - f0) <= df + 1e-12
    # Hann main lobe: ±2 bins around f0, plus one bin of quantisation.
    assert f0 <= spectrum.f95_hz + 1e-12 and spectrum.f95_hz - f0 <= 3 * df + 1e-12
    assert spectrum.f50_ap_hz == spectrum.f50_hz and spectrum.f50_ml_hz is None
    mpf = sway.mean_power_frequency(ap, ml, FS)
    assert mpf.value == pytest.approx(f0, abs=0.25 * df)


def test_combined_mean_frequency_weights_axes_by_power() -> None:
    n = 6000
    t = np.arange(n) / FS
    ap = 1.0 * np.sin(2 * np.pi * 0.5 * t)
    ml = 2.0 * np.sin(2 * np.pi * 2.0 * t)  # four times the power of ap
    mpf = sway.mean_power_frequency(ap, ml, FS)
    assert mpf.value == pytest.approx((0.5 * 1 + 2.0 * 4) / 5, rel=1e-3)
    spectrum = sway.power_frequencies(ap, ml, FS)
    assert spectrum.f50_hz == pytest.approx(2.0, abs=FS / 3000)


def test_constant_trace_has_no_frequency() -> None:
    flat = np.full(500, 3.3)
    spectrum = sway.power_frequencies(flat, flat, FS)
    assert spectrum.f50_hz is None and spectrum.quality[0].code == QualityCode.NO_VARIATION
    assert all(m.value is None for m in spectrum.metrics().values())
    assert sway.mean_power_frequency(flat, flat, FS).value is None


def test_short_trace_has_too_few_welch_bins() -> None:
    x = np.sin(np.arange(40))
    spectrum = sway.power_frequencies(x, x, FS)  # nperseg 20: 5 Hz bins, only one in 0.15-5 Hz
    assert spectrum.f50_hz is None and spectrum.quality[0].code == QualityCode.TOO_SHORT


# ---------------------------------------------------------------- jerk


def test_jerk_of_a_sinusoid() -> None:
    """a = A sin(2πft) → ȧ² averages A²(2πf)²/2, so jerk per second = A²(2πf)²/4."""
    amplitude, f0 = 0.2, 1.5
    t = np.arange(3001) / FS
    ap = amplitude * np.sin(2 * np.pi * f0 * t)
    result = sway.jerk(ap, np.zeros_like(ap), FS)
    assert result.unit == "m^2/s^6"
    assert result.value == pytest.approx(amplitude**2 * (2 * np.pi * f0) ** 2 / 4, rel=2e-3)
    assert sway.jerk(ap, ap, FS).value == pytest.approx(2 * (result.value or 0), rel=1e-12)


# ---------------------------------------------------------------- argument errors


def test_caller_mistakes_name_the_parameter() -> None:
    x = np.zeros(10)
    with pytest.raises(InvalidArgumentError, match="ap and ml"):
        sway.path_length(x, np.zeros(9), unit="mm")
    with pytest.raises(InvalidArgumentError, match="level"):
        sway.prediction_ellipse(x, x, level=1.5, unit="mm")
    with pytest.raises(InvalidArgumentError, match="method"):
        sway.prediction_ellipse(x, x, method="normal", unit="mm")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="fs"):
        sway.mean_velocity(x, x, 0.0, unit="mm")
    with pytest.raises(InvalidArgumentError, match="divisor"):
        sway.mean_velocity(x, x, FS, unit="mm", divisor="n")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="band_hz"):
        sway.power_frequencies(x, x, FS, band_hz=(1.0, 80.0))
    with pytest.raises(InvalidArgumentError, match="unit"):
        sway.path_length(x, x, unit="")
