"""Sensor Logger import, on files laid out as tszheichoi/awesome-sensor-logger documents them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError
from balancelab.formats.import_sensorlogger import import_sensorlogger
from tests.formats.test_import_phyphox import write_folder, write_zip

START_NS = 1_698_501_144_185_000_000
TOTAL = (0.3, -0.4, 9.79)
GRAVITY = (0.25, -0.35, 9.8)
METADATA_HEADER = (
    "version,device name,recording epoch time,recording time,recording timezone,platform,"
    "appVersion,device id,sensors,sampleRateMs,standardisation,platform version"
)


def sensor_csv(seconds: np.ndarray, xyz: np.ndarray) -> str:
    """`time,seconds_elapsed,z,y,x` rows: Unix ns and the axes in the app's z, y, x order."""
    lines = ["time,seconds_elapsed,z,y,x"]
    for s, (x, y, z) in zip(seconds, xyz, strict=True):
        lines.append(
            f"{START_NS + round(s * 1e9)},{float(s)!r},{float(z)!r},{float(y)!r},{float(x)!r}"
        )
    return "\n".join(lines) + "\n"


def metadata(platform: str, standardised: bool) -> str:
    row = (
        f"3,Kelvin's Pixel,1698501144185,2023-10-28_14-52-24,Europe/London,{platform},1.31.2,"
        f"dev42,Accelerometer|Gyroscope|TotalAcceleration|Gravity,10|10|10|10,"
        f"{str(standardised).lower()},14"
    )
    return f"{METADATA_HEADER}\n{row}\n"


def acc_seconds() -> np.ndarray:
    """~100 Hz, the first two samples buffered before the start tap (negative)."""
    return np.round(np.arange(-0.02, 3.0, 0.01) + 0.0017, 6)


def constant(seconds: np.ndarray, xyz: tuple[float, float, float]) -> np.ndarray:
    return np.tile(np.array(xyz), (seconds.size, 1))


def gyro_rows() -> tuple[np.ndarray, np.ndarray]:
    seconds = np.round(np.arange(0.0, 3.0, 0.0125), 6)
    return seconds, np.column_stack([seconds, 2 * seconds, -seconds])


def sensorlogger_files(
    *, platform: str = "android", standardised: bool = False, total: bool = True
) -> dict[str, str]:
    seconds = acc_seconds()
    linear = constant(seconds, TOTAL) - constant(seconds, GRAVITY)
    files = {
        "Accelerometer.csv": sensor_csv(seconds, linear),
        "Gravity.csv": sensor_csv(seconds, constant(seconds, GRAVITY)),
        "Gyroscope.csv": sensor_csv(*gyro_rows()),
        "Metadata.csv": metadata(platform, standardised),
    }
    if total:
        files["TotalAcceleration.csv"] = sensor_csv(seconds, constant(seconds, TOTAL))
    return files


def test_android_zip_uses_total_acceleration_and_reads_axes_by_name(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "2023-10-28_14-52-24.zip", sensorlogger_files())
    rec = import_sensorlogger(path, athlete="ana01")
    np.testing.assert_allclose(rec.time_s, acc_seconds())
    np.testing.assert_allclose(rec.values[:, :3], constant(acc_seconds(), TOTAL))
    assert rec.start_utc == datetime.fromtimestamp(START_NS // 10**9, tz=UTC) + timedelta(
        milliseconds=185
    )
    assert rec.device.model == "Kelvin's Pixel"
    assert rec.nominal_fs_hz == pytest.approx(100.0)


def test_gyro_merged_onto_acc_times(tmp_path: Path) -> None:
    rec = import_sensorlogger(write_zip(tmp_path / "s.zip", sensorlogger_files()))
    t = rec.time_s
    covered = (t >= 0.0) & (t <= gyro_rows()[0][-1])
    np.testing.assert_allclose(
        rec.values[covered, 3:], np.column_stack([t, 2 * t, -t])[covered], atol=1e-9
    )
    assert np.isnan(rec.values[~covered, 3:]).all()


@pytest.mark.parametrize(("standardised", "sign"), [(False, -1.0), (True, 1.0)])
def test_ios_acceleration_is_flipped_to_android_convention(
    tmp_path: Path, standardised: bool, sign: float
) -> None:
    files = sensorlogger_files(platform="ios", standardised=standardised)
    rec = import_sensorlogger(write_zip(tmp_path / "s.zip", files))
    np.testing.assert_allclose(rec.values[:, :3], sign * constant(acc_seconds(), TOTAL))
    np.testing.assert_allclose(
        rec.values[5, 3:], [rec.time_s[5], 2 * rec.time_s[5], -rec.time_s[5]]
    )
    assert rec.device.manufacturer == "Apple"


def test_accelerometer_plus_gravity_when_total_is_absent(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "export", sensorlogger_files(total=False))
    rec = import_sensorlogger(folder)
    np.testing.assert_allclose(rec.values[:, :3], constant(acc_seconds(), TOTAL), atol=1e-12)


def test_linear_only_is_refused(tmp_path: Path) -> None:
    files = sensorlogger_files(total=False)
    del files["Gravity.csv"]
    path = write_zip(tmp_path / "s.zip", files)
    with pytest.raises(FormatError, match="without gravity") as info:
        import_sensorlogger(path)
    assert "Total Acceleration" in info.value.advice
    assert "allow_linear" not in info.value.advice  # advice a person can act on


def test_total_acceleration_without_gravity_in_it_is_refused(tmp_path: Path) -> None:
    """A TotalAcceleration.csv whose magnitude averages near 0 is not what its name says."""
    files = sensorlogger_files()
    seconds = acc_seconds()
    files["TotalAcceleration.csv"] = sensor_csv(seconds, constant(seconds, (0.1, -0.2, 0.05)))
    with pytest.raises(FormatError, match=r"averages 0\.23 m/s\^2 .*without gravity"):
        import_sensorlogger(write_zip(tmp_path / "s.zip", files))


def test_single_gyroscope_csv(tmp_path: Path) -> None:
    path = tmp_path / "Gyroscope.csv"
    path.write_text(sensor_csv(*gyro_rows()), encoding="utf-8")
    rec = import_sensorlogger(path)
    assert rec.channel_names == ("sternum_gyr_x", "sternum_gyr_y", "sternum_gyr_z")
    np.testing.assert_allclose(rec.values[:, 0], gyro_rows()[0])


def test_duplicated_time_names_the_line(tmp_path: Path) -> None:
    files = sensorlogger_files()
    lines = files["TotalAcceleration.csv"].splitlines()
    lines.insert(8, lines[7])
    files["TotalAcceleration.csv"] = "\n".join(lines) + "\n"
    with pytest.raises(FormatError, match="repeats") as info:
        import_sensorlogger(write_zip(tmp_path / "s.zip", files))
    assert info.value.line == 9
    assert "TotalAcceleration.csv" in str(info.value.path)


def test_missing_axis_column_is_named(tmp_path: Path) -> None:
    files = sensorlogger_files()
    files["Gyroscope.csv"] = "\n".join(
        ",".join(line.split(",")[:4]) for line in files["Gyroscope.csv"].splitlines()
    )
    with pytest.raises(FormatError, match="missing column 'x'") as info:
        import_sensorlogger(write_zip(tmp_path / "s.zip", files))
    assert info.value.line == 1
