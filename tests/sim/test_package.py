"""`balancelab.sim` gives each public name from its module, importing that module on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import balancelab.sim


def test_every_public_name_is_its_modules_object() -> None:
    for name in balancelab.sim.__all__:
        value = getattr(balancelab.sim, name)
        home = getattr(value, "__module__", "")
        if home.startswith("balancelab.sim."):  # not a type alias such as SensorSpec
            assert getattr(importlib.import_module(home), name) is value, name
    assert set(balancelab.sim.__all__) <= set(dir(balancelab.sim))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulate'"):
        _ = balancelab.sim.simulate  # type: ignore[attr-defined]


def test_the_scenario_list_does_not_load_the_session_simulator() -> None:
    script = (
        "import sys\n"
        "from balancelab.sim import list_scenarios\n"
        "assert list_scenarios()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('scipy', 'balancelab')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    modules = done.stdout.split()
    assert "balancelab.sim.scenarios" in modules
    assert "balancelab.sim.session" not in modules
    assert not [m for m in modules if m.startswith("scipy")]
