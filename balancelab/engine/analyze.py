"""Analyse what a person points at: a session folder, a whole dataset, or an importable file.

`plan_analysis` finds what a path holds without reading a dataset's sessions; `results` then
reads and analyses them one at a time as they are found, in a pool of worker processes when
asked (`jobs`), and gives them back in the dataset's order as they complete. At most
2 x jobs sessions are in flight, so memory stays flat however many sessions the dataset holds.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import textwrap
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing.context import BaseContext
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

import balancelab
from balancelab.dsp.analysis import analyze_session
from balancelab.errors import BalancelabError, DatasetError, InvalidArgumentError
from balancelab.formats.bids import STATUS_RECORDING
from balancelab.formats.bids_reader import read_session, read_stream_info, session_motion_files
from balancelab.formats.dataset import DESCRIPTION, RecoveryReport, open_dataset
from balancelab.formats.importers import import_file, is_one_export
from balancelab.model import (
    ANALYSIS_SCHEMA,
    Session,
    SessionAnalysis,
    Trial,
    TrialType,
    check_int,
)

IN_FLIGHT_PER_JOB = 2
"""Sessions submitted but not yet given back, per worker process: enough to keep each worker
busy while the next result is printed, few enough that memory does not grow with the dataset."""


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


# A metric's settings are read-only views (MappingProxyType), which pickle cannot send; the
# pool's pickler sends them as the dict they show and makes them views again on arrival.
ForkingPickler.register(MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))


@dataclass(frozen=True)
class AnalysedSession:
    """One session's analysis, where it came from and whose it is (the labels, not the data:
    this is what a worker process sends back)."""

    source: Path
    athlete: str
    session: str
    task: str
    analysis: SessionAnalysis

    @classmethod
    def of(cls, source: Path, session: Session) -> AnalysedSession:
        """Analyse `session`, read from `source`."""
        return cls(source, session.athlete, session.session, session.task, analyze_session(session))

    def to_json_dict(self) -> dict[str, object]:
        """The session's entry in the analysis document: its identity, `trials`, `summary`
        and `streams` (science/METRICS.md)."""
        return {
            "source": str(self.source),
            "athlete": self.athlete,
            "session": self.session,
            "task": self.task,
            **self.analysis.to_json_dict(),
        }


@dataclass(frozen=True)
class SessionFailure:
    """A session of a dataset that could not be read or analysed: where, what, what to do."""

    source: Path
    message: str
    advice: str


@dataclass(frozen=True)
class SessionSkipped:
    """A session of a dataset still being recorded (or left unrecovered): not analysed."""

    source: Path


SessionResult = AnalysedSession | SessionFailure | SessionSkipped


@dataclass(frozen=True)
class AnalysisRun:
    """The sessions analysed, what recovery repaired on the way, and what was left out."""

    sessions: list[AnalysedSession]
    recovered: tuple[RecoveryReport, ...] = ()
    skipped: list[Path] = field(default_factory=list)
    """Sessions still being recorded (or left unrecovered), not analysed."""
    whole_dataset: bool = False
    failed: list[SessionFailure] = field(default_factory=list)
    """Sessions of a dataset that could not be read or analysed; the others were."""

    def to_json_dict(self) -> dict[str, object]:
        """The analysis document, one shape for a session or a dataset (`ANALYSIS_SCHEMA`)."""
        return {
            **document_head(),
            "sessions": [a.to_json_dict() for a in self.sessions],
            "failed": [failure_json_dict(f) for f in self.failed],
        }


def document_head() -> dict[str, str]:
    """The keys that open every analysis document: its schema and the software's version."""
    return {"schema": ANALYSIS_SCHEMA, "software_version": balancelab.__version__}


def failure_json_dict(failure: SessionFailure) -> dict[str, str]:
    """A failed session under `failed` in the analysis document."""
    return {"source": str(failure.source), "message": failure.message, "advice": failure.advice}


