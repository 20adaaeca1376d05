"""`balancelab import` / `analyze` on files laid out as real exporters write them.

Each fixture copies a real export's layout (header lines, delimiters, units), not its data;
the test says where that layout was seen.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from balancelab.cli import main
from balancelab.cli.common import FolderReport
from balancelab.engine.jobs import FileImport, StartFrom
from balancelab.formats.bids_reader import read_session
from tests.formats.test_import_phyphox import java_sci, phyphox_files, write_folder
from tests.formats.test_import_sensorlogger import sensorlogger_files
from tests.support import SHARED_DATA

MT_COLUMNS = (
    "time=SampleTimeFine,acc_x=Acc_X,acc_y=Acc_Y,acc_z=Acc_Z,gyr_x=Gyr_X,gyr_y=Gyr_Y,"
    "gyr_z=Gyr_Z,time_units=100us,acc_units=m/s^2,gyr_units=rad/s"
)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def imu_rows(n: int, gravity: bool, seed: int = 3) -> np.ndarray:
    """n samples of x/y/z acceleration (m/s^2), with 9.81 on z when `gravity`."""
    xyz = np.random.default_rng(seed).normal(0.0, 0.8, (n, 3))
    xyz[:, 2] += 9.81 if gravity else 0.0
    return xyz


def phyphox_sensor_csv(gravity: bool) -> str:
    """A phyphox multi-sensor table with the short headers `"X (m/s^2)"`, as in the
    `Linear Accelerometer.csv` of github.com/sannatikk/walking-data-analysis."""
    time_s = 0.008126 + 0.009933 * np.arange(400)
    lines = ['"Time (s)","X (m/s^2)","Y (m/s^2)","Z (m/s^2)"']
    for t, row in zip(time_s, imu_rows(400, gravity), strict=True):
        lines.append(",".join(java_sci(v) for v in (t, *row)))
    return "\n".join(lines) + "\n"


def mt_manager_txt() -> str:
    """An Xsens MT Manager export: five `//` lines, then tab-separated columns with empty
    cells, as OpenSim's OpenSense example `MT_012005D6_009-001_00B421E6.txt` (copied in
    github.com/Allwillcome/XsensDot2Mtw4OpenSense) has them."""
    head = [
        "// Start Time: Unknown",
        "// Update Rate: 100.0Hz",
        "// Filter Profile: human (46.1)",
        "// Option Flags: AHS Disabled ICC Disabled ",
        "// Firmware Version: 4.0.2",
        "PacketCounter\tSampleTimeFine\tUTC_Nano\tUTC_Year\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y"
        "\tGyr_Z",
    ]
    rows = [
        f"{472 + i:05d}\t{1234500 + 100 * i}\t\t\t{a[0]:.6f}\t{a[1]:.6f}\t{a[2]:.6f}"
        f"\t0.010000\t-0.020000\t{0.001 * i:.6f}"
        for i, a in enumerate(imu_rows(300, gravity=True))
    ]
    return "\n".join(head + rows) + "\n"


def xsens_dot_csv() -> str:
    """An Xsens DOT app export: `sep=,`, device lines, a blank line, then the columns, as in
    `bei_D4CA6EF17860_20210830_170505.csv` of github.com/Allwillcome/XsensDot2Mtw4OpenSense."""
    head = [
        "sep=,",
        "DeviceTag:,bei",
        "FirmwareVersion:,1.6.0",
        "AppVersion:,2021.0",
        "StartTime: ,2021-08-30_17:05:05_000 GMT+8",
        "© Xsens Technologies B. V. 2005-2021",
        "",
        "PacketCounter,SampleTimeFine,Euler_X,Euler_Y,Euler_Z,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z",
    ]
    rows = [
        f"{i},{2974023062 + 8333 * i},179.9,-0.25,-136.18,{a[0]:.14f},{a[1]:.14f},{-a[2]:.14f},"
        f"90.0,-45.0,{i * 0.5:.14f}"
        for i, a in enumerate(imu_rows(240, gravity=True))
    ]
    return "\n".join(head + rows) + "\n"


def shimmer_csv() -> str:
    """A Shimmer Consensys CSV: `"sep=\\t"`, names, the CAL row, units (m/(s^2), ms), every
    row ending in the separator; names, units and the sep line as in hpi-dhc/devicely's
    `tests/Shimmer_test_data/read_test_data.csv`, the CAL row as Consensys adds it."""
    names = ["Timestamp_Unix_CAL", "Accel_LN_X_CAL", "Accel_LN_Y_CAL", "Accel_LN_Z_CAL"]
    lines = [
        '"sep=\t"',
        "".join(f"Shimmer_40AC_{n}\t" for n in names),
        "CAL\t" * 4,
        "ms\t" + "m/(s^2)\t" * 3,
    ]
    for i, a in enumerate(imu_rows(200, gravity=True)):
        lines.append(f"{1.595933810034e12 + 19.53125 * i:.12E}\t{a[1]}\t{a[2]}\t{a[0]}\t")
    return "\n".join(lines) + "\n"


def test_phyphox_linear_accelerometer_csv_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "Linear Accelerometer.csv"
    source.write_text(phyphox_sensor_csv(gravity=False), encoding="utf-8")
    data = tmp_path / "data"
    argv = ["import", str(source), "--athlete", "ana01", "--data", str(data)]
    code, _, err = run_cli([*argv, "--trial-type", "single_leg_hold"], capsys)
    assert code == 2
    assert "Linear Accelerometer.csv" in err and "without gravity" in err
    assert "'Acceleration with g'" in err and "Traceback" not in err
    assert not (data / "sub-ana01").exists()


def test_acceleration_without_gravity_is_refused_by_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same linear data under a neutral name: its mean magnitude is far below g."""
    folder = tmp_path / "export"
    files = phyphox_files(gyro=False) | {"Accelerometer.csv": phyphox_sensor_csv(False)}
    write_folder(folder, files)
    data = tmp_path / "data"
    code, _, err = run_cli(
        ["import", str(folder), "--athlete", "ana01", "--data", str(data), "--trial-type",
         "single_leg_hold"],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "Accelerometer.csv" in err and "averages 1." in err and "without gravity" in err
    assert not (data / "sub-ana01").exists()


def test_linear_table_beside_one_with_gravity_stores_the_one_with_gravity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export"
    files = phyphox_files(gyro=False)
    files |= {
        "Linear Accelerometer.csv": phyphox_sensor_csv(False),
        "Accelerometer.csv": phyphox_sensor_csv(True),
    }
    write_folder(folder, files)
    data = tmp_path / "data"
    code, out, err = run_cli(
        ["import", str(folder), "--athlete", "ana01", "--data", str(data), "--trial-type",
         "single_leg_hold"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "time from the file's own clock" in out
    (recording,) = read_session(next((data / "sub-ana01").glob("ses-*"))).recordings
    np.testing.assert_allclose(recording.values, imu_rows(400, True), atol=1e-8)


def test_xsens_mt_manager_export_is_read_with_the_options_the_error_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "MT_012005D6_009-001_00B421E6.txt"
    source.write_text(mt_manager_txt(), encoding="utf-8")
    data = tmp_path / "data"
    argv = ["import", str(source), "--athlete", "a1", "--data", str(data)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "cannot tell which app" in err
    assert "--columns time=SampleTimeFine,acc_x=Acc_X,acc_y=Acc_Y,acc_z=Acc_Z" in err
    assert "--skip-rows 5" in err
    argv += [
        "--columns",
        MT_COLUMNS,
        "--tracked-point",
        "lowback",
        "--trial-type",
        "single_leg_hold",
    ]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "line 1" in err and "add --skip-rows 5" in err
    code, _, err = run_cli([*argv, "--skip-rows", "5"], capsys)
    assert code == 0, err
    (recording,) = read_session(next((data / "sub-a1").glob("ses-*"))).recordings
    np.testing.assert_allclose(np.diff(recording.time_s), 0.01, rtol=1e-9)  # 100 ticks of 100 us
    np.testing.assert_allclose(
        recording.channel("lowback_acc_z"), imu_rows(300, True)[:, 2], atol=1e-6
    )
    np.testing.assert_allclose(recording.channel("lowback_gyr_y"), -0.02)


def test_xsens_dot_export_with_device_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bei_D4CA6EF17860_20210830_170505.csv"
    source.write_text(xsens_dot_csv(), encoding="utf-8")
    columns = (
        "time=SampleTimeFine,acc_x=Acc_X,acc_y=Acc_Y,acc_z=Acc_Z,gyr_x=Gyr_X,gyr_y=Gyr_Y,"
        "gyr_z=Gyr_Z,time_units=us,acc_units=m/s^2,gyr_units=deg/s"
    )
    argv = ["import", str(source), "--athlete", "a1", "--data", str(tmp_path / "d"), "--columns",
            columns, "--tracked-point", "board", "--trial-type", "single_leg_hold"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "seem to be on line 8" in err and "add --skip-rows 7" in err
    code, _, err = run_cli([*argv, "--skip-rows", "7"], capsys)
    assert code == 0, err
    (recording,) = read_session(next((tmp_path / "d" / "sub-a1").glob("ses-*"))).recordings
    np.testing.assert_allclose(recording.channel("board_gyr_x"), np.pi / 2, rtol=1e-9)
    np.testing.assert_allclose(np.diff(recording.time_s), 0.008333, rtol=1e-9)


def test_shimmer_consensys_three_row_header_and_its_own_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "shimmer_40AC_Session1_Calibrated_PC.csv"
    source.write_text(shimmer_csv(), encoding="utf-8")
    columns = (
        "time=Shimmer_40AC_Timestamp_Unix_CAL,acc_x=Shimmer_40AC_Accel_LN_Z_CAL,"
        "acc_y=Shimmer_40AC_Accel_LN_X_CAL,acc_z=Shimmer_40AC_Accel_LN_Y_CAL,"
        "time_units=ms,acc_units=m/(s^2)"
    )
    data = tmp_path / "data"
    argv = ["import", str(source), "--athlete", "a1", "--data", str(data), "--columns", columns,
            "--tracked-point", "lowback", "--trial-type", "single_leg_hold"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "line 3" in err and "'CAL'" in err and "add --header-rows 3" in err
    code, out, err = run_cli([*argv, "--header-rows", "3"], capsys)
    assert code == 0, err
    assert "time from the file's own clock" in out
    session = read_session(data / "sub-a1" / "ses-20200728T105650")
    assert session.start_utc == datetime(2020, 7, 28, 10, 56, 50, tzinfo=UTC)
    np.testing.assert_allclose(
        session.recordings[0].channel("lowback_acc_z"), imu_rows(200, True)[:, 2], rtol=1e-12
    )


def test_decimal_option_reads_quoted_decimal_commas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A comma-separated table with quoted decimal-comma cells, as a spreadsheet in a
    decimal-comma locale saves it; detection takes the comma for the delimiter only."""
    source = tmp_path / "board.csv"
    rows = [
        f'"{i * 0.01:.2f}","0,10","-0,20","9,{80 + i % 3}"'.replace(".", ",") for i in range(50)
    ]
    source.write_text('"t","ax","ay","az"\n' + "\n".join(rows) + "\n", encoding="utf-8")
    argv = ["import", str(source), "--athlete", "a1", "--data", str(tmp_path / "d"), "--columns",
            "time=t,acc_x=ax,acc_y=ay,acc_z=az,time_units=s,acc_units=m/s^2", "--tracked-point",
            "board", "--trial-type", "single_leg_hold", "--delimiter", "comma"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "line 2" in err and "'0,00'" in err and "not a number" in err
    code, _, err = run_cli([*argv, "--decimal", ","], capsys)
    assert code == 0, err
    (recording,) = read_session(next((tmp_path / "d" / "sub-a1").glob("ses-*"))).recordings
    np.testing.assert_allclose(recording.channel("board_acc_y"), -0.2)
    np.testing.assert_allclose(recording.time_s[-1] - recording.time_s[0], 0.49)


@pytest.mark.parametrize("app", ["phyphox", "sensorlogger"])
def test_analyze_accepts_an_unzipped_export_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], app: str
) -> None:
    files = phyphox_files() if app == "phyphox" else sensorlogger_files()
    folder = write_folder(tmp_path / "export", files)
    code, out, err = run_cli(
        ["analyze", str(folder), "--json", "--trial-type", "single_leg_hold", "--side", "left"],
        capsys,
    )
    assert code == 0, err
    assert '"side": "left"' in out and '"trial_type": "single_leg_hold"' in out
    code, _, err = run_cli(["analyze", str(folder)], capsys)
    assert code == 2 and "holds no trials to analyse" in err
    assert f"balancelab analyze {folder} --trial-type single_leg_hold" in err


def test_reimport_names_start_and_the_first_free_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "BDS00001.txt"
    shutil.copy(SHARED_DATA / "bds" / "BDS00001.txt", source)
    os.utime(source, (1_700_000_000, 1_700_000_000))  # 2023-11-14T22:13:20Z
    argv = ["import", str(source), "--athlete", "bds1", "--data", str(tmp_path / "d"),
            "--trial-type", "double_leg_hold"]  # fmt: skip
    code, out, _ = run_cli(argv, capsys)
    assert code == 0 and "time from the file's modification time" in out
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "already exists" in err
    assert "--start 2023-11-14T22:13:21" in err and "Traceback" not in err
    code, _, err = run_cli([*argv, "--start", "2023-11-14T22:13:21"], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "d" / "sub-bds1").glob("ses-*"))) == 2


def test_folder_of_force_plate_files_one_session_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bds"
    folder.mkdir()
    for name in ("BDS00001.txt", "BDS00002.txt", "BDS00003.txt"):
        shutil.copy(SHARED_DATA / "bds" / name, folder / name)
        os.utime(folder / name, (1_700_000_000, 1_700_000_000))  # one unzip, one mtime
    text = (SHARED_DATA / "bds" / "BDS00004.txt").read_text(encoding="ascii").splitlines()
    text[40] = text[40].rsplit("\t", 1)[0] + "\tabc"  # COPy[cm] of line 41
    (folder / "BDS00004.txt").write_text("\n".join(text) + "\n", encoding="ascii")
    data = tmp_path / "data"
    argv = ["import", str(folder), "--athlete", "bds1", "--data", str(data)]
    code, out, err = run_cli([*argv, "--trial-type", "double_leg_hold"], capsys)
    assert code == 1
    assert "refused  BDS00004.txt, line 41: cell 'abc'" in out
    labels = ["20231114T221320", "20231114T221321", "20231114T221322"]
    for name, label in zip(("BDS00001.txt", "BDS00002.txt", "BDS00003.txt"), labels, strict=True):
        assert f"imported {name} as sub-bds1/ses-{label}" in out
        assert read_session(data / "sub-bds1" / f"ses-{label}").trials
    assert "3 of 4 files imported" in out
    paths = (str(folder), str(data))  # a path longer than 80 columns cannot wrap
    lines = (out + err).splitlines()
    assert [line for line in lines if len(line) > 80 and line.strip() not in paths] == []
    code, out, err = run_cli([*argv, "--trial-type", "double_leg_hold"], capsys)
    assert code == 2 and "0 of 4 files imported" in out and "already exists" in out
    assert "--start" in err


def test_progress_bar_only_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    done = FileImport(tmp_path / "a.txt", tmp_path / "sub-x" / "ses-1", StartFrom.GIVEN)
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        report = FolderReport(tmp_path, progress=stream)
        report.on_file(1, 2, done)
        report.on_file(2, 2, done)
    assert "[##########..........] 1/2 files" in terminal.getvalue()
    assert terminal.getvalue().endswith("[####################] 2/2 files\n")
    assert log.getvalue() == ""
    out = capsys.readouterr().out
    assert out.count("imported a.txt as sub-x/ses-1 (time from the time given)") == 4


def test_import_without_trials_says_so_with_the_command_that_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "BDS00010.txt"
    shutil.copy(SHARED_DATA / "bds" / "BDS00010.txt", source)
    data = tmp_path / "data"
    code, _, err = run_cli(
        ["import", str(source), "--athlete", "bds1", "--data", str(data)], capsys
    )
    assert code == 2 and "holds no trials" in err
    assert not (data / "sub-bds1").exists()
    command = err.split("Store each whole file as one trial: ")[1].split(" (add --side")[0]
    assert command == shlex.join(
        ["balancelab", "import", str(source), "--athlete", "bds1", "--data", str(data),
         "--trial-type", "single_leg_hold"]
    )  # fmt: skip
    code, _, err = run_cli(shlex.split(command)[1:], capsys)
    assert code == 0, err
    (trial,) = read_session(next((data / "sub-bds1").glob("ses-*"))).trials
    assert trial.trial_type == "single_leg_hold"


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ("time=t,acc_x=ax,time_units=s", "add acc_units=<unit> with <unit> one of m/s^2, g, mg"),
        ("acc_x=ax,acc_units=g", "names no time column"),
        ("time=t,acc_x,time_units=s", "'acc_x' is not key=value"),
        ("time=t,speed_x=v,time_units=s,speed_units=m/s", "'speed', which is not a quantity"),
    ],
)
def test_columns_mistakes_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: str, expected: str
) -> None:
    source = tmp_path / "g.csv"
    source.write_text("t,ax\n0,1\n1,1\n", encoding="utf-8")
    argv = ["import", str(source), "--athlete", "a1", "--data", str(tmp_path / "d"),
            "--columns", columns, "--tracked-point", "board"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()
