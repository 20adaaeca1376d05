"""Measures of a 2-D sway trace (AP, ML) in its own unit: ellipse, path, velocity, spectra, jerk.

The trace is COP (mm), board tilt (deg) or horizontal body acceleration (m/s^2); `unit` names it
and the result units follow (science/METRICS.md). Inputs are taken as they are: no filter, no
detrend, no mean removal unless a measure defines one. A trace with NaN/inf samples or too few
samples gives a None value with a quality flag, never NaN; a constant trace gives 0 where that is
the honest answer (area, path) and None where the measure is undefined (orientation, frequencies),
with a `no_variation` flag.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, signal, stats

from balancelab.dsp.quality import as_float_array, input_flags, paired_arrays
from balancelab.dsp.results import missing, per_second_unit, squared_unit
from balancelab.errors import InvalidArgumentError
from balancelab.model import (
    FloatArray,
    Metric,
    QualityCode,
    QualityFlag,
    SettingValue,
    check_choice,
    check_int,
    check_positive,
    check_range,
    make_flag,
)

EllipseMethod = Literal["f", "chi2"]
VelocityDivisor = Literal["elapsed", "samples"]
DEFAULT_BAND_HZ = (0.15, 5.0)


# ---------------------------------------------------------------- input handling


def _is_constant(x: FloatArray) -> bool:
    """True when `x` varies by no more than rounding error of its magnitude."""
    span = float(np.ptp(x))
    return bool(span <= 64 * np.finfo(np.float64).eps * float(np.max(np.abs(x))))


def _result(value: float, unit: str, method: str, settings: dict[str, SettingValue]) -> Metric:
    """A metric of `value`, or None with `out_of_range` if the arithmetic overflowed."""
    if not math.isfinite(value):
        flag = make_flag(QualityCode.OUT_OF_RANGE, "the result overflowed")
        return missing(unit, method, settings, (flag,))
    return Metric(value, unit, method, settings)


def _path(a: FloatArray, m: FloatArray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sum(np.hypot(np.diff(a), np.diff(m))))


def _check_unit(unit: str) -> str:
    if not unit or not unit.strip():
        raise InvalidArgumentError("unit must name the trace unit, e.g. 'mm', 'deg', 'm/s^2'")
    return unit


# ---------------------------------------------------------------- prediction ellipse


@dataclass(frozen=True)
class Ellipse:
    """The prediction ellipse of a 2-D trace, in the trace unit.

    `orientation_deg` is the angle of the major axis from +AP towards +ML, in (-90, 90]; None
    when the scatter has no major axis (isotropic or constant). `k` is the squared scale factor:
    semi-axes are sqrt(k·λ) of the ddof=1 covariance eigenvalues λ.
    """

    area: float | None
    semi_major: float | None
    semi_minor: float | None
    orientation_deg: float | None
    k: float | None
    n: int
    level: float
    method: str
    unit: str
    quality: tuple[QualityFlag, ...] = ()

    def metric(self) -> Metric:
        """`sway_area_95`-style metric: the area, with the axes and orientation as details."""
        settings: dict[str, SettingValue] = {"level": self.level, "n": self.n, "ddof": 1}
        method = f"prediction_ellipse_{self.method}"
        unit = squared_unit(self.unit)
        if self.area is None:
            return missing(unit, method, settings, self.quality)
        details = {
            name: value
            for name, value in (
                ("semi_major", self.semi_major),
                ("semi_minor", self.semi_minor),
                ("orientation_deg", self.orientation_deg),
                ("k", self.k),
            )
            if value is not None
        }
        return Metric(self.area, unit, method, settings, self.quality, details)


def ellipse_k(n: int, level: float = 0.95, method: EllipseMethod = "f") -> float:
    """Squared scale k of the prediction ellipse for n samples (semi-axis = sqrt(k·λ)).

    "f": 2(n−1)(n+1)/(n(n−2))·F⁻¹(level; 2, n−2), exact for a bivariate normal sample (Chew 1966;
    Duarte's `hyperellipsoid`). "chi2": χ²⁻¹(level; 2), the large-n limit (5.991 at 0.95).
    """
    check_choice("method", method, ("f", "chi2"))
    check_range("level", level, 0.0, 1.0, inclusive=(False, False))
    if method == "chi2":
        return float(stats.chi2.ppf(level, 2))
    check_int("n", n, minimum=3)
    return float(2 * (n - 1) * (n + 1) / (n * (n - 2)) * stats.f.ppf(level, 2, n - 2))


def prediction_ellipse(
    ap: ArrayLike,
    ml: ArrayLike,
    *,
    level: float = 0.95,
    method: EllipseMethod = "f",
    unit: str,
) -> Ellipse:
    """The `level` prediction ellipse (not the confidence ellipse of the mean) of (ap, ml).

    Area = π·k·sqrt(det S), S the ddof=1 sample covariance. Needs at least 3 samples.
    """
    a, m = paired_arrays("ap", ap, "ml", ml)
    _check_unit(unit)
    k_value = ellipse_k(max(a.size, 3), level, method)
    flags = input_flags(a, m, min_n=3)
    if flags:
        return Ellipse(None, None, None, None, None, a.size, level, method, unit, flags)
    if _is_constant(a) and _is_constant(m):
        flag = make_flag(QualityCode.NO_VARIATION, "both axes constant")
        return Ellipse(0.0, 0.0, 0.0, None, k_value, a.size, level, method, unit, (flag,))
    eigenvalues, vectors = np.linalg.eigh(np.cov(np.vstack([a, m]), ddof=1))
    minor_var, major_var = (max(float(v), 0.0) for v in eigenvalues)
    semi_major = math.sqrt(k_value * major_var)
    semi_minor = math.sqrt(k_value * minor_var)
    orientation = None
    if major_var - minor_var > 1e-9 * major_var:
        angle = math.degrees(math.atan2(vectors[1, 1], vectors[0, 1]))
        orientation = angle - 180.0 if angle > 90.0 else angle + 180.0 if angle <= -90.0 else angle
    area = math.pi * semi_major * semi_minor
    return Ellipse(area, semi_major, semi_minor, orientation, k_value, a.size, level, method, unit)


# ---------------------------------------------------------------- path and velocity


def path_length(ap: ArrayLike, ml: ArrayLike, *, unit: str) -> Metric:
    """Total excursion Σ sqrt(Δap² + Δml²), in the trace unit. Needs at least 2 samples."""
    a, m = paired_arrays("ap", ap, "ml", ml)
    _check_unit(unit)
    settings: dict[str, SettingValue] = {"n": a.size}
    flags = input_flags(a, m, min_n=2)
    if flags:
        return missing(unit, "path_length", settings, flags)
    return _result(_path(a, m), unit, "path_length", settings)


def mean_velocity(
    ap: ArrayLike,
    ml: ArrayLike,
    fs: float,
    *,
    unit: str,
    divisor: VelocityDivisor = "elapsed",
) -> Metric:
    """Mean resultant speed: path length / duration, in trace unit per s.

    divisor="elapsed" (default): duration = (N−1)/fs, the time the path actually spans, so a
    trace moving at a constant speed gives exactly that speed. divisor="samples": duration = N/fs,
    as in the BMClab/Duarte published values (COPvelo); the two differ by N/(N−1) (0.02 % at
    N = 6000, 0.2 % at N = 500).
    """
    a, m = paired_arrays("ap", ap, "ml", ml)
    fs = check_positive("fs", fs)
    check_choice("divisor", divisor, ("elapsed", "samples"))
    unit_out = per_second_unit(_check_unit(unit))
    settings: dict[str, SettingValue] = {"n": a.size, "fs": fs, "divisor": divisor}
    flags = input_flags(a, m, min_n=2)
    if flags:
        return missing(unit_out, "mean_velocity", settings, flags)
    duration_s = (a.size - 1) / fs if divisor == "elapsed" else a.size / fs
    return _result(_path(a, m) / duration_s, unit_out, "mean_velocity", settings)


def _segment_arrays(name: str, segments: Sequence[ArrayLike]) -> list[FloatArray]:
    """Each segment as an (n, 2) AP/ML array; at least one segment."""
    arrays = [as_float_array(name, x, ndim=2) for x in segments]
    if not arrays or any(x.shape[1] != 2 for x in arrays):
        shapes = [x.shape for x in arrays]
        raise InvalidArgumentError(f"{name} must be one or more (n, 2) AP/ML arrays, got {shapes}")
    return arrays


def path_length_over(segments: Sequence[ArrayLike], *, unit: str) -> Metric:
    """Path length of a trace split by gaps: Σ over segments of Σ sqrt(Δap² + Δml²) within each
    (n_i, 2) segment, never across a gap; in the trace unit."""
    arrays = _segment_arrays("segments", segments)
    _check_unit(unit)
    settings: dict[str, SettingValue] = {"n": sum(x.shape[0] for x in arrays)}
    settings["segments"] = len(arrays)
    flags = input_flags(*(x.ravel() for x in arrays), min_n=1)
    if flags:
        return missing(unit, "path_length", settings, flags)
    path = sum(_path(x[:, 0], x[:, 1]) for x in arrays)
    return _result(path, unit, "path_length", settings)


def mean_velocity_over(segments: Sequence[ArrayLike], fs: float, *, unit: str) -> Metric:
    """Mean speed of a trace split by gaps: the summed path within segments / the covered time
    Σ (n_i − 1)/fs (the `elapsed` divisor of `mean_velocity`), in trace unit per s."""
    arrays = _segment_arrays("segments", segments)
    fs = check_positive("fs", fs)
    unit_out = per_second_unit(_check_unit(unit))
    settings: dict[str, SettingValue] = {"n": sum(x.shape[0] for x in arrays), "fs": fs}
    settings.update(divisor="elapsed", segments=len(arrays))
    covered_s = sum(x.shape[0] - 1 for x in arrays) / fs
    flags = input_flags(*(x.ravel() for x in arrays), min_n=1)
    if not flags and covered_s <= 0:
        flags = (make_flag(QualityCode.TOO_SHORT, "no segment has 2 samples"),)
    if flags:
        return missing(unit_out, "mean_velocity", settings, flags)
    path = sum(_path(x[:, 0], x[:, 1]) for x in arrays)
    return _result(path / covered_s, unit_out, "mean_velocity", settings)


def jerk_over(segments: Sequence[ArrayLike], fs: float, *, unit: str = "m/s^2") -> Metric:
    """`jerk` of an acceleration trace split by gaps: ½·fs²·mean(Δa_AP² + Δa_ML²) over the
    differences within segments (½∫ȧ²dt over the covered time), in m^2/s^6."""
    arrays = _segment_arrays("segments", segments)
    fs = check_positive("fs", fs)
    unit_out = squared_unit(per_second_unit(_check_unit(unit)))
    settings: dict[str, SettingValue] = {"fs": fs, "n": sum(x.shape[0] for x in arrays)}
    settings.update(per_second=True, segments=len(arrays))
    steps = [np.diff(x, axis=0) for x in arrays]
    flags = input_flags(*(x.ravel() for x in arrays), min_n=1)
    if not flags and sum(d.shape[0] for d in steps) == 0:
        flags = (make_flag(QualityCode.TOO_SHORT, "no segment has 2 samples"),)
    if flags:
        return missing(unit_out, "jerk_mancini_per_s", settings, flags)
    with np.errstate(over="ignore", invalid="ignore"):
        rate = float(np.mean(np.concatenate([np.sum(d**2, axis=1) for d in steps]))) * fs * fs
    return _result(0.5 * rate, unit_out, "jerk_mancini_per_s", settings)


def power_frequencies_over(
    segments: Sequence[ArrayLike],
    fs: float,
    *,
    min_segment_s: float,
    band_hz: tuple[float, float] = DEFAULT_BAND_HZ,
) -> dict[str, Metric]:
    """`f50`/`f95` of a trace split by gaps: `power_frequencies` of each (n_i, 2) segment of at
    least `min_segment_s`, averaged weighted by segment length; None (`too_short`) if none is."""
    arrays = _segment_arrays("segments", segments)
    fs = check_positive("fs", fs)
    shortest = check_positive("min_segment_s", min_segment_s)
    used = [x for x in arrays if x.shape[0] >= shortest * fs]
    found = [(x.shape[0], power_frequencies(x[:, 0], x[:, 1], fs, band_hz=band_hz)) for x in used]
    parts = [(n, p) for n, p in found if p.f50_hz is not None and p.f95_hz is not None]
    settings: dict[str, SettingValue] = {"fs": fs, "n": sum(n for n, _ in parts)}
    settings.update(segments=len(parts), min_segment_s=shortest, band_hz=band_hz)
    settings.update(window="hann", nperseg="n_i//2")
    if not parts:
        detail = f"no gap-free segment of {shortest:g} s with power in the band"
        flag = make_flag(QualityCode.TOO_SHORT, detail)
        return {k: missing("Hz", f"welch_{k}", settings, (flag,)) for k in ("f50", "f95")}
    weights = np.array([n for n, _ in parts], dtype=np.float64)
    out = {}
    for key in ("f50", "f95"):
        values = np.array([getattr(p, f"{key}_hz") for _, p in parts], dtype=np.float64)
        out[key] = Metric(
            float(np.average(values, weights=weights)), "Hz", f"welch_{key}", settings
        )
    return out


# ---------------------------------------------------------------- amplitude per axis


def rms_about_mean(x: ArrayLike, *, unit: str) -> Metric:
    """RMS about the mean (SD with ddof 0) of one axis, in the trace unit (`rms_ap`, `rms_ml`)."""
    values = as_float_array("x", x, ndim=1)
    _check_unit(unit)
    settings: dict[str, SettingValue] = {"n": values.size, "ddof": 0}
    flags = input_flags(values, min_n=1)
    if flags:
        return missing(unit, "rms_about_mean", settings, flags)
    rms = 0.0 if _is_constant(values) else float(np.std(values))
    return Metric(rms, unit, "rms_about_mean", settings)


def value_range(x: ArrayLike, *, unit: str) -> Metric:
    """max − min of one axis, in the trace unit (`range_ap`, `range_ml`)."""
    values = as_float_array("x", x, ndim=1)
    _check_unit(unit)
    settings: dict[str, SettingValue] = {"n": values.size}
    flags = input_flags(values, min_n=1)
    if flags:
        return missing(unit, "range", settings, flags)
    return Metric(float(np.ptp(values)), unit, "range", settings)


# ---------------------------------------------------------------- spectra


@dataclass(frozen=True)
class PowerFrequencies:
    """Frequencies (Hz) below which 50 % / 95 % of the Welch power in the band lies.

    The combined values use the power of the 2-D trace, P_ap + P_ml; per-axis values are None
    for an axis without power in the band.
    """

    f50_hz: float | None
    f95_hz: float | None
    f50_ap_hz: float | None
    f50_ml_hz: float | None
    f95_ap_hz: float | None
    f95_ml_hz: float | None
    settings: dict[str, SettingValue]
    quality: tuple[QualityFlag, ...] = ()

    def metrics(self) -> dict[str, Metric]:
        """The `f50` and `f95` metrics (Hz), per-axis values as details."""
        out: dict[str, Metric] = {}
        for key, value, ap, ml in (
            ("f50", self.f50_hz, self.f50_ap_hz, self.f50_ml_hz),
            ("f95", self.f95_hz, self.f95_ap_hz, self.f95_ml_hz),
        ):
            method = f"welch_{key}"
            if value is None:
                out[key] = missing("Hz", method, self.settings, self.quality)
                continue
            details = {n: v for n, v in (("ap_hz", ap), ("ml_hz", ml)) if v is not None}
            out[key] = Metric(value, "Hz", method, self.settings, self.quality, details)
        return out


def welch_psd(x: FloatArray, fs: float, nperseg: int) -> tuple[FloatArray, FloatArray]:
    """One-sided Welch PSD (unit²/Hz): Hann, noverlap = nperseg//2, nfft = nperseg, mean removed.

    `x` is (n,) or (n, k); the PSD has the frequencies along axis 0 (one column per signal).
    With the default nperseg = N//2 these are the BMClab `psd2` settings (noverlap = N/4).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        f, p = signal.welch(
            x,
            fs=fs,
            window="hann",
            nperseg=nperseg,
            noverlap=nperseg // 2,
            nfft=nperseg,
            detrend="constant",
            axis=0,
        )
    return np.asarray(f, dtype=np.float64), np.asarray(p, dtype=np.float64)


