"""phyphox CSV export import, on files laid out as phyphox-android's DataExport.java writes them."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError
from balancelab.formats.import_phyphox import import_phyphox
from balancelab.model import UNKNOWN_START_UTC

START_EPOCH_S = 1_700_000_000.123
ACC_HEADERS = {
    "long": ("Acceleration x (m/s^2)", "Acceleration y (m/s^2)", "Acceleration z (m/s^2)"),
    "short": ("X (m/s^2)", "Y (m/s^2)", "Z (m/s^2)"),
    "linear": (
        "Linear Acceleration x (m/s^2)",
        "Linear Acceleration y (m/s^2)",
        "Linear Acceleration z (m/s^2)",
    ),
}
GYR_HEADERS = ("Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)")
GAP_S = (2.0, 2.5)


def java_sci(value: float, decimal: str = ".") -> str:
    """A number as Java's DecimalFormat("0.000000000E0") prints it (phyphox's export format)."""
    if np.isnan(value):
        return "NaN"
    mantissa, exponent = f"{value:.9E}".split("E")
    return f"{mantissa}E{int(exponent)}".replace(".", decimal)


def acc_samples() -> tuple[np.ndarray, np.ndarray]:
    """Irregular ~200 Hz accelerometer times from 0.0094 s and values with gravity on z."""
    rng = np.random.default_rng(1)
    time_s = 0.0094 + np.cumsum(rng.uniform(0.0045, 0.0055, 1200))
    values = np.column_stack(
        [0.1 + 0.01 * np.sin(time_s), -0.2 + 0.0 * time_s, 9.81 + 0.02 * np.cos(time_s)]
    )
    return time_s, values


def gyr_samples() -> tuple[np.ndarray, np.ndarray]:
    """100 Hz gyroscope from 0.5 s to 5.0 s, missing GAP_S; values linear in time."""
    time_s = np.round(np.arange(0.5, 5.0, 0.01), 6)
    time_s = time_s[(time_s <= GAP_S[0]) | (time_s >= GAP_S[1])]
    return time_s, gyr_truth(time_s)


def gyr_truth(time_s: np.ndarray) -> np.ndarray:
    return np.column_stack([0.5 * time_s, -0.25 * time_s, np.full_like(time_s, 0.125)])


def csv_text(header: tuple[str, ...], columns: np.ndarray, sep: str, decimal: str) -> str:
    lines = [sep.join(f'"{h}"' for h in header)]
    lines += [sep.join(java_sci(v, decimal) for v in row) for row in columns]
    return "\n".join(lines) + "\n"


def meta_files(sep: str, decimal: str) -> dict[str, str]:
    device = (
        f'"property"{sep}"value"\n"version"{sep}"1.1.16"\n"deviceModel"{sep}"Pixel 5"\n'
        f'"deviceBrand"{sep}"google"\n"deviceManufacturer"{sep}"Google"\n'
    )
    system = f"{START_EPOCH_S:.3f}".replace(".", decimal)
    time = (
        f'"event"{sep}"experiment time"{sep}"system time"{sep}"system time text"\n'
        f'"START"{sep}{java_sci(0.0, decimal)}{sep}{system}{sep}'
        '"2023-11-14 22:13:20.123 UTC+00:00"\n'
    )
    return {"meta/device.csv": device, "meta/time.csv": time}


def phyphox_files(
    *, sep: str = ",", decimal: str = ".", style: str = "long", gyro: bool = True
) -> dict[str, str]:
    """Members of a multi-sensor phyphox export (Accelerometer.csv, Gyroscope.csv, meta/)."""
    t_acc, acc = acc_samples()
    files = {
        "Accelerometer.csv": csv_text(
            ("Time (s)", *ACC_HEADERS[style]), np.column_stack([t_acc, acc]), sep, decimal
        )
    }
    if gyro:
        t_gyr, gyr = gyr_samples()
        files["Gyroscope.csv"] = csv_text(
            ("Time (s)", *GYR_HEADERS), np.column_stack([t_gyr, gyr]), sep, decimal
        )
    return files | meta_files(sep, decimal)


def write_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def write_folder(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("sep", "decimal"), [(",", "."), ("\t", "."), (";", "."), ("\t", ","), (";", ",")]
)
def test_zip_in_every_export_format_merges_acc_and_gyro(
    tmp_path: Path, sep: str, decimal: str
) -> None:
    path = write_zip(tmp_path / "export.zip", phyphox_files(sep=sep, decimal=decimal))
    rec = import_phyphox(path, athlete="ana01")
    t_acc, acc = acc_samples()
    np.testing.assert_allclose(rec.time_s, t_acc, rtol=1e-8)
    np.testing.assert_allclose(rec.values[:, :3], acc, rtol=1e-8)
    assert rec.channel_names[:3] == ("sternum_acc_x", "sternum_acc_y", "sternum_acc_z")
    assert rec.channel_names[3:] == ("sternum_gyr_x", "sternum_gyr_y", "sternum_gyr_z")
    assert rec.tracksys == "phone"
    assert rec.start_utc == datetime.fromtimestamp(START_EPOCH_S, tz=UTC)
    assert (rec.device.manufacturer, rec.device.model) == ("Google", "Pixel 5")
    # The median interval of the written times, rounded to 0.01 Hz as the importer documents.
    assert rec.nominal_fs_hz == round(1 / float(np.median(np.diff(t_acc))), 2)


def test_gyro_is_interpolated_only_within_its_span_and_not_across_gaps(tmp_path: Path) -> None:
    rec = import_phyphox(write_zip(tmp_path / "e.zip", phyphox_files()))
    gyr = rec.values[:, 3:]
    t = rec.time_s
    outside = (t < 0.5) | (t > 4.99)
    in_gap = (t > GAP_S[0]) & (t < GAP_S[1])
    covered = ~outside & ~in_gap
    assert np.isnan(gyr[outside]).all()
    assert np.isnan(gyr[in_gap]).all()
    np.testing.assert_allclose(gyr[covered], gyr_truth(t[covered]), atol=1e-8)
    assert rec.lost_samples == int(np.count_nonzero(outside | in_gap))


def test_unzipped_folder_and_short_headers(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "export", phyphox_files(style="short", gyro=False))
    rec = import_phyphox(folder, tracked_point="lowback", tracksys="pixel5")
    assert rec.channel_names == ("lowback_acc_x", "lowback_acc_y", "lowback_acc_z")
    assert rec.tracksys == "pixel5"
    np.testing.assert_allclose(rec.values, acc_samples()[1], rtol=1e-8)


def test_single_raw_data_csv_without_meta(tmp_path: Path) -> None:
    files = phyphox_files()
    path = tmp_path / "Raw Data.csv"
    path.write_text(files["Accelerometer.csv"], encoding="utf-8")
    rec = import_phyphox(path)
    assert rec.values.shape == (1200, 3)
    assert rec.start_utc == UNKNOWN_START_UTC


def test_linear_acceleration_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "lin.zip", phyphox_files(style="linear"))
    with pytest.raises(FormatError, match="without gravity") as info:
        import_phyphox(path)
    assert "'Acceleration with g'" in info.value.advice


def test_missing_axis_column_is_named(tmp_path: Path) -> None:
    files = phyphox_files(gyro=False)
    t, acc = acc_samples()
    files["Accelerometer.csv"] = csv_text(
        ("Time (s)", *ACC_HEADERS["long"][:2]), np.column_stack([t, acc[:, :2]]), ",", "."
    )
    with pytest.raises(FormatError, match="axis z are missing") as info:
        import_phyphox(write_zip(tmp_path / "e.zip", files))
    assert info.value.line == 1
    assert "Accelerometer.csv" in str(info.value.path)


def test_nan_time_is_an_error_naming_the_line(tmp_path: Path) -> None:
    files = phyphox_files(gyro=False)
    lines = files["Accelerometer.csv"].splitlines()
    lines[10] = "NaN," + lines[10].split(",", 1)[1]
    files["Accelerometer.csv"] = "\n".join(lines) + "\n"
    with pytest.raises(FormatError, match="time cell") as info:
        import_phyphox(write_zip(tmp_path / "e.zip", files))
    assert info.value.line == 11


def test_zip_without_sensor_tables_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "e.zip", meta_files(",", "."))
    with pytest.raises(FormatError, match="no phyphox accelerometer"):
        import_phyphox(path)


def test_trailing_nan_padding_of_a_shorter_table_is_dropped(tmp_path: Path) -> None:
    """phyphox pads a table's shorter buffers with NaN rows at the end; they are not samples."""
    files = phyphox_files(gyro=False)
    lines = files["Accelerometer.csv"].splitlines()
    files["Accelerometer.csv"] = "\n".join([*lines, "NaN,NaN,NaN,NaN", "NaN,NaN,NaN,NaN"]) + "\n"
    rec = import_phyphox(write_zip(tmp_path / "padded.zip", files))
    assert rec.values.shape == (1200, 3)
    assert np.all(np.isfinite(rec.values))
