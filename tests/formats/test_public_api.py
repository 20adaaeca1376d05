"""The face of `balancelab.formats`: `__all__` names the read/open/import entry points, each
the object of its module, imported on first use; every file reader documents what it raises."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from balancelab import formats

READERS = {
    "bids_reader": ("read_recording", "read_session", "read_stream_info"),
    "importers": ("detect_kind", "import_file"),
    "import_csv": ("import_csv", "parse_columns"),
    "import_phyphox": ("import_phyphox",),
    "import_sensorlogger": ("import_sensorlogger",),
    "import_forceplate": ("import_forceplate",),
}


@pytest.mark.parametrize("name", formats.__all__)
def test_every_exported_name_is_its_modules_object(name: str) -> None:
    value = getattr(formats, name)
    home = importlib.import_module(value.__module__)
    assert getattr(home, value.__qualname__) is value
    assert home.__name__.startswith("balancelab.formats.")
    assert name in dir(formats)


def test_the_read_open_and_import_entry_points_are_exported() -> None:
    for name in ("read_recording", "read_session", "open_dataset", "open_session", "import_file"):
        assert name in formats.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'read_anything'"):
        _ = formats.read_anything  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in READERS.items() for n in names]
)
def test_every_reader_documents_what_it_raises(module: str, name: str) -> None:
    function = getattr(importlib.import_module(f"balancelab.formats.{module}"), name)
    doc = inspect.getdoc(function) or ""
    assert "Raises:" in doc
    raised = doc.split("Raises:", 1)[1]
    assert "Error:" in raised  # at least one error class, with what it means


def test_importing_the_package_imports_no_reader() -> None:
    code = (
        "import sys, balancelab.formats as f; "
        "print(sorted(m for m in sys.modules if m.startswith('balancelab.formats.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
