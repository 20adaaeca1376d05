"""Touch-downs are a single-leg concept: none on any real two-leg trial in ../shared/data/."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from balancelab.dsp.analysis import analyze_recording
from balancelab.dsp.events import detect_touchdowns
from balancelab.formats.import_forceplate import import_forceplate
from balancelab.model import COP_FORCE_CHANNEL, Side, Surface, Trial, TrialType, Vision
from tests.support import SHARED_DATA

TWO_LEG_FILES = sorted((SHARED_DATA / "bds").glob("BDS0*.txt")) + sorted(
    (SHARED_DATA / "pds").glob("PDS*grf.txt")
)


def test_every_real_file_is_here() -> None:
    """48 BDS trials (subjects 1-4) and 2 PDS trials: all two-leg quiet standing, 60 s."""
    assert len(TWO_LEG_FILES) == 50


@pytest.mark.parametrize("path", TWO_LEG_FILES, ids=lambda p: Path(p).name)
def test_no_touchdown_on_a_real_two_leg_trial(path: Path) -> None:
    """The detector the analysis uses for a plate with force finds none over the whole 60 s of
    the trial's (net) plate, and the analysis of the trial as a two-leg hold has no `touchdowns`
    key at all. (A PDS per-foot plate is not a trial: in two-leg stance each foot's load moves by
    ±15 % as the weight shifts, which the single-leg detector would read as unloading.)"""
    (net,) = import_forceplate(path)
    assert detect_touchdowns(net.nominal_fs_hz, force_n=net.channel(COP_FORCE_CHANNEL)) == []
    trial = Trial(0.0, 60.0, TrialType.DOUBLE_LEG_HOLD, Side.BOTH, Surface.FIRM, Vision.OPEN)
    (result,) = analyze_recording(replace(net, trials=(trial,))).trials
    assert "touchdowns" not in result.metrics and result.touchdowns_s == ()
    assert result.valid
