"""Golden test: the published COP values of the BDS and PDS data sets on the real force-plate files.

The reference settings (science/reference_values.md §1): raw COP in cm, no filter, no detrend,
F-based 95 % prediction ellipse, velocity divided by N/fs, psd2-style mean frequency.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from balancelab.dsp import preprocess, sway
from tests.support import SHARED_DATA

FS_HZ = 100.0
REL_TOL = 1e-6
TRIALS = ("BDS00001", "BDS00010", "BDS00037", "BDS00043", "PDS13OR1", "PDS13CF1")
# reference_values.md §2: hyperellipsoid semi-axes (cm, largest first), given to 4 decimals.
SEMI_AXES_CM = {
    "BDS00001": (0.7256, 0.4144),
    "BDS00010": (1.6600, 1.2378),
    "BDS00037": (1.3581, 0.6058),
    "BDS00043": (4.6380, 3.3928),
    "PDS13OR1": (1.4875, 0.7424),
    "PDS13CF1": (2.9819, 2.2383),
}
# reference_values.md §3 (mean removed, full 0-50 Hz band): RMS, range, path, F50 and F95 per axis.
EXTENDED = {
    # name: (rms_ap, rms_ml, range_ap, range_ml, path, f50_ap, f50_ml, f95_ap, f95_ml)
    "BDS00001": (0.29631, 0.16922, 1.6760, 0.8367, 37.211, 0.13333, 0.10000, 1.20000, 0.53333),
    "BDS00010": (0.67164, 0.51364, 4.5746, 2.1217, 124.05, 0.23333, 0.16667, 1.26667, 0.80000),
    "BDS00037": (0.54612, 0.26545, 3.3646, 1.3989, 55.356, 0.23333, 0.26667, 0.60000, 0.56667),
    "BDS00043": (1.8821, 1.4014, 9.2038, 7.4738, 241.82, 0.23333, 0.13333, 0.83333, 0.53333),
    "PDS13OR1": (0.60624, 0.30539, 4.3197, 1.9110, 82.628, 0.10000, 0.20000, 0.73333, 0.80000),
    "PDS13CF1": (1.2176, 0.91401, 9.6981, 5.7302, 307.34, 0.40000, 0.33333, 1.56667, 0.63333),
}


def _published(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["Trial"]: row for row in csv.DictReader(handle, delimiter="\t")}


PUBLISHED = {
    **_published(SHARED_DATA / "bds" / "BDSinfoCOP_subset.txt"),
    **_published(SHARED_DATA / "pds" / "PDSinfoCOP_subject13.txt"),
}


def _cop_cm(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw (AP, ML) COP in cm as the authors used it."""
    if name.startswith("BDS"):
        table = np.loadtxt(SHARED_DATA / "bds" / f"{name}.txt", skiprows=1)
        return table[:, 7], table[:, 8]  # COPx = AP, COPy = ML, cm
    table = np.loadtxt(SHARED_DATA / "pds" / f"{name}grf.txt", skiprows=1)
    return table[:, 16] * 100.0, table[:, 18] * 100.0  # COPNET_X = AP, COPNET_Z = ML, m


@pytest.fixture(scope="module", params=TRIALS)
def trial(request: pytest.FixtureRequest) -> tuple[str, np.ndarray, np.ndarray]:
    name: str = request.param
    ap, ml = _cop_cm(name)
    assert ap.size == 6000
    return name, ap, ml


def _rel_error(value: float | None, reference: float) -> float:
    assert value is not None
    return abs(value - reference) / abs(reference)


def test_published_area_velocity_and_mean_frequency(
    trial: tuple[str, np.ndarray, np.ndarray],
) -> None:
    name, ap, ml = trial
    row = PUBLISHED[name]
    area = sway.prediction_ellipse(ap, ml, level=0.95, method="f", unit="cm")
    velocity = sway.mean_velocity(ap, ml, FS_HZ, unit="cm", divisor="samples")
    frequency = sway.mean_power_frequency(ap, ml, FS_HZ)
    assert area.metric().unit == "cm^2" and velocity.unit == "cm/s"
    assert _rel_error(area.area, float(row["COParea"])) < REL_TOL
    assert _rel_error(velocity.value, float(row["COPvelo"])) < REL_TOL
    assert _rel_error(frequency.value, float(row["COPmfreq"])) < REL_TOL


