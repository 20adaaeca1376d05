"""The example dataset in recordings/: valid BIDS, readable, and exactly what the code makes."""

from __future__ import annotations

from pathlib import Path

from balancelab.engine.examples import build_example_dataset
from balancelab.formats.dataset import open_dataset
from balancelab.model import TrialType
from tests.support import REPO_ROOT, SHARED_DATA
from tests.support.validator import run_validator

RECORDINGS = REPO_ROOT / "recordings"


def test_recordings_pass_the_official_validator() -> None:
    report = run_validator(RECORDINGS)
    assert report.errors == (), "\n".join(str(e) for e in report.errors)


def test_recordings_hold_the_demo_athlete_and_the_real_trials() -> None:
    dataset = open_dataset(RECORDINGS)
    assert dataset.recovered == ()
    sessions = list(dataset.iter_sessions())
    by_athlete: dict[str, int] = {}
    for session in sessions:
        by_athlete[session.athlete] = by_athlete.get(session.athlete, 0) + 1
    assert by_athlete == {"demo01": 4, "bds1": 2, "bds4": 2, "pds13": 2}
    demo = [s for s in sessions if s.athlete == "demo01"]
    assert {t.side.value for s in demo for t in s.trials} == {"left", "right"}
    assert {t.trial_type for s in demo for t in s.trials} == {
        TrialType.SINGLE_LEG_HOLD,
        TrialType.STEP_DOWN,
    }
    span_days = (demo[-1].start_utc - demo[0].start_utc).days
    assert span_days == 42


def test_recordings_are_what_the_code_writes(tmp_path: Path) -> None:
    """Regenerating the dataset gives the same bytes: the examples are reproducible."""
    fresh = tmp_path / "recordings"
    build_example_dataset(fresh, SHARED_DATA)
    committed = sorted(p.relative_to(RECORDINGS) for p in RECORDINGS.rglob("*") if p.is_file())
    regenerated = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert committed == regenerated
    changed = [
        str(path)
        for path in committed
        if (RECORDINGS / path).read_bytes() != (fresh / path).read_bytes()
    ]
    assert changed == [], "regenerate with: balancelab examples recordings --force-plate-data ..."