class JsonDocumentWriter:
    """The analysis document written a session at a time, as each is analysed, in the very
    layout `json.dumps(AnalysisRun.to_json_dict(), indent=1)` gives the whole."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def add(self, session: AnalysedSession) -> None:
        """Write one session's entry (and, before the first, the document's head)."""
        text = json.dumps(session.to_json_dict(), indent=1, allow_nan=False)
        if self.count == 0:
            head = json.dumps(document_head(), indent=1).removesuffix("\n}")
            self.out.write(head + ',\n "sessions": [\n')
        else:
            self.out.write(",\n")
        self.out.write(textwrap.indent(text, "  "))
        self.out.flush()
        self.count += 1

    def end(self, failed: Sequence[SessionFailure]) -> None:
        """Close the document with the sessions that could not be analysed."""
        if self.count == 0:
            empty = {**document_head(), "sessions": [], "failed": []}
            self.out.write(json.dumps(empty, indent=1).removesuffix(' "failed": []\n}'))
        else:
            self.out.write("\n ],\n")
        tail = json.dumps({"failed": [failure_json_dict(f) for f in failed]}, indent=1)
        self.out.write(tail.removeprefix("{\n") + "\n")
        self.out.flush()


@dataclass(frozen=True)
class AnalysisPlan:
    """What a path holds to analyse, found before any session of a dataset is read."""

    path: Path
    session_dirs: tuple[Path, ...] = ()
    """Session folders to read, in the dataset's order (one for a session folder)."""
    imported: Session | None = None
    """A file or export folder already read into memory (`session_dirs` is then empty)."""
    recovered: tuple[RecoveryReport, ...] = ()
    whole_dataset: bool = False
    """A dataset root: a session that cannot be read or analysed is a `SessionFailure` and
    the others go on; for one session or file, its error is raised."""

    def results(
        self, jobs: int | None = None, *, context: BaseContext | None = None
    ) -> Generator[SessionResult, None, None]:
        """Read and analyse each session, in the plan's order, as it comes. `jobs` worker
        processes (default: every core; 1 runs here, in this process); `context` the
        multiprocessing start method (default: the platform's)."""
        jobs = default_jobs() if jobs is None else jobs
        check_int(
            "jobs",
            jobs,
            minimum=1,
            advice="Give the number of processes to use, e.g. --jobs 2 (1: no pool).",
        )
        if self.imported is not None:
            yield AnalysedSession.of(self.path, self.imported)
        elif not self.whole_dataset:
            for session_dir in self.session_dirs:
                yield AnalysedSession.of(session_dir, read_session(session_dir))
        elif jobs == 1 or len(self.session_dirs) < 2:
            yield from map(analyse_session_dir, self.session_dirs)
        else:
            yield from _pooled(self.session_dirs, min(jobs, len(self.session_dirs)), context)


def default_jobs() -> int:
    """The worker processes to use by default: one per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def analyse_session_dir(session_dir: Path) -> SessionResult:
    """Read and analyse one session of a dataset; a live session is skipped, and what stops
    the others is a `SessionFailure` with its reason. The pool's worker: a top-level function,
    so that a spawned process can unpickle it."""
    try:
        if _is_being_recorded(session_dir):
            return SessionSkipped(session_dir)
        return AnalysedSession.of(session_dir, read_session(session_dir))
    except BalancelabError as error:  # one broken session does not stop the rest
        return SessionFailure(session_dir, error.message, error.advice)


def _pooled(
    session_dirs: Iterable[Path], jobs: int, context: BaseContext | None
) -> Generator[SessionResult, None, None]:
    """`analyse_session_dir` over `session_dirs` in `jobs` processes, results in order. On any
    exit before the end (Ctrl-C, a closed reader, a dead worker) the sessions not started are
    cancelled, those under way finish, and the workers end before this returns: none is left
    behind."""
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_ignore_ctrl_c)
    pending: deque[Future[SessionResult]] = deque()
    try:
        for session_dir in session_dirs:
            pending.append(pool.submit(analyse_session_dir, session_dir))
            if len(pending) >= IN_FLIGHT_PER_JOB * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_ctrl_c() -> None:
    """Workers leave Ctrl-C to the parent: it stops them all, and only it says so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _is_being_recorded(session_dir: Path) -> bool:
    return any(
        read_stream_info(motion).status == STATUS_RECORDING
        for motion in session_motion_files(session_dir)
    )