def test_published_semi_axes(trial: tuple[str, np.ndarray, np.ndarray]) -> None:
    name, ap, ml = trial
    ellipse = sway.prediction_ellipse(ap, ml, unit="cm")
    assert ellipse.semi_major == pytest.approx(SEMI_AXES_CM[name][0], abs=5e-5)
    assert ellipse.semi_minor == pytest.approx(SEMI_AXES_CM[name][1], abs=5e-5)


def test_default_velocity_divisor_is_elapsed_time(
    trial: tuple[str, np.ndarray, np.ndarray],
) -> None:
    name, ap, ml = trial
    elapsed = sway.mean_velocity(ap, ml, FS_HZ, unit="cm").value
    assert elapsed is not None
    assert elapsed == pytest.approx(float(PUBLISHED[name]["COPvelo"]) * 6000 / 5999, rel=1e-9)


def test_extended_reference_values(trial: tuple[str, np.ndarray, np.ndarray]) -> None:
    name, ap, ml = trial
    rms_ap, rms_ml, range_ap, range_ml, path, f50_ap, f50_ml, f95_ap, f95_ml = EXTENDED[name]
    ap0, ml0 = ap - ap.mean(), ml - ml.mean()
    assert sway.rms_about_mean(ap, unit="cm").value == pytest.approx(rms_ap, rel=5e-4)
    assert sway.rms_about_mean(ml, unit="cm").value == pytest.approx(rms_ml, rel=5e-4)
    assert sway.value_range(ap, unit="cm").value == pytest.approx(range_ap, rel=5e-4)
    assert sway.value_range(ml, unit="cm").value == pytest.approx(range_ml, rel=5e-4)
    assert sway.path_length(ap, ml, unit="cm").value == pytest.approx(path, rel=5e-4)
    spectrum = sway.power_frequencies(ap0, ml0, FS_HZ, band_hz=(0.0, FS_HZ / 2))
    assert spectrum.f50_ap_hz == pytest.approx(f50_ap, abs=1e-4)
    assert spectrum.f50_ml_hz == pytest.approx(f50_ml, abs=1e-4)
    assert spectrum.f95_ap_hz == pytest.approx(f95_ap, abs=1e-4)
    assert spectrum.f95_ml_hz == pytest.approx(f95_ml, abs=1e-4)


def test_chi2_option_matches_the_large_sample_column() -> None:
    ap, ml = _cop_cm("BDS00001")
    chi2 = sway.prediction_ellipse(ap, ml, method="chi2", unit="cm")
    assert chi2.area == pytest.approx(0.943905, rel=2e-6)


# reference_values.md §4: (file, option) -> (area95 F in cm^2, velocity N/fs in cm/s), 4 digits.
SENSITIVITY = [
    ("BDS00001", "lp10", 0.9446, 0.6109),
    ("BDS00001", "lp5", 0.9443, 0.5752),
    ("BDS00001", "detrend", 0.4655, None),
    ("BDS00001", "first20", 0.3492, 0.4977),
    ("BDS00001", "first30", 0.6714, 0.6528),
    ("BDS00043", "lp10", 49.4356, 4.0284),
    ("BDS00043", "lp5", 49.4304, 4.0044),
    ("BDS00043", "detrend", 43.8186, None),
    ("BDS00043", "first20", 25.5635, 3.7724),
    ("BDS00043", "first30", 36.7323, 3.4382),
]


@pytest.mark.parametrize(("name", "option", "area_cm2", "velocity_cm_s"), SENSITIVITY)
def test_sensitivity_options_match_reference(
    name: str, option: str, area_cm2: float, velocity_cm_s: float | None
) -> None:
    ap, ml = _cop_cm(name)
    trace = np.column_stack([ap, ml])
    if option.startswith("lp"):
        trace = preprocess.lowpass(trace, FS_HZ, float(option[2:]), order=4)
    elif option == "detrend":
        trace = preprocess.detrend_linear(trace)
    else:
        trace = trace[: int(option[5:]) * int(FS_HZ)]
    digits = 10.0 ** -(len(f"{area_cm2}".split(".")[1]))
    area = sway.prediction_ellipse(trace[:, 0], trace[:, 1], unit="cm").area
    assert area == pytest.approx(area_cm2, abs=0.5 * digits + 1e-12)
    if velocity_cm_s is not None:
        velocity = sway.mean_velocity(trace[:, 0], trace[:, 1], FS_HZ, unit="cm", divisor="samples")
        assert velocity.value == pytest.approx(velocity_cm_s, abs=0.5e-4 + 1e-12)
