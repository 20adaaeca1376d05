"""The installed environment: no known-broken Qt, and a core that runs without Qt."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support import REPO_ROOT

REFCOUNT_CHECK = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    widget = QtWidgets.QLabel("x")
    obj = QtCore.QObject()
    calls = [lambda: obj.setObjectName("a"), widget.update, app.processEvents, obj.parent]
    worst = 0
    for call in calls:
        before = sys.getrefcount(None)
        for _ in range(200):
            call()
        worst = min(worst, sys.getrefcount(None) - before)
    print(worst)
    """
)


def test_installed_pyside6_keeps_none_refcount() -> None:
    """PySide6 6.12.0 on Python 3.11 lowers None's refcount on void calls and later crashes.

    Run in a child so that a defective build fails this test instead of crashing the suite.
    """
    result = subprocess.run(
        [sys.executable, "-c", REFCOUNT_CHECK],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 0, (
        "the installed PySide6 lowers None's refcount on void calls (the 6.12.0 defect on "
        "Python 3.11): install PySide6-Essentials<6.12"
    )


BLOCK_QT = textwrap.dedent(
    """
    import importlib.abc, sys

    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"PySide6", "shiboken6", "pyqtgraph", "bleak"}:
                raise ImportError(f"{name} is blocked: the core must run without it")
            return None

    sys.meta_path.insert(0, BlockQt())
    """
)


def test_core_runs_without_qt_or_bleak(tmp_path: Path) -> None:
    """With Qt and bleak unimportable, every other module imports and the headless commands
    (analyze, simulate, a live stream from the simulated athlete) run to the end."""
    session = REPO_ROOT / "recordings" / "sub-demo01" / "ses-20260907T073000"
    script = BLOCK_QT + textwrap.dedent(
        f"""
        import importlib, pkgutil
        import balancelab
        for info in pkgutil.walk_packages(balancelab.__path__, "balancelab."):
            if info.name in {{"balancelab.__main__", "balancelab.sensors.ble"}}:
                continue
            if info.name.startswith("balancelab.app"):
                continue
            importlib.import_module(info.name)
        from balancelab.cli import main
        out = {str(tmp_path)!r}
        codes = [
            main(["analyze", {str(session)!r}, "--json"]),
            main(["simulate", "--scenario", "step_down", "--out", out]),
            main(["stream", "sim", "--speed", "50", "--seconds", "2", "--out", out]),
        ]
        raise SystemExit(max(codes))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert '"trials"' in result.stdout and "session:" in result.stdout
    assert len(list((tmp_path / "sub-sim01").glob("ses-*"))) == 1
