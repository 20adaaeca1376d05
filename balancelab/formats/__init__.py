"""Files in and out: Motion-BIDS datasets (read, open, write) and imports of foreign exports.

Read: `read_recording`, `read_session`, `read_stream_info`, `iter_sessions`, `list_sessions`.
Open: `open_dataset`, `recover_dataset`, `open_session` (streaming, crash-safe writing).
Write: `write_session` (an in-memory session, whole or not at all).
Import: `import_file`, for any export: its kind detected by `detect_kind` or given as an
`ImportKind`; a generic table read through a `ColumnMap` (`parse_columns` makes one from the
`--columns` text) and a `TableLayout`. (The readers of each kind share their modules' names, so
they are not exported here: `balancelab.formats.import_phyphox.import_phyphox` and so on.)
A bad file raises `balancelab.errors.FormatError` naming the file and line;
a bad dataset folder `DatasetError`; a bad argument `InvalidArgumentError`.

Each name is imported from its module on first use (PEP 562), so that importing one module of
the package does not import every reader (and pyarrow) with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from balancelab.formats.bids_reader import read_recording, read_session, read_stream_info
    from balancelab.formats.bids_writer import open_session, write_session
    from balancelab.formats.dataset import (
        Participant,
        iter_sessions,
        list_sessions,
        open_dataset,
        recover_dataset,
    )
    from balancelab.formats.import_csv import ColumnMap, parse_columns
    from balancelab.formats.importers import ImportKind, TableLayout, detect_kind, import_file

_MODULE_OF: dict[str, str] = {
    "read_recording": "bids_reader",
    "read_session": "bids_reader",
    "read_stream_info": "bids_reader",
    "open_session": "bids_writer",
    "write_session": "bids_writer",
    "Participant": "dataset",
    "iter_sessions": "dataset",
    "list_sessions": "dataset",
    "open_dataset": "dataset",
    "recover_dataset": "dataset",
    "ColumnMap": "import_csv",
    "parse_columns": "import_csv",
    "ImportKind": "importers",
    "TableLayout": "importers",
    "detect_kind": "importers",
    "import_file": "importers",
}

__all__ = [
    "ColumnMap",
    "ImportKind",
    "Participant",
    "TableLayout",
    "detect_kind",
    "import_file",
    "iter_sessions",
    "list_sessions",
    "open_dataset",
    "open_session",
    "parse_columns",
    "read_recording",
    "read_session",
    "read_stream_info",
    "recover_dataset",
    "write_session",
]


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
