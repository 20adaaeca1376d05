"""Import force-plate centre-of-pressure text files (BDS and PDS layouts) as COP Recordings.

In memory `cop_pos_x` is medio-lateral (ML) and `cop_pos_y` antero-posterior (AP), in m, and
`cop_force_z` the vertical force (N) when the file has it (FORMAT.md: MISC, N, component z).
Signs are kept as in the file. Times are kept as in the file (BDS starts at 0.010 s, PDS at 0 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from balancelab.errors import FormatError
from balancelab.formats._sources import Source
from balancelab.formats._tabular import (
    Table,
    check_times,
    nominal_fs_hz,
    open_table,
    si_factor,
)
from balancelab.model import FloatArray, Recording, cop_channels


@dataclass(frozen=True)
class CopColumns:
    """The file columns holding the medio-lateral and antero-posterior COP and the vertical
    force (N), when the layout has one."""

    ml: str
    ap: str
    vertical: str | None = None


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
    # Santos & Duarte 2016 (BDS): COPx = AP, COPy = ML, in cm; Fz vertical, in N.
    ForceplateLayout(
        "BDS", "Time[s]", "s", "cm", CopColumns(ml="COPy[cm]", ap="COPx[cm]", vertical="Fz[N]")
    ),
    # dos Santos et al. 2017 (PDS): lab frame X = AP, Y = vertical, Z = ML, in m; forces in N
    # (GRFNET_Y is the vertical force, ~body weight; GRFNET_Z is medio-lateral, ~0).
    ForceplateLayout(
        "PDS",
        "Time",
        "s",
        "m",
        CopColumns(ml="COPNET_Z", ap="COPNET_X", vertical="GRFNET_Y"),
        {
            "right": CopColumns(ml="RCOP_Z", ap="RCOP_X", vertical="RGRF_Y"),
            "left": CopColumns(ml="LCOP_Z", ap="LCOP_X", vertical="LGRF_Y"),
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
    """The net COP Recording; with `per_foot` also `<tracksys>left` and `<tracksys>right`.

    Each carries the plate's vertical force as `cop_force_z` (N) when the file has the column.
    Empty or NaN data cells are kept as gaps (NaN, counted in `lost_samples`).
    An empty time cell, a cell that is not a number, or a last line cut short (fewer cells)
    is refused, its line named; a last line that lacks only its newline is read.

    Raises:
        FormatError: the file cannot be read, is not a known layout, or has a malformed line
            (naming the file and line) or times that do not increase.
    """
    source = Path(path)
    with open_table(Source(source)) as reader:
        layout = detect_layout(reader.header)
        if layout is None:
            raise FormatError(
                "not a known force-plate layout; expected columns "
                + " or ".join(
                    f"{lay.time}, {lay.net.ap}, {lay.net.ml}" for lay in FORCEPLATE_LAYOUTS
                ),
                path=str(source),
                line=1,
            )
        sides = dict(layout.feet) if per_foot else {}
        parts = {tracksys: layout.net} | {f"{tracksys}{side}": cols for side, cols in sides.items()}
        parts = {label: _present(cols, reader.header) for label, cols in parts.items()}
        wanted = [layout.time]
        wanted += [n for cols in parts.values() for n in (cols.ml, cols.ap, cols.vertical) if n]
        table = reader.numeric(tuple(wanted))
    check_times(table.column(layout.time), table, layout.time)
    time_s = table.column(layout.time) * _factor(layout.time_unit, "time")
    scale = _factor(layout.cop_unit, "length")
    return [
        _cop_recording(table, time_s, cols, scale, tracksys=label, athlete=athlete)
        for label, cols in parts.items()
    ]


def _present(cols: CopColumns, header: tuple[str, ...]) -> CopColumns:
    """`cols` without the vertical force when the file lacks that column (it is optional)."""
    if cols.vertical is None or cols.vertical in header:
        return cols
    return CopColumns(cols.ml, cols.ap)


def _factor(unit: str, dimension: str) -> float:
    factor = si_factor(unit, dimension)
    if factor is None:
        raise ValueError(f"layout unit {unit!r} is not a {dimension} unit")
    return factor


def _cop_recording(
    table: Table, time_s: FloatArray, cols: CopColumns, scale: float, *, tracksys: str, athlete: str
) -> Recording:
    columns = [table.column(cols.ml) * scale, table.column(cols.ap) * scale]
    if cols.vertical is not None:
        columns.append(table.column(cols.vertical))  # N, already SI
    values = np.column_stack(columns)
    return Recording(
        time_s=time_s,
        values=values,
        channels=cop_channels(force=cols.vertical is not None),
        nominal_fs_hz=nominal_fs_hz(time_s),
        tracksys=tracksys,
        athlete=athlete,
        lost_samples=int(np.count_nonzero(np.isnan(values).any(axis=1))),
    )
