"""Analyse what a person points at: a session folder, a whole dataset, or an importable file."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from balancelab.dsp.analysis import SessionAnalysis, analyze_session
from balancelab.engine.jobs import spanning
from balancelab.errors import BalancelabError, DatasetError, InvalidArgumentError
from balancelab.formats.bids import STATUS_RECORDING
from balancelab.formats.bids_reader import read_session, read_stream_info, session_motion_files
from balancelab.formats.dataset import DESCRIPTION, RecoveryReport, open_dataset
from balancelab.formats.importers import import_file, is_one_export
from balancelab.model import Session, Trial, TrialType


@dataclass(frozen=True)
class AnalysedSession:
    """One session's analysis and where it came from."""

    source: Path
    session: Session
    analysis: SessionAnalysis

    def to_json_dict(self) -> dict[str, object]:
        """The METRICS.md document (`trials`, `summary`) with the session's identity."""
        return {
            "source": str(self.source),
            "athlete": self.session.athlete,
            "session": self.session.session,
            "task": self.session.task,
            **self.analysis.to_json_dict(),
        }


@dataclass(frozen=True)
class SessionFailure:
    """A session of a dataset that could not be read or analysed: where, what, what to do."""

    source: Path
    message: str
    advice: str


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
        """One session's document, or `{"sessions": [...]}` for a whole dataset."""
        if self.whole_dataset:
            return {
                "sessions": [a.to_json_dict() for a in self.sessions],
                "failed": [
                    {"source": str(f.source), "message": f.message, "advice": f.advice}
                    for f in self.failed
                ],
            }
        (only,) = self.sessions
        return only.to_json_dict()


@dataclass(frozen=True)
class _Found:
    sessions: list[tuple[Path, Session]]
    recovered: tuple[RecoveryReport, ...] = ()
    skipped: list[Path] = field(default_factory=list)
    whole_dataset: bool = False
    failed: list[SessionFailure] = field(default_factory=list)


def _is_being_recorded(session_dir: Path) -> bool:
    return any(
        read_stream_info(motion).status == STATUS_RECORDING
        for motion in session_motion_files(session_dir)
    )


def _find_sessions(path: Path, whole_file_trial: Trial | None) -> _Found:
    if not path.exists():
        raise DatasetError(
            f"{path} does not exist",
            advice="Give a session folder (sub-*/ses-*), a dataset folder or a recording file.",
        )
    recorded = path.is_dir() and ((path / DESCRIPTION).is_file() or _is_session_dir(path))
    if recorded and whole_file_trial is not None:
        raise InvalidArgumentError(
            "--trial-type and its options apply only to a file or export to import, not to"
            " recorded sessions",
            advice="Drop --trial-type: recorded sessions carry their own trials.",
        )
    if path.is_dir() and (path / DESCRIPTION).is_file():
        dataset = open_dataset(path)
        dirs = dataset.session_dirs()
        live = [d for d in dirs if _is_being_recorded(d)]
        found, failed = [], []
        for d in dirs:
            if d in live:
                continue
            try:
                found.append((d, read_session(d)))
            except BalancelabError as error:  # one broken session does not stop the rest
                failed.append(SessionFailure(d, error.message, error.advice))
        return _Found(found, dataset.recovered, live, whole_dataset=True, failed=failed)
    if recorded:
        session_dir = path.parent if path.name == "motion" else path
        return _Found([(session_dir, read_session(session_dir))])
    if path.is_dir() and not is_one_export(path):
        raise DatasetError(
            f"{path} is not a session, a dataset or a phyphox or Sensor Logger export folder",
            advice="Import a folder of recordings first (balancelab import FOLDER --athlete"
            " LABEL --trial-type TYPE), then analyse the dataset.",
        )
    return _Found([(path, _imported_session(path, whole_file_trial))])


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
    trial = spanning(whole_file_trial, recordings[0])
    return Session(tuple(replace(r, trials=(trial,)) for r in recordings))


def analyze_path(path: Path, *, whole_file_trial: Trial | None = None) -> AnalysisRun:
    """Analyse every session found at `path`: a dataset root (recovering interrupted sessions
    and skipping live ones), a session folder, or a file or export folder to import
    (`whole_file_trial`, with onset and duration replaced, makes it one trial)."""
    found = _find_sessions(path, whole_file_trial)
    analysed, failed = [], list(found.failed)
    for source, session in found.sessions:
        try:
            analysed.append(AnalysedSession(source, session, analyze_session(session)))
        except BalancelabError as error:
            if not found.whole_dataset:
                raise
            failed.append(SessionFailure(source, error.message, error.advice))
    return AnalysisRun(analysed, found.recovered, found.skipped, found.whole_dataset, failed)
