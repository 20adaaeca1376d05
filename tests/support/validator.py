"""Run the official `bids-validator` (npm, 1.x command line) on a dataset and parse its report."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT

ENV_VAR = "BIDS_VALIDATOR"
DEFAULT_PATH = REPO_ROOT / ".venv" / "npm" / "node_modules" / ".bin" / "bids-validator"
INSTALL_HINT = (
    f"Install it with: npm install --prefix {REPO_ROOT / '.venv' / 'npm'} bids-validator@1.15"
    f" (or set {ENV_VAR} to the bids-validator executable)."
)


class ValidatorMissingError(AssertionError):
    """The validator cannot be found or run; an AssertionError so the calling test fails."""


@dataclass(frozen=True)
class ValidatorIssue:
    """One issue of the report: its key (e.g. NOT_INCLUDED), reason and the files involved."""

    code: int
    key: str
    reason: str
    files: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.key} ({self.code}): {self.reason} {list(self.files)}"


@dataclass(frozen=True)
class ValidatorReport:
    errors: tuple[ValidatorIssue, ...]
    warnings: tuple[ValidatorIssue, ...]


def find_validator() -> Path:
    """The executable named by $BIDS_VALIDATOR, else the repo's npm install."""
    path = Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)
    if not path.is_file():
        raise ValidatorMissingError(f"bids-validator not found at {path}. {INSTALL_HINT}")
    return path


def run_validator(dataset_root: Path, *, timeout_s: float = 300.0) -> ValidatorReport:
    """Validate a dataset folder with `bids-validator DIR --json`."""
    command = [str(find_validator()), str(dataset_root), "--json"]
    try:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=timeout_s
        )
    except OSError as exc:
        raise ValidatorMissingError(f"cannot run {command[0]}: {exc}. {INSTALL_HINT}") from exc
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ValidatorMissingError(
            f"bids-validator printed no JSON (exit {done.returncode}): {done.stderr[-2000:]}"
        ) from None
    issues = report["issues"]
    return ValidatorReport(_issues(issues["errors"]), _issues(issues["warnings"]))


def _issues(raw: list[dict[str, Any]]) -> tuple[ValidatorIssue, ...]:
    return tuple(
        ValidatorIssue(
            code=int(item["code"]),
            key=str(item["key"]),
            reason=str(item["reason"]),
            files=tuple(
                str(f["file"]["relativePath"]) for f in item.get("files", []) if f.get("file")
            ),
        )
        for item in raw
    )