def power_frequencies(
    ap: ArrayLike,
    ml: ArrayLike,
    fs: float,
    *,
    band_hz: tuple[float, float] = DEFAULT_BAND_HZ,
    nperseg: int | None = None,
) -> PowerFrequencies:
    """F50 and F95 of the trace from Welch (Hann, nperseg = N//2, noverlap = N//4) in `band_hz`.

    Like `psd2`, each is the first frequency bin where the cumulative trapezoid power reaches
    50 % / 95 % of the band power, so the result is quantised to fs/nperseg.
    """
    a, m = paired_arrays("ap", ap, "ml", ml)
    fs, band, segment = _spectral_args(a.size, fs, band_hz, nperseg)
    settings: dict[str, SettingValue] = {
        "fs": fs,
        "n": a.size,
        "nperseg": segment,
        "noverlap": segment // 2,
        "window": "hann",
        "band_hz": band,
    }
    flags = _spectral_flags(a, m, fs, band, segment)
    if flags:
        return PowerFrequencies(None, None, None, None, None, None, settings, flags)
    f, p = welch_psd(np.column_stack([a, m]), fs, segment)
    p_ap, p_ml = p[:, 0], p[:, 1]
    inside = (f >= band[0]) & (f <= band[1])
    f, p_ap, p_ml = f[inside], p_ap[inside], p_ml[inside]
    p_ap = p_ap if not _is_constant(a) else np.zeros_like(p_ap)
    p_ml = p_ml if not _is_constant(m) else np.zeros_like(p_ml)
    if not (np.all(np.isfinite(p_ap + p_ml)) and math.isfinite(float(np.sum(p_ap + p_ml)))):
        flag = make_flag(QualityCode.OUT_OF_RANGE, "the power spectrum overflowed")
        return PowerFrequencies(None, None, None, None, None, None, settings, (flag,))
    f50 = _percent_frequency(f, p_ap + p_ml, 50.0)
    if f50 is None:
        flag = make_flag(QualityCode.NO_VARIATION, f"no power in {band[0]:g}-{band[1]:g} Hz")
        return PowerFrequencies(None, None, None, None, None, None, settings, (flag,))
    return PowerFrequencies(
        f50,
        _percent_frequency(f, p_ap + p_ml, 95.0),
        _percent_frequency(f, p_ap, 50.0),
        _percent_frequency(f, p_ml, 50.0),
        _percent_frequency(f, p_ap, 95.0),
        _percent_frequency(f, p_ml, 95.0),
        settings,
    )


