"""Test support: paths to shared data, factories, virtual devices."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
