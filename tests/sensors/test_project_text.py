"""The sensor code, its tests and the firmware notes cite public sources, never the team's own
working notes. (Tests may still read the published test vectors kept beside the repository at
run time; this checks what the text says, not what the code reads.)"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import REPO_ROOT

CHECKED = (
    "balancelab/sensors",
    "balancelab/devices",
    "balancelab/cli/ble.py",
    "balancelab/cli/stream.py",
    "tests/devices",
    "tests/sensors",
    "tests/support",
    "firmware_notes",
    "benchmarks/bench_ble.py",
)
SUFFIXES = {".py", ".md", ".ino", ".h", ".c", ".txt"}
PRIVATE_REFERENCE = re.compile(r"\bshared/|ble-research|-research\.md|\bvectors/[\w.]+\.json")


def text_files() -> list[Path]:
    files: list[Path] = []
    for name in CHECKED:
        path = REPO_ROOT / name
        found = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [f for f in found if f.suffix in SUFFIXES and f != Path(__file__)]
    return files


def test_text_cites_public_sources_not_private_notes() -> None:
    files = text_files()
    assert len(files) > 40  # the folders are there
    hits = [
        f"{f.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for f in files
        for number, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1)
        if PRIVATE_REFERENCE.search(line)
    ]
    assert hits == []