def plan_analysis(path: Path, *, whole_file_trial: Trial | None = None) -> AnalysisPlan:
    """What `path` holds to analyse: a dataset root (its interrupted sessions recovered now),
    an athlete's folder in a dataset (their sessions), a session folder, or a file or export
    folder, imported now (`whole_file_trial`, with onset and duration replaced, makes it one
    trial). Refuses a path that is none of these."""
    if not path.exists():
        raise DatasetError(
            f"{path} does not exist",
            advice="Give a session folder (sub-*/ses-*), an athlete folder (sub-*), a dataset"
            " folder or a recording file.",
        )
    athlete = (
        path.is_dir() and path.name.startswith("sub-") and (path.parent / DESCRIPTION).is_file()
    )
    recorded = path.is_dir() and (
        (path / DESCRIPTION).is_file() or athlete or _is_session_dir(path)
    )
    if recorded and whole_file_trial is not None:
        raise InvalidArgumentError(
            "--trial-type and its options apply only to a file or export to import, not to"
            " recorded sessions",
            advice="Drop --trial-type: recorded sessions carry their own trials.",
        )
    if path.is_dir() and (path / DESCRIPTION).is_file():
        dataset = open_dataset(path)
        return AnalysisPlan(
            path, tuple(dataset.session_dirs()), recovered=dataset.recovered, whole_dataset=True
        )
    if athlete:
        dataset = open_dataset(path.parent)
        sessions = tuple(d for d in dataset.session_dirs() if d.parent.resolve() == path.resolve())
        return AnalysisPlan(path, sessions, recovered=dataset.recovered, whole_dataset=True)
    if recorded:
        return AnalysisPlan(path, (path.parent if path.name == "motion" else path,))
    if path.is_dir() and not is_one_export(path):
        raise DatasetError(
            f"{path} is not a session, a dataset or a phyphox or Sensor Logger export folder",
            advice="Import a folder of recordings first (balancelab import FOLDER --athlete"
            " LABEL --trial-type TYPE), then analyse the dataset.",
        )
    return AnalysisPlan(path, imported=_imported_session(path, whole_file_trial))


def _is_session_dir(path: Path) -> bool:
    return path.name == "motion" or (path / "motion").is_dir() or path.name.startswith("ses-")


def _imported_session(path: Path, whole_file_trial: Trial | None) -> Session:
    """A file or export folder as an in-memory session; without trials it is refused."""
    recordings = import_file(path)
    if whole_file_trial is None:
        if not any(r.trials for r in recordings):
            types = ", ".join(t.value for t in TrialType)
            raise InvalidArgumentError(
                f"{path} holds no trials to analyse",
                advice="Say what the whole recording is, e.g. balancelab analyze"
                f" {shlex.quote(str(path))} --trial-type single_leg_hold --side left"
                f" (trial types: {types}).",
            )
        return Session(tuple(recordings))
    from balancelab.engine.jobs import spanning  # noqa: PLC0415 (jobs imports the simulator)

    trial = spanning(whole_file_trial, recordings[0])
    return Session(tuple(replace(r, trials=(trial,)) for r in recordings))


def analyze_path(
    path: Path, *, whole_file_trial: Trial | None = None, jobs: int = 1
) -> AnalysisRun:
    """Analyse every session found at `path` (see `plan_analysis`) and keep them all: a live
    session of a dataset is skipped, a broken one is named under `failed`. `jobs` worker
    processes (1: in this process)."""
    plan = plan_analysis(path, whole_file_trial=whole_file_trial)
    run = AnalysisRun([], plan.recovered, whole_dataset=plan.whole_dataset)
    for result in plan.results(jobs):
        if isinstance(result, AnalysedSession):
            run.sessions.append(result)
        elif isinstance(result, SessionFailure):
            run.failed.append(result)
        else:
            run.skipped.append(result.source)
    return run
