"""Test-wide settings: Qt renders offscreen unless a display run overrides it."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
