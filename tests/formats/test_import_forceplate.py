"""Force-plate COP import on the six real BDS/PDS files and on small constructed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancelab.errors import FormatError
from balancelab.formats.import_forceplate import FORCEPLATE_LAYOUTS, import_forceplate
from tests.support import SHARED_DATA

BDS_FILES = ["BDS00001.txt", "BDS00010.txt", "BDS00037.txt", "BDS00043.txt"]
PDS_FILES = ["PDS13OR1grf.txt", "PDS13CF1grf.txt"]
# file column -> (channel it feeds, factor to SI), written out independently of the importer.
# The vertical force: BDS Fz[N]; PDS lab frame Y is vertical (GRFNET_Y ~ body weight).
BDS_MAP = {
    "COPy[cm]": ("cop_pos_x", 0.01),
    "COPx[cm]": ("cop_pos_y", 0.01),
    "Fz[N]": ("cop_force_z", 1.0),
}
PDS_MAP = {
    "COPNET_Z": ("cop_pos_x", 1.0),
    "COPNET_X": ("cop_pos_y", 1.0),
    "GRFNET_Y": ("cop_force_z", 1.0),
}


def text_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows split on tabs, straight from the file's text."""
    lines = [line for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def real_cases() -> list[tuple[Path, dict[str, tuple[str, float]], str]]:
    bds = [(SHARED_DATA / "bds" / f, BDS_MAP, "Time[s]") for f in BDS_FILES]
    return bds + [(SHARED_DATA / "pds" / f, PDS_MAP, "Time") for f in PDS_FILES]


@pytest.mark.parametrize(("path", "mapping", "time_col"), real_cases(), ids=lambda v: str(v)[-16:])
def test_real_file_matches_its_text(
    path: Path, mapping: dict[str, tuple[str, float]], time_col: str
) -> None:
    header, rows = text_rows(path)
    (rec,) = import_forceplate(path, athlete="bmclab01")
    assert rec.time_s.size == len(rows)
    assert len(rows) in (6000, 6001)
    assert rec.nominal_fs_hz == 100.0
    assert rec.tracksys == "forceplate"
    assert rec.channel_names == ("cop_pos_x", "cop_pos_y", "cop_force_z")
    assert [c.units for c in rec.channels] == ["m", "m", "N"]
    assert rec.channel("cop_pos_x").size == len(rows)
    for row_index in (0, 1234, len(rows) - 1):
        row = rows[row_index]
        assert rec.time_s[row_index] == pytest.approx(float(row[header.index(time_col)]))
        for column, (channel, factor) in mapping.items():
            expected = float(row[header.index(column)]) * factor
            assert rec.channel(channel)[row_index] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", BDS_FILES)
def test_bds_starts_at_10_ms_and_cop_is_centimetre_scale_in_metres(name: str) -> None:
    (rec,) = import_forceplate(SHARED_DATA / "bds" / name)
    assert rec.time_s[0] == pytest.approx(0.010)
    assert rec.time_s[-1] == pytest.approx(60.0)
    sway_m = np.ptp(rec.values[:, :2], axis=0)
    assert np.all((sway_m > 0.002) & (sway_m < 0.2))
    assert np.all(np.abs(rec.values[:, :2]) < 0.3)
    # Standing on the plate: the vertical force is a body weight (subjects of 54-69 kg).
    assert 400 < float(np.median(rec.channel("cop_force_z"))) < 800


def test_pds_per_foot_gives_left_and_right_plates() -> None:
    source = SHARED_DATA / "pds" / "PDS13OR1grf.txt"
    recs = import_forceplate(source, per_foot=True)
    assert [r.tracksys for r in recs] == ["forceplate", "forceplateright", "forceplateleft"]
    raw = np.loadtxt(source, skiprows=1)
    # The file's columns (m, Z = medio-lateral): COPNET_Z 18, RCOP_Z 12, LCOP_Z 15.
    # The file's vertical forces (N, Y = vertical): GRFNET_Y 8, RGRF_Y 2, LGRF_Y 5.
    for rec, column, force in zip(recs, (18, 12, 15), (8, 2, 5), strict=True):
        np.testing.assert_array_equal(rec.channel("cop_pos_x"), raw[:, column])
        np.testing.assert_array_equal(rec.channel("cop_force_z"), raw[:, force])
    np.testing.assert_allclose(
        recs[1].channel("cop_force_z") + recs[2].channel("cop_force_z"),
        recs[0].channel("cop_force_z"),
        atol=1e-3,
    )
    net, right, left = (float(np.mean(r.channel("cop_pos_x"))) for r in recs)
    assert left < net < right


def test_bds_per_foot_has_only_the_net_plate() -> None:
    assert len(import_forceplate(SHARED_DATA / "bds" / "BDS00001.txt", per_foot=True)) == 1


def test_layout_table_is_explicit() -> None:
    table = {
        lay.name: (lay.time, lay.time_unit, lay.cop_unit, lay.net.ml, lay.net.ap)
        for lay in FORCEPLATE_LAYOUTS
    }
    assert table == {
        "BDS": ("Time[s]", "s", "cm", "COPy[cm]", "COPx[cm]"),
        "PDS": ("Time", "s", "m", "COPNET_Z", "COPNET_X"),
    }


def test_constructed_bds_converts_cm_and_swaps_axes(tmp_path: Path) -> None:
    path = tmp_path / "bds.txt"
    path.write_text(
        "Time[s]\tFx[N]\tCOPx[cm]\tCOPy[cm]\r\n0.010\t1\t1.5\t-2.0\r\n0.020\t1\t1.0\t\r\n",
        encoding="ascii",
    )
    (rec,) = import_forceplate(path)
    assert rec.channel_names == ("cop_pos_x", "cop_pos_y")  # no Fz[N] column: no force channel
    np.testing.assert_allclose(rec.values[0], [-0.02, 0.015])
    assert np.isnan(rec.values[1, 0])
    assert rec.lost_samples == 1


def test_constructed_bds_keeps_the_vertical_force_in_newtons(tmp_path: Path) -> None:
    path = tmp_path / "bds.txt"
    path.write_text(
        "Time[s]\tFz[N]\tCOPx[cm]\tCOPy[cm]\n0.010\t700.5\t1.5\t-2.0\n0.020\t\t1.0\t0.5\n",
        encoding="ascii",
    )
    (rec,) = import_forceplate(path)
    assert rec.channel("cop_force_z")[0] == 700.5
    assert np.isnan(rec.channel("cop_force_z")[1])
    assert rec.lost_samples == 1


def test_unknown_layout_is_refused_on_line_1(tmp_path: Path) -> None:
    path = tmp_path / "plate.txt"
    path.write_text("t\tCOP_ML\tCOP_AP\n0\t1\t2\n0.01\t1\t2\n", encoding="ascii")
    with pytest.raises(FormatError, match="not a known force-plate layout") as info:
        import_forceplate(path)
    assert info.value.line == 1
    assert info.value.path == str(path)
