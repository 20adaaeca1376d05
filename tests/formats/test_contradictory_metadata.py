"""Contradictory metadata in a real session folder (issue 10, item 11).

Each test copies the demo session of recordings/ into tmp_path, edits its events.tsv or
motion.json as a person or a foreign tool might, and reads and analyses it from disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from balancelab.cli import main
from balancelab.dsp.analysis import analyze_session
from balancelab.errors import FormatError
from balancelab.formats.bids_reader import read_session
from balancelab.model import SessionAnalysis
from tests.support import REPO_ROOT

DEMO_SESSION = REPO_ROOT / "recordings" / "sub-demo01" / "ses-20260907T073000"
HOLDS = "single_leg_hold/firm/open"
LANDINGS = "step_down/firm/open"


def _copy(tmp_path: Path, name: str = "ses-20260907T073000") -> Path:
    target = tmp_path / name / DEMO_SESSION.name
    shutil.copytree(DEMO_SESSION, target)
    return target


def _events(session: Path) -> Path:
    (path,) = (session / "motion").glob("*_events.tsv")
    return path


def _motion_json(session: Path) -> Path:
    (path,) = (session / "motion").glob("*_motion.json")
    return path


def _rows(session: Path) -> list[str]:
    return _events(session).read_text().splitlines()


def _write_rows(session: Path, rows: list[str]) -> None:
    _events(session).write_text("\n".join(rows) + "\n")


def _analyse(session: Path) -> SessionAnalysis:
    return analyze_session(read_session(session))


def _summary(analysis: SessionAnalysis) -> dict[str, object]:
    return analysis.to_json_dict()["summary"]  # type: ignore[return-value]


def _codes(analysis: SessionAnalysis) -> list[list[str]]:
    return [[str(f.code) for f in t.quality] for t in analysis.recordings[0].trials]


def test_a_trial_overlapping_another_excludes_both_and_leaves_the_asymmetry_alone(
    tmp_path: Path,
) -> None:
    """A right hold typed over a left one (same samples, two sides): both are flagged and left
    out, so the session values and the asymmetry are those of the session without them (the old
    code moved the sway-area asymmetry from -37.0 % to -25.3 %)."""
    bad = _copy(tmp_path, "bad")
    rows = _rows(bad)
    assert rows[3].startswith("55.0\t20.0\tsingle_leg_hold\tleft")
    _write_rows(bad, [*rows, "55.0\t20.0\tsingle_leg_hold\tright\tfirm\topen\tcompleted"])
    clean = _copy(tmp_path, "clean")
    _write_rows(clean, [r for i, r in enumerate(rows) if i != 3])

    analysis = _analyse(bad)
    trials = analysis.recordings[0].trials
    assert [t.valid for t in trials] == [True, True, False, True, True, False, True, True, False]
    assert _codes(analysis)[2] == ["overlap"] and _codes(analysis)[8] == ["overlap"]
    assert "with trial 9 at 55..75 s" in trials[2].quality[0].message
    assert trials[2].metrics == {} and trials[8].metrics == {}
    assert _summary(analysis) == _summary(_analyse(clean))
    asymmetry = analysis.recordings[0].summary[HOLDS].asymmetry["sway_area_95"]
    assert asymmetry.percent == pytest.approx(-38.2, abs=0.05)


def test_trials_that_merely_touch_are_not_an_overlap(tmp_path: Path) -> None:
    session = _copy(tmp_path)
    rows = _rows(session)
    # The second hold now starts where the first ends (23.0 s), and a third 0.05 s before.
    rows[2] = rows[2].replace("29.0\t20.0", "23.0\t26.0", 1)
    rows[3] = rows[3].replace("55.0\t20.0", "48.95\t26.0", 1)
    _write_rows(session, rows)
    codes = _codes(_analyse(session))
    assert not any("overlap" in c for c in codes)


@pytest.mark.parametrize(
    ("row", "index"),
    [
        ("81.0\t1e300\tsingle_leg_hold\tright\tfirm\topen\tcompleted", 4),  # 1e300 s long
        ("1e308\t1.7e308\tsingle_leg_hold\tright\tfirm\topen\tcompleted", 4),  # its end overflows
        ("150.0\t20.0\tsingle_leg_hold\tright\tfirm\topen\tcompleted", 4),  # runs past the end
        ("-30.0\t40.0\tsingle_leg_hold\tright\tfirm\topen\tcompleted", 4),  # starts before
        ("500.0\t10.0\tstep_down\tright\tfirm\topen\tcompleted", 6),  # wholly after the end
    ],
)
def test_a_trial_outside_the_recording_is_flagged_and_left_out(
    tmp_path: Path, row: str, index: int
) -> None:
    """The row replaces trial `index` (1-based); the session values are those without it. The
    1e300-s hold moved the old sway-area asymmetry from -37.0 % to -5.6 %."""
    bad = _copy(tmp_path, "bad")
    rows = _rows(bad)
    _write_rows(bad, [row if i == index else r for i, r in enumerate(rows)])
    clean = _copy(tmp_path, "clean")
    _write_rows(clean, [r for i, r in enumerate(rows) if i != index])

    analysis = _analyse(bad)
    trial = analysis.recordings[0].trials[index - 1]
    assert [str(f.code) for f in trial.quality] == ["outside_recording"]
    assert not trial.valid and trial.metrics == {}
    assert "samples 0..160.99 s" in trial.quality[0].message
    others = [c for i, c in enumerate(_codes(analysis)) if i != index - 1]
    assert not any("overlap" in c or "outside_recording" in c for c in others)
    assert _summary(analysis) == _summary(_analyse(clean))
    json.dumps(analysis.to_json_dict(), allow_nan=False)  # serialisable, no inf or NaN


@pytest.mark.parametrize(
    ("duration", "problem"),
    [("-5.0", "is negative"), ("n/a", "duration is 'n/a'"), ("inf", "holds 'inf'")],
)
def test_a_duration_that_is_no_length_names_the_row_and_how_to_fix_it(
    tmp_path: Path, duration: str, problem: str
) -> None:
    """A trial cannot exist without a length >= 0 (model.Trial): the reader says which row of
    events.tsv to correct (the old advice spoke of an importer and copying the file whole)."""
    session = _copy(tmp_path)
    rows = _rows(session)
    rows[4] = rows[4].replace("81.0\t20.0", f"81.0\t{duration}", 1)
    _write_rows(session, rows)
    with pytest.raises(FormatError) as caught:
        read_session(session)
    assert problem in caught.value.message
    assert caught.value.message.startswith(f"{_events(session)}, line 5: ")
    assert "events.tsv" in caught.value.advice and "duration >= 0" in caught.value.advice


@pytest.mark.parametrize("declared_hz", [1.0, 1000.0, 50.0])
def test_a_sampling_frequency_the_time_column_contradicts_is_flagged_and_ignored(
    tmp_path: Path, declared_hz: float
) -> None:
    """The demo stream's time column runs at 100 Hz. Declared 1, 1000 or 50 Hz: the stream is
    flagged and every result equals the true-rate session's (the old code took the peak
    acceleration over 100 s of samples at 1 Hz)."""
    bad = _copy(tmp_path, "bad")
    sidecar = json.loads(_motion_json(bad).read_text())
    _motion_json(bad).write_text(json.dumps({**sidecar, "SamplingFrequency": declared_hz}))
    clean = _analyse(_copy(tmp_path, "clean"))

    analysis = _analyse(bad)
    (flag,) = analysis.recordings[0].quality
    assert str(flag.code) == "rate_mismatch"
    assert f"SamplingFrequency {declared_hz:g} Hz, time stamps 100 Hz" in flag.message
    stream = analysis.to_json_dict()["streams"]["simlowback"]  # type: ignore[index]
    assert stream["quality"] == [flag.to_dict()]
    assert stream["sampling_frequency_hz"] == declared_hz
    assert stream["time_column_fs_hz"] == pytest.approx(100.0)
    assert clean.recordings[0].quality == ()
    for ours, theirs in zip(analysis.recordings[0].trials, clean.recordings[0].trials, strict=True):
        assert {k: m.value for k, m in ours.metrics.items()} == {
            k: m.value for k, m in theirs.metrics.items()
        }


def test_a_few_percent_between_declared_and_measured_rate_is_not_flagged(tmp_path: Path) -> None:
    """Clock drift and a sensor's own rate stay within 10 %: 105 Hz declared for 100 Hz is fine."""
    session = _copy(tmp_path)
    sidecar = json.loads(_motion_json(session).read_text())
    _motion_json(session).write_text(json.dumps({**sidecar, "SamplingFrequency": 105.0}))
    assert _analyse(session).recordings[0].quality == ()


def test_analyze_shows_the_flags_in_words_and_the_json_carries_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _copy(tmp_path)
    rows = _rows(session)
    _write_rows(session, [*rows, "60.0\t20.0\tsingle_leg_hold\tright\tfirm\topen\tcompleted"])
    sidecar = json.loads(_motion_json(session).read_text())
    _motion_json(session).write_text(json.dumps({**sidecar, "SamplingFrequency": 1.0}))

    assert main(["analyze", str(session)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    text = " ".join(out.split())
    assert "warning: the sampling rate in motion.json disagrees with the time stamps" in text
    assert "the time stamps are used" in text
    assert text.count("flags: overlaps another trial, not analysed") == 2

    assert main(["analyze", str(session), "--json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)["sessions"]
    assert [q["code"] for q in document["streams"]["simlowback"]["quality"]] == ["rate_mismatch"]
    flagged = [t for t in document["trials"] if t["quality"]]
    assert [
        (t["onset_s"], t["valid"]) for t in flagged if t["quality"][0]["code"] == "overlap"
    ] == [
        (55.0, False),
        (60.0, False),
    ]
