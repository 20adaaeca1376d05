"""The import contracts deny by default: a planted forbidden import fails ``lint-imports``.

Each case copies the package and ``pyproject.toml`` into a temporary folder, plants one file, and
runs the real ``lint-imports`` on the copy. The unmodified copy must pass, so a failure can only
come from the planted line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_copy(tmp_path: Path, planted: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shutil.copytree(
        REPO / "balancelab",
        tmp_path / "balancelab",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative, text in planted.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_unmodified_package_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_copy(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("planted", "broken_contract", "offending_line"),
    [
        pytest.param(
            {"balancelab/history/__init__.py": "import PySide6\n"},
            "Only the app imports Qt",
            "balancelab.history -> PySide6",
            id="history-imports-qt",
        ),
        pytest.param(
            {"balancelab/app/__init__.py": "", "balancelab/app/scan.py": "import bleak\n"},
            "Only balancelab.sensors.ble.gatt imports bleak",
            "balancelab.app.scan -> bleak",
            id="app-imports-bleak",
        ),
        pytest.param(
            {"balancelab/sensors/ble/battery.py": "import bleak\n"},
            "Only balancelab.sensors.ble.gatt imports bleak",
            "balancelab.sensors.ble.battery -> bleak",
            id="a-second-ble-module-imports-bleak",
        ),
        pytest.param(
            {"balancelab/coach/__init__.py": "", "balancelab/coach/rules.py": "import sqlite3\n"},
            "Pure unless granted",
            "balancelab.coach.rules -> sqlite3",
            id="coach-opens-a-database",
        ),
        pytest.param(
            {"balancelab/dsp/live.py": "import asyncio\n"},
            "Pure unless granted",
            "balancelab.dsp.live -> asyncio",
            id="dsp-uses-asyncio",
        ),
        pytest.param(
            {"balancelab/dsp/peek.py": "from balancelab.engine import analyze\n"},
            "Layers",
            "balancelab.dsp.peek -> balancelab.engine.analyze",
            id="dsp-reaches-up-to-engine",
        ),
        pytest.param(
            {"balancelab/cli/ble.py": "from balancelab.cli import analyze\n"},
            "Commands of the cli",
            "balancelab.cli.ble -> balancelab.cli.analyze",
            id="one-command-module-imports-another",
        ),
        pytest.param(
            {"balancelab/cli/common.py": "from balancelab.cli.stream import run_stream\n"},
            "Commands of the cli",
            "balancelab.cli.common -> balancelab.cli.stream",
            id="the-shared-cli-module-imports-a-command",
        ),
        pytest.param(
            {"balancelab/plugins/__init__.py": '"""A package no layer names."""\n'},
            "Layers",
            "balancelab.plugins",
            id="new-package-outside-every-layer",
        ),
    ],
)
def test_a_planted_forbidden_import_breaks_a_contract(
    tmp_path: Path, planted: dict[str, str], broken_contract: str, offending_line: str
) -> None:
    result = _lint_copy(tmp_path, planted)
    report = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, report
    assert "1 broken" in report
    assert broken_contract in report
    assert offending_line in report
