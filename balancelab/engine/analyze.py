"""Analyse what a person points at: a session folder, a whole dataset, or an importable file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from balancelab.dsp.analysis import SessionAnalysis, analyze_session
from balancelab.errors import DatasetError
from balancelab.formats.bids_reader import read_session
from balancelab.formats.dataset import DESCRIPTION, open_dataset
from balancelab.formats.importers import import_file
from balancelab.model import Session, Trial


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


def load_sessions(
    path: Path, *, whole_file_trial: Trial | None = None
) -> list[tuple[Path, Session]]:
    """The sessions at `path`: a session folder, a dataset root, or a file to import.

    An imported file has no trial list of its own: `whole_file_trial` (onset and duration
    replaced) makes the whole file one trial.
    """
    if not path.exists():
        raise DatasetError(
            f"{path} does not exist",
            advice="Give a session folder (sub-*/ses-*), a dataset folder or a recording file.",
        )
    if path.is_dir() and (path / DESCRIPTION).is_file():
        dataset = open_dataset(path)
        return [(d, read_session(d)) for d in dataset.session_dirs()]
    if path.is_dir() and (path / "motion").is_dir():
        return [(path, read_session(path))]
    if path.is_dir() and path.name == "motion":
        return [(path.parent, read_session(path.parent))]
    recordings = import_file(path)
    if whole_file_trial is not None:
        time_s = recordings[0].time_s
        trial = replace(
            whole_file_trial,
            onset_s=float(time_s[0]),
            duration_s=float(time_s[-1] - time_s[0]),
        )
        recordings = [replace(r, trials=(trial,)) for r in recordings]
    return [(path, Session(tuple(recordings)))]


def analyze_path(path: Path, *, whole_file_trial: Trial | None = None) -> list[AnalysedSession]:
    """Analyse every session found at `path` (see load_sessions)."""
    return [
        AnalysedSession(source, session, analyze_session(session))
        for source, session in load_sessions(path, whole_file_trial=whole_file_trial)
    ]
