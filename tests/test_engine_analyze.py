"""The analysis engine reads a dataset's sessions as it goes, in one process or a pool."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest

from balancelab.engine.analyze import (
    AnalysedSession,
    SessionFailure,
    analyze_path,
    plan_analysis,
)
from balancelab.errors import InvalidArgumentError
from tests.support import REPO_ROOT


def copy_of_recordings(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "recordings", data)
    return data


@pytest.mark.parametrize("jobs", [1, 2])
def test_sessions_are_read_as_they_are_analysed_not_all_first(jobs: int, tmp_path: Path) -> None:
    """A session spoilt after the first result came back is read spoilt: nothing read it
    before its turn (the old analyze read every session before analysing any)."""
    data = copy_of_recordings(tmp_path)
    plan = plan_analysis(data)
    last = plan.session_dirs[-1]
    results = plan.results(jobs)
    first = next(results)
    assert isinstance(first, AnalysedSession)
    motion = next((last / "motion").glob("*_motion.tsv"))
    with motion.open("a") as f:
        f.write("1.0\tnot-a-number\n")
    *middle, final = results
    assert all(isinstance(r, AnalysedSession) for r in middle)
    assert isinstance(final, SessionFailure) and final.source == last
    assert motion.name in final.message


def test_spawned_workers_give_what_one_process_gives() -> None:
    """The pool works with the start method of macOS and Windows (spawn): its worker and its
    results cross a pickle, read in a fresh interpreter."""
    plan = plan_analysis(REPO_ROOT / "recordings")
    spawned = plan.results(2, context=multiprocessing.get_context("spawn"))
    alone = plan.results(1)
    assert [r.to_json_dict() for r in spawned] == [r.to_json_dict() for r in alone]


def test_analyze_path_keeps_every_session_in_the_dataset_order() -> None:
    run = analyze_path(REPO_ROOT / "recordings", jobs=2)
    assert run.whole_dataset and not run.failed and not run.skipped
    assert [a.source for a in run.sessions] == sorted(REPO_ROOT.glob("recordings/sub-*/ses-*"))


@pytest.mark.parametrize("jobs", [0, -3])
def test_no_processes_is_refused(jobs: int) -> None:
    wording = f"jobs must be an integer >= 1, got {jobs}"
    with pytest.raises(InvalidArgumentError, match=wording) as error:
        next(plan_analysis(REPO_ROOT / "recordings").results(jobs))
    assert "--jobs" in error.value.advice