def mean_power_frequency(
    ap: ArrayLike,
    ml: ArrayLike,
    fs: float,
    *,
    band_hz: tuple[float, float] | None = None,
    nperseg: int | None = None,
) -> Metric:
    """Mean power frequency (Hz) of the trace, as BMClab's COPmfreq.

    Per axis mpf = ∫f·P df / ∫P df (trapezoid, Welch as in `power_frequencies`, band default
    0…fs/2); combined (mpf_ap·ΣP_ap + mpf_ml·ΣP_ml)/(ΣP_ap + ΣP_ml) with ΣP the plain sum of
    the PSD bins in the band (this reproduces the published values).
    """
    a, m = paired_arrays("ap", ap, "ml", ml)
    fs = check_positive("fs", fs)
    fs, band, segment = _spectral_args(a.size, fs, band_hz or (0.0, fs / 2), nperseg)
    settings: dict[str, SettingValue] = {
        "fs": fs,
        "n": a.size,
        "nperseg": segment,
        "noverlap": segment // 2,
        "window": "hann",
        "band_hz": band,
    }
    flags = _spectral_flags(a, m, fs, band, segment)
    if flags:
        return missing("Hz", "welch_mpf", settings, flags)
    weighted, total = 0.0, 0.0
    for x in (a, m):
        if _is_constant(x):
            continue
        f, p = welch_psd(x, fs, segment)
        inside = (f >= band[0]) & (f <= band[1])
        f, p = f[inside], p[inside]
        with np.errstate(over="ignore", invalid="ignore"):
            area = float(integrate.trapezoid(p, f))
            if area > 0:
                weighted += float(integrate.trapezoid(f * p, f)) / area * float(np.sum(p))
                total += float(np.sum(p))
    if total == 0:
        flag = make_flag(QualityCode.NO_VARIATION, f"no power in {band[0]:g}-{band[1]:g} Hz")
        return missing("Hz", "welch_mpf", settings, (flag,))
    return _result(weighted / total, "Hz", "welch_mpf", settings)


