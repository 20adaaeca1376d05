"""import_file: detection of the file kind and routing to the right importer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError, InvalidArgumentError
from balancelab.formats.importers import ColumnMap, ImportKind, detect_kind, import_file
from tests.formats.test_import_phyphox import phyphox_files, write_folder, write_zip
from tests.formats.test_import_sensorlogger import sensorlogger_files
from tests.support import SHARED_DATA


def test_detects_each_kind(tmp_path: Path) -> None:
    phyphox = write_zip(tmp_path / "p.zip", phyphox_files())
    single = tmp_path / "Raw Data.csv"
    single.write_text(phyphox_files()["Accelerometer.csv"], encoding="utf-8")
    logger = write_folder(tmp_path / "sl", sensorlogger_files())
    generic = tmp_path / "g.csv"
    generic.write_text("t;ax\n0;1\n1;2\n", encoding="utf-8")
    assert detect_kind(phyphox) is ImportKind.PHYPHOX
    assert detect_kind(single) is ImportKind.PHYPHOX
    assert detect_kind(logger) is ImportKind.SENSOR_LOGGER
    assert detect_kind(SHARED_DATA / "bds" / "BDS00010.txt") is ImportKind.FORCEPLATE
    assert detect_kind(SHARED_DATA / "pds" / "PDS13CF1grf.txt") is ImportKind.FORCEPLATE
    with pytest.raises(FormatError, match="cannot tell which app") as info:
        detect_kind(generic)
    assert "--columns time=COLUMN,acc_x=COLUMN" in info.value.advice
    assert info.value.advice.endswith("The columns: t, ax")


def test_import_file_routes_and_applies_options(tmp_path: Path) -> None:
    (phone,) = import_file(
        write_zip(tmp_path / "p.zip", phyphox_files()), athlete="ana01", tracked_point="board"
    )
    assert phone.channel_names[0] == "board_acc_x"
    assert (phone.athlete, phone.tracksys) == ("ana01", "phone")
    (logger,) = import_file(write_zip(tmp_path / "s.zip", sensorlogger_files()), tracksys="pixel")
    assert logger.tracksys == "pixel"
    assert logger.channel_names[0] == "sternum_acc_x"
    plates = import_file(SHARED_DATA / "pds" / "PDS13OR1grf.txt", per_foot=True)
    assert [p.tracksys for p in plates] == ["forceplate", "forceplateright", "forceplateleft"]


def test_column_map_means_generic_csv(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("t;ax\n0;1\n1;2\n", encoding="utf-8")
    cmap = ColumnMap(time="t", columns={"board_acc_x": ("ax", "g")})
    (rec,) = import_file(path, column_map=cmap)
    np.testing.assert_allclose(rec.values[:, 0], [9.80665, 19.6133])
    assert rec.tracksys == "csv"
    with pytest.raises(InvalidArgumentError, match="column_map"):
        import_file(path, kind=ImportKind.CSV)


def test_folder_without_tables_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello", encoding="utf-8")
    (tmp_path / "more.md").write_text("hello", encoding="utf-8")
    with pytest.raises(FormatError, match="no CSV or TXT table"):
        import_file(tmp_path)
