"""Import force-plate centre-of-pressure text files (BDS and PDS layouts) as COP Recordings.

In memory `cop_pos_x` is medio-lateral (ML) and `cop_pos_y` antero-posterior (AP), in m. Signs
are kept as in the file. Times are kept as in the file (BDS starts at 0.010 s, PDS at 0 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from balancelab.errors import FormatError
from balancelab.formats._tabular import (
    Table,
    check_times,
    decode_text,
    nominal_fs_hz,
    parse_rows,
    read_file_bytes,
    si_factor,
    to_numeric,
)
from balancelab.model import FloatArray, Recording, cop_channels


@dataclass(frozen=True)
class CopColumns:
    """The file columns holding the medio-lateral and antero-posterior COP."""

    ml: str
    ap: str


@dataclass(frozen=True)
class ForceplateLayout:
    """Column mapping and units of one force-plate text layout."""

    name: str
    time: str
    time_unit: str
    cop_unit: str
    net: CopColumns
    feet: Mapping[str, CopColumns] = field(default_factory=dict)


FORCEPLATE_LAYOUTS: tuple[ForceplateLayout, ...] = (
    # Santos & Duarte 2016 (BDS): COPx = AP, COPy = ML, in cm.
    ForceplateLayout("BDS", "Time[s]", "s", "cm", CopColumns(ml="COPy[cm]", ap="COPx[cm]")),
    # dos Santos et al. 2017 (PDS): lab frame X = AP, Y = vertical, Z = ML, in m.
    ForceplateLayout(
        "PDS",
        "Time",
        "s",
        "m",
        CopColumns(ml="COPNET_Z", ap="COPNET_X"),
        {
            "right": CopColumns(ml="RCOP_Z", ap="RCOP_X"),
            "left": CopColumns(ml="LCOP_Z", ap="LCOP_X"),
        },
    ),
)


def detect_layout(header: tuple[str, ...]) -> ForceplateLayout | None:
    """The layout whose time and net COP columns are all in `header`."""
    for layout in FORCEPLATE_LAYOUTS:
        if {layout.time, layout.net.ml, layout.net.ap} <= set(header):
            return layout
    return None


def import_forceplate(
    path: str | Path,
    *,
    athlete: str = "anon",
    tracksys: str = "forceplate",
    per_foot: bool = False,
) -> list[Recording]:
    """The net COP Recording; with `per_foot` also `<tracksys>left` and `<tracksys>right`."""
    source = Path(path)
    raw = parse_rows(decode_text(read_file_bytes(source), str(source)), str(source))
    layout = detect_layout(raw.header)
    if layout is None:
        raise FormatError(
            "not a known force-plate layout; expected columns "
            + " or ".join(f"{lay.time}, {lay.net.ap}, {lay.net.ml}" for lay in FORCEPLATE_LAYOUTS),
            path=str(source),
            line=1,
        )
    sides = dict(layout.feet) if per_foot else {}
    wanted = [layout.time, layout.net.ml, layout.net.ap]
    wanted += [name for cols in sides.values() for name in (cols.ml, cols.ap)]
    table = to_numeric(raw, tuple(wanted))
    check_times(table.column(layout.time), table, layout.time)
    time_s = table.column(layout.time) * _factor(layout.time_unit, "time")
    scale = _factor(layout.cop_unit, "length")
    parts = {tracksys: layout.net} | {f"{tracksys}{side}": cols for side, cols in sides.items()}
    return [
        _cop_recording(table, time_s, cols, scale, tracksys=label, athlete=athlete)
        for label, cols in parts.items()
    ]


def _factor(unit: str, dimension: str) -> float:
    factor = si_factor(unit, dimension)
    if factor is None:
        raise ValueError(f"layout unit {unit!r} is not a {dimension} unit")
    return factor


def _cop_recording(
    table: Table, time_s: FloatArray, cols: CopColumns, scale: float, *, tracksys: str, athlete: str
) -> Recording:
    values = np.column_stack([table.column(cols.ml), table.column(cols.ap)]) * scale
    return Recording(
        time_s=time_s,
        values=values,
        channels=cop_channels(),
        nominal_fs_hz=nominal_fs_hz(time_s),
        tracksys=tracksys,
        athlete=athlete,
        lost_samples=int(np.count_nonzero(np.isnan(values).any(axis=1))),
    )