def _spectral_args(
    n: int, fs: float, band_hz: tuple[float, float], nperseg: int | None
) -> tuple[float, tuple[float, float], int]:
    fs = check_positive("fs", fs)
    low, high = (float(v) for v in band_hz)
    if not (0 <= low < high <= fs / 2):
        raise InvalidArgumentError(
            f"band_hz must satisfy 0 <= low < high <= fs/2 = {fs / 2:g}, got {band_hz!r}"
        )
    if nperseg is None:
        return fs, (low, high), n // 2
    return fs, (low, high), check_int("nperseg", nperseg, 4, max(n, 4))


def _spectral_flags(
    a: FloatArray, m: FloatArray, fs: float, band: tuple[float, float], segment: int
) -> tuple[QualityFlag, ...]:
    flags = input_flags(a, m, min_n=8)
    if flags:
        return flags
    bins = np.arange(segment // 2 + 1) * fs / segment
    n_bins = int(np.count_nonzero((bins >= band[0]) & (bins <= band[1])))
    if segment < 4 or n_bins < 2:
        detail = f"{n_bins} Welch bin(s) of {fs / segment:.3g} Hz in the band, need 2"
        return (make_flag(QualityCode.TOO_SHORT, detail),)
    return ()


def _percent_frequency(f: FloatArray, p: FloatArray, percent: float) -> float | None:
    """First frequency where the cumulative trapezoid power reaches `percent` % of the total."""
    cumulative = np.concatenate([[0.0], np.cumsum(np.diff(f) * (p[1:] + p[:-1]) / 2)])
    total = float(cumulative[-1])
    if not total > 0:
        return None
    return float(f[int(np.argmax(cumulative >= percent / 100.0 * total))])


# ---------------------------------------------------------------- jerk


def jerk(acc_ap: ArrayLike, acc_ml: ArrayLike, fs: float, *, unit: str = "m/s^2") -> Metric:
    """Jerk per second: ½∫(ȧ_AP² + ȧ_ML²)dt / T with T = (N−1)/fs, for body acceleration.

    Discretely ½·fs²·mean(Δa_AP² + Δa_ML²); in m^2/s^6 for acceleration in m/s^2 (Mancini 2012's
    jerk in m^2/s^5 divided by the duration, so trials of different length compare). Compute it
    after the 3.5 Hz low-pass: it is very sensitive to noise.
    """
    a, m = paired_arrays("acc_ap", acc_ap, "acc_ml", acc_ml)
    fs = check_positive("fs", fs)
    _check_unit(unit)
    unit_out = squared_unit(per_second_unit(unit))
    settings: dict[str, SettingValue] = {"fs": fs, "n": a.size, "per_second": True}
    flags = input_flags(a, m, min_n=2)
    if flags:
        return missing(unit_out, "jerk_mancini_per_s", settings, flags)
    with np.errstate(over="ignore", invalid="ignore"):
        rate = float(np.mean(np.diff(a) ** 2 + np.diff(m) ** 2)) * fs * fs
    return _result(0.5 * rate, unit_out, "jerk_mancini_per_s", settings)
